/* Observable "margin" (loss capability DLN_LOSS_CLASSIFY): the implicit-bias columns of
 * a classification loss (002 §2; 004 Remark 3). With W = W_N···W_1,
 *   w_norm   ‖W‖_F
 *   margin   min_i y_i W x_i / ‖W‖_F                                    (logistic)
 *            min_i ((W x_i)_{c_i} − max_{k≠c_i} (W x_i)_k) / ‖W‖_F       (softmax)
 *   dir_1..dir_{d_N d_0}  the entries of W/‖W‖_F (column-major), when d_N d_0 ≤ 64
 * On separable data these are where the question of the direction the run converges to
 * is read (for depth 1 under GD, the max-margin direction: Soudry et al. 2018, not a
 * result of the seed papers). */
#include <string.h>

#include "core/util.h"
#include "dln/error.h"
#include "observe/obs_internal.h"

enum { MARGIN_MAX_DIR = 64 };

typedef struct margin_ws {
  dln_loss *loss;
  size_t wsz;
  int ndir; /* 0 when W has more than MARGIN_MAX_DIR entries */
} margin_ws;

static int margin_init(dln_obs_setup *s, void **state) {
  margin_ws *w = calloc(1, sizeof *w);
  if (!w) return dln_error(DLN_ENOMEM, "out of memory allocating an observer workspace");
  *state = w;
  w->loss = s->loss;
  w->wsz = (size_t)s->loss->rows * (size_t)s->loss->cols;
  w->ndir = w->wsz <= MARGIN_MAX_DIR ? (int)w->wsz : 0;
  dln_obs_add_col(s, "w_norm", 0);
  dln_obs_add_col(s, "margin", 0);
  for (int k = 1; k <= w->ndir; ++k) dln_obs_add_col(s, "dir_%d", k);
  if (!w->ndir) dln_obs_note(s, "dir columns", "W has more than 64 entries");
  return DLN_OK;
}

static int margin_eval(void *state, const dln_obs_frame *f, double *cols) {
  margin_ws *w = state;
  double nw = dln_norm2(w->wsz, f->W), m = NAN;
  int st = dln_loss_margin(w->loss, f->W, &m);
  if (st) return st;
  cols[0] = nw;
  cols[1] = nw > 0 ? m / nw : NAN;
  for (int k = 0; k < w->ndir; ++k) cols[2 + k] = nw > 0 ? f->W[k] / nw : NAN;
  return DLN_OK;
}

const dln_observable dln_observable_margin = {
    "margin", "classification losses: w_norm = |W|_F, margin = min_i margin_i / |W|_F, dir_k = entries of W/|W|_F (<= 64)",
    DLN_OBSERVABLE_IN_ALL | DLN_OBSERVABLE_USES_W, DLN_LOSS_CLASSIFY, 0, 0, margin_init, margin_eval, free};
