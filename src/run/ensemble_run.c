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
 * tests/test_ensemble.c checks that it gives the same rows bit for bit.
 *
 * Files: this one (the driver and the specs of the runs), ensemble_sweep.c (the sweep
 * API), ensemble_worker.c (data sets, one run, the pool), ensemble_out.c (the table and
 * the summary), ensemble_resume.c (finished runs kept for --resume); their shared state
 * is in ensemble_common.h. */
#include "dln/ensemble.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cblas.h>
#include <jansson.h>

#include "core/util.h"
#include "dln/error.h"
#include "dln/io.h"
#include "dln/run.h"
#include "run/ensemble_common.h"
#include "run/run_internal.h"
#include "run/spec_internal.h"

/* ---- options ---------------------------------------------------------------------- */


/* ---- run specs ----------------------------------------------------------------------- */


static int add_name(char ***list, int *n, const char *name) {
  for (int i = 0; i < *n; ++i)
    if (strcmp((*list)[i], name) == 0) return i;
  char **l = realloc(*list, (size_t)(*n + 1) * sizeof *l);
  if (!l) return -1;
  *list = l;
  if (!(l[*n] = strdup(name))) return -1;
  return (*n)++;
}

/* ---- driver ----------------------------------------------------------------------- */

/* The slots, the output paths and the parameter columns (nothing is written). */
static int ens_prepare(ens *E) {
  long nruns = E->nruns;
  const dln_sweep *sw = E->sw;
  char sfx[64] = "";
  if (E->nshards > 1) snprintf(sfx, sizeof sfx, ".shard%dof%d", E->shard, E->nshards);
  E->slot = calloc((size_t)nruns, sizeof *E->slot);
  E->sel = calloc((size_t)nruns, 1);
  E->tasks = calloc((size_t)nruns, sizeof *E->tasks);
  E->fin = calloc((size_t)nruns, sizeof *E->fin);
  if (!E->slot || !E->sel || !E->tasks || !E->fin) return dln_error(DLN_ENOMEM, "out of memory for %ld runs", nruns);
  E->csv_path = xasprintf("%s/ensemble%s.csv", E->out, sfx);
  E->json_path = xasprintf("%s/ensemble%s.json", E->out, sfx);
  E->ep_path = xasprintf("%s/endpoints%s.json", E->out, sfx);
  E->rt_path = xasprintf("%s/ensemble_runs%s.csv", E->out, sfx);
  if (E->opt->write_outputs) E->pdir = xasprintf("%s/.partial%s", E->out, sfx);
  if (!E->csv_path || !E->json_path || !E->ep_path || !E->rt_path || (E->opt->write_outputs && !E->pdir)) return dln_error(DLN_ENOMEM, "out of memory");
  snprintf(E->res->csv_path, sizeof E->res->csv_path, "%s", E->csv_path);
  snprintf(E->res->json_path, sizeof E->res->json_path, "%s", E->json_path);
  /* parameter columns */
  for (int a = 0; a < sw->naxes; ++a)
    for (int i = 0; i < sw->axes[a].n; ++i)
      for (int j = 0; j < sw->axes[a].v[i].n; ++j) {
        const char *n = sw->axes[a].v[i].names[j];
        if (!strcmp(n, "data_seed")) E->data_seed_swept = 1;
        else if (strcmp(n, "seed") && strcmp(n, "stream") && add_name(&E->params, &E->nparams, n) < 0)
          return dln_error(DLN_ENOMEM, "out of memory");
      }
  return dln_ens_param_layout(E);
}

/* The data set of key (found, or a new one drawn with data seed ds for run k): its
 * index in *i. Takes key. */
static int find_data(ens *E, char *key, long k, uint64_t ds, int *i) {
  *i = 0;
  while (*i < E->ndata && strcmp(E->data[*i].key, key) != 0) ++*i;
  if (*i < E->ndata) {
    free(key);
    return DLN_OK;
  }
  ens_data *nd = realloc(E->data, (size_t)(E->ndata + 1) * sizeof *nd);
  if (!nd) {
    free(key);
    return dln_error(DLN_ENOMEM, "out of memory");
  }
  E->data = nd;
  memset(&E->data[*i], 0, sizeof *nd);
  E->data[*i].key = key;
  E->data[*i].rep = k;
  E->data[*i].seed = ds;
  E->ndata++;
  if (!(E->data[*i].dir = xasprintf("%s/data/%d", E->out, *i))) return dln_error(DLN_ENOMEM, "out of memory");
  return DLN_OK;
}


