/* No heap allocation inside the training loops (dln/train.h, dln/net.h, dln/observe.h).
 *
 * alloc_count.c interposes malloc/calloc/realloc/free (forwarding to glibc's __libc_*),
 * so every heap call in the process is counted between dln_alloc_count_begin/_end:
 * calls from libdln.a, and also those made inside the shared libopenblas and
 * libsundials libraries (they resolve malloc to the executable's definition).
 * dln_train allocates a fixed set of buffers per call (and ARKODE its integrator
 * memory); the checks assert that the number of heap calls is the same for runs of
 * very different numbers of steps, i.e. the step loop itself never allocates:
 *   - GD, obs NULL: 10 vs 10000 steps;
 *   - flow, obs NULL: t_end 0.5 vs 5;
 *   - RKC (dln's own RK / Runge–Kutta–Chebyshev loop), obs NULL: t_end 0.01 (RK steps
 *     only) vs 20 (switching to Chebyshev steps);
 *   - GD and flow with an observer and a table sampled 11 times: equal counts for
 *     different step numbers at equal sample counts;
 *   - dln_net_grad, dln_net_hvp and dln_observer_eval themselves: zero calls.
 * Skipped under AddressSanitizer, which owns the allocator. */
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
#include "dln/observe.h"
#include "dln/rng.h"
#include "dln/train.h"
#include "testutil.h"

/* ------------------------------------------------------------------ allocation counter (alloc_count.c) */
#define SKIP_WITHOUT_COUNTER()                                                    \
  do {                                                                            \
    if (!DLN_HAVE_ALLOC_COUNTER) {                                                 \
      print_message("allocation counter unavailable (sanitizer or non-glibc)\n"); \
      skip();                                                                     \
    }                                                                             \
  } while (0)

/* ------------------------------------------------------------------ fixture */
typedef struct fixture {
  dln_net *net;
  dln_loss *loss;
  double *theta0, *theta;
} fixture;

/* ½‖W − Ȳ‖², Ȳ 5 x 10 ~ N(0,1), widths [10, 50, 5], init N(0, σ²) */
static void fixture_make(fixture *f, double sigma) {
  const int widths[3] = {10, 50, 5};
  tu_fact_problem(7, 2, widths, sigma, &f->net, &f->loss, &f->theta0);
  f->theta = malloc(f->net->nparams * sizeof(double));
  assert_non_null(f->theta);
}

static void fixture_free(fixture *f) {
  dln_net_free(f->net);
  dln_loss_free(f->loss);
  free(f->theta0);
  free(f->theta);
}

static void reset(fixture *f) { memcpy(f->theta, f->theta0, f->net->nparams * sizeof(double)); }

static void gd_opts(dln_train_options *o, long steps) {
  dln_train_default_options(o);
  o->method = &dln_integrator_gd;
  o->eta = 1e-3;
  o->max_steps = steps;
  o->t_end = o->eta * (2.0 * (double)steps + 10.0);
}

static double g_dop853_rtol = -1; /* ≥ 0: auto_dop853_rtol of flow_opts */

static void flow_opts(dln_train_options *o, double t_end) {
  dln_train_default_options(o);
  if (g_dop853_rtol >= 0) o->auto_dop853_rtol = g_dop853_rtol;
  o->method = &dln_integrator_flow;
  o->t_end = t_end;
  o->rtol = 1e-8;
  o->atol = 1e-10;
}

/* Heap calls (allocations; frees into *frees) during one dln_train from θ0. */
static long train_allocs(fixture *f, const dln_train_options *o, dln_observer *obs, dln_table *traj, long *frees,
                         dln_train_result *res) {
  reset(f);
  if (traj) traj->nrows = 0;
  dln_alloc_count_begin();
  int st = dln_train(f->net, f->loss, f->theta, o, obs, traj, res);
  long a = dln_alloc_count_end(frees);
  if (st) fail_msg("dln_train: %s", dln_last_error());
  return a;
}

