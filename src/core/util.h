/* core/util.h — small private helpers shared by every layer (not installed).
 *
 * One copy of each: the monotonic wall clock, a calloc that never asks for zero bytes,
 * a copy of doubles that avoids a slow memcpy path, and the xorshift64* step (Vigna
 * 2016) behind the deterministic start vectors of the power iteration (dynamics/rkc.c) and of Lanczos (theory/landscape.c). Random draws
 * with statistical meaning come from dln_rng (dln/rng.h), never from this. */
#ifndef DLN_CORE_UTIL_H
#define DLN_CORE_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "dln/error.h"

/* A function compiled for AVX2 and for the baseline, chosen at load time (GCC function
 * multiversioning). Without FMA contraction (-std=c17 implies -ffp-contract=off) both
 * clones round identically, so results do not depend on the processor. */
#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
#define DLN_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define DLN_CLONES
#endif

/* CLOCK_MONOTONIC, in seconds. */
double dln_now_seconds(void);

/* calloc(n ? n : 1, size): a zero-length request still returns a unique pointer, so a
 * NULL result always means out of memory. */
void *dln_xcalloc(size_t n, size_t size);
/* dln_xcalloc(n, sizeof(double)): n zeroed doubles. */
static inline double *dln_dalloc(size_t n) { return (double *)dln_xcalloc(n, sizeof(double)); }

/* y[0..n) = x[0..n) (no overlap), by a vectorized loop instead of memcpy: glibc 2.36's
 * memcpy copies a few KB with `rep movsb`, which on this AMD Zen 3 runs 3.5–28x slower
 * when dst − src is 8, 16 or 24 bytes past a multiple of 4 KB (4K aliasing; 750 doubles:
 * 0.26–2.1 µs against 72 ns; bench/bench_copy.c). Used for the step loops' state copies. */
void dln_copy(size_t n, const double *x, double *y);

/* One xorshift64* step: advances *s (nonzero) and returns the scrambled output. */
static inline uint64_t dln_xorshift64s_next(uint64_t *s) {
  uint64_t x = *s;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *s = x;
  return x * 0x2545F4914F6CDD1DULL;
}

/* Argument checks at a public entry point (once per call, never in loops):
 *   DLN_ARGS(net, theta)   returns DLN_EINVAL, "fn: theta: expected a pointer, found NULL"
 *   DLN_ARGS_P(...)        the same, returning NULL (pointer-returning functions)
 *   DLN_ARGS_V(value, ...) the same, returning value (e.g. NAN, −1)
 *   DLN_INDEX(j, lo, hi)   returns DLN_EINVAL unless lo ≤ j ≤ hi, naming the index */
int dln_args_first_null(const void *const *ptrs, int n);
int dln_args_error(const char *fn, const char *names, int k);
#define DLN_ARGS_V(value, ...)                                                        \
  do {                                                                                \
    const void *const dln_a_[] = {__VA_ARGS__};                                       \
    int dln_k_ = dln_args_first_null(dln_a_, (int)(sizeof dln_a_ / sizeof *dln_a_)); \
    if (dln_k_ >= 0) return (dln_args_error(__func__, #__VA_ARGS__, dln_k_), (value)); \
  } while (0)
#define DLN_ARGS(...) DLN_ARGS_V(DLN_EINVAL, __VA_ARGS__)
#define DLN_ARGS_P(...) DLN_ARGS_V(NULL, __VA_ARGS__)
#define DLN_INDEX_V(value, j, lo, hi)                                                                      \
  do {                                                                                                    \
    if ((j) < (lo) || (j) > (hi))                                                                         \
      return (dln_error(DLN_EINVAL, "%s: %s: expected %ld..%ld, found %ld", __func__, #j, (long)(lo), (long)(hi), \
                        (long)(j)),                                                                       \
              (value));                                                                                   \
  } while (0)
#define DLN_INDEX(j, lo, hi) DLN_INDEX_V(DLN_EINVAL, j, lo, hi)

#endif
