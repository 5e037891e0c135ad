/* 001-fig3: 001 Fig. 3 (Tarmoun et al., §6, "Extension to nonlinear networks"): the sigmoid
 * output ℓ(W) = ½‖Y − s(W X)‖² (--task=sigmoid; d = 10, n = 1000, Y = s(W* X) + 1e−3 E),
 * one layer vs two layers of width 100 under GD (η = 1e−3) from one W(0): the one-layer
 * run starts at the product of the two-layer draw, one two-layer run at its balanced
 * factorization (‖Q0‖₂ = 0), one at the draw itself (‖Q0‖₂ = 4.6; σ chosen for that in
 * this draw: a single run draws the data first, then the init, so its draw is not the one of examples/sigmoid_fig3.json, whose sweep reads the data from files). Verdict: imbalance speeds the
 * two-layer model up, as in the linear case (Fig. 1). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dln/error.h"
#include "dln/io.h"
#include "dln/manifest.h"
#include "dln/run.h"
#include "run/figures/figure_internal.h"

enum { NRUN = 3, NLEV = 5 };
static const char *const subs[NRUN] = {"one_layer", "two_layer_q0_0", "two_layer_q0_4.6"};

/* Run r (0 one layer, 1 balanced two layers, 2 the draw) into dir/subs[r]. */
static int run_one(dln_figure_ctx *c, int r) {
  const char *const kv[][2] = {{"task", "sigmoid"}, {"rows", "10"}, {"cols", "10"}, {"n_samples", "1000"},
                               {"noise", "1e-3"}, {"target", "gaussian"}, {"target_sigma", "1"},
                               {"init", "gaussian"}, {"sigma", "0.156"}, {"seed", "1"}, {"stream", "0"},
                               {"method", "gd"}, {"eta", "1e-3"}, {"t_end", "2"}, {"samples", "201"},
                               {"quiet", "true"}, {"plot", "false"}, {"force", "true"}};
  dln_spec s;
  int st = dln_spec_default(&s);
  for (size_t i = 0; i < sizeof kv / sizeof *kv && !st; ++i) st = dln_spec_set(&s, kv[i][0], kv[i][1]);
  if (!st) st = r ? dln_spec_set(&s, "widths", "10,100,10") : dln_spec_set(&s, "depth", "1");
  if (!st && r < 2) st = dln_spec_set(&s, "init_product_widths", "10,100,10");
  char *out = dln_path_join(c->dir, subs[r]);
  if (!st) st = out ? dln_spec_set(&s, "out", out) : dln_error(DLN_ENOMEM, "out of memory");
  dln_run_options opt;
  dln_fig_run_options(c, &opt);
  dln_run_result rr;
  if (!st) st = dln_run_noplot(&s, &opt, &rr);
  free(out);
  dln_spec_free(&s);
  return st ? st : dln_fig_add_files(c, subs[r]);
}

/* dir/sub/trajectory.csv: *m (t first), the loss column *lc, and the largest |eigC_i| at
 * t = 0 into *q0 (‖Q0‖₂: C_1 is symmetric; 0 when the run has no such column). */
static int read_run(const char *dir, const char *sub, dln_mat **m, int *lc, double *q0) {
  char path[1024], head[16384];
  snprintf(path, sizeof path, "%s/%s/trajectory.csv", dir, sub);
  FILE *fp = fopen(path, "r");
  if (!fp || !fgets(head, sizeof head, fp)) {
    if (fp) fclose(fp);
    return dln_error(DLN_EIO, "%s: cannot read the header", path);
  }
  fclose(fp);
  int st = dln_csv_read(path, m), k = 0;
  *lc = -1, *q0 = 0;
  for (char *tok = strtok(head, ",\n"); tok && !st; tok = strtok(NULL, ",\n"), ++k) {
    if (strcmp(tok, "loss") == 0) *lc = k;
    if (strncmp(tok, "eigC_", 5) == 0) *q0 = fmax(*q0, fabs((*m)->data[(size_t)k * (*m)->rows]));
  }
  if (!st && *lc < 0) st = dln_error(DLN_EFORMAT, "%s: expected a column loss, found none", path);
  return st;
}

/* a strictly before b (b never reaching the level counts as a before b). */
static int before(double a, double b) { return isfinite(a) && !(b <= a); }

