/* Landscape of φ(θ) = ℓ(W_N···W_1), second part: Hessian spectrum, equilibria and
 * singular-value dynamics (dln/landscape.h; docs/landscape.md). Critical values and
 * strata, (a) and (b), are in landscape_critical.c.
 *
 * (c) Lanczos with full reorthogonalization on v ↦ ∇²φ(θ) v (dln_net_hvp); Ritz values
 *     from LAPACKE_dstev_work on T_m = tridiag(β, α, β). Non-strict saddles: 002
 *     Proposition 3 (origin for N ≥ 3) and 004 Proposition 4 i)–iii).
 * (d) 000 Theorem 3 (P = W_{N−1:1}^T, Q = W_N; dln's R = −∇ℓ(W) is the transpose of
 *     000's Ȳ − PQ^T for the factorization loss).
 * (e), 002 Theorem 3's singular-value dynamics, is in landscape_sigma.c. */
#include "dln/landscape.h"

#include <cblas.h>
#include <float.h>
#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "dln/error.h"

static double sq(double x) { return x * x; }
static int imin(int a, int b) { return a < b ? a : b; }
static int imax(int a, int b) { return a > b ? a : b; }

/* Reproducible start / probe vectors without allocation: the shared xorshift64* step
 * (core/util.h), uniform on [-1, 1). */
static double xs_uniform(uint64_t *s) { return (double)(dln_xorshift64s_next(s) >> 11) * 0x1.0p-53 * 2.0 - 1.0; }
static void xs_seed(uint64_t *s, uint64_t seed) {
  *s = seed * 0x9E3779B97F4A7C15ULL + 0x632BE59BD9B4E019ULL;
  if (!*s) *s = 1;
}

int dln_net_min_width(const dln_net *net) {
  DLN_ARGS_V(0, net);
  int k = net->widths[0];
  for (int j = 1; j <= net->depth; ++j) k = imin(k, net->widths[j]);
  return k;
}

/* ==================================================================== (c) Lanczos */
struct dln_lanczos {
  dln_net *net;
  size_t n;      /* nparams */
  int maxit;     /* Krylov cap */
  double *V;     /* n x (maxit + 1), basis vectors as columns */
  double *alpha, *beta, *d, *e, *z, *zwork, *c; /* tridiagonal buffers */
  double *rwork;     /* 5 maxit: dstebz / dstein */
  lapack_int *iw;    /* 5 maxit + 1: iblock, isplit, iwork, ifail */
  double *ymin, *ymax, *w, *g, *th, *dir;        /* length n */
  double *W, *G;  /* d_N x d_0 */
  double *u, *v;  /* d_N, d_0 */
};

void dln_lanczos_default_options(dln_lanczos_options *opt) {
  if (!opt) return;
  memset(opt, 0, sizeof *opt);
  opt->tol = 1e-10;
  opt->check_every = 5;
  opt->seed = 1;
}

void dln_lanczos_free(dln_lanczos *lz) {
  if (!lz) return;
  free(lz->V);
  free(lz->alpha);
  free(lz->beta);
  free(lz->d);
  free(lz->e);
  free(lz->z);
  free(lz->zwork);
  free(lz->c);
  free(lz->rwork);
  free(lz->iw);
  free(lz->ymin);
  free(lz->ymax);
  free(lz->w);
  free(lz->g);
  free(lz->th);
  free(lz->dir);
  free(lz->W);
  free(lz->G);
  free(lz->u);
  free(lz->v);
  free(lz);
}

