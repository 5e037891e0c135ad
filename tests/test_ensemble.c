/* Tests of ensembles (dln/ensemble.h, `dln sweep`): the table does not depend on the
 * number of threads; a run repeated alone by `dln run` gives its rows bit for bit;
 * failing runs are reported per run; shards partition the runs; bad sweeps give
 * one-line errors with line:column; OpenBLAS is configured from the calling thread only; a
 * cancel after the last run but before the outputs are committed writes nothing. */
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

#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>

#include <cmocka.h>
#include <jansson.h>

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

/* 24 small runs: factorization 3x4, width 6; gradient flow and gradient descent to t = 2. */
static const char *spec24 =
    "{\n"
    "  \"task\": \"factorization\", \"rows\": 3, \"cols\": 4, \"width\": 6,\n"
    "  \"t_end\": 2, \"samples\": 9, \"eta\": 0.01, \"plot\": false, \"quiet\": true,\n"
    "  \"sweep\": {\n"
    "    \"sigma\": [0.1, 1],\n"
    "    \"method\": [\"flow\", \"gd\"],\n"
    "    \"seed\": {\"from\": 7, \"count\": 6}\n"
    "  }\n"
    "}\n";

static int g_wide; /* keep the eigC_* columns (dln_ensemble_options.wide) */

/* Read spec + sweep from a file in dir, run on `threads` threads into dir/out. */
static int run_file(const char *path, const char *out, int threads, int shard, int nshards, dln_ensemble_result *res) {
  dln_spec s;
  dln_sweep sw;
  dln_sweep_init(&sw);
  assert_int_equal(dln_spec_default(&s), DLN_OK);
  assert_int_equal(dln_spec_from_json_file(&s, path), DLN_OK);
  assert_int_equal(dln_sweep_from_json_file(&sw, path), DLN_OK);
  dln_ensemble_options o;
  dln_ensemble_default_options(&o);
  o.nthreads = threads;
  o.out = out;
  o.shard = shard;
  o.nshards = nshards;
  o.wide = g_wide;
  int st = dln_ensemble_run(&s, &sw, &o, res);
  if (st) fprintf(stderr, "dln_ensemble_run: %s\n", dln_last_error());
  dln_sweep_free(&sw);
  dln_spec_free(&s);
  return st;
}

static void test_threads_identical(void **state) {
  (void)state;
  const char *d = tu_tmpdir(0);
  char spec[256], out[3][256], csv[512];
  snprintf(spec, sizeof spec, "%s/spec.json", d);
  tu_write_text(spec, spec24);
  char *text[3];
  for (int i = 0; i < 3; ++i) {
    dln_ensemble_result r;
    snprintf(out[i], sizeof out[i], "%s/t%d", d, i + 1);
    assert_int_equal(run_file(spec, out[i], i + 1, 0, 1, &r), DLN_OK);
    assert_int_equal(r.nruns, 24);
    assert_int_equal(r.ncomplete, 24);
    assert_int_equal(r.nfailed, 0);
    snprintf(csv, sizeof csv, "%s/ensemble.csv", out[i]);
    text[i] = tu_slurp(csv);
    assert_non_null(text[i]);
  }
  assert_string_equal(text[0], text[1]); /* 1 vs 2 threads */
  assert_string_equal(text[0], text[2]); /* 1 vs 3 threads (oversubscribed) */
  /* 24 runs x 9 samples plus the header */
  int lines = 0;
  for (const char *p = text[0]; *p; ++p) lines += *p == '\n';
  assert_int_equal(lines, 1 + 24 * 9);
  assert_true(strncmp(text[0], "run,seed,stream,sigma,method,t,step,loss", 40) == 0);
  for (int i = 0; i < 3; ++i) free(text[i]);
  tu_rmtree(d);
}

