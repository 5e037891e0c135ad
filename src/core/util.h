/* core/util.h — small private helpers shared by every layer (not installed).
 *
 * One copy of each: the monotonic wall clock, a calloc that never asks for zero bytes,
 * and the xorshift64* step (Vigna 2016) behind the deterministic start vectors of the
 * power iteration (dynamics/rkc.c) and of Lanczos (theory/landscape.c). Random draws
 * with statistical meaning come from dln_rng (dln/rng.h), never from this. */
#ifndef DLN_CORE_UTIL_H
#define DLN_CORE_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* CLOCK_MONOTONIC, in seconds. */
double dln_now_seconds(void);

/* calloc(n ? n : 1, size): a zero-length request still returns a unique pointer, so a
 * NULL result always means out of memory. */
void *dln_xcalloc(size_t n, size_t size);
/* dln_xcalloc(n, sizeof(double)): n zeroed doubles. */
static inline double *dln_dalloc(size_t n) { return (double *)dln_xcalloc(n, sizeof(double)); }

/* One xorshift64* step: advances *s (nonzero) and returns the scrambled output. */
static inline uint64_t dln_xorshift64s_next(uint64_t *s) {
  uint64_t x = *s;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *s = x;
  return x * 0x2545F4914F6CDD1DULL;
}

#endif
