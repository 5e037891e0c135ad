/* The training driver's options (dln/train.h): its option rows (t_end, tolerances, stop
 * rules, sampling; each integrator type's rows are in its file), the defaults every caller
 * shares (the rows' and the first registered integrator), validation, and the sample
 * times: evenly spaced from 0 to t_end, log-spaced from t_first (plus t = 0), or the
 * caller's explicit times. */
#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "core/util.h"
#include "dln/error.h"
#include "dln/train.h"
#include "dynamics/dynamics_internal.h"

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

/* ------------------------------------------------------------ the driver's options */

#define OFF(f) offsetof(dln_train_options, f)

static int rtol_check(const dln_option *o, const void *field, char *msg, size_t len) {
  (void)o;
  double x = *(const double *)field;
  if (x < 1) return 0;
  snprintf(msg, len, "expected a relative tolerance below 1, found %g", x);
  return 1;
}

static int samples_check(const dln_option *o, const void *field, char *msg, size_t len) {
  (void)o;
  int n = *(const int *)field;
  if (n <= 10000000) return 0;
  snprintf(msg, len, "expected at most 10^7 samples, found %d", n);
  return 1;
}

/* The disturbances of 000 eq. 9 that dln integrates, white noise (an SDE, GD only) and
 * GD on data perturbed at every step (noisy_data, GD only); 000 §III's worst case (worst_case.c). */
static const char *const disturbances[] = {"none", "constant", "sinusoid", "noise", "noisy_data", "worst_case", NULL};

/* clang-format off */
static const dln_option train_rows[] = {
  {"t_end", DLN_OPT_DOUBLE, OFF(t_end), "40", "final time (GD: steps * eta)", NULL, DLN_OPTR_POS, 0, 0, NULL, NULL},
  {"max_steps", DLN_OPT_LONG, OFF(max_steps), "0", "step budget (0 = default: t_end/eta for GD, 10^7 for flow)", NULL, DLN_OPTR_MIN, 0, 0, NULL, NULL},
  {"loss_threshold", DLN_OPT_DOUBLE, OFF(loss_threshold), "-1", "stop when the loss <= this (negative: off)", NULL, DLN_OPTR_NONE, 0, 0, NULL, NULL},
  {"grad_tol", DLN_OPT_DOUBLE, OFF(grad_tol), "0", "stop when the gradient norm <= this (0: off)", NULL, DLN_OPTR_NONNEG, 0, 0, NULL, NULL},
  {"rtol", DLN_OPT_DOUBLE, OFF(rtol), "1e-8", "flow: relative tolerance", NULL, DLN_OPTR_POS, 0, 0, rtol_check, NULL},
  {"atol", DLN_OPT_DOUBLE, OFF(atol), "1e-10", "flow: absolute tolerance", NULL, DLN_OPTR_POS, 0, 0, NULL, NULL},
  {"blowup", DLN_OPT_DOUBLE, OFF(blowup), "1e150", "divergence threshold on the loss and max |theta|", NULL, DLN_OPTR_POS, 0, 0, NULL, NULL},
  {"samples", DLN_OPT_INT, OFF(nsamples), "201", "number of sample times including 0 and t_end", NULL, DLN_OPTR_MIN, 2, 0, samples_check, NULL},
  {"log_samples", DLN_OPT_BOOL, OFF(log_spacing), "false", "log-spaced sample times from t_first to t_end (plus t = 0)", NULL, DLN_OPTR_NONE, 0, 0, NULL, NULL},
  {"t_first", DLN_OPT_DOUBLE, OFF(t_first), "0", "first positive sample time for log spacing (0: t_end * 1e-4)", NULL, DLN_OPTR_NONNEG, 0, 0, NULL, NULL},
  {"checkpoint_every", DLN_OPT_LONG, OFF(checkpoint_every), "0", "checkpoint every K GD steps / K-th flow sample time, for --resume (0: off)", NULL, DLN_OPTR_MIN, 0, 0, NULL, NULL},
  {"disturbance", DLN_OPT_ENUM, OFF(disturbance), "none", "disturbed flow dW_j/dt = -dphi/dW_j + D_j(t) (000 eq. 9; docs/disturbed.md), any method; GD: W <- W - eta (grad - D(t_k)); noise: SDE dW = -grad dt + scale dB_t, method gd only (Euler-Maruyama); noisy_data: GD on data perturbed at each step (Y + scale E_k), method gd only; worst_case: depth 2, n = m = 1, U = V^T = -(scale/2)(P+Q)/|P+Q| toward S^- (000 sec. III), no files", disturbances, DLN_OPTR_NONE, 0, 0, NULL, NULL},
  {"disturbance_files", DLN_OPT_STRLIST, OFF(disturbance_files), "", "disturbed flow: D_1,...,D_N files (.npy/.csv, D_j of W_j's shape)", NULL, DLN_OPTR_NONE, 0, 0, NULL, NULL},
  {"disturbance_scale", DLN_OPT_DOUBLE, OFF(disturbance_scale), "1", "disturbed flow: D(t) = scale * D (constant) or scale * D * sin(omega t + phase) (000 eq. 9); worst_case: ||U|| + ||V||; noise: intensity (W += scale sqrt(eta) xi, xi ~ N(0, I), from seed and stream); noisy_data: the data noise s (Y + s E_k, E_k ~ N(0, 1))", NULL, DLN_OPTR_NONE, 0, 0, NULL, NULL},
  {"disturbance_omega", DLN_OPT_DOUBLE, OFF(disturbance_omega), "1", "disturbed flow, sinusoid: angular frequency omega", NULL, DLN_OPTR_NONE, 0, 0, NULL, NULL},
  {"disturbance_phase", DLN_OPT_DOUBLE, OFF(disturbance_phase), "0", "disturbed flow, sinusoid: phase", NULL, DLN_OPTR_NONE, 0, 0, NULL, NULL},
  {"r_alpha", DLN_OPT_DOUBLE, OFF(r_alpha), "-1", "depth 2, factorization, n = m = 1: the set R_alpha = {||P + Q||^2 >= alpha^2} of 000 eq. 16 (column in_Ralpha, check rows Thm 2, eq. 18; negative: off)", NULL, DLN_OPTR_NONE, 0, 0, NULL, NULL},
  DLN_OPTION_END};
