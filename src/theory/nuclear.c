/* The minimum-nuclear-norm solution of linear measurements (dln/nuclear.h; 002 §4.1
 * eq. 10) by ADMM with a dual certificate. Scaled ADMM (Boyd et al. 2011, §3.1.1) on
 * min ‖X‖_* + ι{𝒜(W) = b̂}(W) s.t. X = W:
 *   X ← SVT_{1/ρ}(W − U)          prox of ‖·‖_* over ρ: shrink the singular values by 1/ρ
 *   W ← P(X + U)                  P(Z) = Z − 𝒜*(𝒜𝒜*)^†(𝒜(Z) − b)
 *   U ← U + X − W                 so U ∈ range(𝒜*) after every W step
 * Dual: max bᵀy s.t. ‖𝒜*(y)‖_2 ≤ 1; y = (𝒜𝒜*)^† 𝒜(−ρU), so 𝒜*(y) = −ρU, scaled by
 * 1/max(1, ‖𝒜*(y)‖_2). Derivation and tests: docs/nuclear.md, tests/test_nuclear.c. */
#include "dln/nuclear.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "dln/error.h"

struct dln_nuclear {
  int rows, cols, k, m, q; /* q: measurements the solver works with (entrywise: distinct entries) */
  size_t n;                /* rows * cols */
  double *A, *Gp, *b;      /* dense: A (n x m), (AᵀA)^† (m x m), b (m) */
  int *uidx, *map;         /* entrywise: distinct linear indices (q), measurement -> distinct entry (m) */
  double *uval, *cnt;      /* entrywise: mean value and count per distinct entry (q) */
  double *bh;              /* consistent part b̂ (dense: m) */
  double *X, *U, *Wo, *V, *T, *M, *s, *Us, *Vt, *work, *r, *t, *y;
  int *iwork, lwork;
  double rho;
};

void dln_nuclear_free(dln_nuclear *s) {
  if (!s) return;
  double *d[] = {s->A, s->Gp, s->b, s->uval, s->cnt, s->bh, s->X, s->U, s->Wo, s->V, s->T, s->M, s->s, s->Us, s->Vt,
                 s->work, s->r, s->t, s->y};
  for (size_t i = 0; i < sizeof d / sizeof *d; ++i) free(d[i]);
  free(s->uidx);
  free(s->map);
  free(s->iwork);
  free(s);
}

/* Gp = (AᵀA)^† by the symmetric eigendecomposition (eigenvalues below m·ε·λ_max dropped). */
static int dense_pinv(dln_nuclear *s) {
  int m = s->m, n = (int)s->n, st = DLN_OK;
  double *G = dln_dalloc((size_t)m * m), *Q = dln_dalloc((size_t)m * m), *ev = dln_dalloc((size_t)m);
  if (!G || !Q || !ev) st = dln_error(DLN_ENOMEM, "nuclear-norm baseline: out of memory for the %d x %d Gram matrix", m, m);
  if (!st) {
    cblas_dsyrk(CblasColMajor, CblasUpper, CblasTrans, m, n, 1.0, s->A, n, 0.0, G, m); /* G = AᵀA */
    int info = LAPACKE_dsyev(LAPACK_COL_MAJOR, 'V', 'U', m, G, m, ev);
    if (info) st = dln_error(DLN_ELAPACK, "nuclear-norm baseline: dsyev of the %d x %d Gram matrix returned info=%d", m, m, info);
  }
  if (!st) {
    double cut = (m > n ? m : n) * 2.220446049250313e-16 * (ev[m - 1] > 0 ? ev[m - 1] : 0);
    for (int j = 0; j < m; ++j) { /* Q = V diag(1/λ) (kept λ only) */
      double f = ev[j] > cut && ev[j] > 0 ? 1.0 / ev[j] : 0.0;
      for (int i = 0; i < m; ++i) Q[i + (size_t)j * m] = G[i + (size_t)j * m] * f;
    }
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, m, m, m, 1.0, Q, m, G, m, 0.0, s->Gp, m); /* Gp = Q Vᵀ */
    /* b̂ = A Gp Aᵀ... in measurement space: b̂ = AᵀA Gp b (the part of b in range(Aᵀ)) */
    cblas_dgemv(CblasColMajor, CblasNoTrans, m, m, 1.0, s->Gp, m, s->b, 1, 0.0, ev, 1);
    cblas_dgemv(CblasColMajor, CblasNoTrans, n, m, 1.0, s->A, n, ev, 1, 0.0, s->V, 1);
    cblas_dgemv(CblasColMajor, CblasTrans, n, m, 1.0, s->A, n, s->V, 1, 0.0, s->bh, 1);
  }
  free(G);
  free(Q);
  free(ev);
  return st;
}

