/* TEMPORARY (lead): rows of the modules until their owners land them. */
#include <stddef.h>
#include <stdio.h>
#include "dln/task.h"
#include "dln/init.h"
#include "dln/train.h"

static const char *const targets[] = {"gaussian", "lowrank", NULL};
static const dln_option data_rows[] = {
  {"target", DLN_OPT_ENUM, offsetof(dln_task_options, target), "gaussian", "synthetic target / true matrix: i.i.d. N(0, target_sigma^2), or low rank with singular_values", targets, DLN_OPTR_NONE, 0, 0, NULL, NULL},
  {"rows", DLN_OPT_INT, offsetof(dln_task_options, rows), "5", "rows of the synthetic target = output dimension d_N", NULL, DLN_OPTR_MIN, 1, 0, NULL, NULL},
  {"cols", DLN_OPT_INT, offsetof(dln_task_options, cols), "10", "columns of the synthetic target = input dimension d_0", NULL, DLN_OPTR_MIN, 1, 0, NULL, NULL},
  {"rank", DLN_OPT_INT, offsetof(dln_task_options, rank), "0", "lowrank target without singular_values: rank r with singular values r, r-1, ..., 1", NULL, DLN_OPTR_MIN, 0, 0, NULL, NULL},
  {"singular_values", DLN_OPT_DOUBLELIST, offsetof(dln_task_options, singular_values), "", "singular values of a lowrank target (eigenvalues, any sign, with symmetric_target)", NULL, DLN_OPTR_NONE, 0, 0, NULL, NULL},
  {"target_sigma", DLN_OPT_DOUBLE, offsetof(dln_task_options, target_sigma), "1", "standard deviation of a gaussian target", NULL, DLN_OPTR_POS, 0, 0, NULL, NULL},
  {"symmetric_target", DLN_OPT_BOOL, offsetof(dln_task_options, symmetric_target), "false", "symmetric rows x rows target (eigenvalues = singular_values, else (G+G^T)/2) for the tied model", NULL, DLN_OPTR_NONE, 0, 0, NULL, NULL},
  {"n_samples", DLN_OPT_INT, offsetof(dln_task_options, n_samples), "20", "regression: number of samples n (X is d_0 x n)", NULL, DLN_OPTR_MIN, 1, 0, NULL, NULL},
  {"x_rank", DLN_OPT_INT, offsetof(dln_task_options, x_rank), "0", "regression: rank of X (0 = full rank)", NULL, DLN_OPTR_MIN, 0, 0, NULL, NULL},
  {"noise", DLN_OPT_DOUBLE, offsetof(dln_task_options, noise), "0", "regression: Y = W_true X + noise * N(0,1)", NULL, DLN_OPTR_NONNEG, 0, 0, NULL, NULL},
  {"m", DLN_OPT_INT, offsetof(dln_task_options, m), "20", "sensing: number of measurements; completion: number of observed entries", NULL, DLN_OPTR_MIN, 1, 0, NULL, NULL},
  {"reduce", DLN_OPT_BOOL, offsetof(dln_task_options, reduce), "false", "regression: train on the factorization of Ybar = Y X^+ instead (000 eq. 3-5)", NULL, DLN_OPTR_NONE, 0, 0, NULL, NULL},
  {"target_file", DLN_OPT_STRING, offsetof(dln_task_options, target_file), "", "factorization target Ybar (.npy or .csv); also W_true for synthetic regression/sensing/completion", NULL, DLN_OPTR_NONE, 0, 0, NULL, NULL},
  {"x_file", DLN_OPT_STRING, offsetof(dln_task_options, x_file), "", "regression inputs X (d_0 x n, samples are columns)", NULL, DLN_OPTR_NONE, 0, 0, NULL, NULL},
  {"y_file", DLN_OPT_STRING, offsetof(dln_task_options, y_file), "", "regression outputs Y (d_N x n)", NULL, DLN_OPTR_NONE, 0, 0, NULL, NULL},
  {"a_file", DLN_OPT_STRING, offsetof(dln_task_options, a_file), "", "sensing matrices: (rows*cols) x m, column i = vec(A_i) column-major", NULL, DLN_OPTR_NONE, 0, 0, NULL, NULL},
  {"b_file", DLN_OPT_STRING, offsetof(dln_task_options, b_file), "", "sensing measurements b (m values)", NULL, DLN_OPTR_NONE, 0, 0, NULL, NULL},
  {"entries_file", DLN_OPT_STRING, offsetof(dln_task_options, entries_file), "", "completion: m x 3 matrix of (row, col, value), 0-based", NULL, DLN_OPTR_NONE, 0, 0, NULL, NULL},
  {NULL, DLN_OPT_INT, 0, NULL, NULL, NULL, DLN_OPTR_NONE, 0, 0, NULL, NULL}};
