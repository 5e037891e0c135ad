/* Tests for observables as column providers (dln/observe.h): the names and aliases
 * --observe accepts, dln_observer_alloc_names against the flag constructors (same
 * columns, bit-identical rows), errors for unknown words and bad registrations, and an
 * observable registered from outside the library through the public header only
 * (‖W‖_F, checked against a plain loop; no allocation in eval). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dln/error.h"
#include "dln/loss.h"
#include "dln/net.h"
#include "dln/observe.h"
#include "observe/theory_obs.h" /* dln_observer_alloc_theory: the flag constructor with theory columns */
#include "testutil.h"

/* ------------------------------------------------------------------ an outside observable: fro_w = ‖W‖_F */

static int fro_init(dln_obs_setup *s, void **state) {
  size_t *n = malloc(sizeof *n);
  if (!n) return DLN_ENOMEM;
  *n = (size_t)s->loss->rows * (size_t)s->loss->cols;
  *state = n;
  return dln_obs_add_col(s, "fro_w", 0) == 0 ? DLN_OK : DLN_EINVAL;
}
static int fro_eval(void *state, const dln_obs_frame *f, double *cols) {
  const size_t *n = state;
  double s = 0;
  for (size_t i = 0; i < *n; ++i) s += f->W[i] * f->W[i];
  cols[0] = sqrt(s);
  return DLN_OK;
}
static const dln_observable fro_obs = {"fro_w", "||W||_F", DLN_OBSERVABLE_USES_W, 0, 0, 0, fro_init, fro_eval, free};
/* needs a least-squares loss: no columns (and no error) for a factorization */
static const dln_observable lsq_only = {"lsq_only", "test", DLN_OBSERVABLE_USES_W, DLN_LOSS_LSQ_DESIGN, 0, 0,
                                        fro_init, fro_eval, free};

/* ------------------------------------------------------------------ fixtures */

typedef struct {
  dln_net *net;
  dln_loss *loss;
  double *theta;
} fix;

static fix make(int depth, const int *w, int regression) {
  fix f = {0};
  assert_int_equal(dln_net_alloc(&f.net, depth, w, 0), DLN_OK);
  int rows = w[depth], cols = w[0];
  if (regression) {
    int n = cols + 2;
    dln_mat *X = dln_mat_alloc(cols, n), *Y = dln_mat_alloc(rows, n);
    tu_fill_gauss((size_t)cols * n, X->data, 1.0);
    tu_fill_gauss((size_t)rows * n, Y->data, 1.0);
    assert_int_equal(dln_loss_regression_alloc(&f.loss, X, Y), DLN_OK);
    dln_mat_free(X), dln_mat_free(Y);
  } else {
    double *Y = tu_dalloc((size_t)rows * cols);
    tu_fill_gauss((size_t)rows * cols, Y, 1.0);
    f.loss = tu_fact_loss(rows, cols, Y);
    free(Y);
  }
  f.theta = tu_dalloc(f.net->nparams);
  tu_fill_gauss(f.net->nparams, f.theta, 0.6);
  return f;
}
static void unmake(fix *f) {
  dln_loss_free(f->loss);
  dln_net_free(f->net);
  free(f->theta);
}

/* Same column names and bit-identical rows at two sample points. */
static void assert_same(dln_observer *a, dln_observer *b, const double *theta) {
  int n = dln_observer_ncols(a);
  assert_int_equal(dln_observer_ncols(b), n);
  for (int i = 0; i < n; ++i) assert_string_equal(dln_observer_colname(a, i), dln_observer_colname(b, i));
  double *ra = tu_dalloc((size_t)n), *rb = tu_dalloc((size_t)n);
  for (int k = 0; k < 2; ++k) {
    assert_int_equal(dln_observer_eval(a, 0.5 * k, k, theta, ra), DLN_OK);
    assert_int_equal(dln_observer_eval(b, 0.5 * k, k, theta, rb), DLN_OK);
    assert_memory_equal(ra, rb, (size_t)n * sizeof(double));
  }
  assert_string_equal(dln_observer_theory_note(a), dln_observer_theory_note(b));
  assert_string_equal(dln_observer_cf_name(a), dln_observer_cf_name(b));
  assert_int_equal(dln_observer_xflags(a), dln_observer_xflags(b));
  free(ra), free(rb);
}

/* ------------------------------------------------------------------ tests */

static void test_names(void **state) {
  (void)state;
  static const char *const builtin[] = {"loss", "gradnorm", "dist", "truth", "sv", "compress", "conserved", "imbalance",
                                        "closed_form", "bias"};
  for (int i = 0; i < 10; ++i) {
    assert_string_equal(dln_observable_name_at(i), builtin[i]);
    const dln_observable *o = dln_observable_find(builtin[i]);
    assert_non_null(o);
    assert_non_null(o->summary);
    assert_int_equal(!!(o->flags & DLN_OBSERVABLE_IN_ALL), i < 8); /* "all" = the eight DLN_OBS_ALL groups */
  }
  int n = 0, seen_all = 0, seen_theory = 0;
  for (; dln_observable_name_at(n); ++n) {
    seen_all |= strcmp(dln_observable_name_at(n), "all") == 0;
    seen_theory |= strcmp(dln_observable_name_at(n), "theory") == 0;
  }
  assert_true(n >= 10 && seen_all && seen_theory);
  assert_null(dln_observable_name_at(-1));
  assert_null(dln_observable_find("all")); /* aliases are words, not observables */
  assert_null(dln_observable_find("theory"));
  assert_null(dln_observable_find("no_such"));
}