/* The rows of run k in an ensemble CSV with the columns of a trajectory.csv. */
static void compare_rerun(const char *ens_csv, long k, const char *traj_csv) {
  char *e = tu_slurp(ens_csv), *t = tu_slurp(traj_csv);
  assert_non_null(e);
  assert_non_null(t);
  /* header names */
  char *save1, *save2;
  char *eh = strtok_r(e, "\n", &save1), *th = strtok_r(t, "\n", &save2);
  char *ecol[256], *tcol[256];
  int ne = 0, nt = 0;
  char *sv;
  for (char *c = strtok_r(eh, ",", &sv); c && ne < 256; c = strtok_r(NULL, ",", &sv)) ecol[ne++] = c;
  for (char *c = strtok_r(th, ",", &sv); c && nt < 256; c = strtok_r(NULL, ",", &sv)) tcol[nt++] = c;
  int map[256];
  for (int j = 0; j < nt; ++j) {
    map[j] = -1;
    for (int i = 0; i < ne; ++i)
      if (strcmp(ecol[i], tcol[j]) == 0) map[j] = i;
    assert_true(map[j] >= 0);
  }
  int rows = 0;
  for (char *line = strtok_r(NULL, "\n", &save1); line; line = strtok_r(NULL, "\n", &save1)) {
    if (strtol(line, NULL, 10) != k) continue;
    char *tl = strtok_r(NULL, "\n", &save2);
    assert_non_null(tl);
    char *ef[256], *tf[256];
    int nef = 0, ntf = 0;
    for (char *p = line;; ++p) { /* keep empty fields */
      ef[nef++] = p;
      p = strchr(p, ',');
      if (!p || nef == 256) break;
      *p = '\0';
    }
    for (char *p = tl;; ++p) {
      tf[ntf++] = p;
      p = strchr(p, ',');
      if (!p || ntf == 256) break;
      *p = '\0';
    }
    assert_int_equal(ntf, nt);
    for (int j = 0; j < nt; ++j) assert_string_equal(ef[map[j]], tf[j]);
    ++rows;
  }
  assert_null(strtok_r(NULL, "\n", &save2)); /* no extra rows in the rerun */
  assert_true(rows > 1);
  free(e);
  free(t);
}

/* dln with the arguments of cmdline after its first word (split at spaces), plus --quiet. */
static int run_cli(const char *cmdline) {
  char *copy = strdup(cmdline);
  const char *args[64];
  int n = 0;
  char *sv;
  for (char *a = strtok_r(copy, " ", &sv); a && n < 62; a = strtok_r(NULL, " ", &sv)) args[n++] = a;
  args[n++] = "--quiet";
  args[n] = NULL;
  int rc = tu_wait(tu_spawn(DLN_CLI, args + 1, NULL));
  free(copy);
  return rc;
}

/* Write text as dir/spec.json, sweep it on 2 threads with every trajectory column into
 * dir/ens; its ensemble.json (nruns runs, checked) and the paths of ens and ensemble.csv. */
static json_t *sweep_wide(const char *d, const char *text, size_t nruns, char *out, size_t nout, char *csv, size_t ncsv) {
  char spec[256], js[512];
  snprintf(spec, sizeof spec, "%s/spec.json", d);
  snprintf(out, nout, "%s/ens", d);
  tu_write_text(spec, text);
  dln_ensemble_result r;
  g_wide = 1; /* every column of the trajectory, eigC_* included */
  assert_int_equal(run_file(spec, out, 2, 0, 1, &r), DLN_OK);
  g_wide = 0;
  snprintf(csv, ncsv, "%s/ensemble.csv", out);
  snprintf(js, sizeof js, "%s/ensemble.json", out);
  json_error_t err;
  json_t *root = json_load_file(js, 0, &err);
  assert_non_null(root);
  assert_int_equal(json_array_size(json_object_get(root, "runs")), nruns);
  return root;
}

static void test_rerun_alone(void **state) {
  (void)state;
  const char *d = tu_tmpdir(1);
  char out[256], csv[512], traj[512];
  json_t *root = sweep_wide(d, spec24, 24, out, sizeof out, csv, sizeof csv), *runs = json_object_get(root, "runs");
  const long pick[] = {5 /* flow, sigma 0.1 */, 8 /* gd */, 23 /* gd, sigma 1 */};
  for (size_t i = 0; i < sizeof pick / sizeof *pick; ++i) {
    json_t *rk = json_array_get(runs, (size_t)pick[i]);
    assert_int_equal(json_integer_value(json_object_get(rk, "run")), pick[i]);
    const char *line = json_string_value(json_object_get(rk, "rerun"));
    assert_non_null(line);
    assert_int_equal(run_cli(line), 0);
    snprintf(traj, sizeof traj, "%s/rerun/%ld/trajectory.csv", out, pick[i]);
    compare_rerun(csv, pick[i], traj);
  }
  /* all runs of a seed sweep share the data */
  json_t *r0 = json_array_get(runs, 0), *r23 = json_array_get(runs, 23);
  assert_string_equal(json_string_value(json_object_get(r0, "data")), json_string_value(json_object_get(r23, "data")));
  json_decref(root);
  tu_rmtree(d);
}

