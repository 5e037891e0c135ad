/* The C ABI's job (dln/abi.h): a spec set by option name, in-memory arrays standing in
 * for data files ("mem:" paths, src/io/memfile.c), and a run through dln_run (the CLI's
 * pipeline) or a build and an in-memory training through the run layer's builder
 * (run_internal.h), with the results kept in the job. */
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "dln/abi.h"
#include "dln/error.h"
#include "dln/io.h"
#include "dln/run.h"
#include "dln/spec.h"
#include "dln_version.h"
#include "io/io_internal.h"
#include "io/json_util.h"
#include "run/run_internal.h"
#include "abi/abi_internal.h"

/* The layers of one end of a run: n matrices (column-major). */
#define JOB_MAXLAYERS 1024
typedef struct job_layers {
  int n;
  int rows[JOB_MAXLAYERS], cols[JOB_MAXLAYERS];
  double *data[JOB_MAXLAYERS];
} job_layers;

struct dln_job {
  dln_spec spec;
  unsigned long id;        /* names its in-memory arrays */
  atomic_int cancel;
  int fail_phase, stop_reason;
  char message[512];
  dln_slist arrays;        /* the names of its in-memory arrays (removed by dln_job_free) */
  /* results */
  size_t nrows;
  int ncols;
  char **names;
  double *table;
  char *summary;
  job_layers layers[2];
  /* a build */
  int built;
  dln_rng *rng;
  dln_run_data d;
  dln_run_parts p;
};

static atomic_ulong next_id = 1;

int dln_abi_version(void) { return DLN_ABI_VERSION; }
const char *dln_abi_library_version(void) { return DLN_VERSION_STRING; }

int dln_job_alloc(dln_job **out) {
  if (!out) return dln_error(DLN_EINVAL, "dln_job_alloc: out must not be NULL");
  *out = NULL;
  dln_job *j = calloc(1, sizeof *j);
  if (!j) return dln_error(DLN_ENOMEM, "dln_job_alloc: out of memory");
  int st = dln_spec_default(&j->spec);
  if (st) {
    free(j);
    return st;
  }
  j->id = atomic_fetch_add(&next_id, 1);
  j->stop_reason = -1;
  atomic_init(&j->cancel, 0);
  *out = j;
  return DLN_OK;
}

static void results_free(dln_job *j) {
  for (int i = 0; i < j->ncols; ++i) free(j->names[i]);
  free(j->names);
  free(j->table);
  free(j->summary);
  j->names = NULL, j->table = NULL, j->summary = NULL;
  j->nrows = 0, j->ncols = 0;
  for (int w = 0; w < 2; ++w) {
    for (int k = 0; k < j->layers[w].n; ++k) free(j->layers[w].data[k]);
    j->layers[w].n = 0;
  }
  j->message[0] = '\0';
}

static void build_free(dln_job *j) {
  dln_run_parts_free(&j->p);
  dln_run_data_free(&j->d);
  dln_rng_free(j->rng);
  j->rng = NULL;
  j->built = 0;
}

void dln_job_free(dln_job *job) {
  if (!job) return;
  results_free(job);
  build_free(job);
  for (int i = 0; i < job->arrays.n; ++i) {
    dln_memfile_remove(job->arrays.v[i]);
    free(job->arrays.v[i]);
  }
  free(job->arrays.v);
  dln_spec_free(&job->spec);
  free(job);
}

int dln_job_set(dln_job *job, const char *name, const char *value) {
  if (!job || !name || !value) return dln_error(DLN_EINVAL, "dln_job_set: job, name and value must not be NULL");
  return dln_spec_set(&job->spec, name, value);
}

int dln_job_get(const dln_job *job, const char *name, char *buf, size_t len) {
  if (!job || !name || !buf || !len) return dln_error(DLN_EINVAL, "dln_job_get: job, name and buf must not be NULL (len >= 1)");
  const dln_spec_option *o = dln_spec_find(name);
  if (!o) return dln_error(DLN_ESPEC, "unknown option '%s' (see dln run --help)", name);
  dln_spec_value_text(&job->spec, o, buf, len);
  return DLN_OK;
}

