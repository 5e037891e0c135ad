/* Private interface of the dynamics drivers (driver.c), the systems they integrate
 * (the layer-wise network in train.c, the end-to-end matrix in e2e.c) and the
 * integrators (ARKODE ERK in driver.c, CVODE in cvode.c, Gauss–Legendre in gauss.c).
 *
 * A system is a state x of n doubles with a gradient-descent update and a flow
 * ẋ = f(x) (dln_dyn_system: the callbacks that evaluate them, its loss and how a sample
 * is recorded). One gradient-descent driver and one flow driver (driver.c) do the
 * sampling, the loss-threshold bisection, the stop rules, divergence reporting and
 * progress for every system. A stepper advances the flow one internal step at a time
 * with the state held in the caller's buffer, and offers dense output on the last step
 * interval. Not installed. */
#ifndef DLN_DYNAMICS_INTERNAL_H
#define DLN_DYNAMICS_INTERNAL_H

#include <stddef.h>

#include "dln/integrator.h"
#include "dln/train.h"

/* The run context is the public dln_system (dln/integrator.h): integrator types see it
 * through dln_system_size / _rhs / _hvp / _loss / _options (driver.c), the built-in
 * ones also through the fields below. */
typedef struct dln_system dln_run_ctx;

/* A dynamical system behind the drivers. Callbacks receive the run context; the
 * system's own data is c->net, c->loss, c->sampler, c->traj, c->row (the layer-wise
 * network, dln_net_system) or c->data (others). */
typedef struct dln_dyn_system {
  /* words in stop messages: "<gd_name> diverged at step ...", "<flow_name> diverged at
   * t = ...", "max|<state_name>| = ..." */
  const char *gd_name, *flow_name, *state_name;
  size_t (*size)(const dln_run_ctx *c); /* n, the length of the state */
  /* φ(x), NAN when it cannot be evaluated (no counters) */
  double (*loss)(dln_run_ctx *c, const double *x);
  /* Gradient descent: *val = φ(x) and g such that x ← x + gd_sign·η·g (the gradient
   * with gd_sign = −1, or the flow's right-hand side with gd_sign = +1). A DLN status. */
  int (*gd_eval)(dln_run_ctx *c, const double *x, double *val, double *g);
  /* gd_eval, and the step's update next = x + step·g with *over = !(max|next| <= blowup),
   * as dln_vec_axpy_over (same bits), for the quiet steps of gradient descent where the
   * system can fuse the two; NULL, or gd_has_step 0: gd_eval, then dln_vec_axpy_over. */
  int (*gd_eval_step)(dln_run_ctx *c, const double *x, double *val, double *g, double step, double *next, int *over);
  int (*gd_has_step)(const dln_run_ctx *c); /* 1: gd_eval_step serves this run (asked once per run) */
  /* ‖∇φ‖ at the x of the last gd_eval, which gave g (for grad_tol) */
  double (*gd_grad_norm)(dln_run_ctx *c, const double *g);
  /* Flow right-hand side f = ẋ. 0; 1 when not finite (recoverable: the integrator
   * retries with a smaller step; sets c->rhs_bad); −1 on a library error (fatal; the
   * system may store the status in c->rhs_fatal, which the flow driver then returns
   * instead of reporting an integrator failure). Called through dln_dyn_rhs. */
  int (*rhs)(dln_run_ctx *c, const double *x, double *f);
  /* out = ∇²φ(x) v, so that ∂f/∂x = −∇²φ (0 or −1). NULL: the system runs under
   * gradient descent and ERK only (CVODE, Gauss and AUTO need it). Via dln_dyn_hvp. */
  int (*hvp)(dln_run_ctx *c, const double *x, const double *v, double *out);
  /* ‖∇φ(x)‖ for grad_tol during the flow, with n doubles of scratch in buf. A status. */
  int (*grad_norm)(dln_run_ctx *c, const double *x, double *buf, double *norm);
  /* Record sample i (i = −1: the final row at the stop point) at time t after step
   * steps. repeat: gradient descent already recorded sample i − 1 at this same step. */
  int (*record)(dln_run_ctx *c, int i, double t, long step, const double *x, int repeat);
  double gd_sign; /* −1 or +1, see gd_eval */
  int gd_check_state; /* GD: stop as diverged when max|x| > blowup, before gd_eval */
  /* Differences between the layer-wise and end-to-end drivers kept so that both
   * behave exactly as before they shared one driver: */
  int flow_grad_tol_needs_loss; /* flow: with grad_tol > 0 φ is evaluated at every step (else
                                   every 64 steps unless loss_threshold or blow-up needs it) */
  int flow_result_on_early_exit; /* flow: result->steps and ->loss are also set when the run
                                    stops on an error (a stop at t = 0 always sets them) */
} dln_dyn_system;

