/* Checkpoints of a run folder (docs/resume.md): the state x and the trajectory rows so far
 * in one of two slots — slot 0 DIR/checkpoint.state.npy and checkpoint.traj.npy, slot 1
 * checkpoint.b.state.npy and checkpoint.b.traj.npy — and DIR/checkpoint.json written
 * last, which names its slot and the point (t, step, samples taken, the flow's next step
 * h; times as C99 hex floats, exact), the sizes and SHA-256 of both arrays, the spec echo
 * and the SHA-256 of every input file. Every file is atomic, and a checkpoint writes the
 * slot the current checkpoint.json does not name, so a process killed at any moment
 * (SIGKILL, the OOM killer, a node lost) leaves checkpoint.json naming complete arrays:
 * the previous checkpoint until the new header replaces it. Arrays that do not match
 * their header are still refused, not used. A resumed run is refused when the spec
 * (outputs aside) or an input file changed. "rng" is null, or
 * for a white-noise run {"generator": "mt19937", "state": [625 words]}: its noise stream
 * at the checkpoint (ξ_0..ξ_{k−1} drawn), which the resumed run continues. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "dln/error.h"
#include "dln/io.h"
#include "dln/manifest.h"
#include "dln/run.h"
#include "core/util.h"
#include "io/json_util.h"
#include "run/run_internal.h"

static const char ck_header[] = "checkpoint.json";
/* ck_slot[slot][0]: the state, [1]: the trajectory rows (a header without "slot": 0) */
static const char *const ck_slot[2][2] = {{"checkpoint.state.npy", "checkpoint.traj.npy"},
                                          {"checkpoint.b.state.npy", "checkpoint.b.traj.npy"}};

/* A spec echo without the output options (where and how to write). */
static json_t *strip_outputs(json_t *o) {
  const dln_spec_option *t = dln_spec_options();
  for (int i = 0; o && t[i].name; ++i)
    if (dln_spec_is_output(&t[i])) json_object_del(o, t[i].name);
  return o;
}

static json_t *spec_inputs_echo(const dln_spec *spec) { return strip_outputs(dln_spec_to_json(spec)); }

static int add_hash(json_t *inputs, const char *path) {
  char hex[65];
  long long bytes;
  int st = dln_file_sha256(path, hex, &bytes);
  if (!st && dln_jset(inputs, path, json_string(hex))) st = dln_error(DLN_ENOMEM, "%s: out of memory hashing it", path);
  return st;
}

/* {path: sha256} of the input files the spec names (options *_file, lists *_files). */
static int input_hashes(const json_t *echo, json_t *inputs) {
  const char *key;
  json_t *v;
  int st = DLN_OK;
  json_object_foreach((json_t *)echo, key, v) {
    size_t n = strlen(key);
    if (n > 5 && !strcmp(key + n - 5, "_file") && json_is_string(v) && *json_string_value(v))
      st = add_hash(inputs, json_string_value(v));
    else if (n > 6 && !strcmp(key + n - 6, "_files") && json_is_array(v)) {
      size_t i;
      json_t *e;
      json_array_foreach(v, i, e) if (!st && json_is_string(e) && *json_string_value(e)) st = add_hash(inputs, json_string_value(e));
    }
    if (st) return st;
  }
  return DLN_OK;
}

static json_t *hexnum(double x) {
  char b[64];
  snprintf(b, sizeof b, "%a", x);
  return json_string(b);
}

static int file_entry(json_t *o, const char *dir, const char *name) {
  char *p = dln_path_join(dir, name), hex[65];
  long long bytes = 0;
  if (!p) return dln_error(DLN_ENOMEM, "out of memory");
  int st = dln_file_sha256(p, hex, &bytes);
  free(p);
  if (st) return st;
  json_t *e = json_object();
  dln_jset(e, "bytes", json_integer(bytes));
  dln_jset(e, "sha256", json_string(hex));
  dln_jset(o, name, e);
  return DLN_OK;
}