int dln_lanczos_alloc(dln_lanczos **out, dln_net *net, int max_iter) {
  if (!out || !net) return dln_error(DLN_EINVAL, "dln_lanczos_alloc: NULL argument");
  *out = NULL;
  if (max_iter < 1) return dln_error(DLN_EINVAL, "dln_lanczos_alloc: max_iter = %d, expected >= 1", max_iter);
  size_t n = net->nparams;
  if ((size_t)max_iter > n) max_iter = (int)n;
  size_t nv;
  if (dln_size_mul(n, (size_t)max_iter + 1, &nv) != DLN_OK) return DLN_ENOMEM;
  dln_lanczos *lz = calloc(1, sizeof *lz);
  if (!lz) return dln_error(DLN_ENOMEM, "dln_lanczos_alloc: out of memory");
  lz->net = net;
  lz->n = n;
  lz->maxit = max_iter;
  size_t m = (size_t)max_iter;
  size_t rc = (size_t)dln_net_rows(net) * (size_t)dln_net_cols(net);
  lz->V = malloc(nv * sizeof(double));
  lz->alpha = malloc(m * sizeof(double));
  lz->beta = malloc(m * sizeof(double));
  lz->d = malloc(m * sizeof(double));
  lz->e = malloc(m * sizeof(double));
  lz->z = malloc(m * m * sizeof(double));
  lz->zwork = malloc((2 * m + 2) * sizeof(double));
  lz->c = malloc((m + 1) * sizeof(double));
  lz->rwork = malloc(5 * m * sizeof(double));
  lz->iw = malloc((5 * m + 1) * sizeof(lapack_int));
  lz->ymin = malloc(n * sizeof(double));
  lz->ymax = malloc(n * sizeof(double));
  lz->w = malloc(n * sizeof(double));
  lz->g = malloc(n * sizeof(double));
  lz->th = malloc(n * sizeof(double));
  lz->dir = malloc(n * sizeof(double));
  lz->W = malloc(rc * sizeof(double));
  lz->G = malloc(rc * sizeof(double));
  lz->u = malloc((size_t)dln_net_rows(net) * sizeof(double));
  lz->v = malloc((size_t)dln_net_cols(net) * sizeof(double));
  if (!lz->V || !lz->alpha || !lz->beta || !lz->d || !lz->e || !lz->z || !lz->zwork || !lz->c || !lz->rwork || !lz->iw || !lz->ymin ||
      !lz->ymax || !lz->w || !lz->g || !lz->th || !lz->dir || !lz->W || !lz->G || !lz->u || !lz->v) {
    dln_lanczos_free(lz);
    return dln_error(DLN_ENOMEM, "dln_lanczos_alloc: out of memory (%zu parameters, %d Lanczos vectors)", n,
                     max_iter + 1);
  }
  *out = lz;
  return DLN_OK;
}

const double *dln_lanczos_vec_min(const dln_lanczos *lz) {
  DLN_ARGS_P(lz);
  return lz ? lz->ymin : NULL;
}
const double *dln_lanczos_vec_max(const dln_lanczos *lz) {
  DLN_ARGS_P(lz);
  return lz ? lz->ymax : NULL;
}

static double dot(size_t n, const double *a, const double *b) { return cblas_ddot((int)n, a, 1, b, 1); }

/* Eigen-decomposition of T_m (α_0..α_{m−1}, β_0..β_{m−2}) into lz->d (ascending) and
 * lz->z (m x m eigenvectors). */
static int tridiag_eig(dln_lanczos *lz, int m) {
  memcpy(lz->d, lz->alpha, (size_t)m * sizeof(double));
  if (m > 1) memcpy(lz->e, lz->beta, (size_t)(m - 1) * sizeof(double));
  lapack_int info = LAPACKE_dstev_work(LAPACK_COL_MAJOR, 'V', m, lz->d, lz->e, lz->z, m, lz->zwork);
  if (info != 0) return dln_error(DLN_ELAPACK, "dstev (Lanczos tridiagonal of order %d) returned info=%d", m, (int)info);
  return DLN_OK;
}

/* λ_min only (min_only): the least eigenvalue of T_m by bisection (dstebz, absolute
 * accuracy ulp·‖T_m‖ like dstev's QR) into lz->d[0], its unit eigenvector by inverse
 * iteration (dstein) into lz->z[0..m), and the largest into lz->d[m−1]: O(m) per value,
 * where dstev 'V' is O(m³). T_m is scaled by 2^−e ≈ 1/bound (exact; dstev scales too,
 * dstein does not). The largest only sets the scale of the test est ≤ tol·max|λ|:
 * skipped (NAN) when est = b|z_m| > tol·bound, bound ≥ ‖T_m‖ (Gershgorin), unless
 * `last`. Falls back to dstev when inverse iteration fails. */
