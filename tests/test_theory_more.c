/* The later theory functions against independent truths (src/theory/minnorm.c, psd_rate.c):
 *   003 §3 (Min et al.): the split of W − Θ̂ on col X and its complement (Fig. 1's measure)
 *     and the constants ‖Z(0)‖, ‖U_1V^T‖, ‖E(0)‖ against projectors P = X (X^T X)^{-1} X^T
 *     built here by Cholesky; the Theorem 2 core bound B(t) against gradient-flow runs (a
 *     random imbalanced init, and the invariant set U_2 = 0 where B is nearly tight); a
 *     tampered end point must violate it; c = 0 (balanced) and wrong models are refused;
 *     Lemma 1 / eq. 20 right-hand sides against the printed formulas, and Lemma 1 eq. 18
 *     plus Fig. 1's O(h^{-1/2}) on width_scaled draws;
 *   001 Prop. 2 (Tarmoun et al.): Ỹ checked by its Moreau characterization (Ỹ ⪰ 0,
 *     Ỹ − Y ⪰ 0, ⟨Ỹ, Ỹ − Y⟩ = 0); the rate verdict on the flow Ẋ = 2(Y − X)X + 2X(Y − X)
 *     (001 eq. 5, integrated here by RK4) holds for an indefinite and a definite Y, and
 *     the time-stretched curve X(t/2) (half the rate) is VIOLATED; singular Y, X0 = 0 (the bracket
 *     I + Ŷ^{-1}(X0 − Ỹ) singular), an untied net and a non-symmetric Y are refused;
 *   002 Ex. 2: Ẇ_s from W_s alone against a finite difference of U U^T along the tied flow
 *     (and a wrong formula is far from it); 002 Prop. 5 / Ex. 4: the instance recognized
 *     from completion and sensing losses, the printed bound (1 − √(6ℓ))²/√(6ℓ), holds /
 *     VIOLATED / refused on constructed balanced states;
 *   004 Prop. 5: the dense Hessian's nullity at points of a stratum built here (any widths,
 *     both orientations, saddles and minima) equals r d_1 + (d_1 − r)(|d_0 − d_N| + r); eq. 27
 *     as printed agrees when d_1 = min(d_0, d_N); a random point has a smaller kernel;
 *   001 §5 eq. 32–39: the discrete rates against GD iterates of eq. 38 (matrix form, iterated
 *     here), the same iterates on the flow's time axis are VIOLATED, closed-form rates. */
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

#include "dln/error.h"
#include "dln/init.h"
#include "dln/landscape.h"
#include "dln/loss.h"
#include "dln/mat.h"
#include "dln/net.h"
#include "dln/rng.h"
#include "dln/theory.h"
#include "dln/train.h"
#include "testutil.h"

enum { D = 8, NS = 4, M = 2 };

/* ------------------------------------------------------------------ 003 §3 */

typedef struct {
  dln_mat *X, *Y;
  dln_loss *loss;
  double P[D * D];      /* projector on col X, by Cholesky of X^T X */
  double Wstar[M * D];  /* Y (X^T X)^{-1} X^T */
} reg;

static void reg_make(reg *r) {
  r->X = dln_mat_alloc(D, NS);
  r->Y = dln_mat_alloc(M, NS);
  assert_non_null(r->X);
  assert_non_null(r->Y);
  tu_fill_gauss((size_t)D * NS, r->X->data, 1.0 / sqrt((double)NS));
  tu_fill_gauss((size_t)M * NS, r->Y->data, 1.0);
  assert_int_equal(dln_loss_regression_alloc(&r->loss, r->X, r->Y), DLN_OK);
  double G[NS * NS], Z[NS * D];
  tu_mm(1, 0, NS, NS, D, r->X->data, r->X->data, G);
  for (int i = 0; i < NS; ++i)
    for (int j = 0; j < D; ++j) Z[i + j * NS] = r->X->data[j + i * D]; /* X^T */
  assert_int_equal(LAPACKE_dposv(LAPACK_COL_MAJOR, 'U', NS, D, G, NS, Z, NS), 0); /* (X^T X)^{-1} X^T */
  tu_mm(0, 0, D, D, NS, r->X->data, Z, r->P);
  tu_mm(0, 0, M, D, NS, r->Y->data, Z, r->Wstar);
}

static void reg_free(reg *r) {
  dln_loss_free(r->loss);
  dln_mat_free(r->X);
  dln_mat_free(r->Y);
}

/* ‖A (I − P)‖_F and ‖A P‖_F for A (rows x D). */
static void split(const reg *r, int rows, const double *A, double *in, double *out) {
  double *AP = tu_dalloc((size_t)rows * D), *AQ = tu_dalloc((size_t)rows * D);
  tu_mm(0, 0, rows, D, D, A, r->P, AP);
  for (int i = 0; i < rows * D; ++i) AQ[i] = A[i] - AP[i];
  *in = tu_fro((size_t)rows * D, AP);
  *out = tu_fro((size_t)rows * D, AQ);
  free(AP), free(AQ);
}

