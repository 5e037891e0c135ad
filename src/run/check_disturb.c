/* `dln check` rows of a disturbed run Ẇ_j = −∂φ/∂W_j + D_j(t) (000 eq. 9; docs/disturbed.md),
 * from the "disturbance" columns of trajectory.csv:
 *   - imbalance drift vs 000 eq. 21: for every junction j, the measured ½dC{j}(t)² =
 *     ½‖C_j(t) − C_j(0)‖²_F against the trapezoid integral of dC{j}·dC{j}_rate = ⟨ΔC_j, Ċ_j⟩
 *     (Ċ_j from eq. 21) over the samples, at every sample. The squared norm is smooth (the
 *     norm has kinks where ΔC_j passes near 0). Allowed: 3× the trapezoid rule's own error
 *     estimate |T_h − T_2h|/3 (Richardson; the rule is O(Δt²)) plus tol·max(1, max ½dC²).
 *   - 000 Thm 1 eq. 11 along the trajectory: Ldot ≤ thm1_bound at every sample, with
 *     slack tol·max|Ldot| (depth 2 and the factorization loss: the columns exist only then). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "dln/train.h"
#include "run/check_internal.h"

static double cell(const dln_table *t, size_t i, int j) { return t->data[i * (size_t)t->ncols + (size_t)j]; }

/* max_i |½dC(t_i)² − ∫_0^{t_i} dC·rate| and the Richardson estimate of the trapezoid error. */
static void drift_vs_rate(const dln_table *t, int cd, int cr, double *dev, double *est, double *dmax) {
  double T = 0, T2 = 0; /* step h; step 2h over even samples */
  *dev = *est = *dmax = 0;
  for (size_t i = 1; i < t->nrows; ++i) {
    double h = cell(t, i, 0) - cell(t, i - 1, 0);
    T += 0.5 * h * (cell(t, i, cd) * cell(t, i, cr) + cell(t, i - 1, cd) * cell(t, i - 1, cr));
    double d = 0.5 * cell(t, i, cd) * cell(t, i, cd), e = fabs(d - T);
    if (!(e <= *dev)) *dev = isnan(e) ? INFINITY : e;
    *dmax = fmax(*dmax, fabs(d));
    if (i % 2 == 0) {
      T2 += (cell(t, i, 0) - cell(t, i - 2, 0)) * 0.5 * (cell(t, i, cd) * cell(t, i, cr) + cell(t, i - 2, cd) * cell(t, i - 2, cr));
      *est = fmax(*est, fabs(T - T2) / 3);
    }
  }
}

static void check_drift(ctx *c) {
  static const char *R = "imbalance drift vs its rate", *S = "000 eq. 21 (layer by layer)";
  const dln_table *t = c->tab;
  int n = 0;
  double worst = -1, wdev = 0, west = 0, wallow = 0;
  int wj = 0;
  for (int j = 1; j < 64; ++j) {
    char a[16], b[24];
    snprintf(a, sizeof a, "dC%d", j);
    snprintf(b, sizeof b, "dC%d_rate", j);
    int cd = dln_table_col(t, a), cr = dln_table_col(t, b);
    if (cd < 0 || cr < 0) break;
    ++n;
    double dev, est, dmax;
    drift_vs_rate(t, cd, cr, &dev, &est, &dmax);
    double allow = 3 * est + c->tol * fmax(1.0, dmax);
    if (!(dev / allow <= worst)) worst = dev / allow, wdev = dev, west = est, wallow = allow, wj = j;
  }
  if (c->p->to.method->flags & DLN_INTEG_DISCRETE) { /* eq. 21 is the flow's; GD's drift differs by O(η) */
    dln_chk_add_na(c->rep, R, S, "disturbed flow fails (method %s)", c->spec->method);
    return;
  }
  if (!n) {
    dln_chk_add_na(c->rep, R, S, "dC1, dC1_rate columns recorded fails (observe without \"disturbance\", or depth 1 / tied)");
    return;
  }
  char hyp[200];
  snprintf(hyp, sizeof hyp, "disturbed flow; %d junctions; worst j = %d: trapezoid error estimate %.3g; allowed 3 x estimate + tol max(1, dC^2/2)",
           n, wj, west);
  dln_chk_add_dev(c->rep, R, S, hyp, wallow, wdev, "max_t |dC_j(t)^2/2 - integral_0^t dC_j dC_j_rate|");
}

static void check_thm1(ctx *c) {
  static const char *R = "dissipation along the trajectory", *S = "000 Thm 1 eq. 11";
  const dln_table *t = c->tab;
  int cL = dln_table_col(t, "Ldot"), cb = dln_table_col(t, "thm1_bound");
  if (cL < 0 || cb < 0) {
    dln_chk_add_na(c->rep, R, S, "depth 2, factorization loss, Ldot and thm1_bound recorded fails");
    return;
  }
  double scale = 0, worst = -INFINITY;
  for (size_t i = 0; i < t->nrows; ++i) {
    double ex = cell(t, i, cL) - cell(t, i, cb);
    scale = fmax(scale, fabs(cell(t, i, cL)));
    if (!(ex <= worst)) worst = isnan(ex) ? INFINITY : ex;
  }
  char hyp[160];
  snprintf(hyp, sizeof hyp, "disturbed flow, depth 2, factorization; %zu samples; slack tol max|Ldot|", t->nrows);
  dln_chk_add_dev(c->rep, R, S, hyp, c->tol * fmax(scale, 1e-300), fmax(worst, 0.0), "max_t (Ldot - thm1_bound)");
}

void dln_chk_disturbed(ctx *c) {
  if (!c->disturbed) return;
  check_drift(c);
  check_thm1(c);
}
