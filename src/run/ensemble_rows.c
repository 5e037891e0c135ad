/* The rows and entries of one ensemble run, shared by the outputs (ensemble_out.c) and the
 * resume log (ensemble_resume.c): its ensemble.csv rows, its ensemble.json entry with the
 * `dln run` line that repeats it, and the sweep object. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "dln/error.h"
#include "dln/io.h"
#include "dln/train.h"
#include "run/ensemble_common.h"
#include "run/run_internal.h"

/* 1 when the data files of set d make option `name` unused for the base spec's task (e.g.
 * m with entries_file): `dln run` refuses such an option next to the file on its command
 * line, and the file already holds what the option drew. */
static int data_makes_unused(const ens *E, const ens_data *d, const char *name) {
  const dln_task_type *t = dln_task_find(E->base->task);
  if (!t || d->nfile == 0) return 0;
  dln_spec s = *E->base; /* a shallow copy with the file fields pointing at d's paths: read only */
  for (int i = 0; i < d->nfile; ++i) {
    const dln_spec_option *o = dln_spec_find(d->fname[i]);
    if (o && o->type == DLN_OPT_STRING) *(char **)dln_spec_field(&s, o) = d->fpath[i];
  }
  return dln_task_unused_by(t, &s.data, name) != NULL;
}

char *dln_ens_rerun_line(const ens *E, long k, const ens_slot *sl) {
  const char *src = E->base->source ? E->base->source : "SPEC.json";
  const ens_data *d = sl->data >= 0 ? &E->data[sl->data] : NULL;
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
  if (d) {
    for (int i = 0; i < d->nfile; ++i) ADD(" --%s=%s", d->fname[i], d->fpath[i]);
    if (dln_run_files_has(&d->files, "W_true.npy")) ADD(" --truth_file=%s/W_true.npy", d->dir); /* dist_true as in the sweep */
  }
  for (int a = 0; a < E->sw->naxes; ++a) {
    const dln_sweep_value *v = dln_ens_run_value(E->sw, k, a);
    for (int j = 0; j < v->n; ++j) {
      const char *n = v->names[j];
      if (!strcmp(n, "seed") || !strcmp(n, "stream") || !strcmp(n, "data_seed")) continue;
      if (d && data_makes_unused(E, d, n)) continue; /* drawn into the data files above */
      ADD(" --%s=%s", n, v->values[j]);
    }
  }
  ADD(" --seed=%llu --stream=%llu", (unsigned long long)sl->seed, (unsigned long long)sl->stream);
  /* the run used one BLAS thread (dln_ens_make_spec); another count sums large products in
   * another order, so the rerun would not repeat the rows bit for bit */
  if (E->base->blas_threads != 1) ADD(" --blas_threads=1");
#undef ADD
  return s;
}

/* A resumed run's stored entry with the paths of this sweep's folder. */
static json_t *resumed_json(const ens *E, long k, const ens_slot *sl) {
  unsigned long mark = dln_json_mark();
  json_t *r = json_deep_copy(sl->entry);
  if (!r) return NULL;
  dln_jset(r, "data", sl->data >= 0 ? json_string(E->data[sl->data].dir) : json_null());
  char *rr = dln_ens_rerun_line(E, k, sl);
  dln_jset(r, "rerun", rr ? json_string(rr) : NULL); /* NULL: out of memory, counted */
  free(rr);
  return dln_json_done(r, mark);
}

