/* 002-prop5: 002 Prop. 5 and Lemma 2 (Cohen, Razin). 2x2 completion with A1 = e1e2^T,
 * A2 = e2e1^T, A3 = e2e2^T, b = (1, 1, 0) (002 eq. 15: ℓ = [(w12 − 1)² + (w21 − 1)² + w22²]/6,
 * every minimizer has det W = −1). Networks of depth 2 and 3, width 2, init N(0, 0.1²)
 * redrawn until det W(0) has the wanted sign (--det_sign), balanced or not, trained by
 * gradient flow and by gradient descent. Verdicts: (i) Prop. 5's bound from its proof
 * (eq. 16 with det W > 0: |w11| ≥ (1 − √(6ℓ))² / √(6ℓ) while ℓ < 1/6) at every sample
 * with det W > 0; (ii) Lemma 2: under the flow from a balanced start the sign of det W
 * never changes while it is resolvable in double precision (σ_min/σ_max > 1e-13). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dln/error.h"
#include "dln/io.h"
#include "dln/manifest.h"
#include "dln/run.h"
#include "run/figures/fig002_common.h"

enum { NRUN = 16, NCOL = 13 };
#define P5_RESOLVE 1e-13 /* σ_min/σ_max below this: det's sign is round-off */

typedef struct {
  int depth, balanced, gd, sign;
} p5_case;

static p5_case case_at(int i) {
  p5_case k = {2 + (i >> 3 & 1), !(i >> 2 & 1), i >> 1 & 1, (i & 1) ? -1 : 1};
  return k;
}

static void case_name(p5_case k, char *buf, size_t n) {
  snprintf(buf, n, "depth%d_%s_%s_det%s", k.depth, k.balanced ? "balanced" : "unbalanced", k.gd ? "gd" : "flow",
           k.sign > 0 ? "pos" : "neg");
}

/* The measurements of 002 eq. 15 as completion entries (0-based row, col, value). */
static int write_entries(dln_figure_ctx *c) {
  static const char *const cols[] = {"row", "col", "value"};
  static const double e[3][3] = {{0, 1, 1}, {1, 0, 1}, {1, 1, 0}};
  dln_table *t = NULL;
  int st = dln_table_alloc(&t, 3, cols, 3);
  for (int i = 0; i < 3 && !st; ++i) st = dln_table_append(t, e[i]);
  if (!st) st = dln_figure_write_table(c, "entries.csv", t);
  dln_table_free(t);
  return st;
}

/* One run into dir/runs/<name> (fig002_common.c). */
static int run_case(dln_figure_ctx *c, p5_case k, const char *name) {
  char sub[128], dep[8], sg[8], *ent = dln_path_join(c->dir, "entries.csv");
  snprintf(sub, sizeof sub, "runs/%s", name);
  snprintf(dep, sizeof dep, "%d", k.depth);
  snprintf(sg, sizeof sg, "%d", k.sign);
  const char *kv[16][2] = {
      {"task", "completion"}, {"rows", "2"}, {"cols", "2"}, {"width", "2"}, {"depth", dep}, {"det_sign", sg},
      {"sigma", "0.1"}, {"init", k.balanced ? "balanced" : "gaussian"}, {"method", k.gd ? "gd" : "flow"},
      {"t_end", c->quick ? "1e3" : "1e4"}, {"log_samples", "true"}, {"samples", c->quick ? "41" : "121"},
      {"observe", "loss,sv,bias,entry:1,1"}, {"entries_file", ent ? ent : ""},
      /* GD's step, or the flow's tolerances (tight: det W reaches 1e-15 for depth 2) */
      {k.gd ? "eta" : "rtol", k.gd ? "0.05" : "1e-12"}, {"atol", "1e-20"}};
  dln_run_result rr;
  int st = ent ? fig002_run(c, sub, (const char *const(*)[2])kv, k.gd ? 15 : 16, &rr)
               : dln_error(DLN_ENOMEM, "out of memory");
  free(ent);
  return st;
}

