/* The switchable dense product (dln/gemm.h, issue 14): openblas, blis, xsmm.
 *   - every backend against a product summed in long double here (all four transpose
 *     pairs, alpha/beta in {1/0, 1/1, 0.7/-0.3}, padded leading dimensions, the padding of
 *     C untouched): normwise relative error <= 1e-14;
 *   - the network's gradient at widths 120 (above the small-kernel cut, so through the
 *     backend) against W_{N:j+1}^T G W_{j-1:1}^T (002 Lemma 1 proof) by plain loops: 1e-14;
 *   - a fixed backend (and thread count) gives bit-identical GD runs, in the library and
 *     through `dln run --blas_backend` / DLN_GEMM, and summary.json records the choice;
 *   - refusals: an unknown DLN_GEMM, a BLIS library that cannot be loaded.
 * BLIS is installed by scripts/install-deps.sh (libblis4-pthread), so it is required here. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dln/error.h"
#include "dln/gemm.h"
#include "dln/loss.h"
#include "dln/mat.h"
#include "dln/net.h"
#include "dln/train.h"
#include "testutil.h"

static const char *const backends[] = {"openblas", "blis", "xsmm"};

/* C = alpha op(A) op(B) + beta C in long double; A stored with leading dimension lda. */
static void ref_gemm(int ta, int tb, int m, int n, int k, double alpha, const double *a, int lda, const double *b,
                     int ldb, double beta, double *c, int ldc) {
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < m; ++i) {
      long double s = 0;
      for (int l = 0; l < k; ++l) {
        long double x = ta ? a[l + (size_t)i * lda] : a[i + (size_t)l * lda];
        long double y = tb ? b[j + (size_t)l * ldb] : b[l + (size_t)j * ldb];
        s += x * y;
      }
      c[i + (size_t)j * ldc] = (double)(alpha * s + (long double)beta * c[i + (size_t)j * ldc]);
    }
}

static void check_shape(int ta, int tb, int m, int n, int k, double alpha, double beta) {
  int lda = (ta ? k : m) + 3, ldb = (tb ? n : k) + 2, ldc = m + 1;
  size_t na = (size_t)lda * (size_t)(ta ? m : k), nb = (size_t)ldb * (size_t)(tb ? k : n), nc = (size_t)ldc * n;
  double *a = tu_dalloc(na), *b = tu_dalloc(nb), *c = tu_dalloc(nc), *r = tu_dalloc(nc);
  tu_fill_gauss(na, a, 1.0);
  tu_fill_gauss(nb, b, 1.0);
  tu_fill_gauss(nc, c, 1.0);
  memcpy(r, c, nc * sizeof(double));
  ref_gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, r, ldc);
  assert_int_equal(dln_gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc), DLN_OK);
  double e = tu_diffnorm(nc, c, r), s = tu_fro(nc, r);
  if (!(e <= 1e-14 * s))
    fail_msg("%s ta=%d tb=%d %dx%dx%d alpha=%g beta=%g: |C - C_ref| / |C_ref| = %.3g > 1e-14",
             dln_gemm_backend_name(dln_gemm_active()), ta, tb, m, n, k, alpha, beta, e / s);
  for (int j = 0; j < n; ++j) /* the padding row of C (ldc = m + 1) must be untouched */
    assert_true(c[m + (size_t)j * ldc] == r[m + (size_t)j * ldc]);
  free(a);
  free(b);
  free(c);
  free(r);
}

static void test_products_vs_reference(void **state) {
  (void)state;
  tu_seed(14);
  static const double ab[3][2] = {{1.0, 0.0}, {1.0, 1.0}, {0.7, -0.3}};
  static const int shapes[3][3] = {{130, 130, 130}, {67, 45, 150}, {5, 200, 9}};
  for (int be = 0; be < 3; ++be) {
    assert_int_equal(dln_gemm_select(backends[be]), DLN_OK);
    assert_string_equal(dln_gemm_backend_name(dln_gemm_active()), backends[be]);
    for (int s = 0; s < 3; ++s)
      for (int t = 0; t < 4; ++t)
        for (int q = 0; q < 3; ++q)
          check_shape(t & 1, t >> 1, shapes[s][0], shapes[s][1], shapes[s][2], ab[q][0], ab[q][1]);
  }
  char d[256];
  assert_int_equal(dln_gemm_select("blis"), DLN_OK);
  assert_int_equal(dln_gemm_describe(d, sizeof d), DLN_OK);
  assert_non_null(strstr(d, "BLIS"));
  assert_int_equal(dln_gemm_select("openblas"), DLN_OK);
  assert_int_equal(dln_gemm_describe(d, sizeof d), DLN_OK);
  assert_non_null(strstr(d, "OpenBLAS"));
}

