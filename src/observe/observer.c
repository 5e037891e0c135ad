/* Diagnostics sampled along a run and the trajectory table (dln/observe.h).
 *
 * Columns (in this order, for the flags set):
 *   t, step; loss, loss_gap = loss − L*; grad_norm = ‖∇φ(θ)‖;
 *   recon_err = ‖Ȳ − W‖_F/‖Ȳ‖_F (factorization), dist_ref = ‖W − W*‖_F;
 *   sv_1..sv_k (descending singular values of W = W_N···W_1);
 *   unbalancedness = max_j ‖C_j‖_F (002 Definition 1),
 *   drift_Cj = ‖C_j(θ) − C_j(θ0)‖_F / max(1, ‖C_j(θ0)‖_F), C_j = W_{j+1}^T W_{j+1} − W_j W_j^T
 *     conserved under gradient flow (002 Lemma 1);
 *   eigC_1..eigC_q: descending eigenvalues of C_1 = W_2^T W_2 − W_1 W_1^T for depth 2
 *     (001 eq. 13; 003 eq. 9); all d_1 when d_1 ≤ 64, else the 32 largest then the 32
 *     smallest.
 *
 * No allocation in dln_observer_eval, by construction: every buffer (end-to-end W,
 * gradient, SVD copy and LAPACK work/iwork sized by a workspace query, C_j(0) and their
 * norms, a C_j buffer, the eigenproblem copy, eigenvalues and dsyev work sized by a
 * query) is allocated in dln_observer_alloc. The LAPACK calls go through the
 * LAPACKE_*_work entry points with the preallocated arrays (the high-level LAPACKE
 * wrappers, e.g. inside dln_singular_values, malloc their work arrays on every call).
 * dln_net_grad and dln_net_conserved do not allocate (dln/net.h), nor does a loss's
 * eval (dln/loss.h).
 *
 * Non-finite weights: the row is still filled (NaN/Inf propagate through loss, norms
 * and distances); singular values and eigenvalues are set to NaN without calling LAPACK,
 * so a diverging run is reported by the caller's checks rather than as a LAPACK error. */
#include "dln/observe.h"

#include <lapacke.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dln/bias.h"
#include "dln/error.h"
#include "dln/io.h"
#include "dln/theory.h"
#include "observe/theory_obs.h"

#define OBS_NAME_LEN 32
#define OBS_EIG_ALL_MAX 64 /* all eigenvalues up to this width */
#define OBS_EIG_HALF 32    /* else this many largest and smallest */
#define OBS_NBOUNDS 3      /* rate bounds: 003 Thm 1, 004 Prop. 2, 002 Thm 2 */

struct dln_observer {
  dln_net *net;
  dln_loss *loss;
  unsigned flags;
  int ncols;
  char (*names)[OBS_NAME_LEN];

  /* column indices (-1 when absent) */
  int c_loss, c_gap, c_grad, c_recon, c_dist, c_sv, c_unbal, c_drift, c_eig;
  int nsv, ndrift, neig;

  int rows, cols; /* d_N, d_0 */
  double *W;      /* end-to-end matrix, rows x cols */
  double *grad;   /* nparams */
  /* singular values */
  double *svA, *sv, *svwork;
  lapack_int *sviwork;
  lapack_int svlwork;
  /* conserved quantities */
  double *C;      /* max_j d_j^2 */
  double *C0;     /* concatenated C_j(0), j = 1..N-1 */
  size_t *C0off;  /* offset of C_j(0) in C0, index j */
  double *C0norm; /* ‖C_j(0)‖_F, index j */
  /* eigenvalues of C_1 (depth 2) */
  double *eA, *ew, *ework;
  lapack_int elwork;
  /* theory columns (observe/theory_obs.h) */
  unsigned xflags;
  int c_cf, c_cfloss, c_nuc, c_erank, c_det, c_dmin, c_orth;
  dln_cf *cf;
  double *Wcf; /* W_cf(t) for cf_loss, rows x cols */
  /* rate bounds L(t) <= ystar + (L(0) - ystar) e^{-rate t}, constants from θ(0) */
  int nbound, c_bound[OBS_NBOUNDS];
  double brate[OBS_NBOUNDS], bystar[OBS_NBOUNDS], L0;
  dln_bias *bias;
  dln_orth *orth;
  double wstar_norm;
  char cf_name[128];
  char note[2048];
};

