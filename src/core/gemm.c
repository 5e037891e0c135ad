/* The switchable dense product (dln/gemm.h). Measured on this machine (AMD EPYC Zen 3,
 * AVX2, no AVX-512; bench/scale.sh): OpenBLAS 0.3.21 (Haswell kernels for "Zen") and BLIS
 * 0.9.0 (zen3 kernels) reach about the same DGEMM rate, 80-90 % of the FMA peak; libxsmm's
 * JIT kernels, which do not pack, fall behind from about 128^3 on. OPENBLAS_CORETYPE=SkylakeX
 * is not a way out: its AVX-512 kernels stop the process with SIGILL here. */
#include "dln/gemm.h"

#include <cblas.h>
#include <dlfcn.h>
#include <libxsmm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "dln/error.h"

static atomic_int active = DLN_GEMM_OPENBLAS;
static const char *const names[] = {"openblas", "blis", "xsmm"};

/* BLIS's typed API (frame/include/bli_type_defs.h, 0.9): dim_t and inc_t are int64_t,
 * trans_t BLIS_NO_TRANSPOSE = 0, BLIS_TRANSPOSE = 0x8 (BLIS_TRANS_BIT). */
typedef void (*bli_dgemm_fn)(int, int, int64_t, int64_t, int64_t, const double *, const double *, int64_t, int64_t,
                             const double *, int64_t, int64_t, const double *, double *, int64_t, int64_t);
static struct {
  pthread_once_t once;
  void *handle;
  bli_dgemm_fn gemm;
  void (*set_threads)(int64_t);
  const char *(*version)(void);
  int (*arch_id)(void);
  const char *(*arch_name)(int);
  char error[256];
} blis = {.once = PTHREAD_ONCE_INIT};
static atomic_int threads_wanted = 1;

/* DLN_BLIS_LIBRARY names another build of BLIS (or, in tests, a missing one). */
static void blis_load(void) {
  const char *lib = getenv("DLN_BLIS_LIBRARY");
  if (!lib || !*lib) lib = "libblis.so.4";
  blis.handle = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
  if (!blis.handle) {
    const char *e = dlerror();
    snprintf(blis.error, sizeof blis.error, "%s", e ? e : lib);
    return;
  }
  *(void **)&blis.gemm = dlsym(blis.handle, "bli_dgemm");
  *(void **)&blis.set_threads = dlsym(blis.handle, "bli_thread_set_num_threads");
  *(void **)&blis.version = dlsym(blis.handle, "bli_info_get_version_str");
  *(void **)&blis.arch_id = dlsym(blis.handle, "bli_arch_query_id");
  *(void **)&blis.arch_name = dlsym(blis.handle, "bli_arch_string");
  if (!blis.gemm || !blis.set_threads || !blis.version || !blis.arch_id || !blis.arch_name) {
    snprintf(blis.error, sizeof blis.error, "%s lacks bli_dgemm or its query functions", lib);
    blis.gemm = NULL;
    return;
  }
  blis.set_threads(atomic_load(&threads_wanted));
}

int dln_gemm_select(const char *name) {
  const char *what = "gemm backend";
  if (!name || !strcmp(name, "auto")) {
    const char *env = getenv("DLN_GEMM");
    name = env && *env ? env : "openblas";
    what = env && *env ? "environment variable DLN_GEMM" : what;
  }
  int b = -1;
  for (int i = 0; i < 3; ++i)
    if (!strcmp(name, names[i])) b = i;
  if (b < 0) return dln_error(DLN_EINVAL, "%s: expected openblas, blis or xsmm (or auto), found \"%s\"", what, name);
  if (b == DLN_GEMM_BLIS) {
    pthread_once(&blis.once, blis_load);
    if (!blis.gemm)
      return dln_error(DLN_EUNSUPPORTED, "gemm backend blis: expected libblis.so.4 (Debian libblis4-pthread), found: %s",
                       blis.error);
  }
  atomic_store(&active, b);
  return DLN_OK;
}

dln_gemm_backend dln_gemm_active(void) { return (dln_gemm_backend)atomic_load(&active); }

