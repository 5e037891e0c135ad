/* Tests for the run specification (dln/spec.h): defaults, JSON reading with
 * file:line:column messages, command-line setters, and dln_spec_check. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dln/error.h"
#include "dln/spec.h"
#include "testutil.h"

#define assert_contains(hay, needle)                                                   \
  do {                                                                                 \
    const char *h_ = (hay), *n_ = (needle);                                            \
    if (!strstr(h_, n_)) {                                                             \
      print_error("message \"%s\" does not contain \"%s\"\n", h_, n_);                 \
      fail();                                                                          \
    }                                                                                  \
  } while (0)

static void test_defaults(void **state) {
  (void)state;
  dln_spec s;
  assert_int_equal(dln_spec_default(&s), DLN_OK);
  assert_string_equal(s.task, "factorization");
  assert_string_equal(s.method, "auto"); /* the first registered integrator */
  assert_string_equal(s.system, "layerwise");
  assert_close(s.train.t_end, 40, 0, 0);
  assert_int_equal(s.net.depth, 2);
  assert_int_equal(s.net.width, 50);
  assert_int_equal(s.data.rows, 5);
  assert_int_equal(s.data.cols, 10);
  assert_int_equal(s.net.widths.n, 0);
  assert_close(s.train.eta, 1e-3, 0, 0);
  assert_close(s.train.rtol, 1e-8, 0, 0);
  assert_int_equal(s.plot, 1);
  assert_int_equal(s.quiet, 0);
  assert_int_equal(s.blas_threads, 1);
  assert_int_equal(s.observe.n, 1);
  assert_string_equal(s.observe.v[0], "all");
  assert_string_equal(s.out, "dln-out");
  assert_true(s.seed == 1);
  assert_int_equal(dln_spec_check(&s), DLN_OK);
  int *w, n;
  assert_int_equal(dln_spec_resolve_widths(&s, &w, &n), DLN_OK);
  assert_int_equal(n, 3);
  assert_int_equal(w[0], 10);
  assert_int_equal(w[1], 50);
  assert_int_equal(w[2], 5);
  free(w);
  /* every option in the table has a parseable default and a help line */
  for (const dln_spec_option *o = dln_spec_options(); o->name; ++o) {
    assert_non_null(o->help);
    assert_ptr_equal(dln_spec_find(o->name), o);
  }
  assert_null(dln_spec_find("no_such_option"));
  dln_spec_free(&s);
}

/* A task type's defaults (dln_task_type.defaults; logistic: rows 1) apply where the user set
 * nothing, are undone when the task changes, and never override a value the user set. */
static void test_task_defaults(void **state) {
  (void)state;
  dln_spec s;
  char wb[128];
  assert_int_equal(dln_spec_default(&s), DLN_OK);
  assert_int_equal(s.data.rows, 5);
  assert_int_equal(dln_spec_set(&s, "task", "logistic"), DLN_OK);
  assert_int_equal(s.data.rows, 1);
  assert_int_equal(dln_spec_check(&s), DLN_OK);
  assert_string_equal(dln_spec_where(&s, "rows", wb, sizeof wb), "option --rows (default 1)");
  assert_int_equal(dln_spec_set(&s, "task", "factorization"), DLN_OK);
  assert_int_equal(s.data.rows, 5); /* undone */
  assert_int_equal(dln_spec_set(&s, "rows", "3"), DLN_OK);
  assert_int_equal(dln_spec_set(&s, "task", "logistic"), DLN_OK);
  assert_int_equal(s.data.rows, 3); /* the user's value stays, and the check refuses it */
  assert_int_equal(dln_spec_check(&s), DLN_EINVAL);
  assert_non_null(strstr(dln_last_error(), "option --rows: expected 1 (binary logistic"));
  dln_spec_free(&s);
}