static int tridiag_min(dln_lanczos *lz, int m, double b, double tol, double bound, int last) {
  lapack_int nf = 0, nsplit = 0, *iblock = lz->iw, *isplit = lz->iw + m, *iwork = lz->iw + 2 * m;
  double *sa = lz->zwork, *sb = lz->zwork + m; /* 2m + 2 doubles, unused until dstev */
  int e = 0;
  if (bound > 0 && isfinite(bound)) frexp(bound, &e);
  for (int i = 0; i < m; ++i) sa[i] = ldexp(lz->alpha[i], -e), sb[i] = ldexp(lz->beta[i], -e);
  lapack_int info = LAPACKE_dstebz_work('I', 'B', m, 0, 0, 1, 1, 0.0, sa, sb, &nf, &nsplit, lz->d, iblock, isplit,
                                        lz->rwork, iwork);
  if (info || nf != 1) return dln_error(DLN_ELAPACK, "dstebz (Lanczos tridiagonal of order %d) returned info=%d", m, (int)info);
  info = LAPACKE_dstein_work(LAPACK_COL_MAJOR, m, sa, sb, 1, lz->d, iblock, isplit, lz->z, m, lz->rwork, iwork,
                             iwork + m);
  if (info < 0) return dln_error(DLN_ELAPACK, "dstein (Lanczos tridiagonal of order %d) returned info=%d", m, (int)info);
  if (info > 0) return tridiag_eig(lz, m); /* inverse iteration did not converge: all pairs */
  lz->d[0] = ldexp(lz->d[0], e);
  if (m == 1) return DLN_OK;
  lz->d[m - 1] = NAN;
  if (!last && b * fabs(lz->z[m - 1]) > tol * bound) return DLN_OK; /* not converged whatever λ_max is */
  /* W (here lz->e) needs m entries: dstebz may store a cluster before keeping the one asked for */
  info = LAPACKE_dstebz_work('I', 'B', m, 0, 0, m, m, 0.0, sa, sb, &nf, &nsplit, lz->e, iblock, isplit, lz->rwork,
                             iwork);
  if (info || nf != 1) return dln_error(DLN_ELAPACK, "dstebz (Lanczos tridiagonal of order %d) returned info=%d", m, (int)info);
  lz->d[m - 1] = ldexp(lz->e[0], e);
  return DLN_OK;
}

/* After the iteration (res->iters = m): the Ritz vectors y = V z of λ_min (and λ_max
 * unless min_only), their true residuals ‖∇²φ y − λ y‖ and the verdict. */
static int ritz_finish(dln_lanczos *lz, dln_loss *loss, const double *theta, const dln_lanczos_options *opt,
                       dln_lanczos_result *res) {
  size_t n = lz->n;
  int dim = res->iters, nt = opt->min_only ? 1 : 2, st;
  res->lambda_min = lz->d[0];
  res->lambda_max = lz->d[dim - 1];
  cblas_dgemv(CblasColMajor, CblasNoTrans, (int)n, dim, 1.0, lz->V, (int)n, lz->z, 1, 0.0, lz->ymin, 1);
  if (nt == 2)
    cblas_dgemv(CblasColMajor, CblasNoTrans, (int)n, dim, 1.0, lz->V, (int)n, lz->z + (size_t)(dim - 1) * (size_t)dim, 1,
                0.0, lz->ymax, 1);
  double *y[2] = {lz->ymin, lz->ymax}, lam[2] = {res->lambda_min, res->lambda_max}, r[2] = {NAN, NAN};
  for (int t = 0; t < nt; ++t) {
    double ny = dln_norm2(n, y[t]);
    if (ny > 0) cblas_dscal((int)n, 1.0 / ny, y[t], 1);
    if ((st = dln_net_hvp(lz->net, loss, theta, y[t], lz->w))) return st;
    res->hvps++;
    cblas_daxpy((int)n, -lam[t], y[t], 1, lz->w, 1);
    r[t] = dln_norm2(n, lz->w);
  }
  res->resid_min = r[0];
  res->resid_max = r[1];
  double thr = opt->tol * fmax(fabs(res->lambda_min), fabs(res->lambda_max));
  double rmax = nt == 2 ? fmax(r[0], r[1]) : r[0];
  res->converged = rmax <= thr;
  if (res->converged && nt == 1)
    snprintf(res->message, sizeof res->message,
             "converged after %d steps: lambda_min %.6g (residual %.2g); top Ritz value %.6g", dim, res->lambda_min, r[0],
             res->lambda_max);
  else if (res->converged)
    snprintf(res->message, sizeof res->message,
             "converged after %d steps: lambda_min %.6g (residual %.2g), lambda_max %.6g (residual %.2g)", dim,
             res->lambda_min, r[0], res->lambda_max, r[1]);
  else
    snprintf(res->message, sizeof res->message,
             "did not converge: residual %.3g (lambda_min %.6g, residual %.3g; lambda_max %.6g) after %d steps, "
             "tolerance %.2g",
             rmax, res->lambda_min, r[0], res->lambda_max, dim, thr);
  return DLN_OK;
}

