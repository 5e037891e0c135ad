/* Low-overhead explicit gradient flow for small and mildly stiff problems:
 * method "rkc" — an embedded explicit Runge–Kutta pair while the step is limited by
 * accuracy, then the Runge–Kutta–Chebyshev method while it is limited by stability.
 *
 * Why dln runs these loops itself. On the 5x10, width-50 flow a gradient costs 0.36 µs,
 * while ARKODE's ERKStep (Debian 12: SUNDIALS 6.4.1, built unoptimized) adds ~1.1 µs of
 * bookkeeping per right-hand side; the step loop below adds ~0.1 µs (0.6 µs on the AVX2
 * host of 2026-12, where the stage vectors stream from L2). The tables are ARKODE's
 * (ARKodeButcherTable_LoadERK, the default table of erk_order; order 5 is Dormand–Prince
 * 5(4); erk_tab.c), so the coefficients come from the library; ARKODE's
 * LSRKStep (the RKC family) arrived in SUNDIALS 7.2 and is not in Debian 12.
 *
 * Phase 1, explicit RK (Hairer, Nørsett, Wanner I §II.4): stages
 * k_i = f(θ_n + h Σ_{j<i} a_ij k_j), θ_{n+1} = θ_n + h Σ b_i k_i, error estimate
 * h Σ (b_i − b̂_i) k_i in the WRMS norm of (rtol, atol) with weights from
 * max(|θ_n|, |θ_{n+1}|); accept when ≤ 1; h ← h·min(5, max(0.2, 0.9·err^{−1/(p̂+1)}))
 * (no growth right after a rejection). First step: HNW I §II.4 "starting step size".
 * FSAL tables reuse the last stage as the next f(θ).
 *
 * Switch. After every accepted RK step, ρ_est = ‖k_7 − k_6‖/‖Y_7 − Y_6‖ from the two
 * stages with equal nodes (Dormand–Prince c_6 = c_7 = 1) estimates the dominant
 * eigenvalue at no cost (Hairer & Wanner II §IV.2, DOPRI5's stiffness detection); tables
 * without such a pair use ρ = ‖∇²φ(θ)‖₂ by power iteration on exact Hessian-vector
 * products every RKC_CHECK steps (the Jacobian of θ̇ = −∇φ is −∇²φ, symmetric, so its
 * spectrum is real and ρ bounds it). When auto_window consecutive steps (one check
 * without the pair) satisfy h·ρ_est ≥ auto_stiff_ratio·β (β: real stability boundary of
 * the RK table, Dormand–Prince 3.31), stability limits the step: ρ is refined by four
 * power iterations started from k_7 − k_6 and the run continues with RKC.
 *
 * Phase 2, RKC (Sommeijer, Shampine, Verwer 1997, J. Comput. Appl. Math. 88:315–326;
 * Verwer, Hundsdorfer, Sommeijer 1990, Numer. Math. 57:157–178): the damped (ε = 2/13)
 * second-order s-stage Chebyshev method, with w0 = 1 + ε/s², w1 = T_s'(w0)/T_s''(w0),
 * b_j = T_j''(w0)/T_j'(w0)² (b_0 = b_1 = b_2), a_j = 1 − b_j T_j(w0):
 *   Y_0 = θ_n, Y_1 = Y_0 + μ̃_1 h F_0,
 *   Y_j = (1 − μ_j − ν_j) Y_0 + μ_j Y_{j−1} + ν_j Y_{j−2} + μ̃_j h F(Y_{j−1}) + γ̃_j h F_0,
 *   μ̃_1 = b_1 w1, μ_j = 2 b_j w0/b_{j−1}, ν_j = −b_j/b_{j−2}, μ̃_j = 2 b_j w1/b_{j−1},
 *   γ̃_j = −(1 − b_{j−1} T_{j−1}(w0)) μ̃_j,  θ_{n+1} = Y_s.
 * Its real stability interval is [−β(s), 0], β(s) = (w0 + 1) T_s''(w0)/T_s'(w0) ≈ 0.65 s²,
 * so s = 1 + ⌊√(1 + 1.54 h ρ)⌋ stages (at least 2, at most the round-off bound
 * √(rtol/(10 u)), ≤ 1000) cover h·ρ: the cost per unit time grows like √ρ, not ρ.
 * Error estimate (SSV 1997 eq. 2.6): (12(θ_n − θ_{n+1}) + 6h(F_n + F_{n+1}))/15;
 * h ← h·min(10, max(0.1, 0.8 err^{−1/3})). ρ (×1.2 safety) is re-estimated every
 * RKC_RHO_EVERY steps and after a rejection. When RKC's accepted steps cost more
 * right-hand sides per unit time than the RK table would at its stability limit,
 * the run returns to phase 1 (accuracy, not stability, limits the step again).
 *
 * AUTO uses this stepper too; at the switch it hands the run to CVODE instead of RKC
 * when ρ·(t_end − t) > auto_rkc_max (default 1e4) and at least auto_min_steps RK steps
 * of the current size remain: RKC needs about √(1.54·h·ρ) stages per step, so its cost
 * grows like √(ρ·(t_end − t)), while CVODE's barely depends on ρ (docs/integrators.md).
 *
 * Tight tolerances: with erk_order 5 and rtol ≤ auto_dop853_rtol (default 1e-7, measured
 * crossover in docs/integrators.md) the RK phase runs Dormand–Prince 8(5,3) instead
 * (dop853.c: its combined error estimate, its seventh-order dense output); the type
 * "dop853" is that pair alone (mode DLN_RK_DOP853: never switching).
 *
 * The integrator type "rkc"; it owns auto_stiff_ratio, auto_window and auto_dop853_rtol
 * (also read by auto) and reads erk_order (erk.c).
 *
 * Dense output: quintic Hermite interpolation of (θ, f) at the last three step points
 * after two RK steps, else cubic Hermite on the last step (HNW I §II.6; rkc_dense). All
 * buffers are allocated at creation. */
#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "dln/error.h"
#include "dln/mat.h"
#include "dynamics/dynamics_internal.h"
#include "nvec_fast.h"

