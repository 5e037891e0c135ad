/* Tests for the observer and the trajectory table (dln/observe.h): column sets for
 * several configurations, every diagnostic against an independent computation with
 * plain loops in this file, the eigC selection for wide hidden layers, no allocation
 * in dln_observer_eval, table capacity and the bit-exact CSV round trip. */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>

#include <cmocka.h>

#include "dln/error.h"
#include "dln/io.h"
#include "dln/loss.h"
#include "dln/mat.h"
#include "dln/net.h"
#include "dln/observe.h"
#include "testutil.h"

/* ------------------------------------------------------------------ helpers (plain-loop truths: testutil.c) */

static double urand(void) { /* uniform in (-1, 1), from the tu_rand_u64 stream */
  return 2.0 * ((double)(tu_rand_u64() >> 11) / 9007199254740992.0) - 1.0;
}
static void fill(size_t n, double *x, double scale) {
  for (size_t i = 0; i < n; ++i) x[i] = scale * urand();
}

/* End-to-end W = W_N ··· W_1 for an untied net, by loops. */
static void product(const dln_net *net, const double *theta, double *W) {
  const int *d = net->widths;
  size_t maxw = 0;
  for (int j = 0; j <= net->depth; ++j) maxw = (size_t)d[j] > maxw ? (size_t)d[j] : maxw;
  double *P = calloc(maxw * (size_t)d[0], sizeof(double)), *Q = calloc(maxw * (size_t)d[0], sizeof(double));
  memcpy(P, theta + net->offset[1], (size_t)d[1] * d[0] * sizeof(double));
  for (int j = 2; j <= net->depth; ++j) {
    tu_mm(0, 0, d[j], d[0], d[j - 1], theta + net->offset[j], P, Q);
    double *t = P; P = Q; Q = t;
  }
  memcpy(W, P, (size_t)d[net->depth] * d[0] * sizeof(double));
  free(P);
  free(Q);
}

static void expect_columns(const dln_observer *o, const char *const *names, int n) {
  assert_int_equal(dln_observer_ncols(o), n);
  for (int i = 0; i < n; ++i) {
    assert_string_equal(dln_observer_colname(o, i), names[i]);
    assert_int_equal(dln_observer_col(o, names[i]), i);
  }
  assert_null(dln_observer_colname(o, n));
  assert_null(dln_observer_colname(o, -1));
  assert_int_equal(dln_observer_col(o, "no_such_column"), -1);
}

static dln_loss *factorization(int rows, int cols, double scale) {
  dln_mat *T = dln_mat_alloc(rows, cols);
  fill((size_t)rows * cols, T->data, scale);
  dln_loss *l = NULL;
  assert_int_equal(dln_loss_factorization_alloc(&l, T), DLN_OK);
  dln_mat_free(T);
  return l;
}

/* Regression with X = [I_d0 | 0] (d0 x (d0+1)), Y = [A | c]: W* = A, L* = ½‖c‖². */
typedef struct {
  dln_loss *loss;
  double *A, *X, *Y;
  double lstar;
  int dn, d0, n;
} regr;
static regr regression(int dn, int d0) {
  regr r = {0};
  r.dn = dn;
  r.d0 = d0;
  r.n = d0 + 1;
  r.A = calloc((size_t)dn * d0, sizeof(double));
  fill((size_t)dn * d0, r.A, 1.0);
  dln_mat *X = dln_mat_alloc(d0, r.n), *Y = dln_mat_alloc(dn, r.n);
  for (int i = 0; i < d0; ++i) X->data[i + (size_t)i * d0] = 1.0;
  double c2 = 0;
  for (int j = 0; j < r.n; ++j)
    for (int i = 0; i < dn; ++i) {
      double v = j < d0 ? r.A[i + (size_t)j * dn] : 0.5 + 0.25 * i;
      Y->data[i + (size_t)j * dn] = v;
      if (j == d0) c2 += v * v;
    }
  r.lstar = 0.5 * c2;
  r.X = malloc((size_t)d0 * r.n * sizeof(double));
  r.Y = malloc((size_t)dn * r.n * sizeof(double));
  memcpy(r.X, X->data, (size_t)d0 * r.n * sizeof(double));
  memcpy(r.Y, Y->data, (size_t)dn * r.n * sizeof(double));
  assert_int_equal(dln_loss_regression_alloc(&r.loss, X, Y), DLN_OK);
  dln_mat_free(X);
  dln_mat_free(Y);
  return r;
}
static void regr_free(regr *r) {
  dln_loss_free(r->loss);
  free(r->A);
  free(r->X);
  free(r->Y);
}

