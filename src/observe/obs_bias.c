/* Observable "bias": measures of the implicit bias of W = W_N···W_1 along a run
 * (dln/bias.h).
 *   nuclear_norm, effective_rank (Roy–Vetterli) of W
 *   det_sign        square W only (002 Lemma 2)
 *   dist_minnorm    ‖W − W*‖_F / ‖W*‖_F for a least-squares loss (DLN_LOSS_LSQ_DESIGN),
 *                   W* its minimum-norm solution
 *   orth_measure    ‖V U_2^T‖_F + ‖U_1 U_2^T‖_F (003 §3), untied depth-2 least squares
 * A measure that cannot be evaluated (non-finite W) is NAN. dln_bias_eval and
 * dln_orth_eval do not allocate (their workspaces are sized here). */
#include <math.h>
#include <stdlib.h>

#include "dln/bias.h"
#include "dln/error.h"
#include "observe/obs_internal.h"

typedef struct bias_ws {
  dln_loss *loss;
  dln_bias *bias;
  dln_orth *orth;
  size_t wsz;
  double wstar_norm;
  int c_det, c_dmin, c_orth;
} bias_ws;

static void bias_ws_free(void *state) {
  bias_ws *w = state;
  if (!w) return;
  dln_bias_free(w->bias);
  dln_orth_free(w->orth);
  free(w);
}

static int bias_init(dln_obs_setup *s, void **state) {
  bias_ws *w = calloc(1, sizeof *w);
  if (!w) return dln_error(DLN_ENOMEM, "out of memory allocating an observer workspace");
  *state = w;
  dln_net *net = s->net;
  dln_loss *loss = s->loss;
  const int rows = loss->rows, cols = loss->cols;
  const int lsq = dln_loss_has(loss, DLN_LOSS_LSQ_DESIGN);
  w->loss = loss;
  w->wsz = (size_t)rows * (size_t)cols;
  w->c_det = w->c_dmin = w->c_orth = -1;
  int st = dln_bias_alloc(&w->bias, rows, cols);
  if (st) return st;
  dln_obs_add_col(s, "nuclear_norm", 0);
  dln_obs_add_col(s, "effective_rank", 0);
  if (rows == cols) w->c_det = dln_obs_add_col(s, "det_sign", 0);
  else dln_obs_note(s, "det_sign", "not applicable: square W fails (W is not square)");
  if (lsq && loss->wstar) {
    w->wstar_norm = dln_norm2(w->wsz, loss->wstar);
    w->c_dmin = dln_obs_add_col(s, "dist_minnorm", 0);
  }
  if (lsq && s->X && net->depth == 2 && !net->tied) {
    if ((st = dln_orth_alloc(&w->orth, net, s->X))) return st;
    w->c_orth = dln_obs_add_col(s, "orth_measure", 0);
  } else {
    dln_obs_note(s, "orth_measure", "not applicable: depth-2 untied regression fails");
  }
  return DLN_OK;
}

static int bias_eval(void *state, const dln_obs_frame *f, double *cols) {
  bias_ws *w = state;
  dln_bias_result r;
  int ok = dln_obs_all_finite(w->wsz, f->W) && dln_bias_eval(w->bias, f->W, NULL, &r) == DLN_OK;
  cols[0] = ok ? r.nuclear : NAN;
  cols[1] = ok ? r.effective_rank : NAN;
  if (w->c_det >= 0) cols[w->c_det] = ok ? (double)r.det_sign : NAN;
  if (w->c_dmin >= 0) {
    double dd = dln_obs_frob_diff(w->wsz, f->W, w->loss->wstar);
    cols[w->c_dmin] = w->wstar_norm > 0 ? dd / w->wstar_norm : dd;
  }
  if (w->c_orth >= 0) {
    double tot = NAN;
    if (dln_orth_eval(w->orth, f->theta, NULL, NULL, &tot) != DLN_OK) tot = NAN;
    cols[w->c_orth] = tot;
  }
  return DLN_OK;
}

const dln_observable dln_observable_bias = {
    "bias", "nuclear_norm, effective_rank, det_sign (square W), dist_minnorm and orth_measure (least squares)",
    DLN_OBSERVABLE_THETA0 | DLN_OBSERVABLE_USES_W, 0, 0, 0, bias_init, bias_eval, bias_ws_free};