static json_t *run_json(const ens *E, long k, const ens_slot *sl) {
  if (sl->resumed || (sl->remote && !sl->status)) return resumed_json(E, k, sl); /* read back, or sent by another rank */
  if (sl->entry) return json_incref(sl->entry); /* made when the run was kept (ensemble_resume.c) */
  unsigned long mark = dln_json_mark();
  json_t *r = json_object();
  if (!r) return NULL;
  char sb[32];
  dln_jset(r, "run", json_integer(k));
  snprintf(sb, sizeof sb, "%llu", (unsigned long long)sl->seed); /* a number; text only above 2^63 - 1 */
  dln_jset(r, "seed", sl->seed <= INT64_MAX ? json_integer((json_int_t)sl->seed) : json_string(sb));
  dln_jset(r, "stream", json_integer((json_int_t)sl->stream));
  json_t *ov = json_object();
  for (int a = 0; a < E->sw->naxes; ++a) {
    const dln_sweep_value *v = dln_ens_run_value(E->sw, k, a);
    for (int j = 0; j < v->n; ++j) dln_jset(ov, v->names[j], dln_ens_value_json(v->values[j]));
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
    double crank = NAN; /* the end point's compressible rank (observable compress; 002 §4.4) */
    if (sl->traj && sl->traj->nrows) {
      const double *row = sl->traj->data + (sl->traj->nrows - 1) * (size_t)sl->traj->ncols;
      int cc = dln_table_col(sl->traj, "compress_rank");
      for (int c = 0; c < sl->traj->ncols; ++c) dln_jset(fin, sl->traj->names[c], dln_json_num(row[c]));
      if (cc >= 0) crank = row[cc];
    }
    dln_jset(r, "final", fin);
    if (sl->base.on) dln_jset(r, "baseline", dln_run_baseline_json(&sl->base, NULL)); /* beside final's dist_true */
    dln_jset(r, "compress_rank", isfinite(crank) ? json_integer((json_int_t)crank) : json_null());
    if (sl->init_draws > 0) dln_jset(r, "init_draws", json_integer(sl->init_draws)); /* det_sign */
    dln_jset(r, "rows", json_integer(sl->traj ? (json_int_t)sl->traj->nrows : 0));
    dln_jset(r, "endpoint", sl->endpoint ? json_incref(sl->endpoint) : json_null());
  }
  dln_jset(r, "wall_seconds", dln_json_num(sl->wall));
  char *rr = dln_ens_rerun_line(E, k, sl);
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
    if (E->data_seed_swept) fprintf(fp, ",%s", dseed ? dseed : "nan");
    for (int p = 0; p < E->nparams; ++p) dln_ens_param_cells(E, k, p, fp);
    for (int c = 0; c < E->ncols; ++c) { /* nan where the run has no such column: numeric cells only */
      int src = sh->inv[c];
      if (src >= 0) fprintf(fp, ",%.17g", row[src]);
      else fputs(",nan", fp);
    }
    fputc('\n', fp);
  }
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
        for (int j = 0; j < v->n; ++j) dln_jset(o, v->names[j], dln_ens_value_json(v->values[j]));
        dln_jappend(vals, o);
      } else {
        dln_jappend(vals, dln_ens_value_json(v->values[0]));
      }
    }
    dln_jset(sj, sw->axes[a].key, vals);
  }
  return sj;
}

/* ---- swept parameters as numeric cells (np.loadtxt reads every cell) ---------------- */

int dln_ens_wide_column(const char *name) { return name && strncmp(name, "eigC_", 5) == 0; }

/* A plain decimal number (kept as given); 0 for hex, words, empty. */
static int is_number(const char *s, size_t n) {
  if (n == 0 || strspn(s, "0123456789+-.eE") < n) return 0;
  char buf[64], *end;
  if (n >= sizeof buf) return 0;
  memcpy(buf, s, n);
  buf[n] = '\0';
  strtod(buf, &end);
  return *end == '\0';
}

/* Items of a comma-separated list of numbers, or -1. */
static int list_items(const char *s) {
  int n = 0;
  for (;;) {
    size_t len = strcspn(s, ",");
    if (!is_number(s, len)) return -1;
    ++n;
    if (!s[len]) return n;
    s += len + 1;
  }
}

/* The kind of parameter p over every run of the sweep (the same in every shard). */
static int param_kind(ens *E, int p) {
  ens_param *pi = &E->pinfo[p];
  pi->kind = ENS_PARAM_NUMBER;
  for (long k = 0; k < E->nruns; ++k) {
    const char *v = dln_ens_run_override(E->sw, k, E->params[p]);
    if (!v) continue;
    int n = list_items(v);
    if (n < 0) pi->kind = ENS_PARAM_CODE;
    else if (pi->kind != ENS_PARAM_CODE && (n > 1 || pi->kind == ENS_PARAM_LIST)) pi->kind = ENS_PARAM_LIST;
    if (n > pi->width) pi->width = n;
  }
  if (pi->kind != ENS_PARAM_CODE) return DLN_OK;
  for (long k = 0; k < E->nruns; ++k) {
    const char *v = dln_ens_run_override(E->sw, k, E->params[p]);
    int i = 0;
    while (v && i < pi->nlegend && strcmp(pi->legend[i], v) != 0) ++i;
    if (!v || i < pi->nlegend) continue;
    char **nl = realloc(pi->legend, (size_t)(pi->nlegend + 1) * sizeof *nl);
    if (!nl) return dln_error(DLN_ENOMEM, "out of memory");
    pi->legend = nl;
    if (!(nl[pi->nlegend] = strdup(v))) return dln_error(DLN_ENOMEM, "out of memory");
    ++pi->nlegend;
  }
  return DLN_OK;
}

