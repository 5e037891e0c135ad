/* End-to-end dynamics of balanced networks (dln/e2e.h) against the layer-wise dynamics
 * and the theory of 002 (Cohen & Razin):
 *   (a) the end-to-end flow Ẇ = −P_W(∇ℓ(W)) (002 Theorem 1, eq. 3) equals W_{N:1}(t) of
 *       the layer-wise gradient flow (dln_train, &dln_integrator_flow, rtol 1e-11) started at a
 *       balanced initialization (dln_init_balanced), depths 2, 3, 4, square, wide, tall and
 *       rank-deficient, factorization and regression; control: the e2e flow of the wrong
 *       depth is far off;
 *   (b) P_W(∇ℓ) equals d/dt W_{N:1} = −Σ_j W_{N:j+1} (∂φ/∂W_j) W_{j−1:1} built in this file
 *       from dln_net_grad's per-layer gradients at a balanced point (control: an unbalanced
 *       point fails); Corollary 1 (eq. 6): P_W(u_r v_{r'}^T) = λ_{rr'} u_r v_{r'}^T over
 *       full singular bases, null spaces included; and P_W by explicit matrix powers from
 *       eigendecompositions (plain loops + dsyev) at a full-rank square point;
 *   (c) 002 Theorem 3: σ̇_r = N (σ_r²)^{1−1/N} ⟨−∇ℓ, u_r v_r^T⟩, at a point and by central
 *       differences of σ_r(t) along the flow (control: the formula with depth N+1);
 *   (d) 002 Lemma 2: sign det W(t) is constant (det W(0) < 0 while the target has det > 0),
 *       for N = 2, 3; control: N = 1 crosses zero;
 *   (e) an unbalanced network is refused with its unbalancedness in the message;
 *   (f) dln_e2e_gd (002 Claim 1) tracks the flow with error O(η); divergence reporting;
 *   plus the trajectory table, the loss-threshold stop and bad input. */
#include <float.h>
#include <lapacke.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dln/e2e.h"
#include "dln/error.h"
#include "dln/init.h"
#include "dln/loss.h"
#include "dln/mat.h"
#include "dln/net.h"
#include "dln/observe.h"
#include "dln/rng.h"
#include "dln/train.h"
#include "testutil.h"

/* ------------------------------------------------------------------ helpers (plain-loop truths: testutil.c) */

/* Full SVD a = U S V^T (U m x m, V^T n x n, s descending, min(m,n) entries). */
static void full_svd(int m, int n, const double *a, double *U, double *s, double *Vt) {
  double *w = tu_dalloc((size_t)m * n);
  memcpy(w, a, (size_t)m * n * sizeof(double));
  double *sup = tu_dalloc((size_t)(m < n ? m : n));
  assert_int_equal(LAPACKE_dgesvd(LAPACK_COL_MAJOR, 'A', 'A', m, n, w, m, s, U, m, Vt, n, sup), 0);
  free(w);
  free(sup);
}
/* det of a square matrix by LU. */
static double det(int n, const double *a) {
  double *w = tu_dalloc((size_t)n * n);
  int *piv = calloc((size_t)n, sizeof(int));
  assert_non_null(piv);
  memcpy(w, a, (size_t)n * n * sizeof(double));
  int info = LAPACKE_dgetrf(LAPACK_COL_MAJOR, n, n, w, n, piv);
  assert_true(info >= 0);
  double d = 1;
  for (int i = 0; i < n; ++i) d *= (piv[i] != i + 1 ? -1.0 : 1.0) * w[i + (size_t)i * n];
  free(w);
  free(piv);
  return d;
}

/* ------------------------------------------------------------------ cases */

typedef struct {
  const char *name;
  int regression; /* 0: factorization ½‖W − Ȳ‖², 1: regression ½‖WX − Y‖² */
  int depth;
  int widths[6];
  double w0_scale;
} tcase;

typedef struct {
  dln_net *net;
  dln_loss *loss;
  double *theta;
  int m, n;
  dln_rng *rng;
} built;

static void build(const tcase *tc, built *b, uint64_t seed) {
  memset(b, 0, sizeof *b);
  int N = tc->depth, m = tc->widths[N], n = tc->widths[0];
  b->m = m;
  b->n = n;
  assert_int_equal(dln_net_alloc(&b->net, N, tc->widths, 0), DLN_OK);
  if (tc->regression) {
    int ns = 8;
    dln_mat *X = dln_mat_alloc(n, ns), *Y = dln_mat_alloc(m, ns);
    tu_fill_gauss((size_t)n * ns, X->data, 0.5);
    tu_fill_gauss((size_t)m * ns, Y->data, 0.6);
    assert_int_equal(dln_loss_regression_alloc(&b->loss, X, Y), DLN_OK);
    dln_mat_free(X);
    dln_mat_free(Y);
  } else {
    dln_mat *T = dln_mat_alloc(m, n);
    tu_fill_gauss((size_t)m * n, T->data, 1.0);
    assert_int_equal(dln_loss_factorization_alloc(&b->loss, T), DLN_OK);
    dln_mat_free(T);
  }
  /* W0 of rank ≤ the smallest hidden width */
  int h = m < n ? m : n;
  for (int j = 1; j < N; ++j)
    if (tc->widths[j] < h) h = tc->widths[j];
  double *L = tu_dalloc((size_t)m * h), *R = tu_dalloc((size_t)h * n);
  tu_fill_gauss((size_t)m * h, L, 1.0);
  tu_fill_gauss((size_t)h * n, R, 1.0);
  dln_mat *W0 = dln_mat_alloc(m, n);
  tu_mm(0, 0, m, n, h, L, R, W0->data);
  double f = tu_fro((size_t)m * n, W0->data);
  for (size_t i = 0; i < (size_t)m * n; ++i) W0->data[i] *= tc->w0_scale * sqrt((double)m * n) / f;
  b->rng = dln_rng_alloc(seed, 0);
  b->theta = tu_dalloc(b->net->nparams);
  assert_int_equal(dln_init_balanced(b->net, b->theta, W0, b->rng), DLN_OK);
  dln_mat_free(W0);
  free(L);
  free(R);
}
static void unbuild(built *b) {
  dln_net_free(b->net);
  dln_loss_free(b->loss);
  dln_rng_free(b->rng);
  free(b->theta);
}

