/* Bounds and rates with a verdict (docs/theory.md):
 *   000 (de Oliveira–Siami–Sontag) Theorem 1, eq. 11 — dissipation inequality;
 *   003 (Min et al.) Theorem 1, eq. 10 — exponential rate from the imbalance;
 *   004 (Chitour et al.) Proposition 2 — pyramidal networks;
 *   002 (Cohen–Razin) Definition 3 / Theorem 2 — deficiency margin and time to ε;
 *       Remark 2 — step-size and unbalancedness conditions for gradient descent;
 *   001 (Tarmoun et al.) Proposition 3, eq. 23 — per-component rates √(4σ_i² + λ0_i²).
 * Conventions: dln's (docs/conventions.md); each function converts from its paper. */
#include "dln/theory.h"

#include <cblas.h>
#include <float.h>
#include <lapacke.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "dln/error.h"

/* ------------------------------------------------------------------ helpers */

/* The factorization loss ½‖W − Ȳ‖² with its target Ȳ = loss->wstar (001 eq. 2; 002 Ex. 1; 004). */
static int is_identity(const dln_loss *loss) { return dln_loss_has(loss, DLN_LOSS_IDENTITY) && loss->wstar; }

static void verdict_init(dln_verdict *v, const char *result, const char *source) {
  memset(v, 0, sizeof *v);
  v->result = result;
  v->source = source;
  v->bound = v->measured = v->margin = NAN;
}

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static void hyp_add(dln_verdict *v, int ok, const char *fmt, ...) {
  char buf[128];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  size_t len = strlen(v->hypotheses);
  snprintf(v->hypotheses + len, sizeof v->hypotheses - len, "%s%s [%s]", len ? "; " : "", buf, ok ? "ok" : "FAILS");
}

/* Refuse: fill the verdict and record "not applicable: <hyp> fails (<measured>)". */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static int refuse(dln_verdict *v, const char *hyp, const char *fmt, ...) {
  char buf[128];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  v->applicable = 0;
  v->holds = 0;
  snprintf(v->message, sizeof v->message, "not applicable: %s fails (%s)", hyp, buf);
  return dln_error(DLN_ENOTAPPLICABLE, "%s", v->message);
}

static double curve_t(const dln_curve *c, size_t i) { return c->t[i * c->stride]; }
static double curve_y(const dln_curve *c, size_t i) { return c->y[i * c->stride]; }

void dln_curve_arrays(dln_curve *c, size_t n, const double *t, const double *y) {
  if (!c || (n > 0 && (!t || !y))) {
    if (c) c->n = 0, c->stride = 1, c->t = c->y = NULL;
    dln_args_error(__func__, "c, t, y", !c ? 0 : !t ? 1 : 2);
    return;
  }
  c->n = n;
  c->stride = 1;
  c->t = t;
  c->y = y;
}

int dln_curve_from_table(dln_curve *c, const dln_table *tab, const char *col) {
  if (!c || !tab || !col) return dln_error(DLN_EINVAL, "dln_curve_from_table: NULL argument");
  int ct = dln_table_col(tab, "t"), cy = dln_table_col(tab, col);
  if (ct < 0 || cy < 0)
    return dln_error(DLN_EINVAL, "dln_curve_from_table: the table has no column '%s'", ct < 0 ? "t" : col);
  c->n = tab->nrows;
  c->stride = (size_t)tab->ncols;
  c->t = tab->data + ct;
  c->y = tab->data + cy;
  return DLN_OK;
}

int dln_fit_rate(const dln_curve *c, double lo, double hi, double *rate, int *npoints) {
  if (!c || !rate) return dln_error(DLN_EINVAL, "dln_fit_rate: NULL argument");
  if (c->n > 0) DLN_ARGS(c->t, c->y);
  double st = 0, sy = 0, stt = 0, sty = 0;
  int k = 0;
  for (size_t i = 0; i < c->n; ++i) {
    double t = curve_t(c, i), y = curve_y(c, i);
    if (!(y > 0) || !(y >= lo) || !(y <= hi) || !isfinite(t)) continue;
    double ly = log(y);
    st += t, sy += ly, stt += t * t, sty += t * ly;
    ++k;
  }
  if (npoints) *npoints = k;
  double den = k * stt - st * st;
  if (k < 3 || !(den > 0))
    return dln_error(DLN_EINVAL, "dln_fit_rate: %d samples in [%g, %g], expected at least 3 at distinct times", k, lo, hi);
  *rate = -(k * sty - st * sy) / den;
  return DLN_OK;
}

/* Compare gap(t) = y(t) − ystar with amp·e^{−rate t}. Holds when every sample has
 * gap ≤ amp e^{−rate t}(1 + tol) + tol·y(0). measured = the slowest average rate
 * −ln(gap/amp)/t over samples with t > 0 and gap above the floor tol·y(0). */
