/* dln/theory.h — the seed papers' closed forms and bounds as library functions.
 *
 * Closed forms (src/theory/closed_form.c): a dln_cf is built once from a network,
 * its loss and the initial state θ(0); the constructor checks the formula's
 * hypotheses on that data and refuses with DLN_ENOTAPPLICABLE and the message
 * "not applicable: <hypothesis> fails (<measured value>)" when one fails. It then
 * evaluates the end-to-end matrix W(t) (d_N x d_0) or per-component values σ_i(t)
 * at any time t into caller buffers without allocating:
 *
 *   linear model W(t) = Ȳ + (W0 − Ȳ) e^{−t}                         001 eq. 4
 *   symmetric Riccati solution (tied net W = U U^T)                    001 eq. 8
 *   symmetric spectral init, per eigenvalue                            001 eq. 9
 *   asymmetric spectral init with imbalance, per singular value        001 eq. 17, 22 (21)
 *   Λ_Q = λ0 I: R(t)R(t)^T                                             001 Prop. 5, eq. 30
 *   balanced network, constant gradient alignment, N = 2 and N ≥ 3     002 Exercise 5, Lemma 2 proof
 *
 * Bounds (src/theory/bounds.c) compare a theorem's bound with a measured value and
 * return a dln_verdict. Formulas, conventions and conversions: docs/theory.md.
 * dln's convention (docs/conventions.md): samples are columns, W = W_N···W_1. */
#ifndef DLN_THEORY_H
#define DLN_THEORY_H

#include <stddef.h>

#include "dln/loss.h"
#include "dln/net.h"
#include "dln/table.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Default relative tolerance of the hypothesis checks (tol <= 0 selects it). */
#define DLN_CF_TOL 1e-8

typedef enum dln_cf_kind {
  DLN_CF_LINEAR = 1,        /* 001 eq. 4: depth 1, factorization */
  DLN_CF_RICCATI = 2,       /* 001 eq. 8: tied net, symmetric invertible Ȳ */
  DLN_CF_SPECTRAL_SYM = 3,  /* 001 eq. 9: tied net, spectral init */
  DLN_CF_SPECTRAL_ASYM = 4, /* 001 eq. 17/22: depth 2, spectral init */
  DLN_CF_LAMBDA_ID = 5,     /* 001 eq. 30: depth 2, C_1(0) = λ0 I */
  DLN_CF_ALIGNED = 6        /* 002 Ex. 5 / Lemma 2: balanced, constant alignment */
} dln_cf_kind;

typedef struct dln_cf dln_cf;

/* Constructors. net and loss are only read here (not kept); θ(0) is copied as needed.
 * tol <= 0 selects DLN_CF_TOL. The 001 forms need a DLN_LOSS_IDENTITY loss ½‖W − Ȳ‖²
 * (dln/loss.h) with target Ȳ = loss->wstar. Status DLN_ENOTAPPLICABLE (message in dln_last_error) when a
 * hypothesis fails; DLN_EINVAL / DLN_EDIM for a wrong kind of net or loss. */
/* 001 eq. 4: depth 1, factorization loss ½‖W − Ȳ‖². */
int dln_cf_linear_alloc(dln_cf **out, dln_net *net, const dln_loss *loss, const double *theta0, double tol);
/* 001 eq. 8: tied net (W = U U^T), factorization with symmetric invertible Ȳ;
 * the bracket I + Ȳ^{-1}(e^{4tȲ} − I) X0 is checked at each evaluation. */
int dln_cf_riccati_alloc(dln_cf **out, dln_net *net, const dln_loss *loss, const double *theta0, double tol);
/* 001 eq. 9: as eq. 8, and X0 = U0 U0^T is spectral: Φ^T X0 Φ diagonal for Ȳ = Φ diag(σ) Φ^T
 * (eigenvalues ascending, as LAPACK returns them; components are in that order). */
