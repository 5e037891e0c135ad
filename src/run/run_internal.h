/* Private helpers of the run layer: the one pipeline builder shared by `dln run`
 * (run.c) and `dln sweep` (ensemble_*.c), the JSON summary and the plot scripts.
 *
 * The builder turns a checked spec into a runnable pipeline in two steps:
 *   dln_run_data_build   the data: drawn from the run's stream, or read from the
 *                        spec's data files (target_file, x_file/y_file, ...);
 *   dln_run_parts_build  the loss of the data, the network and its widths, the init
 *                        (drawn from the same stream, after the data), the training
 *                        options, and the dynamics with its trajectory table: an
 *                        observer for the layer-wise methods, or the end-to-end matrix
 *                        W = W_N···W_1 of a balanced start for e2e_flow / e2e_gd
 *                        (002 Theorem 1);
 * and dln_run_parts_train runs it. A sweep draws each data set once and builds the
 * parts of every run from it, so a sweep row and a `dln run` of the same spec with the
 * data files execute the same code and agree bit for bit (tests/test_ensemble.c). */
#ifndef DLN_RUN_INTERNAL_H
#define DLN_RUN_INTERNAL_H

#include <jansson.h>

#include "core/util.h" /* dln_now_seconds, dln_xcalloc */
#include "dln/e2e.h"
#include "dln/integrator.h"
#include "dln/task.h"
#include "dln/loss.h"
#include "dln/manifest.h"
#include "dln/mat.h"
#include "dln/net.h"
#include "dln/observe.h"
#include "dln/rng.h"
#include "dln/spec.h"
#include "dln/train.h"
#include "io/io_internal.h"

/* ---- the pipeline builder (run.c) ---------------------------------------------------- */

/* The data of one run: the task type's data (dln/task.h). */
typedef dln_task_data dln_run_data;

/* Draw the data of spec s from rng (synthetic data), or read the spec's data files
 * (then rng may be NULL). *phase receives the DLN_RUN_FAIL_* of a failure. */
int dln_run_data_build(const dln_spec *s, dln_rng *rng, dln_run_data *d, int *phase);
void dln_run_data_free(dln_run_data *d);

/* The integrator type of spec's method and whether the system is end-to-end (system e2e,
 * or a method "e2e_<type>"); NULL if not registered (run_select.c). */
const dln_integrator_type *dln_run_method_type(const dln_spec *spec, int *e2e);
/* The task's own check and the refusal of other tasks' options (run_select.c). */
int dln_run_check_task(const dln_spec *spec, const dln_task_type *task, const char **field);


/* What one run needs; everything is owned and freed by dln_run_parts_free. */
typedef struct dln_run_parts {
  dln_loss *loss;
  int *widths, nw;         /* d_0..d_N (nw = N + 1) */
  dln_net *net;
  double *theta, *theta0;  /* weights (state of layer-wise methods) and their init */
  int init_draws;          /* draws of the init (> 1 only with det_sign; 0 without rng) */
  dln_train_options to;    /* checked; progress is the caller's to set */
  double *times;           /* explicit sample times (to.sample_times), merged with 0 and t_end, or NULL */
  int ntimes;
  int e2e;                 /* 1 for e2e_flow / e2e_gd */
  dln_e2e *dyn;            /* e2e: the end-to-end dynamics */
  double *W, *W0;          /* e2e: state W (d_N x d_0) and its start W_{N:1}(0) */
  dln_observer *obs;       /* layer-wise methods */
  dln_table *traj;         /* the trajectory table of the method */
  double *dist;            /* the disturbance D_1..D_N in θ's layout (to.disturbance_D), or NULL */
  dln_rng *noise;          /* disturbance noise, noisy_data: its own stream keyed by (seed, stream) (to.noise_rng), or NULL */
  double *noisy_D;         /* noisy_data: D_k (to.noisy_D), or NULL */
} dln_run_parts;

/* Build run s on data d. With rng: the init is drawn from rng and, for e2e methods,
 * W(0) is taken from the network (an unbalanced start is refused, DLN_EINVAL with the
 * measured unbalancedness); the table has room for the whole run. Without rng (to
 * learn the table's columns): θ = 0, no init, room for one row. On failure *phase is
 * the DLN_RUN_FAIL_* of the step that failed and *p still has to be freed. */
int dln_run_parts_build(const dln_spec *s, const dln_run_data *d, dln_rng *rng, dln_run_parts *p, int *phase);
/* Train (dln_train, or dln_e2e_flow / dln_e2e_gd) into p->traj. */
int dln_run_parts_train(dln_run_parts *p, dln_train_result *res);
void dln_run_parts_free(dln_run_parts *p);
/* The "endpoint" object of a trained run (run_endpoint.c, dln/landscape.h (f)): class,
 * stratum, lambda_min, grad_norm; json null when not applicable. A failure (out of
 * memory, LAPACK) is returned with *out = NULL. */