enum { RKC_CHECK = 5, RKC_RHO_EVERY = 10, RKC_MAX_BAD = 12, RKC_MAX_STAGES = 1000, RK_SIDE_MAX = 1000 };

/* ---------------------------------------------------------------- ρ(∇²φ) */

int dln_dyn_rho(dln_run_ctx *c, const double *theta, double *v, double *w, int *primed, int iters, double *rho) {
  size_t n = dln_dyn_size(c);
  if (!*primed) { /* deterministic start vector with all-sign entries */
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < n; ++i) v[i] = (double)(dln_xorshift64s_next(&x) >> 11) / 9007199254740992.0 - 0.5;
    *primed = 1;
  }
  *rho = 0;
  for (int k = 0; k < iters; ++k) {
    double nv = dln_vec_norm2(n, v);
    if (!(nv > 0)) return 1;
    if (dln_dyn_hvp(c, theta, v, w)) return 1;
    double nw = dln_vec_norm2(n, w);
    if (!isfinite(nw)) return 1;
    *rho = nw / nv;
    if (!(nw > 0)) return 0; /* ∇²φ v = 0: keep v, ρ estimate 0 for now */
    dln_vec_scale(n, 1.0 / nw, w, v);
  }
  return 0;
}

/* ---------------------------------------------------------------- the stepper */

typedef struct {
  dln_stepper base; /* first member */
  dln_run_ctx *c;
  size_t n;
  dln_erk_tab T;
  double *y;                     /* θ: the caller's buffer */
  double *k[DLN_ERK_MAX_STAGES]; /* RK stages; RKC uses k[0..3] */
  double *f, *fo, *fp;           /* f(θ_{n+1}), f(θ_n), f(θ_{n−1}) of the last two steps (dense output) */
  double *yo, *yp;               /* θ_n, θ_{n−1} */
  double tp;                     /* t_{n−1} */
  int rk_last, rk_prev;          /* the last / the one before: RK steps (quintic dense output) */
  double *ynew, *err;
  double *v, *w; /* power iteration */
  int pi, pj;     /* two stages with c_pi = c_pj (DOPRI: 6, 7), −1 if none: free stiffness estimate */
  unsigned char read_later[DLN_ERK_MAX_STAGES]; /* stage i enters a later stage's argument of the
                                                 * same step (A[l][i] ≠ 0, i < l < s): its NaN/Inf
                                                 * test is that argument's (rk_step) */
  double *ysi, *ysj; /* their arguments */
  int stiff_run;  /* consecutive RK steps with h·ρ_est ≥ auto_stiff_ratio·β */
  double rho_est; /* last free estimate ‖k_pj − k_pi‖/‖Y_pj − Y_pi‖ */
  int primed;
  int phase;                   /* 0 RK, 1 RKC */
  double t, to, h, hlast, rho; /* rho: last estimate, with safety factor in phase 1 */
  long nacc, since_rho, attempted, rejected;
  int costly; /* consecutive RKC steps costlier than RK at its stability limit */
  double switched_at;
  int smax, started;
  double h_start; /* > 0: the first step (a restart at a checkpoint, dln_rkc_start_at) */
  int bad_streak, clean_steps; /* non-finite right-hand sides (see rhs_fail) */
  int auto_mode;    /* AUTO: very stiff → hand the run to CVODE instead of RKC */
  int handoff;      /* AUTO: CVODE requested, starting with step handoff_h */
  double handoff_h;
  int no_switch;    /* the type dop853: the RK pair alone */
  int dense_ready;  /* DOP853: dense-output rows of the last step computed */
  int dense_side;   /* DOP853: the last step's interpolant failed its defect test: samples by rk_side */
  double *dx[3], *dF[4]; /* DOP853: its extra stages and dense-output rows */
  double *sy, *sf;       /* DOP853: θ and f(θ) of the side integration (rk_side) */
  double *blk; /* owns every vector buffer */
} rkc_stepper;

static int rhs(rkc_stepper *s, double t, const double *y, double *f) { return dln_dyn_rhs(s->c, t, y, f); }

/* A failed right-hand side: 1 non-finite (retry with h/4), −1 fatal. Non-finite
 * right-hand sides are counted across steps: the count restarts only after
 * RKC_MAX_BAD accepted steps without one, so a run creeping towards a region where the
 * gradient is not finite (each step shortened by a failure, then accepted) stops as
 * diverged instead of shrinking its step to underflow. */
static int rhs_fail(rkc_stepper *s, int rc) {
  if (rc < 0) {
    snprintf(s->base.msg, sizeof s->base.msg, "right-hand side failed at t = %.6g", s->t);
    return DLN_STOP_SOLVER;
  }
  s->clean_steps = 0;
  if (++s->bad_streak >= RKC_MAX_BAD) {
    snprintf(s->base.msg, sizeof s->base.msg, "non-finite gradient in %d step attempts, fewer than %d steps apart, at t = %.6g (h = %.3g)",
             RKC_MAX_BAD, RKC_MAX_BAD, s->t, s->h);
    return DLN_STOP_DIVERGED;
  }
  s->h *= 0.25;
  return 0;
}

static int underflow(rkc_stepper *s, double h) {
  if (s->bad_streak > 0) {
    snprintf(s->base.msg, sizeof s->base.msg, "non-finite gradient: step size %.3g underflows at t = %.6g", h, s->t);
    return DLN_STOP_DIVERGED;
  }
  snprintf(s->base.msg, sizeof s->base.msg, "step size %.3g underflows at t = %.6g", h, s->t);
  return DLN_STOP_SOLVER;
}

/* Accept θ_{n+1} = ynew with f(θ_{n+1}) in *fnew_slot (a stage buffer, which takes
 * the old f(θ_{n−2}) buffer in exchange); rk: an RK (not RKC) step. */
