/* Sweeps (dln/ensemble.h): the axes of a sweep and the overrides of each run, checked
 * with the options' own parsers. */
#include "dln/ensemble.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "dln/error.h"
#include "run/ensemble_common.h"
#include "run/spec_internal.h"

void dln_sweep_init(dln_sweep *sw) {
  if (sw) memset(sw, 0, sizeof *sw);
}

static void value_free(dln_sweep_value *v) {
  for (int i = 0; i < v->n; ++i) {
    free(v->names[i]);
    free(v->values[i]);
  }
  free(v->names);
  free(v->values);
  memset(v, 0, sizeof *v);
}

void dln_sweep_free(dln_sweep *sw) {
  if (!sw) return;
  for (int a = 0; a < sw->naxes; ++a) {
    for (int i = 0; i < sw->axes[a].n; ++i) value_free(&sw->axes[a].v[i]);
    free(sw->axes[a].v);
    free(sw->axes[a].key);
  }
  free(sw->axes);
  memset(sw, 0, sizeof *sw);
}

/* Check one override with the option's own parser (on a scratch spec). */
static int check_value(dln_spec *scratch, const char *name, const char *value) {
  const char *why;
  const dln_spec_option *o = dln_spec_sweep_option(name, &why);
  if (!o) return dln_error(DLN_ESPEC, "sweep field \"%s\": %s", name, why);
  return dln_spec_set(scratch, o->name, value) ? DLN_ESPEC : DLN_OK;
}

/* Is `name` set by an axis other than `except`? */
static int swept_elsewhere(const dln_sweep *sw, const char *name, int except) {
  for (int a = 0; a < sw->naxes; ++a) {
    if (a == except) continue;
    const dln_sweep_axis *ax = &sw->axes[a];
    for (int i = 0; i < ax->n; ++i)
      for (int j = 0; j < ax->v[i].n; ++j)
        if (strcmp(ax->v[i].names[j], name) == 0) return 1;
  }
  return 0;
}

static dln_sweep_axis *new_axis(dln_sweep *sw, const char *key) {
  dln_sweep_axis *ax = realloc(sw->axes, (size_t)(sw->naxes + 1) * sizeof *ax);
  if (!ax) return NULL;
  sw->axes = ax;
  ax = &sw->axes[sw->naxes];
  memset(ax, 0, sizeof *ax);
  if (!(ax->key = strdup(key))) return NULL;
  ++sw->naxes;
  return ax;
}

static int value_set(dln_sweep_value *v, int n, const char *const *names, const char *const *values) {
  v->n = 0;
  v->names = calloc((size_t)(n ? n : 1), sizeof *v->names);
  v->values = calloc((size_t)(n ? n : 1), sizeof *v->values);
  if (!v->names || !v->values) return DLN_ENOMEM;
  for (int i = 0; i < n; ++i) {
    v->names[i] = strdup(names[i]);
    v->values[i] = strdup(values[i]);
    ++v->n;
    if (!v->names[i] || !v->values[i]) return DLN_ENOMEM;
  }
  return DLN_OK;
}

int dln_sweep_add_axis(dln_sweep *sw, const char *name, int n, const char *const *values) {
  if (!sw || !name || (n > 0 && !values)) return dln_error(DLN_EINVAL, "dln_sweep_add_axis: NULL argument");
  if (strcmp(name, "runs") == 0) return dln_error(DLN_ESPEC, "sweep field \"runs\": use dln_sweep_add_run");
  if (n < 1) return dln_error(DLN_ESPEC, "sweep field \"%s\": expected a non-empty list of values, found none", name);
  dln_spec scratch;
  int st = dln_spec_default(&scratch);
  if (st) return st;
  for (int i = 0; i < n && !st; ++i) st = check_value(&scratch, name, values[i]);
  dln_spec_free(&scratch);
  if (st) return st;
  if (swept_elsewhere(sw, name, -1)) return dln_error(DLN_ESPEC, "sweep field \"%s\": swept twice", name);
  dln_sweep_axis *ax = new_axis(sw, name);
  if (!ax) return dln_error(DLN_ENOMEM, "out of memory");
  if (!(ax->v = calloc((size_t)n, sizeof *ax->v))) return dln_error(DLN_ENOMEM, "out of memory");
  for (int i = 0; i < n; ++i) {
    ax->n = i + 1;
    if (value_set(&ax->v[i], 1, &name, &values[i])) return dln_error(DLN_ENOMEM, "out of memory");
  }
  return DLN_OK;
}

