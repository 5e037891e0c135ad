/* The gradient-descent and gradient-flow drivers shared by every system
 * (dynamics_internal.h: the layer-wise network of dln_train, the end-to-end matrix of
 * dln_e2e_train) and every integrator type (dln/integrator.h); the public view of a run
 * as a dln_system is in system.c.
 *
 * Gradient descent x_{k+1} = x_k − η∇φ(x_k) (or its preconditioned form), the explicit
 * Euler discretization of the flow, time t = kη (the type dln_integrator_gd, gd.c). Two
 * state buffers are swapped each step, so the last good state survives a divergent update
 * without copying (a third when the system fuses the update into its gradient: gd_quiet).
 *
 * Gradient flow (drive_flow): the method's stepper (type->create) advances the state one
 * internal step at a time; samples come from its dense output on [t_n, t_{n+1}], so they
 * never shorten a step; a loss-threshold crossing is located on the dense output by
 * bisection. The steppers: ARKODE ERK (erk.c), CVODE BDF + GMRES with the exact
 * Jacobian-vector product −∇²φ v (cvode.c), Gauss–Legendre collocation (gauss.c), RKC
 * (dln's own RK switching to Runge–Kutta–Chebyshev, rkc.c) and AUTO (auto.c: RKC that,
 * when the run is very stiff, continues with CVODE). The driver knows none of them by
 * name: a type flagged DLN_INTEG_NEEDS_HVP is refused once, up front, for a system
 * without Hessian-vector products. */
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "dln/error.h"
#include "dln/mat.h"
#include "dynamics/dynamics_internal.h"
#include "nvec_fast.h"
#include "sundials_util.h"

/* ------------------------------------------------------------ shared helpers */

/* The progress callback, at most every 0.1 s of wall time; nonzero: cancel. */
static int progress(dln_run_ctx *c, double t, double loss) {
  if (!c->opt->progress) return 0;
  double w = dln_now_seconds();
  if (w - c->last_progress < 0.1) return 0;
  c->last_progress = w;
  return c->opt->progress(c->opt->progress_ctx, t, c->opt->t_end, loss);
}

static void finish(dln_run_ctx *c, int reason, double t, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
static void finish(dln_run_ctx *c, int reason, double t, const char *fmt, ...) {
  c->res->stop_reason = reason;
  c->res->t = t;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->res->message, sizeof c->res->message, fmt, ap);
  va_end(ap);
}

/* ------------------------------------------------------------ checkpoints */

/* Report a checkpoint at (t, step) with state x to the options' callback (docs/resume.md). */
static int checkpoint_at(dln_run_ctx *c, double t, long step, double h, const double *x, int interrupted) {
  const dln_train_options *o = c->opt;
  if (!o->checkpoint) return DLN_OK;
  dln_train_checkpoint cp = {t, step, c->next, h, c->res->grad_evals + c->grad_evals, c->jtv_evals, interrupted,
                             dln_dyn_size(c), x};
  return o->checkpoint(o->checkpoint_ctx, &cp);
}

/* The per-sample callback (dln_sample_fn, dln/train.h) after sample i was recorded at
 * (t, step) with state x: nonzero asks the run to stop there. */
static int sample_cb(dln_run_ctx *c, double t, long step, const double *x) {
  const dln_train_options *o = c->opt;
  return o->on_sample ? o->on_sample(o->on_sample_ctx, t, step, x, c->net) : 0;
}

/* ------------------------------------------------------------ gradient descent */
static long gd_step_of(double t, double eta) { return (long)floor(t / eta + 0.5); }

/* GD's time at step k: k·η, or the next explicit sample time when it falls on step k
 * (dln_train_check makes each a whole number of steps), so that the t column equals the
 * requested time bit for bit. */
static double gd_time(const dln_run_ctx *c, long k) {
  const dln_train_options *o = c->opt;
  if (o->sample_times && c->next < c->ntimes && gd_step_of(c->times[c->next], o->eta) == k) return c->times[c->next];
  return k * o->eta;
}

/* A GD checkpoint at step k; under noisy_data E_k is drawn already, so the stream is saved
 * as it was before E_k (a resumed run draws E_k again). */
static int gd_checkpoint(dln_run_ctx *c, dln_noisy_data *nd, double t, long k, const double *x, int interrupted) {
  if (!nd) return checkpoint_at(c, t, k, 0.0, x, interrupted);
  int st = dln_noisy_rewind(nd, 1);
  if (!st) st = checkpoint_at(c, t, k, 0.0, x, interrupted);
  int st2 = dln_noisy_rewind(nd, 0);
  return st ? st : st2;
}

/* The first step ≥ k at which the loop body has something to do besides the step itself:
 * a sample, the step budget, a progress report (every 1024 steps) or a checkpoint
 * (conservative: an earlier step only ends a quiet stretch sooner). */
static long gd_quiet_until(long k, long next_step, long kmax, long every) {
  long q = next_step < kmax ? next_step : kmax, p = (k + 1023) & ~1023L;
  if (p < q) q = p;
  if (every > 0) {
    long e = (k / every + (k % every != 0)) * every;
    if (e < q) q = e;
  }
  return q;
}

