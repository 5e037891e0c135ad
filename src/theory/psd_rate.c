/* 001 (Tarmoun et al.) Proposition 2, eq. 10: the tied (symmetric) flow
 * U̇ = 2(Y − UU^T)U (001 eq. 3, 5) from any X_0 = U_0U_0^T ⪰ 0 converges to the projection
 * Ỹ = Σ max(σ_i, 0) φ_iφ_i^T of Y onto the PSD cone, ‖X(t) − Ỹ‖_F ≤ C e^{−4tσ_min(Y)}, when
 * Y and I + Ŷ^{−1}(X_0 − Ỹ) are nonsingular (Ŷ = Σ |σ_i| φ_iφ_i^T, σ_min = min |σ_i|).
 *
 * C is not given, so the rate is what can be checked: with Y_− = Ỹ − Y ⪰ 0, ⟨Ỹ, Y_−⟩ = 0,
 *   L − L* = ½‖X − Ỹ‖² + ⟨X, Y_−⟩ ∈ [½‖X − Ỹ‖², ½‖X − Ỹ‖² + ‖Y_−‖‖X − Ỹ‖],
 * L* = ½‖Y_−‖² = ½ Σ_{σ_i<0} σ_i², so eq. 10 gives L(t) − L* ≤ C' e^{−4tσ_min}: the decay
 * rate of L − L* fitted on the trajectory's tail is at least 4σ_min, and 8σ_min when Y ≻ 0
 * (Y_− = 0: L − L* = ½‖X − Ỹ‖²). */
#include "dln/theory.h"

#include <cblas.h>
#include <float.h>
#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "dln/error.h"

int dln_theory_psd_projection(const dln_loss *loss, double *Ytilde, double *sigma_min, double *lstar) {
  DLN_ARGS(loss);
  if (!dln_loss_has(loss, DLN_LOSS_IDENTITY) || !loss->wstar || loss->rows != loss->cols)
    return dln_error(DLN_ENOTAPPLICABLE, "not applicable: 001 Prop. 2: factorization with a square target fails (loss %s, %dx%d)",
                     dln_loss_name(loss), loss->rows, loss->cols);
  int n = loss->rows;
  const double *Y = loss->wstar;
  double asym = 0, ny = dln_norm2((size_t)n * n, Y);
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < j; ++i) asym = fmax(asym, fabs(Y[i + (size_t)j * n] - Y[j + (size_t)i * n]));
  if (!(asym <= 1e3 * DBL_EPSILON * fmax(ny, DBL_MIN)))
    return dln_error(DLN_ENOTAPPLICABLE, "not applicable: 001 Prop. 2: symmetric Y fails (max |Y_ij - Y_ji| = %.3g)", asym);
  double *Q = dln_dalloc((size_t)n * n), *ev = dln_dalloc((size_t)n);
  int st = Q && ev ? DLN_OK : dln_error(DLN_ENOMEM, "out of memory in dln_theory_psd_projection");
  if (!st) {
    memcpy(Q, Y, (size_t)n * n * sizeof *Q);
    lapack_int info = LAPACKE_dsyev(LAPACK_COL_MAJOR, 'V', 'U', n, Q, n, ev);
    if (info) st = dln_error(DLN_ELAPACK, "001 Prop. 2: dsyev returned info %d", (int)info);
  }
  if (!st) {
    double smin = INFINITY, ls = 0;
    for (int i = 0; i < n; ++i) {
      smin = fmin(smin, fabs(ev[i]));
      if (ev[i] < 0) ls += 0.5 * ev[i] * ev[i];
    }
    if (sigma_min) *sigma_min = smin;
    if (lstar) *lstar = ls;
    if (Ytilde) { /* Ỹ = Φ diag(max(σ, 0)) Φ^T */
      memset(Ytilde, 0, (size_t)n * n * sizeof *Ytilde);
      for (int k = 0; k < n; ++k)
        if (ev[k] > 0) cblas_dsyr(CblasColMajor, CblasUpper, n, ev[k], Q + (size_t)k * n, 1, Ytilde, n);
      for (int j = 0; j < n; ++j)
        for (int i = j + 1; i < n; ++i) Ytilde[i + (size_t)j * n] = Ytilde[j + (size_t)i * n];
    }
  }
  free(Q), free(ev);
  return st;
}

