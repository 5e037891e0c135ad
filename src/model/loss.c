/* Tasks as losses of the end-to-end matrix (dln/loss.h).
 *   regression     ℓ(W) = ½‖WX − Y‖²,  ∇ℓ = (WX − Y) X^T,  ∇²ℓ[D] = D X X^T     (000 eq. 2)
 *   factorization  ℓ(W) = ½‖W − Ȳ‖²,   ∇ℓ = W − Ȳ,          ∇²ℓ[D] = D          (001 eq. 2, 11)
 *   sensing        ℓ(W) = (1/2m)Σ(⟨W,A_i⟩ − b_i)², ∇ℓ = (1/m)Σ r_i A_i,
 *                  ∇²ℓ[D] = (1/m)Σ⟨D,A_i⟩A_i                                    (002 eq. 9)
 *   completion     sensing with A_i = e_{r_i} e_{c_i}^T                           (002 §4.1)
 * L* and the reference solution W* (minimum-norm least squares) are computed once. */
#include "dln/loss.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dln/error.h"

typedef struct {
  dln_mat *X, *Y, *Sxx; /* Sxx = X X^T */
  double *R;            /* residual workspace d_N x n */
} regression_impl;

typedef struct {
  int m;
  double *A; /* (rows*cols) x m, column i = vec(A_i) */
  double *b, *r;
} sensing_impl;

typedef struct {
  int m;
  int *idx; /* linear index r + c*rows */
  double *v;
} completion_impl;

int dln_loss_eval(dln_loss *loss, const double *W, double *value, double *G) {
  return loss->ops->eval(loss, W, value, G);
}
int dln_loss_hvp(dln_loss *loss, const double *W, const double *D, double *out) {
  return loss->ops->hvp(loss, W, D, out);
}
int dln_loss_has(const dln_loss *loss, unsigned caps) {
  return loss && loss->ops && (loss->ops->caps & caps) == caps;
}
const dln_mat *dln_loss_design(const dln_loss *loss) {
  if (!dln_loss_has(loss, DLN_LOSS_LSQ_DESIGN)) return NULL;
  return ((const regression_impl *)loss->impl)->X;
}
const char *dln_loss_name(const dln_loss *loss) { return loss && loss->ops && loss->ops->name ? loss->ops->name : "?"; }

void dln_loss_free(dln_loss *loss) {
  if (!loss) return;
  if (loss->ops && loss->ops->destroy) loss->ops->destroy(loss);
  free(loss->wstar);
  free(loss);
}

static dln_loss *loss_new(const dln_loss_ops *ops, int rows, int cols) {
  dln_loss *l = calloc(1, sizeof *l);
  if (!l) {
    dln_error(DLN_ENOMEM, "out of memory allocating a loss");
    return NULL;
  }
  l->ops = ops;
  l->rows = rows;
  l->cols = cols;
  l->lstar = NAN;
  l->target_norm = NAN;
  return l;
}

/* ---------------------------------------------------------------- factorization */
static int fact_eval(dln_loss *loss, const double *W, double *value, double *G) {
  const double *T = loss->wstar;
  size_t n = (size_t)loss->rows * (size_t)loss->cols;
  double s = 0;
  if (G) {
    for (size_t i = 0; i < n; ++i) {
      G[i] = W[i] - T[i]; /* ∇ℓ = W − Ȳ */
      s += G[i] * G[i];
    }
  } else {
    for (size_t i = 0; i < n; ++i) s += (W[i] - T[i]) * (W[i] - T[i]);
  }
  *value = 0.5 * s;
  return DLN_OK;
}
static int fact_hvp(dln_loss *loss, const double *W, const double *D, double *out) {
  (void)W;
  memcpy(out, D, (size_t)loss->rows * (size_t)loss->cols * sizeof(double));
  return DLN_OK;
}
static void fact_destroy(dln_loss *loss) { (void)loss; }
static const dln_loss_ops fact_ops = {"factorization", DLN_LOSS_QUADRATIC | DLN_LOSS_HAS_LSTAR | DLN_LOSS_HAS_REF | DLN_LOSS_IDENTITY, fact_eval, fact_hvp, fact_destroy};

int dln_loss_factorization_alloc(dln_loss **out, const dln_mat *target) {
  *out = NULL;
  if (!target || target->rows < 1 || target->cols < 1)
    return dln_error(DLN_EDIM, "factorization target: expected a non-empty matrix, found %dx%d", target ? target->rows : 0,
                     target ? target->cols : 0);
  int st = dln_check_finite("factorization target", target->rows, target->cols, target->data);
  if (st) return st;
  dln_loss *l = loss_new(&fact_ops, target->rows, target->cols);
  if (!l) return DLN_ENOMEM;
  size_t n = (size_t)target->rows * (size_t)target->cols;
  l->wstar = malloc(n * sizeof(double));
  if (!l->wstar) {
    dln_loss_free(l);
    return dln_error(DLN_ENOMEM, "out of memory copying the factorization target");
  }
  memcpy(l->wstar, target->data, n * sizeof(double));
  l->lstar = 0.0;
  l->wstar_name = "target";
  l->target_norm = dln_norm2(n, l->wstar);
  *out = l;
  return DLN_OK;
}

