/* The regression task: ℓ(W) = ½‖WX − Y‖²_F, ∇ℓ = (WX − Y) X^T, ∇²ℓ[D] = D X X^T
 * (000 eq. 2; 003 eq. 1 transposed: samples are columns). W* = Y X^† (minimum-norm least
 * squares), L* = ℓ(W*). With reduce = true the task trains the factorization loss of
 * Ȳ = Y X^† instead (000 eq. 3–5; 004 eq. 2–3). Data: X ~ N(0, 1) (optionally of rank
 * x_rank), Y = W_true X + noise·N(0, 1) with W_true the common ground truth, or x_file
 * and y_file. */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "dln/data.h"
#include "core/util.h"
#include "dln/error.h"
#include "dln/loss.h"
#include "dln/task.h"
#include "model/model_internal.h"

typedef struct {
  dln_mat *X, *Y, *Sxx; /* Sxx = X X^T */
  double *R;            /* residual workspace d_N x n */
} regression_impl;

static int reg_eval(dln_loss *loss, const double *W, double *value, double *G) {
  regression_impl *p = loss->impl;
  int dn = loss->rows, d0 = loss->cols, n = p->X->cols;
  /* R = W X − Y */
  memcpy(p->R, p->Y->data, (size_t)dn * (size_t)n * sizeof(double));
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, dn, n, d0, 1.0, W, dn, p->X->data, d0, -1.0, p->R, dn);
  double nr = dln_norm2((size_t)dn * (size_t)n, p->R);
  *value = 0.5 * nr * nr;
  /* ∇ℓ = R X^T */
  if (G) cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, dn, d0, n, 1.0, p->R, dn, p->X->data, d0, 0.0, G, dn);
  return DLN_OK;
}
static int reg_hvp(dln_loss *loss, const double *W, const double *D, double *out) {
  (void)W;
  regression_impl *p = loss->impl;
  int dn = loss->rows, d0 = loss->cols;
  /* ∇²ℓ[D] = D X X^T */
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, dn, d0, d0, 1.0, D, dn, p->Sxx->data, d0, 0.0, out, dn);
  return DLN_OK;
}
static void reg_destroy(dln_loss *loss) {
  regression_impl *p = loss->impl;
  if (!p) return;
  dln_mat_free(p->X);
  dln_mat_free(p->Y);
  dln_mat_free(p->Sxx);
  free(p->R);
  free(p);
}
static const dln_loss_ops reg_ops = {"regression", DLN_LOSS_QUADRATIC | DLN_LOSS_HAS_LSTAR | DLN_LOSS_HAS_REF | DLN_LOSS_LSQ_DESIGN, reg_eval, reg_hvp, reg_destroy};

int dln_regression_reduce(const dln_mat *X, const dln_mat *Y, dln_mat **target) {
  DLN_ARGS(X, Y, target);
  *target = NULL;
  if (!X || !Y || X->cols != Y->cols || X->rows < 1 || Y->rows < 1 || X->cols < 1)
    return dln_error(DLN_EDIM, "regression data: expected X (d_0 x n) and Y (d_N x n) with the same n, found X %dx%d, Y %dx%d",
                     X ? X->rows : 0, X ? X->cols : 0, Y ? Y->rows : 0, Y ? Y->cols : 0);
  int d0 = X->rows, n = X->cols, dn = Y->rows;
  dln_mat *pinv = dln_mat_alloc(n, d0), *T = dln_mat_alloc(dn, d0);
  int st = (!pinv || !T) ? DLN_ENOMEM : DLN_OK;
  if (!st) st = dln_pinv(d0, n, X->data, 0.0, pinv->data, NULL);
  /* Ȳ = Y X^† (000 eq. 3, transposed to our orientation) */
  if (!st)
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, dn, d0, n, 1.0, Y->data, dn, pinv->data, n, 0.0, T->data, dn);
  dln_mat_free(pinv);
  if (st) {
    dln_mat_free(T);
    return st;
  }
  *target = T;
  return DLN_OK;
}

