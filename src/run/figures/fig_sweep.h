/* Helpers of the sweep-based figures (004-ovf, 002-fig2): a sweep run through the library
 * (dln_ensemble_run, all cores) into a subfolder of the figure, its files listed in the
 * figure's manifest, and its JSON outputs read back. */
#ifndef DLN_FIG_SWEEP_H
#define DLN_FIG_SWEEP_H

#include <jansson.h>

#include "dln/ensemble.h"
#include "dln/spec.h"
#include "run/figures/figure_internal.h"

/* Set kv[0..n) (name, value) on a default spec. */
int dln_fig_spec(dln_spec *s, const char *const (*kv)[2], size_t n);
/* Run sweep sw over s into dir/sub (forced); its manifest's files are added to the figure's
 * as sub/...; res may be NULL. */
int dln_fig_sweep(dln_figure_ctx *c, const char *sub, const dln_spec *s, const dln_sweep *sw,
                  dln_ensemble_result *res);
/* dir/sub/name parsed (caller json_decref's), or NULL with an error recorded. */
json_t *dln_fig_load(dln_figure_ctx *c, const char *sub, const char *name);

#endif