/* ------------------------------------------------------------------ column sets */

static void test_columns_depth1_factorization(void **state) {
  (void)state;
  int w[] = {3, 2};
  dln_net *net;
  assert_int_equal(dln_net_alloc(&net, 1, w, 0), DLN_OK);
  dln_loss *loss = factorization(2, 3, 1.0);
  double *th = calloc(net->nparams, sizeof(double));
  dln_observer *o;
  assert_int_equal(dln_observer_alloc(&o, net, loss, th, DLN_OBS_ALL), DLN_OK);
  const char *names[] = {"t", "step", "loss", "loss_gap", "grad_norm", "recon_err", "dist_ref", "sv_1", "sv_2",
                         "compress_rank", "unbalancedness"};
  expect_columns(o, names, 11);
  dln_observer_free(o);
  /* theta0 may be NULL when no drift column exists */
  assert_int_equal(dln_observer_alloc(&o, net, loss, NULL, DLN_OBS_ALL), DLN_OK);
  expect_columns(o, names, 11);
  dln_observer_free(o);
  dln_loss_free(loss);
  dln_net_free(net);
  free(th);
}

static void test_columns_depth2_factorization(void **state) {
  (void)state;
  int w[] = {3, 4, 2};
  dln_net *net;
  assert_int_equal(dln_net_alloc(&net, 2, w, 0), DLN_OK);
  dln_loss *loss = factorization(2, 3, 1.0);
  double *th = calloc(net->nparams, sizeof(double));
  dln_observer *o;
  assert_int_equal(dln_observer_alloc(&o, net, loss, th, DLN_OBS_ALL), DLN_OK);
  const char *names[] = {"t", "step", "loss", "loss_gap", "grad_norm", "recon_err", "dist_ref", "sv_1", "sv_2",
                         "compress_rank", "unbalancedness", "drift_C1", "eigC_1", "eigC_2", "eigC_3", "eigC_4"};
  expect_columns(o, names, 16);
  dln_observer_free(o);

  /* subsets of flags keep the documented order */
  assert_int_equal(dln_observer_alloc(&o, net, loss, th, DLN_OBS_SV | DLN_OBS_IMBALANCE), DLN_OK);
  const char *n2[] = {"t", "step", "sv_1", "sv_2", "eigC_1", "eigC_2", "eigC_3", "eigC_4"};
  expect_columns(o, n2, 8);
  dln_observer_free(o);
  assert_int_equal(dln_observer_alloc(&o, net, loss, th, 0), DLN_OK);
  const char *n3[] = {"t", "step"};
  expect_columns(o, n3, 2);
  double row[2];
  assert_int_equal(dln_observer_eval(o, 1.5, 7, th, row), DLN_OK);
  assert_true(row[0] == 1.5 && row[1] == 7.0);
  dln_observer_free(o);
  assert_int_equal(dln_observer_alloc(&o, net, loss, th, DLN_OBS_LOSS | DLN_OBS_CONSERVED), DLN_OK);
  const char *n4[] = {"t", "step", "loss", "loss_gap", "unbalancedness", "drift_C1"};
  expect_columns(o, n4, 6);
  dln_observer_free(o);

  /* errors: drift needs theta0; unknown flag bits */
  assert_int_equal(dln_observer_alloc(&o, net, loss, NULL, DLN_OBS_CONSERVED), DLN_EINVAL);
  assert_null(o);
  assert_int_equal(dln_observer_alloc(&o, net, loss, th, 256u), DLN_EINVAL);
  assert_null(o);
  dln_loss_free(loss);
  /* a loss of the wrong shape */
  loss = factorization(3, 3, 1.0);
  assert_int_equal(dln_observer_alloc(&o, net, loss, th, DLN_OBS_ALL), DLN_EDIM);
  assert_null(o);
  assert_true(strlen(dln_last_error()) > 0);
  dln_loss_free(loss);
  dln_net_free(net);
  free(th);
}

static void test_columns_depth3_regression(void **state) {
  (void)state;
  int w[] = {2, 5, 4, 3};
  dln_net *net;
  assert_int_equal(dln_net_alloc(&net, 3, w, 0), DLN_OK);
  regr r = regression(3, 2);
  double *th = calloc(net->nparams, sizeof(double));
  dln_observer *o;
  assert_int_equal(dln_observer_alloc(&o, net, r.loss, th, DLN_OBS_ALL), DLN_OK);
  /* regression: no recon_err (target_norm is NaN), dist_ref to the min-norm solution;
   * depth 3: drift for C_1 and C_2, no eigC */
  const char *names[] = {"t", "step", "loss", "loss_gap", "grad_norm", "dist_ref", "sv_1", "sv_2",
                         "compress_rank", "unbalancedness", "drift_C1", "drift_C2"};
  expect_columns(o, names, 12);
  dln_observer_free(o);
  regr_free(&r);
  dln_net_free(net);
  free(th);
}

