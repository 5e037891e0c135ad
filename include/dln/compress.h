/* dln/compress.h — implicit compression by overparameterization (002 §4.4, footnote 11).
 *
 * A trained network collapses to its end-to-end matrix W = W_N···W_1 (d_N x d_0); when W
 * is close to rank ρ it is stored as W_ρ = U_ρ Σ_ρ V_ρ^T, its best rank-ρ approximation
 * (Eckart–Young–Mirsky), with ρ(d_0 + d_N − ρ) parameters instead of d_N·d_0 (002
 * footnote 11) or Σ_j d_j d_{j−1} for the network.
 *
 * The compressible rank at tolerance τ (used by `dln compress --tol`, by default with
 * τ = DLN_COMPRESS_TOL, and by the trajectory column compress_rank):
 *   ρ_τ(W) = min { ρ : ‖W − W_ρ‖_F ≤ τ ‖W‖_F } = min { ρ : Σ_{i>ρ} σ_i² ≤ τ² Σ_i σ_i² },
 * so truncating to ρ_τ changes W by at most τ relative in Frobenius norm; ρ_0(W) = 0 for
 * W = 0 and the numerical rank otherwise. (The Roy–Vetterli effective rank, a real number,
 * is dln_effective_rank of dln/bias.h.) */
#ifndef DLN_COMPRESS_H
#define DLN_COMPRESS_H

#ifdef __cplusplus
extern "C" {
#endif

/* Default τ of the compressible rank (the column compress_rank, `dln compress` without
 * --rank or --tol). */
#define DLN_COMPRESS_TOL 1e-3

/* ρ_τ of the singular values s[0..k), descending and ≥ 0; tol ≥ 0. DLN_EINVAL for NULL,
 * k < 0, tol < 0 or NaN, a negative or non-finite s_i, or s not descending. */
int dln_compress_rank(int k, const double *s, double tol, int *rank);

/* Parameters of a rank-ρ rows x cols matrix stored as factors: ρ(rows + cols − ρ)
 * (002 footnote 11); 0 ≤ ρ ≤ min(rows, cols). */
int dln_compress_params(int rows, int cols, int rank, long long *params);

typedef struct dln_compress_result {
  int rows, cols, k;      /* W is rows x cols, k = min(rows, cols) */
  int rank;               /* ρ */
  double tol;             /* τ that chose ρ (NAN when ρ was given) */
  double fro;             /* ‖W‖_F */
  double tail;            /* ‖W − W_ρ‖_F = √(Σ_{i>ρ} σ_i²) */
  double tail_rel;        /* tail / ‖W‖_F (0 for W = 0) */
  double sigma_first;     /* σ_1 (0 if k = 0) */
  double sigma_kept;      /* σ_ρ, the smallest kept (NAN if ρ = 0) */
  double sigma_dropped;   /* σ_{ρ+1}, the largest dropped (NAN if ρ = k) */
  long long params_full;  /* rows · cols */
  long long params_rank;  /* ρ(rows + cols − ρ) */
} dln_compress_result;

/* Truncate W (rows x cols, column-major) by its SVD (LAPACKE dgesdd): to ρ = rank when
 * rank ≥ 0 (≤ min(rows, cols)), else to ρ_tol (tol ≥ 0). Wout (rows x cols, may be NULL
 * or equal to W) receives W_ρ; s (min(rows, cols) entries, may be NULL) the singular
 * values of W, descending. Allocates its workspace. DLN_EINVAL for bad arguments,
 * DLN_ENONFINITE for a non-finite W, DLN_ELAPACK when the SVD fails. */
int dln_compress_truncate(int rows, int cols, const double *W, int rank, double tol, double *Wout, double *s,
                          dln_compress_result *res);

#ifdef __cplusplus
}
#endif
#endif
