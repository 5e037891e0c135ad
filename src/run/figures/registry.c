/* The figure registry and driver (dln/figure.h, docs/figures.md): one line per figure in
 * `figures` below; dln_figure_run owns the folder (run_folder.c: lock, refusal of earlier
 * outputs, manifest.json last), writes plot.py from the embedded template, renders it and
 * writes report.md from the sections and verdicts the figure's run function produced. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "dln/error.h"
#include "dln/io.h"
#include "dln/run.h"
#include "run/figures/figure_internal.h"

static const dln_figure_type *const figures[] = {&dln_figure_000_fig1, &dln_figure_001_fig1,
                                                     &dln_figure_001_fig2, &dln_figure_001_fig3,
                                                     &dln_figure_002_fig1, &dln_figure_002_fig3, &dln_figure_002_prop5,
                                                     &dln_figure_003_fig1, &dln_figure_003_fig2, &dln_figure_004_ovf,
                                                     &dln_figure_002_fig2};
enum { NFIGURES = (int)(sizeof figures / sizeof *figures) };

/* Names whose presence marks an earlier figure's (or run's) outputs in the folder. */
static const char *const known[] = {DLN_MANIFEST_NAME, "report.md",      "plot.py",      "figure.png",
                                    "figure.svg",      "summary.json",   "trajectory.csv", "ensemble.csv",
                                    NULL};

void dln_figure_default_options(dln_figure_options *o) {
  if (!o) return;
  memset(o, 0, sizeof *o);
  o->render = 1;
}

int dln_figure_count(void) { return NFIGURES; }

const dln_figure_type *dln_figure_at(int i) {
  DLN_INDEX_V(NULL, i, 0, NFIGURES - 1);
  return figures[i];
}

const dln_figure_type *dln_figure_find(const char *name) {
  DLN_ARGS_P(name);
  char list[512] = "";
  for (int i = 0; i < NFIGURES; ++i) {
    if (strcmp(figures[i]->name, name) == 0) return figures[i];
    snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", figures[i]->name);
  }
  dln_error(DLN_EINVAL, "figure: expected one of %s (or all), found '%s'", list, name);
  return NULL;
}

const char *dln_figure_verdict_name(int verdict) {
  static const char *const names[] = {"holds", "fails", "not checked"};
  DLN_INDEX_V(NULL, verdict, DLN_VERDICT_HOLDS, DLN_VERDICT_NOT_CHECKED);
  return names[verdict];
}

static int vappend(dln_figure_ctx *c, const char *fmt, va_list ap) {
  va_list aq;
  va_copy(aq, ap);
  int n = vsnprintf(NULL, 0, fmt, aq);
  va_end(aq);
  if (n < 0) return dln_error(DLN_EINVAL, "report.md: bad format");
  if (c->len + (size_t)n + 1 > c->cap) {
    size_t cap = 2 * (c->len + (size_t)n + 1);
    char *p = realloc(c->md, cap);
    if (!p) return dln_error(DLN_ENOMEM, "report.md: out of memory");
    c->md = p, c->cap = cap;
  }
  vsnprintf(c->md + c->len, c->cap - c->len, fmt, ap);
  c->len += (size_t)n;
  return DLN_OK;
}

int dln_figure_printf(dln_figure_ctx *c, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int st = vappend(c, fmt, ap);
  va_end(ap);
  return st;
}

int dln_figure_verdict(dln_figure_ctx *c, const char *claim, int verdict, const char *fmt, ...) {
  const char *w = dln_figure_verdict_name(verdict);
  if (!w) return DLN_EINVAL;
  int st = dln_figure_printf(c, "- **%s**: verdict: %s. ", claim, w);
  va_list ap;
  va_start(ap, fmt);
  if (!st) st = vappend(c, fmt, ap);
  va_end(ap);
  if (!st) st = dln_figure_printf(c, "\n");
  if (st) return st;
  c->res->nverdicts++;
  c->res->holds += verdict == DLN_VERDICT_HOLDS;
  c->res->fails += verdict == DLN_VERDICT_FAILS;
  c->res->not_checked += verdict == DLN_VERDICT_NOT_CHECKED;
  return DLN_OK;
}

int dln_figure_write_table(dln_figure_ctx *c, const char *name, const dln_table *t) {
  char *p = dln_path_join(c->dir, name);
  if (!p) return dln_error(DLN_ENOMEM, "out of memory");
  int st = dln_table_write_csv(t, p);
  free(p);
  return st ? st : dln_run_files_add(c->files, name);
}