/* The layer-wise gradient flow / descent θ̇ = −∇φ(θ) of c->net and c->loss, sampled by
 * the sampler c->sampler into c->traj (row buffer c->row) (train.c). */
extern const dln_dyn_system dln_net_system;

/* Shared state of a run: the system, samples, result bookkeeping and counters. */
struct dln_system {
  const dln_dyn_system *sys; /* NULL: dln_net_system */
  void *data;                /* the system's data (not used by dln_net_system) */
  /* dln_net_system's data */
  dln_net *net;
  dln_loss *loss;
  const dln_sampler *sampler;
  dln_table *traj; /* the trajectory table of either system: the driver adds the final row */
  double *row;
  /* the run */
  const dln_train_options *opt;
  dln_train_result *res;
  double *times;
  int ntimes, next; /* next sample index */
  double last_progress;
  double t0_wall;
  /* flow counters, shared by all integrators of one run */
  long grad_evals; /* right-hand sides */
  long jtv_evals;  /* Hessian-vector products ∇²φ v */
  int rhs_bad;     /* the last failure came from a non-finite right-hand side */
  int rhs_defer_check; /* the caller tests the right-hand side for NaN/Inf itself (the RK loop,
                        * on a later stage's argument): the system may skip its pass over f */
  int rhs_fatal;   /* status of a fatal right-hand side failure (see dln_dyn_system.rhs) */
  int disturbed;   /* the flow is θ̇ = −∇φ + D(t) (opt->disturbance, scale ≠ 0; set by dln_dyn_run) */
  int worst;       /* and D = D(θ) is 000 §III's worst case (worst_case.c) */
  char sundials_msg[256];
};

/* The noisy_data disturbance (noisy_data.c): GD on targets perturbed at every step. alloc
 * refuses losses without a perturbable target; draw computes D_k at θ_k (no allocation);
 * rewind(1)/rewind(0) bracket a checkpoint taken after E_k was drawn. */
typedef struct dln_noisy_data dln_noisy_data;
int dln_noisy_alloc(dln_noisy_data **out, dln_run_ctx *c);
void dln_noisy_free(dln_noisy_data *nd);
int dln_noisy_draw(dln_noisy_data *nd, const double *theta);
const double *dln_noisy_D(const dln_noisy_data *nd);
int dln_noisy_rewind(dln_noisy_data *nd, int rewind);

static inline const dln_dyn_system *dln_dyn_sys(const dln_run_ctx *c) { return c->sys ? c->sys : &dln_net_system; }
static inline size_t dln_dyn_size(const dln_run_ctx *c) { return dln_dyn_sys(c)->size(c); }

/* The result before a run: zero, with t_threshold, fail_t, loss, switched_at NAN,
 * fail_step −1 and integrator NULL. */
void dln_dyn_result_init(dln_train_result *r);

/* Run c->opt->method (GD, or a flow integrator) from x (in: initial state; out: last
 * good state) with c->sys: sample times, the driver, a final table row at the stop
 * point unless it was just sampled, wall time. The caller has validated the options
 * and the state, initialized c->res and set the system's data; c->times is allocated
 * and freed here, c->next is the number of samples taken afterwards. A system without
 * hvp refuses types flagged DLN_INTEG_NEEDS_HVP (DLN_EINVAL). */