typedef struct gd_state {
  double *cur, *nxt, val; /* x_k and x_{k-1} (the driver steps back to it when x_k is bad) */
  double *spare;          /* fused: the third buffer the update is written to before it is taken */
  long k;
  int over, have_val; /* over: !(max|x_k| <= blowup), from the update; have_val: x_k evaluated */
  int fused;          /* the system's gd_eval_step serves the quiet steps */
} gd_state;

/* Gradient descent's quiet steps (issue 14: at 2 x 2 sizes the loop body's bookkeeping
 * costs as much as the gradient): from x_k, which passed the blow-up test, the steps before
 * kq are evaluation, the loss test and the fused update only. Stops with x_k evaluated
 * (have_val) at the first step that needs the loop body (k ≥ kq or a bad loss), or with
 * over set by the update to x_k; a nonzero status is the evaluation's. */
static int gd_quiet(dln_run_ctx *c, const dln_dyn_system *sys, double step, double *g, long kq, gd_state *s) {
  const double blowup = c->opt->blowup;
  size_t n = sys->size(c);
  for (;;) {
    int over = 0; /* fused: x_{k+1} = x_k − η ∇φ(x_k) into spare, before it is known to be taken */
    int st = s->fused ? sys->gd_eval_step(c, s->cur, &s->val, g, step, s->spare, &over) : sys->gd_eval(c, s->cur, &s->val, g);
    if (st) return st;
    c->res->grad_evals++;
    if (!isfinite(s->val) || s->val > blowup || s->k >= kq) {
      s->have_val = 1; /* nxt still holds x_{k-1} */
      return DLN_OK;
    }
    double *t = s->nxt;
    if (s->fused) { /* x_{k+1} taken: spare -> cur -> nxt, the old x_{k-1} becomes spare */
      s->over = over;
      s->nxt = s->cur;
      s->cur = s->spare;
      s->spare = t;
    } else {
      s->over = dln_vec_axpy_over(n, step, g, s->cur, s->nxt, blowup); /* x_{k+1} = x_k − η ∇φ(x_k) */
      s->nxt = s->cur;
      s->cur = t;
    }
    s->k++;
    if (s->over) return DLN_OK;
  }
}

