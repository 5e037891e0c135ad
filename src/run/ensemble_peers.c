/* A sweep shared by processes (dln_ensemble_peers in dln/ensemble.h; docs/mpi.md). No
 * MPI here: the transport is the caller's (tools/mpi/sweep_mpi.c).
 *
 * Every rank expands the whole sweep, draws every data set and builds the table's columns
 * (so the rows it formats have the serial header); rank r runs the runs k ≡ r (mod R).
 * A rank > 0 sends each finished run as the record --resume keeps (ensemble_resume.c:
 * rows as table text, ensemble.json entry, totals) and writes nothing in the folder;
 * rank 0 appends those records to its OUT/.partial/runs.jsonl and writes them in run
 * order with its own runs through the serial writers, so every output file, present or
 * added later, is made by one code path. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "dln/error.h"
#include "run/ensemble_common.h"

int dln_ens_peers_local(const ens *E, long k) { return !E->peers || k % E->nranks == E->rank; }

int dln_ens_peers_sync(ens *E, int st) {
  unsigned char *mask = calloc((size_t)E->nruns, 1);
  if (!mask && !st) st = dln_error(DLN_ENOMEM, "out of memory for %ld runs", E->nruns);
  if (E->rank == 0 && !st)
    for (long k = 0; k < E->nruns; ++k) mask[k] = (unsigned char)E->slot[k].resumed;
  int all = E->peers->sync(E->peers->ctx, st, mask, mask ? E->nruns : 0);
  if (all && !st) {
    E->res->peer_failed = 1;
    st = dln_error(all, "sweep: stopped before the runs: another rank failed (its message is on its stderr)");
  } else if (!all && E->rank > 0) {
    for (long k = 0; k < E->nruns; ++k) /* read back by rank 0: not run again */
      if (mask[k]) E->slot[k].resumed = 1;
  }
  free(mask);
  return st;
}

/* rank > 0: the runs finished since the last call, sent in the order they finished. */
static void send_finished(ens *E) {
  pthread_mutex_lock(&E->mu);
  long n = E->nfin;
  pthread_mutex_unlock(&E->mu);
  for (; E->nsaved < n && !E->peer_st; ++E->nsaved) {
    long k = E->fin[E->nsaved];
    ens_slot *sl = &E->slot[k];
    if (sl->train.stop_reason == DLN_STOP_CANCELLED && !sl->status) continue; /* stopped: not a result */
    char *text = dln_ens_partial_record(E, k, sl);
    if (!text) E->peer_st = dln_error(DLN_ENOMEM, "run %ld: out of memory for its record", k);
    else if (E->peers->send(E->peers->ctx, text, strlen(text)))
      E->peer_st = dln_error(DLN_EIO, "run %ld: cannot send its record to rank 0", k);
    free(text);
    dln_table_free(sl->traj);
    sl->traj = NULL;
    sl->seen = 1;
  }
  if (E->peer_st) atomic_store(&E->cancel, 1);
}

/* rank 0: every text that has come, the first one waiting up to wait seconds. */
static void take_arrived(ens *E, double wait) {
  char *text;
  size_t len;
  int from, got;
  while (!E->peer_st && (got = E->peers->recv(E->peers->ctx, wait, &text, &len, &from)) != 0) {
    if (got < 0) E->peer_st = dln_error(DLN_EIO, "sweep: cannot receive from the other ranks");
    else E->peer_st = dln_ens_partial_take(E, text, len, from);
    if (got > 0) free(text);
    wait = 0;
  }
  if (E->peer_st) atomic_store(&E->cancel, 1);
}

void dln_ens_peers_tick(ens *E, long done) {
  if (E->rank > 0) {
    send_finished(E);
    return;
  }
  take_arrived(E, 0);
  dln_ens_tick_runs(E, done);
}

int dln_ens_peers_gather(ens *E) {
  while (!E->peer_st && E->nremote_done < E->nremote && !atomic_load(&E->cancel)) {
    if (E->opt->cancelled && E->opt->cancelled(E->opt->progress_ctx)) {
      atomic_store(&E->cancel, 1);
      break;
    }
    take_arrived(E, 0.2);
    dln_ens_tick_runs(E, E->ndone);
  }
  return E->peer_st;
}

void dln_ens_peers_report(ens *E, int st, int cancelled) {
  if (!st && !cancelled && !E->peer_st) send_finished(E); /* the last ones */
  if (!st && E->peer_st) st = E->peer_st;
  json_t *r = NULL;
  if (st) r = json_pack("{s:s, s:i}", "fatal", dln_last_error(), "status", st);
  else if (cancelled) r = json_pack("{s:b}", "cancelled", 1);
  char *text = r ? dln_json_dumps(r, JSON_COMPACT) : NULL;
  if (text) E->peers->send(E->peers->ctx, text, strlen(text)); /* a rank that cannot send is stopped by mpirun's abort */
  free(text);
  json_decref(r);
}