static void test_minnorm_constants(void **state) {
  (void)state;
  tu_seed(31);
  reg r;
  reg_make(&r);
  assert_true(tu_maxdiff(M * D, r.Wstar, r.loss->wstar) <= 1e-12 * tu_fro(M * D, r.Wstar));
  int h = 6, widths[3] = {D, h, M};
  dln_net *net = NULL;
  assert_int_equal(dln_net_alloc(&net, 2, widths, 0), DLN_OK);
  double *th = tu_dalloc(net->nparams), W[M * D], Dm[M * D], in, out, a, b;
  tu_fill_gauss(net->nparams, th, 0.7);
  assert_int_equal(dln_net_product(net, th, W), DLN_OK);
  /* Fig. 1's split of W − Θ̂ */
  for (int i = 0; i < M * D; ++i) Dm[i] = W[i] - r.Wstar[i];
  split(&r, M, Dm, &in, &out);
  assert_int_equal(dln_theory_minnorm_split(r.loss, W, &a, &b), DLN_OK);
  assert_true(fabs(a - in) <= 1e-12 * (1 + in) && fabs(b - out) <= 1e-12 * (1 + out));
  /* the constants at θ(0): Z(0) = [W(I−P); P W_1^T W_1 (I − P)] in norm, U_1 V^T = W P, E(0) */
  dln_minnorm mn;
  assert_int_equal(dln_theory_minnorm_setup(net, r.loss, th, &mn), DLN_OK);
  double WP_in, WP_out, G[D * D], Gin, Gout, T[D * D];
  split(&r, M, W, &WP_in, &WP_out);
  tu_mm(1, 0, D, D, h, th + net->offset[1], th + net->offset[1], G); /* W_1^T W_1 */
  tu_mm(0, 0, D, D, D, r.P, G, T);                                    /* P W_1^T W_1 */
  split(&r, D, T, &Gin, &Gout);
  double z0 = hypot(WP_out, Gout), phi, Wz[M * D] = {0}, y2;
  assert_true(fabs(mn.z0 - z0) <= 1e-12 * (1 + z0));
  assert_true(fabs(mn.u1v0 - WP_in) <= 1e-12 * (1 + WP_in));
  assert_true(fabs(mn.fig1 - out) <= 1e-12 * (1 + out));
  assert_int_equal(dln_loss_eval(r.loss, W, &phi, NULL), DLN_OK);
  assert_int_equal(dln_loss_eval(r.loss, Wz, &y2, NULL), DLN_OK);
  assert_true(fabs(mn.e0 - sqrt(2 * (phi - r.loss->lstar))) <= 1e-12 * (1 + mn.e0));
  assert_true(fabs(mn.yfro - tu_fro(M * NS, r.Y->data)) <= 1e-12 * mn.yfro);
  assert_int_equal(mn.rank, NS);
  print_message("003 constants: |Z0| = %.6g, |U1V0| = %.6g, |E0| = %.6g, fig1 = %.6g, c = %.4g\n", mn.z0, mn.u1v0, mn.e0,
                mn.fig1, mn.c);
  /* refusal: a factorization loss */
  dln_loss *fl = tu_fact_loss(2, 2, (double[]){1, 0, 0, 1});
  tu_expect_na(dln_theory_minnorm_split(fl, W, &a, &b), "regression");
  dln_loss_free(fl);
  free(th);
  dln_net_free(net);
  reg_free(&r);
}

/* Flow θ from 0 to T in nseg pieces; the loss at each piece's start into L (nseg + 1). */
static void flow_record(dln_net *net, dln_loss *loss, double *th, double T, int nseg, double *t, double *L) {
  for (int k = 0; k <= nseg; ++k) {
    t[k] = T * k / nseg;
    assert_int_equal(dln_net_grad(net, loss, th, &L[k], NULL, NULL), DLN_OK);
    if (k < nseg) tu_flow(net, loss, th, T / nseg, 1e-11, 1e-13);
  }
}

