/* Tests of src/model/init.c (dln/init.h).
 *
 * Tolerances (stated per check):
 *   balanced:      ‖W_N···W_1 − W0‖_F ≤ 1e-12 ‖W0‖_F; ‖C_j‖_F ≤ 1e-12 · ‖W0‖_F^{2/N}
 *   imbalanced:    same product of scales → ‖ΔW‖_F ≤ 1e-13 ‖W‖_F; unbalancedness differs by > 10%
 *   sym. spectral: ‖U0 U0^T − Φ Σ0 Φ^T‖_F ≤ 1e-12 (‖Y‖ ~ 1, Σ0 ~ 1)
 *   asym. spectral: ‖U0 V0^T − Φ diag(ū v̄) Ψ^T‖_F ≤ 1e-12; eigenvalues of C_1 within 1e-12
 *   orthogonal min-norm: ‖V U_2^T‖_F, ‖U_1 U_2^T‖_F ≤ 1e-12 (σ = 1)
 *   width-scaled:  sample std of a 300 x 400 layer within 5% of h^{-α}
 */
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dln/error.h"
#include "dln/init.h"
#include "dln/mat.h"
#include "dln/net.h"
#include "dln/rng.h"
#include "testutil.h"

/* ------------------------------------------------------------------ helpers */

static double fro(size_t n, const double *a) { return dln_norm2(n, a); }

/* C (m x n) = op(A) op(B) */
static void mm(int ta, int tb, int m, int n, int k, const double *a, int lda, const double *b, int ldb, double *c) {
  cblas_dgemm(CblasColMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, 1.0, a, lda, b,
              ldb, 0.0, c, m);
}

static dln_net *make_net(int depth, const int *w, int tied) {
  dln_net *net = NULL;
  assert_int_equal(dln_net_alloc(&net, depth, w, tied), DLN_OK);
  return net;
}

static dln_mat *gauss_mat(uint64_t seed, int rows, int cols) {
  dln_rng *r = dln_rng_alloc(seed, 99);
  dln_mat *a = dln_mat_alloc(rows, cols);
  dln_rng_fill_gaussian(r, a->data, (size_t)rows * cols, 1.0);
  dln_rng_free(r);
  return a;
}

/* rows x cols matrix of rank r: (rows x r)(r x cols) Gaussian factors */
static dln_mat *lowrank_mat(uint64_t seed, int rows, int cols, int r) {
  dln_mat *a = gauss_mat(seed, rows, r), *b = gauss_mat(seed + 1, r, cols), *c = dln_mat_alloc(rows, cols);
  mm(0, 0, rows, cols, r, a->data, rows, b->data, r, c->data);
  dln_mat_free(a);
  dln_mat_free(b);
  return c;
}

/* ------------------------------------------------------------------ balanced */

static void check_balanced(int depth, const int *w, const dln_mat *W0, int use_rng) {
  dln_net *net = make_net(depth, w, 0);
  double *theta = calloc(net->nparams, sizeof(double));
  dln_rng *rng = use_rng ? dln_rng_alloc(7, 1) : NULL;
  assert_int_equal(dln_init_balanced(net, theta, W0, rng), DLN_OK);
  size_t nw = (size_t)W0->rows * W0->cols;
  double *P = malloc(nw * sizeof(double));
  assert_int_equal(dln_net_product(net, theta, P), DLN_OK);
  double n0 = fro(nw, W0->data);
  /* product equals W0 to 1e-12 relative */
  double err = tu_diffnorm(nw, P, W0->data);
  if (!(err <= 1e-12 * n0)) fail_msg("depth %d: ‖W_N···W_1 − W0‖ = %g, ‖W0‖ = %g", depth, err, n0);
  /* every C_j = 0 to 1e-12 · ‖W0‖^{2/N} */
  double scale = pow(n0, 2.0 / depth);
  for (int j = 1; j < depth; ++j) {
    double *C = calloc((size_t)w[j] * w[j], sizeof(double));
    assert_int_equal(dln_net_conserved(net, theta, j, C), DLN_OK);
    double c = fro((size_t)w[j] * w[j], C);
    if (!(c <= 1e-12 * scale)) fail_msg("depth %d: ‖C_%d‖_F = %g > 1e-12 · %g", depth, j, c, scale);
    free(C);
  }
  assert_true(dln_net_unbalancedness(net, theta) <= 1e-12 * scale);
  free(P);
  free(theta);
  dln_rng_free(rng);
  dln_net_free(net);
}

