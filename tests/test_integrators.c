/* Integrators of the gradient flow beyond ARKODE ERK (dln_train with &dln_integrator_cvode,
 * &dln_integrator_gauss, &dln_integrator_auto, &dln_integrator_rkc), against the closed forms of Tarmoun et al. (001)
 * used in test_flow.c, each truth computed independently here:
 *   (a) linear model N = 1: W(t) = Ȳ + (W0 − Ȳ) e^{−t}                              (001 eq. 4)
 *   (b) symmetric factorization W = U Uᵀ: the Riccati solution                       (001 eq. 8)
 *   (c) asymmetric spectral init, per singular value, eq. 17 with C from eq. 22      (001 eq. 17, 22)
 * plus: the Gauss–Legendre order with fixed steps (error ∝ h^{2s}); conservation of
 * C_j = W_{j+1}ᵀW_{j+1} − W_jW_jᵀ to round-off by Gauss at large fixed steps (GNI Thm
 * IV.2.2) against a visible ERK drift; CVODE vs ARKODE on the stiff σ = 1 case of
 * 001 Fig. 1 (5×10 target, width 50); the AUTO switch; CVODE's Jacobian-vector product
 * against central differences of the right-hand side; option validation. */
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

#include "dln/data.h"
#include "dln/error.h"
#include "dln/init.h"
#include "dln/loss.h"
#include "dln/mat.h"
#include "dln/net.h"
#include "dln/rng.h"
#include "dln/train.h"
#include "dynamics/dynamics_internal.h"
#include "testutil.h"

/* ------------------------------------------------------------------ helpers (plain-loop truths: testutil.c) */

static const char *mname(const dln_integrator_type *method, int stages) {
  if (method == &dln_integrator_flow) return "erk";
  if (method == &dln_integrator_gauss) return stages == 1 ? "gauss1" : "gauss2";
  return method ? method->name : "?";
}

/* Integrate from theta (in place) to t_end; adaptive unless gauss_h > 0. */
static double rkc_max_override; /* > 0: opt.auto_rkc_max for the next run_to */
static dln_train_result run_to(dln_net *net, dln_loss *loss, double *theta, const dln_integrator_type *method, int stages, double t_end,
                               double rtol, double gauss_h) {
  dln_train_options o;
  dln_train_default_options(&o);
  if (rkc_max_override > 0) o.auto_rkc_max = rkc_max_override;
  o.method = method;
  o.gauss_stages = stages;
  o.gauss_h = gauss_h;
  o.t_end = t_end;
  o.rtol = rtol;
  o.atol = rtol * 1e-2;
  o.nsamples = 2;
  dln_train_result r;
  int st = dln_train(net, loss, theta, &o, NULL, NULL, &r);
  if (st) print_error("dln_train: %s\n", dln_last_error());
  assert_int_equal(st, DLN_OK);
  if (r.stop_reason != DLN_STOP_TIME) print_error("%s: %s\n", mname(method, stages), r.message);
  assert_int_equal(r.stop_reason, DLN_STOP_TIME);
  assert_close(r.t, t_end, 1e-14, 0);
  return r;
}

/* slack: global error / rtol allowed. Error-per-step control lets the global error
 * grow with the number of steps; the order-2 midpoint rule takes ~10^4 steps at
 * rtol 1e-10 (measured global error ≈ 100-300·rtol), the others stay near rtol
 * (measured ≤ 3·rtol). */
typedef struct {
  const dln_integrator_type *method;
  int stages;
  double slack;
} imethod;
enum { NMETHODS = 5 };
static const imethod flow_methods[NMETHODS] = {{&dln_integrator_cvode, 0, 20},
                                                   {&dln_integrator_gauss, 1, 2000},
                                                   {&dln_integrator_gauss, 2, 20},
                                                   {&dln_integrator_rkc, 0, 20},
                                                   {&dln_integrator_auto, 0, 20}};

/* ------------------------------------------------------------------ (a) linear model, 001 eq. 4 */

typedef struct {
  dln_net *net;
  dln_loss *loss;
  double *Yb, *W0;
} linear_problem;

static void linear_make(linear_problem *p) {
  const int m = 4, n = 5;
  int widths[2] = {n, m};
  assert_int_equal(dln_net_alloc(&p->net, 1, widths, 0), DLN_OK);
  dln_mat *Yb = dln_mat_alloc(m, n);
  tu_fill_gauss((size_t)m * n, Yb->data, 1.0);
  assert_int_equal(dln_loss_factorization_alloc(&p->loss, Yb), DLN_OK);
  p->Yb = tu_dalloc((size_t)m * n);
  memcpy(p->Yb, Yb->data, (size_t)m * n * sizeof(double));
  dln_mat_free(Yb);
  p->W0 = tu_dalloc(p->net->nparams);
  tu_fill_gauss(p->net->nparams, p->W0, 1.0);
}
static void linear_free(linear_problem *p) {
  free(p->Yb), free(p->W0);
  dln_loss_free(p->loss);
  dln_net_free(p->net);
}
/* relative error at t against eq. 4 */
static double linear_err(linear_problem *p, const double *th, double t) {
  size_t np = p->net->nparams;
  double *ex = tu_dalloc(np);
  for (size_t i = 0; i < np; ++i) ex[i] = p->Yb[i] + (p->W0[i] - p->Yb[i]) * exp(-t);
  double e = tu_diffnorm(np, th, ex) / tu_fro(np, ex);
  free(ex);
  return e;
}

