/* Helpers of the sweep-based figures (fig_sweep.h). */
#include "run/figures/fig_sweep.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dln/error.h"
#include "dln/io.h"
#include "dln/manifest.h"
#include "io/json_util.h"

int dln_fig_spec(dln_spec *s, const char *const (*kv)[2], size_t n) {
  int st = dln_spec_default(s);
  for (size_t i = 0; i < n && !st; ++i) st = dln_spec_set(s, kv[i][0], kv[i][1]);
  return st;
}

static int dln_fig_sweep_cancelled(void *ctx) { return dln_fig_cancelled(ctx); }

int dln_fig_sweep(dln_figure_ctx *c, const char *sub, const dln_spec *s, const dln_sweep *sw,
                  dln_ensemble_result *res) {
  char *out = dln_path_join(c->dir, sub);
  if (!out) return dln_error(DLN_ENOMEM, "out of memory");
  dln_spec base;
  memset(&base, 0, sizeof base);
  int st = dln_spec_copy(&base, s);
  if (!st) st = dln_spec_set(&base, "out", out);
  if (!st) st = dln_spec_set(&base, "force", "true");
  dln_ensemble_options o;
  dln_ensemble_default_options(&o);
  o.out = out;
  if (c->cancelled) o.cancelled = dln_fig_sweep_cancelled, o.progress_ctx = c; /* polled after each run */
  dln_ensemble_result r;
  if (!st) st = dln_ensemble_run(&base, sw, &o, res ? res : &r);
  if (!st) st = dln_fig_add_files(c, sub);
  dln_spec_free(&base);
  free(out);
  return st;
}

json_t *dln_fig_load(dln_figure_ctx *c, const char *sub, const char *name) {
  char path[2048];
  snprintf(path, sizeof path, "%s/%s/%s", c->dir, sub, name);
  json_error_t err;
  int st = DLN_OK;
  json_t *j = dln_json_load_input(path, 0, &err, &st);
  if (!j && !st) dln_error(DLN_EFORMAT, "%s:%d: %s", path, err.line, err.text);
  return j;
}