static const tcase CASES[] = {
    {"factorization N=2 square 4x4", 0, 2, {4, 5, 4}, 0.5},
    {"factorization N=3 wide 3x5", 0, 3, {5, 6, 4, 3}, 0.5},
    {"regression N=4 tall 6x3", 1, 4, {3, 4, 5, 4, 6}, 0.7},
    {"regression N=2 square 4x4", 1, 2, {4, 6, 4}, 0.5},
    {"factorization N=3 rank-2 4x3", 0, 3, {3, 2, 5, 4}, 0.6},
    {"regression N=3 wide 2x5", 1, 3, {5, 3, 3, 2}, 0.7},
};
#define NCASES ((int)(sizeof CASES / sizeof CASES[0]))

/* E2E flow from W sampled at times[0..nt) into samples; returns the result. */
static dln_train_result e2e_flow(dln_e2e *e, double *W, const double *times, int nt, double t_end, double rtol,
                                 double *samples) {
  dln_train_options o;
  dln_train_default_options(&o);
  o.t_end = t_end;
  o.rtol = rtol;
  o.atol = rtol * 1e-2;
  o.sample_times = times;
  o.nsample_times = nt;
  dln_train_result r;
  int st = dln_e2e_flow(e, W, &o, samples, NULL, &r);
  if (st) print_error("dln_e2e_flow: %s\n", dln_last_error());
  assert_int_equal(st, DLN_OK);
  assert_int_equal(r.stop_reason, DLN_STOP_TIME);
  return r;
}

/* ------------------------------------------------------------------ (a) e2e flow = layer-wise flow */

static void test_flow_matches_layerwise(void **state) {
  (void)state;
  const double times[4] = {0.3, 1.0, 2.0, 3.0};
  double worst = 0, worst_def = 0, control_min = INFINITY;
  for (int ci = 0; ci < NCASES; ++ci) {
    const tcase *tc = &CASES[ci];
    built b;
    build(tc, &b, 100 + (uint64_t)ci);
    int deficient = 0; /* W_{N:1} of rank below min(d_N, d_0): P_W is not Lipschitz there (N ≥ 3) */
    for (int j = 1; j < tc->depth; ++j)
      if (tc->widths[j] < (b.m < b.n ? b.m : b.n)) deficient = 1;
    int m = b.m, n = b.n;
    size_t mn = (size_t)m * n;
    assert_true(dln_net_unbalancedness(b.net, b.theta) < 1e-12);
    double *W = tu_dalloc(mn), *Wl = tu_dalloc(mn), *S = tu_dalloc(4 * mn), *Sw = tu_dalloc(4 * mn);
    assert_int_equal(dln_e2e_from_net(b.net, b.theta, 0, W), DLN_OK);
    double *W0 = tu_dalloc(mn);
    memcpy(W0, W, mn * sizeof(double));
    dln_e2e *e = NULL, *ew = NULL;
    assert_int_equal(dln_e2e_alloc(&e, b.loss, tc->depth), DLN_OK);
    assert_int_equal(dln_e2e_alloc(&ew, b.loss, tc->depth + 1), DLN_OK);
    dln_train_result r = e2e_flow(e, W, times, 4, 3.0, 1e-11, S);
    assert_true(r.steps > 0);
    assert_true(r.grad_evals > r.steps);
    memcpy(Wl, W0, mn * sizeof(double));
    e2e_flow(ew, Wl, times, 4, 3.0, 1e-11, Sw);
    double err = 0, ctl = INFINITY, tprev = 0;
    for (int i = 0; i < 4; ++i) {
      tu_flow(b.net, b.loss, b.theta, times[i] - tprev, 1e-11, 1e-13);
      tprev = times[i];
      assert_int_equal(dln_net_product(b.net, b.theta, Wl), DLN_OK);
      double nrm = tu_fro(mn, Wl);
      double ei = tu_diffnorm(mn, S + i * mn, Wl) / nrm;
      double ci_ = tu_diffnorm(mn, Sw + i * mn, Wl) / nrm;
      if (!(ei <= err)) err = ei;
      if (ci_ < ctl) ctl = ci_;
    }
    /* the last sample is the final state */
    assert_true(tu_maxdiff(mn, S + 3 * mn, W) <= 1e-13 * tu_fro(mn, W));
    print_message("(a) %-30s max rel. diff e2e vs layer-wise %.3g; depth N+1 control %.3g (%ld steps)\n", tc->name, err,
                  ctl, r.steps);
    if (deficient) {
      if (!(err <= worst_def)) worst_def = err;
    } else if (!(err <= worst)) {
      worst = err;
    }
    if (ctl < control_min) control_min = ctl;
    dln_e2e_free(e);
    dln_e2e_free(ew);
    free(W);
    free(Wl);
    free(W0);
    free(S);
    free(Sw);
    unbuild(&b);
  }
  print_message("(a) worst %.3g (full rank), %.3g (rank-deficient), smallest control %.3g\n", worst, worst_def,
                control_min);
  /* full rank: measured ≤ 1.1e-11; rank-deficient: measured 3.4e-8, limited by the
   * σ^{2/N} coupling of rounding-level singular values (docs/e2e.md) */
  assert_true(worst <= 1e-9);
  assert_true(worst_def <= 1e-6);
  assert_true(control_min >= 1e-3);
}

/* ------------------------------------------------------------------ (b) RHS algebra */

