/* `dln run`: one run of the pipeline into a folder (dln/run.h): trajectory.csv, the layers
 * at init and at the end, the data, the reference solution, plot.py and figure.png,
 * summary.json, and manifest.json written last, which marks the run complete. Every file
 * is atomic. Order: spec check, inputs, lock, training, removal of the earlier run's
 * files (--force), outputs, summary, manifest (run_folder.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cblas.h>
#include <jansson.h>

#include "dln/error.h"
#include "dln/gemm.h"
#include "dln/io.h"
#include "dln/mat.h"
#include "dln/memory.h"
#include "dln/run.h"
#include "dln_version.h"
#include "observe/theory_obs.h"
#include "run/run_internal.h"

static json_t *row_json(const dln_table *t, size_t i) {
  json_t *o = json_object();
  if (!o || i >= t->nrows) return o;
  const double *r = t->data + i * (size_t)t->ncols;
  for (int c = 0; c < t->ncols; ++c) dln_jset(o, t->names[c], dln_json_num(r[c]));
  return o;
}

/* A step's return value meaning "cancelled: commit nothing more" (not a DLN status). */
#define RUN_CANCELLED (-1)

/* One run in progress: what run_impl's steps share. */
typedef struct run_ctx {
  const dln_spec *spec;
  const dln_run_options *opt;
  dln_run_result *res;
  int render, phase;
  double t0;
  dln_rng *rng;
  dln_run_data d;
  dln_run_parts p;
  dln_run_folder folder; /* a run of its own: the lock, the earlier manifest, the files */
  int own_folder;
  dln_run_files *files;  /* the files committed (folder.files, or the caller's list) */
  const char *run_id;
  int resume;      /* continue from spec->out's checkpoint (dln_run_resume) */
  dln_run_ckpt ck; /* the checkpoint read */
  dln_run_layers *layers; /* --observe=layers: every layer at every row (run_layers.c) */
  dln_run_baseline base; /* --baseline (solved before training) */
  dln_memory_sample mem0; /* at the start of a run of its own (dln/memory.h) */
} run_ctx;

static void result_init(dln_run_result *res) {
  memset(res, 0, sizeof *res);
  res->recon_init = res->recon_final = res->max_drift = NAN;
  res->loss_init = res->loss_final = NAN;
  res->loss_threshold = -1;
  res->train.t_threshold = res->train.fail_t = res->train.switched_at = NAN;
  res->train.fail_step = -1;
  res->checkpoint_t = NAN;
  res->checkpoint_step = -1;
}

/* ---- checkpoints and interruption (checkpoint.c, docs/resume.md) ---- */

static int run_ckpt_cb(void *ctx, const dln_train_checkpoint *cp) {
  run_ctx *c = ctx;
  int st = dln_mkdir_p(c->spec->out); /* a nested run's folder may not exist yet */
  if (!st) st = dln_run_checkpoint_write(c->spec->out, c->spec, c->p.traj, cp, c->p.noise);
  if (!st) c->res->checkpoint_t = cp->t, c->res->checkpoint_step = cp->step;
  return st;
}

/* Checkpoints go to the folder; a fresh run removes an old one, a resumed run reads its
 * own (spec and inputs unchanged) and starts from it with the trajectory rows so far.
 * Without a checkpoint (a run interrupted before its first) it starts from t = 0. */
static int run_ckpt_setup(run_ctx *c) {
  const char *out = c->spec->out;
  c->p.to.checkpoint = run_ckpt_cb;
  c->p.to.checkpoint_ctx = c;
  c->phase = DLN_RUN_FAIL_OUTPUT;
  if (!c->resume || !dln_run_checkpoint_exists(out)) return dln_run_checkpoint_remove(out);
  c->phase = DLN_RUN_FAIL_SPEC;
  int st = dln_run_checkpoint_read(out, c->spec, &c->ck);
  if (st) return st;
  const dln_mat *tr = c->ck.traj;
  dln_table *tb = c->p.traj;
  if (tr->rows != tb->ncols || (size_t)tr->cols > tb->cap || tr->cols > c->ck.cp.next_sample + 1)
    return dln_error(DLN_EFORMAT, "%s: the checkpoint's trajectory rows: expected at most %d rows of %d columns, found %d of %d", out,
                     c->ck.cp.next_sample + 1, tb->ncols, tr->cols, tr->rows);
  for (int j = 0; j < tr->cols && !st; ++j) st = dln_table_append(tb, tr->data + (size_t)j * (size_t)tr->rows);
  if (!st && (c->p.noise != NULL) != c->ck.has_rng) /* the spec is the same: a broken header */
    return dln_error(DLN_EFORMAT, "%s/checkpoint.json: rng: expected %s, found %s", out,
                     c->p.noise ? "the noise stream's state" : "null", c->ck.has_rng ? "a state" : "null");
  if (!st && c->p.noise) st = dln_rng_state_set(c->p.noise, c->ck.rng, DLN_RNG_STATE_WORDS);
  c->p.to.resume = &c->ck.cp;
  c->res->checkpoint_t = c->ck.cp.t;
  c->res->checkpoint_step = c->ck.cp.step;
  c->phase = DLN_RUN_FAIL_INTERNAL;
  return st;
}

