/* Landscape (src/theory/landscape.c): critical values and strata, Lanczos, point
 * classification, 000 Theorem 3, 002 Theorem 3 and 002 Proposition 5.
 *
 *   critical values   s = (3, 2, 1): {0, ½, 2, 2.5, 4.5, 5, 6.5, 7} with their learned
 *                     sets (004 Lemma 3.2); width 1 and 2 constraints; a capped run
 *                     (q = 20, k = 5, cap 100) against brute force over 21700 subsets
 *   strata            gradient flow on a factorization: random init → global minimum
 *                     (learned {1,2,3}); narrow width 2 → global minimum {1,2};
 *                     spectral init with a zero component → Crit_2 saddle stratum with
 *                     learned {1,3}, value 2; mid-run → not critical
 *   Lanczos           extreme eigenvalues vs a dense Hessian built from HVPs and
 *                     LAPACKE_dsyev, |Δλ| ≤ 1e-8·max(1, ‖H‖); a 3-step cap reports
 *                     "did not converge: residual r"
 *   origin            N = 3: non-strict saddle (Hessian 0, cubic decrease along the
 *                     002 Prop. 3 chain); N = 2: strict saddle with λ_min = −σ_1(Ȳ)
 *   converged points  global minimum (N = 2, 3) and strict saddle on the Crit_2 stratum
 *   000 Theorem 3     holds at converged points (incl. the saddle), fails at a random one
 *   002 Theorem 3     balanced init: predicted σ̇ = measured u^T Ẇ v (1e-10) = finite
 *                     differences of σ(W) along −∇φ (1e-6); unbalanced: they differ
 *   002 Prop. 5       2x2 completion under gradient flow (N = 2, 3): det W keeps its sign;
 *                     for det W(0) > 0, |w_11| ≥ 1/√(6ℓ) − 2 and ‖W‖ grows as ℓ falls (for
 *                     det W(0) < 0 the minimizers [[w, 1], [1, 0]] are reachable, ‖W‖ < 3),
 *                     t ≤ 60. Later, det W (≈ 1e-11 at t = 126 for N = 2) falls below the
 *                     integrator's local error and ARKODE at rtol 1e-10 lets it cross
 *                     zero near t ≈ 250: the sign invariant of 002 Lemma 2 is not
 *                     preserved numerically once |det| is below the tolerance. */
#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dln/bias.h"
#include "dln/data.h"
#include "dln/error.h"
#include "dln/init.h"
#include "dln/landscape.h"
#include "dln/loss.h"
#include "dln/mat.h"
#include "dln/net.h"
#include "dln/rng.h"
#include "dln/train.h"
#include "testutil.h"

/* Ȳ = Q1 diag(s) Q2^T (rows x cols). */
static dln_mat *target_with_sv(dln_rng *rng, int rows, int cols, int ns, const double *s) {
  dln_mat *Y = dln_mat_alloc(rows, cols);
  tu_with_sv(rng, rows, cols, ns, s, Y->data);
  return Y;
}

/* Ȳ = diag(s) padded to rows x cols: its SVD has exact unit vectors, so a spectral
 * init with a zero component keeps that component exactly zero under the flow (a
 * rotated target would seed it with round-off, which the unstable saddle amplifies
 * like e^{2 s_2 t}). */
static dln_mat *diag_target(int rows, int cols, int ns, const double *s) {
  dln_mat *Y = dln_mat_alloc(rows, cols);
  for (int i = 0; i < ns; ++i) Y->data[i + (size_t)i * rows] = s[i];
  return Y;
}

static void flow(dln_net *net, dln_loss *loss, double *theta, double t_end) {
  dln_train_options opt;
  dln_train_default_options(&opt);
  opt.method = &dln_integrator_flow;
  opt.t_end = t_end;
  opt.nsamples = 2;
  opt.rtol = 1e-11;
  opt.atol = 1e-13;
  opt.grad_tol = 1e-12;
  dln_train_result tr;
  assert_int_equal(dln_train(net, loss, theta, &opt, NULL, NULL, &tr), DLN_OK);
  assert_true(tr.stop_reason == DLN_STOP_TIME || tr.stop_reason == DLN_STOP_CONVERGED);
}

