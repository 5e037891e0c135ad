/* `dln check` (dln/check.h; docs/check.md): every result of the theory toolkit whose
 * hypotheses hold, evaluated on a finished run folder.
 *
 * The run is re-created from the folder: summary.json ("spec": the resolved spec), the
 * data files the run wrote, W{j}_init.npy / W{j}_final.npy (tied: U_*.npy) and
 * trajectory.csv; the loss and network are built by the run layer's own builder
 * (dln_run_data_build, dln_run_parts_build), so they are the ones the run trained.
 * Results (papers of ../shared/seeds/INDEX.md):
 *   closed forms 001 eq. 4, 8, 9, 17, 30 and 002 Ex. 5 vs the final weights, the loss
 *     column (as ‖W − Ȳ‖ = √(2L)), the sv columns and the cf_dist column;
 *   001 Prop. 3 eq. 23 (component rates); 003 Thm 1 eq. 10; 004 Prop. 2; 002 Thm 2;
 *   002 Rem. 2 (gradient descent); 000 Thm 1 eq. 11 at θ(0) and at the end point;
 *   conservation of C_j (002 Lemma 1) from the drift columns; sign det W (002 Lemma 2);
 *   the end point: stratum and critical value (004 Lemma 3.2), Hessian by Lanczos
 *   (004 Prop. 4: no spurious local minimum; 002 Prop. 3), 000 Thm 3; 002 Thm 3 (σ̇).
 * Tolerance: tol = slack·rtol (docs/check.md).
 *
 * Files: this one (the driver and the checks along the trajectory), check_state.c (the
 * checks at recorded states: det W, σ̇, the end point), check_read.c (the run folder),
 * check_report.c (report items, the table, check.json); check_internal.h. */
#include "dln/check.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <float.h>
#include <lapacke.h>

#include "dln/error.h"
#include "dln/net.h"
#include "dln/observe.h"
#include "dln/rng.h"
#include "dln/spec.h"
#include "dln/theory.h"
#include "run/check_internal.h"
#include "run/run_internal.h"

/* ------------------------------------------------------------------ the checks */


/* Conservation of C_j (002 Lemma 1) from the drift columns. */
static void check_conservation(ctx *c) {
  static const char *R = "conservation of C_j", *S = "002 Lemma 1";
  dln_net *net = c->p->net;
  if (!c->flow) { dln_chk_add_na(c->rep, R, S, "%s", c->flow_why); return; }
  if (net->depth < 2 || net->tied) { dln_chk_add_na(c->rep, R, S, "untied depth >= 2 fails (depth %d%s)", net->depth, net->tied ? ", tied" : ""); return; }
  double worst = 0;
  int ncol = 0;
  for (int j = 0; j < c->tab->ncols; ++j) {
    if (strncmp(c->tab->names[j], "drift_C", 7) != 0) continue;
    ++ncol;
    for (size_t i = 0; i < c->tab->nrows; ++i) {
      double x = c->tab->data[i * (size_t)c->tab->ncols + (size_t)j];
      if (!(x <= worst)) worst = isnan(x) ? INFINITY : x;
    }
  }
  if (!ncol) { dln_chk_add_na(c->rep, R, S, "drift_C columns recorded fails (observe without \"conserved\")"); return; }
  char hyp[128];
  snprintf(hyp, sizeof hyp, "gradient flow (%s); %d drift columns; tolerance slack*rtol", c->spec->method, ncol);
  dln_chk_add_dev(c->rep, R, S, hyp, c->tol, worst, "max_j,t |C_j(t) - C_j(0)|/max(1,|C_j(0)|)");
}

/* The first closed form whose hypotheses hold at θ(0): the observer's choice
 * (dln_cf_select), with the reasons for the others ("not applicable: " dropped). */
static dln_cf *pick_cf(ctx *c, char *why, size_t len) {
  dln_cf *cf = NULL;
  why[0] = '\0';
  if (dln_cf_select(&cf, c->p->net, c->p->loss, c->theta0, 0, why, len)) snprintf(why, len, "%s", dln_last_error());
  for (char *p = strstr(why, "not applicable: "); p; p = strstr(p, "not applicable: "))
    memmove(p, p + 16, strlen(p + 16) + 1);
  if (!cf && !why[0]) snprintf(why, len, "no closed form for depth %d%s", c->p->net->depth, c->p->net->tied ? " (tied)" : "");
  return cf;
}

