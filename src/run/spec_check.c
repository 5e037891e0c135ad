/* Validation of a resolved spec (dln_spec_check, dln/spec.h): every row's own check, then
 * each selected module's check (task, initialization, integrator), then the conditions
 * that join modules (network widths against the data's shape, the tied model, the
 * end-to-end systems). Messages name where the value came from (file:line:column of its
 * key, or the command-line option), the field, the expected and the found value. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dln/error.h"
#include "dln/integrator.h"
#include "dln/spec.h"
#include "run/run_internal.h"
#include "run/spec_internal.h"

#define WHERE(name) dln_spec_where(spec, name, wb, sizeof wb)

static int is_origin_set(const dln_spec *spec, const char *name) {
  const dln_spec_option *o = dln_spec_find(name);
  return o && spec->origin[dln_spec_index(o)].kind != 0;
}


static int row_in(const dln_option *rows, const dln_option *row) {
  for (int i = 0; rows && rows[i].name; ++i)
    if (&rows[i] == row) return 1;
  return 0;
}

/* 1 if integrator m owns row or uses a type that does (m->uses, a few levels deep). */
static int method_reads(const dln_integrator_type *m, const dln_option *row, int depth) {
  if (row_in(m->options, row)) return 1;
  for (int k = 0; depth < 4 && m->uses && m->uses[k]; ++k)
    if (method_reads(m->uses[k], row, depth + 1)) return 1;
  return 0;
}

/* Origin level of option `name`: 0 default, 1 spec file, 2 command line. */
static int level(const dln_spec *spec, const char *name) {
  const dln_spec_option *o = dln_spec_find(name);
  return o ? spec->origin[dln_spec_index(o)].kind : 0;
}

int dln_spec_row_applies(const dln_spec *spec, int i) {
  int e2e;
  const dln_task_type *task = dln_task_find(spec->task);
  const dln_init_type *init = dln_init_find(spec->init);
  const dln_integrator_type *m = dln_run_method_type(spec, &e2e);
  if (!task || !init || !m) return 1;
  const dln_spec_option *t = &dln_spec_options()[i];
  const char *kind = t->kind;
  if (!dln_run_baseline_on(spec) && strncmp(t->name, "baseline_", 9) == 0) return 0; /* its rows without a baseline */
  if (!spec->init_opts.det_sign && strcmp(t->name, "det_sign_draws") == 0) return 0; /* read only with det_sign */
  if (kind && strcmp(kind, "task") == 0 && !dln_task_owns_row(task, t->row)) return 0;
  if (kind && strcmp(kind, "init") == 0 && !row_in(init->options, t->row)) return 0;
  if (kind && strcmp(kind, "method") == 0 && !method_reads(m, t->row, 0)) return 0;
  return dln_task_unused_by(task, &spec->data, t->name) == NULL;
}

int dln_spec_check_unused(const dln_spec *spec) {
  if (!spec) return dln_error(DLN_EINVAL, "dln_spec_check_unused: spec must not be NULL");
  char wb[512], vb[128];
  int e2e;
  const dln_task_type *task = dln_task_find(spec->task);
  const dln_init_type *init = dln_init_find(spec->init);
  const dln_integrator_type *m = dln_run_method_type(spec, &e2e);
  if (!task || !init || !m) return DLN_OK; /* dln_spec_check names it */
  const dln_spec_option *t = dln_spec_options();
  for (int i = 0; t[i].name; ++i) {
    int lv = spec->origin[i].kind;
    if (!lv) continue;
    const char *kind = t[i].kind, *sel = NULL;
    int used = 1;
    if (kind && strcmp(kind, "task") == 0) used = dln_task_owns_row(task, t[i].row), sel = task->name;
    else if (kind && strcmp(kind, "init") == 0) used = row_in(init->options, t[i].row), sel = init->name;
    else if (kind && strcmp(kind, "method") == 0) used = method_reads(m, t[i].row, 0), sel = spec->method;
    const char *val = dln_spec_value_text(spec, &t[i], vb, sizeof vb);
    if (t[i].type == DLN_OPT_DOUBLE) /* 0.1, not 0.10000000000000001 */
      snprintf(vb, sizeof vb, "%.15g", *(const double *)dln_spec_field(spec, &t[i])), val = vb;
    if (!used && lv >= level(spec, kind))
      return dln_error(DLN_EINVAL, "%s: has no effect with %s %s (it is an option of %s %s): expected it unset, found %s",
                       WHERE(t[i].name), kind, sel, kind, t[i].owner, val);
    if (spec->sample_times.n && lv >= level(spec, "sample_times") &&
        (!strcmp(t[i].name, "samples") || !strcmp(t[i].name, "log_samples") || !strcmp(t[i].name, "t_first")))
      return dln_error(DLN_EINVAL, "%s: has no effect with sample_times (explicit times replace the spacing): expected it unset, found %s",
                       WHERE(t[i].name), val);
    const char *file = dln_task_unused_by(task, &spec->data, t[i].name);
    if (file && lv >= level(spec, file))
      return dln_error(DLN_EINVAL, "%s: has no effect with %s (the data come from that file): expected it unset, found %s",
                       WHERE(t[i].name), file, val);
  }
  return DLN_OK;
}