/* Check the spec, draw or read the data, build the pipeline, then (a run of its own)
 * lock the folder and refuse earlier outputs without force. Nothing is written before. */
static int run_prepare(run_ctx *c) {
  const dln_spec *spec = c->spec;
  int st;
  c->phase = DLN_RUN_FAIL_SPEC;
  if ((st = dln_spec_check(spec))) return st;
  /* only when it changes: dln sweep draws its data sets through here on its worker
   * threads, with OpenBLAS already at one thread, and openblas_set_num_threads is not
   * meant to be called concurrently */
  if ((st = dln_gemm_set_threads(spec->blas_threads))) return st;
  if ((st = dln_gemm_select(spec->blas_backend))) return st;
  c->phase = DLN_RUN_FAIL_INTERNAL;
  if (!(c->rng = dln_rng_alloc(spec->seed, spec->stream))) return dln_error(DLN_ENOMEM, "cannot allocate the random stream");
  /* data first, then the init from the same stream */
  if ((st = dln_run_data_build(spec, c->rng, &c->d, &c->phase))) return st;
  if ((st = dln_run_parts_build(spec, &c->d, c->rng, &c->p, &c->phase))) return st;
  c->phase = DLN_RUN_FAIL_INTERNAL;
  if ((st = dln_run_baseline_solve(spec, c->p.loss, 1, &c->base))) return st;
  c->res->loss_threshold = c->p.to.loss_threshold;
  if (!c->p.e2e && dln_run_layers_wanted(spec)) { /* dln_spec_check refused it for e2e and checkpoints */
    if ((st = dln_run_layers_alloc(&c->layers, c->p.net, c->p.traj->cap))) return st;
    dln_run_layers_hook(c->layers, &c->p.to);
  }
  if (c->opt) {
    c->p.to.progress = c->opt->progress;
    c->p.to.progress_ctx = c->opt->progress_ctx;
  }
  if (c->own_folder) { /* a resumed run replaces the interrupted run's own files */
    if ((st = dln_run_folder_open(&c->folder, spec->out, spec->force || c->resume, NULL, NULL, &c->phase))) return st;
    /* what a killed run (SIGKILL: no handler ran) left half-written: never read, removed */
    if ((st = dln_run_folder_remove_debris(&c->folder, 0, NULL))) return st;
    c->files = &c->folder.files;
    c->run_id = c->folder.run_id;
  }
  return run_ckpt_setup(c);
}

/* Loss, reconstruction error and the largest conserved-quantity drift from the trajectory. */
static void run_measure(run_ctx *c) {
  dln_run_result *res = c->res;
  const dln_table *traj = c->p.traj;
  res->loss_final = res->train.loss; /* the driver's φ at the end, also without a loss column */
  if (!traj->nrows) return;
  int cl = dln_table_col(traj, "loss"), cr = dln_table_col(traj, "recon_err");
  const double *r0 = traj->data, *r1 = traj->data + (traj->nrows - 1) * (size_t)traj->ncols;
  if (cl >= 0) res->loss_init = r0[cl], res->loss_final = r1[cl];
  if (cr >= 0) res->recon_init = r0[cr], res->recon_final = r1[cr];
  for (int col = 0; col < traj->ncols; ++col) {
    if (strncmp(traj->names[col], "drift_C", 7) != 0) continue;
    for (size_t i = 0; i < traj->nrows; ++i) {
      double v = traj->data[i * (size_t)traj->ncols + (size_t)col];
      if (isfinite(v) && !(v <= res->max_drift)) res->max_drift = v;
    }
  }
}