/* Phase A: the spec of every run and its data key (errors stay with the run), on the pool;
 * the data sets are then found in run order, so their numbering does not depend on the
 * threads. Runs a cancel left undone are expanded here. */
static int ens_expand(ens *E) {
  E->phase = 4;
  E->ntasks = 0;
  for (long k = 0; k < E->nruns; ++k) {
    ens_slot *sl = &E->slot[k];
    sl->data = sl->shape = -1;
    E->sel[k] = k % E->nshards == E->shard; /* every run is expanded: the header covers the whole sweep */
    E->res->nselected += E->sel[k];
    E->tasks[E->ntasks++] = k;
  }
  int st = dln_ens_pool_run(E, E->nthreads, NULL);
  for (long k = 0; k < E->nruns && !st; ++k) {
    ens_slot *sl = &E->slot[k];
    if (!sl->expanded) dln_ens_expand_task(E, k);
    if (sl->status) continue;
    if (sl->expand_st || !sl->data_key) return dln_error(DLN_ENOMEM, "out of memory");
    char *key = sl->data_key;
    sl->data_key = NULL;
    int i;
    if (!(st = find_data(E, key, k, sl->data_seed, &i))) sl->data = i;
  }
  return st;
}

/* The folder, once the runs' specs are checked: locked, and refused when it holds the
 * outputs of an earlier run or sweep without force (run_folder.c). A shard takes its own
 * lock (shards of one sweep run side by side in one folder), is refused only by its own
 * files and writes no manifest; without outputs (benchmarks), nothing is refused or
 * listed. */
static int ens_open_folder(ens *E) {
  const char *known[5] = {strrchr(E->csv_path, '/') + 1, strrchr(E->json_path, '/') + 1, strrchr(E->ep_path, '/') + 1,
                          strrchr(E->rt_path, '/') + 1, NULL};
  int sharded = E->nshards > 1, outputs = E->opt->write_outputs;
  char lock[64];
  snprintf(lock, sizeof lock, ".dln.shard%dof%d.lock", E->shard, E->nshards);
  int partial = dln_ens_partial_exists(E), resumed = E->opt->resume && partial > 0; /* replaces the interrupted sweep's own files */
  if (partial < 0) {
    E->res->fail_phase = DLN_RUN_FAIL_OUTPUT;
    return -partial;
  }
  if (partial && !resumed && !E->base->force) {
    E->res->fail_phase = DLN_RUN_FAIL_OUTPUT;
    return dln_error(DLN_EIO, "%s: holds an interrupted sweep (%s); --resume continues it, --force starts it over", E->out, E->pdir);
  }
  int force = E->base->force || (E->merge && E->merge->force);
  int st = dln_run_folder_open(&E->folder, E->out, force || !outputs || resumed, sharded ? known : NULL,
                               sharded ? lock : NULL, &E->res->fail_phase);
  E->folder.manifest = outputs && !sharded;
  /* a killed sweep's temporary files (ensemble.csv's can be large), in its own folder,
   * data/<i>/ and ensemble/: only where no other process writes (not a shard's or an MPI
   * rank's folder, nor a merge's, whose shards might still run) */
  if (!st && !sharded && !E->peers && !E->merge && (st = dln_run_folder_remove_debris(&E->folder, 2, NULL)))
    E->res->fail_phase = DLN_RUN_FAIL_OUTPUT;
  if (!st) E->res->fail_phase = DLN_RUN_FAIL_NONE;
  return st;
}

/* Phase B: the data sets, in parallel; a run whose data set failed fails with it. */
static int ens_draw_data(ens *E) {
  E->phase = 1;
  E->ntasks = E->ndata;
  for (int i = 0; i < E->ndata; ++i) E->tasks[i] = i;
  int st = dln_ens_pool_run(E, E->nthreads, NULL);
  if (st || atomic_load(&E->cancel)) return st;
  for (int i = 0; i < E->ndata && !st; ++i) { /* data/<i>/... into the manifest's list */
    char prefix[64];
    snprintf(prefix, sizeof prefix, "data/%d", i);
    st = dln_run_files_add_all(&E->folder.files, prefix, &E->data[i].files);
  }
  if (st) return st;
  for (long k = 0; k < E->nruns; ++k) {
    ens_slot *sl = &E->slot[k];
    if (!sl->status && E->data[sl->data].status) {
      sl->status = E->data[sl->data].status;
      sl->error = xasprintf("run %ld: data set %s: %s", k, E->data[sl->data].dir, E->data[sl->data].error ? E->data[sl->data].error : "");
    }
  }
  return DLN_OK;
}

