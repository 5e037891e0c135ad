/* Explicit sample times and the per-sample callback (dln/train.h, issue 9).
 *
 * C API, for every registered integrator type: the trajectory's t column equals the
 * requested sample times bit for bit (flows: dense output at the requested time; gd: times
 * that are whole multiples of η, e.g. 0.3 = 3·0.1 although 3*0.1 != 0.3 in doubles); the
 * callback is called once per sample, at exactly those times and steps, and the θ it sees
 * is the one the trajectory row was computed from (the observer re-evaluated at the
 * callback's copy reproduces the row bit for bit); a nonzero return stops the run there.
 * A gd time that is not a multiple of η is refused. CLI: --sample_times for every method
 * (trajectory.csv read back), merged with 0 and t_end, and the refusals. */
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

#include "dln/e2e.h"
#include "dln/error.h"
#include "dln/integrator.h"
#include "dln/io.h"
#include "dln/loss.h"
#include "dln/mat.h"
#include "dln/net.h"
#include "dln/observe.h"
#include "dln/table.h"
#include "dln/train.h"
#include "testutil.h"

enum { MAXS = 16 };

/* What the callback saw. */
typedef struct seen {
  int n, stop_at; /* calls so far; return 1 at call stop_at (−1: never) */
  size_t np;
  const dln_net *net;
  double t[MAXS];
  long step[MAXS];
  double theta[MAXS][64];
} seen;

static int on_sample(void *ctx, double t, long step, const double *x, const dln_net *net) {
  seen *s = ctx;
  assert_ptr_equal(net, s->net);
  assert_true(s->n < MAXS);
  s->t[s->n] = t;
  s->step[s->n] = step;
  memcpy(s->theta[s->n], x, s->np * sizeof *x);
  return s->n++ == s->stop_at;
}

/* A depth-3 factorization 2 x 3, widths 3-2-2-2 (22 parameters). */
static void problem(dln_net **net, dln_loss **loss, double **theta) {
  static const int w[] = {3, 2, 2, 2};
  tu_fact_problem(7, 3, w, 0.5, net, loss, theta);
  assert_true((*net)->nparams <= 64);
}

/* Run method m with times[0..nt) (t_end = 2) and the callback; checks every row against
 * the callback's record. Returns the result; *rows the trajectory's rows. */
static dln_train_result run_with(const dln_integrator_type *m, const double *times, int nt, int stop_at, seen *s,
                                 size_t *rows) {
  dln_net *net;
  dln_loss *loss;
  double *theta;
  problem(&net, &loss, &theta);
  dln_observer *obs;
  assert_int_equal(dln_observer_alloc(&obs, net, loss, theta, DLN_OBS_LOSS | DLN_OBS_SV), DLN_OK);
  dln_table *tab;
  int nc = dln_observer_ncols(obs);
  const char *names[16];
  for (int i = 0; i < nc; ++i) names[i] = dln_observer_colname(obs, i);
  assert_int_equal(dln_table_alloc(&tab, nc, names, (size_t)nt + 1), DLN_OK);
  dln_train_options o;
  dln_train_default_options(&o);
  o.method = m;
  o.t_end = 2;
  o.eta = 0.1;
  o.sample_times = times;
  o.nsample_times = nt;
  o.on_sample = on_sample;
  o.on_sample_ctx = s;
  memset(s, 0, sizeof *s);
  s->stop_at = stop_at;
  s->np = net->nparams;
  s->net = net;
  dln_train_result r;
  int st = dln_train(net, loss, theta, &o, obs, tab, &r);
  if (st) print_error("%s: %s\n", m->name, dln_last_error());
  assert_int_equal(st, DLN_OK);
  /* rows at sample times: exactly the callback's calls, same t, step, and θ */
  assert_true(tab->nrows >= (size_t)s->n); /* a final row at a stop point has no call */
  double row[16];
  for (int i = 0; i < s->n; ++i) {
    const double *tr = dln_table_row(tab, (size_t)i);
    assert_true(tr[0] == times[i]);  /* bit for bit: the request */
    assert_true(s->t[i] == times[i]);
    assert_true(tr[1] == (double)s->step[i]);
    assert_int_equal(dln_observer_eval(obs, s->t[i], s->step[i], s->theta[i], row), DLN_OK);
    for (int c = 0; c < nc; ++c) assert_memory_equal(&row[c], &tr[c], sizeof(double));
  }
  if (stop_at >= 0) /* the run stopped at the requested sample with θ = the callback's */
    assert_memory_equal(theta, s->theta[stop_at], net->nparams * sizeof *theta);
  *rows = tab->nrows;
  dln_table_free(tab);
  dln_observer_free(obs);
  dln_loss_free(loss);
  dln_net_free(net);
  free(theta);
  return r;
}