/* trajectory.csv, the layers, the data and the loss's reference solution. */
/* The Λ_j of imbalance_reg_file, copied into the run folder as imbalance_Lambda<j>.npy
 * (dln check reads them from there, docs/regularizer.md). */
static int write_imbalance_lambdas(const dln_spec *s, const char *out, dln_run_files *files) {
  int st = DLN_OK;
  for (int j = 1; j <= s->net.imbalance_reg_file.n && !st; ++j) {
    dln_mat *m = NULL;
    char name[48];
    snprintf(name, sizeof name, "imbalance_Lambda%d.npy", j);
    if (!(st = dln_matrix_load(s->net.imbalance_reg_file.v[j - 1], &m))) st = dln_run_write_mat(out, name, m, files);
    dln_mat_free(m);
  }
  return st;
}

static int run_write_arrays(run_ctx *c) {
  const char *out = c->spec->out;
  dln_run_parts *p = &c->p;
  int st;
  char *path = dln_path_join(out, "trajectory.csv");
  if (!path) return dln_error(DLN_ENOMEM, "out of memory");
  st = dln_table_write_csv(p->traj, path);
  free(path);
  if (!st) st = dln_run_files_add(c->files, "trajectory.csv");
  if (st || (st = dln_run_write_layers(out, p->net, p->theta0, "init", c->files))) return st;
  if (p->e2e) { /* the state is W = W_N···W_1 alone; the layers stay at their init */
    int rows = dln_net_rows(p->net), cols = dln_net_cols(p->net);
    if ((st = dln_run_write_npy(out, "W_init.npy", rows, cols, p->W0, c->files)) ||
        (st = dln_run_write_npy(out, "W_final.npy", rows, cols, p->W, c->files)))
      return st;
  } else if ((st = dln_run_write_layers(out, p->net, p->theta, "final", c->files)) ||
             (c->layers && (st = dln_run_layers_write(c->layers, out, p->theta, p->traj->nrows, c->files)))) {
    return st;
  }
  if ((st = dln_run_data_write(&c->d, p->loss, out, c->files))) return st;
  if (c->base.on && (st = dln_run_write_npy(out, "W_nuclear.npy", p->loss->rows, p->loss->cols, c->base.W, c->files)))
    return st;
  if ((st = write_imbalance_lambdas(c->spec, out, c->files))) return st;
  /* the disturbance D_j of 000 eq. 9 as run, for `dln check` (W{j}_disturbance.npy) */
  if (p->dist && (st = dln_run_write_layers(out, p->net, p->dist, "disturbance", c->files))) return st;
  /* the loss's reference solution (minimum-norm least squares); a factorization's is its target */
  if (p->loss->wstar && !dln_loss_has(p->loss, DLN_LOSS_IDENTITY))
    return dln_run_write_npy(out, "W_ref.npy", p->loss->rows, p->loss->cols, p->loss->wstar, c->files);
  return DLN_OK;
}

static int run_write_plot(run_ctx *c) {
  const dln_spec *spec = c->spec;
  char title[1024], wb[512];
  snprintf(title, sizeof title, "%s, widths %s, %s, init %s (sigma %g), seed %llu", spec->task,
           dln_spec_value_text(spec, dln_spec_find("widths"), wb, sizeof wb)[0] ? wb : "default", spec->method, spec->init,
           spec->init_opts.sigma, (unsigned long long)spec->seed);
  int st = dln_plot_write_single(spec->out, title);
  if (st || (st = dln_run_files_add(c->files, "plot.py"))) return st;
  c->res->plot = DLN_PLOT_SCRIPT_ONLY;
  if (c->render) c->res->plot = dln_plot_render(spec->out, &c->res->plot_exit);
  return c->res->plot == DLN_PLOT_RENDERED ? dln_run_files_add(c->files, "figure.png") : DLN_OK;
}

