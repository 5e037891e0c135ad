/* &dln_integrator_rkc (src/dynamics/rkc.c): dln's own explicit Runge–Kutta loop on ARKODE's
 * table of erk_order, switching to Runge–Kutta–Chebyshev once the steps are
 * stability-limited. Each check is against a truth computed independently here:
 *   - the Dormand–Prince 5(4) table against its literature coefficients (Dormand &
 *     Prince 1980; HNW I Table II.5.2), quadrature and order-4 tree conditions, its
 *     stability polynomial and real stability boundary β ≈ 3.3066 (HNW II §IV.2);
 *     the other orders' tables against their quadrature conditions;
 *   - a stiff linear flow (depth 1, regression, input second moment S = XXᵀ with
 *     eigenvalues 1 … 10³): W(t) = W* + (W0 − W*) Q e^{−Λt} Qᵀ from LAPACKE_dsyev of S,
 *     at two tolerances, against ARKODE ERK's cost; dense output at 101 samples and the
 *     loss-threshold crossing time (bisection on the exact loss);
 *   - (the non-stiff closed forms of 001, linear eq. 4, Riccati eq. 8 and asymmetric
 *     spectral eq. 17/22, are checked for RKC and AUTO with the other methods in
 *     test_integrators.c);
 *   - the stiff σ = 1 case of 001 Fig. 1 against ARKODE ERK at rtol 1e-12;
 *   - a finite-time blow-up w' = w² (w = w0/(1 − w0 t)) and a loss undefined beyond a
 *     point, each compared with what &dln_integrator_flow reports for the same input;
 *   - determinism, the step budget, option validation, and `dln run --method rkc`. */
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
#include "dln/train.h"
#include "dynamics/dynamics_internal.h"
#include "testutil.h"

/* ------------------------------------------------------------------ helpers */

static void opts(dln_train_options *o, const dln_integrator_type *method, double t_end, double rtol) {
  dln_train_default_options(o);
  o->method = method;
  o->t_end = t_end;
  o->rtol = rtol;
  o->atol = rtol * 1e-2;
  o->nsamples = 2;
}

/* One dln_train from th0 into th (copied first), asserting DLN_OK and a stop at t_end. */
static dln_train_result run(dln_net *net, dln_loss *loss, const double *th0, double *th, const dln_integrator_type *method, double t_end,
                            double rtol) {
  dln_train_options o;
  opts(&o, method, t_end, rtol);
  memcpy(th, th0, net->nparams * sizeof(double));
  dln_train_result r = tu_train(net, loss, th, &o, NULL, NULL);
  assert_close(r.t, t_end, 1e-14, 0);
  return r;
}

/* switched to RKC from the RK phase: DP5, or DOP853 at rtol ≤ auto_dop853_rtol */
static int switched(const dln_train_result *r) {
  return r->integrator && (strcmp(r->integrator, "dln-rk5->rkc") == 0 || strcmp(r->integrator, "dln-dop853->rkc") == 0);
}

static void print_run(const char *what, const dln_train_result *r) {
  print_message("%-28s %-14s steps %6ld (att. %6ld, rej. %4ld), RHS %7ld, Hv %5ld, switched at %.4g, %.3f s\n", what,
                r->integrator, r->steps, r->attempted, r->rejected, r->grad_evals, r->jtv_evals, r->switched_at,
                r->wall_seconds);
}

static dln_table *table_for(dln_observer *obs, size_t cap) {
  int nc = dln_observer_ncols(obs);
  const char *names[64];
  assert_true(nc <= 64);
  for (int i = 0; i < nc; ++i) names[i] = dln_observer_colname(obs, i);
  dln_table *t = NULL;
  assert_int_equal(dln_table_alloc(&t, nc, names, cap), DLN_OK);
  return t;
}

/* ------------------------------------------------------------------ 1. the Dormand–Prince table */

/* R(z) = Σ_k γ_k z^k, γ_0 = 1, γ_k = bᵀA^{k−1}1 (A strictly lower triangular: k ≤ s). */
static int stab_poly(const dln_erk_tab *T, double *gam) {
  double v[DLN_ERK_MAX_STAGES], w[DLN_ERK_MAX_STAGES];
  gam[0] = 1;
  for (int i = 0; i < T->s; ++i) v[i] = 1;
  for (int k = 1; k <= T->s; ++k) {
    long double g = 0;
    for (int i = 0; i < T->s; ++i) g += (long double)T->b[i] * v[i];
    gam[k] = (double)g;
    for (int i = 0; i < T->s; ++i) {
      long double a = 0;
      for (int j = 0; j < T->s; ++j) a += (long double)T->A[i][j] * v[j];
      w[i] = (double)a;
    }
    memcpy(v, w, sizeof v);
  }
  return T->s;
}
static double stab_abs(const double *gam, int deg, double x) { /* |R(−x)| by Horner */
  double r = 0;
  for (int k = deg; k >= 0; --k) r = r * (-x) + gam[k];
  return fabs(r);
}

