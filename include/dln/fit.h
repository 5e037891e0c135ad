/* dln/fit.h — fitting λ0 of the imbalance regularizer (001 §6, Fig. 2).
 *
 * 001 Fig. 2 compares the unregularized flow X(t) (general init, Q_0 = U_0^T U_0 − V_0^T V_0)
 * with the regularized flow X^I(t) of eq. 26 (Λ = λ0 I) from the SAME initial weights, and
 * picks the λ0 minimizing the distance of the end-to-end matrices. Here
 *   f(λ0) = ∫_0^{t_end} ‖X^I_{λ0}(t) − X(t)‖_F dt  (trapezoid over the sample times),
 * minimized by GSL's Brent minimizer (gsl_min_fminimizer_brent) on a bracket found by a
 * grid: f is evaluated at `grid` equally spaced λ0 in [lo, hi] (spacing h); the best grid
 * point g_i with its neighbours (g_{i−1}, g_i, g_{i+1}) is the bracket. When the best is an
 * end of the range, f is followed outward in steps of h until it rises (at most
 * 4(grid − 1) steps, else DLN_EINVAL: give a range around the minimum), and the last three
 * points are the bracket. Brent stops when the bracket is shorter than tol (absolute, in
 * λ0) or after max_iter iterations. f may have several local minima (001's λ0 of either
 * sign); the one found is the one in the best grid point's bracket. */
#ifndef DLN_FIT_H
#define DLN_FIT_H

#include "dln/loss.h"
#include "dln/net.h"
#include "dln/spec.h"
#include "dln/train.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dln_fit_lambda0_options {
  double lo, hi;  /* λ0 range of the grid, lo < hi; lo = hi = 0: the extreme eigenvalues of
                     the C_j(0) (the λ0 of a Λ = Q_0 run lie there) */
  int grid;       /* grid points, ≥ 3 (default 9) */
  double tol;     /* Brent: absolute tolerance on λ0 (0: 1e-4 (hi − lo)) */
  int max_iter;   /* Brent iterations (default 100) */
} dln_fit_lambda0_options;

void dln_fit_lambda0_default_options(dln_fit_lambda0_options *o);

typedef struct dln_fit_lambda0_result {
  double lambda0, objective; /* the minimizer and f there */
  double lo, hi;             /* the grid range used */
  double a, b;               /* Brent's final bracket */
  int iterations;
  int n;                     /* evaluations of f, in order (grid first) */
  double *lam, *obj;         /* owned; dln_fit_lambda0_result_free */
  int nsamples;              /* sample times of each run */
} dln_fit_lambda0_result;

void dln_fit_lambda0_result_free(dln_fit_lambda0_result *r);

/* The fit on a network and loss from θ0 with training options to (a layer-wise method;
 * the loss threshold and grad_tol are switched off so every run reaches t_end). The net's
 * own regularizer setting is restored on return. A run that stops before t_end
 * (divergence, integrator failure) is an error naming λ0. Allocates. */
int dln_fit_lambda0(dln_net *net, dln_loss *loss, const double *theta0, const dln_train_options *to,
                    const dln_fit_lambda0_options *fo, dln_fit_lambda0_result *res);

/* The fit on the run a spec describes (data, init, training as `dln run`; the spec's own
 * imbalance_reg must be off), result written to out_dir/fit_lambda0.json (atomically;
 * out_dir created) unless out_dir is NULL. *phase: DLN_RUN_FAIL_* of a failure. */
int dln_fit_lambda0_spec(const dln_spec *spec, const dln_fit_lambda0_options *fo, const char *out_dir,
                         dln_fit_lambda0_result *res, int *phase);

#ifdef __cplusplus
}
#endif
#endif
