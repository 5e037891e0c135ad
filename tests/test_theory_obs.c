/* The observer's theory columns for the rate bounds and the closed-form loss
 * (src/observe/observer.c, observe/theory_obs.h; docs/cli.md "Theory columns"), through
 * dln_run_noplot on small specs with "observe": ["all", "theory"]:
 *   - 003-style imbalanced under-determined regression: a bound_003thm1 column with
 *     bound(0) = L(0), loss ≤ bound at every sample (integrator tolerance), and the rate
 *     of the column equal to 2 λ_r(Σ_x) c computed independently from X.npy and the
 *     W{j}_init.npy files (dln_theory_imbalance_c) and to dln_bound_imbalance_rate's;
 *   - balanced depth-2 factorization: no bound_003thm1 column, and summary.json's
 *     theory_observer note says why (c > 0 fails);
 *   - asymmetric spectral init (001 eq. 17): cf_loss equals the loss column to 1e-8
 *     (rtol 1e-10);
 *   - balanced spectral init close to the target (002 Thm 2): bound_002thm2 with rate
 *     2δ, δ = σ_min(Ȳ) − ‖W0 − Ȳ‖_F = 1 − √(2 L(0)) (N = 2), loss ≤ bound;
 *   - pyramidal imbalanced factorization: bound_004prop2 and bound_003thm1, loss ≤ both;
 *   - observe without theory: no bound or cf_loss column;
 *   - dln_observer_eval with the bound and cf_loss columns does not allocate. */
#include "testutil.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dln/dln.h"
#include "observe/theory_obs.h"

/* A trajectory.csv: column names and the data (rows = samples). */
typedef struct traj {
  int ncols;
  char names[64][32];
  dln_mat *m;
} traj;

static const char *outdir(const char *dir, const char *name) {
  static char buf[4][320];
  static int k;
  k = (k + 1) & 3;
  snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
  return buf[k];
}

static void run_spec(const char *json, const char *out) {
  dln_spec s;
  assert_int_equal(dln_spec_default(&s), DLN_OK);
  int st = dln_spec_from_json_string(&s, "spec.json", json);
  if (st) print_error("%s\n", dln_last_error());
  assert_int_equal(st, DLN_OK);
  assert_int_equal(dln_spec_set(&s, "out", out), DLN_OK);
  dln_run_result res;
  st = dln_run_noplot(&s, NULL, &res);
  if (st) print_error("%s\n", dln_last_error());
  assert_int_equal(st, DLN_OK);
  dln_spec_free(&s);
}

static void load_traj(const char *out, traj *tr) {
  char path[400];
  snprintf(path, sizeof path, "%s/trajectory.csv", out);
  FILE *fp = fopen(path, "r");
  assert_non_null(fp);
  char line[8192];
  assert_non_null(fgets(line, sizeof line, fp));
  fclose(fp);
  line[strcspn(line, "\r\n")] = '\0';
  tr->ncols = 0;
  char *save = NULL;
  for (char *f = strtok_r(line, ",", &save); f; f = strtok_r(NULL, ",", &save)) {
    assert_true(tr->ncols < 64);
    snprintf(tr->names[tr->ncols++], sizeof tr->names[0], "%s", f);
  }
  assert_int_equal(dln_csv_read(path, &tr->m), DLN_OK);
  assert_int_equal(tr->m->cols, tr->ncols);
  assert_true(tr->m->rows >= 3);
}

static int col(const traj *tr, const char *name) {
  for (int j = 0; j < tr->ncols; ++j)
    if (strcmp(tr->names[j], name) == 0) return j;
  return -1;
}

static double at(const traj *tr, int i, int j) { return tr->m->data[(size_t)i + (size_t)j * (size_t)tr->m->rows]; }

static json_t *load_summary(const char *out) {
  char path[400];
  snprintf(path, sizeof path, "%s/summary.json", out);
  json_error_t err;
  json_t *root = json_load_file(path, 0, &err);
  if (!root) print_error("%s: %s\n", path, err.text);
  assert_non_null(root);
  return root;
}