/* Every row of the table: its type's range and allowed values. Where the value came from
 * is looked up only for a refused row (a sweep checks every run's spec). */
static int check_rows(const dln_spec *spec) {
  char wb[512];
  const dln_spec_option *t = dln_spec_options();
  for (int i = 0; t[i].name; ++i) {
    void *base = (char *)dln_spec_field(spec, &t[i]) - t[i].row->offset;
    if (dln_option_validate(base, t[i].row, t[i].name)) return dln_option_validate(base, t[i].row, WHERE(t[i].name));
  }
  return DLN_OK;
}

/* The imbalance regularizer (001 Prop. 4): a layer-wise, untied network of depth ≥ 2, one
 * of λ0 and the files, N−1 files. (File sizes are checked when they are read.) */
static int check_imbalance_reg(const dln_spec *spec, int N) {
  char wb[512];
  const dln_net_options *no = &spec->net;
  int nf = no->imbalance_reg_file.n;
  const char *name = nf ? "imbalance_reg_file" : "imbalance_reg";
  if (!nf && !no->imbalance_reg.n) return DLN_OK;
  if (nf && no->imbalance_reg.n)
    return dln_error(DLN_EINVAL, "%s: expected either imbalance_reg (lambda0 I) or imbalance_reg_file (Lambda_j), found both",
                     WHERE(name));
  if (no->tied) return dln_error(DLN_EINVAL, "%s: expected an untied network (C_1 = 0 for U U^T), found tied = true", WHERE(name));
  if (N < 2) return dln_error(DLN_EINVAL, "%s: expected depth N >= 2 (a junction W_{j+1}, W_j), found depth %d", WHERE(name), N);
  int e2e;
  dln_run_method_type(spec, &e2e);
  if (e2e)
    return dln_error(DLN_EINVAL, "%s: expected a layer-wise method (the end-to-end flow has no layers to regularize), found %s",
                     WHERE(name), spec->method);
  if (nf && nf != N - 1)
    return dln_error(DLN_EINVAL, "%s: expected N-1 = %d files (one Lambda_j per junction), found %d", WHERE(name), N - 1, nf);
  return DLN_OK;
}

