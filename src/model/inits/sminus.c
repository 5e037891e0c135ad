/* The sminus initialization (dln/init.h): a start on or near S^− = {P = −Q} of 000 §III
 * (depth 2, n = m = 1, P = W_2 ∈ R^{1×k}, Q = W_1ᵀ). Q_i = sminus_scale·g_i, g_i ~ N(0, 1), and
 * P = −Q exactly, then N(0, sminus_perturb²) on every weight. By 000 Prop. 1 a start in S^−
 * (sminus_perturb = 0) goes to the saddle 0 under gradient flow; any other start reaches the
 * target set PQᵀ = Ȳ, the later the closer it starts to S^−. */
#include <stdlib.h>

#include "dln/error.h"
#include "dln/init.h"
#include "model/model_internal.h"

#define OFF(f) offsetof(dln_init_options, f)

/* clang-format off */
static const dln_option sminus_rows[] = {
  {"sminus_scale", DLN_OPT_DOUBLE, OFF(sminus_scale), "1", "sminus init: Q = W_1^T has entries N(0, sminus_scale^2), P = W_2 = -Q exactly (S^- of 000 sec. III)", NULL, DLN_OPTR_NONNEG, 0, 0, NULL, NULL},
  {"sminus_perturb", DLN_OPT_DOUBLE, OFF(sminus_perturb), "0", "sminus init: entries N(0, sminus_perturb^2) added to every weight of the start in S^-", NULL, DLN_OPTR_NONNEG, 0, 0, NULL, NULL},
  DLN_OPTION_END};
/* clang-format on */

static int scalar(int depth, const int *w) { return depth == 2 && w[0] == 1 && w[2] == 1; }

static int check(const dln_init_options *o, const dln_init_context *ctx, const char **field) {
  (void)o;
  *field = "init";
  if (!(ctx->loss_caps & DLN_LOSS_IDENTITY) || ctx->tied)
    return dln_error(DLN_EINVAL, "expected an untied factorization for init sminus (000 sec. III), found task %s%s",
                     ctx->task_name ? ctx->task_name : "?", ctx->tied ? ", tied" : "");
  if (ctx->depth != 2 || (!ctx->shape_from_files && ctx->widths && !scalar(ctx->depth, ctx->widths)))
    return dln_error(DLN_EINVAL, "expected depth 2 with n = m = 1 for init sminus (000 sec. III), found depth %d%s", ctx->depth,
                     ctx->depth == 2 ? " with n or m > 1" : "");
  *field = NULL;
  return DLN_OK;
}

static int apply(const dln_init_options *o, const dln_net *net, double *theta, dln_rng *rng, const dln_loss *loss,
                 const char **field) {
  (void)loss;
  if (net->tied || !scalar(net->depth, net->widths)) {
    *field = "init";
    return dln_error(DLN_EINVAL, "expected an untied depth-2 network with n = m = 1 for init sminus (000 sec. III), found depth %d, "
                     "n = %d, m = %d", net->depth, net->widths[0], net->widths[net->depth]);
  }
  int k = net->widths[1];
  double *Q = theta + net->offset[1], *P = theta + net->offset[2];
  dln_rng_fill_gaussian(rng, Q, (size_t)k, o->sminus_scale);
  for (int i = 0; i < k; ++i) P[i] = -Q[i];
  double *e = malloc(net->nparams * sizeof(double));
  if (!e) return dln_error(DLN_ENOMEM, "sminus init: out of memory");
  dln_rng_fill_gaussian(rng, e, net->nparams, 1.0);
  for (size_t i = 0; i < net->nparams; ++i) theta[i] += o->sminus_perturb * e[i];
  free(e);
  return DLN_OK;
}

const dln_init_type dln_init_type_sminus = {
    .name = "sminus",
    .summary = "start in S^- of 000 sec. III (depth 2, n = m = 1): P = -Q, Q ~ N(0, sminus_scale^2), plus N(0, sminus_perturb^2)",
    .options = sminus_rows,
    .check = check,
    .apply = apply,
};