int dln_run_endpoint_json(const dln_run_parts *p, json_t **out);

/* The data files of d into dir: the task's files (X.npy, ...), W_true.npy, and target.npy
 * for a factorization loss (pipeline.c). */
struct dln_run_files;
int dln_run_data_write(const dln_run_data *d, const dln_loss *loss, const char *dir, struct dln_run_files *files);

/* ---- --observe=layers (run_layers.c) ------------------------------------------------- */
typedef struct dln_run_layers dln_run_layers;
struct dln_run_files;
/* 1 if spec s observes "layers". */
int dln_run_layers_wanted(const dln_spec *s);
/* Room for cap rows of every layer of net (refused above 2 GiB, DLN_EINVAL). */
int dln_run_layers_alloc(dln_run_layers **out, const dln_net *net, size_t cap);
/* Record each sample through to->on_sample (the callback of dln/train.h). */
void dln_run_layers_hook(dln_run_layers *L, dln_train_options *to);
/* W{j}_samples.npy (U_samples.npy when tied) into dir: nrows rows (the trajectory's; the
 * final row from theta when it was not a sample), shape (nrows, d_j, d_{j-1}), C order. */
int dln_run_layers_write(dln_run_layers *L, const char *dir, const double *theta, size_t nrows, struct dln_run_files *files);
void dln_run_layers_free(dln_run_layers *L);
/* ---- the baseline beside a run (baseline.c) ------------------------------------------ */
#include "dln/nuclear.h"
typedef struct dln_run_baseline {
  int on;                  /* solved */
  dln_nuclear_result r;
  double tol;
  int max_iter;
  double dist_true, dist_true_rel; /* ‖W_nuc − W_true‖_F (and / ‖W_true‖_F); NAN without a truth */
  double *W;               /* rows x cols when kept, else NULL */
  double wall;
} dln_run_baseline;
int dln_run_baseline_on(const dln_spec *s);
/* Solve spec s's baseline for loss (nothing when baseline = none; b->on = 0). keep_W: keep
 * the solution in b->W. A failure of the solver is returned (b freed). */
int dln_run_baseline_solve(const dln_spec *s, const dln_loss *loss, int keep_W, dln_run_baseline *b);
void dln_run_baseline_free(dln_run_baseline *b);
/* The summary's "baseline" object (file: the W file in the folder, or NULL). NULL on ENOMEM. */
json_t *dln_run_baseline_json(const dln_run_baseline *b, const char *file);

/* ---- run folders (run_files.c) ------------------------------------------------------- */
struct dln_run_options;

/* The files one run or sweep has committed, relative to its folder, in order (no
 * duplicates). Every writer below adds its file once it is in place, so the manifest
 * lists what was written rather than what is guessed afterwards. files may be NULL. */
typedef struct dln_run_files {
  char **names;
  size_t n, cap;
} dln_run_files;
int dln_run_files_add(dln_run_files *f, const char *name);
/* Add every name of src as "<prefix>/<name>". */
int dln_run_files_add_all(dln_run_files *f, const char *prefix, const dln_run_files *src);
int dln_run_files_has(const dln_run_files *f, const char *name);
void dln_run_files_free(dln_run_files *f);
/* plot.py (the text script) into dir, listed in files; with render, run by dln_plot_render
 * and figure.png / figure.svg listed when written. *plot: DLN_PLOT_*, *plot_exit: its exit
 * status (run_plot.c). Fails only when plot.py cannot be written. */
int dln_run_plot_commit(const char *dir, const char *script, int render, dln_run_files *files, int *plot, int *plot_exit);

int dln_run_write_npy(const char *dir, const char *name, int rows, int cols, const double *data, dln_run_files *files);
int dln_run_write_mat(const char *dir, const char *name, const dln_mat *m, dln_run_files *files); /* nothing for NULL */
/* W{j}_<suffix>.npy for every layer (U_<suffix>.npy for a tied net). */
int dln_run_write_layers(const char *dir, const dln_net *net, const double *theta, const char *suffix, dln_run_files *files);
json_t *dln_run_blas_json(void);                        /* library, config, threads */
void dln_run_gemm_json(json_t *o);                      /* gemm_backend, gemm (dln/gemm.h) */
int dln_run_write_json(const char *dir, const char *name, const json_t *root, dln_run_files *files); /* atomic */
int dln_run_is_cancelled(const struct dln_run_options *opt);

