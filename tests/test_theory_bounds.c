/* Bounds of include/dln/theory.h (src/theory/bounds.c) on trajectories of the library's
 * flow (dln_train, &dln_integrator_flow, rtol 1e-12) and gradient descent:
 *   003 Theorem 1 — holds on a random regression instance built in 003's convention
 *     (X_rows n x D, U D x h, V m x h, converted: X = X_rows^T, W_1 = U^T, W_2 = V); on the
 *     tight instance of 003 Fig. 2 / §4 (Σ_x = I, U_1(0) V(0)^T = 0, large imbalance) the
 *     fitted asymptotic rate is within 3% of 2 λ_r(Σ_x) c;
 *   004 Proposition 2 (pyramidal), 002 Theorem 2 (deficiency margin, time to ε),
 *   002 Remark 2 (gradient descent), 000 Theorem 1 (dissipation), 001 eq. 23 (component
 *   rates: fitted within 2% of √(4σ_i² + λ0_i²)).
 * Each bound: holds on random instances meeting its hypotheses; a corrupted trajectory
 * (loss scaled up, or time axis stretched) is reported as violated; a hypothesis failure
 * returns DLN_ENOTAPPLICABLE with "not applicable: <hypothesis> fails (<value>)". */
#include <float.h>
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
#include "dln/init.h"
#include "dln/loss.h"
#include "dln/mat.h"
#include "dln/net.h"
#include "dln/observe.h"
#include "dln/rng.h"
#include "dln/theory.h"
#include "dln/train.h"
#include "testutil.h"

/* A (r x c) = Qa[:, :p] diag(s) Qb[:, :p]^T with random orthogonal Qa, Qb, p = min(r, c). */
static void rand_sv(int r, int c, const double *s, double *A) {
  int p = r < c ? r : c;
  double *Qa = tu_dalloc((size_t)r * r), *Qb = tu_dalloc((size_t)c * c);
  tu_rand_orth(r, Qa), tu_rand_orth(c, Qb);
  tu_usv(r, c, p, Qa, s, Qb, A);
  free(Qa), free(Qb);
}
static void expect_na(int st, const dln_verdict *v, const char *needle) {
  tu_expect_na(st, needle);
  assert_int_equal(v->applicable, 0);
  assert_int_equal(v->holds, 0);
}
static void show(const dln_verdict *v) {
  print_message("  [%s | %s] applicable %d holds %d bound %.6g measured %.6g margin %.3g\n    hypotheses: %s\n    %s\n",
                v->result, v->source, v->applicable, v->holds, v->bound, v->measured, v->margin, v->hypotheses, v->message);
}

/* Run from θ (in/out) and return the trajectory table (columns of the observer flags). */
static dln_table *run(dln_net *net, dln_loss *loss, double *th, const dln_integrator_type *method, double t_end, double eta, int ns,
                      unsigned flags) {
  dln_observer *obs = NULL;
  assert_int_equal(dln_observer_alloc(&obs, net, loss, th, flags), DLN_OK);
  int nc = dln_observer_ncols(obs);
  const char **names = calloc((size_t)nc, sizeof *names);
  assert_non_null(names);
  for (int i = 0; i < nc; ++i) names[i] = dln_observer_colname(obs, i);
  dln_table *tab = NULL;
  assert_int_equal(dln_table_alloc(&tab, nc, names, (size_t)ns + 1), DLN_OK);
  dln_train_options o;
  dln_train_default_options(&o);
  o.method = method;
  o.t_end = t_end;
  o.eta = eta;
  o.rtol = 1e-12;
  o.atol = 1e-14;
  o.nsamples = ns;
  tu_train(net, loss, th, &o, obs, tab);
  free(names);
  dln_observer_free(obs);
  return tab;
}
/* The loss column scaled by f for t > 0 (a corrupted copy), as arrays. */
static void corrupt(const dln_table *tab, double f, double *t, double *y) {
  int ct = dln_table_col(tab, "t"), cl = dln_table_col(tab, "loss");
  for (size_t i = 0; i < tab->nrows; ++i) {
    t[i] = tab->data[i * (size_t)tab->ncols + ct];
    y[i] = tab->data[i * (size_t)tab->ncols + cl] * (i ? f : 1.0);
  }
}

