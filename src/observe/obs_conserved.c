/* Observables "conserved" and "imbalance": the balancedness matrices
 *   C_j = W_{j+1}^T W_{j+1} − W_j W_j^T   (j = 1..N−1),
 * conserved under gradient flow (002 Lemma 1; 001 eq. 13; 003 eq. 9).
 *   conserved: unbalancedness = max_j ‖C_j‖_F (002 Definition 1; 0 for depth 1 or a tied
 *              net), drift_Cj = ‖C_j(θ) − C_j(θ0)‖_F / max(1, ‖C_j(θ0)‖_F) (untied N ≥ 2)
 *   imbalance: eigC_1..eigC_q, the descending eigenvalues of C_1 (untied depth 2); all d_1
 *              of them when d_1 ≤ 64, else the 32 largest then the 32 smallest.
 * dln_net_conserved does not allocate; dsyev('N') runs through LAPACKE_dsyev_work with the
 * copy and work array (sized by a query) allocated in init. Non-finite C_1: NaN columns. */
#include <lapacke.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "dln/error.h"
#include "observe/obs_internal.h"

#define OBS_EIG_ALL_MAX 64 /* all eigenvalues up to this width */
#define OBS_EIG_HALF 32    /* else this many largest and smallest */

/* ------------------------------------------------------------------ conserved */

typedef struct cons_ws {
  dln_net *net;
  int ndrift;     /* N − 1 for an untied net of depth ≥ 2, else 0 */
  double *C;      /* max_j d_j^2 */
  double *C0;     /* concatenated C_j(0), j = 1..N−1 */
  size_t *C0off;  /* offset of C_j(0) in C0, index j */
  double *C0norm; /* ‖C_j(0)‖_F, index j */
} cons_ws;

static void cons_free(void *state) {
  cons_ws *w = state;
  if (!w) return;
  free(w->C);
  free(w->C0);
  free(w->C0off);
  free(w->C0norm);
  free(w);
}

static int cons_init(dln_obs_setup *s, void **state) {
  dln_net *net = s->net;
  const int N = net->depth;
  const int *d = net->widths;
  const int drift = N >= 2 && !net->tied;
  if (drift && !s->theta0)
    return dln_error(DLN_EINVAL, "observer: expected the initial weights theta0 for the drift of C_j, found NULL");
  cons_ws *w = calloc(1, sizeof *w);
  if (!w) return dln_error(DLN_ENOMEM, "out of memory allocating an observer workspace");
  *state = w;
  w->net = net;
  w->ndrift = drift ? N - 1 : 0;
  dln_obs_add_col(s, "unbalancedness", 0);
  for (int j = 1; j <= w->ndrift; ++j) dln_obs_add_col(s, "drift_C%d", j);
  size_t cmax = 0;
  for (int j = 1; j < N; ++j) {
    size_t c2 = (size_t)d[j] * (size_t)d[j];
    if (c2 > cmax) cmax = c2;
  }
  w->C = dln_xcalloc(cmax, sizeof(double));
  if (!w->C) return dln_error(DLN_ENOMEM, "out of memory allocating an observer workspace");
  if (!w->ndrift) return DLN_OK;
  w->C0off = calloc((size_t)N, sizeof(size_t));
  w->C0norm = calloc((size_t)N, sizeof(double));
  if (!w->C0off || !w->C0norm) return dln_error(DLN_ENOMEM, "out of memory allocating an observer workspace");
  size_t tot = 0;
  for (int j = 1; j < N; ++j) {
    w->C0off[j] = tot;
    tot += (size_t)d[j] * (size_t)d[j];
  }
  w->C0 = dln_xcalloc(tot, sizeof(double));
  if (!w->C0) return dln_error(DLN_ENOMEM, "out of memory allocating an observer workspace");
  for (int j = 1; j < N; ++j) {
    double *Cj = w->C0 + w->C0off[j];
    int st = dln_net_conserved(net, s->theta0, j, Cj);
    if (st) return st;
    w->C0norm[j] = dln_norm2((size_t)d[j] * (size_t)d[j], Cj);
  }
  return DLN_OK;
}

static int cons_eval(void *state, const dln_obs_frame *f, double *cols) {
  cons_ws *w = state;
  dln_net *net = w->net;
  const int N = net->depth;
  const int *d = net->widths;
  double best = 0.0;
  if (N >= 2 && !net->tied) {
    for (int j = 1; j < N; ++j) {
      size_t n2 = (size_t)d[j] * (size_t)d[j];
      int st = dln_net_conserved(net, f->theta, j, w->C);
      if (st) return st;
      double fn = dln_norm2(n2, w->C);
      if (!isnan(best) && (isnan(fn) || fn > best)) best = fn; /* a NaN sticks */
      if (w->ndrift) cols[j] = dln_obs_frob_diff(n2, w->C, w->C0 + w->C0off[j]) / fmax(1.0, w->C0norm[j]);
    }
  }
  cols[0] = best;
  return DLN_OK;
}

