/* dln/e2e.h — end-to-end dynamics of a balanced deep linear network (002 §2).
 *
 * Under gradient flow from a balanced initialization (every C_j = W_{j+1}^T W_{j+1} −
 * W_j W_j^T = 0, 002 Assumption 1), the end-to-end matrix W = W_{N:1} (d_N x d_0)
 * obeys an ODE of its own (002 Theorem 1, eq. 3):
 *
 *   Ẇ = −P_W(∇ℓ(W)),  P_W(A) = Σ_{j=1}^{N} (W W^T)^{(j−1)/N} A (W^T W)^{(N−j)/N},
 *
 * with [·]^0 = I (also on the null space). In vectorized form P_W is the PSD operator
 * with eigenvectors vec(u_r v_{r'}^T) and eigenvalues Σ_j σ_r^{2(N−j)/N} σ_{r'}^{2(j−1)/N}
 * (002 Corollary 1, eq. 6). The state is W alone, so the cost of a step does not depend
 * on the hidden widths. Singular values move by σ̇_r = N (σ_r²)^{1−1/N} ⟨−∇ℓ, u_r v_r^T⟩
 * (002 Theorem 3), and for d_N = d_0 the sign of det W never changes (002 Lemma 2).
 *
 * dln_e2e_flow integrates the ODE (ARKODE ERKStep, adaptive explicit RK with dense
 * output, like dln_train's flow); dln_e2e_gd is its explicit Euler discretization
 * W ← W − η P_W(∇ℓ(W)), the optimizer of 002 Claim 1 (implicit acceleration). Both take
 * dln_train_options (method is ignored: the function chooses) and report through
 * dln_train_result with dln_train's stop reasons and divergence conventions (they run
 * dln_train's drivers); result->integrator is "e2e-arkode-erk" or "e2e-gd".
 * dln_e2e_train runs the end-to-end system with any integrator type opt->method whose
 * needs it meets: the system has no Hessian-vector product, so types flagged
 * DLN_INTEG_NEEDS_HVP (cvode, gauss, rkc, auto) are refused with DLN_EINVAL.
 *
 * Fractional powers are evaluated from one thin SVD W = U S V^T per call (not from
 * eigendecompositions of W W^T and W^T W, whose zero eigenvalues come out as ±ε‖W‖²
 * and would turn into ε^{1/N} errors); singular values ≤ max(d_N, d_0)·ε·σ_1 count as 0.
 * See docs/e2e.md. An object is not thread-safe: use one per thread. */
#ifndef DLN_E2E_H
#define DLN_E2E_H

#include "dln/loss.h"
#include "dln/net.h"
#include "dln/table.h"
#include "dln/train.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dln_e2e dln_e2e;

/* End-to-end dynamics for the loss ℓ (which fixes d_N x d_0 = loss->rows x loss->cols)
 * at depth N ≥ 1. All workspaces are allocated here; rhs, precondition, flow steps and
 * GD steps do not allocate (dln_e2e_flow and dln_e2e_gd allocate their driver buffers
 * and ARKODE memory once per call). The loss is borrowed, not owned. */
int dln_e2e_alloc(dln_e2e **out, dln_loss *loss, int depth);
void dln_e2e_free(dln_e2e *e);
/* The getters below return −1 for a NULL e. */
int dln_e2e_depth(const dln_e2e *e);
int dln_e2e_rows(const dln_e2e *e); /* d_N */
int dln_e2e_cols(const dln_e2e *e); /* d_0 */

/* out = P_W(A) (002 eq. 3 with A in place of ∇ℓ); W, A, out are d_N x d_0, out may
 * alias A but not W. */
int dln_e2e_precondition(dln_e2e *e, const double *W, const double *A, double *out);

/* Wdot = −P_W(∇ℓ(W)), the right-hand side of 002 eq. 3; *loss_value = ℓ(W) if not NULL. */
int dln_e2e_rhs(dln_e2e *e, const double *W, double *Wdot, double *loss_value);

