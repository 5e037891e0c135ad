/* End-to-end dynamics of balanced deep linear networks (dln/e2e.h).
 *
 * 002 Theorem 1, eq. 3:   Ẇ = −Σ_{j=1}^{N} (W W^T)^{(j−1)/N} ∇ℓ(W) (W^T W)^{(N−j)/N},
 * 002 Corollary 1, eq. 6: P_W has eigenvectors vec(u_r v_{r'}^T), eigenvalues
 *                         Σ_j σ_r^{2(N−j)/N} σ_{r'}^{2(j−1)/N};
 * 002 Claim 1:            W ← W − ζ P_W(∇ℓ(W)) (discretized end-to-end dynamics).
 *
 * Evaluation of P_W(A) from one thin SVD W = U S V^T (U: m x k, V: n x k, k = min(m, n),
 * m = d_N, n = d_0). Split A along range(U) ⊕ range(U)^⊥ and range(V) ⊕ range(V)^⊥:
 *   M  = U^T A V                       (k x k)
 *   R1 = (I − U U^T) A V = A V − U M   (m x k)
 *   R2 = U^T A (I − V V^T) = U^T A − M V^T  (k x n)
 * (W W^T)^a is U S^{2a} U^T for a > 0 and I for a = 0 (so it kills range(U)^⊥ unless
 * a = 0, i.e. j = 1); likewise (W^T W)^b for j = N. Hence, for N ≥ 2,
 *   P_W(A) = U [(M ∘ K) V^T + diag(c) R2] + R1 diag(c) V^T,
 *   K_{rs} = Σ_j p_{j−1}(σ_r) p_{N−j}(σ_s),  c_r = p_{N−1}(σ_r),  p_i(σ) = (σ²)^{i/N}, p_0 ≡ 1,
 * and the (I − UU^T) A (I − VV^T) block only survives for N = 1, where P_W = identity.
 * Derivation and the choice of SVD over eigendecompositions: docs/e2e.md.
 *
 * W under −P_W(∇ℓ(W)) is a system of the drivers dln_train uses (dynamics_internal.h,
 * driver.c): the same gradient-descent loop, ARKODE ERKStep in one-step mode with
 * samples by dense output and loss-threshold crossings by bisection on it, the same stop
 * rules, reasons and messages. This file provides P_W, the right-hand side, the sample
 * matrices and the table rows (t, step, loss, singular values). There is no
 * Hessian-vector product of −P_W(∇ℓ(W)), so the flow runs on ERK only. */
#include "dln/e2e.h"

#include <cblas.h>
#include <float.h>
#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "dln/error.h"
#include "dln/mat.h"
#include "dynamics/dynamics_internal.h"

struct dln_e2e {
  dln_loss *loss;
  int N, m, n, k;        /* depth, d_N, d_0, min(d_N, d_0) */
  size_t mn;
  double *G;             /* ∇ℓ(W), m x n */
  double *A;             /* SVD input copy, m x n */
  double *U, *s, *Vt;    /* thin SVD: m x k, k, k x n */
  double *AV, *M, *UtA;  /* m x k, k x k, k x n */
  double *T;             /* k x n */
  double *out;           /* m x n (result before copy, so out may alias A) */
  double *pw;            /* N x k: pw[i*k + r] = (σ_r²)^{i/N}, p_0 = 1 */
  double *c;             /* k */
  double *work;          /* LAPACK workspace */
  int lwork;
  int *iwork;            /* 8k */
  double *wdot;          /* m x n: Ẇ for dln_e2e_grad_norm */
  double *row;           /* 3 + k: table row */
  long nrhs, nsvd;
};

void dln_e2e_free(dln_e2e *e) {
  if (!e) return;
  free(e->G);
  free(e->A);
  free(e->U);
  free(e->s);
  free(e->Vt);
  free(e->AV);
  free(e->M);
  free(e->UtA);
  free(e->T);
  free(e->out);
  free(e->pw);
  free(e->c);
  free(e->work);
  free(e->iwork);
  free(e->wdot);
  free(e->row);
  free(e);
}