/* The "task" object of the summary: the loss, the network and the reference solution. */
static json_t *summary_task(const dln_spec *spec, const dln_loss *loss, const dln_net *net) {
  json_t *task = json_object();
  dln_jset(task, "loss", json_string(loss->ops && loss->ops->name ? loss->ops->name : spec->task));
  dln_jset(task, "rows", json_integer(loss->rows));
  dln_jset(task, "cols", json_integer(loss->cols));
  json_t *wj = json_array();
  for (int j = 0; j <= net->depth; ++j) dln_jappend(wj, json_integer(net->widths[j]));
  dln_jset(task, "widths", wj);
  dln_jset(task, "tied", json_boolean(net->tied));
  dln_jset(task, "nparams", json_integer((json_int_t)net->nparams));
  dln_jset(task, "lstar", dln_json_num(loss->lstar));
  dln_jset(task, "reference", loss->wstar_name ? json_string(loss->wstar_name) : json_null());
  int own_ref = loss->wstar && !dln_loss_has(loss, DLN_LOSS_IDENTITY);
  dln_jset(task, "reference_file",
                      own_ref ? json_string("W_ref.npy") : loss->wstar ? json_string("target.npy") : json_null());
  dln_jset(task, "target_norm", dln_json_num(loss->target_norm));
  return task;
}

/* A classification loss (DLN_LOSS_CLASSIFY): L* = inf ℓ is unknown in general and, on
 * separable data, 0 but not attained. Separability is certified by the trained W: every
 * margin y_i W x_i (softmax: (W x_i)_{c_i} − max_{k≠c_i} (W x_i)_k) is > 0 at the end. */
static void summary_classify(json_t *task, const run_ctx *c) {
  const dln_run_parts *p = &c->p;
  dln_loss *loss = p->loss;
  double *W = p->e2e ? NULL : calloc((size_t)loss->rows * (size_t)loss->cols, sizeof *W), m = NAN, nw = NAN;
  const double *Wf = p->e2e ? p->W : W;
  if (Wf && (p->e2e || !dln_net_product(p->net, p->theta, W)) && !dln_loss_margin(loss, Wf, &m))
    nw = dln_norm2((size_t)loss->rows * (size_t)loss->cols, Wf);
  free(W);
  if (!Wf) { /* out of memory: the summary must not go out without these keys */
    dln_jset(task, "separable", NULL);
    return;
  }
  dln_jset(task, "separable", m > 0 ? json_true() : json_null());
  dln_jset(task, "lstar_note",
           json_string(m > 0 ? "not attained: data separable (the trained W classifies every sample, min margin > 0), "
                               "loss -> 0 only as |W| -> infinity"
                             : "unknown: the trained W does not separate the data (min margin <= 0); inf loss not computed"));
  dln_jset(task, "margin_min", dln_json_num(m));
  dln_jset(task, "margin_normalized", dln_json_num(nw > 0 ? m / nw : NAN));
  dln_jset(task, "w_norm", dln_json_num(nw));
}

/* The dynamics' extras: the end-to-end system and the theory observer's choices. */
/* What noisy_data perturbs for this loss (src/dynamics/noisy_data.c). */
static const char *noisy_target(const dln_loss *loss) {
  if (dln_loss_has(loss, DLN_LOSS_IDENTITY)) return "target Ybar + scale E_k";
  if (dln_loss_has(loss, DLN_LOSS_LSQ_DESIGN)) return "Y + scale E_k (X unperturbed)";
  return "b + scale e_k";
}