static void accept(rkc_stepper *s, double **fnew_slot, double tnew, int rk) {
  double *tmp = s->yp;
  s->yp = s->yo;
  s->yo = tmp;
  dln_copy(s->n, s->y, s->yo);
  dln_copy(s->n, s->ynew, s->y);
  tmp = s->fp;
  s->fp = s->fo;
  s->fo = s->f;
  s->f = *fnew_slot;
  *fnew_slot = tmp;
  s->rk_prev = s->nacc > 0 && s->rk_last;
  s->rk_last = rk;
  s->tp = s->to;
  s->to = s->t;
  s->hlast = tnew - s->t;
  s->t = tnew;
  s->nacc++;
  s->dense_ready = 0;
  if (++s->clean_steps >= RKC_MAX_BAD) s->bad_streak = 0;
}

/* h for a step starting at s->t: never past t_end, no sliver before it. */
static double clip_h(rkc_stepper *s, double h, int *last) {
  double rem = s->c->opt->t_end - s->t;
  *last = 0;
  if (h >= rem || rem - h <= 1e-10 * rem) {
    *last = 1;
    return rem;
  }
  return h;
}

/* One attempt of the RK table from (t, θ = y, f(θ) = f) with step h: stages into k[1..s−1]
 * (K[] points at them), θ + hΣb_j k_j into ynew, the error estimate's WRMS norm
 * (θ, ynew) into *err. Stage pi's and pj's arguments go to ai, aj (the free stiffness
 * estimate reads them), the others to ynew. 0, or the failed right-hand side's code
 * (1: non-finite, −1: fatal). Used by the steps and by the side integration (rk_side). */
static int rk_attempt(rkc_stepper *s, double t, const double *y, const double *f, double h, double *ai, double *aj,
                      double *ynew, const double **K, double *err) {
  const dln_erk_tab *T = &s->T;
  size_t n = s->n;
  int ns = T->s;
  double cf[DLN_ERK_MAX_STAGES], ce[DLN_ERK_MAX_STAGES];
  K[0] = f;
  for (int i = 1; i < ns; ++i) {
    for (int j = 0; j < i; ++j) cf[j] = h * T->A[i][j];
    double *arg = i == s->pi ? ai : i == s->pj ? aj : ynew;
    /* θ_n is finite, so a non-finite argument means a non-finite earlier stage (or an
     * overflow): the same failure the right-hand side would have reported */
    if (dln_vec_lincomb_chk(n, y, i, cf, K, arg)) {
      s->c->rhs_bad = 1;
      return 1;
    }
    s->c->rhs_defer_check = s->read_later[i]; /* checked in the argument above, one stage on */
    int rc = rhs(s, t + T->c[i] * h, arg, s->k[i]);
    s->c->rhs_defer_check = 0;
    if (rc) return rc;
    K[i] = s->k[i];
  }
  /* θ_{n+1} (FSAL: the last stage's argument, computed with the same coefficients) and
   * the error estimate */
  for (int j = 0; j < ns; ++j) cf[j] = h * T->b[j], ce[j] = h * T->e[j];
  if (T->fsal) {
    if (ns - 1 == s->pj && aj != ynew) dln_copy(n, aj, ynew);
    else if (ns - 1 == s->pi && ai != ynew) dln_copy(n, ai, ynew);
  } else {
    dln_vec_lincomb(n, y, ns, cf, K, ynew);
  }
  double m5, m3, rtol = s->c->opt->rtol, atol = s->c->opt->atol, ce3[DLN_ERK_MAX_STAGES];
  if (T->dop853) { /* HNW I §II.10: ‖e5‖²/sqrt(‖e5‖² + 0.01‖e3‖²) (dop853.c) */
    for (int j = 0; j < ns; ++j) ce3[j] = h * T->e3[j];
    /* one pass without storing e5, e3 (nvec_fast.h); else through s->err and s->w */
    if (dln_vec_err_ms(n, ns, ce, ce3, K, y, ynew, rtol, atol, &m5, &m3)) {
      dln_vec_lincomb(n, NULL, ns, ce, K, s->err);
      dln_vec_lincomb(n, NULL, ns, ce3, K, s->w); /* w: scratch between power iterations */
      dln_vec_wms2_max(n, s->err, s->w, y, ynew, rtol, atol, &m5, &m3);
    }
    *err = m5 > 0 ? m5 / sqrt(m5 + 0.01 * m3) : (m5 == 0 ? 0.0 : NAN);
  } else if (!dln_vec_err_ms(n, ns, ce, NULL, K, y, ynew, rtol, atol, &m5, NULL)) {
    *err = sqrt(m5);
  } else {
    dln_vec_lincomb(n, NULL, ns, ce, K, s->err);
    *err = dln_vec_wrms_max(n, s->err, y, ynew, rtol, atol);
  }
  return 0;
}

static int rk_step(rkc_stepper *s, double *tout) {
  const dln_erk_tab *T = &s->T;
  size_t n = s->n;
  int ns = T->s;
  double expo = 1.0 / (T->p + 1), grow = 5.0;
  for (;;) {
    int last;
    double h = clip_h(s, s->h, &last), tnew = last ? s->c->opt->t_end : s->t + h;
    if (!(h > 16 * DBL_EPSILON * fmax(1.0, fabs(s->t)))) {
      return underflow(s, h);
    }
    s->attempted++;
    const double *K[DLN_ERK_MAX_STAGES];
    double err;
    int rc = rk_attempt(s, s->t, s->y, s->f, h, s->ysi, s->ysj, s->ynew, K, &err);
    if (rc) {
      int st = rhs_fail(s, rc);
      if (st) return st;
      s->rejected++;
      grow = 1.0;
      continue;
    }
    if (!(err <= 1.0)) {
      s->rejected++;
      double fac = isfinite(err) ? 0.9 * pow(err, -expo) : 0.25;
      s->h = h * fmax(0.2, fmin(1.0, fac));
      grow = 1.0;
      continue;
    }
    /* f(θ_{n+1}): the last stage (FSAL) or one more evaluation */
    double **fslot = &s->k[ns - 1];
    if (!T->fsal) {
      fslot = &s->k[0];
      if ((rc = rhs(s, tnew, s->ynew, *fslot))) {
        int st = rhs_fail(s, rc);
        if (st) return st;
        s->rejected++;
        continue;
      }
    }
    if (s->pi >= 0 && !s->no_switch) { /* before accept() moves the last stage's buffer */
      double num = 0, den = 0, *tmp = s->w; /* w: scratch between power iterations */
      dln_vec_diff_norms(n, s->k[s->pj], s->k[s->pi], s->ysj, s->ysi, tmp, &num, &den);
      s->rho_est = den > 0 ? sqrt(num / den) : 0.0;
      if (s->rho_est > 0) s->w = s->v, s->v = tmp; /* k_pj − k_pi: a start vector */
    }
    accept(s, fslot, tnew, 1);
    double fac = err > 0 ? 0.9 * pow(err, -expo) : grow;
    s->h = h * fmax(0.2, fmin(grow, fac));
    *tout = s->t;
    return 0;
  }
}

