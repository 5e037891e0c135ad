/* `dln check` rows for the later theory results (docs/check.md):
 *   003 Thm 2 (eq. 16 + eq. 10): distance of the end point to the min-norm solution;
 *   003 Lemma 1 eq. 17–19 and Thm 2 eq. 20 for a width_scaled init (probabilistic: a
 *     failure means h ≤ h_0 or the δ-event, never a violation);
 *   001 Prop. 2 eq. 10: the tied flow's rate to the PSD projection of Y;
 *   002 Ex. 2: the tied network's end-to-end dynamics at the recorded states;
 *   002 Prop. 5 / Ex. 4: ‖W‖ diverges as ℓ → 0 on the 2 x 2 sensing instance;
 *   004 Prop. 5: the end point's stratum dimension = the nullity of its Hessian;
 *   001 §5 eq. 32–39: a gradient-descent run's tail rate vs the discrete prediction. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dln/error.h"
#include "dln/landscape.h"
#include "dln/theory.h"
#include "run/check_internal.h"

#define LEMMA1_DELTA 0.05 /* δ of 003 Lemma 1 / eq. 20 in the width-bound row */

/* Common hypotheses of the 003 §3 rows; 1 with a row added when they fail. */
static int minnorm_na(ctx *c, const char *R, const char *S, dln_minnorm *b) {
  dln_net *net = c->p->net;
  if (!c->flow) { dln_chk_add_na(c->rep, R, S, "layer-wise gradient flow fails (method %s)", c->spec->method); return 1; }
  if (!c->thetaf) { dln_chk_add_na(c->rep, R, S, "final layers recorded fails"); return 1; }
  if (dln_theory_minnorm_setup(net, c->p->loss, c->theta0, b)) { dln_chk_add_na(c->rep, R, S, "%s", dln_last_error()); return 1; }
  double th = dln_norm2(net->nparams, c->theta0), fl = CHECK_ROUNDOFF * (c->acc + DBL_EPSILON) * th * th;
  if (!(b->c > fl)) {
    dln_chk_add_na(c->rep, R, S, "003 Theorem 1: c > 0 at the run's accuracy fails (c = %.3g <= %.3g)", b->c, fl);
    return 1;
  }
  return 0;
}

/* 003 Thm 2's deterministic core: ‖W(T) − Θ̂‖ ≤ B(T). */
static void check_minnorm(ctx *c) {
  static const char *R = "distance to the min-norm solution", *S = "003 Thm 2 (eq. 16, 10)";
  dln_minnorm b;
  if (minnorm_na(c, R, S, &b)) return;
  dln_verdict v;
  dln_curve cv, *pc = c->tab && dln_curve_from_table(&cv, c->tab, "loss") == DLN_OK ? &cv : NULL;
  int st = dln_bound_minnorm(c->p->net, c->p->loss, c->theta0, c->thetaf, c->t_final, pc, c->tol, &v), loose = 0;
  if (!st && v.applicable && !v.holds) {
    dln_verdict v2;
    loose = dln_bound_minnorm(c->p->net, c->p->loss, c->theta0, c->thetaf, c->t_final, pc, CHECK_LOOSE * c->tol, &v2) == DLN_OK && v2.holds;
  }
  dln_chk_add_verdict(c->rep, st, &v, R, S, loose);
}