/* Distinct entries with the mean of their observations (the consistent part b̂). */
static int entry_setup(dln_nuclear *s, const int *idx, const double *b) {
  int *pos = malloc(s->n * sizeof *pos);
  if (!pos) return dln_error(DLN_ENOMEM, "nuclear-norm baseline: out of memory");
  for (size_t i = 0; i < s->n; ++i) pos[i] = -1;
  s->q = 0;
  for (int i = 0; i < s->m; ++i) {
    int j = pos[idx[i]];
    if (j < 0) j = pos[idx[i]] = s->q++, s->uidx[j] = idx[i];
    s->map[i] = j;
    s->uval[j] += b[i];
    s->cnt[j] += 1;
  }
  for (int j = 0; j < s->q; ++j) s->uval[j] /= s->cnt[j];
  free(pos);
  return DLN_OK;
}

/* Workspaces of the SVDs: thin (jobz 'S') for the thresholding, values only ('N'). */
static int svd_setup(dln_nuclear *s) {
  int r = s->rows, c = s->cols, k = s->k;
  double q[3] = {0, 0, 0};
  int i1 = LAPACKE_dgesdd_work(LAPACK_COL_MAJOR, 'S', r, c, s->T, r, s->s, s->Us, r, s->Vt, k, &q[0], -1, s->iwork);
  int i2 = LAPACKE_dgesdd_work(LAPACK_COL_MAJOR, 'N', r, c, s->T, r, s->s, NULL, 1, NULL, 1, &q[1], -1, s->iwork);
  int i3 = LAPACKE_dgesvd_work(LAPACK_COL_MAJOR, 'S', 'S', r, c, s->T, r, s->s, s->Us, r, s->Vt, k, &q[2], -1);
  if (i1 || i2 || i3) return dln_error(DLN_ELAPACK, "nuclear-norm baseline: SVD workspace query failed (info %d, %d, %d)", i1, i2, i3);
  double w = fmax(q[0], fmax(q[1], q[2]));
  if (!(w < 2147483647.0)) return dln_error(DLN_ENOMEM, "nuclear-norm baseline: SVD workspace of %g doubles exceeds the LAPACK range", w);
  s->lwork = (int)w + 1;
  s->work = dln_dalloc((size_t)s->lwork);
  return s->work ? DLN_OK : dln_error(DLN_ENOMEM, "nuclear-norm baseline: out of memory for the SVD workspace");
}

static int check_args(int rows, int cols, int m, const double *A, const int *idx, const double *b, size_t *n) {
  if (rows < 1 || cols < 1 || m < 1)
    return dln_error(DLN_EDIM, "dln_nuclear_alloc: expected rows, cols, m >= 1, found %d, %d, %d", rows, cols, m);
  if (!A == !idx) return dln_error(DLN_EINVAL, "dln_nuclear_alloc: expected exactly one of A (dense) and idx (entrywise), found %s",
                                   A ? "both" : "neither");
  int st = dln_size_mul((size_t)rows, (size_t)cols, n);
  size_t nm;
  if (!st) st = dln_size_mul(*n, (size_t)m, &nm);
  if (!st && *n > 268435456u) st = dln_error(DLN_EDIM, "dln_nuclear_alloc: expected at most 2^28 entries, found %zu", *n);
  if (!st && A) st = dln_check_finite("nuclear-norm baseline: measurement matrices A", (int)*n, m, A);
  if (!st) st = dln_check_finite("nuclear-norm baseline: measurements b", m, 1, b);
  for (int i = 0; !st && idx && i < m; ++i)
    if (idx[i] < 0 || (size_t)idx[i] >= *n)
      st = dln_error(DLN_EDIM, "dln_nuclear_alloc: idx[%d]: expected a linear index in [0, %zu), found %d", i, *n, idx[i]);
  return st;
}

