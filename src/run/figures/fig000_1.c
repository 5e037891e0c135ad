/* 000-fig1: the phase plane of the scalar case (000 §III, Fig. 1; n = m = k = 1).
 *
 * Depth-2 factorization of the scalar Ȳ with P = W_2, Q = W_1ᵀ, so the gradient flow is
 * 000 eq. 12, Ṗ = (Ȳ − PQ)Q, Q̇ = (Ȳ − PQ)P, and the disturbed flow 000 eq. 9 adds (U, V).
 * Trajectories from a symmetric grid of starts, each once undisturbed and once under a
 * constant disturbance of size ‖U‖ + ‖V‖ = s pointing toward S^− (U = V = −sign(P0 + Q0)·s/2,
 * the worst direction of 000 §III for the half-plane the start is in), run by the
 * library's flow integrator. Verdicts: 000 Prop. 1 (starts on S^− = {P = −Q}, by Prop. 1's
 * definition, go to the saddle 0; the others to the branch of PQ = Ȳ on their side of
 * S^−, since P + Q keeps its sign: d(P + Q)/dt = (Ȳ − PQ)(P + Q)); 000 Thm 2 (R_α of
 * eq. 16 is forward-invariant when ‖U‖ + ‖V‖ ≤ |α|(Ȳ − α²/4)/√2, eq. 17) for two α. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dln/error.h"
#include "dln/io.h"
#include "dln/loss.h"
#include "dln/net.h"
#include "dln/train.h"
#include "run/figures/figure_internal.h"

#define YBAR 1.0     /* the target Ȳ (the paper's figure gives no value) */
#define HALF 2.0     /* starts on [−HALF, HALF]² */
#define TOL_END 1e-6 /* an end point is the saddle (|P| + |Q|) or on PQ = Ȳ (|PQ − Ȳ|) within this */
static const double alphas[2] = {0.5, 1.0};
/* The disturbance of the disturbed runs. Hook (issue 10): when `worst_case` is registered,
 * set DISTURBANCE to it and drop the per-start D of set_disturbance; the rest is unchanged. */
static char DISTURBANCE[] = "constant";

/* 000 eq. 17: the largest ‖U‖ + ‖V‖ for which R_α is forward-invariant. */
static double thm2_bound(double a) { return fabs(a) * (YBAR - a * a / 4) / sqrt(2.0); }

typedef struct fig_setup {
  int n;          /* n x n grid of starts */
  int nsamples;   /* log-spaced samples per trajectory */
  double t_end, s; /* s: ‖U‖ + ‖V‖ of the disturbed runs */
  double s_big;    /* a third set, above the bound (for contrast: Thm 2's hypothesis fails) */
} fig_setup;

/* x_i = (2i − (n−1))·HALF/(n−1): symmetric, so x_{n−1−i} = −x_i exactly and S^− is hit. */
static double grid_x(const fig_setup *g, int i) { return (double)(2 * i - (g->n - 1)) * HALF / (g->n - 1); }

typedef struct pq_ctx {
  const dln_net *net;
} pq_ctx;

/* Sampler: t, P = W_2, Q = W_1ᵀ (scalars). */
static int pq_eval(void *ctx, double t, long step, const double *theta, double *row) {
  (void)step;
  const pq_ctx *c = ctx;
  row[0] = t;
  row[1] = *dln_net_layer_const(c->net, theta, 2);
  row[2] = *dln_net_layer_const(c->net, theta, 1);
  return 0;
}

/* 0: saddle, +1 / −1: the branch of PQ = Ȳ with P > 0 / P < 0, 2: neither. */
static int end_class(double P, double Q) {
  if (fabs(P) + fabs(Q) <= TOL_END) return 0;
  if (fabs(P * Q - YBAR) <= TOL_END) return P > 0 ? 1 : -1;
  return 2;
}

/* The disturbance in θ's layout (D_1 = Vᵀ, D_2 = U) for a start; s = 0: undisturbed. */
static void set_disturbance(dln_train_options *to, double *D, double P0, double Q0, double s) {
  double dir = P0 + Q0 < 0 ? 1.0 : -1.0; /* toward S^− (P + Q = 0); on S^− itself: −1 */
  D[0] = D[1] = dir * s / 2;
  to->disturbance = s > 0 ? DISTURBANCE : NULL;
  to->disturbance_scale = 1;
  to->disturbance_D = s > 0 ? D : NULL;
}