static int rate_check(const dln_curve *c, double ystar, double amp, double rate, double tol, dln_verdict *v,
                      double *worst_t) {
  if (!c || c->n < 2 || !c->t || !c->y) return dln_error(DLN_EINVAL, "%s: expected a trajectory with >= 2 samples", v->result);
  if (fabs(curve_t(c, 0)) > 1e-12 * fmax(1.0, fabs(curve_t(c, c->n - 1))))
    return dln_error(DLN_EINVAL, "%s: the trajectory must start at t = 0, found t_0 = %g", v->result, curve_t(c, 0));
  double y0 = fabs(curve_y(c, 0)), floor = tol * y0, meas = INFINITY, worst = -INFINITY;
  int holds = 1;
  size_t nbad = 0;
  *worst_t = NAN;
  for (size_t i = 1; i < c->n; ++i) {
    double t = curve_t(c, i), gap = curve_y(c, i) - ystar, env = amp * exp(-rate * t);
    if (!isfinite(gap)) {
      holds = 0;
      ++nbad;
      continue;
    }
    if (gap > env * (1 + tol) + floor) {
      holds = 0;
      ++nbad;
    }
    double excess = (gap - env) / fmax(amp, DBL_MIN);
    if (excess > worst) worst = excess, *worst_t = t;
    if (t > 0 && gap > floor && amp > 0) meas = fmin(meas, -log(gap / amp) / t);
  }
  v->applicable = 1;
  v->bound = rate;
  v->measured = meas;
  v->margin = meas - rate;
  v->holds = holds;
  if (holds)
    snprintf(v->message, sizeof v->message, "holds: slowest observed rate %.6g >= guaranteed %.6g (margin %.3g)", meas, rate,
             meas - rate);
  else
    snprintf(v->message, sizeof v->message,
             "VIOLATED at %zu samples: largest excess (gap - bound)/amp = %.3g at t = %.6g; slowest rate %.6g < %.6g", nbad,
             worst, *worst_t, meas, rate);
  return DLN_OK;
}

/* Eigenvalues (ascending) of a symmetric q x q matrix, overwriting S. */
static int sym_eigvals(int q, double *S, double *ev) {
  lapack_int info = LAPACKE_dsyev(LAPACK_COL_MAJOR, 'N', 'U', q, S, q, ev);
  return info ? dln_error(DLN_ELAPACK, "theory: dsyev failed (info %d)", (int)info) : DLN_OK;
}

/* Λ = W_1 P W_1^T − W_2^T W_2 = B^T J B with B = [P W_1^T; W_2] ((d_0 + m) x h; P a projector,
 * so P = P^T P) and J = diag(I_{d_0}, −I_m). Its nonzero eigenvalues are those of
 * G^{1/2} J G^{1/2}, G = B B^T (q x q, q = d_0 + m < h); the other h − q are 0. All h,
 * ascending, into ev. T: h x d_0 scratch. Allocates O(q² + q h). */
static int lambda_eigs_wide(const dln_net *net, const double *theta, const double *P, double *T, double *ev) {
  int d0 = net->widths[0], h = net->widths[1], m = net->widths[2], q = d0 + m, st = DLN_OK;
  const double *W1 = theta + net->offset[1], *W2 = theta + net->offset[2];
  double *B = dln_dalloc((size_t)q * h), *G = dln_dalloc((size_t)q * q), *S = dln_dalloc((size_t)q * q),
         *g = dln_dalloc((size_t)q);
  if (!B || !G || !S || !g) st = dln_error(DLN_ENOMEM, "out of memory in dln_theory_imbalance_c (h = %d)", h);
  if (!st) {
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, h, d0, d0, 1.0, W1, h, P, d0, 0.0, T, h); /* W_1 P */
    for (int j = 0; j < h; ++j) {
      for (int i = 0; i < d0; ++i) B[i + (size_t)j * q] = T[j + (size_t)i * h];
      for (int i = 0; i < m; ++i) B[d0 + i + (size_t)j * q] = W2[i + (size_t)j * m];
    }
    cblas_dsyrk(CblasColMajor, CblasUpper, CblasNoTrans, q, h, 1.0, B, q, 0.0, G, q);
    lapack_int info = LAPACKE_dsyev(LAPACK_COL_MAJOR, 'V', 'U', q, G, q, g); /* G = E diag(g) E^T */
    if (info) st = dln_error(DLN_ELAPACK, "theory: dsyev failed (info %d)", (int)info);
  }
  if (!st) {
    for (int k = 0; k < q; ++k) g[k] = sqrt(fmax(g[k], 0.0));
    for (int i = 0; i < q; ++i) /* S = G^{1/2} J G^{1/2} = Σ_k J_kk (G^{1/2} e_k)(G^{1/2} e_k)^T */
      for (int j = 0; j <= i; ++j) {
        double acc = 0;
        for (int k = 0; k < q; ++k) {
          double ri = 0, rj = 0; /* (G^{1/2})_{ik} = Σ_l E_il g_l E_kl */
          for (int l = 0; l < q; ++l) ri += G[i + l * q] * g[l] * G[k + l * q], rj += G[j + l * q] * g[l] * G[k + l * q];
          acc += (k < d0 ? 1.0 : -1.0) * ri * rj;
        }
        S[i + j * q] = S[j + i * q] = acc;
      }
    st = sym_eigvals(q, S, g);
  }
  if (!st) { /* ascending: the negative ones, h − q zeros, the rest */
    int nneg = 0;
    while (nneg < q && g[nneg] < 0) ++nneg;
    for (int k = 0; k < h; ++k) ev[k] = k < nneg ? g[k] : k < h - q + nneg ? 0.0 : g[k - (h - q)];
  }
  free(B), free(G), free(S), free(g);
  return st;
}

