/* Private state and helpers of the ensemble runner (dln/ensemble.h), shared by
 * ensemble_run.c (the driver: phases), ensemble_common.c (run specs, overrides, data
 * options, errors), ensemble_sweep.c (the sweep API),
 * ensemble_worker.c (data sets, one run, the thread pool), ensemble_out.c (the table
 * and the summary) and ensemble_resume.c (finished runs kept for --resume). */
#ifndef DLN_ENSEMBLE_COMMON_H
#define DLN_ENSEMBLE_COMMON_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "core/util.h"
#include "dln/ensemble.h"
#include "dln/io.h"
#include "dln/train.h"
#include "run/run_internal.h"

static inline char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline char *xasprintf(const char *fmt, ...) {
  va_list ap, aq;
  va_start(ap, fmt);
  va_copy(aq, ap);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  char *p = n >= 0 ? malloc((size_t)n + 1) : NULL;
  if (p) vsnprintf(p, (size_t)n + 1, fmt, aq);
  va_end(aq);
  return p;
}

/* ---- ensemble state ----------------------------------------------------------------- */

typedef struct ens_data {
  char *key, *dir;
  long rep;          /* a run that uses it */
  uint64_t seed;
  int status;
  char *error;
  dln_run_data data;   /* loaded once, shared (read-only) by the runs */
  /* the overrides that point a run at the files */
  int nfile;
  const char *fname[DLN_TASK_MAXFILES]; /* the task's data-file options and their files */
  char *fpath[DLN_TASK_MAXFILES];
  dln_run_files files; /* written into dir (relative to it) */
} ens_data;

typedef struct ens_shape {
  char *key;
  int ncols;
  int *inv; /* inv[j] = observer column of union column j, or -1 */
} ens_shape;

/* How a swept option is written into the table (numeric cells only, np.loadtxt): */
enum { ENS_PARAM_NUMBER, ENS_PARAM_LIST, ENS_PARAM_CODE };
typedef struct ens_param {
  int kind;            /* NUMBER: the value; LIST: <name>_0.. one column per item; CODE: index into legend */
  int width;           /* LIST: the longest list */
  char **legend;       /* CODE: the distinct values in run order */
  int nlegend;
} ens_param;

typedef struct ens_slot {
  int status;          /* DLN_OK, or the error that stopped the run */
  char *error;
  int queued, done;
  int seen;            /* done, and its partial files written (calling thread) */
  dln_train_result train;
  dln_table *traj;     /* freed once written */
  dln_run_baseline base; /* --baseline: its result (no W kept) */
  double wall;
  int init_draws;      /* draws of the init with det_sign (dln_init_draw), 0 without */
  int data;            /* data set index, -1 if none */
  int shape;
  int resumed;         /* finished by an interrupted sweep: read back (ensemble_resume.c) */
  int diverged;        /* resumed: its stop reason was diverged or solver */
  json_t *entry;       /* resumed: its ensemble.json entry */
  json_t *endpoint;    /* its "endpoint" object (run_endpoint.c; json null: not applicable) */
  long poff;           /* resumed: offset of its line in the partial log */
  char *rows;          /* its rows as table text once kept in the log (then traj is freed) */
  size_t nrows_text;
  int remote;          /* opt->peers, rank 0: 1 awaited from the rank that runs it, 2 received */
  uint64_t seed, stream;
  dln_run_files wfiles; /* save_weights: its files in OUT/runs/<k>/ (written by its worker) */
  char *shape_key;     /* phase 3: its shape key (dln_ens_shape_key), until the calling thread assigns it */
  int shape_st;        /* phase 3: a failure that is not the run's own (out of memory for the key) */
  char *data_key;      /* phase 4: its data set's key, until the calling thread finds the data set */
  uint64_t data_seed;  /* phase 4: its data seed */
  int expanded, expand_st; /* phase 4: done; a failure that is not the run's own (out of memory) */
} ens_slot;

