/* Dense column-major matrices; pseudo-inverse and singular values via LAPACKE. */
#include "dln/mat.h"

#include <cblas.h>
#include <float.h>
#include <lapacke.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "dln/error.h"

int dln_size_mul(size_t a, size_t b, size_t *out) {
  DLN_ARGS(out);
  if (a != 0 && b > (size_t)INT_MAX / a)
    return dln_error(DLN_ENOMEM, "size %zu x %zu exceeds the BLAS integer range", a, b);
  *out = a * b;
  return DLN_OK;
}

dln_mat *dln_mat_alloc(int rows, int cols) {
  size_t n = 0;
  if (rows < 0 || cols < 0) {
    dln_error(DLN_EINVAL, "matrix shape %d x %d: expected non-negative dimensions", rows, cols);
    return NULL;
  }
  if (dln_size_mul((size_t)rows, (size_t)cols, &n)) return NULL;
  dln_mat *a = malloc(sizeof *a);
  if (!a) {
    dln_error(DLN_ENOMEM, "out of memory allocating a %d x %d matrix", rows, cols);
    return NULL;
  }
  a->rows = rows;
  a->cols = cols;
  a->data = calloc(n ? n : 1, sizeof(double));
  if (!a->data) {
    free(a);
    dln_error(DLN_ENOMEM, "out of memory allocating a %d x %d matrix", rows, cols);
    return NULL;
  }
  return a;
}

dln_mat *dln_mat_from(int rows, int cols, const double *data) {
  DLN_ARGS_P(data);
  dln_mat *a = dln_mat_alloc(rows, cols);
  if (a && data) memcpy(a->data, data, (size_t)rows * (size_t)cols * sizeof(double));
  return a;
}

dln_mat *dln_mat_dup(const dln_mat *a) {
  DLN_ARGS_P(a);
  return a ? dln_mat_from(a->rows, a->cols, a->data) : NULL;
}

void dln_mat_free(dln_mat *a) {
  if (!a) return;
  free(a->data);
  free(a);
}

int dln_check_finite(const char *what, int rows, int cols, const double *a) {
  DLN_INDEX(rows, 0, INT_MAX);
  DLN_INDEX(cols, 0, INT_MAX);
  if (rows > 0 && cols > 0) DLN_ARGS(a);
  for (int j = 0; j < cols; ++j)
    for (int i = 0; i < rows; ++i)
      if (!isfinite(a[i + (size_t)j * rows]))
        return dln_error(DLN_ENONFINITE, "%s: expected finite values, found %g at (%d, %d)", what,
                         a[i + (size_t)j * rows], i, j);
  return DLN_OK;
}

/* Σ x_i² in eight partial sums by i mod 8, combined as ((s0 + s1) + (s2 + s3)) +
 * ((s4 + s5) + (s6 + s7)): one order on every machine and thread count. */
static double sumsq8(size_t n, const double *x) {
  double s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  size_t n8 = n - n % 8;
  for (size_t i = 0; i < n8; i += 8)
    for (int l = 0; l < 8; ++l) s[l] += x[i + l] * x[i + l];
  for (size_t i = n8; i < n; ++i) s[i - n8] += x[i] * x[i];
  return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

double dln_norm2(size_t n, const double *x) {
  if (n > 0) DLN_ARGS_V(NAN, x);
  /* sqrt of the plain sum of squares when it neither overflows nor comes near underflow
   * (squares below DBL_MIN then weigh < n·2^-122 of it): 7x faster than OpenBLAS's dnrm2
   * (x87 code on x86_64: 0.48 vs 0.07 µs at n = 750), relative error ≤ n·ε */
  double s = sumsq8(n, x);
  if (s >= 0x1p-900 && s <= DBL_MAX) return sqrt(s);
  if (s == 0.0) { /* all zero, or every square underflowed */
    size_t i = 0;
    while (i < n && x[i] == 0.0) ++i;
    if (i == n) return 0.0;
  }
  /* scaled: dnrm2 takes an int length; longer vectors by the same scaling by hand */
  if (n <= (size_t)INT_MAX) return cblas_dnrm2((int)n, x, 1);
  double scale = 0, ssq = 1;
  for (size_t i = 0; i < n; ++i) {
    double a = fabs(x[i]);
    if (a != a) return a; /* NaN */
    if (a == 0) continue;
    if (scale < a) ssq = 1 + ssq * (scale / a) * (scale / a), scale = a;
    else ssq += (a / scale) * (a / scale);
  }
  return scale * sqrt(ssq);
}

int dln_singular_values(int rows, int cols, const double *a, double *s, double *work) {
  DLN_ARGS(a, s, work);
  DLN_INDEX(rows, 0, INT_MAX);
  DLN_INDEX(cols, 0, INT_MAX);
  int k = rows < cols ? rows : cols;
  if (k == 0) return DLN_OK;
  memcpy(work, a, (size_t)rows * (size_t)cols * sizeof(double));
  int info = LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'N', rows, cols, work, rows, s, NULL, 1, NULL, 1);
  if (info != 0) return dln_error(DLN_ELAPACK, "dgesdd (singular values of a %dx%d matrix) returned info=%d", rows, cols, info);
  return DLN_OK;
}

int dln_pinv(int rows, int cols, const double *a, double rcond, double *pinv, int *rank) {
  DLN_ARGS(a, pinv); /* rank may be NULL */
  DLN_INDEX(rows, 0, INT_MAX);
  DLN_INDEX(cols, 0, INT_MAX);
  int k = rows < cols ? rows : cols;
  int status = DLN_OK;
  size_t na = (size_t)rows * (size_t)cols;
  double *w = malloc((na ? na : 1) * sizeof(double));
  double *s = malloc((size_t)(k ? k : 1) * sizeof(double));
  double *u = malloc(((size_t)rows * (size_t)(k ? k : 1)) * sizeof(double) + sizeof(double));
  double *vt = malloc(((size_t)(k ? k : 1) * (size_t)cols) * sizeof(double) + sizeof(double));
  if (!w || !s || !u || !vt) {
    status = dln_error(DLN_ENOMEM, "out of memory in pseudo-inverse of a %dx%d matrix", rows, cols);
    goto done;
  }
  memset(pinv, 0, na * sizeof(double));
  if (rank) *rank = 0;
  if (k == 0) goto done;
  memcpy(w, a, na * sizeof(double));
  /* a = U diag(s) V^T (thin SVD) */
  int info = LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'S', rows, cols, w, rows, s, u, rows, vt, k);
  if (info != 0) {
    status = dln_error(DLN_ELAPACK, "dgesdd (pseudo-inverse of a %dx%d matrix) returned info=%d", rows, cols, info);
    goto done;
  }
  if (rcond <= 0) rcond = (rows > cols ? rows : cols) * DBL_EPSILON;
  double cut = rcond * s[0];
  int r = 0;
  while (r < k && s[r] > cut) ++r;
  /* pinv = V diag(1/s) U^T over the r retained components: scale rows of V^T */
  for (int i = 0; i < r; ++i) cblas_dscal(cols, 1.0 / s[i], vt + i, k);
  if (r > 0)
    cblas_dgemm(CblasColMajor, CblasTrans, CblasTrans, cols, rows, r, 1.0, vt, k, u, rows, 0.0, pinv, cols);
  if (rank) *rank = r;
done:
  free(w);
  free(s);
  free(u);
  free(vt);
  return status;
}
