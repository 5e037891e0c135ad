/* Initializations of a network's weights (dln/init.h).
 *
 * Random schemes draw standard normal matrices layer by layer (W_1 first) and then
 * scale them, so at a fixed product of scales the end-to-end matrix is unchanged
 * (003 §4). Balanced: 002 Definition 1, 003 §4. Spectral: 001 Definitions 1 and 3.
 * Orthogonal invariant set: 003 Proposition 1, eq. 15 (in our convention W_1 = U^T,
 * W_2 = V, samples are the columns of X). */
#include "dln/init.h"

#include <cblas.h>
#include <float.h>
#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "dln/error.h"

static int layer_rows(const dln_net *net, int j) { return net->tied ? net->widths[0] : net->widths[j]; }
static int layer_cols(const dln_net *net, int j) { return net->tied ? net->widths[1] : net->widths[j - 1]; }
static int nlayers_of(const dln_net *net) { return net->tied ? 1 : net->depth; }
/* Layer j's storage (tied: U). */
static double *layer_ptr(const dln_net *net, double *theta, int j) {
  return theta + net->offset[net->tied ? 2 : j];
}

static int check_args(const dln_net *net, const double *theta, const char *who) {
  if (!net) return dln_error(DLN_EINVAL, "%s: network: expected a network, found NULL", who);
  if (!theta) return dln_error(DLN_EINVAL, "%s: theta: expected a parameter vector, found NULL", who);
  return DLN_OK;
}

static int check_untied(const dln_net *net, const char *who) {
  if (net->tied)
    return dln_error(DLN_EINVAL,
                     "%s: network: expected an untied network, found a tied (symmetric U U^T) network; "
                     "tied networks support gaussian, width-scaled, spectral-symmetric and from-layers inits",
                     who);
  return DLN_OK;
}

int dln_init_gaussian(const dln_net *net, double *theta, dln_rng *rng, double sigma, const double *scales) {
  DLN_ARGS(net, theta, rng);
  int st;
  if ((st = check_args(net, theta, "gaussian init"))) return st;
  if (!rng) return dln_error(DLN_EINVAL, "gaussian init: rng: expected a random stream, found NULL");
  int L = nlayers_of(net);
  if (scales) {
    for (int j = 1; j <= L; ++j)
      if (!isfinite(scales[j - 1]) || scales[j - 1] < 0)
        return dln_error(DLN_EINVAL, "gaussian init: scales[%d] (layer %d): expected a finite value >= 0, found %g",
                         j - 1, j, scales[j - 1]);
  } else if (!isfinite(sigma) || sigma < 0) {
    return dln_error(DLN_EINVAL, "gaussian init: sigma: expected a finite value >= 0, found %g", sigma);
  }
  for (int j = 1; j <= L; ++j) {
    size_t n = (size_t)layer_rows(net, j) * (size_t)layer_cols(net, j);
    double *w = layer_ptr(net, theta, j);
    double s = scales ? scales[j - 1] : sigma;
    dln_rng_fill_gaussian(rng, w, n, 1.0);
    for (size_t i = 0; i < n; ++i) w[i] *= s;
  }
  return DLN_OK;
}

int dln_init_width_scaled(const dln_net *net, double *theta, dln_rng *rng, double alpha) {
  DLN_ARGS(net, theta, rng);
  int st;
  if ((st = check_args(net, theta, "width-scaled init"))) return st;
  if (net->depth < 2)
    return dln_error(DLN_EINVAL, "width-scaled init: network depth: expected >= 2 (a hidden layer), found %d",
                     net->depth);
  if (!isfinite(alpha) || alpha <= 0)
    return dln_error(DLN_EINVAL, "width-scaled init: alpha: expected a finite value > 0, found %g", alpha);
  int h = 0;
  for (int j = 1; j < net->depth; ++j) h = net->widths[j] > h ? net->widths[j] : h;
  return dln_init_gaussian(net, theta, rng, pow((double)h, -alpha), NULL);
}

