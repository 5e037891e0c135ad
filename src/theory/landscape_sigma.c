/* Landscape, fourth part (dln/landscape.h (e); docs/landscape.md): 002 Theorem 3,
 * σ̇_r = N (σ_r²)^{1−1/N} ⟨−∇ℓ(W), u_r v_r^T⟩, predicted from the SVD of W and measured
 * from the layers' gradient. */
#include "dln/landscape.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "dln/error.h"

static double sq(double x) { return x * x; }
static int imin(int a, int b) { return a < b ? a : b; }
static int imax(int a, int b) { return a > b ? a : b; }

/* ==================================================================== (e) 002 Theorem 3 */
struct dln_sigma_dot {
  dln_net *net;
  int rows, cols, k;
  double *W, *G, *Wd, *grad, *T;
  double **P; /* P[j] = W_j···W_1, j = 1..N−1 */
  double **S; /* S[j] = W_N···W_{j+1}, j = 1..N−1 */
  double *a, *s, *u, *vt, *work, *x;
  lapack_int lwork, *iwork;
};

void dln_sigma_dot_free(dln_sigma_dot *sd) {
  if (!sd) return;
  if (sd->P)
    for (int j = 0; j <= sd->net->depth; ++j) free(sd->P[j]);
  if (sd->S)
    for (int j = 0; j <= sd->net->depth; ++j) free(sd->S[j]);
  free(sd->P);
  free(sd->S);
  free(sd->W);
  free(sd->G);
  free(sd->Wd);
  free(sd->grad);
  free(sd->T);
  free(sd->a);
  free(sd->s);
  free(sd->u);
  free(sd->vt);
  free(sd->work);
  free(sd->x);
  free(sd->iwork);
  free(sd);
}

int dln_sigma_dot_alloc(dln_sigma_dot **out, dln_net *net) {
  if (!out || !net) return dln_error(DLN_EINVAL, "dln_sigma_dot_alloc: NULL argument");
  *out = NULL;
  if (net->tied) return dln_error(DLN_ENOTAPPLICABLE, "002 Theorem 3 sigma-dot: tied nets are not supported");
  dln_sigma_dot *sd = calloc(1, sizeof *sd);
  if (!sd) return dln_error(DLN_ENOMEM, "dln_sigma_dot_alloc: out of memory");
  int N = net->depth, rows = net->widths[N], cols = net->widths[0], k = imin(rows, cols), dmax = 0;
  for (int j = 0; j <= N; ++j) dmax = imax(dmax, net->widths[j]);
  sd->net = net;
  sd->rows = rows;
  sd->cols = cols;
  sd->k = k;
  size_t rc = (size_t)rows * cols;
  sd->W = malloc(rc * sizeof(double));
  sd->G = malloc(rc * sizeof(double));
  sd->Wd = malloc(rc * sizeof(double));
  sd->a = malloc(rc * sizeof(double));
  sd->grad = malloc(net->nparams * sizeof(double));
  sd->T = malloc((size_t)dmax * (size_t)imax(cols, rows) * sizeof(double));
  sd->P = calloc((size_t)N + 1, sizeof(double *));
  sd->S = calloc((size_t)N + 1, sizeof(double *));
  sd->s = malloc((size_t)k * sizeof(double));
  sd->u = malloc((size_t)rows * k * sizeof(double));
  sd->vt = malloc((size_t)k * cols * sizeof(double));
  sd->x = malloc((size_t)imax(rows, cols) * sizeof(double));
  sd->iwork = malloc((size_t)8 * k * sizeof(lapack_int));
  int ok = sd->W && sd->G && sd->Wd && sd->a && sd->grad && sd->T && sd->P && sd->S && sd->s && sd->u && sd->vt &&
           sd->x && sd->iwork;
  for (int j = 1; ok && j < N; ++j) {
    sd->P[j] = malloc((size_t)net->widths[j] * cols * sizeof(double));
    sd->S[j] = malloc((size_t)rows * net->widths[j] * sizeof(double));
    ok = sd->P[j] && sd->S[j];
  }
  if (ok) {
    double q = 0;
    lapack_int info = LAPACKE_dgesdd_work(LAPACK_COL_MAJOR, 'S', rows, cols, sd->a, rows, sd->s, sd->u, rows, sd->vt,
                                          k, &q, -1, sd->iwork);
    sd->lwork = (lapack_int)q + 1;
    sd->work = info == 0 ? malloc((size_t)sd->lwork * sizeof(double)) : NULL;
    ok = sd->work != NULL;
  }
  if (!ok) {
    dln_sigma_dot_free(sd);
    return dln_error(DLN_ENOMEM, "dln_sigma_dot_alloc: out of memory");
  }
  *out = sd;
  return DLN_OK;
}

const double *dln_sigma_dot_wdot(const dln_sigma_dot *sd) {
  DLN_ARGS_P(sd);
  return sd ? sd->Wd : NULL;
}

static int sd_svd(dln_sigma_dot *sd) {
  memcpy(sd->a, sd->W, (size_t)sd->rows * sd->cols * sizeof(double));
  lapack_int info = LAPACKE_dgesdd_work(LAPACK_COL_MAJOR, 'S', sd->rows, sd->cols, sd->a, sd->rows, sd->s, sd->u,
                                        sd->rows, sd->vt, sd->k, sd->work, sd->lwork, sd->iwork);
  if (info != 0) return dln_error(DLN_ELAPACK, "dgesdd (W %dx%d) returned info=%d", sd->rows, sd->cols, (int)info);
  return DLN_OK;
}

