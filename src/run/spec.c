/* Run specification (dln/spec.h): the concatenation of every module's option rows into
 * one table that serves the command line, the JSON reader, --help, docs/cli.md and the
 * summary echo. Each row is owned by its module (dln/option.h); this file owns only the
 * run's own rows (which task, initialization and method, the seed, the observers and the
 * outputs) and knows where each module's fields live in struct dln_spec. */
#include "dln/spec.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "dln/error.h"
#include "dln/integrator.h"
#include "dln/observe.h"
#include "observe/theory_obs.h"
#include "run/spec_internal.h"

#define OFF(f) offsetof(dln_spec, f)

static const char *const systems[] = {"layerwise", "e2e", NULL};
static const char *const baselines[] = {"none", "nuclear", NULL};
static const char *const blas_backends[] = {"auto", "openblas", "blis", "xsmm", NULL};

/* The method names: every registered integrator, then "e2e_<name>" for those that need no
 * Hessian-vector products (the end-to-end system with that integrator: e2e_gd, e2e_flow).
 * The e2e names are made when the table is built (build_table), before any run reads them. */
static char e2e_names[DLN_SPEC_MAXOWN * 2][72];
static int ne2e;

static const char *method_name_at(int i) {
  int k = 0;
  while (dln_integrator_at(k)) ++k;
  if (i < k) return dln_integrator_name_at(i);
  return i - k < ne2e ? e2e_names[i - k] : NULL;
}

static void make_e2e_names(void) {
  ne2e = 0;
  const dln_integrator_type *t;
  for (int j = 0; (t = dln_integrator_at(j)) && ne2e < DLN_SPEC_MAXOWN * 2; ++j)
    if (!(t->flags & DLN_INTEG_NEEDS_HVP)) snprintf(e2e_names[ne2e++], sizeof e2e_names[0], "e2e_%s", t->name);
}

static int sample_times_check(const dln_option *o, const void *field, char *msg, size_t len) {
  (void)o;
  int n = ((const dln_dlist *)field)->n;
  if (n <= 10000000) return 0;
  snprintf(msg, len, "expected at most 10^7 times, found %d", n);
  return 1;
}

