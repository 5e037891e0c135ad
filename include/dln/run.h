/* dln/run.h — one run of the pipeline from a spec, and the default job (001 Fig. 1).
 *
 * dln_run: build the task (synthetic data from dln_rng_alloc(seed, stream), data drawn
 * first, then the init; or data files), the network, its initialization, an observer
 * and a trajectory table; train; write into spec->out (every file atomically):
 *   trajectory.csv                 one row per sample time (+ the stop point)
 *   W{j}_init.npy, W{j}_final.npy  layers j = 1..N (tied: U_init.npy, U_final.npy)
 *   W_init.npy, W_final.npy        end-to-end methods (e2e_flow, e2e_gd; dln/e2e.h): the
 *                                  state W = W_N···W_1, which starts from the balanced
 *                                  init (only W{j}_init.npy of the layers is written)
 *   target.npy | X.npy, Y.npy | A.npy, b.npy | entries.npy, W_true.npy  data used
 *   plot.py, figure.png            matplotlib script and its rendering
 *   summary.json                   "run_id"; "counters" holds the integrator statistics of
 *                                  dln_train_result (integrator, steps, jtv_evals, ...)
 *   manifest.json                  written last (dln/manifest.h): every file above with
 *                                  its SHA-256, complete = true; it marks a complete run
 * The folder is locked (DIR/.dln.lock, flock) from after the inputs are read to the end;
 * a locked folder fails with DLN_EIO, fail_phase DLN_RUN_FAIL_BUSY. A folder with the
 * outputs of an earlier run fails with DLN_EIO (DLN_RUN_FAIL_OUTPUT) unless spec->force;
 * with force, the files its manifest lists are removed after training, just before the
 * new outputs (run_internal.h, run_folder.c). A cancelled run (a signal,
 * opt->cancelled) stops at the next step boundary and writes the outputs so far, a
 * summary.json with "complete": false, "stop_reason": "interrupted" and its checkpoint,
 * and a manifest.json with complete = false (res->train.stop_reason == DLN_STOP_CANCELLED;
 * docs/resume.md). With checkpoint_every > 0, checkpoint.json and the state and trajectory
 * arrays of the slot it names (checkpoint[.b].state.npy, checkpoint[.b].traj.npy; each
 * checkpoint writes the other slot, then the header) are written during the run (gradient
 * descent also at a cancel) and removed when it finishes. A diverged run writes all
 * outputs (weights: last good state) with stop_reason "diverged". An end-to-end method
 * from an unbalanced init fails with DLN_EINVAL (fail_phase DLN_RUN_FAIL_SPEC) and a
 * message with the measured unbalancedness, before any output is written. */
#ifndef DLN_RUN_H
#define DLN_RUN_H

#include <stdio.h>

#include "dln/io.h" /* DLN_PLOT_* */
#include "dln/spec.h"
#include "dln/train.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A finished run as it is in memory when its folder is complete (dln_run_options.keep):
 * every pointer is valid only during the call. */
typedef struct dln_run_view {
  const dln_table *trajectory;  /* the rows of trajectory.csv */
  const dln_net *net;           /* the layers' shapes (dln_net_layer_const) */
  const double *theta0, *theta; /* the layers at the start and at the end (theta: NULL for e2e methods) */
  int rows, cols;               /* d_N, d_0 */
  const double *W0, *W;         /* e2e methods (dln/e2e.h): the end-to-end state at start and end, else NULL */
  const char *summary;          /* the text of summary.json */
  int stop_reason;              /* DLN_STOP_* */
} dln_run_view;

typedef struct dln_run_options {
  dln_progress_fn progress;   /* passed to dln_train (may be NULL) */
  void *progress_ctx;
  /* Called with event 0 before and 1 after each training run, with a label. */
  void (*run_event)(void *ctx, int event, const char *label);
  /* Polled after training and after rendering; nonzero cancels (nothing committed). */
  int (*cancelled)(void *ctx);
  /* Called once (with keep_ctx) after a run's folder is complete (manifest written),
   * not for an interrupted or failed run; a nonzero DLN status fails the run with it.
   * May be NULL. The C ABI (dln/abi.h) keeps the results in memory through it. */
  int (*keep)(void *ctx, const dln_run_view *view);
  void *keep_ctx;
} dln_run_options;

/* Where a failure happened, to choose an exit code. */
enum { DLN_RUN_FAIL_NONE = 0, DLN_RUN_FAIL_SPEC, DLN_RUN_FAIL_INPUT, DLN_RUN_FAIL_OUTPUT, DLN_RUN_FAIL_INTERNAL,
       DLN_RUN_FAIL_BUSY /* another run or sweep holds the output folder's lock */ };