int dln_nuclear_alloc(dln_nuclear **out, int rows, int cols, int m, const double *A, const int *idx, const double *b) {
  DLN_ARGS(out, b);
  *out = NULL;
  size_t n;
  int st = check_args(rows, cols, m, A, idx, b, &n);
  if (st) return st;
  dln_nuclear *s = calloc(1, sizeof *s);
  if (!s) return dln_error(DLN_ENOMEM, "nuclear-norm baseline: out of memory");
  s->rows = rows, s->cols = cols, s->m = s->q = m, s->n = n, s->k = rows < cols ? rows : cols;
  size_t k = (size_t)s->k, mm = (size_t)m;
  s->b = dln_dalloc(mm);
  s->r = dln_dalloc(mm);
  s->t = dln_dalloc(mm);
  s->y = dln_dalloc(mm);
  if (A) {
    s->A = dln_dalloc(n * mm);
    s->Gp = dln_dalloc(mm * mm);
    s->bh = dln_dalloc(mm);
  } else {
    s->uidx = calloc(mm, sizeof *s->uidx);
    s->map = calloc(mm, sizeof *s->map);
    s->uval = dln_dalloc(mm);
    s->cnt = dln_dalloc(mm);
  }
  s->X = dln_dalloc(n), s->U = dln_dalloc(n), s->Wo = dln_dalloc(n), s->V = dln_dalloc(n), s->T = dln_dalloc(n);
  s->M = dln_dalloc(n), s->s = dln_dalloc(k), s->Us = dln_dalloc((size_t)rows * k), s->Vt = dln_dalloc(k * cols);
  s->iwork = calloc(8 * k, sizeof *s->iwork);
  if (!s->b || !s->r || !s->t || !s->y || (A && (!s->A || !s->Gp || !s->bh)) ||
      (!A && (!s->uidx || !s->map || !s->uval || !s->cnt)) || !s->X || !s->U || !s->Wo || !s->V || !s->T || !s->M ||
      !s->s || !s->Us || !s->Vt || !s->iwork) {
    dln_nuclear_free(s);
    return dln_error(DLN_ENOMEM, "nuclear-norm baseline: out of memory for %d x %d with m = %d", rows, cols, m);
  }
  memcpy(s->b, b, mm * sizeof *b);
  if (A) memcpy(s->A, A, n * mm * sizeof *A);
  st = A ? dense_pinv(s) : entry_setup(s, idx, b);
  if (!st) st = svd_setup(s);
  if (st) {
    dln_nuclear_free(s);
    return st;
  }
  *out = s;
  return DLN_OK;
}

int dln_nuclear_alloc_loss(dln_nuclear **out, const dln_loss *loss) {
  DLN_ARGS(out, loss);
  *out = NULL;
  dln_measurements me;
  int st = dln_loss_measurements(loss, &me);
  return st ? st : dln_nuclear_alloc(out, loss->rows, loss->cols, me.m, me.A, me.idx, me.b);
}

/* ---- the iteration ------------------------------------------------------------------ */

/* out = P(Z), the projection onto {𝒜(W) = b̂} (out may be Z). */
static void project(dln_nuclear *s, const double *Z, double *out) {
  if (out != Z) memcpy(out, Z, s->n * sizeof *out);
  if (!s->A) {
    for (int j = 0; j < s->q; ++j) out[s->uidx[j]] = s->uval[j];
    return;
  }
  int n = (int)s->n, m = s->m;
  memcpy(s->r, s->b, (size_t)m * sizeof *s->r);
  cblas_dgemv(CblasColMajor, CblasTrans, n, m, 1.0, s->A, n, Z, 1, -1.0, s->r, 1);    /* r = 𝒜(Z) − b */
  cblas_dgemv(CblasColMajor, CblasNoTrans, m, m, 1.0, s->Gp, m, s->r, 1, 0.0, s->t, 1); /* t = (AᵀA)^† r */
  cblas_dgemv(CblasColMajor, CblasNoTrans, n, m, -1.0, s->A, n, s->t, 1, 1.0, out, 1); /* out −= A t */
}

