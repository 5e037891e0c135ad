/* dln/observe.h — diagnostics sampled along a run (the table they fill: dln/table.h).
 *
 * An observer is built once for a (net, loss, θ(0)) and evaluates one row of named
 * columns at a sample point without allocating. Columns, in this order, for the
 * flags set:
 *   t, step                                   always
 *   loss, loss_gap (= loss − L*; NAN if L* unknown)              DLN_OBS_LOSS
 *   grad_norm (‖∇φ‖ over all layers)                            DLN_OBS_GRADNORM
 *   recon_err (‖Ȳ − W‖_F/‖Ȳ‖_F, factorization only),
 *   dist_ref (‖W − W*‖_F, when the loss has a reference W*)    DLN_OBS_DIST
 *   dist_true, dist_true_rel (‖W − W_true‖_F and / ‖W_true‖_F, when the loss knows
 *     its true matrix, dln_loss_truth)                          DLN_OBS_TRUTH
 *   sv_1..sv_k (singular values of W, descending, k = min(d_N, d_0))  DLN_OBS_SV
 *   compress_rank (least r with ‖W − W_r‖_F ≤ 10⁻³‖W‖_F, dln/compress.h)  DLN_OBS_COMPRESS
 *   unbalancedness (max_j ‖C_j‖_F, 002 Def. 1),
 *   drift_C1..drift_C{N-1}: ‖C_j(t) − C_j(0)‖_F / max(1, ‖C_j(0)‖_F)   DLN_OBS_CONSERVED
 *   eigC_1..eigC_q: eigenvalues (descending) of the two-layer imbalance
 *     C_1 = W_2^T W_2 − W_1 W_1^T (001 eq. 13; 003 eq. 9), depth 2 only;
 *     all d_1 of them when d_1 ≤ 64, else the 32 largest and 32 smallest  DLN_OBS_IMBALANCE
 * and, by name only: W_i_j for each word entry:i,j (the entry (i, j) of W, 1-based as
 * printed: row i ≤ d_N, column j ≤ d_0); "layers" adds no column (dln run then writes
 * every layer at every row, W{j}_samples.npy: docs/observables.md).
 *
 * Each group is an observable (a column provider, dln_observable below): one const
 * descriptor per file under src/observe/, registered by one line in
 * src/observe/registry.c. Outside code adds its own with dln_observable_register and
 * selects observables by name with dln_observer_alloc_names; the flag-based constructors
 * are thin wrappers that translate flags to names.
 */
#ifndef DLN_OBSERVE_H
#define DLN_OBSERVE_H

#include <stddef.h>

#include "dln/loss.h"
#include "dln/net.h"
#include "dln/table.h" /* the trajectory table, once declared here */

