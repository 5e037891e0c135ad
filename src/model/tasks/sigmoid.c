/* The sigmoid task: a linear network with a logistic sigmoid on its output,
 * ℓ(W) = ½‖Y − s(W X)‖²_F, s(z) = 1/(1 + e^{−z}) entrywise (001 §6, ℓ_1(W) = ½‖Y − φ(XW)‖²
 * transposed: samples are columns, X is d_0 x n, Y is d_N x n). With Z = W X, S = s(Z),
 * R = S − Y, s' = s(1 − s), s'' = s'(1 − 2s):
 *   ∇ℓ = (R ∘ s'(Z)) X^T,   ∇²ℓ[D] = ((s'(Z)² + R ∘ s''(Z)) ∘ (D X)) X^T   (exact, with s'').
 * Not quadratic, not convex in W, no closed form; L* and the minimizer are unknown.
 * Data: x_file and y_file, or 001 Fig. 3's generator: W_true and X with N(0, 1) entries
 * (the common target rows; X as regression draws it, of rank x_rank), Y = s(W_true X) +
 * noise·N(0, 1) (001 §6: n = 1000, d = 10, noise 1e-3). */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "dln/data.h"
#include "dln/error.h"
#include "dln/loss.h"
#include "dln/task.h"
#include "model/model_internal.h"

typedef struct {
  dln_mat *X, *Y;
  double *Z;  /* workspace d_N x n: W X, then R ∘ s' or D X */
  double *H;  /* d_N x n: s'² + R s'' at Wc (the Hessian's weights) */
  double *Wc; /* the W that H belongs to */
  int have_h;
} sigmoid_impl;

/* s(z) and 1 − s(z) = s(−z), each without cancellation or overflow for any finite z. */
static inline void sig2(double z, double *s, double *c) {
  double e = exp(-fabs(z)), d = 1.0 / (1.0 + e);
  if (z >= 0) *s = d, *c = e * d;
  else *s = e * d, *c = d;
}

static int sig_eval(dln_loss *loss, const double *W, double *value, double *G) {
  sigmoid_impl *p = loss->impl;
  int dn = loss->rows, d0 = loss->cols, n = p->X->cols;
  size_t len = (size_t)dn * (size_t)n;
  /* Z = W X */
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, dn, n, d0, 1.0, W, dn, p->X->data, d0, 0.0, p->Z, dn);
  double acc = 0;
  for (size_t i = 0; i < len; ++i) {
    double s, c;
    sig2(p->Z[i], &s, &c);
    double r = s - p->Y->data[i];
    acc += r * r;
    p->Z[i] = r * s * c; /* R ∘ s'(Z) */
  }
  *value = 0.5 * acc;
  /* ∇ℓ = (R ∘ s') X^T */
  if (G) cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, dn, d0, n, 1.0, p->Z, dn, p->X->data, d0, 0.0, G, dn);
  return DLN_OK;
}

/* H = s'(Z)² + R ∘ s''(Z) at Z = W X, with s'' = −s' tanh(z/2) (= s'(1 − 2s)). */
static void sig_weights(sigmoid_impl *p, const double *W, int dn, int d0) {
  int n = p->X->cols;
  size_t len = (size_t)dn * (size_t)n;
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, dn, n, d0, 1.0, W, dn, p->X->data, d0, 0.0, p->H, dn);
  for (size_t i = 0; i < len; ++i) {
    double z = p->H[i], s, c;
    sig2(z, &s, &c);
    double d1 = s * c, r = s - p->Y->data[i];
    p->H[i] = d1 * d1 - r * d1 * tanh(0.5 * z);
  }
  memcpy(p->Wc, W, (size_t)dn * (size_t)d0 * sizeof(double));
  p->have_h = 1;
}

static int sig_hvp(dln_loss *loss, const double *W, const double *D, double *out) {
  sigmoid_impl *p = loss->impl;
  int dn = loss->rows, d0 = loss->cols, n = p->X->cols;
  size_t len = (size_t)dn * (size_t)n;
  /* the weights depend on W only: Krylov solvers ask many products at one W */
  if (!p->have_h || memcmp(p->Wc, W, (size_t)dn * (size_t)d0 * sizeof(double)) != 0) sig_weights(p, W, dn, d0);
  /* Z = H ∘ (D X), out = Z X^T */
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, dn, n, d0, 1.0, D, dn, p->X->data, d0, 0.0, p->Z, dn);
  for (size_t i = 0; i < len; ++i) p->Z[i] *= p->H[i];
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, dn, d0, n, 1.0, p->Z, dn, p->X->data, d0, 0.0, out, dn);
  return DLN_OK;
}

static void sig_destroy(dln_loss *loss) {
  sigmoid_impl *p = loss->impl;
  if (!p) return;
  dln_mat_free(p->X);
  dln_mat_free(p->Y);
  free(p->Z);
  free(p->H);
  free(p->Wc);
  free(p);
}

/* No capability: not quadratic (not convex in W: a minimum of its φ may be a true local
 * minimum, so `dln check` gives no 004 Prop. 4 verdict on it), no known L* or reference
 * solution, no identity or least-squares structure. */
static const dln_loss_ops sig_ops = {"sigmoid", 0u, sig_eval, sig_hvp, sig_destroy};