/* The network: widths or depth/width, and the tied model. */
static int check_net(const dln_spec *spec, const dln_task_type *task, unsigned caps, int *N_out, int *hmin_out) {
  char wb[512];
  const dln_net_options *no = &spec->net;
  const dln_task_options *d = &spec->data;
  if (no->widths.n) {
    if (no->widths.n < 2)
      return dln_error(DLN_EINVAL, "%s: expected at least 2 widths d_0,...,d_N, found %d", WHERE("widths"), no->widths.n);
    if (is_origin_set(spec, "depth") && no->depth != no->widths.n - 1)
      return dln_error(DLN_EINVAL, "%s: expected depth + 1 = %d widths, found %d", WHERE("widths"), no->depth + 1,
                       no->widths.n);
  }
  int *w = NULL, nw = 0, st;
  if ((st = dln_spec_resolve_widths(spec, &w, &nw))) return st;
  int N = nw - 1, d0 = w[0], dN = w[N], hmin = 0;
  for (int j = 0; j <= N; ++j) /* layer j and d_j x d_j (C_j, Gram matrices), before anything is allocated */
    if ((j && dln_task_check_size("a layer", w[j], w[j - 1])) || dln_task_check_size("a d_j x d_j matrix", w[j], w[j])) {
      char msg[512];
      snprintf(msg, sizeof msg, "%s", dln_last_error());
      free(w);
      return dln_error(DLN_EINVAL, "%s: layer %d: %s", WHERE(no->widths.n ? "widths" : "width"), j, msg);
    }
  for (int j = 1; j < N; ++j)
    if (!hmin || w[j] < hmin) hmin = w[j];
  free(w);
  int rows = 0, cols = 0;
  int synthetic = task->shape && task->shape(d, &rows, &cols);
  int exp_d0 = no->tied || d->symmetric_target ? d->rows : d->cols;
  if (no->widths.n && synthetic && (d0 != exp_d0 || dN != d->rows))
    return dln_error(DLN_EINVAL, "%s: expected d_0 = %s = %d and d_N = rows = %d, found d_0 = %d, d_N = %d", WHERE("widths"),
                     exp_d0 == d->cols ? "cols" : "rows", exp_d0, d->rows, d0, dN);
  if (no->tied) {
    if (!(caps & DLN_LOSS_IDENTITY))
      return dln_error(DLN_EINVAL, "%s: expected false unless the task is a factorization, found true (task %s)", WHERE("tied"),
                       task->name);
    if (synthetic && d->rows != d->cols)
      return dln_error(DLN_EINVAL, "%s: expected a square target (cols = rows = %d) for the tied model, found cols = %d",
                       WHERE(is_origin_set(spec, "cols") ? "cols" : "tied"), d->rows, d->cols);
    if (N != 2 || d0 != dN)
      return dln_error(DLN_EINVAL, "%s: expected depth 2 with d_0 = d_2 for the tied model U U^T, found depth %d, d_0 = %d, d_N = %d",
                       WHERE("tied"), N, d0, dN);
  }
  *N_out = N;
  *hmin_out = hmin;
  return check_imbalance_reg(spec, N);
}

/* sample_times: in [0, t_end]; gradient descent samples at t = kη only, so each must be a
 * whole number of steps (as dln_train_check, which sees the merged list). */
static int check_sample_times(const dln_spec *spec, const dln_integrator_type *m) {
  char wb[512];
  const dln_dlist *st = &spec->sample_times;
  double eta = spec->train.eta;
  for (int i = 0; i < st->n; ++i) {
    double t = st->v[i];
    if (!(t >= 0 && t <= spec->train.t_end))
      return dln_error(DLN_EINVAL, "%s: expected times in [0, t_end = %.17g], found %.17g at item %d", WHERE("sample_times"),
                       spec->train.t_end, t, i + 1);
    double q = t / eta, k = floor(q + 0.5);
    if ((m->flags & DLN_INTEG_DISCRETE) && fabs(q - k) > 1e-9 + 8 * DBL_EPSILON * k)
      return dln_error(DLN_EINVAL,
                       "%s: gradient descent samples at t = k*eta (eta = %.17g): expected whole multiples of eta, found "
                       "%.17g at item %d (nearest: %.17g or %.17g)",
                       WHERE("sample_times"), eta, t, i + 1, floor(q) * eta, (floor(q) + 1) * eta);
  }
  return DLN_OK;
}

/* observe words that need the layers: entry and layers are not recorded by the end-to-end
 * system (its table has fixed columns), and layers cannot be resumed (its rows before a
 * checkpoint are not kept). */
static int check_observe(const dln_spec *spec, int e2e) {
  char wb[512];
  for (int i = 0; i < spec->observe.n; ++i) {
    const char *w = spec->observe.v[i];
    int layers = strcmp(w, "layers") == 0;
    if (!layers && strncmp(w, "entry:", 6) != 0) continue;
    if (e2e)
      return dln_error(DLN_EINVAL, "%s: expected a layer-wise method for '%s' (the end-to-end system records fixed columns), found method %s",
                       WHERE("observe"), w, spec->method);
    if (layers && spec->train.checkpoint_every > 0)
      return dln_error(DLN_EINVAL, "%s: expected checkpoint_every = 0 with 'layers' (its rows are not checkpointed), found %ld",
                       WHERE("observe"), spec->train.checkpoint_every);
  }
  return DLN_OK;
}

/* The baseline: linear measurements to solve (a capability of the task's loss, never its
 * name); its tolerance rows only with a baseline. */
