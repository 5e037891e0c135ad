/* The outputs of an ensemble (dln/ensemble.h; docs/cli.md "Sweeps"): ensemble.csv,
 * streamed in run order while later runs still train, and ensemble.json (per run: stop
 * reason, counters, final values, the `dln run` line that repeats it). */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <jansson.h>

#include "dln/error.h"
#include "dln/io.h"
#include "dln/train.h"
#include "dln_version.h"
#include "run/ensemble_common.h"
#include "run/run_internal.h"

/* ---- outputs ------------------------------------------------------------------------ */

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
    const dln_sweep_value *v = dln_ens_run_value(E->sw, k, a);
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

/* A resumed run's stored entry with the paths of this sweep's folder. */
static json_t *resumed_json(const ens *E, long k, const ens_slot *sl) {
  unsigned long mark = dln_json_mark();
  json_t *r = json_deep_copy(sl->entry);
  if (!r) return NULL;
  dln_jset(r, "data", sl->data >= 0 ? json_string(E->data[sl->data].dir) : json_null());
  char *rr = rerun_line(E, k, sl);
  dln_jset(r, "rerun", rr ? json_string(rr) : NULL); /* NULL: out of memory, counted */
  free(rr);
  return dln_json_done(r, mark);
}

static json_t *run_json(const ens *E, long k, const ens_slot *sl) {
  if (sl->resumed) return resumed_json(E, k, sl);
  if (sl->entry) return json_incref(sl->entry); /* made when the run was kept (ensemble_resume.c) */
  unsigned long mark = dln_json_mark();
  json_t *r = json_object();
  if (!r) return NULL;
  char sb[32];
  dln_jset(r, "run", json_integer(k));
  snprintf(sb, sizeof sb, "%llu", (unsigned long long)sl->seed);
  dln_jset(r, "seed", json_string(sb));
  dln_jset(r, "stream", json_integer((json_int_t)sl->stream));
  json_t *ov = json_object();
  for (int a = 0; a < E->sw->naxes; ++a) {
    const dln_sweep_value *v = dln_ens_run_value(E->sw, k, a);
    for (int j = 0; j < v->n; ++j) dln_jset(ov, v->names[j], json_string(v->values[j]));
  }
  dln_jset(r, "overrides", ov);
  dln_jset(r, "data", sl->data >= 0 ? json_string(E->data[sl->data].dir) : json_null());
  dln_jset(r, "status", json_string(sl->status ? "error" : "ok"));
  if (sl->status) {
    dln_jset(r, "error", json_string(sl->error ? sl->error : dln_strerror(sl->status)));
  } else {
    const dln_train_result *tr = &sl->train;
    dln_jset(r, "stop_reason", json_string(dln_stop_reason_name(tr->stop_reason)));
    dln_jset(r, "message", json_string(tr->message));
    dln_jset(r, "t", dln_json_num(tr->t));
    dln_jset(r, "t_threshold", dln_json_num(tr->t_threshold));
    dln_jset(r, "fail_t", dln_json_num(tr->fail_t));
    dln_jset(r, "fail_step", tr->fail_step >= 0 ? json_integer(tr->fail_step) : json_null());
    dln_jset(r, "counters", dln_train_counters_json(tr));
    json_t *fin = json_object();
    if (sl->traj && sl->traj->nrows) {
      const double *row = sl->traj->data + (sl->traj->nrows - 1) * (size_t)sl->traj->ncols;
      for (int c = 0; c < sl->traj->ncols; ++c) dln_jset(fin, sl->traj->names[c], dln_json_num(row[c]));
    }
    dln_jset(r, "final", fin);
    dln_jset(r, "rows", json_integer(sl->traj ? (json_int_t)sl->traj->nrows : 0));
  }
  dln_jset(r, "wall_seconds", dln_json_num(sl->wall));
  char *rr = rerun_line(E, k, sl);
  dln_jset(r, "rerun", rr ? json_string(rr) : NULL); /* NULL: out of memory, counted */
  free(rr);
  return dln_json_done(r, mark);
}

json_t *dln_ens_run_json(const ens *E, long k, const ens_slot *sl) { return run_json(E, k, sl); }

