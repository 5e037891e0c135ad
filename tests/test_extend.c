/* Extending dln from outside, through the public headers only (dln/dln.h): a new task
 * (the quartic loss ¼‖W − Ȳ‖⁴_F with its own option) and a new integrator (fixed-step
 * explicit Euler with its own option) are registered, set by name like any option, run
 * through the same path a spec takes (dln_spec_check, dln_run, a run folder), and their
 * results are checked against computations written out here by hand:
 *   - quartic task × gd, depth 1: W_{k+1} = W_k − η ‖W_k − Ȳ‖² (W_k − Ȳ);
 *   - factorization × euler, depth 1: W_k = Ȳ + (1 − h)^k (W_0 − Ȳ) (closed form);
 *   - quartic task × euler, depth 2: the loss decreases and the final layers agree with
 *     the same Euler recursion run here on the network's own gradient.
 * The task's value, gradient and Hessian-vector product are also checked by finite
 * differences. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dln/dln.h"
#include "testutil.h"

/* ---- the quartic task -------------------------------------------------------------------- */

typedef struct quartic_options {
  double quartic_sigma; /* Ȳ ~ quartic_sigma N(0, 1), rows x cols of the common rows */
} quartic_options;

static const dln_option quartic_rows[] = {
    {"quartic_sigma", DLN_OPT_DOUBLE, offsetof(quartic_options, quartic_sigma), "0.5",
     "quartic: scale of the target Ybar ~ quartic_sigma N(0, 1)", NULL, DLN_OPTR_POS, 0, 0, NULL, NULL},
    DLN_OPTION_END};

static const dln_task_file quartic_files[] = {{"target_file", "target.npy"}, {NULL, NULL}};

static int q_eval(dln_loss *l, const double *W, double *value, double *G) {
  size_t n = (size_t)l->rows * (size_t)l->cols;
  double s = 0;
  for (size_t i = 0; i < n; ++i) s += (W[i] - l->wstar[i]) * (W[i] - l->wstar[i]);
  *value = 0.25 * s * s;
  if (G)
    for (size_t i = 0; i < n; ++i) G[i] = s * (W[i] - l->wstar[i]); /* ∇ℓ = ‖R‖² R */
  return DLN_OK;
}

static int q_hvp(dln_loss *l, const double *W, const double *D, double *out) {
  size_t n = (size_t)l->rows * (size_t)l->cols;
  double s = 0, rd = 0;
  for (size_t i = 0; i < n; ++i) {
    double r = W[i] - l->wstar[i];
    s += r * r;
    rd += r * D[i];
  }
  for (size_t i = 0; i < n; ++i) out[i] = s * D[i] + 2 * rd * (W[i] - l->wstar[i]); /* ∇²ℓ[D] = ‖R‖² D + 2⟨R, D⟩ R */
  return DLN_OK;
}

static const dln_loss_ops q_ops = {"quartic", DLN_LOSS_HAS_LSTAR, q_eval, q_hvp, NULL};

static unsigned q_caps(const dln_task_options *o) {
  (void)o;
  return DLN_LOSS_HAS_LSTAR;
}

static int q_shape(const dln_task_options *o, int *rows, int *cols) {
  *rows = o->rows;
  *cols = o->cols;
  return 1;
}

static int q_data(const dln_task_options *o, dln_rng *rng, dln_task_data *d, const char **field) {
  const quartic_options *q = o->own;
  *field = "quartic_sigma";
  if (!rng) return dln_error(DLN_EINVAL, "expected a random stream, found none");
  dln_mat *T = dln_mat_alloc(o->rows, o->cols);
  if (!T) return dln_error(DLN_ENOMEM, "out of memory");
  dln_rng_fill_gaussian(rng, T->data, (size_t)o->rows * (size_t)o->cols, q->quartic_sigma);
  d->mats[0] = T;
  return DLN_OK;
}

static int q_loss(const dln_task_options *o, const dln_task_data *d, dln_loss **out) {
  (void)o;
  const dln_mat *T = d->mats[0];
  dln_loss *l = calloc(1, sizeof *l);
  double *w = malloc((size_t)T->rows * (size_t)T->cols * sizeof *w);
  if (!l || !w) {
    free(l);
    free(w);
    return dln_error(DLN_ENOMEM, "out of memory");
  }
  memcpy(w, T->data, (size_t)T->rows * (size_t)T->cols * sizeof *w);
  *l = (dln_loss){&q_ops, T->rows, T->cols, 0.0, w, "target", NAN, NULL, NULL, NULL, {0, NULL, NULL, NULL}, NULL};
  *out = l;
  return DLN_OK;
}

