/* Tests of the dln command (tools/dln.c) run as a program: exit codes, one-line
 * errors, outputs of a run, determinism, cancellation and the default job. */
#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "dln/error.h"
#include "dln/io.h"
#include "dln/mat.h"
#include "testutil.h"

static char dir[64];
static int have_matplotlib = -1;

static const char *tpath(const char *name) { return tu_path(dir, name); }

static int exists(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0;
}

/* Start dln with args (NULL-terminated, without argv[0]); stdout/stderr to files in dir. */
static pid_t spawn_cli(const char *const *args) { return tu_spawn(DLN_CLI, args, dir); }

/* dln's exit status; asserts that it exited normally. */
static int wait_cli(pid_t pid) {
  int rc = tu_wait(pid);
  assert_true(rc >= 0);
  return rc;
}

static int run_cli(const char *const *args) { return wait_cli(spawn_cli(args)); }

/* Exit code `code` and exactly one line on stderr containing `fragment`. */
#define EXPECT_ERROR(code, fragment, ...)                                                \
  do {                                                                                   \
    const char *a_[] = {__VA_ARGS__, NULL};                                              \
    int rc_ = run_cli(a_);                                                               \
    char *err_ = tu_slurp(tpath("stderr.txt"));                                          \
    assert_non_null(err_);                                                               \
    if (rc_ != (code) || tu_count_lines(err_) != 1 || !strstr(err_, (fragment)))         \
      print_error("exit %d (expected %d), stderr:\n%s(expected one line with \"%s\")\n", \
                  rc_, (code), err_, (fragment));                                        \
    assert_int_equal(rc_, (code));                                                       \
    assert_int_equal(tu_count_lines(err_), 1);                                           \
    assert_non_null(strstr(err_, (fragment)));                                           \
    assert_true(strncmp(err_, "dln: ", 5) == 0);                                         \
    free(err_);                                                                          \
  } while (0)

static const char *small_spec =
    "{\n"
    "  \"task\": \"factorization\",\n"
    "  \"rows\": 3, \"cols\": 4, \"width\": 6,\n"
    "  \"method\": \"flow\", \"t_end\": 2,\n"
    "  \"samples\": 21,\n"
    "  \"plot\": false\n"
    "}\n";

static int setup(void **state) {
  (void)state;
  snprintf(dir, sizeof dir, "/tmp/dln-cli-XXXXXX");
  if (!mkdtemp(dir)) return -1;
  tu_write_text(tpath("small.json"), small_spec);
  if (have_matplotlib < 0) {
    have_matplotlib = 0;
    if (access("/usr/bin/python3", X_OK) == 0) {
      pid_t pid = fork();
      if (pid == 0) {
        int nul = open("/dev/null", O_WRONLY);
        dup2(nul, 1);
        dup2(nul, 2);
        execl("/usr/bin/python3", "python3", "-c", "import matplotlib", (char *)NULL);
        _exit(127);
      }
      int status;
      if (pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0)
        have_matplotlib = 1;
    }
  }
  return 0;
}

static int teardown(void **state) {
  (void)state;
  tu_rmtree(dir);
  return 0;
}

static void test_version_help(void **state) {
  (void)state;
  const char *v[] = {"--version", NULL};
  assert_int_equal(run_cli(v), 0);
  char *out = tu_slurp(tpath("stdout.txt"));
  assert_non_null(out);
  assert_true(strncmp(out, "dln ", 4) == 0);
  free(out);
  const char *h[] = {"run", "--help", NULL};
  assert_int_equal(run_cli(h), 0);
  out = tu_slurp(tpath("stdout.txt"));
  assert_non_null(strstr(out, "--eta=X"));
  assert_non_null(strstr(out, "[default: 0.001]"));
  assert_non_null(strstr(out, "--method=NAME"));
  assert_non_null(strstr(out, "{auto|gd|flow|cvode|gauss|rkc|dop853|e2e_gd|e2e_flow|e2e_dop853}"));
  assert_non_null(strstr(out, "--gauss_stages=INT"));
  assert_non_null(strstr(out, "--e2e_balance_tol=X"));
  assert_non_null(strstr(out, "3    the run diverged"));
  free(out);
  const char *g[] = {"--help", NULL};
  assert_int_equal(run_cli(g), 0);
}