/* The noise stream's state (dln_rng_state_get) as checkpoint.json's "rng", or null. */
static json_t *rng_json(const dln_rng *noise) {
  uint32_t w[DLN_RNG_STATE_WORDS];
  if (!noise || dln_rng_state_get(noise, w, DLN_RNG_STATE_WORDS)) return json_null();
  json_t *o = json_object(), *a = json_array();
  for (int i = 0; i < DLN_RNG_STATE_WORDS; ++i) dln_jappend(a, json_integer(w[i]));
  dln_jset(o, "generator", json_string("mt19937"));
  dln_jset(o, "state", a);
  return o;
}

/* "rng" back: null, or 625 words in [0, 2^32). */
static int rng_read(const char *dir, const json_t *h, dln_run_ckpt *k) {
  const json_t *r = json_object_get(h, "rng"), *a = json_object_get(r, "state");
  if (!r || json_is_null(r)) return DLN_OK;
  if (!json_is_array(a) || json_array_size(a) != DLN_RNG_STATE_WORDS)
    return dln_error(DLN_EFORMAT, "%s/checkpoint.json: rng: expected null or {\"state\": [%d words]}, found another value",
                     dir, DLN_RNG_STATE_WORDS);
  for (size_t i = 0; i < DLN_RNG_STATE_WORDS; ++i) {
    const json_t *e = json_array_get(a, i);
    json_int_t v = json_is_integer(e) ? json_integer_value(e) : -1;
    if (v < 0 || v > 0xffffffffLL)
      return dln_error(DLN_EFORMAT, "%s/checkpoint.json: rng: state[%zu]: expected an integer in [0, 2^32), found another value", dir, i);
    k->rng[i] = (uint32_t)v;
  }
  k->has_rng = 1;
  return DLN_OK;
}

static json_t *read_header(const char *dir);

/* The slot checkpoint.json names: 0 or 1, or −1 without a readable header. */
static int header_slot(const char *dir) {
  if (!dln_run_checkpoint_exists(dir)) return -1;
  json_t *h = read_header(dir);
  dln_error_clear(); /* unreadable: no slot is in use */
  if (!h) return -1;
  json_t *v = json_object_get(h, "slot");
  int slot = !v ? 0 : json_is_integer(v) && (json_integer_value(v) == 0 || json_integer_value(v) == 1) ? (int)json_integer_value(v) : -1;
  json_decref(h);
  return slot;
}

int dln_run_checkpoint_write(const char *dir, const dln_spec *spec, const dln_table *traj, const dln_train_checkpoint *cp,
                             const dln_rng *noise) {
  int slot = header_slot(dir) == 0; /* the slot the current header does not name */
  const char *const *ck_files = ck_slot[slot];
  int st = dln_run_write_npy(dir, ck_files[0], (int)cp->n, 1, cp->x, NULL);
  /* the table is row-major: as a (ncols x nrows) column-major matrix it is the same bytes */
  if (!st) st = dln_run_write_npy(dir, ck_files[1], traj->ncols, (int)traj->nrows, traj->data, NULL);
  if (st) return st;
  unsigned long mark = dln_json_mark();
  json_t *h = json_object(), *files = json_object(), *inputs = json_object(), *echo = dln_spec_to_json(spec);
  if (!h || !files || !inputs || !echo) st = dln_error(DLN_ENOMEM, "out of memory");
  if (!st) st = file_entry(files, dir, ck_files[0]);
  if (!st) st = file_entry(files, dir, ck_files[1]);
  if (!st) st = input_hashes(echo, inputs);
  if (!st) {
    dln_jset(h, "format", json_string("dln-checkpoint/1"));
    dln_jset(h, "slot", json_integer(slot));
    dln_jset(h, "t", hexnum(cp->t));
    dln_jset(h, "h", hexnum(cp->h));
    dln_jset(h, "step", json_integer(cp->step));
    dln_jset(h, "next_sample", json_integer(cp->next_sample));
    dln_jset(h, "trajectory_rows", json_integer((json_int_t)traj->nrows));
    dln_jset(h, "grad_evals", json_integer(cp->grad_evals));
    dln_jset(h, "jtv_evals", json_integer(cp->jtv_evals));
    dln_jset(h, "interrupted", json_boolean(cp->interrupted));
    dln_jset(h, "rng", rng_json(noise));
    dln_jset(h, "files", json_incref(files));
    dln_jset(h, "inputs", json_incref(inputs));
    dln_jset(h, "spec", json_incref(echo));
    h = dln_json_done(h, mark); /* NULL: dln_run_write_json reports it */
    st = dln_run_write_json(dir, ck_header, h, NULL); /* checkpoints are not in the manifest */
  }
  json_decref(h);
  json_decref(files);
  json_decref(inputs);
  json_decref(echo);
  return st;
}

