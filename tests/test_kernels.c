/* Small-matrix kernels (libxsmm) against the OpenBLAS path: the same network
 * gradient and Hessian-vector product computed both ways must agree to round-off
 * (the paths differ only in summation order), for shapes below and above libxsmm's
 * size threshold, every transposition used in the step, and tied nets. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dln/dln.h"

static void compare(int depth, const int *widths, int tied) {
  dln_rng *rng = dln_rng_alloc(7, (uint64_t)depth * 100 + (uint64_t)widths[1]);
  dln_net *a = NULL, *b = NULL;
  assert_int_equal(dln_net_alloc(&a, depth, widths, tied), DLN_OK);
  assert_int_equal(dln_net_alloc(&b, depth, widths, tied), DLN_OK);
  dln_net_set_small_kernels(a, 1);
  dln_net_set_small_kernels(b, 0);
  dln_mat *T = NULL;
  assert_int_equal(dln_data_gaussian(rng, widths[depth], widths[0], 1.0, &T), DLN_OK);
  dln_loss *loss = NULL;
  assert_int_equal(dln_loss_factorization_alloc(&loss, T), DLN_OK);
  size_t n = a->nparams;
  double *th = malloc(n * sizeof *th), *v = malloc(n * sizeof *v);
  double *ga = malloc(n * sizeof *ga), *gb = malloc(n * sizeof *gb);
  double *ha = malloc(n * sizeof *ha), *hb = malloc(n * sizeof *hb);
  dln_rng_fill_gaussian(rng, th, n, 0.3);
  dln_rng_fill_gaussian(rng, v, n, 1.0);
  double fa, fb;
  assert_int_equal(dln_net_grad(a, loss, th, &fa, ga, NULL), DLN_OK);
  assert_int_equal(dln_net_grad(b, loss, th, &fb, gb, NULL), DLN_OK);
  assert_int_equal(dln_net_hvp(a, loss, th, v, ha), DLN_OK);
  assert_int_equal(dln_net_hvp(b, loss, th, v, hb), DLN_OK);
  /* round-off of sums of ~width products: 1e-12 relative to the norms */
  assert_close(fa, fb, 1e-12, 0);
  assert_true(tu_diffnorm(n, ga, gb) <= 1e-12 * dln_norm2(n, gb));
  assert_true(tu_diffnorm(n, ha, hb) <= 1e-12 * dln_norm2(n, hb));
  /* and the comparison is not vacuous: a perturbed gradient is caught */
  ga[n / 2] += 1e-9 * dln_norm2(n, gb);
  assert_false(tu_diffnorm(n, ga, gb) <= 1e-12 * dln_norm2(n, gb));
  free(th); free(v); free(ga); free(gb); free(ha); free(hb);
  dln_loss_free(loss);
  dln_mat_free(T);
  dln_net_free(a);
  dln_net_free(b);
  dln_rng_free(rng);
}

static void test_small_shapes(void **state) {
  (void)state;
  compare(2, (int[]){10, 50, 5}, 0);
  compare(3, (int[]){2, 2, 2, 2}, 0);
  compare(4, (int[]){6, 3, 8, 4, 5}, 0);
  compare(1, (int[]){7, 4}, 0);
  compare(2, (int[]){5, 9, 5}, 1);
}

static void test_large_shapes(void **state) {
  (void)state;
  compare(2, (int[]){100, 500, 50}, 0);
  compare(3, (int[]){120, 90, 130, 70}, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_small_shapes),
      cmocka_unit_test(test_large_shapes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