static const dln_task_type quartic_task = {"quartic", "1/4 |W - Ybar|_F^4 (test_extend)", quartic_rows, sizeof(quartic_options),
                                           quartic_files, q_caps, NULL, q_shape, q_data, q_loss, NULL, NULL, NULL, NULL};

/* ---- the explicit Euler integrator -------------------------------------------------------- */

typedef struct euler_options {
  double euler_h;
} euler_options;

static const dln_option euler_rows[] = {
    {"euler_h", DLN_OPT_DOUBLE, offsetof(euler_options, euler_h), "0.01", "euler: fixed step size", NULL, DLN_OPTR_POS, 0, 0,
     NULL, NULL},
    DLN_OPTION_END};

typedef struct euler {
  dln_stepper base;
  dln_system *sys;
  double *x, *prev, *f;
  double t, tprev, h, t_end;
  size_t n;
} euler;

static int euler_step(dln_stepper *s, double *t) {
  euler *e = (euler *)s;
  double h = fmin(e->h, e->t_end - e->t);
  int rc = dln_system_rhs(e->sys, e->x, e->f);
  if (rc) {
    snprintf(s->msg, sizeof s->msg, "right-hand side failed (%d)", rc);
    return rc > 0 ? DLN_STOP_DIVERGED : DLN_STOP_SOLVER;
  }
  memcpy(e->prev, e->x, e->n * sizeof(double));
  for (size_t i = 0; i < e->n; ++i) e->x[i] += h * e->f[i];
  e->tprev = e->t;
  e->t = (e->t_end - e->t <= e->h) ? e->t_end : e->t + h;
  *t = e->t;
  return 0;
}

static int euler_dense(dln_stepper *s, double t, double *out) { /* linear between the step's ends */
  euler *e = (euler *)s;
  double a = e->t > e->tprev ? (t - e->tprev) / (e->t - e->tprev) : 1.0;
  for (size_t i = 0; i < e->n; ++i) out[i] = e->prev[i] + a * (e->x[i] - e->prev[i]);
  return 0;
}

static void euler_stats(dln_stepper *s, dln_train_result *r) {
  (void)s;
  (void)r;
}

static void euler_destroy(dln_stepper *s) {
  euler *e = (euler *)s;
  if (!e) return;
  free(e->prev);
  free(e->f);
  free(e);
}

static int euler_create(dln_system *sys, double *x, double t0, double h0, dln_stepper **out) {
  (void)h0;
  const dln_train_options *o = dln_system_options(sys);
  euler *e = calloc(1, sizeof *e);
  if (!e) return dln_error(DLN_ENOMEM, "out of memory");
  e->n = dln_system_size(sys);
  e->prev = malloc(e->n * sizeof(double) + 1);
  e->f = malloc(e->n * sizeof(double) + 1);
  if (!e->prev || !e->f) {
    euler_destroy(&e->base);
    return dln_error(DLN_ENOMEM, "out of memory");
  }
  e->base = (dln_stepper){"euler (test)", euler_step, euler_dense, euler_stats, euler_destroy, NULL, {0}};
  e->sys = sys;
  e->x = x;
  e->t = e->tprev = t0;
  e->h = ((const euler_options *)o->method_options)->euler_h;
  e->t_end = o->t_end;
  *out = &e->base;
  return DLN_OK;
}

static const dln_integrator_type euler_type = {"euler", "explicit Euler with a fixed step (test_extend)", 0, euler_rows,
                                               sizeof(euler_options), NULL, euler_create, NULL};

/* ---- helpers ------------------------------------------------------------------------------- */

static void register_once(void) {
  static int done;
  if (done) return;
  assert_int_equal(dln_task_register(&quartic_task), DLN_OK);
  assert_int_equal(dln_integrator_register(&euler_type), DLN_OK);
  done = 1;
}

static dln_mat *load(const char *dir, const char *name) {
  char p[512];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  dln_mat *m = NULL;
  assert_int_equal(dln_npy_read(p, &m), DLN_OK);
  return m;
}

