/* The worst-case disturbance of 000 §III (docs/disturbed.md): depth 2, n = m = 1,
 * P = W_2 (1 x k), Q = W_1ᵀ (k x 1 stored, the same k numbers). The closest point of
 * S^− = {P = −Q} to (P, Q) is ((P − Q)/2, (Q − P)/2), so the push toward it is along
 * −(P + Q) on both blocks. Along the disturbed flow (000 eq. 9 with eq. 12)
 *   d/dt ‖P + Q‖² = 2(Ȳ − PQᵀ)‖P + Q‖² + 2⟨P + Q, U + Vᵀ⟩,
 * and ⟨P + Q, U + Vᵀ⟩ ≥ −‖P + Q‖(‖U‖ + ‖V‖) (Cauchy–Schwarz), with equality when U and Vᵀ
 * both point along −(P + Q): the disturbance of magnitude ‖U‖ + ‖V‖ = s that shrinks
 * ‖P + Q‖² (eq. 15) fastest, the one Thm 2 (eq. 17) must survive. dln splits s evenly:
 *   U = Vᵀ = −(s/2) û,  u = P + Q, û = u/‖u‖,
 * which also minimizes ‖[U; V]‖² (the ½‖D‖² of eq. 11, 18) among those splits.
 *
 * On S^− the field is discontinuous (D flips with û), and a trajectory that reaches it
 * (above Thm 2's bound, in finite time) slides on it: its Filippov solution keeps u = 0
 * with the D of the convex hull that cancels u's rate, D = −(r_P + r_Q)/2 on both blocks
 * (r = −∇φ, the undisturbed field; Filippov 1988, Differential Equations with
 * Discontinuous Righthand Sides, §2.4; Utkin's equivalent control). On S^− itself
 * r_P + r_Q = (Ȳ − PQᵀ)(Pᵀ + Q) = 0, so the sliding D is 0 and the motion there is the
 * undisturbed flow on S^− (its stable manifold: the run slides to the saddle). dln uses
 * that D in the band ‖u‖ ≤ δ = 10 (rtol·max(1, ‖P‖ + ‖Q‖) + atol), where it is O(δ) and
 * keeps u constant: an adaptive method enters the band once (a few rejected steps) instead
 * of chattering across u = 0 at its smallest accepted overshoot (10^7 steps for t < 1
 * before). Narrower bands are crossed by overshoots the error tests accept: 1e-10 by dln's
 * RK loop and CVODE at rtol 1e-8, 1 (rtol·… + atol) by CVODE at 1e-10 and RK at 1e-12;
 * 10 (…) was entered by every method at rtol 1e-4 … 1e-12 (docs/disturbed.md). The run
 * follows the sliding solution to ≈ δ/2 in θ. */
#include <math.h>
#include <string.h>

#include "core/util.h"
#include "dln/error.h"
#include "dynamics/dynamics_internal.h"

int dln_worst_case_applies(const dln_net *net, const dln_loss *loss) {
  return net && loss && net->depth == 2 && !net->tied && net->widths[0] == 1 && net->widths[2] == 1 &&
         dln_loss_has(loss, DLN_LOSS_IDENTITY);
}

/* ‖u‖ for u = P + Q of θ, and whether it lies in the sliding band ‖u‖ ≤ δ (above). */
static double unorm(const dln_net *net, const dln_train_options *o, const double *th, int *in_band) {
  const double *Q = th + net->offset[1], *P = th + net->offset[2];
  double s = 0, p = 0, q = 0;
  for (int i = 0; i < net->widths[1]; ++i) s += (P[i] + Q[i]) * (P[i] + Q[i]), p += P[i] * P[i], q += Q[i] * Q[i];
  s = sqrt(s);
  *in_band = s <= DLN_WORST_BAND * (o->rtol * fmax(1.0, sqrt(p) + sqrt(q)) + o->atol);
  return s;
}

