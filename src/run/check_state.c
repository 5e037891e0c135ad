/* `dln check` (dln/check.h; docs/check.md): the results checked at recorded states:
 * sign det W (002 Lemma 2), σ̇ at t = 0 and at the end (002 Thm 3), and the end point:
 * stratum and critical value (004 Lemma 3.2), Hessian by Lanczos (004 Prop. 4: no
 * spurious local minimum; 002 Prop. 3), 000 Thm 3. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lapacke.h>

#include "dln/bias.h"
#include "dln/error.h"
#include "dln/landscape.h"
#include "dln/net.h"
#include "dln/theory.h"
#include "run/check_internal.h"

static double theta_norm2(const dln_net *net, const double *th) {
  double n = dln_norm2(net->nparams, th);
  return n * n;
}

/* σ_min/σ_max of the square n x n matrix W (kept); 0 on failure. */
static double sv_ratio(const double *W, int n) {
  size_t nn = (size_t)n * (size_t)n;
  double *s = calloc((size_t)n + 1, sizeof *s), *sup = calloc((size_t)n + 1, sizeof *sup), *A = malloc(nn * sizeof *A), r = 0;
  if (A) memcpy(A, W, nn * sizeof *A);
  if (s && sup && A && !LAPACKE_dgesvd(LAPACK_COL_MAJOR, 'N', 'N', n, n, A, n, s, NULL, 1, NULL, 1, sup) && s[0] > 0) r = s[n - 1] / s[0];
  free(s), free(sup), free(A);
  return r;
}

/* 002 Lemma 2 in floating point: balancedness holds only up to round-off / the run's
 * accuracy, so once σ_min(W(t)) falls to that level the sign can flip numerically (a
 * wide hidden layer lets it: seen at σ_min/σ_max = 8e-12). The recorded σ_min/σ_max must
 * stay above CHECK_ROUNDOFF·(acc + eps) at every sample; 0 with a not-applicable row. */
static int det_trajectory_ok(ctx *c, int n) {
  static const char *R = "sign of det W constant", *S = "002 Lemma 2";
  char last[32];
  snprintf(last, sizeof last, "sv_%d", n);
  int c1 = dln_table_col(c->tab, "sv_1"), ck = dln_table_col(c->tab, last);
  if (c1 < 0 || ck < 0) {
    dln_chk_add_na(c->rep, R, S, "sigma_min(W(t)) recorded fails (no sv columns: a pass through round-off cannot be excluded)");
    return 0;
  }
  double floor_ = CHECK_ROUNDOFF * (c->acc + DBL_EPSILON), worst = INFINITY, at = 0;
  for (size_t i = 0; i < c->tab->nrows; ++i) {
    const double *r = c->tab->data + i * (size_t)c->tab->ncols;
    double q = r[ck] / r[c1];
    if (!(q >= worst)) worst = q, at = r[0];
  }
  if (!(worst > floor_)) {
    dln_chk_add_na(c->rep, R, S, "sigma_min/sigma_max of W(t) above the run's accuracy fails (%.3g <= %.3g at t = %.4g)", worst, floor_, at);
    return 0;
  }
  return 1;
}

