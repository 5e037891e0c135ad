/* The network's workspace and its small-product kernels (private to src/model): the
 * struct behind dln_net.work, shared by net.c (products, gradient, Hessian-vector
 * product, regularizer) and net_kernels.c (the choice of kernel for each product). */
#ifndef DLN_MODEL_NET_WORK_H
#define DLN_MODEL_NET_WORK_H

#include <cblas.h>
#include <libxsmm.h>
#include <stddef.h>

#include "dln/net.h"
#include "model/tiny_gemm.h"

struct dln_net_work {
  double **P;   /* P[j] = W_j···W_1, j = 1..N (P[1] aliases W_1 when not tied) */
  double **dP;  /* tangent of P[j] (hvp) */
  double *G;    /* ∇ℓ(W), d_N x d_0 */
  double *dG;   /* ∇²ℓ(W)[dW] */
  double *B, *B2, *dB, *dB2; /* backward buffers, max_j d_j x d_0 */
  double *C;    /* conserved quantity, max_{0<j<N} d_j x d_j */
  double *T;    /* transposed operand for the small-matrix kernels */
  double *S, *S2; /* Hessian-vector product scratch: max_j d_j x d_0 and the size of T */
  int small;    /* DLN_SMALL_TINY / _XSMM / _OFF (dln_net_set_small_kernels) */
  dln_tiny_fn *plan; /* tiny: the gradient's kernels, [3j] P_j = W_j P_{j-1}, [3j+1] B_j P_{j-1}^T,
                      * [3j+2] W_j^T B_j (NULL: gemm_w), looked up once (plan_kernels) */
  int plan_all;      /* every product of the gradient has a tiny kernel: forward_tiny, backprop_tiny */
  dln_tiny_pair_fn *pair; /* [j]: layer j's backward pair (widths ≤ 4), else NULL */
  const dln_tiny_chain *chain; /* every width the same d ≤ 2 (tiny): both passes in one call each */
  libxsmm_dmmfunction *xplan; /* the same products' libxsmm kernels where plan[] has none and
                               * they are small (xsmm or tiny), [3j+2] on W_j^T in T */
  unsigned char *xalt; /* [j]: layer j's gradient as its transpose (narrow d_j, see plan_kernels) */
  unsigned char *xdot; /* [j]: P_j = (W_j^T)^T P_{j-1} by dot products (dln_tiny_dot_tn), W_j^T in Wt */
  double *Wt;          /* W_j^T of the xdot layers (d_j < 8) at Wt + wt_off[j], from forward() */
  size_t *wt_off;
  int nk;       /* kernel cache: shapes seen so far and their JIT kernels */
  struct kern { int m, n, k, lda, ldb, beta_one, transb; libxsmm_dmmfunction f; } kc[64];
  double *buf;  /* one block holding all of the above */
  /* imbalance regularizer (reg_on = 0: off, no work done) */
  int reg_on;
  double reg_lambda0;  /* Λ_j = λ0 I + L_j */
  double *reg_L;       /* L_j (d_j x d_j) at reg_L + reg_off[j], or NULL */
  size_t *reg_off;
  double reg_skew2;    /* Σ_j ‖skew(L_j)‖_F², the part of ‖C_j − Λ_j‖² no θ changes */
  double *reg_S, *reg_dS; /* S_j = sym(C_j − Λ_j) and its tangent, max d_j x d_j */
};

/* libxsmm's JIT kernel for C (m x n, ld m) = A B (+ C), A m x k (ld lda), B k x n or
 * n x k (transb; ld ldb), looked up in the net's cache of shapes (NULL: declined). */
libxsmm_dmmfunction dln_net_kernel(dln_net_work *w, int m, int n, int k, int lda, int ldb, int beta_one, int transb);
/* c (m x n, ld m) = op(a) op(b) + beta c, alpha = 1, beta in {0, 1}: a tiny kernel,
 * a libxsmm kernel or the selected backend (dln/gemm.h), as w->small allows. */
void dln_net_gemm_w(dln_net_work *w, CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k, const double *a,
                    int lda, const double *b, int ldb, double beta, double *c);
/* The gradient's products per layer resolved once (plan, xplan, xalt, xdot, plan_all). */
void dln_net_plan_kernels(dln_net *net);
/* libxsmm_init once per process. */
void dln_net_xsmm_init(void);
/* The default small-kernel choice from DLN_SMALL_KERNELS (tiny when unset). */
int dln_net_small_default(int *kind);

#endif