int dln_loss_regression_alloc(dln_loss **out, const dln_mat *X, const dln_mat *Y) {
  DLN_ARGS(out, X, Y);
  *out = NULL;
  if (!X || !Y || X->cols != Y->cols || X->rows < 1 || Y->rows < 1 || X->cols < 1)
    return dln_error(DLN_EDIM, "regression data: expected X (d_0 x n) and Y (d_N x n) with the same n, found X %dx%d, Y %dx%d",
                     X ? X->rows : 0, X ? X->cols : 0, Y ? Y->rows : 0, Y ? Y->cols : 0);
  int st;
  if ((st = dln_check_finite("regression X", X->rows, X->cols, X->data))) return st;
  if ((st = dln_check_finite("regression Y", Y->rows, Y->cols, Y->data))) return st;
  int d0 = X->rows, n = X->cols, dn = Y->rows;
  dln_loss *l = dln_loss_new(&reg_ops, dn, d0);
  if (!l) return DLN_ENOMEM;
  regression_impl *p = calloc(1, sizeof *p);
  l->impl = p;
  if (!p) goto nomem;
  p->X = dln_mat_dup(X);
  p->Y = dln_mat_dup(Y);
  p->Sxx = dln_mat_alloc(d0, d0);
  p->R = malloc((size_t)dn * (size_t)n * sizeof(double));
  if (!p->X || !p->Y || !p->Sxx || !p->R) goto nomem;
  l->design = p->X;
  /* Sxx = X X^T */
  cblas_dsyrk(CblasColMajor, CblasUpper, CblasNoTrans, d0, n, 1.0, X->data, d0, 0.0, p->Sxx->data, d0);
  for (int j = 0; j < d0; ++j)
    for (int i = j + 1; i < d0; ++i) p->Sxx->data[i + (size_t)j * d0] = p->Sxx->data[j + (size_t)i * d0];
  /* W* = Y X^† (minimum-norm least squares), L* = ℓ(W*) (003 §2.1: L* = ½‖(I − WW^T)Y‖²) */
  dln_mat *T = NULL;
  if ((st = dln_regression_reduce(X, Y, &T))) {
    dln_loss_free(l);
    return st;
  }
  l->wstar = T->data;
  free(T);
  l->wstar_name = "min-norm least-squares solution";
  reg_eval(l, l->wstar, &l->lstar, NULL);
  *out = l;
  return DLN_OK;
nomem:
  dln_loss_free(l);
  return dln_error(DLN_ENOMEM, "out of memory allocating a regression loss (d_0=%d, d_N=%d, n=%d)", d0, dn, n);
}


/* ---------------------------------------------------------------- the task type */
#define OFF(f) offsetof(dln_task_options, f)

/* clang-format off */
static const dln_option reg_rows[] = {
  {"n_samples", DLN_OPT_INT, OFF(n_samples), "20", "regression: number of samples n (X is d_0 x n)", NULL, DLN_OPTR_MIN, 1, 0, NULL, NULL},
  {"x_rank", DLN_OPT_INT, OFF(x_rank), "0", "regression: rank of X (0 = full rank)", NULL, DLN_OPTR_MIN, 0, 0, NULL, NULL},
  {"noise", DLN_OPT_DOUBLE, OFF(noise), "0", "regression: Y = W_true X + noise * N(0,1)", NULL, DLN_OPTR_NONNEG, 0, 0, NULL, NULL},
  {"reduce", DLN_OPT_BOOL, OFF(reduce), "false", "regression: train on the factorization of Ybar = Y X^+ instead (000 eq. 3-5)", NULL, DLN_OPTR_NONE, 0, 0, NULL, NULL},
  {"x_file", DLN_OPT_STRING, OFF(x_file), "", "regression inputs X (d_0 x n, samples are columns)", NULL, DLN_OPTR_NONE, 0, 0, NULL, NULL},
  {"y_file", DLN_OPT_STRING, OFF(y_file), "", "regression outputs Y (d_N x n)", NULL, DLN_OPTR_NONE, 0, 0, NULL, NULL},
  DLN_OPTION_END};