/* ------------------------------------------------------------------ (a) */
static void test_critical_values_321(void **state) {
  (void)state;
  double s[3] = {1, 3, 2}; /* any order */
  dln_critval cv[8];
  dln_critval_info info;
  dln_critval_options opt;
  dln_critval_default_options(&opt);
  assert_int_equal(dln_critical_values(3, s, &opt, cv, &info), DLN_OK);
  static const double vals[8] = {0, 0.5, 2, 2.5, 4.5, 5, 6.5, 7};
  static const unsigned masks[8] = {7, 3, 5, 1, 6, 2, 4, 0}; /* bit i: component i+1 (s = 3, 2, 1) */
  assert_int_equal((int)info.count, 8);
  assert_int_equal(info.capped, 0);
  assert_int_equal(info.q, 3);
  for (int i = 0; i < 8; ++i) {
    assert_close(cv[i].value, vals[i], 0, 1e-15);
    assert_int_equal((unsigned)cv[i].learned, masks[i]);
    assert_int_equal(cv[i].r, __builtin_popcount(masks[i]));
  }
  /* width 1: |L| ≤ 1 → {2.5, 5, 6.5, 7}; width 2: all but 0 */
  opt.max_rank = 1;
  assert_int_equal(dln_critical_values(3, s, &opt, cv, &info), DLN_OK);
  assert_int_equal((int)info.count, 4);
  static const double v1[4] = {2.5, 5, 6.5, 7};
  for (int i = 0; i < 4; ++i) assert_close(cv[i].value, v1[i], 0, 1e-15);
  assert_close(info.min_value, 2.5, 0, 1e-15);
  opt.max_rank = 2;
  assert_int_equal(dln_critical_values(3, s, &opt, cv, &info), DLN_OK);
  assert_int_equal((int)info.count, 7);
  assert_close(cv[0].value, 0.5, 0, 1e-15);
  assert_close(info.total, 7, 0, 0);
  /* a base offset (L* of a regression) and zero singular values (not components) */
  double s0[5] = {3, 0, 2, 1, 0};
  opt.max_rank = 0;
  opt.base = 10;
  assert_int_equal(dln_critical_values(5, s0, &opt, cv, &info), DLN_OK);
  assert_int_equal(info.q, 3);
  for (int i = 0; i < 8; ++i) assert_close(cv[i].value, 10 + vals[i], 0, 1e-14);
  /* from a target matrix with these singular values */
  dln_rng *rng = dln_rng_alloc(21, 0);
  double s3[3] = {3, 2, 1};
  dln_mat *Y = target_with_sv(rng, 4, 5, 3, s3);
  opt.base = 0;
  assert_int_equal(dln_critical_values_target(4, 5, Y->data, &opt, cv, &info), DLN_OK);
  assert_int_equal(info.q, 3);
  for (int i = 0; i < 8; ++i) assert_close(cv[i].value, vals[i], 0, 1e-12);
  /* repeated singular values: equal values from different sets; distinct count */
  double sr[3] = {2, 2, 1};
  assert_int_equal(dln_critical_values(3, sr, &opt, cv, &info), DLN_OK);
  double dv[8];
  size_t nd = dln_critval_distinct(info.count, cv, 1e-12, dv);
  assert_int_equal((int)nd, 6); /* 0, .5, 2, 2.5, 4.5, 4.5?, ... → {0,.5,2,2.5,4,4.5} */
  dln_mat_free(Y);
  dln_rng_free(rng);
}

static void test_critical_values_capped(void **state) {
  (void)state;
  dln_rng *rng = dln_rng_alloc(22, 0);
  int q = 20, k = 5;
  double s[20];
  for (int i = 0; i < q; ++i) s[i] = 0.5 + 3 * dln_rng_uniform(rng);
  dln_critval_options opt;
  dln_critval_default_options(&opt);
  opt.max_rank = k;
  opt.cap = 100;
  dln_critval cv[100];
  dln_critval_info info;
  assert_int_equal(dln_critical_values(q, s, &opt, cv, &info), DLN_OK);
  assert_int_equal(info.capped, 1);
  assert_close(info.total, 21700, 0, 0);
  assert_int_equal((int)info.count, 100);
  /* brute force: all subsets of size ≤ 5 */
  double *all = malloc(21700 * sizeof(double));
  size_t na = 0;
  double tot = 0;
  for (int i = 0; i < q; ++i) tot += s[i] * s[i];
  for (uint32_t mask = 0; mask < (1u << q); ++mask) {
    if (__builtin_popcount(mask) > k) continue;
    double v = 0;
    for (int i = 0; i < q; ++i)
      if (!(mask >> i & 1u)) v += s[i] * s[i];
    all[na++] = 0.5 * v;
  }
  assert_int_equal((int)na, 21700);
  qsort(all, na, sizeof(double), tu_cmp_asc);
  for (int i = 0; i < 100; ++i) assert_close(cv[i].value, all[i], 1e-13, 0);
  assert_close(info.min_value, all[0], 1e-13, 0);
  assert_close(info.max_value, 0.5 * tot, 1e-13, 0);
  free(all);
  dln_rng_free(rng);
}