static void test_columns_tied(void **state) {
  (void)state;
  int w[] = {3, 2, 3};
  dln_net *net;
  assert_int_equal(dln_net_alloc(&net, 2, w, 1), DLN_OK);
  dln_loss *loss = factorization(3, 3, 1.0);
  double *th = malloc(net->nparams * sizeof(double));
  fill(net->nparams, th, 1.0);
  dln_observer *o;
  assert_int_equal(dln_observer_alloc(&o, net, loss, NULL, DLN_OBS_ALL), DLN_OK);
  const char *names[] = {"t", "step", "loss", "loss_gap", "grad_norm", "recon_err", "dist_ref", "sv_1", "sv_2",
                         "sv_3", "compress_rank", "unbalancedness"};
  expect_columns(o, names, 12);
  double row[12];
  assert_int_equal(dln_observer_eval(o, 0, 0, th, row), DLN_OK);
  assert_true(row[11] == 0.0); /* tied nets are balanced by construction */
  assert_true(row[10] == 2.0); /* U U^T with U 3 x 2: rank 2 */
  /* W = U U^T is PSD of rank ≤ 2: the third singular value vanishes, the others are
   * the squared singular values of U, so sv_1 + sv_2 = ‖U‖_F² */
  assert_close(row[7] + row[8], tu_fro(net->nparams, th) * tu_fro(net->nparams, th), 1e-12, 1e-14);
  assert_close(row[9], 0.0, 0, 1e-12);
  /* grad_norm equals ‖(∇ℓ + ∇ℓ^T) U‖ computed with loops */
  double U[6], W[9], G[9], S[9], g[6];
  memcpy(U, th, sizeof U);
  tu_mm(0, 1, 3, 3, 2, U, U, W);
  double lv = 0;
  for (int i = 0; i < 9; ++i) {
    G[i] = W[i] - loss->wstar[i];
    lv += 0.5 * G[i] * G[i];
  }
  for (int a = 0; a < 3; ++a)
    for (int b = 0; b < 3; ++b) S[a + 3 * b] = G[a + 3 * b] + G[b + 3 * a];
  tu_mm(0, 0, 3, 2, 3, S, U, g);
  assert_close(row[2], lv, 1e-13, 1e-15);
  assert_close(row[4], tu_fro(6, g), 1e-13, 1e-15);
  dln_observer_free(o);
  dln_loss_free(loss);
  dln_net_free(net);
  free(th);
}

/* ------------------------------------------------------------------ values */

/* Depth 2 factorization: loss, loss_gap (L* = 0), grad_norm (loops and dln_net_grad),
 * recon_err, dist_ref, unbalancedness, drift, eigC trace and Frobenius identities. */