/* 003 Lemma 1 (17)–(19) at θ(0) and eq. 20 at the end point, for the init they are about. */
static void check_width_bound(ctx *c) {
  static const char *R = "width bound (probability 1 - delta)", *S = "003 Lemma 1 eq. 17-19, Thm 2 eq. 20";
  const char *init = c->spec->init ? c->spec->init : "";
  double alpha = c->spec->init_opts.alpha;
  if (strcmp(init, "width_scaled") != 0) {
    dln_chk_add_na(c->rep, R, S, "init width_scaled, entries N(0, h^(-2 alpha)) fails (init %s)", init);
    return;
  }
  dln_minnorm b;
  if (minnorm_na(c, R, S, &b)) return;
  double e17, e18, e19, e20, dist = NAN;
  if (dln_theory_003_lemma1(b.m, b.d0, b.rank, b.width, alpha, LEMMA1_DELTA, &e17, &e18, &e19) ||
      dln_theory_003_eq20(&b, alpha, LEMMA1_DELTA, &e20)) {
    dln_chk_add_na(c->rep, R, S, "%s", dln_last_error());
    return;
  }
  dln_verdict v;
  if (dln_bound_minnorm(c->p->net, c->p->loss, c->theta0, c->thetaf, c->t_final, NULL, c->tol, &v) == DLN_OK) dist = v.measured;
  const char *fail = !(b.c > e17) ? "eq. 17" : !(b.z0 <= e18) ? "eq. 18" : !(b.u1v0 <= e19) ? "eq. 19" : !(dist <= e20 * (1 + c->tol)) ? "eq. 20" : NULL;
  char hyp[256];
  snprintf(hyp, sizeof hyp, "h = %d, alpha = %g, delta = %g: c = %.3g vs h^(1-2a) = %.3g; |Z0| = %.3g vs %.3g; |U1V0| = %.3g vs %.3g",
           b.width, alpha, LEMMA1_DELTA, b.c, e17, b.z0, e18, b.u1v0, e19);
  if (fail) {
    /* a probabilistic statement for h > h_0 = poly(m, D, 1/delta), h_0 unspecified */
    dln_chk_add_na(c->rep, R, S, "h > h_0 (unspecified) and the probability 1 - delta event fails (%s: %s; |W - Theta_hat| = %.3g vs eq. 20 %.3g)",
                   fail, hyp, dist, e20);
    return;
  }
  dln_chk_add_dev(c->rep, R, S, hyp, e20, dist, "|W(T) - Theta_hat|_F vs eq. 20 (with eq. 17-19 at theta(0))");
}

/* 001 Prop. 2: tied runs. */
static void check_psd_projection(ctx *c) {
  static const char *R = "tied flow to the PSD projection", *S = "001 Prop. 2 eq. 10";
  if (!c->flow) { dln_chk_add_na(c->rep, R, S, "layer-wise gradient flow fails (method %s)", c->spec->method); return; }
  if (!c->p->net->tied) { dln_chk_add_na(c->rep, R, S, "tied network W = U U^T fails (untied)"); return; }
  dln_curve cv;
  if (!c->tab || dln_curve_from_table(&cv, c->tab, "loss")) {
    dln_chk_add_na(c->rep, R, S, "loss column recorded fails (observe without \"loss\")");
    return;
  }
  dln_loss *loss = c->p->loss;
  double sc = 0.5 * loss->target_norm * loss->target_norm;
  if (!(sc > 0)) sc = 1;
  /* tail window: above the accuracy of L − L* (cancellation against L*), below 1e-4 of the scale */
  double lo = 1e2 * (c->acc + DBL_EPSILON) * sc, hi = 1e-4 * sc;
  dln_verdict v;
  int st = dln_bound_psd_projection(c->p->net, loss, c->theta0, &cv, lo, hi, c->acc, 0.05, &v), loose = 0;
  if (!st && v.applicable && !v.holds) {
    dln_verdict v2;
    loose = dln_bound_psd_projection(c->p->net, loss, c->theta0, &cv, lo, hi, c->acc, 0.5, &v2) == DLN_OK && v2.holds;
  }
  dln_chk_add_verdict(c->rep, st, &v, R, S, loose);
}

/* 002 Ex. 2 at θ: Ẇ_s from W_s alone vs U̇U^T + UU̇^T with U̇ = −∇_U φ (the run's gradient).
 * Relative deviation, or −1 on failure. */
