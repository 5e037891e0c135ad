/* Observable "disturbance": the disturbed flow Ẇ_j = −∂φ/∂W_j + D_j(t) (000 eq. 9, layer
 * by layer; docs/disturbed.md). Columns only when the observer was given training options
 * with a disturbance (dln_observer_alloc_run) on an untied network:
 *   dist_norm     ‖D(t)‖_F = |a(t)| ‖D‖_F; noisy_data: ‖D_k‖_F of step k (a = 1, D = D_k below)
 *   dC{j}         ‖C_j(t) − C_j(0)‖_F, C_j = W_{j+1}ᵀW_{j+1} − W_jW_jᵀ (j = 1..N−1)
 *   dC{j}_rate    d‖C_j(t) − C_j(0)‖_F/dt = ⟨ΔC_j, Ċ_j⟩/‖ΔC_j‖ (‖Ċ_j‖ where ΔC_j = 0), with
 *                 Ċ_j = a(t)(W_{j+1}ᵀD_{j+1} + D_{j+1}ᵀW_{j+1} − D_jW_jᵀ − W_jD_jᵀ): 000 eq. 21
 *                 generalized (the gradient parts cancel, 002 Lemma 1; for N = 2 with P = W_2,
 *                 Q = W_1ᵀ, U = D_2, V = D_1ᵀ it is eq. 21's Uᵀ P + Pᵀ U − Vᵀ Q − Qᵀ V)
 *   Ldot          dφ/dt = −‖∇φ‖² + a(t)⟨∇φ, D⟩ (000 eq. 10, exact along the flow)
 *   thm1_bound    −φ (λ_min(W_1ᵀW_1) + λ_min(W_2W_2ᵀ)) + ½‖D(t)‖²: 000 Thm 1 eq. 11, depth 2 and
 *                 the factorization loss (6) only. σ²_min(Q), σ²_min(P) are read as λ_min(QQᵀ),
 *                 λ_min(PPᵀ) (0 when k < m or k < n), the reading under which the proof's step
 *                 ‖EQ‖ ≥ σ_min(Q)‖E‖ holds; equal to σ²_min when k ≥ max(m, n).
 * Scalar/vector case of 000 §III (depth 2, factorization, n = m = 1; P = W_2, Q = W_1ᵀ ∈ R^{1×k}):
 *   PpQ2          ‖P + Q‖² (000 eq. 15, the squared distance-measure to S^−)
 *   in_Ralpha     1 if ‖P + Q‖² ≥ α² (R_α, 000 eq. 16) else 0; only with --r_alpha ≥ 0
 *   eq18_bound    −φ α²/2 + ½‖D(t)‖² (000 eq. 18, valid inside R_α); only with --r_alpha ≥ 0
 * worst_case (000 §III): D = D(θ) is evaluated at each sample (dln_train_disturbance_eval) and
 * every column reads it with a(t) = 1.
 * Eigenvalues by LAPACKE_dsyev_work with workspaces allocated in init. */
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "dln/error.h"
#include "dln/mat.h"
#include "dln/train.h"
#include "observe/obs_internal.h"

typedef struct dist_ws {
  dln_net *net;
  const dln_train_options *train;
  double Dnorm;
  int noisy;           /* noisy_data: D = D_k of the run (train->noisy_D), a = 1 */
  double *Dw;          /* worst_case: D(θ) at the sample (NULL otherwise) */
  int thm1;            /* depth 2, factorization loss */
  int vec;             /* and n = m = 1 (000 §III): PpQ2 (+ in_Ralpha, eq18_bound when alpha ≥ 0) */
  double *C, *C0, *R;  /* C_j(t), C_j(0) (concatenated), Ċ_j / a */
  size_t *C0off;
  double *A, *ev, *work; /* dsyev: copy, eigenvalues, work */
  lapack_int lwork;
} dist_ws;

static void dist_free(void *state) {
  dist_ws *w = state;
  if (!w) return;
  free(w->C), free(w->C0), free(w->R), free(w->C0off), free(w->A), free(w->ev), free(w->work), free(w->Dw);
  free(w);
}

/* λ_min of the Gram matrix M Mᵀ (trans = 0, M r x c) or Mᵀ M (trans = 1), n = its size. */
static double gram_min(dist_ws *w, const double *M, int r, int c, int trans) {
  int n = trans ? c : r;
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) {
      double s = 0;
      if (trans)
        for (int k = 0; k < r; ++k) s += M[k + (size_t)r * i] * M[k + (size_t)r * j];
      else
        for (int k = 0; k < c; ++k) s += M[i + (size_t)r * k] * M[j + (size_t)r * k];
      w->A[i + (size_t)n * j] = s;
    }
  if (LAPACKE_dsyev_work(LAPACK_COL_MAJOR, 'N', 'U', n, w->A, n, w->ev, w->work, w->lwork) != 0) return NAN;
  return w->ev[0];
}

