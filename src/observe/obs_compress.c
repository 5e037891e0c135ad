/* Observable "compress": compress_rank, the compressible rank ρ_τ(W) of W = W_N···W_1 at
 * τ = DLN_COMPRESS_TOL (dln/compress.h): the least ρ with ‖W − W_ρ‖_F ≤ τ‖W‖_F, the rank
 * `dln compress` truncates to by default (002 §4.4, footnote 11). Along a run from a small
 * init it steps up as the singular values are learned one after another (002 §4.3, Fig. 3).
 * Singular values by the dln_bias workspace (sized here; no allocation in eval). Non-finite
 * W: NaN. */
#include <math.h>
#include <stdlib.h>

#include "dln/bias.h"
#include "dln/compress.h"
#include "dln/error.h"
#include "observe/obs_internal.h"

typedef struct compress_ws {
  dln_bias *bias;
  double *s;
  size_t wsz;
  int k;
} compress_ws;

static void compress_free(void *state) {
  compress_ws *w = state;
  if (!w) return;
  dln_bias_free(w->bias);
  free(w->s);
  free(w);
}

static int compress_init(dln_obs_setup *s, void **state) {
  compress_ws *w = calloc(1, sizeof *w);
  if (!w) return dln_error(DLN_ENOMEM, "out of memory allocating an observer workspace");
  *state = w;
  const int m = s->loss->rows, n = s->loss->cols;
  w->k = m < n ? m : n;
  w->wsz = (size_t)m * (size_t)n;
  int st = dln_bias_alloc(&w->bias, m, n);
  if (st) return st;
  if (!(w->s = calloc((size_t)w->k, sizeof *w->s))) return dln_error(DLN_ENOMEM, "out of memory allocating an observer workspace");
  dln_obs_add_col(s, "compress_rank", 0);
  return DLN_OK;
}

static int compress_eval(void *state, const dln_obs_frame *f, double *cols) {
  compress_ws *w = state;
  int r = 0;
  int ok = dln_obs_all_finite(w->wsz, f->W) && dln_bias_singular_values(w->bias, f->W, w->s) == DLN_OK &&
           dln_compress_rank(w->k, w->s, DLN_COMPRESS_TOL, &r) == DLN_OK;
  cols[0] = ok ? (double)r : NAN;
  return DLN_OK;
}

const dln_observable dln_observable_compress = {
    "compress", "compress_rank: least rank r with |W - W_r|_F <= 1e-3 |W|_F (the rank dln compress keeps by default)",
    DLN_OBSERVABLE_IN_ALL | DLN_OBSERVABLE_USES_W, 0, 0, 0, compress_init, compress_eval, compress_free};
