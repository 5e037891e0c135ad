/* `dln check` report (dln/check.h; docs/check.md): its items (not applicable, a library
 * verdict, a measured deviation), the printed table and check.json. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "dln/check.h"
#include "core/util.h"
#include "dln/error.h"
#include "io/json_util.h"
#include "run/check_internal.h"
#include "run/run_internal.h"

void dln_check_default_options(dln_check_options *opt) {
  if (!opt) return;
  memset(opt, 0, sizeof *opt);
  opt->slack = 1e4;
  opt->lanczos_iter = 80;
}

void dln_check_report_free(dln_check_report *rep) {
  if (!rep) return;
  free(rep->items);
  rep->items = NULL;
  rep->n = rep->cap = 0;
}

/* ------------------------------------------------------------------ report items */

dln_check_item *dln_chk_item_new(dln_check_report *rep, const char *result, const char *source) {
  if (rep->n == rep->cap) {
    size_t cap = rep->cap ? 2 * rep->cap : 32;
    dln_check_item *it = realloc(rep->items, cap * sizeof *it);
    if (!it) return NULL;
    rep->items = it;
    rep->cap = cap;
  }
  dln_check_item *it = &rep->items[rep->n++];
  memset(it, 0, sizeof *it);
  it->v.result = result;
  it->v.source = source;
  it->v.bound = it->v.measured = it->v.margin = NAN;
  return it;
}

static void vfmt(char *buf, size_t len, const char *fmt, va_list ap) { vsnprintf(buf, len, fmt, ap); }

/* A result whose hypotheses fail: message "not applicable: <hypothesis> fails (<value>)". */
void dln_chk_add_na(dln_check_report *rep, const char *result, const char *source, const char *fmt, ...) {
  dln_check_item *it = dln_chk_item_new(rep, result, source);
  if (!it) return;
  char why[240];
  va_list ap;
  va_start(ap, fmt);
  vfmt(why, sizeof why, fmt, ap);
  va_end(ap);
  const char *w = strncmp(why, "not applicable: ", 16) == 0 ? why + 16 : why;
  snprintf(it->v.message, sizeof it->v.message, "not applicable: %s", w);
}

/* A verdict filled by a library bound (status st). loose: whether it holds with
 * CHECK_LOOSE·tol (only read when it is violated). */
void dln_chk_add_verdict(dln_check_report *rep, int st, const dln_verdict *v, const char *result, const char *source,
                         int loose) {
  if (st != DLN_OK || !v->applicable) {
    const char *m = st != DLN_OK ? dln_last_error() : v->message;
    dln_chk_add_na(rep, result, source, "%s", m && *m ? m : "hypotheses fail");
    if (rep->n && v->hypotheses[0])
      snprintf(rep->items[rep->n - 1].v.hypotheses, sizeof v->hypotheses, "%s", v->hypotheses);
    return;
  }
  dln_check_item *it = dln_chk_item_new(rep, result, source);
  if (!it) return;
  it->v = *v;
  it->v.result = result;
  it->v.source = source;
  if (!v->holds)
    snprintf(it->cause, sizeof it->cause, "%s",
             loose ? "likely too loose a tolerance: holds within 100x the tolerance; rerun with a smaller rtol"
                   : "likely a bug or a corrupted trajectory: violated by more than 100x the tolerance");
}

/* A measured deviation that must stay ≤ bound (a tolerance). */
void dln_chk_add_dev(dln_check_report *rep, const char *result, const char *source, const char *hyp, double bound,
                     double measured, const char *what) {
  dln_check_item *it = dln_chk_item_new(rep, result, source);
  if (!it) return;
  dln_verdict *v = &it->v;
  v->applicable = 1;
  snprintf(v->hypotheses, sizeof v->hypotheses, "%s", hyp);
  v->bound = bound;
  v->measured = measured;
  v->margin = bound - measured;
  v->holds = measured <= bound; /* false for NaN */
  if (v->holds)
    snprintf(v->message, sizeof v->message, "holds: %s %.3g <= %.3g", what, measured, bound);
  else {
    snprintf(v->message, sizeof v->message, "VIOLATED: %s %.3g > %.3g (by %.3g)", what, measured, bound, measured - bound);
    snprintf(it->cause, sizeof it->cause, "%s",
             measured <= CHECK_LOOSE * bound
                 ? "likely too loose a tolerance: within 100x the tolerance; rerun with a smaller rtol"
                 : "likely a bug or a corrupted trajectory: more than 100x the tolerance");
  }
}

/* An integrity row: holds, or INCONSISTENT naming file. */
dln_check_item *dln_chk_add_integrity(dln_check_report *rep, const char *result, const char *file, int ok, double bound,
                                      double measured, const char *fmt, ...) {
  dln_check_item *it = dln_chk_item_new(rep, result, "integrity");
  if (!it) return NULL;
  char what[200];
  va_list ap;
  va_start(ap, fmt);
  vfmt(what, sizeof what, fmt, ap);
  va_end(ap);
  it->integrity = 1;
  snprintf(it->file, sizeof it->file, "%s", file ? file : "");
  dln_verdict *v = &it->v;
  v->applicable = 1;
  snprintf(v->hypotheses, sizeof v->hypotheses, "always (files of one run)");
  v->bound = bound;
  v->measured = measured;
  v->margin = bound - measured;
  v->holds = ok;
  snprintf(v->message, sizeof v->message, "%s: %.60s%s%.150s", ok ? "holds" : "INCONSISTENT", ok || !it->file[0] ? "" : it->file,
           ok || !it->file[0] ? "" : ": ", what);
  if (!ok) snprintf(it->cause, sizeof it->cause, "tampered with, or files of different runs: the theory verdicts of this folder mean nothing");
  return it;
}

