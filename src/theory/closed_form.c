/* Closed-form solutions of gradient flow (docs/theory.md):
 *   001 (Tarmoun et al.) eq. 4 linear model, eq. 8 symmetric Riccati solution, eq. 9 its
 *   spectral form, eq. 17 with C from eq. 22 (asymmetric spectral init; eq. 21 the scalar
 *   ODE), Prop. 5 eq. 30 (Λ_Q = λ0 I, R R^T);
 *   002 (Cohen–Razin) Exercise 5 and the σ_r(t) of the proof of Lemma 2 (balanced net,
 *   constant gradient alignment).
 * Every constructor checks the formula's hypotheses on (data, θ(0)) and refuses with
 * DLN_ENOTAPPLICABLE: "not applicable: <hypothesis> fails (<measured value>)". */
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

struct dln_cf {
  int kind;
  const char *name;
  int m, n;     /* W is m x n (d_N x d_0) */
  int depth, p; /* depth; number of components */
  double tol;
  double *Y;    /* target (m x n) */
  double *W0;   /* initial end-to-end matrix (eq. 4) */
  /* spectral / aligned: W(t) = Σ_i s_i(t) a_i b_i^T with a_i = A[:, i], b_i = B[:, i] */
  double *A, *B;            /* m x m and n x n orthogonal bases */
  double *sig, *lam0, *x0;  /* per component: σ_i (aligned: c_r), λ0_i, x0_i */
  double *Cc;               /* eq. 22 constants */
  double *comp;             /* p values at the last evaluation */
  /* Riccati-type forms (eq. 8 and eq. 30): Z(t) = E Z̃0 M^{-1} E in an eigenbasis */
  int q;                    /* size of the Riccati state (m or m + n) */
  double a, b, c;           /* exponents: e^{a t μ}, (e^{b t μ} − 1)/(c μ) */
  double *Q, *mu, *Z0t;     /* eigenvectors (q x q), eigenvalues, Q^T Z0 Q */
  double *M, *T, *T2, *Z, *e, *k, *gwork;
  lapack_int *ipiv, *iwork;
  double *Wcf, *Wnet;       /* m x n buffers for dln_cf_distance */
};

/* ------------------------------------------------------------------ helpers */

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static int not_applicable(const char *hyp, const char *fmt_measured, ...) {
  char buf[160];
  va_list ap;
  va_start(ap, fmt_measured);
  vsnprintf(buf, sizeof buf, fmt_measured, ap);
  va_end(ap);
  return dln_error(DLN_ENOTAPPLICABLE, "not applicable: %s fails (%s)", hyp, buf);
}

static double fro(size_t n, const double *x) {
  double s = 0;
  for (size_t i = 0; i < n; ++i) s += x[i] * x[i];
  return sqrt(s);
}

/* ½‖W − Ȳ‖² with Ȳ = loss->wstar: the loss of every 001 closed form (001 eq. 2). */
static int is_factorization(const dln_loss *loss) { return dln_loss_has(loss, DLN_LOSS_IDENTITY) && loss->wstar; }

static dln_cf *cf_new(int kind, const char *name, int m, int n, int depth, double tol) {
  dln_cf *cf = calloc(1, sizeof *cf);
  if (!cf) return NULL;
  cf->kind = kind;
  cf->name = name;
  cf->m = m;
  cf->n = n;
  cf->depth = depth;
  cf->tol = tol > 0 ? tol : DLN_CF_TOL;
  cf->Wcf = dln_dalloc((size_t)m * n);
  cf->Wnet = dln_dalloc((size_t)m * n);
  if (!cf->Wcf || !cf->Wnet) {
    dln_cf_free(cf);
    return NULL;
  }
  return cf;
}

void dln_cf_free(dln_cf *cf) {
  if (!cf) return;
  free(cf->Y), free(cf->W0), free(cf->A), free(cf->B), free(cf->sig), free(cf->lam0), free(cf->x0), free(cf->Cc);
  free(cf->comp), free(cf->Q), free(cf->mu), free(cf->Z0t), free(cf->M), free(cf->T), free(cf->T2), free(cf->Z);
  free(cf->e), free(cf->k), free(cf->gwork), free(cf->ipiv), free(cf->iwork), free(cf->Wcf), free(cf->Wnet);
  free(cf);
}

static int cf_nomem(dln_cf *cf) {
  dln_cf_free(cf);
  return dln_error(DLN_ENOMEM, "out of memory allocating a closed-form workspace");
}

static int check_common(dln_cf **out, const dln_net *net, const dln_loss *loss, const double *theta0) {
  if (!out) return dln_error(DLN_EINVAL, "closed form: out is NULL");
  *out = NULL;
  if (!net || !loss || !theta0) return dln_error(DLN_EINVAL, "closed form: net, loss and theta0 must be non-NULL");
  if (loss->rows != net->widths[net->depth] || loss->cols != net->widths[0])
    return dln_error(DLN_EDIM, "closed form: loss is %dx%d but the network maps d_0=%d to d_N=%d", loss->rows,
                     loss->cols, net->widths[0], net->widths[net->depth]);
  return DLN_OK;
}

/* Allocate the Riccati workspaces for a q x q state. */
static int riccati_ws(dln_cf *cf, int q) {
  size_t qq = (size_t)q * q;
  cf->q = q;
  cf->Q = dln_dalloc(qq), cf->mu = dln_dalloc((size_t)q), cf->Z0t = dln_dalloc(qq), cf->M = dln_dalloc(qq), cf->T = dln_dalloc(qq);
  cf->T2 = dln_dalloc(qq), cf->Z = dln_dalloc(qq), cf->e = dln_dalloc((size_t)q), cf->k = dln_dalloc((size_t)q);
  cf->gwork = dln_dalloc(4 * (size_t)q);
  cf->ipiv = calloc((size_t)q, sizeof(lapack_int));
  cf->iwork = calloc((size_t)q, sizeof(lapack_int));
  return (cf->Q && cf->mu && cf->Z0t && cf->M && cf->T && cf->T2 && cf->Z && cf->e && cf->k && cf->gwork && cf->ipiv &&
          cf->iwork)
             ? DLN_OK
             : DLN_ENOMEM;
}