/* ------------------------------------------------------------------ 003 Theorem 1 */

static void test_imbalance_random(void **state) {
  (void)state;
  enum { D = 10, NS = 4, M = 2, H = 8 };
  /* 003's convention: X_rows (n x D), U (D x h), V (m x h), loss ½‖Y_rows − X_rows U V^T‖² */
  double *Xr = tu_dalloc(NS * D), *Yr = tu_dalloc(NS * M), *U = tu_dalloc(D * H), *V = tu_dalloc(M * H);
  tu_fill_gauss(NS * D, Xr, 1.0 / sqrt(NS));
  tu_fill_gauss(NS * M, Yr, 1.0);
  tu_fill_gauss(D * H, U, 1.0);
  tu_fill_gauss(M * H, V, 0.3);
  /* to dln: X = X_rows^T (D x n), Y = Y_rows^T, W_1 = U^T (h x D), W_2 = V (m x h) */
  dln_mat *X = dln_mat_alloc(D, NS), *Y = dln_mat_alloc(M, NS);
  for (int i = 0; i < NS; ++i) {
    for (int j = 0; j < D; ++j) X->data[j + (size_t)i * D] = Xr[i + (size_t)j * NS];
    for (int j = 0; j < M; ++j) Y->data[j + (size_t)i * M] = Yr[i + (size_t)j * NS];
  }
  int w[3] = {D, H, M};
  dln_net *net = NULL;
  assert_int_equal(dln_net_alloc(&net, 2, w, 0), DLN_OK);
  double *th0 = tu_dalloc(net->nparams), *th = tu_dalloc(net->nparams);
  for (int j = 0; j < D; ++j)
    for (int i = 0; i < H; ++i) th0[net->offset[1] + i + (size_t)j * H] = U[j + (size_t)i * D];
  memcpy(th0 + net->offset[2], V, M * H * sizeof(double));
  dln_loss *loss = NULL;
  assert_int_equal(dln_loss_regression_alloc(&loss, X, Y), DLN_OK);
  double c, lr, lm, sxr;
  int r;
  assert_int_equal(dln_theory_imbalance_c(net, X, th0, &c, &lr, &lm, &sxr, &r), DLN_OK);
  assert_int_equal(r, NS);
  double t_end = 15.0 / (2 * sxr * c);
  memcpy(th, th0, net->nparams * sizeof(double));
  dln_table *tab = run(net, loss, th, &dln_integrator_flow, t_end, 0, 101, DLN_OBS_LOSS);
  dln_curve cv;
  assert_int_equal(dln_curve_from_table(&cv, tab, "loss"), DLN_OK);
  dln_verdict v;
  int st = dln_bound_imbalance_rate(net, loss, X, th0, &cv, 1e-9, &v);
  if (st) print_error("%s\n", dln_last_error());
  assert_int_equal(st, DLN_OK);
  show(&v);
  assert_true(v.applicable && v.holds);
  assert_close(v.bound, 2 * sxr * c, 1e-14, 0);
  assert_true(v.measured >= v.bound && v.margin >= 0);
  /* corrupted: losses scaled up by 100 (the flow beats the bound by far, so a small
   * factor would still pass) */
  double *t = tu_dalloc(tab->nrows), *y = tu_dalloc(tab->nrows);
  corrupt(tab, 100.0, t, y);
  dln_curve bad;
  dln_curve_arrays(&bad, tab->nrows, t, y);
  assert_int_equal(dln_bound_imbalance_rate(net, loss, X, th0, &bad, 1e-9, &v), DLN_OK);
  show(&v);
  assert_true(v.applicable && !v.holds);
  /* X = NULL: the regression loss's own design (dln_loss_design) gives the same bound */
  assert_int_equal(dln_bound_imbalance_rate(net, loss, NULL, th0, &cv, 1e-9, &v), DLN_OK);
  assert_close(v.bound, 2 * sxr * c, 1e-14, 0);
  /* hypothesis c > 0 fails at θ = 0 */
  memset(th, 0, net->nparams * sizeof(double));
  expect_na(dln_bound_imbalance_rate(net, loss, X, th, &cv, 1e-9, &v), &v, "c > 0");
  free(Xr), free(Yr), free(U), free(V), free(th0), free(th), free(t), free(y);
  dln_table_free(tab);
  dln_mat_free(X), dln_mat_free(Y);
  dln_loss_free(loss);
  dln_net_free(net);
}