static void test_balanced_depths(void **state) {
  (void)state;
  /* depth 2, non-square, full rank 3 */
  int w2[] = {5, 6, 3};
  dln_mat *A = gauss_mat(1, 3, 5);
  check_balanced(2, w2, A, 1);
  check_balanced(2, w2, A, 0);
  dln_mat_free(A);
  /* depth 3, non-square, rank-deficient (rank 2) */
  int w3[] = {4, 7, 5, 6};
  A = lowrank_mat(2, 6, 4, 2);
  assert_int_equal(tu_rank(6, 4, A->data), 2);
  check_balanced(3, w3, A, 1);
  check_balanced(3, w3, A, 0);
  dln_mat_free(A);
  /* depth 4, rank 3 = smallest hidden width, large scale */
  int w4[] = {6, 3, 8, 4, 5};
  A = lowrank_mat(3, 5, 6, 3);
  for (int i = 0; i < 30; ++i) A->data[i] *= 1e3;
  check_balanced(4, w4, A, 1);
  check_balanced(4, w4, A, 0);
  dln_mat_free(A);
  /* depth 3 square full rank */
  int ws[] = {3, 3, 3, 3};
  A = gauss_mat(4, 3, 3);
  check_balanced(3, ws, A, 1);
  dln_mat_free(A);
  /* depth 1: W_1 = W0 */
  int w1[] = {4, 2};
  A = gauss_mat(5, 2, 4);
  check_balanced(1, w1, A, 1);
  dln_mat_free(A);
}

static void test_balanced_zero_and_errors(void **state) {
  (void)state;
  int w[] = {4, 2, 4};
  dln_net *net = make_net(2, w, 0);
  double *theta = calloc(net->nparams, sizeof(double));
  /* zero W0 → all zero layers */
  dln_mat *Z = dln_mat_alloc(4, 4);
  for (size_t i = 0; i < net->nparams; ++i) theta[i] = 1.0;
  assert_int_equal(dln_init_balanced(net, theta, Z, NULL), DLN_OK);
  for (size_t i = 0; i < net->nparams; ++i) assert_true(theta[i] == 0.0);
  dln_mat_free(Z);
  /* rank 4 > hidden width 2 */
  dln_mat *A = gauss_mat(11, 4, 4);
  dln_error_clear();
  assert_int_equal(dln_init_balanced(net, theta, A, NULL), DLN_EINVAL);
  assert_non_null(strstr(dln_last_error(), "rank 4"));
  assert_non_null(strstr(dln_last_error(), "width 2"));
  dln_mat_free(A);
  /* wrong shape */
  A = gauss_mat(12, 3, 4);
  assert_int_equal(dln_init_balanced(net, theta, A, NULL), DLN_EDIM);
  assert_non_null(strstr(dln_last_error(), "W0"));
  dln_mat_free(A);
  free(theta);
  dln_net_free(net);
}

