/* Run driver: spec -> task -> network -> init -> train -> outputs (dln/run.h), and the
 * pipeline builder it shares with the sweeps (run_internal.h, ensemble.c).
 *
 * Data are drawn first from dln_rng_alloc(seed, stream), then the init from the same
 * stream, so a run is reproducible from (seed, stream) alone and two runs that differ
 * only in their init see the same data. The layer-wise methods (gd, flow, cvode, gauss,
 * auto) go to dln_train; e2e_flow and e2e_gd integrate the end-to-end matrix W = W_{N:1}
 * of a balanced start alone (002 Theorem 1, eq. 3; dln/e2e.h). Outputs are atomic
 * files; summary.json is written last and marks the run complete. */
#include "dln/run.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cblas.h>
#include <jansson.h>

#include "dln/data.h"
#include "dln/error.h"
#include "dln/init.h"
#include "dln/io.h"
#include "dln/loss.h"
#include "dln/net.h"
#include "dln/observe.h"
#include "dln/rng.h"
#include "dln_version.h"
#include "observe/theory_obs.h"
#include "run/run_internal.h"

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int has(const char *s) { return s && *s; }

/* dir/name into a malloc'ed string. */
static char *path_join(const char *dir, const char *name) {
  size_t n = strlen(dir) + strlen(name) + 2;
  char *p = malloc(n);
  if (p) snprintf(p, n, "%s/%s", dir, name);
  return p;
}

static int write_npy(const char *dir, const char *name, int rows, int cols, const double *data) {
  char *p = path_join(dir, name);
  if (!p) return dln_error(DLN_ENOMEM, "out of memory");
  int st = dln_npy_write(p, rows, cols, data, 0);
  free(p);
  return st;
}

static int write_mat(const char *dir, const char *name, const dln_mat *m) {
  return m ? write_npy(dir, name, m->rows, m->cols, m->data) : DLN_OK;
}

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
  if (has(s->target_file)) return load_field(s, "target_file", s->target_file, out);
  if (!rng) return dln_error(DLN_EINVAL, "synthetic data: expected a random stream, found none");
  if (s->symmetric_target) {
    int m = s->rows;
    if (s->singular_values.n) {
      double *lam = calloc((size_t)m, sizeof *lam);
      if (!lam) return dln_error(DLN_ENOMEM, "out of memory");
      memcpy(lam, s->singular_values.v, (size_t)s->singular_values.n * sizeof *lam);
      int st = dln_data_symmetric(rng, m, lam, out);
      free(lam);
      return st;
    }
    int st = dln_data_gaussian(rng, m, m, s->target_sigma, out);
    if (st) return st;
    double *a = (*out)->data;
    for (int i = 0; i < m; ++i)
      for (int j = i + 1; j < m; ++j) {
        double v = 0.5 * (a[i + (size_t)j * m] + a[j + (size_t)i * m]);
        a[i + (size_t)j * m] = a[j + (size_t)i * m] = v;
      }
    return DLN_OK;
  }
  if (strcmp(s->target, "lowrank") == 0) {
    int r = s->singular_values.n ? s->singular_values.n : s->rank;
    double *sv = malloc((size_t)r * sizeof *sv);
    if (!sv) return dln_error(DLN_ENOMEM, "out of memory");
    for (int i = 0; i < r; ++i) sv[i] = s->singular_values.n ? s->singular_values.v[i] : (double)(r - i);
    int st = dln_data_lowrank(rng, s->rows, s->cols, r, sv, out);
    free(sv);
    return st;
  }
  return dln_data_gaussian(rng, s->rows, s->cols, s->target_sigma, out);
}