/* ‖∇φ‖ at any balanced network with end-to-end matrix W: ‖∇φ‖² = ⟨∇ℓ, P_W(∇ℓ)⟩
 * (= −dℓ/dt along the flow). Used for grad_tol. */
int dln_e2e_grad_norm(dln_e2e *e, const double *W, double *norm);

/* Refuse (DLN_EINVAL) a network that is not balanced: with u = max_j ‖C_j‖_F
 * (dln_net_unbalancedness, 002 Definition 1) the network is accepted when
 * u ≤ tol · ‖θ‖_2² (each ‖C_j‖_F ≤ ‖W_{j+1}‖_F² + ‖W_j‖_F² ≤ ‖θ‖², so u/‖θ‖² ∈ [0, 1] is
 * a scale-free measure); tol = 0 selects DLN_E2E_BALANCE_TOL. The message states u, ‖θ‖²
 * and their ratio. Tied nets (W = U U^T, whose flow is not the layer-wise flow of
 * 002 eq. 2) are refused. On success W (d_N x d_0) = W_N ··· W_1. */
#define DLN_E2E_BALANCE_TOL 1e-10
int dln_e2e_from_net(dln_net *net, const double *theta, double tol, double *W);

/* Trajectory table for e: columns t, step, loss, sv_1..sv_k (k = min(d_N, d_0),
 * descending), the observer's names, then dist_true, dist_true_rel when the loss knows its
 * true matrix (dln_loss_truth), with room for cap rows. */
int dln_e2e_table_alloc(const dln_e2e *e, size_t cap, dln_table **out);

/* Integrate Ẇ = −P_W(∇ℓ(W)) from W (in: W(0); out: last good state) with opt->rtol,
 * opt->atol, opt->erk_order, opt->t_end, opt->max_steps, loss_threshold, grad_tol,
 * blowup, progress, and the sample times of opt (dln_train_sample_times).
 * samples: NULL, or room for nsamples matrices; sample i (W at time t_i, by dense
 * output) is written at samples + i·d_N·d_0, and samples the run did not reach are
 * set to NAN. traj: NULL, or a table from dln_e2e_table_alloc with room for
 * nsamples + 1 rows; one row per sample and a final row at the stop point if it is
 * not a sample time. Returns DLN_OK for any stop reason (check result->stop_reason). */
int dln_e2e_flow(dln_e2e *e, double *W, const dln_train_options *opt, double *samples, dln_table *traj,
                 dln_train_result *result);

/* Discretized end-to-end dynamics (002 Claim 1): W_{k+1} = W_k − η P_{W_k}(∇ℓ(W_k)),
 * t = k η, with opt->eta, t_end, max_steps, loss_threshold, grad_tol, blowup, progress.
 * Samples and rows are taken at the steps nearest to the sample times, as dln_train
 * does for gradient descent (explicit sample_times: whole multiples of η, hit exactly, dln/train.h). On divergence (non-finite or > blowup loss or entry) the
 * stop reason is DLN_STOP_DIVERGED, fail_step/fail_t name the bad iterate and W holds
 * the last good one. */
int dln_e2e_gd(dln_e2e *e, double *W, const dln_train_options *opt, double *samples, dln_table *traj,
               dln_train_result *result);

/* The end-to-end system × the integrator opt->method (dln/integrator.h), with every
 * option of opt as dln_train takes it: gd as dln_e2e_gd, flow as dln_e2e_flow (their
 * summaries' names "e2e-gd", "e2e-arkode-erk"), any other type without
 * DLN_INTEG_NEEDS_HVP under its stepper's name; the others are refused (DLN_EINVAL,
 * naming the types that fit). traj as for dln_e2e_flow. */
int dln_e2e_train(dln_e2e *e, double *W, const dln_train_options *opt, dln_table *traj, dln_train_result *result);

/* Counters since allocation: right-hand-side (P_W ∇ℓ) evaluations and SVDs. The
 * evaluations of one run are also in result->grad_evals. */
long dln_e2e_num_rhs(const dln_e2e *e);
long dln_e2e_num_svd(const dln_e2e *e);

#ifdef __cplusplus
}
#endif
#endif
