/* Starts in and near S^− = {P = −Q} (000 §III, Prop. 1) through the command line:
 * `--init=sminus --sminus_perturb=X`, depth 2, n = m = 1, k = 2, Ȳ = 1, cvode rtol 1e-10, t = 60.
 *   - the start: P = −Q exactly for X = 0 (read from W1_init.npy / W2_init.npy);
 *   - X = 0: the Prop. 1 row holds at the saddle (‖θ(T)‖ ≤ 1e-6; measured ~6e-17);
 *   - X = 1e-3, 1e-6: the row holds at the target set, and the escape time (first sample with
 *     loss ≤ 1e-6) grows like ln(1/X)/Ȳ, the growth rate Ȳ of the S^+ component near the
 *     saddle (000 eq. 14): slope (t(1e-6) − t(1e-3))/ln(1000) in [0.8, 1.2]. Measured: 9.8,
 *     16.7 (slope 0.999).
 *   - tamper: Prop. 1 reads θ(0) and θ(T) from the folder (W{j}_init.npy, W{j}_final.npy); a run
 *     folder with either rewritten (θ(T) moved to the target set, θ(0) moved off S^−) is refused
 *     by the integrity check before any row is read: exit 5, "files of one run (manifest):
 *     INCONSISTENT: <file>: content differs". */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dln/io.h"
#include "dln/mat.h"
#include "testutil.h"

static int check_exit;

static char *run_and_check(const char *dir, const char *out, const char *X) {
  char o[64], x[64];
  snprintf(o, sizeof o, "--out=%s", out);
  snprintf(x, sizeof x, "--sminus_perturb=%s", X);
  const char *run[] = {"run", "--quiet", "--plot=false", "--widths=1,2,1", "--target_file=Y.csv", "--init=sminus", x,
                       "--t_end=60", "--samples=601", "--method=cvode", "--rtol=1e-10", "--atol=1e-14", o, NULL};
  assert_int_equal(tu_wait(tu_spawn(DLN_CLI, run, dir)), 0);
  const char *chk[] = {"check", out, NULL};
  check_exit = tu_wait(tu_spawn(DLN_CLI, chk, dir));
  return tu_slurp(tu_path(dir, "stdout.txt"));
}

static const char *row_line(const char *out, const char *row, char *buf, size_t n) {
  char key[128];
  snprintf(key, sizeof key, "\n%s", row);
  const char *l = strstr(out, key);
  assert_non_null(l);
  ++l;
  const char *e = strchr(l, '\n');
  size_t len = e ? (size_t)(e - l) : strlen(l);
  assert_true(len < n);
  memcpy(buf, l, len), buf[len] = 0;
  return buf;
}

/* First t with loss ≤ thr in trajectory.csv (columns t, step, loss first). */
static double escape_time(const char *path, double thr) {
  char *t = tu_slurp(path);
  assert_non_null(t);
  double te = INFINITY;
  for (char *l = strchr(t, '\n'); l && l[1]; l = strchr(l + 1, '\n')) {
    char *p = l + 1, *q;
    double tt = strtod(p, &q);
    q = strchr(q + 1, ',');
    if (strtod(q + 1, NULL) <= thr) {
      te = tt;
      break;
    }
  }
  free(t);
  return te;
}

static void test_prop1_sminus(void **state) {
  (void)state;
  const char *dir = tu_tmpdir(0);
  tu_write_text(tu_path(dir, "Y.csv"), "1\n");
  char buf[1024];
  char *out = run_and_check(dir, "x0", "0");
  assert_non_null(out);
  const char *l = row_line(out, "start in S- to saddle, else to target", buf, sizeof buf);
  if (!strstr(l, "holds")) print_message("%s\n", out);
  char *js = tu_slurp(tu_path(dir, "x0/check.json"));
  assert_non_null(js);
  assert_non_null(strstr(js, "start in S- (|P0 + Q0| = 0)"));
  free(js);
  assert_true(strlen(l) > 5 && !strcmp(l + strlen(l) - 5, "holds"));
  assert_int_equal(check_exit, 0);
  free(out);
  dln_mat *W1 = NULL, *W2 = NULL;
  assert_int_equal(dln_matrix_load(tu_path(dir, "x0/W1_init.npy"), &W1), 0);
  assert_int_equal(dln_matrix_load(tu_path(dir, "x0/W2_init.npy"), &W2), 0);
  for (int i = 0; i < 2; ++i) {
    assert_true(W1->data[i] != 0.0);
    assert_true(W2->data[i] == -W1->data[i]); /* exactly in S^- */
  }
  dln_mat_free(W1), dln_mat_free(W2);
  /* tamper with θ(T), then θ(0), of the S^- run (fresh copies of the run each time) */
  const char *names[2] = {"W2_final.npy", "W1_init.npy"};
  const double fake[2][2] = {{1.0, 1.0}, {0.9, 0.1}}; /* P(T) = Q(T)ᵀ, PQᵀ ≠ 0; Q(0) with P(0) + Q(0) ≠ 0 */
  for (int k = 0; k < 2; ++k) {
    char o[16], f[64], frag[160];
    snprintf(o, sizeof o, "t%d", k);
    free(run_and_check(dir, o, "0"));
    snprintf(f, sizeof f, "%s/%s", o, names[k]);
    assert_int_equal(dln_npy_write(tu_path(dir, f), k ? 2 : 1, k ? 1 : 2, fake[k], 0), 0);
    snprintf(frag, sizeof frag, "integrity checks failed, first: files of one run (manifest): INCONSISTENT: %s: content differs",
             names[k]);
    const char *chk[] = {"check", o, NULL};
    tu_expect_cli_error(DLN_CLI, dir, 5, frag, chk);
  }
  const char *X[2] = {"1e-3", "1e-6"}, *dirs[2] = {"x3", "x6"};
  double te[2];
  for (int k = 0; k < 2; ++k) {
    out = run_and_check(dir, dirs[k], X[k]);
    assert_non_null(out);
    l = row_line(out, "start in S- to saddle, else to target", buf, sizeof buf);
    if (!strstr(l, "holds")) print_message("%s\n", out);
    char jp[64];
    snprintf(jp, sizeof jp, "%s/check.json", dirs[k]);
    js = tu_slurp(tu_path(dir, jp));
    assert_non_null(js);
    assert_non_null(strstr(js, "start not in S-"));
    assert_non_null(strstr(js, "(target set)"));
    free(js);
    assert_true(strlen(l) > 5 && !strcmp(l + strlen(l) - 5, "holds"));
    free(out);
    char p[64];
    snprintf(p, sizeof p, "%s/trajectory.csv", dirs[k]);
    te[k] = escape_time(tu_path(dir, p), 1e-6);
    assert_true(isfinite(te[k]));
  }
  double slope = (te[1] - te[0]) / log(1000.0);
  print_message("sminus escape time (loss <= 1e-6): X = 1e-3: %.2f, X = 1e-6: %.2f; slope %.3f per ln(1/X) (1/Ybar = 1)\n", te[0],
                te[1], slope);
  assert_true(slope >= 0.8 && slope <= 1.2);
  tu_rmtree(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_prop1_sminus)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
