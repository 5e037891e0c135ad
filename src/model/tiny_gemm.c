/* Size-specialized small matrix products (tiny_gemm.h): the products of the layer-wise
 * gradient ∂φ/∂W_j = W_{N:j+1}^T ∇ℓ W_{j-1:1}^T (002 Lemma 1 proof; 004 eq. 6) and of its
 * Hessian-vector product for networks whose widths are at most 8. At these sizes a
 * library call (OpenBLAS ≈ 300 ns, a cached libxsmm kernel ≈ 20 ns with its lookup) costs
 * more than the arithmetic (8 multiply-adds for 2 x 2 x 2); here each shape is its own
 * function with constant bounds, fully unrolled by the compiler. */
#include "model/tiny_gemm.h"

#include <math.h>
#include <stddef.h>

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#define DLN_TINY_AVX2 1
#endif

#define TK static inline __attribute__((always_inline))

/* C[i,j] (+)= Σ_l A[i,l] B[l,j]; A M x K, B K x n */
TK void tk_nn(int M, int K, int n, int acc, const double *restrict a, const double *restrict b, double *restrict c) {
  for (int j = 0; j < n; ++j) {
    double s[DLN_TINY_MAX];
    for (int i = 0; i < M; ++i) s[i] = a[i] * b[j * K];
    for (int l = 1; l < K; ++l)
      for (int i = 0; i < M; ++i) s[i] += a[i + l * M] * b[l + j * K];
    for (int i = 0; i < M; ++i) c[i + j * M] = acc ? c[i + j * M] + s[i] : s[i];
  }
}

/* C[i,j] (+)= Σ_l A[i,l] B[j,l]; A M x K, B n x K */
TK void tk_nt(int M, int K, int n, int acc, const double *restrict a, const double *restrict b, double *restrict c) {
  for (int j = 0; j < n; ++j) {
    double s[DLN_TINY_MAX];
    for (int i = 0; i < M; ++i) s[i] = a[i] * b[j];
    for (int l = 1; l < K; ++l)
      for (int i = 0; i < M; ++i) s[i] += a[i + l * M] * b[j + l * n];
    for (int i = 0; i < M; ++i) c[i + j * M] = acc ? c[i + j * M] + s[i] : s[i];
  }
}

/* C[i,j] (+)= Σ_l A[l,i] B[l,j]; A K x M, B K x n */
TK void tk_tn(int M, int K, int n, int acc, const double *restrict a, const double *restrict b, double *restrict c) {
  for (int j = 0; j < n; ++j) {
    double s[DLN_TINY_MAX];
    for (int i = 0; i < M; ++i) s[i] = a[i * K] * b[j * K];
    for (int l = 1; l < K; ++l)
      for (int i = 0; i < M; ++i) s[i] += a[l + i * K] * b[l + j * K];
    for (int i = 0; i < M; ++i) c[i + j * M] = acc ? c[i + j * M] + s[i] : s[i];
  }
}

/* ---- tier A: m, n, k ≤ 4, all constant */
#define DEFA(V, A, M, N, K)                                                                                \
  static void a_##V##A##_##M##N##K(const double *restrict a, const double *restrict b, double *restrict c, \
                                   int n) {                                                              \
    (void)n;                                                                                             \
    tk_##V(M, K, N, A, a, b, c);                                                                         \
  }
#define REFA(V, A, M, N, K) a_##V##A##_##M##N##K,
#define K4(F, V, A, M, N) F(V, A, M, N, 1) F(V, A, M, N, 2) F(V, A, M, N, 3) F(V, A, M, N, 4)
#define N4(F, V, A, M) K4(F, V, A, M, 1) K4(F, V, A, M, 2) K4(F, V, A, M, 3) K4(F, V, A, M, 4)
#define M4(F, V, A) N4(F, V, A, 1) N4(F, V, A, 2) N4(F, V, A, 3) N4(F, V, A, 4)

/* ---- tier B: m, k ≤ 8 constant, n ≤ 8 a loop bound */
#define DEFB(V, A, M, K)                                                                                              \
  static void b_##V##A##_##M##K(const double *restrict a, const double *restrict b, double *restrict c, int n) { \
    tk_##V(M, K, n, A, a, b, c);                                                                                    \
  }
