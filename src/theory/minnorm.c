/* Distance of a depth-2 regression network to the minimum-norm solution (dln/theory.h):
 * 003 (Min, Tarmoun, Vidal, Mallada) §3, Lemma 1 eq. 17–19, Theorem 2 eq. 20, Fig. 1.
 *
 * dln's convention (docs/conventions.md): W_1 = U^T (h x d_0), W_2 = V (m x h), W = V U^T,
 * ℓ(W) = ½‖W X − Y‖² with X (d_0 x n) = 003's X^T; Θ̂ = loss->wstar (m x d_0) = 003's Θ̂^T.
 * Φ_1 (d_0 x r) spans col X, Φ_2 its complement; U_1 = Φ_1^T U, U_2 = Φ_2^T U.
 *
 * The deterministic core of Theorem 2 (its proof's two ingredients, 003 eq. 16 and eq. 10):
 *   Z = [V U_2^T; U_1 U_2^T] obeys Ż = A(t) Z with ‖A‖_2 = ‖Σ_x^{1/2} E‖_2 ≤ √λ_1 ‖E‖_F
 *   (eq. 16), and ‖E(t)‖_F = √(2(L − L*)) ≤ e^{−λ_r c t} ‖E(0)‖_F (Theorem 1, eq. 10), so by
 *   Grönwall ‖Z(t)‖_F ≤ ‖Z(0)‖_F exp(√λ_1 ‖E(0)‖_F (1 − e^{−λ_r c t}) / (λ_r c)).
 *   With W − Θ̂ = (W − Θ̂)Φ_1Φ_1^T + V U_2^T Φ_2^T and (W − Θ̂)Φ_1 = (Σ_x^{−1/2} E)^T:
 *     ‖W(t) − Θ̂‖_F ≤ ‖Z(t)‖_F + e^{−λ_r c t} ‖E(0)‖_F / √λ_r  =: B(t).
 *   Lemma 1 turns ‖Z(0)‖ (eq. 18), c (eq. 17) and ‖E(0)‖ (via eq. 19) into the width
 *   bound eq. 20 with probability 1 − δ; B(t) needs no probability and no h_0. */
#include "dln/theory.h"

#include <cblas.h>
#include <float.h>
#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "dln/bias.h"
#include "dln/error.h"

/* Φ_1 (d0 x r) and Φ_2 (d0 x (d0 − r)) of X in one d0 x d0 array; λ_1, λ_r of Σ_x = X X^T. */
static int design_basis(const dln_mat *X, double *phi, int *r, double *l1, double *lr) {
  int d0 = X->rows, n = X->cols, k = d0 < n ? d0 : n;
  double *a = dln_dalloc((size_t)d0 * (size_t)(n > 0 ? n : 1)), *s = dln_dalloc((size_t)k + 1),
         *sup = dln_dalloc((size_t)k + 1), vt1;
  int st = DLN_OK;
  *r = 0;
  if (!a || !s || !sup) st = dln_error(DLN_ENOMEM, "out of memory in the SVD of X (%dx%d)", d0, n);
  if (!st && n > 0) {
    memcpy(a, X->data, (size_t)d0 * (size_t)n * sizeof *a);
    lapack_int info = LAPACKE_dgesvd(LAPACK_COL_MAJOR, 'A', 'N', d0, n, a, d0, s, phi, d0, &vt1, 1, sup);
    if (info) st = dln_error(DLN_ELAPACK, "003 Theorem 2: dgesvd of X (%dx%d) returned info %d", d0, n, (int)info);
    /* the same rank rule as dln_theory_imbalance_c and dln_orth_alloc */
    double thr = (d0 > n ? d0 : n) * DBL_EPSILON * s[0];
    while (!st && *r < k && s[*r] > thr) ++*r;
  }
  if (!st && *r == 0) st = dln_error(DLN_ENOTAPPLICABLE, "not applicable: 003 Theorem 2: X != 0 fails (rank 0)");
  if (!st) *l1 = s[0] * s[0], *lr = s[*r - 1] * s[*r - 1];
  free(a), free(s), free(sup);
  return st;
}