/* Run the rerun line of runs 0..n-1 of a sweep in out (line_ok checks each line first;
 * needle, if not NULL, must be in the rerun's trajectory header) and compare its rows. */
static void rerun_all(const char *out, const char *csv, json_t *root, long n, void (*line_ok)(long, const char *),
                      const char *needle) {
  json_t *runs = json_object_get(root, "runs");
  char traj[512];
  for (long k = 0; k < n; ++k) {
    const char *line = json_string_value(json_object_get(json_array_get(runs, (size_t)k), "rerun"));
    assert_non_null(line);
    line_ok(k, line);
    assert_int_equal(run_cli(line), 0);
    snprintf(traj, sizeof traj, "%s/rerun/%ld/trajectory.csv", out, k);
    if (needle) {
      char *head = tu_slurp(traj);
      assert_non_null(head);
      assert_non_null(strstr(head, needle));
      free(head);
    }
    compare_rerun(csv, k, traj);
  }
}

/* Sweep spec text (nruns runs) in tu_tmpdir(tmp) as sweep_wide does, then rerun_all. */
static void sweep_and_rerun(int tmp, const char *text, long nruns, void (*line_ok)(long, const char *), const char *needle) {
  const char *d = tu_tmpdir(tmp);
  char out[256], csv[512];
  json_t *root = sweep_wide(d, text, (size_t)nruns, out, sizeof out, csv, sizeof csv);
  rerun_all(out, csv, root, nruns, line_ok, needle);
  json_decref(root);
  tu_rmtree(d);
}

static void data_option_line(long k, const char *line) {
  assert_non_null(strstr(line, "--entries_file="));
  assert_non_null(strstr(line, "--truth_file="));
  assert_null(strstr(line, "--m="));
  assert_non_null(strstr(line, k % 2 ? "--depth=3" : "--depth=2")); /* an option the data do not hold stays */
}

static void blas_line(long k, const char *line) {
  (void)k;
  assert_non_null(strstr(line, " --blas_threads=1"));
}

/* A sweep over an option that draws the data (completion's m) reads each data set from
 * its files; the rerun line names the file and not the option, which `dln run` would
 * refuse beside it ("m: has no effect with entries_file"), passes the data set's W_true.npy
 * as truth_file, and repeats the run bit for bit, the dist_true columns included. */
static void test_rerun_data_option(void **state) {
  (void)state;
  sweep_and_rerun(7,
                  "{\"task\": \"completion\", \"rows\": 6, \"cols\": 6, \"target\": \"lowrank\",\n"
                  " \"singular_values\": [3, 1], \"width\": 6, \"sigma\": 0.01, \"method\": \"gd\", \"eta\": 0.05,\n"
                  " \"t_end\": 5, \"samples\": 4, \"plot\": false, \"quiet\": true,\n"
                  " \"sweep\": {\"m\": [12, 20], \"depth\": [2, 3]}}\n",
                  4, data_option_line, ",dist_true,dist_true_rel,"); /* compared like every column */
}

/* blas_threads = 2 in a sweep's spec: the runs use one BLAS thread each (the workers are
 * the parallelism), and the rerun lines say --blas_threads=1, so a large run (its
 * products and SVDs in OpenBLAS, whose threads sum in another order: the singular values
 * differed in the last bits) repeats its rows bit for bit. */
static void test_rerun_blas_threads(void **state) {
  (void)state;
  sweep_and_rerun(8,
                  "{\"task\": \"factorization\", \"rows\": 160, \"cols\": 160, \"widths\": [160, 160, 160],\n"
                  " \"sigma\": 0.05, \"method\": \"gd\", \"eta\": 1e-3, \"max_steps\": 6, \"samples\": 3,\n"
                  " \"observe\": [\"loss\", \"sv\"], \"blas_threads\": 2, \"plot\": false, \"quiet\": true,\n"
                  " \"sweep\": {\"seed\": [1, 2]}}\n",
                  2, blas_line, NULL);
}

