/* Small private helpers shared by every layer (core/util.h). */
#include "core/util.h"

#include <stdlib.h>
#include <time.h>

double dln_now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void *dln_xcalloc(size_t n, size_t size) { return calloc(n ? n : 1, size); }