int dln_cf_spectral_sym_alloc(dln_cf **out, dln_net *net, const dln_loss *loss, const double *theta0, double tol);
/* 001 eq. 17 with C from eq. 22: depth 2 (W_2 = U, W_1 = V^T), factorization, spectral
 * init: Φ^T U = Ū G^T, Ψ^T V = V̄ G^T with Ū, V̄ rectangular diagonal (Ȳ = Φ Σ Ψ^T, full
 * SVD, σ descending). Each component needs λ0_i = ū_i² − v̄_i² ≠ 0 and x0_i = ū_i v̄_i ≠ σ_i.
 * Components i = 0..min(d_N, d_0)−1 in the order of descending σ_i. */
int dln_cf_spectral_asym_alloc(dln_cf **out, dln_net *net, const dln_loss *loss, const double *theta0, double tol);
/* 001 Prop. 5, eq. 30: depth 2, factorization, C_1(0) = U^T U − V^T V = λ0 I_k, and
 * S̃ = [[λ0/2 I, Ȳ], [Ȳ^T, −λ0/2 I]] invertible; the bracket is checked at each t. */
int dln_cf_lambda_id_alloc(dln_cf **out, dln_net *net, const dln_loss *loss, const double *theta0, double tol);
/* 002 Exercise 5 / Lemma 2 proof: depth N ≥ 2, balanced θ(0) (max_j ‖C_j‖_F ≤ tol‖θ‖²),
 * and the singular vectors of W0 diagonalize ∇ℓ(W0) (U^T ∇ℓ V diagonal), so that they stay
 * fixed while the alignment c_r = ⟨−∇ℓ, u_r v_r^T⟩ (measured at t = 0) stays constant —
 * which is assumed, not checkable at t = 0 (exact for a linear loss). Components in the
 * order of W0's singular values (descending). Evaluations past the blow-up time of a
 * component (N ≥ 3, c_r > 0) return DLN_ENOTAPPLICABLE. */
int dln_cf_aligned_alloc(dln_cf **out, dln_net *net, dln_loss *loss, const double *theta0, double tol);
void dln_cf_free(dln_cf *cf);
/* Which closed form applies to (net, loss, θ(0)): tries, in this order, 001 eq. 4 (depth 1),
 * eq. 9 then eq. 8 (tied depth 2), eq. 17 then eq. 30 (untied depth 2) — these need a
 * DLN_LOSS_IDENTITY loss — and 002 Ex. 5 (untied depth ≥ 2), and returns the first whose
 * hypotheses hold in *out (NULL if none; free with dln_cf_free). why (may be NULL, len
 * bytes) receives "<form>: <dln_last_error of its refusal>" for each form tried and
 * refused before, joined by "; ". Status DLN_OK whether or not a form applies; DLN_ENOMEM
 * or DLN_EINVAL (NULL argument) otherwise. Allocates: call it once, not per sample. */
int dln_cf_select(dln_cf **out, dln_net *net, dln_loss *loss, const double *theta0, double tol, char *why,
                  size_t len);

/* The getters return 0 (dln_cf_name: "") for a NULL cf. */
int dln_cf_kind_of(const dln_cf *cf);
const char *dln_cf_name(const dln_cf *cf); /* e.g. "001 eq. 8 (symmetric Riccati)" */
int dln_cf_rows(const dln_cf *cf);         /* d_N */
int dln_cf_cols(const dln_cf *cf);         /* d_0 */
int dln_cf_ncomponents(const dln_cf *cf);  /* 0 for the matrix-only forms (eq. 4, 8, 30) */

/* W(t) (d_N x d_0) at t ≥ 0. No allocation. */
int dln_cf_eval(dln_cf *cf, double t, double *W);
/* Per-component values at t: σ_i(t) (eq. 9: eigenvalues of X(t); eq. 17: x_i(t), the
 * signed diagonal of Φ^T W Ψ; aligned: σ_r(t)), dln_cf_ncomponents entries. DLN_EINVAL for
 * the matrix-only forms. */
int dln_cf_components(dln_cf *cf, double t, double *sigma);
/* Per-component constants (spectral forms and aligned): target σ_i (aligned: c_r),
 * imbalance λ0_i (eq. 17; 0 otherwise) and initial value x0_i (σ_i(0)). Any pointer may be NULL. */