static void test_linear_model(void **state) {
  (void)state;
  linear_problem p = {0};
  linear_make(&p);
  size_t np = p.net->nparams;
  double *th = tu_dalloc(np);
  const double t = 1.7, rtols[2] = {1e-6, 1e-10};
  for (int mi = 0; mi < NMETHODS; ++mi) {
    const imethod *im = &flow_methods[mi];
    double err[2];
    long evals[2];
    for (int k = 0; k < 2; ++k) {
      memcpy(th, p.W0, np * sizeof(double));
      dln_train_result r = run_to(p.net, p.loss, th, im->method, im->stages, t, rtols[k], 0);
      err[k] = linear_err(&p, th, t);
      evals[k] = r.grad_evals;
    }
    double wrong = linear_err(&p, th, 1.01 * t); /* negative control: 1% time shift */
    print_message("linear %-6s: rel. error %.3g (rtol 1e-6, %ld RHS), %.3g (rtol 1e-10, %ld RHS); control %.3g\n",
                  mname(im->method, im->stages), err[0], evals[0], err[1], evals[1], wrong);
    assert_true(err[0] <= im->slack * rtols[0]);
    assert_true(err[1] <= im->slack * rtols[1]);
    /* tightening rtol by 1e4 cuts the error by ≥ 100x */
    assert_true(err[1] <= err[0] / 100);
    assert_true(wrong > 1e-4);
  }
  free(th);
  linear_free(&p);
}

/* ------------------------------------------------------------------ (b) Riccati, 001 eq. 8 */

typedef struct {
  int m, k;
  dln_net *net;
  dln_loss *loss;
  double lam[4], *Q, *U0, *X0;
} riccati_problem;

static void riccati_make(riccati_problem *p) {
  p->m = 4, p->k = 6;
  int widths[3] = {p->m, p->k, p->m};
  assert_int_equal(dln_net_alloc(&p->net, 2, widths, 1), DLN_OK);
  const double lam[4] = {1.2, 0.6, -0.4, -0.9};
  memcpy(p->lam, lam, sizeof lam);
  size_t mm2 = (size_t)p->m * p->m;
  p->Q = tu_dalloc(mm2);
  tu_rand_orth(p->m, p->Q);
  dln_mat *Y = dln_mat_alloc(p->m, p->m);
  tu_qdq(p->m, p->Q, lam, Y->data);
  for (int j = 0; j < p->m; ++j)
    for (int i = j + 1; i < p->m; ++i) Y->data[j + (size_t)i * p->m] = Y->data[i + (size_t)j * p->m];
  assert_int_equal(dln_loss_factorization_alloc(&p->loss, Y), DLN_OK);
  dln_mat_free(Y);
  p->U0 = tu_dalloc(p->net->nparams);
  p->X0 = tu_dalloc(mm2);
  tu_fill_gauss(p->net->nparams, p->U0, 0.5);
  tu_mm(0, 1, p->m, p->m, p->k, p->U0, p->U0, p->X0);
}
static void riccati_free(riccati_problem *p) {
  free(p->Q), free(p->U0), free(p->X0);
  dln_loss_free(p->loss);
  dln_net_free(p->net);
}
static double riccati_err(riccati_problem *p, const double *U, double t) {
  size_t mm2 = (size_t)p->m * p->m;
  double *X = tu_dalloc(mm2), *Xt = tu_dalloc(mm2);
  tu_mm(0, 1, p->m, p->m, p->k, U, U, X);
  tu_riccati(p->m, p->Q, p->lam, p->X0, t, 2, 4, Xt);
  double e = tu_diffnorm(mm2, X, Xt) / tu_fro(mm2, Xt);
  free(X), free(Xt);
  return e;
}

static void test_riccati(void **state) {
  (void)state;
  riccati_problem p = {0};
  riccati_make(&p);
  size_t np = p.net->nparams;
  double *U = tu_dalloc(np);
  const double t = 1.5, rtols[2] = {1e-6, 1e-10};
  for (int mi = 0; mi < NMETHODS; ++mi) {
    const imethod *im = &flow_methods[mi];
    double err[2];
    long evals[2];
    for (int k = 0; k < 2; ++k) {
      memcpy(U, p.U0, np * sizeof(double));
      dln_train_result r = run_to(p.net, p.loss, U, im->method, im->stages, t, rtols[k], 0);
      err[k] = riccati_err(&p, U, t);
      evals[k] = r.grad_evals;
    }
    double wrong = riccati_err(&p, U, 1.01 * t);
    print_message("riccati %-6s: rel. error %.3g (rtol 1e-6, %ld RHS), %.3g (rtol 1e-10, %ld RHS); control %.3g\n",
                  mname(im->method, im->stages), err[0], evals[0], err[1], evals[1], wrong);
    assert_true(err[0] <= im->slack * rtols[0]);
    assert_true(err[1] <= im->slack * rtols[1]);
    assert_true(err[1] <= err[0] / 100);
    assert_true(wrong > 1e-4);
  }
  free(U);
  riccati_free(&p);
}