/* ------------------------------------------------------------------ helpers */

static double frob_diff(size_t n, const double *a, const double *b) {
  double s = 0;
  for (size_t i = 0; i < n; ++i) {
    double d = a[i] - b[i];
    s += d * d;
  }
  return sqrt(s);
}

static int all_finite(size_t n, const double *a) {
  for (size_t i = 0; i < n; ++i)
    if (!isfinite(a[i])) return 0;
  return 1;
}

static void *xcalloc(size_t n, size_t size) { return calloc(n ? n : 1, size); }

static int add_col(dln_observer *o, const char *fmt, int k) {
  snprintf(o->names[o->ncols], OBS_NAME_LEN, fmt, k);
  return o->ncols++;
}

void dln_observer_free(dln_observer *o) {
  if (!o) return;
  free(o->names);
  free(o->W);
  free(o->grad);
  free(o->svA);
  free(o->sv);
  free(o->svwork);
  free(o->sviwork);
  free(o->C);
  free(o->C0);
  free(o->C0off);
  free(o->C0norm);
  free(o->eA);
  free(o->ew);
  free(o->ework);
  dln_cf_free(o->cf);
  free(o->Wcf);
  dln_bias_free(o->bias);
  dln_orth_free(o->orth);
  free(o);
}

/* ------------------------------------------------------------------ alloc */

static int theory_cols(dln_observer *o, const double *theta0, const dln_mat *X);

int dln_observer_alloc(dln_observer **out, dln_net *net, dln_loss *loss, const double *theta0, unsigned flags) {
  return dln_observer_alloc_theory(out, net, loss, theta0, flags, 0, NULL);
}

