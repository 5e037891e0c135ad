/* dln's size-specialized small kernels (src/model/tiny_gemm.c, small_kernels = tiny):
 *  - every kernel (all m, n, k ≤ 8; NN, NT, TN; C = and C +=) against cblas_dgemm, to
 *    1e-14 relative to Σ_l |a_il||b_lj| (+ |c_ij|) per entry (the round-off bound of a sum
 *    of ≤ 8 products is ≈ 9ε ≈ 2e-15 of it), and no kernel for a dimension of 9; the
 *    backward pairs (widths ≤ 4) against two cblas_dgemm calls;
 *  - whole GD runs (1000 steps) with the tiny kernels against OpenBLAS for every product
 *    (small_kernels = off), to 1e-13 relative, for nets whose products are all tiny, mixed
 *    with larger widths, depth 1 and tied;
 *  - bit-identical reruns: the same run twice in-process, and a CLI sweep on 1 and 2
 *    threads (ensemble.csv byte for byte), each with small_kernels = tiny;
 *  - the whole-network kernels of uniform width ≤ 2 (dln_tiny_chain) against the layer-by-
 *    layer kernels bit for bit, their fused gradient-descent update against θ + step·g bit
 *    for bit with its blow-up flag, and GD runs through the fused quiet steps against the
 *    unfused loop bit for bit (also where the run diverges). */
#include "testutil.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dln/dln.h"
#include "model/model_internal.h"
#include "model/net_work.h"
#include "model/tiny_gemm.h"

/* One kernel against cblas_dgemm: 0 when every entry agrees to 1e-14 of its bound. */
static int check_kernel(int op, int acc, int m, int n, int k, double *worst) {
  dln_tiny_fn f = dln_tiny_kernel(op, acc, m, n, k);
  if (!f) return 1;
  double a[64], b[64], c[64], r[64], abs_a[64], abs_b[64], bound[64];
  tu_fill_gauss((size_t)m * k, a, 1.0);
  tu_fill_gauss((size_t)k * n, b, 1.0);
  tu_fill_gauss((size_t)m * n, c, 1.0);
  memcpy(r, c, sizeof r);
  for (int i = 0; i < 64; ++i) abs_a[i] = fabs(a[i]), abs_b[i] = fabs(b[i]), bound[i] = fabs(c[i]);
  CBLAS_TRANSPOSE ta = op == DLN_TINY_TN ? CblasTrans : CblasNoTrans;
  CBLAS_TRANSPOSE tb = op == DLN_TINY_NT ? CblasTrans : CblasNoTrans;
  int lda = op == DLN_TINY_TN ? k : m, ldb = op == DLN_TINY_NT ? n : k;
  double beta = acc ? 1.0 : 0.0;
  cblas_dgemm(CblasColMajor, ta, tb, m, n, k, 1.0, a, lda, b, ldb, beta, r, m);
  cblas_dgemm(CblasColMajor, ta, tb, m, n, k, 1.0, abs_a, lda, abs_b, ldb, beta, bound, m);
  f(a, b, c, n);
  int bad = 0;
  for (int i = 0; i < m * n; ++i) {
    double e = fabs(c[i] - r[i]) / bound[i];
    if (!(e <= 1e-14)) bad = 1;
    if (e > *worst) *worst = e;
  }
  return bad;
}

/* relative error of c against r, entrywise bound: |c - r| / bound */
static double rel_err(int len, const double *c, const double *r, const double *bound) {
  double e = 0;
  for (int i = 0; i < len; ++i) {
    double x = fabs(c[i] - r[i]) / bound[i];
    if (!(x <= e)) e = x; /* NaN propagates */
  }
  return e;
}

/* The backward pair of a layer (g = B P^T, dst = W^T B) against two cblas_dgemm calls. */
static int check_pair(int dj, int dj1, int d0, double *worst) {
  dln_tiny_pair_fn f = dln_tiny_pair(dj, dj1, d0);
  if (!f) return 1;
  double B[16], P[16], W[16], g[16], dst[16], rg[16], rd[16], aB[16], aP[16], aW[16], bg[16], bd[16];
  tu_fill_gauss((size_t)dj * d0, B, 1.0);
  tu_fill_gauss((size_t)dj1 * d0, P, 1.0);
  tu_fill_gauss((size_t)dj * dj1, W, 1.0);
  for (int i = 0; i < 16; ++i) aB[i] = fabs(B[i]), aP[i] = fabs(P[i]), aW[i] = fabs(W[i]);
  f(B, P, W, g, dst);
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, dj, dj1, d0, 1.0, B, dj, P, dj1, 0.0, rg, dj);
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, dj, dj1, d0, 1.0, aB, dj, aP, dj1, 0.0, bg, dj);
  cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, dj1, d0, dj, 1.0, W, dj, B, dj, 0.0, rd, dj1);
  cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, dj1, d0, dj, 1.0, aW, dj, aB, dj, 0.0, bd, dj1);
  double e = fmax(rel_err(dj * dj1, g, rg, bg), rel_err(dj1 * d0, dst, rd, bd));
  if (e > *worst) *worst = e;
  return !(e <= 1e-14);
}