int dln_lanczos_run(dln_lanczos *lz, dln_loss *loss, const double *theta, const dln_lanczos_options *opt_in,
                    dln_lanczos_result *res) {
  if (!lz || !loss || !theta || !res) return dln_error(DLN_EINVAL, "dln_lanczos_run: NULL argument");
  dln_lanczos_options opt;
  dln_lanczos_default_options(&opt);
  if (opt_in) {
    if (opt_in->max_iter > 0) opt.max_iter = opt_in->max_iter;
    if (opt_in->tol > 0) opt.tol = opt_in->tol;
    if (opt_in->check_every > 0) opt.check_every = opt_in->check_every;
    if (opt_in->seed) opt.seed = opt_in->seed;
    opt.start = opt_in->start;
    opt.min_only = opt_in->min_only != 0;
  }
  memset(res, 0, sizeof *res);
  size_t n = lz->n;
  int mcap = opt.max_iter > 0 ? imin(opt.max_iter, lz->maxit) : lz->maxit;
  double *V = lz->V;
  /* v_0 = start / ‖start‖ */
  if (opt.start) {
    memcpy(V, opt.start, n * sizeof(double));
  } else {
    uint64_t s;
    xs_seed(&s, opt.seed);
    for (size_t i = 0; i < n; ++i) V[i] = xs_uniform(&s);
  }
  double nv = dln_norm2(n, V);
  if (!(nv > 0) || !isfinite(nv)) return dln_error(DLN_EINVAL, "dln_lanczos_run: start vector is zero or not finite");
  cblas_dscal((int)n, 1.0 / nv, V, 1);
  double anorm = 0;
  int dim = 0, invariant = 0, next_check = opt.check_every, st;
  double est_min = INFINITY, est_max = INFINITY, scale = 0;
  for (int j = 0; j < mcap; ++j) {
    double *vj = V + (size_t)j * n, *w = lz->w;
    if ((st = dln_net_hvp(lz->net, loss, theta, vj, w))) return st;
    res->hvps++;
    double a = dot(n, vj, w), b = 0;
    lz->alpha[j] = a;
    /* w ← w − α_j v_j − β_{j−1} v_{j−1}, then full reorthogonalization by classical
     * Gram–Schmidt, w ← w − V_{0:j} (V_{0:j}^T w), repeated only when the pass shrank ‖w‖
     * below 1/√2 of its norm (Daniel, Gragg, Kaufman, Stewart 1976): after the three-term
     * step the pass removes round-off only, so one pass is the rule */
    cblas_daxpy((int)n, -a, vj, 1, w, 1);
    if (j > 0) cblas_daxpy((int)n, -lz->beta[j - 1], vj - n, 1, w, 1);
    double wnorm = dln_norm2(n, w);
    for (int pass = 0; pass < 2; ++pass) {
      cblas_dgemv(CblasColMajor, CblasTrans, (int)n, j + 1, 1.0, V, (int)n, w, 1, 0.0, lz->c, 1);
      cblas_dgemv(CblasColMajor, CblasNoTrans, (int)n, j + 1, -1.0, V, (int)n, lz->c, 1, 1.0, w, 1);
      b = dln_norm2(n, w);
      if (b > 0.70710678118654752 * wnorm) break;
    }
    if (!isfinite(a) || !isfinite(b)) return dln_error(DLN_ENONFINITE, "Lanczos: non-finite Hessian-vector product at step %d", j);
    lz->beta[j] = b;
    anorm = fmax(anorm, fabs(a) + b + (j > 0 ? lz->beta[j - 1] : 0));
    dim = j + 1;
    invariant = b <= 1e-13 * anorm || b == 0 || (size_t)dim == n;
    if (invariant || dim == mcap || dim >= next_check) {
      if ((st = opt.min_only ? tridiag_min(lz, dim, b, opt.tol, anorm, invariant || dim == mcap) : tridiag_eig(lz, dim)))
        return st;
      next_check = dim + imax(opt.check_every, dim / 4);
      scale = fmax(fabs(lz->d[0]), fabs(lz->d[dim - 1]));
      est_min = b * fabs(lz->z[(size_t)(dim - 1)]);                               /* last entry, column 0 */
      est_max = opt.min_only ? 0 : b * fabs(lz->z[(size_t)(dim - 1) + (size_t)(dim - 1) * (size_t)dim]); /* column dim−1 */
      if (invariant || (est_min <= opt.tol * scale && est_max <= opt.tol * scale)) break;
    }
    cblas_dcopy((int)n, w, 1, V + (size_t)(j + 1) * n, 1);
    cblas_dscal((int)n, 1.0 / b, V + (size_t)(j + 1) * n, 1);
  }
  res->iters = dim;
  res->invariant = invariant;
  return ritz_finish(lz, loss, theta, &opt, res);
}