int dln_e2e_alloc(dln_e2e **out, dln_loss *loss, int depth) {
  if (!out) return dln_error(DLN_EINVAL, "end-to-end dynamics: out: expected a pointer, found NULL");
  *out = NULL;
  if (!loss) return dln_error(DLN_EINVAL, "end-to-end dynamics: loss: expected a loss, found NULL");
  if (depth < 1) return dln_error(DLN_EINVAL, "end-to-end dynamics: depth: expected N >= 1, found %d", depth);
  int m = loss->rows, n = loss->cols;
  if (m < 1 || n < 1)
    return dln_error(DLN_EDIM, "end-to-end dynamics: loss %s: expected a matrix shape >= 1 x 1, found %d x %d",
                     loss->ops ? loss->ops->name : "?", m, n);
  size_t mn, nk;
  int k = m < n ? m : n;
  if (dln_size_mul((size_t)m, (size_t)n, &mn) || dln_size_mul((size_t)depth, (size_t)k, &nk))
    return dln_error(DLN_ENOMEM, "end-to-end dynamics: %d x %d state (depth %d) exceeds the BLAS integer range", m, n,
                     depth);
  dln_e2e *e = calloc(1, sizeof *e);
  if (!e) return dln_error(DLN_ENOMEM, "end-to-end dynamics: out of memory");
  e->loss = loss;
  e->N = depth;
  e->m = m;
  e->n = n;
  e->k = k;
  e->mn = mn;
  e->G = dln_xcalloc(mn, sizeof(double));
  e->A = dln_xcalloc(mn, sizeof(double));
  e->U = dln_xcalloc((size_t)m * k, sizeof(double));
  e->s = dln_xcalloc((size_t)k, sizeof(double));
  e->Vt = dln_xcalloc((size_t)k * n, sizeof(double));
  e->AV = dln_xcalloc((size_t)m * k, sizeof(double));
  e->M = dln_xcalloc((size_t)k * k, sizeof(double));
  e->UtA = dln_xcalloc((size_t)k * n, sizeof(double));
  e->T = dln_xcalloc((size_t)k * n, sizeof(double));
  e->out = dln_xcalloc(mn, sizeof(double));
  e->pw = dln_xcalloc(nk, sizeof(double));
  e->c = dln_xcalloc((size_t)k, sizeof(double));
  e->iwork = calloc((size_t)8 * k, sizeof(int));
  e->wdot = dln_xcalloc(mn, sizeof(double));
  e->row = dln_xcalloc((size_t)5 + k, sizeof(double)); /* t, step, loss, sv_1..k, dist_true, dist_true_rel */
  if (!e->G || !e->A || !e->U || !e->s || !e->Vt || !e->AV || !e->M || !e->UtA || !e->T || !e->out || !e->pw ||
      !e->c || !e->iwork || !e->wdot || !e->row) {
    dln_e2e_free(e);
    return dln_error(DLN_ENOMEM, "end-to-end dynamics: out of memory allocating workspaces for %d x %d", m, n);
  }
  /* workspace queries: dgesdd (jobz = 'S') and the dgesvd fallback */
  double q1 = 0, q2 = 0;
  int info1 = LAPACKE_dgesdd_work(LAPACK_COL_MAJOR, 'S', m, n, e->A, m, e->s, e->U, m, e->Vt, k, &q1, -1, e->iwork);
  int info2 = LAPACKE_dgesvd_work(LAPACK_COL_MAJOR, 'S', 'S', m, n, e->A, m, e->s, e->U, m, e->Vt, k, &q2, -1);
  if (info1 != 0 || info2 != 0) {
    dln_e2e_free(e);
    return dln_error(DLN_ELAPACK, "end-to-end dynamics: SVD workspace query failed (dgesdd info=%d, dgesvd info=%d)",
                     info1, info2);
  }
  double q = q1 > q2 ? q1 : q2;
  if (!(q < 2147483647.0)) {
    dln_e2e_free(e);
    return dln_error(DLN_ENOMEM, "end-to-end dynamics: SVD workspace of %g doubles exceeds the LAPACK range", q);
  }
  e->lwork = (int)q + 1;
  e->work = dln_xcalloc((size_t)e->lwork, sizeof(double));
  if (!e->work) {
    dln_e2e_free(e);
    return dln_error(DLN_ENOMEM, "end-to-end dynamics: out of memory allocating the SVD workspace");
  }
  *out = e;
  return DLN_OK;
}

