/* Stiff gradient flow θ̇ = f(θ) = −∇φ(θ) by SUNDIALS CVODE: variable-order BDF
 * (orders 1–5) with a Newton iteration whose linear systems (I − γJ) x = r are
 * solved matrix-free by GMRES (SUNLinSol_SPGMR, no preconditioner).
 *
 * The Jacobian of the flow is J = ∂f/∂θ = −∇²φ(θ), so the Jacobian-vector product is
 * given EXACTLY by the network's Hessian-vector product (dln_net_hvp, a directional
 * derivative of the per-layer gradients 002 Lemma 1 / 004 eq. 6):
 *     J v = −∇²φ(θ) v,
 * instead of CVODE's default difference quotient [f(θ + σv) − f(θ)]/σ. Since ∇²φ is
 * symmetric, I − γJ = I + γ∇²φ is symmetric too; GMRES is used because ∇²φ is
 * indefinite away from minima (saddles, 002 §3).
 *
 * The integrator is advanced one internal step at a time (CV_ONE_STEP) with the
 * stop time t_end; samples come from CVodeGetDky on [t_n − h_n, t_n].
 * The integrator type "cvode"; it owns krylov_maxl (also read by gauss and auto). */
#include <cvode/cvode.h>
#include <cvode/cvode_ls.h>
#include <math.h>
#include <stddef.h>
#include <nvector/nvector_serial.h>
#include <stdio.h>
#include <stdlib.h>
#include <sundials/sundials_context.h>
#include <sunlinsol/sunlinsol_spgmr.h>

#include "dln/error.h"
#include "dynamics/dynamics_internal.h"
#include "sundials_util.h"

typedef struct {
  dln_stepper base; /* first: a cv_stepper * is a dln_stepper * */
  dln_run_ctx *c;
  SUNContext sctx;
  N_Vector y;  /* wraps θ */
  N_Vector yd; /* wraps the caller's dense-output buffer */
  SUNLinearSolver ls;
  void *mem;
  char err[DLN_SUN_MSG_LEN]; /* the last SUNDIALS error (dln_sun_err_capture) */
  int bad_streak, clean;     /* steps with a non-finite right-hand side (cv_step) */
} cv_stepper;

/* A run creeping towards a region where the gradient is not finite (every step retried
 * smaller after a non-finite right-hand side, then accepted) would shrink its steps
 * until the step budget is spent: after CV_MAX_BAD such steps, with fewer than
 * CV_MAX_BAD clean steps between them, it stops as diverged. */
enum { CV_MAX_BAD = 12 };

static int cv_rhs(sunrealtype t, N_Vector y, N_Vector ydot, void *user) {
  cv_stepper *s = user;
  return dln_dyn_rhs(s->c, t, N_VGetArrayPointer(y), N_VGetArrayPointer(ydot));
}

int dln_cvode_jtv(dln_run_ctx *c, const double *theta, const double *v, double *Jv) {
  if (dln_dyn_hvp(c, theta, v, Jv)) return -1;
  size_t n = dln_dyn_size(c);
  int bad = 0;
  for (size_t i = 0; i < n; ++i) {
    Jv[i] = -Jv[i]; /* J v = −∇²φ(θ) v */
    bad |= !isfinite(Jv[i]);
  }
  return bad ? 1 : 0;
}

/* CVLsJacTimesVecFn: non-finite → recoverable, CVODE retries with a smaller step */
static int cv_jtv(N_Vector v, N_Vector Jv, sunrealtype t, N_Vector y, N_Vector fy, void *user, N_Vector tmp) {
  (void)t, (void)fy, (void)tmp;
  cv_stepper *s = user;
  return dln_cvode_jtv(s->c, N_VGetArrayPointer(y), N_VGetArrayPointer(v), N_VGetArrayPointer(Jv));
}

static int cv_step(dln_stepper *base, double *t) {
  cv_stepper *s = (cv_stepper *)base;
  dln_run_ctx *c = s->c;
  c->rhs_bad = 0;
  sunrealtype tr = *t;
  int flag = CVode(s->mem, c->opt->t_end, s->y, &tr, CV_ONE_STEP);
  *t = tr;
  if (flag < 0) {
    snprintf(base->msg, sizeof base->msg, "%.200s (CVODE flag %d)", s->err[0] ? s->err : "CVODE failed", flag);
    return c->rhs_bad ? DLN_STOP_DIVERGED : DLN_STOP_SOLVER;
  }
  if (c->rhs_bad) {
    s->clean = 0;
    if (++s->bad_streak >= CV_MAX_BAD) {
      snprintf(base->msg, sizeof base->msg, "non-finite gradient in %d steps without %d clean ones in between, at t = %.6g",
               CV_MAX_BAD, CV_MAX_BAD, tr);
      return DLN_STOP_DIVERGED;
    }
  } else if (++s->clean >= CV_MAX_BAD) {
    s->bad_streak = 0;
  }
  return 0;
}

