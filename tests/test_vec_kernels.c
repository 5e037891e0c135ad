/* The RK loop's vector kernels (src/dynamics/nvec_fast.c) against plain loops.
 *
 *   lincomb         out = y + Σ c_k X_k for m = 0..20 terms (zeros among them), y or NULL,
 *                   n from 1 to 1001 (vector bodies and every tail length): equal (==, so
 *                   only the sign of a zero may differ) to the sum taken left to right over
 *                   the non-zero terms — the order the header states, however the kernel
 *                   splits it into passes of 4 or 8 terms; dln_vec_lincomb gives the same
 *                   bits as dln_vec_lincomb_chk
 *   lincomb4        four rows in one pass equal (==) to four dln_vec_lincomb calls, with the
 *                   rows sharing their zeros or not (m = 1..16: the 12- and 16-term kernels
 *                   and their padding); −1 for m > 16 or no term
 *   non-finite      the flag of dln_vec_lincomb_chk is 1 exactly when out has a NaN or ±Inf:
 *                   one NaN, +Inf or −Inf planted at every position of a term with c_k ≠ 0
 *                   (first pass or a later one), in y, or an overflow of finite terms; 0 for
 *                   a non-finite term whose c_k = 0 (dropped) and for finite sums
 *   nonfinite       dln_vec_nonfinite on the same planted values, and 0 on ±DBL_MAX
 *   err_ms          the RK error norms without stored estimates: equal bit for bit to a plain
 *                   loop in the header's order (terms left to right, squares by lane i mod 4,
 *                   (s0 + s1) + (s2 + s3)) for n = 1..1001 and 1..8 terms, with and without
 *                   the second estimate; within 1e-14 of dln_vec_lincomb + dln_vec_wms2_max;
 *                   −1 and nothing written for 9 terms, no terms or n = 0
 *   diff_norms      ‖a − b‖², ‖c − d‖² bit for bit in the stated order (lanes by i mod 4) and
 *                   a − b written exactly, n = 1..1001; ab = NULL accepted
 *   dln_norm2       (src/core/mat.c) against a long-double scaled sum: within (n + 2)·ε for
 *                   N(0, s²) vectors at s = 1, 1e-170 and 1e170 (the last two through the
 *                   scaled fallback) and n = 1..1001; 0 for zeros and n = 0, Inf for an Inf
 *                   entry, NaN for a NaN entry, DBL_MAX/√2 for two entries DBL_MAX/2 */
#include "testutil.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dln/mat.h"
#include "dynamics/nvec_fast.h"

enum { MAXN = 1001, MAXM = 20 };

/* y (or 0) plus the non-zero terms, left to right */
static double ref_entry(size_t i, const double *y, int m, const double *c, const double *const *X) {
  int first = 1;
  double v = 0.0;
  if (y) v = y[i], first = 0;
  for (int k = 0; k < m; ++k) {
    if (c[k] == 0.0) continue;
    v = first ? c[k] * X[k][i] : v + c[k] * X[k][i];
    first = 0;
  }
  return v;
}

static void test_lincomb_order(void **state) {
  (void)state;
  const size_t ns[] = {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 750, 1001};
  double *buf = malloc((size_t)(MAXM + 3) * MAXN * sizeof(double));
  double *y = buf, *out = buf + MAXN, *out2 = buf + 2 * MAXN, c[MAXM];
  const double *X[MAXM];
  for (int k = 0; k < MAXM; ++k) X[k] = buf + (size_t)(3 + k) * MAXN;
  for (size_t i = 0; i < (size_t)(MAXM + 3) * MAXN; ++i) buf[i] = tu_grand();
  long checked = 0;
  for (size_t a = 0; a < sizeof ns / sizeof *ns; ++a)
    for (int m = 0; m <= MAXM; ++m)
      for (int withy = 0; withy < 2; ++withy) {
        size_t n = ns[a];
        for (int k = 0; k < m; ++k) c[k] = (k % 5 == 3) ? 0.0 : tu_grand() * 1e3; /* every fifth term dropped */
        int bad = dln_vec_lincomb_chk(n, withy ? y : NULL, m, c, X, out);
        dln_vec_lincomb(n, withy ? y : NULL, m, c, X, out2);
        assert_int_equal(bad, 0);
        assert_memory_equal(out, out2, n * sizeof(double));
        for (size_t i = 0; i < n; ++i) {
          double r = ref_entry(i, withy ? y : NULL, m, c, (const double *const *)X);
          if (!(out[i] == r)) fail_msg("n %zu m %d y %d: entry %zu is %.17g, left to right %.17g", n, m, withy, i, out[i], r);
          ++checked;
        }
      }
  if (tu_verbose()) print_message("%ld entries equal to the left-to-right sums\n", checked);
  free(buf);
}