static double sym_e2e_dev(ctx *c, const double *th) {
  dln_net *net = c->p->net;
  int d = dln_net_rows(net), k = net->widths[1];
  size_t dd = (size_t)d * d;
  double *g = calloc(net->nparams, sizeof *g), *Ws = calloc(dd, sizeof *Ws), *P = calloc(dd, sizeof *P), dev = -1;
  if (g && Ws && P && !dln_net_grad(net, c->p->loss, th, NULL, g, Ws) && !dln_theory_sym_e2e(c->p->loss, Ws, P)) {
    const double *U = dln_net_layer_const(net, th, 1), *gU = dln_net_layer_const(net, g, 1); /* tied: U (d x k) */
    double num = 0, den = 0;
    for (int j = 0; j < d; ++j)
      for (int i = 0; i < d; ++i) {
        double m = 0; /* (U̇U^T + UU̇^T)_ij, U̇ = −g */
        for (int l = 0; l < k; ++l) m -= gU[i + (size_t)l * d] * U[j + (size_t)l * d] + U[i + (size_t)l * d] * gU[j + (size_t)l * d];
        num += (P[i + (size_t)j * d] - m) * (P[i + (size_t)j * d] - m), den += m * m;
      }
    /* relative to the size of the two products before they cancel (‖G + G^T‖‖W_s‖, G = ∇ℓ):
     * at a converged end point Ẇ_s itself is at round-off */
    double val, gs = 0;
    if (!dln_loss_eval(c->p->loss, Ws, &val, P))
      for (int j = 0; j < d; ++j)
        for (int i = 0; i < d; ++i) gs += (P[i + (size_t)j * d] + P[j + (size_t)i * d]) * (P[i + (size_t)j * d] + P[j + (size_t)i * d]);
    dev = sqrt(num) / fmax(fmax(sqrt(den), 2 * sqrt(gs) * dln_norm2(dd, Ws)), DBL_MIN);
  }
  free(g), free(Ws), free(P);
  return dev;
}

static void check_sym_e2e(ctx *c) {
  static const char *R = "tied end-to-end dynamics", *S = "002 Ex. 2";
  if (!c->p->net->tied || c->p->e2e) { dln_chk_add_na(c->rep, R, S, "tied network W = U U^T, layer-wise fails (%s)", c->p->e2e ? "end-to-end run" : "untied"); return; }
  const double *th[2] = {c->theta0, c->thetaf};
  double worst = 0;
  int n = 0;
  for (int i = 0; i < 2; ++i) {
    if (!th[i]) continue;
    double dv = sym_e2e_dev(c, th[i]);
    if (dv < 0) { dln_chk_add_na(c->rep, R, S, "%s", dln_last_error()); return; }
    worst = fmax(worst, dv), ++n;
  }
  char hyp[128];
  snprintf(hyp, sizeof hyp, "tied, square W; %d recorded states (t = 0%s)", n, c->thetaf ? " and the end" : "");
  dln_chk_add_dev(c->rep, R, S, hyp, c->tol, worst, "max |dWs/dt (Ex. 2, from Ws) - (dU U^T + U dU^T)| / max(|...|, 2 |G + G^T| |Ws|)");
}

/* 002 Prop. 5 / Ex. 4 along the trajectory (loss, sv_1 ≥ |w_11|) and at the end (‖W‖_F). */
static void check_norm_divergence(ctx *c) {
  static const char *R = "norm divergence", *S = "002 Prop. 5 / Ex. 4";
  dln_net *net = c->p->net;
  if (!c->flow) { dln_chk_add_na(c->rep, R, S, "layer-wise gradient flow fails (method %s)", c->spec->method); return; }
  if (net->tied || net->depth < 2) { dln_chk_add_na(c->rep, R, S, "untied depth >= 2 fails (depth %d%s)", net->depth, net->tied ? ", tied" : ""); return; }
  if (dln_theory_prop5_instance(c->p->loss, NULL, NULL, NULL)) { dln_chk_add_na(c->rep, R, S, "%s", dln_last_error()); return; }
  double th2 = dln_norm2(net->nparams, c->theta0), ub = dln_net_unbalancedness(net, c->theta0) / fmax(DBL_MIN, th2 * th2);
  if (!(ub <= CHECK_BALANCED)) { dln_chk_add_na(c->rep, R, S, "002 Lemma 2: balanced fails (max_j |C_j|/|theta|^2 = %.3g > %g)", ub, CHECK_BALANCED); return; }
  int cl = dln_table_col(c->tab, "loss"), cs = dln_table_col(c->tab, "sv_1");
  size_t n = cl >= 0 && cs >= 0 ? c->tab->nrows : 0;
  double *ell = calloc(n + 1, sizeof *ell), *nrm = calloc(n + 1, sizeof *nrm), W[4];
  if (!ell || !nrm) { free(ell), free(nrm); dln_chk_add_na(c->rep, R, S, "workspace fails (out of memory)"); return; }
  for (size_t i = 0; i < n; ++i) ell[i] = c->tab->data[i * (size_t)c->tab->ncols + (size_t)cl], nrm[i] = c->tab->data[i * (size_t)c->tab->ncols + (size_t)cs];
  if (c->thetaf && !dln_net_grad(net, c->p->loss, c->thetaf, &ell[n], NULL, W)) nrm[n] = dln_norm2(4, W), ++n;
  dln_verdict v;
  int st = dln_bound_norm_divergence(net, c->p->loss, c->theta0, n, ell, nrm, c->tol, &v);
  dln_chk_add_verdict(c->rep, st, &v, R, st == DLN_OK ? v.source : S, 0);
  free(ell), free(nrm);
}