/* Smallest / largest singular value of M = I + Ŷ^{−1}(X0 − Ỹ) (Ŷ^{−1} = Φ diag(1/|σ|) Φ^T). */
static int prop2_bracket(int n, const double *Y, const double *X0, double *smin, double *smax) {
  size_t nn = (size_t)n * n;
  double *Q = dln_dalloc(nn), *ev = dln_dalloc((size_t)n), *A = dln_dalloc(nn), *B = dln_dalloc(nn), *sup = dln_dalloc((size_t)n + 1);
  int st = Q && ev && A && B && sup ? DLN_OK : dln_error(DLN_ENOMEM, "out of memory in 001 Prop. 2");
  if (!st) {
    memcpy(Q, Y, nn * sizeof *Q);
    if (LAPACKE_dsyev(LAPACK_COL_MAJOR, 'V', 'U', n, Q, n, ev)) st = dln_error(DLN_ELAPACK, "001 Prop. 2: dsyev failed");
  }
  if (!st) {
    /* A = X0 − Ỹ; B = Φ diag(1/|σ|) Φ^T A; M = I + B */
    memcpy(A, X0, nn * sizeof *A);
    for (int k = 0; k < n; ++k)
      if (ev[k] > 0) cblas_dger(CblasColMajor, n, n, -ev[k], Q + (size_t)k * n, 1, Q + (size_t)k * n, 1, A, n);
    cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, n, n, n, 1.0, Q, n, A, n, 0.0, B, n); /* Φ^T A */
    for (int j = 0; j < n; ++j)
      for (int i = 0; i < n; ++i) B[i + (size_t)j * n] /= fabs(ev[i]);
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0, Q, n, B, n, 0.0, A, n);
    for (int i = 0; i < n; ++i) A[i + (size_t)i * n] += 1.0;
    if (LAPACKE_dgesvd(LAPACK_COL_MAJOR, 'N', 'N', n, n, A, n, ev, NULL, 1, NULL, 1, sup))
      st = dln_error(DLN_ELAPACK, "001 Prop. 2: dgesvd failed");
    else
      *smax = ev[0], *smin = ev[n - 1];
  }
  free(Q), free(ev), free(A), free(B), free(sup);
  return st;
}

