/* 002 (Cohen, Razin) Exercise 2 and Proposition 5 / Exercise 4 (dln/theory.h).
 *
 * Exercise 2: for the symmetric network W_s = W W^T and φ_s(W) = ℓ_s(W W^T), gradient flow
 *   Ẇ = −∇φ_s(W) = −(∇ℓ_s + ∇ℓ_s^T) W gives the self-contained end-to-end dynamics
 *     Ẇ_s = Ẇ W^T + W Ẇ^T = −(G + G^T) W_s − W_s (G + G^T),  G = ∇ℓ_s(W_s).
 *
 * Proposition 5 (det W(0) > 0) and Exercise 4 (det W(0) < 0): on the 2 x 2 sensing instance
 *   ℓ(W) = ½h[(w_12 − b_1)² + (w_21 − b_2)² + w_22²]  (002 eq. 15: h = 1/3, b = (1, 1))
 * the minimizers have w_22 = 0 and det = −b_1 b_2. With e = √(2ℓ/h) each of |w_12 − b_1|,
 * |w_21 − b_2|, |w_22| is ≤ e (002 eq. 16); while sign det W(t) = sign(b_1 b_2) (002
 * Lemma 2: constant for a balanced network) and e < min(|b_1|, |b_2|),
 *   |w_11| ≥ (|b_1| − e)(|b_2| − e)/e,
 * so ‖W‖ → ∞ as ℓ → 0. Prop. 5 is b_1 b_2 > 0 with det W(0) > 0; Exercise 4's adaptation
 * keeps A_1..A_3 and flips the sign of b_2 (b_1 b_2 < 0) for det W(0) < 0. */
#include "dln/theory.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "dln/error.h"

int dln_theory_sym_e2e(dln_loss *loss, const double *Ws, double *Wsdot) {
  DLN_ARGS(loss, Ws, Wsdot);
  if (loss->rows != loss->cols)
    return dln_error(DLN_ENOTAPPLICABLE, "not applicable: 002 Exercise 2: square end-to-end matrix fails (%dx%d)", loss->rows, loss->cols);
  int d = loss->rows;
  size_t dd = (size_t)d * d;
  double *G = dln_dalloc(dd), val;
  if (!G) return dln_error(DLN_ENOMEM, "out of memory in dln_theory_sym_e2e");
  int st = dln_loss_eval(loss, Ws, &val, G);
  if (!st) {
    for (int j = 0; j < d; ++j) /* G ← G + G^T */
      for (int i = 0; i <= j; ++i) G[i + (size_t)j * d] = G[j + (size_t)i * d] = G[i + (size_t)j * d] + G[j + (size_t)i * d];
    /* Ẇ_s = −(G + G^T) W_s − W_s (G + G^T) */
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, d, d, d, -1.0, G, d, Ws, d, 0.0, Wsdot, d);
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, d, d, d, -1.0, Ws, d, G, d, 1.0, Wsdot, d);
  }
  free(G);
  return st;
}

int dln_theory_prop5_instance(dln_loss *loss, double *b1, double *b2, double *h) {
  DLN_ARGS(loss);
  if (loss->rows != 2 || loss->cols != 2 || !dln_loss_has(loss, DLN_LOSS_QUADRATIC))
    return dln_error(DLN_ENOTAPPLICABLE, "not applicable: 002 Prop. 5: quadratic loss of a 2x2 W fails (%s, %dx%d)", dln_loss_name(loss),
                     loss->rows, loss->cols);
  /* probe: ℓ quadratic ⇒ ∇ℓ(0) and ∇²ℓ[E_k] determine it; the instance has
   * ∇²ℓ = h·diag(0, 1, 1, 1) (entries w11, w21, w12, w22) and ∇ℓ(0) = −h (0, b2, b1, 0) */
  double Z[4] = {0}, g[4], H[4][4], l0;
  int st = dln_loss_eval(loss, Z, &l0, g);
  for (int k = 0; k < 4 && !st; ++k) {
    double E[4] = {0};
    E[k] = 1;
    st = dln_loss_hvp(loss, Z, E, H[k]);
  }
  if (st) return st;
  double hh = H[1][1], sc = 0, off = 0;
  for (int k = 0; k < 4; ++k)
    for (int i = 0; i < 4; ++i) sc = fmax(sc, fabs(H[k][i]));
  for (int k = 0; k < 4; ++k)
    for (int i = 0; i < 4; ++i) {
      double want = (k == i && k > 0) ? hh : 0.0;
      off = fmax(off, fabs(H[k][i] - want));
    }
  double eps = 1e3 * DBL_EPSILON * fmax(sc, DBL_MIN);
  if (!(hh > 0) || off > eps || fabs(g[0]) > eps * (1 + fabs(l0)) || fabs(g[3]) > eps * (1 + fabs(l0)))
    return dln_error(DLN_ENOTAPPLICABLE,
                     "not applicable: 002 Prop. 5: the instance l = h/2 [(w12 - b1)^2 + (w21 - b2)^2 + w22^2] (A = e1e2^T, e2e1^T, e2e2^T) fails (Hessian deviation %.3g, h = %.3g)",
                     off, hh);
  double c1 = -g[2] / hh, c2 = -g[1] / hh, lst = l0 - 0.5 * hh * (c1 * c1 + c2 * c2);
  if (fabs(lst) > eps * (1 + fabs(l0)))
    return dln_error(DLN_ENOTAPPLICABLE, "not applicable: 002 Prop. 5: attainable l* = 0 fails (l* = %.3g)", lst);
  if (!(c1 != 0 && c2 != 0))
    return dln_error(DLN_ENOTAPPLICABLE, "not applicable: 002 Prop. 5: b1 b2 != 0 fails (b1 = %g, b2 = %g)", c1, c2);
  if (b1) *b1 = c1;
  if (b2) *b2 = c2;
  if (h) *h = hh;
  return DLN_OK;
}