/* A spec from name=value pairs (NULL-terminated), run into dir. */
static void run_spec(const char *dir, const char *const *kv, dln_run_result *res) {
  dln_spec s;
  assert_int_equal(dln_spec_default(&s), DLN_OK);
  for (int i = 0; kv[i]; i += 2) {
    int st = dln_spec_set(&s, kv[i], kv[i + 1]);
    if (st) fail_msg("%s=%s: %s", kv[i], kv[i + 1], dln_last_error());
  }
  assert_int_equal(dln_spec_set(&s, "out", dir), DLN_OK);
  if (dln_spec_check(&s)) fail_msg("check: %s", dln_last_error());
  if (dln_run_noplot(&s, NULL, res)) fail_msg("run: %s", dln_last_error());
  dln_spec_free(&s);
}

/* ---- tests --------------------------------------------------------------------------------- */

static void test_registered(void **state) {
  (void)state;
  register_once();
  assert_ptr_equal(dln_task_find("quartic"), &quartic_task);
  assert_ptr_equal(dln_integrator_find("euler"), &euler_type);
  assert_non_null(dln_spec_find("quartic_sigma"));
  assert_non_null(dln_spec_find("euler_h"));
  assert_int_not_equal(dln_task_register(&quartic_task), DLN_OK); /* a name is registered once */
  dln_spec s;
  assert_int_equal(dln_spec_default(&s), DLN_OK);
  assert_int_equal(dln_spec_set(&s, "task", "quartic"), DLN_OK);
  assert_int_equal(dln_spec_set(&s, "method", "euler"), DLN_OK);
  assert_int_equal(dln_spec_set(&s, "euler_h", "-1"), DLN_OK);
  assert_int_not_equal(dln_spec_check(&s), DLN_OK); /* its own row's range check */
  assert_non_null(strstr(dln_last_error(), "euler_h"));
  assert_non_null(strstr(dln_last_error(), "positive"));
  assert_int_not_equal(dln_spec_set(&s, "quartic_sigma", "x"), DLN_OK);
  dln_spec_free(&s);
}

static void test_quartic_fd(void **state) {
  (void)state;
  register_once();
  dln_task_options o;
  memset(&o, 0, sizeof o);
  quartic_options q = {0.7};
  o.rows = 3;
  o.cols = 2;
  o.own = &q;
  dln_rng *rng = dln_rng_alloc(5, 0);
  dln_task_data d;
  memset(&d, 0, sizeof d);
  const char *field = NULL;
  assert_int_equal(quartic_task.data(&o, rng, &d, &field), DLN_OK);
  dln_loss *l = NULL;
  assert_int_equal(quartic_task.loss(&o, &d, &l), DLN_OK);
  double W[6], D[6], G[6], Hd[6], Wp[6], Wm[6], Gp[6], Gm[6], fp, fm, f0;
  for (int i = 0; i < 6; ++i) W[i] = dln_rng_gaussian(rng, 1), D[i] = dln_rng_gaussian(rng, 1);
  assert_int_equal(dln_loss_eval(l, W, &f0, G), DLN_OK);
  assert_int_equal(dln_loss_hvp(l, W, D, Hd), DLN_OK);
  double e = 1e-6, gd = 0;
  for (int i = 0; i < 6; ++i) Wp[i] = W[i] + e * D[i], Wm[i] = W[i] - e * D[i], gd += G[i] * D[i];
  dln_loss_eval(l, Wp, &fp, Gp);
  dln_loss_eval(l, Wm, &fm, Gm);
  assert_close((fp - fm) / (2 * e), gd, 1e-7, 1e-9);
  for (int i = 0; i < 6; ++i) assert_close((Gp[i] - Gm[i]) / (2 * e), Hd[i], 1e-6, 1e-8);
  dln_loss_free(l);
  dln_mat_free(d.mats[0]);
  dln_rng_free(rng);
}

/* quartic × gd, depth 1 against the hand-written recursion. */
static void test_quartic_gd(void **state) {
  (void)state;
  register_once();
  const char *dir = tu_tmpdir(1);
  const char *kv[] = {"task", "quartic", "quartic_sigma", "0.8", "rows", "3", "cols", "4", "widths", "4,3", "init", "gaussian",
                      "sigma", "0.3", "method", "gd", "eta", "0.05", "t_end", "2", "samples", "5", "plot", "false",
                      "quiet", "true", NULL};
  dln_run_result res;
  run_spec(dir, kv, &res);
  assert_int_equal(res.train.stop_reason, DLN_STOP_TIME);
  assert_int_equal(res.train.steps, 40);
  dln_mat *T = load(dir, "target.npy"), *W0 = load(dir, "W1_init.npy"), *W1 = load(dir, "W1_final.npy");
  double W[12];
  memcpy(W, W0->data, sizeof W);
  for (int k = 0; k < 40; ++k) {
    double s = 0;
    for (int i = 0; i < 12; ++i) s += (W[i] - T->data[i]) * (W[i] - T->data[i]);
    for (int i = 0; i < 12; ++i) W[i] -= 0.05 * s * (W[i] - T->data[i]);
  }
  assert_true(tu_maxdiff(12, W, W1->data) <= 1e-13);
  dln_mat_free(T);
  dln_mat_free(W0);
  dln_mat_free(W1);
  tu_rmtree(dir);
}