/* Thin SVD of a (m x n): u (m x k), s (k), vt (k x n), k = min(m, n). a is preserved. */
static int thin_svd(int m, int n, const double *a, double *u, double *s, double *vt, const char *who) {
  int k = m < n ? m : n;
  if (k == 0) return DLN_OK;
  double *w = dln_xcalloc((size_t)m * (size_t)n, sizeof(double));
  if (!w) return dln_error(DLN_ENOMEM, "%s: out of memory for an SVD of a %dx%d matrix", who, m, n);
  memcpy(w, a, (size_t)m * (size_t)n * sizeof(double));
  int info = LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'S', m, n, w, m, s, u, m, vt, k);
  free(w);
  if (info != 0) return dln_error(DLN_ELAPACK, "%s: dgesdd (SVD of a %dx%d matrix) returned info=%d", who, m, n, info);
  return DLN_OK;
}

/* Numerical rank: count of s_i > max(m, n)·eps·s_0. */
static int num_rank(int m, int n, const double *s) {
  int k = m < n ? m : n;
  if (k == 0 || !(s[0] > 0)) return 0;
  double cut = (m > n ? m : n) * DBL_EPSILON * s[0];
  int r = 0;
  while (r < k && s[r] > cut) ++r;
  return r;
}

int dln_init_balanced(const dln_net *net, double *theta, const dln_mat *W0, dln_rng *rng) {
  DLN_ARGS(net, theta, W0);
  int st;
  if ((st = check_args(net, theta, "balanced init"))) return st;
  if ((st = check_untied(net, "balanced init"))) return st;
  const int N = net->depth;
  const int *d = net->widths;
  if (!W0) return dln_error(DLN_EINVAL, "balanced init: W0: expected a %d x %d matrix, found NULL", d[N], d[0]);
  if (W0->rows != d[N] || W0->cols != d[0])
    return dln_error(DLN_EDIM, "balanced init: W0: expected shape %d x %d (d_N x d_0), found %d x %d", d[N], d[0],
                     W0->rows, W0->cols);
  if ((st = dln_check_finite("balanced init: W0", W0->rows, W0->cols, W0->data))) return st;
  int m = d[N], n = d[0], k = m < n ? m : n;
  int hmin = 0;
  for (int j = 1; j < N; ++j)
    if (j == 1 || d[j] < hmin) hmin = d[j];

  double *u = dln_xcalloc((size_t)m * (size_t)k, sizeof(double)), *s = dln_xcalloc((size_t)k, sizeof(double)),
         *vt = dln_xcalloc((size_t)k * (size_t)n, sizeof(double));
  size_t maxw = 0;
  for (int j = 0; j <= N; ++j) maxw = (size_t)d[j] > maxw ? (size_t)d[j] : maxw;
  double *qprev = dln_xcalloc(maxw * (size_t)k, sizeof(double)), *qcur = dln_xcalloc(maxw * (size_t)k, sizeof(double)),
         *tmp = dln_xcalloc(maxw * (size_t)k, sizeof(double));
  if (!u || !s || !vt || !qprev || !qcur || !tmp) {
    st = dln_error(DLN_ENOMEM, "balanced init: out of memory");
    goto done;
  }
  if ((st = thin_svd(m, n, W0->data, u, s, vt, "balanced init"))) goto done;
  int r = num_rank(m, n, s);
  if (N >= 2 && r > hmin) {
    st = dln_error(DLN_EINVAL,
                   "balanced init: W0 has rank %d, which exceeds the smallest hidden width %d; expected rank <= %d",
                   r, hmin, hmin);
    goto done;
  }
  memset(theta, 0, net->nparams * sizeof(double));
  if (N == 1) {
    memcpy(theta + net->offset[1], W0->data, (size_t)m * (size_t)n * sizeof(double));
    goto done;
  }
  if (r == 0) goto done; /* W0 = 0: all layers zero */
  for (int i = 0; i < r; ++i) s[i] = pow(s[i], 1.0 / N); /* s now holds Σ^{1/N} */
  /* Q_0 := V (d_0 x r), so W_1 = Q_1 Σ^{1/N} Q_0^T; Q_N := U. */
  for (int i = 0; i < r; ++i)
    for (int c = 0; c < n; ++c) qprev[c + (size_t)i * n] = vt[i + (size_t)c * k];
  for (int j = 1; j <= N; ++j) {
    int dj = d[j];
    if (j == N) {
      memcpy(qcur, u, (size_t)m * (size_t)r * sizeof(double));
    } else if (rng) {
      if ((st = dln_rng_orthogonal(rng, dj, r, qcur))) goto done;
    } else {
      memset(qcur, 0, (size_t)dj * (size_t)r * sizeof(double));
      for (int i = 0; i < r; ++i) qcur[i + (size_t)i * dj] = 1.0;
    }
    /* W_j = (Q_j Σ^{1/N}) Q_{j-1}^T */
    memcpy(tmp, qcur, (size_t)dj * (size_t)r * sizeof(double));
    for (int i = 0; i < r; ++i) cblas_dscal(dj, s[i], tmp + (size_t)i * dj, 1);
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, dj, d[j - 1], r, 1.0, tmp, dj, qprev, d[j - 1], 0.0,
                theta + net->offset[j], dj);
    double *t = qprev;
    qprev = qcur;
    qcur = t;
  }
