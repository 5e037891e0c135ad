/* Gradient flow θ̇ = f(θ) by SUNDIALS ARKODE ERKStep (adaptive explicit Runge–Kutta;
 * ARKODE's default table of order erk_order, order 5 is Dormand–Prince 5(4)), advanced
 * one internal step at a time (ARK_ONE_STEP) with the stop time t_end; samples come from
 * the dense output ERKStepGetDky on [t_n, t_{n+1}], so they never shorten a step.
 * The integrator type "flow"; it owns erk_order (also read by rkc and auto, whose RK
 * phase uses the same tables). */
#include <arkode/arkode_erkstep.h>
#include <nvector/nvector_serial.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sundials/sundials_context.h>

#include "dln/error.h"
#include "dynamics/dynamics_internal.h"
#include "sundials_util.h"

/* ---- ARKODE ERKStep stepper */
typedef struct {
  dln_stepper base; /* first member */
  dln_run_ctx *c;
  SUNContext sctx;
  N_Vector y, yd; /* y wraps θ; yd wraps the dense-output buffer of each call */
  void *mem;
} erk_stepper;

static int erk_rhs(sunrealtype t, N_Vector y, N_Vector ydot, void *user) {
  return dln_dyn_rhs(user, t, N_VGetArrayPointer(y), N_VGetArrayPointer(ydot));
}

/* c->sundials_msg is the buffer of the error handler dln_sun_err_capture */
_Static_assert(sizeof ((dln_run_ctx *)0)->sundials_msg == DLN_SUN_MSG_LEN, "sundials_msg must hold DLN_SUN_MSG_LEN");

static int erk_step(dln_stepper *base, double *t) {
  erk_stepper *s = (erk_stepper *)base;
  s->c->rhs_bad = 0;
  sunrealtype tr = *t;
  int flag = ERKStepEvolve(s->mem, s->c->opt->t_end, s->y, &tr, ARK_ONE_STEP);
  if (flag >= 0) *t = tr; /* on failure θ is the last accepted state, at the old t */
  if (flag < 0) {
    snprintf(base->msg, sizeof base->msg, "%s", s->c->sundials_msg);
    return s->c->rhs_bad ? DLN_STOP_DIVERGED : DLN_STOP_SOLVER;
  }
  return 0;
}

static int erk_dense(dln_stepper *base, double t, double *out) {
  erk_stepper *s = (erk_stepper *)base;
  N_VSetArrayPointer(out, s->yd);
  return ERKStepGetDky(s->mem, t, 0, s->yd);
}

static double erk_last_h(dln_stepper *base) {
  sunrealtype h = 0;
  ERKStepGetLastStep(((erk_stepper *)base)->mem, &h);
  return h;
}

static void erk_stats(dln_stepper *base, dln_train_result *r) {
  erk_stepper *s = (erk_stepper *)base;
  long natt = 0, netf = 0;
  ERKStepGetNumStepAttempts(s->mem, &natt);
  ERKStepGetNumErrTestFails(s->mem, &netf);
  r->attempted += natt;
  r->rejected += netf;
}

static void erk_destroy(dln_stepper *base) {
  erk_stepper *s = (erk_stepper *)base;
  if (!s) return;
  if (s->mem) ERKStepFree(&s->mem);
  dln_sun_free(&s->sctx, &s->y, &s->yd);
  free(s);
}

static int erk_create(dln_run_ctx *c, double *theta, double t0, double h0, dln_stepper **out) {
  *out = NULL;
  const dln_train_options *o = c->opt;
  size_t n = dln_dyn_size(c);
  erk_stepper *s = calloc(1, sizeof *s);
  if (!s) return dln_error(DLN_ENOMEM, "out of memory allocating the ARKODE integrator");
  s->base.name = "arkode-erk";
  s->base.step = erk_step;
  s->base.dense = erk_dense;
  s->base.stats = erk_stats;
  s->base.destroy = erk_destroy;
  s->base.last_h = erk_last_h;
  s->c = c;
  int st = dln_sun_make(n, theta, &s->sctx, &s->y, &s->yd);
  if (st) goto fail;
  if (!s->y || !s->yd) {
    st = dln_error(DLN_ENOMEM, "out of memory allocating SUNDIALS vectors");
    goto fail;
  }
  s->mem = ERKStepCreate(erk_rhs, t0, s->y, s->sctx);
  if (!s->mem) {
    st = dln_error(DLN_ENOMEM, "ERKStepCreate failed");
    goto fail;
  }
  if (ERKStepSetUserData(s->mem, c) || ERKStepSetErrHandlerFn(s->mem, dln_sun_err_capture, c->sundials_msg) ||
      ERKStepSStolerances(s->mem, o->rtol, o->atol) || ERKStepSetTableNum(s->mem, (ARKODE_ERKTableID)dln_erk_table_id(o->erk_order)) ||
      ERKStepSetStopTime(s->mem, o->t_end) || ERKStepSetMaxNumSteps(s->mem, -1) ||
      (h0 > 0 && ERKStepSetInitStep(s->mem, h0))) {
    st = dln_error(DLN_ESOLVER, "ARKODE setup failed: %s", c->sundials_msg);
    goto fail;
  }
  *out = &s->base;
  return DLN_OK;
fail:
  erk_destroy(&s->base);
  return st;
}


#define OFF(f) offsetof(dln_train_options, f)

static int erk_order_check(const dln_option *o, const void *field, char *msg, size_t len) {
  (void)o;
  int q = *(const int *)field;
  if (q >= 2 && q <= 8 && q != 7) return 0;
  snprintf(msg, len, "expected an order of 2, 3, 4, 5, 6 or 8, found %d", q);
  return 1;
}

/* clang-format off */
static const dln_option flow_rows[] = {
  {"erk_order", DLN_OPT_INT, OFF(erk_order), "5", "flow, auto, rkc, e2e_flow: explicit Runge-Kutta order (2, 3, 4, 5, 6 or 8)", NULL, DLN_OPTR_NONE, 0, 0, erk_order_check, NULL},
  DLN_OPTION_END};
/* clang-format on */

const dln_integrator_type dln_integrator_flow = {
    .name = "flow",
    .summary = "gradient flow by ARKODE's adaptive explicit Runge-Kutta (ERKStep, order erk_order)",
    .flags = DLN_INTEG_TIME,
    .options = flow_rows,
    .options_size = 0,
    .check = NULL,
    .create = erk_create,
};
