/* Implicit-bias measures (src/theory/bias.c) against independent computations.
 *
 *   singular values         vs LAPACKE_dgesvd in the test, 1e-12 relative
 *   Schatten-p / nuclear    of Q_1 diag(3, 2, 1) Q_2^T against the closed forms for
 *                           p = 0.5, 1, 2, 3, ∞ (1e-12 relative)
 *   effective rank          of rank-r matrices with equal singular values = r (1e-12);
 *                           1 for rank one, 0 for W = 0; the formula on (2, 1): exp(H)
 *   det sign, log|det|      vs the product of eigenvalues (LAPACKE_dgeev) and Σ log σ_i;
 *                           a row swap flips the sign; a singular matrix gives 0
 *   distance to W*          regression loss: ‖(W* + E) − W*‖ = ‖E‖
 *   orthogonality (003 §3)  vs an explicit U = W_1^T, V = W_2, Φ from the SVD of X^T
 *                           (003's row-sample data); exactly 0 for
 *                           dln_init_orthogonal_minnorm; after gradient flow from
 *                           that init, W → the min-norm solution (003 Prop. 1). */
#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dln/bias.h"
#include "dln/data.h"
#include "dln/error.h"
#include "dln/init.h"
#include "dln/loss.h"
#include "dln/mat.h"
#include "dln/net.h"
#include "dln/rng.h"
#include "dln/train.h"
#include "testutil.h"

static void test_singular_values(void **state) {
  (void)state;
  dln_rng *rng = dln_rng_alloc(11, 0);
  int rows = 7, cols = 4;
  dln_mat *A = NULL;
  assert_int_equal(dln_data_gaussian(rng, rows, cols, 1.0, &A), DLN_OK);
  dln_bias *b = NULL;
  assert_int_equal(dln_bias_alloc(&b, rows, cols), DLN_OK);
  double s[4], s_ref[4], a[28], superb[3], dummy = 0;
  assert_int_equal(dln_bias_singular_values(b, A->data, s), DLN_OK);
  memcpy(a, A->data, sizeof a);
  assert_int_equal(LAPACKE_dgesvd(LAPACK_COL_MAJOR, 'N', 'N', rows, cols, a, rows, s_ref, &dummy, 1, &dummy, 1, superb), 0);
  for (int i = 0; i < 4; ++i) assert_close(s[i], s_ref[i], 1e-12, 0);
  /* thin SVD reconstructs A */
  double U[28], sv[4], Vt[16];
  assert_int_equal(dln_bias_svd(b, A->data, U, sv, Vt), DLN_OK);
  double err = 0;
  for (int j = 0; j < cols; ++j)
    for (int i = 0; i < rows; ++i) {
      double v = 0;
      for (int r = 0; r < 4; ++r) v += U[i + r * rows] * sv[r] * Vt[r + j * 4];
      err = fmax(err, fabs(v - A->data[i + j * rows]));
    }
  assert_true(err < 1e-13);
  /* NaN input is reported, not propagated */
  A->data[3] = NAN;
  assert_int_equal(dln_bias_singular_values(b, A->data, s), DLN_ENONFINITE);
  dln_bias_free(b);
  dln_mat_free(A);
  dln_rng_free(rng);
}