static int drive_gd(dln_run_ctx *c, double *x) {
  const dln_dyn_system *sys = dln_dyn_sys(c);
  const dln_train_options *o = c->opt;
  dln_train_result *r = c->res;
  size_t n = sys->size(c);
  double eta = o->eta, step = sys->gd_sign * eta; /* x ← x + step·g */
  long kmax = gd_step_of(o->t_end, eta);              /* steps to reach t_end (nearest step) */
  if (kmax < 1) kmax = 1; /* t_end < η/2 still takes one step */
  int by_steps = 0;
  if (o->max_steps > 0 && o->max_steps < kmax) {
    kmax = o->max_steps;
    by_steps = 1;
  }
  double *buf = malloc(n * sizeof(double) + 1);
  if (!buf) return dln_error(DLN_ENOMEM, "out of memory allocating gradient-descent buffers (%zu parameters)", n);
  double *g = malloc(n * sizeof(double) + 1);
  if (!g) {
    free(buf);
    return dln_error(DLN_ENOMEM, "out of memory allocating gradient-descent buffers (%zu parameters)", n);
  }
  /* noise (an SDE, Euler–Maruyama): ξ_k's buffer, allocated before the loop */
  int noisy = c->disturbed && dln_train_disturbance_kind(o) == DLN_DISTURB_NOISE;
  double *xi = noisy ? malloc(n * sizeof(double) + 1) : NULL, nsd = noisy ? o->disturbance_scale * sqrt(eta) : 0;
  if (noisy && !xi) {
    free(buf);
    free(g);
    return dln_error(DLN_ENOMEM, "out of memory allocating gradient-descent buffers (%zu parameters)", n);
  }
  /* noisy_data: E_k, G_k and D_k's buffers, allocated before the loop (noisy_data.c) */
  dln_noisy_data *nd = NULL;
  int status = DLN_OK;
  if (c->disturbed && dln_train_disturbance_kind(o) == DLN_DISTURB_NOISY_DATA && (status = dln_noisy_alloc(&nd, c))) {
    dln_noisy_free(nd);
    free(buf), free(g), free(xi);
    return status;
  }
  double *cur = x, *nxt = buf;
  double val = NAN;
  long k = 0, every = o->checkpoint_every;
  if (o->resume) { /* continue at step k with θ_k, its samples taken (checkpoint_at) */
    dln_copy(n, o->resume->x, x);
    k = o->resume->step;
    c->next = o->resume->next_sample;
    r->grad_evals = o->resume->grad_evals > 0 ? o->resume->grad_evals - 1 : 0; /* step k's gradient is redone */
  }
  long k0 = k;
  int stop = 0, known = 0, over = 0; /* known: over = !(max|x_k| <= blowup) from the fused update */
  long next_step = c->next < c->ntimes ? gd_step_of(c->times[c->next], eta) : LONG_MAX; /* of the next sample */
  /* quiet steps go through gd_quiet: nothing per step but the step (no threshold, gradient
   * test or disturbance) */
  int quiet = sys->gd_check_state && !c->disturbed && o->loss_threshold < 0 && !(o->grad_tol > 0);
  gd_state q = {0};
  q.fused = quiet && sys->gd_eval_step && sys->gd_has_step(c);
  double *spare = q.fused ? malloc(n * sizeof(double) + 1) : NULL;
  if (q.fused && !spare) {
    status = dln_error(DLN_ENOMEM, "out of memory allocating gradient-descent buffers (%zu parameters)", n);
    goto out;
  }
  q.spare = spare;
  for (;; ++k) {
    q.have_val = 0;
    if (quiet && known && !over) {
      q.cur = cur, q.nxt = nxt, q.k = k, q.over = 0;
      status = gd_quiet(c, sys, step, g, gd_quiet_until(k, next_step, kmax, every), &q);
      cur = q.cur, nxt = q.nxt, k = q.k, over = q.over, val = q.val;
      if (status) break;
    }
    double t = gd_time(c, k);
    double xmax = 0;
    int bad = !q.have_val && sys->gd_check_state && (!known || over) &&
              !((xmax = dln_vec_maxabs(n, cur)) <= o->blowup);
    if (!bad) {
      if (!q.have_val) {
        status = sys->gd_eval(c, cur, &val, g);
        if (status) break;
        r->grad_evals++;
      }
      bad = !isfinite(val) || val > o->blowup;
    } else {
      val = NAN;
    }
    if (!bad && nd && (status = dln_noisy_draw(nd, cur))) break; /* D_k before step k's samples */
    if (bad) {
      /* x_k is bad: the last good state is x_{k-1} (or x_0 if k == 0) */
      r->fail_step = k;
      r->fail_t = t;
      double badval = val;
      if (k > 0) {
        double *tmp = cur;
        cur = nxt;
        nxt = tmp; /* back to x_{k-1} */
        --k;
      }
      if (!(xmax <= o->blowup))
        finish(c, DLN_STOP_DIVERGED, k * eta, "%s diverged %s step %ld (t = %.6g): max|%s| = %g exceeds the blow-up threshold %g",
               sys->gd_name, r->fail_step ? "at" : "at the initial point,", r->fail_step, r->fail_t, sys->state_name, xmax,
               o->blowup);
      else
        finish(c, DLN_STOP_DIVERGED, k * eta, "%s diverged %s step %ld (t = %.6g): loss = %g %s the blow-up threshold %g",
               sys->gd_name, r->fail_step ? "at" : "at the initial point,", r->fail_step, r->fail_t, badval,
               isfinite(badval) ? "exceeds" : "is not finite; expected at most", o->blowup);
      val = sys->loss(c, cur);
      break;
    }
    /* samples at the steps nearest to the requested times */
    if (k >= next_step) {
      while (c->next < c->ntimes && gd_step_of(c->times[c->next], eta) <= k) {
        int repeat = c->next > 0 && gd_step_of(c->times[c->next - 1], eta) == k;
        if ((status = sys->record(c, c->next, t, k, cur, repeat))) goto out;
        c->next++;
        if (!repeat && !stop && sample_cb(c, t, k, cur)) stop = 1;
      }
      next_step = c->next < c->ntimes ? gd_step_of(c->times[c->next], eta) : LONG_MAX;
    }
    if (stop) {
      finish(c, DLN_STOP_CANCELLED, t, "stopped by the sample callback at step %ld (t = %.17g)", k, t);
      break;
    }
    if (o->loss_threshold >= 0 && val <= o->loss_threshold) {
      r->t_threshold = t;
      finish(c, DLN_STOP_LOSS, t, "loss %.6g reached the threshold %.6g at step %ld (t = %.6g)", val,
             o->loss_threshold, k, t);
      break;
    }
    if (o->grad_tol > 0) {
      double gn = sys->gd_grad_norm(c, g);
      if (gn <= o->grad_tol) {
        finish(c, DLN_STOP_CONVERGED, t, "gradient norm %.3g <= grad_tol %.3g at step %ld (t = %.6g)", gn,
               o->grad_tol, k, t);
        break;
      }
    }
    if (k >= kmax) {
      if (by_steps)
        finish(c, DLN_STOP_STEPS, t, "step budget of %ld steps reached (t = %.6g)", kmax, t);
      else if (fabs(t - o->t_end) <= 1e-12 * o->t_end)
        finish(c, DLN_STOP_TIME, t, "reached t_end = %.6g after %ld steps", o->t_end, k);
      else /* t_end is not a whole number of steps: say where the run stopped */
        finish(c, DLN_STOP_TIME, t, "reached t = %.6g after %ld steps (t_end = %.6g rounded to the nearest whole step of eta = %g, at least one)",
               t, k, o->t_end, eta);
      break;
    }
    if ((k & 1023) == 0 && progress(c, t, val)) {
      finish(c, DLN_STOP_CANCELLED, t, "cancelled at step %ld (t = %.6g)", k, t);
      status = gd_checkpoint(c, nd, t, k, cur, 1); /* exact at any step */
      break;
    }
    if (every > 0 && k > k0 && k % every == 0 && (status = gd_checkpoint(c, nd, t, k, cur, 0))) break;
    /* x_{k+1} = x_k − η ∇φ(x_k) (gd_sign = −1, g = ∇φ) or x_k + η f(x_k) (gd_sign = +1) */
    known = sys->gd_check_state && !c->disturbed; /* the next step's blow-up test in the same pass */
    if (known)
      over = dln_vec_axpy_over(n, step, g, cur, nxt, o->blowup);
    else
      dln_vec_axpy(n, step, g, cur, nxt);
    if (c->disturbed) { /* x_{k+1} += η D(t_k) (000 eq. 9 discretized) */
      double a = dln_train_disturbance_factor(o, t);
      if (a != 0) dln_vec_axpy(n, eta * a, o->disturbance_D, nxt, nxt);
      if (c->worst) /* += η D(θ_k); the undisturbed field −∇φ(θ_k) is gd_sign·g */
        dln_worst_case_axpy(c->net, o, cur, g, sys->gd_sign, eta, nxt);
      if (noisy) { /* Euler–Maruyama for dθ = −∇φ dt + scale dB_t: += scale·√η·ξ_k, ξ_k ~ N(0, I) */
        dln_rng_fill_gaussian(o->noise_rng, xi, n, 1.0);
        dln_vec_axpy(n, nsd, xi, nxt, nxt);
      }
      if (nd) dln_vec_axpy(n, eta, dln_noisy_D(nd), nxt, nxt); /* GD on the perturbed data */
    }
    double *tmp = cur;
    cur = nxt;
    nxt = tmp;
  }
out:
  r->steps = k;
  r->loss = val;
  if (cur != x) dln_copy(n, cur, x);
  free(spare);
  free(buf);
  free(g);
  free(xi);
  dln_noisy_free(nd);
  return status;
}

