/* The saddle initialization (dln/init.h): an adversarial start for the end-point Monte
 * Carlo (004 §2.3, §4). With the target Ȳ = Σ s_i p_i q_i^T (descending s_i), the balanced
 * factorization (dln_init_balanced) of W0 = Σ_{i∈L} s_i p_i q_i^T, a critical point on the
 * saddle stratum of learned set L (004 Lemma 3.2; L empty: the origin), plus entries
 * N(0, saddle_perturb²) on every weight. Under gradient flow the stratum is invariant:
 * without a perturbation the run stays there up to round-off. */
#include <lapacke.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "dln/error.h"
#include "dln/init.h"
#include "model/model_internal.h"

#define OFF(f) offsetof(dln_init_options, f)

static int stratum_items(const dln_option *o, const void *field, char *msg, size_t len) {
  (void)o;
  const dln_ilist *l = field;
  for (int i = 0; i < l->n; ++i) {
    if (l->v[i] < 1) {
      snprintf(msg, len, "expected component indices >= 1, found %d at item %d", l->v[i], i + 1);
      return 1;
    }
    for (int j = 0; j < i; ++j)
      if (l->v[j] == l->v[i]) {
        snprintf(msg, len, "expected distinct indices, found %d twice", l->v[i]);
        return 1;
      }
  }
  return 0;
}

/* clang-format off */
static const dln_option saddle_rows[] = {
  {"saddle_stratum", DLN_OPT_INTLIST, OFF(saddle_stratum), "", "saddle init: learned components L (1-based, descending singular values of the target) of the 004 Lemma 3.2 stratum to start on; empty: the origin", NULL, DLN_OPTR_NONE, 0, 0, stratum_items, NULL},
  {"saddle_perturb", DLN_OPT_DOUBLE, OFF(saddle_perturb), "0", "saddle init: entries N(0, saddle_perturb^2) added to every weight of the start on the stratum", NULL, DLN_OPTR_NONNEG, 0, 0, NULL, NULL},
  DLN_OPTION_END};
/* clang-format on */

static int check(const dln_init_options *o, const dln_init_context *ctx, const char **field) {
  int k = ctx->target_rows < ctx->target_cols ? ctx->target_rows : ctx->target_cols;
  if (!(ctx->loss_caps & DLN_LOSS_IDENTITY) || ctx->tied) {
    *field = "init";
    return dln_error(DLN_EINVAL, "expected an untied factorization for init saddle, found task %s%s",
                     ctx->task_name ? ctx->task_name : "?", ctx->tied ? ", tied" : "");
  }
  int hmin = ctx->depth >= 2 ? dln_init_ctx_hmin(ctx) : k;
  *field = "saddle_stratum";
  if (o->saddle_stratum.n > hmin)
    return dln_error(DLN_EINVAL, "expected at most the narrowest hidden width %d components, found %d", hmin,
                     o->saddle_stratum.n);
  for (int i = 0; i < o->saddle_stratum.n && !ctx->shape_from_files; ++i)
    if (o->saddle_stratum.v[i] > k)
      return dln_error(DLN_EINVAL, "expected indices <= min(rows, cols) = %d, found %d", k, o->saddle_stratum.v[i]);
  *field = NULL;
  return DLN_OK;
}

/* W0 = Σ_{i∈L} s_i p_i q_i^T from the SVD of Ȳ (rows x cols). */
static int stratum_matrix(const dln_init_options *o, const dln_loss *loss, dln_mat *W0, const char **field) {
  int m = loss->rows, n = loss->cols, k = m < n ? m : n, st = DLN_OK;
  double *a = malloc((size_t)m * n * sizeof(double)), *s = malloc((size_t)k * sizeof(double));
  double *u = malloc((size_t)m * k * sizeof(double)), *vt = malloc((size_t)k * n * sizeof(double));
  if (!a || !s || !u || !vt) {
    st = dln_error(DLN_ENOMEM, "saddle init: out of memory");
    goto done;
  }
  memcpy(a, loss->wstar, (size_t)m * n * sizeof(double));
  int info = LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'S', m, n, a, m, s, u, m, vt, k);
  if (info) {
    st = dln_error(DLN_ELAPACK, "saddle init: dgesdd (target %dx%d) returned info=%d", m, n, info);
    goto done;
  }
  memset(W0->data, 0, (size_t)m * n * sizeof(double));
  for (int t = 0; t < o->saddle_stratum.n; ++t) {
    int i = o->saddle_stratum.v[t] - 1;
    if (i >= k || !(s[i] > 1e-12 * s[0])) {
      *field = "saddle_stratum";
      st = dln_error(DLN_EINVAL, "expected indices of nonzero singular values of the target, found %d", i + 1);
      goto done;
    }
    for (int c = 0; c < n; ++c)
      for (int r = 0; r < m; ++r) W0->data[r + (size_t)c * m] += s[i] * u[r + (size_t)i * m] * vt[i + (size_t)c * k];
  }
done:
  free(a), free(s), free(u), free(vt);
  return st;
}

static int apply(const dln_init_options *o, const dln_net *net, double *theta, dln_rng *rng, const dln_loss *loss,
                 const char **field) {
  if (!dln_loss_has(loss, DLN_LOSS_IDENTITY) || !loss->wstar) {
    *field = "init";
    return dln_error(DLN_EINVAL, "expected a factorization target for init saddle, found task %s", dln_loss_name(loss));
  }
  dln_mat *W0 = dln_mat_alloc(loss->rows, loss->cols);
  if (!W0) return dln_error(DLN_ENOMEM, "saddle init: out of memory");
  int st = stratum_matrix(o, loss, W0, field);
  if (!st && o->saddle_stratum.n) st = dln_init_balanced(net, theta, W0, rng);
  if (!st && !o->saddle_stratum.n) memset(theta, 0, net->nparams * sizeof(double));
  dln_mat_free(W0);
  if (st) return st;
  double *e = malloc(net->nparams * sizeof(double));
  if (!e) return dln_error(DLN_ENOMEM, "saddle init: out of memory");
  dln_rng_fill_gaussian(rng, e, net->nparams, 1.0);
  for (size_t i = 0; i < net->nparams; ++i) theta[i] += o->saddle_perturb * e[i];
  free(e);
  return DLN_OK;
}

const dln_init_type dln_init_type_saddle = {
    .name = "saddle",
    .summary = "adversarial start: balanced point on the saddle stratum saddle_stratum of the target (004 Lemma 3.2) plus N(0, saddle_perturb^2)",
    .options = saddle_rows,
    .check = check,
    .apply = apply,
};
