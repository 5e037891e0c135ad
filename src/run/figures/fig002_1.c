/* 002-fig1: 002 Fig. 1 left / Claim 1 (Cohen, Razin; Arora et al. 2018): ℓ4 regression
 * ((1/n) Σ |W x_i − y_i|_4^4, `--task=lp --p=4`) by gradient descent from a near-zero start,
 * the linear model (depth 1) against 2- and 3-layer networks. Per model, every step size
 * η of a log grid; t(η) = the first iteration with ℓ ≤ ε (ℓ* = 0: noiseless data, n > d_0);
 * the model's time is min over η (Claim 1's t_ℓ, t_φ). Verdict: deeper is faster, by ratio. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dln/error.h"
#include "dln/io.h"
#include "dln/run.h"
#include "run/figures/fig002_common.h"

enum { NDEPTH = 3, NETA_FULL = 19, NETA_QUICK = 7 };
#define F1_EPS "1e-4"
#define F1_ITERS 20000.0

static double eta_at(int quick, int i) { /* 1e-4 .. 1e-1, 6 (quick: 2) per decade */
  return quick ? pow(10, -4 + i / 2.0) : pow(10, -4 + i / 6.0);
}

/* One (depth, η) run; *iters = first iteration with ℓ ≤ ε (NAN if never), *stop its reason. */
static int run_one(dln_figure_ctx *c, int depth, double eta, const char *sub, double *iters, double *stop) {
  char dep[16], et[32], te[32];
  snprintf(dep, sizeof dep, "%d", depth);
  snprintf(et, sizeof et, "%.17g", eta);
  snprintf(te, sizeof te, "%.17g", eta * F1_ITERS);
  const char *const kv[][2] = {{"task", "lp"},         {"p", "4"},          {"rows", "1"},         {"cols", "10"},
                               {"n_samples", "50"},   {"depth", dep},      {"width", "10"},       {"sigma", "1e-3"},
                               {"method", "gd"},       {"eta", et},         {"t_end", te},         {"loss_threshold", F1_EPS},
                               {"observe", "loss"},    {"log_samples", "true"}, {"samples", "101"}};
  dln_run_result rr;
  int st = fig002_run(c, sub, kv, (int)(sizeof kv / sizeof *kv), &rr);
  if (st) return st;
  *stop = rr.train.stop_reason;
  *iters = rr.train.stop_reason == DLN_STOP_LOSS ? (double)rr.train.steps : NAN;
  return DLN_OK;
}

static int fig002_1_run(dln_figure_ctx *c) {
  static const char *const cols[] = {"depth", "eta", "iterations", "stop_reason"};
  static const char *const bcols[] = {"depth", "best_eta", "best_iterations", "best_index"};
  int neta = c->quick ? NETA_QUICK : NETA_FULL;
  double best[NDEPTH] = {NAN, NAN, NAN}, beta[NDEPTH] = {NAN, NAN, NAN};
  int bidx[NDEPTH] = {-1, -1, -1};
  dln_table *t = NULL, *b = NULL;
  int st = dln_table_alloc(&t, 4, cols, (size_t)(NDEPTH * neta));
  if (!st) st = dln_table_alloc(&b, 4, bcols, NDEPTH);
  for (int d = 0; d < NDEPTH && !st; ++d)
    for (int i = 0; i < neta && !st; ++i) {
      char sub[64];
      double it = NAN, stop = 0, eta = eta_at(c->quick, i);
      snprintf(sub, sizeof sub, "runs/depth%d_eta%02d", d + 1, i);
      st = run_one(c, d + 1, eta, sub, &it, &stop);
      if (!st && isfinite(it) && !(it >= best[d])) best[d] = it, beta[d] = eta, bidx[d] = i;
      if (!st) st = dln_table_append(t, (double[]){d + 1, eta, it, stop});
    }
  for (int d = 0; d < NDEPTH && !st; ++d) st = dln_table_append(b, (double[]){d + 1, beta[d], best[d], bidx[d]});
  if (!st) st = dln_figure_write_table(c, "grid.csv", t);
  if (!st) st = dln_figure_write_table(c, "best.csv", b);
  if (!st)
    st = dln_figure_printf(
        c, "## Setting\n\n002 Claim 1 / Fig. 1 left: l4 regression, (1/n) sum_i |W x_i - y_i|_4^4 (`--task=lp --p=4`), "
           "synthetic and noiseless (x_i ~ N(0, I_10), y_i = W_true x_i, W_true 1x10 ~ N(0, 1), n = 50, so l* = 0; the "
           "paper's figure uses a UCI dataset, not available here). Models: linear (depth 1), 2- and 3-layer networks of "
           "width 10, init N(0, 1e-3^2) per entry (near zero). Gradient descent with eta on a log grid 1e-4..1e-1 (%d "
           "values; `--quick`: %d); t(eta) = first iteration with l <= eps = %s, at most %.0f iterations; a model's time "
           "is the least t(eta) on the grid. Data: grid.csv (depth, eta, iterations (nan: not reached), stop reason: 3 "
           "loss reached, 1 budget, 5 diverged), best.csv, runs/depth<N>_eta<i>/.\n\n## Claims and verdicts\n\n",
        NETA_FULL, NETA_QUICK, F1_EPS, F1_ITERS);
  int edge = 0;
  for (int d = 0; d < NDEPTH; ++d) edge += bidx[d] == 0 || bidx[d] == neta - 1;
  int ok = isfinite(best[0]) && isfinite(best[1]) && isfinite(best[2]) && best[1] < best[0] && best[2] < best[0];
  if (!st)
    st = dln_figure_verdict(
        c, "002 Claim 1 / Fig. 1 (implicit acceleration by depth)", ok ? DLN_VERDICT_HOLDS : DLN_VERDICT_FAILS,
        "Claim: from a near-zero start the 2- and 3-layer networks reach eps in fewer iterations than the linear "
        "model, each at its best step size. Measured: linear %.0f iterations (eta = %.3g), 2-layer %.0f (eta = %.3g), "
        "3-layer %.0f (eta = %.3g); ratios linear/2-layer = %.3g, linear/3-layer = %.3g, 2-layer/3-layer = %.3g%s.",
        best[0], beta[0], best[1], beta[1], best[2], beta[2], best[0] / best[1], best[0] / best[2], best[1] / best[2],
        edge ? " (a best eta at the grid's edge: the optimum may lie outside it)" : "");
  dln_table_free(t), dln_table_free(b);
  return st;
}

const dln_figure_type dln_figure_002_fig1 = {
    "002-fig1", "l4 regression: linear model vs 2- and 3-layer networks at their best step sizes",
    "002 Fig. 1, Claim 1 (Cohen, Razin)", dln_figure_py_fig002_1, fig002_1_run};