done:
  free(u);
  free(s);
  free(vt);
  free(qprev);
  free(qcur);
  free(tmp);
  return st;
}

int dln_init_spectral_symmetric(const dln_net *net, double *theta, const dln_mat *Y, const double *sigma0) {
  DLN_ARGS(net, theta, Y, sigma0);
  int st;
  if ((st = check_args(net, theta, "spectral symmetric init"))) return st;
  const int *d = net->widths;
  if (net->depth != 2 || d[2] != d[0])
    return dln_error(DLN_EINVAL,
                     "spectral symmetric init: network: expected depth 2 with d_2 = d_0 (U U^T), found depth %d, "
                     "d_0=%d d_N=%d",
                     net->depth, d[0], d[net->depth]);
  int m = d[0], k = d[1];
  if (k < m)
    return dln_error(DLN_EINVAL, "spectral symmetric init: hidden width k: expected k >= m = %d, found %d", m, k);
  if (!Y) return dln_error(DLN_EINVAL, "spectral symmetric init: Y: expected a %d x %d matrix, found NULL", m, m);
  if (Y->rows != m || Y->cols != m)
    return dln_error(DLN_EDIM, "spectral symmetric init: Y: expected shape %d x %d, found %d x %d", m, m, Y->rows,
                     Y->cols);
  if ((st = dln_check_finite("spectral symmetric init: Y", m, m, Y->data))) return st;
  if (!sigma0) return dln_error(DLN_EINVAL, "spectral symmetric init: sigma0: expected %d values, found NULL", m);
  for (int i = 0; i < m; ++i)
    if (!isfinite(sigma0[i]) || sigma0[i] < 0)
      return dln_error(DLN_EINVAL, "spectral symmetric init: sigma0[%d]: expected a finite value >= 0, found %g", i,
                       sigma0[i]);
  double amax = 0, asym = 0;
  for (int j = 0; j < m; ++j)
    for (int i = 0; i < m; ++i) {
      double a = fabs(Y->data[i + (size_t)j * m]), b = fabs(Y->data[i + (size_t)j * m] - Y->data[j + (size_t)i * m]);
      amax = a > amax ? a : amax;
      asym = b > asym ? b : asym;
    }
  if (asym > 1e-10 * amax)
    return dln_error(DLN_EINVAL, "spectral symmetric init: Y: expected a symmetric matrix, found max |Y - Y^T| = %g",
                     asym);
  double *phi = dln_xcalloc((size_t)m * (size_t)m, sizeof(double)), *ev = dln_xcalloc((size_t)m, sizeof(double));
  if (!phi || !ev) {
    st = dln_error(DLN_ENOMEM, "spectral symmetric init: out of memory");
    goto done;
  }
  memcpy(phi, Y->data, (size_t)m * (size_t)m * sizeof(double));
  int info = LAPACKE_dsyev(LAPACK_COL_MAJOR, 'V', 'U', m, phi, m, ev);
  if (info != 0) {
    st = dln_error(DLN_ELAPACK, "spectral symmetric init: dsyev (%dx%d) returned info=%d", m, m, info);
    goto done;
  }
  /* U_0 = [Φ Σ_0^{1/2}, 0] (m x k) */
  double *U = theta + net->offset[2];
  memset(U, 0, (size_t)m * (size_t)k * sizeof(double));
  for (int i = 0; i < m; ++i) {
    double sq = sqrt(sigma0[i]);
    for (int r = 0; r < m; ++r) U[r + (size_t)i * m] = phi[r + (size_t)i * m] * sq;
  }
  if (!net->tied) { /* untied depth-2 net: W_1 = U_0^T */
    double *W1 = theta + net->offset[1];
    for (int c = 0; c < m; ++c)
      for (int r = 0; r < k; ++r) W1[r + (size_t)c * k] = U[c + (size_t)r * m];
  }
done:
  free(phi);
  free(ev);
  return st;
}

