/* Where a run ended (dln/landscape.h (f), 004 §2.3, §4): the "endpoint" object of a run's
 * summary.json and of its ensemble.json entry, and the tally endpoints.json of a sweep. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "dln/error.h"
#include "dln/landscape.h"
#include "run/run_internal.h"

/* The learned components (1-based, descending s_i; with repeated s_i the first ones of
 * each cluster, see dln_stratum) as a JSON array. */
static json_t *stratum_json(const dln_stratum *s) {
  json_t *a = json_array();
  for (int i = 0; i < s->q; ++i)
    if (s->learned[i] == DLN_COMP_LEARNED) dln_jappend(a, json_integer(i + 1));
  return a;
}

static json_t *clusters_json(const dln_stratum *s) {
  json_t *a = json_array();
  for (int c = 0; c < s->nclusters; ++c) {
    if (s->cluster_size[c] < 2) continue;
    json_t *o = json_object();
    dln_jset(o, "first", json_integer(s->cluster_start[c] + 1));
    dln_jset(o, "multiplicity", json_integer(s->cluster_size[c]));
    dln_jset(o, "learned", json_integer(s->cluster_learned[c]));
    dln_jappend(a, o);
  }
  return a;
}

/* *out: json null when not applicable (not a factorization, a tied net, or end-to-end
 * dynamics: no layers);
 * {"class": null, "error": ...} when the target cannot be classified. */
int dln_run_endpoint_json(const dln_run_parts *p, json_t **out) {
  *out = NULL;
  if (p->e2e || !p->net || p->net->tied || !p->loss || !dln_loss_has(p->loss, DLN_LOSS_IDENTITY) || !p->loss->wstar) return *out = json_null(), DLN_OK;
  unsigned long mark = dln_json_mark();
  dln_endpoint_options eo;
  dln_endpoint_default_options(&eo);
  eo.acc = p->to.rtol > 0 ? p->to.rtol : eo.acc;
  dln_endpoint e;
  int st = dln_endpoint_classify(p->net, p->loss, p->theta, &eo, &e);
  if (st && st != DLN_ENOTAPPLICABLE && st != DLN_EUNSUPPORTED) return st; /* out of memory, LAPACK */
  json_t *o = json_object();
  if (st) { /* a zero target, more than 64 components: said, not guessed */
    dln_jset(o, "class", json_null());
    dln_jset(o, "error", json_string(dln_last_error()));
    *out = dln_json_done(o, mark);
    return *out ? DLN_OK : dln_error(DLN_ENOMEM, "out of memory (end point)");
  }
  int conv = e.cls != DLN_END_NOT_CONVERGED;
  dln_jset(o, "class", json_string(dln_end_class_name(e.cls)));
  dln_jset(o, "stratum", conv ? stratum_json(&e.s) : json_null());
  dln_jset(o, "rank", conv ? json_integer(e.s.r) : json_null());
  if (conv && e.s.degenerate) dln_jset(o, "repeated", clusters_json(&e.s));
  dln_jset(o, "lambda_min", dln_json_num(e.lambda_min));
  dln_jset(o, "lambda_resid", dln_json_num(e.lambda_resid));
  dln_jset(o, "grad_norm", dln_json_num(e.grad_norm));
  dln_jset(o, "grad_tol", dln_json_num(e.grad_tol));
  dln_jset(o, "comp_tol", dln_json_num(e.comp_tol));
  dln_jset(o, "residual", dln_json_num(e.s.residual));
  dln_jset(o, "message", json_string(e.message));
  *out = dln_json_done(o, mark);
  return *out ? DLN_OK : dln_error(DLN_ENOMEM, "out of memory (end point)");
}
