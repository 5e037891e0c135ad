/* Layer-wise gradient descent and gradient flow (dln/train.h): options, sample times,
 * and the network as a system of the shared drivers (driver.c, dynamics_internal.h).
 *
 * Gradient descent θ_{k+1} = θ_k − η∇φ(θ_k), the explicit Euler discretization of
 * θ̇ = −∇φ(θ) (001 footnote 2), time t = kη. Gradient flow by ARKODE ERK, CVODE,
 * Gauss–Legendre or AUTO (ERK switching to CVODE when stiff); the drivers, the stop
 * rules, sampling by dense output and the integrators are described in driver.c and
 * docs/integrators.md. The network provides the value and gradient (dln_net_grad), the
 * exact Hessian-vector product (dln_net_hvp) and the observer's table rows. */
#include "dln/train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dln/error.h"
#include "dln/mat.h"
#include "dynamics/dynamics_internal.h"
#include "nvec_fast.h"

/* Largest t_end/η of gradient descent: the step counter is a long; 2^62 steps is far
 * beyond any run and keeps round(t_end/η) + 1 exact in a long. */
#define DLN_GD_MAX_STEPS 4.611686018427387904e18

const char *dln_stop_reason_name(int reason) {
  switch (reason) {
    case DLN_STOP_TIME: return "time";
    case DLN_STOP_STEPS: return "steps";
    case DLN_STOP_LOSS: return "loss";
    case DLN_STOP_CONVERGED: return "converged";
    case DLN_STOP_DIVERGED: return "diverged";
    case DLN_STOP_SOLVER: return "solver";
    case DLN_STOP_CANCELLED: return "cancelled";
    default: return "none";
  }
}

void dln_train_default_options(dln_train_options *opt) {
  memset(opt, 0, sizeof *opt);
  opt->method = DLN_METHOD_GD;
  opt->eta = 1e-3;
  opt->t_end = 10.0;
  opt->max_steps = 0;
  opt->loss_threshold = -1.0;
  opt->grad_tol = 0.0;
  opt->rtol = 1e-8;
  opt->atol = 1e-10;
  opt->erk_order = 5;
  opt->blowup = 1e150;
  opt->nsamples = 201;
  opt->log_spacing = 0;
  opt->t_first = 0.0;
  opt->gauss_stages = 2;
  opt->gauss_h = 0.0;
  opt->krylov_maxl = 30;
  opt->auto_stiff_ratio = 0.5;
  opt->auto_window = 3;
  opt->auto_min_steps = 200;
  opt->auto_rkc_max = 1e4;
}