/* ------------------------------------------------------------------ (c) asymmetric spectral, 001 eq. 17, 22 */

static void test_spectral_asymmetric(void **state) {
  (void)state;
  const int m = 3, n = 4, k = 5, p = 3;
  int widths[3] = {n, k, m};
  dln_net *net = NULL;
  assert_int_equal(dln_net_alloc(&net, 2, widths, 0), DLN_OK);
  const double sig[3] = {2.0, 1.0, 0.5}, ub[3] = {0.9, 0.3, 1.2}, vb[3] = {0.2, 0.8, 0.75};
  double lam0[3], x0[3], C[3];
  for (int i = 0; i < p; ++i) {
    lam0[i] = ub[i] * ub[i] - vb[i] * vb[i];
    x0[i] = ub[i] * vb[i];
    C[i] = tu_eq22(sig[i], lam0[i], x0[i]);
    assert_close(tu_eq17(sig[i], lam0[i], C[i], 0.0), x0[i], 1e-13, 0);
  }
  double *Phi = tu_dalloc((size_t)m * m), *Psi = tu_dalloc((size_t)n * n);
  tu_rand_orth(m, Phi);
  tu_rand_orth(n, Psi);
  dln_mat *Yb = dln_mat_alloc(m, n);
  tu_usv(m, n, p, Phi, sig, Psi, Yb->data);
  dln_loss *loss = NULL;
  assert_int_equal(dln_loss_factorization_alloc(&loss, Yb), DLN_OK);
  size_t np = net->nparams;
  double *th0 = tu_dalloc(np), *th = tu_dalloc(np), *W = tu_dalloc((size_t)m * n), *T = tu_dalloc((size_t)m * n),
         *D = tu_dalloc((size_t)m * n);
  dln_rng *rng = dln_rng_alloc(17, 3);
  assert_non_null(rng);
  assert_int_equal(dln_init_spectral_asymmetric(net, th0, Yb, ub, vb, rng), DLN_OK);
  const double t = 1.5, rtols[2] = {1e-6, 1e-10};
  for (int mi = 0; mi < NMETHODS; ++mi) {
    const imethod *im = &flow_methods[mi];
    double err[2], wrong = 0;
    for (int kk = 0; kk < 2; ++kk) {
      memcpy(th, th0, np * sizeof(double));
      run_to(net, loss, th, im->method, im->stages, t, rtols[kk], 0);
      assert_int_equal(dln_net_product(net, th, W), DLN_OK);
      tu_mm(1, 0, m, n, m, Phi, W, T);
      tu_mm(0, 0, m, n, n, T, Psi, D); /* D = Φᵀ W(t) Ψ = [diag(x_i(t)), 0] */
      err[kk] = 0;
      for (int i = 0; i < p; ++i) {
        double e = fabs(D[i + (size_t)i * m] - tu_eq17(sig[i], lam0[i], C[i], t));
        if (e > err[kk]) err[kk] = e;
        double ew = fabs(D[i + (size_t)i * m] - tu_eq17(sig[i], lam0[i], C[i], 1.01 * t));
        if (ew > wrong) wrong = ew;
      }
    }
    print_message("asymmetric %-6s: max |x_i - eq.17| %.3g (rtol 1e-6), %.3g (rtol 1e-10); control %.3g\n",
                  mname(im->method, im->stages), err[0], err[1], wrong);
    assert_true(err[0] <= im->slack * rtols[0]);
    assert_true(err[1] <= im->slack * rtols[1]);
    assert_true(err[1] <= err[0] / 100);
    assert_true(wrong > 1e-4);
  }
  dln_rng_free(rng);
  free(Phi), free(Psi), free(th0), free(th), free(W), free(T), free(D);
  dln_mat_free(Yb);
  dln_loss_free(loss);
  dln_net_free(net);
}

/* ------------------------------------------------------------------ Gauss–Legendre order, fixed steps */