int dln_job_read_json(dln_job *job, const char *path) {
  if (!job || !path) return dln_error(DLN_EINVAL, "dln_job_read_json: job and path must not be NULL");
  return dln_spec_from_json_file(&job->spec, path);
}

static int ends_with(const char *s, const char *suf) {
  size_t n = strlen(s), k = strlen(suf);
  return n >= k && strcmp(s + n - k, suf) == 0;
}

/* The list option's text: its items "mem:<job>/<option>.<i>" for i = 0..item. */
static int set_list(dln_job *j, const char *option, int item) {
  size_t len = (size_t)(item + 1) * (strlen(option) + 48) + 1;
  char *txt = calloc(len, 1);
  if (!txt) return dln_error(DLN_ENOMEM, "out of memory");
  for (int i = 0; i <= item; ++i)
    snprintf(txt + strlen(txt), len - strlen(txt), "%s" DLN_MEMFILE_PREFIX "%lu/%s.%d", i ? "," : "", j->id, option, i);
  int st = dln_spec_set(&j->spec, option, txt);
  free(txt);
  return st;
}

static int remember(dln_job *j, const char *name) {
  for (int i = 0; i < j->arrays.n; ++i)
    if (!strcmp(j->arrays.v[i], name)) return DLN_OK;
  char **v = realloc(j->arrays.v, (size_t)(j->arrays.n + 1) * sizeof *v);
  if (!v) return dln_error(DLN_ENOMEM, "out of memory");
  j->arrays.v = v;
  if (!(v[j->arrays.n] = strdup(name))) return dln_error(DLN_ENOMEM, "out of memory");
  j->arrays.n++;
  return DLN_OK;
}

int dln_job_set_array(dln_job *job, const char *option, int item, int rows, int cols, const double *data, int row_major) {
  if (!job || !option || !data) return dln_error(DLN_EINVAL, "dln_job_set_array: job, option and data must not be NULL");
  const dln_spec_option *o = dln_spec_find(option);
  int list = o && o->type == DLN_OPT_STRLIST && (ends_with(option, "_files") || ends_with(option, "_file"));
  if (!o || (!list && (o->type != DLN_OPT_STRING || !ends_with(option, "_file"))))
    return dln_error(DLN_EINVAL, "array for '%s': expected a data-file option (*_file or *_files), found %s", option,
                     o ? "an option that is not one" : "an unknown name");
  if (item < 0 || (!list && item != 0) || item > 4096)
    return dln_error(DLN_EINVAL, "array for '%s': expected item %s, found %d", option, list ? "0 to 4096" : "0", item);
  if (rows < 1 || cols < 1) return dln_error(DLN_EINVAL, "array for '%s': expected a non-empty matrix, found shape %d x %d", option, rows, cols);
  char name[160];
  if (list) snprintf(name, sizeof name, "%lu/%s.%d", job->id, option, item);
  else snprintf(name, sizeof name, "%lu/%s", job->id, option);
  double *cm = NULL;
  if (row_major && rows > 1 && cols > 1) { /* C order → column-major */
    if (!(cm = malloc((size_t)rows * (size_t)cols * sizeof *cm))) return dln_error(DLN_ENOMEM, "out of memory");
    for (int r = 0; r < rows; ++r)
      for (int c = 0; c < cols; ++c) cm[r + (size_t)c * rows] = data[(size_t)r * cols + c];
  }
  int st = dln_memfile_put(name, rows, cols, cm ? cm : data);
  free(cm);
  if (!st) st = remember(job, name);
  if (st) return st;
  if (list) return set_list(job, option, item);
  char path[200];
  snprintf(path, sizeof path, DLN_MEMFILE_PREFIX "%s", name);
  return dln_spec_set(&job->spec, option, path);
}

/* ---- results ---- */