static void test_values_depth2_factorization(void **state) {
  (void)state;
  int w[] = {3, 4, 2};
  dln_net *net;
  assert_int_equal(dln_net_alloc(&net, 2, w, 0), DLN_OK);
  dln_loss *loss = factorization(2, 3, 2.0);
  size_t np = net->nparams;
  double *th0 = malloc(np * sizeof(double)), *th = malloc(np * sizeof(double));
  fill(np, th0, 0.8);
  dln_observer *o;
  assert_int_equal(dln_observer_alloc(&o, net, loss, th0, DLN_OBS_ALL), DLN_OK);
  int nc = dln_observer_ncols(o);
  double *row = malloc((size_t)nc * sizeof(double));

  /* at θ(0) the drift is exactly zero */
  assert_int_equal(dln_observer_eval(o, 0.0, 0, th0, row), DLN_OK);
  assert_true(row[dln_observer_col(o, "drift_C1")] == 0.0);

  memcpy(th, th0, np * sizeof(double));
  for (size_t i = 0; i < np; i += 3) th[i] += 0.3 * urand();
  assert_int_equal(dln_observer_eval(o, 2.25, 41, th, row), DLN_OK);
  assert_true(row[0] == 2.25);
  assert_true(row[1] == 41.0);

  const double *W1 = th + net->offset[1], *W2 = th + net->offset[2], *Y = loss->wstar;
  double W[6], G[6], g1[12], g2[8];
  tu_mm(0, 0, 2, 3, 4, W2, W1, W);
  double lv = 0, ny = tu_fro(6, Y);
  for (int i = 0; i < 6; ++i) {
    G[i] = W[i] - Y[i];
    lv += 0.5 * G[i] * G[i];
  }
  tu_mm(0, 1, 2, 4, 3, G, W1, g2); /* ∂φ/∂W_2 = G W_1^T */
  tu_mm(1, 0, 4, 3, 2, W2, G, g1); /* ∂φ/∂W_1 = W_2^T G */
  double gn = sqrt(tu_fro(12, g1) * tu_fro(12, g1) + tu_fro(8, g2) * tu_fro(8, g2));
  assert_close(row[dln_observer_col(o, "loss")], lv, 1e-13, 1e-15);
  assert_close(row[dln_observer_col(o, "loss_gap")], lv - 0.0, 1e-13, 1e-15);
  assert_close(row[dln_observer_col(o, "grad_norm")], gn, 1e-13, 1e-15);
  double *gv = malloc(np * sizeof(double));
  assert_int_equal(dln_net_grad(net, loss, th, NULL, gv, NULL), DLN_OK);
  assert_close(row[dln_observer_col(o, "grad_norm")], tu_fro(np, gv), 1e-14, 0);
  assert_close(row[dln_observer_col(o, "recon_err")], tu_fro(6, G) / ny, 1e-13, 1e-15);
  assert_close(row[dln_observer_col(o, "dist_ref")], tu_fro(6, G), 1e-13, 1e-15);

  /* conserved quantities */
  double C[16], C0[16], D[16];
  tu_conserved(net, th, 1, -1, C);
  tu_conserved(net, th0, 1, -1, C0);
  for (int i = 0; i < 16; ++i) D[i] = C[i] - C0[i];
  assert_close(row[dln_observer_col(o, "unbalancedness")], tu_fro(16, C), 1e-13, 1e-15);
  assert_close(row[dln_observer_col(o, "unbalancedness")], dln_net_unbalancedness(net, th), 1e-14, 0);
  assert_close(row[dln_observer_col(o, "drift_C1")], tu_fro(16, D) / fmax(1.0, tu_fro(16, C0)), 1e-12, 1e-15);

  /* eigC: descending, Σλ = tr C_1, Σλ² = ‖C_1‖_F² */
  int e0 = dln_observer_col(o, "eigC_1");
  double tr = 0, s1 = 0, s2 = 0;
  for (int i = 0; i < 4; ++i) {
    tr += C[i + 4 * i];
    s1 += row[e0 + i];
    s2 += row[e0 + i] * row[e0 + i];
    if (i) assert_true(row[e0 + i - 1] >= row[e0 + i]);
  }
  assert_close(s1, tr, 1e-12, 1e-13);
  assert_close(s2, tu_fro(16, C) * tu_fro(16, C), 1e-12, 1e-13);

  free(gv);
  free(row);
  free(th);
  free(th0);
  dln_observer_free(o);
  dln_loss_free(loss);
  dln_net_free(net);
}