int dln_theory_minnorm_split(const dln_loss *loss, const double *W, double *in_span, double *out_span) {
  DLN_ARGS(loss, W);
  if (!dln_loss_has(loss, DLN_LOSS_LSQ_DESIGN | DLN_LOSS_HAS_REF) || !loss->wstar || !loss->design)
    return dln_error(DLN_ENOTAPPLICABLE, "not applicable: 003 Fig. 1: regression loss with its min-norm solution fails (loss %s)",
                     dln_loss_name(loss));
  const dln_mat *X = loss->design;
  int m = loss->rows, d0 = loss->cols, r = 0;
  double l1, lr, *phi = dln_dalloc((size_t)d0 * d0), *D = dln_dalloc((size_t)m * d0), *P = dln_dalloc((size_t)m * d0);
  int st = phi && D && P ? DLN_OK : dln_error(DLN_ENOMEM, "out of memory in dln_theory_minnorm_split");
  if (!st) st = design_basis(X, phi, &r, &l1, &lr);
  if (!st) {
    for (size_t i = 0; i < (size_t)m * d0; ++i) D[i] = W[i] - loss->wstar[i];
    /* (W − Θ̂)Φ_1 (m x r) and (W − Θ̂)Φ_2 (m x (d0 − r)): Φ orthonormal, so ‖·Φ_kΦ_k^T‖ = ‖·Φ_k‖ */
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, m, d0, d0, 1.0, D, m, phi, d0, 0.0, P, m);
    if (in_span) *in_span = dln_norm2((size_t)m * r, P);
    if (out_span) *out_span = dln_norm2((size_t)m * (size_t)(d0 - r), P + (size_t)m * r);
  }
  free(phi), free(D), free(P);
  return st;
}

int dln_theory_minnorm_setup(dln_net *net, dln_loss *loss, const double *theta0, dln_minnorm *out) {
  DLN_ARGS(net, loss, theta0, out);
  memset(out, 0, sizeof *out);
  if (net->depth != 2 || net->tied)
    return dln_error(DLN_ENOTAPPLICABLE, "not applicable: 003 Theorem 2: untied depth-2 network fails (depth %d%s)", net->depth,
                     net->tied ? ", tied" : "");
  if (!dln_loss_has(loss, DLN_LOSS_LSQ_DESIGN | DLN_LOSS_HAS_REF) || !loss->wstar || !isfinite(loss->lstar))
    return dln_error(DLN_ENOTAPPLICABLE, "not applicable: 003 Theorem 2: regression loss 1/2||W X - Y||^2 with L* and min-norm solution fails (loss %s)",
                     dln_loss_name(loss));
  const dln_mat *X = dln_loss_design(loss);
  int m = loss->rows, d0 = loss->cols, r;
  double *phi = dln_dalloc((size_t)d0 * d0), *W = dln_dalloc((size_t)m * d0), *zero = dln_dalloc((size_t)m * d0);
  dln_orth *o = NULL;
  int st = phi && W && zero ? DLN_OK : dln_error(DLN_ENOMEM, "out of memory in dln_theory_minnorm_setup");
  if (!st) st = design_basis(X, phi, &r, &out->lambda1, &out->lambdar);
  if (!st) st = dln_theory_imbalance_c(net, X, theta0, &out->c, NULL, NULL, NULL, NULL);
  if (!st) st = dln_orth_alloc(&o, net, X);
  double vu2 = 0, u1u2 = 0, phi0 = 0, y2 = 0;
  if (!st) st = dln_orth_eval(o, theta0, &vu2, &u1u2, NULL);
  if (!st) st = dln_net_grad(net, loss, theta0, &phi0, NULL, W);
  if (!st) st = dln_loss_eval(loss, zero, &y2, NULL); /* ℓ(0) = ½‖Y‖² */
  double in_span = 0;
  if (!st) st = dln_theory_minnorm_split(loss, W, &in_span, &out->fig1);
  if (!st) {
    out->rank = r;
    out->z0 = hypot(vu2, u1u2);
    out->e0 = sqrt(fmax(0.0, 2 * (phi0 - loss->lstar)));
    out->yfro = sqrt(fmax(0.0, 2 * y2));
    /* ‖U_1(0)V(0)^T‖ = ‖W(0)Φ_1‖ (eq. 19) */
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, m, r, d0, 1.0, W, m, phi, d0, 0.0, zero, m);
    out->u1v0 = dln_norm2((size_t)m * r, zero);
    out->width = net->widths[1];
    out->d0 = d0;
    out->m = m;
  }
  dln_orth_free(o);
  free(phi), free(W), free(zero);
  return st;
}