/* ------------------------------------------------------------ gradient flow */

/* A failed step. The stepper says DLN_STOP_DIVERGED when the right-hand side was not
 * finite at trial points. Before the first accepted step, from an initial state prev whose
 * loss and max|theta| are within blowup, nothing has evolved, so nothing diverged: the
 * integrator could not start (e.g. a first trial step far too long with t_end = 1e20),
 * DLN_STOP_SOLVER. After accepted steps it stays divergence. */
static int flow_stop_msg(dln_run_ctx *c, dln_stepper *stp, int rc, double t, long steps, const double *prev, size_t n) {
  dln_train_result *r = c->res;
  const dln_train_options *o = c->opt;
  r->fail_t = t;
  r->fail_step = steps;
  if (rc == DLN_STOP_DIVERGED && steps == 0) {
    double v = dln_dyn_sys(c)->loss(c, prev), ymax = dln_vec_maxabs(n, prev);
    if (v <= o->blowup && ymax <= o->blowup) rc = DLN_STOP_SOLVER;
  }
  finish(c, rc, t, "%s (%s) %s at t = %.6g (step %ld): %s", dln_dyn_sys(c)->flow_name, stp->name ? stp->name : "?",
         rc == DLN_STOP_DIVERGED ? "diverged (non-finite gradient)"
                                 : "integrator failed (a trial step gave a non-finite gradient or the solver gave up)",
         t, steps, stp->msg);
  return rc;
}

/* One flow run in progress: what drive_flow's steps share. */
typedef struct flow_run {
  dln_run_ctx *c;
  const dln_dyn_system *sys;
  const dln_train_options *o;
  dln_train_result *r;
  size_t n;
  dln_stepper *stp;
  double *theta, *ybuf, *prev; /* state; scratch; θ before the step (the last good state on divergence) */
  double t, tprev, val;
  long steps, max_steps;
  int status;
  double *fx, *fy;      /* scratch for flow_stationary */
  double l0, ls, ts;     /* loss at the first check; at the start of a floor streak, its time (0: none) */
} flow_run;

/* What a step of drive_flow tells it: go on, stop (the result is complete; status may
 * still carry a right-hand side's library error), or leave on an error. */
enum { FLOW_ON = 0, FLOW_STOPPED, FLOW_ERROR };