/* Singular values of Z into s->s (jobz 'N', or 'S' into Us, Vt). */
static int svd(dln_nuclear *s, const double *Z, char jobz) {
  int r = s->rows, c = s->cols, k = s->k;
  memcpy(s->T, Z, s->n * sizeof *s->T);
  int info = LAPACKE_dgesdd_work(LAPACK_COL_MAJOR, jobz, r, c, s->T, r, s->s, s->Us, r, s->Vt, k, s->work, s->lwork, s->iwork);
  if (info > 0) { /* divide and conquer did not converge: QR iteration */
    memcpy(s->T, Z, s->n * sizeof *s->T);
    info = LAPACKE_dgesvd_work(LAPACK_COL_MAJOR, jobz == 'N' ? 'N' : 'S', jobz == 'N' ? 'N' : 'S', r, c, s->T, r, s->s,
                               s->Us, r, s->Vt, k, s->work, s->lwork);
  }
  if (info) return dln_error(DLN_ELAPACK, "nuclear-norm baseline: SVD of a %d x %d iterate failed (info=%d)", r, c, info);
  return DLN_OK;
}

/* X = SVT_τ(V) = Σ (σ_i − τ)_+ u_i v_iᵀ (Cai, Candès, Shen 2010). */
static int svt(dln_nuclear *s, const double *V, double tau, double *X) {
  int st = svd(s, V, 'S');
  if (st) return st;
  int r = 0;
  for (; r < s->k && s->s[r] > tau; ++r) cblas_dscal(s->rows, s->s[r] - tau, s->Us + (size_t)r * s->rows, 1);
  if (!r) {
    memset(X, 0, s->n * sizeof *X);
    return DLN_OK;
  }
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, s->rows, s->cols, r, 1.0, s->Us, s->rows, s->Vt, s->k, 0.0, X,
              s->rows); /* X = U_r diag(σ − τ)_+ V_rᵀ */
  return DLN_OK;
}

/* The certificate at feasible W from Z = −ρU ∈ range(𝒜*): y, ‖𝒜*(y)‖_2, bᵀy, ‖W‖_*. */
static int certify(dln_nuclear *s, const double *W, dln_nuclear_result *res) {
  int st, n = (int)s->n, m = s->m;
  double sc = -s->rho, dual = 0;
  if (s->A) {
    cblas_dgemv(CblasColMajor, CblasTrans, n, m, sc, s->A, n, s->U, 1, 0.0, s->r, 1);   /* r = 𝒜(Z) */
    cblas_dgemv(CblasColMajor, CblasNoTrans, m, m, 1.0, s->Gp, m, s->r, 1, 0.0, s->y, 1); /* y = (AᵀA)^† 𝒜(Z) */
    cblas_dgemv(CblasColMajor, CblasNoTrans, n, m, 1.0, s->A, n, s->y, 1, 0.0, s->M, 1);  /* M = 𝒜*(y) */
  } else {
    memset(s->M, 0, s->n * sizeof *s->M);
    for (int j = 0; j < s->q; ++j) s->y[j] = s->M[s->uidx[j]] = sc * s->U[s->uidx[j]];
  }
  if ((st = svd(s, s->M, 'N'))) return st;
  double c = 1.0 / fmax(1.0, s->s[0]);
  for (int j = 0; j < s->q; ++j) {
    s->y[j] *= c;
    dual += s->y[j] * (s->A ? s->bh[j] : s->uval[j]); /* b̂ᵀy (= bᵀy: y ∈ range(Aᵀ)) */
  }
  res->dual_spectral = s->s[0] * c;
  if ((st = svd(s, W, 'N'))) return st;
  double nuc = 0;
  int rank = 0;
  for (int i = 0; i < s->k; ++i) nuc += s->s[i], rank += s->s[i] > 1e-8 * s->s[0];
  res->nuclear_norm = nuc;
  res->rank = s->s[0] > 0 ? rank : 0;
  res->dual_value = dual;
  res->duality_gap = nuc - dual;
  res->rel_gap = nuc > 0 ? res->duality_gap / nuc : fabs(res->duality_gap);
  return DLN_OK;
}

