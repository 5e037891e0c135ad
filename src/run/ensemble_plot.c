/* A sweep's figure and report (dln/ensemble.h, docs/cli.md "Sweeps"), with "plot": true in
 * the spec file or opt->plot (`dln sweep --plot`): plot.py from the embedded template
 * src/run/figures/sweep_plot.py (median and 10-90 % band per swept setting vs t, or one
 * curve per run for ≤ 10 runs), rendered as figure.png / figure.svg, and report.md: per
 * setting, the final values' median and quantiles and the end-point tally (endpoints.json,
 * 004 §2.3, §4) when the runs have end points. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dln/landscape.h"
#include "run/ensemble_common.h"

extern const char dln_figure_py_sweep_plot[]; /* generated/figure_py.c (cmake/embed_py.cmake) */

/* The final-value columns summarised in report.md (those the runs have). */
static const char *const report_cols[] = {"loss", "grad_norm", "dist_ref", "dist_true_rel", "unbalancedness"};
enum { NREPORT = (int)(sizeof report_cols / sizeof *report_cols) };

/* "name=value, ..." of a setting object (overrides without seed/stream/data_seed); malloc'ed. */
static char *setting_label(const json_t *set) {
  char *buf = NULL;
  size_t n = 0;
  FILE *fp = open_memstream(&buf, &n);
  if (!fp) return NULL;
  const char *key;
  json_t *v;
  int first = 1;
  json_object_foreach((json_t *)set, key, v) {
    if (!strcmp(key, "seed") || !strcmp(key, "stream") || !strcmp(key, "data_seed")) continue;
    char r[40], *d = json_is_string(v) || json_is_real(v) ? NULL : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (json_is_real(v)) /* the shortest text that reads back, as the sweep reader writes it */
      for (int p = 1; p <= 17; ++p)
        if (snprintf(r, sizeof r, "%.*g", p, json_real_value(v)), strtod(r, NULL) == json_real_value(v)) break;
    fprintf(fp, "%s%s=%s", first ? "" : ", ", key,
            json_is_real(v) ? r : d ? d : json_string_value(v) ? json_string_value(v) : "?");
    free(d);
    first = 0;
  }
  if (first) fputs("all runs", fp);
  int bad = ferror(fp);
  if (fclose(fp) != 0 || bad) return free(buf), NULL;
  return buf;
}

