/* Tests of a sweep's columns and output formats (docs/cli.md "Sweeps"; issue 12):
 *   - a one-run sweep has every column `dln run` writes (closed-form and bound columns
 *     included, whose presence depends on θ(0)), with the same cells, the wide eigC_*
 *     columns only with `wide`;
 *   - every cell of ensemble.csv is a number (lists expanded, text coded with a legend,
 *     nan where a run has no value), and numpy.loadtxt reads it in one line;
 *   - ensemble.json has typed seeds and overrides;
 *   - DIR/ensemble/<column>.npy holds each column bit for bit (also per shard). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "dln/dln.h"
#include "testutil.h"

/* One run with the theory columns: factorization 5x10, widths 10-20-5 (so eigC_1..20). */
static const char *spec_theory =
    "{\"task\": \"factorization\", \"rows\": 5, \"cols\": 10, \"widths\": [10, 20, 5],\n"
    " \"method\": \"flow\", \"t_end\": 3, \"samples\": 7, \"plot\": false, \"quiet\": true,\n"
    " \"observe\": [\"all\", \"theory\"],\n"
    " \"sweep\": {\"seed\": [3]}}\n";

/* Lists, text and runs that leave an option unset. */
static const char *spec_mixed =
    "{\"task\": \"factorization\", \"rows\": 3, \"cols\": 4, \"widths\": [4, 6, 3],\n"
    " \"t_end\": 1, \"samples\": 4, \"eta\": 0.01, \"plot\": false, \"quiet\": true,\n"
    " \"sweep\": {\"widths\": [[4, 6, 3], [4, 5, 5, 3]], \"method\": [\"flow\", \"gd\"],\n"
    "           \"runs\": [{\"sigma\": 0.25}, {\"init\": \"balanced\"}]}}\n";

static int run_file(const char *path, const char *out, int wide, int shard, int nshards) {
  dln_spec s;
  dln_sweep sw;
  dln_sweep_init(&sw);
  assert_int_equal(dln_spec_default(&s), DLN_OK);
  assert_int_equal(dln_spec_from_json_file(&s, path), DLN_OK);
  assert_int_equal(dln_sweep_from_json_file(&sw, path), DLN_OK);
  dln_ensemble_options o;
  dln_ensemble_default_options(&o);
  o.nthreads = 2;
  o.out = out;
  o.wide = wide;
  o.shard = shard;
  o.nshards = nshards;
  dln_ensemble_result res;
  int st = dln_ensemble_run(&s, &sw, &o, &res);
  if (st) fprintf(stderr, "dln_ensemble_run: %s\n", dln_last_error());
  dln_sweep_free(&sw);
  dln_spec_free(&s);
  return st;
}

/* Split text into lines and lines into cells (in place); returns the number of lines. */
static int split(char *text, char ***cells, int *ncells, int maxl) {
  int n = 0;
  for (char *l = text; *l && n < maxl; ++n) {
    char *e = strchr(l, '\n');
    assert_non_null(e);
    *e = '\0';
    ncells[n] = 0;
    cells[n] = malloc(512 * sizeof **cells);
    for (char *c = l;; ++c) {
      cells[n][ncells[n]++] = c;
      c = strchr(c, ',');
      if (!c || ncells[n] == 512) break;
      *c = '\0';
    }
    l = e + 1;
  }
  return n;
}

static void free_cells(char ***cells, int n) {
  for (int i = 0; i < n; ++i) free(cells[i]);
}

static int find(char **names, int n, const char *name) {
  for (int i = 0; i < n; ++i)
    if (strcmp(names[i], name) == 0) return i;
  return -1;
}

/* The sweep's rows against `dln run`'s trajectory.csv of the same run: same cells in
 * every shared column; the sweep lacks exactly the eigC_* columns unless wide. */
static void compare_with_run(const char *ens_csv, const char *traj_csv, int wide) {
  char *e = tu_slurp(ens_csv), *t = tu_slurp(traj_csv);
  assert_non_null(e);
  assert_non_null(t);
  char **ec[64], **tc[64];
  int ne[64], nt[64];
  int nle = split(e, ec, ne, 64), nlt = split(t, tc, nt, 64);
  assert_int_equal(nle, nlt);
  assert_true(nlt > 3);
  assert_string_equal(ec[0][0], "run");
  assert_string_equal(ec[0][1], "seed");
  assert_string_equal(ec[0][2], "stream");
  int missing = 0;
  for (int j = 0; j < nt[0]; ++j) {
    int i = find(ec[0], ne[0], tc[0][j]);
    int wide_col = strncmp(tc[0][j], "eigC_", 5) == 0;
    if (i < 0) {
      assert_true(wide_col && !wide); /* only the wide columns may be left out */
      ++missing;
      continue;
    }
    for (int r = 1; r < nlt; ++r) assert_string_equal(ec[r][i], tc[r][j]);
  }
  assert_int_equal(missing, wide ? 0 : 20);         /* d_1 = 20 eigenvalues of C_1 */
  assert_int_equal(ne[0], 3 + nt[0] - missing);      /* and no column the run lacks */
  assert_true(find(ec[0], ne[0], "bound_003thm1") >= 0); /* the θ(0)-dependent columns */
  assert_true(find(ec[0], ne[0], "nuclear_norm") >= 0);
  free_cells(ec, nle);
  free_cells(tc, nlt);
  free(e);
  free(t);
}

