/* dln merge and the Slurm job-array defaults of dln sweep --shard (docs/slurm.md, issue 12).
 *
 *   merge = unsharded   a sweep of 8 runs (4 of them fail their spec check, so failed
 *                       entries are merged too; a "runs" axis) run unsharded, then as 3
 *                       shards side by side in one folder, taking i from
 *                       SLURM_ARRAY_TASK_ID/MIN/COUNT, merged:
 *                       ensemble.csv and endpoints.json byte for byte, ensemble.json and
 *                       the data set's summary.json byte for byte outside the lines of
 *                       run_id and wall times, the manifest equal outside run_id and the
 *                       hashes of those two files; --out DIR2 gives the same table; a
 *                       second merge is refused without --force
 *   refusals            no shard, a missing, duplicate or foreign shard, two values of N,
 *                       cut rows: one line, exit 65/66, nothing written
 *   Slurm variables     bad or out-of-range values are refused naming the variable (64);
 *                       an explicit --shard wins; MIN/MAX/STEP give i and N
 * The truth is the unsharded sweep run by the same binary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "testutil.h"

static const char *SPEC =
    "{\"rows\": 3, \"cols\": 3, \"width\": 3, \"method\": \"flow\", \"t_end\": 20, \"samples\": 11, \"plot\": false,\n"
    " \"sweep\": {\"depth\": [2, 3], \"runs\": [{\"sigma\": 0.1}, {\"sigma\": 0.2, \"rank\": 7}], \"seed\": {\"from\": 1, \"count\": 2}}}\n";

static const char *dir;

static void slurm_env(const char *id, const char *min, const char *max, const char *count, const char *step) {
  const char *names[] = {"SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_MIN", "SLURM_ARRAY_TASK_MAX", "SLURM_ARRAY_TASK_COUNT",
                         "SLURM_ARRAY_TASK_STEP"};
  const char *vals[] = {id, min, max, count, step};
  for (int i = 0; i < 5; ++i) {
    if (vals[i]) setenv(names[i], vals[i], 1);
    else unsetenv(names[i]);
  }
}

static int cli(const char *const *args) { return tu_wait(tu_spawn(DLN_CLI, args, dir)); }

static char *file(const char *sub, const char *name) {
  char p[1024];
  snprintf(p, sizeof p, "%s/%s/%s", dir, sub, name);
  return tu_slurp(p);
}

/* The text without the lines naming a run-dependent key. */
static void strip_lines(char *t) {
  static const char *const keys[] = {"\"run_id\":", "\"wall_seconds\":", "\"run_wall_seconds\":", "\"runs_per_second\":",
                                     "\"train_wall_seconds\":"};
  char *w = t;
  for (char *r = t; *r;) {
    char *nl = strchr(r, '\n');
    size_t n = nl ? (size_t)(nl - r) + 1 : strlen(r);
    int drop = 0;
    for (size_t k = 0; k < sizeof keys / sizeof *keys; ++k) {
      char *h = strstr(r, keys[k]);
      drop |= h && h < r + n;
    }
    if (!drop) memmove(w, r, n), w += n;
    r += n;
  }
  *w = '\0';
}

static void assert_same_file(const char *a, const char *b, const char *name, int strip) {
  char *x = file(a, name), *y = file(b, name);
  assert_non_null(x);
  assert_non_null(y);
  if (strip) strip_lines(x), strip_lines(y);
  if (strcmp(x, y)) print_error("%s/%s and %s/%s differ\n", a, name, b, name);
  assert_string_equal(x, y);
  free(x);
  free(y);
}

static json_t *manifest(const char *sub) {
  char p[1024];
  snprintf(p, sizeof p, "%s/%s/manifest.json", dir, sub);
  json_t *m = json_load_file(p, 0, NULL), *f;
  assert_non_null(m);
  json_object_del(m, "run_id");
  size_t i;
  json_array_foreach(json_object_get(m, "files"), i, f) {
    const char *n = json_string_value(json_object_get(f, "name"));
    size_t l = strlen(n);
    if (!strcmp(n, "ensemble.json") || (l >= 12 && !strcmp(n + l - 12, "summary.json")))
      json_object_del(f, "bytes"), json_object_del(f, "sha256");
  }
  return m;
}

/* The n shards of spec into sw, i from the Slurm variables (ID = 10 + i, MIN = 10); in
 * parallel (side by side in one folder, stderr not checked) or one after the other. */