/* 002 Ex. 5 / Lemma 2 assume <-grad l(W(t)), u_r(t) v_r(t)^T> = c_r for all t: the
 * library checks it at t = 0 only; here also at the end point. 1 when it holds (within
 * tol relative to max_r |c_r|), else 0 with the reason in why. */
static int aligned_holds_at_end(ctx *c, dln_cf *cf, char *why, size_t len) {
  if (!c->thetaf) { snprintf(why, len, "constant gradient alignment: end-point layers recorded fails (end-to-end run)"); return 0; }
  dln_loss *loss = c->p->loss;
  int m = loss->rows, n = loss->cols, p = m < n ? m : n;
  size_t mn = (size_t)m * (size_t)n;
  double *W = calloc(mn, sizeof *W), *G = calloc(mn, sizeof *G), *U = calloc((size_t)m * m, sizeof *U),
         *VT = calloc((size_t)n * n, sizeof *VT), *s = calloc((size_t)p + 1, sizeof *s), *sup = calloc((size_t)p + 1, sizeof *sup);
  int ok = 0;
  double worst = INFINITY, scale = 0, val = 0;
  if (W && G && U && VT && s && sup && !dln_net_grad(c->p->net, loss, c->thetaf, NULL, NULL, W) && !dln_loss_eval(loss, W, &val, G) &&
      !LAPACKE_dgesvd(LAPACK_COL_MAJOR, 'A', 'A', m, n, W, m, s, U, m, VT, n, sup)) {
    worst = 0;
    for (int r = 0; r < p; ++r) {
      double cr0 = 0, cr = 0;
      dln_cf_component_params(cf, r, &cr0, NULL, NULL);
      for (int j = 0; j < n; ++j) {
        double gv = 0; /* (G v_r)_i summed against u_r */
        for (int i = 0; i < m; ++i) gv += U[i + (size_t)r * m] * G[i + (size_t)j * m];
        cr -= gv * VT[r + (size_t)j * n];
      }
      scale = fmax(scale, fabs(cr0));
      worst = fmax(worst, fabs(cr - cr0));
    }
    worst /= fmax(scale, DBL_MIN);
    ok = worst <= c->tol;
  }
  if (!ok)
    snprintf(why, len, "constant gradient alignment <-grad l, u_r v_r^T> = c_r fails at the end point (max_r |c_r(end) - c_r(0)|/max_r |c_r(0)| = %.3g > %.3g)",
             worst, c->tol);
  free(W), free(G), free(U), free(VT), free(s), free(sup);
  return ok;
}

static int cmp_desc(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x < y) - (x > y);
}

/* Closed form vs the final weights. */
static void cf_final(ctx *c, dln_cf *cf, const char *name, const char *hyp) {
  double dist = NAN;
  if (dln_cf_distance(c->p->net, c->thetaf, c->t_final, cf, &dist) != DLN_OK)
    dln_chk_add_na(c->rep, "closed form: final weights", name, "%s", dln_last_error());
  else
    dln_chk_add_dev(c->rep, "closed form: final weights", name, hyp, c->tol, dist, "|W - W_cf|/max(1,|W_cf|) at the end");
}

/* loss column: |√(2(L − L*)) − ‖W_cf − Ȳ‖| ≤ ‖W − W_cf‖ (factorization, L* = 0) */
static void cf_loss(ctx *c, dln_cf *cf, const char *name, const char *hyp, double *Wc) {
  dln_loss *loss = c->p->loss;
  dln_table *tab = c->tab;
  size_t wsz = (size_t)loss->rows * (size_t)loss->cols;
  int cl = dln_table_col(tab, "loss"), ct = 0;
  if (c->fact && cl >= 0) {
    double worst = 0, scale = fmax(1.0, loss->target_norm);
    size_t used = 0;
    for (size_t i = 0; i < tab->nrows; ++i) {
      const double *r = tab->data + i * (size_t)tab->ncols;
      if (dln_cf_eval(cf, r[ct], Wc) != DLN_OK) continue;
      double s = 0;
      for (size_t k = 0; k < wsz; ++k) s += (Wc[k] - loss->wstar[k]) * (Wc[k] - loss->wstar[k]);
      double dev = fabs(sqrt(fmax(0.0, 2 * r[cl])) - sqrt(s)) / scale;
      if (!(dev <= worst)) worst = isnan(dev) ? INFINITY : dev;
      ++used;
    }
    if (used) dln_chk_add_dev(c->rep, "closed form: loss", name, hyp, c->tol, worst, "max_t |sqrt(2L) - |W_cf - Ybar||/max(1,|Ybar|)");
  } else if (!c->fact) {
    dln_chk_add_na(c->rep, "closed form: loss", name, "factorization loss fails (%s)", loss->ops->name);
  }
}