/* ------------------------------------------------------------------ (b) */
static void test_strata(void **state) {
  (void)state;
  dln_rng *rng = dln_rng_alloc(23, 0);
  double s[3] = {3, 2, 1};
  int rows = 4, cols = 3; /* Ȳ: d_N x d_0 */
  dln_mat *Y = target_with_sv(rng, rows, cols, 3, s);
  dln_loss *loss = NULL;
  assert_int_equal(dln_loss_factorization_alloc(&loss, Y), DLN_OK);
  dln_stratum sr;
  /* 1. random small init, N = 2, wide: global minimum, learned {1,2,3} */
  int w2[3] = {cols, 5, rows};
  dln_net *net = NULL;
  assert_int_equal(dln_net_alloc(&net, 2, w2, 0), DLN_OK);
  double *th = malloc(net->nparams * sizeof(double));
  assert_int_equal(dln_init_gaussian(net, th, rng, 0.1, NULL), DLN_OK);
  flow(net, loss, th, 60);
  assert_int_equal(dln_stratum_classify_net(net, loss, th, NULL, &sr), DLN_OK);
  if (tu_verbose()) printf("random init: %s\n", sr.message);
  assert_true(sr.critical && sr.global_min);
  assert_int_equal(sr.r, 3);
  assert_int_equal((int)sr.learned_mask, 7);
  /* 2. spectral init with component 2 at zero: it stays unlearned → Crit_2, {1,3} */
  double ubar[3] = {0.1, 0, 0.1}, vbar[3] = {0.1, 0, 0.1};
  dln_mat *Yd = diag_target(rows, cols, 3, s);
  dln_loss *lossd = NULL;
  assert_int_equal(dln_loss_factorization_alloc(&lossd, Yd), DLN_OK);
  assert_int_equal(dln_init_spectral_asymmetric(net, th, Yd, ubar, vbar, NULL), DLN_OK);
  flow(net, lossd, th, 60);
  assert_int_equal(dln_stratum_classify_net(net, lossd, th, NULL, &sr), DLN_OK);
  if (tu_verbose()) printf("spectral init, zero component 2: %s\n", sr.message);
  assert_true(sr.critical && !sr.global_min);
  assert_int_equal(sr.r, 2);
  assert_int_equal((int)sr.learned_mask, 5);
  assert_int_equal(sr.learned[1], DLN_COMP_UNLEARNED);
  assert_close(sr.value_predicted, 2.0, 0, 1e-9);
  assert_close(sr.value, 2.0, 0, 1e-9);
  /* 3. mid-run: not critical (components partially learned) */
  assert_int_equal(dln_init_gaussian(net, th, rng, 0.1, NULL), DLN_OK);
  flow(net, loss, th, 1.0);
  assert_int_equal(dln_stratum_classify_net(net, loss, th, NULL, &sr), DLN_OK);
  if (tu_verbose()) printf("mid-run (t = 1): %s\n", sr.message);
  assert_false(sr.critical);
  /* 4. narrow width 2 (N = 3, 3 → 2 → 4 → 4): global minimum learns {1,2}, value ½ */
  int w3[4] = {cols, 2, 4, rows};
  dln_net *net3 = NULL;
  assert_int_equal(dln_net_alloc(&net3, 3, w3, 0), DLN_OK);
  double *th3 = malloc(net3->nparams * sizeof(double));
  assert_int_equal(dln_init_gaussian(net3, th3, rng, 0.5, NULL), DLN_OK);
  flow(net3, loss, th3, 100);
  assert_int_equal(dln_stratum_classify_net(net3, loss, th3, NULL, &sr), DLN_OK);
  if (tu_verbose()) printf("width 2, N = 3: %s\n", sr.message);
  assert_true(sr.critical && sr.global_min);
  assert_int_equal((int)sr.learned_mask, 3);
  assert_close(sr.value, 0.5, 0, 1e-9);
  /* other losses: not applicable */
  dln_mat *X = NULL, *Yr = NULL;
  dln_loss *reg = NULL;
  assert_int_equal(dln_data_gaussian(rng, cols, 6, 1.0, &X), DLN_OK);
  assert_int_equal(dln_data_gaussian(rng, rows, 6, 1.0, &Yr), DLN_OK);
  assert_int_equal(dln_loss_regression_alloc(&reg, X, Yr), DLN_OK);
  assert_int_equal(dln_stratum_classify_net(net, reg, th, NULL, &sr), DLN_ENOTAPPLICABLE);
  dln_loss_free(reg);
  dln_loss_free(lossd);
  dln_mat_free(Yd);
  dln_mat_free(X);
  dln_mat_free(Yr);
  free(th3);
  dln_net_free(net3);
  free(th);
  dln_net_free(net);
  dln_loss_free(loss);
  dln_mat_free(Y);
  dln_rng_free(rng);
}

/* ------------------------------------------------------------------ (c) Lanczos */
static void dense_hessian_extremes(dln_net *net, dln_loss *loss, const double *th, double *lmin, double *lmax,
                                   double *hnorm) {
  size_t n = net->nparams;
  double *H = malloc(n * n * sizeof(double)), *e = calloc(n, sizeof(double)), *w = malloc(n * sizeof(double));
  for (size_t j = 0; j < n; ++j) {
    e[j] = 1;
    assert_int_equal(dln_net_hvp(net, loss, th, e, H + j * n), DLN_OK);
    e[j] = 0;
  }
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < i; ++j) {
      double a = 0.5 * (H[i + j * n] + H[j + i * n]);
      H[i + j * n] = H[j + i * n] = a;
    }
  tu_syev((int)n, H, w, 0);
  *lmin = w[0];
  *lmax = w[n - 1];
  *hnorm = fmax(fabs(w[0]), fabs(w[n - 1]));
  free(H);
  free(e);
  free(w);
}