/* RKC coefficients need T_j, T_j', T_j'' at w0 for j ≤ s: recomputed per step, O(s). */
static int rkc_step(rkc_stepper *s, double *tout) {
  size_t n = s->n;
  const double eps = 2.0 / 13.0;
  for (;;) {
    if (s->since_rho >= RKC_RHO_EVERY) {
      double r;
      if (dln_dyn_rho(s->c, s->y, s->v, s->w, &s->primed, 3, &r)) {
        snprintf(s->base.msg, sizeof s->base.msg, "Hessian-vector product failed at t = %.6g", s->t);
        return DLN_STOP_SOLVER;
      }
      s->rho = 1.2 * r;
      s->since_rho = 0;
    }
    int last;
    double h = clip_h(s, s->h, &last);
    /* stages covering h·ρ; when more than smax would be needed, shorten h */
    double betamax = 0.653 * ((double)s->smax * s->smax - 1);
    if (h * s->rho > betamax) {
      h = betamax / s->rho;
      last = 0;
    }
    double tnew = last ? s->c->opt->t_end : s->t + h;
    if (!(h > 16 * DBL_EPSILON * fmax(1.0, fabs(s->t)))) {
      return underflow(s, h);
    }
    int st = 1 + (int)floor(sqrt(1.0 + 1.54 * h * s->rho));
    if (st < 2) st = 2;
    if (st > s->smax) st = s->smax;
    s->attempted++;
    /* Chebyshev recurrences at w0 */
    double w0 = 1 + eps / ((double)st * st);
    double T0 = 1, T1 = w0, d0 = 0, d1 = 1, dd0 = 0, dd1 = 0;
    for (int j = 2; j <= st; ++j) {
      double T2 = 2 * w0 * T1 - T0, d2 = 2 * T1 + 2 * w0 * d1 - d0, dd2 = 4 * d1 + 2 * w0 * dd1 - dd0;
      T0 = T1, T1 = T2, d0 = d1, d1 = d2, dd0 = dd1, dd1 = dd2;
    }
    double w1 = d1 / dd1;
    /* T_{j−2}, T_{j−1} and derivatives, from j = 2; b_0 = b_1 = b_2 = T_2''/T_2'² = 1/(4 w0²) */
    double Tm2 = 1, Tm1 = w0, dm2 = 0, dm1 = 1, ddm2 = 0, ddm1 = 0;
    double b2 = 1.0 / (4 * w0 * w0);
    double bjm2 = b2, bjm1 = b2;
    double ajm1 = 1 - bjm1 * Tm1; /* a_1 */
    double *Y0 = s->y, *F0 = s->f;
    double *Yjm2 = s->k[0], *Yjm1 = s->k[1], *Yj = s->k[2], *Fj = s->k[3];
    int rc = 0;
    /* Y_1 = Y_0 + μ̃_1 h F_0 */
    double mut1 = bjm1 * w1;
    dln_vec_axpy(n, mut1 * h, F0, Y0, Yjm1);
    const double *Ym2 = Y0; /* Y_{j−2} for j = 2 is Y_0 */
    /* stage times c_j h: the same recurrence applied to ẏ = 1 (time-dependent flows, 000 eq. 9) */
    double cjm2 = 0, cjm1 = mut1;
    for (int j = 2; j <= st; ++j) {
      /* T_j, T_j', T_j'' from T_{j−1}, T_{j−2} */
      double Tj = 2 * w0 * Tm1 - Tm2, dj = 2 * Tm1 + 2 * w0 * dm1 - dm2, ddj = 4 * dm1 + 2 * w0 * ddm1 - ddm2;
      double bj = ddj / (dj * dj);
      double mu = 2 * bj * w0 / bjm1, nu = -bj / bjm2, mut = 2 * bj * w1 / bjm1, gt = -ajm1 * mut;
      /* Y_{j−1} at t + c_{j−1} h; F_j enters Y_j (μ̃_j ≠ 0), whose pass tests it for NaN/Inf */
      s->c->rhs_defer_check = mut != 0.0;
      rc = rhs(s, s->t + cjm1 * h, Yjm1, Fj);
      s->c->rhs_defer_check = 0;
      if (rc) break;
      if (dln_vec_rkc_stage(n, 1 - mu - nu, Y0, mu, Yjm1, nu, Ym2, h * mut, Fj, h * gt, F0, Yj)) {
        s->c->rhs_bad = 1; /* θ_n and the earlier stages are finite: F_j (or an overflow) is not */
        rc = 1;
        break;
      }
      /* shift */
      double cj = mu * cjm1 + nu * cjm2 + mut + gt;
      cjm2 = cjm1, cjm1 = cj;
      Tm2 = Tm1, Tm1 = Tj, dm2 = dm1, dm1 = dj, ddm2 = ddm1, ddm1 = ddj;
      bjm2 = bjm1, bjm1 = bj;
      ajm1 = 1 - bj * Tj;
      double *tmp = Yjm2;
      Yjm2 = Yjm1;
      Yjm1 = Yj;
      Yj = tmp;
      Ym2 = Yjm2;
    }
    if (!rc) {
      dln_copy(n, Yjm1, s->ynew);
      rc = rhs(s, tnew, s->ynew, Fj);
    }
    if (rc) {
      int stt = rhs_fail(s, rc);
      if (stt) return stt;
      s->rejected++;
      s->since_rho = RKC_RHO_EVERY; /* ρ may have been too small */
      continue;
    }
    /* error estimate (SSV 1997 eq. 2.6): 0.8 (θ_n − θ_{n+1}) + 0.4 h (F_0 + F_s), its WRMS norm in
     * one pass without storing it */
    const double ec[4] = {0.8, -0.8, 0.4 * h, 0.4 * h}, *EX[4] = {s->y, s->ynew, F0, Fj};
    double ems, err;
    if (!dln_vec_err_ms(n, 4, ec, NULL, EX, s->y, s->ynew, s->c->opt->rtol, s->c->opt->atol, &ems, NULL))
      err = sqrt(ems);
    else /* a zero step (h = 0 cannot reach here) or n = 0 */
      err = 0.0;
    if (!(err <= 1.0)) {
      s->rejected++;
      double fac = isfinite(err) ? 0.8 * pow(err, -1.0 / 3) : 0.1;
      s->h = h * fmax(0.1, fmin(1.0, fac));
      s->since_rho = RKC_RHO_EVERY;
      continue;
    }
    /* the buffer holding f(θ_{n+1}) is s->k[3] */
    accept(s, &s->k[3], tnew, 0);
    s->since_rho++;
    double fac = err > 0 ? 0.8 * pow(err, -1.0 / 3) : 10.0;
    s->h = h * fmax(0.1, fmin(10.0, fac));
    /* back to RK when RKC costs more per unit time than RK at its stability limit */
    double rk_cost = (s->T.s - (s->T.fsal ? 1 : 0)) * s->rho / (0.9 * s->T.beta);
    if ((double)st / h > 1.5 * rk_cost && !last) {
      if (++s->costly >= 3) {
        s->phase = 0;
        s->costly = 0;
        s->h = 0.9 * s->T.beta / s->rho;
      }
    } else {
      s->costly = 0;
    }
    *tout = s->t;
    return 0;
  }
}