#define REFB(V, A, M, K) b_##V##A##_##M##K,
#define K8(F, V, A, M) \
  F(V, A, M, 1) F(V, A, M, 2) F(V, A, M, 3) F(V, A, M, 4) F(V, A, M, 5) F(V, A, M, 6) F(V, A, M, 7) F(V, A, M, 8)
#define M8(F, V, A) \
  K8(F, V, A, 1) K8(F, V, A, 2) K8(F, V, A, 3) K8(F, V, A, 4) K8(F, V, A, 5) K8(F, V, A, 6) K8(F, V, A, 7) K8(F, V, A, 8)

#define ALL(L, F) L(F, nn, 0) L(F, nn, 1) L(F, nt, 0) L(F, nt, 1) L(F, tn, 0) L(F, tn, 1)

ALL(M4, DEFA)
ALL(M8, DEFB)

/* rows in the order of DLN_TINY_NN/NT/TN x acc 0/1 */
const dln_tiny_fn dln_tiny_tab_a[6][64] = {{M4(REFA, nn, 0)}, {M4(REFA, nn, 1)}, {M4(REFA, nt, 0)},
                                            {M4(REFA, nt, 1)}, {M4(REFA, tn, 0)}, {M4(REFA, tn, 1)}};
const dln_tiny_fn dln_tiny_tab_b[6][64] = {{M8(REFB, nn, 0)}, {M8(REFB, nn, 1)}, {M8(REFB, nt, 0)},
                                            {M8(REFB, nt, 1)}, {M8(REFB, tn, 0)}, {M8(REFB, tn, 1)}};

/* ---- the backward pair of a layer (dln_tiny_pair): d_j = J, d_{j-1} = K, d_0 = Z ≤ 4 */
#define DEFP(V, A, J, K, Z)                                                                                   \
  static void p_##J##K##Z(const double *restrict b, const double *restrict p, const double *restrict w,       \
                          double *restrict g, double *restrict dst) {                                         \
    tk_nt(J, Z, K, 0, b, p, g);   /* g = B P^T: J x K, inner Z */                                              \
    tk_tn(K, J, Z, 0, w, b, dst); /* dst = W^T B: K x Z, inner J */                                            \
  }
#define REFP(V, A, J, K, Z) p_##J##K##Z,
M4(DEFP, pair, 0)
const dln_tiny_pair_fn dln_tiny_tab_pair[64] = {M4(REFP, pair, 0)};

/* ---- the whole gradient of a network whose widths all equal D ≤ 2 (dln_tiny_chain_of):
 * the same products, kernels' sums and order as forward_tiny/backprop_tiny with the tk_*
 * kernels above, one call per pass, the running product and B_j held in registers */
/* 16-byte stores of P_N = W, which the loss may read 16 or 32 bytes at a time (a load that
 * spans several narrower stores is not forwarded from them: it waits for the cache) */
TK void st_mat(int n, const double *q, double *restrict dst) {
  int i = 0;
#ifdef DLN_TINY_AVX2
  for (; i + 2 <= n; i += 2) _mm_storeu_pd(dst + i, _mm_set_pd(q[i + 1], q[i]));
#endif
  for (; i < n; ++i) dst[i] = q[i];
}
/* g (layer j's gradient, in registers) to grad_j, and with upd next_j = θ_j + step·g
 * (rounded as dln_vec_axpy_over: no contraction), whose |entries| are tested against the
 * bound (!(|v| <= bound): NaN fails too): returns 1 when one fails. Pairs of entries as
 * SSE2 vectors (the same operations on each lane). */
TK int chain_emit(int n, const double *g, double *restrict grad, int upd, double step, const double *restrict th,
                  double *restrict next, double bound) {
  int i = 0, over = 0;
#ifdef DLN_TINY_AVX2
  __m128d acc = _mm_setzero_pd(), s = _mm_set1_pd(step), bnd = _mm_set1_pd(bound),
          msk = _mm_castsi128_pd(_mm_set1_epi64x(0x7FFFFFFFFFFFFFFFll));
  for (; i + 2 <= n; i += 2) {
    __m128d gv = _mm_set_pd(g[i + 1], g[i]);
    _mm_storeu_pd(grad + i, gv);
    if (upd) {
      __m128d v = _mm_add_pd(_mm_loadu_pd(th + i), _mm_mul_pd(s, gv));
      acc = _mm_or_pd(acc, _mm_cmpnle_pd(_mm_and_pd(v, msk), bnd));
      _mm_storeu_pd(next + i, v);
    }
  }
  if (upd) over = _mm_movemask_pd(acc) != 0;
#endif
  for (; i < n; ++i) {
    grad[i] = g[i];
    if (upd) {
      double v = th[i] + step * g[i];
      over |= !(fabs(v) <= bound);
      next[i] = v;
    }
  }
  return over;
}

