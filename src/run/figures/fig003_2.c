/* 003-fig2: 003 Fig. 2 (Min, Tarmoun, Vidal, Mallada, §4 "Convergence via imbalanced
 * initialization"): the loss against time for several levels of imbalance c at one
 * initial end-to-end matrix, U(0) = σ_U U_0, V(0) = σ_V V_0 with σ_U σ_V fixed (003 §4),
 * plus the balanced start with the same product (003 §4, U_balanced / V_balanced), with
 * Σ_x = I on span X. Each run is the gradient flow (the library's ARKODE integrator),
 * the paper's continuous dynamics (003 eq. 7), which its GD with a small step approximates.
 * Verdict: every imbalanced curve stays below Theorem 1's bound (003 eq. 10)
 * L(t) − L* ≤ e^{−2 λ_r(Σ_x) c t}(L(0) − L*), c = [λ_r(Λ0)]_+ + [λ_m(−Λ0)]_+. */
#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dln/error.h"
#include "dln/init.h"
#include "dln/loss.h"
#include "dln/net.h"
#include "dln/rng.h"
#include "dln/theory.h"
#include "dln/train.h"
#include "run/figures/figure_internal.h"

enum { D0 = 10, NSAMP = 5, MOUT = 2, H = 50, NCASE = 4, NS_FULL = 401, NS_QUICK = 101 };
#define T_END 10.0
#define PROD (1.0 / H) /* σ_U σ_V: W(0) = PROD · V_0 U_0^T has entries of size ~ PROD √h */
#define FLOOR 1e-10    /* samples with a bound gap below FLOOR (L(0) − L*) are not compared (integrator accuracy) */
static const double ratios[NCASE] = {1, 2, 4, 0}; /* σ_U / σ_V; 0: the balanced start */

typedef struct case_out {
  double c, rate, l0, worst; /* worst: the largest (L − L*)/(bound − L*) over compared samples t > 0 */
  double t6;                 /* first sample time with L ≤ 1e-6 (NAN: never) */
} case_out;

/* X (d_0 x n) with orthonormal columns, so Σ_x = X X^T = I on span X (λ_1 = λ_r = 1); Y ~ N(0, 1). */
static int make_loss(dln_loss **loss, dln_mat **Xo) {
  dln_rng *r = dln_rng_alloc(3, 100);
  dln_mat *X = dln_mat_alloc(D0, NSAMP), *Y = dln_mat_alloc(MOUT, NSAMP);
  int st = r && X && Y ? DLN_OK : dln_error(DLN_ENOMEM, "003-fig2: out of memory");
  if (!st) st = dln_rng_orthogonal(r, D0, NSAMP, X->data);
  if (!st) dln_rng_fill_gaussian(r, Y->data, (size_t)MOUT * NSAMP, 1.0);
  if (!st) st = dln_loss_regression_alloc(loss, X, Y);
  if (!st) *Xo = X, X = NULL;
  dln_mat_free(X), dln_mat_free(Y), dln_rng_free(r);
  return st;
}

/* 003 §4's balanced start for W0 = V U^T (dln: W_1 = U^T, W_2 = V): M = W0 Φ_1Φ_1^T W0^T (m x m),
 * V_b = M^{1/4} Q^T, U_b^T = Q M^{−1/4} W0, Q (h x m) orthonormal; then U_1^T U_1 = V^T V (Λ = 0). */