/* A new shape of key (takes key) with the columns of table tb, added to the union. */
static int add_shape(ens *E, char *key, const dln_table *tb) {
  ens_shape *ns = realloc(E->shape, (size_t)(E->nshape + 1) * sizeof *ns);
  if (!ns) {
    free(key);
    return dln_error(DLN_ENOMEM, "out of memory");
  }
  int i = E->nshape, st = DLN_OK;
  E->shape = ns;
  memset(&E->shape[i], 0, sizeof *ns);
  E->shape[i].key = key;
  E->nshape++;
  int nc = tb->ncols;
  E->shape[i].ncols = nc;
  /* inv is filled after the union is complete; remember names through the union */
  int *map = malloc((size_t)(nc ? nc : 1) * sizeof *map);
  if (!map) st = dln_error(DLN_ENOMEM, "out of memory");
  for (int c = 0; c < nc && !st; ++c) /* wide columns (eigC_*) only with opt->wide: -1, not in the table */
    if (!E->opt->wide && dln_ens_wide_column(tb->names[c])) map[c] = -1;
    else if ((map[c] = add_name(&E->cols, &E->ncols, tb->names[c])) < 0) st = dln_error(DLN_ENOMEM, "out of memory");
  E->shape[i].inv = map; /* temporarily: observer column -> union column */
  return st;
}

/* The shape of run k from its key (phase 3, dln_ens_shape_task); a new shape takes its
 * columns from run k built again here. */
static int assign_shape(ens *E, long k) {
  ens_slot *sl = &E->slot[k];
  char *key = sl->shape_key;
  sl->shape_key = NULL;
  if (sl->shape_st || !key) return free(key), dln_error(DLN_ENOMEM, "out of memory");
  int i = 0, st = DLN_OK;
  while (i < E->nshape && strcmp(E->shape[i].key, key) != 0) ++i;
  if (i == E->nshape) {
    run_parts p;
    if ((st = dln_ens_parts_build(E, k, &p, 1))) free(key); /* it was built once: out of memory */
    else st = add_shape(E, key, p.p.traj);
    dln_ens_parts_free(&p);
  } else {
    free(key);
  }
  if (!st) sl->shape = i;
  return st;
}

/* Phase C: the table's columns, the union over the shapes of every run. Each run is built
 * with its init, without training (the closed_form and bias columns depend on θ(0)), on the
 * pool; the union is then taken in run order, so it does not depend on the threads. */
static int ens_columns(ens *E) {
  E->phase = 3;
  E->ntasks = 0;
  for (long k = 0; k < E->nruns; ++k)
    if (!E->slot[k].status) E->tasks[E->ntasks++] = k;
  int st = dln_ens_pool_run(E, E->nthreads, NULL);
  if (st || atomic_load(&E->cancel)) return st;
  for (long k = 0; k < E->nruns && !st; ++k)
    if (!E->slot[k].status) st = assign_shape(E, k);
  if (st) return st;
  for (int i = 0; i < E->nshape; ++i) { /* invert: union column -> observer column */
    int *inv = malloc((size_t)(E->ncols ? E->ncols : 1) * sizeof *inv);
    if (!inv) return dln_error(DLN_ENOMEM, "out of memory");
    for (int c = 0; c < E->ncols; ++c) inv[c] = -1;
    for (int c = 0; c < E->shape[i].ncols; ++c)
      if (E->shape[i].inv[c] >= 0) inv[E->shape[i].inv[c]] = c;
    free(E->shape[i].inv);
    E->shape[i].inv = inv;
  }
  return DLN_OK;
}

