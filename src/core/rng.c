/* Reproducible random streams over GSL's MT19937 (dln/rng.h). */
#include "dln/rng.h"

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <lapacke.h>
#include <stdlib.h>
#include <string.h>

#include "dln/error.h"

struct dln_rng {
  gsl_rng *g;
};

/* SplitMix64 finalizer (Steele, Lea, Flood 2014): decorrelates (seed, stream). */
static uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

dln_rng *dln_rng_alloc(uint64_t seed, uint64_t stream) {
  dln_rng *r = malloc(sizeof *r);
  if (!r) {
    dln_error(DLN_ENOMEM, "out of memory allocating a random stream");
    return NULL;
  }
  r->g = gsl_rng_alloc(gsl_rng_mt19937);
  if (!r->g) {
    free(r);
    dln_error(DLN_ENOMEM, "out of memory allocating a random stream");
    return NULL;
  }
  uint64_t s = splitmix64(splitmix64(seed) ^ splitmix64(stream + 0x5851F42D4C957F2Dull));
  gsl_rng_set(r->g, (unsigned long)(s & 0xFFFFFFFFull) ^ (unsigned long)(s >> 32));
  return r;
}

void dln_rng_free(dln_rng *r) {
  if (!r) return;
  gsl_rng_free(r->g);
  free(r);
}

double dln_rng_uniform(dln_rng *r) { return gsl_rng_uniform(r->g); }
unsigned long dln_rng_uniform_int(dln_rng *r, unsigned long n) {
  /* gsl_rng_uniform_int refuses n = 0 and n above the generator's range (2^32 − 1 for
   * MT19937) through GSL's error handler, which aborts by default: handle both here. */
  if (n <= 1) return 0;
  if (n <= gsl_rng_max(r->g) - gsl_rng_min(r->g)) return gsl_rng_uniform_int(r->g, n);
  /* n ≥ 2^32 (64-bit unsigned long): 64 random bits from two draws, rejection sampling
   * on the largest multiple of n so that every value in [0, n) is equally likely */
  const uint64_t nn = (uint64_t)n, limit = UINT64_MAX - UINT64_MAX % nn;
  for (;;) {
    uint64_t x = ((uint64_t)gsl_rng_get(r->g) << 32) | ((uint64_t)gsl_rng_get(r->g) & 0xFFFFFFFFull);
    if (x < limit) return (unsigned long)(x % nn);
  }
}
double dln_rng_gaussian(dln_rng *r, double sigma) { return gsl_ran_gaussian_ziggurat(r->g, sigma); }

void dln_rng_fill_gaussian(dln_rng *r, double *x, size_t n, double sigma) {
  for (size_t i = 0; i < n; ++i) x[i] = gsl_ran_gaussian_ziggurat(r->g, sigma);
}

int dln_rng_orthogonal(dln_rng *r, int rows, int cols, double *q) {
  int tall = rows >= cols;
  int m = tall ? rows : cols, n = tall ? cols : rows; /* factor an m x n (m >= n) matrix */
  size_t mn = (size_t)m * (size_t)n;
  int status = DLN_OK;
  double *a = malloc((mn ? mn : 1) * sizeof(double));
  double *tau = malloc((size_t)(n ? 2 * n : 1) * sizeof(double)); /* tau, then signs of diag(R) */
  if (!a || !tau) {
    status = dln_error(DLN_ENOMEM, "out of memory in random orthogonal %dx%d", rows, cols);
    goto done;
  }
  if (n == 0) goto done;
  dln_rng_fill_gaussian(r, a, mn, 1.0);
  int info = LAPACKE_dgeqrf(LAPACK_COL_MAJOR, m, n, a, m, tau);
  if (info) {
    status = dln_error(DLN_ELAPACK, "dgeqrf returned info=%d", info);
    goto done;
  }
  double *sgn = tau + n;
  for (int i = 0; i < n; ++i) sgn[i] = a[i + (size_t)i * m] < 0 ? -1.0 : 1.0;
  info = LAPACKE_dorgqr(LAPACK_COL_MAJOR, m, n, n, a, m, tau);
  if (info) {
    status = dln_error(DLN_ELAPACK, "dorgqr returned info=%d", info);
    goto done;
  }
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < m; ++i) a[i + (size_t)j * m] *= sgn[j];
  if (tall) {
    memcpy(q, a, mn * sizeof(double));
  } else { /* q = a^T: rows x cols with orthonormal rows */
    for (int j = 0; j < n; ++j)
      for (int i = 0; i < m; ++i) q[j + (size_t)i * rows] = a[i + (size_t)j * m];
  }
done:
  free(a);
  free(tau);
  return status;
}
