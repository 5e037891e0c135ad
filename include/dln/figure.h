/* dln/figure.h — the experiment catalogue behind `dln figure` (docs/figures.md).
 *
 * A figure is a descriptor (name, one line, the paper's figure it reproduces, the plot.py
 * template and a function that runs the experiment through the library) in one registry,
 * like task and integrator types. dln_figure_run gives it an output folder (locked, an
 * earlier figure's outputs refused unless force, manifest.json written last: the folder
 * code of runs and sweeps), then writes plot.py, renders figure.png / figure.svg with
 * /usr/bin/python3 when matplotlib is importable, and report.md: the paper's claim,
 * what dln measured and a verdict (holds / fails / not checked) with its number. */
#ifndef DLN_FIGURE_H
#define DLN_FIGURE_H

#ifdef __cplusplus
extern "C" {
#endif

/* What a figure's run function fills through the run layer (opaque). */
typedef struct dln_figure_ctx dln_figure_ctx;

typedef struct dln_figure_type {
  const char *name;    /* "000-fig1": the paper's number, "-", the figure */
  const char *line;    /* one line for `dln figure --list` */
  const char *paper;   /* "000 Fig. 1 (de Oliveira, Siami, Sontag)" */
  const char *plot_py; /* the plot.py template (src/run/figures/<stem>.py, embedded at build time) */
  int (*run)(dln_figure_ctx *ctx); /* writes the data and the report's sections; a DLN status */
} dln_figure_type;

typedef struct dln_figure_options {
  int quick;  /* 1: a coarser setting (seconds), said so in report.md */
  int force;  /* 1: replace an earlier figure's outputs in the folder (only the files its manifest lists) */
  int render; /* 1 (default): run plot.py; 0: write it only */
  /* Polled by the figure's runs at their step boundaries (and by its sweeps after each run);
   * once it returns nonzero the figure stops: its runs end where they are, no plot.py,
   * report.md or manifest.json is written, res->cancelled = 1 and the status is DLN_OK.
   * NULL (default): never. */
  int (*cancelled)(void *ctx);
  void *cancel_ctx;
} dln_figure_options;

enum { DLN_VERDICT_HOLDS = 0, DLN_VERDICT_FAILS, DLN_VERDICT_NOT_CHECKED };

typedef struct dln_figure_result {
  int nverdicts, holds, fails, not_checked; /* counts of report.md's verdict lines */
  int plot;                                 /* DLN_PLOT_* of dln/io.h */
  int plot_exit;                            /* plot.py's exit status */
  double wall_seconds;
  int fail_phase;                           /* DLN_RUN_FAIL_* of a failure (dln/run.h) */
  int cancelled;                            /* 1: stopped by options.cancelled, nothing committed */
} dln_figure_result;

void dln_figure_default_options(dln_figure_options *o); /* quick 0, force 0, render 1, cancelled NULL */
int dln_figure_count(void);                             /* registered figures */
const dln_figure_type *dln_figure_at(int i);            /* NULL (message recorded) out of range */
const dln_figure_type *dln_figure_find(const char *name); /* NULL (message recorded) when unknown */
/* Run figure f into folder dir (created with its parents). o NULL: defaults. */
int dln_figure_run(const dln_figure_type *f, const char *dir, const dln_figure_options *o, dln_figure_result *res);
/* The verdict's word: "holds", "fails", "not checked"; NULL out of range. */
const char *dln_figure_verdict_name(int verdict);

#ifdef __cplusplus
}
#endif
#endif