int dln_e2e_depth(const dln_e2e *e) {
  DLN_ARGS_V(-1, e);
  return e->N;
}
int dln_e2e_rows(const dln_e2e *e) {
  DLN_ARGS_V(-1, e);
  return e->m;
}
int dln_e2e_cols(const dln_e2e *e) {
  DLN_ARGS_V(-1, e);
  return e->n;
}
long dln_e2e_num_rhs(const dln_e2e *e) {
  DLN_ARGS_V(-1, e);
  return e->nrhs;
}
long dln_e2e_num_svd(const dln_e2e *e) {
  DLN_ARGS_V(-1, e);
  return e->nsvd;
}

static int all_finite(size_t n, const double *x) {
  for (size_t i = 0; i < n; ++i)
    if (!isfinite(x[i])) return 0;
  return 1;
}

/* W = U diag(s) V^T (thin) into e->U, e->s, e->Vt. Caller guarantees finite W. */
static int svd(dln_e2e *e, const double *W) {
  int m = e->m, n = e->n, k = e->k;
  dln_copy(e->mn, W, e->A);
  e->nsvd++;
  int info = LAPACKE_dgesdd_work(LAPACK_COL_MAJOR, 'S', m, n, e->A, m, e->s, e->U, m, e->Vt, k, e->work, e->lwork,
                                 e->iwork);
  if (info > 0) { /* divide and conquer did not converge: QR-iteration SVD instead */
    dln_copy(e->mn, W, e->A);
    info = LAPACKE_dgesvd_work(LAPACK_COL_MAJOR, 'S', 'S', m, n, e->A, m, e->s, e->U, m, e->Vt, k, e->work, e->lwork);
  }
  if (info != 0)
    return dln_error(DLN_ELAPACK, "end-to-end dynamics: SVD of the %d x %d end-to-end matrix failed (info=%d)", m, n,
                     info);
  return DLN_OK;
}

/* P_W(A) into out (see the top of the file). W must be finite. */
static int precondition(dln_e2e *e, const double *W, const double *A, double *out) {
  const int N = e->N, m = e->m, n = e->n, k = e->k;
  if (N == 1) { /* P_W = identity */
    if (out != A) dln_copy(e->mn, A, out);
    return DLN_OK;
  }
  int st = svd(e, W);
  if (st) return st;
  /* singular values at rounding level count as exact zeros */
  double cut = (double)(m > n ? m : n) * DBL_EPSILON * e->s[0];
  for (int r = 0; r < k; ++r) {
    double s2 = e->s[r] > cut ? e->s[r] * e->s[r] : 0.0;
    e->pw[r] = 1.0; /* p_0 = identity, also on the null space */
    for (int i = 1; i < N; ++i) e->pw[(size_t)i * k + r] = s2 > 0 ? pow(s2, (double)i / N) : 0.0;
    e->c[r] = e->pw[(size_t)(N - 1) * k + r];
  }
  /* AV = A V = A Vt^T (m x k) */
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, m, k, n, 1.0, A, m, e->Vt, k, 0.0, e->AV, m);
  /* M = U^T A V (k x k) */
  cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, k, k, m, 1.0, e->U, m, e->AV, m, 0.0, e->M, k);
  /* UtA = U^T A (k x n) */
  cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, k, n, m, 1.0, e->U, m, A, m, 0.0, e->UtA, k);
  /* R1 = A V − U M (in AV) */
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, m, k, k, -1.0, e->U, m, e->M, k, 1.0, e->AV, m);
  /* R2 = U^T A − M V^T (in UtA) */
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, k, n, k, -1.0, e->M, k, e->Vt, k, 1.0, e->UtA, k);
  /* M ← M ∘ K, K_{rs} = Σ_{j=1}^{N} p_{j−1}(σ_r) p_{N−j}(σ_s) */
  for (int s = 0; s < k; ++s)
    for (int r = 0; r < k; ++r) {
      double kr = 0;
      for (int j = 1; j <= N; ++j) kr += e->pw[(size_t)(j - 1) * k + r] * e->pw[(size_t)(N - j) * k + s];
      e->M[r + (size_t)s * k] *= kr;
    }
  /* T = diag(c) R2 + (M ∘ K) V^T (k x n) */
  for (int j = 0; j < n; ++j)
    for (int r = 0; r < k; ++r) e->T[r + (size_t)j * k] = e->c[r] * e->UtA[r + (size_t)j * k];
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, k, n, k, 1.0, e->M, k, e->Vt, k, 1.0, e->T, k);
  /* R1 ← R1 diag(c) */
  for (int r = 0; r < k; ++r) cblas_dscal(m, e->c[r], e->AV + (size_t)r * m, 1);
  /* out = U T + R1 diag(c) V^T */
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0, e->U, m, e->T, k, 0.0, e->out, m);
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0, e->AV, m, e->Vt, k, 1.0, e->out, m);
  dln_copy(e->mn, e->out, out);
  return DLN_OK;
}

