/* The matrix sensing task: ℓ(W) = (1/2m) Σ_i (⟨W, A_i⟩ − b_i)², ∇ℓ = (1/m) Σ r_i A_i,
 * ∇²ℓ[D] = (1/m) Σ ⟨D, A_i⟩ A_i (002 eq. 9). W* = minimum-norm least-squares solution of
 * the measurements. Data: A_i ~ N(0, 1), b_i = ⟨W_true, A_i⟩ with W_true the common
 * ground truth, or a_file and b_file. */
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
  int m;
  double *A; /* (rows*cols) x m, column i = vec(A_i) */
  double *b, *r;
} sensing_impl;

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
static const dln_loss_ops sens_ops = {"sensing", DLN_LOSS_QUADRATIC | DLN_LOSS_HAS_LSTAR | DLN_LOSS_HAS_REF | DLN_LOSS_MEASURED, sens_eval, sens_hvp, sens_destroy};

/* Above this many entries of A the dense pseudo-inverse for W* is skipped. */
#define DLN_SENSING_PINV_LIMIT 4000000

int dln_loss_sensing_alloc(dln_loss **out, int rows, int cols, int m, const double *A, const double *b) {
  DLN_ARGS(out, A, b);
  *out = NULL;
  size_t rc, total;
  int st;
  if (rows < 1 || cols < 1 || m < 1)
    return dln_error(DLN_EDIM, "matrix sensing: expected rows, cols, m >= 1, found %d, %d, %d", rows, cols, m);
  if ((st = dln_size_mul((size_t)rows, (size_t)cols, &rc)) || (st = dln_size_mul(rc, (size_t)m, &total))) return st;
  if ((st = dln_check_finite("sensing measurement matrices A", (int)rc, m, A))) return st;
  if ((st = dln_check_finite("sensing measurements b", m, 1, b))) return st;
  dln_loss *l = dln_loss_new(&sens_ops, rows, cols);
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
  l->meas = (dln_measurements){m, p->A, NULL, p->b};
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


/* ---------------------------------------------------------------- the task type */
#define OFF(f) offsetof(dln_task_options, f)

/* m is read by completion too (its number of observed entries). */
/* clang-format off */
static const dln_option sens_rows[] = {
  {"m", DLN_OPT_INT, OFF(m), "20", "sensing: number of measurements; completion: number of observed entries", NULL, DLN_OPTR_MIN, 1, 0, NULL, NULL},
  {"a_file", DLN_OPT_STRING, OFF(a_file), "", "sensing matrices: (rows*cols) x m, column i = vec(A_i) column-major", NULL, DLN_OPTR_NONE, 0, 0, NULL, NULL},
  {"b_file", DLN_OPT_STRING, OFF(b_file), "", "sensing measurements b (m values)", NULL, DLN_OPTR_NONE, 0, 0, NULL, NULL},
  DLN_OPTION_END};
/* clang-format on */

static const dln_task_file sens_files[] = {{"a_file", "A.npy"}, {"b_file", "b.npy"}, {NULL, NULL}};

static unsigned sens_caps(const dln_task_options *o) {
  (void)o;
  return sens_ops.caps;
}

static int sens_check(const dln_task_options *o, const char **field) {
  int ha = dln_has_text(o->a_file), hb = dln_has_text(o->b_file);
  if (ha != hb) {
    *field = ha ? "a_file" : "b_file";
    return dln_error(DLN_EINVAL, "expected a_file and b_file together, found only one");
  }
  if (!ha && dln_task_check_size("A ((rows*cols) x m)", (double)o->rows * o->cols, o->m)) {
    *field = "m";
    return DLN_EINVAL;
  }
  return DLN_OK;
}

static int sens_shape(const dln_task_options *o, int *rows, int *cols) {
  if (dln_has_text(o->target_file) && !dln_has_text(o->a_file)) return 0;
  *rows = o->rows;
  *cols = o->cols;
  return 1;
}

static int sens_data(const dln_task_options *o, dln_rng *rng, dln_task_data *d, const char **field) {
  int st;
  dln_mat **A = &d->mats[0], **b = &d->mats[1];
  if (dln_has_text(o->a_file)) {
    if ((st = dln_task_load(o, "a_file", o->a_file, A, field)) || (st = dln_task_load(o, "b_file", o->b_file, b, field)))
      return st;
    if ((long long)(*A)->rows != (long long)o->rows * o->cols) {
      *field = "a_file";
      return dln_error(DLN_EDIM, "expected rows*cols = %lld rows (vec(A_i) per column), found %d", (long long)o->rows * o->cols,
                       (*A)->rows);
    }
    if ((long long)(*b)->rows * (*b)->cols != (*A)->cols) {
      *field = "b_file";
      return dln_error(DLN_EDIM, "expected %d values (one per column of a_file), found %d x %d", (*A)->cols, (*b)->rows,
                       (*b)->cols);
    }
    return DLN_OK;
  }
  if ((st = dln_task_truth(o, rng, &d->truth, field))) return st;
  return dln_data_sensing(rng, d->truth, o->m, A, b);
}

static int sens_loss(const dln_task_options *o, const dln_task_data *d, dln_loss **out) {
  /* W is the truth's shape (rows x cols of the options unless read from target_file) */
  int rows = d->truth ? d->truth->rows : o->rows, cols = d->truth ? d->truth->cols : o->cols;
  return dln_loss_sensing_alloc(out, rows, cols, d->mats[0]->cols, d->mats[0]->data, d->mats[1]->data);
}

static const dln_task_unused sens_unused[] = {
    {"a_file", "m,target,rank,singular_values,target_sigma,target_file"}, {NULL, NULL}};

const dln_task_type dln_task_sensing = {
    .name = "sensing",
    .summary = "(1/2m) sum_i (<W, A_i> - b_i)^2 of m linear measurements (002 eq. 9)",
    .options = sens_rows,
    .files = sens_files,
    .caps = sens_caps,
    .check = sens_check,
    .shape = sens_shape,
    .data = sens_data,
    .loss = sens_loss,
    .data_free = NULL,
    .unused = sens_unused,
};