int dln_init_spectral_asymmetric(const dln_net *net, double *theta, const dln_mat *Ybar, const double *ubar,
                                 const double *vbar, dln_rng *rng) {
  DLN_ARGS(net, theta, Ybar, ubar, vbar);
  int st;
  if ((st = check_args(net, theta, "spectral asymmetric init"))) return st;
  if ((st = check_untied(net, "spectral asymmetric init"))) return st;
  const int *d = net->widths;
  if (net->depth != 2)
    return dln_error(DLN_EINVAL, "spectral asymmetric init: network depth: expected 2, found %d", net->depth);
  int n = d[0], k = d[1], m = d[2], p = m < n ? m : n;
  if (k < m || k < n)
    return dln_error(DLN_EINVAL, "spectral asymmetric init: hidden width k: expected k >= max(m, n) = %d, found %d",
                     m > n ? m : n, k);
  if (!Ybar) return dln_error(DLN_EINVAL, "spectral asymmetric init: Ybar: expected a %d x %d matrix, found NULL", m, n);
  if (Ybar->rows != m || Ybar->cols != n)
    return dln_error(DLN_EDIM, "spectral asymmetric init: Ybar: expected shape %d x %d (d_2 x d_0), found %d x %d", m, n,
                     Ybar->rows, Ybar->cols);
  if ((st = dln_check_finite("spectral asymmetric init: Ybar", m, n, Ybar->data))) return st;
  if (!ubar || !vbar)
    return dln_error(DLN_EINVAL, "spectral asymmetric init: %s: expected %d values, found NULL", ubar ? "vbar" : "ubar",
                     p);
  for (int i = 0; i < p; ++i) {
    if (!isfinite(ubar[i]))
      return dln_error(DLN_EINVAL, "spectral asymmetric init: ubar[%d]: expected a finite value, found %g", i, ubar[i]);
    if (!isfinite(vbar[i]))
      return dln_error(DLN_EINVAL, "spectral asymmetric init: vbar[%d]: expected a finite value, found %g", i, vbar[i]);
  }
  double *a = dln_xcalloc((size_t)m * (size_t)n, sizeof(double)), *s = dln_xcalloc((size_t)p, sizeof(double)),
         *phi = dln_xcalloc((size_t)m * (size_t)m, sizeof(double)),
         *psit = dln_xcalloc((size_t)n * (size_t)n, sizeof(double)),
         *G = dln_xcalloc((size_t)k * (size_t)k, sizeof(double)),
         *tu = dln_xcalloc((size_t)m * (size_t)k, sizeof(double)),
         *tv = dln_xcalloc((size_t)n * (size_t)k, sizeof(double));
  if (!a || !s || !phi || !psit || !G || !tu || !tv) {
    st = dln_error(DLN_ENOMEM, "spectral asymmetric init: out of memory");
    goto done;
  }
  memcpy(a, Ybar->data, (size_t)m * (size_t)n * sizeof(double));
  int info = LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'A', m, n, a, m, s, phi, m, psit, n);
  if (info != 0) {
    st = dln_error(DLN_ELAPACK, "spectral asymmetric init: dgesdd (full SVD of %dx%d) returned info=%d", m, n, info);
    goto done;
  }
  if (rng) {
    if ((st = dln_rng_orthogonal(rng, k, k, G))) goto done;
  } else {
    for (int i = 0; i < k; ++i) G[i + (size_t)i * k] = 1.0;
  }
  /* tu = Φ Ū_0 (m x k): column i = ubar_i Φ_{:,i} for i < p, zero otherwise;
   * tv = Ψ V̄_0 (n x k): column i = vbar_i Ψ_{:,i} (Ψ = psit^T). */
  for (int i = 0; i < p; ++i) {
    for (int r = 0; r < m; ++r) tu[r + (size_t)i * m] = ubar[i] * phi[r + (size_t)i * m];
    for (int r = 0; r < n; ++r) tv[r + (size_t)i * n] = vbar[i] * psit[i + (size_t)r * n];
  }
  /* W_2 = U_0 = tu G (m x k); W_1 = V_0^T = G^T tv^T (k x n) */
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, m, k, k, 1.0, tu, m, G, k, 0.0, theta + net->offset[2], m);
  cblas_dgemm(CblasColMajor, CblasTrans, CblasTrans, k, n, k, 1.0, G, k, tv, n, 0.0, theta + net->offset[1], k);