int dln_train_check(const dln_train_options *o) {
  if (o->method != DLN_METHOD_GD && o->method != DLN_METHOD_FLOW && o->method != DLN_METHOD_CVODE &&
      o->method != DLN_METHOD_GAUSS && o->method != DLN_METHOD_AUTO && o->method != DLN_METHOD_RKC)
    return dln_error(DLN_EINVAL, "method: expected gd (0), flow (1), cvode (2), gauss (3), auto (4) or rkc (5), found %d",
                     (int)o->method);
  if (o->method == DLN_METHOD_GD && !(isfinite(o->eta) && o->eta > 0))
    return dln_error(DLN_EINVAL, "eta: expected a finite step size > 0, found %g", o->eta);
  if (!(isfinite(o->t_end) && o->t_end > 0))
    return dln_error(DLN_EINVAL, "t_end: expected a finite time > 0, found %g", o->t_end);
  /* the step count round(t_end/η) must be a long (and countable) */
  if (o->method == DLN_METHOD_GD && !(o->t_end / o->eta <= DLN_GD_MAX_STEPS))
    return dln_error(DLN_EINVAL, "t_end/eta: expected at most %.3g gradient-descent steps, found t_end = %g, eta = %g (%.3g steps)",
                     DLN_GD_MAX_STEPS, o->t_end, o->eta, o->t_end / o->eta);
  if (o->max_steps < 0) return dln_error(DLN_EINVAL, "max_steps: expected >= 0, found %ld", o->max_steps);
  if (isnan(o->loss_threshold)) return dln_error(DLN_EINVAL, "loss_threshold: expected a number, found nan");
  if (!(o->grad_tol >= 0) || isinf(o->grad_tol))
    return dln_error(DLN_EINVAL, "grad_tol: expected a finite value >= 0, found %g", o->grad_tol);
  if (o->method != DLN_METHOD_GD) {
    if (!(isfinite(o->rtol) && o->rtol > 0 && o->rtol < 1))
      return dln_error(DLN_EINVAL, "rtol: expected 0 < rtol < 1, found %g", o->rtol);
    if (!(isfinite(o->atol) && o->atol > 0))
      return dln_error(DLN_EINVAL, "atol: expected a finite value > 0, found %g", o->atol);
    if ((o->method == DLN_METHOD_FLOW || o->method == DLN_METHOD_AUTO || o->method == DLN_METHOD_RKC) && o->erk_order != 2 && o->erk_order != 3 &&
        o->erk_order != 4 && o->erk_order != 5 && o->erk_order != 6 && o->erk_order != 8)
      return dln_error(DLN_EINVAL, "erk_order: expected one of 2, 3, 4, 5, 6, 8, found %d", o->erk_order);
    if (o->gauss_stages != 0 && o->gauss_stages != 1 && o->gauss_stages != 2)
      return dln_error(DLN_EINVAL, "gauss_stages: expected 1 or 2 (0 = default 2), found %d", o->gauss_stages);
    if (!(isfinite(o->gauss_h) && o->gauss_h >= 0))
      return dln_error(DLN_EINVAL, "gauss_h: expected a finite step >= 0 (0 = adaptive), found %g", o->gauss_h);
    if (o->krylov_maxl < 0 || o->krylov_maxl > 1000)
      return dln_error(DLN_EINVAL, "krylov_maxl: expected 0..1000 (0 = default 30), found %d", o->krylov_maxl);
    if (!(isfinite(o->auto_stiff_ratio) && o->auto_stiff_ratio >= 0))
      return dln_error(DLN_EINVAL, "auto_stiff_ratio: expected a finite value >= 0 (0 = default 0.5), found %g",
                       o->auto_stiff_ratio);
    if (o->auto_window < 0)
      return dln_error(DLN_EINVAL, "auto_window: expected >= 0 (0 = default 3), found %d", o->auto_window);
    if (!(isfinite(o->auto_rkc_max) && o->auto_rkc_max >= 0))
      return dln_error(DLN_EINVAL, "auto_rkc_max: expected a finite value >= 0 (0 = default 1e4), found %g",
                       o->auto_rkc_max);
    if (o->auto_min_steps < 0)
      return dln_error(DLN_EINVAL, "auto_min_steps: expected >= 0 (0 = default 200), found %ld", o->auto_min_steps);
  }
  if (!(o->blowup > 0)) return dln_error(DLN_EINVAL, "blowup: expected a value > 0, found %g", o->blowup);
  if (o->sample_times) {
    if (o->nsample_times < 1)
      return dln_error(DLN_EINVAL, "sample_times: expected at least 1 time, found %d", o->nsample_times);
    for (int i = 0; i < o->nsample_times; ++i) {
      double t = o->sample_times[i];
      if (!(t >= 0 && t <= o->t_end))
        return dln_error(DLN_EINVAL, "sample_times[%d]: expected a time in [0, t_end=%g], found %g", i, o->t_end, t);
      if (i > 0 && !(t > o->sample_times[i - 1]))
        return dln_error(DLN_EINVAL, "sample_times[%d]: expected increasing times, found %g after %g", i, t,
                         o->sample_times[i - 1]);
    }
  } else {
    if (o->nsamples < 2) return dln_error(DLN_EINVAL, "samples: expected at least 2, found %d", o->nsamples);
    if (o->log_spacing && !(o->t_first >= 0 && o->t_first < o->t_end))
      return dln_error(DLN_EINVAL, "t_first: expected 0 <= t_first < t_end=%g, found %g", o->t_end, o->t_first);
  }
  return DLN_OK;
}

int dln_train_nsamples(const dln_train_options *o) { return o->sample_times ? o->nsample_times : o->nsamples; }

int dln_train_sample_times(const dln_train_options *o, double *times) {
  int st = dln_train_check(o);
  if (st) return st;
  if (o->sample_times) {
    memcpy(times, o->sample_times, (size_t)o->nsample_times * sizeof(double));
    return DLN_OK;
  }
  int n = o->nsamples;
  times[0] = 0.0;
  if (o->log_spacing) {
    /* t = 0, then n−1 points log-spaced from t_first to t_end */
    double t1 = o->t_first > 0 ? o->t_first : o->t_end * 1e-4;
    double a = log(t1), b = log(o->t_end);
    for (int i = 1; i < n; ++i) times[i] = (n == 2) ? o->t_end : exp(a + (b - a) * (i - 1) / (n - 2));
  } else {
    for (int i = 1; i < n; ++i) times[i] = o->t_end * i / (n - 1);
  }
  times[n - 1] = o->t_end;
  return DLN_OK;
}