/* The initial point: divergence at t = 0, the samples at t = 0, a threshold already met. */
static int flow_start(flow_run *f) {
  dln_run_ctx *c = f->c;
  const dln_train_options *o = f->o;
  f->val = f->sys->loss(c, f->theta);
  double ymax0 = dln_vec_maxabs(f->n, f->theta);
  if (!isfinite(f->val) || f->val > o->blowup || !(ymax0 <= o->blowup)) {
    /* as gradient descent at step 0: the run stops at the initial point, which is kept */
    f->r->fail_t = 0;
    f->r->fail_step = 0;
    finish(c, DLN_STOP_DIVERGED, 0.0,
           "%s diverged at the initial point (t = 0, nothing integrated): max|%s| = %g, loss = %g; expected both finite and at most the blow-up threshold %g",
           f->sys->flow_name, f->sys->state_name, ymax0, f->val, o->blowup);
    return FLOW_STOPPED;
  }
  while (c->next < c->ntimes && c->times[c->next] <= 0.0) {
    if ((f->status = f->sys->record(c, c->next, 0.0, 0, f->theta, 0))) return FLOW_ERROR;
    c->next++;
    if (sample_cb(c, 0.0, 0, f->theta)) {
      finish(c, DLN_STOP_CANCELLED, 0.0, "stopped by the sample callback at t = 0");
      return FLOW_STOPPED;
    }
  }
  if (o->loss_threshold >= 0 && f->val <= o->loss_threshold) {
    f->r->t_threshold = 0.0;
    finish(c, DLN_STOP_LOSS, 0.0, "loss %.6g is below the threshold %.6g at t = 0", f->val, o->loss_threshold);
    return FLOW_STOPPED;
  }
  return FLOW_ON;
}

/* One integrator step, the step budget and divergence (back to the last good state). */
static int flow_advance(flow_run *f) {
  dln_run_ctx *c = f->c;
  const dln_train_options *o = f->o;
  dln_train_result *r = f->r;
  if (f->steps >= f->max_steps) {
    /* the mean and the last step say whether the integrator crawled (a discontinuous
     * right-hand side; a stiff one for an explicit method) or
     * t_end is simply far */
    double mean_h = f->steps > 0 ? f->t / (double)f->steps : 0, last_h = f->stp->last_h ? f->stp->last_h(f->stp) : NAN;
    finish(c, DLN_STOP_STEPS, f->t, "step budget of %ld integrator steps reached at t = %.6g (mean step %.3g, last %.3g)",
           f->max_steps, f->t, mean_h, last_h);
    return FLOW_STOPPED;
  }
  f->tprev = f->t;
  dln_copy(f->n, f->theta, f->prev);
  c->rhs_fatal = 0;
  int rc = f->stp->step(f->stp, &f->t);
  if (rc && c->rhs_fatal) { /* a library error in the right-hand side: its message is recorded */
    r->fail_t = f->t;
    r->fail_step = f->steps;
    f->status = c->rhs_fatal;
    return FLOW_STOPPED;
  }
  if (rc) {
    flow_stop_msg(c, f->stp, rc, f->t, f->steps, f->prev, f->n);
    return FLOW_STOPPED;
  }
  f->steps++;
  double ymax = dln_vec_maxabs(f->n, f->theta);
  int need_loss = o->loss_threshold >= 0 || (f->sys->flow_grad_tol_needs_loss && o->grad_tol > 0) || !(ymax <= o->blowup);
  if (need_loss || (f->steps & 63) == 0) f->val = f->sys->loss(c, f->theta);
  if (!isfinite(ymax) || ymax > o->blowup || !isfinite(f->val) || f->val > o->blowup) {
    /* the step to t is bad: back to the last good state, at tprev after steps − 1 steps
     * (as gradient descent); the stop is reported with the bad step and time */
    r->fail_t = f->t;
    r->fail_step = f->steps;
    finish(c, DLN_STOP_DIVERGED, f->tprev, "%s diverged at t = %.6g (step %ld): max|%s| = %g, loss = %g; blow-up threshold %g",
           f->sys->flow_name, f->t, f->steps, f->sys->state_name, ymax, f->val, o->blowup);
    dln_copy(f->n, f->prev, f->theta);
    f->t = f->tprev;
    f->steps--;
    return FLOW_STOPPED;
  }
  return FLOW_ON;
}

/* A checkpoint at sample time ts with state x (docs/resume.md): the integrator restarts
 * from (ts, x, its last accepted step), which a resumed run does too, so both continue
 * identically; what happened after ts in the last step is discarded. */
static int flow_restart(flow_run *f, double ts, const double *x) {
  double h = f->stp->last_h ? f->stp->last_h(f->stp) : 0.0;
  if (x != f->theta) dln_copy(f->n, x, f->theta);
  f->t = ts;
  f->stp->stats(f->stp, f->r);
  f->stp->destroy(f->stp);
  f->stp = NULL;
  if ((f->status = f->o->method->create(f->c, f->theta, ts, h, &f->stp))) return FLOW_ERROR;
  f->r->integrator = f->stp->name;
  f->val = f->sys->loss(f->c, f->theta);
  if ((f->status = checkpoint_at(f->c, ts, f->steps, h, f->theta, 0))) return FLOW_ERROR;
  return FLOW_ON;
}

/* The samples inside the last step, up to a threshold crossing found by bisection on the
 * dense output (then the run stops there). */