/* Depth 3 regression with known L* and W*: loss_gap, dist_ref, both drifts. */
static void test_values_depth3_regression(void **state) {
  (void)state;
  int w[] = {2, 5, 4, 3};
  dln_net *net;
  assert_int_equal(dln_net_alloc(&net, 3, w, 0), DLN_OK);
  regr r = regression(3, 2);
  assert_close(r.loss->lstar, r.lstar, 1e-12, 1e-14);
  size_t np = net->nparams;
  double *th0 = malloc(np * sizeof(double)), *th = malloc(np * sizeof(double));
  fill(np, th0, 0.7);
  dln_observer *o;
  assert_int_equal(dln_observer_alloc(&o, net, r.loss, th0, DLN_OBS_ALL), DLN_OK);
  int nc = dln_observer_ncols(o);
  double *row = malloc((size_t)nc * sizeof(double));
  assert_int_equal(dln_observer_eval(o, 0.0, 0, th0, row), DLN_OK);
  assert_true(row[dln_observer_col(o, "drift_C1")] == 0.0);
  assert_true(row[dln_observer_col(o, "drift_C2")] == 0.0);

  memcpy(th, th0, np * sizeof(double));
  /* change only W_3: C_1 keeps its value, C_2 moves */
  for (size_t i = net->offset[3]; i < np; ++i) th[i] *= 1.5;
  assert_int_equal(dln_observer_eval(o, 1.0, 1, th, row), DLN_OK);

  double W[6], R[9];
  product(net, th, W);
  tu_mm(0, 0, 3, 3, 2, W, r.X, R);
  double lv = 0;
  for (int i = 0; i < 9; ++i) lv += 0.5 * (R[i] - r.Y[i]) * (R[i] - r.Y[i]);
  double dW[6];
  for (int i = 0; i < 6; ++i) dW[i] = W[i] - r.A[i];
  assert_close(row[dln_observer_col(o, "loss")], lv, 1e-13, 1e-15);
  assert_close(row[dln_observer_col(o, "loss_gap")], lv - r.lstar, 1e-12, 1e-13);
  assert_close(row[dln_observer_col(o, "dist_ref")], tu_fro(6, dW), 1e-10, 1e-12);

  double C1[25], C10[25], C2[16], C20[16], D2[16];
  tu_conserved(net, th, 1, -1, C1);
  tu_conserved(net, th0, 1, -1, C10);
  tu_conserved(net, th, 2, -1, C2);
  tu_conserved(net, th0, 2, -1, C20);
  for (int i = 0; i < 16; ++i) D2[i] = C2[i] - C20[i];
  assert_close(tu_maxdiff(25, C1, C10), 0.0, 0, 0); /* the hand computation agrees C_1 did not move */
  assert_true(row[dln_observer_col(o, "drift_C1")] == 0.0);
  assert_close(row[dln_observer_col(o, "drift_C2")], tu_fro(16, D2) / fmax(1.0, tu_fro(16, C20)), 1e-12, 1e-15);
  double ub = fmax(tu_fro(25, C1), tu_fro(16, C2));
  assert_close(row[dln_observer_col(o, "unbalancedness")], ub, 1e-13, 1e-15);

  /* depth 1: grad_norm = ‖(WX − Y)X^T‖ by loops */
  free(row);
  free(th);
  free(th0);
  dln_observer_free(o);
  dln_net_free(net);
  int w1[] = {2, 3};
  assert_int_equal(dln_net_alloc(&net, 1, w1, 0), DLN_OK);
  th = malloc(6 * sizeof(double));
  fill(6, th, 1.0);
  assert_int_equal(dln_observer_alloc(&o, net, r.loss, th, DLN_OBS_LOSS | DLN_OBS_GRADNORM), DLN_OK);
  double row1[5];
  assert_int_equal(dln_observer_eval(o, 0, 0, th, row1), DLN_OK);
  tu_mm(0, 0, 3, 3, 2, th, r.X, R);
  for (int i = 0; i < 9; ++i) R[i] -= r.Y[i];
  double g[6];
  tu_mm(0, 1, 3, 2, 3, R, r.X, g);
  assert_close(row1[4], tu_fro(6, g), 1e-13, 1e-15);
  assert_close(row1[2], 0.5 * tu_fro(9, R) * tu_fro(9, R), 1e-13, 1e-15);
  free(th);
  dln_observer_free(o);
  dln_net_free(net);
  regr_free(&r);
}

/* Two-layer spectral example: W_1 = diag(b) (4x3), W_2 = diag(a) (2x4) give
 * W = diag(a_i b_i) and C_1 = diag(a_i² − b_i²) with a, b padded by zeros. */
static void test_spectral_sv_eigC(void **state) {
  (void)state;
  int w[] = {3, 4, 2};
  dln_net *net;
  assert_int_equal(dln_net_alloc(&net, 2, w, 0), DLN_OK);
  dln_loss *loss = factorization(2, 3, 1.0);
  double *th = calloc(net->nparams, sizeof(double));
  double a[] = {1.5, -0.7}, b[] = {0.5, 2.0, 1.2};
  double *W1 = th + net->offset[1], *W2 = th + net->offset[2];
  for (int i = 0; i < 3; ++i) W1[i + 4 * i] = b[i];
  for (int i = 0; i < 2; ++i) W2[i + 2 * i] = a[i];
  dln_observer *o;
  assert_int_equal(dln_observer_alloc(&o, net, loss, th, DLN_OBS_SV | DLN_OBS_IMBALANCE), DLN_OK);
  double row[8];
  assert_int_equal(dln_observer_eval(o, 0, 0, th, row), DLN_OK);
  /* |a_i b_i| = 0.75, 1.4 → descending */
  assert_close(row[2], 1.4, 1e-14, 0);
  assert_close(row[3], 0.75, 1e-14, 0);
  /* a_i² − b_i² padded: 2.25−0.25 = 2, 0.49−4 = −3.51, 0−1.44, 0 → descending */
  double ev[] = {2.0, 0.0, -1.44, -3.51};
  for (int i = 0; i < 4; ++i) assert_close(row[4 + i], ev[i], 1e-14, 1e-15);
  dln_observer_free(o);
  dln_loss_free(loss);
  dln_net_free(net);
  free(th);
}