static void test_minnorm_bound(void **state) {
  (void)state;
  tu_seed(32);
  reg r;
  reg_make(&r);
  int h = 12, widths[3] = {D, h, M};
  dln_net *net = NULL;
  assert_int_equal(dln_net_alloc(&net, 2, widths, 0), DLN_OK);
  size_t np = net->nparams;
  double *th0 = tu_dalloc(np), *th = tu_dalloc(np), t[41], L[41], T = 20;
  for (int pass = 0; pass < 2; ++pass) {
    tu_fill_gauss((size_t)h * D, th0 + net->offset[1], 1.0); /* W_1 large, W_2 small: c > 0 */
    tu_fill_gauss((size_t)M * h, th0 + net->offset[2], 0.1);
    if (pass == 1) { /* the invariant set U_2 = 0 (003 Prop. 1): W_1 := W_1 P */
      double T1[64 * D];
      tu_mm(0, 0, h, D, D, th0 + net->offset[1], r.P, T1);
      memcpy(th0 + net->offset[1], T1, (size_t)h * D * sizeof(double));
    }
    memcpy(th, th0, np * sizeof *th);
    flow_record(net, r.loss, th, T, 40, t, L);
    dln_curve cv;
    dln_curve_arrays(&cv, 41, t, L);
    dln_verdict v, v0;
    assert_int_equal(dln_bound_minnorm(net, r.loss, th0, th, T, &cv, 1e-6, &v), DLN_OK);
    assert_int_equal(dln_bound_minnorm(net, r.loss, th0, th, T, NULL, 1e-6, &v0), DLN_OK);
    print_message("003 Thm 2 core (%s): %s\n", pass ? "U_2 = 0" : "random", v.message);
    assert_true(v.applicable && v.holds && v0.holds);
    assert_true(v.bound <= v0.bound); /* the measured error only sharpens it */
    /* the measured distance, computed here */
    double W[M * D], d = 0;
    assert_int_equal(dln_net_product(net, th, W), DLN_OK);
    for (int i = 0; i < M * D; ++i) d += (W[i] - r.Wstar[i]) * (W[i] - r.Wstar[i]);
    assert_true(fabs(v.measured - sqrt(d)) <= 1e-9 * (1 + sqrt(d)));
    if (pass == 1) {
      /* Z(0) = 0: W → Θ̂; the bound is ‖E(T)‖/√λ_r, within a factor 10 of the distance */
      assert_true(v.measured <= 1e-4);
      assert_true(v.bound <= 10 * v.measured + 1e-12);
    }
    /* tampered end point: W_2 + 0.1 */
    double *bad = tu_dalloc(np);
    memcpy(bad, th, np * sizeof *bad);
    for (int i = 0; i < M * h; ++i) bad[net->offset[2] + i] += 0.1 * (pass ? 1 : 1e3);
    assert_int_equal(dln_bound_minnorm(net, r.loss, th0, bad, T, &cv, 1e-6, &v), DLN_OK);
    assert_true(v.applicable && !v.holds);
    assert_non_null(strstr(v.message, "VIOLATED"));
    free(bad);
  }
  /* balanced init: c = 0, refused */
  memset(th0, 0, np * sizeof *th0);
  tu_expect_na(dln_bound_minnorm(net, r.loss, th0, th0, 1.0, NULL, 1e-6, &(dln_verdict){0}), "c > 0");
  dln_net_free(net);
  /* depth 3: refused */
  int w3[4] = {D, 3, 3, M};
  assert_int_equal(dln_net_alloc(&net, 3, w3, 0), DLN_OK);
  double *th3 = tu_dalloc(net->nparams);
  dln_minnorm mn;
  tu_expect_na(dln_theory_minnorm_setup(net, r.loss, th3, &mn), "depth-2");
  free(th3);
  dln_net_free(net);
  free(th0), free(th);
  reg_free(&r);
}

static void test_lemma1(void **state) {
  (void)state;
  double e17, e18, e19;
  int m = 2, Dd = 8, r = 4, h = 1000;
  double a = 0.4, dl = 0.1;
  assert_int_equal(dln_theory_003_lemma1(m, Dd, r, h, a, dl, &e17, &e18, &e19), DLN_OK);
  double num = sqrt(10.0) + 0.5 * log(20.0), den = pow(1000.0, 0.3);
  assert_true(fabs(e17 - pow(1000.0, 0.2)) <= 1e-14 * e17);
  assert_true(fabs(e18 - 2 * sqrt(6.0) * num / den) <= 1e-14 * e18);
  assert_true(fabs(e19 - 2 * sqrt(2.0) * num / den) <= 1e-14 * e19);
  tu_expect_na(dln_theory_003_lemma1(m, Dd, r, h, 0.25, dl, &e17, NULL, NULL), "alpha");
  tu_expect_na(dln_theory_003_lemma1(m, Dd, r, h, 0.6, dl, &e17, NULL, NULL), "alpha");
  assert_int_equal(dln_theory_003_lemma1(m, Dd, r, h, a, 1.0, &e17, NULL, NULL), DLN_EINVAL);
  assert_int_equal(dln_theory_003_lemma1(m, Dd, 9, h, a, dl, &e17, NULL, NULL), DLN_EINVAL);
  /* eq. 20 = C^{1/h^{1−2α}} · eq. 18, C = exp(1 + √λ_1/λ_r ‖Y‖) */
  dln_minnorm b = {.rank = r, .d0 = Dd, .m = m, .width = h, .lambda1 = 4, .lambdar = 0.5, .yfro = 3};
  double e20;
  assert_int_equal(dln_theory_003_eq20(&b, a, dl, &e20), DLN_OK);
  assert_true(fabs(e20 - exp((1 + 2 / 0.5 * 3) / pow(1000.0, 0.2)) * e18) <= 1e-13 * e20);

  /* width_scaled draws (003 §3.2, α = 1/2): eq. 18 holds, and Fig. 1's initial measure
   * ‖Φ_2Φ_2^T(U(0)V(0)^T − Θ̂)‖ shrinks like h^{-1/2} (mean of 5 draws, h = 50 vs 800) */
  tu_seed(33);
  reg rg;
  reg_make(&rg);
  double mean[2] = {0, 0};
  int hs[2] = {50, 800};
  for (int k = 0; k < 2; ++k) {
    int widths[3] = {D, hs[k], M};
    dln_net *net = NULL;
    assert_int_equal(dln_net_alloc(&net, 2, widths, 0), DLN_OK);
    double *th = tu_dalloc(net->nparams);
    for (int s = 0; s < 5; ++s) {
      dln_rng *rng = dln_rng_alloc(100 + (uint64_t)s, 0);
      assert_int_equal(dln_init_width_scaled(net, th, rng, 0.5), DLN_OK);
      dln_rng_free(rng);
      dln_minnorm mn;
      assert_int_equal(dln_theory_minnorm_setup(net, rg.loss, th, &mn), DLN_OK);
      assert_int_equal(dln_theory_003_lemma1(M, D, mn.rank, hs[k], 0.5, 0.05, &e17, &e18, &e19), DLN_OK);
      assert_true(mn.z0 <= e18 && mn.u1v0 <= e19);
      mean[k] += mn.fig1 / 5;
    }
    free(th);
    dln_net_free(net);
  }
  double ratio = mean[0] / mean[1]; /* √16 = 4 expected */
  print_message("003 Fig. 1 initial measure: h = 50: %.4g, h = 800: %.4g, ratio %.3g (4 expected)\n", mean[0], mean[1], ratio);
  assert_true(ratio > 2.5 && ratio < 6.0);
  reg_free(&rg);
}