static void test_tied_rejected(void **state) {
  (void)state;
  int w[] = {4, 5, 4};
  dln_net *net = make_net(2, w, 1);
  double *theta = calloc(net->nparams, sizeof(double));
  dln_rng *rng = dln_rng_alloc(1, 1);
  dln_mat *A = gauss_mat(13, 4, 4);
  double ub[4] = {1, 1, 1, 1};
  dln_error_clear();
  assert_int_equal(dln_init_balanced(net, theta, A, rng), DLN_EINVAL);
  assert_non_null(strstr(dln_last_error(), "tied"));
  dln_error_clear();
  assert_int_equal(dln_init_spectral_asymmetric(net, theta, A, ub, ub, rng), DLN_EINVAL);
  assert_non_null(strstr(dln_last_error(), "tied"));
  dln_error_clear();
  assert_int_equal(dln_init_orthogonal_minnorm(net, theta, A, rng, 1.0), DLN_EINVAL);
  assert_non_null(strstr(dln_last_error(), "tied"));
  /* allowed: gaussian, width-scaled */
  assert_int_equal(dln_init_gaussian(net, theta, rng, 0.1, NULL), DLN_OK);
  assert_int_equal(dln_init_width_scaled(net, theta, rng, 0.5), DLN_OK);
  dln_mat_free(A);
  dln_rng_free(rng);
  free(theta);
  dln_net_free(net);
}

/* ------------------------------------------------------------------ imbalanced gaussian */

static void product_with_scales(int depth, const int *w, const double *scales, double sigma, double *P, double *unb) {
  dln_net *net = make_net(depth, w, 0);
  double *theta = calloc(net->nparams, sizeof(double));
  dln_rng *rng = dln_rng_alloc(2024, 3);
  assert_int_equal(dln_init_gaussian(net, theta, rng, sigma, scales), DLN_OK);
  assert_int_equal(dln_net_product(net, theta, P), DLN_OK);
  if (unb) *unb = dln_net_unbalancedness(net, theta);
  dln_rng_free(rng);
  free(theta);
  dln_net_free(net);
}

static void test_imbalanced_same_product(void **state) {
  (void)state;
  int w[] = {4, 6, 3};
  double P1[12], P2[12], P3[12], u1, u2, u3;
  double s1[] = {2.0, 0.5}, s2[] = {0.25, 4.0}, s3[] = {1.0, 1.0};
  product_with_scales(2, w, s1, 0, P1, &u1);
  product_with_scales(2, w, s2, 0, P2, &u2);
  product_with_scales(2, w, s3, 0, P3, &u3);
  double n = fro(12, P1);
  assert_true(n > 0);
  assert_true(tu_diffnorm(12, P1, P2) <= 1e-13 * n);
  assert_true(tu_diffnorm(12, P1, P3) <= 1e-13 * n);
  /* the imbalance differs */
  assert_true(fabs(u1 - u2) > 0.1 * u1);
  assert_true(fabs(u1 - u3) > 0.1 * u3);
  /* scales == NULL with sigma equals per-layer scales all sigma, bitwise */
  double P4[12], s5[] = {0.3, 0.3};
  product_with_scales(2, w, NULL, 0.3, P3, NULL);
  product_with_scales(2, w, s5, 0, P4, NULL);
  assert_memory_equal(P3, P4, sizeof P3);
  /* depth 3 */
  int w3[] = {3, 5, 4, 2};
  double Q1[6], Q2[6], v1, v2, t1[] = {1.0, 2.0, 0.5}, t2[] = {4.0, 0.125, 2.0};
  product_with_scales(3, w3, t1, 0, Q1, &v1);
  product_with_scales(3, w3, t2, 0, Q2, &v2);
  assert_true(tu_diffnorm(6, Q1, Q2) <= 1e-13 * fro(6, Q1));
  assert_true(fabs(v1 - v2) > 0.1 * v1);
  /* errors */
  dln_net *net = make_net(2, w, 0);
  double *theta = calloc(net->nparams, sizeof(double));
  dln_rng *rng = dln_rng_alloc(1, 1);
  double bad[] = {1.0, -1.0};
  dln_error_clear();
  assert_int_equal(dln_init_gaussian(net, theta, rng, 0, bad), DLN_EINVAL);
  assert_non_null(strstr(dln_last_error(), "scales[1]"));
  assert_int_equal(dln_init_gaussian(net, theta, rng, NAN, NULL), DLN_EINVAL);
  assert_non_null(strstr(dln_last_error(), "sigma"));
  dln_rng_free(rng);
  free(theta);
  dln_net_free(net);
}

