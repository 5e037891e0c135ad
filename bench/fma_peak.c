/* fma_peak — one core's double-precision FMA peak (bench/scale.sh).
 *
 * Twelve independent chains a_i ← a_i·b + c of vector FMAs (enough to cover the FMA
 * latency on both pipes of current x86 cores), 2 flops per lane: 8 per AVX2 FMA,
 * 16 per AVX-512 FMA (run only when the CPU has avx512f). A short timed block is
 * repeated many times and the best block counts, so a moment on a shared core does
 * not lower the figure; the median block is printed too.
 * stdout: {"avx2_fma_gflops": {"best": .., "median": ..}, "avx512_fma_gflops": .. | null} */
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BLOCKS 301
#define ITERS 200000L

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static volatile double sink;

#define CHAINS(T, FMA, SET, ADD, LANES)                                                                          \
  T b = SET(1.0000001), c = SET(1e-9);                                                                          \
  T a0 = SET(0), a1 = SET(1), a2 = SET(2), a3 = SET(3), a4 = SET(4), a5 = SET(5), a6 = SET(6), a7 = SET(7),     \
    a8 = SET(8), a9 = SET(9), a10 = SET(10), a11 = SET(11);                                                     \
  for (int r = 0; r < BLOCKS; ++r) {                                                                            \
    double t0 = now();                                                                                          \
    for (long k = 0; k < ITERS; ++k) {                                                                          \
      a0 = FMA(a0, b, c); a1 = FMA(a1, b, c); a2 = FMA(a2, b, c); a3 = FMA(a3, b, c);                           \
      a4 = FMA(a4, b, c); a5 = FMA(a5, b, c); a6 = FMA(a6, b, c); a7 = FMA(a7, b, c);                           \
      a8 = FMA(a8, b, c); a9 = FMA(a9, b, c); a10 = FMA(a10, b, c); a11 = FMA(a11, b, c);                       \
      __asm__ volatile("" : "+x"(a0), "+x"(a1), "+x"(a2), "+x"(a3), "+x"(a4), "+x"(a5), "+x"(a6), "+x"(a7),     \
                       "+x"(a8), "+x"(a9), "+x"(a10), "+x"(a11));                                               \
    }                                                                                                           \
    rate[r] = (double)ITERS * 12.0 * 2.0 * (LANES) / (now() - t0) / 1e9;                                        \
  }                                                                                                             \
  T s = ADD(ADD(ADD(a0, a1), ADD(a2, a3)), ADD(ADD(a4, a5), ADD(a6, a7)));                                      \
  s = ADD(s, ADD(ADD(a8, a9), ADD(a10, a11)));                                                                  \
  double out[LANES];                                                                                            \
  memcpy(out, &s, sizeof out);                                                                                  \
  sink = out[0];

__attribute__((target("avx2,fma"))) static void run_avx2(double *rate) {
  CHAINS(__m256d, _mm256_fmadd_pd, _mm256_set1_pd, _mm256_add_pd, 4)
}

__attribute__((target("avx512f"))) static void run_avx512(double *rate) {
  CHAINS(__m512d, _mm512_fmadd_pd, _mm512_set1_pd, _mm512_add_pd, 8)
}

static void report(const char *key, double *rate) {
  qsort(rate, BLOCKS, sizeof(double), cmp_d);
  printf("\"%s\": {\"best\": %.2f, \"median\": %.2f}", key, rate[BLOCKS - 1], rate[BLOCKS / 2]);
}

int main(void) {
  static double rate[BLOCKS];
  __builtin_cpu_init();
  printf("{");
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    run_avx2(rate);
    report("avx2_fma_gflops", rate);
  } else {
    printf("\"avx2_fma_gflops\": null");
  }
  printf(", ");
  if (__builtin_cpu_supports("avx512f")) {
    run_avx512(rate);
    report("avx512_fma_gflops", rate);
  } else {
    printf("\"avx512_fma_gflops\": null");
  }
  printf("}\n");
  return 0;
}