static void test_table_dopri5(void **state) {
  (void)state;
  dln_erk_tab T;
  assert_int_equal(dln_erk_tab_load(5, &T), DLN_OK);
  assert_int_equal(T.s, 7);
  assert_int_equal(T.q, 5);
  assert_int_equal(T.p, 4);
  assert_int_equal(T.fsal, 1);
  /* Dormand & Prince (1980), HNW I Table II.5.2 */
  const double c[7] = {0, 1. / 5, 3. / 10, 4. / 5, 8. / 9, 1, 1};
  const double A[7][6] = {{0},
                          {1. / 5},
                          {3. / 40, 9. / 40},
                          {44. / 45, -56. / 15, 32. / 9},
                          {19372. / 6561, -25360. / 2187, 64448. / 6561, -212. / 729},
                          {9017. / 3168, -355. / 33, 46732. / 5247, 49. / 176, -5103. / 18656},
                          {35. / 384, 0, 500. / 1113, 125. / 192, -2187. / 6784, 11. / 84}};
  const double b[7] = {35. / 384, 0, 500. / 1113, 125. / 192, -2187. / 6784, 11. / 84, 0};
  const double bh[7] = {5179. / 57600, 0, 7571. / 16695, 393. / 640, -92097. / 339200, 187. / 2100, 1. / 40};
  /* ARKODE stores the quotients as double expressions: a few ulps (|a| ≤ 12) */
  const double tol = 1e-14;
  for (int i = 0; i < 7; ++i) {
    assert_close(T.c[i], c[i], 0, tol);
    assert_close(T.b[i], b[i], 0, tol);
    assert_close(T.e[i], b[i] - bh[i], 0, tol); /* e = b − b̂ */
    for (int j = 0; j < 7; ++j) assert_close(T.A[i][j], j < i ? A[i][j] : 0.0, 0, tol);
  }
  assert_true(T.c[5] == 1.0 && T.c[6] == 1.0);
  /* order conditions from the loaded table: row sums Σ_j a_ij = c_i; bᵀc^{k−1} = 1/k
   * (k ≤ 5), b̂ᵀc^{k−1} = 1/k (k ≤ 4); the order-4 trees bᵀAc = 1/6, bᵀ(c∘Ac) = 1/8,
   * bᵀAc² = 1/12, bᵀA²c = 1/24 */
  double Ac[7], Ac2[7], AAc[7];
  for (int i = 0; i < 7; ++i) {
    long double rs = 0, a1 = 0, a2 = 0;
    for (int j = 0; j < 7; ++j) rs += T.A[i][j], a1 += T.A[i][j] * T.c[j], a2 += T.A[i][j] * T.c[j] * T.c[j];
    assert_close((double)rs, T.c[i], 0, 1e-14);
    Ac[i] = (double)a1, Ac2[i] = (double)a2;
  }
  for (int i = 0; i < 7; ++i) {
    long double a = 0;
    for (int j = 0; j < 7; ++j) a += T.A[i][j] * Ac[j];
    AAc[i] = (double)a;
  }
  for (int k = 1; k <= 5; ++k) {
    long double q = 0, qh = 0;
    for (int i = 0; i < 7; ++i) q += T.b[i] * pow(T.c[i], k - 1), qh += (T.b[i] - T.e[i]) * pow(T.c[i], k - 1);
    assert_close((double)q, 1.0 / k, 0, 1e-14);
    if (k <= 4) assert_close((double)qh, 1.0 / k, 0, 1e-14);
    else assert_true(fabs((double)qh - 0.2) > 1e-4); /* control: the embedding is order 4 only */
  }
  long double t1 = 0, t2 = 0, t3 = 0, t4 = 0;
  for (int i = 0; i < 7; ++i) t1 += T.b[i] * Ac[i], t2 += T.b[i] * T.c[i] * Ac[i], t3 += T.b[i] * Ac2[i], t4 += T.b[i] * AAc[i];
  assert_close((double)t1, 1. / 6, 0, 1e-14);
  assert_close((double)t2, 1. / 8, 0, 1e-14);
  assert_close((double)t3, 1. / 12, 0, 1e-14);
  assert_close((double)t4, 1. / 24, 0, 1e-14);
  /* stability polynomial 1 + z + … + z⁵/120 + z⁶/600 (HNW II §IV.2; b_7 = 0) */
  double gam[DLN_ERK_MAX_STAGES + 1];
  int deg = stab_poly(&T, gam);
  const double want[8] = {1, 1, 1. / 2, 1. / 6, 1. / 24, 1. / 120, 1. / 600, 0};
  for (int k = 0; k <= deg; ++k) assert_close(gam[k], want[k], 0, 1e-15);
  /* β: 3.3066 in the literature; |R(−x)| ≤ 1 on [0, β] (grid of 10⁴ points), > 1 just past it */
  print_message("dopri5: beta = %.10g, |R(-0.999 beta)| = %.6g, |R(-1.01 beta)| = %.6g\n", T.beta,
                stab_abs(gam, deg, 0.999 * T.beta), stab_abs(gam, deg, 1.01 * T.beta));
  assert_true(T.beta > 3.30 && T.beta < 3.32);
  for (int i = 0; i <= 10000; ++i) assert_true(stab_abs(gam, deg, T.beta * i / 10000.0) <= 1 + 1e-9);
  assert_true(stab_abs(gam, deg, 1.01 * T.beta) > 1);
  /* the first crossing of |R(−x)| = 1 by bisection on the polynomial: β to 1e-6 */
  double lo = 3.0, hi = 3.6;
  assert_true(stab_abs(gam, deg, lo) <= 1 && stab_abs(gam, deg, hi) > 1);
  for (int it = 0; it < 60; ++it) {
    double m = 0.5 * (lo + hi);
    if (stab_abs(gam, deg, m) > 1) hi = m; else lo = m;
  }
  assert_close(T.beta, lo, 0, 1e-6);
}

/* The other orders: the tables integrate polynomials to their order, rows sum to c,
 * and β bounds the stability interval. Orders 2 (Heun–Euler) and 3 (Bogacki–Shampine)
 * have the stability polynomials 1 + z + z²/2 (β = 2) and 1 + z + z²/2 + z³/6 (β ≈ 2.5127). */
static void test_tables_other_orders(void **state) {
  (void)state;
  const int orders[5] = {2, 3, 4, 6, 8};
  for (int oi = 0; oi < 5; ++oi) {
    dln_erk_tab T;
    assert_int_equal(dln_erk_tab_load(orders[oi], &T), DLN_OK);
    assert_int_equal(T.q, orders[oi]);
    assert_true(T.p == T.q - 1);
    for (int i = 0; i < T.s; ++i) {
      long double rs = 0;
      for (int j = 0; j < T.s; ++j) {
        if (j >= i) assert_true(T.A[i][j] == 0.0);
        rs += T.A[i][j];
      }
      assert_close((double)rs, T.c[i], 0, 1e-13);
    }
    for (int k = 1; k <= T.q; ++k) {
      long double qd = 0, qh = 0;
      for (int i = 0; i < T.s; ++i) qd += T.b[i] * pow(T.c[i], k - 1), qh += (T.b[i] - T.e[i]) * pow(T.c[i], k - 1);
      assert_close((double)qd, 1.0 / k, 0, 1e-13);
      if (k <= T.p) assert_close((double)qh, 1.0 / k, 0, 1e-13);
    }
    double gam[DLN_ERK_MAX_STAGES + 1];
    int deg = stab_poly(&T, gam);
    print_message("order %d: %d stages, embedding %d, fsal %d, beta %.6g\n", T.q, T.s, T.p, T.fsal, T.beta);
    assert_true(T.beta > 1.9 && T.beta < 7);
    for (int i = 0; i <= 2000; ++i) assert_true(stab_abs(gam, deg, T.beta * i / 2000.0) <= 1 + 1e-9);
    assert_true(stab_abs(gam, deg, 1.01 * T.beta) > 1);
    if (T.q == 2) assert_close(T.beta, 2.0, 0, 1e-6);
    if (T.q == 3) assert_close(T.beta, 2.5127453266, 0, 1e-6);
  }
}

/* ------------------------------------------------------------------ 2. stiff linear flow */

/* Depth 1, ℓ(W) = ½‖WX − Y‖² (src/model/loss.c: no division by n), W d1 x d0, X d0 x n:
 * Ẇ = −(WX − Y)Xᵀ = −(W − W*)S, S = XXᵀ, W*S = YXᵀ. With S = QΛQᵀ (LAPACKE_dsyev),
 * W(t) = W* + (W0 − W*) Q e^{−Λt} Qᵀ. X is built with the spectrum of S log-spaced on
 * [1, 10³]: the Hessian's spectral radius is 10³ while the slowest mode decays like e^{−t}. */
