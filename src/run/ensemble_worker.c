/* The work of an ensemble (dln/ensemble.h) on its pool of POSIX threads: the data sets
 * (drawn with `dln run`'s own code), one run (the pipeline builder of run.c,
 * run_internal.h) and the pool itself. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dln/error.h"
#include "dln/io.h"
#include "dln/rng.h"
#include "dln/run.h"
#include "run/ensemble_common.h"
#include "dln/integrator.h"
#include "run/run_internal.h"

/* ---- data sets -------------------------------------------------------------------- */

/* The true matrix of a data set read back from its files: the W_true.npy its run wrote
 * (the runs' dist_true and the baseline's). */
static int data_truth(ens_data *d) {
  if (d->data.truth || !dln_run_files_has(&d->files, "W_true.npy")) return DLN_OK;
  char *p = xasprintf("%s/W_true.npy", d->dir);
  if (!p) return dln_error(DLN_ENOMEM, "out of memory");
  int st = dln_npy_read(p, &d->data.truth);
  free(p);
  return st;
}

int dln_ens_data_paths(ens_data *d, const char *task) {
  const dln_task_type *t = dln_task_find(task); /* checked by the run */
  for (d->nfile = 0; t && t->files[d->nfile].option; ++d->nfile) {
    d->fname[d->nfile] = t->files[d->nfile].option;
    free(d->fpath[d->nfile]);
    if (!(d->fpath[d->nfile] = xasprintf("%s/%s", d->dir, t->files[d->nfile].file))) return dln_error(DLN_ENOMEM, "out of memory");
  }
  return DLN_OK;
}

/* Draw data set i with `dln run`'s code (a one-step run into its folder; the run's own
 * sampling options, t_first included, are reset: they must fit its t_end = 1e-3), then read it
 * back with the same code a run uses for data files. */
static int data_make(ens *E, int i) {
  ens_data *d = &E->data[i];
  dln_spec s;
  uint64_t ds;
  int st = dln_ens_make_spec(E, d->rep, &s, &ds);
  if (st) return st;
  const char *const kv[][2] = {{"widths", ""},  {"depth", "1"},      {"tied", "false"}, {"init", dln_init_type_gaussian.name},
                                      {"sigma", "0.01"}, {"layer_scales", ""}, {"init_product_widths", ""},
                                      {"init_files", ""}, {"imbalance_reg", ""}, {"imbalance_reg_file", ""}, {"disturbance", "none"}, {"disturbance_files", ""}, {"method", dln_integrator_gd.name},  {"eta", "1e-3"},  {"t_end", "1e-3"},
                                      {"max_steps", "1"}, {"samples", "2"},  {"log_samples", "false"}, {"sample_times", ""}, {"t_first", "0"},
                                      {"loss_threshold", "-1"}, {"recon_threshold", "0"}, {"grad_tol", "0"},
                                      {"observe", "loss"}, {"plot", "false"}, {"quiet", "true"}, {"blas_threads", "1"}};
  for (size_t j = 0; j < sizeof kv / sizeof *kv && !st; ++j) st = dln_spec_set(&s, kv[j][0], kv[j][1]);
  if (!st) st = dln_spec_set(&s, "r_alpha", "-1"); /* R_α of 000 §III: the depth-1 data run has no P, Q */
  char sb[32];
  snprintf(sb, sizeof sb, "%llu", (unsigned long long)d->seed);
  if (!st) st = dln_spec_set(&s, "seed", sb);
  snprintf(sb, sizeof sb, "%llu", (unsigned long long)E->base->stream);
  if (!st) st = dln_spec_set(&s, "stream", sb); /* the data never come from run k's stream */
  if (!st) st = dln_spec_set(&s, "out", d->dir);
  dln_run_result rr;
  if (!st) st = dln_run_nested(&s, NULL, &rr, 0, E->folder.run_id, &d->files);
  if (!st && rr.train.stop_reason == DLN_STOP_CANCELLED) st = dln_error(DLN_EINVAL, "cancelled");
  if (!st) {
    int phase;
    st = dln_ens_data_paths(d, s.task);
    if (!st) st = dln_ens_apply_data(d, &s);
    if (!st) st = dln_run_data_build(&s, NULL, &d->data, &phase);
    if (!st) st = data_truth(d);
  }
  dln_spec_free(&s);
  return st;
}

void dln_ens_data_free(ens_data *d) {
  free(d->key);
  free(d->dir);
  free(d->error);
  dln_run_files_free(&d->files);
  dln_run_data_free(&d->data);
  for (int j = 0; j < DLN_TASK_MAXFILES; ++j) free(d->fpath[j]);
}

/* ---- one run: the pipeline builder of run.c (run_internal.h) -------------------------- */

static int train_cancel(void *ctx, double t, double t_end, double loss) {
  (void)t, (void)t_end, (void)loss;
  return atomic_load(&((ens *)ctx)->cancel);
}

/* Shape key of a run: its data set, whether the dynamics are end-to-end, its widths and
 * its table's column names (they depend on the observer and, for the closed_form and bias
 * columns, on θ(0): the column pass builds each run with its init). */
char *dln_ens_shape_key(const dln_spec *s, const dln_run_parts *p, int data) {
  (void)s;
  size_t cap = 256, k = 0;
  char *buf = malloc(cap);
  for (int pass = 0; buf && pass < 1 + p->nw + p->traj->ncols; ++pass) {
    char w[64] = "";
    const char *piece = w;
    if (pass == 0) snprintf(w, sizeof w, "%d|%d", data, p->e2e);
    else if (pass <= p->nw) snprintf(w, sizeof w, "%d", p->widths[pass - 1]);
    else piece = p->traj->names[pass - 1 - p->nw];
    size_t n = strlen(piece) + 2;
    if (k + n > cap) {
      char *nb = realloc(buf, cap = 2 * (k + n));
      if (!nb) free(buf);
      buf = nb;
      if (!buf) break;
    }
    k += (size_t)snprintf(buf + k, cap - k, "%s|", piece);
  }
  return buf;
}

