/* The critical disturbance scale by bisection (dln/robust.h) against thresholds derived by
 * hand, and against 000 Thm 2's guaranteed scale.
 *
 * Scalar case of 000 §III, k = 1, Ȳ = 1, constant D = (U, V) = (−1, −1)·s (000 eq. 9 with
 * P = W_2, Q = W_1ᵀ). From a start on S^+ (P_0 = Q_0 = p_0 > 0) the flow stays on P = Q = p:
 *   ṗ = p(1 − p²) − s.
 * Equilibria: p(1 − p²) = s, whose left side has its maximum s* = 2/(3√3) at p = 1/√3.
 *   - p_0 ≥ 1/√3: for s ≤ s* p falls to the largest root p_1 ≥ 1/√3 (PQ = p_1² ∈ [1/3, 1],
 *     relative error ≤ 2/3 < reach_tol = 1, on the start's branch): reached; for s > s* there
 *     is no positive root, p crosses 0 to the negative root (other branch): not reached.
 *     Critical scale s* = 0.384900179…
 *   - p_0 < 1/√3: p_0 is an equilibrium at s_c = p_0(1 − p_0²); below it p rises to p_1,
 *     above it p falls through 0: critical scale s_c.
 *   - reach_tol = 1/2 from p_0 > 1: reached iff 1 − p_1² ≤ 1/2, i.e. s ≤ (1/√2)(1/2) = 0.35355…
 * Near s* the passage through the bottleneck of ṗ ≈ −δ − √3 x² takes π/√(√3 δ) (saddle-node
 * ghost): with t_end = 1000 a run with δ < π²/(√3·1000²) = 5.7e-6 is still on the start's side
 * at t_end, so the measured bracket may sit above s* by that much (the bound used below).
 * Thm 2: the start is in R_α for α ≤ ‖P_0 + Q_0‖ = 2p_0, ‖U‖ + ‖V‖ = 2s, so the guaranteed
 * scale is α(1 − α²/4)/(2√2) with α = min(2p_0, 2/√3): exactly s_c/√2 (p_0 ≤ 1/√3) and s* / √2
 * (beyond): ratio √2. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dln/dln.h"
#include "testutil.h"

static const double SSTAR = 0.38490017945975052; /* 2/(3 sqrt 3) */
static const double GHOST = 5.7e-6;              /* pi^2/(sqrt 3 t_end^2), t_end = 1000 */

/* A scalar-case spec in dir: Ȳ = 1, start (W1, W2) = (q0, p0), D = (d1, d2), extra JSON. */
static char js[4096]; /* the spec's JSON text */
static void spec_in(dln_spec *s, const char *dir, double q0, double p0, double d1, double d2, const char *kind, const char *method, int t_end, const char *extra) {
  char b[64];
  tu_write_text(tu_path(dir, "Y.csv"), "1\n");
  snprintf(b, sizeof b, "%.17g\n", q0), tu_write_text(tu_path(dir, "W1.csv"), b);
  snprintf(b, sizeof b, "%.17g\n", p0), tu_write_text(tu_path(dir, "W2.csv"), b);
  snprintf(b, sizeof b, "%.17g\n", d1), tu_write_text(tu_path(dir, "D1.csv"), b);
  snprintf(b, sizeof b, "%.17g\n", d2), tu_write_text(tu_path(dir, "D2.csv"), b);
  char y[512], w1[512], w2[512], f1[512], f2[512];
  snprintf(y, sizeof y, "%s", tu_path(dir, "Y.csv")), snprintf(w1, sizeof w1, "%s", tu_path(dir, "W1.csv"));
  snprintf(w2, sizeof w2, "%s", tu_path(dir, "W2.csv")), snprintf(f1, sizeof f1, "%s", tu_path(dir, "D1.csv"));
  snprintf(f2, sizeof f2, "%s", tu_path(dir, "D2.csv"));
  char files[1200] = "", rt[32] = "";
  if (strcmp(kind, "noise")) snprintf(files, sizeof files, ", \"disturbance_files\": [\"%s\", \"%s\"]", f1, f2);
  if (strcmp(method, "gd")) snprintf(rt, sizeof rt, ", \"rtol\": 1e-10");
  snprintf(js, sizeof js,
           "{\"target_file\": \"%s\", \"widths\": [1, 1, 1], \"init\": \"file\", \"init_files\": [\"%s\", \"%s\"], "
           "\"disturbance\": \"%s\"%s, \"t_end\": %d, \"method\": \"%s\"%s, \"samples\": 3, \"plot\": false%s}",
           y, w1, w2, kind, files, t_end, method, rt, extra ? extra : "");
  assert_int_equal(dln_spec_default(s), DLN_OK);
  assert_int_equal(dln_spec_from_json_string(s, "robust.json", js), DLN_OK);
}

