/* The run context as a dynamical system (dynamics_internal.h, dln/integrator.h): the
 * right-hand side and Hessian-vector product with the run's disturbance added (000 eq. 9),
 * the public dln_system accessors for integrator types, the result's initial state and the
 * weighted RMS norm. Split from driver.c, which drives the runs. */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "core/util.h"
#include "dln/error.h"
#include "dln/mat.h"
#include "dynamics/dynamics_internal.h"
#include "nvec_fast.h"

void dln_dyn_result_init(dln_train_result *r) {
  memset(r, 0, sizeof *r);
  r->t_threshold = NAN;
  r->fail_t = NAN;
  r->fail_step = -1;
  r->loss = NAN;
  r->switched_at = NAN;
  r->integrator = NULL;
}

int dln_dyn_rhs(dln_run_ctx *c, double t, const double *theta, double *g) {
  c->grad_evals++;
  int rc = dln_dyn_sys(c)->rhs(c, theta, g);
  if (rc || !c->disturbed) return rc;
  /* the disturbed flow θ̇ = −∇φ(θ) + D(t) (000 eq. 9, every layer) */
  if (c->worst) { /* D(θ) toward S^− (000 §III; worst_case.c) */
    dln_worst_case_axpy(c->net, c->opt, theta, g, 1.0, 1.0, g); /* g = −∇φ so far */
    return rc;
  }
  double a = dln_train_disturbance_factor(c->opt, t);
  if (a != 0) dln_vec_axpy(dln_dyn_size(c), a, c->opt->disturbance_D, g, g);
  return rc;
}

int dln_dyn_hvp(dln_run_ctx *c, const double *theta, const double *v, double *out) {
  c->jtv_evals++;
  int rc = dln_dyn_sys(c)->hvp(c, theta, v, out);
  /* worst case: the field −∇φ + D(θ) has Jacobian −∇²φ + J_D, so the product is (∇²φ − J_D) v */
  if (!rc && c->worst) dln_worst_case_neg_jvp_add(c->net, c->opt, theta, v, out);
  return rc;
}

/* ------------------------------------------------------------ the public system */

size_t dln_system_size(const dln_system *s) {
  DLN_ARGS_V(0, s);
  return dln_dyn_size(s);
}
int dln_system_rhs(dln_system *s, const double *x, double *f) {
  DLN_ARGS_V(-1, s, x, f);
  return dln_dyn_rhs(s, 0.0, x, f);
}
int dln_system_rhs_t(dln_system *s, double t, const double *x, double *f) {
  DLN_ARGS_V(-1, s, x, f);
  if (!isfinite(t)) {
    dln_error(DLN_EINVAL, "dln_system_rhs_t: t: expected a finite time, found %g", t);
    return -1;
  }
  return dln_dyn_rhs(s, t, x, f);
}
int dln_system_has_hvp(const dln_system *s) {
  DLN_ARGS_V(0, s);
  return dln_dyn_sys(s)->hvp != NULL;
}
int dln_system_hvp(dln_system *s, const double *x, const double *v, double *out) {
  DLN_ARGS_V(-1, s, x, v, out);
  if (!dln_dyn_sys(s)->hvp) {
    dln_error(DLN_EINVAL, "the %s system has no Hessian-vector product", dln_dyn_sys(s)->flow_name);
    return -1;
  }
  return dln_dyn_hvp(s, x, v, out);
}
double dln_system_loss(dln_system *s, const double *x) {
  DLN_ARGS_V(NAN, s, x);
  return dln_dyn_sys(s)->loss(s, x);
}
const dln_train_options *dln_system_options(const dln_system *s) {
  DLN_ARGS_P(s);
  return s->opt;
}

double dln_dyn_wrms(size_t n, const double *x, const double *y, double rtol, double atol) {
  double s = 0;
  for (size_t i = 0; i < n; ++i) {
    double w = x[i] / (atol + rtol * fabs(y[i]));
    s += w * w;
  }
  return n ? sqrt(s / (double)n) : 0.0;
}