static int dist_init(dln_obs_setup *s, void **state) {
  const dln_train_options *tr = s->train;
  int noisy = tr && dln_train_disturbance_kind(tr) == DLN_DISTURB_NOISY_DATA;
  int worst = tr && dln_train_disturbance_kind(tr) == DLN_DISTURB_WORST;
  if (noisy && !(tr->noisy_D && tr->disturbance_scale != 0)) return DLN_OK; /* scale 0: plain GD's columns */
  if (!tr || dln_train_disturbance_kind(tr) <= 0 || (!noisy && !worst && !tr->disturbance_D)) return DLN_OK;
  if (!s->theta0)
    return dln_error(DLN_EINVAL, "observer: expected the initial weights theta0 for the drift of C_j under the disturbance, found NULL");
  dln_net *net = s->net;
  const int N = net->depth, *d = net->widths;
  dist_ws *w = calloc(1, sizeof *w);
  if (!w) return dln_error(DLN_ENOMEM, "out of memory allocating an observer workspace");
  *state = w;
  w->net = net;
  w->train = tr;
  w->noisy = noisy;
  w->Dnorm = noisy || worst ? 0 : dln_norm2(net->nparams, tr->disturbance_D);
  if (worst && !(w->Dw = dln_xcalloc(net->nparams ? net->nparams : 1, sizeof(double))))
    return dln_error(DLN_ENOMEM, "out of memory allocating an observer workspace");
  w->thm1 = N == 2 && dln_loss_has(s->loss, DLN_LOSS_IDENTITY);
  dln_obs_add_col(s, "dist_norm", 0);
  for (int j = 1; j < N; ++j) dln_obs_add_col(s, "dC%d", j), dln_obs_add_col(s, "dC%d_rate", j);
  dln_obs_add_col(s, "Ldot", 0);
  if (w->thm1) dln_obs_add_col(s, "thm1_bound", 0);
  else dln_obs_note(s, "thm1_bound", "000 Thm 1 needs depth 2 and the factorization loss");
  w->vec = w->thm1 && d[0] == 1 && d[2] == 1 ? 1 + (tr->r_alpha >= 0) : 0;
  if (w->vec) dln_obs_add_col(s, "PpQ2", 0);
  if (w->vec == 2) dln_obs_add_col(s, "in_Ralpha", 0), dln_obs_add_col(s, "eq18_bound", 0);
  if (!w->vec) dln_obs_note(s, "PpQ2", "000 sec. III needs depth 2, the factorization loss and n = m = 1");
  size_t cmax = 1, tot = 0;
  w->C0off = calloc((size_t)N, sizeof *w->C0off);
  if (!w->C0off) return dln_error(DLN_ENOMEM, "out of memory allocating an observer workspace");
  for (int j = 1; j < N; ++j) {
    size_t c2 = (size_t)d[j] * (size_t)d[j];
    cmax = c2 > cmax ? c2 : cmax;
    w->C0off[j] = tot;
    tot += c2;
  }
  w->C = dln_xcalloc(cmax, sizeof(double));
  w->R = dln_xcalloc(cmax, sizeof(double));
  w->C0 = dln_xcalloc(tot ? tot : 1, sizeof(double));
  if (!w->C || !w->R || !w->C0) return dln_error(DLN_ENOMEM, "out of memory allocating an observer workspace");
  for (int j = 1; j < N; ++j) {
    int st = dln_net_conserved(net, s->theta0, j, w->C0 + w->C0off[j]);
    if (st) return st;
  }
  if (!w->thm1) return DLN_OK;
  int n = d[0] > d[2] ? d[0] : d[2];
  w->A = dln_xcalloc((size_t)n * (size_t)n, sizeof(double));
  w->ev = dln_xcalloc((size_t)n, sizeof(double));
  if (!w->A || !w->ev) return dln_error(DLN_ENOMEM, "out of memory allocating an observer workspace");
  double q = 0;
  lapack_int info = LAPACKE_dsyev_work(LAPACK_COL_MAJOR, 'N', 'U', n, w->A, n, w->ev, &q, -1);
  if (info != 0) return dln_error(DLN_ELAPACK, "dsyev workspace query (%dx%d) returned info=%d", n, n, (int)info);
  w->lwork = (lapack_int)q > 1 ? (lapack_int)q : 1;
  w->work = dln_xcalloc((size_t)w->lwork, sizeof(double));
  return w->work ? DLN_OK : dln_error(DLN_ENOMEM, "out of memory allocating an observer workspace");
}