/* d/dt W_{N:1} = Σ_j W_{N:j+1} (−G_j) W_{j−1:1} from per-layer gradients G_j (plain loops). */
static void layerwise_wdot(const dln_net *net, const double *theta, const double *grad, double *out) {
  int N = net->depth;
  const int *d = net->widths;
  int m = d[N], n = d[0];
  memset(out, 0, (size_t)m * n * sizeof(double));
  int maxw = 0;
  for (int j = 0; j <= N; ++j) maxw = d[j] > maxw ? d[j] : maxw;
  double *L = tu_dalloc((size_t)maxw * maxw), *R = tu_dalloc((size_t)maxw * maxw), *T = tu_dalloc((size_t)maxw * maxw),
         *T2 = tu_dalloc((size_t)maxw * maxw);
  for (int j = 1; j <= N; ++j) {
    /* R = W_{j−1:1} (d_{j−1} x d_0) */
    int rr = d[0];
    memset(R, 0, (size_t)maxw * maxw * sizeof(double));
    for (int i = 0; i < n; ++i) R[i + (size_t)i * n] = 1;
    for (int l = 1; l < j; ++l) {
      tu_mm(0, 0, d[l], n, rr, theta + net->offset[l], R, T);
      memcpy(R, T, (size_t)d[l] * n * sizeof(double));
      rr = d[l];
    }
    /* T = G_j R (d_j x d_0) */
    tu_mm(0, 0, d[j], n, d[j - 1], grad + net->offset[j], R, T);
    /* L = W_{N:j+1} T, applied layer by layer */
    int lr = d[j];
    memcpy(L, T, (size_t)lr * n * sizeof(double));
    for (int l = j + 1; l <= N; ++l) {
      tu_mm(0, 0, d[l], n, lr, theta + net->offset[l], L, T2);
      memcpy(L, T2, (size_t)d[l] * n * sizeof(double));
      lr = d[l];
    }
    for (size_t i = 0; i < (size_t)m * n; ++i) out[i] -= L[i];
  }
  free(L);
  free(R);
  free(T);
  free(T2);
}

static void test_rhs_equals_layerwise(void **state) {
  (void)state;
  double worst = 0, control_min = INFINITY;
  for (int ci = 0; ci < NCASES; ++ci) {
    const tcase *tc = &CASES[ci];
    built b;
    build(tc, &b, 200 + (uint64_t)ci);
    size_t mn = (size_t)b.m * b.n;
    double *W = tu_dalloc(mn), *Wd = tu_dalloc(mn), *Wl = tu_dalloc(mn), *grad = tu_dalloc(b.net->nparams);
    dln_e2e *e = NULL;
    assert_int_equal(dln_e2e_alloc(&e, b.loss, tc->depth), DLN_OK);
    assert_int_equal(dln_e2e_from_net(b.net, b.theta, 0, W), DLN_OK);
    double v1 = NAN, v2 = NAN;
    assert_int_equal(dln_e2e_rhs(e, W, Wd, &v1), DLN_OK);
    assert_int_equal(dln_net_grad(b.net, b.loss, b.theta, &v2, grad, NULL), DLN_OK);
    assert_close(v1, v2, 1e-13, 1e-15);
    layerwise_wdot(b.net, b.theta, grad, Wl);
    double err = tu_diffnorm(mn, Wd, Wl) / tu_fro(mn, Wl);
    /* ‖∇φ‖ from the e2e formula */
    double gn = 0;
    assert_int_equal(dln_e2e_grad_norm(e, W, &gn), DLN_OK);
    double gerr = fabs(gn - tu_fro(b.net->nparams, grad)) / tu_fro(b.net->nparams, grad);
    /* control: an unbalanced point (Gaussian layers) */
    assert_int_equal(dln_init_gaussian(b.net, b.theta, b.rng, 0.8, NULL), DLN_OK);
    assert_int_equal(dln_net_product(b.net, b.theta, W), DLN_OK);
    assert_int_equal(dln_e2e_rhs(e, W, Wd, NULL), DLN_OK);
    assert_int_equal(dln_net_grad(b.net, b.loss, b.theta, NULL, grad, NULL), DLN_OK);
    layerwise_wdot(b.net, b.theta, grad, Wl);
    double ctl = tu_diffnorm(mn, Wd, Wl) / tu_fro(mn, Wl);
    print_message("(b) %-30s rel. diff P_W(∇ℓ) vs Σ_j W_{N:j+1} G_j W_{j-1:1}: %.3g; ‖∇φ‖ %.3g; unbalanced control %.3g\n",
                  tc->name, err, gerr, ctl);
    assert_true(err <= 1e-10);
    assert_true(gerr <= 1e-10);
    if (err > worst) worst = err;
    if (ctl < control_min) control_min = ctl;
    dln_e2e_free(e);
    free(W);
    free(Wd);
    free(Wl);
    free(grad);
    unbuild(&b);
  }
  print_message("(b) worst %.3g; smallest control %.3g\n", worst, control_min);
  assert_true(control_min > 1e-3);
}

/* Corollary 1 (eq. 6): eigenpairs of P_W over full singular bases, null spaces included. */
static void test_corollary1_eigenpairs(void **state) {
  (void)state;
  const int shapes[4][2] = {{3, 5}, {5, 3}, {4, 4}, {4, 4}};
  const int ranks[4] = {3, 2, 4, 2};
  double worst = 0;
  for (int N = 1; N <= 4; ++N)
    for (int si = 0; si < 4; ++si) {
      int m = shapes[si][0], n = shapes[si][1], r = ranks[si], k = m < n ? m : n;
      size_t mn = (size_t)m * n;
      double *L = tu_dalloc((size_t)m * r), *R = tu_dalloc((size_t)r * n), *W = tu_dalloc(mn);
      tu_fill_gauss((size_t)m * r, L, 1.0);
      tu_fill_gauss((size_t)r * n, R, 1.0);
      tu_mm(0, 0, m, n, r, L, R, W);
      dln_mat *T = dln_mat_alloc(m, n);
      dln_loss *loss = NULL;
      assert_int_equal(dln_loss_factorization_alloc(&loss, T), DLN_OK);
      dln_e2e *e = NULL;
      assert_int_equal(dln_e2e_alloc(&e, loss, N), DLN_OK);
      double *U = tu_dalloc((size_t)m * m), *s = tu_dalloc((size_t)k), *Vt = tu_dalloc((size_t)n * n);
      full_svd(m, n, W, U, s, Vt);
      double *sig_u = tu_dalloc((size_t)m), *sig_v = tu_dalloc((size_t)n); /* σ by left / right index, 0 beyond rank */
      for (int i = 0; i < m; ++i) sig_u[i] = i < r ? s[i] : 0;
      for (int i = 0; i < n; ++i) sig_v[i] = i < r ? s[i] : 0;
      double *E = tu_dalloc(mn), *PE = tu_dalloc(mn);
      for (int a = 0; a < m; ++a)
        for (int c = 0; c < n; ++c) {
          for (int j = 0; j < n; ++j)
            for (int i = 0; i < m; ++i) E[i + (size_t)j * m] = U[i + (size_t)a * m] * Vt[c + (size_t)j * n];
          assert_int_equal(dln_e2e_precondition(e, W, E, PE), DLN_OK);
          double lam = 0; /* Σ_j σ_a^{2(N−j)/N} σ_c^{2(j−1)/N}, with x^0 = 1 */
          for (int j = 1; j <= N; ++j) {
            double p1 = (N - j) == 0 ? 1.0 : pow(sig_u[a] * sig_u[a], (double)(N - j) / N);
            double p2 = (j - 1) == 0 ? 1.0 : pow(sig_v[c] * sig_v[c], (double)(j - 1) / N);
            lam += p1 * p2;
          }
          double d = 0;
          for (size_t q = 0; q < mn; ++q) d = fmax(d, fabs(PE[q] - lam * E[q]));
          double scale = pow(s[0] * s[0], (double)(N - 1) / N) * N;
          if (d / scale > worst) worst = d / scale;
        }
      free(L);
      free(R);
      free(W);
      free(U);
      free(s);
      free(Vt);
      free(sig_u);
      free(sig_v);
      free(E);
      free(PE);
      dln_mat_free(T);
      dln_loss_free(loss);
      dln_e2e_free(e);
    }
  print_message("(b) Corollary 1 eigenpairs, N = 1..4, wide/tall/square, full and deficient rank: max error %.3g\n",
                worst);
  assert_true(worst <= 1e-12);
}