int dln_run_checkpoint_remove(const char *dir) {
  const char *names[] = {ck_header, ck_slot[0][0], ck_slot[0][1], ck_slot[1][0], ck_slot[1][1]};
  for (int i = 0; i < 5; ++i) { /* the header first: arrays without one are never used */
    char *p = dln_path_join(dir, names[i]);
    if (!p) return dln_error(DLN_ENOMEM, "out of memory");
    int bad = unlink(p) != 0 && access(p, F_OK) == 0;
    free(p);
    if (bad) return dln_error(DLN_EIO, "%s/%s: cannot remove the old checkpoint", dir, names[i]);
  }
  return DLN_OK;
}

int dln_run_checkpoint_exists(const char *dir) {
  char *p = dln_path_join(dir, ck_header);
  int yes = p && access(p, F_OK) == 0;
  free(p);
  return yes;
}

static json_t *read_header(const char *dir) {
  char *p = dln_path_join(dir, ck_header);
  if (!p) return NULL;
  json_error_t je;
  int st = DLN_OK;
  json_t *h = dln_json_load_input(p, 0, &je, &st);
  if (!h && !st) dln_error(DLN_EIO, "%s: cannot read the checkpoint: %s", p, je.text);
  free(p);
  return h;
}

/* A spec from its echo (summary.json, checkpoint.json; it reads back as the same spec). */
static int spec_from_echo(dln_spec *spec, const char *name, const json_t *echo) {
  json_t *e = json_is_object(echo) ? json_deep_copy(echo) : NULL;
  if (!e) return dln_error(DLN_EFORMAT, "%s: expected a \"spec\" object, found none", name);
  char *text = dln_json_dumps(e, JSON_COMPACT);
  int st = text ? dln_spec_from_json_string(spec, name, text) : dln_error(DLN_ENOMEM, "out of memory");
  free(text);
  json_decref(e);
  return st;
}

static int checkpoint_spec(const char *dir, dln_spec *spec) {
  json_t *h = read_header(dir);
  if (!h) return DLN_EIO;
  char *p = dln_path_join(dir, ck_header);
  int st = p ? spec_from_echo(spec, p, json_object_get(h, "spec")) : dln_error(DLN_ENOMEM, "out of memory");
  free(p);
  json_decref(h);
  return st;
}

/* The spec and inputs of the checkpoint are those of the run about to resume. */
static int check_same(const char *dir, const json_t *h, const dln_spec *spec) {
  json_t *echo = spec_inputs_echo(spec), *inputs = json_object();
  json_t *old = strip_outputs(json_deep_copy(json_object_get(h, "spec")));
  int st = echo && inputs ? input_hashes(echo, inputs) : dln_error(DLN_ENOMEM, "out of memory");
  if (!st && !json_equal(echo, old)) {
    const char *key;
    json_t *v;
    const char *diff = "?";
    json_object_foreach(echo, key, v) if (!json_equal(v, json_object_get(old, key))) { diff = key; break; }
    st = dln_error(DLN_ESPEC, "%s/checkpoint.json: the spec changed since the checkpoint (option %s); expected the same spec, "
                   "found a different one", dir, diff);
  }
  if (!st && !json_equal(inputs, json_object_get(h, "inputs")))
    st = dln_error(DLN_ESPEC, "%s/checkpoint.json: an input file changed since the checkpoint (SHA-256 differs); "
                   "expected the same data", dir);
  json_decref(echo);
  json_decref(old);
  json_decref(inputs);
  return st;
}

