/* Checkpoints and resumed runs (docs/resume.md).
 *
 * Library: for gradient descent and every flow method, a run resumed from its k-th
 * checkpoint (the state, the samples taken, the trajectory rows so far) ends with the same
 * trajectory and state, bit for bit, as the uninterrupted run with the same
 * checkpoint_every; and checkpoint_every = 0 changes nothing in a run (also under a sinusoidal disturbance, 000 eq. 9).
 * Command line (DLN_CLI): SIGTERM stops a run with exit 143, one line naming the checkpoint,
 * no temporary files and an incomplete summary.json; `dln run --resume` then writes
 * trajectory.csv and every .npy byte-identical to an uninterrupted run; a changed input
 * file is refused; two quick signals still leave no temporary file. SIGKILL (no handler
 * runs) at any moment of the checkpoint cycle leaves a resumable run: the new checkpoint's
 * arrays go to the slot checkpoint.json does not name, so garbage there (a write cut
 * short) is never read; the killed writer's temporary files are removed on resume.
 * Gauss with checkpoints: the restart state from the dense output of a huge converged
 * step stays at round-off (the cubic Hermite interpolant amplified a stiff component of
 * the step's end values by h·λ ≈ 10³: loss samples of 3.7e-6 after convergence). */
#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/fault.h"
#include "dln/error.h"
#include "dln/io.h"
#include "dln/net.h"
#include "dln/spec.h"
#include "dln/table.h"
#include "dln/train.h"
#include "run/run_internal.h"
#include "testutil.h"

/* ------------------------------------------------------------------ library */

#define NCOL 5
static int sample_row(void *ctx, double t, long step, const double *theta, double *row) {
  (void)ctx;
  row[0] = t;
  row[1] = (double)step;
  row[2] = theta[0];
  row[3] = theta[1];
  row[4] = theta[7];
  return 0;
}

/* The checkpoint a run keeps: the `want`-th one reported (1-based). */
typedef struct keep {
  int seen, want;
  dln_train_checkpoint cp;
  double x[256];
  size_t rows;
  dln_table *tab;
} keep;

static int keep_cb(void *ctx, const dln_train_checkpoint *cp) {
  keep *k = ctx;
  if (++k->seen != k->want) return 0;
  assert_true(cp->n <= 256);
  k->cp = *cp;
  memcpy(k->x, cp->x, cp->n * sizeof(double));
  k->cp.x = k->x;
  k->rows = k->tab->nrows;
  return 0;
}

typedef struct prob {
  dln_net *net;
  dln_loss *loss;
  double *theta0;
  size_t n;
} prob;

static void prob_make(prob *p) {
  int widths[] = {4, 6, 3};
  tu_fact_problem(11, 2, widths, 0.3, &p->net, &p->loss, &p->theta0);
  p->n = p->net->nparams;
}

static void prob_free(prob *p) {
  dln_net_free(p->net);
  dln_loss_free(p->loss);
  free(p->theta0);
}

static const char *const names[NCOL] = {"t", "step", "a", "b", "c"};

/* One run from θ0 (or from k's checkpoint with its rows); table and state out. */
static dln_table *run_one(prob *p, dln_train_options o, keep *k, const keep *from, double *theta) {
  dln_table *tab = NULL;
  assert_int_equal(dln_table_alloc(&tab, NCOL, names, (size_t)dln_train_nsamples(&o) + 1), DLN_OK);
  dln_sampler s = {NCOL, sample_row, NULL};
  memcpy(theta, p->theta0, p->n * sizeof(double));
  if (k) {
    k->tab = tab;
    o.checkpoint = keep_cb;
    o.checkpoint_ctx = k;
  }
  if (from) {
    for (size_t i = 0; i < from->rows; ++i) assert_int_equal(dln_table_append(tab, dln_table_row(from->tab, i)), DLN_OK);
    o.resume = &from->cp;
  }
  dln_train_result r;
  int st = dln_train_sampled(p->net, p->loss, theta, &o, &s, tab, &r);
  if (st) print_error("%s: %s\n", o.method->name, dln_last_error());
  assert_int_equal(st, DLN_OK);
  assert_int_equal(r.stop_reason, DLN_STOP_TIME);
  return tab;
}

