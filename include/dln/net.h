/* dln/net.h — deep linear networks W_N ··· W_1 with all weights in one vector.
 *
 * Layer j (1 ≤ j ≤ N) is W_j ∈ R^{d_j x d_{j-1}}, column-major at theta + offset[j].
 * The end-to-end matrix W = W_N···W_1 is d_N x d_0. The objective is
 * φ(θ) = ℓ(W_N···W_1) (002 eq. 2; 004 eq. 1) with per-layer gradients
 * ∂φ/∂W_j = W_{N:j+1}^T ∇ℓ(W) W_{j-1:1}^T (002 Lemma 1 proof; 004 eq. 6).
 *
 * Tied (symmetric) model (001 §2): depth 2, widths {m, k, m}, W_2 = U ∈ R^{m x k},
 * W_1 = U^T; the parameters are U alone and W = U U^T, ∂φ/∂U = (∇ℓ + ∇ℓ^T) U.
 *
 * The net owns its workspaces (prefix products, backward buffers), sized once in
 * dln_net_alloc; dln_net_grad does not allocate. A net is not thread-safe: use one
 * per thread. */
#ifndef DLN_NET_H
#define DLN_NET_H

#include <stddef.h>

#include "dln/loss.h"
#include "dln/option.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dln_net_work dln_net_work;

typedef struct dln_net {
  int depth;        /* N ≥ 1 */
  int *widths;      /* d_0 .. d_N (read-only) */
  int tied;         /* 1 for the symmetric model U U^T */
  size_t nparams;   /* length of θ */
  size_t *offset;   /* offset[j] of W_j in θ, j = 1..N (tied: both point at U) */
  dln_net_work *work;
} dln_net;

/* The network's options: explicit widths d_0..d_N, or depth N and one hidden width (d_0,
 * d_N then come from the data); tied for U U^T. Rows: dln_net_option_rows(). */
typedef struct dln_net_options {
  int depth;
  dln_ilist widths;
  int width;
  int tied;
  dln_dlist imbalance_reg;      /* [] off, or [λ0]: Λ_j = λ0 I (001 Prop. 4 eq. 27) */
  dln_slist imbalance_reg_file; /* N−1 paths, file j holds Λ_j (d_j x d_j, .npy or .csv) */
  char *small_kernels;          /* auto, tiny, xsmm, off (dln_net_set_small_kernels) */
} dln_net_options;
const dln_option *dln_net_option_rows(void);

/* depth N ≥ 1, widths[0..N] ≥ 1. tied != 0 requires N == 2 and widths[2] == widths[0]. */
int dln_net_alloc(dln_net **out, int depth, const int *widths, int tied);
void dln_net_free(dln_net *net);

/* dln_net_rows / dln_net_cols: −1 for a NULL net. */
int dln_net_rows(const dln_net *net); /* d_N */
int dln_net_cols(const dln_net *net); /* d_0 */

/* NULL (message recorded) for a NULL argument or j outside 1..N. */
/* Pointer to W_j inside θ (j = 1..N). For a tied net, W_1 = U^T is not stored:
 * dln_net_layer(net, θ, 1) returns U and callers must transpose. */
double *dln_net_layer(const dln_net *net, double *theta, int j);
const double *dln_net_layer_const(const dln_net *net, const double *theta, int j);

/* W = W_N ··· W_1 (d_N x d_0). */
int dln_net_product(dln_net *net, const double *theta, double *W);

/* φ(θ) = ℓ(W_N···W_1) (+ R(θ) when the imbalance regularizer is set, below) into *value (may be NULL), its gradient into grad (length
 * nparams, may be NULL), and, if W_out != NULL, the end-to-end matrix. No allocation. */
int dln_net_grad(dln_net *net, dln_loss *loss, const double *theta, double *value, double *grad, double *W_out);

/* Imbalance regularizer (001 Prop. 4 eq. 27; the same sum for any depth):
 *   R(θ) = ⅛ Σ_{j=1}^{N−1} ‖W_{j+1}^T W_{j+1} − W_j W_j^T − Λ_j‖_F²,  Λ_j = λ0 I + L_j.
 * Once set, the network's objective is φ(θ) = ℓ(W_N···W_1) + R(θ): dln_net_grad returns
 * φ and ∇φ and dln_net_hvp ∇²φ v, so every integrator, gradient descent and the stop
 * rules see it. L (may be NULL: L_j = 0) holds N−1 pointers, L[j−1] the d_j x d_j matrix
 * L_j (column-major, copied; only sym(L_j) changes the gradient, skew(L_j) adds a
 * constant). Untied nets of depth ≥ 2 only. Allocates; replaces an earlier setting.
 * dln_net_clear_imbalance_reg switches it off (φ = ℓ again, bit for bit). */
