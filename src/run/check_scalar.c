/* `dln check` rows of the scalar/vector case of 000 §III: depth 2, factorization loss,
 * n = m = 1 (Ȳ a scalar, taken > 0 as the paper does), P = W_2, Q = W_1ᵀ ∈ R^{1×k}.
 *   - Prop. 1 (undisturbed flow, eq. 12): a start in S^− (P_0 = −Q_0; within tol·‖θ_0‖) goes to
 *     the saddle 0, any other start to the target set PQᵀ = Ȳ. Checked at the recorded end
 *     point: it must sit at the predicted one (‖θ‖ ≤ tol·max(1, ‖θ_0‖), resp.
 *     |Ȳ − PQᵀ| ≤ tol·max(1, Ȳ)); an end point at neither is "not applicable" (not converged).
 *   - Thm 2 (disturbed): R_α = {‖P + Q‖² ≥ α²} (eq. 16) is forward-invariant if α ∈ [0, 2√Ȳ) and
 *     ‖U‖ + ‖V‖ ≤ |α|(Ȳ − α²/4)/√2 (eq. 17). ‖U‖ + ‖V‖ is bounded by |scale|(‖D_2‖ + ‖D_1‖) (for
 *     n = m = 1 the spectral norms are Euclidean); worst_case has ‖U‖ + ‖V‖ = |scale|. With the hypotheses, min_t PpQ2 ≥ α² − tol·max(1, α²)
 *     must hold and the in_Ralpha column must agree; otherwise "not applicable", saying
 *     whether the run stayed in R_α.
 *   - eq. 18: at every sample inside R_α, Ldot ≤ eq18_bound = −φα²/2 + ½‖D(t)‖², slack tol·max|Ldot|. */
#include <math.h>
#include <stdio.h>

#include "dln/mat.h"
#include "run/check_internal.h"

static double cell(const dln_table *t, size_t i, int j) { return t->data[i * (size_t)t->ncols + (size_t)j]; }

/* ‖P + Q‖², ‖θ‖ and PQᵀ of θ (W_1 k x 1, W_2 1 x k). */
static void pq(const dln_net *net, const double *th, double *s2, double *nrm, double *pqt) {
  const double *W1 = th + net->offset[1], *W2 = th + net->offset[2];
  *s2 = *nrm = *pqt = 0;
  for (int i = 0; i < net->widths[1]; ++i)
    *s2 += (W2[i] + W1[i]) * (W2[i] + W1[i]), *nrm += W1[i] * W1[i] + W2[i] * W2[i], *pqt += W2[i] * W1[i];
  *nrm = sqrt(*nrm);
}

static void check_prop1(ctx *c, double Y) {
  static const char *R = "start in S- to saddle, else to target", *S = "000 Prop. 1";
  if (c->disturbed || !c->flow) {
    dln_chk_add_na(c->rep, R, S, "%s", c->flow_why);
    return;
  }
  if (!c->thetaf) {
    dln_chk_add_na(c->rep, R, S, "end weights recorded fails");
    return;
  }
  const dln_net *net = c->p->net;
  double s0, n0, p0, sf, nf, pf;
  pq(net, c->theta0, &s0, &n0, &p0);
  pq(net, c->thetaf, &sf, &nf, &pf);
  int minus = sqrt(s0) <= c->tol * n0;
  double as = c->tol * fmax(1.0, n0), at = c->tol * fmax(1.0, Y), ds = nf, dt = fabs(Y - pf);
  if (ds > as && dt > at) {
    dln_chk_add_na(c->rep, R, S, "end point at the saddle or the target set fails (|theta| = %.3g, |Ybar - PQ^T| = %.3g; run longer)", nf, dt);
    return;
  }
  char hyp[200];
  snprintf(hyp, sizeof hyp, "undisturbed flow, n = m = 1, Ybar = %.6g; start %s S- (|P0 + Q0| = %.3g); end point converged", Y,
           minus ? "in" : "not in", sqrt(s0));
  if (minus) dln_chk_add_dev(c->rep, R, S, hyp, as, ds, "|theta(T)| (saddle 0)");
  else dln_chk_add_dev(c->rep, R, S, hyp, at, dt, "|Ybar - P(T)Q(T)^T| (target set)");
}

/* min_t PpQ2 and whether in_Ralpha disagrees with PpQ2 ≥ α² anywhere. */
static double min_ppq2(const dln_table *t, int cs, int ci, double a2, int *disagree) {
  double m = INFINITY;
  *disagree = 0;
  for (size_t i = 0; i < t->nrows; ++i) {
    double s = cell(t, i, cs);
    m = isnan(s) ? -INFINITY : fmin(m, s);
    if ((s >= a2) != (cell(t, i, ci) == 1.0)) *disagree = 1;
  }
  return m;
}

