/* One run of the pipeline through the library (dln/run.h, src/run/run.c): cancellation
 * polled up to the last output, so a cancelled run never leaves a complete-looking folder
 * (its summary.json says "complete": false). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "dln/dln.h"
#include "testutil.h"

/* ------------------------------------------------------------------ cancellation just before the summary */

static int cancel_on_call(void *ctx) {
  int *calls = ctx;
  return ++calls[0] >= calls[1];
}

/* A SIGINT that arrives while the outputs are written (after the post-training poll):
 * dln_run polls again before summary.json, so the folder never looks complete (the
 * summary is the incomplete one of an interrupted run) and the
 * result says cancelled (before, summary.json was written and the CLI then claimed
 * "no summary.json" with exit 130). */
static void test_run_cancel_before_summary(void **state) {
  (void)state;
  const char *d = tu_tmpdir(0);
  dln_spec s;
  assert_int_equal(dln_spec_default(&s), DLN_OK);
  assert_int_equal(dln_spec_set(&s, "out", d), DLN_OK);
  assert_int_equal(dln_spec_set(&s, "rows", "2"), DLN_OK);
  assert_int_equal(dln_spec_set(&s, "cols", "3"), DLN_OK);
  assert_int_equal(dln_spec_set(&s, "width", "4"), DLN_OK);
  assert_int_equal(dln_spec_set(&s, "t_end", "0.5"), DLN_OK);
  assert_int_equal(dln_spec_set(&s, "samples", "3"), DLN_OK);
  assert_int_equal(dln_spec_set(&s, "plot", "false"), DLN_OK);
  int calls[2] = {0, 2}; /* the first poll (after training) says no, the next says yes */
  dln_run_options ro = {NULL, calls, NULL, cancel_on_call, NULL, NULL};
  dln_run_result res;
  assert_int_equal(dln_run(&s, &ro, &res), DLN_OK);
  assert_int_equal(res.train.stop_reason, DLN_STOP_CANCELLED);
  assert_true(calls[0] >= 2);
  struct stat sb;
  char *sum = tu_slurp(tu_path(d, "summary.json")); /* the interrupted run's: incomplete */
  assert_non_null(sum);
  assert_non_null(strstr(sum, "\"complete\": false"));
  assert_non_null(strstr(sum, "\"stop_reason\": \"interrupted\""));
  free(sum);
  /* control: never cancelled, the summary is written (over the partial outputs: force) */
  char *man = tu_slurp(tu_path(d, "manifest.json"));
  assert_non_null(man);
  assert_non_null(strstr(man, "\"complete\": false"));
  free(man);
  calls[0] = 0, calls[1] = 1000;
  assert_int_equal(dln_spec_set(&s, "force", "true"), DLN_OK);
  assert_int_equal(dln_run(&s, &ro, &res), DLN_OK);
  assert_int_equal(res.train.stop_reason, DLN_STOP_TIME);
  assert_int_equal(stat(tu_path(d, "summary.json"), &sb), 0);
  dln_spec_free(&s);
  tu_rmtree(d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_run_cancel_before_summary),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
