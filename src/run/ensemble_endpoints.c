/* endpoints.json of a sweep (004 §2.3, §4, the overfitting conjecture measured): from the
 * ensemble.json entries, per setting of the swept axes (seed, stream and data_seed are
 * the starts, not a setting), how many starts ended at a global minimum, on each saddle
 * stratum, or did not converge, with Wilson 95% intervals (dln_wilson_interval); and
 * ensemble_runs.csv, one row per run with its final values and end point as columns. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dln/io.h"
#include "dln/landscape.h"
#include "dln/train.h"
#include "run/ensemble_common.h"

#define WILSON_Z95 1.959963984540054 /* Φ^{-1}(0.975) */

static json_t *share_json(long k, long n) {
  double lo = 0, hi = 1;
  dln_wilson_interval(k, n, WILSON_Z95, &lo, &hi); /* k ≤ n by construction */
  json_t *o = json_object(), *ci = json_array();
  dln_jset(o, "count", json_integer(k));
  dln_jset(o, "fraction", dln_json_num(n > 0 ? (double)k / (double)n : NAN));
  dln_jappend(ci, dln_json_num(lo));
  dln_jappend(ci, dln_json_num(hi));
  dln_jset(o, "wilson95", ci);
  return o;
}

/* The setting of an entry: its overrides without the start's seed/stream/data_seed. */
static json_t *setting_of(const json_t *entry) {
  json_t *ov = json_object_get(entry, "overrides"), *s = json_object();
  const char *key;
  json_t *v;
  json_object_foreach(ov, key, v) {
    if (strcmp(key, "seed") && strcmp(key, "stream") && strcmp(key, "data_seed")) dln_jset(s, key, json_incref(v));
  }
  return s;
}

/* Per group: counts in a scratch object {"n", "unclassified", "class": {name: k}, "strata": {dump: k}}. */
static void count_entry(json_t *g, const json_t *entry) {
  json_t *ep = json_object_get(entry, "endpoint");
  const char *cls = json_string_value(json_object_get(ep, "class"));
  if (!cls) {
    dln_jset(g, "unclassified", json_integer(json_integer_value(json_object_get(g, "unclassified")) + 1));
    return;
  }
  dln_jset(g, "n", json_integer(json_integer_value(json_object_get(g, "n")) + 1));
  json_t *c = json_object_get(g, "class");
  dln_jset(c, cls, json_integer(json_integer_value(json_object_get(c, cls)) + 1));
  if (strcmp(cls, "saddle")) return;
  char *key = json_dumps(json_object_get(ep, "stratum"), JSON_COMPACT);
  json_t *st = json_object_get(g, "strata");
  if (key) dln_jset(st, key, json_integer(json_integer_value(json_object_get(st, key)) + 1));
  else dln_jset(g, "error", NULL); /* out of memory: counted */
  free(key);
}

static json_t *group_out(const json_t *g) {
  long n = (long)json_integer_value(json_object_get(g, "n"));
  json_t *o = json_object(), *cls = json_object(), *strata = json_array();
  dln_jset(o, "setting", json_incref(json_object_get(g, "setting")));
  dln_jset(o, "runs", json_integer(n));
  dln_jset(o, "unclassified", json_integer(json_integer_value(json_object_get(g, "unclassified"))));
  for (int c = 0; c < DLN_END_NCLASS; ++c) {
    const char *name = dln_end_class_name(c);
    dln_jset(cls, name, share_json((long)json_integer_value(json_object_get(json_object_get(g, "class"), name)), n));
  }
  dln_jset(o, "classes", cls);
  const char *key;
  json_t *v;
  json_object_foreach(json_object_get(g, "strata"), key, v) {
    json_t *s = share_json((long)json_integer_value(v), n);
    dln_jset(s, "stratum", json_loads(key, 0, NULL));
    dln_jappend(strata, s);
  }
  dln_jset(o, "saddle_strata", strata);
  return o;
}