const dln_option *dln_task_common_rows(void) { return data_rows; }
static const dln_option init_rows[] = {
  {"sigma", DLN_OPT_DOUBLE, offsetof(dln_init_options, sigma), "0.01", "init scale: entries N(0, sigma^2) (gaussian, balanced, orthogonal_minnorm)", NULL, DLN_OPTR_POS, 0, 0, NULL, NULL},
  {"alpha", DLN_OPT_DOUBLE, offsetof(dln_init_options, alpha), "0.5", "width_scaled init: entries N(0, h^(-2 alpha)) (003 sec. 3.2)", NULL, DLN_OPTR_POS, 0, 0, NULL, NULL},
  {"layer_scales", DLN_OPT_DOUBLELIST, offsetof(dln_init_options, layer_scales), "", "per-layer scales s_1..s_N (gaussian; required by imbalanced, 003 sec. 4)", NULL, DLN_OPTR_POS, 0, 0, NULL, NULL},
  {"init_product_widths", DLN_OPT_INTLIST, offsetof(dln_init_options, init_product_widths), "", "gaussian: draw layers for these widths and start from their product (depth 1) or a balanced factorization of it (001 sec. 6: X(0) = U0 V0^T)", NULL, DLN_OPTR_NONE, 0, 0, NULL, NULL},
  {"ubar", DLN_OPT_DOUBLELIST, offsetof(dln_init_options, ubar), "", "spectral init: diagonal of Ubar_0 (001 Def. 3), min(rows, cols) values", NULL, DLN_OPTR_NONE, 0, 0, NULL, NULL},
  {"vbar", DLN_OPT_DOUBLELIST, offsetof(dln_init_options, vbar), "", "spectral init: diagonal of Vbar_0 (001 Def. 3)", NULL, DLN_OPTR_NONE, 0, 0, NULL, NULL},
  {"sigma0", DLN_OPT_DOUBLELIST, offsetof(dln_init_options, sigma0), "", "spectral_symmetric init: Sigma_0 diagonal (001 Def. 1), rows values", NULL, DLN_OPTR_NONNEG, 0, 0, NULL, NULL},
  {"init_files", DLN_OPT_STRLIST, offsetof(dln_init_options, init_files), "", "file init: W1,...,WN files (tied: U), or one pattern containing {j}", NULL, DLN_OPTR_NONE, 0, 0, NULL, NULL},
  {NULL, DLN_OPT_INT, 0, NULL, NULL, NULL, DLN_OPTR_NONE, 0, 0, NULL, NULL}};
const dln_option *dln_init_common_rows(void) { return init_rows; }
/* the training rows: dln_train_option_rows (dynamics/train.c) and each integrator type's */

/* ---- TEMPORARY registries (lead) until the owners' registries land ---- */
#include <string.h>
static int tmp_has(const char *s) { return s && *s; }
static unsigned caps_fact(const dln_task_options *o) { (void)o; return DLN_LOSS_QUADRATIC | DLN_LOSS_HAS_LSTAR | DLN_LOSS_HAS_REF | DLN_LOSS_IDENTITY; }
static unsigned caps_reg(const dln_task_options *o) { return o->reduce ? caps_fact(o) : DLN_LOSS_QUADRATIC | DLN_LOSS_HAS_LSTAR | DLN_LOSS_HAS_REF | DLN_LOSS_LSQ_DESIGN; }
static unsigned caps_other(const dln_task_options *o) { (void)o; return DLN_LOSS_QUADRATIC | DLN_LOSS_HAS_LSTAR | DLN_LOSS_HAS_REF; }
static int shape_syn(const dln_task_options *o, int *r, int *c) {
  *r = o->rows; *c = o->cols;
  return !tmp_has(o->target_file) && !tmp_has(o->x_file) && !tmp_has(o->entries_file);
}
static const dln_task_type tmp_tasks[] = {
  {"factorization", "", NULL, 0, NULL, caps_fact, NULL, shape_syn, NULL, NULL, NULL},
  {"regression", "", NULL, 0, NULL, caps_reg, NULL, shape_syn, NULL, NULL, NULL},
  {"sensing", "", NULL, 0, NULL, caps_other, NULL, shape_syn, NULL, NULL, NULL},
  {"completion", "", NULL, 0, NULL, caps_other, NULL, shape_syn, NULL, NULL, NULL}};
const dln_task_type *dln_task_at(int i) { return i >= 0 && i < 4 ? &tmp_tasks[i] : NULL; }
const char *dln_task_name_at(int i) { return dln_task_at(i) ? dln_task_at(i)->name : NULL; }
const dln_task_type *dln_task_find(const char *n) { for (int i = 0; i < 4; ++i) if (!strcmp(tmp_tasks[i].name, n)) return &tmp_tasks[i]; return NULL; }
static const dln_init_type tmp_inits[] = {{"gaussian", "", NULL, 0, NULL, NULL}, {"width_scaled", "", NULL, 0, NULL, NULL}, {"balanced", "", NULL, 0, NULL, NULL},
  {"imbalanced", "", NULL, 0, NULL, NULL}, {"spectral", "", NULL, 0, NULL, NULL}, {"spectral_symmetric", "", NULL, 0, NULL, NULL},
  {"orthogonal_minnorm", "", NULL, 0, NULL, NULL}, {"file", "", NULL, 0, NULL, NULL}};
const dln_init_type *dln_init_at(int i) { return i >= 0 && i < 8 ? &tmp_inits[i] : NULL; }
const char *dln_init_name_at(int i) { return dln_init_at(i) ? dln_init_at(i)->name : NULL; }
const dln_init_type *dln_init_find(const char *n) { for (int i = 0; i < 8; ++i) if (!strcmp(tmp_inits[i].name, n)) return &tmp_inits[i]; return NULL; }
/* the integrator registry: dynamics/registry.c */
