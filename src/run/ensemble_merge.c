/* dln_ensemble_merge (dln/ensemble.h; docs/slurm.md): the shards of one sweep
 * (ensemble.shard<i>of<N>.csv/.json, e.g. the tasks of a Slurm job array) joined into the
 * outputs an unsharded sweep writes. The sweep is rebuilt from the shards' summaries and
 * driven through the same phases and writers as dln_ensemble_run (ensemble_run.c): the
 * data sets are drawn again (the same bits), the columns computed, and every run is taken
 * as a finished run, like a resumed one (ensemble_resume.c), its entry from its shard's
 * ensemble.json and its rows copied from its shard's table in run order. So ensemble.csv,
 * ensemble.json, endpoints.json and the manifest are written by the sweep's own code, and
 * an output added to sweeps later is merged with it. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dln/error.h"
#include "dln/run.h"
#include "run/ensemble_common.h"
#include "run/spec_internal.h"

/* "ensemble.shard<i>of<N>.json" → i, N (1), or 0 for any other name. */
static int shard_name(const char *n, int *i, int *N) {
  const char *pre = "ensemble.shard", *suf = ".json";
  size_t lp = strlen(pre), ls = strlen(suf), ln = strlen(n);
  if (ln <= lp + ls || strncmp(n, pre, lp) || strcmp(n + ln - ls, suf)) return 0;
  char *e;
  long a = strtol(n + lp, &e, 10), b;
  if (e == n + lp || strncmp(e, "of", 2)) return 0;
  const char *q = e + 2;
  b = strtol(q, &e, 10);
  if (e == q || strcmp(e, suf) || a < 0 || b < 2 || a >= b || b > 1000000) return 0;
  *i = (int)a, *N = (int)b;
  return 1;
}

static void merge_free(ens_merge *M) {
  for (int s = 0; s < M->nshards; ++s) {
    if (M->sum) json_decref(M->sum[s]);
    if (M->csv_name) free(M->csv_name[s]);
    if (M->json_name) free(M->json_name[s]);
    if (M->csv && M->csv[s]) fclose(M->csv[s]);
    if (M->line) free(M->line[s]);
  }
  free(M->sum), free(M->csv_name), free(M->json_name), free(M->csv), free(M->line), free(M->cap), free(M->pending);
}

static int merge_alloc(ens_merge *M, int N) {
  M->nshards = N;
  M->sum = calloc((size_t)N, sizeof *M->sum);
  M->csv_name = calloc((size_t)N, sizeof *M->csv_name);
  M->json_name = calloc((size_t)N, sizeof *M->json_name);
  M->csv = calloc((size_t)N, sizeof *M->csv);
  M->line = calloc((size_t)N, sizeof *M->line);
  M->cap = calloc((size_t)N, sizeof *M->cap);
  M->pending = calloc((size_t)N, sizeof *M->pending);
  if (!M->sum || !M->csv_name || !M->json_name || !M->csv || !M->line || !M->cap || !M->pending) return dln_error(DLN_ENOMEM, "out of memory");
  return DLN_OK;
}

/* One shard's summary into its slot: complete, the shard it names, not taken by another file. */
static int take_shard(ens_merge *M, const char *name, int N) {
  char *path = dln_path_join(M->dir, name);
  if (!path) return dln_error(DLN_ENOMEM, "out of memory");
  json_error_t je;
  json_t *j = json_load_file(path, 0, &je);
  const json_t *sh = json_object_get(j, "shard");
  long i = (long)json_integer_value(json_object_get(sh, "index")), n = (long)json_integer_value(json_object_get(sh, "count"));
  int st = DLN_OK;
  if (!j) st = dln_error(DLN_EFORMAT, "%s: cannot read the shard's summary: %s", path, je.text);
  else if (!json_is_true(json_object_get(j, "complete")) || n != N || i < 0 || i >= N)
    st = dln_error(DLN_EFORMAT, "%s: expected the complete summary of a shard of %d, found shard %ld of %ld%s", path, N, i, n,
                   json_is_true(json_object_get(j, "complete")) ? "" : " (not complete)");
  else if (M->sum[i])
    st = dln_error(DLN_EFORMAT, "%s: duplicate shard %ld of %d, which %s holds too; expected each shard once", path, i, N,
                   M->json_name[i]);
  if (!st && !(M->csv_name[i] = dln_path_join(M->dir, name))) st = dln_error(DLN_ENOMEM, "out of memory");
  if (!st) { /* the table beside it: .json -> .csv */
    strcpy(M->csv_name[i] + strlen(M->csv_name[i]) - 4, "csv");
    M->sum[i] = j, j = NULL;
    M->json_name[i] = path, path = NULL;
  }
  json_decref(j);
  free(path);
  return st;
}

