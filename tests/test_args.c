/* Every public function (include/dln/<name>.h) with NULL pointers and out-of-range indices:
 * no crash and no out-of-bounds read (under ASan this is checked), an error status (or
 * NULL / NaN / a negative count, as each header documents) and a non-empty
 * dln_last_error(). *_free(NULL) and the other void functions do nothing.
 *
 * Complete by construction: tests/check_args.sh (ctest "check_args") lists the functions
 * declared in include/dln/<name>.h and fails for one that is not called here ("name(") and
 * not exempted below.
 *
 * Exemptions (no pointer or index argument that could be bad):
 *   EXEMPT dln_net_option_rows: no arguments
 *   EXEMPT dln_init_common_rows: no arguments
 *   EXEMPT dln_task_common_rows: no arguments
 *   EXEMPT dln_afile_unlink_pending: no arguments (async-signal-safe cleanup of the temp files)
 *   EXEMPT dln_train_option_rows: no arguments
 *   EXEMPT dln_spec_options: no arguments
 *   EXEMPT dln_spec_noptions: no arguments
 *   EXEMPT dln_cf_eq9: scalars only (NaN in, NaN out)
 *   EXEMPT dln_cf_eq17: scalars only
 *   EXEMPT dln_cf_eq21_rhs: scalars only
 *   EXEMPT dln_cf_eq22: scalars only
 *   EXEMPT dln_abi_version: no arguments
 *   EXEMPT dln_abi_library_version: no arguments
 *   EXEMPT dln_gemm_active: no arguments */

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dln/abi.h" /* not in dln.h */
#include "dln/dln.h"
#include "testutil.h"

static int nbad; /* failed expectations, asserted at the end of each test */

static void bad(int line, const char *expr, const char *why) {
  nbad++;
  print_error("test_args.c:%d: %s: %s (last error \"%s\")\n", line, expr, why, dln_last_error());
}
static void st_(int st, const char *expr, int line) {
  if (st == DLN_OK) bad(line, expr, "returned DLN_OK");
  else if (!dln_last_error()[0]) bad(line, expr, "no message");
}
static void nul_(const void *p, const char *expr, int line) {
  if (p) bad(line, expr, "returned non-NULL");
  else if (!dln_last_error()[0]) bad(line, expr, "no message");
}
static void neg_(long v, const char *expr, int line) {
  if (v >= 0) bad(line, expr, "returned a non-negative value");
  else if (!dln_last_error()[0]) bad(line, expr, "no message");
}
static void nan_(double v, const char *expr, int line) {
  if (!isnan(v)) bad(line, expr, "returned a number, expected NaN");
  else if (!dln_last_error()[0]) bad(line, expr, "no message");
}
static void zero_(long v, const char *expr, int line) {
  if (v != 0) bad(line, expr, "returned nonzero");
  else if (!dln_last_error()[0]) bad(line, expr, "no message");
}
static void msg_(const char *expr, int line) {
  if (!dln_last_error()[0]) bad(line, expr, "no message");
}
/* an error status and a message */
#define ST(call) st_((dln_error_clear(), (call)), #call, __LINE__)
/* NULL and a message */
#define NUL(call) nul_((dln_error_clear(), (const void *)(call)), #call, __LINE__)
/* a negative value and a message */
#define NEG(call) neg_((dln_error_clear(), (long)(call)), #call, __LINE__)
/* 0 (false, empty) and a message */
#define ZERO(call) zero_((dln_error_clear(), (long)(call)), #call, __LINE__)
/* NaN and a message */
#define NANV(call) nan_((dln_error_clear(), (double)(call)), #call, __LINE__)
/* void function with a bad argument: no crash, a message */
#define MSG(call) (dln_error_clear(), (call), msg_(#call, __LINE__))
/* *_free(NULL) and similar: no crash */
#define SAFE(call) ((call), (void)0)
#define DONE() assert_int_equal(nbad, 0)

/* A small valid world: net 3 -> 4 -> 2 (depth 2), factorization loss, θ. */
typedef struct {
  dln_net *net;
  dln_loss *loss;
  dln_mat *Y;
  double *theta, buf[64];
  dln_rng *rng;
} world;

static world make_world(void) {
  world w;
  memset(&w, 0, sizeof w);
  int widths[3] = {3, 4, 2};
  assert_int_equal(dln_net_alloc(&w.net, 2, widths, 0), DLN_OK);
  w.Y = dln_mat_alloc(2, 3);
  assert_non_null(w.Y);
  for (int i = 0; i < 6; ++i) w.Y->data[i] = 0.1 * (i + 1);
  assert_int_equal(dln_loss_factorization_alloc(&w.loss, w.Y), DLN_OK);
  w.theta = tu_dalloc(w.net->nparams);
  for (size_t i = 0; i < w.net->nparams; ++i) w.theta[i] = 0.3 + 0.01 * (double)i;
  w.rng = dln_rng_alloc(1, 2);
  assert_non_null(w.rng);
  return w;
}
static void free_world(world *w) {
  dln_rng_free(w->rng);
  free(w->theta);
  dln_loss_free(w->loss);
  dln_mat_free(w->Y);
  dln_net_free(w->net);
}

/* ------------------------------------------------------------------ core: error, mat, rng, table, option */

static void test_core(void **state) {
  (void)state;
  nbad = 0;
  assert_non_null(dln_strerror(-5));
  assert_non_null(dln_strerror(1000));
  assert_int_equal(dln_error(DLN_EINVAL, "%s", "x"), DLN_EINVAL);
  assert_string_equal(dln_last_error(), "x");
  ST(dln_error(DLN_EINVAL, NULL));

  NUL(dln_mat_alloc(-1, 2));
  NUL(dln_mat_alloc(2, -1));
  NUL(dln_mat_dup(NULL));
  NUL(dln_mat_from(2, 2, NULL));
  NUL(dln_mat_from(-1, 2, NULL));
  SAFE(dln_mat_free(NULL));
  ST(dln_size_mul(2, 3, NULL));
  ST(dln_check_finite("x", 2, 2, NULL));
  ST(dln_check_finite("x", -1, 2, NULL));
  NANV(dln_norm2(3, NULL));
  double a[4] = {1, 2, 3, 4}, out[4];
  int rank;
  ST(dln_pinv(2, 2, NULL, 0, out, &rank));
  ST(dln_pinv(2, 2, a, 0, NULL, &rank));
  ST(dln_pinv(-2, 2, a, 0, out, &rank));
  ST(dln_singular_values(2, 2, NULL, out, out));
  ST(dln_singular_values(2, 2, a, NULL, out));
  ST(dln_singular_values(2, 2, a, out, NULL));
  ST(dln_singular_values(-1, 2, a, out, out));
  ST(dln_gemm_select("mkl"));
  ST(dln_gemm_select(""));
  NUL(dln_gemm_backend_name((dln_gemm_backend)3));
  NUL(dln_gemm_backend_name((dln_gemm_backend)-1));
  char gbuf[8];
  ST(dln_gemm_describe(NULL, 8));
  ST(dln_gemm_describe(gbuf, 0));
  ST(dln_gemm_set_threads(0));
  ST(dln_gemm_set_threads(1025));
  ST(dln_gemm(0, 0, 2, 2, 2, 1.0, NULL, 2, a, 2, 0.0, out, 2));
  ST(dln_gemm(0, 0, 2, 2, 2, 1.0, a, 2, NULL, 2, 0.0, out, 2));
  ST(dln_gemm(0, 0, 2, 2, 2, 1.0, a, 2, a, 2, 0.0, NULL, 2));
  ST(dln_gemm(0, 0, -1, 2, 2, 1.0, a, 2, a, 2, 0.0, out, 2));
  ST(dln_gemm(0, 0, 2, 2, -1, 1.0, a, 2, a, 2, 0.0, out, 2));
  ST(dln_gemm(0, 0, 2, 2, 2, 1.0, a, 1, a, 2, 0.0, out, 2));
  ST(dln_gemm(1, 1, 2, 2, 2, 1.0, a, 2, a, 1, 0.0, out, 2));
  ST(dln_gemm(0, 0, 2, 2, 2, 1.0, a, 2, a, 2, 0.0, out, 1));

  NUL(dln_rng_alloc_key(NULL, 2));
  uint32_t key[2] = {1, 2};
  NUL(dln_rng_alloc_key(key, 0));
  SAFE(dln_rng_free(NULL));
  ZERO(dln_rng_get32(NULL)); /* documented: 0 for NULL */
  NANV(dln_rng_uniform(NULL));
  ZERO(dln_rng_uniform_int(NULL, 5));
  NANV(dln_rng_gaussian(NULL, 1.0));
  double x[3] = {1, 2, 3};
  MSG(dln_rng_fill_gaussian(NULL, x, 3, 1.0));
  assert_true(isnan(x[0]) && isnan(x[2])); /* documented: NaN-filled */
  dln_rng *r = dln_rng_alloc(3, 4);
  assert_non_null(r);
  MSG(dln_rng_fill_gaussian(r, NULL, 3, 1.0));
  ST(dln_rng_orthogonal(NULL, 2, 2, out));
  ST(dln_rng_orthogonal(r, 2, 2, NULL));
  ST(dln_rng_orthogonal(r, -2, 2, out));
  uint32_t words[DLN_RNG_STATE_WORDS];
  ST(dln_rng_state_get(NULL, words, DLN_RNG_STATE_WORDS));
  ST(dln_rng_state_get(r, NULL, DLN_RNG_STATE_WORDS));
  ST(dln_rng_state_get(r, words, 3));
  assert_int_equal(dln_rng_state_get(r, words, DLN_RNG_STATE_WORDS), DLN_OK);
  ST(dln_rng_state_set(NULL, words, DLN_RNG_STATE_WORDS));
  ST(dln_rng_state_set(r, NULL, DLN_RNG_STATE_WORDS));
  ST(dln_rng_state_set(r, words, DLN_RNG_STATE_WORDS + 1));
  words[624] = 625; /* position out of range */
  ST(dln_rng_state_set(r, words, DLN_RNG_STATE_WORDS));
  dln_rng_free(r);

  dln_table *t = NULL;
  const char *names[2] = {"a", "b"};
  ST(dln_table_alloc(NULL, 2, names, 4));
  ST(dln_table_alloc(&t, 2, NULL, 4));
  ST(dln_table_alloc(&t, -1, names, 4));
  const char *holes[2] = {"a", NULL};
  ST(dln_table_alloc(&t, 2, holes, 4));
  SAFE(dln_table_free(NULL));
  assert_int_equal(dln_table_alloc(&t, 2, names, 1), DLN_OK);
  ST(dln_table_append(NULL, x));
  ST(dln_table_append(t, NULL));
  NUL(dln_table_row(NULL, 0));
  NUL(dln_table_row(t, 0)); /* no rows yet */
  assert_int_equal(dln_table_append(t, x), DLN_OK);
  assert_non_null(dln_table_row(t, 0));
  NUL(dln_table_row(t, 1));
  NEG(dln_table_col(NULL, "a"));
  NEG(dln_table_col(t, NULL));
  dln_table_free(t);

  const dln_option *rows = dln_train_option_rows();
  dln_train_options o;
  dln_train_default_options(&o);
  char buf[64];
  ST(dln_option_set(NULL, rows, "1", "x"));
  ST(dln_option_set(&o, NULL, "1", "x"));
  ST(dln_option_set(&o, rows, NULL, "x"));
  SAFE(dln_option_clear(NULL, rows));
  SAFE(dln_option_clear(&o, NULL));
  ST(dln_option_copy(NULL, &o, rows));
  ST(dln_option_copy(&o, NULL, rows));
  ST(dln_option_copy(&o, &o, NULL));
  ST(dln_option_validate(NULL, rows, "x"));
  ST(dln_option_validate(&o, NULL, "x"));
  NUL(dln_option_text(NULL, rows, buf, sizeof buf));
  NUL(dln_option_text(&o, NULL, buf, sizeof buf));
  NUL(dln_option_text(&o, rows, NULL, sizeof buf));
  NUL(dln_option_text(&o, rows, buf, 0));
  NUL(dln_option_type_expect(NULL));
  NUL(dln_option_allowed_text(NULL, buf, sizeof buf));
  NUL(dln_option_allowed_text(rows, NULL, sizeof buf));
  ZERO(dln_option_allows(NULL, "x"));
  ZERO(dln_option_allows(rows, NULL));
  ST(dln_options_default(NULL, rows, 1));
  ST(dln_options_default(&o, NULL, 1));
  SAFE(dln_options_free(NULL, rows, 1));
  SAFE(dln_options_free(&o, NULL, 1));
  ST(dln_options_copy(NULL, &o, rows, 1));
  ST(dln_options_copy(&o, NULL, rows, 1));
  ST(dln_options_copy(&o, &o, NULL, 1));
  ST(dln_options_validate(NULL, rows, 1));
  ST(dln_options_validate(&o, NULL, 1));
  assert_int_equal(dln_options_count(NULL), 0); /* documented: NULL is an empty table */
  DONE();
}