/* ------------------------------------------------------------------ tests */
static void test_grad_hvp_no_alloc(void **state) {
  (void)state;
  SKIP_WITHOUT_COUNTER();
  fixture f = {0};
  fixture_make(&f, 0.1);
  size_t n = f.net->nparams;
  double *g = malloc(n * sizeof(double)), *hv = malloc(n * sizeof(double)), v;
  assert_non_null(g);
  assert_non_null(hv);
  reset(&f);
  assert_int_equal(dln_net_grad(f.net, f.loss, f.theta, &v, g, NULL), DLN_OK); /* warm-up */
  assert_int_equal(dln_net_hvp(f.net, f.loss, f.theta, g, hv), DLN_OK);
  dln_alloc_count_begin();
  for (int i = 0; i < 100; ++i) {
    dln_net_grad(f.net, f.loss, f.theta, &v, g, NULL);
    dln_net_hvp(f.net, f.loss, f.theta, g, hv);
  }
  long a = dln_alloc_count_end(NULL);
  assert_int_equal(a, 0);
  free(g);
  free(hv);
  fixture_free(&f);
}

static void test_gd_steps(void **state) {
  (void)state;
  SKIP_WITHOUT_COUNTER();
  fixture f = {0};
  fixture_make(&f, 0.1);
  dln_train_options o;
  dln_train_result r;
  gd_opts(&o, 10);
  train_allocs(&f, &o, NULL, NULL, NULL, &r); /* warm-up: first BLAS calls */
  long fa, fb;
  long a = train_allocs(&f, &o, NULL, NULL, &fa, &r);
  assert_int_equal(r.stop_reason, DLN_STOP_STEPS);
  assert_int_equal(r.steps, 10);
  gd_opts(&o, 10000);
  long b = train_allocs(&f, &o, NULL, NULL, &fb, &r);
  assert_int_equal(r.stop_reason, DLN_STOP_STEPS);
  assert_int_equal(r.steps, 10000);
  print_message("GD, obs NULL: %ld allocs / %ld frees for 10 steps, %ld / %ld for 10000 steps\n", a, fa, b, fb);
  assert_int_equal(a, b);
  assert_int_equal(fa, fb);
  assert_int_equal(a, fa); /* everything allocated is released */
  assert_true(a > 0);      /* the counter is live (dln_train's own buffers are seen) */
  fixture_free(&f);
}

/* Allocations of a flow of `method` to t_short and to t_long (≥ 2× the steps) are equal
 * and all freed; the integrator names after each run are checked when given. */
static void flow_alloc_compare(const dln_integrator_type *method, double t_short, double t_long, const char *name_short,
                               const char *name_long) {
  fixture f = {0};
  fixture_make(&f, 1.0);
  dln_train_options o;
  dln_train_result r;
  flow_opts(&o, t_short);
  o.method = method;
  train_allocs(&f, &o, NULL, NULL, NULL, &r); /* warm-up: first BLAS calls */
  long fa, fb;
  long a = train_allocs(&f, &o, NULL, NULL, &fa, &r);
  assert_int_equal(r.stop_reason, DLN_STOP_TIME);
  long sa = r.steps;
  if (name_short) assert_string_equal(r.integrator, name_short);
  o.t_end = t_long;
  long b = train_allocs(&f, &o, NULL, NULL, &fb, &r);
  assert_int_equal(r.stop_reason, DLN_STOP_TIME);
  long sb = r.steps;
  print_message("%s, obs NULL: %ld allocs / %ld frees for t_end %g (%ld steps), %ld / %ld for t_end %g (%ld steps)\n",
                r.integrator, a, fa, t_short, sa, b, fb, t_long, sb);
  if (name_long) assert_string_equal(r.integrator, name_long);
  assert_true(sb > 2 * sa); /* the comparison is meaningful */
  assert_int_equal(a, b);
  assert_int_equal(fa, fb);
  assert_int_equal(a, fa);
  fixture_free(&f);
}

