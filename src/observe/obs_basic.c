/* Observables "loss", "gradnorm" and "dist" (dln/observe.h): the loss and its gap to
 * L*, the gradient norm ‖∇φ(θ)‖ over all layers, and the distances of W to the loss's
 * reference W* (002 §2: every task is a loss of W = W_N···W_1). All three read the
 * end-to-end W, ℓ(W) and ∇φ the observer computes once per row. */
#include <math.h>
#include <stdlib.h>

#include "dln/error.h"
#include "observe/obs_internal.h"

/* ------------------------------------------------------------------ loss */

typedef struct loss_ws {
  const dln_loss *loss;
  int reg; /* 1: the imbalance_reg column follows loss_gap */
} loss_ws;

static int loss_init(dln_obs_setup *s, void **state) {
  loss_ws *w = calloc(1, sizeof *w);
  if (!w) return dln_error(DLN_ENOMEM, "out of memory allocating an observer workspace");
  *state = w;
  w->loss = s->loss;
  dln_obs_add_col(s, "loss", 0);
  dln_obs_add_col(s, "loss_gap", 0);
  /* R(θ) of the imbalance regularizer (001 Prop. 4 eq. 27), only when the net has one */
  w->reg = dln_net_has_imbalance_reg(s->net);
  if (w->reg) dln_obs_add_col(s, "imbalance_reg", 0);
  return DLN_OK;
}

static int loss_eval(void *state, const dln_obs_frame *f, double *cols) {
  const loss_ws *w = state;
  cols[0] = f->loss; /* the task loss ℓ(W); φ = ℓ + R */
  cols[1] = isnan(w->loss->lstar) ? NAN : f->loss - w->loss->lstar; /* loss − L* */
  if (w->reg) cols[2] = f->reg;
  return DLN_OK;
}

const dln_observable dln_observable_loss = {
    "loss", "loss = task loss l(W), loss_gap = loss - L* (NAN when L* is unknown), imbalance_reg = R(theta) with --imbalance_reg (phi = loss + imbalance_reg)", DLN_OBSERVABLE_IN_ALL | DLN_OBSERVABLE_USES_W,
    0, 0, 0, loss_init, loss_eval, free};

/* ------------------------------------------------------------------ gradnorm */

static int grad_init(dln_obs_setup *s, void **state) {
  *state = s->net;
  dln_obs_add_col(s, "grad_norm", 0);
  return DLN_OK;
}

static int grad_eval(void *state, const dln_obs_frame *f, double *cols) {
  const dln_net *net = state;
  cols[0] = dln_norm2(net->nparams, f->grad); /* ‖∇φ(θ)‖ */
  return DLN_OK;
}

const dln_observable dln_observable_gradnorm = {
    "gradnorm", "grad_norm = ||grad phi(theta)|| over all layers",
    DLN_OBSERVABLE_IN_ALL | DLN_OBSERVABLE_USES_W | DLN_OBSERVABLE_USES_GRAD, 0, 0, 0, grad_init, grad_eval, NULL};

/* ------------------------------------------------------------------ dist */

typedef struct dist_ws {
  const dln_loss *loss;
  size_t wsz;
  int recon, dist; /* column index or -1 */
} dist_ws;

static int dist_init(dln_obs_setup *s, void **state) {
  dist_ws *w = calloc(1, sizeof *w);
  if (!w) return dln_error(DLN_ENOMEM, "out of memory allocating an observer workspace");
  *state = w;
  const dln_loss *loss = s->loss;
  w->loss = loss;
  w->wsz = (size_t)loss->rows * (size_t)loss->cols;
  w->recon = isfinite(loss->target_norm) ? dln_obs_add_col(s, "recon_err", 0) : -1;
  w->dist = loss->wstar ? dln_obs_add_col(s, "dist_ref", 0) : -1;
  return DLN_OK;
}

static int dist_eval(void *state, const dln_obs_frame *f, double *cols) {
  const dist_ws *w = state;
  const dln_loss *loss = w->loss;
  if (w->recon >= 0) {
    /* ‖Ȳ − W‖_F / ‖Ȳ‖_F; the target is the loss's W* (factorization), otherwise
     * ½‖W − Ȳ‖² = ℓ gives the numerator. A zero target gives the absolute error. */
    double num = loss->wstar ? dln_obs_frob_diff(w->wsz, f->W, loss->wstar) : sqrt(2.0 * f->loss);
    cols[w->recon] = loss->target_norm > 0 ? num / loss->target_norm : num;
  }
  if (w->dist >= 0) cols[w->dist] = dln_obs_frob_diff(w->wsz, f->W, loss->wstar); /* ‖W − W*‖_F */
  return DLN_OK;
}

const dln_observable dln_observable_dist = {
    "dist", "recon_err = ||Ybar - W||/||Ybar|| (when the loss has a target), dist_ref = ||W - W*|| (when it has W*)",
    DLN_OBSERVABLE_IN_ALL | DLN_OBSERVABLE_USES_W, 0, 0, 0, dist_init, dist_eval, free};