/* Irregular times (not on any step grid of a flow), t = 0 and t_end included. */
static const double FLOW_TIMES[] = {0.0, 1e-7, 0.1, 0.3, 1.0 / 3.0, 0.7000000000000001, 1.7, 2.0};
/* gd with η = 0.1: whole multiples whose k*η differs from the request in the last bit. */
static const double GD_TIMES[] = {0.0, 0.1, 0.3, 0.7, 1.7, 2.0};

static void test_exact_times_every_method(void **state) {
  (void)state;
  assert_true(3 * 0.1 != 0.3); /* why gd needs care */
  const dln_integrator_type *m;
  int nflow = 0;
  for (int i = 0; (m = dln_integrator_at(i)); ++i) {
    int gd = (m->flags & DLN_INTEG_DISCRETE) != 0;
    const double *times = gd ? GD_TIMES : FLOW_TIMES;
    int nt = gd ? (int)(sizeof GD_TIMES / sizeof *GD_TIMES) : (int)(sizeof FLOW_TIMES / sizeof *FLOW_TIMES);
    seen s;
    size_t rows;
    dln_train_result r = run_with(m, times, nt, -1, &s, &rows);
    if (tu_verbose()) print_message("%s: %d samples, stop %s\n", m->name, s.n, dln_stop_reason_name(r.stop_reason));
    assert_int_equal(r.stop_reason, DLN_STOP_TIME);
    assert_int_equal(s.n, nt); /* once per sample time */
    assert_int_equal((int)rows, nt); /* t_end is a sample: no extra final row */
    assert_true(r.t == 2.0);
    if (gd) assert_int_equal(s.step[2], 3); /* t = 0.3 is step 3 */
    nflow += !gd;
  }
  assert_true(nflow >= 5); /* auto, flow, cvode, gauss, rkc */
}

static void test_callback_stop(void **state) {
  (void)state;
  const dln_integrator_type *m;
  for (int i = 0; (m = dln_integrator_at(i)); ++i) {
    int gd = (m->flags & DLN_INTEG_DISCRETE) != 0;
    const double *times = gd ? GD_TIMES : FLOW_TIMES;
    int nt = gd ? (int)(sizeof GD_TIMES / sizeof *GD_TIMES) : (int)(sizeof FLOW_TIMES / sizeof *FLOW_TIMES);
    for (int stop_at = 0; stop_at <= 3; stop_at += 3) {
      seen s;
      size_t rows;
      dln_train_result r = run_with(m, times, nt, stop_at, &s, &rows);
      assert_int_equal(r.stop_reason, DLN_STOP_CANCELLED);
      assert_non_null(strstr(r.message, "sample callback"));
      assert_int_equal(s.n, stop_at + 1); /* no call after the stop */
      assert_int_equal((int)rows, stop_at + 1); /* the trajectory ends with that sample */
      assert_true(r.t == times[stop_at]);
    }
  }
}