enum { LD0 = 8, LD1 = 3, LN = 12 };
typedef struct {
  dln_net *net;
  dln_loss *loss;
  double X[LD0 * LN], Y[LD1 * LN], Q[LD0 * LD0], lam[LD0], Ws[LD1 * LD0], W0[LD1 * LD0], E0Q[LD1 * LD0];
} lin_problem;

static void lin_make(lin_problem *p) {
  int widths[2] = {LD0, LD1};
  tu_seed(0x1234567ull); /* the same problem in every test */
  assert_int_equal(dln_net_alloc(&p->net, 1, widths, 0), DLN_OK);
  assert_int_equal(p->net->nparams, LD0 * LD1);
  double U[LD0 * LD0], V[LN * LN], s[LD0];
  tu_rand_orth(LD0, U);
  tu_rand_orth(LN, V);
  for (int k = 0; k < LD0; ++k) s[k] = sqrt(pow(10.0, 3.0 * k / (LD0 - 1)));
  tu_usv(LD0, LN, LD0, U, s, V, p->X); /* X = U diag(s) V[:, :d0]ᵀ */
  tu_fill_gauss(LD1 * LN, p->Y, 1.0);
  tu_fill_gauss(LD1 * LD0, p->W0, 1.0);
  dln_mat Xm = {LD0, LN, p->X}, Ym = {LD1, LN, p->Y};
  assert_int_equal(dln_loss_regression_alloc(&p->loss, &Xm, &Ym), DLN_OK);
  /* the truth: S = XXᵀ, its eigenpairs, W* = YXᵀ Q Λ⁻¹ Qᵀ, (W0 − W*)Q */
  tu_mm(0, 1, LD0, LD0, LN, p->X, p->X, p->Q);
  tu_syev(LD0, p->Q, p->lam, 1);
  assert_close(p->lam[0], 1.0, 1e-12, 0);
  assert_close(p->lam[LD0 - 1], 1e3, 1e-12, 0);
  double B[LD1 * LD0], C[LD1 * LD0], E0[LD1 * LD0];
  tu_mm(0, 1, LD1, LD0, LN, p->Y, p->X, B);
  tu_mm(0, 0, LD1, LD0, LD0, B, p->Q, C);
  for (int k = 0; k < LD0; ++k)
    for (int i = 0; i < LD1; ++i) C[i + k * LD1] /= p->lam[k];
  tu_mm(0, 1, LD1, LD0, LD0, C, p->Q, p->Ws);
  for (int i = 0; i < LD1 * LD0; ++i) E0[i] = p->W0[i] - p->Ws[i];
  tu_mm(0, 0, LD1, LD0, LD0, E0, p->Q, p->E0Q);
}
static void lin_free(lin_problem *p) {
  dln_loss_free(p->loss);
  dln_net_free(p->net);
}
static void lin_exact(const lin_problem *p, double t, double *W) {
  double D[LD1 * LD0];
  for (int k = 0; k < LD0; ++k)
    for (int i = 0; i < LD1; ++i) D[i + k * LD1] = p->E0Q[i + k * LD1] * exp(-p->lam[k] * t);
  tu_mm(0, 1, LD1, LD0, LD0, D, p->Q, W);
  for (int i = 0; i < LD1 * LD0; ++i) W[i] += p->Ws[i];
}
/* ‖W − W(t)‖_F / ‖W(t)‖_F */
static double lin_err(const lin_problem *p, const double *W, double t) {
  double Wt[LD1 * LD0];
  lin_exact(p, t, Wt);
  return tu_diffnorm(LD1 * LD0, W, Wt) / tu_fro(LD1 * LD0, Wt);
}
/* ½‖WX − Y‖², plain loops */
static double lin_loss(const lin_problem *p, const double *W) {
  double R[LD1 * LN];
  tu_mm(0, 0, LD1, LN, LD0, W, p->X, R);
  long double s = 0;
  for (int i = 0; i < LD1 * LN; ++i) s += (long double)(R[i] - p->Y[i]) * (R[i] - p->Y[i]);
  return (double)(0.5 * s);
}

static void test_stiff_linear(void **state) {
  (void)state;
  lin_problem p;
  lin_make(&p);
  double th[LD1 * LD0];
  const double t_end = 10, rtols[2] = {1e-4, 1e-7};
  double err[2];
  dln_train_result rk[2], fl[2];
  for (int k = 0; k < 2; ++k) {
    fl[k] = run(p.net, p.loss, p.W0, th, &dln_integrator_flow, t_end, rtols[k]);
    double ef = lin_err(&p, th, t_end);
    rk[k] = run(p.net, p.loss, p.W0, th, &dln_integrator_rkc, t_end, rtols[k]);
    err[k] = lin_err(&p, th, t_end);
    char what[64];
    snprintf(what, sizeof what, "linear rtol %g: erk", rtols[k]);
    print_run(what, &fl[k]);
    snprintf(what, sizeof what, "linear rtol %g: rkc", rtols[k]);
    print_run(what, &rk[k]);
    print_message("  rel. error at t = %g: rkc %.3g, erk %.3g\n", t_end, err[k], ef);
  }
  /* control: the minimizer W* itself, ‖W(t) − W*‖/‖W(t)‖: what is left of the transient at
   * t_end (test_dense_output checks earlier times, where more of it is left) */
  double wrong = lin_err(&p, p.Ws, t_end);
  print_message("  control (W* in place of W(t)): %.3g\n", wrong);
  assert_true(err[1] <= wrong / 50);
  for (int k = 0; k < 2; ++k) {
    /* the run switches to RKC, after the fast transient (t ≈ 1/λ_max … a few) */
    assert_true(switched(&rk[k]));
    assert_true(isfinite(rk[k].switched_at) && rk[k].switched_at > 0 && rk[k].switched_at < t_end);
    assert_true(rk[k].jtv_evals > 0); /* ρ by power iteration */
    assert_true(rk[k].attempted == rk[k].steps + rk[k].rejected);
    /* global error ≤ 10·rtol (error-per-step control; second order after the switch) */
    assert_true(err[k] <= 10 * rtols[k]);
    /* markedly cheaper than ARKODE ERK, whose steps stay at h ≈ β/λ_max ≈ 3.3e-3: at
     * most a third of its right-hand sides, counting a Hessian-vector product as one
     * (measured: 1/15 at rtol 1e-4, 1/4.5 at 1e-7) */
    assert_true(3 * (rk[k].grad_evals + rk[k].jtv_evals) < fl[k].grad_evals);
    assert_true(fl[k].steps >= 0.9 * t_end * 1e3 / 3.31);
  }
  /* error-per-step control of a second-order method: local error ∝ h³ = tol, global
   * error ∝ tol^{2/3}, so 10³ on rtol gives ~10² on the error; require 30 */
  assert_true(err[1] <= err[0] / 30);
  lin_free(&p);
}

/* Dense output (cubic Hermite) at 101 samples: sampling leaves the steps unchanged, and
 * the samples follow the exact flow: ‖W − W*‖ (observer column dist_ref) and the loss. */