static int keep_table(dln_job *j, const dln_table *t) {
  j->nrows = t->nrows;
  j->ncols = t->ncols;
  j->names = calloc((size_t)(t->ncols ? t->ncols : 1), sizeof *j->names);
  size_t n = t->nrows * (size_t)t->ncols;
  j->table = malloc((n ? n : 1) * sizeof *j->table);
  if (!j->names || !j->table) return dln_error(DLN_ENOMEM, "out of memory keeping the trajectory");
  for (int c = 0; c < t->ncols; ++c)
    if (!(j->names[c] = strdup(t->names[c]))) return dln_error(DLN_ENOMEM, "out of memory keeping the trajectory");
  if (n) memcpy(j->table, t->data, n * sizeof *j->table);
  return DLN_OK;
}

static int keep_matrix(job_layers *L, int rows, int cols, const double *a) {
  if (L->n >= JOB_MAXLAYERS) return dln_error(DLN_EINVAL, "the ABI keeps at most %d layers", JOB_MAXLAYERS);
  double *m = malloc((size_t)rows * (size_t)cols * sizeof *m);
  if (!m) return dln_error(DLN_ENOMEM, "out of memory keeping the weights");
  memcpy(m, a, (size_t)rows * (size_t)cols * sizeof *m);
  L->rows[L->n] = rows, L->cols[L->n] = cols, L->data[L->n++] = m;
  return DLN_OK;
}

/* The stored layers of θ (a tied net: U alone). */
static int keep_layers(job_layers *L, const dln_net *net, const double *theta) {
  int n = net->tied ? 1 : net->depth, st = DLN_OK;
  for (int k = 1; k <= n && !st; ++k) {
    int j = net->tied ? 2 : k;
    st = keep_matrix(L, net->widths[j], net->widths[j - 1], dln_net_layer_const(net, theta, j));
  }
  return st;
}

static int keep_view(dln_job *j, const dln_run_view *v) {
  int st = keep_table(j, v->trajectory);
  if (!st) st = keep_layers(&j->layers[0], v->net, v->theta0);
  if (!st) st = v->theta ? keep_layers(&j->layers[1], v->net, v->theta) : keep_matrix(&j->layers[1], v->rows, v->cols, v->W);
  if (!st && v->summary && !(j->summary = strdup(v->summary))) st = dln_error(DLN_ENOMEM, "out of memory");
  return st;
}

static int keep_cb(void *ctx, const dln_run_view *v) { return keep_view(ctx, v); }

static int cancel_poll(void *ctx) { return atomic_load(&((dln_job *)ctx)->cancel) != 0; }
static int progress_poll(void *ctx, double t, double t_end, double loss) {
  (void)t, (void)t_end, (void)loss;
  return cancel_poll(ctx);
}

int dln_job_cancel(dln_job *job) {
  if (!job) return dln_error(DLN_EINVAL, "dln_job_cancel: job must not be NULL");
  atomic_store(&job->cancel, 1);
  return DLN_OK;
}

int dln_job_run(dln_job *job) {
  if (!job) return dln_error(DLN_EINVAL, "dln_job_run: job must not be NULL");
  results_free(job);
  build_free(job);
  atomic_store(&job->cancel, 0);
  job->fail_phase = DLN_RUN_FAIL_SPEC;
  job->stop_reason = -1;
  int st = dln_spec_check_unused(&job->spec); /* as `dln run` with options (dln_run checks the rest) */
  if (st) return st;
  dln_run_options ro = {progress_poll, job, NULL, cancel_poll, keep_cb, job};
  dln_run_result res;
  st = dln_run(&job->spec, &ro, &res);
  job->fail_phase = st ? res.fail_phase : DLN_RUN_FAIL_NONE;
  job->stop_reason = st ? -1 : res.train.stop_reason;
  snprintf(job->message, sizeof job->message, "%s", res.train.message);
  return st;
}

/* A NULL job for the accessors below: the message, then their documented value. */
static int null_job(const char *fn) { return dln_error(DLN_EINVAL, "%s: job must not be NULL", fn); }

