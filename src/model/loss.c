/* Tasks as losses of the end-to-end matrix (dln/loss.h): the generic entry points.
 * Each loss (its ℓ, ∇ℓ, ∇²ℓ[D], L*, W*) lives in its task's file, src/model/tasks/. */
#include "dln/loss.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "dln/error.h"
#include "model/model_internal.h"

int dln_loss_eval(dln_loss *loss, const double *W, double *value, double *G) {
  DLN_ARGS(loss, W);
  return loss->ops->eval(loss, W, value, G);
}
int dln_loss_hvp(dln_loss *loss, const double *W, const double *D, double *out) {
  DLN_ARGS(loss, W, D, out);
  return loss->ops->hvp(loss, W, D, out);
}
int dln_loss_margin(dln_loss *loss, const double *W, double *min_margin) {
  DLN_ARGS(loss, W, min_margin);
  *min_margin = NAN;
  if (!dln_loss_has(loss, DLN_LOSS_CLASSIFY) || !loss->margin)
    return dln_error(DLN_EINVAL, "dln_loss_margin: loss: expected a classification loss, found %s", dln_loss_name(loss));
  return loss->margin(loss, W, min_margin);
}
int dln_loss_has(const dln_loss *loss, unsigned caps) {
  DLN_ARGS_V(0, loss);
  return loss && loss->ops && (loss->ops->caps & caps) == caps;
}
const dln_mat *dln_loss_design(const dln_loss *loss) {
  DLN_ARGS_P(loss);
  return dln_loss_has(loss, DLN_LOSS_LSQ_DESIGN) ? loss->design : NULL;
}
const char *dln_loss_name(const dln_loss *loss) {
  DLN_ARGS_V("?", loss);
  return loss && loss->ops && loss->ops->name ? loss->ops->name : "?";
}

int dln_loss_measurements(const dln_loss *loss, dln_measurements *out) {
  DLN_ARGS(loss, out);
  memset(out, 0, sizeof *out);
  if (!dln_loss_has(loss, DLN_LOSS_MEASURED) || loss->meas.m < 1 || !loss->meas.b || !(loss->meas.A || loss->meas.idx))
    return dln_error(DLN_EINVAL, "loss %s: expected linear measurements <A_i, W> = b_i (a sensing or completion loss), found none",
                     dln_loss_name(loss));
  *out = loss->meas;
  return DLN_OK;
}

const double *dln_loss_truth(const dln_loss *loss) {
  DLN_ARGS_P(loss);
  return loss->truth;
}

int dln_loss_set_truth(dln_loss *loss, const dln_mat *truth) {
  DLN_ARGS(loss);
  if (!truth) {
    free(loss->truth);
    loss->truth = NULL;
    return DLN_OK;
  }
  if (truth->rows != loss->rows || truth->cols != loss->cols)
    return dln_error(DLN_EDIM, "true matrix: expected %d x %d (the shape of W), found %d x %d", loss->rows, loss->cols,
                     truth->rows, truth->cols);
  int st = dln_check_finite("true matrix", truth->rows, truth->cols, truth->data);
  if (st) return st;
  size_t n = (size_t)truth->rows * (size_t)truth->cols;
  double *t = malloc((n ? n : 1) * sizeof *t);
  if (!t) return dln_error(DLN_ENOMEM, "out of memory copying the true matrix");
  memcpy(t, truth->data, n * sizeof *t);
  free(loss->truth);
  loss->truth = t;
  return DLN_OK;
}

void dln_loss_free(dln_loss *loss) {
  if (!loss) return;
  if (loss->ops && loss->ops->destroy) loss->ops->destroy(loss);
  free(loss->truth);
  free(loss->wstar);
  free(loss);
}

dln_loss *dln_loss_new(const dln_loss_ops *ops, int rows, int cols) {
  dln_loss *l = calloc(1, sizeof *l);
  if (!l) {
    dln_error(DLN_ENOMEM, "out of memory allocating a loss");
    return NULL;
  }
  l->ops = ops;
  l->rows = rows;
  l->cols = cols;
  l->lstar = NAN;
  l->target_norm = NAN;
  return l;
}