/* Phase D: the selected runs that have not failed yet, on the pool, written as they finish. */
static int ens_train(ens *E, ens_out *O) {
  E->phase = 2;
  E->ntasks = 0;
  E->nfailed = 0;
  for (long k = 0; k < E->nruns; ++k) {
    if (!E->sel[k] || E->slot[k].status || E->slot[k].resumed) continue;
    if (dln_ens_peers_local(E, k)) E->tasks[E->ntasks++] = k, E->slot[k].queued = 1;
    else if (E->rank == 0) E->slot[k].remote = 1, E->nremote++; /* sent by its rank (ensemble_peers.c) */
  }
  E->prefailed = E->res->nselected - E->ntasks - E->nresumed - E->nremote;
  E->outs = O;
  int st = dln_ens_pool_run(E, E->nthreads, E->peers ? dln_ens_peers_tick : dln_ens_tick_runs);
  if (!st && E->peers && E->rank == 0) st = dln_ens_peers_gather(E);
  E->outs = NULL;
  if (!st && E->peer_st) st = E->peer_st;
  if (E->rank > 0) return st; /* its records went to rank 0 */
  if (!st && !E->save_st) E->save_st = dln_ens_partial_save(E); /* the runs finished since the last tick */
  E->res->nkept = E->nresumed + E->nkept;
  if (!st && E->save_st) E->res->fail_phase = DLN_RUN_FAIL_OUTPUT, st = E->save_st;
  return st;
}

/* Every selected run failed: the first one's status and message, nothing committed. */
static int ens_all_failed(ens *E) {
  long k = 0;
  while (k < E->nruns && !(E->sel[k] && E->slot[k].status)) ++k;
  const ens_slot *sl = &E->slot[k];
  E->res->fail_phase = DLN_RUN_FAIL_INPUT;
  if (sl->error)
    return dln_error(sl->status, "sweep: all %ld runs failed, nothing committed to %s; the first: %s", E->res->nselected,
                     E->out, sl->error);
  return dln_error(sl->status, "sweep: all %ld runs failed, nothing committed to %s; the first: run %ld: %s",
                   E->res->nselected, E->out, k, dln_strerror(sl->status));
}

/* endpoints.json beside ensemble.json when some run has an end point (factorization). */
static int ens_write_endpoints(ens *E, const json_t *runs) {
  size_t i;
  json_t *e;
  int any = 0;
  json_array_foreach(runs, i, e) any |= json_is_object(json_object_get(e, "endpoint"));
  if (!any) return DLN_OK;
  json_t *tally = dln_ens_endpoints_json(runs);
  if (!tally) return dln_error(DLN_ENOMEM, "%s: out of memory while building it; not written", E->ep_path);
  int st = dln_json_write(E->ep_path, tally);
  json_decref(tally);
  return st ? st : dln_run_files_add(&E->folder.files, strrchr(E->ep_path, '/') + 1);
}

/* save_weights: the runs' weight files into the manifest's list (before --force removes
 * the earlier files); a resumed run's are those its interrupted sweep left in runs/<k>. */
static int ens_list_weights(ens *E) {
  int st = DLN_OK;
  for (long k = 0; k < E->nruns && !st && E->opt->save_weights; ++k) {
    ens_slot *sl = &E->slot[k];
    if (!E->sel[k] || sl->status) continue;
    char prefix[48];
    snprintf(prefix, sizeof prefix, "runs/%ld", k);
    if (sl->resumed) {
      char *dir = xasprintf("%s/%s", E->out, prefix);
      DIR *dp = dir ? opendir(dir) : NULL;
      for (struct dirent *e; dp && !st && (e = readdir(dp));) {
        size_t n = strlen(e->d_name);
        if (n > 10 && strcmp(e->d_name + n - 10, "_final.npy") == 0) st = dln_run_files_add(&sl->wfiles, e->d_name);
      }
      if (dp) closedir(dp);
      free(dir);
    }
    if (!st) st = dln_run_files_add_all(&E->folder.files, prefix, &sl->wfiles);
  }
  return st;
}

/* The binary table beside the CSV: DIR/ensemble/<column>.npy (a shard:
 * DIR/ensemble.shard<i>of<N>/), from the committed CSV. */
static int ens_write_npy(ens *E) {
  const char *base = strrchr(E->csv_path, '/') + 1;
  char *prefix = xasprintf("%.*s", (int)(strlen(base) - 4), base); /* without ".csv" */
  char *dir = prefix ? xasprintf("%s/%s", E->out, prefix) : NULL;
  int st = dir ? dln_ens_write_columns(E->csv_path, dir, prefix, &E->folder.files) : dln_error(DLN_ENOMEM, "out of memory");
  free(prefix);
  free(dir);
  return st;
}