/* 004 Assumption 4: the 2^q subset sums ½Σ_{i∉L} s_i² are pairwise distinct (and Assumption 3). */
static int distinct_values(dln_loss *loss, char *why, size_t len) {
  dln_critval_options o;
  dln_critval_default_options(&o);
  dln_critval_info info;
  dln_critval *cv = calloc((size_t)1 << 12, sizeof *cv);
  double *vals = calloc((size_t)1 << 12, sizeof *vals);
  o.cap = (size_t)1 << 12;
  int ok = 0;
  if (cv && vals && !dln_critical_values_target(loss->rows, loss->cols, loss->wstar, &o, cv, &info) && !info.capped) {
    size_t nd = dln_critval_distinct(info.count, cv, 1e-9, vals);
    ok = nd == info.count;
    if (!ok) snprintf(why, len, "004 Assumption 4: distinct critical values fails (%zu distinct of %zu)", nd, info.count);
  } else {
    snprintf(why, len, "004 Assumption 4: at most 12 target singular values fails");
  }
  free(cv), free(vals);
  return ok;
}

static void check_stratum_dim(ctx *c) {
  static const char *R = "stratum dimension = Hessian nullity", *S = "004 Prop. 5 (eq. 27-28)";
  dln_net *net = c->p->net;
  dln_loss *loss = c->p->loss;
  char why[200];
  if (net->depth != 2 || net->tied) { dln_chk_add_na(c->rep, R, S, "untied one hidden layer (H = 1) fails (depth %d%s)", net->depth, net->tied ? ", tied" : ""); return; }
  if (!c->fact) { dln_chk_add_na(c->rep, R, S, "factorization loss fails (%s)", dln_loss_name(loss)); return; }
  if (!c->thetaf) { dln_chk_add_na(c->rep, R, S, "final layers recorded fails"); return; }
  if (c->diverged) { dln_chk_add_na(c->rep, R, S, "a converged end point fails (the run diverged)"); return; }
  if (net->nparams > DLN_NULLITY_MAXP) { dln_chk_add_na(c->rep, R, S, "dense Hessian: at most %d parameters fails (%zu)", DLN_NULLITY_MAXP, net->nparams); return; }
  double *g = calloc(net->nparams, sizeof *g), phi = NAN;
  int ok = g && !dln_net_grad(net, loss, c->thetaf, &phi, g, NULL);
  double gn = ok ? dln_norm2(net->nparams, g) : NAN;
  free(g);
  if (!(gn <= CHECK_GRAD_TOL * fmax(1.0, phi))) { dln_chk_add_na(c->rep, R, S, "critical end point fails (|grad phi| = %.3g)", gn); return; }
  dln_stratum sr;
  if (dln_stratum_classify_net(net, loss, c->thetaf, NULL, &sr) || !sr.critical || sr.degenerate) {
    dln_chk_add_na(c->rep, R, S, "end point on a stratum, distinct singular values (004 Assumption 3) fails (%s)", sr.message);
    return;
  }
  if (!distinct_values(loss, why, sizeof why)) { dln_chk_add_na(c->rep, R, S, "%s", why); return; }
  long dim = 0, e27 = 0;
  dln_nullity nl;
  /* stated rank tolerance: the end point is within ~|grad phi| of the critical set */
  double rtol = fmax(1e-8, sqrt(gn / fmax(1.0, phi)));
  if (dln_theory_stratum_dim(net->widths[0], net->widths[1], net->widths[2], sr.r, &dim, &e27) ||
      dln_hessian_nullity(net, loss, c->thetaf, rtol, &nl)) {
    dln_chk_add_na(c->rep, R, S, "%s", dln_last_error());
    return;
  }
  if (!(nl.gap >= 100)) {
    dln_chk_add_na(c->rep, R, S, "a clear Hessian kernel (gap nonzero_min/zero_max >= 100 at rank tolerance %.2g) fails (gap %.3g)", rtol, nl.gap);
    return;
  }
  char hyp[256];
  snprintf(hyp, sizeof hyp, "H = 1, critical end point on Crit_%d, distinct critical values; rank tolerance %.2g, gap %.3g; eq. 27 as printed: %ld%s",
           sr.r, rtol, nl.gap, e27, e27 == dim ? "" : " (valid for d_1 = d_y only)");
  dln_check_item *it = dln_chk_item_new(c->rep, R, S);
  if (!it) return;
  it->v.applicable = 1;
  snprintf(it->v.hypotheses, sizeof it->v.hypotheses, "%s", hyp);
  it->v.bound = (double)dim;
  it->v.measured = nl.nullity;
  it->v.margin = -fabs((double)dim - nl.nullity);
  it->v.holds = nl.nullity == dim;
  snprintf(it->v.message, sizeof it->v.message, "%s: Hessian nullity %d %s dim I^r = r d_1 + (d_1 - r)(|d_0 - d_N| + r) = %ld (%d negative, %d positive)",
           it->v.holds ? "holds" : "VIOLATED", nl.nullity, it->v.holds ? "=" : "!=", dim, nl.nneg, nl.npos);
  if (!it->v.holds) snprintf(it->cause, sizeof it->cause, "%s", "likely a bug or a point off the stratum");
}