/* The shard summaries in dir: one N (checked over every name first), each shard once,
 * none missing. */
static int find_shards(ens_merge *M) {
  DIR *d = opendir(M->dir);
  if (!d) return dln_error(DLN_EIO, "%s: cannot read the folder: %s", M->dir, strerror(errno));
  struct dirent *e;
  int st = DLN_OK, N = 0, i, n;
  char first[300] = "";
  for (int pass = 0; pass < 2 && !st; ++pass, rewinddir(d))
    while ((e = readdir(d)) != NULL && !st) {
      if (!shard_name(e->d_name, &i, &n)) continue;
      if (pass) st = take_shard(M, e->d_name, N);
      else if (!N) N = n, snprintf(first, sizeof first, "%s", e->d_name);
      else if (n != N)
        st = dln_error(DLN_EFORMAT, "%s: shards of different splits: %s is one of %d shards, %s one of %d; expected one N",
                       M->dir, first, N, e->d_name, n);
      if (!st && !pass && N && !M->sum) st = merge_alloc(M, N);
    }
  closedir(d);
  if (!st && !N)
    st = dln_error(DLN_EIO, "%s: expected the outputs of dln sweep --shard i/N (ensemble.shard<i>of<N>.json), found none", M->dir);
  for (int s = 0; s < N && !st; ++s)
    if (!M->sum[s])
      st = dln_error(DLN_EIO, "%s: shard %d of %d missing: expected %s/ensemble.shard%dof%d.json (dln sweep SPEC --shard %d/%d)",
                     M->dir, s, N, M->dir, s, N, s, N);
  return st;
}

/* The first option of spec echo a that b lacks or sets otherwise, output options aside
 * (out, quiet, plot, force, blas_threads: a shard run again with --force is still a shard). */
static const char *first_diff(const json_t *a, const json_t *b) {
  const char *key;
  json_t *v;
  json_object_foreach((json_t *)a, key, v) {
    const dln_spec_option *o = dln_spec_find(key);
    if (!(o && dln_spec_is_output(o)) && !json_equal(v, json_object_get(b, key))) return key;
  }
  return NULL;
}

static const char *spec_diff(const json_t *a, const json_t *b) {
  const char *k = first_diff(a, b);
  return k ? k : first_diff(b, a);
}

/* Every shard from the same sweep as shard 0 (spec, sweep, number of runs, version). */
static int check_same(const ens_merge *M) {
  static const char *const keys[] = {"dln_version", "spec", "spec_file", "sweep", "nruns"};
  for (int s = 1; s < M->nshards; ++s)
    for (size_t k = 0; k < sizeof keys / sizeof *keys; ++k) {
      const json_t *a = json_object_get(M->sum[0], keys[k]), *b = json_object_get(M->sum[s], keys[k]);
      const char *what = k == 1 ? spec_diff(a, b) : (!a && !b) || json_equal(a, b) ? NULL : keys[k]; /* absent in both: equal */
      if (!what) continue;
      return dln_error(DLN_EFORMAT, "%s: not a shard of the same sweep as %s: its %s%s differs; expected the shards of one sweep",
                       M->json_name[s], M->json_name[0], k == 1 ? "spec option " : "", what);
    }
  return DLN_OK;
}

static int bad_value(const char *where, const char *key, size_t i) {
  return dln_error(DLN_EFORMAT, "%s: sweep \"%s\" item %zu: expected an option value (text, number, true/false or a list of "
                   "numbers), found another JSON value", where, key, i);
}

/* One number as the sweep reader writes it: an integer, or the shortest text of a double
 * that reads back (sweep_json.c), so a typed summary gives back the sweep's option text. */
static int number_text(const json_t *v, char *b, size_t n) {
  if (json_is_integer(v)) return snprintf(b, n, "%lld", (long long)json_integer_value(v)) < (int)n;
  if (!json_is_real(v)) return 0;
  double x = json_real_value(v);
  for (int p = 1; p <= 17; ++p) {
    snprintf(b, n, "%.*g", p, x);
    if (strtod(b, NULL) == x) break;
  }
  return 1;
}

/* The option text of a typed summary value (ensemble.json writes numbers, lists of numbers
 * and true/false typed, dln_ens_value_json); malloc'd, NULL for another value. */