static void test_usage_errors(void **state) {
  (void)state;
  EXPECT_ERROR(64, "unknown option '--bogus'", "run", "small.json", "--bogus=1");
  EXPECT_ERROR(64, "option --eta: expected a value", "run", "small.json", "--eta");
  EXPECT_ERROR(64, "option --eta: expected a number, found 'fast'", "run", "small.json", "--eta", "fast");
  EXPECT_ERROR(64, "unknown command 'frobnicate'", "frobnicate");
  EXPECT_ERROR(64, "expected at most one spec file", "run", "a.json", "b.json");
}

static void test_data_errors(void **state) {
  (void)state;
  tu_write_text(tpath("unknown.json"), "{\n  \"task\": \"factorization\",\n  \"etaa\": 0.1\n}\n");
  EXPECT_ERROR(65, "unknown.json:3:3: unknown key \"etaa\"", "run", "unknown.json");
  tu_write_text(tpath("negeta.json"), "{\n  \"method\": \"gd\",\n  \"eta\": -1\n}\n");
  EXPECT_ERROR(65, "negeta.json:3:3: field \"eta\": expected a positive finite number, found -1", "run", "negeta.json",
               "--out", "o-negeta");
  EXPECT_ERROR(65, "option --eta: expected a positive finite number, found 0", "run", "small.json", "--method=gd",
               "--eta=0", "--out=o-eta0");
  tu_write_text(tpath("syntax.json"), "{\n  \"depth\": 2,,\n}\n");
  EXPECT_ERROR(65, "syntax.json:2:", "run", "syntax.json");
  /* malformed .npy target: a data error */
  tu_write_text(tpath("bad.npy"), "this is not an npy file at all");
  EXPECT_ERROR(65, "bad.npy", "run", "small.json", "--target_file=bad.npy", "--out=o-badnpy");
  /* widths inconsistent with a target file's shape */
  EXPECT_ERROR(65, "option --widths: expected d_0 = 4 and d_N = 3", "run", "small.json", "--widths=5,6,3", "--target_file=o-ref/target.npy",
               "--out=o-w");
}

static void test_input_output_errors(void **state) {
  (void)state;
  EXPECT_ERROR(66, "missing.json: cannot open", "run", "missing.json");
  EXPECT_ERROR(66, "missing.npy: cannot open", "run", "small.json", "--target_file=missing.npy", "--out=o-missing");
  EXPECT_ERROR(73, "/proc/dln-x", "run", "small.json", "--out=/proc/dln-x");
  assert_false(exists("/proc/dln-x/summary.json"));
}

static void test_success_outputs(void **state) {
  (void)state;
  const char *a[] = {"run", "small.json", "--out=o-ok", "--plot=true", NULL};
  assert_int_equal(run_cli(a), 0);
  assert_true(exists(tpath("o-ok/summary.json")));
  assert_true(exists(tpath("o-ok/trajectory.csv")));
  assert_true(exists(tpath("o-ok/W1_final.npy")));
  assert_true(exists(tpath("o-ok/W2_final.npy")));
  assert_true(exists(tpath("o-ok/W1_init.npy")));
  assert_true(exists(tpath("o-ok/target.npy")));
  assert_true(exists(tpath("o-ok/plot.py")));
  assert_int_equal(exists(tpath("o-ok/figure.png")), have_matplotlib);
  char *sum = tu_slurp(tpath("o-ok/summary.json"));
  assert_non_null(sum);
  assert_non_null(strstr(sum, "\"stop_reason\": \"time\""));
  assert_non_null(strstr(sum, "\"dln_version\""));
  assert_non_null(strstr(sum, "\"threads\": 1"));
  assert_non_null(strstr(sum, "\"grad_evals\""));
  assert_non_null(strstr(sum, "\"integrator\": \"arkode-erk\""));
  assert_non_null(strstr(sum, "\"jtv_evals\": 0"));
  assert_non_null(strstr(sum, "\"switched_at\": null"));
  free(sum);
  char *csv = tu_slurp(tpath("o-ok/trajectory.csv"));
  assert_non_null(csv);
  assert_true(strncmp(csv, "t,step,loss", 11) == 0);
  assert_int_equal(tu_count_lines(csv), 22); /* header + 21 samples */
  free(csv);
  /* reference data for other tests */
  const char *r[] = {"run", "small.json", "--out=o-ref", "--quiet", NULL};
  assert_int_equal(run_cli(r), 0);
}

