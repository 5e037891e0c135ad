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
 * The flow driver follows dln_train's (src/dynamics/train.c): ARKODE ERKStep in
 * one-step mode, samples by dense output (ERKStepGetDky), loss-threshold crossing by
 * bisection on the dense output, the same stop reasons and messages. */
#include "dln/e2e.h"

#include <arkode/arkode_erkstep.h>
#include <cblas.h>
#include <float.h>
#include <lapacke.h>
#include <math.h>
#include <nvector/nvector_serial.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sundials/sundials_context.h>
#include <time.h>

#include "dln/error.h"
#include "dln/mat.h"
#include "nvec_fast.h"

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
  /* driver buffers */
  double *ybuf;          /* m x n: dense output / GD second iterate */
  double *wdot;          /* m x n: GD step */
  double *row;           /* 3 + k */
  long nrhs, nsvd;
  /* flow run context */
  int rhs_bad;
  int rhs_fatal;         /* status of a failed right-hand side, else 0 */
  char sundials_msg[256];
};

static void *xcalloc(size_t n, size_t sz) { return calloc(n ? n : 1, sz); }

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
  free(e->ybuf);
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
  e->G = xcalloc(mn, sizeof(double));
  e->A = xcalloc(mn, sizeof(double));
  e->U = xcalloc((size_t)m * k, sizeof(double));
  e->s = xcalloc((size_t)k, sizeof(double));
  e->Vt = xcalloc((size_t)k * n, sizeof(double));
  e->AV = xcalloc((size_t)m * k, sizeof(double));
  e->M = xcalloc((size_t)k * k, sizeof(double));
  e->UtA = xcalloc((size_t)k * n, sizeof(double));
  e->T = xcalloc((size_t)k * n, sizeof(double));
  e->out = xcalloc(mn, sizeof(double));
  e->pw = xcalloc(nk, sizeof(double));
  e->c = xcalloc((size_t)k, sizeof(double));
  e->iwork = calloc((size_t)8 * k, sizeof(int));
  e->ybuf = xcalloc(mn, sizeof(double));
  e->wdot = xcalloc(mn, sizeof(double));
  e->row = xcalloc((size_t)3 + k, sizeof(double));
  if (!e->G || !e->A || !e->U || !e->s || !e->Vt || !e->AV || !e->M || !e->UtA || !e->T || !e->out || !e->pw ||
      !e->c || !e->iwork || !e->ybuf || !e->wdot || !e->row) {
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
  e->work = xcalloc((size_t)e->lwork, sizeof(double));
  if (!e->work) {
    dln_e2e_free(e);
    return dln_error(DLN_ENOMEM, "end-to-end dynamics: out of memory allocating the SVD workspace");
  }
  *out = e;
  return DLN_OK;
}

int dln_e2e_depth(const dln_e2e *e) { return e->N; }
int dln_e2e_rows(const dln_e2e *e) { return e->m; }
int dln_e2e_cols(const dln_e2e *e) { return e->n; }
long dln_e2e_num_rhs(const dln_e2e *e) { return e->nrhs; }
long dln_e2e_num_svd(const dln_e2e *e) { return e->nsvd; }

static int all_finite(size_t n, const double *x) {
  for (size_t i = 0; i < n; ++i)
    if (!isfinite(x[i])) return 0;
  return 1;
}

/* W = U diag(s) V^T (thin) into e->U, e->s, e->Vt. Caller guarantees finite W. */
static int svd(dln_e2e *e, const double *W) {
  int m = e->m, n = e->n, k = e->k;
  memcpy(e->A, W, e->mn * sizeof(double));
  e->nsvd++;
  int info = LAPACKE_dgesdd_work(LAPACK_COL_MAJOR, 'S', m, n, e->A, m, e->s, e->U, m, e->Vt, k, e->work, e->lwork,
                                 e->iwork);
  if (info > 0) { /* divide and conquer did not converge: QR-iteration SVD instead */
    memcpy(e->A, W, e->mn * sizeof(double));
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
    if (out != A) memcpy(out, A, e->mn * sizeof(double));
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
  memcpy(out, e->out, e->mn * sizeof(double));
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
  int nc = 3 + e->k;
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
  int st = dln_table_alloc(out, nc, (const char *const *)names, cap);
  free(names);
  free(buf);
  return st;
}

/* ------------------------------------------------------------ drivers: shared */

typedef struct {
  dln_e2e *e;
  const dln_train_options *opt;
  double *samples;
  dln_table *traj;
  dln_train_result *res;
  double *times;
  int ntimes, next;
  double last_progress, t0_wall;
} run_ctx;

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}