int dln_figure_write_json(dln_figure_ctx *c, const char *name, const json_t *root) {
  return dln_run_write_json(c->dir, name, root, c->files);
}

/* plot.py, then figure.png / figure.svg when matplotlib renders them. */
static int write_plot(const dln_figure_type *f, dln_figure_ctx *c, int render) {
  return dln_run_plot_commit(c->dir, f->plot_py, render, c->files, &c->res->plot, &c->res->plot_exit);
}

static int write_report(const dln_figure_type *f, dln_figure_ctx *c, const dln_figure_options *o) {
  static const char *const plot_words[] = {"not drawn", "figure.png and figure.svg rendered by plot.py",
                                           "not rendered: python3-matplotlib not found (run plot.py where it is)",
                                           "not rendered: plot.py failed", "plot.py written, not rendered"};
  const dln_figure_result *r = c->res;
  char *head = NULL;
  size_t n = 0;
  FILE *fp = open_memstream(&head, &n);
  if (!fp) return dln_error(DLN_ENOMEM, "report.md: out of memory");
  fprintf(fp, "# %s: %s\n\n%s.\n\nSetting: %s. Figure: %s. Verdicts: %d holds, %d fails, %d not checked.\n\n", f->name,
          f->paper, f->line, o->quick ? "--quick (coarser than the paper's; see below)" : "the paper's (see below)",
          plot_words[r->plot >= 0 && r->plot <= DLN_PLOT_SCRIPT_ONLY ? r->plot : 0], r->holds, r->fails,
          r->not_checked);
  fwrite(c->md, 1, c->len, fp);
  int bad = ferror(fp);
  if (fclose(fp) != 0 || bad || !head) {
    free(head);
    return dln_error(DLN_ENOMEM, "report.md: out of memory");
  }
  char *p = dln_path_join(c->dir, "report.md");
  int st = p ? dln_write_file_atomic(p, head, n) : dln_error(DLN_ENOMEM, "out of memory");
  free(p);
  free(head);
  return st ? st : dln_run_files_add(c->files, "report.md");
}

/* A cancelled figure: the folder closed without a manifest (not a finished figure), DLN_OK. */
static int cancelled_out(dln_run_folder *fold, dln_figure_ctx *c, double t0) {
  dln_run_folder_close(fold);
  free(c->md);
  c->res->wall_seconds = dln_now_seconds() - t0;
  c->res->cancelled = 1;
  c->res->fail_phase = DLN_RUN_FAIL_NONE;
  return DLN_OK;
}

int dln_figure_run(const dln_figure_type *f, const char *dir, const dln_figure_options *o, dln_figure_result *res) {
  DLN_ARGS(f, dir, res);
  memset(res, 0, sizeof *res);
  res->fail_phase = DLN_RUN_FAIL_SPEC;
  if (!*dir) return dln_error(DLN_EINVAL, "option --out: expected a folder, found an empty name"); /* the CLI's words */
  dln_figure_options def;
  dln_figure_default_options(&def);
  if (!o) o = &def;
  double t0 = dln_now_seconds();
  dln_run_folder fold;
  int phase = DLN_RUN_FAIL_OUTPUT;
  int st = dln_run_folder_open(&fold, dir, o->force, known, NULL, &phase);
  if (!st) st = dln_run_folder_remove_debris(&fold, 3, NULL); /* a killed figure's temporary files */
  if (!st) st = dln_run_folder_begin(&fold);
  dln_figure_ctx c = {dir, o->quick, &fold.files, NULL, 0, 0, res, o->cancelled, o->cancel_ctx, 0};
  int ran = !st;
  if (!st) {
    phase = DLN_RUN_FAIL_INTERNAL;
    st = f->run(&c);
  }
  if (ran && dln_fig_cancelled(&c)) return cancelled_out(&fold, &c, t0); /* whatever the cut-short runs made of it */
  if (!st) {
    phase = DLN_RUN_FAIL_OUTPUT;
    st = write_plot(f, &c, o->render); /* rendering: a second or two of matplotlib */
  }
  if (dln_fig_cancelled(&c)) return cancelled_out(&fold, &c, t0);
  res->wall_seconds = dln_now_seconds() - t0;
  if (!st) st = write_report(f, &c, o);
  if (!st) st = dln_run_folder_finish(&fold, "figure", 1);
  dln_run_folder_close(&fold);
  free(c.md);
  res->fail_phase = st ? phase : DLN_RUN_FAIL_NONE;
  return st;
}