int dln_sweep_add_range(dln_sweep *sw, const char *name, int64_t from, long count, int64_t step) {
  if (!sw || !name) return dln_error(DLN_EINVAL, "dln_sweep_add_range: NULL argument");
  if (count < 1 || count > DLN_SWEEP_MAXRUNS)
    return dln_error(DLN_ESPEC, "sweep field \"%s\": expected a count in 1..%ld, found %ld", name, DLN_SWEEP_MAXRUNS, count);
  int64_t span, last; /* from + (count − 1)·step must be a 64-bit integer (no signed overflow) */
  if (__builtin_mul_overflow((int64_t)(count - 1), step, &span) || __builtin_add_overflow(from, span, &last))
    return dln_error(DLN_ESPEC, "sweep field \"%s\": expected from + (count - 1)*step within 64-bit integers, found from %" PRId64
                     ", count %ld, step %" PRId64, name, from, count, step);
  char **vals = calloc((size_t)count, sizeof *vals);
  if (!vals) return dln_error(DLN_ENOMEM, "out of memory");
  int st = DLN_OK;
  for (long i = 0; i < count && !st; ++i)
    if (!(vals[i] = xasprintf("%" PRId64, from + (int64_t)i * step))) st = dln_error(DLN_ENOMEM, "out of memory");
  if (!st) st = dln_sweep_add_axis(sw, name, (int)count, (const char *const *)vals);
  for (long i = 0; i < count; ++i) free(vals[i]);
  free(vals);
  return st;
}

int dln_sweep_add_run(dln_sweep *sw, int n, const char *const *names, const char *const *values) {
  if (!sw || (n > 0 && (!names || !values))) return dln_error(DLN_EINVAL, "dln_sweep_add_run: NULL argument");
  int a = 0;
  while (a < sw->naxes && strcmp(sw->axes[a].key, "runs") != 0) ++a;
  dln_spec scratch;
  int st = dln_spec_default(&scratch);
  if (st) return st;
  for (int i = 0; i < n && !st; ++i) {
    st = check_value(&scratch, names[i], values[i]);
    if (!st && swept_elsewhere(sw, names[i], a))
      st = dln_error(DLN_ESPEC, "sweep field \"%s\": swept twice (in \"runs\" and as an axis)", names[i]);
    for (int j = 0; j < i && !st; ++j)
      if (strcmp(names[i], names[j]) == 0) st = dln_error(DLN_ESPEC, "sweep field \"%s\": given twice in one run", names[i]);
  }
  dln_spec_free(&scratch);
  if (st) return st;
  dln_sweep_axis *ax = a < sw->naxes ? &sw->axes[a] : new_axis(sw, "runs");
  if (!ax) return dln_error(DLN_ENOMEM, "out of memory");
  dln_sweep_value *v = realloc(ax->v, (size_t)(ax->n + 1) * sizeof *v);
  if (!v) return dln_error(DLN_ENOMEM, "out of memory");
  ax->v = v;
  memset(&ax->v[ax->n], 0, sizeof *v);
  ++ax->n;
  if (value_set(&ax->v[ax->n - 1], n, names, values)) return dln_error(DLN_ENOMEM, "out of memory");
  return DLN_OK;
}

long dln_sweep_nruns(const dln_sweep *sw) {
  DLN_ARGS_V(0, sw);
  long n = 1;
  for (int a = 0; a < sw->naxes; ++a) {
    if (sw->axes[a].n < 1) return 0;
    if (n > DLN_SWEEP_MAXRUNS / sw->axes[a].n) return -1;
    n *= sw->axes[a].n;
  }
  return n;
}