static int flow_sample(flow_run *f) {
  dln_run_ctx *c = f->c;
  const dln_train_options *o = f->o;
  dln_stepper *stp = f->stp;
  double tstop = f->t;
  int hit = 0;
  if (o->loss_threshold >= 0 && f->val <= o->loss_threshold) { /* crossing inside [tprev, t] */
    double a = f->tprev, b = f->t;
    for (int it = 0; it < 60 && b - a > 1e-14 * (1 + fabs(b)); ++it) {
      double m = 0.5 * (a + b);
      if (stp->dense(stp, m, f->ybuf)) break;
      if (f->sys->loss(c, f->ybuf) <= o->loss_threshold) b = m; else a = m;
    }
    tstop = b;
    hit = 1;
  }
  for (; c->next < c->ntimes && c->times[c->next] <= tstop; c->next++) {
    double ts = c->times[c->next];
    const double *x = f->theta;
    if (ts != f->t) {
      if (stp->dense(stp, ts, f->ybuf)) { /* a stop like any integrator failure: θ(t) is kept */
        f->r->fail_t = ts;
        f->r->fail_step = f->steps;
        finish(c, DLN_STOP_SOLVER, f->t, "%s integrator failed at t = %.6g after %ld steps: dense output at t = %g failed%s%s",
               f->sys->flow_name, f->t, f->steps, ts, c->sundials_msg[0] ? ": " : "", c->sundials_msg);
        return FLOW_STOPPED;
      }
      x = f->ybuf;
    }
    if ((f->status = f->sys->record(c, c->next, ts, f->steps, x, 0))) return FLOW_ERROR;
    if (sample_cb(c, ts, f->steps, x)) { /* stop at ts with θ(ts) */
      c->next++;
      if (x != f->theta) dln_copy(f->n, x, f->theta);
      f->t = ts;
      finish(c, DLN_STOP_CANCELLED, ts, "stopped by the sample callback at t = %.17g (step %ld)", ts, f->steps);
      return FLOW_STOPPED;
    }
    long every = o->checkpoint_every;
    if (every > 0 && c->next % every == 0 && c->next + 1 < c->ntimes && ts < o->t_end) {
      c->next++;
      return flow_restart(f, ts, x);
    }
  }
  if (!hit) return FLOW_ON;
  if (tstop < f->t && !stp->dense(stp, tstop, f->ybuf)) dln_copy(f->n, f->ybuf, f->theta);
  f->val = f->sys->loss(c, f->theta);
  f->r->t_threshold = tstop;
  f->t = tstop;
  finish(c, DLN_STOP_LOSS, f->t, "loss reached the threshold %.6g at t = %.10g (step %ld)", o->loss_threshold, f->t, f->steps);
  return FLOW_STOPPED;
}

/* 1 when the flow is stationary to working precision at θ: ‖f(θ)‖ ≤ 10 ‖f(θ + δ) − f(θ)‖
 * with δ_i = ±ε|θ_i| (one rounding of each entry, signs mixed), i.e. the speed is no larger
 * than what representing θ in double precision induces. Near an equilibrium with
 * curvature λ the remaining motion is ‖f‖/λ, of the order of those roundings; a
 * stationary point (f = 0) stays put. Without this test a long t_end made the step-size
 * control chase rounding noise for hours. Not counted in grad_evals. */
static int flow_stationary(flow_run *f, double *speed, double *noise) {
  dln_run_ctx *c = f->c;
  if (f->sys->rhs(c, f->theta, f->fx)) return 0;
  for (size_t i = 0; i < f->n; ++i) {
    double d = DBL_EPSILON * fabs(f->theta[i]);
    f->ybuf[i] = f->theta[i] + (((i * 2654435761u) >> 7) & 1 ? d : -d);
  }
  if (f->sys->rhs(c, f->ybuf, f->fy)) return 0;
  double s = 0, e = 0;
  for (size_t i = 0; i < f->n; ++i) s += f->fx[i] * f->fx[i], e += (f->fy[i] - f->fx[i]) * (f->fy[i] - f->fx[i]);
  *speed = sqrt(s);
  *noise = sqrt(e);
  return isfinite(s) && *speed <= 10 * *noise;
}

#define FLOOR_GROWTH 1000.0 /* a floor must last while t grows this much before the run stops */

/* Every 16 steps before t_end: the stop at the loss floor. A check is "at the floor" when
 * the flow is stationary to working precision (flow_stationary) or the loss is not below
 * its value at the start of the streak of such checks by more than 1e-6 of it plus
 * 1e3 ε L(start) (along an exact gradient flow dφ/dt = −|∇φ|² < 0 until it is
 * stationary). When a streak lasts while t grows FLOOR_GROWTH-fold the run stops as
 * converged: the integrator would only follow rounding or its own error (a long t_end made
 * it do so for hours). Shorter floors (t_end within 1000x the time to reach the floor) run
 * on to t_end as before. A resumed run starts a new streak. */
