/* Tests of src/model/data.c (dln/data.h).
 *
 * Tolerances: low-rank singular values within 1e-12·s_max (absolute), trailing ones
 * ≤ 1e-12·s_max; symmetric eigenvalues within 1e-12·max|λ|; rank(X) counted with
 * threshold 1e-10·s_max; sensing b_i = ⟨W, A_i⟩ within 1e-12·(1 + |b_i|);
 * completion values bit-exact. */
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dln/data.h"
#include "dln/error.h"
#include "dln/mat.h"
#include "dln/rng.h"
#include "testutil.h"

static void svals(const dln_mat *a, double *s) {
  double *w = malloc(sizeof(double) * a->rows * a->cols);
  assert_int_equal(dln_singular_values(a->rows, a->cols, a->data, s, w), DLN_OK);
  free(w);
}

static void test_gaussian(void **state) {
  (void)state;
  dln_rng *r = dln_rng_alloc(1, 0);
  dln_mat *a = NULL, *b = NULL;
  assert_int_equal(dln_data_gaussian(r, 200, 150, 0.5, &a), DLN_OK);
  assert_int_equal(a->rows, 200);
  assert_int_equal(a->cols, 150);
  double s = 0;
  for (int i = 0; i < 200 * 150; ++i) s += a->data[i] * a->data[i];
  assert_close(sqrt(s / (200 * 150)), 0.5, 0.02, 0); /* 30000 draws: std error ~0.4% */
  dln_rng *r2 = dln_rng_alloc(1, 0);
  assert_int_equal(dln_data_gaussian(r2, 200, 150, 0.5, &b), DLN_OK);
  assert_memory_equal(a->data, b->data, sizeof(double) * 200 * 150);
  dln_mat_free(a);
  dln_mat_free(b);
  assert_int_equal(dln_data_gaussian(r, 3, 3, -1.0, &a), DLN_EINVAL);
  assert_null(a);
  assert_non_null(strstr(dln_last_error(), "sigma"));
  dln_rng_free(r);
  dln_rng_free(r2);
}

static void test_lowrank(void **state) {
  (void)state;
  dln_rng *r = dln_rng_alloc(2, 0);
  int shapes[][3] = {{7, 5, 3}, {4, 9, 4}, {6, 6, 1}};
  double s_in[] = {0.5, 3.0, 1.2, 0.01};
  for (int t = 0; t < 3; ++t) {
    int rows = shapes[t][0], cols = shapes[t][1], nsv = shapes[t][2];
    dln_mat *a = NULL;
    assert_int_equal(dln_data_lowrank(r, rows, cols, nsv, s_in, &a), DLN_OK);
    assert_int_equal(a->rows, rows);
    assert_int_equal(a->cols, cols);
    int k = rows < cols ? rows : cols;
    double s[16], want[16] = {0};
    svals(a, s);
    memcpy(want, s_in, sizeof(double) * nsv);
    qsort(want, nsv, sizeof(double), tu_cmp_desc);
    double smax = want[0];
    for (int i = 0; i < k; ++i) assert_close(s[i], want[i], 0, 1e-12 * smax);
    assert_int_equal(tu_rank(a->rows, a->cols, a->data), nsv);
    dln_mat_free(a);
  }
  dln_mat *a = NULL;
  dln_error_clear();
  assert_int_equal(dln_data_lowrank(r, 3, 4, 4, s_in, &a), DLN_EINVAL);
  assert_non_null(strstr(dln_last_error(), "nsv"));
  double neg[] = {1.0, -1.0};
  assert_int_equal(dln_data_lowrank(r, 3, 4, 2, neg, &a), DLN_EINVAL);
  assert_null(a);
  dln_rng_free(r);
}

