/* Integrator types (dln/integrator.h): the registry, the option rows and their one rule
 * per option, defaults shared with the command line, a type registered from outside the
 * library through the public headers only (fixed-step explicit Euler with its own option
 * block), and the end-to-end system × any integrator (dln_e2e_train). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dln/e2e.h"
#include "dln/error.h"
#include "dln/integrator.h"
#include "dln/spec.h"
#include "dln/train.h"
#include "testutil.h"

/* ------------------------------------------------------------------ explicit Euler, from outside */

typedef struct {
  double h;
} euler_opts;

static const dln_option euler_rows[] = {
    {"euler_h", DLN_OPT_DOUBLE, offsetof(euler_opts, h), "0.01", "euler: fixed step size", NULL, DLN_OPTR_POS, 0, 0, NULL,
     NULL},
    DLN_OPTION_END};

typedef struct {
  dln_stepper base;
  dln_system *sys;
  double *x, *x0, *f;
  size_t n;
  double t0, t, h, t_end;
  long steps;
} euler_stepper;

/* x ← x + h f(x), the last step shortened to land on t_end */
static int euler_step(dln_stepper *b, double *t) {
  euler_stepper *s = (euler_stepper *)b;
  int rc = dln_system_rhs(s->sys, s->x, s->f);
  if (rc) {
    snprintf(b->msg, sizeof b->msg, "right-hand side failed (%d)", rc);
    return rc > 0 ? DLN_STOP_DIVERGED : DLN_STOP_SOLVER;
  }
  double h = s->h;
  int last = s->t + h >= s->t_end * (1 - 1e-12);
  if (last) h = s->t_end - s->t;
  memcpy(s->x0, s->x, s->n * sizeof(double));
  for (size_t i = 0; i < s->n; ++i) s->x[i] += h * s->f[i];
  s->t0 = s->t;
  s->t = last ? s->t_end : s->t + h;
  s->steps++;
  *t = s->t;
  return 0;
}

static int euler_dense(dln_stepper *b, double t, double *out) {
  euler_stepper *s = (euler_stepper *)b;
  double w = s->t > s->t0 ? (t - s->t0) / (s->t - s->t0) : 1.0;
  for (size_t i = 0; i < s->n; ++i) out[i] = s->x0[i] + w * (s->x[i] - s->x0[i]);
  return 0;
}

static void euler_stats(dln_stepper *b, dln_train_result *r) { r->attempted += ((euler_stepper *)b)->steps; }

static void euler_destroy(dln_stepper *b) {
  euler_stepper *s = (euler_stepper *)b;
  if (!s) return;
  free(s->x0);
  free(s->f);
  free(s);
}

static int euler_create(dln_system *sys, double *x, double t0, double h0, dln_stepper **out) {
  (void)h0;
  const dln_train_options *o = dln_system_options(sys);
  euler_stepper *s = calloc(1, sizeof *s);
  if (!s) return DLN_ENOMEM;
  s->base.name = "euler";
  s->base.step = euler_step;
  s->base.dense = euler_dense;
  s->base.stats = euler_stats;
  s->base.destroy = euler_destroy;
  s->sys = sys;
  s->x = x;
  s->n = dln_system_size(sys);
  s->x0 = malloc(s->n * sizeof(double));
  s->f = malloc(s->n * sizeof(double));
  s->t = s->t0 = t0;
  s->h = ((const euler_opts *)o->method_options)->h;
  s->t_end = o->t_end;
  if (!s->x0 || !s->f) {
    euler_destroy(&s->base);
    return DLN_ENOMEM;
  }
  *out = &s->base;
  return DLN_OK;
}

static const dln_integrator_type euler_type = {
    .name = "euler",
    .summary = "fixed-step explicit Euler (test)",
    .flags = 0,
    .options = euler_rows,
    .options_size = sizeof(euler_opts),
    .check = NULL,
    .create = euler_create,
};

static void register_euler(void) {
  if (!dln_integrator_find("euler")) assert_int_equal(dln_integrator_register(&euler_type), DLN_OK);
}

/* ------------------------------------------------------------------ tests */

