/* dln figure 002-fig1 --quick (src/run/figures/fig002_1.c): its files and manifest; best.csv
 * redone from grid.csv (least iterations per depth); and the linear model's iteration count
 * at its best step size recomputed by a hand-written gradient descent on
 * l(W) = (1/n) sum_i sum_r (W x_i - y_i)_r^4 (002 Claim 1), from the run's X.npy, Y.npy and
 * W1_init.npy: the same first iteration with l <= 1e-4 (tolerance: 1 iteration). */
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

/* Rows of a numeric CSV with a header (4 columns). */
static int read4(const char *path, double (*r)[4], int cap) {
  FILE *fp = fopen(path, "r");
  assert_non_null(fp);
  char line[512];
  assert_non_null(fgets(line, sizeof line, fp));
  int n = 0;
  while (fgets(line, sizeof line, fp)) {
    assert_true(n < cap);
    assert_int_equal(sscanf(line, "%lf,%lf,%lf,%lf", &r[n][0], &r[n][1], &r[n][2], &r[n][3]), 4);
    ++n;
  }
  fclose(fp);
  return n;
}

/* Hand-written GD on the l4 loss of a 1 x d model; first iteration with l <= eps (-1: none). */
static long gd_l4(const dln_mat *X, const dln_mat *Y, double *w, double eta, double eps, long budget) {
  int d = X->rows, n = X->cols;
  double *g = calloc((size_t)d, sizeof *g);
  assert_non_null(g);
  long hit = -1;
  for (long k = 0; k <= budget && hit < 0; ++k) {
    double l = 0;
    memset(g, 0, (size_t)d * sizeof *g);
    for (int i = 0; i < n; ++i) {
      double r = -Y->data[i];
      for (int j = 0; j < d; ++j) r += w[j] * X->data[j + (size_t)i * d];
      l += r * r * r * r / n;
      for (int j = 0; j < d; ++j) g[j] += 4 * r * r * r * X->data[j + (size_t)i * d] / n;
    }
    if (l <= eps) hit = k;
    for (int j = 0; j < d; ++j) w[j] -= eta * g[j];
  }
  free(g);
  return hit;
}

static void test_quick(void **state) {
  (void)state;
  char out[128], p[256];
  snprintf(out, sizeof out, "%s/f", dir);
  const char *args[] = {"figure", "002-fig1", "--quick", "--out", out, "--quiet", NULL};
  assert_int_equal(tu_wait(tu_spawn(DLN_CLI, args, dir)), 0);
  const char *names[] = {"manifest.json", "report.md", "plot.py", "grid.csv", "best.csv", "runs/depth3_eta00/X.npy"};
  for (size_t i = 0; i < sizeof names / sizeof *names; ++i) assert_true(exists(tu_path(out, names[i])));
  char *rep = tu_slurp(tu_path(out, "report.md"));
  assert_non_null(rep);
  assert_non_null(strstr(rep, "002 Claim 1 / Fig. 1"));
  double g[32][4], b[3][4];
  int ng = read4(tu_path(out, "grid.csv"), g, 32), nb = read4(tu_path(out, "best.csv"), b, 3);
  assert_int_equal(ng, 21); /* 3 depths x 7 step sizes */
  assert_int_equal(nb, 3);
  for (int d = 0; d < 3; ++d) {
    double best = INFINITY;
    for (int i = 0; i < ng; ++i)
      if (g[i][0] == d + 1 && isfinite(g[i][2]) && g[i][2] < best) best = g[i][2];
    assert_true(isfinite(best));
    assert_true(b[d][2] == best);
  }
  /* the linear model's best run again, by hand */
  int bi = (int)b[0][3];
  dln_mat *X = NULL, *Y = NULL, *W = NULL;
  snprintf(p, sizeof p, "%s/runs/depth1_eta%02d/X.npy", out, bi);
  assert_int_equal(dln_npy_read(p, &X), 0);
  snprintf(p, sizeof p, "%s/runs/depth1_eta%02d/Y.npy", out, bi);
  assert_int_equal(dln_npy_read(p, &Y), 0);
  snprintf(p, sizeof p, "%s/runs/depth1_eta%02d/W1_init.npy", out, bi);
  assert_int_equal(dln_npy_read(p, &W), 0);
  assert_int_equal(W->rows, 1);
  assert_int_equal(W->cols, X->rows);
  long k = gd_l4(X, Y, W->data, b[0][1], 1e-4, 20000);
  assert_true(k > 0);
  assert_true(labs(k - (long)b[0][2]) <= 1);
  dln_mat_free(X), dln_mat_free(Y), dln_mat_free(W);
  free(rep);
}

static int setup(void **state) { return (void)state, tu_tmpdir_into(dir, sizeof dir); }

static int teardown(void **state) { return (void)state, tu_rmtree_quiet(dir); }

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_quick)};
  return cmocka_run_group_tests(tests, setup, teardown);
}