/* ------------------------------------------------------------------ model: net, loss, data, init, task */

static void test_model(void **state) {
  (void)state;
  nbad = 0;
  world w = make_world();
  dln_net *net = NULL;
  int widths[3] = {3, 4, 2}, zero[3] = {3, 0, 2};
  double *b = w.buf, val;
  int i_phase = 0;
  ST(dln_net_alloc(NULL, 2, widths, 0));
  ST(dln_net_alloc(&net, 2, NULL, 0));
  ST(dln_net_alloc(&net, 0, widths, 0));
  ST(dln_net_alloc(&net, 2, zero, 0));
  SAFE(dln_net_free(NULL));
  NEG(dln_net_rows(NULL));
  NEG(dln_net_cols(NULL));
  NUL(dln_net_layer(NULL, w.theta, 1));
  NUL(dln_net_layer(w.net, NULL, 1));
  NUL(dln_net_layer(w.net, w.theta, 0));
  NUL(dln_net_layer(w.net, w.theta, 3));
  NUL(dln_net_layer_const(NULL, w.theta, 1));
  NUL(dln_net_layer_const(w.net, NULL, 1));
  NUL(dln_net_layer_const(w.net, w.theta, -1));
  NUL(dln_net_layer_const(w.net, w.theta, 3));
  ST(dln_net_product(NULL, w.theta, b));
  ST(dln_net_product(w.net, NULL, b));
  ST(dln_net_product(w.net, w.theta, NULL));
  ST(dln_net_grad(NULL, w.loss, w.theta, &val, b, NULL));
  ST(dln_net_grad(w.net, NULL, w.theta, &val, b, NULL));
  ST(dln_net_grad(w.net, w.loss, NULL, &val, b, NULL));
  ST(dln_net_hvp(NULL, w.loss, w.theta, w.theta, b));
  ST(dln_net_hvp(w.net, NULL, w.theta, w.theta, b));
  ST(dln_net_hvp(w.net, w.loss, NULL, w.theta, b));
  ST(dln_net_hvp(w.net, w.loss, w.theta, NULL, b));
  ST(dln_net_hvp(w.net, w.loss, w.theta, w.theta, NULL));
  ST(dln_net_backprop(NULL, w.theta, w.theta, b));
  ST(dln_net_backprop(w.net, NULL, w.theta, b));
  ST(dln_net_backprop(w.net, w.theta, NULL, b));
  ST(dln_net_backprop(w.net, w.theta, w.theta, NULL));
  ST(dln_net_backprop(w.net, w.theta, b, b)); /* grad aliasing G */
  ST(dln_net_conserved(NULL, w.theta, 1, b));
  ST(dln_net_conserved(w.net, NULL, 1, b));
  ST(dln_net_conserved(w.net, w.theta, 1, NULL));
  ST(dln_net_conserved(w.net, w.theta, 0, b));
  ST(dln_net_conserved(w.net, w.theta, 2, b));
  ST(dln_net_set_imbalance_reg(NULL, 1.0, NULL));
  ST(dln_net_set_imbalance_reg(w.net, NAN, NULL));
  ST(dln_net_clear_imbalance_reg(NULL));
  assert_int_equal(dln_net_has_imbalance_reg(NULL), 0);
  ST(dln_net_imbalance_reg(NULL, w.theta, &val));
  ST(dln_net_imbalance_reg(w.net, NULL, &val));
  ST(dln_net_imbalance_reg(w.net, w.theta, NULL));
  ST(dln_net_objective(NULL, w.loss, w.theta, &val, &val, b, NULL));
  ST(dln_net_objective(w.net, NULL, w.theta, &val, &val, b, NULL));
  ST(dln_net_objective(w.net, w.loss, NULL, &val, &val, b, NULL));
  {
    dln_fit_lambda0_options fo;
    dln_fit_lambda0_result fr;
    dln_train_options to;
    dln_fit_lambda0_default_options(NULL);
    dln_fit_lambda0_default_options(&fo);
    dln_train_default_options(&to);
    dln_fit_lambda0_result_free(NULL);
    ST(dln_fit_lambda0(NULL, w.loss, w.theta, &to, &fo, &fr));
    ST(dln_fit_lambda0(w.net, NULL, w.theta, &to, &fo, &fr));
    ST(dln_fit_lambda0(w.net, w.loss, NULL, &to, &fo, &fr));
    ST(dln_fit_lambda0(w.net, w.loss, w.theta, NULL, &fo, &fr));
    ST(dln_fit_lambda0(w.net, w.loss, w.theta, &to, NULL, &fr));
    ST(dln_fit_lambda0(w.net, w.loss, w.theta, &to, &fo, NULL));
    fo.grid = 2; /* out of range */
    ST(dln_fit_lambda0(w.net, w.loss, w.theta, &to, &fo, &fr));
    dln_fit_lambda0_default_options(&fo);
    fo.lo = 1, fo.hi = -1;
    ST(dln_fit_lambda0(w.net, w.loss, w.theta, &to, &fo, &fr));
    dln_fit_lambda0_result_free(&fr);
    ST(dln_fit_lambda0_spec(NULL, &fo, NULL, &fr, &i_phase));
    dln_spec sp;
    assert_int_equal(dln_spec_default(&sp), DLN_OK);
    ST(dln_fit_lambda0_spec(&sp, NULL, NULL, &fr, &i_phase));
    ST(dln_fit_lambda0_spec(&sp, &fo, NULL, NULL, &i_phase));
    ST(dln_fit_lambda0_spec(&sp, &fo, NULL, &fr, NULL));
    dln_spec_free(&sp);
  }
  NANV(dln_net_unbalancedness(NULL, w.theta));
  NANV(dln_net_unbalancedness(w.net, NULL));
  ST(dln_net_check_finite(NULL, w.theta, "x"));
  ST(dln_net_check_finite(w.net, NULL, "x"));
  ST(dln_net_set_small_kernels(NULL, 1));
  ST(dln_net_set_small_kernels(w.net, 3)); /* out of range */
  ST(dln_net_set_small_kernels(w.net, -1));
  NEG(dln_net_small_kernels(NULL));
  NUL(dln_small_kernels_name(3));
  NUL(dln_small_kernels_name(-1));
  {
    int kind = 0;
    ST(dln_small_kernels_parse(NULL, &kind));
    ST(dln_small_kernels_parse("tiny", NULL));
    ST(dln_small_kernels_parse("fast", &kind));
    ST(dln_small_kernels_parse("", &kind));
  }

  dln_loss *l = NULL;
  ZERO(dln_loss_has(NULL, 1));
  NUL(dln_loss_design(NULL));
  ZERO(strcmp(dln_loss_name(NULL), "?")); /* documented: "?" */
  ST(dln_loss_eval(NULL, b, &val, NULL));
  ST(dln_loss_eval(w.loss, NULL, &val, NULL));
  ST(dln_loss_hvp(NULL, b, b, b));
  ST(dln_loss_hvp(w.loss, NULL, b, b));
  ST(dln_loss_hvp(w.loss, b, NULL, b));
  ST(dln_loss_hvp(w.loss, b, b, NULL));
  SAFE(dln_loss_free(NULL));
  ST(dln_loss_factorization_alloc(NULL, w.Y));
  ST(dln_loss_factorization_alloc(&l, NULL));
  ST(dln_loss_regression_alloc(NULL, w.Y, w.Y));
  ST(dln_loss_regression_alloc(&l, NULL, w.Y));
  ST(dln_loss_regression_alloc(&l, w.Y, NULL));
  ST(dln_loss_lp_alloc(NULL, 4, w.Y, w.Y));
  ST(dln_loss_lp_alloc(&l, 4, NULL, w.Y));
  ST(dln_loss_lp_alloc(&l, 4, w.Y, NULL));
  ST(dln_loss_lp_alloc(&l, 1.5, w.Y, w.Y));
  ST(dln_loss_lp_alloc(&l, NAN, w.Y, w.Y));
  ST(dln_loss_logistic_alloc(NULL, w.Y, w.Y));
  ST(dln_loss_logistic_alloc(&l, NULL, w.Y));
  ST(dln_loss_logistic_alloc(&l, w.Y, NULL));
  ST(dln_loss_logistic_alloc(&l, w.Y, w.Y)); /* labels not +-1, not 1 x n */
  ST(dln_loss_softmax_alloc(NULL, 2, w.Y, w.Y));
  ST(dln_loss_softmax_alloc(&l, 2, NULL, w.Y));
  ST(dln_loss_softmax_alloc(&l, 2, w.Y, NULL));
  ST(dln_loss_softmax_alloc(&l, 1, w.Y, w.Y)); /* one class */
  ST(dln_loss_margin(NULL, b, &val));
  ST(dln_loss_margin(w.loss, NULL, &val));
  ST(dln_loss_margin(w.loss, b, NULL));
  ST(dln_loss_margin(w.loss, b, &val)); /* not a classification loss */
  ST(dln_loss_sigmoid_alloc(NULL, w.Y, w.Y));
  ST(dln_loss_sigmoid_alloc(&l, NULL, w.Y));
  ST(dln_loss_sigmoid_alloc(&l, w.Y, NULL));
  int ri[2] = {0, 1}, ci[2] = {0, 1};
  ST(dln_loss_sensing_alloc(NULL, 2, 2, 2, b, b));
  ST(dln_loss_sensing_alloc(&l, 2, 2, 2, NULL, b));
  ST(dln_loss_sensing_alloc(&l, 2, 2, 2, b, NULL));
  ST(dln_loss_sensing_alloc(&l, -2, 2, 2, b, b));
  ST(dln_loss_completion_alloc(NULL, 2, 2, 2, ri, ci, b));
  ST(dln_loss_completion_alloc(&l, 2, 2, 2, NULL, ci, b));
  ST(dln_loss_completion_alloc(&l, 2, 2, 2, ri, NULL, b));
  ST(dln_loss_completion_alloc(&l, 2, 2, 2, ri, ci, NULL));
  ri[1] = 5; /* row index out of range */
  ST(dln_loss_completion_alloc(&l, 2, 2, 2, ri, ci, b));
  dln_measurements me;
  ST(dln_loss_measurements(NULL, &me));
  ST(dln_loss_measurements(w.loss, NULL));
  ST(dln_loss_measurements(w.loss, &me)); /* a factorization has no measurements */
  NUL(dln_loss_truth(NULL));
  ST(dln_loss_set_truth(NULL, w.Y));
  dln_mat *bad_truth = dln_mat_alloc(3, 2);
  assert_non_null(bad_truth);
  ST(dln_loss_set_truth(w.loss, bad_truth)); /* 3 x 2 for a 2 x 3 loss */
  dln_mat_free(bad_truth);
  dln_mat *m = NULL;
  ST(dln_regression_reduce(NULL, w.Y, &m));
  ST(dln_regression_reduce(w.Y, NULL, &m));
  ST(dln_regression_reduce(w.Y, w.Y, NULL));

  ST(dln_data_gaussian(NULL, 2, 2, 1.0, &m));
  ST(dln_data_gaussian(w.rng, 2, 2, 1.0, NULL));
  ST(dln_data_gaussian(w.rng, -2, 2, 1.0, &m));
  double s[2] = {1, 2};
  ST(dln_data_lowrank(NULL, 2, 2, 2, s, &m));
  ST(dln_data_lowrank(w.rng, 2, 2, 2, NULL, &m));
  ST(dln_data_lowrank(w.rng, 2, 2, 2, s, NULL));
  ST(dln_data_lowrank(w.rng, 2, 2, 3, s, &m));
  ST(dln_data_symmetric(NULL, 2, s, &m));
  ST(dln_data_symmetric(w.rng, 2, NULL, &m));
  ST(dln_data_symmetric(w.rng, 2, s, NULL));
  dln_mat *X = NULL, *Yr = NULL;
  ST(dln_data_regression(NULL, 3, 2, 5, 0, NULL, 0.0, &X, &Yr));
  ST(dln_data_regression(w.rng, 3, 2, 5, 0, NULL, 0.0, NULL, &Yr));
  ST(dln_data_regression(w.rng, 3, 2, 5, 0, NULL, 0.0, &X, NULL));
  ST(dln_data_regression(w.rng, -3, 2, 5, 0, NULL, 0.0, &X, &Yr));
  ST(dln_data_sensing(NULL, w.Y, 4, &X, &Yr));
  ST(dln_data_sensing(w.rng, NULL, 4, &X, &Yr));
  ST(dln_data_sensing(w.rng, w.Y, 4, NULL, &Yr));
  ST(dln_data_sensing(w.rng, w.Y, 4, &X, NULL));
  ST(dln_data_completion(NULL, w.Y, 2, &m));
  ST(dln_data_completion(w.rng, NULL, 2, &m));
  ST(dln_data_completion(w.rng, w.Y, 2, NULL));
  ST(dln_data_completion(w.rng, w.Y, 7, &m));

  double sc[2] = {1, 1};
  dln_mat *layers[2] = {w.Y, w.Y};
  ST(dln_init_gaussian(NULL, w.theta, w.rng, 1.0, sc));
  ST(dln_init_gaussian(w.net, NULL, w.rng, 1.0, sc));
  ST(dln_init_gaussian(w.net, w.theta, NULL, 1.0, sc));
  ST(dln_init_width_scaled(NULL, w.theta, w.rng, 1.0));
  ST(dln_init_width_scaled(w.net, NULL, w.rng, 1.0));
  ST(dln_init_width_scaled(w.net, w.theta, NULL, 1.0));
  ST(dln_init_balanced(NULL, w.theta, w.Y, w.rng));
  ST(dln_init_balanced(w.net, NULL, w.Y, w.rng));
  ST(dln_init_balanced(w.net, w.theta, NULL, w.rng));
  ST(dln_init_spectral_symmetric(NULL, w.theta, w.Y, s));
  ST(dln_init_spectral_symmetric(w.net, NULL, w.Y, s));
  ST(dln_init_spectral_symmetric(w.net, w.theta, NULL, s));
  ST(dln_init_spectral_symmetric(w.net, w.theta, w.Y, NULL));
  ST(dln_init_spectral_asymmetric(NULL, w.theta, w.Y, s, s, w.rng));
  ST(dln_init_spectral_asymmetric(w.net, NULL, w.Y, s, s, w.rng));
  ST(dln_init_spectral_asymmetric(w.net, w.theta, NULL, s, s, w.rng));
  ST(dln_init_spectral_asymmetric(w.net, w.theta, w.Y, NULL, s, w.rng));
  ST(dln_init_spectral_asymmetric(w.net, w.theta, w.Y, s, NULL, w.rng));
  ST(dln_init_orthogonal_minnorm(NULL, w.theta, w.Y, w.rng, 1.0));
  ST(dln_init_orthogonal_minnorm(w.net, NULL, w.Y, w.rng, 1.0));
  ST(dln_init_orthogonal_minnorm(w.net, w.theta, NULL, w.rng, 1.0));
  ST(dln_init_orthogonal_minnorm(w.net, w.theta, w.Y, NULL, 1.0));
  ST(dln_init_from_layers(NULL, w.theta, layers, 2));
  ST(dln_init_from_layers(w.net, NULL, layers, 2));
  ST(dln_init_from_layers(w.net, w.theta, NULL, 2));
  ST(dln_init_from_layers(w.net, w.theta, layers, 3));
  dln_mat *holes[2] = {w.Y, NULL};
  ST(dln_init_from_layers(w.net, w.theta, holes, 2));

  dln_init_options io;
  memset(&io, 0, sizeof io);
  dln_init_context ctx;
  memset(&ctx, 0, sizeof ctx);
  ctx.depth = 2, ctx.widths = widths;
  const char *field = NULL;
  const dln_init_type *it = dln_init_at(0);
  assert_non_null(it);
  ST(dln_init_common_check(NULL, &ctx, &field));
  ST(dln_init_common_check(&io, NULL, &field));
  ST(dln_init_check_foreign(NULL, &io, &field));
  ST(dln_init_check_foreign(it, NULL, &field));
  ST(dln_init_check(NULL, &io, &ctx, &field));
  ST(dln_init_check(it, NULL, &ctx, &field));
  ST(dln_init_check(it, &io, NULL, &field));
  int ndraw = 0, dsg = 0;
  ST(dln_init_draw(NULL, &io, w.net, w.theta, w.rng, w.loss, &field, &ndraw));
  ST(dln_init_draw(it, NULL, w.net, w.theta, w.rng, w.loss, &field, &ndraw));
  ST(dln_init_draw(it, &io, NULL, w.theta, w.rng, w.loss, &field, &ndraw));
  ST(dln_init_draw(it, &io, w.net, NULL, w.rng, w.loss, &field, &ndraw));
  io.sigma = 1, io.det_sign = 1, io.det_sign_draws = 5; /* W is 2 x 3: no determinant */
  ST(dln_init_draw(it, &io, w.net, w.theta, w.rng, w.loss, &field, &ndraw));
  assert_string_equal(field, "det_sign");
  memset(&io, 0, sizeof io);
  double m2[4] = {1, 2, 3, 4};
  ST(dln_det_sign(2, NULL, &dsg));
  ST(dln_det_sign(2, m2, NULL));
  ST(dln_det_sign(0, m2, &dsg));
  NUL(dln_init_find(NULL));
  NUL(dln_init_at(-1));
  assert_null(dln_init_at(100000)); /* past the end: the iteration stops (no message) */
  NUL(dln_init_name_at(-1));
  assert_null(dln_init_name_at(100000)); /* past the end: the iteration stops (no message) */
  ST(dln_init_register(NULL));

  dln_task_options to;
  memset(&to, 0, sizeof to);
  dln_task_data td;
  memset(&td, 0, sizeof td);
  const dln_task_type *tt = dln_task_at(0);
  assert_non_null(tt);
  NUL(dln_task_find(NULL));
  NUL(dln_task_at(-1));
  assert_null(dln_task_at(100000)); /* past the end: the iteration stops (no message) */
  NUL(dln_task_name_at(-1));
  assert_null(dln_task_name_at(100000)); /* past the end: the iteration stops (no message) */
  ST(dln_task_register(NULL));
  ST(dln_task_common_check(NULL, &to, &field));
  ST(dln_task_common_check(tt, NULL, &field));
  ST(dln_task_check_foreign(NULL, &to, &field));
  ST(dln_task_check_foreign(tt, NULL, &field));
  ST(dln_task_check(NULL, &to, &field));
  ST(dln_task_check(tt, NULL, &field));
  ST(dln_task_data_build(NULL, &to, w.rng, &td, &field));
  ST(dln_task_data_build(tt, NULL, w.rng, &td, &field));
  ST(dln_task_data_build(tt, &to, w.rng, NULL, &field));
  dln_loss *tl = NULL;
  ST(dln_task_loss(NULL, &to, &td, &tl));
  ST(dln_task_loss(tt, NULL, &td, &tl));
  ST(dln_task_loss(tt, &to, NULL, &tl));
  ST(dln_task_loss(tt, &to, &td, NULL));
  SAFE(dln_task_data_free(NULL));
  ZERO(dln_task_reads(NULL, "x"));
  ZERO(dln_task_reads(tt, NULL));
  NUL(dln_task_data_get(NULL, "x"));
  NUL(dln_task_data_get(&td, NULL));
  ST(dln_task_truth(NULL, w.rng, &m, &field));
  ST(dln_task_check_size(NULL, 1e6, 1e6));
  ST(dln_task_check_size("x", NAN, 2));
  NUL(dln_task_unused_by(NULL, &to, "m"));
  NUL(dln_task_unused_by(tt, NULL, "m"));
  NUL(dln_task_unused_by(tt, &to, NULL));
  ZERO(dln_task_owns_row(NULL, dln_task_common_rows()));
  ZERO(dln_task_owns_row(tt, NULL));
  ST(dln_task_truth(&to, w.rng, NULL, &field));
  free_world(&w);
  DONE();
}

