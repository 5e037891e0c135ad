/* The ground truth shared by the synthetic tasks (dln/task.h): the common option rows
 * (target, rows, cols, rank, singular_values, target_sigma, symmetric_target,
 * target_file, truth_file), their consistency check, and the draw of W_true / Ȳ: Gaussian
 * (001 Fig. 1: Ȳ ~ N(0, 1)), low rank with given singular values, symmetric with given
 * eigenvalues or (G + G^T)/2 (001 §2), or read from target_file. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dln/data.h"
#include "core/util.h"
#include "dln/error.h"
#include "dln/task.h"
#include "model/model_internal.h"

#define OFF(f) offsetof(dln_task_options, f)

static const char *const targets[] = {"gaussian", "lowrank", NULL};

/* clang-format off */
static const dln_option common_rows[] = {
  {"target", DLN_OPT_ENUM, OFF(target), "gaussian", "synthetic target / true matrix: i.i.d. N(0, target_sigma^2), or low rank with singular_values", targets, DLN_OPTR_NONE, 0, 0, NULL, NULL},
  {"rows", DLN_OPT_INT, OFF(rows), "5", "rows of the synthetic target = output dimension d_N (task logistic: 1)", NULL, DLN_OPTR_MIN, 1, 0, NULL, NULL},
  {"cols", DLN_OPT_INT, OFF(cols), "10", "columns of the synthetic target = input dimension d_0", NULL, DLN_OPTR_MIN, 1, 0, NULL, NULL},
  {"rank", DLN_OPT_INT, OFF(rank), "0", "lowrank target without singular_values: rank r with singular values r, r-1, ..., 1", NULL, DLN_OPTR_MIN, 0, 0, NULL, NULL},
  {"singular_values", DLN_OPT_DOUBLELIST, OFF(singular_values), "", "singular values of a lowrank target (eigenvalues, any sign, with symmetric_target)", NULL, DLN_OPTR_ANY, 0, 0, dln_optcheck_finite_items, NULL},
  {"target_sigma", DLN_OPT_DOUBLE, OFF(target_sigma), "1", "standard deviation of a gaussian target", NULL, DLN_OPTR_POS, 0, 0, NULL, NULL},
  {"symmetric_target", DLN_OPT_BOOL, OFF(symmetric_target), "false", "symmetric rows x rows target (eigenvalues = singular_values, else (G+G^T)/2) for the tied model", NULL, DLN_OPTR_NONE, 0, 0, NULL, NULL},
  {"target_file", DLN_OPT_STRING, OFF(target_file), "", "factorization target Ybar (.npy or .csv); also W_true for synthetic regression/sensing/completion/sigmoid", NULL, DLN_OPTR_NONE, 0, 0, NULL, NULL},
  {"truth_file", DLN_OPT_STRING, OFF(truth_file), "", "true matrix W_true (d_N x d_0) of data read from the task's files (entries_file, a_file and b_file, x_file and y_file; a noisy target_file): the truth columns (dist_true) and W_true.npy, as with synthetic data", NULL, DLN_OPTR_NONE, 0, 0, NULL, NULL},
  DLN_OPTION_END};
/* clang-format on */

const dln_option *dln_task_common_rows(void) { return common_rows; }

int dln_task_load(const dln_task_options *o, const char *option, const char *path, dln_mat **out, const char **field) {
  *out = NULL;
  *field = option;
  if (!o->load)
    return dln_error(DLN_EINVAL, "expected a file loader (dln_task_options.load) to read '%s', found none", path);
  int st = o->load(path, out);
  if (st) return st;
  if (!*out) return dln_error(DLN_EIO, "expected a matrix from '%s', found none", path);
  *field = NULL;
  return DLN_OK;
}