int dln_job_fail_phase(const dln_job *job) { return job ? job->fail_phase : (null_job(__func__), -1); }
int dln_job_stop_reason(const dln_job *job) { return job ? job->stop_reason : (null_job(__func__), -1); }
const char *dln_job_stop_name(const dln_job *job) {
  if (!job) return null_job(__func__), NULL;
  return job->stop_reason >= 0 ? dln_stop_reason_name(job->stop_reason) : "none";
}
size_t dln_job_nrows(const dln_job *job) { return job ? job->nrows : (null_job(__func__), 0); }
int dln_job_ncols(const dln_job *job) { return job ? job->ncols : (null_job(__func__), 0); }
const char *dln_job_col_name(const dln_job *job, int i) {
  if (!job) return null_job(__func__), NULL;
  if (i < 0 || i >= job->ncols) return dln_error(DLN_EINVAL, "dln_job_col_name: column: expected 0 to %d, found %d", job->ncols - 1, i), NULL;
  return job->names[i];
}
const double *dln_job_table(const dln_job *job) { return job ? job->table : (null_job(__func__), NULL); }
const char *dln_job_summary(const dln_job *job) { return job ? job->summary : (null_job(__func__), NULL); }

int dln_job_nlayers(const dln_job *job, int which) {
  if (!job) return null_job(__func__), 0;
  if (which != DLN_JOB_INITIAL && which != DLN_JOB_FINAL)
    return dln_error(DLN_EINVAL, "dln_job_nlayers: which: expected 0 (initial) or 1 (final), found %d", which), 0;
  return job->layers[which].n;
}

int dln_job_layer(const dln_job *job, int which, int j, int *rows, int *cols, const double **data) {
  if (!job || !rows || !cols || !data) return dln_error(DLN_EINVAL, "dln_job_layer: job, rows, cols and data must not be NULL");
  if (which != DLN_JOB_INITIAL && which != DLN_JOB_FINAL)
    return dln_error(DLN_EINVAL, "dln_job_layer: which: expected 0 (initial) or 1 (final), found %d", which);
  const job_layers *L = &job->layers[which];
  if (j < 1 || j > L->n) return dln_error(DLN_EINVAL, "dln_job_layer: layer: expected 1 to %d, found %d", L->n, j);
  *rows = L->rows[j - 1], *cols = L->cols[j - 1], *data = L->data[j - 1];
  return DLN_OK;
}

/* ---- build and in-memory training ---- */

int dln_job_build(dln_job *job) {
  if (!job) return dln_error(DLN_EINVAL, "dln_job_build: job must not be NULL");
  results_free(job);
  build_free(job);
  job->fail_phase = DLN_RUN_FAIL_SPEC;
  int st = dln_spec_check(&job->spec);
  if (!st) st = dln_spec_check_unused(&job->spec);
  if (st) return st;
  job->fail_phase = DLN_RUN_FAIL_INTERNAL;
  if (!(job->rng = dln_rng_alloc(job->spec.seed, job->spec.stream))) return dln_error(DLN_ENOMEM, "cannot allocate the random stream");
  if ((st = dln_run_data_build(&job->spec, job->rng, &job->d, &job->fail_phase)) ||
      (st = dln_run_parts_build(&job->spec, &job->d, job->rng, &job->p, &job->fail_phase)))
    return st;
  if ((st = keep_layers(&job->layers[0], job->p.net, job->p.theta0))) return st;
  job->built = 1;
  job->fail_phase = DLN_RUN_FAIL_NONE;
  return DLN_OK;
}

dln_loss *dln_job_loss(const dln_job *job) {
  if (!job || !job->built) return dln_error(DLN_EINVAL, "dln_job_loss: expected a built job (dln_job_build), found %s", job ? "none built" : "NULL"), NULL;
  return job->p.loss;
}
dln_net *dln_job_net(const dln_job *job) {
  if (!job || !job->built) return dln_error(DLN_EINVAL, "dln_job_net: expected a built job (dln_job_build), found %s", job ? "none built" : "NULL"), NULL;
  return job->p.net;
}

