/* Sweep ranges and planning (issue 12): real linear and log ranges against numpy's
 * linspace / geomspace, their errors with the spec position, `dln sweep --dry-run` against
 * the rerun lines ensemble.json then records, t_first in a sweep, and the data kept fixed
 * when only the start (seed, stream, sigma) varies; --save-weights against the reruns. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dln/ensemble.h"
#include "dln/error.h"
#include "testutil.h"

/* The values of axis a as doubles (strtod of the stored text). */
static void axis_values(const dln_sweep *sw, int a, int n, double *x) {
  assert_int_equal(sw->axes[a].n, n);
  for (int i = 0; i < n; ++i) {
    const char *t = sw->axes[a].v[i].values[0], *end = NULL;
    x[i] = strtod(t, (char **)&end);
    assert_true(end && *end == '\0');
    assert_true(strlen(t) <= 24); /* at most 17 significant digits */
  }
}

/* Truth: numpy 1.x/2.x np.linspace(a, b, n) and np.geomspace(a, b, n), printed with repr()
 * (shortest text that reads back). The values must be the same doubles: tolerance 0. */
static void test_real_ranges(void **state) {
  (void)state;
  const char *text = "{\"rows\": 3, \"sweep\": {\n"
                     "  \"t_end\": {\"from\": 0.1, \"to\": 1.3, \"count\": 5},\n"
                     "  \"sigma\": {\"from\": 1e-3, \"to\": 1, \"count\": 7, \"scale\": \"log\"},\n"
                     "  \"eta\": {\"from\": 2, \"to\": 0.03, \"count\": 6, \"scale\": \"log\"},\n"
                     "  \"disturbance_scale\": {\"from\": -2.5, \"to\": 7, \"count\": 4, \"scale\": \"linear\"}}}";
  static const double lin[] = {0.1, 0.4, 0.7, 0.9999999999999999, 1.3};
  static const double lg[] = {0.001, 0.0031622776601683794, 0.01, 0.03162277660168379, 0.1, 0.31622776601683794, 1.0};
  static const double lgd[] = {2.0, 0.8634719767533109, 0.3727919273191351, 0.1609476911999651, 0.06948691053715766, 0.03};
  static const double lin2[] = {-2.5, 0.6666666666666665, 3.833333333333333, 7.0};
  dln_sweep sw;
  dln_sweep_init(&sw);
  assert_int_equal(dln_sweep_from_json_string(&sw, "s.json", text), DLN_OK);
  assert_int_equal(sw.naxes, 4);
  assert_int_equal(dln_sweep_nruns(&sw), 5 * 7 * 6 * 4);
  double x[8];
  axis_values(&sw, 0, 5, x);
  for (int i = 0; i < 5; ++i) assert_true(x[i] == lin[i]);
  axis_values(&sw, 1, 7, x);
  for (int i = 0; i < 7; ++i) assert_true(x[i] == lg[i]);
  axis_values(&sw, 2, 6, x);
  for (int i = 0; i < 6; ++i) assert_true(x[i] == lgd[i]);
  axis_values(&sw, 3, 4, x);
  for (int i = 0; i < 4; ++i) assert_true(x[i] == lin2[i]);
  assert_int_equal(sw.axes[1].line, 3); /* the position of the key is kept */
  dln_sweep_free(&sw);
  /* integer options: np.rint(np.geomspace(500, 10000, 7)), np.rint(np.linspace(1, 20, 5))
   * (round half to even: 10.5 -> 10) */
  static const char *const w[] = {"500", "824", "1357", "2236", "3684", "6070", "10000"}, *const sd[] = {"1", "6", "10", "15", "20"};
  dln_sweep_init(&sw);
  assert_int_equal(dln_sweep_from_json_string(&sw, "s.json", "{\"sweep\": {\"width\": {\"from\": 500, \"to\": 10000, \"count\": 7, \"scale\": \"log\"},"
                                                             " \"seed\": {\"from\": 1, \"to\": 20, \"count\": 5}}}"), DLN_OK);
  assert_int_equal(sw.axes[0].n, 7);
  assert_int_equal(sw.axes[1].n, 5);
  for (int i = 0; i < 7; ++i) assert_string_equal(sw.axes[0].v[i].values[0], w[i]);
  for (int i = 0; i < 5; ++i) assert_string_equal(sw.axes[1].v[i].values[0], sd[i]);
  dln_sweep_free(&sw);
}