static void test_lanczos_dense(void **state) {
  (void)state;
  dln_rng *rng = dln_rng_alloc(24, 0);
  struct {
    int depth, widths[5];
    int regression;
  } cfg[] = {{2, {3, 4, 2}, 0}, {3, {3, 3, 4, 2}, 0}, {2, {5, 3, 4}, 1}, {4, {2, 3, 3, 2, 3}, 0}, {1, {4, 3}, 1}};
  for (size_t c = 0; c < sizeof cfg / sizeof cfg[0]; ++c) {
    dln_net *net = NULL;
    assert_int_equal(dln_net_alloc(&net, cfg[c].depth, cfg[c].widths, 0), DLN_OK);
    int rows = dln_net_rows(net), cols = dln_net_cols(net);
    dln_loss *loss = NULL;
    dln_mat *A = NULL, *B = NULL;
    if (cfg[c].regression) {
      assert_int_equal(dln_data_gaussian(rng, cols, 7, 1.0, &A), DLN_OK);
      assert_int_equal(dln_data_gaussian(rng, rows, 7, 1.0, &B), DLN_OK);
      assert_int_equal(dln_loss_regression_alloc(&loss, A, B), DLN_OK);
    } else {
      assert_int_equal(dln_data_gaussian(rng, rows, cols, 1.0, &A), DLN_OK);
      assert_int_equal(dln_loss_factorization_alloc(&loss, A), DLN_OK);
    }
    double *th = malloc(net->nparams * sizeof(double));
    assert_int_equal(dln_init_gaussian(net, th, rng, 0.8, NULL), DLN_OK);
    double lmin, lmax, hn;
    dense_hessian_extremes(net, loss, th, &lmin, &lmax, &hn);
    dln_lanczos *lz = NULL;
    assert_int_equal(dln_lanczos_alloc(&lz, net, (int)net->nparams), DLN_OK);
    dln_lanczos_result r;
    assert_int_equal(dln_lanczos_run(lz, loss, th, NULL, &r), DLN_OK);
    if (tu_verbose())
      printf("n = %zu: lanczos [%.12g, %.12g] dense [%.12g, %.12g] |dmin| %.2g |dmax| %.2g, %d steps; %s\n",
             net->nparams, r.lambda_min, r.lambda_max, lmin, lmax, fabs(r.lambda_min - lmin), fabs(r.lambda_max - lmax),
             r.iters, r.message);
    assert_true(r.converged);
    assert_true(fabs(r.lambda_min - lmin) <= 1e-8 * fmax(1.0, hn));
    assert_true(fabs(r.lambda_max - lmax) <= 1e-8 * fmax(1.0, hn));
    assert_true(r.resid_min <= 1e-8 * fmax(1.0, hn) && r.resid_max <= 1e-8 * fmax(1.0, hn));
    /* the Ritz vector is a unit eigenvector: y^T H y = λ */
    const double *y = dln_lanczos_vec_min(lz);
    double *hy = malloc(net->nparams * sizeof(double)), q = 0, ny = 0;
    assert_int_equal(dln_net_hvp(net, loss, th, y, hy), DLN_OK);
    for (size_t i = 0; i < net->nparams; ++i) {
      q += y[i] * hy[i];
      ny += y[i] * y[i];
    }
    assert_close(ny, 1.0, 1e-12, 0);
    assert_close(q, lmin, 0, 1e-8 * fmax(1.0, hn));
    /* non-convergence with a tiny cap is reported with its residual */
    dln_lanczos_options lo;
    dln_lanczos_default_options(&lo);
    lo.max_iter = 3;
    assert_int_equal(dln_lanczos_run(lz, loss, th, &lo, &r), DLN_OK);
    if (tu_verbose()) printf("  cap 3: %s\n", r.message);
    assert_false(r.converged);
    assert_int_equal(r.iters, 3);
    assert_true(strncmp(r.message, "did not converge: residual ", 27) == 0);
    assert_true(r.resid_min > 0 || r.resid_max > 0);
    assert_true(r.lambda_min >= lmin - 1e-12 && r.lambda_max <= lmax + 1e-12); /* Ritz values interlace */
    free(hy);
    dln_lanczos_free(lz);
    free(th);
    dln_loss_free(loss);
    dln_mat_free(A);
    dln_mat_free(B);
    dln_net_free(net);
  }
  dln_rng_free(rng);
}