/* ------------------------------------------------------------------ symmetric spectral */

static void check_spectral_symmetric(int tied) {
  int m = 4, k = 6;
  int w[] = {m, k, m};
  dln_net *net = make_net(2, w, tied);
  double *theta = calloc(net->nparams, sizeof(double));
  dln_mat *A = gauss_mat(21, m, m), *Y = dln_mat_alloc(m, m);
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < m; ++j) Y->data[i + j * m] = 0.5 * (A->data[i + j * m] + A->data[j + i * m]);
  double sigma0[] = {0.1, 0.4, 0.0, 2.5};
  assert_int_equal(dln_init_spectral_symmetric(net, theta, Y, sigma0), DLN_OK);
  const double *U = dln_net_layer_const(net, theta, 2);
  /* independent eigendecomposition Y = Φ Λ Φ^T (ascending) */
  double phi[16], ev[4];
  memcpy(phi, Y->data, sizeof phi);
  tu_syev(m, phi, ev, 1);
  double ps[16], ref[16], uu[16];
  for (int i = 0; i < m; ++i)
    for (int r = 0; r < m; ++r) ps[r + i * m] = phi[r + i * m] * sigma0[i];
  mm(0, 1, m, m, m, ps, m, phi, m, ref); /* Φ Σ0 Φ^T */
  mm(0, 1, m, m, k, U, m, U, m, uu);     /* U0 U0^T */
  assert_true(tu_diffnorm(16, uu, ref) <= 1e-12);
  /* columns m..k-1 are zero */
  for (int i = m * m; i < m * k; ++i) assert_true(U[i] == 0.0);
  double P[16];
  assert_int_equal(dln_net_product(net, theta, P), DLN_OK);
  assert_true(tu_diffnorm(16, P, ref) <= 1e-12);
  /* errors: negative sigma0, k < m */
  double bad[] = {0.1, -0.2, 0.3, 0.4};
  dln_error_clear();
  assert_int_equal(dln_init_spectral_symmetric(net, theta, Y, bad), DLN_EINVAL);
  assert_non_null(strstr(dln_last_error(), "sigma0[1]"));
  int wn[] = {m, m - 1, m};
  dln_net *narrow = make_net(2, wn, tied);
  double *th2 = calloc(narrow->nparams, sizeof(double));
  dln_error_clear();
  assert_int_equal(dln_init_spectral_symmetric(narrow, th2, Y, sigma0), DLN_EINVAL);
  assert_non_null(strstr(dln_last_error(), "k >= m"));
  free(th2);
  dln_net_free(narrow);
  dln_mat_free(A);
  dln_mat_free(Y);
  free(theta);
  dln_net_free(net);
}

static void test_spectral_symmetric(void **state) {
  (void)state;
  check_spectral_symmetric(1);
  check_spectral_symmetric(0);
}

/* ------------------------------------------------------------------ asymmetric spectral */