static char *value_text(const json_t *v) {
  char b[48];
  if (json_is_string(v)) return strdup(json_string_value(v));
  if (json_is_boolean(v)) return strdup(json_is_true(v) ? "true" : "false");
  if (number_text(v, b, sizeof b)) return strdup(b);
  size_t n = json_array_size(v), len = 0;
  if (!json_is_array(v) || n == 0) return NULL;
  char *s = malloc(n * sizeof b);
  for (size_t i = 0; s && i < n; ++i) {
    if (!number_text(json_array_get(v, i), b, sizeof b)) return free(s), NULL;
    len += (size_t)sprintf(s + len, "%s%s", i ? "," : "", b);
  }
  return s;
}

/* Item i of the summary's "runs" axis: an object of option texts. */
static int add_run(dln_sweep *sw, const json_t *v, const char *where, size_t i) {
  size_t m = json_object_size(v), c = 0;
  const char **names = calloc(m + 1, sizeof *names), **vals = calloc(m + 1, sizeof *vals), *rk;
  json_t *x;
  int st = names && vals ? DLN_OK : dln_error(DLN_ENOMEM, "out of memory");
  if (!st && !json_is_object(v)) st = bad_value(where, "runs", i);
  if (!st) json_object_foreach((json_t *)v, rk, x) if (c < m) names[c] = rk, vals[c++] = value_text(x);
  for (size_t q = 0; q < c && !st; ++q)
    if (!vals[q]) st = bad_value(where, "runs", i);
  if (!st) st = dln_sweep_add_run(sw, (int)c, names, vals);
  for (size_t q = 0; vals && q < c; ++q) free((char *)vals[q]);
  free(names), free(vals);
  return st;
}

/* One axis of the summary's "sweep" object: a list of option texts ("runs": of objects). */
static int add_axis(dln_sweep *sw, const char *key, const json_t *ax, const char *where) {
  size_t n = json_array_size(ax);
  if (n < 1) return dln_error(DLN_EFORMAT, "%s: sweep \"%s\": expected a non-empty list of values, found none", where, key);
  int st = DLN_OK;
  if (!strcmp(key, "runs")) {
    for (size_t i = 0; i < n && !st; ++i) st = add_run(sw, json_array_get(ax, i), where, i);
    return st;
  }
  const char **vals = calloc(n, sizeof *vals);
  if (!vals) return dln_error(DLN_ENOMEM, "out of memory");
  for (size_t i = 0; i < n && !st; ++i)
    if (!(vals[i] = value_text(json_array_get(ax, i)))) st = bad_value(where, key, i);
  if (!st) st = dln_sweep_add_axis(sw, key, (int)n, vals);
  for (size_t i = 0; i < n; ++i) free((char *)vals[i]);
  free(vals);
  return st;
}

/* The spec and sweep of the shards' summaries (the echo reads back as the same spec). */
static int rebuild(const ens_merge *M, dln_spec *base, dln_sweep *sw) {
  const json_t *j = M->sum[0];
  const char *src = json_string_value(json_object_get(j, "spec_file"));
  char *text = dln_json_dumps(json_object_get(j, "spec"), JSON_COMPACT);
  int st = text ? dln_spec_from_json_string(base, M->json_name[0], text) : dln_error(DLN_ENOMEM, "out of memory");
  free(text);
  if (!st) {
    free(base->source);
    base->source = src ? strdup(src) : NULL;
    if (src && !base->source) st = dln_error(DLN_ENOMEM, "out of memory");
  }
  const char *key;
  json_t *ax;
  json_object_foreach(json_object_get(j, "sweep"), key, ax) {
    if (st) break;
    st = add_axis(sw, key, ax, M->json_name[0]);
  }
  return st;
}