static int check_baseline(const dln_spec *spec, unsigned caps) {
  char wb[512];
  int on = spec->baseline && strcmp(spec->baseline, "none") != 0;
  if (on && !(caps & DLN_LOSS_MEASURED))
    return dln_error(DLN_EINVAL, "%s: expected none unless the task has linear measurements <A_i, W> = b_i (sensing, completion), found %s with task %s",
                     WHERE("baseline"), spec->baseline, spec->task);
  if (!(spec->baseline_tol < 1))
    return dln_error(DLN_EINVAL, "%s: expected a relative duality gap below 1, found %g", WHERE("baseline_tol"), spec->baseline_tol);
  static const char *const rows[] = {"baseline_tol", "baseline_max_iter"};
  for (int i = 0; !on && i < 2; ++i)
    if (level(spec, rows[i]) && level(spec, rows[i]) >= level(spec, "baseline"))
      return dln_error(DLN_EINVAL, "%s: has no effect with baseline none: expected it unset, found it set", WHERE(rows[i]));
  return DLN_OK;
}

/* The dynamics: the method's own check and the conditions of the run's rows. */
static int check_dynamics(const dln_spec *spec, unsigned caps) {
  char wb[512];
  dln_train_options to = spec->train;
  int e2e;
  const dln_integrator_type *m = dln_run_method_type(spec, &e2e);
  if (!m) return dln_error(DLN_EINVAL, "%s: expected a registered method, found '%s'", WHERE("method"), spec->method);
  if (e2e && (m->flags & DLN_INTEG_NEEDS_HVP))
    return dln_error(DLN_EINVAL, "%s: expected an integrator without Hessian-vector products for the end-to-end system (e.g. flow or gd), found %s",
                     WHERE("method"), m->name);
  if (e2e && spec->net.tied)
    return dln_error(DLN_EINVAL, "%s: expected a layer-wise method with tied = true (the flow of U U^T is not the end-to-end flow of 002 Thm 1), found %s",
                     WHERE("method"), spec->method);
  to.method = m;
  to.method_options = dln_spec_type_block(spec, m->options);
  int st = m->check ? m->check(&to) : DLN_OK; /* the message names its fields */
  if (st) return st;
  if (spec->recon_threshold > 0 && !(caps & DLN_LOSS_IDENTITY))
    return dln_error(DLN_EINVAL, "%s: expected 0 unless the task is a factorization, found %g", WHERE("recon_threshold"),
                     spec->recon_threshold);
  if (spec->train.t_first >= spec->train.t_end)
    return dln_error(DLN_EINVAL, "%s: expected a time below t_end = %g, found %g", WHERE("t_first"), spec->train.t_end,
                     spec->train.t_first);
  if (!spec->out || !*spec->out) return dln_error(DLN_EINVAL, "%s: expected a folder name, found an empty string", WHERE("out"));
  if ((st = check_observe(spec, e2e))) return st;
  if ((st = check_sample_times(spec, m))) return st;
  return check_baseline(spec, caps);
}

int dln_spec_check(const dln_spec *spec) {
  if (!spec) return dln_error(DLN_EINVAL, "dln_spec_check: spec must not be NULL");
  int st;
  const char *field = NULL;
  if ((st = check_rows(spec))) return st;
  const dln_task_type *task = dln_task_find(spec->task);
  const dln_init_type *init = dln_init_find(spec->init);
  if (!task || !init) return dln_error(DLN_EINVAL, "%s: not registered", task ? "init" : "task");
  if ((st = dln_run_check_task(spec, task, &field))) return dln_spec_blame(spec, st, field);
  unsigned caps = task->caps ? task->caps(&spec->data) : 0;
  int N = 0, hmin = 0;
  if ((st = check_net(spec, task, caps, &N, &hmin))) return st;
  int *w = NULL, nw = 0;
  if ((st = dln_spec_resolve_widths(spec, &w, &nw))) return st;
  int rows = 0, cols = 0, synthetic = task->shape && task->shape(&spec->data, &rows, &cols);
  dln_init_context ctx = {N, w, spec->net.tied, caps, task->name, !synthetic, spec->data.rows, spec->data.cols,
                          spec->net.widths.n ? "widths" : "width"};
  (void)hmin;
  if (is_origin_set(spec, "det_sign_draws") && !spec->init_opts.det_sign && level(spec, "det_sign_draws") >= level(spec, "det_sign")) {
    char wb[512];
    free(w);
    return dln_error(DLN_EINVAL, "%s: has no effect without det_sign: expected it unset, found %d", WHERE("det_sign_draws"),
                     spec->init_opts.det_sign_draws);
  }
  dln_init_options io = spec->init_opts;
  io.own = dln_spec_type_block(spec, init->options);
  st = dln_init_check(init, &io, &ctx, &field);
  free(w);
  if (st) return dln_spec_blame(spec, st, field);
  return check_dynamics(spec, caps);
}