static void test_origin(void **state) {
  (void)state;
  dln_rng *rng = dln_rng_alloc(25, 0);
  int d = 3;
  dln_mat *Y = NULL;
  assert_int_equal(dln_data_gaussian(rng, d, d, 1.0, &Y), DLN_OK);
  double s1, sv[3], w[9];
  assert_int_equal(dln_singular_values(d, d, Y->data, sv, w), DLN_OK);
  s1 = sv[0];
  dln_loss *loss = NULL;
  assert_int_equal(dln_loss_factorization_alloc(&loss, Y), DLN_OK);
  for (int N = 2; N <= 4; ++N) {
    int widths[5] = {d, 4, 4, 4, d};
    widths[N] = d;
    dln_net *net = NULL;
    assert_int_equal(dln_net_alloc(&net, N, widths, 0), DLN_OK);
    double *th = calloc(net->nparams, sizeof(double));
    dln_lanczos *lz = NULL;
    assert_int_equal(dln_lanczos_alloc(&lz, net, 60), DLN_OK);
    dln_point_result pr;
    assert_int_equal(dln_point_classify(lz, loss, th, NULL, &pr), DLN_OK);
    if (tu_verbose()) printf("origin N = %d: %s [%s]\n", N, dln_point_kind_name(pr.kind), pr.message);
    if (N == 2) {
      assert_int_equal(pr.kind, DLN_POINT_STRICT_SADDLE);
      assert_close(pr.eig.lambda_min, -s1, 1e-10, 0);
      /* the descent direction decreases φ at second order */
      double *t2 = malloc(net->nparams * sizeof(double)), v;
      for (size_t i = 0; i < net->nparams; ++i) t2[i] = 1e-3 * pr.descent[i];
      assert_int_equal(dln_net_grad(net, loss, t2, &v, NULL, NULL), DLN_OK);
      assert_true(v < pr.phi - 0.4 * s1 * 1e-6);
      free(t2);
    } else {
      assert_int_equal(pr.kind, DLN_POINT_NONSTRICT_SADDLE);
      assert_true(fabs(pr.eig.lambda_min) < 1e-14 && fabs(pr.eig.lambda_max) < 1e-14);
      assert_true(pr.descent_found);
      assert_close(pr.probe_order, (double)N, 0.05, 0);
    }
    free(th);
    dln_lanczos_free(lz);
    dln_net_free(net);
  }
  dln_loss_free(loss);
  dln_mat_free(Y);
  dln_rng_free(rng);
}

