/* The pipeline builder shared by `dln run` (run.c), the default job (fig1.c), `dln sweep`
 * (ensemble.c) and `dln check` (check.c): spec -> task data -> loss -> network -> init ->
 * training options -> observer or end-to-end system (run_internal.h).
 *
 * Data are drawn first from dln_rng_alloc(seed, stream), then the init from the same
 * stream, so a run is reproducible from (seed, stream) alone and two runs that differ only
 * in their init see the same data. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dln/data.h"
#include "dln/error.h"
#include "dln/init.h"
#include "dln/io.h"
#include "dln/loss.h"
#include "dln/net.h"
#include "dln/observe.h"
#include "dln/rng.h"
#include "dln/run.h"
#include "observe/theory_obs.h"
#include "run/run_internal.h"

static int has(const char *s) { return s && *s; }

void dln_run_data_free(dln_run_data *d) {
  if (!d) return;
  dln_mat_free(d->target);
  dln_mat_free(d->wtrue);
  dln_mat_free(d->X);
  dln_mat_free(d->Y);
  dln_mat_free(d->A);
  dln_mat_free(d->b);
  dln_mat_free(d->entries);
  free(d->er);
  free(d->ec);
  free(d->ev);
  memset(d, 0, sizeof *d);
}

/* Load a data file named by spec field `field`; keeps the loader's message (which
 * names the file) and prefixes the field. */
static int load_field(const dln_spec *spec, const char *field, const char *path, dln_mat **out) {
  int st = dln_matrix_load(path, out);
  if (st) {
    char msg[1024], wb[512];
    snprintf(msg, sizeof msg, "%s", dln_last_error());
    return dln_error(st, "%s: %s", dln_spec_where(spec, field, wb, sizeof wb), msg);
  }
  return DLN_OK;
}

/* The synthetic true matrix / target per the target options (rows x cols). */
static int make_truth(const dln_spec *s, dln_rng *rng, dln_mat **out) {
  if (has(s->data.target_file)) return load_field(s, "target_file", s->data.target_file, out);
  if (!rng) return dln_error(DLN_EINVAL, "synthetic data: expected a random stream, found none");
  if (s->data.symmetric_target) {
    int m = s->data.rows;
    if (s->data.singular_values.n) {
      double *lam = calloc((size_t)m, sizeof *lam);
      if (!lam) return dln_error(DLN_ENOMEM, "out of memory");
      memcpy(lam, s->data.singular_values.v, (size_t)s->data.singular_values.n * sizeof *lam);
      int st = dln_data_symmetric(rng, m, lam, out);
      free(lam);
      return st;
    }
    int st = dln_data_gaussian(rng, m, m, s->data.target_sigma, out);
    if (st) return st;
    double *a = (*out)->data;
    for (int i = 0; i < m; ++i)
      for (int j = i + 1; j < m; ++j) {
        double v = 0.5 * (a[i + (size_t)j * m] + a[j + (size_t)i * m]);
        a[i + (size_t)j * m] = a[j + (size_t)i * m] = v;
      }
    return DLN_OK;
  }
  if (strcmp(s->data.target, "lowrank") == 0) {
    int r = s->data.singular_values.n ? s->data.singular_values.n : s->data.rank;
    double *sv = malloc((size_t)r * sizeof *sv);
    if (!sv) return dln_error(DLN_ENOMEM, "out of memory");
    for (int i = 0; i < r; ++i) sv[i] = s->data.singular_values.n ? s->data.singular_values.v[i] : (double)(r - i);
    int st = dln_data_lowrank(rng, s->data.rows, s->data.cols, r, sv, out);
    free(sv);
    return st;
  }
  return dln_data_gaussian(rng, s->data.rows, s->data.cols, s->data.target_sigma, out);
}