void dln_worst_case_axpy(const dln_net *net, const dln_train_options *o, const double *th, const double *r, double rs, double a,
                         double *out) {
  int band;
  double nu = unorm(net, o, th, &band), s = o->disturbance_scale;
  if (s == 0 || a == 0) return;
  const int k = net->widths[1];
  const double *Q = th + net->offset[1], *P = th + net->offset[2];
  double *oQ = out + net->offset[1], *oP = out + net->offset[2];
  if (band) { /* sliding: D = −(r_P + r_Q)/2 on both blocks (0 without r: O(δ) there) */
    if (!r) return;
    const double *rQ = r + net->offset[1], *rP = r + net->offset[2];
    double f = -0.5 * a * rs;
    for (int i = 0; i < k; ++i) { /* r may be out: each D_i read before its entries change */
      double d = f * (rP[i] + rQ[i]);
      oQ[i] += d, oP[i] += d;
    }
    return;
  }
  double f = -a * 0.5 * s / nu;
  for (int i = 0; i < k; ++i) {
    double d = f * (P[i] + Q[i]);
    oQ[i] += d, oP[i] += d;
  }
}

/* −J_D v = (s/2)/‖u‖ (I − ûûᵀ)(v_P + v_Q) on both blocks, J_D the Jacobian of D(θ) above
 * (∂û/∂u = (I − ûûᵀ)/‖u‖). Symmetric positive semidefinite, so ∇²φ − J_D stays symmetric. */
void dln_worst_case_neg_jvp_add(const dln_net *net, const dln_train_options *o, const double *th, const double *v, double *out) {
  int band;
  double nu = unorm(net, o, th, &band), s = o->disturbance_scale;
  if (s == 0) return;
  const int k = net->widths[1];
  double *oQ = out + net->offset[1], *oP = out + net->offset[2];
  if (band) { /* sliding: J_D = −(J_rP + J_rQ)/2 = (∇²φ_P + ∇²φ_Q)/2 on both blocks; out holds ∇²φ v */
    for (int i = 0; i < k; ++i) {
      double d = -0.5 * (oP[i] + oQ[i]);
      oQ[i] += d, oP[i] += d;
    }
    return;
  }
  const double *Q = th + net->offset[1], *P = th + net->offset[2], *vQ = v + net->offset[1], *vP = v + net->offset[2];
  double uw = 0;
  for (int i = 0; i < k; ++i) uw += (P[i] + Q[i]) * (vP[i] + vQ[i]);
  double f = 0.5 * s / nu, g = uw / (nu * nu);
  for (int i = 0; i < k; ++i) {
    double d = f * ((vP[i] + vQ[i]) - g * (P[i] + Q[i]));
    oQ[i] += d, oP[i] += d;
  }
}

int dln_train_disturbance_eval(const dln_train_options *o, const dln_net *net, double t, const double *theta, double *D) {
  DLN_ARGS(o, net, theta, D);
  int k = dln_train_disturbance_kind(o);
  if (k < 0) return DLN_EINVAL;
  if (!isfinite(t)) return dln_error(DLN_EINVAL, "dln_train_disturbance_eval: t: expected a finite time, found %g", t);
  memset(D, 0, net->nparams * sizeof *D);
  if (k == DLN_DISTURB_WORST) {
    if (net->depth != 2 || net->tied || net->widths[0] != 1 || net->widths[2] != 1)
      return dln_error(DLN_EINVAL, "disturbance: worst_case needs an untied depth-2 network with n = m = 1 (000 sec. III), "
                       "found depth %d, widths %d..%d%s", net->depth, net->widths[0], net->widths[net->depth], net->tied ? ", tied" : "");
    dln_worst_case_axpy(net, o, theta, NULL, 0.0, 1.0, D); /* 0 in the sliding band */
    return DLN_OK;
  }
  double a = dln_train_disturbance_factor(o, t);
  if (a != 0 && o->disturbance_D)
    for (size_t i = 0; i < net->nparams; ++i) D[i] = a * o->disturbance_D[i];
  return DLN_OK;
}