static dln_robust_options opts(double hi, double rel_tol) {
  dln_robust_options o;
  dln_robust_default_options(&o);
  o.hi = hi, o.rel_tol = rel_tol;
  return o;
}

/* The saddle-node threshold s* from a start beyond 1/√3, and the reach_tol threshold. */
static void test_known_thresholds(void **state) {
  (void)state;
  const char *dir = tu_tmpdir(0);
  dln_spec s;
  spec_in(&s, dir, 1, 1, -1, -1, "constant", "cvode", 1000, NULL);
  dln_robust_options o = opts(1, 1e-5);
  dln_robust_result r;
  int phase;
  assert_int_equal(dln_robust_spec(&s, NULL, &o, &r, &phase), DLN_OK);
  assert_int_equal(r.status, DLN_ROBUST_BRACKET);
  assert_false(r.nonmonotone);
  assert_true(r.hi - r.lo <= 1e-5 * r.hi);
  if (tu_verbose()) printf("s* = %.10g, bracket [%.10g, %.10g], %d runs\n", SSTAR, r.lo, r.hi, r.nevals);
  assert_true(r.hi >= SSTAR && r.lo <= SSTAR + GHOST);
  /* every evaluation agrees with the hand-derived outcome, outside the ghost band */
  for (int i = 0; i < r.nevals; ++i)
    if (fabs(r.evals[i].scale - SSTAR) > GHOST) assert_int_equal(r.evals[i].reached, r.evals[i].scale < SSTAR);
  dln_robust_result_free(&r);
  /* reach_tol = 1/2 from p_0 = 1.5 > 1: threshold (1/√2)(1/2), a regular crossing */
  dln_spec_free(&s);
  spec_in(&s, dir, 1.5, 1.5, -1, -1, "constant", "cvode", 1000, NULL);
  o.reach_tol = 0.5;
  assert_int_equal(dln_robust_spec(&s, NULL, &o, &r, &phase), DLN_OK);
  double want = 0.5 / sqrt(2.0);
  if (tu_verbose()) printf("reach_tol 1/2: want %.10g, bracket [%.10g, %.10g]\n", want, r.lo, r.hi);
  assert_true(r.lo <= want * (1 + 1e-8) && r.hi >= want * (1 - 1e-8) && r.hi - r.lo <= 1e-5 * r.hi);
  dln_robust_result_free(&r);
  dln_spec_free(&s);
}

/* The curve over distances from S^−: s_c(p_0) = p_0(1 − p_0²) (p_0 = d/√2 < 1/√3), else s*;
 * Thm 2's scale is exactly s_c/√2; measured ≥ guaranteed; threads 1 and 2 identical. */