static void test_dense_output(void **state) {
  (void)state;
  lin_problem p;
  lin_make(&p);
  double th[LD1 * LD0];
  const double t_end = 10, rtol = 1e-7;
  long steps[2];
  double worst_d = 0, worst_l = 0;
  for (int k = 0; k < 2; ++k) {
    dln_train_options o;
    opts(&o, &dln_integrator_rkc, t_end, rtol);
    o.nsamples = k ? 101 : 2;
    dln_observer *obs = NULL;
    assert_int_equal(dln_observer_alloc(&obs, p.net, p.loss, p.W0, DLN_OBS_LOSS | DLN_OBS_DIST), DLN_OK);
    dln_table *tab = table_for(obs, 128);
    memcpy(th, p.W0, sizeof th);
    dln_train_result r = tu_train(p.net, p.loss, th, &o, obs, tab);
    assert_true(switched(&r));
    steps[k] = r.steps;
    assert_int_equal((int)tab->nrows, o.nsamples);
    int tc = dln_table_col(tab, "t"), lc = dln_table_col(tab, "loss"), dc = dln_table_col(tab, "dist_ref");
    assert_true(tc >= 0 && lc >= 0 && dc >= 0);
    for (size_t i = 0; i < tab->nrows; ++i) {
      const double *row = dln_table_row(tab, i);
      double t = row[tc], Wt[LD1 * LD0], E[LD1 * LD0];
      assert_close(t, t_end * (double)i / (o.nsamples - 1), 1e-14, 1e-14);
      lin_exact(&p, t, Wt);
      for (int q = 0; q < LD1 * LD0; ++q) E[q] = Wt[q] - p.Ws[q];
      double nW = tu_fro(LD1 * LD0, Wt);
      /* |dist_num − dist_exact| ≤ ‖W_num − W(t)‖, measured against ‖W(t)‖ as the state error */
      double ed = fabs(row[dc] - tu_fro(LD1 * LD0, E)) / nW;
      double el = fabs(row[lc] - lin_loss(&p, Wt)) / lin_loss(&p, Wt);
      if (ed > worst_d) worst_d = ed;
      if (el > worst_l) worst_l = el;
    }
    dln_table_free(tab);
    dln_observer_free(obs);
  }
  print_message("rkc dense output: %ld steps with 2 samples, %ld with 101; max |dist_ref error|/|W(t)| %.3g, "
                "max rel. loss error %.3g\n",
                steps[0], steps[1], worst_d, worst_l);
  assert_int_equal(steps[0], steps[1]);
  /* the interpolant's O(h⁴) error stays below the integration error: 10·rtol as at t_end
   * (test_stiff_linear); the loss is within 10·rtol relative as well */
  assert_true(worst_d <= 10 * rtol);
  assert_true(worst_l <= 10 * rtol);
  lin_free(&p);
}

/* loss_threshold: the stop time against the exact crossing of φ(W(t)) = φ_thr (φ decreases
 * monotonically along a gradient flow; bisection on the exact loss). The threshold lies
 * after the switch, so the bisection runs on the RKC step's interpolant. */
static void test_loss_threshold(void **state) {
  (void)state;
  lin_problem p;
  lin_make(&p);
  double th[LD1 * LD0], Wt[LD1 * LD0];
  double Wst[LD1 * LD0];
  memcpy(Wst, p.Ws, sizeof Wst);
  double lstar = lin_loss(&p, Wst), l0 = lin_loss(&p, p.W0);
  /* most of the initial gap is in the fast modes; 1e-6 of it is left in the slow ones */
  const double thr = lstar + 1e-6 * (l0 - lstar), rtol = 1e-7;
  double a = 0, b = 20;
  for (int it = 0; it < 200 && b - a > 1e-15 * b; ++it) {
    double m = 0.5 * (a + b);
    lin_exact(&p, m, Wt);
    if (lin_loss(&p, Wt) <= thr) b = m; else a = m;
  }
  const double tstar = b;
  dln_train_options o;
  opts(&o, &dln_integrator_rkc, 20, rtol);
  o.loss_threshold = thr;
  memcpy(th, p.W0, sizeof th);
  dln_train_result r;
  assert_int_equal(dln_train(p.net, p.loss, th, &o, NULL, NULL, &r), DLN_OK);
  print_run("rkc loss threshold", &r);
  print_message("  t_threshold %.12g, exact crossing %.12g, diff %.3g; stop at t = %.12g, loss %.12g (threshold %.12g)\n",
                r.t_threshold, tstar, r.t_threshold - tstar, r.t, r.loss, thr);
  assert_int_equal(r.stop_reason, DLN_STOP_LOSS);
  assert_true(switched(&r) && r.switched_at < tstar);
  /* δt ≈ δφ/|φ'|: with a state error of ~rtol·‖W‖ along the slow mode, δt ≈ rtol‖W‖/‖W − W*‖,
   * ≲ 1e-5 here; allow 1e-4 relative (measured 3e-6) */
  assert_close(r.t_threshold, tstar, 1e-4, 0);
  assert_true(r.t == r.t_threshold);
  assert_true(r.loss <= thr * (1 + 1e-12));
  assert_close(r.loss, thr, 1e-6, 0);
  /* the returned state is the interpolant at t_threshold: near the exact flow there */
  assert_true(lin_err(&p, th, r.t) <= 10 * rtol);
  lin_free(&p);
}

/* ------------------------------------------------------------------ 4. stiff σ = 1 case of 001 Fig. 1 */

static void test_fig1_sigma1(void **state) {
  (void)state;
  const int widths[3] = {10, 50, 5};
  dln_net *net = NULL;
  dln_loss *loss = NULL;
  double *th0 = NULL;
  tu_fact_problem(1, 2, widths, 1.0, &net, &loss, &th0);
  size_t np = net->nparams;
  double *ref = tu_dalloc(np), *th = tu_dalloc(np), *tf = tu_dalloc(np);
  const double t_end = 20, rtol = 1e-6;
  dln_train_result rr = run(net, loss, th0, ref, &dln_integrator_flow, t_end, 1e-12);
  dln_train_result rf = run(net, loss, th0, tf, &dln_integrator_flow, t_end, rtol);
  dln_train_result rk = run(net, loss, th0, th, &dln_integrator_rkc, t_end, rtol);
  print_run("fig1 sigma=1 erk rtol 1e-12", &rr);
  print_run("fig1 sigma=1 erk rtol 1e-6", &rf);
  print_run("fig1 sigma=1 rkc rtol 1e-6", &rk);
  double n0 = tu_fro(np, ref);
  double drk = tu_diffnorm(np, th, ref) / n0, dfl = tu_diffnorm(np, tf, ref) / n0;
  print_message("  ||θ − θ_ref||/||θ_ref||: rkc %.3g, erk %.3g\n", drk, dfl);
  assert_true(switched(&rk));
  assert_true(rk.switched_at > 0 && rk.switched_at < t_end);
  /* within 20·rtol of the reference (as the CVODE/AUTO comparison of test_integrators.c) */
  assert_true(drk <= 20 * rtol);
  assert_true(rk.grad_evals < rf.grad_evals);
  free(ref), free(th), free(tf), free(th0);
  dln_loss_free(loss);
  dln_net_free(net);
}