/* ---------------------------------------------------------------- regression */
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
  *out = NULL;
  if (!X || !Y || X->cols != Y->cols || X->rows < 1 || Y->rows < 1 || X->cols < 1)
    return dln_error(DLN_EDIM, "regression data: expected X (d_0 x n) and Y (d_N x n) with the same n, found X %dx%d, Y %dx%d",
                     X ? X->rows : 0, X ? X->cols : 0, Y ? Y->rows : 0, Y ? Y->cols : 0);
  int st;
  if ((st = dln_check_finite("regression X", X->rows, X->cols, X->data))) return st;
  if ((st = dln_check_finite("regression Y", Y->rows, Y->cols, Y->data))) return st;
  int d0 = X->rows, n = X->cols, dn = Y->rows;
  dln_loss *l = loss_new(&reg_ops, dn, d0);
  if (!l) return DLN_ENOMEM;
  regression_impl *p = calloc(1, sizeof *p);
  l->impl = p;
  if (!p) goto nomem;
  p->X = dln_mat_dup(X);
  p->Y = dln_mat_dup(Y);
  p->Sxx = dln_mat_alloc(d0, d0);
  p->R = malloc((size_t)dn * (size_t)n * sizeof(double));
  if (!p->X || !p->Y || !p->Sxx || !p->R) goto nomem;
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

/* ---------------------------------------------------------------- sensing */
static int sens_eval(dln_loss *loss, const double *W, double *value, double *G) {
  sensing_impl *p = loss->impl;
  int rc = loss->rows * loss->cols, m = p->m;
  /* r = A^T vec(W) − b */
  memcpy(p->r, p->b, (size_t)m * sizeof(double));
  cblas_dgemv(CblasColMajor, CblasTrans, rc, m, 1.0, p->A, rc, W, 1, -1.0, p->r, 1);
  double nr = cblas_dnrm2(m, p->r, 1);
  *value = 0.5 * nr * nr / m;
  /* ∇ℓ = (1/m) A r */
  if (G) cblas_dgemv(CblasColMajor, CblasNoTrans, rc, m, 1.0 / m, p->A, rc, p->r, 1, 0.0, G, 1);
  return DLN_OK;
}
static int sens_hvp(dln_loss *loss, const double *W, const double *D, double *out) {
  (void)W;
  sensing_impl *p = loss->impl;
  int rc = loss->rows * loss->cols, m = p->m;
  /* ∇²ℓ[D] = (1/m) A A^T vec(D) */
  cblas_dgemv(CblasColMajor, CblasTrans, rc, m, 1.0, p->A, rc, D, 1, 0.0, p->r, 1);
  cblas_dgemv(CblasColMajor, CblasNoTrans, rc, m, 1.0 / m, p->A, rc, p->r, 1, 0.0, out, 1);
  return DLN_OK;
}
static void sens_destroy(dln_loss *loss) {
  sensing_impl *p = loss->impl;
  if (!p) return;
  free(p->A);
  free(p->b);
  free(p->r);
  free(p);
}
static const dln_loss_ops sens_ops = {"sensing", DLN_LOSS_QUADRATIC | DLN_LOSS_HAS_LSTAR | DLN_LOSS_HAS_REF, sens_eval, sens_hvp, sens_destroy};

/* Above this many entries of A the dense pseudo-inverse for W* is skipped. */
#define DLN_SENSING_PINV_LIMIT 4000000

int dln_loss_sensing_alloc(dln_loss **out, int rows, int cols, int m, const double *A, const double *b) {
  *out = NULL;
  size_t rc, total;
  int st;
  if (rows < 1 || cols < 1 || m < 1)
    return dln_error(DLN_EDIM, "matrix sensing: expected rows, cols, m >= 1, found %d, %d, %d", rows, cols, m);
  if ((st = dln_size_mul((size_t)rows, (size_t)cols, &rc)) || (st = dln_size_mul(rc, (size_t)m, &total))) return st;
  if ((st = dln_check_finite("sensing measurement matrices A", (int)rc, m, A))) return st;
  if ((st = dln_check_finite("sensing measurements b", m, 1, b))) return st;
  dln_loss *l = loss_new(&sens_ops, rows, cols);
  if (!l) return DLN_ENOMEM;
  sensing_impl *p = calloc(1, sizeof *p);
  l->impl = p;
  if (!p) goto nomem;
  p->m = m;
  p->A = malloc(total * sizeof(double));
  p->b = malloc((size_t)m * sizeof(double));
  p->r = malloc((size_t)m * sizeof(double));
  if (!p->A || !p->b || !p->r) goto nomem;
  memcpy(p->A, A, total * sizeof(double));
  memcpy(p->b, b, (size_t)m * sizeof(double));
  if (total <= DLN_SENSING_PINV_LIMIT) {
    /* vec(W*) = (A^T)^† b : minimum-norm least-squares solution of the measurements */
    double *At = malloc(total * sizeof(double)), *pinv = malloc(total * sizeof(double));
    l->wstar = malloc(rc * sizeof(double));
    if (!At || !pinv || !l->wstar) {
      free(At);
      free(pinv);
      goto nomem;
    }
    for (int i = 0; i < m; ++i)
      for (size_t k = 0; k < rc; ++k) At[i + k * (size_t)m] = A[k + (size_t)i * rc];
    st = dln_pinv(m, (int)rc, At, 0.0, pinv, NULL);
    if (!st) cblas_dgemv(CblasColMajor, CblasNoTrans, (int)rc, m, 1.0, pinv, (int)rc, b, 1, 0.0, l->wstar, 1);
    free(At);
    free(pinv);
    if (st) {
      dln_loss_free(l);
      return st;
    }
    l->wstar_name = "min-norm least-squares solution";
    sens_eval(l, l->wstar, &l->lstar, NULL);
  }
  *out = l;
  return DLN_OK;
nomem:
  dln_loss_free(l);
  return dln_error(DLN_ENOMEM, "out of memory allocating a sensing loss (%dx%d, m=%d)", rows, cols, m);
}

