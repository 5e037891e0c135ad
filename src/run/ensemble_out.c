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

/* A run's totals into O (a resumed run: those it stored). */
static void count_run(ens_out *O, const ens_slot *sl) {
  if (sl->status != DLN_OK) {
    ++O->nfailed;
  } else {
    const dln_train_result *tr = &sl->train;
    if (tr->stop_reason != DLN_STOP_CANCELLED) ++O->ncomplete;
    if (sl->resumed || sl->remote ? sl->diverged : tr->stop_reason == DLN_STOP_DIVERGED || tr->stop_reason == DLN_STOP_SOLVER) ++O->ndiverged;
    O->steps += tr->steps;
    O->grad_evals += tr->grad_evals;
    O->rejected += tr->rejected;
  }
  O->run_wall += sl->wall;
}

int dln_ens_stored_rows(const ens *E, long k, FILE *fp) {
  return E->merge ? dln_ens_merge_rows(E, k, fp) : dln_ens_partial_rows(E, k, fp);
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
    if ((sl->queued && !sl->seen) || sl->remote == 1) return; /* remote: still running on its rank */
    count_run(O, sl);
    if (O->runs && dln_jappend(O->runs, dln_ens_run_json(E, k, sl))) { /* out of memory: no summary (dln_ens_summary) */
      json_decref(O->runs);
      O->runs = NULL;
    }
    if (O->fp && sl->resumed) O->err |= dln_ens_stored_rows(E, k, O->fp);
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
    long pre = E->prefailed + E->nresumed; /* and the runs of other ranks (ensemble_peers.c) */
    E->opt->progress(E->opt->progress_ctx, done + pre + E->nremote_done, E->ntasks + pre + E->nremote,
                     failed + E->prefailed + E->nremote_failed);
  }
}

static json_t *blas_json(int before) {
  json_t *o = json_object();
  const char *cfg = openblas_get_config();
  dln_jset(o, "library", json_string("OpenBLAS"));
  dln_jset(o, "config", json_string(cfg ? cfg : ""));
  dln_jset(o, "threads_per_run", json_integer(1));
  dln_jset(o, "threads_before", json_integer(before));
  dln_run_gemm_json(o);
  return o;
}

/* Open the table and write its header. */
int dln_ens_open_table(const ens *E, ens_out *O) {
  int st = dln_afile_open(&O->csv, E->csv_path);
  if (st) return st;
  O->fp = dln_afile_stream(O->csv);
  dln_ens_write_header(E, O->fp);
  return DLN_OK;
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
  dln_jset(sum, "spec_file", E->base->source ? json_string(E->base->source) : json_null()); /* for the rerun lines (dln merge) */
  dln_jset(sum, "sweep", dln_ens_sweep_json(E->sw));
  dln_jset(sum, "legend", dln_ens_legend_json(E)); /* the codes of ensemble.csv's text-valued columns */
  dln_jset(sum, "nruns", json_integer(E->nruns));
  json_t *sh = json_object();
  dln_jset(sh, "index", json_integer(E->shard));
  dln_jset(sh, "count", json_integer(E->nshards));
  dln_jset(sh, "runs", json_integer(E->res->nselected));
  dln_jset(sum, "shard", sh);
  dln_jset(sum, "threads", json_integer(E->nthreads));
  dln_jset(sum, "blas", blas_json(E->blas_before));
  dln_jset(sum, "csv", E->opt->write_outputs ? json_string(E->csv_path) : json_null());
  if (E->opt->write_outputs) { /* the binary table: one .npy per column (ensemble_npy.c) */
    size_t n = strlen(E->csv_path) - 4;
    char *d = malloc(n + 2);
    if (d) memcpy(d, E->csv_path, n), memcpy(d + n, "/", 2);
    dln_jset(sum, "npy", d ? json_string(d) : NULL);
    free(d);
  } else {
    dln_jset(sum, "npy", json_null());
  }
  dln_jset(sum, "totals", totals_json(E, O));
  dln_jset(sum, "runs", O->runs);
  O->runs = NULL;
  return dln_json_done(sum, mark);
}