/* Samples between RK steps at a tight tolerance: on the non-stiff σ = 0.01 case of 001
 * Fig. 1 (the RK phase covers most of [0, 20] at rtol 1e-10) the sampled singular values
 * of W must be as accurate as ARKODE ERK's at the same rtol, against ERK at rtol 1e-13:
 * ≤ 10·rtol of the largest singular value (measured 2.5e-10 for RKC and for ERK;
 * a cubic interpolant gave 4.2e-8). */
static void test_dense_output_rk_phase(void **state) {
  (void)state;
  const int widths[3] = {10, 50, 5};
  dln_net *net = NULL;
  dln_loss *loss = NULL;
  double *th0 = NULL;
  tu_fact_problem(1, 2, widths, 0.01, &net, &loss, &th0);
  size_t np = net->nparams;
  double *th = tu_dalloc(np);
  const int ns = 101;
  const dln_integrator_type *const methods[3] = {&dln_integrator_flow, &dln_integrator_rkc, &dln_integrator_flow};
  const double rtols[3] = {1e-13, 1e-10, 1e-10};
  dln_table *tab[3];
  for (int m = 0; m < 3; ++m) {
    dln_observer *obs = NULL;
    assert_int_equal(dln_observer_alloc(&obs, net, loss, th0, DLN_OBS_SV), DLN_OK);
    tab[m] = table_for(obs, (size_t)ns + 1);
    dln_train_options o;
    opts(&o, methods[m], 20.0, rtols[m]);
    o.nsamples = ns;
    o.auto_dop853_rtol = 0; /* the RK5 phase's quintic Hermite (DOP853's own: test_dop853.c) */
    memcpy(th, th0, np * sizeof(double));
    dln_train_result r = tu_train(net, loss, th, &o, obs, tab[m]);
    assert_int_equal(r.stop_reason, DLN_STOP_TIME);
    dln_observer_free(obs);
  }
  int c0 = dln_table_col(tab[0], "sv_1");
  assert_true(c0 >= 0);
  double e[3] = {0, 0, 0};
  for (int i = 0; i < ns; ++i) {
    const double *r0 = dln_table_row(tab[0], (size_t)i);
    double smax = 0;
    for (int c = c0; c < tab[0]->ncols; ++c) smax = fmax(smax, fabs(r0[c]));
    for (int m = 1; m < 3; ++m) {
      const double *rm = dln_table_row(tab[m], (size_t)i);
      assert_close(rm[0], r0[0], 1e-15, 0); /* same sample times */
      for (int c = c0; c < tab[0]->ncols; ++c) e[m] = fmax(e[m], fabs(rm[c] - r0[c]) / smax);
    }
  }
  print_message("sigma=0.01, rtol 1e-10, %d samples: max sample error rkc %.2e, erk %.2e\n", ns, e[1], e[2]);
  assert_true(e[1] <= 10 * rtols[1]);
  assert_true(e[2] <= 10 * rtols[2]);
  for (int m = 0; m < 3; ++m) dln_table_free(tab[m]);
  free(th), free(th0);
  dln_loss_free(loss);
  dln_net_free(net);
}

/* ------------------------------------------------------------------ 6. determinism */

static void test_determinism(void **state) {
  (void)state;
  const int widths[3] = {10, 50, 5};
  dln_net *net = NULL;
  dln_loss *loss = NULL;
  double *th0 = NULL;
  tu_fact_problem(1, 2, widths, 1.0, &net, &loss, &th0);
  size_t np = net->nparams;
  double *a = tu_dalloc(np), *b = tu_dalloc(np);
  dln_train_result ra = run(net, loss, th0, a, &dln_integrator_rkc, 8, 1e-6);
  dln_train_result rb = run(net, loss, th0, b, &dln_integrator_rkc, 8, 1e-6);
  assert_true(switched(&ra)); /* both phases are exercised */
  assert_memory_equal(a, b, np * sizeof(double));
  assert_int_equal(ra.steps, rb.steps);
  assert_int_equal(ra.grad_evals, rb.grad_evals);
  assert_int_equal(ra.jtv_evals, rb.jtv_evals);
  assert_int_equal(ra.attempted, rb.attempted);
  assert_int_equal(ra.rejected, rb.rejected);
  assert_memory_equal(&ra.switched_at, &rb.switched_at, sizeof(double));
  assert_memory_equal(&ra.loss, &rb.loss, sizeof(double));
  assert_string_equal(ra.integrator, rb.integrator);
  free(a), free(b), free(th0);
  dln_loss_free(loss);
  dln_net_free(net);
}

/* ------------------------------------------------------------------ 7. divergence, budgets, bad input */

/* A scalar problem with a custom loss ℓ(w), W = w (1 x 1, depth 1). */
typedef struct {
  int kind; /* 0: ℓ = −w³/3 (ẇ = w², w(t) = w0/(1 − w0 t)); 1: ½(w − 2)² for w < 1, NaN beyond;
             * 2, 3: ½(w − 2)², but its gradient NaN (2) or +Inf (3) for finite w ≥ 1 (value
             * and gradient finite at a non-finite w) */
} scalar_impl;
static int scalar_eval(dln_loss *l, const double *W, double *value, double *G) {
  const scalar_impl *p = l->impl;
  double w = W[0];
  if (p->kind == 0) {
    *value = -w * w * w / 3;
    if (G) G[0] = -w * w;
  } else if (p->kind == 1) {
    *value = w < 1 ? 0.5 * (w - 2) * (w - 2) : NAN;
    if (G) G[0] = w < 1 ? w - 2 : NAN;
  } else {
    /* finite at a non-finite w, so that only the stage that made w non-finite shows it */
    *value = isfinite(w) ? 0.5 * (w - 2) * (w - 2) : 0.5;
    if (G) G[0] = !isfinite(w) ? 0.0 : w < 1 ? w - 2 : p->kind == 2 ? NAN : INFINITY;
  }
  return DLN_OK;
}
static int scalar_hvp(dln_loss *l, const double *W, const double *D, double *out) {
  const scalar_impl *p = l->impl;
  out[0] = p->kind == 0 ? -2 * W[0] * D[0] : (W[0] < 1 ? D[0] : NAN);
  return DLN_OK;
}
static const dln_loss_ops scalar_ops = {"scalar test loss", 0, scalar_eval, scalar_hvp, NULL};