static void same_tables(const dln_table *a, const dln_table *b) {
  assert_int_equal(a->nrows, b->nrows);
  assert_memory_equal(a->data, b->data, a->nrows * NCOL * sizeof(double));
}

/* disturbed: the sinusoidally disturbed flow of 000 eq. 9 (t enters D(t)), resumed bit for bit too */
static void resume_method_d(const char *method, int disturbed) {
  prob p;
  prob_make(&p);
  dln_train_options o;
  dln_train_default_options(&o);
  double D[256];
  if (disturbed) {
    for (size_t i = 0; i < p.n; ++i) D[i] = 0.3 * cos(0.7 * (double)i);
    o.disturbance = "sinusoid";
    o.disturbance_omega = 2.0;
    o.disturbance_phase = 0.3;
    o.disturbance_D = D;
  }
  o.method = dln_integrator_find(method);
  assert_non_null(o.method);
  o.t_end = 20;
  o.nsamples = 41;
  o.eta = 0.01;
  double *t_plain = tu_dalloc(p.n), *t_full = tu_dalloc(p.n), *t_res = tu_dalloc(p.n);
  /* checkpoint_every = 0 is the run as it always was; the reference */
  dln_table *plain = run_one(&p, o, NULL, NULL, t_plain);
  o.checkpoint_every = o.method->flags & DLN_INTEG_DISCRETE ? 300 : 8;
  keep k;
  memset(&k, 0, sizeof k);
  k.want = 2;
  dln_table *full = run_one(&p, o, &k, NULL, t_full);
  assert_true(k.seen >= 3); /* a checkpoint was taken after the one kept */
  assert_true(k.cp.t > 0 && k.cp.t < o.t_end);
  assert_true(k.rows > 0 && k.rows < full->nrows);
  dln_table *res = run_one(&p, o, NULL, &k, t_res);
  same_tables(full, res);
  assert_memory_equal(t_full, t_res, p.n * sizeof(double));
  if (o.method->flags & DLN_INTEG_DISCRETE) { /* GD: checkpoints change nothing */
    same_tables(plain, full);
    assert_memory_equal(t_plain, t_full, p.n * sizeof(double));
  } else { /* flow: restarts at checkpoints change round-off only */
    assert_true(tu_maxdiff(p.n, t_plain, t_full) < 1e-6);
  }
  dln_table_free(plain);
  dln_table_free(full);
  dln_table_free(res);
  free(t_plain);
  free(t_full);
  free(t_res);
  prob_free(&p);
}

static void resume_method(const char *method) { resume_method_d(method, 0); }
static void test_resume_gd(void **s) { (void)s; resume_method("gd"); }
static void test_resume_disturbed(void **s) {
  (void)s;
  static const char *const m[] = {"gd", "flow", "cvode", "gauss", "rkc", "auto", "dop853"};
  for (size_t i = 0; i < sizeof m / sizeof *m; ++i) resume_method_d(m[i], 1);
}
static void test_resume_flow(void **s) { (void)s; resume_method("flow"); }
static void test_resume_cvode(void **s) { (void)s; resume_method("cvode"); }
static void test_resume_gauss(void **s) { (void)s; resume_method("gauss"); }
static void test_resume_rkc(void **s) { (void)s; resume_method("rkc"); }
static void test_resume_auto(void **s) { (void)s; resume_method("auto"); }
static void test_resume_dop853(void **s) { (void)s; resume_method("dop853"); }

/* The checkpoint cycle cut between its arrays and its header (the header cannot be
 * created, as for a process killed there): the folder still reads back the previous
 * checkpoint, in either slot; a complete write then reads back as itself. Before the two
 * slots the new arrays had replaced the ones the header names: "the checkpoint is
 * broken". */