int dln_observer_alloc_theory(dln_observer **out, dln_net *net, dln_loss *loss, const double *theta0, unsigned flags,
                              unsigned xflags, const dln_mat *X) {
  if (!out) return dln_error(DLN_EINVAL, "dln_observer_alloc: out must not be NULL");
  *out = NULL;
  if (!net || !loss) return dln_error(DLN_EINVAL, "dln_observer_alloc: expected a network and a loss, found NULL");
  if (flags & ~(unsigned)DLN_OBS_ALL)
    return dln_error(DLN_EINVAL, "observer flags: expected a subset of 0x%x, found 0x%x", (unsigned)DLN_OBS_ALL, flags);
  if (xflags & ~(unsigned)(DLN_OBSX_CF | DLN_OBSX_BIAS))
    return dln_error(DLN_EINVAL, "observer theory flags: expected a subset of 0x3, found 0x%x", xflags);
  if (xflags && !theta0)
    return dln_error(DLN_EINVAL, "observer: expected the initial weights theta0 for the theory columns, found NULL");
  const int N = net->depth;
  const int *d = net->widths;
  if (loss->rows != d[N] || loss->cols != d[0])
    return dln_error(DLN_EDIM, "observer: loss %s expects an end-to-end matrix %d x %d, network gives %d x %d",
                     loss->ops && loss->ops->name ? loss->ops->name : "?", loss->rows, loss->cols, d[N], d[0]);

  const int balanced_cols = (flags & DLN_OBS_CONSERVED) && N >= 2 && !net->tied;
  const int want_eig = (flags & DLN_OBS_IMBALANCE) && N == 2 && !net->tied;
  if (balanced_cols && !theta0)
    return dln_error(DLN_EINVAL, "observer: expected the initial weights theta0 for the drift of C_j, found NULL");

  dln_observer *o = calloc(1, sizeof *o);
  if (!o) return dln_error(DLN_ENOMEM, "out of memory allocating an observer");
  o->net = net;
  o->loss = loss;
  o->flags = flags;
  o->rows = d[N];
  o->cols = d[0];
  o->c_loss = o->c_gap = o->c_grad = o->c_recon = o->c_dist = o->c_sv = o->c_unbal = o->c_drift = o->c_eig = -1;
  o->c_cf = o->c_cfloss = o->c_nuc = o->c_erank = o->c_det = o->c_dmin = o->c_orth = -1;
  o->xflags = xflags;

  const int k = d[N] < d[0] ? d[N] : d[0];
  o->nsv = (flags & DLN_OBS_SV) ? k : 0;
  o->ndrift = balanced_cols ? N - 1 : 0;
  o->neig = want_eig ? (d[1] <= OBS_EIG_ALL_MAX ? d[1] : 2 * OBS_EIG_HALF) : 0;

  /* column names */
  size_t maxcols = 2 + 2 + 1 + 2 + (size_t)o->nsv + 1 + (size_t)o->ndrift + (size_t)o->neig + 7 + OBS_NBOUNDS;
  if (maxcols > (size_t)INT_MAX / 2) {
    dln_observer_free(o);
    return dln_error(DLN_ENOMEM, "observer: too many columns (%zu)", maxcols);
  }
  o->names = calloc(maxcols, sizeof *o->names);
  if (!o->names) goto nomem;
  add_col(o, "t", 0);
  add_col(o, "step", 0);
  if (flags & DLN_OBS_LOSS) {
    o->c_loss = add_col(o, "loss", 0);
    o->c_gap = add_col(o, "loss_gap", 0);
  }
  if (flags & DLN_OBS_GRADNORM) o->c_grad = add_col(o, "grad_norm", 0);
  if (flags & DLN_OBS_DIST) {
    if (isfinite(loss->target_norm)) o->c_recon = add_col(o, "recon_err", 0);
    if (loss->wstar) o->c_dist = add_col(o, "dist_ref", 0);
  }
  if (o->nsv) {
    o->c_sv = o->ncols;
    for (int i = 1; i <= o->nsv; ++i) add_col(o, "sv_%d", i);
  }
  if (flags & DLN_OBS_CONSERVED) {
    o->c_unbal = add_col(o, "unbalancedness", 0);
    if (o->ndrift) {
      o->c_drift = o->ncols;
      for (int j = 1; j <= o->ndrift; ++j) add_col(o, "drift_C%d", j);
    }
  }
  if (o->neig) {
    o->c_eig = o->ncols;
    for (int i = 1; i <= o->neig; ++i) add_col(o, "eigC_%d", i);
  }

  {
    int st = theory_cols(o, theta0, X);
    if (st) {
      dln_observer_free(o);
      return st;
    }
  }

  /* end-to-end matrix and gradient */
  size_t wsz = (size_t)d[N] * (size_t)d[0]; /* fits: the net checked it */
  o->W = xcalloc(wsz, sizeof(double));
  if (!o->W) goto nomem;
  if (o->c_grad >= 0) {
    o->grad = xcalloc(net->nparams, sizeof(double));
    if (!o->grad) goto nomem;
  }

  /* singular values: dgesdd('N') with a workspace query */
  if (o->nsv) {
    o->svA = xcalloc(wsz, sizeof(double));
    o->sv = xcalloc((size_t)k, sizeof(double));
    o->sviwork = xcalloc(8 * (size_t)k, sizeof(lapack_int));
    if (!o->svA || !o->sv || !o->sviwork) goto nomem;
    double q = 0;
    lapack_int info = LAPACKE_dgesdd_work(LAPACK_COL_MAJOR, 'N', d[N], d[0], o->svA, d[N], o->sv, NULL, 1, NULL, 1, &q,
                                          -1, o->sviwork);
    if (info != 0) {
      dln_observer_free(o);
      return dln_error(DLN_ELAPACK, "dgesdd workspace query (%dx%d) returned info=%d", d[N], d[0], (int)info);
    }
    if (!(q >= 1) || q > (double)INT_MAX) q = 1;
    o->svlwork = (lapack_int)q;
    /* guard against an underestimated query (some builds round down): at least the documented minimum */
    lapack_int mn = k, mx = d[N] > d[0] ? d[N] : d[0];
    lapack_int minw = 3 * mn + (mx > 7 * mn ? mx : 7 * mn);
    if (o->svlwork < minw) o->svlwork = minw;
    o->svwork = xcalloc((size_t)o->svlwork, sizeof(double));
    if (!o->svwork) goto nomem;
  }

  /* conserved quantities: C_j(0) and their norms */
  if ((flags & DLN_OBS_CONSERVED) || want_eig) {
    size_t cmax = 0;
    for (int j = 1; j < N; ++j) {
      size_t c2 = (size_t)d[j] * (size_t)d[j];
      if (c2 > cmax) cmax = c2;
    }
    o->C = xcalloc(cmax, sizeof(double));
    if (!o->C) goto nomem;
  }
  if (o->ndrift) {
    o->C0off = calloc((size_t)N, sizeof(size_t));
    o->C0norm = calloc((size_t)N, sizeof(double));
    if (!o->C0off || !o->C0norm) goto nomem;
    size_t tot = 0;
    for (int j = 1; j < N; ++j) {
      o->C0off[j] = tot;
      tot += (size_t)d[j] * (size_t)d[j];
    }
    o->C0 = xcalloc(tot, sizeof(double));
    if (!o->C0) goto nomem;
    for (int j = 1; j < N; ++j) {
      double *Cj = o->C0 + o->C0off[j];
      int st = dln_net_conserved(net, theta0, j, Cj);
      if (st) {
        dln_observer_free(o);
        return st;
      }
      o->C0norm[j] = dln_norm2((size_t)d[j] * (size_t)d[j], Cj);
    }
  }

  /* eigenvalues of C_1 (depth 2): dsyev('N') with a workspace query */
  if (want_eig) {
    int n = d[1];
    o->eA = xcalloc((size_t)n * (size_t)n, sizeof(double));
    o->ew = xcalloc((size_t)n, sizeof(double));
    if (!o->eA || !o->ew) goto nomem;
    double q = 0;
    lapack_int info = LAPACKE_dsyev_work(LAPACK_COL_MAJOR, 'N', 'U', n, o->eA, n, o->ew, &q, -1);
    if (info != 0) {
      dln_observer_free(o);
      return dln_error(DLN_ELAPACK, "dsyev workspace query (%dx%d) returned info=%d", n, n, (int)info);
    }
    if (!(q >= 1) || q > (double)INT_MAX) q = 1;
    o->elwork = (lapack_int)q;
    lapack_int minw = 3 * (lapack_int)n - 1;
    if (o->elwork < minw) o->elwork = minw;
    if (o->elwork < 1) o->elwork = 1;
    o->ework = xcalloc((size_t)o->elwork, sizeof(double));
    if (!o->ework) goto nomem;
  }

  *out = o;
  return DLN_OK;
nomem:
  dln_observer_free(o);
  return dln_error(DLN_ENOMEM, "out of memory allocating an observer workspace");
}