/* The rest of the table, the totals, the summary and the manifest. */
static int ens_finish(ens *E, ens_out *O) {
  dln_ensemble_result *res = E->res;
  dln_ens_flush_ready(E, O);
  int mst = E->merge && !O->err ? dln_ens_merge_done(E) : DLN_OK;
  if (mst) return res->fail_phase = DLN_RUN_FAIL_INPUT, mst;
  res->ncomplete = O->ncomplete;
  res->ndiverged = O->ndiverged;
  res->nfailed = O->nfailed;
  res->steps = O->steps;
  res->grad_evals = O->grad_evals;
  res->wall_seconds = dln_now_seconds() - E->t0;
  if (res->nselected > 0 && res->nfailed == res->nselected) {
    dln_ens_partial_close(E);
    dln_ens_partial_remove(E->pdir); /* no finished run to keep */
    return ens_all_failed(E);
  }
  res->fail_phase = DLN_RUN_FAIL_OUTPUT;
  if (O->err && E->merge) return res->fail_phase = DLN_RUN_FAIL_INPUT, DLN_EFORMAT; /* a shard's rows; error set */
  if (O->err) return dln_error(DLN_EIO, "%s: cannot write the rows: %s", E->csv_path, dln_last_error());
  int st = ens_list_weights(E);
  if (!st) st = dln_run_folder_begin(&E->folder); /* the earlier run's files (force), then ours */
  if (!st && O->csv) {
    st = dln_afile_commit(O->csv);
    O->csv = NULL;
    O->fp = NULL;
    if (!st) st = dln_run_files_add(&E->folder.files, strrchr(E->csv_path, '/') + 1);
    if (!st) st = ens_write_npy(E);
  }
  if (st) return st;
  json_t *sum = dln_ens_summary(E, O);
  if (!sum) return dln_error(DLN_ENOMEM, "%s: out of memory while building it; not written", E->json_path);
  if (E->opt->write_outputs) {
    st = dln_json_write(E->json_path, sum);
    if (!st) st = dln_run_files_add(&E->folder.files, strrchr(E->json_path, '/') + 1);
    if (!st) st = ens_write_endpoints(E, json_object_get(sum, "runs"));
    if (!st) st = dln_ens_write_run_table(E, json_object_get(sum, "runs"), E->rt_path);
    if (!st) st = dln_run_files_add(&E->folder.files, strrchr(E->rt_path, '/') + 1);
    if (!st && (E->opt->plot || E->sw->plot) && E->nshards <= 1) st = dln_ens_write_plot(E, sum);
  }
  json_decref(sum);
  if (!st) st = dln_run_folder_finish(&E->folder, "sweep", 1);
  dln_ens_partial_close(E);
  if (!st) st = dln_ens_partial_remove(E->pdir); /* committed: nothing to resume */
  if (!st) res->fail_phase = DLN_RUN_FAIL_NONE;
  return st;
}

/* The one cleanup path. */
static void ens_free(ens *E, ens_out *O) {
  dln_ens_partial_close(E);
  openblas_set_num_threads(E->blas_before > 0 ? E->blas_before : 1);
  if (O->csv) dln_afile_abort(O->csv);
  json_decref(O->runs);
  if (E->slot)
    for (long k = 0; k < E->nruns; ++k) {
      free(E->slot[k].error);
      free(E->slot[k].shape_key); /* left by a cancelled or failed column pass */
      free(E->slot[k].data_key);
      dln_table_free(E->slot[k].traj);
      json_decref(E->slot[k].entry);
      json_decref(E->slot[k].endpoint);
      free(E->slot[k].rows);
      dln_run_files_free(&E->slot[k].wfiles);
    }
  for (int i = 0; i < E->ndata; ++i) dln_ens_data_free(&E->data[i]);
  for (int i = 0; i < E->nshape; ++i) {
    free(E->shape[i].key);
    free(E->shape[i].inv);
  }
  for (int i = 0; i < E->ncols; ++i) free(E->cols[i]);
  dln_ens_param_free(E);
  for (int i = 0; i < E->nparams; ++i) free(E->params[i]);
  free(E->cols);
  free(E->params);
  free(E->shape);
  free(E->data);
  free(E->slot);
  free(E->sel);
  free(E->tasks);
  free(E->fin);
  free(E->pdir);
  free(E->csv_path);
  free(E->json_path);
  free(E->ep_path);
  free(E->rt_path);
  dln_run_folder_close(&E->folder);
  pthread_mutex_destroy(&E->mu);
  pthread_cond_destroy(&E->cv);
}

