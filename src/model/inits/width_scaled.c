/* The width-scaled initialization (dln/init.h): N(0, h^{-2α}) with h the largest hidden
 * width (003 §3.2, Theorem 2). */
#include "dln/error.h"
#include "dln/init.h"
#include "model/model_internal.h"

#define OFF(f) offsetof(dln_init_options, f)

/* clang-format off */
static const dln_option rows[] = {
  {"alpha", DLN_OPT_DOUBLE, OFF(alpha), "0.5", "width_scaled init: entries N(0, h^(-2 alpha)) (003 sec. 3.2)", NULL, DLN_OPTR_POS, 0, 0, NULL, NULL},
  DLN_OPTION_END};
/* clang-format on */

static int check(const dln_init_options *o, const dln_init_context *ctx, const char **field) {
  (void)o;
  if (ctx->depth < 2) {
    *field = "init";
    return dln_error(DLN_EINVAL, "expected depth >= 2 for width_scaled, found depth %d", ctx->depth);
  }
  return DLN_OK;
}

static int apply(const dln_init_options *o, const dln_net *net, double *theta, dln_rng *rng, const dln_loss *loss,
                 const char **field) {
  (void)loss;
  (void)field;
  return dln_init_width_scaled(net, theta, rng, o->alpha);
}

const dln_init_type dln_init_type_width_scaled = {
    .name = "width_scaled",
    .summary = "N(0, h^(-2 alpha)) with h the largest hidden width (003 sec. 3.2)",
    .options = rows,
    .check = check,
    .apply = apply,
};