static void test_gauss_order(void **state) {
  (void)state;
  riccati_problem p = {0};
  riccati_make(&p);
  size_t np = p.net->nparams;
  double *U = tu_dalloc(np);
  const double t = 1.0;
  for (int s = 1; s <= 2; ++s) {
    const double hs[3] = {0.05, 0.025, 0.0125};
    double err[3];
    for (int k = 0; k < 3; ++k) {
      memcpy(U, p.U0, np * sizeof(double));
      dln_train_result r = run_to(p.net, p.loss, U, &dln_integrator_gauss, s, t, 1e-8, hs[k]);
      assert_int_equal(r.steps, (long)floor(t / hs[k] + 0.5));
      err[k] = riccati_err(&p, U, t);
    }
    double p1 = log2(err[0] / err[1]), p2 = log2(err[1] / err[2]);
    print_message("gauss s=%d fixed h = 0.05, 0.025, 0.0125: errors %.3g %.3g %.3g, observed orders %.3f %.3f (expected %d)\n",
                  s, err[0], err[1], err[2], p1, p2, 2 * s);
    assert_true(fabs(p1 - 2 * s) <= 0.3);
    assert_true(fabs(p2 - 2 * s) <= 0.3);
  }
  free(U);
  riccati_free(&p);
}

/* ------------------------------------------------------------------ conservation to round-off */

/* max_j ‖C_j(θ) − C_j(θ0)‖_F / max(1, ‖C_j(θ0)‖_F), plain loops */
static double drift(const dln_net *net, const double *th0, const double *th) {
  double worst = 0;
  for (int j = 1; j < net->depth; ++j) {
    const int *d = net->widths;
    int n = d[j];
    double num = 0, den = 0;
    for (int b = 0; b < n; ++b)
      for (int a = 0; a < n; ++a) {
        long double c0 = 0, c1 = 0;
        const double *Wj0 = th0 + net->offset[j], *Wn0 = th0 + net->offset[j + 1];
        const double *Wj1 = th + net->offset[j], *Wn1 = th + net->offset[j + 1];
        for (int l = 0; l < d[j + 1]; ++l) {
          c0 += (long double)Wn0[l + (size_t)a * d[j + 1]] * Wn0[l + (size_t)b * d[j + 1]];
          c1 += (long double)Wn1[l + (size_t)a * d[j + 1]] * Wn1[l + (size_t)b * d[j + 1]];
        }
        for (int l = 0; l < d[j - 1]; ++l) {
          c0 -= (long double)Wj0[a + (size_t)l * n] * Wj0[b + (size_t)l * n];
          c1 -= (long double)Wj1[a + (size_t)l * n] * Wj1[b + (size_t)l * n];
        }
        num += (double)((c1 - c0) * (c1 - c0));
        den += (double)(c0 * c0);
      }
    double dr = sqrt(num) / fmax(1.0, sqrt(den));
    if (dr > worst) worst = dr;
  }
  return worst;
}

static void test_gauss_conservation(void **state) {
  (void)state;
  const int widths[4] = {4, 6, 2, 3};
  dln_net *net = NULL;
  assert_int_equal(dln_net_alloc(&net, 3, widths, 0), DLN_OK);
  dln_mat *T = dln_mat_alloc(3, 4);
  tu_fill_gauss(12, T->data, 1.0);
  dln_loss *loss = NULL;
  assert_int_equal(dln_loss_factorization_alloc(&loss, T), DLN_OK);
  size_t np = net->nparams;
  double *th0 = tu_dalloc(np), *th = tu_dalloc(np);
  for (int j = 1; j <= 3; ++j)
    tu_fill_gauss((size_t)widths[j] * widths[j - 1], th0 + net->offset[j], (j % 2) ? 0.8 : 0.45);
  double l0;
  assert_int_equal(dln_net_grad(net, loss, th0, &l0, NULL, NULL), DLN_OK);
  /* h·ρ(∇²φ(θ0)) ≫ 1: far beyond the stability bound of any explicit method (~3) */
  const double h = 0.5;
  const long nsteps = 10000;
  {
    double *v = tu_dalloc(np), *w = tu_dalloc(np), rho = 0;
    tu_fill_gauss(np, v, 1.0);
    for (int it = 0; it < 200; ++it) {
      assert_int_equal(dln_net_hvp(net, loss, th0, v, w), DLN_OK);
      rho = tu_fro(np, w) / tu_fro(np, v);
      for (size_t i = 0; i < np; ++i) v[i] = w[i] / tu_fro(np, w);
    }
    print_message("depth-3 net, %zu parameters: spectral radius of the Hessian at θ0 %.3g, h·ρ = %.3g\n", np, rho, h * rho);
    assert_true(h * rho > 3);
    free(v), free(w);
  }
  for (int s = 1; s <= 2; ++s) {
    memcpy(th, th0, np * sizeof(double));
    dln_train_result r = run_to(net, loss, th, &dln_integrator_gauss, s, h * nsteps, 1e-8, h);
    double dr = drift(net, th0, th);
    print_message("gauss s=%d, fixed h = %g, %ld steps to t = %g: drift of C_j %.3g; loss %.3g -> %.3g; %ld RHS, "
                  "%ld nonlinear its (%ld failed solves), %ld GMRES its, %ld Hv\n",
                  s, h, r.steps, r.t, dr, l0, r.loss, r.grad_evals, r.nonlin_iters, r.nonlin_fails, r.lin_iters,
                  r.jtv_evals);
    /* a failed stage solve is retried with h/2 (then the grid restarts): a few extra steps */
    assert_true(r.steps >= nsteps && r.steps <= nsteps + 20);
    assert_true(r.lin_iters > 0); /* Newton–Krylov was needed */
    assert_true(dr <= 1e-12);
    assert_true(r.loss < 0.5 * l0); /* the run did real work */
  }
  /* ERK at a loose tolerance over the same time drifts visibly */
  memcpy(th, th0, np * sizeof(double));
  dln_train_result r = run_to(net, loss, th, &dln_integrator_flow, 0, h * nsteps, 1e-4, 0);
  double de = drift(net, th0, th);
  print_message("erk rtol 1e-4 to t = %g: %ld steps, drift of C_j %.3g\n", r.t, r.steps, de);
  assert_true(de >= 1e-8);
  free(th0), free(th);
  dln_mat_free(T);
  dln_loss_free(loss);
  dln_net_free(net);
}

