/* Structure-preserving gradient flow θ̇ = f(θ) = −∇φ(θ) by Gauss–Legendre collocation.
 *
 * The s-stage Gauss method (s = 1: implicit midpoint rule, order 2; s = 2: order 4)
 * solves the stage equations, written for the increments Z_i = Y_i − θ_0,
 *     Z_i = h Σ_j a_ij f(θ_0 + Z_j),   i = 1..s,
 * and sets θ_1 = θ_0 + h Σ_i b_i f(θ_0 + Z_i) (Hairer, Nørsett, Wanner I §II.7;
 * Butcher tableaux: s = 1: c = ½, a = ½, b = 1; s = 2: c = ½ ∓ √3/6,
 * A = [¼, ¼ − √3/6; ¼ + √3/6, ¼], b = (½, ½)).
 *
 * Conservation. Gauss methods conserve EVERY quadratic invariant Q(θ) = θᵀSθ of the
 * flow, i.e. every Q with θᵀS f(θ) = 0 (Cooper 1987, IMA J. Numer. Anal. 7:1–13;
 * Hairer, Lubich, Wanner, Geometric Numerical Integration, 2nd ed., Thm IV.2.2): they
 * satisfy b_i a_ij + b_j a_ji = b_i b_j, which makes Q(θ_1) − Q(θ_0) vanish identically
 * when the stage equations hold. The imbalances C_j = W_{j+1}ᵀW_{j+1} − W_j W_jᵀ
 * (002 Lemma 1) are such invariants (entrywise quadratic forms in θ), so C_j is
 * conserved to round-off whatever the step size — provided the stage equations are
 * solved to round-off, which is why the iterations below run until the increment is
 * at the round-off level rather than to a tolerance tied to rtol, and why θ is
 * updated with compensated (Kahan) summation.
 *
 * Stage equations. Fixed-point iteration Z ← h(A⊗I) f(θ_0 + Z) while it contracts
 * (rate ≈ h‖A‖ L); when the observed (or predicted, rate·h/h_prev) contraction factor
 * exceeds 0.7 (fixed point retried every 10th step), Newton on the stacked system F(Z) = Z − h(A⊗I) f(θ_0 + Z) = 0 whose
 * Jacobian-vector product (I + h(A⊗I) blockdiag ∇²φ(Y_j)) v uses the exact
 * Hessian-vector product dln_net_hvp, solved matrix-free by SUNDIALS' restarted
 * SPGMR(krylov_maxl) (SUNLinSol_SPGMR, modified Gram–Schmidt, at most 5 restarts;
 * created once per stepper, its vectors carry nvec_fast's kernels) to a relative
 * residual of 1e-8, with backtracking on ‖F‖₂ for large steps. Both stop when
 * ‖ΔZ‖_∞ ≤ 10 ε ‖θ_0‖_∞, or when the increment stagnates below 100 ε ‖θ_0‖_∞ (the
 * noise floor of f); failure → the step is rejected and h halved; 12 failures in a
 * row → DLN_STOP_SOLVER (DLN_STOP_DIVERGED if f was non-finite).
 *
 * Steps. gauss_h > 0: fixed step h (the last one shortened to land on t_end), no
 * error control. Otherwise adaptive by step doubling (Richardson): one step of h and
 * two of h/2; the two half steps are kept (so the propagated solution is a pure
 * Gauss solution and conserves the invariants), with error estimate
 * err = ‖θ_{h/2,h/2} − θ_h‖ / (2^{2s} − 1) in the WRMS norm of (rtol, atol); accept if
 * err ≤ 1; h ← h · min(4, max(0.2, 0.9 err^{−1/(2s+1)})).
 *
 * Dense output. Collocation defines the polynomial u of degree s with u(t_0) = θ_0 and
 * u(t_0 + c_i h) = Y_i (HNW I Thm II.7.6), u(t_0 + τh) = θ_0 + Σ_i Z_i L_i(τ), L_i the
 * Lagrange basis on the nodes {0, c_1..c_s} with L_i(0) = 0; extrapolated, it gives the
 * initial guess of the next step's stages. Between the nodes u is only O(h^{s+1})
 * accurate (HNW I Thm II.7.10), not O(h^{2s}) like the end points, so samples use the
 * cubic Hermite interpolant of each (sub-)step instead (HNW I §II.6, eq. 6.7): end values
 * and f at both ends, error O(h^4), which is the order of s = 2 and above that of s = 1.
 * Except on stiff sub-steps: Gauss is A-stable but not L-stable (R(−∞) = (−1)^s), so on a
 * converged flow the steps grow to h·λ ≈ 10³ while the end values keep a stiff component
 * δ at the tolerance level, and Hermite's end slopes f ≈ λδ put an error of ≈ h·λ·δ/7
 * between the ends (measured: loss samples 3.7e-6 on a flow converged to 1e-20; worse, a
 * checkpoint restarts the run from such a sample). There the collocation polynomial u is
 * used: it interpolates the stage values, which stay bounded for stiff components. A
 * sub-step counts as stiff when its stages needed Newton (h‖A‖L > 0.7: the fixed point
 * did not contract) and h‖f‖∞ exceeds DENSE_STIFF times the change ‖y_b − y_a‖∞ across it
 * (a smooth solution moves by about h‖f‖; a stiff component's slope does not move it).
 * The end derivatives are evaluated only for steps that hold a sample (counted as
 * right-hand sides), so sampling never shortens or adds a step.
 *
 * The integrator type "gauss"; it owns gauss_stages and gauss_h, and reads krylov_maxl
 * (cvode.c). */