int dln_cf_component_params(const dln_cf *cf, int i, double *sigma, double *lambda0, double *x0);
/* eq. 30 only: Z(t) = R(t)R(t)^T ((d_N + d_0) square) in dln's coordinates, R = [U; V] =
 * [W_2; W_1^T]; W(t) is its top-right d_N x d_0 block. */
int dln_cf_gram(dln_cf *cf, double t, double *Z);

/* Distance to the closed form, usable as an observer at sample times:
 * ‖W(t) − W_cf(t)‖_F / max(1, ‖W_cf(t)‖_F) with W(t) = W_N···W_1 from θ(t). No allocation. */
int dln_cf_distance(dln_net *net, const double *theta, double t, dln_cf *cf, double *dist);

/* Scalar formulas, as printed (001 eq. 9, 17, 21, 22; 002 Lemma 2 proof). */
double dln_cf_eq9(double sigma, double sigma0, double t);
double dln_cf_eq17(double sigma, double lambda0, double C, double t);
double dln_cf_eq21_rhs(double sigma, double lambda0, double x);
double dln_cf_eq22(double sigma, double lambda0, double x0);
/* σ(t) for σ̇ = N (σ²)^{1−1/N} c from σ(0) = sigma0 ≥ 0, depth N ≥ 2; DLN_ENOTAPPLICABLE
 * past the blow-up time (N ≥ 3, c > 0). */
int dln_cf_aligned_sv(int depth, double sigma0, double c, double t, double *sigma);

/* ------------------------------------------------------------------ bounds */

/* A bound compared with a measurement. result/source are static strings (result name,
 * paper and equation). For rate bounds, bound is the guaranteed rate, measured the
 * slowest average rate seen, −ln(gap(t)/gap(0))/t, over samples above the noise floor,
 * and margin = measured − bound; for the dissipation inequality bound is the upper bound
 * on dL/dt, measured dL/dt and margin = bound − measured. margin ≥ 0 when the bound
 * holds with room; holds is decided with the caller's tolerance (see each function). */
typedef struct dln_verdict {
  const char *result, *source;
  int applicable;
  char hypotheses[256];
  double bound, measured, margin;
  int holds;
  char message[256];
} dln_verdict;

/* A sampled curve (t_i, y_i), i < n, with a common stride (1 for plain arrays,
 * ncols for a dln_table column). */
typedef struct dln_curve {
  size_t n, stride;
  const double *t, *y;
} dln_curve;

/* NULL t or y with n > 0: c becomes the empty curve (message recorded). */
void dln_curve_arrays(dln_curve *c, size_t n, const double *t, const double *y);
/* Columns "t" and `col` of a trajectory table. DLN_EINVAL if a column is missing. */
int dln_curve_from_table(dln_curve *c, const dln_table *tab, const char *col);

/* Least-squares slope of ln y against t over the samples with lo ≤ y ≤ hi:
 * *rate = −slope (decay rate). DLN_EINVAL if fewer than 3 samples qualify. */
int dln_fit_rate(const dln_curve *c, double lo, double hi, double *rate, int *npoints);

/* 003 Theorem 1 constants in dln's convention: depth 2, W_1 = U^T, W_2 = V;
 * Λ = W_1 P_X W_1^T − W_2^T W_2 with P_X the projector on col(X) (X: d_0 x n, NULL means
 * the identity: factorization); c = [λ_r(Λ)]_+ + [λ_m(−Λ)]_+ (r = rank X, m = d_2;
 * λ_i the i-th largest, 0 when i exceeds the width); sx_r = λ_r(Σ_x), the smallest
 * nonzero eigenvalue of X X^T. Any output pointer may be NULL. For h > d_0 + m the spectrum of
 * Λ (h x h) comes from a (d_0 + m)-sized eigenproblem (wide nets: O(h (d_0 + m)²), not O(h³)). */
int dln_theory_imbalance_c(const dln_net *net, const dln_mat *X, const double *theta, double *c, double *lr,
                           double *lm, double *sx_r, int *rank);

/* Deficiency margin (002 Definition 3) for the factorization loss ½‖W − Ȳ‖² (002
 * Example 1): W has margin δ iff ‖W − Ȳ‖_F < σ_min(Ȳ) − δ, so the largest margin is
 * δ = σ_min(Ȳ) − ‖W − Ȳ‖_F (≤ 0: no margin). */