/* Array k (0: state, 1: trajectory rows) of the header's slot, verified against it. */
static int read_array(const char *dir, const json_t *h, int k, dln_mat **out) {
  json_t *sv = json_object_get(h, "slot");
  if (sv && !(json_is_integer(sv) && (json_integer_value(sv) == 0 || json_integer_value(sv) == 1)))
    return dln_error(DLN_EFORMAT, "%s/%s: slot: expected 0 or 1, found another value", dir, ck_header);
  const char *name = ck_slot[sv ? json_integer_value(sv) : 0][k];
  json_t *e = json_object_get(json_object_get(h, "files"), name);
  char *p = dln_path_join(dir, name), hex[65];
  long long bytes = -1;
  if (!p) return dln_error(DLN_ENOMEM, "out of memory");
  int st = dln_file_sha256(p, hex, &bytes);
  if (!st && (!e || strcmp(hex, json_string_value(json_object_get(e, "sha256")) ? json_string_value(json_object_get(e, "sha256")) : "")))
    st = dln_error(DLN_EFORMAT, "%s: does not match checkpoint.json (SHA-256 differs); the checkpoint is broken", p);
  if (!st) st = dln_npy_read(p, out);
  free(p);
  return st;
}

int dln_run_checkpoint_read(const char *dir, const dln_spec *spec, dln_run_ckpt *k) {
  memset(k, 0, sizeof *k);
  json_t *h = read_header(dir);
  if (!h) return DLN_EIO;
  int st = check_same(dir, h, spec);
  if (!st) st = read_array(dir, h, 0, &k->state);
  if (!st) st = read_array(dir, h, 1, &k->traj);
  const char *ts = json_string_value(json_object_get(h, "t")), *hs = json_string_value(json_object_get(h, "h"));
  if (!st && (!ts || !hs || !json_is_integer(json_object_get(h, "step"))))
    st = dln_error(DLN_EFORMAT, "%s/checkpoint.json: expected t, h (hex floats) and step, found none", dir);
  if (!st) {
    dln_train_checkpoint *c = &k->cp;
    c->t = strtod(ts, NULL);
    c->h = strtod(hs, NULL);
    c->step = (long)json_integer_value(json_object_get(h, "step"));
    c->next_sample = (int)json_integer_value(json_object_get(h, "next_sample"));
    c->grad_evals = (long)json_integer_value(json_object_get(h, "grad_evals"));
    c->jtv_evals = (long)json_integer_value(json_object_get(h, "jtv_evals"));
    c->n = (size_t)k->state->rows * (size_t)k->state->cols;
    c->x = k->state->data;
    st = rng_read(dir, h, k);
  }
  json_decref(h);
  if (st) dln_run_ckpt_free(k);
  return st;
}

void dln_run_ckpt_free(dln_run_ckpt *k) {
  dln_mat_free(k->state);
  dln_mat_free(k->traj);
  memset(k, 0, sizeof *k);
}

int dln_run_incomplete_summary(const char *dir, json_t **out) {
  *out = NULL;
  char *p = dln_path_join(dir, "summary.json");
  if (!p) return dln_error(DLN_ENOMEM, "out of memory");
  json_error_t je;
  int st = DLN_OK, exists = access(p, F_OK) == 0;
  json_t *sum = exists ? dln_json_load_input(p, 0, &je, &st) : NULL;
  if (st) (void)0; /* a FIFO, folder or device: refused (message set) */
  else if (!sum && exists) st = dln_error(DLN_EFORMAT, "%s:%d:%d: expected JSON, found a syntax error: %s", p, je.line, je.column, je.text);
  else if (!sum) st = dln_error(DLN_EIO, "%s: nothing to resume: expected checkpoint.json or an incomplete summary.json, found neither", dir);
  else if (!json_is_object(sum)) st = dln_error(DLN_EFORMAT, "%s: expected a JSON object, found another value", p);
  else if (json_is_true(json_object_get(sum, "complete")))
    st = dln_error(DLN_EINVAL, "%s: nothing to resume: the run is complete (summary.json)", dir);
  free(p);
  if (st) json_decref(sum);
  else *out = sum;
  return st;
}

