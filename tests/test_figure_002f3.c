/* dln figure 002-fig3 --quick (src/run/figures/fig002_3.c): its files and manifest;
 * times.csv's learning times redone from runs/depth<N>/trajectory.csv (first sample with
 * sv_i >= half its final value) and the verdict's gap order; the final relative error
 * recomputed from the layers: W = W_N...W_1 (W<j>_final.npy, a hand-written product)
 * against W_true.npy, rtol 1e-9. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "testutil.h"

#include "dln/io.h"
#include "dln/mat.h"

static char dir[64];

static int exists(const char *p) {
  struct stat sb;
  return stat(p, &sb) == 0;
}

/* times.csv: depth, t_1..t_3, gap_12, gap_23, sv finals, recon_err_rel. */
static void read_times(const char *path, double (*r)[10]) {
  FILE *fp = fopen(path, "r");
  assert_non_null(fp);
  char line[1024];
  assert_non_null(fgets(line, sizeof line, fp));
  for (int d = 0; d < 3; ++d) {
    assert_non_null(fgets(line, sizeof line, fp));
    char *p = line;
    for (int k = 0; k < 10; ++k) r[d][k] = strtod(p, &p), p += *p == ',';
  }
  fclose(fp);
}

/* Learning times of sv_1..sv_3 from a trajectory (its own parse). */
static void times_of(const char *path, double *t) {
  FILE *fp = fopen(path, "r");
  assert_non_null(fp);
  static char line[8192];
  assert_non_null(fgets(line, sizeof line, fp));
  int c[3] = {-1, -1, -1}, k = 0;
  for (char *tok = strtok(line, ",\n"); tok; tok = strtok(NULL, ",\n"), ++k)
    for (int i = 0; i < 3; ++i) {
      char nm[24];
      snprintf(nm, sizeof nm, "sv_%d", i + 1);
      if (strcmp(tok, nm) == 0) c[i] = k;
    }
  double (*rows)[4] = malloc(1000 * sizeof *rows);
  assert_non_null(rows);
  int n = 0;
  while (fgets(line, sizeof line, fp)) {
    assert_true(n < 1000);
    char *p = line;
    for (int j = 0; j < k; ++j) {
      double v = strtod(p, &p);
      p += *p == ',';
      if (j == 0) rows[n][0] = v;
      for (int i = 0; i < 3; ++i)
        if (j == c[i]) rows[n][1 + i] = v;
    }
    ++n;
  }
  fclose(fp);
  for (int i = 0; i < 3; ++i) {
    t[i] = NAN;
    for (int r = 0; r < n && isnan(t[i]); ++r)
      if (rows[r][1 + i] >= rows[n - 1][1 + i] / 2) t[i] = rows[r][0];
  }
  free(rows);
}

/* ||W_N...W_1 - W_true||_F / ||W_true||_F from the run's files. */
static double rel_err(const char *run, int depth) {
  char p[400];
  dln_mat *T = NULL, *L = NULL;
  snprintf(p, sizeof p, "%s/W_true.npy", run);
  assert_int_equal(dln_npy_read(p, &T), 0);
  double *W = NULL;
  int rows = 0, cols = 0;
  for (int j = 1; j <= depth; ++j) {
    snprintf(p, sizeof p, "%s/W%d_final.npy", run, j);
    assert_int_equal(dln_npy_read(p, &L), 0);
    if (!W) {
      rows = L->rows, cols = L->cols;
      W = malloc((size_t)rows * cols * sizeof *W);
      assert_non_null(W);
      memcpy(W, L->data, (size_t)rows * cols * sizeof *W);
    } else { /* W <- L W, column-major */
      assert_int_equal(L->cols, rows);
      double *V = calloc((size_t)L->rows * cols, sizeof *V);
      assert_non_null(V);
      for (int a = 0; a < L->rows; ++a)
        for (int b = 0; b < cols; ++b)
          for (int k = 0; k < rows; ++k)
            V[a + (size_t)b * L->rows] += L->data[a + (size_t)k * L->rows] * W[k + (size_t)b * rows];
      free(W), W = V, rows = L->rows;
    }
    dln_mat_free(L), L = NULL;
  }
  assert_int_equal(rows, T->rows);
  assert_int_equal(cols, T->cols);
  double num = 0, den = 0;
  for (int i = 0; i < rows * cols; ++i) num += pow(W[i] - T->data[i], 2), den += T->data[i] * T->data[i];
  free(W), dln_mat_free(T);
  return sqrt(num / den);
}

static void test_quick(void **state) {
  (void)state;
  char out[128], p[256];
  snprintf(out, sizeof out, "%s/f", dir);
  const char *args[] = {"figure", "002-fig3", "--quick", "--out", out, "--quiet", NULL};
  assert_int_equal(tu_wait(tu_spawn(DLN_CLI, args, dir)), 0);
  const char *names[] = {"manifest.json", "report.md", "plot.py", "times.csv", "runs/depth3/trajectory.csv"};
  for (size_t i = 0; i < sizeof names / sizeof *names; ++i) assert_true(exists(tu_path(out, names[i])));
  char *rep = tu_slurp(tu_path(out, "report.md"));
  assert_non_null(rep);
  assert_non_null(strstr(rep, "verdict: holds"));
  double r[3][10];
  read_times(tu_path(out, "times.csv"), r);
  for (int d = 0; d < 3; ++d) {
    double t[3];
    snprintf(p, sizeof p, "%s/runs/depth%d/trajectory.csv", out, d + 1);
    times_of(p, t);
    for (int i = 0; i < 3; ++i) assert_true(t[i] == r[d][1 + i]);
    snprintf(p, sizeof p, "%s/runs/depth%d", out, d + 1);
    double e = rel_err(p, d + 1);
    assert_true(fabs(e - r[d][9]) <= 1e-9 * r[d][9] + 1e-14);
  }
  /* the verdict: both gaps grow with depth */
  for (int i = 0; i < 2; ++i)
    for (int d = 0; d < 2; ++d) assert_true(r[d + 1][2 + i] - r[d + 1][1 + i] > r[d][2 + i] - r[d][1 + i]);
  assert_true(r[2][9] < 1e-2); /* the 3-layer network recovers the rank-3 truth */
  free(rep);
}

static int setup(void **state) { return (void)state, tu_tmpdir_into(dir, sizeof dir); }

static int teardown(void **state) { return (void)state, tu_rmtree_quiet(dir); }

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_quick)};
  return cmocka_run_group_tests(tests, setup, teardown);
}