static void test_lincomb4(void **state) {
  (void)state;
  const size_t ns[] = {1, 3, 4, 5, 17, 750, 1001};
  double *buf = malloc((size_t)(16 + 8) * MAXN * sizeof(double));
  const double *X[16];
  double *out[4], *ref[4], c[4][16];
  for (int k = 0; k < 16; ++k) X[k] = buf + (size_t)k * MAXN;
  for (int r = 0; r < 4; ++r) out[r] = buf + (size_t)(16 + r) * MAXN, ref[r] = buf + (size_t)(20 + r) * MAXN;
  for (size_t i = 0; i < (size_t)16 * MAXN; ++i) buf[i] = tu_grand();
  for (size_t a = 0; a < sizeof ns / sizeof *ns; ++a)
    for (int m = 1; m <= 16; ++m)
      for (int shared = 0; shared < 2; ++shared) {
        size_t n = ns[a];
        for (int k = 0; k < m; ++k)
          for (int r = 0; r < 4; ++r) /* shared: columns 2 mod 5 zero in every row; else row r also zero at k = r */
            c[r][k] = k % 5 == 2 || (!shared && k == r && m > 4) ? 0.0 : 10.0 * tu_grand();
        assert_int_equal(dln_vec_lincomb4(n, m, (const double (*)[16])c, X, out), 0);
        for (int r = 0; r < 4; ++r) {
          dln_vec_lincomb(n, NULL, m, c[r], X, ref[r]);
          for (size_t i = 0; i < n; ++i) {
            /* a row's own zero adds 0·X_k = ±0: the same value either way */
            if (!(out[r][i] == ref[r][i]))
              fail_msg("n %zu m %d row %d entry %zu: %.17g, four calls %.17g", n, m, r, i, out[r][i], ref[r][i]);
          }
        }
      }
  memset(c, 0, sizeof c);
  assert_int_equal(dln_vec_lincomb4(5, 16, (const double (*)[16])c, X, out), -1);
  assert_int_equal(dln_vec_lincomb4(5, 17, (const double (*)[16])c, X, out), -1);
  free(buf);
}

static void test_lincomb_nonfinite(void **state) {
  (void)state;
  const size_t n = 37; /* 9 vector bodies of 4 and a tail of 1 */
  const int m = 13;    /* two passes: 8 + 5 terms */
  const double bads[3] = {NAN, INFINITY, -INFINITY};
  double *buf = malloc((size_t)(m + 2) * n * sizeof(double));
  double *y = buf, *out = buf + n, c[13];
  double *Xw[13];
  const double *X[13];
  for (int k = 0; k < m; ++k) Xw[k] = buf + (size_t)(2 + k) * n, X[k] = Xw[k];
  for (size_t i = 0; i < (size_t)(m + 2) * n; ++i) buf[i] = tu_grand();
  for (int k = 0; k < m; ++k) c[k] = k == 6 ? 0.0 : 0.5 + k;
  assert_int_equal(dln_vec_lincomb_chk(n, y, m, c, X, out), 0);
  assert_int_equal(dln_vec_nonfinite(n, out), 0);
  for (int b = 0; b < 3; ++b)
    for (size_t i = 0; i < n; ++i) {
      for (int k = -1; k < m; ++k) { /* k = −1: plant in y */
        double *p = k < 0 ? &y[i] : &Xw[k][i], keep = *p;
        *p = bads[b];
        int bad = dln_vec_lincomb_chk(n, y, m, c, X, out);
        int expect = k != 6; /* term 6 has c = 0: dropped */
        if (bad != expect) fail_msg("%g planted at %zu of %s%d: flag %d, expected %d", bads[b], i, k < 0 ? "y" : "X_", k, bad, expect);
        assert_int_equal(dln_vec_nonfinite(n, out), expect);
        *p = keep;
      }
      assert_int_equal(dln_vec_nonfinite(n, X[0]), 0);
      Xw[0][i] = bads[b];
      assert_int_equal(dln_vec_nonfinite(n, X[0]), 1);
      Xw[0][i] = tu_grand();
    }
  /* an overflow of finite terms is reported; ±DBL_MAX alone is finite */
  double big[4] = {DBL_MAX, -DBL_MAX, DBL_MAX, 1.0}, two[2] = {1.0, 1.0};
  const double *XX[2] = {big, big};
  assert_int_equal(dln_vec_nonfinite(4, big), 0);
  assert_int_equal(dln_vec_lincomb_chk(4, NULL, 2, two, XX, out), 1);
  assert_true(isinf(out[0]) && isinf(out[1]) && out[3] == 2.0);
  free(buf);
}