static void test_schatten_diag(void **state) {
  (void)state;
  dln_rng *rng = dln_rng_alloc(12, 0);
  int rows = 3, cols = 5;
  double s[3] = {3, 2, 1}, W[15];
  tu_with_sv(rng, rows, cols, 3, s, W);
  dln_bias *b = NULL;
  assert_int_equal(dln_bias_alloc(&b, rows, cols), DLN_OK);
  dln_bias_result r;
  assert_int_equal(dln_bias_eval(b, W, NULL, &r), DLN_OK);
  assert_close(r.nuclear, 6.0, 1e-12, 0);
  assert_close(r.fro, sqrt(14.0), 1e-12, 0);
  assert_close(r.spectral, 3.0, 1e-12, 0);
  assert_close(dln_bias_schatten(b, 1.0), 6.0, 1e-12, 0);
  assert_close(dln_bias_schatten(b, 0.5), pow(sqrt(3.0) + sqrt(2.0) + 1.0, 2.0), 1e-12, 0);
  assert_close(dln_bias_schatten(b, 3.0), cbrt(36.0), 1e-12, 0);
  assert_close(dln_bias_schatten(b, INFINITY), 3.0, 1e-12, 0);
  assert_close(dln_bias_schatten(b, 0.1), pow(pow(3, 0.1) + pow(2, 0.1) + 1.0, 10.0), 1e-12, 0);
  assert_int_equal(r.rank, 3);
  assert_close(r.stable_rank, 14.0 / 9.0, 1e-12, 0);
  assert_true(isnan(r.dist_ref));
  assert_int_equal(r.det_sign, 0); /* not square */
  /* direct diag: no SVD round-off at all */
  double d[4] = {4, 0, 1e-300, 2};
  assert_close(dln_schatten(4, d, 2.0), sqrt(20.0), 1e-15, 0);
  assert_close(dln_schatten(4, d, 0.5), pow(2.0 + sqrt(2.0) + sqrt(1e-300), 2.0), 1e-15, 0);
  assert_true(isnan(dln_schatten(4, d, 0.0)));
  assert_true(isnan(dln_schatten(4, d, -1.0)));
  double big[2] = {1e200, 1e200};
  assert_close(dln_schatten(2, big, 2.0), sqrt(2.0) * 1e200, 1e-15, 0); /* no overflow */
  if (tu_verbose()) printf("schatten: nuclear %.17g (6), S_0.5 %.17g\n", r.nuclear, dln_bias_schatten(b, 0.5));
  dln_bias_free(b);
  dln_rng_free(rng);
}

static void test_effective_rank(void **state) {
  (void)state;
  dln_rng *rng = dln_rng_alloc(13, 0);
  int rows = 5, cols = 6;
  dln_bias *b = NULL;
  assert_int_equal(dln_bias_alloc(&b, rows, cols), DLN_OK);
  double W[30], s[5];
  for (int r = 1; r <= 5; ++r) {
    for (int i = 0; i < r; ++i) s[i] = 2.5;
    tu_with_sv(rng, rows, cols, r, s, W);
    dln_bias_result res;
    assert_int_equal(dln_bias_eval(b, W, NULL, &res), DLN_OK);
    if (tu_verbose()) printf("erank of rank-%d equal-sv matrix: %.17g\n", r, res.effective_rank);
    assert_close(res.effective_rank, (double)r, 1e-12, 0);
    assert_close(res.stable_rank, (double)r, 1e-12, 0);
    assert_int_equal(res.rank, r);
  }
  memset(W, 0, sizeof W);
  dln_bias_result res;
  assert_int_equal(dln_bias_eval(b, W, NULL, &res), DLN_OK);
  assert_true(res.effective_rank == 0 && res.nuclear == 0 && res.rank == 0);
  /* (2, 1): p = (2/3, 1/3), exp(H) */
  double t[2] = {2, 1};
  double h = -(2.0 / 3) * log(2.0 / 3) - (1.0 / 3) * log(1.0 / 3);
  assert_close(dln_effective_rank(2, t), exp(h), 1e-15, 0);
  dln_bias_free(b);
  dln_rng_free(rng);
}