int dln_e2e_precondition(dln_e2e *e, const double *W, const double *A, double *out) {
  if (!e || !W || !A || !out)
    return dln_error(DLN_EINVAL, "end-to-end preconditioner: expected non-NULL arguments");
  if (!all_finite(e->mn, W)) return dln_check_finite("end-to-end preconditioner: W", e->m, e->n, W);
  return precondition(e, W, A, out);
}

/* Wdot = −P_W(∇ℓ(W)); e->G holds ∇ℓ(W) afterwards. */
static int rhs(dln_e2e *e, const double *W, double *Wdot, double *val) {
  double v = NAN;
  int st = dln_loss_eval(e->loss, W, &v, e->G);
  if (st) return st;
  e->nrhs++;
  if (val) *val = v;
  if ((st = precondition(e, W, e->G, Wdot))) return st;
  for (size_t i = 0; i < e->mn; ++i) Wdot[i] = -Wdot[i];
  return DLN_OK;
}

int dln_e2e_rhs(dln_e2e *e, const double *W, double *Wdot, double *loss_value) {
  if (!e || !W || !Wdot) return dln_error(DLN_EINVAL, "end-to-end right-hand side: expected non-NULL arguments");
  if (!all_finite(e->mn, W)) return dln_check_finite("end-to-end right-hand side: W", e->m, e->n, W);
  return rhs(e, W, Wdot, loss_value);
}

int dln_e2e_grad_norm(dln_e2e *e, const double *W, double *norm) {
  DLN_ARGS(e, W, norm);
  int st = dln_e2e_rhs(e, W, e->wdot, NULL);
  if (st) return st;
  /* ‖∇φ‖² = ⟨∇ℓ, P_W ∇ℓ⟩ = −⟨G, Ẇ⟩ */
  *norm = sqrt(fmax(0.0, -cblas_ddot((int)e->mn, e->G, 1, e->wdot, 1)));
  return DLN_OK;
}

/* ------------------------------------------------------------ from a network */

int dln_e2e_from_net(dln_net *net, const double *theta, double tol, double *W) {
  if (!net || !theta || !W) return dln_error(DLN_EINVAL, "end-to-end from network: expected non-NULL arguments");
  if (!(tol >= 0) || isinf(tol))
    return dln_error(DLN_EINVAL, "end-to-end from network: tol: expected a finite value >= 0, found %g", tol);
  if (tol == 0) tol = DLN_E2E_BALANCE_TOL;
  if (net->tied)
    return dln_error(DLN_EINVAL,
                     "end-to-end from network: tied network (W = U U^T): expected independent layers; the tied "
                     "flow is not the layer-wise gradient flow of 002 Theorem 1");
  int st = dln_net_check_finite(net, theta, "end-to-end from network");
  if (st) return st;
  double u = dln_net_unbalancedness(net, theta);
  double th2 = 0;
  for (size_t i = 0; i < net->nparams; ++i) th2 += theta[i] * theta[i];
  if (!(u <= tol * th2))
    return dln_error(DLN_EINVAL,
                     "end-to-end from network: unbalanced network: unbalancedness max_j ||C_j||_F = %.6g with "
                     "||theta||^2 = %.6g (ratio %.3g); expected ratio <= tol = %.3g (002 Theorem 1 needs C_j = 0)",
                     u, th2, th2 > 0 ? u / th2 : INFINITY, tol);
  return dln_net_product(net, theta, W);
}

/* ------------------------------------------------------------ trajectory table */