static void test_failing_runs(void **state) {
  (void)state;
  const char *d = tu_tmpdir(2);
  char spec[256], out[256], csv[512];
  snprintf(spec, sizeof spec, "%s/spec.json", d);
  snprintf(out, sizeof out, "%s/ens", d);
  tu_write_text(spec,
             "{\"rows\": 3, \"cols\": 4, \"width\": 6, \"sigma\": 1, \"method\": \"gd\", \"t_end\": 2, \"samples\": 5,\n"
             " \"plot\": false,\n"
             " \"sweep\": {\"runs\": [{\"eta\": 0.01}, {\"eta\": 20, \"t_end\": 2000}, {\"rtol\": -1, \"method\": \"flow\"},\n"
             "                      {\"method\": \"flow\"}]}}\n");
  dln_ensemble_result r;
  assert_int_equal(run_file(spec, out, 2, 0, 1, &r), DLN_OK);
  assert_int_equal(r.nruns, 4);
  assert_int_equal(r.nfailed, 1);
  assert_int_equal(r.ncomplete, 3);
  assert_int_equal(r.ndiverged, 1);
  char js[512];
  snprintf(js, sizeof js, "%s/ensemble.json", out);
  json_error_t err;
  json_t *root = json_load_file(js, 0, &err);
  assert_non_null(root);
  json_t *runs = json_object_get(root, "runs");
  assert_string_equal(json_string_value(json_object_get(json_array_get(runs, 0), "stop_reason")), "time");
  assert_string_equal(json_string_value(json_object_get(json_array_get(runs, 1), "stop_reason")), "diverged");
  json_t *r2 = json_array_get(runs, 2);
  assert_string_equal(json_string_value(json_object_get(r2, "status")), "error");
  assert_non_null(strstr(json_string_value(json_object_get(r2, "error")), "rtol"));
  assert_string_equal(json_string_value(json_object_get(json_array_get(runs, 3), "stop_reason")), "time");
  json_decref(root);
  /* rows for runs 0, 1 (up to the divergence) and 3, none for 2 */
  snprintf(csv, sizeof csv, "%s/ensemble.csv", out);
  char *text = tu_slurp(csv);
  assert_non_null(text);
  int per[4] = {0};
  for (char *p = strchr(text, '\n'); p && p[1]; p = strchr(p + 1, '\n')) {
    long k = strtol(p + 1, NULL, 10);
    assert_true(k >= 0 && k < 4);
    per[k]++;
  }
  assert_int_equal(per[0], 5);
  assert_true(per[1] >= 1);
  assert_int_equal(per[2], 0);
  assert_int_equal(per[3], 5);
  free(text);
  tu_rmtree(d);
}

static void test_shards(void **state) {
  (void)state;
  const char *d = tu_tmpdir(3);
  char spec[256], out[256], p[512];
  snprintf(spec, sizeof spec, "%s/spec.json", d);
  snprintf(out, sizeof out, "%s/ens", d);
  tu_write_text(spec, spec24);
  dln_ensemble_result r;
  assert_int_equal(run_file(spec, out, 1, 0, 1, &r), DLN_OK);
  assert_int_equal(run_file(spec, out, 2, 0, 3, &r), DLN_OK);
  assert_int_equal(r.nselected, 8);
  assert_int_equal(run_file(spec, out, 1, 2, 3, &r), DLN_OK);
  assert_int_equal(run_file(spec, out, 1, 1, 3, &r), DLN_OK);
  /* every row of the full table is in exactly the shard k mod 3, in order */
  snprintf(p, sizeof p, "%s/ensemble.csv", out);
  char *full = tu_slurp(p), *sh[3];
  for (int i = 0; i < 3; ++i) {
    snprintf(p, sizeof p, "%s/ensemble.shard%dof3.csv", out, i);
    sh[i] = tu_slurp(p);
    assert_non_null(sh[i]);
  }
  char *fp = strchr(full, '\n') + 1, *sp[3];
  for (int i = 0; i < 3; ++i) {
    assert_int_equal(strchr(sh[i], '\n') - sh[i], fp - 1 - full); /* same header */
    sp[i] = strchr(sh[i], '\n') + 1;
  }
  while (*fp) {
    long k = strtol(fp, NULL, 10);
    char *e = strchr(fp, '\n');
    size_t n = (size_t)(e - fp) + 1;
    assert_memory_equal(fp, sp[k % 3], n);
    sp[k % 3] += n;
    fp += n;
  }
  for (int i = 0; i < 3; ++i) {
    assert_int_equal(*sp[i], '\0');
    free(sh[i]);
  }
  free(full);
  tu_rmtree(d);
}