static void check_thm2(ctx *c, double Y, double al) {
  static const char *R = "R_alpha forward-invariant", *S = "000 Thm 2 eq. 16-17";
  const dln_table *t = c->tab;
  int cs = dln_table_col(t, "PpQ2"), ci = dln_table_col(t, "in_Ralpha");
  if (cs < 0 || ci < 0 || t->nrows < 1) {
    dln_chk_add_na(c->rep, R, S, "PpQ2, in_Ralpha recorded fails (observe \"disturbance\" with --r_alpha >= 0)");
    return;
  }
  const dln_net *net = c->p->net;
  const double *D = c->p->dist;
  double d1 = 0, d2 = 0;
  if (!D) d1 = 0.25, d2 = 0.25; /* worst case (000 §III): ‖U‖ + ‖V‖ = |scale| exactly (0 on S^−) */
  for (int i = 0; D && i < net->widths[1]; ++i) d1 += D[net->offset[1] + i] * D[net->offset[1] + i], d2 += D[net->offset[2] + i] * D[net->offset[2] + i];
  double uv = fabs(c->p->to.disturbance_scale) * (sqrt(d1) + sqrt(d2)), bound = fabs(al) * (Y - al * al / 4) / sqrt(2.0);
  double a2 = al * al, allow = c->tol * fmax(1.0, a2);
  int disagree;
  double m = min_ppq2(t, cs, ci, a2, &disagree), s0 = cell(t, 0, cs);
  const char *stayed = m >= a2 - allow ? "stayed in" : "left";
  if (!(al < 2 * sqrt(Y)) || !(uv <= bound) || !(s0 >= a2)) {
    dln_chk_add_na(c->rep, R, S, "alpha = %.6g in [0, 2 sqrt(Ybar)) and ||U|| + ||V|| = %.6g <= %.6g (largest admissible) and start in R_alpha "
                   "(||P0 + Q0||^2 = %.6g >= %.6g) fails; the run %s R_alpha (min ||P + Q||^2 = %.6g)",
                   al, uv, bound, s0, a2, stayed, m);
    return;
  }
  char hyp[240];
  snprintf(hyp, sizeof hyp, "alpha = %.6g, Ybar = %.6g, ||U|| + ||V|| <= %.6g <= %.6g (largest admissible); start in R_alpha; in_Ralpha %s", al, Y,
           uv, bound, disagree ? "DISAGREES with PpQ2 >= alpha^2" : "agrees");
  dln_chk_add_dev(c->rep, R, S, hyp, allow, disagree ? INFINITY : fmax(0.0, a2 - m), "max_t (alpha^2 - ||P + Q||^2)+");
}

static void check_eq18(ctx *c) {
  static const char *R = "dissipation inside R_alpha", *S = "000 eq. 18";
  const dln_table *t = c->tab;
  int cL = dln_table_col(t, "Ldot"), cb = dln_table_col(t, "eq18_bound"), ci = dln_table_col(t, "in_Ralpha");
  if (cL < 0 || cb < 0 || ci < 0) {
    dln_chk_add_na(c->rep, R, S, "Ldot, eq18_bound, in_Ralpha recorded fails (--r_alpha >= 0)");
    return;
  }
  size_t n = 0;
  double scale = 0, worst = 0;
  for (size_t i = 0; i < t->nrows; ++i) {
    if (cell(t, i, ci) != 1.0) continue;
    ++n;
    double ex = cell(t, i, cL) - cell(t, i, cb);
    scale = fmax(scale, fabs(cell(t, i, cL)));
    if (!(ex <= worst)) worst = isnan(ex) ? INFINITY : ex;
  }
  if (!n) {
    dln_chk_add_na(c->rep, R, S, "a sample inside R_alpha fails");
    return;
  }
  char hyp[160];
  snprintf(hyp, sizeof hyp, "disturbed flow, n = m = 1; %zu of %zu samples in R_alpha; slack tol max|Ldot|", n, t->nrows);
  dln_chk_add_dev(c->rep, R, S, hyp, c->tol * fmax(scale, 1e-300), worst, "max over R_alpha samples (Ldot - eq18_bound)");
}

void dln_chk_scalar(ctx *c) {
  const dln_net *net = c->p->net;
  if (c->p->e2e || !net || net->depth != 2 || !c->fact || net->widths[0] != 1 || net->widths[2] != 1 || !c->p->loss->wstar) return;
  double Y = c->p->loss->wstar[0];
  if (!(Y > 0)) {
    dln_chk_add_na(c->rep, "000 sec. III results", "000 Prop. 1, Thm 2", "Ybar > 0 fails (Ybar = %.6g)", Y);
    return;
  }
  check_prop1(c, Y);
  if (!c->disturbed) return;
  double al = c->p->to.r_alpha;
  if (!(al >= 0)) return; /* no --r_alpha: no R_α rows */
  check_thm2(c, Y, al);
  check_eq18(c);
}