static const char *theory_note(json_t *sum) {
  json_t *th = json_object_get(sum, "theory_observer");
  assert_non_null(th);
  const char *note = json_string_value(json_object_get(th, "note"));
  assert_non_null(note);
  return note;
}

/* bound(0) = L(0), L(t) − L* ≤ (bound(t) − L*)(1 + tol) + tol L(0) at every sample, and the
 * rate −ln((bound − ys)/(L(0) − ys))/t of the column at the last sample. */
static double check_envelope(const traj *tr, const char *bname, double ys, double lstar, double tol) {
  int cb = col(tr, bname), cl = col(tr, "loss"), ct = col(tr, "t");
  if (cb < 0) print_error("no column %s\n", bname);
  assert_true(cb >= 0 && cl >= 0 && ct == 0);
  int n = tr->m->rows;
  double L0 = at(tr, 0, cl);
  assert_close(at(tr, 0, ct), 0.0, 0, 0);
  assert_close(at(tr, 0, cb), L0, 1e-14, 0);
  for (int i = 0; i < n; ++i) {
    double gap = at(tr, i, cl) - lstar, env = at(tr, i, cb) - lstar;
    assert_true(isfinite(env) && env > 0);
    if (!(gap <= env * (1 + tol) + tol * L0))
      print_error("%s: t = %g: loss gap %.17g > bound gap %.17g\n", bname, at(tr, i, ct), gap, env);
    assert_true(gap <= env * (1 + tol) + tol * L0);
    if (i) assert_true(at(tr, i, cb) <= at(tr, i - 1, cb)); /* nonincreasing */
  }
  double tl = at(tr, n - 1, ct);
  return -log((at(tr, n - 1, cb) - ys) / (L0 - ys)) / tl;
}

/* ------------------------------------------------------------------ tests */

static const char *regression_spec =
    "{\"task\": \"regression\", \"rows\": 3, \"cols\": 8, \"n_samples\": 5, \"depth\": 2, \"width\": 10,\n"
    " \"init\": \"imbalanced\", \"layer_scales\": [1.0, 0.05], \"sigma\": 0.5, \"t_end\": 20,\n"
    " \"observe\": [\"all\", \"theory\"], \"plot\": false, \"quiet\": true}\n";