/* ------------------------------------------------------------------ 003 Theorem 1 */

int dln_theory_imbalance_c(const dln_net *net, const dln_mat *X, const double *theta, double *c, double *lr,
                           double *lm, double *sx_r, int *rank) {
  if (!net || !theta) return dln_error(DLN_EINVAL, "dln_theory_imbalance_c: NULL argument");
  if (net->depth != 2 || net->tied)
    return dln_error(DLN_ENOTAPPLICABLE, "not applicable: 003 Theorem 1: untied depth-2 network fails (depth %d, tied %d)",
                     net->depth, net->tied);
  int d0 = net->widths[0], h = net->widths[1], m = net->widths[2], r = d0;
  if (X && X->rows != d0) return dln_error(DLN_EDIM, "003 Theorem 1: X has %d rows, expected d_0 = %d", X->rows, d0);
  size_t dd = (size_t)d0 * d0;
  int ns = X ? X->cols : 0, p = X ? (d0 < ns ? d0 : ns) : 0, st = DLN_OK;
  double *P = dln_dalloc(dd), *L = NULL, *T = dln_dalloc((size_t)h * d0), *ev = dln_dalloc((size_t)h);
  double *a = X ? dln_dalloc((size_t)d0 * ns) : NULL, *s = X ? dln_dalloc((size_t)p + 1) : NULL, *Uq = X ? dln_dalloc((size_t)d0 * p) : NULL;
  double *sup = X ? dln_dalloc((size_t)p + 1) : NULL, sxr = 1.0;
  if (!P || !T || !ev || (X && (!a || !s || !Uq || !sup))) {
    st = dln_error(DLN_ENOMEM, "out of memory in dln_theory_imbalance_c");
    goto done;
  }
  if (X) { /* X = U_X S V^T: P_X = U_r U_r^T, Σ_x = S_r² */
    memcpy(a, X->data, (size_t)d0 * ns * sizeof(double));
    lapack_int info = LAPACKE_dgesvd(LAPACK_COL_MAJOR, 'S', 'N', d0, ns, a, d0, s, Uq, d0, NULL, 1, sup);
    if (info) {
      st = dln_error(DLN_ELAPACK, "003 Theorem 1: dgesvd failed (info %d)", (int)info);
      goto done;
    }
    double thr = (d0 > ns ? d0 : ns) * DBL_EPSILON * s[0];
    r = 0;
    while (r < p && s[r] > thr) ++r;
    if (r == 0) {
      st = dln_error(DLN_ENOTAPPLICABLE, "not applicable: 003 Theorem 1: X != 0 fails (rank 0)");
      goto done;
    }
    sxr = s[r - 1] * s[r - 1];
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, d0, d0, r, 1.0, Uq, d0, Uq, d0, 0.0, P, d0);
  } else {
    for (int i = 0; i < d0; ++i) P[i + (size_t)i * d0] = 1.0;
  }
  if (h > d0 + m) { /* wide: Λ's spectrum from a (d_0 + m) x (d_0 + m) problem, not h x h */
    if ((st = lambda_eigs_wide(net, theta, P, T, ev))) goto done;
  } else {
    const double *W1 = theta + net->offset[1], *W2 = theta + net->offset[2];
    /* Λ = W_1 P W_1^T − W_2^T W_2 (003 eq. 9 with U = W_1^T, V = W_2, U_1 = Φ_1^T U) */
    L = dln_dalloc((size_t)h * h);
    if (!L) {
      st = dln_error(DLN_ENOMEM, "out of memory in dln_theory_imbalance_c (h = %d)", h);
      goto done;
    }
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, h, d0, d0, 1.0, W1, h, P, d0, 0.0, T, h);
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, h, h, d0, 1.0, T, h, W1, h, 0.0, L, h);
    cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, h, h, m, -1.0, W2, m, W2, m, 1.0, L, h);
    if ((st = sym_eigvals(h, L, ev))) goto done;
  }
  {
    double l_r = h >= r ? ev[h - r] : 0.0;  /* r-th largest of Λ */
    double l_m = h >= m ? -ev[m - 1] : 0.0; /* m-th largest of −Λ */
    /* eigenvalues at the round-off level of Λ are zero: they must not make c > 0 */
    double noise = 64.0 * DBL_EPSILON * h * fmax(fabs(ev[0]), fabs(ev[h - 1]));
    if (fabs(l_r) <= noise) l_r = 0.0;
    if (fabs(l_m) <= noise) l_m = 0.0;
    if (c) *c = fmax(l_r, 0.0) + fmax(l_m, 0.0);
    if (lr) *lr = l_r;
    if (lm) *lm = l_m;
    if (sx_r) *sx_r = sxr;
    if (rank) *rank = r;
  }
