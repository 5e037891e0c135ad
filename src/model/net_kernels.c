/* The network's small products: which kernel computes each product of the gradient
 * (tiny_gemm.c's fixed-size kernels, libxsmm's JIT kernels, dot products for narrow
 * layers, or dln_gemm), resolved once per network and switchable
 * (dln_net_set_small_kernels, DLN_SMALL_KERNELS); net.c runs the plan. */
#include <libxsmm.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "dln/error.h"
#include "dln/gemm.h"
#include "dln/net.h"
#include "model/net_work.h"
#include "model/tiny_gemm.h"

/* Small-matrix path (issue: per-call BLAS overhead dominates at sizes like 5x10x50).
 * libxsmm JIT kernels for C = op(A) op(B) (+ C), column-major, looked up once per shape
 * and cached in the net; op(A) = A^T is served by an explicit transpose into the
 * workspace T (libxsmm 1.17 has no transposed-A kernels). Products larger than
 * DLN_SMALL_MNK, or any shape libxsmm declines, go to dln_gemm (dln/gemm.h). Measured on this
 * machine for the 5x10, width-50 step: 3 OpenBLAS calls 943 ns, libxsmm 337 ns. */
static pthread_once_t xsmm_once = PTHREAD_ONCE_INIT;
static void xsmm_init(void) { libxsmm_init(); }
void dln_net_xsmm_init(void) { pthread_once(&xsmm_once, xsmm_init); }

libxsmm_dmmfunction dln_net_kernel(dln_net_work *w, int m, int n, int k, int lda, int ldb, int beta_one, int transb) {
  for (int i = 0; i < w->nk; ++i) {
    struct kern *e = &w->kc[i];
    if (e->m == m && e->n == n && e->k == k && e->lda == lda && e->ldb == ldb && e->beta_one == beta_one &&
        e->transb == transb)
      return e->f;
  }
  libxsmm_blasint M = lda, L = ldb, C = m;
  double alpha = 1.0, beta = beta_one ? 1.0 : 0.0;
  int flags = transb ? LIBXSMM_GEMM_FLAG_TRANS_B : 0;
  libxsmm_dmmfunction f = libxsmm_dmmdispatch(m, n, k, &M, &L, &C, &alpha, &beta, &flags, NULL);
  if (w->nk < (int)(sizeof w->kc / sizeof w->kc[0]))
    w->kc[w->nk++] = (struct kern){m, n, k, lda, ldb, beta_one, transb, f};
  return f;
}

/* Up to this m*n*k the JIT kernels are faster than a packing DGEMM; beyond it they fall
 * behind (no packing). Measured here, square, one thread, GFLOP/s libxsmm / OpenBLAS:
 * 64^3 46.8 / 35.9, 96^3 44.4 / 39.6, 128^3 33.6 / 39.6, 256^3 26.8 / 43.2. */
#define DLN_SMALL_MNK (112L * 112L * 112L)

/* The tiny kernel of a product where it beats the planned libxsmm kernel: every dimension
 * ≤ 4 (fully unrolled) or at most 64 multiply-adds. Measured (bench_tiny, GD steps/s, depth 3,
 * idle machine): n = 4 tiny 10.6 M vs libxsmm 3.0 M, but n = 5, 6, 8 tiny 5.05 / 4.19 / 1.22 M
 * vs 6.13 / 4.85 / 2.00 M: the 8-row kernels are baseline SSE2 code, libxsmm's AVX2 FMA. */
static dln_tiny_fn tiny_pick(int op, int acc, int m, int n, int k) {
  if ((m > 4 || n > 4 || k > 4) && (long)m * n * k > 64) return 0;
  return dln_tiny_kernel(op, acc, m, n, k);
}

/* c (m x n, ld m) = op(a) op(b) + beta c, alpha = 1, beta in {0, 1}; larger products
 * through the selected backend (dln/gemm.h) */
void dln_net_gemm_w(dln_net_work *w, CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k, const double *a, int lda,
                   const double *b, int ldb, double beta, double *c) {
  if (w->small == DLN_SMALL_TINY) { /* tiny_pick's shapes, natural leading dimensions: tiny_gemm.c */
    int op = ta == CblasTrans ? (tb == CblasTrans ? -1 : DLN_TINY_TN) : (tb == CblasTrans ? DLN_TINY_NT : DLN_TINY_NN);
    dln_tiny_fn f = op >= 0 ? tiny_pick(op, beta != 0.0, m, n, k) : 0;
    if (f && lda == (op == DLN_TINY_TN ? k : m) && ldb == (op == DLN_TINY_NT ? n : k)) {
      f(a, b, c, n);
      return;
    }
  }
  if (w->small && (long)m * n * k <= DLN_SMALL_MNK) {
    libxsmm_dmmfunction f = dln_net_kernel(w, m, n, k, ta == CblasTrans ? m : lda, ldb, beta != 0.0, tb == CblasTrans);
    if (f) {
      if (ta == CblasTrans) dln_tiny_transpose(m, k, a, lda, w->T), a = w->T;
      f(a, b, c);
      return;
    }
  }
  dln_gemm(ta == CblasTrans, tb == CblasTrans, m, n, k, 1.0, a, lda, b, ldb, beta, c, m);
}

/* The gradient's products per layer (forward, backprop) for the tiny kernels, so a step
 * calls them without a lookup; shapes without a kernel keep NULL (gemm_w). */