#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dln/error.h"
#include "dln/mat.h"
#include "dynamics/dynamics_internal.h"
#include "nvec_fast.h"
#include "sundials_util.h"
#include "core/util.h"

#include <nvector/nvector_serial.h>
#include <sunlinsol/sunlinsol_spgmr.h>

enum { GAUSS_MAX_FAILS = 12, FP_MAXIT = 100, NEWTON_MAXIT = 15, GMRES_RESTARTS = 6 };
#define DENSE_STIFF 8.0 /* h‖f‖ over ‖Δy‖ above which a Newton sub-step's samples use u */

typedef struct {
  double t0, h;
  double *y;  /* state at the start of the sub-step (n) */
  double *Z;  /* stage increments (s·n) */
  int newton; /* its stages needed Newton (h‖A‖L > 0.7): dense output by u, not Hermite */
} gauss_piece;

typedef struct {
  dln_stepper base; /* first member */
  dln_run_ctx *c;
  double *theta;
  size_t n, N; /* N = s·n */
  int s, maxl, fixed;
  double A[2][2], b[2], cn[2];
  double t, h, hfix, tstart;
  long kfix; /* fixed mode: steps taken */
  double rate, rate_h; /* last fixed-point contraction estimate and the h it was seen at */
  int newton_streak;   /* consecutive solves that went straight to Newton */
  int solved_newton;   /* the last successful solve_stages used Newton */
  double last_h;
  /* workspace */
  double *y0, *e0;    /* state and compensation at the step start (restored on rejection) */
  double *comp;       /* Kahan compensation of θ */
  double *yfull;      /* Richardson: one-step result */
  double *F, *Z, *Zn; /* f(θ_0 + Z_i), current stage increments, next iterate (s·n each) */
  double *Zf;         /* Richardson: the full step's stage increments (s·n) */
  double *Ys;         /* stage values θ_0 + Z_j at the Newton linearization point (s·n) */
  double *R, *D, *Wt; /* Newton residual, increment, matvec temp (s·n) */
  SUNContext sctx;    /* SPGMR: context, */
  N_Vector nb, nx;    /* right-hand side (wraps R) and solution (wraps D), */
  SUNLinearSolver ls; /* the solver, */
  double lin_h;       /* and the step size its matvec uses */
  gauss_piece piece[2]; /* dense output of the last accepted step (1 or 2 sub-steps) */
  int npiece;
  double *yend;         /* the state at the end of the last accepted step */
  double *fd[3];        /* f at piece[0].y, piece[1].y and yend, evaluated when first needed */
  int fd_ok[3];
  int have_prev;
  /* counters */
  long attempted, rejected, nonlin_iters, lin_iters, nonlin_fails;
} gauss_stepper;


/* Lagrange basis on {0, c_1..c_s}: L_i(τ) = τ/c_i Π_{k≠i} (τ − c_k)/(c_i − c_k). */
static double lagr(const gauss_stepper *g, int i, double tau) {
  double v = tau / g->cn[i];
  for (int k = 0; k < g->s; ++k)
    if (k != i) v *= (tau - g->cn[k]) / (g->cn[i] - g->cn[k]);
  return v;
}

/* F_i = f(t0 + c_i h, θ_0 + Z_i) for all stages of the step (t0, h); Ys gets the stage
 * values. 0, 1 (non-finite), −1. */
static int eval_stages(gauss_stepper *g, double t0, double h, const double *y0, const double *Z) {
  size_t n = g->n;
  for (int i = 0; i < g->s; ++i) {
    double *Y = g->Ys + (size_t)i * n;
    const double *Zi = Z + (size_t)i * n;
    for (size_t k = 0; k < n; ++k) Y[k] = y0[k] + Zi[k];
    int rc = dln_dyn_rhs(g->c, t0 + g->cn[i] * h, Y, g->F + (size_t)i * n);
    if (rc) return rc;
  }
  return 0;
}

/* out = M v, M = I + h (A⊗I) blockdiag(∇²φ(Y_j)) — the Jacobian of
 * F(Z) = Z − h(A⊗I) f(θ_0 + Z), since ∂f/∂θ = −∇²φ. 0, 1 (non-finite), −1. */
