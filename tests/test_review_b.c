/* Regression tests from a review of src/dynamics, src/run and tools/dln.c: stop-rule
 * edge cases of the drivers (loss threshold met at t = 0, divergence reporting and the
 * last good state, the blow-up rule on ‖θ‖_∞ for every method), and the exit codes and
 * outputs of the dln command in corner cases. Each test failed before its fix. */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>

#include <cmocka.h>

#include "dln/dln.h"
#include "testutil.h"

/* ------------------------------------------------------------------ OpenBLAS calls off the main thread
 * This program's definition interposes the library's: it counts the calls made from a
 * thread other than main's, then forwards to OpenBLAS. */
static pthread_t main_thread;
static atomic_int blas_set_offthread;

void openblas_set_num_threads(int n);
void openblas_set_num_threads(int n) {
  static void (*real)(int);
  if (!pthread_equal(pthread_self(), main_thread)) atomic_fetch_add(&blas_set_offthread, 1);
  if (!real) *(void **)&real = dlsym(RTLD_NEXT, "openblas_set_num_threads");
  if (real) real(n);
}

/* ------------------------------------------------------------------ a scalar problem
 * Depth 1, W = w (1 x 1), ℓ = ½(w − y)²: the flow is w(t) = y + (w0 − y)e^{−t} and
 * gradient descent w_k = y + (w0 − y)(1 − η)^k, both monotone from w0 towards y. */

typedef struct scalar {
  dln_net *net;
  dln_loss *loss;
  double theta[1];
} scalar;

static void scalar_make(scalar *s, double y, double w0) {
  int widths[2] = {1, 1};
  assert_int_equal(dln_net_alloc(&s->net, 1, widths, 0), DLN_OK);
  s->loss = tu_fact_loss(1, 1, &y);
  assert_non_null(s->loss);
  s->theta[0] = w0;
}

static void scalar_free(scalar *s) {
  dln_loss_free(s->loss);
  dln_net_free(s->net);
}

static const dln_integrator_type *const all_methods[] = {&dln_integrator_gd, &dln_integrator_flow, &dln_integrator_cvode, &dln_integrator_gauss,
                                         &dln_integrator_auto, &dln_integrator_rkc};
static const char *const method_names[] = {"gd", "flow", "cvode", "gauss", "auto", "rkc"};

/* Loss threshold already met at t = 0: every method stops at t = 0 with the final loss
 * φ(θ0) (the flow driver left result.loss NaN). */
static void test_threshold_at_t0(void **state) {
  (void)state;
  for (size_t m = 0; m < sizeof all_methods / sizeof *all_methods; ++m) {
    scalar s;
    scalar_make(&s, 1.0, 0.9); /* φ(θ0) = 0.005 */
    dln_train_options o;
    dln_train_default_options(&o);
    o.method = all_methods[m];
    o.eta = 0.1;
    o.t_end = 5;
    o.nsamples = 11;
    o.loss_threshold = 0.01;
    dln_observer *obs = NULL;
    dln_table *tab = NULL;
    assert_int_equal(dln_observer_alloc(&obs, s.net, s.loss, s.theta, DLN_OBS_LOSS), DLN_OK);
    const char *names[8];
    for (int c = 0; c < dln_observer_ncols(obs); ++c) names[c] = dln_observer_colname(obs, c);
    assert_int_equal(dln_table_alloc(&tab, dln_observer_ncols(obs), names, 12), DLN_OK);
    dln_train_result r;
    assert_int_equal(dln_train(s.net, s.loss, s.theta, &o, obs, tab, &r), DLN_OK);
    if (r.stop_reason != DLN_STOP_LOSS || !(r.t == 0) || !(r.t_threshold == 0) || !tu_close(r.loss, 0.005, 1e-12, 0))
      print_error("%s: stop %s at t = %g, t_threshold %g, loss %g (expected loss at t = 0, loss 0.005)\n",
                  method_names[m], dln_stop_reason_name(r.stop_reason), r.t, r.t_threshold, r.loss);
    assert_int_equal(r.stop_reason, DLN_STOP_LOSS);
    assert_true(r.t == 0);
    assert_true(r.t_threshold == 0);
    assert_close(r.loss, 0.005, 1e-12, 0);
    assert_true(s.theta[0] == 0.9);
    assert_int_equal((int)tab->nrows, 1); /* the t = 0 sample is the stop point */
    dln_table_free(tab);
    dln_observer_free(obs);
    scalar_free(&s);
  }
}