done:
  free(P), free(L), free(T), free(ev), free(a), free(s), free(Uq), free(sup);
  return st;
}

/* Hypotheses and rate of 003 Theorem 1 (shared by the bound and its rate getter). */
static int imbalance_setup(const dln_net *net, const dln_loss *loss, const dln_mat *X, const double *theta0,
                           dln_verdict *v, double *rate) {
  const int lsq = dln_loss_has(loss, DLN_LOSS_LSQ_DESIGN);
  if (lsq && !X) X = dln_loss_design(loss); /* the loss's own design when the caller gives none */
  if (lsq && !X) return dln_error(DLN_EINVAL, "003 Theorem 1: a regression loss needs its data X");
  if (!lsq && !dln_loss_has(loss, DLN_LOSS_IDENTITY))
    return refuse(v, "003 Theorem 1: square loss (regression or factorization)", "loss %s", dln_loss_name(loss));
  if (!lsq && X) return dln_error(DLN_EINVAL, "003 Theorem 1: pass X = NULL for a factorization loss");
  if (net->depth != 2 || net->tied) return refuse(v, "003 Theorem 1: untied depth-2 network", "depth %d, tied %d", net->depth, net->tied);
  double c, lr, lm, sxr;
  int r;
  int st = dln_theory_imbalance_c(net, X, theta0, &c, &lr, &lm, &sxr, &r);
  if (st) return st;
  hyp_add(v, 1, "depth 2, rank X = %d, lambda_r(Sigma_x) = %.4g", r, sxr);
  hyp_add(v, c > 0, "c = [lambda_r(Lambda0)]_+ + [lambda_m(-Lambda0)]_+ = %.4g + %.4g > 0", fmax(lr, 0), fmax(lm, 0));
  /* c at rounding level of ‖θ(0)‖² (a balanced θ(0) computed in floating point) counts as 0 */
  double th2 = dln_norm2(net->nparams, theta0);
  if (!(c > 1e-12 * th2 * th2)) return refuse(v, "003 Theorem 1: c > 0 (sufficient imbalance)", "c = %.3g", c);
  if (!isfinite(loss->lstar)) return refuse(v, "003 Theorem 1: known L*", "L* = %g", loss->lstar);
  *rate = 2 * sxr * c;
  return DLN_OK;
}

int dln_bound_imbalance_rate(const dln_net *net, const dln_loss *loss, const dln_mat *X, const double *theta0,
                             const dln_curve *traj, double tol, dln_verdict *v) {
  if (!v) return dln_error(DLN_EINVAL, "dln_bound_imbalance_rate: verdict is NULL");
  verdict_init(v, "exponential rate from imbalance", "003 Theorem 1, eq. 10");
  if (!net || !loss || !theta0 || !traj) return dln_error(DLN_EINVAL, "dln_bound_imbalance_rate: NULL argument");
  double rate, wt;
  int st = imbalance_setup(net, loss, X, theta0, v, &rate);
  if (st) return st;
  return rate_check(traj, loss->lstar, curve_y(traj, 0) - loss->lstar, rate, tol, v, &wt);
}

int dln_bound_rate_imbalance(const dln_net *net, const dln_loss *loss, const dln_mat *X, const double *theta0,
                             double *rate, double *ystar) {
  if (!net || !loss || !theta0 || !rate) return dln_error(DLN_EINVAL, "dln_bound_rate_imbalance: NULL argument");
  dln_verdict v;
  verdict_init(&v, "exponential rate from imbalance", "003 Theorem 1, eq. 10");
  int st = imbalance_setup(net, loss, X, theta0, &v, rate);
  if (!st && ystar) *ystar = loss->lstar;
  return st;
}