/* 001 §5 eq. 32–39: a gradient-descent run's tail rate vs the discrete prediction. */
static void check_gd_rate(ctx *c) {
  static const char *R = "gradient descent vs flow rate", *S = "001 sec. 5 eq. 32-39";
  int is_gd = !c->p->e2e && (c->p->to.method->flags & DLN_INTEG_DISCRETE);
  if (!is_gd) { dln_chk_add_na(c->rep, R, S, "gradient descent fails (method %s)", c->spec->method); return; }
  dln_curve cv;
  if (!c->tab || dln_curve_from_table(&cv, c->tab, "loss")) { dln_chk_add_na(c->rep, R, S, "loss column recorded fails"); return; }
  dln_loss *loss = c->p->loss;
  double sc = 0.5 * loss->target_norm * loss->target_norm;
  if (!(sc > 0)) sc = 1;
  /* no integration error: the floor is the rounding of L − L*; the top kept low (1e-6) so
   * that faster components have died out */
  double lo = 1e3 * DBL_EPSILON * sc, hi = 1e-6 * sc;
  dln_verdict v;
  int st = dln_bound_gd_rate(c->p->net, loss, c->spec->train.eta, &cv, lo, hi, 0.01, &v);
  dln_chk_add_verdict(c->rep, st, &v, R, S, 0);
  if (!st && v.applicable && !v.holds && c->rep->n) /* gradient descent has no rtol to tighten */
    snprintf(c->rep->items[c->rep->n - 1].cause, sizeof c->rep->items[0].cause, "%s",
             "likely a bug or a corrupted trajectory (the fitted tail rate is off the prediction by more than the tolerance)");
}

void dln_chk_theory_more(ctx *c) {
  check_minnorm(c);
  check_width_bound(c);
  check_psd_projection(c);
  check_sym_e2e(c);
  check_norm_divergence(c);
  check_stratum_dim(c);
  check_gd_rate(c);
}