/* factorization × euler, depth 1 against the closed form Ȳ + (1 − h)^k (W_0 − Ȳ). */
static void test_euler_factorization(void **state) {
  (void)state;
  register_once();
  const char *dir = tu_tmpdir(2);
  const char *kv[] = {"task", "factorization", "rows", "2", "cols", "3", "widths", "3,2", "sigma", "0.5", "method", "euler",
                      "euler_h", "0.125", "t_end", "1", "samples", "3", "plot", "false", "quiet", "true", NULL};
  dln_run_result res;
  run_spec(dir, kv, &res);
  assert_int_equal(res.train.stop_reason, DLN_STOP_TIME);
  assert_int_equal(res.train.steps, 8);
  assert_string_equal(res.train.integrator, "euler (test)");
  dln_mat *T = load(dir, "target.npy"), *W0 = load(dir, "W1_init.npy"), *W1 = load(dir, "W1_final.npy");
  double c = pow(1 - 0.125, 8);
  for (int i = 0; i < 6; ++i) assert_close(W1->data[i], T->data[i] + c * (W0->data[i] - T->data[i]), 1e-13, 1e-14);
  dln_mat_free(T);
  dln_mat_free(W0);
  dln_mat_free(W1);
  tu_rmtree(dir);
}

/* quartic × euler, depth 2: the run against the same Euler recursion on the network's
 * own gradient (dln_net_grad), and the loss decreases. */
static void test_quartic_euler_depth2(void **state) {
  (void)state;
  register_once();
  const char *dir = tu_tmpdir(3);
  const char *kv[] = {"task", "quartic", "rows", "2", "cols", "3", "widths", "3,4,2", "sigma", "0.4", "method", "euler",
                      "euler_h", "0.05", "t_end", "1", "samples", "11", "plot", "false", "quiet", "true", NULL};
  dln_run_result res;
  run_spec(dir, kv, &res);
  assert_true(res.loss_final < res.loss_init);
  dln_mat *T = load(dir, "target.npy"), *A0 = load(dir, "W1_init.npy"), *B0 = load(dir, "W2_init.npy");
  dln_mat *A1 = load(dir, "W1_final.npy"), *B1 = load(dir, "W2_final.npy");
  double A[12], B[8], Wt[6], R[6], GA[12], GB[8];
  memcpy(A, A0->data, sizeof A);
  memcpy(B, B0->data, sizeof B);
  for (int k = 0; k < 20; ++k) { /* W = B A; ∇_B = ‖R‖² R A^T, ∇_A = ‖R‖² B^T R */
    tu_mm(0, 0, 2, 3, 4, B, A, Wt);
    double s = 0;
    for (int i = 0; i < 6; ++i) R[i] = Wt[i] - T->data[i], s += R[i] * R[i];
    tu_mm(0, 1, 2, 4, 3, R, A, GB);
    tu_mm(1, 0, 4, 3, 2, B, R, GA);
    for (int i = 0; i < 12; ++i) A[i] -= 0.05 * s * GA[i];
    for (int i = 0; i < 8; ++i) B[i] -= 0.05 * s * GB[i];
  }
  assert_true(tu_maxdiff(12, A, A1->data) <= 1e-12);
  assert_true(tu_maxdiff(8, B, B1->data) <= 1e-12);
  dln_mat_free(T);
  dln_mat_free(A0);
  dln_mat_free(B0);
  dln_mat_free(A1);
  dln_mat_free(B1);
  tu_rmtree(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_registered), cmocka_unit_test(test_quartic_fd),
                                     cmocka_unit_test(test_quartic_gd), cmocka_unit_test(test_euler_factorization),
                                     cmocka_unit_test(test_quartic_euler_depth2)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