/* P_W(A) by explicit powers (W W^T)^{(j−1)/N}, (W^T W)^{(N−j)/N} from dsyev, full-rank square W. */
static void test_explicit_powers(void **state) {
  (void)state;
  const int n = 4;
  double worst = 0;
  for (int N = 2; N <= 4; ++N) {
    size_t nn = (size_t)n * n;
    double *W = tu_dalloc(nn), *A = tu_dalloc(nn), *out = tu_dalloc(nn), *ref = tu_dalloc(nn);
    tu_fill_gauss(nn, W, 1.0);
    tu_fill_gauss(nn, A, 1.0);
    for (int i = 0; i < n; ++i) W[i + (size_t)i * n] += 3.0; /* well conditioned */
    double *WWt = tu_dalloc(nn), *WtW = tu_dalloc(nn), *ev1 = tu_dalloc((size_t)n), *ev2 = tu_dalloc((size_t)n);
    tu_mm(0, 1, n, n, n, W, W, WWt);
    tu_mm(1, 0, n, n, n, W, W, WtW);
    tu_syev(n, WWt, ev1, 1);
    tu_syev(n, WtW, ev2, 1);
    double *P1 = tu_dalloc(nn), *P2 = tu_dalloc(nn), *T1 = tu_dalloc(nn), *T2 = tu_dalloc(nn);
    memset(ref, 0, nn * sizeof(double));
    for (int j = 1; j <= N; ++j) {
      /* P1 = Q1 diag(λ^{(j−1)/N}) Q1^T, P2 = Q2 diag(μ^{(N−j)/N}) Q2^T */
      for (int c = 0; c < n; ++c)
        for (int i = 0; i < n; ++i) {
          long double s1 = 0, s2 = 0;
          for (int l = 0; l < n; ++l) {
            s1 += (long double)WWt[i + (size_t)l * n] * pow(ev1[l], (double)(j - 1) / N) * WWt[c + (size_t)l * n];
            s2 += (long double)WtW[i + (size_t)l * n] * pow(ev2[l], (double)(N - j) / N) * WtW[c + (size_t)l * n];
          }
          P1[i + (size_t)c * n] = (double)s1;
          P2[i + (size_t)c * n] = (double)s2;
        }
      tu_mm(0, 0, n, n, n, P1, A, T1);
      tu_mm(0, 0, n, n, n, T1, P2, T2);
      for (size_t q = 0; q < nn; ++q) ref[q] += T2[q];
    }
    dln_mat *T = dln_mat_alloc(n, n);
    dln_loss *loss = NULL;
    assert_int_equal(dln_loss_factorization_alloc(&loss, T), DLN_OK);
    dln_e2e *e = NULL;
    assert_int_equal(dln_e2e_alloc(&e, loss, N), DLN_OK);
    memcpy(out, A, nn * sizeof(double));
    assert_int_equal(dln_e2e_precondition(e, W, out, out), DLN_OK); /* in place */
    double err = tu_diffnorm(nn, out, ref) / tu_fro(nn, ref);
    if (err > worst) worst = err;
    free(W);
    free(A);
    free(out);
    free(ref);
    free(WWt);
    free(WtW);
    free(ev1);
    free(ev2);
    free(P1);
    free(P2);
    free(T1);
    free(T2);
    dln_mat_free(T);
    dln_loss_free(loss);
    dln_e2e_free(e);
  }
  print_message("(b) P_W(A) vs explicit eigendecomposition powers (N = 2..4): max rel. diff %.3g\n", worst);
  assert_true(worst <= 1e-12);
}

/* ------------------------------------------------------------------ (c) Theorem 3 */

/* σ̇ by 002 Theorem 3 at W with depth N: N (σ_r²)^{1−1/N} ⟨−∇ℓ(W), u_r v_r^T⟩, r < k. */
static void thm3_rates(dln_loss *loss, int N, const double *W, double *s, double *rate) {
  int m = loss->rows, n = loss->cols, k = m < n ? m : n;
  size_t mn = (size_t)m * n;
  double *U = tu_dalloc((size_t)m * m), *Vt = tu_dalloc((size_t)n * n), *G = tu_dalloc(mn);
  full_svd(m, n, W, U, s, Vt);
  double v;
  assert_int_equal(dln_loss_eval(loss, W, &v, G), DLN_OK);
  for (int r = 0; r < k; ++r) {
    long double g = 0; /* u_r^T G v_r */
    for (int j = 0; j < n; ++j)
      for (int i = 0; i < m; ++i) g += (long double)U[i + (size_t)r * m] * G[i + (size_t)j * m] * Vt[r + (size_t)j * n];
    rate[r] = N * pow(s[r] * s[r], 1.0 - 1.0 / N) * (double)(-g);
  }
  free(U);
  free(Vt);
  free(G);
}