done:
  free(a);
  free(s);
  free(phi);
  free(psit);
  free(G);
  free(tu);
  free(tv);
  return st;
}

int dln_init_orthogonal_minnorm(const dln_net *net, double *theta, const dln_mat *X, dln_rng *rng, double sigma) {
  DLN_ARGS(net, theta, X, rng);
  int st;
  if ((st = check_args(net, theta, "orthogonal min-norm init"))) return st;
  if ((st = check_untied(net, "orthogonal min-norm init"))) return st;
  const int *d = net->widths;
  if (net->depth != 2)
    return dln_error(DLN_EINVAL, "orthogonal min-norm init: network depth: expected 2, found %d", net->depth);
  if (!rng) return dln_error(DLN_EINVAL, "orthogonal min-norm init: rng: expected a random stream, found NULL");
  if (!isfinite(sigma) || sigma < 0)
    return dln_error(DLN_EINVAL, "orthogonal min-norm init: sigma: expected a finite value >= 0, found %g", sigma);
  int d0 = d[0], h = d[1], m = d[2];
  if (!X) return dln_error(DLN_EINVAL, "orthogonal min-norm init: X: expected a %d x n matrix, found NULL", d0);
  if (X->rows != d0 || X->cols < 1)
    return dln_error(DLN_EDIM, "orthogonal min-norm init: X: expected shape %d x n (d_0 x samples, n >= 1), found %d x %d",
                     d0, X->rows, X->cols);
  int n = X->cols;
  if ((st = dln_check_finite("orthogonal min-norm init: X", d0, n, X->data))) return st;
  int ha = h - h / 2, hb = h / 2; /* split R^h = span(Q_a) ⊕ span(Q_b) */
  double *a = dln_xcalloc((size_t)d0 * (size_t)n, sizeof(double)),
         *s = dln_xcalloc((size_t)(d0 < n ? d0 : n), sizeof(double)),
         *phi = dln_xcalloc((size_t)d0 * (size_t)d0, sizeof(double)),
         *Q = dln_xcalloc((size_t)h * (size_t)h, sizeof(double)),
         *C = dln_xcalloc((size_t)(m > d0 ? m : d0) * (size_t)h, sizeof(double)),
         *T = dln_xcalloc((size_t)d0 * (size_t)h, sizeof(double)),
         *superb = dln_xcalloc((size_t)(d0 < n ? d0 : n), sizeof(double));
  if (!a || !s || !phi || !Q || !C || !T || !superb) {
    st = dln_error(DLN_ENOMEM, "orthogonal min-norm init: out of memory");
    goto done;
  }
  /* Φ = [Φ_1 Φ_2] from the full left singular vectors of X; rank with tolerance */
  memcpy(a, X->data, (size_t)d0 * (size_t)n * sizeof(double));
  int info = LAPACKE_dgesvd(LAPACK_COL_MAJOR, 'A', 'N', d0, n, a, d0, s, phi, d0, NULL, 1, superb);
  if (info != 0) {
    st = dln_error(DLN_ELAPACK, "orthogonal min-norm init: dgesvd (SVD of X, %dx%d) returned info=%d", d0, n, info);
    goto done;
  }
  int r = num_rank(d0, n, s);
  if ((st = dln_rng_orthogonal(rng, h, h, Q))) goto done;
  /* Draws: U_1 coefficients (r x ha), V coefficients (m x ha), U_2 coefficients ((d0-r) x hb). */
  double *Qa = Q, *Qb = Q + (size_t)h * (size_t)ha;
  /* U^T = W_1 (h x d0) = Q_a A^T Φ_1^T + Q_b B^T Φ_2^T, with U_1 = A Q_a^T, U_2 = B Q_b^T */
  double *W1 = theta + net->offset[1], *W2 = theta + net->offset[2];
  memset(T, 0, (size_t)d0 * (size_t)h * sizeof(double));
  if (r > 0 && ha > 0) {
    dln_rng_fill_gaussian(rng, C, (size_t)r * (size_t)ha, sigma);
    /* T(d0 x h) = Φ_1 (A Q_a^T): first A Q_a^T (r x h) into C2 */
    double *AQ = dln_xcalloc((size_t)r * (size_t)h, sizeof(double));
    if (!AQ) {
      st = dln_error(DLN_ENOMEM, "orthogonal min-norm init: out of memory");
      goto done;
    }
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, r, h, ha, 1.0, C, r, Qa, h, 0.0, AQ, r);
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, d0, h, r, 1.0, phi, d0, AQ, r, 0.0, T, d0);
    free(AQ);
  }
  /* V = W_2 (m x h) = Vc Q_a^T */
  memset(W2, 0, (size_t)m * (size_t)h * sizeof(double));
  if (ha > 0) {
    dln_rng_fill_gaussian(rng, C, (size_t)m * (size_t)ha, sigma);
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, m, h, ha, 1.0, C, m, Qa, h, 0.0, W2, m);
  }
  int c2 = d0 - r;
  if (c2 > 0 && hb > 0) {
    dln_rng_fill_gaussian(rng, C, (size_t)c2 * (size_t)hb, sigma);
    double *BQ = dln_xcalloc((size_t)c2 * (size_t)h, sizeof(double));
    if (!BQ) {
      st = dln_error(DLN_ENOMEM, "orthogonal min-norm init: out of memory");
      goto done;
    }
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, c2, h, hb, 1.0, C, c2, Qb, h, 0.0, BQ, c2);
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, d0, h, c2, 1.0, phi + (size_t)r * d0, d0, BQ, c2, 1.0, T,
                d0);
    free(BQ);
  }
  /* W_1 = U^T = T^T */
  for (int c = 0; c < d0; ++c)
    for (int i = 0; i < h; ++i) W1[i + (size_t)c * h] = T[c + (size_t)i * d0];