/* ---------------------------------------------------------------- point classification */
const char *dln_point_kind_name(int kind) {
  switch (kind) {
    case DLN_POINT_NOT_CRITICAL: return "not critical";
    case DLN_POINT_MINIMUM: return "minimum";
    case DLN_POINT_GLOBAL_MINIMUM: return "global minimum";
    case DLN_POINT_STRICT_SADDLE: return "strict saddle";
    case DLN_POINT_NONSTRICT_SADDLE: return "non-strict saddle";
    case DLN_POINT_UNDECIDED: return "undecided";
    default: return "unknown";
  }
}

void dln_point_default_options(dln_point_options *opt) {
  if (!opt) return;
  memset(opt, 0, sizeof *opt);
  opt->grad_tol = 1e-8;
  opt->eig_tol = 1e-7;
  opt->value_tol = 1e-8;
  opt->phi_star = NAN;
  opt->probes = 16;
  opt->seed = 7;
  dln_lanczos_default_options(&opt->lanczos);
}

/* The square losses of 004 (Prop. 4 i: every local minimum is global): ½‖W − Ȳ‖² and ½‖W X − Y‖². */
static int is_square_loss(const dln_loss *loss) {
  return dln_loss_has(loss, DLN_LOSS_IDENTITY) || dln_loss_has(loss, DLN_LOSS_LSQ_DESIGN);
}

/* φ* automatically: factorization → ½ Σ_{i>k} s_i² of Ȳ (k = narrowest width); other
 * losses → L* when no layer is narrower than min(d_0, d_N); NAN otherwise. Allocates
 * only for the factorization SVD. */
static double auto_phi_star(dln_net *net, dln_loss *loss) {
  int k = dln_net_min_width(net), rows = loss->rows, cols = loss->cols;
  if (dln_loss_has(loss, DLN_LOSS_IDENTITY) && loss->wstar) {
    int q = imin(rows, cols);
    double *w = malloc((size_t)rows * (size_t)cols * sizeof(double)), *s = malloc((size_t)q * sizeof(double));
    double v = NAN;
    if (w && s && dln_singular_values(rows, cols, loss->wstar, s, w) == DLN_OK) {
      v = 0;
      for (int i = k; i < q; ++i) v += sq(s[i]);
      v *= 0.5;
    }
    free(w);
    free(s);
    return v;
  }
  if (k >= imin(rows, cols)) return loss->lstar;
  return NAN;
}

/* Top singular pair of G (rows x cols) by power iteration on G^T G into lz->u, lz->v;
 * returns σ_1. */
static double top_pair(dln_lanczos *lz, int rows, int cols) {
  double *u = lz->u, *v = lz->v, s = 0;
  for (int i = 0; i < cols; ++i) v[i] = 1.0 + 0.01 * i;
  double nv = dln_norm2((size_t)cols, v);
  cblas_dscal(cols, 1.0 / nv, v, 1);
  for (int it = 0; it < 200; ++it) {
    cblas_dgemv(CblasColMajor, CblasNoTrans, rows, cols, 1.0, lz->G, rows, v, 1, 0.0, u, 1);
    s = dln_norm2((size_t)rows, u);
    if (!(s > 0)) return 0;
    cblas_dscal(rows, 1.0 / s, u, 1);
    cblas_dgemv(CblasColMajor, CblasTrans, rows, cols, 1.0, lz->G, rows, u, 1, 0.0, v, 1);
    nv = dln_norm2((size_t)cols, v);
    cblas_dscal(cols, 1.0 / nv, v, 1);
  }
  return s;
}

/* Probe φ(θ + σ t d) for σ = ±1 and t = 0.3, 0.1, …; on a decrease beyond rounding,
 * record it (and its fitted order in t) in res and the signed direction in lz->dir. */