/* the header's order, spelled out */
static void ref_err_ms(size_t n, int m, const double *c, const double *c3, const double *const *X, const double *y0,
                       const double *y1, double rtol, double atol, double *ms, double *ms3) {
  double a[4] = {0, 0, 0, 0}, b[4] = {0, 0, 0, 0};
  for (size_t i = 0; i < n; ++i) {
    double e = 0, f = 0;
    int first = 1;
    for (int k = 0; k < m; ++k) {
      if (c[k] == 0.0 && !(c3 && c3[k] != 0.0)) continue;
      double ck = c[k], dk = c3 ? c3[k] : 0.0;
      e = first ? ck * X[k][i] : e + ck * X[k][i];
      f = first ? dk * X[k][i] : f + dk * X[k][i];
      first = 0;
    }
    double u = fabs(y0[i]), v = fabs(y1[i]), w = 1.0 / (atol + rtol * (u > v ? u : v));
    e *= w, f *= w;
    a[i % 4] += e * e, b[i % 4] += f * f;
  }
  *ms = ((a[0] + a[1]) + (a[2] + a[3])) / (double)n;
  *ms3 = ((b[0] + b[1]) + (b[2] + b[3])) / (double)n;
}

static void test_err_ms(void **state) {
  (void)state;
  const size_t ns[] = {1, 3, 4, 5, 63, 64, 65, 129, 750, 1001};
  double *buf = malloc((size_t)(MAXM + 4) * MAXN * sizeof(double));
  double *y0 = buf, *y1 = buf + MAXN, *e = buf + 2 * MAXN, *e3 = buf + 3 * MAXN, c[MAXM], c3[MAXM];
  const double *X[MAXM];
  for (int k = 0; k < MAXM; ++k) X[k] = buf + (size_t)(4 + k) * MAXN;
  for (size_t i = 0; i < (size_t)(MAXM + 4) * MAXN; ++i) buf[i] = tu_grand();
  double worst = 0;
  for (size_t a = 0; a < sizeof ns / sizeof *ns; ++a)
    for (int m = 1; m <= 13; ++m)
      for (int two = 0; two < 2; ++two) {
        size_t n = ns[a];
        int terms = 0; /* columns with a non-zero c or c3: zeros in one of them at 2 mod 4 */
        for (int k = 0; k < m; ++k) {
          c[k] = k % 4 == 2 ? 0.0 : 1e-3 * tu_grand();
          c3[k] = k % 3 == 1 ? 0.0 : 1e-3 * tu_grand();
          if (k == 5) c[k] = c3[k] = 0.0; /* a column both drop */
          terms += c[k] != 0.0 || (two && c3[k] != 0.0);
        }
        double ms = -1, ms3 = -1, r, r3;
        int st = dln_vec_err_ms(n, m, c, two ? c3 : NULL, X, y0, y1, 1e-8, 1e-10, &ms, two ? &ms3 : NULL);
        if (terms > 8 || terms == 0) {
          assert_int_equal(st, -1);
          assert_true(ms == -1 && ms3 == -1);
          continue;
        }
        assert_int_equal(st, 0);
        ref_err_ms(n, m, c, two ? c3 : NULL, X, y0, y1, 1e-8, 1e-10, &r, &r3);
        assert_memory_equal(&ms, &r, sizeof r);
        if (two) assert_memory_equal(&ms3, &r3, sizeof r3);
        /* the stored-estimate path, summed in another order */
        double w5, w3;
        dln_vec_lincomb(n, NULL, m, c, X, e);
        dln_vec_lincomb(n, NULL, m, c3, X, e3);
        dln_vec_wms2_max(n, e, e3, y0, y1, 1e-8, 1e-10, &w5, &w3);
        double d = fabs(ms - w5) / w5;
        if (two) d = fmax(d, fabs(ms3 - w3) / w3);
        worst = fmax(worst, d);
        assert_true(d <= 1e-14);
      }
  if (tu_verbose()) print_message("err_ms vs lincomb + wms2: worst relative difference %.3g\n", worst);
  double ms = -1;
  assert_int_equal(dln_vec_err_ms(0, 1, c, NULL, X, y0, y1, 1e-8, 1e-10, &ms, NULL), -1);
  c[0] = 0.0;
  assert_int_equal(dln_vec_err_ms(5, 1, c, NULL, X, y0, y1, 1e-8, 1e-10, &ms, NULL), -1);
  assert_true(ms == -1);
  free(buf);
}