/* Symmetric eigen-decomposition S = Q diag(mu) Q^T (ascending), S copied into Q. */
static int sym_eig(int q, const double *S, double *Q, double *mu) {
  memcpy(Q, S, (size_t)q * q * sizeof(double));
  lapack_int info = LAPACKE_dsyev(LAPACK_COL_MAJOR, 'V', 'U', q, Q, q, mu);
  if (info) return dln_error(DLN_ELAPACK, "closed form: dsyev failed (info %d)", (int)info);
  return DLN_OK;
}

/* Z̃0 = Q^T Z0 Q into cf->Z0t (Z0 q x q). */
static void riccati_set_z0(dln_cf *cf, const double *Z0) {
  int q = cf->q;
  cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, q, q, q, 1.0, cf->Q, q, Z0, q, 0.0, cf->T, q);
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, q, q, q, 1.0, cf->T, q, cf->Q, q, 0.0, cf->Z0t, q);
}

/* Z(t) = e^{a t S} Z0 [I + (e^{b t S} − I)(c S)^{-1} Z0]^{-1} e^{a t S}, evaluated in S's
 * eigenbasis: Z̃ = E Z̃0 M^{-1} E with E = diag(e^{a t μ}), M = I + diag(expm1(b t μ)/(c μ)) Z̃0.
 * 001 eq. 8: S = Ȳ, (a, b, c) = (2, 4, 1). 001 eq. 30: S = S̃, (a, b, c) = (1, 2, 2).
 * Result in cf->Z (original coordinates).
 *
 * Once b t |μ| > 1 for some μ that form is badly scaled (K = diag(k_i) grows like e^{b t μ},
 * M's condition number with it, although Z stays bounded), so it is evaluated there as
 * follows (b = 2a in both uses): with A = K^{-1} + Z̃0 (M = K A),
 *   Z̃0 M^{-1} = K^{-1} − K^{-1} A^{-1} K^{-1}  ⇒  Z̃ = diag(g) − D A^{-1} D,
 *   g_i = e_i²/k_i = −c μ_i / expm1(−b t μ_i),  D = diag(e_i/k_i) = diag(c μ_i / (2 sinh(a t μ_i))),
 * every factor bounded for all t > 0 (K^{-1} > 0, and A is SPD for the PSD Z̃0 of eq. 8 / 30). */
static int riccati_eval(dln_cf *cf, double t, const char *bracket_name) {
  int q = cf->q;
  size_t qq = (size_t)q * q;
  double bmax = 0;
  for (int i = 0; i < q; ++i) bmax = fmax(bmax, fabs(cf->b * t * cf->mu[i]));
  const int scaled = bmax > 1.0;
  for (int i = 0; i < q; ++i) {
    double mu = cf->mu[i];
    if (!scaled) {
      cf->e[i] = exp(cf->a * t * mu);
      cf->k[i] = expm1(cf->b * t * mu) / (cf->c * mu);
    } else {
      cf->e[i] = cf->c * mu / (2.0 * sinh(cf->a * t * mu));   /* D_i (0 once sinh overflows) */
      cf->k[i] = cf->c * mu / expm1(cf->b * t * mu);          /* (K^{-1})_i > 0 */
    }
  }
  if (!scaled) { /* M = I + diag(k) Z̃0 */
    for (int j = 0; j < q; ++j)
      for (int i = 0; i < q; ++i) cf->M[i + (size_t)j * q] = (i == j) + cf->k[i] * cf->Z0t[i + (size_t)j * q];
  } else { /* A = K^{-1} + Z̃0 */
    for (int j = 0; j < q; ++j)
      for (int i = 0; i < q; ++i) cf->M[i + (size_t)j * q] = (i == j ? cf->k[i] : 0.0) + cf->Z0t[i + (size_t)j * q];
  }
  if (dln_check_finite("closed-form bracket", q, q, cf->M))
    return dln_error(DLN_ENONFINITE, "%s: exponentials overflow at t = %g (reduce t)", cf->name, t);
  double anorm = LAPACKE_dlange_work(LAPACK_COL_MAJOR, '1', q, q, cf->M, q, NULL);
  lapack_int info = LAPACKE_dgetrf_work(LAPACK_COL_MAJOR, q, q, cf->M, q, cf->ipiv);
  double rcond = 0;
  if (info == 0) LAPACKE_dgecon_work(LAPACK_COL_MAJOR, '1', q, cf->M, q, anorm, &rcond, cf->gwork, cf->iwork);
  if (info != 0 || !(rcond > cf->tol)) {
    char hyp[160];
    snprintf(hyp, sizeof hyp, "%s: invertibility of the bracket at t = %g", cf->name, t);
    return not_applicable(hyp, "reciprocal condition number %.3g%s", rcond,
                          scaled ? " of K^{-1} + X0~, the bracket scaled by K^{-1}" : "");
  }
  /* T = M^{-1} E, or A^{-1} D */
  memset(cf->T, 0, qq * sizeof(double));
  for (int i = 0; i < q; ++i) cf->T[i + (size_t)i * q] = cf->e[i];
  LAPACKE_dgetrs_work(LAPACK_COL_MAJOR, 'N', q, q, cf->M, q, cf->ipiv, cf->T, q);
  if (!scaled) {
    /* T2 = E Z̃0 T */
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, q, q, q, 1.0, cf->Z0t, q, cf->T, q, 0.0, cf->T2, q);
    for (int j = 0; j < q; ++j)
      for (int i = 0; i < q; ++i) cf->T2[i + (size_t)j * q] *= cf->e[i];
  } else {
    /* T2 = diag(g) − D A^{-1} D, symmetrized (A is symmetric) */
    for (int j = 0; j < q; ++j)
      for (int i = 0; i < q; ++i) cf->T2[i + (size_t)j * q] = -cf->e[i] * cf->T[i + (size_t)j * q];
    for (int j = 0; j < q; ++j)
      for (int i = j + 1; i < q; ++i) {
        double v = 0.5 * (cf->T2[i + (size_t)j * q] + cf->T2[j + (size_t)i * q]);
        cf->T2[i + (size_t)j * q] = cf->T2[j + (size_t)i * q] = v;
      }
    for (int i = 0; i < q; ++i) cf->T2[i + (size_t)i * q] += -cf->c * cf->mu[i] / expm1(-cf->b * t * cf->mu[i]);
  }
  /* Z = Q T2 Q^T */
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, q, q, q, 1.0, cf->Q, q, cf->T2, q, 0.0, cf->T, q);
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, q, q, q, 1.0, cf->T, q, cf->Q, q, 0.0, cf->Z, q);
  (void)bracket_name;
  return dln_check_finite("closed-form solution", q, q, cf->Z) ? dln_error(DLN_ENONFINITE, "%s: non-finite value at t = %g", cf->name, t)
                                                                : DLN_OK;
}