int dln_theory_deficiency_margin(const dln_loss *loss, const double *W, double *delta);

/* 000 Theorem 1, eq. 11 with U = V = 0 (undisturbed flow), at one state θ:
 * L̇ ≤ −L (σ_min²(Q) + σ_min²(P)) with (000 → dln) Q = W_2, P = W_1^T. Depth 2,
 * factorization, d_1 ≥ max(d_0, d_2). ldot: the measured dL/dt (e.g. a finite
 * difference along a trajectory), or NULL for the exact −‖∇φ(θ)‖². Holds when
 * measured ≤ bound + tol (|bound| + |measured|). */
int dln_bound_dissipation(dln_net *net, dln_loss *loss, const double *theta, const double *ldot, double tol,
                          dln_verdict *v);

/* 003 Theorem 1, eq. 10: L(t) − L* ≤ exp(−2 λ_r(Σ_x) c t)(L(0) − L*) with c from Λ(0)
 * (dln_theory_imbalance_c). X: the regression data (d_0 x n), or NULL: a DLN_LOSS_LSQ_DESIGN
 * loss then uses its own design (dln_loss_design), a DLN_LOSS_IDENTITY loss the identity;
 * L* = loss->lstar; c ≤ 1e-12 ‖θ(0)‖² counts as 0 (balanced up to rounding: refused).
 * traj: (t, L) with t_0 = 0. Holds when every sample satisfies
 * gap ≤ e^{−rate t} gap0 (1 + tol) + tol L(0). */
int dln_bound_imbalance_rate(const dln_net *net, const dln_loss *loss, const dln_mat *X, const double *theta0,
                             const dln_curve *traj, double tol, dln_verdict *v);

/* 004 Proposition 2: factorization, d_1 ≥ d_2 ≥ … ≥ d_{N−1} ≥ d_N, d_0 ≥ d_N, and each
 * C_l(0) (l = 1..N−1) has at least d_{l+1} positive eigenvalues; with
 * α = Π_l λ_{d_l−d_{l+1}+1}(C_l) (ascending order: the d_{l+1}-th largest),
 * d‖M‖²/dt ≤ −2α‖M‖², i.e. L(t) ≤ e^{−2αt} L(0). Bound = 2α; same test as above. */
int dln_bound_pyramidal(const dln_net *net, const dln_loss *loss, const double *theta0, const dln_curve *traj,
                        double tol, dln_verdict *v);

/* 002 Theorem 2 for the factorization loss (α = 1): balanced θ(0), margin δ > 0 ⇒
 * φ(t) − φ* ≤ (φ(0) − φ*) exp(−2 δ^{2(N−1)/N} t), hence φ(t) − φ* ≤ eps for
 * t ≥ t_eps = ln((φ(0) − φ*)/eps)/(2 δ^{2(N−1)/N}) (reported in the message; eps ≤ 0
 * skips it). Bound = 2 δ^{2(N−1)/N}; same test as above, plus gap ≤ eps (1 + tol) at
 * every sample with t ≥ t_eps. */
int dln_bound_deficiency(dln_net *net, const dln_loss *loss, const double *theta0, const dln_curve *traj,
                         double eps, double tol, dln_verdict *v);

/* The rate constants of the three gradient-flow rate bounds alone, from θ(0) (no
 * trajectory), with the same hypotheses as the functions above: each bound reads
 *   L(t) ≤ ystar + (L(0) − ystar) e^{−rate t}
 * with rate = 2 λ_r(Σ_x) c, ystar = L* (003 Thm 1); rate = 2α, ystar = 0 (004 Prop. 2);
 * rate = 2 δ^{2(N−1)/N}, ystar = L* (002 Thm 2). ystar may be NULL. A failing hypothesis
 * returns DLN_ENOTAPPLICABLE with "not applicable: <hypothesis> fails (<value>)" in
 * dln_last_error. They allocate (LAPACK workspaces): call them once, not per sample. */
int dln_bound_rate_imbalance(const dln_net *net, const dln_loss *loss, const dln_mat *X, const double *theta0,
                             double *rate, double *ystar);