/* --dry-run (opt->plan): each selected run's overrides, rerun line and early error, from
 * the expanded sweep alone; the data sets' file paths are named, not drawn. */
static int ens_dry_run(ens *E) {
  int st = DLN_OK;
  for (int i = 0; i < E->ndata && !st; ++i) {
    dln_spec s;
    uint64_t ds;
    if (!(st = dln_ens_make_spec(E, E->data[i].rep, &s, &ds))) {
      st = dln_ens_data_paths(&E->data[i], s.task);
      dln_spec_free(&s);
    }
  }
  for (long k = 0; k < E->nruns && !st; ++k) {
    if (!E->sel[k]) continue;
    char *ov = xasprintf("%s", ""), *rr = dln_ens_rerun_line(E, k, &E->slot[k]);
    for (int a = 0; a < E->sw->naxes && ov; ++a) {
      const dln_sweep_value *v = dln_ens_run_value(E->sw, k, a);
      for (int j = 0; j < v->n && ov; ++j) {
        char *n = xasprintf("%s%s%s=%s", ov, *ov ? " " : "", v->names[j], v->values[j]);
        free(ov);
        ov = n;
      }
    }
    if (!ov || !rr) st = dln_error(DLN_ENOMEM, "out of memory");
    else E->opt->plan(E->opt->plan_ctx, k, ov, rr, E->slot[k].status ? E->slot[k].error : NULL);
    free(ov);
    free(rr);
  }
  return st;
}

/* Phases B to D and the outputs; *cancelled when the sweep was cancelled. */
static int ens_phases(ens *E, ens_out *O, int *cancelled) {
  openblas_set_num_threads(1);
  int st = ens_draw_data(E);
  if (st) return st;
  if (atomic_load(&E->cancel)) return *cancelled = 1, DLN_OK;
  if ((st = ens_columns(E))) return st;
  if (atomic_load(&E->cancel)) return *cancelled = 1, DLN_OK;
  if (E->merge && (st = dln_ens_merge_load(E))) return E->res->fail_phase = DLN_RUN_FAIL_INPUT, st;
  O->runs = json_array();
  if (!O->runs) return dln_error(DLN_ENOMEM, "out of memory");
  if (E->opt->write_outputs && (st = dln_ens_open_table(E, O))) return st;
  if ((st = ens_train(E, O))) return st;
  if (atomic_load(&E->cancel)) return *cancelled = 1, DLN_OK;
  if (E->rank > 0) return DLN_OK; /* rank 0 writes the outputs */
  /* a cancel after the last run finished still writes nothing (the pool polls only
   * while runs are pending) */
  if (E->opt->cancelled && E->opt->cancelled(E->opt->progress_ctx)) return *cancelled = 1, DLN_OK;
  return ens_finish(E, O);
}

int dln_ensemble_run(const dln_spec *base, const dln_sweep *sw, const dln_ensemble_options *opt_in, dln_ensemble_result *res) {
  return dln_ens_drive(base, sw, opt_in, res, NULL);
}

/* dln merge: the shards' runs driven again from their outputs (ensemble_merge.c reads them) */
int dln_ensemble_merge(const char *dir, const dln_ensemble_options *opt, int force, dln_ensemble_result *res) {
  dln_ensemble_result lres;
  if (!res) res = &lres;
  memset(res, 0, sizeof *res);
  if (!dir || !*dir) return dln_error(DLN_EINVAL, "dln_ensemble_merge: expected a folder, found %s", dir ? "\"\"" : "NULL");
  dln_ensemble_options o;
  if (opt) o = *opt;
  else dln_ensemble_default_options(&o);
  if (!o.out) o.out = dir;
  o.shard = 0, o.nshards = 1, o.resume = 0, o.write_outputs = 1;
  ens_merge M;
  dln_spec base;
  dln_sweep sw;
  dln_sweep_init(&sw);
  int st = dln_ens_merge_prepare(&M, dir, force, &base, &sw);
  if (!st) st = dln_ens_drive(&base, &sw, &o, res, &M);
  else res->fail_phase = DLN_RUN_FAIL_INPUT;
  dln_ens_merge_release(&M);
  dln_sweep_free(&sw);
  dln_spec_free(&base);
  return st;
}