void dln_ens_write_rows(const ens *E, long k, const ens_slot *sl, FILE *fp) {
  const ens_shape *sh = &E->shape[sl->shape];
  char head[64];
  snprintf(head, sizeof head, "%ld,%llu,%llu", k, (unsigned long long)sl->seed, (unsigned long long)sl->stream);
  const char *dseed = E->data_seed_swept ? dln_ens_run_override(E->sw, k, "data_seed") : NULL;
  for (size_t i = 0; i < sl->traj->nrows; ++i) {
    const double *row = sl->traj->data + i * (size_t)sl->traj->ncols;
    fputs(head, fp);
    if (E->data_seed_swept) fprintf(fp, ",%s", dseed ? dseed : "");
    for (int p = 0; p < E->nparams; ++p) {
      const char *v = dln_ens_run_override(E->sw, k, E->params[p]);
      fputc(',', fp);
      if (v) csv_text(fp, v);
    }
    for (int c = 0; c < E->ncols; ++c) {
      int src = sh->inv[c];
      if (src >= 0) fprintf(fp, ",%.17g", row[src]);
      else fputc(',', fp);
    }
    fputc('\n', fp);
  }
}

/* A run's totals into O (a resumed run: those it stored). */
static void count_run(ens_out *O, const ens_slot *sl) {
  if (sl->status != DLN_OK) {
    ++O->nfailed;
  } else {
    const dln_train_result *tr = &sl->train;
    if (tr->stop_reason != DLN_STOP_CANCELLED) ++O->ncomplete;
    if (sl->resumed ? sl->diverged : tr->stop_reason == DLN_STOP_DIVERGED || tr->stop_reason == DLN_STOP_SOLVER) ++O->ndiverged;
    O->steps += tr->steps;
    O->grad_evals += tr->grad_evals;
    O->rejected += tr->rejected;
  }
  O->run_wall += sl->wall;
}

/* Write the finished runs at the head of the queue, in run order. */
void dln_ens_flush_ready(ens *E, ens_out *O) {
  for (;;) {
    while (O->next < E->nruns && !E->sel[O->next]) ++O->next;
    if (O->next >= E->nruns) return;
    long k = O->next;
    ens_slot *sl = &E->slot[k];
    /* runs that failed before phase 2 or were resumed are never queued; a run that finished
     * is written once its partial files are (dln_ens_partial_save: its rows are still here) */
    if (sl->queued && !sl->seen) return;
    count_run(O, sl);
    if (O->runs && dln_jappend(O->runs, run_json(E, k, sl))) { /* out of memory: no summary (dln_ens_summary) */
      json_decref(O->runs);
      O->runs = NULL;
    }
    if (O->fp && sl->resumed) O->err |= dln_ens_partial_rows(E, k, O->fp);
    else if (O->fp && sl->rows) O->err |= fwrite(sl->rows, 1, sl->nrows_text, O->fp) != sl->nrows_text;
    else if (O->fp && sl->traj) dln_ens_write_rows(E, k, sl, O->fp);
    free(sl->rows);
    sl->rows = NULL;
    json_decref(sl->entry);
    sl->entry = NULL;
    dln_table_free(sl->traj);
    sl->traj = NULL;
    ++O->nwritten;
    ++O->next;
  }
}

void dln_ens_tick_runs(ens *E, long done) {
  if (!E->save_st && (E->save_st = dln_ens_partial_save(E))) atomic_store(&E->cancel, 1); /* before flush frees the rows */
  dln_ens_flush_ready(E, E->outs);
  if (E->opt->progress) {
    pthread_mutex_lock(&E->mu);
    long failed = E->nfailed;
    pthread_mutex_unlock(&E->mu);
    long pre = E->prefailed + E->nresumed;
    E->opt->progress(E->opt->progress_ctx, done + pre, E->ntasks + pre, failed + E->prefailed);
  }
}

static json_t *blas_json(int before) {
  json_t *o = json_object();
  const char *cfg = openblas_get_config();
  dln_jset(o, "library", json_string("OpenBLAS"));
  dln_jset(o, "config", json_string(cfg ? cfg : ""));
  dln_jset(o, "threads_per_run", json_integer(1));
  dln_jset(o, "threads_before", json_integer(before));
  return o;
}