/* R = W_{j+1}ᵀD_{j+1} + D_{j+1}ᵀW_{j+1} − D_jW_jᵀ − W_jD_jᵀ (d_j x d_j), the rate of C_j per unit a(t). */
static void rate(const dln_net *net, const double *th, const double *D, int j, double *R) {
  const int *d = net->widths, n = d[j], up = d[j + 1], dn = d[j - 1];
  const double *Wu = th + net->offset[j + 1], *Du = D + net->offset[j + 1], *W = th + net->offset[j], *Dj = D + net->offset[j];
  for (int a = 0; a < n; ++a)
    for (int b = 0; b < n; ++b) {
      double s = 0;
      for (int k = 0; k < up; ++k) s += Wu[k + (size_t)up * a] * Du[k + (size_t)up * b] + Du[k + (size_t)up * a] * Wu[k + (size_t)up * b];
      for (int k = 0; k < dn; ++k) s -= Dj[a + (size_t)n * k] * W[b + (size_t)n * k] + W[a + (size_t)n * k] * Dj[b + (size_t)n * k];
      R[a + (size_t)n * b] = s;
    }
}

static int dist_eval(void *state, const dln_obs_frame *f, double *cols) {
  dist_ws *w = state;
  const dln_net *net = w->net;
  const int N = net->depth, *d = net->widths;
  const double *D = w->noisy ? w->train->noisy_D : w->train->disturbance_D;
  double a = w->noisy ? 1.0 : dln_train_disturbance_factor(w->train, f->t);
  if (w->noisy) w->Dnorm = dln_norm2(net->nparams, D); /* ‖D_k‖, drawn before step k's samples */
  if (w->Dw) { /* worst case: D(θ), a = 1 */
    int st = dln_train_disturbance_eval(w->train, net, f->t, f->theta, w->Dw);
    if (st) return st;
    D = w->Dw, a = 1.0, w->Dnorm = dln_norm2(net->nparams, D);
  }
  int c = 0;
  cols[c++] = fabs(a) * w->Dnorm;
  for (int j = 1; j < N; ++j) {
    size_t n2 = (size_t)d[j] * (size_t)d[j];
    int st = dln_net_conserved((dln_net *)net, f->theta, j, w->C);
    if (st) return st;
    rate(net, f->theta, D, j, w->R);
    const double *C0 = w->C0 + w->C0off[j];
    double dn = 0, ip = 0, rn = 0;
    for (size_t i = 0; i < n2; ++i) {
      double e = w->C[i] - C0[i];
      dn += e * e, ip += e * a * w->R[i], rn += a * a * w->R[i] * w->R[i];
    }
    dn = sqrt(dn);
    cols[c++] = dn;
    cols[c++] = dn > 0 ? ip / dn : sqrt(rn);
  }
  double g2 = 0, gd = 0;
  for (size_t i = 0; i < net->nparams; ++i) g2 += f->grad[i] * f->grad[i], gd += f->grad[i] * D[i];
  cols[c++] = -g2 + a * gd;
  if (w->thm1) {
    const double *W1 = f->theta + net->offset[1], *W2 = f->theta + net->offset[2];
    double l1 = gram_min(w, W1, d[1], d[0], 1), l2 = gram_min(w, W2, d[2], d[1], 0);
    cols[c++] = -f->loss * (fmax(l1, 0.0) + fmax(l2, 0.0)) + 0.5 * a * a * w->Dnorm * w->Dnorm;
  }
  if (w->vec) { /* W_1 is k x 1, W_2 is 1 x k: P + Q = W_2 + W_1ᵀ entrywise (000 eq. 15) */
    const double *W1 = f->theta + net->offset[1], *W2 = f->theta + net->offset[2];
    double s2 = 0, al = w->train->r_alpha;
    for (int i = 0; i < d[1]; ++i) s2 += (W2[i] + W1[i]) * (W2[i] + W1[i]);
    cols[c++] = s2;
    if (w->vec == 2) {
      cols[c++] = s2 >= al * al ? 1.0 : 0.0;
      cols[c++] = -f->loss * al * al / 2 + 0.5 * a * a * w->Dnorm * w->Dnorm;
    }
  }
  return DLN_OK;
}

const dln_observable dln_observable_disturbance = {
    "disturbance",
    "disturbed flow only (000 eq. 9): dist_norm = ||D(t)||, dC{j} = ||C_j(t) - C_j(0)|| and dC{j}_rate (000 eq. 21), Ldot, "
    "thm1_bound (000 Thm 1, depth 2 factorization), PpQ2 = ||P + Q||^2 (000 eq. 15; n = m = 1) with in_Ralpha, eq18_bound "
    "(000 eq. 16, 18; --r_alpha)",
    DLN_OBSERVABLE_IN_ALL | DLN_OBSERVABLE_USES_GRAD | DLN_OBSERVABLE_UNTIED,
    0,
    0,
    0,
    dist_init,
    dist_eval,
    dist_free};