/* Gauss (s = 2, adaptive) options to t_end at rtol (atol = rtol/100) with nsamples samples. */
static dln_train_options gauss_opts(double t_end, double rtol, int nsamples) {
  dln_train_options o;
  dln_train_default_options(&o);
  o.method = &dln_integrator_gauss;
  o.t_end = t_end;
  o.rtol = rtol;
  o.atol = rtol * 1e-2;
  o.nsamples = nsamples;
  return o;
}

/* Samples keep the quadratic invariants too: each is one Gauss step from the start of its
 * (sub-)step (gauss.c: gauss_side), so C_j (002 Lemma 1) drifts by round-off at every one of
 * 120 samples at rtol 1e-11, as at the steps; the cubic Hermite interpolant used before put
 * 1e-7 of drift into the samples of such a run (`dln check`: conservation VIOLATED). The
 * steps do not depend on the samples. */
typedef struct {
  const dln_net *net;
  const double *th0;
  double worst;
  int n;
} drift_samples;
static double drift(const dln_net *net, const double *th0, const double *th);
static int on_drift(void *ctx, double t, long step, const double *x, const dln_net *net) {
  (void)t, (void)step, (void)net;
  drift_samples *d = ctx;
  double dr = drift(d->net, d->th0, x);
  if (dr > d->worst) d->worst = dr;
  d->n++;
  return 0;
}

static void test_gauss_sample_conservation(void **state) {
  (void)state;
  const int widths[4] = {4, 6, 2, 3};
  dln_net *net = NULL;
  assert_int_equal(dln_net_alloc(&net, 3, widths, 0), DLN_OK);
  dln_mat *T = dln_mat_alloc(3, 4);
  tu_seed(5);
  tu_fill_gauss(12, T->data, 1.0);
  dln_loss *loss = NULL;
  assert_int_equal(dln_loss_factorization_alloc(&loss, T), DLN_OK);
  size_t np = net->nparams;
  double *th0 = tu_dalloc(np), *th = tu_dalloc(np), *th2 = tu_dalloc(np);
  for (int j = 1; j <= 3; ++j) tu_fill_gauss((size_t)widths[j] * widths[j - 1], th0 + net->offset[j], 0.3);
  long steps[2];
  for (int k = 0; k < 2; ++k) {
    dln_train_options o = gauss_opts(12.0, 1e-11, k ? 120 : 2);
    drift_samples ds = {net, th0, 0, 0};
    o.on_sample = on_drift;
    o.on_sample_ctx = &ds;
    double *x = k ? th2 : th;
    memcpy(x, th0, np * sizeof(double));
    dln_train_result r;
    assert_int_equal(dln_train(net, loss, x, &o, NULL, NULL, &r), DLN_OK);
    assert_int_equal(r.stop_reason, DLN_STOP_TIME);
    steps[k] = r.steps;
    print_message("gauss rtol 1e-11, %d samples: %ld steps, %ld RHS, max drift of C_j over the samples %.3g\n", ds.n, r.steps,
                  r.grad_evals, ds.worst);
    assert_int_equal(ds.n, o.nsamples);
    assert_true(ds.worst <= 1e-13);
  }
  assert_int_equal(steps[0], steps[1]);
  assert_memory_equal(th, th2, np * sizeof(double)); /* the samples did not change the run */
  free(th0), free(th), free(th2);
  dln_mat_free(T);
  dln_loss_free(loss);
  dln_net_free(net);
}

/* ------------------------------------------------------------------ stiff σ = 1 case (001 Fig. 1) */

typedef struct {
  dln_net *net;
  dln_loss *loss;
  double *th0;
} fig1_problem;

static void fig1_make(fig1_problem *p, double sigma) {
  const int widths[3] = {10, 50, 5};
  tu_fact_problem(1, 2, widths, sigma, &p->net, &p->loss, &p->th0);
}
static void fig1_free(fig1_problem *p) {
  free(p->th0);
  dln_loss_free(p->loss);
  dln_net_free(p->net);
}