static void test_theorem3_singular_values(void **state) {
  (void)state;
  const int ids[3] = {0, 1, 2};
  double worst_pt = 0, worst_fd = 0, control_min = INFINITY;
  for (int q = 0; q < 3; ++q) {
    const tcase *tc = &CASES[ids[q]];
    built b;
    build(tc, &b, 300 + (uint64_t)q);
    int m = b.m, n = b.n, k = m < n ? m : n, N = tc->depth;
    size_t mn = (size_t)m * n;
    dln_e2e *e = NULL;
    assert_int_equal(dln_e2e_alloc(&e, b.loss, N), DLN_OK);
    double *W = tu_dalloc(mn), *Wd = tu_dalloc(mn), *S = tu_dalloc(3 * mn);
    double *s = tu_dalloc((size_t)k), *sp = tu_dalloc((size_t)k), *sm = tu_dalloc((size_t)k),
           *rate = tu_dalloc((size_t)k), *rate_w = tu_dalloc((size_t)k), *tmp = tu_dalloc((size_t)k);
    assert_int_equal(dln_e2e_from_net(b.net, b.theta, 0, W), DLN_OK);
    /* at the point: σ̇_r = u_r^T Ẇ v_r (002 eq. 11–12) from the RHS */
    double *U = tu_dalloc((size_t)m * m), *Vt = tu_dalloc((size_t)n * n);
    thm3_rates(b.loss, N, W, s, rate);
    full_svd(m, n, W, U, tmp, Vt);
    assert_int_equal(dln_e2e_rhs(e, W, Wd, NULL), DLN_OK);
    double scale = 0;
    for (int r = 0; r < k; ++r) scale = fmax(scale, fabs(rate[r]));
    for (int r = 0; r < k; ++r) {
      long double g = 0;
      for (int j = 0; j < n; ++j)
        for (int i = 0; i < m; ++i)
          g += (long double)U[i + (size_t)r * m] * Wd[i + (size_t)j * m] * Vt[r + (size_t)j * n];
      worst_pt = fmax(worst_pt, fabs((double)g - rate[r]) / scale);
    }
    /* along the flow: central differences around t0 */
    const double t0 = 0.5, h = 1e-3;
    const double times[3] = {t0 - h, t0, t0 + h};
    e2e_flow(e, W, times, 3, t0 + h, 1e-12, S);
    thm3_rates(b.loss, N, S + mn, s, rate);
    thm3_rates(b.loss, N + 1, S + mn, s, rate_w);
    full_svd(m, n, S, U, sm, Vt);
    full_svd(m, n, S + 2 * mn, U, sp, Vt);
    double fd_err = 0, ctl = 0;
    scale = 0;
    for (int r = 0; r < k; ++r) scale = fmax(scale, fabs(rate[r]));
    for (int r = 0; r < k; ++r) {
      if (r > 0) assert_true(s[r - 1] - s[r] > 1e-3 * s[0]); /* distinct */
      assert_true(s[r] > 1e-3 * s[0]);                        /* nonzero */
      double fd = (sp[r] - sm[r]) / (2 * h);
      fd_err = fmax(fd_err, fabs(fd - rate[r]) / scale);
      ctl = fmax(ctl, fabs(fd - rate_w[r]) / scale);
    }
    print_message("(c) %-30s σ̇ at a point: %.3g; central difference vs Theorem 3: %.3g; depth N+1 control %.3g\n",
                  tc->name, worst_pt, fd_err, ctl);
    worst_fd = fmax(worst_fd, fd_err);
    control_min = fmin(control_min, ctl);
    free(W);
    free(Wd);
    free(S);
    free(s);
    free(sp);
    free(sm);
    free(rate);
    free(rate_w);
    free(tmp);
    free(U);
    free(Vt);
    dln_e2e_free(e);
    unbuild(&b);
  }
  assert_true(worst_pt <= 1e-10);
  assert_true(worst_fd <= 1e-5);
  assert_true(control_min >= 1e-2);
}

/* ------------------------------------------------------------------ (d) Lemma 2 */

static void test_lemma2_det_sign(void **state) {
  (void)state;
  /* Horizon: for N = 2 the vanishing singular value decays like 0.4 e^{−4t}; once it
   * reaches the integrator's error level (atol 1e-12) a numerical solution can cross 0,
   * after which the flow repels it toward the target (Lemma 2 is a statement about the
   * exact flow). T_END = 4 keeps it at ~5e-8, far above the error level. */
  const double T_END = 4.0;
  const int n = 3, nt = 81;
  size_t nn = (size_t)n * n;
  /* target 2 I (det > 0); W0 = Q diag(1, 0.7, −0.4) R (det < 0) */
  dln_mat *T = dln_mat_alloc(n, n);
  for (int i = 0; i < n; ++i) T->data[i + (size_t)i * n] = 2.0;
  dln_loss *loss = NULL;
  assert_int_equal(dln_loss_factorization_alloc(&loss, T), DLN_OK);
  double *W0 = tu_dalloc(nn), *W = tu_dalloc(nn), *S = tu_dalloc(nt * nn), *times = tu_dalloc(nt);
  double *Q = tu_dalloc(nn), *R = tu_dalloc(nn), *D = tu_dalloc(nn), *tmp = tu_dalloc(nn);
  dln_rng *rng = dln_rng_alloc(7, 0);
  assert_int_equal(dln_rng_orthogonal(rng, n, n, Q), DLN_OK);
  assert_int_equal(dln_rng_orthogonal(rng, n, n, R), DLN_OK);
  D[0] = 1.0;
  D[4] = 0.7;
  D[8] = -0.4;
  tu_mm(0, 0, n, n, n, Q, D, tmp);
  tu_mm(0, 0, n, n, n, tmp, R, W0);
  assert_true(det(n, W0) < 0);
  for (int i = 0; i < nt; ++i) times[i] = T_END * i / (nt - 1);
  int crossed[4] = {0, 0, 0, 0};
  double final_det[4] = {0, 0, 0, 0};
  for (int N = 1; N <= 3; ++N) {
    dln_e2e *e = NULL;
    assert_int_equal(dln_e2e_alloc(&e, loss, N), DLN_OK);
    memcpy(W, W0, nn * sizeof(double));
    e2e_flow(e, W, times, nt, T_END, 1e-10, S);
    for (int i = 0; i < nt; ++i)
      if (!(det(n, S + i * nn) < 0)) crossed[N] = 1;
    final_det[N] = det(n, W);
    dln_e2e_free(e);
  }
  print_message("(d) det W(0) = %.3g; det W(4): N=1 %.3g (crossed: %d), N=2 %.3g (crossed: %d), N=3 %.3g (crossed: %d)\n", det(n, W0), final_det[1],
                crossed[1], final_det[2], crossed[2], final_det[3], crossed[3]);
  assert_int_equal(crossed[1], 1); /* control: the linear model crosses det = 0 */
  assert_int_equal(crossed[2], 0);
  assert_int_equal(crossed[3], 0);
  assert_true(final_det[2] < 0 && final_det[2] > 1e-3 * det(n, W0)); /* it did approach 0 */
  assert_true(final_det[3] < 0 && final_det[3] > 0.1 * det(n, W0));
  dln_rng_free(rng);
  dln_mat_free(T);
  dln_loss_free(loss);
  free(W0);
  free(W);
  free(S);
  free(times);
  free(Q);
  free(R);
  free(D);
  free(tmp);
}

