/* Gradient descent and gradient flow drivers (dln/train.h).
 *
 * Gradient descent θ_{k+1} = θ_k − η∇φ(θ_k), the explicit Euler discretization of
 * θ̇ = −∇φ(θ) (001 footnote 2), time t = kη. Two state buffers are swapped each
 * step, so the last good state survives a divergent update without copying.
 * Gradient flow: SUNDIALS ARKODE ERKStep (adaptive explicit Runge–Kutta; order 5 is
 * Dormand–Prince) advanced one internal step at a time (ARK_ONE_STEP); samples come
 * from the dense output ERKStepGetDky on [t_n, t_{n+1}], so they never shorten a step.
 * A loss-threshold crossing is located on the dense output by bisection.
 *
 * The flow driver (train_flow) is shared by every integrator through the stepper
 * interface of dynamics_internal.h: ARKODE ERK (here), CVODE BDF + GMRES with the exact
 * Jacobian-vector product −∇²φ v (cvode.c), Gauss–Legendre collocation (gauss.c), and
 * AUTO, which starts with ERK and switches to CVODE at the current (t, θ) when the ERK
 * step is pinned at its stability boundary (rule at auto_rho below and in
 * docs/integrators.md). */
#include "dln/train.h"

#include <arkode/arkode_erkstep.h>
#include <math.h>
#include <nvector/nvector_serial.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sundials/sundials_context.h>
#include <time.h>

#include "dln/error.h"
#include "dynamics/dynamics_internal.h"
#include "nvec_fast.h"

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
}

