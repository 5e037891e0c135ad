/* Optimized kernels for SUNDIALS serial N_Vectors (private to src/dynamics).
 *
 * Debian 12's libsundials is built without optimization, so its serial vector
 * operations (linear sums, weighted RMS norms, fused linear combinations) cost more
 * than the whole gradient on small networks: for the 5x10, width-50 flow they took
 * ~13 of the ~15 µs per right-hand side. dln_nvec_fast() replaces the operation
 * table of a serial vector with compiled-here equivalents; clones inherit it. Each
 * operation computes the same mathematical quantity as SUNDIALS' reference
 * implementation (nvector_serial.c), in a fixed order, so results stay deterministic. */
#ifndef DLN_NVEC_FAST_H
#define DLN_NVEC_FAST_H

#include <sundials/sundials_nvector.h>

/* Install the fast operations on a serial vector (no-op for NULL). */
void dln_nvec_fast(N_Vector v);



#include <stddef.h>

/* 1 if any entry of g is NaN or ±Inf (checked on the exponent bits, so the loop
 * vectorizes), else 0. */
int dln_vec_nonfinite(size_t n, const double *g);

/* max_i |x_i|, or NAN if some x_i is NaN. */
double dln_vec_maxabs(size_t n, const double *x);

/* z = y + a x elementwise, each product and sum rounded once (no FMA), so a = −η gives
 * exactly y − η x. z must not overlap x or y, except z == y. */
void dln_vec_axpy(size_t n, double a, const double *x, const double *y, double *z);

/* dln_vec_axpy, returning 1 when some |z_i| > bound or z_i is NaN, i.e. exactly when
 * !(dln_vec_maxabs(n, z) <= bound), for a bound > 0 (one pass: gradient descent's update
 * and the next step's blow-up test; the maximum itself is computed only for a message).
 * z must not overlap x or y. */
int dln_vec_axpy_over(size_t n, double a, const double *restrict x, const double *restrict y, double *restrict z, double bound);

/* out = y + Σ_{k<m} c_k X_k (y may be NULL: 0); out must not overlap y or X_k. */
void dln_vec_lincomb(size_t n, const double *y, int m, const double *c, const double *const *X, double *out);
/* The same, returning 1 if an entry of out is NaN or ±Inf (checked in the same pass). */
int dln_vec_lincomb_chk(size_t n, const double *y, int m, const double *c, const double *const *X, double *out);
/* out[r] = Σ_{k<m} c[r][k] X_k for r = 0..3 in one pass (each X_k read once): the columns
 * where all four c[r][k] are 0 are dropped, every row is summed left to right over the
 * rest (a row's own zeros add 0·X_k, which changes at most the sign of a zero), so each
 * row has the bits of dln_vec_lincomb when the rows share their zeros. m ≤ 16 and some
 * c ≠ 0; else −1 and nothing written. out[r] must not overlap the X_k or each other. */
int dln_vec_lincomb4(size_t n, int m, const double (*c)[16], const double *const *X, double *const out[4]);

/* One Runge–Kutta–Chebyshev stage: out = c0 Y0 + mu Y1 + nu Y2 + (a F + b F0); returns 1
 * if an entry of out is NaN or ±Inf (tested in the same pass), else 0. */
int dln_vec_rkc_stage(size_t n, double c0, const double *Y0, double mu, const double *Y1, double nu,
                      const double *Y2, double a, const double *F, double b, const double *F0, double *out);

/* sqrt(mean((e_i / (atol + rtol max(|y0_i|, |y1_i|)))²)) */
double dln_vec_wrms_max(size_t n, const double *e, const double *y0, const double *y1, double rtol, double atol);

/* *m5, *m3: mean((e5_i / w_i)²), mean((e3_i / w_i)²), w_i = atol + rtol max(|y0_i|, |y1_i|) */
void dln_vec_wms2_max(size_t n, const double *e5, const double *e3, const double *y0, const double *y1, double rtol,
                      double atol, double *m5, double *m3);

/* The mean squares of an RK step's error estimates, weighted as dln_vec_wms2_max, without
 * storing them: *ms = mean((e_i w_i)²) with e = Σ_{k<m} c_k X_k, and when c3 is not NULL
 * *ms3 = mean((e3_i w_i)²) with e3 = Σ c3_k X_k, w_i = 1/(atol + rtol max(|y0_i|, |y1_i|)).
 * One pass over the X_k with a non-zero c_k or c3_k (at most 8 of them), y0 and y1; each
 * e_i is summed left to right, the squares in four partial sums by i mod 4 combined as
 * (s0 + s1) + (s2 + s3). Returns −1 (nothing written) for more than 8 terms, none, or
 * n = 0: use dln_vec_lincomb and dln_vec_wms2_max then. */
int dln_vec_err_ms(size_t n, int m, const double *c, const double *c3, const double *const *X, const double *y0,
                   const double *y1, double rtol, double atol, double *ms, double *ms3);

/* *ab2 = ‖a − b‖², *cd2 = ‖c − d‖², each in four partial sums by i mod 4 combined as
 * (s0 + s1) + (s2 + s3); ab (may be NULL) receives a − b in the same pass. */
void dln_vec_diff_norms(size_t n, const double *a, const double *b, const double *c, const double *d, double *ab,
                        double *ab2, double *cd2);

/* ‖x‖₂ by the plain sum of squares (no scaling: for vectors far from over/underflow) */
double dln_vec_norm2(size_t n, const double *x);

/* z = a x */
void dln_vec_scale(size_t n, double a, const double *x, double *z);
#endif
