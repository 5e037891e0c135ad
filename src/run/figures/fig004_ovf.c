/* 004-ovf: the overfitting conjecture of 004 (Chitour, Liao, Couillet), §2.3 Conjecture 1:
 * for almost every start, gradient flow on the square loss of a linear network of any
 * depth converges to a global minimum (proved for one hidden layer, §4.2). Measured by the
 * end-point class of each run (004 Lemma 3.2's strata, docs/landscape.md (f)) over two
 * sweeps run through dln_ensemble_run on all cores:
 *   random/  Gaussian starts, depth 1..4, NRAND seeds each;
 *   saddle/  adversarial starts: on each non-global stratum Crit(L) of 004 §3.2 (the
 *            balanced factorization of Σ_{i∈L} s_i p_i q_iᵀ) plus Gaussian noise of standard deviation 1e-3,
 *            depth 2..4 (depth 1 has no saddle), NSAD seeds per stratum.
 * ovf.csv: per (part, depth[, stratum]) the counts and the fraction reaching a global
 * minimum with its Wilson 95% interval, read from the sweeps' endpoints.json. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dln/error.h"
#include "dln/landscape.h"
#include "run/figures/fig_sweep.h"

enum { NDEPTH = 4, NSTRATA = 7, NCOL = 11 };
static const char *const depths[NDEPTH] = {"1", "2", "3", "4"};
/* The non-global strata of a 3x3 target with width ≥ 3: every L ⊊ {1, 2, 3}. */
static const char *const strata[NSTRATA] = {"", "1", "2", "3", "1,2", "1,3", "2,3"};
static const char *const cols[NCOL] = {"adversarial", "depth",         "stratum_mask", "runs",    "global_min", "saddle",
                                       "not_converged", "unclassified", "frac_global", "wilson_lo", "wilson_hi"};

typedef struct ovf_setup {
  int nrand, nsad;
  const char *t_end;
} ovf_setup;

/* Base spec: 3x3 Gaussian target (one draw, data_seed 1), width 4 (004 Assumption 1:
 * min_j d_j ≥ d_y), gradient flow (ARKODE, rtol 1e-8) to t_end. */
static int base_spec(dln_spec *s, const ovf_setup *u, int adversarial) {
  const char *const kv[][2] = {{"task", "factorization"}, {"rows", "3"},      {"cols", "3"},       {"width", "4"},
                               {"method", "flow"},        {"t_end", u->t_end}, {"samples", "41"},    {"quiet", "true"},
                               {"plot", "false"},         {"seed", "1"},      {"sigma", "0.5"},
                               {"init", adversarial ? "saddle" : "gaussian"}};
  int st = dln_fig_spec(s, kv, sizeof kv / sizeof *kv);
  if (!st && adversarial) st = dln_spec_set(s, "saddle_perturb", "1e-3"); /* an option of init saddle only */
  return st;
}

static int run_part(dln_figure_ctx *c, const ovf_setup *u, int adversarial) {
  dln_spec s;
  dln_sweep sw;
  dln_sweep_init(&sw);
  int st = base_spec(&s, u, adversarial);
  if (!st) st = dln_sweep_add_axis(&sw, "depth", NDEPTH - adversarial, depths + adversarial);
  if (!st && adversarial) st = dln_sweep_add_axis(&sw, "saddle_stratum", NSTRATA, strata);
  if (!st) st = dln_sweep_add_range(&sw, "seed", 1, adversarial ? u->nsad : u->nrand, 1);
  if (!st) st = dln_fig_sweep(c, adversarial ? "saddle" : "random", &s, &sw, NULL);
  dln_sweep_free(&sw);
  dln_spec_free(&s);
  return st;
}

static long count_of(json_t *classes, const char *k) {
  return (long)json_integer_value(json_object_get(json_object_get(classes, k), "count"));
}

/* Bit mask of a stratum text "1,3" (bit i-1 for component i). */
static double mask_of(const char *txt) {
  int m = 0;
  for (const char *p = txt; p && *p; ++p)
    if (*p >= '1' && *p <= '9') m |= 1 << (*p - '1');
  return m;
}

/* Rows of ovf.csv from one part's endpoints.json (per depth, and per stratum when
 * adversarial); *nglob, *nruns: totals. */
