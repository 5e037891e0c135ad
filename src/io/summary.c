/* JSON output for run summaries (Jansson), written atomically via dln_afile, and the
 * integrator statistics every run summary carries (dln_train_result, docs/integrators.md). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "dln/error.h"
#include "dln/io.h"
#include "io/json_util.h"
#include "io/io_internal.h"

json_t *dln_json_num(double x) { return isfinite(x) ? json_real(x) : json_null(); }

json_t *dln_train_counters_json(const dln_train_result *tr) {
  json_t *o = json_object();
  if (!o) return NULL;
  return DLN_JSON_SET(o, "integrator", json_string(tr->integrator ? tr->integrator : "none"),
                      "steps", json_integer(tr->steps), "attempted", json_integer(tr->attempted),
                      "rejected", json_integer(tr->rejected), "grad_evals", json_integer(tr->grad_evals),
                      "jtv_evals", json_integer(tr->jtv_evals), "nonlin_iters", json_integer(tr->nonlin_iters),
                      "lin_iters", json_integer(tr->lin_iters), "nonlin_fails", json_integer(tr->nonlin_fails),
                      "switched_at", dln_json_num(tr->switched_at), "wall_seconds", dln_json_num(tr->wall_seconds));
}

int dln_json_write(const char *path, const json_t *root) {
  if (!root) return dln_error(DLN_ENOMEM, "%s: out of memory while building the JSON document; not written", path);
  char *s = dln_json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
  if (!s) return dln_error(DLN_ENOMEM, "%s: cannot encode the JSON summary", path);
  size_t n = strlen(s);
  char *t = realloc(s, n + 2);
  if (!t) {
    free(s);
    return dln_error(DLN_ENOMEM, "%s: out of memory", path);
  }
  t[n] = '\n';
  t[n + 1] = '\0';
  int st = dln_write_file_atomic(path, t, n + 1);
  free(t);
  return st;
}