static void run_shards(const char *spec, int n, int parallel) {
  char id[16], cnt[16];
  pid_t pid[8];
  for (int i = 0; i < n; ++i) {
    snprintf(id, sizeof id, "%d", 10 + i);
    snprintf(cnt, sizeof cnt, "%d", n);
    slurm_env(id, "10", NULL, cnt, NULL); /* the child gets the environment of its fork */
    const char *args[] = {"sweep", spec, "--out", "sw", "--quiet", "--threads", "1", NULL};
    pid[i] = tu_spawn(DLN_CLI, args, dir);
    if (parallel) continue;
    assert_int_equal(tu_wait(pid[i]), 0);
    char *err = tu_slurp(tu_path(dir, "stderr.txt")), want[64];
    snprintf(want, sizeof want, "shard %d/%d from the Slurm job array", i, n);
    assert_non_null(err);
    if (!strstr(err, want)) print_error("stderr: %s\n", err);
    assert_non_null(strstr(err, want));
    free(err);
  }
  for (int i = 0; i < n && parallel; ++i) assert_int_equal(tu_wait(pid[i]), 0);
  slurm_env(NULL, NULL, NULL, NULL, NULL);
}

static void fresh(void) {
  tu_rmtree(dir);
  mkdir(dir, 0755);
  tu_write_text(tu_path(dir, "spec.json"), SPEC);
}

static void test_merge_equals_unsharded(void **state) {
  (void)state;
  fresh();
  const char *ref[] = {"sweep", "spec.json", "--out", "sw", "--quiet", "--threads", "1", NULL};
  assert_int_equal(cli(ref), 0);
  char a[1024], b[1024];
  snprintf(a, sizeof a, "%s/sw", dir);
  snprintf(b, sizeof b, "%s/ref", dir);
  assert_int_equal(rename(a, b), 0);
  run_shards("spec.json", 3, 1);
  const char *merge[] = {"merge", "sw", "--threads", "1", NULL};
  assert_int_equal(cli(merge), 0);
  char *out = tu_slurp(tu_path(dir, "stdout.txt"));
  assert_non_null(strstr(out, "8 runs merged: 4 complete (0 diverged or solver failure), 4 failed"));
  free(out);
  char *csv = file("sw", "ensemble.csv");
  assert_int_equal(tu_count_lines(csv), 1 + 4 * 11); /* header + 11 samples of each finished run */
  free(csv);
  assert_same_file("ref", "sw", "ensemble.csv", 0);
  assert_same_file("ref", "sw", "endpoints.json", 0);
  assert_true(tu_same_file(dir, "ref", "sw", "data/0/target.npy")); /* binary: byte for byte */
  assert_same_file("ref", "sw", "ensemble.json", 1);
  assert_same_file("ref", "sw", "data/0/summary.json", 1);
  json_t *m1 = manifest("ref"), *m2 = manifest("sw");
  assert_true(json_equal(m1, m2));
  json_decref(m1);
  json_decref(m2);
  /* another folder: the same table; the same folder again: refused without --force */
  const char *other[] = {"merge", "sw", "--out", "m2", "--quiet", NULL};
  assert_int_equal(cli(other), 0);
  assert_same_file("ref", "m2", "ensemble.csv", 0);
  tu_expect_cli_error(DLN_CLI, dir, 73, "holds the outputs of an earlier sweep", merge);
  const char *force[] = {"merge", "sw", "--force", "--quiet", NULL};
  assert_int_equal(cli(force), 0);
  assert_same_file("ref", "sw", "ensemble.csv", 0);
}

static void move(const char *from, const char *to) {
  char a[1024], b[1024];
  snprintf(a, sizeof a, "%s/sw/%s", dir, from);
  snprintf(b, sizeof b, "%s/sw/%s", dir, to);
  assert_int_equal(rename(a, b), 0);
}

static void copy(const char *from, const char *to) {
  char *t = file("sw", from);
  assert_non_null(t);
  char b[1024];
  snprintf(b, sizeof b, "%s/sw/%s", dir, to);
  tu_write_text(b, t);
  free(t);
}

static void expect_refused(int code, const char *fragment) {
  const char *merge[] = {"merge", "sw", "--quiet", NULL};
  tu_expect_cli_error(DLN_CLI, dir, code, fragment, merge);
  char p[1024];
  snprintf(p, sizeof p, "%s/sw/ensemble.csv", dir);
  assert_int_not_equal(access(p, F_OK), 0); /* nothing written */
}