static void summary_dynamics(json_t *sum, const run_ctx *c) {
  const dln_run_parts *p = &c->p;
  dln_jset(sum, "dynamics", json_string(p->e2e ? "end-to-end" : "layer-wise"));
  if (c->spec->init_opts.det_sign) { /* dln_init_draw: the draws until sign det W(0) agreed */
    json_t *ds = json_object();
    dln_jset(ds, "det_sign", json_integer(c->spec->init_opts.det_sign));
    dln_jset(ds, "draws", json_integer(p->init_draws));
    dln_jset(sum, "init_det_sign", ds);
  }
  if (p->e2e) {
    json_t *e = json_object();
    dln_jset(e, "depth", json_integer(dln_e2e_depth(p->dyn)));
    dln_jset(e, "unbalancedness_init", dln_json_num(dln_net_unbalancedness(p->net, p->theta0)));
    dln_jset(e, "balance_tol", dln_json_num(c->spec->e2e_balance_tol));
    dln_jset(e, "svds", json_integer(dln_e2e_num_svd(p->dyn)));
    dln_jset(sum, "e2e", e);
  }
  int worst = !p->e2e && dln_train_disturbance_kind(&p->to) == DLN_DISTURB_WORST;
  if (p->dist || worst) { /* the disturbed flow of 000 eq. 9: D(t) = a(t) D, D_j in W{j}_disturbance.npy; or D(θ) */
    json_t *d = json_object(), *files = json_array();
    const dln_train_options *o = &p->to;
    dln_jset(d, "kind", json_string(o->disturbance));
    dln_jset(d, "scale", dln_json_num(o->disturbance_scale));
    if (worst) dln_jset(d, "direction", json_string("U = V^T = -(scale/2)(P+Q)/|P+Q| toward S^- (000 sec. III); 0 on S^-"));
    dln_jset(d, "omega", dln_json_num(o->disturbance_omega));
    dln_jset(d, "phase", dln_json_num(o->disturbance_phase));
    dln_jset(d, "D_norm", p->dist ? dln_json_num(dln_norm2(p->net->nparams, p->dist)) : json_null());
    for (int j = 0; j < o->disturbance_files.n; ++j) dln_jappend(files, json_string(o->disturbance_files.v[j]));
    dln_jset(d, "files", files);
    const int *w = p->net->widths;
    if (o->r_alpha >= 0 && p->net->depth == 2 && w[0] == 1 && w[2] == 1 && p->loss->wstar && p->loss->wstar[0] > 0) {
      double al = o->r_alpha, Y = p->loss->wstar[0]; /* 000 Thm 2 eq. 17: largest admissible ‖U‖ + ‖V‖ */
      dln_jset(d, "r_alpha", dln_json_num(al));
      dln_jset(d, "thm2_max_disturbance", dln_json_num(al < 2 * sqrt(Y) ? al * (Y - al * al / 4) / sqrt(2.0) : NAN));
    }
    dln_jset(sum, "disturbance", d);
  }
  if (p->noise) { /* noise: dθ = −∇φ dt + scale dB_t by Euler–Maruyama; noisy_data: GD on perturbed targets */
    int nd = p->noisy_D != NULL;
    json_t *d = json_object();
    dln_jset(d, "kind", json_string(nd ? "noisy_data" : "noise"));
    dln_jset(d, "scale", dln_json_num(p->to.disturbance_scale));
    dln_jset(d, "scheme", json_string(nd ? "gd-perturbed-targets" : "euler-maruyama"));
    if (nd) dln_jset(d, "perturbed", json_string(noisy_target(p->loss)));
    dln_jset(d, "stream_key", json_string(nd ? "(seed, stream, 0x6e646174)" : "(seed, stream, 0x6e6f6973)"));
    dln_jset(sum, "disturbance", d);
  }
  if (p->obs && dln_observer_xflags(p->obs)) { /* theory columns (observe/theory_obs.h) */
    const char *cfn = dln_observer_cf_name(p->obs), *note = dln_observer_theory_note(p->obs);
    json_t *th = json_object();
    dln_jset(th, "closed_form", *cfn ? json_string(cfn) : json_null());
    dln_jset(th, "note", json_string(note));
    dln_jset(sum, "theory_observer", th);
  }
}

/* The stop and its numbers. */
static void summary_stop(json_t *sum, const dln_run_result *res, const dln_table *traj) {
  const dln_train_result *tr = &res->train;
  dln_jset(sum, "loss_threshold", res->loss_threshold >= 0 ? dln_json_num(res->loss_threshold) : json_null());
  dln_jset(sum, "initial", row_json(traj, 0));
  dln_jset(sum, "final", row_json(traj, traj->nrows ? traj->nrows - 1 : 0));
  dln_jset(sum, "max_conserved_drift", dln_json_num(res->max_drift));
  dln_jset(sum, "stop_reason", json_string(dln_stop_reason_name(tr->stop_reason)));
  dln_jset(sum, "message", json_string(tr->message));
  dln_jset(sum, "t", dln_json_num(tr->t));
  dln_jset(sum, "t_threshold", dln_json_num(tr->t_threshold));
  dln_jset(sum, "fail_t", dln_json_num(tr->fail_t));
  dln_jset(sum, "fail_step", tr->fail_step >= 0 ? json_integer(tr->fail_step) : json_null());
  dln_jset(sum, "counters", dln_train_counters_json(tr));
  dln_jset(sum, "samples_written", json_integer((json_int_t)traj->nrows));
  dln_jset(sum, "train_wall_seconds", dln_json_num(tr->wall_seconds));
  dln_jset(sum, "wall_seconds", dln_json_num(res->wall_ms * 1e-3));
  static const char *const plot_names[] = {"off", "rendered", "no matplotlib", "plot.py failed", "script only"};
  dln_jset(sum, "figure", json_string(plot_names[res->plot]));
}

