/* Tests of `dln check` (src/run/check.c, tools/dln.c; docs/check.md), run as a program
 * (DLN_CLI) and through the library (dln_check_folder):
 *   - known-good runs exit 0 and check.json lists the expected results as applicable
 *     and holding: 001 asymmetric spectral init (closed form eq. 17, component rates
 *     eq. 23, 000 Thm 1, end-point critical value and Hessian, 000 Thm 3), 003-style
 *     under-determined regression with an imbalanced init (003 Thm 1), a balanced
 *     3-layer factorization (002 Thm 3, 002 Lemma 2, conservation of C_j); the runs
 *     observe "theory", so the trajectories carry cf_dist/cf_loss or bound_003thm1;
 *   - the same folders with trajectory.csv corrupted (loss column x10 after t = 0; a
 *     drift column set to 1e-2) exit 4 and name the violated result;
 *   - a missing folder, a missing, garbled or incomplete summary.json give one line on
 *     stderr and the sysexits code (66 / 65). */
#define _GNU_SOURCE /* nftw's FTW_DEPTH / FTW_PHYS */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "testutil.h"

#include "dln/check.h"
#include "dln/error.h"

static char dir[64];

static const char *tpath(const char *name) { return tu_path(dir, name); }
static int run_cli(const char *const *args) { return tu_wait(tu_spawn(DLN_CLI, args, dir)); }

static void show_output(void) {
  char *o = tu_slurp(tpath("stdout.txt")), *e = tu_slurp(tpath("stderr.txt"));
  print_message("stdout:\n%s\nstderr:\n%s\n", o ? o : "", e ? e : "");
  free(o);
  free(e);
}

/* `dln check` on args; expect exit `code`. */
static void expect_rc(int code, const char *const *args) {
  int rc = run_cli(args);
  if (rc != code) {
    print_error("exit %d, expected %d\n", rc, code);
    show_output();
  }
  assert_int_equal(rc, code);
}

/* Exit code and exactly one stderr line, starting "dln: " and containing fragment. */
static void expect_error(int code, const char *fragment, const char *const *args) {
  int rc = run_cli(args);
  char *err = tu_slurp(tpath("stderr.txt"));
  assert_non_null(err);
  if (rc != code || tu_count_lines(err) != 1 || !strstr(err, fragment))
    print_error("exit %d (expected %d), stderr:\n%s(expected one line with \"%s\")\n", rc, code, err, fragment);
  assert_int_equal(rc, code);
  assert_int_equal(tu_count_lines(err), 1);
  assert_non_null(strstr(err, fragment));
  assert_true(strncmp(err, "dln: ", 5) == 0);
  free(err);
}

/* The entry of check.json for `result`; asserts it is there. */
static json_t *find_result(json_t *root, const char *result) {
  json_t *arr = json_object_get(root, "results"), *e;
  size_t i;
  json_array_foreach(arr, i, e) {
    if (strcmp(json_string_value(json_object_get(e, "result")), result) == 0) return e;
  }
  print_error("check.json has no result \"%s\"\n", result);
  fail();
  return NULL;
}

static json_t *load_check(const char *run) {
  char p[600];
  snprintf(p, sizeof p, "%s/%s/check.json", dir, run);
  json_error_t err;
  json_t *root = json_load_file(p, 0, &err);
  if (!root) print_error("%s: %s\n", p, err.text);
  assert_non_null(root);
  return root;
}

static void expect_holds(json_t *root, const char *result) {
  json_t *e = find_result(root, result);
  const char *v = json_string_value(json_object_get(e, "verdict"));
  if (strcmp(v, "holds") != 0)
    print_error("%s: verdict %s: %s\n", result, v, json_string_value(json_object_get(e, "message")));
  assert_true(json_is_true(json_object_get(e, "applicable")));
  assert_string_equal(v, "holds");
}