int dln_net_set_imbalance_reg(dln_net *net, double lambda0, const double *const *L);
int dln_net_clear_imbalance_reg(dln_net *net);
/* 1 when the regularizer is on, 0 when off or net is NULL. */
int dln_net_has_imbalance_reg(const dln_net *net);
/* *R = R(θ) alone (0 when off). No allocation. */
int dln_net_imbalance_reg(const dln_net *net, const double *theta, double *R);
/* The two parts of φ = ℓ + R: ℓ(W) into *loss_value, R(θ) into *reg_value (each may be
 * NULL), ∇φ into grad and W into W_out (may be NULL), as dln_net_grad. No allocation. */
int dln_net_objective(dln_net *net, dln_loss *loss, const double *theta, double *loss_value, double *reg_value,
                      double *grad, double *W_out);

/* grad = ∂⟨G, W_N···W_1⟩/∂θ: the per-layer gradients W_{N:j+1}ᵀ G W_{j-1:1}ᵀ that an end-to-end
 * gradient G (d_N x d_0) induces (002 Lemma 1 proof), without the loss or the regularizer.
 * grad (nparams) must not be G. No allocation. */
int dln_net_backprop(dln_net *net, const double *theta, const double *G, double *grad);

/* Hessian-vector product of φ at θ in direction v: out = ∇²φ(θ) v (length nparams).
 * Exact (a directional derivative of the per-layer gradients); no allocation. */
int dln_net_hvp(dln_net *net, dln_loss *loss, const double *theta, const double *v, double *out);

/* C_j = W_{j+1}^T W_{j+1} − W_j W_j^T (d_j x d_j), j = 1..N−1 (002 Lemma 1),
 * conserved under gradient flow. */
int dln_net_conserved(const dln_net *net, const double *theta, int j, double *C);

/* Unbalancedness magnitude max_j ‖C_j‖_F (002 Definition 1); 0 for N = 1 and tied nets. */
/* NaN for a NULL argument. */
double dln_net_unbalancedness(dln_net *net, const double *theta);

/* Check that all entries of θ are finite (message names the layer and entry). */
int dln_net_check_finite(const dln_net *net, const double *theta, const char *what);

/* Small-matrix kernels, the path of the network's products (issue 14):
 *   DLN_SMALL_TINY  dln's size-specialized kernels for products with every dimension ≤ 8
 *                   (src/model/tiny_gemm.c), libxsmm for the other small ones, OpenBLAS
 *                   beyond (the default);
 *   DLN_SMALL_XSMM  libxsmm JIT kernels for small products, OpenBLAS beyond;
 *   DLN_SMALL_OFF   OpenBLAS for every product.
 * The default comes from DLN_SMALL_KERNELS in the environment (tiny, xsmm, off; 0 = off,
 * 1 = xsmm; dln_net_alloc fails on another value), else tiny; the spec option
 * small_kernels sets it per run. Each path is deterministic; they differ in the last
 * bits because their summation orders differ (xsmm's also with the CPU it JITs for).
 * dln_net_set_small_kernels: DLN_EINVAL for a kind outside 0..2. dln_net_small_kernels:
 * the kind, −1 for a NULL net. dln_small_kernels_name: "off", "xsmm", "tiny", NULL (message
 * recorded) for another kind. dln_small_kernels_parse: the kind of a name (also "0", "1"), DLN_EINVAL
 * naming the value otherwise. */
enum { DLN_SMALL_OFF = 0, DLN_SMALL_XSMM = 1, DLN_SMALL_TINY = 2 };
int dln_net_set_small_kernels(dln_net *net, int kind);
int dln_net_small_kernels(const dln_net *net);
const char *dln_small_kernels_name(int kind);
int dln_small_kernels_parse(const char *name, int *kind);

#ifdef __cplusplus
}
#endif
#endif