/* clang-format on */

/* The disturbance's text rows own memory: dln_train_default_options leaves them NULL / empty
 * (no disturbance), and dln_train_check reads them through dln_train_disturbance_kind. */
static int owned_row(const dln_option *r) { return r->type == DLN_OPT_ENUM || r->type == DLN_OPT_STRLIST; }

const dln_option *dln_train_option_rows(void) { return train_rows; }

int dln_train_disturbance_kind(const dln_train_options *o) {
  DLN_ARGS_V(-1, o);
  if (!o->disturbance) return DLN_DISTURB_NONE;
  for (int i = 0; disturbances[i]; ++i)
    if (strcmp(o->disturbance, disturbances[i]) == 0) return i;
  dln_error(DLN_EINVAL, "disturbance: expected none, constant, sinusoid, noise, noisy_data or worst_case, found %s", o->disturbance);
  return -1;
}

double dln_train_disturbance_factor(const dln_train_options *o, double t) {
  DLN_ARGS_V(NAN, o);
  switch (dln_train_disturbance_kind(o)) {
    case DLN_DISTURB_CONSTANT: return o->disturbance_scale;
    case DLN_DISTURB_SINUSOID: return o->disturbance_scale * sin(o->disturbance_omega * t + o->disturbance_phase);
    default: return 0.0;
  }
}

/* Noise: an SDE integrated by Euler–Maruyama, gradient descent's step only; noisy_data:
 * GD on freshly perturbed data. A stream when scale ≠ 0 (checkpoints: the caller saves and
 * restores its state). */
static int noise_check(const dln_train_options *o, int kind) {
  const char *name = kind == DLN_DISTURB_NOISE ? "noise" : "noisy_data";
  if (!(o->method->flags & DLN_INTEG_DISCRETE))
    return dln_error(DLN_EINVAL, "disturbance: %s; expected method gd, found %s",
                     kind == DLN_DISTURB_NOISE ? "noise is an SDE integrated by Euler-Maruyama with the GD step eta"
                                               : "noisy_data perturbs the data at every GD step",
                     o->method->name);
  if (o->disturbance_scale != 0 && !o->noise_rng)
    return dln_error(DLN_EINVAL, "noise_rng: expected a random stream for disturbance %s (scale %g), found NULL", name,
                     o->disturbance_scale);
  return DLN_OK;
}