int dln_loss_sigmoid_alloc(dln_loss **out, const dln_mat *X, const dln_mat *Y) {
  DLN_ARGS(out, X, Y);
  *out = NULL;
  if (X->cols != Y->cols || X->rows < 1 || Y->rows < 1 || X->cols < 1)
    return dln_error(DLN_EDIM, "sigmoid data: expected X (d_0 x n) and Y (d_N x n) with the same n, found X %dx%d, Y %dx%d",
                     X->rows, X->cols, Y->rows, Y->cols);
  int st;
  if ((st = dln_check_finite("sigmoid X", X->rows, X->cols, X->data))) return st;
  if ((st = dln_check_finite("sigmoid Y", Y->rows, Y->cols, Y->data))) return st;
  int d0 = X->rows, n = X->cols, dn = Y->rows;
  size_t len = (size_t)dn * (size_t)n;
  dln_loss *l = dln_loss_new(&sig_ops, dn, d0);
  if (!l) return DLN_ENOMEM;
  sigmoid_impl *p = calloc(1, sizeof *p);
  l->impl = p;
  if (!p) goto nomem;
  p->X = dln_mat_dup(X);
  p->Y = dln_mat_dup(Y);
  p->Z = malloc(len * sizeof(double));
  p->H = malloc(len * sizeof(double));
  p->Wc = malloc((size_t)dn * (size_t)d0 * sizeof(double));
  if (!p->X || !p->Y || !p->Z || !p->H || !p->Wc) goto nomem;
  *out = l;
  return DLN_OK;
nomem:
  dln_loss_free(l);
  return dln_error(DLN_ENOMEM, "out of memory allocating a sigmoid loss (d_0=%d, d_N=%d, n=%d)", d0, dn, n);
}

/* ---------------------------------------------------------------- the task type */

static const dln_task_file sig_files[] = {{"x_file", "X.npy"}, {"y_file", "Y.npy"}, {NULL, NULL}};

static unsigned sig_caps(const dln_task_options *o) {
  (void)o;
  return sig_ops.caps;
}

/* The same rules as regression's (its rows are shared): files together, sizes bounded. */
static int sig_check(const dln_task_options *o, const char **field) {
  return dln_task_regression.check(o, field);
}

static int sig_shape(const dln_task_options *o, int *rows, int *cols) {
  if (dln_has_text(o->x_file) || dln_has_text(o->target_file)) return 0;
  *rows = o->rows;
  *cols = o->cols;
  return 1;
}

/* 001 §6: Y = s(W_true X) + noise·E. X and E ~ N(0, 1) are drawn as regression draws X
 * and its noise (dln_data_regression without W_true returns Y = E), after W_true. */
static int sig_generate(const dln_task_options *o, dln_rng *rng, dln_task_data *d) {
  int st;
  dln_mat **X = &d->mats[0], **Y = &d->mats[1];
  if ((st = dln_data_regression(rng, d->truth->cols, d->truth->rows, o->n_samples, o->x_rank, NULL, 0.0, X, Y))) return st;
  const dln_mat *T = d->truth;
  int dn = T->rows, d0 = T->cols, n = o->n_samples;
  dln_mat *Z = dln_mat_alloc(dn, n);
  if (!Z) return dln_error(DLN_ENOMEM, "sigmoid data: out of memory for W_true X (%d x %d)", dn, n);
  /* Z = W_true X; Y = s(Z) + noise·E (E is in Y) */
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, dn, n, d0, 1.0, T->data, dn, (*X)->data, d0, 0.0, Z->data, dn);
  for (size_t i = 0; i < (size_t)dn * (size_t)n; ++i) {
    double s, c;
    sig2(Z->data[i], &s, &c);
    (*Y)->data[i] = s + o->noise * (*Y)->data[i];
  }
  dln_mat_free(Z);
  return DLN_OK;
}

static int sig_data(const dln_task_options *o, dln_rng *rng, dln_task_data *d, const char **field) {
  int st;
  dln_mat **X = &d->mats[0], **Y = &d->mats[1];
  if (dln_has_text(o->x_file)) {
    if ((st = dln_task_load(o, "x_file", o->x_file, X, field)) || (st = dln_task_load(o, "y_file", o->y_file, Y, field)))
      return st;
    if ((*X)->cols != (*Y)->cols) {
      *field = "y_file";
      return dln_error(DLN_EDIM, "expected %d columns (samples, as in x_file), found %d", (*X)->cols, (*Y)->cols);
    }
    return DLN_OK;
  }
  if ((st = dln_task_truth(o, rng, &d->truth, field))) return st;
  return sig_generate(o, rng, d);
}

static int sig_loss(const dln_task_options *o, const dln_task_data *d, dln_loss **out) {
  (void)o;
  return dln_loss_sigmoid_alloc(out, d->mats[0], d->mats[1]);
}

/* reads regression's rows n_samples, x_rank, noise, x_file, y_file (reduce is refused) */
static const dln_task_type *const sig_uses[] = {&dln_task_regression, NULL};

const dln_task_type dln_task_sigmoid = {
    .name = "sigmoid",
    .summary = "1/2 |Y - s(W X)|_F^2, s the logistic sigmoid (001 sec. 6, Fig. 3); data Y = s(W_true X) + noise N(0,1)",
    .options = NULL,
    .files = sig_files,
    .caps = sig_caps,
    .check = sig_check,
    .shape = sig_shape,
    .data = sig_data,
    .loss = sig_loss,
    .unused = dln_task_regression_unused, /* x_file makes the generator's rows unused */
    .uses = sig_uses,
};