/* clang-format on */

static const dln_task_file reg_files[] = {{"x_file", "X.npy"}, {"y_file", "Y.npy"}, {NULL, NULL}};

static unsigned regr_caps(const dln_task_options *o) {
  return o->reduce ? dln_task_factorization.caps(o) : reg_ops.caps;
}

static int regr_check(const dln_task_options *o, const char **field) {
  int hx = dln_has_text(o->x_file), hy = dln_has_text(o->y_file);
  if (hx != hy) {
    *field = hx ? "x_file" : "y_file";
    return dln_error(DLN_EINVAL, "expected x_file and y_file together, found only %s", *field);
  }
  if (!hx && dln_task_check_size("X (cols x n_samples)", o->cols, o->n_samples)) {
    *field = "n_samples";
    return DLN_EINVAL;
  }
  if (!hx && dln_task_check_size("Y (rows x n_samples)", o->rows, o->n_samples)) {
    *field = "n_samples";
    return DLN_EINVAL;
  }
  return DLN_OK;
}

int dln_task_regression_foreign(const dln_task_type *t, const dln_task_options *o, const char **field) {
  if (o->reduce && t != &dln_task_regression) {
    *field = "reduce";
    return dln_error(DLN_EINVAL, "expected false unless task is %s, found true", dln_task_regression.name);
  }
  return DLN_OK;
}

static int regr_shape(const dln_task_options *o, int *rows, int *cols) {
  if (dln_has_text(o->x_file) || dln_has_text(o->target_file)) return 0;
  *rows = o->rows;
  *cols = o->symmetric_target ? o->rows : o->cols;
  return 1;
}

/* d->impl: Ȳ = Y X^† with reduce = true. */
static int regr_data(const dln_task_options *o, dln_rng *rng, dln_task_data *d, const char **field) {
  int st;
  dln_mat **X = &d->mats[0], **Y = &d->mats[1];
  if (dln_has_text(o->x_file)) {
    if ((st = dln_task_load(o, "x_file", o->x_file, X, field)) || (st = dln_task_load(o, "y_file", o->y_file, Y, field)))
      return st;
    if ((*X)->cols != (*Y)->cols) {
      *field = "y_file";
      return dln_error(DLN_EDIM, "expected %d columns (samples, as in x_file), found %d", (*X)->cols, (*Y)->cols);
    }
  } else {
    if ((st = dln_task_truth(o, rng, &d->truth, field))) return st;
    if ((st = dln_data_regression(rng, d->truth->cols, d->truth->rows, o->n_samples, o->x_rank, d->truth, o->noise, X, Y)))
      return st;
  }
  if (o->reduce) {
    dln_mat *T = NULL;
    if ((st = dln_regression_reduce(*X, *Y, &T))) return st;
    d->impl = T;
  }
  return DLN_OK;
}

static void regr_data_free(dln_task_data *d) { dln_mat_free(d->impl); }

static int regr_loss(const dln_task_options *o, const dln_task_data *d, dln_loss **out) {
  if (o->reduce) {
    if (!d->impl) return dln_error(DLN_EINVAL, "regression with reduce: expected Ybar = Y X^+ in the data, found none");
    return dln_loss_factorization_alloc(out, d->impl);
  }
  return dln_loss_regression_alloc(out, d->mats[0], d->mats[1]);
}

const dln_task_unused dln_task_regression_unused[] = {
    {"x_file", "n_samples,x_rank,noise,rows,cols,target,rank,singular_values,target_sigma,target_file"}, {NULL, NULL}};

const dln_task_type dln_task_regression = {
    .name = "regression",
    .summary = "1/2 |W X - Y|_F^2 of samples X, Y (000 eq. 2); reduce: the factorization of Y X^+",
    .options = reg_rows,
    .files = reg_files,
    .caps = regr_caps,
    .check = regr_check,
    .shape = regr_shape,
    .data = regr_data,
    .loss = regr_loss,
    .data_free = regr_data_free,
    .unused = dln_task_regression_unused,
};
