/* dln/init.h — initializations of a network's weights, reproducible from a seed.
 *
 * All random schemes draw standard normal matrices layer by layer (W_1 first) from
 * the given stream and then scale them, so that changing only the scales keeps the
 * underlying draws: at a fixed product of scales the initial end-to-end matrix is
 * unchanged (003 §4, Fig. 2 protocol). */
#ifndef DLN_INIT_H
#define DLN_INIT_H

#include "dln/loss.h"
#include "dln/mat.h"
#include "dln/net.h"
#include "dln/option.h"
#include "dln/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

/* W_j ~ N(0, s_j^2) entrywise; scales == NULL means s_j = sigma for all j.
 * With per-layer scales of fixed product this is the imbalanced init of 003 §4
 * (U(0) = σ_U U_0, V(0) = σ_V V_0). */
int dln_init_gaussian(const dln_net *net, double *theta, dln_rng *rng, double sigma, const double *scales);

/* Width-scaled N(0, h^{-2α}) with h the largest hidden width (003 §3.2, Theorem 2:
 * 1/4 < α ≤ 1/2 for the theorem; any α > 0 accepted). Requires depth ≥ 2. */
int dln_init_width_scaled(const dln_net *net, double *theta, dln_rng *rng, double alpha);

/* Balanced initialization with end-to-end matrix W0 (d_N x d_0): with W0 = U Σ V^T
 * (thin SVD, rank r ≤ min hidden width), W_N = U Σ^{1/N} Q_{N-1}^T,
 * W_j = Q_j Σ^{1/N} Q_{j-1}^T, W_1 = Q_1 Σ^{1/N} V^T with Q_j ∈ R^{d_j x r}
 * orthonormal (random from rng, or the first r unit vectors if rng == NULL), so
 * every C_j = 0 (002 Definition 1; 003 §4 U_balanced, V_balanced). */
int dln_init_balanced(const dln_net *net, double *theta, const dln_mat *W0, dln_rng *rng);

/* Symmetric spectral initialization (001 Definition 1) for a tied net: with
 * Y = Φ Σ Φ^T (symmetric m x m), U_0 = Φ Σ_0^{1/2} padded with zero columns to
 * m x k (k ≥ m); sigma0[i] ≥ 0 pairs with the i-th eigenvalue of Y in the
 * order returned by LAPACK (ascending). */
int dln_init_spectral_symmetric(const dln_net *net, double *theta, const dln_mat *Y, const double *sigma0);

/* Asymmetric spectral initialization (001 Definition 3) for a depth-2 net with
 * W_2 = U (m x k), W_1 = V^T (k x n), k ≥ max(m, n): with Ȳ = Φ Σ Ψ^T (full SVD),
 * U_0 = Φ Ū_0 G, V_0 = Ψ V̄_0 G where Ū_0, V̄_0 are rectangular diagonal with
 * diagonals ubar[0..min(m,n)) and vbar[...] (paired with singular values in
 * descending order) and G is k x k orthogonal (random from rng, identity if NULL). */
int dln_init_spectral_asymmetric(const dln_net *net, double *theta, const dln_mat *Ybar, const double *ubar,
                                 const double *vbar, dln_rng *rng);

/* Orthogonal invariant-set init for under-determined regression (003 Prop. 1, eq. 15):
 * depth 2, W_1 = U^T (h x d_0), W_2 = V (d_2 x h). With Φ_1 an orthonormal basis of
 * the column space of X (d_0 x n) and Φ_2 its complement, U = Φ_1 U_1 + Φ_2 U_2 where
 * the rows of U_1 and V lie in one half of a random orthogonal split of R^h and the
 * rows of U_2 in the other, so V U_2^T = 0 and U_1 U_2^T = 0 exactly. Entries N(0, σ²)
 * in the split coordinates. */
int dln_init_orthogonal_minnorm(const dln_net *net, double *theta, const dln_mat *X, dln_rng *rng, double sigma);

/* Copy given layer matrices into θ (layers[j-1] is W_j, d_j x d_{j-1}; a tied net takes
 * one matrix U, m x k). Shapes and finiteness are checked; messages name the layer. */
int dln_init_from_layers(const dln_net *net, double *theta, dln_mat *const *layers, int nlayers);

/* ---- initialization types: one const descriptor per scheme, owning its options ----
 * To add one: a file with a `const dln_init_type` and one line in the registry
 * (src/model/inits/registry.c), or dln_init_register() from outside (docs/extending.md). */

/* The options of the built-in schemes (each row is owned by one scheme's file; several
 * schemes read sigma and layer_scales). A registered scheme may bind its rows to its
 * own block (options_size > 0), reached as .own. */