static void expect_same_file(const char *a, const char *b) {
  char *x = tu_slurp(tpath(a)), *y = tu_slurp(tpath(b));
  assert_non_null(x);
  assert_non_null(y);
  if (strcmp(x, y) != 0) print_error("%s and %s differ\n", a, b);
  assert_string_equal(x, y);
  free(x);
  free(y);
}

static int same_bytes(const char *a, const char *b) {
  char pa[1024];
  snprintf(pa, sizeof pa, "%s", tpath(a));
  return tu_same_bytes(pa, tpath(b));
}

static void test_determinism(void **state) {
  (void)state;
  const char *f1[] = {"run", "small.json", "--out=o-d1", "--quiet", NULL};
  const char *f2[] = {"run", "small.json", "--out=o-d2", "--quiet", NULL};
  assert_int_equal(run_cli(f1), 0);
  assert_int_equal(run_cli(f2), 0);
  expect_same_file("o-d1/trajectory.csv", "o-d2/trajectory.csv");
  assert_true(same_bytes("o-d1/W1_final.npy", "o-d2/W1_final.npy"));
  assert_true(same_bytes("o-d1/W2_final.npy", "o-d2/W2_final.npy"));
  const char *g1[] = {"run", "small.json", "--method=gd", "--eta=0.01", "--out=o-g1", "--quiet", NULL};
  const char *g2[] = {"run", "small.json", "--method=gd", "--eta=0.01", "--out=o-g2", "--quiet", NULL};
  assert_int_equal(run_cli(g1), 0);
  assert_int_equal(run_cli(g2), 0);
  expect_same_file("o-g1/trajectory.csv", "o-g2/trajectory.csv");
  assert_true(same_bytes("o-g1/W1_final.npy", "o-g2/W1_final.npy"));
  assert_true(same_bytes("o-g1/W2_final.npy", "o-g2/W2_final.npy"));
  /* a different seed gives a different trajectory */
  const char *g3[] = {"run", "small.json", "--method=gd", "--eta=0.01", "--seed=2", "--out=o-g3", "--quiet", NULL};
  assert_int_equal(run_cli(g3), 0);
  assert_false(same_bytes("o-g1/W1_final.npy", "o-g3/W1_final.npy"));
}

/* The integer after "key": in a summary, -1 if absent. */
static long json_long(const char *sum, const char *key) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\": ", key);
  const char *p = strstr(sum, pat);
  return p ? strtol(p + strlen(pat), NULL, 10) : -1;
}

/* The stiff and implicit integrators through the spec: cvode, gauss (2 stages), and
 * auto on the stiff tail of the sigma = 1 two-layer case of 001 Fig. 1. */