int dln_observer_ncols(const dln_observer *obs) { return obs ? obs->ncols : 0; }

const char *dln_observer_colname(const dln_observer *obs, int i) {
  if (!obs || i < 0 || i >= obs->ncols) return NULL;
  return obs->names[i];
}

int dln_observer_col(const dln_observer *obs, const char *name) {
  if (!obs || !name) return -1;
  for (int i = 0; i < obs->ncols; ++i)
    if (strcmp(obs->names[i], name) == 0) return i;
  return -1;
}

/* ------------------------------------------------------------------ theory columns */

static int is_loss(const dln_loss *loss, const char *name) {
  return loss->ops && loss->ops->name && strcmp(loss->ops->name, name) == 0;
}

static void note_add(dln_observer *o, const char *what, const char *why) {
  size_t n = strlen(o->note);
  if (n + 8 >= sizeof o->note) return;
  snprintf(o->note + n, sizeof o->note - n, "%s%s: %s", n ? "; " : "", what, why);
}

/* The first closed form whose hypotheses hold at θ(0); the others' reasons in the note. */
static int pick_closed_form(dln_observer *o, const double *theta0) {
  typedef int (*cf_alloc_fn)(dln_cf **, dln_net *, const dln_loss *, const double *, double);
  static const struct {
    const char *name;
    cf_alloc_fn fn;
    int depth, tied; /* depth 0: any N >= 2 (aligned) */
  } forms[] = {{"001 eq. 4", dln_cf_linear_alloc, 1, 0},         {"001 eq. 9", dln_cf_spectral_sym_alloc, 2, 1},
               {"001 eq. 8", dln_cf_riccati_alloc, 2, 1},        {"001 eq. 17", dln_cf_spectral_asym_alloc, 2, 0},
               {"001 eq. 30", dln_cf_lambda_id_alloc, 2, 0}};
  dln_net *net = o->net;
  if (is_loss(o->loss, "factorization")) {
    for (size_t i = 0; i < sizeof forms / sizeof *forms; ++i) {
      if (forms[i].depth != net->depth || forms[i].tied != (net->tied != 0)) continue;
      int st = forms[i].fn(&o->cf, net, o->loss, theta0, 0);
      if (st == DLN_OK) return DLN_OK;
      if (st == DLN_ENOMEM) return st;
      note_add(o, forms[i].name, dln_last_error());
    }
  } else {
    note_add(o, "001 closed forms", "not applicable: factorization loss fails (the loss is not a factorization)");
  }
  if (net->depth >= 2 && !net->tied) {
    int st = dln_cf_aligned_alloc(&o->cf, net, o->loss, theta0, 0);
    if (st == DLN_OK) return DLN_OK;
    if (st == DLN_ENOMEM) return st;
    note_add(o, "002 Ex. 5", dln_last_error());
  }
  o->cf = NULL;
  return DLN_OK;
}