static void expect_na(json_t *root, const char *result, const char *fragment) {
  json_t *e = find_result(root, result);
  const char *m = json_string_value(json_object_get(e, "message"));
  assert_true(json_is_false(json_object_get(e, "applicable")));
  assert_string_equal(json_string_value(json_object_get(e, "verdict")), "not applicable");
  if (!strstr(m, fragment) || strncmp(m, "not applicable: ", 16) != 0)
    print_error("%s: message '%s', expected 'not applicable: ... %s'\n", result, m, fragment);
  assert_true(strncmp(m, "not applicable: ", 16) == 0);
  assert_non_null(strstr(m, fragment));
}

static void expect_no_violation(json_t *root) {
  json_t *s = json_object_get(root, "summary");
  assert_int_equal(json_integer_value(json_object_get(s, "violated")), 0);
  assert_true(json_integer_value(json_object_get(s, "applicable")) > 0);
}

/* Rewrite DIR/run/trajectory.csv: column `col` multiplied by `scale` (scale != 0) or
 * set to `value` (scale == 0) on every row with t > 0. */
static void corrupt(const char *run, const char *col, double scale, double value) {
  char p[600];
  snprintf(p, sizeof p, "%s/%s/trajectory.csv", dir, run);
  char *text = tu_slurp(p);
  assert_non_null(text);
  size_t cap = 2 * strlen(text) + 4096, n = 0;
  char *out = malloc(cap);
  assert_non_null(out);
  int target = -1, line = 0;
  for (char *save = NULL, *ln = strtok_r(text, "\n", &save); ln; ln = strtok_r(NULL, "\n", &save), ++line) {
    if (line == 0) {
      char *h = strdup(ln), *s2 = NULL;
      int k = 0;
      for (char *f = strtok_r(h, ",", &s2); f; f = strtok_r(NULL, ",", &s2), ++k)
        if (strcmp(f, col) == 0) target = k;
      free(h);
      assert_true(target >= 0);
      n += (size_t)snprintf(out + n, cap - n, "%s\n", ln);
      continue;
    }
    double t = strtod(ln, NULL);
    int k = 0;
    char *s2 = NULL;
    for (char *f = strtok_r(ln, ",", &s2); f; f = strtok_r(NULL, ",", &s2), ++k) {
      double x = strtod(f, NULL);
      if (k == target && t > 0) x = scale != 0 ? x * scale : value;
      n += (size_t)snprintf(out + n, cap - n, k ? ",%.17g" : "%.17g", x);
    }
    n += (size_t)snprintf(out + n, cap - n, "\n");
    assert_true(n < cap);
  }
  tu_write_text(p, out);
  free(out);
  free(text);
}

static void copy_file(const char *from, const char *to) {
  char *t = tu_slurp(from);
  assert_non_null(t);
  tu_write_text(to, t);
  free(t);
}

/* ------------------------------------------------------------------ specs */

static const char *spectral_spec =
    "{\"task\": \"factorization\", \"target\": \"lowrank\", \"singular_values\": [2.0, 1.0, 0.5],\n"
    " \"rows\": 3, \"cols\": 4, \"widths\": [4, 5, 3], \"init\": \"spectral\",\n"
    " \"ubar\": [0.9, 0.3, 1.2], \"vbar\": [0.2, 0.8, 0.75], \"t_end\": 20, \"samples\": 401,\n"
    " \"observe\": [\"all\", \"theory\"], \"plot\": false, \"quiet\": true, \"out\": \"spectral\"}\n";

static const char *regression_spec =
    "{\"task\": \"regression\", \"rows\": 3, \"cols\": 8, \"n_samples\": 5, \"depth\": 2, \"width\": 10,\n"
    " \"init\": \"imbalanced\", \"layer_scales\": [1.0, 0.05], \"sigma\": 0.5, \"t_end\": 20,\n"
    " \"observe\": [\"all\", \"theory\"], \"plot\": false, \"quiet\": true, \"out\": \"regression\"}\n";