static void test_checkpoint_cut(void **s) {
  (void)s;
  char d[256];
  snprintf(d, sizeof d, "%s/ckcut", tu_tmpdir(1));
  assert_int_equal(dln_mkdir_p(d), DLN_OK);
  dln_spec sp;
  assert_int_equal(dln_spec_default(&sp), DLN_OK);
  const char *cols[] = {"t", "loss"};
  dln_table *tb = NULL;
  assert_int_equal(dln_table_alloc(&tb, 2, cols, 16), DLN_OK);
  double x[5][3] = {{1, 2, 3}, {4, 5, 6}, {7, 8, 9}, {10, 11, 12}, {13, 14, 15}};
  dln_train_checkpoint cp = {.t = 0.5, .step = 5, .next_sample = 1, .n = 3, .x = x[0]};
  assert_int_equal(dln_run_checkpoint_write(d, &sp, tb, &cp, NULL), DLN_OK);
  for (int round = 1; round <= 4; ++round) {
    double row[2] = {round, 1.0 / round};
    assert_int_equal(dln_table_append(tb, row), DLN_OK);
    dln_train_checkpoint nx = cp;
    nx.t = cp.t + 1, nx.step = cp.step + 10, nx.next_sample = cp.next_sample + 1, nx.x = x[round];
    dln_fault_arm(DLN_FAULT_WRITE, 5); /* sites: state open, commit, rows open, commit, header open */
    assert_int_not_equal(dln_run_checkpoint_write(d, &sp, tb, &nx, NULL), DLN_OK);
    dln_fault_disarm();
    dln_run_ckpt k;
    int st = dln_run_checkpoint_read(d, &sp, &k);
    if (st) print_error("round %d: %s\n", round, dln_last_error());
    assert_int_equal(st, DLN_OK);
    assert_true(k.cp.t == cp.t && k.cp.step == cp.step && k.cp.n == 3);
    assert_memory_equal(k.cp.x, cp.x, 3 * sizeof(double));
    assert_int_equal(k.traj->cols, round - 1); /* rows of the previous checkpoint */
    dln_run_ckpt_free(&k);
    assert_int_equal(dln_run_checkpoint_write(d, &sp, tb, &nx, NULL), DLN_OK);
    assert_int_equal(dln_run_checkpoint_read(d, &sp, &k), DLN_OK);
    assert_true(k.cp.t == nx.t && k.cp.step == nx.step);
    assert_memory_equal(k.cp.x, nx.x, 3 * sizeof(double));
    assert_int_equal(k.traj->cols, round);
    dln_run_ckpt_free(&k);
    cp = nx;
  }
  assert_int_equal(dln_run_checkpoint_remove(d), DLN_OK);
  assert_false(dln_run_checkpoint_exists(d));
  dln_table_free(tb);
  dln_spec_free(&sp);
}

/* ------------------------------------------------------------------ command line */

static char dir[64];

static int exists(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0;
}

static int run_cli(const char *const *args) { return tu_wait(tu_spawn(DLN_CLI, args, dir)); }

/* Temporary files ("*.tmp.*") left in folder d. */
static int tmp_files(const char *d) {
  DIR *dp = opendir(tu_path(dir, d));
  assert_non_null(dp);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(dp))) n += strstr(e->d_name, ".tmp.") != NULL;
  closedir(dp);
  return n;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* Start `args` and send sig (twice: `twice`) once d/checkpoint.json exists; the exit code. */
static int interrupt_after_checkpoint(const char *const *args, const char *d, int sig, int twice) {
  char ck[256];
  snprintf(ck, sizeof ck, "%s/checkpoint.json", tu_path(dir, d));
  pid_t pid = tu_spawn(DLN_CLI, args, dir);
  for (int i = 0; i < 1000 && !exists(ck); ++i) sleep_ms(10);
  assert_true(exists(ck));
  assert_int_equal(kill(pid, sig), 0);
  if (twice) assert_int_equal(kill(pid, sig), 0);
  return tu_wait(pid);
}

