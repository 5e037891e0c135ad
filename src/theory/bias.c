/* Implicit-bias measures of the end-to-end matrix (dln/bias.h).
 *
 * Schatten-p quasi-norms and the nuclear norm (002 §4.1), Roy–Vetterli effective
 * rank, distance to the reference (min-norm) solution (003 §3, Theorem 2), sign of
 * det W_{N:1} (002 Lemma 2), and the orthogonality measure ‖V U_2^T‖_F + ‖U_1 U_2^T‖_F
 * of 003 Proposition 1 / eq. 18 in dln's convention W_1 = U^T, W_2 = V:
 *   V U_2^T   = W_2 W_1 Φ_2 = W Φ_2,
 *   U_1 U_2^T = Φ_1^T W_1^T W_1 Φ_2 = (W_1 Φ_1)^T (W_1 Φ_2).
 * All LAPACK calls go through the *_work interfaces with buffers sized at _alloc. */
#include "dln/bias.h"

#include <cblas.h>
#include <float.h>
#include <lapacke.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "dln/error.h"

struct dln_bias {
  int rows, cols, k;
  double *a;      /* rows x cols copy (destroyed by LAPACK) */
  double *s;      /* k */
  double *u;      /* rows x k */
  double *vt;     /* k x cols */
  double *work;
  lapack_int lwork;
  lapack_int *iwork; /* 8k for dgesdd; also ipiv for dgetrf */
  int have_s;
};

static double sq(double x) { return x * x; }

double dln_schatten(int k, const double *s, double p) {
  if (k > 0) DLN_ARGS_V(NAN, s);
  DLN_INDEX_V(NAN, k, 0, INT_MAX);
  if (!(p > 0) || k < 0) return NAN;
  double smax = 0;
  for (int i = 0; i < k; ++i) {
    if (isnan(s[i])) return NAN;
    double a = fabs(s[i]);
    if (a > smax) smax = a;
  }
  if (smax == 0) return 0;
  if (isinf(p)) return smax;
  if (isinf(smax)) return INFINITY;
  /* (Σ s_i^p)^{1/p} = s_max (Σ (s_i/s_max)^p)^{1/p} */
  double acc = 0;
  for (int i = 0; i < k; ++i) {
    double a = fabs(s[i]) / smax;
    if (a > 0) acc += pow(a, p);
  }
  return smax * pow(acc, 1.0 / p);
}

double dln_effective_rank(int k, const double *s) {
  if (k > 0) DLN_ARGS_V(NAN, s);
  DLN_INDEX_V(NAN, k, 0, INT_MAX);
  double sum = 0;
  for (int i = 0; i < k; ++i) sum += fabs(s[i]);
  if (isnan(sum)) return NAN;
  if (sum == 0) return 0;
  double h = 0;
  for (int i = 0; i < k; ++i) {
    double p = fabs(s[i]) / sum;
    if (p > 0) h -= p * log(p);
  }
  return exp(h);
}

double dln_stable_rank(int k, const double *s) {
  if (k > 0) DLN_ARGS_V(NAN, s);
  DLN_INDEX_V(NAN, k, 0, INT_MAX);
  double smax = 0, acc = 0;
  for (int i = 0; i < k; ++i)
    if (fabs(s[i]) > smax) smax = fabs(s[i]);
  if (isnan(smax)) return NAN;
  if (smax == 0) return 0;
  for (int i = 0; i < k; ++i) acc += sq(s[i] / smax);
  return acc;
}