/* sv columns vs |components| (sorted) */
static void cf_singular_values(ctx *c, dln_cf *cf, const char *name, const char *hyp, double *comp, int ncomp) {
  dln_table *tab = c->tab;
  int rows = c->p->loss->rows, cols = c->p->loss->cols, ct = 0;
  int c1 = dln_table_col(tab, "sv_1");
  if (ncomp > 0 && c1 >= 0) {
    int k = rows < cols ? rows : cols, m = ncomp < k ? ncomp : k;
    double worst = 0, scale = 1;
    for (int i = 0; i < ncomp; ++i) {
      double sg = 0, x0 = 0;
      dln_cf_component_params(cf, i, &sg, NULL, &x0);
      scale = fmax(scale, fmax(fabs(sg), fabs(x0)));
    }
    for (size_t i = 0; i < tab->nrows; ++i) {
      const double *r = tab->data + i * (size_t)tab->ncols;
      if (dln_cf_components(cf, r[ct], comp) != DLN_OK) continue;
      for (int q = 0; q < ncomp; ++q) comp[q] = fabs(comp[q]);
      qsort(comp, (size_t)ncomp, sizeof *comp, cmp_desc);
      for (int q = 0; q < m; ++q) {
        double dev = fabs(r[c1 + q] - comp[q]) / scale;
        if (!(dev <= worst)) worst = isnan(dev) ? INFINITY : dev;
      }
    }
    dln_chk_add_dev(c->rep, "closed form: singular values", name, hyp, c->tol, worst, "max_t,i |sv_i - |sigma_i(t)||/scale");
  }
}

/* the observer's cf_dist column */
static void cf_dist_column(ctx *c, const char *name, const char *hyp) {
  dln_table *tab = c->tab;
  int cd = dln_table_col(tab, "cf_dist");
  if (cd >= 0) {
    double worst = 0;
    for (size_t i = 0; i < tab->nrows; ++i) {
      double x = tab->data[i * (size_t)tab->ncols + (size_t)cd];
      if (!(x <= worst) && !isnan(x)) worst = x;
    }
    dln_chk_add_dev(c->rep, "closed form: cf_dist column", name, hyp, c->tol, worst, "max_t cf_dist");
  }
}

/* 001 Prop. 3, eq. 23 */
static void cf_component_rates(ctx *c, dln_cf *cf) {
  if (dln_cf_kind_of(cf) == DLN_CF_SPECTRAL_ASYM) {
    dln_table *tab = c->tab;
    dln_verdict v;
    memset(&v, 0, sizeof v);
    double sg = 0;
    dln_cf_component_params(cf, 0, &sg, NULL, NULL);
    double scale = fmax(1.0, fabs(sg)), lo = fmax(1e-12, 1e2 * c->spec->train.rtol) * scale, hi = 1e-4 * scale;
    int st = dln_bound_component_rates(cf, tab, lo, hi, 0.05, NULL, NULL, &v);
    int loose = 0;
    if (!st && v.applicable && !v.holds) {
      dln_verdict v2 = v;
      loose = dln_bound_component_rates(cf, tab, lo, hi, 0.5, NULL, NULL, &v2) == DLN_OK && v2.holds;
    }
    dln_chk_add_verdict(c->rep, st, &v, "component rates", "001 Prop. 3 eq. 23", loose);
  }
}