/* Converged points: global minima and the Crit_2 saddle (000 Theorem 3 at each). */
static void test_converged_points(void **state) {
  (void)state;
  dln_rng *rng = dln_rng_alloc(26, 0);
  double s[3] = {3, 2, 1};
  int rows = 4, cols = 3;
  dln_mat *Y = target_with_sv(rng, rows, cols, 3, s);
  dln_loss *loss = NULL;
  assert_int_equal(dln_loss_factorization_alloc(&loss, Y), DLN_OK);
  int w2[3] = {cols, 5, rows};
  dln_net *net = NULL;
  assert_int_equal(dln_net_alloc(&net, 2, w2, 0), DLN_OK);
  double *th = malloc(net->nparams * sizeof(double));
  dln_lanczos *lz = NULL;
  assert_int_equal(dln_lanczos_alloc(&lz, net, (int)net->nparams), DLN_OK);
  dln_point_result pr;
  dln_equilibrium eq;
  /* random point: not critical, 000 Thm 3 fails */
  assert_int_equal(dln_init_gaussian(net, th, rng, 0.5, NULL), DLN_OK);
  assert_int_equal(dln_point_classify(lz, loss, th, NULL, &pr), DLN_OK);
  assert_int_equal(pr.kind, DLN_POINT_NOT_CRITICAL);
  assert_int_equal(dln_equilibrium_check(net, loss, th, 0, &eq), DLN_OK);
  if (tu_verbose()) printf("random point: %s\n", eq.message);
  assert_false(eq.holds);
  assert_false(eq.stmt1_holds);
  /* global minimum */
  flow(net, loss, th, 60);
  assert_int_equal(dln_point_classify(lz, loss, th, NULL, &pr), DLN_OK);
  if (tu_verbose()) printf("converged: %s\n", pr.message);
  assert_int_equal(pr.kind, DLN_POINT_GLOBAL_MINIMUM);
  assert_int_equal(dln_equilibrium_check(net, loss, th, 0, &eq), DLN_OK);
  if (tu_verbose()) printf("  %s\n", eq.message);
  assert_true(eq.holds && eq.stmt1_holds);
  assert_int_equal(eq.residual_rank, 0);
  /* saddle stratum Crit_2 (component 2 never learned): strict saddle for N = 2 (004 Prop. 4 ii) */
  double ubar[3] = {0.1, 0, 0.1}, vbar[3] = {0.1, 0, 0.1};
  dln_mat *Yd = diag_target(rows, cols, 3, s);
  dln_loss *lossd = NULL;
  assert_int_equal(dln_loss_factorization_alloc(&lossd, Yd), DLN_OK);
  assert_int_equal(dln_init_spectral_asymmetric(net, th, Yd, ubar, vbar, NULL), DLN_OK);
  flow(net, lossd, th, 60);
  assert_int_equal(dln_point_classify(lz, lossd, th, NULL, &pr), DLN_OK);
  if (tu_verbose()) printf("Crit_2 end point: %s\n", pr.message);
  assert_int_equal(pr.kind, DLN_POINT_STRICT_SADDLE);
  assert_true(pr.eig.lambda_min < -0.1);
  /* escaping along the descent direction lowers φ */
  {
    double *t2 = malloc(net->nparams * sizeof(double)), v2;
    for (size_t i = 0; i < net->nparams; ++i) t2[i] = th[i] + 1e-3 * pr.descent[i];
    assert_int_equal(dln_net_grad(net, lossd, t2, &v2, NULL, NULL), DLN_OK);
    assert_true(v2 < pr.phi + 0.5 * pr.eig.lambda_min * 1e-6 * 0.9);
    free(t2);
  }
  assert_int_equal(dln_equilibrium_check(net, lossd, th, 0, &eq), DLN_OK);
  if (tu_verbose()) printf("  %s\n", eq.message);
  assert_true(eq.holds && eq.stmt1_holds);
  assert_int_equal(eq.residual_rank, 1);
  /* the zero equilibrium reached with round-off left in the layers (a start in 000's S^-):
   * a layer of norm ~1e-16 lies in every subspace, so 000 Thm 3 holds there; random layers
   * of norm ~1e-3 (far above the tolerance's scale, 1e-8 sqrt|Ybar|) still fail it */
  assert_int_equal(dln_init_gaussian(net, th, rng, 1e-16, NULL), DLN_OK);
  assert_int_equal(dln_equilibrium_check(net, lossd, th, 0, &eq), DLN_OK);
  if (tu_verbose()) printf("zero point: %s\n", eq.message);
  assert_true(eq.holds && eq.stmt1_holds);
  assert_int_equal(dln_init_gaussian(net, th, rng, 1e-3, NULL), DLN_OK);
  assert_int_equal(dln_equilibrium_check(net, lossd, th, 0, &eq), DLN_OK);
  assert_false(eq.holds);
  /* N = 3 global minimum */
  int w3[4] = {cols, 4, 4, rows};
  dln_net *net3 = NULL;
  assert_int_equal(dln_net_alloc(&net3, 3, w3, 0), DLN_OK);
  double *th3 = malloc(net3->nparams * sizeof(double));
  assert_int_equal(dln_init_gaussian(net3, th3, rng, 0.5, NULL), DLN_OK);
  flow(net3, loss, th3, 100);
  dln_lanczos *lz3 = NULL;
  assert_int_equal(dln_lanczos_alloc(&lz3, net3, (int)net3->nparams), DLN_OK);
  assert_int_equal(dln_point_classify(lz3, loss, th3, NULL, &pr), DLN_OK);
  if (tu_verbose()) printf("N = 3 converged: %s\n", pr.message);
  assert_int_equal(pr.kind, DLN_POINT_GLOBAL_MINIMUM);
  assert_int_equal(dln_equilibrium_check(net3, loss, th3, 0, &eq), DLN_OK);
  assert_true(eq.holds && eq.stmt1_holds);
  dln_loss_free(lossd);
  dln_mat_free(Yd);
  dln_lanczos_free(lz3);
  free(th3);
  dln_net_free(net3);
  dln_lanczos_free(lz);
  free(th);
  dln_net_free(net);
  dln_loss_free(loss);
  dln_mat_free(Y);
  dln_rng_free(rng);
}

/* ------------------------------------------------------------------ (e) 002 Theorem 3 */
static void sv_of(dln_net *net, const double *th, double *s) {
  int rows = dln_net_rows(net), cols = dln_net_cols(net);
  double *W = malloc((size_t)rows * cols * sizeof(double)), *w = malloc((size_t)rows * cols * sizeof(double));
  assert_int_equal(dln_net_product(net, th, W), DLN_OK);
  assert_int_equal(dln_singular_values(rows, cols, W, s, w), DLN_OK);
  free(W);
  free(w);
}

