/* Ensembles: many independent runs of one spec on a pool of POSIX threads, merged into
 * one table in run order (dln/ensemble.h; docs/cli.md "Sweeps").
 *
 * Phases, all driven from the calling thread:
 *   1. expand the sweep: per run its overrides, (seed, stream), data set and a checked
 *      spec (errors stay with the run);
 *   2. draw each data set of the sweep once, with `dln run`'s own code (dln_run_noplot
 *      into OUT/data/<i>, a one-step run), and load it;
 *   3. the table's columns: the union of the observer columns of every run of the whole
 *      sweep (so every shard has the same header; built from one net + observer per
 *      distinct shape), known before any run starts, so rows are streamed to
 *      ensemble.csv in run order while later runs still train;
 *   4. the runs on the pool; each worker builds its net, loss, observer, table per run.
 *
 * The per-run pipeline (loss from the data, widths, init, training options, dynamics and
 * table) is run.c's builder (run_internal.h), and the data sets are read back with its
 * data code, so a run repeated by `dln run` with the data files executes the same code;
 * tests/test_ensemble.c checks that it gives the same rows bit for bit. */
#include "dln/ensemble.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cblas.h>
#include <jansson.h>

#include "dln/error.h"
#include "dln/io.h"
#include "dln/net.h"
#include "dln/observe.h"
#include "dln/rng.h"
#include "dln/run.h"
#include "dln/train.h"
#include "dln_version.h"
#include "run/run_internal.h"
#include "run/spec_internal.h"

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static char *xstrdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = malloc(n);
  if (p) memcpy(p, s, n);
  return p;
}

static char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xasprintf(const char *fmt, ...) {
  va_list ap, aq;
  va_start(ap, fmt);
  va_copy(aq, ap);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  char *p = n >= 0 ? malloc((size_t)n + 1) : NULL;
  if (p) vsnprintf(p, (size_t)n + 1, fmt, aq);
  va_end(aq);
  return p;
}

/* ---- sweeps ----------------------------------------------------------------------- */

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
  if (!(ax->key = xstrdup(key))) return NULL;
  ++sw->naxes;
  return ax;
}

