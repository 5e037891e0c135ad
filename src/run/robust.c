/* The critical disturbance scale of one start by bisection over runs, and 000 Thm 2's
 * guaranteed scale beside it (dln/robust.h: the definition of "reaches the target set"). */
#include "dln/robust.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dln/error.h"
#include "dln/run.h"
#include "run/robust_internal.h"
#include "run/run_internal.h"

void dln_robust_default_options(dln_robust_options *o) {
  if (!o) {
    dln_args_error(__func__, "o", 0);
    return;
  }
  *o = (dln_robust_options){0.0, 1.0, 1e-3, 1.0, 5, 60, 1, NULL, NULL};
}

void dln_robust_result_free(dln_robust_result *r) {
  if (!r) return;
  free(r->evals);
  r->evals = NULL;
  r->nevals = 0;
}

int dln_robust_check_options(const dln_robust_options *o) {
  if (!(o->lo >= 0) || !isfinite(o->hi) || !(o->hi > o->lo))
    return dln_error(DLN_EINVAL, "robust: lo, hi: expected finite 0 <= lo < hi, found [%g, %g]", o->lo, o->hi);
  if (!(o->rel_tol > 0 && o->rel_tol < 1)) return dln_error(DLN_EINVAL, "robust: rel_tol: expected a number in (0, 1), found %g", o->rel_tol);
  if (!(o->reach_tol > 0) || !isfinite(o->reach_tol))
    return dln_error(DLN_EINVAL, "robust: reach_tol: expected a positive finite number, found %g", o->reach_tol);
  if (o->grid < 2 || o->grid > 1000) return dln_error(DLN_EINVAL, "robust: grid: expected 2 to 1000 points, found %d", o->grid);
  if (o->max_runs < 1) return dln_error(DLN_EINVAL, "robust: max_runs: expected >= 1, found %d", o->max_runs);
  if (o->threads < 1 || o->threads > 1024) return dln_error(DLN_EINVAL, "robust: threads: expected 1 to 1024, found %d", o->threads);
  return DLN_OK;
}

/* Depth 2, factorization, n = m = 1 (000 §III): Ȳ through *Y, else 0. */
int dln_robust_scalar_case(const dln_run_parts *p, double *Y) {
  const dln_net *net = p->net;
  if (p->e2e || !net || net->tied || net->depth != 2 || net->widths[0] != 1 || net->widths[2] != 1) return 0;
  if (!dln_loss_has(p->loss, DLN_LOSS_IDENTITY) || !p->loss->wstar) return 0;
  *Y = p->loss->wstar[0];
  return 1;
}

/* The run of spec s at scale (from theta0 when not NULL), built afresh so that it is the
 * run `dln run --disturbance_scale=scale` makes (same data, init and noise stream). */
static int poll(void *ctx, double t, double t_end, double loss) {
  (void)t, (void)t_end, (void)loss;
  const dln_robust_options *o = ctx;
  return o->cancelled(o->cancel_ctx);
}

static int build(const dln_spec *s, const double *theta0, double scale, const dln_robust_options *o, dln_run_data *d,
                 dln_run_parts *p, dln_rng **rng, int *phase) {
  memset(d, 0, sizeof *d);
  memset(p, 0, sizeof *p);
  *rng = dln_rng_alloc(s->seed, s->stream);
  if (!*rng) return *phase = DLN_RUN_FAIL_INTERNAL, dln_error(DLN_ENOMEM, "out of memory");
  int st = dln_run_data_build(s, *rng, d, phase);
  if (!st) st = dln_run_parts_build(s, d, *rng, p, phase);
  if (st) return st;
  if (theta0) {
    memcpy(p->theta, theta0, p->net->nparams * sizeof *theta0);
    memcpy(p->theta0, theta0, p->net->nparams * sizeof *theta0);
  }
  p->to.disturbance_scale = scale;
  p->to.loss_threshold = -1; /* every run to t_end */
  p->to.grad_tol = 0;
  p->to.checkpoint_every = 0;
  p->to.resume = NULL;
  p->to.progress = o && o->cancelled ? poll : NULL;
  p->to.progress_ctx = (void *)(uintptr_t)o; /* read only */
  return DLN_OK;
}

static void release(dln_run_data *d, dln_run_parts *p, dln_rng *rng) {
  dln_run_parts_free(p);
  dln_run_data_free(d);
  dln_rng_free(rng);
}