/* ------------------------------------------------------------------ 004 Proposition 2 */

/* Hypotheses and rate 2α of 004 Proposition 2. */
static int pyramidal_setup(const dln_net *net, const dln_loss *loss, const double *theta0, dln_verdict *v,
                           double *rate) {
  int N = net->depth;
  const int *d = net->widths;
  if (N < 2 || net->tied) return refuse(v, "004 Prop. 2: untied depth N >= 2", "depth %d, tied %d", N, net->tied);
  if (!dln_loss_has(loss, DLN_LOSS_IDENTITY))
    return refuse(v, "004 Prop. 2: loss 1/2||Sigma_Y - W||^2 (factorization)", "loss %s", dln_loss_name(loss));
  if (d[0] < d[N]) return refuse(v, "004 Assumption 1: d_x >= d_y", "d_0 = %d, d_N = %d", d[0], d[N]);
  for (int l = 1; l < N; ++l)
    if (d[l] < d[l + 1]) return refuse(v, "004 Prop. 2: pyramidal d_1 >= ... >= d_N", "d_%d = %d < d_%d = %d", l, d[l], l + 1, d[l + 1]);
  hyp_add(v, 1, "factorization, pyramidal widths");
  double alpha = 1;
  int st = DLN_OK;
  for (int l = 1; l < N && !st; ++l) {
    int q = d[l];
    double *C = dln_dalloc((size_t)q * q), *ev = dln_dalloc((size_t)q);
    if (!C || !ev) st = dln_error(DLN_ENOMEM, "out of memory in dln_bound_pyramidal");
    if (!st) st = dln_net_conserved(net, theta0, l, C);
    if (!st) st = sym_eigvals(q, C, ev);
    if (!st) {
      double lam = ev[d[l] - d[l + 1]]; /* λ_{d_l − d_{l+1} + 1}, ascending: the d_{l+1}-th largest */
      if (fabs(lam) <= 64.0 * DBL_EPSILON * q * fmax(fabs(ev[0]), fabs(ev[q - 1]))) lam = 0.0; /* round-off */
      hyp_add(v, lam > 0, "C_%d has d_%d = %d positive eigenvalues (%d-th largest %.4g)", l, l + 1, d[l + 1], d[l + 1], lam);
      if (!(lam > 0)) {
        char hyp[96];
        snprintf(hyp, sizeof hyp, "004 Prop. 2: C_%d(0) has at least d_%d positive eigenvalues", l, l + 1);
        st = refuse(v, hyp, "%d-th largest eigenvalue %.3g", d[l + 1], lam);
      }
      alpha *= lam;
    }
    free(C), free(ev);
  }
  if (!st) *rate = 2 * alpha;
  return st;
}

int dln_bound_pyramidal(const dln_net *net, const dln_loss *loss, const double *theta0, const dln_curve *traj,
                        double tol, dln_verdict *v) {
  if (!v) return dln_error(DLN_EINVAL, "dln_bound_pyramidal: verdict is NULL");
  verdict_init(v, "pyramidal exponential rate", "004 Proposition 2");
  if (!net || !loss || !theta0 || !traj) return dln_error(DLN_EINVAL, "dln_bound_pyramidal: NULL argument");
  double rate, wt;
  int st = pyramidal_setup(net, loss, theta0, v, &rate);
  if (st) return st;
  return rate_check(traj, 0.0, curve_y(traj, 0), rate, tol, v, &wt);
}

int dln_bound_rate_pyramidal(const dln_net *net, const dln_loss *loss, const double *theta0, double *rate,
                             double *ystar) {
  if (!net || !loss || !theta0 || !rate) return dln_error(DLN_EINVAL, "dln_bound_rate_pyramidal: NULL argument");
  dln_verdict v;
  verdict_init(&v, "pyramidal exponential rate", "004 Proposition 2");
  int st = pyramidal_setup(net, loss, theta0, &v, rate);
  if (!st && ystar) *ystar = 0.0; /* L(t) <= e^{-2 alpha t} L(0) */
  return st;
}

/* ------------------------------------------------------------------ 002 Theorem 2, Remark 2 */

