/* The imbalance regularizer R(θ) = ⅛ Σ_j ‖C_j − Λ_j‖_F² of 001 Prop. 4 (eq. 27) in
 * dln_net_grad / dln_net_hvp (src/model/net.c), against independent truths:
 *   gradient: central differences of φ = ℓ + R, |FD − ⟨∇φ, v⟩| ≤ 1e-7 ‖∇φ‖ (h = 1e-5);
 *   HVP: central differences of ∇φ, ‖FD − ∇²φ v‖ ≤ 1e-6 ‖∇²φ v‖ (h = 1e-5);
 *   R's value against a direct evaluation of the formula from dln_net_conserved;
 *   depths 2 and 3, λ0 ≠ 0 and a general (non-symmetric) Λ.
 * Off: a net whose regularizer was set and cleared gives bit-identical φ, ∇φ, ∇²φ v.
 * Flow: ⟨∇ℓ, ∇R⟩ = 0 (so R and ℓ both decrease); 001 Prop. 4: started on
 * C_1 = λ0 I, the regularized flow equals the unregularized one and R stays 0; from a
 * random start R(t) and ℓ(t) are non-increasing. GD → flow as η → 0 (first order). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dln/data.h"
#include "dln/error.h"
#include "dln/fit.h"
#include "dln/io.h"
#include "dln/loss.h"
#include "dln/mat.h"
#include "dln/net.h"
#include "dln/rng.h"
#include "dln/train.h"
#include "testutil.h"

typedef struct {
  dln_net *net;
  dln_loss *loss;
  double *theta;
  size_t n;
} fixture;

static void fx_make(fixture *f, int depth, const int *w, double sigma, uint64_t seed) {
  dln_rng *rng = dln_rng_alloc(seed, 0);
  dln_mat *Y = NULL;
  assert_int_equal(dln_data_gaussian(rng, w[depth], w[0], 1.0, &Y), DLN_OK);
  assert_int_equal(dln_loss_factorization_alloc(&f->loss, Y), DLN_OK);
  assert_int_equal(dln_net_alloc(&f->net, depth, w, 0), DLN_OK);
  f->n = f->net->nparams;
  f->theta = malloc(f->n * sizeof *f->theta);
  dln_rng_fill_gaussian(rng, f->theta, f->n, sigma);
  dln_mat_free(Y);
  dln_rng_free(rng);
}

static void fx_free(fixture *f) {
  dln_net_free(f->net);
  dln_loss_free(f->loss);
  free(f->theta);
}

static double phi_at(fixture *f, const double *th) {
  double v = NAN;
  assert_int_equal(dln_net_grad(f->net, f->loss, th, &v, NULL, NULL), DLN_OK);
  return v;
}

/* R from its definition: ⅛ Σ_j ‖C_j − λ0 I − L_j‖² with C_j from dln_net_conserved. */
static double R_direct(fixture *f, double lambda0, double *const *L) {
  double s = 0;
  for (int j = 1; j < f->net->depth; ++j) {
    int q = f->net->widths[j];
    double *C = malloc((size_t)q * q * sizeof *C);
    assert_int_equal(dln_net_conserved(f->net, f->theta, j, C), DLN_OK);
    for (int c = 0; c < q; ++c)
      for (int r = 0; r < q; ++r) {
        double x = C[r + c * q] - (r == c ? lambda0 : 0) - (L ? L[j - 1][r + c * q] : 0);
        s += x * x;
      }
    free(C);
  }
  return s / 8;
}