static void test_methods(void **state) {
  (void)state;
  const char *c[] = {"run", "small.json", "--method=cvode", "--out=o-cvode", "--quiet", NULL};
  assert_int_equal(run_cli(c), 0);
  char *sum = tu_slurp(tpath("o-cvode/summary.json"));
  assert_non_null(sum);
  assert_non_null(strstr(sum, "\"method\": \"cvode\""));
  assert_non_null(strstr(sum, "\"integrator\": \"cvode-bdf\""));
  assert_non_null(strstr(sum, "\"stop_reason\": \"time\""));
  assert_true(json_long(sum, "jtv_evals") > 0); /* exact Hessian-vector Jacobian */
  assert_true(json_long(sum, "lin_iters") > 0);
  assert_true(json_long(sum, "nonlin_iters") > 0);
  free(sum);

  const char *g[] = {"run", "small.json", "--method=gauss", "--gauss_stages=2", "--out=o-gauss", "--quiet", NULL};
  assert_int_equal(run_cli(g), 0);
  sum = tu_slurp(tpath("o-gauss/summary.json"));
  assert_non_null(sum);
  assert_non_null(strstr(sum, "\"integrator\": \"gauss-legendre-2\""));
  assert_non_null(strstr(sum, "\"gauss_stages\": 2"));
  assert_true(json_long(sum, "steps") > 0);
  free(sum);
  /* the run's final loss agrees with the ERK run of the same spec (o-ref, default tolerances) */
  dln_mat *a = NULL, *b = NULL;
  assert_int_equal(dln_npy_read(tpath("o-gauss/W1_final.npy"), &a), DLN_OK);
  assert_int_equal(dln_npy_read(tpath("o-ref/W1_final.npy"), &b), DLN_OK);
  for (size_t i = 0; i < (size_t)a->rows * (size_t)a->cols; ++i) assert_close(a->data[i], b->data[i], 1e-5, 1e-6);
  dln_mat_free(a);
  dln_mat_free(b);

  /* σ = 1 is stiff; with auto_rkc_max = 1 AUTO takes CVODE rather than Chebyshev */
  tu_write_text(tpath("stiff.json"),
             "{\"task\": \"factorization\", \"rows\": 5, \"cols\": 10, \"width\": 50, \"sigma\": 1,\n"
             " \"t_end\": 5, \"samples\": 11, \"plot\": false, \"method\": \"auto\", \"auto_min_steps\": 50,\n"
             " \"auto_rkc_max\": 1}\n");
  const char *au[] = {"run", "stiff.json", "--out=o-auto", "--quiet", NULL};
  assert_int_equal(run_cli(au), 0);
  sum = tu_slurp(tpath("o-auto/summary.json"));
  assert_non_null(sum);
  /* rtol 1e-8 ≤ auto_dop853_rtol: the RK phase is DOP853 */
  if (!strstr(sum, "\"integrator\": \"dln-dop853->cvode-bdf\"")) print_error("%s\n", sum);
  assert_non_null(strstr(sum, "\"integrator\": \"dln-dop853->cvode-bdf\""));
  const char *sw = strstr(sum, "\"switched_at\": ");
  assert_non_null(sw);
  double ts = strtod(sw + 15, NULL);
  assert_true(ts > 0 && ts < 5);
  assert_true(json_long(sum, "jtv_evals") > 0); /* stiffness probes */
  free(sum);

  /* bad values of the new options: one line naming the option */
  EXPECT_ERROR(65, "option --gauss_stages: expected 1 or 2 stages, found 3", "run", "small.json", "--method=gauss",
               "--gauss_stages=3", "--out=o-bad");
  EXPECT_ERROR(64, "option --method: expected one of auto|gd|flow|cvode|gauss|rkc|dop853|e2e_gd|e2e_flow|e2e_dop853, found 'rk4'", "run",
               "small.json", "--method=rk4");
}

/* End-to-end dynamics: from a balanced init, W(t) of e2e_flow is the product W2 W1 of
 * the layer-wise flow (002 Theorem 1); an unbalanced init is refused. */