static void test_diff_norms(void **state) {
  (void)state;
  const size_t ns[] = {1, 3, 4, 5, 63, 64, 65, 750, 1001};
  double *buf = malloc(6 * (size_t)MAXN * sizeof(double));
  double *a = buf, *b = buf + MAXN, *c = buf + 2 * MAXN, *d = buf + 3 * MAXN, *ab = buf + 4 * MAXN;
  for (size_t i = 0; i < 4 * (size_t)MAXN; ++i) buf[i] = tu_grand();
  for (size_t k = 0; k < sizeof ns / sizeof *ns; ++k) {
    size_t n = ns[k];
    double s[4] = {0, 0, 0, 0}, t[4] = {0, 0, 0, 0}, x2, y2, x2b, y2b;
    for (size_t i = 0; i < n; ++i) {
      double x = a[i] - b[i], y = c[i] - d[i];
      s[i % 4] += x * x, t[i % 4] += y * y;
    }
    double rs = (s[0] + s[1]) + (s[2] + s[3]), rt = (t[0] + t[1]) + (t[2] + t[3]);
    dln_vec_diff_norms(n, a, b, c, d, ab, &x2, &y2);
    dln_vec_diff_norms(n, a, b, c, d, NULL, &x2b, &y2b);
    assert_memory_equal(&x2, &rs, sizeof rs);
    assert_memory_equal(&y2, &rt, sizeof rt);
    assert_memory_equal(&x2b, &rs, sizeof rs);
    assert_memory_equal(&y2b, &rt, sizeof rt);
    for (size_t i = 0; i < n; ++i) assert_true(ab[i] == a[i] - b[i]);
  }
  free(buf);
}

static long double ref_norm(size_t n, const double *x) {
  long double m = 0, s = 0;
  for (size_t i = 0; i < n; ++i) m = fmaxl(m, fabsl((long double)x[i]));
  if (m == 0) return 0;
  for (size_t i = 0; i < n; ++i) s += ((long double)x[i] / m) * ((long double)x[i] / m);
  return m * sqrtl(s);
}

static void test_norm2(void **state) {
  (void)state;
  const size_t ns[] = {1, 2, 7, 8, 9, 17, 750, 1001};
  const double scales[] = {1.0, 1e-170, 1e170};
  double *x = malloc(MAXN * sizeof *x);
  for (size_t a = 0; a < sizeof ns / sizeof *ns; ++a)
    for (int b = 0; b < 3; ++b) {
      size_t n = ns[a];
      for (size_t i = 0; i < n; ++i) x[i] = scales[b] * tu_grand();
      long double r = ref_norm(n, x);
      double v = dln_norm2(n, x);
      assert_true(isfinite(v));
      assert_true(fabsl(v - r) <= (long double)(n + 2) * DBL_EPSILON * r);
    }
  memset(x, 0, 9 * sizeof *x);
  assert_true(dln_norm2(9, x) == 0.0);
  assert_true(dln_norm2(0, x) == 0.0);
  x[4] = INFINITY;
  assert_true(isinf(dln_norm2(9, x)));
  x[4] = NAN;
  assert_true(isnan(dln_norm2(9, x)));
  x[0] = x[1] = DBL_MAX / 2; /* the squares overflow, the norm DBL_MAX/√2 does not */
  double v = dln_norm2(2, x);
  assert_true(isfinite(v) && fabs(v / (DBL_MAX / 2) - sqrt(2.0)) <= 4 * DBL_EPSILON);
  free(x);
}

int main(void) {
  tu_seed(2026);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_lincomb_order),
      cmocka_unit_test(test_lincomb4),
      cmocka_unit_test(test_lincomb_nonfinite),
      cmocka_unit_test(test_err_ms),
      cmocka_unit_test(test_diff_norms),
      cmocka_unit_test(test_norm2),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