static int probe(dln_lanczos *lz, dln_loss *loss, const double *theta, const double *d, double phi, const char *name,
                 dln_point_result *res) {
  static const double ts[] = {0.3, 0.1, 0.03, 0.01, 0.003, 0.001};
  const int nt = (int)(sizeof ts / sizeof ts[0]);
  size_t n = lz->n;
  double noise = 1e-11 * fmax(1.0, fabs(phi));
  for (int sgn = 1; sgn >= -1; sgn -= 2) {
    double dl[6];
    int neg = 0;
    for (int i = 0; i < nt; ++i) {
      for (size_t p = 0; p < n; ++p) lz->th[p] = theta[p] + sgn * ts[i] * d[p];
      double v;
      int st = dln_net_grad(lz->net, loss, lz->th, &v, NULL, NULL);
      if (st) return st;
      dl[i] = v - phi;
      if (dl[i] < -noise) neg++;
    }
    if (!neg) continue;
    /* order from the two smallest t with a clear decrease (fallback: the largest t) */
    int ia = -1, ib = -1;
    for (int i = 0; i < nt; ++i)
      if (dl[i] < -100 * noise) {
        ib = ia;
        ia = i;
      }
    double order = NAN;
    if (ia >= 0 && ib >= 0) order = log(dl[ib] / dl[ia]) / log(ts[ib] / ts[ia]);
    int best = ia;
    for (int i = 0; i < nt && best < 0; ++i)
      if (dl[i] < -noise) best = i;
    res->descent_found = 1;
    res->probe_decrease = dl[best];
    res->probe_t = ts[best];
    res->probe_order = order;
    res->probe_name = name;
    for (size_t p = 0; p < n; ++p) lz->dir[p] = sgn * d[p];
    return DLN_OK;
  }
  return DLN_OK;
}

int dln_point_classify(dln_lanczos *lz, dln_loss *loss, const double *theta, const dln_point_options *opt_in,
                       dln_point_result *res) {
  if (!lz || !loss || !theta || !res) return dln_error(DLN_EINVAL, "dln_point_classify: NULL argument");
  dln_point_options opt;
  dln_point_default_options(&opt);
  if (opt_in) opt = *opt_in;
  if (!(opt.grad_tol > 0)) opt.grad_tol = 1e-8;
  if (!(opt.eig_tol > 0)) opt.eig_tol = 1e-7;
  if (!(opt.value_tol > 0)) opt.value_tol = 1e-8;
  memset(res, 0, sizeof *res);
  dln_net *net = lz->net;
  size_t n = lz->n;
  int st = dln_net_grad(net, loss, theta, &res->phi, lz->g, lz->W);
  if (st) return st;
  res->grad_norm = dln_norm2(n, lz->g);
  res->phi_star = isnan(opt.phi_star) ? auto_phi_star(net, loss) : opt.phi_star;
  res->probe_decrease = 0;
  res->probe_t = res->probe_order = NAN;
  res->probe_name = NULL;
  if ((st = dln_lanczos_run(lz, loss, theta, &opt.lanczos, &res->eig))) return st;
  double phi = res->phi;
  int critical = res->grad_norm <= opt.grad_tol * fmax(1.0, fabs(phi));
  double escale = fmax(1.0, fmax(fabs(res->eig.lambda_min), fabs(res->eig.lambda_max)));
  char *m = res->message;
  size_t cap = sizeof res->message;
  if (!critical) {
    res->kind = DLN_POINT_NOT_CRITICAL;
    snprintf(m, cap, "not critical: |grad| = %.3g", res->grad_norm);
    return DLN_OK;
  }
  if (!isnan(res->phi_star) && phi - res->phi_star <= opt.value_tol * fmax(1.0, fabs(res->phi_star))) {
    res->kind = DLN_POINT_GLOBAL_MINIMUM;
    snprintf(m, cap, "global minimum: phi = %.6g, phi* = %.6g, |grad| = %.2g, lambda_min = %.3g", phi, res->phi_star,
             res->grad_norm, res->eig.lambda_min);
    return DLN_OK;
  }
  /* A Ritz value is a Rayleigh quotient: λ_min(Ritz) < 0 certifies a negative
   * eigenvalue even before convergence. */
  if (res->eig.lambda_min < -opt.eig_tol * escale) {
    res->kind = DLN_POINT_STRICT_SADDLE;
    res->descent = lz->ymin;
    snprintf(m, cap, "strict saddle: lambda_min = %.6g (residual %.2g), descent along its eigenvector; phi = %.6g",
             res->eig.lambda_min, res->eig.resid_min, phi);
    return DLN_OK;
  }
  if (!res->eig.converged) {
    res->kind = DLN_POINT_UNDECIDED;
    snprintf(m, cap, "undecided: Lanczos %s", res->eig.message);
    return DLN_OK;
  }
  /* Hessian ⪰ 0 within tolerance: higher-order probes. (1) the chain direction of
   * 002 Proposition 3: d_j = a_j a_{j−1}^T/√N with a_N = u, a_0 = v the top singular
   * pair of −∇ℓ(W) and a_j = e_1 in the hidden layers (φ decreases at order N at the
   * origin); (2) the λ_min eigenvector; (3) random directions. */
  if (!net->tied) {
    int rows = loss->rows, cols = loss->cols;
    double val;
    if ((st = dln_loss_eval(loss, lz->W, &val, lz->G))) return st;
    double s1 = top_pair(lz, rows, cols);
    if (s1 > 0) {
      int N = net->depth;
      double c = 1.0 / sqrt((double)N);
      memset(lz->w, 0, n * sizeof(double));
      for (int j = 1; j <= N; ++j) {
        int dj = net->widths[j], dj1 = net->widths[j - 1];
        double *L = lz->w + net->offset[j];
        for (int b = 0; b < dj1; ++b)
          for (int a = 0; a < dj; ++a) {
            double left = j == N ? -lz->u[a] : (a == 0); /* −u: descent for ⟨∇ℓ, ·⟩ */
            double right = j == 1 ? lz->v[b] : (b == 0);
            L[a + (size_t)b * dj] = c * left * right;
          }
      }
      if ((st = probe(lz, loss, theta, lz->w, phi, "chain (002 Prop. 3)", res))) return st;
    }
  }
  if (!res->descent_found) {
    memcpy(lz->w, lz->ymin, n * sizeof(double));
    if ((st = probe(lz, loss, theta, lz->w, phi, "eigenvector of lambda_min", res))) return st;
  }
  uint64_t seed;
  xs_seed(&seed, opt.seed);
  for (int p = 0; p < opt.probes && !res->descent_found; ++p) {
    for (size_t i = 0; i < n; ++i) lz->w[i] = xs_uniform(&seed);
    cblas_dscal((int)n, 1.0 / dln_norm2(n, lz->w), lz->w, 1);
    if ((st = probe(lz, loss, theta, lz->w, phi, "random", res))) return st;
  }
  if (res->descent_found) {
    res->kind = DLN_POINT_NONSTRICT_SADDLE;
    res->descent = lz->dir;
    snprintf(m, cap,
             "non-strict saddle: lambda_min = %.3g >= -tol, but phi decreases by %.3g at t = %g along the %s "
             "direction (order %.2g in t)",
             res->eig.lambda_min, res->probe_decrease, res->probe_t, res->probe_name, res->probe_order);
    return DLN_OK;
  }
  if (!isnan(res->phi_star) && is_square_loss(loss)) {
    res->kind = DLN_POINT_NONSTRICT_SADDLE;
    snprintf(m, cap,
             "non-strict saddle: Hessian >= 0 (lambda_min = %.3g) and no descent probe succeeded, but phi = %.6g > "
             "phi* = %.6g and every local minimum is global (004 Prop. 4 i)",
             res->eig.lambda_min, phi, res->phi_star);
    return DLN_OK;
  }
  res->kind = DLN_POINT_MINIMUM;
  snprintf(m, cap, "minimum (second order; no higher-order descent found): phi = %.6g, lambda_min = %.3g", phi,
           res->eig.lambda_min);
  return DLN_OK;
}

