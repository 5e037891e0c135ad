/* dln/robust.h — the robustness of a run to its disturbance (000 §III, Thm 2; issue 10).
 *
 * For a spec with a disturbance (constant, sinusoid, noise or any shape the spec selects;
 * docs/disturbed.md) the critical scale is the largest disturbance_scale at which the run
 * still REACHES THE TARGET SET, found by bisection over runs. A run at scale s is the spec's
 * run with disturbance_scale = s, run to t_end (loss threshold and grad_tol off), and it
 * reaches the target set when
 *   (a) it ran to t_end (not diverged, no integrator failure, no step budget hit), and
 *   (b) its relative error at t_end is ≤ reach_tol: ‖Ȳ − W(T)‖_F / ‖Ȳ‖_F for a factorization
 *       (IDENTITY loss), else (ℓ(W(T)) − L*) / (ℓ(W(0)) − L*) (a loss with known L*), and
 *   (c) scalar case (depth 2, factorization, n = m = 1, k = 1; 000 §III): W(T) is on the
 *       start's branch of the hyperbola PQ = Ȳ: sign P(T) = sign Q(T) = sign(P_0 + Q_0)
 *       (S^− = {P = −Q} separates the two branches; 000 Prop. 1). For k ≥ 2 S^− does not
 *       separate the target set and (c) is not required.
 * The default reach_tol = 1 is what 000 Thm 2 with eq. 18 guarantees: inside R_α the loss
 * ends below ‖D‖²/α², i.e. |Ȳ − PQᵀ| ≤ Ȳ − α²/4 < Ȳ at the bound of eq. 17.
 *
 * Bisection: the outcome is first scanned on `grid` equally spaced scales over [lo, hi]
 * (ends included); the first scale that fails and the last one before it that reaches are
 * the bracket, halved until hi − lo ≤ rel_tol·hi (at most max_runs halvings). A scale of
 * the scan that reaches above a failing one is reported (nonmonotone, and every evaluation
 * is kept): the bracket is then the first crossing. Nothing between scan points is tested
 * beyond the bisection's own runs.
 *
 * Thm 2 (000 eq. 16–17) in the scalar/vector case (depth 2, factorization, n = m = 1, Ȳ > 0):
 * a start is in R_α iff ‖P_0 + Q_0‖² ≥ α²; R_α is forward-invariant when α ∈ [0, 2√Ȳ) and
 * ‖U‖ + ‖V‖ ≤ |α|(Ȳ − α²/4)/√2. The bound is largest at α = 2√(Ȳ/3), so the best α whose R_α
 * contains the start is α* = min(‖P_0 + Q_0‖, 2√(Ȳ/3)); in scale units the guaranteed
 * scale is α*(Ȳ − α*²/4)/√2 / (‖D_2‖ + ‖D_1‖) (for a sinusoid |scale| bounds |a(t)|; a
 * worst_case disturbance has ‖U‖ + ‖V‖ = scale; none for noise). */
#ifndef DLN_ROBUST_H
#define DLN_ROBUST_H

#include "dln/spec.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dln_robust_options {
  double lo, hi;    /* scale range of the scan, 0 ≤ lo < hi (default 0, 1) */
  double rel_tol;   /* bisection stops at hi − lo ≤ rel_tol·hi (default 1e-3) */
  double reach_tol; /* (b) above (default 1) */
  int grid;         /* scan points, 2..1000 (default 5) */
  int max_runs;     /* halvings at most, ≥ 1 (default 60) */
  int threads;      /* curve: starts run in parallel, ≥ 1 (default 1); results do not depend on it */
  /* Polled during every run (through the training's progress callback) and between runs;
   * nonzero stops: DLN_ESOLVER "robust: cancelled", nothing written. NULL: never. */
  int (*cancelled)(void *ctx);
  void *cancel_ctx;
} dln_robust_options;

void dln_robust_default_options(dln_robust_options *o);

/* The outcome of one run at one scale. */
typedef struct dln_robust_eval {
  double scale;
  int reached;      /* (a)–(c) above */
  int stop_reason;  /* DLN_STOP_* */
  double rel_err;   /* (b); NAN when the run did not reach t_end */
  int side;         /* scalar case k = 1: 1 on the start's branch quadrant, else 0; −1 not applicable */
} dln_robust_eval;

enum { DLN_ROBUST_BRACKET = 0, /* lo reaches, hi fails */
       DLN_ROBUST_ALL_REACH,   /* every scanned scale reached: critical ≥ hi */
       DLN_ROBUST_NONE_REACH   /* the smallest scale lo already fails */ };

typedef struct dln_robust_result {
  int status;           /* DLN_ROBUST_* */
  double lo, hi;        /* final bracket (ALL_REACH: lo = hi = the range's hi; NONE_REACH: the range's lo) */
  int nonmonotone;      /* the scan saw a scale reach above a failing one */
  double nonmono_scale; /* the largest such scale, NAN if none */
  int nevals;
  dln_robust_eval *evals; /* every run, in order (scan first); owned */
  double start_dist;    /* scalar/vector case: ‖P_0 + Q_0‖/√2 (distance to S^−), else NAN */
  double uv_per_scale;  /* ‖U‖ + ‖V‖ per unit scale (scalar/vector case), NAN if unknown */
  double thm2_alpha;    /* α* above, NAN when Thm 2 does not apply */
  double thm2_scale;    /* the guaranteed scale, NAN when Thm 2 does not apply */
  double ratio;         /* lo / thm2_scale (measured critical over guaranteed) */
} dln_robust_result;

void dln_robust_result_free(dln_robust_result *r);

/* Bisection for one start: the spec's init, or theta0 (nparams values in the run's layout)
 * when not NULL. *phase: DLN_RUN_FAIL_* of a failure. A run that diverges or whose
 * integrator fails is an outcome (not reached), not an error. Allocates. */
int dln_robust_spec(const dln_spec *spec, const double *theta0, const dln_robust_options *o, dln_robust_result *r,
                    int *phase);

/* The robustness curve. With n > 0 (scalar/vector case only): the starts at distance
 * dists[i] > 0 from S^− along the spec's start's S^+ direction, keeping its S^− part:
 * P = M + d u/√2, Q = −M + d u/√2 with M = (P_0 − Q_0)/2, u = (P_0 + Q_0)/‖P_0 + Q_0‖
 * (u = (1,..,1)/√k when P_0 = −Q_0). With n = 0: the spec's own start only. Points run on
 * o->threads threads. out_dir (NULL: nothing written): robust.csv (one row per start),
 * robust.json (definition, options, spec, every evaluation) and manifest.json, written
 * atomically into the locked folder (DLN_EIO, phase DLN_RUN_FAIL_OUTPUT, for a folder with
 * earlier outputs unless force). pts receives n (or 1) results; dln_robust_curve_free. */
typedef struct dln_robust_curve {
  int n;
  double *dist;          /* requested distances (NAN: the spec's own start) */
  dln_robust_result *pts;
  double wall_seconds;   /* the bisections, outputs aside */
} dln_robust_curve;

int dln_robust_curve_spec(const dln_spec *spec, const double *dists, int n, const dln_robust_options *o,
                          const char *out_dir, int force, dln_robust_curve *c, int *phase);
void dln_robust_curve_free(dln_robust_curve *c);

#ifdef __cplusplus
}
#endif
#endif
