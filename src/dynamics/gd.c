/* Gradient descent as an integrator type: θ_{k+1} = θ_k − η∇φ(θ_k), the explicit Euler
 * discretization of θ̇ = −∇φ(θ) (001 footnote 2), time t = kη. The one discrete type: it
 * has no stepper; the gradient-descent driver (driver.c, drive_gd) runs it. It owns the
 * step size η. */
#include <stddef.h>

#include "dln/error.h"
#include "dynamics/dynamics_internal.h"

/* Largest t_end/η of gradient descent: the step counter is a long; 2^62 steps is far
 * beyond any run and keeps round(t_end/η) + 1 exact in a long. */
#define DLN_GD_MAX_STEPS 4.611686018427387904e18

#define OFF(f) offsetof(dln_train_options, f)

/* clang-format off */
static const dln_option gd_rows[] = {
  {"eta", DLN_OPT_DOUBLE, OFF(eta), "0.001", "GD step size", NULL, DLN_OPTR_POS, 0, 0, NULL, NULL},
  DLN_OPTION_END};
/* clang-format on */

/* the step count round(t_end/η) must be a long (and countable) */
static int gd_check(const dln_train_options *o) {
  if (!(o->t_end / o->eta <= DLN_GD_MAX_STEPS))
    return dln_error(DLN_EINVAL, "t_end/eta: expected at most %.3g gradient-descent steps, found t_end = %g, eta = %g (%.3g steps)",
                     DLN_GD_MAX_STEPS, o->t_end, o->eta, o->t_end / o->eta);
  return DLN_OK;
}

const dln_integrator_type dln_integrator_gd = {
    .name = "gd",
    .summary = "gradient descent with fixed step eta (time t = k*eta)",
    .flags = DLN_INTEG_DISCRETE,
    .options = gd_rows,
    .options_size = 0,
    .check = gd_check,
    .create = NULL,
};