static void test_stiff_fig1(void **state) {
  (void)state;
  fig1_problem p = {0};
  fig1_make(&p, 1.0);
  size_t np = p.net->nparams;
  double *th[5];
  /* ERK, CVODE, AUTO (default: Chebyshev at σ = 1), AUTO told to prefer CVODE, RKC */
  const dln_integrator_type *const methods[5] = {&dln_integrator_flow, &dln_integrator_cvode, &dln_integrator_auto, &dln_integrator_auto, &dln_integrator_rkc};
  dln_train_result r[5];
  const double rtol = 1e-8;
  for (int k = 0; k < 5; ++k) {
    th[k] = tu_dalloc(np);
    memcpy(th[k], p.th0, np * sizeof(double));
    rkc_max_override = k == 3 ? 1.0 : 0.0;
    r[k] = run_to(p.net, p.loss, th[k], methods[k], 0, 20.0, rtol, 0);
    rkc_max_override = 0;
    print_message("sigma=1, t=20, rtol %g: %-6s %-22s steps %6ld, RHS %7ld, Hv %6ld, Newton its %5ld, GMRES its %6ld, "
                  "rejected %4ld, switched at %.4g, loss %.3g, wall %.3f s\n",
                  rtol, mname(methods[k], 0), r[k].integrator, r[k].steps, r[k].grad_evals, r[k].jtv_evals,
                  r[k].nonlin_iters, r[k].lin_iters, r[k].rejected, r[k].switched_at, r[k].loss, r[k].wall_seconds);
  }
  /* all agree on θ(20) to their tolerances */
  double n0 = tu_fro(np, th[0]);
  for (int k = 1; k < 5; ++k) {
    double d = tu_diffnorm(np, th[k], th[0]) / n0;
    print_message("sigma=1: ||θ_%s − θ_erk||/||θ|| = %.3g\n", r[k].integrator, d);
    assert_true(d <= 1e-5);
  }
  assert_string_equal(r[0].integrator, "arkode-erk");
  assert_string_equal(r[1].integrator, "cvode-bdf");
  /* the stiff tail makes AUTO and RKC switch, and it pays off */
  assert_string_equal(r[2].integrator, "dln-dop853->rkc"); /* RK phase: DOP853 at rtol ≤ auto_dop853_rtol */
  assert_string_equal(r[3].integrator, "dln-dop853->cvode-bdf");
  assert_string_equal(r[4].integrator, "dln-dop853->rkc");
  for (int k = 2; k < 5; ++k) {
    assert_true(isfinite(r[k].switched_at) && r[k].switched_at > 0 && r[k].switched_at < 20);
    assert_true(r[k].grad_evals < r[0].grad_evals);
  }
  assert_true(isnan(r[0].switched_at) && isnan(r[1].switched_at));
  assert_true(r[1].jtv_evals > 0 && r[1].lin_iters > 0 && r[1].nonlin_iters > 0);
  assert_true(r[3].jtv_evals > 0 && r[3].lin_iters > 0 && r[3].nonlin_iters > 0);
  for (int k = 0; k < 5; ++k) free(th[k]);
  fig1_free(&p);
}

/* σ = 10 (ρ(∇²φ) ≈ 1.9e4 for the whole run): ρ·(t_end − t) far above auto_rkc_max, so
 * AUTO hands the run to CVODE by itself, and agrees with CVODE alone */
static void test_auto_very_stiff(void **state) {
  (void)state;
  fig1_problem p = {0};
  fig1_make(&p, 10.0);
  size_t np = p.net->nparams;
  double *ta = tu_dalloc(np), *tc = tu_dalloc(np);
  memcpy(ta, p.th0, np * sizeof(double));
  memcpy(tc, p.th0, np * sizeof(double));
  const double rtol = 1e-7;
  dln_train_result ra = run_to(p.net, p.loss, ta, &dln_integrator_auto, 0, 20.0, rtol, 0);
  dln_train_result rc = run_to(p.net, p.loss, tc, &dln_integrator_cvode, 0, 20.0, rtol, 0);
  double d = tu_diffnorm(np, ta, tc) / tu_fro(np, tc);
  print_message("sigma=10: auto %s (switched at %.3g), %ld RHS, %ld Hv; cvode %ld RHS, %ld Hv; "
                "||θ_auto − θ_cvode||/||θ|| = %.3g\n",
                ra.integrator, ra.switched_at, ra.grad_evals, ra.jtv_evals, rc.grad_evals, rc.jtv_evals, d);
  assert_string_equal(ra.integrator, "dln-dop853->cvode-bdf"); /* rtol 1e-7: DOP853 RK phase */
  assert_true(ra.switched_at > 0 && ra.switched_at < 1);
  assert_true(d <= 10 * rtol);
  free(ta), free(tc);
  fig1_free(&p);
}

