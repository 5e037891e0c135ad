/* Private helpers of the io layer used by the run layer: JSON output of run summaries
 * (summary.c) and the matplotlib plot scripts (plot.c). Depends on nothing above io;
 * run/run_internal.h includes it. */
#ifndef DLN_IO_INTERNAL_H
#define DLN_IO_INTERNAL_H

#include <jansson.h>

#include "dln/train.h"
#include "io/json_util.h"

/* ---- JSON (summary.c) ---------------------------------------------------------------- */

/* A number for JSON: json_real, or null when not finite. */
json_t *dln_json_num(double x);

/* The integrator statistics of a training run: integrator, steps, attempted, rejected,
 * grad_evals, jtv_evals, nonlin_iters, lin_iters, nonlin_fails, switched_at (null if
 * none), wall_seconds. */
json_t *dln_train_counters_json(const dln_train_result *tr);

/* Write a JSON value to path atomically (indent 2, 17 significant digits). A NULL root (a
 * builder that ran out of memory, json_util.h) is DLN_ENOMEM naming path; nothing is written. */
int dln_json_write(const char *path, const json_t *root);

/* ---- arrays (npy.c) -------------------------------------------------------------------- */

/* An ndim-dimensional array (shape[0..ndim), 1 ≤ ndim ≤ 8) as .npy in C order (fortran_order
 * False), atomically: shape[0] slices of `slice` = shape[1]···shape[ndim−1] doubles, slice k
 * at data + k·stride. */
int dln_npy_write_strided(const char *path, int ndim, const size_t *shape, const double *data, size_t stride,
                          size_t slice);

/* ---- plot scripts (plot.c) ------------------------------------------------------------ */

/* plot.py for a single run in folder dir (reads trajectory.csv beside it). */
int dln_plot_write_single(const char *dir, const char *title);

/* plot.py for the default job: recon error of all runs, singular values of one. */
typedef struct dln_plot_run {
  const char *subdir, *label;
} dln_plot_run;
int dln_plot_write_multi(const char *dir, const char *title, const dln_plot_run *runs, int nruns, int sv_run);

/* Run /usr/bin/python3 DIR/plot.py with MPLBACKEND=Agg; returns DLN_PLOT_* (dln/io.h)
 * and the exit status in *exit_status. */
int dln_plot_render(const char *dir, int *exit_status);

#endif
