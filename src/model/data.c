/* Synthetic data for the papers' tasks (dln/data.h): Gaussian and low-rank targets
 * (001 Fig. 1), symmetric targets (001 §2), regression data (003, 004), matrix
 * sensing and completion measurements (002 §4.1). Haar factors come from
 * dln_rng_orthogonal; every matrix product goes through CBLAS. */
#include "dln/data.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "dln/error.h"

static int check_out(void *out, const char *who) {
  if (!out) return dln_error(DLN_EINVAL, "%s: output pointer: expected non-NULL, found NULL", who);
  return DLN_OK;
}

static int check_dims(const char *who, int rows, int cols) {
  if (rows < 1 || cols < 1)
    return dln_error(DLN_EINVAL, "%s: shape: expected rows >= 1 and cols >= 1, found %d x %d", who, rows, cols);
  return DLN_OK;
}

int dln_data_gaussian(dln_rng *rng, int rows, int cols, double sigma, dln_mat **out) {
  int st;
  if ((st = check_out(out, "gaussian data"))) return st;
  *out = NULL;
  if (!rng) return dln_error(DLN_EINVAL, "gaussian data: rng: expected a random stream, found NULL");
  if ((st = check_dims("gaussian data", rows, cols))) return st;
  if (!isfinite(sigma) || sigma < 0)
    return dln_error(DLN_EINVAL, "gaussian data: sigma: expected a finite value >= 0, found %g", sigma);
  dln_mat *a = dln_mat_alloc(rows, cols);
  if (!a) return DLN_ENOMEM;
  dln_rng_fill_gaussian(rng, a->data, (size_t)rows * (size_t)cols, sigma);
  *out = a;
  return DLN_OK;
}

int dln_data_lowrank(dln_rng *rng, int rows, int cols, int nsv, const double *s, dln_mat **out) {
  int st;
  if ((st = check_out(out, "low-rank data"))) return st;
  *out = NULL;
  if (!rng) return dln_error(DLN_EINVAL, "low-rank data: rng: expected a random stream, found NULL");
  if ((st = check_dims("low-rank data", rows, cols))) return st;
  int k = rows < cols ? rows : cols;
  if (nsv < 0 || nsv > k)
    return dln_error(DLN_EINVAL, "low-rank data: nsv: expected 0 <= nsv <= min(rows, cols) = %d, found %d", k, nsv);
  if (nsv > 0 && !s) return dln_error(DLN_EINVAL, "low-rank data: s: expected %d singular values, found NULL", nsv);
  for (int i = 0; i < nsv; ++i)
    if (!isfinite(s[i]) || s[i] < 0)
      return dln_error(DLN_EINVAL, "low-rank data: s[%d]: expected a finite value >= 0, found %g", i, s[i]);
  dln_mat *a = dln_mat_alloc(rows, cols);
  if (!a) return DLN_ENOMEM;
  if (nsv == 0) {
    *out = a;
    return DLN_OK;
  }
  double *u = dln_xcalloc((size_t)rows * (size_t)nsv, sizeof(double));
  double *v = dln_xcalloc((size_t)cols * (size_t)nsv, sizeof(double));
  if (!u || !v) {
    st = dln_error(DLN_ENOMEM, "low-rank data: out of memory for %d x %d factors", rows, cols);
    goto fail;
  }
  if ((st = dln_rng_orthogonal(rng, rows, nsv, u))) goto fail;
  if ((st = dln_rng_orthogonal(rng, cols, nsv, v))) goto fail;
  for (int i = 0; i < nsv; ++i) cblas_dscal(rows, s[i], u + (size_t)i * rows, 1);
  /* Ȳ = (U diag(s)) V^T */
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, rows, cols, nsv, 1.0, u, rows, v, cols, 0.0, a->data, rows);
  free(u);
  free(v);
  *out = a;
  return DLN_OK;
fail:
  free(u);
  free(v);
  dln_mat_free(a);
  return st;
}