static int flow_floor(flow_run *f) {
  dln_run_ctx *c = f->c;
  const dln_train_options *o = f->o;
  if (f->t >= o->t_end || f->steps == 0 || (f->steps & 15) != 0) return FLOW_ON;
  if (c->disturbed) return FLOW_ON; /* not a gradient flow: no loss floor (docs/disturbed.md) */
  double speed = 0, noise = 0, val = f->sys->loss(c, f->theta);
  if (!(f->l0 >= 0)) f->l0 = fabs(val);
  int stat = flow_stationary(f, &speed, &noise);
  int floor = stat; /* the velocity at rounding level only: a loss that merely stops falling may be a saddle's plateau */
  if (!floor || f->ts == 0) { /* a new streak (or none) from here */
    f->ts = floor || isfinite(val) ? f->t : 0;
    f->ls = val;
    return FLOW_ON;
  }
  if (f->t < FLOOR_GROWTH * f->ts) return FLOW_ON;
  finish(c, DLN_STOP_CONVERGED, f->t,
         "stationary to working precision at t = %.6g (step %ld): |d%s/dt| = %.3g <= 10 x %.3g, the change one rounding of %s "
         "makes, with the loss at its floor since t = %.6g; integrating on to t_end = %.6g would only follow rounding noise",
         f->t, f->steps, f->sys->state_name, speed, noise, f->sys->state_name, f->ts, o->t_end);
  return FLOW_STOPPED;
}

/* The stops after a step: the loss floor (flow_floor), convergence, t_end, cancellation. */
static int flow_after(flow_run *f) {
  dln_run_ctx *c = f->c;
  const dln_train_options *o = f->o;
  if (flow_floor(f) != FLOW_ON) return FLOW_STOPPED;
  if (o->grad_tol > 0) {
    double gn = 0;
    if ((f->status = f->sys->grad_norm(c, f->theta, f->ybuf, &gn))) return FLOW_ERROR;
    if (gn <= o->grad_tol) {
      finish(c, DLN_STOP_CONVERGED, f->t, "gradient norm %.3g <= grad_tol %.3g at t = %.6g", gn, o->grad_tol, f->t);
      return FLOW_STOPPED;
    }
  }
  if (f->t >= o->t_end) {
    finish(c, DLN_STOP_TIME, f->t, "reached t_end = %.6g after %ld integrator steps", o->t_end, f->steps);
    return FLOW_STOPPED;
  }
  if (progress(c, f->t, f->val)) {
    finish(c, DLN_STOP_CANCELLED, f->t, "cancelled at t = %.6g", f->t);
    return FLOW_STOPPED;
  }
  return FLOW_ON;
}

static int drive_flow(dln_run_ctx *c, double *theta) {
  flow_run f = {c, dln_dyn_sys(c), c->opt, c->res, 0, NULL, theta, NULL, NULL, 0.0, 0.0, 0.0, 0, 0, DLN_OK, NULL, NULL, -1.0, 0.0, 0.0};
  f.n = f.sys->size(c);
  f.ybuf = malloc(f.n * sizeof(double) + 1);
  f.prev = malloc(f.n * sizeof(double) + 1);
  f.fx = malloc(2 * f.n * sizeof(double) + 1);
  f.fy = f.fx ? f.fx + f.n : NULL;
  if (!f.ybuf || !f.prev || !f.fx) {
    free(f.ybuf);
    free(f.prev);
    free(f.fx);
    return dln_error(DLN_ENOMEM, "out of memory allocating flow buffers (%zu parameters)", f.n);
  }
  int act = FLOW_ERROR;
  const dln_train_checkpoint *rs = f.o->resume;
  if (rs) { /* continue from a checkpoint as flow_restart did */
    dln_copy(f.n, rs->x, theta);
    f.t = rs->t;
    f.steps = rs->step;
    c->next = rs->next_sample;
    c->grad_evals = rs->grad_evals;
    c->jtv_evals = rs->jtv_evals;
  }
  if (!(f.status = f.o->method->create(c, theta, f.t, rs ? rs->h : 0.0, &f.stp))) {
    f.r->integrator = f.stp->name;
    f.max_steps = f.o->max_steps > 0 ? f.o->max_steps : 10000000L;
    if (rs) f.val = f.sys->loss(c, theta);
    act = rs ? flow_after(&f) : flow_start(&f);
    while (act == FLOW_ON && (act = flow_advance(&f)) == FLOW_ON && (act = flow_sample(&f)) == FLOW_ON) act = flow_after(&f);
  }
  dln_train_result *r = f.r;
  if (act == FLOW_STOPPED) {
    r->loss = f.sys->loss(c, theta);
    r->steps = f.steps;
    f.stp->stats(f.stp, r);
    r->grad_evals = c->grad_evals;
    r->jtv_evals = c->jtv_evals;
  } else if (f.sys->flow_result_on_early_exit) {
    r->steps = f.steps;
    r->loss = f.sys->loss(c, theta);
  }
  if (f.stp) f.stp->destroy(f.stp);
  free(f.ybuf);
  free(f.prev);
  free(f.fx);
  return f.status;
}

/* ------------------------------------------------------------ a run */

