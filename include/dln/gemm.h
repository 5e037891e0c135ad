/* dln/gemm.h — the dense product C = alpha op(A) op(B) + beta C (column-major) behind the
 * network's large products, with a process-wide backend chosen by name:
 *
 *   openblas  cblas_dgemm of the linked OpenBLAS (the default)
 *   blis      bli_dgemm of Debian's BLIS (libblis.so.4, loaded on first selection with
 *             RTLD_LOCAL, so its BLAS symbols never replace OpenBLAS's); it picks its own
 *             kernels for the CPU (dln_gemm_describe says which, e.g. "zen3")
 *   xsmm      libxsmm JIT kernels for every shape libxsmm accepts with op(A) = A and
 *             alpha = 1, beta in {0, 1}; the other products go to OpenBLAS
 *
 * A fixed backend and thread count give bit-identical results run after run. */
#ifndef DLN_GEMM_H
#define DLN_GEMM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum dln_gemm_backend { DLN_GEMM_OPENBLAS = 0, DLN_GEMM_BLIS = 1, DLN_GEMM_XSMM = 2 } dln_gemm_backend;

/* Select the backend by name ("openblas", "blis", "xsmm"); "auto" (or NULL) takes the
 * environment variable DLN_GEMM when set, else openblas. DLN_EINVAL for an unknown name,
 * DLN_EUNSUPPORTED when the library cannot be loaded (the selection is then unchanged). */
int dln_gemm_select(const char *name);
/* The active backend (DLN_GEMM_OPENBLAS until a selection). */
dln_gemm_backend dln_gemm_active(void);
/* Its name ("openblas", "blis", "xsmm"); NULL for a value out of range. */
const char *dln_gemm_backend_name(dln_gemm_backend b);
/* "library version, kernels" of the active backend into buf (cap > 0), e.g.
 * "BLIS 0.9.0, zen3" or "OpenBLAS 0.3.21 ..., Zen". */
int dln_gemm_describe(char *buf, size_t cap);
/* Threads for OpenBLAS and, when loaded, BLIS (1..1024). Not to be called concurrently. */
int dln_gemm_set_threads(int threads);
/* C (m x n, leading dimension ldc) = alpha op(A) op(B) + beta C; transa, transb: 0 = as is,
 * 1 = transposed. Leading dimensions follow BLAS (lda >= rows of A as stored). */
int dln_gemm(int transa, int transb, int m, int n, int k, double alpha, const double *a, int lda, const double *b,
             int ldb, double beta, double *c, int ldc);

#ifdef __cplusplus
}
#endif

#endif