static void test_pairs_vs_dgemm(void **state) {
  (void)state;
  int nbad = 0;
  double worst = 0;
  for (int a = 1; a <= 4; ++a)
    for (int b = 1; b <= 4; ++b)
      for (int c = 1; c <= 4; ++c) nbad += check_pair(a, b, c, &worst);
  if (tu_verbose()) print_message("64 backward pairs, worst error %.3g of the bound\n", worst);
  assert_int_equal(nbad, 0);
  assert_null(dln_tiny_pair(5, 2, 2));
  assert_null(dln_tiny_pair(2, 2, 0));
}

static void test_kernels_vs_dgemm(void **state) {
  (void)state;
  int nbad = 0, nk = 0;
  double worst = 0;
  for (int op = 0; op < 3; ++op)
    for (int acc = 0; acc < 2; ++acc)
      for (int m = 1; m <= DLN_TINY_MAX; ++m)
        for (int n = 1; n <= DLN_TINY_MAX; ++n)
          for (int k = 1; k <= DLN_TINY_MAX; ++k, ++nk) nbad += check_kernel(op, acc, m, n, k, &worst);
  if (tu_verbose()) print_message("%d kernels, worst error %.3g of the bound\n", nk, worst);
  assert_int_equal(nk, 3 * 2 * 512);
  assert_int_equal(nbad, 0);
  /* beyond the limit, and TT: no kernel (the other paths) */
  assert_null(dln_tiny_kernel(DLN_TINY_NN, 0, 9, 2, 2));
  assert_null(dln_tiny_kernel(DLN_TINY_NT, 1, 2, 9, 2));
  assert_null(dln_tiny_kernel(DLN_TINY_TN, 0, 2, 2, 9));
  assert_null(dln_tiny_kernel(DLN_TINY_NN, 0, 0, 2, 2));
  /* the check is not vacuous: a kernel of the wrong shape is caught */
  double a[4] = {1, 2, 3, 4}, b[4] = {1, 1, 1, 1}, c[4], r[4];
  dln_tiny_kernel(DLN_TINY_NN, 0, 2, 2, 2)(a, b, c, 2);
  dln_tiny_kernel(DLN_TINY_TN, 0, 2, 2, 2)(a, b, r, 2);
  assert_false(fabs(c[0] - r[0]) <= 1e-14 * 4);
}

/* dln_tiny_transpose is an exact copy: every shape 1..13 x 1..13 (4 x 4 blocks and every
 * remainder), with a leading dimension beyond the rows, against the definition. */
static void test_transpose_exact(void **state) {
  (void)state;
  double a[20 * 13], t[13 * 13];
  for (int i = 0; i < 20 * 13; ++i) a[i] = (double)i + 0.25;
  int bad = 0, shapes = 0;
  for (int m = 1; m <= 13; ++m)
    for (int k = 1; k <= 13; ++k)
      for (int extra = 0; extra <= 7; extra += 7, ++shapes) {
        int lda = k + extra; /* a: k x m, leading dimension lda */
        for (int i = 0; i < 13 * 13; ++i) t[i] = -1.0;
        dln_tiny_transpose(m, k, a, lda, t);
        for (int i = 0; i < m; ++i)
          for (int l = 0; l < k; ++l) bad += t[i + l * m] != a[l + i * lda];
        bad += m * k < 13 * 13 && t[m * k] != -1.0; /* nothing written past t */
      }
  assert_int_equal(shapes, 13 * 13 * 2);
  assert_int_equal(bad, 0);
}

/* dln_tiny_dot_tn follows its stated order bit for bit (so the AVX2 and the portable code
 * agree): four lanes of fused multiply-adds over l < 4⌊k/4⌋, (s0 + s1) + (s2 + s3), then
 * the tail; and it is a product to 1e-14 of the bound Σ|a||b|. m = 1..9 (9: the portable
 * path), k = 1..19, n = 1..6 (odd and even: the paired columns and the single one). */
static void test_dot_tn_order(void **state) {
  (void)state;
  double a[19 * 9], b[19 * 6], c[9 * 6];
  tu_fill_gauss(19 * 9, a, 1.0);
  tu_fill_gauss(19 * 6, b, 1.0);
  int bad = 0, far = 0;
  for (int m = 1; m <= 9; ++m)
    for (int k = 1; k <= 19; ++k) {
      int n = 1 + (m + k) % 6, k4 = k & ~3;
      dln_tiny_dot_tn(m, n, k, a, b, c);
      for (int j = 0; j < n; ++j)
        for (int i = 0; i < m; ++i) {
          const double *x = a + i * k, *y = b + j * k;
          double s[4] = {0, 0, 0, 0}, bound = 0, exact = 0;
          for (int l = 0; l < k4; ++l) s[l % 4] = fma(x[l], y[l], s[l % 4]);
          double t = (s[0] + s[1]) + (s[2] + s[3]);
          for (int l = k4; l < k; ++l) t = fma(x[l], y[l], t);
          for (int l = 0; l < k; ++l) bound += fabs(x[l] * y[l]), exact += (long double)x[l] * y[l];
          bad += c[i + j * m] != t;
          far += !(fabs(c[i + j * m] - exact) <= 1e-14 * bound);
        }
    }
  assert_int_equal(bad, 0);
  assert_int_equal(far, 0);
}