int dln_train_check(const dln_train_options *o) {
  if (o->method != DLN_METHOD_GD && o->method != DLN_METHOD_FLOW && o->method != DLN_METHOD_CVODE &&
      o->method != DLN_METHOD_GAUSS && o->method != DLN_METHOD_AUTO)
    return dln_error(DLN_EINVAL, "method: expected gd (0), flow (1), cvode (2), gauss (3) or auto (4), found %d",
                     (int)o->method);
  if (o->method == DLN_METHOD_GD && !(isfinite(o->eta) && o->eta > 0))
    return dln_error(DLN_EINVAL, "eta: expected a finite step size > 0, found %g", o->eta);
  if (!(isfinite(o->t_end) && o->t_end > 0))
    return dln_error(DLN_EINVAL, "t_end: expected a finite time > 0, found %g", o->t_end);
  if (o->max_steps < 0) return dln_error(DLN_EINVAL, "max_steps: expected >= 0, found %ld", o->max_steps);
  if (isnan(o->loss_threshold)) return dln_error(DLN_EINVAL, "loss_threshold: expected a number, found nan");
  if (!(o->grad_tol >= 0) || isinf(o->grad_tol))
    return dln_error(DLN_EINVAL, "grad_tol: expected a finite value >= 0, found %g", o->grad_tol);
  if (o->method != DLN_METHOD_GD) {
    if (!(isfinite(o->rtol) && o->rtol > 0 && o->rtol < 1))
      return dln_error(DLN_EINVAL, "rtol: expected 0 < rtol < 1, found %g", o->rtol);
    if (!(isfinite(o->atol) && o->atol > 0))
      return dln_error(DLN_EINVAL, "atol: expected a finite value > 0, found %g", o->atol);
    if ((o->method == DLN_METHOD_FLOW || o->method == DLN_METHOD_AUTO) && o->erk_order != 2 && o->erk_order != 3 &&
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

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}



static int record(dln_run_ctx *c, double t, long step, const double *theta) {
  if (!c->obs || !c->traj) return DLN_OK;
  int st = dln_observer_eval(c->obs, t, step, theta, c->row);
  if (st) return st;
  return dln_table_append(c->traj, c->row);
}

static int progress(dln_run_ctx *c, double t, double loss) {
  if (!c->opt->progress) return 0;
  double w = now_seconds();
  if (w - c->last_progress < 0.1) return 0;
  c->last_progress = w;
  return c->opt->progress(c->opt->progress_ctx, t, c->opt->t_end, loss);
}

static void finish(dln_run_ctx *c, int reason, double t, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
#include <stdarg.h>
static void finish(dln_run_ctx *c, int reason, double t, const char *fmt, ...) {
  c->res->stop_reason = reason;
  c->res->t = t;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->res->message, sizeof c->res->message, fmt, ap);
  va_end(ap);
}

/* ------------------------------------------------------------ gradient descent */
static int train_gd(dln_run_ctx *c, double *theta) {
  const dln_train_options *o = c->opt;
  dln_train_result *r = c->res;
  size_t n = c->net->nparams;
  double eta = o->eta;
  long kmax = (long)floor(o->t_end / eta + 0.5); /* steps to reach t_end (nearest step) */
  if (kmax < 1) kmax = 1;                      /* t_end < η/2 still takes one step */
  int by_steps = 0;
  if (o->max_steps > 0 && o->max_steps < kmax) {
    kmax = o->max_steps;
    by_steps = 1;
  }
  double *buf = malloc(n * sizeof(double) + 1);
  if (!buf) return dln_error(DLN_ENOMEM, "out of memory allocating gradient-descent buffers (%zu parameters)", n);
  double *grad = malloc(n * sizeof(double) + 1);
  if (!grad) {
    free(buf);
    return dln_error(DLN_ENOMEM, "out of memory allocating gradient-descent buffers (%zu parameters)", n);
  }
  double *cur = theta, *nxt = buf;
  int status = DLN_OK;
  double val = NAN;
  long k = 0;
  for (;; ++k) {
    double t = k * eta;
    status = dln_net_grad(c->net, c->loss, cur, &val, grad, NULL);
    if (status) break;
    r->grad_evals++;
    if (!isfinite(val) || val > o->blowup) {
      /* θ_k is bad: the last good state is θ_{k-1} (or θ_0 if k == 0) */
      r->fail_step = k;
      r->fail_t = t;
      if (k > 0) {
        double *tmp = cur; cur = nxt; nxt = tmp; /* back to θ_{k-1} */
        --k;
      }
      finish(c, DLN_STOP_DIVERGED, k * eta, "gradient descent diverged at step %ld (t = %.6g): loss %s %g", r->fail_step,
             r->fail_t, isfinite(val) ? "exceeded blow-up threshold" : "is", val);
      dln_net_grad(c->net, c->loss, cur, &val, NULL, NULL);
      break;
    }
    /* samples at the steps nearest to the requested times */
    while (c->next < c->ntimes && (long)floor(c->times[c->next] / eta + 0.5) <= k) {
      if ((long)floor(c->times[c->next] / eta + 0.5) == k &&
          (c->next == 0 || (long)floor(c->times[c->next - 1] / eta + 0.5) != k || !c->traj || c->traj->nrows == 0))
        if ((status = record(c, t, k, cur))) goto out;
      c->next++;
    }
    if (o->loss_threshold >= 0 && val <= o->loss_threshold) {
      r->t_threshold = t;
      finish(c, DLN_STOP_LOSS, t, "loss %.6g reached the threshold %.6g at step %ld (t = %.6g)", val, o->loss_threshold, k, t);
      break;
    }
    if (o->grad_tol > 0) {
      double gn = dln_norm2(n, grad);
      if (gn <= o->grad_tol) {
        finish(c, DLN_STOP_CONVERGED, t, "gradient norm %.3g <= grad_tol %.3g at step %ld (t = %.6g)", gn, o->grad_tol, k, t);
        break;
      }
    }
    if (k >= kmax) {
      if (by_steps)
        finish(c, DLN_STOP_STEPS, t, "step budget of %ld steps reached (t = %.6g)", kmax, t);
      else
        finish(c, DLN_STOP_TIME, t, "reached t_end = %.6g after %ld steps", o->t_end, k);
      break;
    }
    if ((k & 1023) == 0 && progress(c, t, val)) {
      finish(c, DLN_STOP_CANCELLED, t, "cancelled at step %ld (t = %.6g)", k, t);
      break;
    }
    /* θ_{k+1} = θ_k − η ∇φ(θ_k) */
    for (size_t i = 0; i < n; ++i) nxt[i] = cur[i] - eta * grad[i];
    double *tmp = cur; cur = nxt; nxt = tmp;
  }
out:
  r->steps = k;
  r->loss = val;
  if (cur != theta) memcpy(theta, cur, n * sizeof(double));
  free(buf);
  free(grad);
  return status;
}

/* ------------------------------------------------------------ gradient flow */
int dln_dyn_rhs(dln_run_ctx *c, const double *theta, double *g) {
  double val;
  int st = dln_net_grad(c->net, c->loss, theta, &val, g, NULL);
  c->grad_evals++;
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

int dln_dyn_hvp(dln_run_ctx *c, const double *theta, const double *v, double *out) {
  c->jtv_evals++;
  return dln_net_hvp(c->net, c->loss, theta, v, out) ? -1 : 0;
}

double dln_dyn_wrms(size_t n, const double *x, const double *y, double rtol, double atol) {
  double s = 0;
  for (size_t i = 0; i < n; ++i) {
    double w = x[i] / (atol + rtol * fabs(y[i]));
    s += w * w;
  }
  return n ? sqrt(s / (double)n) : 0.0;
}

static double loss_at(dln_run_ctx *c, const double *theta) {
  double v = NAN;
  if (dln_net_grad(c->net, c->loss, theta, &v, NULL, NULL)) return NAN;
  return v;
}

/* ---- ARKODE ERKStep stepper */
typedef struct {
  dln_stepper base; /* first member */
  dln_run_ctx *c;
  SUNContext sctx;
  N_Vector y, yd; /* y wraps θ; yd wraps the dense-output buffer of each call */
  void *mem;
} erk_stepper;

static int erk_rhs(sunrealtype t, N_Vector y, N_Vector ydot, void *user) {
  (void)t;
  return dln_dyn_rhs(user, N_VGetArrayPointer(y), N_VGetArrayPointer(ydot));
}

static void erk_err(int code, const char *module, const char *function, char *msg, void *user) {
  dln_run_ctx *c = user;
  (void)code;
  snprintf(c->sundials_msg, sizeof c->sundials_msg, "%s/%s: %s", module, function, msg);
}

static ARKODE_ERKTableID erk_table(int order) {
  switch (order) {
    case 2: return ARKODE_HEUN_EULER_2_1_2;
    case 3: return ARKODE_BOGACKI_SHAMPINE_4_2_3;
    case 4: return ARKODE_ZONNEVELD_5_3_4;
    case 6: return ARKODE_VERNER_8_5_6;
    case 8: return ARKODE_FEHLBERG_13_7_8;
    default: return ARKODE_DORMAND_PRINCE_7_4_5;
  }
}

static int erk_step(dln_stepper *base, double *t) {
  erk_stepper *s = (erk_stepper *)base;
  s->c->rhs_bad = 0;
  sunrealtype tr = *t;
  int flag = ERKStepEvolve(s->mem, s->c->opt->t_end, s->y, &tr, ARK_ONE_STEP);
  *t = tr;
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
  if (s->y) N_VDestroy(s->y);
  if (s->yd) N_VDestroy(s->yd);
  if (s->sctx) SUNContext_Free(&s->sctx);
  free(s);
}

static int erk_create(dln_run_ctx *c, double *theta, dln_stepper **out) {
  *out = NULL;
  const dln_train_options *o = c->opt;
  size_t n = c->net->nparams;
  erk_stepper *s = calloc(1, sizeof *s);
  if (!s) return dln_error(DLN_ENOMEM, "out of memory allocating the ARKODE integrator");
  s->base.name = "arkode-erk";
  s->base.step = erk_step;
  s->base.dense = erk_dense;
  s->base.stats = erk_stats;
  s->base.destroy = erk_destroy;
  s->base.last_h = erk_last_h;
  s->c = c;
  int st = DLN_OK;
  if (SUNContext_Create(NULL, &s->sctx)) {
    st = dln_error(DLN_ENOMEM, "SUNDIALS context creation failed");
    goto fail;
  }
  s->y = N_VMake_Serial((sunindextype)n, theta, s->sctx);
  dln_nvec_fast(s->y);
  s->yd = N_VMake_Serial((sunindextype)n, theta, s->sctx);
  dln_nvec_fast(s->yd);
  if (!s->y || !s->yd) {
    st = dln_error(DLN_ENOMEM, "out of memory allocating SUNDIALS vectors");
    goto fail;
  }
  s->mem = ERKStepCreate(erk_rhs, 0.0, s->y, s->sctx);
  if (!s->mem) {
    st = dln_error(DLN_ENOMEM, "ERKStepCreate failed");
    goto fail;
  }
  if (ERKStepSetUserData(s->mem, c) || ERKStepSetErrHandlerFn(s->mem, erk_err, c) ||
      ERKStepSStolerances(s->mem, o->rtol, o->atol) || ERKStepSetTableNum(s->mem, erk_table(o->erk_order)) ||
      ERKStepSetStopTime(s->mem, o->t_end) || ERKStepSetMaxNumSteps(s->mem, -1)) {
    st = dln_error(DLN_ESOLVER, "ARKODE setup failed: %s", c->sundials_msg);
    goto fail;
  }
  *out = &s->base;
  return DLN_OK;
fail:
  erk_destroy(&s->base);
  return st;
}

/* Real stability boundary β of an explicit RK table: the largest x with |R(−ξ)| ≤ 1
 * for all 0 ≤ ξ ≤ x, R(z) = 1 + z bᵀ(I − zA)⁻¹1 (Hairer–Wanner II §IV.2). Scan, then
 * bisect the first crossing. Dormand–Prince 5(4): β ≈ 3.31. */
static double erk_stability_boundary(ARKodeButcherTable B) {
  double g[32];
  int s = B->stages < 32 ? B->stages : 32;
  double lo = 0, hi = 0;
  for (int k = 1; k <= 4000; ++k) { /* ξ up to 40 in steps of 0.01 */
    double x = 0.01 * k, z = -x, R = 1;
    for (int i = 0; i < s; ++i) {
      double a = 0;
      for (int j = 0; j < i; ++j) a += B->A[i][j] * g[j];
      g[i] = 1 + z * a; /* explicit: (I − zA) g = 1 by forward substitution */
      R += z * B->b[i] * g[i];
    }
    if (fabs(R) > 1 + 1e-12) {
      hi = x;
      break;
    }
    lo = x;
  }
  if (hi == 0) return lo;
  for (int it = 0; it < 40; ++it) {
    double x = 0.5 * (lo + hi), z = -x, R = 1;
    for (int i = 0; i < s; ++i) {
      double a = 0;
      for (int j = 0; j < i; ++j) a += B->A[i][j] * g[j];
      g[i] = 1 + z * a;
      R += z * B->b[i] * g[i];
    }
    if (fabs(R) > 1 + 1e-12) hi = x; else lo = x;
  }
  return lo;
}

/* ---- AUTO: ERK until stiff, then CVODE.
 *
 * Rule (docs/integrators.md, "AUTO"): every AUTO_EVERY accepted ERK steps, estimate
 * the spectral radius ρ of ∇²φ(θ) (= ‖J‖₂, J symmetric) by power iteration on the
 * exact Hessian-vector product (warm-started: 8 products the first time, 2 after),
 * and call the check stiff when
 *     h·ρ ≥ auto_stiff_ratio · β   and   (t_end − t)/h ≥ auto_min_steps,
 * with h the last accepted ERK step and β the real stability boundary of the ERK
 * table (|R(−x)| ≤ 1 on [0, β]). A step size pinned near the stability boundary means
 * stability, not accuracy, limits h; the second condition asks that ERK would still
 * need many such steps. After auto_window consecutive stiff checks, CVODE is created
 * at the current (t, θ) with first step h and the run continues. */
enum { AUTO_EVERY = 10 };

typedef struct {
  double beta;
  double *v, *w; /* power-iteration vectors */
  int primed, count;
} auto_state;

static double auto_rho(dln_run_ctx *c, auto_state *a, const double *theta) {
  size_t n = c->net->nparams;
  if (!a->primed) { /* deterministic start vector with all-sign entries */
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < n; ++i) {
      x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
      a->v[i] = (double)((x * 2685821657736338717ull) >> 11) / 9007199254740992.0 - 0.5;
    }
  }
  int iters = a->primed ? 2 : 8;
  a->primed = 1;
  double rho = 0;
  for (int k = 0; k < iters; ++k) {
    double nv = dln_norm2(n, a->v);
    if (!(nv > 0) || dln_dyn_hvp(c, theta, a->v, a->w)) return NAN;
    double nw = dln_norm2(n, a->w);
    rho = nw / nv;
    if (!(nw > 0) || !isfinite(nw)) return rho;
    for (size_t i = 0; i < n; ++i) a->v[i] = a->w[i] / nw;
  }
  return rho;
}

static int flow_stop_msg(dln_run_ctx *c, dln_stepper *stp, int rc, double t, long steps) {
  dln_train_result *r = c->res;
  r->fail_t = t;
  r->fail_step = steps;
  finish(c, rc, t, "gradient flow %s at t = %.6g after %ld steps: %s",
         rc == DLN_STOP_DIVERGED ? "diverged (non-finite gradient)" : "integrator failed", t, steps, stp->msg);
  return rc;
}

static int train_flow(dln_run_ctx *c, double *theta) {
  const dln_train_options *o = c->opt;
  dln_train_result *r = c->res;
  size_t n = c->net->nparams;
  int status = DLN_OK, is_auto = o->method == DLN_METHOD_AUTO;
  dln_stepper *stp = NULL;
  auto_state au = {0};
  double *ybuf = malloc(n * sizeof(double) + 1);
  if (!ybuf) return dln_error(DLN_ENOMEM, "out of memory allocating flow buffers (%zu parameters)", n);
  if (o->method == DLN_METHOD_CVODE)
    status = dln_cvode_create(c, theta, 0.0, 0.0, &stp);
  else if (o->method == DLN_METHOD_GAUSS)
    status = dln_gauss_create(c, theta, 0.0, &stp);
  else
    status = erk_create(c, theta, &stp);
  if (status) goto out;
  r->integrator = stp->name;
  if (is_auto) {
    au.v = malloc(n * sizeof(double) + 1);
    au.w = malloc(n * sizeof(double) + 1);
    ARKodeButcherTable B = NULL;
    if (!au.v || !au.w) {
      status = dln_error(DLN_ENOMEM, "out of memory allocating AUTO buffers (%zu parameters)", n);
      goto out;
    }
    if (ERKStepGetCurrentButcherTable(((erk_stepper *)stp)->mem, &B) || !B) {
      status = dln_error(DLN_ESOLVER, "AUTO: cannot read the ERK Butcher table");
      goto out;
    }
    au.beta = erk_stability_boundary(B);
  }
  double stiff_ratio = o->auto_stiff_ratio > 0 ? o->auto_stiff_ratio : 0.5;
  int window = o->auto_window > 0 ? o->auto_window : 3;
  long min_steps = o->auto_min_steps > 0 ? o->auto_min_steps : 200;
  long max_steps = o->max_steps > 0 ? o->max_steps : 10000000L;
  double val = loss_at(c, theta), t = 0.0, tprev = 0.0;
  if (!isfinite(val)) {
    r->fail_t = 0;
    r->fail_step = 0;
    finish(c, DLN_STOP_DIVERGED, 0.0, "loss is %g at the initial point", val);
    goto out;
  }
  /* samples at t = 0 */
  while (c->next < c->ntimes && c->times[c->next] <= 0.0) {
    if ((status = record(c, 0.0, 0, theta))) goto out;
    c->next++;
  }
  if (o->loss_threshold >= 0 && val <= o->loss_threshold) {
    r->t_threshold = 0.0;
    finish(c, DLN_STOP_LOSS, 0.0, "loss %.6g is below the threshold %.6g at t = 0", val, o->loss_threshold);
    goto out;
  }
  long steps = 0, erk_steps = 0;
  for (;;) {
    if (steps >= max_steps) {
      finish(c, DLN_STOP_STEPS, t, "step budget of %ld integrator steps reached at t = %.6g", max_steps, t);
      break;
    }
    tprev = t;
    int rc = stp->step(stp, &t);
    if (rc) {
      flow_stop_msg(c, stp, rc, t, steps);
      break;
    }
    steps++;
    double ymax = dln_vec_maxabs(n, theta);
    int need_loss = o->loss_threshold >= 0 || o->grad_tol > 0 || !(ymax <= o->blowup);
    if (need_loss || (steps & 63) == 0) val = loss_at(c, theta);
    if (!isfinite(ymax) || ymax > o->blowup || !isfinite(val) || val > o->blowup) {
      r->fail_t = t;
      r->fail_step = steps;
      finish(c, DLN_STOP_DIVERGED, t, "gradient flow diverged at t = %.6g (step %ld): max|θ| = %g, loss = %g", t, steps, ymax,
             val);
      break;
    }
    /* threshold crossing inside [tprev, t]: bisection on the dense output */
    double tstop = t;
    int hit = 0;
    if (o->loss_threshold >= 0 && val <= o->loss_threshold) {
      double a = tprev, b = t;
      for (int it = 0; it < 60 && b - a > 1e-14 * (1 + fabs(b)); ++it) {
        double m = 0.5 * (a + b);
        if (stp->dense(stp, m, ybuf)) break;
        if (loss_at(c, ybuf) <= o->loss_threshold) b = m; else a = m;
      }
      tstop = b;
      hit = 1;
    }
    while (c->next < c->ntimes && c->times[c->next] <= tstop) {
      double ts = c->times[c->next];
      if (ts == t) {
        if ((status = record(c, ts, steps, theta))) goto out;
      } else {
        if (stp->dense(stp, ts, ybuf)) {
          status = dln_error(DLN_ESOLVER, "dense output at t = %g failed: %s", ts, c->sundials_msg);
          goto out;
        }
        if ((status = record(c, ts, steps, ybuf))) goto out;
      }
      c->next++;
    }
    if (hit) {
      if (tstop < t && !stp->dense(stp, tstop, ybuf)) memcpy(theta, ybuf, n * sizeof(double));
      val = loss_at(c, theta);
      r->t_threshold = tstop;
      t = tstop;
      finish(c, DLN_STOP_LOSS, t, "loss reached the threshold %.6g at t = %.10g (step %ld)", o->loss_threshold, t, steps);
      break;
    }
    if (o->grad_tol > 0) {
      dln_dyn_rhs(c, theta, ybuf);
      double gn = dln_norm2(n, ybuf);
      if (gn <= o->grad_tol) {
        finish(c, DLN_STOP_CONVERGED, t, "gradient norm %.3g <= grad_tol %.3g at t = %.6g", gn, o->grad_tol, t);
        break;
      }
    }
    if (t >= o->t_end) {
      finish(c, DLN_STOP_TIME, t, "reached t_end = %.6g after %ld integrator steps", o->t_end, steps);
      break;
    }
    if (progress(c, t, val)) {
      finish(c, DLN_STOP_CANCELLED, t, "cancelled at t = %.6g", t);
      break;
    }
    if (is_auto && isnan(r->switched_at) && ++erk_steps % AUTO_EVERY == 0) {
      double h = stp->last_h(stp), rho = auto_rho(c, &au, theta);
      int stiff = h * rho >= stiff_ratio * au.beta && (o->t_end - t) >= (double)min_steps * h;
      au.count = stiff ? au.count + 1 : 0;
      if (au.count >= window) {
        dln_stepper *cv = NULL;
        if ((status = dln_cvode_create(c, theta, t, h, &cv))) goto out;
        stp->stats(stp, r);
        stp->destroy(stp);
        stp = cv;
        r->switched_at = t;
        r->integrator = "arkode-erk->cvode-bdf";
      }
    }
  }
  r->loss = loss_at(c, theta);
  r->steps = steps;
  stp->stats(stp, r);
  r->grad_evals = c->grad_evals;
  r->jtv_evals = c->jtv_evals;
out:
  if (stp) stp->destroy(stp);
  free(au.v);
  free(au.w);
  free(ybuf);
  return status;
}

int dln_train(dln_net *net, dln_loss *loss, double *theta, const dln_train_options *opt, dln_observer *obs,
              dln_table *traj, dln_train_result *result) {
  memset(result, 0, sizeof *result);
  result->t_threshold = NAN;
  result->fail_t = NAN;
  result->fail_step = -1;
  result->loss = NAN;
  result->switched_at = NAN;
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
  c.net = net;
  c.loss = loss;
  c.opt = opt;
  c.obs = obs;
  c.traj = traj;
  c.res = result;
  c.ntimes = ns;
  c.times = malloc((size_t)ns * sizeof(double));
  c.row = malloc((size_t)(obs ? dln_observer_ncols(obs) : 1) * sizeof(double));
  if (!c.times || !c.row) {
    free(c.times);
    free(c.row);
    return dln_error(DLN_ENOMEM, "out of memory allocating sample buffers");
  }
  dln_train_sample_times(opt, c.times);
  c.t0_wall = now_seconds();
  c.last_progress = c.t0_wall;
  st = opt->method == DLN_METHOD_GD ? train_gd(&c, theta) : train_flow(&c, theta);
  /* final row at the stop point unless it was just sampled */
  if (!st && obs && traj) {
    int tc = 0; /* column 0 is t */
    if (traj->nrows == 0 || dln_table_row(traj, traj->nrows - 1)[tc] != result->t)
      st = record(&c, result->t, result->steps, theta);
  }
  result->wall_seconds = now_seconds() - c.t0_wall;
  free(c.times);
  free(c.row);
  return st;
}