static int matvec(gauss_stepper *g, double h, const double *v, double *out) {
  size_t n = g->n;
  for (int j = 0; j < g->s; ++j)
    if (dln_dyn_hvp(g->c, g->Ys + (size_t)j * n, v + (size_t)j * n, g->Wt + (size_t)j * n)) return -1;
  int bad = 0;
  for (int i = 0; i < g->s; ++i) {
    double *oi = out + (size_t)i * n;
    const double *vi = v + (size_t)i * n;
    for (size_t k = 0; k < n; ++k) {
      double acc = 0;
      for (int j = 0; j < g->s; ++j) acc += g->A[i][j] * g->Wt[(size_t)j * n + k];
      oi[k] = vi[k] + h * acc;
      bad |= !isfinite(oi[k]);
    }
  }
  return bad ? 1 : 0;
}

/* SPGMR's ATimesFn: z = M v at the step size of the current solve */
static int spgmr_atimes(void *data, N_Vector v, N_Vector z) {
  gauss_stepper *g = data;
  return matvec(g, g->lin_h, N_VGetArrayPointer(v), N_VGetArrayPointer(z));
}

/* M x = b by SUNDIALS' SPGMR(maxl), b = g->R, x = g->D, from x = 0, to ‖b − Mx‖₂ ≤
 * rtol‖b‖₂ (SPGMR's residual estimate) with GMRES_RESTARTS − 1 restarts. Returns 0
 * (converged), 2 (not converged, residual reduced: x is the last iterate), 1 (failed:
 * no reduction, or M v non-finite), −1 (library error). */
static int spgmr(gauss_stepper *g, double h, double rtol) {
  memset(g->D, 0, g->N * sizeof(double));
  double bnorm = dln_vec_norm2(g->N, g->R);
  if (bnorm == 0) return 0;
  if (!isfinite(bnorm)) return 1;
  g->lin_h = h;
  SUNLinSolSetZeroGuess(g->ls, SUNTRUE);
  int flag = SUNLinSolSolve(g->ls, NULL, g->nx, g->nb, rtol * bnorm);
  g->lin_iters += SUNLinSolNumIters(g->ls);
  switch (flag) {
  case SUNLS_SUCCESS: return 0;
  case SUNLS_RES_REDUCED: return 2;
  case SUNLS_CONV_FAIL: case SUNLS_ATIMES_FAIL_REC: case SUNLS_QRFACT_FAIL: return 1;
  default:
    if (flag != SUNLS_ATIMES_FAIL_UNREC) dln_error(DLN_ESOLVER, "SPGMR failed (flag %d)", flag);
    return -1;
  }
}

/* Solve the stage equations for step h from y0, starting from g->Z; on success g->Z
 * and g->F = f(y0 + Z_i) are consistent to round-off. 0 ok, 1 failed (retry with
 * smaller h), −1 fatal. */
