/* Private helpers of the figures (src/run/figures/): what a figure's run function gets
 * from dln_figure_run (registry.c) to write its data, its report sections and verdicts. */
#ifndef DLN_FIGURE_INTERNAL_H
#define DLN_FIGURE_INTERNAL_H

#include <stddef.h>

#include "dln/figure.h"
#include "dln/table.h"
#include "run/run_internal.h"

struct dln_figure_ctx {
  const char *dir;          /* the figure's folder */
  int quick;                /* --quick */
  dln_run_files *files;     /* files committed so far (the manifest lists them) */
  char *md;                 /* report.md's body after the header (malloc'ed) */
  size_t len, cap;
  dln_figure_result *res;   /* verdict counts */
  int (*cancelled)(void *ctx); /* dln_figure_options.cancelled and its ctx */
  void *cancel_ctx;
  int cancel_seen;          /* it returned nonzero once: every later poll says so too */
};

/* Cancellation (dln_figure_options.cancelled), for the figure's runs: nonzero once the
 * caller asked to stop (sticky). dln_fig_run_options: run options that poll it (the
 * figure's dln_run_* calls); dln_fig_train_cancel: the same for a dln_train_options
 * (progress callback). After a cancel the figure may go on with cut-short runs and report
 * errors: dln_figure_run discards them and commits nothing. */
int dln_fig_cancelled(dln_figure_ctx *c);
void dln_fig_run_options(dln_figure_ctx *c, struct dln_run_options *opt);
void dln_fig_train_cancel(dln_figure_ctx *c, struct dln_train_options *to);

/* Append printf-formatted text to report.md. */
int dln_figure_printf(dln_figure_ctx *c, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* One verdict line "- **claim**: holds — <text>" into report.md, counted in the result. */
int dln_figure_verdict(dln_figure_ctx *c, const char *claim, int verdict, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
/* A table as CSV (atomic, %.17g) in the folder, listed in the manifest. */
int dln_figure_write_table(dln_figure_ctx *c, const char *name, const dln_table *t);
/* A JSON document in the folder (atomic), listed in the manifest. */
int dln_figure_write_json(dln_figure_ctx *c, const char *name, const json_t *root);

/* fig_util.c: the files of the run or sweep folder dir/sub (its manifest, and the manifest
 * itself) into the figure's manifest as sub/... */
int dln_fig_add_files(dln_figure_ctx *c, const char *sub);
/* dir/sub/trajectory.csv: col[w] = the index of column want[w] (an error when absent); the
 * table into *m unless *m is already read. */
int dln_fig_read_traj(const char *dir, const char *sub, const char *const *want, int nwant, int *col, dln_mat **m);
/* The first sample time (column 0) at which column col is ≤ level; NAN if never. */
double dln_fig_first_below(const dln_mat *m, int col, double level);

/* The figures (one file each) and their plot.py templates (generated/figure_py.c). */
extern const dln_figure_type dln_figure_000_fig1;
extern const char dln_figure_py_fig000_1[];
extern const dln_figure_type dln_figure_001_fig1;
extern const char dln_figure_py_fig001_1[];
extern const dln_figure_type dln_figure_001_fig2;
extern const char dln_figure_py_fig001_2[];
extern const dln_figure_type dln_figure_001_fig3;
extern const char dln_figure_py_fig001_3[];
extern const dln_figure_type dln_figure_003_fig1, dln_figure_003_fig2;
extern const char dln_figure_py_fig003_1[], dln_figure_py_fig003_2[];
extern const dln_figure_type dln_figure_002_prop5;
extern const char dln_figure_py_fig002_p5[];
extern const dln_figure_type dln_figure_002_fig1;
extern const char dln_figure_py_fig002_1[];
extern const dln_figure_type dln_figure_002_fig3;
extern const char dln_figure_py_fig002_3[];
extern const dln_figure_type dln_figure_004_ovf;
extern const char dln_figure_py_fig004_ovf[];
extern const dln_figure_type dln_figure_002_fig2;
extern const char dln_figure_py_fig002_2[];

#endif