/* f(θ_0) and the starting step size (HNW I §II.4, "starting step size"). */
static int start(rkc_stepper *s) {
  const dln_train_options *o = s->c->opt;
  size_t n = s->n;
  const double *theta = s->y;
  int rc = rhs(s, s->t, theta, s->f);
  if (rc) {
    snprintf(s->base.msg, sizeof s->base.msg, rc < 0 ? "right-hand side failed at t = 0" : "non-finite gradient at t = 0");
    return rc < 0 ? DLN_STOP_SOLVER : DLN_STOP_DIVERGED;
  }
  if (s->h_start > 0) { /* a restart continues with the step it was given */
    s->h = s->h_start;
    s->started = 1;
    return 0;
  }
  double d0 = dln_dyn_wrms(n, theta, theta, o->rtol, o->atol), d1 = dln_dyn_wrms(n, s->f, theta, o->rtol, o->atol);
  double h0 = (d0 < 1e-5 || d1 < 1e-5) ? 1e-6 : 0.01 * d0 / d1;
  h0 = fmin(h0, o->t_end);
  for (size_t i = 0; i < n; ++i) s->ynew[i] = theta[i] + h0 * s->f[i];
  double h1;
  if (rhs(s, s->t + h0, s->ynew, s->fo)) {
    h1 = 0.1 * h0;
  } else {
    for (size_t i = 0; i < n; ++i) s->err[i] = (s->fo[i] - s->f[i]) / h0;
    double d2 = dln_dyn_wrms(n, s->err, theta, o->rtol, o->atol), m = fmax(d1, d2);
    h1 = m <= 1e-15 ? fmax(1e-6, h0 * 1e-3) : pow(0.01 / m, 1.0 / (s->T.q + 1));
  }
  s->h = fmin(100 * h0, h1);
  s->started = 1;
  return 0;
}

static int rkc_stepper_step(dln_stepper *base, double *tout) {
  rkc_stepper *s = (rkc_stepper *)base;
  s->c->rhs_bad = 0;
  int st0;
  if (!s->started && (st0 = start(s))) return st0;
  if (s->phase == 1) return rkc_step(s, tout);
  int rc = rk_step(s, tout);
  if (rc || s->no_switch || s->t >= s->c->opt->t_end) return rc;
  /* stability-limited? (rule at the top of this file) */
  double r = s->rho_est;
  if (s->pi < 0) { /* no free estimate: power iteration every RKC_CHECK steps */
    if (s->nacc % RKC_CHECK) return 0;
    if (dln_dyn_rho(s->c, s->y, s->v, s->w, &s->primed, s->primed ? 2 : 8, &r)) return 0;
  }
  const dln_train_options *o = s->c->opt;
  double ratio = o->auto_stiff_ratio > 0 ? o->auto_stiff_ratio : 0.5;
  int window = o->auto_window > 0 ? o->auto_window : 3;
  s->stiff_run = s->hlast * r >= ratio * s->T.beta ? s->stiff_run + 1 : 0;
  if (s->stiff_run < (s->pi < 0 ? 1 : window)) return 0;
  /* ρ for the Chebyshev stages: power iteration from the last stage difference */
  double rp;
  if (s->pi >= 0 && s->rho_est > 0) s->primed = 1;
  if (dln_dyn_rho(s->c, s->y, s->v, s->w, &s->primed, 4, &rp)) return 0;
  double rem = o->t_end - s->t, rmax = fmax(r, rp);
  double rkc_max = o->auto_rkc_max > 0 ? o->auto_rkc_max : 1e4;
  long min_steps = o->auto_min_steps > 0 ? o->auto_min_steps : 200;
  if (s->auto_mode && rmax * rem > rkc_max && rem >= (double)min_steps * s->hlast) {
    s->handoff = 1; /* RKC would need ∝ √(ρ·(t_end − t)) right-hand sides: CVODE instead */
    s->handoff_h = s->hlast;
    return 0;
  }
  s->phase = 1;
  s->stiff_run = 0;
  s->rho = 1.2 * rmax;
  s->since_rho = 0;
  if (isnan(s->switched_at)) s->switched_at = s->t;
  s->h = s->hlast;
  s->base.name = dln_rkc_name(&s->base, 1);
  return 0;
}

