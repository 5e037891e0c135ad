/* The Gaussian initialization schemes (dln/init.h): W_j ~ N(0, σ²) entrywise, or with
 * per-layer scales s_j (imbalanced, 003 §4: U(0) = σ_U U_0, V(0) = σ_V V_0), or the
 * product of a wider or deeper Gaussian network as a balanced start (001 §6). This file
 * owns the rows shared by several schemes (sigma, layer_scales) and their checks. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "dln/error.h"
#include "dln/init.h"
#include "model/model_internal.h"

#define OFF(f) offsetof(dln_init_options, f)

static int product_widths_items(const dln_option *o, const void *field, char *msg, size_t len) {
  (void)o;
  const dln_ilist *l = field;
  for (int i = 0; i < l->n; ++i)
    if (l->v[i] < 1) {
      snprintf(msg, len, "expected widths >= 1, found %d at item %d", l->v[i], i + 1);
      return 1;
    }
  return 0;
}

/* clang-format off */
static const dln_option common_rows[] = {
  {"sigma", DLN_OPT_DOUBLE, OFF(sigma), "0.01", "init scale: entries N(0, sigma^2) (gaussian, balanced, orthogonal_minnorm)", NULL, DLN_OPTR_ANY, 0, 0, NULL, NULL},
  {"layer_scales", DLN_OPT_DOUBLELIST, OFF(layer_scales), "", "per-layer scales s_1..s_N (gaussian; required by imbalanced, 003 sec. 4)", NULL, DLN_OPTR_ANY, 0, 0, dln_optcheck_pos_items, NULL},
  {"det_sign", DLN_OPT_INT, OFF(det_sign), "0", "any random init: redraw it until det W has this sign, 1 or -1 (square W; kept by gradient flow, 002 Lemma 2; Razin-Cohen); 0: any", NULL, DLN_OPTR_RANGE, -1, 1, NULL, NULL},
  {"det_sign_draws", DLN_OPT_INT, OFF(det_sign_draws), "1000", "det_sign: at most this many draws of the init (an error names the sign found)", NULL, DLN_OPTR_RANGE, 1, 1000000, NULL, NULL},
  DLN_OPTION_END};
static const dln_option gaussian_rows[] = {
  {"init_product_widths", DLN_OPT_INTLIST, OFF(init_product_widths), "", "gaussian: draw layers for these widths and start from their product (depth 1) or a balanced factorization of it (001 sec. 6: X(0) = U0 V0^T)", NULL, DLN_OPTR_NONE, 0, 0, product_widths_items, NULL},
  DLN_OPTION_END};
/* clang-format on */

const dln_option *dln_init_common_rows(void) { return common_rows; }

int dln_init_check_sigma(const dln_init_options *o, const char **field) {
  if (!isfinite(o->sigma) || o->sigma <= 0) {
    *field = "sigma";
    return dln_error(DLN_EINVAL, "expected a positive finite number, found %g", o->sigma);
  }
  return DLN_OK;
}

int dln_init_ctx_hmin(const dln_init_context *ctx) {
  int h = 0;
  for (int j = 1; j < ctx->depth; ++j)
    if (!h || ctx->widths[j] < h) h = ctx->widths[j];
  return h;
}

/* det_sign needs a square W that can have either sign: d_N = d_0 (when the options fix
 * them), every hidden width ≥ d_0 (else rank W < d_0 and det W = 0), and not W = U U^T
 * for −1 (positive semidefinite). */
static int det_sign_check(const dln_init_options *o, const dln_init_context *ctx, const char **field) {
  if (!o->det_sign) return DLN_OK;
  int d0 = ctx->widths[0], dN = ctx->widths[ctx->depth], h = dln_init_ctx_hmin(ctx);
  *field = "det_sign";
  if (ctx->tied && o->det_sign < 0)
    return dln_error(DLN_EINVAL, "expected 1 or 0 for a tied network (W = U U^T is positive semidefinite: det W >= 0), found -1");
  if (!ctx->shape_from_files && d0 != dN)
    return dln_error(DLN_EINVAL, "expected a square end-to-end W (d_N = d_0) for a determinant, found W %d x %d", dN, d0);
  if (!ctx->shape_from_files && h && h < d0)
    return dln_error(DLN_EINVAL, "expected hidden widths >= d_0 = %d (else rank W < d_0 and det W = 0 for every draw), found width %d", d0, h);
  *field = NULL;
  return DLN_OK;
}

int dln_init_common_check(const dln_init_options *o, const dln_init_context *ctx, const char **field) {
  DLN_ARGS(o, ctx);
  const char *dummy;
  if (!field) field = &dummy;
  *field = NULL;
  int want = ctx->tied ? 1 : ctx->depth;
  if (o->layer_scales.n && o->layer_scales.n != want) {
    *field = "layer_scales";
    return dln_error(DLN_EINVAL, "expected %d scales (one per layer), found %d", want, o->layer_scales.n);
  }
  return det_sign_check(o, ctx, field);
}