static void check_closed_forms(ctx *c) {
  static const char *S = "001 / 002 Ex. 5";
  char why[600];
  if (!c->flow) { dln_chk_add_na(c->rep, "closed form", S, "%s", c->flow_why); return; }
  dln_cf *cf = pick_cf(c, why, sizeof why);
  if (!cf) { dln_chk_add_na(c->rep, "closed form", S, "%s", why); return; }
  if (dln_cf_kind_of(cf) == DLN_CF_ALIGNED && !aligned_holds_at_end(c, cf, why, sizeof why)) {
    dln_chk_add_na(c->rep, "closed form", dln_cf_name(cf), "%s", why);
    dln_cf_free(cf);
    return;
  }
  dln_loss *loss = c->p->loss;
  const char *name = dln_cf_name(cf);
  char hyp[256];
  snprintf(hyp, sizeof hyp, "%s: hypotheses hold at t = 0", name);
  int rows = loss->rows, cols = loss->cols;
  size_t wsz = (size_t)rows * (size_t)cols;
  double *Wc = calloc(wsz ? wsz : 1, sizeof *Wc);
  int ncomp = dln_cf_ncomponents(cf);
  double *comp = calloc((size_t)(ncomp > 0 ? ncomp : 1), sizeof *comp);
  if (Wc && comp) {
    /* final weights */
    if (c->thetaf) cf_final(c, cf, name, hyp);
    cf_loss(c, cf, name, hyp, Wc);
    cf_singular_values(c, cf, name, hyp, comp, ncomp);
    cf_dist_column(c, name, hyp);
    cf_component_rates(c, cf);
  }
  free(Wc);
  free(comp);
  dln_cf_free(cf);
}

typedef int (*rate_fn)(ctx *c, const dln_curve *cv, double tol, dln_verdict *v);

static int rate_003(ctx *c, const dln_curve *cv, double tol, dln_verdict *v) {
  const dln_mat *X = dln_loss_design(c->p->loss);
  return dln_bound_imbalance_rate(c->p->net, c->p->loss, X, c->theta0, cv, tol, v);
}
static int rate_004(ctx *c, const dln_curve *cv, double tol, dln_verdict *v) {
  return dln_bound_pyramidal(c->p->net, c->p->loss, c->theta0, cv, tol, v);
}
static int rate_002(ctx *c, const dln_curve *cv, double tol, dln_verdict *v) {
  double gap0 = cv->y[0] - (isnan(c->p->loss->lstar) ? 0 : c->p->loss->lstar);
  return dln_bound_deficiency(c->p->net, c->p->loss, c->theta0, cv, 1e-3 * gap0, tol, v);
}
static int rate_gd(ctx *c, const dln_curve *cv, double tol, dln_verdict *v) {
  return dln_bound_gd_remark2(c->p->net, c->p->loss, c->theta0, c->spec->train.eta, cv, tol, v);
}

/* "x > 0" hypotheses at the run's accuracy: an imbalance below what the integrator
 * resolves (CHECK_ROUNDOFF·(acc + eps)·‖θ(0)‖²; C_j and Λ scale like ‖θ‖²) is zero.
 * 003 Thm 1 (c > 0) for i = 0, 004 Prop. 2 (C_l's d_{l+1}-th eigenvalue > 0) for i = 1.
 * 1 with the reason in why when the hypothesis fails at this accuracy. */