/* dln_tiny_nt_narrow follows its stated order bit for bit (the AVX2 and the portable code
 * agree): entry (r, i) = fused multiply-adds over l in order from 0; to 1e-14 of the bound
 * Σ|b||x|; m = 1..9 (9: the portable path), n = 1..21 (blocks of 8 and 4 and the masked
 * last 1-3 columns), k = 1..12; nothing written outside c. */
static void test_nt_narrow_order(void **state) {
  (void)state;
  double b[9 * 12], x[21 * 12], c[9 * 21 + 4];
  tu_fill_gauss(9 * 12, b, 1.0);
  tu_fill_gauss(21 * 12, x, 1.0);
  int bad = 0, far = 0, spill = 0;
  for (int m = 1; m <= 9; ++m)
    for (int n = 1; n <= 21; ++n)
      for (int k = 1; k <= 12; ++k) {
        for (int i = 0; i < 9 * 21 + 4; ++i) c[i] = 777.0;
        dln_tiny_nt_narrow(m, n, k, b, x, c);
        for (int i = 0; i < n; ++i)
          for (int r = 0; r < m; ++r) {
            double t = 0.0, bound = 0.0;
            long double exact = 0.0L;
            for (int l = 0; l < k; ++l) {
              t = fma(b[r + l * m], x[i + l * n], t);
              bound += fabs(b[r + l * m] * x[i + l * n]);
              exact += (long double)b[r + l * m] * x[i + l * n];
            }
            bad += c[r + i * m] != t;
            far += !(fabs(c[r + i * m] - (double)exact) <= 1e-14 * bound);
          }
        for (int i = m * n; i < 9 * 21 + 4; ++i) spill += c[i] != 777.0;
      }
  assert_int_equal(bad, 0);
  assert_int_equal(far, 0);
  assert_int_equal(spill, 0);
}

/* One net per small-kernel kind (DLN_SMALL_OFF, _XSMM, _TINY) of the given widths and a
 * random factorization loss for them. */
typedef struct {
  dln_net *net[3];
  dln_mat *T;
  dln_loss *loss;
} kinds3;
static void kinds3_make(kinds3 *k, dln_rng *rng, int depth, const int *w) {
  for (int kind = 0; kind < 3; ++kind) {
    k->net[kind] = NULL;
    assert_int_equal(dln_net_alloc(&k->net[kind], depth, w, 0), DLN_OK);
    assert_int_equal(dln_net_set_small_kernels(k->net[kind], kind), DLN_OK);
  }
  k->T = NULL, k->loss = NULL;
  assert_int_equal(dln_data_gaussian(rng, w[depth], w[0], 1.0, &k->T), DLN_OK);
  assert_int_equal(dln_loss_factorization_alloc(&k->loss, k->T), DLN_OK);
}
static void kinds3_free(kinds3 *k) {
  dln_loss_free(k->loss);
  dln_mat_free(k->T);
  for (int kind = 0; kind < 3; ++kind) dln_net_free(k->net[kind]);
}

/* The gradient (hvp = 0, with the loss) or the Hessian-vector product (hvp = 1) of each
 * case by the planned kernels (tiny, xsmm) against OpenBLAS (off): 1e-14 relative, and
 * each kind bit-identical on a second call. */
