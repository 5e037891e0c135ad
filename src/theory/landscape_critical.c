/* Landscape of φ(θ) = ℓ(W_N···W_1), first part: critical values and strata
 * (dln/landscape.h; docs/landscape.md). Hessian, equilibria and σ̇: landscape.c.
 *
 * (a) 004 Lemma 3.2 item 4 and §4.1 eq. 26: critical values ½ Σ_{i∉L} s_i², |L| ≤ k.
 * (b) 004 Lemma 3.2 items 1–3: at a critical point W = Σ_{i∈L} s_i p_i q_i^T. */
#include "dln/landscape.h"

#include <cblas.h>
#include <float.h>
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

/* ==================================================================== (a) critical values */
void dln_critval_default_options(dln_critval_options *opt) {
  if (!opt) return;
  memset(opt, 0, sizeof *opt);
  opt->cap = (size_t)1 << 16;
  opt->zero_tol = 1e-12;
}

typedef struct {
  int q, kmax;
  const double *s2;   /* squares, descending */
  double total;       /* Σ s2 */
  dln_critval *heap;  /* max-heap on value, size ≤ cap */
  size_t n, cap;
} cv_search;

static int cv_less(const dln_critval *a, const dln_critval *b) {
  if (a->value != b->value) return a->value < b->value;
  return a->learned < b->learned;
}

static void heap_push(cv_search *S, dln_critval c) {
  size_t i = S->n++;
  S->heap[i] = c;
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (!cv_less(&S->heap[p], &S->heap[i])) break;
    dln_critval t = S->heap[p];
    S->heap[p] = S->heap[i];
    S->heap[i] = t;
    i = p;
  }
}

static void heap_replace_top(cv_search *S, dln_critval c) {
  S->heap[0] = c;
  size_t i = 0;
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < S->n && cv_less(&S->heap[m], &S->heap[l])) m = l;
    if (r < S->n && cv_less(&S->heap[m], &S->heap[r])) m = r;
    if (m == i) break;
    dln_critval t = S->heap[m];
    S->heap[m] = S->heap[i];
    S->heap[i] = t;
    i = m;
  }
}

/* Depth-first over components i (descending s); learned holds the chosen set, cnt its
 * size, sum = Σ_{L} s2. A value ½(total − sum') for any completion is at least
 * ½(total − sum − Σ of the next (kmax − cnt) squares), which bounds the pruning. */
static void cv_dfs(cv_search *S, int i, int cnt, double sum, uint64_t learned) {
  if (S->n == S->cap) {
    double best = sum;
    for (int j = i, c = cnt; j < S->q && c < S->kmax; ++j, ++c) best += S->s2[j];
    double lb = 0.5 * (S->total - best);
    if (lb > S->heap[0].value) return;
  }
  if (i == S->q) {
    dln_critval c = {0.5 * (S->total - sum), cnt, learned};
    if (S->n < S->cap)
      heap_push(S, c);
    else if (cv_less(&c, &S->heap[0]))
      heap_replace_top(S, c);
    return;
  }
  if (cnt < S->kmax) cv_dfs(S, i + 1, cnt + 1, sum + S->s2[i], learned | ((uint64_t)1 << i));
  cv_dfs(S, i + 1, cnt, sum, learned);
}

static int cmp_critval(const void *a, const void *b) {
  const dln_critval *x = a, *y = b;
  if (cv_less(x, y)) return -1;
  if (cv_less(y, x)) return 1;
  return 0;
}

static int cmp_desc(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x < y) - (x > y);
}

