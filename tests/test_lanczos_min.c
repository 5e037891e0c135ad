/* Lanczos at the least end only (dln_lanczos_options.min_only, src/theory/landscape.c) and
 * the end point's λ_min that uses it (src/theory/landscape_endpoint.c).
 *
 *   random points      factorization and regression nets of depth 1–4: λ_min of the
 *                      min_only run = the dense Hessian's (built from HVPs, LAPACKE_dsyev)
 *                      and the two-ended run's within tol·max(1, ‖H‖) (tol = 1e-10 and 1e-8);
 *                      the residual ≤ tol·scale; its Ritz vector is a unit vector with
 *                      y^T H y = λ_min; never more Krylov steps than the two-ended run;
 *                      resid_max is NAN; a 3-step cap reports "did not converge"
 *   critical points    balanced depth-2 factorizations of Ȳ = P diag(3, 2, 1) Q^T (hidden
 *                      width 5, rotated by a random orthogonal R): the global minimum
 *                      (λ_min = 0, a null space from the hidden rotations) and the saddles
 *                      missing component 1, 2 or 3 (004 Lemma 3.2; the min_only run
 *                      allocates nothing): dln_endpoint_classify's
 *                      λ_min = the dense one within 1e-8·max(1, ‖H‖) (the end point's tol)
 *   huge scale         ‖H‖ ≈ 1e151: min_only's λ_min = the two-ended run's to 1e-8, a finite
 *                      residual within tol (the tridiagonal problem is scaled first) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dln/data.h"
#include "dln/error.h"
#include "dln/init.h"
#include "dln/landscape.h"
#include "dln/loss.h"
#include "dln/mat.h"
#include "dln/net.h"
#include "dln/rng.h"
#include "testutil.h"

/* Least and largest eigenvalue of the dense Hessian (columns H e_j by HVPs, symmetrized). */
static void dense_extremes(dln_net *net, dln_loss *loss, const double *th, double *lmin, double *hnorm) {
  size_t n = net->nparams;
  double *H = tu_dalloc(n * n), *e = tu_dalloc(n), *w = tu_dalloc(n);
  memset(e, 0, n * sizeof(double));
  for (size_t j = 0; j < n; ++j) {
    e[j] = 1;
    assert_int_equal(dln_net_hvp(net, loss, th, e, H + j * n), DLN_OK);
    e[j] = 0;
  }
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < i; ++j) H[i + j * n] = H[j + i * n] = 0.5 * (H[i + j * n] + H[j + i * n]);
  tu_syev((int)n, H, w, 0);
  *lmin = w[0];
  *hnorm = fmax(fabs(w[0]), fabs(w[n - 1]));
  free(H);
  free(e);
  free(w);
}

/* min_only against the dense truth and the two-ended run at tolerance tol. */
static void check_min_only(dln_lanczos *lz, dln_net *net, dln_loss *loss, const double *th, double tol) {
  double lmin, hn;
  dense_extremes(net, loss, th, &lmin, &hn);
  dln_lanczos_options lo;
  dln_lanczos_default_options(&lo);
  lo.tol = tol;
  dln_lanczos_result full, mo;
  assert_int_equal(dln_lanczos_run(lz, loss, th, &lo, &full), DLN_OK);
  lo.min_only = 1;
  assert_int_equal(dln_lanczos_run(lz, loss, th, &lo, &mo), DLN_OK);
  double bound = tol * fmax(1.0, hn);
  if (tu_verbose())
    printf("n = %zu tol %.0e: dense %.15g, min_only %.15g (%d steps, resid %.2g), full %.15g (%d steps); bound %.2g\n",
           net->nparams, tol, lmin, mo.lambda_min, mo.iters, mo.resid_min, full.lambda_min, full.iters, bound);
  assert_true(mo.converged);
  assert_true(fabs(mo.lambda_min - lmin) <= bound);
  assert_true(fabs(mo.lambda_min - full.lambda_min) <= bound);
  assert_true(mo.resid_min <= tol * fmax(fabs(mo.lambda_min), fabs(mo.lambda_max)));
  assert_true(isnan(mo.resid_max));
  assert_true(mo.iters <= full.iters && mo.hvps < full.hvps);
  assert_true(mo.lambda_max <= full.lambda_max + bound); /* a Ritz value: below λ_max */
  const double *y = dln_lanczos_vec_min(lz);
  size_t n = net->nparams;
  double *hy = tu_dalloc(n), q = 0, ny = 0;
  assert_int_equal(dln_net_hvp(net, loss, th, y, hy), DLN_OK);
  for (size_t i = 0; i < n; ++i) q += y[i] * hy[i], ny += y[i] * y[i];
  assert_close(ny, 1.0, 1e-12, 0);
  assert_close(q, lmin, 0, bound);
  free(hy);
}