/* ------------------------------------------------------------------ scalar formulas */

double dln_cf_eq9(double s, double s0, double t) { return s + s * (s0 - s) / (s + s0 * expm1(4 * t * s)); }

double dln_cf_eq22(double s, double l, double x0) {
  /* the square root covers the first four terms only (seeds/INDEX.md) */
  return (sqrt(4 * s * s * l * l + 16 * s * s * x0 * x0 + l * l * l * l + 4 * x0 * x0 * l * l) - 4 * s * x0 - l * l) /
         (4 * l * l * (s - x0));
}

double dln_cf_eq17(double s, double l, double C, double t) {
  double R = sqrt(4 * s * s + l * l);
  /* divide numerator and denominator by e^{2tR} so that large t does not overflow */
  double em = exp(-t * R), em2 = em * em;
  return (s - 2 * C * l * l * em - 4 * s * l * l * C * C * em2) / (1 + 8 * s * C * em - 4 * l * l * C * C * em2);
}

double dln_cf_eq21_rhs(double s, double l, double x) { return 2 * (s - x) * sqrt(x * x + l * l / 4); }

int dln_cf_aligned_sv(int depth, double sigma0, double c, double t, double *sigma) {
  if (depth < 2 || !sigma || !(sigma0 >= 0))
    return dln_error(DLN_EINVAL, "dln_cf_aligned_sv: expected depth >= 2 and sigma0 >= 0, found %d and %g", depth, sigma0);
  if (sigma0 == 0) {
    *sigma = 0;
    return DLN_OK;
  }
  double N = depth;
  if (depth == 2) { /* σ(0) exp(∫ g), g = N c */
    *sigma = sigma0 * exp(2 * c * t);
    return DLN_OK;
  }
  /* (σ0^{2/N−1} + (2/N − 1) N c t)^{1/(2/N−1)} */
  double base = pow(sigma0, 2 / N - 1) + (2 / N - 1) * N * c * t;
  if (!(base > 0)) {
    double tstar = pow(sigma0, 2 / N - 1) / ((N - 2) * c);
    return not_applicable("002 Lemma 2: t before the blow-up time", "t = %.6g, t* = %.6g", t, tstar);
  }
  *sigma = pow(base, 1 / (2 / N - 1));
  return DLN_OK;
}

/* ------------------------------------------------------------------ constructors */

int dln_cf_linear_alloc(dln_cf **out, dln_net *net, const dln_loss *loss, const double *theta0, double tol) {
  int st = check_common(out, net, loss, theta0);
  if (st) return st;
  if (net->depth != 1) return not_applicable("001 eq. 4: depth N = 1", "N = %d", net->depth);
  if (!is_factorization(loss)) return dln_error(DLN_EINVAL, "001 eq. 4: expected a factorization loss, found %s", dln_loss_name(loss));
  int m = loss->rows, n = loss->cols;
  dln_cf *cf = cf_new(DLN_CF_LINEAR, "001 eq. 4 (linear model)", m, n, 1, tol);
  if (!cf) return cf_nomem(cf);
  cf->Y = dln_dalloc((size_t)m * n), cf->W0 = dln_dalloc((size_t)m * n);
  if (!cf->Y || !cf->W0) return cf_nomem(cf);
  memcpy(cf->Y, loss->wstar, (size_t)m * n * sizeof(double));
  memcpy(cf->W0, theta0 + net->offset[1], (size_t)m * n * sizeof(double));
  *out = cf;
  return DLN_OK;
}

/* Tied net with a symmetric invertible target: eigen-decomposition of Ȳ into cf (A, sig),
 * X0 = U0 U0^T into X0 (m x m). */