/* The scaled defect of DOP853's interpolant u on the last step at mid-step,
 * h‖u'(t) − f(u(t))‖ in the step's WRMS norm (Enright 1989, "A new error-control for
 * initial value solvers"; Higham 1989, SIAM J. Numer. Anal. 26:1175). Its interpolant is
 * not error-controlled: a step accepted beyond the stability limit, whose stiff
 * components were too small to fail the error test (DOP853 after RKC's damping took
 * h·ρ ≈ 23 against β ≈ 6.4), amplifies them inside the step (samples 1.9e-6 off a closed
 * form at rtol 1e-11, defect ≈ 1e5, while ≤ 1e2 on the run's other steps). One more
 * right-hand side per step with samples; out is scratch. ∞ when f(u) is not finite. */
static double dense_defect(rkc_stepper *s, double h, double *out) {
  const double *const *F = (const double *const *)s->dF;
  dln_dop853_dense_eval_deriv(s->n, 0.5, h, s->yo, s->y, s->fo, s->f, F, out, s->err); /* err, w: scratch */
  if (rhs(s, s->to + 0.5 * h, out, s->w)) return INFINITY;
  const double c[2] = {h, -h}, *X[2] = {s->err, s->w};
  double ms;
  return dln_vec_err_ms(s->n, 2, c, NULL, X, s->yo, s->y, s->c->opt->rtol, s->c->opt->atol, &ms, NULL) ? 0.0 : sqrt(ms);
}

/* θ(t), t_n < t < t_{n+1}, integrated from (t_n, θ_n) by the pair with its own step-size
 * control, first trying the whole interval: a sample whose local error is controlled
 * like a step's. The run's steps are untouched (samples never change them) and θ(t)
 * depends on t and the step only. Uses the stages, ynew, err and w (scratch between
 * steps) and sy, sf (pointers swap within the stepper's buffers). */
static int rk_side(rkc_stepper *s, double t, double *out) {
  const double *K[DLN_ERK_MAX_STAGES], *y = s->yo, *f = s->fo;
  double tc = s->to, h = t - s->to, expo = 1.0 / (s->T.p + 1);
  int ns = s->T.s;
  for (int tries = 0; tc < t; ++tries) {
    double rem = t - tc, hh = (h >= rem || rem - h <= 1e-10 * rem) ? rem : h, err;
    if (tries >= RK_SIDE_MAX || !(hh > 16 * DBL_EPSILON * fmax(1.0, fabs(tc)))) return 1;
    int rc = rk_attempt(s, tc, y, f, hh, s->ynew, s->ynew, s->ynew, K, &err);
    if (rc < 0) return 1;
    if (rc || !(err <= 1.0)) {
      h = hh * (rc || !isfinite(err) ? 0.25 : fmax(0.2, fmin(1.0, 0.9 * pow(err, -expo))));
      continue;
    }
    tc = hh == rem ? t : tc + hh;
    double *tmp = s->sy; /* θ(tc) and f(θ(tc)) (the FSAL stage) into sy, sf */
    s->sy = s->ynew, s->ynew = tmp;
    tmp = s->sf, s->sf = s->k[ns - 1], s->k[ns - 1] = tmp;
    y = s->sy, f = s->sf;
    h = hh * fmax(0.2, fmin(5.0, err > 0 ? 0.9 * pow(err, -expo) : 5.0));
  }
  dln_copy(s->n, y, out);
  return 0;
}

/* Dense output on [t_n, t_{n+1}]. After two RK steps: the quintic Hermite interpolant of
 * (θ, f) at t_{n−1}, t_n, t_{n+1} (error O(h⁶), below the RK pair's local error; the cubic
 * alone, O(h⁴), put samples ~100× further off than the step end points at rtol 1e-10).
 * Otherwise (first step, RKC steps): cubic Hermite of (θ_n, f_n, θ_{n+1}, f_{n+1}).
 * Newton form on the nodes a, a, b, b, c, c (HNW I §II.6; divided differences with
 * repeated nodes take the derivatives). */
static int rkc_dense(dln_stepper *base, double t, double *out) {
  rkc_stepper *s = (rkc_stepper *)base;
  double h = s->t - s->to;
  if (!(h > 0) || t < s->to - 1e-12 * fabs(h) || t > s->t + 1e-12 * fabs(h)) return 1;
  if (s->rk_last && s->T.dop853) { /* its own seventh-order interpolant (dop853.c) */
    if (!s->dense_ready) {
      const double *K[13];
      K[0] = s->fo, K[12] = s->f;
      for (int i = 1; i < 12; ++i) K[i] = s->k[i];
      if (dln_dop853_dense_prep(s->c, s->to, h, s->yo, K, s->dx, s->dF, s->err)) return 1;
      double dmax = s->c->opt->dense_defect_max; /* 0: always integrate, ≥ 1e300: never (no test) */
      s->dense_side = dmax < 1e300 && (dmax <= 0 || dense_defect(s, h, out) > dmax);
      s->dense_ready = 1;
    }
    /* a step whose interpolant failed its defect test: the sample integrated from the step's
     * start; should that integration fail (1000 attempts, a non-finite right-hand side), the
     * interpolant, as for a step that passed */
    if (s->dense_side && t > s->to && t < s->t && rk_side(s, t, out) == 0) return 0;
    dln_dop853_dense_eval(s->n, (t - s->to) / h, h, s->yo, s->y, s->fo, s->f, (const double *const *)s->dF, out);
    return 0;
  }
  if (s->rk_last && s->rk_prev && s->to > s->tp) {
    double a = s->tp, b = s->to, c = s->t;
    double ba = b - a, cb = c - b, ca = c - a;
    double wa = t - a, wb = t - b, wc = t - c;
    double p2 = wa * wa, p3 = p2 * wb, p4 = p3 * wb, p5 = p4 * wc;
    for (size_t i = 0; i < s->n; ++i) {
      double ya = s->yp[i], yb = s->yo[i], yc = s->y[i], fa = s->fp[i], fb = s->fo[i], fc = s->f[i];
      double d1a = (yb - ya) / ba, d1c = (yc - yb) / cb;                                   /* [a,b], [b,c] */
      double d2a = (d1a - fa) / ba, d2b = (fb - d1a) / ba, d2c = (d1c - fb) / cb, d2d = (fc - d1c) / cb;
      double d3a = (d2b - d2a) / ba, d3b = (d2c - d2b) / ca, d3c = (d2d - d2c) / cb;
      double d4a = (d3b - d3a) / ca, d4b = (d3c - d3b) / ca;
      double d5 = (d4b - d4a) / ca;
      out[i] = ya + fa * wa + d2a * p2 + d3a * p3 + d4a * p4 + d5 * p5;
    }
    return 0;
  }
  double th = (t - s->to) / h, th2 = th * th, th3 = th2 * th;
  double h00 = 2 * th3 - 3 * th2 + 1, h10 = th3 - 2 * th2 + th, h01 = -2 * th3 + 3 * th2, h11 = th3 - th2;
  for (size_t i = 0; i < s->n; ++i)
    out[i] = h00 * s->yo[i] + h10 * h * s->fo[i] + h01 * s->y[i] + h11 * h * s->f[i];
  return 0;
}