static void check_spectral_asymmetric(int m, int n, int k, int use_rng) {
  int w[] = {n, k, m};
  int p = m < n ? m : n;
  dln_net *net = make_net(2, w, 0);
  double *theta = calloc(net->nparams, sizeof(double));
  dln_mat *Yb = gauss_mat(31 + m, m, n);
  double ubar[] = {1.5, 0.7, 0.2, 0.9, 1.1}, vbar[] = {0.3, 1.1, 0.9, 0.9, 0.4};
  dln_rng *rng = use_rng ? dln_rng_alloc(5, 5) : NULL;
  assert_int_equal(dln_init_spectral_asymmetric(net, theta, Yb, ubar, vbar, rng), DLN_OK);
  const double *W1 = dln_net_layer_const(net, theta, 1), *W2 = dln_net_layer_const(net, theta, 2);
  /* independent SVD of Ȳ */
  double *a = malloc(sizeof(double) * m * n), *s = malloc(sizeof(double) * p), *phi = malloc(sizeof(double) * m * m),
         *psit = malloc(sizeof(double) * n * n), *sup = malloc(sizeof(double) * (p + 1));
  memcpy(a, Yb->data, sizeof(double) * m * n);
  assert_int_equal(LAPACKE_dgesvd(LAPACK_COL_MAJOR, 'A', 'A', m, n, a, m, s, phi, m, psit, n, sup), 0);
  /* reference Φ diag(ū v̄) Ψ^T */
  double *pd = calloc((size_t)m * p, sizeof(double)), *ref = calloc((size_t)m * n, sizeof(double)),
         *X0 = calloc((size_t)m * n, sizeof(double));
  for (int i = 0; i < p; ++i)
    for (int r = 0; r < m; ++r) pd[r + i * m] = phi[r + i * m] * ubar[i] * vbar[i];
  mm(0, 0, m, n, p, pd, m, psit, n, ref);
  mm(0, 0, m, n, k, W2, m, W1, k, X0); /* U0 V0^T = W_2 W_1 */
  assert_true(tu_diffnorm((size_t)m * n, X0, ref) <= 1e-12);
  /* C_1 = W_2^T W_2 − W_1 W_1^T has eigenvalues ū_i² − v̄_i² plus k − p zeros */
  double *C = calloc((size_t)k * k, sizeof(double)), *ev = calloc(k, sizeof(double)), *want = calloc(k, sizeof(double));
  assert_int_equal(dln_net_conserved(net, theta, 1, C), DLN_OK);
  tu_syev(k, C, ev, 0);
  for (int i = 0; i < p; ++i) want[i] = ubar[i] * ubar[i] - vbar[i] * vbar[i];
  qsort(want, k, sizeof(double), tu_cmp_asc);
  for (int i = 0; i < k; ++i) assert_close(ev[i], want[i], 0, 1e-12);
  /* with rng, the factors are rotated (not the plain diagonal embedding) */
  if (use_rng) {
    double nz = 0;
    for (int i = p; i < k; ++i) nz += fabs(W2[i * m]);
    assert_true(nz > 1e-3);
  }
  free(a);
  free(s);
  free(phi);
  free(psit);
  free(sup);
  free(pd);
  free(ref);
  free(X0);
  free(C);
  free(ev);
  free(want);
  dln_rng_free(rng);
  dln_mat_free(Yb);
  free(theta);
  dln_net_free(net);
}

static void test_spectral_asymmetric(void **state) {
  (void)state;
  check_spectral_asymmetric(3, 5, 6, 1);
  check_spectral_asymmetric(5, 3, 5, 1);
  check_spectral_asymmetric(4, 4, 7, 0);
  /* k < max(m, n) rejected */
  int w[] = {5, 4, 3};
  dln_net *net = make_net(2, w, 0);
  double *theta = calloc(net->nparams, sizeof(double));
  dln_mat *Yb = gauss_mat(3, 3, 5);
  double ub[] = {1, 1, 1};
  dln_error_clear();
  assert_int_equal(dln_init_spectral_asymmetric(net, theta, Yb, ub, ub, NULL), DLN_EINVAL);
  assert_non_null(strstr(dln_last_error(), "hidden width"));
  dln_mat_free(Yb);
  free(theta);
  dln_net_free(net);
}

/* ------------------------------------------------------------------ orthogonal min-norm */