int dln_run_data_build(const dln_spec *s, dln_rng *rng, dln_run_data *d, int *phase) {
  int st = DLN_OK;
  char wb[512];
  const char *task = s->task;
  memset(d, 0, sizeof *d);
  *phase = DLN_RUN_FAIL_INPUT;
  if (strcmp(task, "factorization") == 0) {
    if ((st = make_truth(s, rng, &d->target))) return st;
    if (s->data.symmetric_target && d->target->rows != d->target->cols)
      return dln_error(DLN_EDIM, "%s: expected a square target for symmetric_target, found %d x %d",
                       dln_spec_where(s, "target_file", wb, sizeof wb), d->target->rows, d->target->cols);
  } else if (strcmp(task, "regression") == 0) {
    if (has(s->data.x_file)) {
      if ((st = load_field(s, "x_file", s->data.x_file, &d->X)) || (st = load_field(s, "y_file", s->data.y_file, &d->Y))) return st;
      if (d->X->cols != d->Y->cols)
        return dln_error(DLN_EDIM, "%s: expected %d columns (samples, as in x_file), found %d",
                         dln_spec_where(s, "y_file", wb, sizeof wb), d->X->cols, d->Y->cols);
    } else {
      if ((st = make_truth(s, rng, &d->wtrue))) return st;
      if ((st = dln_data_regression(rng, d->wtrue->cols, d->wtrue->rows, s->data.n_samples, s->data.x_rank, d->wtrue, s->data.noise,
                                    &d->X, &d->Y)))
        return st;
    }
    if (s->data.reduce && (st = dln_regression_reduce(d->X, d->Y, &d->target))) return st;
  } else if (strcmp(task, "sensing") == 0) {
    if (has(s->data.a_file)) {
      if ((st = load_field(s, "a_file", s->data.a_file, &d->A)) || (st = load_field(s, "b_file", s->data.b_file, &d->b))) return st;
      if ((long long)d->A->rows != (long long)s->data.rows * s->data.cols)
        return dln_error(DLN_EDIM, "%s: expected rows*cols = %lld rows (vec(A_i) per column), found %d",
                         dln_spec_where(s, "a_file", wb, sizeof wb), (long long)s->data.rows * s->data.cols, d->A->rows);
      if ((long long)d->b->rows * d->b->cols != d->A->cols)
        return dln_error(DLN_EDIM, "%s: expected %d values (one per column of a_file), found %d x %d",
                         dln_spec_where(s, "b_file", wb, sizeof wb), d->A->cols, d->b->rows, d->b->cols);
    } else {
      if ((st = make_truth(s, rng, &d->wtrue))) return st;
      if ((st = dln_data_sensing(rng, d->wtrue, s->data.m, &d->A, &d->b))) return st;
    }
  } else { /* completion */
    int r = s->data.rows, c = s->data.cols;
    if (has(s->data.entries_file)) {
      if ((st = load_field(s, "entries_file", s->data.entries_file, &d->entries))) return st;
      if (d->entries->cols != 3)
        return dln_error(DLN_EDIM, "%s: expected an m x 3 matrix of (row, col, value), found %d x %d",
                         dln_spec_where(s, "entries_file", wb, sizeof wb), d->entries->rows, d->entries->cols);
    } else {
      if ((st = make_truth(s, rng, &d->wtrue))) return st;
      r = d->wtrue->rows;
      c = d->wtrue->cols;
      if ((st = dln_data_completion(rng, d->wtrue, s->data.m, &d->entries))) return st;
    }
    int m = d->entries->rows;
    d->er = malloc((size_t)(m ? m : 1) * sizeof *d->er);
    d->ec = malloc((size_t)(m ? m : 1) * sizeof *d->ec);
    d->ev = malloc((size_t)(m ? m : 1) * sizeof *d->ev);
    if (!d->er || !d->ec || !d->ev) return dln_error(DLN_ENOMEM, "out of memory");
    for (int i = 0; i < m; ++i) {
      double ri = d->entries->data[i], ci = d->entries->data[i + (size_t)m], v = d->entries->data[i + 2 * (size_t)m];
      if (!(ri >= 0 && ri < r && ri == floor(ri)) || !(ci >= 0 && ci < c && ci == floor(ci)) || !isfinite(v))
        return dln_error(DLN_EINVAL, "%s: row %d: expected 0-based indices row < %d, col < %d and a finite value, found (%g, %g, %g)",
                         dln_spec_where(s, "entries_file", wb, sizeof wb), i + 1, r, c, ri, ci, v);
      d->er[i] = (int)ri;
      d->ec[i] = (int)ci;
      d->ev[i] = v;
    }
  }
  *phase = DLN_RUN_FAIL_NONE;
  return DLN_OK;
}

/* The loss of the task on data d; *rows, *cols receive d_N, d_0 of W. */
static int data_loss(const dln_spec *s, const dln_run_data *d, dln_loss **loss, int *rows, int *cols) {
  if (d->target) {
    *rows = d->target->rows;
    *cols = d->target->cols;
    return dln_loss_factorization_alloc(loss, d->target);
  }
  if (d->X) {
    *rows = d->Y->rows;
    *cols = d->X->rows;
    return dln_loss_regression_alloc(loss, d->X, d->Y);
  }
  if (d->A) {
    *rows = s->data.rows;
    *cols = s->data.cols;
    return dln_loss_sensing_alloc(loss, s->data.rows, s->data.cols, d->A->cols, d->A->data, d->b->data);
  }
  if (!d->entries) return dln_error(DLN_EINVAL, "task %s: no data", s->task);
  *rows = d->wtrue ? d->wtrue->rows : s->data.rows;
  *cols = d->wtrue ? d->wtrue->cols : s->data.cols;
  return dln_loss_completion_alloc(loss, *rows, *cols, d->entries->rows, d->er, d->ec, d->ev);
}