/* ------------------------------------------------------------ the network as a system */

static size_t net_size(const dln_run_ctx *c) { return c->net->nparams; }

static double net_loss(dln_run_ctx *c, const double *theta) {
  double v = NAN;
  if (dln_net_grad(c->net, c->loss, theta, &v, NULL, NULL)) return NAN;
  return v;
}

static int net_gd_eval(dln_run_ctx *c, const double *theta, double *val, double *grad) {
  return dln_net_grad(c->net, c->loss, theta, val, grad, NULL);
}

static double net_gd_grad_norm(dln_run_ctx *c, const double *grad) { return dln_norm2(c->net->nparams, grad); }

static int net_rhs(dln_run_ctx *c, const double *theta, double *g) {
  double val;
  int st = dln_net_grad(c->net, c->loss, theta, &val, g, NULL);
  if (st) return -1; /* fatal */
  size_t n = c->net->nparams;
  /* θ̇ = −∇φ(θ) */
  int bad = dln_vec_negate_check(n, g) || !isfinite(val);
  if (bad) {
    c->rhs_bad = 1;
    return 1; /* recoverable: the integrator retries with a smaller step */
  }
  return 0;
}

static int net_hvp(dln_run_ctx *c, const double *theta, const double *v, double *out) {
  return dln_net_hvp(c->net, c->loss, theta, v, out) ? -1 : 0;
}

static int net_grad_norm(dln_run_ctx *c, const double *theta, double *buf, double *norm) {
  dln_dyn_rhs(c, theta, buf);
  *norm = dln_norm2(c->net->nparams, buf);
  return DLN_OK;
}

/* One observer row; gradient descent does not repeat a row for two sample times that
 * round to the same step. */
static int net_record(dln_run_ctx *c, int i, double t, long step, const double *theta, int repeat) {
  (void)i;
  if (!c->obs || !c->traj) return DLN_OK;
  if (repeat && c->traj->nrows != 0) return DLN_OK;
  int st = dln_observer_eval(c->obs, t, step, theta, c->row);
  if (st) return st;
  return dln_table_append(c->traj, c->row);
}

const dln_dyn_system dln_net_system = {
    .gd_name = "gradient descent",
    .flow_name = "gradient flow",
    .state_name = "θ",
    .size = net_size,
    .loss = net_loss,
    .gd_eval = net_gd_eval,
    .gd_grad_norm = net_gd_grad_norm,
    .rhs = net_rhs,
    .hvp = net_hvp,
    .grad_norm = net_grad_norm,
    .record = net_record,
    .gd_sign = -1.0,
    .gd_check_state = 1, /* divergence: φ or ‖θ‖_∞ above blowup (dln/train.h), as the flow driver */
    .flow_grad_tol_needs_loss = 1,
    .flow_result_on_early_exit = 0,
};

int dln_train(dln_net *net, dln_loss *loss, double *theta, const dln_train_options *opt, dln_observer *obs,
              dln_table *traj, dln_train_result *result) {
  dln_dyn_result_init(result);
  result->integrator = opt->method == DLN_METHOD_GD ? "gd" : "none";
  int st = dln_train_check(opt);
  if (st) return st;
  if (loss->rows != dln_net_rows(net) || loss->cols != dln_net_cols(net))
    return dln_error(DLN_EDIM, "loss %s expects an end-to-end matrix %d x %d, network gives %d x %d", loss->ops->name,
                     loss->rows, loss->cols, dln_net_rows(net), dln_net_cols(net));
  if ((st = dln_net_check_finite(net, theta, "initial weights"))) return st;
  int ns = dln_train_nsamples(opt);
  if (traj && traj->cap - traj->nrows < (size_t)ns + 1)
    return dln_error(DLN_EINVAL, "trajectory table: expected room for %d rows, found %zu", ns + 1, traj->cap - traj->nrows);
  if (obs && traj && dln_observer_ncols(obs) != traj->ncols)
    return dln_error(DLN_EDIM, "trajectory table: expected %d columns (observer), found %d", dln_observer_ncols(obs),
                     traj->ncols);
  dln_run_ctx c = {0};
  c.sys = &dln_net_system;
  c.net = net;
  c.loss = loss;
  c.opt = opt;
  c.obs = obs;
  c.traj = traj;
  c.res = result;
  c.row = malloc((size_t)(obs ? dln_observer_ncols(obs) : 1) * sizeof(double));
  if (!c.row) return dln_error(DLN_ENOMEM, "out of memory allocating sample buffers");
  st = dln_dyn_run(&c, theta);
  free(c.row);
  return st;
}