int dln_bias_alloc(dln_bias **out, int rows, int cols) {
  if (!out) return dln_error(DLN_EINVAL, "dln_bias_alloc: out is NULL");
  *out = NULL;
  if (rows < 1 || cols < 1) return dln_error(DLN_EDIM, "dln_bias_alloc: matrix %dx%d, expected rows, cols >= 1", rows, cols);
  size_t na;
  if (dln_size_mul((size_t)rows, (size_t)cols, &na) != DLN_OK) return DLN_ENOMEM;
  dln_bias *b = calloc(1, sizeof *b);
  if (!b) return dln_error(DLN_ENOMEM, "dln_bias_alloc: out of memory");
  b->rows = rows;
  b->cols = cols;
  b->k = rows < cols ? rows : cols;
  int k = b->k;
  b->a = malloc(na * sizeof(double));
  b->s = malloc((size_t)k * sizeof(double));
  b->u = malloc((size_t)rows * (size_t)k * sizeof(double));
  b->vt = malloc((size_t)k * (size_t)cols * sizeof(double));
  b->iwork = malloc((size_t)(8 * k + rows + cols) * sizeof(lapack_int));
  if (!b->a || !b->s || !b->u || !b->vt || !b->iwork) {
    dln_bias_free(b);
    return dln_error(DLN_ENOMEM, "dln_bias_alloc: out of memory for a %dx%d workspace", rows, cols);
  }
  /* workspace query for the thin SVD (covers jobz = 'N' too) */
  double q = 0;
  lapack_int info = LAPACKE_dgesdd_work(LAPACK_COL_MAJOR, 'S', rows, cols, b->a, rows, b->s, b->u, rows, b->vt, k, &q,
                                        -1, b->iwork);
  if (info != 0) {
    dln_bias_free(b);
    return dln_error(DLN_ELAPACK, "dgesdd workspace query (%dx%d) returned info=%d", rows, cols, (int)info);
  }
  b->lwork = (lapack_int)q + 1;
  b->work = malloc((size_t)b->lwork * sizeof(double));
  if (!b->work) {
    dln_bias_free(b);
    return dln_error(DLN_ENOMEM, "dln_bias_alloc: out of memory for the SVD workspace");
  }
  *out = b;
  return DLN_OK;
}

void dln_bias_free(dln_bias *b) {
  if (!b) return;
  free(b->a);
  free(b->s);
  free(b->u);
  free(b->vt);
  free(b->work);
  free(b->iwork);
  free(b);
}

static int bias_svd(dln_bias *b, const double *W, char jobz) {
  if (!b || !W) return dln_error(DLN_EINVAL, "dln_bias: NULL workspace or matrix");
  memcpy(b->a, W, (size_t)b->rows * (size_t)b->cols * sizeof(double));
  int st = dln_check_finite("W", b->rows, b->cols, b->a);
  if (st) return st;
  lapack_int info = LAPACKE_dgesdd_work(LAPACK_COL_MAJOR, jobz, b->rows, b->cols, b->a, b->rows, b->s, b->u, b->rows,
                                        b->vt, b->k, b->work, b->lwork, b->iwork);
  if (info != 0) return dln_error(DLN_ELAPACK, "dgesdd (%dx%d) returned info=%d", b->rows, b->cols, (int)info);
  b->have_s = 1;
  return DLN_OK;
}

int dln_bias_singular_values(dln_bias *b, const double *W, double *s) {
  int st = bias_svd(b, W, 'N');
  if (st) return st;
  if (s) memcpy(s, b->s, (size_t)b->k * sizeof(double));
  return DLN_OK;
}

int dln_bias_svd(dln_bias *b, const double *W, double *U, double *s, double *Vt) {
  int st = bias_svd(b, W, 'S');
  if (st) return st;
  if (U) memcpy(U, b->u, (size_t)b->rows * (size_t)b->k * sizeof(double));
  if (s) memcpy(s, b->s, (size_t)b->k * sizeof(double));
  if (Vt) memcpy(Vt, b->vt, (size_t)b->k * (size_t)b->cols * sizeof(double));
  return DLN_OK;
}

const double *dln_bias_svd_u(const dln_bias *b) {
  DLN_ARGS_P(b);
  return b ? b->u : NULL;
}
const double *dln_bias_svd_s(const dln_bias *b) {
  DLN_ARGS_P(b);
  return b ? b->s : NULL;
}
const double *dln_bias_svd_vt(const dln_bias *b) {
  DLN_ARGS_P(b);
  return b ? b->vt : NULL;
}

int dln_bias_det_sign(dln_bias *b, const double *W, int *sign, double *log_abs_det) {
  if (!b || !W || !sign) return dln_error(DLN_EINVAL, "dln_bias_det_sign: NULL argument");
  if (b->rows != b->cols) return dln_error(DLN_EDIM, "dln_bias_det_sign: W is %dx%d, expected square", b->rows, b->cols);
  int n = b->rows;
  memcpy(b->a, W, (size_t)n * (size_t)n * sizeof(double));
  int st = dln_check_finite("W", n, n, b->a);
  if (st) return st;
  /* P A = L U: det A = (−1)^{#swaps} Π u_ii */
  lapack_int info = LAPACKE_dgetrf_work(LAPACK_COL_MAJOR, n, n, b->a, n, b->iwork);
  if (info < 0) return dln_error(DLN_ELAPACK, "dgetrf (%dx%d) returned info=%d", n, n, (int)info);
  int sg = 1;
  double lad = 0;
  for (int i = 0; i < n; ++i) {
    double d = b->a[i + (size_t)i * (size_t)n];
    if (b->iwork[i] != i + 1) sg = -sg;
    if (d == 0) {
      sg = 0;
      lad = -INFINITY;
      break;
    }
    if (d < 0) sg = -sg;
    lad += log(fabs(d));
  }
  *sign = sg;
  if (log_abs_det) *log_abs_det = lad;
  return DLN_OK;
}

