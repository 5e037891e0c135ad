/* Landscape, third part (dln/landscape.h (f); docs/landscape.md): where a factorization
 * run ended — global minimum, a saddle stratum of 004 Lemma 3.2, or not converged — and
 * the Wilson interval of the Monte Carlo tally over starts (004 §2.3, §4). */
#include "dln/landscape.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "dln/error.h"

const char *dln_end_class_name(int cls) {
  static const char *const names[] = {"global_min", "saddle", "not_converged"};
  return cls >= 0 && cls < DLN_END_NCLASS ? names[cls] : "unknown";
}

void dln_endpoint_default_options(dln_endpoint_options *opt) {
  if (!opt) return;
  memset(opt, 0, sizeof *opt);
  opt->acc = 1e-8;
  opt->lanczos_iter = 60;
}

/* λ_min of ∇²φ(θ) by Lanczos (landscape.c), converged at that end only. */
static int end_lambda(dln_net *net, dln_loss *loss, const double *theta, int iters, dln_endpoint *out) {
  dln_lanczos *lz = NULL;
  if ((size_t)iters > net->nparams) iters = (int)net->nparams;
  int st = dln_lanczos_alloc(&lz, net, iters);
  if (st) return st;
  dln_lanczos_options lo;
  dln_lanczos_default_options(&lo);
  lo.tol = 1e-8;
  lo.min_only = 1;
  dln_lanczos_result res;
  st = dln_lanczos_run(lz, loss, theta, &lo, &res);
  if (!st) {
    out->lambda_min = res.lambda_min;
    out->lambda_resid = res.resid_min;
    out->lambda_converged = res.converged || res.invariant;
  }
  dln_lanczos_free(lz);
  return st;
}

static void end_message(dln_endpoint *out) {
  const dln_stratum *s = &out->s;
  if (out->cls == DLN_END_NOT_CONVERGED) {
    snprintf(out->message, sizeof out->message, "not converged: |grad phi| = %.3g (tol %.3g), stratum residual %.3g (tol %.3g)",
             out->grad_norm, out->grad_tol, s->residual, out->comp_tol);
    return;
  }
  snprintf(out->message, sizeof out->message, "%s, lambda_min = %.4g; %s", dln_end_class_name(out->cls), out->lambda_min,
           s->message);
}

int dln_endpoint_classify(dln_net *net, dln_loss *loss, const double *theta, const dln_endpoint_options *opt_in,
                          dln_endpoint *out) {
  if (!net || !loss || !theta || !out) return dln_error(DLN_EINVAL, "dln_endpoint_classify: NULL argument");
  dln_endpoint_options opt;
  dln_endpoint_default_options(&opt);
  if (opt_in) {
    if (!(opt_in->acc < 1)) return dln_error(DLN_EINVAL, "dln_endpoint_classify: acc: expected < 1, found %g", opt_in->acc);
    if (opt_in->acc > 0) opt.acc = opt_in->acc;
    if (opt_in->lanczos_iter > 0) opt.lanczos_iter = opt_in->lanczos_iter;
  }
  memset(out, 0, sizeof *out);
  out->lambda_min = out->lambda_resid = NAN;
  if (!dln_loss_has(loss, DLN_LOSS_IDENTITY) || !loss->wstar)
    return dln_error(DLN_ENOTAPPLICABLE, "end-point classification needs a factorization loss, got %s", dln_loss_name(loss));
  if (net->tied) /* U U^T: PSD products, not the strata of 004 Lemma 3.2 */
    return dln_error(DLN_ENOTAPPLICABLE, "end-point classification needs an untied network (004 Lemma 3.2), got tied");
  /* never decide at round-off: a component is judged at √acc (≥ 1e-6) of s_1 */
  out->comp_tol = fmin(1e-2, fmax(1e-6, sqrt(opt.acc)));
  double yn = fmax(1.0, loss->target_norm);
  out->grad_tol = out->comp_tol * yn * yn;
  double *g = malloc(net->nparams * sizeof(double));
  if (!g) return dln_error(DLN_ENOMEM, "dln_endpoint_classify: out of memory");
  int st = dln_net_grad(net, loss, theta, &out->phi, g, NULL);
  if (!st) out->grad_norm = dln_norm2(net->nparams, g);
  free(g);
  if (st) return st;
  if (!isfinite(out->phi) || !isfinite(out->grad_norm)) { /* diverged */
    out->cls = DLN_END_NOT_CONVERGED;
    snprintf(out->message, sizeof out->message, "not converged: phi = %g, |grad phi| = %g", out->phi, out->grad_norm);
    return DLN_OK;
  }
  dln_stratum_options so;
  dln_stratum_default_options(&so);
  so.tol = out->comp_tol;
  if ((st = dln_stratum_classify_net(net, loss, theta, &so, &out->s))) return st;
  int critical = out->s.critical && out->grad_norm <= out->grad_tol;
  out->cls = !critical ? DLN_END_NOT_CONVERGED : out->s.global_min ? DLN_END_GLOBAL_MIN : DLN_END_SADDLE;
  if (critical && (st = end_lambda(net, loss, theta, opt.lanczos_iter, out))) return st;
  end_message(out);
  return DLN_OK;
}

/* Wilson score interval (E. B. Wilson 1927): centre (p̂ + z²/2n)/(1 + z²/n), half-width
 * z √(p̂(1 − p̂)/n + z²/4n²)/(1 + z²/n). */
int dln_wilson_interval(long k, long n, double z, double *lo, double *hi) {
  if (!lo || !hi) return dln_error(DLN_EINVAL, "dln_wilson_interval: NULL argument");
  if (n < 0 || k < 0 || k > n)
    return dln_error(DLN_EINVAL, "dln_wilson_interval: counts: expected 0 <= k <= n, found k = %ld, n = %ld", k, n);
  if (!(z > 0) || !isfinite(z)) return dln_error(DLN_EINVAL, "dln_wilson_interval: z: expected > 0, found %g", z);
  if (n == 0) {
    *lo = 0, *hi = 1;
    return DLN_OK;
  }
  double nn = (double)n, p = (double)k / nn, z2 = z * z, den = 1 + z2 / nn;
  double c = (p + z2 / (2 * nn)) / den, h = z * sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn)) / den;
  *lo = k == 0 ? 0.0 : fmax(0.0, c - h);
  *hi = k == n ? 1.0 : fmin(1.0, c + h);
  return DLN_OK;
}
