/* An initialization with a prescribed sign of det W (dln/init.h, dln_init_draw).
 *
 * 002 Lemma 2: for square W = W_N···W_1 the sign of det W(t) is constant under gradient
 * flow, and 002 Prop. 5 / Ex. 4 (Razin & Cohen 2020, "Implicit regularization in deep
 * learning may not be explainable by norms") state their results for det W(0) > 0 or < 0.
 * A random init gives either sign; dln_init_draw redraws it from the same stream until
 * the sign is the requested one, so the accepted draw depends on (seed, stream) alone. */
#include <lapacke.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "dln/error.h"
#include "dln/init.h"

int dln_det_sign(int n, const double *W, int *sign) {
  DLN_ARGS(W, sign);
  DLN_INDEX(n, 1, 1 << 14);
  size_t nn = (size_t)n * (size_t)n;
  double *A = malloc(nn * sizeof *A);
  lapack_int *piv = malloc((size_t)n * sizeof *piv);
  int st = DLN_OK;
  if (!A || !piv) {
    st = dln_error(DLN_ENOMEM, "dln_det_sign: out of memory for a %dx%d matrix", n, n);
    goto done;
  }
  memcpy(A, W, nn * sizeof *A);
  /* P W = L U: det W = (−1)^{#row swaps} Π u_ii */
  lapack_int info = LAPACKE_dgetrf(LAPACK_COL_MAJOR, n, n, A, n, piv);
  if (info < 0) {
    st = dln_error(DLN_ELAPACK, "dgetrf (%dx%d) returned info=%d", n, n, (int)info);
    goto done;
  }
  int sg = 1;
  for (int i = 0; i < n && sg; ++i) {
    double d = A[i + (size_t)i * n];
    if (piv[i] != i + 1) sg = -sg;
    if (d < 0) sg = -sg;
    else if (!(d > 0)) sg = 0; /* zero (or NaN) pivot */
  }
  *sign = sg;
done:
  free(A);
  free(piv);
  return st;
}

/* sign det W(θ) of the network's square W. */
static int theta_sign(dln_net *net, const double *theta, double *W, int *sign) {
  int st = dln_net_product(net, theta, W);
  return st ? st : dln_det_sign(dln_net_rows(net), W, sign);
}

/* W and prev agree to round-off (‖W − prev‖_F ≤ 1e-12 ‖W‖_F): a scheme that fixes W
 * (file; spectral, whose random rotation cancels in W) gives the same sign every draw. */
static int same_w(size_t n, const double *W, const double *prev) {
  double d = 0, w = 0;
  for (size_t i = 0; i < n; ++i) d += (W[i] - prev[i]) * (W[i] - prev[i]), w += W[i] * W[i];
  return d <= 1e-24 * w;
}

int dln_init_draw(const dln_init_type *t, const dln_init_options *o, dln_net *net, double *theta, dln_rng *rng,
                  const dln_loss *loss, const char **field, int *draws) {
  DLN_ARGS(t, o, net, theta);
  const char *dummy;
  int ndummy;
  if (!field) field = &dummy;
  if (!draws) draws = &ndummy;
  *field = NULL;
  *draws = 0;
  int st = t->apply(o, net, theta, rng, loss, field);
  *draws = 1;
  if (st || !o->det_sign) return st;
  int rows = dln_net_rows(net), cols = dln_net_cols(net), sign = 0;
  if (rows != cols) {
    *field = "det_sign";
    return dln_error(DLN_EINVAL, "expected a square end-to-end W (d_N = d_0) for a determinant, found W %d x %d", rows, cols);
  }
  size_t nw = (size_t)rows * (size_t)cols;
  double *W = malloc(nw * sizeof *W), *prev = malloc(nw * sizeof *prev);
  if (!W || !prev) st = dln_error(DLN_ENOMEM, "out of memory");
  while (!st && !(st = theta_sign(net, theta, W, &sign)) && sign != o->det_sign) {
    *field = "det_sign";
    if (*draws > 1 && same_w(nw, W, prev)) {
      st = dln_error(DLN_EINVAL, "expected an init whose W = W_N...W_1 is drawn at random, found init %s giving the same W again (det W keeps sign %+d)",
                     t->name, sign);
      break;
    }
    if (*draws >= o->det_sign_draws) {
      st = dln_error(DLN_EINVAL, "expected det W of sign %+d within det_sign_draws = %d draws of init %s, found sign %+d at every draw",
                     o->det_sign, o->det_sign_draws, t->name, sign);
      break;
    }
    memcpy(prev, W, nw * sizeof *prev);
    if ((st = t->apply(o, net, theta, rng, loss, field))) break;
    ++*draws;
  }
  if (!st) *field = NULL;
  free(W);
  free(prev);
  return st;
}