/* Open the table and write its header. */
int dln_ens_open_table(const ens *E, ens_out *O) {
  int st = dln_afile_open(&O->csv, E->csv_path);
  if (st) return st;
  O->fp = dln_afile_stream(O->csv);
  fputs("run,seed,stream", O->fp);
  if (E->data_seed_swept) fputs(",data_seed", O->fp);
  for (int p = 0; p < E->nparams; ++p) fprintf(O->fp, ",%s", E->params[p]);
  for (int c = 0; c < E->ncols; ++c) fprintf(O->fp, ",%s", E->cols[c]);
  fputc('\n', O->fp);
  return DLN_OK;
}

/* The sweep object of the summary: per axis its values ("runs": per run its overrides). */
json_t *dln_ens_sweep_json(const dln_sweep *sw) {
  json_t *sj = json_object();
  for (int a = 0; a < sw->naxes; ++a) {
    json_t *vals = json_array();
    for (int i = 0; i < sw->axes[a].n; ++i) {
      const dln_sweep_value *v = &sw->axes[a].v[i];
      if (strcmp(sw->axes[a].key, "runs") == 0) {
        json_t *o = json_object();
        for (int j = 0; j < v->n; ++j) dln_jset(o, v->names[j], json_string(v->values[j]));
        dln_jappend(vals, o);
      } else {
        dln_jappend(vals, json_string(v->values[0]));
      }
    }
    dln_jset(sj, sw->axes[a].key, vals);
  }
  return sj;
}

/* The totals object of the summary. */
static json_t *totals_json(const ens *E, const ens_out *O) {
  const dln_ensemble_result *res = E->res;
  json_t *tot = json_object();
  dln_jset(tot, "runs", json_integer(res->nselected));
  dln_jset(tot, "complete", json_integer(O->ncomplete));
  dln_jset(tot, "diverged_or_solver", json_integer(O->ndiverged));
  dln_jset(tot, "failed", json_integer(O->nfailed));
  dln_jset(tot, "steps", json_integer(O->steps));
  dln_jset(tot, "grad_evals", json_integer(O->grad_evals));
  dln_jset(tot, "rejected", json_integer(O->rejected));
  dln_jset(tot, "run_wall_seconds", dln_json_num(O->run_wall));
  dln_jset(tot, "wall_seconds", dln_json_num(res->wall_seconds));
  dln_jset(tot, "runs_per_second", dln_json_num(res->wall_seconds > 0 ? (double)res->nselected / res->wall_seconds : NAN));
  return tot;
}

/* The summary (ensemble.json) of the finished sweep; takes O->runs. NULL: no memory, now or
 * when a run's entry was made (O->runs dropped). */
json_t *dln_ens_summary(const ens *E, ens_out *O) {
  unsigned long mark = dln_json_mark();
  json_t *sum = json_object();
  if (!sum) return NULL;
  dln_jset(sum, "dln_version", json_string(DLN_VERSION_STRING));
  dln_jset(sum, "complete", json_true());
  dln_jset(sum, "run_id", json_string(E->folder.run_id));
  dln_jset(sum, "spec", dln_spec_to_json(E->base));
  dln_jset(sum, "sweep", dln_ens_sweep_json(E->sw));
  dln_jset(sum, "nruns", json_integer(E->nruns));
  json_t *sh = json_object();
  dln_jset(sh, "index", json_integer(E->shard));
  dln_jset(sh, "count", json_integer(E->nshards));
  dln_jset(sh, "runs", json_integer(E->res->nselected));
  dln_jset(sum, "shard", sh);
  dln_jset(sum, "threads", json_integer(E->nthreads));
  dln_jset(sum, "blas", blas_json(E->blas_before));
  dln_jset(sum, "csv", E->opt->write_outputs ? json_string(E->csv_path) : json_null());
  dln_jset(sum, "totals", totals_json(E, O));
  dln_jset(sum, "runs", O->runs);
  O->runs = NULL;
  return dln_json_done(sum, mark);
}