/* Replace every "{j}" in pattern by j. */
static char *subst_j(const char *pattern, int j) {
  size_t k = 0;
  for (const char *p = strstr(pattern, "{j}"); p; p = strstr(p + 3, "{j}")) ++k;
  size_t n = strlen(pattern) + k * 24 + 1;
  char *out = malloc(n), *o = out;
  if (!out) return NULL;
  for (const char *p = pattern; *p;) {
    if (strncmp(p, "{j}", 3) == 0) {
      o += snprintf(o, n - (size_t)(o - out), "%d", j);
      p += 3;
    } else {
      *o++ = *p++;
    }
  }
  *o = '\0';
  return out;
}

static int do_init(const dln_spec *s, dln_net *net, double *theta, dln_rng *rng, const dln_run_data *d) {
  const char *init = s->init;
  int N = net->depth, st = DLN_OK;
  char wb[512];
  if (strcmp(init, "gaussian") == 0 || strcmp(init, "imbalanced") == 0) {
    const double *scales = s->init_opts.layer_scales.n ? s->init_opts.layer_scales.v : NULL;
    if (!s->init_opts.init_product_widths.n) return dln_init_gaussian(net, theta, rng, s->init_opts.sigma, scales);
    /* 001 §6: draw the layers of a network with init_product_widths and start from
     * their product (depth 1) or a balanced factorization of it. */
    dln_net *aux = NULL;
    double *ta = NULL;
    dln_mat *W0 = NULL;
    if ((st = dln_net_alloc(&aux, s->init_opts.init_product_widths.n - 1, s->init_opts.init_product_widths.v, 0))) return st;
    ta = calloc(aux->nparams ? aux->nparams : 1, sizeof *ta);
    W0 = dln_mat_alloc(dln_net_rows(net), dln_net_cols(net));
    if (!ta || !W0) st = dln_error(DLN_ENOMEM, "out of memory");
    if (!st) st = dln_init_gaussian(aux, ta, rng, s->init_opts.sigma, NULL);
    if (!st) st = dln_net_product(aux, ta, W0->data);
    if (!st) {
      if (N == 1) memcpy(dln_net_layer(net, theta, 1), W0->data, (size_t)W0->rows * (size_t)W0->cols * sizeof(double));
      else st = dln_init_balanced(net, theta, W0, rng);
    }
    dln_mat_free(W0);
    free(ta);
    dln_net_free(aux);
    return st;
  }
  if (strcmp(init, "width_scaled") == 0) return dln_init_width_scaled(net, theta, rng, s->init_opts.alpha);
  if (strcmp(init, "balanced") == 0) {
    dln_mat *W0 = NULL;
    if ((st = dln_data_gaussian(rng, dln_net_rows(net), dln_net_cols(net), s->init_opts.sigma, &W0))) return st;
    st = dln_init_balanced(net, theta, W0, rng);
    dln_mat_free(W0);
    return st;
  }
  if (strcmp(init, "spectral") == 0 || strcmp(init, "spectral_symmetric") == 0) {
    if (!d->target)
      return dln_error(DLN_EINVAL, "%s: expected a factorization target for init %s, found task %s",
                       dln_spec_where(s, "init", wb, sizeof wb), init, s->task);
    if (strcmp(init, "spectral_symmetric") == 0) {
      if (s->init_opts.sigma0.n != d->target->rows)
        return dln_error(DLN_EDIM, "%s: expected %d values (rows of the target), found %d",
                         dln_spec_where(s, "sigma0", wb, sizeof wb), d->target->rows, s->init_opts.sigma0.n);
      return dln_init_spectral_symmetric(net, theta, d->target, s->init_opts.sigma0.v);
    }
    int k = d->target->rows < d->target->cols ? d->target->rows : d->target->cols;
    if (s->init_opts.ubar.n != k || s->init_opts.vbar.n != k)
      return dln_error(DLN_EDIM, "%s: expected min(rows, cols) = %d values, found %d",
                       dln_spec_where(s, s->init_opts.ubar.n != k ? "ubar" : "vbar", wb, sizeof wb), k,
                       s->init_opts.ubar.n != k ? s->init_opts.ubar.n : s->init_opts.vbar.n);
    return dln_init_spectral_asymmetric(net, theta, d->target, s->init_opts.ubar.v, s->init_opts.vbar.v, rng);
  }
  if (strcmp(init, "orthogonal_minnorm") == 0) return dln_init_orthogonal_minnorm(net, theta, d->X, rng, s->init_opts.sigma);
  /* file */
  int nl = net->tied ? 1 : N;
  dln_mat **layers = calloc((size_t)nl, sizeof *layers);
  if (!layers) return dln_error(DLN_ENOMEM, "out of memory");
  for (int j = 1; j <= nl && !st; ++j) {
    char *p = s->init_opts.init_files.n == 1 && nl > 1 ? subst_j(s->init_opts.init_files.v[0], j)
                                             : subst_j(s->init_opts.init_files.v[s->init_opts.init_files.n == 1 ? 0 : j - 1], j);
    if (!p) st = dln_error(DLN_ENOMEM, "out of memory");
    else st = load_field(s, "init_files", p, &layers[j - 1]);
    free(p);
  }
  if (!st) st = dln_init_from_layers(net, theta, layers, nl);
  for (int j = 0; j < nl; ++j) dln_mat_free(layers[j]);
  free(layers);
  return st;
}