/* One row of runs.csv from a trajectory (columns: see fig002_p5_run). */
static int measure(const char *dir, p5_case k, const char *name, double *row) {
  static const char *const want[] = {"t", "loss", "sv_1", "sv_2", "det_sign", "W_1_1"};
  int col[6] = {0};
  dln_mat *m = NULL;
  char sub[128];
  snprintf(sub, sizeof sub, "runs/%s", name);
  int st = dln_fig_read_traj(dir, sub, want, 6, col, &m);
  if (st) return st;
  double *t = m->data + (size_t)col[0] * m->rows, *l = m->data + (size_t)col[1] * m->rows,
         *s1 = m->data + (size_t)col[2] * m->rows, *s2 = m->data + (size_t)col[3] * m->rows,
         *ds = m->data + (size_t)col[4] * m->rows, *w11 = m->data + (size_t)col[5] * m->rows;
  int flips = 0, viol = 0, unresolved = 0;
  double t_flip = NAN, minl_pos = INFINITY, w_at = NAN, prod = INFINITY;
  for (int i = 0; i < m->rows; ++i) {
    if (i > 0 && ds[i] != ds[i - 1]) {
      if (!flips) t_flip = t[i];
      ++flips;
      /* the previous resolvable sample decides whether round-off could flip the sign */
      unresolved += s2[i - 1] / s1[i - 1] < P5_RESOLVE || s2[i] / s1[i] < P5_RESOLVE;
    }
    if (ds[i] > 0 && l[i] < 1.0 / 6) { /* 002 Prop. 5 proof, eq. 16 with det W > 0 */
      double r = sqrt(6 * l[i]);
      viol += fabs(w11[i]) < (1 - r) * (1 - r) / r * (1 - 1e-9);
      if (l[i] < minl_pos) minl_pos = l[i], w_at = fabs(w11[i]);
      prod = fmin(prod, fabs(w11[i]) * r);
    }
  }
  double v[NCOL] = {k.depth, k.balanced, k.gd, k.sign, flips, unresolved, t_flip, viol,
                    isfinite(minl_pos) ? minl_pos : NAN, w_at, isfinite(prod) ? prod : NAN,
                    l[m->rows - 1], s1[m->rows - 1] + s2[m->rows - 1]};
  memcpy(row, v, sizeof v);
  dln_mat_free(m);
  return DLN_OK;
}

/* Verdicts from runs.csv's rows r[NRUN][NCOL]. */
static int verdicts(dln_figure_ctx *c, double (*r)[NCOL]) {
  int viol = 0, flips_bf = 0, unres_bf = 0, flipped_bf = 0, resolv_other = 0, other = 0;
  for (int i = 0; i < NRUN; ++i) {
    viol += (int)r[i][7];
    if (r[i][1] == 1 && r[i][2] == 0) flips_bf += (int)r[i][4], unres_bf += (int)r[i][5], flipped_bf += r[i][4] > 0;
    else other += 1, resolv_other += r[i][4] > r[i][5];
  }
  const double *d3 = r[8], *d2 = r[0]; /* balanced flow, det W(0) > 0, depth 3 and 2 */
  int st = dln_figure_verdict(
      c, "002 Prop. 5 (norm diverges as the loss goes to 0 when det W > 0)", viol ? DLN_VERDICT_FAILS : DLN_VERDICT_HOLDS,
      "Claim: with det W > 0, ||W|| >= c (l - l*)^(-1/2) + c'; the proof's bound |w11| >= (1 - sqrt(6l))^2 / "
      "sqrt(6l) (eq. 16). Measured: %d violations over every sample with det W > 0 and l < 1/6 in all %d runs. "
      "Depth 3, balanced flow: loss %.3g with |w11| = %.4g at t_end (min over samples of |w11| sqrt(6l) = %.3g); "
      "depth 2: lowest loss %.3g with det W > 0, |w11| = %.4g there.",
      viol, NRUN, d3[8], d3[9], d3[10], d2[8], d2[9]);
  if (!st)
    st = dln_figure_verdict(
        c, "002 Lemma 2 (sign of det W constant under the flow from a balanced start)",
        flips_bf == unres_bf ? DLN_VERDICT_HOLDS : DLN_VERDICT_FAILS,
        "Measured: %d of 4 balanced flow runs changed sign (%d sign changes), %d of them where sigma_min/sigma_max < "
        "%.0e at the samples around the change, i.e. det W below double precision's resolution (002 Lemma 2's "
        "sigma_r(t) = sigma_r(0) exp(...) decays like exp(-ct) for depth 2; first change at t = %.4g, depth 2, det "
        "W(0) > 0).",
        flipped_bf, flips_bf, unres_bf, P5_RESOLVE, d2[6]);
  if (!st)
    st = dln_figure_verdict(c, "Lemma 2 outside its hypotheses (unbalanced start or gradient descent)",
                            DLN_VERDICT_NOT_CHECKED,
                            "For contrast: %d of %d such runs changed the sign of det W at a resolvable sample "
                            "(sigma_min/sigma_max >= %.0e); see runs.csv.",
                            resolv_other, other, P5_RESOLVE);
  return st;
}