/* One line "name:L:C: ..." naming the field. */
static void expect_bad(const char *sweep, int line, int col, const char *needle) {
  char text[1024], prefix[64];
  snprintf(text, sizeof text, "{\n  \"rows\": 3,\n  \"sweep\": {\n    \"sigma\": [0.1, 1],\n    %s\n  }\n}\n", sweep);
  dln_sweep sw;
  dln_sweep_init(&sw);
  int st = dln_sweep_from_json_string(&sw, "s.json", text);
  dln_sweep_free(&sw);
  assert_int_equal(st, DLN_ESPEC);
  const char *m = dln_last_error();
  snprintf(prefix, sizeof prefix, "s.json:%d:%d: ", line, col);
  if (strncmp(m, prefix, strlen(prefix)) != 0 || !strstr(m, needle) || strchr(m, '\n'))
    fail_msg("expected '%s...%s', found '%s'", prefix, needle, m);
}

static void test_bad_sweeps(void **state) {
  (void)state;
  expect_bad("\"frobnicate\": [1, 2]", 5, 5, "sweep field \"frobnicate\": unknown field");
  expect_bad("\"eta\": []", 5, 5, "expected a non-empty list");
  expect_bad("\"eta\": [0.1, \"x\"]", 5, 5, "item 2: expected a number, found \"x\"");
  expect_bad("\"method\": [\"flow\", \"newton\"]", 5, 5, "expected one of");
  expect_bad("\"width\": 5", 5, 5, "expected a non-empty list");
  expect_bad("\"seed\": {\"from\": 1, \"count\": 0}", 5, 5, "count");
  expect_bad("\"sigma0\": {\"from\": 1, \"count\": 2}", 5, 5, "integer fields");
  /* the same range through the C API: no signed overflow in from + i·step */
  {
    dln_sweep sr;
    dln_sweep_init(&sr);
    assert_int_equal(dln_sweep_add_range(&sr, "seed", INT64_MAX - 10, 3, 100), DLN_ESPEC);
    assert_non_null(strstr(dln_last_error(), "expected from + (count - 1)*step within 64-bit integers"));
    assert_int_equal(dln_sweep_add_range(&sr, "seed", INT64_MIN + 10, 3, -100), DLN_ESPEC);
    assert_int_equal(dln_sweep_add_range(&sr, "seed", INT64_MAX - 200, 3, 100), DLN_OK);
    dln_sweep_free(&sr);
  }
  expect_bad("\"out\": [\"a\", \"b\"]", 5, 5, "cannot be swept");
  expect_bad("\"runs\": [{\"eta\": 0.1}, {\"eta\": 1, \"nope\": 2}]", 5, 39, "\"nope\": unknown field");
  expect_bad("\"runs\": [{\"sigma\": 0.5}]", 5, 5, "swept twice");
  /* "sweep" not an object */
  dln_sweep sw;
  dln_sweep_init(&sw);
  assert_int_equal(dln_sweep_from_json_string(&sw, "s.json", "{\"rows\": 3,\n \"sweep\": [1]}"), DLN_ESPEC);
  assert_non_null(strstr(dln_last_error(), "s.json:2:2: field \"sweep\""));
  /* valid sweep: counts; the run spec reader ignores "sweep" */
  assert_int_equal(dln_sweep_from_json_string(&sw, "s.json", spec24), DLN_OK);
  assert_int_equal(dln_sweep_nruns(&sw), 24);
  assert_int_equal(sw.axes[2].line, 7);
  dln_sweep_free(&sw);
  dln_spec s;
  assert_int_equal(dln_spec_default(&s), DLN_OK);
  assert_int_equal(dln_spec_from_json_string(&s, "s.json", spec24), DLN_OK);
  dln_spec_free(&s);
  /* the command line: exit 65 and one line */
  const char *d = tu_tmpdir(0);
  char p[512], cmd[1100];
  snprintf(p, sizeof p, "%s/bad.json", d);
  tu_write_text(p, "{\"sweep\": {\"eta\": []}}\n");
  snprintf(cmd, sizeof cmd, "'%s' sweep '%s' 2>'%s/err.txt'", DLN_CLI, p, d);
  int ws = system(cmd);
  assert_true(WIFEXITED(ws));
  assert_int_equal(WEXITSTATUS(ws), 65);
  snprintf(p, sizeof p, "%s/err.txt", d);
  char *err = tu_slurp(p);
  assert_non_null(err);
  assert_non_null(strstr(err, "bad.json:1:12: sweep field \"eta\""));
  assert_ptr_equal(strchr(err, '\n'), err + strlen(err) - 1);
  free(err);
  tu_rmtree(d);
}