/* AUTO stays on its Runge–Kutta stage for a non-stiff flow */
static void test_auto_nonstiff(void **state) {
  (void)state;
  linear_problem p = {0};
  linear_make(&p);
  double *th = tu_dalloc(p.net->nparams);
  memcpy(th, p.W0, p.net->nparams * sizeof(double));
  dln_train_result r = run_to(p.net, p.loss, th, &dln_integrator_auto, 0, 4.0, 1e-10, 0);
  print_message("auto, linear model: %s, %ld steps, %ld RHS, %ld Hv\n", r.integrator, r.steps, r.grad_evals, r.jtv_evals);
  assert_string_equal(r.integrator, "dln-dop853"); /* rtol 1e-10 ≤ auto_dop853_rtol: DOP853 */
  assert_true(isnan(r.switched_at));
  assert_true(linear_err(&p, th, 4.0) <= 1e-9);
  free(th);
  linear_free(&p);
}

/* ------------------------------------------------------------------ CVODE's Jv vs finite differences */

static void test_cvode_jtv_fd(void **state) {
  (void)state;
  fig1_problem p = {0};
  fig1_make(&p, 0.3);
  size_t np = p.net->nparams;
  dln_train_options o;
  dln_train_default_options(&o);
  dln_train_result res;
  memset(&res, 0, sizeof res);
  dln_run_ctx c;
  memset(&c, 0, sizeof c);
  c.net = p.net, c.loss = p.loss, c.opt = &o, c.res = &res;
  double *v = tu_dalloc(np), *Jv = tu_dalloc(np), *fp = tu_dalloc(np), *fm = tu_dalloc(np), *tp = tu_dalloc(np),
         *fd = tu_dalloc(np);
  double worst = 0, worst_ctl = INFINITY;
  for (int trial = 0; trial < 3; ++trial) {
    tu_fill_gauss(np, v, 1.0);
    assert_int_equal(dln_cvode_jtv(&c, p.th0, v, Jv), 0);
    const double eps = 1e-5;
    for (size_t i = 0; i < np; ++i) tp[i] = p.th0[i] + eps * v[i];
    assert_int_equal(dln_dyn_rhs(&c, 0.0, tp, fp), 0);
    for (size_t i = 0; i < np; ++i) tp[i] = p.th0[i] - eps * v[i];
    assert_int_equal(dln_dyn_rhs(&c, 0.0, tp, fm), 0);
    for (size_t i = 0; i < np; ++i) fd[i] = (fp[i] - fm[i]) / (2 * eps); /* central difference of f = −∇φ */
    double e = tu_diffnorm(np, Jv, fd) / tu_fro(np, fd);
    if (e > worst) worst = e;
    /* control: the sign-flipped product (∇²φ v instead of −∇²φ v) */
    for (size_t i = 0; i < np; ++i) tp[i] = -Jv[i];
    double ec = tu_diffnorm(np, tp, fd) / tu_fro(np, fd);
    if (ec < worst_ctl) worst_ctl = ec;
  }
  print_message("cvode Jv vs central differences of the RHS: max rel. diff %.3g; sign-flip control %.3g; %ld Hv\n", worst,
                worst_ctl, c.jtv_evals);
  /* central differences: O(eps²)·‖f'''‖ truncation + O(ε_mach/eps) round-off ≈ 1e-10 */
  assert_true(worst <= 1e-7);
  assert_true(worst_ctl > 1.9);
  assert_int_equal(c.jtv_evals, 3);
  free(v), free(Jv), free(fp), free(fm), free(tp), free(fd);
  fig1_free(&p);
}

/* ------------------------------------------------------------------ dense output, options */

/* Gauss samples come from one Gauss step from the start of their (sub-)step: sampling does
 * not change the steps, and the samples follow eq. 4 */
static void test_gauss_dense_output(void **state) {
  (void)state;
  linear_problem p = {0};
  linear_make(&p);
  size_t np = p.net->nparams;
  double *th = tu_dalloc(np);
  long steps[2];
  double worst = 0;
  for (int k = 0; k < 2; ++k) {
    dln_train_options o = gauss_opts(2.0, 1e-9, k ? 101 : 2);
    dln_observer *obs = NULL;
    assert_int_equal(dln_observer_alloc(&obs, p.net, p.loss, p.W0, DLN_OBS_LOSS), DLN_OK);
    int nc = dln_observer_ncols(obs);
    const char **names = malloc((size_t)nc * sizeof(char *));
    assert_non_null(names);
    for (int i = 0; i < nc; ++i) names[i] = dln_observer_colname(obs, i);
    dln_table *traj = NULL;
    assert_int_equal(dln_table_alloc(&traj, nc, names, 128), DLN_OK);
    free(names);
    memcpy(th, p.W0, np * sizeof(double));
    dln_train_result r;
    assert_int_equal(dln_train(p.net, p.loss, th, &o, obs, traj, &r), DLN_OK);
    assert_int_equal(r.stop_reason, DLN_STOP_TIME);
    steps[k] = r.steps;
    assert_int_equal((int)traj->nrows, o.nsamples);
    int tc = dln_table_col(traj, "t"), lc = dln_table_col(traj, "loss");
    for (size_t i = 0; i < traj->nrows; ++i) {
      const double *row = dln_table_row(traj, i);
      double t = row[tc], e = exp(-t), want = 0; /* ½‖W(t) − Ȳ‖² = e^{−2t} ½‖W0 − Ȳ‖² */
      for (size_t q = 0; q < np; ++q) want += 0.5 * (p.W0[q] - p.Yb[q]) * (p.W0[q] - p.Yb[q]);
      want *= e * e;
      double rel = fabs(row[lc] - want) / want;
      if (rel > worst) worst = rel;
    }
    dln_table_free(traj);
    dln_observer_free(obs);
  }
  print_message("gauss dense output: %ld steps with 2 samples, %ld with 101; max rel. loss error at samples %.3g\n",
                steps[0], steps[1], worst);
  assert_int_equal(steps[0], steps[1]);
  /* The collocation polynomial (formerly the dense output) is only O(h^{s+1}) between its
   * nodes (HNW I Thm II.7.10): 1.6e-6 here, while the end point is ~1e-9 off. The cubic
   * Hermite interpolant is O(h^4), as the order-4 steps: measured 1.5e-8; a Gauss step
   * to the sample (now): see the message. */
  assert_true(worst <= 1e-7);
  free(th);
  linear_free(&p);
}