/* ------------------------------------------------------------------ 001 Prop. 2 */

enum { NY = 3 };

/* Ẋ = 2(Y − X)X + 2X(Y − X) (001 eq. 5) by classical RK4, n steps over dt. */
static void rk4_rhs(const double *Y, const double *X, double *F) {
  double YX[NY * NY], XX[NY * NY];
  tu_mm(0, 0, NY, NY, NY, Y, X, YX);
  tu_mm(0, 0, NY, NY, NY, X, X, XX);
  for (int j = 0; j < NY; ++j)
    for (int i = 0; i < NY; ++i) F[i + j * NY] = 2 * (YX[i + j * NY] + YX[j + i * NY]) - 4 * XX[i + j * NY];
}
static void rk4_riccati(const double *Y, double *X, double dt, int n) {
  double h = dt / n, k1[NY * NY], k2[NY * NY], k3[NY * NY], k4[NY * NY], T[NY * NY];
  for (int s = 0; s < n; ++s) {
    rk4_rhs(Y, X, k1);
    for (int i = 0; i < NY * NY; ++i) T[i] = X[i] + 0.5 * h * k1[i];
    rk4_rhs(Y, T, k2);
    for (int i = 0; i < NY * NY; ++i) T[i] = X[i] + 0.5 * h * k2[i];
    rk4_rhs(Y, T, k3);
    for (int i = 0; i < NY * NY; ++i) T[i] = X[i] + h * k3[i];
    rk4_rhs(Y, T, k4);
    for (int i = 0; i < NY * NY; ++i) X[i] += h / 6 * (k1[i] + 2 * k2[i] + 2 * k3[i] + k4[i]);
  }
}

static void test_psd_projection(void **state) {
  (void)state;
  tu_seed(34);
  double Q[NY * NY], Y[NY * NY], lam[NY] = {2.0, -0.7, 1.0};
  tu_rand_orth(NY, Q);
  tu_qdq(NY, Q, lam, Y);
  dln_loss *loss = tu_fact_loss(NY, NY, Y);
  double Yt[NY * NY], smin, ls;
  assert_int_equal(dln_theory_psd_projection(loss, Yt, &smin, &ls), DLN_OK);
  /* Moreau: Ỹ ⪰ 0, Ỹ − Y ⪰ 0, ⟨Ỹ, Ỹ − Y⟩ = 0 */
  double A[NY * NY], ev[NY], ip = 0, nd = 0;
  for (int i = 0; i < NY * NY; ++i) ip += Yt[i] * (Yt[i] - Y[i]), nd += (Yt[i] - Y[i]) * (Yt[i] - Y[i]);
  memcpy(A, Yt, sizeof A);
  tu_syev(NY, A, ev, 0);
  assert_true(ev[0] >= -1e-14);
  for (int i = 0; i < NY * NY; ++i) A[i] = Yt[i] - Y[i];
  tu_syev(NY, A, ev, 0);
  assert_true(ev[0] >= -1e-14);
  assert_true(fabs(ip) <= 1e-14);
  assert_true(fabs(smin - 0.7) <= 1e-14 && fabs(ls - 0.5 * nd) <= 1e-14 && fabs(ls - 0.245) <= 1e-14);

  /* the exact solution (001 eq. 8) as the trajectory; tied net for the hypotheses */
  int widths[3] = {NY, 4, NY};
  dln_net *net = NULL;
  assert_int_equal(dln_net_alloc(&net, 2, widths, 1), DLN_OK);
  double *th = tu_dalloc(net->nparams), X0[NY * NY], X[NY * NY];
  for (int pass = 0; pass < 2; ++pass) {
    if (pass == 1) { /* a definite Y: rate 8 σ_min */
      lam[1] = 0.7;
      tu_qdq(NY, Q, lam, Y);
      dln_loss_free(loss);
      loss = tu_fact_loss(NY, NY, Y);
    }
    tu_fill_gauss(net->nparams, th, 0.3);
    assert_int_equal(dln_net_product(net, th, X0), DLN_OK);
    /* L(t) = ½‖Y − X(t)‖² at t_k = 0.03 k (e = 0) and at t_k/2 (e = 1: half the rate) */
    double t[301], L[2][301], Xs[NY * NY];
    memcpy(X, X0, sizeof X);
    memcpy(Xs, X0, sizeof Xs);
    for (int k = 0; k < 301; ++k) {
      t[k] = 0.03 * k;
      if (k > 0) {
        rk4_riccati(Y, X, 0.03, 30);
        rk4_riccati(Y, Xs, 0.015, 15);
      }
      double s0 = 0, s1 = 0;
      for (int i = 0; i < NY * NY; ++i) s0 += (Y[i] - X[i]) * (Y[i] - X[i]), s1 += (Y[i] - Xs[i]) * (Y[i] - Xs[i]);
      L[0][k] = 0.5 * s0, L[1][k] = 0.5 * s1;
    }
    for (int e = 0; e < 2; ++e) {
      dln_curve cv;
      dln_curve_arrays(&cv, 301, t, L[e]);
      dln_verdict v;
      assert_int_equal(dln_bound_psd_projection(net, loss, th, &cv, 1e-9, 1e-4, 1e-12, 0.05, &v), DLN_OK);
      print_message("001 Prop. 2 (%s Y, %s): %s\n", pass ? "definite" : "indefinite", e ? "X(t/2)" : "X(t)", v.message);
      assert_true(v.applicable);
      assert_true(fabs(v.bound - (pass ? 8 : 4) * 0.7) <= 1e-12);
      assert_int_equal(v.holds, !e);
    }
  }
  /* refusals: X0 = 0 (bracket singular), singular Y, untied, non-symmetric Y */
  double t3[3] = {0, 1, 2}, l3[3] = {1, 0.5, 0.25};
  dln_curve c3;
  dln_curve_arrays(&c3, 3, t3, l3);
  dln_verdict v;
  memset(th, 0, net->nparams * sizeof *th);
  tu_expect_na(dln_bound_psd_projection(net, loss, th, &c3, 1e-10, 1, 0, 0.05, &v), "nonsingular");
  tu_fill_gauss(net->nparams, th, 0.3);
  lam[1] = 0;
  tu_qdq(NY, Q, lam, Y);
  dln_loss_free(loss);
  loss = tu_fact_loss(NY, NY, Y);
  tu_expect_na(dln_bound_psd_projection(net, loss, th, &c3, 1e-10, 1, 1e-10, 0.05, &v), "Y nonsingular");
  Y[1] += 0.1;
  dln_loss_free(loss);
  loss = tu_fact_loss(NY, NY, Y);
  tu_expect_na(dln_bound_psd_projection(net, loss, th, &c3, 1e-10, 1, 0, 0.05, &v), "symmetric Y");
  dln_net_free(net);
  assert_int_equal(dln_net_alloc(&net, 2, widths, 0), DLN_OK);
  tu_expect_na(dln_bound_psd_projection(net, loss, th, &c3, 1e-10, 1, 0, 0.05, &v), "tied");
  dln_net_free(net);
  dln_loss_free(loss);
  free(th);
}