static void test_gd_refuses_off_grid(void **state) {
  (void)state;
  dln_train_options o;
  dln_train_default_options(&o);
  o.method = dln_integrator_find("gd");
  o.eta = 0.1;
  o.t_end = 2;
  const double bad[] = {0.0, 0.25, 2.0};
  o.sample_times = bad;
  o.nsample_times = 3;
  assert_int_equal(dln_train_check(&o), DLN_EINVAL);
  assert_non_null(strstr(dln_last_error(), "sample_times[1]"));
  assert_non_null(strstr(dln_last_error(), "multiple of eta"));
  o.sample_times = GD_TIMES;
  o.nsample_times = (int)(sizeof GD_TIMES / sizeof *GD_TIMES);
  assert_int_equal(dln_train_check(&o), DLN_OK);
  o.method = dln_integrator_find("flow"); /* a flow takes any time */
  o.sample_times = bad;
  o.nsample_times = 3;
  assert_int_equal(dln_train_check(&o), DLN_OK);
}

/* The end-to-end system: the callback sees W (d_N x d_0) with net = NULL, at exactly the
 * requested times, equal to the samples dln_e2e_flow returns. */
typedef struct e2e_seen {
  int n;
  double t[MAXS], W[MAXS][6];
} e2e_seen;

static int on_e2e(void *ctx, double t, long step, const double *x, const dln_net *net) {
  (void)step;
  e2e_seen *s = ctx;
  assert_null(net);
  assert_true(s->n < MAXS);
  s->t[s->n] = t;
  memcpy(s->W[s->n++], x, 6 * sizeof *x);
  return 0;
}

static void test_e2e_callback(void **state) {
  (void)state;
  double Y[6] = {1, -0.5, 0.25, 2, 0.75, -1}, W[6] = {0.1, 0.02, -0.03, 0.05, 0.01, 0.04};
  dln_loss *loss = tu_fact_loss(2, 3, Y);
  dln_e2e *e;
  assert_int_equal(dln_e2e_alloc(&e, loss, 2), DLN_OK);
  dln_train_options o;
  dln_train_default_options(&o);
  o.t_end = 2;
  o.sample_times = FLOW_TIMES;
  o.nsample_times = (int)(sizeof FLOW_TIMES / sizeof *FLOW_TIMES);
  e2e_seen s = {0};
  o.on_sample = on_e2e;
  o.on_sample_ctx = &s;
  double samples[8 * 6];
  dln_train_result r;
  assert_int_equal(dln_e2e_flow(e, W, &o, samples, NULL, &r), DLN_OK);
  assert_int_equal(r.stop_reason, DLN_STOP_TIME);
  assert_int_equal(s.n, o.nsample_times);
  for (int i = 0; i < s.n; ++i) {
    assert_true(s.t[i] == FLOW_TIMES[i]);
    assert_memory_equal(s.W[i], samples + 6 * i, 6 * sizeof(double));
  }
  dln_e2e_free(e);
  dln_loss_free(loss);
}

/* ------------------------------------------------------------------ CLI */

static int cli(const char *dir, const char *const *args) { return tu_wait(tu_spawn(DLN_CLI, args, dir)); }

/* --sample_times for every method of `dln run` (the registry, and e2e_flow / e2e_gd): the t
 * column of trajectory.csv is {0, the times, t_end}, sorted, duplicates removed, exactly. */
static void test_cli_every_method(void **state) {
  (void)state;
  const char *dir = tu_tmpdir(0);
  const char *names[32];
  int nm = 0;
  const dln_integrator_type *m;
  for (int i = 0; (m = dln_integrator_at(i)) && nm < 30; ++i) names[nm++] = m->name;
  names[nm++] = "e2e_flow";
  names[nm++] = "e2e_gd";
  for (int k = 0; k < nm; ++k) {
    int gd = strstr(names[k], "gd") != NULL, e2e = strncmp(names[k], "e2e", 3) == 0;
    char method[64], out[64];
    snprintf(method, sizeof method, "--method=%s", names[k]);
    snprintf(out, sizeof out, "--out=o_%s", names[k]);
    const char *args[] = {"run", method, out, "--quiet", "--plot=false", "--t_end=2", "--rows=2", "--cols=3", "--width=2",
                          gd ? "--sample_times=1.7,0.3,0.1,0.3" : "--sample_times=1.7,0.3,1e-7,0.1,0.3,0.7000000000000001",
                          gd ? "--eta=0.1" : "--seed=1", e2e ? "--init=balanced" : "--seed=1", NULL};
    int rc = cli(dir, args);
    if (rc) print_error("%s: %s\n", names[k], tu_slurp(tu_path(dir, "stderr.txt")));
    assert_int_equal(rc, 0);
    char csv[256];
    snprintf(csv, sizeof csv, "%s/o_%s/trajectory.csv", dir, names[k]);
    dln_mat *T;
    assert_int_equal(dln_csv_read(csv, &T), DLN_OK);
    static const double want_flow[] = {0, 1e-7, 0.1, 0.3, 0.7000000000000001, 1.7, 2};
    static const double want_gd[] = {0, 0.1, 0.3, 1.7, 2};
    const double *want = gd ? want_gd : want_flow;
    int nw = gd ? 5 : 7;
    assert_int_equal(T->rows, nw);
    for (int i = 0; i < nw; ++i) assert_true(T->data[i] == want[i]); /* column 0 = t, column-major */
    dln_mat_free(T);
  }
}