/* FD gradient and HVP of φ = ℓ + R along 4 random directions. */
static void fd_check(fixture *f, const char *what) {
  size_t n = f->n;
  double *g = malloc(n * sizeof *g), *v = malloc(n * sizeof *v), *tp = malloc(n * sizeof *tp), *tm = malloc(n * sizeof *tm);
  double *gp = malloc(n * sizeof *gp), *gm = malloc(n * sizeof *gm), *Hv = malloc(n * sizeof *Hv);
  const double h = 1e-5;
  assert_int_equal(dln_net_grad(f->net, f->loss, f->theta, NULL, g, NULL), DLN_OK);
  for (int k = 0; k < 4; ++k) {
    double nv = 0, gv = 0;
    for (size_t i = 0; i < n; ++i) v[i] = tu_grand(), nv += v[i] * v[i];
    for (size_t i = 0; i < n; ++i) v[i] /= sqrt(nv), gv += g[i] * v[i];
    for (size_t i = 0; i < n; ++i) tp[i] = f->theta[i] + h * v[i], tm[i] = f->theta[i] - h * v[i];
    double fd = (phi_at(f, tp) - phi_at(f, tm)) / (2 * h);
    double gnorm = 0;
    for (size_t i = 0; i < n; ++i) gnorm += g[i] * g[i];
    gnorm = sqrt(gnorm);
    if (tu_verbose()) printf("%s dir %d: grad |fd - <g,v>| = %.3g (|g| %.3g)\n", what, k, fabs(fd - gv), gnorm);
    assert_true(fabs(fd - gv) <= 1e-7 * gnorm);
    assert_int_equal(dln_net_grad(f->net, f->loss, tp, NULL, gp, NULL), DLN_OK);
    assert_int_equal(dln_net_grad(f->net, f->loss, tm, NULL, gm, NULL), DLN_OK);
    assert_int_equal(dln_net_hvp(f->net, f->loss, f->theta, v, Hv), DLN_OK);
    double err = 0, hn = 0;
    for (size_t i = 0; i < n; ++i) {
      double d = (gp[i] - gm[i]) / (2 * h) - Hv[i];
      err += d * d;
      hn += Hv[i] * Hv[i];
    }
    if (tu_verbose()) printf("%s dir %d: hvp err %.3g (|Hv| %.3g)\n", what, k, sqrt(err), sqrt(hn));
    assert_true(sqrt(err) <= 1e-6 * sqrt(hn));
    /* a wrong HVP (one entry off by 1e-3 relative to |Hv|) must fail the same test */
    double bad = (gp[0] - gm[0]) / (2 * h) - (Hv[0] + 1e-3 * sqrt(hn));
    assert_false(fabs(bad) <= 1e-6 * sqrt(hn));
  }
  free(g), free(v), free(tp), free(tm), free(gp), free(gm), free(Hv);
}

static void test_fd_lambda0(void **state) {
  (void)state;
  tu_seed(11);
  static const int w2[] = {4, 6, 3}, w3[] = {5, 4, 6, 3};
  const int *ws[] = {w2, w3};
  for (int c = 0; c < 2; ++c) {
    fixture f;
    fx_make(&f, c + 2, ws[c], 0.7, 3 + c);
    double phi0 = phi_at(&f, f.theta), R = NAN, ell = NAN;
    assert_int_equal(dln_net_set_imbalance_reg(f.net, 0.8, NULL), DLN_OK);
    assert_int_equal(dln_net_objective(f.net, f.loss, f.theta, &ell, &R, NULL, NULL), DLN_OK);
    assert_true(ell == phi0); /* the loss part is untouched */
    assert_close(R, R_direct(&f, 0.8, NULL), 1e-13, 0);
    assert_close(phi_at(&f, f.theta), phi0 + R, 1e-15, 0);
    fd_check(&f, c ? "N=3 lambda0" : "N=2 lambda0");
    fx_free(&f);
  }
}

static void test_fd_general_lambda(void **state) {
  (void)state;
  tu_seed(12);
  static const int w2[] = {4, 6, 3}, w3[] = {5, 4, 6, 3};
  const int *ws[] = {w2, w3};
  for (int c = 0; c < 2; ++c) {
    fixture f;
    int N = c + 2;
    fx_make(&f, N, ws[c], 0.7, 5 + c);
    double *L[2] = {NULL, NULL};
    for (int j = 1; j < N; ++j) {
      int q = f.net->widths[j];
      L[j - 1] = malloc((size_t)q * q * sizeof **L);
      for (int i = 0; i < q * q; ++i) L[j - 1][i] = tu_grand(); /* not symmetric on purpose */
    }
    assert_int_equal(dln_net_set_imbalance_reg(f.net, -0.3, (const double *const *)L), DLN_OK);
    double R = NAN;
    assert_int_equal(dln_net_imbalance_reg(f.net, f.theta, &R), DLN_OK);
    /* Λ_j = λ0 I + L_j */
    assert_close(R, R_direct(&f, -0.3, L), 1e-13, 0);
    fd_check(&f, c ? "N=3 Lambda" : "N=2 Lambda");
    for (int j = 0; j < 2; ++j) free(L[j]);
    fx_free(&f);
  }
}