double dln_theory_prop5_bound(double b1, double b2, double h, double ell) {
  if (!(h > 0) || !(ell >= 0) || !isfinite(b1) || !isfinite(b2)) return NAN;
  double e = sqrt(2 * ell / h);
  if (!(e < fmin(fabs(b1), fabs(b2))) || e == 0) return NAN;
  return (fabs(b1) - e) * (fabs(b2) - e) / e;
}

int dln_bound_norm_divergence(dln_net *net, dln_loss *loss, const double *theta0, size_t n, const double *ell,
                              const double *norm, double tol, dln_verdict *v) {
  DLN_ARGS(v);
  memset(v, 0, sizeof *v);
  v->result = "norm divergence";
  v->source = "002 Prop. 5 / Ex. 4";
  v->bound = v->measured = v->margin = NAN;
  DLN_ARGS(net, loss, theta0);
  if (n > 0) DLN_ARGS(ell, norm);
  double b1, b2, h, W[4];
  int st = dln_theory_prop5_instance(loss, &b1, &b2, &h);
  if (st) return st;
  if (net->tied) return dln_error(DLN_ENOTAPPLICABLE, "not applicable: 002 Prop. 5: untied network fails (tied)");
  if ((st = dln_net_product(net, theta0, W))) return st;
  double det = W[0] * W[3] - W[1] * W[2], s = b1 * b2 > 0 ? 1 : -1;
  double fl = 1e3 * DBL_EPSILON * (W[0] * W[0] + W[1] * W[1] + W[2] * W[2] + W[3] * W[3]);
  v->source = s > 0 ? "002 Prop. 5" : "002 Ex. 4";
  if (!(s * det > fl))
    return dln_error(DLN_ENOTAPPLICABLE, "not applicable: %s: sign det W(0) = sign(b1 b2) = %+d fails (det W(0) = %.3g)", v->source,
                     (int)s, det);
  snprintf(v->hypotheses, sizeof v->hypotheses, "2x2 instance b1 = %.4g, b2 = %.4g, h = %.4g; det W(0) = %.4g (sign of b1 b2)", b1, b2, h, det);
  /* the tightest sample: smallest norm/bound */
  double worst = INFINITY;
  size_t used = 0, bad = 0;
  for (size_t i = 0; i < n; ++i) {
    double bd = dln_theory_prop5_bound(b1, b2, h, ell[i]);
    if (isnan(bd)) continue;
    ++used;
    if (!(norm[i] >= bd * (1 - tol) - tol)) ++bad;
    double q = norm[i] / bd;
    if (!(q >= worst)) worst = q, v->bound = bd, v->measured = norm[i];
  }
  if (!used)
    return dln_error(DLN_ENOTAPPLICABLE, "not applicable: %s: a state with sqrt(2 l/h) < min(|b1|, |b2|) fails (%zu states)", v->source, n);
  v->applicable = 1;
  v->holds = bad == 0;
  v->margin = v->measured - v->bound;
  snprintf(v->message, sizeof v->message, "%s at %zu of %zu states: tightest |W| = %.6g vs (|b1| - e)(|b2| - e)/e = %.6g",
           v->holds ? "holds" : "VIOLATED", used - bad, used, v->measured, v->bound);
  return DLN_OK;
}