static int sym_setup(dln_cf *cf, dln_net *net, const dln_loss *loss, const double *theta0, double *X0) {
  int m = cf->m;
  size_t mm = (size_t)m * m;
  const double *Y = loss->wstar;
  double asym = 0, ny = fro(mm, Y);
  for (int j = 0; j < m; ++j)
    for (int i = 0; i < m; ++i) asym += (Y[i + (size_t)j * m] - Y[j + (size_t)i * m]) * (Y[i + (size_t)j * m] - Y[j + (size_t)i * m]);
  asym = sqrt(asym) / fmax(ny, DBL_MIN);
  if (!(asym <= cf->tol)) return not_applicable("001 eq. 8/9: symmetric target Y", "||Y - Y^T||_F/||Y||_F = %.3g", asym);
  cf->Y = dln_dalloc(mm), cf->A = dln_dalloc(mm), cf->sig = dln_dalloc((size_t)m);
  if (!cf->Y || !cf->A || !cf->sig) return DLN_ENOMEM;
  for (int j = 0; j < m; ++j)
    for (int i = 0; i < m; ++i) cf->Y[i + (size_t)j * m] = 0.5 * (Y[i + (size_t)j * m] + Y[j + (size_t)i * m]);
  int st = sym_eig(m, cf->Y, cf->A, cf->sig);
  if (st) return st;
  double smin = INFINITY, smax = 0;
  for (int i = 0; i < m; ++i) smin = fmin(smin, fabs(cf->sig[i])), smax = fmax(smax, fabs(cf->sig[i]));
  if (!(smin > cf->tol * smax))
    return not_applicable("001 eq. 8/9: invertibility of Y", "min|eig(Y)|/max|eig(Y)| = %.3g", smax > 0 ? smin / smax : 0.0);
  const double *U = theta0 + net->offset[2]; /* m x k */
  int k = net->widths[1];
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, m, m, k, 1.0, U, m, U, m, 0.0, X0, m); /* X0 = U0 U0^T */
  return DLN_OK;
}

static int check_tied(const dln_net *net, const dln_loss *loss, const char *what) {
  if (!net->tied) return not_applicable(what, "the network is untied, depth %d", net->depth);
  if (!is_factorization(loss)) return dln_error(DLN_EINVAL, "%s: expected a factorization loss, found %s", what, dln_loss_name(loss));
  return DLN_OK;
}

int dln_cf_riccati_alloc(dln_cf **out, dln_net *net, const dln_loss *loss, const double *theta0, double tol) {
  int st = check_common(out, net, loss, theta0);
  if (st) return st;
  if ((st = check_tied(net, loss, "001 eq. 8: tied symmetric model W = U U^T"))) return st;
  int m = loss->rows;
  dln_cf *cf = cf_new(DLN_CF_RICCATI, "001 eq. 8 (symmetric Riccati)", m, m, 2, tol);
  if (!cf) return cf_nomem(cf);
  if (riccati_ws(cf, m)) return cf_nomem(cf);
  st = sym_setup(cf, net, loss, theta0, cf->M);
  if (st == DLN_ENOMEM) return cf_nomem(cf);
  if (st) {
    dln_cf_free(cf);
    return st;
  }
  memcpy(cf->Q, cf->A, (size_t)m * m * sizeof(double));
  memcpy(cf->mu, cf->sig, (size_t)m * sizeof(double));
  cf->a = 2, cf->b = 4, cf->c = 1;
  riccati_set_z0(cf, cf->M);
  *out = cf;
  return DLN_OK;
}

int dln_cf_spectral_sym_alloc(dln_cf **out, dln_net *net, const dln_loss *loss, const double *theta0, double tol) {
  int st = check_common(out, net, loss, theta0);
  if (st) return st;
  if ((st = check_tied(net, loss, "001 eq. 9: tied symmetric model W = U U^T"))) return st;
  int m = loss->rows;
  size_t mm = (size_t)m * m;
  dln_cf *cf = cf_new(DLN_CF_SPECTRAL_SYM, "001 eq. 9 (symmetric spectral)", m, m, 2, tol);
  if (!cf) return cf_nomem(cf);
  double *X0 = dln_dalloc(mm), *T = dln_dalloc(mm), *D = dln_dalloc(mm);
  cf->p = m;
  cf->x0 = dln_dalloc((size_t)m), cf->comp = dln_dalloc((size_t)m), cf->B = dln_dalloc(mm);
  if (!X0 || !T || !D || !cf->x0 || !cf->comp || !cf->B) {
    free(X0), free(T), free(D);
    return cf_nomem(cf);
  }
  st = sym_setup(cf, net, loss, theta0, X0);
  if (!st) {
    /* D = Φ^T X0 Φ must be diagonal (001 Definition 1) */
    cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, m, m, m, 1.0, cf->A, m, X0, m, 0.0, T, m);
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, m, m, m, 1.0, T, m, cf->A, m, 0.0, D, m);
    double off = 0, nx = fro(mm, X0);
    for (int j = 0; j < m; ++j)
      for (int i = 0; i < m; ++i)
        if (i != j) off = fmax(off, fabs(D[i + (size_t)j * m]));
    off /= fmax(nx, DBL_MIN);
    if (!(off <= cf->tol))
      st = not_applicable("001 Definition 1: spectral init (Phi^T X0 Phi diagonal)", "max off-diagonal/||X0||_F = %.3g", off);
    for (int i = 0; i < m; ++i) cf->x0[i] = D[i + (size_t)i * m];
    memcpy(cf->B, cf->A, mm * sizeof(double));
  }
  free(X0), free(T), free(D);
  if (st == DLN_ENOMEM) return cf_nomem(cf);
  if (st) {
    dln_cf_free(cf);
    return st;
  }
  *out = cf;
  return DLN_OK;
}