/* "gd, flow": the registered types a system without Hessian-vector products can run. */
static const char *types_without_hvp(char *buf, size_t len) {
  size_t k = 0;
  buf[0] = '\0';
  const dln_integrator_type *t;
  for (int i = 0; (t = dln_integrator_at(i)); ++i) {
    if (t->flags & DLN_INTEG_NEEDS_HVP) continue;
    int w = snprintf(buf + k, len - k, "%s%s", k ? ", " : "", t->name);
    if (w < 0 || (size_t)w >= len - k) break;
    k += (size_t)w;
  }
  return buf;
}

/* c->disturbed from the options; refuses what the disturbed flow does not apply to. */
static int disturbance_setup(dln_run_ctx *c) {
  const dln_train_options *o = c->opt;
  int k = dln_train_disturbance_kind(o);
  c->disturbed = k > 0 && o->disturbance_scale != 0; /* scale 0: the undisturbed flow, bit for bit */
  c->worst = c->disturbed && k == DLN_DISTURB_WORST;
  if (k <= 0) return DLN_OK;
  if (dln_dyn_sys(c) != &dln_net_system)
    return dln_error(DLN_EINVAL, "disturbance: expected none for the %s (D_j is given per layer, 000 eq. 9), found %s",
                     dln_dyn_sys(c)->flow_name, o->disturbance);
  if (c->net->tied)
    return dln_error(DLN_EINVAL, "disturbance: expected none for a tied network (one parameter block U, no W_j of "
                     "its own to disturb), found %s", o->disturbance);
  if (k == DLN_DISTURB_WORST && !dln_worst_case_applies(c->net, c->loss))
    return dln_error(DLN_EINVAL, "disturbance: worst_case needs depth 2, n = m = 1 and the factorization loss (000 sec. III), "
                     "found depth %d, widths %d..%d, loss %s", c->net->depth, c->net->widths[0], c->net->widths[c->net->depth],
                     dln_loss_name(c->loss));
  const dln_integrator_type *m = o->method;
  if (k == DLN_DISTURB_NOISE && !(m->flags & DLN_INTEG_DISCRETE)) /* dln_train_check says so first */
    return dln_error(DLN_EINVAL, "disturbance: noise needs method gd (Euler-Maruyama), found %s", m->name);
  if (k == DLN_DISTURB_NOISY_DATA && !(m->flags & DLN_INTEG_DISCRETE))
    return dln_error(DLN_EINVAL, "disturbance: noisy_data needs method gd, found %s", m->name);
  if (k == DLN_DISTURB_SINUSOID && !(m->flags & (DLN_INTEG_DISCRETE | DLN_INTEG_TIME)))
    return dln_error(DLN_EINVAL, "disturbance: %s makes the flow time-dependent, which method %s does not integrate "
                     "(no DLN_INTEG_TIME); expected constant or none, found sinusoid", o->disturbance, m->name);
  return DLN_OK;
}

int dln_dyn_run(dln_run_ctx *c, double *x) {
  int st0;
  const dln_dyn_system *sys = dln_dyn_sys(c);
  const dln_train_options *o = c->opt;
  dln_train_result *r = c->res;
  const dln_integrator_type *m = o->method;
  if ((m->flags & DLN_INTEG_NEEDS_HVP) && !sys->hvp) {
    char ok[256];
    return dln_error(DLN_EINVAL,
                     "method: %s needs Hessian-vector products, which the %s system does not provide; expected one of "
                     "%s, found %s",
                     m->name, sys->flow_name, types_without_hvp(ok, sizeof ok), m->name);
  }
  if (!(m->flags & DLN_INTEG_DISCRETE) && !m->create)
    return dln_error(DLN_EINVAL, "method: %s has no create function", m->name);
  if ((st0 = disturbance_setup(c))) return st0;
  int ns = dln_train_nsamples(o);
  c->ntimes = ns;
  c->next = 0;
  c->times = malloc((size_t)ns * sizeof(double));
  if (!c->times) return dln_error(DLN_ENOMEM, "out of memory allocating %d sample times", ns);
  dln_train_sample_times(o, c->times);
  const dln_train_checkpoint *rs = o->resume;
  if (rs && (rs->n != sys->size(c) || !rs->x || rs->next_sample < 0 || rs->next_sample > ns || rs->step < 0)) {
    free(c->times);
    c->times = NULL;
    return dln_error(DLN_EINVAL, "resume: expected a checkpoint of %zu values with at most %d samples, found %zu values, %d samples",
                     sys->size(c), ns, rs->n, rs->next_sample);
  }
  c->t0_wall = dln_now_seconds();
  c->last_progress = c->t0_wall;
  int st = (m->flags & DLN_INTEG_DISCRETE) ? drive_gd(c, x) : drive_flow(c, x);
  /* final row at the stop point unless it was just sampled (column 0 is t) */
  dln_table *tb = c->traj;
  if (!st && tb && (tb->nrows == 0 || dln_table_row(tb, tb->nrows - 1)[0] != r->t))
    st = sys->record(c, -1, r->t, r->steps, x, 0);
  r->wall_seconds = dln_now_seconds() - c->t0_wall;
  free(c->times);
  c->times = NULL;
  return st;
}