static void kinds_vs_blas(int hvp, const int (*cases)[6], size_t ncases, uint64_t seed) {
  dln_rng *rng = dln_rng_alloc(seed, 0);
  for (size_t c = 0; c < ncases; ++c) {
    int depth = cases[c][0];
    const int *w = cases[c] + 1;
    kinds3 k3;
    kinds3_make(&k3, rng, depth, w);
    size_t n = k3.net[0]->nparams;
    double *th = malloc(n * sizeof *th), *v = malloc(n * sizeof *v), *g[3], *g2 = malloc(n * sizeof *g2), val[3], v2;
    dln_rng_fill_gaussian(rng, th, n, hvp ? 0.5 : 0.3);
    dln_rng_fill_gaussian(rng, v, n, 1.0);
    for (int kind = 0; kind < 3; ++kind) {
      g[kind] = malloc(n * sizeof(double));
      for (int call = 0; call < 2; ++call) {
        double *out = call ? g2 : g[kind];
        if (hvp) assert_int_equal(dln_net_hvp(k3.net[kind], k3.loss, th, v, out), DLN_OK);
        else assert_int_equal(dln_net_grad(k3.net[kind], k3.loss, th, call ? &v2 : &val[kind], out, NULL), DLN_OK);
      }
      assert_memory_equal(g2, g[kind], n * sizeof(double));
    }
    for (int kind = 1; kind < 3; ++kind) {
      double e = tu_diffnorm(n, g[kind], g[DLN_SMALL_OFF]) / tu_fro(n, g[DLN_SMALL_OFF]);
      if (tu_verbose()) print_message("case %zu kind %d: %s relative error %.3g\n", c, kind, hvp ? "Hessian-vector product" : "gradient", e);
      assert_true(e <= 1e-14);
      if (!hvp) assert_true(fabs(val[kind] - val[DLN_SMALL_OFF]) <= 1e-14 * val[DLN_SMALL_OFF]);
      free(g[kind]);
    }
    free(g[0]), free(g2), free(th), free(v);
    kinds3_free(&k3);
  }
  dln_rng_free(rng);
}

/* The planned products of the gradient (tiny kernels, libxsmm kernels on a transposed
 * copy of W_j, dot products for narrow layers) against OpenBLAS at widths beyond 8. */
static void test_planned_grad_vs_blas(void **state) {
  (void)state;
  const int cases[][6] = {{2, 10, 50, 5}, {3, 16, 16, 16, 16}, {4, 7, 13, 9, 11, 6}, {3, 33, 17, 5, 3}};
  kinds_vs_blas(0, cases, sizeof cases / sizeof cases[0], 11);
}

/* 240 random shapes (depth 1–4, widths from 1 to 50, a quarter uniform of width ≤ 4 and a
 * quarter with a narrow layer d_j < 8 after d_{j−1} ≥ 16), so that every planned kernel
 * (fixed-size tiny ones, the whole-net chain, dot products and the in-place product of
 * narrow layers, libxsmm) meets its neighbours in combinations no fixed list holds: the
 * gradient and the Hessian-vector product within 1e-14 of OpenBLAS, each kind
 * bit-identical on a second call (kinds_vs_blas). */
static void test_random_shapes_vs_blas(void **state) {
  (void)state;
  enum { NCASE = 240 };
  static const int palette[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 13, 16, 17, 24, 31, 33, 50};
  const int np = (int)(sizeof palette / sizeof *palette);
  int(*cases)[6] = calloc(NCASE, sizeof *cases);
  assert_non_null(cases);
  dln_rng *rng = dln_rng_alloc(2027, 0);
  int chains = 0, narrow = 0;
  for (int c = 0; c < NCASE; ++c) {
    int depth = 1 + (int)(dln_rng_uniform(rng) * 4), kind = c % 4;
    cases[c][0] = depth;
    int u = 1 + (int)(dln_rng_uniform(rng) * 4);
    for (int j = 0; j <= depth; ++j)
      cases[c][1 + j] = kind == 0 ? u : palette[(int)(dln_rng_uniform(rng) * np)];
    if (kind == 1 && depth >= 1) { /* a narrow layer j: d_j < 8 after d_{j−1} ≥ 16 */
      int j = 1 + (int)(dln_rng_uniform(rng) * depth);
      cases[c][1 + j - 1] = 16 + (int)(dln_rng_uniform(rng) * 40);
      cases[c][1 + j] = 1 + (int)(dln_rng_uniform(rng) * 7);
    }
    chains += kind == 0 && u <= 2;
    for (int j = 1; j <= depth; ++j) narrow += cases[c][1 + j] < 8 && cases[c][j] >= 16;
  }
  assert_true(chains >= 20 && narrow >= 60); /* the draws cover what they are for */
  kinds_vs_blas(0, (const int(*)[6])cases, NCASE, 31);
  kinds_vs_blas(1, (const int(*)[6])cases, NCASE, 32);
  dln_rng_free(rng);
  free(cases);
}

/* The flow's right-hand side −∇φ by backpropagating −∇ℓ (dln_net_neg_grad_unchecked)
 * equals the negated gradient exactly (== per entry, so ±0 agree) for every kernel kind,
 * depth 1, a tied net, the narrow 5 x 10 width-50 layers and the imbalance regularizer
 * (whose gradient is negated after the sum); the loss value is the same bits. */
