/* Partial results of a sweep, for `dln sweep --resume` (dln/ensemble.h, docs/resume.md).
 *
 * OUT/.partial (a shard: OUT/.partial.shard<i>of<N>) holds
 *   sweep.json    what the results depend on: the spec without its output options, the
 *                 sweep, the SHA-256 of the input files it names, the shard; written
 *                 before the first run starts;
 *   runs.jsonl    one line per finished run, appended and flushed as it finishes: the
 *                 SHA-256 of sweep.json, the run's rows exactly as they go into
 *                 ensemble.csv, its ensemble.json entry and its totals (stop reason,
 *                 steps, gradient evaluations, ...).
 * sweep.json is atomic; the log is written by the calling thread only, one write per run
 * and not fsynced (a file per run, or an fsync, made a sweep of 1000 short runs 4 to 13
 * times slower); a line cut by a kill or crash does not parse and its run is computed
 * again. A cancelled run is not kept. A resumed sweep reads the finished runs back instead of
 * running them; copying their rows and re-dumping their entries (reals with 17 digits
 * read back exactly) gives ensemble.csv and ensemble.json byte for byte, wall times aside
 * (those of the interrupted sweep are kept). A partial file that does not read back (a
 * different hash, a torn write) is ignored: the run is computed again. The folder is
 * removed once the outputs are committed. */
#include <dirent.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dln/error.h"
#include "dln/manifest.h"
#include "run/ensemble_common.h"

static int ends_with(const char *s, const char *t) {
  size_t n = strlen(s), m = strlen(t);
  return n > m && strcmp(s + n - m, t) == 0;
}

static int add_hash(json_t *inputs, const char *path) {
  char hex[65];
  long long bytes;
  if (!*path || json_object_get(inputs, path)) return DLN_OK;
  int st = dln_file_sha256(path, hex, &bytes); /* unreadable: null (the runs report it) */
  dln_jset(inputs, path, st ? json_null() : json_string(hex));
  return DLN_OK;
}

/* {path: SHA-256} of the files the spec (*_file, *_files) and the sweep (*_file) name. */
static int input_hashes(const json_t *echo, const dln_sweep *sw, json_t *inputs) {
  const char *key;
  json_t *v;
  int st = DLN_OK;
  json_object_foreach((json_t *)echo, key, v) {
    if (ends_with(key, "_file") && json_is_string(v)) st = add_hash(inputs, json_string_value(v));
    else if (ends_with(key, "_files") && json_is_array(v)) {
      size_t i;
      json_t *e;
      json_array_foreach(v, i, e) if (!st && json_is_string(e)) st = add_hash(inputs, json_string_value(e));
    }
    if (st) return st;
  }
  for (int a = 0; a < sw->naxes && !st; ++a)
    for (int i = 0; i < sw->axes[a].n && !st; ++i)
      for (int j = 0; j < sw->axes[a].v[i].n && !st; ++j)
        if (ends_with(sw->axes[a].v[i].names[j], "_file")) st = add_hash(inputs, sw->axes[a].v[i].values[j]);
  return st;
}

/* A whole text file (NULL if unreadable or not text). */
static char *slurp(const char *path) {
  FILE *fp = fopen(path, "rb");
  if (!fp) return NULL;
  size_t cap = 4096, n = 0, r;
  char *b = malloc(cap);
  while (b && (r = fread(b + n, 1, cap - 1 - n, fp)) > 0) {
    n += r;
    if (n + 1 == cap) {
      char *nb = realloc(b, cap *= 2);
      if (!nb) free(b);
      b = nb;
    }
  }
  int bad = ferror(fp);
  fclose(fp);
  if (b) b[n] = '\0';
  if (b && (bad || strlen(b) != n)) free(b), b = NULL;
  return b;
}