static void check_minnorm(int d0, int n, int h, int m, int xrank) {
  int w[] = {d0, h, m};
  dln_net *net = make_net(2, w, 0);
  double *theta = calloc(net->nparams, sizeof(double));
  dln_mat *X = xrank ? lowrank_mat(41, d0, n, xrank) : gauss_mat(41, d0, n);
  dln_rng *rng = dln_rng_alloc(8, 8);
  assert_int_equal(dln_init_orthogonal_minnorm(net, theta, X, rng, 1.0), DLN_OK);
  /* independent basis: Φ from the SVD of X, rank with tolerance 1e-10 */
  int p = d0 < n ? d0 : n;
  double *a = malloc(sizeof(double) * d0 * n), *s = malloc(sizeof(double) * p), *phi = malloc(sizeof(double) * d0 * d0),
         *vt = malloc(sizeof(double) * n * n);
  memcpy(a, X->data, sizeof(double) * d0 * n);
  assert_int_equal(LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'A', d0, n, a, d0, s, phi, d0, vt, n), 0);
  int r = 0;
  while (r < p && s[r] > 1e-10 * s[0]) ++r;
  assert_int_equal(r, xrank ? xrank : p);
  int c2 = d0 - r;
  const double *W1 = dln_net_layer_const(net, theta, 1), *V = dln_net_layer_const(net, theta, 2);
  /* U = W_1^T (d0 x h); U_1 = Φ_1^T U = (W_1 Φ_1)^T, U_2 = Φ_2^T U = (W_1 Φ_2)^T */
  double *U1t = calloc((size_t)h * r, sizeof(double)), *U2t = calloc((size_t)h * (c2 ? c2 : 1), sizeof(double));
  mm(0, 0, h, r, d0, W1, h, phi, d0, U1t);
  if (c2) mm(0, 0, h, c2, d0, W1, h, phi + (size_t)r * d0, d0, U2t);
  double *VU2 = calloc((size_t)m * (c2 ? c2 : 1), sizeof(double)), *U1U2 = calloc((size_t)r * (c2 ? c2 : 1), sizeof(double));
  if (c2) {
    mm(0, 0, m, c2, h, V, m, U2t, h, VU2);       /* V U_2^T */
    mm(1, 0, r, c2, h, U1t, h, U2t, h, U1U2);    /* U_1 U_2^T */
  }
  assert_true(fro((size_t)m * c2, VU2) <= 1e-12);
  assert_true(fro((size_t)r * c2, U1U2) <= 1e-12);
  /* the parts are not trivially zero */
  assert_true(fro((size_t)h * r, U1t) > 0.1);
  assert_true(fro((size_t)m * h, V) > 0.1);
  if (c2 && h > 1) assert_true(fro((size_t)h * c2, U2t) > 0.1);
  free(a);
  free(s);
  free(phi);
  free(vt);
  free(U1t);
  free(U2t);
  free(VU2);
  free(U1U2);
  dln_rng_free(rng);
  dln_mat_free(X);
  free(theta);
  dln_net_free(net);
}

static void test_orthogonal_minnorm(void **state) {
  (void)state;
  check_minnorm(8, 3, 10, 2, 0); /* under-determined, rank 3 */
  check_minnorm(9, 5, 7, 3, 2);  /* rank-deficient X */
  check_minnorm(4, 6, 6, 2, 0);  /* full row rank: Φ_2 empty */
  /* sigma < 0 rejected, depth != 2 rejected */
  int w[] = {4, 3, 2};
  dln_net *net = make_net(2, w, 0);
  double *theta = calloc(net->nparams, sizeof(double));
  dln_mat *X = gauss_mat(1, 4, 2);
  dln_rng *rng = dln_rng_alloc(1, 2);
  assert_int_equal(dln_init_orthogonal_minnorm(net, theta, X, rng, -1.0), DLN_EINVAL);
  int w3[] = {4, 3, 3, 2};
  dln_net *n3 = make_net(3, w3, 0);
  double *t3 = calloc(n3->nparams, sizeof(double));
  assert_int_equal(dln_init_orthogonal_minnorm(n3, t3, X, rng, 1.0), DLN_EINVAL);
  free(t3);
  dln_net_free(n3);
  dln_rng_free(rng);
  dln_mat_free(X);
  free(theta);
  dln_net_free(net);
}