int dln_critical_values(int ns, const double *s, const dln_critval_options *opt_in, dln_critval *out,
                        dln_critval_info *info) {
  dln_critval_options opt;
  dln_critval_default_options(&opt);
  if (opt_in) {
    opt.max_rank = opt_in->max_rank;
    opt.base = opt_in->base;
    if (opt_in->cap) opt.cap = opt_in->cap;
    if (opt_in->zero_tol > 0) opt.zero_tol = opt_in->zero_tol;
  }
  if (!out || !info || (ns > 0 && !s)) return dln_error(DLN_EINVAL, "dln_critical_values: NULL argument");
  if (ns < 0) return dln_error(DLN_EINVAL, "dln_critical_values: ns = %d, expected >= 0", ns);
  memset(info, 0, sizeof *info);
  double sorted[DLN_LANDSCAPE_MAXQ], s2[DLN_LANDSCAPE_MAXQ];
  double smax = 0;
  for (int i = 0; i < ns; ++i) {
    if (!isfinite(s[i]) || s[i] < 0)
      return dln_error(DLN_EINVAL, "dln_critical_values: singular value s[%d] = %g, expected finite and >= 0", i, s[i]);
    if (s[i] > smax) smax = s[i];
  }
  int q = 0;
  for (int i = 0; i < ns; ++i) {
    if (s[i] > opt.zero_tol * smax) {
      if (q == DLN_LANDSCAPE_MAXQ)
        return dln_error(DLN_EUNSUPPORTED, "dln_critical_values: more than %d nonzero singular values",
                         DLN_LANDSCAPE_MAXQ);
      sorted[q++] = s[i];
    }
  }
  qsort(sorted, (size_t)q, sizeof(double), cmp_desc);
  double total = 0;
  for (int i = 0; i < q; ++i) {
    s2[i] = sq(sorted[i]);
    total += s2[i];
  }
  int kmax = opt.max_rank > 0 ? imin(opt.max_rank, q) : q;
  /* number of admissible subsets Σ_{j ≤ kmax} C(q, j) */
  double ntot = 0, c = 1;
  for (int j = 0; j <= kmax; ++j) {
    ntot += c;
    c = c * (double)(q - j) / (double)(j + 1);
  }
  info->q = q;
  info->max_rank = kmax;
  info->total = ntot;
  double rest = 0;
  for (int i = kmax; i < q; ++i) rest += s2[i];
  info->min_value = opt.base + 0.5 * rest;
  info->max_value = opt.base + 0.5 * total;
  cv_search S = {q, kmax, s2, total, out, 0, opt.cap};
  cv_dfs(&S, 0, 0, 0.0, 0);
  qsort(out, S.n, sizeof *out, cmp_critval);
  /* recompute each value as ½ Σ_{i∉L} s_i² (no cancellation) and add the base */
  for (size_t e = 0; e < S.n; ++e) {
    double v = 0;
    for (int i = 0; i < q; ++i)
      if (!(out[e].learned >> i & 1u)) v += s2[i];
    out[e].value = opt.base + 0.5 * v;
  }
  info->count = S.n;
  info->capped = ntot > (double)opt.cap;
  return DLN_OK;
}

int dln_critical_values_target(int rows, int cols, const double *Ybar, const dln_critval_options *opt,
                               dln_critval *out, dln_critval_info *info) {
  if (!Ybar || rows < 1 || cols < 1) return dln_error(DLN_EINVAL, "dln_critical_values_target: bad target");
  int k = imin(rows, cols);
  double *w = malloc((size_t)rows * (size_t)cols * sizeof(double));
  double *s = malloc((size_t)k * sizeof(double));
  int st = DLN_OK;
  if (!w || !s)
    st = dln_error(DLN_ENOMEM, "dln_critical_values_target: out of memory");
  else
    st = dln_singular_values(rows, cols, Ybar, s, w);
  if (!st) st = dln_critical_values(k, s, opt, out, info);
  free(w);
  free(s);
  return st;
}

size_t dln_critval_distinct(size_t n, const dln_critval *cv, double tol, double *vals) {
  if (n > 0) DLN_ARGS_V(0, cv, vals);
  size_t m = 0;
  for (size_t i = 0; i < n; ++i) {
    if (m > 0 && fabs(cv[i].value - vals[m - 1]) <= tol * fmax(1.0, fabs(cv[i].value))) continue;
    vals[m++] = cv[i].value;
  }
  return m;
}

/* ==================================================================== (b) strata */
void dln_stratum_default_options(dln_stratum_options *opt) {
  if (!opt) return;
  memset(opt, 0, sizeof *opt);
  opt->tol = 1e-6;
  opt->zero_tol = 1e-12;
}

static void append_set(char *buf, size_t cap, const char *label, int q, const int *lab, int want) {
  size_t len = strlen(buf);
  int first = 1;
  len += (size_t)snprintf(buf + len, len < cap ? cap - len : 0, "%s {", label);
  for (int i = 0; i < q && len < cap; ++i) {
    if (lab[i] != want) continue;
    len += (size_t)snprintf(buf + len, len < cap ? cap - len : 0, first ? "%d" : ",%d", i + 1);
    first = 0;
  }
  if (len < cap) snprintf(buf + len, cap - len, "}");
}

/* Clusters of equal singular values (gap ≤ gap_tol chains them): 004 Lemma 3.2 assumes
 * distinct s_i (Assumption 3); with a repeated s its proof only gives that Q = R W_{1,1}
 * commutes with S_Y², i.e. Q is block diagonal over the clusters. */