/* The contents of sweep.json for this sweep; NULL with the error set. */
static json_t *sweep_record(const ens *E, int *status) {
  unsigned long mark = dln_json_mark();
  json_t *echo = dln_spec_to_json(E->base), *rec = json_object(), *inputs = json_object(), *sh = json_array();
  if (!echo || !rec || !inputs || !sh) {
    json_decref(echo), json_decref(rec), json_decref(inputs), json_decref(sh);
    *status = dln_error(DLN_ENOMEM, "out of memory");
    return NULL;
  }
  const dln_spec_option *t = dln_spec_options();
  for (int i = 0; t[i].name; ++i)
    if (dln_spec_is_output(&t[i])) json_object_del(echo, t[i].name);
  int st = input_hashes(echo, E->sw, inputs);
  dln_jappend(sh, json_integer(E->shard));
  dln_jappend(sh, json_integer(E->nshards));
  dln_jset(rec, "spec", echo);
  dln_jset(rec, "sweep", dln_ens_sweep_json(E->sw));
  dln_jset(rec, "inputs", inputs);
  dln_jset(rec, "shard", sh);
  dln_jset(rec, "wide", json_boolean(E->opt->wide)); /* the table's columns */
  char *text = E->base->source ? slurp(E->base->source) : NULL; /* for --resume without SPEC; not compared */
  if (text) {
    dln_jset(rec, "source", json_string(E->base->source));
    dln_jset(rec, "source_text", json_string(text));
    free(text);
  }
  if (st) json_decref(rec), rec = NULL;
  else if (!(rec = dln_json_done(rec, mark))) st = dln_error(DLN_ENOMEM, "%s/sweep.json: out of memory", E->pdir);
  *status = st;
  return rec;
}

int dln_ens_partial_exists(const ens *E) {
  if (!E->pdir) return 0;
  char *p = dln_path_join(E->pdir, "sweep.json");
  if (!p) return -dln_error(DLN_ENOMEM, "%s: out of memory", E->pdir);
  int ok = access(p, F_OK) == 0;
  free(p);
  return ok;
}

int dln_ens_partial_remove(const char *pdir) {
  DIR *d = pdir ? opendir(pdir) : NULL;
  if (!d) return errno == ENOENT || !pdir ? DLN_OK : dln_error(DLN_EIO, "%s: cannot read the folder: %s", pdir, strerror(errno));
  struct dirent *e;
  int st = DLN_OK;
  while ((e = readdir(d)) != NULL) { /* only the names written here (and temporary files) */
    const char *n = e->d_name;
    if (strcmp(n, "runs.jsonl") && strcmp(n, "sweep.json") && !strstr(n, ".tmp.")) continue;
    char *p = dln_path_join(pdir, n);
    if (!p || (unlink(p) && errno != ENOENT)) st = dln_error(DLN_EIO, "%s: cannot remove: %s", p ? p : n, strerror(errno));
    free(p);
  }
  closedir(d);
  if (!st && rmdir(pdir) && errno != ENOENT && errno != ENOTEMPTY)
    st = dln_error(DLN_EIO, "%s: cannot remove the folder: %s", pdir, strerror(errno));
  return st;
}

/* The record of a whole log line, if it is one of this sweep's runs (its index in *k). */
static json_t *parse_record(const ens *E, const char *line, long *k) {
  json_t *r = json_loads(line, 0, NULL);
  const char *h = json_string_value(json_object_get(r, "sweep"));
  *k = (long)json_integer_value(json_object_get(r, "run"));
  if (r && (!h || strcmp(h, E->hash) || *k < 0 || *k >= E->nruns || !json_is_object(json_object_get(r, "entry")) ||
            !json_is_string(json_object_get(r, "rows")) || !json_is_string(json_object_get(r, "stop_reason"))))
    json_decref(r), r = NULL;
  return r;
}

/* A run of the log, unless it is not selected, failed here, or was read already. */
static void load_run(ens *E, json_t *r, long k, long off) {
  ens_slot *sl = &E->slot[k];
  if (!E->sel[k] || sl->status || sl->resumed) return;
  const char *why = json_string_value(json_object_get(r, "stop_reason"));
  sl->train.stop_reason = DLN_STOP_NONE;
  for (int s = DLN_STOP_NONE; s < DLN_STOP_CANCELLED; ++s)
    if (!strcmp(why, dln_stop_reason_name(s))) sl->train.stop_reason = s;
  sl->diverged = json_is_true(json_object_get(r, "diverged"));
  sl->train.steps = (long)json_integer_value(json_object_get(r, "steps"));
  sl->train.grad_evals = (long)json_integer_value(json_object_get(r, "grad_evals"));
  sl->train.rejected = (long)json_integer_value(json_object_get(r, "rejected"));
  sl->wall = json_number_value(json_object_get(r, "wall"));
  sl->entry = json_incref(json_object_get(r, "entry"));
  sl->poff = off; /* the rows are read again when they are written (dln_ens_partial_rows) */
  sl->resumed = 1;
  E->nresumed++;
}