static void test_regression_003(void **state) {
  const char *dir = *state, *out = outdir(dir, "reg");
  run_spec(regression_spec, out);
  traj tr;
  load_traj(out, &tr);
  json_t *sum = load_summary(out);
  double lstar = json_real_value(json_object_get(json_object_get(sum, "task"), "lstar"));
  assert_true(isfinite(lstar));
  assert_true(col(&tr, "bound_003thm1") >= 0);
  assert_int_equal(col(&tr, "bound_004prop2"), -1); /* regression: 004 and 002 refuse */
  assert_int_equal(col(&tr, "bound_002thm2"), -1);
  assert_int_equal(col(&tr, "cf_loss"), -1);
  const char *note = theory_note(sum);
  assert_non_null(strstr(note, "004 Prop. 2 bound: not applicable: "));
  assert_non_null(strstr(note, "002 Thm 2 bound: not applicable: "));
  assert_null(strstr(note, "003 Thm 1 bound"));
  double rate_col = check_envelope(&tr, "bound_003thm1", lstar, lstar, 1e-6);

  /* independent constants: X.npy and the initial layers */
  char p[400];
  dln_mat *X = NULL, *W1 = NULL, *W2 = NULL;
  snprintf(p, sizeof p, "%s/X.npy", out);
  assert_int_equal(dln_npy_read(p, &X), DLN_OK);
  snprintf(p, sizeof p, "%s/W1_init.npy", out);
  assert_int_equal(dln_npy_read(p, &W1), DLN_OK);
  snprintf(p, sizeof p, "%s/W2_init.npy", out);
  assert_int_equal(dln_npy_read(p, &W2), DLN_OK);
  int widths[3] = {W1->cols, W1->rows, W2->rows};
  assert_int_equal(W2->cols, W1->rows);
  dln_net *net = NULL;
  assert_int_equal(dln_net_alloc(&net, 2, widths, 0), DLN_OK);
  double *theta = calloc(net->nparams, sizeof *theta);
  assert_non_null(theta);
  memcpy(theta + net->offset[1], W1->data, (size_t)W1->rows * (size_t)W1->cols * sizeof(double));
  memcpy(theta + net->offset[2], W2->data, (size_t)W2->rows * (size_t)W2->cols * sizeof(double));
  double c = 0, sxr = 0;
  assert_int_equal(dln_theory_imbalance_c(net, X, theta, &c, NULL, NULL, &sxr, NULL), DLN_OK);
  assert_true(c > 0);
  assert_close(rate_col, 2 * sxr * c, 1e-9, 0);

  /* the verdict function on the same loss column: same rate, holds */
  dln_curve cv;
  int cl = col(&tr, "loss");
  double *t = malloc((size_t)tr.m->rows * sizeof *t), *y = malloc((size_t)tr.m->rows * sizeof *y);
  assert_non_null(t);
  assert_non_null(y);
  for (int i = 0; i < tr.m->rows; ++i) t[i] = at(&tr, i, 0), y[i] = at(&tr, i, cl);
  dln_curve_arrays(&cv, (size_t)tr.m->rows, t, y);
  dln_mat *Y = NULL;
  snprintf(p, sizeof p, "%s/Y.npy", out);
  assert_int_equal(dln_npy_read(p, &Y), DLN_OK);
  dln_loss *loss = NULL;
  assert_int_equal(dln_loss_regression_alloc(&loss, X, Y), DLN_OK);
  assert_close(loss->lstar, lstar, 1e-12, 1e-14);
  dln_verdict v;
  assert_int_equal(dln_bound_imbalance_rate(net, loss, X, theta, &cv, 1e-6, &v), DLN_OK);
  assert_true(v.holds);
  assert_close(v.bound, rate_col, 1e-9, 0);
  double r2 = 0, ys = 0;
  assert_int_equal(dln_bound_rate_imbalance(net, loss, X, theta, &r2, &ys), DLN_OK);
  assert_close(r2, v.bound, 0, 0);
  assert_close(ys, loss->lstar, 0, 0);
  dln_loss_free(loss);
  dln_mat_free(Y);

  free(t), free(y), free(theta);
  dln_net_free(net);
  dln_mat_free(X), dln_mat_free(W1), dln_mat_free(W2), dln_mat_free(tr.m);
  json_decref(sum);
}

static const char *balanced_spec =
    "{\"task\": \"factorization\", \"target\": \"lowrank\", \"singular_values\": [3.0, 2.0, 1.0],\n"
    " \"rows\": 3, \"cols\": 3, \"widths\": [3, 3, 3], \"init\": \"balanced\", \"sigma\": 0.5,\n"
    " \"t_end\": 5, \"observe\": [\"all\", \"theory\"], \"plot\": false, \"quiet\": true}\n";

static void test_balanced_no_003(void **state) {
  const char *dir = *state, *out = outdir(dir, "bal");
  run_spec(balanced_spec, out);
  traj tr;
  load_traj(out, &tr);
  assert_int_equal(col(&tr, "bound_003thm1"), -1);
  json_t *sum = load_summary(out);
  const char *note = theory_note(sum);
  const char *why = strstr(note, "003 Thm 1 bound: not applicable: ");
  if (!why || !strstr(why, "c > 0")) print_error("note: %s\n", note);
  assert_non_null(why);
  assert_non_null(strstr(why, "c > 0"));
  dln_mat_free(tr.m);
  json_decref(sum);
}

static const char *spectral_spec =
    "{\"task\": \"factorization\", \"target\": \"lowrank\", \"singular_values\": [2.0, 1.0, 0.5],\n"
    " \"rows\": 3, \"cols\": 4, \"widths\": [4, 5, 3], \"init\": \"spectral\",\n"
    " \"ubar\": [0.9, 0.3, 1.2], \"vbar\": [0.2, 0.8, 0.75], \"t_end\": 10, \"rtol\": 1e-10,\n"
    " \"observe\": [\"all\", \"theory\"], \"plot\": false, \"quiet\": true}\n";