static void test_e2e(void **state) {
  (void)state;
  const char *e[] = {"run", "small.json", "--method=e2e_flow", "--init=balanced", "--sigma=0.5", "--rtol=1e-10",
                     "--atol=1e-12", "--out=o-e2e", "--quiet", NULL};
  const char *l[] = {"run", "small.json", "--method=flow", "--init=balanced", "--sigma=0.5", "--rtol=1e-10",
                     "--atol=1e-12", "--out=o-e2e-lw", "--quiet", NULL};
  assert_int_equal(run_cli(e), 0);
  assert_int_equal(run_cli(l), 0);
  assert_true(exists(tpath("o-e2e/W_init.npy")));
  assert_true(exists(tpath("o-e2e/W1_init.npy")));
  assert_false(exists(tpath("o-e2e/W1_final.npy")));
  char *csv = tu_slurp(tpath("o-e2e/trajectory.csv"));
  assert_non_null(csv);
  assert_true(strncmp(csv, "t,step,loss,sv_1,sv_2,sv_3,dist_true,dist_true_rel\n", 51) == 0);
  assert_int_equal(tu_count_lines(csv), 22);
  free(csv);
  char *sum = tu_slurp(tpath("o-e2e/summary.json"));
  assert_non_null(sum);
  assert_non_null(strstr(sum, "\"dynamics\": \"end-to-end\""));
  assert_non_null(strstr(sum, "\"integrator\": \"e2e-arkode-erk\""));
  assert_non_null(strstr(sum, "\"stop_reason\": \"time\""));
  free(sum);

  dln_mat *W = NULL, *W1 = NULL, *W2 = NULL;
  assert_int_equal(dln_npy_read(tpath("o-e2e/W_final.npy"), &W), DLN_OK);
  assert_int_equal(dln_npy_read(tpath("o-e2e-lw/W1_final.npy"), &W1), DLN_OK);
  assert_int_equal(dln_npy_read(tpath("o-e2e-lw/W2_final.npy"), &W2), DLN_OK);
  assert_int_equal(W->rows, W2->rows);
  assert_int_equal(W->cols, W1->cols);
  assert_int_equal(W2->cols, W1->rows);
  double err = 0, nrm = 0;
  for (int i = 0; i < W->rows; ++i)
    for (int j = 0; j < W->cols; ++j) {
      double p = 0; /* (W2 W1)_ij */
      for (int k = 0; k < W1->rows; ++k) p += W2->data[i + (size_t)k * W2->rows] * W1->data[k + (size_t)j * W1->rows];
      double d = fabs(W->data[i + (size_t)j * W->rows] - p);
      if (!(d <= err)) err = d;
      if (fabs(p) > nrm) nrm = fabs(p);
    }
  if (!(err <= 1e-8)) print_error("max |W_e2e - W2 W1| = %g (max |W| = %g)\n", err, nrm);
  assert_true(err <= 1e-8);
  assert_true(nrm > 0.1);
  dln_mat_free(W);
  dln_mat_free(W1);
  dln_mat_free(W2);

  const char *g[] = {"run", "small.json", "--method=e2e_gd", "--init=balanced", "--eta=0.01", "--out=o-e2e-gd", "--quiet", NULL};
  assert_int_equal(run_cli(g), 0);
  sum = tu_slurp(tpath("o-e2e-gd/summary.json"));
  assert_non_null(sum);
  assert_non_null(strstr(sum, "\"integrator\": \"e2e-gd\""));
  assert_int_equal(json_long(sum, "steps"), 200);
  free(sum);

  /* a Gaussian init is not balanced: refused before any output, with the measured value */
  EXPECT_ERROR(65, "unbalanced", "run", "small.json", "--method=e2e_flow", "--out=o-e2e-unb");
  char *msg = tu_slurp(tpath("stderr.txt"));
  assert_non_null(strstr(msg, "unbalancedness max_j ||C_j||_F = "));
  assert_non_null(strstr(msg, "option --method"));
  free(msg);
  assert_false(exists(tpath("o-e2e-unb/summary.json")));
  EXPECT_ERROR(65, "option --method: expected a layer-wise method with tied = true", "run", "small.json", "--tied=true",
               "--rows=4", "--method=e2e_gd", "--out=o-e2e-tied");
}

/* Split a CSV line (no quoting) in place into at most max fields; returns the count. */
static int split_csv(char *line, char **f, int max) {
  int n = 0;
  for (char *p = line; n < max;) {
    f[n++] = p;
    char *c = strchr(p, ',');
    if (!c) break;
    *c = '\0';
    p = c + 1;
  }
  return n;
}

/* `dln sweep` over the new methods: every run goes through the shared builder, and the
 * rows of the e2e_flow run are what `dln run` of its rerun line writes, bit for bit. */
