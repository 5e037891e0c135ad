/* The ℓ_p regression task (002 §3.2 Claim 1, the ℓ4 loss of 002 Fig. 1):
 *   ℓ(W)      = (1/n) Σ_i ‖W x_i − y_i‖_p^p = (1/n) Σ_{k,i} |R_ki|^p,   R = W X − Y,
 *   ∇ℓ(W)     = (p/n) (|R|^{p−2} ∘ R) X^T,
 *   ∇²ℓ(W)[D] = (p(p−1)/n) (|R|^{p−2} ∘ (D X)) X^T,
 * samples as columns (X: d_0 x n, Y: d_N x n), real p ≥ 2. |r|^{p−2} is 1 for p = 2
 * (also at r = 0) and 0 at r = 0 for p > 2: the Hessian is then singular at zero residual
 * (every integrator must cope; tests/test_lp.c). For p = 2, ℓ = (2/n) × the regression
 * loss ½‖WX − Y‖², with the same minimizer W* = Y X^† and L* = ℓ(W*). For p ≠ 2, L* and
 * W* are not computed (lstar = NAN, no reference). The data are regression's (the same
 * rows, files and code: dln_task_regression's check, shape and data). */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "dln/error.h"
#include "dln/loss.h"
#include "dln/task.h"
#include "model/model_internal.h"

typedef struct {
  dln_mat *X, *Y;
  double p;
  int ip;       /* p − 2 when it is an integer in [0, 8] (products instead of pow), else −1 */
  double *R, *S; /* d_N x n workspaces */
} lp_impl;

/* |r|^q for q = p − 2 ≥ 0: 1 at q = 0 (also for r = 0), 0 at r = 0 for q > 0. */
static inline double abspow(const lp_impl *p, double r) {
  double a = fabs(r);
  if (p->ip >= 0) {
    double v = 1.0;
    for (int i = 0; i < p->ip; ++i) v *= a;
    return v;
  }
  return a > 0 ? pow(a, p->p - 2.0) : 0.0;
}

/* p->R = W X − Y */
static void residual(dln_loss *loss, const double *W) {
  lp_impl *p = loss->impl;
  int dn = loss->rows, d0 = loss->cols, n = p->X->cols;
  memcpy(p->R, p->Y->data, (size_t)dn * (size_t)n * sizeof(double));
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, dn, n, d0, 1.0, W, dn, p->X->data, d0, -1.0, p->R, dn);
}

static int lp_eval(dln_loss *loss, const double *W, double *value, double *G) {
  lp_impl *p = loss->impl;
  int dn = loss->rows, d0 = loss->cols, n = p->X->cols;
  size_t m = (size_t)dn * (size_t)n;
  residual(loss, W);
  double s = 0, c = p->p / n;
  for (size_t i = 0; i < m; ++i) {
    double r = p->R[i], w = abspow(p, r);
    s += w * r * r;          /* |r|^p */
    p->S[i] = c * w * r;     /* (p/n) |r|^{p−2} r */
  }
  *value = s / n;
  /* ∇ℓ = S X^T */
  if (G) cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, dn, d0, n, 1.0, p->S, dn, p->X->data, d0, 0.0, G, dn);
  return DLN_OK;
}

static int lp_hvp(dln_loss *loss, const double *W, const double *D, double *out) {
  lp_impl *p = loss->impl;
  int dn = loss->rows, d0 = loss->cols, n = p->X->cols;
  size_t m = (size_t)dn * (size_t)n;
  residual(loss, W);
  /* S = D X, then S ∘= (p(p−1)/n) |R|^{p−2}; ∇²ℓ[D] = S X^T */
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, dn, n, d0, 1.0, D, dn, p->X->data, d0, 0.0, p->S, dn);
  double c = p->p * (p->p - 1.0) / n;
  for (size_t i = 0; i < m; ++i) p->S[i] *= c * abspow(p, p->R[i]);
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, dn, d0, n, 1.0, p->S, dn, p->X->data, d0, 0.0, out, dn);
  return DLN_OK;
}

static void lp_destroy(dln_loss *loss) {
  lp_impl *p = loss->impl;
  if (!p) return;
  dln_mat_free(p->X);
  dln_mat_free(p->Y);
  free(p->R);
  free(p->S);
  free(p);
}

/* p = 2 is a (scaled) least-squares loss: quadratic, with L* and W* = Y X^†. */
static const dln_loss_ops lp2_ops = {"lp", DLN_LOSS_QUADRATIC | DLN_LOSS_HAS_LSTAR | DLN_LOSS_HAS_REF, lp_eval, lp_hvp, lp_destroy};
static const dln_loss_ops lp_ops = {"lp", 0u, lp_eval, lp_hvp, lp_destroy};