static void test_spectral_cf_loss(void **state) {
  const char *dir = *state, *out = outdir(dir, "spec");
  run_spec(spectral_spec, out);
  traj tr;
  load_traj(out, &tr);
  int cl = col(&tr, "loss"), cf = col(&tr, "cf_loss"), cd = col(&tr, "cf_dist");
  assert_true(cl >= 0 && cf >= 0 && cd >= 0);
  assert_int_equal(cf, cd + 1); /* next to cf_dist */
  double worst = 0;
  for (int i = 0; i < tr.m->rows; ++i) {
    double a = at(&tr, i, cf), b = at(&tr, i, cl), dev = fabs(a - b) / fmax(1.0, fabs(b));
    assert_true(isfinite(a));
    if (dev > worst) worst = dev;
  }
  if (tu_verbose()) print_message("max |cf_loss - loss| / max(1, loss) = %.3g\n", worst);
  assert_true(worst <= 1e-8);
  json_t *sum = load_summary(out);
  assert_string_equal(json_string_value(json_object_get(json_object_get(sum, "theory_observer"), "closed_form")),
                      "001 eq. 17/22 (asymmetric spectral)");
  dln_mat_free(tr.m);
  json_decref(sum);
}

/* balanced (ū = v̄) spectral init with W0 = diag(ū²) close to Ȳ = diag(3, 2, 1): δ > 0 */
static const char *deficiency_spec =
    "{\"task\": \"factorization\", \"target\": \"lowrank\", \"singular_values\": [3.0, 2.0, 1.0],\n"
    " \"rows\": 3, \"cols\": 3, \"widths\": [3, 3, 3], \"init\": \"spectral\",\n"
    " \"ubar\": [1.7, 1.4, 0.95], \"vbar\": [1.7, 1.4, 0.95], \"t_end\": 6,\n"
    " \"observe\": [\"all\", \"theory\"], \"plot\": false, \"quiet\": true}\n";

static void test_deficiency_002(void **state) {
  const char *dir = *state, *out = outdir(dir, "def");
  run_spec(deficiency_spec, out);
  traj tr;
  load_traj(out, &tr);
  assert_int_equal(col(&tr, "bound_003thm1"), -1); /* balanced: c = 0 */
  double L0 = at(&tr, 0, col(&tr, "loss"));
  double delta = 1.0 - sqrt(2 * L0); /* σ_min(Ȳ) − ‖W0 − Ȳ‖_F, ℓ = ½‖W − Ȳ‖² */
  assert_true(delta > 0);
  double rate = check_envelope(&tr, "bound_002thm2", 0.0, 0.0, 1e-6);
  assert_close(rate, 2 * delta, 1e-9, 0); /* 2 δ^{2(N−1)/N}, N = 2 */
  dln_mat_free(tr.m);
}

static const char *pyramidal_spec =
    "{\"task\": \"factorization\", \"target\": \"lowrank\", \"singular_values\": [3.0, 2.0],\n"
    " \"rows\": 2, \"cols\": 4, \"widths\": [4, 6, 2], \"init\": \"imbalanced\", \"layer_scales\": [1.5, 0.1],\n"
    " \"sigma\": 1.0, \"t_end\": 6, \"observe\": [\"all\", \"theory\"], \"plot\": false, \"quiet\": true}\n";

static void test_pyramidal_004(void **state) {
  const char *dir = *state, *out = outdir(dir, "pyr");
  run_spec(pyramidal_spec, out);
  traj tr;
  load_traj(out, &tr);
  double r4 = check_envelope(&tr, "bound_004prop2", 0.0, 0.0, 1e-6);
  double r3 = check_envelope(&tr, "bound_003thm1", 0.0, 0.0, 1e-6);
  assert_true(r4 > 0 && r3 > 0);
  assert_true(col(&tr, "bound_003thm1") < col(&tr, "bound_004prop2"));
  dln_mat_free(tr.m);
}

