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

/* bench/bench_copy.c (AMD EPYC Zen 3, glibc 2.36, Debian 12), 750 doubles 16 KB + off
 * apart: memcpy 72 ns, but 258 ns at off = 8, 16, 24 bytes (2.1 µs in a first test with
 * the source 64-byte aligned); this loop 66–87 ns at every offset. Compiled for AVX2 and
 * the baseline (function multiversioning, as dynamics/nvec_fast.c); a copy does not
 * round, so both clones give the same bits. */
#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
/* (and not turned back into a memcpy call by GCC's loop-pattern recognition) */
__attribute__((target_clones("avx2", "default"), optimize("no-tree-loop-distribute-patterns")))
#endif
void dln_copy(size_t n, const double *restrict x, double *restrict y) {
  for (size_t i = 0; i < n; ++i) y[i] = x[i];
}