static int fig002_p5_run(dln_figure_ctx *c) {
  static const char *const cols[NCOL] = {"depth",    "balanced",       "gd",         "det_sign0", "sign_changes",
                                         "unresolved_changes", "t_first_change", "bound_violations", "min_loss_det_pos",
                                         "abs_w11_there", "min_abs_w11_sqrt6l", "loss_final", "nuclear_final"};
  double r[NRUN][NCOL];
  dln_table *t = NULL;
  int st = write_entries(c);
  for (int i = 0; i < NRUN && !st; ++i) {
    char name[96];
    case_name(case_at(i), name, sizeof name);
    st = run_case(c, case_at(i), name);
    if (!st) st = measure(c->dir, case_at(i), name, r[i]);
  }
  if (!st) st = dln_table_alloc(&t, NCOL, cols, NRUN);
  for (int i = 0; i < NRUN && !st; ++i) st = dln_table_append(t, r[i]);
  if (!st) st = dln_figure_write_table(c, "runs.csv", t);
  if (!st)
    st = dln_figure_printf(
        c, "## Setting\n\n002 Prop. 5's example: 2x2 completion, A1 = e1e2^T, A2 = e2e1^T, A3 = e2e2^T, b = (1, 1, "
           "0) (entries.csv; 002 eq. 15). Networks of depth 2 and 3, width 2; init N(0, 0.1^2) per entry, `balanced` "
           "or plain `gaussian` (unbalanced), redrawn until det W(0) has the sign wanted (--det_sign = +1, -1). Gradient "
           "flow (ARKODE, rtol 1e-12, atol 1e-20) and gradient descent (eta = 0.05), t = %s, log-spaced samples. Data: "
           "runs/<case>/trajectory.csv, runs.csv (one row per run: sign changes of det W, how many at unresolvable "
           "sigma_min/sigma_max, violations of the bound below, lowest loss with det W > 0 and |w11| there). `--quick`: "
           "t = 1e3 and 41 samples instead of 1e4 and 121.\n\n## Claims and verdicts\n\n",
        c->quick ? "1e3" : "1e4");
  if (!st) st = verdicts(c, r);
  dln_table_free(t);
  return st;
}

const dln_figure_type dln_figure_002_prop5 = {
    "002-prop5", "norm divergence as the loss goes to 0, and the sign of det W (flow / GD, balanced or not)",
    "002 Prop. 5, Lemma 2 (Cohen, Razin)", dln_figure_py_fig002_p5, fig002_p5_run};
