/* dln/ensemble.h — many independent runs of one spec on all cores, merged into one table.
 *
 * A sweep is a list of axes; the runs are the cartesian product of the axes (the last
 * axis varies fastest). An axis is a list of override sets: a plain axis sets one
 * option ("sigma": [0.01, 0.1, 1]; "seed": {"from": 1, "count": 100}), the "runs"
 * axis sets several per value ([{"sigma": 0.1, "eta": 1e-2}, ...]), so an explicit
 * list of per-run overrides is a sweep with a single "runs" axis.
 *
 * Randomness. Run k takes its (seed, stream) from its overrides when "seed" or
 * "stream" is swept (runs with the same seed then share their init draws across the
 * other parameters); otherwise seed = base seed and stream = base stream + k. The
 * synthetic data are NOT drawn from the run's stream: they are drawn once per distinct
 * (data_seed, data fields) from dln_rng_alloc(data_seed, base stream) — exactly what
 * `dln run` draws for seed = data_seed — and written to OUT/data/<i>/; each run reads
 * them through target_file / x_file, y_file / a_file, b_file / entries_file. So a
 * sweep over seeds (inits) keeps the same data for every run unless "data_seed" (a
 * pseudo-option, default = the base seed) or a data field (rows, noise, ...) is swept.
 * Every run can be repeated alone: `dln run SPEC --<file fields> --seed=S --stream=K
 * --<overrides>` (the "rerun" line of its summary entry) gives the same rows bit for bit.
 *
 * Threads. A pool of POSIX threads (default: the online CPUs) takes runs in index
 * order; each run is single-threaded (OpenBLAS is set to 1 thread before the pool
 * starts and restored after) and owns its net, loss, observer and workspaces, built
 * per run. Each run writes its rows into its own slot and the rows are written in run
 * order, so the outputs do not depend on the number of threads or on which run
 * finishes first. A run that fails (bad value, integrator failure) or diverges is
 * reported in its summary entry; the other runs go on.
 *
 * Outputs in OUT (atomic files; with a shard i/N the names carry ".shard<i>of<N>"):
 *   ensemble.csv   one row per run and sample: run, seed, stream, [data_seed,] the
 *                  swept options (numbers; lists as <name>_0, <name>_1, ...; text as
 *                  the index into ensemble.json's "legend"), then the union of the
 *                  observer columns (eigC_* only with opt->wide); nan where a run has
 *                  no such value or column; %.17g: every cell is a number
 *   ensemble/      the same table, one <column>.npy per column (int64 run, uint64
 *                  seed and stream, float64 the others), from the committed CSV
 *   ensemble.json  per run: seed and overrides (typed JSON), status, stop reason, message, counters, final
 *                  values, wall time, rerun command; totals, threads, BLAS config
 *   data/<i>/      the data sets (as written by `dln run`)
 *   manifest.json  written last: every file above with its SHA-256 (not for shards)
 *   .partial/      while the sweep runs: the finished runs, for resume (ensemble_resume.c);
 *                  removed once the outputs are committed
 * The header is the same for every shard; dln_ensemble_merge (below) joins the shards into
 * the unsharded outputs (docs/slurm.md).
 */
#ifndef DLN_ENSEMBLE_H
#define DLN_ENSEMBLE_H

#include <stddef.h>
#include <stdint.h>

#include "dln/spec.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One value of an axis: n (option name, option text) pairs. */
typedef struct dln_sweep_value {
  int n;
  char **names, **values;
} dln_sweep_value;

typedef struct dln_sweep_axis {
  char *key;          /* option name, "data_seed", or "runs" */
  int n;              /* number of values (≥ 1) */
  dln_sweep_value *v;
  int line, col;      /* position of the key in the JSON file, 0 if not from JSON */
} dln_sweep_axis;

typedef struct dln_sweep {
  int naxes;
  dln_sweep_axis *axes;
  int plot; /* the spec file says "plot": true: the sweep draws its figure and report (dln_ensemble_options.plot) */
} dln_sweep;

/* Largest number of runs of one sweep (and of values of one axis: a range's values are
 * stored as text, about 50 bytes each, so 10^6 values take ~50 MB; 10^8 took 5 GB and
 * ran the spec fuzzer out of memory). Larger studies: several sweeps, or shards. */
#define DLN_SWEEP_MAXRUNS 1000000L

void dln_sweep_init(dln_sweep *sw);
void dln_sweep_free(dln_sweep *sw);
/* Append an axis setting option `name` (or "data_seed") to each of values[0..n) (option
 * text as on the command line). Each value is checked by the option's parser; DLN_ESPEC
 * for an unknown or unsweepable name (out, quiet, plot, blas_threads) or an empty list. */
