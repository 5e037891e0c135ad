/* The worst-case disturbance of 000 §III (docs/disturbed.md): depth 2, n = m = 1,
 * P = W_2 (1 x k), Q = W_1ᵀ (k x 1 stored, the same k numbers). The closest point of
 * S^− = {P = −Q} to (P, Q) is ((P − Q)/2, (Q − P)/2), so the push toward it is along
 * −(P + Q) on both blocks. Along the disturbed flow (000 eq. 9 with eq. 12)
 *   d/dt ‖P + Q‖² = 2(Ȳ − PQᵀ)‖P + Q‖² + 2⟨P + Q, U + Vᵀ⟩,
 * and ⟨P + Q, U + Vᵀ⟩ ≥ −‖P + Q‖(‖U‖ + ‖V‖) (Cauchy–Schwarz), with equality when U and Vᵀ
 * both point along −(P + Q): the disturbance of magnitude ‖U‖ + ‖V‖ = s that shrinks
 * ‖P + Q‖² (eq. 15) fastest, the one Thm 2 (eq. 17) must survive. dln splits s evenly:
 *   U = Vᵀ = −(s/2) û,  u = P + Q, û = u/‖u‖,
 * which also minimizes ‖[U; V]‖² (the ½‖D‖² of eq. 11, 18) among those splits. On S^−
 * itself (u = 0) the direction is undefined and D = 0 (S^− is already the closest point). */
#include <math.h>
#include <string.h>

#include "core/util.h"
#include "dln/error.h"
#include "dynamics/dynamics_internal.h"

int dln_worst_case_applies(const dln_net *net, const dln_loss *loss) {
  return net && loss && net->depth == 2 && !net->tied && net->widths[0] == 1 && net->widths[2] == 1 &&
         dln_loss_has(loss, DLN_LOSS_IDENTITY);
}

/* ‖u‖ for u = P + Q of θ. */
static double unorm(const dln_net *net, const double *th) {
  const double *Q = th + net->offset[1], *P = th + net->offset[2];
  double s = 0;
  for (int i = 0; i < net->widths[1]; ++i) s += (P[i] + Q[i]) * (P[i] + Q[i]);
  return sqrt(s);
}

void dln_worst_case_axpy(const dln_net *net, double s, const double *th, double a, double *out) {
  double nu = unorm(net, th);
  if (!(nu > 0) || s == 0 || a == 0) return; /* on S^−: D = 0 */
  const double *Q = th + net->offset[1], *P = th + net->offset[2];
  double f = -a * 0.5 * s / nu;
  double *oQ = out + net->offset[1], *oP = out + net->offset[2];
  for (int i = 0; i < net->widths[1]; ++i) {
    double d = f * (P[i] + Q[i]);
    oQ[i] += d, oP[i] += d;
  }
}

/* −J_D v = (s/2)/‖u‖ (I − ûûᵀ)(v_P + v_Q) on both blocks, J_D the Jacobian of D(θ) above
 * (∂û/∂u = (I − ûûᵀ)/‖u‖). Symmetric positive semidefinite, so ∇²φ − J_D stays symmetric. */
void dln_worst_case_neg_jvp_add(const dln_net *net, double s, const double *th, const double *v, double *out) {
  double nu = unorm(net, th);
  if (!(nu > 0) || s == 0) return;
  const int k = net->widths[1];
  const double *Q = th + net->offset[1], *P = th + net->offset[2], *vQ = v + net->offset[1], *vP = v + net->offset[2];
  double uw = 0;
  for (int i = 0; i < k; ++i) uw += (P[i] + Q[i]) * (vP[i] + vQ[i]);
  double f = 0.5 * s / nu, g = uw / (nu * nu);
  double *oQ = out + net->offset[1], *oP = out + net->offset[2];
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
    dln_worst_case_axpy(net, o->disturbance_scale, theta, 1.0, D);
    return DLN_OK;
  }
  double a = dln_train_disturbance_factor(o, t);
  if (a != 0 && o->disturbance_D)
    for (size_t i = 0; i < net->nparams; ++i) D[i] = a * o->disturbance_D[i];
  return DLN_OK;
}