/* backprop from B_N = G: ∂φ/∂W_j = B_j P_{j-1}^T, B_{j-1} = W_j^T B_j; with upd also the
 * gradient-descent update of every layer (chain_emit) */
TK int chain_body(int D, int N, const double *restrict theta, double *const *P, const double *restrict G,
                  double *restrict grad, int upd, double step, double *restrict next, double bb) {
  double b[16], nb[16], g[16]; /* D ≤ 4 (offered for D ≤ 2, see chain_tab) */
  const int DD = D * D;
  int over = 0;
  if (N == 2) {
    tk_nt(D, D, D, 0, G, theta, g);
    over |= chain_emit(DD, g, grad + DD, upd, step, theta + DD, next + DD, bb);
    tk_tn(D, D, D, 0, theta + DD, G, g);
    over |= chain_emit(DD, g, grad, upd, step, theta, next, bb);
    return over;
  }
  tk_nt(D, D, D, 0, G, P[N - 1], g); /* ∂φ/∂W_N = B_N P_{N-1}^T, B_N = G */
  over |= chain_emit(DD, g, grad + (N - 1) * DD, upd, step, theta + (N - 1) * DD, next + (N - 1) * DD, bb);
  tk_tn(D, D, D, 0, theta + (N - 1) * DD, G, b); /* B_{N-1} = W_N^T B_N */
  for (int j = N - 1; j >= 3; --j) {
    tk_nt(D, D, D, 0, b, P[j - 1], g);
    over |= chain_emit(DD, g, grad + (j - 1) * DD, upd, step, theta + (j - 1) * DD, next + (j - 1) * DD, bb);
    tk_tn(D, D, D, 0, theta + (j - 1) * DD, b, nb);
    for (int i = 0; i < DD; ++i) b[i] = nb[i];
  }
  tk_nt(D, D, D, 0, b, theta, g); /* layer 2, P_1 = W_1 */
  over |= chain_emit(DD, g, grad + DD, upd, step, theta + DD, next + DD, bb);
  tk_tn(D, D, D, 0, theta + DD, b, g); /* ∂φ/∂W_1 = B_1 = W_2^T B_2 */
  over |= chain_emit(DD, g, grad, upd, step, theta, next, bb);
  return over;
}

#define DEFC(D)                                                                                                   \
  static void chain_fwd_##D(int N, const double *restrict theta, double *const *P) {                            \
    double p[D * D], q[D * D];                                                                                    \
    tk_nn(D, D, D, 0, theta + D * D, theta, p); /* P_2 = W_2 W_1 */                                               \
    for (int j = 3; j <= N; ++j) { /* P_j = W_j P_{j-1} */                                                        \
      for (int i = 0; i < D * D; ++i) P[j - 1][i] = p[i];                                                         \
      tk_nn(D, D, D, 0, theta + (j - 1) * D * D, p, q);                                                           \
      for (int i = 0; i < D * D; ++i) p[i] = q[i];                                                                \
    }                                                                                                             \
    st_mat(D * D, p, P[N]);                                                                                       \
  }                                                                                                               \
  static void chain_back_##D(int N, const double *restrict theta, double *const *P, const double *restrict G,    \
                             double *restrict grad) {                                                             \
    chain_body(D, N, theta, P, G, grad, 0, 0.0, 0, 0.0);                                                          \
  }                                                                                                               \
  static int chain_step_##D(int N, const double *restrict theta, double *const *P, const double *restrict G,     \
                            double *restrict grad, double step, double *restrict next, double bound) {            \
    return chain_body(D, N, theta, P, G, grad, 1, step, next, bound);                                             \
  }