/* Set then cleared: φ, ∇φ and ∇²φ v are bit for bit those of a net that never had it. */
static void test_off_bit_identical(void **state) {
  (void)state;
  static const int w[] = {5, 4, 6, 3};
  fixture a, b;
  fx_make(&a, 3, w, 0.5, 7);
  fx_make(&b, 3, w, 0.5, 7);
  size_t n = a.n;
  double *ga = malloc(n * sizeof *ga), *gb = malloc(n * sizeof *gb), *v = malloc(n * sizeof *v);
  double *ha = malloc(n * sizeof *ha), *hb = malloc(n * sizeof *hb), va, vb;
  for (size_t i = 0; i < n; ++i) v[i] = tu_grand();
  assert_int_equal(dln_net_set_imbalance_reg(b.net, 0.0, NULL), DLN_OK);
  assert_int_equal(dln_net_grad(b.net, b.loss, b.theta, &vb, gb, NULL), DLN_OK);
  assert_int_equal(dln_net_grad(a.net, a.loss, a.theta, &va, ga, NULL), DLN_OK);
  assert_true(vb > va); /* λ0 = 0 is a real regularizer (pulls C_j to 0), not "off" */
  assert_int_equal(dln_net_clear_imbalance_reg(b.net), DLN_OK);
  assert_int_equal(dln_net_has_imbalance_reg(b.net), 0);
  assert_int_equal(dln_net_grad(b.net, b.loss, b.theta, &vb, gb, NULL), DLN_OK);
  assert_int_equal(dln_net_hvp(a.net, a.loss, a.theta, v, ha), DLN_OK);
  assert_int_equal(dln_net_hvp(b.net, b.loss, b.theta, v, hb), DLN_OK);
  assert_true(va == vb);
  assert_memory_equal(ga, gb, n * sizeof *ga);
  assert_memory_equal(ha, hb, n * sizeof *ha);
  free(ga), free(gb), free(v), free(ha), free(hb);
  fx_free(&a);
  fx_free(&b);
}

/* ⟨∇ℓ, ∇R⟩ = 0 at random points (∇ℓ keeps every C_j: 002 Lemma 1), depth 3. */
static void test_orthogonal_gradients(void **state) {
  (void)state;
  static const int w[] = {5, 4, 6, 3};
  fixture f;
  fx_make(&f, 3, w, 0.8, 9);
  size_t n = f.n;
  double *gl = malloc(n * sizeof *gl), *gp = malloc(n * sizeof *gp);
  assert_int_equal(dln_net_grad(f.net, f.loss, f.theta, NULL, gl, NULL), DLN_OK);
  assert_int_equal(dln_net_set_imbalance_reg(f.net, 1.3, NULL), DLN_OK);
  assert_int_equal(dln_net_grad(f.net, f.loss, f.theta, NULL, gp, NULL), DLN_OK);
  double dotp = 0, nl = 0, nr = 0;
  for (size_t i = 0; i < n; ++i) {
    double gr = gp[i] - gl[i];
    dotp += gl[i] * gr, nl += gl[i] * gl[i], nr += gr * gr;
  }
  if (tu_verbose()) printf("<grad l, grad R> = %.3g, |grad l| |grad R| = %.3g\n", dotp, sqrt(nl * nr));
  assert_true(nr > 1e-3);
  assert_true(fabs(dotp) <= 1e-12 * sqrt(nl * nr));
  free(gl), free(gp);
  fx_free(&f);
}