int dln_run_resume_spec(const char *dir, dln_spec *spec) {
  DLN_ARGS(dir, spec);
  if (dln_run_checkpoint_exists(dir)) return checkpoint_spec(dir, spec);
  json_t *sum;
  int st = dln_run_incomplete_summary(dir, &sum);
  if (st) return st;
  char *p = dln_path_join(dir, "summary.json");
  st = p ? spec_from_echo(spec, p, json_object_get(sum, "spec")) : dln_error(DLN_ENOMEM, "out of memory");
  free(p);
  json_decref(sum);
  return st;
}

int dln_run_resume_is_job(const char *dir, int *is_job) {
  DLN_ARGS(dir, is_job);
  *is_job = 0;
  if (dln_run_checkpoint_exists(dir)) return DLN_OK; /* a single run's checkpoint */
  json_t *sum;
  int st = dln_run_incomplete_summary(dir, &sum);
  if (!st) *is_job = json_is_string(json_object_get(sum, "job"));
  json_decref(sum);
  return st;
}

/* ---- inputs handed in from memory (dln_run_resume_memfiles) ---- */

/* Path `path` (a mem: path this process does not hold) from dir/file, when that exists. */
static int mem_from_folder(const char *dir, const char *path, const char *file) {
  if (!dln_memfile_is(path)) return DLN_OK;
  dln_mat *m = NULL;
  if (dln_memfile_get(path, &m) == DLN_OK) { /* held: nothing to do */
    dln_mat_free(m);
    return DLN_OK;
  }
  char *p = dln_path_join(dir, file);
  if (!p) return dln_error(DLN_ENOMEM, "out of memory");
  int st = DLN_OK;
  if (access(p, R_OK) == 0 && !(st = dln_npy_read(p, &m))) st = dln_memfile_put(path, m->rows, m->cols, m->data);
  dln_mat_free(m);
  free(p);
  return st;
}

/* Items of a list option, item j from dir/<fmt with j + 1>. */
static int mem_list_from_folder(const char *dir, const dln_slist *l, const char *fmt) {
  int st = DLN_OK;
  for (int j = 0; j < l->n && !st; ++j) {
    char name[64];
    snprintf(name, sizeof name, fmt, j + 1);
    st = mem_from_folder(dir, l->v[j], name);
  }
  return st;
}

int dln_run_resume_memfiles(const char *dir, const dln_spec *spec) {
  DLN_ARGS(dir, spec);
  const dln_task_type *t = dln_task_find(spec->task);
  int st = DLN_OK;
  for (int i = 0; t && !st && t->files && t->files[i].option; ++i) {
    const dln_spec_option *o = dln_spec_find(t->files[i].option);
    if (o && o->type == DLN_OPT_STRING) st = mem_from_folder(dir, *(char *const *)dln_spec_field(spec, o), t->files[i].file);
  }
  if (!st && !(t && dln_task_reads(t, "target_file"))) st = mem_from_folder(dir, spec->data.target_file, "W_true.npy");
  if (!st) st = mem_from_folder(dir, spec->data.truth_file, "W_true.npy");
  if (!st) st = mem_list_from_folder(dir, &spec->init_opts.init_files, spec->net.tied ? "U_init.npy" : "W%d_init.npy");
  if (!st) st = mem_list_from_folder(dir, &spec->net.imbalance_reg_file, "imbalance_Lambda%d.npy");
  if (!st) st = mem_list_from_folder(dir, &spec->train.disturbance_files, "W%d_disturbance.npy");
  return st;
}