static void test_symmetric(void **state) {
  (void)state;
  dln_rng *r = dln_rng_alloc(3, 0);
  double lambda[] = {-2.0, 0.5, 3.0, 0.0, -0.1, 1.0};
  int m = 6;
  dln_mat *y = NULL;
  assert_int_equal(dln_data_symmetric(r, m, lambda, &y), DLN_OK);
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < m; ++j) assert_true(y->data[i + j * m] == y->data[j + i * m]);
  double a[36], ev[6], want[6];
  memcpy(a, y->data, sizeof a);
  tu_syev(m, a, ev, 0);
  memcpy(want, lambda, sizeof want);
  qsort(want, m, sizeof(double), tu_cmp_asc);
  for (int i = 0; i < m; ++i) assert_close(ev[i], want[i], 0, 1e-12 * 3.0);
  dln_mat_free(y);
  double bad[] = {1.0, NAN};
  assert_int_equal(dln_data_symmetric(r, 2, bad, &y), DLN_EINVAL);
  assert_non_null(strstr(dln_last_error(), "lambda[1]"));
  dln_rng_free(r);
}

static void test_regression(void **state) {
  (void)state;
  dln_rng *r = dln_rng_alloc(4, 0);
  dln_mat *X = NULL, *Y = NULL;
  /* rank-deficient X */
  assert_int_equal(dln_data_regression(r, 10, 3, 6, 3, NULL, 0.0, &X, &Y), DLN_OK);
  assert_int_equal(X->rows, 10);
  assert_int_equal(X->cols, 6);
  assert_int_equal(Y->rows, 3);
  assert_int_equal(Y->cols, 6);
  assert_int_equal(tu_rank(X->rows, X->cols, X->data), 3);
  dln_mat_free(X);
  dln_mat_free(Y);
  /* full rank, both orientations */
  assert_int_equal(dln_data_regression(r, 10, 3, 6, 0, NULL, 0.0, &X, &Y), DLN_OK);
  assert_int_equal(tu_rank(X->rows, X->cols, X->data), 6);
  dln_mat_free(X);
  dln_mat_free(Y);
  assert_int_equal(dln_data_regression(r, 4, 3, 9, 0, NULL, 0.0, &X, &Y), DLN_OK);
  assert_int_equal(tu_rank(X->rows, X->cols, X->data), 4);
  dln_mat_free(X);
  dln_mat_free(Y);
  /* Y = W X exactly when noise = 0 */
  dln_mat *W = dln_mat_alloc(2, 4);
  for (int i = 0; i < 8; ++i) W->data[i] = 0.3 * i - 1.0;
  assert_int_equal(dln_data_regression(r, 4, 2, 7, 2, W, 0.0, &X, &Y), DLN_OK);
  assert_int_equal(tu_rank(X->rows, X->cols, X->data), 2);
  for (int s = 0; s < 7; ++s)
    for (int i = 0; i < 2; ++i) {
      double y = 0;
      for (int k = 0; k < 4; ++k) y += W->data[i + 2 * k] * X->data[k + 4 * s];
      assert_close(Y->data[i + 2 * s], y, 1e-12, 1e-12);
    }
  dln_mat_free(X);
  dln_mat_free(Y);
  /* noise level: residual std close to noise (2 x 4000 residuals, 5%) */
  assert_int_equal(dln_data_regression(r, 4, 2, 4000, 0, W, 0.1, &X, &Y), DLN_OK);
  double ss = 0;
  for (int s = 0; s < 4000; ++s)
    for (int i = 0; i < 2; ++i) {
      double y = 0;
      for (int k = 0; k < 4; ++k) y += W->data[i + 2 * k] * X->data[k + 4 * s];
      ss += (Y->data[i + 2 * s] - y) * (Y->data[i + 2 * s] - y);
    }
  assert_close(sqrt(ss / 8000), 0.1, 0.05, 0);
  dln_mat_free(X);
  dln_mat_free(Y);
  /* errors */
  dln_error_clear();
  assert_int_equal(dln_data_regression(r, 5, 2, 4, 2, W, 0.0, &X, &Y), DLN_EDIM);
  assert_non_null(strstr(dln_last_error(), "W_true"));
  assert_int_equal(dln_data_regression(r, 5, 2, 4, 5, NULL, 0.0, &X, &Y), DLN_EINVAL);
  assert_non_null(strstr(dln_last_error(), "x_rank"));
  assert_null(X);
  assert_null(Y);
  dln_mat_free(W);
  dln_rng_free(r);
}

