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
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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
#include "dln/io.h"
#include "dln/manifest.h"

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

/* Exit code and exactly one stderr line "dln: ..." containing fragment. */
static void expect_error(int code, const char *fragment, const char *const *args) {
  tu_expect_cli_error(DLN_CLI, dir, code, fragment, args);
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
  /* without its manifest (dln run writes one once the run-folder work is merged): the
   * theory rows, not the hashes, must catch the corruption */
  snprintf(p, sizeof p, "%s/%s/manifest.json", dir, run);
  remove(p);
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

/* Binary file helpers (.npy). */
static unsigned char *read_bin(const char *path, size_t *n) {
  FILE *fp = fopen(path, "rb");
  assert_non_null(fp);
  fseek(fp, 0, SEEK_END);
  long len = ftell(fp);
  fseek(fp, 0, SEEK_SET);
  unsigned char *b = malloc((size_t)len + 1);
  assert_non_null(b);
  assert_int_equal(fread(b, 1, (size_t)len, fp), (size_t)len);
  fclose(fp);
  *n = (size_t)len;
  return b;
}
static void write_bin(const char *path, const unsigned char *b, size_t n) {
  FILE *fp = fopen(path, "wb");
  assert_non_null(fp);
  assert_int_equal(fwrite(b, 1, n, fp), n);
  fclose(fp);
}

static void copy_file(const char *from, const char *to) {
  size_t n;
  unsigned char *b = read_bin(from, &n);
  write_bin(to, b, n);
  free(b);
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
  expect_error(DLN_CHECK_EXIT_INCONSISTENT, "trajectory.csv", (const char *[]){"check", "spectral", NULL});
  root = load_check("spectral");
  json_t *e = find_result(root, "closed form: loss"); /* the theory row still says it; the files fail first */
  assert_string_equal(json_string_value(json_object_get(e, "verdict")), "VIOLATED");
  assert_non_null(json_object_get(e, "likely_cause"));
  e = find_result(root, "trajectory vs summary.json");
  assert_string_equal(json_string_value(json_object_get(e, "verdict")), "INCONSISTENT");
  assert_null(strstr(json_string_value(json_object_get(e, "likely_cause")), "less accurate"));
  /* a flow invariant also fails for an integration less accurate than its tolerance: its
   * cause says so beside tampering */
  e = find_result(root, "loss non-increasing (flow)");
  assert_string_equal(json_string_value(json_object_get(e, "verdict")), "INCONSISTENT");
  assert_non_null(strstr(json_string_value(json_object_get(e, "likely_cause")), "or an integration less accurate than its tolerance"));
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
  expect_error(DLN_CHECK_EXIT_INCONSISTENT, "trajectory.csv", (const char *[]){"check", "regression", NULL});
  json_t *r2 = load_check("regression");
  assert_string_equal(json_string_value(json_object_get(find_result(r2, "rate from imbalance"), "verdict")), "VIOLATED");
  json_decref(r2);
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


/* ------------------------------------------------------------------ false alarms, tampering (issue 11) */

/* The verdict word of `result` in DIR/run/check.json. */
static char *verdict_of(const char *run, const char *result, char **msg) {
  json_t *root = load_check(run), *e = find_result(root, result);
  char *v = strdup(json_string_value(json_object_get(e, "verdict")));
  if (msg) *msg = strdup(json_string_value(json_object_get(e, "message")));
  json_decref(root);
  return v;
}

static void expect_verdict(const char *run, const char *result, const char *verdict, const char *fragment) {
  char *m = NULL, *v = verdict_of(run, result, &m);
  if (strcmp(v, verdict) != 0 || (fragment && !strstr(m, fragment)))
    print_error("%s: %s: verdict %s (%s), expected %s with '%s'\n", run, result, v, m, verdict, fragment ? fragment : "");
  assert_string_equal(v, verdict);
  if (fragment) assert_non_null(strstr(m, fragment));
  free(v), free(m);
}

static void run_dln(const char *const *args) {
  int rc = run_cli(args);
  if (rc != 0 && rc != 3) show_output();
  assert_true(rc == 0 || rc == 3);
}

/* Add delta to element k of an .npy file (v1 header: data at 10 + header length). */
static void npy_add(const char *path, size_t k, double delta) {
  size_t n;
  unsigned char *b = read_bin(path, &n);
  size_t off = 10 + (size_t)b[8] + 256u * b[9] + 8 * k;
  assert_true(b[6] == 1 && off + 8 <= n);
  double x;
  memcpy(&x, b + off, 8);
  x += delta;
  memcpy(b + off, &x, 8);
  write_bin(path, b, n);
  free(b);
}

/* Copy folder DIR/from (regular files but manifest.json) into DIR/to: the copies test
 * what is detected without a manifest. */
static void copy_run(const char *from, const char *to) {
  char a[600], b[600];
  snprintf(a, sizeof a, "%s/%s", dir, to);
  mkdir(a, 0755);
  snprintf(a, sizeof a, "%s/%s", dir, from);
  DIR *d = opendir(a);
  assert_non_null(d);
  for (struct dirent *e; (e = readdir(d));) {
    if (e->d_name[0] == '.' || strcmp(e->d_name, "manifest.json") == 0) continue;
    size_t n;
    snprintf(a, sizeof a, "%s/%s/%s", dir, from, e->d_name);
    snprintf(b, sizeof b, "%s/%s/%s", dir, to, e->d_name);
    struct stat sb;
    if (stat(a, &sb) != 0 || !S_ISREG(sb.st_mode)) continue;
    unsigned char *buf = read_bin(a, &n);
    write_bin(b, buf, n);
    free(buf);
  }
  closedir(d);
}

/* trajectory.csv of DIR/run: keep the first `keep` data rows (keep > 0), or drop data
 * row `drop` (keep == 0), or set column `col` of data row `row` to f(x). */
static void edit_rows(const char *run, size_t keep, size_t drop, const char *col, size_t row, double scale, double set) {
  char p[600];
  snprintf(p, sizeof p, "%s/%s/trajectory.csv", dir, run);
  char *text = tu_slurp(p), *out = malloc(strlen(text) + 4096);
  assert_non_null(out);
  size_t n = 0, line = 0;
  int target = -1;
  for (char *save = NULL, *ln = strtok_r(text, "\n", &save); ln; ln = strtok_r(NULL, "\n", &save), ++line) {
    if (line == 0 && col) {
      char *h = strdup(ln), *s2 = NULL;
      int k = 0;
      for (char *f = strtok_r(h, ",", &s2); f; f = strtok_r(NULL, ",", &s2), ++k)
        if (strcmp(f, col) == 0) target = k;
      free(h);
      assert_true(target >= 0);
    }
    if (line > 0 && keep && line > keep) break;
    if (line > 0 && !keep && !col && line == drop) continue;
    if (line > 0 && col && line == row) {
      int k = 0;
      char *s2 = NULL;
      for (char *f = strtok_r(ln, ",", &s2); f; f = strtok_r(NULL, ",", &s2), ++k) {
        double x = strtod(f, NULL);
        if (k == target) x = isnan(set) && scale == 0 ? NAN : scale != 0 ? x * scale : set;
        n += (size_t)sprintf(out + n, k ? ",%.17g" : "%.17g", x);
      }
      n += (size_t)sprintf(out + n, "\n");
      continue;
    }
    n += (size_t)sprintf(out + n, "%s\n", ln);
  }
  tu_write_text(p, out);
  free(out);
  free(text);
}

/* The loss value of data row `row` (1-based) of DIR/run/trajectory.csv. */
static double loss_at(const char *run, size_t row) {
  char p[600];
  snprintf(p, sizeof p, "%s/%s/trajectory.csv", dir, run);
  char *text = tu_slurp(p), *l = text;
  for (size_t i = 0; i < row; ++i) l = strchr(l, '\n') + 1;
  double x = strtod(strchr(strchr(l, ',') + 1, ',') + 1, NULL); /* t,step,loss */
  free(text);
  return x;
}

/* A manifest for DIR/run if `dln run` wrote none (before the run-folder work is merged):
 * a run_id into summary.json, then every regular file except check.json listed. */
static void ensure_manifest(const char *run) {
  char p[600];
  snprintf(p, sizeof p, "%s/%s/manifest.json", dir, run);
  struct stat sb;
  if (stat(p, &sb) == 0) return;
  snprintf(p, sizeof p, "%s/%s", dir, run);
  char id[DLN_RUN_ID_LEN + 1];
  assert_int_equal(dln_run_id_new(id), DLN_OK);
  char sp[640];
  snprintf(sp, sizeof sp, "%s/summary.json", p);
  json_error_t err;
  json_t *root = json_load_file(sp, 0, &err);
  assert_non_null(root);
  json_object_set_new(root, "run_id", json_string(id));
  assert_int_equal(json_dump_file(root, sp, JSON_INDENT(2) | JSON_REAL_PRECISION(17)), 0);
  json_decref(root);
  const char *names[64];
  size_t n = 0;
  DIR *d = opendir(p);
  assert_non_null(d);
  for (struct dirent *e; (e = readdir(d)) && n < 64;)
    if (e->d_name[0] != '.' && strcmp(e->d_name, "check.json") != 0) names[n++] = strdup(e->d_name);
  closedir(d);
  assert_int_equal(dln_manifest_write(p, id, "run", 1, names, n), DLN_OK);
  for (size_t i = 0; i < n; ++i) free((void *)names[i]);
}

static const char *const tiny_run[] = {"run", "--task", "factorization", "--target", "lowrank", "--rows", "3", "--cols", "4",
                                       "--singular_values", "2,1,0.3", "--widths", "4,4,3", "--init", "spectral", "--ubar",
                                       "0.3,0.2,0.1", "--vbar", "0.3,0.2,0.1", "--t_end", "4", "--quiet", "--plot=false",
                                       "--out", NULL, NULL};

static void tiny(const char *out, const char *sv) {
  const char *a[sizeof tiny_run / sizeof *tiny_run];
  memcpy(a, tiny_run, sizeof a);
  a[24] = out;
  if (sv) a[10] = sv;
  run_dln(a);
}

/* Correct runs the issue reported VIOLATED: none may be. */
static void test_no_false_alarms(void **state) {
  (void)state;
  /* 002 Ex. 5 on a factorization run: the gradient alignment is not constant */
  tiny("fa1", NULL);
  expect_rc(0, (const char *[]){"check", "fa1", "--quiet", NULL});
  expect_verdict("fa1", "closed form", "not applicable", "constant gradient alignment");
  struct stat sb;
  if (stat(tpath("fa1/manifest.json"), &sb) == 0) expect_verdict("fa1", "files of one run (manifest)", "holds", NULL);
  else expect_verdict("fa1", "files of one run (manifest)", "unverified", "no manifest");
  expect_verdict("fa1", "rate from imbalance", "not applicable", "c > 0");
  expect_verdict("fa1", "pyramidal rate", "not applicable", "positive eigenvalues");
  expect_verdict("fa1", "final layers vs last loss sample", "holds", NULL);
  expect_verdict("fa1", "C_j(final) = C_j(0) (flow)", "holds", NULL);
  expect_verdict("fa1", "loss non-increasing (flow)", "holds", NULL);
  expect_verdict("fa1", "initial layers vs summary.json's spec", "holds", NULL);
  /* depth 3, balanced: 002 Lemma 2 form and det W */
  run_dln((const char *[]){"run", "--task", "factorization", "--target", "lowrank", "--rows", "3", "--cols", "3",
                           "--singular_values", "2,1,0.5", "--depth", "3", "--width", "3", "--init", "balanced", "--sigma",
                           "0.3", "--t_end", "4", "--quiet", "--plot=false", "--out", "fa2", NULL});
  expect_rc(0, (const char *[]){"check", "fa2", "--quiet", NULL});
  expect_verdict("fa2", "sign of det W constant", "holds", NULL);
  /* tied: 002 Lemma 2 is about untied layers */
  run_dln((const char *[]){"run", "--task", "factorization", "--target", "lowrank", "--rows", "3", "--cols", "3",
                           "--singular_values", "2,1,0.5", "--depth", "2", "--width", "3", "--tied", "--init", "gaussian",
                           "--sigma", "0.3", "--t_end", "4", "--quiet", "--plot=false", "--out", "fa3", NULL});
  expect_rc(0, (const char *[]){"check", "fa3", "--quiet", NULL});
  expect_verdict("fa3", "sign of det W constant", "not applicable", "untied");
  /* diverged gradient descent: the end point is not classified */
  run_dln((const char *[]){"run", "--task", "factorization", "--target", "lowrank", "--rows", "3", "--cols", "3",
                           "--singular_values", "2,1,0.5", "--depth", "2", "--width", "3", "--method=gd", "--eta=1",
                           "--t_end", "100", "--quiet", "--plot=false", "--out", "fa4", NULL});
  expect_rc(0, (const char *[]){"check", "fa4", "--quiet", NULL});
  expect_verdict("fa4", "end-point Hessian (no spurious minimum)", "not applicable", "the run diverged at step");
  expect_verdict("fa4", "critical value of the end point", "not applicable", "diverged");
  /* depth 3, diagonal balanced start, diagonal target: 002 Lemma 2's form (constant
   * alignment) predicts a blow-up at t = 1.07, the flow converges */
  static const double T[9] = {2, 0, 0, 0, 1, 0, 0, 0, 0.5}, L[9] = {0.5, 0, 0, 0, 0.4, 0, 0, 0, 0.3};
  assert_int_equal(dln_npy_write(tpath("T.npy"), 3, 3, T, 0), DLN_OK);
  assert_int_equal(dln_npy_write(tpath("L.npy"), 3, 3, L, 0), DLN_OK);
  run_dln((const char *[]){"run", "--task", "factorization", "--target_file", "T.npy", "--widths", "3,3,3,3", "--init", "file",
                           "--init_files", "L.npy,L.npy,L.npy", "--t_end", "4", "--quiet", "--plot=false", "--out", "fa5", NULL});
  expect_rc(0, (const char *[]){"check", "fa5", "--quiet", NULL});
  expect_verdict("fa5", "closed form", "not applicable", "constant gradient alignment");
  /* round-off: a balanced init of scale 1e-3 has C_1's eigenvalues ~ 1e-19 (not > 0) */
  run_dln((const char *[]){"run", "--task", "factorization", "--target", "lowrank", "--rows", "3", "--cols", "4",
                           "--singular_values", "2,1,0.3", "--widths", "4,6,3", "--init", "balanced", "--sigma", "1e-3",
                           "--t_end", "3", "--quiet", "--plot=false", "--out", "fa6", NULL});
  expect_rc(0, (const char *[]){"check", "fa6", "--quiet", NULL});
  expect_verdict("fa6", "pyramidal rate", "not applicable", "at the run's accuracy");
  expect_verdict("fa6", "rate from imbalance", "not applicable", "c > 0");
  /* det W(0) at round-off (sigma_min/sigma_max = 2e-9, balanced): its sign is not decided */
  static const double B1[9] = {0.5, 0, 0, 0, 0.4, 0, 0, 0, 1e-9};
  assert_int_equal(dln_npy_write(tpath("B.npy"), 3, 3, B1, 0), DLN_OK);
  run_dln((const char *[]){"run", "--task", "factorization", "--target_file", "T.npy", "--widths", "3,3,3", "--init", "file",
                           "--init_files", "B.npy,B.npy", "--t_end", "3", "--quiet", "--plot=false", "--out", "fa7", NULL});
  expect_rc(0, (const char *[]){"check", "fa7", "--quiet", NULL});
  expect_verdict("fa7", "sign of det W constant", "not applicable", "the run's accuracy");
  /* a balanced 3x3 net with a hidden width 4: sigma_3 decays to 8e-12 of sigma_1, below
   * what balancedness holds to in floating point, and comes back with the other sign */
  run_dln((const char *[]){"run", "--task", "factorization", "--target", "lowrank", "--rows", "3", "--cols", "3",
                           "--singular_values", "2,1,0.5", "--depth", "2", "--width", "4", "--init", "balanced", "--sigma",
                           "0.3", "--seed", "1", "--t_end", "60", "--quiet", "--plot=false", "--out", "fa8", NULL});
  expect_rc(0, (const char *[]){"check", "fa8", "--quiet", NULL});
  expect_verdict("fa8", "sign of det W constant", "not applicable", "the run's accuracy");
  /* depth 3 still approaching a saddle at t = 15 (loss 0.12547 vs its value 0.125): the
   * classifier's loose component tolerance calls it critical, the gradient does not */
  run_dln((const char *[]){"run", "--task", "factorization", "--target", "lowrank", "--rows", "3", "--cols", "3",
                           "--singular_values", "2,1,0.5", "--depth", "3", "--width", "3", "--init", "balanced", "--sigma",
                           "0.3", "--t_end", "15", "--quiet", "--plot=false", "--out", "fa9", NULL});
  expect_rc(0, (const char *[]){"check", "fa9", "--quiet", NULL});
  expect_verdict("fa9", "critical value of the end point", "not applicable", "end point critical fails");
}

/* One tampering of a copy of DIR/good: must exit 5 naming `file`. */
static void expect_tampered(const char *run, const char *file) {
  expect_error(DLN_CHECK_EXIT_INCONSISTENT, file, (const char *[]){"check", run, "--quiet", NULL});
}

static void test_tampering(void **state) {
  (void)state;
  tiny("good", NULL);
  tiny("other", "3,1.5,0.2");
  expect_rc(0, (const char *[]){"check", "good", "--quiet", NULL});
  char p[600];
  /* 1. a weight of W2_final changed by 1.0 */
  copy_run("good", "t1");
  snprintf(p, sizeof p, "%s/t1/W2_final.npy", dir);
  npy_add(p, 2, 1.0);
  expect_tampered("t1", "_final.npy");
  /* 2. W1_final replaced by W1_init */
  copy_run("good", "t2");
  copy_file(tpath("good/W1_init.npy"), tpath("t2/W1_final.npy"));
  expect_tampered("t2", "_final.npy");
  /* 3. trajectory cut to 50 rows */
  copy_run("good", "t3");
  edit_rows("t3", 50, 0, NULL, 0, 0, 0);
  expect_tampered("t3", "trajectory.csv");
  /* 4. one loss sample x10 (row 20, mid-run) */
  copy_run("good", "t4");
  edit_rows("t4", 0, 0, "loss", 20, 10.0, 0);
  expect_tampered("t4", "trajectory.csv");
  /* 5. a loss increase under flow: row 100 gets the loss of row 50 */
  copy_run("good", "t5");
  edit_rows("t5", 0, 0, "loss", 100, 0, loss_at("good", 50));
  expect_tampered("t5", "trajectory.csv");
  /* 6. another run's summary beside these files */
  copy_run("good", "t6");
  copy_file(tpath("other/summary.json"), tpath("t6/summary.json"));
  expect_tampered("t6", "t6/");
  /* 7. another run's final layers */
  copy_run("good", "t7");
  copy_file(tpath("other/W1_final.npy"), tpath("t7/W1_final.npy"));
  copy_file(tpath("other/W2_final.npy"), tpath("t7/W2_final.npy"));
  expect_tampered("t7", "_final.npy");
  /* 8. another run's trajectory */
  copy_run("good", "t8");
  copy_file(tpath("other/trajectory.csv"), tpath("t8/trajectory.csv"));
  expect_tampered("t8", "t8/");
  /* 9. the target changed */
  copy_run("good", "t9");
  snprintf(p, sizeof p, "%s/t9/target.npy", dir);
  npy_add(p, 0, 0.5);
  expect_tampered("t9", "t9/");
  /* 10. a NaN loss sample */
  copy_run("good", "t10");
  edit_rows("t10", 0, 0, "loss", 7, 0, NAN);
  expect_tampered("t10", "trajectory.csv");
  /* 11. a row deleted in the middle */
  copy_run("good", "t11");
  edit_rows("t11", 0, 30, NULL, 0, 0, 0);
  expect_tampered("t11", "trajectory.csv");
  /* 12. the init edited (checked against the init the summary's seed generates) */
  copy_run("good", "t12");
  npy_add(tpath("t12/W1_init.npy"), 1, 1e-6);
  expect_tampered("t12", "_init.npy");
  /* 13. an end-to-end run's W_final.npy edited */
  run_dln((const char *[]){"run", "--task", "factorization", "--target", "lowrank", "--rows", "3", "--cols", "4",
                           "--singular_values", "2,1,0.3", "--widths", "4,4,3", "--init", "balanced", "--method", "e2e_flow",
                           "--t_end", "4", "--quiet", "--plot=false", "--out", "e2e", NULL});
  expect_rc(0, (const char *[]){"check", "e2e", "--quiet", NULL});
  expect_verdict("e2e", "final layers vs last loss sample", "holds", NULL);
  copy_run("e2e", "t13");
  npy_add(tpath("t13/W_final.npy"), 0, 0.5);
  expect_tampered("t13", "W_final.npy");
  /* with a manifest: intact passes, the manifest row holds */
  copy_run("good", "m");
  struct stat sb;
  if (stat(tpath("good/manifest.json"), &sb) == 0) copy_file(tpath("good/manifest.json"), tpath("m/manifest.json"));
  ensure_manifest("m");
  expect_rc(0, (const char *[]){"check", "m", "--quiet", NULL});
  expect_verdict("m", "files of one run (manifest)", "holds", NULL);
  /* 13. a byte of W1_init.npy (no other row reads it against anything) */
  copy_run("m", "m13");
  copy_file(tpath("m/manifest.json"), tpath("m13/manifest.json"));
  snprintf(p, sizeof p, "%s/m13/W1_init.npy", dir);
  npy_add(p, 1, 1e-9);
  expect_tampered("m13", "W1_init.npy");
  /* 14. another run's summary (run_id and hash) */
  copy_run("m", "m14");
  copy_file(tpath("m/manifest.json"), tpath("m14/manifest.json"));
  copy_file(tpath("other/summary.json"), tpath("m14/summary.json"));
  expect_tampered("m14", "summary.json");
  /* 15. an extra layer file not listed */
  copy_run("m", "m15");
  copy_file(tpath("m/manifest.json"), tpath("m15/manifest.json"));
  copy_file(tpath("good/W1_init.npy"), tpath("m15/W3_init.npy"));
  expect_tampered("m15", "W3_init.npy");
  /* 16. a manifest saying the run is incomplete */
  copy_run("m", "m16");
  copy_file(tpath("m/manifest.json"), tpath("m16/manifest.json"));
  json_t *man = json_load_file(tpath("m16/manifest.json"), 0, NULL);
  assert_non_null(man);
  json_object_set_new(man, "complete", json_false());
  assert_int_equal(json_dump_file(man, tpath("m16/manifest.json"), JSON_INDENT(2)), 0);
  json_decref(man);
  expect_tampered("m16", "manifest.json");
}

/* Replace line `lineno` (1-based) of DIR/path by text (NULL: delete it). */
static void edit_line(const char *path, int lineno, const char *text) {
  char *all = tu_slurp(tpath(path)), *out = malloc(strlen(all) + 4096);
  assert_non_null(out);
  size_t n = 0;
  int line = 1;
  for (char *p = all; *p; ++line) {
    char *e = strchr(p, '\n');
    size_t len = e ? (size_t)(e - p) + 1 : strlen(p);
    if (line != lineno) memcpy(out + n, p, len), n += len;
    else if (text) n += (size_t)sprintf(out + n, "%s\n", text);
    p += len;
  }
  out[n] = '\0';
  tu_write_text(tpath(path), out);
  free(out);
  free(all);
}

static void copy_sweep(const char *to) {
  copy_run("sw", to);
  char a[600];
  snprintf(a, sizeof a, "%s/data", to);
  copy_run("sw/data", a);
  snprintf(a, sizeof a, "%s/data/0", to);
  copy_run("sw/data/0", a);
}

/* A sweep folder: its files and its run subfolders. */
static void test_sweep(void **state) {
  (void)state;
  tu_write_text(tpath("sw.json"),
                "{\"task\": \"factorization\", \"target\": \"lowrank\", \"rows\": 3, \"cols\": 4, \"singular_values\": [2, 1, 0.3],\n"
                " \"widths\": [4, 4, 3], \"t_end\": 2, \"samples\": 21, \"plot\": false, \"quiet\": true, \"out\": \"sw\",\n"
                " \"sweep\": {\"sigma\": [0.1, 0.3], \"seed\": {\"from\": 1, \"count\": 2}}}\n");
  run_dln((const char *[]){"sweep", "sw.json", "--threads", "1", "--quiet", NULL});
  expect_rc(0, (const char *[]){"check", "sw", "--quiet", NULL});
  expect_verdict("sw", "ensemble.csv vs ensemble.json", "holds", "ensemble.csv: 84 rows agree");
  /* a row deleted; a NaN loss; a garbled row; the last loss of run 3 changed */
  copy_sweep("sw1");
  edit_line("sw1/ensemble.csv", 30, NULL);
  expect_tampered("sw1", "ensemble.csv");
  expect_verdict("sw1", "ensemble.csv vs ensemble.json", "INCONSISTENT", "run 1: 21 rows in ensemble.json, 20 in ensemble.csv");
  copy_sweep("sw2");
  char *csv = tu_slurp(tpath("sw2/ensemble.csv")), *l40 = csv;
  for (int i = 1; i < 40; ++i) l40 = strchr(l40, '\n') + 1;
  *strchr(l40, '\n') = '\0';
  char row[2048];
  snprintf(row, sizeof row, "%s", l40);
  free(csv);
  char *f = row;
  for (int k = 0; k < 6; ++k) f = strchr(f, ',') + 1; /* run,seed,stream,sigma,t,step -> loss */
  char *end = strchr(f, ',');
  memmove(f + 3, end, strlen(end) + 1);
  memcpy(f, "nan", 3);
  edit_line("sw2/ensemble.csv", 40, row);
  expect_tampered("sw2", "ensemble.csv");
  expect_verdict("sw2", "ensemble.csv vs ensemble.json", "INCONSISTENT", "NaN");
  copy_sweep("sw3");
  edit_line("sw3/ensemble.csv", 50, "2,1,0,0.3,garbled");
  expect_tampered("sw3", "ensemble.csv");
  copy_sweep("sw4");
  edit_line("sw4/ensemble.csv", 85, NULL);
  expect_tampered("sw4", "ensemble.csv");
  /* a rerun subfolder: checked as a run; tampered, it fails the sweep */
  copy_sweep("sw5");
  run_dln((const char *[]){"run", "sw.json", "--out=sw5/rerun/0", "--target_file=sw5/data/0/target.npy", "--sigma=0.1", "--seed=1",
                           "--stream=0", "--quiet", NULL});
  expect_rc(0, (const char *[]){"check", "sw5", "--quiet", NULL});
  expect_verdict("sw5", "run subfolder", "holds", NULL);
  npy_add(tpath("sw5/rerun/0/W2_final.npy"), 0, 1.0);
  expect_tampered("sw5", "rerun/0");
  /* shards: ensemble.shard<i>of<N>.json / .csv each checked */
  tu_write_text(tpath("sh.json"),
                "{\"task\": \"factorization\", \"target\": \"lowrank\", \"rows\": 3, \"cols\": 4, \"singular_values\": [2, 1, 0.3],\n"
                " \"widths\": [4, 4, 3], \"t_end\": 1, \"samples\": 11, \"plot\": false, \"quiet\": true, \"out\": \"sh\",\n"
                " \"sweep\": {\"seed\": {\"from\": 1, \"count\": 3}}}\n");
  run_dln((const char *[]){"sweep", "sh.json", "--shard", "0/2", "--threads", "1", "--quiet", NULL});
  run_dln((const char *[]){"sweep", "sh.json", "--shard", "1/2", "--threads", "1", "--quiet", NULL});
  expect_rc(0, (const char *[]){"check", "sh", "--quiet", NULL});
  edit_line("sh/ensemble.shard1of2.csv", 5, NULL);
  expect_tampered("sh", "ensemble.shard1of2.csv");
}

static int setup(void **state) {
  (void)state;
  snprintf(dir, sizeof dir, "/tmp/dln-check-XXXXXX");
  return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  tu_rmtree(dir);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_spectral_and_corruption),
      cmocka_unit_test(test_regression_imbalanced),
      cmocka_unit_test(test_balanced_three_layer),
      cmocka_unit_test(test_bad_folders),
      cmocka_unit_test(test_no_false_alarms),
      cmocka_unit_test(test_tampering),
      cmocka_unit_test(test_sweep),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
