/* dln figure 004-ovf --quick (docs/figures.md): its files and manifest, and ovf.csv's
 * counts and Wilson intervals recomputed independently from the per-run entries of the
 * two sweeps' ensemble.json; each entry's class checked against its final loss: a
 * global minimum has loss ~0 (width 4 >= 3), a saddle on stratum L has the critical value
 * 1/2 sum_{i not in L} s_i^2 (004 Lemma 3.2), with s_i the singular values a depth-1 run
 * converged to (W = Ybar). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "testutil.h"

#include "dln/error.h"
#include "dln/figure.h"

static char out[512];

/* Wilson score interval (Wilson 1927), written out here. */
static void wilson(double k, double n, double *lo, double *hi) {
  const double z = 1.959964, p = k / n, den = 1 + z * z / n;
  const double mid = (p + z * z / (2 * n)) / den, half = z * sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den;
  *lo = fmax(0, mid - half), *hi = fmin(1, mid + half);
}

static int mask_of(const char *txt) {
  int m = 0;
  for (const char *p = txt; p && *p; ++p)
    if (*p >= '1' && *p <= '9') m |= 1 << (*p - '1');
  return m;
}

typedef struct tally {
  int n, glob, sad, nc;
} tally;

/* Count the entries of part/ensemble.json into T[depth][mask]; checks each class by loss. */
static void count_part(const char *part, tally T[5][8], double s[3]) {
  char p[600];
  snprintf(p, sizeof p, "%s/%s/ensemble.json", out, part);
  json_error_t err;
  json_t *j = json_load_file(p, 0, &err), *e;
  assert_non_null(j);
  size_t i;
  json_array_foreach(json_object_get(j, "runs"), i, e) {
    json_t *ov = json_object_get(e, "overrides"), *ep = json_object_get(e, "endpoint");
    int d = (int)json_integer_value(json_object_get(ov, "depth")); /* typed overrides */
    json_t *jst = json_object_get(ov, "saddle_stratum");
    char *st = jst ? json_dumps(jst, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    const char *cl = json_string_value(json_object_get(ep, "class"));
    double loss = json_real_value(json_object_get(json_object_get(e, "final"), "loss"));
    assert_non_null(cl);
    tally *t = &T[d][st ? mask_of(st) : 0];
    free(st);
    t->n++;
    if (strcmp(cl, "global_min") == 0) {
      t->glob++;
      assert_true(loss < 1e-8);
      if (d == 1 && s[0] == 0)
        for (int k = 0; k < 3; ++k) {
          char n[16];
          snprintf(n, sizeof n, "sv_%d", k + 1);
          s[k] = json_real_value(json_object_get(json_object_get(e, "final"), n));
        }
    } else if (strcmp(cl, "saddle") == 0) {
      t->sad++;
      int m = 0;
      json_t *v;
      size_t q;
      json_array_foreach(json_object_get(ep, "stratum"), q, v) m |= 1 << (json_integer_value(v) - 1);
      double want = 0;
      for (int k = 0; k < 3; ++k) want += m >> k & 1 ? 0 : 0.5 * s[k] * s[k];
      assert_true(s[0] > 0);
      tu_assert_close(loss, want, 1e-3, 1e-6, "saddle loss", __FILE__, __LINE__);
    } else
      t->nc++;
  }
  json_decref(j);
}

static void test_quick(void **state) {
  (void)state;
  snprintf(out, sizeof out, "%s/f4", tu_tmpdir(0));
  const dln_figure_type *f = dln_figure_find("004-ovf");
  assert_non_null(f);
  dln_figure_options o;
  dln_figure_default_options(&o);
  o.quick = 1, o.render = 0;
  dln_figure_result r;
  int st = dln_figure_run(f, out, &o, &r);
  if (st) print_message("%s\n", dln_last_error());
  assert_int_equal(st, DLN_OK);
  assert_int_equal(r.nverdicts, 3);
  char *man = tu_slurp(tu_path(out, "manifest.json"));
  assert_non_null(man);
  static const char *const files[] = {"\"ovf.csv\"", "\"report.md\"", "\"plot.py\"", "\"random/endpoints.json\"",
                                      "\"saddle/ensemble.json\"", "\"saddle/manifest.json\""};
  for (size_t k = 0; k < sizeof files / sizeof *files; ++k) assert_non_null(strstr(man, files[k]));
  free(man);
  tally T[2][5][8];
  memset(T, 0, sizeof T);
  double sv[3] = {0, 0, 0};
  count_part("random", T[0], sv);
  count_part("saddle", T[1], sv);
  /* ovf.csv rows against the recount */
  FILE *fp = fopen(tu_path(out, "ovf.csv"), "r");
  assert_non_null(fp);
  char line[1024];
  assert_non_null(fgets(line, sizeof line, fp));
  int rows = 0;
  double x[11];
  while (fgets(line, sizeof line, fp)) {
    char *q = line;
    for (int k = 0; k < 11; ++k) x[k] = strtod(q, &q), q += *q == ',';
    const tally *t = &T[(int)x[0]][(int)x[1]][x[2] < 0 ? 0 : (int)x[2]];
    double lo, hi;
    wilson(t->glob, t->n, &lo, &hi);
    assert_int_equal((int)x[3], t->n);
    assert_int_equal((int)x[4], t->glob);
    assert_int_equal((int)x[5], t->sad);
    assert_int_equal((int)x[6], t->nc);
    tu_assert_close(x[8], (double)t->glob / t->n, 0, 1e-15, "fraction", __FILE__, __LINE__);
    tu_assert_close(x[9], lo, 0, 1e-9, "wilson lo", __FILE__, __LINE__);
    tu_assert_close(x[10], hi, 0, 1e-9, "wilson hi", __FILE__, __LINE__);
    ++rows;
  }
  fclose(fp);
  assert_int_equal(rows, 4 + 3 * 7); /* random depth 1-4; saddle depth 2-4 x 7 strata */
  for (int d = 1; d <= 4; ++d) assert_int_equal(T[0][d][0].n, 10);
  /* report.md states the depth-2 adversarial count recomputed here */
  int n2 = 0, g2 = 0;
  for (int m = 0; m < 8; ++m) n2 += T[1][2][m].n, g2 += T[1][2][m].glob;
  char want[64];
  snprintf(want, sizeof want, "depth 2: %d/%d", g2, n2);
  char *rep = tu_slurp(tu_path(out, "report.md"));
  assert_non_null(rep);
  assert_non_null(strstr(rep, want));
  free(rep);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_quick)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
