/* AUTO, the default integrator type: a stepper composed of two others. It runs dln's own
 * explicit RK (rkc.c, in auto mode), which switches to Runge–Kutta–Chebyshev once its
 * steps are stability-limited, or — when the run is very stiff, ρ·(t_end − t) >
 * auto_rkc_max with at least auto_min_steps RK steps of the current size left — asks to
 * continue with CVODE BDF + GMRES (cvode.c) instead: at the next step the RK stepper's
 * counters are kept and it is replaced by a CVODE stepper started at the current (t, θ)
 * with the last RK step as its first step (rule in rkc.c and docs/integrators.md).
 *
 * Summaries name the path taken: "dln-rk5" (no switch), "dln-rk5->rkc",
 * "dln-rk5->cvode-bdf"; switched_at is the time of the first switch. The type owns
 * auto_min_steps and auto_rkc_max and reads the rows of rkc (auto_stiff_ratio,
 * auto_window), flow (erk_order) and cvode (krylov_maxl). */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dln/error.h"
#include "dynamics/dynamics_internal.h"

typedef struct {
  dln_stepper base; /* first member */
  dln_run_ctx *c;
  double *x;           /* the driver's state buffer */
  dln_stepper *rk;     /* the RK/RKC stepper, until the switch to CVODE */
  dln_stepper *cv;     /* CVODE, after it */
  long rk_attempted, rk_rejected; /* the RK stepper's counters at the switch */
  double rk_switched_at;          /* its own switch time (to RKC), NAN if none */
  double t_req;        /* time at which the RK stepper asked for CVODE */
  const char *cv_name; /* "dln-rk5->cvode-bdf" */
} auto_stepper;

static dln_stepper *cur(auto_stepper *s) { return s->cv ? s->cv : s->rk; }

/* Continue with CVODE at (t, θ): the RK stepper's counters are kept for stats. */
static int switch_to_cvode(auto_stepper *s, double t, double h0) {
  dln_stepper *cv = NULL;
  int st = dln_cvode_create(s->c, s->x, t, h0, &cv);
  if (st) return st;
  dln_train_result acc;
  dln_dyn_result_init(&acc);
  s->rk->stats(s->rk, &acc);
  s->rk_attempted = acc.attempted;
  s->rk_rejected = acc.rejected;
  s->rk_switched_at = acc.switched_at;
  s->rk->destroy(s->rk);
  s->rk = NULL;
  s->cv = cv;
  s->base.name = s->cv_name;
  return DLN_OK;
}

static int auto_step(dln_stepper *base, double *t) {
  auto_stepper *s = (auto_stepper *)base;
  double h0;
  if (s->rk && dln_rkc_wants_cvode(s->rk, &h0)) {
    int st = switch_to_cvode(s, *t, h0);
    if (st) { /* a library error (recorded): the driver returns it */
      s->c->rhs_fatal = st;
      snprintf(base->msg, sizeof base->msg, "switch to CVODE failed: %.200s", dln_last_error());
      return DLN_STOP_SOLVER;
    }
  }
  dln_stepper *in = cur(s);
  int rc = in->step(in, t);
  if (rc) memcpy(base->msg, in->msg, sizeof base->msg);
  else if (s->rk && !s->cv && dln_rkc_wants_cvode(s->rk, &h0))
    s->t_req = *t;
  return rc;
}

static int auto_dense(dln_stepper *base, double t, double *out) {
  dln_stepper *in = cur((auto_stepper *)base);
  return in->dense(in, t, out);
}

static double auto_last_h(dln_stepper *base) {
  dln_stepper *in = cur((auto_stepper *)base);
  return in->last_h ? in->last_h(in) : 0.0;
}

/* As if the switch had been made when the RK stepper asked for it: a run that stops on
 * its step budget right after the request reports the switch too. */
static void auto_stats(dln_stepper *base, dln_train_result *r) {
  auto_stepper *s = (auto_stepper *)base;
  double h0;
  if (s->cv) {
    r->attempted += s->rk_attempted;
    r->rejected += s->rk_rejected;
    if (!isnan(s->rk_switched_at)) r->switched_at = s->rk_switched_at;
    if (isnan(r->switched_at)) r->switched_at = s->t_req;
    r->integrator = s->cv_name;
    s->cv->stats(s->cv, r);
    return;
  }
  s->rk->stats(s->rk, r);
  if (r->stop_reason == DLN_STOP_STEPS && dln_rkc_wants_cvode(s->rk, &h0)) {
    if (isnan(r->switched_at)) r->switched_at = s->t_req;
    r->integrator = s->cv_name;
  }
}

static void auto_destroy(dln_stepper *base) {
  auto_stepper *s = (auto_stepper *)base;
  if (!s) return;
  if (s->rk) s->rk->destroy(s->rk);
  if (s->cv) s->cv->destroy(s->cv);
  free(s);
}

static int auto_create(dln_run_ctx *c, double *x, double t0, double h0, dln_stepper **out) {
  *out = NULL;
  auto_stepper *s = calloc(1, sizeof *s);
  if (!s) return dln_error(DLN_ENOMEM, "out of memory allocating the AUTO integrator");
  s->base.step = auto_step;
  s->base.dense = auto_dense;
  s->base.stats = auto_stats;
  s->base.destroy = auto_destroy;
  s->base.last_h = auto_last_h;
  s->c = c;
  s->x = x;
  s->rk_switched_at = NAN;
  s->t_req = NAN;
  int st = dln_rkc_create(c, x, DLN_RK_AUTO, &s->rk);
  if (st) {
    auto_destroy(&s->base);
    return st;
  }
  if (t0 != 0 || h0 > 0) dln_rkc_start_at(s->rk, t0, h0); /* a checkpoint's restart: RK again */
  s->base.name = s->rk->name;
  s->cv_name = dln_rkc_name(s->rk, 2);
  *out = &s->base;
  return DLN_OK;
}

/* the rows AUTO reads besides its own: rkc's (and through its check, flow's), cvode's */
static int auto_check(const dln_train_options *o) {
  int st = dln_integrator_validate(&dln_integrator_rkc, o);
  if (!st) st = dln_dyn_validate_rows(o, dln_integrator_cvode.options);
  return st;
}

#define OFF(f) offsetof(dln_train_options, f)

/* clang-format off */
static const dln_option auto_rows[] = {
  {"auto_min_steps", DLN_OPT_LONG, OFF(auto_min_steps), "200", "auto: switch to CVODE only if Runge-Kutta would still need at least this many steps to t_end", NULL, DLN_OPTR_MIN, 1, 0, NULL, NULL},
  {"auto_rkc_max", DLN_OPT_DOUBLE, OFF(auto_rkc_max), "1e4", "auto: at the switch, continue with Runge-Kutta-Chebyshev if rho(Hessian)*(t_end - t) <= this, else CVODE", NULL, DLN_OPTR_POS, 0, 0, NULL, NULL},
  DLN_OPTION_END};
/* clang-format on */

static const dln_integrator_type *const auto_uses[] = {&dln_integrator_rkc, &dln_integrator_cvode, NULL};

const dln_integrator_type dln_integrator_auto = {
    .name = "auto",
    .summary = "gradient flow by dln's own Runge-Kutta, switching to Runge-Kutta-Chebyshev or, when very stiff, to CVODE",
    .flags = DLN_INTEG_NEEDS_HVP | DLN_INTEG_TIME,
    .options = auto_rows,
    .options_size = 0,
    .check = auto_check,
    .create = auto_create,
    .uses = auto_uses,
};