/* The runs of the log (resume), then the log open for appending after its last whole line. */
static int load_log(ens *E, const char *path) {
  FILE *fp = fopen(path, "rb");
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  long off = 0, k;
  int whole = 1;
  while (fp && (n = getline(&line, &cap, fp)) > 0) {
    whole = line[n - 1] == '\n';
    json_t *r = whole ? parse_record(E, line, &k) : NULL; /* a line cut by a kill is not a record */
    if (r) load_run(E, r, k, off);
    json_decref(r);
    off += (long)n;
  }
  free(line);
  if (fp) fclose(fp);
  if (!(E->plog = fopen(path, "ab"))) return dln_error(DLN_EIO, "%s: cannot open: %s", path, strerror(errno));
  if (!whole && (fputc('\n', E->plog) == EOF || fflush(E->plog))) return dln_error(DLN_EIO, "%s: cannot write: %s", path, strerror(errno));
  return DLN_OK;
}

/* A resumed sweep: the stored record must be this sweep's. */
static int check_record(const char *path, const json_t *rec) {
  json_error_t je;
  json_t *old = json_load_file(path, 0, &je);
  if (!old) return dln_error(DLN_EFORMAT, "%s: cannot read the interrupted sweep's record: %s", path, je.text);
  static const char *const parts[][2] = {{"spec", "option"}, {"sweep", "the \"sweep\" object"}, {"inputs", "an input file's SHA-256"}, {"shard", "--shard"}, {"wide", "--wide"}};
  int st = DLN_OK;
  for (size_t i = 0; i < sizeof parts / sizeof *parts && !st; ++i) {
    const json_t *a = json_object_get(rec, parts[i][0]), *b = json_object_get(old, parts[i][0]);
    if (json_equal(a, b)) continue;
    const char *what = parts[i][1], *key;
    json_t *v;
    if (i == 0) {
      json_object_foreach((json_t *)a, key, v) if (!json_equal(v, json_object_get(b, key))) { what = key; break; }
      if (what == parts[i][1]) json_object_foreach((json_t *)b, key, v) if (!json_object_get(a, key)) { what = key; break; }
    }
    st = dln_error(DLN_ESPEC, "%s: --resume: the sweep differs from the interrupted one (%s%s); expected the same spec, sweep "
                   "and input files, found a change (run without --resume and with --force to start over)",
                   path, i == 0 ? "option " : "", what);
  }
  json_decref(old);
  return st;
}

int dln_ens_partial_open(ens *E) {
  if (!E->pdir) return DLN_OK;
  int st;
  json_t *rec = sweep_record(E, &st);
  if (!rec) return st;
  char *path = dln_path_join(E->pdir, "sweep.json"), *log = dln_path_join(E->pdir, "runs.jsonl");
  st = path && log ? DLN_OK : dln_error(DLN_ENOMEM, "out of memory");
  long long bytes;
  if (!st && E->opt->resume && access(path, F_OK) == 0) {
    if (!(st = check_record(path, rec)) && !(st = dln_file_sha256(path, E->hash, &bytes))) st = load_log(E, log);
  } else if (!st) { /* a fresh sweep: the partial results of an earlier one go */
    if (!(st = dln_ens_partial_remove(E->pdir)) && !(st = dln_mkdir_p(E->pdir)) && !(st = dln_json_write(path, rec)) &&
        !(st = dln_file_sha256(path, E->hash, &bytes)) && !(E->plog = fopen(log, "wb")))
      st = dln_error(DLN_EIO, "%s: cannot create: %s", log, strerror(errno));
  }
  free(path);
  free(log);
  json_decref(rec);
  return st;
}

void dln_ens_partial_close(ens *E) {
  if (E->plog) fclose(E->plog);
  E->plog = NULL;
}

/* The rows of run k as text (table format). */
static char *rows_text(const ens *E, long k, const ens_slot *sl, size_t *len) {
  char *buf = NULL;
  FILE *fp = open_memstream(&buf, len);
  if (!fp) return NULL;
  if (sl->traj) dln_ens_write_rows(E, k, sl, fp);
  if (fclose(fp) != 0) free(buf), buf = NULL;
  return buf;
}

/* Run k's record: the sweep's hash (NULL: none), its rows, its ensemble.json entry and
 * its totals; NULL: out of memory. */
static char *record_text(long k, const ens_slot *sl, const char *hash, const char *rows, size_t len, json_t *entry) {
  unsigned long mark = dln_json_mark();
  char *text = NULL;
  json_t *r = json_object();
  if (!r) return NULL;
  const dln_train_result *tr = &sl->train;
  if (hash) dln_jset(r, "sweep", json_string(hash));
  dln_jset(r, "run", json_integer(k));
  dln_jset(r, "stop_reason", json_string(dln_stop_reason_name(tr->stop_reason)));
  dln_jset(r, "diverged", json_boolean(tr->stop_reason == DLN_STOP_DIVERGED || tr->stop_reason == DLN_STOP_SOLVER));
  dln_jset(r, "steps", json_integer(tr->steps));
  dln_jset(r, "grad_evals", json_integer(tr->grad_evals));
  dln_jset(r, "rejected", json_integer(tr->rejected));
  dln_jset(r, "wall", json_real(sl->wall));
  dln_jset(r, "entry", json_incref(entry));
  dln_jset(r, "rows", json_stringn(rows, len));
  if (dln_json_mark() == mark) /* else a set failed: no line rather than one without a key */
    text = dln_json_dumps(r, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17)); /* reals read back exactly */
  json_decref(r);
  return text;
}