static void test_columns_as_dln_run(void **state) {
  (void)state;
  const char *d = tu_tmpdir(0);
  char spec[256], out[256], csv[512], js[512], traj[512];
  snprintf(spec, sizeof spec, "%s/spec.json", d);
  tu_write_text(spec, spec_theory);
  for (int wide = 0; wide < 2; ++wide) {
    snprintf(out, sizeof out, "%s/ens%d", d, wide);
    assert_int_equal(run_file(spec, out, wide, 0, 1), DLN_OK);
    snprintf(csv, sizeof csv, "%s/ensemble.csv", out);
    snprintf(js, sizeof js, "%s/ensemble.json", out);
    json_t *root = json_load_file(js, 0, NULL);
    assert_non_null(root);
    const char *line = json_string_value(json_object_get(json_array_get(json_object_get(root, "runs"), 0), "rerun"));
    assert_non_null(line);
    /* the rerun line, as `dln run` is given it */
    char *copy = strdup(line), *sv;
    const char *args[32];
    int n = 0;
    for (char *a = strtok_r(copy, " ", &sv); a && n < 30; a = strtok_r(NULL, " ", &sv)) args[n++] = a;
    args[n++] = "--quiet";
    args[n] = NULL;
    assert_int_equal(tu_wait(tu_spawn(DLN_CLI, args + 1, NULL)), 0);
    free(copy);
    snprintf(traj, sizeof traj, "%s/rerun/0/trajectory.csv", out);
    compare_with_run(csv, traj, wide);
    json_decref(root);
  }
  tu_rmtree(d);
}

/* Every cell of the CSV parses as a number in full. */
static void assert_numeric(const char *csv, int *nrows, int *ncols) {
  char *t = tu_slurp(csv);
  assert_non_null(t);
  char **c[256];
  int nc[256];
  int nl = split(t, c, nc, 256);
  assert_true(nl > 1);
  for (int r = 1; r < nl; ++r) {
    assert_int_equal(nc[r], nc[0]);
    for (int j = 0; j < nc[r]; ++j) {
      char *end;
      strtod(c[r][j], &end);
      if (*c[r][j] == '\0' || *end) fail_msg("row %d column %s: '%s' is not a number", r, c[0][j], c[r][j]);
    }
  }
  *nrows = nl - 1;
  *ncols = nc[0];
  free_cells(c, nl);
  free(t);
}

static void test_numeric_typed(void **state) {
  (void)state;
  const char *d = tu_tmpdir(1);
  char spec[256], out[256], csv[512], js[512];
  snprintf(spec, sizeof spec, "%s/spec.json", d);
  tu_write_text(spec, spec_mixed);
  snprintf(out, sizeof out, "%s/ens", d);
  assert_int_equal(run_file(spec, out, 0, 0, 1), DLN_OK);
  snprintf(csv, sizeof csv, "%s/ensemble.csv", out);
  int nrows, ncols;
  assert_numeric(csv, &nrows, &ncols);
  assert_int_equal(nrows, 8 * 4); /* 8 runs, 4 samples each */
  char *text = tu_slurp(csv);
  assert_true(strncmp(text, "run,seed,stream,widths_0,widths_1,widths_2,widths_3,method,sigma,init,t,", 72) == 0);
  /* run 1: widths 4-6-3 (widths_3 nan), method flow (code 0), runs[1]: init balanced (code 0), sigma unset */
  char *row = strstr(text, "\n1,");
  assert_non_null(row);
  assert_true(strncmp(row, "\n1,1,1,4,6,3,nan,0,nan,0,", 25) == 0);
  row = strstr(text, "\n6,"); /* widths 4-5-5-3, gd (code 1), sigma 0.25, init unset */
  assert_non_null(row);
  assert_true(strncmp(row, "\n6,1,6,4,5,5,3,1,0.25,nan,", 26) == 0);
  free(text);
  snprintf(js, sizeof js, "%s/ensemble.json", out);
  json_t *root = json_load_file(js, 0, NULL);
  assert_non_null(root);
  json_t *lg = json_object_get(root, "legend");
  assert_string_equal(json_string_value(json_array_get(json_object_get(lg, "method"), 1)), "gd");
  assert_string_equal(json_string_value(json_array_get(json_object_get(lg, "init"), 0)), "balanced");
  assert_null(json_object_get(lg, "widths"));
  json_t *r6 = json_array_get(json_object_get(root, "runs"), 6), *ov = json_object_get(r6, "overrides");
  assert_true(json_is_integer(json_object_get(r6, "seed")));
  assert_int_equal(json_integer_value(json_object_get(r6, "seed")), 1);
  assert_true(json_is_array(json_object_get(ov, "widths")));
  assert_int_equal(json_integer_value(json_array_get(json_object_get(ov, "widths"), 3)), 3);
  assert_true(json_is_real(json_object_get(ov, "sigma")));
  assert_true(json_real_value(json_object_get(ov, "sigma")) == 0.25);
  assert_string_equal(json_string_value(json_object_get(ov, "method")), "gd");
  json_t *sw = json_object_get(root, "sweep");
  assert_true(json_is_array(json_array_get(json_object_get(sw, "widths"), 1)));
  json_decref(root);
  /* numpy reads it in one line (docs/cli.md), when NumPy is there */
  if (access("/usr/bin/python3", X_OK) == 0) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c \"import numpy; a = numpy.loadtxt('%s', delimiter=',', skiprows=1); "
             "assert a.shape == (32, %d), a.shape\" 2>/dev/null",
             csv, ncols);
    int rc = system(cmd);
    if (WEXITSTATUS(rc) != 0 && system("/usr/bin/python3 -c 'import numpy' 2>/dev/null") == 0) fail_msg("numpy.loadtxt failed on %s", csv);
  }
  tu_rmtree(d);
}

