/* dln/landscape.h — critical values, strata, Hessian spectrum and equilibria of
 * φ(θ) = ℓ(W_N···W_1) (derivations and tolerances in docs/landscape.md).
 *
 * (a) Critical values (004 Lemma 3.2 item 4, §4.1 eq. 26): for the square loss with
 *     reduced target Ȳ (singular values s_1 > … > s_q > 0), every critical point has
 *     W = Σ_{i∈L} s_i p_i q_i^T for a "learned" index set L with |L| = r = rank W,
 *     and value ½ Σ_{i∉L} s_i². The rank of W is at most the narrowest width
 *     k = min_j d_j, so |L| ≤ k: the critical values are ½ Σ_{i∉L} s_i² over subsets L
 *     of size ≤ k (all 2^q subsets when k ≥ q). Each L is one stratum piece I_l^r of
 *     Crit_r (004 eq. 26); with repeated s_i different L give equal values.
 * (b) Where a run ended: the learned index set of W against the SVD of Ȳ.
 * (c) The Hessian ∇²φ(θ) through dln_net_hvp: extreme eigenvalues by Lanczos with full
 *     reorthogonalization (LAPACKE_dstev_work on the tridiagonal matrix), residuals
 *     ‖∇²φ y − λ y‖ and a convergence flag; classification of a point as minimum,
 *     strict saddle (descent direction = eigenvector of λ_min) or non-strict saddle
 *     (∇φ ≈ 0, λ_min ≈ 0, not a minimum: 002 Proposition 3, found here by a
 *     higher-order descent probe, or by "every local minimum is global" for the square
 *     loss, 004 Proposition 4 i).
 * (d) 000 Theorem 3: SVD characterization of equilibria (residual and weights share
 *     singular bases with complementary supports), checked at a point.
 * (e) 002 Theorem 3: σ̇_r = N (σ_r²)^{1−1/N} ⟨−∇ℓ(W), u_r v_r^T⟩ for balanced nets,
 *     against u_r^T Ẇ v_r with Ẇ = Σ_j W_{N:j+1} (−∂φ/∂W_j) W_{j−1:1}.
 * Objects own their workspaces; the Lanczos iteration and the σ̇ functions do not
 * allocate. Not thread-safe: one workspace per thread. */
#ifndef DLN_LANDSCAPE_H
#define DLN_LANDSCAPE_H

#include <stddef.h>
#include <stdint.h>

#include "dln/loss.h"
#include "dln/mat.h"
#include "dln/net.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest number of target singular values the subset code handles (bit masks). */
#define DLN_LANDSCAPE_MAXQ 64

/* ------------------------------------------------------------------ (a) critical values */
typedef struct dln_critval_options {
  int max_rank;     /* k = narrowest width min_j d_j; ≤ 0: no constraint (default 0) */
  size_t cap;       /* most subsets returned (the cap lowest values); 0: 1<<16 */
  double base;      /* added to every value, e.g. the L* of a regression (default 0) */
  double zero_tol;  /* s_i ≤ zero_tol·s_1 count as zero (not a component); 0: 1e-12 */
} dln_critval_options;

void dln_critval_default_options(dln_critval_options *opt);

typedef struct dln_critval {
  double value;       /* base + ½ Σ_{i∉L} s_i² */
  int r;              /* |L| = rank of W: the stratum Crit_r */
  uint64_t learned;   /* bit i (0-based, descending s) set: component i in L */
} dln_critval;

typedef struct dln_critval_info {
  int q;              /* number of nonzero singular values used */
  int max_rank;       /* effective constraint min(k, q) */
  double total;       /* number of admissible subsets Σ_{j ≤ max_rank} C(q, j) */
  size_t count;       /* entries written (≤ cap) */
  int capped;         /* 1 if total > cap: only the cap lowest values were returned */
  double min_value, max_value; /* over all admissible subsets (exact even when capped) */
} dln_critval_info;