done:
  free(a);
  free(s);
  free(phi);
  free(Q);
  free(C);
  free(T);
  free(superb);
  return st;
}

int dln_init_from_layers(const dln_net *net, double *theta, dln_mat *const *layers, int nlayers) {
  DLN_ARGS(net, theta, layers);
  int st;
  if ((st = check_args(net, theta, "init from layers"))) return st;
  int L = nlayers_of(net);
  if (nlayers != L)
    return dln_error(DLN_EDIM, "init from layers: number of layers: expected %d%s, found %d", L,
                     net->tied ? " (tied network: one matrix U)" : "", nlayers);
  if (!layers) return dln_error(DLN_EINVAL, "init from layers: layers: expected %d matrices, found NULL", L);
  for (int j = 1; j <= L; ++j) {
    int r = layer_rows(net, j), c = layer_cols(net, j);
    const dln_mat *a = layers[j - 1];
    if (!a)
      return dln_error(DLN_EINVAL, "init from layers: layer %d: expected a %d x %d matrix, found NULL", j, r, c);
    if (a->rows != r || a->cols != c)
      return dln_error(DLN_EDIM, "init from layers: layer %d%s: expected shape %d x %d, found %d x %d", j,
                       net->tied ? " (U)" : "", r, c, a->rows, a->cols);
    char what[64];
    snprintf(what, sizeof what, "init from layers: layer %d", j);
    if ((st = dln_check_finite(what, r, c, a->data))) return st;
  }
  for (int j = 1; j <= L; ++j) {
    int r = layer_rows(net, j), c = layer_cols(net, j);
    memcpy(layer_ptr(net, theta, j), layers[j - 1]->data, (size_t)r * (size_t)c * sizeof(double));
  }
  return DLN_OK;
}
