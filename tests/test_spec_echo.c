/* The spec echo of summary.json reads back as the same spec (issue 11): dln run ARGS --out=a,
 * then the "spec" object of a/summary.json (with "out": "b") as a spec file: dln run
 * echo.json must accept it, echo the same spec and write the same bytes (trajectory and
 * final layers), for widths that change the depth, the tied model, an end-to-end method and
 * a data file. The library reads the echo back too (dln_spec_from_json_string), to the
 * same echo. */
#define _DEFAULT_SOURCE
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "dln/error.h"
#include "dln/io.h"
#include "dln/spec.h"
#include "testutil.h"

json_t *dln_spec_to_json(const dln_spec *spec); /* library-internal (src/run/spec_json.c) */

#define BASE "run --quiet --plot=false --t_end=0.5 --samples=5 "

/* The "spec" object of dir/run/summary.json with "out" set to out (a new reference). */
static json_t *echo_of(const char *dir, const char *run, const char *out) {
  json_error_t je;
  char name[64];
  snprintf(name, sizeof name, "%s/summary.json", run);
  json_t *sum = json_load_file(tu_path(dir, name), 0, &je);
  assert_non_null(sum);
  json_t *spec = json_deep_copy(json_object_get(sum, "spec"));
  json_decref(sum);
  assert_non_null(spec);
  json_object_set_new(spec, "out", json_string(out));
  return spec;
}

static void same_file(const char *dir, const char *name) {
  char a[256], b[256];
  snprintf(a, sizeof a, "a/%s", name);
  snprintf(b, sizeof b, "b/%s", name);
  struct stat sa, sb;
  assert_int_equal(stat(tu_path(dir, a), &sa), 0);
  assert_int_equal(stat(tu_path(dir, b), &sb), 0);
  char *x = tu_slurp(tu_path(dir, a)), *y = tu_slurp(tu_path(dir, b));
  assert_non_null(x);
  assert_non_null(y);
  int same = sa.st_size == sb.st_size && memcmp(x, y, (size_t)sa.st_size) == 0;
  if (!same) print_error("%s: a and b differ\n", name);
  assert_true(same);
  free(x);
  free(y);
}

static int run_in(const char *dir, char *line) {
  char *argv[64] = {0};
  int n = 0;
  for (char *t = strtok(line, " "); t && n < 63; t = strtok(NULL, " ")) argv[n++] = t;
  return tu_wait(tu_spawn(DLN_CLI, (const char *const *)argv, dir));
}

/* args: dln's options after BASE; final: the final-layer file to compare; setup: a target .npy. */
static void round_trip(const char *args, const char *final, int target_npy) {
  const char *dir = tu_tmpdir(0);
  assert_non_null(dir);
  if (target_npy) {
    double t[12];
    for (int i = 0; i < 12; ++i) t[i] = 0.3 * (double)(1 + i % 5) - 0.7;
    assert_int_equal(dln_npy_write(tu_path(dir, "t.npy"), 3, 4, t, 0), 0);
  }
  char line[512];
  snprintf(line, sizeof line, BASE "%s --out=a", args);
  assert_int_equal(run_in(dir, line), 0);
  json_t *ea = echo_of(dir, "a", "b");
  assert_int_equal(json_dump_file(ea, tu_path(dir, "echo.json"), JSON_INDENT(2)), 0);
  snprintf(line, sizeof line, "run echo.json");
  int rc = run_in(dir, line);
  if (rc) {
    char *err = tu_slurp(tu_path(dir, "stderr.txt"));
    print_error("dln run echo.json (%s): exit %d: %s", args, rc, err ? err : "");
    free(err);
  }
  assert_int_equal(rc, 0);
  json_t *eb = echo_of(dir, "b", "b");
  assert_true(json_equal(ea, eb)); /* the same resolved spec */
  same_file(dir, "trajectory.csv");
  same_file(dir, final);
  /* the library reads the echo back to the same echo */
  char *text = json_dumps(ea, JSON_COMPACT);
  dln_spec s;
  assert_int_equal(dln_spec_default(&s), 0);
  int st = dln_spec_from_json_string(&s, "echo", text);
  if (st) print_error("%s\n", dln_last_error());
  assert_int_equal(st, 0);
  assert_int_equal(dln_spec_check(&s), 0);
  json_t *ec = dln_spec_to_json(&s);
  assert_true(json_equal(ea, ec));
  json_decref(ec);
  dln_spec_free(&s);
  free(text);
  json_decref(ea);
  json_decref(eb);
  tu_rmtree(dir);
}

static void test_widths(void **s) { (void)s, round_trip("--rows=2 --cols=3 --widths=3,4,4,2", "W3_final.npy", 0); }
static void test_tied(void **s) { (void)s, round_trip("--rows=3 --cols=3 --width=4 --tied=true", "U_final.npy", 0); }
static void test_e2e(void **s) {
  (void)s, round_trip("--rows=2 --cols=3 --width=3 --init=balanced --method=e2e_flow", "W_final.npy", 0);
}
static void test_data_file(void **s) { (void)s, round_trip("--target_file=t.npy --width=4 --method=gd --eta=0.05", "W2_final.npy", 1); }
static void test_regression(void **s) {
  (void)s, round_trip("--rows=2 --cols=3 --width=3 --task=regression --n_samples=7 --method=cvode", "W2_final.npy", 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_widths), cmocka_unit_test(test_tied), cmocka_unit_test(test_e2e),
                                     cmocka_unit_test(test_data_file), cmocka_unit_test(test_regression)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