/* Critical values from singular values s[0..ns) (any order; ns ≤ 64 after dropping zeros),
 * sorted ascending (ties broken by mask), into out[0..cap) (cap from opt; out must hold
 * that many). When capped, the cap lowest values are found by branch and bound. */
int dln_critical_values(int ns, const double *s, const dln_critval_options *opt, dln_critval *out,
                        dln_critval_info *info);
/* Same from a target matrix Ȳ (rows x cols), via its singular values. */
int dln_critical_values_target(int rows, int cols, const double *Ybar, const dln_critval_options *opt,
                               dln_critval *out, dln_critval_info *info);
/* Distinct values of a sorted list (|v_i − v_j| ≤ tol·max(1, |v|) merged), into vals
 * (capacity n); returns their number (0 for NULL arrays). */
size_t dln_critval_distinct(size_t n, const dln_critval *cv, double tol, double *vals);
/* Narrowest width min_{0≤j≤N} d_j of a net: the largest possible rank of W. */
/* 0 for a NULL net. */
int dln_net_min_width(const dln_net *net);

/* ------------------------------------------------------------------ (b) where a run ended */
typedef struct dln_stratum_options {
  double tol;       /* component test, relative to s_1: default 1e-6 */
  double zero_tol;  /* target s_i ≤ zero_tol·s_1 are not components: default 1e-12 */
  int max_rank;     /* narrowest width (≤ 0: min(rows, cols)) */
} dln_stratum_options;

void dln_stratum_default_options(dln_stratum_options *opt);

enum { DLN_COMP_UNLEARNED = 0, DLN_COMP_LEARNED = 1, DLN_COMP_PARTIAL = -1 };

typedef struct dln_stratum {
  int q;                  /* nonzero singular values of Ȳ */
  int r;                  /* number of learned components */
  int learned[DLN_LANDSCAPE_MAXQ]; /* DLN_COMP_* per component (descending s) */
  uint64_t learned_mask;  /* bit i: component i learned */
  double comp_err[DLN_LANDSCAPE_MAXQ]; /* distance to the verdict, / s_1 */
  double residual;        /* ‖W − Σ_{i∈L} s_i p_i q_i^T‖_F / ‖Ȳ‖_F */
  int critical;           /* every component learned or unlearned and residual ≤ tol */
  int global_min;         /* critical and L = the top min(k, q) components */
  int degenerate;         /* Ȳ has repeated nonzero singular values (004 Assumption 3 fails) */
  /* clusters of equal s_i (gaps ≤ tol·s_1 chain them): only the number learned per
   * cluster is intrinsic; with repeats, learned[] marks the cluster's first ones */
  int nclusters;
  int cluster_start[DLN_LANDSCAPE_MAXQ], cluster_size[DLN_LANDSCAPE_MAXQ], cluster_learned[DLN_LANDSCAPE_MAXQ];
  double value;           /* ½‖W − Ȳ‖_F² */
  double value_predicted; /* ½ Σ_{i∉L} s_i² (004 Lemma 3.2 item 4) */
  char message[256];
} dln_stratum;

/* Classify W (rows x cols) against Ȳ (rows x cols). Allocates its SVD buffers. */
int dln_stratum_classify(int rows, int cols, const double *W, const double *Ybar, const dln_stratum_options *opt,
                         dln_stratum *out);
/* For a net trained on a factorization loss (Ȳ = loss->wstar); max_rank from the net
 * unless opt->max_rank > 0. DLN_ENOTAPPLICABLE for other losses. */
int dln_stratum_classify_net(dln_net *net, dln_loss *loss, const double *theta, const dln_stratum_options *opt,
                             dln_stratum *out);

/* ------------------------------------------------------------------ (c) Hessian spectrum */
typedef struct dln_lanczos dln_lanczos;