static void set_clusters(dln_stratum *out, const double *s, double gap_tol) {
  int nc = 0;
  for (int i = 0; i < out->q; ++i) {
    if (i == 0 || s[i - 1] - s[i] > gap_tol) out->cluster_start[nc++] = i;
    out->cluster_size[nc - 1] = i + 1 - out->cluster_start[nc - 1];
    if (out->cluster_size[nc - 1] > 1) out->degenerate = 1;
  }
  out->nclusters = nc;
}

/* Distinct s_i: component i is learned when W q_i = s_i p_i and W^T p_i = s_i q_i,
 * unlearned when both are 0 (004 Lemma 3.2 items 1–3). */
static void classify_components(int rows, int cols, int k, const double *W, const double *s, const double *U,
                                const double *Vt, double tol, dln_stratum *out, double *R, double *x, double *vpred) {
  double s1 = s[0];
  for (int i = 0; i < out->q; ++i) {
    const double *p = U + (size_t)i * rows;
    /* ‖W q_i − s_i p_i‖, ‖W q_i‖ with q_i = row i of Vt */
    cblas_dgemv(CblasColMajor, CblasNoTrans, rows, cols, 1.0, W, rows, Vt + i, k, 0.0, x, 1);
    double e_on = 0, e_off = 0;
    for (int r = 0; r < rows; ++r) {
      e_on += sq(x[r] - s[i] * p[r]);
      e_off += sq(x[r]);
    }
    /* ‖W^T p_i − s_i q_i‖, ‖W^T p_i‖ */
    cblas_dgemv(CblasColMajor, CblasTrans, rows, cols, 1.0, W, rows, p, 1, 0.0, x, 1);
    double f_on = 0, f_off = 0;
    for (int c = 0; c < cols; ++c) {
      f_on += sq(x[c] - s[i] * Vt[i + (size_t)c * k]);
      f_off += sq(x[c]);
    }
    double on = sqrt(fmax(e_on, f_on)) / s1, off = sqrt(fmax(e_off, f_off)) / s1;
    if (on <= tol && on <= off) {
      out->learned[i] = DLN_COMP_LEARNED;
      out->comp_err[i] = on;
      /* R −= s_i p_i q_i^T */
      cblas_dger(CblasColMajor, rows, cols, -s[i], p, 1, Vt + i, k, R, rows);
    } else {
      out->learned[i] = off <= tol ? DLN_COMP_UNLEARNED : DLN_COMP_PARTIAL;
      out->comp_err[i] = off <= tol ? off : fmin(on, off);
      *vpred += sq(s[i]);
    }
  }
  for (int c = 0; c < out->nclusters; ++c) out->cluster_learned[c] = out->learned[out->cluster_start[c]] == DLN_COMP_LEARNED;
}

/* One cluster i0..i0+d of a repeated singular value s_c with bases P_c, Q_c: at a
 * critical point M = P_c^T W Q_c / s_c is an orthogonal projection (Q above, block
 * diagonal, with Q S_Y = Q Q^T: 004 Lemma 3.2 proof eq. 21), of rank m = the number of
 * the cluster's components learned, and W = Σ_c s_c P_c M_c Q_c^T. Only m is intrinsic
 * (the learned subspace of the cluster is any m-dimensional one), so components
 * i0..i0+m are reported learned. Eigenvalues of sym(M) within tol of 1 / 0: learned /
 * unlearned; ‖M − M^T‖ > tol or another eigenvalue: partial. */