static double loss_at(dln_e2e *e, const double *W) {
  double v = NAN;
  if (dln_loss_eval(e->loss, W, &v, NULL)) return NAN;
  return v;
}

/* Table row t, step, loss, sv_1..sv_k at W (raw singular values, no cut). */
static int table_row(run_ctx *c, double t, long step, const double *W) {
  dln_e2e *e = c->e;
  double *row = e->row;
  row[0] = t;
  row[1] = (double)step;
  row[2] = loss_at(e, W);
  if (all_finite(e->mn, W)) {
    int st = svd(e, W);
    if (st) return st;
    memcpy(row + 3, e->s, (size_t)e->k * sizeof(double));
  } else {
    for (int r = 0; r < e->k; ++r) row[3 + r] = NAN;
  }
  return dln_table_append(c->traj, row);
}

/* Sample index i (time t) at W. */
static int record_sample(run_ctx *c, int i, double t, long step, const double *W) {
  if (c->samples) memcpy(c->samples + (size_t)i * c->e->mn, W, c->e->mn * sizeof(double));
  if (c->traj) return table_row(c, t, step, W);
  return DLN_OK;
}

static int progress(run_ctx *c, double t, double loss) {
  if (!c->opt->progress) return 0;
  double w = now_seconds();
  if (w - c->last_progress < 0.1) return 0;
  c->last_progress = w;
  return c->opt->progress(c->opt->progress_ctx, t, c->opt->t_end, loss);
}

static void finish(run_ctx *c, int reason, double t, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
static void finish(run_ctx *c, int reason, double t, const char *fmt, ...) {
  c->res->stop_reason = reason;
  c->res->t = t;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->res->message, sizeof c->res->message, fmt, ap);
  va_end(ap);
}

/* Validation and bookkeeping common to both drivers; *c is ready on DLN_OK. */
static int run_begin(run_ctx *c, dln_e2e *e, double *W, const dln_train_options *opt, dln_train_options *local,
                     dln_method method, double *samples, dln_table *traj, dln_train_result *result) {
  if (!result) return dln_error(DLN_EINVAL, "end-to-end run: result: expected a pointer, found NULL");
  memset(result, 0, sizeof *result);
  result->t_threshold = NAN;
  result->fail_t = NAN;
  result->fail_step = -1;
  result->loss = NAN;
  if (!e || !W || !opt) return dln_error(DLN_EINVAL, "end-to-end run: expected non-NULL dynamics, W and options");
  *local = *opt;
  local->method = method;
  int st = dln_train_check(local);
  if (st) return st;
  if ((st = dln_check_finite("end-to-end run: initial W", e->m, e->n, W))) return st;
  int ns = dln_train_nsamples(local);
  if (traj) {
    if (traj->ncols != 3 + e->k)
      return dln_error(DLN_EDIM, "end-to-end trajectory table: expected %d columns (t, step, loss, sv_1..sv_%d), found %d",
                       3 + e->k, e->k, traj->ncols);
    if (traj->cap - traj->nrows < (size_t)ns + 1)
      return dln_error(DLN_EINVAL, "end-to-end trajectory table: expected room for %d rows, found %zu", ns + 1,
                       traj->cap - traj->nrows);
  }
  memset(c, 0, sizeof *c);
  c->e = e;
  c->opt = local;
  c->samples = samples;
  c->traj = traj;
  c->res = result;
  c->ntimes = ns;
  c->times = malloc((size_t)ns * sizeof(double));
  if (!c->times) return dln_error(DLN_ENOMEM, "end-to-end run: out of memory allocating %d sample times", ns);
  dln_train_sample_times(local, c->times);
  c->t0_wall = now_seconds();
  c->last_progress = c->t0_wall;
  return DLN_OK;
}

static int run_end(run_ctx *c, int st, const double *W) {
  dln_train_result *r = c->res;
  /* samples never reached */
  if (c->samples)
    for (int i = c->next; i < c->ntimes; ++i)
      for (size_t q = 0; q < c->e->mn; ++q) c->samples[(size_t)i * c->e->mn + q] = NAN;
  /* final row at the stop point unless it was just sampled */
  if (!st && c->traj && (c->traj->nrows == 0 || dln_table_row(c->traj, c->traj->nrows - 1)[0] != r->t))
    st = table_row(c, r->t, r->steps, W);
  r->wall_seconds = now_seconds() - c->t0_wall;
  free(c->times);
  return st;
}

