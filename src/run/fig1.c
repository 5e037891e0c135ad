/* The default job (dln/run.h): 001 Fig. 1, one- vs two-layer factorization of a 5x10
 * Gaussian target from Gaussian inits of scale 1e-2, 1e-1 and 1, into six subfolders,
 * with a table on the terminal, one figure and one summary. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "core/util.h"
#include "dln/error.h"
#include "dln/io.h"
#include "dln/run.h"
#include "dln_version.h"
#include "run/run_internal.h"
#include "run/spec_internal.h"

int dln_run_fig1_defaults(dln_spec *spec) {
  DLN_ARGS(spec);
  const char *const kv[][2] = {{"task", dln_task_factorization.name},
                               {"target", "gaussian"},
                               {"rows", "5"},
                               {"cols", "10"},
                               {"width", "50"},
                               {"t_end", "40"},
                               {"recon_threshold", "1e-6"},
                               {"log_samples", "true"},
                               {"t_first", "1e-3"},
                               {"samples", "161"}};
  for (size_t i = 0; i < sizeof kv / sizeof *kv; ++i) {
    int st = dln_spec_set(spec, kv[i][0], kv[i][1]);
    if (st) return st;
    spec->origin[dln_spec_find(kv[i][0]) - dln_spec_options()].kind = 0; /* still a default */
  }
  return DLN_OK;
}

static int set_default(dln_spec *s, const char *name, const char *value) {
  int st = dln_spec_set(s, name, value);
  if (!st) s->origin[dln_spec_find(name) - dln_spec_options()].kind = 0;
  return st;
}

static void fmt_num(char *buf, size_t len, double x, const char *fmt) {
  if (isfinite(x)) snprintf(buf, len, fmt, x);
  else snprintf(buf, len, "-");
}

/* fig1_outputs' return value when cancelled (not a DLN status). */
#define RUN_CANCELLED (-1)

static const double sigmas[3] = {1e-2, 1e-1, 1};
static const char *const sig_txt[3] = {"1e-2", "1e-1", "1"};
enum { NRUNS = 6 };

/* 1 when the job's method is gradient descent (a discrete integrator). */
static int fig1_discrete(const dln_spec *s) {
  int e2e;
  const dln_integrator_type *m = dln_run_method_type(s, &e2e);
  return m && (m->flags & DLN_INTEG_DISCRETE);
}

/* The job in progress. */
typedef struct fig1 {
  const dln_spec *base;
  const dln_run_options *opt;
  FILE *table;
  dln_run_result *agg, rr[NRUNS];
  char subdirs[NRUNS][64], labels[NRUNS][64];
  double t0;
  dln_run_folder folder; /* base->out: the lock, the earlier manifest, the files */
} fig1;

/* Run k's spec: run k / 2's sigma, one layer (k even: depth 1 from the product of a drawn
 * two-layer net, 001 §6) or two layers (k odd). */
static int fig1_spec(fig1 *f, int k, dln_spec *s) {
  int two = k % 2, si = k / 2, st;
  char w[64], buf[64];
  snprintf(f->subdirs[k], sizeof f->subdirs[k], "sigma%s_%s", sig_txt[si], two ? "two_layer" : "one_layer");
  snprintf(f->labels[k], sizeof f->labels[k], "%s, sigma = %s", two ? "two-layer" : "one-layer", sig_txt[si]);
  if ((st = dln_spec_copy(s, f->base))) return st;
  char *out = dln_path_join(f->base->out, f->subdirs[k]);
  if (!out) return dln_error(DLN_ENOMEM, "out of memory");
  st = set_default(s, "out", out);
  free(out);
  snprintf(w, sizeof w, "%d,%d,%d", s->data.cols, s->net.width, s->data.rows);
  snprintf(buf, sizeof buf, "%.17g", sigmas[si]);
  if (!st) st = set_default(s, "sigma", buf);
  if (!st) st = set_default(s, "init", dln_init_type_gaussian.name);
  if (!st && two) {
    st = set_default(s, "widths", w);
    if (!st) st = set_default(s, "init_product_widths", "");
  } else if (!st) {
    char w1[64];
    snprintf(w1, sizeof w1, "%d,%d", s->data.cols, s->data.rows);
    st = set_default(s, "widths", w1);
    if (!st) st = set_default(s, "init_product_widths", w);
  }
  if (!st) s->origin[dln_spec_find("depth") - dln_spec_options()].kind = 0;
  return st;
}