static double rkc_last_h(dln_stepper *base) { return ((rkc_stepper *)base)->hlast; }

static void rkc_stats(dln_stepper *base, dln_train_result *r) {
  rkc_stepper *s = (rkc_stepper *)base;
  r->attempted += s->attempted;
  r->rejected += s->rejected;
  r->integrator = s->base.name;
  if (!isnan(s->switched_at)) r->switched_at = s->switched_at;
}

static void rkc_destroy(dln_stepper *base) {
  rkc_stepper *s = (rkc_stepper *)base;
  if (!s) return;
  free(s->blk);
  free(s);
}

/* Static integrator names (dln_train_result.integrator outlives the stepper). */
static const char *const rk_names[9][3] = {
    {"dln-rk", "dln-rk->rkc", "dln-rk->cvode-bdf"},       {"dln-rk1", "dln-rk1->rkc", "dln-rk1->cvode-bdf"},
    {"dln-rk2", "dln-rk2->rkc", "dln-rk2->cvode-bdf"},    {"dln-rk3", "dln-rk3->rkc", "dln-rk3->cvode-bdf"},
    {"dln-rk4", "dln-rk4->rkc", "dln-rk4->cvode-bdf"},    {"dln-rk5", "dln-rk5->rkc", "dln-rk5->cvode-bdf"},
    {"dln-rk6", "dln-rk6->rkc", "dln-rk6->cvode-bdf"},    {"dln-rk7", "dln-rk7->rkc", "dln-rk7->cvode-bdf"},
    {"dln-rk8", "dln-rk8->rkc", "dln-rk8->cvode-bdf"}};

static const char *const dop853_names[3] = {"dln-dop853", "dln-dop853->rkc", "dln-dop853->cvode-bdf"};

const char *dln_rkc_name(dln_stepper *base, int kind) {
  if (((rkc_stepper *)base)->T.dop853) return dop853_names[kind];
  int q = ((rkc_stepper *)base)->T.q;
  return rk_names[q >= 1 && q <= 8 ? q : 0][kind];
}

int dln_rkc_wants_cvode(dln_stepper *base, double *h0) {
  rkc_stepper *s = (rkc_stepper *)base;
  if (!s->handoff) return 0;
  *h0 = s->handoff_h;
  return 1;
}

/* The RK table: DOP853 for the type dop853, and for rkc/auto with erk_order 5 at
 * rtol ≤ auto_dop853_rtol; else ARKODE's table of erk_order. Not under the worst-case
 * disturbance: its field is discontinuous where P + Q = 0 (000 §III), where an
 * eighth-order pair's steps collapse (a 1x1, widths [1, 2, 1] run to t = 0.01: 41e6
 * right-hand sides against DP5's 1.1e6). */
static int load_table(const dln_run_ctx *c, int mode, dln_erk_tab *T) {
  const dln_train_options *o = c->opt;
  if (mode != DLN_RK_DOP853 && (c->worst || !(o->erk_order == 5 && o->rtol <= o->auto_dop853_rtol)))
    return dln_erk_tab_load(o->erk_order, T);
  dln_dop853_tab(T);
  dln_erk_tab_beta(T, 9);
  return DLN_OK;
}