static void test_setters(void **state) {
  (void)state;
  dln_spec s;
  assert_int_equal(dln_spec_default(&s), DLN_OK);
  assert_int_equal(dln_spec_set(&s, "widths", "10, 50 ,5"), DLN_OK);
  assert_int_equal(s.net.widths.n, 3);
  assert_int_equal(s.net.widths.v[1], 50);
  assert_int_equal(dln_spec_set(&s, "widths", "[4,6,3]"), DLN_OK);
  assert_int_equal(s.net.widths.n, 3);
  assert_int_equal(s.net.widths.v[2], 3);
  assert_int_equal(dln_spec_set(&s, "singular_values", "3,2.5,1e-1"), DLN_OK);
  assert_close(s.data.singular_values.v[2], 0.1, 0, 0);
  assert_int_equal(dln_spec_set(&s, "singular_values", ""), DLN_OK);
  assert_int_equal(s.data.singular_values.n, 0);
  assert_int_equal(dln_spec_set(&s, "plot", "false"), DLN_OK);
  assert_int_equal(s.plot, 0);
  assert_int_equal(dln_spec_set(&s, "plot", ""), DLN_OK); /* --plot alone */
  assert_int_equal(s.plot, 1);
  assert_int_equal(dln_spec_set(&s, "observe", "loss,sv"), DLN_OK);
  assert_int_equal(s.observe.n, 2);
  assert_int_equal(dln_spec_set(&s, "seed", "18446744073709551615"), DLN_OK);
  assert_true(s.seed == UINT64_MAX);
  assert_int_equal(dln_spec_set(&s, "method", "gd"), DLN_OK);
  assert_string_equal(s.method, "gd");
  assert_int_equal(dln_spec_set(&s, "max_steps", "123456789012"), DLN_OK);
  assert_true(s.train.max_steps == 123456789012L);

  /* bad values keep the old value and name the option */
  assert_int_equal(dln_spec_set(&s, "eta", "abc"), DLN_EINVAL);
  assert_contains(dln_last_error(), "option --eta: expected a number, found 'abc'");
  assert_close(s.train.eta, 1e-3, 0, 0);
  assert_int_equal(dln_spec_set(&s, "depth", "2.5"), DLN_EINVAL);
  assert_contains(dln_last_error(), "expected an integer");
  assert_int_equal(dln_spec_set(&s, "method", "newton"), DLN_EINVAL);
  assert_contains(dln_last_error(), "option --method: expected one of auto|gd|flow|cvode|gauss|rkc|dop853|e2e_gd|e2e_flow|e2e_dop853, found 'newton'");
  assert_int_equal(dln_spec_set(&s, "observe", "loss,bogus"), DLN_EINVAL);
  assert_int_equal(s.observe.n, 2);
  assert_int_equal(dln_spec_set(&s, "widths", "4,x,3"), DLN_EINVAL);
  assert_contains(dln_last_error(), "at item 2");
  assert_int_equal(dln_spec_set(&s, "seed", "-1"), DLN_EINVAL);
  assert_int_equal(dln_spec_set(&s, "quiet", "maybe"), DLN_EINVAL);
  assert_int_equal(dln_spec_set(&s, "etaa", "1"), DLN_ESPEC);
  assert_contains(dln_last_error(), "unknown option --etaa");

  /* copy and value text round trip */
  dln_spec c;
  assert_int_equal(dln_spec_copy(&c, &s), DLN_OK);
  char b1[256], b2[256];
  for (const dln_spec_option *o = dln_spec_options(); o->name; ++o)
    assert_string_equal(dln_spec_value_text(&s, o, b1, sizeof b1), dln_spec_value_text(&c, o, b2, sizeof b2));
  assert_ptr_not_equal(c.net.widths.v, s.net.widths.v);
  dln_spec_free(&c);
  dln_spec_free(&s);
}

static void test_json_ok(void **state) {
  (void)state;
  dln_spec s;
  assert_int_equal(dln_spec_default(&s), DLN_OK);
  const char *text =
      "{\n"
      "  \"task\": \"factorization\",\n"
      "  \"widths\": [4, 6, 3], \"rows\": 3, \"cols\": 4,\n"
      "  \"eta\": 1e-2, \"method\": \"gd\",\n"
      "  \"t_end\": 2,\n"
      "  \"plot\": false,\n"
      "  \"observe\": \"sv\",\n"
      "  \"init_files\": [\"a.npy\", \"b.npy\"],\n"
      "  \"seed\": 7\n"
      "}\n";
  assert_int_equal(dln_spec_from_json_string(&s, "s.json", text), DLN_OK);
  assert_int_equal(s.net.widths.n, 3);
  assert_close(s.train.eta, 1e-2, 0, 0);
  assert_close(s.train.t_end, 2, 0, 0); /* an integer is a number */
  assert_int_equal(s.plot, 0);
  assert_int_equal(s.observe.n, 1);
  assert_string_equal(s.observe.v[0], "sv");
  assert_int_equal(s.init_opts.init_files.n, 2);
  assert_true(s.seed == 7);
  assert_int_equal(dln_spec_check(&s), DLN_OK);
  char wb[256];
  assert_string_equal(dln_spec_where(&s, "t_end", wb, sizeof wb), "s.json:5:3: field \"t_end\"");
  assert_string_equal(dln_spec_where(&s, "eta", wb, sizeof wb), "s.json:4:3: field \"eta\"");
  /* a default the file left names itself and its value */
  assert_string_equal(dln_spec_where(&s, "rtol", wb, sizeof wb), "s.json: field \"rtol\" (not in the file: default 1e-08)");
  dln_spec_free(&s);
}