int dln_bound_psd_projection(dln_net *net, dln_loss *loss, const double *theta0, const dln_curve *traj, double lo,
                             double hi, double acc, double tol, dln_verdict *v) {
  DLN_ARGS(v);
  memset(v, 0, sizeof *v);
  v->result = "tied flow to the PSD projection";
  v->source = "001 Prop. 2 eq. 10";
  v->bound = v->measured = v->margin = NAN;
  DLN_ARGS(net, loss, theta0, traj);
  if (!net->tied)
    return dln_error(DLN_ENOTAPPLICABLE, "not applicable: 001 Prop. 2: tied network W = U U^T fails (untied depth %d)", net->depth);
  double smin = 0, ls = 0, s1 = 0, s2 = 0, floor_ = 100 * (fmax(acc, 0) + DBL_EPSILON);
  int st = dln_theory_psd_projection(loss, NULL, &smin, &ls);
  if (st) return st;
  int n = loss->rows;
  double *X0 = dln_dalloc((size_t)n * n), ny = dln_norm2((size_t)n * n, loss->wstar);
  if (!X0) return dln_error(DLN_ENOMEM, "out of memory in dln_bound_psd_projection");
  if (!(smin > floor_ * ny)) {
    free(X0);
    return dln_error(DLN_ENOTAPPLICABLE, "not applicable: 001 Prop. 2: Y nonsingular at the run's accuracy fails (sigma_min = %.3g <= %.3g)",
                     smin, floor_ * ny);
  }
  st = dln_net_product(net, theta0, X0);
  if (!st) st = prop2_bracket(n, loss->wstar, X0, &s1, &s2);
  free(X0);
  if (st) return st;
  /* M = I + …: its scale is at least 1 unless the bracket cancels, as for X0 = 0 and Y ≻ 0 */
  if (!(s1 > floor_ * fmax(1.0, s2)))
    return dln_error(DLN_ENOTAPPLICABLE,
                     "not applicable: 001 Prop. 2: I + Yhat^-1 (X0 - Ytilde) nonsingular fails (sigma_min = %.3g <= %.3g max(1, sigma_max))",
                     s1, floor_);
  snprintf(v->hypotheses, sizeof v->hypotheses,
           "tied, symmetric Y, sigma_min(Y) = %.4g, sigma(I + Yhat^-1(X0 - Ytilde)) in [%.3g, %.3g], L* = %.6g; tail %g <= L - L* <= %g",
           smin, s1, s2, ls, lo, hi);
  /* L − L* on the tail, fitted */
  double *gap = dln_dalloc(traj->n ? traj->n : 1), *t = dln_dalloc(traj->n ? traj->n : 1);
  if (!gap || !t) {
    free(gap), free(t);
    return dln_error(DLN_ENOMEM, "out of memory in dln_bound_psd_projection");
  }
  for (size_t i = 0; i < traj->n; ++i) t[i] = traj->t[i * traj->stride], gap[i] = traj->y[i * traj->stride] - ls;
  dln_curve g;
  dln_curve_arrays(&g, traj->n, t, gap);
  double rate = NAN;
  int np = 0;
  st = dln_fit_rate(&g, lo, hi, &rate, &np);
  free(gap), free(t);
  if (st)
    return dln_error(DLN_ENOTAPPLICABLE, "not applicable: 001 Prop. 2: >= 3 tail samples with %g <= L - L* <= %g fails (%d)", lo, hi, np);
  v->applicable = 1;
  v->bound = (ls > 0 ? 4 : 8) * smin; /* Y ≻ 0: L − L* = ½‖X − Ỹ‖² ≤ ½C² e^{−8σ_min t} */
  v->measured = rate;
  v->margin = rate - v->bound;
  v->holds = rate >= v->bound * (1 - tol);
  snprintf(v->message, sizeof v->message, "%s: fitted rate of L - L* %.6g %s %d sigma_min = %.6g (%d samples, tolerance %.2g)",
           v->holds ? "holds" : "VIOLATED", rate, v->holds ? ">=" : "<", ls > 0 ? 4 : 8, v->bound, np, tol);
  return DLN_OK;
}

/* ------------------------------------------------------------------ 001 §5, eq. 32–39 */

/* Discrete (GD, step η, t = kη) and continuous tail rates of L − L*, per unit time.
 * Depth 1 (001 eq. 32, 34): L_k = (1 − η)^{2k} L_0 exactly, rates −2 ln|1 − η|/η and 2.
 * Tied depth 2 (eq. 33, 35, 38–39 in matrix form): U ← (I + 2ηR)U, R = Y − X, so
 * X ← (I + 2ηR) X (I + 2ηR). Linearized at Ỹ (R → −Y_−, Ỹ Y_− = 0):
 *   δ ↦ δ − 2η(|Y|δ + δ|Y|) + 4η² Y_− δ Y_−,
 * a factor f_ij = 1 − 2η(|σ_i| + |σ_j|) (+ 4η²σ_iσ_j when both are negative) on each
 * eigen-block. L − L* = ½‖δ‖² + ⟨δ, Y_−⟩: quadratic (rate −2 ln f_ij/η) except the linear
 * term on the negative diagonal blocks, f_nn = (1 − 2η|σ_n|)² (rate −2 ln(1 − 2η|σ_n|)/η).
 * η → 0 gives the flow's 4(|σ_i| + |σ_j|) and 4|σ_n| (eq. 37: 4σ for the distance).
 * Needs 4η max|σ_i| < 1 (every f_ij in (0, 1): no oscillation). */