int dln_data_symmetric(dln_rng *rng, int m, const double *lambda, dln_mat **out) {
  int st;
  if ((st = check_out(out, "symmetric data"))) return st;
  *out = NULL;
  if (!rng) return dln_error(DLN_EINVAL, "symmetric data: rng: expected a random stream, found NULL");
  if (m < 1) return dln_error(DLN_EINVAL, "symmetric data: m: expected >= 1, found %d", m);
  if (!lambda) return dln_error(DLN_EINVAL, "symmetric data: lambda: expected %d eigenvalues, found NULL", m);
  for (int i = 0; i < m; ++i)
    if (!isfinite(lambda[i]))
      return dln_error(DLN_EINVAL, "symmetric data: lambda[%d]: expected a finite value, found %g", i, lambda[i]);
  dln_mat *a = dln_mat_alloc(m, m);
  double *phi = dln_xcalloc((size_t)m * (size_t)m, sizeof(double));
  double *pl = dln_xcalloc((size_t)m * (size_t)m, sizeof(double));
  if (!a || !phi || !pl) {
    st = a ? dln_error(DLN_ENOMEM, "symmetric data: out of memory for %d x %d", m, m) : DLN_ENOMEM;
    goto fail;
  }
  if ((st = dln_rng_orthogonal(rng, m, m, phi))) goto fail;
  memcpy(pl, phi, (size_t)m * (size_t)m * sizeof(double));
  for (int i = 0; i < m; ++i) cblas_dscal(m, lambda[i], pl + (size_t)i * m, 1);
  /* Y = (Φ Λ) Φ^T, then symmetrized exactly */
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, m, m, m, 1.0, pl, m, phi, m, 0.0, a->data, m);
  for (int j = 0; j < m; ++j)
    for (int i = j + 1; i < m; ++i) {
      double v = 0.5 * (a->data[i + (size_t)j * m] + a->data[j + (size_t)i * m]);
      a->data[i + (size_t)j * m] = a->data[j + (size_t)i * m] = v;
    }
  free(phi);
  free(pl);
  *out = a;
  return DLN_OK;
fail:
  free(phi);
  free(pl);
  dln_mat_free(a);
  return st;
}

int dln_data_regression(dln_rng *rng, int d0, int dout, int n, int x_rank, const dln_mat *W_true, double noise,
                        dln_mat **X, dln_mat **Y) {
  int st;
  if ((st = check_out(X, "regression data (X)"))) return st;
  if ((st = check_out(Y, "regression data (Y)"))) return st;
  *X = NULL;
  *Y = NULL;
  if (!rng) return dln_error(DLN_EINVAL, "regression data: rng: expected a random stream, found NULL");
  if (d0 < 1 || dout < 1 || n < 1)
    return dln_error(DLN_EINVAL, "regression data: sizes: expected d0, dout, n >= 1, found d0=%d dout=%d n=%d", d0,
                     dout, n);
  int k = d0 < n ? d0 : n;
  if (x_rank > k)
    return dln_error(DLN_EINVAL, "regression data: x_rank: expected <= min(d0, n) = %d (or <= 0 for full rank), found %d",
                     k, x_rank);
  if (W_true) {
    if (W_true->rows != dout || W_true->cols != d0)
      return dln_error(DLN_EDIM, "regression data: W_true: expected shape %d x %d (dout x d0), found %d x %d", dout, d0,
                       W_true->rows, W_true->cols);
    if ((st = dln_check_finite("regression data: W_true", dout, d0, W_true->data))) return st;
  }
  if (!isfinite(noise) || noise < 0)
    return dln_error(DLN_EINVAL, "regression data: noise: expected a finite value >= 0, found %g", noise);
  dln_mat *x = dln_mat_alloc(d0, n), *y = dln_mat_alloc(dout, n);
  double *fa = NULL, *fb = NULL;
  if (!x || !y) {
    st = DLN_ENOMEM;
    goto fail;
  }
  if (x_rank > 0 && x_rank < k) {
    /* X = A B / sqrt(r), A (d0 x r), B (r x n) N(0,1): entries have unit variance, rank r */
    int r = x_rank;
    fa = dln_xcalloc((size_t)d0 * (size_t)r, sizeof(double));
    fb = dln_xcalloc((size_t)r * (size_t)n, sizeof(double));
    if (!fa || !fb) {
      st = dln_error(DLN_ENOMEM, "regression data: out of memory for rank-%d factors", r);
      goto fail;
    }
    dln_rng_fill_gaussian(rng, fa, (size_t)d0 * (size_t)r, 1.0);
    dln_rng_fill_gaussian(rng, fb, (size_t)r * (size_t)n, 1.0);
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, d0, n, r, 1.0 / sqrt((double)r), fa, d0, fb, r, 0.0,
                x->data, d0);
  } else {
    dln_rng_fill_gaussian(rng, x->data, (size_t)d0 * (size_t)n, 1.0);
  }
  if (W_true) {
    dln_rng_fill_gaussian(rng, y->data, (size_t)dout * (size_t)n, 1.0);
    /* Y = W_true X + noise·N(0,1) */
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, dout, n, d0, 1.0, W_true->data, dout, x->data, d0, noise,
                y->data, dout);
  } else {
    dln_rng_fill_gaussian(rng, y->data, (size_t)dout * (size_t)n, 1.0);
  }
  free(fa);
  free(fb);
  *X = x;
  *Y = y;
  return DLN_OK;