/* the loss on the stack (never passed to dln_loss_free) */
static void scalar_loss(dln_loss *l, scalar_impl *impl, int kind) {
  memset(l, 0, sizeof *l);
  impl->kind = kind;
  l->ops = &scalar_ops;
  l->rows = l->cols = 1;
  l->lstar = NAN;
  l->target_norm = NAN;
  l->impl = impl;
}

/* Finite-time blow-up w(t) = 1/(1 − t) (w0 = 1): |w| passes blowup = 1e6 at
 * t_b = 1 − 1e-6. Both FLOW and RKC stop as diverged by the ‖θ‖_∞ rule, keep the last
 * good state (on the exact solution, |w| ≤ blowup) and report the bad step past t_b. */
static void test_finite_time_blowup(void **state) {
  (void)state;
  int widths[2] = {1, 1};
  dln_net *net = NULL;
  assert_int_equal(dln_net_alloc(&net, 1, widths, 0), DLN_OK);
  dln_loss loss;
  scalar_impl impl;
  scalar_loss(&loss, &impl, 0);
  const dln_integrator_type *const methods[2] = {&dln_integrator_flow, &dln_integrator_rkc};
  for (int m = 0; m < 2; ++m) {
    dln_train_options o;
    opts(&o, methods[m], 2.0, 1e-8);
    o.blowup = 1e6;
    o.auto_dop853_rtol = 0; /* the DP5 phase (DOP853's blow-up: test_dop853.c) */
    double w = 1.0;
    dln_train_result r;
    assert_int_equal(dln_train(net, &loss, &w, &o, NULL, NULL, &r), DLN_OK);
    print_run(m ? "blow-up rkc" : "blow-up erk", &r);
    print_message("  stop %s at t = %.12g (w = %.6g, exact %.6g), fail_t %.12g: %s\n", dln_stop_reason_name(r.stop_reason),
                  r.t, w, 1 / (1 - r.t), r.fail_t, r.message);
    assert_int_equal(r.stop_reason, DLN_STOP_DIVERGED);
    assert_true(fabs(w) <= 1e6);
    assert_true(r.t < r.fail_t);
    assert_true(r.fail_t >= 1 - 1e-6 - 1e-9 && r.fail_t < 2);
    assert_non_null(strstr(r.message, "max|"));
    /* the kept state is on the exact solution: relative error ≤ 1e-3 where w ~ 1e5..1e6
     * (the condition number of w(t) at t is 1/(1 − t), so rtol 1e-8 allows ~1e-8·1e6) */
    assert_close(w, 1 / (1 - r.t), 1e-3, 0);
    if (methods[m] == &dln_integrator_rkc) assert_string_equal(r.integrator, "dln-rk5");
  }
  dln_net_free(net);
}

/* ℓ undefined (NaN) for w ≥ 1 on the way from w0 = 0 to the minimum w = 2: the exact flow
 * w = 2 − 2e^{−t} reaches 1 at t = ln 2. FLOW (ARKODE) stops as diverged with a non-finite
 * gradient before there; RKC must report the same stop, keeping a state w(t) < 1 with
 * t ≤ ln 2 on the exact flow (relative error ≤ 1e-6 at rtol 1e-8). */
static void test_nonfinite_gradient(void **state) {
  (void)state;
  int widths[2] = {1, 1};
  dln_net *net = NULL;
  assert_int_equal(dln_net_alloc(&net, 1, widths, 0), DLN_OK);
  dln_loss loss;
  scalar_impl impl;
  scalar_loss(&loss, &impl, 1);
  const dln_integrator_type *const methods[4] = {&dln_integrator_flow, &dln_integrator_rkc, &dln_integrator_cvode, &dln_integrator_auto};
  const char *names[4] = {"NaN beyond w = 1: erk", "NaN beyond w = 1: rkc", "NaN beyond w = 1: cvode",
                          "NaN beyond w = 1: auto"};
  dln_train_result r[4];
  double w[4];
  for (int m = 0; m < 4; ++m) {
    dln_train_options o;
    opts(&o, methods[m], 5.0, 1e-8);
    w[m] = 0.0;
    assert_int_equal(dln_train(net, &loss, &w[m], &o, NULL, NULL, &r[m]), DLN_OK);
    print_run(names[m], &r[m]);
    print_message("  stop %s at t = %.12g (w = %.12g), fail_t %.12g: %s\n", dln_stop_reason_name(r[m].stop_reason), r[m].t,
                  w[m], r[m].fail_t, r[m].message);
  }
  dln_net_free(net); /* before the assertions: nothing leaks when one fails */
  /* FLOW: diverged (non-finite gradient), the last good state w < 1 kept, and r.t is the
   * time of that state (not of the failed attempt) */
  assert_int_equal(r[0].stop_reason, DLN_STOP_DIVERGED);
  assert_non_null(strstr(r[0].message, "non-finite gradient"));
  assert_true(w[0] < 1 && w[0] > 0.9);
  assert_close(w[0], 2 - 2 * exp(-r[0].t), 1e-6, 0);
  /* RKC: the same stop (non-finite attempts are counted across steps, so creeping
   * towards w = 1 with ever smaller steps ends as diverged, not in a step underflow) */
  assert_int_equal(r[1].stop_reason, r[0].stop_reason);
  assert_non_null(strstr(r[1].message, "non-finite gradient"));
  assert_true(w[1] < 1 && w[1] > 0.9); /* the last good state, before the undefined region */
  assert_true(r[1].t > 0.6 && r[1].t <= log(2.0) + 1e-9);
  assert_close(w[1], 2 - 2 * exp(-r[1].t), 1e-6, 0); /* and it is the state at r.t */
  assert_true(isfinite(r[1].loss));
  /* CVODE (creeping with ever smaller steps would spend the 10^7-step budget) and AUTO:
   * the same stop, at a finite state on the exact flow */
  for (int m = 2; m < 4; ++m) {
    assert_int_equal(r[m].stop_reason, DLN_STOP_DIVERGED);
    assert_non_null(strstr(r[m].message, "non-finite gradient"));
    assert_true(w[m] < 1 && w[m] > 0.9);
    assert_true(r[m].steps < 10000);
    assert_close(w[m], 2 - 2 * exp(-r[m].t), 1e-5, 0);
  }
}

/* The same flow with a finite loss but a NaN or +Inf gradient for w ≥ 1: only the test of
 * the right-hand side itself can see it. dln's RK loop tests a stage through the next
 * stage's argument (rk_step, read_later) and the last one in the right-hand side; every
 * method must stop as diverged with a non-finite gradient, keeping a state on the exact flow
 * before w = 1. */
