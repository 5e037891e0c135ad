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
  int resume, done;      /* resuming: runs 0..done-1 finished before, kept */
  int ran;               /* runs finished (kept or run) */
  json_t *entry[NRUNS];  /* each finished run's entry of summary.json */
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

/* Run k's entry of summary.json (also what a resumed job reads back). */
static json_t *fig1_entry(const fig1 *f, int k) {
  const dln_run_result *r = &f->rr[k];
  unsigned long mark = dln_json_mark();
  json_t *o = json_object();
  dln_jset(o, "folder", json_string(f->subdirs[k]));
  dln_jset(o, "model", json_string(k % 2 ? "two-layer" : "one-layer"));
  dln_jset(o, "sigma", json_real(sigmas[k / 2]));
  dln_jset(o, "stop_reason", json_string(dln_stop_reason_name(r->train.stop_reason)));
  dln_jset(o, "t_threshold", dln_json_num(r->train.t_threshold));
  dln_jset(o, "recon_init", dln_json_num(r->recon_init));
  dln_jset(o, "recon_final", dln_json_num(r->recon_final));
  dln_jset(o, "max_conserved_drift", dln_json_num(r->max_drift));
  dln_jset(o, "counters", dln_train_counters_json(&r->train));
  dln_jset(o, "wall_ms", dln_json_num(r->wall_ms));
  return dln_json_done(o, mark);
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
  for (int k = 0; k < f->done; ++k) fig1_account(f, k); /* kept from the interrupted job */
  for (int k = f->done; k < NRUNS && !st; ++k) {
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
    if (!(f->entry[k] = fig1_entry(f, k))) st = dln_error(DLN_ENOMEM, "%s/summary.json: out of memory", base->out);
    else f->ran = k + 1;
  }
  dln_spec_free(&s);
  return st;
}

