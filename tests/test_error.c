/* Errors (dln/error.h, src/core/error.c): the thread-local last-error message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dln/error.h"
#include "testutil.h"

/* src/core/error.c: a message that quotes the previous one (dln_error(st, "...: %s",
 * dln_last_error()), as src/dynamics/gauss.c does) was formatted by vsnprintf into the
 * very buffer it was reading (overlapping source and destination: undefined behaviour,
 * in practice a garbled message). */
static void test_error_quotes_previous_message(void **state) {
  (void)state;
  assert_int_equal(dln_error(DLN_EDIM, "inner: expected %d, found %d", 3, 4), DLN_EDIM);
  assert_int_equal(dln_error(DLN_ESOLVER, "outer failed: %s", dln_last_error()), DLN_ESOLVER);
  assert_string_equal(dln_last_error(), "outer failed: inner: expected 3, found 4");
  /* and a long quoted message is truncated, not overrun */
  char big[1500];
  memset(big, 'x', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  dln_error(DLN_EINVAL, "%s", big);
  dln_error(DLN_EINVAL, "again: %s", dln_last_error());
  assert_int_equal(strncmp(dln_last_error(), "again: xxxx", 11), 0);
  assert_true(strlen(dln_last_error()) < 1024);
  dln_error_clear();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_error_quotes_previous_message),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