static void train_to(fixture *f, double *th, const dln_integrator_type *m, double eta, double t_end) {
  dln_train_options o;
  dln_train_default_options(&o);
  o.method = m;
  o.eta = eta;
  o.t_end = t_end;
  o.nsamples = 2;
  o.rtol = 1e-11;
  o.atol = 1e-13;
  dln_train_result r;
  assert_int_equal(dln_train_sampled(f->net, f->loss, th, &o, NULL, NULL, &r), DLN_OK);
  assert_int_equal(r.stop_reason, DLN_STOP_TIME);
}

/* 001 Prop. 4: from C_1(0) = λ0 I (W_2 with orthogonal columns of norm √λ0, W_1 = 0;
 * hidden width k = 2 ≤ m = 3), the regularized flow is the unregularized one and R(t)
 * stays 0; CVODE (which uses the HVP) and the explicit RK agree. */
static void test_flow_prop4_invariant(void **state) {
  (void)state;
  static const int w[] = {4, 2, 3};
  const double lambda0 = 0.6;
  fixture f;
  fx_make(&f, 2, w, 0.0, 21);
  dln_rng *rng = dln_rng_alloc(5, 0);
  double Q[6];
  assert_int_equal(dln_rng_orthogonal(rng, 3, 2, Q), DLN_OK);
  dln_rng_free(rng);
  memset(f.theta, 0, f.n * sizeof *f.theta);
  double *W2 = dln_net_layer(f.net, f.theta, 2);
  for (int i = 0; i < 6; ++i) W2[i] = sqrt(lambda0) * Q[i];
  double *a = malloc(f.n * sizeof *a), *b = malloc(f.n * sizeof *b), *c = malloc(f.n * sizeof *c);
  memcpy(a, f.theta, f.n * sizeof *a), memcpy(b, a, f.n * sizeof *a), memcpy(c, a, f.n * sizeof *a);
  double R0 = NAN, R1 = NAN, l0 = phi_at(&f, a);
  train_to(&f, a, &dln_integrator_flow, 0, 3.0); /* unregularized */
  assert_int_equal(dln_net_set_imbalance_reg(f.net, lambda0, NULL), DLN_OK);
  assert_int_equal(dln_net_imbalance_reg(f.net, b, &R0), DLN_OK);
  train_to(&f, b, &dln_integrator_flow, 0, 3.0);
  train_to(&f, c, &dln_integrator_cvode, 0, 3.0);
  assert_int_equal(dln_net_imbalance_reg(f.net, b, &R1), DLN_OK);
  double d = tu_maxdiff(f.n, a, b), dc = tu_maxdiff(f.n, a, c), l1 = NAN;
  assert_int_equal(dln_net_objective(f.net, f.loss, b, &l1, NULL, NULL, NULL), DLN_OK);
  if (tu_verbose()) printf("Prop. 4: R(0) = %.3g, R(3) = %.3g, |reg - unreg| = %.3g (cvode %.3g), loss %.4g -> %.4g\n", R0, R1, d, dc, l0, l1);
  assert_true(R0 <= 1e-28 && R1 <= 1e-16);
  assert_true(l1 < 0.5 * l0); /* the flow really moved */
  assert_true(d <= 1e-8);
  assert_true(dc <= 1e-5);
  free(a), free(b), free(c);
  fx_free(&f);
}

/* From a random start: ℓ(t) and R(t) both non-increasing on samples (Ṙ = −‖∇R‖²,
 * ℓ̇ = −‖∇ℓ‖², the cross term vanishes), and R drops. */
static void test_flow_monotone(void **state) {
  (void)state;
  static const int w[] = {4, 5, 6, 3};
  fixture f;
  fx_make(&f, 3, w, 0.6, 23);
  assert_int_equal(dln_net_set_imbalance_reg(f.net, 0.4, NULL), DLN_OK);
  double lp = INFINITY, Rp = INFINITY, R0 = NAN;
  assert_int_equal(dln_net_imbalance_reg(f.net, f.theta, &R0), DLN_OK);
  for (int k = 0; k < 10; ++k) {
    double l, R;
    assert_int_equal(dln_net_objective(f.net, f.loss, f.theta, &l, &R, NULL, NULL), DLN_OK);
    assert_true(l <= lp * (1 + 1e-9) && R <= Rp * (1 + 1e-9));
    lp = l, Rp = R;
    train_to(&f, f.theta, &dln_integrator_auto, 0, 0.2);
  }
  if (tu_verbose()) printf("R: %.4g -> %.4g\n", R0, Rp);
  assert_true(Rp < 0.5 * R0);
  fx_free(&f);
}