typedef struct ens {
  const dln_spec *base;
  const dln_sweep *sw;
  const dln_ensemble_options *opt;
  const char *out;
  long nruns;
  ens_slot *slot;
  char *sel;           /* selected (this shard) */
  ens_data *data;
  int ndata;
  ens_shape *shape;
  int nshape;
  /* union of observer columns */
  char **cols;
  int ncols;
  /* swept parameter columns (other than seed, stream, data_seed) */
  char **params;
  int nparams;
  ens_param *pinfo;    /* per swept parameter: its cells (dln_ens_param_layout) */
  int data_seed_swept;
  /* pool */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  long *tasks;
  long ntasks, next, ndone, nfailed;
  double signalled;    /* when a worker last woke the driver (dln_now_seconds) */
  atomic_int cancel;
  int phase;           /* 1: data sets, 2: runs, 3: shape keys (the column pass), 4: run specs and data keys */
  long prefailed;      /* selected runs that failed before phase 2 */
  struct ens_out *outs;
  /* the driver (dln_ensemble_run) */
  dln_ensemble_result *res;
  int shard, nshards, nthreads, blas_before;
  double t0;
  char *csv_path, *json_path, *ep_path, *rt_path;
  dln_run_folder folder; /* the lock, the earlier manifest, the files of the sweep */
  /* partial results for --resume (ensemble_resume.c) */
  char *pdir;          /* OUT/.partial (a shard: OUT/.partial.shard<i>of<N>); NULL: none kept */
  char hash[65];       /* SHA-256 of pdir/sweep.json */
  FILE *plog;          /* pdir/runs.jsonl, appended to (NULL: not open) */
  long *fin, nfin, nsaved; /* runs finished on the pool (fin[0..nfin), in order); saved so far */
  long nresumed;       /* selected runs read back */
  long nkept;          /* runs finished here and saved */
  int save_st;         /* first error writing or reading a partial file */
  /* processes sharing the sweep (ensemble_peers.c); NULL: this process runs it all */
  const dln_ensemble_peers *peers;
  int rank, nranks;
  long nremote, nremote_done, nremote_failed; /* rank 0: runs of other ranks, received, failed */
  int peer_st;         /* the first error reported by (or sending to) another rank */
  struct ens_merge *merge; /* dln_ensemble_merge: the runs come from the shards' outputs (ensemble_merge.c) */
} ens;

/* Run k: its spec and what the builder makes of it; freed by the caller. */
typedef struct run_parts {
  dln_spec spec;
  int have_spec;
  dln_run_parts p;
} run_parts;

/* The outputs, written in run order while later runs still train. */
typedef struct ens_out ens_out;
struct ens_out {
  dln_afile *csv;
  FILE *fp;
  long next;           /* next run to write */
  json_t *runs;
  long nwritten, ncomplete, ndiverged, nfailed, steps, grad_evals, rejected;
  int err;             /* a resumed run's rows could not be copied */
  double run_wall;
};

/* ---- run specs (ensemble_common.c) ---- */
/* The override set of run k, axis by axis (last axis fastest). */
const dln_sweep_value *dln_ens_run_value(const dln_sweep *sw, long k, int axis);
/* Value of override `name` in run k, or NULL. */
const char *dln_ens_run_override(const dln_sweep *sw, long k, const char *name);
/* The spec of run k (without the data files): base + overrides + seed/stream rule. */
int dln_ens_make_spec(const ens *E, long k, dln_spec *s, uint64_t *data_seed);
/* Put the data set's file fields into run k's spec. */
int dln_ens_apply_data(const ens_data *d, dln_spec *s);
/* Run k failed with status st and the last error. */
void dln_ens_set_run_error(ens_slot *sl, int st, long k);

/* ---- data sets, runs, the pool (ensemble_worker.c) ---- */
void dln_ens_data_free(ens_data *d);
/* Shape key of a run (its columns depend on the data, widths, tied, observer flags and
 * whether the dynamics are end-to-end). */
char *dln_ens_shape_key(const dln_spec *s, const dln_run_parts *p, int data);
/* Build run k on its data set; with_init = 0 for the column pass (no init, no training). */
int dln_ens_parts_build(const ens *E, long k, run_parts *r, int with_init);
void dln_ens_parts_free(run_parts *r);
/* Phase 4's task (ensemble_run.c): run k's spec, checked, and its data key into its slot
 * (a failure of its spec fails the run). */