static void test_imbalance_tight(void **state) {
  (void)state;
  enum { D = 8, NS = 3, M = 2, H = 6 };
  const double s = 6.0;
  /* Σ_x = I: X = Φ_1 Q^T (D x n) with Φ_1 orthonormal columns, Q orthogonal */
  double *Phi = tu_dalloc(D * D), *Q = tu_dalloc(NS * NS), *G = tu_dalloc(H * H);
  tu_rand_orth(D, Phi), tu_rand_orth(NS, Q), tu_rand_orth(H, G);
  dln_mat *X = dln_mat_alloc(D, NS), *Y = dln_mat_alloc(M, NS);
  tu_mm(0, 1, D, NS, NS, Phi, Q, X->data);
  tu_fill_gauss(M * NS, Y->data, 0.1);
  /* U_1 = A G_1^T (r x h), V = B G_2^T (m x h): row spaces orthogonal, so U_1 V^T = 0 */
  const double a[NS] = {1.0, 2.0, 2.5}, b[M] = {1.0, 2.0}; /* a spectral gap, so the slowest mode dominates the tail */
  double *A = tu_dalloc(NS * NS), *B = tu_dalloc(M * M), *U1 = tu_dalloc(NS * H), *V = tu_dalloc(M * H),
         *U = tu_dalloc(D * H);
  double as[NS], bs[M];
  for (int i = 0; i < NS; ++i) as[i] = s * a[i];
  for (int i = 0; i < M; ++i) bs[i] = s * b[i];
  rand_sv(NS, NS, as, A), rand_sv(M, M, bs, B);
  tu_mm(0, 1, NS, H, NS, A, G, U1);             /* G_1 = first r columns of G */
  tu_mm(0, 1, M, H, M, B, G + (size_t)NS * H, V); /* G_2 = next m columns */
  /* U = Φ_1 U_1 + Φ_2 U_2 with a small random U_2 */
  double *U2 = tu_dalloc((D - NS) * H);
  tu_fill_gauss((D - NS) * H, U2, 0.1);
  tu_mm(0, 0, D, H, NS, Phi, U1, U);
  double *T = tu_dalloc(D * H);
  tu_mm(0, 0, D, H, D - NS, Phi + (size_t)NS * D, U2, T);
  for (int i = 0; i < D * H; ++i) U[i] += T[i];
  int w[3] = {D, H, M};
  dln_net *net = NULL;
  assert_int_equal(dln_net_alloc(&net, 2, w, 0), DLN_OK);
  double *th0 = tu_dalloc(net->nparams), *th = tu_dalloc(net->nparams);
  for (int j = 0; j < D; ++j)
    for (int i = 0; i < H; ++i) th0[net->offset[1] + i + (size_t)j * H] = U[j + (size_t)i * D];
  memcpy(th0 + net->offset[2], V, M * H * sizeof(double));
  dln_loss *loss = NULL;
  assert_int_equal(dln_loss_regression_alloc(&loss, X, Y), DLN_OK);
  double c, lr, lm, sxr;
  int r;
  assert_int_equal(dln_theory_imbalance_c(net, X, th0, &c, &lr, &lm, &sxr, &r), DLN_OK);
  /* U_1 V^T = 0 ⇒ c = λ_r(U_1 U_1^T) + λ_m(V V^T) = s² a_min² + s² b_min² (003 §2.2) */
  assert_close(sxr, 1.0, 1e-12, 0);
  assert_close(c, s * s * (a[0] * a[0] + b[0] * b[0]), 1e-10, 0);
  double rate = 2 * c;
  memcpy(th, th0, net->nparams * sizeof(double));
  dln_table *tab = run(net, loss, th, &dln_integrator_flow, 40.0 / rate, 0, 401, DLN_OBS_LOSS);
  dln_curve cv;
  assert_int_equal(dln_curve_from_table(&cv, tab, "loss"), DLN_OK);
  dln_verdict v;
  assert_int_equal(dln_bound_imbalance_rate(net, loss, X, th0, &cv, 1e-9, &v), DLN_OK);
  show(&v);
  assert_true(v.applicable && v.holds);
  /* asymptotic rate: fit ln(L − L*) on the tail, L − L* ∈ [1e-15, 1e-7]·L(0) (L* = 0) */
  double L0 = dln_table_row(tab, 0)[dln_table_col(tab, "loss")], fit;
  int np;
  assert_close(loss->lstar, 0.0, 0, 1e-20);
  assert_int_equal(dln_fit_rate(&cv, 1e-15 * L0, 1e-7 * L0, &fit, &np), DLN_OK);
  print_message("003 tight instance: bound rate 2 lambda_r c = %.6g, fitted asymptotic rate %.6g (%d samples), ratio %.4f\n",
                rate, fit, np, fit / rate);
  assert_true(np >= 20);
  assert_true(fit >= rate * (1 - 1e-4)); /* the bound holds asymptotically (fit noise ~1e-5) */
  assert_true(fit <= rate * 1.03);       /* and is tight to within 3% */
  free(Phi), free(Q), free(G), free(A), free(B), free(U1), free(V), free(U), free(U2), free(T), free(th0), free(th);
  dln_table_free(tab);
  dln_mat_free(X), dln_mat_free(Y);
  dln_loss_free(loss);
  dln_net_free(net);
}