/* Gradient descent → the regularized flow as η → 0: error at t = 1 is O(η) (ratio of the
 * errors for η and η/10 between 5 and 20). */
static void test_gd_to_flow(void **state) {
  (void)state;
  static const int w[] = {4, 5, 3};
  fixture f;
  fx_make(&f, 2, w, 0.5, 31);
  assert_int_equal(dln_net_set_imbalance_reg(f.net, 0.9, NULL), DLN_OK);
  double *ref = malloc(f.n * sizeof *ref), *g1 = malloc(f.n * sizeof *g1), *g2 = malloc(f.n * sizeof *g2);
  memcpy(ref, f.theta, f.n * sizeof *ref), memcpy(g1, ref, f.n * sizeof *ref), memcpy(g2, ref, f.n * sizeof *ref);
  train_to(&f, ref, &dln_integrator_flow, 0, 1.0);
  train_to(&f, g1, &dln_integrator_gd, 1e-3, 1.0);
  train_to(&f, g2, &dln_integrator_gd, 1e-4, 1.0);
  double e1 = tu_diffnorm(f.n, g1, ref), e2 = tu_diffnorm(f.n, g2, ref);
  if (tu_verbose()) printf("GD vs flow: eta 1e-3: %.3g, 1e-4: %.3g, ratio %.3g\n", e1, e2, e1 / e2);
  assert_true(e1 / e2 > 5 && e1 / e2 < 20);
  assert_true(e2 < 1e-3);
  free(ref), free(g1), free(g2);
  fx_free(&f);
}

/* fit-lambda0 (dln/fit.h) against a brute-force grid of 241 λ0 over the same range,
 * computed here with its own sampler and trapezoid: the fitted λ0 is within one grid
 * spacing of the grid's best, and its objective is no larger than the grid's best
 * (+1e-9 relative). */
typedef struct { dln_net *net; double *X; size_t rc; int i; } xs;
static int xs_eval(void *ctx, double t, long step, const double *theta, double *row) {
  (void)step;
  xs *x = ctx;
  row[0] = t;
  return dln_net_product(x->net, theta, x->X + (size_t)x->i++ * x->rc);
}

static void run_X(fixture *f, const dln_train_options *o, double *X, double *t) {
  size_t rc = (size_t)dln_net_rows(f->net) * dln_net_cols(f->net);
  xs x = {f->net, X, rc, 0};
  dln_sampler s = {1, xs_eval, &x};
  const char *nm[1] = {"t"};
  dln_table *tab = NULL;
  assert_int_equal(dln_table_alloc(&tab, 1, nm, (size_t)o->nsamples + 1), DLN_OK);
  double *th = malloc(f->n * sizeof *th);
  memcpy(th, f->theta, f->n * sizeof *th);
  dln_train_result r;
  assert_int_equal(dln_train_sampled(f->net, f->loss, th, o, &s, tab, &r), DLN_OK);
  assert_int_equal((int)tab->nrows, o->nsamples);
  for (int i = 0; i < o->nsamples; ++i) t[i] = tab->data[i];
  dln_table_free(tab);
  free(th);
}