/* ---------------------------------------------------------------- completion */
static int comp_eval(dln_loss *loss, const double *W, double *value, double *G) {
  completion_impl *p = loss->impl;
  int m = p->m;
  double s = 0;
  if (G) memset(G, 0, (size_t)loss->rows * (size_t)loss->cols * sizeof(double));
  for (int i = 0; i < m; ++i) {
    double r = W[p->idx[i]] - p->v[i];
    s += r * r;
    if (G) G[p->idx[i]] += r / m; /* ∇ℓ = (1/m) Σ r_i e_{r_i} e_{c_i}^T */
  }
  *value = 0.5 * s / m;
  return DLN_OK;
}
static int comp_hvp(dln_loss *loss, const double *W, const double *D, double *out) {
  (void)W;
  completion_impl *p = loss->impl;
  memset(out, 0, (size_t)loss->rows * (size_t)loss->cols * sizeof(double));
  for (int i = 0; i < p->m; ++i) out[p->idx[i]] += D[p->idx[i]] / p->m;
  return DLN_OK;
}
static void comp_destroy(dln_loss *loss) {
  completion_impl *p = loss->impl;
  if (!p) return;
  free(p->idx);
  free(p->v);
  free(p);
}
static const dln_loss_ops comp_ops = {"completion", DLN_LOSS_QUADRATIC | DLN_LOSS_HAS_LSTAR | DLN_LOSS_HAS_REF | DLN_LOSS_ENTRYWISE, comp_eval, comp_hvp, comp_destroy};

int dln_loss_completion_alloc(dln_loss **out, int rows, int cols, int m, const int *r, const int *c, const double *v) {
  *out = NULL;
  size_t rc;
  int st;
  if (rows < 1 || cols < 1 || m < 1)
    return dln_error(DLN_EDIM, "matrix completion: expected rows, cols, m >= 1, found %d, %d, %d", rows, cols, m);
  if ((st = dln_size_mul((size_t)rows, (size_t)cols, &rc))) return st;
  for (int i = 0; i < m; ++i) {
    if (r[i] < 0 || r[i] >= rows || c[i] < 0 || c[i] >= cols)
      return dln_error(DLN_EDIM, "matrix completion: observed entry %d: expected row in [0,%d) and column in [0,%d), found (%d, %d)",
                       i, rows, cols, r[i], c[i]);
    if (!isfinite(v[i]))
      return dln_error(DLN_ENONFINITE, "matrix completion: observed entry %d at (%d, %d): expected a finite value, found %g", i,
                       r[i], c[i], v[i]);
  }
  dln_loss *l = loss_new(&comp_ops, rows, cols);
  if (!l) return DLN_ENOMEM;
  completion_impl *p = calloc(1, sizeof *p);
  l->impl = p;
  double *cnt = NULL;
  if (!p) goto nomem;
  p->m = m;
  p->idx = malloc((size_t)m * sizeof(int));
  p->v = malloc((size_t)m * sizeof(double));
  l->wstar = calloc(rc, sizeof(double));
  cnt = calloc(rc, sizeof(double));
  if (!p->idx || !p->v || !l->wstar || !cnt) goto nomem;
  for (int i = 0; i < m; ++i) {
    p->idx[i] = r[i] + c[i] * rows;
    p->v[i] = v[i];
    l->wstar[p->idx[i]] += v[i];
    cnt[p->idx[i]] += 1;
  }
  /* W*: mean of the observations at each observed entry, zero elsewhere (minimum norm) */
  for (size_t k = 0; k < rc; ++k)
    if (cnt[k] > 0) l->wstar[k] /= cnt[k];
  free(cnt);
  l->wstar_name = "min-norm least-squares solution";
  comp_eval(l, l->wstar, &l->lstar, NULL);
  *out = l;
  return DLN_OK;
nomem:
  free(cnt);
  dln_loss_free(l);
  return dln_error(DLN_ENOMEM, "out of memory allocating a completion loss (%dx%d, m=%d)", rows, cols, m);
}