void dln_ens_expand_task(ens *E, long k);
/* Phase 3's task: build run k with its init and put its shape key into its slot (a failed
 * build fails the run). */
void dln_ens_shape_task(ens *E, long k);
/* Run tasks[0..n) of the current phase on nthreads workers; `tick` is called from this
 * thread whenever tasks finish (and every 0.2 s). */
int dln_ens_pool_run(ens *E, int nthreads, void (*tick)(ens *, long done));

/* ---- endpoints.json (ensemble_endpoints.c) ---- */
/* The tally of ensemble.json's entries by setting: classes and saddle strata with Wilson
 * 95% intervals. NULL: out of memory. */
json_t *dln_ens_endpoints_json(const json_t *runs);
/* plot.py, figure.png/.svg and report.md of a plotting sweep (ensemble_plot.c); sum: ensemble.json. */
int dln_ens_write_plot(ens *E, const json_t *sum);

/* ---- partial results, --resume (ensemble_resume.c) ---- */
/* After the folder is locked: a fresh sweep clears pdir and writes pdir/sweep.json; a
 * resumed one checks it (DLN_ESPEC naming the difference) and marks the runs it finished. */
int dln_ens_partial_open(ens *E);
/* Whether a resumable interrupted sweep is in pdir (decides the folder's force): 1, 0, or
 * -DLN_ENOMEM with the error set. */
int dln_ens_partial_exists(const ens *E);
/* Save the runs finished since the last call (calling thread); nonzero: an error (cancels). */
int dln_ens_partial_save(ens *E);
/* Copy the rows of resumed run k to fp. */
int dln_ens_partial_rows(const ens *E, long k, FILE *fp);
/* Remove pdir and its files (after the outputs are committed). */
int dln_ens_partial_remove(const char *pdir);
/* Close the log (before pdir is removed, and at the end). */
void dln_ens_partial_close(ens *E);

/* A run's record as one line of runs.jsonl, without the "sweep" hash (a failed run: its
 * status and error only); NULL: out of memory. */
char *dln_ens_partial_record(const ens *E, long k, const ens_slot *sl);
/* rank 0: take a text sent by rank `from` (a run's record, its failure, or a stop);
 * a run's record goes into the log as a finished run of this sweep. */
int dln_ens_partial_take(ens *E, const char *text, size_t len, int from);

/* ---- processes sharing the sweep (ensemble_peers.c) ---- */
/* Whether this process runs run k. */
int dln_ens_peers_local(const ens *E, long k);
/* Collective, after the folder and the partial results (status st of this rank): the
 * first failure of any rank, and the runs rank 0 read back skipped everywhere. */
int dln_ens_peers_sync(ens *E, int st);
/* The pool's tick on a rank > 0 (records sent) or on rank 0 (records taken, then written). */
void dln_ens_peers_tick(ens *E, long done);
/* rank 0, after its own runs: the records of the other ranks until all came. */
int dln_ens_peers_gather(ens *E);
/* rank > 0, at the end: its failure or stop to rank 0. */
void dln_ens_peers_report(ens *E, int st, int cancelled);
/* ---- dln_ensemble_merge (ensemble_merge.c) ---- */
/* The shards of one sweep in a folder: their summaries and tables, read in run order. */
typedef struct ens_merge {
  const char *dir;
  int nshards, force;
  json_t **sum;        /* per shard: its ensemble.shard<i>of<N>.json */
  char **json_name;    /* per shard: its summary's path */
  char **csv_name;     /* per shard: its table's path */
  FILE **csv;          /* per shard: its table, after the header */
  char **line;         /* per shard: a row read ahead (pending[s]) */
  size_t *cap;
  int *pending;
} ens_merge;
/* The driver of dln_ensemble_run (ensemble_run.c); with M, every run is taken from the shards. */
int dln_ens_drive(const dln_spec *base, const dln_sweep *sw, const dln_ensemble_options *opt, dln_ensemble_result *res,
                  ens_merge *M);