/* Blocks whose rate is this close to the slowest one are not separated by the fit window
 * (≈ 15 e-folds of the slowest: L − L* from 1e-6 to 1e3 ε of ½‖Y‖²). A quadratic block
 * within 1.15× still holds ≈ 13 % of its start share where the window opens (equal starts:
 * a fit off by ≈ 1 %); a linear-term block (⟨δ, Y_−⟩, first order in δ, so ≈ 1e3 times a
 * quadratic block's share at the window) needs 2× (a tied run with blocks 2.385 and 2.49,
 * the faster a linear one, fitted 2.45). */
#define GD_SEP_QUAD 1.15
#define GD_SEP_LINEAR 2.0

/* The rates above; *gd_mix (may be NULL): the largest discrete rate of a block that is not
 * separated from the slowest one (then the tail shows a mixture between *gd and it), or
 * *gd when all others are. */
static int gd_rates(const dln_net *net, const dln_loss *loss, double eta, double *gd, double *flow, double *gd_mix) {
  if (!(eta > 0)) return dln_error(DLN_EINVAL, "dln_theory_gd_rates: eta: expected > 0, found %g", eta);
  if (!dln_loss_has(loss, DLN_LOSS_IDENTITY))
    return dln_error(DLN_ENOTAPPLICABLE, "not applicable: 001 sec. 5: factorization loss fails (%s)", dln_loss_name(loss));
  if (net->depth == 1 && !net->tied) {
    if (!(eta < 1)) return dln_error(DLN_ENOTAPPLICABLE, "not applicable: 001 eq. 32: eta < 1 fails (eta = %g)", eta);
    *gd = -2 * log1p(-eta) / eta, *flow = 2;
    if (gd_mix) *gd_mix = *gd;
    return DLN_OK;
  }
  if (!net->tied)
    return dln_error(DLN_ENOTAPPLICABLE, "not applicable: 001 sec. 5: depth 1 or tied depth 2 fails (untied depth %d)", net->depth);
  int n = loss->rows;
  size_t nb = (size_t)n * (size_t)(n + 1) / 2;
  double *ev = dln_dalloc((size_t)n), *Q = dln_dalloc((size_t)n * n), *rate = dln_dalloc(nb), smin = 0;
  int st = ev && Q && rate ? DLN_OK : dln_error(DLN_ENOMEM, "out of memory in dln_theory_gd_rates");
  if (!st) st = dln_theory_psd_projection(loss, NULL, &smin, NULL);
  if (!st) {
    memcpy(Q, loss->wstar, (size_t)n * n * sizeof *Q);
    if (LAPACKE_dsyev(LAPACK_COL_MAJOR, 'N', 'U', n, Q, n, ev)) st = dln_error(DLN_ELAPACK, "001 sec. 5: dsyev failed");
  }
  if (!st) {
    double amax = fmax(fabs(ev[0]), fabs(ev[n - 1]));
    if (!(4 * eta * amax < 1)) {
      st = dln_error(DLN_ENOTAPPLICABLE, "not applicable: 001 sec. 5: 4 eta max|sigma| < 1 fails (%.3g)", 4 * eta * amax);
    } else if (!(smin > 0)) {
      st = dln_error(DLN_ENOTAPPLICABLE, "not applicable: 001 sec. 5: Y nonsingular fails (sigma_min = %.3g)", smin);
    } else {
      *gd = *flow = INFINITY;
      size_t b = 0;
      for (int i = 0; i < n; ++i)
        for (int j = i; j < n; ++j, ++b) {
          double a = fabs(ev[i]), c = fabs(ev[j]), g, fl;
          if (i == j && ev[i] < 0) { /* the linear term ⟨δ, Y_−⟩: stored negated to mark it */
            g = -2 * log1p(-2 * eta * a) / eta, fl = 4 * a;
            rate[b] = -g;
          } else {
            double f = 1 - 2 * eta * (a + c) + (ev[i] < 0 && ev[j] < 0 ? 4 * eta * eta * a * c : 0);
            g = -2 * log(f) / eta, fl = 4 * (a + c);
            rate[b] = g;
          }
          *gd = fmin(*gd, g), *flow = fmin(*flow, fl);
        }
      if (gd_mix) {
        *gd_mix = *gd;
        for (b = 0; b < nb; ++b) {
          double g = fabs(rate[b]);
          if (g < (rate[b] < 0 ? GD_SEP_LINEAR : GD_SEP_QUAD) * *gd) *gd_mix = fmax(*gd_mix, g);
        }
      }
    }
  }
  free(ev), free(Q), free(rate);
  return st;
}

