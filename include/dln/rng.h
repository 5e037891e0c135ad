/* dln/rng.h — reproducible random streams (GSL's MT19937 generator).
 *
 * A stream is identified by (seed, stream), 128 bits: the generator's whole state is
 * initialized from the key (seed mod 2^32, seed / 2^32, stream mod 2^32, stream / 2^32)
 * by Matsumoto and Nishimura's init_by_array (mt19937ar.c), so distinct pairs give
 * distinct streams and run k of a sweep draws the same numbers however the sweep is
 * split over threads, array tasks or ranks. (Before version 0.2 the pair was folded into
 * GSL's 32-bit seed: 2^32 streams only, and other numbers for the same seed.) */
#ifndef DLN_RNG_H
#define DLN_RNG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dln_rng dln_rng;

/* A NULL stream: dln_rng_get32 and dln_rng_uniform_int return 0, dln_rng_uniform and
 * dln_rng_gaussian NaN, dln_rng_fill_gaussian fills x with NaN (message recorded). */
dln_rng *dln_rng_alloc(uint64_t seed, uint64_t stream);
/* A stream from an arbitrary key of len ≥ 1 32-bit words (init_by_array). */
dln_rng *dln_rng_alloc_key(const uint32_t *key, int len);
/* The generator's raw 32-bit output (MT19937's genrand_int32). */
uint32_t dln_rng_get32(dln_rng *r);
void dln_rng_free(dln_rng *r);
/* Uniform on [0, 1). */
double dln_rng_uniform(dln_rng *r);
/* Uniform integer in [0, n); 0 for n = 0. Any n (above 2^32 − 1 two draws are combined). */
unsigned long dln_rng_uniform_int(dln_rng *r, unsigned long n);
/* N(0, sigma^2). */
double dln_rng_gaussian(dln_rng *r, double sigma);
/* Fill x[0..n) with N(0, sigma^2) draws. */
void dln_rng_fill_gaussian(dln_rng *r, double *x, size_t n, double sigma);
/* The generator's whole state as DLN_RNG_STATE_WORDS 32-bit words (MT19937's 624 words
 * and its position), to save a stream mid-run (a checkpoint) and continue it bit for bit.
 * n must be DLN_RNG_STATE_WORDS; set refuses a position outside [0, 624]. */
#define DLN_RNG_STATE_WORDS 625
int dln_rng_state_get(const dln_rng *r, uint32_t *words, size_t n);
int dln_rng_state_set(dln_rng *r, const uint32_t *words, size_t n);
/* rows x cols matrix with orthonormal columns (rows >= cols) or rows (rows < cols),
 * Haar-distributed: QR of a Gaussian matrix with the sign of R's diagonal fixed. */
int dln_rng_orthogonal(dln_rng *r, int rows, int cols, double *q);

#ifdef __cplusplus
}
#endif
#endif