int dln_dyn_run(dln_run_ctx *c, double *x);

/* f = ẋ at time t (the flow's right-hand side), counted in c->grad_evals: 0, 1 (not
 * finite: recoverable, sets c->rhs_bad), −1 (fatal). For the network, f = −∇φ(θ), plus
 * D(t) when c->disturbed (000 eq. 9): every integrator passes its stage times. */
int dln_dyn_rhs(dln_run_ctx *c, double t, const double *theta, double *g);
/* out = ∇²φ(θ) v, counted in c->jtv_evals. 0 or −1 (fatal). */
int dln_dyn_hvp(dln_run_ctx *c, const double *theta, const double *v, double *out);

/* The rows of type t validated against its options (opt itself, or opt->method_options
 * for a type with its own block), then t->check (registry.c). */
int dln_integrator_validate(const dln_integrator_type *t, const dln_train_options *opt);
/* Range and extra checks of the rows (NULL-terminated) on base; messages start with the
 * row's name ("rtol: expected ..."). */
int dln_dyn_validate_rows(const void *base, const dln_option *rows);

/* The worst-case disturbance of 000 §III (worst_case.c): 1 when it applies (untied depth 2,
 * n = m = 1, the factorization loss); out += a·D(θ) with ‖U‖ + ‖V‖ = o->disturbance_scale,
 * and in the sliding band around S^− (‖P + Q‖ ≤ DLN_WORST_BAND (rtol·max(1, ‖P‖ + ‖Q‖) + atol) of o)
 * D = −(r_P + r_Q)/2 with the undisturbed field rs·r at θ (r may be out; NULL: D = 0
 * there); out += −J_D(θ) v, out holding ∇²φ v. */
#define DLN_WORST_BAND 10.0
int dln_worst_case_applies(const dln_net *net, const dln_loss *loss);
void dln_worst_case_axpy(const dln_net *net, const dln_train_options *o, const double *theta, const double *r, double rs,
                         double a, double *out);
void dln_worst_case_neg_jvp_add(const dln_net *net, const dln_train_options *o, const double *theta, const double *v,
                                double *out);

/* Weighted RMS norm with SUNDIALS' weights 1/(atol + rtol |y_i|). */
double dln_dyn_wrms(size_t n, const double *x, const double *y, double rtol, double atol);

/* The Jacobian-vector product CVODE uses: Jv = −∇²φ(θ) v (exact). 0, 1 (non-finite), −1. */
int dln_cvode_jtv(dln_run_ctx *c, const double *theta, const double *v, double *Jv);
/* CVODE BDF + SPGMR with J v = −∇²φ(θ) v, started at (t0, θ) (cvode.c); h0 > 0 is
 * the first step to try (AUTO passes the last ERK step), 0 lets CVODE estimate it. */
int dln_cvode_create(dln_run_ctx *c, double *theta, double t0, double h0, dln_stepper **out);
/* dln's own explicit RK (ARKODE's table of opt->erk_order) switching to
 * Runge–Kutta–Chebyshev when stability-limited, started at t = 0 (rkc.c); DOP853 instead of
 * the erk_order table when erk_order is 5 and rtol ≤ auto_dop853_rtol. Mode DLN_RK_AUTO:
 * when the run is very stiff, do not switch to RKC but raise dln_rkc_wants_cvode (the
 * AUTO stepper of auto.c then continues with CVODE); DLN_RK_DOP853: DOP853 alone, never
 * switching (the type "dop853"). */