/* ------------------------------------------------------------------ dynamics: train, integrator, e2e */

static void test_dynamics(void **state) {
  (void)state;
  nbad = 0;
  world w = make_world();
  dln_train_options o;
  dln_train_default_options(&o);
  o.t_end = 0.1;
  dln_train_result r;
  double times[4];
  assert_string_equal(dln_stop_reason_name(-1), "none"); /* documented: unknown reasons */
  assert_string_equal(dln_stop_reason_name(1000), "none");
  SAFE(dln_train_default_options(NULL));
  ST(dln_train_check(NULL));
  NEG(dln_train_nsamples(NULL));
  ST(dln_train_sample_times(NULL, times));
  ST(dln_train_sample_times(&o, NULL));
  ST(dln_train(NULL, w.loss, w.theta, &o, NULL, NULL, &r));
  ST(dln_train(w.net, NULL, w.theta, &o, NULL, NULL, &r));
  ST(dln_train(w.net, w.loss, NULL, &o, NULL, NULL, &r));
  ST(dln_train(w.net, w.loss, w.theta, NULL, NULL, NULL, &r));
  ST(dln_train(w.net, w.loss, w.theta, &o, NULL, NULL, NULL));
  ST(dln_train_sampled(NULL, w.loss, w.theta, &o, NULL, NULL, &r));
  ST(dln_train_sampled(w.net, NULL, w.theta, &o, NULL, NULL, &r));
  ST(dln_train_sampled(w.net, w.loss, NULL, &o, NULL, NULL, &r));
  ST(dln_train_sampled(w.net, w.loss, w.theta, NULL, NULL, NULL, &r));
  ST(dln_train_sampled(w.net, w.loss, w.theta, &o, NULL, NULL, NULL));
  dln_sampler smp = {1, NULL, NULL};
  dln_table *tab = NULL;
  const char *names[1] = {"x"};
  assert_int_equal(dln_table_alloc(&tab, 1, names, 300), DLN_OK);
  ST(dln_train_sampled(w.net, w.loss, w.theta, &o, &smp, tab, &r)); /* sampler without eval */
  dln_table_free(tab);

  double x[2] = {0, 0}, f[2];
  ZERO(dln_system_size(NULL)); /* documented: 0 for NULL */
  NEG(dln_system_rhs(NULL, x, f));
  NEG(dln_system_rhs_t(NULL, 0.0, x, f));
  NEG(dln_train_disturbance_kind(NULL));
  NANV(dln_train_disturbance_factor(NULL, 0.0));
  o.disturbance = "quake"; /* not a kind: −1, and dln_train_check names the field */
  NEG(dln_train_disturbance_kind(&o));
  ST(dln_train_check(&o));
  o.disturbance = "constant"; /* D missing */
  ST(dln_train_check(&o));
  o.disturbance = NULL;
  { /* D(t, θ): NULL arguments, a non-finite t, worst_case on a net that is not n = m = 1 */
    double Dv[64];
    ST(dln_train_disturbance_eval(NULL, w.net, 0.0, w.theta, Dv));
    ST(dln_train_disturbance_eval(&o, NULL, 0.0, w.theta, Dv));
    ST(dln_train_disturbance_eval(&o, w.net, 0.0, NULL, Dv));
    ST(dln_train_disturbance_eval(&o, w.net, 0.0, w.theta, NULL));
    ST(dln_train_disturbance_eval(&o, w.net, NAN, w.theta, Dv));
    o.disturbance = "worst_case";
    if (w.net->widths[0] != 1 || w.net->widths[w.net->depth] != 1) ST(dln_train_disturbance_eval(&o, w.net, 0.0, w.theta, Dv));
    o.disturbance = NULL;
  }
  NEG(dln_system_hvp(NULL, x, x, f));
  ZERO(dln_system_has_hvp(NULL));
  NANV(dln_system_loss(NULL, x));
  NUL(dln_system_options(NULL));
  NUL(dln_integrator_find(NULL));
  NUL(dln_integrator_at(-1));
  assert_null(dln_integrator_at(100000)); /* past the end: the iteration stops (no message) */
  NUL(dln_integrator_name_at(-1));
  assert_null(dln_integrator_name_at(100000)); /* past the end: the iteration stops (no message) */
  ST(dln_integrator_register(NULL));

  dln_e2e *e = NULL;
  double *b = w.buf, nrm, lv;
  ST(dln_e2e_alloc(NULL, w.loss, 2));
  ST(dln_e2e_alloc(&e, NULL, 2));
  ST(dln_e2e_alloc(&e, w.loss, 0));
  SAFE(dln_e2e_free(NULL));
  NEG(dln_e2e_depth(NULL));
  NEG(dln_e2e_rows(NULL));
  NEG(dln_e2e_cols(NULL));
  NEG(dln_e2e_num_rhs(NULL));
  NEG(dln_e2e_num_svd(NULL));
  assert_int_equal(dln_e2e_alloc(&e, w.loss, 2), DLN_OK);
  ST(dln_e2e_precondition(NULL, b, b, b));
  ST(dln_e2e_precondition(e, NULL, b, b));
  ST(dln_e2e_precondition(e, b, NULL, b));
  ST(dln_e2e_precondition(e, b, b, NULL));
  ST(dln_e2e_rhs(NULL, b, b, &lv));
  ST(dln_e2e_rhs(e, NULL, b, &lv));
  ST(dln_e2e_rhs(e, b, NULL, &lv));
  ST(dln_e2e_grad_norm(NULL, b, &nrm));
  ST(dln_e2e_grad_norm(e, NULL, &nrm));
  ST(dln_e2e_grad_norm(e, b, NULL));
  ST(dln_e2e_from_net(NULL, w.theta, 0, b));
  ST(dln_e2e_from_net(w.net, NULL, 0, b));
  ST(dln_e2e_from_net(w.net, w.theta, 0, NULL));
  ST(dln_e2e_table_alloc(NULL, 4, &tab));
  ST(dln_e2e_table_alloc(e, 4, NULL));
  ST(dln_e2e_flow(NULL, b, &o, NULL, NULL, &r));
  ST(dln_e2e_flow(e, NULL, &o, NULL, NULL, &r));
  ST(dln_e2e_flow(e, b, NULL, NULL, NULL, &r));
  ST(dln_e2e_flow(e, b, &o, NULL, NULL, NULL));
  ST(dln_e2e_gd(NULL, b, &o, NULL, NULL, &r));
  ST(dln_e2e_gd(e, NULL, &o, NULL, NULL, &r));
  ST(dln_e2e_gd(e, b, NULL, NULL, NULL, &r));
  ST(dln_e2e_gd(e, b, &o, NULL, NULL, NULL));
  ST(dln_e2e_train(NULL, b, &o, NULL, &r));
  ST(dln_e2e_train(e, NULL, &o, NULL, &r));
  ST(dln_e2e_train(e, b, NULL, NULL, &r));
  ST(dln_e2e_train(e, b, &o, NULL, NULL));
  dln_e2e_free(e);
  free_world(&w);
  DONE();
}