static void test_neg_grad_exact(void **state) {
  (void)state;
  const int cases[][6] = {{1, 6, 4}, {2, 10, 50, 5}, {3, 2, 2, 2, 2}, {3, 16, 16, 16, 16}, {4, 7, 13, 9, 11, 6}, {2, 5, 3, 5}};
  dln_rng *rng = dln_rng_alloc(12, 0);
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; ++c)
    for (int kind = 0; kind < 3; ++kind)
      for (int reg = 0; reg < 2; ++reg) {
        int depth = cases[c][0], tied = c == 5;
        const int *w = cases[c] + 1;
        if (reg && (depth < 2 || tied)) continue; /* the regularizer needs an untied junction */
        dln_net *net = NULL;
        assert_int_equal(dln_net_alloc(&net, depth, w, tied), DLN_OK);
        assert_int_equal(dln_net_set_small_kernels(net, kind), DLN_OK);
        if (reg) assert_int_equal(dln_net_set_imbalance_reg(net, 0.5, NULL), DLN_OK);
        dln_mat *T = NULL;
        assert_int_equal(dln_data_gaussian(rng, w[depth], w[0], 1.0, &T), DLN_OK);
        dln_loss *loss = NULL;
        assert_int_equal(dln_loss_factorization_alloc(&loss, T), DLN_OK);
        size_t n = net->nparams, nonzero = 0;
        double *th = malloc(n * sizeof *th), *g = malloc(n * sizeof *g), *ng = malloc(n * sizeof *ng), v, nv;
        dln_rng_fill_gaussian(rng, th, n, 0.7);
        assert_int_equal(dln_net_grad(net, loss, th, &v, g, NULL), DLN_OK);
        assert_int_equal(dln_net_neg_grad_unchecked(net, loss, th, &nv, ng), DLN_OK);
        assert_memory_equal(&v, &nv, sizeof v);
        for (size_t i = 0; i < n; ++i) {
          assert_true(ng[i] == -g[i]);
          nonzero += g[i] != 0.0;
        }
        assert_true(nonzero > n / 2);
        free(th), free(g), free(ng);
        dln_loss_free(loss);
        dln_mat_free(T);
        dln_net_free(net);
      }
  dln_rng_free(rng);
}

/* 1000 GD steps of a net (widths, depth, tied) on a random factorization (square for tied)
 * or the 2x2 completion, with the given small-kernel kind; θ into out. */
static void gd_run(int depth, const int *widths, int tied, int completion, int kind, double *out, size_t *np) {
  dln_rng *rng = dln_rng_alloc(11, (uint64_t)widths[1] * 7 + (uint64_t)depth);
  dln_net *net = NULL;
  assert_int_equal(dln_net_alloc(&net, depth, widths, tied), DLN_OK);
  assert_int_equal(dln_net_set_small_kernels(net, kind), DLN_OK);
  assert_int_equal(dln_net_small_kernels(net), kind);
  dln_loss *loss = NULL;
  if (completion) {
    int r[3] = {0, 1, 1}, c[3] = {1, 0, 1};
    double v[3] = {1.0, 1.0, 0.0};
    assert_int_equal(dln_loss_completion_alloc(&loss, 2, 2, 3, r, c, v), DLN_OK);
  } else {
    dln_mat *T = NULL;
    assert_int_equal(dln_data_gaussian(rng, widths[depth], widths[0], 1.0, &T), DLN_OK);
    assert_int_equal(dln_loss_factorization_alloc(&loss, T), DLN_OK);
    dln_mat_free(T);
  }
  *np = net->nparams;
  dln_rng_fill_gaussian(rng, out, net->nparams, 0.5 / sqrt((double)widths[1]));
  dln_train_options o;
  dln_train_default_options(&o);
  o.method = &dln_integrator_gd;
  o.eta = completion ? 1e-2 : 2e-3;
  o.max_steps = 1000;
  o.t_end = 2000 * o.eta; /* the step budget stops the run */
  o.nsamples = 2;
  dln_train_result res;
  assert_int_equal(dln_train(net, loss, out, &o, NULL, NULL, &res), DLN_OK);
  assert_int_equal(res.stop_reason, DLN_STOP_STEPS);
  assert_int_equal(res.steps, 1000);
  dln_loss_free(loss);
  dln_net_free(net);
  dln_rng_free(rng);
}

/* tiny vs OpenBLAS (off) after 1000 steps, rerun bit for bit, and tiny really differs from
 * off somewhere in the last bits (else the comparison says nothing about the tiny path) */
static void compare_runs(int depth, const int *widths, int tied, int completion, int *differs) {
  double a[400], b[400], c[400];
  size_t n = 0;
  gd_run(depth, widths, tied, completion, DLN_SMALL_TINY, a, &n);
  assert_true(n <= 400);
  gd_run(depth, widths, tied, completion, DLN_SMALL_OFF, b, &n);
  gd_run(depth, widths, tied, completion, DLN_SMALL_TINY, c, &n);
  assert_memory_equal(a, c, n * sizeof *a);
  double d = tu_diffnorm(n, a, b), s = tu_fro(n, b);
  if (tu_verbose()) print_message("depth %d widths[1] %d: |tiny - off| = %.3g |theta|\n", depth, widths[1], d / s);
  assert_true(d <= 1e-13 * s);
  if (d > 0) *differs = 1;
}

