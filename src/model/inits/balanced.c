/* The balanced initialization (dln/init.h): a Gaussian end-to-end matrix W0 ~ N(0, σ²)
 * factored into balanced layers, every C_j = 0 (002 Definition 1; 003 §4). */
#include "dln/data.h"
#include "dln/error.h"
#include "dln/init.h"
#include "model/model_internal.h"

static int check(const dln_init_options *o, const dln_init_context *ctx, const char **field) {
  (void)ctx;
  return dln_init_check_sigma(o, field);
}

static int apply(const dln_init_options *o, const dln_net *net, double *theta, dln_rng *rng, const dln_loss *loss,
                 const char **field) {
  (void)loss;
  (void)field;
  dln_mat *W0 = NULL;
  int st = dln_data_gaussian(rng, dln_net_rows(net), dln_net_cols(net), o->sigma, &W0);
  if (st) return st;
  st = dln_init_balanced(net, theta, W0, rng);
  dln_mat_free(W0);
  return st;
}

const dln_init_type dln_init_type_balanced = {
    .name = "balanced",
    .summary = "balanced factorization of W0 ~ N(0, sigma^2): all C_j = 0 (002 Def. 1)",
    .options = NULL,
    .check = check,
    .apply = apply,
};