#ifdef __cplusplus
extern "C" {
#endif

enum {
  DLN_OBS_LOSS = 1u,
  DLN_OBS_GRADNORM = 2u,
  DLN_OBS_DIST = 4u,
  DLN_OBS_SV = 8u,
  DLN_OBS_CONSERVED = 16u,
  DLN_OBS_IMBALANCE = 32u,
  DLN_OBS_TRUTH = 64u,
  DLN_OBS_COMPRESS = 128u,
  DLN_OBS_ALL = 255u
};

typedef struct dln_observer dln_observer;

/* theta0 is the initial state C_j(0) is taken from (copied). */
int dln_observer_alloc(dln_observer **out, dln_net *net, dln_loss *loss, const double *theta0, unsigned flags);
void dln_observer_free(dln_observer *obs);
int dln_observer_ncols(const dln_observer *obs);
const char *dln_observer_colname(const dln_observer *obs, int i);
/* Column index of a name, or -1. */
/* dln_observer_ncols / dln_observer_col: −1 for a NULL argument; dln_observer_colname:
 * NULL for i outside 0..ncols−1; dln_observer_label: "" for a NULL argument. */
int dln_observer_col(const dln_observer *obs, const char *name);
/* Fill row[0..ncols) at time t / step. No allocation. */
int dln_observer_eval(dln_observer *obs, double t, long step, const double *theta, double *row);

/* ------------------------------------------------------------------ observables */

/* What an observable's init sees. X is the design of a DLN_LOSS_LSQ_DESIGN loss
 * (dln_loss_design, or the caller's X of dln_observer_alloc_theory), else NULL. */
typedef struct dln_obs_setup {
  dln_net *net;
  dln_loss *loss;
  const double *theta0; /* θ(0), or NULL when the caller gave none */
  const dln_mat *X;
  void *priv;           /* the observer's; do not touch */
  /* DLN_OBSERVABLE_ARGS: the arguments of the words "name:arg" naming it, in the order
   * given (e.g. "1,2" for entry:1,2); valid during init only. Else NULL, 0. */
  const char *const *args;
  int nargs;
  const struct dln_train_options *train; /* the run's training options (dln_observer_alloc_run), or NULL */
} dln_obs_setup;

/* During init only: append the observable's next column, named by fmt (printf with one
 * int, k; at most 31 characters). Returns its index among the observable's columns
 * (0, 1, ...) or a negative status. An observable's columns are contiguous. */
int dln_obs_add_col(dln_obs_setup *s, const char *fmt, int k);
/* During init only: record why something is not observed ("<what>: <why>", joined by
 * "; " in dln_observer_theory_note). */
void dln_obs_note(dln_obs_setup *s, const char *what, const char *why);
/* During init only: a short text saying what the observable chose (e.g. the closed
 * form behind cf_dist), returned by dln_observer_label. */
void dln_obs_set_label(dln_obs_setup *s, const char *label);

/* One sample point, as an observable's eval sees it. W, loss and grad are computed once
 * per row by the observer, and only when an observable with columns asks for them. */
typedef struct dln_obs_frame {
  double t;
  long step;
  const double *theta;
  const double *W;    /* W(θ) = W_N···W_1 (d_N x d_0, column-major): DLN_OBSERVABLE_USES_W */
  double loss;        /* ℓ(W(θ)) (NAN unless DLN_OBSERVABLE_USES_W) */
  const double *grad; /* ∇φ(θ) (nparams): DLN_OBSERVABLE_USES_GRAD, else NULL */
  double reg;         /* R(θ), the net's imbalance regularizer (dln/net.h; 0 when off):
                         φ = loss + reg is what the dynamics descend, grad is ∇φ */
} dln_obs_frame;

enum {
  DLN_OBSERVABLE_IN_ALL = 1u,    /* --observe all includes it */
  DLN_OBSERVABLE_USES_W = 2u,    /* eval reads frame->W and frame->loss */
  DLN_OBSERVABLE_USES_GRAD = 4u, /* eval reads frame->grad (implies USES_W) */
  DLN_OBSERVABLE_UNTIED = 8u,    /* requirement: an untied network */
  DLN_OBSERVABLE_SQUARE = 16u,   /* requirement: square W (d_N = d_0) */
  DLN_OBSERVABLE_THETA0 = 32u,   /* θ(0) must be given (DLN_EINVAL otherwise) */
  DLN_OBSERVABLE_ARGS = 64u      /* named with arguments, "name:arg" (one or more words; init
                                    sees them in s->args); the bare name is refused */
};

/* An observable: a group of trajectory columns. When a requirement (loss_caps,
 * min_depth/max_depth, UNTIED, SQUARE) fails it adds no columns, without error. */
typedef struct dln_observable {
  const char *name;    /* the --observe word: "loss", "sv", ... */
  const char *summary; /* one line for --help and docs */
  unsigned flags;      /* DLN_OBSERVABLE_* */
  unsigned loss_caps;  /* DLN_LOSS_* the loss must have (0: any) */
  int min_depth, max_depth; /* 0: no bound */
  /* Decide the columns for s (dln_obs_add_col), allocate every workspace eval needs and
   * return it in *state (NULL allowed). On failure return a status; *state, if set, is
   * passed to free. */
  int (*init)(dln_obs_setup *s, void **state);
  /* Fill cols[0..ncols) for one sample point. Must not allocate. */
  int (*eval)(void *state, const dln_obs_frame *f, double *cols);
  void (*free)(void *state); /* NULL allowed; accepts NULL and half-built states */
} dln_observable;

/* Add an observable to the registry (after the built-in ones; column order follows
 * registration order). The descriptor must outlive its use. DLN_EINVAL for a NULL or
 * unnamed descriptor, a missing init/eval, a name that is taken or an alias; DLN_ENOMEM
 * when the registry is full. Not thread-safe: register before building observers. */
int dln_observable_register(const dln_observable *obs);
/* The registered observable of that name, or NULL (also for the aliases). */
const dln_observable *dln_observable_find(const char *name);
/* Every word --observe accepts, for i = 0, 1, ...: the registered observables in column
 * order, then the aliases "all" (the DLN_OBSERVABLE_IN_ALL ones) and "theory"
 * (closed_form + bias); NULL past the end. */
const char *dln_observable_name_at(int i);

/* dln_observer_alloc with observables chosen by name (the --observe words above, aliases
 * included; unknown words are DLN_EINVAL). A word "name:arg" passes arg to an observable
 * flagged DLN_OBSERVABLE_ARGS (DLN_EINVAL for others, and for such an observable named
 * without an argument). Columns: t, step, then each chosen observable's
 * columns in registry order, whatever the order of names. */
int dln_observer_alloc_names(dln_observer **out, dln_net *net, dln_loss *loss, const double *theta0,
                             const char *const *names, int n);
/* dln_observer_alloc_names for a run with training options train (dln/train.h; NULL: none),
 * which observables may read during init and eval (the "disturbance" columns read the
 * disturbance of 000 eq. 9 from it); train must outlive the observer. */
struct dln_train_options;
int dln_observer_alloc_run(dln_observer **out, dln_net *net, dln_loss *loss, const double *theta0,
                           const char *const *names, int n, const struct dln_train_options *train);
/* The label an observable set during init ("" if none or not chosen). */
const char *dln_observer_label(const dln_observer *obs, const char *name);

#ifdef __cplusplus
}
#endif
#endif