static void test_gd_tiny_vs_blas(void **state) {
  (void)state;
  int differs = 0;
  compare_runs(3, (int[]){2, 2, 2, 2}, 0, 1, &differs); /* bench_dln's completion_2x2_depth3 */
  compare_runs(3, (int[]){3, 5, 2, 4}, 0, 0, &differs); /* all tier A/B, mixed shapes */
  compare_runs(3, (int[]){8, 8, 8, 8}, 0, 0, &differs); /* 8-wide: the planned libxsmm kernels (tiny_pick) */
  compare_runs(4, (int[]){4, 12, 3, 6, 2}, 0, 0, &differs); /* some products beyond 8: libxsmm/BLAS */
  compare_runs(1, (int[]){7, 4}, 0, 0, &differs);
  compare_runs(2, (int[]){5, 3, 5}, 1, 0, &differs); /* tied W = U U^T: gemm_w's tiny path */
  assert_true(differs);
}

/* The Hessian-vector product (flows, CVODE, Lanczos) with the same planned products:
 * depth 1, 3 x 4 x 2 x 3 (tiny kernels), the narrow layers of 5 x 10 width 50 and of
 * 33, 17, 5, 3 (dot products, transposed gradients), 16³ and 7, 13, 9, 11, 6 (libxsmm). */
static void test_hvp_tiny_vs_blas(void **state) {
  (void)state;
  const int cases[][6] = {{1, 4, 6}, {3, 3, 4, 2, 3}, {2, 10, 50, 5}, {3, 33, 17, 5, 3}, {3, 16, 16, 16, 16}, {4, 7, 13, 9, 11, 6}};
  kinds_vs_blas(1, cases, sizeof cases / sizeof cases[0], 5);
}

/* a net of the given widths with the tiny kernels, a random target (or the 2 x 2
 * completion) and θ ~ N(0, 0.7²) */
typedef struct {
  dln_net *net;
  dln_loss *loss;
  double *th;
} chain_case;
static void chain_case_alloc(chain_case *cc, int depth, const int *w, int completion, dln_rng *rng) {
  assert_int_equal(dln_net_alloc(&cc->net, depth, w, 0), DLN_OK);
  assert_int_equal(dln_net_set_small_kernels(cc->net, DLN_SMALL_TINY), DLN_OK);
  if (completion) {
    int r[3] = {0, 1, 1}, c[3] = {1, 0, 1};
    double v[3] = {1.0, 1.0, 0.0};
    assert_int_equal(dln_loss_completion_alloc(&cc->loss, 2, 2, 3, r, c, v), DLN_OK);
  } else {
    dln_mat *T = NULL;
    assert_int_equal(dln_data_gaussian(rng, w[depth], w[0], 1.0, &T), DLN_OK);
    assert_int_equal(dln_loss_factorization_alloc(&cc->loss, T), DLN_OK);
    dln_mat_free(T);
  }
  cc->th = malloc(cc->net->nparams * sizeof(double));
  dln_rng_fill_gaussian(rng, cc->th, cc->net->nparams, 0.7);
}
static void chain_case_free(chain_case *cc) {
  free(cc->th);
  dln_loss_free(cc->loss);
  dln_net_free(cc->net);
}

/* Uniform widths 1 and 2, depths 2..5: the network's whole-pass kernels give the gradient,
 * −∇φ and the product bit for bit as the layer-by-layer tiny kernels (the chain switched
 * off in the workspace), and are chosen only there (width 3, mixed widths, xsmm: none). */