/* The summary's "memory" object (docs/memory.md): need = the peak of the bytes libdln held
 * on this thread since the start of the run (allocation hook); ratio = (peak RSS − RSS at
 * the start) / need. Runs of their own only: a nested run shares its process with others. */
static json_t *memory_json(const run_ctx *c) {
  dln_memory_sample m;
  if (!c->own_folder || dln_memory_sample_now(&m)) return json_null();
  const dln_memory_sample *m0 = &c->mem0;
  long long need = m.heap_peak_bytes - m0->heap_bytes, grow = m.peak_rss_bytes - m0->rss_bytes;
  int rss = m0->rss_bytes >= 0 && m.peak_rss_bytes >= 0;
  json_t *o = json_object();
  dln_jset(o, "need_bytes", json_integer(need));
  dln_jset(o, "weights_bytes", json_integer(c->p.net ? (json_int_t)(c->p.net->nparams * sizeof(double)) : 0));
  dln_jset(o, "baseline_rss_bytes", rss ? json_integer(m0->rss_bytes) : json_null());
  dln_jset(o, "peak_rss_bytes", rss ? json_integer(m.peak_rss_bytes) : json_null());
  dln_jset(o, "ratio", rss && need > 0 ? dln_json_num((double)grow / (double)need) : json_null());
  dln_jset(o, "peak_since", json_string(m.peak_since_mark ? "run start" : "process start"));
  return o;
}

static json_t *run_summary(const run_ctx *c) {
  unsigned long mark = dln_json_mark();
  const dln_spec *spec = c->spec;
  json_t *sum = json_object();
  if (!sum) return NULL;
  dln_jset(sum, "dln_version", json_string(DLN_VERSION_STRING));
  dln_jset(sum, "complete", json_true());
  dln_jset(sum, "run_id", c->run_id ? json_string(c->run_id) : json_null());
  dln_jset(sum, "spec", dln_spec_to_json(spec));
  char sb[32];
  snprintf(sb, sizeof sb, "%llu", (unsigned long long)spec->seed);
  dln_jset(sum, "seed", json_string(sb));
  dln_jset(sum, "stream", json_integer((json_int_t)spec->stream));
  dln_jset(sum, "blas", dln_run_blas_json());
  /* the path of the network's small products as resolved (spec small_kernels, issue 14) */
  dln_jset(sum, "small_kernels", json_string(dln_small_kernels_name(dln_net_small_kernels(c->p.net))));
  json_t *task = summary_task(spec, c->p.loss, c->p.net);
  if (task && dln_loss_has(c->p.loss, DLN_LOSS_CLASSIFY)) summary_classify(task, c);
  dln_jset(sum, "task", task);
  summary_dynamics(sum, c);
  if (c->base.on) dln_jset(sum, "baseline", dln_run_baseline_json(&c->base, "W_nuclear.npy"));
  summary_stop(sum, c->res, c->p.traj);
  json_t *ep = NULL;
  dln_run_endpoint_json(&c->p, &ep); /* a failure leaves NULL: counted, no summary */
  dln_jset(sum, "endpoint", ep);
  dln_jset(sum, "memory", memory_json(c));
  return dln_json_done(sum, mark); /* NULL: out of memory, nothing written */
}

/* summary.json of an interrupted run: "complete": false, stop_reason "interrupted", the
 * point reached and the checkpoint to resume from (null: none, resume starts over). */
