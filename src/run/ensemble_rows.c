/* The rows and entries of one ensemble run, shared by the outputs (ensemble_out.c) and the
 * resume log (ensemble_resume.c): its ensemble.csv rows, its ensemble.json entry with the
 * `dln run` line that repeats it, and the sweep object. */
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

char *dln_ens_rerun_line(const ens *E, long k, const ens_slot *sl) {
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
