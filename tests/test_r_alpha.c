/* The scalar case of 000 §III through the command line (n = m = k = 1, Ȳ = 1, P = W_2,
 * Q = W_1ᵀ), `dln check` rows against what the paper's statements predict:
 *   - Prop. 1: a start exactly in S^− (P_0 = −Q_0) goes to the saddle 0 (‖θ(T)‖ ≤ 1e-6 here
 *     ~1e-15), a generic start reaches PQ = Ȳ; both rows hold; the same in the vector case k = 2.
 *   - Thm 2 with α = 1: bound |α|(Ȳ − α²/4)/√2 = 0.75/√2; U = V = −s pushes P + Q toward S^−.
 *     At 0.99 of the bound the run stays in R_α (holds, and min PpQ2 ≥ 1 − 1e-9 read from the
 *     trajectory); at ‖U‖ + ‖V‖ = 2 it leaves (not applicable, "left R_alpha").
 *   - a trajectory.csv with one in_Ralpha cell flipped: the Thm 2 row is VIOLATED. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

static int check_exit; /* dln check's exit status of the last run_and_check */

static const char *run_and_check(const char *dir, const char *out, const char *w1, const char *w2, const char *scale) {
  char o[64], f[96], s[64], wd[32];
  snprintf(wd, sizeof wd, "--widths=1,%d,1", w1[0] == 'V' ? 2 : 1);
  snprintf(o, sizeof o, "--out=%s", out);
  snprintf(f, sizeof f, "--init_files=%s,%s", w1, w2);
  if (scale) snprintf(s, sizeof s, "--disturbance_scale=%s", scale);
  const char *run[] = {"run", "--quiet", "--plot=false", wd, "--target_file=Y.csv", "--init=file", f, "--t_end=40",
                       "--method=cvode", "--rtol=1e-10", "--atol=1e-14", o, scale ? "--disturbance=constant" : NULL,
                       "--disturbance_files=D.csv,D.csv", "--r_alpha=1", s, NULL};
  assert_int_equal(tu_wait(tu_spawn(DLN_CLI, run, dir)), 0);
  const char *chk[] = {"check", out, NULL};
  check_exit = tu_wait(tu_spawn(DLN_CLI, chk, dir));
  return tu_path(dir, "stdout.txt");
}

/* The line of the row starting with `row` in the check output (copied into buf). */
static const char *row_line(const char *out, const char *row, char *buf, size_t n) {
  const char *l = strstr(out, row);
  assert_non_null(l);
  const char *e = strchr(l, '\n');
  size_t len = e ? (size_t)(e - l) : strlen(l);
  assert_true(len < n);
  memcpy(buf, l, len), buf[len] = 0;
  return buf;
}

static int ends_with(const char *s, const char *suf) { return strlen(s) >= strlen(suf) && !strcmp(s + strlen(s) - strlen(suf), suf); }

static void setup_files(const char *dir) {
  tu_write_text(tu_path(dir, "Y.csv"), "1\n");
  tu_write_text(tu_path(dir, "W1.csv"), "0.5\n");
  tu_write_text(tu_path(dir, "Wm.csv"), "-0.5\n");
  tu_write_text(tu_path(dir, "Wg.csv"), "0.3\n");
  tu_write_text(tu_path(dir, "D.csv"), "-1\n");
  tu_write_text(tu_path(dir, "V1.csv"), "0.5\n0.2\n"); /* vector case k = 2: W_1 is 2 x 1, W_2 1 x 2 */
  tu_write_text(tu_path(dir, "Vm.csv"), "-0.5,-0.2\n");
  tu_write_text(tu_path(dir, "Vg.csv"), "0.1,-0.4\n");
}

static void test_prop1(void **state) {
  (void)state;
  const char *dir = tu_tmpdir(0);
  setup_files(dir);
  char buf[1024];
  const char *w1[4] = {"W1.csv", "W1.csv", "V1.csv", "V1.csv"}, *which[4] = {"Wm.csv", "Wg.csv", "Vm.csv", "Vg.csv"};
  const char *what[2] = {"|theta(T)| (saddle 0)", "(T)Q(T)^T| (target set)"}, *outs[4] = {"m", "g", "vm", "vg"};
  for (int k = 0; k < 4; ++k) {
    int i = k % 2;
    char js_path[32];
    snprintf(js_path, sizeof js_path, "%s/check.json", outs[k]);
    char *out = tu_slurp(run_and_check(dir, outs[k], w1[k], which[k], NULL));
    assert_non_null(out);
    const char *l = row_line(out, "start in S- to saddle, else to target", buf, sizeof buf);
    if (!ends_with(l, "holds")) print_message("%s\n", out);
    assert_true(ends_with(l, "holds"));
    assert_int_equal(check_exit, 0); /* no row VIOLATED on these correct runs (000 Thm 3 at the zero point) */
    char *js = tu_slurp(tu_path(dir, js_path));
    assert_non_null(js);
    assert_non_null(strstr(js, what[i]));
    free(js);
    free(out);
  }
  tu_rmtree(dir);
}