static int rate_roundoff(ctx *c, int i, char *why, size_t len) {
  dln_net *net = c->p->net;
  double th = dln_norm2(net->nparams, c->theta0), floor_ = CHECK_ROUNDOFF * (c->acc + DBL_EPSILON) * th * th;
  if (net->tied || net->depth < 2) return 0;
  if (i == 2 && c->fact) { /* 002 Thm 2: δ > 0 at the accuracy of W (scale ‖Ȳ‖) */
    dln_loss *loss = c->p->loss;
    double *W = calloc((size_t)loss->rows * (size_t)loss->cols, sizeof *W), delta = NAN;
    int ok = W && !dln_net_product(net, c->theta0, W) && !dln_theory_deficiency_margin(loss, W, &delta);
    free(W);
    double fl = CHECK_ROUNDOFF * (c->acc + DBL_EPSILON) * fmax(loss->target_norm, DBL_MIN);
    if (ok && delta > 0 && !(delta > fl)) {
      snprintf(why, len, "002 Definition 3: deficiency margin delta > 0 at the run's accuracy fails (delta = %.3g <= %.3g)", delta, fl);
      return 1;
    }
    return 0;
  }
  if (i == 0 && net->depth == 2) {
    double cc = 0;
    const dln_mat *X = dln_loss_has(c->p->loss, DLN_LOSS_LSQ_DESIGN) ? dln_loss_design(c->p->loss) : NULL;
    if (dln_theory_imbalance_c(net, X, c->theta0, &cc, NULL, NULL, NULL, NULL) == DLN_OK && !(cc > floor_)) {
      snprintf(why, len, "003 Theorem 1: c > 0 at the run's accuracy fails (c = %.3g <= %g (rtol + eps) |theta0|^2 = %.3g)", cc,
               CHECK_ROUNDOFF, floor_);
      return 1;
    }
  } else if (i == 1) {
    const int *d = net->widths;
    for (int l = 1; l < net->depth; ++l) {
      int q = d[l];
      if (q < d[l + 1]) return 0; /* not pyramidal: the library says so */
      double *C = calloc((size_t)q * q, sizeof *C), *ev = calloc((size_t)q, sizeof *ev);
      int bad = 0;
      if (C && ev && !dln_net_conserved(net, c->theta0, l, C) && !LAPACKE_dsyev(LAPACK_COL_MAJOR, 'N', 'U', q, C, q, ev)) {
        double lam = ev[q - d[l + 1]]; /* ascending: the d_{l+1}-th largest */
        if (!(lam > floor_)) {
          snprintf(why, len, "004 Prop. 2: C_%d(0) has d_%d positive eigenvalues at the run's accuracy fails (%.3g <= %.3g)", l,
                   l + 1, lam, floor_);
          bad = 1;
        }
      }
      free(C), free(ev);
      if (bad) return 1;
    }
  }
  return 0;
}

static void check_rates(ctx *c) {
  static const struct {
    const char *result, *source;
    rate_fn fn;
    int gd;
  } bounds[] = {{"rate from imbalance", "003 Thm 1 eq. 10", rate_003, 0},
                {"pyramidal rate", "004 Prop. 2", rate_004, 0},
                {"deficiency margin rate, time to eps", "002 Thm 2", rate_002, 0},
                {"gradient descent rate", "002 Rem. 2", rate_gd, 1}};
  int is_gd = !c->p->e2e && (c->p->to.method->flags & DLN_INTEG_DISCRETE);
  dln_curve cv;
  int have = c->tab && dln_curve_from_table(&cv, c->tab, "loss") == DLN_OK;
  for (size_t i = 0; i < sizeof bounds / sizeof *bounds; ++i) {
    const char *R = bounds[i].result, *S = bounds[i].source;
    if (bounds[i].gd ? !is_gd || c->disturbed : !c->flow) {
      if (bounds[i].gd) dln_chk_add_na(c->rep, R, S, "%sgradient descent fails (method %s)", is_gd ? "undisturbed " : "", c->spec->method);
      else dln_chk_add_na(c->rep, R, S, "%s", c->flow_why);
      continue;
    }
    if (!have) {
      dln_chk_add_na(c->rep, R, S, "loss column recorded fails (observe without \"loss\")");
      continue;
    }
    char why[240];
    if (i < 3 && rate_roundoff(c, (int)i, why, sizeof why)) {
      dln_chk_add_na(c->rep, R, S, "%s", why);
      continue;
    }
    dln_verdict v;
    memset(&v, 0, sizeof v);
    int st = bounds[i].fn(c, &cv, c->tol, &v), loose = 0;
    if (!st && v.applicable && !v.holds) {
      dln_verdict v2;
      memset(&v2, 0, sizeof v2);
      loose = bounds[i].fn(c, &cv, CHECK_LOOSE * c->tol, &v2) == DLN_OK && v2.holds;
    }
    dln_chk_add_verdict(c->rep, st, &v, R, S, loose);
  }
}

static void check_dissipation(ctx *c) {
  const double *th[2] = {c->theta0, c->thetaf};
  static const char *const R[2] = {"dissipation at t = 0", "dissipation at the end point"};
  for (int k = 0; k < 2; ++k) {
    if (c->disturbed) { /* with U = V = 0 at a point; the disturbed run is checked along its trajectory */
      dln_chk_add_na(c->rep, R[k], "000 Thm 1 eq. 11", "%s; see \"dissipation along the trajectory\"", c->flow_why);
      continue;
    }
    if (!th[k]) {
      dln_chk_add_na(c->rep, R[k], "000 Thm 1 eq. 11", "layers recorded at the end fails (end-to-end run)");
      continue;
    }
    dln_verdict v;
    memset(&v, 0, sizeof v);
    int st = dln_bound_dissipation(c->p->net, c->p->loss, th[k], NULL, c->tol, &v);
    dln_chk_add_verdict(c->rep, st, &v, R[k], "000 Thm 1 eq. 11", 0);
  }
}