int dln_bias_eval(dln_bias *b, const double *W, const double *wref, dln_bias_result *res) {
  DLN_ARGS(b, W, res);
  if (!res) return dln_error(DLN_EINVAL, "dln_bias_eval: result is NULL");
  int st = bias_svd(b, W, 'N');
  if (st) return st;
  int k = b->k;
  memset(res, 0, sizeof *res);
  res->k = k;
  res->spectral = k ? b->s[0] : 0;
  res->nuclear = dln_schatten(k, b->s, 1.0);
  res->fro = dln_schatten(k, b->s, 2.0);
  res->effective_rank = dln_effective_rank(k, b->s);
  res->stable_rank = dln_stable_rank(k, b->s);
  double thr = (double)(b->rows > b->cols ? b->rows : b->cols) * DBL_EPSILON * res->spectral;
  res->rank = 0;
  for (int i = 0; i < k; ++i)
    if (b->s[i] > thr) res->rank++;
  res->dist_ref = res->rel_dist_ref = NAN;
  if (wref) {
    size_t na = (size_t)b->rows * (size_t)b->cols;
    double d2 = 0, r2 = 0;
    for (size_t i = 0; i < na; ++i) {
      d2 += sq(W[i] - wref[i]);
      r2 += sq(wref[i]);
    }
    res->dist_ref = sqrt(d2);
    res->rel_dist_ref = r2 > 0 ? sqrt(d2 / r2) : NAN;
  }
  res->det_sign = 0;
  res->log_abs_det = NAN;
  if (b->rows == b->cols) {
    /* dgetrf overwrites b->a only; the singular values in b->s stay valid */
    st = dln_bias_det_sign(b, W, &res->det_sign, &res->log_abs_det);
    if (st) return st;
  }
  return DLN_OK;
}

double dln_bias_schatten(const dln_bias *b, double p) {
  DLN_ARGS_V(NAN, b);
  if (!b || !b->have_s) return NAN;
  return dln_schatten(b->k, b->s, p);
}

/* ------------------------------------------------------------ 003 orthogonality */
struct dln_orth {
  int d0, h, m, r;
  size_t off1, off2;
  double *phi1; /* d0 x r */
  double *phi2; /* d0 x (d0 − r) */
  double *A1;   /* h x r:        W_1 Φ_1 */
  double *A2;   /* h x (d0 − r): W_1 Φ_2 */
  double *B;    /* max(m, r) x (d0 − r) */
};

void dln_orth_free(dln_orth *o) {
  if (!o) return;
  free(o->phi1);
  free(o->phi2);
  free(o->A1);
  free(o->A2);
  free(o->B);
  free(o);
}

int dln_orth_rank(const dln_orth *o) {
  DLN_ARGS_V(-1, o);
  return o->r;
}