static int run_write_interrupted_summary(run_ctx *c) {
  c->res->wall_ms = 1e3 * (dln_now_seconds() - c->t0);
  unsigned long mark = dln_json_mark();
  json_t *sum = run_summary(c);
  if (!sum) return dln_error(DLN_ENOMEM, "%s/summary.json: out of memory while building it; not written", c->spec->out);
  const dln_train_result *tr = &c->res->train;
  char msg[640];
  snprintf(msg, sizeof msg, "interrupted at step %ld (t = %.6g); %s", tr->steps, tr->t, tr->message);
  dln_jset(sum, "complete", json_false());
  dln_jset(sum, "stop_reason", json_string("interrupted"));
  dln_jset(sum, "message", json_string(msg));
  json_t *ck = json_null();
  if (c->res->checkpoint_step >= 0) {
    ck = json_object();
    dln_jset(ck, "file", json_string("checkpoint.json"));
    dln_jset(ck, "t", dln_json_num(c->res->checkpoint_t));
    dln_jset(ck, "step", json_integer(c->res->checkpoint_step));
  }
  dln_jset(sum, "checkpoint", ck);
  c->phase = DLN_RUN_FAIL_OUTPUT;
  sum = dln_json_done(sum, mark); /* NULL: dln_run_write_json reports it */
  int st = dln_run_write_json(c->spec->out, "summary.json", sum, c->files);
  json_decref(sum);
  if (!st && c->own_folder) st = dln_run_folder_finish(&c->folder, "run", 0); /* complete = false */
  return st ? st : RUN_CANCELLED;
}

/* A run stopped by a signal: the outputs so far (trajectory up to the stop, the state
 * reached), an incomplete summary and a manifest with complete = false. With force, they
 * replace the earlier run's files like a finished run's would. */
static int run_interrupted(run_ctx *c) {
  run_measure(c);
  c->phase = DLN_RUN_FAIL_OUTPUT;
  int st = c->own_folder ? dln_run_folder_begin(&c->folder) : dln_mkdir_p(c->spec->out);
  if (!st) st = run_write_arrays(c);
  return st ? st : run_write_interrupted_summary(c);
}

/* The finished run in memory for opt->keep (text: summary.json's, NULL when out of memory). */
static int run_keep(run_ctx *c, const char *text) {
  c->phase = DLN_RUN_FAIL_INTERNAL;
  if (!text) return dln_error(DLN_ENOMEM, "%s: out of memory keeping the run's summary", c->spec->out);
  const dln_run_parts *p = &c->p;
  dln_run_view v = {p->traj, p->net, p->theta0, p->e2e ? NULL : p->theta, p->loss->rows, p->loss->cols,
                    p->e2e ? p->W0 : NULL, p->e2e ? p->W : NULL, text, c->res->train.stop_reason};
  return c->opt->keep(c->opt->keep_ctx, &v); /* its status, with its message */
}

/* Train, write the outputs and the summary. RUN_CANCELLED when the run was cancelled (nothing more
 * is committed), else a status. */
static int run_body(run_ctx *c) {
  const dln_run_options *opt = c->opt;
  int st;
  c->phase = DLN_RUN_FAIL_INTERNAL;
  if (opt && opt->run_event) opt->run_event(opt->progress_ctx, 0, c->spec->out);
  st = dln_run_parts_train(&c->p, &c->res->train);
  if (opt && opt->run_event) opt->run_event(opt->progress_ctx, 1, c->spec->out);
  if (st) return st;
  if (c->res->train.stop_reason == DLN_STOP_CANCELLED || dln_run_is_cancelled(opt)) return run_interrupted(c);
  run_measure(c);
  c->phase = DLN_RUN_FAIL_OUTPUT; /* outputs, summary.json, manifest.json last */
  if ((st = c->own_folder ? dln_run_folder_begin(&c->folder) : dln_mkdir_p(c->spec->out))) return st;
  if ((st = run_write_arrays(c))) return st;
  if (c->spec->plot) {
    if ((st = run_write_plot(c))) return st;
    if (dln_run_is_cancelled(opt)) return run_write_interrupted_summary(c);
  }
  if ((st = dln_run_checkpoint_remove(c->spec->out))) return st; /* finished: nothing to resume */
  c->res->wall_ms = 1e3 * (dln_now_seconds() - c->t0);
  c->phase = DLN_RUN_FAIL_INTERNAL;
  json_t *sum = run_summary(c);
  if (!sum) return dln_error(DLN_ENOMEM, "%s/summary.json: out of memory while building it; not written", c->spec->out);
  /* last chance to cancel: a SIGINT while the outputs were written must not leave a
   * summary.json (the mark of a complete run) */
  if (dln_run_is_cancelled(opt)) {
    json_decref(sum);
    return run_write_interrupted_summary(c);
  }
  c->phase = DLN_RUN_FAIL_OUTPUT;
  st = dln_run_write_json(c->spec->out, "summary.json", sum, c->files);
  char *text = !st && opt && opt->keep ? json_dumps(sum, JSON_COMPACT | JSON_REAL_PRECISION(17)) : NULL;
  json_decref(sum);
  if (!st && c->own_folder && (st = dln_run_folder_finish(&c->folder, "run", 1))) {
    char *p = dln_path_join(c->spec->out, "summary.json"); /* no manifest: not complete */
    if (p) unlink(p);
    free(p);
  }
  if (!st && opt && opt->keep) st = run_keep(c, text);
  free(text);
  return st;
}