static int solve_stages(gauss_stepper *g, double t0, const double *y0, double h) {
  size_t N = g->N;
  double scale = dln_vec_maxabs(g->n, y0);
  if (!(scale > 0)) scale = DBL_MIN;
  double tol = 10 * DBL_EPSILON * scale, floor_tol = 100 * DBL_EPSILON * scale;
  int newton = g->rate_h > 0 && g->rate * (h / g->rate_h) > 0.7;
  if (newton && ++g->newton_streak >= 10) newton = 0; /* every 10th such solve, retry the cheap iteration */
  if (!newton) g->newton_streak = 0;
  dln_copy(N, g->Z, g->D); /* keep the initial guess */
  if (!newton) {
    double prev = INFINITY, rate = 0;
    int ok = 0;
    for (int k = 0; k < FP_MAXIT; ++k) {
      int rc = eval_stages(g, t0, h, y0, g->Z);
      if (rc < 0) return -1;
      if (rc > 0) break;
      g->nonlin_iters++;
      double delta = 0;
      for (int i = 0; i < g->s; ++i) /* Zn_i = h Σ_j a_ij F_j */
        for (size_t q = 0; q < g->n; ++q) {
          double acc = 0;
          for (int j = 0; j < g->s; ++j) acc += g->A[i][j] * g->F[(size_t)j * g->n + q];
          size_t idx = (size_t)i * g->n + q;
          g->Zn[idx] = h * acc;
          double dd = fabs(g->Zn[idx] - g->Z[idx]);
          if (!(dd <= delta)) delta = dd;
        }
      if (!isfinite(delta)) break;
      double ratio = isfinite(prev) && prev > 0 ? delta / prev : 0;
      if (k >= 1 && prev > 1e4 * tol && ratio > rate) rate = ratio; /* contraction, above the noise floor */
      /* converged: keep Z (the point F was evaluated at), so Z_i = h Σ a_ij F_j holds to
       * within delta, i.e. to round-off */
      if (delta <= tol || (k >= 2 && delta <= floor_tol && ratio >= 0.5)) {
        ok = 1;
        break;
      }
      dln_copy(N, g->Zn, g->Z);
      if (k >= 3 && ratio > 0.8 && delta > floor_tol) break; /* does not contract: Newton */
      prev = delta;
    }
    if (ok) {
      g->rate = rate > 0 ? rate : 1e-3;
      g->rate_h = h;
      g->solved_newton = 0;
      return 0;
    }
    g->rate = 1.0; /* next steps near this h start with Newton */
    g->rate_h = h;
    dln_copy(N, g->D, g->Z); /* Newton from the initial guess (the FP iterate may have diverged) */
  }
  /* Newton–Krylov on F(Z) = Z − h(A⊗I) f(y0 + Z), damped by backtracking on ‖F‖₂
   * (halve λ while ‖F(Z_k + λD)‖ > (1 − 10⁻⁴λ)‖F(Z_k)‖, λ ≥ 1/64) while the increments are
   * above the round-off floor; full steps near the solution keep quadratic convergence. */
  double prev = INFINITY, rprev = INFINITY, lambda = 1;
  for (int k = 0; k < NEWTON_MAXIT + 6; ++k) {
    int rc = eval_stages(g, t0, h, y0, g->Z);
    if (rc && lambda > 1.0 / 64 && isfinite(prev)) { /* non-finite at a full step: damp */
      lambda *= 0.5;
      for (size_t q = 0; q < N; ++q) g->Z[q] = g->Zn[q] + lambda * g->D[q];
      continue;
    }
    if (rc) return rc < 0 ? -1 : 1;
    g->nonlin_iters++;
    double rn = 0;
    for (int i = 0; i < g->s; ++i) /* −F(Z) = h(A⊗I)F − Z */
      for (size_t q = 0; q < g->n; ++q) {
        double acc = 0;
        for (int j = 0; j < g->s; ++j) acc += g->A[i][j] * g->F[(size_t)j * g->n + q];
        size_t idx = (size_t)i * g->n + q;
        g->R[idx] = h * acc - g->Z[idx];
        rn += g->R[idx] * g->R[idx];
      }
    rn = sqrt(rn);
    if (isfinite(prev) && prev > floor_tol && !(rn <= (1 - 1e-4 * lambda) * rprev) && lambda > 1.0 / 64) {
      lambda *= 0.5; /* backtrack from Zn along D */
      for (size_t q = 0; q < N; ++q) g->Z[q] = g->Zn[q] + lambda * g->D[q];
      continue;
    }
    rc = spgmr(g, h, 1e-8);
    if (rc == 1 || rc < 0) return rc < 0 ? -1 : 1;
    double delta = dln_vec_maxabs(N, g->D);
    if (!isfinite(delta)) return 1;
    if (delta <= tol || (isfinite(prev) && delta <= floor_tol && delta >= 0.5 * prev)) {
      g->solved_newton = 1;
      return 0; /* keep Z: F(Z) is current and ‖F(Z)‖ is at round-off */
    }
    dln_copy(N, g->Z, g->Zn);
    for (size_t q = 0; q < N; ++q) g->Z[q] += g->D[q];
    prev = delta;
    rprev = rn;
    lambda = 1;
  }
  return 1;
}

/* θ ← θ_0 + h Σ b_i F_i with Kahan compensation comp (θ may alias y0). */
static void update(gauss_stepper *g, const double *y0, double h, double *y, double *comp) {
  for (size_t q = 0; q < g->n; ++q) {
    double acc = 0;
    for (int i = 0; i < g->s; ++i) acc += g->b[i] * g->F[(size_t)i * g->n + q];
    double d = h * acc + comp[q], yn = y0[q] + d;
    comp[q] = (y0[q] - yn) + d;
    y[q] = yn;
  }
}

/* Initial guess for a step of size h from the end of the last piece (extrapolated
 * collocation polynomial), or Z_i = c_i h f0 with f0 = f(θ_0) (first step). */
static int guess(gauss_stepper *g, double h) {
  size_t n = g->n;
  if (!g->have_prev) {
    int rc = dln_dyn_rhs(g->c, g->t, g->theta, g->F);
    if (rc) return rc;
    for (int i = 0; i < g->s; ++i)
      for (size_t q = 0; q < n; ++q) g->Z[(size_t)i * n + q] = g->cn[i] * h * g->F[q];
    return 0;
  }
  const gauss_piece *p = &g->piece[g->npiece - 1];
  for (int i = 0; i < g->s; ++i) {
    double tau = 1 + g->cn[i] * h / p->h;
    double w[2] = {0, 0};
    for (int j = 0; j < g->s; ++j) w[j] = lagr(g, j, tau) - lagr(g, j, 1.0);
    for (size_t q = 0; q < n; ++q) {
      double acc = 0;
      for (int j = 0; j < g->s; ++j) acc += w[j] * p->Z[(size_t)j * n + q];
      g->Z[(size_t)i * n + q] = acc;
    }
  }
  return 0;
}