/* Divergence by the blow-up rule on ‖θ‖_∞ (φ stays below it): y = 1.5, w0 = 0.1, blowup
 * 1.4, φ(θ0) = 0.98 < 1.4. Every method stops as diverged (gradient descent did not check
 * ‖θ‖_∞ for the network), keeps the last good state (|w| ≤ 1.4; the flow driver returned
 * the state past the threshold) and reports it: result.t < fail_t, final table row at
 * result.t with that state. */
static void test_blowup_keeps_last_good(void **state) {
  (void)state;
  for (size_t m = 0; m < sizeof all_methods / sizeof *all_methods; ++m) {
    scalar s;
    scalar_make(&s, 1.5, 0.1);
    dln_train_options o;
    dln_train_default_options(&o);
    o.method = all_methods[m];
    o.eta = 0.01;
    o.t_end = 20;
    o.nsamples = 21;
    o.blowup = 1.4;
    o.gauss_h = 0.05;
    dln_observer *obs = NULL;
    dln_table *tab = NULL;
    assert_int_equal(dln_observer_alloc(&obs, s.net, s.loss, s.theta, DLN_OBS_LOSS), DLN_OK);
    const char *names[8];
    int nc = dln_observer_ncols(obs);
    for (int c = 0; c < nc; ++c) names[c] = dln_observer_colname(obs, c);
    assert_int_equal(dln_table_alloc(&tab, nc, names, 22), DLN_OK);
    dln_train_result r;
    assert_int_equal(dln_train(s.net, s.loss, s.theta, &o, obs, tab, &r), DLN_OK);
    /* w(t) = 1.5 − 1.4 e^{−t} crosses 1.4 at t = ln 14 ≈ 2.64 */
    if (r.stop_reason != DLN_STOP_DIVERGED || !(fabs(s.theta[0]) <= 1.4) || !(r.t < r.fail_t) || r.fail_step < 1)
      print_error("%s: stop %s, w = %.17g, t = %g, fail_t = %g, fail_step %ld: %s\n", method_names[m],
                  dln_stop_reason_name(r.stop_reason), s.theta[0], r.t, r.fail_t, r.fail_step, r.message);
    assert_int_equal(r.stop_reason, DLN_STOP_DIVERGED);
    assert_true(fabs(s.theta[0]) <= 1.4);
    assert_true(r.t < r.fail_t);
    assert_true(r.fail_t > 2.0 && r.fail_t < 3.5);
    assert_true(r.fail_step >= 1);
    assert_non_null(strstr(r.message, "max|"));
    assert_close(r.loss, 0.5 * (1.5 - s.theta[0]) * (1.5 - s.theta[0]), 1e-12, 0);
    /* the final row is the returned state at result.t, and no row lies past it */
    assert_true(tab->nrows >= 2);
    const double *last = dln_table_row(tab, tab->nrows - 1);
    int cl = dln_table_col(tab, "loss");
    assert_true(last[0] == r.t);
    assert_close(last[cl], r.loss, 1e-12, 0);
    for (size_t i = 0; i < tab->nrows; ++i) assert_true(dln_table_row(tab, i)[0] <= r.t);
    dln_table_free(tab);
    dln_observer_free(obs);
    scalar_free(&s);
  }
}

/* Divergence at t = 0: φ(θ0) above the blow-up threshold stops every method at step 0
 * with θ0 kept (the flow driver only caught a non-finite φ(θ0)). */
static void test_blowup_at_t0(void **state) {
  (void)state;
  for (size_t m = 0; m < sizeof all_methods / sizeof *all_methods; ++m) {
    scalar s;
    scalar_make(&s, 3.0, 0.0); /* φ(θ0) = 4.5 */
    dln_train_options o;
    dln_train_default_options(&o);
    o.method = all_methods[m];
    o.eta = 0.01;
    o.t_end = 1;
    o.nsamples = 5;
    o.blowup = 2.0;
    dln_train_result r;
    assert_int_equal(dln_train(s.net, s.loss, s.theta, &o, NULL, NULL, &r), DLN_OK);
    if (r.stop_reason != DLN_STOP_DIVERGED || r.t != 0 || r.fail_step != 0 || r.fail_t != 0)
      print_error("%s: stop %s at t = %g, fail_t %g, fail_step %ld: %s\n", method_names[m],
                  dln_stop_reason_name(r.stop_reason), r.t, r.fail_t, r.fail_step, r.message);
    assert_int_equal(r.stop_reason, DLN_STOP_DIVERGED);
    assert_true(r.t == 0 && r.fail_t == 0);
    assert_int_equal(r.fail_step, 0);
    assert_true(s.theta[0] == 0.0);
    assert_close(r.loss, 4.5, 1e-15, 0);
    scalar_free(&s);
  }
}