/* sign det W constant (002 Lemma 2): untied, square W, balanced, det W(0) ≠ 0 beyond round-off. */
void dln_chk_det(ctx *c) {
  static const char *R = "sign of det W constant", *S = "002 Lemma 2";
  dln_net *net = c->p->net;
  int rows = dln_net_rows(net), cols = dln_net_cols(net);
  if (rows != cols) { dln_chk_add_na(c->rep, R, S, "square W fails (%d x %d)", rows, cols); return; }
  if (net->tied || net->depth < 2) { dln_chk_add_na(c->rep, R, S, "untied depth >= 2 fails (depth %d%s)", net->depth, net->tied ? ", tied" : ""); return; }
  if (!c->flow) { dln_chk_add_na(c->rep, R, S, "%s", c->flow_why); return; }
  double ub = net->depth >= 2 && !net->tied ? dln_net_unbalancedness(net, c->theta0) / fmax(DBL_MIN, theta_norm2(net, c->theta0)) : 0;
  if (!(ub <= CHECK_BALANCED)) { dln_chk_add_na(c->rep, R, S, "balanced fails (max_j |C_j|/|theta|^2 = %.3g > %g)", ub, CHECK_BALANCED); return; }
  if (!det_trajectory_ok(c, rows)) return;
  dln_bias *b = NULL;
  double *W = malloc((size_t)rows * (size_t)cols * sizeof *W);
  if (!W || dln_bias_alloc(&b, rows, cols)) {
    free(W);
    { dln_chk_add_na(c->rep, R, S, "workspace fails (out of memory)"); return; }
  }
  int s0 = 0, sf = 0, changes = 0, checked = 0;
  double lad = 0, floor_ = CHECK_ROUNDOFF * (c->acc + DBL_EPSILON), cond0 = 0;
  dln_net_product(net, c->theta0, W);
  cond0 = sv_ratio(W, rows);
  dln_bias_det_sign(b, W, &s0, &lad);
  if (s0 == 0 || !isfinite(lad) || !(cond0 > floor_)) {
    dln_chk_add_na(c->rep, R, S, "det W(0) != 0 at the run's accuracy fails (sigma_min/sigma_max of W(0) = %.3g <= %.3g)", cond0, floor_);
  } else {
    if (c->thetaf) {
      dln_net_product(net, c->thetaf, W);
      if (!(sv_ratio(W, rows) > floor_)) goto states; /* det W(end) at round-off: its sign is not decided */
      dln_bias_det_sign(b, W, &sf, NULL);
      changes += sf != s0;
      ++checked;
    }
  states:;
    /* the det_sign column: only rows whose recorded sv_min/sv_1 is above round-off */
    int cd = dln_table_col(c->tab, "det_sign"), c1 = dln_table_col(c->tab, "sv_1");
    char last[32];
    snprintf(last, sizeof last, "sv_%d", rows);
    int ck = dln_table_col(c->tab, last);
    if (cd >= 0 && c1 >= 0 && ck >= 0)
      for (size_t i = 0; i < c->tab->nrows; ++i) {
        const double *r = c->tab->data + i * (size_t)c->tab->ncols;
        if (!(r[ck] > floor_ * r[c1])) continue;
        changes += r[cd] != (double)s0;
        ++checked;
      }
    char hyp[160];
    snprintf(hyp, sizeof hyp, "square %dx%d, balanced (%.2g), det W(0) != 0 (sign %+d); %d states checked", rows, cols, ub, s0,
             checked);
    if (!checked) dln_chk_add_na(c->rep, R, S, "states with recorded det fails (no final layers, no det_sign column)");
    else dln_chk_add_dev(c->rep, R, S, hyp, 0, changes, "sign changes");
  }
  dln_bias_free(b);
  free(W);
}

/* The end point (θ at the end): its gradient, and its stratum once classified. */
typedef struct end_point {
  double gn;        /* ‖∇φ‖ */
  int critical;     /* ‖∇φ‖ ≤ CHECK_GRAD_TOL·max(1, φ) */
  dln_stratum s;
  int have_stratum; /* s: a critical stratum */
} end_point;

/* (a, b) stratum and critical value */
static void end_stratum(ctx *c, end_point *e) {
  static const char *RS = "critical value of the end point", *SS = "004 Lemma 3.2";
  dln_net *net = c->p->net;
  dln_loss *loss = c->p->loss;
  dln_stratum *s = &e->s;
  if (!c->fact) {
    dln_chk_add_na(c->rep, RS, SS, "factorization loss fails (%s)", loss->ops->name);
    return;
  }
  /* the classifier's component tolerance is loose (√tol): a point still moving towards a
   * saddle passes it; the value is only predicted at a critical point */
  if (!e->critical) {
    dln_chk_add_na(c->rep, RS, SS, "end point critical fails (|grad phi| = %.3g > %g max(1, phi))", e->gn, CHECK_GRAD_TOL);
    return;
  }
  dln_stratum_options so;
  dln_stratum_default_options(&so);
  so.tol = fmax(so.tol, sqrt(c->tol) * 1e-1);
  if (dln_stratum_classify_net(net, loss, c->thetaf, &so, s) != DLN_OK) {
    dln_chk_add_na(c->rep, RS, SS, "%s", dln_last_error());
  } else if (!s->critical) {
    int npart = 0;
    for (int i = 0; i < s->q && i < DLN_LANDSCAPE_MAXQ; ++i) npart += s->learned[i] == DLN_COMP_PARTIAL;
    dln_chk_add_na(c->rep, RS, SS, "end point critical fails (residual %.3g, %d partial components of %d)", s->residual, npart, s->q);
  } else {
    e->have_stratum = 1;
    char hyp[200];
    snprintf(hyp, sizeof hyp, "critical configuration: %d of %d components learned%s%s", s->r, s->q,
             s->global_min ? ", global minimum" : ", saddle stratum", s->degenerate ? ", repeated s_i" : "");
    dln_check_item *it = dln_chk_item_new(c->rep, RS, SS);
    if (it) {
      double scale = fmax(1.0, 0.5 * loss->target_norm * loss->target_norm), dev = fabs(s->value - s->value_predicted);
      dln_verdict *v = &it->v;
      v->applicable = 1;
      snprintf(v->hypotheses, sizeof v->hypotheses, "%s", hyp);
      v->bound = s->value_predicted;
      v->measured = s->value;
      v->margin = c->tol * scale - dev;
      v->holds = dev <= c->tol * scale;
      snprintf(v->message, sizeof v->message, "%s: loss %.6g vs critical value 1/2 sum_{i not in L} s_i^2 = %.6g",
               v->holds ? "holds" : "VIOLATED", s->value, s->value_predicted);
      if (!v->holds)
        snprintf(it->cause, sizeof it->cause, "%s",
                 dev <= CHECK_LOOSE * c->tol * scale ? "likely too loose a tolerance (within 100x)"
                                                      : "likely a bug: the end point's loss is not its stratum's critical value");
    }
  }
}