/* The disturbance rows: a known kind and D when it is constant or sinusoid. */
static int disturbance_check(const dln_train_options *o) {
  int k = dln_train_disturbance_kind(o);
  if (k < 0) return DLN_EINVAL; /* the message is dln_train_disturbance_kind's */
  if (k == DLN_DISTURB_NOISE || k == DLN_DISTURB_NOISY_DATA) return noise_check(o, k);
  if (k == DLN_DISTURB_WORST) /* D depends on the state (worst_case.c), not on a given D */
    return o->disturbance_D ? dln_error(DLN_EINVAL, "disturbance_D: expected NULL for worst_case (D depends on the state, "
                                        "000 sec. III), found D_1..D_N") : DLN_OK;
  if (k != DLN_DISTURB_NONE && !o->disturbance_D)
    return dln_error(DLN_EINVAL, "disturbance_D: expected D_1..D_N (nparams values) for disturbance %s, found NULL",
                     o->disturbance);
  return DLN_OK;
}

void dln_train_default_options(dln_train_options *opt) {
  if (!opt) {
    dln_args_error(__func__, "opt", 0);
    return;
  }
  memset(opt, 0, sizeof *opt);
  /* the defaults are option text that parses (numbers only: nothing is allocated) */
  for (const dln_option *r = train_rows; r->name; ++r)
    if (!owned_row(r)) (void)dln_options_default(opt, r, 1);
  const dln_integrator_type *t;
  for (int i = 0; (t = dln_integrator_at(i)); ++i)
    if (t->options_size == 0) (void)dln_options_default(opt, t->options, -1);
  opt->method = dln_integrator_at(0); /* the registry's first: auto */
}

/* Gradient descent samples at t = kη only: an explicit sample time must be a whole number
 * of steps up to rounding (|t/η − k| ≤ 1e-9 + 8ε k), else it is refused rather than moved
 * to a neighbouring step (its row would not be at the requested time). */
static int gd_whole_steps(const dln_train_options *o, int i, double t) {
  if (!(o->method->flags & DLN_INTEG_DISCRETE)) return DLN_OK;
  double q = t / o->eta, k = floor(q + 0.5);
  if (fabs(q - k) <= 1e-9 + 8 * DBL_EPSILON * k) return DLN_OK;
  return dln_error(DLN_EINVAL,
                   "sample_times[%d]: gradient descent samples at t = k*eta (eta = %.17g): expected a whole multiple of "
                   "eta, found %.17g (nearest: %.17g or %.17g)",
                   i, o->eta, t, floor(q) * o->eta, (floor(q) + 1) * o->eta);
}

int dln_train_check(const dln_train_options *o) {
  if (!o) return dln_error(DLN_EINVAL, "dln_train_check: options must not be NULL");
  if (!o->method)
    return dln_error(DLN_EINVAL, "method: expected an integrator type (dln_integrator_find, e.g. \"auto\"), found NULL");
  int st = DLN_OK;
  for (const dln_option *r = train_rows; !st && r->name; ++r)
    if (!owned_row(r)) st = dln_option_validate(o, r, r->name);
  if (!st) st = disturbance_check(o);
  if (!st) st = dln_integrator_validate(o->method, o);
  if (st) return st;
  if (o->t_first >= o->t_end)
    return dln_error(DLN_EINVAL, "t_first: expected a time below t_end = %g, found %g", o->t_end, o->t_first);
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
      if ((st = gd_whole_steps(o, i, t))) return st;
    }
  }
  return DLN_OK;
}

int dln_train_nsamples(const dln_train_options *o) {
  DLN_ARGS_V(-1, o);
  return o->sample_times ? o->nsample_times : o->nsamples;
}

int dln_train_sample_times(const dln_train_options *o, double *times) {
  DLN_ARGS(o, times);
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