/* The training options of spec s (thresholds from the loss's target norm). */
static void train_options(const dln_spec *s, const dln_loss *loss, dln_train_options *to) {
  int e2e;
  dln_train_default_options(to);
  to->method = dln_run_method_type(s->method, &e2e); /* checked by dln_spec_check */
  to->eta = s->train.eta;
  to->t_end = s->train.t_end;
  to->max_steps = s->train.max_steps;
  to->loss_threshold = s->train.loss_threshold;
  if (s->recon_threshold > 0 && isfinite(loss->target_norm)) {
    double thr = 0.5 * pow(s->recon_threshold * loss->target_norm, 2);
    if (thr > to->loss_threshold) to->loss_threshold = thr;
  }
  to->grad_tol = s->train.grad_tol;
  to->rtol = s->train.rtol;
  to->atol = s->train.atol;
  to->erk_order = s->train.erk_order;
  to->blowup = s->train.blowup;
  to->nsamples = s->train.nsamples;
  to->log_spacing = s->train.log_spacing;
  to->t_first = s->train.t_first > 0 ? s->train.t_first : s->train.t_end * 1e-4;
  to->gauss_stages = s->train.gauss_stages;
  to->gauss_h = s->train.gauss_h;
  to->krylov_maxl = s->train.krylov_maxl;
  to->auto_stiff_ratio = s->train.auto_stiff_ratio;
  to->auto_window = s->train.auto_window;
  to->auto_min_steps = s->train.auto_min_steps;
  to->auto_rkc_max = s->train.auto_rkc_max;
}

/* Widths of run s on data with W rows x cols: the spec's, with d_0, d_N from the data
 * when widths are not given. */
static int run_widths(const dln_spec *s, int rows, int cols, int **widths, int *nw) {
  char wb[512];
  int st = dln_spec_resolve_widths(s, widths, nw);
  if (st) return st;
  if (!s->net.widths.n) {
    (*widths)[0] = cols;
    (*widths)[*nw - 1] = rows;
  } else if ((*widths)[0] != cols || (*widths)[*nw - 1] != rows) {
    return dln_error(DLN_EDIM, "%s: expected d_0 = %d and d_N = %d (the data's W is %d x %d), found d_0 = %d, d_N = %d",
                     dln_spec_where(s, "widths", wb, sizeof wb), cols, rows, rows, cols, (*widths)[0], (*widths)[*nw - 1]);
  }
  if (s->init_opts.init_product_widths.n &&
      (s->init_opts.init_product_widths.v[0] != cols || s->init_opts.init_product_widths.v[s->init_opts.init_product_widths.n - 1] != rows))
    return dln_error(DLN_EDIM, "%s: expected widths from d_0 = %d to d_N = %d",
                     dln_spec_where(s, "init_product_widths", wb, sizeof wb), cols, rows);
  return DLN_OK;
}

/* The table for the layer-wise methods: the observer's columns. */
static int observer_table(const dln_observer *obs, size_t cap, dln_table **out) {
  int nc = dln_observer_ncols(obs);
  const char **names = malloc((size_t)(nc ? nc : 1) * sizeof *names);
  if (!names) return dln_error(DLN_ENOMEM, "out of memory");
  for (int i = 0; i < nc; ++i) names[i] = dln_observer_colname(obs, i);
  int st = dln_table_alloc(out, nc, names, cap);
  free(names);
  return st;
}