/* (b) of dln/robust.h: the relative error of θ (W buffer of rows x cols). */
static int rel_error(dln_run_parts *p, const double *theta, double *W, double *G, double *out) {
  int st = dln_net_product(p->net, theta, W);
  if (st) return st;
  size_t rc = (size_t)p->loss->rows * (size_t)p->loss->cols;
  if (dln_loss_has(p->loss, DLN_LOSS_IDENTITY)) {
    double e = 0;
    for (size_t i = 0; i < rc; ++i) e += (p->loss->wstar[i] - W[i]) * (p->loss->wstar[i] - W[i]);
    *out = sqrt(e) / p->loss->target_norm;
    return DLN_OK;
  }
  double v0, v;
  if ((st = dln_loss_eval(p->loss, W, &v, G))) return st;
  if ((st = dln_net_product(p->net, p->theta0, W)) || (st = dln_loss_eval(p->loss, W, &v0, G))) return st;
  *out = (v - p->loss->lstar) / (v0 - p->loss->lstar);
  return DLN_OK;
}

/* (c): 1 when P(T), Q(T) have the sign of P_0 + Q_0 (k = 1), −1 when not applicable. */
static int side(const dln_run_parts *p) {
  double Y;
  if (!dln_robust_scalar_case(p, &Y) || p->net->widths[1] != 1) return -1;
  const dln_net *n = p->net;
  double q0 = p->theta0[n->offset[1]], p0 = p->theta0[n->offset[2]], q = p->theta[n->offset[1]], pp = p->theta[n->offset[2]];
  double sg = (p0 + q0 > 0) - (p0 + q0 < 0);
  return sg != 0 && pp * sg > 0 && q * sg > 0;
}

int dln_robust_eval_one(const dln_spec *s, const double *theta0, double scale, const dln_robust_options *o, dln_robust_eval *e) {
  dln_run_data d;
  dln_run_parts p;
  dln_rng *rng = NULL;
  memset(&d, 0, sizeof d), memset(&p, 0, sizeof p);
  int phase, st = o->cancelled && o->cancelled(o->cancel_ctx) ? dln_error(DLN_ESOLVER, "robust: cancelled")
                                                               : build(s, theta0, scale, o, &d, &p, &rng, &phase);
  size_t rc = p.loss ? (size_t)p.loss->rows * (size_t)p.loss->cols : 1;
  double *W = st ? NULL : malloc(2 * (rc ? rc : 1) * sizeof *W);
  if (!st && !W) st = dln_error(DLN_ENOMEM, "out of memory");
  dln_train_result tr;
  memset(&tr, 0, sizeof tr);
  if (!st) st = dln_run_parts_train(&p, &tr);
  if (!st && tr.stop_reason == DLN_STOP_CANCELLED) st = dln_error(DLN_ESOLVER, "robust: cancelled");
  *e = (dln_robust_eval){scale, 0, tr.stop_reason, NAN, -1};
  if (!st && tr.stop_reason == DLN_STOP_TIME) {
    st = rel_error(&p, p.theta, W, W + rc, &e->rel_err);
    e->side = side(&p);
    e->reached = !st && e->rel_err <= o->reach_tol && e->side != 0;
  }
  if (st) {
    char msg[900];
    snprintf(msg, sizeof msg, "%s", dln_last_error());
    st = dln_error(st, "robust: the run at disturbance_scale = %.17g: %s", scale, msg);
  }
  free(W);
  release(&d, &p, rng);
  return st;
}

static int push(dln_robust_result *r, int *cap, const dln_robust_eval *e) {
  if (r->nevals == *cap) {
    int nc = *cap ? 2 * *cap : 32;
    dln_robust_eval *v = realloc(r->evals, (size_t)nc * sizeof *v);
    if (!v) return dln_error(DLN_ENOMEM, "out of memory");
    r->evals = v, *cap = nc;
  }
  r->evals[r->nevals++] = *e;
  return DLN_OK;
}

/* The scan over [lo, hi] and the bisection of its first crossing. */
static int bisect(const dln_spec *s, const double *theta0, const dln_robust_options *o, dln_robust_result *r) {
  int cap = 0, st = DLN_OK, first_fail = -1, G = o->grid;
  dln_robust_eval e;
  r->nonmono_scale = NAN;
  for (int i = 0; i < G && !st; ++i) {
    double sc = i == G - 1 ? o->hi : o->lo + (o->hi - o->lo) * i / (G - 1);
    if (!(st = dln_robust_eval_one(s, theta0, sc, o, &e))) st = push(r, &cap, &e);
    if (st) break;
    if (!e.reached && first_fail < 0) first_fail = i;
    if (e.reached && first_fail >= 0) r->nonmonotone = 1, r->nonmono_scale = sc;
  }
  if (st) return st;
  if (first_fail < 0) {
    r->status = DLN_ROBUST_ALL_REACH, r->lo = r->hi = o->hi;
    return DLN_OK;
  }
  if (first_fail == 0) {
    r->status = DLN_ROBUST_NONE_REACH, r->lo = r->hi = o->lo;
    return DLN_OK;
  }
  r->status = DLN_ROBUST_BRACKET;
  r->lo = r->evals[first_fail - 1].scale, r->hi = r->evals[first_fail].scale;
  for (int k = 0; k < o->max_runs && r->hi - r->lo > o->rel_tol * r->hi; ++k) {
    double m = 0.5 * (r->lo + r->hi);
    if ((st = dln_robust_eval_one(s, theta0, m, o, &e)) || (st = push(r, &cap, &e))) return st;
    *(e.reached ? &r->lo : &r->hi) = m;
  }
  return DLN_OK;
}