double dln_theory_minnorm_bound_at(const dln_minnorm *b, double t) {
  DLN_ARGS_V(NAN, b);
  if (!(t >= 0)) return NAN;
  double k = b->lambdar * b->c; /* ‖E(t)‖ ≤ e^{−k t}‖E(0)‖ */
  if (!(k > 0) || !(b->lambdar > 0)) return NAN;
  double grow = sqrt(b->lambda1) * b->e0 * (-expm1(-k * t)) / k;
  return b->z0 * exp(grow) + exp(-k * t) * b->e0 / sqrt(b->lambdar);
}

int dln_theory_003_lemma1(int m, int D, int r, int h, double alpha, double delta, double *eq17, double *eq18,
                          double *eq19) {
  if (m < 1 || D < 1 || r < 1 || r > D || h < 1)
    return dln_error(DLN_EINVAL, "dln_theory_003_lemma1: expected m, D, h >= 1 and 1 <= r <= D, found m = %d, D = %d, r = %d, h = %d",
                     m, D, r, h);
  if (!(alpha > 0.25 && alpha <= 0.5))
    return dln_error(DLN_ENOTAPPLICABLE, "not applicable: 003 Lemma 1: 1/4 < alpha <= 1/2 fails (alpha = %g)", alpha);
  if (!(delta > 0 && delta < 1)) return dln_error(DLN_EINVAL, "dln_theory_003_lemma1: delta: expected in (0, 1), found %g", delta);
  double num = sqrt((double)m + D) + 0.5 * log(2 / delta), den = pow(h, 2 * alpha - 0.5);
  if (eq17) *eq17 = pow(h, 1 - 2 * alpha);                 /* c > h^{1−2α} */
  if (eq18) *eq18 = 2 * sqrt((double)m + r) * num / den;   /* ‖Z(0)‖_F ≤ … */
  if (eq19) *eq19 = 2 * sqrt((double)m) * num / den;       /* ‖U_1(0)V(0)^T‖_F ≤ … */
  return DLN_OK;
}

int dln_theory_003_eq20(const dln_minnorm *b, double alpha, double delta, double *rhs) {
  DLN_ARGS(b, rhs);
  double e18 = NAN;
  int st = dln_theory_003_lemma1(b->m, b->d0, b->rank, b->width, alpha, delta, NULL, &e18, NULL);
  if (st) return st;
  /* C = exp(1 + λ_1^{1/2}/λ_r ‖Y‖_F); the bound is 2 C^{1/h^{1−2α}} √(m+r)(…)/h^{2α−1/2} = C^{…} eq. 18 */
  double logC = 1 + sqrt(b->lambda1) / b->lambdar * b->yfro;
  *rhs = exp(logC / pow(b->width, 1 - 2 * alpha)) * e18;
  return DLN_OK;
}

/* eq. 16 by Grönwall along a recorded loss curve: ∫_0^T ‖E‖ ≤ Σ (t_{i+1} − t_i) ‖E(t_i)‖ (left sum: L is
 * non-increasing under gradient flow), ‖E‖ = √(2(L − L*)); the Φ_1 part from the last sample. */