fail:
  free(fa);
  free(fb);
  dln_mat_free(x);
  dln_mat_free(y);
  return st;
}

int dln_data_sensing(dln_rng *rng, const dln_mat *W_true, int m, dln_mat **A, dln_mat **b) {
  int st;
  if ((st = check_out(A, "sensing data (A)"))) return st;
  if ((st = check_out(b, "sensing data (b)"))) return st;
  *A = NULL;
  *b = NULL;
  if (!rng) return dln_error(DLN_EINVAL, "sensing data: rng: expected a random stream, found NULL");
  if (!W_true) return dln_error(DLN_EINVAL, "sensing data: W_true: expected a matrix, found NULL");
  if (m < 1) return dln_error(DLN_EINVAL, "sensing data: m: expected >= 1 measurements, found %d", m);
  if ((st = check_dims("sensing data: W_true", W_true->rows, W_true->cols))) return st;
  if ((st = dln_check_finite("sensing data: W_true", W_true->rows, W_true->cols, W_true->data))) return st;
  size_t rc;
  if ((st = dln_size_mul((size_t)W_true->rows, (size_t)W_true->cols, &rc))) return st;
  dln_mat *a = dln_mat_alloc((int)rc, m);
  dln_mat *bb = dln_mat_alloc(m, 1);
  if (!a || !bb) {
    dln_mat_free(a);
    dln_mat_free(bb);
    return DLN_ENOMEM;
  }
  dln_rng_fill_gaussian(rng, a->data, rc * (size_t)m, 1.0);
  /* b_i = ⟨W, A_i⟩ = vec(A_i)^T vec(W): b = A^T vec(W) */
  cblas_dgemv(CblasColMajor, CblasTrans, (int)rc, m, 1.0, a->data, (int)rc, W_true->data, 1, 0.0, bb->data, 1);
  *A = a;
  *b = bb;
  return DLN_OK;
}

int dln_data_completion(dln_rng *rng, const dln_mat *W_true, int m, dln_mat **entries) {
  int st;
  if ((st = check_out(entries, "completion data"))) return st;
  *entries = NULL;
  if (!rng) return dln_error(DLN_EINVAL, "completion data: rng: expected a random stream, found NULL");
  if (!W_true) return dln_error(DLN_EINVAL, "completion data: W_true: expected a matrix, found NULL");
  if ((st = check_dims("completion data: W_true", W_true->rows, W_true->cols))) return st;
  if ((st = dln_check_finite("completion data: W_true", W_true->rows, W_true->cols, W_true->data))) return st;
  size_t total = (size_t)W_true->rows * (size_t)W_true->cols;
  if (m < 1 || (size_t)m > total)
    return dln_error(DLN_EINVAL, "completion data: m: expected 1 <= m <= rows*cols = %zu, found %d", total, m);
  size_t *perm = dln_xcalloc(total, sizeof(size_t));
  dln_mat *e = dln_mat_alloc(m, 3);
  if (!perm || !e) {
    free(perm);
    dln_mat_free(e);
    return dln_error(DLN_ENOMEM, "completion data: out of memory for %zu indices", total);
  }
  for (size_t i = 0; i < total; ++i) perm[i] = i;
  /* partial Fisher–Yates: the first m slots become a uniform sample without replacement */
  for (int i = 0; i < m; ++i) {
    size_t j = (size_t)i + (size_t)dln_rng_uniform_int(rng, (unsigned long)(total - (size_t)i));
    size_t t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
    size_t idx = perm[i];
    int r = (int)(idx % (size_t)W_true->rows), c = (int)(idx / (size_t)W_true->rows);
    e->data[i] = r;
    e->data[i + (size_t)m] = c;
    e->data[i + 2 * (size_t)m] = W_true->data[idx];
  }
  free(perm);
  *entries = e;
  return DLN_OK;
}