/* Run k finished in its shard: its entry and totals into the slot (as a resumed run). */
static int take_run(ens *E, long k) {
  const ens_merge *M = E->merge;
  int s = (int)(k % M->nshards);
  json_t *entry = json_array_get(json_object_get(M->sum[s], "runs"), (size_t)(k / M->nshards));
  if (!json_is_object(entry) || json_integer_value(json_object_get(entry, "run")) != k)
    return dln_error(DLN_EFORMAT, "%s: expected the entry of run %ld at position %ld of \"runs\", found none", M->json_name[s], k,
                     k / M->nshards);
  ens_slot *sl = &E->slot[k];
  const char *why = json_string_value(json_object_get(entry, "stop_reason"));
  if (strcmp(json_string_value(json_object_get(entry, "status")) ? json_string_value(json_object_get(entry, "status")) : "", "ok")) {
    if (!sl->status) sl->status = DLN_EINVAL; /* failed in its shard: counted as failed, its entry kept */
  } else {
    sl->status = DLN_OK;
    sl->train.stop_reason = DLN_STOP_NONE;
    for (int r = DLN_STOP_NONE; why && r < DLN_STOP_CANCELLED; ++r)
      if (!strcmp(why, dln_stop_reason_name(r))) sl->train.stop_reason = r;
    sl->diverged = sl->train.stop_reason == DLN_STOP_DIVERGED || sl->train.stop_reason == DLN_STOP_SOLVER;
    const json_t *c = json_object_get(entry, "counters");
    sl->train.steps = (long)json_integer_value(json_object_get(c, "steps"));
    sl->train.grad_evals = (long)json_integer_value(json_object_get(c, "grad_evals"));
    sl->train.rejected = (long)json_integer_value(json_object_get(c, "rejected"));
  }
  sl->wall = json_number_value(json_object_get(entry, "wall_seconds"));
  sl->entry = json_incref(entry);
  sl->resumed = 1;
  E->nresumed++;
  return DLN_OK;
}

int dln_ens_merge_load(ens *E) {
  ens_merge *M = E->merge;
  char *head = NULL;
  size_t hlen = 0;
  FILE *mf = open_memstream(&head, &hlen);
  if (!mf) return dln_error(DLN_ENOMEM, "out of memory");
  dln_ens_write_header(E, mf);
  int st = fclose(mf) ? dln_error(DLN_ENOMEM, "out of memory") : DLN_OK;
  for (int s = 0; s < M->nshards && !st; ++s) {
    if (!(M->csv[s] = fopen(M->csv_name[s], "rb"))) {
      st = dln_error(DLN_EIO, "%s: cannot open the shard's table: %s", M->csv_name[s], strerror(errno));
      break;
    }
    ssize_t n = getline(&M->line[s], &M->cap[s], M->csv[s]);
    if (n < 0 || (size_t)n != hlen || memcmp(M->line[s], head, hlen))
      st = dln_error(DLN_EFORMAT, "%s: expected the sweep's header (%zu bytes), found another first line", M->csv_name[s], hlen);
  }
  free(head);
  for (long k = 0; k < E->nruns && !st; ++k) st = take_run(E, k);
  return st;
}

int dln_ens_merge_rows(const ens *E, long k, FILE *fp) {
  ens_merge *M = E->merge;
  int s = (int)(k % M->nshards);
  long want = (long)json_integer_value(json_object_get(E->slot[k].entry, "rows")), got = 0;
  for (;;) {
    if (!M->pending[s]) {
      if (getline(&M->line[s], &M->cap[s], M->csv[s]) <= 0) break;
      M->pending[s] = 1;
    }
    char *e;
    long r = strtol(M->line[s], &e, 10);
    if (e == M->line[s] || *e != ',' || r < k)
      return dln_error(DLN_EFORMAT, "%s: a row out of run order after run %ld (\"%.40s\")", M->csv_name[s], k, M->line[s]), 1;
    if (r > k) break;
    if (fputs(M->line[s], fp) == EOF) return dln_error(DLN_EIO, "cannot write the merged rows: %s", strerror(errno)), 1;
    M->pending[s] = 0;
    ++got;
  }
  if (E->slot[k].status == DLN_OK && got != want)
    return dln_error(DLN_EFORMAT, "%s: expected %ld rows of run %ld (its entry's \"rows\"), found %ld", M->csv_name[s], want, k, got), 1;
  return 0;
}

int dln_ens_merge_done(const ens *E) {
  ens_merge *M = E->merge;
  for (int s = 0; s < M->nshards; ++s)
    if (M->pending[s] || getline(&M->line[s], &M->cap[s], M->csv[s]) > 0)
      return dln_error(DLN_EFORMAT, "%s: rows beyond the sweep's runs (\"%.40s\")", M->csv_name[s], M->line[s]);
  return DLN_OK;
}

int dln_ens_merge_prepare(ens_merge *M, const char *dir, int force, dln_spec *base, dln_sweep *sw) {
  memset(M, 0, sizeof *M);
  M->dir = dir;
  M->force = force;
  int st = dln_spec_default(base);
  if (!st) st = find_shards(M);
  if (!st) st = check_same(M);
  if (!st) st = rebuild(M, base, sw);
  return st;
}

void dln_ens_merge_release(ens_merge *M) { merge_free(M); }