/* ------------------------------------------------------------------ width-scaled */

static void test_width_scaled(void **state) {
  (void)state;
  int w[] = {10, 400, 300, 5};
  dln_net *net = make_net(3, w, 0);
  double *theta = calloc(net->nparams, sizeof(double));
  dln_rng *rng = dln_rng_alloc(9, 0);
  double alphas[] = {0.5, 0.3};
  for (int a = 0; a < 2; ++a) {
    assert_int_equal(dln_init_width_scaled(net, theta, rng, alphas[a]), DLN_OK);
    double want = pow(400.0, -alphas[a]);
    const double *W2 = dln_net_layer_const(net, theta, 2);
    size_t cnt = 300 * 400;
    double mean = 0, var = 0;
    for (size_t i = 0; i < cnt; ++i) mean += W2[i];
    mean /= cnt;
    for (size_t i = 0; i < cnt; ++i) var += (W2[i] - mean) * (W2[i] - mean);
    double sd = sqrt(var / (cnt - 1));
    assert_close(sd, want, 0.05, 0);
  }
  int w1[] = {3, 4};
  dln_net *n1 = make_net(1, w1, 0);
  double t1[12];
  dln_error_clear();
  assert_int_equal(dln_init_width_scaled(n1, t1, rng, 0.5), DLN_EINVAL);
  assert_non_null(strstr(dln_last_error(), "depth"));
  assert_int_equal(dln_init_width_scaled(net, theta, rng, 0.0), DLN_EINVAL);
  dln_net_free(n1);
  dln_rng_free(rng);
  free(theta);
  dln_net_free(net);
}

/* ------------------------------------------------------------------ from layers */

static void test_from_layers(void **state) {
  (void)state;
  int w[] = {3, 4, 2};
  dln_net *net = make_net(2, w, 0);
  double *theta = calloc(net->nparams, sizeof(double));
  dln_mat *L1 = gauss_mat(1, 4, 3), *L2 = gauss_mat(2, 2, 4);
  dln_mat *layers[2] = {L1, L2};
  assert_int_equal(dln_init_from_layers(net, theta, layers, 2), DLN_OK);
  assert_memory_equal(dln_net_layer_const(net, theta, 1), L1->data, 12 * sizeof(double));
  assert_memory_equal(dln_net_layer_const(net, theta, 2), L2->data, 8 * sizeof(double));
  double *saved = malloc(net->nparams * sizeof(double));
  memcpy(saved, theta, net->nparams * sizeof(double));
  /* wrong shape for layer 2 */
  dln_mat *bad = gauss_mat(3, 4, 2);
  dln_mat *layers_bad[2] = {L1, bad};
  dln_error_clear();
  assert_int_equal(dln_init_from_layers(net, theta, layers_bad, 2), DLN_EDIM);
  assert_non_null(strstr(dln_last_error(), "layer 2"));
  assert_non_null(strstr(dln_last_error(), "2 x 4"));
  assert_non_null(strstr(dln_last_error(), "4 x 2"));
  /* wrong count */
  assert_int_equal(dln_init_from_layers(net, theta, layers, 1), DLN_EDIM);
  /* NaN in layer 1 */
  dln_mat *nan1 = dln_mat_dup(L1);
  nan1->data[5] = NAN;
  dln_mat *layers_nan[2] = {nan1, L2};
  dln_error_clear();
  assert_int_equal(dln_init_from_layers(net, theta, layers_nan, 2), DLN_ENONFINITE);
  assert_non_null(strstr(dln_last_error(), "layer 1"));
  /* theta untouched by failed calls */
  assert_memory_equal(theta, saved, net->nparams * sizeof(double));
  /* tied: one matrix U (m x k) */
  int wt[] = {3, 5, 3};
  dln_net *tied = make_net(2, wt, 1);
  double *tt = calloc(tied->nparams, sizeof(double));
  dln_mat *U = gauss_mat(4, 3, 5);
  dln_mat *lt[1] = {U};
  assert_int_equal(dln_init_from_layers(tied, tt, lt, 1), DLN_OK);
  assert_memory_equal(tt, U->data, 15 * sizeof(double));
  dln_mat *lt2[1] = {L1};
  dln_error_clear();
  assert_int_equal(dln_init_from_layers(tied, tt, lt2, 1), DLN_EDIM);
  assert_non_null(strstr(dln_last_error(), "layer 1"));
  free(tt);
  dln_mat_free(U);
  dln_net_free(tied);
  dln_mat_free(nan1);
  dln_mat_free(bad);
  dln_mat_free(L1);
  dln_mat_free(L2);
  free(saved);
  free(theta);
  dln_net_free(net);
}