static void test_sweep_methods(void **state) {
  (void)state;
  tu_write_text(tpath("sweep.json"),
             "{\"task\": \"factorization\", \"rows\": 3, \"cols\": 4, \"width\": 6, \"t_end\": 1, \"samples\": 6,\n"
             " \"init\": \"balanced\", \"plot\": false, \"out\": \"o-sweep\",\n"
             " \"sweep\": {\"method\": [\"cvode\", \"gauss\", \"auto\", \"e2e_flow\", \"e2e_gd\"]}}\n");
  const char *a[] = {"sweep", "sweep.json", "--threads", "2", "--quiet", NULL};
  assert_int_equal(run_cli(a), 0);
  char *js = tu_slurp(tpath("o-sweep/ensemble.json"));
  assert_non_null(js);
  static const char *const integrators[] = {"cvode-bdf", "gauss-legendre-2", "e2e-arkode-erk", "e2e-gd"};
  for (size_t i = 0; i < sizeof integrators / sizeof *integrators; ++i) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"integrator\": \"%s\"", integrators[i]);
    if (!strstr(js, pat)) print_error("%s not in\n%s\n", pat, js);
    assert_non_null(strstr(js, pat));
  }
  assert_null(strstr(js, "\"status\": \"error\""));
  free(js);
  /* rerun the e2e_flow run (k = 3) alone */
  const char *r[] = {"run", "sweep.json", "--out=o-sweep/rerun/3", "--target_file=o-sweep/data/0/target.npy",
                     "--method=e2e_flow", "--seed=1", "--stream=3", "--quiet", NULL};
  assert_int_equal(run_cli(r), 0);
  char *ens = tu_slurp(tpath("o-sweep/ensemble.csv")), *tr = tu_slurp(tpath("o-sweep/rerun/3/trajectory.csv"));
  assert_non_null(ens);
  assert_non_null(tr);
  char *se, *st, *eh = strtok_r(ens, "\n", &se), *th = strtok_r(tr, "\n", &st);
  char *ef[64], *tf[16];
  int ne = split_csv(eh, ef, 64), nt = split_csv(th, tf, 16), map[16];
  assert_int_equal(nt, 8); /* t, step, loss, sv_1..sv_3, dist_true, dist_true_rel */
  for (int j = 0; j < nt; ++j) {
    map[j] = -1;
    for (int c = 0; c < ne; ++c)
      if (strcmp(tf[j], ef[c]) == 0) map[j] = c;
    assert_true(map[j] >= 0);
  }
  int rows = 0;
  for (char *el = strtok_r(NULL, "\n", &se); el; el = strtok_r(NULL, "\n", &se)) {
    if (strncmp(el, "3,", 2) != 0) continue;
    char *tl = strtok_r(NULL, "\n", &st);
    assert_non_null(tl);
    char *ev[64], *tv[16];
    assert_int_equal(split_csv(el, ev, 64), ne);
    assert_int_equal(split_csv(tl, tv, 16), nt);
    for (int j = 0; j < nt; ++j) assert_string_equal(ev[map[j]], tv[j]);
    ++rows;
  }
  assert_int_equal(rows, 6);
  assert_null(strtok_r(NULL, "\n", &st));
  free(ens);
  free(tr);
}

static void test_diverged(void **state) {
  (void)state;
  EXPECT_ERROR(3, "diverged", "run", "small.json", "--method=gd", "--eta=5", "--t_end=1000", "--sigma=1",
               "--out=o-div");
  char *sum = tu_slurp(tpath("o-div/summary.json"));
  assert_non_null(sum);
  assert_non_null(strstr(sum, "\"stop_reason\": \"diverged\""));
  const char *fs = strstr(sum, "\"fail_step\": ");
  assert_non_null(fs);
  long step = strtol(fs + 13, NULL, 10);
  assert_true(step >= 1);
  free(sum);
  assert_true(exists(tpath("o-div/trajectory.csv")));
  assert_true(exists(tpath("o-div/W1_final.npy")));
}