void dln_net_plan_kernels(dln_net *net) {
  const int *d = net->widths;
  dln_net_work *w = net->work;
  dln_tiny_fn *pl = w->plan;
  for (int j = 0; j <= net->depth; ++j) {
    pl[3 * j] = pl[3 * j + 1] = pl[3 * j + 2] = NULL, w->pair[j] = NULL;
    w->xplan[3 * j] = w->xplan[3 * j + 1] = w->xplan[3 * j + 2] = NULL;
    w->xalt[j] = w->xdot[j] = 0;
  }
  w->plan_all = 0;
  w->chain = NULL;
  if (w->small == DLN_SMALL_OFF || net->tied) return;
  int all = net->depth >= 2;
  for (int j = 2; j <= net->depth; ++j) {
    if (w->small == DLN_SMALL_TINY) {
      pl[3 * j] = tiny_pick(DLN_TINY_NN, 0, d[j], d[0], d[j - 1]);
      pl[3 * j + 1] = tiny_pick(DLN_TINY_NT, 0, d[j], d[j - 1], d[0]);
      pl[3 * j + 2] = tiny_pick(DLN_TINY_TN, 0, d[j - 1], d[0], d[j]);
      w->pair[j] = dln_tiny_pair(d[j], d[j - 1], d[0]);
    }
    all = all && pl[3 * j] && pl[3 * j + 1] && pl[3 * j + 2];
    /* the rest through libxsmm, as gemm_w would choose (same kernels, same bits) */
    long mnk = (long)d[j] * d[j - 1] * d[0];
    if (mnk > DLN_SMALL_MNK) continue;
    /* a narrow P_j = W_j P_{j-1} (d_j < 8 rows, d_{j-1} ≥ 16): dot products of W_j^T's and
     * P_{j-1}'s columns, 215 vs libxsmm's 356 ns at 5 x 10 x 50; W_j^T serves B_{j-1} too */
    w->xdot[j] = !pl[3 * j] && d[j] < DLN_TINY_DOT_MAXM && d[j - 1] >= 16;
    if (!pl[3 * j] && !w->xdot[j]) w->xplan[3 * j] = dln_net_kernel(w, d[j], d[0], d[j - 1], d[j], d[j - 1], 0, 0);
    /* libxsmm vectorizes along C's rows: for a narrow layer (d_j < 8, e.g. the 5 outputs of
     * 5 x 10 width 50) B_j P_{j-1}^T ran at a third of the rate of its transpose
     * P_{j-1} B_j^T (268 vs 121 ns at 5 x 50 x 10, plus two transposes); dln_tiny_nt_narrow
     * vectorizes along C's columns and writes C in place */
    w->xalt[j] = !pl[3 * j + 1] && d[j] < 8 && d[j - 1] >= 2 * d[j];
    if (!pl[3 * j + 1] && !w->xalt[j]) w->xplan[3 * j + 1] = dln_net_kernel(w, d[j], d[j - 1], d[0], d[j], d[j - 1], 0, 1);
    if (!pl[3 * j + 2]) w->xplan[3 * j + 2] = dln_net_kernel(w, d[j - 1], d[0], d[j], d[j - 1], d[j], 0, 0);
  }
  w->plan_all = all;
  int uniform = 1;
  for (int j = 1; j <= net->depth; ++j) uniform = uniform && d[j] == d[0];
  if (all && uniform && w->small == DLN_SMALL_TINY) w->chain = dln_tiny_chain_of(d[0]);
}

static const char *const small_names[] = {"off", "xsmm", "tiny"}; /* by DLN_SMALL_* */

int dln_net_set_small_kernels(dln_net *net, int kind) {
  DLN_ARGS(net);
  if (kind < DLN_SMALL_OFF || kind > DLN_SMALL_TINY)
    return dln_error(DLN_EINVAL, "small kernels: expected DLN_SMALL_OFF (0), _XSMM (1) or _TINY (2), found %d", kind);
  net->work->small = kind;
  dln_net_plan_kernels(net);
  return DLN_OK;
}

int dln_net_small_kernels(const dln_net *net) {
  DLN_ARGS_V(-1, net);
  return net->work->small;
}

const char *dln_small_kernels_name(int kind) {
  if (kind >= DLN_SMALL_OFF && kind <= DLN_SMALL_TINY) return small_names[kind];
  dln_error(DLN_EINVAL, "small kernels: expected a kind 0..2, found %d", kind);
  return NULL;
}

int dln_small_kernels_parse(const char *name, int *kind) {
  DLN_ARGS(name, kind);
  for (int i = DLN_SMALL_OFF; i <= DLN_SMALL_TINY; ++i)
    if (!strcmp(name, small_names[i])) return *kind = i, DLN_OK;
  if (!strcmp(name, "0")) return *kind = DLN_SMALL_OFF, DLN_OK; /* the older DLN_SMALL_KERNELS=0 / =1 */
  if (!strcmp(name, "1")) return *kind = DLN_SMALL_XSMM, DLN_OK;
  return dln_error(DLN_EINVAL, "small kernels: expected tiny, xsmm or off, found \"%s\"", name);
}

/* The default choice: DLN_SMALL_KERNELS from the environment (tiny, xsmm, off; 0 = off),
 * else tiny. An unknown value is an error (dln_net_alloc fails naming it). */
int dln_net_small_default(int *kind) {
  const char *env = getenv("DLN_SMALL_KERNELS");
  *kind = DLN_SMALL_TINY;
  if (!env || !env[0]) return DLN_OK;
  if (dln_small_kernels_parse(env, kind))
    return dln_error(DLN_EINVAL, "environment DLN_SMALL_KERNELS: expected tiny, xsmm, off, 0 or 1, found \"%s\"", env);
  return DLN_OK;
}
