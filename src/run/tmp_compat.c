/* TEMPORARY (lead): rows of the modules until their owners land them. */
#include <stddef.h>
#include <stdio.h>
#include "dln/task.h"
#include "dln/init.h"
#include "dln/train.h"

static int check_erk_order(const dln_option *o, const void *f, char *msg, size_t len) {
  (void)o;
  int k = *(const int *)f;
  if (k >= 2 && k <= 8 && k != 7) return 0;
  snprintf(msg, len, "expected an order of 2, 3, 4, 5, 6 or 8, found %d", k);
  return 1;
}


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
static const dln_integrator_type tmp_integ[] = {{"gd", "", 0, NULL, 0, NULL, NULL}, {"flow", "", 0, NULL, 0, NULL, NULL}, {"cvode", "", 0, NULL, 0, NULL, NULL},
  {"gauss", "", 0, NULL, 0, NULL, NULL}, {"auto", "", 0, NULL, 0, NULL, NULL}, {"rkc", "", 0, NULL, 0, NULL, NULL}};
const dln_integrator_type *dln_integrator_at(int i) { return i >= 0 && i < 6 ? &tmp_integ[i] : NULL; }
const char *dln_integrator_name_at(int i) { return dln_integrator_at(i) ? dln_integrator_at(i)->name : NULL; }
const dln_integrator_type *dln_integrator_find(const char *n) { for (int i = 0; i < 6; ++i) if (!strcmp(tmp_integ[i].name, n)) return &tmp_integ[i]; return NULL; }
