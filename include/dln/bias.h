/* dln/bias.h — implicit-bias measures of the end-to-end matrix and of the weights.
 *
 * Measures of W = W_N···W_1 (d_N x d_0) with singular values σ_1 ≥ … ≥ σ_k ≥ 0,
 * k = min(d_N, d_0) (derivations and definitions in docs/landscape.md):
 *   Schatten-p       ‖W‖_{S_p} = (Σ σ_i^p)^{1/p}, p > 0 (a quasi-norm for p < 1;
 *                    p = 1 nuclear, p = 2 Frobenius, p = INFINITY spectral)
 *                    (002 §4.1: the nuclear norm as the classical answer)
 *   effective rank   Roy & Vetterli (EUSIPCO 2007): exp(H(p)), p_i = σ_i / Σσ_j,
 *                    H(p) = −Σ p_i log p_i (0 log 0 = 0); equals r for r equal
 *                    nonzero singular values. This is what public deep matrix
 *                    factorization code logs. Also the stable rank ‖W‖_F² / ‖W‖_2².
 *   distance to W*   ‖W − W*‖_F for the loss's reference solution (loss->wstar: the
 *                    minimum-norm least-squares solution for regression; 003 §3)
 *   sign det W       for square W (002 Lemma 2: constant under gradient flow), by LU
 *                    (LAPACKE_dgetrf_work) on a preallocated copy
 *   orthogonality    ‖V U_2^T‖_F + ‖U_1 U_2^T‖_F of 003 §3 (Proposition 1, eq. 15;
 *                    Lemma 1 eq. 18) for depth-2 regression nets. With dln's
 *                    W_1 = U^T, W_2 = V and U = Φ_1 U_1 + Φ_2 U_2 (Φ_1 an orthonormal
 *                    basis of the column space of X, Φ_2 of its complement):
 *                    V U_2^T = W Φ_2,  U_1 U_2^T = (W_1 Φ_1)^T (W_1 Φ_2).
 *
 * Workspaces are sized once at _alloc; the _eval/_svd/_det/_orth_eval calls do not
 * allocate (LAPACK is called through the *_work interfaces). Not thread-safe: one
 * workspace per thread. */
#ifndef DLN_BIAS_H
#define DLN_BIAS_H

#include "dln/mat.h"
#include "dln/net.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Schatten-p (quasi-)norm (Σ_{i<k} s_i^p)^{1/p} of singular values s (any order, ≥ 0);
 * p > 0, p = INFINITY gives max s_i. Returns NAN for p ≤ 0 or NaN input. Scaled by
 * s_max internally, so it neither overflows nor underflows for large / small p. */
/* NaN (message recorded) for s == NULL with k > 0 or k < 0; likewise the ranks below. */
double dln_schatten(int k, const double *s, double p);
/* Roy–Vetterli effective rank exp(−Σ p_i log p_i), p_i = s_i/Σ s_j; 0 for s = 0. */
double dln_effective_rank(int k, const double *s);
/* Stable rank Σ s_i² / max s_i²; 0 for s = 0. */
double dln_stable_rank(int k, const double *s);

typedef struct dln_bias dln_bias;

typedef struct dln_bias_result {
  int k;                 /* min(rows, cols) */
  int rank;              /* numerical rank: σ_i > max(rows, cols)·ε·σ_1 */
  double spectral;       /* σ_1 */
  double fro;            /* ‖W‖_F */
  double nuclear;        /* Σ σ_i */
  double effective_rank; /* Roy–Vetterli */
  double stable_rank;    /* ‖W‖_F² / σ_1² */
  double dist_ref;       /* ‖W − W*‖_F, NAN if no reference given */
  double rel_dist_ref;   /* ‖W − W*‖_F / ‖W*‖_F (NAN if W* = 0 or none) */
  int det_sign;          /* sign of det W for square W (−1, 0, +1); 0 if not square */
  double log_abs_det;    /* log |det W| (−INFINITY if singular, NAN if not square) */
} dln_bias_result;

/* Workspace for rows x cols matrices (SVD and LU buffers). */
int dln_bias_alloc(dln_bias **out, int rows, int cols);
void dln_bias_free(dln_bias *b);

/* Singular values of W (descending) into s (min(rows, cols) entries). No allocation. */
int dln_bias_singular_values(dln_bias *b, const double *W, double *s);
/* Thin SVD W = U diag(s) V^T: U rows x k, s k, Vt k x cols (any may be NULL: then the
 * workspace copies are used and can be read with dln_bias_svd_u / _vt). No allocation. */
int dln_bias_svd(dln_bias *b, const double *W, double *U, double *s, double *Vt);
const double *dln_bias_svd_u(const dln_bias *b);  /* rows x k, from the last dln_bias_svd */
const double *dln_bias_svd_s(const dln_bias *b);  /* k */
const double *dln_bias_svd_vt(const dln_bias *b); /* k x cols */

/* Sign of det W (square W) by LU with partial pivoting; log|det W| into *log_abs_det
 * (may be NULL). An exactly zero pivot gives sign 0. No allocation. */
int dln_bias_det_sign(dln_bias *b, const double *W, int *sign, double *log_abs_det);

/* All measures of W at once; wref (rows x cols) may be NULL (distances NAN). */
int dln_bias_eval(dln_bias *b, const double *W, const double *wref, dln_bias_result *res);
/* Schatten-p of the singular values computed by the last dln_bias_eval / _svd /
 * _singular_values call. */
double dln_bias_schatten(const dln_bias *b, double p);

/* ---- 003 §3 orthogonality measure for depth-2 regression nets ---- */
typedef struct dln_orth dln_orth;
/* net: depth 2, not tied; X: d_0 x n data (samples as columns). Φ_1 is the left
 * singular basis of X for singular values > max(d_0, n)·ε·σ_1(X); r = its size. */
int dln_orth_alloc(dln_orth **out, const dln_net *net, const dln_mat *X);
void dln_orth_free(dln_orth *o);
int dln_orth_rank(const dln_orth *o); /* r = rank X */
/* vu2 = ‖V U_2^T‖_F = ‖W Φ_2‖_F, u1u2 = ‖U_1 U_2^T‖_F (either may be NULL); returns
 * their sum in *total (may be NULL). No allocation. */
int dln_orth_eval(dln_orth *o, const double *theta, double *vu2, double *u1u2, double *total);

#ifdef __cplusplus
}
#endif
#endif