/* Hidden width 70 > 64: 64 eigC columns, the 32 largest then the 32 smallest. */
static void test_eigC_wide(void **state) {
  (void)state;
  int w[] = {2, 70, 3};
  dln_net *net;
  assert_int_equal(dln_net_alloc(&net, 2, w, 0), DLN_OK);
  dln_loss *loss = factorization(3, 2, 1.0);
  double *th = calloc(net->nparams, sizeof(double));
  double *W1 = th + net->offset[1], *W2 = th + net->offset[2];
  /* W_1 columns b_0 e_0, b_1 e_5; W_2 rows a_i e_i^T → C_1 diagonal:
   * 9−0.25 = 8.75 (0), 4 (1), 1 (2), −2.25 (5), 0 elsewhere */
  W1[0 + 70 * 0] = 0.5;
  W1[5 + 70 * 1] = 1.5;
  double a[] = {3, 2, 1};
  for (int i = 0; i < 3; ++i) W2[i + 3 * i] = a[i];
  dln_observer *o;
  assert_int_equal(dln_observer_alloc(&o, net, loss, th, DLN_OBS_IMBALANCE | DLN_OBS_CONSERVED), DLN_OK);
  assert_int_equal(dln_observer_ncols(o), 2 + 2 + 64);
  assert_int_equal(dln_observer_col(o, "eigC_64"), 67);
  assert_int_equal(dln_observer_col(o, "eigC_65"), -1);
  double row[68];
  assert_int_equal(dln_observer_eval(o, 0, 0, th, row), DLN_OK);
  const double *e = row + 4;
  double expect[64] = {0};
  expect[0] = 8.75;
  expect[1] = 4.0;
  expect[2] = 1.0;
  expect[63] = -2.25;
  for (int i = 0; i < 64; ++i) assert_close(e[i], expect[i], 1e-13, 1e-13);
  for (int i = 1; i < 64; ++i) assert_true(e[i - 1] >= e[i] - 1e-13);
  double C[4900];
  tu_conserved(net, th, 1, -1, C);
  assert_close(row[2], tu_fro(4900, C), 1e-14, 0);
  dln_observer_free(o);
  dln_loss_free(loss);
  dln_net_free(net);
  free(th);
}

/* Singular values of a non-diagonal W against the spectral identity Σσ² = ‖W‖_F², and
 * NaN propagation for non-finite weights (row filled, no LAPACK error). */
static void test_sv_general_and_nonfinite(void **state) {
  (void)state;
  int w[] = {5, 6, 4};
  dln_net *net;
  assert_int_equal(dln_net_alloc(&net, 2, w, 0), DLN_OK);
  dln_loss *loss = factorization(4, 5, 1.0);
  double *th = malloc(net->nparams * sizeof(double));
  fill(net->nparams, th, 1.0);
  dln_observer *o;
  assert_int_equal(dln_observer_alloc(&o, net, loss, th, DLN_OBS_ALL), DLN_OK);
  int nc = dln_observer_ncols(o);
  double *row = malloc((size_t)nc * sizeof(double));
  assert_int_equal(dln_observer_eval(o, 0, 0, th, row), DLN_OK);
  double W[20];
  product(net, th, W);
  int s0 = dln_observer_col(o, "sv_1");
  assert_int_equal(dln_observer_col(o, "sv_4"), s0 + 3);
  assert_int_equal(dln_observer_col(o, "sv_5"), -1);
  double s2 = 0;
  for (int i = 0; i < 4; ++i) {
    s2 += row[s0 + i] * row[s0 + i];
    if (i) assert_true(row[s0 + i - 1] >= row[s0 + i]);
    assert_true(row[s0 + i] >= 0);
  }
  assert_close(s2, tu_fro(20, W) * tu_fro(20, W), 1e-12, 1e-14);
  th[3] = NAN;
  assert_int_equal(dln_observer_eval(o, 1, 1, th, row), DLN_OK);
  assert_true(isnan(row[dln_observer_col(o, "loss")]));
  assert_true(isnan(row[s0]));
  assert_true(isnan(row[dln_observer_col(o, "eigC_1")]));
  assert_true(isnan(row[dln_observer_col(o, "unbalancedness")]));
  free(row);
  free(th);
  dln_observer_free(o);
  dln_loss_free(loss);
  dln_net_free(net);
}