/* GCC's vectorizer would pair up the scalar results through the stack (two narrow stores,
 * one wide load that cannot be forwarded from them: ≈ 30 % of a 2 x 2 step) */
#pragma GCC push_options
#pragma GCC optimize("no-tree-vectorize", "no-tree-loop-distribute-patterns")
DEFC(1) DEFC(2)
#pragma GCC pop_options
/* d = 3, 4 measured slower than the layer-by-layer kernels (fact_n4_depth3 7.9 M against
 * 10.7 M steps/s: the 9 and 16 entries of B_j and the gradient no longer fit the 16 SSE
 * registers, and the vectorized variant pays the update's extra loads), so not offered */
static const dln_tiny_chain chain_tab[2] = {{chain_fwd_1, chain_back_1, chain_step_1},
                                            {chain_fwd_2, chain_back_2, chain_step_2}};
const dln_tiny_chain *dln_tiny_chain_of(int d) { return d >= 1 && d <= 2 ? &chain_tab[d - 1] : 0; }

/* ---- transposes */
static void transpose_scalar(int m, int k, int i0, int l0, const double *restrict a, int lda, double *restrict t) {
  for (int i = i0; i < m; ++i) /* columns i ≥ i0 of t's rows, then rows l ≥ l0 of the rest */
    for (int l = 0; l < k; ++l) t[i + (size_t)l * m] = a[l + (size_t)i * lda];
  for (int l = l0; l < k; ++l) /* the long loop inside: l0 is within 3 of k */
    for (int i = 0; i < i0; ++i) t[i + (size_t)l * m] = a[l + (size_t)i * lda];
}

#ifdef DLN_TINY_AVX2
/* four columns i..i+3 of a at a time: their rows l..l+3 by 4 x 4 blocks, the last k mod 4
 * rows one 4-vector each; the last m mod 4 columns element by element */
__attribute__((target("avx2"))) static void transpose_avx2(int m, int k, const double *restrict a, int lda,
                                                          double *restrict t) {
  int m4 = m & ~3;
  for (int i = 0; i < m4; i += 4) {
    const double *s0 = a + (size_t)i * lda, *s1 = s0 + lda, *s2 = s1 + lda, *s3 = s2 + lda;
    double *d = t + i;
    int l = 0;
    for (; l + 4 <= k; l += 4) {
      __m256d v0 = _mm256_loadu_pd(s0 + l), v1 = _mm256_loadu_pd(s1 + l), v2 = _mm256_loadu_pd(s2 + l),
              v3 = _mm256_loadu_pd(s3 + l);
      __m256d t0 = _mm256_unpacklo_pd(v0, v1), t1 = _mm256_unpackhi_pd(v0, v1);
      __m256d t2 = _mm256_unpacklo_pd(v2, v3), t3 = _mm256_unpackhi_pd(v2, v3);
      double *e = d + (size_t)l * m;
      _mm256_storeu_pd(e, _mm256_permute2f128_pd(t0, t2, 0x20));
      _mm256_storeu_pd(e + m, _mm256_permute2f128_pd(t1, t3, 0x20));
      _mm256_storeu_pd(e + 2 * (size_t)m, _mm256_permute2f128_pd(t0, t2, 0x31));
      _mm256_storeu_pd(e + 3 * (size_t)m, _mm256_permute2f128_pd(t1, t3, 0x31));
    }
    for (; l < k; ++l) _mm256_storeu_pd(d + (size_t)l * m, _mm256_set_pd(s3[l], s2[l], s1[l], s0[l]));
  }
  transpose_scalar(m, k, m4, k, a, lda, t);
}
#endif

void dln_tiny_transpose(int m, int k, const double *restrict a, int lda, double *restrict t) {
#ifdef DLN_TINY_AVX2
  if (__builtin_cpu_supports("avx2")) { /* a load of libgcc's processor flags */
    transpose_avx2(m, k, a, lda, t);
    return;
  }
#endif
  transpose_scalar(m, k, 0, k, a, lda, t);
}

