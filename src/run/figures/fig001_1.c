/* 001-fig1: 001 Fig. 1 (Tarmoun et al., §6) with gradient descent, η = 1e−3, as the paper
 * runs it: the default job of src/run/fig1.c (Ȳ 5×10 ~ N(0, 1), one-layer vs two-layer of
 * width 50, Gaussian σ ∈ {1e−2, 1e−1, 1}) into DIR/runs, then two verdicts from its
 * trajectories: the two-layer model reaches each reconstruction-error level first, and at
 * σ = 1e−2 its singular values are learned one after another (t_i at which sv_i reaches
 * half its final value increase strictly with i). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dln/error.h"
#include "dln/io.h"
#include "dln/manifest.h"
#include "dln/run.h"
#include "run/figures/figure_internal.h"

static const char *const sig_txt[3] = {"1e-2", "1e-1", "1"};
enum { NLEV = 6, NSV = 5 };

/* The job into dir/runs; its files listed as runs/... in the figure's manifest. */
static int run_job(dln_figure_ctx *c) {
  dln_spec s;
  int st = dln_spec_default(&s);
  char *out = dln_path_join(c->dir, "runs");
  const char *const kv[][2] = {{"method", "gd"}, {"eta", "1e-3"}, {"quiet", "true"}, {"plot", "false"}};
  if (!st && !out) st = dln_error(DLN_ENOMEM, "out of memory");
  if (!st) st = dln_run_fig1_defaults(&s);
  for (size_t i = 0; i < sizeof kv / sizeof *kv && !st; ++i) st = dln_spec_set(&s, kv[i][0], kv[i][1]);
  if (!st) st = dln_spec_set(&s, "out", out);
  if (!st) st = dln_spec_set(&s, "force", "true");
  dln_run_options opt;
  dln_fig_run_options(c, &opt);
  dln_run_result rr;
  if (!st) st = dln_run_fig1(&s, &opt, NULL, &rr);
  if (!st) st = dln_fig_add_files(c, "runs");
  free(out);
  dln_spec_free(&s);
  return st;
}

/* Column name of dir/runs/<sub>/trajectory.csv: its index into *col, the table into *traj. */
static int read_col(const char *dir, const char *sub, const char *name, dln_mat **traj, int *col) {
  char rs[256];
  snprintf(rs, sizeof rs, "runs/%s", sub);
  return dln_fig_read_traj(dir, rs, &name, 1, col, traj);
}

/* Verdict 1: per σ and level 10^-1..10^-6, the first sample time of each model. */
static int levels(dln_figure_ctx *c, dln_table *lv, int *first, int *pairs) {
  int st = DLN_OK;
  *first = *pairs = 0;
  for (int si = 0; si < 3 && !st; ++si) {
    dln_mat *m[2] = {NULL, NULL};
    int col[2];
    for (int two = 0; two < 2 && !st; ++two) {
      char sub[64];
      snprintf(sub, sizeof sub, "sigma%s_%s", sig_txt[si], two ? "two_layer" : "one_layer");
      st = read_col(c->dir, sub, "recon_err", &m[two], &col[two]);
    }
    for (int l = 1; l <= NLEV && !st; ++l) {
      double lev = pow(10, -l), t1 = dln_fig_first_below(m[0], col[0], lev), t2 = dln_fig_first_below(m[1], col[1], lev);
      ++*pairs;
      *first += isfinite(t2) && !(t1 <= t2);
      st = dln_table_append(lv, (double[]){atof(sig_txt[si]), lev, t1, t2});
    }
    dln_mat_free(m[0]), dln_mat_free(m[1]);
  }
  return st;
}

/* Verdict 2: t_i at which sv_i of the σ = 1e-2 two-layer run first reaches half its final value. */
static int sv_times(dln_figure_ctx *c, double *t) {
  dln_mat *m = NULL;
  int st = DLN_OK;
  for (int i = 0; i < NSV && !st; ++i) {
    char name[16];
    int col;
    snprintf(name, sizeof name, "sv_%d", i + 1);
    st = read_col(c->dir, "sigma1e-2_two_layer", name, &m, &col);
    if (st) break;
    double fin = m->data[m->rows - 1 + (size_t)col * m->rows];
    t[i] = NAN;
    for (int r = 0; r < m->rows && isnan(t[i]); ++r)
      if (m->data[r + (size_t)col * m->rows] >= fin / 2) t[i] = m->data[r];
  }
  dln_mat_free(m);
  return st;
}

static int fig001_1_run(dln_figure_ctx *c) {
  static const char *const lv_cols[] = {"sigma", "level", "t_one_layer", "t_two_layer"};
  dln_table *lv = NULL;
  int first = 0, pairs = 0, seq = 1, st = run_job(c);
  double t[NSV];
  if (!st) st = dln_table_alloc(&lv, 4, lv_cols, 3 * NLEV);
  if (!st) st = levels(c, lv, &first, &pairs);
  if (!st) st = dln_figure_write_table(c, "levels.csv", lv);
  if (!st) st = sv_times(c, t);
  for (int i = 1; i < NSV && !st; ++i) seq &= t[i] > t[i - 1];
  if (!st)
    st = dln_figure_printf(c,
                           "## Setting\n\n001 sec. 6: Ybar 5x10 ~ N(0, 1); one-layer (X(0) = U0 V0^T of the same draw) vs "
                           "two-layer (widths 10, 50, 5) models, Gaussian init sigma in {1e-2, 1e-1, 1}; gradient descent, "
                           "eta = 1e-3, to t = 40 or reconstruction error 1e-6 (the default job of `dln run` with "
                           "--method=gd, in runs/). `--quick` changes nothing (the six runs take well under a second). "
                           "Data: runs/*/trajectory.csv, levels.csv (first sample time each model reaches each "
                           "level; samples are log-spaced, so times are sample times).\n\n## Claims and verdicts\n\n");
  if (!st)
    st = dln_figure_verdict(c, "001 Fig. 1 (error levels)", first == pairs ? DLN_VERDICT_HOLDS : DLN_VERDICT_FAILS,
                            "Claim: the two-layer model reaches each reconstruction-error level first. Measured: the "
                            "two-layer run reached the level strictly first in %d of %d (sigma, level) pairs, levels "
                            "1e-1..1e-6.",
                            first, pairs);
  if (!st)
    st = dln_figure_verdict(c, "001 Fig. 1 (sequential singular values, sigma = 1e-2)",
                            seq ? DLN_VERDICT_HOLDS : DLN_VERDICT_FAILS,
                            "Claim: from a small init the singular values are learned one after another. Measured: "
                            "sv_i first reaches half its final value at t = %.4g, %.4g, %.4g, %.4g, %.4g (i = 1..5).",
                            t[0], t[1], t[2], t[3], t[4]);
  dln_table_free(lv);
  return st;
}

const dln_figure_type dln_figure_001_fig1 = {
    "001-fig1", "one- vs two-layer factorization under gradient descent from three init scales",
    "001 Fig. 1 (Tarmoun, Franca, Haeffele, Vidal)", dln_figure_py_fig001_1, fig001_1_run};