static const char *balanced_spec =
    "{\"task\": \"factorization\", \"target\": \"lowrank\", \"singular_values\": [3.0, 2.0, 1.0],\n"
    " \"rows\": 3, \"cols\": 3, \"widths\": [3, 3, 3, 3], \"init\": \"balanced\", \"sigma\": 1.0,\n"
    " \"t_end\": 40, \"observe\": [\"all\", \"theory\"], \"plot\": false, \"quiet\": true, \"out\": \"balanced\"}\n";

/* ------------------------------------------------------------------ tests */

static void test_spectral_and_corruption(void **state) {
  (void)state;
  tu_write_text(tpath("spectral.json"), spectral_spec);
  expect_rc(0, (const char *[]){"check", "spectral.json", NULL});
  char *table = tu_slurp(tpath("stdout.txt"));
  assert_non_null(table);
  print_message("%s", table);
  assert_non_null(strstr(table, "verdict"));
  free(table);
  json_t *root = load_check("spectral");
  expect_no_violation(root);
  expect_holds(root, "closed form: final weights");
  expect_holds(root, "closed form: loss");
  expect_holds(root, "closed form: singular values");
  expect_holds(root, "closed form: cf_dist column");
  expect_holds(root, "component rates");
  expect_holds(root, "dissipation at t = 0");
  expect_holds(root, "dissipation at the end point");
  expect_holds(root, "conservation of C_j");
  expect_holds(root, "critical value of the end point");
  expect_holds(root, "end-point Hessian (no spurious minimum)");
  expect_holds(root, "equilibrium SVD characterization");
  expect_na(root, "sign of det W constant", "square W fails");
  expect_na(root, "gradient descent rate", "gradient descent fails");
  json_decref(root);
  /* the closed-form loss next to cf_dist; no rate bound applies (c = 0, delta < 0) */
  char *csv = tu_slurp(tpath("spectral/trajectory.csv"));
  assert_non_null(csv);
  assert_non_null(strstr(csv, "cf_dist,cf_loss,"));
  assert_null(strstr(csv, "bound_"));
  free(csv);

  /* the run folder again, as a folder */
  expect_rc(0, (const char *[]){"check", "spectral", NULL});

  /* corrupted loss column */
  copy_file(tpath("spectral/trajectory.csv"), tpath("traj.orig"));
  corrupt("spectral", "loss", 10.0, 0);
  expect_error(DLN_CHECK_EXIT_VIOLATED, "closed form: loss", (const char *[]){"check", "spectral", NULL});
  char *err = tu_slurp(tpath("stderr.txt"));
  assert_non_null(strstr(err, "likely a bug or a corrupted trajectory"));
  free(err);
  root = load_check("spectral");
  json_t *e = find_result(root, "closed form: loss");
  assert_string_equal(json_string_value(json_object_get(e, "verdict")), "VIOLATED");
  assert_non_null(json_object_get(e, "likely_cause"));
  json_decref(root);

  /* corrupted drift column */
  copy_file(tpath("traj.orig"), tpath("spectral/trajectory.csv"));
  corrupt("spectral", "drift_C1", 0, 1e-2);
  expect_error(DLN_CHECK_EXIT_VIOLATED, "conservation of C_j", (const char *[]){"check", "spectral", NULL});
  root = load_check("spectral");
  e = find_result(root, "conservation of C_j");
  assert_string_equal(json_string_value(json_object_get(e, "verdict")), "VIOLATED");
  assert_true(json_real_value(json_object_get(e, "measured")) >= 1e-2);
  json_decref(root);

  /* a tolerance wide enough for the corruption: holds again (--tol) */
  expect_rc(0, (const char *[]){"check", "spectral", "--tol", "0.05", "--quiet", NULL});
  copy_file(tpath("traj.orig"), tpath("spectral/trajectory.csv"));
}