/* ------------------------------------------------------------------ 002 Ex. 2, Prop. 5 / Ex. 4 */

/* Ẇ_s from 002 Ex. 2 vs a second-order one-sided difference of U U^T along the tied flow
 * (integrated by the library at rtol 1e-13): 2 D(h) − D(2h), D(h) = (W_s(h) − W_s(0))/h. */
static void test_sym_e2e(void **state) {
  (void)state;
  tu_seed(35);
  enum { d = 3, k = 4 };
  double Y[d * d], Ws[d * d], P[d * d], W1[d * d], W2[d * d], Dm[d * d];
  tu_fill_gauss(d * d, Y, 1.0); /* not symmetric: G + G^T matters */
  dln_loss *loss = tu_fact_loss(d, d, Y);
  int widths[3] = {d, k, d};
  dln_net *net = NULL;
  assert_int_equal(dln_net_alloc(&net, 2, widths, 1), DLN_OK);
  double *th = tu_dalloc(net->nparams), *t1 = tu_dalloc(net->nparams), h = 1e-5;
  tu_fill_gauss(net->nparams, th, 0.5);
  assert_int_equal(dln_net_product(net, th, Ws), DLN_OK);
  assert_int_equal(dln_theory_sym_e2e(loss, Ws, P), DLN_OK);
  memcpy(t1, th, net->nparams * sizeof *t1);
  tu_flow(net, loss, t1, h, 1e-13, 1e-15);
  assert_int_equal(dln_net_product(net, t1, W1), DLN_OK);
  tu_flow(net, loss, t1, h, 1e-13, 1e-15);
  assert_int_equal(dln_net_product(net, t1, W2), DLN_OK);
  for (int i = 0; i < d * d; ++i) Dm[i] = 2 * (W1[i] - Ws[i]) / h - (W2[i] - Ws[i]) / (2 * h);
  double err = tu_diffnorm(d * d, Dm, P), sc = tu_fro(d * d, P);
  print_message("002 Ex. 2: |dWs/dt (formula) - finite difference| = %.3g of %.3g\n", err, sc);
  assert_true(err <= 1e-6 * sc);
  /* a wrong formula (G instead of G + G^T) is far off: the check can fail */
  double G[d * d], v, Pw[d * d];
  assert_int_equal(dln_loss_eval(loss, Ws, &v, G), DLN_OK);
  tu_mm(0, 0, d, d, d, G, Ws, Pw);
  for (int i = 0; i < d * d; ++i) Pw[i] = -2 * Pw[i];
  assert_true(tu_diffnorm(d * d, Dm, Pw) > 1e-2 * sc);
  dln_loss *rect = tu_fact_loss(2, 3, (double[]){1, 2, 3, 4, 5, 6});
  tu_expect_na(dln_theory_sym_e2e(rect, Ws, P), "square");
  dln_loss_free(rect);
  free(th), free(t1);
  dln_net_free(net);
  dln_loss_free(loss);
}

