/* dln/abi.h — the small, versioned C ABI for bindings (Python's `import dln`, docs/python.md).
 *
 * Bindings see opaque handles and plain C types only, never a struct layout: a job is a
 * run described by options set by name as text (exactly the command line's --name=value,
 * so the same checks and messages), arrays handed in by pointer and shape, and results
 * read back by pointer and shape. A job runs the pipeline of `dln run` (dln_run, into its
 * folder `out`), so a run through the ABI and the CLI's run of the same options and data
 * agree bit for bit; or builds the run's loss, network and initial weights without
 * training (dln_job_build), to evaluate gradients and Hessian-vector products with
 * dln_net_grad / dln_net_hvp (dln/net.h) or to train in memory with a per-sample callback
 * (dln_job_train). Errors: a DLN_* status, the message in dln_last_error() (per thread)
 * and, for runs, the phase that failed (dln_job_fail_phase: DLN_RUN_FAIL_*).
 *
 * Threads: a job is used by one thread at a time; different jobs may run at once on
 * different threads (a binding releases its interpreter lock during dln_job_run and
 * dln_job_train). dln_job_cancel may be called from any thread at any time: the running
 * job stops at its next step boundary (within ~0.1 s) with stop reason "cancelled",
 * writing the partial outputs an interrupted `dln run` writes.
 *
 * Arrays in (dln_job_set_array) are copied; results (dln_job_table, dln_job_layer) point
 * into the job and stay valid until the next run, build or dln_job_free. Matrices are
 * column-major (Fortran order); the trajectory table is row-major (one row per sample).
 *
 * A NULL job or an index out of range: statuses are DLN_EINVAL; accessors return 0, −1,
 * NaN or NULL as their type allows, with the message recorded (tests/test_args.c). */
#ifndef DLN_ABI_H
#define DLN_ABI_H

#include <stddef.h>

#include "dln/loss.h"
#include "dln/net.h"
#include "dln/train.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The ABI's version: incremented on any incompatible change of the functions below. */
#define DLN_ABI_VERSION 1
int dln_abi_version(void);
/* The library's version text ("0.2.0"). */
const char *dln_abi_library_version(void);

typedef struct dln_job dln_job;

/* A job with every option at its default (those of `dln run --help`). */
int dln_job_alloc(dln_job **out);
void dln_job_free(dln_job *job); /* its in-memory arrays are dropped */

/* Set an option from its text, as `dln run --name=value` would (messages "option --name:
 * expected ..., found ..."). DLN_ESPEC for an unknown name. */
int dln_job_set(dln_job *job, const char *name, const char *value);
/* The option's value as text into buf (len ≥ 1); DLN_ESPEC for an unknown name. */
int dln_job_get(const dln_job *job, const char *name, char *buf, size_t len);
/* Read the options of a JSON spec file over the current ones (messages "file:line:col: ..."). */
int dln_job_read_json(dln_job *job, const char *path);

/* Hand in a matrix for a data-file option: `option` is a *_file option (target_file,
 * x_file, y_file, a_file, b_file, entries_file, ...; item 0) or an item of a *_files list
 * (init_files, disturbance_files, imbalance_reg_file: item 0, 1, ... in order; the list is
 * set to the items handed in so far). rows x cols doubles at data, column-major when
 * row_major = 0, C order when 1 (a NumPy array's default). The option then reads as
 * "mem:<job>/<option>[.<item>]" (dln/io.h); the run's folder holds the data and initial
 * weights as .npy files like any run. */
int dln_job_set_array(dln_job *job, const char *option, int item, int rows, int cols, const double *data,
                      int row_major);

/* Check the options (dln_spec_check and the refusal of options that would have no
 * effect, as `dln run`) and run into the folder `out`: DLN_OK when the run finished for
 * any stop reason (dln_job_stop_reason), else a status (dln_job_fail_phase). */
int dln_job_run(dln_job *job);
/* Stop a running dln_job_run / dln_job_train at its next step boundary (any thread). */
int dln_job_cancel(dln_job *job);
/* DLN_RUN_FAIL_* of the last failed run (0 after a success); DLN_STOP_* of the last run
 * (−1 before any) and its name ("converged", "diverged", ...). */
int dln_job_fail_phase(const dln_job *job);
int dln_job_stop_reason(const dln_job *job);
const char *dln_job_stop_name(const dln_job *job);
/* Why the last run or training stopped, in words ("" before any). */
const char *dln_job_message(const dln_job *job);

/* The last run's trajectory (dln_job_run or dln_job_train): nrows x ncols doubles in C
 * order, its column names; the text of summary.json (dln_job_run only, else NULL). */
size_t dln_job_nrows(const dln_job *job);
int dln_job_ncols(const dln_job *job);
const char *dln_job_col_name(const dln_job *job, int i); /* NULL out of range */
const double *dln_job_table(const dln_job *job);
const char *dln_job_summary(const dln_job *job);