static int value_set(dln_sweep_value *v, int n, const char *const *names, const char *const *values) {
  v->n = 0;
  v->names = calloc((size_t)(n ? n : 1), sizeof *v->names);
  v->values = calloc((size_t)(n ? n : 1), sizeof *v->values);
  if (!v->names || !v->values) return DLN_ENOMEM;
  for (int i = 0; i < n; ++i) {
    v->names[i] = xstrdup(names[i]);
    v->values[i] = xstrdup(values[i]);
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
  if (!sw) return 0;
  long n = 1;
  for (int a = 0; a < sw->naxes; ++a) {
    if (sw->axes[a].n < 1) return 0;
    if (n > DLN_SWEEP_MAXRUNS / sw->axes[a].n) return -1;
    n *= sw->axes[a].n;
  }
  return n;
}

/* ---- options ---------------------------------------------------------------------- */

void dln_ensemble_default_options(dln_ensemble_options *opt) {
  memset(opt, 0, sizeof *opt);
  opt->write_outputs = 1;
}

/* ---- ensemble state ----------------------------------------------------------------- */

/* Options that describe the data (a data set is drawn once per distinct value of these
 * plus data_seed). */
static const char *const data_fields[] = {"task",   "target",   "rows",     "cols",  "rank",        "singular_values",
                                          "target_sigma", "symmetric_target", "n_samples", "x_rank", "noise", "m",
                                          "target_file",  "x_file", "y_file", "a_file", "b_file", "entries_file"};

typedef struct ens_data {
  char *key, *dir;
  long rep;          /* a run that uses it */
  uint64_t seed;
  int status;
  char *error;
  dln_run_data data;   /* loaded once, shared (read-only) by the runs */
  /* the overrides that point a run at the files */
  int nfile;
  const char *fname[2];
  char *fpath[2];
} ens_data;

typedef struct ens_shape {
  char *key;
  int ncols;
  int *inv; /* inv[j] = observer column of union column j, or -1 */
} ens_shape;

typedef struct ens_slot {
  int status;          /* DLN_OK, or the error that stopped the run */
  char *error;
  int queued, done;
  dln_train_result train;
  dln_table *traj;     /* freed once written */
  double wall;
  int data;            /* data set index, -1 if none */
  int shape;
  uint64_t seed, stream;
} ens_slot;

typedef struct ens {
  const dln_spec *base;
  const dln_sweep *sw;
  const dln_ensemble_options *opt;
  const char *out;
  long nruns;
  ens_slot *slot;
  char *sel;           /* selected (this shard) */
  ens_data *data;
  int ndata;
  ens_shape *shape;
  int nshape;
  /* union of observer columns */
  char **cols;
  int ncols;
  /* swept parameter columns (other than seed, stream, data_seed) */
  char **params;
  int nparams;
  int data_seed_swept;
  /* pool */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  long *tasks;
  long ntasks, next, ndone, nfailed;
  atomic_int cancel;
  int phase;           /* 1: data sets, 2: runs */
  long prefailed;      /* selected runs that failed before phase 2 */
  struct ens_out *outs;
} ens;

/* The override set of run k, axis by axis (last axis fastest). */
static const dln_sweep_value *run_value(const dln_sweep *sw, long k, int axis) {
  long r = k;
  for (int a = sw->naxes - 1; a > axis; --a) r /= sw->axes[a].n;
  return &sw->axes[axis].v[r % sw->axes[axis].n];
}

/* Value of override `name` in run k, or NULL. */
static const char *run_override(const dln_sweep *sw, long k, const char *name) {
  for (int a = 0; a < sw->naxes; ++a) {
    const dln_sweep_value *v = run_value(sw, k, a);
    for (int j = 0; j < v->n; ++j)
      if (strcmp(v->names[j], name) == 0) return v->values[j];
  }
  return NULL;
}

/* The spec of run k (without the data files): base + overrides + seed/stream rule. */
static int make_spec(const ens *E, long k, dln_spec *s, uint64_t *data_seed) {
  int st = dln_spec_copy(s, E->base);
  if (st) return st;
  *data_seed = E->base->seed;
  for (int a = 0; a < E->sw->naxes && !st; ++a) {
    const dln_sweep_value *v = run_value(E->sw, k, a);
    for (int j = 0; j < v->n && !st; ++j) {
      if (strcmp(v->names[j], "data_seed") == 0) {
        unsigned long long x = strtoull(v->values[j], NULL, 10);
        *data_seed = (uint64_t)x;
      } else {
        st = dln_spec_set(s, v->names[j], v->values[j]);
      }
    }
  }
  if (!st && !run_override(E->sw, k, "seed") && !run_override(E->sw, k, "stream")) s->stream = E->base->stream + (uint64_t)k;
  if (st) dln_spec_free(s);
  return st;
}

/* Put the data set's file fields into run k's spec. */
static int apply_data(const ens_data *d, dln_spec *s) {
  for (int i = 0; i < d->nfile; ++i) {
    int st = dln_spec_set(s, d->fname[i], d->fpath[i]);
    if (st) return st;
  }
  return DLN_OK;
}

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

static void set_run_error(ens_slot *sl, int st, long k) {
  sl->status = st ? st : DLN_EINVAL;
  free(sl->error);
  sl->error = xasprintf("run %ld: %s", k, dln_last_error());
}

/* ---- data sets -------------------------------------------------------------------- */

/* Draw data set i with `dln run`'s code (a one-step run into its folder), then read it
 * back with the same code a run uses for data files. */
static int data_make(ens *E, int i) {
  ens_data *d = &E->data[i];
  dln_spec s;
  uint64_t ds;
  int st = make_spec(E, d->rep, &s, &ds);
  if (st) return st;
  static const char *const kv[][2] = {{"widths", ""},  {"depth", "1"},      {"tied", "false"}, {"init", "gaussian"},
                                      {"sigma", "0.01"}, {"layer_scales", ""}, {"init_product_widths", ""},
                                      {"init_files", ""}, {"method", "gd"},  {"eta", "1e-3"},  {"t_end", "1e-3"},
                                      {"max_steps", "1"}, {"samples", "2"},  {"log_samples", "false"},
                                      {"loss_threshold", "-1"}, {"recon_threshold", "0"}, {"grad_tol", "0"},
                                      {"observe", "loss"}, {"plot", "false"}, {"quiet", "true"}, {"blas_threads", "1"}};
  for (size_t j = 0; j < sizeof kv / sizeof *kv && !st; ++j) st = dln_spec_set(&s, kv[j][0], kv[j][1]);
  char sb[32];
  snprintf(sb, sizeof sb, "%llu", (unsigned long long)d->seed);
  if (!st) st = dln_spec_set(&s, "seed", sb);
  snprintf(sb, sizeof sb, "%llu", (unsigned long long)E->base->stream);
  if (!st) st = dln_spec_set(&s, "stream", sb); /* the data never come from run k's stream */
  if (!st) st = dln_spec_set(&s, "out", d->dir);
  dln_run_result rr;
  if (!st) st = dln_run_noplot(&s, NULL, &rr);
  if (!st && rr.train.stop_reason == DLN_STOP_CANCELLED) st = dln_error(DLN_EINVAL, "cancelled");
  if (!st) {
    static const struct {
      const char *task;
      int n;
      const char *field[2], *file[2];
    } files[] = {{"factorization", 1, {"target_file", NULL}, {"target.npy", NULL}},
                 {"regression", 2, {"x_file", "y_file"}, {"X.npy", "Y.npy"}},
                 {"sensing", 2, {"a_file", "b_file"}, {"A.npy", "b.npy"}},
                 {"completion", 1, {"entries_file", NULL}, {"entries.npy", NULL}}};
    size_t t = 0;
    while (t + 1 < sizeof files / sizeof *files && strcmp(files[t].task, s.task) != 0) ++t;
    d->nfile = files[t].n;
    for (int j = 0; j < d->nfile && !st; ++j) {
      d->fname[j] = files[t].field[j];
      if (!(d->fpath[j] = xasprintf("%s/%s", d->dir, files[t].file[j]))) st = dln_error(DLN_ENOMEM, "out of memory");
    }
    int phase;
    if (!st) st = apply_data(d, &s);
    if (!st) st = dln_run_data_build(&s, NULL, &d->data, &phase);
  }
  dln_spec_free(&s);
  return st;
}

static void data_free(ens_data *d) {
  free(d->key);
  free(d->dir);
  free(d->error);
  dln_run_data_free(&d->data);
  for (int j = 0; j < 2; ++j) free(d->fpath[j]);
}

/* ---- one run: the pipeline builder of run.c (run_internal.h) -------------------------- */

static int train_cancel(void *ctx, double t, double t_end, double loss) {
  (void)t, (void)t_end, (void)loss;
  return atomic_load(&((ens *)ctx)->cancel);
}

/* Shape key of a run (its columns depend on the data, widths, tied, observer flags and
 * whether the dynamics are end-to-end). */
static char *shape_key(const dln_spec *s, const dln_run_parts *p, int data) {
  char buf[4096];
  size_t k = (size_t)snprintf(buf, sizeof buf, "%d|%d|%u|%d|", data, s->net.tied, dln_spec_observe_flags(s), p->e2e);
  for (int i = 0; i < p->nw && k < sizeof buf - 16; ++i) k += (size_t)snprintf(buf + k, sizeof buf - k, "%d,", p->widths[i]);
  return xstrdup(buf);
}

/* Run k: its spec and what the builder makes of it; freed by the caller. */
typedef struct run_parts {
  dln_spec spec;
  int have_spec;
  dln_run_parts p;
} run_parts;

static void parts_free(run_parts *r) {
  dln_run_parts_free(&r->p);
  if (r->have_spec) dln_spec_free(&r->spec);
  memset(r, 0, sizeof *r);
}

/* Build run k on its data set; with_init = 0 for the column pass (no init, no training). */
static int parts_build(const ens *E, long k, run_parts *r, int with_init) {
  memset(r, 0, sizeof *r);
  const ens_data *d = &E->data[E->slot[k].data];
  uint64_t ds;
  int st = make_spec(E, k, &r->spec, &ds), phase;
  if (st) return st;
  r->have_spec = 1;
  if ((st = apply_data(d, &r->spec))) return st;
  dln_rng *rng = NULL;
  if (with_init && !(rng = dln_rng_alloc(r->spec.seed, r->spec.stream)))
    return dln_error(DLN_ENOMEM, "cannot allocate the random stream");
  st = dln_run_parts_build(&r->spec, &d->data, rng, &r->p, &phase);
  dln_rng_free(rng);
  return st;
}

static void run_one(ens *E, long k) {
  ens_slot *sl = &E->slot[k];
  double t0 = now_seconds();
  run_parts r;
  int st = parts_build(E, k, &r, 1);
  if (!st) {
    r.p.to.progress = train_cancel;
    r.p.to.progress_ctx = E;
    st = dln_run_parts_train(&r.p, &sl->train);
    sl->traj = r.p.traj; /* the slot owns the rows from here */
    r.p.traj = NULL;
  }
  if (st) {
    set_run_error(sl, st, k);
    dln_table_free(sl->traj);
    sl->traj = NULL;
  }
  parts_free(&r);
  sl->wall = now_seconds() - t0;
}
/* ---- the pool ----------------------------------------------------------------------- */

static void *worker(void *arg) {
  ens *E = arg;
  for (;;) {
    pthread_mutex_lock(&E->mu);
    long i = atomic_load(&E->cancel) ? E->ntasks : E->next++;
    pthread_mutex_unlock(&E->mu);
    if (i >= E->ntasks) break;
    long t = E->tasks[i];
    int failed = 0;
    if (E->phase == 1) {
      ens_data *d = &E->data[t];
      d->status = data_make(E, (int)t);
      if (d->status) d->error = xstrdup(dln_last_error());
    } else {
      run_one(E, t);
      failed = E->slot[t].status != DLN_OK;
    }
    pthread_mutex_lock(&E->mu);
    if (E->phase == 2) E->slot[t].done = 1;
    E->ndone++;
    E->nfailed += failed;
    pthread_cond_signal(&E->cv);
    pthread_mutex_unlock(&E->mu);
  }
  return NULL;
}

/* Run tasks[0..n) of the current phase on nthreads workers; `tick` is called from this
 * thread whenever tasks finish (and every 0.2 s). */
static int pool_run(ens *E, int nthreads, void (*tick)(ens *, long done)) {
  E->next = E->ndone = 0;
  if (E->ntasks == 0) return DLN_OK;
  if (nthreads > E->ntasks) nthreads = (int)E->ntasks;
  pthread_t *th = calloc((size_t)nthreads, sizeof *th);
  if (!th) return dln_error(DLN_ENOMEM, "out of memory");
  int started = 0, st = DLN_OK, perr = 0;
  for (; started < nthreads; ++started)
    if ((perr = pthread_create(&th[started], NULL, worker, E)) != 0) break;
  if (!started) {
    free(th);
    return dln_error(DLN_ENOMEM, "cannot start a worker thread: %s", strerror(perr)); /* pthread_create returns the error */
  }
  pthread_mutex_lock(&E->mu);
  long seen = -1;
  while (E->ndone < E->ntasks) {
    if (E->opt->cancelled && !atomic_load(&E->cancel) && E->opt->cancelled(E->opt->progress_ctx)) atomic_store(&E->cancel, 1);
    if (atomic_load(&E->cancel) && E->ndone >= (E->next < E->ntasks ? E->next : E->ntasks)) break;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 200000000L;
    if (ts.tv_nsec >= 1000000000L) ts.tv_sec += 1, ts.tv_nsec -= 1000000000L;
    if (E->ndone == seen) pthread_cond_timedwait(&E->cv, &E->mu, &ts);
    seen = E->ndone;
    long done = E->ndone;
    pthread_mutex_unlock(&E->mu);
    if (tick) tick(E, done);
    pthread_mutex_lock(&E->mu);
  }
  pthread_mutex_unlock(&E->mu);
  for (int i = 0; i < started; ++i) pthread_join(th[i], NULL);
  free(th);
  if (tick && !atomic_load(&E->cancel)) tick(E, E->ndone);
  return st;
}

/* ---- outputs ------------------------------------------------------------------------ */

typedef struct ens_out ens_out;
struct ens_out {
  dln_afile *csv;
  FILE *fp;
  long next;           /* next run to write */
  json_t *runs;
  long nwritten, ncomplete, ndiverged, nfailed, steps, grad_evals, rejected;
  double run_wall;
};

static void csv_text(FILE *fp, const char *s) {
  if (strpbrk(s, ",\"\n")) {
    fputc('"', fp);
    for (; *s; ++s) {
      if (*s == '"') fputc('"', fp);
      fputc(*s, fp);
    }
    fputc('"', fp);
  } else {
    fputs(s, fp);
  }
}

static char *rerun_line(const ens *E, long k, const ens_slot *sl) {
  const char *src = E->base->source ? E->base->source : "SPEC.json";
  size_t cap = 256, len = 0;
  char *s = malloc(cap);
  if (!s) return NULL;
  s[0] = '\0';
#define ADD(...)                                                  \
  do {                                                            \
    int w_ = snprintf(NULL, 0, __VA_ARGS__);                      \
    while (len + (size_t)w_ + 1 > cap) {                          \
      char *n_ = realloc(s, cap *= 2);                            \
      if (!n_) {                                                  \
        free(s);                                                  \
        return NULL;                                              \
      }                                                           \
      s = n_;                                                     \
    }                                                             \
    snprintf(s + len, cap - len, __VA_ARGS__);                    \
    len += (size_t)w_;                                            \
  } while (0)
  ADD("dln run %s --out=%s/rerun/%ld", src, E->out, k);
  if (sl->data >= 0)
    for (int i = 0; i < E->data[sl->data].nfile; ++i) ADD(" --%s=%s", E->data[sl->data].fname[i], E->data[sl->data].fpath[i]);
  for (int a = 0; a < E->sw->naxes; ++a) {
    const dln_sweep_value *v = run_value(E->sw, k, a);
    for (int j = 0; j < v->n; ++j) {
      const char *n = v->names[j];
      if (!strcmp(n, "seed") || !strcmp(n, "stream") || !strcmp(n, "data_seed")) continue;
      ADD(" --%s=%s", n, v->values[j]);
    }
  }
  ADD(" --seed=%llu --stream=%llu", (unsigned long long)sl->seed, (unsigned long long)sl->stream);
#undef ADD
  return s;
}

static json_t *run_json(const ens *E, long k, const ens_slot *sl) {
  json_t *r = json_object();
  if (!r) return NULL;
  char sb[32];
  json_object_set_new(r, "run", json_integer(k));
  snprintf(sb, sizeof sb, "%llu", (unsigned long long)sl->seed);
  json_object_set_new(r, "seed", json_string(sb));
  json_object_set_new(r, "stream", json_integer((json_int_t)sl->stream));
  json_t *ov = json_object();
  for (int a = 0; a < E->sw->naxes; ++a) {
    const dln_sweep_value *v = run_value(E->sw, k, a);
    for (int j = 0; j < v->n; ++j) json_object_set_new(ov, v->names[j], json_string(v->values[j]));
  }
  json_object_set_new(r, "overrides", ov);
  json_object_set_new(r, "data", sl->data >= 0 ? json_string(E->data[sl->data].dir) : json_null());
  json_object_set_new(r, "status", json_string(sl->status ? "error" : "ok"));
  if (sl->status) {
    json_object_set_new(r, "error", json_string(sl->error ? sl->error : dln_strerror(sl->status)));
  } else {
    const dln_train_result *tr = &sl->train;
    json_object_set_new(r, "stop_reason", json_string(dln_stop_reason_name(tr->stop_reason)));
    json_object_set_new(r, "message", json_string(tr->message));
    json_object_set_new(r, "t", dln_json_num(tr->t));
    json_object_set_new(r, "t_threshold", dln_json_num(tr->t_threshold));
    json_object_set_new(r, "fail_t", dln_json_num(tr->fail_t));
    json_object_set_new(r, "fail_step", tr->fail_step >= 0 ? json_integer(tr->fail_step) : json_null());
    json_object_set_new(r, "counters", dln_train_counters_json(tr));
    json_t *fin = json_object();
    if (sl->traj && sl->traj->nrows) {
      const double *row = sl->traj->data + (sl->traj->nrows - 1) * (size_t)sl->traj->ncols;
      for (int c = 0; c < sl->traj->ncols; ++c) json_object_set_new(fin, sl->traj->names[c], dln_json_num(row[c]));
    }
    json_object_set_new(r, "final", fin);
    json_object_set_new(r, "rows", json_integer(sl->traj ? (json_int_t)sl->traj->nrows : 0));
  }
  json_object_set_new(r, "wall_seconds", dln_json_num(sl->wall));
  char *rr = rerun_line(E, k, sl);
  json_object_set_new(r, "rerun", rr ? json_string(rr) : json_null());
  free(rr);
  return r;
}

/* Write the finished runs at the head of the queue, in run order. */
static void flush_ready(ens *E, ens_out *O) {
  for (;;) {
    while (O->next < E->nruns && !E->sel[O->next]) ++O->next;
    if (O->next >= E->nruns) return;
    long k = O->next;
    ens_slot *sl = &E->slot[k];
    pthread_mutex_lock(&E->mu);
    int done = !sl->queued || sl->done; /* runs that failed before phase 2 are never queued */
    pthread_mutex_unlock(&E->mu);
    if (!done) return;
    if (sl->status == DLN_OK) {
      const dln_train_result *tr = &sl->train;
      if (tr->stop_reason != DLN_STOP_CANCELLED) ++O->ncomplete;
      if (tr->stop_reason == DLN_STOP_DIVERGED || tr->stop_reason == DLN_STOP_SOLVER) ++O->ndiverged;
      O->steps += tr->steps;
      O->grad_evals += tr->grad_evals;
      O->rejected += tr->rejected;
    } else {
      ++O->nfailed;
    }
    O->run_wall += sl->wall;
    if (O->runs) json_array_append_new(O->runs, run_json(E, k, sl));
    if (O->fp && sl->traj) {
      const ens_shape *sh = &E->shape[sl->shape];
      char head[64];
      snprintf(head, sizeof head, "%ld,%llu,%llu", k, (unsigned long long)sl->seed, (unsigned long long)sl->stream);
      const char *dseed = E->data_seed_swept ? run_override(E->sw, k, "data_seed") : NULL;
      for (size_t i = 0; i < sl->traj->nrows; ++i) {
        const double *row = sl->traj->data + i * (size_t)sl->traj->ncols;
        fputs(head, O->fp);
        if (E->data_seed_swept) fprintf(O->fp, ",%s", dseed ? dseed : "");
        for (int p = 0; p < E->nparams; ++p) {
          const char *v = run_override(E->sw, k, E->params[p]);
          fputc(',', O->fp);
          if (v) csv_text(O->fp, v);
        }
        for (int c = 0; c < E->ncols; ++c) {
          int src = sh->inv[c];
          if (src >= 0) fprintf(O->fp, ",%.17g", row[src]);
          else fputc(',', O->fp);
        }
        fputc('\n', O->fp);
      }
    }
    dln_table_free(sl->traj);
    sl->traj = NULL;
    ++O->nwritten;
    ++O->next;
  }
}

static void tick_runs(ens *E, long done) {
  flush_ready(E, E->outs);
  if (E->opt->progress) {
    pthread_mutex_lock(&E->mu);
    long failed = E->nfailed;
    pthread_mutex_unlock(&E->mu);
    E->opt->progress(E->opt->progress_ctx, done + E->prefailed, E->ntasks + E->prefailed, failed + E->prefailed);
  }
}

static json_t *blas_json(int before) {
  json_t *o = json_object();
  const char *cfg = openblas_get_config();
  json_object_set_new(o, "library", json_string("OpenBLAS"));
  json_object_set_new(o, "config", json_string(cfg ? cfg : ""));
  json_object_set_new(o, "threads_per_run", json_integer(1));
  json_object_set_new(o, "threads_before", json_integer(before));
  return o;
}

static int add_name(char ***list, int *n, const char *name) {
  for (int i = 0; i < *n; ++i)
    if (strcmp((*list)[i], name) == 0) return i;
  char **l = realloc(*list, (size_t)(*n + 1) * sizeof *l);
  if (!l) return -1;
  *list = l;
  if (!(l[*n] = xstrdup(name))) return -1;
  return (*n)++;
}

/* ---- driver ----------------------------------------------------------------------- */

int dln_ensemble_run(const dln_spec *base, const dln_sweep *sw, const dln_ensemble_options *opt_in, dln_ensemble_result *res) {
  dln_ensemble_result lres;
  dln_ensemble_options dopt;
  if (!res) res = &lres;
  memset(res, 0, sizeof *res);
  if (!base || !sw) return dln_error(DLN_EINVAL, "dln_ensemble_run: NULL argument");
  if (!opt_in) dln_ensemble_default_options(&dopt);
  const dln_ensemble_options *opt = opt_in ? opt_in : &dopt;
  double t0 = now_seconds();
  long nruns = dln_sweep_nruns(sw);
  if (nruns < 1) return dln_error(DLN_ESPEC, "sweep: expected between 1 and %ld runs, found more", DLN_SWEEP_MAXRUNS);
  int nshards = opt->nshards > 1 ? opt->nshards : 1, shard = nshards > 1 ? opt->shard : 0;
  if (shard < 0 || shard >= nshards)
    return dln_error(DLN_EINVAL, "shard: expected an index in 0..%d, found %d", nshards - 1, shard);
  int nthreads = opt->nthreads;
  if (nthreads <= 0) {
    long c = sysconf(_SC_NPROCESSORS_ONLN);
    nthreads = c > 0 ? (int)(c < 1024 ? c : 1024) : 1;
  }
  res->nruns = nruns;
  res->nthreads = nthreads;

  ens E;
  memset(&E, 0, sizeof E);
  E.base = base;
  E.sw = sw;
  E.opt = opt;
  E.out = opt->out ? opt->out : base->out;
  E.nruns = nruns;
  atomic_init(&E.cancel, 0);
  pthread_mutex_init(&E.mu, NULL);
  pthread_cond_init(&E.cv, NULL);
  int st = DLN_OK, blas_before = openblas_get_num_threads();
  ens_out O;
  memset(&O, 0, sizeof O);
  json_t *sum = NULL;
  char *csv_path = NULL, *json_path = NULL;
  char sfx[64] = "";
  if (nshards > 1) snprintf(sfx, sizeof sfx, ".shard%dof%d", shard, nshards);

  E.slot = calloc((size_t)nruns, sizeof *E.slot);
  E.sel = calloc((size_t)nruns, 1);
  E.tasks = calloc((size_t)nruns, sizeof *E.tasks);
  if (!E.slot || !E.sel || !E.tasks) {
    st = dln_error(DLN_ENOMEM, "out of memory for %ld runs", nruns);
    goto done;
  }
  csv_path = xasprintf("%s/ensemble%s.csv", E.out, sfx);
  json_path = xasprintf("%s/ensemble%s.json", E.out, sfx);
  if (!csv_path || !json_path) {
    st = dln_error(DLN_ENOMEM, "out of memory");
    goto done;
  }
  snprintf(res->csv_path, sizeof res->csv_path, "%s", csv_path);
  snprintf(res->json_path, sizeof res->json_path, "%s", json_path);
  if ((st = dln_mkdir_p(E.out))) goto done;
  /* results of an earlier sweep into the same folder go first, so that a cancelled or
   * failed sweep leaves no table or summary that looks like its own */
  if (opt->write_outputs && unlink(csv_path) != 0 && errno != ENOENT) {
    st = dln_error(DLN_EIO, "%s: cannot remove the stale table: %s", csv_path, strerror(errno));
    goto done;
  }
  if (unlink(json_path) != 0 && errno != ENOENT) {
    st = dln_error(DLN_EIO, "%s: cannot remove the stale summary: %s", json_path, strerror(errno));
    goto done;
  }

  /* parameter columns */
  for (int a = 0; a < sw->naxes; ++a)
    for (int i = 0; i < sw->axes[a].n; ++i)
      for (int j = 0; j < sw->axes[a].v[i].n; ++j) {
        const char *n = sw->axes[a].v[i].names[j];
        if (!strcmp(n, "data_seed")) E.data_seed_swept = 1;
        else if (strcmp(n, "seed") && strcmp(n, "stream") && add_name(&E.params, &E.nparams, n) < 0) {
          st = dln_error(DLN_ENOMEM, "out of memory");
          goto done;
        }
      }

  /* phase A: specs, data keys */
  for (long k = 0; k < nruns; ++k) {
    ens_slot *sl = &E.slot[k];
    sl->data = sl->shape = -1;
    E.sel[k] = k % nshards == shard; /* every run is expanded: the header covers the whole sweep */
    res->nselected += E.sel[k];
    dln_spec s;
    uint64_t ds;
    int rst = make_spec(&E, k, &s, &ds);
    if (rst) {
      set_run_error(sl, rst, k);
      continue;
    }
    sl->seed = s.seed;
    sl->stream = s.stream;
    if ((rst = dln_spec_check(&s))) {
      set_run_error(sl, rst, k);
      dln_spec_free(&s);
      continue;
    }
    char *key = data_key(&s, ds, base->stream);
    dln_spec_free(&s);
    if (!key) {
      st = dln_error(DLN_ENOMEM, "out of memory");
      goto done;
    }
    int i = 0;
    while (i < E.ndata && strcmp(E.data[i].key, key) != 0) ++i;
    if (i == E.ndata) {
      ens_data *nd = realloc(E.data, (size_t)(E.ndata + 1) * sizeof *nd);
      if (!nd) {
        free(key);
        st = dln_error(DLN_ENOMEM, "out of memory");
        goto done;
      }
      E.data = nd;
      memset(&E.data[i], 0, sizeof *nd);
      E.data[i].key = key;
      E.data[i].rep = k;
      E.data[i].seed = ds;
      E.ndata++;
      if (!(E.data[i].dir = xasprintf("%s/data/%d", E.out, i))) {
        st = dln_error(DLN_ENOMEM, "out of memory");
        goto done;
      }
    } else {
      free(key);
    }
    sl->data = i;
  }

  openblas_set_num_threads(1);

  /* phase B: data sets, in parallel */
  E.phase = 1;
  E.ntasks = E.ndata;
  for (int i = 0; i < E.ndata; ++i) E.tasks[i] = i;
  if ((st = pool_run(&E, nthreads, NULL))) goto done;
  if (atomic_load(&E.cancel)) goto cancelled;
  for (long k = 0; k < nruns; ++k) {
    ens_slot *sl = &E.slot[k];
    if (!sl->status && E.data[sl->data].status) {
      sl->status = E.data[sl->data].status;
      sl->error = xasprintf("run %ld: data set %s: %s", k, E.data[sl->data].dir, E.data[sl->data].error ? E.data[sl->data].error : "");
    }
  }

  /* phase C: columns */
  for (long k = 0; k < nruns; ++k) {
    ens_slot *sl = &E.slot[k];
    if (sl->status) continue;
    run_parts p;
    int rst = parts_build(&E, k, &p, 0);
    if (rst) {
      set_run_error(sl, rst, k);
      parts_free(&p);
      continue;
    }
    char *key = shape_key(&p.spec, &p.p, sl->data);
    if (!key) {
      parts_free(&p);
      st = dln_error(DLN_ENOMEM, "out of memory");
      goto done;
    }
    int i = 0;
    while (i < E.nshape && strcmp(E.shape[i].key, key) != 0) ++i;
    if (i == E.nshape) {
      ens_shape *ns = realloc(E.shape, (size_t)(E.nshape + 1) * sizeof *ns);
      if (!ns) {
        free(key);
        parts_free(&p);
        st = dln_error(DLN_ENOMEM, "out of memory");
        goto done;
      }
      E.shape = ns;
      memset(&E.shape[i], 0, sizeof *ns);
      E.shape[i].key = key;
      E.nshape++;
      const dln_table *tb = p.p.traj;
      int nc = tb->ncols;
      E.shape[i].ncols = nc;
      /* inv is filled after the union is complete; remember names through the union */
      int *map = malloc((size_t)(nc ? nc : 1) * sizeof *map);
      if (!map) st = dln_error(DLN_ENOMEM, "out of memory");
      for (int c = 0; c < nc && !st; ++c)
        if ((map[c] = add_name(&E.cols, &E.ncols, tb->names[c])) < 0) st = dln_error(DLN_ENOMEM, "out of memory");
      E.shape[i].inv = map; /* temporarily: observer column -> union column */
      if (st) {
        parts_free(&p);
        goto done;
      }
    } else {
      free(key);
    }
    sl->shape = i;
    parts_free(&p);
  }
  for (int i = 0; i < E.nshape; ++i) { /* invert: union column -> observer column */
    int *inv = malloc((size_t)(E.ncols ? E.ncols : 1) * sizeof *inv);
    if (!inv) {
      st = dln_error(DLN_ENOMEM, "out of memory");
      goto done;
    }
    for (int c = 0; c < E.ncols; ++c) inv[c] = -1;
    for (int c = 0; c < E.shape[i].ncols; ++c) inv[E.shape[i].inv[c]] = c;
    free(E.shape[i].inv);
    E.shape[i].inv = inv;
  }

  /* outputs */
  O.runs = json_array();
  if (!O.runs) {
    st = dln_error(DLN_ENOMEM, "out of memory");
    goto done;
  }
  if (opt->write_outputs) {
    if ((st = dln_afile_open(&O.csv, csv_path))) goto done;
    O.fp = dln_afile_stream(O.csv);
    fputs("run,seed,stream", O.fp);
    if (E.data_seed_swept) fputs(",data_seed", O.fp);
    for (int p = 0; p < E.nparams; ++p) fprintf(O.fp, ",%s", E.params[p]);
    for (int c = 0; c < E.ncols; ++c) fprintf(O.fp, ",%s", E.cols[c]);
    fputc('\n', O.fp);
  }

  /* phase D: the runs */
  E.phase = 2;
  E.ntasks = 0;
  E.nfailed = 0;
  for (long k = 0; k < nruns; ++k)
    if (E.sel[k] && !E.slot[k].status) E.tasks[E.ntasks++] = k, E.slot[k].queued = 1;
  E.prefailed = res->nselected - E.ntasks;
  E.outs = &O;
  st = pool_run(&E, nthreads, tick_runs);
  E.outs = NULL;
  if (st) goto done;
  if (atomic_load(&E.cancel)) goto cancelled;
  /* a cancel after the last run finished still writes nothing (the pool polls only
   * while runs are pending) */
  if (opt->cancelled && opt->cancelled(opt->progress_ctx)) goto cancelled;
  flush_ready(&E, &O);

  res->ncomplete = O.ncomplete;
  res->ndiverged = O.ndiverged;
  res->nfailed = O.nfailed;
  res->steps = O.steps;
  res->grad_evals = O.grad_evals;
  res->wall_seconds = now_seconds() - t0;
  if (O.csv) {
    st = dln_afile_commit(O.csv);
    O.csv = NULL;
    O.fp = NULL;
    if (st) goto done;
  }
  sum = json_object();
  if (!sum) {
    st = dln_error(DLN_ENOMEM, "out of memory");
    goto done;
  }
  json_object_set_new(sum, "dln_version", json_string(DLN_VERSION_STRING));
  json_object_set_new(sum, "complete", json_true());
  json_object_set_new(sum, "spec", dln_spec_to_json(base));
  {
    json_t *sj = json_object();
    for (int a = 0; a < sw->naxes; ++a) {
      json_t *vals = json_array();
      for (int i = 0; i < sw->axes[a].n; ++i) {
        const dln_sweep_value *v = &sw->axes[a].v[i];
        if (strcmp(sw->axes[a].key, "runs") == 0) {
          json_t *o = json_object();
          for (int j = 0; j < v->n; ++j) json_object_set_new(o, v->names[j], json_string(v->values[j]));
          json_array_append_new(vals, o);
        } else {
          json_array_append_new(vals, json_string(v->values[0]));
        }
      }
      json_object_set_new(sj, sw->axes[a].key, vals);
    }
    json_object_set_new(sum, "sweep", sj);
  }
  json_object_set_new(sum, "nruns", json_integer(nruns));
  json_t *sh = json_object();
  json_object_set_new(sh, "index", json_integer(shard));
  json_object_set_new(sh, "count", json_integer(nshards));
  json_object_set_new(sh, "runs", json_integer(res->nselected));
  json_object_set_new(sum, "shard", sh);
  json_object_set_new(sum, "threads", json_integer(nthreads));
  json_object_set_new(sum, "blas", blas_json(blas_before));
  json_object_set_new(sum, "csv", opt->write_outputs ? json_string(csv_path) : json_null());
  json_t *tot = json_object();
  json_object_set_new(tot, "runs", json_integer(res->nselected));
  json_object_set_new(tot, "complete", json_integer(O.ncomplete));
  json_object_set_new(tot, "diverged_or_solver", json_integer(O.ndiverged));
  json_object_set_new(tot, "failed", json_integer(O.nfailed));
  json_object_set_new(tot, "steps", json_integer(O.steps));
  json_object_set_new(tot, "grad_evals", json_integer(O.grad_evals));
  json_object_set_new(tot, "rejected", json_integer(O.rejected));
  json_object_set_new(tot, "run_wall_seconds", dln_json_num(O.run_wall));
  json_object_set_new(tot, "wall_seconds", dln_json_num(res->wall_seconds));
  json_object_set_new(tot, "runs_per_second", dln_json_num(res->wall_seconds > 0 ? (double)res->nselected / res->wall_seconds : NAN));
  json_object_set_new(sum, "totals", tot);
  json_object_set_new(sum, "runs", O.runs);
  O.runs = NULL;
  if (opt->write_outputs && (st = dln_json_write(json_path, sum))) goto done;
  goto done;

cancelled:
  res->cancelled = 1;
  res->wall_seconds = now_seconds() - t0;

done:
  openblas_set_num_threads(blas_before > 0 ? blas_before : 1);
  if (O.csv) dln_afile_abort(O.csv);
  json_decref(O.runs);
  json_decref(sum);
  if (E.slot)
    for (long k = 0; k < nruns; ++k) {
      free(E.slot[k].error);
      dln_table_free(E.slot[k].traj);
    }
  for (int i = 0; i < E.ndata; ++i) data_free(&E.data[i]);
  for (int i = 0; i < E.nshape; ++i) {
    free(E.shape[i].key);
    free(E.shape[i].inv);
  }
  for (int i = 0; i < E.ncols; ++i) free(E.cols[i]);
  for (int i = 0; i < E.nparams; ++i) free(E.params[i]);
  free(E.cols);
  free(E.params);
  free(E.shape);
  free(E.data);
  free(E.slot);
  free(E.sel);
  free(E.tasks);
  free(csv_path);
  free(json_path);
  pthread_mutex_destroy(&E.mu);
  pthread_cond_destroy(&E.cv);
  return st;
}