static double traj_bound(const dln_minnorm *b, double lstar, const dln_curve *c, double T) {
  if (!c || c->n < 2) return INFINITY;
  double integ = 0, e = 0;
  size_t i = 0;
  for (; i + 1 < c->n && c->t[(i + 1) * c->stride] <= T; ++i) {
    e = sqrt(fmax(0.0, 2 * (c->y[i * c->stride] - lstar)));
    integ += (c->t[(i + 1) * c->stride] - c->t[i * c->stride]) * e;
  }
  e = sqrt(fmax(0.0, 2 * (c->y[i * c->stride] - lstar)));
  if (!isfinite(integ) || !isfinite(e) || fabs(c->t[i * c->stride] - T) > 1e-9 * fmax(1.0, T)) return INFINITY;
  return b->z0 * exp(sqrt(b->lambda1) * integ) + e / sqrt(b->lambdar);
}

int dln_bound_minnorm(dln_net *net, dln_loss *loss, const double *theta0, const double *theta, double t,
                      const dln_curve *traj, double tol, dln_verdict *v) {
  DLN_ARGS(v);
  memset(v, 0, sizeof *v);
  v->result = "distance to the min-norm solution";
  v->source = "003 Thm 2 (eq. 16 + eq. 10)";
  v->bound = v->measured = v->margin = NAN;
  DLN_ARGS(net, loss, theta0, theta);
  if (!(t >= 0)) return dln_error(DLN_EINVAL, "dln_bound_minnorm: t: expected >= 0, found %g", t);
  dln_minnorm b;
  int st = dln_theory_minnorm_setup(net, loss, theta0, &b);
  if (!st && !(b.c > 0)) st = dln_error(DLN_ENOTAPPLICABLE, "not applicable: 003 Theorem 1: c > 0 (sufficient imbalance) fails (c = %.3g)", b.c);
  if (st) {
    if (st == DLN_ENOTAPPLICABLE) snprintf(v->message, sizeof v->message, "%s", dln_last_error());
    return st;
  }
  int m = loss->rows, d0 = loss->cols;
  double *W = dln_dalloc((size_t)m * d0);
  if (!W) return dln_error(DLN_ENOMEM, "out of memory in dln_bound_minnorm");
  st = dln_net_product(net, theta, W);
  double d2 = 0;
  for (size_t i = 0; !st && i < (size_t)m * d0; ++i) d2 += (W[i] - loss->wstar[i]) * (W[i] - loss->wstar[i]);
  free(W);
  if (st) return st;
  v->applicable = 1;
  double bt = dln_theory_minnorm_bound_at(&b, t), bm = traj_bound(&b, loss->lstar, traj, t);
  v->bound = fmin(bt, bm);
  v->measured = sqrt(d2);
  v->margin = v->bound - v->measured;
  snprintf(v->hypotheses, sizeof v->hypotheses,
           "depth 2, regression, rank X = %d (d_0 = %d), c = %.4g > 0, |Z(0)| = %.4g, |E(0)| = %.4g, lambda_1 = %.4g, lambda_r = %.4g; "
           "Fig. 1 |U2(0)V(0)^T| = %.4g",
           b.rank, b.d0, b.c, b.z0, b.e0, b.lambda1, b.lambdar, b.fig1);
  /* scale of W: ‖Θ̂‖ + ‖E(0)‖/√λ_r; the run's accuracy enters through tol */
  double scale = dln_norm2((size_t)m * d0, loss->wstar) + b.e0 / sqrt(b.lambdar);
  v->holds = v->measured <= v->bound * (1 + tol) + tol * scale;
  snprintf(v->message, sizeof v->message, "%s: |W(t) - Theta_hat|_F = %.6g %s %.6g (t = %.4g; from theta(0) %.4g, along the loss curve %.4g; t = inf %.4g)",
           v->holds ? "holds" : "VIOLATED", v->measured, v->holds ? "<=" : ">", v->bound, t, bt, bm, dln_theory_minnorm_bound_at(&b, INFINITY));
  return DLN_OK;
}