const char *dln_gemm_backend_name(dln_gemm_backend b) {
  if ((int)b < 0 || (int)b > 2) {
    dln_error(DLN_EINVAL, "gemm backend: expected 0..2, found %d", (int)b);
    return NULL;
  }
  return names[b];
}

int dln_gemm_describe(char *buf, size_t cap) {
  DLN_ARGS(buf);
  if (cap == 0) return dln_error(DLN_EINVAL, "dln_gemm_describe: cap: expected > 0, found 0");
  const char *cfg = openblas_get_config(), *core = openblas_get_corename();
  switch (dln_gemm_active()) {
  case DLN_GEMM_BLIS:
    snprintf(buf, cap, "BLIS %s, %s kernels", blis.version(), blis.arch_name(blis.arch_id()));
    break;
  case DLN_GEMM_XSMM:
    snprintf(buf, cap, "libxsmm %s JIT (%s); transposed-A products: OpenBLAS %s", LIBXSMM_VERSION,
             libxsmm_get_target_arch(), core ? core : "");
    break;
  default:
    snprintf(buf, cap, "%s, %s kernels", cfg ? cfg : "OpenBLAS", core ? core : "unknown");
  }
  return DLN_OK;
}

int dln_gemm_set_threads(int threads) {
  DLN_INDEX(threads, 1, 1024);
  /* only when it changes: dln sweep's workers come through here at once, at one thread */
  if (openblas_get_num_threads() != threads) openblas_set_num_threads(threads);
  if (atomic_exchange(&threads_wanted, threads) != threads && blis.gemm) blis.set_threads(threads);
  return DLN_OK;
}

/* libxsmm 1.17: C = A op(B) (+ C) only (no transposed A, alpha 1, beta 0 or 1); 0 if declined. */
static int xsmm_try(int transa, int transb, int m, int n, int k, double alpha, const double *a, int lda,
                    const double *b, int ldb, double beta, double *c, int ldc) {
  if (transa || alpha != 1.0 || (beta != 0.0 && beta != 1.0)) return 0;
  libxsmm_blasint la = lda, lb = ldb, lc = ldc;
  int flags = transb ? LIBXSMM_GEMM_FLAG_TRANS_B : 0;
  libxsmm_dmmfunction f = libxsmm_dmmdispatch(m, n, k, &la, &lb, &lc, &alpha, &beta, &flags, NULL);
  if (!f) return 0;
  f(a, b, c);
  return 1;
}

int dln_gemm(int transa, int transb, int m, int n, int k, double alpha, const double *a, int lda, const double *b,
             int ldb, double beta, double *c, int ldc) {
  DLN_INDEX(m, 0, INT32_MAX);
  DLN_INDEX(n, 0, INT32_MAX);
  DLN_INDEX(k, 0, INT32_MAX);
  if (m == 0 || n == 0) return DLN_OK;
  DLN_ARGS(a, b, c);
  int ra = transa ? k : m, rb = transb ? n : k;
  if (lda < (ra > 1 ? ra : 1) || ldb < (rb > 1 ? rb : 1) || ldc < m)
    return dln_error(DLN_EINVAL, "dln_gemm: leading dimensions: expected lda >= %d, ldb >= %d, ldc >= %d, found %d, %d, %d",
                     ra, rb, m, lda, ldb, ldc);
  switch (dln_gemm_active()) {
  case DLN_GEMM_BLIS:
    blis.gemm(transa ? 0x8 : 0, transb ? 0x8 : 0, m, n, k, &alpha, a, 1, lda, b, 1, ldb, &beta, c, 1, ldc);
    return DLN_OK;
  case DLN_GEMM_XSMM:
    if (xsmm_try(transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)) return DLN_OK;
    break;
  default:
    break;
  }
  cblas_dgemm(CblasColMajor, transa ? CblasTrans : CblasNoTrans, transb ? CblasTrans : CblasNoTrans, m, n, k, alpha, a,
              lda, b, ldb, beta, c, ldc);
  return DLN_OK;
}