/* ------------------------------------------------------------------ theory: closed forms, bounds, bias, landscape */

static void test_theory(void **state) {
  (void)state;
  nbad = 0;
  world w = make_world();
  double *b = w.buf, v1, v2, v3;
  int k;
  dln_cf *cf = NULL;
  char why[64];
  ST(dln_cf_linear_alloc(NULL, w.net, w.loss, w.theta, 0));
  ST(dln_cf_linear_alloc(&cf, NULL, w.loss, w.theta, 0));
  ST(dln_cf_linear_alloc(&cf, w.net, NULL, w.theta, 0));
  ST(dln_cf_linear_alloc(&cf, w.net, w.loss, NULL, 0));
  ST(dln_cf_riccati_alloc(NULL, w.net, w.loss, w.theta, 0));
  ST(dln_cf_riccati_alloc(&cf, NULL, w.loss, w.theta, 0));
  ST(dln_cf_riccati_alloc(&cf, w.net, NULL, w.theta, 0));
  ST(dln_cf_riccati_alloc(&cf, w.net, w.loss, NULL, 0));
  ST(dln_cf_spectral_sym_alloc(NULL, w.net, w.loss, w.theta, 0));
  ST(dln_cf_spectral_sym_alloc(&cf, NULL, w.loss, w.theta, 0));
  ST(dln_cf_spectral_sym_alloc(&cf, w.net, NULL, w.theta, 0));
  ST(dln_cf_spectral_sym_alloc(&cf, w.net, w.loss, NULL, 0));
  ST(dln_cf_spectral_asym_alloc(NULL, w.net, w.loss, w.theta, 0));
  ST(dln_cf_spectral_asym_alloc(&cf, NULL, w.loss, w.theta, 0));
  ST(dln_cf_spectral_asym_alloc(&cf, w.net, NULL, w.theta, 0));
  ST(dln_cf_spectral_asym_alloc(&cf, w.net, w.loss, NULL, 0));
  ST(dln_cf_lambda_id_alloc(NULL, w.net, w.loss, w.theta, 0));
  ST(dln_cf_lambda_id_alloc(&cf, NULL, w.loss, w.theta, 0));
  ST(dln_cf_lambda_id_alloc(&cf, w.net, NULL, w.theta, 0));
  ST(dln_cf_lambda_id_alloc(&cf, w.net, w.loss, NULL, 0));
  ST(dln_cf_aligned_alloc(NULL, w.net, w.loss, w.theta, 0));
  ST(dln_cf_aligned_alloc(&cf, NULL, w.loss, w.theta, 0));
  ST(dln_cf_aligned_alloc(&cf, w.net, NULL, w.theta, 0));
  ST(dln_cf_aligned_alloc(&cf, w.net, w.loss, NULL, 0));
  ST(dln_cf_select(NULL, w.net, w.loss, w.theta, 0, why, sizeof why));
  ST(dln_cf_select(&cf, NULL, w.loss, w.theta, 0, why, sizeof why));
  ST(dln_cf_select(&cf, w.net, NULL, w.theta, 0, why, sizeof why));
  ST(dln_cf_select(&cf, w.net, w.loss, NULL, 0, why, sizeof why));
  SAFE(dln_cf_free(NULL));
  ZERO(dln_cf_kind_of(NULL)); /* documented: 0, "" for NULL */
  ZERO(strlen(dln_cf_name(NULL)));
  ZERO(dln_cf_rows(NULL));
  ZERO(dln_cf_cols(NULL));
  ZERO(dln_cf_ncomponents(NULL));
  ST(dln_cf_eval(NULL, 0, b));
  ST(dln_cf_components(NULL, 0, b));
  ST(dln_cf_component_params(NULL, 0, &v1, &v2, &v3));
  ST(dln_cf_gram(NULL, 0, b));
  ST(dln_cf_distance(NULL, w.theta, 0, NULL, &v1));
  ST(dln_cf_aligned_sv(2, 1.0, 1.0, 0.5, NULL));
  ST(dln_cf_aligned_sv(0, 1.0, 1.0, 0.5, &v1));
  /* a valid closed form for the index and buffer checks: depth 1 (001 eq. 4) */
  {
    dln_net *n1 = NULL;
    int wd[2] = {3, 2};
    assert_int_equal(dln_net_alloc(&n1, 1, wd, 0), DLN_OK);
    assert_int_equal(dln_cf_linear_alloc(&cf, n1, w.loss, w.theta, 0), DLN_OK);
    ST(dln_cf_eval(cf, 0, NULL));
    ST(dln_cf_components(cf, 0, NULL));
    ST(dln_cf_component_params(cf, 0, &v1, &v2, &v3)); /* eq. 4 has no components */
    ST(dln_cf_component_params(cf, -1, &v1, &v2, &v3));
    ST(dln_cf_gram(cf, 0, NULL));
    ST(dln_cf_distance(n1, NULL, 0, cf, &v1));
    ST(dln_cf_distance(n1, w.theta, 0, cf, NULL));
    ST(dln_cf_distance(NULL, w.theta, 0, cf, &v1));
    dln_cf_free(cf);
    dln_net_free(n1);
  }

  dln_curve c;
  memset(&c, 0, sizeof c);
  dln_verdict vd;
  MSG(dln_curve_arrays(NULL, 3, b, b));
  MSG(dln_curve_arrays(&c, 3, NULL, b));
  ST(dln_curve_from_table(NULL, NULL, "x"));
  ST(dln_curve_from_table(&c, NULL, "x"));
  ST(dln_fit_rate(NULL, 0, 1, &v1, &k));
  c.n = 3; /* arrays NULL */
  ST(dln_fit_rate(&c, 0, 1, &v1, &k));
  ST(dln_theory_imbalance_c(NULL, NULL, w.theta, &v1, NULL, NULL, NULL, NULL));
  ST(dln_theory_imbalance_c(w.net, NULL, NULL, &v1, NULL, NULL, NULL, NULL));
  ST(dln_theory_deficiency_margin(NULL, b, &v1));
  ST(dln_theory_deficiency_margin(w.loss, NULL, &v1));
  ST(dln_theory_deficiency_margin(w.loss, b, NULL));
  ST(dln_bound_dissipation(NULL, w.loss, w.theta, b, 0, &vd));
  ST(dln_bound_dissipation(w.net, NULL, w.theta, b, 0, &vd));
  ST(dln_bound_dissipation(w.net, w.loss, NULL, b, 0, &vd));
  ST(dln_bound_dissipation(w.net, w.loss, w.theta, b, 0, NULL));
  memset(&c, 0, sizeof c);
  ST(dln_bound_imbalance_rate(NULL, w.loss, NULL, w.theta, &c, 0, &vd));
  ST(dln_bound_imbalance_rate(w.net, NULL, NULL, w.theta, &c, 0, &vd));
  ST(dln_bound_imbalance_rate(w.net, w.loss, NULL, NULL, &c, 0, &vd));
  ST(dln_bound_imbalance_rate(w.net, w.loss, NULL, w.theta, NULL, 0, &vd));
  ST(dln_bound_imbalance_rate(w.net, w.loss, NULL, w.theta, &c, 0, NULL));
  ST(dln_bound_pyramidal(NULL, w.loss, w.theta, &c, 0, &vd));
  ST(dln_bound_pyramidal(w.net, NULL, w.theta, &c, 0, &vd));
  ST(dln_bound_pyramidal(w.net, w.loss, NULL, &c, 0, &vd));
  ST(dln_bound_pyramidal(w.net, w.loss, w.theta, NULL, 0, &vd));
  ST(dln_bound_pyramidal(w.net, w.loss, w.theta, &c, 0, NULL));
  ST(dln_bound_deficiency(NULL, w.loss, w.theta, &c, 0.1, 0, &vd));
  ST(dln_bound_deficiency(w.net, NULL, w.theta, &c, 0.1, 0, &vd));
  ST(dln_bound_deficiency(w.net, w.loss, NULL, &c, 0.1, 0, &vd));
  ST(dln_bound_deficiency(w.net, w.loss, w.theta, NULL, 0.1, 0, &vd));
  ST(dln_bound_deficiency(w.net, w.loss, w.theta, &c, 0.1, 0, NULL));
  ST(dln_bound_rate_imbalance(NULL, w.loss, NULL, w.theta, &v1, &v2));
  ST(dln_bound_rate_imbalance(w.net, NULL, NULL, w.theta, &v1, &v2));
  ST(dln_bound_rate_imbalance(w.net, w.loss, NULL, NULL, &v1, &v2));
  ST(dln_bound_rate_pyramidal(NULL, w.loss, w.theta, &v1, &v2));
  ST(dln_bound_rate_pyramidal(w.net, NULL, w.theta, &v1, &v2));
  ST(dln_bound_rate_pyramidal(w.net, w.loss, NULL, &v1, &v2));
  ST(dln_bound_rate_deficiency(NULL, w.loss, w.theta, &v1, &v2));
  ST(dln_bound_rate_deficiency(w.net, NULL, w.theta, &v1, &v2));
  ST(dln_bound_rate_deficiency(w.net, w.loss, NULL, &v1, &v2));
  ST(dln_bound_gd_remark2(NULL, w.loss, w.theta, 0.1, &c, 0, &vd));
  ST(dln_bound_gd_remark2(w.net, NULL, w.theta, 0.1, &c, 0, &vd));
  ST(dln_bound_gd_remark2(w.net, w.loss, NULL, 0.1, &c, 0, &vd));
  ST(dln_bound_gd_remark2(w.net, w.loss, w.theta, 0.1, NULL, 0, &vd));
  ST(dln_bound_gd_remark2(w.net, w.loss, w.theta, 0.1, &c, 0, NULL));
  ST(dln_bound_component_rates(NULL, NULL, 0, 1, 0, &v1, &v2, &vd));
  /* 003 §3 (minnorm.c), 001 Prop. 2 (psd_rate.c) */
  dln_minnorm mnb;
  memset(&mnb, 0, sizeof mnb);
  ST(dln_theory_minnorm_setup(NULL, w.loss, w.theta, &mnb));
  ST(dln_theory_minnorm_setup(w.net, NULL, w.theta, &mnb));
  ST(dln_theory_minnorm_setup(w.net, w.loss, NULL, &mnb));
  ST(dln_theory_minnorm_setup(w.net, w.loss, w.theta, NULL));
  NANV(dln_theory_minnorm_bound_at(NULL, 1.0));
  ST(dln_theory_minnorm_split(NULL, b, &v1, &v2));
  ST(dln_theory_minnorm_split(w.loss, NULL, &v1, &v2));
  ST(dln_theory_003_lemma1(0, 8, 4, 100, 0.5, 0.1, &v1, NULL, NULL));
  ST(dln_theory_003_lemma1(2, 8, 4, 100, 0.5, 0.0, &v1, NULL, NULL));
  ST(dln_theory_003_eq20(NULL, 0.5, 0.1, &v1));
  ST(dln_theory_003_eq20(&mnb, 0.5, 0.1, NULL));
  ST(dln_bound_minnorm(NULL, w.loss, w.theta, w.theta, 1.0, NULL, 0, &vd));
  ST(dln_bound_minnorm(w.net, NULL, w.theta, w.theta, 1.0, NULL, 0, &vd));
  ST(dln_bound_minnorm(w.net, w.loss, NULL, w.theta, 1.0, NULL, 0, &vd));
  ST(dln_bound_minnorm(w.net, w.loss, w.theta, NULL, 1.0, NULL, 0, &vd));
  ST(dln_bound_minnorm(w.net, w.loss, w.theta, w.theta, 1.0, NULL, 0, NULL));
  ST(dln_bound_minnorm(w.net, w.loss, w.theta, w.theta, -1.0, NULL, 0, &vd));
  ST(dln_theory_psd_projection(NULL, NULL, &v1, &v2));
  memset(&c, 0, sizeof c);
  ST(dln_bound_psd_projection(NULL, w.loss, w.theta, &c, 0, 1, 0, 0.05, &vd));
  ST(dln_bound_psd_projection(w.net, NULL, w.theta, &c, 0, 1, 0, 0.05, &vd));
  ST(dln_bound_psd_projection(w.net, w.loss, NULL, &c, 0, 1, 0, 0.05, &vd));
  ST(dln_bound_psd_projection(w.net, w.loss, w.theta, NULL, 0, 1, 0, 0.05, &vd));
  ST(dln_bound_psd_projection(w.net, w.loss, w.theta, &c, 0, 1, 0, 0.05, NULL));
  /* 002 Ex. 2, Prop. 5 / Ex. 4 (e2e_extra.c) */
  ST(dln_theory_sym_e2e(NULL, b, b));
  ST(dln_theory_sym_e2e(w.loss, NULL, b));
  ST(dln_theory_sym_e2e(w.loss, b, NULL));
  ST(dln_theory_prop5_instance(NULL, &v1, &v2, &v1));
  if (!isnan(dln_theory_prop5_bound(1, 1, -1, 0.1))) bad(__LINE__, "dln_theory_prop5_bound(h < 0)", "not NAN");
  ST(dln_bound_norm_divergence(NULL, w.loss, w.theta, 0, NULL, NULL, 0, &vd));
  ST(dln_bound_norm_divergence(w.net, NULL, w.theta, 0, NULL, NULL, 0, &vd));
  ST(dln_bound_norm_divergence(w.net, w.loss, NULL, 0, NULL, NULL, 0, &vd));
  ST(dln_bound_norm_divergence(w.net, w.loss, w.theta, 2, NULL, b, 0, &vd));
  ST(dln_bound_norm_divergence(w.net, w.loss, w.theta, 2, b, NULL, 0, &vd));
  ST(dln_bound_norm_divergence(w.net, w.loss, w.theta, 0, NULL, NULL, 0, NULL));
  /* 004 Prop. 5 (stratum_dim.c) */
  long ldim;
  ST(dln_theory_stratum_dim(3, 2, 2, 1, NULL, NULL));
  ST(dln_theory_stratum_dim(3, 2, 2, -1, &ldim, NULL));
  dln_nullity nlt;
  ST(dln_hessian_nullity(NULL, w.loss, w.theta, 1e-8, &nlt));
  ST(dln_hessian_nullity(w.net, NULL, w.theta, 1e-8, &nlt));
  ST(dln_hessian_nullity(w.net, w.loss, NULL, 1e-8, &nlt));
  ST(dln_hessian_nullity(w.net, w.loss, w.theta, 1e-8, NULL));
  ST(dln_hessian_nullity(w.net, w.loss, w.theta, 2.0, &nlt));
  /* 001 §5 (psd_rate.c) */
  ST(dln_theory_gd_rates(NULL, w.loss, 0.1, &v1, &v2));
  ST(dln_theory_gd_rates(w.net, NULL, 0.1, &v1, &v2));
  ST(dln_theory_gd_rates(w.net, w.loss, 0.1, NULL, &v2));
  ST(dln_theory_gd_rates(w.net, w.loss, 0.1, &v1, NULL));
  ST(dln_theory_gd_rates(w.net, w.loss, -1.0, &v1, &v2));
  memset(&c, 0, sizeof c);
  ST(dln_bound_gd_rate(NULL, w.loss, 0.1, &c, 0, 1, 0.01, &vd));
  ST(dln_bound_gd_rate(w.net, NULL, 0.1, &c, 0, 1, 0.01, &vd));
  ST(dln_bound_gd_rate(w.net, w.loss, 0.1, NULL, 0, 1, 0.01, &vd));
  ST(dln_bound_gd_rate(w.net, w.loss, 0.1, &c, 0, 1, 0.01, NULL));

  /* bias.h */
  double s[3] = {3, 2, 1};
  NANV(dln_schatten(3, NULL, 1.0));
  NANV(dln_schatten(-1, s, 1.0));
  NANV(dln_effective_rank(3, NULL));
  NANV(dln_effective_rank(-1, s));
  NANV(dln_stable_rank(3, NULL));
  NANV(dln_stable_rank(-1, s));

  /* compress.h */
  int rk = 0;
  long long npar = 0;
  double s_up[2] = {1, 2}, s_neg[2] = {1, -1}, W6[6] = {1, 2, 3, 4, 5, 6}, Wc6[6], sv2[2];
  dln_compress_result cres;
  ST(dln_compress_rank(3, NULL, 1e-3, &rk));
  ST(dln_compress_rank(3, s, 1e-3, NULL));
  ST(dln_compress_rank(-1, s, 1e-3, &rk));
  ST(dln_compress_rank(3, s, -1, &rk));
  ST(dln_compress_rank(3, s, NAN, &rk));
  ST(dln_compress_rank(2, s_up, 1e-3, &rk));
  ST(dln_compress_rank(2, s_neg, 1e-3, &rk));
  ST(dln_compress_params(2, 3, 1, NULL));
  ST(dln_compress_params(0, 3, 1, &npar));
  ST(dln_compress_params(2, 0, 1, &npar));
  ST(dln_compress_params(2, 3, 3, &npar));
  ST(dln_compress_params(2, 3, -1, &npar));
  ST(dln_compress_truncate(2, 3, NULL, 1, 0, Wc6, sv2, &cres));
  ST(dln_compress_truncate(2, 3, W6, 1, 0, Wc6, sv2, NULL));
  ST(dln_compress_truncate(0, 3, W6, 1, 0, Wc6, sv2, &cres));
  ST(dln_compress_truncate(2, -3, W6, 1, 0, Wc6, sv2, &cres));
  ST(dln_compress_truncate(2, 3, W6, 3, 0, Wc6, sv2, &cres));
  ST(dln_compress_truncate(2, 3, W6, -1, -2, Wc6, sv2, &cres));
  W6[4] = NAN;
  ST(dln_compress_truncate(2, 3, W6, 1, 0, Wc6, sv2, &cres));
  dln_bias *bi = NULL;
  dln_bias_result br;
  int sign;
  ST(dln_bias_alloc(NULL, 2, 3));
  ST(dln_bias_alloc(&bi, 0, 3));
  SAFE(dln_bias_free(NULL));
  ST(dln_bias_singular_values(NULL, b, s));
  ST(dln_bias_svd(NULL, b, b, s, b));
  NUL(dln_bias_svd_u(NULL));
  NUL(dln_bias_svd_s(NULL));
  NUL(dln_bias_svd_vt(NULL));
  ST(dln_bias_det_sign(NULL, b, &sign, &v1));
  ST(dln_bias_eval(NULL, b, NULL, &br));
  NANV(dln_bias_schatten(NULL, 1.0));
  assert_int_equal(dln_bias_alloc(&bi, 2, 3), DLN_OK);
  ST(dln_bias_singular_values(bi, NULL, s));
  ST(dln_bias_svd(bi, NULL, b, s, b));
  ST(dln_bias_det_sign(bi, b, &sign, &v1)); /* 2 x 3 is not square */
  ST(dln_bias_eval(bi, NULL, NULL, &br));
  ST(dln_bias_eval(bi, b, NULL, NULL));
  dln_bias_free(bi);
  dln_nuclear *nu = NULL;
  dln_nuclear_result nr;
  int nidx[2] = {0, 1};
  ST(dln_nuclear_alloc(NULL, 2, 2, 2, NULL, nidx, b));
  ST(dln_nuclear_alloc(&nu, 2, 2, 2, NULL, nidx, NULL));
  ST(dln_nuclear_alloc(&nu, 2, 2, 2, NULL, NULL, b));
  ST(dln_nuclear_alloc(&nu, 2, -2, 2, NULL, nidx, b));
  nidx[1] = 4; /* out of range for 2 x 2 */
  ST(dln_nuclear_alloc(&nu, 2, 2, 2, NULL, nidx, b));
  ST(dln_nuclear_alloc_loss(NULL, w.loss));
  ST(dln_nuclear_alloc_loss(&nu, NULL));
  ST(dln_nuclear_alloc_loss(&nu, w.loss)); /* a factorization has no measurements */
  SAFE(dln_nuclear_free(NULL));
  ST(dln_nuclear_solve(NULL, 1e-8, 10, b, &nr));
  ST(dln_nuclear_dual(NULL, b));
  nidx[1] = 3;
  assert_int_equal(dln_nuclear_alloc(&nu, 2, 2, 2, NULL, nidx, (double[]){1, 2}), DLN_OK);
  ST(dln_nuclear_solve(nu, 1e-8, 10, NULL, &nr));
  ST(dln_nuclear_solve(nu, 1e-8, 10, b, NULL));
  ST(dln_nuclear_solve(nu, NAN, 10, b, &nr));
  ST(dln_nuclear_solve(nu, 1e-8, -1, b, &nr));
  ST(dln_nuclear_dual(nu, NULL));
  dln_nuclear_free(nu);
  dln_orth *orth = NULL;
  ST(dln_orth_alloc(NULL, w.net, w.Y));
  ST(dln_orth_alloc(&orth, NULL, w.Y));
  SAFE(dln_orth_free(NULL));
  NEG(dln_orth_rank(NULL));
  ST(dln_orth_eval(NULL, w.theta, &v1, &v2, &v3));

  /* landscape.h */
  dln_critval_options co;
  dln_critval_default_options(&co);
  SAFE(dln_critval_default_options(NULL));
  dln_critval cv[8];
  dln_critval_info ci;
  ST(dln_critical_values(3, NULL, &co, cv, &ci));
  ST(dln_critical_values(3, s, &co, NULL, &ci));
  ST(dln_critical_values(-1, s, &co, cv, &ci));
  ST(dln_critical_values_target(2, 3, NULL, &co, cv, &ci));
  ST(dln_critical_values_target(2, 3, b, &co, NULL, &ci));
  ST(dln_critical_values_target(-2, 3, b, &co, cv, &ci));
  ZERO(dln_critval_distinct(3, NULL, 0, b)); /* documented: 0 for NULL */
  ZERO(dln_critval_distinct(3, cv, 0, NULL));
  ZERO(dln_net_min_width(NULL));
  dln_stratum_options so;
  dln_stratum_default_options(&so);
  SAFE(dln_stratum_default_options(NULL));
  dln_stratum sto;
  ST(dln_stratum_classify(2, 3, NULL, b, &so, &sto));
  ST(dln_stratum_classify(2, 3, b, NULL, &so, &sto));
  ST(dln_stratum_classify(2, 3, b, b, &so, NULL));
  ST(dln_stratum_classify(-2, 3, b, b, &so, &sto));
  ST(dln_stratum_classify_net(NULL, w.loss, w.theta, &so, &sto));
  ST(dln_stratum_classify_net(w.net, NULL, w.theta, &so, &sto));
  ST(dln_stratum_classify_net(w.net, w.loss, NULL, &so, &sto));
  ST(dln_stratum_classify_net(w.net, w.loss, w.theta, &so, NULL));
  /* (f) where a run ended */
  dln_endpoint_options eo;
  dln_endpoint_default_options(&eo);
  SAFE(dln_endpoint_default_options(NULL));
  dln_endpoint epr;
  ST(dln_endpoint_classify(NULL, w.loss, w.theta, &eo, &epr));
  ST(dln_endpoint_classify(w.net, NULL, w.theta, &eo, &epr));
  ST(dln_endpoint_classify(w.net, w.loss, NULL, &eo, &epr));
  ST(dln_endpoint_classify(w.net, w.loss, w.theta, &eo, NULL));
  eo.acc = 2; /* out of range: acc < 1 */
  ST(dln_endpoint_classify(w.net, w.loss, w.theta, &eo, &epr));
  assert_string_equal(dln_end_class_name(-1), "unknown"); /* documented */
  assert_string_equal(dln_end_class_name(DLN_END_NCLASS), "unknown");
  double wlo, whi;
  ST(dln_wilson_interval(1, 2, 1.96, NULL, &whi));
  ST(dln_wilson_interval(1, 2, 1.96, &wlo, NULL));
  ST(dln_wilson_interval(3, 2, 1.96, &wlo, &whi)); /* k > n */
  ST(dln_wilson_interval(-1, 2, 1.96, &wlo, &whi));
  ST(dln_wilson_interval(1, 2, 0.0, &wlo, &whi));
  ST(dln_wilson_interval(1, 2, NAN, &wlo, &whi));
  dln_lanczos_options lo;
  dln_lanczos_default_options(&lo);
  SAFE(dln_lanczos_default_options(NULL));
  dln_lanczos *lz = NULL;
  dln_lanczos_result lr;
  ST(dln_lanczos_alloc(NULL, w.net, 5));
  ST(dln_lanczos_alloc(&lz, NULL, 5));
  ST(dln_lanczos_alloc(&lz, w.net, 0));
  SAFE(dln_lanczos_free(NULL));
  ST(dln_lanczos_run(NULL, w.loss, w.theta, &lo, &lr));
  NUL(dln_lanczos_vec_min(NULL));
  NUL(dln_lanczos_vec_max(NULL));
  assert_string_equal(dln_point_kind_name(-1), "unknown"); /* documented */
  assert_string_equal(dln_point_kind_name(1000), "unknown");
  dln_point_options po;
  dln_point_default_options(&po);
  SAFE(dln_point_default_options(NULL));
  dln_point_result pr;
  ST(dln_point_classify(NULL, w.loss, w.theta, &po, &pr));
  assert_int_equal(dln_lanczos_alloc(&lz, w.net, 5), DLN_OK);
  ST(dln_lanczos_run(lz, NULL, w.theta, &lo, &lr));
  ST(dln_lanczos_run(lz, w.loss, NULL, &lo, &lr));
  ST(dln_lanczos_run(lz, w.loss, w.theta, &lo, NULL));
  ST(dln_point_classify(lz, NULL, w.theta, &po, &pr));
  ST(dln_point_classify(lz, w.loss, NULL, &po, &pr));
  ST(dln_point_classify(lz, w.loss, w.theta, &po, NULL));
  dln_lanczos_free(lz);
  dln_equilibrium eq;
  ST(dln_equilibrium_check(NULL, w.loss, w.theta, 0, &eq));
  ST(dln_equilibrium_check(w.net, NULL, w.theta, 0, &eq));
  ST(dln_equilibrium_check(w.net, w.loss, NULL, 0, &eq));
  ST(dln_equilibrium_check(w.net, w.loss, w.theta, 0, NULL));
  dln_sigma_dot *sd = NULL;
  ST(dln_sigma_dot_alloc(NULL, w.net));
  ST(dln_sigma_dot_alloc(&sd, NULL));
  SAFE(dln_sigma_dot_free(NULL));
  ST(dln_sigma_dot_predicted(NULL, w.loss, w.theta, b, b));
  ST(dln_sigma_dot_measured(NULL, w.loss, w.theta, b, b));
  ST(dln_sigma_dot_compare(NULL, w.loss, w.theta, b, b, b));
  NUL(dln_sigma_dot_wdot(NULL));
  assert_int_equal(dln_sigma_dot_alloc(&sd, w.net), DLN_OK);
  ST(dln_sigma_dot_predicted(sd, NULL, w.theta, b, b));
  ST(dln_sigma_dot_predicted(sd, w.loss, NULL, b, b));
  ST(dln_sigma_dot_measured(sd, NULL, w.theta, b, b));
  ST(dln_sigma_dot_measured(sd, w.loss, NULL, b, b));
  ST(dln_sigma_dot_compare(sd, NULL, w.theta, b, b, b));
  ST(dln_sigma_dot_compare(sd, w.loss, NULL, b, b, b));
  dln_sigma_dot_free(sd);
  free_world(&w);
  DONE();
}

