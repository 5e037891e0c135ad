/* The spectral initializations (dln/init.h) of a factorization Ȳ (the loss's wstar,
 * DLN_LOSS_IDENTITY): asymmetric, U_0 = Φ Ū_0 G, V_0 = Ψ V̄_0 G (001 Definition 3), and
 * symmetric for the tied model, U_0 = [Φ Σ_0^{1/2}, 0] (001 Definition 1). */
#include "dln/error.h"
#include "dln/init.h"
#include "model/model_internal.h"

#define OFF(f) offsetof(dln_init_options, f)

/* clang-format off */
static const dln_option spectral_rows[] = {
  {"ubar", DLN_OPT_DOUBLELIST, OFF(ubar), "", "spectral init: diagonal of Ubar_0 (001 Def. 3), min(rows, cols) values", NULL, DLN_OPTR_ANY, 0, 0, dln_optcheck_finite_items, NULL},
  {"vbar", DLN_OPT_DOUBLELIST, OFF(vbar), "", "spectral init: diagonal of Vbar_0 (001 Def. 3)", NULL, DLN_OPTR_ANY, 0, 0, dln_optcheck_finite_items, NULL},
  DLN_OPTION_END};
static const dln_option symmetric_rows[] = {
  {"sigma0", DLN_OPT_DOUBLELIST, OFF(sigma0), "", "spectral_symmetric init: Sigma_0 diagonal (001 Def. 1), rows values", NULL, DLN_OPTR_ANY, 0, 0, dln_optcheck_nonneg_items, NULL},
  DLN_OPTION_END};
/* clang-format on */

/* Ȳ = the loss's wstar as a matrix view, or an error naming the scheme. */
static int target_of(const dln_loss *loss, const char *scheme, dln_mat *Y, const char **field) {
  if (!dln_loss_has(loss, DLN_LOSS_IDENTITY) || !loss->wstar) {
    *field = "init";
    return dln_error(DLN_EINVAL, "expected a factorization target for init %s, found task %s", scheme, dln_loss_name(loss));
  }
  *Y = (dln_mat){loss->rows, loss->cols, loss->wstar};
  return DLN_OK;
}

static int spectral_check(const dln_init_options *o, const dln_init_context *ctx, const char **field) {
  int rows = ctx->target_rows, cols = ctx->target_cols, k = rows < cols ? rows : cols, mx = rows > cols ? rows : cols;
  if (!(ctx->loss_caps & DLN_LOSS_IDENTITY) || ctx->depth != 2 || ctx->tied) {
    *field = "init";
    return dln_error(DLN_EINVAL, "expected an untied depth-2 factorization for init spectral, found task %s, depth %d",
                     ctx->task_name ? ctx->task_name : "?", ctx->depth);
  }
  if (ctx->shape_from_files) return DLN_OK;
  int hmin = dln_init_ctx_hmin(ctx);
  if (hmin < mx) {
    *field = ctx->width_option ? ctx->width_option : "width";
    return dln_error(DLN_EINVAL, "expected hidden width >= max(rows, cols) = %d for init spectral, found %d", mx, hmin);
  }
  if (o->ubar.n != k || o->vbar.n != k) {
    *field = o->ubar.n != k ? "ubar" : "vbar";
    return dln_error(DLN_EINVAL, "expected min(rows, cols) = %d values, found %d", k, o->ubar.n != k ? o->ubar.n : o->vbar.n);
  }
  return DLN_OK;
}

static int spectral_apply(const dln_init_options *o, const dln_net *net, double *theta, dln_rng *rng, const dln_loss *loss,
                          const char **field) {
  dln_mat Y;
  int st = target_of(loss, "spectral", &Y, field);
  if (st) return st;
  int k = Y.rows < Y.cols ? Y.rows : Y.cols;
  if (o->ubar.n != k || o->vbar.n != k) {
    *field = o->ubar.n != k ? "ubar" : "vbar";
    return dln_error(DLN_EDIM, "expected min(rows, cols) = %d values, found %d", k, o->ubar.n != k ? o->ubar.n : o->vbar.n);
  }
  return dln_init_spectral_asymmetric(net, theta, &Y, o->ubar.v, o->vbar.v, rng);
}

const dln_init_type dln_init_type_spectral = {
    .name = "spectral",
    .summary = "spectral init of a depth-2 factorization: U_0 = Phi Ubar_0 G, V_0 = Psi Vbar_0 G (001 Def. 3)",
    .options = spectral_rows,
    .check = spectral_check,
    .apply = spectral_apply,
};

static int symmetric_check(const dln_init_options *o, const dln_init_context *ctx, const char **field) {
  if (!ctx->tied) {
    *field = "tied";
    return dln_error(DLN_EINVAL, "expected tied = true for init spectral_symmetric, found false");
  }
  if (!ctx->shape_from_files && o->sigma0.n != ctx->target_rows) {
    *field = "sigma0";
    return dln_error(DLN_EINVAL, "expected rows = %d values, found %d", ctx->target_rows, o->sigma0.n);
  }
  return DLN_OK;
}

static int symmetric_apply(const dln_init_options *o, const dln_net *net, double *theta, dln_rng *rng, const dln_loss *loss,
                           const char **field) {
  (void)rng;
  dln_mat Y;
  int st = target_of(loss, "spectral_symmetric", &Y, field);
  if (st) return st;
  if (o->sigma0.n != Y.rows) {
    *field = "sigma0";
    return dln_error(DLN_EDIM, "expected %d values (rows of the target), found %d", Y.rows, o->sigma0.n);
  }
  return dln_init_spectral_symmetric(net, theta, &Y, o->sigma0.v);
}

const dln_init_type dln_init_type_spectral_symmetric = {
    .name = "spectral_symmetric",
    .summary = "spectral init of the tied model U U^T: U_0 = [Phi Sigma_0^(1/2), 0] (001 Def. 1)",
    .options = symmetric_rows,
    .check = symmetric_check,
    .apply = symmetric_apply,
};
