/* Reproducible random streams over GSL's MT19937 (dln/rng.h). */
#include "dln/rng.h"

#include <gsl/gsl_errno.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <lapacke.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "dln/error.h"

struct dln_rng {
  gsl_rng *g;
};

/* GSL's MT19937 state (gsl/rng/mt.c): the 624-word array and the position. GSL's
 * gsl_rng_set takes one 32-bit seed, which would give only 2^32 distinct streams (two
 * of 10^4 sweep runs identical with probability ~1e-2); dln initializes the whole
 * state from the 128-bit key (seed, stream) instead, by Matsumoto and Nishimura's
 * init_by_array (mt19937ar.c, 2002), checked against their published outputs
 * (tests/test_rng.c). The layout is verified by size before it is written. */
typedef struct {
  unsigned long mt[624];
  int mti;
} mt_state;

static int mt_init_by_array(gsl_rng *g, const uint32_t *key, int len) {
  enum { N = 624 };
  if (gsl_rng_size(g) != sizeof(mt_state)) return -1;
  mt_state *st = gsl_rng_state(g);
  unsigned long *mt = st->mt;
  mt[0] = 19650218UL; /* init_genrand(19650218) */
  for (int i = 1; i < N; ++i) mt[i] = (1812433253UL * (mt[i - 1] ^ (mt[i - 1] >> 30)) + (unsigned long)i) & 0xffffffffUL;
  int i = 1, j = 0;
  for (int k = N > len ? N : len; k; --k) {
    mt[i] = ((mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >> 30)) * 1664525UL)) + key[j] + (unsigned long)j) & 0xffffffffUL;
    if (++i >= N) {
      mt[0] = mt[N - 1];
      i = 1;
    }
    if (++j >= len) j = 0;
  }
  for (int k = N - 1; k; --k) {
    mt[i] = ((mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >> 30)) * 1566083941UL)) - (unsigned long)i) & 0xffffffffUL;
    if (++i >= N) {
      mt[0] = mt[N - 1];
      i = 1;
    }
  }
  mt[0] = 0x80000000UL; /* the most significant bit is 1: a non-zero initial array */
  st->mti = N;           /* the next draw regenerates the array, as after gsl_rng_set */
  return 0;
}

dln_rng *dln_rng_alloc_key(const uint32_t *key, int len) {
  if (len < 1) return (dln_error(DLN_EINVAL, "random stream key: expected at least one 32-bit word, found %d", len), NULL);
  DLN_ARGS_P(key);
  dln_rng *r = malloc(sizeof *r);
  if (!r) {
    dln_error(DLN_ENOMEM, "out of memory allocating a random stream");
    return NULL;
  }
  gsl_error_handler_t *old = gsl_set_error_handler_off(); /* gsl_rng_alloc reports OOM by its handler */
  r->g = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_set_error_handler(old);
  if (!r->g) {
    free(r);
    dln_error(DLN_ENOMEM, "out of memory allocating a random stream");
    return NULL;
  }
  if (len < 1 || mt_init_by_array(r->g, key, len)) {
    if (len < 1)
      dln_error(DLN_EINVAL, "random stream key: expected at least one 32-bit word, found %d", len);
    else
      dln_error(DLN_EINVAL, "GSL's MT19937 state has %zu bytes, expected %zu: cannot seed it by array",
                gsl_rng_size(r->g), sizeof(mt_state));
    gsl_rng_free(r->g);
    free(r);
    return NULL;
  }
  return r;
}

dln_rng *dln_rng_alloc(uint64_t seed, uint64_t stream) {
  const uint32_t key[4] = {(uint32_t)seed, (uint32_t)(seed >> 32), (uint32_t)stream, (uint32_t)(stream >> 32)};
  return dln_rng_alloc_key(key, 4);
}

/* the raw 32-bit output of the generator */
uint32_t dln_rng_get32(dln_rng *r) {
  DLN_ARGS_V(0, r);
  return (uint32_t)gsl_rng_get(r->g);
}

void dln_rng_free(dln_rng *r) {
  if (!r) return;
  gsl_rng_free(r->g);
  free(r);
}

double dln_rng_uniform(dln_rng *r) {
  DLN_ARGS_V(NAN, r);
  return gsl_rng_uniform(r->g);
}
unsigned long dln_rng_uniform_int(dln_rng *r, unsigned long n) {
  DLN_ARGS_V(0, r);
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
double dln_rng_gaussian(dln_rng *r, double sigma) {
  DLN_ARGS_V(NAN, r);
  return gsl_ran_gaussian_ziggurat(r->g, sigma);
}

void dln_rng_fill_gaussian(dln_rng *r, double *x, size_t n, double sigma) {
  if (!r || !x) {
    if (x) for (size_t i = 0; i < n; ++i) x[i] = NAN;
    dln_args_error(__func__, "r, x", r ? 1 : 0);
    return;
  }
  for (size_t i = 0; i < n; ++i) x[i] = gsl_ran_gaussian_ziggurat(r->g, sigma);
}

int dln_rng_state_get(const dln_rng *r, uint32_t *words, size_t n) {
  DLN_ARGS(r, words);
  if (n != DLN_RNG_STATE_WORDS)
    return dln_error(DLN_EINVAL, "n: expected %d state words, found %zu", DLN_RNG_STATE_WORDS, n);
  if (gsl_rng_size(r->g) != sizeof(mt_state)) return dln_error(DLN_EINVAL, "rng: expected GSL's MT19937 state layout");
  const mt_state *st = gsl_rng_state(r->g);
  for (int i = 0; i < 624; ++i) words[i] = (uint32_t)st->mt[i];
  words[624] = (uint32_t)st->mti;
  return DLN_OK;
}

int dln_rng_state_set(dln_rng *r, const uint32_t *words, size_t n) {
  DLN_ARGS(r, words);
  if (n != DLN_RNG_STATE_WORDS)
    return dln_error(DLN_EINVAL, "n: expected %d state words, found %zu", DLN_RNG_STATE_WORDS, n);
  if (words[624] > 624) return dln_error(DLN_EINVAL, "words[624]: expected a position in [0, 624], found %u", (unsigned)words[624]);
  if (gsl_rng_size(r->g) != sizeof(mt_state)) return dln_error(DLN_EINVAL, "rng: expected GSL's MT19937 state layout");
  mt_state *st = gsl_rng_state(r->g);
  for (int i = 0; i < 624; ++i) st->mt[i] = words[i];
  st->mti = (int)words[624];
  return DLN_OK;
}

int dln_rng_orthogonal(dln_rng *r, int rows, int cols, double *q) {
  DLN_ARGS(r, q);
  DLN_INDEX(rows, 0, INT_MAX);
  DLN_INDEX(cols, 0, INT_MAX);
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