typedef struct dln_lanczos_options {
  int max_iter;        /* Krylov dimension cap (≤ the one given to _alloc; 0: that one) */
  double tol;          /* converged when ‖Hy − λy‖ ≤ tol·max(|λ_min|, |λ_max|); default 1e-10 */
  int check_every;     /* solve the tridiagonal problem every this many steps; default 5 */
  uint64_t seed;       /* start vector: uniform(−1, 1) from this seed (default 1) ... */
  const double *start; /* ... unless given (length nparams) */
  int min_only;        /* 1: stop when λ_min has converged (Ritz pair by bisection and inverse
                          iteration, dstebz + dstein); lambda_max is then the top Ritz value,
                          resid_max NAN, no Ritz vector of λ_max. 0 (default): both ends */
} dln_lanczos_options;

void dln_lanczos_default_options(dln_lanczos_options *opt);

typedef struct dln_lanczos_result {
  double lambda_min, lambda_max; /* extreme Ritz values */
  double resid_min, resid_max;   /* true residuals ‖∇²φ y − λ y‖ of the unit Ritz vectors */
  int iters;                     /* Krylov dimension reached */
  long hvps;                     /* Hessian-vector products used */
  int converged;                 /* both residuals within tol (min_only: resid_min within tol) */
  int invariant;                 /* the Krylov space became invariant (exact Ritz values) */
  char message[160];             /* "converged ..." or "did not converge: residual r ..." */
} dln_lanczos_result;

/* Workspace for the net: Krylov basis of max_iter + 1 vectors of length nparams
 * (max_iter is capped at nparams), tridiagonal buffers, Ritz vectors. */
int dln_lanczos_alloc(dln_lanczos **out, dln_net *net, int max_iter);
void dln_lanczos_free(dln_lanczos *lz);
/* Extreme eigenvalues of ∇²φ(θ). No allocation. Returns DLN_OK also when not
 * converged (see result->converged / message). */
int dln_lanczos_run(dln_lanczos *lz, dln_loss *loss, const double *theta, const dln_lanczos_options *opt,
                    dln_lanczos_result *res);
/* Unit Ritz vectors (length nparams) of λ_min / λ_max from the last run. */
const double *dln_lanczos_vec_min(const dln_lanczos *lz);
const double *dln_lanczos_vec_max(const dln_lanczos *lz);

typedef enum dln_point_kind {
  DLN_POINT_NOT_CRITICAL = 0,  /* ‖∇φ‖ > grad_tol */
  DLN_POINT_MINIMUM,           /* ∇φ ≈ 0, ∇²φ ⪰ 0, no descent found (local, not certified global) */
  DLN_POINT_GLOBAL_MINIMUM,    /* ∇φ ≈ 0 and φ ≤ φ* + value_tol */
  DLN_POINT_STRICT_SADDLE,     /* λ_min < −eig_tol */
  DLN_POINT_NONSTRICT_SADDLE,  /* ∇φ ≈ 0, λ_min ≥ −eig_tol, but not a local minimum */
  DLN_POINT_UNDECIDED          /* Lanczos did not converge */
} dln_point_kind;

const char *dln_point_kind_name(int kind); /* "unknown" for an unknown kind */

typedef struct dln_point_options {
  double grad_tol;     /* ‖∇φ‖ ≤ grad_tol·max(1, |φ|) counts as critical; default 1e-8 */
  double eig_tol;      /* λ ≥ −eig_tol·max(1, |λ|_max) counts as ≥ 0; default 1e-7 */
  double value_tol;    /* φ − φ* ≤ value_tol·max(1, |φ*|): global minimum; default 1e-8 */
  double phi_star;     /* global minimum of φ; NAN: automatic (factorization: smallest
                          critical value under the width constraint; else loss->lstar
                          when no layer is narrower than min(d_0, d_N)) */
  int probes;          /* random probe directions for the higher-order test; default 16 */
  uint64_t seed;       /* probes' seed; default 7 */
  dln_lanczos_options lanczos;
} dln_point_options;

void dln_point_default_options(dln_point_options *opt);