int dln_run_parts_build(const dln_spec *s, const dln_run_data *d, dln_rng *rng, dln_run_parts *p, int *phase) {
  memset(p, 0, sizeof *p);
  char wb[512];
  int st, rows = 0, cols = 0;
  *phase = DLN_RUN_FAIL_SPEC;
  if ((st = data_loss(s, d, &p->loss, &rows, &cols))) return st;
  if ((st = run_widths(s, rows, cols, &p->widths, &p->nw))) return st;
  if ((st = dln_net_alloc(&p->net, p->nw - 1, p->widths, s->net.tied))) return st;
  size_t np = p->net->nparams ? p->net->nparams : 1;
  p->theta = calloc(np, sizeof *p->theta);
  p->theta0 = calloc(np, sizeof *p->theta0);
  if (!p->theta || !p->theta0) {
    *phase = DLN_RUN_FAIL_INTERNAL;
    return dln_error(DLN_ENOMEM, "out of memory for %zu parameters", p->net->nparams);
  }
  if (rng) {
    *phase = strcmp(s->init, "file") == 0 ? DLN_RUN_FAIL_INPUT : DLN_RUN_FAIL_SPEC;
    if ((st = do_init(s, p->net, p->theta, rng, d))) return st;
    memcpy(p->theta0, p->theta, p->net->nparams * sizeof *p->theta);
  }

  *phase = DLN_RUN_FAIL_SPEC;
  dln_run_method_type(s->method, &p->e2e);
  train_options(s, p->loss, &p->to);
  if ((st = dln_train_check(&p->to))) return st;
  size_t cap = rng ? (size_t)dln_train_nsamples(&p->to) + 1 : 1;

  if (!p->e2e) {
    *phase = DLN_RUN_FAIL_INTERNAL;
    if ((st = dln_observer_alloc_theory(&p->obs, p->net, p->loss, p->theta0, dln_spec_observe_flags(s),
                                        dln_spec_observe_xflags(s), d->X)))
      return st;
    return observer_table(p->obs, cap, &p->traj);
  }
  /* end-to-end dynamics of W = W_N···W_1 from a balanced start (002 Theorem 1) */
  size_t nW = (size_t)rows * (size_t)cols;
  p->W = calloc(nW ? nW : 1, sizeof *p->W);
  p->W0 = calloc(nW ? nW : 1, sizeof *p->W0);
  if (!p->W || !p->W0) {
    *phase = DLN_RUN_FAIL_INTERNAL;
    return dln_error(DLN_ENOMEM, "out of memory");
  }
  if (rng && (st = dln_e2e_from_net(p->net, p->theta0, s->e2e_balance_tol, p->W0))) {
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", dln_last_error());
    return dln_error(st, "%s: %s needs a balanced start (init balanced): %s", dln_spec_where(s, "method", wb, sizeof wb),
                     s->method, msg);
  }
  memcpy(p->W, p->W0, nW * sizeof *p->W);
  *phase = DLN_RUN_FAIL_INTERNAL;
  if ((st = dln_e2e_alloc(&p->dyn, p->loss, p->net->depth))) return st;
  return dln_e2e_table_alloc(p->dyn, cap, &p->traj);
}

int dln_run_parts_train(dln_run_parts *p, dln_train_result *res) {
  if (!p->e2e) return dln_train(p->net, p->loss, p->theta, &p->to, p->obs, p->traj, res);
  return dln_e2e_train(p->dyn, p->W, &p->to, p->traj, res);
}

void dln_run_parts_free(dln_run_parts *p) {
  if (!p) return;
  dln_table_free(p->traj);
  dln_observer_free(p->obs);
  dln_e2e_free(p->dyn);
  free(p->W);
  free(p->W0);
  free(p->theta);
  free(p->theta0);
  dln_net_free(p->net);
  free(p->widths);
  dln_loss_free(p->loss);
  memset(p, 0, sizeof *p);
}

int dln_run_data_write(const dln_run_data *d, const char *dir) {
  int st;
  if ((st = dln_run_write_mat(dir, "target.npy", d->target)) || (st = dln_run_write_mat(dir, "W_true.npy", d->wtrue)) ||
      (st = dln_run_write_mat(dir, "X.npy", d->X)) || (st = dln_run_write_mat(dir, "Y.npy", d->Y)) ||
      (st = dln_run_write_mat(dir, "A.npy", d->A)) || (st = dln_run_write_mat(dir, "b.npy", d->b)) ||
      (st = dln_run_write_mat(dir, "entries.npy", d->entries)))
    return st;
  return DLN_OK;
}
