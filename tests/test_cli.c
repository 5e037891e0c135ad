/* Tests of the dln command (tools/dln.c) run as a program: exit codes, one-line
 * errors, outputs of a run, determinism, cancellation and the default job. */
#include <errno.h>
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

#include "testutil.h"

static char dir[64];
static int have_matplotlib = -1;

static const char *tpath(const char *name) {
  static char buf[8][512];
  static int k;
  k = (k + 1) % 8;
  snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
  return buf[k];
}

static char *slurp(const char *path) {
  FILE *fp = fopen(path, "rb");
  if (!fp) return NULL;
  fseek(fp, 0, SEEK_END);
  long n = ftell(fp);
  fseek(fp, 0, SEEK_SET);
  char *b = malloc((size_t)n + 1);
  if (b) {
    size_t got = fread(b, 1, (size_t)n, fp);
    b[got] = '\0';
  }
  fclose(fp);
  return b;
}

static void write_text(const char *path, const char *text) {
  FILE *fp = fopen(path, "w");
  assert_non_null(fp);
  fputs(text, fp);
  assert_int_equal(fclose(fp), 0);
}

static int exists(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0;
}

/* Start dln with args (NULL-terminated, without argv[0]); stdout/stderr to files in dir. */
static pid_t spawn_cli(const char *const *args) {
  const char *argv[64];
  int n = 0;
  argv[n++] = DLN_CLI;
  for (; *args && n < 63; ++args) argv[n++] = *args;
  argv[n] = NULL;
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    if (chdir(dir) != 0) _exit(127);
    int o = open("stdout.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int e = open("stderr.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (o < 0 || e < 0) _exit(127);
    dup2(o, 1);
    dup2(e, 2);
    execv(DLN_CLI, (char *const *)argv);
    _exit(127);
  }
  return pid;
}

static int wait_cli(pid_t pid) {
  int status;
  while (waitpid(pid, &status, 0) < 0) assert_int_equal(errno, EINTR);
  assert_true(WIFEXITED(status));
  return WEXITSTATUS(status);
}

static int run_cli(const char *const *args) { return wait_cli(spawn_cli(args)); }

static int count_lines(const char *text) {
  int n = 0;
  for (; *text; ++text) n += *text == '\n';
  return n;
}

/* Exit code `code` and exactly one line on stderr containing `fragment`. */
#define EXPECT_ERROR(code, fragment, ...)                                                \
  do {                                                                                   \
    const char *a_[] = {__VA_ARGS__, NULL};                                              \
    int rc_ = run_cli(a_);                                                               \
    char *err_ = slurp(tpath("stderr.txt"));                                             \
    assert_non_null(err_);                                                               \
    if (rc_ != (code) || count_lines(err_) != 1 || !strstr(err_, (fragment)))            \
      print_error("exit %d (expected %d), stderr:\n%s(expected one line with \"%s\")\n", \
                  rc_, (code), err_, (fragment));                                        \
    assert_int_equal(rc_, (code));                                                       \
    assert_int_equal(count_lines(err_), 1);                                              \
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
  write_text(tpath("small.json"), small_spec);
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
  char *out = slurp(tpath("stdout.txt"));
  assert_non_null(out);
  assert_true(strncmp(out, "dln ", 4) == 0);
  free(out);
  const char *h[] = {"run", "--help", NULL};
  assert_int_equal(run_cli(h), 0);
  out = slurp(tpath("stdout.txt"));
  assert_non_null(strstr(out, "--eta=X"));
  assert_non_null(strstr(out, "[default: 0.001]"));
  assert_non_null(strstr(out, "--method=NAME"));
  assert_non_null(strstr(out, "{gd|flow}"));
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
  write_text(tpath("unknown.json"), "{\n  \"task\": \"factorization\",\n  \"etaa\": 0.1\n}\n");
  EXPECT_ERROR(65, "unknown.json:3:3: unknown key \"etaa\"", "run", "unknown.json");
  write_text(tpath("negeta.json"), "{\n  \"method\": \"gd\",\n  \"eta\": -1\n}\n");
  EXPECT_ERROR(65, "negeta.json:3:3: field \"eta\": expected a positive finite number, found -1", "run", "negeta.json",
               "--out", "o-negeta");
  EXPECT_ERROR(65, "option --eta: expected a positive finite number, found 0", "run", "small.json", "--method=gd",
               "--eta=0", "--out=o-eta0");
  write_text(tpath("syntax.json"), "{\n  \"depth\": 2,,\n}\n");
  EXPECT_ERROR(65, "syntax.json:2:", "run", "syntax.json");
  /* malformed .npy target: a data error */
  write_text(tpath("bad.npy"), "this is not an npy file at all");
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
  char *sum = slurp(tpath("o-ok/summary.json"));
  assert_non_null(sum);
  assert_non_null(strstr(sum, "\"stop_reason\": \"time\""));
  assert_non_null(strstr(sum, "\"dln_version\""));
  assert_non_null(strstr(sum, "\"threads\": 1"));
  assert_non_null(strstr(sum, "\"grad_evals\""));
  free(sum);
  char *csv = slurp(tpath("o-ok/trajectory.csv"));
  assert_non_null(csv);
  assert_true(strncmp(csv, "t,step,loss", 11) == 0);
  assert_int_equal(count_lines(csv), 22); /* header + 21 samples */
  free(csv);
  /* reference data for other tests */
  const char *r[] = {"run", "small.json", "--out=o-ref", "--quiet", NULL};
  assert_int_equal(run_cli(r), 0);
}