static void test_prop5(void **state) {
  (void)state;
  /* 002 eq. 15: completion of entries (1,2), (2,1), (2,2) with values 1, 1, 0; l = 1/6 [...] */
  int r[3] = {0, 1, 1}, cidx[3] = {1, 0, 1};
  double vals[3] = {1, 1, 0}, b1, b2, h;
  dln_loss *loss = NULL;
  assert_int_equal(dln_loss_completion_alloc(&loss, 2, 2, 3, r, cidx, vals), DLN_OK);
  assert_int_equal(dln_theory_prop5_instance(loss, &b1, &b2, &h), DLN_OK);
  assert_true(fabs(b1 - 1) <= 1e-15 && fabs(b2 - 1) <= 1e-15 && fabs(h - 1.0 / 3) <= 1e-15);
  /* the same as sensing with A_i = e1e2^T, e2e1^T, e2e2^T (vec column-major) */
  double A[12] = {0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 1};
  dln_loss *sens = NULL;
  assert_int_equal(dln_loss_sensing_alloc(&sens, 2, 2, 3, A, vals), DLN_OK);
  assert_int_equal(dln_theory_prop5_instance(sens, &b1, &b2, &h), DLN_OK);
  assert_true(fabs(b1 - 1) <= 1e-14 && fabs(b2 - 1) <= 1e-14 && fabs(h - 1.0 / 3) <= 1e-14);
  dln_loss_free(sens);
  /* the printed bound (1 − √(6ℓ))²/√(6ℓ) */
  double ell = 1e-4, e = sqrt(6 * ell);
  assert_true(fabs(dln_theory_prop5_bound(1, 1, 1.0 / 3, ell) - (1 - e) * (1 - e) / e) <= 1e-13 / e);
  assert_true(isnan(dln_theory_prop5_bound(1, 1, 1.0 / 3, 0.2))); /* e ≥ 1: no bound */
  /* balanced depth 2: W_1 = a I, W_2 = a I (det > 0); the states: W = diag(x, ...) with
   * the loss of the divergent branch */
  int widths[3] = {2, 2, 2};
  dln_net *net = NULL;
  assert_int_equal(dln_net_alloc(&net, 2, widths, 0), DLN_OK);
  double th[8] = {0.7, 0, 0, 0.7, 0.7, 0, 0, 0.7}, ls[3] = {1e-2, 1e-4, 1e-6}, nm[3];
  for (int i = 0; i < 3; ++i) nm[i] = 1.2 * dln_theory_prop5_bound(1, 1, 1.0 / 3, ls[i]);
  dln_verdict v;
  assert_int_equal(dln_bound_norm_divergence(net, loss, th, 3, ls, nm, 1e-6, &v), DLN_OK);
  assert_true(v.applicable && v.holds);
  assert_string_equal(v.source, "002 Prop. 5");
  nm[1] *= 0.5; /* a norm below the bound: violated */
  assert_int_equal(dln_bound_norm_divergence(net, loss, th, 3, ls, nm, 1e-6, &v), DLN_OK);
  assert_true(v.applicable && !v.holds);
  /* det W(0) < 0 with b1 b2 > 0: refused; Ex. 4's instance (b2 = −1) accepts it */
  th[3] = -0.7;
  tu_expect_na(dln_bound_norm_divergence(net, loss, th, 3, ls, nm, 1e-6, &v), "sign det W(0)");
  dln_loss_free(loss);
  vals[1] = -1;
  assert_int_equal(dln_loss_completion_alloc(&loss, 2, 2, 3, r, cidx, vals), DLN_OK);
  nm[1] *= 2;
  assert_int_equal(dln_bound_norm_divergence(net, loss, th, 3, ls, nm, 1e-6, &v), DLN_OK);
  assert_true(v.applicable && v.holds);
  assert_string_equal(v.source, "002 Ex. 4");
  dln_loss_free(loss);
  /* not the instance: an observed (1,1) entry */
  r[0] = 0, cidx[0] = 0;
  assert_int_equal(dln_loss_completion_alloc(&loss, 2, 2, 3, r, cidx, vals), DLN_OK);
  tu_expect_na(dln_theory_prop5_instance(loss, NULL, NULL, NULL), "instance");
  dln_loss_free(loss);
  dln_net_free(net);
}

/* ------------------------------------------------------------------ 004 Prop. 5 */

/* A point of the stratum L (mask over the dy = min(d0, dN) components) built here: for
 * Ȳ = diag(s) (dy x dx), left = U_L [M 0] Q^T (dy x d1), right = Q [M^{-1} C; Z] P^T
 * (d1 x dx) with C = Σ_L V_L^T P, P the coordinates not in {i ∉ L}, M diagonal, Q a random
 * rotation, Z random; then W = left·right = Σ_{i∈L} s_i e_i e_i^T and the residual is
 * orthogonal to both factors. dN > d0: the transposed construction. */