/* ------------------------------------------------------------ discretized dynamics (002 Claim 1) */

static int gd_loop(run_ctx *c, double *W) {
  dln_e2e *e = c->e;
  const dln_train_options *o = c->opt;
  dln_train_result *r = c->res;
  size_t n = e->mn;
  double eta = o->eta;
  long kmax = (long)floor(o->t_end / eta + 0.5); /* steps to reach t_end */
  int by_steps = 0;
  if (o->max_steps > 0 && o->max_steps < kmax) {
    kmax = o->max_steps;
    by_steps = 1;
  }
  double *cur = W, *nxt = e->ybuf, *wdot = e->wdot;
  int status = DLN_OK;
  double val = NAN;
  long k = 0;
  for (;; ++k) {
    double t = k * eta;
    double wmax = dln_vec_maxabs(n, cur);
    int bad = !(wmax <= o->blowup);
    if (!bad) {
      status = rhs(e, cur, wdot, &val);
      if (status) break;
      r->grad_evals++;
      bad = !isfinite(val) || val > o->blowup;
    } else {
      val = NAN;
    }
    if (bad) {
      /* W_k is bad: the last good state is W_{k-1} (or W_0 if k == 0) */
      r->fail_step = k;
      r->fail_t = t;
      double badval = val;
      if (k > 0) {
        double *tmp = cur;
        cur = nxt;
        nxt = tmp; /* back to W_{k-1} */
        --k;
      }
      finish(c, DLN_STOP_DIVERGED, k * eta,
             "end-to-end gradient descent diverged at step %ld (t = %.6g): %s %g", r->fail_step, r->fail_t,
             !(wmax <= o->blowup) ? "max|W| is" : (isfinite(badval) ? "loss exceeded blow-up threshold" : "loss is"),
             !(wmax <= o->blowup) ? wmax : badval);
      val = loss_at(e, cur);
      break;
    }
    /* samples at the steps nearest to the requested times */
    while (c->next < c->ntimes && (long)floor(c->times[c->next] / eta + 0.5) <= k) {
      if ((status = record_sample(c, c->next, t, k, cur))) goto out;
      c->next++;
    }
    if (o->loss_threshold >= 0 && val <= o->loss_threshold) {
      r->t_threshold = t;
      finish(c, DLN_STOP_LOSS, t, "loss %.6g reached the threshold %.6g at step %ld (t = %.6g)", val,
             o->loss_threshold, k, t);
      break;
    }
    if (o->grad_tol > 0) {
      /* ‖∇φ‖² = ⟨∇ℓ, P_W ∇ℓ⟩ at a balanced network */
      double gn = sqrt(fmax(0.0, -cblas_ddot((int)n, e->G, 1, wdot, 1)));
      if (gn <= o->grad_tol) {
        finish(c, DLN_STOP_CONVERGED, t, "gradient norm %.3g <= grad_tol %.3g at step %ld (t = %.6g)", gn,
               o->grad_tol, k, t);
        break;
      }
    }
    if (k >= kmax) {
      if (by_steps)
        finish(c, DLN_STOP_STEPS, t, "step budget of %ld steps reached (t = %.6g)", kmax, t);
      else
        finish(c, DLN_STOP_TIME, t, "reached t_end = %.6g after %ld steps", o->t_end, k);
      break;
    }
    if ((k & 1023) == 0 && progress(c, t, val)) {
      finish(c, DLN_STOP_CANCELLED, t, "cancelled at step %ld (t = %.6g)", k, t);
      break;
    }
    /* W_{k+1} = W_k − η P_{W_k}(∇ℓ(W_k)) = W_k + η Ẇ_k */
    for (size_t i = 0; i < n; ++i) nxt[i] = cur[i] + eta * wdot[i];
    double *tmp = cur;
    cur = nxt;
    nxt = tmp;
  }
out:
  r->steps = k;
  r->loss = val;
  if (cur != W) memcpy(W, cur, n * sizeof(double));
  return status;
}

int dln_e2e_gd(dln_e2e *e, double *W, const dln_train_options *opt, double *samples, dln_table *traj,
               dln_train_result *result) {
  run_ctx c;
  dln_train_options local;
  int st = run_begin(&c, e, W, opt, &local, DLN_METHOD_GD, samples, traj, result);
  if (st) return st;
  long rhs0 = e->nrhs;
  st = gd_loop(&c, W);
  result->grad_evals = e->nrhs - rhs0;
  return run_end(&c, st, W);
}