/* ---- narrow a^T b (dln_tiny_dot_tn) */
/* the narrow kernels' AVX2+FMA clones: (n, k, operand, operand, result) */
typedef void (*narrow_fn)(int, int, const double *restrict, const double *restrict, double *restrict);
static void dot_tn_scalar(int m, int n, int k, const double *restrict a, const double *restrict b, double *restrict c) {
  int k4 = k & ~3;
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < m; ++i) {
      const double *x = a + (size_t)i * k, *y = b + (size_t)j * k;
      double s[4] = {0, 0, 0, 0};
      for (int l = 0; l < k4; l += 4)
        for (int q = 0; q < 4; ++q) s[q] = fma(x[l + q], y[l + q], s[q]);
      double t = (s[0] + s[1]) + (s[2] + s[3]);
      for (int l = k4; l < k; ++l) t = fma(x[l], y[l], t);
      c[i + (size_t)j * m] = t;
    }
}

#ifdef DLN_TINY_AVX2
/* (s0 + s1) + (s2 + s3) of the four lanes, then the tail l ≥ k4 in order */
__attribute__((target("avx2,fma"), always_inline)) static inline double dot_tn_finish(__m256d s, int k4, int k,
                                                                                     const double *restrict x,
                                                                                     const double *restrict y) {
  __m128d lo = _mm256_castpd256_pd128(s), hi = _mm256_extractf128_pd(s, 1);
  double t = _mm_cvtsd_f64(_mm_add_sd(_mm_add_sd(lo, _mm_unpackhi_pd(lo, lo)), _mm_add_sd(hi, _mm_unpackhi_pd(hi, hi))));
  for (int l = k4; l < k; ++l) t = fma(x[l], y[l], t);
  return t;
}
/* m a constant in each caller below, so the accumulators stay in registers; for m ≤ 6
 * two columns of b at a time (each a column read once for both: 2m + 3 of the 16 ymm
 * registers) */
__attribute__((target("avx2,fma"), always_inline)) static inline void dot_tn_body(int m, int n, int k, const double *restrict a,
                                                                                 const double *restrict b, double *restrict c) {
  int k4 = k & ~3, j = 0;
  if (m <= 6)
    for (; j + 2 <= n; j += 2) {
      const double *y = b + (size_t)j * k, *z = y + k;
      __m256d s[6], u[6];
#pragma GCC unroll 8
      for (int i = 0; i < m; ++i) s[i] = u[i] = _mm256_setzero_pd();
      for (int l = 0; l < k4; l += 4) {
        __m256d yv = _mm256_loadu_pd(y + l), zv = _mm256_loadu_pd(z + l);
#pragma GCC unroll 8
        for (int i = 0; i < m; ++i) {
          __m256d av = _mm256_loadu_pd(a + (size_t)i * k + l);
          s[i] = _mm256_fmadd_pd(av, yv, s[i]);
          u[i] = _mm256_fmadd_pd(av, zv, u[i]);
        }
      }
#pragma GCC unroll 8
      for (int i = 0; i < m; ++i) {
        const double *x = a + (size_t)i * k;
        /* both reductions at once: hadd gives (s0+s1, u0+u1, s2+s3, u2+u3), its halves added
         * ((s0+s1)+(s2+s3), (u0+u1)+(u2+u3)): the stated order */
        __m256d h = _mm256_hadd_pd(s[i], u[i]);
        __m128d su = _mm_add_pd(_mm256_castpd256_pd128(h), _mm256_extractf128_pd(h, 1));
        double ts = _mm_cvtsd_f64(su), tu = _mm_cvtsd_f64(_mm_unpackhi_pd(su, su));
        for (int l = k4; l < k; ++l) ts = fma(x[l], y[l], ts), tu = fma(x[l], z[l], tu);
        c[i + (size_t)j * m] = ts;
        c[i + (size_t)(j + 1) * m] = tu;
      }
    }
  for (; j < n; ++j) {
    const double *y = b + (size_t)j * k;
    __m256d s[DLN_TINY_DOT_MAXM];
#pragma GCC unroll 8
    for (int i = 0; i < m; ++i) s[i] = _mm256_setzero_pd();
    for (int l = 0; l < k4; l += 4) {
      __m256d yv = _mm256_loadu_pd(y + l);
#pragma GCC unroll 8
      for (int i = 0; i < m; ++i) s[i] = _mm256_fmadd_pd(_mm256_loadu_pd(a + (size_t)i * k + l), yv, s[i]);
    }
#pragma GCC unroll 8
    for (int i = 0; i < m; ++i) c[i + (size_t)j * m] = dot_tn_finish(s[i], k4, k, a + (size_t)i * k, y);
  }
}
/* a narrow kernel's AVX2+FMA clones for m = 1..8 rows (NAME_body with m a constant) and
 * their table NAME_avx2[m − 1] */