static void stratum_point(int d0, int d1, int dN, unsigned mask, const double *s, dln_net **net, dln_loss **loss,
                          double **theta, int *r) {
  int dy = d0 < dN ? d0 : dN, dx = d0 < dN ? dN : d0, tr = dN > d0;
  int L[16], nl = 0, P[16], np = 0;
  for (int i = 0; i < dy; ++i)
    if (mask >> i & 1u) L[nl++] = i;
  for (int j = 0; j < dx; ++j)
    if (j >= dy || (mask >> j & 1u)) P[np++] = j;
  *r = nl;
  double *left = tu_dalloc((size_t)dy * d1), *right = tu_dalloc((size_t)d1 * dx), *Q = tu_dalloc((size_t)d1 * d1);
  double *Al = tu_dalloc((size_t)dy * d1), *Br = tu_dalloc((size_t)d1 * dx), m[16];
  tu_rand_orth(d1, Q);
  for (int k = 0; k < nl; ++k) {
    m[k] = 0.5 + tu_urand();
    Al[L[k] + (size_t)k * dy] = m[k]; /* U_L [M 0] */
  }
  for (int c = 0; c < np; ++c) {
    int j = P[c];
    for (int k = 0; k < nl; ++k) Br[k + (size_t)j * d1] = (L[k] == j ? s[j] : 0.0) / m[k]; /* M^{-1} C */
    for (int k = nl; k < d1; ++k) Br[k + (size_t)j * d1] = tu_grand();                       /* Z */
  }
  tu_mm(0, 1, dy, d1, d1, Al, Q, left);  /* left = Al Q^T */
  tu_mm(0, 0, d1, dx, d1, Q, Br, right); /* right = Q Br */
  int widths[3] = {d0, d1, dN};
  assert_int_equal(dln_net_alloc(net, 2, widths, 0), DLN_OK);
  *theta = tu_dalloc((*net)->nparams);
  double *W1 = *theta + (*net)->offset[1], *W2 = *theta + (*net)->offset[2], *Y = tu_dalloc((size_t)d0 * dN);
  for (int i = 0; i < dy; ++i) Y[i + (size_t)i * dN] = s[i];
  for (int i = 0; i < d1; ++i)
    for (int j = 0; j < d0; ++j) W1[i + (size_t)j * d1] = tr ? left[j + (size_t)i * dy] : right[i + (size_t)j * d1];
  for (int i = 0; i < dN; ++i)
    for (int j = 0; j < d1; ++j) W2[i + (size_t)j * dN] = tr ? right[j + (size_t)i * d1] : left[i + (size_t)j * dy];
  *loss = tu_fact_loss(dN, d0, Y);
  free(left), free(right), free(Q), free(Al), free(Br), free(Y);
}

static void test_stratum_dim(void **state) {
  (void)state;
  tu_seed(36);
  static const struct { int d0, d1, dN; unsigned mask; } cases[] = {
      {3, 2, 2, 1u}, {3, 4, 2, 1u}, {3, 4, 2, 2u}, {3, 4, 2, 0u}, {5, 5, 3, 5u}, {2, 3, 2, 3u}, {2, 4, 3, 2u}, {4, 3, 4, 9u}};
  double s[4] = {3.0, 1.7, 1.1, 0.6};
  for (size_t k = 0; k < sizeof cases / sizeof *cases; ++k) {
    dln_net *net = NULL;
    dln_loss *loss = NULL;
    double *th = NULL;
    int r;
    stratum_point(cases[k].d0, cases[k].d1, cases[k].dN, cases[k].mask, s, &net, &loss, &th, &r);
    double *g = tu_dalloc(net->nparams), phi;
    assert_int_equal(dln_net_grad(net, loss, th, &phi, g, NULL), DLN_OK);
    assert_true(tu_fro(net->nparams, g) <= 1e-12); /* a critical point */
    long dim, e27;
    dln_nullity nl;
    assert_int_equal(dln_theory_stratum_dim(cases[k].d0, cases[k].d1, cases[k].dN, r, &dim, &e27), DLN_OK);
    assert_int_equal(dln_hessian_nullity(net, loss, th, 1e-9, &nl), DLN_OK);
    print_message("004 Prop. 5: d = (%d, %d, %d), r = %d: nullity %d (gap %.3g), dimension %ld, eq. 27 as printed %ld\n", cases[k].d0,
                  cases[k].d1, cases[k].dN, r, nl.nullity, nl.gap, dim, e27);
    assert_true(nl.gap > 1e4);
    assert_int_equal(nl.nullity, (int)dim);
    int dy = cases[k].d0 < cases[k].dN ? cases[k].d0 : cases[k].dN;
    if (cases[k].d1 == dy) assert_int_equal(e27, dim);
    /* off the critical set (a random point): no kernel of that size */
    tu_fill_gauss(net->nparams, th, 0.7);
    assert_int_equal(dln_hessian_nullity(net, loss, th, 1e-9, &nl), DLN_OK);
    assert_true(nl.nullity < dim || dim == 0);
    free(th), free(g);
    dln_net_free(net);
    dln_loss_free(loss);
  }
  long dim;
  assert_int_equal(dln_theory_stratum_dim(3, 2, 2, 3, &dim, NULL), DLN_EINVAL); /* r > d_1 */
}