/* The rate bounds whose hypotheses hold at θ(0): their constants, L(0) and a column
 * each; the others' reasons in the note. */
static int pick_bounds(dln_observer *o, const double *theta0, const dln_mat *X) {
  static const char *const names[OBS_NBOUNDS] = {"bound_003thm1", "bound_004prop2", "bound_002thm2"};
  static const char *const what[OBS_NBOUNDS] = {"003 Thm 1 bound", "004 Prop. 2 bound", "002 Thm 2 bound"};
  dln_net *net = o->net;
  dln_loss *loss = o->loss;
  const int reg = is_loss(loss, "regression");
  int ok[OBS_NBOUNDS] = {0, 0, 0};
  for (int b = 0; b < OBS_NBOUNDS; ++b) {
    int st;
    if (b == 0 && reg && !X)
      st = dln_error(DLN_ENOTAPPLICABLE, "not applicable: 003 Theorem 1: regression data X given fails (X = NULL)");
    else if (b == 0)
      st = dln_bound_rate_imbalance(net, loss, reg ? X : NULL, theta0, &o->brate[b], &o->bystar[b]);
    else if (b == 1)
      st = dln_bound_rate_pyramidal(net, loss, theta0, &o->brate[b], &o->bystar[b]);
    else
      st = dln_bound_rate_deficiency(net, loss, theta0, &o->brate[b], &o->bystar[b]);
    if (st == DLN_ENOMEM) return st;
    if (st == DLN_OK && !(isfinite(o->brate[b]) && isfinite(o->bystar[b])))
      st = dln_error(DLN_ENOTAPPLICABLE, "not applicable: finite rate and L* fails (rate %g, L* %g)", o->brate[b],
                     o->bystar[b]);
    if (st == DLN_OK) ok[b] = 1;
    else note_add(o, what[b], dln_last_error());
  }
  if (!(ok[0] || ok[1] || ok[2])) return DLN_OK;
  /* L(0): the amplitude of every envelope */
  double *W = xcalloc((size_t)o->rows * (size_t)o->cols, sizeof(double));
  if (!W) return dln_error(DLN_ENOMEM, "out of memory allocating an observer workspace");
  int st = dln_net_grad(net, loss, theta0, &o->L0, NULL, W);
  free(W);
  if (st) return st;
  for (int b = 0; b < OBS_NBOUNDS; ++b) { /* compact: entry k <= b holds the k-th applicable bound */
    if (!ok[b]) continue;
    int k = o->nbound++;
    o->c_bound[k] = add_col(o, names[b], 0);
    o->brate[k] = o->brate[b];
    o->bystar[k] = o->bystar[b];
  }
  return DLN_OK;
}