/* q-quantile of sorted x[0..n), linear interpolation between order statistics (numpy's default). */
static double quantile(const double *x, long n, double q) {
  double h = (double)(n - 1) * q;
  long lo = (long)floor(h);
  return lo + 1 < n ? x[lo] + (h - (double)lo) * (x[lo + 1] - x[lo]) : x[n - 1];
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

typedef struct rep_run {
  char *label;
  long k;
} rep_run;

static int cmp_run(const void *a, const void *b) {
  const rep_run *x = a, *y = b;
  int c = strcmp(x->label, y->label);
  return c ? c : (x->k > y->k) - (x->k < y->k);
}

/* A setting's runs: r[start..start+len) of the sorted runs; first: its lowest run index. */
typedef struct rep_group {
  long first, start, len;
} rep_group;

static int cmp_group(const void *a, const void *b) {
  long x = ((const rep_group *)a)->first, y = ((const rep_group *)b)->first;
  return (x > y) - (x < y);
}

/* One table of report.md: per setting, the finite final values of column c. */
static void column_table(FILE *fp, const json_t *runs, const rep_run *r, const rep_group *g, long ng, const char *c, double *x) {
  fprintf(fp, "\n## Final %s\n\n| setting | runs | median | q10 | q90 | min | max |\n|---|---|---|---|---|---|---|\n", c);
  for (long i = 0; i < ng; ++i) {
    long n = 0;
    for (long j = g[i].start; j < g[i].start + g[i].len; ++j) {
      const json_t *e = json_array_get(runs, (size_t)r[j].k);
      const json_t *v = json_object_get(json_object_get(e, "final"), c);
      if (json_is_number(v) && isfinite(json_number_value(v))) x[n++] = json_number_value(v);
    }
    fprintf(fp, "| %s | %ld |", r[g[i].start].label, n);
    if (!n) {
      fputs(" - | - | - | - | - |\n", fp);
      continue;
    }
    qsort(x, (size_t)n, sizeof *x, cmp_double);
    fprintf(fp, " %.9g | %.9g | %.9g | %.9g | %.9g |\n", quantile(x, n, 0.5), quantile(x, n, 0.1), quantile(x, n, 0.9), x[0],
            x[n - 1]);
  }
}

/* The end-point tally of endpoints.json (dln_ens_endpoints_json) as a table. */
static void endpoint_table(FILE *fp, const json_t *tally) {
  fputs("\n## End points (endpoints.json; 004 §2.3, §4)\n\nFraction of the classified runs of each setting, with its "
        "Wilson 95 % interval.\n\n| setting | classified runs | unclassified |", fp);
  for (int c = 0; c < DLN_END_NCLASS; ++c) fprintf(fp, " %s |", dln_end_class_name(c));
  fputs("\n|---|---|---|", fp);
  for (int c = 0; c < DLN_END_NCLASS; ++c) fputs("---|", fp);
  size_t i;
  json_t *g;
  json_array_foreach(json_object_get(tally, "groups"), i, g) {
    char *lab = setting_label(json_object_get(g, "setting"));
    fprintf(fp, "\n| %s | %lld | %lld |", lab ? lab : "?", (long long)json_integer_value(json_object_get(g, "runs")),
            (long long)json_integer_value(json_object_get(g, "unclassified")));
    free(lab);
    for (int c = 0; c < DLN_END_NCLASS; ++c) {
      const json_t *s = json_object_get(json_object_get(g, "classes"), dln_end_class_name(c));
      const json_t *ci = json_object_get(s, "wilson95");
      fprintf(fp, " %lld (%.4g [%.4g, %.4g]) |", (long long)json_integer_value(json_object_get(s, "count")),
              json_number_value(json_object_get(s, "fraction")), json_number_value(json_array_get(ci, 0)),
              json_number_value(json_array_get(ci, 1)));
    }
  }
  fputc('\n', fp);
}

/* The runs sorted by setting label, and the settings in order of first appearance. */
static int group_runs(const json_t *runs, rep_run **rp, rep_group **gp, long *ng) {
  long n = (long)json_array_size(runs);
  rep_run *r = calloc((size_t)n + 1, sizeof *r);
  rep_group *g = calloc((size_t)n + 1, sizeof *g);
  *rp = r, *gp = g, *ng = 0;
  if (!r || !g) return dln_error(DLN_ENOMEM, "report.md: out of memory");
  for (long k = 0; k < n; ++k) {
    r[k].k = k;
    if (!(r[k].label = setting_label(json_object_get(json_array_get(runs, (size_t)k), "overrides"))))
      return dln_error(DLN_ENOMEM, "report.md: out of memory");
  }
  qsort(r, (size_t)n, sizeof *r, cmp_run);
  for (long k = 0; k < n; ++k) {
    if (k == 0 || strcmp(r[k].label, r[k - 1].label)) g[(*ng)++] = (rep_group){r[k].k, k, 0};
    g[*ng - 1].len++;
  }
  qsort(g, (size_t)*ng, sizeof *g, cmp_group);
  return DLN_OK;
}

static const char *plot_words(int plot) {
  static const char *const w[] = {"not drawn", "figure.png and figure.svg rendered by plot.py",
                                  "not rendered: python3-matplotlib not found (run plot.py where it is)",
                                  "not rendered: plot.py failed", "plot.py written, not rendered"};
  return w[plot >= 0 && plot <= DLN_PLOT_SCRIPT_ONLY ? plot : 0];
}

/* report.md's text (malloc'ed into *text, *len). */
static int report_text(const json_t *sum, const json_t *tally, int plot, char **text, size_t *len) {
  const json_t *runs = json_object_get(sum, "runs"), *tot = json_object_get(sum, "totals");
  rep_run *r = NULL;
  rep_group *g = NULL;
  long ng = 0, n = (long)json_array_size(runs);
  double *x = malloc(((size_t)n + 1) * sizeof *x);
  int st = x ? group_runs(runs, &r, &g, &ng) : dln_error(DLN_ENOMEM, "report.md: out of memory");
  FILE *fp = st ? NULL : open_memstream(text, len);
  if (!st && !fp) st = dln_error(DLN_ENOMEM, "report.md: out of memory");
  if (fp) {
    const char *src = json_string_value(json_object_get(sum, "spec_file"));
    fprintf(fp, "# Sweep report%s%s\n\n%ld runs (%lld complete, %lld diverged or solver failure, %lld failed) over %ld setting%s "
            "of the swept options (seed, stream and data_seed vary the start, not the setting). Figure: %s.\n\n"
            "Final values: each run's last sample (ensemble.json \"final\", the last row of the run in ensemble.csv); runs "
            "without a finite value are left out. Quantiles interpolate linearly between order statistics (numpy's default).\n",
            src ? ": " : "", src ? src : "", n, (long long)json_integer_value(json_object_get(tot, "complete")),
            (long long)json_integer_value(json_object_get(tot, "diverged_or_solver")),
            (long long)json_integer_value(json_object_get(tot, "failed")), ng, ng == 1 ? "" : "s", plot_words(plot));
    for (int c = 0; c < NREPORT; ++c) {
      int any = 0;
      for (long k = 0; k < n && !any; ++k)
        any = json_object_get(json_object_get(json_array_get(runs, (size_t)k), "final"), report_cols[c]) != NULL;
      if (any) column_table(fp, runs, r, g, ng, report_cols[c], x);
    }
    if (tally) endpoint_table(fp, tally);
    int bad = ferror(fp);
    if (fclose(fp) != 0 || bad) st = dln_error(DLN_ENOMEM, "report.md: out of memory");
  }
  for (long k = 0; r && k < n; ++k) free(r[k].label);
  free(r), free(g), free(x);
  return st;
}

int dln_ens_write_plot(ens *E, const json_t *sum) {
  dln_ensemble_result *res = E->res;
  int st = dln_run_plot_commit(E->out, dln_figure_py_sweep_plot, 1, &E->folder.files, &res->plot, &res->plot_exit);
  if (st) return st;
  const json_t *runs = json_object_get(sum, "runs");
  json_t *tally = NULL;
  size_t i;
  json_t *e;
  int any = 0;
  json_array_foreach(runs, i, e) any |= json_is_object(json_object_get(e, "endpoint"));
  if (any && !(tally = dln_ens_endpoints_json(runs))) return dln_error(DLN_ENOMEM, "report.md: out of memory");
  char *text = NULL;
  size_t len = 0;
  st = report_text(sum, tally, res->plot, &text, &len);
  json_decref(tally);
  char *p = st ? NULL : dln_path_join(E->out, "report.md");
  if (!st) st = p ? dln_write_file_atomic(p, text, len) : dln_error(DLN_ENOMEM, "out of memory");
  if (!st) st = dln_run_files_add(&E->folder.files, "report.md");
  free(p);
  free(text);
  return st;
}