/* ------------------------------------------------------------------ 004 Proposition 2 */

static void test_pyramidal(void **state) {
  (void)state;
  int w[4] = {4, 5, 4, 3};
  dln_net *net = NULL;
  assert_int_equal(dln_net_alloc(&net, 3, w, 0), DLN_OK);
  double *th0 = tu_dalloc(net->nparams), *th = tu_dalloc(net->nparams), *Y = tu_dalloc(12);
  /* Remark 4: λ_min(W_{l+1} W_{l+1}^T) > λ_max(W_l W_l^T) makes C_l have d_{l+1} positive eigenvalues */
  const double s1[4] = {0.3, 0.33, 0.36, 0.4}, s2[4] = {1.0, 1.1, 1.2, 1.3}, s3[3] = {1.6, 1.7, 1.8};
  rand_sv(5, 4, s1, th0 + net->offset[1]);
  rand_sv(4, 5, s2, th0 + net->offset[2]);
  rand_sv(3, 4, s3, th0 + net->offset[3]);
  tu_fill_gauss(12, Y, 1.0);
  dln_loss *loss = tu_fact_loss(3, 4, Y);
  memcpy(th, th0, net->nparams * sizeof(double));
  dln_table *tab = run(net, loss, th, &dln_integrator_flow, 6.0, 0, 121, DLN_OBS_LOSS);
  dln_curve cv;
  assert_int_equal(dln_curve_from_table(&cv, tab, "loss"), DLN_OK);
  dln_verdict v;
  int st = dln_bound_pyramidal(net, loss, th0, &cv, 1e-9, &v);
  if (st) print_error("%s\n", dln_last_error());
  assert_int_equal(st, DLN_OK);
  show(&v);
  assert_true(v.applicable && v.holds && v.bound > 0.5);
  double *t = tu_dalloc(tab->nrows), *y = tu_dalloc(tab->nrows);
  corrupt(tab, 3.0, t, y);
  dln_curve bad;
  dln_curve_arrays(&bad, tab->nrows, t, y);
  assert_int_equal(dln_bound_pyramidal(net, loss, th0, &bad, 1e-9, &v), DLN_OK);
  show(&v);
  assert_true(v.applicable && !v.holds);
  /* hypotheses: C_l positive eigenvalues (W_3 small), pyramidal widths */
  memcpy(th, th0, net->nparams * sizeof(double));
  for (int i = 0; i < 12; ++i) th[net->offset[3] + i] *= 0.1;
  expect_na(dln_bound_pyramidal(net, loss, th, &cv, 1e-9, &v), &v, "positive eigenvalues");
  int w2[4] = {4, 3, 4, 3};
  dln_net *net2 = NULL;
  assert_int_equal(dln_net_alloc(&net2, 3, w2, 0), DLN_OK);
  double *th2 = tu_dalloc(net2->nparams);
  expect_na(dln_bound_pyramidal(net2, loss, th2, &cv, 1e-9, &v), &v, "pyramidal");
  free(th0), free(th), free(Y), free(t), free(y), free(th2);
  dln_table_free(tab);
  dln_loss_free(loss);
  dln_net_free(net), dln_net_free(net2);
}