int dln_cf_spectral_asym_alloc(dln_cf **out, dln_net *net, const dln_loss *loss, const double *theta0, double tol) {
  int st = check_common(out, net, loss, theta0);
  if (st) return st;
  if (net->depth != 2 || net->tied) return not_applicable("001 eq. 17: untied depth-2 network", "depth %d, tied %d", net->depth, net->tied);
  if (!is_factorization(loss)) return dln_error(DLN_EINVAL, "001 eq. 17: expected a factorization loss, found %s", dln_loss_name(loss));
  int m = loss->rows, n = loss->cols, k = net->widths[1], p = m < n ? m : n;
  dln_cf *cf = cf_new(DLN_CF_SPECTRAL_ASYM, "001 eq. 17/22 (asymmetric spectral)", m, n, 2, tol);
  if (!cf) return cf_nomem(cf);
  cf->p = p;
  cf->A = dln_dalloc((size_t)m * m), cf->B = dln_dalloc((size_t)n * n), cf->sig = dln_dalloc((size_t)p), cf->lam0 = dln_dalloc((size_t)p);
  cf->x0 = dln_dalloc((size_t)p), cf->Cc = dln_dalloc((size_t)p), cf->comp = dln_dalloc((size_t)p);
  double *Yc = dln_dalloc((size_t)m * n), *VT = dln_dalloc((size_t)n * n), *sup = dln_dalloc((size_t)p + 1);
  double *Au = dln_dalloc((size_t)m * k), *Bv = dln_dalloc((size_t)n * k), *G = dln_dalloc((size_t)(m > n ? m : n) * (m > n ? m : n));
  if (!cf->A || !cf->B || !cf->sig || !cf->lam0 || !cf->x0 || !cf->Cc || !cf->comp || !Yc || !VT || !sup || !Au || !Bv || !G) {
    free(Yc), free(VT), free(sup), free(Au), free(Bv), free(G);
    return cf_nomem(cf);
  }
  /* Ȳ = Φ Σ Ψ^T (full SVD) */
  memcpy(Yc, loss->wstar, (size_t)m * n * sizeof(double));
  lapack_int info = LAPACKE_dgesvd(LAPACK_COL_MAJOR, 'A', 'A', m, n, Yc, m, cf->sig, cf->A, m, VT, n, sup);
  if (info) st = dln_error(DLN_ELAPACK, "001 eq. 17: dgesvd failed (info %d)", (int)info);
  if (!st) {
    for (int j = 0; j < n; ++j)
      for (int i = 0; i < n; ++i) cf->B[i + (size_t)j * n] = VT[j + (size_t)i * n];
    const double *U = theta0 + net->offset[2];  /* W_2 = U, m x k */
    const double *W1 = theta0 + net->offset[1]; /* W_1 = V^T, k x n */
    /* Au = Φ^T U (m x k), Bv = Ψ^T V = (W_1 Ψ)^T (n x k) */
    cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, m, k, m, 1.0, cf->A, m, U, m, 0.0, Au, m);
    cblas_dgemm(CblasColMajor, CblasTrans, CblasTrans, n, k, n, 1.0, cf->B, n, W1, k, 0.0, Bv, n);
    double s2 = fro((size_t)m * k, U) * fro((size_t)m * k, U) + fro((size_t)k * n, W1) * fro((size_t)k * n, W1);
    s2 = fmax(s2, DBL_MIN);
    double off = 0, par = 0;
    /* Au Au^T, Bv Bv^T diagonal and Au Bv^T rectangular diagonal: rows a_i ∥ b_i, all others ⟂ */
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, m, m, k, 1.0, Au, m, Au, m, 0.0, G, m);
    for (int j = 0; j < m; ++j)
      for (int i = 0; i < m; ++i)
        if (i != j) off = fmax(off, fabs(G[i + (size_t)j * m]));
    for (int i = 0; i < p; ++i) cf->lam0[i] = G[i + (size_t)i * m];
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, n, n, k, 1.0, Bv, n, Bv, n, 0.0, G, n);
    for (int j = 0; j < n; ++j)
      for (int i = 0; i < n; ++i)
        if (i != j) off = fmax(off, fabs(G[i + (size_t)j * n]));
    double *bb = VT; /* reuse: diagonal of Bv Bv^T */
    for (int i = 0; i < p; ++i) bb[i] = G[i + (size_t)i * n];
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0, Au, m, Bv, n, 0.0, G, m);
    for (int j = 0; j < n; ++j)
      for (int i = 0; i < m; ++i)
        if (i != j) off = fmax(off, fabs(G[i + (size_t)j * m]));
    for (int i = 0; i < p; ++i) {
      double aa = cf->lam0[i];
      cf->x0[i] = G[i + (size_t)i * m];
      par = fmax(par, fabs(aa * bb[i] - cf->x0[i] * cf->x0[i]));
      cf->lam0[i] = aa - bb[i]; /* λ0_i = ū_i² − v̄_i² */
    }
    off /= s2;
    par = sqrt(par) / s2; /* the sine of the angle between u_i and v_i (times |u||v|/s2): linear,
                             as the verdict's tolerance is; the squared gap let a start 1e-3 off
                             parallel pass a 1e-6 gate, and its closed form then failed */
    if (!(off <= cf->tol))
      st = not_applicable("001 Definition 3: spectral init (Phi^T U, Psi^T V rectangular diagonal up to G)",
                          "max off-diagonal Gram entry/(||U||^2+||V||^2) = %.3g", off);
    else if (!(par <= cf->tol))
      st = not_applicable("001 Definition 3: spectral init (rows of Phi^T U and Psi^T V parallel)",
                          "max sqrt|u_i^2 v_i^2 - x0_i^2|/(||U||^2+||V||^2) = %.3g", par);
    for (int i = 0; i < p && !st; ++i) {
      if (!(fabs(cf->lam0[i]) > cf->tol * s2)) {
        char hyp[96];
        snprintf(hyp, sizeof hyp, "001 eq. 22: imbalance lambda0_%d != 0", i + 1);
        st = not_applicable(hyp, "lambda0 = %.3g", cf->lam0[i]);
      } else if (!(fabs(cf->sig[i] - cf->x0[i]) > cf->tol * (cf->sig[0] + s2))) {
        char hyp[96];
        snprintf(hyp, sizeof hyp, "001 eq. 22: x0_%d != sigma_%d", i + 1, i + 1);
        st = not_applicable(hyp, "sigma - x0 = %.3g", cf->sig[i] - cf->x0[i]);
      } else {
        cf->Cc[i] = dln_cf_eq22(cf->sig[i], cf->lam0[i], cf->x0[i]);
      }
    }
  }
  free(Yc), free(VT), free(sup), free(Au), free(Bv), free(G);
  if (st) {
    dln_cf_free(cf);
    return st;
  }
  *out = cf;
  return DLN_OK;
}