/* A cancelled sweep into a folder holding an earlier sweep's results removes them:
 * nothing is left that looks like the result of the cancelled one. */
static int cancel_now(void *ctx) {
  (void)ctx;
  return 1;
}
/* A cancelled sweep into a folder with an earlier sweep: without force it is refused
 * before anything is written; with force nothing is committed and the earlier table,
 * summary and manifest stay byte for byte. */
static void test_cancel_keeps_earlier(void **state) {
  (void)state;
  const char *d = tu_tmpdir(5);
  char spec[256], out[256], csv[512], js[512];
  snprintf(spec, sizeof spec, "%s/spec.json", d);
  snprintf(out, sizeof out, "%s/ens", d);
  snprintf(csv, sizeof csv, "%s/ensemble.csv", out);
  snprintf(js, sizeof js, "%s/ensemble.json", out);
  tu_write_text(spec, spec24);
  dln_ensemble_result r;
  assert_int_equal(run_file(spec, out, 2, 0, 1, &r), DLN_OK);
  char *csv0 = tu_slurp(csv), *js0 = tu_slurp(js), *man0 = tu_slurp(tu_path(out, "manifest.json"));
  assert_non_null(csv0);
  assert_non_null(js0);
  assert_non_null(man0);
  dln_spec s;
  dln_sweep sw;
  dln_sweep_init(&sw);
  assert_int_equal(dln_spec_default(&s), DLN_OK);
  assert_int_equal(dln_spec_from_json_file(&s, spec), DLN_OK);
  assert_int_equal(dln_sweep_from_json_file(&sw, spec), DLN_OK);
  dln_ensemble_options o;
  dln_ensemble_default_options(&o);
  o.nthreads = 2;
  o.out = out;
  o.cancelled = cancel_now;
  assert_int_equal(dln_ensemble_run(&s, &sw, &o, &r), DLN_EIO); /* refused: no force */
  assert_int_equal(r.fail_phase, DLN_RUN_FAIL_OUTPUT);
  assert_non_null(strstr(dln_last_error(), "--force"));
  s.force = 1;
  assert_int_equal(dln_ensemble_run(&s, &sw, &o, &r), DLN_OK);
  assert_int_equal(r.cancelled, 1);
  char *csv1 = tu_slurp(csv), *js1 = tu_slurp(js), *man1 = tu_slurp(tu_path(out, "manifest.json"));
  assert_non_null(csv1);
  assert_non_null(js1);
  assert_non_null(man1);
  assert_string_equal(csv0, csv1);
  assert_string_equal(js0, js1);
  assert_string_equal(man0, man1);
  free(csv0), free(js0), free(man0), free(csv1), free(js1), free(man1);
  dln_sweep_free(&sw);
  dln_spec_free(&s);
  tu_rmtree(d);
}

/* ------------------------------------------------------------------ OpenBLAS threads and late cancellation */

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

int main(void) {
  main_thread = pthread_self();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_threads_identical), cmocka_unit_test(test_rerun_alone), cmocka_unit_test(test_rerun_data_option), cmocka_unit_test(test_rerun_blas_threads), cmocka_unit_test(test_failing_runs),
      cmocka_unit_test(test_shards),            cmocka_unit_test(test_bad_sweeps), cmocka_unit_test(test_cancel_keeps_earlier),
      cmocka_unit_test(test_sweep_blas_threads_from_main_only), cmocka_unit_test(test_sweep_cancel_after_last_run),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