/* The Hessian's verdict: its label agrees with 004 Prop. 4 and with the stratum. */
static void hessian_item(ctx *c, const end_point *e, const dln_point_result *pr) {
  static const char *RH = "end-point Hessian (no spurious minimum)", *SH = "004 Prop. 4, 002 Prop. 3";
  const dln_stratum *s = &e->s;
  int have_stratum = e->have_stratum;
  int is_min = pr->kind == DLN_POINT_MINIMUM || pr->kind == DLN_POINT_GLOBAL_MINIMUM;
  int ok = pr->kind != DLN_POINT_MINIMUM; /* a local minimum that is not global: 004 Prop. 4 fails */
  if (have_stratum) ok = ok && (s->global_min ? is_min : !is_min);
  dln_check_item *it = dln_chk_item_new(c->rep, RH, SH);
  if (it) {
    dln_verdict *v = &it->v;
    v->applicable = 1;
    snprintf(v->hypotheses, sizeof v->hypotheses, "critical end point (|grad phi| = %.2g); Lanczos converged (residual %.2g)%s",
             e->gn, fmax(pr->eig.resid_min, pr->eig.resid_max),
             have_stratum ? (s->global_min ? "; stratum: global minimum" : "; stratum: saddle") : "");
    v->bound = have_stratum ? (s->global_min ? 0.0 : -0.0) : NAN;
    v->measured = pr->eig.lambda_min;
    v->margin = NAN;
    v->holds = ok;
    snprintf(v->message, sizeof v->message, "%s: %s, lambda_min = %.4g, lambda_max = %.4g, phi = %.6g, phi* = %.6g",
             ok ? "holds" : "VIOLATED", dln_point_kind_name(pr->kind), pr->eig.lambda_min, pr->eig.lambda_max, pr->phi,
             pr->phi_star);
    if (!ok) snprintf(it->cause, sizeof it->cause, "likely a bug: the Hessian's label contradicts the stratum / 004 Prop. 4");
  }
}

/* (c) Hessian by Lanczos */
static void end_hessian(ctx *c, const end_point *e) {
  static const char *RH = "end-point Hessian (no spurious minimum)", *SH = "004 Prop. 4, 002 Prop. 3";
  if (!e->critical) {
    dln_chk_add_na(c->rep, RH, SH, "end point critical fails (|grad phi| = %.3g > %g max(1, phi))", e->gn, CHECK_GRAD_TOL);
    return;
  }
  dln_lanczos *lz = NULL;
  int iters = c->opt->lanczos_iter > 0 ? c->opt->lanczos_iter : 80;
  if (dln_lanczos_alloc(&lz, c->p->net, iters) != DLN_OK) {
    dln_chk_add_na(c->rep, RH, SH, "%s", dln_last_error());
    return;
  }
  dln_point_options po;
  dln_point_default_options(&po);
  po.grad_tol = CHECK_GRAD_TOL;
  po.value_tol = fmax(po.value_tol, c->tol);
  po.lanczos.tol = 1e-8;
  dln_point_result pr;
  if (dln_point_classify(lz, c->p->loss, c->thetaf, &po, &pr) != DLN_OK) {
    dln_chk_add_na(c->rep, RH, SH, "%s", dln_last_error());
  } else if (!pr.eig.converged) {
    dln_chk_add_na(c->rep, RH, SH, "Lanczos converged fails (residual %.3g after %d iterations)",
                   fmax(pr.eig.resid_min, pr.eig.resid_max), pr.eig.iters);
  } else if (pr.kind == DLN_POINT_MINIMUM && !dln_loss_has(c->p->loss, DLN_LOSS_IDENTITY) &&
             !dln_loss_has(c->p->loss, DLN_LOSS_LSQ_DESIGN)) {
    /* "every local minimum is global" is 004 Prop. 4 for the square losses; a minimum of
     * another loss (lp, p != 2: no L* to compare with) is not a counterexample */
    dln_chk_add_na(c->rep, RH, SH, "square loss (004 Prop. 4) or a known phi* fails (loss %s: a minimum, phi = %.6g)",
                   dln_loss_name(c->p->loss), pr.phi);
  } else {
    hessian_item(c, e, &pr);
  }
  dln_lanczos_free(lz);
}