typedef struct fig_counts {
  int n_sm, sm_ok, n_off, off_ok; /* Prop. 1: starts on S^− / off it, and those that ended as claimed */
  int n_in[2], stay[2];           /* Thm 2 per α: disturbed starts in R_α, and those that stayed */
  double margin[2];               /* min over those of min_t |P + Q| − α */
  int n_big[2], left_big[2];      /* the same above the bound: starts in R_α, and those that left */
  double sm_worst, off_worst;     /* largest |P| + |Q| (S^−) and |PQ − Ȳ| (off) at the end */
  int not_time;                   /* runs that stopped before t_end (solver, divergence) */
} fig_counts;

/* Tally one run (its start, end and min_t |P + Q|) into k. */
static void tally(fig_counts *k, int disturbed, double P0, double Q0, const double *end, double min_sum) {
  for (int a = 0; disturbed == 2 && a < 2; ++a)
    if (fabs(P0 + Q0) >= alphas[a]) k->n_big[a]++, k->left_big[a] += min_sum < alphas[a] - 1e-9;
  if (disturbed == 2) return;
  int cls = end_class(end[0], end[1]);
  if (!disturbed && P0 + Q0 == 0) {
    k->n_sm++, k->sm_ok += cls == 0;
    k->sm_worst = fmax(k->sm_worst, fabs(end[0]) + fabs(end[1]));
  } else if (!disturbed) {
    k->n_off++, k->off_ok += cls == (P0 + Q0 > 0 ? 1 : -1);
    k->off_worst = fmax(k->off_worst, fabs(end[0] * end[1] - YBAR));
  }
  for (int a = 0; disturbed && a < 2; ++a) {
    if (fabs(P0 + Q0) < alphas[a]) continue;
    k->n_in[a]++, k->stay[a] += min_sum >= alphas[a] - 1e-9; /* sampled; 1e-9: the flow's accuracy */
    k->margin[a] = fmin(k->margin[a], min_sum - alphas[a]);
  }
}

/* Run every start of the grid, undisturbed then disturbed; rows into all and ends. */
static int run_grid(dln_figure_ctx *c, const fig_setup *g, dln_net *net, dln_loss *loss, dln_table *one, dln_table *all, dln_table *ends,
                    fig_counts *k) {
  dln_train_options to;
  dln_train_default_options(&to);
  to.method = &dln_integrator_flow;
  to.t_end = g->t_end, to.nsamples = g->nsamples, to.log_spacing = 1, to.t_first = 1e-3;
  to.rtol = 1e-10, to.atol = 1e-12;
  dln_fig_train_cancel(c, &to);
  pq_ctx pc = {net};
  dln_sampler sm = {3, pq_eval, &pc};
  double theta[2], D[2];
  int run = 0;
  for (int d = 0; d < 3; ++d)
    for (int i = 0; i < g->n; ++i)
      for (int j = 0; j < g->n; ++j, ++run) {
        double P0 = grid_x(g, i), Q0 = grid_x(g, j), min_sum = INFINITY;
        *dln_net_layer(net, theta, 1) = Q0, *dln_net_layer(net, theta, 2) = P0;
        set_disturbance(&to, D, P0, Q0, d == 2 ? g->s_big : d ? g->s : 0);
        one->nrows = 0;
        dln_train_result r;
        int st = dln_train_sampled(net, loss, theta, &to, &sm, one, &r);
        if (st) return st;
        if (r.stop_reason == DLN_STOP_CANCELLED) return DLN_OK; /* dln_figure_run commits nothing */
        k->not_time += r.stop_reason != DLN_STOP_TIME;
        for (size_t m = 0; m < one->nrows && !st; ++m) {
          const double *x = dln_table_row(one, m);
          min_sum = fmin(min_sum, fabs(x[1] + x[2]));
          st = dln_table_append(all, (double[]){run, d, x[0], x[1], x[2]});
        }
        const double *e = dln_table_row(one, one->nrows - 1);
        if (st || !e) return st ? st : DLN_EINVAL;
        tally(k, d, P0, Q0, e + 1, min_sum);
        st = dln_table_append(ends, (double[]){run, d, P0, Q0, e[1], e[2], min_sum, end_class(e[1], e[2])});
        if (st) return st;
      }
  return DLN_OK;
}