/* ------------------------------------------------------------------ observe */

static void test_observe(void **state) {
  (void)state;
  nbad = 0;
  world w = make_world();
  dln_observer *obs = NULL;
  const char *names[1] = {"loss"};
  double row[64];
  ST(dln_observer_alloc(NULL, w.net, w.loss, w.theta, DLN_OBS_LOSS));
  ST(dln_observer_alloc(&obs, NULL, w.loss, w.theta, DLN_OBS_LOSS));
  ST(dln_observer_alloc(&obs, w.net, NULL, w.theta, DLN_OBS_LOSS));
  ST(dln_observer_alloc_names(NULL, w.net, w.loss, w.theta, names, 1));
  ST(dln_observer_alloc_names(&obs, NULL, w.loss, w.theta, names, 1));
  ST(dln_observer_alloc_names(&obs, w.net, NULL, w.theta, names, 1));
  ST(dln_observer_alloc_run(NULL, w.net, w.loss, w.theta, names, 1, NULL));
  ST(dln_observer_alloc_run(&obs, NULL, w.loss, w.theta, names, 1, NULL));
  ST(dln_observer_alloc_run(&obs, w.net, w.loss, w.theta, NULL, 1, NULL));
  ST(dln_observer_alloc_names(&obs, w.net, w.loss, w.theta, NULL, 1));
  const char *holes[1] = {NULL};
  ST(dln_observer_alloc_names(&obs, w.net, w.loss, w.theta, holes, 1));
  SAFE(dln_observer_free(NULL));
  NEG(dln_observer_ncols(NULL));
  NUL(dln_observer_colname(NULL, 0));
  NEG(dln_observer_col(NULL, "loss"));
  ST(dln_observer_eval(NULL, 0, 0, w.theta, row));
  ZERO(strlen(dln_observer_label(NULL, "loss"))); /* documented: "" */
  assert_int_equal(dln_observer_alloc(&obs, w.net, w.loss, w.theta, DLN_OBS_LOSS), DLN_OK);
  NUL(dln_observer_colname(obs, -1));
  NUL(dln_observer_colname(obs, dln_observer_ncols(obs)));
  NEG(dln_observer_col(obs, NULL));
  ST(dln_observer_eval(obs, 0, 0, NULL, row));
  ST(dln_observer_eval(obs, 0, 0, w.theta, NULL));
  ZERO(strlen(dln_observer_label(obs, NULL)));
  dln_observer_free(obs);
  NEG(dln_obs_add_col(NULL, "x%d", 0));
  SAFE(dln_obs_note(NULL, "x", "y"));
  SAFE(dln_obs_set_label(NULL, "x"));
  ST(dln_observable_register(NULL));
  NUL(dln_observable_find(NULL));
  NUL(dln_observable_name_at(-1));
  assert_null(dln_observable_name_at(100000)); /* past the end: the iteration stops (no message) */
  free_world(&w);
  DONE();
}