/* 000 Thm 2 beside the measurement (dln/robust.h); NAN where it does not apply. */
static void thm2(const dln_spec *s, const dln_run_parts *p, dln_robust_result *r) {
  double Y;
  r->start_dist = r->uv_per_scale = r->thm2_alpha = r->thm2_scale = r->ratio = NAN;
  if (!dln_robust_scalar_case(p, &Y)) return;
  const dln_net *n = p->net;
  double sp = 0, d1 = 0, d2 = 0;
  for (int i = 0; i < n->widths[1]; ++i) {
    double q = p->theta0[n->offset[1] + i], pp = p->theta0[n->offset[2] + i];
    sp += (pp + q) * (pp + q);
    if (p->dist) d1 += p->dist[n->offset[1] + i] * p->dist[n->offset[1] + i], d2 += p->dist[n->offset[2] + i] * p->dist[n->offset[2] + i];
  }
  r->start_dist = sqrt(sp / 2);
  if (p->dist) r->uv_per_scale = sqrt(d1) + sqrt(d2);
  else if (s->train.disturbance && strcmp(s->train.disturbance, "worst_case") == 0) r->uv_per_scale = 1; /* ‖U‖ + ‖V‖ = scale (issue 10) */
  if (!(Y > 0) || !(r->uv_per_scale > 0)) return;
  double a = fmin(sqrt(sp), 2 * sqrt(Y / 3));
  if (!(a > 0)) return; /* a start in S^−: only R_0, bound 0 */
  r->thm2_alpha = a;
  r->thm2_scale = a * (Y - a * a / 4) / sqrt(2.0) / r->uv_per_scale;
  r->ratio = r->lo / r->thm2_scale;
}

int dln_robust_spec(const dln_spec *spec, const double *theta0, const dln_robust_options *o, dln_robust_result *r, int *phase) {
  DLN_ARGS(spec, o, r, phase);
  memset(r, 0, sizeof *r);
  *phase = DLN_RUN_FAIL_SPEC;
  int st = dln_robust_check_options(o);
  if (!st) st = dln_robust_check_spec(spec);
  if (st) return st;
  dln_run_data d;
  dln_run_parts p;
  dln_rng *rng;
  if (!(st = build(spec, theta0, 0.0, NULL, &d, &p, &rng, phase))) st = dln_robust_check_parts(&p);
  if (!st) {
    *phase = DLN_RUN_FAIL_INTERNAL;
    st = bisect(spec, theta0, o, r);
  }
  if (!st) thm2(spec, &p, r), *phase = DLN_RUN_FAIL_NONE;
  release(&d, &p, rng);
  if (st) dln_robust_result_free(r);
  return st;
}

int dln_robust_check_spec(const dln_spec *s) {
  int st = dln_spec_check(s);
  if (st) return st;
  if (!s->train.disturbance || strcmp(s->train.disturbance, "none") == 0)
    return dln_error(DLN_EINVAL, "robust: disturbance: expected a disturbance shape (constant, sinusoid, noise, ...), found none");
  return DLN_OK;
}

int dln_robust_check_parts(const dln_run_parts *p) {
  if (p->e2e) return dln_error(DLN_EINVAL, "robust: method: expected a layer-wise method (a disturbance is per layer), found an end-to-end one");
  if (dln_loss_has(p->loss, DLN_LOSS_IDENTITY)) {
    if (!(p->loss->target_norm > 0))
      return dln_error(DLN_EINVAL, "robust: target: expected a nonzero target (relative error), found norm %g", p->loss->target_norm);
    return DLN_OK;
  }
  if (!dln_loss_has(p->loss, DLN_LOSS_HAS_LSTAR))
    return dln_error(DLN_EINVAL, "robust: task %s: expected a factorization or a loss with known L* (relative error), found neither",
                     dln_loss_name(p->loss));
  return DLN_OK;
}