/* ------------------------------------------------------------------ 002 Theorem 2 */

static void check_deficiency(int N) {
  const int d = 3, h = 4;
  int w[5] = {d, h, h, h, d};
  w[N] = d;
  dln_net *net = NULL;
  assert_int_equal(dln_net_alloc(&net, N, w, 0), DLN_OK);
  const double sy[3] = {1.5, 1.2, 1.0};
  double *Y = tu_dalloc(9), *P = tu_dalloc(9), *th0 = tu_dalloc(net->nparams), *th = tu_dalloc(net->nparams);
  rand_sv(d, d, sy, Y);
  tu_fill_gauss(9, P, 1.0);
  double pn = sqrt(P[0] * P[0] + P[1] * P[1] + P[2] * P[2] + P[3] * P[3] + P[4] * P[4] + P[5] * P[5] + P[6] * P[6] +
                   P[7] * P[7] + P[8] * P[8]);
  dln_mat *W0 = dln_mat_alloc(d, d);
  for (int i = 0; i < 9; ++i) W0->data[i] = Y[i] + 0.4 * P[i] / pn; /* ‖W0 − Ȳ‖ = 0.4, δ = 0.6 */
  dln_loss *loss = tu_fact_loss(d, d, Y);
  dln_rng *rng = dln_rng_alloc(11, (uint64_t)N);
  assert_int_equal(dln_init_balanced(net, th0, W0, rng), DLN_OK);
  double delta;
  assert_int_equal(dln_theory_deficiency_margin(loss, W0->data, &delta), DLN_OK);
  assert_close(delta, 0.6, 1e-12, 0);
  memcpy(th, th0, net->nparams * sizeof(double));
  dln_table *tab = run(net, loss, th, &dln_integrator_flow, 12.0, 0, 121, DLN_OBS_LOSS);
  dln_curve cv;
  assert_int_equal(dln_curve_from_table(&cv, tab, "loss"), DLN_OK);
  double L0 = dln_table_row(tab, 0)[dln_table_col(tab, "loss")];
  dln_verdict v;
  int st = dln_bound_deficiency(net, loss, th0, &cv, 1e-6 * L0, 1e-9, &v);
  if (st) print_error("%s\n", dln_last_error());
  assert_int_equal(st, DLN_OK);
  show(&v);
  assert_true(v.applicable && v.holds);
  assert_close(v.bound, 2 * pow(0.6, 2.0 * (N - 1) / N), 1e-12, 0);
  double *t = tu_dalloc(tab->nrows), *y = tu_dalloc(tab->nrows);
  corrupt(tab, 50.0, t, y);
  dln_curve bad;
  dln_curve_arrays(&bad, tab->nrows, t, y);
  assert_int_equal(dln_bound_deficiency(net, loss, th0, &bad, 1e-6 * L0, 1e-9, &v), DLN_OK);
  show(&v);
  assert_true(v.applicable && !v.holds);
  /* hypotheses: margin (W0 far from Ȳ), balancedness */
  for (int i = 0; i < 9; ++i) W0->data[i] = Y[i] + 1.5 * P[i] / pn;
  assert_int_equal(dln_init_balanced(net, th, W0, rng), DLN_OK);
  expect_na(dln_bound_deficiency(net, loss, th, &cv, 0, 1e-9, &v), &v, "deficiency margin");
  memcpy(th, th0, net->nparams * sizeof(double));
  th[net->offset[1]] += 0.05;
  expect_na(dln_bound_deficiency(net, loss, th, &cv, 0, 1e-9, &v), &v, "balanced");
  dln_rng_free(rng);
  dln_mat_free(W0);
  free(Y), free(P), free(th0), free(th), free(t), free(y);
  dln_table_free(tab);
  dln_loss_free(loss);
  dln_net_free(net);
}
static void test_deficiency_n2(void **state) {
  (void)state;
  check_deficiency(2);
}
static void test_deficiency_n3(void **state) {
  (void)state;
  check_deficiency(3);
}

