/* Random streams (dln/rng.h) against independent truths:
 *   - MT19937 seeded by init_by_array with the key {0x123, 0x234, 0x345, 0x456} must
 *     reproduce the first outputs published with Matsumoto and Nishimura's
 *     mt19937ar.c (mt19937ar.out): 1067595299 955945823 477289528 4107218783 4228976476
 *     — this also checks that dln writes GSL's state layout correctly;
 *   - (seed, stream) pairs that differ only above bit 31 (which the former 32-bit
 *     seeding folded together) give different streams; the same pair, the same stream;
 *   - uniform draws have mean 1/2 and variance 1/12 within 5 standard errors;
 *   - a key of length < 1 is refused with a message;
 *   - dln_rng_uniform_int never aborts (n = 0, n above 2^32) and stays uniform on [0, n). */
#include "testutil.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "dln/error.h"
#include "dln/rng.h"

static void test_reference_outputs(void **state) {
  (void)state;
  const uint32_t key[4] = {0x123, 0x234, 0x345, 0x456};
  const uint32_t expect[5] = {1067595299u, 955945823u, 477289528u, 4107218783u, 4228976476u};
  dln_rng *r = dln_rng_alloc_key(key, 4);
  assert_non_null(r);
  for (int i = 0; i < 5; ++i) assert_int_equal(dln_rng_get32(r), expect[i]);
  dln_rng_free(r);
  /* dln_rng_alloc(seed, stream) is the key (seed lo, seed hi, stream lo, stream hi) */
  r = dln_rng_alloc(0x0000023400000123ull, 0x0000045600000345ull);
  assert_non_null(r);
  for (int i = 0; i < 5; ++i) assert_int_equal(dln_rng_get32(r), expect[i]);
  dln_rng_free(r);
}

static void first_words(uint64_t seed, uint64_t stream, uint32_t *w) {
  dln_rng *r = dln_rng_alloc(seed, stream);
  assert_non_null(r);
  for (int i = 0; i < 4; ++i) w[i] = dln_rng_get32(r);
  dln_rng_free(r);
}

static void test_distinct_streams(void **state) {
  (void)state;
  const uint64_t pairs[][2] = {{1, 0},
                               {1 + (1ull << 32), 0},
                               {1, 1ull << 32},
                               {0, 1},
                               {1ull << 32, 0},
                               {0, 0},
                               {UINT64_MAX, UINT64_MAX},
                               {UINT64_MAX, 0}};
  const int np = (int)(sizeof pairs / sizeof pairs[0]);
  uint32_t w[8][4];
  for (int i = 0; i < np; ++i) first_words(pairs[i][0], pairs[i][1], w[i]);
  for (int i = 0; i < np; ++i)
    for (int j = i + 1; j < np; ++j) assert_true(memcmp(w[i], w[j], sizeof w[i]) != 0);
  uint32_t again[4];
  first_words(1, 1ull << 32, again);
  assert_memory_equal(again, w[2], sizeof again);
}

static void test_uniform_moments(void **state) {
  (void)state;
  dln_rng *r = dln_rng_alloc(42, 7);
  const int n = 200000;
  double s = 0, s2 = 0;
  for (int i = 0; i < n; ++i) {
    double u = dln_rng_uniform(r);
    assert_true(u >= 0 && u < 1);
    s += u;
    s2 += u * u;
  }
  double mean = s / n, var = s2 / n - mean * mean;
  /* standard errors: sqrt(1/12/n) for the mean, sqrt(1/180/n) for the variance */
  assert_true(fabs(mean - 0.5) <= 5 * sqrt(1.0 / 12 / n));
  assert_true(fabs(var - 1.0 / 12) <= 5 * sqrt(1.0 / 180 / n));
  dln_rng_free(r);
}

static void test_bad_key(void **state) {
  (void)state;
  const uint32_t key[1] = {1};
  assert_null(dln_rng_alloc_key(key, 0));
  assert_non_null(strstr(dln_last_error(), "expected at least one 32-bit word, found 0"));
}

/* src/core/rng.c: gsl_rng_uniform_int(r, 0) (and n above the generator's range) calls
 * GSL's error handler, whose default aborts the process: "the library never aborts". */
static void test_rng_uniform_int_edges(void **state) {
  (void)state;
  dln_rng *r = dln_rng_alloc(11, 2);
  assert_non_null(r);
  assert_int_equal(dln_rng_uniform_int(r, 0), 0);
  assert_int_equal(dln_rng_uniform_int(r, 1), 0);
  for (int i = 0; i < 1000; ++i) assert_true(dln_rng_uniform_int(r, 7) < 7);
#if ULONG_MAX > 0xFFFFFFFFUL
  /* beyond the 32-bit range of MT19937: still uniform on [0, n), and not stuck below 2^32 */
  const unsigned long big = 0x500000000UL; /* 5·2^32 */
  int high = 0;
  for (int i = 0; i < 200; ++i) {
    unsigned long v = dln_rng_uniform_int(r, big);
    assert_true(v < big);
    high += v >= 0x100000000UL;
  }
  assert_true(high > 100); /* 4/5 of the range lies above 2^32 */
  for (int i = 0; i < 50; ++i) assert_true(dln_rng_uniform_int(r, 0x100000000UL) <= 0xFFFFFFFFUL); /* n = 2^32 */
#endif
  /* the small-n path is unchanged: the same draws as before for the same stream */
  dln_rng *a = dln_rng_alloc(5, 0), *b = dln_rng_alloc(5, 0);
  for (int i = 0; i < 100; ++i) assert_int_equal(dln_rng_uniform_int(a, 1000), dln_rng_uniform_int(b, 1000));
  dln_rng_free(a);
  dln_rng_free(b);
  dln_rng_free(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_reference_outputs),
      cmocka_unit_test(test_distinct_streams),
      cmocka_unit_test(test_uniform_moments),
      cmocka_unit_test(test_bad_key),
      cmocka_unit_test(test_rng_uniform_int_edges),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
