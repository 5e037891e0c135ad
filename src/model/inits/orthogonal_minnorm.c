/* The orthogonal invariant-set initialization of under-determined regression
 * (dln/init.h; 003 Proposition 1, eq. 15): depth 2, from the design X of the loss
 * (DLN_LOSS_LSQ_DESIGN). */
#include "dln/error.h"
#include "dln/init.h"
#include "model/model_internal.h"

static int check(const dln_init_options *o, const dln_init_context *ctx, const char **field) {
  int st = dln_init_check_sigma(o, field);
  if (st) return st;
  if (!(ctx->loss_caps & DLN_LOSS_LSQ_DESIGN) || ctx->depth != 2) {
    *field = "init";
    return dln_error(DLN_EINVAL, "expected a depth-2 regression for init orthogonal_minnorm, found task %s, depth %d",
                     ctx->task_name ? ctx->task_name : "?", ctx->depth);
  }
  return DLN_OK;
}

static int apply(const dln_init_options *o, const dln_net *net, double *theta, dln_rng *rng, const dln_loss *loss,
                 const char **field) {
  (void)field;
  return dln_init_orthogonal_minnorm(net, theta, dln_loss_design(loss), rng, o->sigma);
}

const dln_init_type dln_init_type_orthogonal_minnorm = {
    .name = "orthogonal_minnorm",
    .summary = "depth-2 regression: the orthogonal invariant set of the min-norm bias (003 Prop. 1)",
    .options = NULL,
    .check = check,
    .apply = apply,
};