/* A bad range: DLN_ESPEC, one line "s.json:3:3: sweep field ..." containing needle. */
static void expect_bad(const char *axis, const char *needle) {
  char text[512];
  snprintf(text, sizeof text, "{\"rows\": 3,\n \"sweep\": {\n  %s}}\n", axis);
  dln_sweep sw;
  dln_sweep_init(&sw);
  int st = dln_sweep_from_json_string(&sw, "s.json", text);
  dln_sweep_free(&sw);
  assert_int_equal(st, DLN_ESPEC);
  const char *m = dln_last_error();
  if (strncmp(m, "s.json:3:3: sweep field", 23) != 0 || !strstr(m, needle) || strchr(m, '\n'))
    fail_msg("%s: expected 's.json:3:3: sweep field ...%s', found '%s'", axis, needle, m);
}

static void test_bad_ranges(void **state) {
  (void)state;
  expect_bad("\"sigma\": {\"from\": 0.1, \"to\": 1, \"count\": 1}", "expected a count in 2..1000000");
  expect_bad("\"sigma\": {\"from\": 0.1, \"to\": 1, \"count\": 1000001}", "expected a count in 2..1000000");
  expect_bad("\"sigma\": {\"from\": 0.1, \"to\": 0.1, \"count\": 3}", "expected finite from != to");
  expect_bad("\"sigma\": {\"from\": 0, \"to\": 1, \"count\": 3, \"scale\": \"log\"}", "expected from > 0 and to > 0 for scale log");
  expect_bad("\"sigma\": {\"from\": 1, \"to\": -1, \"count\": 3, \"scale\": \"log\"}", "expected from > 0 and to > 0 for scale log");
  expect_bad("\"sigma\": {\"from\": 1, \"to\": 2, \"count\": 3, \"scale\": \"ln\"}", "\"scale\": \"linear\" or \"log\"");
  expect_bad("\"sigma\": {\"from\": 1, \"to\": 2, \"count\": 2.5}", "\"count\": integer");
  expect_bad("\"sigma\": {\"from\": 1, \"count\": 3}", "\"to\": number");
  expect_bad("\"sigma\": {\"from\": 1, \"to\": 2, \"count\": 3, \"step\": 1}", "unknown range key \"step\"");
  expect_bad("\"seed\": {\"from\": 1, \"count\": 3, \"scale\": \"log\"}", "unknown range key \"scale\"");
  expect_bad("\"width\": {\"from\": 2, \"to\": 5, \"count\": 7}", "expected distinct integers, found 2 twice");
  expect_bad("\"width\": {\"from\": 2.5, \"to\": 5, \"count\": 2}", "expected integer from and to");
}

/* DIR/<name> after `dln ARGS` in dir; asserts the exit code. */
static void cli(const char *dir, int code, const char *const *args) {
  assert_int_equal(tu_wait(tu_spawn(DLN_CLI, args, dir)), code);
}

static const char spec_text[] =
    "{\"task\": \"factorization\", \"rows\": 3, \"cols\": 4, \"widths\": [4, 5, 3], \"method\": \"flow\",\n"
    " \"t_end\": 2, \"samples\": 6, \"log_samples\": true, \"t_first\": 0.01, \"plot\": false, \"quiet\": true,\n"
    " \"sweep\": {\"sigma\": {\"from\": 0.01, \"to\": 1, \"count\": 3, \"scale\": \"log\"}, \"seed\": [1, 2],\n"
    "           \"runs\": [{\"method\": \"flow\"}, {\"method\": \"gd\", \"eta\": -1}]}}\n";

/* --dry-run prints the rerun lines ensemble.json then records (and writes nothing); a run
 * that cannot start has its error as a fourth field. The sweep itself runs with t_first
 * (issue 12: any t_first made every run fail): every run's first positive sample is t_first. */