int dln_bound_rate_pyramidal(const dln_net *net, const dln_loss *loss, const double *theta0, double *rate,
                             double *ystar);
int dln_bound_rate_deficiency(dln_net *net, const dln_loss *loss, const double *theta0, double *rate, double *ystar);

/* 002 Remark 2 (Arora et al. 2019a) for gradient descent with step eta on the
 * factorization loss ½‖W − Λ_yx‖²: margin δ > 0, unbalancedness ≤ δ²/(256 N³ ‖Λ_yx‖_F^{2(N−1)/N})
 * and eta ≤ δ^{(4N−2)/N}/(6144 N³ ‖Λ_yx‖_F^{(6N−4)/N}) ⇒ φ(k) − φ* ≤ φ(0) exp(−η δ^{2(N−1)/N} k).
 * traj: (t = kη, φ). Bound = δ^{2(N−1)/N} per unit time; holds when every sample satisfies
 * gap ≤ φ(0) e^{−rate t}(1 + tol) + tol φ(0). */
int dln_bound_gd_remark2(dln_net *net, const dln_loss *loss, const double *theta0, double eta,
                         const dln_curve *traj, double tol, dln_verdict *v);

/* 001 Proposition 3, eq. 23: component i of an asymmetric spectral run converges at rate
 * √(4σ_i² + λ0_i²). cf: a DLN_CF_SPECTRAL_ASYM closed form; tab: its trajectory with
 * columns t and sv_1..sv_p. The component error |sv_i(t) − σ_i| (σ descending; the
 * limit is Σ, so sv_i ↔ σ_i on the tail) is fitted on lo ≤ error ≤ hi (dln_fit_rate).
 * pred/fit: p entries each (may be NULL). Holds when |fit/pred − 1| ≤ tol for every
 * component with enough tail samples; measured = the largest |fit/pred − 1|. */
int dln_bound_component_rates(const dln_cf *cf, const dln_table *tab, double lo, double hi, double tol,
                              double *pred, double *fit, dln_verdict *v);

/* ------------------------------------------------- 003 §3: distance to the min-norm solution */

/* Constants of 003 Lemma 1 / Theorem 2 at θ(0) for a depth-2 regression net (dln's
 * W_1 = U^T, W_2 = V; Θ̂ = loss->wstar; Φ_1 spans col X, Φ_2 its complement). */
typedef struct dln_minnorm {
  int rank, d0, m, width;    /* r = rank X, D = d_0, m = d_2, h = d_1 */
  double lambda1, lambdar;   /* λ_1(Σ_x), λ_r(Σ_x) of Σ_x = X X^T */
  double c;                  /* 003 Thm 1 imbalance constant (dln_theory_imbalance_c) */
  double z0;                 /* ‖[V U_2^T; U_1 U_2^T]‖_F at θ(0) (eq. 18's left side) */
  double u1v0;               /* ‖U_1(0) V(0)^T‖_F = ‖W(0) Φ_1‖_F (eq. 19's left side) */
  double e0;                 /* ‖E(0)‖_F = √(2(L(0) − L*)) (003 eq. 6, 8) */
  double yfro;               /* ‖Y‖_F */
  double fig1;               /* ‖Φ_2Φ_2^T(U(0)V(0)^T − Θ̂)‖_F (003 Fig. 1) */
} dln_minnorm;

/* Fill b from (net, loss, θ(0)). Untied depth 2 and a regression loss (DLN_LOSS_LSQ_DESIGN
 * with its min-norm solution and L*), else DLN_ENOTAPPLICABLE. Allocates (SVD of X). */
int dln_theory_minnorm_setup(dln_net *net, dln_loss *loss, const double *theta0, dln_minnorm *b);
/* The deterministic core of 003 Theorem 2 (eq. 16 by Grönwall + Theorem 1 eq. 10):
 *   ‖W(t) − Θ̂‖_F ≤ B(t) = ‖Z(0)‖ exp(√λ_1 ‖E(0)‖ (1 − e^{−λ_r c t})/(λ_r c)) + e^{−λ_r c t}‖E(0)‖/√λ_r
 * for t ≥ 0 (t = INFINITY: the limit). NAN when c ≤ 0 or t < 0 or b is NULL. */
