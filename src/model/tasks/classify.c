/* The classification tasks (002 §2: cross-entropy as an example of ℓ; 004 Remark 3).
 * Samples are columns of X (d_0 x n); W = W_N···W_1 maps x to W x.
 *   logistic  ℓ(W) = (1/n) Σ_i log(1 + exp(−y_i W x_i)),  W: 1 x d_0, y_i ∈ {−1, +1}
 *   softmax   ℓ(W) = (1/n) Σ_i −log softmax(W x_i)_{c_i}, W: K x d_0, c_i ∈ {0..K−1}
 * Evaluated in stable forms (softplus by log1p(exp(−|m|)), log-sum-exp with the column
 * maximum subtracted), so |W x| up to 1e3 and beyond give finite, correctly rounded values.
 * Gradients and Hessian-vector products:
 *   logistic  ∇ℓ = (1/n) Σ −y_i σ(−m_i) x_i^T,  ∇²ℓ[D] = (1/n) Σ σ(m_i)σ(−m_i) (D x_i) x_i^T,  m_i = y_i W x_i
 *   softmax   ∇ℓ = (1/n) (P − E) X^T,  ∇²ℓ[D] = (1/n) Σ (diag p_i − p_i p_i^T)(D x_i) x_i^T
 * On separable data inf ℓ = 0 is not attained (ℓ → 0 only as ‖W‖ → ∞): L* is left unknown
 * (NAN), the loss has DLN_LOSS_CLASSIFY and dln_loss_margin gives its smallest margin.
 * Data: X ~ N(0, 1) (rank x_rank), scores S = W_true X + noise·N(0, 1) from the common
 * ground truth (regression's generator, same stream), labels sign(S) / argmax_k S_k
 * (noise = 0: separable by W_true); or x_file and y_file. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "dln/data.h"
#include "dln/error.h"
#include "dln/loss.h"
#include "dln/task.h"
#include "model/model_internal.h"

typedef struct {
  dln_mat *X;   /* d_0 x n */
  int *label;   /* n: ±1 (logistic) or 0..K−1 (softmax) */
  double *Z, *U; /* workspaces K x n */
} cls_impl;

/* ---------------------------------------------------------------- logistic */

/* log(1 + exp(−m)) without overflow or cancellation */
static double softplus_neg(double m) { return m >= 0 ? log1p(exp(-m)) : -m + log1p(exp(m)); }
/* σ(−m) = 1/(1 + exp(m)) */
static double sigm_neg(double m) {
  if (m >= 0) {
    double e = exp(-m);
    return e / (1 + e);
  }
  return 1 / (1 + exp(m));
}

static int logi_eval(dln_loss *loss, const double *W, double *value, double *G) {
  cls_impl *p = loss->impl;
  int d0 = loss->cols, n = p->X->cols;
  double *z = p->Z;
  /* z = (W X)^T */
  cblas_dgemv(CblasColMajor, CblasTrans, d0, n, 1.0, p->X->data, d0, W, 1, 0.0, z, 1);
  double s = 0;
  for (int i = 0; i < n; ++i) {
    double m = p->label[i] * z[i];
    s += softplus_neg(m);
    z[i] = -p->label[i] * sigm_neg(m) / n; /* ∂ℓ/∂z_i */
  }
  *value = s / n;
  if (G) cblas_dgemv(CblasColMajor, CblasNoTrans, d0, n, 1.0, p->X->data, d0, z, 1, 0.0, G, 1);
  return DLN_OK;
}

static int logi_hvp(dln_loss *loss, const double *W, const double *D, double *out) {
  cls_impl *p = loss->impl;
  int d0 = loss->cols, n = p->X->cols;
  double *z = p->Z, *u = p->U;
  cblas_dgemv(CblasColMajor, CblasTrans, d0, n, 1.0, p->X->data, d0, W, 1, 0.0, z, 1);
  cblas_dgemv(CblasColMajor, CblasTrans, d0, n, 1.0, p->X->data, d0, D, 1, 0.0, u, 1);
  for (int i = 0; i < n; ++i) {
    double e = exp(-fabs(z[i])); /* σ(m)σ(−m) = e/(1+e)², even in m */
    u[i] *= e / ((1 + e) * (1 + e)) / n;
  }
  cblas_dgemv(CblasColMajor, CblasNoTrans, d0, n, 1.0, p->X->data, d0, u, 1, 0.0, out, 1);
  return DLN_OK;
}