/* params.json: what plot.py draws besides the data (Ȳ, α, the bounds, the disturbance). */
static json_t *params_json(const fig_setup *g) {
  unsigned long mark = dln_json_mark();
  json_t *root = json_object(), *al = json_array(), *bd = json_array();
  for (int a = 0; a < 2; ++a) {
    dln_jappend(al, json_real(alphas[a]));
    dln_jappend(bd, json_real(thm2_bound(alphas[a])));
  }
  dln_jset(root, "figure", json_string("000-fig1"));
  dln_jset(root, "Ybar", json_real(YBAR));
  dln_jset(root, "alphas", al);
  dln_jset(root, "thm2_bounds", bd);
  dln_jset(root, "disturbance", json_string(DISTURBANCE));
  dln_jset(root, "disturbance_size", json_real(g->s));
  dln_jset(root, "disturbance_size_above_bound", json_real(g->s_big));
  dln_jset(root, "disturbance_direction", json_string("U = V = -sign(P0 + Q0) s / 2 (toward S^-)"));
  dln_jset(root, "grid", json_integer(g->n));
  dln_jset(root, "grid_half_width", json_real(HALF));
  dln_jset(root, "t_end", json_real(g->t_end));
  dln_jset(root, "samples", json_integer(g->nsamples));
  dln_jset(root, "method", json_string("flow (ARKODE ERK, rtol 1e-10, atol 1e-12)"));
  dln_jset(root, "end_tolerance", json_real(TOL_END));
  return dln_json_done(root, mark);
}

static int fig_report(dln_figure_ctx *c, const fig_setup *g, const fig_counts *k) {
  int st = dln_figure_printf(
      c,
      "## Setting\n\nScalar case n = m = k = 1 of 000 §III: P = W_2, Q = W_1^T, target Ybar = %g. Starts: the %d x %d "
      "grid on [-%g, %g]^2 (symmetric, so %d starts lie on S^-; the paper's figure shows a few trajectories without "
      "coordinates, so the grid is dln's choice). Gradient flow (ARKODE ERK, rtol 1e-10, atol 1e-12) to t = %g, %d "
      "log-spaced samples. Disturbed runs: `%s` disturbance U = V = -sign(P0 + Q0) s/2 (|U| + |V| = s = %.6g, "
      "toward S^-, the worst direction of 000 sec. III; disturbed = 1 in the data); for contrast, the same "
      "with s = %.6g, above the bound (disturbed = 2, not plotted). Data: trajectories.csv (run, disturbed, t, P, Q), "
      "endpoints.csv (class 0 saddle, +1 / -1 branch of PQ = Ybar with P > 0 / P < 0, 2 neither; min_abs_sum = "
      "min over the samples of |P + Q|), params.json.\n\n## Claims and verdicts\n\n",
      YBAR, g->n, g->n, HALF, HALF, g->n, g->t_end, g->nsamples, DISTURBANCE, g->s, g->s_big);
  if (st) return st;
  int p1 = k->sm_ok == k->n_sm && k->off_ok == k->n_off;
  st = dln_figure_verdict(c, "000 Prop. 1", p1 ? DLN_VERDICT_HOLDS : DLN_VERDICT_FAILS,
                          "Claim: starts on S^- (P = -Q) converge to the saddle 0, every other start to the target "
                          "set (here: the branch of PQ = Ybar on its side of S^-). Measured: %d/%d starts on S^- "
                          "ended at the saddle (largest |P| + |Q| = %.3g), %d/%d other starts ended on their "
                          "branch (largest |PQ - Ybar| = %.3g); tolerance %g at t = %g.",
                          k->sm_ok, k->n_sm, k->sm_worst, k->off_ok, k->n_off, k->off_worst, TOL_END, g->t_end);
  for (int a = 0; a < 2 && !st; ++a) {
    double b = thm2_bound(alphas[a]);
    int ok = k->stay[a] == k->n_in[a] && g->s <= b;
    char claim[64];
    snprintf(claim, sizeof claim, "000 Thm 2, alpha = %g", alphas[a]);
    st = dln_figure_verdict(c, claim, g->s > b ? DLN_VERDICT_NOT_CHECKED : ok ? DLN_VERDICT_HOLDS : DLN_VERDICT_FAILS,
                            "Claim: R_alpha = {|P + Q|^2 >= alpha^2} is forward-invariant when |U| + |V| <= "
                            "|alpha| (Ybar - alpha^2/4)/sqrt(2) = %.6g (eq. 17). Measured: disturbance %.6g; %d/%d "
                            "disturbed starts in R_alpha stayed in it at every sample (least min_t |P + Q| - alpha "
                            "= %.3g).",
                            b, g->s, k->stay[a], k->n_in[a], k->margin[a]);
  }
  for (int a = 0; a < 2 && !st; ++a) {
    char claim[64];
    snprintf(claim, sizeof claim, "000 Thm 2 above its bound, alpha = %g", alphas[a]);
    st = dln_figure_verdict(c, claim, DLN_VERDICT_NOT_CHECKED,
                            "Hypothesis fails: disturbance %.6g > %.6g (eq. 17). Measured for contrast (not a "
                            "violation): %d/%d disturbed starts in R_alpha left it (disturbed = 2 in the data).",
                            g->s_big, thm2_bound(alphas[a]), k->left_big[a], k->n_big[a]);
  }
  if (!st && k->not_time)
    st = dln_figure_printf(c, "\nNote: %d runs stopped before t_end (solver or divergence).\n", k->not_time);
  return st;
}