static void test_random_points(void **state) {
  (void)state;
  dln_rng *rng = dln_rng_alloc(41, 0);
  struct {
    int depth, widths[5], regression;
  } cfg[] = {{2, {3, 4, 2}, 0}, {3, {3, 3, 4, 2}, 0}, {2, {5, 3, 4}, 1}, {4, {2, 3, 3, 2, 3}, 0}, {1, {4, 3}, 1},
             {2, {10, 12, 5}, 0}};
  for (size_t c = 0; c < sizeof cfg / sizeof cfg[0]; ++c) {
    dln_net *net = NULL;
    assert_int_equal(dln_net_alloc(&net, cfg[c].depth, cfg[c].widths, 0), DLN_OK);
    int rows = dln_net_rows(net), cols = dln_net_cols(net);
    dln_loss *loss = NULL;
    dln_mat *A = NULL, *B = NULL;
    assert_int_equal(dln_data_gaussian(rng, cfg[c].regression ? cols : rows, cfg[c].regression ? 7 : cols, 1.0, &A), DLN_OK);
    if (cfg[c].regression) {
      assert_int_equal(dln_data_gaussian(rng, rows, 7, 1.0, &B), DLN_OK);
      assert_int_equal(dln_loss_regression_alloc(&loss, A, B), DLN_OK);
    } else {
      assert_int_equal(dln_loss_factorization_alloc(&loss, A), DLN_OK);
    }
    double *th = tu_dalloc(net->nparams);
    assert_int_equal(dln_init_gaussian(net, th, rng, 0.8, NULL), DLN_OK);
    dln_lanczos *lz = NULL;
    assert_int_equal(dln_lanczos_alloc(&lz, net, (int)net->nparams), DLN_OK);
    check_min_only(lz, net, loss, th, 1e-10);
    check_min_only(lz, net, loss, th, 1e-8);
    dln_lanczos_options lo;
    dln_lanczos_default_options(&lo);
    lo.min_only = 1;
    lo.max_iter = 3;
    dln_lanczos_result r;
    assert_int_equal(dln_lanczos_run(lz, loss, th, &lo, &r), DLN_OK);
    assert_false(r.converged);
    assert_int_equal(r.iters, 3);
    assert_true(strncmp(r.message, "did not converge: residual ", 27) == 0);
    dln_lanczos_free(lz);
    free(th);
    dln_loss_free(loss);
    dln_mat_free(A);
    dln_mat_free(B);
    dln_net_free(net);
  }
  dln_rng_free(rng);
}

#define R 3
#define C 4
#define H 5

/* W1 = Rot [diag(√s) Q^T; 0], W2 = [P diag(√s), 0] Rot^T with component `drop` (−1: none)
 * left out: balanced, W = Σ_{i≠drop} s_i p_i q_i^T (004 Lemma 3.2). */
static void critical_point(const dln_net *net, const double *s, const double *P, const double *Q, const double *Rot,
                           int drop, double *th) {
  double *W1 = th + net->offset[1], *W2 = th + net->offset[2];
  memset(th, 0, net->nparams * sizeof(double));
  for (int i = 0; i < R; ++i) {
    if (i == drop) continue;
    double r = sqrt(s[i]);
    for (int h = 0; h < H; ++h) {
      for (int j = 0; j < C; ++j) W1[h + j * H] += Rot[h + i * H] * r * Q[j + i * C];
      for (int k = 0; k < R; ++k) W2[k + h * R] += r * P[k + i * R] * Rot[h + i * H];
    }
  }
}