/* ‖𝒜(W) − b̂‖_2 and ‖𝒜(W) − b‖_2. */
static void residuals(dln_nuclear *s, const double *W, dln_nuclear_result *res) {
  double r1 = 0, r2 = 0;
  for (int i = 0; i < s->m; ++i) {
    double a = s->A ? cblas_ddot((int)s->n, s->A + (size_t)i * s->n, 1, W, 1) : W[s->uidx[s->map[i]]];
    double e1 = a - (s->A ? s->bh[i] : s->uval[s->map[i]]), e2 = a - s->b[i];
    r1 += e1 * e1, r2 += e2 * e2;
  }
  res->constraint_residual = sqrt(r1);
  res->measurement_residual = sqrt(r2);
}

int dln_nuclear_solve(dln_nuclear *s, double tol, int max_iter, double *W, dln_nuclear_result *res) {
  DLN_ARGS(s, W, res);
  memset(res, 0, sizeof *res);
  if (!(tol > 0 && tol < 1)) return dln_error(DLN_EINVAL, "dln_nuclear_solve: tol: expected a number in (0, 1), found %g", tol);
  if (max_iter < 1) return dln_error(DLN_EINVAL, "dln_nuclear_solve: max_iter: expected >= 1, found %d", max_iter);
  size_t n = s->n;
  memset(s->U, 0, n * sizeof *s->U);
  memset(s->V, 0, n * sizeof *s->V);
  project(s, s->V, W); /* the minimum-Frobenius-norm feasible point */
  int st = svd(s, W, 'N');
  if (st) return st;
  s->rho = s->s[0] > 0 ? 1.0 / s->s[0] : 1.0; /* threshold 1/ρ at the scale of W */
  int it = 0;
  for (; it < max_iter; ++it) {
    for (size_t i = 0; i < n; ++i) s->V[i] = W[i] - s->U[i];
    if ((st = svt(s, s->V, 1.0 / s->rho, s->X))) return st;
    memcpy(s->Wo, W, n * sizeof *W);
    for (size_t i = 0; i < n; ++i) s->V[i] = s->X[i] + s->U[i];
    project(s, s->V, W);
    double rp = 0, rd = 0;
    for (size_t i = 0; i < n; ++i) {
      double d = s->X[i] - W[i], e = W[i] - s->Wo[i];
      s->U[i] += d;
      rp += d * d, rd += e * e;
    }
    rp = sqrt(rp), rd = s->rho * sqrt(rd);
    if ((it + 1) % 10 == 0 || it + 1 == max_iter) {
      if ((st = certify(s, W, res))) return st;
      if (res->rel_gap <= tol) {
        ++it;
        res->converged = 1;
        break;
      }
    }
    double f = rp > 10 * rd ? 2.0 : rd > 10 * rp ? 0.5 : 1.0; /* residual balancing (Boyd §3.4.1) */
    if (f != 1.0) {
      s->rho *= f;
      cblas_dscal((int)n, 1.0 / f, s->U, 1);
    }
  }
  res->iterations = it;
  if (!res->converged && (st = certify(s, W, res))) return st;
  residuals(s, W, res);
  return DLN_OK;
}

int dln_nuclear_dual(const dln_nuclear *s, double *y) {
  DLN_ARGS(s, y);
  for (int i = 0; i < s->m; ++i) y[i] = s->A ? s->y[i] : s->y[s->map[i]] / s->cnt[s->map[i]];
  return DLN_OK;
}