/* dln_observer_eval does not allocate (counted through the interposed malloc). */
static void test_eval_no_alloc(void **state) {
  (void)state;
  if (!DLN_HAVE_ALLOC_COUNTER) skip();
  /* the counter sees allocations made inside shared libraries: LAPACKE's high-level
   * dgesdd wrapper (used by dln_singular_values) mallocs its work arrays */
  {
    double a[6] = {1, 2, 3, 4, 5, 7}, s[2], wk[6];
    dln_alloc_count_begin();
    int st = dln_singular_values(2, 3, a, s, wk);
    long nallocs = dln_alloc_count_end(NULL);
    assert_int_equal(st, DLN_OK);
    assert_true(nallocs > 0);
  }
  int w[] = {3, 70, 5, 4};
  int w2[] = {4, 6, 3};
  for (int pass = 0; pass < 2; ++pass) {
    dln_net *net;
    assert_int_equal(pass ? dln_net_alloc(&net, 2, w2, 0) : dln_net_alloc(&net, 3, w, 0), DLN_OK);
    regr r = regression(dln_net_rows(net), dln_net_cols(net));
    double *th = malloc(net->nparams * sizeof(double));
    fill(net->nparams, th, 0.5);
    dln_observer *o;
    assert_int_equal(dln_observer_alloc(&o, net, r.loss, th, DLN_OBS_ALL), DLN_OK);
    double *row = malloc((size_t)dln_observer_ncols(o) * sizeof(double));
    assert_int_equal(dln_observer_eval(o, 0, 0, th, row), DLN_OK); /* warm-up (BLAS buffers) */
    dln_alloc_count_begin();
    int st = dln_observer_eval(o, 1, 1, th, row);
    st |= dln_observer_eval(o, 2, 2, th, row);
    long nallocs = dln_alloc_count_end(NULL);
    assert_int_equal(st, DLN_OK);
    assert_int_equal(nallocs, 0);
    free(row);
    free(th);
    dln_observer_free(o);
    regr_free(&r);
    dln_net_free(net);
  }
}

/* ------------------------------------------------------------------ table */

static void test_table(void **state) {
  (void)state;
  char n0[] = "alpha";
  const char *names[] = {n0, "beta", "gamma"};
  dln_table *t;
  assert_int_equal(dln_table_alloc(&t, 3, names, 4), DLN_OK);
  n0[0] = 'X'; /* names were copied */
  assert_string_equal(t->names[0], "alpha");
  assert_int_equal(dln_table_col(t, "alpha"), 0);
  assert_int_equal(dln_table_col(t, "gamma"), 2);
  assert_int_equal(dln_table_col(t, "Xlpha"), -1);
  assert_null(dln_table_row(t, 0));
  for (int i = 0; i < 4; ++i) {
    double r[3] = {i, 10.0 * i, -1.0 * i};
    assert_int_equal(dln_table_append(t, r), DLN_OK);
  }
  double r[3] = {9, 9, 9};
  assert_int_equal(dln_table_append(t, r), DLN_ENOMEM);
  assert_int_equal(dln_table_append(t, r), DLN_ENOMEM);
  assert_int_equal(t->nrows, 4);
  double *r2 = dln_table_row(t, 2);
  assert_non_null(r2);
  assert_true(r2[0] == 2.0 && r2[1] == 20.0 && r2[2] == -2.0);
  assert_null(dln_table_row(t, 4));
  dln_table_free(t);

  /* bad arguments */
  const char *bad[] = {"a", "b,c"};
  assert_int_equal(dln_table_alloc(&t, 2, bad, 1), DLN_EINVAL);
  assert_null(t);
  assert_int_equal(dln_table_alloc(&t, 0, names, 1), DLN_EINVAL);
  /* zero capacity: always full */
  assert_int_equal(dln_table_alloc(&t, 1, names, 0), DLN_OK);
  assert_int_equal(dln_table_append(t, r), DLN_ENOMEM);
  dln_table_free(t);
  dln_table_free(NULL);
}