/* ------------------------------------------------------------------ reproducibility */

typedef int (*init_fn)(const dln_net *, double *, dln_rng *);

static int f_gauss(const dln_net *n, double *t, dln_rng *r) { return dln_init_gaussian(n, t, r, 0.5, NULL); }
static int f_width(const dln_net *n, double *t, dln_rng *r) { return dln_init_width_scaled(n, t, r, 0.5); }
static int f_bal(const dln_net *n, double *t, dln_rng *r) {
  dln_mat *A = gauss_mat(77, n->widths[n->depth], n->widths[0]);
  int st = dln_init_balanced(n, t, A, r);
  dln_mat_free(A);
  return st;
}
static int f_asym(const dln_net *n, double *t, dln_rng *r) {
  dln_mat *A = gauss_mat(78, n->widths[2], n->widths[0]);
  double ub[] = {1, 2, 3}, vb[] = {0.5, 0.5, 0.5};
  int st = dln_init_spectral_asymmetric(n, t, A, ub, vb, r);
  dln_mat_free(A);
  return st;
}
static int f_minnorm(const dln_net *n, double *t, dln_rng *r) {
  dln_mat *X = gauss_mat(79, n->widths[0], 2);
  int st = dln_init_orthogonal_minnorm(n, t, X, r, 1.0);
  dln_mat_free(X);
  return st;
}

static void test_reproducible(void **state) {
  (void)state;
  int w[] = {4, 6, 3};
  dln_net *net = make_net(2, w, 0);
  init_fn fns[] = {f_gauss, f_width, f_bal, f_asym, f_minnorm};
  size_t np = net->nparams;
  double *a = calloc(np, sizeof(double)), *b = calloc(np, sizeof(double)), *c = calloc(np, sizeof(double));
  for (size_t f = 0; f < sizeof fns / sizeof fns[0]; ++f) {
    dln_rng *r1 = dln_rng_alloc(123, 0), *r2 = dln_rng_alloc(123, 0), *r3 = dln_rng_alloc(123, 1);
    assert_int_equal(fns[f](net, a, r1), DLN_OK);
    assert_int_equal(fns[f](net, b, r2), DLN_OK);
    assert_int_equal(fns[f](net, c, r3), DLN_OK);
    assert_memory_equal(a, b, np * sizeof(double)); /* same seed: bit-identical */
    assert_true(memcmp(a, c, np * sizeof(double)) != 0); /* other stream: different */
    dln_rng_free(r1);
    dln_rng_free(r2);
    dln_rng_free(r3);
  }
  free(a);
  free(b);
  free(c);
  dln_net_free(net);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_balanced_depths),        cmocka_unit_test(test_balanced_zero_and_errors),
      cmocka_unit_test(test_tied_rejected),          cmocka_unit_test(test_imbalanced_same_product),
      cmocka_unit_test(test_spectral_symmetric),     cmocka_unit_test(test_spectral_asymmetric),
      cmocka_unit_test(test_orthogonal_minnorm),     cmocka_unit_test(test_width_scaled),
      cmocka_unit_test(test_from_layers),            cmocka_unit_test(test_reproducible),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