/* u_r^T A v_r for each r into out. */
static void sd_project(dln_sigma_dot *sd, const double *A, double *out) {
  for (int r = 0; r < sd->k; ++r) {
    cblas_dgemv(CblasColMajor, CblasNoTrans, sd->rows, sd->cols, 1.0, A, sd->rows, sd->vt + r, sd->k, 0.0, sd->x, 1);
    out[r] = cblas_ddot(sd->rows, sd->u + (size_t)r * sd->rows, 1, sd->x, 1);
  }
}

int dln_sigma_dot_predicted(dln_sigma_dot *sd, dln_loss *loss, const double *theta, double *sigma, double *sdot) {
  if (!sd || !loss || !theta || !sdot) return dln_error(DLN_EINVAL, "dln_sigma_dot_predicted: NULL argument");
  double phi;
  int st = dln_net_product(sd->net, theta, sd->W);
  if (!st) st = dln_loss_eval(loss, sd->W, &phi, sd->G);
  if (!st) st = sd_svd(sd);
  if (st) return st;
  int N = sd->net->depth;
  sd_project(sd, sd->G, sdot);
  for (int r = 0; r < sd->k; ++r) {
    /* σ̇_r = N (σ_r²)^{1−1/N} ⟨−∇ℓ, u_r v_r^T⟩ */
    sdot[r] = -(double)N * pow(sq(sd->s[r]), 1.0 - 1.0 / N) * sdot[r];
    if (sigma) sigma[r] = sd->s[r];
  }
  return DLN_OK;
}

int dln_sigma_dot_measured(dln_sigma_dot *sd, dln_loss *loss, const double *theta, double *sigma, double *sdot) {
  if (!sd || !loss || !theta || !sdot) return dln_error(DLN_EINVAL, "dln_sigma_dot_measured: NULL argument");
  dln_net *net = sd->net;
  int N = net->depth, rows = sd->rows, cols = sd->cols;
  double phi;
  int st = dln_net_grad(net, loss, theta, &phi, sd->grad, sd->W);
  if (st) return st;
  /* prefix P_j = W_j P_{j−1} (P_1 = W_1), suffix S_j = S_{j+1} W_{j+1} (S_{N−1} = W_N) */
  for (int j = 1; j < N; ++j) {
    int dj = net->widths[j], dj1 = net->widths[j - 1];
    const double *Wj = dln_net_layer_const(net, theta, j);
    if (j == 1)
      memcpy(sd->P[1], Wj, (size_t)dj * cols * sizeof(double));
    else
      cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, dj, cols, dj1, 1.0, Wj, dj, sd->P[j - 1], dj1, 0.0,
                  sd->P[j], dj);
  }
  for (int j = N - 1; j >= 1; --j) {
    int dj = net->widths[j], dj1 = net->widths[j + 1];
    const double *Wj1 = dln_net_layer_const(net, theta, j + 1);
    if (j == N - 1)
      memcpy(sd->S[j], Wj1, (size_t)rows * dj * sizeof(double));
    else
      cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, rows, dj, dj1, 1.0, sd->S[j + 1], rows, Wj1, dj1, 0.0,
                  sd->S[j], rows);
  }
  /* Ẇ = −Σ_j S_j (∂φ/∂W_j) P_{j−1}, S_N = I, P_0 = I */
  memset(sd->Wd, 0, (size_t)rows * cols * sizeof(double));
  for (int j = 1; j <= N; ++j) {
    int dj = net->widths[j], dj1 = net->widths[j - 1];
    const double *gj = sd->grad + net->offset[j];
    const double *T;
    if (j > 1) {
      cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, dj, cols, dj1, 1.0, gj, dj, sd->P[j - 1], dj1, 0.0, sd->T,
                  dj);
      T = sd->T;
    } else {
      T = gj; /* dj x cols */
    }
    if (j < N)
      cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, rows, cols, dj, -1.0, sd->S[j], rows, T, dj, 1.0, sd->Wd,
                  rows);
    else
      cblas_daxpy(rows * cols, -1.0, T, 1, sd->Wd, 1);
  }
  if ((st = sd_svd(sd))) return st;
  sd_project(sd, sd->Wd, sdot);
  if (sigma) memcpy(sigma, sd->s, (size_t)sd->k * sizeof(double));
  return DLN_OK;
}

int dln_sigma_dot_compare(dln_sigma_dot *sd, dln_loss *loss, const double *theta, double *pred, double *meas,
                          double *rel_diff) {
  DLN_ARGS(sd, loss, theta, pred, meas);
  if (!pred || !meas) return dln_error(DLN_EINVAL, "dln_sigma_dot_compare: NULL output");
  int st = dln_sigma_dot_predicted(sd, loss, theta, NULL, pred);
  if (!st) st = dln_sigma_dot_measured(sd, loss, theta, NULL, meas);
  if (st) return st;
  double dm = 0, mm = 0;
  for (int r = 0; r < sd->k; ++r) {
    dm = fmax(dm, fabs(pred[r] - meas[r]));
    mm = fmax(mm, fabs(meas[r]));
  }
  if (rel_diff) *rel_diff = dm / fmax(mm, 1e-300);
  return DLN_OK;
}