#define NARROW_CLONE(NAME, M)                                                                                      \
  __attribute__((target("avx2,fma"))) static void NAME##_##M(int n, int k, const double *restrict p,              \
                                                            const double *restrict q, double *restrict c) {       \
    NAME##_body(M, n, k, p, q, c);                                                                                 \
  }
#define NARROW_CLONES(NAME)                                                                                        \
  NARROW_CLONE(NAME, 1) NARROW_CLONE(NAME, 2) NARROW_CLONE(NAME, 3) NARROW_CLONE(NAME, 4) NARROW_CLONE(NAME, 5)  \
  NARROW_CLONE(NAME, 6) NARROW_CLONE(NAME, 7) NARROW_CLONE(NAME, 8)                                               \
  static const narrow_fn NAME##_avx2[DLN_TINY_DOT_MAXM] = {NAME##_1, NAME##_2, NAME##_3, NAME##_4,                 \
                                                           NAME##_5, NAME##_6, NAME##_7, NAME##_8};
NARROW_CLONES(dot_tn)
#endif

/* a narrow kernel: its clone for m = 1..8 on a processor with AVX2 and FMA (a load of
 * libgcc's flags), else the portable code (the same bits) */
typedef void (*narrow_portable_fn)(int, int, int, const double *restrict, const double *restrict, double *restrict);
static void narrow_run(const narrow_fn *avx2, narrow_portable_fn portable, int m, int n, int k, const double *restrict p,
                       const double *restrict q, double *restrict c) {
#ifdef DLN_TINY_AVX2
  if (m >= 1 && m <= DLN_TINY_DOT_MAXM && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    avx2[m - 1](n, k, p, q, c);
    return;
  }
#else
  (void)avx2;
#endif
  portable(m, n, k, p, q, c);
}

#ifdef DLN_TINY_AVX2
#define NARROW_AVX2(NAME) NAME##_avx2
#else
#define NARROW_AVX2(NAME) NULL
#endif

void dln_tiny_dot_tn(int m, int n, int k, const double *restrict a, const double *restrict b, double *restrict c) {
  narrow_run(NARROW_AVX2(dot_tn), dot_tn_scalar, m, n, k, a, b, c);
}

/* ---- narrow b x^T (dln_tiny_nt_narrow) */
static void nt_narrow_scalar(int m, int i0, int n, int k, const double *restrict b, const double *restrict x,
                             double *restrict c) {
  for (int i = i0; i < n; ++i)
    for (int r = 0; r < m; ++r) {
      double t = 0.0;
      for (int l = 0; l < k; ++l) t = fma(b[r + (size_t)l * m], x[i + (size_t)l * n], t);
      c[r + (size_t)i * m] = t;
    }
}

#ifdef DLN_TINY_AVX2
/* columns i..i+3 of c from acc_r (lanes i..i+3): rows 0-3 and 4-7 by 4 x 4 register
 * transposes, a partial group of rows through a small buffer */
__attribute__((target("avx2,fma"), always_inline)) static inline void nt_store4(int M, const __m256d *acc, double *restrict c) {
  for (int g = 0; g < M; g += 4) {
    int R = M - g < 4 ? M - g : 4;
    if (R == 4) {
      __m256d t0 = _mm256_unpacklo_pd(acc[g], acc[g + 1]), t1 = _mm256_unpackhi_pd(acc[g], acc[g + 1]);
      __m256d t2 = _mm256_unpacklo_pd(acc[g + 2], acc[g + 3]), t3 = _mm256_unpackhi_pd(acc[g + 2], acc[g + 3]);
      _mm256_storeu_pd(c + g, _mm256_permute2f128_pd(t0, t2, 0x20));
      _mm256_storeu_pd(c + M + g, _mm256_permute2f128_pd(t1, t3, 0x20));
      _mm256_storeu_pd(c + 2 * M + g, _mm256_permute2f128_pd(t0, t2, 0x31));
      _mm256_storeu_pd(c + 3 * M + g, _mm256_permute2f128_pd(t1, t3, 0x31));
    } else {
      double tb[4][4];
      for (int r = 0; r < R; ++r) _mm256_storeu_pd(tb[r], acc[g + r]);
      for (int q = 0; q < 4; ++q)
        for (int r = 0; r < R; ++r) c[q * M + g + r] = tb[r][q];
    }
  }
}
/* columns of c in blocks of 8 (M ≤ 6: 2M accumulators, each b_rl broadcast once for both
 * halves) and of 4: acc_r ← fma(b_rl, x[i.., l], acc_r) for l in order; the rest scalar */