/* The start of a run of its own for its "memory" object: libxsmm's start-up tables (built
 * with the first network of the process) belong to the baseline, so one 1 x 1 network first. */
static int run_memory_mark(run_ctx *c) {
  dln_net *warm = NULL;
  c->phase = DLN_RUN_FAIL_INTERNAL;
  int st = dln_net_alloc(&warm, 1, (const int[]){1, 1}, 0);
  dln_net_free(warm);
  return st ? st : dln_memory_mark(&c->mem0);
}

/* files == NULL: a run of its own (lock, manifest); else a nested run into the caller's folder. */
static int run_impl(const dln_spec *spec, const dln_run_options *opt, dln_run_result *res, int render, int resume,
                    const char *run_id, dln_run_files *files) {
  run_ctx c;
  memset(&c, 0, sizeof c);
  c.folder.lock_fd = -1;
  c.resume = resume;
  c.spec = spec;
  c.opt = opt;
  c.res = res;
  c.render = render;
  c.own_folder = files == NULL;
  c.files = files;
  c.run_id = run_id;
  c.t0 = dln_now_seconds();
  result_init(res);
  int st = c.own_folder ? run_memory_mark(&c) : DLN_OK;
  if (!st) st = run_prepare(&c);
  if (!st) st = run_body(&c);
  if (st == RUN_CANCELLED) { /* cancelled */
    res->train.stop_reason = DLN_STOP_CANCELLED;
    st = DLN_OK;
  } else if (st) {
    res->fail_phase = c.phase;
  }
  if (!res->wall_ms) res->wall_ms = 1e3 * (dln_now_seconds() - c.t0);
  dln_run_ckpt_free(&c.ck);
  dln_run_layers_free(c.layers);
  dln_run_baseline_free(&c.base);
  dln_run_parts_free(&c.p);
  dln_run_data_free(&c.d);
  dln_rng_free(c.rng);
  dln_run_folder_close(&c.folder);
  return st;
}

int dln_run(const dln_spec *spec, const dln_run_options *opt, dln_run_result *res) {
  dln_run_result local;
  if (!res) res = &local;
  if (!spec) return dln_error(DLN_EINVAL, "dln_run: spec must not be NULL");
  return run_impl(spec, opt, res, 1, 0, NULL, NULL);
}

int dln_run_noplot(const dln_spec *spec, const dln_run_options *opt, dln_run_result *res) {
  dln_run_result local;
  if (!res) res = &local;
  if (!spec) return dln_error(DLN_EINVAL, "dln_run_noplot: spec must not be NULL");
  return run_impl(spec, opt, res, 0, 0, NULL, NULL);
}

int dln_run_nested(const dln_spec *spec, const dln_run_options *opt, dln_run_result *res, int render,
                   const char *run_id, dln_run_files *files) {
  dln_run_result local;
  if (!res) res = &local;
  if (!spec || !files) return dln_error(DLN_EINVAL, "dln_run_nested: spec and files must not be NULL");
  return run_impl(spec, opt, res, render, 0, run_id, files);
}

int dln_run_resume(const dln_spec *spec, const dln_run_options *opt, dln_run_result *res) {
  dln_run_result local;
  if (!res) res = &local;
  if (!spec) return dln_error(DLN_EINVAL, "dln_run_resume: spec must not be NULL");
  return run_impl(spec, opt, res, 1, 1, NULL, NULL);
}

int dln_run_resume_noplot(const dln_spec *spec, const dln_run_options *opt, dln_run_result *res) {
  dln_run_result local;
  if (!res) res = &local;
  if (!spec) return dln_error(DLN_EINVAL, "dln_run_resume_noplot: spec must not be NULL");
  return run_impl(spec, opt, res, 0, 1, NULL, NULL);
}