int dln_orth_alloc(dln_orth **out, const dln_net *net, const dln_mat *X) {
  if (!out || !net || !X) return dln_error(DLN_EINVAL, "dln_orth_alloc: NULL argument");
  *out = NULL;
  if (net->depth != 2 || net->tied)
    return dln_error(DLN_ENOTAPPLICABLE, "orthogonality measure (003 §3): needs an untied depth-2 net, got depth %d%s",
                     net->depth, net->tied ? " (tied)" : "");
  int d0 = net->widths[0], h = net->widths[1], m = net->widths[2];
  if (X->rows != d0) return dln_error(DLN_EDIM, "orthogonality measure: X has %d rows, expected d_0 = %d", X->rows, d0);
  int n = X->cols;
  int st = DLN_OK;
  dln_orth *o = calloc(1, sizeof *o);
  double *a = malloc(((size_t)d0 * (size_t)(n > 0 ? n : 1)) * sizeof(double));
  double *u = malloc((size_t)d0 * (size_t)d0 * sizeof(double));
  double *s = malloc((size_t)(d0 < n ? d0 : (n > 0 ? n : 1)) * sizeof(double) + sizeof(double));
  double vt1;
  if (!o || !a || !u || !s) {
    st = dln_error(DLN_ENOMEM, "dln_orth_alloc: out of memory");
    goto done;
  }
  o->d0 = d0;
  o->h = h;
  o->m = m;
  o->off1 = net->offset[1];
  o->off2 = net->offset[2];
  int k = d0 < n ? d0 : n;
  o->r = 0;
  if (n > 0) {
    memcpy(a, X->data, (size_t)d0 * (size_t)n * sizeof(double));
    /* X = U S V^T with the full U (dgesvd, jobu = 'A', no V): Φ_1 = first r columns of U,
     * Φ_2 = the rest */
    double *superb = malloc((size_t)(k > 1 ? k : 1) * sizeof(double));
    if (!superb) {
      st = dln_error(DLN_ENOMEM, "dln_orth_alloc: out of memory");
      goto done;
    }
    lapack_int info = LAPACKE_dgesvd(LAPACK_COL_MAJOR, 'A', 'N', d0, n, a, d0, s, u, d0, &vt1, 1, superb);
    free(superb);
    if (info != 0) {
      st = dln_error(DLN_ELAPACK, "dgesvd (SVD of X, %dx%d) returned info=%d", d0, n, (int)info);
      goto done;
    }
    double thr = (double)(d0 > n ? d0 : n) * DBL_EPSILON * s[0];
    for (int i = 0; i < k; ++i)
      if (s[i] > thr) o->r++;
  } else {
    for (int i = 0; i < d0; ++i)
      for (int j = 0; j < d0; ++j) u[i + (size_t)j * d0] = i == j;
  }
  int r = o->r, c = d0 - r;
  o->phi1 = malloc((size_t)d0 * (size_t)(r ? r : 1) * sizeof(double));
  o->phi2 = malloc((size_t)d0 * (size_t)(c ? c : 1) * sizeof(double));
  o->A1 = malloc((size_t)h * (size_t)(r ? r : 1) * sizeof(double));
  o->A2 = malloc((size_t)h * (size_t)(c ? c : 1) * sizeof(double));
  o->B = malloc((size_t)(m > r ? m : (r ? r : 1)) * (size_t)(c ? c : 1) * sizeof(double));
  if (!o->phi1 || !o->phi2 || !o->A1 || !o->A2 || !o->B) {
    st = dln_error(DLN_ENOMEM, "dln_orth_alloc: out of memory");
    goto done;
  }
  memcpy(o->phi1, u, (size_t)d0 * (size_t)r * sizeof(double));
  memcpy(o->phi2, u + (size_t)d0 * (size_t)r, (size_t)d0 * (size_t)c * sizeof(double));
done:
  free(a);
  free(u);
  free(s);
  if (st) {
    dln_orth_free(o);
    return st;
  }
  *out = o;
  return DLN_OK;
}

int dln_orth_eval(dln_orth *o, const double *theta, double *vu2, double *u1u2, double *total) {
  if (!o || !theta) return dln_error(DLN_EINVAL, "dln_orth_eval: NULL argument");
  int d0 = o->d0, h = o->h, m = o->m, r = o->r, c = d0 - r;
  const double *W1 = theta + o->off1, *W2 = theta + o->off2;
  double a = 0, b = 0;
  if (c > 0) {
    /* A2 = W_1 Φ_2 (h x c) */
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, h, c, d0, 1.0, W1, h, o->phi2, d0, 0.0, o->A2, h);
    /* V U_2^T = W_2 (W_1 Φ_2) (m x c) */
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, m, c, h, 1.0, W2, m, o->A2, h, 0.0, o->B, m);
    a = dln_norm2((size_t)m * (size_t)c, o->B);
    if (r > 0) {
      /* A1 = W_1 Φ_1 (h x r); U_1 U_2^T = A1^T A2 (r x c) */
      cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, h, r, d0, 1.0, W1, h, o->phi1, d0, 0.0, o->A1, h);
      cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, r, c, h, 1.0, o->A1, h, o->A2, h, 0.0, o->B, r);
      b = dln_norm2((size_t)r * (size_t)c, o->B);
    }
  }
  if (vu2) *vu2 = a;
  if (u1u2) *u1u2 = b;
  if (total) *total = a + b;
  return DLN_OK;
}