/* Add run k's counters to the aggregate and print its table row. */
static void fig1_account(fig1 *f, int k) {
  dln_run_result *agg = f->agg;
  const dln_train_result *tr = &f->rr[k].train;
  if (tr->stop_reason == DLN_STOP_DIVERGED || (tr->stop_reason == DLN_STOP_SOLVER && agg->train.stop_reason != DLN_STOP_DIVERGED))
    agg->train.stop_reason = tr->stop_reason;
  agg->train.steps += tr->steps;
  agg->train.grad_evals += tr->grad_evals;
  agg->train.rejected += tr->rejected;
  agg->train.attempted += tr->attempted;
  agg->train.jtv_evals += tr->jtv_evals;
  agg->train.nonlin_iters += tr->nonlin_iters;
  agg->train.lin_iters += tr->lin_iters;
  agg->train.nonlin_fails += tr->nonlin_fails;
  agg->train.integrator = tr->integrator;
  if (isfinite(f->rr[k].max_drift) && !(f->rr[k].max_drift <= agg->max_drift)) agg->max_drift = f->rr[k].max_drift;
  if (f->table && !f->base->quiet) {
    char tt[32], dd[32];
    fmt_num(tt, sizeof tt, tr->t_threshold, "%.4g");
    fmt_num(dd, sizeof dd, f->rr[k].max_drift, "%.2e");
    fprintf(f->table, "%-10s %6s %14s %11s %9s %10ld %9.1f\n", k % 2 ? "two-layer" : "one-layer", sig_txt[k / 2], tt, dd,
            dln_stop_reason_name(tr->stop_reason), tr->grad_evals, f->rr[k].wall_ms);
    fflush(f->table);
  }
}

/* The six runs. */
static int fig1_runs(fig1 *f) {
  const dln_spec *base = f->base;
  int st = DLN_OK;
  dln_spec s;
  memset(&s, 0, sizeof s);
  if (f->table && !base->quiet) {
    fprintf(f->table, "001 Fig. 1: Ybar %dx%d ~ N(0,1), widths %d,%d,%d vs %d,%d; gradient %s to t = %g or recon error %g\n",
            base->data.rows, base->data.cols, base->data.cols, base->net.width, base->data.rows, base->data.cols,
            base->data.rows, fig1_discrete(base) ? "descent" : "flow", base->train.t_end, base->recon_threshold);
    fprintf(f->table, "%-10s %6s %14s %11s %9s %10s %9s\n", "model", "sigma", "t(recon<=thr)", "max drift", "stop",
            "grad evals", "wall ms");
  }
  for (int k = 0; k < NRUNS && !st; ++k) {
    dln_spec_free(&s);
    if ((st = fig1_spec(f, k, &s))) break;
    dln_run_files files = {0};
    st = dln_run_nested(&s, f->opt, &f->rr[k], 0, f->folder.run_id, &files);
    if (!st) st = dln_run_files_add_all(&f->folder.files, f->subdirs[k], &files);
    dln_run_files_free(&files);
    if (st) {
      f->agg->fail_phase = f->rr[k].fail_phase ? f->rr[k].fail_phase : DLN_RUN_FAIL_INTERNAL;
      break;
    }
    if (f->rr[k].train.stop_reason == DLN_STOP_CANCELLED) {
      f->agg->train.stop_reason = DLN_STOP_CANCELLED;
      break;
    }
    fig1_account(f, k);
  }
  dln_spec_free(&s);
  return st;
}

static json_t *fig1_summary(const fig1 *f) {
  json_t *sum = json_object(), *runs = json_array();
  if (!sum || !runs) {
    json_decref(sum);
    json_decref(runs);
    return NULL;
  }
  json_object_set_new(sum, "dln_version", json_string(DLN_VERSION_STRING));
  json_object_set_new(sum, "complete", json_true());
  json_object_set_new(sum, "run_id", json_string(f->folder.run_id));
  json_object_set_new(sum, "job", json_string("001 Fig. 1: one- vs two-layer factorization, Gaussian init"));
  json_object_set_new(sum, "spec", dln_spec_to_json(f->base));
  json_object_set_new(sum, "blas", dln_run_blas_json());
  for (int k = 0; k < NRUNS; ++k) {
    const dln_run_result *r = &f->rr[k];
    json_t *o = json_object();
    json_object_set_new(o, "folder", json_string(f->subdirs[k]));
    json_object_set_new(o, "model", json_string(k % 2 ? "two-layer" : "one-layer"));
    json_object_set_new(o, "sigma", json_real(sigmas[k / 2]));
    json_object_set_new(o, "stop_reason", json_string(dln_stop_reason_name(r->train.stop_reason)));
    json_object_set_new(o, "t_threshold", dln_json_num(r->train.t_threshold));
    json_object_set_new(o, "recon_init", dln_json_num(r->recon_init));
    json_object_set_new(o, "recon_final", dln_json_num(r->recon_final));
    json_object_set_new(o, "max_conserved_drift", dln_json_num(r->max_drift));
    json_object_set_new(o, "counters", dln_train_counters_json(&r->train));
    json_object_set_new(o, "wall_ms", dln_json_num(r->wall_ms));
    json_array_append_new(runs, o);
  }
  json_object_set_new(sum, "runs", runs);
  static const char *const plot_names[] = {"off", "rendered", "no matplotlib", "plot.py failed", "script only"};
  json_object_set_new(sum, "figure", json_string(plot_names[f->agg->plot]));
  json_object_set_new(sum, "stop_reason", json_string(dln_stop_reason_name(f->agg->train.stop_reason)));
  json_object_set_new(sum, "wall_seconds", dln_json_num(dln_now_seconds() - f->t0));
  return sum;
}