static void test_cancel(void **state) {
  (void)state;
  /* a forced rerun cancelled while it trains */
  const char *pre[] = {"run", "small.json", "--out=o-cancel", "--quiet", NULL};
  assert_int_equal(run_cli(pre), 0);
  char *sum0 = tu_slurp(tpath("o-cancel/summary.json")), *man0 = tu_slurp(tpath("o-cancel/manifest.json"));
  assert_non_null(sum0);
  assert_non_null(man0);
  const char *a[] = {"run", "small.json", "--method=gd", "--eta=1e-7", "--t_end=100", "--out=o-cancel", "--force", NULL};
  pid_t pid = spawn_cli(a);
  struct timespec ts = {0, 600 * 1000 * 1000};
  nanosleep(&ts, NULL);
  assert_int_equal(kill(pid, SIGINT), 0);
  int rc = wait_cli(pid);
  assert_int_equal(rc, 130);
  /* stopped at a step boundary: with --force, the partial outputs replace the earlier run,
   * marked incomplete in summary.json and manifest.json */
  char *sum = tu_slurp(tpath("o-cancel/summary.json")), *man = tu_slurp(tpath("o-cancel/manifest.json"));
  assert_non_null(sum);
  assert_non_null(man);
  assert_string_not_equal(sum0, sum);
  assert_non_null(strstr(sum, "\"complete\": false"));
  assert_non_null(strstr(sum, "\"stop_reason\": \"interrupted\""));
  assert_non_null(strstr(man, "\"complete\": false"));
  free(sum0), free(sum), free(man0), free(man);
  char *err = tu_slurp(tpath("stderr.txt"));
  assert_non_null(strstr(err, "interrupted by SIGINT"));
  assert_int_equal(tu_count_lines(err), 1);
  free(err);
}

static void test_default_job(void **state) {
  (void)state;
  const char *a[] = {"run", "--out", "o-fig1", "--plot=false", NULL};
  time_t t0 = time(NULL);
  assert_int_equal(run_cli(a), 0);
  assert_true(time(NULL) - t0 < 60);
  char *out = tu_slurp(tpath("stdout.txt"));
  assert_non_null(out);
  int rows = 0;
  for (const char *p = out; (p = strstr(p, "-layer ")); ++p) ++rows;
  if (rows != 6) print_error("table:\n%s", out);
  assert_int_equal(rows, 6);
  /* every run reached the reconstruction threshold */
  int loss = 0;
  for (const char *p = out; (p = strstr(p, " loss ")); ++p) ++loss;
  assert_int_equal(loss, 6);
  free(out);
  assert_true(exists(tpath("o-fig1/summary.json")));
  assert_true(exists(tpath("o-fig1/sigma1e-2_two_layer/trajectory.csv")));
  assert_true(exists(tpath("o-fig1/sigma1_one_layer/W1_final.npy")));
  /* --quiet prints no table */
  const char *q[] = {"run", "--out", "o-fig1q", "--quiet", "--plot=false", NULL};
  assert_int_equal(run_cli(q), 0);
  out = tu_slurp(tpath("stdout.txt"));
  assert_string_equal(out, "");
  free(out);
}

/* A sweep with too many runs is a bad spec (exit 65, one line), not an output folder
 * that cannot be written (it exited 73). */
static void test_cli_sweep_too_many_runs(void **state) {
  (void)state;
  char text[1024];
  snprintf(text, sizeof text,
           "{\"rows\": 2, \"cols\": 2, \"width\": 2, \"t_end\": 0.1, \"plot\": false, \"out\": \"%s/big-out\",\n"
           " \"sweep\": {\"seed\": {\"from\": 1, \"count\": 100000}, \"stream\": {\"from\": 0, \"count\": 100000}}}\n",
           dir);
  tu_write_text(tpath("big.json"), text);
  EXPECT_ERROR(65, "runs", "sweep", tpath("big.json"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_version_help),    cmocka_unit_test(test_usage_errors), cmocka_unit_test(test_success_outputs),
      cmocka_unit_test(test_data_errors),     cmocka_unit_test(test_input_output_errors),
      cmocka_unit_test(test_determinism),     cmocka_unit_test(test_diverged),     cmocka_unit_test(test_cancel),
      cmocka_unit_test(test_default_job),     cmocka_unit_test(test_methods),      cmocka_unit_test(test_e2e),
      cmocka_unit_test(test_sweep_methods),   cmocka_unit_test(test_cli_sweep_too_many_runs),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