static int logi_margin(dln_loss *loss, const double *W, double *min_margin) {
  cls_impl *p = loss->impl;
  int d0 = loss->cols, n = p->X->cols;
  cblas_dgemv(CblasColMajor, CblasTrans, d0, n, 1.0, p->X->data, d0, W, 1, 0.0, p->Z, 1);
  double mn = INFINITY;
  for (int i = 0; i < n; ++i) mn = fmin(mn, p->label[i] * p->Z[i]); /* y_i W x_i */
  *min_margin = mn;
  return DLN_OK;
}

/* ---------------------------------------------------------------- softmax */

/* Z (K x n) = W X */
static void scores(dln_loss *loss, const double *W, double *Z) {
  cls_impl *p = loss->impl;
  int K = loss->rows, d0 = loss->cols, n = p->X->cols;
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, K, n, d0, 1.0, W, K, p->X->data, d0, 0.0, Z, K);
}

/* column z (K) → softmax p in place, p_k = exp(z_k − max)/Σ exp(z_j − max) (each to a few
 * ulps); returns −log softmax(z)_c = (max − z_c) + log Σ exp(z_j − max), without the
 * cancellation of lse − z_c at |z| ~ 1e3 */
static double softmax_col(int K, double *z, int c) {
  double mx = z[0], s = 0;
  for (int k = 1; k < K; ++k) mx = fmax(mx, z[k]);
  double nll = mx - z[c];
  for (int k = 0; k < K; ++k) s += (z[k] = exp(z[k] - mx));
  for (int k = 0; k < K; ++k) z[k] /= s;
  return nll + log(s);
}

static int soft_eval(dln_loss *loss, const double *W, double *value, double *G) {
  cls_impl *p = loss->impl;
  int K = loss->rows, d0 = loss->cols, n = p->X->cols;
  scores(loss, W, p->Z);
  double s = 0;
  for (int i = 0; i < n; ++i) {
    double *z = p->Z + (size_t)i * K;
    s += softmax_col(K, z, p->label[i]); /* −log softmax(z)_c */
    z[p->label[i]] -= 1;                 /* p − e_c */
  }
  *value = s / n;
  /* ∇ℓ = (1/n) (P − E) X^T */
  if (G) cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, K, d0, n, 1.0 / n, p->Z, K, p->X->data, d0, 0.0, G, K);
  return DLN_OK;
}

static int soft_hvp(dln_loss *loss, const double *W, const double *D, double *out) {
  cls_impl *p = loss->impl;
  int K = loss->rows, d0 = loss->cols, n = p->X->cols;
  scores(loss, W, p->Z);
  scores(loss, D, p->U); /* U = D X */
  for (int i = 0; i < n; ++i) {
    double *z = p->Z + (size_t)i * K, *u = p->U + (size_t)i * K, pu = 0;
    softmax_col(K, z, 0);
    for (int k = 0; k < K; ++k) pu += z[k] * u[k];
    for (int k = 0; k < K; ++k) u[k] = z[k] * (u[k] - pu); /* (diag p − p p^T) u */
  }
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, K, d0, n, 1.0 / n, p->U, K, p->X->data, d0, 0.0, out, K);
  return DLN_OK;
}

static int soft_margin(dln_loss *loss, const double *W, double *min_margin) {
  cls_impl *p = loss->impl;
  int K = loss->rows, n = p->X->cols;
  scores(loss, W, p->Z);
  double mn = INFINITY;
  for (int i = 0; i < n; ++i) {
    const double *z = p->Z + (size_t)i * K;
    int c = p->label[i];
    double other = -INFINITY;
    for (int k = 0; k < K; ++k)
      if (k != c) other = fmax(other, z[k]);
    mn = fmin(mn, z[c] - other); /* (W x_i)_c − max_{k≠c} (W x_i)_k */
  }
  *min_margin = mn;
  return DLN_OK;
}

/* ---------------------------------------------------------------- construction */

static void cls_destroy(dln_loss *loss) {
  cls_impl *p = loss->impl;
  if (!p) return;
  dln_mat_free(p->X);
  free(p->label);
  free(p->Z);
  free(p->U);
  free(p);
}

#define CLS_CAPS DLN_LOSS_CLASSIFY
static const dln_loss_ops logi_ops = {"logistic", CLS_CAPS, logi_eval, logi_hvp, cls_destroy};
static const dln_loss_ops soft_ops = {"softmax", CLS_CAPS, soft_eval, soft_hvp, cls_destroy};

/* Labels: a 1 x n matrix of ±1 (classes = 0) or of integers 0..classes−1. `what` names the
 * file (or "labels") in the message, with the 1-based column, the expected and found value. */