/* levels.csv (level, t of each run) and the counts of the two verdicts. */
static int levels(dln_figure_ctx *c, double *q0, int *vs_bal, int *vs_one, double *fin) {
  static const char *const cols[] = {"level", "t_one_layer", "t_two_layer_q0_0", "t_two_layer_q0_4.6"};
  dln_mat *m[NRUN] = {NULL, NULL, NULL};
  int lc[NRUN], st = DLN_OK;
  for (int r = 0; r < NRUN && !st; ++r) st = read_run(c->dir, subs[r], &m[r], &lc[r], &q0[r]);
  dln_table *t = NULL;
  if (!st) st = dln_table_alloc(&t, 4, cols, NLEV);
  *vs_bal = *vs_one = 0;
  for (int l = 0; l < NLEV && !st; ++l) {
    double lev = pow(10, 2 - l), tt[NRUN];
    for (int r = 0; r < NRUN; ++r) tt[r] = dln_fig_first_below(m[r], lc[r], lev);
    *vs_bal += before(tt[2], tt[1]), *vs_one += before(tt[2], tt[0]);
    st = dln_table_append(t, (double[]){lev, tt[0], tt[1], tt[2]});
  }
  for (int r = 0; r < NRUN && !st; ++r) fin[r] = m[r]->data[m[r]->rows - 1 + (size_t)lc[r] * m[r]->rows];
  if (!st) st = dln_figure_write_table(c, "levels.csv", t);
  dln_table_free(t);
  for (int r = 0; r < NRUN; ++r) dln_mat_free(m[r]);
  return st;
}

static int fig001_3_run(dln_figure_ctx *c) {
  int st = DLN_OK, vb = 0, vo = 0;
  double q0[NRUN], fin[NRUN];
  for (int r = 0; r < NRUN && !st; ++r) st = run_one(c, r);
  if (!st) st = levels(c, q0, &vb, &vo, fin);
  if (!st)
    st = dln_figure_printf(
        c,
        "## Setting\n\n001 sec. 6: l(W) = 1/2 ||Y - s(W X)||^2 (--task=sigmoid), d = 10, n = 1000, W*, X ~ N(0, 1), "
        "Y = s(W* X) + 1e-3 N(0, 1); gradient descent, eta = 1e-3, to t = 2 (201 samples). One W(0) for all "
        "runs: one_layer/ starts at the product W2 W1 of the two-layer draw (widths 10, 100, 10; N(0, sigma^2), "
        "sigma = 0.156), two_layer_q0_0/ at its balanced factorization, two_layer_q0_4.6/ at the draw. The "
        "paper's N(0, 1e-1) does not give its ||Q0||_2 = 4.6 at these sizes (docs/conventions.md); sigma = "
        "0.156 does for this draw (a single run draws the data, then the init, from one stream, so the "
        "draw differs from the sweep examples/sigmoid_fig3.json, whose sigma 0.1775 is tuned for its own). Measured ||Q0||_2 (largest |eigenvalue| of C_1(0)): %.3g (balanced), %.4g (draw). "
        "`--quick` changes nothing (the three runs take about a second). levels.csv: first sample time "
        "each run's loss reaches 1e2, 1e1, 1, 1e-1, 1e-2 (NaN: not by t = 2). Final losses: %.4g (one "
        "layer), %.4g (||Q0|| = 0), %.4g (||Q0|| = 4.6).\n\n## Claims and verdicts\n\n",
        q0[1], q0[2], fin[0], fin[1], fin[2]);
  if (!st)
    st = dln_figure_verdict(c, "001 Fig. 3 (imbalance speeds up the two-layer sigmoid model)",
                            vb == NLEV ? DLN_VERDICT_HOLDS : DLN_VERDICT_FAILS,
                            "Claim: the conclusions on imbalance carry over to the sigmoid output: from the same "
                            "W(0), the imbalanced start (||Q0||_2 = %.3g) converges faster than the balanced one. "
                            "Measured: it reached the loss level strictly first in %d of %d levels.",
                            q0[2], vb, NLEV);
  if (!st)
    st = dln_figure_verdict(c, "001 Fig. 3 (imbalanced two layers vs one layer)",
                            vo == NLEV ? DLN_VERDICT_HOLDS : DLN_VERDICT_FAILS,
                            "Claim: with ||Q0||_2 = 4.6 the two-layer model converges faster than the one-layer "
                            "model (as Fig. 1c for the linear model). Measured: it reached the loss level strictly "
                            "first in %d of %d levels.",
                            vo, NLEV);
  return st;
}

const dln_figure_type dln_figure_001_fig3 = {
    "001-fig3", "sigmoid output: one vs two layers, ||Q0|| = 0 and 4.6, gradient descent",
    "001 Fig. 3 (Tarmoun, Franca, Haeffele, Vidal)", dln_figure_py_fig001_3, fig001_3_run};
