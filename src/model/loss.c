/* Tasks as losses of the end-to-end matrix (dln/loss.h): the generic entry points.
 * Each loss (its ℓ, ∇ℓ, ∇²ℓ[D], L*, W*) lives in its task's file, src/model/tasks/. */
#include "dln/loss.h"

#include <math.h>
#include <stdlib.h>

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

void dln_loss_free(dln_loss *loss) {
  if (!loss) return;
  if (loss->ops && loss->ops->destroy) loss->ops->destroy(loss);
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
