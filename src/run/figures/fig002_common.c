/* Helpers shared by the 002 figures: see fig002_common.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dln/error.h"
#include "dln/io.h"
#include "dln/manifest.h"
#include "dln/run.h"
#include "run/figures/fig002_common.h"

int fig002_run(dln_figure_ctx *c, const char *sub, const char *const (*kv)[2], int n, dln_run_result *rr) {
  static const char *const fixed[][2] = {{"quiet", "true"}, {"plot", "false"}, {"force", "true"}};
  char *out = dln_path_join(c->dir, sub);
  dln_spec s;
  int st = dln_spec_default(&s);
  if (!st && !out) st = dln_error(DLN_ENOMEM, "out of memory");
  for (int i = 0; i < n && !st; ++i) st = dln_spec_set(&s, kv[i][0], kv[i][1]);
  for (int i = 0; i < 3 && !st; ++i) st = dln_spec_set(&s, fixed[i][0], fixed[i][1]);
  if (!st) st = dln_spec_set(&s, "out", out);
  dln_run_options opt;
  dln_fig_run_options(c, &opt);
  if (!st) st = dln_run_noplot(&s, &opt, rr);
  if (!st) st = dln_fig_add_files(c, sub);
  free(out);
  dln_spec_free(&s);
  return st;
}