typedef struct dln_point_result {
  int kind;               /* dln_point_kind */
  double phi, phi_star, grad_norm;
  dln_lanczos_result eig;
  /* higher-order probe: the largest decrease φ(θ + t d) − φ(θ) < 0 found, its t, and
   * the fitted order of the decrease in t (3 for the origin of an N = 3 net) */
  int descent_found;
  double probe_decrease, probe_t, probe_order;
  const char *probe_name; /* "chain (002 Prop. 3)", "eigenvector of lambda_min", "random" */
  const double *descent;  /* unit descent direction (length nparams, inside the workspace):
                             the λ_min eigenvector for strict saddles, the probe direction
                             for non-strict saddles; NULL otherwise */
  char message[256];
} dln_point_result;

/* Classify θ. Uses the Lanczos workspace (and its net); no allocation. */
int dln_point_classify(dln_lanczos *lz, dln_loss *loss, const double *theta, const dln_point_options *opt,
                       dln_point_result *res);

/* ------------------------------------------------------------------ (d) 000 Theorem 3 */
typedef struct dln_equilibrium {
  double grad_norm;     /* ‖∇φ(θ)‖ */
  double stmt1_q, stmt1_p; /* statement 1 in dln form: ‖W_N^T R‖_F, ‖R W_{N−1:1}^T‖_F */
  int residual_rank;    /* ρ = rank R, R = −∇ℓ(W) (= Ȳ − W for factorization) */
  double align_q;       /* ‖Φ_1^T W_N‖_F / ‖W_N‖_F: W_N's column space ⟂ R's (Σ Σ_Q = 0) */
  double align_p;       /* ‖W_{N−1:1} Ψ_1‖_F / ‖W_{N−1:1}‖_F: row spaces ⟂ (Σ^T Σ_P = 0) */
  int holds;            /* statement 2 within tol */
  int stmt1_holds;      /* statement 1 within tol */
  char message[256];
} dln_equilibrium;

/* 000 Theorem 3 with P = (W_{N−1}···W_1)^T and Q = W_N (P = W_1^T, Q = W_2 for N = 2, the
 * paper's case, where statements 1 and 2 are equivalent; for N > 2 they concern the
 * first/last-layer conditions only). tol (0: 1e-8) is relative to ‖Ȳ‖, ‖W‖. Allocates. */
int dln_equilibrium_check(dln_net *net, dln_loss *loss, const double *theta, double tol, dln_equilibrium *out);

/* ------------------------------------------------------------------ (e) 002 Theorem 3 */
typedef struct dln_sigma_dot dln_sigma_dot;
int dln_sigma_dot_alloc(dln_sigma_dot **out, dln_net *net);
void dln_sigma_dot_free(dln_sigma_dot *sd);
/* Predicted σ̇_r = N (σ_r²)^{1−1/N} ⟨−∇ℓ(W), u_r v_r^T⟩ (002 Theorem 3), r < k =
 * min(d_N, d_0); sigma (may be NULL) receives σ_r. No allocation. */
int dln_sigma_dot_predicted(dln_sigma_dot *sd, dln_loss *loss, const double *theta, double *sigma, double *sdot);
/* Measured σ̇_r = u_r^T Ẇ v_r along the layer-wise gradient flow,
 * Ẇ = Σ_j W_{N:j+1} (−∂φ/∂W_j) W_{j−1:1}. No allocation. */
int dln_sigma_dot_measured(dln_sigma_dot *sd, dln_loss *loss, const double *theta, double *sigma, double *sdot);
/* Both, and max_r |pred − meas| / max(1e-300, max_r |meas|) into *rel_diff. */
int dln_sigma_dot_compare(dln_sigma_dot *sd, dln_loss *loss, const double *theta, double *pred, double *meas,
                          double *rel_diff);
/* Ẇ of the last _measured / _compare call (d_N x d_0). */
const double *dln_sigma_dot_wdot(const dln_sigma_dot *sd);

