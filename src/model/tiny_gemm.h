/* Size-specialized small matrix products for the network (issue 14: tiny networks).
 *
 * C (m x n) = op(A) op(B) (+ C), column-major, natural leading dimensions (A m x k or
 * k x m, B k x n or n x k, C m x n), op ∈ {NN, NT, TN}. One kernel per shape, compiled
 * with the dimensions as constants so every loop is unrolled: all m, n, k ≤ 4 (tier A)
 * and m, k ≤ 8 with n ≤ 8 a loop bound (tier B). The summation order is fixed,
 * C[i,j] = ((a_i0 b_0j + a_i1 b_1j) + ...) (+ C[i,j] after the sum), no FMA contraction
 * (-std=c17), so a product is the same bits on every x86-64 processor. */
#ifndef DLN_MODEL_TINY_GEMM_H
#define DLN_MODEL_TINY_GEMM_H

#define DLN_TINY_MAX 8 /* the largest dimension with a specialized kernel */

typedef void (*dln_tiny_fn)(const double *restrict a, const double *restrict b, double *restrict c, int n);

enum { DLN_TINY_NN = 0, DLN_TINY_NT = 1, DLN_TINY_TN = 2 };

/* [op * 2 + acc][(m-1)*16 + (n-1)*4 + (k-1)] and [op * 2 + acc][(m-1)*8 + (k-1)] */
extern const dln_tiny_fn dln_tiny_tab_a[6][64];
extern const dln_tiny_fn dln_tiny_tab_b[6][64];

/* The kernel of a product, NULL when the shape or op has none (then use another path).
 * op: DLN_TINY_NN/NT/TN; acc: 0 C = op(A)op(B), 1 C += op(A)op(B). */
static inline dln_tiny_fn dln_tiny_kernel(int op, int acc, int m, int n, int k) {
  unsigned um = (unsigned)m - 1u, un = (unsigned)n - 1u, uk = (unsigned)k - 1u;
  if ((um | un | uk) < 4u) return dln_tiny_tab_a[op * 2 + acc][um * 16u + un * 4u + uk];
  if (um < 8u && un < 8u && uk < 8u) return dln_tiny_tab_b[op * 2 + acc][um * 8u + uk];
  return 0;
}

/* The backward step of one layer in one call, for d_j, d_{j-1}, d_0 ≤ 4:
 * g = B P^T (∂φ/∂W_j = B_j P_{j-1}^T, d_j x d_{j-1}) and dst = W^T B (B_{j-1} = W_j^T B_j,
 * d_{j-1} x d_0), with B d_j x d_0, P d_{j-1} x d_0, W d_j x d_{j-1}; the same sums as the
 * NT and TN kernels. NULL for larger widths. */
typedef void (*dln_tiny_pair_fn)(const double *restrict b, const double *restrict p, const double *restrict w,
                                 double *restrict g, double *restrict dst);
extern const dln_tiny_pair_fn dln_tiny_tab_pair[64];
static inline dln_tiny_pair_fn dln_tiny_pair(int dj, int dj1, int d0) {
  unsigned a = (unsigned)dj - 1u, b = (unsigned)dj1 - 1u, c = (unsigned)d0 - 1u;
  return (a | b | c) < 4u ? dln_tiny_tab_pair[a * 16u + b * 4u + c] : 0;
}

/* The gradient's two passes in one call each for a network whose widths all equal d ≤ 2
 * (any depth N ≥ 2, layers W_j at theta + (j−1)d², not tied): fwd stores P_j = W_j P_{j−1}
 * in P[j], j = 2..N (P_1 = W_1); back writes ∂φ/∂W_j = B_j P_{j−1}^T from B_N = G, with
 * B_{j−1} = W_j^T B_j. The same sums in the same order as the NN/NT/TN kernels and the
 * pair (so the same bits as calling them layer by layer). NULL for other widths. */
typedef struct {
  void (*fwd)(int N, const double *restrict theta, double *const *P);
  void (*back)(int N, const double *restrict theta, double *const *P, const double *restrict G, double *restrict grad);
  /* back, and with each layer's gradient still in registers the gradient-descent update
   * next = theta + step·grad, rounded as dln_vec_axpy_over; returns 1 when an |entry| of
   * next is above bound or NaN */
  int (*step)(int N, const double *restrict theta, double *const *P, const double *restrict G, double *restrict grad,
              double step, double *restrict next, double bound);
} dln_tiny_chain;
const dln_tiny_chain *dln_tiny_chain_of(int d);

/* t (m x k, leading dimension m) = a^T, a k x m with leading dimension lda (an exact copy:
 * the transposed operand of the libxsmm products, which have no transposed-A kernels).
 * 4 x 4 blocks with AVX2 shuffles where the processor has them, else element by element. */
void dln_tiny_transpose(int m, int k, const double *restrict a, int lda, double *restrict t);

/* c (m x n, ld m) = a^T b for a narrow result (m ≤ 8): a k x m, b k x n (leading dimension k
 * both), each entry the dot product of two contiguous columns. Sum of entry (i, j): four
 * lanes s_q = Σ_{l < k4, l ≡ q mod 4} a_li b_lj in order of l, each step one fused
 * multiply-add s_q ← fma(a_li, b_lj, s_q), then (s_0 + s_1) + (s_2 + s_3), then the tail
 * l ≥ k4 = 4⌊k/4⌋ in order, t ← fma(a_li, b_lj, t): the AVX2+FMA code and the portable code
 * (C99 fma, correctly rounded) give the same bits. */
#define DLN_TINY_DOT_MAXM 8
void dln_tiny_dot_tn(int m, int n, int k, const double *restrict a, const double *restrict b, double *restrict c);

/* c (m x n, ld m) = b x^T for a narrow result (m ≤ 8; else any m, slowly): b m x k (ld m),
 * x n x k (ld n) — the gradient B_j P_{j−1}^T of a narrow layer written in place, without
 * transposing operands or result. Entry (r, i) = Σ_l b_rl x_il in order of l, each step a
 * fused multiply-add from 0: the AVX2+FMA code and the portable code give the same bits. */
void dln_tiny_nt_narrow(int m, int n, int k, const double *restrict b, const double *restrict x, double *restrict c);

#endif