static void save_piece(gauss_stepper *g, int k, double t0, double h, const double *y) {
  g->piece[k].t0 = t0;
  g->piece[k].h = h;
  dln_copy(g->n, y, g->piece[k].y);
  dln_copy(g->N, g->Z, g->piece[k].Z);
  g->piece[k].newton = g->solved_newton;
}

/* Guess for a sub-step from the full step's polynomial: Z_i = u(t0 + (off + c_i/2) h)
 * − u(t0 + off·h), off = 0 or ½. */
static void guess_from_full(gauss_stepper *g, const double *Zfull, double off) {
  size_t n = g->n;
  for (int i = 0; i < g->s; ++i) {
    double w[2] = {0, 0};
    for (int j = 0; j < g->s; ++j) w[j] = lagr(g, j, off + 0.5 * g->cn[i]) - (off > 0 ? lagr(g, j, off) : 0.0);
    for (size_t q = 0; q < n; ++q) {
      double acc = 0;
      for (int j = 0; j < g->s; ++j) acc += w[j] * Zfull[(size_t)j * n + q];
      g->Z[(size_t)i * n + q] = acc;
    }
  }
}

static int gauss_step(dln_stepper *base, double *tout) {
  gauss_stepper *g = (gauss_stepper *)base;
  dln_run_ctx *c = g->c;
  const dln_train_options *o = c->opt;
  size_t n = g->n;
  double t_end = o->t_end;
  int fails = 0;
  c->rhs_bad = 0;
  dln_copy(n, g->theta, g->y0);
  dln_copy(n, g->comp, g->e0);
  for (;;) {
    double h = g->fixed ? g->hfix : g->h, tnew;
    if (g->fixed) {
      tnew = g->tstart + (double)(g->kfix + 1) * g->hfix;
      if (tnew >= t_end * (1 - 4 * DBL_EPSILON)) tnew = t_end;
      h = tnew - g->t;
      if (fails) { /* a failed fixed step is retried with h/2^fails; the grid then restarts */
        h = ldexp(h, -fails);
        tnew = g->t + h;
      }
    } else {
      if (g->t + h >= t_end || t_end - (g->t + h) < 1e-10 * h) h = t_end - g->t;
      tnew = (h == t_end - g->t) ? t_end : g->t + h;
      if (!(h > 1e-14 * fmax(1.0, fabs(g->t)))) {
        snprintf(base->msg, sizeof base->msg, "Gauss-Legendre step size underflow at t = %.6g (h = %.3g)", g->t, h);
        return DLN_STOP_SOLVER;
      }
    }
    g->attempted++;
    int rc = guess(g, h);
    if (rc < 0) goto fatal;
    if (rc == 0) rc = solve_stages(g, g->t, g->y0, h);
    if (rc < 0) goto fatal;
    if (rc == 0 && g->fixed) {
      update(g, g->y0, h, g->theta, g->comp);
      save_piece(g, 0, g->t, h, g->y0);
      g->npiece = 1;
      if (h == tnew - g->t && !fails) g->kfix++;
      else g->tstart = tnew, g->kfix = 0; /* a shortened retry restarts the step grid */
    } else if (rc == 0) {
      /* Richardson: full step into yfull (compensation discarded) */
      dln_copy(n, g->e0, g->Zn); /* scratch compensation copy */
      update(g, g->y0, h, g->yfull, g->Zn);
      dln_copy(g->N, g->Z, g->Zf); /* keep the full step's Z */
      /* first half step */
      guess_from_full(g, g->Zf, 0.0);
      rc = solve_stages(g, g->t, g->y0, 0.5 * h);
      if (rc < 0) goto fatal;
      if (rc == 0) {
        save_piece(g, 0, g->t, 0.5 * h, g->y0);
        update(g, g->y0, 0.5 * h, g->theta, g->comp);
        guess_from_full(g, g->Zf, 0.5);
        rc = solve_stages(g, g->t + 0.5 * h, g->theta, 0.5 * h);
        if (rc < 0) goto fatal;
      }
      if (rc == 0) {
        save_piece(g, 1, g->t + 0.5 * h, (tnew - g->t) - 0.5 * h, g->theta);
        update(g, g->piece[1].y, 0.5 * h, g->theta, g->comp);
        g->npiece = 2;
        /* err = ‖θ_{2×h/2} − θ_h‖ / (2^{2s} − 1), WRMS with weights from max(|θ_0|, |θ_1|) */
        double s2 = 0, denom = (double)((1 << (2 * g->s)) - 1);
        for (size_t q = 0; q < n; ++q) {
          double sc = o->atol + o->rtol * fmax(fabs(g->y0[q]), fabs(g->theta[q]));
          double e = (g->theta[q] - g->yfull[q]) / (denom * sc);
          s2 += e * e;
        }
        double err = sqrt(s2 / (double)n);
        double fac = err > 0 ? 0.9 * pow(err, -1.0 / (2 * g->s + 1)) : 4.0;
        if (!isfinite(fac)) fac = 0.2;
        fac = fmin(4.0, fmax(0.2, fac));
        if (!(err <= 1.0)) {
          g->rejected++;
          dln_copy(n, g->y0, g->theta);
          dln_copy(n, g->e0, g->comp);
          g->h = h * fmin(fac, 0.9);
          continue;
        }
        g->h = h * fac;
      }
    }
    if (rc) { /* stage equations failed: reject, halve h */
      g->nonlin_fails++;
      dln_copy(n, g->y0, g->theta);
      dln_copy(n, g->e0, g->comp);
      if (++fails >= GAUSS_MAX_FAILS || !(h > 1e-14 * fmax(1.0, fabs(g->t)))) {
        snprintf(base->msg, sizeof base->msg,
                 c->rhs_bad ? "non-finite gradient in the Gauss-Legendre stages at t = %.6g (h = %.3g)"
                            : "Gauss-Legendre stage equations did not converge at t = %.6g (h = %.3g) after %d step reductions",
                 g->t, h, fails);
        return c->rhs_bad ? DLN_STOP_DIVERGED : DLN_STOP_SOLVER;
      }
      if (!g->fixed) g->h = 0.5 * h;
      continue;
    }
    g->have_prev = 1;
    g->fd_ok[0] = g->fd_ok[2]; /* f at this step's end is f at the next step's start */
    if (g->fd_ok[2]) {
      double *tmp = g->fd[0];
      g->fd[0] = g->fd[2], g->fd[2] = tmp;
    }
    g->fd_ok[1] = g->fd_ok[2] = 0;
    dln_copy(n, g->theta, g->yend);
    g->last_h = tnew - g->t;
    g->t = tnew;
    *tout = tnew;
    return 0;
  }
fatal:
  dln_copy(n, g->y0, g->theta);
  snprintf(base->msg, sizeof base->msg, "library error in the Gauss-Legendre stages at t = %.6g: %s", g->t,
           dln_last_error());
  return DLN_STOP_SOLVER;
}