/* ------------------------------------------------------------------ output */

static const char *verdict_word(const dln_check_item *it) {
  if (it->unverified) return "unverified";
  return !it->v.applicable ? "not applicable" : it->v.holds ? "holds" : it->integrity ? "INCONSISTENT" : "VIOLATED";
}

static void num(char *buf, size_t n, double x) {
  if (isnan(x)) snprintf(buf, n, "-");
  else snprintf(buf, n, "%.4g", x);
}

void dln_check_print(const dln_check_report *rep, FILE *fp) {
  if (!rep || !fp) return;
  if (rep->tol > 0)
    fprintf(fp, "dln check %s: method %s, tolerance %.3g (slack %.3g x rtol %.3g)\n", rep->dir, rep->method, rep->tol,
            rep->slack, rep->rtol);
  else /* a folder of several runs: each subfolder has its own tolerance */
    fprintf(fp, "dln check %s: %s (the files, then each run subfolder)\n", rep->dir, rep->method);
  fprintf(fp, "%-40s %-24s %-44s %11s %11s %10s  %s\n", "result", "source", "hypotheses", "bound/pred", "measured", "margin",
          "verdict");
  for (size_t i = 0; i < rep->n; ++i) {
    const dln_check_item *it = &rep->items[i];
    const dln_verdict *v = &it->v;
    char b[32], m[32], g[32], hyp[48];
    num(b, sizeof b, v->bound);
    num(m, sizeof m, v->measured);
    num(g, sizeof g, v->margin);
    const char *h = v->applicable ? (v->hypotheses[0] ? v->hypotheses : "hold") : "fail";
    if (strlen(h) > 44) snprintf(hyp, sizeof hyp, "%.41s...", h);
    else snprintf(hyp, sizeof hyp, "%.44s", h);
    if (it->unverified)
      fprintf(fp, "%-40.40s %-24.24s %-44s %11s %11s %10s  unverified: %s\n", v->result, v->source, "-", "-", "-", "-", v->message);
    else if (!v->applicable)
      fprintf(fp, "%-40.40s %-24.24s %-44s %11s %11s %10s  %s\n", v->result, v->source, hyp, "-", "-", "-", v->message);
    else
      fprintf(fp, "%-40.40s %-24.24s %-44s %11s %11s %10s  %s\n", v->result, v->source, hyp, b, m, g, verdict_word(it));
  }
  fprintf(fp, "%d applicable, %d hold, %d violated, %d inconsistent (files), %d unverified\n", rep->napplicable, rep->nholds,
          rep->nviolated, rep->ninconsistent, rep->nunverified);
  for (size_t i = 0; i < rep->n; ++i) {
    const dln_check_item *it = &rep->items[i];
    if (it->v.applicable && !it->v.holds)
      fprintf(fp, "%s: %s (%s): %s; %s\n", it->integrity ? "INCONSISTENT" : "VIOLATED", it->v.result, it->v.source, it->v.message,
              it->cause);
  }
}

int dln_check_write_json(const dln_check_report *rep, const char *path) {
  DLN_ARGS(rep, path);
  unsigned long mark = dln_json_mark();
  json_t *root = json_object(), *arr = json_array();
  if (!root || !arr) {
    json_decref(root);
    json_decref(arr);
    return dln_error(DLN_ENOMEM, "%s: out of memory", path);
  }
  DLN_JSON_SET(root, "folder", json_string(rep->dir), "method", json_string(rep->method),
               "tolerance", dln_json_num(rep->tol), "slack", dln_json_num(rep->slack),
               "rtol", dln_json_num(rep->rtol), "atol", dln_json_num(rep->atol));
  for (size_t i = 0; i < rep->n; ++i) {
    const dln_check_item *it = &rep->items[i];
    const dln_verdict *v = &it->v;
    json_t *o = DLN_JSON_SET(json_object(), "result", json_string(v->result), "source", json_string(v->source),
                             "applicable", json_boolean(v->applicable), "hypotheses", json_string(v->hypotheses),
                             "bound", dln_json_num(v->bound), "measured", dln_json_num(v->measured),
                             "margin", dln_json_num(v->margin), "verdict", json_string(verdict_word(it)),
                             "message", json_string(v->message));
    if (it->cause[0]) dln_jset(o, "likely_cause", json_string(it->cause));
    if (it->integrity) dln_jset(o, "integrity", json_true());
    if (it->file[0]) dln_jset(o, "file", json_string(it->file));
    dln_jappend(arr, o);
  }
  dln_jset(root, "results", arr);
  dln_jset(root, "summary", DLN_JSON_SET(json_object(), "applicable", json_integer(rep->napplicable),
                                                    "hold", json_integer(rep->nholds),
                                                    "violated", json_integer(rep->nviolated),
                                                    "inconsistent", json_integer(rep->ninconsistent),
                                                    "unverified", json_integer(rep->nunverified)));
  root = dln_json_done(root, mark); /* NULL: dln_json_write reports it */
  int st = dln_json_write(path, root);
  json_decref(root);
  return st;
}

void dln_chk_tally(dln_check_report *rep) {
  for (size_t i = 0; i < rep->n; ++i) {
    const dln_check_item *it = &rep->items[i];
    if (it->unverified) rep->nunverified++;
    if (!it->v.applicable) continue;
    rep->napplicable++;
    if (it->v.holds) rep->nholds++;
    else if (it->integrity) rep->ninconsistent++;
    else rep->nviolated++;
  }
}