typedef struct dln_run_result {
  dln_train_result train;
  int fail_phase;        /* DLN_RUN_FAIL_* when dln_run returns an error */
  int plot;              /* DLN_PLOT_* */
  int plot_exit;         /* exit status of plot.py when DLN_PLOT_FAILED */
  double recon_init, recon_final;  /* ‖Ȳ − W‖/‖Ȳ‖ (factorization), else NAN */
  double loss_init, loss_final; /* the trajectory's first and last loss (NAN without the column; loss_final
                                   then the driver's φ at the end, train.loss) */
  double max_drift;      /* max over samples and j of drift_C_j, NAN if none */
  double loss_threshold; /* threshold used (incl. recon_threshold), negative if off */
  double wall_ms;        /* whole run incl. outputs */
  double checkpoint_t;   /* time of the last checkpoint written or resumed from, NAN if none */
  long checkpoint_step;  /* its step (GD) or integrator steps (flow), -1 if none */
} dln_run_result;

/* One run. Returns DLN_OK when the run finished for any stop reason (check
 * res->train.stop_reason), else an error status with dln_last_error() and
 * res->fail_phase set. opt may be NULL. */
int dln_run(const dln_spec *spec, const dln_run_options *opt, dln_run_result *res);

/* Same, without rendering the figure (plot.py is still written when spec->plot). */
int dln_run_noplot(const dln_spec *spec, const dln_run_options *opt, dln_run_result *res);

/* Continue the interrupted run in spec->out from its checkpoint (docs/resume.md): the
 * spec must be the checkpoint's (dln_run_checkpoint_spec), outputs aside, and the input
 * files unchanged (DLN_ESPEC otherwise, fail_phase DLN_RUN_FAIL_SPEC). Without a
 * checkpoint the run starts over. The outputs are byte-identical to those of an
 * uninterrupted run with the same spec (checkpoint_every included). */
int dln_run_resume(const dln_spec *spec, const dln_run_options *opt, dln_run_result *res);
int dln_run_resume_noplot(const dln_spec *spec, const dln_run_options *opt, dln_run_result *res);
/* The spec of the interrupted run in dir: from dir/checkpoint.json, else from an
 * incomplete dir/summary.json (DLN_EINVAL naming the folder when it is complete, DLN_EIO
 * when there is neither). spec must hold defaults (dln_spec_default). */
int dln_run_resume_spec(const char *dir, dln_spec *spec);
/* Inputs of spec handed in from memory ("mem:" paths, dln/io.h) that this process does not
 * hold (the Python or C ABI process that ran it is gone) are put back from the copies the
 * run folder dir keeps: the task's data files, W_true.npy (target_file of a synthetic
 * task, truth_file), W<j>_init.npy (init_files), imbalance_Lambda<j>.npy and
 * W<j>_disturbance.npy: the same numbers, so the checkpoint's input hashes hold. A mem:
 * input without its copy is left alone (the run then names it). */
int dln_run_resume_memfiles(const char *dir, const dln_spec *spec);

/* The default job: 001 Fig. 1 (§6). Ȳ 5×10 ~ N(0,1); one-layer vs two-layer (10, 50, 5)
 * models, Gaussian init σ ∈ {1e-2, 1e-1, 1} (one-layer started at X(0) = U0 V0^T of the
 * same draw), gradient flow to t = 40 or reconstruction error 1e-6, log-spaced samples.
 * `base` holds user overrides (applied to all six runs; depth, widths, sigma, out and
 * init_product_widths are set per run). Six subfolders of base->out, a combined
 * summary.json, plot.py and figure.png; a table of the runs to `table` (may be NULL).
 * res (may be NULL) receives the combined outcome: the worst stop reason and plot. */
int dln_run_fig1(const dln_spec *base, const dln_run_options *opt, FILE *table, dln_run_result *res);

/* Continue the default job interrupted in base->out (docs/resume.md): base is the spec
 * read back by dln_run_resume_spec (output options aside). The runs the interrupted
 * summary.json lists as finished are kept after their files are checked against the
 * manifest (DLN_ESPEC naming the file when one changed); the interrupted run and the
 * rest are run again. Every subfolder's files are byte-identical to those of an
 * uninterrupted job, and the job keeps its run id. */
int dln_run_fig1_resume(const dln_spec *base, const dln_run_options *opt, FILE *table, dln_run_result *res);

/* *is_job = 1 when dir holds an interrupted default job (its incomplete summary.json has
 * a "job"), 0 for an interrupted single run; errors as dln_run_resume_spec. */
int dln_run_resume_is_job(const char *dir, int *is_job);

/* Apply the default job's settings to a spec (before user overrides). */
int dln_run_fig1_defaults(dln_spec *spec);

#ifdef __cplusplus
}
#endif
#endif