/* Parse text, expect `status` from the reader (or, if the reader succeeds, from check). */
static void expect_bad(const char *text, int status, const char *fragment) {
  dln_spec s;
  assert_int_equal(dln_spec_default(&s), DLN_OK);
  int st = dln_spec_from_json_string(&s, "spec.json", text);
  if (st == DLN_OK) st = dln_spec_check(&s);
  if (st != status) print_error("status %d, expected %d; message: %s\n", st, status, dln_last_error());
  assert_int_equal(st, status);
  assert_contains(dln_last_error(), fragment);
  assert_null(strchr(dln_last_error(), '\n')); /* one line */
  dln_spec_free(&s);
}

static void test_json_bad(void **state) {
  (void)state;
  /* unknown key on line 3 */
  expect_bad("{\n  \"task\": \"factorization\",\n    \"etaa\": 1\n}\n", DLN_ESPEC,
             "spec.json:3:5: unknown key \"etaa\"");
  /* wrong types, with the line and column of the key */
  expect_bad("{\n  \"depth\": \"two\"\n}", DLN_ESPEC, "spec.json:2:3: field \"depth\": expected an integer, found \"two\"");
  expect_bad("{\"rows\": 3,\n \"widths\": [4, 6.5, 3]}", DLN_ESPEC, "spec.json:2:2: field \"widths\": expected a list of integers");
  expect_bad("{\n\n  \"eta\" :\n \"fast\"}", DLN_ESPEC, "spec.json:3:3: field \"eta\": expected a number, found \"fast\"");
  expect_bad("{\"plot\": 1}", DLN_ESPEC, "spec.json:1:2: field \"plot\": expected true or false, found 1");
  expect_bad("{\"method\": \"newton\"}", DLN_ESPEC,
             "spec.json:1:2: field \"method\": expected one of auto|gd|flow|cvode|gauss|rkc|dop853|e2e_gd|e2e_flow|e2e_dop853, found 'newton'");
  /* a key that also appears as a string value earlier is located at the key */
  expect_bad("{\"out\": \"depth\",\n \"depth\": 1.5}", DLN_ESPEC, "spec.json:2:2: field \"depth\"");
  /* syntax errors from Jansson */
  expect_bad("{\n  \"depth\": 2,,\n}", DLN_ESPEC, "spec.json:2:");
  expect_bad("{\"depth\": 2", DLN_ESPEC, "spec.json:1:");
  expect_bad("[1, 2]", DLN_ESPEC, "expected a JSON object");
  expect_bad("{\"depth\": 2, \"depth\": 3}", DLN_ESPEC, "duplicate");
  /* values rejected by dln_spec_check, still with the key's position */
  expect_bad("{\n  \"task\": \"factorization\",\n  \"method\": \"gd\",\n  \"eta\": -1\n}", DLN_EINVAL,
             "spec.json:4:3: field \"eta\": expected a positive finite number, found -1");
  expect_bad("{\"method\": \"gd\", \"eta\": 0}", DLN_EINVAL, "field \"eta\": expected a positive finite number, found 0");
  expect_bad("{\n\"rtol\": 0}", DLN_EINVAL, "spec.json:2:1: field \"rtol\": expected a positive finite number, found 0");
  expect_bad("{\"atol\": -1e-9}", DLN_EINVAL, "field \"atol\"");
  expect_bad("{\"t_end\": 0}", DLN_EINVAL, "field \"t_end\"");
  expect_bad("{\"rows\": 3, \"cols\": 4,\n \"widths\": [4, 6, 5]}", DLN_EINVAL,
             "spec.json:2:2: field \"widths\": expected d_0 = cols = 4 and d_N = rows = 3");
  expect_bad("{\"depth\": 3, \"widths\": [10, 50, 5]}", DLN_EINVAL, "expected depth + 1 = 4 widths, found 3");
  expect_bad("{\"samples\": 1}", DLN_EINVAL, "field \"samples\": expected an integer >= 2, found 1");
  expect_bad("{\"erk_order\": 9}", DLN_EINVAL, "field \"erk_order\"");
  expect_bad("{\"init\": \"imbalanced\"}", DLN_EINVAL, "layer_scales");
  expect_bad("{\"tied\": true}", DLN_EINVAL, "field \"tied\"");
  expect_bad("{\"recon_threshold\": 1e-3, \"task\": \"sensing\"}", DLN_EINVAL, "field \"recon_threshold\"");
}

