/* The classical baseline beside a run (--baseline=nuclear): the minimum-nuclear-norm W
 * subject to the measurements of a sensing or completion loss (002 §4.1 eq. 10), by the
 * theory layer's solver (dln/nuclear.h) to the spec's baseline_tol, with its dual
 * certificate and, when the loss knows its true matrix, its distance to it. Shared by
 * `dln run` (W_nuclear.npy, summary "baseline") and `dln sweep` (each run's entry). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dln/error.h"
#include "dln/nuclear.h"
#include "run/run_internal.h"

int dln_run_baseline_on(const dln_spec *s) { return s && s->baseline && strcmp(s->baseline, "none") != 0; }

void dln_run_baseline_free(dln_run_baseline *b) {
  if (!b) return;
  free(b->W);
  memset(b, 0, sizeof *b);
}

int dln_run_baseline_solve(const dln_spec *s, const dln_loss *loss, int keep_W, dln_run_baseline *b) {
  memset(b, 0, sizeof *b);
  b->dist_true = b->dist_true_rel = NAN;
  if (!dln_run_baseline_on(s)) return DLN_OK;
  double t0 = dln_now_seconds();
  size_t n = (size_t)loss->rows * (size_t)loss->cols;
  dln_nuclear *ns = NULL;
  int st = dln_nuclear_alloc_loss(&ns, loss);
  if (!st && !(b->W = calloc(n ? n : 1, sizeof *b->W))) st = dln_error(DLN_ENOMEM, "out of memory for the baseline");
  if (!st) st = dln_nuclear_solve(ns, s->baseline_tol, s->baseline_max_iter, b->W, &b->r);
  dln_nuclear_free(ns);
  if (st) {
    dln_run_baseline_free(b);
    return st;
  }
  b->on = 1;
  b->tol = s->baseline_tol;
  b->max_iter = s->baseline_max_iter;
  const double *truth = dln_loss_truth(loss);
  if (truth) { /* ‖W_nuc − W_true‖_F and relative */
    double d = 0;
    for (size_t i = 0; i < n; ++i) d += (b->W[i] - truth[i]) * (b->W[i] - truth[i]);
    double tn = dln_norm2(n, truth);
    b->dist_true = sqrt(d);
    b->dist_true_rel = tn > 0 ? b->dist_true / tn : NAN;
  }
  if (!keep_W) {
    free(b->W);
    b->W = NULL;
  }
  b->wall = dln_now_seconds() - t0;
  return DLN_OK;
}

json_t *dln_run_baseline_json(const dln_run_baseline *b, const char *file) {
  unsigned long mark = dln_json_mark();
  json_t *o = json_object();
  if (!o) return NULL;
  const dln_nuclear_result *r = &b->r;
  dln_jset(o, "kind", json_string("nuclear"));
  dln_jset(o, "file", file ? json_string(file) : json_null());
  dln_jset(o, "nuclear_norm", dln_json_num(r->nuclear_norm));
  dln_jset(o, "constraint_residual", dln_json_num(r->constraint_residual));
  dln_jset(o, "measurement_residual", dln_json_num(r->measurement_residual));
  dln_jset(o, "dual_value", dln_json_num(r->dual_value));
  dln_jset(o, "duality_gap", dln_json_num(r->duality_gap));
  dln_jset(o, "rel_gap", dln_json_num(r->rel_gap));
  dln_jset(o, "dual_spectral_norm", dln_json_num(r->dual_spectral));
  dln_jset(o, "rank", json_integer(r->rank));
  dln_jset(o, "iterations", json_integer(r->iterations));
  dln_jset(o, "converged", json_boolean(r->converged));
  dln_jset(o, "tol", dln_json_num(b->tol));
  dln_jset(o, "max_iter", json_integer(b->max_iter));
  dln_jset(o, "dist_true", dln_json_num(b->dist_true));
  dln_jset(o, "dist_true_rel", dln_json_num(b->dist_true_rel));
  dln_jset(o, "wall_seconds", dln_json_num(b->wall));
  return dln_json_done(o, mark);
}