enum { N = 120, DEPTH = 3 };

typedef struct {
  dln_net *net;
  dln_loss *loss;
  dln_mat *Y;
  double *th;
} problem;

static void make(problem *p) {
  int widths[DEPTH + 1] = {N, N, N, N};
  assert_int_equal(dln_net_alloc(&p->net, DEPTH, widths, 0), DLN_OK);
  p->Y = dln_mat_alloc(N, N);
  tu_seed(7);
  tu_fill_gauss((size_t)N * N, p->Y->data, 1.0);
  assert_int_equal(dln_loss_factorization_alloc(&p->loss, p->Y), DLN_OK);
  p->th = tu_dalloc(p->net->nparams);
  tu_fill_gauss(p->net->nparams, p->th, 1.0 / sqrt((double)N));
}
static void unmake(problem *p) {
  free(p->th);
  dln_mat_free(p->Y);
  dln_loss_free(p->loss);
  dln_net_free(p->net);
}

static void test_net_gradient(void **state) {
  (void)state;
  problem p;
  make(&p);
  size_t nn = (size_t)N * N;
  const double *W1 = p.th, *W2 = p.th + nn, *W3 = p.th + 2 * nn;
  double *P2 = tu_dalloc(nn), *Q = tu_dalloc(nn), *G = tu_dalloc(nn), *ref = tu_dalloc(3 * nn), *t = tu_dalloc(nn);
  tu_mm(0, 0, N, N, N, W2, W1, P2);  /* W2 W1 */
  tu_mm(0, 0, N, N, N, W3, P2, G);   /* W */
  for (size_t i = 0; i < nn; ++i) G[i] -= p.Y->data[i]; /* ∇ℓ = W − Ȳ for ½‖W − Ȳ‖² */
  tu_mm(0, 0, N, N, N, W3, W2, Q);   /* W3 W2 */
  tu_mm(1, 0, N, N, N, Q, G, ref);   /* ∂/∂W1 = (W3 W2)^T G */
  tu_mm(1, 0, N, N, N, W3, G, t);    /* W3^T G */
  tu_mm(0, 1, N, N, N, t, W1, ref + nn);     /* ∂/∂W2 = W3^T G W1^T */
  tu_mm(0, 1, N, N, N, G, P2, ref + 2 * nn); /* ∂/∂W3 = G (W2 W1)^T */
  double *g = tu_dalloc(3 * nn), v;
  for (int be = 0; be < 3; ++be) {
    assert_int_equal(dln_gemm_select(backends[be]), DLN_OK);
    assert_int_equal(dln_net_grad(p.net, p.loss, p.th, &v, g, NULL), DLN_OK);
    double e = tu_diffnorm(3 * nn, g, ref), s = tu_fro(3 * nn, ref);
    if (!(e <= 1e-14 * s)) fail_msg("%s: gradient relative error %.3g > 1e-14", backends[be], e / s);
  }
  assert_int_equal(dln_gemm_select("openblas"), DLN_OK);
  free(P2);
  free(Q);
  free(G);
  free(ref);
  free(t);
  free(g);
  unmake(&p);
}

static void gd(problem *p, double *th) {
  dln_train_options o;
  dln_train_default_options(&o);
  o.method = &dln_integrator_gd;
  o.eta = 1e-3;
  o.t_end = 0.02; /* 20 steps */
  o.nsamples = 2;
  dln_train_result res;
  memcpy(th, p->th, p->net->nparams * sizeof(double));
  assert_int_equal(dln_train(p->net, p->loss, th, &o, NULL, NULL, &res), DLN_OK);
  assert_int_equal(res.steps, 20);
}