static void test_registry(void **state) {
  (void)state;
  const char *names[] = {"auto", "gd", "flow", "cvode", "gauss", "rkc"}; /* the first is the default */
  const dln_integrator_type *types[] = {&dln_integrator_auto, &dln_integrator_gd,    &dln_integrator_flow,
                                        &dln_integrator_cvode, &dln_integrator_gauss, &dln_integrator_rkc};
  for (int i = 0; i < 6; ++i) {
    assert_ptr_equal(dln_integrator_find(names[i]), types[i]);
    assert_ptr_equal(dln_integrator_at(i), types[i]);
    assert_string_equal(dln_integrator_name_at(i), names[i]);
    int hvp = (types[i]->flags & DLN_INTEG_NEEDS_HVP) != 0;
    assert_int_equal(hvp, i == 0 || i >= 3); /* gd and flow run on any system */
    assert_int_equal((types[i]->flags & DLN_INTEG_DISCRETE) != 0, i == 1);
    assert_true(i == 1 ? types[i]->create == NULL : types[i]->create != NULL);
  }
  assert_null(dln_integrator_find("rk4"));
  assert_null(dln_integrator_find(NULL));
  assert_null(dln_integrator_at(-1));
  register_euler();
  assert_ptr_equal(dln_integrator_find("euler"), &euler_type);
  assert_int_equal(dln_integrator_register(&euler_type), DLN_EINVAL); /* duplicate */
  assert_non_null(strstr(dln_last_error(), "euler"));
  dln_integrator_type bad = euler_type;
  bad.name = "bad";
  bad.create = NULL;
  assert_int_equal(dln_integrator_register(&bad), DLN_EINVAL);
  bad = euler_type;
  bad.name = "bad2";
  bad.options_size = 0; /* rows without a block of their own */
  assert_int_equal(dln_integrator_register(&bad), DLN_EINVAL);
  assert_null(dln_integrator_find("bad2"));
}

/* The library's defaults are the command line's: same names, texts, types and help. */
static void check_rows_against_cli(const dln_option *rows) {
  for (int i = 0; rows && rows[i].name; ++i) {
    const dln_spec_option *s = dln_spec_find(rows[i].name);
    if (!s) print_error("row %s: not in the CLI table\n", rows[i].name);
    assert_non_null(s);
    if (strcmp(s->defval, rows[i].defval) || strcmp(s->help, rows[i].help))
      print_error("row %s: default '%s' / '%s', help '%s' / '%s'\n", rows[i].name, rows[i].defval, s->defval,
                  rows[i].help, s->help);
    assert_string_equal(rows[i].defval, s->defval);
    assert_string_equal(rows[i].help, s->help);
    assert_int_equal(rows[i].type, s->type);
  }
}

static void test_defaults(void **state) {
  (void)state;
  dln_train_options o;
  dln_train_default_options(&o);
  assert_ptr_equal(o.method, &dln_integrator_auto);
  assert_null(o.method_options);
  assert_true(o.t_end == 40);
  assert_true(o.eta == 1e-3 && o.rtol == 1e-8 && o.atol == 1e-10 && o.blowup == 1e150);
  assert_int_equal(o.nsamples, 201);
  assert_int_equal(o.erk_order, 5);
  assert_int_equal(o.gauss_stages, 2);
  assert_int_equal(o.krylov_maxl, 30);
  assert_true(o.auto_stiff_ratio == 0.5 && o.auto_rkc_max == 1e4);
  assert_int_equal(o.auto_window, 3);
  assert_int_equal(o.auto_min_steps, 200);
  assert_true(o.loss_threshold == -1 && o.grad_tol == 0 && o.t_first == 0 && o.log_spacing == 0);
  assert_int_equal(dln_train_check(&o), DLN_OK);
  check_rows_against_cli(dln_train_option_rows());
  for (int i = 0; i < 6; ++i) check_rows_against_cli(dln_integrator_at(i)->options);
}

static void expect_bad(const dln_train_options *o, const char *a, const char *b) {
  assert_int_equal(dln_train_check(o), DLN_EINVAL);
  const char *m = dln_last_error();
  if (!strstr(m, a) || (b && !strstr(m, b))) print_error("message '%s', expected '%s' and '%s'\n", m, a, b ? b : "");
  assert_non_null(strstr(m, a));
  if (b) assert_non_null(strstr(m, b));
}

