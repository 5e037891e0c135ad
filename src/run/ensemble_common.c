/* What the sweep's files share (ensemble_common.h): the default options, the spec of run k,
 * its overrides, its data and data key, its expansion (checked as its rerun line would
 * be), and a run's error. */
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

void dln_ensemble_default_options(dln_ensemble_options *opt) {
  if (!opt) return;
  memset(opt, 0, sizeof *opt);
  opt->write_outputs = 1;
}

/* Options that describe the data (a data set is drawn once per distinct value of these
 * plus data_seed). */
static const char *const data_fields[] = {"task",   "target",   "rows",     "cols",  "rank",        "singular_values",
                                          "target_sigma", "symmetric_target", "n_samples", "x_rank", "noise", "m",
                                          "target_file",  "x_file", "y_file", "a_file", "b_file", "entries_file"};

/* The override set of run k, axis by axis (last axis fastest). */
static char *data_key(const dln_spec *s, uint64_t data_seed, uint64_t data_stream) {
  size_t cap = 256, len = 0;
  char *key = malloc(cap), buf[4096];
  if (!key) return NULL;
  len = (size_t)snprintf(key, cap, "%llu/%llu", (unsigned long long)data_seed, (unsigned long long)data_stream);
  for (size_t i = 0; i < sizeof data_fields / sizeof *data_fields; ++i) {
    const dln_spec_option *o = dln_spec_find(data_fields[i]);
    dln_spec_value_text(s, o, buf, sizeof buf);
    size_t need = len + strlen(buf) + 2;
    if (need > cap) {
      while (need > cap) cap *= 2;
      char *nk = realloc(key, cap);
      if (!nk) {
        free(key);
        return NULL;
      }
      key = nk;
    }
    key[len++] = '|';
    memcpy(key + len, buf, strlen(buf) + 1);
    len += strlen(buf);
  }
  return key;
}

void dln_ens_expand_task(ens *E, long k) {
  ens_slot *sl = &E->slot[k];
  dln_spec s;
  uint64_t ds;
  sl->expanded = 1;
  int rst = dln_ens_make_spec(E, k, &s, &ds);
  if (rst) {
    dln_ens_set_run_error(sl, rst, k);
    return;
  }
  sl->seed = s.seed;
  sl->stream = s.stream;
  /* as `dln run` would check the run's rerun line (the base at its origin, the run's
   * overrides on the command line): an option of the base that no run reads is refused */
  if ((rst = dln_spec_check(&s)) || (rst = dln_spec_check_unused(&s))) {
    dln_ens_set_run_error(sl, rst, k);
  } else {
    sl->data_seed = ds;
    if (!(sl->data_key = data_key(&s, ds, E->base->stream))) sl->expand_st = DLN_ENOMEM;
  }
  dln_spec_free(&s);
}