/* Column j of the CSV against DIR/<name>.npy: the .npy header and every value's bits. */
static void check_npy_dir(const char *csv, const char *dir, long expect_run0) {
  char *t = tu_slurp(csv);
  assert_non_null(t);
  char **c[256];
  int nc[256];
  int nl = split(t, c, nc, 256);
  for (int j = 0; j < nc[0]; ++j) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.npy", dir, c[0][j]);
    if (j >= 3) { /* float64, read by dln's own reader */
      dln_mat *m = NULL;
      assert_int_equal(dln_npy_read(path, &m), DLN_OK);
      assert_int_equal(m->rows * m->cols, nl - 1);
      for (int r = 1; r < nl; ++r) {
        double v = strtod(c[r][j], NULL), w = m->data[r - 1];
        assert_true((isnan(v) && isnan(w)) || memcmp(&v, &w, sizeof v) == 0);
      }
      dln_mat_free(m);
      continue;
    }
    char *b = tu_slurp(path); /* int64 / uint64: the header names the dtype, the data follow it */
    assert_non_null(b);
    assert_non_null(strstr(b + 10, j == 0 ? "'<i8'" : "'<u8'"));
    size_t hl = (unsigned char)b[8] | (size_t)(unsigned char)b[9] << 8;
    assert_int_equal((10 + hl) % 64, 0);
    for (int r = 1; r < nl; ++r) {
      uint64_t v;
      memcpy(&v, b + 10 + hl + 8 * (size_t)(r - 1), 8);
      assert_true(v == strtoull(c[r][j], NULL, 10));
    }
    if (j == 0) {
      uint64_t v0;
      memcpy(&v0, b + 10 + hl, 8);
      assert_int_equal((long)v0, expect_run0);
    }
    free(b);
  }
  free_cells(c, nl);
  free(t);
}

static void test_npy_columns(void **state) {
  (void)state;
  const char *d = tu_tmpdir(2);
  char spec[256], out[256], csv[512], dir[512], man[512];
  snprintf(spec, sizeof spec, "%s/spec.json", d);
  tu_write_text(spec, spec_mixed);
  snprintf(out, sizeof out, "%s/ens", d);
  assert_int_equal(run_file(spec, out, 0, 0, 1), DLN_OK);
  snprintf(csv, sizeof csv, "%s/ensemble.csv", out);
  snprintf(dir, sizeof dir, "%s/ensemble", out);
  check_npy_dir(csv, dir, 0);
  snprintf(man, sizeof man, "%s/manifest.json", out);
  char *m = tu_slurp(man);
  assert_non_null(strstr(m, "\"ensemble/loss.npy\""));
  assert_non_null(strstr(m, "\"ensemble/widths_3.npy\""));
  free(m);
  /* a shard: its own folder, its own runs */
  assert_int_equal(run_file(spec, out, 0, 1, 2), DLN_OK);
  snprintf(csv, sizeof csv, "%s/ensemble.shard1of2.csv", out);
  snprintf(dir, sizeof dir, "%s/ensemble.shard1of2", out);
  check_npy_dir(csv, dir, 1);
  tu_rmtree(d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_columns_as_dln_run),
      cmocka_unit_test(test_numeric_typed),
      cmocka_unit_test(test_npy_columns),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