/* ------------------------------------------------------------ flow (ARKODE ERKStep) */

static int flow_rhs(sunrealtype t, N_Vector y, N_Vector ydot, void *user) {
  (void)t;
  dln_e2e *e = user;
  const double *W = N_VGetArrayPointer(y);
  double *Wd = N_VGetArrayPointer(ydot);
  if (!all_finite(e->mn, W)) {
    e->rhs_bad = 1;
    return 1; /* recoverable: ARKODE retries with a smaller step */
  }
  double val;
  int st = rhs(e, W, Wd, &val);
  if (st) {
    e->rhs_fatal = st;
    return -1;
  }
  if (!isfinite(val) || !all_finite(e->mn, Wd)) {
    e->rhs_bad = 1;
    return 1;
  }
  return 0;
}

static void flow_err(int code, const char *module, const char *function, char *msg, void *user) {
  dln_e2e *e = user;
  (void)code;
  snprintf(e->sundials_msg, sizeof e->sundials_msg, "%s/%s: %s", module, function, msg);
}

static ARKODE_ERKTableID erk_table(int order) {
  switch (order) {
    case 2: return ARKODE_HEUN_EULER_2_1_2;
    case 3: return ARKODE_BOGACKI_SHAMPINE_4_2_3;
    case 4: return ARKODE_ZONNEVELD_5_3_4;
    case 6: return ARKODE_VERNER_8_5_6;
    case 8: return ARKODE_FEHLBERG_13_7_8;
    default: return ARKODE_DORMAND_PRINCE_7_4_5;
  }
}

