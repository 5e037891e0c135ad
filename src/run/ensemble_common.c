/* What the sweep's files share (ensemble_common.h): the spec of run k, its overrides and
 * its data, and a run's error. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dln/error.h"
#include "run/ensemble_common.h"
#include "run/run_internal.h"
#include "run/spec_internal.h"

const dln_sweep_value *dln_ens_run_value(const dln_sweep *sw, long k, int axis) {
  long r = k;
  for (int a = sw->naxes - 1; a > axis; --a) r /= sw->axes[a].n;
  return &sw->axes[axis].v[r % sw->axes[axis].n];
}

/* Value of override `name` in run k, or NULL. */
const char *dln_ens_run_override(const dln_sweep *sw, long k, const char *name) {
  for (int a = 0; a < sw->naxes; ++a) {
    const dln_sweep_value *v = dln_ens_run_value(sw, k, a);
    for (int j = 0; j < v->n; ++j)
      if (strcmp(v->names[j], name) == 0) return v->values[j];
  }
  return NULL;
}

/* The spec of run k (without the data files): base + overrides + seed/stream rule. */
int dln_ens_make_spec(const ens *E, long k, dln_spec *s, uint64_t *data_seed) {
  int st = dln_spec_copy(s, E->base);
  if (st) return st;
  /* a sweep's runs each use one BLAS thread (the pool is the parallelism, and
   * openblas_set_num_threads must not be called from the workers); the rerun lines say so */
  s->blas_threads = 1;
  *data_seed = E->base->seed;
  for (int a = 0; a < E->sw->naxes && !st; ++a) {
    const dln_sweep_value *v = dln_ens_run_value(E->sw, k, a);
    for (int j = 0; j < v->n && !st; ++j) {
      if (strcmp(v->names[j], "data_seed") == 0) {
        unsigned long long x = strtoull(v->values[j], NULL, 10);
        *data_seed = (uint64_t)x;
      } else {
        st = dln_spec_set(s, v->names[j], v->values[j]);
      }
    }
  }
  if (!st && !dln_ens_run_override(E->sw, k, "seed") && !dln_ens_run_override(E->sw, k, "stream")) s->stream = E->base->stream + (uint64_t)k;
  if (st) dln_spec_free(s);
  return st;
}

/* Put the data set's file fields into run k's spec. */
int dln_ens_apply_data(const ens_data *d, dln_spec *s) {
  for (int i = 0; i < d->nfile; ++i) {
    int st = dln_spec_set(s, d->fname[i], d->fpath[i]);
    if (st) return st;
  }
  return DLN_OK;
}

void dln_ens_set_run_error(ens_slot *sl, int st, long k) {
  sl->status = st ? st : DLN_EINVAL;
  free(sl->error);
  sl->error = xasprintf("run %ld: %s", k, dln_last_error());
}