/* The in-memory result of a training: stop, counters, times. */
static int train_summary(dln_job *j, const dln_train_result *tr) {
  unsigned long mark = dln_json_mark();
  json_t *o = json_object();
  dln_jset(o, "stop_reason", json_string(dln_stop_reason_name(tr->stop_reason)));
  dln_jset(o, "message", json_string(tr->message));
  dln_jset(o, "t", dln_json_num(tr->t));
  dln_jset(o, "loss", dln_json_num(tr->loss));
  dln_jset(o, "t_threshold", dln_json_num(tr->t_threshold));
  dln_jset(o, "fail_t", dln_json_num(tr->fail_t));
  dln_jset(o, "fail_step", tr->fail_step >= 0 ? json_integer(tr->fail_step) : json_null());
  dln_jset(o, "counters", dln_train_counters_json(tr));
  dln_jset(o, "train_wall_seconds", dln_json_num(tr->wall_seconds));
  o = dln_json_done(o, mark);
  j->summary = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(17)) : NULL;
  json_decref(o);
  return j->summary ? DLN_OK : dln_error(DLN_ENOMEM, "out of memory");
}

int dln_job_train(dln_job *job, dln_sample_fn on_sample, void *ctx) {
  if (!job) return dln_error(DLN_EINVAL, "dln_job_train: job must not be NULL");
  int st = dln_job_build(job);
  if (st) return st;
  job->fail_phase = DLN_RUN_FAIL_SPEC;
  if (job->p.e2e) return dln_error(DLN_EINVAL, "dln_job_train: method %s: expected a layer-wise method (use dln_job_run for end-to-end methods)", job->spec.method);
  atomic_store(&job->cancel, 0);
  job->p.to.on_sample = on_sample;
  job->p.to.on_sample_ctx = ctx;
  job->p.to.progress = progress_poll;
  job->p.to.progress_ctx = job;
  dln_train_result tr;
  job->fail_phase = DLN_RUN_FAIL_INTERNAL;
  if ((st = dln_run_parts_train(&job->p, &tr))) return st;
  job->stop_reason = tr.stop_reason;
  snprintf(job->message, sizeof job->message, "%s", tr.message);
  if ((st = keep_table(job, job->p.traj)) || (st = keep_layers(&job->layers[1], job->p.net, job->p.theta)) ||
      (st = train_summary(job, &tr)))
    return st;
  job->fail_phase = DLN_RUN_FAIL_NONE;
  return DLN_OK;
}

const char *dln_job_message(const dln_job *job) { return job ? job->message : (null_job(__func__), NULL); }

/* ---- plain accessors ---- */

int dln_abi_net_depth(const dln_net *net) { return net ? net->depth : (dln_error(DLN_EINVAL, "dln_abi_net_depth: net must not be NULL"), -1); }
size_t dln_abi_net_nparams(const dln_net *net) { return net ? net->nparams : (dln_error(DLN_EINVAL, "dln_abi_net_nparams: net must not be NULL"), 0); }

int dln_abi_net_layer(const dln_net *net, int j, int *rows, int *cols, size_t *offset) {
  if (!net || !rows || !cols || !offset) return dln_error(DLN_EINVAL, "dln_abi_net_layer: net, rows, cols and offset must not be NULL");
  if (j < 1 || j > net->depth) return dln_error(DLN_EINVAL, "dln_abi_net_layer: layer: expected 1 to %d, found %d", net->depth, j);
  *rows = net->widths[j];
  *cols = net->widths[j - 1];
  *offset = net->offset[j];
  return DLN_OK;
}

static int null_loss(const char *fn) { return dln_error(DLN_EINVAL, "%s: loss must not be NULL", fn); }
int dln_abi_loss_rows(const dln_loss *loss) { return loss ? loss->rows : (null_loss(__func__), -1); }
int dln_abi_loss_cols(const dln_loss *loss) { return loss ? loss->cols : (null_loss(__func__), -1); }
double dln_abi_loss_lstar(const dln_loss *loss) { return loss ? loss->lstar : (null_loss(__func__), NAN); }

/* ---- for src/abi/ siblings (abi_internal.h) ---- */

dln_spec *dln_abi_job_spec(dln_job *job) { return &job->spec; }
void dln_abi_job_arm(dln_job *job) { atomic_store(&job->cancel, 0); }
int dln_abi_job_cancelled(void *job) { return cancel_poll(job); }