static int theory_cols(dln_observer *o, const double *theta0, const dln_mat *X) {
  dln_net *net = o->net;
  dln_loss *loss = o->loss;
  int st;
  if (o->xflags & DLN_OBSX_CF) {
    if ((st = pick_closed_form(o, theta0))) return st;
    if (o->cf) {
      snprintf(o->cf_name, sizeof o->cf_name, "%s", dln_cf_name(o->cf));
      o->c_cf = add_col(o, "cf_dist", 0);
      o->Wcf = xcalloc((size_t)o->rows * (size_t)o->cols, sizeof(double));
      if (!o->Wcf) return dln_error(DLN_ENOMEM, "out of memory allocating an observer workspace");
      o->c_cfloss = add_col(o, "cf_loss", 0);
    }
    if ((st = pick_bounds(o, theta0, X))) return st;
  }
  if (o->xflags & DLN_OBSX_BIAS) {
    if ((st = dln_bias_alloc(&o->bias, o->rows, o->cols))) return st;
    o->c_nuc = add_col(o, "nuclear_norm", 0);
    o->c_erank = add_col(o, "effective_rank", 0);
    if (o->rows == o->cols) o->c_det = add_col(o, "det_sign", 0);
    else note_add(o, "det_sign", "not applicable: square W fails (W is not square)");
    if (is_loss(loss, "regression") && loss->wstar) {
      o->wstar_norm = dln_norm2((size_t)o->rows * (size_t)o->cols, loss->wstar);
      o->c_dmin = add_col(o, "dist_minnorm", 0);
    }
    if (is_loss(loss, "regression") && X && net->depth == 2 && !net->tied) {
      if ((st = dln_orth_alloc(&o->orth, net, X))) return st;
      o->c_orth = add_col(o, "orth_measure", 0);
    } else {
      note_add(o, "orth_measure", "not applicable: depth-2 untied regression fails");
    }
  }
  return DLN_OK;
}

/* Theory columns of one row; a measure that cannot be evaluated (non-finite W, a
 * closed form refused at this t) is NAN, so the run itself is never stopped here. */
static void theory_eval(dln_observer *o, double t, const double *theta, double *row) {
  const size_t wsz = (size_t)o->rows * (size_t)o->cols;
  if (o->c_cf >= 0) {
    double dist = NAN;
    if (dln_cf_distance(o->net, theta, t, o->cf, &dist) != DLN_OK) dist = NAN;
    row[o->c_cf] = dist;
  }
  if (o->c_cfloss >= 0) {
    double v = NAN;
    if (dln_cf_eval(o->cf, t, o->Wcf) != DLN_OK || dln_loss_eval(o->loss, o->Wcf, &v, NULL) != DLN_OK) v = NAN;
    row[o->c_cfloss] = v;
  }
  for (int b = 0; b < o->nbound; ++b) /* L(t) <= ystar + (L(0) - ystar) e^{-rate t} */
    row[o->c_bound[b]] = o->bystar[b] + exp(-o->brate[b] * t) * (o->L0 - o->bystar[b]);
  if (o->bias) {
    dln_bias_result r;
    int ok = all_finite(wsz, o->W) && dln_bias_eval(o->bias, o->W, NULL, &r) == DLN_OK;
    row[o->c_nuc] = ok ? r.nuclear : NAN;
    row[o->c_erank] = ok ? r.effective_rank : NAN;
    if (o->c_det >= 0) row[o->c_det] = ok ? (double)r.det_sign : NAN;
    if (o->c_dmin >= 0) {
      double dd = frob_diff(wsz, o->W, o->loss->wstar);
      row[o->c_dmin] = o->wstar_norm > 0 ? dd / o->wstar_norm : dd;
    }
  }
  if (o->c_orth >= 0) {
    double tot = NAN;
    if (dln_orth_eval(o->orth, theta, NULL, NULL, &tot) != DLN_OK) tot = NAN;
    row[o->c_orth] = tot;
  }
}

const char *dln_observer_cf_name(const dln_observer *obs) { return obs ? obs->cf_name : ""; }
const char *dln_observer_theory_note(const dln_observer *obs) { return obs ? obs->note : ""; }
unsigned dln_observer_xflags(const dln_observer *obs) { return obs ? obs->xflags : 0; }

/* ------------------------------------------------------------------ eval (no allocation) */