int dln_theory_gd_rates(const dln_net *net, const dln_loss *loss, double eta, double *gd, double *flow) {
  DLN_ARGS(net, loss, gd, flow);
  return gd_rates(net, loss, eta, gd, flow, NULL);
}

int dln_bound_gd_rate(const dln_net *net, const dln_loss *loss, double eta, const dln_curve *traj, double lo, double hi,
                      double tol, dln_verdict *v) {
  DLN_ARGS(v);
  memset(v, 0, sizeof *v);
  v->result = "gradient descent vs flow rate";
  v->source = "001 sec. 5 eq. 32-39";
  v->bound = v->measured = v->margin = NAN;
  DLN_ARGS(net, loss, traj);
  double gd = 0, flow = 0, ls = 0, gd2 = 0;
  int st = gd_rates(net, loss, eta, &gd, &flow, &gd2);
  if (!st && net->tied) st = dln_theory_psd_projection(loss, NULL, NULL, &ls);
  if (st) return st;
  double *gap = dln_dalloc(traj->n ? traj->n : 1), *t = dln_dalloc(traj->n ? traj->n : 1), rate = NAN;
  if (!gap || !t) {
    free(gap), free(t);
    return dln_error(DLN_ENOMEM, "out of memory in dln_bound_gd_rate");
  }
  for (size_t i = 0; i < traj->n; ++i) t[i] = traj->t[i * traj->stride], gap[i] = traj->y[i * traj->stride] - ls;
  dln_curve g;
  dln_curve_arrays(&g, traj->n, t, gap);
  int np = 0;
  st = dln_fit_rate(&g, lo, hi, &rate, &np);
  free(gap), free(t);
  if (st)
    return dln_error(DLN_ENOTAPPLICABLE, "not applicable: 001 sec. 5: >= 3 tail samples with %g <= L - L* <= %g fails (%d)", lo, hi, np);
  v->applicable = 1;
  v->bound = gd;
  v->measured = rate;
  if (gd2 == gd) { /* the slowest block alone in the window: its rate */
    snprintf(v->hypotheses, sizeof v->hypotheses, "%s, eta = %g, L* = %.6g; continuous rate %.6g, discrete %.6g (relative %+.3g)",
             net->tied ? "tied depth 2, symmetric Y" : "depth 1", eta, ls, flow, gd, gd / flow - 1);
    v->margin = tol - fabs(rate / gd - 1);
    v->holds = v->margin >= 0;
    snprintf(v->message, sizeof v->message, "%s: fitted rate of L - L* per unit time %.6g vs discrete %.6g (|ratio - 1| = %.3g, tolerance %.2g; flow %.6g)",
             v->holds ? "holds" : "VIOLATED", rate, gd, fabs(rate / gd - 1), tol, flow);
    return DLN_OK;
  }
  /* blocks not separated from the slowest (gd_rates): the window sees their mixture,
   * whose rate lies between the slowest and the fastest of them */
  snprintf(v->hypotheses, sizeof v->hypotheses, "tied depth 2, symmetric Y, eta = %g, L* = %.6g; blocks %.6g to %.6g not separated in the window: a mixture",
           eta, ls, gd, gd2);
  v->margin = fmin(rate / gd - (1 - tol), (1 + tol) - rate / gd2);
  v->holds = v->margin >= 0;
  snprintf(v->message, sizeof v->message, "%s: fitted rate of L - L* per unit time %.6g %s [%.6g, %.6g], the discrete rates of the slowest blocks (tolerance %.2g; flow %.6g)",
           v->holds ? "holds" : "VIOLATED", rate, v->holds ? "in" : "outside", gd, gd2, tol, flow);
  return DLN_OK;
}
