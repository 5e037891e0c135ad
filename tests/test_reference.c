/* The reference solution a run reports: for an under-determined regression the run
 * folder holds W_ref.npy, which must be the minimum-norm least-squares solution
 * Y X^† (003 §2.1), computed here independently from the normal equations of the
 * full-column-rank X (n < d_0): W* = Y (X^T X)^{-1} X^T; and summary.json's L* is 0. */
#include "testutil.h"

#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dln/dln.h"

static void test_regression_reference(void **state) {
  (void)state;
  const char *dir = tu_tmpdir(0);
  assert_non_null(dir);
  char out[256], path[300];
  snprintf(out, sizeof out, "%s/reg", dir);
  dln_spec spec;
  assert_int_equal(dln_spec_default(&spec), DLN_OK);
  const char *kv[][2] = {{"task", "regression"}, {"rows", "3"},   {"cols", "12"},     {"widths", "12,7,3"},
                         {"n_samples", "5"},     {"t_end", "1"},  {"method", "flow"}, {"plot", "false"},
                         {"quiet", "true"},      {"out", out}};
  for (size_t i = 0; i < sizeof kv / sizeof kv[0]; ++i) assert_int_equal(dln_spec_set(&spec, kv[i][0], kv[i][1]), DLN_OK);
  dln_run_result res;
  assert_int_equal(dln_run_noplot(&spec, NULL, &res), DLN_OK);
  dln_mat *X = NULL, *Y = NULL, *Wr = NULL;
  snprintf(path, sizeof path, "%s/X.npy", out);
  assert_int_equal(dln_npy_read(path, &X), DLN_OK);
  snprintf(path, sizeof path, "%s/Y.npy", out);
  assert_int_equal(dln_npy_read(path, &Y), DLN_OK);
  snprintf(path, sizeof path, "%s/W_ref.npy", out);
  assert_int_equal(dln_npy_read(path, &Wr), DLN_OK);
  int d0 = X->rows, n = X->cols, m = Y->rows;
  assert_int_equal(Wr->rows, m);
  assert_int_equal(Wr->cols, d0);
  /* G = X^T X (n x n), solve G Z = X^T, then W* = Y Z */
  double *G = calloc((size_t)n * n, sizeof *G), *Z = calloc((size_t)n * d0, sizeof *Z);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j)
      for (int k = 0; k < d0; ++k) G[i + j * n] += X->data[k + i * d0] * X->data[k + j * d0];
  for (int i = 0; i < n; ++i)
    for (int k = 0; k < d0; ++k) Z[i + k * n] = X->data[k + i * d0];
  assert_int_equal(LAPACKE_dposv(LAPACK_COL_MAJOR, 'U', n, d0, G, n, Z, n), 0);
  double err = 0, nrm = 0;
  for (int i = 0; i < m; ++i)
    for (int k = 0; k < d0; ++k) {
      double w = 0;
      for (int j = 0; j < n; ++j) w += Y->data[i + j * m] * Z[j + k * n];
      err += (w - Wr->data[i + k * m]) * (w - Wr->data[i + k * m]);
      nrm += w * w;
    }
  /* conditioning of X^T X for 5 Gaussian samples in 12 dimensions: 1e-10 is ample */
  assert_true(sqrt(err) <= 1e-10 * sqrt(nrm));
  assert_true(nrm > 0);
  free(G);
  free(Z);
  dln_mat_free(X);
  dln_mat_free(Y);
  dln_mat_free(Wr);
  dln_spec_free(&spec);
  tu_rmtree(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_regression_reference)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