/* (d) 000 Theorem 3 */
static void end_equilibrium(ctx *c, const end_point *e) {
  static const char *RE = "equilibrium SVD characterization", *SE = "000 Thm 3";
  dln_net *net = c->p->net;
  dln_loss *loss = c->p->loss;
  if (!c->fact) {
    dln_chk_add_na(c->rep, RE, SE, "factorization loss fails (%s)", loss->ops->name);
  } else if (net->depth != 2 || net->tied) {
    dln_chk_add_na(c->rep, RE, SE, "untied depth 2 fails (depth %d%s)", net->depth, net->tied ? ", tied" : "");
  } else if (!e->critical) {
    dln_chk_add_na(c->rep, RE, SE, "end point critical fails (|grad phi| = %.3g)", e->gn);
  } else {
    dln_equilibrium eq;
    double etol = fmax(1e-6, sqrt(c->tol) * 1e-1);
    if (dln_equilibrium_check(net, loss, c->thetaf, etol, &eq) != DLN_OK) {
      dln_chk_add_na(c->rep, RE, SE, "%s", dln_last_error());
    } else {
      dln_check_item *it = dln_chk_item_new(c->rep, RE, SE);
      if (it) {
        dln_verdict *v = &it->v;
        v->applicable = 1;
        snprintf(v->hypotheses, sizeof v->hypotheses, "untied depth 2, factorization, critical end point (|grad phi| = %.2g)", e->gn);
        v->bound = etol;
        v->measured = fmax(eq.align_q, eq.align_p);
        v->margin = v->bound - v->measured;
        v->holds = eq.holds && eq.stmt1_holds;
        snprintf(v->message, sizeof v->message, "%s: %.200s", v->holds ? "holds" : "VIOLATED", eq.message);
        if (!v->holds) snprintf(it->cause, sizeof it->cause, "likely a bug: an equilibrium without the SVD structure");
      }
    }
  }
}

/* A classification loss at the end point (DLN_LOSS_CLASSIFY): separable when the final W
 * classifies every sample (min margin > 0), then inf = 0 is not attained. */
void dln_chk_classify_note(ctx *c, char *why, size_t len) {
  dln_loss *loss = c->p->loss;
  double *W = calloc((size_t)loss->rows * (size_t)loss->cols, sizeof *W), m = NAN;
  if (W && c->thetaf && !dln_net_product(c->p->net, c->thetaf, W)) dln_loss_margin(loss, W, &m);
  free(W);
  if (m > 0)
    snprintf(why, len, "L* not attained: data separable (min margin %.3g > 0 at the end), loss -> 0 as |W| -> infinity", m);
  else
    snprintf(why, len, "L* unknown (min margin %.3g at the end)", m);
}