int dln_observer_eval(dln_observer *o, double t, long step, const double *theta, double *row) {
  if (!o || !theta || !row) return dln_error(DLN_EINVAL, "dln_observer_eval: NULL argument");
  dln_net *net = o->net;
  dln_loss *loss = o->loss;
  const int N = net->depth;
  const int *d = net->widths;
  const size_t wsz = (size_t)o->rows * (size_t)o->cols;

  row[0] = t;
  row[1] = (double)step;

  const int need_w = o->c_loss >= 0 || o->c_grad >= 0 || o->c_recon >= 0 || o->c_dist >= 0 || o->nsv > 0 ||
                     o->c_nuc >= 0 || o->c_dmin >= 0;
  double value = NAN;
  if (need_w) {
    int st = dln_net_grad(net, loss, theta, &value, o->c_grad >= 0 ? o->grad : NULL, o->W);
    if (st) return st;
  }
  if (o->c_loss >= 0) {
    row[o->c_loss] = value;
    row[o->c_gap] = isnan(loss->lstar) ? NAN : value - loss->lstar;
  }
  if (o->c_grad >= 0) row[o->c_grad] = dln_norm2(net->nparams, o->grad);
  if (o->c_recon >= 0) {
    /* ‖Ȳ − W‖_F / ‖Ȳ‖_F; the target is the loss's W* (factorization), otherwise
     * ½‖W − Ȳ‖² = ℓ gives the numerator. A zero target gives the absolute error. */
    double num = loss->wstar ? frob_diff(wsz, o->W, loss->wstar) : sqrt(2.0 * value);
    row[o->c_recon] = loss->target_norm > 0 ? num / loss->target_norm : num;
  }
  if (o->c_dist >= 0) row[o->c_dist] = frob_diff(wsz, o->W, loss->wstar);
  if (o->nsv) {
    if (all_finite(wsz, o->W)) {
      memcpy(o->svA, o->W, wsz * sizeof(double));
      lapack_int info = LAPACKE_dgesdd_work(LAPACK_COL_MAJOR, 'N', o->rows, o->cols, o->svA, o->rows, o->sv, NULL, 1,
                                            NULL, 1, o->svwork, o->svlwork, o->sviwork);
      if (info != 0)
        return dln_error(DLN_ELAPACK, "dgesdd (singular values of the %dx%d end-to-end matrix) returned info=%d",
                         o->rows, o->cols, (int)info);
      memcpy(row + o->c_sv, o->sv, (size_t)o->nsv * sizeof(double));
    } else {
      for (int i = 0; i < o->nsv; ++i) row[o->c_sv + i] = NAN;
    }
  }
  if (o->c_unbal >= 0) {
    double best = 0.0;
    if (N >= 2 && !net->tied) {
      for (int j = 1; j < N; ++j) {
        size_t n2 = (size_t)d[j] * (size_t)d[j];
        int st = dln_net_conserved(net, theta, j, o->C);
        if (st) return st;
        double f = dln_norm2(n2, o->C);
        if (!isnan(best) && (isnan(f) || f > best)) best = f; /* a NaN sticks */
        if (o->ndrift)
          row[o->c_drift + j - 1] = frob_diff(n2, o->C, o->C0 + o->C0off[j]) / fmax(1.0, o->C0norm[j]);
      }
    }
    row[o->c_unbal] = best;
  }
  if (o->neig) {
    int n = d[1];
    size_t n2 = (size_t)n * (size_t)n;
    /* C_1 = W_2^T W_2 − W_1 W_1^T; already in o->C when the conserved columns were filled (N = 2) */
    if (o->c_unbal < 0) {
      int st = dln_net_conserved(net, theta, 1, o->C);
      if (st) return st;
    }
    if (all_finite(n2, o->C)) {
      memcpy(o->eA, o->C, n2 * sizeof(double));
      lapack_int info = LAPACKE_dsyev_work(LAPACK_COL_MAJOR, 'N', 'U', n, o->eA, n, o->ew, o->ework, o->elwork);
      if (info != 0)
        return dln_error(DLN_ELAPACK, "dsyev (eigenvalues of the %dx%d imbalance C_1) returned info=%d", n, n, (int)info);
      /* ew is ascending; write descending */
      double *e = row + o->c_eig;
      if (n <= OBS_EIG_ALL_MAX) {
        for (int i = 0; i < n; ++i) e[i] = o->ew[n - 1 - i];
      } else {
        for (int i = 0; i < OBS_EIG_HALF; ++i) e[i] = o->ew[n - 1 - i];               /* 32 largest */
        for (int i = 0; i < OBS_EIG_HALF; ++i) e[OBS_EIG_HALF + i] = o->ew[OBS_EIG_HALF - 1 - i]; /* 32 smallest */
      }
    } else {
      for (int i = 0; i < o->neig; ++i) row[o->c_eig + i] = NAN;
    }
  }
  if (o->xflags) theory_eval(o, t, theta, row);
  return DLN_OK;
}

