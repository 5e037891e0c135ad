/* Private state and helpers of `dln check` (dln/check.h), shared by check.c (the driver
 * and the checks along the trajectory), check_state.c (the checks at recorded states:
 * sign of det W, σ̇, the end point), check_read.c (reading the run folder) and
 * check_report.c (report items, the table and check.json). */
#ifndef DLN_CHECK_INTERNAL_H
#define DLN_CHECK_INTERNAL_H

#include <stddef.h>

#include "dln/check.h"
#include "dln/io.h"
#include "dln/net.h"
#include "dln/spec.h"
#include "run/run_internal.h"

#define CHECK_LOOSE 100.0   /* a violation within this many tolerances: likely too loose a tolerance */
#define CHECK_BALANCED 1e-6 /* max_j ‖C_j‖_F / ‖θ‖² counted as balanced */
#define CHECK_GRAD_TOL 1e-6 /* ‖∇φ‖ ≤ this·max(1, φ): the end point counts as critical */
#define CHECK_ROUNDOFF 100.0 /* a hypothesis "x > 0" needs x > this·(accuracy + eps)·scale */

/* What summary.json says about the run (beyond its spec); NaN / -1 / "" when absent. */
typedef struct chk_summary {
  char run_id[40];
  char stop_reason[32];
  int complete;            /* -1: absent */
  double t, step;          /* where the run stopped */
  long samples;            /* samples_written, -1: absent */
  double final_t, final_loss;
} chk_summary;

typedef struct ctx {
  dln_check_report *rep;
  const dln_check_options *opt;
  dln_spec *spec;
  dln_run_data *d;
  dln_run_parts *p;
  dln_table *tab;
  double *theta0, *thetaf; /* thetaf NULL if the layers were not recorded at the end */
  int flow;                /* gradient-flow method (layer-wise) */
  int fact;                /* factorization loss */
  double tol, t_final;
  double acc;              /* the run's accuracy: rtol (flow) or the quadrature error (gauss) */
  const chk_summary *sum;
  const char *dir;
  double *theta_spec;      /* θ(0) as the summary's spec generates it (NULL: not compared) */
  char theta_spec_why[200]; /* why theta_spec is NULL */
  double theta_spec_phi;   /* φ(theta_spec) on the spec's own data (vs the folder's: same data?) */
  int diverged;            /* the run stopped by divergence (summary stop_reason) */
  int disturbed;           /* a disturbed flow (000 eq. 9; then flow = 0) */
  char flow_why[160];      /* "not applicable" text when flow = 0 */
} ctx;

/* ---- the disturbed flow (check_disturb.c) ---- */
/* Rows of a disturbed run only: the imbalance drift against the integral of 000 eq. 21's
 * rate, and 000 Thm 1 along the trajectory. */
void dln_chk_disturbed(ctx *c);
/* Rows of the scalar/vector case of 000 §III (depth 2, factorization, n = m = 1; check_scalar.c):
 * Prop. 1 at the end point, and with --alpha, Thm 2 (R_α invariance) and eq. 18. */
void dln_chk_scalar(ctx *c);

/* ---- report items (check_report.c) ---- */
/* Count the report's verdicts (napplicable, nholds, nviolated, ninconsistent, nunverified). */
void dln_chk_tally(dln_check_report *rep);
dln_check_item *dln_chk_item_new(dln_check_report *rep, const char *result, const char *source);
/* A result whose hypotheses fail: message "not applicable: <hypothesis> fails (<value>)". */
void dln_chk_add_na(dln_check_report *rep, const char *result, const char *source, const char *fmt, ...);
/* A verdict filled by a library bound (status st). loose: whether it holds with
 * CHECK_LOOSE·tol (only read when it is violated). */
void dln_chk_add_verdict(dln_check_report *rep, int st, const dln_verdict *v, const char *result, const char *source,
                         int loose);
/* A measured deviation that must stay ≤ bound (a tolerance). */
void dln_chk_add_dev(dln_check_report *rep, const char *result, const char *source, const char *hyp, double bound,
                     double measured, const char *what);

/* ---- reading the folder (check_read.c) ---- */
/* trajectory.csv: header line for the names, dln_csv_read for the numbers. */
int dln_chk_is_file(const char *dir, const char *name); /* dir/name is a regular file */
int dln_chk_read_trajectory(const char *dir, dln_table **out);
/* Layers W{j}_<suffix>.npy (tied: U_<suffix>.npy) into theta. *found = 0 when absent. */
int dln_chk_read_layers(const char *dir, dln_net *net, const char *suffix, double *theta, int *found);
/* summary.json -> the resolved spec, with the data fields pointing at the folder's files. */
/* orig (may be NULL): the spec as run, before the data options point at the folder
 * (*have_orig = 1 when copied; free it with dln_spec_free then). */
int dln_chk_read_spec(const char *dir, dln_spec *spec, chk_summary *sum, dln_spec *orig, int *have_orig);

/* ---- integrity rows (check_integrity.c): they always apply ---- */
/* An integrity row: holds, or INCONSISTENT naming file; the row (NULL: out of memory),
 * whose cause a caller may make more specific. */
dln_check_item *dln_chk_add_integrity(dln_check_report *rep, const char *result, const char *file, int ok, double bound,
                                      double measured, const char *fmt, ...);
/* manifest.json: every listed file intact, the summary's run_id, complete. */
void dln_chk_manifest(ctx *c);
/* The same for any folder: sumname (summary.json, ensemble.json) with its run_id and
 * complete (-1: absent); need: the files that must be listed (NULL-terminated). */
void dln_chk_manifest_dir(dln_check_report *rep, const char *dir, const char *sumname, const char *run_id, int complete,
                          const char *const *need);

/* ---- sweeps and multi-run folders (check_sweep.c) ---- */
/* 1 when dir is a sweep (ensemble.json) or the default job (summary.json with "runs"). */
int dln_chk_is_multi(const char *dir);
/* One run folder, dir already checked (check.c). */
int dln_chk_run(const char *dir, const dln_check_options *opt, dln_check_report *rep);
/* Integrity of the sweep's files and dln_check_folder of every run subfolder. */
int dln_chk_multi(const char *dir, const dln_check_options *opt, dln_check_report *rep);
/* The end point against the trajectory and the summary; C_j(final) vs C_j(0); the loss
 * non-increasing under flow; sample count and times; W_init vs the spec's init. */
void dln_chk_consistency(ctx *c);

/* ---- checks at recorded states (check_state.c) ---- */
/* sign det W constant (002 Lemma 2): square W, balanced, det W(0) ≠ 0. */
void dln_chk_det(ctx *c);
/* The end point: stratum + critical value, Hessian, 000 Thm 3. */
void dln_chk_end_point(ctx *c);
/* why L* is not attained / unknown for a DLN_LOSS_CLASSIFY loss, from the end point's margin */
void dln_chk_classify_note(ctx *c, char *why, size_t len);
/* 002 Theorem 3: σ̇_r at the recorded states of a balanced net. */
void dln_chk_sigma_dot(ctx *c);

/* ---- later theory rows (check_theory.c) ---- */
/* 003 Thm 2 / Lemma 1 (min-norm distance, width bound), 001 Prop. 2 (tied PSD projection). */
void dln_chk_theory_more(ctx *c);

#endif
