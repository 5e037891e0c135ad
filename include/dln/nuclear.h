/* dln/nuclear.h — the minimum-nuclear-norm solution of linear measurements, the classical
 * answer to matrix sensing and completion (002 §4.1 eq. 10):
 *
 *     minimize ‖W‖_*  subject to  ⟨A_i, W⟩ = b_i,  i = 1..m,
 *
 * solved by ADMM (Boyd et al., Found. Trends ML 2011, §5.1 with residual balancing, §3.4.1)
 * on the split X = W: X ← SVT_{1/ρ}(W − U) (singular value thresholding, LAPACK dgesdd),
 * W ← the Euclidean projection of X + U onto the affine set {𝒜(W) = b}, U ← U + X − W.
 * W is feasible at every iterate. Optimality is certified by a dual point: the Lagrange
 * dual is max bᵀy s.t. ‖𝒜*(y)‖_2 ≤ 1 and bᵀy ≤ ‖W‖_* for every feasible W (weak duality);
 * y is read off the ADMM multiplier −ρU ∈ range(𝒜*), scaled to ‖𝒜*(y)‖_2 ≤ 1, and the
 * solve stops when the duality gap ‖W‖_* − bᵀy ≤ tol · ‖W‖_*. The gap bounds the
 * suboptimality of ‖W‖_* whatever the iteration did.
 *
 * Inconsistent measurements (duplicated entries with different values, m > rows·cols with
 * noise): the constraint is the consistent part b̂ (the projection of b onto the range of
 * 𝒜), i.e. the minimum nuclear norm among the least-squares solutions.
 *
 * The solver owns every workspace (sized at _alloc); _solve does not allocate. Not
 * thread-safe: one solver per thread. Derivation: docs/nuclear.md. */
#ifndef DLN_NUCLEAR_H
#define DLN_NUCLEAR_H

#include "dln/loss.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dln_nuclear dln_nuclear;

typedef struct dln_nuclear_result {
  double nuclear_norm;         /* ‖W‖_* of the returned W */
  double dual_value;           /* bᵀy of the dual certificate (‖𝒜*(y)‖_2 ≤ 1) */
  double duality_gap;          /* ‖W‖_* − bᵀy ≥ 0: bounds ‖W‖_* − min */
  double rel_gap;              /* duality_gap / ‖W‖_* (0 when W = 0) */
  double constraint_residual;  /* ‖𝒜(W) − b̂‖_2 (b̂ = b for consistent measurements) */
  double measurement_residual; /* ‖𝒜(W) − b‖_2 */
  double dual_spectral;        /* ‖𝒜*(y)‖_2 of the returned y (≤ 1) */
  int iterations, converged;   /* converged: rel_gap ≤ tol */
  int rank;                    /* numerical rank of W: σ_i > 1e-8 σ_1 */
} dln_nuclear_result;

/* A solver for the measurements of rows x cols matrices: dense (A: rows*cols x m, column
 * i = vec(A_i) column-major, idx = NULL) or entrywise (idx: m linear indices r + c*rows,
 * A = NULL); b: m values (all copied). DLN_EINVAL / DLN_EDIM naming the argument. */
int dln_nuclear_alloc(dln_nuclear **out, int rows, int cols, int m, const double *A, const int *idx, const double *b);
/* The same for the measurements of a DLN_LOSS_MEASURED loss (dln_loss_measurements). */
int dln_nuclear_alloc_loss(dln_nuclear **out, const dln_loss *loss);
void dln_nuclear_free(dln_nuclear *s);
/* Solve to relative duality gap tol (> 0) in at most max_iter (≥ 1) ADMM iterations; W
 * (rows x cols) receives the feasible iterate. Not converging within max_iter is not an
 * error: res->converged = 0 with the certified gap reached. DLN_ELAPACK if an SVD fails. */
int dln_nuclear_solve(dln_nuclear *s, double tol, int max_iter, double *W, dln_nuclear_result *res);
/* The dual certificate y (m values, one per measurement) of the last solve. */
int dln_nuclear_dual(const dln_nuclear *s, double *y);

#ifdef __cplusplus
}
#endif
#endif