double dln_theory_minnorm_bound_at(const dln_minnorm *b, double t);
/* 003 Fig. 1's split of W − Θ̂ for any end-to-end W (m x d_0) of a regression loss:
 * in_span = ‖(W − Θ̂)Φ_1Φ_1^T‖_F, out_span = ‖(W − Θ̂)Φ_2Φ_2^T‖_F (at W(0): Fig. 1's
 * ‖U_2(0)V(0)^T‖). Either output may be NULL. Allocates. */
int dln_theory_minnorm_split(const dln_loss *loss, const double *W, double *in_span, double *out_span);
/* 003 Lemma 1 right-hand sides for widths m (output), D (input), r = rank X, h (hidden),
 * 1/4 < α ≤ 1/2 (else DLN_ENOTAPPLICABLE), 0 < δ < 1: eq17 = h^{1−2α} (c exceeds it),
 * eq18 = 2√(m+r)(√(m+D) + ½ log(2/δ))/h^{2α−1/2}, eq19 = the same with √m. Each holds with
 * probability ≥ 1 − δ for h > h_0 = poly(m, D, 1/δ) (h_0 unspecified: not a certificate). */
int dln_theory_003_lemma1(int m, int D, int r, int h, double alpha, double delta, double *eq17, double *eq18,
                          double *eq19);
/* 003 eq. 20's right-hand side 2 C^{1/h^{1−2α}} √(m+r)(√(m+D) + ½ log(2/δ))/h^{2α−1/2},
 * C = exp(1 + λ_1^{1/2}/λ_r ‖Y‖_F), for the data in b. */
int dln_theory_003_eq20(const dln_minnorm *b, double alpha, double delta, double *rhs);
/* Verdict: ‖W(t) − Θ̂‖_F (W from θ) ≤ B (1 + tol) + tol (‖Θ̂‖ + ‖E(0)‖/√λ_r) with B the smaller of
 * B(t) from θ(0) and, when traj (the loss curve (t_i, L(t_i)) of the same gradient-flow run
 * from t_0 = 0, with a sample at t; may be NULL) is given, the same Grönwall bound along the
 * measured error: ‖Z(0)‖ exp(√λ_1 Σ_i (t_{i+1} − t_i)‖E(t_i)‖) + ‖E(t)‖/√λ_r (a left sum:
 * L is non-increasing). Not applicable (DLN_ENOTAPPLICABLE) as dln_theory_minnorm_setup, or c ≤ 0. */
int dln_bound_minnorm(dln_net *net, dln_loss *loss, const double *theta0, const double *theta, double t,
                      const dln_curve *traj, double tol, dln_verdict *v);

/* ------------------------------------------------- 001 Prop. 2: tied flow, PSD projection */

/* For a factorization loss with a symmetric square target Y (else DLN_ENOTAPPLICABLE):
 * Ỹ = Σ max(σ_i, 0) φ_iφ_i^T (n x n, may be NULL), σ_min = min_i |σ_i|, and the infimum
 * of the tied loss L* = ½ Σ_{σ_i<0} σ_i² = ½‖Y − Ỹ‖² (any output may be NULL). Allocates. */
int dln_theory_psd_projection(const dln_loss *loss, double *Ytilde, double *sigma_min, double *lstar);
/* 001 Prop. 2, eq. 10: tied net, symmetric Y, Y and I + Ŷ^{−1}(X_0 − Ỹ) nonsingular (both
 * decided at 100 (acc + ε) relative: acc is the run's accuracy, ≤ 0 for round-off only).
 * ‖X(t) − Ỹ‖ ≤ C e^{−4σ_min t} gives L(t) − L* ≤ C' e^{−4σ_min t}; measured = the decay
 * rate of L − L* fitted (dln_fit_rate) on traj's samples with lo ≤ L − L* ≤ hi, bound =
 * 4σ_min (8σ_min when Y ≻ 0: then L − L* = ½‖X − Ỹ‖²); holds when measured ≥ bound (1 − tol). An asymptotic fit: tol is not tied to
 * the integrator's accuracy (use a few per cent). Fewer than 3 tail samples: not applicable. */