typedef struct dln_init_options {
  double sigma, alpha;
  dln_dlist layer_scales;
  dln_ilist init_product_widths;
  dln_dlist ubar, vbar, sigma0;
  dln_slist init_files;
  int det_sign;       /* 0: any; +1 / −1: redraw until sign det W agrees (dln_init_draw) */
  int det_sign_draws; /* at most this many draws for det_sign */
  dln_ilist saddle_stratum;  /* saddle: learned components (1-based) */
  double saddle_perturb;     /* saddle: N(0, saddle_perturb^2) added to every weight */
  double sminus_scale;       /* sminus: Q = W_1ᵀ ~ N(0, sminus_scale^2), P = W_2 = −Q (000 §III S^−) */
  double sminus_perturb;     /* sminus: N(0, sminus_perturb^2) added to every weight */
  void *own;
  /* Reads a matrix file (.npy / .csv) for the file scheme: the model layer reads no files
   * itself. The run layer sets it to dln_matrix_load (dln/io.h); not an option row, so
   * dln_options_copy does not copy it. NULL: init file is refused with a message. */
  int (*load)(const char *path, dln_mat **out);
} dln_init_options;

/* What a scheme's check may look at before anything is built. */
typedef struct dln_init_context {
  int depth;               /* N */
  const int *widths;       /* d_0..d_N */
  int tied;
  unsigned loss_caps;      /* DLN_LOSS_* of the task's loss under its options */
  const char *task_name;   /* for messages only */
  int shape_from_files;    /* 1 when d_0, d_N come from data files (not known from options) */
  int target_rows, target_cols; /* the options' rows, cols (synthetic shape) */
  const char *width_option; /* the option that set the hidden widths, blamed for them
                               ("width" or "widths"); NULL: "width" */
} dln_init_context;

typedef struct dln_init_type {
  const char *name;          /* the --init value */
  const char *summary;       /* one line */
  const dln_option *options; /* rows it owns (name == NULL terminated), or NULL */
  size_t options_size;       /* 0: rows bind dln_init_options; > 0: its own block (.own) */
  /* Consistency beyond the rows' checks: DLN_EINVAL via dln_error ("expected ..., found ...",
   * no prefix) and *field = the option to blame. NULL: none. */
  int (*check)(const dln_init_options *o, const dln_init_context *ctx, const char **field);
  /* Fill θ for net from rng (drawn after the data) and, where the scheme needs it, the
   * loss (its target Ȳ = wstar for DLN_LOSS_IDENTITY, its design X). *field on failure. */
  int (*apply)(const dln_init_options *o, const dln_net *net, double *theta, dln_rng *rng, const dln_loss *loss,
               const char **field);
} dln_init_type;

extern const dln_init_type dln_init_type_gaussian, dln_init_type_width_scaled, dln_init_type_balanced,
    dln_init_type_imbalanced, dln_init_type_spectral, dln_init_type_spectral_symmetric, dln_init_type_orthogonal_minnorm,
    dln_init_type_file, dln_init_type_saddle;
/* Rows shared by several schemes (sigma, layer_scales), owned by the gaussian scheme's file. */
const dln_option *dln_init_common_rows(void);

/* Checks beyond the rows' own range checks (validate the rows first), each DLN_EINVAL via
 * dln_error with "expected ..., found ..." (no prefix) and *field = the option to blame:
 *   dln_init_common_check   layer_scales, when given: one scale per layer
 *   dln_init_check_foreign  init_product_widths only with the gaussian scheme
 *   dln_init_check          all of it: common, t->check, foreign (in that order) */
int dln_init_common_check(const dln_init_options *o, const dln_init_context *ctx, const char **field);
int dln_init_check_foreign(const dln_init_type *t, const dln_init_options *o, const char **field);
int dln_init_check(const dln_init_type *t, const dln_init_options *o, const dln_init_context *ctx, const char **field);

/* Apply scheme t (t->apply) and, when o->det_sign is ±1, redraw from the same stream until
 * sign det W = o->det_sign for the square end-to-end W = W_N···W_1 (Razin & Cohen 2020;
 * 002 Prop. 5 and Ex. 4 assume a sign of det W(0), which gradient flow keeps: 002 Lemma 2).
 * The draws continue the stream, so the result is a function of (seed, stream) alone.
 * *draws (may be NULL) receives the number of draws (1 when det_sign is 0). DLN_EINVAL
 * with *field = "det_sign" for a W that is not square, for a scheme that draws the same
 * weights again (nothing random to redraw) and when o->det_sign_draws draws are used up,
 * each naming the sign found. */
int dln_init_draw(const dln_init_type *t, const dln_init_options *o, dln_net *net, double *theta, dln_rng *rng,
                  const dln_loss *loss, const char **field, int *draws);
/* Sign of det W (−1, 0, +1) of a square n x n column-major W by LU with partial
 * pivoting (an exactly zero pivot gives 0). Allocates. */
int dln_det_sign(int n, const double *W, int *sign);

const dln_init_type *dln_init_find(const char *name);
const dln_init_type *dln_init_at(int i);
const char *dln_init_name_at(int i);
int dln_init_register(const dln_init_type *type);

#ifdef __cplusplus
}
#endif
#endif
