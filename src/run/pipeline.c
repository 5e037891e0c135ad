/* The pipeline builder shared by `dln run` (run.c), the default job (fig1.c), `dln sweep`
 * (ensemble_*.c) and `dln check` (check.c): spec -> task data -> loss -> network -> init ->
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
#include "run/spec_internal.h"

/* The task's options of spec s with its own block and the file loader. */
static dln_task_options task_options(const dln_spec *s, const dln_task_type *t) {
  dln_task_options o = s->data;
  o.own = dln_spec_type_block(s, t->options);
  o.load = dln_matrix_load;
  return o;
}


void dln_run_data_free(dln_run_data *d) { dln_task_data_free(d); }

int dln_run_data_build(const dln_spec *s, dln_rng *rng, dln_run_data *d, int *phase) {
  memset(d, 0, sizeof *d);
  *phase = DLN_RUN_FAIL_INPUT;
  const dln_task_type *t = dln_task_find(s->task);
  if (!t) return dln_error(DLN_EINVAL, "task %s: not registered", s->task);
  dln_task_options o = task_options(s, t);
  const char *field = NULL;
  int st = dln_task_data_build(t, &o, rng, d, &field);
  if (st) return dln_spec_blame(s, st, field);
  *phase = DLN_RUN_FAIL_NONE;
  return DLN_OK;
}

/* The loss of the task on data d. */
static int data_loss(const dln_spec *s, const dln_run_data *d, dln_loss **loss) {
  dln_task_options o = task_options(s, d->type);
  return dln_task_loss(d->type, &o, d, loss); /* with its true matrix (dist_true) */
}

/* The init of spec s (drawn after the data from the same stream); with det_sign, redrawn
 * until sign det W agrees (dln_init_draw), *draws the number of draws. */