/* The integrator and end-to-end options: every method value, defaults, good and bad
 * values with messages naming the field, the expected and the found value. */
static void test_methods(void **state) {
  (void)state;
  dln_spec s;
  assert_int_equal(dln_spec_default(&s), DLN_OK);
  assert_int_equal(s.train.gauss_stages, 2);
  assert_close(s.train.gauss_h, 0, 0, 0);
  assert_int_equal(s.train.krylov_maxl, 30);
  assert_close(s.train.auto_stiff_ratio, 0.5, 0, 0);
  assert_int_equal(s.train.auto_window, 3);
  assert_true(s.train.auto_min_steps == 200);
  assert_close(s.e2e_balance_tol, 1e-10, 0, 0);
  static const char *const methods[] = {"gd", "flow", "cvode", "gauss", "auto", "rkc", "e2e_flow", "e2e_gd"};
  for (size_t i = 0; i < sizeof methods / sizeof *methods; ++i) {
    assert_int_equal(dln_spec_set(&s, "method", methods[i]), DLN_OK);
    assert_string_equal(s.method, methods[i]);
    assert_int_equal(dln_spec_check(&s), DLN_OK);
  }
  /* e2e_gd is a descent: it needs a positive step */
  assert_int_equal(dln_spec_set(&s, "eta", "0"), DLN_OK);
  assert_int_equal(dln_spec_check(&s), DLN_EINVAL);
  assert_string_equal(dln_last_error(), "option --eta: expected a positive finite number, found 0");
  assert_int_equal(dln_spec_set(&s, "eta", "0.01"), DLN_OK);
  /* good values */
  assert_int_equal(dln_spec_set(&s, "gauss_stages", "1"), DLN_OK);
  assert_int_equal(dln_spec_set(&s, "gauss_h", "0.01"), DLN_OK);
  assert_int_equal(dln_spec_set(&s, "krylov_maxl", "5"), DLN_OK);
  assert_int_equal(dln_spec_set(&s, "auto_stiff_ratio", "0.9"), DLN_OK);
  assert_int_equal(dln_spec_set(&s, "auto_window", "1"), DLN_OK);
  assert_int_equal(dln_spec_set(&s, "auto_min_steps", "10"), DLN_OK);
  assert_int_equal(dln_spec_set(&s, "e2e_balance_tol", "1e-6"), DLN_OK);
  assert_int_equal(dln_spec_check(&s), DLN_OK);
  /* parse errors */
  assert_int_equal(dln_spec_set(&s, "gauss_stages", "two"), DLN_EINVAL);
  assert_string_equal(dln_last_error(), "option --gauss_stages: expected an integer, found 'two'");
  assert_int_equal(dln_spec_set(&s, "gauss_h", "small"), DLN_EINVAL);
  assert_string_equal(dln_last_error(), "option --gauss_h: expected a number, found 'small'");
  dln_spec_free(&s);

  /* values rejected by dln_spec_check, from JSON with the key's position */
  expect_bad("{\"method\": \"gauss\",\n \"gauss_stages\": 3}", DLN_EINVAL,
             "spec.json:2:2: field \"gauss_stages\": expected 1 or 2 stages, found 3");
  expect_bad("{\"gauss_stages\": 0}", DLN_EINVAL, "field \"gauss_stages\": expected 1 or 2 stages, found 0");
  expect_bad("{\"gauss_h\": -0.1}", DLN_EINVAL, "field \"gauss_h\": expected a non-negative finite number, found -0.1");
  expect_bad("{\"krylov_maxl\": 0}", DLN_EINVAL, "field \"krylov_maxl\": expected a Krylov dimension from 1 to 1000, found 0");
  expect_bad("{\"krylov_maxl\": 1001}", DLN_EINVAL, "found 1001");
  expect_bad("{\"auto_stiff_ratio\": 0}", DLN_EINVAL, "field \"auto_stiff_ratio\": expected a positive finite number, found 0");
  expect_bad("{\"auto_window\": 0}", DLN_EINVAL, "field \"auto_window\": expected an integer >= 1, found 0");
  expect_bad("{\"auto_min_steps\": -5}", DLN_EINVAL, "field \"auto_min_steps\": expected an integer >= 1, found -5");
  expect_bad("{\"e2e_balance_tol\": -1e-3}", DLN_EINVAL,
             "field \"e2e_balance_tol\": expected a positive finite number, found -0.001");
  expect_bad("{\"erk_order\": 7}", DLN_EINVAL, "field \"erk_order\": expected an order of 2, 3, 4, 5, 6 or 8, found 7");
  expect_bad("{\"method\": \"e2e_gd\", \"eta\": -1}", DLN_EINVAL, "field \"eta\": expected a positive finite number, found -1");
  expect_bad("{\"method\": \"e2e_flow\", \"tied\": true, \"rows\": 4, \"cols\": 4}", DLN_EINVAL,
             "field \"method\": expected a layer-wise method with tied = true");
  /* wrong JSON types */
  expect_bad("{\"gauss_stages\": 1.5}", DLN_ESPEC, "spec.json:1:2: field \"gauss_stages\": expected an integer, found 1.5");
  expect_bad("{\"e2e_balance_tol\": \"tiny\"}", DLN_ESPEC, "field \"e2e_balance_tol\": expected a number, found \"tiny\"");
  expect_bad("{\"method\": \"e2e\"}", DLN_ESPEC, "expected one of auto|gd|flow|cvode|gauss|rkc|dop853|e2e_gd|e2e_flow|e2e_dop853, found 'e2e'");
}