/* clang-format off */
static const dln_option run_rows[] = {
  {"task", DLN_OPT_ENUM, OFF(task), NULL, "loss of the end-to-end matrix W (d_N x d_0)", NULL, DLN_OPTR_NONE, 0, 0, NULL, dln_task_name_at},
  {"init", DLN_OPT_ENUM, OFF(init), NULL, "initialization scheme", NULL, DLN_OPTR_NONE, 0, 0, NULL, dln_init_name_at},
  {"seed", DLN_OPT_U64, OFF(seed), "1", "random seed (data drawn first, then the init)", NULL, DLN_OPTR_NONE, 0, 0, NULL, NULL},
  {"stream", DLN_OPT_U64, OFF(stream), "0", "random stream index (run k of a sweep)", NULL, DLN_OPTR_NONE, 0, 0, NULL, NULL},
  {"method", DLN_OPT_ENUM, OFF(method), NULL, "dynamics: an integrator (its options are listed under its name below); e2e_<integrator> is short for --system=e2e with that integrator", NULL, DLN_OPTR_NONE, 0, 0, NULL, method_name_at},
  {"system", DLN_OPT_ENUM, OFF(system), "layerwise", "the dynamical system: the gradient flow / descent of all layers, or of the end-to-end matrix W = W_N...W_1 alone from a balanced start (002 Thm 1, eq. 3; any integrator without Hessian-vector products)", systems, DLN_OPTR_NONE, 0, 0, NULL, NULL},
  {"recon_threshold", DLN_OPT_DOUBLE, OFF(recon_threshold), "0", "factorization: stop when |Ybar - W|/|Ybar| <= this (0: off)", NULL, DLN_OPTR_NONNEG, 0, 0, NULL, NULL},
  {"e2e_balance_tol", DLN_OPT_DOUBLE, OFF(e2e_balance_tol), "1e-10", "e2e_flow, e2e_gd: largest accepted max_j |C_j|_F / |theta|^2 of the init (C_j = W_{j+1}^T W_{j+1} - W_j W_j^T)", NULL, DLN_OPTR_POS, 0, 0, NULL, NULL},
  {"observe", DLN_OPT_STRLIST, OFF(observe), "all", "trajectory columns: loss, gradnorm, dist, truth, sv, compress (compress_rank), conserved, imbalance, margin (classification losses: w_norm, margin, dir_k), disturbance (disturbed runs: dist_norm, dC{j}, dC{j}_rate, Ldot, thm1_bound), all; theory columns (not in all): closed_form (cf_dist, cf_loss and the bound_* curves of the rate theorems whose hypotheses hold), bias (nuclear_norm, effective_rank, det_sign, dist_minnorm, orth_measure), theory (both); by name only: entry:i,j (column W_i_j = entry (i, j) of W, 1-based; repeat for more), layers (no column: W{j}_samples.npy, every layer at every row, rows x d_j x d_{j-1}, C order; layer-wise methods without checkpoints)", NULL, DLN_OPTR_NONE, 0, 0, NULL, dln_observable_name_at},
  {"sample_times", DLN_OPT_DOUBLELIST, OFF(sample_times), "", "explicit sample times t1,t2,... in [0, t_end], merged with 0 and t_end (sorted, duplicates removed); replace samples, log_samples and t_first (setting both is refused). Flow: exact times by dense output; gd: each must be a whole multiple of eta", NULL, DLN_OPTR_NONNEG, 0, 0, sample_times_check, NULL},
  {"baseline", DLN_OPT_ENUM, OFF(baseline), "none", "a classical solution beside the network: nuclear = min |W|_* s.t. the measurements hold (002 eq. 10; sensing, completion), by ADMM with a dual certificate: W_nuclear.npy and summary \"baseline\"", baselines, DLN_OPTR_NONE, 0, 0, NULL, NULL},
  {"baseline_tol", DLN_OPT_DOUBLE, OFF(baseline_tol), "1e-8", "baseline nuclear: stop at relative duality gap (|W|_* - b'y)/|W|_* <= this (< 1)", NULL, DLN_OPTR_POS, 0, 0, NULL, NULL},
  {"baseline_max_iter", DLN_OPT_INT, OFF(baseline_max_iter), "100000", "baseline nuclear: at most this many ADMM iterations (not converged: reported, not an error)", NULL, DLN_OPTR_MIN, 1, 0, NULL, NULL},
  DLN_OPTION_END};
/* The rows that apply to a whole sweep (never swept). */
static const dln_option output_rows[] = {
  {"out", DLN_OPT_STRING, OFF(out), "dln-out", "output folder", NULL, DLN_OPTR_NONE, 0, 0, NULL, NULL},
  {"plot", DLN_OPT_BOOL, OFF(plot), "true", "write plot.py and render figure.png with /usr/bin/python3", NULL, DLN_OPTR_NONE, 0, 0, NULL, NULL},
  {"quiet", DLN_OPT_BOOL, OFF(quiet), "false", "no progress or table on the terminal", NULL, DLN_OPTR_NONE, 0, 0, NULL, NULL},
  {"blas_threads", DLN_OPT_INT, OFF(blas_threads), "1", "BLAS threads: OpenBLAS (openblas_set_num_threads) and, when it is the backend, BLIS", NULL, DLN_OPTR_RANGE, 1, 1024, NULL, NULL},
  {"blas_backend", DLN_OPT_ENUM, OFF(blas_backend), "auto", "library of the products above 112^3 multiply-adds (dln/gemm.h): openblas, blis (Debian libblis4-pthread, its own kernels for the CPU), xsmm (libxsmm JIT kernels, no packing); auto: the environment variable DLN_GEMM, else openblas. Recorded in summary \"blas\"", blas_backends, DLN_OPTR_NONE, 0, 0, NULL, NULL},
  {"force", DLN_OPT_BOOL, OFF(force), "false", "replace the outputs of an earlier run in out: removes exactly the files its manifest.json lists, after the inputs are read (without it, a folder with outputs is refused)", NULL, DLN_OPTR_NONE, 0, 0, NULL, NULL},
  DLN_OPTION_END};