/* f at the dense-output node k (0, 1: piece starts, 2: step end), evaluated once per step. */
static int node_f(gauss_stepper *g, int k, const double **f) {
  if (!g->fd_ok[k]) {
    const double *y = k == 2 ? g->yend : g->piece[k].y;
    const gauss_piece *last = &g->piece[g->npiece - 1];
    double t = k == 2 ? last->t0 + last->h : g->piece[k].t0;
    if (dln_dyn_rhs(g->c, t, y, g->fd[k])) return 1;
    g->fd_ok[k] = 1;
  }
  *f = g->fd[k];
  return 0;
}

/* θ(t) for t inside piece p by one Gauss step of h' = t − t0 from the piece's start, its
 * stages guessed from the piece's collocation polynomial: a sample as accurate as a step
 * (local error O(h'^{2s+1})) that keeps the quadratic invariants C_j (002 Lemma 1) to
 * round-off, as the steps do. The solver state the next step reads (contraction rate,
 * Newton streak) is restored, so samples never change the steps; Z, F and the Newton
 * buffers are scratch between steps, e0 is reloaded at the next step's start. 0, or the
 * stage solve's failure (the caller then interpolates). */
static int gauss_side(gauss_stepper *g, const gauss_piece *p, double t, double *out) {
  const size_t n = g->n;
  const double hs = t - p->t0, rate = g->rate, rate_h = g->rate_h;
  const int streak = g->newton_streak, sn = g->solved_newton;
  for (int i = 0; i < g->s; ++i) { /* Z'_i = u(t0 + c_i h') − θ_0 */
    double w[2] = {0, 0};
    for (int j = 0; j < g->s; ++j) w[j] = lagr(g, j, g->cn[i] * hs / p->h);
    for (size_t q = 0; q < n; ++q) {
      double acc = 0;
      for (int j = 0; j < g->s; ++j) acc += w[j] * p->Z[(size_t)j * n + q];
      g->Z[(size_t)i * n + q] = acc;
    }
  }
  int rc = solve_stages(g, p->t0, p->y, hs);
  if (!rc) {
    memset(g->e0, 0, n * sizeof *g->e0);
    update(g, p->y, hs, out, g->e0);
  }
  g->rate = rate, g->rate_h = rate_h, g->newton_streak = streak, g->solved_newton = sn;
  return rc;
}

/* The (sub-)step holding t: one Gauss step from its start (gauss_side); where that solve
 * fails, the cubic Hermite interpolant (HNW I §II.6, eq. 6.7), or the collocation
 * polynomial u where Hermite's end slopes would amplify a stiff component (see the
 * header: a Newton sub-step with h‖f‖∞ > DENSE_STIFF ‖y_b − y_a‖∞). */