/* ------------------------------------------------------------------ 001 §5 */

/* Tied GD in X = UU^T (001 eq. 38 in matrix form), iterated here:
 * X ← X + 2η[(Y − X)X + X(Y − X)] + 4η²(Y − X)X(Y − X). */
static void gd_step(const double *Y, double *X, double eta) {
  double R[NY * NY], RX[NY * NY], XR[NY * NY], RXR[NY * NY];
  for (int i = 0; i < NY * NY; ++i) R[i] = Y[i] - X[i];
  tu_mm(0, 0, NY, NY, NY, R, X, RX);
  tu_mm(0, 0, NY, NY, NY, X, R, XR);
  tu_mm(0, 0, NY, NY, NY, RX, R, RXR);
  for (int i = 0; i < NY * NY; ++i) X[i] += 2 * eta * (RX[i] + XR[i]) + 4 * eta * eta * RXR[i];
}

static void test_gd_rates(void **state) {
  (void)state;
  tu_seed(37);
  double Q[NY * NY], Y[NY * NY], lam[NY] = {2.0, 0.7, 1.0}, eta = 0.05;
  tu_rand_orth(NY, Q);
  int widths[3] = {NY, 4, NY};
  dln_net *net = NULL;
  assert_int_equal(dln_net_alloc(&net, 2, widths, 1), DLN_OK);
  double *th = tu_dalloc(net->nparams), X[NY * NY];
  for (int pass = 0; pass < 2; ++pass) {
    if (pass) lam[1] = -0.7; /* indefinite: the linear term of the negative block */
    tu_qdq(NY, Q, lam, Y);
    dln_loss *loss = tu_fact_loss(NY, NY, Y);
    double gd, flow;
    assert_int_equal(dln_theory_gd_rates(net, loss, eta, &gd, &flow), DLN_OK);
    /* definite: the σ = 0.7 block, (1 − 4ησ)^k; indefinite: the negative block's linear
     * term, (1 − 2η|σ|)^{2k} (001 eq. 38 with σ < 0) */
    double want_gd = pass ? -2 * log(1 - 2 * eta * 0.7) / eta : -2 * log(1 - 4 * eta * 0.7) / eta;
    assert_true(fabs(gd - want_gd) <= 1e-12 * want_gd && fabs(flow - (pass ? 2.8 : 5.6)) <= 1e-12);
    tu_fill_gauss(net->nparams, th, 0.3);
    assert_int_equal(dln_net_product(net, th, X), DLN_OK);
    double t[600], L[600];
    for (int k = 0; k < 600; ++k) {
      double s2 = 0;
      for (int i = 0; i < NY * NY; ++i) s2 += (Y[i] - X[i]) * (Y[i] - X[i]);
      t[k] = k * eta, L[k] = 0.5 * s2;
      gd_step(Y, X, eta);
    }
    dln_curve cv;
    dln_curve_arrays(&cv, 600, t, L);
    dln_verdict v;
    assert_int_equal(dln_bound_gd_rate(net, loss, eta, &cv, 1e-12, 1e-6, 0.03, &v), DLN_OK);
    print_message("001 sec. 5 (%s Y): %s\n", pass ? "indefinite" : "definite", v.message);
    assert_true(v.applicable && v.holds);
    /* the same iterates read with t = k η (1 + relative gap): the flow's rate, VIOLATED when
     * the two differ by more than the tolerance */
    for (int k = 0; k < 600; ++k) t[k] *= gd / flow;
    assert_int_equal(dln_bound_gd_rate(net, loss, eta, &cv, 1e-12, 1e-6, 0.03, &v), DLN_OK);
    assert_int_equal(v.holds, fabs(gd / flow - 1) <= 0.03 / 2 ? 1 : 0);
    if (!pass) assert_false(v.holds);
    /* too large a step: refused */
    double g2, f2;
    tu_expect_na(dln_theory_gd_rates(net, loss, 0.2, &g2, &f2), "4 eta max|sigma| < 1");
    dln_loss_free(loss);
  }
  dln_net_free(net);
  /* depth 1 (eq. 32): exact */
  int w1[2] = {4, 3};
  assert_int_equal(dln_net_alloc(&net, 1, w1, 0), DLN_OK);
  dln_loss *loss = tu_fact_loss(3, 4, (double[]){1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
  double gd, flow;
  assert_int_equal(dln_theory_gd_rates(net, loss, 0.1, &gd, &flow), DLN_OK);
  assert_true(fabs(gd + 2 * log(0.9) / 0.1) <= 1e-13 && flow == 2);
  dln_net_free(net);
  int w2[3] = {4, 5, 3};
  assert_int_equal(dln_net_alloc(&net, 2, w2, 0), DLN_OK);
  tu_expect_na(dln_theory_gd_rates(net, loss, 0.1, &gd, &flow), "tied depth 2");
  dln_net_free(net);
  dln_loss_free(loss);
  free(th);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_gd_rates),
      cmocka_unit_test(test_stratum_dim),
      cmocka_unit_test(test_sym_e2e),
      cmocka_unit_test(test_prop5),
      cmocka_unit_test(test_minnorm_constants),
      cmocka_unit_test(test_minnorm_bound),
      cmocka_unit_test(test_lemma1),
      cmocka_unit_test(test_psd_projection),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
