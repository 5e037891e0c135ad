/* Private interface between the flow driver (train.c) and its integrators
 * (ARKODE ERK in train.c, CVODE in cvode.c, Gauss–Legendre in gauss.c).
 *
 * A stepper advances θ̇ = −∇φ(θ) one internal step at a time with the state held in
 * the caller's θ buffer, and offers dense output on the last step interval, so one
 * driver (train.c: drive_flow) does the sampling, the loss-threshold bisection, the
 * stop rules and divergence reporting for every integrator. Not installed. */
#ifndef DLN_DYNAMICS_INTERNAL_H
#define DLN_DYNAMICS_INTERNAL_H

#include <stddef.h>

#include "dln/train.h"

/* Shared state of a run: samples, result bookkeeping and counters. */
typedef struct dln_run_ctx {
  dln_net *net;
  dln_loss *loss;
  const dln_train_options *opt;
  dln_observer *obs;
  dln_table *traj;
  dln_train_result *res;
  double *times;
  int ntimes, next; /* next sample index */
  double *row;
  double last_progress;
  double t0_wall;
  /* flow counters, shared by all integrators of one run */
  long grad_evals; /* right-hand sides −∇φ */
  long jtv_evals;  /* Hessian-vector products ∇²φ v */
  int rhs_bad;     /* the last failure came from a non-finite right-hand side */
  char sundials_msg[256];
} dln_run_ctx;

/* g = −∇φ(θ) (the flow's right-hand side), counted in c->grad_evals.
 * Returns 0, 1 when the value or gradient is not finite (recoverable: retry with a
 * smaller step; sets c->rhs_bad), −1 on a library error (fatal). */
int dln_dyn_rhs(dln_run_ctx *c, const double *theta, double *g);
/* out = ∇²φ(θ) v, counted in c->jtv_evals. 0 or −1 (fatal). */
int dln_dyn_hvp(dln_run_ctx *c, const double *theta, const double *v, double *out);

/* Weighted RMS norm with SUNDIALS' weights 1/(atol + rtol |y_i|). */
double dln_dyn_wrms(size_t n, const double *x, const double *y, double rtol, double atol);

/* One integrator behind the flow driver. step() advances θ (the buffer given at
 * creation) by one internal step, never past opt->t_end, and sets *t. It returns
 * 0, or DLN_STOP_SOLVER / DLN_STOP_DIVERGED with a reason in msg (the driver then
 * reports it; θ still holds the last accepted state). dense() evaluates the
 * interpolant at t inside the last step interval into out (0 or nonzero). stats()
 * adds the integrator's counters to r (steps are counted by the driver; grad_evals
 * and jtv_evals come from dln_run_ctx). destroy() accepts half-built steppers. */
typedef struct dln_stepper dln_stepper;
struct dln_stepper {
  const char *name;
  int (*step)(dln_stepper *s, double *t);
  int (*dense)(dln_stepper *s, double t, double *out);
  void (*stats)(dln_stepper *s, dln_train_result *r);
  void (*destroy)(dln_stepper *s);
  double (*last_h)(dln_stepper *s); /* size of the last accepted step */
  char msg[256];
};

/* The Jacobian-vector product CVODE uses: Jv = −∇²φ(θ) v (exact). 0, 1 (non-finite), −1. */
int dln_cvode_jtv(dln_run_ctx *c, const double *theta, const double *v, double *Jv);
/* CVODE BDF + SPGMR with J v = −∇²φ(θ) v, started at (t0, θ) (cvode.c); h0 > 0 is
 * the first step to try (AUTO passes the last ERK step), 0 lets CVODE estimate it. */
int dln_cvode_create(dln_run_ctx *c, double *theta, double t0, double h0, dln_stepper **out);
/* Gauss–Legendre collocation, s = opt->gauss_stages, started at (t0, θ) (gauss.c). */
int dln_gauss_create(dln_run_ctx *c, double *theta, double t0, dln_stepper **out);

#endif