static void test_no_theory_no_columns(void **state) {
  const char *dir = *state, *out = outdir(dir, "plain");
  static const char *spec =
      "{\"task\": \"factorization\", \"target\": \"lowrank\", \"singular_values\": [3.0, 2.0],\n"
      " \"rows\": 2, \"cols\": 4, \"widths\": [4, 6, 2], \"init\": \"imbalanced\", \"layer_scales\": [1.5, 0.1],\n"
      " \"sigma\": 1.0, \"t_end\": 1, \"observe\": [\"all\", \"bias\"], \"plot\": false, \"quiet\": true}\n";
  run_spec(spec, out);
  traj tr;
  load_traj(out, &tr);
  for (int j = 0; j < tr.ncols; ++j) {
    assert_true(strncmp(tr.names[j], "bound_", 6) != 0);
    assert_true(strcmp(tr.names[j], "cf_loss") != 0);
  }
  dln_mat_free(tr.m);
}

/* Heap calls of n evaluations (after one warm-up). */
static long eval_allocs(dln_observer *obs, const double *theta, int n) {
  double row[64];
  assert_true(dln_observer_ncols(obs) <= 64);
  assert_int_equal(dln_observer_eval(obs, 0.0, 0, theta, row), DLN_OK);
  dln_alloc_count_begin();
  for (int i = 0; i < n; ++i) dln_observer_eval(obs, 0.1 * i, i, theta, row);
  return dln_alloc_count_end(NULL);
}

static void test_eval_no_alloc(void **state) {
  (void)state;
  if (!DLN_HAVE_ALLOC_COUNTER) skip();
  /* depth 2, pyramidal 4 -> 6 -> 2 with a large W_2: C_1 = W_2^T W_2 - W_1 W_1^T has 2
   * positive eigenvalues (004 Prop. 2) and c = lambda_2(C_1) > 0 (003 Thm 1) */
  dln_net *net;
  dln_loss *loss;
  double *theta;
  tu_fact_problem(11, 2, (const int[]){4, 6, 2}, 1.0, &net, &loss, &theta);
  double *W1 = theta + net->offset[1];
  for (int i = 0; i < 6 * 4; ++i) W1[i] *= 0.1;
  dln_observer *obs = NULL;
  assert_int_equal(dln_observer_alloc_theory(&obs, net, loss, theta, DLN_OBS_LOSS, DLN_OBSX_CF, NULL), DLN_OK);
  assert_true(dln_observer_col(obs, "bound_003thm1") >= 0);
  assert_true(dln_observer_col(obs, "bound_004prop2") >= 0);
  assert_int_equal(eval_allocs(obs, theta, 50), 0);
  dln_observer_free(obs);
  dln_net_free(net);
  dln_loss_free(loss);
  free(theta);

  /* depth 1: the linear closed form (001 eq. 4) behind cf_dist and cf_loss */
  tu_fact_problem(12, 1, (const int[]){4, 3}, 1.0, &net, &loss, &theta);
  assert_int_equal(dln_observer_alloc_theory(&obs, net, loss, theta, DLN_OBS_LOSS, DLN_OBSX_CF, NULL), DLN_OK);
  int cf = dln_observer_col(obs, "cf_loss");
  assert_true(cf >= 0);
  double row[64];
  assert_int_equal(dln_observer_eval(obs, 0.0, 0, theta, row), DLN_OK);
  assert_close(row[cf], row[dln_observer_col(obs, "loss")], 1e-14, 0); /* W_cf(0) = W(0) */
  assert_int_equal(eval_allocs(obs, theta, 50), 0);
  dln_observer_free(obs);
  dln_net_free(net);
  dln_loss_free(loss);
  free(theta);
}

static int setup(void **state) {
  const char *d = tu_tmpdir(0);
  *state = (void *)d;
  return d ? 0 : -1;
}

static int teardown(void **state) {
  tu_rmtree(*state);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_regression_003),   cmocka_unit_test(test_balanced_no_003),
      cmocka_unit_test(test_spectral_cf_loss), cmocka_unit_test(test_deficiency_002),
      cmocka_unit_test(test_pyramidal_004),    cmocka_unit_test(test_no_theory_no_columns),
      cmocka_unit_test(test_eval_no_alloc),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