static void same_file(const char *a, const char *b, const char *name) {
  char pa[256], pb[256];
  snprintf(pa, sizeof pa, "%s/%s", tu_path(dir, a), name);
  snprintf(pb, sizeof pb, "%s/%s", tu_path(dir, b), name);
  char *x = tu_slurp(pa), *y = tu_slurp(pb);
  struct stat sa, sb;
  assert_int_equal(stat(pa, &sa), 0);
  assert_int_equal(stat(pb, &sb), 0);
  if (sa.st_size != sb.st_size || memcmp(x, y, (size_t)sa.st_size)) print_error("%s differs between %s and %s\n", name, a, b);
  assert_int_equal(sa.st_size, sb.st_size);
  assert_memory_equal(x, y, (size_t)sa.st_size);
  free(x);
  free(y);
}

/* trajectory.csv and every .npy of a run folder of this method. */
static void same_outputs(const char *a, const char *b) {
  static const char *const files[] = {"trajectory.csv", "W1_init.npy", "W1_final.npy", "W2_init.npy", "W2_final.npy",
                                      "target.npy"};
  for (size_t i = 0; i < sizeof files / sizeof *files; ++i) same_file(a, b, files[i]);
}

static void cli_resume(const char *method, const char *t_end, const char *every) {
  char m[64], te[64], ce[64], oa[64], ob[64];
  snprintf(m, sizeof m, "--method=%s", method);
  snprintf(te, sizeof te, "--t_end=%s", t_end);
  snprintf(ce, sizeof ce, "--checkpoint_every=%s", every);
  snprintf(oa, sizeof oa, "--out=full-%s", method);
  snprintf(ob, sizeof ob, "--out=cut-%s", method);
  const char *eta = strcmp(method, "gd") == 0 ? "--eta=1e-4" : "--quiet"; /* eta is refused with a flow method */
  const char *full[] = {"run", m, te, ce, eta, "--samples=401", "--plot=false", "--quiet", oa, NULL};
  assert_int_equal(run_cli(full), 0);
  const char *cut[] = {"run", m, te, ce, eta, "--samples=401", "--plot=false", "--quiet", ob, NULL};
  assert_int_equal(interrupt_after_checkpoint(cut, ob + 6, SIGTERM, 0), 143);
  char *err = tu_slurp(tu_path(dir, "stderr.txt"));
  assert_non_null(err);
  if (tu_count_lines(err) != 1 || !strstr(err, "interrupted by SIGTERM") || !strstr(err, "--resume")) print_error("%s", err);
  assert_int_equal(tu_count_lines(err), 1);
  assert_non_null(strstr(err, "interrupted by SIGTERM at step"));
  assert_non_null(strstr(err, "checkpoint.json"));
  free(err);
  assert_int_equal(tmp_files(ob + 6), 0);
  char sp[128];
  snprintf(sp, sizeof sp, "%s/summary.json", tu_path(dir, ob + 6));
  char *sum = tu_slurp(sp);
  assert_non_null(sum);
  assert_non_null(strstr(sum, "\"complete\": false"));
  assert_non_null(strstr(sum, "\"stop_reason\": \"interrupted\""));
  free(sum);
  const char *res[] = {"run", "--resume", ob + 6, NULL};
  assert_int_equal(run_cli(res), 0);
  same_outputs(oa + 6, ob + 6);
  assert_false(exists(tu_path(tu_path(dir, ob + 6), "checkpoint.json"))); /* finished: removed */
  sum = tu_slurp(sp);
  assert_non_null(strstr(sum, "\"complete\": true"));
  free(sum);
}

static void test_cli_gd(void **s) { (void)s; cli_resume("gd", "20", "20000"); }
static void test_cli_cvode(void **s) { (void)s; cli_resume("cvode", "2000", "20"); }

/* SIGINT: 130; two signals in a row: still no temporary file. */
static void test_cli_sigint_twice(void **s) {
  (void)s;
  const char *a[] = {"run", "--method=gd", "--t_end=100", "--eta=1e-4", "--checkpoint_every=5000", "--plot=false",
                     "--quiet", "--out=twice", NULL};
  int rc = interrupt_after_checkpoint(a, "twice", SIGINT, 1);
  assert_int_equal(rc, 130);
  assert_int_equal(tmp_files("twice"), 0);
}