/* Gradient descent with t_end/η beyond a long: refused by dln_train_check (round(t_end/η)
 * was converted to long with undefined behaviour and the run stopped after one step
 * reporting "reached t_end"). */
static void test_gd_step_count_range(void **state) {
  (void)state;
  dln_train_options o;
  dln_train_default_options(&o);
  o.method = &dln_integrator_gd;
  o.eta = 1e-300;
  o.t_end = 1e300;
  assert_int_equal(dln_train_check(&o), DLN_EINVAL);
  assert_non_null(strstr(dln_last_error(), "t_end/eta"));
  scalar s;
  scalar_make(&s, 1.0, 0.0);
  dln_train_result r;
  assert_int_equal(dln_train(s.net, s.loss, s.theta, &o, NULL, NULL, &r), DLN_EINVAL);
  assert_true(s.theta[0] == 0.0);
  o.t_end = 1e4; /* 1e304 steps: also refused */
  assert_int_equal(dln_train_check(&o), DLN_EINVAL);
  o.eta = 1e-3; /* 1e7 steps: fine */
  assert_int_equal(dln_train_check(&o), DLN_OK);
  scalar_free(&s);
}

/* ------------------------------------------------------------------ cancellation just before the summary */

static int cancel_on_call(void *ctx) {
  int *calls = ctx;
  return ++calls[0] >= calls[1];
}

/* A SIGINT that arrives while the outputs are written (after the post-training poll):
 * dln_run polls again before summary.json, so the folder never looks complete and the
 * result says cancelled (before, summary.json was written and the CLI then claimed
 * "no summary.json" with exit 130). */
static void test_run_cancel_before_summary(void **state) {
  (void)state;
  const char *d = tu_tmpdir(0);
  dln_spec s;
  assert_int_equal(dln_spec_default(&s), DLN_OK);
  assert_int_equal(dln_spec_set(&s, "out", d), DLN_OK);
  assert_int_equal(dln_spec_set(&s, "rows", "2"), DLN_OK);
  assert_int_equal(dln_spec_set(&s, "cols", "3"), DLN_OK);
  assert_int_equal(dln_spec_set(&s, "width", "4"), DLN_OK);
  assert_int_equal(dln_spec_set(&s, "t_end", "0.5"), DLN_OK);
  assert_int_equal(dln_spec_set(&s, "samples", "3"), DLN_OK);
  assert_int_equal(dln_spec_set(&s, "plot", "false"), DLN_OK);
  int calls[2] = {0, 2}; /* the first poll (after training) says no, the next says yes */
  dln_run_options ro = {NULL, calls, NULL, cancel_on_call};
  dln_run_result res;
  assert_int_equal(dln_run(&s, &ro, &res), DLN_OK);
  assert_int_equal(res.train.stop_reason, DLN_STOP_CANCELLED);
  assert_true(calls[0] >= 2);
  struct stat sb;
  assert_int_not_equal(stat(tu_path(d, "summary.json"), &sb), 0);
  /* control: never cancelled, the summary is written */
  calls[0] = 0, calls[1] = 1000;
  assert_int_equal(dln_run(&s, &ro, &res), DLN_OK);
  assert_int_equal(res.train.stop_reason, DLN_STOP_TIME);
  assert_int_equal(stat(tu_path(d, "summary.json"), &sb), 0);
  dln_spec_free(&s);
  tu_rmtree(d);
}

/* ------------------------------------------------------------------ sweeps */

typedef struct sweep_cancel {
  atomic_int all_done;
} sweep_cancel;

static void sweep_progress(void *ctx, long done, long total, long failed) {
  (void)failed;
  if (done == total) atomic_store(&((sweep_cancel *)ctx)->all_done, 1);
}

static int sweep_cancelled(void *ctx) { return atomic_load(&((sweep_cancel *)ctx)->all_done); }