static void test_chain_vs_layers(void **state) {
  (void)state;
  dln_rng *rng = dln_rng_alloc(21, 0);
  for (int d = 1; d <= 2; ++d)
    for (int depth = 2; depth <= 5; ++depth)
      for (int completion = 0; completion <= (d == 2); ++completion) {
        int w[6] = {d, d, d, d, d, d};
        chain_case cc;
        chain_case_alloc(&cc, depth, w, completion, rng);
        size_t n = cc.net->nparams;
        const dln_tiny_chain *chain = cc.net->work->chain;
        assert_non_null(chain);
        assert_true(dln_net_has_grad_step(cc.net, cc.loss));
        double g1[40], g2[40], ng1[40], ng2[40], W1[4], W2[4], v1, v2, nv1, nv2;
        assert_true(n <= 40);
        assert_int_equal(dln_net_grad(cc.net, cc.loss, cc.th, &v1, g1, W1), DLN_OK);
        assert_int_equal(dln_net_neg_grad_unchecked(cc.net, cc.loss, cc.th, &nv1, ng1), DLN_OK);
        cc.net->work->chain = NULL; /* the layer-by-layer path */
        assert_false(dln_net_has_grad_step(cc.net, cc.loss));
        assert_int_equal(dln_net_grad(cc.net, cc.loss, cc.th, &v2, g2, W2), DLN_OK);
        assert_int_equal(dln_net_neg_grad_unchecked(cc.net, cc.loss, cc.th, &nv2, ng2), DLN_OK);
        cc.net->work->chain = chain;
        assert_memory_equal(&v1, &v2, sizeof v1);
        assert_memory_equal(&nv1, &nv2, sizeof nv1);
        assert_memory_equal(W1, W2, (size_t)d * d * sizeof *W1);
        assert_memory_equal(g1, g2, n * sizeof *g1);
        assert_memory_equal(ng1, ng2, n * sizeof *ng1);
        chain_case_free(&cc);
      }
  /* no chain: width 3, mixed widths ≤ 2, the xsmm kind, the imbalance regularizer */
  chain_case cc;
  chain_case_alloc(&cc, 3, (int[]){3, 3, 3, 3}, 0, rng);
  assert_null(cc.net->work->chain);
  assert_false(dln_net_has_grad_step(cc.net, cc.loss));
  double v, g[40], nx[40];
  int over = 0;
  assert_int_equal(dln_net_grad_step_unchecked(cc.net, cc.loss, cc.th, &v, g, -0.1, nx, 1e10, &over), DLN_EINVAL);
  chain_case_free(&cc);
  chain_case_alloc(&cc, 3, (int[]){2, 1, 2, 2}, 0, rng);
  assert_null(cc.net->work->chain);
  chain_case_free(&cc);
  chain_case_alloc(&cc, 3, (int[]){2, 2, 2, 2}, 0, rng);
  assert_int_equal(dln_net_set_small_kernels(cc.net, DLN_SMALL_XSMM), DLN_OK);
  assert_null(cc.net->work->chain);
  assert_int_equal(dln_net_set_small_kernels(cc.net, DLN_SMALL_TINY), DLN_OK);
  assert_non_null(cc.net->work->chain);
  assert_int_equal(dln_net_set_imbalance_reg(cc.net, 0.5, NULL), DLN_OK);
  assert_false(dln_net_has_grad_step(cc.net, cc.loss));
  chain_case_free(&cc);
  dln_rng_free(rng);
}

/* The fused gradient-descent step: the same value and gradient bits as
 * dln_net_grad_unchecked, next == θ + step·g entry by entry, and the blow-up flag exactly
 * at the bound (max|next| passes, the next double below it fails; NaN fails). */
static void test_fused_step_exact(void **state) {
  (void)state;
  dln_rng *rng = dln_rng_alloc(22, 0);
  for (int d = 1; d <= 2; ++d)
    for (int depth = 2; depth <= 4; ++depth) {
      int w[5] = {d, d, d, d, d};
      chain_case cc;
      chain_case_alloc(&cc, depth, w, d == 2 && depth == 3, rng);
      size_t n = cc.net->nparams;
      double g[40], gs[40], nx[40], v, vs, step = -0.037, mx = 0;
      int over = -1;
      assert_int_equal(dln_net_grad_unchecked(cc.net, cc.loss, cc.th, &v, g), DLN_OK);
      assert_int_equal(dln_net_grad_step_unchecked(cc.net, cc.loss, cc.th, &vs, gs, step, nx, INFINITY, &over), DLN_OK);
      assert_memory_equal(&v, &vs, sizeof v);
      assert_memory_equal(g, gs, n * sizeof *g);
      assert_int_equal(over, 0);
      for (size_t i = 0; i < n; ++i) {
        double e = cc.th[i] + step * g[i];
        assert_memory_equal(&e, &nx[i], sizeof e);
        mx = fmax(mx, fabs(e));
      }
      assert_int_equal(dln_net_grad_step_unchecked(cc.net, cc.loss, cc.th, &vs, gs, step, nx, mx, &over), DLN_OK);
      assert_int_equal(over, 0);
      assert_int_equal(dln_net_grad_step_unchecked(cc.net, cc.loss, cc.th, &vs, gs, step, nx, nextafter(mx, 0), &over),
                       DLN_OK);
      assert_int_equal(over, 1);
      cc.th[n - 1] = NAN; /* the last layer's entry: NaN reaches next through it */
      assert_int_equal(dln_net_grad_step_unchecked(cc.net, cc.loss, cc.th, &vs, gs, step, nx, INFINITY, &over), DLN_OK);
      assert_int_equal(over, 1);
      assert_true(isnan(vs));
      chain_case_free(&cc);
    }
  dln_rng_free(rng);
}

/* 2 x 2 depth 3 GD through the fused quiet steps against the plain loop (a loss threshold
 * that is never reached turns the quiet steps off): the same θ bits after 1000 steps, and
 * for a step size that diverges the same stop (step, message) and the same returned θ. */