/* ------------------------------------------------------------------ driver */

/* A run folder read back: its spec, data, network and trajectory. */
typedef struct run_folder {
  dln_spec spec;
  dln_run_data d;
  dln_run_parts p;
  dln_table *tab;
  double *thf; /* the final layers, if recorded (foundf) */
  int foundf;
  chk_summary sum;
  double *th_spec; /* θ(0) generated by the summary's spec */
  char th_why[200];
  double th_phi; /* φ(th_spec) on the spec's own data */
} run_folder;

/* θ(0) as the spec as run generates it: its data drawn again (as dln run: data first,
 * then the init, from one stream), then its init. NULL with the reason in why when the
 * spec cannot be re-run here (e.g. its data files are not at their paths). */
static double *spec_theta0(dln_spec *orig, size_t np, double *phi, char *why, size_t len) {
  dln_run_data d;
  dln_run_parts p;
  memset(&d, 0, sizeof d);
  memset(&p, 0, sizeof p);
  int phase = 0, st;
  double *th = NULL;
  dln_rng *rng = dln_rng_alloc(orig->seed, orig->stream);
  if (!rng) st = dln_error(DLN_ENOMEM, "out of memory");
  else if (!(st = dln_run_data_build(orig, rng, &d, &phase)) && !(st = dln_run_parts_build(orig, &d, rng, &p, &phase))) {
    if (p.net->nparams != np) st = dln_error(DLN_EDIM, "%zu parameters, the folder's layers have %zu", p.net->nparams, np);
    else if ((th = malloc((np ? np : 1) * sizeof *th))) memcpy(th, p.theta0, np * sizeof *th);
    if (th) dln_net_grad(p.net, p.loss, th, phi, NULL, NULL); /* φ on the spec's own data */
  }
  if (!th) snprintf(why, len, "re-running the spec's init fails (%.150s)", st ? dln_last_error() : "out of memory");
  dln_run_parts_free(&p);
  dln_run_data_free(&d);
  dln_rng_free(rng);
  return th;
}

/* The theory rows from item `from` on are results about the flow of ℓ alone (closed
 * forms, rates, dissipation, conservation, det sign, σ̇, the end point's critical
 * values): with the imbalance regularizer (001 Prop. 4 eq. 27) the run followed the
 * flow of ℓ + R, so each becomes "not applicable". */
static void not_applicable_reg(dln_check_report *rep, size_t from) {
  for (size_t i = from; i < rep->n; ++i) {
    dln_check_item *it = &rep->items[i];
    const char *result = it->v.result, *source = it->v.source;
    memset(it, 0, sizeof *it);
    it->v.result = result;
    it->v.source = source;
    it->v.bound = it->v.measured = it->v.margin = NAN;
    snprintf(it->v.message, sizeof it->v.message,
             "not applicable: imbalance regularizer (the run follows the flow of l + R, 001 Prop. 4)");
  }
}

/* Read the run in dir into f (f->spec: the defaults). */
static int load_folder(const char *dir, run_folder *f) {
  int st, phase = 0, have_orig = 0;
  dln_spec orig;
  if ((st = dln_chk_read_spec(dir, &f->spec, &f->sum, &orig, &have_orig))) goto done;
  if ((st = dln_run_data_build(&f->spec, NULL, &f->d, &phase))) goto done;
  if ((st = dln_run_parts_build(&f->spec, &f->d, NULL, &f->p, &phase))) goto done;
  if (have_orig) f->th_spec = spec_theta0(&orig, f->p.net->nparams, &f->th_phi, f->th_why, sizeof f->th_why);
  int found0 = 0;
  if ((st = dln_chk_read_layers(dir, f->p.net, "init", f->p.theta0, &found0))) goto done;
  if (!found0) {
    st = dln_error(DLN_EIO, "%s/%s: cannot read (missing); expected the initial layers of the run", dir,
                   f->p.net->tied ? "U_init.npy" : "W1_init.npy");
    goto done;
  }
  if (!f->p.e2e) {
    f->thf = calloc(f->p.net->nparams ? f->p.net->nparams : 1, sizeof *f->thf);
    if (!f->thf) {
      st = dln_error(DLN_ENOMEM, "out of memory");
      goto done;
    }
    if ((st = dln_chk_read_layers(dir, f->p.net, "final", f->thf, &f->foundf))) goto done;
  }
  st = dln_chk_read_trajectory(dir, &f->tab);
done:
  if (have_orig) dln_spec_free(&orig);
  return st;
}