static void test_table_csv_roundtrip(void **state) {
  (void)state;
  const char *dir = tu_tmpdir(0);
  assert_non_null(dir);
  char path[256];
  snprintf(path, sizeof path, "%s/traj.csv", dir);
  const char *names[] = {"t", "step", "loss", "x"};
  dln_table *t;
  assert_int_equal(dln_table_alloc(&t, 4, names, 16), DLN_OK);
  double special[] = {0.1, 1.0 / 3.0, -0.0, 1e-300, DBL_MAX, 4.9406564584124654e-324, -2.5e17, 3.141592653589793,
                      DBL_MIN, 1.0 + DBL_EPSILON, -7.0, 123456789.123456789};
  size_t ns = sizeof special / sizeof special[0];
  for (size_t i = 0; i < 12; ++i) {
    double r[4] = {special[i % ns], (double)i, special[(i + 5) % ns] * 3.7, urand() * pow(10.0, (double)(i % 9) - 4)};
    assert_int_equal(dln_table_append(t, r), DLN_OK);
  }
  assert_int_equal(dln_table_write_csv(t, path), DLN_OK);

  /* header line */
  FILE *fp = fopen(path, "r");
  assert_non_null(fp);
  char line[256];
  assert_non_null(fgets(line, sizeof line, fp));
  assert_string_equal(line, "t,step,loss,x\n");
  fclose(fp);
  /* no temporary left behind */
  DIR *dd = opendir(dir);
  assert_non_null(dd);
  struct dirent *de;
  int nfiles = 0;
  while ((de = readdir(dd)))
    if (de->d_name[0] != '.') ++nfiles;
  closedir(dd);
  assert_int_equal(nfiles, 1);

  dln_mat *m = NULL;
  assert_int_equal(dln_csv_read(path, &m), DLN_OK);
  assert_int_equal(m->rows, 12);
  assert_int_equal(m->cols, 4);
  for (size_t i = 0; i < 12; ++i)
    for (int j = 0; j < 4; ++j) {
      double got = m->data[i + (size_t)j * 12], want = dln_table_row(t, i)[j];
      assert_memory_equal(&got, &want, sizeof(double)); /* bit-exact, including -0.0 */
    }
  dln_mat_free(m);

  /* observer rows through the table, with a NaN loss_gap column */
  int w[] = {2, 3, 2};
  dln_net *net;
  assert_int_equal(dln_net_alloc(&net, 2, w, 0), DLN_OK);
  regr r = regression(2, 2);
  r.loss->lstar = NAN; /* pretend L* is unknown */
  double *th = malloc(net->nparams * sizeof(double));
  fill(net->nparams, th, 1.0);
  dln_observer *o;
  assert_int_equal(dln_observer_alloc(&o, net, r.loss, th, DLN_OBS_ALL), DLN_OK);
  int nc = dln_observer_ncols(o);
  const char **on = malloc((size_t)nc * sizeof *on);
  for (int i = 0; i < nc; ++i) on[i] = dln_observer_colname(o, i);
  dln_table *t2;
  assert_int_equal(dln_table_alloc(&t2, nc, on, 3), DLN_OK);
  double *row = malloc((size_t)nc * sizeof(double));
  for (int s = 0; s < 3; ++s) {
    for (size_t i = 0; i < net->nparams; ++i) th[i] *= 0.9;
    assert_int_equal(dln_observer_eval(o, 0.1 * s, s, th, row), DLN_OK);
    assert_true(isnan(row[dln_observer_col(o, "loss_gap")]));
    assert_int_equal(dln_table_append(t2, row), DLN_OK);
  }
  assert_int_equal(dln_table_append(t2, row), DLN_ENOMEM);
  assert_int_equal(dln_table_col(t2, "eigC_3"), dln_observer_col(o, "eigC_3"));
  snprintf(path, sizeof path, "%s/obs.csv", dir);
  assert_int_equal(dln_table_write_csv(t2, path), DLN_OK);
  assert_int_equal(dln_csv_read(path, &m), DLN_OK);
  assert_int_equal(m->rows, 3);
  assert_int_equal(m->cols, nc);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < nc; ++j) {
      double got = m->data[i + j * 3], want = dln_table_row(t2, (size_t)i)[j];
      if (isnan(want))
        assert_true(isnan(got));
      else
        assert_memory_equal(&got, &want, sizeof(double));
    }
  dln_mat_free(m);

  /* unwritable destination: error, nothing created */
  assert_int_not_equal(dln_table_write_csv(t2, "/nonexistent-dir-dln/obs.csv"), DLN_OK);

  free(row);
  free(on);
  free(th);
  dln_table_free(t2);
  dln_observer_free(o);
  regr_free(&r);
  dln_net_free(net);
  dln_table_free(t);
  tu_rmtree(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_columns_depth1_factorization),
      cmocka_unit_test(test_columns_depth2_factorization),
      cmocka_unit_test(test_columns_depth3_regression),
      cmocka_unit_test(test_columns_tied),
      cmocka_unit_test(test_values_depth2_factorization),
      cmocka_unit_test(test_values_depth3_regression),
      cmocka_unit_test(test_spectral_sv_eigC),
      cmocka_unit_test(test_eigC_wide),
      cmocka_unit_test(test_sv_general_and_nonfinite),
      cmocka_unit_test(test_eval_no_alloc),
      cmocka_unit_test(test_table),
      cmocka_unit_test(test_table_csv_roundtrip),
  };
  tu_seed(0x9E3779B97F4A7C15ull);
  return cmocka_run_group_tests(tests, NULL, NULL);
}
