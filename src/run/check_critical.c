/* `dln check --critical SPEC.json` (dln/check.h, docs/check.md): every critical value and
 * stratum of the spec's target, not only the end point's (004 Lemma 3.2, §4.1 eq. 26), with
 * each stratum's dimension for one hidden layer (004 Prop. 5, dln_theory_stratum_dim).
 * The data and network are built as dln run builds them (same stream), nothing is trained. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dln/check.h"
#include "dln/error.h"
#include "dln/landscape.h"
#include "dln/rng.h"
#include "dln/spec.h"
#include "io/json_util.h"
#include "run/run_internal.h"

#define CRIT_CAP ((size_t)1 << 16)

/* The listing as JSON; NULL on allocation failure (dln_json_done reports it). */
static json_t *crit_json(const dln_critval *cv, const dln_critval_info *info, const dln_net *net, const char *task) {
  unsigned long mark = dln_json_mark();
  int N = net->depth, *d = net->widths;
  json_t *root = json_object(), *arr = json_array(), *w = json_array();
  for (int j = 0; j <= N; ++j) dln_jappend(w, json_integer(d[j]));
  DLN_JSON_SET(root, "task", json_string(task), "depth", json_integer(N), "widths", w, "q", json_integer(info->q),
               "max_rank", json_integer(info->max_rank), "strata", dln_json_num(info->total), "listed", json_integer((json_int_t)info->count),
               "capped", json_boolean(info->capped), "source", json_string("004 Lemma 3.2, eq. 26; dimensions 004 Prop. 5 (one hidden layer)"));
  for (size_t i = 0; i < info->count; ++i) {
    json_t *learned = json_array();
    for (int k = 0; k < info->q; ++k)
      if (cv[i].learned >> k & 1u) dln_jappend(learned, json_integer(k + 1));
    long dim = -1;
    if (N == 2 && dln_theory_stratum_dim(d[0], d[1], d[2], cv[i].r, &dim, NULL)) dim = -1;
    dln_jappend(arr, DLN_JSON_SET(json_object(), "value", dln_json_num(cv[i].value), "rank", json_integer(cv[i].r), "learned", learned,
                                  "global_min", json_boolean(cv[i].value == cv[0].value),
                                  "dimension", dim >= 0 ? json_integer(dim) : json_null()));
  }
  dln_jset(root, "critical", arr);
  return dln_json_done(root, mark);
}

static void crit_print(const dln_critval *cv, const dln_critval_info *info, const dln_net *net, FILE *fp) {
  fprintf(fp, "%zu of %.0f critical strata (q = %d target singular values, rank <= %d)%s\n", info->count, info->total, info->q,
          info->max_rank, info->capped ? ", capped: the lowest values" : "");
  fprintf(fp, "%-22s %-5s %-10s %s\n", "critical value", "rank", "dimension", "learned components (1-based)");
  for (size_t i = 0; i < info->count; ++i) {
    long dim = -1;
    char dbuf[24] = "-", lbuf[200] = "";
    if (net->depth == 2 && !dln_theory_stratum_dim(net->widths[0], net->widths[1], net->widths[2], cv[i].r, &dim, NULL))
      snprintf(dbuf, sizeof dbuf, "%ld", dim);
    for (int k = 0; k < info->q; ++k)
      if (cv[i].learned >> k & 1u) {
        size_t l = strlen(lbuf);
        snprintf(lbuf + l, sizeof lbuf - l, "%s%d", l ? "," : "", k + 1);
      }
    fprintf(fp, "%-22.15g %-5d %-10s {%s}\n", cv[i].value, cv[i].r, dbuf, lbuf);
  }
}

int dln_check_critical(const dln_spec *spec, const char *json_path, FILE *fp) {
  DLN_ARGS(spec);
  dln_run_data d;
  dln_run_parts p;
  memset(&d, 0, sizeof d);
  memset(&p, 0, sizeof p);
  int phase = 0, st;
  dln_critval *cv = NULL;
  json_t *root = NULL;
  dln_rng *rng = dln_rng_alloc(spec->seed, spec->stream);
  if (!rng) return dln_error(DLN_ENOMEM, "out of memory");
  if ((st = dln_run_data_build(spec, rng, &d, &phase)) || (st = dln_run_parts_build(spec, &d, rng, &p, &phase))) goto done;
  if (!dln_loss_has(p.loss, DLN_LOSS_IDENTITY) || p.net->tied) {
    st = dln_error(DLN_ENOTAPPLICABLE, "task: expected a factorization loss 1/2|W - Ybar|^2 and an untied network (004 Lemma 3.2), found %s%s",
                   dln_loss_name(p.loss), p.net->tied ? " (tied)" : "");
    goto done;
  }
  dln_critval_options o;
  dln_critval_default_options(&o);
  o.cap = CRIT_CAP;
  /* depth 1: W itself is the parameter; its only critical point is Ȳ */
  o.max_rank = p.net->depth == 1 ? 0 : dln_net_min_width(p.net);
  dln_critval_info info;
  if (!(cv = calloc(CRIT_CAP, sizeof *cv))) {
    st = dln_error(DLN_ENOMEM, "out of memory");
    goto done;
  }
  if ((st = dln_critical_values_target(p.loss->rows, p.loss->cols, p.loss->wstar, &o, cv, &info))) goto done;
  if (p.net->depth == 1) info.count = info.count ? 1 : 0, info.total = 1; /* the global minimum only */
  if (fp) crit_print(cv, &info, p.net, fp);
  if (json_path) {
    root = crit_json(cv, &info, p.net, dln_loss_name(p.loss));
    st = dln_json_write(json_path, root);
  }
done:
  json_decref(root);
  free(cv);
  dln_run_parts_free(&p);
  dln_run_data_free(&d);
  dln_rng_free(rng);
  return st;
}
