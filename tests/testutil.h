/* Shared test helpers: tolerance asserts that treat NaN as failure, temp folders. */
#ifndef DLN_TESTUTIL_H
#define DLN_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

/* |a − b| ≤ atol + rtol·|b|, false for NaN. */
int tu_close(double a, double b, double rtol, double atol);
/* Fails the test with a message showing both values and the tolerance. */
#define assert_close(a, b, rtol, atol) tu_assert_close((a), (b), (rtol), (atol), #a, __FILE__, __LINE__)
void tu_assert_close(double a, double b, double rtol, double atol, const char *expr, const char *file, int line);
/* Max-abs difference of two arrays (NaN if any NaN). */
double tu_maxdiff(size_t n, const double *a, const double *b);
/* Frobenius norm of a − b. */
double tu_diffnorm(size_t n, const double *a, const double *b);
/* Fresh temporary folder (static buffer reused per call of the same index 0..3). */
const char *tu_tmpdir(int index);
/* Remove a folder tree (rm -rf). */
void tu_rmtree(const char *path);

#endif