/* ------------------------------------------------------------------ (f) 004 Prop. 5 */
/* Dimension of a stratum piece I_l^r of a one-hidden-layer net (widths d_0, d_1, d_N):
 * r d_1 + (d_1 − r)(|d_0 − d_N| + r), derived in stratum_dim.c / docs/landscape.md; eq27
 * (may be NULL): 004 eq. 27 as printed, r d_1 + (d_y − r) r + (d_y − r)(d_x − d_y), which
 * agrees only when d_1 = min(d_0, d_N). 0 ≤ r ≤ min(d_0, d_1, d_N), else DLN_EINVAL. */
int dln_theory_stratum_dim(int d0, int d1, int dN, int r, long *dim, long *eq27);

#define DLN_NULLITY_MAXP 2000 /* largest parameter count for the dense Hessian */
typedef struct dln_nullity {
  int n;                 /* parameters */
  int nullity, nneg, npos; /* |λ| ≤ rank_tol·max|λ|; negative; positive eigenvalues */
  double lmax;           /* max |λ| */
  double zero_max;       /* largest |λ| counted as zero */
  double nonzero_min;    /* smallest |λ| counted as nonzero (INFINITY if none) */
  double gap;            /* nonzero_min / zero_max: a clear kernel has a large gap */
} dln_nullity;
/* The eigenvalues of the dense Hessian ∇²φ(θ) (n HVPs, LAPACKE_dsyev), counted with the
 * stated rank tolerance 0 < rank_tol < 1 relative to max |λ|. At most DLN_NULLITY_MAXP
 * parameters (else DLN_ENOTAPPLICABLE). Allocates n² doubles. */
int dln_hessian_nullity(dln_net *net, dln_loss *loss, const double *theta, double rank_tol, dln_nullity *out);
/* ------------------------------------------------------------------ (g) where a run ended
 * 004 §2.3, §4: a factorization run ends at a global minimum, on a saddle stratum (a
 * critical configuration of Lemma 3.2 that is not the global one), or has not converged.
 * Tolerances from the run's relative accuracy acc (rtol): components within
 * comp_tol = min(1e-2, max(1e-6, √acc)) of s_1, ‖∇φ‖ ≤ grad_tol = comp_tol·max(1, ‖Ȳ‖_F)². */
typedef enum dln_end_class { DLN_END_GLOBAL_MIN = 0, DLN_END_SADDLE, DLN_END_NOT_CONVERGED, DLN_END_NCLASS } dln_end_class;

const char *dln_end_class_name(int cls); /* "global_min", "saddle", "not_converged"; "unknown" */

typedef struct dln_endpoint_options {
  double acc;        /* the run's relative accuracy; ≤ 0: 1e-8 */
  int lanczos_iter;  /* Krylov dimension cap (≤ nparams); ≤ 0: 60 */
} dln_endpoint_options;

void dln_endpoint_default_options(dln_endpoint_options *opt);

typedef struct dln_endpoint {
  int cls;                  /* dln_end_class */
  double phi, grad_norm;    /* φ(θ), ‖∇φ(θ)‖ */
  double comp_tol, grad_tol;
  double lambda_min;        /* least Hessian eigenvalue (Lanczos) at a critical end point; NAN otherwise */
  double lambda_resid;      /* its residual ‖∇²φ y − λ y‖ */
  int lambda_converged;
  dln_stratum s;            /* the stratum (s.learned_mask, s.cluster_learned) */
  char message[320];
} dln_endpoint;

/* Classify θ of an untied net trained on a factorization loss (DLN_ENOTAPPLICABLE otherwise).
 * Allocates (SVDs, a Lanczos workspace). */
int dln_endpoint_classify(dln_net *net, dln_loss *loss, const double *theta, const dln_endpoint_options *opt,
                          dln_endpoint *out);

/* Wilson score interval of a proportion: k successes of n trials, normal quantile z
 * (1.959964: 95%), into [*lo, *hi]; n = 0 gives [0, 1]. */
int dln_wilson_interval(long k, long n, double z, double *lo, double *hi);

#ifdef __cplusplus
}
#endif
#endif
