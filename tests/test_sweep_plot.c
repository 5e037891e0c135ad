/* Plotting sweeps (dln sweep with "plot": true or --plot; src/run/ensemble_plot.c,
 * src/run/figures/sweep_plot.py): the files and the manifest, both render paths (a package
 * named matplotlib on PYTHONPATH that refuses the import; with matplotlib when installed,
 * band and per-run paths), plot.py run by hand, report.md's final-value quantiles recomputed
 * from ensemble.csv (each run's last row, numpy's linear quantile redone here) and its
 * end-point counts from ensemble.json's entries; no plot without the key (the spec's
 * default plot = true is for dln run), none for a shard, and dln merge --plot. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <jansson.h>

#include "testutil.h"

static char dir[64];

static int exists(const char *p) {
  struct stat sb;
  return stat(p, &sb) == 0;
}

static int run_cli(const char *const *args) { return tu_wait(tu_spawn(DLN_CLI, args, dir)); }

static int have_matplotlib(void) {
  return tu_wait(tu_spawn("/usr/bin/python3", (const char *[]){"-c", "import matplotlib", NULL}, dir)) == 0;
}

/* The manifest of sweep folder q lists plot.py and report.md, and figure.png/.svg iff figure. */
static void check_files(const char *q, int figure) {
  char *m = tu_slurp(tu_path(q, "manifest.json"));
  assert_non_null(m);
  assert_non_null(strstr(m, "\"kind\": \"sweep\""));
  static const char *const names[] = {"ensemble.csv", "ensemble.json", "plot.py", "report.md"};
  for (size_t i = 0; i < sizeof names / sizeof *names; ++i) {
    char want[64];
    snprintf(want, sizeof want, "\"%s\"", names[i]);
    assert_non_null(strstr(m, want));
    assert_true(exists(tu_path(q, names[i])));
  }
  assert_int_equal(strstr(m, "\"figure.png\"") != NULL, figure);
  assert_int_equal(strstr(m, "\"figure.svg\"") != NULL, figure);
  assert_int_equal(exists(tu_path(q, "figure.png")), figure);
  assert_int_equal(exists(tu_path(q, "figure.svg")), figure);
  free(m);
}

/* numpy.quantile's default (linear between order statistics) of sorted x[0..n). */
static double lin_quantile(const double *x, int n, double q) {
  double h = (n - 1) * q;
  int lo = (int)floor(h);
  return lo + 1 < n ? x[lo] + (h - lo) * (x[lo + 1] - x[lo]) : x[n - 1];
}

enum { MAXRUNS = 64 };

/* The next comma-separated field of *s (empty fields kept), NUL-terminated in place. */
static char *field(char **s) {
  if (!*s) return NULL;
  char *f = *s, *e = f + strcspn(f, ",\n");
  *s = *e == ',' ? e + 1 : NULL;
  *e = '\0';
  return f;
}

/* Each run's last value of column col and its setting column set (ensemble.csv by header). */
static int last_rows(const char *csv, const char *set, const char *col, double *setv, double *last) {
  FILE *fp = fopen(csv, "r");
  assert_non_null(fp);
  static char line[1 << 16];
  assert_non_null(fgets(line, sizeof line, fp));
  int iset = -1, icol = -1, nrun = 0, c = 0;
  for (char *s = line, *tok; (tok = field(&s)); ++c) {
    if (!strcmp(tok, set)) iset = c;
    if (!strcmp(tok, col)) icol = c;
  }
  assert_true(iset > 0 && icol > 0);
  while (fgets(line, sizeof line, fp)) {
    double run = -1, sv = NAN, cv = NAN;
    c = 0;
    for (char *s = line, *tok; (tok = field(&s)); ++c) {
      if (c == 0) run = atof(tok);
      if (c == iset) sv = atof(tok);
      if (c == icol) cv = *tok ? atof(tok) : NAN;
    }
    int k = (int)run;
    assert_true(k >= 0 && k < MAXRUNS);
    if (k + 1 > nrun) nrun = k + 1;
    setv[k] = sv, last[k] = cv;
  }
  fclose(fp);
  return nrun;
}

/* report.md's row of setting label in the table after heading: its six numbers. */
static void report_row(const char *rep, const char *heading, const char *label, double v[6]) {
  const char *h = strstr(rep, heading);
  assert_non_null(h);
  char want[128];
  snprintf(want, sizeof want, "| %s |", label);
  const char *r = strstr(h, want);
  assert_non_null(r);
  assert_int_equal(sscanf(r + strlen(want), " %lf | %lf | %lf | %lf | %lf | %lf", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]), 6);
}

/* Final loss per depth: median, q10, q90, min, max from the CSV against report.md (printed
 * with 9 significant digits: relative tolerance 1e-8). */