/* clang-format on */

/* ---- the concatenated table ----------------------------------------------------------- */

static dln_spec_option table[DLN_SPEC_MAXOPTS + 1];
static int ntable = -1, table_error;
static int nown;                         /* own blocks */
static size_t own_size[DLN_SPEC_MAXOWN]; /* their sizes */
static int registry_stamp = -1;

static int registry_count(void) {
  int n = 0;
  while (dln_task_at(n)) ++n;
  for (int i = 0; dln_init_at(i); ++i) ++n;
  for (int i = 0; dln_integrator_at(i); ++i) ++n;
  return n;
}

static int find_in_table(const char *name) {
  for (int i = 0; i < ntable; ++i)
    if (strcmp(table[i].name, name) == 0) return i;
  return -1;
}

/* Append the rows of one owner; a row already in the table (a shared row) is skipped. */
static void add_rows(const dln_option *rows, int block, const char *kind, const char *owner) {
  for (int i = 0; rows && rows[i].name; ++i) {
    int k = find_in_table(rows[i].name);
    if (k >= 0) {
      if (table[k].row != &rows[i]) table_error = 1; /* two modules claim one name */
      continue;
    }
    if (ntable >= DLN_SPEC_MAXOPTS) {
      table_error = 1;
      return;
    }
    /* no default text: the first registered choice (the first task, init or method type) */
    const char *def = rows[i].defval ? rows[i].defval : rows[i].choice && rows[i].choice(0) ? rows[i].choice(0) : "";
    table[ntable++] = (dln_spec_option){rows[i].name, rows[i].type, def, rows[i].help, &rows[i], block, kind, owner};
  }
}

/* A type's rows: into the module's struct, or its own block. */
static void add_type_rows(const dln_option *rows, size_t options_size, int module_block, const char *kind, const char *owner) {
  if (!rows) return;
  if (!options_size) {
    add_rows(rows, module_block, kind, owner);
  } else if (nown < DLN_SPEC_MAXOWN) {
    own_size[nown] = options_size;
    add_rows(rows, DLN_SPEC_BLOCK_OWN + nown, kind, owner);
    ++nown;
  } else {
    table_error = 1;
  }
}

static void build_table(void) {
  int stamp = registry_count();
  if (ntable >= 0 && stamp == registry_stamp) return;
  make_e2e_names();
  ntable = 0;
  nown = 0;
  table_error = 0;
  add_rows(run_rows, DLN_SPEC_BLOCK_RUN, NULL, "run");
  add_rows(output_rows, DLN_SPEC_BLOCK_RUN, NULL, "output");
  add_rows(dln_task_common_rows(), DLN_SPEC_BLOCK_DATA, NULL, "data");
  for (int i = 0; dln_task_at(i); ++i)
    add_type_rows(dln_task_at(i)->options, dln_task_at(i)->options_size, DLN_SPEC_BLOCK_DATA, "task", dln_task_at(i)->name);
  add_rows(dln_net_option_rows(), DLN_SPEC_BLOCK_NET, NULL, "network");
  add_rows(dln_init_common_rows(), DLN_SPEC_BLOCK_INIT, NULL, "init");
  for (int i = 0; dln_init_at(i); ++i)
    add_type_rows(dln_init_at(i)->options, dln_init_at(i)->options_size, DLN_SPEC_BLOCK_INIT, "init", dln_init_at(i)->name);
  add_rows(dln_train_option_rows(), DLN_SPEC_BLOCK_TRAIN, NULL, "training");
  for (int i = 0; dln_integrator_at(i); ++i)
    add_type_rows(dln_integrator_at(i)->options, dln_integrator_at(i)->options_size, DLN_SPEC_BLOCK_TRAIN,
                  "method", dln_integrator_at(i)->name);
  table[ntable] = (dln_spec_option){NULL, DLN_OPT_INT, NULL, NULL, NULL, 0, NULL, NULL};
  registry_stamp = stamp;
}