static void test_curve_thm2_threads(void **state) {
  (void)state;
  const char *dir = tu_tmpdir(1);
  dln_spec s;
  spec_in(&s, dir, 1, 1, -1, -1, "constant", "cvode", 1000, NULL);
  double d[] = {0.2, 0.5, 1.5};
  dln_robust_options o = opts(1, 1e-5);
  dln_robust_curve c1, c2;
  int phase;
  assert_int_equal(dln_robust_curve_spec(&s, d, 3, &o, NULL, 0, &c1, &phase), DLN_OK);
  o.threads = 2;
  assert_int_equal(dln_robust_curve_spec(&s, d, 3, &o, NULL, 0, &c2, &phase), DLN_OK);
  for (int i = 0; i < 3; ++i) {
    const dln_robust_result *a = &c1.pts[i], *b = &c2.pts[i];
    double p0 = d[i] / sqrt(2.0), sc = p0 < 1 / sqrt(3.0) ? p0 * (1 - p0 * p0) : SSTAR;
    if (tu_verbose()) printf("d = %g: s_c %.8g, bracket [%.8g, %.8g], thm2 %.8g, ratio %.6g\n", d[i], sc, a->lo, a->hi, a->thm2_scale, a->ratio);
    assert_true(a->status == DLN_ROBUST_BRACKET && a->hi >= sc * (1 - 1e-9) && a->lo <= sc + GHOST);
    assert_true(fabs(a->start_dist - d[i]) <= 1e-12 * d[i]);
    tu_assert_close(a->thm2_scale, sc / sqrt(2.0), 1e-12, 0, "thm2 scale", __FILE__, __LINE__);
    assert_true(a->ratio >= 1);                      /* Thm 2's claim */
    assert_true(fabs(a->ratio - sqrt(2.0)) <= 2e-5); /* and its √2 slack here */
    assert_int_equal(a->nevals, b->nevals);
    assert_true(a->lo == b->lo && a->hi == b->hi);
    for (int k = 0; k < a->nevals; ++k) assert_true(a->evals[k].scale == b->evals[k].scale && a->evals[k].rel_err == b->evals[k].rel_err);
  }
  dln_robust_curve_free(&c1);
  dln_robust_curve_free(&c2);
  dln_spec_free(&s);
}

/* Thm 2 (measured ≥ guaranteed) for shapes without a closed form: an oblique constant D and a
 * sinusoid (ω = 1) from a start off S^+ (P_0 ≠ Q_0), k = 1; measured ratios 1.555 and 3.441. */
static void test_thm2_other_shapes(void **state) {
  (void)state;
  const char *dir = tu_tmpdir(2);
  const char *kind[] = {"constant", "sinusoid"};
  const char *extra[] = {NULL, ", \"disturbance_omega\": 1"};
  for (int k = 0; k < 2; ++k) {
    dln_spec s;
    spec_in(&s, dir, 0.3, 1.2, -0.4, -1.0, kind[k], k ? "flow" : "cvode", k ? 60 : 1000, extra[k]);
    dln_robust_options o = opts(k ? 4 : 2, 1e-3);
    o.grid = 9;
    dln_robust_result r;
    int phase;
    assert_int_equal(dln_robust_spec(&s, NULL, &o, &r, &phase), DLN_OK);
    if (tu_verbose()) printf("%s: [%.6g, %.6g] status %d, thm2 %.6g (alpha %.6g), ratio %.4g, %d runs\n", kind[k], r.lo, r.hi, r.status, r.thm2_scale, r.thm2_alpha, r.ratio, r.nevals);
    assert_int_equal(r.status, DLN_ROBUST_BRACKET);
    tu_assert_close(r.uv_per_scale, 1.4, 1e-15, 0, "uv", __FILE__, __LINE__);
    double a = fmin(1.5, 2 / sqrt(3.0));
    tu_assert_close(r.thm2_scale, a * (1 - a * a / 4) / sqrt(2.0) / 1.4, 1e-14, 0, "thm2", __FILE__, __LINE__);
    assert_true(r.ratio >= 1);
    dln_robust_result_free(&r);
    dln_spec_free(&s);
  }
}

/* The command: outputs with a manifest, the folder refused without --force, bad options. */
static void test_cli(void **state) {
  (void)state;
  const char *dir = tu_tmpdir(3);
  dln_spec s;
  spec_in(&s, dir, 1, 1, -1, -1, "constant", "cvode", 200, NULL);
  tu_write_text(tu_path(dir, "s.json"), js);
  dln_spec_free(&s);
  const char *a[] = {"robust", "s.json", "--quiet", "--out=o", "--rel_tol=1e-3", "--dists=0.5,1", "--threads=2", NULL};
  assert_int_equal(tu_wait(tu_spawn(DLN_CLI, a, dir)), 0);
  char *csv = tu_slurp(tu_path(dir, "o/robust.csv")), *man = tu_slurp(tu_path(dir, "o/manifest.json"));
  assert_non_null(csv);
  assert_int_equal(tu_count_lines(csv), 3);
  assert_non_null(strstr(man, "robust.json"));
  free(csv), free(man);
  tu_expect_cli_error(DLN_CLI, dir, 73, "--force", a);
  const char *b[] = {"robust", "s.json", "--out=p", "--dists=0,1", NULL};
  tu_expect_cli_error(DLN_CLI, dir, 64, "option --dists: expected positive numbers", b);
}