static int gauss_dense(dln_stepper *base, double t, double *out) {
  gauss_stepper *g = (gauss_stepper *)base;
  if (!g->npiece) return 1;
  int k = (g->npiece == 2 && t > g->piece[1].t0) ? 1 : 0, kb = (g->npiece == 2 && k == 0) ? 1 : 2;
  const gauss_piece *p = &g->piece[k];
  const double *ya = p->y, *yb = kb == 2 ? g->yend : g->piece[1].y, *fa, *fb;
  if (t <= p->t0 || t >= p->t0 + p->h) { /* a piece's end: its state */
    dln_copy(g->n, t <= p->t0 ? ya : yb, out);
    return 0;
  }
  if (gauss_side(g, p, t, out) == 0) return 0;
  if (node_f(g, k, &fa) || node_f(g, kb, &fb)) return 1;
  double h = p->h, fmx = fmax(dln_vec_maxabs(g->n, fa), dln_vec_maxabs(g->n, fb)), dy = 0;
  for (size_t q = 0; q < g->n; ++q) dy = fmax(dy, fabs(yb[q] - ya[q]));
  if (p->newton && !(h * fmx <= DENSE_STIFF * dy)) {
    double tau = (t - p->t0) / p->h, w[2] = {0, 0};
    for (int j = 0; j < g->s; ++j) w[j] = lagr(g, j, tau);
    for (size_t q = 0; q < g->n; ++q) {
      double acc = 0;
      for (int j = 0; j < g->s; ++j) acc += w[j] * p->Z[(size_t)j * g->n + q];
      out[q] = p->y[q] + acc;
    }
    return 0;
  }
  double tau = (t - p->t0) / h;
  double wa = tau * (tau - 1) * (tau - 1) * h, wb = tau * tau * (tau - 1) * h;
  double c = tau * tau * (3 - 2 * tau); /* weight of yb − ya */
  for (size_t q = 0; q < g->n; ++q) out[q] = ya[q] + c * (yb[q] - ya[q]) + wa * fa[q] + wb * fb[q];
  return 0;
}

static double gauss_last_h(dln_stepper *base) { return ((gauss_stepper *)base)->last_h; }

static void gauss_stats(dln_stepper *base, dln_train_result *r) {
  gauss_stepper *g = (gauss_stepper *)base;
  r->attempted += g->attempted;
  r->rejected += g->rejected;
  r->nonlin_iters += g->nonlin_iters;
  r->lin_iters += g->lin_iters;
  r->nonlin_fails += g->nonlin_fails;
}

static void gauss_destroy(dln_stepper *base) {
  gauss_stepper *g = (gauss_stepper *)base;
  if (!g) return;
  free(g->y0), free(g->e0), free(g->comp), free(g->yfull);
  free(g->F), free(g->Z), free(g->Zn), free(g->Zf), free(g->Ys), free(g->R), free(g->D), free(g->Wt);
  if (g->ls) SUNLinSolFree(g->ls);
  dln_sun_free(&g->sctx, &g->nb, &g->nx);
  for (int k = 0; k < 2; ++k) free(g->piece[k].y), free(g->piece[k].Z);
  free(g->yend), free(g->fd[0]), free(g->fd[1]), free(g->fd[2]);
  free(g);
}

static double *dvec(size_t n, size_t m, int *bad) {
  size_t sz;
  if (dln_size_mul(n, m, &sz) || dln_size_mul(sz, sizeof(double), &sz)) {
    *bad = 1;
    return NULL;
  }
  double *p = calloc(sz ? sz / sizeof(double) : 1, sizeof(double));
  if (!p) *bad = 1;
  return p;
}