int dln_ens_param_layout(ens *E) {
  if (!(E->pinfo = calloc((size_t)(E->nparams ? E->nparams : 1), sizeof *E->pinfo))) return dln_error(DLN_ENOMEM, "out of memory");
  for (int p = 0; p < E->nparams; ++p) {
    int st = param_kind(E, p);
    if (st) return st;
  }
  return DLN_OK;
}

void dln_ens_param_free(ens *E) {
  for (int p = 0; E->pinfo && p < E->nparams; ++p) {
    for (int i = 0; i < E->pinfo[p].nlegend; ++i) free(E->pinfo[p].legend[i]);
    free(E->pinfo[p].legend);
  }
  free(E->pinfo);
  E->pinfo = NULL;
}

void dln_ens_param_header(const ens *E, FILE *fp) {
  for (int p = 0; p < E->nparams; ++p) {
    if (E->pinfo[p].kind != ENS_PARAM_LIST) fprintf(fp, ",%s", E->params[p]);
    else
      for (int i = 0; i < E->pinfo[p].width; ++i) fprintf(fp, ",%s_%d", E->params[p], i);
  }
}

void dln_ens_write_header(const ens *E, FILE *fp) {
  fputs("run,seed,stream", fp);
  if (E->data_seed_swept) fputs(",data_seed", fp);
  dln_ens_param_header(E, fp);
  for (int c = 0; c < E->ncols; ++c) fprintf(fp, ",%s", E->cols[c]);
  fputc('\n', fp);
}

/* The cells of parameter p in run k; nan where the run does not set it (or a shorter list). */
void dln_ens_param_cells(const ens *E, long k, int p, FILE *fp) {
  const ens_param *pi = &E->pinfo[p];
  const char *v = dln_ens_run_override(E->sw, k, E->params[p]);
  if (pi->kind == ENS_PARAM_CODE) {
    int i = 0;
    while (v && i < pi->nlegend && strcmp(pi->legend[i], v) != 0) ++i;
    if (v) fprintf(fp, ",%d", i);
    else fputs(",nan", fp);
    return;
  }
  int n = pi->kind == ENS_PARAM_LIST ? pi->width : 1;
  for (int i = 0; i < n; ++i) {
    size_t len = v ? strcspn(v, ",") : 0;
    if (v) fprintf(fp, ",%.*s", (int)len, v);
    else fputs(",nan", fp);
    v = v && v[len] ? v + len + 1 : NULL;
  }
}

json_t *dln_ens_legend_json(const ens *E) {
  json_t *o = json_object();
  for (int p = 0; p < E->nparams; ++p) {
    if (E->pinfo[p].kind != ENS_PARAM_CODE) continue;
    json_t *a = json_array();
    for (int i = 0; i < E->pinfo[p].nlegend; ++i) dln_jappend(a, json_string(E->pinfo[p].legend[i]));
    dln_jset(o, E->params[p], a);
  }
  return o;
}

/* One number of an option's text: an integer when it is one, else a real. */
static json_t *number_json(const char *s, size_t n) {
  char buf[64], *end;
  memcpy(buf, s, n);
  buf[n] = '\0';
  if (strspn(buf, "0123456789-") == n) {
    errno = 0;
    long long v = strtoll(buf, &end, 10);
    if (errno == 0 && *end == '\0') return json_integer((json_int_t)v);
  }
  return json_real(strtod(buf, NULL));
}

json_t *dln_ens_value_json(const char *text) {
  if (!text) return json_null();
  if (!strcmp(text, "true") || !strcmp(text, "false")) return json_boolean(text[0] == 't');
  int n = list_items(text);
  if (n < 0) return json_string(text);
  if (n == 1 && !strchr(text, ',')) return number_json(text, strlen(text));
  json_t *a = json_array();
  for (const char *s = text; s; ) {
    size_t len = strcspn(s, ",");
    dln_jappend(a, number_json(s, len));
    s = s[len] ? s + len + 1 : NULL;
  }
  return a;
}