/* ------------------------------------------------------------------ io, manifest */

static void test_io(void **state) {
  (void)state;
  nbad = 0;
  dln_mat *m = NULL;
  double d[4] = {1, 2, 3, 4};
  const char *dir = tu_tmpdir(0), *p = tu_path(dir, "x.npy");
  unsigned char raw[4] = {0};
  ST(dln_npy_read(NULL, &m));
  ST(dln_npy_read(p, NULL));
  ST(dln_npy_parse("x", NULL, 10, &m));
  ST(dln_npy_parse("x", raw, sizeof raw, NULL));
  ST(dln_npy_write(NULL, 2, 2, d, 0));
  ST(dln_npy_write(p, 2, 2, NULL, 0));
  ST(dln_npy_write(p, -2, 2, d, 0));
  ST(dln_csv_read(NULL, &m));
  ST(dln_csv_read(p, NULL));
  ST(dln_csv_write(NULL, 2, 2, d, NULL));
  ST(dln_csv_write(tu_path(dir, "x.csv"), 2, 2, NULL, NULL));
  ST(dln_csv_write(tu_path(dir, "x.csv"), -2, 2, d, NULL));
  ST(dln_table_write_csv(NULL, tu_path(dir, "t.csv")));
  FILE *fp = NULL;
  ST(dln_input_open(NULL, &fp));
  ST(dln_input_open(p, NULL));
  ST(dln_input_open(dir, &fp)); /* a folder is not an input file */
  ST(dln_matrix_load(NULL, &m));
  ST(dln_matrix_load(p, NULL));
  dln_afile *af = NULL;
  ST(dln_afile_open(NULL, p));
  ST(dln_afile_open(&af, NULL));
  NUL(dln_afile_stream(NULL));
  ST(dln_afile_commit(NULL));
  SAFE(dln_afile_abort(NULL));
  ST(dln_write_file_atomic(NULL, d, 4));
  ST(dln_write_file_atomic(p, NULL, 4));
  ST(dln_mkdir_p(NULL));
  NUL(dln_path_join(NULL, "x"));
  NUL(dln_path_join(dir, NULL));

  char id[DLN_RUN_ID_LEN + 1], hex[65], why[64];
  long long bytes;
  ST(dln_run_id_new(NULL));
  ST(dln_file_sha256(NULL, hex, &bytes));
  ST(dln_file_sha256(p, NULL, &bytes));
  assert_int_equal(dln_manifest_name_ok(NULL), 0);
  const char *files[1] = {"x.npy"};
  (void)id;
  ST(dln_manifest_write(NULL, "id", "run", 1, files, 1));
  ST(dln_manifest_write(dir, NULL, "run", 1, files, 1));
  ST(dln_manifest_write(dir, "id", NULL, 1, files, 1));
  ST(dln_manifest_write(dir, "id", "run", 1, NULL, 1));
  dln_manifest *mf = NULL;
  ST(dln_manifest_read(NULL, &mf));
  ST(dln_manifest_read(dir, NULL));
  SAFE(dln_manifest_free(NULL));
  NEG(dln_manifest_find(NULL, "x"));
  ST(dln_manifest_verify(NULL, dir, why, sizeof why));
  tu_rmtree(dir);
  DONE();
}