static void test_names_match_flags(void **state) {
  (void)state;
  int w2[] = {4, 5, 3}, w3[] = {3, 4, 4, 3};
  for (int c = 0; c < 3; ++c) {
    fix f = c == 0 ? make(2, w2, 0) : c == 1 ? make(2, w2, 1) : make(3, w3, 0);
    dln_observer *a, *b;
    /* "all" vs DLN_OBS_ALL */
    const char *all[] = {"all"};
    assert_int_equal(dln_observer_alloc(&a, f.net, f.loss, f.theta, DLN_OBS_ALL), DLN_OK);
    assert_int_equal(dln_observer_alloc_names(&b, f.net, f.loss, f.theta, all, 1), DLN_OK);
    assert_same(a, b, f.theta);
    dln_observer_free(a), dln_observer_free(b);
    /* order of the words does not matter; "theory" = closed_form + bias */
    const char *some[] = {"theory", "sv", "loss", "sv"};
    assert_int_equal(dln_observer_alloc_theory(&a, f.net, f.loss, f.theta, DLN_OBS_LOSS | DLN_OBS_SV,
                                               DLN_OBSX_CF | DLN_OBSX_BIAS, NULL),
                     DLN_OK);
    assert_int_equal(dln_observer_alloc_names(&b, f.net, f.loss, f.theta, some, 4), DLN_OK);
    assert_same(a, b, f.theta);
    assert_int_equal(dln_observer_col(b, "loss"), 2);
    assert_true(dln_observer_col(b, "nuclear_norm") > dln_observer_col(b, "sv_1"));
    dln_observer_free(a), dln_observer_free(b);
    /* nothing: t and step */
    assert_int_equal(dln_observer_alloc_names(&b, f.net, f.loss, f.theta, NULL, 0), DLN_OK);
    assert_int_equal(dln_observer_ncols(b), 2);
    dln_observer_free(b);
    unmake(&f);
  }
}

static void test_errors(void **state) {
  (void)state;
  int w[] = {4, 5, 3};
  fix f = make(2, w, 0);
  dln_observer *o = (dln_observer *)&o;
  const char *bad[] = {"loss", "nonsense"};
  assert_int_equal(dln_observer_alloc_names(&o, f.net, f.loss, f.theta, bad, 2), DLN_EINVAL);
  assert_null(o);
  assert_non_null(strstr(dln_last_error(), "nonsense"));
  assert_non_null(strstr(dln_last_error(), "closed_form"));
  const char *cf[] = {"closed_form"};
  assert_int_equal(dln_observer_alloc_names(&o, f.net, f.loss, NULL, cf, 1), DLN_EINVAL); /* needs θ(0) */
  dln_observable unnamed = fro_obs, alias = fro_obs, taken = fro_obs, noeval = fro_obs;
  unnamed.name = "";
  alias.name = "theory";
  taken.name = "sv";
  noeval.eval = NULL;
  assert_int_equal(dln_observable_register(NULL), DLN_EINVAL);
  assert_int_equal(dln_observable_register(&unnamed), DLN_EINVAL);
  assert_int_equal(dln_observable_register(&alias), DLN_EINVAL);
  assert_int_equal(dln_observable_register(&taken), DLN_EINVAL);
  assert_int_equal(dln_observable_register(&noeval), DLN_EINVAL);
  unmake(&f);
}

static void test_outside_observable(void **state) {
  (void)state;
  assert_int_equal(dln_observable_register(&fro_obs), DLN_OK);
  assert_int_equal(dln_observable_register(&fro_obs), DLN_EINVAL); /* once */
  assert_int_equal(dln_observable_register(&lsq_only), DLN_OK);
  assert_ptr_equal(dln_observable_find("fro_w"), &fro_obs);
  int w[] = {4, 5, 3};
  fix f = make(2, w, 0);
  dln_observer *o;
  const char *names[] = {"fro_w", "lsq_only", "all", "loss"};
  assert_int_equal(dln_observer_alloc_names(&o, f.net, f.loss, f.theta, names, 4), DLN_OK);
  int n = dln_observer_ncols(o), c = dln_observer_col(o, "fro_w");
  assert_int_equal(c, n - 1); /* after the built-in ones; lsq_only: no column for a factorization */
  double *row = tu_dalloc((size_t)n), *W = tu_dalloc(12);
  assert_int_equal(dln_observer_eval(o, 0, 0, f.theta, row), DLN_OK);
  tu_mm(0, 0, 3, 4, 5, f.theta + f.net->offset[2], f.theta + f.net->offset[1], W);
  assert_close(row[c], tu_fro(12, W), 1e-13, 0);
  if (DLN_HAVE_ALLOC_COUNTER) {
    dln_alloc_count_begin();
    int st = dln_observer_eval(o, 1, 1, f.theta, row);
    long nallocs = dln_alloc_count_end(NULL);
    assert_int_equal(st, DLN_OK);
    assert_int_equal(nallocs, 0);
  }
  dln_observer_free(o);
  free(row), free(W);
  unmake(&f);
}

int main(void) {
  tu_seed(20240611);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_names),
      cmocka_unit_test(test_names_match_flags),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_outside_observable),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