static void test_nonfinite_gradient_finite_loss(void **state) {
  (void)state;
  int widths[2] = {1, 1};
  dln_net *net = NULL;
  assert_int_equal(dln_net_alloc(&net, 1, widths, 0), DLN_OK);
  const dln_integrator_type *const methods[5] = {&dln_integrator_flow, &dln_integrator_rkc, &dln_integrator_dop853,
                                                 &dln_integrator_auto, &dln_integrator_cvode};
  for (int kind = 2; kind <= 3; ++kind)
    for (int m = 0; m < 5; ++m)
      for (int k = 0; k < 2; ++k) { /* rtol 1e-8 with the DP5 table, 1e-11 (rkc, auto: DOP853) */
        dln_loss loss;
        scalar_impl impl;
        scalar_loss(&loss, &impl, kind);
        dln_train_options o;
        opts(&o, methods[m], 5.0, k ? 1e-11 : 1e-8);
        if (!k) o.auto_dop853_rtol = 0; /* rkc, auto: the DP5 table (ARKODE's, FSAL) */
        double w = 0.0;
        dln_train_result r;
        assert_int_equal(dln_train(net, &loss, &w, &o, NULL, NULL, &r), DLN_OK);
        print_message("%s gradient, %s rtol %g: stop %s at t = %.12g (w = %.12g): %s\n", kind == 2 ? "NaN" : "Inf",
                      methods[m]->name, o.rtol, dln_stop_reason_name(r.stop_reason), r.t, w, r.message);
        assert_int_equal(r.stop_reason, DLN_STOP_DIVERGED);
        assert_non_null(strstr(r.message, "non-finite gradient"));
        assert_true(w < 1 && w > 0.9);
        /* CVODE's BDF state is its interpolant's: t within 1e-6 of ln 2 */
        assert_true(r.t > 0.6 && r.t <= log(2.0) + (methods[m] == &dln_integrator_cvode ? 1e-6 : 1e-9));
        assert_close(w, 2 - 2 * exp(-r.t), 1e-5, 0);
      }
  dln_net_free(net);
}

/* A stiff variant, so that the non-finite gradient is met in the Chebyshev phase: W = [u w]
 * (1 x 2), ℓ = ½λu² + ½(w − 2)² with λ = 1e4; the gradient's w-entry is NaN for finite
 * w ≥ 1 (both finite at a non-finite W). u decays at once, RKC carries w towards 2, and
 * w = 2 − 2e^{−t} reaches 1 at t = ln 2, where the stage that stepped past it is tested
 * through the next stage's combination (rkc_step) or the final right-hand side. */
static int stiff2_eval(dln_loss *l, const double *W, double *value, double *G) {
  (void)l;
  double u = W[0], w = W[1];
  int fin = isfinite(u) && isfinite(w);
  *value = fin ? 0.5e4 * u * u + 0.5 * (w - 2) * (w - 2) : 0.5;
  if (G) G[0] = fin ? 1e4 * u : 0.0, G[1] = !fin ? 0.0 : w < 1 ? w - 2 : NAN;
  return DLN_OK;
}
static int stiff2_hvp(dln_loss *l, const double *W, const double *D, double *out) {
  (void)l, (void)W;
  out[0] = 1e4 * D[0], out[1] = D[1];
  return DLN_OK;
}
static const dln_loss_ops stiff2_ops = {"stiff test loss", 0, stiff2_eval, stiff2_hvp, NULL};

static void test_nonfinite_gradient_rkc_phase(void **state) {
  (void)state;
  int widths[2] = {2, 1};
  dln_net *net = NULL;
  assert_int_equal(dln_net_alloc(&net, 1, widths, 0), DLN_OK);
  dln_loss loss;
  memset(&loss, 0, sizeof loss);
  loss.ops = &stiff2_ops;
  loss.rows = 1, loss.cols = 2;
  loss.lstar = loss.target_norm = NAN;
  for (int k = 0; k < 2; ++k) {
    dln_train_options o;
    opts(&o, &dln_integrator_rkc, 5.0, k ? 1e-10 : 1e-6);
    double th[2] = {1.0, 0.0};
    dln_train_result r;
    assert_int_equal(dln_train(net, &loss, th, &o, NULL, NULL, &r), DLN_OK);
    print_run("stiff, NaN gradient beyond w = 1: rkc", &r);
    print_message("  stop %s at t = %.12g (w = %.12g): %s\n", dln_stop_reason_name(r.stop_reason), r.t, th[1], r.message);
    assert_true(switched(&r) && r.switched_at < 0.5);
    assert_int_equal(r.stop_reason, DLN_STOP_DIVERGED);
    assert_non_null(strstr(r.message, "non-finite gradient"));
    assert_true(th[1] < 1 && th[1] > 0.9);
    assert_true(r.t > 0.6 && r.t <= log(2.0) + 1e-9);
    assert_close(th[1], 2 - 2 * exp(-r.t), 1e-4, 0);
  }
  dln_net_free(net);
}

/* Bad initial states: a non-finite entry is refused by dln_train for every method
 * (DLN_ENONFINITE naming the initial weights); φ(θ0) above blowup stops as diverged at
 * t = 0 with θ0 kept, as FLOW does (test_review_b.c). */
static void test_bad_initial_state(void **state) {
  (void)state;
  int widths[2] = {1, 1};
  dln_net *net = NULL;
  assert_int_equal(dln_net_alloc(&net, 1, widths, 0), DLN_OK);
  double y = 3.0;
  dln_loss *loss = tu_fact_loss(1, 1, &y);
  const dln_integrator_type *const methods[2] = {&dln_integrator_flow, &dln_integrator_rkc};
  int st_nf[2];
  dln_train_result r[2];
  for (int m = 0; m < 2; ++m) {
    dln_train_options o;
    opts(&o, methods[m], 1.0, 1e-8);
    double w = NAN;
    st_nf[m] = dln_train(net, loss, &w, &o, NULL, NULL, &r[m]);
    print_message("%s, w0 = nan: status %d, %s\n", m ? "rkc" : "flow", st_nf[m], dln_last_error());
    assert_non_null(strstr(dln_last_error(), "initial weights"));
    w = INFINITY;
    assert_int_equal(dln_train(net, loss, &w, &o, NULL, NULL, &r[m]), st_nf[m]);
    /* φ(θ0) = 4.5 > blowup = 2 */
    o.blowup = 2.0;
    w = 0.0;
    assert_int_equal(dln_train(net, loss, &w, &o, NULL, NULL, &r[m]), DLN_OK);
    print_message("%s, loss above blowup: %s: %s\n", m ? "rkc" : "flow", dln_stop_reason_name(r[m].stop_reason),
                  r[m].message);
    assert_int_equal(r[m].stop_reason, DLN_STOP_DIVERGED);
    assert_true(r[m].t == 0 && r[m].fail_t == 0 && r[m].fail_step == 0 && r[m].steps == 0);
    assert_true(w == 0.0);
    assert_close(r[m].loss, 4.5, 1e-15, 0);
    assert_non_null(strstr(r[m].message, "diverged"));
  }
  assert_int_equal(st_nf[0], DLN_ENONFINITE);
  assert_int_equal(st_nf[1], st_nf[0]);
  dln_loss_free(loss);
  dln_net_free(net);
}

