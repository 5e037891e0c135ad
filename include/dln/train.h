/* dln/train.h — gradient descent and gradient flow with stop rules and sampling.
 *
 * Gradient descent θ_{k+1} = θ_k − η ∇φ(θ_k) is the explicit Euler discretization of
 * the gradient flow θ̇ = −∇φ(θ) (001 footnote 2); its time is t = k η.
 * Gradient flow is integrated by SUNDIALS ARKODE (ERKStep, adaptive explicit
 * Runge–Kutta) with relative/absolute tolerances; samples are taken by dense output
 * (ERKStepGetDky) between internal steps, so sampling never shrinks a step.
 *
 * A run stops at the first of: t ≥ t_end; step budget; φ ≤ loss_threshold (the
 * crossing time is refined on the dense output for flows); ‖∇φ‖ ≤ grad_tol;
 * divergence (non-finite loss/weights, or φ or ‖θ‖_∞ above `blowup`); integrator
 * failure; cancellation by the progress callback. The state θ holds the last good
 * point (on divergence: the state before the bad step or iterate, at result.t, with
 * fail_t / fail_step naming the bad one; θ(0) itself when it is already past blowup),
 * and the trajectory holds every sample up to it plus a final row.
 *
 * Other integrators of the same flow (docs/integrators.md): CVODE BDF with matrix-free
 * GMRES and the exact Jacobian-vector product −∇²φ(θ)v (stiff runs); Gauss–Legendre
 * collocation, which conserves the quadratic invariants C_j to round-off (Hairer,
 * Lubich, Wanner, GNI Thm IV.2.2); RKC, dln's own explicit RK switching to
 * Runge–Kutta–Chebyshev when stiff; AUTO, as RKC but switching to CVODE when very stiff. All share
 * the sampling (dense output), stop rules and divergence reporting above. */
#ifndef DLN_TRAIN_H
#define DLN_TRAIN_H

#include "dln/integrator.h"
#include "dln/loss.h"
#include "dln/net.h"
#include "dln/option.h"
#include "dln/rng.h"
#include "dln/table.h"

/* The observer sampled at sample times (dln/observe.h); opaque here. */
typedef struct dln_observer dln_observer;