static void test_fit_vs_grid(void **state) {
  (void)state;
  static const int w[] = {4, 6, 3};
  fixture f;
  fx_make(&f, 2, w, 0.8, 41);
  dln_train_options o;
  dln_train_default_options(&o);
  o.method = &dln_integrator_flow;
  o.t_end = 1.0;
  o.nsamples = 21;
  dln_fit_lambda0_options fo;
  dln_fit_lambda0_default_options(&fo);
  fo.tol = 1e-6;
  dln_fit_lambda0_result res;
  assert_int_equal(dln_fit_lambda0(f.net, f.loss, f.theta, &o, &fo, &res), DLN_OK);
  assert_int_equal(dln_net_has_imbalance_reg(f.net), 0); /* left as found */
  size_t rc = 12;
  int ns = o.nsamples, G = 241;
  double *X0 = malloc(ns * rc * sizeof *X0), *X = malloc(ns * rc * sizeof *X), t[21];
  run_X(&f, &o, X0, t);
  double best = INFINITY, lbest = NAN, h = (res.hi - res.lo) / (G - 1);
  for (int g = 0; g < G; ++g) {
    double lam = res.lo + h * g, sum = 0, ep = 0;
    assert_int_equal(dln_net_set_imbalance_reg(f.net, lam, NULL), DLN_OK);
    run_X(&f, &o, X, t);
    for (int i = 0; i < ns; ++i) {
      double e = tu_diffnorm(rc, X + i * rc, X0 + i * rc);
      if (i) sum += 0.5 * (t[i] - t[i - 1]) * (e + ep);
      ep = e;
    }
    if (sum < best) best = sum, lbest = lam;
  }
  if (tu_verbose())
    printf("fit: lambda0 = %.8g (f %.8g, %d evals) in [%.4g, %.4g]; grid best %.8g (f %.8g), spacing %.3g\n", res.lambda0,
           res.objective, res.n, res.lo, res.hi, lbest, best, h);
  assert_true(lbest > res.lo + h && lbest < res.hi - h); /* an interior minimum */
  assert_true(fabs(res.lambda0 - lbest) <= h);
  assert_true(res.objective <= best * (1 + 1e-9));
  /* a range above the minimum: followed downhill past lo to the same minimizer */
  dln_fit_lambda0_result r2;
  assert_int_equal(dln_net_clear_imbalance_reg(f.net), DLN_OK);
  fo.lo = res.lambda0 + 0.5, fo.hi = res.lambda0 + 2.0;
  assert_int_equal(dln_fit_lambda0(f.net, f.loss, f.theta, &o, &fo, &r2), DLN_OK);
  if (tu_verbose()) printf("fit from [%g, %g]: lambda0 = %.8g, %d evals\n", fo.lo, fo.hi, r2.lambda0, r2.n);
  assert_true(fabs(r2.lambda0 - res.lambda0) <= 1e-4);
  dln_fit_lambda0_result_free(&r2);
  free(X0), free(X);
  dln_fit_lambda0_result_free(&res);
  fx_free(&f);
}

/* The command line: a regularized run (λ0, and Λ from a file) has the imbalance_reg
 * column with loss = ℓ; `dln check` exits 0 with R and ℓ non-increasing holding and the
 * theory rows "not applicable: imbalance regularizer"; Λ_1 = λ0 I from a file gives the
 * same trajectory as --imbalance_reg=λ0 (to 1e-12). */