static void test_sensing(void **state) {
  (void)state;
  dln_rng *r = dln_rng_alloc(5, 0);
  int rows = 4, cols = 3, m = 20;
  dln_mat *W = NULL, *A = NULL, *b = NULL;
  assert_int_equal(dln_data_gaussian(r, rows, cols, 1.0, &W), DLN_OK);
  assert_int_equal(dln_data_sensing(r, W, m, &A, &b), DLN_OK);
  assert_int_equal(A->rows, rows * cols);
  assert_int_equal(A->cols, m);
  assert_int_equal(b->rows, m);
  assert_int_equal(b->cols, 1);
  for (int i = 0; i < m; ++i) {
    const double *Ai = A->data + (size_t)i * rows * cols; /* A_i, rows x cols column-major */
    double ip = 0;
    for (int c = 0; c < cols; ++c)
      for (int q = 0; q < rows; ++q) ip += Ai[q + c * rows] * W->data[q + c * rows];
    assert_close(b->data[i], ip, 0, 1e-12 * (1 + fabs(ip)));
  }
  dln_mat_free(A);
  dln_mat_free(b);
  assert_int_equal(dln_data_sensing(r, W, 0, &A, &b), DLN_EINVAL);
  assert_null(A);
  dln_mat_free(W);
  dln_rng_free(r);
}

static void check_completion(dln_rng *r, const dln_mat *W, int m) {
  dln_mat *e = NULL;
  assert_int_equal(dln_data_completion(r, W, m, &e), DLN_OK);
  assert_int_equal(e->rows, m);
  assert_int_equal(e->cols, 3);
  int total = W->rows * W->cols;
  char *seen = calloc(total, 1);
  for (int i = 0; i < m; ++i) {
    double rr = e->data[i], cc = e->data[i + m];
    assert_true(rr == floor(rr) && cc == floor(cc));
    int ri = (int)rr, ci = (int)cc;
    assert_in_range(ri, 0, W->rows - 1);
    assert_in_range(ci, 0, W->cols - 1);
    int idx = ri + ci * W->rows;
    assert_false(seen[idx]); /* distinct */
    seen[idx] = 1;
    assert_true(e->data[i + 2 * m] == W->data[idx]);
  }
  free(seen);
  dln_mat_free(e);
}

static void test_completion(void **state) {
  (void)state;
  dln_rng *r = dln_rng_alloc(6, 0);
  dln_mat *W = NULL;
  assert_int_equal(dln_data_gaussian(r, 5, 4, 1.0, &W), DLN_OK);
  check_completion(r, W, 7);
  check_completion(r, W, 20); /* every entry */
  check_completion(r, W, 1);
  /* roughly uniform: 3000 draws of 3 of 20 entries, each expected 450 times */
  int cnt[20] = {0};
  for (int t = 0; t < 3000; ++t) {
    dln_mat *e = NULL;
    assert_int_equal(dln_data_completion(r, W, 3, &e), DLN_OK);
    for (int i = 0; i < 3; ++i) cnt[(int)e->data[i] + 5 * (int)e->data[i + 3]]++;
    dln_mat_free(e);
  }
  for (int i = 0; i < 20; ++i) assert_in_range(cnt[i], 360, 540); /* ±20%, > 4 std */
  dln_mat *e = NULL;
  dln_error_clear();
  assert_int_equal(dln_data_completion(r, W, 21, &e), DLN_EINVAL);
  assert_non_null(strstr(dln_last_error(), "m"));
  assert_null(e);
  dln_mat_free(W);
  dln_rng_free(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_gaussian),   cmocka_unit_test(test_lowrank), cmocka_unit_test(test_symmetric),
      cmocka_unit_test(test_regression), cmocka_unit_test(test_sensing), cmocka_unit_test(test_completion),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