/* ------------------------------------------------------------------ (e) refusal */

static void test_refuse_unbalanced(void **state) {
  (void)state;
  built b;
  build(&CASES[1], &b, 500);
  size_t mn = (size_t)b.m * b.n;
  double *W = tu_dalloc(mn), *Wp = tu_dalloc(mn);
  /* balanced: accepted, W = W_{N:1} */
  assert_int_equal(dln_e2e_from_net(b.net, b.theta, 0, W), DLN_OK);
  assert_int_equal(dln_net_product(b.net, b.theta, Wp), DLN_OK);
  assert_true(tu_maxdiff(mn, W, Wp) == 0);
  /* slightly perturbed: refused at the default tolerance, accepted at a loose one */
  b.theta[0] += 1e-4;
  double u = dln_net_unbalancedness(b.net, b.theta);
  assert_int_equal(dln_e2e_from_net(b.net, b.theta, 0, W), DLN_EINVAL);
  assert_int_equal(dln_e2e_from_net(b.net, b.theta, 1e-2, W), DLN_OK);
  /* Gaussian init: refused with the measured unbalancedness in the message */
  assert_int_equal(dln_init_gaussian(b.net, b.theta, b.rng, 1.0, NULL), DLN_OK);
  u = dln_net_unbalancedness(b.net, b.theta);
  assert_true(u > 0.1);
  for (size_t i = 0; i < mn; ++i) W[i] = 12345;
  assert_int_equal(dln_e2e_from_net(b.net, b.theta, 0, W), DLN_EINVAL);
  char want[64];
  snprintf(want, sizeof want, "%.6g", u);
  const char *msg = dln_last_error();
  print_message("(e) refused: %s\n", msg);
  assert_non_null(strstr(msg, "unbalanced"));
  assert_non_null(strstr(msg, want));
  assert_true(W[0] == 12345); /* untouched */
  assert_int_equal(dln_e2e_from_net(b.net, b.theta, -1, W), DLN_EINVAL);
  assert_int_equal(dln_e2e_from_net(b.net, b.theta, NAN, W), DLN_EINVAL);
  /* tied nets are refused */
  dln_net *tied = NULL;
  int tw[3] = {3, 4, 3};
  assert_int_equal(dln_net_alloc(&tied, 2, tw, 1), DLN_OK);
  double *th = tu_dalloc(tied->nparams);
  tu_fill_gauss(tied->nparams, th, 1.0);
  assert_int_equal(dln_e2e_from_net(tied, th, 0, W), DLN_EINVAL);
  assert_non_null(strstr(dln_last_error(), "tied"));
  free(th);
  dln_net_free(tied);
  free(W);
  free(Wp);
  unbuild(&b);
}

/* ------------------------------------------------------------------ (f) discretized dynamics */

static void test_gd_tracks_flow(void **state) {
  (void)state;
  built b;
  build(&CASES[1], &b, 600);
  size_t mn = (size_t)b.m * b.n;
  int N = CASES[1].depth;
  dln_e2e *e = NULL;
  assert_int_equal(dln_e2e_alloc(&e, b.loss, N), DLN_OK);
  double *W0 = tu_dalloc(mn), *Wf = tu_dalloc(mn), *Wg = tu_dalloc(mn);
  assert_int_equal(dln_e2e_from_net(b.net, b.theta, 0, W0), DLN_OK);
  const double t_end = 1.0;
  memcpy(Wf, W0, mn * sizeof(double));
  const double tt[1] = {t_end};
  e2e_flow(e, Wf, tt, 1, t_end, 1e-12, NULL);
  const double etas[3] = {4e-3, 2e-3, 1e-3};
  double err[3];
  for (int i = 0; i < 3; ++i) {
    dln_train_options o;
    dln_train_default_options(&o);
    o.eta = etas[i];
    o.t_end = t_end;
    o.nsamples = 2;
    dln_train_result r;
    memcpy(Wg, W0, mn * sizeof(double));
    assert_int_equal(dln_e2e_gd(e, Wg, &o, NULL, NULL, &r), DLN_OK);
    assert_int_equal(r.stop_reason, DLN_STOP_TIME);
    assert_int_equal(r.steps, (long)floor(t_end / etas[i] + 0.5));
    assert_close(r.t, t_end, 1e-12, 0);
    err[i] = tu_diffnorm(mn, Wg, Wf) / tu_fro(mn, Wf);
  }
  print_message("(f) e2e GD vs flow at t = 1: rel. error %.3g (η=4e-3), %.3g (2e-3), %.3g (1e-3); ratios %.3f %.3f\n",
                err[0], err[1], err[2], err[0] / err[1], err[1] / err[2]);
  assert_true(err[0] < 0.1);
  assert_true(err[0] / err[1] > 1.8 && err[0] / err[1] < 2.2);
  assert_true(err[1] / err[2] > 1.8 && err[1] / err[2] < 2.2);

  /* divergence: a huge step; W keeps the last good (finite) iterate */
  dln_train_options o;
  dln_train_default_options(&o);
  o.eta = 50.0;
  o.t_end = 1e4;
  o.blowup = 1e30;
  o.nsamples = 2;
  dln_train_result r;
  memcpy(Wg, W0, mn * sizeof(double));
  assert_int_equal(dln_e2e_gd(e, Wg, &o, NULL, NULL, &r), DLN_OK);
  print_message("(f) divergence: %s (fail_step %ld, fail_t %g, steps %ld)\n", r.message, r.fail_step, r.fail_t, r.steps);
  assert_int_equal(r.stop_reason, DLN_STOP_DIVERGED);
  assert_true(r.fail_step >= 1);
  assert_int_equal(r.steps, r.fail_step - 1);
  assert_close(r.fail_t, r.fail_step * o.eta, 1e-14, 0);
  assert_close(r.t, r.steps * o.eta, 1e-14, 0);
  for (size_t i = 0; i < mn; ++i) assert_true(isfinite(Wg[i]) && fabs(Wg[i]) <= 1e30);
  assert_non_null(strstr(r.message, "diverged"));

  /* loss threshold and grad_tol stops */
  dln_train_default_options(&o);
  o.eta = 1e-2;
  o.t_end = 50;
  double l0 = NAN;
  assert_int_equal(dln_loss_eval(b.loss, W0, &l0, NULL), DLN_OK);
  o.loss_threshold = 0.5 * l0;
  memcpy(Wg, W0, mn * sizeof(double));
  assert_int_equal(dln_e2e_gd(e, Wg, &o, NULL, NULL, &r), DLN_OK);
  assert_int_equal(r.stop_reason, DLN_STOP_LOSS);
  assert_true(r.loss <= 0.5 * l0);
  assert_close(r.t_threshold, r.steps * o.eta, 1e-12, 0);
  dln_e2e_free(e);
  free(W0);
  free(Wf);
  free(Wg);
  unbuild(&b);
}