static int cv_dense(dln_stepper *base, double t, double *out) {
  cv_stepper *s = (cv_stepper *)base;
  N_VSetArrayPointer(out, s->yd);
  return CVodeGetDky(s->mem, t, 0, s->yd);
}

static double cv_last_h(dln_stepper *base) {
  cv_stepper *s = (cv_stepper *)base;
  sunrealtype h = 0;
  CVodeGetLastStep(s->mem, &h);
  return h;
}

static void cv_stats(dln_stepper *base, dln_train_result *r) {
  cv_stepper *s = (cv_stepper *)base;
  long nst = 0, netf = 0, nni = 0, ncfn = 0, nli = 0;
  CVodeGetNumSteps(s->mem, &nst);
  CVodeGetNumErrTestFails(s->mem, &netf);
  CVodeGetNumNonlinSolvIters(s->mem, &nni);
  CVodeGetNumNonlinSolvConvFails(s->mem, &ncfn);
  CVodeGetNumLinIters(s->mem, &nli);
  r->attempted += nst + netf + ncfn;
  r->rejected += netf;
  r->nonlin_iters += nni;
  r->nonlin_fails += ncfn;
  r->lin_iters += nli;
}

static void cv_destroy(dln_stepper *base) {
  cv_stepper *s = (cv_stepper *)base;
  if (!s) return;
  if (s->mem) CVodeFree(&s->mem);
  if (s->ls) SUNLinSolFree(s->ls);
  dln_sun_free(&s->sctx, &s->y, &s->yd);
  free(s);
}

int dln_cvode_create(dln_run_ctx *c, double *theta, double t0, double h0, dln_stepper **out) {
  *out = NULL;
  const dln_train_options *o = c->opt;
  size_t n = dln_dyn_size(c);
  cv_stepper *s = calloc(1, sizeof *s);
  if (!s) return dln_error(DLN_ENOMEM, "out of memory allocating the CVODE integrator");
  s->base.name = "cvode-bdf";
  s->base.step = cv_step;
  s->base.dense = cv_dense;
  s->base.stats = cv_stats;
  s->base.destroy = cv_destroy;
  s->base.last_h = cv_last_h;
  s->c = c;
  int st = dln_sun_make(n, theta, &s->sctx, &s->y, &s->yd);
  if (st) goto fail;
  int maxl = o->krylov_maxl > 0 ? o->krylov_maxl : 30;
  if (s->y) s->ls = SUNLinSol_SPGMR(s->y, SUN_PREC_NONE, maxl, s->sctx);
  if (s->y) s->mem = CVodeCreate(CV_BDF, s->sctx);
  if (!s->y || !s->yd || !s->ls || !s->mem) {
    st = dln_error(DLN_ENOMEM, "out of memory allocating the CVODE integrator (%zu parameters)", n);
    goto fail;
  }
  if (CVodeSetErrHandlerFn(s->mem, dln_sun_err_capture, s->err) || CVodeInit(s->mem, cv_rhs, t0, s->y) ||
      CVodeSetUserData(s->mem, s) || CVodeSStolerances(s->mem, o->rtol, o->atol) ||
      CVodeSetLinearSolver(s->mem, s->ls, NULL) || CVodeSetJacTimes(s->mem, NULL, cv_jtv) ||
      CVodeSetStopTime(s->mem, o->t_end) || CVodeSetMaxNumSteps(s->mem, -1) ||
      (h0 > 0 && CVodeSetInitStep(s->mem, h0))) {
    st = dln_error(DLN_ESOLVER, "CVODE setup failed: %s", s->err);
    goto fail;
  }
  *out = &s->base;
  return DLN_OK;
fail:
  cv_destroy(&s->base);
  return st;
}

#define OFF(f) offsetof(dln_train_options, f)

static int krylov_check(const dln_option *o, const void *field, char *msg, size_t len) {
  (void)o;
  int m = *(const int *)field;
  if (m >= 1 && m <= 1000) return 0;
  snprintf(msg, len, "expected a Krylov dimension from 1 to 1000, found %d", m);
  return 1;
}

/* clang-format off */
static const dln_option cvode_rows[] = {
  {"krylov_maxl", DLN_OPT_INT, OFF(krylov_maxl), "30", "cvode, gauss, auto: Krylov dimension of GMRES (1..1000)", NULL, DLN_OPTR_ANY, 0, 0, krylov_check, NULL},
  DLN_OPTION_END};
/* clang-format on */

const dln_integrator_type dln_integrator_cvode = {
    .name = "cvode",
    .summary = "gradient flow by CVODE BDF + GMRES with the exact Hessian-vector Jacobian (stiff)",
    .flags = DLN_INTEG_NEEDS_HVP | DLN_INTEG_TIME,
    .options = cvode_rows,
    .options_size = 0,
    .check = NULL,
    .create = dln_cvode_create,
};