/* ------------------------------------------------------------------ run: spec, run, ensemble, check */

static void test_run(void **state) {
  (void)state;
  nbad = 0;
  dln_spec spec;
  memset(&spec, 0, sizeof spec);
  char buf[64];
  int *widths = NULL, n = 0;
  NUL(dln_spec_find(NULL));
  ST(dln_spec_default(NULL));
  SAFE(dln_spec_free(NULL));
  assert_int_equal(dln_spec_default(&spec), DLN_OK);
  const dln_spec_option *so = dln_spec_find("t_end");
  assert_non_null(so);
  ST(dln_spec_copy(NULL, &spec));
  ST(dln_spec_copy(&spec, NULL));
  ST(dln_spec_set(NULL, "t_end", "1"));
  ST(dln_spec_set(&spec, NULL, "1"));
  ST(dln_spec_set(&spec, "t_end", NULL));
  ST(dln_spec_from_json_file(NULL, "x.json"));
  ST(dln_spec_from_json_file(&spec, NULL));
  ST(dln_spec_from_json_string(NULL, "x", "{}"));
  ST(dln_spec_from_json_string(&spec, "x", NULL));
  ST(dln_spec_check(NULL));
  ST(dln_spec_check_unused(NULL));
  NUL(dln_spec_where(NULL, "t_end", buf, sizeof buf));
  NUL(dln_spec_where(&spec, NULL, buf, sizeof buf));
  NUL(dln_spec_where(&spec, "t_end", NULL, sizeof buf));
  NUL(dln_spec_value_text(NULL, so, buf, sizeof buf));
  NUL(dln_spec_value_text(&spec, NULL, buf, sizeof buf));
  NUL(dln_spec_value_text(&spec, so, NULL, sizeof buf));
  SAFE(dln_spec_write_options(NULL));
  ZERO(dln_spec_is_output(NULL));
  NUL(dln_spec_type_block(NULL, dln_train_option_rows()));
  NUL(dln_spec_type_block(&spec, NULL));
  NUL(dln_spec_field(NULL, so));
  NUL(dln_spec_field(&spec, NULL));
  ZERO(dln_spec_observe_flags(NULL)); /* documented: 0 for NULL */
  ST(dln_spec_resolve_widths(NULL, &widths, &n));
  ST(dln_spec_resolve_widths(&spec, NULL, &n));
  ST(dln_spec_resolve_widths(&spec, &widths, NULL));

  dln_run_result rr; /* (NULL results are allowed: the runs are not started here) */
  int job;
  ST(dln_run(NULL, NULL, &rr));
  ST(dln_run_noplot(NULL, NULL, &rr));
  ST(dln_run_resume(NULL, NULL, &rr));
  ST(dln_run_resume_noplot(NULL, NULL, &rr));
  ST(dln_run_resume_spec(NULL, &spec));
  ST(dln_run_resume_spec("/tmp", NULL));
  ST(dln_run_resume_memfiles(NULL, &spec));
  ST(dln_run_resume_memfiles("/tmp", NULL));
  ST(dln_run_fig1(NULL, NULL, NULL, &rr));
  ST(dln_run_fig1_resume(NULL, NULL, NULL, &rr));
  ST(dln_run_resume_is_job(NULL, &job));
  ST(dln_run_resume_is_job("/tmp", NULL));
  ST(dln_run_fig1_defaults(NULL));

  dln_sweep sw;
  dln_sweep_init(&sw);
  SAFE(dln_sweep_init(NULL));
  SAFE(dln_sweep_free(NULL));
  const char *vals[1] = {"1"}, *nm[1] = {"t_end"};
  ST(dln_sweep_add_axis(NULL, "t_end", 1, vals));
  ST(dln_sweep_add_axis(&sw, NULL, 1, vals));
  ST(dln_sweep_add_axis(&sw, "t_end", 1, NULL));
  ST(dln_sweep_add_axis(&sw, "t_end", -1, vals));
  ST(dln_sweep_add_range(NULL, "seed", 0, 2, 1));
  ST(dln_sweep_add_range(&sw, NULL, 0, 2, 1));
  ST(dln_sweep_add_run(NULL, 1, nm, vals));
  ST(dln_sweep_add_run(&sw, 1, NULL, vals));
  ST(dln_sweep_add_run(&sw, 1, nm, NULL));
  ZERO(dln_sweep_nruns(NULL));
  ST(dln_sweep_from_json_file(NULL, "x.json"));
  ST(dln_sweep_from_json_file(&sw, NULL));
  ST(dln_sweep_from_json_string(NULL, "x", "{}"));
  ST(dln_sweep_from_json_string(&sw, "x", NULL));
  dln_ensemble_options eo;
  dln_ensemble_default_options(&eo);
  SAFE(dln_ensemble_default_options(NULL));
  dln_ensemble_result er;
  ST(dln_ensemble_run(NULL, &sw, &eo, &er));
  ST(dln_ensemble_run(&spec, NULL, &eo, &er));
  dln_ensemble_peers pe = {5, 2, NULL, NULL, NULL, NULL}; /* rank out of range; no transport */
  eo.peers = &pe;
  ST(dln_ensemble_run(&spec, &sw, &eo, &er));
  pe.rank = 1;
  ST(dln_ensemble_run(&spec, &sw, &eo, &er));
  eo.peers = NULL;
  char *rn = NULL, *rt = NULL;
  ST(dln_ensemble_resume_source(NULL, 0, 1, &rn, &rt));
  ST(dln_ensemble_resume_source(tu_tmpdir(1), 0, 1, NULL, &rt));
  ST(dln_ensemble_resume_source(tu_tmpdir(1), 0, 1, &rn, NULL));
  ST(dln_ensemble_resume_source(tu_tmpdir(1), 2, 2, &rn, &rt));
  ST(dln_ensemble_merge(NULL, &eo, 0, &er));
  ST(dln_ensemble_merge("", &eo, 0, &er));
  ST(dln_ensemble_merge(tu_tmpdir(1), NULL, 0, NULL)); /* no shards in it */
  dln_sweep_free(&sw);

  dln_check_options co;
  dln_check_default_options(&co);
  SAFE(dln_check_default_options(NULL));
  dln_check_report rep;
  memset(&rep, 0, sizeof rep);
  ST(dln_check_folder(NULL, &co, &rep));
  dln_check_report_free(&rep);
  ST(dln_check_folder(tu_tmpdir(1), &co, NULL));
  SAFE(dln_check_report_free(NULL));
  SAFE(dln_check_print(NULL, stderr));
  SAFE(dln_check_print(&rep, NULL));
  ST(dln_check_write_json(NULL, "x.json"));
  ST(dln_check_critical(NULL, NULL, NULL));
  ST(dln_check_write_json(&rep, NULL));

  dln_compress_options cpo;
  dln_compress_default_options(&cpo);
  SAFE(dln_compress_default_options(NULL));
  dln_compress_report crep;
  ST(dln_compress_folder(NULL, &cpo, &crep));
  ST(dln_compress_folder(tu_tmpdir(1), &cpo, NULL));
  ST(dln_compress_folder(tu_tmpdir(1), &cpo, &crep)); /* no manifest: not a finished run */
  cpo.tol = -1;
  ST(dln_compress_folder(tu_tmpdir(1), &cpo, &crep));
  ST(dln_compress_write(NULL, "x.json", NULL));
  ST(dln_compress_write(&crep, NULL, NULL));
  ST(dln_compress_write(&crep, "x.json", NULL)); /* an empty report */
  SAFE(dln_compress_print(NULL, stderr));
  SAFE(dln_compress_print(&crep, NULL));
  SAFE(dln_compress_report_free(NULL));
  dln_compress_report_free(&crep);

  /* dln figure (dln/figure.h) */
  dln_figure_options fgo;
  dln_figure_default_options(&fgo);
  SAFE(dln_figure_default_options(NULL));
  assert_true(dln_figure_count() >= 1);
  NUL(dln_figure_at(-1));
  NUL(dln_figure_at(dln_figure_count()));
  NUL(dln_figure_find(NULL));
  NUL(dln_figure_find("no-such-figure"));
  NUL(dln_figure_verdict_name(-1));
  NUL(dln_figure_verdict_name(DLN_VERDICT_NOT_CHECKED + 1));
  dln_figure_result fgr;
  ST(dln_figure_run(NULL, tu_tmpdir(1), &fgo, &fgr));
  ST(dln_figure_run(dln_figure_at(0), NULL, &fgo, &fgr));
  ST(dln_figure_run(dln_figure_at(0), tu_tmpdir(1), &fgo, NULL));
  ST(dln_figure_run(dln_figure_at(0), "", &fgo, &fgr));
  tu_rmtree(tu_tmpdir(1));
  dln_spec_free(&spec);
  DONE();
}