int dln_cf_lambda_id_alloc(dln_cf **out, dln_net *net, const dln_loss *loss, const double *theta0, double tol) {
  int st = check_common(out, net, loss, theta0);
  if (st) return st;
  if (net->depth != 2 || net->tied) return not_applicable("001 Prop. 5: untied depth-2 network", "depth %d, tied %d", net->depth, net->tied);
  if (!is_factorization(loss)) return dln_error(DLN_EINVAL, "001 eq. 30: expected a factorization loss, found %s", dln_loss_name(loss));
  int m = loss->rows, n = loss->cols, k = net->widths[1], q = m + n;
  dln_cf *cf = cf_new(DLN_CF_LAMBDA_ID, "001 eq. 30 (Lambda_Q = lambda0 I)", m, n, 2, tol);
  if (!cf) return cf_nomem(cf);
  if (riccati_ws(cf, q)) return cf_nomem(cf);
  cf->lam0 = dln_dalloc(1);
  double *C = dln_dalloc((size_t)k * k), *R = dln_dalloc((size_t)q * k);
  if (!cf->lam0 || !C || !R) {
    free(C), free(R);
    return cf_nomem(cf);
  }
  /* Q0 = U^T U − V^T V = C_1 (001 eq. 13) must be λ0 I */
  st = dln_net_conserved(net, theta0, 1, C);
  if (!st) {
    double tr = 0, dev = 0;
    for (int i = 0; i < k; ++i) tr += C[i + (size_t)i * k];
    double l0 = tr / k;
    for (int j = 0; j < k; ++j)
      for (int i = 0; i < k; ++i) {
        double d = C[i + (size_t)j * k] - (i == j ? l0 : 0.0);
        dev += d * d;
      }
    const double *U = theta0 + net->offset[2], *W1 = theta0 + net->offset[1];
    double s2 = fro((size_t)m * k, U) * fro((size_t)m * k, U) + fro((size_t)k * n, W1) * fro((size_t)k * n, W1);
    dev = sqrt(dev) / fmax(s2, DBL_MIN);
    cf->lam0[0] = l0;
    if (!(dev <= cf->tol))
      st = not_applicable("001 Prop. 5: Q0 = U^T U - V^T V = lambda0 I", "||Q0 - lambda0 I||_F/(||U||^2+||V||^2) = %.3g", dev);
    if (!st) {
      /* S̃ = S + λ0 S̄ = [[λ0/2 I_m, Ȳ], [Ȳ^T, −λ0/2 I_n]] in dln coordinates */
      double *S = cf->M;
      memset(S, 0, (size_t)q * q * sizeof(double));
      for (int i = 0; i < m; ++i) S[i + (size_t)i * q] = 0.5 * l0;
      for (int i = m; i < q; ++i) S[i + (size_t)i * q] = -0.5 * l0;
      for (int j = 0; j < n; ++j)
        for (int i = 0; i < m; ++i) {
          double y = loss->wstar[i + (size_t)j * m];
          S[i + (size_t)(m + j) * q] = y;
          S[(m + j) + (size_t)i * q] = y;
        }
      st = sym_eig(q, S, cf->Q, cf->mu);
    }
    if (!st) {
      double smin = INFINITY, smax = 0;
      for (int i = 0; i < q; ++i) smin = fmin(smin, fabs(cf->mu[i])), smax = fmax(smax, fabs(cf->mu[i]));
      if (!(smin > cf->tol * smax))
        st = not_applicable("001 Prop. 5: invertibility of S~", "min|eig(S~)|/max|eig(S~)| = %.3g", smax > 0 ? smin / smax : 0.0);
    }
    if (!st) {
      /* R0 = [U; V] with V = W_1^T; Z0 = R0 R0^T */
      for (int j = 0; j < k; ++j) {
        for (int i = 0; i < m; ++i) R[i + (size_t)j * q] = U[i + (size_t)j * m];
        for (int i = 0; i < n; ++i) R[m + i + (size_t)j * q] = W1[j + (size_t)i * k];
      }
      cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, q, q, k, 1.0, R, q, R, q, 0.0, cf->Z, q);
      cf->a = 1, cf->b = 2, cf->c = 2;
      riccati_set_z0(cf, cf->Z);
    }
  }
  free(C), free(R);
  if (st) {
    dln_cf_free(cf);
    return st;
  }
  *out = cf;
  return DLN_OK;
}