static void test_critical_points(void **state) {
  (void)state;
  double s[R] = {3, 2, 1}, P[R * R], Q[C * C], Rot[H * H];
  tu_rand_orth(R, P);
  tu_rand_orth(C, Q);
  tu_rand_orth(H, Rot);
  dln_mat *Y = dln_mat_alloc(R, C);
  tu_usv(R, C, R, P, s, Q, Y->data);
  dln_loss *loss = NULL;
  assert_int_equal(dln_loss_factorization_alloc(&loss, Y), DLN_OK);
  int w[3] = {C, H, R};
  dln_net *net = NULL;
  assert_int_equal(dln_net_alloc(&net, 2, w, 0), DLN_OK);
  double *th = tu_dalloc(net->nparams);
  for (int drop = -1; drop < R; ++drop) {
    critical_point(net, s, P, Q, Rot, drop, th);
    double lmin, hn;
    dense_extremes(net, loss, th, &lmin, &hn);
    dln_endpoint e;
    assert_int_equal(dln_endpoint_classify(net, loss, th, NULL, &e), DLN_OK);
    if (tu_verbose()) printf("drop %d: dense lambda_min %.15g, end point %.15g (resid %.2g); %s\n", drop, lmin, e.lambda_min,
                             e.lambda_resid, e.message);
    assert_int_equal(e.cls, drop < 0 ? DLN_END_GLOBAL_MIN : DLN_END_SADDLE);
    assert_true(e.lambda_converged);
    assert_true(fabs(e.lambda_min - lmin) <= 1e-8 * fmax(1.0, hn));
    if (drop >= 0) assert_true(lmin < -0.5); /* a strict saddle: −s_drop or below */
    dln_lanczos *lz = NULL;
    assert_int_equal(dln_lanczos_alloc(&lz, net, 60), DLN_OK);
    check_min_only(lz, net, loss, th, 1e-8);
    if (DLN_HAVE_ALLOC_COUNTER) { /* the min_only run allocates nothing (after the warm-up above) */
      dln_lanczos_options lo;
      dln_lanczos_default_options(&lo);
      lo.min_only = 1;
      dln_lanczos_result r;
      dln_alloc_count_begin();
      int st = dln_lanczos_run(lz, loss, th, &lo, &r);
      long nalloc = dln_alloc_count_end(NULL);
      assert_int_equal(st, DLN_OK);
      assert_int_equal(nalloc, 0);
    }
    dln_lanczos_free(lz);
  }
  free(th);
  dln_net_free(net);
  dln_loss_free(loss);
  dln_mat_free(Y);
}

/* A Hessian of norm ≈ 1e151 (target entries 1e150, like tests/bad_inputs' diverged run):
 * the tridiagonal problem is scaled before inverse iteration, so the residual stays finite
 * and λ_min matches the two-ended run (dstev, which scales itself). */
static void test_huge_scale(void **state) {
  (void)state;
  dln_rng *rng = dln_rng_alloc(44, 0);
  int w[3] = {4, 3, 3};
  dln_net *net = NULL;
  assert_int_equal(dln_net_alloc(&net, 2, w, 0), DLN_OK);
  dln_mat *Y = dln_mat_alloc(3, 4);
  for (int i = 0; i < 12; ++i) Y->data[i] = 1e150 * (1 + i % 7);
  dln_loss *loss = NULL;
  assert_int_equal(dln_loss_factorization_alloc(&loss, Y), DLN_OK);
  double *th = tu_dalloc(net->nparams);
  assert_int_equal(dln_init_gaussian(net, th, rng, 0.01, NULL), DLN_OK);
  dln_lanczos *lz = NULL;
  assert_int_equal(dln_lanczos_alloc(&lz, net, 60), DLN_OK);
  dln_lanczos_options lo;
  dln_lanczos_default_options(&lo);
  lo.tol = 1e-8;
  dln_lanczos_result full, mo;
  assert_int_equal(dln_lanczos_run(lz, loss, th, &lo, &full), DLN_OK);
  lo.min_only = 1;
  assert_int_equal(dln_lanczos_run(lz, loss, th, &lo, &mo), DLN_OK);
  if (tu_verbose()) printf("huge: min_only %.17g (resid %.3g), full %.17g (resid %.3g)\n", mo.lambda_min, mo.resid_min,
                           full.lambda_min, full.resid_min);
  assert_true(mo.lambda_min < -1e150 && isfinite(mo.resid_min));
  assert_close(mo.lambda_min, full.lambda_min, 1e-8, 0);
  assert_true(mo.resid_min <= 1e-8 * fabs(mo.lambda_min));
  dln_lanczos_free(lz);
  free(th);
  dln_loss_free(loss);
  dln_mat_free(Y);
  dln_net_free(net);
  dln_rng_free(rng);
}

int main(void) {
  tu_seed(43);
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_random_points), cmocka_unit_test(test_critical_points),
                                     cmocka_unit_test(test_huge_scale)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