static void test_cli_run_and_check(void **state) {
  (void)state;
  const char *dir = tu_tmpdir(0);
  static const double eye[9] = {0.7, 0, 0, 0, 0.7, 0, 0, 0, 0.7};
  assert_int_equal(dln_npy_write(tu_path(dir, "L.npy"), 3, 3, eye, 0), DLN_OK);
  const char *a1[] = {"run", "--quiet", "--plot=false", "--t_end=1", "--samples=11", "--width=3", "--rows=3", "--cols=4",
                      "--init=gaussian", "--sigma=1", "--imbalance_reg=0.7", "--out=r1", NULL};
  const char *a2[] = {"run", "--quiet", "--plot=false", "--t_end=1", "--samples=11", "--width=3", "--rows=3", "--cols=4",
                      "--init=gaussian", "--sigma=1", "--imbalance_reg_file=L.npy", "--out=r2", NULL};
  const char *c1[] = {"check", "--quiet", "r1", NULL};
  assert_int_equal(tu_wait(tu_spawn(DLN_CLI, a1, dir)), 0);
  assert_int_equal(tu_wait(tu_spawn(DLN_CLI, a2, dir)), 0);
  assert_int_equal(tu_wait(tu_spawn(DLN_CLI, c1, dir)), 0);
  /* the run copied Λ_1 into its folder; dln check reads it from there (any working dir) */
  char r2[256];
  snprintf(r2, sizeof r2, "%s", tu_path(dir, "r2"));
  const char *c2[] = {"check", "--quiet", r2, NULL};
  assert_int_equal(tu_wait(tu_spawn(DLN_CLI, c2, tu_path(dir, "r1"))), 0);
  assert_true(access(tu_path(dir, "r2/imbalance_Lambda1.npy"), R_OK) == 0);
  char *t1 = tu_slurp(tu_path(dir, "r1/trajectory.csv")), *t2 = tu_slurp(tu_path(dir, "r2/trajectory.csv"));
  char *cj = tu_slurp(tu_path(dir, "r1/check.json"));
  assert_non_null(t1), assert_non_null(t2), assert_non_null(cj);
  assert_non_null(strstr(t1, "t,step,loss,loss_gap,imbalance_reg,"));
  assert_non_null(strstr(cj, "not applicable: imbalance regularizer"));
  assert_non_null(strstr(cj, "imbalance regularizer R non-increasing"));
  /* compare the last rows numerically */
  const char *l1 = strrchr(t1, '\n'), *l2 = strrchr(t2, '\n');
  while (l1 > t1 && l1[-1] != '\n') --l1;
  while (l2 > t2 && l2[-1] != '\n') --l2;
  char *e1 = (char *)l1, *e2 = (char *)l2;
  for (int k = 0; k < 5; ++k) {
    double x = strtod(e1, &e1), y = strtod(e2, &e2);
    assert_true(fabs(x - y) <= 1e-12 * fmax(1, fabs(x)));
    if (*e1 == ',') ++e1;
    if (*e2 == ',') ++e2;
  }
  free(t1), free(t2), free(cj);
  tu_rmtree(dir);
}

static void test_bad_args(void **state) {
  (void)state;
  static const int w1[] = {3, 4}, wt[] = {3, 4, 3};
  dln_net *net = NULL;
  assert_int_equal(dln_net_alloc(&net, 1, w1, 0), DLN_OK);
  assert_int_equal(dln_net_set_imbalance_reg(net, 1.0, NULL), DLN_EINVAL); /* depth 1 */
  assert_non_null(strstr(dln_last_error(), "depth"));
  dln_net_free(net);
  assert_int_equal(dln_net_alloc(&net, 2, wt, 1), DLN_OK);
  assert_int_equal(dln_net_set_imbalance_reg(net, 1.0, NULL), DLN_EINVAL); /* tied */
  assert_non_null(strstr(dln_last_error(), "tied"));
  dln_net_free(net);
  assert_int_equal(dln_net_alloc(&net, 2, wt, 0), DLN_OK);
  assert_int_equal(dln_net_set_imbalance_reg(net, NAN, NULL), DLN_EINVAL);
  double L[16] = {0};
  L[5] = INFINITY;
  const double *Lp[1] = {L};
  assert_int_equal(dln_net_set_imbalance_reg(net, 0.0, Lp), DLN_EINVAL);
  assert_non_null(strstr(dln_last_error(), "Lambda_1"));
  const double *Ln[1] = {NULL};
  assert_int_equal(dln_net_set_imbalance_reg(net, 0.0, Ln), DLN_EINVAL);
  assert_int_equal(dln_net_has_imbalance_reg(net), 0);
  dln_net_free(net);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fd_lambda0),         cmocka_unit_test(test_fd_general_lambda),
      cmocka_unit_test(test_off_bit_identical),  cmocka_unit_test(test_orthogonal_gradients),
      cmocka_unit_test(test_flow_prop4_invariant), cmocka_unit_test(test_flow_monotone),
      cmocka_unit_test(test_gd_to_flow),         cmocka_unit_test(test_fit_vs_grid),
      cmocka_unit_test(test_cli_run_and_check), cmocka_unit_test(test_bad_args),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