static void test_flow_steps(void **state) {
  (void)state;
  SKIP_WITHOUT_COUNTER();
  flow_alloc_compare(&dln_integrator_flow, 0.5, 5.0, NULL, NULL);
}

/* RKC: the short run stays on Runge–Kutta, the long one runs the Chebyshev phase too */
static void test_rkc_steps(void **state) {
  (void)state;
  SKIP_WITHOUT_COUNTER();
  g_dop853_rtol = 0; /* the RK phase on Dormand-Prince 5(4) */
  flow_alloc_compare(&dln_integrator_rkc, 0.01, 20.0, "dln-rk5", "dln-rk5->rkc");
  g_dop853_rtol = -1; /* rtol 1e-8: on DOP853, whose dense output adds stages per sampled step */
  flow_alloc_compare(&dln_integrator_rkc, 0.01, 20.0, "dln-dop853", "dln-dop853->rkc");
  flow_alloc_compare(&dln_integrator_dop853, 0.01, 20.0, "dln-dop853", "dln-dop853");
}

static void test_observer_eval_no_alloc(void **state) {
  (void)state;
  SKIP_WITHOUT_COUNTER();
  fixture f = {0};
  fixture_make(&f, 0.1);
  dln_observer *obs = NULL;
  assert_int_equal(dln_observer_alloc(&obs, f.net, f.loss, f.theta0, DLN_OBS_ALL), DLN_OK);
  double *row = malloc((size_t)dln_observer_ncols(obs) * sizeof(double));
  assert_non_null(row);
  reset(&f);
  assert_int_equal(dln_observer_eval(obs, 0.0, 0, f.theta, row), DLN_OK); /* warm-up */
  dln_alloc_count_begin();
  for (int i = 0; i < 20; ++i) dln_observer_eval(obs, 0.1 * i, i, f.theta, row);
  long a = dln_alloc_count_end(NULL);
  print_message("dln_observer_eval (all diagnostics) x 20: %ld allocs\n", a);
  assert_int_equal(a, 0);
  free(row);
  dln_observer_free(obs);
  fixture_free(&f);
}

/* the disturbance columns (dC_j, its eq. 21 rate, 000 Thm 1's eigenvalues) and a disturbed
 * GD run: no allocation per evaluation / per step */
static void test_disturbed_no_alloc(void **state) {
  (void)state;
  SKIP_WITHOUT_COUNTER();
  fixture f = {0};
  fixture_make(&f, 0.1);
  double *D = malloc(f.net->nparams * sizeof(double));
  assert_non_null(D);
  for (size_t i = 0; i < f.net->nparams; ++i) D[i] = 0.01 * sin((double)i);
  dln_train_options o;
  dln_train_default_options(&o);
  o.disturbance = "sinusoid";
  o.disturbance_D = D;
  o.method = &dln_integrator_gd;
  o.nsamples = 2;
  const char *names[] = {"disturbance"};
  dln_observer *obs = NULL;
  assert_int_equal(dln_observer_alloc_run(&obs, f.net, f.loss, f.theta0, names, 1, &o), DLN_OK);
  assert_true(dln_observer_col(obs, "thm1_bound") > 0);
  double *row = malloc((size_t)dln_observer_ncols(obs) * sizeof(double));
  assert_non_null(row);
  reset(&f);
  assert_int_equal(dln_observer_eval(obs, 0.0, 0, f.theta, row), DLN_OK); /* warm-up */
  dln_alloc_count_begin();
  for (int i = 0; i < 20; ++i) dln_observer_eval(obs, 0.1 * i, i, f.theta, row);
  long a = dln_alloc_count_end(NULL);
  assert_int_equal(a, 0);
  long n[2];
  for (int k = 0; k < 2; ++k) {
    o.t_end = k ? 10.0 : 0.01; /* 10 vs 10000 steps */
    reset(&f);
    dln_train_result r;
    dln_alloc_count_begin();
    assert_int_equal(dln_train(f.net, f.loss, f.theta, &o, NULL, NULL, &r), DLN_OK);
    n[k] = dln_alloc_count_end(NULL);
  }
  print_message("disturbance columns x 20: %ld allocs; disturbed GD 10 vs 10000 steps: %ld vs %ld\n", a, n[0], n[1]);
  assert_int_equal(n[0], n[1]);
  free(row);
  free(D);
  dln_observer_free(obs);
  fixture_free(&f);
}