/* ------------------------------------------------------------------ 002 Remark 2 */

static void test_gd_remark2(void **state) {
  (void)state;
  const int d = 2, h = 2;
  int w[3] = {d, h, d};
  dln_net *net = NULL;
  assert_int_equal(dln_net_alloc(&net, 2, w, 0), DLN_OK);
  double Y[4] = {1.0, 0.0, 0.0, 0.8};
  dln_loss *loss = tu_fact_loss(d, d, Y);
  dln_mat *W0 = dln_mat_alloc(d, d);
  const double pert[4] = {0.03, -0.02, 0.01, 0.04};
  for (int i = 0; i < 4; ++i) W0->data[i] = Y[i] + pert[i];
  double *th0 = tu_dalloc(net->nparams), *th = tu_dalloc(net->nparams), delta;
  assert_int_equal(dln_init_balanced(net, th0, W0, NULL), DLN_OK);
  assert_int_equal(dln_theory_deficiency_margin(loss, W0->data, &delta), DLN_OK);
  double ny = sqrt(1.0 + 0.64), eta = 0.9 * pow(delta, 3.0) / (6144 * 8 * ny * ny * ny * ny);
  print_message("002 Remark 2: delta = %.4g, eta = %.3g (%.0f steps to t = 1)\n", delta, eta, 1.0 / eta);
  memcpy(th, th0, net->nparams * sizeof(double));
  dln_table *tab = run(net, loss, th, &dln_integrator_gd, 1.0, eta, 51, DLN_OBS_LOSS);
  dln_curve cv;
  assert_int_equal(dln_curve_from_table(&cv, tab, "loss"), DLN_OK);
  dln_verdict v;
  int st = dln_bound_gd_remark2(net, loss, th0, eta, &cv, 1e-9, &v);
  if (st) print_error("%s\n", dln_last_error());
  assert_int_equal(st, DLN_OK);
  show(&v);
  assert_true(v.applicable && v.holds);
  double *t = tu_dalloc(tab->nrows), *y = tu_dalloc(tab->nrows);
  corrupt(tab, 3.0, t, y);
  dln_curve bad;
  dln_curve_arrays(&bad, tab->nrows, t, y);
  assert_int_equal(dln_bound_gd_remark2(net, loss, th0, eta, &bad, 1e-9, &v), DLN_OK);
  show(&v);
  assert_true(v.applicable && !v.holds);
  expect_na(dln_bound_gd_remark2(net, loss, th0, 1e-3, &cv, 1e-9, &v), &v, "step-size");
  memcpy(th, th0, net->nparams * sizeof(double));
  th[net->offset[1]] *= 1.05;
  expect_na(dln_bound_gd_remark2(net, loss, th, eta, &cv, 1e-9, &v), &v, "unbalancedness");
  free(th0), free(th), free(t), free(y);
  dln_mat_free(W0);
  dln_table_free(tab);
  dln_loss_free(loss);
  dln_net_free(net);
}