/* The combined summary: complete, or the runs finished so far of an interrupted job. */
static json_t *fig1_summary(const fig1 *f, int complete) {
  unsigned long mark = dln_json_mark();
  json_t *sum = json_object(), *runs = json_array();
  if (!sum || !runs) {
    json_decref(sum);
    json_decref(runs);
    return NULL;
  }
  dln_jset(sum, "dln_version", json_string(DLN_VERSION_STRING));
  dln_jset(sum, "complete", json_boolean(complete));
  dln_jset(sum, "run_id", json_string(f->folder.run_id));
  dln_jset(sum, "job", json_string("001 Fig. 1: one- vs two-layer factorization, Gaussian init"));
  dln_jset(sum, "spec", dln_spec_to_json(f->base));
  dln_jset(sum, "blas", dln_run_blas_json());
  for (int k = 0; k < f->ran; ++k) dln_jappend(runs, json_incref(f->entry[k]));
  dln_jset(sum, "runs", runs);
  static const char *const plot_names[] = {"off", "rendered", "no matplotlib", "plot.py failed", "script only"};
  if (complete) {
    dln_jset(sum, "figure", json_string(plot_names[f->agg->plot]));
    dln_jset(sum, "stop_reason", json_string(dln_stop_reason_name(f->agg->train.stop_reason)));
  } else {
    dln_jset(sum, "stop_reason", json_string("interrupted"));
    dln_jset(sum, "message", json_string("interrupted by a signal; dln run --resume DIR keeps the finished runs and runs the rest"));
  }
  dln_jset(sum, "wall_seconds", dln_json_num(dln_now_seconds() - f->t0));
  return dln_json_done(sum, mark); /* NULL: out of memory, nothing written */
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
  json_t *sum = fig1_summary(f, 1);
  if (!sum) return dln_error(DLN_ENOMEM, "%s/summary.json: out of memory while building it; not written", f->base->out);
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

/* An interrupted job: its folder says so (summary.json with "complete": false and the
 * runs finished, a manifest with complete = false); dln run --resume continues it. */
static int fig1_interrupted(fig1 *f) {
  json_t *sum = fig1_summary(f, 0);
  if (!sum) return dln_error(DLN_ENOMEM, "%s/summary.json: out of memory while building it; not written", f->base->out);
  f->agg->fail_phase = DLN_RUN_FAIL_OUTPUT;
  int st = dln_run_write_json(f->base->out, "summary.json", sum, &f->folder.files);
  json_decref(sum);
  return st ? st : dln_run_folder_finish(&f->folder, "run", 0);
}

static double entry_num(const json_t *o, const char *key) {
  const json_t *v = json_object_get(o, key);
  return json_is_number(v) ? json_number_value(v) : NAN;
}

/* Run k's result from its entry (what the table and the combined outcome need). */
static int fig1_entry_read(fig1 *f, int k, const json_t *e, const char *path) {
  dln_run_result *r = &f->rr[k];
  memset(r, 0, sizeof *r);
  const char *stop = json_string_value(json_object_get(e, "stop_reason"));
  const json_t *c = json_object_get(e, "counters");
  r->train.stop_reason = -1;
  for (int i = DLN_STOP_NONE; stop && i <= DLN_STOP_CANCELLED; ++i)
    if (!strcmp(stop, dln_stop_reason_name(i))) r->train.stop_reason = i;
  const dln_integrator_type *it = dln_integrator_find(json_string_value(json_object_get(c, "integrator")));
  if (r->train.stop_reason < 0 || r->train.stop_reason == DLN_STOP_CANCELLED || !json_is_object(c))
    return dln_error(DLN_ESPEC, "%s: runs[%d]: expected a finished run's entry (stop_reason, counters), found another", path, k);
  r->train.integrator = it ? it->name : NULL;
  r->train.t_threshold = entry_num(e, "t_threshold");
  r->recon_init = entry_num(e, "recon_init");
  r->recon_final = entry_num(e, "recon_final");
  r->max_drift = entry_num(e, "max_conserved_drift");
  r->wall_ms = entry_num(e, "wall_ms");
  long *cnt[] = {&r->train.steps, &r->train.attempted, &r->train.rejected, &r->train.grad_evals,
                 &r->train.jtv_evals, &r->train.nonlin_iters, &r->train.lin_iters, &r->train.nonlin_fails};
  const char *names[] = {"steps", "attempted", "rejected", "grad_evals", "jtv_evals", "nonlin_iters", "lin_iters", "nonlin_fails"};
  for (size_t i = 0; i < sizeof cnt / sizeof *cnt; ++i) *cnt[i] = (long)json_integer_value(json_object_get(c, names[i]));
  return DLN_OK;
}

/* Keep run k of the interrupted job: every file the manifest lists under its folder is
 * unchanged (size and SHA-256) and goes into this job's list. */
static int fig1_keep_files(fig1 *f, int k, const char *path) {
  const dln_manifest *old = f->folder.old;
  size_t pre = strlen(f->subdirs[k]), n = 0;
  dln_manifest sub = *old;
  sub.files = malloc((old->nfiles + 1) * sizeof *sub.files);
  if (!sub.files) return dln_error(DLN_ENOMEM, "out of memory");
  for (size_t i = 0; i < old->nfiles; ++i)
    if (!strncmp(old->files[i].name, f->subdirs[k], pre) && old->files[i].name[pre] == '/') sub.files[n++] = old->files[i];
  sub.nfiles = n;
  char why[512] = "";
  int bad = dln_manifest_verify(&sub, f->base->out, why, sizeof why), st = DLN_OK;
  if (bad < 0) st = -bad;
  else if (bad > 0 || !n)
    st = dln_error(DLN_ESPEC, "%s: run %s is listed as finished but %s; expected its files as the interrupted job wrote them (--force runs the job again)",
                   path, f->subdirs[k], n ? why : "the manifest lists none of its files");
  for (size_t i = 0; i < n && !st; ++i) st = dln_run_files_add(&f->folder.files, sub.files[i].name);
  free(sub.files);
  return st;
}

/* Resuming: the interrupted job's finished runs (summary.json "runs", in order), checked
 * against its manifest; its run id is kept (the kept runs' summaries carry it). */
static int fig1_resume_load(fig1 *f) {
  const dln_manifest *old = f->folder.old;
  if (!old || old->complete)
    return dln_error(DLN_ESPEC, "%s: nothing to resume: expected the %s of an interrupted default job, found %s", f->base->out,
                     DLN_MANIFEST_NAME, old ? "a complete one" : "none");
  json_t *sum;
  int st = dln_run_incomplete_summary(f->base->out, &sum);
  if (st) return st;
  char *path = dln_path_join(f->base->out, "summary.json");
  const json_t *runs = json_object_get(sum, "runs");
  const char *id = json_string_value(json_object_get(sum, "run_id"));
  if (!path) st = dln_error(DLN_ENOMEM, "out of memory");
  else if (!json_is_string(json_object_get(sum, "job")) || !json_is_array(runs) || json_array_size(runs) > NRUNS)
    st = dln_error(DLN_ESPEC, "%s: expected the summary of an interrupted default job (\"job\", at most %d \"runs\"), found another", path, NRUNS);
  else if (!id || strcmp(id, old->run_id))
    st = dln_error(DLN_ESPEC, "%s: run_id: expected %s (%s), found %s", path, old->run_id, DLN_MANIFEST_NAME, id ? id : "none");
  for (int k = 0; !st && k < (int)json_array_size(runs); ++k) {
    const json_t *e = json_array_get(runs, k);
    const char *folder = json_string_value(json_object_get(e, "folder"));
    if (!folder || strcmp(folder, f->subdirs[k]))
      st = dln_error(DLN_ESPEC, "%s: runs[%d].folder: expected \"%s\", found %s", path, k, f->subdirs[k], folder ? folder : "none");
    if (!st) st = fig1_entry_read(f, k, e, path);
    if (!st) st = fig1_keep_files(f, k, path);
    if (!st) f->entry[k] = json_incref((json_t *)e), f->done = f->ran = k + 1;
  }
  if (!st) memcpy(f->folder.run_id, old->run_id, sizeof f->folder.run_id);
  free(path);
  json_decref(sum);
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
  if (!st) st = dln_run_folder_open(&f->folder, f->base->out, f->base->force || f->resume, NULL, NULL, &f->agg->fail_phase);
  if (!st) st = dln_run_folder_remove_debris(&f->folder, 1, NULL); /* a killed job's temporary files */
  if (!st && f->resume) {
    f->agg->fail_phase = DLN_RUN_FAIL_SPEC;
    st = fig1_resume_load(f);
  }
  if (!st) {
    f->agg->fail_phase = DLN_RUN_FAIL_OUTPUT;
    st = dln_run_folder_begin(&f->folder);
  }
  return st;
}

static int fig1_impl(const dln_spec *base, const dln_run_options *opt, FILE *table, dln_run_result *agg, int resume) {
  dln_run_result local;
  static fig1 zero;
  fig1 *f = malloc(sizeof *f);
  if (!f) return dln_error(DLN_ENOMEM, "out of memory");
  *f = zero;
  f->base = base;
  f->opt = opt;
  f->table = table;
  f->resume = resume;
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
  if (!st && agg->train.stop_reason == DLN_STOP_CANCELLED) st = fig1_interrupted(f);
  if (!st && agg->train.stop_reason != DLN_STOP_CANCELLED) agg->fail_phase = DLN_RUN_FAIL_NONE;
  agg->wall_ms = 1e3 * (dln_now_seconds() - f->t0);
  dln_run_folder_close(&f->folder);
  for (int k = 0; k < NRUNS; ++k) json_decref(f->entry[k]);
  free(f);
  return st;
}

int dln_run_fig1(const dln_spec *base, const dln_run_options *opt, FILE *table, dln_run_result *res) {
  DLN_ARGS(base);
  return fig1_impl(base, opt, table, res, 0);
}

int dln_run_fig1_resume(const dln_spec *base, const dln_run_options *opt, FILE *table, dln_run_result *res) {
  DLN_ARGS(base);
  return fig1_impl(base, opt, table, res, 1);
}