static int check_labels(const dln_mat *y, int n, int classes, const char *what) {
  if (!y || y->rows != 1 || y->cols != n)
    return dln_error(DLN_EDIM, "%s: expected a 1 x %d label row (one label per sample), found %d x %d", what, n, y ? y->rows : 0,
                     y ? y->cols : 0);
  for (int i = 0; i < n; ++i) {
    double v = y->data[i];
    if (classes == 0 && v != 1 && v != -1)
      return dln_error(DLN_EINVAL, "%s: column %d: expected a label -1 or +1, found %.17g", what, i + 1, v);
    if (classes > 0 && !(v >= 0 && v <= classes - 1 && v == floor(v)))
      return dln_error(DLN_EINVAL, "%s: column %d: expected an integer class label in 0..%d, found %.17g", what, i + 1,
                       classes - 1, v);
  }
  return DLN_OK;
}

static int cls_alloc(dln_loss **out, const dln_loss_ops *ops, int classes, const dln_mat *X, const dln_mat *y) {
  DLN_ARGS(out, X, y);
  *out = NULL;
  if (X->rows < 1 || X->cols < 1)
    return dln_error(DLN_EDIM, "%s data: expected X (d_0 x n) with d_0, n >= 1, found %dx%d", ops->name, X->rows, X->cols);
  int K = classes ? classes : 1, n = X->cols, st;
  if ((st = dln_check_finite(ops == &logi_ops ? "logistic X" : "softmax X", X->rows, X->cols, X->data))) return st;
  if ((st = check_labels(y, n, classes, "labels"))) return st;
  dln_loss *l = dln_loss_new(ops, K, X->rows);
  if (!l) return DLN_ENOMEM;
  cls_impl *p = calloc(1, sizeof *p);
  l->impl = p;
  if (p) {
    p->X = dln_mat_dup(X);
    p->label = malloc((size_t)n * sizeof *p->label);
    p->Z = malloc((size_t)K * (size_t)n * sizeof *p->Z);
    p->U = malloc((size_t)K * (size_t)n * sizeof *p->U);
  }
  if (!p || !p->X || !p->label || !p->Z || !p->U) {
    dln_loss_free(l);
    return dln_error(DLN_ENOMEM, "out of memory allocating a %s loss (d_0=%d, K=%d, n=%d)", ops->name, X->rows, K, n);
  }
  for (int i = 0; i < n; ++i) p->label[i] = (int)y->data[i];
  l->margin = ops == &logi_ops ? logi_margin : soft_margin;
  l->wstar_name = NULL; /* no reference solution: the minimizer may not exist */
  *out = l;
  return DLN_OK;
}

int dln_loss_logistic_alloc(dln_loss **out, const dln_mat *X, const dln_mat *y) {
  return cls_alloc(out, &logi_ops, 0, X, y);
}

int dln_loss_softmax_alloc(dln_loss **out, int classes, const dln_mat *X, const dln_mat *c) {
  DLN_ARGS(out, X, c);
  *out = NULL;
  if (classes < 2) return dln_error(DLN_EINVAL, "softmax: classes: expected at least 2, found %d", classes);
  return cls_alloc(out, &soft_ops, classes, X, c);
}

/* ---------------------------------------------------------------- the task types */

static const dln_task_file cls_files[] = {{"x_file", "X.npy"}, {"y_file", "labels.npy"}, {NULL, NULL}};

static unsigned cls_caps(const dln_task_options *o) {
  (void)o;
  return CLS_CAPS;
}

/* classes of the softmax task (d_N = rows); 0 for logistic (labels ±1, d_N = 1) */
static int cls_check(const dln_task_options *o, const char **field, int softmax) {
  int hx = dln_has_text(o->x_file), hy = dln_has_text(o->y_file);
  if (hx != hy) {
    *field = hx ? "x_file" : "y_file";
    return dln_error(DLN_EINVAL, "expected x_file and y_file together, found only %s", *field);
  }
  if (!softmax && !hx && o->rows != 1) {
    *field = "rows";
    return dln_error(DLN_EINVAL, "expected 1 (binary logistic: d_N = 1, W_true is 1 x cols), found %d", o->rows);
  }
  if (softmax && o->rows < 2) {
    *field = "rows";
    return dln_error(DLN_EINVAL, "expected the number of classes K = d_N >= 2, found %d", o->rows);
  }
  if (!hx && (dln_task_check_size("X (cols x n_samples)", o->cols, o->n_samples) ||
              dln_task_check_size("scores (rows x n_samples)", o->rows, o->n_samples))) {
    *field = "n_samples";
    return DLN_EINVAL;
  }
  return DLN_OK;
}
static int logi_check(const dln_task_options *o, const char **field) { return cls_check(o, field, 0); }
static int soft_check(const dln_task_options *o, const char **field) { return cls_check(o, field, 1); }