int dln_cf_aligned_alloc(dln_cf **out, dln_net *net, dln_loss *loss, const double *theta0, double tol) {
  int st = check_common(out, net, loss, theta0);
  if (st) return st;
  if (net->depth < 2 || net->tied) return not_applicable("002 Lemma 2: untied depth N >= 2", "N = %d, tied %d", net->depth, net->tied);
  int m = loss->rows, n = loss->cols, p = m < n ? m : n, N = net->depth;
  dln_cf *cf = cf_new(DLN_CF_ALIGNED, N == 2 ? "002 Exercise 5 (balanced, aligned, N = 2)" : "002 Lemma 2 (balanced, aligned, N >= 3)",
                      m, n, N, tol);
  if (!cf) return cf_nomem(cf);
  cf->p = p;
  cf->A = dln_dalloc((size_t)m * m), cf->B = dln_dalloc((size_t)n * n), cf->sig = dln_dalloc((size_t)p), cf->x0 = dln_dalloc((size_t)p);
  cf->comp = dln_dalloc((size_t)p);
  double *W = dln_dalloc((size_t)m * n), *G = dln_dalloc((size_t)m * n), *VT = dln_dalloc((size_t)n * n), *T = dln_dalloc((size_t)m * n),
         *sup = dln_dalloc((size_t)p + 1);
  if (!cf->A || !cf->B || !cf->sig || !cf->x0 || !cf->comp || !W || !G || !VT || !T || !sup) {
    free(W), free(G), free(VT), free(T), free(sup);
    return cf_nomem(cf);
  }
  /* balancedness, scale-free: max_j ||C_j||_F / ||θ||² (as dln_e2e_from_net) */
  double u = dln_net_unbalancedness(net, theta0), th2 = dln_norm2(net->nparams, theta0);
  th2 *= th2;
  double ub = u / fmax(th2, DBL_MIN);
  if (!(ub <= cf->tol)) st = not_applicable("002 Assumption 1: balanced init", "max_j ||C_j||_F/||theta||^2 = %.3g", ub);
  if (!st) st = dln_net_grad(net, loss, theta0, NULL, NULL, W);
  double lval = 0;
  if (!st) st = dln_loss_eval(loss, W, &lval, G); /* G = ∇ℓ(W0) */
  if (!st) {
    memcpy(T, W, (size_t)m * n * sizeof(double));
    lapack_int info = LAPACKE_dgesvd(LAPACK_COL_MAJOR, 'A', 'A', m, n, T, m, cf->x0, cf->A, m, VT, n, sup);
    if (info) st = dln_error(DLN_ELAPACK, "002 Lemma 2: dgesvd failed (info %d)", (int)info);
  }
  if (!st) {
    for (int j = 0; j < n; ++j)
      for (int i = 0; i < n; ++i) cf->B[i + (size_t)j * n] = VT[j + (size_t)i * n];
    /* T = U^T (−∇ℓ) V: must be (rectangular) diagonal; c_r = T_rr */
    cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, m, n, m, -1.0, cf->A, m, G, m, 0.0, T, m);
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, m, n, n, 1.0, T, m, cf->B, n, 0.0, W, m);
    double off = 0, ng = fro((size_t)m * n, G);
    for (int j = 0; j < n; ++j)
      for (int i = 0; i < m; ++i)
        if (i != j) off = fmax(off, fabs(W[i + (size_t)j * m]));
    off /= fmax(ng, DBL_MIN);
    for (int r = 0; r < p; ++r) cf->sig[r] = W[r + (size_t)r * m];
    if (!(off <= cf->tol))
      st = not_applicable("002 Exercise 5: singular vectors of W0 diagonalize grad l(W0)",
                          "max off-diagonal of U^T grad V / ||grad||_F = %.3g", off);
  }
  free(W), free(G), free(VT), free(T), free(sup);
  if (st) {
    dln_cf_free(cf);
    return st;
  }
  *out = cf;
  return DLN_OK;
}

/* ------------------------------------------------------------------ evaluation */

/* ------------------------------------------------------------------ selection */

static void why_add(char *why, size_t len, const char *form, const char *reason) {
  if (!why || !len) return;
  size_t n = strlen(why);
  if (n + 8 >= len) return;
  snprintf(why + n, len - n, "%s%s: %s", n ? "; " : "", form, reason);
}

int dln_cf_select(dln_cf **out, dln_net *net, dln_loss *loss, const double *theta0, double tol, char *why,
                  size_t len) {
  typedef int (*cf_alloc_fn)(dln_cf **, dln_net *, const dln_loss *, const double *, double);
  static const struct {
    const char *name;
    cf_alloc_fn fn;
    int depth, tied;
  } forms[] = {{"001 eq. 4", dln_cf_linear_alloc, 1, 0},  {"001 eq. 9", dln_cf_spectral_sym_alloc, 2, 1},
               {"001 eq. 8", dln_cf_riccati_alloc, 2, 1}, {"001 eq. 17", dln_cf_spectral_asym_alloc, 2, 0},
               {"001 eq. 30", dln_cf_lambda_id_alloc, 2, 0}};
  if (why && len) why[0] = '\0';
  if (!out) return dln_error(DLN_EINVAL, "dln_cf_select: out must not be NULL");
  *out = NULL;
  if (!net || !loss || !theta0) return dln_error(DLN_EINVAL, "dln_cf_select: NULL argument");
  if (is_factorization(loss)) {
    for (size_t i = 0; i < sizeof forms / sizeof *forms; ++i) {
      if (forms[i].depth != net->depth || forms[i].tied != (net->tied != 0)) continue;
      int st = forms[i].fn(out, net, loss, theta0, tol);
      if (st == DLN_OK) return DLN_OK;
      *out = NULL;
      if (st == DLN_ENOMEM) return st;
      why_add(why, len, forms[i].name, dln_last_error());
    }
  } else {
    char r[160];
    snprintf(r, sizeof r, "not applicable: factorization loss fails (loss %s: no DLN_LOSS_IDENTITY target)",
             dln_loss_name(loss));
    why_add(why, len, "001 closed forms", r);
  }
  if (net->depth >= 2 && !net->tied) {
    int st = dln_cf_aligned_alloc(out, net, loss, theta0, tol);
    if (st == DLN_OK) return DLN_OK;
    *out = NULL;
    if (st == DLN_ENOMEM) return st;
    why_add(why, len, "002 Ex. 5", dln_last_error());
  }
  return DLN_OK;
}

int dln_cf_kind_of(const dln_cf *cf) {
  DLN_ARGS_V(0, cf);
  return cf->kind;
}
const char *dln_cf_name(const dln_cf *cf) {
  DLN_ARGS_V("", cf);
  return cf->name;
}
int dln_cf_rows(const dln_cf *cf) {
  DLN_ARGS_V(0, cf);
  return cf->m;
}
int dln_cf_cols(const dln_cf *cf) {
  DLN_ARGS_V(0, cf);
  return cf->n;
}
int dln_cf_ncomponents(const dln_cf *cf) {
  DLN_ARGS_V(0, cf);
  return cf->p;
}