static void test_bit_identical(void **state) {
  (void)state;
  problem p;
  make(&p);
  double *a = tu_dalloc(p.net->nparams), *b = tu_dalloc(p.net->nparams);
  for (int threads = 1; threads <= 2; ++threads) {
    assert_int_equal(dln_gemm_set_threads(threads), DLN_OK);
    for (int be = 0; be < 3; ++be) {
      assert_int_equal(dln_gemm_select(backends[be]), DLN_OK);
      gd(&p, a);
      gd(&p, b);
      if (memcmp(a, b, p.net->nparams * sizeof(double)))
        fail_msg("%s, %d threads: two identical GD runs differ (max %.3g)", backends[be], threads,
                 tu_maxdiff(p.net->nparams, a, b));
      assert_true(tu_maxdiff(p.net->nparams, a, p.th) > 0); /* the runs moved */
    }
  }
  assert_int_equal(dln_gemm_set_threads(1), DLN_OK);
  assert_int_equal(dln_gemm_select("openblas"), DLN_OK);
  free(a);
  free(b);
  unmake(&p);
}

/* dln run OPTS --out=<out> in dir; exit code */
static int cli_run(const char *dir, const char *backend, const char *out) {
  char bo[96], oo[96];
  snprintf(bo, sizeof bo, "--blas_backend=%s", backend);
  snprintf(oo, sizeof oo, "--out=%s", out);
  const char *args[] = {"run", "--task=factorization", "--rows=120", "--cols=120", "--widths=120,120,120,120",
                        "--method=gd", "--eta=1e-3", "--t_end=0.02", "--samples=2", "--observe=loss",
                        "--plot=false", "--quiet", bo, oo, NULL};
  return tu_wait(tu_spawn(DLN_CLI, args, dir));
}

static void expect_backend(const char *dir, const char *out, const char *name) {
  char path[512], want[64];
  snprintf(path, sizeof path, "%s/%s/summary.json", dir, out);
  char *s = tu_slurp(path);
  assert_non_null(s);
  snprintf(want, sizeof want, "\"gemm_backend\": \"%s\"", name);
  if (!strstr(s, want)) fail_msg("%s: no %s", path, want);
  free(s);
}

static void test_cli(void **state) {
  (void)state;
  char dir[512], a[64], b[64];
  assert_int_equal(tu_tmpdir_into(dir, sizeof dir), 0);
  for (int be = 0; be < 3; ++be) {
    snprintf(a, sizeof a, "%s_a", backends[be]);
    snprintf(b, sizeof b, "%s_b", backends[be]);
    assert_int_equal(cli_run(dir, backends[be], a), 0);
    assert_int_equal(cli_run(dir, backends[be], b), 0);
    expect_backend(dir, a, backends[be]);
    for (int j = 1; j <= DEPTH; ++j) {
      char name[32];
      snprintf(name, sizeof name, "W%d_final.npy", j);
      if (!tu_same_file(dir, a, b, name)) fail_msg("%s: %s differs between two identical runs", backends[be], name);
    }
  }
  setenv("DLN_GEMM", "xsmm", 1); /* auto takes DLN_GEMM */
  assert_int_equal(cli_run(dir, "auto", "env"), 0);
  expect_backend(dir, "env", "xsmm");
  assert_true(tu_same_file(dir, "env", "xsmm_a", "W2_final.npy"));
  setenv("DLN_GEMM", "mkl", 1);
  const char *bad[] = {"run", "--rows=3", "--cols=3", "--width=3", "--t_end=0.01", "--plot=false", "--quiet", "--out=bad", NULL};
  tu_expect_cli_error(DLN_CLI, dir, 65, "environment variable DLN_GEMM: expected openblas, blis or xsmm (or auto), found \"mkl\"", bad);
  unsetenv("DLN_GEMM");
  setenv("DLN_BLIS_LIBRARY", "/nonexistent/libblis.so.4", 1);
  const char *noblis[] = {"run", "--rows=3", "--cols=3", "--width=3", "--t_end=0.01", "--plot=false", "--quiet",
                          "--out=nob", "--blas_backend=blis", NULL};
  tu_expect_cli_error(DLN_CLI, dir, 70, "gemm backend blis: expected libblis.so.4", noblis);
  unsetenv("DLN_BLIS_LIBRARY");
  tu_rmtree(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_products_vs_reference), cmocka_unit_test(test_net_gradient),
                                     cmocka_unit_test(test_bit_identical), cmocka_unit_test(test_cli)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