static int balanced(dln_net *net, double *theta, const double *W0, const dln_mat *X, dln_rng *r) {
  double P[D0 * D0], A[MOUT * D0], M[MOUT * MOUT], ev[MOUT], Mp[MOUT * MOUT], Mm[MOUT * MOUT], Q[H * MOUT];
  for (int i = 0; i < D0; ++i) /* Φ_1Φ_1^T = X X^T (orthonormal columns) */
    for (int j = 0; j < D0; ++j) {
      P[i + j * D0] = 0;
      for (int k = 0; k < NSAMP; ++k) P[i + j * D0] += X->data[i + k * D0] * X->data[j + k * D0];
    }
  for (int i = 0; i < MOUT; ++i)
    for (int j = 0; j < D0; ++j) {
      A[i + j * MOUT] = 0;
      for (int k = 0; k < D0; ++k) A[i + j * MOUT] += W0[i + k * MOUT] * P[k + j * D0];
    }
  for (int i = 0; i < MOUT; ++i)
    for (int j = 0; j < MOUT; ++j) {
      M[i + j * MOUT] = 0;
      for (int k = 0; k < D0; ++k) M[i + j * MOUT] += A[i + k * MOUT] * W0[j + k * MOUT];
    }
  if (LAPACKE_dsyev(LAPACK_COL_MAJOR, 'V', 'U', MOUT, M, MOUT, ev) || !(ev[0] > 0))
    return dln_error(DLN_ELAPACK, "003-fig2: balanced start: expected W0 Phi_1 Phi_1^T W0^T positive definite, found "
                     "smallest eigenvalue %g", ev[0]);
  for (int i = 0; i < MOUT; ++i) /* M^{±1/4} = E diag(ev^{±1/4}) E^T */
    for (int j = 0; j < MOUT; ++j) {
      Mp[i + j * MOUT] = Mm[i + j * MOUT] = 0;
      for (int k = 0; k < MOUT; ++k) {
        double e = M[i + k * MOUT] * M[j + k * MOUT];
        Mp[i + j * MOUT] += e * pow(ev[k], 0.25), Mm[i + j * MOUT] += e * pow(ev[k], -0.25);
      }
    }
  int st = dln_rng_orthogonal(r, H, MOUT, Q);
  double *W1 = dln_net_layer(net, theta, 1), *W2 = dln_net_layer(net, theta, 2);
  for (int i = 0; i < MOUT && !st; ++i) /* W_2 = M^{1/4} Q^T (m x h) */
    for (int j = 0; j < H; ++j) {
      W2[i + j * MOUT] = 0;
      for (int k = 0; k < MOUT; ++k) W2[i + j * MOUT] += Mp[i + k * MOUT] * Q[j + k * H];
    }
  for (int k = 0; k < MOUT * D0 && !st; ++k) A[k] = 0; /* A = M^{−1/4} W0 */
  for (int i = 0; i < MOUT && !st; ++i)
    for (int j = 0; j < D0; ++j)
      for (int k = 0; k < MOUT; ++k) A[i + j * MOUT] += Mm[i + k * MOUT] * W0[k + j * MOUT];
  for (int i = 0; i < H && !st; ++i) /* W_1 = Q A (h x d_0) */
    for (int j = 0; j < D0; ++j) {
      W1[i + j * H] = 0;
      for (int k = 0; k < MOUT; ++k) W1[i + j * H] += Q[i + k * H] * A[k + j * MOUT];
    }
  return st;
}

typedef struct loss_ctx {
  dln_net *net;
  dln_loss *loss;
} loss_ctx;

static int loss_eval(void *ctx, double t, long step, const double *theta, double *row) {
  (void)step;
  loss_ctx *c = ctx;
  row[0] = t;
  return dln_net_grad(c->net, c->loss, theta, &row[1], NULL, NULL);
}

