/* Observable "sv": the singular values sv_1..sv_k of W = W_N···W_1, descending,
 * k = min(d_N, d_0) (001 §3–4: the spectral dynamics are read from these columns).
 *
 * dgesdd('N') through LAPACKE_dgesdd_work with the copy of W, the work array (sized by a
 * workspace query, at least the documented minimum) and iwork allocated in init: the
 * high-level LAPACKE wrappers (e.g. inside dln_singular_values) malloc on every call.
 * Non-finite W: NaN columns, without calling LAPACK. */
#include <lapacke.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "dln/error.h"
#include "observe/obs_internal.h"

typedef struct sv_ws {
  int rows, cols, k;
  double *A, *s, *work;
  lapack_int *iwork;
  lapack_int lwork;
} sv_ws;

static void sv_free(void *state) {
  sv_ws *w = state;
  if (!w) return;
  free(w->A);
  free(w->s);
  free(w->work);
  free(w->iwork);
  free(w);
}

static int sv_init(dln_obs_setup *s, void **state) {
  sv_ws *w = calloc(1, sizeof *w);
  if (!w) return dln_error(DLN_ENOMEM, "out of memory allocating an observer workspace");
  *state = w;
  const int m = s->loss->rows, n = s->loss->cols, k = m < n ? m : n;
  w->rows = m;
  w->cols = n;
  w->k = k;
  for (int i = 1; i <= k; ++i) dln_obs_add_col(s, "sv_%d", i);
  w->A = dln_xcalloc((size_t)m * (size_t)n, sizeof(double));
  w->s = dln_xcalloc((size_t)k, sizeof(double));
  w->iwork = dln_xcalloc(8 * (size_t)k, sizeof(lapack_int));
  if (!w->A || !w->s || !w->iwork) return dln_error(DLN_ENOMEM, "out of memory allocating an observer workspace");
  double q = 0;
  lapack_int info = LAPACKE_dgesdd_work(LAPACK_COL_MAJOR, 'N', m, n, w->A, m, w->s, NULL, 1, NULL, 1, &q, -1, w->iwork);
  if (info != 0) return dln_error(DLN_ELAPACK, "dgesdd workspace query (%dx%d) returned info=%d", m, n, (int)info);
  if (!(q >= 1) || q > (double)INT_MAX) q = 1;
  w->lwork = (lapack_int)q;
  /* guard against an underestimated query (some builds round down): at least the documented minimum */
  lapack_int mn = k, mx = m > n ? m : n;
  lapack_int minw = 3 * mn + (mx > 7 * mn ? mx : 7 * mn);
  if (w->lwork < minw) w->lwork = minw;
  w->work = dln_xcalloc((size_t)w->lwork, sizeof(double));
  if (!w->work) return dln_error(DLN_ENOMEM, "out of memory allocating an observer workspace");
  return DLN_OK;
}

static int sv_eval(void *state, const dln_obs_frame *f, double *cols) {
  sv_ws *w = state;
  const size_t wsz = (size_t)w->rows * (size_t)w->cols;
  if (!dln_obs_all_finite(wsz, f->W)) {
    for (int i = 0; i < w->k; ++i) cols[i] = NAN;
    return DLN_OK;
  }
  memcpy(w->A, f->W, wsz * sizeof(double));
  lapack_int info = LAPACKE_dgesdd_work(LAPACK_COL_MAJOR, 'N', w->rows, w->cols, w->A, w->rows, w->s, NULL, 1, NULL, 1,
                                        w->work, w->lwork, w->iwork);
  if (info != 0)
    return dln_error(DLN_ELAPACK, "dgesdd (singular values of the %dx%d end-to-end matrix) returned info=%d", w->rows,
                     w->cols, (int)info);
  memcpy(cols, w->s, (size_t)w->k * sizeof(double));
  return DLN_OK;
}

const dln_observable dln_observable_sv = {
    "sv", "sv_1..sv_k: singular values of W, descending, k = min(d_N, d_0)",
    DLN_OBSERVABLE_IN_ALL | DLN_OBSERVABLE_USES_W, 0, 0, 0, sv_init, sv_eval, sv_free};