static int fig000_1_run(dln_figure_ctx *c) {
  fig_setup g = {c->quick ? 5 : 13, c->quick ? 61 : 121, 20, 0.9 * fmin(thm2_bound(alphas[0]), thm2_bound(alphas[1])),
                 3 * thm2_bound(alphas[1])};
  static const char *const all_cols[] = {"run", "disturbed", "t", "P", "Q"};
  static const char *const end_cols[] = {"run", "disturbed", "P0", "Q0", "P_end", "Q_end", "min_abs_sum", "class"};
  static const char *const one_cols[] = {"t", "P", "Q"};
  size_t nruns = 3 * (size_t)g.n * (size_t)g.n;
  dln_net *net = NULL;
  dln_loss *loss = NULL;
  dln_table *one = NULL, *all = NULL, *ends = NULL;
  dln_mat *Y = dln_mat_alloc(1, 1);
  json_t *params = NULL;
  fig_counts k = {0};
  k.margin[0] = k.margin[1] = INFINITY;
  int st = Y ? DLN_OK : dln_error(DLN_ENOMEM, "out of memory");
  if (!st) Y->data[0] = YBAR;
  if (!st) st = dln_net_alloc(&net, 2, (int[]){1, 1, 1}, 0);
  if (!st) st = dln_loss_factorization_alloc(&loss, Y);
  if (!st) st = dln_table_alloc(&one, 3, one_cols, (size_t)g.nsamples + 1);
  if (!st) st = dln_table_alloc(&all, 5, all_cols, nruns * ((size_t)g.nsamples + 1));
  if (!st) st = dln_table_alloc(&ends, 8, end_cols, nruns);
  if (!st) st = run_grid(c, &g, net, loss, one, all, ends, &k);
  if (!st) st = dln_figure_write_table(c, "trajectories.csv", all);
  if (!st) st = dln_figure_write_table(c, "endpoints.csv", ends);
  if (!st) st = dln_figure_write_json(c, "params.json", params = params_json(&g));
  if (!st) st = fig_report(c, &g, &k);
  json_decref(params);
  dln_table_free(one), dln_table_free(all), dln_table_free(ends);
  dln_loss_free(loss), dln_net_free(net), dln_mat_free(Y);
  return st;
}

const dln_figure_type dln_figure_000_fig1 = {
    "000-fig1", "phase plane of the scalar case with S^-, S^+, PQ = Ybar and R_alpha, undisturbed and disturbed",
    "000 Fig. 1, Prop. 1, Thm 2 (de Oliveira, Siami, Sontag)", dln_figure_py_fig000_1, fig000_1_run};