#ifdef __cplusplus
extern "C" {
#endif

/* The integrator of a run is a type (dln/integrator.h): &dln_integrator_gd (gradient
 * descent), _flow (ARKODE explicit RK, non-stiff), _cvode (BDF with matrix-free GMRES whose
 * Jacobian-vector product is the exact −∇²φ v, stiff), _gauss (Gauss–Legendre collocation
 * with s = gauss_stages: 1 implicit midpoint, 2 order 4; conserves every quadratic
 * invariant, e.g. C_j, to round-off), _rkc (dln's own low-overhead explicit RK, the
 * erk_order table, switching to Runge–Kutta–Chebyshev — second order, stability interval
 * ≈ 0.65 s² for s stages — when stability-limited; for small and mildly stiff flows) and
 * _auto (the default: as RKC, but switching to CVODE instead when very stiff; rule in
 * docs/integrators.md), or any registered type (dln_integrator_find). */

typedef enum dln_stop_reason {
  DLN_STOP_NONE = 0,
  DLN_STOP_TIME,       /* reached t_end */
  DLN_STOP_STEPS,      /* step budget exhausted */
  DLN_STOP_LOSS,       /* loss threshold reached */
  DLN_STOP_CONVERGED,  /* ‖∇φ‖ ≤ grad_tol */
  DLN_STOP_DIVERGED,   /* NaN/Inf or blow-up */
  DLN_STOP_SOLVER,     /* integrator failure */
  DLN_STOP_CANCELLED   /* progress callback asked to stop */
} dln_stop_reason;

/* "time", "steps", "loss", "converged", "diverged", "solver", "cancelled". *//* ("none" for an unknown reason.) dln_train_default_options(NULL) does nothing;
 * dln_train_nsamples(NULL) is −1. */

const char *dln_stop_reason_name(int reason);

/* Progress callback: called about every 0.1 s of wall time with the current time
 * and loss; return nonzero to cancel the run. */
typedef int (*dln_progress_fn)(void *ctx, double t, double t_end, double loss);

/* Per-sample callback (opt->on_sample): called once at every sample time the run records
 * (each row of the trajectory at a sample time, t = 0 included; not at the extra final row
 * of a stop between sample times, nor again for samples a resumed run had taken), by
 * gradient descent and by every flow integrator, after the row is recorded. t is the
 * sample time exactly as the trajectory's t column (flow: the requested time, the state
 * from dense output; GD: k·η, or the requested time when sample_times are given), step the
 * GD step or accepted integrator steps, x the state at t: θ (nparams, layout of dln/net.h;
 * read layers with dln_net_layer_const on net) for dln_train / dln_train_sampled, or W
 * (d_N x d_0, column-major) with net = NULL for the end-to-end runs of dln/e2e.h. x is
 * read-only and only valid during the call; the callback must not free or change net.
 * Return 0 to go on, nonzero to stop the run there: stop_reason DLN_STOP_CANCELLED,
 * result->t = t, θ out = x, and the trajectory ends with this sample's row. */
typedef int (*dln_sample_fn)(void *ctx, double t, long step, const double *x, const dln_net *net);

/* A point a run can continue from bit for bit (docs/resume.md). Gradient descent: any
 * step k (θ_k before its update; samples at step k are taken). Flow: a checkpoint sample
 * time, where the integrator is restarted from (t, x, h) in every run with
 * checkpoint_every > 0, so a resumed run repeats the uninterrupted one exactly. */
typedef struct dln_train_checkpoint {
  double t;          /* time of the point */
  long step;         /* GD step k, or accepted integrator steps so far */
  int next_sample;   /* samples already recorded (index of the next sample time) */
  double h;          /* flow: the step the restarted integrator tries first (0: its own) */
  long grad_evals, jtv_evals; /* counters so far (statistics only) */
  int interrupted;   /* 1: written because the run was cancelled (GD only) */
  size_t n;          /* length of x */
  const double *x;   /* the state */
} dln_train_checkpoint;
/* Called at each checkpoint; a nonzero DLN status stops the run with that error. */
typedef int (*dln_checkpoint_fn)(void *ctx, const dln_train_checkpoint *cp);

/* Defaults are those of the option rows (dln_train_default_options), shared with the
 * command line: each row lives in the module that owns it (the driver's rows below in
 * dln_train_option_rows, eta in gd, erk_order in flow, gauss_* in gauss, krylov_maxl in
 * cvode, auto_stiff_ratio, auto_window and auto_dop853_rtol in rkc, dense_defect_max in dop853, auto_min_steps and
 * auto_rkc_max in auto). */
typedef struct dln_train_options {
  const dln_integrator_type *method; /* default &dln_integrator_auto */
  void *method_options;   /* the type's own option block (types with options_size > 0), else NULL */
  double eta;             /* GD step (> 0), default 1e-3 */
  double t_end;           /* final time (> 0), default 40; GD takes round(t_end/η) ≥ 1 steps (t_end/η ≤ 2^62) */
  long max_steps;         /* GD steps / integrator steps, 0 = unlimited for GD (t_end/η), 10^7 for flow */
  double loss_threshold;  /* stop when φ ≤ this; negative disables (default -1) */
  double grad_tol;        /* stop when ‖∇φ‖ ≤ this; 0 disables (default 0) */
  double rtol, atol;      /* flow tolerances: 0 < rtol < 1, atol > 0; default 1e-8, 1e-10 */
  int erk_order;          /* ERK method order for ARKODE's default table (flow, auto, rkc): 2, 3, 4, 5, 6 or 8, default 5 */
  double blowup;          /* divergence threshold on φ and ‖θ‖_∞ (finite, > 0), default 1e150 */
  int nsamples;           /* sample times incl. t = 0 and t_end (2 to 10^7), default 201 */
  int log_spacing;        /* 1: log-spaced between t_first and t_end (plus t = 0) */
  double t_first;         /* first positive sample time for log spacing, < t_end (0: t_end*1e-4) */
  const double *sample_times; /* explicit increasing times in [0, t_end]; overrides nsamples, log_spacing and
                                 t_first. GD (t = kη): each must be a whole number of steps (|t/η − k| ≤
                                 1e-9 + 8ε k; DLN_EINVAL otherwise) and its rows carry the requested t */
  int nsample_times;
  dln_progress_fn progress;
  void *progress_ctx;
  dln_sample_fn on_sample; /* called at every sample (dln_sample_fn above), NULL: none */
  void *on_sample_ctx;
  /* --- checkpoints (docs/resume.md) --- */
  long checkpoint_every;  /* > 0: a checkpoint every K GD steps / every K-th flow sample time; 0 off */
  dln_checkpoint_fn checkpoint; /* receives them (NULL: none are reported; flow restarts still happen) */
  void *checkpoint_ctx;
  const dln_train_checkpoint *resume; /* non-NULL: continue from this point (x, samples so far in traj) */
  /* --- implicit and switching integrators (docs/integrators.md); each > 0 (gauss_h ≥ 0) --- */
  int gauss_stages;       /* Gauss–Legendre stages s: 1 (midpoint, order 2) or 2 (order 4); default 2 */
  double gauss_h;         /* > 0: fixed Gauss step (no error control); 0: adaptive (rtol, atol). Default 0 */
  int krylov_maxl;        /* GMRES Krylov dimension for CVODE and the Gauss Newton solver; default 30 */
  double auto_stiff_ratio;/* AUTO, RKC: h·ρ/β_RK at or above which an RK step counts as stability-limited; default 0.5 */
  int auto_window;        /* AUTO, RKC: consecutive stability-limited RK steps before switching; default 3 */
  double auto_dop853_rtol;/* AUTO, RKC: with erk_order 5, the RK phase uses DOP853 at rtol ≤ this (0: never); default 1e-7 */
  long auto_min_steps;    /* AUTO: switch to CVODE only if RK would still need ≥ this many steps, (t_end − t)/h; default 200 */
  double auto_rkc_max;    /* AUTO: at the switch, continue with RKC if ρ(∇²φ)·(t_end − t) ≤ this, else CVODE; default 1e4 */
  /* --- disturbed flow θ̇ = −∇φ(θ) + D(t) (000 eq. 9, layer by layer; docs/disturbed.md).
   * GD: θ ← θ − η(∇φ(θ_k) − D(t_k)). D(t) = scale·D (constant) or scale·D·sin(ωt + phase)
   * (sinusoid). Layer-wise, untied networks only. --- */
  char *disturbance;          /* "none" (or NULL), "constant", "sinusoid", "noise", "noisy_data", "worst_case" (option row; owned) */
  dln_slist disturbance_files;/* the run layer's D_1..D_N files (option row; owned; the library ignores it) */
  double disturbance_scale;   /* finite, default 1 (0: the undisturbed flow, bit for bit) */
  double disturbance_omega;   /* sinusoid: angular frequency ω (finite), default 1 */
  double disturbance_phase;   /* sinusoid: phase (finite), default 0 */
  const double *disturbance_D;/* D_1..D_N in θ's layout (nparams values); required for constant, sinusoid;
                                 NULL for worst_case (D(θ) = −(scale/2)(P + Q)/‖P + Q‖ on both blocks) */
  /* noise: the SDE dθ = −∇φ dt + scale dB_t (white noise on every weight), method gd only,
   * by Euler–Maruyama θ_{k+1} = θ_k − η∇φ(θ_k) + scale·√η·ξ_k, ξ_k ~ N(0, I) drawn from
   * noise_rng (caller-owned, advanced by the run; required when scale ≠ 0). Checkpoints:
   * at the callback the stream has drawn ξ_0..ξ_{step−1}; save it (dln_rng_state_get) and
   * restore it (dln_rng_state_set) before resuming, and the resumed run is bit-identical. */
  dln_rng *noise_rng;
  /* noisy_data: GD (method gd only) whose gradient comes from data perturbed afresh at every
   * step (docs/disturbed.md): regression Y + scale·E_k, factorization Ȳ + scale·E_k, sensing
   * and completion b + scale·e_k, E_k ~ N(0, 1) drawn from noise_rng (as noise: required when
   * scale ≠ 0, checkpoints save and restore its state). The disturbance
   * D_k = −(∇φ_noisy(θ_k) − ∇φ(θ_k)) is left in noisy_D (nparams values, caller-owned, may be
   * NULL) before step k's samples are taken; the disturbance observer reads it. */
  double *noisy_D;
  double r_alpha;             /* R_α = {‖P + Q‖² ≥ α²} of 000 eq. 16 (depth 2, factorization,
                                 n = m = 1; P = W_2, Q = W_1ᵀ); negative: off (default −1) */
  /* DOP853 (dop853; rkc, auto at rtol ≤ auto_dop853_rtol): a step's samples come from its
   * interpolant u when h‖u' − f(u)‖ at mid-step is ≤ this in the step's error norm, else
   * from an integration from the step's start (docs/integrators.md); ≥ 0, default 10 */
  double dense_defect_max;
} dln_train_options;

/* The disturbance kinds of dln_train_options.disturbance. */
enum { DLN_DISTURB_NONE = 0, DLN_DISTURB_CONSTANT, DLN_DISTURB_SINUSOID, DLN_DISTURB_NOISE, DLN_DISTURB_NOISY_DATA, DLN_DISTURB_WORST };
/* The kind of opt->disturbance (DLN_DISTURB_*; NULL: NONE), −1 for an unknown name or NULL opt. */
int dln_train_disturbance_kind(const dln_train_options *opt);
/* The multiplier a(t) with D(t) = a(t)·D: 0 without a disturbance (or scale 0), scale
 * (constant), scale·sin(ωt + phase) (sinusoid), 0 (noise, noisy_data: no deterministic part;
 * worst_case: D depends on θ, see dln_train_disturbance_eval). NAN for NULL opt. */
double dln_train_disturbance_factor(const dln_train_options *opt, double t);
/* D(t, θ) in θ's layout (net->nparams values) for every kind: a(t)·D (constant,
 * sinusoid), 0 (none, noise), and for worst_case (000 §III; depth 2, n = m = 1, untied,
 * P = W_2, Q = W_1ᵀ) U = Vᵀ = −(scale/2)(P + Q)/‖P + Q‖, 0 on S^− (P + Q = 0). DLN_EINVAL
 * for NULL arguments, a non-finite t, an unknown kind or worst_case on another network. */
int dln_train_disturbance_eval(const dln_train_options *opt, const dln_net *net, double t, const double *theta, double *D);

/* Every option at its row's default (the driver's rows and those of every registered
 * integrator type that binds dln_train_options), method = &dln_integrator_auto. */
void dln_train_default_options(dln_train_options *opt);
/* The driver's own option rows (t_end, max_steps, loss_threshold, grad_tol, rtol, atol,
 * blowup, samples, log_samples, t_first), bound to dln_train_options, NULL-terminated. */
const dln_option *dln_train_option_rows(void);
/* Validate options: the driver's rows, the method's rows (in method_options for types
 * with their own block) and its check, then t_first < t_end and sample_times. The
 * message names the field, expected and found value. */
int dln_train_check(const dln_train_options *opt);
/* The sample times the options describe, into times[0..n) (n from dln_train_nsamples). */
int dln_train_nsamples(const dln_train_options *opt);
int dln_train_sample_times(const dln_train_options *opt, double *times);

typedef struct dln_train_result {
  int stop_reason;        /* dln_stop_reason */
  double t;               /* time reached (GD: steps * η) */
  long steps;             /* GD steps or accepted integrator steps */
  long grad_evals;        /* evaluations of ∇φ (right-hand sides) */
  long rejected;          /* rejected integrator steps (error test failures) */
  long attempted;         /* attempted integrator steps */
  double loss;            /* φ at the final state */
  double t_threshold;     /* time φ first reached loss_threshold, NAN if never */
  double wall_seconds;
  double fail_t;          /* time and step of divergence / failure, NAN / -1 if none */
  long fail_step;
  char message[512];      /* why the run stopped, in words */
  /* --- integrator statistics (all methods; 0 where not applicable) --- */
  long jtv_evals;         /* Jacobian-vector (Hessian-vector) products, incl. AUTO's stiffness probes */
  long nonlin_iters;      /* nonlinear (Newton / fixed-point) iterations */
  long lin_iters;         /* linear (GMRES) iterations */
  long nonlin_fails;      /* nonlinear solver convergence failures (step retried with smaller h) */
  const char *integrator; /* static name: "gd", "arkode-erk", "cvode-bdf", "gauss-legendre-1|2",
                             "dln-rk5" (RKC, AUTO before a switch), "dln-rk5->rkc",
                             "dln-rk5->cvode-bdf" (after one); dln_e2e_gd and
                             dln_e2e_flow (dln/e2e.h): "e2e-gd", "e2e-arkode-erk" */
  double switched_at;     /* time of the first switch (RKC, AUTO) to Chebyshev or CVODE, NAN if none */
} dln_train_result;

/* What a run records at each sample: ncols values of the state θ at (t, step) into row
 * (no allocation). The observer (dln/observe.h) is one; dln_train wires it in. */
typedef struct dln_sampler {
  int ncols;
  int (*eval)(void *ctx, double t, long step, const double *theta, double *row);
  void *ctx;
} dln_sampler;

/* Train from θ (in: initial weights, out: last good weights). If sampler and traj are
 * given, a row is appended to traj at every sample time (traj must have capacity
 * ≥ nsamples + 1 and sampler->ncols columns), and a final row at the stop point if it is
 * not a sample time. Returns DLN_OK when the run stopped for any reason listed in
 * result->stop_reason (including divergence: check stop_reason), or an error status for
 * bad input. */
int dln_train_sampled(dln_net *net, dln_loss *loss, double *theta, const dln_train_options *opt,
                      const dln_sampler *sampler, dln_table *traj, dln_train_result *result);

/* dln_train_sampled with an observer's rows (implemented in the observe layer,
 * src/observe/observe_train.c, which builds the sampler). */
int dln_train(dln_net *net, dln_loss *loss, double *theta, const dln_train_options *opt, dln_observer *obs,
              dln_table *traj, dln_train_result *result);

#ifdef __cplusplus
}
#endif
#endif