static dln_table *table_for(dln_observer *obs, size_t cap) {
  int nc = dln_observer_ncols(obs);
  const char **names = malloc((size_t)nc * sizeof(char *));
  assert_non_null(names);
  for (int i = 0; i < nc; ++i) names[i] = dln_observer_colname(obs, i);
  dln_table *t = NULL;
  assert_int_equal(dln_table_alloc(&t, nc, names, cap), DLN_OK);
  free(names);
  return t;
}

static void test_observed_runs(void **state) {
  (void)state;
  SKIP_WITHOUT_COUNTER();
  fixture f = {0};
  fixture_make(&f, 1.0);
  dln_observer *obs = NULL;
  assert_int_equal(dln_observer_alloc(&obs, f.net, f.loss, f.theta0, DLN_OBS_ALL), DLN_OK);
  dln_table *traj = table_for(obs, 16);
  dln_train_options o;
  dln_train_result r;
  long fa, fb;

  /* GD: 11 samples over 100 and over 10000 steps */
  gd_opts(&o, 0);
  o.max_steps = 0;
  o.t_end = 100 * o.eta;
  o.nsamples = 11;
  train_allocs(&f, &o, obs, traj, NULL, &r); /* warm-up */
  long a = train_allocs(&f, &o, obs, traj, &fa, &r);
  assert_int_equal(r.steps, 100);
  size_t rows_a = traj->nrows;
  o.t_end = 10000 * o.eta;
  long b = train_allocs(&f, &o, obs, traj, &fb, &r);
  assert_int_equal(r.steps, 10000);
  print_message("GD + observer, 11 samples: %ld allocs for 100 steps, %ld for 10000 steps (rows %zu, %zu)\n", a, b,
                rows_a, traj->nrows);
  assert_int_equal(rows_a, 11);
  assert_int_equal(traj->nrows, 11);
  assert_int_equal(a, b);
  assert_int_equal(fa, fb);

  /* flow: 11 samples over t_end 0.5 and 5 */
  flow_opts(&o, 0.5);
  o.nsamples = 11;
  train_allocs(&f, &o, obs, traj, NULL, &r); /* warm-up */
  a = train_allocs(&f, &o, obs, traj, &fa, &r);
  long sa = r.steps;
  rows_a = traj->nrows;
  flow_opts(&o, 5.0);
  o.nsamples = 11;
  b = train_allocs(&f, &o, obs, traj, &fb, &r);
  print_message("flow + observer, 11 samples: %ld allocs for t_end 0.5 (%ld steps), %ld for t_end 5 (%ld steps)\n", a,
                sa, b, r.steps);
  assert_true(r.steps > 2 * sa);
  assert_int_equal(rows_a, 11);
  assert_int_equal(traj->nrows, 11);
  assert_int_equal(a, b);
  assert_int_equal(fa, fb);

  dln_table_free(traj);
  dln_observer_free(obs);
  fixture_free(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_grad_hvp_no_alloc),   cmocka_unit_test(test_gd_steps),
      cmocka_unit_test(test_flow_steps),          cmocka_unit_test(test_rkc_steps),
      cmocka_unit_test(test_disturbed_no_alloc), cmocka_unit_test(test_observer_eval_no_alloc),
      cmocka_unit_test(test_observed_runs),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