/* Non-monotone outcomes: white noise (seed 3, GD/Euler-Maruyama, eta 0.01, t_end 20) from
 * (P_0, Q_0) = (1.2, 0.3): on the scan 0, 0.25, .., 5 the run fails at 0.75 and 1.0 and reaches
 * again at 1.25..1.75. The bisection reports the first crossing and the flag; two of the
 * scan's outcomes are confirmed by `dln run` at those scales, classified here from
 * W{j}_final.npy by the definition (sign P = sign Q = +, |1 - PQ| <= 1). */
static int run_reaches(const char *dir, const char *scale) {
  char o[600], sc[64];
  snprintf(o, sizeof o, "--out=%s", tu_path(dir, scale));
  snprintf(sc, sizeof sc, "--disturbance_scale=%s", scale);
  const char *a[] = {"run", "s.json", "--quiet", o, sc, NULL};
  assert_int_equal(tu_wait(tu_spawn(DLN_CLI, a, dir)), 0);
  char p1[700], p2[700];
  snprintf(p1, sizeof p1, "%s/W1_final.npy", tu_path(dir, scale));
  snprintf(p2, sizeof p2, "%s/W2_final.npy", tu_path(dir, scale));
  dln_mat *m1 = NULL, *m2 = NULL;
  assert_int_equal(dln_matrix_load(p1, &m1), DLN_OK);
  assert_int_equal(dln_matrix_load(p2, &m2), DLN_OK);
  double q = m1->data[0], p = m2->data[0];
  dln_mat_free(m1), dln_mat_free(m2);
  return p > 0 && q > 0 && fabs(1 - p * q) <= 1;
}

static void test_nonmonotone(void **state) {
  (void)state;
  const char *dir = tu_tmpdir(4);
  dln_spec s;
  spec_in(&s, dir, 0.3, 1.2, 0, 0, "noise", "gd", 20, ", \"eta\": 0.01, \"seed\": 3");
  tu_write_text(tu_path(dir, "s.json"), js);
  dln_robust_options o = opts(5, 1e-3);
  o.grid = 21;
  dln_robust_result r;
  int phase;
  assert_int_equal(dln_robust_spec(&s, NULL, &o, &r, &phase), DLN_OK);
  if (tu_verbose()) printf("noise: [%.6g, %.6g], nonmonotone %d at %.6g, thm2 %.6g\n", r.lo, r.hi, r.nonmonotone, r.nonmono_scale, r.thm2_scale);
  assert_int_equal(r.status, DLN_ROBUST_BRACKET);
  assert_true(r.nonmonotone && r.nonmono_scale == 1.75);
  assert_true(r.lo >= 0.5 && r.hi <= 0.75 && r.hi - r.lo <= 1e-3 * r.hi);
  assert_true(isnan(r.thm2_scale)); /* no Thm 2 bound for noise */
  assert_int_equal(r.evals[4].reached, 0);  /* scale 1.0 */
  assert_int_equal(r.evals[6].reached, 1);  /* scale 1.5 */
  assert_int_equal(run_reaches(dir, "1.0"), 0);
  assert_int_equal(run_reaches(dir, "1.5"), 1);
  dln_robust_result_free(&r);
  dln_spec_free(&s);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_known_thresholds), cmocka_unit_test(test_curve_thm2_threads),
                                     cmocka_unit_test(test_thm2_other_shapes), cmocka_unit_test(test_cli),
                                     cmocka_unit_test(test_nonmonotone)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