/* Refusals of `dln run` (exit 64/65 with a message naming the field); the bad-input table
 * has the same cases as rows. */
static void test_cli_refusals(void **state) {
  (void)state;
  const char *dir = tu_tmpdir(1);
  static const struct {
    const char *arg1, *arg2, *needle;
  } cases[] = {
      {"--sample_times=50", "--seed=1", "sample_times: expected times in [0, t_end = 40], found 50"},
      {"--sample_times=-1", "--seed=1", "sample_times"},
      {"--sample_times=1,2", "--samples=3", "option --samples: has no effect with sample_times"},
      {"--sample_times=1,2", "--log_samples", "option --log_samples: has no effect with sample_times"},
      {"--sample_times=0.25", "--method=gd", "expected whole multiples of eta"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; ++i) {
    const char *args[] = {"run", "--quiet", "--plot=false", "--out=o", "--rows=2", "--cols=3", "--width=2",
                          cases[i].arg1, cases[i].arg2, "--eta=0.1", NULL};
    if (strcmp(cases[i].arg2, "--method=gd") != 0) args[9] = NULL;
    int rc = cli(dir, args);
    char *err = tu_slurp(tu_path(dir, "stderr.txt"));
    if (!strstr(err, cases[i].needle)) print_error("case %zu: %s\n", i, err);
    assert_true(rc == 64 || rc == 65);
    assert_non_null(strstr(err, cases[i].needle));
    free(err);
  }
}

/* dln sweep: every run samples at the spec's times (the data sets are drawn without them). */
static void test_cli_sweep(void **state) {
  (void)state;
  const char *dir = tu_tmpdir(2);
  tu_write_text(tu_path(dir, "s.json"),
                "{\"rows\": 2, \"cols\": 3, \"width\": 3, \"t_end\": 1, \"sample_times\": [0.7, 0.1],"
                " \"observe\": [\"loss\", \"entry:2,3\"], \"sweep\": {\"seed\": [1, 2]}}");
  const char *args[] = {"sweep", "s.json", "--out=o", "--quiet", NULL};
  assert_int_equal(cli(dir, args), 0);
  dln_mat *T;
  assert_int_equal(dln_csv_read(tu_path(dir, "o/ensemble.csv"), &T), DLN_OK);
  /* run, seed, stream, t, step, loss, loss_gap, W_2_3 */
  assert_int_equal(T->rows, 8);
  assert_int_equal(T->cols, 8);
  static const double want[] = {0, 0.1, 0.7, 1};
  for (int i = 0; i < 8; ++i) assert_true(T->data[i + 3 * T->rows] == want[i % 4]);
  dln_mat_free(T);
}

int main(void) {
  tu_seed(9);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_exact_times_every_method), cmocka_unit_test(test_callback_stop),
      cmocka_unit_test(test_gd_refuses_off_grid),      cmocka_unit_test(test_cli_every_method),
      cmocka_unit_test(test_cli_refusals),             cmocka_unit_test(test_e2e_callback),
      cmocka_unit_test(test_cli_sweep),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