static int classify_cluster(int rows, int cols, int k, const double *W, const double *s, const double *U,
                            const double *Vt, double tol, int c, dln_stratum *out, double *R, double *buf, double *vpred) {
  int i0 = out->cluster_start[c], d = out->cluster_size[c];
  double sc = 0;
  for (int i = i0; i < i0 + d; ++i) sc += s[i] / d;
  double ctol = tol * s[0] / sc; /* tol is relative to s_1; M is relative to s_c */
  double *T = buf, *M = T + (size_t)rows * d, *w = M + (size_t)d * d, *u = w + d, *v = u + rows;
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, rows, d, cols, 1.0, W, rows, Vt + i0, k, 0.0, T, rows);
  cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, d, d, rows, 1.0 / sc, U + (size_t)i0 * rows, rows, T, rows, 0.0, M, d);
  double asym = 0;
  for (int a = 0; a < d; ++a)
    for (int b = 0; b < a; ++b) {
      double m = 0.5 * (M[a + (size_t)b * d] + M[b + (size_t)a * d]);
      asym += 2 * sq(0.5 * (M[a + (size_t)b * d] - M[b + (size_t)a * d]));
      M[a + (size_t)b * d] = M[b + (size_t)a * d] = m;
    }
  lapack_int info = LAPACKE_dsyev(LAPACK_COL_MAJOR, 'V', 'L', d, M, d, w);
  if (info != 0) return dln_error(DLN_ELAPACK, "dsyev (cluster %d of size %d) returned info=%d", c + 1, d, (int)info);
  asym = sqrt(asym);
  int m = 0, npart = 0;
  double err = asym;
  for (int e = 0; e < d; ++e) {
    double on = fabs(w[e] - 1), off = fabs(w[e]);
    if (asym <= ctol && on <= ctol && on <= off) {
      ++m;
      err = fmax(err, on);
      /* R −= s_c (P_c e)(Q_c e)^T */
      cblas_dgemv(CblasColMajor, CblasNoTrans, rows, d, 1.0, U + (size_t)i0 * rows, rows, M + (size_t)e * d, 1, 0.0, u, 1);
      cblas_dgemv(CblasColMajor, CblasTrans, d, cols, 1.0, Vt + i0, k, M + (size_t)e * d, 1, 0.0, v, 1);
      cblas_dger(CblasColMajor, rows, cols, -sc, u, 1, v, 1, R, rows);
    } else {
      npart += !(asym <= ctol && off <= ctol);
      err = fmax(err, fmin(on, off));
    }
  }
  out->cluster_learned[c] = m;
  for (int i = i0; i < i0 + d; ++i) {
    int j = i - i0;
    out->learned[i] = j < m ? DLN_COMP_LEARNED : j < m + npart ? DLN_COMP_PARTIAL : DLN_COMP_UNLEARNED;
    out->comp_err[i] = err * sc / s[0];
    if (j >= m) *vpred += sq(s[i]);
  }
  return DLN_OK;
}

static int classify_clusters(int rows, int cols, int k, const double *W, const double *s, const double *U,
                             const double *Vt, double tol, dln_stratum *out, double *R, double *vpred) {
  int dmax = 1;
  for (int c = 0; c < out->nclusters; ++c) dmax = imax(dmax, out->cluster_size[c]);
  double *buf = malloc(((size_t)rows * dmax + (size_t)dmax * dmax + dmax + rows + cols) * sizeof(double));
  if (!buf) return dln_error(DLN_ENOMEM, "dln_stratum_classify: out of memory");
  int st = DLN_OK;
  for (int c = 0; c < out->nclusters && !st; ++c) st = classify_cluster(rows, cols, k, W, s, U, Vt, tol, c, out, R, buf, vpred);
  free(buf);
  return st;
}

