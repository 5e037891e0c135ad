/* dln/rng.h — reproducible random streams (GSL's MT19937 generator).
 *
 * A stream is identified by (seed, stream): the pair is mixed by SplitMix64 into
 * the generator's seed, so run k of a sweep draws the same numbers however the
 * sweep is split over threads, array tasks or ranks. */
#ifndef DLN_RNG_H
#define DLN_RNG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dln_rng dln_rng;

dln_rng *dln_rng_alloc(uint64_t seed, uint64_t stream);
void dln_rng_free(dln_rng *r);
/* Uniform on [0, 1). */
double dln_rng_uniform(dln_rng *r);
/* Uniform integer in [0, n); 0 for n = 0. Any n (above 2^32 − 1 two draws are combined). */
unsigned long dln_rng_uniform_int(dln_rng *r, unsigned long n);
/* N(0, sigma^2). */
double dln_rng_gaussian(dln_rng *r, double sigma);
/* Fill x[0..n) with N(0, sigma^2) draws. */
void dln_rng_fill_gaussian(dln_rng *r, double *x, size_t n, double sigma);
/* rows x cols matrix with orthonormal columns (rows >= cols) or rows (rows < cols),
 * Haar-distributed: QR of a Gaussian matrix with the sign of R's diagonal fixed. */
int dln_rng_orthogonal(dln_rng *r, int rows, int cols, double *q);

#ifdef __cplusplus
}
#endif
#endif