static int cls_shape(const dln_task_options *o, int *rows, int *cols) {
  if (dln_has_text(o->x_file) || dln_has_text(o->target_file)) return 0;
  *rows = o->rows;
  *cols = o->cols;
  return 1;
}

/* Labels from the teacher's scores S (rows x n): sign (logistic) or argmax (softmax). */
static int labels_from_scores(const dln_mat *S, dln_mat **out) {
  int K = S->rows, n = S->cols;
  dln_mat *y = dln_mat_alloc(1, n);
  if (!y) return dln_error(DLN_ENOMEM, "out of memory allocating %d labels", n);
  for (int i = 0; i < n; ++i) {
    const double *s = S->data + (size_t)i * K;
    int best = 0;
    for (int k = 1; k < K; ++k)
      if (s[k] > s[best]) best = k;
    y->data[i] = K == 1 ? (s[0] >= 0 ? 1.0 : -1.0) : (double)best;
  }
  *out = y;
  return DLN_OK;
}

static int cls_data(const dln_task_options *o, dln_rng *rng, dln_task_data *d, const char **field, int softmax) {
  int st;
  dln_mat **X = &d->mats[0], **y = &d->mats[1];
  if (dln_has_text(o->x_file)) {
    if ((st = dln_task_load(o, "x_file", o->x_file, X, field)) || (st = dln_task_load(o, "y_file", o->y_file, y, field)))
      return st;
    char what[1100];
    snprintf(what, sizeof what, "'%s'", o->y_file);
    *field = "y_file";
    return check_labels(*y, (*X)->cols, softmax ? o->rows : 0, what);
  }
  if ((st = dln_task_truth(o, rng, &d->truth, field))) return st;
  if (d->truth->rows != (softmax ? o->rows : 1)) {
    *field = "target_file";
    return dln_error(DLN_EDIM, "expected a W_true of %d rows (%s), found %d x %d", softmax ? o->rows : 1,
                     softmax ? "the classes K = rows" : "binary logistic", d->truth->rows, d->truth->cols);
  }
  dln_mat *S = NULL;
  st = dln_data_regression(rng, d->truth->cols, d->truth->rows, o->n_samples, o->x_rank, d->truth, o->noise, X, &S);
  if (!st) st = labels_from_scores(S, y);
  dln_mat_free(S);
  return st;
}
static int logi_data(const dln_task_options *o, dln_rng *rng, dln_task_data *d, const char **field) {
  return cls_data(o, rng, d, field, 0);
}
static int soft_data(const dln_task_options *o, dln_rng *rng, dln_task_data *d, const char **field) {
  return cls_data(o, rng, d, field, 1);
}

static int logi_loss(const dln_task_options *o, const dln_task_data *d, dln_loss **out) {
  (void)o;
  return dln_loss_logistic_alloc(out, d->mats[0], d->mats[1]);
}
static int soft_loss(const dln_task_options *o, const dln_task_data *d, dln_loss **out) {
  return dln_loss_softmax_alloc(out, o->rows, d->mats[0], d->mats[1]);
}

/* the generator's rows are regression's (n_samples, x_rank, noise, x_file, y_file) */
static const dln_task_type *const cls_uses[] = {&dln_task_regression, NULL};
static const dln_task_unused logi_unused[] = {
    {"x_file", "n_samples,x_rank,noise,rows,cols,target,rank,singular_values,target_sigma,target_file"}, {NULL, NULL}};
static const dln_task_unused soft_unused[] = { /* rows stays: the number of classes K */
    {"x_file", "n_samples,x_rank,noise,cols,target,rank,singular_values,target_sigma,target_file"}, {NULL, NULL}};

static const char *const logi_defaults[] = {"rows", "1", NULL}; /* d_N = 1 */

const dln_task_type dln_task_logistic = {
    .name = "logistic",
    .summary = "(1/n) sum_i log(1 + exp(-y_i W x_i)), labels y_i = +-1, d_N = 1 (002 sec. 2); data: sign(W_true X + noise)",
    .files = cls_files,
    .caps = cls_caps,
    .check = logi_check,
    .shape = cls_shape,
    .data = logi_data,
    .loss = logi_loss,
    .unused = logi_unused,
    .uses = cls_uses,
    .defaults = logi_defaults,
};

const dln_task_type dln_task_softmax = {
    .name = "softmax",
    .summary = "(1/n) sum_i -log softmax(W x_i)_{c_i}, classes c_i in 0..K-1, K = rows; data: argmax of W_true X + noise",
    .files = cls_files,
    .caps = cls_caps,
    .check = soft_check,
    .shape = cls_shape,
    .data = soft_data,
    .loss = soft_loss,
    .unused = soft_unused,
    .uses = cls_uses,
};