/* Case i: its start (from the same draws), the bound's rate, the flow, rows into curves. */
static int run_case(dln_figure_ctx *c, int i, dln_net *net, dln_loss *loss, const dln_mat *X, double *theta,
                    dln_table *one, dln_table *curves, case_out *o) {
  double W0[MOUT * D0], k = ratios[i] > 0 ? ratios[i] : 1, sc[2] = {k * sqrt(PROD), sqrt(PROD) / k};
  dln_rng *r = dln_rng_alloc(3, 101), *rq = dln_rng_alloc(3, 102);
  int st = r && rq ? dln_init_gaussian(net, theta, r, 1, sc) : dln_error(DLN_ENOMEM, "003-fig2: out of memory");
  if (!st && ratios[i] == 0) st = dln_net_product(net, theta, W0);
  if (!st && ratios[i] == 0) st = balanced(net, theta, W0, X, rq);
  dln_rng_free(r), dln_rng_free(rq);
  if (!st) st = dln_theory_imbalance_c(net, X, theta, &o->c, NULL, NULL, NULL, NULL);
  double ystar = 0;
  o->rate = NAN;
  if (!st && ratios[i] > 0) st = dln_bound_rate_imbalance(net, loss, X, theta, &o->rate, &ystar);
  dln_train_options to;
  dln_train_default_options(&to);
  to.method = &dln_integrator_flow, to.t_end = T_END, to.rtol = 1e-10, to.atol = 1e-14;
  to.nsamples = c->quick ? NS_QUICK : NS_FULL;
  dln_fig_train_cancel(c, &to);
  loss_ctx lc = {net, loss};
  dln_sampler sm = {2, loss_eval, &lc};
  dln_train_result tr;
  one->nrows = 0;
  if (!st) st = dln_train_sampled(net, loss, theta, &to, &sm, one, &tr);
  if (!st && tr.stop_reason != DLN_STOP_TIME)
    st = dln_error(DLN_ESOLVER, "003-fig2: case %d: expected the flow to reach t = %g, found %s at t = %g", i, T_END,
                   dln_stop_reason_name(tr.stop_reason), tr.t);
  o->l0 = st ? NAN : dln_table_row(one, 0)[1], o->worst = 0, o->t6 = NAN;
  for (size_t s = 0; s < (st ? 0 : one->nrows) && !st; ++s) {
    const double *x = dln_table_row(one, s);
    double gap = (o->l0 - loss->lstar) * exp(-o->rate * x[0]), b = loss->lstar + gap;
    if (s > 0 && gap > FLOOR * (o->l0 - loss->lstar)) o->worst = fmax(o->worst, (x[1] - loss->lstar) / gap);
    if (isnan(o->t6) && x[1] <= 1e-6) o->t6 = x[0];
    st = dln_table_append(curves, (double[]){i, ratios[i], o->c, o->rate, x[0], x[1], ratios[i] > 0 ? b : NAN});
  }
  return st;
}

static int report(dln_figure_ctx *c, const case_out *o) {
  int st = dln_figure_printf(
      c,
      "## Setting\n\n003 sec. 4 (Convergence via Imbalanced Initialization): regression 1/2||W X - Y||^2 with d_0 = %d, "
      "n = %d samples, m = %d outputs, X with orthonormal columns (Sigma_x = I on span X, as the paper sets it), Y ~ "
      "N(0, 1); W = V U^T, h = %d; U(0) = sigma_U U_0, V(0) = sigma_V V_0 (U_0, V_0 ~ N(0, 1), the same draws in every "
      "case) with sigma_U sigma_V = 1/h and sigma_U / sigma_V in {1, 2, 4}, plus the balanced start of 003 sec. 4 with the "
      "same W(0) (Lambda = 0, no bound). Gradient flow (ARKODE ERK, rtol 1e-10, atol 1e-14) to t = %g, %d linear samples "
      "(`--quick`: %d). 003's sizes and step are in its Appendix A, which the text we have lacks; the flow is the dynamics "
      "Theorem 1 is about (003 eq. 7). Data: curves.csv (t, loss, bound per case), cases.csv.\n\n| sigma_U / sigma_V | c | "
      "rate 2 lambda_r c | L(0) | first t with L <= 1e-6 | largest (L - L*)/(bound - L*) |\n| --- | --- | --- | --- | --- | --- |\n",
      D0, NSAMP, MOUT, H, T_END, NS_FULL, NS_QUICK);
  double worst = 0;
  for (int i = 0; i < NCASE && !st; ++i) {
    if (ratios[i] > 0) worst = fmax(worst, o[i].worst);
    if (ratios[i] > 0)
      st = dln_figure_printf(c, "| %g | %.4g | %.4g | %.4g | %.4g | %.4g |\n", ratios[i], o[i].c, o[i].rate, o[i].l0, o[i].t6,
                             o[i].worst);
    else
      st = dln_figure_printf(c, "| balanced | %.3g | (none: c at round-off) | %.4g | %.4g | - |\n", o[i].c, o[i].l0, o[i].t6);
  }
  if (!st) st = dln_figure_printf(c, "\n## Claims and verdicts\n\n");
  if (!st)
    st = dln_figure_verdict(c, "003 Thm 1, eq. 10 (every imbalanced curve below its bound)",
                            worst <= 1 + 1e-6 ? DLN_VERDICT_HOLDS : DLN_VERDICT_FAILS,
                            "Claim: L(t) - L* <= exp(-2 lambda_r(Sigma_x) c t)(L(0) - L*). Measured: largest "
                            "(L(t) - L*)/(bound - L*) over the samples t > 0 of the %d imbalanced cases (where the bound's gap "
                            "exceeds %g (L(0) - L*)) = %.6g (holds when <= 1 + 1e-6).",
                            NCASE - 1, FLOOR, worst);
  int faster = 1;
  for (int i = 1; i < NCASE && !st; ++i) faster &= o[i].t6 <= o[i - 1].t6 || (ratios[i] == 0 && o[i].t6 >= o[0].t6);
  for (int i = 0; i < NCASE - 1 && !st; ++i) faster &= !(o[NCASE - 1].t6 < o[i].t6);
  if (!st)
    st = dln_figure_verdict(c, "003 Fig. 2: more imbalance converges faster, balanced slowest",
                            faster ? DLN_VERDICT_HOLDS : DLN_VERDICT_FAILS,
                            "Claim (003 sec. 4): the rate improves with the imbalance and the balanced start is the "
                            "slowest. Measured: first sample time with L <= 1e-6: %.4g, %.4g, %.4g (sigma_U/sigma_V = 1, "
                            "2, 4), %.4g (balanced).",
                            o[0].t6, o[1].t6, o[2].t6, o[3].t6);
  return st;
}