/* One rule per option, checked for the method that reads it. */
static void test_rules(void **state) {
  (void)state;
  dln_train_options o;
  dln_train_default_options(&o);
  o.method = NULL;
  expect_bad(&o, "method", "NULL");
  dln_train_default_options(&o);
  o.rtol = 1;
  expect_bad(&o, "rtol", "below 1");
  o.rtol = 0;
  expect_bad(&o, "rtol: expected a positive finite number, found 0", NULL);
  dln_train_default_options(&o);
  o.blowup = INFINITY;
  expect_bad(&o, "blowup", "positive finite");
  dln_train_default_options(&o);
  o.nsamples = 20000000;
  expect_bad(&o, "samples", "10^7");
  dln_train_default_options(&o);
  o.t_first = 50; /* t_end 40 */
  expect_bad(&o, "t_first", "below t_end");
  /* the rows of a method: checked when it runs, with the rows of the types it composes */
  dln_train_default_options(&o);
  o.erk_order = 7;
  expect_bad(&o, "erk_order", "found 7"); /* auto reads flow's erk_order */
  o.method = &dln_integrator_gauss;
  assert_int_equal(dln_train_check(&o), DLN_OK);
  o.gauss_stages = 0;
  expect_bad(&o, "gauss_stages", "expected 1 or 2 stages, found 0");
  o.method = &dln_integrator_cvode;
  assert_int_equal(dln_train_check(&o), DLN_OK);
  o.krylov_maxl = 1001;
  expect_bad(&o, "krylov_maxl", "1001");
  o.method = &dln_integrator_auto;
  o.erk_order = 5;
  expect_bad(&o, "krylov_maxl", "1001"); /* auto reads cvode's krylov_maxl */
  o.krylov_maxl = 30;
  o.auto_min_steps = 0;
  expect_bad(&o, "auto_min_steps: expected an integer >= 1, found 0", NULL);
  o.auto_min_steps = 200;
  o.method = &dln_integrator_gd;
  o.eta = 0;
  expect_bad(&o, "eta: expected a positive finite number, found 0", NULL);
  o.eta = 1e-3;
  assert_int_equal(dln_train_check(&o), DLN_OK);
  /* a registered type with its own block */
  register_euler();
  o.method = dln_integrator_find("euler");
  expect_bad(&o, "method_options", "euler");
  euler_opts eo = {0};
  assert_int_equal(dln_options_default(&eo, euler_rows, -1), DLN_OK);
  o.method_options = &eo;
  assert_int_equal(dln_train_check(&o), DLN_OK);
  eo.h = -1;
  expect_bad(&o, "euler_h", "positive");
}

/* φ = ½‖W − Ȳ‖² at depth 1: Euler steps h are gradient-descent steps η = h. */
static void test_external_euler(void **state) {
  (void)state;
  register_euler();
  int widths[2] = {4, 3};
  dln_net *net;
  dln_loss *loss;
  double *th;
  tu_fact_problem(3, 1, widths, 0.5, &net, &loss, &th);
  size_t n = net->nparams;
  double *a = tu_dalloc(n), *b = tu_dalloc(n);
  memcpy(a, th, n * sizeof(double));
  memcpy(b, th, n * sizeof(double));
  euler_opts eo = {0.05};
  dln_train_options o;
  dln_train_default_options(&o);
  o.method = dln_integrator_find("euler");
  o.method_options = &eo;
  o.t_end = 2.0;
  o.nsamples = 5;
  dln_train_result ra = tu_train(net, loss, a, &o, NULL, NULL);
  assert_string_equal(ra.integrator, "euler");
  assert_int_equal(ra.steps, 40);
  assert_int_equal(ra.attempted, 40);
  assert_int_equal(ra.grad_evals, 40);
  dln_train_default_options(&o);
  o.method = &dln_integrator_gd;
  o.eta = 0.05;
  o.t_end = 2.0;
  o.nsamples = 5;
  dln_train_result rb = tu_train(net, loss, b, &o, NULL, NULL);
  assert_int_equal(rb.steps, 40);
  assert_true(tu_maxdiff(n, a, b) <= 1e-14);
  assert_close(ra.loss, rb.loss, 1e-13, 0);
  free(a);
  free(b);
  free(th);
  dln_loss_free(loss);
  dln_net_free(net);
}