/* ==================================================================== (d) 000 Theorem 3 */
int dln_equilibrium_check(dln_net *net, dln_loss *loss, const double *theta, double tol, dln_equilibrium *out) {
  if (!net || !loss || !theta || !out) return dln_error(DLN_EINVAL, "dln_equilibrium_check: NULL argument");
  if (net->depth < 2 || net->tied)
    return dln_error(DLN_ENOTAPPLICABLE, "000 Theorem 3 needs an untied net of depth >= 2 (depth %d%s)", net->depth,
                     net->tied ? ", tied" : "");
  if (!(tol > 0)) tol = 1e-8;
  memset(out, 0, sizeof *out);
  int N = net->depth, dN = net->widths[N], d0 = net->widths[0], h = net->widths[N - 1];
  size_t np = net->nparams;
  int st = DLN_OK;
  double *g = malloc(np * sizeof(double)), *W = malloc((size_t)dN * d0 * sizeof(double));
  double *R = malloc((size_t)dN * d0 * sizeof(double)), *a = malloc((size_t)dN * d0 * sizeof(double));
  double *M = malloc((size_t)h * d0 * sizeof(double)), *tmp = malloc((size_t)h * d0 * sizeof(double));
  double *Phi = malloc((size_t)dN * dN * sizeof(double)), *PsiT = malloc((size_t)d0 * d0 * sizeof(double));
  double *s = malloc((size_t)imin(dN, d0) * sizeof(double));
  double *X = malloc((size_t)imax(dN, d0) * (size_t)imax(h, imax(dN, d0)) * sizeof(double));
  if (!g || !W || !R || !a || !M || !tmp || !Phi || !PsiT || !s || !X) {
    st = dln_error(DLN_ENOMEM, "dln_equilibrium_check: out of memory");
    goto done;
  }
  double phi;
  if ((st = dln_net_grad(net, loss, theta, &phi, g, W))) goto done;
  out->grad_norm = dln_norm2(np, g);
  if ((st = dln_loss_eval(loss, W, &phi, R))) goto done;
  cblas_dscal(dN * d0, -1.0, R, 1); /* R = −∇ℓ(W) */
  /* M = W_{N−1}···W_1 (h x d0) */
  memcpy(M, dln_net_layer_const(net, theta, 1), (size_t)net->widths[1] * d0 * sizeof(double));
  for (int j = 2; j <= N - 1; ++j) {
    int dj = net->widths[j], dj1 = net->widths[j - 1];
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, dj, d0, dj1, 1.0, dln_net_layer_const(net, theta, j), dj, M,
                dj1, 0.0, tmp, dj);
    memcpy(M, tmp, (size_t)dj * d0 * sizeof(double));
  }
  const double *Q = dln_net_layer_const(net, theta, N); /* dN x h */
  double nR = dln_norm2((size_t)dN * d0, R), nQ = dln_norm2((size_t)dN * h, Q), nM = dln_norm2((size_t)h * d0, M);
  /* statement 1 (dln form): W_N^T R = 0 (000: (Ȳ − PQ^T) Q = 0) and R M^T = 0 */
  cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, h, d0, dN, 1.0, Q, dN, R, dN, 0.0, X, h);
  out->stmt1_q = dln_norm2((size_t)h * d0, X);
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, dN, h, d0, 1.0, R, dN, M, h, 0.0, X, dN);
  out->stmt1_p = dln_norm2((size_t)dN * h, X);
  /* statement 2: R = Φ Σ Ψ^T (full SVD); Φ_1, Ψ_1 the vectors of σ_i > tol·scale */
  memcpy(a, R, (size_t)dN * d0 * sizeof(double));
  lapack_int info = LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'A', dN, d0, a, dN, s, Phi, dN, PsiT, d0);
  if (info != 0) {
    st = dln_error(DLN_ELAPACK, "dgesdd (residual %dx%d) returned info=%d", dN, d0, (int)info);
    goto done;
  }
  double nW = dln_norm2((size_t)dN * d0, W);
  double scale = fmax(fmax(nR, nW), DBL_MIN);
  int rho = 0;
  while (rho < imin(dN, d0) && s[rho] > tol * scale) ++rho;
  out->residual_rank = rho;
  /* A layer at the tolerance of the problem's scale (the zero equilibrium of a run that
   * went to the saddle 0) lies in every subspace: its direction is round-off, and the
   * alignment ratio below would measure noise, so it counts as aligned. */
  double zero_layer = tol * sqrt(fmax(scale, 1.0));
  if (rho > 0 && nQ > zero_layer) {
    /* Φ_1^T W_N (rho x h): the columns of W_N must lie in R's left null space */
    cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, rho, h, dN, 1.0, Phi, dN, Q, dN, 0.0, X, rho);
    out->align_q = dln_norm2((size_t)rho * h, X) / fmax(nQ, DBL_MIN);
  }
  if (rho > 0 && nM > zero_layer) {
    /* M Ψ_1 (h x rho), Ψ_1 = first rho rows of Ψ^T transposed */
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, h, rho, d0, 1.0, M, h, PsiT, d0, 0.0, X, h);
    out->align_p = dln_norm2((size_t)h * rho, X) / fmax(nM, DBL_MIN);
  }
  double s1 = fmax(nR * fmax(nQ, nM), DBL_MIN);
  out->stmt1_holds = out->stmt1_q <= tol * fmax(s1, 1.0) && out->stmt1_p <= tol * fmax(s1, 1.0);
  out->holds = out->align_q <= sqrt(tol) && out->align_p <= sqrt(tol);
  snprintf(out->message, sizeof out->message,
           "000 Thm 3 %s: rank(R) = %d, |Phi1^T W_N|/|W_N| = %.2g, |W_{N-1:1} Psi1|/|W_{N-1:1}| = %.2g; statement 1 "
           "%s (|W_N^T R| = %.2g, |R W_{N-1:1}^T| = %.2g); |grad| = %.2g",
           out->holds ? "holds" : "fails", rho, out->align_q, out->align_p, out->stmt1_holds ? "holds" : "fails",
           out->stmt1_q, out->stmt1_p, out->grad_norm);
done:
  free(g);
  free(W);
  free(R);
  free(a);
  free(M);
  free(tmp);
  free(Phi);
  free(PsiT);
  free(s);
  free(X);
  return st;
}