static void test_det_sign(void **state) {
  (void)state;
  dln_rng *rng = dln_rng_alloc(14, 0);
  int n = 5;
  dln_bias *b = NULL;
  assert_int_equal(dln_bias_alloc(&b, n, n), DLN_OK);
  int npos = 0, nneg = 0;
  for (int trial = 0; trial < 20; ++trial) {
    dln_mat *A = NULL;
    assert_int_equal(dln_data_gaussian(rng, n, n, 1.0, &A), DLN_OK);
    int sg;
    double lad;
    assert_int_equal(dln_bias_det_sign(b, A->data, &sg, &lad), DLN_OK);
    /* independent: det = Π eigenvalues (complex pairs give |λ|² > 0) */
    double a[25], wr[5], wi[5], dummy;
    memcpy(a, A->data, sizeof a);
    assert_int_equal(LAPACKE_dgeev(LAPACK_COL_MAJOR, 'N', 'N', n, a, n, wr, wi, &dummy, 1, &dummy, 1), 0);
    double re = 1, im = 0;
    for (int i = 0; i < n; ++i) {
      double nr = re * wr[i] - im * wi[i], ni = re * wi[i] + im * wr[i];
      re = nr;
      im = ni;
    }
    assert_int_equal(sg, re > 0 ? 1 : -1);
    /* log|det| = Σ log σ_i */
    double s[5], w[25], sl = 0;
    assert_int_equal(dln_singular_values(n, n, A->data, s, w), DLN_OK);
    for (int i = 0; i < n; ++i) sl += log(s[i]);
    assert_close(lad, sl, 1e-12, 1e-12);
    assert_close(exp(lad), fabs(re), 1e-10, 0);
    /* swapping two rows flips the sign */
    for (int j = 0; j < n; ++j) {
      double t = A->data[0 + j * n];
      A->data[0 + j * n] = A->data[1 + j * n];
      A->data[1 + j * n] = t;
    }
    int sg2;
    assert_int_equal(dln_bias_det_sign(b, A->data, &sg2, NULL), DLN_OK);
    assert_int_equal(sg2, -sg);
    if (sg > 0) npos++;
    else nneg++;
    /* a zero column makes it singular */
    for (int i = 0; i < n; ++i) A->data[i + 2 * n] = 0;
    assert_int_equal(dln_bias_det_sign(b, A->data, &sg2, &lad), DLN_OK);
    assert_int_equal(sg2, 0);
    assert_true(isinf(lad) && lad < 0);
    dln_mat_free(A);
  }
  assert_true(npos > 0 && nneg > 0);
  /* eval fills det_sign for square W */
  double Dg[25] = {0};
  for (int i = 0; i < n; ++i) Dg[i * 6] = i == 3 ? -2.0 : 1.0;
  dln_bias_result r;
  assert_int_equal(dln_bias_eval(b, Dg, NULL, &r), DLN_OK);
  assert_int_equal(r.det_sign, -1);
  assert_close(r.log_abs_det, log(2.0), 1e-15, 0);
  assert_close(r.nuclear, 6.0, 1e-14, 0); /* singular values survive the LU */
  double rect[6] = {0};
  dln_bias *b2 = NULL;
  int sg;
  assert_int_equal(dln_bias_alloc(&b2, 2, 3), DLN_OK);
  assert_int_equal(dln_bias_det_sign(b2, rect, &sg, NULL), DLN_EDIM);
  dln_bias_free(b2);
  dln_bias_free(b);
  dln_rng_free(rng);
}