static void gd_fused_run(double eta, double threshold, double *th, dln_train_result *res) {
  chain_case cc;
  dln_rng *rng = dln_rng_alloc(23, 0);
  chain_case_alloc(&cc, 3, (int[]){2, 2, 2, 2}, 1, rng);
  dln_train_options o;
  dln_train_default_options(&o);
  o.method = &dln_integrator_gd;
  o.eta = eta;
  o.max_steps = 1000;
  o.t_end = 2000 * eta;
  o.nsamples = 2;
  o.loss_threshold = threshold;
  assert_int_equal(dln_train(cc.net, cc.loss, cc.th, &o, NULL, NULL, res), DLN_OK);
  memcpy(th, cc.th, 12 * sizeof *th);
  chain_case_free(&cc);
  dln_rng_free(rng);
}
static void test_gd_fused_vs_loop(void **state) {
  (void)state;
  double a[12], b[12];
  dln_train_result ra, rb;
  gd_fused_run(1e-2, -1, a, &ra);
  gd_fused_run(1e-2, 1e-300, b, &rb);
  assert_int_equal(ra.stop_reason, DLN_STOP_STEPS);
  assert_int_equal(rb.stop_reason, DLN_STOP_STEPS);
  assert_memory_equal(a, b, sizeof a);
  assert_int_equal(ra.grad_evals, rb.grad_evals);
  gd_fused_run(3.0, -1, a, &ra); /* diverges */
  gd_fused_run(3.0, 1e-300, b, &rb);
  assert_int_equal(ra.stop_reason, DLN_STOP_DIVERGED);
  assert_int_equal(rb.stop_reason, DLN_STOP_DIVERGED);
  assert_int_equal(ra.fail_step, rb.fail_step);
  assert_true(ra.fail_step > 0);
  assert_string_equal(ra.message, rb.message);
  assert_memory_equal(a, b, sizeof a); /* the speculative update never reaches the caller's θ */
  if (tu_verbose()) print_message("diverged: %s\n", ra.message);
}

/* dln sweep with small_kernels = tiny on 1 and 2 threads: the same ensemble.csv bytes; the
 * summary of a run records the resolved choice (auto, DLN_SMALL_KERNELS=xsmm: xsmm). */
static void test_cli_threads_bitwise(void **state) {
  (void)state;
  const char *d = tu_tmpdir(0);
  tu_write_text(tu_path(d, "s.json"),
                "{\"task\": \"completion\", \"rows\": 2, \"cols\": 2, \"m\": 3, \"widths\": [2, 2, 2, 2], \"method\": \"gd\",\n"
                " \"eta\": 0.01, \"t_end\": 10, \"samples\": 5, \"small_kernels\": \"tiny\", \"plot\": false, \"quiet\": true,\n"
                " \"sweep\": {\"seed\": {\"from\": 1, \"count\": 4}}}\n");
  const char *const one[] = {"sweep", "s.json", "--out=o1", "--threads=1", NULL};
  const char *const two[] = {"sweep", "s.json", "--out=o2", "--threads=2", NULL};
  assert_int_equal(tu_wait(tu_spawn(DLN_CLI, one, d)), 0);
  assert_int_equal(tu_wait(tu_spawn(DLN_CLI, two, d)), 0);
  assert_true(tu_same_bytes(tu_path(d, "o1/ensemble.csv"), tu_path(d, "o2/ensemble.csv")));
  tu_write_text(tu_path(d, "r.json"),
                "{\"task\": \"completion\", \"rows\": 2, \"cols\": 2, \"m\": 3, \"widths\": [2, 2, 2, 2], \"method\": \"gd\",\n"
                " \"eta\": 0.01, \"t_end\": 1, \"samples\": 3, \"plot\": false, \"quiet\": true}\n");
  const char *const r1[] = {"run", "r.json", "--out=r", NULL};
  setenv("DLN_SMALL_KERNELS", "xsmm", 1); /* small_kernels auto: the environment's choice */
  assert_int_equal(tu_wait(tu_spawn(DLN_CLI, r1, d)), 0);
  unsetenv("DLN_SMALL_KERNELS");
  char *sum = tu_slurp(tu_path(d, "r/summary.json"));
  assert_non_null(sum);
  assert_non_null(strstr(sum, "\"small_kernels\": \"xsmm\""));
  free(sum);
  tu_rmtree(d);
}

int main(void) {
  tu_seed(2026);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_kernels_vs_dgemm),
      cmocka_unit_test(test_pairs_vs_dgemm),
      cmocka_unit_test(test_transpose_exact),
      cmocka_unit_test(test_dot_tn_order),
      cmocka_unit_test(test_nt_narrow_order),
      cmocka_unit_test(test_planned_grad_vs_blas),
      cmocka_unit_test(test_random_shapes_vs_blas),
      cmocka_unit_test(test_neg_grad_exact),
      cmocka_unit_test(test_gd_tiny_vs_blas),
      cmocka_unit_test(test_hvp_tiny_vs_blas),
      cmocka_unit_test(test_cli_threads_bitwise),
      cmocka_unit_test(test_chain_vs_layers),
      cmocka_unit_test(test_fused_step_exact),
      cmocka_unit_test(test_gd_fused_vs_loop),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