static void check_report_numbers(const char *q, const char *rep) {
  double setv[MAXRUNS], last[MAXRUNS];
  int n = last_rows(tu_path(q, "ensemble.csv"), "depth", "loss", setv, last);
  assert_int_equal(n, 12);
  for (int depth = 2; depth <= 3; ++depth) {
    double x[MAXRUNS], v[6];
    int m = 0;
    for (int k = 0; k < n; ++k)
      if (setv[k] == depth && isfinite(last[k])) x[m++] = last[k];
    qsort(x, (size_t)m, sizeof *x, tu_cmp_asc);
    char label[64];
    snprintf(label, sizeof label, "depth=%d, sigma=0.1", depth);
    report_row(rep, "## Final loss", label, v);
    const double want[6] = {m, lin_quantile(x, m, 0.5), lin_quantile(x, m, 0.1), lin_quantile(x, m, 0.9), x[0], x[m - 1]};
    for (int i = 0; i < 6; ++i) assert_true(fabs(v[i] - want[i]) <= 1e-8 * fabs(want[i]) + 1e-300);
  }
}

/* The report's global_min counts against ensemble.json's per-run end-point classes. */
static void check_report_endpoints(const char *q, const char *rep) {
  json_error_t err;
  json_t *e = json_load_file(tu_path(q, "ensemble.json"), 0, &err);
  assert_non_null(e);
  int count[4] = {0}, total[4] = {0};
  size_t i;
  json_t *r;
  json_array_foreach(json_object_get(e, "runs"), i, r) {
    const json_t *d = json_object_get(json_object_get(r, "overrides"), "depth");
    int depth = json_is_string(d) ? atoi(json_string_value(d)) : (int)json_integer_value(d);
    assert_true(depth == 2 || depth == 3);
    const char *cls = json_string_value(json_object_get(json_object_get(r, "endpoint"), "class"));
    total[depth] += cls != NULL;
    count[depth] += cls && !strcmp(cls, "global_min");
  }
  json_decref(e);
  const char *h = strstr(rep, "## End points");
  assert_non_null(h);
  for (int depth = 2; depth <= 3; ++depth) {
    char want[64];
    snprintf(want, sizeof want, "| depth=%d, sigma=0.1 |", depth);
    const char *row = strstr(h, want);
    assert_non_null(row);
    int runs = -1, uncl = -1, gmin = -1;
    assert_int_equal(sscanf(row + strlen(want), " %d | %d | %d (", &runs, &uncl, &gmin), 3);
    assert_int_equal(runs, total[depth]);
    assert_int_equal(gmin, count[depth]);
  }
}

#define SPEC12                                                                                                       \
  "{\"rows\": 3, \"cols\": 3, \"width\": 3, \"method\": \"flow\", \"t_end\": 10, \"samples\": 40, \"plot\": true,\n" \
  " \"sweep\": {\"depth\": [2, 3], \"sigma\": [0.1], \"seed\": {\"from\": 1, \"count\": 6}}}\n"

/* 12 runs with "plot": true, matplotlib hidden: one note, plot.py and report.md, no figure;
 * then plot.py by hand with matplotlib (the band path, > 10 runs) when it is installed. */
static void test_no_matplotlib_and_report(void **state) {
  (void)state;
  char hide[128], q[128];
  snprintf(hide, sizeof hide, "%s/hide", dir);
  snprintf(q, sizeof q, "%s/sw", dir);
  assert_int_equal(mkdir(hide, 0755), 0);
  assert_int_equal(mkdir(tu_path(hide, "matplotlib"), 0755), 0);
  tu_write_text(tu_path(hide, "matplotlib/__init__.py"), "raise ImportError('hidden by test_sweep_plot')\n");
  tu_write_text(tu_path(dir, "s.json"), SPEC12);
  setenv("PYTHONPATH", hide, 1);
  int rc = run_cli((const char *[]){"sweep", "s.json", "--out", "sw", "--quiet", "--threads", "2", NULL});
  unsetenv("PYTHONPATH");
  assert_int_equal(rc, 0);
  char *err = tu_slurp(tu_path(dir, "stderr.txt"));
  assert_non_null(err);
  assert_int_equal(tu_count_lines(err), 1);
  assert_non_null(strstr(err, "python3-matplotlib not found"));
  free(err);
  check_files(q, 0);
  char *rep = tu_slurp(tu_path(q, "report.md"));
  assert_non_null(rep);
  assert_non_null(strstr(rep, "12 runs (12 complete"));
  assert_non_null(strstr(rep, "not rendered: python3-matplotlib not found"));
  check_report_numbers(q, rep);
  check_report_endpoints(q, rep);
  free(rep);
  if (!have_matplotlib()) {
    print_message("note: no matplotlib; plot.py was not run\n");
    return;
  }
  assert_int_equal(tu_wait(tu_spawn("/usr/bin/python3", (const char *[]){tu_path(q, "plot.py"), "loss", "grad_norm", NULL}, dir)), 0);
  assert_true(exists(tu_path(q, "figure.png")) && exists(tu_path(q, "figure.svg")));
}