/* The figure and the summary; RUN_CANCELLED when cancelled. */
static int fig1_outputs(fig1 *f) {
  dln_run_result *agg = f->agg;
  int st;
  agg->fail_phase = DLN_RUN_FAIL_OUTPUT;
  if (f->base->plot) {
    dln_plot_run runs[NRUNS];
    for (int k = 0; k < NRUNS; ++k) runs[k] = (dln_plot_run){f->subdirs[k], f->labels[k]};
    if ((st = dln_plot_write_multi(f->base->out, "001 Fig. 1: one- vs two-layer, Gaussian init (gradient flow)", runs, NRUNS, 1)) ||
        (st = dln_run_files_add(&f->folder.files, "plot.py")))
      return st;
    agg->plot = dln_plot_render(f->base->out, &agg->plot_exit);
    if (agg->plot == DLN_PLOT_RENDERED && (st = dln_run_files_add(&f->folder.files, "figure.png"))) return st;
    if (dln_run_is_cancelled(f->opt)) return RUN_CANCELLED;
  }
  agg->fail_phase = DLN_RUN_FAIL_INTERNAL;
  json_t *sum = fig1_summary(f);
  if (!sum) return dln_error(DLN_ENOMEM, "out of memory");
  st = dln_run_is_cancelled(f->opt) ? RUN_CANCELLED : DLN_OK; /* no summary.json after a SIGINT (see run.c) */
  agg->fail_phase = DLN_RUN_FAIL_OUTPUT;
  if (!st) st = dln_run_write_json(f->base->out, "summary.json", sum, &f->folder.files);
  json_decref(sum);
  if (!st && (st = dln_run_folder_finish(&f->folder, "run", 1))) {
    char *p = dln_path_join(f->base->out, "summary.json"); /* no manifest: not complete */
    if (p) unlink(p);
    free(p);
  }
  return st;
}

/* The six runs' specs are checked before the folder is touched; then the lock, the
 * refusal of earlier outputs (without force) and their removal (with force). */
static int fig1_open(fig1 *f) {
  int st = DLN_OK;
  f->agg->fail_phase = DLN_RUN_FAIL_SPEC;
  for (int k = 0; k < NRUNS && !st; ++k) {
    dln_spec s;
    memset(&s, 0, sizeof s);
    if (!(st = fig1_spec(f, k, &s))) st = dln_spec_check(&s);
    dln_spec_free(&s);
  }
  if (!st) st = dln_run_folder_open(&f->folder, f->base->out, f->base->force, NULL, NULL, &f->agg->fail_phase);
  if (!st) {
    f->agg->fail_phase = DLN_RUN_FAIL_OUTPUT;
    st = dln_run_folder_begin(&f->folder);
  }
  return st;
}

int dln_run_fig1(const dln_spec *base, const dln_run_options *opt, FILE *table, dln_run_result *agg) {
  DLN_ARGS(base);
  dln_run_result local;
  static fig1 zero;
  fig1 *f = malloc(sizeof *f);
  if (!f) return dln_error(DLN_ENOMEM, "out of memory");
  *f = zero;
  f->base = base;
  f->opt = opt;
  f->table = table;
  f->agg = agg ? agg : &local;
  f->t0 = dln_now_seconds();
  agg = f->agg;
  memset(agg, 0, sizeof *agg);
  agg->recon_init = agg->recon_final = agg->max_drift = agg->loss_init = agg->loss_final = NAN;
  agg->train.t_threshold = agg->train.fail_t = agg->train.switched_at = NAN;
  agg->train.fail_step = -1;
  agg->train.stop_reason = DLN_STOP_TIME;
  f->folder.lock_fd = -1;
  int st = fig1_open(f);
  if (!st) {
    agg->fail_phase = DLN_RUN_FAIL_NONE;
    st = fig1_runs(f);
  }
  if (!st && agg->train.stop_reason != DLN_STOP_CANCELLED) {
    st = fig1_outputs(f);
    if (st == RUN_CANCELLED) agg->train.stop_reason = DLN_STOP_CANCELLED, st = DLN_OK;
  }
  if (!st && agg->train.stop_reason != DLN_STOP_CANCELLED) agg->fail_phase = DLN_RUN_FAIL_NONE;
  agg->wall_ms = 1e3 * (dln_now_seconds() - f->t0);
  dln_run_folder_close(&f->folder);
  free(f);
  return st;
}
