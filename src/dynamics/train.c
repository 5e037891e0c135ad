/* Layer-wise gradient descent and gradient flow (dln/train.h): the network as a system
 * of the shared drivers (driver.c, dynamics_internal.h); the options are in
 * train_options.c.
 *
 * Gradient descent θ_{k+1} = θ_k − η∇φ(θ_k), the explicit Euler discretization of
 * θ̇ = −∇φ(θ) (001 footnote 2), time t = kη. Gradient flow by any integrator type
 * (dln/integrator.h; the default AUTO). The drivers, the stop
 * rules, sampling by dense output and the integrators are described in driver.c and
 * docs/integrators.md. The network provides the value and gradient (dln_net_grad), the
 * exact Hessian-vector product (dln_net_hvp) and the observer's table rows. */
#include "dln/train.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "dln/error.h"
#include "dln/mat.h"
#include "dynamics/dynamics_internal.h"
#include "model/model_internal.h"
#include "nvec_fast.h"

/* ------------------------------------------------------------ the network as a system */

static size_t net_size(const dln_run_ctx *c) { return c->net->nparams; }

static double net_loss(dln_run_ctx *c, const double *theta) {
  double v = NAN;
  if (dln_net_grad(c->net, c->loss, theta, &v, NULL, NULL)) return NAN;
  return v;
}

static int net_gd_eval(dln_run_ctx *c, const double *theta, double *val, double *grad) {
  return dln_net_grad_unchecked(c->net, c->loss, theta, val, grad); /* arguments checked by dln_train */
}

/* gradient descent's quiet step fused in the network's tiny kernels, where it has them */
static int net_gd_has_step(const dln_run_ctx *c) { return dln_net_has_grad_step(c->net, c->loss); }
static int net_gd_eval_step(dln_run_ctx *c, const double *theta, double *val, double *grad, double step, double *next,
                            int *over) {
  return dln_net_grad_step_unchecked(c->net, c->loss, theta, val, grad, step, next, c->opt->blowup, over);
}

static double net_gd_grad_norm(dln_run_ctx *c, const double *grad) { return dln_norm2(c->net->nparams, grad); }

static int net_rhs(dln_run_ctx *c, const double *theta, double *g) {
  double val;
  /* θ̇ = −∇φ(θ), computed negated (model_internal.h); arguments checked by dln_train */
  int st = dln_net_neg_grad_unchecked(c->net, c->loss, theta, &val, g);
  if (st) return -1; /* fatal */
  int bad = !isfinite(val) || (!c->rhs_defer_check && dln_vec_nonfinite(c->net->nparams, g));
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
  c->grad_evals++;
  net_rhs(c, theta, buf); /* ‖∇φ‖, without a disturbance */
  *norm = dln_norm2(c->net->nparams, buf);
  return DLN_OK;
}

/* One sampler row; gradient descent does not repeat a row for two sample times that
 * round to the same step. */
static int net_record(dln_run_ctx *c, int i, double t, long step, const double *theta, int repeat) {
  (void)i;
  if (!c->sampler || !c->traj) return DLN_OK;
  if (repeat && c->traj->nrows != 0) return DLN_OK;
  int st = c->sampler->eval(c->sampler->ctx, t, step, theta, c->row);
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
    .gd_eval_step = net_gd_eval_step,
    .gd_has_step = net_gd_has_step,
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

int dln_train_sampled(dln_net *net, dln_loss *loss, double *theta, const dln_train_options *opt,
                      const dln_sampler *obs, dln_table *traj, dln_train_result *result) {
  DLN_ARGS(net, loss, theta, opt, result);
  if (obs && (!obs->eval || obs->ncols < 0))
    return dln_error(DLN_EINVAL, "dln_train_sampled: sampler: expected an eval function and ncols >= 0, found %s",
                     obs->eval ? "ncols < 0" : "eval NULL");
  dln_dyn_result_init(result);
  result->integrator = opt && opt->method && (opt->method->flags & DLN_INTEG_DISCRETE) ? opt->method->name : "none";
  int st = dln_train_check(opt);
  if (st) return st;
  if (loss->rows != dln_net_rows(net) || loss->cols != dln_net_cols(net))
    return dln_error(DLN_EDIM, "loss %s expects an end-to-end matrix %d x %d, network gives %d x %d", loss->ops->name,
                     loss->rows, loss->cols, dln_net_rows(net), dln_net_cols(net));
  if ((st = dln_net_check_finite(net, theta, "initial weights"))) return st;
  int ns = dln_train_nsamples(opt);
  if (opt->resume) ns -= opt->resume->next_sample; /* the rows before it are in traj */
  if (traj && traj->cap - traj->nrows < (size_t)ns + 1)
    return dln_error(DLN_EINVAL, "trajectory table: expected room for %d rows, found %zu", ns + 1, traj->cap - traj->nrows);
  if (obs && traj && obs->ncols != traj->ncols)
    return dln_error(DLN_EDIM, "trajectory table: expected %d columns (observer), found %d", obs->ncols, traj->ncols);
  dln_run_ctx c = {0};
  c.sys = &dln_net_system;
  c.net = net;
  c.loss = loss;
  c.opt = opt;
  c.sampler = obs;
  c.traj = traj;
  c.res = result;
  c.row = malloc((size_t)(obs && obs->ncols > 0 ? obs->ncols : 1) * sizeof(double));
  if (!c.row) return dln_error(DLN_ENOMEM, "out of memory allocating sample buffers");
  st = dln_dyn_run(&c, theta);
  free(c.row);
  return st;
}