static void test_merge_refusals(void **state) {
  (void)state;
  fresh();
  mkdir(tu_path(dir, "sw"), 0755);
  expect_refused(66, "found none");
  run_shards("spec.json", 3, 0);
  move("ensemble.shard1of3.json", "keep.json");
  expect_refused(66, "shard 1 of 3 missing");
  copy("ensemble.shard0of3.json", "ensemble.shard1of3.json"); /* a copy of shard 0 under shard 1's name */
  expect_refused(65, "duplicate shard 0 of 3");
  move("keep.json", "ensemble.shard1of3.json");
  copy("ensemble.shard0of3.json", "ensemble.shard0of2.json");
  expect_refused(65, "shards of different splits");
  move("ensemble.shard0of2.json", "keep.json");
  /* a shard of another sweep (t_end 10) */
  char *spec2 = strdup(SPEC);
  memcpy(strstr(spec2, "\"t_end\": 20"), "\"t_end\": 10", 11);
  tu_write_text(tu_path(dir, "spec2.json"), spec2);
  free(spec2);
  const char *other[] = {"sweep", "spec2.json", "--out", "sw", "--quiet", "--shard", "2/3", "--force", NULL};
  assert_int_equal(cli(other), 0);
  expect_refused(65, "its spec option t_end differs");
  const char *again[] = {"sweep", "spec.json", "--out", "sw", "--quiet", "--shard", "2/3", "--force", NULL};
  assert_int_equal(cli(again), 0);
  /* a shard's table cut by a row */
  char *csv = file("sw", "ensemble.shard1of3.csv");
  assert_non_null(csv);
  char *last = strrchr(csv, '\n');
  *last = '\0';
  *(strrchr(csv, '\n') + 1) = '\0';
  char p[1024];
  snprintf(p, sizeof p, "%s/sw/ensemble.shard1of3.csv", dir);
  tu_write_text(p, csv);
  free(csv);
  expect_refused(65, "expected 11 rows of run");
}

static void test_slurm_variables(void **state) {
  (void)state;
  fresh();
  const char *sweep[] = {"sweep", "spec.json", "--out", "e", "--quiet", NULL};
  slurm_env("abc", NULL, NULL, "3", NULL);
  tu_expect_cli_error(DLN_CLI, dir, 64, "SLURM_ARRAY_TASK_ID: expected an integer >= 0, found 'abc'", sweep);
  slurm_env("7", "4", NULL, "3", NULL);
  tu_expect_cli_error(DLN_CLI, dir, 64, "SLURM_ARRAY_TASK_ID: expected SLURM_ARRAY_TASK_MIN + k*1 with 0 <= k < 3", sweep);
  slurm_env("1", NULL, NULL, "0", NULL);
  tu_expect_cli_error(DLN_CLI, dir, 64, "SLURM_ARRAY_TASK_COUNT: expected an integer >= 1, found '0'", sweep);
  slurm_env("1", NULL, NULL, NULL, NULL);
  tu_expect_cli_error(DLN_CLI, dir, 64, "neither SLURM_ARRAY_TASK_COUNT nor SLURM_ARRAY_TASK_MAX", sweep);
  slurm_env("3", "5", "2", NULL, NULL);
  tu_expect_cli_error(DLN_CLI, dir, 64, "SLURM_ARRAY_TASK_MAX: expected at least SLURM_ARRAY_TASK_MIN = 5, found 2", sweep);
  /* --array=2-8:2: ID 4 is the second task of 4 */
  slurm_env("4", "2", "8", NULL, "2");
  assert_int_equal(cli(sweep), 0);
  assert_int_equal(access(tu_path(dir, "e/ensemble.shard1of4.csv"), F_OK), 0);
  /* an explicit --shard wins over the variables, even bad ones */
  slurm_env("abc", NULL, NULL, NULL, NULL);
  const char *given[] = {"sweep", "spec.json", "--out", "e", "--quiet", "--shard", "1/2", NULL};
  assert_int_equal(cli(given), 0);
  assert_int_equal(access(tu_path(dir, "e/ensemble.shard1of2.csv"), F_OK), 0);
  char *err = tu_slurp(tu_path(dir, "stderr.txt"));
  assert_null(strstr(err, "Slurm"));
  free(err);
  slurm_env(NULL, NULL, NULL, NULL, NULL);
  /* the command line of merge */
  const char *none[] = {"merge", NULL}, *bad[] = {"merge", "e", "--threads", "0", NULL}, *unk[] = {"merge", "e", "--bogus", NULL};
  tu_expect_cli_error(DLN_CLI, dir, 64, "expected one folder of shards, found 0", none);
  tu_expect_cli_error(DLN_CLI, dir, 64, "option --threads: expected an integer in 1..4096, found '0'", bad);
  tu_expect_cli_error(DLN_CLI, dir, 64, "unknown option '--bogus'", unk);
  const char *nodir[] = {"merge", "nope", NULL};
  tu_expect_cli_error(DLN_CLI, dir, 66, "nope: cannot read the folder", nodir);
}

int main(void) {
  slurm_env(NULL, NULL, NULL, NULL, NULL); /* when run inside a Slurm job */
  dir = tu_tmpdir(0);
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_merge_equals_unsharded), cmocka_unit_test(test_merge_refusals),
                                     cmocka_unit_test(test_slurm_variables)};
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  tu_rmtree(dir);
  return rc;
}
