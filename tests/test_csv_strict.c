/* dln_csv_read on the inputs of issue 11: a UTF-8 BOM, quoted fields, tabs, CRLF and a
 * header are read to the exact values (compared with the literals written); a first line
 * that is not all names ("1d0", numbers mixed with text) is refused with line:column; and
 * dln_input_open refuses a FIFO and a folder at once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "dln/error.h"
#include "dln/io.h"
#include "testutil.h"

static const char *tmp;

/* text -> t.csv -> matrix: expect rows x cols equal to want (row-major literals). */
static void expect_matrix(const char *text, int rows, int cols, const double *want) {
  const char *p = tu_path(tmp, "t.csv");
  tu_write_text(p, text);
  dln_mat *m = NULL;
  int st = dln_csv_read(p, &m);
  if (st) print_error("%s\n", dln_last_error());
  assert_int_equal(st, DLN_OK);
  assert_int_equal(m->rows, rows);
  assert_int_equal(m->cols, cols);
  for (int i = 0; i < rows; ++i)
    for (int j = 0; j < cols; ++j) assert_true(m->data[i + (size_t)j * rows] == want[i * cols + j]);
  dln_mat_free(m);
}

static void expect_refused(const char *text, const char *fragment) {
  const char *p = tu_path(tmp, "t.csv");
  tu_write_text(p, text);
  dln_mat *m = NULL;
  assert_int_equal(dln_csv_read(p, &m), DLN_EFORMAT);
  assert_null(m);
  if (!strstr(dln_last_error(), fragment)) print_error("'%s' lacks '%s'\n", dln_last_error(), fragment);
  assert_non_null(strstr(dln_last_error(), fragment));
}

static void test_accepted(void **state) {
  (void)state;
  const double a[] = {1, 2, 3, 4, 5, 6, 7, 8.5, -9e-3};
  expect_matrix("1,2,3\n4,5,6\n7,8.5,-9e-3\n", 3, 3, a);
  expect_matrix("\xEF\xBB\xBF" "1,2,3\n4,5,6\n7,8.5,-9e-3\n", 3, 3, a);
  expect_matrix("\"1\",\"2\",\"3\"\n4, \"5\" ,6\n7,8.5,-9e-3\n", 3, 3, a);
  expect_matrix("1\t2\t3\n4\t5\t6\n7\t8.5\t-9e-3\n", 3, 3, a);
  expect_matrix("x,y,\"z\"\r\n1,2,3\r\n# c\r\n\r\n4,5,6\r\n7,8.5,-9e-3\r\n", 3, 3, a);
  expect_matrix("\xEF\xBB\xBF" "a\tb\tc\n1\t2\t3\n4\t5\t6\n7\t8.5\t-9e-3\n", 3, 3, a);
  const double col[] = {2, 3};
  expect_matrix("loss\n2\n3\n", 2, 1, col);
}

static void test_refused(void **state) {
  (void)state;
  expect_refused("1d0,2,3\n4,5,6\n", "t.csv:1:1: expected a number, found '1d0'");
  expect_refused("1d0\n2\n3\n", "t.csv:1:1: expected a number, found '1d0'");
  expect_refused("a,2,c\n4,5,6\n", "t.csv:1:1: expected a number, found 'a'");
  expect_refused("1,2\n3,x\n", "t.csv:2:2: expected a number, found 'x'");
  expect_refused("-x,y\n1,2\n", "t.csv:1:1: expected a number, found '-x'");
  expect_refused("a,b\n", "expected at least one row of numbers, found none");
}

static void test_not_regular(void **state) {
  (void)state;
  const char *fifo = tu_path(tmp, "p.csv");
  assert_int_equal(mkfifo(fifo, 0644), 0); /* no writer: a blocking open would hang here */
  FILE *fp = NULL;
  assert_int_equal(dln_input_open(fifo, &fp), DLN_EIO);
  assert_null(fp);
  assert_non_null(strstr(dln_last_error(), "p.csv: expected a regular file, found a named pipe"));
  dln_mat *m = NULL;
  assert_int_equal(dln_csv_read(fifo, &m), DLN_EIO);
  assert_int_equal(dln_npy_read(fifo, &m), DLN_EIO);
  assert_int_equal(dln_input_open(tmp, &fp), DLN_EIO);
  assert_non_null(strstr(dln_last_error(), "expected a regular file, found a folder"));
  assert_int_equal(dln_input_open("/dev/null", &fp), DLN_EIO);
  assert_non_null(strstr(dln_last_error(), "found a device"));
  tu_write_text(tu_path(tmp, "ok.csv"), "1\n");
  assert_int_equal(dln_input_open(tu_path(tmp, "ok.csv"), &fp), DLN_OK);
  assert_int_equal(fgetc(fp), '1'); /* blocking reads work after O_NONBLOCK is cleared */
  fclose(fp);
}

int main(void) {
  tmp = tu_tmpdir(0);
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_accepted), cmocka_unit_test(test_refused),
                                     cmocka_unit_test(test_not_regular)};
  int r = cmocka_run_group_tests(tests, NULL, NULL);
  tu_rmtree(tmp);
  return r;
}