/* The tally of the entries runs[] (ensemble.json's "runs"); NULL: out of memory. */
json_t *dln_ens_endpoints_json(const json_t *runs) {
  unsigned long mark = dln_json_mark();
  json_t *groups = json_object(), *order = json_array(), *root = json_object();
  size_t i;
  json_t *entry;
  json_array_foreach(runs, i, entry) {
    json_t *set = setting_of(entry);
    char *key = set ? json_dumps(set, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_t *g = key ? json_object_get(groups, key) : NULL;
    if (key && !g) {
      g = json_pack("{s:O, s:i, s:i, s:{}, s:{}}", "setting", set, "n", 0, "unclassified", 0, "class", "strata");
      if (g) dln_jset(groups, key, g), dln_jappend(order, json_string(key));
    }
    if (g) count_entry(g, entry);
    else dln_jset(root, "error", NULL); /* out of memory: counted */
    free(key);
    json_decref(set);
  }
  json_t *out = json_array(), *k;
  json_array_foreach(order, i, k) dln_jappend(out, group_out(json_object_get(groups, json_string_value(k))));
  json_decref(groups);
  json_decref(order);
  dln_jset(root, "source", json_string("ensemble.json"));
  dln_jset(root, "reference", json_string("004 section 2.3, 4: end points over starts; Wilson score intervals at z = 1.96"));
  dln_jset(root, "groups", out);
  return dln_json_done(root, mark);
}

/* ---- ensemble_runs.csv: one numeric row per run, from the entries ---------------------- */

static void cell(FILE *fp, const json_t *v) {
  if (json_is_number(v)) fprintf(fp, ",%.17g", json_number_value(v));
  else fputs(",nan", fp);
}

static int code_of(const char *name, const char *(*names)(int), int n) {
  for (int i = 0; name && i < n; ++i)
    if (!strcmp(names(i), name)) return i;
  return -1;
}

static void code_cell(FILE *fp, int code) {
  if (code >= 0) fprintf(fp, ",%d", code);
  else fputs(",nan", fp);
}

/* The learned components of a stratum as a bit mask, Σ 2^(i−1) (exact up to i = 53). */
static void stratum_cell(FILE *fp, const json_t *s) {
  double m = json_is_array(s) ? 0 : NAN;
  size_t i;
  json_t *x;
  json_array_foreach(s, i, x) {
    json_int_t c = json_integer_value(x);
    m = c >= 1 && c <= 53 && !isnan(m) ? m + ldexp(1.0, (int)c - 1) : NAN;
  }
  if (isnan(m)) fputs(",nan", fp);
  else fprintf(fp, ",%.17g", m);
}

static const char *const ep_keys[] = {"rank", "lambda_min", "grad_norm", "residual", NULL};

static void run_row(const ens *E, const json_t *e, const json_t *keys, FILE *fp) {
  long k = (long)json_integer_value(json_object_get(e, "run"));
  fprintf(fp, "%ld", k);
  cell(fp, json_object_get(e, "seed"));
  cell(fp, json_object_get(e, "stream"));
  if (E->data_seed_swept) {
    const char *d = dln_ens_run_override(E->sw, k, "data_seed");
    fprintf(fp, ",%s", d ? d : "nan");
  }
  for (int p = 0; p < E->nparams; ++p) dln_ens_param_cells(E, k, p, fp);
  const char *status = json_string_value(json_object_get(e, "status"));
  fprintf(fp, ",%d", status && !strcmp(status, "ok") ? 0 : 1);
  code_cell(fp, code_of(json_string_value(json_object_get(e, "stop_reason")), dln_stop_reason_name, DLN_STOP_CANCELLED + 1));
  cell(fp, json_object_get(e, "t"));
  json_t *cn = json_object_get(e, "counters"), *fin = json_object_get(e, "final"), *ep = json_object_get(e, "endpoint");
  cell(fp, json_object_get(cn, "steps"));
  cell(fp, json_object_get(cn, "grad_evals"));
  size_t i;
  json_t *key;
  json_array_foreach(keys, i, key) cell(fp, json_object_get(fin, json_string_value(key)));
  code_cell(fp, code_of(json_string_value(json_object_get(ep, "class")), dln_end_class_name, DLN_END_NCLASS));
  stratum_cell(fp, json_object_get(ep, "stratum"));
  for (int q = 0; ep_keys[q]; ++q) cell(fp, json_object_get(ep, ep_keys[q]));
  fputc('\n', fp);
}

int dln_ens_write_run_table(const ens *E, const json_t *runs, const char *path) {
  unsigned long mark = dln_json_mark(); /* a failed allocation below: the table is not written */
  json_t *all = json_object();
  dln_jset(all, "keys", json_array());
  dln_jset(all, "seen", json_object());
  json_t *keys = json_object_get(all, "keys"), *seen = json_object_get(all, "seen");
  size_t i;
  json_t *e;
  json_array_foreach(runs, i, e) { /* the final values of every run, in order of appearance */
    const char *name;
    json_t *v;
    json_object_foreach(json_object_get(e, "final"), name, v) {
      if (json_object_get(seen, name) || (dln_ens_wide_column(name) && !E->opt->wide) || !strcmp(name, "t") || !strcmp(name, "step"))
        continue; /* t and steps have columns of their own */
      dln_jset(seen, name, json_true());
      dln_jappend(keys, json_string(name));
    }
  }
  all = dln_json_done(all, mark);
  dln_afile *af = NULL;
  int st = all ? dln_afile_open(&af, path) : dln_error(DLN_ENOMEM, "%s: out of memory; not written", path);
  if (!st) {
    FILE *fp = dln_afile_stream(af);
    fputs("run,seed,stream", fp);
    if (E->data_seed_swept) fputs(",data_seed", fp);
    dln_ens_param_header(E, fp);
    fputs(",status,stop,t,steps,grad_evals", fp);
    json_array_foreach(keys, i, e) fprintf(fp, ",%s", json_string_value(e));
    fputs(",endpoint_class,endpoint_stratum", fp);
    for (int q = 0; ep_keys[q]; ++q) fprintf(fp, ",endpoint_%s", ep_keys[q]);
    fputc('\n', fp);
    json_array_foreach(runs, i, e) run_row(E, e, keys, fp);
    st = dln_afile_commit(af);
  }
  json_decref(all);
  return st;
}
