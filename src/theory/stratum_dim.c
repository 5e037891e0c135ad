/* 004 (Chitour, Liao, Couillet) Proposition 5, eq. 27–28 (dln/landscape.h): for one hidden
 * layer (H = 1) each stratum piece I_l^r of Crit_r is a submanifold whose tangent space at
 * W is the kernel of the Hessian of L at W.
 *
 * Dimension, derived here (docs/landscape.md): with Ȳ of size d_y x d_x (d_y ≤ d_x; dln's
 * d_N x d_0, transposed when d_0 < d_N), residual R = Σ_{i∉L} s_i u_i v_i^T, the critical
 * conditions W_2^T R = 0, R W_1^T = 0, W_2 W_1 = W_L force W_2 = U_L A (A ∈ R^{r x d_1} of
 * rank r) and W_1 = B P^T with P a basis of span{v_i : i ∉ L}^⊥ (dimension d_x − d_y + r) and
 * A B = Σ_L V_L^T P, r (d_x − d_y + r) independent linear conditions on B. Hence
 *   dim I_l^r = r d_1 + (d_1 − r)(d_x − d_y + r).
 * eq. 27 as printed, r d_1 + (d_y − r) r + (d_y − r)(d_x − d_y), equals it only for d_1 = d_y
 * (checked numerically: Hessian nullity at random points of the stratum, tests). The same
 * count holds for the global minima (r = d_y), which Prop. 5 does not state. */
#include "dln/landscape.h"

#include <float.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "dln/error.h"

int dln_theory_stratum_dim(int d0, int d1, int dN, int r, long *dim, long *eq27) {
  DLN_ARGS(dim);
  int dy = d0 < dN ? d0 : dN, dx = d0 < dN ? dN : d0;
  if (d0 < 1 || d1 < 1 || dN < 1 || r < 0 || r > dy || r > d1)
    return dln_error(DLN_EINVAL, "dln_theory_stratum_dim: expected widths >= 1 and 0 <= r <= min(d_0, d_1, d_N), found d = (%d, %d, %d), r = %d",
                     d0, d1, dN, r);
  *dim = (long)r * d1 + (long)(d1 - r) * (dx - dy + r);
  if (eq27) *eq27 = (long)r * d1 + (long)(dy - r) * r + (long)(dy - r) * (dx - dy);
  return DLN_OK;
}

int dln_hessian_nullity(dln_net *net, dln_loss *loss, const double *theta, double rank_tol, dln_nullity *out) {
  DLN_ARGS(net, loss, theta, out);
  memset(out, 0, sizeof *out);
  size_t n = net->nparams;
  if (n < 1 || n > DLN_NULLITY_MAXP)
    return dln_error(DLN_ENOTAPPLICABLE, "not applicable: dense Hessian: at most %d parameters fails (%zu)", DLN_NULLITY_MAXP, n);
  if (!(rank_tol > 0 && rank_tol < 1)) return dln_error(DLN_EINVAL, "dln_hessian_nullity: rank_tol: expected in (0, 1), found %g", rank_tol);
  double *H = dln_dalloc(n * n), *e = dln_dalloc(n), *ev = dln_dalloc(n);
  int st = H && e && ev ? DLN_OK : dln_error(DLN_ENOMEM, "out of memory in dln_hessian_nullity (%zu parameters)", n);
  for (size_t k = 0; k < n && !st; ++k) { /* column k = ∇²φ e_k */
    e[k] = 1;
    st = dln_net_hvp(net, loss, theta, e, H + k * n);
    e[k] = 0;
  }
  if (!st) {
    for (size_t j = 0; j < n; ++j)
      for (size_t i = 0; i < j; ++i) H[i + j * n] = H[j + i * n] = 0.5 * (H[i + j * n] + H[j + i * n]);
    lapack_int info = LAPACKE_dsyev(LAPACK_COL_MAJOR, 'N', 'U', (lapack_int)n, H, (lapack_int)n, ev);
    if (info) st = dln_error(DLN_ELAPACK, "dln_hessian_nullity: dsyev returned info %d", (int)info);
  }
  if (!st) {
    double lmax = fmax(fabs(ev[0]), fabs(ev[n - 1])), thr = rank_tol * lmax, zmax = 0, nzmin = INFINITY;
    for (size_t i = 0; i < n; ++i) {
      double a = fabs(ev[i]);
      if (a <= thr) ++out->nullity, zmax = fmax(zmax, a);
      else if (ev[i] < 0) ++out->nneg, nzmin = fmin(nzmin, a);
      else ++out->npos, nzmin = fmin(nzmin, a);
    }
    out->n = (int)n;
    out->lmax = lmax;
    out->zero_max = zmax;
    out->nonzero_min = nzmin;
    out->gap = nzmin / fmax(zmax, DBL_MIN);
  }
  free(H), free(e), free(ev);
  return st;
}