int dln_run_data_build(const dln_spec *s, dln_rng *rng, dln_run_data *d, int *phase) {
  int st = DLN_OK;
  char wb[512];
  const char *task = s->task;
  memset(d, 0, sizeof *d);
  *phase = DLN_RUN_FAIL_INPUT;
  if (strcmp(task, "factorization") == 0) {
    if ((st = make_truth(s, rng, &d->target))) return st;
    if (s->symmetric_target && d->target->rows != d->target->cols)
      return dln_error(DLN_EDIM, "%s: expected a square target for symmetric_target, found %d x %d",
                       dln_spec_where(s, "target_file", wb, sizeof wb), d->target->rows, d->target->cols);
  } else if (strcmp(task, "regression") == 0) {
    if (has(s->x_file)) {
      if ((st = load_field(s, "x_file", s->x_file, &d->X)) || (st = load_field(s, "y_file", s->y_file, &d->Y))) return st;
      if (d->X->cols != d->Y->cols)
        return dln_error(DLN_EDIM, "%s: expected %d columns (samples, as in x_file), found %d",
                         dln_spec_where(s, "y_file", wb, sizeof wb), d->X->cols, d->Y->cols);
    } else {
      if ((st = make_truth(s, rng, &d->wtrue))) return st;
      if ((st = dln_data_regression(rng, d->wtrue->cols, d->wtrue->rows, s->n_samples, s->x_rank, d->wtrue, s->noise,
                                    &d->X, &d->Y)))
        return st;
    }
    if (s->reduce && (st = dln_regression_reduce(d->X, d->Y, &d->target))) return st;
  } else if (strcmp(task, "sensing") == 0) {
    if (has(s->a_file)) {
      if ((st = load_field(s, "a_file", s->a_file, &d->A)) || (st = load_field(s, "b_file", s->b_file, &d->b))) return st;
      if ((long long)d->A->rows != (long long)s->rows * s->cols)
        return dln_error(DLN_EDIM, "%s: expected rows*cols = %lld rows (vec(A_i) per column), found %d",
                         dln_spec_where(s, "a_file", wb, sizeof wb), (long long)s->rows * s->cols, d->A->rows);
      if ((long long)d->b->rows * d->b->cols != d->A->cols)
        return dln_error(DLN_EDIM, "%s: expected %d values (one per column of a_file), found %d x %d",
                         dln_spec_where(s, "b_file", wb, sizeof wb), d->A->cols, d->b->rows, d->b->cols);
    } else {
      if ((st = make_truth(s, rng, &d->wtrue))) return st;
      if ((st = dln_data_sensing(rng, d->wtrue, s->m, &d->A, &d->b))) return st;
    }
  } else { /* completion */
    int r = s->rows, c = s->cols;
    if (has(s->entries_file)) {
      if ((st = load_field(s, "entries_file", s->entries_file, &d->entries))) return st;
      if (d->entries->cols != 3)
        return dln_error(DLN_EDIM, "%s: expected an m x 3 matrix of (row, col, value), found %d x %d",
                         dln_spec_where(s, "entries_file", wb, sizeof wb), d->entries->rows, d->entries->cols);
    } else {
      if ((st = make_truth(s, rng, &d->wtrue))) return st;
      r = d->wtrue->rows;
      c = d->wtrue->cols;
      if ((st = dln_data_completion(rng, d->wtrue, s->m, &d->entries))) return st;
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
    *rows = s->rows;
    *cols = s->cols;
    return dln_loss_sensing_alloc(loss, s->rows, s->cols, d->A->cols, d->A->data, d->b->data);
  }
  if (!d->entries) return dln_error(DLN_EINVAL, "task %s: no data", s->task);
  *rows = d->wtrue ? d->wtrue->rows : s->rows;
  *cols = d->wtrue ? d->wtrue->cols : s->cols;
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
    const double *scales = s->layer_scales.n ? s->layer_scales.v : NULL;
    if (!s->init_product_widths.n) return dln_init_gaussian(net, theta, rng, s->sigma, scales);
    /* 001 §6: draw the layers of a network with init_product_widths and start from
     * their product (depth 1) or a balanced factorization of it. */
    dln_net *aux = NULL;
    double *ta = NULL;
    dln_mat *W0 = NULL;
    if ((st = dln_net_alloc(&aux, s->init_product_widths.n - 1, s->init_product_widths.v, 0))) return st;
    ta = calloc(aux->nparams ? aux->nparams : 1, sizeof *ta);
    W0 = dln_mat_alloc(dln_net_rows(net), dln_net_cols(net));
    if (!ta || !W0) st = dln_error(DLN_ENOMEM, "out of memory");
    if (!st) st = dln_init_gaussian(aux, ta, rng, s->sigma, NULL);
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
  if (strcmp(init, "width_scaled") == 0) return dln_init_width_scaled(net, theta, rng, s->alpha);
  if (strcmp(init, "balanced") == 0) {
    dln_mat *W0 = NULL;
    if ((st = dln_data_gaussian(rng, dln_net_rows(net), dln_net_cols(net), s->sigma, &W0))) return st;
    st = dln_init_balanced(net, theta, W0, rng);
    dln_mat_free(W0);
    return st;
  }
  if (strcmp(init, "spectral") == 0 || strcmp(init, "spectral_symmetric") == 0) {
    if (!d->target)
      return dln_error(DLN_EINVAL, "%s: expected a factorization target for init %s, found task %s",
                       dln_spec_where(s, "init", wb, sizeof wb), init, s->task);
    if (strcmp(init, "spectral_symmetric") == 0) {
      if (s->sigma0.n != d->target->rows)
        return dln_error(DLN_EDIM, "%s: expected %d values (rows of the target), found %d",
                         dln_spec_where(s, "sigma0", wb, sizeof wb), d->target->rows, s->sigma0.n);
      return dln_init_spectral_symmetric(net, theta, d->target, s->sigma0.v);
    }
    int k = d->target->rows < d->target->cols ? d->target->rows : d->target->cols;
    if (s->ubar.n != k || s->vbar.n != k)
      return dln_error(DLN_EDIM, "%s: expected min(rows, cols) = %d values, found %d",
                       dln_spec_where(s, s->ubar.n != k ? "ubar" : "vbar", wb, sizeof wb), k,
                       s->ubar.n != k ? s->ubar.n : s->vbar.n);
    return dln_init_spectral_asymmetric(net, theta, d->target, s->ubar.v, s->vbar.v, rng);
  }
  if (strcmp(init, "orthogonal_minnorm") == 0) return dln_init_orthogonal_minnorm(net, theta, d->X, rng, s->sigma);
  /* file */
  int nl = net->tied ? 1 : N;
  dln_mat **layers = calloc((size_t)nl, sizeof *layers);
  if (!layers) return dln_error(DLN_ENOMEM, "out of memory");
  for (int j = 1; j <= nl && !st; ++j) {
    char *p = s->init_files.n == 1 && nl > 1 ? subst_j(s->init_files.v[0], j)
                                             : subst_j(s->init_files.v[s->init_files.n == 1 ? 0 : j - 1], j);
    if (!p) st = dln_error(DLN_ENOMEM, "out of memory");
    else st = load_field(s, "init_files", p, &layers[j - 1]);
    free(p);
  }
  if (!st) st = dln_init_from_layers(net, theta, layers, nl);
  for (int j = 0; j < nl; ++j) dln_mat_free(layers[j]);
  free(layers);
  return st;
}

void dln_run_method(const char *name, const dln_integrator_type **method, int *e2e) {
  /* e2e_flow, e2e_gd: the end-to-end system with flow / gd; else a registered type */
  *e2e = strncmp(name, "e2e_", 4) == 0;
  *method = dln_integrator_find(*e2e ? name + 4 : name);
  if (!*method) *method = &dln_integrator_flow;
}

/* The training options of spec s (thresholds from the loss's target norm). */
static void train_options(const dln_spec *s, const dln_loss *loss, dln_train_options *to) {
  int e2e;
  dln_train_default_options(to);
  dln_run_method(s->method, &to->method, &e2e);
  to->eta = s->eta;
  to->t_end = s->t_end;
  to->max_steps = s->max_steps;
  to->loss_threshold = s->loss_threshold;
  if (s->recon_threshold > 0 && isfinite(loss->target_norm)) {
    double thr = 0.5 * pow(s->recon_threshold * loss->target_norm, 2);
    if (thr > to->loss_threshold) to->loss_threshold = thr;
  }
  to->grad_tol = s->grad_tol;
  to->rtol = s->rtol;
  to->atol = s->atol;
  to->erk_order = s->erk_order;
  to->blowup = s->blowup;
  to->nsamples = s->samples;
  to->log_spacing = s->log_samples;
  to->t_first = s->t_first > 0 ? s->t_first : s->t_end * 1e-4;
  to->gauss_stages = s->gauss_stages;
  to->gauss_h = s->gauss_h;
  to->krylov_maxl = s->krylov_maxl;
  to->auto_stiff_ratio = s->auto_stiff_ratio;
  to->auto_window = s->auto_window;
  to->auto_min_steps = s->auto_min_steps;
  to->auto_rkc_max = s->auto_rkc_max;
}

/* Widths of run s on data with W rows x cols: the spec's, with d_0, d_N from the data
 * when widths are not given. */
static int run_widths(const dln_spec *s, int rows, int cols, int **widths, int *nw) {
  char wb[512];
  int st = dln_spec_resolve_widths(s, widths, nw);
  if (st) return st;
  if (!s->widths.n) {
    (*widths)[0] = cols;
    (*widths)[*nw - 1] = rows;
  } else if ((*widths)[0] != cols || (*widths)[*nw - 1] != rows) {
    return dln_error(DLN_EDIM, "%s: expected d_0 = %d and d_N = %d (the data's W is %d x %d), found d_0 = %d, d_N = %d",
                     dln_spec_where(s, "widths", wb, sizeof wb), cols, rows, rows, cols, (*widths)[0], (*widths)[*nw - 1]);
  }
  if (s->init_product_widths.n &&
      (s->init_product_widths.v[0] != cols || s->init_product_widths.v[s->init_product_widths.n - 1] != rows))
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
  if ((st = dln_net_alloc(&p->net, p->nw - 1, p->widths, s->tied))) return st;
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
  const dln_integrator_type *method;
  dln_run_method(s->method, &method, &p->e2e);
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

static int write_layers(const char *dir, dln_net *net, double *theta, const char *suffix) {
  char name[64];
  if (net->tied) {
    snprintf(name, sizeof name, "U_%s.npy", suffix);
    return write_npy(dir, name, net->widths[2], net->widths[1], dln_net_layer(net, theta, 2));
  }
  for (int j = 1; j <= net->depth; ++j) {
    snprintf(name, sizeof name, "W%d_%s.npy", j, suffix);
    int st = write_npy(dir, name, net->widths[j], net->widths[j - 1], dln_net_layer(net, theta, j));
    if (st) return st;
  }
  return DLN_OK;
}

static json_t *row_json(const dln_table *t, size_t i) {
  json_t *o = json_object();
  if (!o || i >= t->nrows) return o;
  const double *r = t->data + i * (size_t)t->ncols;
  for (int c = 0; c < t->ncols; ++c) json_object_set_new(o, t->names[c], dln_json_num(r[c]));
  return o;
}

static json_t *blas_json(void) {
  json_t *o = json_object();
  const char *cfg = openblas_get_config();
  json_object_set_new(o, "library", json_string("OpenBLAS"));
  json_object_set_new(o, "config", json_string(cfg ? cfg : ""));
  json_object_set_new(o, "threads", json_integer(openblas_get_num_threads()));
  return o;
}

static int clean_stale_summary(const char *dir) {
  char *p = path_join(dir, "summary.json");
  if (!p) return dln_error(DLN_ENOMEM, "out of memory");
  int st = DLN_OK;
  if (unlink(p) != 0 && errno != ENOENT) st = dln_error(DLN_EIO, "%s: cannot remove the stale summary: %s", p, strerror(errno));
  free(p);
  return st;
}

static int is_cancelled(const dln_run_options *opt) { return opt && opt->cancelled && opt->cancelled(opt->progress_ctx); }

static int run_impl(const dln_spec *spec, const dln_run_options *opt, dln_run_result *res, int render) {
  double t0 = now_seconds();
  memset(res, 0, sizeof *res);
  res->recon_init = res->recon_final = res->max_drift = NAN;
  res->loss_init = res->loss_final = NAN;
  res->loss_threshold = -1;
  res->train.t_threshold = res->train.fail_t = res->train.switched_at = NAN;
  res->train.fail_step = -1;
  int phase = DLN_RUN_FAIL_SPEC, st;
  dln_rng *rng = NULL;
  dln_run_data d;
  dln_run_parts p;
  memset(&d, 0, sizeof d);
  memset(&p, 0, sizeof p);
  json_t *sum = NULL;
  const char *out = spec->out;
  char wb[512];

  if ((st = dln_spec_check(spec))) goto fail;
  /* only when it changes: dln sweep draws its data sets through here on its worker
   * threads, with OpenBLAS already at one thread, and openblas_set_num_threads is not
   * meant to be called concurrently */
  if (openblas_get_num_threads() != spec->blas_threads) openblas_set_num_threads(spec->blas_threads);
  phase = DLN_RUN_FAIL_OUTPUT;
  if ((st = dln_mkdir_p(out)) || (st = clean_stale_summary(out))) goto fail;

  phase = DLN_RUN_FAIL_INTERNAL;
  if (!(rng = dln_rng_alloc(spec->seed, spec->stream))) {
    st = dln_error(DLN_ENOMEM, "cannot allocate the random stream");
    goto fail;
  }
  /* data first, then the init from the same stream */
  if ((st = dln_run_data_build(spec, rng, &d, &phase))) goto fail;
  if ((st = dln_run_parts_build(spec, &d, rng, &p, &phase))) goto fail;
  res->loss_threshold = p.to.loss_threshold;
  if (opt) {
    p.to.progress = opt->progress;
    p.to.progress_ctx = opt->progress_ctx;
  }

  phase = DLN_RUN_FAIL_INTERNAL;
  if (opt && opt->run_event) opt->run_event(opt->progress_ctx, 0, out);
  st = dln_run_parts_train(&p, &res->train);
  if (opt && opt->run_event) opt->run_event(opt->progress_ctx, 1, out);
  if (st) goto fail;
  if (res->train.stop_reason == DLN_STOP_CANCELLED || is_cancelled(opt)) {
    res->train.stop_reason = DLN_STOP_CANCELLED;
    goto done; /* nothing is committed */
  }

  /* results from the trajectory */
  dln_table *traj = p.traj;
  if (traj->nrows) {
    int cl = dln_table_col(traj, "loss"), cr = dln_table_col(traj, "recon_err");
    const double *r0 = dln_table_row(traj, 0), *r1 = dln_table_row(traj, traj->nrows - 1);
    if (cl >= 0) res->loss_init = r0[cl], res->loss_final = r1[cl];
    if (cr >= 0) res->recon_init = r0[cr], res->recon_final = r1[cr];
    for (int c = 0; c < traj->ncols; ++c) {
      if (strncmp(traj->names[c], "drift_C", 7) != 0) continue;
      for (size_t i = 0; i < traj->nrows; ++i) {
        double v = dln_table_row(traj, i)[c];
        if (isfinite(v) && !(v <= res->max_drift)) res->max_drift = v;
      }
    }
  }

  /* outputs; summary.json last */
  phase = DLN_RUN_FAIL_OUTPUT;
  {
    char *path = path_join(out, "trajectory.csv");
    if (!path) {
      st = dln_error(DLN_ENOMEM, "out of memory");
      goto fail;
    }
    st = dln_table_write_csv(traj, path);
    free(path);
    if (st) goto fail;
  }
  if ((st = write_layers(out, p.net, p.theta0, "init"))) goto fail;
  if (p.e2e) { /* the state is W = W_N···W_1 alone; the layers stay at their init */
    int rows = dln_net_rows(p.net), cols = dln_net_cols(p.net);
    if ((st = write_npy(out, "W_init.npy", rows, cols, p.W0)) || (st = write_npy(out, "W_final.npy", rows, cols, p.W)))
      goto fail;
  } else if ((st = write_layers(out, p.net, p.theta, "final"))) {
    goto fail;
  }
  if ((st = write_mat(out, "target.npy", d.target)) || (st = write_mat(out, "W_true.npy", d.wtrue)) ||
      (st = write_mat(out, "X.npy", d.X)) || (st = write_mat(out, "Y.npy", d.Y)) || (st = write_mat(out, "A.npy", d.A)) ||
      (st = write_mat(out, "b.npy", d.b)) || (st = write_mat(out, "entries.npy", d.entries)))
    goto fail;
  /* the loss's reference solution (minimum-norm least squares, or the target) */
  if (p.loss->wstar && strcmp(p.loss->ops->name, "factorization") != 0 &&
      (st = write_npy(out, "W_ref.npy", p.loss->rows, p.loss->cols, p.loss->wstar)))
    goto fail;
  if (spec->plot) {
    char title[1024];
    snprintf(title, sizeof title, "%s, widths %s, %s, init %s (sigma %g), seed %llu", spec->task,
             dln_spec_value_text(spec, dln_spec_find("widths"), wb, sizeof wb)[0] ? wb : "default", spec->method,
             spec->init, spec->sigma, (unsigned long long)spec->seed);
    if ((st = dln_plot_write_single(out, title))) goto fail;
    res->plot = DLN_PLOT_SCRIPT_ONLY;
    if (render) res->plot = dln_plot_render(out, &res->plot_exit);
    if (is_cancelled(opt)) {
      res->train.stop_reason = DLN_STOP_CANCELLED;
      goto done;
    }
  }

  res->wall_ms = 1e3 * (now_seconds() - t0);
  phase = DLN_RUN_FAIL_INTERNAL;
  sum = json_object();
  if (!sum) {
    st = dln_error(DLN_ENOMEM, "out of memory");
    goto fail;
  }
  {
    const dln_train_result *tr = &res->train;
    const dln_loss *loss = p.loss;
    const dln_net *net = p.net;
    json_object_set_new(sum, "dln_version", json_string(DLN_VERSION_STRING));
    json_object_set_new(sum, "complete", json_true());
    json_object_set_new(sum, "spec", dln_spec_to_json(spec));
    char sb[32];
    snprintf(sb, sizeof sb, "%llu", (unsigned long long)spec->seed);
    json_object_set_new(sum, "seed", json_string(sb));
    json_object_set_new(sum, "stream", json_integer((json_int_t)spec->stream));
    json_object_set_new(sum, "blas", blas_json());
    json_t *task = json_object();
    json_object_set_new(task, "loss", json_string(loss->ops && loss->ops->name ? loss->ops->name : spec->task));
    json_object_set_new(task, "rows", json_integer(loss->rows));
    json_object_set_new(task, "cols", json_integer(loss->cols));
    json_t *wj = json_array();
    for (int j = 0; j <= net->depth; ++j) json_array_append_new(wj, json_integer(net->widths[j]));
    json_object_set_new(task, "widths", wj);
    json_object_set_new(task, "tied", json_boolean(net->tied));
    json_object_set_new(task, "nparams", json_integer((json_int_t)net->nparams));
    json_object_set_new(task, "lstar", dln_json_num(loss->lstar));
    json_object_set_new(task, "reference", loss->wstar_name ? json_string(loss->wstar_name) : json_null());
    json_object_set_new(task, "reference_file",
                        loss->wstar && strcmp(loss->ops->name, "factorization") != 0 ? json_string("W_ref.npy")
                        : loss->wstar ? json_string("target.npy") : json_null());
    json_object_set_new(task, "target_norm", dln_json_num(loss->target_norm));
    json_object_set_new(sum, "task", task);
    json_object_set_new(sum, "dynamics", json_string(p.e2e ? "end-to-end" : "layer-wise"));
    if (p.e2e) {
      json_t *e = json_object();
      json_object_set_new(e, "depth", json_integer(dln_e2e_depth(p.dyn)));
      json_object_set_new(e, "unbalancedness_init", dln_json_num(dln_net_unbalancedness(p.net, p.theta0)));
      json_object_set_new(e, "balance_tol", dln_json_num(spec->e2e_balance_tol));
      json_object_set_new(e, "svds", json_integer(dln_e2e_num_svd(p.dyn)));
      json_object_set_new(sum, "e2e", e);
    }
    if (p.obs && dln_observer_xflags(p.obs)) { /* theory columns (observe/theory_obs.h) */
      const char *cfn = dln_observer_cf_name(p.obs), *note = dln_observer_theory_note(p.obs);
      json_t *th = json_object();
      json_object_set_new(th, "closed_form", *cfn ? json_string(cfn) : json_null());
      json_object_set_new(th, "note", json_string(note));
      json_object_set_new(sum, "theory_observer", th);
    }
    json_object_set_new(sum, "loss_threshold", res->loss_threshold >= 0 ? dln_json_num(res->loss_threshold) : json_null());
    json_object_set_new(sum, "initial", row_json(traj, 0));
    json_object_set_new(sum, "final", row_json(traj, traj->nrows ? traj->nrows - 1 : 0));
    json_object_set_new(sum, "max_conserved_drift", dln_json_num(res->max_drift));
    json_object_set_new(sum, "stop_reason", json_string(dln_stop_reason_name(tr->stop_reason)));
    json_object_set_new(sum, "message", json_string(tr->message));
    json_object_set_new(sum, "t", dln_json_num(tr->t));
    json_object_set_new(sum, "t_threshold", dln_json_num(tr->t_threshold));
    json_object_set_new(sum, "fail_t", dln_json_num(tr->fail_t));
    json_object_set_new(sum, "fail_step", tr->fail_step >= 0 ? json_integer(tr->fail_step) : json_null());
    json_object_set_new(sum, "counters", dln_train_counters_json(tr));
    json_object_set_new(sum, "samples_written", json_integer((json_int_t)traj->nrows));
    json_object_set_new(sum, "train_wall_seconds", dln_json_num(tr->wall_seconds));
    json_object_set_new(sum, "wall_seconds", dln_json_num(res->wall_ms * 1e-3));
    static const char *const plot_names[] = {"off", "rendered", "no matplotlib", "plot.py failed", "script only"};
    json_object_set_new(sum, "figure", json_string(plot_names[res->plot]));
  }
  /* last chance to cancel: a SIGINT while the outputs were written must not leave a
   * summary.json (the mark of a complete run) */
  if (is_cancelled(opt)) {
    res->train.stop_reason = DLN_STOP_CANCELLED;
    goto done;
  }
  phase = DLN_RUN_FAIL_OUTPUT;
  {
    char *path = path_join(out, "summary.json");
    if (!path) {
      st = dln_error(DLN_ENOMEM, "out of memory");
      goto fail;
    }
    st = dln_json_write(path, sum);
    free(path);
    if (st) goto fail;
  }
  goto done;

fail:
  res->fail_phase = phase;
done:
  if (!res->wall_ms) res->wall_ms = 1e3 * (now_seconds() - t0);
  json_decref(sum);
  dln_run_parts_free(&p);
  dln_run_data_free(&d);
  dln_rng_free(rng);
  return st;
}

int dln_run(const dln_spec *spec, const dln_run_options *opt, dln_run_result *res) {
  dln_run_result local;
  if (!res) res = &local;
  if (!spec) return dln_error(DLN_EINVAL, "dln_run: spec must not be NULL");
  return run_impl(spec, opt, res, 1);
}

int dln_run_noplot(const dln_spec *spec, const dln_run_options *opt, dln_run_result *res) {
  dln_run_result local;
  if (!res) res = &local;
  if (!spec) return dln_error(DLN_EINVAL, "dln_run_noplot: spec must not be NULL");
  return run_impl(spec, opt, res, 0);
}

/* ---- the default job: 001 Fig. 1 ---------------------------------------------------- */

int dln_run_fig1_defaults(dln_spec *spec) {
  static const char *const kv[][2] = {{"task", "factorization"}, {"target", "gaussian"}, {"rows", "5"},
                                      {"cols", "10"},            {"width", "50"},        {"method", "flow"},
                                      {"t_end", "40"},           {"recon_threshold", "1e-6"},
                                      {"log_samples", "true"},   {"t_first", "1e-3"},    {"samples", "161"}};
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

int dln_run_fig1(const dln_spec *base, const dln_run_options *opt, FILE *table, dln_run_result *agg) {
  static const double sigmas[3] = {1e-2, 1e-1, 1};
  static const char *const sig_txt[3] = {"1e-2", "1e-1", "1"};
  enum { NRUNS = 6 };
  char subdirs[NRUNS][64], labels[NRUNS][64];
  dln_run_result rr[NRUNS];
  dln_run_result local;
  if (!agg) agg = &local;
  memset(agg, 0, sizeof *agg);
  agg->recon_init = agg->recon_final = agg->max_drift = agg->loss_init = agg->loss_final = NAN;
  agg->train.t_threshold = agg->train.fail_t = agg->train.switched_at = NAN;
  agg->train.fail_step = -1;
  agg->train.stop_reason = DLN_STOP_TIME;
  double t0 = now_seconds();
  int st = DLN_OK, nrun = 0;
  json_t *sum = NULL;
  dln_spec s;
  memset(&s, 0, sizeof s);
  agg->fail_phase = DLN_RUN_FAIL_OUTPUT;
  if ((st = dln_mkdir_p(base->out)) || (st = clean_stale_summary(base->out))) return st;
  agg->fail_phase = DLN_RUN_FAIL_NONE;

  if (table && !base->quiet) {
    fprintf(table, "001 Fig. 1: Ybar %dx%d ~ N(0,1), widths %d,%d,%d vs %d,%d; gradient %s to t = %g or recon error %g\n",
            base->rows, base->cols, base->cols, base->width, base->rows, base->cols, base->rows,
            strcmp(base->method, "gd") == 0 ? "descent" : "flow", base->t_end, base->recon_threshold);
    fprintf(table, "%-10s %6s %14s %11s %9s %10s %9s\n", "model", "sigma", "t(recon<=thr)", "max drift", "stop",
            "grad evals", "wall ms");
  }
  for (int k = 0; k < NRUNS && !st; ++k) {
    int two = k % 2, si = k / 2;
    char w[64], buf[64];
    snprintf(subdirs[k], sizeof subdirs[k], "sigma%s_%s", sig_txt[si], two ? "two_layer" : "one_layer");
    snprintf(labels[k], sizeof labels[k], "%s, sigma = %s", two ? "two-layer" : "one-layer", sig_txt[si]);
    dln_spec_free(&s);
    if ((st = dln_spec_copy(&s, base))) break;
    char *out = path_join(base->out, subdirs[k]);
    if (!out) {
      st = dln_error(DLN_ENOMEM, "out of memory");
      break;
    }
    st = set_default(&s, "out", out);
    free(out);
    snprintf(w, sizeof w, "%d,%d,%d", s.cols, s.width, s.rows);
    snprintf(buf, sizeof buf, "%.17g", sigmas[si]);
    if (!st) st = set_default(&s, "sigma", buf);
    if (!st) st = set_default(&s, "init", "gaussian");
    if (!st && two) {
      st = set_default(&s, "widths", w);
      if (!st) st = set_default(&s, "init_product_widths", "");
    } else if (!st) {
      char w1[64];
      snprintf(w1, sizeof w1, "%d,%d", s.cols, s.rows);
      st = set_default(&s, "widths", w1);
      if (!st) st = set_default(&s, "init_product_widths", w);
    }
    if (!st) s.origin[dln_spec_find("depth") - dln_spec_options()].kind = 0;
    if (st) break;
    st = dln_run_noplot(&s, opt, &rr[k]);
    ++nrun;
    if (st) {
      agg->fail_phase = rr[k].fail_phase;
      break;
    }
    const dln_train_result *tr = &rr[k].train;
    if (tr->stop_reason == DLN_STOP_CANCELLED) {
      agg->train.stop_reason = DLN_STOP_CANCELLED;
      break;
    }
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
    if (isfinite(rr[k].max_drift) && !(rr[k].max_drift <= agg->max_drift)) agg->max_drift = rr[k].max_drift;
    if (table && !base->quiet) {
      char tt[32], dd[32];
      fmt_num(tt, sizeof tt, tr->t_threshold, "%.4g");
      fmt_num(dd, sizeof dd, rr[k].max_drift, "%.2e");
      fprintf(table, "%-10s %6s %14s %11s %9s %10ld %9.1f\n", two ? "two-layer" : "one-layer", sig_txt[si], tt, dd,
              dln_stop_reason_name(tr->stop_reason), tr->grad_evals, rr[k].wall_ms);
      fflush(table);
    }
  }
  if (st || agg->train.stop_reason == DLN_STOP_CANCELLED) goto done;

  agg->fail_phase = DLN_RUN_FAIL_OUTPUT;
  if (base->plot) {
    dln_plot_run runs[NRUNS];
    for (int k = 0; k < NRUNS; ++k) runs[k] = (dln_plot_run){subdirs[k], labels[k]};
    if ((st = dln_plot_write_multi(base->out, "001 Fig. 1: one- vs two-layer, Gaussian init (gradient flow)", runs, NRUNS, 1)))
      goto done;
    agg->plot = dln_plot_render(base->out, &agg->plot_exit);
    if (is_cancelled(opt)) {
      agg->train.stop_reason = DLN_STOP_CANCELLED;
      goto done;
    }
  }
  agg->fail_phase = DLN_RUN_FAIL_INTERNAL;
  sum = json_object();
  json_t *runs = json_array();
  if (!sum || !runs) {
    json_decref(runs);
    st = dln_error(DLN_ENOMEM, "out of memory");
    goto done;
  }
  json_object_set_new(sum, "dln_version", json_string(DLN_VERSION_STRING));
  json_object_set_new(sum, "complete", json_true());
  json_object_set_new(sum, "job", json_string("001 Fig. 1: one- vs two-layer factorization, Gaussian init"));
  json_object_set_new(sum, "spec", dln_spec_to_json(base));
  json_object_set_new(sum, "blas", blas_json());
  for (int k = 0; k < NRUNS; ++k) {
    const dln_train_result *tr = &rr[k].train;
    json_t *r = json_object();
    json_object_set_new(r, "folder", json_string(subdirs[k]));
    json_object_set_new(r, "model", json_string(k % 2 ? "two-layer" : "one-layer"));
    json_object_set_new(r, "sigma", json_real(sigmas[k / 2]));
    json_object_set_new(r, "stop_reason", json_string(dln_stop_reason_name(tr->stop_reason)));
    json_object_set_new(r, "t_threshold", dln_json_num(tr->t_threshold));
    json_object_set_new(r, "recon_init", dln_json_num(rr[k].recon_init));
    json_object_set_new(r, "recon_final", dln_json_num(rr[k].recon_final));
    json_object_set_new(r, "max_conserved_drift", dln_json_num(rr[k].max_drift));
    json_object_set_new(r, "counters", dln_train_counters_json(tr));
    json_object_set_new(r, "wall_ms", dln_json_num(rr[k].wall_ms));
    json_array_append_new(runs, r);
  }
  json_object_set_new(sum, "runs", runs);
  static const char *const plot_names[] = {"off", "rendered", "no matplotlib", "plot.py failed", "script only"};
  json_object_set_new(sum, "figure", json_string(plot_names[agg->plot]));
  json_object_set_new(sum, "stop_reason", json_string(dln_stop_reason_name(agg->train.stop_reason)));
  json_object_set_new(sum, "wall_seconds", dln_json_num(now_seconds() - t0));
  if (is_cancelled(opt)) { /* no summary.json after a SIGINT (see run_impl) */
    agg->train.stop_reason = DLN_STOP_CANCELLED;
    goto done;
  }
  agg->fail_phase = DLN_RUN_FAIL_OUTPUT;
  {
    char *p = path_join(base->out, "summary.json");
    if (!p) {
      st = dln_error(DLN_ENOMEM, "out of memory");
      goto done;
    }
    st = dln_json_write(p, sum);
    free(p);
  }
done:
  if (!st && agg->train.stop_reason != DLN_STOP_CANCELLED) agg->fail_phase = DLN_RUN_FAIL_NONE;
  agg->wall_ms = 1e3 * (now_seconds() - t0);
  json_decref(sum);
  dln_spec_free(&s);
  (void)nrun;
  return st;
}