static void test_options(void **state) {
  (void)state;
  dln_train_options o;
  dln_train_default_options(&o);
  assert_int_equal(o.gauss_stages, 2);
  assert_true(o.gauss_h == 0);
  o.method = &dln_integrator_gauss;
  o.gauss_stages = 3;
  assert_int_equal(dln_train_check(&o), DLN_EINVAL);
  print_message("%s\n", dln_last_error());
  assert_non_null(strstr(dln_last_error(), "gauss_stages"));
  assert_non_null(strstr(dln_last_error(), "found 3"));
  o.gauss_stages = 1;
  o.gauss_h = -1;
  assert_int_equal(dln_train_check(&o), DLN_EINVAL);
  assert_non_null(strstr(dln_last_error(), "gauss_h"));
  o.gauss_h = 0;
  o.krylov_maxl = -2;
  assert_int_equal(dln_train_check(&o), DLN_EINVAL);
  assert_non_null(strstr(dln_last_error(), "krylov_maxl"));
  o.krylov_maxl = 30;
  o.method = &dln_integrator_auto;
  o.auto_stiff_ratio = NAN;
  assert_int_equal(dln_train_check(&o), DLN_EINVAL);
  assert_non_null(strstr(dln_last_error(), "auto_stiff_ratio"));
  o.auto_stiff_ratio = 0.5;
  o.auto_window = -1;
  assert_int_equal(dln_train_check(&o), DLN_EINVAL);
  assert_non_null(strstr(dln_last_error(), "auto_window"));
  o.auto_window = 3;
  assert_int_equal(dln_train_check(&o), DLN_OK);
  /* one rule per option, the command line's: zero is not a default any more */
  o.krylov_maxl = 0;
  assert_int_equal(dln_train_check(&o), DLN_EINVAL);
  assert_non_null(strstr(dln_last_error(), "krylov_maxl: expected a Krylov dimension from 1 to 1000, found 0"));
  o.krylov_maxl = 30;
  o.auto_window = 0;
  assert_int_equal(dln_train_check(&o), DLN_EINVAL);
  assert_non_null(strstr(dln_last_error(), "auto_window: expected an integer >= 1, found 0"));
  o.auto_window = 3;
  o.method = NULL;
  assert_int_equal(dln_train_check(&o), DLN_EINVAL);
  assert_non_null(strstr(dln_last_error(), "method"));
  /* GD results name their integrator too */
  linear_problem p = {0};
  linear_make(&p);
  double *th = tu_dalloc(p.net->nparams);
  memcpy(th, p.W0, p.net->nparams * sizeof(double));
  dln_train_default_options(&o);
  o.method = &dln_integrator_gd;
  o.t_end = 0.01;
  o.nsamples = 2;
  dln_train_result r;
  assert_int_equal(dln_train(p.net, p.loss, th, &o, NULL, NULL, &r), DLN_OK);
  assert_string_equal(r.integrator, "gd");
  assert_true(isnan(r.switched_at));
  assert_int_equal(r.jtv_evals, 0);
  free(th);
  linear_free(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_linear_model),      cmocka_unit_test(test_riccati),
      cmocka_unit_test(test_spectral_asymmetric), cmocka_unit_test(test_gauss_order),
      cmocka_unit_test(test_gauss_conservation), cmocka_unit_test(test_gauss_sample_conservation), cmocka_unit_test(test_stiff_fig1),
      cmocka_unit_test(test_auto_nonstiff), cmocka_unit_test(test_auto_very_stiff),     cmocka_unit_test(test_cvode_jtv_fd),
      cmocka_unit_test(test_gauss_dense_output), cmocka_unit_test(test_options),
  };
  tu_seed(0x2545F4914F6CDD1Dull);
  return cmocka_run_group_tests(tests, NULL, NULL);
}