/* Append a record line to the log. */
static int log_line(ens *E, const char *text) {
  if (fputs(text, E->plog) == EOF || fputc('\n', E->plog) == EOF || fflush(E->plog))
    return dln_error(DLN_EIO, "%s/runs.jsonl: cannot write: %s", E->pdir, strerror(errno));
  return DLN_OK;
}

/* Run k's line of the log: its rows, its ensemble.json entry and its totals. */
static int save_run(ens *E, long k, ens_slot *sl) {
  size_t len = 0;
  char *rows = rows_text(E, k, sl, &len);
  json_t *entry = dln_ens_run_json(E, k, sl);
  char *text = rows && entry ? record_text(k, sl, E->hash, rows, len, entry) : NULL;
  int st = text ? DLN_OK : dln_error(DLN_ENOMEM, "%s/runs.jsonl: out of memory", E->pdir);
  if (!st) st = log_line(E, text);
  free(text);
  if (!st) { /* the table gets the same bytes and the same entry (dln_ens_flush_ready) */
    sl->rows = rows, sl->nrows_text = len, sl->entry = entry;
    dln_table_free(sl->traj);
    sl->traj = NULL;
  } else {
    free(rows);
    json_decref(entry);
  }
  return st;
}

char *dln_ens_partial_record(const ens *E, long k, const ens_slot *sl) {
  if (sl->status) { /* a failed run: rank 0 makes its entry as for its own */
    json_t *r = json_pack("{s:I, s:i, s:s, s:f}", "run", (json_int_t)k, "status", sl->status, "error",
                          sl->error ? sl->error : dln_strerror(sl->status), "wall", sl->wall);
    char *text = r ? dln_json_dumps(r, JSON_COMPACT) : NULL;
    json_decref(r);
    return text;
  }
  size_t len = 0;
  char *rows = rows_text(E, k, sl, &len);
  json_t *entry = dln_ens_run_json(E, k, sl);
  char *text = rows && entry ? record_text(k, sl, NULL, rows, len, entry) : NULL;
  free(rows);
  json_decref(entry);
  return text;
}