int dln_stratum_classify(int rows, int cols, const double *W, const double *Ybar, const dln_stratum_options *opt_in,
                         dln_stratum *out) {
  if (!W || !Ybar || !out || rows < 1 || cols < 1) return dln_error(DLN_EINVAL, "dln_stratum_classify: bad argument");
  dln_stratum_options opt;
  dln_stratum_default_options(&opt);
  if (opt_in) {
    if (opt_in->tol > 0) opt.tol = opt_in->tol;
    if (opt_in->zero_tol > 0) opt.zero_tol = opt_in->zero_tol;
    opt.max_rank = opt_in->max_rank;
  }
  memset(out, 0, sizeof *out);
  int k = imin(rows, cols);
  size_t na = (size_t)rows * (size_t)cols;
  int st = DLN_OK;
  double *a = malloc(na * sizeof(double)), *s = malloc((size_t)k * sizeof(double));
  double *U = malloc((size_t)rows * (size_t)k * sizeof(double)), *Vt = malloc((size_t)k * (size_t)cols * sizeof(double));
  double *R = malloc(na * sizeof(double)), *x = malloc((size_t)imax(rows, cols) * sizeof(double));
  if (!a || !s || !U || !Vt || !R || !x) {
    st = dln_error(DLN_ENOMEM, "dln_stratum_classify: out of memory");
    goto done;
  }
  if ((st = dln_check_finite("W", rows, cols, W)) || (st = dln_check_finite("target", rows, cols, Ybar))) goto done;
  memcpy(a, Ybar, na * sizeof(double));
  lapack_int info = LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'S', rows, cols, a, rows, s, U, rows, Vt, k);
  if (info != 0) {
    st = dln_error(DLN_ELAPACK, "dgesdd (target %dx%d) returned info=%d", rows, cols, (int)info);
    goto done;
  }
  double s1 = s[0];
  if (!(s1 > 0)) {
    st = dln_error(DLN_ENOTAPPLICABLE, "stratum classification: the target is zero");
    goto done;
  }
  int q = 0;
  while (q < k && s[q] > opt.zero_tol * s1) ++q;
  if (q > DLN_LANDSCAPE_MAXQ) {
    st = dln_error(DLN_EUNSUPPORTED, "stratum classification: %d > %d target components", q, DLN_LANDSCAPE_MAXQ);
    goto done;
  }
  out->q = q;
  int kmax = opt.max_rank > 0 ? imin(opt.max_rank, q) : q;
  double ynorm2 = 0;
  for (int i = 0; i < q; ++i) ynorm2 += sq(s[i]);
  /* R = W − Σ_{i∈L} s_i p_i q_i^T, built as we go */
  memcpy(R, W, na * sizeof(double));
  double vpred = 0;
  set_clusters(out, s, opt.tol * s1);
  if (out->degenerate) {
    st = classify_clusters(rows, cols, k, W, s, U, Vt, opt.tol, out, R, &vpred);
    if (st) goto done;
  } else {
    classify_components(rows, cols, k, W, s, U, Vt, opt.tol, out, R, x, &vpred);
  }
  for (int i = 0; i < q; ++i)
    if (out->learned[i] == DLN_COMP_LEARNED) out->learned_mask |= (uint64_t)1 << i, out->r++;
  out->residual = dln_norm2(na, R) / sqrt(ynorm2);
  double v = 0;
  for (size_t e = 0; e < na; ++e) v += sq(W[e] - Ybar[e]);
  out->value = 0.5 * v;
  out->value_predicted = 0.5 * vpred;
  int partial = 0;
  for (int i = 0; i < q; ++i) partial += out->learned[i] == DLN_COMP_PARTIAL;
  out->critical = !partial && out->residual <= opt.tol && out->r <= kmax;
  double vmin = 0;
  for (int i = kmax; i < q; ++i) vmin += sq(s[i]);
  vmin *= 0.5;
  out->global_min = out->critical && out->value_predicted <= vmin + opt.tol * ynorm2;
  char *m = out->message;
  size_t cap = sizeof out->message;
  if (out->critical) {
    snprintf(m, cap, "%s: Crit_%d (rank bound %d), value %.6g,", out->global_min ? "global minimum" : "saddle stratum",
             out->r, kmax, out->value_predicted);
    append_set(m, cap, " learned", q, out->learned, DLN_COMP_LEARNED);
    append_set(m, cap, ", unlearned", q, out->learned, DLN_COMP_UNLEARNED);
  } else {
    snprintf(m, cap, "not at a critical configuration (residual %.3g, %d partial component%s)", out->residual,
             partial, partial == 1 ? "" : "s");
    append_set(m, cap, ": learned", q, out->learned, DLN_COMP_LEARNED);
    append_set(m, cap, ", partial", q, out->learned, DLN_COMP_PARTIAL);
  }
  if (out->degenerate) {
    size_t len = strlen(m);
    if (len < cap) snprintf(m + len, cap - len, " [repeated target singular values: components not unique]");
  }
done:
  free(a);
  free(s);
  free(U);
  free(Vt);
  free(R);
  free(x);
  return st;
}

int dln_stratum_classify_net(dln_net *net, dln_loss *loss, const double *theta, const dln_stratum_options *opt,
                             dln_stratum *out) {
  if (!net || !loss || !theta || !out) return dln_error(DLN_EINVAL, "dln_stratum_classify_net: NULL argument");
  if (!dln_loss_has(loss, DLN_LOSS_IDENTITY) || !loss->wstar)
    return dln_error(DLN_ENOTAPPLICABLE, "stratum classification needs a factorization loss, got %s", dln_loss_name(loss));
  int rows = loss->rows, cols = loss->cols;
  double *W = malloc((size_t)rows * (size_t)cols * sizeof(double));
  if (!W) return dln_error(DLN_ENOMEM, "dln_stratum_classify_net: out of memory");
  int st = dln_net_product(net, theta, W);
  if (!st) {
    dln_stratum_options o;
    dln_stratum_default_options(&o);
    if (opt) o = *opt;
    if (o.max_rank <= 0) o.max_rank = dln_net_min_width(net);
    st = dln_stratum_classify(rows, cols, W, loss->wstar, &o, out);
  }
  free(W);
  return st;
}