int dln_e2e_table_alloc(const dln_e2e *e, size_t cap, dln_table **out) {
  if (!e || !out) return dln_error(DLN_EINVAL, "end-to-end table: expected non-NULL arguments");
  int nc = 3 + e->k + (dln_loss_truth(e->loss) ? 2 : 0);
  char **names = calloc((size_t)nc, sizeof(char *));
  char *buf = calloc((size_t)nc, 24);
  if (!names || !buf) {
    free(names);
    free(buf);
    return dln_error(DLN_ENOMEM, "end-to-end table: out of memory");
  }
  names[0] = "t";
  names[1] = "step";
  names[2] = "loss";
  for (int r = 0; r < e->k; ++r) {
    names[3 + r] = buf + (size_t)24 * r;
    snprintf(names[3 + r], 24, "sv_%d", r + 1);
  }
  if (nc > 3 + e->k) names[3 + e->k] = "dist_true", names[4 + e->k] = "dist_true_rel"; /* as the observable truth */
  int st = dln_table_alloc(out, nc, (const char *const *)names, cap);
  free(names);
  free(buf);
  return st;
}

/* ------------------------------------------------------------ W as a system of the drivers */

typedef struct {
  dln_e2e *e;
  double *samples; /* NULL, or one d_N x d_0 matrix per sample time */
} e2e_run;

static dln_e2e *e2e_of(const dln_run_ctx *c) { return ((const e2e_run *)c->data)->e; }

static size_t e2e_size(const dln_run_ctx *c) { return e2e_of(c)->mn; }

static double loss_at(dln_e2e *e, const double *W) {
  double v = NAN;
  if (dln_loss_eval(e->loss, W, &v, NULL)) return NAN;
  return v;
}

static double e2e_loss(dln_run_ctx *c, const double *W) { return loss_at(e2e_of(c), W); }

/* Gradient descent W ← W + η Ẇ (gd_sign = +1) with g = Ẇ = −P_W(∇ℓ(W)); e->G keeps ∇ℓ(W). */
static int e2e_gd_eval(dln_run_ctx *c, const double *W, double *val, double *g) { return rhs(e2e_of(c), W, g, val); }

/* ‖∇φ‖² = ⟨∇ℓ, P_W ∇ℓ⟩ at a balanced network, from the last e2e_gd_eval */
static double e2e_gd_grad_norm(dln_run_ctx *c, const double *g) {
  dln_e2e *e = e2e_of(c);
  return sqrt(fmax(0.0, -cblas_ddot((int)e->mn, e->G, 1, g, 1)));
}

static int e2e_rhs(dln_run_ctx *c, const double *W, double *Wd) {
  dln_e2e *e = e2e_of(c);
  if (!all_finite(e->mn, W)) {
    c->rhs_bad = 1;
    return 1; /* recoverable: ARKODE retries with a smaller step */
  }
  double val;
  int st = rhs(e, W, Wd, &val);
  if (st) {
    c->rhs_fatal = st; /* the driver returns it; the message is recorded */
    return -1;
  }
  if (!isfinite(val) || !all_finite(e->mn, Wd)) {
    c->rhs_bad = 1;
    return 1;
  }
  return 0;
}

static int e2e_grad_norm(dln_run_ctx *c, const double *W, double *buf, double *norm) {
  (void)buf;
  return dln_e2e_grad_norm(e2e_of(c), W, norm);
}

/* Table row t, step, loss, sv_1..sv_k at W (raw singular values, no cut), and dist_true,
 * dist_true_rel when the loss knows its true matrix. */
static int table_row(dln_e2e *e, dln_table *traj, double t, long step, const double *W) {
  double *row = e->row;
  row[0] = t;
  row[1] = (double)step;
  row[2] = loss_at(e, W);
  if (all_finite(e->mn, W)) {
    int st = svd(e, W);
    if (st) return st;
    dln_copy((size_t)e->k, e->s, row + 3);
  } else {
    for (int r = 0; r < e->k; ++r) row[3 + r] = NAN;
  }
  const double *truth = dln_loss_truth(e->loss);
  if (truth) { /* ‖W − W_true‖_F and relative (the table has the columns: checked at the start) */
    double d = 0, tn = dln_norm2(e->mn, truth);
    for (size_t i = 0; i < e->mn; ++i) d += (W[i] - truth[i]) * (W[i] - truth[i]);
    row[3 + e->k] = sqrt(d);
    row[4 + e->k] = tn > 0 ? sqrt(d) / tn : NAN;
  }
  return dln_table_append(traj, row);
}

/* Sample i (time t) at W: the matrix (every sample time, also one that rounds to the step
 * of the one before), and a table row — not repeated for such a time, as the layer-wise
 * record (train.c) does: two rows at one t would read as a corrupt trajectory. */
