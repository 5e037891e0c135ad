/* Implicit compression by overparameterization (dln/compress.h): the best rank-ρ
 * approximation of the end-to-end matrix and its parameter count.
 *   002 §4.4: overparameterization drives W = W_N···W_1 to low rank, so it compresses;
 *   002 footnote 11: a rank-ρ d' x d matrix needs ρ(d + d' − ρ) parameters;
 *   Eckart–Young–Mirsky: W_ρ = U_ρ Σ_ρ V_ρ^T minimizes ‖W − X‖_F over rank ≤ ρ, with
 *   ‖W − W_ρ‖_F² = Σ_{i>ρ} σ_i². */
#include "dln/compress.h"

#include <lapacke.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "dln/error.h"
#include "dln/mat.h"

/* Σ_{i≥from} s_i², summed from the smallest up (the tail first: no absorption). */
static double tail_sq(int k, const double *s, int from) {
  double acc = 0;
  for (int i = k - 1; i >= from; --i) acc += s[i] * s[i];
  return acc;
}

static int check_sv(int k, const double *s) {
  for (int i = 0; i < k; ++i) {
    if (!isfinite(s[i]) || s[i] < 0)
      return dln_error(DLN_EINVAL, "dln_compress_rank: s[%d]: expected a finite number >= 0, found %g", i, s[i]);
    if (i && s[i] > s[i - 1])
      return dln_error(DLN_EINVAL, "dln_compress_rank: s: expected descending values, found s[%d] = %g > s[%d] = %g", i, s[i],
                       i - 1, s[i - 1]);
  }
  return DLN_OK;
}

int dln_compress_rank(int k, const double *s, double tol, int *rank) {
  DLN_ARGS(rank);
  if (k > 0) DLN_ARGS(s);
  DLN_INDEX(k, 0, INT_MAX);
  if (!(tol >= 0) || isinf(tol)) return dln_error(DLN_EINVAL, "dln_compress_rank: tol: expected a finite number >= 0, found %g", tol);
  int st = check_sv(k, s);
  if (st) return st;
  /* scaled by σ_1 so that neither squares overflow nor underflow */
  double s1 = k ? s[0] : 0;
  if (s1 == 0) {
    *rank = 0;
    return DLN_OK;
  }
  double total = 0, tail = 0;
  for (int i = k - 1; i >= 0; --i) total += (s[i] / s1) * (s[i] / s1);
  int r = k; /* drop σ_r (0-based index r − 1) while the tail stays within tol² total */
  while (r > 0) {
    double next = tail + (s[r - 1] / s1) * (s[r - 1] / s1);
    if (!(next <= tol * tol * total)) break;
    tail = next;
    --r;
  }
  *rank = r;
  return DLN_OK;
}

int dln_compress_params(int rows, int cols, int rank, long long *params) {
  DLN_ARGS(params);
  DLN_INDEX(rows, 1, INT_MAX);
  DLN_INDEX(cols, 1, INT_MAX);
  DLN_INDEX(rank, 0, rows < cols ? rows : cols);
  *params = (long long)rank * ((long long)rows + (long long)cols - (long long)rank);
  return DLN_OK;
}

/* W_ρ = U_ρ diag(s_1..s_ρ) Vt_ρ into out (rows x cols). */
static void rank_product(int rows, int cols, int k, int rho, const double *U, const double *s, const double *Vt, double *out) {
  memset(out, 0, (size_t)rows * (size_t)cols * sizeof *out);
  for (int q = 0; q < rho; ++q) /* rank-one terms σ_q u_q v_q^T */
    for (int j = 0; j < cols; ++j) {
      double a = s[q] * Vt[q + (size_t)j * k];
      for (int i = 0; i < rows; ++i) out[i + (size_t)j * rows] += a * U[i + (size_t)q * rows];
    }
}

static void fill_result(dln_compress_result *res, int rows, int cols, int k, int rho, double tol, const double *s) {
  res->rows = rows, res->cols = cols, res->k = k, res->rank = rho, res->tol = tol;
  double tot = tail_sq(k, s, 0), tl = tail_sq(k, s, rho);
  res->fro = sqrt(tot);
  res->tail = sqrt(tl);
  res->tail_rel = tot > 0 ? sqrt(tl / tot) : 0;
  res->sigma_first = k ? s[0] : 0;
  res->sigma_kept = rho ? s[rho - 1] : NAN;
  res->sigma_dropped = rho < k ? s[rho] : NAN;
  res->params_full = (long long)rows * cols;
  res->params_rank = (long long)rho * ((long long)rows + cols - rho);
}

int dln_compress_truncate(int rows, int cols, const double *W, int rank, double tol, double *Wout, double *s,
                          dln_compress_result *res) {
  DLN_ARGS(W, res);
  DLN_INDEX(rows, 1, INT_MAX);
  DLN_INDEX(cols, 1, INT_MAX);
  memset(res, 0, sizeof *res);
  int k = rows < cols ? rows : cols;
  if (rank > k) return dln_error(DLN_EINVAL, "dln_compress_truncate: rank: expected 0..%d (min(rows, cols)), found %d", k, rank);
  if (rank < 0 && (!(tol >= 0) || isinf(tol)))
    return dln_error(DLN_EINVAL, "dln_compress_truncate: tol: expected a finite number >= 0, found %g", tol);
  size_t n;
  if (dln_size_mul((size_t)rows, (size_t)cols, &n) != DLN_OK) return DLN_ENOMEM;
  for (size_t i = 0; i < n; ++i)
    if (!isfinite(W[i])) return dln_error(DLN_ENONFINITE, "dln_compress_truncate: W[%zu] = %g: expected finite entries", i, W[i]);
  double *A = malloc(n * sizeof *A), *sv = malloc((size_t)k * sizeof *sv), *U = malloc((size_t)rows * k * sizeof *U),
         *Vt = malloc((size_t)k * cols * sizeof *Vt);
  int st = DLN_OK;
  if (!A || !sv || !U || !Vt) {
    st = dln_error(DLN_ENOMEM, "dln_compress_truncate: out of memory for the SVD of a %dx%d matrix", rows, cols);
    goto done;
  }
  memcpy(A, W, n * sizeof *A);
  lapack_int info = LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'S', rows, cols, A, rows, sv, U, rows, Vt, k);
  if (info != 0) {
    st = dln_error(DLN_ELAPACK, "dgesdd (SVD of the %dx%d end-to-end matrix) returned info=%d", rows, cols, (int)info);
    goto done;
  }
  int rho = rank;
  if (rank < 0 && (st = dln_compress_rank(k, sv, tol, &rho))) goto done;
  fill_result(res, rows, cols, k, rho, rank < 0 ? tol : NAN, sv);
  if (Wout && rho == k) memmove(Wout, W, n * sizeof *Wout); /* nothing dropped: W itself, bit for bit */
  else if (Wout) rank_product(rows, cols, k, rho, U, sv, Vt, Wout);
  if (s) memcpy(s, sv, (size_t)k * sizeof *s);
done:
  free(A), free(sv), free(U), free(Vt);
  return st;
}