/* The end-to-end system × integrators: gd and flow as dln_e2e_gd / dln_e2e_flow (same
 * bits, same names), the Euler type, and a clear refusal of those needing ∇²φ v. */
static void test_e2e_train(void **state) {
  (void)state;
  register_euler();
  int widths[3] = {4, 5, 3};
  dln_net *net;
  dln_loss *loss;
  double *th;
  tu_fact_problem(5, 2, widths, 0.3, &net, &loss, &th);
  dln_e2e *e;
  assert_int_equal(dln_e2e_alloc(&e, loss, 2), DLN_OK);
  size_t mn = 12;
  double W0[12], W1[12], W2[12];
  for (size_t i = 0; i < mn; ++i) W0[i] = 0.1 * (double)((int)(i * 7 % 11) - 5);
  dln_train_options o;
  dln_train_result r1, r2;
  const dln_integrator_type *both[2] = {&dln_integrator_flow, &dln_integrator_gd};
  const char *names[2] = {"e2e-arkode-erk", "e2e-gd"};
  for (int k = 0; k < 2; ++k) {
    dln_train_default_options(&o);
    o.method = both[k];
    o.t_end = 1.0;
    o.eta = 0.01;
    o.nsamples = 3;
    memcpy(W1, W0, sizeof W0);
    memcpy(W2, W0, sizeof W0);
    assert_int_equal(dln_e2e_train(e, W1, &o, NULL, &r1), DLN_OK);
    o.method = &dln_integrator_cvode; /* ignored by the wrappers */
    assert_int_equal(k ? dln_e2e_gd(e, W2, &o, NULL, NULL, &r2) : dln_e2e_flow(e, W2, &o, NULL, NULL, &r2), DLN_OK);
    assert_memory_equal(W1, W2, sizeof W1);
    assert_string_equal(r1.integrator, names[k]);
    assert_string_equal(r2.integrator, names[k]);
    assert_int_equal(r1.grad_evals, r2.grad_evals);
  }
  /* any integrator without Hessian-vector needs */
  euler_opts eo = {0.01};
  dln_train_default_options(&o);
  o.method = dln_integrator_find("euler");
  o.method_options = &eo;
  o.t_end = 1.0;
  o.nsamples = 3;
  memcpy(W1, W0, sizeof W0);
  assert_int_equal(dln_e2e_train(e, W1, &o, NULL, &r1), DLN_OK);
  assert_string_equal(r1.integrator, "euler");
  assert_int_equal(r1.stop_reason, DLN_STOP_TIME);
  assert_int_equal(r1.steps, 100);
  /* the others are refused, naming what fits */
  const dln_integrator_type *hvp[4] = {&dln_integrator_cvode, &dln_integrator_gauss, &dln_integrator_rkc,
                                       &dln_integrator_auto};
  for (int k = 0; k < 4; ++k) {
    dln_train_default_options(&o);
    o.method = hvp[k];
    o.t_end = 1.0;
    memcpy(W1, W0, sizeof W0);
    assert_int_equal(dln_e2e_train(e, W1, &o, NULL, &r1), DLN_EINVAL);
    const char *m = dln_last_error();
    print_message("%s\n", m);
    assert_non_null(strstr(m, "needs Hessian-vector products"));
    assert_non_null(strstr(m, hvp[k]->name));
    assert_non_null(strstr(m, "gd, flow"));
    assert_memory_equal(W1, W0, sizeof W0);
  }
  dln_e2e_free(e);
  free(th);
  dln_loss_free(loss);
  dln_net_free(net);
}

int main(void) {
  tu_seed(8);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_registry), cmocka_unit_test(test_defaults), cmocka_unit_test(test_rules),
      cmocka_unit_test(test_external_euler), cmocka_unit_test(test_e2e_train)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
