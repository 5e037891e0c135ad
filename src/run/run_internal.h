/* Private helpers of the run layer (JSON summary and plot scripts). */
#ifndef DLN_RUN_INTERNAL_H
#define DLN_RUN_INTERNAL_H

#include <jansson.h>

#include "dln/spec.h"

/* The resolved spec as a JSON object (non-finite numbers as null). NULL on ENOMEM. */
json_t *dln_spec_to_json(const dln_spec *spec);

/* A number for JSON: json_real, or null when not finite. */
json_t *dln_json_num(double x);

/* Write a JSON value to path atomically (indent 2, 17 significant digits). */
int dln_json_write(const char *path, const json_t *root);

/* plot.py for a single run in folder dir (reads trajectory.csv beside it). */
int dln_plot_write_single(const char *dir, const char *title);

/* plot.py for the default job: recon error of all runs, singular values of one. */
typedef struct dln_plot_run {
  const char *subdir, *label;
} dln_plot_run;
int dln_plot_write_multi(const char *dir, const char *title, const dln_plot_run *runs, int nruns, int sv_run);

/* Run /usr/bin/python3 DIR/plot.py with MPLBACKEND=Agg; returns DLN_PLOT_* and the
 * exit status in *exit_status. */
int dln_plot_render(const char *dir, int *exit_status);

#endif