static int gauss_create(dln_run_ctx *c, double *theta, double t0, double h_first, dln_stepper **out) {
  (void)h_first; /* the first step comes from gauss_h or the estimate below */
  *out = NULL;
  const dln_train_options *o = c->opt;
  size_t n = dln_dyn_size(c);
  gauss_stepper *g = calloc(1, sizeof *g);
  if (!g) return dln_error(DLN_ENOMEM, "out of memory allocating the Gauss-Legendre integrator");
  g->s = o->gauss_stages == 1 ? 1 : 2;
  g->base.name = g->s == 1 ? "gauss-legendre-1" : "gauss-legendre-2";
  g->base.step = gauss_step;
  g->base.dense = gauss_dense;
  g->base.stats = gauss_stats;
  g->base.destroy = gauss_destroy;
  g->base.last_h = gauss_last_h;
  g->c = c;
  g->theta = theta;
  g->n = n;
  g->N = (size_t)g->s * n;
  g->maxl = o->krylov_maxl > 0 ? o->krylov_maxl : 30;
  if (g->s == 1) {
    g->A[0][0] = 0.5, g->b[0] = 1.0, g->cn[0] = 0.5;
  } else {
    const double r3 = sqrt(3.0) / 6.0;
    g->cn[0] = 0.5 - r3, g->cn[1] = 0.5 + r3;
    g->A[0][0] = 0.25, g->A[0][1] = 0.25 - r3;
    g->A[1][0] = 0.25 + r3, g->A[1][1] = 0.25;
    g->b[0] = g->b[1] = 0.5;
  }
  g->t = g->tstart = t0;
  g->fixed = o->gauss_h > 0;
  g->hfix = o->gauss_h;
  int bad = 0;
  size_t N = g->N;
  g->y0 = dvec(n, 1, &bad), g->e0 = dvec(n, 1, &bad), g->comp = dvec(n, 1, &bad), g->yfull = dvec(n, 1, &bad);
  g->F = dvec(N, 1, &bad), g->Z = dvec(N, 1, &bad), g->Zn = dvec(N, 1, &bad), g->Zf = dvec(N, 1, &bad), g->Ys = dvec(N, 1, &bad);
  g->R = dvec(N, 1, &bad), g->D = dvec(N, 1, &bad), g->Wt = dvec(N, 1, &bad);
  for (int k = 0; k < 2; ++k) g->piece[k].y = dvec(n, 1, &bad), g->piece[k].Z = dvec(N, 1, &bad);
  g->yend = dvec(n, 1, &bad);
  for (int k = 0; k < 3; ++k) g->fd[k] = dvec(n, 1, &bad);
  if (!bad) {
    int st = dln_sun_make(N, g->R, &g->sctx, &g->nb, &g->nx);
    if (st) {
      gauss_destroy(&g->base);
      return st;
    }
    if (g->nb && g->nx) {
      N_VSetArrayPointer(g->D, g->nx);
      g->ls = SUNLinSol_SPGMR(g->nb, SUN_PREC_NONE, g->maxl, g->sctx);
    }
    if (!g->ls || SUNLinSol_SPGMRSetMaxRestarts(g->ls, GMRES_RESTARTS - 1) || SUNLinSolSetATimes(g->ls, g, spgmr_atimes) ||
        SUNLinSolInitialize(g->ls) || SUNLinSolSetup(g->ls, NULL))
      bad = 1;
  }
  if (bad) {
    gauss_destroy(&g->base);
    return dln_error(DLN_ENOMEM, "out of memory allocating the Gauss-Legendre workspace (%zu parameters, Krylov dimension %d)",
                     n, o->krylov_maxl > 0 ? o->krylov_maxl : 30);
  }
  if (!g->fixed) { /* first step from ‖θ‖ and ‖f(θ)‖ (HNW I §II.4, simplified) */
    int rc = dln_dyn_rhs(c, t0, theta, g->F);
    if (rc < 0) {
      gauss_destroy(&g->base);
      return dln_error(DLN_ESOLVER, "Gauss-Legendre setup: gradient evaluation failed: %s", dln_last_error());
    }
    double d0 = dln_dyn_wrms(n, theta, theta, o->rtol, o->atol), d1 = dln_dyn_wrms(n, g->F, theta, o->rtol, o->atol);
    double h0 = (d0 < 1e-5 || d1 < 1e-5 || rc) ? 1e-6 : 0.01 * d0 / d1;
    g->h = fmin(h0, o->t_end - t0);
    if (!(g->h > 0)) g->h = 1e-6;
  }
  *out = &g->base;
  return DLN_OK;
}

#define OFF(f) offsetof(dln_train_options, f)

static int stages_check(const dln_option *o, const void *field, char *msg, size_t len) {
  (void)o;
  int v = *(const int *)field;
  if (v == 1 || v == 2) return 0;
  snprintf(msg, len, "expected 1 or 2 stages, found %d", v);
  return 1;
}

/* gauss also runs GMRES of dimension krylov_maxl, a row of cvode */
static int gauss_check(const dln_train_options *o) {
  return dln_dyn_validate_rows(o, dln_integrator_cvode.options);
}

/* clang-format off */
static const dln_option gauss_rows[] = {
  {"gauss_stages", DLN_OPT_INT, OFF(gauss_stages), "2", "gauss: stages s (1: implicit midpoint, order 2; 2: order 4)", NULL, DLN_OPTR_ANY, 0, 0, stages_check, NULL},
  {"gauss_h", DLN_OPT_DOUBLE, OFF(gauss_h), "0", "gauss: fixed step size without error control (0: adaptive with rtol, atol)", NULL, DLN_OPTR_NONNEG, 0, 0, NULL, NULL},
  DLN_OPTION_END};
/* clang-format on */

static const dln_integrator_type *const gauss_uses[] = {&dln_integrator_cvode, NULL}; /* krylov_maxl */

const dln_integrator_type dln_integrator_gauss = {
    .name = "gauss",
    .summary = "gradient flow by Gauss-Legendre collocation (conserves the C_j to round-off)",
    .flags = DLN_INTEG_NEEDS_HVP | DLN_INTEG_TIME,
    .options = gauss_rows,
    .options_size = 0,
    .check = gauss_check,
    .create = gauss_create,
    .uses = gauss_uses,
};