const dln_observable dln_observable_conserved = {
    "conserved",
    "unbalancedness = max_j ||C_j||, drift_Cj = ||C_j(t) - C_j(0)||/max(1, ||C_j(0)||) (untied depth >= 2)",
    DLN_OBSERVABLE_IN_ALL, 0, 0, 0, cons_init, cons_eval, cons_free};

/* ------------------------------------------------------------------ imbalance */

typedef struct eig_ws {
  dln_net *net;
  int n, neig;
  double *C, *A, *w, *work;
  lapack_int lwork;
} eig_ws;

static void eig_free(void *state) {
  eig_ws *e = state;
  if (!e) return;
  free(e->C);
  free(e->A);
  free(e->w);
  free(e->work);
  free(e);
}

static int eig_init(dln_obs_setup *s, void **state) {
  eig_ws *e = calloc(1, sizeof *e);
  if (!e) return dln_error(DLN_ENOMEM, "out of memory allocating an observer workspace");
  *state = e;
  const int n = s->net->widths[1];
  e->net = s->net;
  e->n = n;
  e->neig = n <= OBS_EIG_ALL_MAX ? n : 2 * OBS_EIG_HALF;
  for (int i = 1; i <= e->neig; ++i) dln_obs_add_col(s, "eigC_%d", i);
  e->C = dln_xcalloc((size_t)n * (size_t)n, sizeof(double));
  e->A = dln_xcalloc((size_t)n * (size_t)n, sizeof(double));
  e->w = dln_xcalloc((size_t)n, sizeof(double));
  if (!e->C || !e->A || !e->w) return dln_error(DLN_ENOMEM, "out of memory allocating an observer workspace");
  double q = 0;
  lapack_int info = LAPACKE_dsyev_work(LAPACK_COL_MAJOR, 'N', 'U', n, e->A, n, e->w, &q, -1);
  if (info != 0) return dln_error(DLN_ELAPACK, "dsyev workspace query (%dx%d) returned info=%d", n, n, (int)info);
  if (!(q >= 1) || q > (double)INT_MAX) q = 1;
  e->lwork = (lapack_int)q;
  lapack_int minw = 3 * (lapack_int)n - 1;
  if (e->lwork < minw) e->lwork = minw;
  if (e->lwork < 1) e->lwork = 1;
  e->work = dln_xcalloc((size_t)e->lwork, sizeof(double));
  if (!e->work) return dln_error(DLN_ENOMEM, "out of memory allocating an observer workspace");
  return DLN_OK;
}

static int eig_eval(void *state, const dln_obs_frame *f, double *cols) {
  eig_ws *e = state;
  const int n = e->n;
  const size_t n2 = (size_t)n * (size_t)n;
  int st = dln_net_conserved(e->net, f->theta, 1, e->C); /* C_1 = W_2^T W_2 − W_1 W_1^T */
  if (st) return st;
  if (!dln_obs_all_finite(n2, e->C)) {
    for (int i = 0; i < e->neig; ++i) cols[i] = NAN;
    return DLN_OK;
  }
  memcpy(e->A, e->C, n2 * sizeof(double));
  lapack_int info = LAPACKE_dsyev_work(LAPACK_COL_MAJOR, 'N', 'U', n, e->A, n, e->w, e->work, e->lwork);
  if (info != 0)
    return dln_error(DLN_ELAPACK, "dsyev (eigenvalues of the %dx%d imbalance C_1) returned info=%d", n, n, (int)info);
  /* w is ascending; write descending */
  if (n <= OBS_EIG_ALL_MAX) {
    for (int i = 0; i < n; ++i) cols[i] = e->w[n - 1 - i];
  } else {
    for (int i = 0; i < OBS_EIG_HALF; ++i) cols[i] = e->w[n - 1 - i];                  /* 32 largest */
    for (int i = 0; i < OBS_EIG_HALF; ++i) cols[OBS_EIG_HALF + i] = e->w[OBS_EIG_HALF - 1 - i]; /* 32 smallest */
  }
  return DLN_OK;
}

const dln_observable dln_observable_imbalance = {
    "imbalance", "eigC_1..eigC_q: eigenvalues of C_1 = W_2^T W_2 - W_1 W_1^T, descending (untied depth 2)",
    DLN_OBSERVABLE_IN_ALL | DLN_OBSERVABLE_UNTIED, 0, 2, 2, eig_init, eig_eval, eig_free};