enum { DLN_RK_RKC = 0, DLN_RK_AUTO = 1, DLN_RK_DOP853 = 2 }; /* modes of dln_rkc_create */
int dln_rkc_create(dln_run_ctx *c, double *theta, int mode, dln_stepper **out);
/* Start an RKC stepper (not yet stepped) at t0 with first step h0 (> 0; 0: its own rule). */
void dln_rkc_start_at(dln_stepper *rk, double t0, double h0);
/* AUTO: 1 (and the step to start CVODE with) once the stepper asks for CVODE. */
int dln_rkc_wants_cvode(dln_stepper *stp, double *h0);
/* Its static names: kind 0 "dln-rk5", 1 "dln-rk5->rkc", 2 "dln-rk5->cvode-bdf" (order q). */
const char *dln_rkc_name(dln_stepper *stp, int kind);

/* An explicit Runge–Kutta table copied from ARKODE's default table of an order (rkc.c):
 * s stages, order q, embedding order p, A (strictly lower), b, c, e = b − b̂,
 * fsal (last stage evaluated at θ_{n+1}), beta = real stability boundary
 * (|R(−x)| ≤ 1 on [0, beta]; Dormand–Prince 5(4): 3.31). */
enum { DLN_ERK_MAX_STAGES = 16 };
typedef struct {
  int s, q, p, fsal;
  double A[DLN_ERK_MAX_STAGES][DLN_ERK_MAX_STAGES], b[DLN_ERK_MAX_STAGES], c[DLN_ERK_MAX_STAGES], e[DLN_ERK_MAX_STAGES];
  double beta;
  int dop853;                    /* 1: Dormand–Prince 8(5,3) (dop853.c): e holds E5, e3 the third-order estimate */
  double e3[DLN_ERK_MAX_STAGES];
} dln_erk_tab;
/* ARKODE's ERK table id for orders 2, 3, 4, 5, 6, 8 (5 for any other value). */
int dln_erk_table_id(int order);
int dln_erk_tab_load(int order, dln_erk_tab *tab);
/* tab->beta, the real stability boundary, computed once per table slot (order 2..8; 9 is
 * DOP853's) and cached (erk_tab.c). */
void dln_erk_tab_beta(dln_erk_tab *tab, int slot);
/* Dormand–Prince 8(5,3) (dop853.c): 13 stages, the last one f(θ_{n+1}) (FSAL); beta unset. */
void dln_dop853_tab(dln_erk_tab *tab);
/* Its dense output for the step [t0, t0 + h] from θ_n = y0 with stages K[0..12] (K[12] =
 * f(θ_{n+1})): the three extra stages into X[0..2] (arg: n doubles of scratch) and the
 * rows F3..F6 into F[0..3]. 0, or the failed right-hand side's code. */
int dln_dop853_dense_prep(dln_run_ctx *c, double t0, double h, const double *y0, const double *const K[13],
                          double *const X[3], double *const F[4], double *arg);
/* θ(t0 + x h) from y0 = θ_n, y1 = θ_{n+1}, f0 = f_n, f1 = f_{n+1} and the rows F. */
void dln_dop853_dense_eval(size_t n, double x, double h, const double *y0, const double *y1, const double *f0,
                           const double *f1, const double *const F[4], double *out);
/* That interpolant at x into u and its d/dt into du, one pass (rkc.c: its defect test);
 * u is dln_dop853_dense_eval's, bit for bit. */
void dln_dop853_dense_eval_deriv(size_t n, double x, double h, const double *y0, const double *y1, const double *f0,
                                 const double *f1, const double *const F[4], double *u, double *du);
/* ρ ≈ ‖∇²φ(θ)‖₂ by `iters` power iterations on exact Hessian-vector products, warm
 * started from v (n doubles; a fixed pseudo-random vector when *primed is 0, which
 * then becomes 1); w: n doubles of scratch. 0, or 1 when a product failed or was not
 * finite. The Jacobian of θ̇ = −∇φ is −∇²φ: symmetric, so ρ bounds its real spectrum. */
int dln_dyn_rho(dln_run_ctx *c, const double *theta, double *v, double *w, int *primed, int iters, double *rho);

#endif