/* dln_ensemble_run, and dln_ensemble_merge with M (ensemble_merge.c): the same phases and
 * writers, the runs taken from the shards instead of trained. */
int dln_ens_drive(const dln_spec *base, const dln_sweep *sw, const dln_ensemble_options *opt_in, dln_ensemble_result *res,
                  ens_merge *M) {
  dln_ensemble_result lres;
  dln_ensemble_options dopt;
  if (!res) res = &lres;
  memset(res, 0, sizeof *res);
  if (!base || !sw) return dln_error(DLN_EINVAL, "dln_ensemble_run: NULL argument");
  if (!opt_in) dln_ensemble_default_options(&dopt);
  const dln_ensemble_options *opt = opt_in ? opt_in : &dopt;
  double t0 = dln_now_seconds();
  long nruns = dln_sweep_nruns(sw);
  if (nruns < 1) return dln_error(DLN_ESPEC, "sweep: expected between 1 and %ld runs, found more", DLN_SWEEP_MAXRUNS);
  int nshards = opt->nshards > 1 && !M ? opt->nshards : 1, shard = nshards > 1 ? opt->shard : 0;
  if (shard < 0 || shard >= nshards)
    return dln_error(DLN_EINVAL, "shard: expected an index in 0..%d, found %d", nshards - 1, shard);
  const dln_ensemble_peers *peers = opt->peers && opt->peers->nranks > 1 ? opt->peers : NULL;
  if (peers && (peers->rank < 0 || peers->rank >= peers->nranks || !peers->sync || !peers->send || !peers->recv))
    return dln_error(DLN_EINVAL, "peers: expected a rank in 0..%d and sync, send, recv, found rank %d", peers->nranks - 1, peers->rank);
  if (peers && nshards > 1)
    return dln_error(DLN_EINVAL, "shard: expected no shard when %d processes share the sweep, found %d/%d", peers->nranks, shard, nshards);
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
  E.res = res;
  E.shard = shard;
  E.nshards = nshards;
  E.nthreads = nthreads;
  E.t0 = t0;
  E.peers = peers;
  E.rank = peers ? peers->rank : 0;
  E.nranks = peers ? peers->nranks : 1;
  E.merge = M;
  atomic_init(&E.cancel, 0);
  pthread_mutex_init(&E.mu, NULL);
  pthread_cond_init(&E.cv, NULL);
  E.blas_before = openblas_get_num_threads();
  ens_out O;
  memset(&O, 0, sizeof O);
  E.folder.lock_fd = -1;
  int cancelled = 0, st = ens_prepare(&E);
  if (M) free(E.pdir), E.pdir = NULL; /* a merge keeps no partial results */
  if (!st) st = ens_expand(&E);
  if (!st && opt->plan) {
    st = ens_dry_run(&E);
    ens_free(&E, &O);
    return st;
  }
  if (!st) st = ens_open_folder(&E);
  if (!st && (st = dln_ens_partial_open(&E))) res->fail_phase = st == DLN_ESPEC ? DLN_RUN_FAIL_SPEC : DLN_RUN_FAIL_OUTPUT;
  if (peers && (st = dln_ens_peers_sync(&E, st)) && !res->fail_phase) res->fail_phase = DLN_RUN_FAIL_INTERNAL;
  int shared = peers && !st; /* from here a rank > 0 reports its end to rank 0 */
  res->peers_started = shared;
  res->nresumed = E.nresumed;
  if (!st) st = ens_phases(&E, &O, &cancelled);
  if (shared && E.rank > 0) dln_ens_peers_report(&E, st, cancelled);
  if (cancelled) {
    res->nkept = E.nresumed + E.nkept; /* also when cancelled before the runs */
    dln_ens_partial_close(&E);
    if (res->nkept == 0) dln_ens_partial_remove(E.pdir); /* nothing to resume */
    res->cancelled = 1;
    res->wall_seconds = dln_now_seconds() - t0;
  }
  ens_free(&E, &O);
  return st;
}