const dln_spec_option *dln_spec_options(void) {
  build_table();
  return table;
}
int dln_spec_noptions(void) {
  build_table();
  return ntable;
}

const dln_spec_option *dln_spec_find(const char *name) {
  DLN_ARGS_P(name);
  build_table();
  int k = find_in_table(name);
  return k >= 0 ? &table[k] : NULL;
}

int dln_spec_index(const dln_spec_option *o) { return (int)(o - table); }

int dln_spec_is_output(const dln_spec_option *o) {
  DLN_ARGS_V(0, o);
  return o && o->row >= output_rows && o->row < output_rows + sizeof output_rows / sizeof *output_rows;
}

const dln_spec_option *dln_spec_sweep_option(const char *key, const char **why) {
  const dln_spec_option *o = dln_spec_find(strcmp(key, "data_seed") == 0 ? "seed" : key);
  *why = NULL;
  if (!o) *why = "unknown field (expected an option name, \"data_seed\" or \"runs\")";
  else if (dln_spec_is_output(o))
    *why = "cannot be swept (it applies to the whole sweep)";
  return *why ? NULL : o;
}

/* The struct an option's field lives in. */
static void *block_base(const dln_spec *spec, int block) {
  dln_spec *s = (dln_spec *)spec;
  switch (block) {
    case DLN_SPEC_BLOCK_RUN: return s;
    case DLN_SPEC_BLOCK_DATA: return &s->data;
    case DLN_SPEC_BLOCK_NET: return &s->net;
    case DLN_SPEC_BLOCK_INIT: return &s->init_opts;
    case DLN_SPEC_BLOCK_TRAIN: return &s->train;
    default: return s->own[block - DLN_SPEC_BLOCK_OWN];
  }
}

void *dln_spec_type_block(const dln_spec *spec, const dln_option *rows) {
  DLN_ARGS_P(spec, rows);
  if (!rows || !rows[0].name) return NULL;
  const dln_spec_option *o = dln_spec_find(rows[0].name);
  if (!o || o->row != &rows[0] || o->block < DLN_SPEC_BLOCK_OWN) return NULL;
  return spec->own[o->block - DLN_SPEC_BLOCK_OWN];
}

void *dln_spec_field(const dln_spec *spec, const dln_spec_option *o) {
  DLN_ARGS_P(spec, o);
  return (char *)block_base(spec, o->block) + o->row->offset;
}

const char *dln_spec_clip(const char *s, char *buf, size_t len) {
  size_t n = strlen(s);
  if (n < len) return s;
  snprintf(buf, len, "%.*s...", (int)(len - 4), s);
  return buf;
}

/* ---- whole specs ------------------------------------------------------------------------ */

void dln_spec_free(dln_spec *spec) {
  if (!spec) return;
  build_table();
  for (int i = 0; i < ntable; ++i)
    if (block_base(spec, table[i].block)) dln_option_clear(block_base(spec, table[i].block), table[i].row);
  for (int k = 0; k < DLN_SPEC_MAXOWN; ++k) {
    free(spec->own[k]);
    spec->own[k] = NULL;
  }
  free(spec->source);
  spec->source = NULL;
}

/* The common options a task type defaults differently (dln_task_type.defaults): where the
 * user set nothing (origin kind 0), the previous task's are undone and the new one's set. */
static int task_defaults(dln_spec *spec, const dln_task_type *old, const dln_task_type *neu) {
  if (old == neu) return DLN_OK;
  for (int pass = 0; pass < 2; ++pass) {
    const dln_task_type *t = pass ? neu : old;
    for (int i = 0; t && t->defaults && t->defaults[i] && t->defaults[i + 1]; i += 2) {
      const dln_spec_option *o = dln_spec_find(t->defaults[i]);
      if (!o || spec->origin[dln_spec_index(o)].kind != 0) continue;
      char where[128];
      snprintf(where, sizeof where, "task %s's default of \"%s\"", t->name, o->name);
      int st = dln_option_set(block_base(spec, o->block), o->row, pass ? t->defaults[i + 1] : (o->defval ? o->defval : ""), where);
      if (st) return st;
    }
  }
  return DLN_OK;
}