/* ------------------------------------------------------------------ table, thresholds, bad input */

static void test_table_and_threshold(void **state) {
  (void)state;
  built b;
  build(&CASES[2], &b, 700);
  int m = b.m, n = b.n, k = m < n ? m : n;
  size_t mn = (size_t)m * n;
  dln_e2e *e = NULL;
  assert_int_equal(dln_e2e_alloc(&e, b.loss, CASES[2].depth), DLN_OK);
  double *W0 = tu_dalloc(mn), *W = tu_dalloc(mn), *S = tu_dalloc(11 * mn), *s = tu_dalloc((size_t)k),
         *U = tu_dalloc((size_t)m * m), *Vt = tu_dalloc((size_t)n * n);
  assert_int_equal(dln_e2e_from_net(b.net, b.theta, 0, W0), DLN_OK);
  dln_table *tab = NULL;
  assert_int_equal(dln_e2e_table_alloc(e, 12, &tab), DLN_OK);
  assert_int_equal(tab->ncols, 3 + k);
  assert_int_equal(dln_table_col(tab, "t"), 0);
  assert_int_equal(dln_table_col(tab, "loss"), 2);
  assert_int_equal(dln_table_col(tab, "sv_3"), 5);
  dln_train_options o;
  dln_train_default_options(&o);
  o.t_end = 2.0;
  o.nsamples = 11;
  dln_train_result r;
  memcpy(W, W0, mn * sizeof(double));
  assert_int_equal(dln_e2e_flow(e, W, &o, S, tab, &r), DLN_OK);
  assert_int_equal(r.stop_reason, DLN_STOP_TIME);
  assert_int_equal((int)tab->nrows, 11);
  double prev = INFINITY;
  for (int i = 0; i < 11; ++i) {
    double *row = dln_table_row(tab, (size_t)i);
    assert_close(row[0], 0.2 * i, 1e-14, 1e-15);
    double v;
    assert_int_equal(dln_loss_eval(b.loss, S + i * mn, &v, NULL), DLN_OK);
    assert_close(row[2], v, 1e-14, 0);
    assert_true(row[2] <= prev); /* the flow descends */
    prev = row[2];
    full_svd(m, n, S + i * mn, U, s, Vt);
    for (int q = 0; q < k; ++q) assert_close(row[3 + q], s[q], 1e-12, 1e-14);
  }
  print_message("table: %s, %ld steps, %ld RHS, %ld rejected, %.3g s\n", r.message, r.steps, r.grad_evals, r.rejected,
                r.wall_seconds);
  /* loss threshold: the crossing is refined on the dense output, later samples are NAN */
  double l0 = dln_table_row(tab, 0)[2], lend = dln_table_row(tab, 10)[2];
  o.loss_threshold = 0.5 * (l0 + lend);
  tab->nrows = 0;
  memcpy(W, W0, mn * sizeof(double));
  assert_int_equal(dln_e2e_flow(e, W, &o, S, tab, &r), DLN_OK);
  assert_int_equal(r.stop_reason, DLN_STOP_LOSS);
  double lv;
  assert_int_equal(dln_loss_eval(b.loss, W, &lv, NULL), DLN_OK);
  assert_close(lv, o.loss_threshold, 1e-8, 0);
  assert_close(r.t_threshold, r.t, 0, 0);
  assert_true(r.t > 0 && r.t < 2.0);
  int last = (int)floor(r.t / 0.2);
  assert_true(isnan(S[(size_t)(last + 1) * mn]));
  assert_true(isfinite(S[(size_t)last * mn]));
  assert_int_equal((int)tab->nrows, last + 2); /* samples 0..last and the stop row */
  assert_close(dln_table_row(tab, tab->nrows - 1)[0], r.t, 0, 0);
  print_message("threshold: %s\n", r.message);

  /* gradient descent with log-spaced sample times, the first ones below η: times that
   * round to the step of the one before fill their matrix but add no second table row at
   * the same t (as the layer-wise record; two rows at one t read as a corrupt file) */
  dln_train_default_options(&o);
  o.eta = 0.01, o.t_end = 2.0, o.nsamples = 11, o.log_spacing = 1, o.t_first = 1e-3;
  double times[11];
  assert_int_equal(dln_train_sample_times(&o, times), DLN_OK);
  int steps_distinct = 1;
  for (int i = 1; i < 11; ++i) steps_distinct += floor(times[i] / o.eta + 0.5) != floor(times[i - 1] / o.eta + 0.5);
  assert_true(steps_distinct < 11); /* the case at hand: 1e-3, 2.1e-3 and 4.6e-3 round to step 0 */
  tab->nrows = 0;
  memcpy(W, W0, mn * sizeof(double));
  assert_int_equal(dln_e2e_gd(e, W, &o, S, tab, &r), DLN_OK);
  assert_int_equal((int)tab->nrows, steps_distinct);
  for (size_t i = 1; i < tab->nrows; ++i) assert_true(dln_table_row(tab, i)[0] > dln_table_row(tab, i - 1)[0]);
  for (int i = 0; i < 11; ++i) assert_true(isfinite(S[(size_t)i * mn]));

  /* bad input */
  dln_e2e *bad = NULL;
  assert_int_equal(dln_e2e_alloc(&bad, b.loss, 0), DLN_EINVAL);
  assert_null(bad);
  dln_train_default_options(&o);
  o.rtol = 0;
  assert_int_equal(dln_e2e_flow(e, W, &o, NULL, NULL, &r), DLN_EINVAL);
  assert_non_null(strstr(dln_last_error(), "rtol"));
  dln_train_default_options(&o);
  o.eta = -1;
  assert_int_equal(dln_e2e_gd(e, W, &o, NULL, NULL, &r), DLN_EINVAL);
  dln_train_default_options(&o);
  o.nsamples = 20; /* table too small */
  tab->nrows = 0;
  assert_int_equal(dln_e2e_flow(e, W, &o, NULL, tab, &r), DLN_EINVAL);
  W[3] = NAN;
  dln_train_default_options(&o);
  assert_int_equal(dln_e2e_flow(e, W, &o, NULL, NULL, &r), DLN_ENONFINITE);
  double *Wd = tu_dalloc(mn);
  assert_int_equal(dln_e2e_rhs(e, W, Wd, NULL), DLN_ENONFINITE);
  free(Wd);
  dln_table_free(tab);
  dln_e2e_free(NULL);
  dln_e2e_free(e);
  free(W0);
  free(W);
  free(S);
  free(s);
  free(U);
  free(Vt);
  unbuild(&b);
}

