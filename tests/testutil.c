/* Shared test helpers (testutil.h). */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tu_close(double a, double b, double rtol, double atol) {
  if (isnan(a) || isnan(b)) return 0;
  return fabs(a - b) <= atol + rtol * fabs(b);
}

void tu_assert_close(double a, double b, double rtol, double atol, const char *expr, const char *file, int line) {
  if (!tu_close(a, b, rtol, atol)) {
    print_error("%s = %.17g, expected %.17g (rtol %g, atol %g), |diff| = %g\n", expr, a, b, rtol, atol, fabs(a - b));
    _fail(file, line);
  }
}

double tu_maxdiff(size_t n, const double *a, const double *b) {
  double m = 0;
  for (size_t i = 0; i < n; ++i) {
    double d = fabs(a[i] - b[i]);
    if (isnan(d)) return NAN;
    if (d > m) m = d;
  }
  return m;
}

double tu_diffnorm(size_t n, const double *a, const double *b) {
  double s = 0;
  for (size_t i = 0; i < n; ++i) s += (a[i] - b[i]) * (a[i] - b[i]);
  return sqrt(s);
}

#include <unistd.h>
const char *tu_tmpdir(int index) {
  static char dirs[4][64];
  index &= 3;
  snprintf(dirs[index], sizeof dirs[index], "/tmp/dln-test-XXXXXX");
  if (!mkdtemp(dirs[index])) return NULL;
  return dirs[index];
}

void tu_rmtree(const char *path) {
  char cmd[512];
  if (!path || strncmp(path, "/tmp/", 5) != 0) return;
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", path);
}