int dln_init_check_foreign(const dln_init_type *t, const dln_init_options *o, const char **field) {
  DLN_ARGS(t, o);
  const char *dummy;
  if (!field) field = &dummy;
  *field = NULL;
  if (o->init_product_widths.n && t != &dln_init_type_gaussian) {
    *field = "init_product_widths";
    return dln_error(DLN_EINVAL, "expected only with init %s, found init %s", dln_init_type_gaussian.name, t ? t->name : "?");
  }
  return DLN_OK;
}

static int gaussian_check(const dln_init_options *o, const dln_init_context *ctx, const char **field) {
  int st = dln_init_check_sigma(o, field);
  if (st || !o->init_product_widths.n) return st;
  const dln_ilist *p = &o->init_product_widths;
  int d0 = ctx->widths[0], dN = ctx->widths[ctx->depth];
  *field = "init_product_widths";
  if (ctx->tied) return dln_error(DLN_EINVAL, "expected an untied network, found tied");
  if (p->n < 2 || p->v[0] != d0 || p->v[p->n - 1] != dN)
    return dln_error(DLN_EINVAL, "expected widths from d_0 = %d to d_N = %d, found %d entries from %d to %d", d0, dN, p->n,
                     p->n ? p->v[0] : 0, p->n ? p->v[p->n - 1] : 0);
  *field = NULL;
  return DLN_OK;
}

/* 001 §6: draw the layers of a network with init_product_widths and start from their
 * product (depth 1) or a balanced factorization of it. */
static int product_init(const dln_init_options *o, const dln_net *net, double *theta, dln_rng *rng, const char **field) {
  const dln_ilist *pw = &o->init_product_widths;
  int rows = dln_net_rows(net), cols = dln_net_cols(net);
  if (pw->n < 2 || pw->v[0] != cols || pw->v[pw->n - 1] != rows) {
    *field = "init_product_widths";
    return dln_error(DLN_EDIM, "expected widths from d_0 = %d to d_N = %d", cols, rows);
  }
  dln_net *aux = NULL;
  double *ta = NULL;
  dln_mat *W0 = NULL;
  int st = dln_net_alloc(&aux, pw->n - 1, pw->v, 0);
  if (st) return st;
  ta = calloc(aux->nparams ? aux->nparams : 1, sizeof *ta);
  W0 = dln_mat_alloc(rows, cols);
  if (!ta || !W0) st = dln_error(DLN_ENOMEM, "out of memory");
  if (!st) st = dln_init_gaussian(aux, ta, rng, o->sigma, NULL);
  if (!st) st = dln_net_product(aux, ta, W0->data);
  if (!st) {
    if (net->depth == 1) memcpy(dln_net_layer(net, theta, 1), W0->data, (size_t)rows * (size_t)cols * sizeof(double));
    else st = dln_init_balanced(net, theta, W0, rng);
  }
  dln_mat_free(W0);
  free(ta);
  dln_net_free(aux);
  return st;
}

static int gaussian_apply(const dln_init_options *o, const dln_net *net, double *theta, dln_rng *rng, const dln_loss *loss,
                          const char **field) {
  (void)loss;
  if (o->init_product_widths.n) return product_init(o, net, theta, rng, field);
  return dln_init_gaussian(net, theta, rng, o->sigma, o->layer_scales.n ? o->layer_scales.v : NULL);
}

const dln_init_type dln_init_type_gaussian = {
    .name = "gaussian",
    .summary = "W_j ~ N(0, sigma^2) entrywise (or per-layer scales s_j)",
    .options = gaussian_rows,
    .check = gaussian_check,
    .apply = gaussian_apply,
};

/* ---- imbalanced: the Gaussian draws with required per-layer scales (003 §4) ---- */
static int imbalanced_check(const dln_init_options *o, const dln_init_context *ctx, const char **field) {
  (void)ctx;
  int st = dln_init_check_sigma(o, field);
  if (st) return st;
  if (!o->layer_scales.n) {
    *field = "layer_scales";
    return dln_error(DLN_EINVAL, "expected layer_scales for init imbalanced, found none");
  }
  return DLN_OK;
}

static int imbalanced_apply(const dln_init_options *o, const dln_net *net, double *theta, dln_rng *rng, const dln_loss *loss,
                            const char **field) {
  (void)loss;
  (void)field;
  return dln_init_gaussian(net, theta, rng, o->sigma, o->layer_scales.n ? o->layer_scales.v : NULL);
}

const dln_init_type dln_init_type_imbalanced = {
    .name = "imbalanced",
    .summary = "W_j ~ N(0, s_j^2) with per-layer scales layer_scales (003 sec. 4)",
    .options = NULL,
    .check = imbalanced_check,
    .apply = imbalanced_apply,
};
