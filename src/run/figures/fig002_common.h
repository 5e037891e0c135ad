/* Helpers shared by the 002 figures (fig002_*.c): one `dln run` job through the library
 * into the figure's folder, and columns of its trajectory by name. */
#ifndef DLN_FIG002_COMMON_H
#define DLN_FIG002_COMMON_H

#include "run/figures/figure_internal.h"

/* Run the spec given as n (key, value) pairs into dir/<sub> (quiet, no plot, force), its
 * files listed as <sub>/... in the figure's manifest; *rr gets the run's result. */
int fig002_run(dln_figure_ctx *c, const char *sub, const char *const (*kv)[2], int n, dln_run_result *rr);

#endif