static int do_init(const dln_spec *s, dln_net *net, double *theta, dln_rng *rng, const dln_loss *loss, int *draws) {
  const dln_init_type *t = dln_init_find(s->init);
  if (!t) return dln_error(DLN_EINVAL, "init %s: not registered", s->init);
  dln_init_options o = s->init_opts;
  o.own = dln_spec_type_block(s, t->options);
  o.load = dln_matrix_load;
  const char *field = NULL;
  int st = dln_init_draw(t, &o, net, theta, rng, loss, &field, draws);
  return st ? dln_spec_blame(s, st, field) : DLN_OK;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* The explicit sample times of s merged with 0 and t_end, sorted, without duplicates, into
 * p->times (NULL when s has none). */
static int merged_times(const dln_spec *s, dln_run_parts *p) {
  int n = s->sample_times.n;
  if (!n) return DLN_OK;
  double *v = malloc(((size_t)n + 2) * sizeof *v);
  if (!v) return dln_error(DLN_ENOMEM, "out of memory allocating %d sample times", n + 2);
  v[0] = 0.0;
  v[1] = s->train.t_end;
  memcpy(v + 2, s->sample_times.v, (size_t)n * sizeof *v);
  qsort(v, (size_t)n + 2, sizeof *v, cmp_double);
  int k = 1;
  for (int i = 1; i < n + 2; ++i)
    if (v[i] != v[k - 1]) v[k++] = v[i];
  p->times = v;
  p->ntimes = k;
  return DLN_OK;
}

/* The training options of spec s: its training rows, the method type and its own option
 * block, the loss threshold of recon_threshold (from the target's norm), the explicit sample
 * times of p (merged_times; they take precedence over samples / log_samples / t_first). */
static void train_options(const dln_spec *s, const dln_loss *loss, const dln_run_parts *p, dln_train_options *to) {
  int e2e;
  *to = s->train;
  to->method = dln_run_method_type(s, &e2e); /* checked by dln_spec_check */
  to->method_options = to->method ? dln_spec_type_block(s, to->method->options) : NULL;
  if (s->recon_threshold > 0 && isfinite(loss->target_norm)) {
    double thr = 0.5 * pow(s->recon_threshold * loss->target_norm, 2);
    if (thr > to->loss_threshold) to->loss_threshold = thr;
  }
  if (!(s->train.t_first > 0)) to->t_first = s->train.t_end * 1e-4;
  to->sample_times = p->times;
  to->nsample_times = p->times ? p->ntimes : 0;
}

/* Noise and noisy_data (docs/disturbed.md): no files; their own stream, keyed by (seed,
 * stream) and a tag word (init_by_array of a 5-word key: not the 4-word stream of the data
 * and init), so `dln run` and run k of a sweep draw the same ξ_k / E_k whatever was drawn
 * before. noisy_data also gets D_k's buffer (to.noisy_D, read by the observer). */
static int noise_stream(const dln_spec *s, dln_run_parts *p, int kind) {
  char wb[512];
  if (s->train.disturbance_files.n)
    return dln_error(DLN_EINVAL, "%s: expected no files for disturbance %s, found %d",
                     dln_spec_where(s, "disturbance_files", wb, sizeof wb), s->train.disturbance, s->train.disturbance_files.n);
  uint32_t key[5] = {(uint32_t)s->seed, (uint32_t)(s->seed >> 32), (uint32_t)s->stream, (uint32_t)(s->stream >> 32),
                     kind == DLN_DISTURB_NOISE ? 0x6e6f6973u /* "nois" */ : 0x6e646174u /* "ndat" */};
  if (!(p->noise = dln_rng_alloc_key(key, 5))) return dln_error(DLN_ENOMEM, "out of memory for the noise stream");
  p->to.noise_rng = p->noise;
  if (kind == DLN_DISTURB_NOISY_DATA) {
    p->noisy_D = calloc(p->net->nparams ? p->net->nparams : 1, sizeof *p->noisy_D);
    if (!p->noisy_D) return dln_error(DLN_ENOMEM, "out of memory for the disturbance (%zu parameters)", p->net->nparams);
    p->to.noisy_D = p->noisy_D;
  }
  return DLN_OK;
}

/* The scalar/vector case of 000 §III: a layer-wise, untied depth-2 factorization with n = m = 1. */
static int scalar_case(const dln_run_parts *p) {
  const dln_net *n = p->net;
  return !p->e2e && !n->tied && n->depth == 2 && n->widths[0] == 1 && n->widths[2] == 1 && dln_loss_has(p->loss, DLN_LOSS_IDENTITY);
}

/* worst_case (000 §III; docs/disturbed.md): D depends on the state, so no files, and only
 * the scalar/vector case (depth 2, factorization, n = m = 1) has the S^− it pushes toward. */
static int worst_case_check(const dln_spec *s, dln_run_parts *p) {
  char wb[512];
  const dln_net *net = p->net;
  if (s->train.disturbance_files.n)
    return dln_error(DLN_EINVAL, "%s: expected no files for disturbance worst_case (D depends on the state), found %d",
                     dln_spec_where(s, "disturbance_files", wb, sizeof wb), s->train.disturbance_files.n);
  if (!scalar_case(p))
    return dln_error(DLN_EINVAL, "%s: expected depth 2, n = m = 1 and a factorization task for worst_case (000 sec. III), "
                     "found depth %d, n = %d, m = %d, loss %s", dln_spec_where(s, "disturbance", wb, sizeof wb),
                     net->depth, net->widths[0], net->widths[net->depth], dln_loss_name(p->loss));
  return DLN_OK;
}

/* r_alpha (R_α of 000 eq. 16) has no effect outside the scalar/vector case: refused when set
 * to α ≥ 0 (a negative value is "off"; summary.json echoes the default −1 of every run). */
static int r_alpha_check(const dln_spec *s, const dln_run_parts *p) {
  char wb[512];
  const dln_spec_option *o = dln_spec_find("r_alpha");
  if (!o || !s->origin[dln_spec_index(o)].kind || !(s->train.r_alpha >= 0) || scalar_case(p)) return DLN_OK;
  const dln_net *net = p->net;
  return dln_error(DLN_EINVAL, "%s: has no effect outside the scalar/vector case of 000 sec. III (depth 2, n = m = 1, a "
                   "layer-wise factorization): expected it unset, found %.15g (depth %d, n = %d, m = %d, loss %s%s)",
                   dln_spec_where(s, "r_alpha", wb, sizeof wb), s->train.r_alpha, net->depth, net->widths[0],
                   net->widths[net->depth], dln_loss_name(p->loss), p->e2e ? ", end-to-end method" : "");
}

/* The disturbance of 000 eq. 9 (docs/disturbed.md): D_j from disturbance_files[j−1],
 * each of W_j's shape, into p->dist in θ's layout. Layer-wise, untied networks only. */
static int load_disturbance(const dln_spec *s, dln_run_parts *p, int *phase) {
  char wb[512];
  const dln_slist *f = &s->train.disturbance_files;
  int kind = dln_train_disturbance_kind(&s->train), N = p->net->depth;
  if (kind == DLN_DISTURB_NONE) {
    if (f->n == 0) return DLN_OK;
    return dln_error(DLN_EINVAL, "%s: expected no files without a disturbance (--disturbance=none), found %d",
                     dln_spec_where(s, "disturbance_files", wb, sizeof wb), f->n);
  }
  const char *why = p->e2e ? "the end-to-end system (D_j is given per layer W_j)"
                    : p->net->tied ? "a tied network (one parameter block U, no W_j of its own)" : NULL;
  if (why)
    return dln_error(DLN_EINVAL, "%s: expected none for %s, found %s", dln_spec_where(s, "disturbance", wb, sizeof wb),
                     why, s->train.disturbance);
  if (kind == DLN_DISTURB_NOISE || kind == DLN_DISTURB_NOISY_DATA) return noise_stream(s, p, kind);
  if (kind == DLN_DISTURB_WORST) return worst_case_check(s, p);
  if (f->n != N)
    return dln_error(DLN_EINVAL, "%s: expected %d files (D_1..D_N, one per layer), found %d",
                     dln_spec_where(s, "disturbance_files", wb, sizeof wb), N, f->n);
  p->dist = calloc(p->net->nparams ? p->net->nparams : 1, sizeof *p->dist);
  if (!p->dist) return dln_error(DLN_ENOMEM, "out of memory for the disturbance (%zu parameters)", p->net->nparams);
  *phase = DLN_RUN_FAIL_INPUT;
  for (int j = 1; j <= N; ++j) {
    dln_mat *m = NULL;
    int st = dln_matrix_load(f->v[j - 1], &m), r = p->net->widths[j], c = p->net->widths[j - 1];
    if (st) return dln_error(st, "%s: %s", dln_spec_where(s, "disturbance_files", wb, sizeof wb), dln_last_error());
    if (m->rows != r || m->cols != c) {
      st = dln_error(DLN_EDIM, "disturbance_files: %s: expected D_%d of W_%d's shape %d x %d, found %d x %d",
                     f->v[j - 1], j, j, r, c, m->rows, m->cols);
    } else {
      for (size_t i = 0; i < (size_t)r * (size_t)c && !st; ++i)
        if (!isfinite(m->data[i]))
          st = dln_error(DLN_EINVAL, "disturbance_files: %s: expected finite entries, found %g at index %zu", f->v[j - 1],
                         m->data[i], i);
      if (!st) memcpy(p->dist + p->net->offset[j], m->data, (size_t)r * (size_t)c * sizeof *p->dist);
    }
    dln_mat_free(m);
    if (st) return st;
  }
  p->to.disturbance_D = p->dist;
  *phase = DLN_RUN_FAIL_SPEC;
  return DLN_OK;
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

/* The imbalance regularizer of spec s on the network (001 Prop. 4 eq. 27): λ0 I, or one
 * d_j x d_j matrix Λ_j per junction read from imbalance_reg_file. */
static int set_imbalance_reg(const dln_spec *s, dln_net *net) {
  const dln_net_options *no = &s->net;
  char wb[512];
  if (no->imbalance_reg.n) return dln_net_set_imbalance_reg(net, no->imbalance_reg.v[0], NULL);
  int nf = no->imbalance_reg_file.n;
  if (!nf) return DLN_OK;
  if (nf != net->depth - 1) /* dln_spec_check says so first */
    return dln_error(DLN_EINVAL, "%s: expected %d files, found %d", dln_spec_where(s, "imbalance_reg_file", wb, sizeof wb),
                     net->depth - 1, nf);
  dln_mat **m = calloc((size_t)nf, sizeof *m);
  const double **L = calloc((size_t)nf, sizeof *L);
  int st = (m && L) ? DLN_OK : dln_error(DLN_ENOMEM, "out of memory");
  for (int j = 1; j <= nf && !st; ++j) {
    const char *path = no->imbalance_reg_file.v[j - 1];
    int d = net->widths[j];
    if ((st = dln_matrix_load(path, &m[j - 1]))) break;
    if (m[j - 1]->rows != d || m[j - 1]->cols != d)
      st = dln_error(DLN_EDIM, "%s: file %d (%s): expected Lambda_%d of size d_%d x d_%d = %d x %d, found %d x %d",
                     dln_spec_where(s, "imbalance_reg_file", wb, sizeof wb), j, path, j, j, j, d, d, m[j - 1]->rows,
                     m[j - 1]->cols);
    else
      L[j - 1] = m[j - 1]->data;
  }
  if (!st) st = dln_net_set_imbalance_reg(net, 0.0, L);
  for (int j = 0; m && j < nf; ++j) dln_mat_free(m[j]);
  free(m);
  free(L);
  return st;
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
  if ((st = data_loss(s, d, &p->loss))) return st;
  rows = p->loss->rows;
  cols = p->loss->cols;
  if ((st = run_widths(s, rows, cols, &p->widths, &p->nw))) return st;
  if ((st = dln_net_alloc(&p->net, p->nw - 1, p->widths, s->net.tied))) return st;
  int sk; /* small_kernels other than auto (the environment's or tiny: dln_net_alloc) */
  if (strcmp(s->net.small_kernels, "auto") &&
      ((st = dln_small_kernels_parse(s->net.small_kernels, &sk)) || (st = dln_net_set_small_kernels(p->net, sk))))
    return st;
  int e2e_method = 0;
  dln_run_method_type(s, &e2e_method);
  if (!e2e_method) {
    *phase = s->net.imbalance_reg_file.n ? DLN_RUN_FAIL_INPUT : DLN_RUN_FAIL_SPEC; /* it reads files */
    if ((st = set_imbalance_reg(s, p->net))) return st;
    *phase = DLN_RUN_FAIL_SPEC;
  }
  size_t np = p->net->nparams ? p->net->nparams : 1;
  p->theta = calloc(np, sizeof *p->theta);
  p->theta0 = calloc(np, sizeof *p->theta0);
  if (!p->theta || !p->theta0) {
    *phase = DLN_RUN_FAIL_INTERNAL;
    return dln_error(DLN_ENOMEM, "out of memory for %zu parameters", p->net->nparams);
  }
  if (rng) {
    *phase = dln_init_find(s->init) == &dln_init_type_file ? DLN_RUN_FAIL_INPUT : DLN_RUN_FAIL_SPEC; /* it reads files */
    if ((st = do_init(s, p->net, p->theta, rng, p->loss, &p->init_draws))) return st;
    memcpy(p->theta0, p->theta, p->net->nparams * sizeof *p->theta);
  }

  *phase = DLN_RUN_FAIL_SPEC;
  dln_run_method_type(s, &p->e2e);
  if ((st = merged_times(s, p))) return *phase = DLN_RUN_FAIL_INTERNAL, st;
  train_options(s, p->loss, p, &p->to);
  if ((st = load_disturbance(s, p, phase)) || (st = r_alpha_check(s, p))) return st;
  if ((st = dln_train_check(&p->to))) return st;
  size_t cap = rng ? (size_t)dln_train_nsamples(&p->to) + 1 : 1;

  if (!p->e2e) {
    *phase = DLN_RUN_FAIL_INTERNAL;
    if ((st = dln_observer_alloc_run(&p->obs, p->net, p->loss, p->theta0, (const char *const *)s->observe.v,
                                     s->observe.n, &p->to)))
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
  free(p->dist);
  dln_rng_free(p->noise);
  free(p->noisy_D);
  dln_net_free(p->net);
  free(p->widths);
  free(p->times);
  dln_loss_free(p->loss);
  memset(p, 0, sizeof *p);
}

int dln_run_data_write(const dln_run_data *d, const dln_loss *loss, const char *dir, dln_run_files *files) {
  int st = DLN_OK, target_written = 0;
  for (int i = 0; d->type && d->type->files[i].option && !st; ++i) {
    st = dln_run_write_mat(dir, d->type->files[i].file, d->mats[i], files);
    target_written |= d->mats[i] && strcmp(d->type->files[i].file, "target.npy") == 0;
  }
  if (!st) st = dln_run_write_mat(dir, "W_true.npy", d->truth, files);
  /* a factorization's target Ybar (also Y X^+ of a reduced regression) */
  if (!st && !target_written && dln_loss_has(loss, DLN_LOSS_IDENTITY))
    st = dln_run_write_npy(dir, "target.npy", loss->rows, loss->cols, loss->wstar, files);
  return st;
}
