/* TEMPORARY (lead): rows of the modules until their owners land them. */
#include <stddef.h>
#include <stdio.h>
#include "dln/task.h"
#include "dln/init.h"
#include "dln/train.h"

static const char *const targets[] = {"gaussian", "lowrank", NULL};
static int check_erk_order(const dln_option *o, const void *f, char *msg, size_t len) {
  (void)o;
  int k = *(const int *)f;
  if (k >= 2 && k <= 8 && k != 7) return 0;
  snprintf(msg, len, "expected an order of 2, 3, 4, 5, 6 or 8, found %d", k);
  return 1;
}
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
static const dln_option train_rows[] = {
  {"eta", DLN_OPT_DOUBLE, offsetof(dln_train_options, eta), "0.001", "GD step size", NULL, DLN_OPTR_POS, 0, 0, NULL, NULL},
  {"t_end", DLN_OPT_DOUBLE, offsetof(dln_train_options, t_end), "40", "final time (GD: steps * eta)", NULL, DLN_OPTR_POS, 0, 0, NULL, NULL},
  {"max_steps", DLN_OPT_LONG, offsetof(dln_train_options, max_steps), "0", "step budget (0 = default: t_end/eta for GD, 10^7 for flow)", NULL, DLN_OPTR_MIN, 0, 0, NULL, NULL},
  {"loss_threshold", DLN_OPT_DOUBLE, offsetof(dln_train_options, loss_threshold), "-1", "stop when the loss <= this (negative: off)", NULL, DLN_OPTR_NONE, 0, 0, NULL, NULL},
  {"grad_tol", DLN_OPT_DOUBLE, offsetof(dln_train_options, grad_tol), "0", "stop when the gradient norm <= this (0: off)", NULL, DLN_OPTR_NONNEG, 0, 0, NULL, NULL},
  {"rtol", DLN_OPT_DOUBLE, offsetof(dln_train_options, rtol), "1e-8", "flow: relative tolerance", NULL, DLN_OPTR_POS, 0, 0, NULL, NULL},
  {"atol", DLN_OPT_DOUBLE, offsetof(dln_train_options, atol), "1e-10", "flow: absolute tolerance", NULL, DLN_OPTR_POS, 0, 0, NULL, NULL},
  {"erk_order", DLN_OPT_INT, offsetof(dln_train_options, erk_order), "5", "flow, auto, rkc, e2e_flow: explicit Runge-Kutta order (2, 3, 4, 5, 6 or 8)", NULL, DLN_OPTR_NONE, 0, 0, check_erk_order, NULL},
  {"gauss_stages", DLN_OPT_INT, offsetof(dln_train_options, gauss_stages), "2", "gauss: stages s (1: implicit midpoint, order 2; 2: order 4)", NULL, DLN_OPTR_RANGE, 1, 2, NULL, NULL},
  {"gauss_h", DLN_OPT_DOUBLE, offsetof(dln_train_options, gauss_h), "0", "gauss: fixed step size without error control (0: adaptive with rtol, atol)", NULL, DLN_OPTR_NONNEG, 0, 0, NULL, NULL},
  {"krylov_maxl", DLN_OPT_INT, offsetof(dln_train_options, krylov_maxl), "30", "cvode, gauss, auto: Krylov dimension of GMRES (1..1000)", NULL, DLN_OPTR_RANGE, 1, 1000, NULL, NULL},
  {"auto_stiff_ratio", DLN_OPT_DOUBLE, offsetof(dln_train_options, auto_stiff_ratio), "0.5", "auto, rkc: h*rho/beta_RK at or above which a Runge-Kutta step counts as stability-limited", NULL, DLN_OPTR_POS, 0, 0, NULL, NULL},
  {"auto_window", DLN_OPT_INT, offsetof(dln_train_options, auto_window), "3", "auto, rkc: consecutive stability-limited Runge-Kutta steps before switching", NULL, DLN_OPTR_MIN, 1, 0, NULL, NULL},
  {"auto_min_steps", DLN_OPT_LONG, offsetof(dln_train_options, auto_min_steps), "200", "auto: switch to CVODE only if Runge-Kutta would still need at least this many steps to t_end", NULL, DLN_OPTR_MIN, 1, 0, NULL, NULL},
  {"auto_rkc_max", DLN_OPT_DOUBLE, offsetof(dln_train_options, auto_rkc_max), "1e4", "auto: at the switch, continue with Runge-Kutta-Chebyshev if rho(Hessian)*(t_end - t) <= this, else CVODE", NULL, DLN_OPTR_POS, 0, 0, NULL, NULL},
  {"blowup", DLN_OPT_DOUBLE, offsetof(dln_train_options, blowup), "1e150", "divergence threshold on the loss and max |theta|", NULL, DLN_OPTR_POS, 0, 0, NULL, NULL},
  {"samples", DLN_OPT_INT, offsetof(dln_train_options, nsamples), "201", "number of sample times including 0 and t_end", NULL, DLN_OPTR_RANGE, 2, 10000000, NULL, NULL},
  {"log_samples", DLN_OPT_BOOL, offsetof(dln_train_options, log_spacing), "false", "log-spaced sample times from t_first to t_end (plus t = 0)", NULL, DLN_OPTR_NONE, 0, 0, NULL, NULL},
  {"t_first", DLN_OPT_DOUBLE, offsetof(dln_train_options, t_first), "0", "first positive sample time for log spacing (0: t_end * 1e-4)", NULL, DLN_OPTR_NONNEG, 0, 0, NULL, NULL},
  {NULL, DLN_OPT_INT, 0, NULL, NULL, NULL, DLN_OPTR_NONE, 0, 0, NULL, NULL}};
const dln_option *dln_train_option_rows(void) { return train_rows; }

/* ---- TEMPORARY registries (lead) until the owners' registries land ---- */
#include <string.h>
#include "dln/integrator.h"
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
static const dln_integrator_type tmp_integ[] = {{"gd", "", 0, NULL, 0, NULL, NULL}, {"flow", "", 0, NULL, 0, NULL, NULL}, {"cvode", "", 0, NULL, 0, NULL, NULL},
  {"gauss", "", 0, NULL, 0, NULL, NULL}, {"auto", "", 0, NULL, 0, NULL, NULL}, {"rkc", "", 0, NULL, 0, NULL, NULL}};
const dln_integrator_type *dln_integrator_at(int i) { return i >= 0 && i < 6 ? &tmp_integ[i] : NULL; }
const char *dln_integrator_name_at(int i) { return dln_integrator_at(i) ? dln_integrator_at(i)->name : NULL; }
const dln_integrator_type *dln_integrator_find(const char *n) { for (int i = 0; i < 6; ++i) if (!strcmp(tmp_integ[i].name, n)) return &tmp_integ[i]; return NULL; }