static void test_sigma_dot(void **state) {
  (void)state;
  dln_rng *rng = dln_rng_alloc(27, 0);
  int rows = 4, cols = 3, k = 3;
  dln_mat *Y = NULL, *W0 = NULL;
  assert_int_equal(dln_data_gaussian(rng, rows, cols, 1.0, &Y), DLN_OK);
  assert_int_equal(dln_data_gaussian(rng, rows, cols, 0.5, &W0), DLN_OK);
  dln_loss *loss = NULL;
  assert_int_equal(dln_loss_factorization_alloc(&loss, Y), DLN_OK);
  for (int N = 1; N <= 4; ++N) {
    int widths[5] = {cols, 5, 6, 5, rows};
    widths[N] = rows;
    dln_net *net = NULL;
    assert_int_equal(dln_net_alloc(&net, N, widths, 0), DLN_OK);
    size_t n = net->nparams;
    double *th = malloc(n * sizeof(double)), *g = malloc(n * sizeof(double)), *tp = malloc(n * sizeof(double)),
           *tm = malloc(n * sizeof(double));
    dln_sigma_dot *sd = NULL;
    assert_int_equal(dln_sigma_dot_alloc(&sd, net), DLN_OK);
    for (int balanced = 1; balanced >= 0; --balanced) {
      if (balanced)
        assert_int_equal(dln_init_balanced(net, th, W0, rng), DLN_OK);
      else
        assert_int_equal(dln_init_gaussian(net, th, rng, 0.7, NULL), DLN_OK);
      double pred[3], meas[3], rel;
      assert_int_equal(dln_sigma_dot_compare(sd, loss, th, pred, meas, &rel), DLN_OK);
      /* finite differences of σ(W(θ)) along θ̇ = −∇φ */
      double v, sp[3], sm[3], h = 1e-6, fd_err = 0, fd_scale = 0;
      assert_int_equal(dln_net_grad(net, loss, th, &v, g, NULL), DLN_OK);
      for (size_t i = 0; i < n; ++i) {
        tp[i] = th[i] - h * g[i];
        tm[i] = th[i] + h * g[i];
      }
      sv_of(net, tp, sp);
      sv_of(net, tm, sm);
      for (int r = 0; r < k; ++r) {
        double fd = (sp[r] - sm[r]) / (2 * h);
        fd_err = fmax(fd_err, fabs(fd - meas[r]));
        fd_scale = fmax(fd_scale, fabs(meas[r]));
      }
      if (tu_verbose())
        printf("N = %d %s: pred vs meas rel %.3g, meas vs FD rel %.3g (sdot_1 %.6g / %.6g)\n", N,
               balanced ? "balanced" : "unbalanced", rel, fd_err / fd_scale, pred[0], meas[0]);
      assert_true(fd_err <= 1e-6 * fd_scale);
      if (balanced || N == 1)
        assert_true(rel <= 1e-10);
      else
        assert_true(rel > 1e-3);
    }
    dln_sigma_dot_free(sd);
    free(th);
    free(g);
    free(tp);
    free(tm);
    dln_net_free(net);
  }
  dln_loss_free(loss);
  dln_mat_free(Y);
  dln_mat_free(W0);
  dln_rng_free(rng);
}

/* ------------------------------------------------------------------ 002 Proposition 5 */
static void test_prop5_completion(void **state) {
  (void)state;
  int r[3] = {0, 1, 1}, c[3] = {1, 0, 1};
  double v[3] = {1, 1, 0};
  dln_loss *loss = NULL;
  assert_int_equal(dln_loss_completion_alloc(&loss, 2, 2, 3, r, c, v), DLN_OK);
  for (int N = 2; N <= 3; ++N) {
    for (int sgn = 1; sgn >= -1; sgn -= 2) {
      int widths[4] = {2, 2, 2, 2};
      dln_net *net = NULL;
      assert_int_equal(dln_net_alloc(&net, N, widths, 0), DLN_OK);
      double *th = malloc(net->nparams * sizeof(double));
      /* balanced init at W0 with det W0 of sign sgn */
      dln_mat *W0 = dln_mat_alloc(2, 2);
      W0->data[0] = 0.3 * sgn;
      W0->data[1] = 0.05;
      W0->data[2] = 0.1;
      W0->data[3] = 0.2;
      assert_int_equal(dln_init_balanced(net, th, W0, NULL), DLN_OK);
      dln_bias *b = NULL;
      assert_int_equal(dln_bias_alloc(&b, 2, 2), DLN_OK);
      dln_train_options opt;
      dln_train_default_options(&opt);
      opt.method = &dln_integrator_flow;
      opt.nsamples = 2;
      opt.rtol = 1e-10;
      opt.atol = 1e-12;
      double times[] = {0, 1, 3, 10, 20, 40, 60};
      double prev_loss = INFINITY, prev_norm = 0;
      int ngrow = 0;
      for (int i = 0; i < (int)(sizeof times / sizeof times[0]); ++i) {
        if (i > 0) {
          opt.t_end = times[i] - times[i - 1];
          dln_train_result tr;
          assert_int_equal(dln_train(net, loss, th, &opt, NULL, NULL, &tr), DLN_OK);
          assert_int_equal(tr.stop_reason, DLN_STOP_TIME);
        }
        double W[4], l;
        assert_int_equal(dln_net_grad(net, loss, th, &l, NULL, W), DLN_OK);
        dln_bias_result br;
        assert_int_equal(dln_bias_eval(b, W, NULL, &br), DLN_OK);
        if (tu_verbose())
          printf("N = %d det0 %+d t = %6g: loss %.4g sign det %+d |W|_F %.5g w11 %.5g bound %.5g\n", N, sgn, times[i], l,
                 br.det_sign, br.fro, W[0], l < 1.0 / 6 ? 1 / sqrt(6 * l) - 2 : NAN);
        assert_int_equal(br.det_sign, sgn);
        assert_true(l <= prev_loss + 1e-15); /* round-off once converged */
        if (sgn > 0 && l < 1.0 / 6) assert_true(fabs(W[0]) >= 1 / sqrt(6 * l) - 2);
        if (i > 0 && br.fro > prev_norm) ngrow++;
        prev_loss = l;
        prev_norm = br.fro;
      }
      if (sgn > 0) { /* norm grows without bound as the loss falls */
        assert_true(prev_loss < 1e-2);
        assert_true(prev_norm > 4);
        assert_true(ngrow >= 5);
      } else { /* det < 0: the minimizers [[w, 1], [1, 0]] have det = −1; bounded norm */
        assert_true(prev_loss < 1e-12);
        assert_true(prev_norm < 3);
      }
      dln_bias_free(b);
      dln_mat_free(W0);
      free(th);
      dln_net_free(net);
    }
  }
  dln_loss_free(loss);
}