/* dln/robust.h: NULLs, options out of range, a spec without a disturbance, a curve off the
 * scalar case. */
static void test_robust(void **state) {
  (void)state;
  ST(dln_memory_mark(NULL)); /* dln/memory.h */
  ST(dln_memory_sample_now(NULL));
  dln_robust_options ro;
  dln_robust_result rr;
  dln_robust_curve rc;
  int ph;
  double d1 = 1, dneg = -1;
  SAFE(dln_robust_default_options(NULL));
  dln_robust_default_options(&ro);
  SAFE(dln_robust_result_free(NULL));
  SAFE(dln_robust_curve_free(NULL));
  dln_spec sp;
  assert_int_equal(dln_spec_default(&sp), DLN_OK);
  ST(dln_robust_spec(NULL, NULL, &ro, &rr, &ph));
  ST(dln_robust_spec(&sp, NULL, NULL, &rr, &ph));
  ST(dln_robust_spec(&sp, NULL, &ro, NULL, &ph));
  ST(dln_robust_spec(&sp, NULL, &ro, &rr, NULL));
  ST(dln_robust_spec(&sp, NULL, &ro, &rr, &ph)); /* no disturbance */
  ST(dln_robust_curve_spec(NULL, &d1, 1, &ro, NULL, 0, &rc, &ph));
  ST(dln_robust_curve_spec(&sp, &d1, 1, NULL, NULL, 0, &rc, &ph));
  ST(dln_robust_curve_spec(&sp, &d1, 1, &ro, NULL, 0, NULL, &ph));
  ST(dln_robust_curve_spec(&sp, &d1, 1, &ro, NULL, 0, &rc, NULL));
  ST(dln_robust_curve_spec(&sp, NULL, 1, &ro, NULL, 0, &rc, &ph));
  ST(dln_robust_curve_spec(&sp, &d1, -1, &ro, NULL, 0, &rc, &ph));
  assert_int_equal(dln_spec_set(&sp, "disturbance", "sinusoid"), DLN_OK);
  assert_int_equal(dln_spec_set(&sp, "t_end", "0.1"), DLN_OK);
  ST(dln_robust_curve_spec(&sp, &d1, 1, &ro, NULL, 0, &rc, &ph)); /* no disturbance files */
  ro.hi = -1;
  ST(dln_robust_spec(&sp, NULL, &ro, &rr, &ph));
  dln_robust_default_options(&ro), ro.rel_tol = 0;
  ST(dln_robust_spec(&sp, NULL, &ro, &rr, &ph));
  dln_robust_default_options(&ro), ro.grid = 1;
  ST(dln_robust_spec(&sp, NULL, &ro, &rr, &ph));
  dln_robust_default_options(&ro), ro.threads = 0;
  ST(dln_robust_curve_spec(&sp, &dneg, 1, &ro, NULL, 0, &rc, &ph));
  dln_robust_default_options(&ro), ro.reach_tol = NAN;
  ST(dln_robust_curve_spec(&sp, &dneg, 1, &ro, NULL, 0, &rc, &ph));
  dln_spec_free(&sp);
  DONE();
}

static void test_abi(void **state) {
  (void)state;
  double a[4] = {1, 2, 3, 4}, v;
  int r, c;
  const double *p;
  size_t off;
  char buf[64], hex[65];
  long long bytes;
  dln_mat *m;
  /* the in-memory data files (dln/io.h) */
  ZERO(dln_memfile_is(NULL));
  ST(dln_memfile_put(NULL, 2, 2, a));
  ST(dln_memfile_put("x", 2, 2, NULL));
  ST(dln_memfile_put("x", -1, 2, a));
  ST(dln_memfile_get(NULL, &m));
  ST(dln_memfile_get("mem:no-such", NULL));
  ST(dln_memfile_get("mem:no-such", &m));
  ST(dln_memfile_remove(NULL));
  ST(dln_memfile_remove("mem:no-such"));
  ST(dln_memfile_sha256(NULL, hex, &bytes));
  ST(dln_memfile_sha256("mem:no-such", hex, &bytes));
  /* the job (dln/abi.h) */
  ST(dln_job_alloc(NULL));
  SAFE(dln_job_free(NULL));
  ST(dln_job_set(NULL, "eta", "1"));
  ST(dln_job_get(NULL, "eta", buf, sizeof buf));
  ST(dln_job_read_json(NULL, "x.json"));
  ST(dln_job_set_array(NULL, "target_file", 0, 2, 2, a, 0));
  ST(dln_job_run(NULL));
  ST(dln_job_cancel(NULL));
  NEG(dln_job_fail_phase(NULL));
  NEG(dln_job_stop_reason(NULL));
  NUL(dln_job_stop_name(NULL));
  NUL(dln_job_message(NULL));
  ZERO(dln_job_nrows(NULL));
  ZERO(dln_job_ncols(NULL));
  NUL(dln_job_col_name(NULL, 0));
  NUL(dln_job_table(NULL));
  NUL(dln_job_summary(NULL));
  ZERO(dln_job_nlayers(NULL, 0));
  ST(dln_job_layer(NULL, 0, 1, &r, &c, &p));
  ST(dln_job_build(NULL));
  NUL(dln_job_loss(NULL));
  NUL(dln_job_net(NULL));
  ST(dln_job_train(NULL, NULL, NULL));
  NEG(dln_abi_net_depth(NULL));
  ZERO(dln_abi_net_nparams(NULL));
  ST(dln_abi_net_layer(NULL, 1, &r, &c, &off));
  NEG(dln_abi_loss_rows(NULL));
  NEG(dln_abi_loss_cols(NULL));
  NANV(dln_abi_loss_lstar(NULL));
  dln_job *j;
  assert_int_equal(dln_job_alloc(&j), DLN_OK);
  ST(dln_job_set(j, NULL, "1"));
  ST(dln_job_set(j, "no_such_option", "1"));
  ST(dln_job_get(j, "no_such_option", buf, sizeof buf));
  ST(dln_job_get(j, "eta", NULL, 8));
  ST(dln_job_read_json(j, NULL));
  ST(dln_job_set_array(j, "eta", 0, 2, 2, a, 0));          /* not a file option */
  ST(dln_job_set_array(j, "target_file", 1, 2, 2, a, 0));  /* item of a single file */
  ST(dln_job_set_array(j, "init_files", -1, 2, 2, a, 0));
  ST(dln_job_set_array(j, "target_file", 0, 0, 2, a, 0));
  ST(dln_job_set_array(j, "target_file", 0, 2, 2, NULL, 0));
  NUL(dln_job_col_name(j, 0));  /* no run yet */
  NUL(dln_job_col_name(j, -1));
  ZERO(dln_job_nlayers(j, 2));
  ST(dln_job_layer(j, 2, 1, &r, &c, &p));
  ST(dln_job_layer(j, 0, 1, &r, &c, &p)); /* no layers yet */
  ST(dln_job_layer(j, 0, 1, NULL, &c, &p));
  NUL(dln_job_loss(j)); /* not built */
  NUL(dln_job_net(j));
  assert_int_equal(dln_job_set(j, "widths", "2,3,2"), DLN_OK);
  assert_int_equal(dln_job_set(j, "rows", "2"), DLN_OK);
  assert_int_equal(dln_job_set(j, "cols", "2"), DLN_OK);
  assert_int_equal(dln_job_build(j), DLN_OK);
  ST(dln_abi_net_layer(dln_job_net(j), 0, &r, &c, &off));
  ST(dln_abi_net_layer(dln_job_net(j), 3, &r, &c, &off));
  ST(dln_abi_net_layer(dln_job_net(j), 1, NULL, &c, &off));
  assert_int_equal(dln_abi_net_layer(dln_job_net(j), 2, &r, &c, &off), DLN_OK);
  assert_true(r == 2 && c == 3 && off == 6);
  v = dln_abi_loss_lstar(dln_job_loss(j));
  assert_true(v == 0);
  ST(dln_job_layer(j, 0, 3, &r, &c, &p));
  dln_job_free(j);
  DONE();
}

/* the C ABI's commands beside a run (dln/abi.h, src/abi/tools.c) */
static void test_abi_tools(void **state) {
  (void)state;
  int ninc, nvio, fc[6];
  long sc[6];
  dln_job *j = NULL;
  assert_int_equal(dln_job_alloc(&j), DLN_OK);
  ST(dln_abi_check(NULL, 0, 0, &ninc, &nvio));
  ST(dln_abi_check(".", 0, 0, NULL, &nvio));
  ST(dln_abi_check("/no/such/dln-folder", 0, 0, &ninc, &nvio));
  ST(dln_job_sweep(NULL, "s.json", 0, 0, sc));
  ST(dln_job_sweep(j, NULL, 0, 0, sc));
  ST(dln_job_sweep(j, "s.json", 0, 0, NULL));
  ST(dln_job_sweep(j, "s.json", -1, 0, sc)); /* threads */
  ST(dln_job_sweep(j, "s.json", 0, 64, sc)); /* flags */
  ST(dln_job_sweep(j, "/no/such/dln-sweep.json", 0, 0, sc));
  NUL(dln_abi_figure_name(-1));
  NUL(dln_abi_figure_name(1 << 20));
  assert_non_null(dln_abi_figure_name(0));
  ST(dln_abi_figure(NULL, "d", 0, fc));
  ST(dln_abi_figure("003-fig2", NULL, 0, fc));
  ST(dln_abi_figure("003-fig2", "d", 0, NULL));
  ST(dln_abi_figure("003-fig2", "d", 8, fc)); /* flags */
  ST(dln_abi_figure("no-such-figure", "d", 0, fc));
  ST(dln_job_figure(NULL, "003-fig2", "d", 0, fc));
  ST(dln_job_figure(j, NULL, "d", 0, fc));
  ST(dln_job_figure(j, "003-fig2", NULL, 0, fc));
  ST(dln_job_figure(j, "003-fig2", "d", 0, NULL));
  ST(dln_job_figure(j, "003-fig2", "d", 8, fc)); /* flags */
  ST(dln_job_figure(j, "no-such-figure", "d", 0, fc));
  dln_job_free(j);
  DONE();
}

int main(void) {
  tu_seed(11);
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_core),   cmocka_unit_test(test_model),
                                     cmocka_unit_test(test_dynamics), cmocka_unit_test(test_theory),
                                     cmocka_unit_test(test_observe), cmocka_unit_test(test_io),
                                     cmocka_unit_test(test_run),
                                     cmocka_unit_test(test_robust), cmocka_unit_test(test_abi),
                                     cmocka_unit_test(test_abi_tools)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