/* The shards in dir (force: as dln merge --force), checked to be of one sweep, and that
 * sweep rebuilt into base (set to the defaults first) and sw; release M in any case. */
int dln_ens_merge_prepare(ens_merge *M, const char *dir, int force, dln_spec *base, dln_sweep *sw);
void dln_ens_merge_release(ens_merge *M);
/* After the columns are known: check the shards' headers and take every run's entry (M). */
int dln_ens_merge_load(ens *E);
/* Copy the rows of run k from its shard's table to fp (nonzero: an error, set). */
int dln_ens_merge_rows(const ens *E, long k, FILE *fp);
/* Every shard table read to its end (DLN_EFORMAT naming the first that is not). */
int dln_ens_merge_done(const ens *E);

/* ---- outputs (ensemble_out.c; the table's header and rows: ensemble_rows.c) ---- */
/* The rows (table text) of a run not trained here: read back from the partial log (resume)
 * or copied from its shard's table (merge). An output written from the rows (e.g. another
 * table format) takes a resumed or merged run's rows from here. Nonzero: an error, set. */
int dln_ens_stored_rows(const ens *E, long k, FILE *fp);
/* The table's header line. */
void dln_ens_write_header(const ens *E, FILE *fp);
/* The `dln run` line that repeats run k (malloc'd; NULL: out of memory). */
char *dln_ens_rerun_line(const ens *E, long k, const ens_slot *sl);
/* The data-file options of data set d's task and their paths in d->dir. */
int dln_ens_data_paths(ens_data *d, const char *task);
/* The rows of run k (its trajectory) in the table's format. */
void dln_ens_write_rows(const ens *E, long k, const ens_slot *sl, FILE *fp);
/* The ensemble.json entry of run k (data folder and rerun line refreshed for a resumed run). */
json_t *dln_ens_run_json(const ens *E, long k, const ens_slot *sl);
/* Whether a column is a wide per-run one (eigC_*), left out of sweeps without opt->wide. */
int dln_ens_wide_column(const char *name);
/* The cells of the swept parameters: numbers, lists expanded, or codes of a legend. */
int dln_ens_param_layout(ens *E);
void dln_ens_param_free(ens *E);
/* The parameters' header cells (each preceded by a comma). */
void dln_ens_param_header(const ens *E, FILE *fp);
/* Run k's cells of parameter p (each preceded by a comma), as in ensemble.csv. */
void dln_ens_param_cells(const ens *E, long k, int p, FILE *fp);
/* ensemble_runs.csv at path: one numeric row per entry of runs[] (ensemble.json's "runs"):
 * run, seed, stream, the swept parameters, status (0 ok, 1 error), stop (dln_stop_reason),
 * t, steps, grad_evals, the final values, the end point (class: dln_end_class; stratum: the
 * learned components as a bit mask Σ 2^(i−1); rank, lambda_min, grad_norm, residual). */
int dln_ens_write_run_table(const ens *E, const json_t *runs, const char *path);
/* The "legend" object of the summary: per coded parameter its values (code = index). */
json_t *dln_ens_legend_json(const ens *E);
/* An option's text as typed JSON: number, list of numbers, true/false, else a string. */
json_t *dln_ens_value_json(const char *text);
/* The binary table: one .npy per column of the committed CSV at csv_path into dir
 * (ensemble_npy.c), each added to files as prefix/<column>.npy (files may be NULL). */
int dln_ens_write_columns(const char *csv_path, const char *dir, const char *prefix, dln_run_files *files);
/* The "sweep" object of the summary. */
json_t *dln_ens_sweep_json(const dln_sweep *sw);
/* Write the finished runs at the head of the queue, in run order. */
void dln_ens_flush_ready(ens *E, ens_out *O);
/* The pool's tick of phase 2: flush, then report progress. */
void dln_ens_tick_runs(ens *E, long done);
/* Open the table and write its header. */
int dln_ens_open_table(const ens *E, ens_out *O);
/* The summary (ensemble.json) of the finished sweep; takes O->runs. NULL: no memory. */
json_t *dln_ens_summary(const ens *E, ens_out *O);

#endif
