/* The matrix completion task: sensing with A_i = e_{r_i} e_{c_i}^T (002 §4.1):
 * ℓ(W) = (1/2m) Σ_i (W[r_i, c_i] − v_i)². W* = the mean observation at each observed
 * entry, zero elsewhere (minimum norm). Data: m distinct entries of the common ground
 * truth chosen uniformly, or entries_file (m x 3 of 0-based row, col, value). */
#include <math.h>
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
  double inv_m; /* 1/m, kept: a division on the step's critical path costs as much as the rest */
  int *idx;     /* linear index r + c*rows */
  double *v;
} completion_impl;

/* G = 0 by stores, not memset: its call would cost more than the stores for the small
 * matrices (issue 14: tiny networks), and without a call the function saves no registers;
 * the loop is not turned back into memset. */
__attribute__((optimize("no-tree-loop-distribute-patterns"))) static int comp_eval(dln_loss *loss, const double *W,
                                                                                    double *value, double *G) {
  completion_impl *p = loss->impl;
  int m = p->m;
  double s = 0;
  size_t rc = (size_t)loss->rows * (size_t)loss->cols;
  if (G)
    for (size_t i = 0; i < rc; ++i) G[i] = 0.0;
  const double inv_m = p->inv_m;
  for (int i = 0; i < m; ++i) {
    double r = W[p->idx[i]] - p->v[i];
    s += r * r;
    if (G) G[p->idx[i]] += r * inv_m; /* ∇ℓ = (1/m) Σ r_i e_{r_i} e_{c_i}^T */
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
static const dln_loss_ops comp_ops = {"completion", DLN_LOSS_QUADRATIC | DLN_LOSS_HAS_LSTAR | DLN_LOSS_HAS_REF | DLN_LOSS_ENTRYWISE | DLN_LOSS_MEASURED, comp_eval, comp_hvp, comp_destroy};

int dln_loss_completion_alloc(dln_loss **out, int rows, int cols, int m, const int *r, const int *c, const double *v) {
  DLN_ARGS(out, r, c, v);
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
  dln_loss *l = dln_loss_new(&comp_ops, rows, cols);
  if (!l) return DLN_ENOMEM;
  completion_impl *p = calloc(1, sizeof *p);
  l->impl = p;
  double *cnt = NULL;
  if (!p) goto nomem;
  p->m = m;
  p->inv_m = 1.0 / m;
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
  l->meas = (dln_measurements){m, NULL, p->idx, p->v};
  l->wstar_name = "min-norm least-squares solution";
  comp_eval(l, l->wstar, &l->lstar, NULL);
  *out = l;
  return DLN_OK;
nomem:
  free(cnt);
  dln_loss_free(l);
  return dln_error(DLN_ENOMEM, "out of memory allocating a completion loss (%dx%d, m=%d)", rows, cols, m);
}

/* ---------------------------------------------------------------- the task type */
#define OFF(f) offsetof(dln_task_options, f)

/* completion also reads m (the sensing file's row): its number of observed entries */
/* clang-format off */
static const dln_option comp_rows[] = {
  {"entries_file", DLN_OPT_STRING, OFF(entries_file), "", "completion: m x 3 matrix of (row, col, value), 0-based", NULL, DLN_OPTR_NONE, 0, 0, NULL, NULL},
  DLN_OPTION_END};
/* clang-format on */

static const dln_task_file comp_files[] = {{"entries_file", "entries.npy"}, {NULL, NULL}};

/* The validated entries (impl of dln_task_data). */
typedef struct {
  int rows, cols, m;
  int *r, *c;
  double *v;
} comp_entries;

static unsigned comp_caps(const dln_task_options *o) {
  (void)o;
  return comp_ops.caps;
}

static int comp_check(const dln_task_options *o, const char **field) {
  if (o->m < 1) {
    *field = "m";
    return dln_error(DLN_EINVAL, "expected an integer >= 1, found %d", o->m);
  }
  if (!dln_has_text(o->entries_file) && (long long)o->m > (long long)o->rows * o->cols) {
    *field = "m";
    return dln_error(DLN_EINVAL, "expected at most rows*cols = %lld observed entries, found %d", (long long)o->rows * o->cols,
                     o->m);
  }
  return DLN_OK;
}

static int comp_shape(const dln_task_options *o, int *rows, int *cols) {
  if (dln_has_text(o->target_file) && !dln_has_text(o->entries_file)) return 0;
  *rows = o->rows;
  *cols = o->cols;
  return 1;
}

static void comp_data_free(dln_task_data *d) {
  comp_entries *e = d->impl;
  if (!e) return;
  free(e->r);
  free(e->c);
  free(e->v);
  free(e);
}

static int comp_data(const dln_task_options *o, dln_rng *rng, dln_task_data *d, const char **field) {
  int st, r = o->rows, c = o->cols;
  dln_mat **E = &d->mats[0];
  if (dln_has_text(o->entries_file)) {
    if ((st = dln_task_load(o, "entries_file", o->entries_file, E, field))) return st;
    if ((*E)->cols != 3) {
      *field = "entries_file";
      return dln_error(DLN_EDIM, "expected an m x 3 matrix of (row, col, value), found %d x %d", (*E)->rows, (*E)->cols);
    }
  } else {
    if ((st = dln_task_truth(o, rng, &d->truth, field))) return st;
    r = d->truth->rows;
    c = d->truth->cols;
    if ((st = dln_data_completion(rng, d->truth, o->m, E))) return st;
  }
  int m = (*E)->rows;
  comp_entries *e = calloc(1, sizeof *e);
  if (!e) return dln_error(DLN_ENOMEM, "out of memory");
  d->impl = e;
  e->rows = r;
  e->cols = c;
  e->m = m;
  e->r = malloc((size_t)(m ? m : 1) * sizeof *e->r);
  e->c = malloc((size_t)(m ? m : 1) * sizeof *e->c);
  e->v = malloc((size_t)(m ? m : 1) * sizeof *e->v);
  if (!e->r || !e->c || !e->v) return dln_error(DLN_ENOMEM, "out of memory");
  const double *x = (*E)->data;
  for (int i = 0; i < m; ++i) {
    double ri = x[i], ci = x[i + (size_t)m], v = x[i + 2 * (size_t)m];
    if (!(ri >= 0 && ri < r && ri == floor(ri)) || !(ci >= 0 && ci < c && ci == floor(ci)) || !isfinite(v)) {
      *field = "entries_file";
      return dln_error(DLN_EINVAL, "row %d: expected 0-based indices row < %d, col < %d and a finite value, found (%g, %g, %g)",
                       i + 1, r, c, ri, ci, v);
    }
    e->r[i] = (int)ri;
    e->c[i] = (int)ci;
    e->v[i] = v;
  }
  return DLN_OK;
}

static int comp_loss(const dln_task_options *o, const dln_task_data *d, dln_loss **out) {
  (void)o;
  const comp_entries *e = d->impl;
  if (!e) return dln_error(DLN_EINVAL, "matrix completion: expected the observed entries in the data, found none");
  return dln_loss_completion_alloc(out, e->rows, e->cols, e->m, e->r, e->c, e->v);
}

static const dln_task_unused comp_unused[] = {
    {"entries_file", "m,target,rank,singular_values,target_sigma,target_file"}, {NULL, NULL}};
static const dln_task_type *const comp_uses[] = {&dln_task_sensing, NULL}; /* its m */

const dln_task_type dln_task_completion = {
    .name = "completion",
    .summary = "(1/2m) sum_i (W[r_i, c_i] - v_i)^2 of m observed entries (002 sec. 4.1)",
    .options = comp_rows,
    .files = comp_files,
    .caps = comp_caps,
    .check = comp_check,
    .shape = comp_shape,
    .data = comp_data,
    .loss = comp_loss,
    .data_free = comp_data_free,
    .unused = comp_unused,
    .uses = comp_uses,
};