static int tally(dln_figure_ctx *c, int adversarial, dln_table *t, long *nglob, long *nruns) {
  json_t *j = dln_fig_load(c, adversarial ? "saddle" : "random", "endpoints.json");
  if (!j) return dln_error(DLN_EIO, "004-ovf: cannot read endpoints.json: %s", dln_last_error());
  json_t *g = json_object_get(j, "groups"), *e;
  size_t i;
  int st = json_is_array(g) ? DLN_OK : dln_error(DLN_EFORMAT, "endpoints.json: expected groups, found none");
  json_array_foreach(g, i, e) {
    if (st) break;
    json_t *set = json_object_get(e, "setting"), *cl = json_object_get(e, "classes");
    /* typed settings (ensemble.json): depth a number, a stratum a number, list or text */
    json_t *jd = json_object_get(set, "depth"), *js = json_object_get(set, "saddle_stratum");
    double d = json_is_number(jd) ? json_number_value(jd) : json_is_string(jd) ? atof(json_string_value(jd)) : -1;
    char *sst = js ? json_dumps(js, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    long n = (long)json_integer_value(json_object_get(e, "runs")), k = count_of(cl, "global_min");
    double lo = 0, hi = 1;
    st = dln_wilson_interval(k, n, 1.959964, &lo, &hi);
    double row[NCOL] = {adversarial, d, adversarial ? mask_of(sst) : -1, (double)n, (double)k,
                        (double)count_of(cl, "saddle"), (double)count_of(cl, "not_converged"),
                        (double)json_integer_value(json_object_get(e, "unclassified")), n ? (double)k / n : 0, lo, hi};
    free(sst);
    if (!st) st = dln_table_append(t, row);
    *nglob += k, *nruns += n;
  }
  json_decref(j);
  return st;
}

/* Per depth d of part adv: runs, global minima, saddles over the rows of t; the Wilson
 * interval of the fraction into lo, hi. */
static void per_depth(const dln_table *t, int adv, int d, long *n, long *k, long *sad, double *lo, double *hi) {
  *n = *k = *sad = 0;
  for (size_t r = 0; r < t->nrows; ++r) {
    const double *x = t->data + r * NCOL;
    if ((int)x[0] != adv || (int)x[1] != d) continue;
    *n += (long)x[3], *k += (long)x[4], *sad += (long)x[5];
  }
  *lo = 0, *hi = 1;
  if (*n) dln_wilson_interval(*k, *n, 1.959964, lo, hi);
}

/* One verdict over depths d0..d1 of part adv: holds when every run ends at a global
 * minimum; fails when one ends at a saddle at depth <= 2 (strict saddles, 004 Prop. 4 ii:
 * noise grows like e^{|lambda_min| t}); otherwise not checked: at depth >= 3 the Hessian
 * vanishes on the unlearned directions, noise eps escapes only after t ~ eps^-(N-2), and a
 * run still on that plateau at t_end says nothing about its limit. */
static int part_verdict(dln_figure_ctx *c, const dln_table *t, int adv, int d0, int d1, const char *claim) {
  char txt[1024] = "";
  long tn = 0, tk = 0, ts = 0, strict = 0;
  for (int d = d0; d <= d1; ++d) {
    long n, k, sad;
    double lo, hi;
    per_depth(t, adv, d, &n, &k, &sad, &lo, &hi);
    size_t l = strlen(txt);
    snprintf(txt + l, sizeof txt - l, "%sdepth %d: %ld/%ld (%.4g, Wilson 95%% [%.4g, %.4g])", d > d0 ? "; " : "", d, k,
             n, n ? (double)k / n : 0.0, lo, hi);
    tn += n, tk += k, ts += sad, strict += d <= 2 ? sad : 0;
  }
  int v = tk == tn ? DLN_VERDICT_HOLDS : strict ? DLN_VERDICT_FAILS : DLN_VERDICT_NOT_CHECKED;
  return dln_figure_verdict(c, claim, v,
                            "Claim: almost every start reaches a global minimum. Measured fraction reaching one: %s; "
                            "%ld run(s) classified at a saddle at t_end (%ld of them at depth <= 2), %ld not converged.%s",
                            txt, ts, strict, tn - tk - ts,
                            v == DLN_VERDICT_NOT_CHECKED ? " Not checked: the runs at depth >= 3 are still on the "
                                                          "plateau of a non-strict saddle at t_end (escape time "
                                                          "~ eps^-(N-2)), not at their limit."
                                                        : "");
}

static int fig004_ovf_run(dln_figure_ctx *c) {
  ovf_setup u = {c->quick ? 10 : 100, c->quick ? 2 : 10, "200"};
  dln_table *t = NULL;
  long g = 0, n = 0;
  int st = run_part(c, &u, 0);
  if (!st) st = run_part(c, &u, 1);
  if (!st) st = dln_table_alloc(&t, NCOL, cols, 64);
  if (!st) st = tally(c, 0, t, &g, &n);
  if (!st) st = tally(c, 1, t, &g, &n);
  if (!st) st = dln_figure_write_table(c, "ovf.csv", t);
  if (!st)
    st = dln_figure_printf(
        c,
        "## Setting\n\n004 gives no numerical experiment; this is dln's: target Ybar 3x3 ~ N(0, 1) (one draw, "
        "data_seed 1), hidden width 4 (004 Assumption 1), depth 1-4, gradient flow (ARKODE ERK, rtol 1e-8) to t = %s. "
        "Random starts: Gaussian sigma = 0.5, %d seeds per depth (random/). Adversarial starts: `--init=saddle` on "
        "each of the 7 non-global strata L of {1,2,3} (004 Lemma 3.2) plus Gaussian noise of standard deviation 1e-3 "
        "(`--saddle_perturb=1e-3`), depth 2-4, %d seeds per stratum (saddle/). End points classified by "
        "docs/landscape.md (f); ovf.csv holds per setting the counts, the fraction reaching a global minimum and its "
        "Wilson 95%% interval (from the sweeps' endpoints.json). %s\n\n## Claims and verdicts\n\n",
        u.t_end, u.nrand, u.nsad, c->quick ? "`--quick`: 10 random seeds per depth, 2 per stratum." : "");
  if (!st) st = part_verdict(c, t, 0, 1, NDEPTH, "004 Conjecture 1, random starts");
  if (!st) st = part_verdict(c, t, 1, 2, 2, "004 Conjecture 1 / Prop. 4 ii, adversarial starts, depth 2");
  if (!st) st = part_verdict(c, t, 1, 3, NDEPTH, "004 Conjecture 1, adversarial starts, depth 3-4");
  dln_table_free(t);
  return st;
}

const dln_figure_type dln_figure_004_ovf = {
    "004-ovf", "fraction of starts reaching a global minimum, random and on each saddle stratum, depth 1-4",
    "004 sec. 2.3 Conjecture 1 (Chitour, Liao, Couillet)", dln_figure_py_fig004_ovf, fig004_ovf_run};