int dln_bound_psd_projection(dln_net *net, dln_loss *loss, const double *theta0, const dln_curve *traj, double lo,
                             double hi, double acc, double tol, dln_verdict *v);

/* 001 §5, eq. 32–39: tail rates of L − L* per unit time (t = kη) for gradient descent with
 * step η and for the flow, on the factorization loss: depth 1 (eq. 32/34: −2 ln(1 − η)/η vs
 * 2, exact at every step), or a tied depth-2 net with symmetric nonsingular Y (eq. 33/35,
 * 38–39 in matrix form: the slowest eigen-block, −2 ln(1 − 2η(|σ_i| + |σ_j|))/η, and
 * −2 ln(1 − 2η|σ_n|)/η for σ_n < 0; vs 4(|σ_i| + |σ_j|) and 4|σ_n|), needing
 * 4η max|σ| < 1. Else DLN_ENOTAPPLICABLE. Derivation: psd_rate.c. */
int dln_theory_gd_rates(const dln_net *net, const dln_loss *loss, double eta, double *gd, double *flow);
/* Verdict: the rate of L − L* fitted on traj (t, L) over lo ≤ L − L* ≤ hi is within tol
 * (relative) of the discrete rate; bound = discrete, measured = fitted; the flow rate and
 * their relative gap are in the hypotheses. When other blocks (tied) decay too close to
 * the slowest one for the window to separate them (a quadratic block within 1.15×, a
 * linear-term block within 2×: psd_rate.c), the window sees their mixture: the fitted
 * rate must then lie in [r₁(1 − tol), r_mix(1 + tol)], r_mix the fastest of them. */
int dln_bound_gd_rate(const dln_net *net, const dln_loss *loss, double eta, const dln_curve *traj, double lo, double hi,
                      double tol, dln_verdict *v);

/* ------------------------------------------------- 002 Ex. 2, Prop. 5 / Ex. 4 (e2e_extra.c) */

/* 002 Exercise 2: the end-to-end dynamics of the symmetric network W_s = W W^T under gradient
 * flow on ℓ(W W^T): Ẇ_s = −(G + G^T) W_s − W_s (G + G^T), G = ∇ℓ(W_s) — from W_s alone.
 * Square loss (d x d); Wsdot d x d. Allocates (G). */
int dln_theory_sym_e2e(dln_loss *loss, const double *Ws, double *Wsdot);
/* Recognizes 002 Prop. 5's 2 x 2 sensing instance by probing the (quadratic) loss:
 * ℓ(W) = ½h[(w_12 − b_1)² + (w_21 − b_2)² + w_22²] with b_1 b_2 ≠ 0 (002 eq. 15: h = 1/3,
 * b = (1, 1); any normalization h > 0). Else DLN_ENOTAPPLICABLE. Outputs may be NULL. */
int dln_theory_prop5_instance(dln_loss *loss, double *b1, double *b2, double *h);
/* 002 Prop. 5 proof (eq. 16–17), generalized: with e = √(2ℓ/h) < min(|b_1|, |b_2|) and sign
 * det W = sign(b_1 b_2), |w_11| ≥ (|b_1| − e)(|b_2| − e)/e. NAN when e is not below
 * min(|b_1|, |b_2|) or ℓ = 0 or an argument is invalid. */
double dln_theory_prop5_bound(double b1, double b2, double h, double ell);
/* 002 Prop. 5 (b_1 b_2 > 0, det W(0) > 0) or Exercise 4 (b_1 b_2 < 0, det W(0) < 0): at n
 * states with loss ell[i] and a norm norm[i] ≥ |w_11| (spectral or Frobenius norm of W),
 * holds when every state with a defined bound has norm ≥ bound (1 − tol) − tol. Not
 * applicable: not the instance, tied net, sign det W(0) ≠ sign(b_1 b_2) (|det| ≤ 1e3 ε ‖W‖²),
 * no state with a defined bound. The constant sign of det W (002 Lemma 2) needs a balanced
 * network: callers check that. */
int dln_bound_norm_divergence(dln_net *net, dln_loss *loss, const double *theta0, size_t n, const double *ell,
                              const double *norm, double tol, dln_verdict *v);

#ifdef __cplusplus
}
#endif
#endif