static void test_dry_run(void **state) {
  (void)state;
  const char *d = tu_tmpdir(0);
  tu_write_text(tu_path(d, "s.json"), spec_text);
  cli(d, 0, (const char *const[]){"sweep", "s.json", "--out=o", "--dry-run", NULL});
  struct stat sb;
  assert_int_not_equal(stat(tu_path(d, "o"), &sb), 0); /* nothing written */
  char *plan = tu_slurp(tu_path(d, "stdout.txt"));
  assert_non_null(plan);
  assert_int_equal(tu_count_lines(plan), 12);
  cli(d, 0, (const char *const[]){"sweep", "s.json", "--out=o", "--threads=2", NULL});
  json_error_t je;
  json_t *root = json_load_file(tu_path(d, "o/ensemble.json"), 0, &je);
  assert_non_null(root);
  json_t *runs = json_object_get(root, "runs");
  assert_int_equal(json_array_size(runs), 12);
  char *line = plan;
  int nerr = 0;
  for (size_t k = 0; k < 12; ++k) {
    char *nl = strchr(line, '\n'), *f[4] = {line, NULL, NULL, NULL};
    *nl = '\0';
    for (int i = 1; i < 4; ++i) {
      f[i] = f[i - 1] ? strchr(f[i - 1], '\t') : NULL;
      if (f[i]) *f[i]++ = '\0';
    }
    assert_int_equal(strtol(f[0], NULL, 10), (long)k);
    assert_non_null(f[2]);
    json_t *r = json_array_get(runs, k);
    assert_string_equal(f[2], json_string_value(json_object_get(r, "rerun")));
    const char *status = json_string_value(json_object_get(r, "status"));
    assert_string_equal(status, f[3] ? "error" : "ok"); /* eta -1: refused before the run */
    nerr += f[3] != NULL;
    if (k == 0) assert_non_null(strstr(f[1], "sigma=0.01 seed=1 method=flow"));
    line = nl + 1;
  }
  assert_int_equal(nerr, 6);
  json_decref(root);
  free(plan);
  /* t_first: in every ok run, the smallest positive sample time is t_first = 0.01 */
  char *csv = tu_slurp(tu_path(d, "o/ensemble.csv"));
  assert_non_null(csv);
  int tcol = -1, col = 0;
  for (char *p = csv; *p && *p != '\n'; ++col) {
    size_t w = strcspn(p, ",\n");
    if (w == 1 && *p == 't') tcol = col;
    p += w + (p[w] == ',');
  }
  assert_true(tcol >= 0);
  double tmin[12];
  for (int k = 0; k < 12; ++k) tmin[k] = INFINITY;
  for (char *p = strchr(csv, '\n') + 1; *p; p = strchr(p, '\n') + 1) {
    long run = strtol(p, NULL, 10);
    char *q = p;
    for (int c = 0; c < tcol; ++c) q = strchr(q, ',') + 1;
    double t = strtod(q, NULL);
    assert_true(run >= 0 && run < 12);
    if (t > 0 && t < tmin[run]) tmin[run] = t;
  }
  for (int k = 0; k < 12; k += 2) assert_close(tmin[k], 0.01, 1e-12, 0); /* runs 0, 2, ...: flow */
  free(csv);
  tu_rmtree(d);
}

/* Two files have the same bytes (and at least min bytes). */
static void same_bytes(const char *pa, const char *pb, long min) {
  FILE *a = fopen(pa, "rb"), *b = fopen(pb, "rb");
  if (!a || !b) fail_msg("cannot open %s or %s", pa, pb);
  int ca, cb;
  long n = 0;
  do {
    ca = fgetc(a), cb = fgetc(b), ++n;
    if (ca != cb) fail_msg("%s and %s differ at byte %ld", pa, pb, n);
  } while (ca != EOF);
  assert_true(n > min);
  fclose(a);
  fclose(b);
}

/* --save-weights: each run's final layers (a layer-wise flow run) or W (an end-to-end run)
 * in o/runs/<k>/, listed in the manifest, equal bit for bit to those its own rerun line
 * writes (the independent truth: `dln run` alone); without the option, no runs/ folder. */