int dln_sweep_add_axis(dln_sweep *sw, const char *name, int n, const char *const *values);
/* Integer axis from, from + step, ..., count values (seed, stream, data_seed, width, ...). */
int dln_sweep_add_range(dln_sweep *sw, const char *name, int64_t from, long count, int64_t step);
/* Append one explicit run (n overrides) to the "runs" axis (created on first use). */
int dln_sweep_add_run(dln_sweep *sw, int n, const char *const *names, const char *const *values);
/* Number of runs (product of the axis sizes; 1 without axes), or -1 above DLN_SWEEP_MAXRUNS. */
/* (0 for a NULL sweep.) */
long dln_sweep_nruns(const dln_sweep *sw);

/* The "sweep" object of a spec file (the other keys are read by dln_spec_from_json_*):
 *   "sweep": {"sigma": [0.01, 0.1, 1], "seed": {"from": 1, "count": 100},
 *             "runs": [{"eta": 0.01, "method": "gd"}, ...]}
 * Errors are one line "file:line:col: sweep field \"x\": ..." (DLN_ESPEC; DLN_EIO if
 * the file cannot be read). A file without "sweep" gives a sweep without axes. */
int dln_sweep_from_json_file(dln_sweep *sw, const char *path);
int dln_sweep_from_json_string(dln_sweep *sw, const char *name, const char *text);

/* Processes sharing one sweep (tools/mpi/sweep_mpi.c implements this over MPI; docs/mpi.md).
 * Every rank expands the whole sweep and draws every data set; rank r runs the runs k with
 * k mod nranks = r; ranks > 0 send rank 0 one record per run (its rows, ensemble.json
 * entry and totals, as in OUT/.partial/runs.jsonl) and write nothing in out; rank 0 writes
 * every output with the serial code. Only the calling thread calls these. */
typedef struct dln_ensemble_peers {
  int rank, nranks;
  void *ctx;
  /* Collective: returns the first nonzero status over the ranks (0: none) and gives every
   * rank rank 0's n bytes of buf. */
  int (*sync)(void *ctx, int status, unsigned char *buf, long n);
  /* rank > 0: send len bytes of text to rank 0; nonzero: failed. */
  int (*send)(void *ctx, const char *text, size_t len);
  /* rank 0: a text sent by another rank, waiting up to wait seconds: 1 with *text
   * (malloc'ed), *len and *from; 0 when none came; negative: failed. */
  int (*recv)(void *ctx, double wait, char **text, size_t *len, int *from);
} dln_ensemble_peers;

typedef struct dln_ensemble_options {
  int nthreads;        /* worker threads; 0 = online CPUs (sysconf) */
  int shard, nshards;  /* run only runs k ≡ shard (mod nshards); nshards ≤ 1: all runs */
  const char *out;     /* output folder; NULL = base->out */
  /* Called from the calling thread as runs finish (in any order), with the counts so far:
   * after each run when `cancelled` is set, otherwise at most every 20 ms (and at the
   * end), so short runs cost no wake-up each. May be NULL. */
  void (*progress)(void *ctx, long done, long total, long failed);
  void *progress_ctx;
  /* Polled by the calling thread after each finished run; nonzero cancels: running runs stop, no ensemble file is
   * written; the runs finished so far stay in OUT/.partial for resume. */
  int (*cancelled)(void *ctx);
  int write_outputs;   /* 0: keep nothing on disk except the data sets (benchmarks); default 1 via dln_ensemble_default_options */
  int wide;            /* keep the wide per-run columns (eigC_*: up to 64 per run) in the table; default 0: left out */
  int resume;          /* read back the runs an interrupted sweep finished (OUT/.partial) and run the others */
  const dln_ensemble_peers *peers; /* NULL or nranks <= 1: this process runs the whole sweep (with shard/nshards) */
  int save_weights;    /* 1: each finished run's final layers W<j>_final.npy (U_final.npy tied, W_final.npy
                        * end-to-end) into OUT/runs/<k>/, atomically, listed in the manifest; default 0 */
  /* Dry run (`dln sweep --dry-run`): when non-NULL, dln_ensemble_run only expands the
   * sweep and calls plan for each run of the shard, in order, with its overrides ("name=value"
   * separated by spaces, as given), the `dln run` line ensemble.json would record, and
   * NULL or the error that would stop the run before it starts; it draws, writes and locks
   * nothing and returns DLN_OK (res->nselected runs). */
  void (*plan)(void *ctx, long k, const char *overrides, const char *rerun, const char *error);
  void *plan_ctx;
  int plot;            /* 1: plot.py, figure.png/.svg and report.md in OUT (also with "plot": true in the spec file:
                        * sw->plot); not for shards; default 0 */
} dln_ensemble_options;

void dln_ensemble_default_options(dln_ensemble_options *opt);

