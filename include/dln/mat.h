/* dln/mat.h — dense column-major matrices and small helpers around CBLAS/LAPACKE.
 *
 * A dln_mat owns rows*cols doubles, column-major with leading dimension rows.
 * Element (i, j) is data[i + j*rows]. Sizes are checked against the BLAS integer
 * range (int) when allocated, so no later call narrows silently. */
#ifndef DLN_MAT_H
#define DLN_MAT_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dln_mat {
  int rows, cols;
  double *data;
} dln_mat;

/* Allocate a zeroed rows x cols matrix (rows, cols >= 0). NULL on failure
 * (message in dln_last_error). */
dln_mat *dln_mat_alloc(int rows, int cols);
/* Deep copy. */
dln_mat *dln_mat_dup(const dln_mat *a);
/* Wrap a copy of column-major data. */
dln_mat *dln_mat_from(int rows, int cols, const double *data);
void dln_mat_free(dln_mat *a);

/* Checked product size: *out = a*b, DLN_ENOMEM if it overflows int (BLAS range). */
int dln_size_mul(size_t a, size_t b, size_t *out);

/* Status DLN_ENONFINITE naming `what` and the first bad (i, j) if any entry is NaN/Inf. */
int dln_check_finite(const char *what, int rows, int cols, const double *a);

/* Euclidean norm of an n-vector: the plain sum of squares in a fixed order, scaled (dnrm2)
 * only near overflow or underflow; NaN for x == NULL with n > 0. */

double dln_norm2(size_t n, const double *x);

/* Moore–Penrose pseudo-inverse of the rows x cols matrix a into pinv (cols x rows),
 * by SVD (LAPACKE_dgesdd); singular values below rcond*s_max are treated as zero.
 * rcond <= 0 selects max(rows, cols)*eps. Returns the numerical rank in *rank. */
int dln_pinv(int rows, int cols, const double *a, double rcond, double *pinv, int *rank);

/* Singular values (descending) of a rows x cols matrix; s has min(rows, cols)
 * entries; work must hold rows*cols doubles (a is not modified). */
int dln_singular_values(int rows, int cols, const double *a, double *s, double *work);

#ifdef __cplusplus
}
#endif
#endif
