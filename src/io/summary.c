/* JSON output for run summaries (Jansson), written atomically via dln_afile. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "dln/error.h"
#include "dln/io.h"
#include "run/run_internal.h"

json_t *dln_json_num(double x) { return isfinite(x) ? json_real(x) : json_null(); }

int dln_json_write(const char *path, const json_t *root) {
  char *s = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
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