/* The evaluation calls do not allocate: dln_lanczos_run, dln_point_classify (on a
 * non-factorization loss, whose φ* needs no SVD), dln_sigma_dot_*, dln_bias_eval,
 * dln_bias_det_sign, dln_orth_eval. */
static void test_no_allocation(void **state) {
  (void)state;
  if (!DLN_HAVE_ALLOC_COUNTER) skip();
  dln_rng *rng = dln_rng_alloc(28, 0);
  int widths[3] = {4, 5, 3};
  dln_net *net = NULL;
  assert_int_equal(dln_net_alloc(&net, 2, widths, 0), DLN_OK);
  dln_mat *X = NULL, *Y = NULL;
  assert_int_equal(dln_data_gaussian(rng, 4, 6, 1.0, &X), DLN_OK);
  assert_int_equal(dln_data_gaussian(rng, 3, 6, 1.0, &Y), DLN_OK);
  dln_loss *loss = NULL;
  assert_int_equal(dln_loss_regression_alloc(&loss, X, Y), DLN_OK);
  double *th = malloc(net->nparams * sizeof(double)), W[12], pred[3], meas[3], rel;
  assert_int_equal(dln_init_gaussian(net, th, rng, 0.5, NULL), DLN_OK);
  dln_lanczos *lz = NULL;
  dln_sigma_dot *sd = NULL;
  dln_bias *b = NULL, *bsq = NULL;
  dln_orth *o = NULL;
  assert_int_equal(dln_lanczos_alloc(&lz, net, (int)net->nparams), DLN_OK);
  assert_int_equal(dln_sigma_dot_alloc(&sd, net), DLN_OK);
  assert_int_equal(dln_bias_alloc(&b, 3, 4), DLN_OK);
  assert_int_equal(dln_bias_alloc(&bsq, 3, 3), DLN_OK);
  assert_int_equal(dln_orth_alloc(&o, net, X), DLN_OK);
  assert_int_equal(dln_net_product(net, th, W), DLN_OK);
  /* warm-up (OpenBLAS may allocate its buffers on first use) */
  dln_lanczos_result lr;
  dln_point_result pr;
  dln_bias_result br;
  dln_point_options po;
  dln_point_default_options(&po);
  po.phi_star = 0;
  int sg;
  double tot;
  assert_int_equal(dln_lanczos_run(lz, loss, th, NULL, &lr), DLN_OK);
  assert_int_equal(dln_point_classify(lz, loss, th, &po, &pr), DLN_OK);
  assert_int_equal(dln_sigma_dot_compare(sd, loss, th, pred, meas, &rel), DLN_OK);
  assert_int_equal(dln_bias_eval(b, W, loss->wstar, &br), DLN_OK);
  assert_int_equal(dln_bias_det_sign(bsq, W, &sg, NULL), DLN_OK);
  assert_int_equal(dln_orth_eval(o, th, NULL, NULL, &tot), DLN_OK);
  dln_alloc_count_begin();
  int s1 = dln_lanczos_run(lz, loss, th, NULL, &lr);
  int s2 = dln_point_classify(lz, loss, th, &po, &pr);
  int s3 = dln_sigma_dot_compare(sd, loss, th, pred, meas, &rel);
  int s4 = dln_bias_eval(b, W, loss->wstar, &br);
  int s5 = dln_bias_det_sign(bsq, W, &sg, NULL);
  int s6 = dln_orth_eval(o, th, NULL, NULL, &tot);
  long nalloc = dln_alloc_count_end(NULL);
  assert_true(!s1 && !s2 && !s3 && !s4 && !s5 && !s6);
  if (tu_verbose()) printf("heap calls in the evaluation functions: %ld\n", nalloc);
  assert_int_equal(nalloc, 0);
  dln_orth_free(o);
  dln_bias_free(b);
  dln_bias_free(bsq);
  dln_sigma_dot_free(sd);
  dln_lanczos_free(lz);
  free(th);
  dln_loss_free(loss);
  dln_mat_free(X);
  dln_mat_free(Y);
  dln_net_free(net);
  dln_rng_free(rng);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_critical_values_321), cmocka_unit_test(test_critical_values_capped),
      cmocka_unit_test(test_strata),              cmocka_unit_test(test_lanczos_dense),
      cmocka_unit_test(test_origin),              cmocka_unit_test(test_converged_points),
      cmocka_unit_test(test_sigma_dot),           cmocka_unit_test(test_prop5_completion),
      cmocka_unit_test(test_no_allocation),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