/* ------------------------------------------------------------------ table */

void dln_table_free(dln_table *t) {
  if (!t) return;
  if (t->names)
    for (int i = 0; i < t->ncols; ++i) free(t->names[i]);
  free(t->names);
  free(t->data);
  free(t);
}

int dln_table_alloc(dln_table **out, int ncols, const char *const *names, size_t cap) {
  if (!out) return dln_error(DLN_EINVAL, "dln_table_alloc: out must not be NULL");
  *out = NULL;
  if (ncols < 1) return dln_error(DLN_EINVAL, "table columns: expected >= 1, found %d", ncols);
  if (!names) return dln_error(DLN_EINVAL, "table column names: expected %d names, found NULL", ncols);
  for (int i = 0; i < ncols; ++i) {
    if (!names[i] || !*names[i]) return dln_error(DLN_EINVAL, "table column %d: expected a non-empty name", i);
    if (strpbrk(names[i], ",\n\r\""))
      return dln_error(DLN_EINVAL, "table column %d name '%s': expected no comma, quote or line break", i, names[i]);
  }
  if (cap > SIZE_MAX / sizeof(double) / (size_t)ncols)
    return dln_error(DLN_ENOMEM, "table of %zu rows x %d columns: size overflow", cap, ncols);
  dln_table *t = calloc(1, sizeof *t);
  if (!t) return dln_error(DLN_ENOMEM, "out of memory allocating a table");
  t->names = calloc((size_t)ncols, sizeof *t->names);
  t->data = xcalloc(cap * (size_t)ncols, sizeof(double));
  if (!t->names || !t->data) goto nomem;
  t->ncols = ncols;
  for (int i = 0; i < ncols; ++i) {
    size_t n = strlen(names[i]);
    t->names[i] = malloc(n + 1);
    if (!t->names[i]) goto nomem;
    memcpy(t->names[i], names[i], n + 1);
  }
  t->cap = cap;
  t->nrows = 0;
  *out = t;
  return DLN_OK;
nomem:
  t->ncols = ncols; /* free the names allocated so far (the rest are NULL) */
  dln_table_free(t);
  return dln_error(DLN_ENOMEM, "out of memory allocating a table of %zu rows x %d columns", cap, ncols);
}

int dln_table_append(dln_table *t, const double *row) {
  if (!t || !row) return dln_error(DLN_EINVAL, "dln_table_append: NULL argument");
  if (t->nrows >= t->cap)
    return dln_error(DLN_ENOMEM, "table full: capacity %zu rows (it does not grow during a run)", t->cap);
  memcpy(t->data + t->nrows * (size_t)t->ncols, row, (size_t)t->ncols * sizeof(double));
  t->nrows++;
  return DLN_OK;
}

double *dln_table_row(dln_table *t, size_t i) {
  if (!t || i >= t->nrows) return NULL;
  return t->data + i * (size_t)t->ncols;
}

int dln_table_col(const dln_table *t, const char *name) {
  if (!t || !name) return -1;
  for (int i = 0; i < t->ncols; ++i)
    if (strcmp(t->names[i], name) == 0) return i;
  return -1;
}

int dln_table_write_csv(const dln_table *t, const char *path) {
  if (!t || !path) return dln_error(DLN_EINVAL, "dln_table_write_csv: NULL argument");
  dln_afile *f;
  int st = dln_afile_open(&f, path);
  if (st) return st;
  FILE *fp = dln_afile_stream(f);
  for (int j = 0; j < t->ncols; ++j) {
    if (j) fputc(',', fp);
    fputs(t->names[j], fp);
  }
  fputc('\n', fp);
  for (size_t i = 0; i < t->nrows; ++i) {
    const double *r = t->data + i * (size_t)t->ncols;
    for (int j = 0; j < t->ncols; ++j) fprintf(fp, j ? ",%.17g" : "%.17g", r[j]);
    fputc('\n', fp);
  }
  return dln_afile_commit(f); /* reports any write error (ferror) and removes the temporary file */
}