typedef struct dln_ensemble_result {
  long nruns;          /* runs of the whole sweep */
  long nselected;      /* runs of this shard */
  long ncomplete;      /* runs that finished (any stop reason but cancelled) */
  long nfailed;        /* runs that could not run (bad value, solver error) */
  long ndiverged;      /* finished runs with stop reason "diverged" or "solver" */
  int nthreads;
  int cancelled;
  long nresumed;       /* runs read back from an interrupted sweep (resume), not run again */
  long nkept;          /* finished runs kept in OUT/.partial (read back or run now; for a cancelled sweep) */
  long steps, grad_evals; /* totals over the finished runs */
  double wall_seconds;
  int fail_phase;      /* DLN_RUN_FAIL_* (dln/run.h) when dln_ensemble_run returns an error */
  char csv_path[1024], json_path[1024];
  int peer_failed;     /* opt->peers: another rank's failure stopped this one (its message is on that rank) */
  int peers_started;   /* opt->peers: the ranks passed their first sync (a later failure leaves others waiting) */
  int plot, plot_exit; /* plotting sweep: DLN_PLOT_* (dln/io.h) and plot.py's exit status; DLN_PLOT_OFF otherwise */
} dln_ensemble_result;

/* Run the sweep over base. Returns DLN_OK when every selected run was attempted and at
 * least one did not fail (check res->nfailed / ndiverged and the per-run entries in
 * ensemble.json), and also when the sweep was cancelled (res->cancelled = 1; no ensemble
 * file is committed, res->nkept runs are kept for resume).
 *
 * Resume (docs/resume.md, ensemble_resume.c): as each run finishes, its rows and entry are
 * appended to OUT/.partial/runs.jsonl (a shard: OUT/.partial.shard<i>of<N>) beside
 * sweep.json (spec without output options, sweep, input files' SHA-256). With
 * opt->resume, a sweep whose record differs is refused (DLN_ESPEC naming the difference),
 * the runs found are not run again (res->nresumed), the folder of the interrupted sweep is
 * replaced without force, and ensemble.csv/ensemble.json are byte-identical to those of an
 * uninterrupted sweep (wall times and run_id aside). Runs that failed are run again.
 * .partial is removed once the outputs are committed. When every selected run failed, nothing is committed either and the first
 * failed run's status is returned (res->fail_phase = DLN_RUN_FAIL_INPUT) with a message
 * "sweep: all N runs failed; the first, run k: ...". An error status for a bad sweep or
 * an output folder that cannot be written or is locked (DLN_RUN_FAIL_BUSY).
 *
 * The folder (run_internal.h, run_folder.c): locked for the whole sweep; one with the
 * outputs of an earlier run or sweep is refused unless base->force; with force, the files
 * the earlier manifest.json lists are removed just before the new table is committed,
 * then manifest.json (kind "sweep") lists ensemble.csv, ensemble.json and the files of data/<i>.
 * A shard (nshards > 1) locks DIR/.dln.shard<i>of<N>.lock (shards share a folder), writes
 * no manifest and is refused only by its own earlier ensemble.shard* files. Every data set of the whole sweep is drawn by every shard (the
 * header covers all runs). */
int dln_ensemble_run(const dln_spec *base, const dln_sweep *sw, const dln_ensemble_options *opt, dln_ensemble_result *res);

/* Join the shards of one sweep in dir (ensemble.shard<i>of<N>.csv/.json of dln_ensemble_run
 * with nshards = N, e.g. the tasks of a Slurm job array; docs/slurm.md) into the outputs of the
 * unsharded sweep in opt->out (NULL: dir): ensemble.csv, ensemble.json, endpoints.json,
 * data/<i> and manifest.json, written by the sweep's own code (the data sets are drawn again,
 * the runs' rows and entries come from the shards). Byte-identical to the unsharded sweep in
 * that folder except the lines of run_id, threads and the wall times (as for resume; the
 * data sets' summary.json carry the run_id, so do their hashes in the manifest). Only
 * opt->out, nthreads and cancelled are used. Refused with one message (DLN_EFORMAT; DLN_EIO
 * for a missing shard or none): shards of different N, a duplicate or missing shard, a
 * shard of another sweep (spec, sweep, number of runs, version), a table whose header or
 * rows do not match. A folder with an earlier unsharded output is refused unless force
 * (as for a sweep). The shard files are kept. */
int dln_ensemble_merge(const char *dir, const dln_ensemble_options *opt, int force, dln_ensemble_result *res);

/* The spec file of the interrupted sweep in out (shard/nshards as it was run), as stored
 * in out/.partial/sweep.json: its path (*name) and text (*text), both malloc'ed; read them
 * with dln_spec_from_json_string and dln_sweep_from_json_string. DLN_EIO when there is no
 * interrupted sweep. */
int dln_ensemble_resume_source(const char *out, int shard, int nshards, char **name, char **text);

#ifdef __cplusplus
}
#endif
#endif
