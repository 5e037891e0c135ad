/* dln/integrator.h — integrator types: one const descriptor per method of the dynamics,
 * each owning its options, registered by one line (GSL's gsl_odeiv2_step_type).
 *
 * A run integrates a *system* (the layer-wise network θ̇ = −∇φ(θ), the end-to-end matrix
 * of 002 Thm 1, later the disturbed flow of 000 eq. 9) with an *integrator type*; the two
 * are independent: any system × any integrator whose needs the system meets (an
 * integrator that needs Hessian-vector products refuses a system without them).
 *
 * An integrator type creates a stepper for a system; the drivers (sampling, dense output
 * between steps, stop rules, divergence reporting, progress) are shared by all of them.
 * Gradient descent is the one discrete type: its driver takes fixed steps η and samples at
 * the step nearest each sample time (time t = kη).
 *
 * To add an integrator: one file with a `const dln_integrator_type` and one line in the
 * registry (src/dynamics/registry.c), or dln_integrator_register() from outside the
 * library (docs/extending.md). */
#ifndef DLN_INTEGRATOR_H
#define DLN_INTEGRATOR_H

#include <stddef.h>

#include "dln/option.h"

#ifdef __cplusplus
extern "C" {
#endif

struct dln_train_options;
struct dln_train_result;

/* The system being integrated, as an integrator sees it (opaque; owned by the driver). */
typedef struct dln_system dln_system;

/* A NULL system (a misuse): dln_system_size and dln_system_has_hvp return 0,
 * dln_system_rhs and dln_system_hvp −1, dln_system_loss NaN, dln_system_options NULL. */
/* Length n of the state. */
size_t dln_system_size(const dln_system *s);
/* f = ẋ at x (counted as a right-hand side): 0; 1 when not finite (recoverable: retry with
 * a smaller step); −1 on a library error (fatal; the driver reports the recorded message). */
int dln_system_rhs(dln_system *s, const double *x, double *f);
/* f = ẋ at (t, x) for a time-dependent system (the disturbed flow of 000 eq. 9,
 * θ̇ = −∇φ(θ) + D(t)); dln_system_rhs is this at t = 0, and a run refuses a
 * time-dependent system for a type without DLN_INTEG_TIME. Same returns. */
int dln_system_rhs_t(dln_system *s, double t, const double *x, double *f);
/* out = ∇²φ(x) v, so that ∂f/∂x = −∇²φ (counted): 0 or −1. DLN_EUNSUPPORTED-like −1 when the
 * system has none (check dln_system_has_hvp first). */
int dln_system_hvp(dln_system *s, const double *x, const double *v, double *out);
int dln_system_has_hvp(const dln_system *s);
/* φ(x), NAN when it cannot be evaluated. */
double dln_system_loss(dln_system *s, const double *x);
/* The training options of the run (tolerances, t_end, the type's own option block). */
const struct dln_train_options *dln_system_options(const dln_system *s);

/* One integrator instance behind the flow driver. step() advances the state (the buffer
 * given at creation) by one internal step, never past opt->t_end, and sets *t; it returns
 * 0, or DLN_STOP_SOLVER / DLN_STOP_DIVERGED (dln/train.h) with a reason in msg (the
 * state still holds the last accepted point). dense() evaluates the interpolant at t
 * inside the last step interval into out (0 or nonzero). stats() adds the integrator's
 * counters to r (steps, right-hand sides and Hessian-vector products are counted by the
 * driver). destroy() accepts half-built steppers. name is what summaries report. */
typedef struct dln_stepper dln_stepper;
struct dln_stepper {
  const char *name;
  int (*step)(dln_stepper *s, double *t);
  int (*dense)(dln_stepper *s, double t, double *out);
  void (*stats)(dln_stepper *s, struct dln_train_result *r);
  void (*destroy)(dln_stepper *s);
  double (*last_h)(dln_stepper *s); /* size of the last accepted step (may be NULL) */
  char msg[256];
};

enum {
  DLN_INTEG_DISCRETE = 1u,  /* gradient descent: fixed steps η, no stepper (create is NULL) */
  DLN_INTEG_NEEDS_HVP = 2u, /* needs Hessian-vector products of the system */
  DLN_INTEG_TIME = 4u       /* evaluates f through dln_system_rhs_t with the stage times: it
                               may integrate a time-dependent system (a sinusoidal disturbance) */
};

typedef struct dln_integrator_type {
  const char *name;           /* the --method value: "gd", "flow", "cvode", ... */
  const char *summary;        /* one line for --help and docs/cli.md */
  unsigned flags;             /* DLN_INTEG_* */
  /* The option rows this type owns (terminated by a row with name == NULL, or NULL).
   * options_size == 0: the rows bind fields of struct dln_train_options (the built-in
   * types); options_size > 0: the rows bind fields of the type's own block of that size,
   * which dln_train_options.method_options points to during a run. */
  const dln_option *options;
  size_t options_size;
  /* Conditions beyond the rows' own checks (NULL: none): DLN_OK or DLN_EINVAL via dln_error. */
  int (*check)(const struct dln_train_options *opt);
  /* A stepper for system s from state x (the driver's buffer) at t0; h0 > 0 is a first step
   * to try (0: the integrator's own estimate). NULL for DLN_INTEG_DISCRETE. */
  int (*create)(dln_system *s, double *x, double t0, double h0, dln_stepper **out);
  /* Other types whose option rows this one reads too (auto: rkc, flow, cvode),
   * NULL-terminated; NULL: none. An option row of a type that the selected method neither
   * owns nor uses has no effect, and the run layer refuses it when the user set it. */
  const struct dln_integrator_type *const *uses;
} dln_integrator_type;

/* The built-in types. */
extern const dln_integrator_type dln_integrator_gd, dln_integrator_flow, dln_integrator_cvode, dln_integrator_gauss,
    dln_integrator_auto, dln_integrator_rkc, dln_integrator_dop853;

/* The registry: built-in types first, then registered ones in order. */
const dln_integrator_type *dln_integrator_find(const char *name);
const dln_integrator_type *dln_integrator_at(int i); /* NULL past the end */
const char *dln_integrator_name_at(int i);           /* for ENUM option rows */
/* Register a type (its name must be new, at most 64 types in all). Not thread-safe:
 * register before starting runs. DLN_EINVAL for a duplicate or malformed type. */
int dln_integrator_register(const dln_integrator_type *type);

#ifdef __cplusplus
}
#endif
#endif