/* 4 runs, "plot" not in the file: nothing drawn; --plot draws (one curve per run). */
static void test_flag_and_default(void **state) {
  (void)state;
  tu_write_text(tu_path(dir, "f.json"),
                "{\"rows\": 3, \"cols\": 3, \"width\": 3, \"t_end\": 2, \"samples\": 20,\n"
                " \"sweep\": {\"sigma\": [0.1, 0.3], \"seed\": {\"from\": 1, \"count\": 2}}}\n");
  assert_int_equal(run_cli((const char *[]){"sweep", "f.json", "--out", "a", "--quiet", NULL}), 0);
  char a[128], b[128];
  snprintf(a, sizeof a, "%s/a", dir);
  snprintf(b, sizeof b, "%s/b", dir);
  assert_false(exists(tu_path(a, "plot.py")));
  assert_false(exists(tu_path(a, "report.md")));
  assert_int_equal(run_cli((const char *[]){"sweep", "f.json", "--out", "b", "--quiet", "--plot", NULL}), 0);
  int mpl = have_matplotlib();
  check_files(b, mpl);
  char *rep = tu_slurp(tu_path(b, "report.md"));
  assert_non_null(strstr(rep, "| sigma=0.1 | 2 |"));
  assert_non_null(strstr(rep, "| sigma=0.3 | 2 |"));
  free(rep);
  if (!mpl) print_message("note: no matplotlib; the render path was not exercised\n");
}

/* A setting ensemble.csv holds as a code (a method) is labelled by its name from
 * ensemble.json's legend in the figure, as in report.md (it read "method=0"); the SVG
 * keeps its text as text. */
static void test_legend_names(void **state) {
  (void)state;
  if (!have_matplotlib()) {
    print_message("note: no matplotlib; the labels were not checked\n");
    return;
  }
  tu_write_text(tu_path(dir, "m.json"),
                "{\"rows\": 3, \"cols\": 3, \"width\": 3, \"t_end\": 1, \"samples\": 5, \"eta\": 0.01, \"plot\": true,\n"
                " \"sweep\": {\"method\": [\"gd\", \"flow\"], \"seed\": [1, 2]}}\n");
  int rc = run_cli((const char *[]){"sweep", "m.json", "--out", "names", "--quiet", NULL});
  if (rc) print_error("%s", tu_slurp(tu_path(dir, "stderr.txt")));
  assert_int_equal(rc, 0);
  char m[128];
  snprintf(m, sizeof m, "%s/names", dir);
  char *svg = tu_slurp(tu_path(m, "figure.svg")), *rep = tu_slurp(tu_path(m, "report.md"));
  assert_non_null(svg);
  assert_non_null(strstr(svg, "method=gd"));
  assert_non_null(strstr(svg, "method=flow"));
  assert_null(strstr(svg, "method=0"));
  assert_non_null(strstr(rep, "| method=gd |"));
  free(svg);
  free(rep);
}

/* A shard draws nothing and says where the figure comes from; dln merge --plot draws (matplotlib hidden). */
static void test_shard(void **state) {
  (void)state;
  tu_write_text(tu_path(dir, "h.json"), SPEC12);
  assert_int_equal(run_cli((const char *[]){"sweep", "h.json", "--out", "h", "--quiet", "--shard", "0/2", NULL}), 0);
  char h[128];
  snprintf(h, sizeof h, "%s/h", dir);
  assert_false(exists(tu_path(h, "plot.py")));
  char *err = tu_slurp(tu_path(dir, "stderr.txt"));
  assert_non_null(strstr(err, "a shard draws no figure"));
  free(err);
  assert_int_equal(run_cli((const char *[]){"sweep", "h.json", "--out", "h", "--quiet", "--shard", "1/2", NULL}), 0);
  setenv("PYTHONPATH", tu_path(dir, "hide"), 1); /* test_no_matplotlib_and_report's package */
  int rc = run_cli((const char *[]){"merge", "h", "--out", "m", "--quiet", "--plot", NULL});
  unsetenv("PYTHONPATH");
  assert_int_equal(rc, 0);
  char m[128];
  snprintf(m, sizeof m, "%s/m", dir);
  check_files(m, 0);
  char *rep = tu_slurp(tu_path(m, "report.md"));
  assert_non_null(rep);
  check_report_numbers(m, rep); /* the merged table: the same 12 runs */
  free(rep);
}

static int setup(void **state) {
  (void)state;
  snprintf(dir, sizeof dir, "%s", tu_tmpdir(0));
  return 0;
}

static int teardown(void **state) {
  (void)state;
  if (!tu_verbose()) tu_rmtree(dir);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_no_matplotlib_and_report), cmocka_unit_test(test_flag_and_default),
                                     cmocka_unit_test(test_shard), cmocka_unit_test(test_legend_names)};
  return cmocka_run_group_tests(tests, setup, teardown);
}