int dln_cf_component_params(const dln_cf *cf, int i, double *sigma, double *lambda0, double *x0) {
  if (!cf || cf->p == 0 || i < 0 || i >= cf->p)
    return dln_error(DLN_EINVAL, "closed form: component %d does not exist (%d components)", i, cf ? cf->p : 0);
  if (sigma) *sigma = cf->sig[i];
  if (lambda0) *lambda0 = cf->lam0 ? cf->lam0[i] : 0.0;
  if (x0) *x0 = cf->x0[i];
  return DLN_OK;
}

int dln_cf_components(dln_cf *cf, double t, double *sigma) {
  if (!cf || !sigma) return dln_error(DLN_EINVAL, "dln_cf_components: NULL argument");
  if (!(t >= 0) || !isfinite(t)) return dln_error(DLN_EINVAL, "closed form: expected a finite time t >= 0, found %g", t);
  switch (cf->kind) {
  case DLN_CF_SPECTRAL_SYM:
    for (int i = 0; i < cf->p; ++i) {
      double den = cf->sig[i] + cf->x0[i] * expm1(4 * t * cf->sig[i]);
      if (!(fabs(den) > cf->tol * fabs(cf->sig[i])))
        return not_applicable("001 eq. 9: nonzero denominator", "sigma_i + sigma0_i (e^{4 t sigma_i} - 1) = %.3g", den);
      sigma[i] = dln_cf_eq9(cf->sig[i], cf->x0[i], t);
    }
    return DLN_OK;
  case DLN_CF_SPECTRAL_ASYM:
    for (int i = 0; i < cf->p; ++i) {
      sigma[i] = dln_cf_eq17(cf->sig[i], cf->lam0[i], cf->Cc[i], t);
      if (!isfinite(sigma[i])) return not_applicable("001 eq. 17: nonzero denominator", "x(t) = %g", sigma[i]);
    }
    return DLN_OK;
  case DLN_CF_ALIGNED:
    for (int i = 0; i < cf->p; ++i) {
      int st = dln_cf_aligned_sv(cf->depth, cf->x0[i], cf->sig[i], t, &sigma[i]);
      if (st) return st;
    }
    return DLN_OK;
  default:
    return dln_error(DLN_EINVAL, "%s has no per-component form", cf->name);
  }
}

int dln_cf_eval(dln_cf *cf, double t, double *W) {
  if (!cf || !W) return dln_error(DLN_EINVAL, "dln_cf_eval: NULL argument");
  if (!(t >= 0) || !isfinite(t)) return dln_error(DLN_EINVAL, "closed form: expected a finite time t >= 0, found %g", t);
  int m = cf->m, n = cf->n, st;
  size_t mn = (size_t)m * n;
  switch (cf->kind) {
  case DLN_CF_LINEAR: { /* W(t) = Ȳ + (W0 − Ȳ) e^{−t} */
    double e = exp(-t);
    for (size_t i = 0; i < mn; ++i) W[i] = cf->Y[i] + (cf->W0[i] - cf->Y[i]) * e;
    return DLN_OK;
  }
  case DLN_CF_RICCATI:
    if ((st = riccati_eval(cf, t, "I + Y^{-1}(e^{4tY} - I) X0"))) return st;
    memcpy(W, cf->Z, mn * sizeof(double));
    return DLN_OK;
  case DLN_CF_LAMBDA_ID: /* W = top-right block of R R^T */
    if ((st = riccati_eval(cf, t, "I + (1/2) S~^{-1}(e^{2tS~} - I) R0 R0^T"))) return st;
    for (int j = 0; j < n; ++j)
      for (int i = 0; i < m; ++i) W[i + (size_t)j * m] = cf->Z[i + (size_t)(m + j) * cf->q];
    return DLN_OK;
  default:
    break;
  }
  if ((st = dln_cf_components(cf, t, cf->comp))) return st;
  /* W = Σ_i s_i(t) a_i b_i^T */
  memset(W, 0, mn * sizeof(double));
  for (int i = 0; i < cf->p; ++i)
    cblas_dger(CblasColMajor, m, n, cf->comp[i], cf->A + (size_t)i * m, 1, cf->B + (size_t)i * n, 1, W, m);
  return DLN_OK;
}

int dln_cf_gram(dln_cf *cf, double t, double *Z) {
  if (!cf || !Z) return dln_error(DLN_EINVAL, "dln_cf_gram: NULL argument");
  if (cf->kind != DLN_CF_LAMBDA_ID) return dln_error(DLN_EINVAL, "dln_cf_gram: only for 001 eq. 30, not %s", cf->name);
  if (!(t >= 0) || !isfinite(t)) return dln_error(DLN_EINVAL, "closed form: expected a finite time t >= 0, found %g", t);
  int st = riccati_eval(cf, t, "bracket");
  if (st) return st;
  memcpy(Z, cf->Z, (size_t)cf->q * cf->q * sizeof(double));
  return DLN_OK;
}

int dln_cf_distance(dln_net *net, const double *theta, double t, dln_cf *cf, double *dist) {
  if (!net || !theta || !cf || !dist) return dln_error(DLN_EINVAL, "dln_cf_distance: NULL argument");
  if (net->widths[net->depth] != cf->m || net->widths[0] != cf->n)
    return dln_error(DLN_EDIM, "dln_cf_distance: network maps %d to %d but the closed form is %dx%d", net->widths[0],
                     net->widths[net->depth], cf->m, cf->n);
  int st = dln_cf_eval(cf, t, cf->Wcf);
  if (st) return st;
  if ((st = dln_net_product(net, theta, cf->Wnet))) return st;
  size_t mn = (size_t)cf->m * cf->n;
  double d = 0;
  for (size_t i = 0; i < mn; ++i) d += (cf->Wnet[i] - cf->Wcf[i]) * (cf->Wnet[i] - cf->Wcf[i]);
  *dist = sqrt(d) / fmax(1.0, fro(mn, cf->Wcf));
  return DLN_OK;
}