/* The end point: stratum + critical value, Hessian, 000 Thm 3. */
void dln_chk_end_point(ctx *c) {
  static const char *RS = "critical value of the end point", *SS = "004 Lemma 3.2";
  static const char *RH = "end-point Hessian (no spurious minimum)", *SH = "004 Prop. 4, 002 Prop. 3";
  static const char *RE = "equilibrium SVD characterization", *SE = "000 Thm 3";
  if (!c->thetaf) {
    dln_chk_add_na(c->rep, RS, SS, "layers recorded at the end fails (end-to-end run)");
    dln_chk_add_na(c->rep, RH, SH, "layers recorded at the end fails (end-to-end run)");
    dln_chk_add_na(c->rep, RE, SE, "layers recorded at the end fails (end-to-end run)");
    return;
  }
  if (c->diverged || strcmp(c->sum->stop_reason, "solver") == 0) {
    const char *w = c->diverged ? "diverged" : "had an integrator failure";
    dln_chk_add_na(c->rep, RS, SS, "a converged end point fails: the run %s at step %.0f, t = %.6g", w, c->sum->step, c->sum->t);
    dln_chk_add_na(c->rep, RH, SH, "a converged end point fails: the run %s at step %.0f, t = %.6g", w, c->sum->step, c->sum->t);
    dln_chk_add_na(c->rep, RE, SE, "a converged end point fails: the run %s at step %.0f, t = %.6g", w, c->sum->step, c->sum->t);
    return;
  }
  if (dln_loss_has(c->p->loss, DLN_LOSS_CLASSIFY)) { /* no critical point to classify at L* */
    char why[200];
    dln_chk_classify_note(c, why, sizeof why);
    dln_chk_add_na(c->rep, RS, SS, "factorization loss fails (%s; %s)", c->p->loss->ops->name, why);
    dln_chk_add_na(c->rep, RH, SH, "square loss with a known L* fails (%s; %s)", c->p->loss->ops->name, why);
    dln_chk_add_na(c->rep, RE, SE, "factorization loss fails (%s)", c->p->loss->ops->name);
    return;
  }
  dln_net *net = c->p->net;
  double phi = NAN;
  size_t np = net->nparams;
  double *g = calloc(np ? np : 1, sizeof *g);
  if (!g) return;
  dln_net_grad(net, c->p->loss, c->thetaf, &phi, g, NULL);
  end_point e;
  memset(&e, 0, sizeof e);
  e.gn = dln_norm2(np, g);
  free(g);
  e.critical = isfinite(phi) && e.gn <= CHECK_GRAD_TOL * fmax(1.0, fabs(phi));

  end_stratum(c, &e);
  end_hessian(c, &e);
  end_equilibrium(c, &e);
}


/* 002 Theorem 3: σ̇_r at the recorded states of a balanced net. */
void dln_chk_sigma_dot(ctx *c) {
  static const char *S = "002 Thm 3";
  static const char *const R[2] = {"singular value dynamics at t = 0", "singular value dynamics at the end point"};
  dln_net *net = c->p->net;
  if (net->depth < 2 || net->tied) {
    dln_chk_add_na(c->rep, R[0], S, "untied depth >= 2 fails (depth %d%s)", net->depth, net->tied ? ", tied" : "");
    return;
  }
  if (!c->flow) {
    dln_chk_add_na(c->rep, R[0], S, "%s", c->flow_why);
    return;
  }
  dln_sigma_dot *sd = NULL;
  if (dln_sigma_dot_alloc(&sd, net) != DLN_OK) {
    dln_chk_add_na(c->rep, R[0], S, "%s", dln_last_error());
    return;
  }
  int k = dln_net_rows(net) < dln_net_cols(net) ? dln_net_rows(net) : dln_net_cols(net);
  double *pred = calloc((size_t)k, sizeof *pred), *meas = calloc((size_t)k, sizeof *meas);
  const double *th[2] = {c->theta0, c->thetaf};
  for (int s = 0; s < 2 && pred && meas; ++s) {
    if (!th[s]) {
      dln_chk_add_na(c->rep, R[s], S, "layers recorded at the end fails (end-to-end run)");
      continue;
    }
    double ub = dln_net_unbalancedness(net, th[s]) / fmax(DBL_MIN, theta_norm2(net, th[s]));
    if (!(ub <= CHECK_BALANCED)) {
      dln_chk_add_na(c->rep, R[s], S, "balanced fails (max_j |C_j|/|theta|^2 = %.3g > %g)", ub, CHECK_BALANCED);
      continue;
    }
    double rel = NAN;
    if (dln_sigma_dot_compare(sd, c->p->loss, th[s], pred, meas, &rel) != DLN_OK) {
      dln_chk_add_na(c->rep, R[s], S, "%s", dln_last_error());
      continue;
    }
    double mx = 0;
    for (int i = 0; i < k; ++i) mx = fmax(mx, fabs(meas[i]));
    if (!(mx > 1e-10)) {
      dln_chk_add_na(c->rep, R[s], S, "sigma_dot != 0 fails (max_r |sigma_dot_r| = %.3g: stationary)", mx);
      continue;
    }
    char hyp[160];
    snprintf(hyp, sizeof hyp, "untied depth %d, balanced (%.2g <= %g)", net->depth, ub, CHECK_BALANCED);
    dln_chk_add_dev(c->rep, R[s], S, hyp, c->tol, rel, "max_r |pred - meas|/max_r |meas|");
  }
  free(pred);
  free(meas);
  dln_sigma_dot_free(sd);
}