/* ------------------------------------------------------------------ no allocation in the loops */

static long count_run(dln_e2e *e, const double *W0, double *W, size_t mn, int gd, double t_end, dln_table *tab,
                      int nsamples) {
  dln_train_options o;
  dln_train_default_options(&o);
  o.eta = 1e-3;
  o.t_end = t_end;
  o.nsamples = nsamples;
  dln_train_result r;
  memcpy(W, W0, mn * sizeof(double));
  if (tab) tab->nrows = 0;
  dln_alloc_count_begin();
  int st = gd ? dln_e2e_gd(e, W, &o, NULL, tab, &r) : dln_e2e_flow(e, W, &o, NULL, tab, &r);
  long c = dln_alloc_count_end(NULL);
  assert_int_equal(st, DLN_OK);
  assert_int_equal(r.stop_reason, DLN_STOP_TIME);
  return c;
}

static void test_no_alloc_in_loops(void **state) {
  (void)state;
  if (!DLN_HAVE_ALLOC_COUNTER) {
    print_message("allocation counter unavailable (sanitizer or non-glibc)\n");
    skip();
  }
  built b;
  build(&CASES[2], &b, 800);
  size_t mn = (size_t)b.m * b.n;
  dln_e2e *e = NULL;
  assert_int_equal(dln_e2e_alloc(&e, b.loss, CASES[2].depth), DLN_OK);
  double *W0 = tu_dalloc(mn), *W = tu_dalloc(mn), *Wd = tu_dalloc(mn);
  assert_int_equal(dln_e2e_from_net(b.net, b.theta, 0, W0), DLN_OK);
  dln_table *tab = NULL;
  assert_int_equal(dln_e2e_table_alloc(e, 16, &tab), DLN_OK);
  /* warm-up (OpenBLAS/LAPACK buffers on first use) */
  count_run(e, W0, W, mn, 0, 0.5, tab, 11);
  count_run(e, W0, W, mn, 1, 0.01, tab, 11);
  dln_alloc_count_begin();
  assert_int_equal(dln_e2e_rhs(e, W0, Wd, NULL), DLN_OK);
  assert_int_equal(dln_e2e_precondition(e, W0, W0, Wd), DLN_OK);
  long c_rhs = dln_alloc_count_end(NULL);
  long g1 = count_run(e, W0, W, mn, 1, 0.01, NULL, 2), g2 = count_run(e, W0, W, mn, 1, 1.0, NULL, 2);
  long f1 = count_run(e, W0, W, mn, 0, 0.05, NULL, 2), f2 = count_run(e, W0, W, mn, 0, 2.0, NULL, 2);
  long gt1 = count_run(e, W0, W, mn, 1, 0.02, tab, 11), gt2 = count_run(e, W0, W, mn, 1, 1.0, tab, 11);
  long ft1 = count_run(e, W0, W, mn, 0, 0.05, tab, 11), ft2 = count_run(e, W0, W, mn, 0, 2.0, tab, 11);
  print_message("heap calls: rhs %ld; gd 10/1000 steps %ld/%ld; flow t 0.05/2 %ld/%ld; with table: gd %ld/%ld, "
                "flow %ld/%ld\n",
                c_rhs, g1, g2, f1, f2, gt1, gt2, ft1, ft2);
  assert_int_equal(c_rhs, 0);
  assert_int_equal(g1, g2);
  assert_int_equal(f1, f2);
  assert_int_equal(gt1, gt2);
  assert_int_equal(ft1, ft2);
  dln_table_free(tab);
  dln_e2e_free(e);
  free(W0);
  free(W);
  free(Wd);
  unbuild(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_flow_matches_layerwise),
      cmocka_unit_test(test_rhs_equals_layerwise),
      cmocka_unit_test(test_corollary1_eigenpairs),
      cmocka_unit_test(test_explicit_powers),
      cmocka_unit_test(test_theorem3_singular_values),
      cmocka_unit_test(test_lemma2_det_sign),
      cmocka_unit_test(test_refuse_unbalanced),
      cmocka_unit_test(test_gd_tracks_flow),
      cmocka_unit_test(test_table_and_threshold),
      cmocka_unit_test(test_no_alloc_in_loops),
  };
  tu_seed(0xD1B54A32D192ED03ull);
  return cmocka_run_group_tests(tests, NULL, NULL);
}