int dln_theory_deficiency_margin(const dln_loss *loss, const double *W, double *delta) {
  if (!loss || !W || !delta) return dln_error(DLN_EINVAL, "dln_theory_deficiency_margin: NULL argument");
  if (!is_identity(loss))
    return dln_error(DLN_ENOTAPPLICABLE, "not applicable: 002 Example 1: factorization loss fails (loss %s)", dln_loss_name(loss));
  int m = loss->rows, n = loss->cols, p = m < n ? m : n;
  size_t mn = (size_t)m * n;
  double *s = dln_dalloc((size_t)p), *work = dln_dalloc(mn), dist = 0;
  if (!s || !work) {
    free(s), free(work);
    return dln_error(DLN_ENOMEM, "out of memory in dln_theory_deficiency_margin");
  }
  int st = dln_singular_values(m, n, loss->wstar, s, work);
  for (size_t i = 0; i < mn; ++i) dist += (W[i] - loss->wstar[i]) * (W[i] - loss->wstar[i]);
  if (!st) *delta = s[p - 1] - sqrt(dist); /* 002 Example 1 with Exercise 3 */
  free(s), free(work);
  return st;
}

/* Shared checks of 002 Theorem 2 / Remark 2: factorization, W0, δ, unbalancedness. */
static int deficiency_setup(dln_net *net, const dln_loss *loss, const double *theta0, dln_verdict *v, double *delta,
                            double *unbal, double *th2) {
  if (net->tied) return refuse(v, "002 Theorem 2: untied network", "tied %d", net->tied);
  if (!dln_loss_has(loss, DLN_LOSS_IDENTITY))
    return refuse(v, "002 Example 1: strongly convex loss 1/2||W - Lambda_yx||^2 (factorization)", "loss %s", dln_loss_name(loss));
  int m = loss->rows, n = loss->cols;
  double *W = dln_dalloc((size_t)m * n);
  if (!W) return dln_error(DLN_ENOMEM, "out of memory in the 002 bounds");
  int st = dln_net_product(net, theta0, W);
  if (!st) st = dln_theory_deficiency_margin(loss, W, delta);
  free(W);
  if (st) return st;
  *unbal = dln_net_unbalancedness(net, theta0);
  double nt = dln_norm2(net->nparams, theta0);
  *th2 = nt * nt;
  hyp_add(v, *delta > 0, "deficiency margin delta = sigma_min(Y) - ||W0 - Y||_F = %.4g > 0", *delta);
  if (!(*delta > 0)) return refuse(v, "002 Definition 3: deficiency margin delta > 0", "delta = %.3g", *delta);
  return DLN_OK;
}

/* Hypotheses of 002 Theorem 2 and its rate 2 δ^{2(N−1)/N} (α = 1). */
static int deficiency_rate_setup(dln_net *net, const dln_loss *loss, const double *theta0, dln_verdict *v,
                                 double *rate) {
  double delta = 0, u = 0, th2 = 0;
  int st = deficiency_setup(net, loss, theta0, v, &delta, &u, &th2);
  if (st) return st;
  double ub = u / fmax(th2, DBL_MIN);
  hyp_add(v, ub <= DLN_CF_TOL, "balanced: max_j ||C_j||_F/||theta||^2 = %.3g", ub);
  if (!(ub <= DLN_CF_TOL)) return refuse(v, "002 Assumption 1: balanced init", "max_j ||C_j||_F/||theta||^2 = %.3g", ub);
  int N = net->depth;
  *rate = 2 * pow(delta, 2.0 * (N - 1) / N); /* α = 1 */
  return DLN_OK;
}

int dln_bound_deficiency(dln_net *net, const dln_loss *loss, const double *theta0, const dln_curve *traj, double eps,
                         double tol, dln_verdict *v) {
  if (!v) return dln_error(DLN_EINVAL, "dln_bound_deficiency: verdict is NULL");
  verdict_init(v, "deficiency-margin rate and time to eps", "002 Definition 3, Theorem 2");
  if (!net || !loss || !theta0 || !traj) return dln_error(DLN_EINVAL, "dln_bound_deficiency: NULL argument");
  double rate, wt;
  int st = deficiency_rate_setup(net, loss, theta0, v, &rate);
  if (st) return st;
  st = rate_check(traj, loss->lstar, curve_y(traj, 0) - loss->lstar, rate, tol, v, &wt);
  if (st || !(eps > 0)) return st;
  /* time to ε: t_ε = ln((φ(0) − φ*)/ε) / (2 α δ^{2(N−1)/N}) */
  double gap0 = curve_y(traj, 0) - loss->lstar, teps = log(gap0 / eps) / rate, first = NAN;
  int late_ok = 1;
  for (size_t i = 0; i < traj->n; ++i) {
    double t = curve_t(traj, i), gap = curve_y(traj, i) - loss->lstar;
    if (isnan(first) && gap <= eps) first = t;
    if (t >= teps && !(gap <= eps * (1 + tol) + tol * fabs(curve_y(traj, 0)))) late_ok = 0;
  }
  size_t len = strlen(v->message);
  snprintf(v->message + len, sizeof v->message - len, "; t_eps(%.3g) = %.6g, first sample with gap <= eps: %.6g%s", eps,
           teps, first, late_ok ? "" : " — gap > eps after t_eps: VIOLATED");
  if (!late_ok) v->holds = 0;
  return DLN_OK;
}