static void test_save_weights(void **state) {
  (void)state;
  const char *d = tu_tmpdir(3);
  tu_write_text(tu_path(d, "s.json"),
                "{\"rows\": 3, \"cols\": 4, \"widths\": [4, 5, 3], \"t_end\": 1, \"samples\": 3, \"plot\": false, \"quiet\": true,"
                " \"sweep\": {\"seed\": [1, 2], \"runs\": [{\"method\": \"flow\"}, {\"method\": \"e2e_flow\", \"init\": \"balanced\"}]}}");
  cli(d, 0, (const char *const[]){"sweep", "s.json", "--out=n", "--threads=2", NULL});
  struct stat sb;
  assert_int_not_equal(stat(tu_path(d, "n/runs"), &sb), 0);
  cli(d, 0, (const char *const[]){"sweep", "s.json", "--out=o", "--threads=2", "--save-weights", NULL});
  char *man = tu_slurp(tu_path(d, "o/manifest.json"));
  assert_non_null(man);
  static const char *const files[4][2] = {{"W1_final.npy", "W2_final.npy"}, {"W_final.npy", NULL},
                                          {"W1_final.npy", "W2_final.npy"}, {"W_final.npy", NULL}};
  json_error_t je;
  json_t *root = json_load_file(tu_path(d, "o/ensemble.json"), 0, &je);
  assert_non_null(root);
  for (int k = 0; k < 4; ++k) {
    /* the rerun line, split at spaces (no spaces in these paths), without "dln" */
    char rr[1024], *args[32];
    snprintf(rr, sizeof rr, "%s", json_string_value(json_object_get(json_array_get(json_object_get(root, "runs"), (size_t)k), "rerun")));
    int na = 0;
    for (char *t = strtok(rr, " "); t && na < 31; t = strtok(NULL, " ")) args[na++] = t;
    args[na] = NULL;
    assert_string_equal(args[0], "dln");
    cli(d, 0, (const char *const *)args + 1);
    for (int j = 0; j < 2 && files[k][j]; ++j) {
      char a[128], b[128], listed[64];
      snprintf(a, sizeof a, "%s/o/runs/%d/%s", d, k, files[k][j]);
      snprintf(b, sizeof b, "%s/o/rerun/%d/%s", d, k, files[k][j]);
      same_bytes(a, b, 128);
      snprintf(listed, sizeof listed, "\"runs/%d/%s\"", k, files[k][j]);
      assert_non_null(strstr(man, listed));
    }
  }
  json_decref(root);
  free(man);
  tu_rmtree(d);
}

/* Only the start varies (seed, stream, sigma): one data set, data/0, for every run, and it
 * is the data `dln run --seed=1 --stream=0` draws itself (the independent truth). */
static void test_data_fixed(void **state) {
  (void)state;
  const char *d = tu_tmpdir(1);
  tu_write_text(tu_path(d, "s.json"),
                "{\"rows\": 3, \"cols\": 4, \"width\": 5, \"t_end\": 0.1, \"samples\": 2, \"plot\": false, \"quiet\": true,"
                " \"seed\": 1, \"sweep\": {\"seed\": [1, 2, 3], \"stream\": [0, 5], \"sigma\": [0.1, 0.3]}}");
  cli(d, 0, (const char *const[]){"sweep", "s.json", "--out=o", "--threads=2", NULL});
  struct stat sb;
  assert_int_equal(stat(tu_path(d, "o/data/0/target.npy"), &sb), 0);
  assert_int_not_equal(stat(tu_path(d, "o/data/1"), &sb), 0);
  cli(d, 0, (const char *const[]){"run", "--rows=3", "--cols=4", "--width=5", "--t_end=0.1", "--samples=2", "--plot=false",
                                  "--quiet", "--seed=1", "--stream=0", "--out=r", NULL});
  char a[256];
  snprintf(a, sizeof a, "%s", tu_path(d, "o/data/0/target.npy"));
  same_bytes(a, tu_path(d, "r/target.npy"), 128);
  tu_rmtree(d);
}

/* --dry-run with --resume is a usage error (one line, exit 64). */
static void test_dry_run_usage(void **state) {
  (void)state;
  const char *d = tu_tmpdir(2);
  tu_write_text(tu_path(d, "s.json"), spec_text);
  tu_expect_cli_error(DLN_CLI, d, 64, "expected without --resume",
                      (const char *const[]){"sweep", "s.json", "--out=o", "--dry-run", "--resume", NULL});
  tu_rmtree(d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_real_ranges), cmocka_unit_test(test_bad_ranges), cmocka_unit_test(test_dry_run),
      cmocka_unit_test(test_data_fixed),  cmocka_unit_test(test_dry_run_usage), cmocka_unit_test(test_save_weights),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