void dln_ens_parts_free(run_parts *r) {
  dln_run_parts_free(&r->p);
  if (r->have_spec) dln_spec_free(&r->spec);
  memset(r, 0, sizeof *r);
}

/* Build run k on its data set; with_init = 0 for the column pass (no init, no training). */
int dln_ens_parts_build(const ens *E, long k, run_parts *r, int with_init) {
  memset(r, 0, sizeof *r);
  const ens_data *d = &E->data[E->slot[k].data];
  uint64_t ds;
  int st = dln_ens_make_spec(E, k, &r->spec, &ds), phase;
  if (st) return st;
  r->have_spec = 1;
  if ((st = dln_ens_apply_data(d, &r->spec))) return st;
  dln_rng *rng = NULL;
  if (with_init && !(rng = dln_rng_alloc(r->spec.seed, r->spec.stream)))
    return dln_error(DLN_ENOMEM, "cannot allocate the random stream");
  st = dln_run_parts_build(&r->spec, &d->data, rng, &r->p, &phase);
  dln_rng_free(rng);
  return st;
}

void dln_ens_shape_task(ens *E, long k) {
  ens_slot *sl = &E->slot[k];
  run_parts r;
  int rst = dln_ens_parts_build(E, k, &r, 1);
  if (rst) dln_ens_set_run_error(sl, rst, k);
  else if (!(sl->shape_key = dln_ens_shape_key(&r.spec, &r.p, sl->data))) sl->shape_st = DLN_ENOMEM;
  dln_ens_parts_free(&r);
}

/* save_weights: run k's final layers (or W of an end-to-end run) into OUT/runs/<k>/. */
static int save_weights(const ens *E, long k, const run_parts *r, dln_run_files *files) {
  char *dir = xasprintf("%s/runs/%ld", E->out, k);
  if (!dir) return dln_error(DLN_ENOMEM, "out of memory");
  int st = dln_mkdir_p(dir);
  if (!st && r->p.e2e)
    st = dln_run_write_npy(dir, "W_final.npy", dln_net_rows(r->p.net), dln_net_cols(r->p.net), r->p.W, files);
  else if (!st)
    st = dln_run_write_layers(dir, r->p.net, r->p.theta, "final", files);
  free(dir);
  return st;
}

/* The run's table has the columns of its shape (the column pass built the same run). */
static int same_columns(const ens *E, long k, const dln_table *tb) {
  const ens_shape *sh = &E->shape[E->slot[k].shape];
  int ok = tb->ncols == sh->ncols;
  for (int c = 0; c < E->ncols && ok; ++c) ok = sh->inv[c] < 0 || strcmp(tb->names[sh->inv[c]], E->cols[c]) == 0;
  return ok ? DLN_OK : dln_error(DLN_EDIM, "run %ld: table columns: expected those of the column pass, found others", k);
}

static void run_one(ens *E, long k) {
  ens_slot *sl = &E->slot[k];
  double t0 = dln_now_seconds();
  run_parts r;
  int st = dln_ens_parts_build(E, k, &r, 1);
  if (!st) st = same_columns(E, k, r.p.traj);
  if (!st) {
    r.p.to.progress = train_cancel;
    r.p.to.progress_ctx = E;
    sl->init_draws = r.spec.init_opts.det_sign ? r.p.init_draws : 0;
    st = dln_run_parts_train(&r.p, &sl->train);
    sl->traj = r.p.traj; /* the slot owns the rows from here */
    r.p.traj = NULL;
    if (!st) st = dln_run_baseline_solve(&r.spec, r.p.loss, 0, &sl->base);
    if (!st) st = dln_run_endpoint_json(&r.p, &sl->endpoint);
    if (!st && E->opt->save_weights && E->opt->write_outputs) st = save_weights(E, k, &r, &sl->wfiles);
  }
  if (st) {
    dln_ens_set_run_error(sl, st, k);
    dln_table_free(sl->traj);
    sl->traj = NULL;
  }
  dln_ens_parts_free(&r);
  sl->wall = dln_now_seconds() - t0;
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
      if (d->status) d->error = strdup(dln_last_error());
    } else if (E->phase == 3) {
      dln_ens_shape_task(E, t);
    } else if (E->phase == 4) {
      dln_ens_expand_task(E, t);
    } else {
      run_one(E, t);
      failed = E->slot[t].status != DLN_OK;
    }
    double now = dln_now_seconds();
    pthread_mutex_lock(&E->mu);
    if (E->phase == 2) E->slot[t].done = 1, E->fin[E->nfin++] = t;
    E->ndone++;
    E->nfailed += failed;
    /* wake the driver (outputs, progress) at most every 20 ms, and for the last task or a
     * cancellation, not once per task (a futex round trip per short run); a caller's
     * cancellation callback is polled by the driver after every task, as documented */
    if (E->opt->cancelled || E->ndone == E->ntasks || atomic_load(&E->cancel) || now - E->signalled >= 0.02) {
      E->signalled = now;
      pthread_cond_signal(&E->cv);
    }
    pthread_mutex_unlock(&E->mu);
  }
  return NULL;
}

/* Run tasks[0..n) of the current phase on nthreads workers; `tick` is called from this
 * thread whenever tasks finish (and every 0.2 s). */
int dln_ens_pool_run(ens *E, int nthreads, void (*tick)(ens *, long done)) {
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