int dln_bound_rate_deficiency(dln_net *net, const dln_loss *loss, const double *theta0, double *rate, double *ystar) {
  if (!net || !loss || !theta0 || !rate) return dln_error(DLN_EINVAL, "dln_bound_rate_deficiency: NULL argument");
  dln_verdict v;
  verdict_init(&v, "deficiency-margin rate and time to eps", "002 Definition 3, Theorem 2");
  int st = deficiency_rate_setup(net, loss, theta0, &v, rate);
  if (!st && ystar) *ystar = loss->lstar;
  return st;
}

int dln_bound_gd_remark2(dln_net *net, const dln_loss *loss, const double *theta0, double eta, const dln_curve *traj,
                         double tol, dln_verdict *v) {
  if (!v) return dln_error(DLN_EINVAL, "dln_bound_gd_remark2: verdict is NULL");
  verdict_init(v, "gradient descent rate under step-size and unbalancedness conditions", "002 Remark 2 (Arora et al. 2019a)");
  if (!net || !loss || !theta0 || !traj || !(eta > 0)) return dln_error(DLN_EINVAL, "dln_bound_gd_remark2: bad argument");
  double delta = 0, u = 0, th2 = 0;
  int st = deficiency_setup(net, loss, theta0, v, &delta, &u, &th2);
  if (st) return st;
  double N = net->depth, ny = dln_norm2((size_t)loss->rows * loss->cols, loss->wstar);
  double umax = delta * delta / (256 * N * N * N * pow(ny, 2 * (N - 1) / N));
  double emax = pow(delta, (4 * N - 2) / N) / (6144 * N * N * N * pow(ny, (6 * N - 4) / N));
  hyp_add(v, u <= umax, "unbalancedness %.3g <= delta^2/(256 N^3 ||Y||^{2(N-1)/N}) = %.3g", u, umax);
  hyp_add(v, eta <= emax, "eta %.3g <= delta^{(4N-2)/N}/(6144 N^3 ||Y||^{(6N-4)/N}) = %.3g", eta, emax);
  if (!(u <= umax)) return refuse(v, "002 Remark 2: unbalancedness bound", "%.3g > %.3g", u, umax);
  if (!(eta <= emax)) return refuse(v, "002 Remark 2: step-size bound", "eta = %.3g > %.3g", eta, emax);
  /* φ(k) − φ* ≤ φ(0) exp(−η δ^{2(N−1)/N} k), t = kη */
  double wt;
  return rate_check(traj, loss->lstar, curve_y(traj, 0), pow(delta, 2 * (N - 1) / N), tol, v, &wt);
}

/* ------------------------------------------------------------------ 000 Theorem 1 */

int dln_bound_dissipation(dln_net *net, dln_loss *loss, const double *theta, const double *ldot, double tol,
                          dln_verdict *v) {
  if (!v) return dln_error(DLN_EINVAL, "dln_bound_dissipation: verdict is NULL");
  verdict_init(v, "dissipation inequality", "000 Theorem 1, eq. 11 (U = V = 0)");
  if (!net || !loss || !theta) return dln_error(DLN_EINVAL, "dln_bound_dissipation: NULL argument");
  if (net->depth != 2 || net->tied) return refuse(v, "000 Theorem 1: one hidden layer (untied depth 2)", "depth %d, tied %d", net->depth, net->tied);
  if (!dln_loss_has(loss, DLN_LOSS_IDENTITY)) return refuse(v, "000 eq. 6: factorization loss", "loss %s", dln_loss_name(loss));
  int d0 = net->widths[0], k = net->widths[1], d2 = net->widths[2];
  if (k < d0 || k < d2) return refuse(v, "000 eq. 4: k >= n, m (d_1 >= d_0, d_2)", "d_1 = %d, d_0 = %d, d_2 = %d", k, d0, d2);
  hyp_add(v, 1, "depth 2, factorization, d_1 = %d >= d_0 = %d, d_2 = %d", k, d0, d2);
  double *g = dln_dalloc(net->nparams), *work = dln_dalloc((size_t)k * (d0 > d2 ? d0 : d2)), *s1 = dln_dalloc((size_t)d0),
         *s2 = dln_dalloc((size_t)d2), L = 0;
  int st = (g && work && s1 && s2) ? DLN_OK : dln_error(DLN_ENOMEM, "out of memory in dln_bound_dissipation");
  if (!st) st = dln_net_grad(net, loss, theta, &L, g, NULL);
  /* 000 → dln: Q = W_2 (m x k), P = W_1^T (n x k); σ_min are the d_2-th and d_0-th */
  if (!st) st = dln_singular_values(k, d0, theta + net->offset[1], s1, work);
  if (!st) st = dln_singular_values(d2, k, theta + net->offset[2], s2, work);
  if (!st) {
    double gn = dln_norm2(net->nparams, g);
    double smq = s2[d2 - 1], smp = s1[d0 - 1];
    double bound = -L * (smq * smq + smp * smp);
    double meas = ldot ? *ldot : -gn * gn;
    v->applicable = 1;
    v->bound = bound;
    v->measured = meas;
    v->margin = bound - meas;
    v->holds = meas <= bound + tol * (fabs(bound) + fabs(meas));
    snprintf(v->message, sizeof v->message, "%s: dL/dt = %.6g %s -L (smin(Q)^2 + smin(P)^2) = %.6g (L = %.4g, %s)",
             v->holds ? "holds" : "VIOLATED", meas, v->holds ? "<=" : ">", bound, L, ldot ? "measured dL/dt" : "exact -||grad||^2");
  }
  free(g), free(work), free(s1), free(s2);
  return st;
}