int dln_spec_set_text(dln_spec *spec, const dln_spec_option *o, const char *text, const char *where) {
  int task = strcmp(o->name, "task") == 0;
  const dln_task_type *old = task && spec->task ? dln_task_find(spec->task) : NULL;
  int st = dln_option_set(block_base(spec, o->block), o->row, text, where);
  if (!st && task && spec->task) st = task_defaults(spec, old, dln_task_find(spec->task));
  return st;
}

int dln_spec_default(dln_spec *spec) {
  if (!spec) return dln_error(DLN_EINVAL, "dln_spec_default: spec must not be NULL");
  memset(spec, 0, sizeof *spec);
  build_table();
  if (table_error)
    return dln_error(DLN_ESPEC, "option table: two modules declare one option name, or more than %d options / %d own blocks",
                     DLN_SPEC_MAXOPTS, DLN_SPEC_MAXOWN);
  for (int k = 0; k < nown; ++k)
    if (!(spec->own[k] = calloc(1, own_size[k]))) {
      dln_spec_free(spec);
      return dln_error(DLN_ENOMEM, "out of memory");
    }
  for (int i = 0; i < ntable; ++i) {
    char where[96];
    snprintf(where, sizeof where, "default of \"%s\"", table[i].name);
    int st = dln_spec_set_text(spec, &table[i], table[i].defval ? table[i].defval : "", where);
    if (st) {
      dln_spec_free(spec);
      return st;
    }
  }
  return DLN_OK;
}

int dln_spec_set(dln_spec *spec, const char *name, const char *value) {
  if (!spec || !name || !value) return dln_error(DLN_EINVAL, "dln_spec_set: NULL argument");
  const dln_spec_option *o = dln_spec_find(name);
  char cb[96];
  if (!o) return dln_error(DLN_ESPEC, "unknown option --%s (see dln run --help)", dln_spec_clip(name, cb, sizeof cb));
  char where[96];
  snprintf(where, sizeof where, "option --%s", name);
  int st = dln_spec_set_text(spec, o, value, where);
  if (!st) spec->origin[dln_spec_index(o)] = (dln_spec_origin){2, 0, 0};
  return st;
}

int dln_spec_copy(dln_spec *dst, const dln_spec *src) {
  if (!dst || !src) return dln_error(DLN_EINVAL, "dln_spec_copy: NULL argument");
  build_table();
  *dst = *src;
  dst->source = NULL;
  for (int k = 0; k < DLN_SPEC_MAXOWN; ++k) dst->own[k] = NULL;
  int st = DLN_OK;
  for (int k = 0; k < nown && !st; ++k) {
    if (!(dst->own[k] = malloc(own_size[k]))) st = DLN_ENOMEM;
    else memcpy(dst->own[k], src->own[k], own_size[k]);
  }
  /* detach src's pointers before anything can fail */
  for (int i = 0; i < ntable; ++i) {
    void *b = block_base(dst, table[i].block);
    if (!b) continue;
    const dln_option *r = table[i].row;
    if (r->type == DLN_OPT_STRING || r->type == DLN_OPT_ENUM) *DLN_OPTION_FIELD(b, r, char *) = NULL;
    else if (r->type == DLN_OPT_INTLIST) *DLN_OPTION_FIELD(b, r, dln_ilist) = (dln_ilist){0, NULL};
    else if (r->type == DLN_OPT_DOUBLELIST) *DLN_OPTION_FIELD(b, r, dln_dlist) = (dln_dlist){0, NULL};
    else if (r->type == DLN_OPT_STRLIST) *DLN_OPTION_FIELD(b, r, dln_slist) = (dln_slist){0, NULL};
  }
  for (int i = 0; i < ntable && !st; ++i)
    st = dln_option_copy(block_base(dst, table[i].block), block_base(src, table[i].block), table[i].row);
  if (!st && src->source && !(dst->source = strdup(src->source))) st = DLN_ENOMEM;
  if (st) {
    dln_spec_free(dst);
    return dln_error(DLN_ENOMEM, "dln_spec_copy: out of memory");
  }
  return DLN_OK;
}