static void test_dist_ref(void **state) {
  (void)state;
  dln_rng *rng = dln_rng_alloc(15, 0);
  dln_mat *X = NULL, *Y = NULL, *E = NULL;
  assert_int_equal(dln_data_gaussian(rng, 6, 3, 1.0, &X), DLN_OK); /* d0 = 6 > n = 3 */
  assert_int_equal(dln_data_gaussian(rng, 2, 3, 1.0, &Y), DLN_OK);
  assert_int_equal(dln_data_gaussian(rng, 2, 6, 0.1, &E), DLN_OK);
  dln_loss *loss = NULL;
  assert_int_equal(dln_loss_regression_alloc(&loss, X, Y), DLN_OK);
  assert_non_null(loss->wstar);
  double W[12];
  for (int i = 0; i < 12; ++i) W[i] = loss->wstar[i] + E->data[i];
  dln_bias *b = NULL;
  assert_int_equal(dln_bias_alloc(&b, 2, 6), DLN_OK);
  dln_bias_result r;
  assert_int_equal(dln_bias_eval(b, W, loss->wstar, &r), DLN_OK);
  assert_close(r.dist_ref, dln_norm2(12, E->data), 1e-13, 0);
  assert_close(r.rel_dist_ref, dln_norm2(12, E->data) / dln_norm2(12, loss->wstar), 1e-13, 0);
  dln_bias_free(b);
  dln_loss_free(loss);
  dln_mat_free(X);
  dln_mat_free(Y);
  dln_mat_free(E);
  dln_rng_free(rng);
}

/* Explicit 003 computation: X_003 = X^T (n x D) = Wx S [Φ1 Φ2]^T; U = W_1^T (D x h),
 * V = W_2 (m x h); U_1 = Φ1^T U, U_2 = Φ2^T U. */
static double orth_explicit(const dln_mat *X, int h, int m, const double *W1, const double *W2) {
  int D = X->rows, n = X->cols, r = 0;
  double *x3 = malloc((size_t)n * D * sizeof(double)), *s = malloc((size_t)D * sizeof(double));
  double *Vt = malloc((size_t)D * D * sizeof(double)), *superb = malloc((size_t)D * sizeof(double)), dummy;
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < D; ++j) x3[i + (size_t)j * n] = X->data[j + (size_t)i * D];
  assert_int_equal(LAPACKE_dgesvd(LAPACK_COL_MAJOR, 'N', 'A', n, D, x3, n, s, &dummy, 1, Vt, D, superb), 0);
  int k = n < D ? n : D;
  for (int i = 0; i < k; ++i)
    if (s[i] > 1e-12 * s[0]) r++;
  /* Φ = Vt^T: column c of Φ is row c of Vt */
  double vu2 = 0, u1u2 = 0;
  /* U_1[a, c] = Σ_d Φ1[d, a] U[d, c] = Σ_d Vt[a, d] W1[c, d] */
  double *Uc = malloc((size_t)D * h * sizeof(double)); /* [U_1; U_2] (D x h) */
  for (int a = 0; a < D; ++a)
    for (int c = 0; c < h; ++c) {
      double v = 0;
      for (int d = 0; d < D; ++d) v += Vt[a + (size_t)d * D] * W1[c + (size_t)d * h];
      Uc[a + (size_t)c * D] = v;
    }
  for (int b2 = r; b2 < D; ++b2) {
    for (int i = 0; i < m; ++i) { /* (V U_2^T)[i, b2] = Σ_c V[i, c] U_2[b2, c] */
      double v = 0;
      for (int c = 0; c < h; ++c) v += W2[i + (size_t)c * m] * Uc[b2 + (size_t)c * D];
      vu2 += v * v;
    }
    for (int a = 0; a < r; ++a) {
      double v = 0;
      for (int c = 0; c < h; ++c) v += Uc[a + (size_t)c * D] * Uc[b2 + (size_t)c * D];
      u1u2 += v * v;
    }
  }
  free(Uc);
  free(x3);
  free(s);
  free(Vt);
  free(superb);
  return sqrt(vu2) + sqrt(u1u2);
}