static void expect_same_file(const char *a, const char *b) {
  char *x = slurp(tpath(a)), *y = slurp(tpath(b));
  assert_non_null(x);
  assert_non_null(y);
  if (strcmp(x, y) != 0) print_error("%s and %s differ\n", a, b);
  assert_string_equal(x, y);
  free(x);
  free(y);
}

static int same_bytes(const char *a, const char *b) {
  FILE *f = fopen(tpath(a), "rb"), *g = fopen(tpath(b), "rb");
  int same = f && g;
  while (same) {
    int c = fgetc(f), d = fgetc(g);
    if (c != d) same = 0;
    if (c == EOF || d == EOF) break;
  }
  if (f) fclose(f);
  if (g) fclose(g);
  return same;
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

static void test_diverged(void **state) {
  (void)state;
  EXPECT_ERROR(3, "diverged", "run", "small.json", "--method=gd", "--eta=5", "--t_end=1000", "--sigma=1",
               "--out=o-div");
  char *sum = slurp(tpath("o-div/summary.json"));
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
  /* a stale summary from an earlier complete run must disappear too */
  const char *pre[] = {"run", "small.json", "--out=o-cancel", "--quiet", NULL};
  assert_int_equal(run_cli(pre), 0);
  assert_true(exists(tpath("o-cancel/summary.json")));
  const char *a[] = {"run", "small.json", "--method=gd", "--eta=1e-7", "--t_end=100", "--out=o-cancel", NULL};
  pid_t pid = spawn_cli(a);
  struct timespec ts = {0, 600 * 1000 * 1000};
  nanosleep(&ts, NULL);
  assert_int_equal(kill(pid, SIGINT), 0);
  int rc = wait_cli(pid);
  assert_int_equal(rc, 130);
  assert_false(exists(tpath("o-cancel/summary.json")));
  char *err = slurp(tpath("stderr.txt"));
  assert_non_null(strstr(err, "cancelled"));
  free(err);
}

static void test_default_job(void **state) {
  (void)state;
  const char *a[] = {"run", "--out", "o-fig1", "--plot=false", NULL};
  time_t t0 = time(NULL);
  assert_int_equal(run_cli(a), 0);
  assert_true(time(NULL) - t0 < 60);
  char *out = slurp(tpath("stdout.txt"));
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
  out = slurp(tpath("stdout.txt"));
  assert_string_equal(out, "");
  free(out);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_version_help),    cmocka_unit_test(test_usage_errors), cmocka_unit_test(test_success_outputs),
      cmocka_unit_test(test_data_errors),     cmocka_unit_test(test_input_output_errors),
      cmocka_unit_test(test_determinism),     cmocka_unit_test(test_diverged),     cmocka_unit_test(test_cancel),
      cmocka_unit_test(test_default_job),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