static void test_regression_imbalanced(void **state) {
  (void)state;
  tu_write_text(tpath("regression.json"), regression_spec);
  expect_rc(0, (const char *[]){"check", "regression.json", "--out", "regression", NULL});
  json_t *root = load_check("regression");
  expect_no_violation(root);
  expect_holds(root, "rate from imbalance");
  expect_holds(root, "conservation of C_j");
  expect_na(root, "closed form", "factorization loss fails");
  expect_na(root, "pyramidal rate", "fails");
  expect_na(root, "dissipation at t = 0", "factorization loss fails");
  json_decref(root);
  /* the bias columns of the observer, after the 003 Thm 1 bound column (observe theory) */
  char *csv = tu_slurp(tpath("regression/trajectory.csv"));
  assert_non_null(csv);
  assert_non_null(strstr(csv, "bound_003thm1,nuclear_norm,effective_rank,dist_minnorm,orth_measure"));
  free(csv);

  /* loss x1000: the 003 envelope is violated at the first samples (x10 is not: the
   * run converges much faster than the guaranteed rate) */
  corrupt("regression", "loss", 1000.0, 0);
  expect_error(DLN_CHECK_EXIT_VIOLATED, "rate from imbalance", (const char *[]){"check", "regression", NULL});
}

static void test_balanced_three_layer(void **state) {
  (void)state;
  tu_write_text(tpath("balanced.json"), balanced_spec);
  expect_rc(0, (const char *[]){"check", "balanced.json", NULL});
  json_t *root = load_check("balanced");
  expect_no_violation(root);
  expect_holds(root, "singular value dynamics at t = 0");
  expect_holds(root, "sign of det W constant");
  expect_holds(root, "conservation of C_j");
  expect_na(root, "rate from imbalance", "depth-2");
  json_decref(root);

  /* the library: same verdicts */
  dln_check_report rep;
  assert_int_equal(dln_check_folder(tpath("balanced"), NULL, &rep), DLN_OK);
  assert_int_equal(rep.nviolated, 0);
  assert_true(rep.napplicable >= 4);
  assert_true(rep.tol > 0 && rep.tol < 1e-2);
  dln_check_report_free(&rep);
}

static void test_bad_folders(void **state) {
  (void)state;
  expect_error(66, "does-not-exist: expected a spec file or a run folder, found nothing",
               (const char *[]){"check", "does-not-exist", NULL});
  assert_int_equal(mkdir(tpath("empty"), 0755), 0);
  expect_error(66, "summary.json", (const char *[]){"check", "empty", NULL});
  tu_write_text(tpath("empty/summary.json"), "{\"spec\": {\"task\": ");
  expect_error(65, "summary.json:1:", (const char *[]){"check", "empty", NULL});
  tu_write_text(tpath("empty/summary.json"), "{\"complete\": true}\n");
  expect_error(65, "field \"spec\": expected an object", (const char *[]){"check", "empty", NULL});
  tu_write_text(tpath("empty/summary.json"), "{\"spec\": {\"eta\": \"fast\"}}\n");
  expect_error(65, "eta", (const char *[]){"check", "empty", NULL});
  expect_error(64, "expected one spec file or run folder", (const char *[]){"check", NULL});
  expect_error(64, "--slack", (const char *[]){"check", "empty", "--slack", "-1", NULL});
  dln_check_report rep;
  assert_int_equal(dln_check_folder(tpath("nothing-here"), NULL, &rep), DLN_EIO);
  dln_check_report_free(&rep);
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb, (void)flag, (void)ftw;
  return remove(p);
}

static int setup(void **state) {
  (void)state;
  snprintf(dir, sizeof dir, "/tmp/dln-check-XXXXXX");
  return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_spectral_and_corruption),
      cmocka_unit_test(test_regression_imbalanced),
      cmocka_unit_test(test_balanced_three_layer),
      cmocka_unit_test(test_bad_folders),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