/* ------------------------------------------------------------------ 001 eq. 23 */

int dln_bound_component_rates(const dln_cf *cf, const dln_table *tab, double lo, double hi, double tol, double *pred,
                              double *fit, dln_verdict *v) {
  if (!v) return dln_error(DLN_EINVAL, "dln_bound_component_rates: verdict is NULL");
  verdict_init(v, "per-component convergence rates", "001 Proposition 3, eq. 23");
  if (!cf || !tab) return dln_error(DLN_EINVAL, "dln_bound_component_rates: NULL argument");
  if (dln_cf_kind_of(cf) != DLN_CF_SPECTRAL_ASYM)
    return refuse(v, "001 Prop. 3: asymmetric spectral closed form", "%s", dln_cf_name(cf));
  int p = dln_cf_ncomponents(cf), ct = dln_table_col(tab, "t");
  if (ct < 0) return dln_error(DLN_EINVAL, "001 eq. 23: the table has no column 't'");
  size_t n = tab->nrows;
  double *e = dln_dalloc(n), *t = dln_dalloc(n);
  if (!e || !t) {
    free(e), free(t);
    return dln_error(DLN_ENOMEM, "out of memory in dln_bound_component_rates");
  }
  int st = DLN_OK, nfit = 0;
  double worst = -1;
  for (int i = 0; i < p && !st; ++i) {
    char name[32];
    snprintf(name, sizeof name, "sv_%d", i + 1);
    int cs = dln_table_col(tab, name);
    if (cs < 0) {
      st = dln_error(DLN_EINVAL, "001 eq. 23: the table has no column '%s' (observe with DLN_OBS_SV)", name);
      break;
    }
    double sig, l0;
    dln_cf_component_params(cf, i, &sig, &l0, NULL);
    double rp = sqrt(4 * sig * sig + l0 * l0), rf = NAN;
    for (size_t r = 0; r < n; ++r) {
      const double *row = tab->data + r * (size_t)tab->ncols;
      t[r] = row[ct];
      e[r] = fabs(row[cs] - sig); /* component error |σ_i(t) − σ_i| */
    }
    dln_curve c;
    dln_curve_arrays(&c, n, t, e);
    int np = 0;
    if (dln_fit_rate(&c, lo, hi, &rf, &np) == DLN_OK) {
      double dev = fabs(rf / rp - 1);
      hyp_add(v, dev <= tol, "component %d: predicted %.5g, fitted %.5g on %d samples", i + 1, rp, rf, np);
      if (dev > worst) worst = dev, v->bound = rp, v->measured = rf;
      ++nfit;
    } else {
      hyp_add(v, 1, "component %d: too few tail samples in [%g, %g] (%d)", i + 1, lo, hi, np);
      dln_error_clear();
    }
    if (pred) pred[i] = rp;
    if (fit) fit[i] = rf;
  }
  free(e), free(t);
  if (st) return st;
  if (nfit == 0) return refuse(v, "001 eq. 23: a tail window with >= 3 samples", "none of %d components", p);
  v->applicable = 1;
  v->margin = tol - worst;
  v->holds = worst <= tol;
  snprintf(v->message, sizeof v->message, "%s: largest |fitted/predicted - 1| = %.3g (tolerance %.3g) over %d components",
           v->holds ? "holds" : "VIOLATED", worst, tol, nfit);
  return DLN_OK;
}
