/* bench_copy: glibc's memcpy against dln_copy (src/core/util.h) for the per-step copies
 * of state vectors, over the distance dst − src of the two buffers (16 KB plus an offset:
 * the offsets below 32 bytes are where glibc's `rep movsb` path meets 4K aliasing).
 *
 *   bench_copy [n=750] [reps=200000]
 *
 * One line per source alignment (0 or 8 bytes past a 64-byte boundary) and offset:
 * ns per copy, best of 3 timed loops of reps copies each. Measured here (AMD EPYC Zen 3,
 * glibc 2.36), n = 750: memcpy 1.4–2.1 µs at offsets 8, 16, 24, ~75 ns elsewhere;
 * dln_copy ~70 ns at every offset. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "benchutil.h"
#include "core/util.h"

int main(int argc, char **argv) {
  bu_set_program("bench_copy");
  size_t n = argc > 1 ? (size_t)atol(argv[1]) : 750;
  long reps = argc > 2 ? atol(argv[2]) : 200000;
  if (n < 1 || reps < 1) bu_fail("expected n >= 1 and reps >= 1");
  double *buf = aligned_alloc(64, (n + 4096) * sizeof(double));
  if (!buf) bu_fail("out of memory");
  if (n > 1024) bu_fail("expected n <= 1024 (the buffers are 16 KB apart)");
  for (size_t i = 0; i < n + 4096; ++i) buf[i] = (double)i;
  printf("bench_copy: %zu doubles, %ld copies per timing, best of 3\n", n, reps);
  printf("%8s %8s %12s %12s\n", "src mod", "dst-src", "memcpy ns", "dln_copy ns");
  const size_t offs[] = {0, 8, 16, 24, 32, 40, 64, 256, 1024, 2048};
  for (size_t so = 0; so <= 8; so += 8)
    for (size_t o = 0; o < sizeof offs / sizeof *offs; ++o) {
      size_t off = offs[o];
      const double *src = buf + so / 8;
      double *dst = buf + so / 8 + 2048 + off / 8; /* 16 KB + off bytes */
      double best[2] = {1e30, 1e30};
      for (int r = 0; r < 3; ++r)
        for (int k = 0; k < 2; ++k) {
          double t0 = bu_now();
          for (long i = 0; i < reps; ++i) {
            if (k) dln_copy(n, src, dst);
            else memcpy(dst, src, n * sizeof(double));
            __asm__ volatile("" ::"r"(dst) : "memory");
          }
          double t = (bu_now() - t0) / (double)reps * 1e9;
          best[k] = t < best[k] ? t : best[k];
        }
      printf("%8zu %8zu %12.0f %12.0f\n", so, (size_t)(dst - src) * 8, best[0], best[1]);
    }
  free(buf);
  return 0;
}
