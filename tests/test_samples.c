/* Samples are as accurate as step end points, for every flow integrator in the registry
 * (gd is exact at its samples by definition: they are iterates).
 *
 * Closed-form case: depth-2 factorization ½‖W − Ȳ‖² from the asymmetric spectral
 * initialization of 001 (eq. 17 with C from eq. 22, per singular value, truth from the
 * plain-loop tu_eq17). Each method runs at a fixed rtol with 41 samples; a sampler records
 * max_i |x_i(t) − eq. 17| at every sample time. The sample error (max over samples before
 * t_end, which come from the dense output) must be within 10× of the error at t_end (the
 * last step's end point), so a sample is as trustworthy as a reported end point. */
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
#include "dln/integrator.h"
#include "dln/loss.h"
#include "dln/mat.h"
#include "dln/net.h"
#include "dln/rng.h"
#include "dln/table.h"
#include "dln/train.h"
#include "testutil.h"

enum { M = 3, N = 4, K = 5, P = 3, NS = 31 };

typedef struct {
  dln_net *net;
  double Phi[M * M], Psi[N * N], sig[P], lam0[P], C[P];
  double W[M * N], T[M * N], D[M * N];
} problem;

/* max_i |(Φᵀ W(θ) Ψ)_ii − x_i(t)| with x_i(t) from eq. 17 */
static int err_eval(void *ctx, double t, long step, const double *theta, double *row) {
  (void)step;
  problem *p = ctx;
  if (dln_net_product(p->net, theta, p->W)) return -1;
  tu_mm(1, 0, M, N, M, p->Phi, p->W, p->T);
  tu_mm(0, 0, M, N, N, p->T, p->Psi, p->D);
  double e = 0;
  for (int i = 0; i < P; ++i) e = fmax(e, fabs(p->D[i + i * M] - tu_eq17(p->sig[i], p->lam0[i], p->C[i], t)));
  row[0] = t;
  row[1] = e;
  return 0;
}

static int nbad; /* methods over the ratio, asserted after all have printed */

/* One run to t_end with ns samples; the error at each sample into err[0..ns). */
static long run_errors(problem *p, dln_loss *loss, const double *th0, dln_train_options *o, int ns, double *err) {
  size_t np = p->net->nparams;
  double *th = tu_dalloc(np);
  memcpy(th, th0, np * sizeof(double));
  const char *names[2] = {"t", "err"};
  dln_table *tab = NULL;
  assert_int_equal(dln_table_alloc(&tab, 2, names, (size_t)ns + 1), DLN_OK);
  dln_sampler smp = {2, err_eval, p};
  dln_train_result r;
  o->nsamples = ns;
  int st = dln_train_sampled(p->net, loss, th, o, &smp, tab, &r);
  if (st) print_error("%s: %s\n", o->method->name, dln_last_error());
  assert_int_equal(st, DLN_OK);
  assert_int_equal(r.stop_reason, DLN_STOP_TIME);
  assert_int_equal((int)tab->nrows, ns);
  assert_close(dln_table_row(tab, tab->nrows - 1)[0], o->t_end, 1e-14, 0);
  for (int i = 0; i < ns; ++i) err[i] = dln_table_row(tab, (size_t)i)[1];
  dln_table_free(tab);
  free(th);
  return r.steps;
}

/* Sample errors e_s(t_i) of one run with NS samples against end-point errors e_end(t_i) of
 * runs stopped at t_end = t_i: ratio max_i e_s / max_i e_end (the same times, so a flow
 * whose error decays toward t_end does not flatter the end point). */
static void run_method(problem *p, dln_loss *loss, const double *th0, const dln_integrator_type *type, int stages,
                       double rtol) {
  dln_train_options o;
  dln_train_default_options(&o);
  o.method = type;
  o.gauss_stages = stages;
  o.rtol = rtol;
  o.atol = rtol * 1e-2;
  const double T = 3.0;
  double es[NS], e2[2], samples = 0, ends = 0;
  o.t_end = T;
  long steps = run_errors(p, loss, th0, &o, NS, es);
  for (int i = 1; i < NS; ++i) {
    o.t_end = T * i / (NS - 1);
    run_errors(p, loss, th0, &o, 2, e2);
    samples = fmax(samples, es[i]);
    ends = fmax(ends, e2[1]);
  }
  double ratio = samples / ends;
  char nm[32];
  snprintf(nm, sizeof nm, "%s%s", type->name, type == &dln_integrator_gauss ? (stages == 1 ? "1" : "2") : "");
  print_message("samples %-7s rtol %.0e: %5ld steps, max end-point error %.3g, max sample error %.3g, ratio %.3g\n",
                nm, rtol, steps, ends, samples, ratio);
  assert_true(isfinite(samples) && ends > 0);
  assert_true(ends <= 1e4 * rtol); /* the runs themselves are accurate (a check of the truth) */
  if (!(ratio <= 10.0)) nbad++, print_error("  %s: sample error %.3g x the end-point error (limit 10)\n", nm, ratio);
}

static void test_samples_every_flow_method(void **state) {
  (void)state;
  problem p = {0};
  int widths[3] = {N, K, M};
  assert_int_equal(dln_net_alloc(&p.net, 2, widths, 0), DLN_OK);
  const double sig[P] = {2.0, 1.0, 0.5}, ub[P] = {0.9, 0.3, 1.2}, vb[P] = {0.2, 0.8, 0.75};
  for (int i = 0; i < P; ++i) {
    p.sig[i] = sig[i];
    p.lam0[i] = ub[i] * ub[i] - vb[i] * vb[i];
    p.C[i] = tu_eq22(sig[i], p.lam0[i], ub[i] * vb[i]);
  }
  tu_rand_orth(M, p.Phi);
  tu_rand_orth(N, p.Psi);
  dln_mat *Yb = dln_mat_alloc(M, N);
  assert_non_null(Yb);
  tu_usv(M, N, P, p.Phi, sig, p.Psi, Yb->data);
  dln_loss *loss = NULL;
  assert_int_equal(dln_loss_factorization_alloc(&loss, Yb), DLN_OK);
  double *th0 = tu_dalloc(p.net->nparams);
  dln_rng *rng = dln_rng_alloc(17, 3);
  assert_non_null(rng);
  assert_int_equal(dln_init_spectral_asymmetric(p.net, th0, Yb, ub, vb, rng), DLN_OK);
  int nflow = 0;
  for (int i = 0; dln_integrator_at(i); ++i) {
    const dln_integrator_type *type = dln_integrator_at(i);
    if (type->flags & DLN_INTEG_DISCRETE) continue;
    int nst = type == &dln_integrator_gauss ? 2 : 1;
    for (int s = 1; s <= nst; ++s) {
      for (int k = 0; k < 2; ++k) {
        double rtol = k ? 1e-10 : 1e-7;
        if (type == &dln_integrator_gauss && s == 1 && k) rtol = 1e-9; /* order 2: ~10^5 steps at 1e-10 */
        run_method(&p, loss, th0, type, type == &dln_integrator_gauss ? s : 2, rtol);
      }
    }
    nflow++;
  }
  assert_int_equal(nbad, 0);
  assert_true(nflow >= 5); /* erk (flow), cvode, gauss, rkc, auto */
  dln_rng_free(rng);
  free(th0);
  dln_mat_free(Yb);
  dln_loss_free(loss);
  dln_net_free(p.net);
}

int main(void) {
  tu_seed(20261204);
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_samples_every_flow_method)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
