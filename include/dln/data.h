/* dln/data.h — synthetic data for the tasks of the papers, reproducible from a stream.
 * All matrices are column-major dln_mat; samples are columns. */
#ifndef DLN_DATA_H
#define DLN_DATA_H

#include "dln/mat.h"
#include "dln/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

/* rows x cols matrix with i.i.d. N(0, sigma^2) entries (001 Fig. 1: Ȳ ~ N(0, 1)). */
int dln_data_gaussian(dln_rng *rng, int rows, int cols, double sigma, dln_mat **out);

/* rows x cols target of rank r = nsv with the given singular values (descending not
 * required) and Haar-random singular vectors: Ȳ = U diag(s) V^T. */
int dln_data_lowrank(dln_rng *rng, int rows, int cols, int nsv, const double *s, dln_mat **out);

/* Symmetric m x m matrix with the given eigenvalues (any signs) and Haar-random
 * eigenvectors: Y = Φ diag(lambda) Φ^T. */
int dln_data_symmetric(dln_rng *rng, int m, const double *lambda, dln_mat **out);

/* Regression data: X (d0 x n) Gaussian N(0,1), optionally of rank x_rank < min(d0, n)
 * (x_rank <= 0: full rank); Y = W_true X + noise * N(0,1), W_true given (dout x d0)
 * or NULL for Y ~ N(0,1) entries. */
int dln_data_regression(dln_rng *rng, int d0, int dout, int n, int x_rank, const dln_mat *W_true, double noise,
                        dln_mat **X, dln_mat **Y);

/* m Gaussian measurement matrices A_i (rows x cols, entries N(0,1)), stored as one
 * (rows*cols) x m matrix whose column i is vec(A_i), and b_i = ⟨W_true, A_i⟩. */
int dln_data_sensing(dln_rng *rng, const dln_mat *W_true, int m, dln_mat **A, dln_mat **b);

/* m distinct observed entries of a rows x cols matrix chosen uniformly without
 * replacement (m ≤ rows*cols), returned as an m x 3 matrix of (row, col, value)
 * with 0-based indices and value = W_true(row, col). */
int dln_data_completion(dln_rng *rng, const dln_mat *W_true, int m, dln_mat **entries);

#ifdef __cplusplus
}
#endif
#endif