/* max_steps: a budget of 5 accepted steps stops the run at t < t_end after exactly 5 */
static void test_step_budget(void **state) {
  (void)state;
  lin_problem p;
  lin_make(&p);
  double th[LD1 * LD0];
  const dln_integrator_type *const methods[2] = {&dln_integrator_flow, &dln_integrator_rkc};
  for (int m = 0; m < 2; ++m) {
    dln_train_options o;
    opts(&o, methods[m], 10, 1e-6);
    o.max_steps = 5;
    memcpy(th, p.W0, sizeof th);
    dln_train_result r;
    assert_int_equal(dln_train(p.net, p.loss, th, &o, NULL, NULL, &r), DLN_OK);
    print_message("%s, max_steps 5: %s at t = %.6g after %ld steps: %s\n", m ? "rkc" : "flow",
                  dln_stop_reason_name(r.stop_reason), r.t, r.steps, r.message);
    assert_int_equal(r.stop_reason, DLN_STOP_STEPS);
    assert_int_equal(r.steps, 5);
    assert_true(r.t > 0 && r.t < 10);
    /* the state at r.t is the flow's (early fast transient: error ≤ 10·rtol) */
    assert_true(lin_err(&p, th, r.t) <= 1e-5);
    assert_close(r.loss, lin_loss(&p, th), 1e-12, 0);
  }
  lin_free(&p);
}

static void test_options(void **state) {
  (void)state;
  dln_train_options o;
  opts(&o, &dln_integrator_rkc, 1, 1e-6);
  assert_int_equal(dln_train_check(&o), DLN_OK);
  const int bad[5] = {0, 1, 7, 9, -5};
  for (int i = 0; i < 5; ++i) {
    o.erk_order = bad[i];
    assert_int_equal(dln_train_check(&o), DLN_EINVAL);
    assert_non_null(strstr(dln_last_error(), "erk_order"));
  }
  o.erk_order = 7;
  assert_int_equal(dln_train_check(&o), DLN_EINVAL);
  assert_non_null(strstr(dln_last_error(), "found 7"));
  /* dln_train refuses it too, before touching θ */
  int widths[2] = {1, 1};
  dln_net *net = NULL;
  assert_int_equal(dln_net_alloc(&net, 1, widths, 0), DLN_OK);
  double y = 1.0, w = 0.25;
  dln_loss *loss = tu_fact_loss(1, 1, &y);
  dln_train_result r;
  assert_int_equal(dln_train(net, loss, &w, &o, NULL, NULL, &r), DLN_EINVAL);
  assert_non_null(strstr(dln_last_error(), "erk_order"));
  assert_true(w == 0.25);
  /* every valid order runs: w(1) = 1 − 0.75e^{−1}; the stepper is named after the table's order */
  const int orders[6] = {2, 3, 4, 5, 6, 8};
  for (int i = 0; i < 6; ++i) {
    o.erk_order = orders[i];
    w = 0.25;
    r = tu_train(net, loss, &w, &o, NULL, NULL);
    char name[16];
    snprintf(name, sizeof name, "dln-rk%d", orders[i]);
    assert_string_equal(r.integrator, name);
    assert_close(w, 1 - 0.75 * exp(-1.0), 1e-5, 0);
  }
  dln_loss_free(loss);
  dln_net_free(net);
}

/* Other table orders on the stiff linear flow: tables without a pair of equal nodes
 * estimate ρ by power iteration; all switch to RKC and stay accurate. */
static void test_stiff_linear_orders(void **state) {
  (void)state;
  lin_problem p;
  lin_make(&p);
  double th[LD1 * LD0];
  const int orders[5] = {2, 3, 4, 6, 8};
  const double rtol = 1e-6, t_end = 10;
  for (int i = 0; i < 5; ++i) {
    dln_train_options o;
    opts(&o, &dln_integrator_rkc, t_end, rtol);
    o.erk_order = orders[i];
    memcpy(th, p.W0, sizeof th);
    dln_train_result r = tu_train(p.net, p.loss, th, &o, NULL, NULL);
    char what[64], name[32];
    snprintf(what, sizeof what, "linear rtol 1e-6 erk_order %d", orders[i]);
    print_run(what, &r);
    double e = lin_err(&p, th, t_end);
    print_message("  rel. error %.3g\n", e);
    snprintf(name, sizeof name, "dln-rk%d->rkc", orders[i]);
    assert_string_equal(r.integrator, name);
    assert_true(r.switched_at > 0 && r.switched_at < t_end);
    assert_true(e <= 10 * rtol);
  }
  lin_free(&p);
}

/* ------------------------------------------------------------------ 8. the command line */

static void test_cli(void **state) {
  (void)state;
  const char *dir = tu_tmpdir(0);
  assert_non_null(dir);
  /* the 5×10, width-50, σ = 1 problem of 001 Fig. 1: stiff, so the run switches */
  tu_write_text(tu_path(dir, "stiff.json"),
                "{\"task\": \"factorization\", \"rows\": 5, \"cols\": 10, \"width\": 50, \"sigma\": 1,\n"
                " \"t_end\": 10, \"samples\": 11, \"plot\": false}\n");
  const char *args[] = {"run", "stiff.json", "--method", "rkc", "--out=o-rkc", "--quiet", NULL};
  char *sum = tu_cli_ok_summary(DLN_CLI, dir, "o-rkc/summary.json", args);
  assert_non_null(strstr(sum, "\"method\": \"rkc\""));
  if (!strstr(sum, "\"integrator\": \"dln-dop853->rkc\"")) print_error("%s\n", sum); /* rtol 1e-8 */
  assert_non_null(strstr(sum, "\"integrator\": \"dln-dop853->rkc\""));
  assert_non_null(strstr(sum, "\"stop_reason\": \"time\""));
  const char *sw = strstr(sum, "\"switched_at\": ");
  assert_non_null(sw);
  double ts = strtod(sw + 15, NULL);
  assert_true(ts > 0 && ts < 10);
  free(sum);
  tu_rmtree(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_table_dopri5),
      cmocka_unit_test(test_tables_other_orders),
      cmocka_unit_test(test_stiff_linear),
      cmocka_unit_test(test_dense_output),
      cmocka_unit_test(test_loss_threshold),
      cmocka_unit_test(test_fig1_sigma1), cmocka_unit_test(test_dense_output_rk_phase),
      cmocka_unit_test(test_determinism),
      cmocka_unit_test(test_finite_time_blowup),
      cmocka_unit_test(test_nonfinite_gradient),
      cmocka_unit_test(test_nonfinite_gradient_finite_loss),
      cmocka_unit_test(test_nonfinite_gradient_rkc_phase),
      cmocka_unit_test(test_bad_initial_state),
      cmocka_unit_test(test_step_budget),
      cmocka_unit_test(test_options),
      cmocka_unit_test(test_stiff_linear_orders),
      cmocka_unit_test(test_cli),
  };
  tu_seed(0x5DEECE66Dull);
  return cmocka_run_group_tests(tests, NULL, NULL);
}