static void test_check_cli_values(void **state) {
  (void)state;
  dln_spec s;
  assert_int_equal(dln_spec_default(&s), DLN_OK);
  assert_int_equal(dln_spec_set(&s, "method", "gd"), DLN_OK);
  assert_int_equal(dln_spec_set(&s, "eta", "nan"), DLN_OK); /* parses; check rejects */
  assert_int_equal(dln_spec_check(&s), DLN_EINVAL);
  assert_string_equal(dln_last_error(), "option --eta: expected a positive finite number, found nan");
  assert_int_equal(dln_spec_set(&s, "eta", "inf"), DLN_OK);
  assert_int_equal(dln_spec_check(&s), DLN_EINVAL);
  assert_int_equal(dln_spec_set(&s, "eta", "0.5"), DLN_OK);
  assert_int_equal(dln_spec_check(&s), DLN_OK);
  assert_int_equal(dln_spec_set(&s, "sigma", "-0.1"), DLN_OK);
  assert_int_equal(dln_spec_check(&s), DLN_EINVAL);
  assert_contains(dln_last_error(), "option --sigma");
  assert_int_equal(dln_spec_set(&s, "sigma", "0.1"), DLN_OK);
  assert_int_equal(dln_spec_set(&s, "grad_tol", "-1"), DLN_OK);
  assert_int_equal(dln_spec_check(&s), DLN_EINVAL);
  assert_contains(dln_last_error(), "grad_tol");
  dln_spec_free(&s);
}

static void test_json_file(void **state) {
  (void)state;
  dln_spec s;
  assert_int_equal(dln_spec_default(&s), DLN_OK);
  assert_int_equal(dln_spec_from_json_file(&s, "/nonexistent/dln/spec.json"), DLN_EIO);
  assert_contains(dln_last_error(), "/nonexistent/dln/spec.json: cannot open");
  const char *dir = tu_tmpdir(0);
  assert_non_null(dir);
  char path[256];
  snprintf(path, sizeof path, "%s/s.json", dir);
  FILE *fp = fopen(path, "w");
  assert_non_null(fp);
  fputs("{\n  \"depth\": 1,\n  \"bogus\": true\n}\n", fp);
  fclose(fp);
  assert_int_equal(dln_spec_from_json_file(&s, path), DLN_ESPEC);
  char want[320];
  snprintf(want, sizeof want, "%s:3:3: unknown key \"bogus\"", path);
  assert_contains(dln_last_error(), want);
  dln_spec_free(&s);
  tu_rmtree(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults),     cmocka_unit_test(test_task_defaults), cmocka_unit_test(test_setters),          cmocka_unit_test(test_json_ok),
      cmocka_unit_test(test_json_bad),     cmocka_unit_test(test_check_cli_values), cmocka_unit_test(test_json_file),
      cmocka_unit_test(test_methods),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