/* ------------------------------------------------------------------ 000 Theorem 1 */

static void test_dissipation(void **state) {
  (void)state;
  int w[3] = {3, 5, 2};
  dln_net *net = NULL;
  assert_int_equal(dln_net_alloc(&net, 2, w, 0), DLN_OK);
  double *Y = tu_dalloc(6), *th = tu_dalloc(net->nparams), *th2 = tu_dalloc(net->nparams);
  tu_fill_gauss(6, Y, 1.0);
  tu_fill_gauss(net->nparams, th, 0.8);
  dln_loss *loss = tu_fact_loss(2, 3, Y);
  dln_verdict v;
  double worst = INFINITY;
  for (int k = 0; k < 5; ++k) {
    int st = dln_bound_dissipation(net, loss, th, NULL, 1e-12, &v);
    if (st) print_error("%s\n", dln_last_error());
    assert_int_equal(st, DLN_OK);
    if (k == 0) show(&v);
    assert_true(v.applicable && v.holds);
    worst = fmin(worst, v.margin);
    /* measured dL/dt: second-order forward difference of the flow's loss at h and 2h */
    const double hh = 1e-4;
    double Lp, Lm;
    memcpy(th2, th, net->nparams * sizeof(double));
    dln_table_free(run(net, loss, th2, &dln_integrator_flow, hh, 0, 2, DLN_OBS_LOSS));
    assert_int_equal(dln_net_grad(net, loss, th2, &Lp, NULL, NULL), DLN_OK);
    memcpy(th2, th, net->nparams * sizeof(double));
    dln_table_free(run(net, loss, th2, &dln_integrator_flow, 2 * hh, 0, 2, DLN_OBS_LOSS));
    assert_int_equal(dln_net_grad(net, loss, th2, &Lm, NULL, NULL), DLN_OK);
    double L;
    assert_int_equal(dln_net_grad(net, loss, th, &L, NULL, NULL), DLN_OK);
    double ld = (-3 * L + 4 * Lp - Lm) / (2 * hh); /* second-order forward difference */
    assert_int_equal(dln_bound_dissipation(net, loss, th, &ld, 1e-6, &v), DLN_OK);
    assert_true(v.applicable && v.holds);
    /* corrupted measurement: the sign of dL/dt flipped */
    double up = -ld;
    assert_int_equal(dln_bound_dissipation(net, loss, th, &up, 1e-6, &v), DLN_OK);
    assert_true(v.applicable && !v.holds);
    dln_table_free(run(net, loss, th, &dln_integrator_flow, 0.5, 0, 2, DLN_OBS_LOSS));
  }
  print_message("000 Theorem 1: smallest margin (bound - dL/dt) over 5 states %.4g\n", worst);
  int w2[3] = {3, 2, 2};
  dln_net *net2 = NULL;
  assert_int_equal(dln_net_alloc(&net2, 2, w2, 0), DLN_OK);
  double *t2 = tu_dalloc(net2->nparams);
  expect_na(dln_bound_dissipation(net2, loss, t2, NULL, 1e-12, &v), &v, "k >= n, m");
  free(Y), free(th), free(th2), free(t2);
  dln_loss_free(loss);
  dln_net_free(net), dln_net_free(net2);
}

/* ------------------------------------------------------------------ 001 eq. 23 */