/* min over the trajectory of column `name` (header parsed here). */
static double col_min(const char *path, const char *name) {
  char *t = tu_slurp(path);
  assert_non_null(t);
  int k = 0;
  const char *h = t;
  for (const char *p = t; *p != '\n'; ++p)
    if (*p == ',') {
      if ((size_t)(p - h) == strlen(name) && !strncmp(h, name, strlen(name))) break;
      h = p + 1, ++k;
    }
  double m = INFINITY;
  for (char *l = strchr(t, '\n'); l && l[1]; l = strchr(l + 1, '\n')) {
    char *p = l + 1;
    for (int j = 0; j < k; ++j) p = strchr(p, ',') + 1;
    m = fmin(m, strtod(p, NULL));
  }
  free(t);
  return m;
}

static void test_thm2(void **state) {
  (void)state;
  const char *dir = tu_tmpdir(0);
  setup_files(dir);
  char buf[2048], sc[32];
  snprintf(sc, sizeof sc, "%.17g", 0.99 * 0.75 / sqrt(2.0) / 2); /* ‖U‖ + ‖V‖ = 2 scale */
  char *out = tu_slurp(run_and_check(dir, "b", "W1.csv", "W1.csv", sc));
  assert_non_null(out);
  const char *l = row_line(out, "R_alpha forward-invariant", buf, sizeof buf);
  if (!ends_with(l, "holds")) print_message("%s\n", out);
  assert_true(ends_with(l, "holds"));
  assert_true(ends_with(row_line(out, "dissipation inside R_alpha", buf, sizeof buf), "holds"));
  char *sum = tu_slurp(tu_path(dir, "b/summary.json"));
  assert_non_null(sum);
  const char *q = strstr(sum, "\"thm2_max_disturbance\"");
  assert_non_null(q);
  assert_true(fabs(strtod(strchr(q, ':') + 1, NULL) - 0.75 / sqrt(2.0)) <= 1e-15);
  free(sum);
  double m = col_min(tu_path(dir, "b/trajectory.csv"), "PpQ2");
  assert_true(m >= 1 - 1e-9);
  free(out);
  out = tu_slurp(run_and_check(dir, "c", "W1.csv", "W1.csv", "1"));
  assert_non_null(out);
  l = row_line(out, "R_alpha forward-invariant", buf, sizeof buf);
  assert_non_null(strstr(l, "not applicable"));
  assert_non_null(strstr(l, "the run left R_alpha"));
  assert_non_null(strstr(l, "<= 0.53033 (largest admissible)"));
  assert_true(col_min(tu_path(dir, "c/trajectory.csv"), "PpQ2") < 0.5);
  free(out);
  /* tamper: flip in_Ralpha (the second last field) on the 4th data row */
  char *t = tu_slurp(tu_path(dir, "b/trajectory.csv"));
  assert_non_null(t);
  char *p = t;
  for (int i = 0; i < 4; ++i) p = strchr(p, '\n') + 1;
  char *e = strchr(p, '\n'), *c2 = e;
  while (*--c2 != ',') {}
  while (*--c2 != ',') {}
  assert_true(c2[1] == '1' && c2[2] == ',');
  c2[1] = '0';
  tu_write_text(tu_path(dir, "b/trajectory.csv"), t);
  free(t);
  const char *chk[] = {"check", "b", NULL};
  assert_int_not_equal(tu_wait(tu_spawn(DLN_CLI, chk, dir)), 0);
  out = tu_slurp(tu_path(dir, "stdout.txt"));
  assert_non_null(out);
  l = row_line(out, "R_alpha forward-invariant", buf, sizeof buf);
  if (!ends_with(l, "VIOLATED")) print_message("%s\n", l);
  assert_true(ends_with(l, "VIOLATED"));
  free(out);
  tu_rmtree(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_prop1), cmocka_unit_test(test_thm2)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