/* Run k finished on another rank: its totals, rows and entry from record r. */
static int take_run(ens *E, json_t *r, long k) {
  ens_slot *sl = &E->slot[k];
  const char *why = json_string_value(json_object_get(r, "stop_reason"));
  json_t *rows = json_object_get(r, "rows");
  if (!why || !json_is_string(rows) || !json_is_object(json_object_get(r, "entry")))
    return dln_error(DLN_EFORMAT, "run %ld: the record sent by its rank lacks stop_reason, rows or entry", k);
  int st = DLN_OK;
  if (E->plog) { /* kept like a run of this process: a --resume of this sweep reads it back */
    dln_jset(r, "sweep", json_string(E->hash));
    char *text = dln_json_dumps(r, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
    st = text ? log_line(E, text) : dln_error(DLN_ENOMEM, "%s/runs.jsonl: out of memory", E->pdir);
    free(text);
    if (!st) E->nkept++;
  }
  for (int s = DLN_STOP_NONE; s < DLN_STOP_CANCELLED; ++s)
    if (!strcmp(why, dln_stop_reason_name(s))) sl->train.stop_reason = s;
  sl->diverged = json_is_true(json_object_get(r, "diverged"));
  sl->train.steps = (long)json_integer_value(json_object_get(r, "steps"));
  sl->train.grad_evals = (long)json_integer_value(json_object_get(r, "grad_evals"));
  sl->train.rejected = (long)json_integer_value(json_object_get(r, "rejected"));
  sl->wall = json_number_value(json_object_get(r, "wall"));
  sl->entry = json_incref(json_object_get(r, "entry"));
  sl->nrows_text = json_string_length(rows);
  if (!(sl->rows = malloc(sl->nrows_text + 1))) return dln_error(DLN_ENOMEM, "run %ld: out of memory for its rows", k);
  memcpy(sl->rows, json_string_value(rows), sl->nrows_text + 1);
  return st;
}

int dln_ens_partial_take(ens *E, const char *text, size_t len, int from) {
  json_t *r = json_loadb(text, len, 0, NULL);
  json_t *run = json_object_get(r, "run");
  const char *fatal = json_string_value(json_object_get(r, "fatal"));
  long k = json_is_integer(run) ? (long)json_integer_value(run) : -1;
  int st = DLN_OK;
  if (!r) st = dln_error(DLN_EFORMAT, "rank %d: sent a record that does not parse", from);
  else if (fatal) st = dln_error((int)json_integer_value(json_object_get(r, "status")), "rank %d: %s", from, fatal);
  else if (json_is_true(json_object_get(r, "cancelled"))) atomic_store(&E->cancel, 1);
  else if (k < 0 || k >= E->nruns || E->slot[k].remote != 1 || k % E->nranks != from)
    st = dln_error(DLN_EFORMAT, "rank %d: sent run %ld, expected one of its awaited runs", from, k);
  else {
    ens_slot *sl = &E->slot[k];
    int rst = (int)json_integer_value(json_object_get(r, "status"));
    if (rst) { /* its error text, as the serial sweep writes it */
      const char *e = json_string_value(json_object_get(r, "error"));
      sl->status = rst;
      sl->error = e ? strdup(e) : NULL;
      sl->wall = json_number_value(json_object_get(r, "wall"));
      E->nremote_failed++;
    } else {
      st = take_run(E, r, k);
    }
    sl->remote = 2;
    E->nremote_done++;
  }
  json_decref(r);
  return st;
}

int dln_ens_partial_save(ens *E) { /* every finished run is marked seen (then flushed) */
  pthread_mutex_lock(&E->mu);
  long n = E->nfin;
  pthread_mutex_unlock(&E->mu);
  for (; E->nsaved < n; ++E->nsaved) {
    long k = E->fin[E->nsaved];
    ens_slot *sl = &E->slot[k];
    if (E->plog && !sl->status && sl->train.stop_reason != DLN_STOP_CANCELLED) { /* a failed run is run again */
      int st = save_run(E, k, sl);
      if (st) return st;
      E->nkept++;
    }
    sl->seen = 1;
  }
  return DLN_OK;
}

int dln_ens_partial_rows(const ens *E, long k, FILE *out) {
  char *path = dln_path_join(E->pdir, "runs.jsonl"), *line = NULL;
  FILE *fp = path ? fopen(path, "rb") : NULL;
  size_t cap = 0;
  long kk = -1;
  json_t *r = NULL;
  if (fp && fseek(fp, E->slot[k].poff, SEEK_SET) == 0 && getline(&line, &cap, fp) > 0) r = parse_record(E, line, &kk);
  json_t *rows = json_object_get(r, "rows");
  size_t n = json_string_length(rows);
  int bad = kk != k || !rows || fwrite(json_string_value(rows), 1, n, out) != n;
  if (bad) dln_error(DLN_EIO, "%s: cannot read the rows of run %ld back", path ? path : "runs.jsonl", k);
  json_decref(r);
  free(line);
  if (fp) fclose(fp);
  free(path);
  return bad;
}

int dln_ensemble_resume_source(const char *out, int shard, int nshards, char **name, char **text) {
  if (!out || !name || !text) return dln_error(DLN_EINVAL, "dln_ensemble_resume_source: NULL argument");
  *name = *text = NULL;
  if (nshards > 1 && (shard < 0 || shard >= nshards))
    return dln_error(DLN_EINVAL, "shard: expected an index in 0..%d, found %d", nshards - 1, shard);
  char sfx[64] = "";
  if (nshards > 1) snprintf(sfx, sizeof sfx, ".shard%dof%d", shard, nshards);
  char *path = xasprintf("%s/.partial%s/sweep.json", out, sfx);
  if (!path) return dln_error(DLN_ENOMEM, "out of memory");
  json_error_t je;
  json_t *rec = json_load_file(path, 0, &je);
  const char *n = json_string_value(json_object_get(rec, "source")), *t = json_string_value(json_object_get(rec, "source_text"));
  int st = DLN_OK;
  if (!rec) st = dln_error(DLN_EIO, "%s: no interrupted sweep to resume (%s)", path, je.text);
  else if (!n || !t) st = dln_error(DLN_EFORMAT, "%s: expected the spec's \"source\" and \"source_text\", found none; give the spec file", path);
  else if (!(*name = strdup(n)) || !(*text = strdup(t))) st = dln_error(DLN_ENOMEM, "out of memory");
  if (st) free(*name), free(*text), *name = *text = NULL;
  json_decref(rec);
  free(path);
  return st;
}