static int flow_loop(run_ctx *c, double *W) {
  dln_e2e *e = c->e;
  const dln_train_options *o = c->opt;
  dln_train_result *r = c->res;
  size_t n = e->mn;
  double *ybuf = e->ybuf;
  int status = DLN_OK;
  SUNContext sctx = NULL;
  N_Vector y = NULL, ys = NULL;
  void *mem = NULL;
  long steps = 0;
  e->sundials_msg[0] = 0;
  if (SUNContext_Create(NULL, &sctx)) {
    status = dln_error(DLN_ENOMEM, "SUNDIALS context creation failed");
    goto out;
  }
  y = N_VMake_Serial((sunindextype)n, W, sctx);
  dln_nvec_fast(y);
  ys = N_VMake_Serial((sunindextype)n, ybuf, sctx);
  dln_nvec_fast(ys);
  if (!y || !ys) {
    status = dln_error(DLN_ENOMEM, "out of memory allocating SUNDIALS vectors");
    goto out;
  }
  mem = ERKStepCreate(flow_rhs, 0.0, y, sctx);
  if (!mem) {
    status = dln_error(DLN_ENOMEM, "ERKStepCreate failed");
    goto out;
  }
  if (ERKStepSetUserData(mem, e) || ERKStepSetErrHandlerFn(mem, flow_err, e) ||
      ERKStepSStolerances(mem, o->rtol, o->atol) || ERKStepSetTableNum(mem, erk_table(o->erk_order)) ||
      ERKStepSetStopTime(mem, o->t_end) || ERKStepSetMaxNumSteps(mem, -1)) {
    status = dln_error(DLN_ESOLVER, "ARKODE setup failed: %s", e->sundials_msg);
    goto out;
  }
  long max_steps = o->max_steps > 0 ? o->max_steps : 10000000L;
  double val = loss_at(e, W), t = 0.0, tprev = 0.0;
  if (!isfinite(val)) {
    r->fail_t = 0;
    r->fail_step = 0;
    finish(c, DLN_STOP_DIVERGED, 0.0, "loss is %g at the initial point", val);
    goto out;
  }
  while (c->next < c->ntimes && c->times[c->next] <= 0.0) {
    if ((status = record_sample(c, c->next, 0.0, 0, W))) goto out;
    c->next++;
  }
  if (o->loss_threshold >= 0 && val <= o->loss_threshold) {
    r->t_threshold = 0.0;
    finish(c, DLN_STOP_LOSS, 0.0, "loss %.6g is below the threshold %.6g at t = 0", val, o->loss_threshold);
    goto out;
  }
  for (;;) {
    if (steps >= max_steps) {
      finish(c, DLN_STOP_STEPS, t, "step budget of %ld integrator steps reached at t = %.6g", max_steps, t);
      break;
    }
    tprev = t;
    e->rhs_bad = 0;
    e->rhs_fatal = 0;
    int flag = ERKStepEvolve(mem, o->t_end, y, &t, ARK_ONE_STEP);
    if (flag < 0) {
      r->fail_t = t;
      r->fail_step = steps;
      if (e->rhs_fatal) {
        status = e->rhs_fatal; /* message already recorded by the right-hand side */
        break;
      }
      int diverged = e->rhs_bad;
      finish(c, diverged ? DLN_STOP_DIVERGED : DLN_STOP_SOLVER, t,
             "end-to-end flow %s at t = %.6g after %ld steps: %s",
             diverged ? "diverged (non-finite gradient)" : "integrator failed", t, steps, e->sundials_msg);
      break;
    }
    steps++;
    double ymax = dln_vec_maxabs(n, W);
    int need_loss = o->loss_threshold >= 0 || !(ymax <= o->blowup);
    if (need_loss || (steps & 63) == 0) val = loss_at(e, W);
    if (!isfinite(ymax) || ymax > o->blowup || !isfinite(val) || val > o->blowup) {
      r->fail_t = t;
      r->fail_step = steps;
      finish(c, DLN_STOP_DIVERGED, t, "end-to-end flow diverged at t = %.6g (step %ld): max|W| = %g, loss = %g", t,
             steps, ymax, val);
      break;
    }
    /* threshold crossing inside [tprev, t]: bisection on the dense output */
    double tstop = t;
    int hit = 0;
    if (o->loss_threshold >= 0 && val <= o->loss_threshold) {
      double a = tprev, b = t;
      for (int it = 0; it < 60 && b - a > 1e-14 * (1 + fabs(b)); ++it) {
        double mid = 0.5 * (a + b);
        if (ERKStepGetDky(mem, mid, 0, ys)) break;
        if (loss_at(e, ybuf) <= o->loss_threshold) b = mid;
        else a = mid;
      }
      tstop = b;
      hit = 1;
    }
    while (c->next < c->ntimes && c->times[c->next] <= tstop) {
      double ts = c->times[c->next];
      if (ts == t) {
        if ((status = record_sample(c, c->next, ts, steps, W))) goto out;
      } else {
        if (ERKStepGetDky(mem, ts, 0, ys)) {
          status = dln_error(DLN_ESOLVER, "dense output at t = %g failed: %s", ts, e->sundials_msg);
          goto out;
        }
        if ((status = record_sample(c, c->next, ts, steps, ybuf))) goto out;
      }
      c->next++;
    }
    if (hit) {
      if (tstop < t && !ERKStepGetDky(mem, tstop, 0, ys)) memcpy(W, ybuf, n * sizeof(double));
      r->t_threshold = tstop;
      t = tstop;
      finish(c, DLN_STOP_LOSS, t, "loss reached the threshold %.6g at t = %.10g (step %ld)", o->loss_threshold, t,
             steps);
      break;
    }
    if (o->grad_tol > 0) {
      double gn;
      if ((status = dln_e2e_grad_norm(e, W, &gn))) goto out;
      if (gn <= o->grad_tol) {
        finish(c, DLN_STOP_CONVERGED, t, "gradient norm %.3g <= grad_tol %.3g at t = %.6g", gn, o->grad_tol, t);
        break;
      }
    }
    if (t >= o->t_end) {
      finish(c, DLN_STOP_TIME, t, "reached t_end = %.6g after %ld integrator steps", o->t_end, steps);
      break;
    }
    if (progress(c, t, val)) {
      finish(c, DLN_STOP_CANCELLED, t, "cancelled at t = %.6g", t);
      break;
    }
  }
  {
    long natt = 0, netf = 0;
    ERKStepGetNumStepAttempts(mem, &natt);
    ERKStepGetNumErrTestFails(mem, &netf);
    r->attempted = natt;
    r->rejected = netf;
  }
out:
  r->steps = steps;
  r->loss = loss_at(e, W);
  if (mem) ERKStepFree(&mem);
  if (y) N_VDestroy(y);
  if (ys) N_VDestroy(ys);
  if (sctx) SUNContext_Free(&sctx);
  return status;
}

int dln_e2e_flow(dln_e2e *e, double *W, const dln_train_options *opt, double *samples, dln_table *traj,
                 dln_train_result *result) {
  run_ctx c;
  dln_train_options local;
  int st = run_begin(&c, e, W, opt, &local, DLN_METHOD_FLOW, samples, traj, result);
  if (st) return st;
  long rhs0 = e->nrhs;
  st = flow_loop(&c, W);
  result->grad_evals = e->nrhs - rhs0;
  return run_end(&c, st, W);
}