/* The layers of the last run or build: which = 0 the initial weights, 1 the final ones
 * (an end-to-end method's final state is one matrix W, nlayers 1). Layer j = 1..n:
 * shape and a pointer to its column-major values. A tied net has one layer, U. */
enum { DLN_JOB_INITIAL = 0, DLN_JOB_FINAL = 1 };
int dln_job_nlayers(const dln_job *job, int which);
int dln_job_layer(const dln_job *job, int which, int j, int *rows, int *cols, const double **data);

/* Build the job's loss (its task and data), network (widths) and initial weights (init),
 * exactly as a run would, without training. The loss and net are the job's (valid until
 * the next build or run, or dln_job_free); use one job per thread. */
int dln_job_build(dln_job *job);
dln_loss *dln_job_loss(const dln_job *job); /* NULL before a build */
dln_net *dln_job_net(const dln_job *job);   /* NULL before a build */

/* Build (dln_job_build) and train in memory (no folder, no files written) from the built
 * initial weights (to start from given weights, hand them in as init_files with init
 * file), with the job's training options and observers, calling on_sample (may be NULL)
 * at every sample time with the state θ (dln/train.h dln_sample_fn: nonzero stops the run,
 * stop reason cancelled). Results: the trajectory, the initial and final layers, and a
 * JSON summary of the stop and counters (dln_job_summary). Layer-wise methods only. */
int dln_job_train(dln_job *job, dln_sample_fn on_sample, void *ctx);

/* Plain accessors of a network for bindings (dln/net.h without its struct layout):
 * the depth N (−1 for NULL), the length of θ (0 for NULL), and layer j's shape and offset
 * in θ (a tied net's layer 1 is U^T and shares U's storage: offset of U, rows/cols of U^T). */
int dln_abi_net_depth(const dln_net *net);
size_t dln_abi_net_nparams(const dln_net *net);
int dln_abi_net_layer(const dln_net *net, int j, int *rows, int *cols, size_t *offset);
/* A loss's W shape (rows = d_N, cols = d_0), −1 for NULL, and its optimal value (NAN if unknown). */
int dln_abi_loss_rows(const dln_loss *loss);
int dln_abi_loss_cols(const dln_loss *loss);
double dln_abi_loss_lstar(const dln_loss *loss);

/* ---- the commands beside a run (src/abi/tools.c; Python's dln.check, dln.sweep, dln.figure) ---- */

/* `dln check DIR`: every applicable result on the run (or sweep) folder dir, written to
 * dir/check.json (docs/check.md); slack / tol <= 0: the defaults (slack 1e4, tol = slack·rtol).
 * DLN_OK when the folder could be read: *ninconsistent integrity rows and *nviolated theory
 * rows failed (a tampered folder: *ninconsistent > 0); else DLN_EIO / DLN_EFORMAT naming the file. */
int dln_abi_check(const char *dir, double slack, double tol, int *ninconsistent, int *nviolated);

/* `dln sweep PATH`: the runs of the "sweep" object of the JSON file path over the job's
 * options as the base run (set them from the same file with dln_job_read_json, then any
 * overrides), into the job's out, on threads threads (0: online CPUs), flags a set of
 * DLN_ABI_SWEEP_*. counts (6 longs): runs selected, complete, failed, diverged, cancelled
 * (1 when dln_job_cancel stopped it: no ensemble file, the finished runs kept for resume),
 * and the DLN_RUN_FAIL_* phase of a failure. DLN_OK when the sweep ran (see the counts). */
enum { DLN_ABI_SWEEP_SAVE_WEIGHTS = 1, DLN_ABI_SWEEP_WIDE = 2, DLN_ABI_SWEEP_PLOT = 4 };
int dln_job_sweep(dln_job *job, const char *path, int threads, int flags, long *counts);

/* The figures of `dln figure --list`: the name of figure i (0..), NULL out of range. */
const char *dln_abi_figure_name(int i);
/* `dln figure NAME --out DIR`: flags a set of DLN_ABI_FIGURE_*; counts (5 ints): verdicts
 * holding, failing, not checked, the DLN_PLOT_* of the rendering (dln/io.h) and the
 * DLN_RUN_FAIL_* phase of a failure. Not cancellable (see dln_job_figure). */
enum { DLN_ABI_FIGURE_QUICK = 1, DLN_ABI_FIGURE_FORCE = 2, DLN_ABI_FIGURE_NO_RENDER = 4 };
int dln_abi_figure(const char *name, const char *dir, int flags, int *counts);
/* dln_abi_figure, cancellable: dln_job_cancel(job) from any thread stops the figure (its
 * runs at their next step boundary, its sweeps after the runs in progress); then nothing is
 * committed (no manifest.json) and the status is DLN_OK. counts (6 ints): those of
 * dln_abi_figure, then 1 when cancelled. Only the job's cancel flag is used. */
int dln_job_figure(dln_job *job, const char *name, const char *dir, int flags, int *counts);

#ifdef __cplusplus
}
#endif
#endif