static int fig003_2_run(dln_figure_ctx *c) {
  static const char *const cols[] = {"case", "ratio", "c", "rate", "t", "loss", "bound"};
  static const char *const kcols[] = {"case", "ratio", "c", "rate", "loss0", "t_1e-6", "max_ratio"};
  int ns = c->quick ? NS_QUICK : NS_FULL;
  dln_loss *loss = NULL;
  dln_mat *X = NULL;
  dln_net *net = NULL;
  dln_table *one = NULL, *curves = NULL, *cases = NULL;
  case_out o[NCASE];
  double *theta = NULL;
  int st = make_loss(&loss, &X);
  if (!st) st = dln_net_alloc(&net, 2, (int[]){D0, H, MOUT}, 0);
  if (!st && !(theta = malloc(net->nparams * sizeof *theta))) st = dln_error(DLN_ENOMEM, "003-fig2: out of memory");
  if (!st) st = dln_table_alloc(&one, 2, (const char *const[]){"t", "loss"}, (size_t)ns + 1);
  if (!st) st = dln_table_alloc(&curves, 7, cols, (size_t)NCASE * (ns + 1));
  if (!st) st = dln_table_alloc(&cases, 7, kcols, NCASE);
  for (int i = 0; i < NCASE && !st; ++i) {
    st = run_case(c, i, net, loss, X, theta, one, curves, &o[i]);
    if (!st)
      st = dln_table_append(cases, (double[]){i, ratios[i], o[i].c, o[i].rate, o[i].l0, o[i].t6, ratios[i] > 0 ? o[i].worst : NAN});
  }
  if (!st) st = dln_figure_write_table(c, "curves.csv", curves);
  if (!st) st = dln_figure_write_table(c, "cases.csv", cases);
  if (!st) st = report(c, o);
  dln_table_free(one), dln_table_free(curves), dln_table_free(cases);
  free(theta), dln_net_free(net), dln_mat_free(X), dln_loss_free(loss);
  return st;
}

const dln_figure_type dln_figure_003_fig2 = {
    "003-fig2", "loss vs time for several imbalance levels at one W(0), with 003 Thm 1's bound",
    "003 Fig. 2, Thm 1 (Min, Tarmoun, Vidal, Mallada)", dln_figure_py_fig003_2, fig003_2_run};