static void test_component_rates(void **state) {
  (void)state;
  const int m = 3, n = 4, k = 5;
  int w[3] = {n, k, m};
  dln_net *net = NULL;
  assert_int_equal(dln_net_alloc(&net, 2, w, 0), DLN_OK);
  const double sig[3] = {2.0, 1.0, 0.5}, ub[3] = {0.9, 0.3, 1.2}, vb[3] = {0.2, 0.8, 0.75};
  double *Phi = tu_dalloc(9), *Psi = tu_dalloc(16), *Y = tu_dalloc(12);
  tu_rand_orth(m, Phi), tu_rand_orth(n, Psi);
  tu_usv(m, n, 3, Phi, sig, Psi, Y);
  dln_loss *loss = tu_fact_loss(m, n, Y);
  dln_mat *Ym = dln_mat_from(m, n, Y);
  double *th0 = tu_dalloc(net->nparams), *th = tu_dalloc(net->nparams);
  dln_rng *rng = dln_rng_alloc(3, 1);
  assert_int_equal(dln_init_spectral_asymmetric(net, th0, Ym, ub, vb, rng), DLN_OK);
  dln_cf *cf = NULL;
  assert_int_equal(dln_cf_spectral_asym_alloc(&cf, net, loss, th0, 0), DLN_OK);
  memcpy(th, th0, net->nparams * sizeof(double));
  dln_table *tab = run(net, loss, th, &dln_integrator_flow, 22.0, 0, 441, DLN_OBS_LOSS | DLN_OBS_SV);
  double pred[3], fit[3];
  dln_verdict v;
  int st = dln_bound_component_rates(cf, tab, 1e-10, 1e-4, 0.02, pred, fit, &v);
  if (st) print_error("%s\n", dln_last_error());
  assert_int_equal(st, DLN_OK);
  show(&v);
  for (int i = 0; i < 3; ++i) print_message("  component %d: predicted %.6g, fitted %.6g\n", i + 1, pred[i], fit[i]);
  assert_true(v.applicable && v.holds);
  for (int i = 0; i < 3; ++i) assert_true(fabs(fit[i] / pred[i] - 1) <= 0.02);
  /* corrupted: the time axis stretched by 20% (rates appear 1/1.2 as fast) */
  int ct = dln_table_col(tab, "t");
  for (size_t i = 0; i < tab->nrows; ++i) tab->data[i * (size_t)tab->ncols + ct] *= 1.2;
  assert_int_equal(dln_bound_component_rates(cf, tab, 1e-10, 1e-4, 0.02, pred, fit, &v), DLN_OK);
  show(&v);
  assert_true(v.applicable && !v.holds);
  dln_cf_free(cf);
  dln_rng_free(rng);
  dln_mat_free(Ym);
  free(Phi), free(Psi), free(Y), free(th0), free(th);
  dln_table_free(tab);
  dln_loss_free(loss);
  dln_net_free(net);
}

static void test_fit_rate(void **state) {
  (void)state;
  double t[50], y[50], r;
  int np;
  for (int i = 0; i < 50; ++i) t[i] = 0.1 * i, y[i] = 3.0 * exp(-2.5 * t[i]);
  dln_curve c;
  dln_curve_arrays(&c, 50, t, y);
  assert_int_equal(dln_fit_rate(&c, 1e-300, 1e300, &r, &np), DLN_OK);
  assert_int_equal(np, 50);
  assert_close(r, 2.5, 1e-12, 0);
  assert_int_equal(dln_fit_rate(&c, 10, 20, &r, &np), DLN_EINVAL);
  assert_int_equal(np, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_imbalance_random), cmocka_unit_test(test_imbalance_tight), cmocka_unit_test(test_pyramidal),
      cmocka_unit_test(test_deficiency_n2),    cmocka_unit_test(test_deficiency_n3),   cmocka_unit_test(test_gd_remark2),
      cmocka_unit_test(test_dissipation),      cmocka_unit_test(test_component_rates), cmocka_unit_test(test_fit_rate),
  };
  tu_seed(0x6A09E667F3BCC909ull);
  return cmocka_run_group_tests(tests, NULL, NULL);
}
