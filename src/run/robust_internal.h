/* Private helpers of the robustness bisection (robust.c) and its curve (robust_curve.c). */
#ifndef DLN_ROBUST_INTERNAL_H
#define DLN_ROBUST_INTERNAL_H

#include "dln/robust.h"
#include "run/run_internal.h"

int dln_robust_check_options(const dln_robust_options *o);
int dln_robust_check_spec(const dln_spec *s);       /* checked spec with a disturbance */
int dln_robust_check_parts(const dln_run_parts *p); /* layer-wise, a relative error exists */
/* Depth 2, factorization, n = m = 1 (000 §III): 1 and Ȳ in *Y, else 0. */
int dln_robust_scalar_case(const dln_run_parts *p, double *Y);
/* One run of spec s at scale from theta0 (NULL: the spec's init), classified. */
int dln_robust_eval_one(const dln_spec *s, const double *theta0, double scale, const dln_robust_options *o, dln_robust_eval *e);

#endif
