/* Observable "truth" (dln/observe.h): the distance of W = W_N···W_1 to the true matrix the
 * data came from, dist_true = ‖W − W_true‖_F and dist_true_rel = ‖W − W_true‖_F / ‖W_true‖_F
 * (the headline error of matrix sensing and completion, 002 §4.1 and Fig. 2–3). The truth
 * is asked of the loss (dln_loss_truth): known for synthetic data of any task and for
 * target_file; without it the observable adds no columns. */
#include <math.h>
#include <stdlib.h>

#include "dln/error.h"
#include "observe/obs_internal.h"

typedef struct truth_ws {
  const double *truth;
  size_t n;
  double norm; /* ‖W_true‖_F */
} truth_ws;

static int truth_init(dln_obs_setup *s, void **state) {
  const double *truth = dln_loss_truth(s->loss);
  if (!truth) return DLN_OK; /* data read from files: no truth, no columns */
  truth_ws *w = calloc(1, sizeof *w);
  if (!w) return dln_error(DLN_ENOMEM, "out of memory allocating an observer workspace");
  *state = w;
  w->truth = truth;
  w->n = (size_t)s->loss->rows * (size_t)s->loss->cols;
  w->norm = dln_norm2(w->n, truth);
  int st = dln_obs_add_col(s, "dist_true", 0);
  if (st >= 0) st = dln_obs_add_col(s, "dist_true_rel", 0);
  return st < 0 ? st : DLN_OK;
}

static int truth_eval(void *state, const dln_obs_frame *f, double *cols) {
  const truth_ws *w = state;
  double d = dln_obs_frob_diff(w->n, f->W, w->truth); /* ‖W − W_true‖_F */
  cols[0] = d;
  cols[1] = w->norm > 0 ? d / w->norm : NAN;
  return DLN_OK;
}

const dln_observable dln_observable_truth = {
    "truth", "dist_true = ||W - W_true||_F, dist_true_rel = dist_true/||W_true||_F (when the true matrix is known)",
    DLN_OBSERVABLE_IN_ALL | DLN_OBSERVABLE_USES_W, 0, 0, 0, truth_init, truth_eval, free};