/* ---- output ------------------------------------------------------------------------------ */

const char *dln_spec_where(const dln_spec *spec, const char *name, char *buf, size_t len) {
  DLN_ARGS_P(spec, name, buf);
  const dln_spec_option *o = dln_spec_find(name);
  const dln_spec_origin *g = o ? &spec->origin[dln_spec_index(o)] : NULL;
  char vb[64];
  if (g && g->kind == 1 && spec->source)
    snprintf(buf, len, "%s:%d:%d: field \"%s\"", spec->source, g->line, g->col, name);
  else if (g && g->kind == 2)
    snprintf(buf, len, "option --%s", name);
  else if (g && g->kind == 0 && o->defval && !o->defval[0])
    snprintf(buf, len, "option --%s (not given)", name); /* a value the run needs: how to give it */
  else if (g && g->kind == 0 && o->defval && spec->source) /* a default the spec file left: which one */
    snprintf(buf, len, "%s: field \"%s\" (not in the file: default %s)", spec->source, name,
             dln_spec_value_text(spec, o, vb, sizeof vb));
  else if (g && g->kind == 0 && o->defval)
    snprintf(buf, len, "option --%s (default %s)", name, dln_spec_value_text(spec, o, vb, sizeof vb));
  else
    snprintf(buf, len, "field \"%s\"", name);
  return buf;
}

int dln_spec_blame(const dln_spec *spec, int st, const char *field) {
  char msg[1024], wb[512];
  snprintf(msg, sizeof msg, "%s", dln_last_error());
  if (!field) return dln_error(st, "%s", msg);
  return dln_error(st, "%s: %s", dln_spec_where(spec, field, wb, sizeof wb), msg);
}

const char *dln_spec_value_text(const dln_spec *spec, const dln_spec_option *o, char *buf, size_t len) {
  DLN_ARGS_P(spec, o, buf);
  return dln_option_text(block_base(spec, o->block), o->row, buf, len);
}

unsigned dln_spec_observe_flags(const dln_spec *spec) {
  DLN_ARGS_V(0u, spec);
  static const struct {
    const char *name;
    unsigned flag;
  } map[] = {{"loss", DLN_OBS_LOSS}, {"gradnorm", DLN_OBS_GRADNORM}, {"dist", DLN_OBS_DIST},
             {"truth", DLN_OBS_TRUTH},
             {"sv", DLN_OBS_SV},     {"compress", DLN_OBS_COMPRESS}, {"conserved", DLN_OBS_CONSERVED}, {"imbalance", DLN_OBS_IMBALANCE},
             {"all", DLN_OBS_ALL}};
  unsigned f = 0;
  for (int i = 0; i < spec->observe.n; ++i)
    for (size_t k = 0; k < sizeof map / sizeof *map; ++k)
      if (strcmp(spec->observe.v[i], map[k].name) == 0) f |= map[k].flag;
  return f;
}

int dln_spec_resolve_widths(const dln_spec *spec, int **widths, int *n) {
  DLN_ARGS(spec, widths, n);
  *widths = NULL;
  *n = 0;
  const dln_net_options *no = &spec->net;
  int N = no->widths.n ? no->widths.n - 1 : no->depth;
  if (N < 1) return dln_error(DLN_EINVAL, "field \"depth\": expected at least 1 layer, found %d", N);
  int *w = malloc((size_t)(N + 1) * sizeof *w);
  if (!w) return dln_error(DLN_ENOMEM, "out of memory");
  if (no->widths.n) {
    memcpy(w, no->widths.v, (size_t)(N + 1) * sizeof *w);
  } else {
    for (int j = 1; j < N; ++j) w[j] = no->width;
    w[0] = no->tied ? spec->data.rows : spec->data.cols;
    w[N] = spec->data.rows;
  }
  *widths = w;
  *n = N + 1;
  return DLN_OK;
}