__attribute__((target("avx2,fma"), always_inline)) static inline void nt_narrow_body(int M, int n, int k,
                                                                                    const double *restrict b,
                                                                                    const double *restrict x,
                                                                                    double *restrict c) {
  int i = 0;
  if (M <= 6)
    for (; i + 8 <= n; i += 8) {
      __m256d acc[6], acc2[6];
#pragma GCC unroll 8
      for (int r = 0; r < M; ++r) acc[r] = acc2[r] = _mm256_setzero_pd();
      for (int l = 0; l < k; ++l) {
        __m256d xv = _mm256_loadu_pd(x + i + (size_t)l * n), xw = _mm256_loadu_pd(x + i + 4 + (size_t)l * n);
#pragma GCC unroll 8
        for (int r = 0; r < M; ++r) {
          __m256d bv = _mm256_broadcast_sd(b + r + (size_t)l * M);
          acc[r] = _mm256_fmadd_pd(bv, xv, acc[r]);
          acc2[r] = _mm256_fmadd_pd(bv, xw, acc2[r]);
        }
      }
      nt_store4(M, acc, c + (size_t)i * M);
      nt_store4(M, acc2, c + (size_t)(i + 4) * M);
    }
  for (; i + 4 <= n; i += 4) {
    __m256d acc[8];
#pragma GCC unroll 8
    for (int r = 0; r < M; ++r) acc[r] = _mm256_setzero_pd();
    for (int l = 0; l < k; ++l) {
      __m256d xv = _mm256_loadu_pd(x + i + (size_t)l * n);
#pragma GCC unroll 8
      for (int r = 0; r < M; ++r) acc[r] = _mm256_fmadd_pd(_mm256_broadcast_sd(b + r + (size_t)l * M), xv, acc[r]);
    }
    nt_store4(M, acc, c + (size_t)i * M);
  }
  if (i < n) { /* the last 1-3 columns: masked loads (no lane reads past x), the same sums */
    int Q = n - i;
    __m256i mask = _mm256_setr_epi64x(-1, Q > 1 ? -1 : 0, Q > 2 ? -1 : 0, 0);
    __m256d acc[8];
#pragma GCC unroll 8
    for (int r = 0; r < M; ++r) acc[r] = _mm256_setzero_pd();
    for (int l = 0; l < k; ++l) {
      __m256d xv = _mm256_maskload_pd(x + i + (size_t)l * n, mask);
#pragma GCC unroll 8
      for (int r = 0; r < M; ++r) acc[r] = _mm256_fmadd_pd(_mm256_broadcast_sd(b + r + (size_t)l * M), xv, acc[r]);
    }
    double tb[8][4];
    for (int r = 0; r < M; ++r) _mm256_storeu_pd(tb[r], acc[r]);
    for (int q = 0; q < Q; ++q)
      for (int r = 0; r < M; ++r) c[(size_t)(i + q) * M + r] = tb[r][q];
  }
}
NARROW_CLONES(nt_narrow)
#endif

static void nt_narrow_portable(int m, int n, int k, const double *restrict b, const double *restrict x,
                               double *restrict c) {
  nt_narrow_scalar(m, 0, n, k, b, x, c);
}

void dln_tiny_nt_narrow(int m, int n, int k, const double *restrict b, const double *restrict x, double *restrict c) {
  narrow_run(NARROW_AVX2(nt_narrow), nt_narrow_portable, m, n, k, b, x, c);
}