static void test_orthogonality(void **state) {
  (void)state;
  dln_rng *rng = dln_rng_alloc(16, 0);
  int D = 6, n = 3, h = 8, m = 2;
  dln_mat *X = NULL, *Y = NULL;
  assert_int_equal(dln_data_gaussian(rng, D, n, 1.0, &X), DLN_OK);
  assert_int_equal(dln_data_gaussian(rng, m, n, 1.0, &Y), DLN_OK);
  int widths[3] = {D, h, m};
  dln_net *net = NULL;
  assert_int_equal(dln_net_alloc(&net, 2, widths, 0), DLN_OK);
  double *theta = malloc(net->nparams * sizeof(double));
  dln_orth *o = NULL;
  assert_int_equal(dln_orth_alloc(&o, net, X), DLN_OK);
  assert_int_equal(dln_orth_rank(o), n);
  /* random weights: matches the explicit computation */
  assert_int_equal(dln_init_gaussian(net, theta, rng, 0.7, NULL), DLN_OK);
  double vu2, u1u2, tot;
  assert_int_equal(dln_orth_eval(o, theta, &vu2, &u1u2, &tot), DLN_OK);
  double ref = orth_explicit(X, h, m, theta + net->offset[1], theta + net->offset[2]);
  if (tu_verbose()) printf("orthogonality: dln %.17g, explicit %.17g (%.3g + %.3g)\n", tot, ref, vu2, u1u2);
  assert_true(tot > 0.1);
  assert_close(tot, ref, 1e-12, 0);
  /* the invariant-set init of 003 Prop. 1: exactly orthogonal */
  assert_int_equal(dln_init_orthogonal_minnorm(net, theta, X, rng, 0.5), DLN_OK);
  assert_int_equal(dln_orth_eval(o, theta, &vu2, &u1u2, &tot), DLN_OK);
  if (tu_verbose()) printf("orthogonality at the 003 invariant-set init: %.3g\n", tot);
  assert_true(tot < 1e-12);
  /* gradient flow keeps it there and converges to the min-norm solution */
  dln_loss *loss = NULL;
  assert_int_equal(dln_loss_regression_alloc(&loss, X, Y), DLN_OK);
  dln_train_options opt;
  dln_train_default_options(&opt);
  opt.method = &dln_integrator_flow;
  opt.t_end = 200;
  opt.nsamples = 2;
  opt.rtol = 1e-10;
  opt.atol = 1e-12;
  opt.grad_tol = 1e-11;
  dln_train_result tr;
  assert_int_equal(dln_train(net, loss, theta, &opt, NULL, NULL, &tr), DLN_OK);
  assert_int_equal(dln_orth_eval(o, theta, &vu2, &u1u2, &tot), DLN_OK);
  double W[12];
  assert_int_equal(dln_net_product(net, theta, W), DLN_OK);
  dln_bias *b = NULL;
  dln_bias_result br;
  assert_int_equal(dln_bias_alloc(&b, m, D), DLN_OK);
  assert_int_equal(dln_bias_eval(b, W, loss->wstar, &br), DLN_OK);
  if (tu_verbose())
    printf("after flow (t = %g, loss %.3g, %s): orthogonality %.3g, |W - W*| = %.3g\n", tr.t, tr.loss,
           dln_stop_reason_name(tr.stop_reason), tot, br.dist_ref);
  assert_true(tr.loss < 1e-16);
  assert_true(tot < 1e-9);
  assert_true(br.rel_dist_ref < 1e-7);
  /* not applicable to depth 3 */
  int w3[4] = {D, 4, 4, m};
  dln_net *net3 = NULL;
  dln_orth *o3 = NULL;
  assert_int_equal(dln_net_alloc(&net3, 3, w3, 0), DLN_OK);
  assert_int_equal(dln_orth_alloc(&o3, net3, X), DLN_ENOTAPPLICABLE);
  assert_null(o3);
  dln_net_free(net3);
  dln_bias_free(b);
  dln_loss_free(loss);
  dln_orth_free(o);
  free(theta);
  dln_net_free(net);
  dln_mat_free(X);
  dln_mat_free(Y);
  dln_rng_free(rng);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_singular_values), cmocka_unit_test(test_schatten_diag), cmocka_unit_test(test_effective_rank),
      cmocka_unit_test(test_det_sign),        cmocka_unit_test(test_dist_ref),      cmocka_unit_test(test_orthogonality),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