/* --blas_threads on resume: allowed, with a one-line note when it is not the run's (the
 * last bits of large products may change). */
static void test_cli_resume_threads(void **s) {
  (void)s;
  const char *a[] = {"run", "--method=gd", "--t_end=100", "--eta=1e-4", "--checkpoint_every=5000", "--plot=false",
                     "--quiet", "--out=thr", NULL};
  assert_int_equal(interrupt_after_checkpoint(a, "thr", SIGTERM, 0), 143);
  const char *res[] = {"run", "--resume", "thr", "--blas_threads=2", "--quiet", NULL};
  assert_int_equal(run_cli(res), 0);
  char *err = tu_slurp(tu_path(dir, "stderr.txt"));
  assert_non_null(err);
  if (!strstr(err, "note: --blas_threads=2 where the run used 1")) print_error("%s", err);
  assert_non_null(strstr(err, "note: --blas_threads=2 where the run used 1"));
  assert_int_equal(tu_count_lines(err), 1);
  free(err);
}

/* A data file changed since the checkpoint: refused (65), nothing resumed. */
static void test_cli_changed_input(void **s) {
  (void)s;
  const char *mk[] = {"run", "--method=gd", "--t_end=0.01", "--eta=1e-3", "--plot=false", "--quiet", "--out=data", NULL};
  assert_int_equal(run_cli(mk), 0);
  const char *a[] = {"run", "--target_file=data/target.npy", "--method=gd", "--t_end=100", "--eta=1e-4",
                     "--checkpoint_every=5000", "--plot=false", "--quiet", "--out=chg", NULL};
  assert_int_equal(interrupt_after_checkpoint(a, "chg", SIGTERM, 0), 143);
  const char *mk2[] = {"run", "--seed=2", "--method=gd", "--t_end=0.01", "--eta=1e-3", "--plot=false", "--quiet",
                       "--out=data", "--force", NULL};
  assert_int_equal(run_cli(mk2), 0);
  const char *res[] = {"run", "--resume", "chg", NULL};
  assert_int_equal(run_cli(res), 65);
  char *err = tu_slurp(tu_path(dir, "stderr.txt"));
  assert_non_null(strstr(err, "input file changed"));
  assert_int_equal(tu_count_lines(err), 1);
  free(err);
}

/* Files of the checkpoint slot checkpoint.json does not name ("slot" 0: the b files), as
 * a process killed while writing the next checkpoint leaves them: garbage, and a
 * temporary file of the next header. */
static void fake_cut_checkpoint(const char *d) {
  char p[256];
  snprintf(p, sizeof p, "%s/checkpoint.json", tu_path(dir, d));
  char *h = tu_slurp(p);
  assert_non_null(h);
  int slot1 = strstr(h, "\"slot\": 1") != NULL;
  free(h);
  const char *files[] = {slot1 ? "checkpoint.state.npy" : "checkpoint.b.state.npy",
                         slot1 ? "checkpoint.traj.npy" : "checkpoint.b.traj.npy", "checkpoint.json.tmp.Ab12Cd"};
  for (int i = 0; i < 3; ++i) {
    snprintf(p, sizeof p, "%s/%s", tu_path(dir, d), files[i]);
    tu_write_text(p, "not an array: a write cut short\n");
  }
}

/* SIGKILL: no handler runs, so the folder holds what the last commits left. A run killed
 * after its first checkpoint, at three moments of the checkpoint cycle (checkpoints every
 * 1000 steps, ≈ 1 per 10 ms of fsyncs), then one whose unused slot holds garbage: each
 * resumes (exit 0) to the uninterrupted run's bytes, with no temporary file left. Before
 * the two slots, a kill between the arrays' and the header's commit left arrays that did
 * not match the header: "the checkpoint is broken", exit 65. */