static int run_sweep(const char *out, int threads, sweep_cancel *sc, dln_ensemble_result *res) {
  static const char *spec =
      "{\"task\": \"factorization\", \"rows\": 2, \"cols\": 3, \"width\": 4, \"t_end\": 0.5,"
      " \"samples\": 3, \"plot\": false, \"quiet\": true,"
      " \"sweep\": {\"data_seed\": [1, 2, 3, 4], \"seed\": [5, 6]}}";
  dln_spec s;
  dln_sweep sw;
  dln_sweep_init(&sw);
  assert_int_equal(dln_spec_default(&s), DLN_OK);
  assert_int_equal(dln_spec_from_json_string(&s, "spec.json", spec), DLN_OK);
  assert_int_equal(dln_sweep_from_json_string(&sw, "spec.json", spec), DLN_OK);
  dln_ensemble_options o;
  dln_ensemble_default_options(&o);
  o.nthreads = threads;
  o.out = out;
  if (sc) {
    o.progress = sweep_progress;
    o.progress_ctx = sc;
    o.cancelled = sweep_cancelled;
  }
  int st = dln_ensemble_run(&s, &sw, &o, res);
  dln_sweep_free(&sw);
  dln_spec_free(&s);
  return st;
}

/* The data sets of a sweep are drawn on the worker threads through dln_run's code, which
 * called openblas_set_num_threads from them (concurrently, while other workers run BLAS);
 * OpenBLAS is set once, from the calling thread. */
static void test_sweep_blas_threads_from_main_only(void **state) {
  (void)state;
  const char *d = tu_tmpdir(1);
  dln_ensemble_result res;
  atomic_store(&blas_set_offthread, 0);
  assert_int_equal(run_sweep(d, 3, NULL, &res), DLN_OK);
  assert_int_equal(res.ncomplete, 8);
  if (atomic_load(&blas_set_offthread)) print_error("%d calls from worker threads\n", atomic_load(&blas_set_offthread));
  assert_int_equal(atomic_load(&blas_set_offthread), 0);
  tu_rmtree(d);
}

/* Cancelled after the last run finished but before the outputs are committed: nothing is
 * written and res.cancelled says so (the pool polled only while runs were pending, so
 * ensemble.csv/.json were written although the CLI then said "nothing written"). */
static void test_sweep_cancel_after_last_run(void **state) {
  (void)state;
  const char *d = tu_tmpdir(2);
  dln_ensemble_result res;
  sweep_cancel sc;
  atomic_init(&sc.all_done, 0);
  assert_int_equal(run_sweep(d, 2, &sc, &res), DLN_OK);
  assert_int_equal(atomic_load(&sc.all_done), 1);
  assert_int_equal(res.cancelled, 1);
  struct stat sb;
  assert_int_not_equal(stat(tu_path(d, "ensemble.csv"), &sb), 0);
  assert_int_not_equal(stat(tu_path(d, "ensemble.json"), &sb), 0);
  tu_rmtree(d);
}

/* ------------------------------------------------------------------ the dln command */

static int cli(const char *dir, const char *const *args, char **err) {
  int rc = tu_wait(tu_spawn(DLN_CLI, args, dir));
  *err = tu_slurp(tu_path(dir, "stderr.txt"));
  assert_non_null(*err);
  return rc;
}

/* A sweep with too many runs is a bad spec (exit 65, one line), not an output folder
 * that cannot be written (it exited 73). */
static void test_cli_sweep_too_many_runs(void **state) {
  (void)state;
  const char *d = tu_tmpdir(3);
  char spec[512];
  snprintf(spec, sizeof spec, "%s/big.json", d);
  char text[1024];
  snprintf(text, sizeof text,
           "{\"rows\": 2, \"cols\": 2, \"width\": 2, \"t_end\": 0.1, \"plot\": false, \"out\": \"%s/out\",\n"
           " \"sweep\": {\"seed\": {\"from\": 1, \"count\": 100000}, \"stream\": {\"from\": 0, \"count\": 100000}}}\n",
           d);
  tu_write_text(spec, text);
  const char *args[] = {"sweep", spec, NULL};
  char *err = NULL;
  int rc = cli(d, args, &err);
  if (rc != 65 || tu_count_lines(err) != 1) print_error("exit %d, stderr:\n%s", rc, err);
  assert_int_equal(rc, 65);
  assert_int_equal(tu_count_lines(err), 1);
  assert_non_null(strstr(err, "runs"));
  free(err);
  tu_rmtree(d);
}

int main(void) {
  tu_seed(20240611);
  main_thread = pthread_self();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_threshold_at_t0),
      cmocka_unit_test(test_blowup_keeps_last_good),
      cmocka_unit_test(test_blowup_at_t0),
      cmocka_unit_test(test_gd_step_count_range),
      cmocka_unit_test(test_run_cancel_before_summary),
      cmocka_unit_test(test_sweep_blas_threads_from_main_only),
      cmocka_unit_test(test_sweep_cancel_after_last_run),
      cmocka_unit_test(test_cli_sweep_too_many_runs),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