/* W* = Y X^† and L* = ℓ(W*) (p = 2: the minimum-norm least-squares solution). */
static int lp_reference(dln_loss *l, const dln_mat *X, const dln_mat *Y) {
  dln_mat *T = NULL;
  int st = dln_regression_reduce(X, Y, &T);
  if (st) return st;
  l->wstar = T->data;
  free(T);
  l->wstar_name = "min-norm least-squares solution";
  return lp_eval(l, l->wstar, &l->lstar, NULL);
}

int dln_loss_lp_alloc(dln_loss **out, double pw, const dln_mat *X, const dln_mat *Y) {
  DLN_ARGS(out, X, Y);
  *out = NULL;
  if (!(pw >= 2) || !isfinite(pw)) return dln_error(DLN_EINVAL, "lp loss: p: expected a finite number >= 2, found %g", pw);
  if (!X || !Y || X->cols != Y->cols || X->rows < 1 || Y->rows < 1 || X->cols < 1)
    return dln_error(DLN_EDIM, "lp data: expected X (d_0 x n) and Y (d_N x n) with the same n, found X %dx%d, Y %dx%d",
                     X ? X->rows : 0, X ? X->cols : 0, Y ? Y->rows : 0, Y ? Y->cols : 0);
  int st;
  if ((st = dln_check_finite("lp X", X->rows, X->cols, X->data))) return st;
  if ((st = dln_check_finite("lp Y", Y->rows, Y->cols, Y->data))) return st;
  int d0 = X->rows, n = X->cols, dn = Y->rows;
  dln_loss *l = dln_loss_new(pw == 2 ? &lp2_ops : &lp_ops, dn, d0);
  if (!l) return DLN_ENOMEM;
  lp_impl *p = calloc(1, sizeof *p);
  l->impl = p;
  if (!p) goto nomem;
  p->p = pw;
  p->ip = (pw - 2 == floor(pw - 2) && pw - 2 <= 8) ? (int)(pw - 2) : -1;
  p->X = dln_mat_dup(X);
  p->Y = dln_mat_dup(Y);
  p->R = malloc((size_t)dn * (size_t)n * sizeof(double));
  p->S = malloc((size_t)dn * (size_t)n * sizeof(double));
  if (!p->X || !p->Y || !p->R || !p->S) goto nomem;
  if (pw == 2 && (st = lp_reference(l, X, Y))) {
    dln_loss_free(l);
    return st;
  }
  *out = l;
  return DLN_OK;
nomem:
  dln_loss_free(l);
  return dln_error(DLN_ENOMEM, "out of memory allocating an lp loss (d_0=%d, d_N=%d, n=%d)", d0, dn, n);
}

/* ---------------------------------------------------------------- the task type */
static int check_p(const dln_option *o, const void *field, char *msg, size_t len) {
  (void)o;
  double v = *(const double *)field;
  if (isfinite(v) && v >= 2) return 0;
  snprintf(msg, len, "expected a finite number >= 2, found %g", v);
  return 1;
}

/* clang-format off */
static const dln_option lp_rows[] = {
  {"p", DLN_OPT_DOUBLE, offsetof(dln_task_options, p), "4", "lp: exponent p >= 2 of (1/n) sum_i |W x_i - y_i|_p^p (002 Claim 1; data: regression's rows)", NULL, DLN_OPTR_NONE, 0, 0, check_p, NULL},
  DLN_OPTION_END};
/* clang-format on */

static const dln_task_file lp_files[] = {{"x_file", "X.npy"}, {"y_file", "Y.npy"}, {NULL, NULL}};

static unsigned lp_caps(const dln_task_options *o) { return o->p == 2 ? lp2_ops.caps : lp_ops.caps; }

/* regression's data rows, files and draw (reduce is refused for lp: dln_task_check_foreign) */
static int lp_check(const dln_task_options *o, const char **field) { return dln_task_regression.check(o, field); }
static int lp_shape(const dln_task_options *o, int *rows, int *cols) { return dln_task_regression.shape(o, rows, cols); }
static int lp_data(const dln_task_options *o, dln_rng *rng, dln_task_data *d, const char **field) {
  return dln_task_regression.data(o, rng, d, field);
}

static int lp_loss(const dln_task_options *o, const dln_task_data *d, dln_loss **out) {
  return dln_loss_lp_alloc(out, o->p, d->mats[0], d->mats[1]);
}

static const dln_task_type *const lp_uses[] = {&dln_task_regression, NULL}; /* n_samples, x_rank, noise, x_file, y_file */

const dln_task_type dln_task_lp = {
    .name = "lp",
    .summary = "(1/n) sum_i |W x_i - y_i|_p^p of regression's samples X, Y, p >= 2 (002 Claim 1)",
    .options = lp_rows,
    .files = lp_files,
    .caps = lp_caps,
    .check = lp_check,
    .shape = lp_shape,
    .data = lp_data,
    .loss = lp_loss,
    .data_free = NULL,
    .unused = dln_task_regression_unused,
    .uses = lp_uses,
};