static void test_cli_sigkill(void **s) {
  (void)s;
  const char *full[] = {"run", "--method=gd", "--t_end=20", "--eta=1e-4", "--checkpoint_every=1000", "--samples=401",
                        "--plot=false", "--quiet", "--out=kfull", NULL};
  assert_int_equal(run_cli(full), 0);
  static const long delay_ms[] = {3, 17, 41};
  for (int i = 0; i < 4; ++i) {
    char o[64], d[32], ck[256];
    snprintf(d, sizeof d, "kill%d", i);
    snprintf(o, sizeof o, "--out=%s", d);
    const char *a[] = {"run", "--method=gd", "--t_end=20", "--eta=1e-4", "--checkpoint_every=1000", "--samples=401",
                       "--plot=false", "--quiet", o, NULL};
    if (i < 3) {
      snprintf(ck, sizeof ck, "%s/checkpoint.json", tu_path(dir, d));
      pid_t pid = tu_spawn(DLN_CLI, a, dir);
      for (int w = 0; w < 1000 && !exists(ck); ++w) sleep_ms(1);
      assert_true(exists(ck));
      sleep_ms(delay_ms[i]);
      assert_int_equal(kill(pid, SIGKILL), 0);
      tu_wait(pid);
    } else {
      assert_int_equal(interrupt_after_checkpoint(a, d, SIGTERM, 0), 143);
      fake_cut_checkpoint(d);
    }
    const char *res[] = {"run", "--resume", d, NULL};
    int rc = run_cli(res);
    if (rc) print_error("resume of %s: %s", d, tu_slurp(tu_path(dir, "stderr.txt")));
    assert_int_equal(rc, 0);
    same_outputs("kfull", d);
    assert_int_equal(tmp_files(d), 0);
  }
}

/* Gauss–Legendre with checkpoints on a regression run that converges by t ≈ 2 (then steps
 * of 10–30 time units): every loss sample after t = 5 is at round-off (≤ 1e-15; the Hermite
 * dense output gave up to 3.7e-6 from t ≈ 17 on, and `dln check` called the folder
 * INCONSISTENT). */
static void test_cli_gauss_restart_dense(void **s) {
  (void)s;
  const char *a[] = {"run", "--task=regression", "--rows=3", "--cols=5", "--widths=5,7,3", "--n_samples=20",
                     "--method=gauss", "--t_end=50", "--init=gaussian", "--sigma=0.3", "--seed=3", "--samples=400",
                     "--checkpoint_every=20", "--observe=loss", "--plot=false", "--quiet", "--out=gck", NULL};
  assert_int_equal(run_cli(a), 0);
  char p[256];
  snprintf(p, sizeof p, "%s/trajectory.csv", tu_path(dir, "gck"));
  char *csv = tu_slurp(p);
  assert_non_null(csv);
  double worst = 0;
  int rows = 0;
  for (char *ln = strchr(csv, '\n'); ln && ln[1]; ln = strchr(ln + 1, '\n')) {
    double t, step, loss;
    if (sscanf(ln + 1, "%lf,%lf,%lf", &t, &step, &loss) != 3) continue;
    if (t >= 5) worst = fmax(worst, loss), ++rows;
  }
  free(csv);
  assert_true(rows > 300);
  if (!(worst <= 1e-15)) print_error("largest loss sample after t = 5: %g\n", worst);
  assert_true(worst <= 1e-15);
}

int main(void) {
  snprintf(dir, sizeof dir, "%s", tu_tmpdir(0));
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_resume_gd),    cmocka_unit_test(test_resume_disturbed),    cmocka_unit_test(test_resume_flow),      cmocka_unit_test(test_resume_cvode),
      cmocka_unit_test(test_resume_gauss), cmocka_unit_test(test_resume_rkc),       cmocka_unit_test(test_resume_auto), cmocka_unit_test(test_resume_dop853),
      cmocka_unit_test(test_cli_gd),       cmocka_unit_test(test_cli_cvode),        cmocka_unit_test(test_cli_sigint_twice),
      cmocka_unit_test(test_cli_changed_input), cmocka_unit_test(test_cli_sigkill),
      cmocka_unit_test(test_cli_gauss_restart_dense), cmocka_unit_test(test_checkpoint_cut),
      cmocka_unit_test(test_cli_resume_threads),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  if (!rc) tu_rmtree(dir);
  return rc;
}