static void folder_free(run_folder *f) {
  free(f->thf);
  free(f->th_spec);
  dln_table_free(f->tab);
  dln_run_parts_free(&f->p);
  dln_run_data_free(&f->d);
  dln_spec_free(&f->spec);
}

/* The checks' context for the run f, and the report's header (tolerance, method). */
static void ctx_init(ctx *c, run_folder *f, dln_check_report *rep, const dln_check_options *o, const char *dir) {
  dln_spec *spec = &f->spec;
  dln_table *tab = f->tab;
  memset(c, 0, sizeof *c);
  c->rep = rep;
  c->opt = o;
  c->spec = spec;
  c->d = &f->d;
  c->p = &f->p;
  c->tab = tab;
  c->theta0 = f->p.theta0;
  c->thetaf = f->foundf ? f->thf : NULL;
  c->flow = !f->p.e2e && !(f->p.to.method->flags & DLN_INTEG_DISCRETE);
  /* the disturbed flow (000 eq. 9) is not a gradient flow: the undisturbed flow's results do not apply */
  c->disturbed = !f->p.e2e && dln_train_disturbance_kind(&f->p.to) > 0 && f->p.to.disturbance_scale != 0;
  if (c->disturbed) c->flow = 0;
  snprintf(c->flow_why, sizeof c->flow_why, c->disturbed ? "undisturbed gradient flow fails (disturbed: %s, 000 eq. 9)" : "layer-wise gradient flow fails (method %s)",
           c->disturbed ? f->p.to.disturbance : spec->method);
  c->fact = dln_loss_has(f->p.loss, DLN_LOSS_IDENTITY);
  c->t_final = tab->data[(tab->nrows - 1) * (size_t)tab->ncols];
  double acc = spec->train.rtol;
  if (f->p.to.method == &dln_integrator_gauss && spec->train.gauss_h > 0) acc = fmax(acc, pow(spec->train.gauss_h, 2.0 * spec->train.gauss_stages));
  c->tol = o->tol > 0 ? o->tol : fmin(1e-1, o->slack * acc);
  c->acc = acc;
  c->sum = &f->sum;
  c->dir = dir;
  c->theta_spec = f->th_spec;
  c->theta_spec_phi = f->th_phi;
  snprintf(c->theta_spec_why, sizeof c->theta_spec_why, "%s", f->th_why);
  c->diverged = strcmp(f->sum.stop_reason, "diverged") == 0;
  rep->tol = c->tol;
  rep->rtol = spec->train.rtol;
  rep->atol = spec->train.atol;
  rep->slack = o->slack;
  snprintf(rep->method, sizeof rep->method, "%s", spec->method);
}

/* One run folder (dln_check_folder has checked dir and filled o and rep->dir). */
int dln_chk_run(const char *dir, const dln_check_options *opt, dln_check_report *rep) {
  dln_check_options o = *opt;
  run_folder f;
  memset(&f, 0, sizeof f);
  int st = dln_spec_default(&f.spec);
  if (st) return st;
  if ((st = load_folder(dir, &f))) goto done;

  ctx c;
  ctx_init(&c, &f, rep, &o, dir);
  dln_chk_manifest(&c);
  dln_chk_consistency(&c);
  size_t theory_from = rep->n;
  check_closed_forms(&c);
  check_rates(&c);
  check_dissipation(&c);
  check_conservation(&c);
  dln_chk_disturbed(&c);
  dln_chk_scalar(&c);
  dln_chk_det(&c);
  dln_chk_sigma_dot(&c);
  dln_chk_end_point(&c);
  dln_chk_theory_more(&c);
  if (dln_net_has_imbalance_reg(c.p->net)) not_applicable_reg(rep, theory_from);
  dln_chk_tally(rep);
done:
  folder_free(&f);
  return st;
}