int dln_task_truth(const dln_task_options *o, dln_rng *rng, dln_mat **out, const char **field) {
  DLN_ARGS(o, out); /* rng may be NULL (file data) */
  const char *dummy;
  if (!field) field = &dummy;
  *field = NULL;
  *out = NULL;
  if (dln_has_text(o->target_file)) return dln_task_load(o, "target_file", o->target_file, out, field);
  if (!rng) return dln_error(DLN_EINVAL, "synthetic data: expected a random stream, found none");
  if (o->symmetric_target) {
    int m = o->rows;
    if (o->singular_values.n) {
      double *lam = calloc((size_t)m, sizeof *lam);
      if (!lam) return dln_error(DLN_ENOMEM, "out of memory");
      memcpy(lam, o->singular_values.v, (size_t)o->singular_values.n * sizeof *lam);
      int st = dln_data_symmetric(rng, m, lam, out);
      free(lam);
      return st;
    }
    int st = dln_data_gaussian(rng, m, m, o->target_sigma, out);
    if (st) return st;
    double *a = (*out)->data;
    for (int i = 0; i < m; ++i)
      for (int j = i + 1; j < m; ++j) {
        double v = 0.5 * (a[i + (size_t)j * m] + a[j + (size_t)i * m]);
        a[i + (size_t)j * m] = a[j + (size_t)i * m] = v;
      }
    return DLN_OK;
  }
  if (o->target && strcmp(o->target, "lowrank") == 0) {
    int r = o->singular_values.n ? o->singular_values.n : o->rank;
    double *sv = malloc((size_t)(r ? r : 1) * sizeof *sv);
    if (!sv) return dln_error(DLN_ENOMEM, "out of memory");
    for (int i = 0; i < r; ++i) sv[i] = o->singular_values.n ? o->singular_values.v[i] : (double)(r - i);
    int st = dln_data_lowrank(rng, o->rows, o->cols, r, sv, out);
    free(sv);
    return st;
  }
  return dln_data_gaussian(rng, o->rows, o->cols, o->target_sigma, out);
}

int dln_task_check_size(const char *what, double m, double n) {
  if (!what) what = "matrix";
  if (m * n <= DLN_TASK_MAX_ENTRIES) return DLN_OK;
  return dln_error(DLN_EINVAL, "%s of %.0f x %.0f = %.4g entries: expected at most %.0f entries (2 GiB of doubles)", what, m, n,
                   m * n, DLN_TASK_MAX_ENTRIES);
}

int dln_task_common_check(const dln_task_type *t, const dln_task_options *o, const char **field) {
  DLN_ARGS(t, o);
  const char *dummy;
  if (!field) field = &dummy;
  *field = NULL;
  if (!dln_has_text(o->target_file) && dln_task_check_size("the target", o->rows, o->cols)) {
    *field = o->rows >= o->cols ? "rows" : "cols";
    return DLN_EINVAL;
  }
  int mn = o->rows < o->cols ? o->rows : o->cols;
  if (o->rank > mn) {
    *field = "rank";
    return dln_error(DLN_EINVAL, "expected a rank <= min(rows, cols) = %d, found %d", mn, o->rank);
  }
  if (!o->symmetric_target)
    for (int i = 0; i < o->singular_values.n; ++i)
      if (!(o->singular_values.v[i] >= 0)) {
        *field = "singular_values";
        return dln_error(DLN_EINVAL, "expected non-negative finite numbers, found %g at item %d", o->singular_values.v[i], i + 1);
      }
  if (o->symmetric_target) {
    unsigned caps = t && t->caps ? t->caps(o) : 0;
    if (!(caps & DLN_LOSS_IDENTITY)) {
      *field = "symmetric_target";
      return dln_error(DLN_EINVAL, "expected false unless the task is a factorization (loss 1/2 |W - Ybar|^2), found true with task %s",
                       t ? t->name : "?");
    }
    if (o->rows != o->cols && !dln_has_text(o->target_file)) {
      *field = "cols";
      return dln_error(DLN_EINVAL, "expected cols = rows = %d for a symmetric target, found %d", o->rows, o->cols);
    }
    if (o->singular_values.n > o->rows) {
      *field = "singular_values";
      return dln_error(DLN_EINVAL, "expected at most rows = %d eigenvalues, found %d", o->rows, o->singular_values.n);
    }
  } else if (o->singular_values.n > mn) {
    *field = "singular_values";
    return dln_error(DLN_EINVAL, "expected at most min(rows, cols) = %d values, found %d", mn, o->singular_values.n);
  }
  if (o->target && strcmp(o->target, "lowrank") == 0 && !o->singular_values.n && o->rank < 1 && !o->symmetric_target) {
    *field = "target";
    return dln_error(DLN_EINVAL, "expected singular_values or rank >= 1 for a lowrank target, found neither");
  }
  return DLN_OK;
}