static int e2e_record(dln_run_ctx *c, int i, double t, long step, const double *W, int repeat) {
  e2e_run *run = c->data;
  dln_e2e *e = run->e;
  if (i >= 0 && run->samples) dln_copy(e->mn, W, run->samples + (size_t)i * e->mn);
  if (c->traj && !(repeat && c->traj->nrows != 0)) return table_row(e, c->traj, t, step, W);
  return DLN_OK;
}

static const dln_dyn_system e2e_system = {
    .gd_name = "end-to-end gradient descent",
    .flow_name = "end-to-end flow",
    .state_name = "W",
    .size = e2e_size,
    .loss = e2e_loss,
    .gd_eval = e2e_gd_eval,
    .gd_grad_norm = e2e_gd_grad_norm,
    .rhs = e2e_rhs,
    .hvp = NULL, /* GD and ERK only */
    .grad_norm = e2e_grad_norm,
    .record = e2e_record,
    .gd_sign = 1.0,
    .gd_check_state = 1, /* P_W needs a finite W */
    .flow_grad_tol_needs_loss = 0,
    .flow_result_on_early_exit = 1,
};

/* Validation, then the shared driver with `method` (NULL: opt->method). Integrators that
 * need Hessian-vector products are refused (the end-to-end system has none). */
static int e2e_run_method(dln_e2e *e, double *W, const dln_train_options *opt, const dln_integrator_type *method,
                          double *samples, dln_table *traj, dln_train_result *result) {
  if (!result) return dln_error(DLN_EINVAL, "end-to-end run: result: expected a pointer, found NULL");
  dln_dyn_result_init(result);
  if (!e || !W || !opt) return dln_error(DLN_EINVAL, "end-to-end run: expected non-NULL dynamics, W and options");
  dln_train_options local = *opt;
  if (method) local.method = method;
  method = local.method;
  int st = dln_train_check(&local);
  if (st) return st;
  if ((st = dln_check_finite("end-to-end run: initial W", e->m, e->n, W))) return st;
  int ns = dln_train_nsamples(&local);
  if (traj) {
    int nc = 3 + e->k + (dln_loss_truth(e->loss) ? 2 : 0); /* dln_e2e_table_alloc */
    if (traj->ncols != nc)
      return dln_error(DLN_EDIM, "end-to-end trajectory table: expected %d columns (t, step, loss, sv_1..sv_%d%s), found %d", nc,
                       e->k, nc > 3 + e->k ? ", dist_true, dist_true_rel" : "", traj->ncols);
    if (opt->resume) ns -= opt->resume->next_sample; /* the rows before it are in traj */
    if (traj->cap - traj->nrows < (size_t)ns + 1)
      return dln_error(DLN_EINVAL, "end-to-end trajectory table: expected room for %d rows, found %zu", ns + 1,
                       traj->cap - traj->nrows);
  }
  e2e_run run = {e, samples};
  dln_run_ctx c = {0};
  c.sys = &e2e_system;
  c.data = &run;
  c.traj = traj;
  c.opt = &local;
  c.res = result;
  long rhs0 = e->nrhs;
  st = dln_dyn_run(&c, W);
  result->grad_evals = e->nrhs - rhs0;
  /* the summaries' names of the two integrators the end-to-end runs always had */
  if (method == &dln_integrator_gd) result->integrator = "e2e-gd";
  else if (method == &dln_integrator_flow) result->integrator = "e2e-arkode-erk";
  /* samples never reached */
  if (samples)
    for (int i = c.next; i < ns; ++i)
      for (size_t q = 0; q < e->mn; ++q) samples[(size_t)i * e->mn + q] = NAN;
  return st;
}

int dln_e2e_gd(dln_e2e *e, double *W, const dln_train_options *opt, double *samples, dln_table *traj,
               dln_train_result *result) {
  return e2e_run_method(e, W, opt, &dln_integrator_gd, samples, traj, result);
}

int dln_e2e_flow(dln_e2e *e, double *W, const dln_train_options *opt, double *samples, dln_table *traj,
                 dln_train_result *result) {
  return e2e_run_method(e, W, opt, &dln_integrator_flow, samples, traj, result);
}

int dln_e2e_train(dln_e2e *e, double *W, const dln_train_options *opt, dln_table *traj, dln_train_result *result) {
  return e2e_run_method(e, W, opt, NULL, NULL, traj, result);
}