/* ---- the output folder of a run or sweep (run_folder.c) ----------------------------------
 * dln_run_folder_open   after the inputs are read and checked: create the folder, take
 *                       an exclusive lock on DIR/.dln.lock (flock; a second run or sweep
 *                       into the folder fails at once, fail phase DLN_RUN_FAIL_BUSY), read
 *                       the earlier manifest and refuse a folder with outputs unless force;
 * dln_run_folder_begin  just before the first output is written: remove the earlier
 *                       manifest.json and summary.json (the marks of a complete run);
 * dln_run_folder_finish after the last output: remove the files the earlier manifest
 *                       lists that this run did not write (never any other file), then
 *                       write manifest.json listing f->files, complete = true;
 * dln_run_folder_close  release the lock (the lock file stays; it is never listed). */
typedef struct dln_run_folder {
  const char *dir;
  int lock_fd;               /* -1 when not locked */
  int manifest;              /* 0: write no manifest (a shard of a sweep) */
  dln_manifest *old;         /* the earlier run's manifest, or NULL */
  char run_id[DLN_RUN_ID_LEN + 1];
  dln_run_files files;       /* committed so far */
} dln_run_folder;
#define DLN_RUN_LOCK_NAME ".dln.lock"
/* known: the top-level names that mark outputs of an earlier run (NULL-terminated), or
 * NULL for every name dln writes; lock_name: NULL for DLN_RUN_LOCK_NAME (a shard of a
 * sweep takes its own, so shards can share a folder). *phase receives the
 * DLN_RUN_FAIL_* of a failure. */
int dln_run_folder_open(dln_run_folder *f, const char *dir, int force, const char *const *known, const char *lock_name,
                        int *phase);
int dln_run_folder_begin(dln_run_folder *f);
/* Remove the temporary files a killed writer left in the locked folder f (and in its
 * subfolders down to depth more levels, not through symbolic links): regular files named
 * <name>.tmp.XXXXXX (io/afile.c's pattern: six letters or digits). Only for a folder no
 * other process writes into while f's lock is held (a run's own folder, an unsharded
 * sweep's). *removed (may be NULL): how many. */
int dln_run_folder_remove_debris(dln_run_folder *f, int depth, int *removed);
int dln_run_folder_finish(dln_run_folder *f, const char *kind, int complete); /* complete = 0: an interrupted run */
void dln_run_folder_close(dln_run_folder *f);

/* A run inside a job that owns the folder (the default job's runs, a sweep's data sets):
 * no lock, no manifest; its summary.json gets run_id and files receives the names it
 * wrote (relative to spec->out). */
struct dln_run_result;
int dln_run_nested(const dln_spec *spec, const struct dln_run_options *opt, struct dln_run_result *res, int render,
                   const char *run_id, dln_run_files *files);
/* ---- checkpoints (checkpoint.c, docs/resume.md) ---------------------------------------- */
typedef struct dln_run_ckpt {
  dln_train_checkpoint cp; /* cp.x points into state */
  dln_mat *state, *traj;   /* traj: ncols x nrows (the table's row-major rows) */
  int has_rng;             /* checkpoint.json's "rng" was a stream state (a noise run), in rng */
  uint32_t rng[DLN_RNG_STATE_WORDS];
} dln_run_ckpt;
/* DIR/checkpoint.state.npy, .traj.npy (the rows of traj so far), then checkpoint.json,
 * with noise's stream state as "rng" (null without one). */
int dln_run_checkpoint_write(const char *dir, const dln_spec *spec, const dln_table *traj, const dln_train_checkpoint *cp,
                             const dln_rng *noise);
/* Read and verify (arrays against the header, spec and input files against the run). */
int dln_run_checkpoint_read(const char *dir, const dln_spec *spec, dln_run_ckpt *k);
void dln_run_ckpt_free(dln_run_ckpt *k);
int dln_run_checkpoint_exists(const char *dir);
/* dir/summary.json of an interrupted run or job (*out: a new reference); DLN_EINVAL when
 * it is complete, DLN_EIO when absent, DLN_EFORMAT when not JSON. */
int dln_run_incomplete_summary(const char *dir, json_t **out);
int dln_run_checkpoint_remove(const char *dir); /* absent files are fine */

/* ---- JSON and plots (io/io_internal.h: dln_json_*, dln_train_counters_json, dln_plot_*) - */

/* The resolved spec as a JSON object (non-finite numbers as null). NULL on ENOMEM. */
json_t *dln_spec_to_json(const dln_spec *spec);

#endif