int dln_rkc_create(dln_run_ctx *c, double *theta, int mode, dln_stepper **out) {
  *out = NULL;
  const dln_train_options *o = c->opt;
  size_t n = dln_dyn_size(c);
  rkc_stepper *s = calloc(1, sizeof *s);
  if (!s) return dln_error(DLN_ENOMEM, "out of memory allocating the RKC integrator");
  s->base.step = rkc_stepper_step;
  s->base.dense = rkc_dense;
  s->base.stats = rkc_stats;
  s->base.destroy = rkc_destroy;
  s->base.last_h = rkc_last_h;
  s->c = c;
  s->n = n;
  s->y = theta;
  s->switched_at = NAN;
  s->auto_mode = mode == DLN_RK_AUTO;
  s->no_switch = mode == DLN_RK_DOP853;
  int st = load_table(c, mode, &s->T);
  if (st) {
    free(s);
    return st;
  }
  for (int i = 1; i < s->T.s; ++i)
    for (int l = i + 1; l < s->T.s; ++l) s->read_later[i] |= s->T.A[l][i] != 0.0;
  s->base.name = dln_rkc_name(&s->base, 0);
  /* buffers: stages 1..s−1 (stage 0 is f), at least 4 for RKC, then f, fo, fp, yo, yp, ynew,
   * err, v, w, ysi, ysj, and for DOP853 its dense output's 3 stages and 4 rows and the side
   * integration's θ and f */
  int nk = s->T.s > 4 ? s->T.s : 4;
  size_t nbuf = (size_t)nk + 11 + (s->T.dop853 ? 9 : 0);
  double *blk = malloc(nbuf * n * sizeof(double) + 1);
  if (!blk) {
    free(s);
    return dln_error(DLN_ENOMEM, "out of memory allocating the RKC integrator (%zu parameters)", n);
  }
  s->blk = blk;
  for (int i = 0; i < nk; ++i) s->k[i] = blk + (size_t)i * n; /* RK: k[0] is spare (stage 0 is f) */
  s->f = blk + (size_t)nk * n;
  s->fo = s->f + n;
  s->fp = s->fo + n;
  s->yo = s->fp + n;
  s->yp = s->yo + n;
  s->ynew = s->yp + n;
  s->err = s->ynew + n;
  s->v = s->err + n;
  s->w = s->v + n;
  s->ysi = s->w + n;
  s->ysj = s->ysi + n;
  for (int i = 0; s->T.dop853 && i < 7; ++i) *(i < 3 ? &s->dx[i] : &s->dF[i - 3]) = s->ysj + (size_t)(i + 1) * n;
  if (s->T.dop853) {
    s->sy = s->ysj + 8 * n;
    s->sf = s->sy + n;
  }
  /* the last pair of stages with equal nodes (Dormand–Prince: c_6 = c_7 = 1; HNW II §IV.2) */
  s->pi = s->pj = -1;
  for (int j = s->T.s - 1; j >= 2 && s->pi < 0; --j)
    for (int i = j - 1; i >= 1; --i)
      if (s->T.c[i] == s->T.c[j]) {
        s->pi = i;
        s->pj = j;
        break;
      }
  double lim = sqrt(o->rtol / (10 * DBL_EPSILON));
  s->smax = lim > RKC_MAX_STAGES ? RKC_MAX_STAGES : (lim < 2 ? 2 : (int)lim);
  *out = &s->base;
  return DLN_OK;
}

void dln_rkc_start_at(dln_stepper *base, double t0, double h0) {
  rkc_stepper *s = (rkc_stepper *)base;
  s->t = s->to = t0;
  s->h_start = h0 > 0 ? h0 : 0.0;
}

/* The type "rkc": from t0 (a checkpoint's restart: with first step h0 > 0; at t = 0 the
 * first step comes from the starting-step rule, start). */
static int rkc_create(dln_run_ctx *c, double *theta, double t0, double h0, dln_stepper **out) {
  int st = dln_rkc_create(c, theta, DLN_RK_RKC, out);
  if (!st && (t0 != 0 || h0 > 0)) dln_rkc_start_at(*out, t0, h0);
  return st;
}

/* the RK phase uses the table of erk_order, a row of flow */
static int rkc_check(const dln_train_options *o) { return dln_dyn_validate_rows(o, dln_integrator_flow.options); }

#define OFF(f) offsetof(dln_train_options, f)

/* clang-format off */
static const dln_option rkc_rows[] = {
  {"auto_stiff_ratio", DLN_OPT_DOUBLE, OFF(auto_stiff_ratio), "0.5", "auto, rkc: h*rho/beta_RK at or above which a Runge-Kutta step counts as stability-limited", NULL, DLN_OPTR_POS, 0, 0, NULL, NULL},
  {"auto_window", DLN_OPT_INT, OFF(auto_window), "3", "auto, rkc: consecutive stability-limited Runge-Kutta steps before switching", NULL, DLN_OPTR_MIN, 1, 0, NULL, NULL},
  {"auto_dop853_rtol", DLN_OPT_DOUBLE, OFF(auto_dop853_rtol), "1e-7", "auto, rkc: with erk_order 5, the Runge-Kutta phase uses Dormand-Prince 8(5,3) at rtol at or below this (0: never)", NULL, DLN_OPTR_NONNEG, 0, 0, NULL, NULL},
  DLN_OPTION_END};
/* clang-format on */

static const dln_integrator_type *const rkc_uses[] = {&dln_integrator_flow, &dln_integrator_dop853, NULL}; /* erk_order, dense_defect_max */

const dln_integrator_type dln_integrator_rkc = {
    .name = "rkc",
    .summary = "gradient flow by dln's own low-overhead Runge-Kutta, switching to Runge-Kutta-Chebyshev when stiff",
    .flags = DLN_INTEG_NEEDS_HVP | DLN_INTEG_TIME,
    .options = rkc_rows,
    .options_size = 0,
    .check = rkc_check,
    .create = rkc_create,
    .uses = rkc_uses,
};

/* The type "dop853" (dop853.c: the table): the pair alone in this loop, from t0 (a checkpoint's restart: first step h0). */
static int dop853_create(dln_run_ctx *c, double *theta, double t0, double h0, dln_stepper **out) {
  int st = dln_rkc_create(c, theta, DLN_RK_DOP853, out);
  if (!st && (t0 != 0 || h0 > 0)) dln_rkc_start_at(*out, t0, h0);
  return st;
}

/* clang-format off */
static const dln_option dop853_rows[] = {
  {"dense_defect_max", DLN_OPT_DOUBLE, OFF(dense_defect_max), "10", "dop853, and rkc, auto at rtol <= auto_dop853_rtol: samples inside a step come from the pair's 7th-order interpolant when its defect h|u' - f(u)| at mid-step is at most this (in units of the tolerance), else from an integration from the step's start (0: always, as accurate as the steps; 1e300: never)", NULL, DLN_OPTR_NONNEG, 0, 0, NULL, NULL},
  DLN_OPTION_END};
/* clang-format on */

const dln_integrator_type dln_integrator_dop853 = {
    .name = "dop853",
    .summary = "gradient flow by dln's own Dormand-Prince 8(5,3) pair (DOP853) with its 7th-order dense output",
    .flags = DLN_INTEG_TIME,
    .options = dop853_rows,
    .options_size = 0,
    .check = NULL,
    .create = dop853_create,
};
