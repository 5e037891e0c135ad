/* `dln check` (dln/check.h; docs/check.md): every result of the theory toolkit whose
 * hypotheses hold, evaluated on a finished run folder.
 *
 * The run is re-created from the folder: summary.json ("spec": the resolved spec), the
 * data files the run wrote, W{j}_init.npy / W{j}_final.npy (tied: U_*.npy) and
 * trajectory.csv; the loss and network are built by the run layer's own builder
 * (dln_run_data_build, dln_run_parts_build), so they are the ones the run trained.
 * Results (papers of ../shared/seeds/INDEX.md):
 *   closed forms 001 eq. 4, 8, 9, 17, 30 and 002 Ex. 5 vs the final weights, the loss
 *     column (as ‖W − Ȳ‖ = √(2L)), the sv columns and the cf_dist column;
 *   001 Prop. 3 eq. 23 (component rates); 003 Thm 1 eq. 10; 004 Prop. 2; 002 Thm 2;
 *   002 Rem. 2 (gradient descent); 000 Thm 1 eq. 11 at θ(0) and at the end point;
 *   conservation of C_j (002 Lemma 1) from the drift columns; sign det W (002 Lemma 2);
 *   the end point: stratum and critical value (004 Lemma 3.2), Hessian by Lanczos
 *   (004 Prop. 4: no spurious local minimum; 002 Prop. 3), 000 Thm 3; 002 Thm 3 (σ̇).
 * Tolerance: tol = slack·rtol (docs/check.md). */
#include "dln/check.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "dln/bias.h"
#include "dln/error.h"
#include "dln/init.h"
#include "dln/io.h"
#include "dln/landscape.h"
#include "dln/net.h"
#include "dln/observe.h"
#include "dln/spec.h"
#include "dln/theory.h"
#include "io/json_util.h"
#include "run/run_internal.h"

#define CHECK_LOOSE 100.0   /* a violation within this many tolerances: likely too loose a tolerance */
#define CHECK_BALANCED 1e-6 /* max_j ‖C_j‖_F / ‖θ‖² counted as balanced */
#define CHECK_GRAD_TOL 1e-6 /* ‖∇φ‖ ≤ this·max(1, φ): the end point counts as critical */

void dln_check_default_options(dln_check_options *opt) {
  if (!opt) return;
  memset(opt, 0, sizeof *opt);
  opt->slack = 1e4;
  opt->lanczos_iter = 80;
}

void dln_check_report_free(dln_check_report *rep) {
  if (!rep) return;
  free(rep->items);
  rep->items = NULL;
  rep->n = rep->cap = 0;
}

/* ------------------------------------------------------------------ report items */

static dln_check_item *item_new(dln_check_report *rep, const char *result, const char *source) {
  if (rep->n == rep->cap) {
    size_t cap = rep->cap ? 2 * rep->cap : 32;
    dln_check_item *it = realloc(rep->items, cap * sizeof *it);
    if (!it) return NULL;
    rep->items = it;
    rep->cap = cap;
  }
  dln_check_item *it = &rep->items[rep->n++];
  memset(it, 0, sizeof *it);
  it->v.result = result;
  it->v.source = source;
  it->v.bound = it->v.measured = it->v.margin = NAN;
  return it;
}

static void vfmt(char *buf, size_t len, const char *fmt, va_list ap) { vsnprintf(buf, len, fmt, ap); }

/* A result whose hypotheses fail: message "not applicable: <hypothesis> fails (<value>)". */
static void add_na(dln_check_report *rep, const char *result, const char *source, const char *fmt, ...) {
  dln_check_item *it = item_new(rep, result, source);
  if (!it) return;
  char why[240];
  va_list ap;
  va_start(ap, fmt);
  vfmt(why, sizeof why, fmt, ap);
  va_end(ap);
  const char *w = strncmp(why, "not applicable: ", 16) == 0 ? why + 16 : why;
  snprintf(it->v.message, sizeof it->v.message, "not applicable: %s", w);
}

/* A verdict filled by a library bound (status st). loose: whether it holds with
 * CHECK_LOOSE·tol (only read when it is violated). */
static void add_verdict(dln_check_report *rep, int st, const dln_verdict *v, const char *result, const char *source,
                        int loose) {
  if (st != DLN_OK || !v->applicable) {
    const char *m = st != DLN_OK ? dln_last_error() : v->message;
    add_na(rep, result, source, "%s", m && *m ? m : "hypotheses fail");
    if (rep->n && v->hypotheses[0])
      snprintf(rep->items[rep->n - 1].v.hypotheses, sizeof v->hypotheses, "%s", v->hypotheses);
    return;
  }
  dln_check_item *it = item_new(rep, result, source);
  if (!it) return;
  it->v = *v;
  it->v.result = result;
  it->v.source = source;
  if (!v->holds)
    snprintf(it->cause, sizeof it->cause, "%s",
             loose ? "likely too loose a tolerance: holds within 100x the tolerance; rerun with a smaller rtol"
                   : "likely a bug or a corrupted trajectory: violated by more than 100x the tolerance");
}

/* A measured deviation that must stay ≤ bound (a tolerance). */
static void add_dev(dln_check_report *rep, const char *result, const char *source, const char *hyp, double bound,
                    double measured, const char *what) {
  dln_check_item *it = item_new(rep, result, source);
  if (!it) return;
  dln_verdict *v = &it->v;
  v->applicable = 1;
  snprintf(v->hypotheses, sizeof v->hypotheses, "%s", hyp);
  v->bound = bound;
  v->measured = measured;
  v->margin = bound - measured;
  v->holds = measured <= bound; /* false for NaN */
  if (v->holds)
    snprintf(v->message, sizeof v->message, "holds: %s %.3g <= %.3g", what, measured, bound);
  else {
    snprintf(v->message, sizeof v->message, "VIOLATED: %s %.3g > %.3g (by %.3g)", what, measured, bound, measured - bound);
    snprintf(it->cause, sizeof it->cause, "%s",
             measured <= CHECK_LOOSE * bound
                 ? "likely too loose a tolerance: within 100x the tolerance; rerun with a smaller rtol"
                 : "likely a bug or a corrupted trajectory: more than 100x the tolerance");
  }
}

/* ------------------------------------------------------------------ reading the folder */

static char *path_join(const char *dir, const char *name) {
  size_t n = strlen(dir) + strlen(name) + 2;
  char *p = malloc(n);
  if (p) snprintf(p, n, "%s/%s", dir, name);
  return p;
}

static int file_exists(const char *dir, const char *name) {
  char *p = path_join(dir, name);
  struct stat sb;
  int ok = p && stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
  free(p);
  return ok;
}

/* trajectory.csv: header line for the names, dln_csv_read for the numbers. */
static int read_trajectory(const char *dir, dln_table **out) {
  *out = NULL;
  char *path = path_join(dir, "trajectory.csv");
  if (!path) return dln_error(DLN_ENOMEM, "out of memory");
  FILE *fp = fopen(path, "r");
  if (!fp) {
    int st = dln_error(DLN_EIO, "%s: cannot read (%s); expected the trajectory of a complete run", path, strerror(errno));
    free(path);
    return st;
  }
  char *line = NULL;
  size_t cap = 0;
  ssize_t len = getline(&line, &cap, fp);
  fclose(fp);
  int st = DLN_OK, nc = 0;
  char **names = NULL;
  dln_mat *m = NULL;
  if (len <= 0) {
    st = dln_error(DLN_EFORMAT, "%s: expected a header line of column names, found an empty file", path);
    goto done;
  }
  line[strcspn(line, "\r\n")] = '\0';
  nc = 1;
  for (char *c = line; *c; ++c) nc += *c == ',';
  names = calloc((size_t)nc, sizeof *names);
  if (!names) {
    st = dln_error(DLN_ENOMEM, "out of memory");
    goto done;
  }
  {
    int k = 0;
    char *save = NULL;
    for (char *tok = strtok_r(line, ",", &save); tok && k < nc; tok = strtok_r(NULL, ",", &save)) names[k++] = tok;
    if (k != nc || strcmp(names[0], "t") != 0) {
      st = dln_error(DLN_EFORMAT, "%s: line 1: expected a header starting with column \"t\", found \"%s\"", path,
                     k ? names[0] : "");
      goto done;
    }
  }
  if ((st = dln_csv_read(path, &m))) goto done;
  if (m->cols != nc) {
    st = dln_error(DLN_EFORMAT, "%s: expected %d columns (as in the header), found %d", path, nc, m->cols);
    goto done;
  }
  if (m->rows < 1) {
    st = dln_error(DLN_EFORMAT, "%s: expected at least one sample row, found none", path);
    goto done;
  }
  if ((st = dln_table_alloc(out, nc, (const char *const *)names, (size_t)m->rows))) goto done;
  for (int i = 0; i < m->rows; ++i) {
    double *r = (*out)->data + (size_t)i * (size_t)nc;
    for (int j = 0; j < nc; ++j) r[j] = m->data[i + (size_t)j * m->rows];
  }
  (*out)->nrows = (size_t)m->rows;
done:
  dln_mat_free(m);
  free(names);
  free(line);
  free(path);
  return st;
}

/* Layers W{j}_<suffix>.npy (tied: U_<suffix>.npy) into theta. *found = 0 when absent. */
static int read_layers(const char *dir, dln_net *net, const char *suffix, double *theta, int *found) {
  int nl = net->tied ? 1 : net->depth, st = DLN_OK;
  char name[64];
  *found = 0;
  snprintf(name, sizeof name, net->tied ? "U_%s.npy" : "W1_%s.npy", suffix);
  if (!file_exists(dir, name)) return DLN_OK;
  dln_mat **layers = calloc((size_t)nl, sizeof *layers);
  if (!layers) return dln_error(DLN_ENOMEM, "out of memory");
  for (int j = 1; j <= nl && !st; ++j) {
    if (net->tied) snprintf(name, sizeof name, "U_%s.npy", suffix);
    else snprintf(name, sizeof name, "W%d_%s.npy", j, suffix);
    char *p = path_join(dir, name);
    st = p ? dln_npy_read(p, &layers[j - 1]) : dln_error(DLN_ENOMEM, "out of memory");
    free(p);
  }
  if (!st) st = dln_init_from_layers(net, theta, layers, nl);
  for (int j = 0; j < nl; ++j) dln_mat_free(layers[j]);
  free(layers);
  if (!st) *found = 1;
  return st;
}

/* summary.json -> the resolved spec, with the data fields pointing at the folder's files. */
static int read_spec(const char *dir, dln_spec *spec) {
  char *path = path_join(dir, "summary.json");
  if (!path) return dln_error(DLN_ENOMEM, "out of memory");
  int st = DLN_OK;
  json_error_t err;
  json_t *root = NULL;
  struct stat sb;
  if (stat(path, &sb) != 0) {
    st = dln_error(DLN_EIO, "%s: cannot read (%s); expected the summary.json of a complete run (dln run writes it last)",
                   path, strerror(errno));
    goto done;
  }
  root = json_load_file(path, 0, &err);
  if (!root) {
    st = dln_error(DLN_EFORMAT, "%s:%d:%d: expected JSON, found a syntax error: %s", path, err.line, err.column, err.text);
    goto done;
  }
  if (!json_is_object(root)) {
    st = dln_error(DLN_EFORMAT, "%s: expected a JSON object, found %s", path, json_is_array(root) ? "an array" : "a scalar");
    goto done;
  }
  if (json_object_get(root, "runs")) {
    st = dln_error(DLN_EFORMAT, "%s: field \"runs\": expected the summary of one run, found the default job's (check each of its subfolders)",
                   path);
    goto done;
  }
  json_t *sj = json_object_get(root, "spec");
  if (!json_is_object(sj)) {
    st = dln_error(DLN_EFORMAT, "%s: field \"spec\": expected an object (the resolved spec), found %s", path,
                   sj ? "another type" : "none");
    goto done;
  }
  char *text = json_dumps(sj, JSON_REAL_PRECISION(17));
  if (!text) {
    st = dln_error(DLN_ENOMEM, "out of memory");
    goto done;
  }
  st = dln_spec_from_json_string(spec, path, text);
  free(text);
  if (st) {
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", dln_last_error());
    st = dln_error(DLN_EFORMAT, "%s: field \"spec\": %s", path, msg);
    goto done;
  }
  /* data from the folder */
  static const struct {
    const char *file, *field;
  } files[] = {{"target.npy", "target_file"}, {"X.npy", "x_file"},   {"Y.npy", "y_file"},
               {"A.npy", "a_file"},           {"b.npy", "b_file"},   {"entries.npy", "entries_file"}};
  const char *task = spec->task;
  for (size_t i = 0; i < sizeof files / sizeof *files && !st; ++i) {
    int want = (strcmp(task, "factorization") == 0 && i == 0) || (strcmp(task, "regression") == 0 && (i == 1 || i == 2)) ||
               (strcmp(task, "sensing") == 0 && (i == 3 || i == 4)) || (strcmp(task, "completion") == 0 && i == 5);
    if (!want) continue;
    if (!file_exists(dir, files[i].file)) {
      st = dln_error(DLN_EIO, "%s/%s: cannot read (missing); expected the data of the %s run", dir, files[i].file, task);
      break;
    }
    char *p = path_join(dir, files[i].file);
    st = p ? dln_spec_set(spec, files[i].field, p) : dln_error(DLN_ENOMEM, "out of memory");
    free(p);
  }
  if (!st && strcmp(task, "factorization") != 0) st = dln_spec_set(spec, "target_file", "");
  if (!st) st = dln_spec_set(spec, "observe", "loss"); /* the builder's observer is not used */
done:
  json_decref(root);
  free(path);
  return st;
}

/* ------------------------------------------------------------------ the checks */

typedef struct ctx {
  dln_check_report *rep;
  const dln_check_options *opt;
  dln_spec *spec;
  dln_run_data *d;
  dln_run_parts *p;
  dln_table *tab;
  double *theta0, *thetaf; /* thetaf NULL if the layers were not recorded at the end */
  int flow;                /* gradient-flow method (layer-wise) */
  int fact;                /* factorization loss */
  double tol, t_final;
} ctx;

static int is_loss(const dln_loss *loss, const char *name) {
  return loss->ops && loss->ops->name && strcmp(loss->ops->name, name) == 0;
}

static double theta_norm2(const dln_net *net, const double *th) {
  double n = dln_norm2(net->nparams, th);
  return n * n;
}

/* Conservation of C_j (002 Lemma 1) from the drift columns. */
static void check_conservation(ctx *c) {
  static const char *R = "conservation of C_j", *S = "002 Lemma 1";
  dln_net *net = c->p->net;
  if (!c->flow) { add_na(c->rep, R, S, "layer-wise gradient flow fails (method %s)", c->spec->method); return; }
  if (net->depth < 2 || net->tied) { add_na(c->rep, R, S, "untied depth >= 2 fails (depth %d%s)", net->depth, net->tied ? ", tied" : ""); return; }
  double worst = 0;
  int ncol = 0;
  for (int j = 0; j < c->tab->ncols; ++j) {
    if (strncmp(c->tab->names[j], "drift_C", 7) != 0) continue;
    ++ncol;
    for (size_t i = 0; i < c->tab->nrows; ++i) {
      double x = c->tab->data[i * (size_t)c->tab->ncols + (size_t)j];
      if (!(x <= worst)) worst = isnan(x) ? INFINITY : x;
    }
  }
  if (!ncol) { add_na(c->rep, R, S, "drift_C columns recorded fails (observe without \"conserved\")"); return; }
  char hyp[128];
  snprintf(hyp, sizeof hyp, "gradient flow (%s); %d drift columns; tolerance slack*rtol", c->spec->method, ncol);
  add_dev(c->rep, R, S, hyp, c->tol, worst, "max_j,t |C_j(t) - C_j(0)|/max(1,|C_j(0)|)");
}

/* The first closed form whose hypotheses hold at θ(0) (same order as the observer). */
static dln_cf *pick_cf(ctx *c, char *why, size_t len) {
  typedef int (*cf_alloc_fn)(dln_cf **, dln_net *, const dln_loss *, const double *, double);
  static const struct {
    const char *name;
    cf_alloc_fn fn;
    int depth, tied;
  } forms[] = {{"001 eq. 4", dln_cf_linear_alloc, 1, 0},  {"001 eq. 9", dln_cf_spectral_sym_alloc, 2, 1},
               {"001 eq. 8", dln_cf_riccati_alloc, 2, 1}, {"001 eq. 17", dln_cf_spectral_asym_alloc, 2, 0},
               {"001 eq. 30", dln_cf_lambda_id_alloc, 2, 0}};
  dln_net *net = c->p->net;
  dln_cf *cf = NULL;
  why[0] = '\0';
  size_t n = 0;
  if (c->fact) {
    for (size_t i = 0; i < sizeof forms / sizeof *forms; ++i) {
      if (forms[i].depth != net->depth || forms[i].tied != (net->tied != 0)) continue;
      if (forms[i].fn(&cf, net, c->p->loss, c->theta0, 0) == DLN_OK) return cf;
      const char *m = dln_last_error();
      if (strncmp(m, "not applicable: ", 16) == 0) m += 16;
      if (n < len) n += (size_t)snprintf(why + n, len - n, "%s%s: %s", n ? "; " : "", forms[i].name, m);
    }
  } else if (n < len) {
    n += (size_t)snprintf(why + n, len - n, "001 forms: factorization loss fails (%s)", c->p->loss->ops->name);
  }
  if (net->depth >= 2 && !net->tied) {
    if (dln_cf_aligned_alloc(&cf, net, c->p->loss, c->theta0, 0) == DLN_OK) return cf;
    const char *m = dln_last_error();
    if (strncmp(m, "not applicable: ", 16) == 0) m += 16;
    if (n < len) snprintf(why + n, len - n, "%s002 Ex. 5: %s", n ? "; " : "", m);
  }
  if (!why[0]) snprintf(why, len, "no closed form for depth %d%s", net->depth, net->tied ? " (tied)" : "");
  return NULL;
}

static int cmp_desc(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x < y) - (x > y);
}

static void check_closed_forms(ctx *c) {
  static const char *S = "001 / 002 Ex. 5";
  char why[600];
  if (!c->flow) { add_na(c->rep, "closed form", S, "layer-wise gradient flow fails (method %s)", c->spec->method); return; }
  dln_cf *cf = pick_cf(c, why, sizeof why);
  if (!cf) { add_na(c->rep, "closed form", S, "%s", why); return; }
  dln_loss *loss = c->p->loss;
  dln_net *net = c->p->net;
  dln_table *tab = c->tab;
  const char *name = dln_cf_name(cf);
  char hyp[256];
  snprintf(hyp, sizeof hyp, "%s: hypotheses hold at t = 0", name);
  int rows = loss->rows, cols = loss->cols;
  size_t wsz = (size_t)rows * (size_t)cols;
  double *Wc = calloc(wsz ? wsz : 1, sizeof *Wc);
  int ncomp = dln_cf_ncomponents(cf);
  double *comp = calloc((size_t)(ncomp > 0 ? ncomp : 1), sizeof *comp);
  if (!Wc || !comp) goto done;

  /* final weights */
  if (c->thetaf) {
    double dist = NAN;
    if (dln_cf_distance(net, c->thetaf, c->t_final, cf, &dist) != DLN_OK)
      add_na(c->rep, "closed form: final weights", name, "%s", dln_last_error());
    else
      add_dev(c->rep, "closed form: final weights", name, hyp, c->tol, dist, "|W - W_cf|/max(1,|W_cf|) at the end");
  }
  /* loss column: |√(2(L − L*)) − ‖W_cf − Ȳ‖| ≤ ‖W − W_cf‖ (factorization, L* = 0) */
  int cl = dln_table_col(tab, "loss"), ct = 0;
  if (c->fact && cl >= 0) {
    double worst = 0, scale = fmax(1.0, loss->target_norm);
    size_t used = 0;
    for (size_t i = 0; i < tab->nrows; ++i) {
      const double *r = tab->data + i * (size_t)tab->ncols;
      if (dln_cf_eval(cf, r[ct], Wc) != DLN_OK) continue;
      double s = 0;
      for (size_t k = 0; k < wsz; ++k) s += (Wc[k] - loss->wstar[k]) * (Wc[k] - loss->wstar[k]);
      double dev = fabs(sqrt(fmax(0.0, 2 * r[cl])) - sqrt(s)) / scale;
      if (!(dev <= worst)) worst = isnan(dev) ? INFINITY : dev;
      ++used;
    }
    if (used) add_dev(c->rep, "closed form: loss", name, hyp, c->tol, worst, "max_t |sqrt(2L) - |W_cf - Ybar||/max(1,|Ybar|)");
  } else if (!c->fact) {
    add_na(c->rep, "closed form: loss", name, "factorization loss fails (%s)", loss->ops->name);
  }
  /* sv columns vs |components| (sorted) */
  int c1 = dln_table_col(tab, "sv_1");
  if (ncomp > 0 && c1 >= 0) {
    int k = rows < cols ? rows : cols, m = ncomp < k ? ncomp : k;
    double worst = 0, scale = 1;
    for (int i = 0; i < ncomp; ++i) {
      double sg = 0, x0 = 0;
      dln_cf_component_params(cf, i, &sg, NULL, &x0);
      scale = fmax(scale, fmax(fabs(sg), fabs(x0)));
    }
    for (size_t i = 0; i < tab->nrows; ++i) {
      const double *r = tab->data + i * (size_t)tab->ncols;
      if (dln_cf_components(cf, r[ct], comp) != DLN_OK) continue;
      for (int q = 0; q < ncomp; ++q) comp[q] = fabs(comp[q]);
      qsort(comp, (size_t)ncomp, sizeof *comp, cmp_desc);
      for (int q = 0; q < m; ++q) {
        double dev = fabs(r[c1 + q] - comp[q]) / scale;
        if (!(dev <= worst)) worst = isnan(dev) ? INFINITY : dev;
      }
    }
    add_dev(c->rep, "closed form: singular values", name, hyp, c->tol, worst, "max_t,i |sv_i - |sigma_i(t)||/scale");
  }
  /* the observer's cf_dist column */
  int cd = dln_table_col(tab, "cf_dist");
  if (cd >= 0) {
    double worst = 0;
    for (size_t i = 0; i < tab->nrows; ++i) {
      double x = tab->data[i * (size_t)tab->ncols + (size_t)cd];
      if (!(x <= worst) && !isnan(x)) worst = x;
    }
    add_dev(c->rep, "closed form: cf_dist column", name, hyp, c->tol, worst, "max_t cf_dist");
  }
  /* 001 Prop. 3, eq. 23 */
  if (dln_cf_kind_of(cf) == DLN_CF_SPECTRAL_ASYM) {
    dln_verdict v;
    memset(&v, 0, sizeof v);
    double sg = 0;
    dln_cf_component_params(cf, 0, &sg, NULL, NULL);
    double scale = fmax(1.0, fabs(sg)), lo = fmax(1e-12, 1e2 * c->spec->train.rtol) * scale, hi = 1e-4 * scale;
    int st = dln_bound_component_rates(cf, tab, lo, hi, 0.05, NULL, NULL, &v);
    int loose = 0;
    if (!st && v.applicable && !v.holds) {
      dln_verdict v2 = v;
      loose = dln_bound_component_rates(cf, tab, lo, hi, 0.5, NULL, NULL, &v2) == DLN_OK && v2.holds;
    }
    add_verdict(c->rep, st, &v, "component rates", "001 Prop. 3 eq. 23", loose);
  }
done:
  free(Wc);
  free(comp);
  dln_cf_free(cf);
}

typedef int (*rate_fn)(ctx *c, const dln_curve *cv, double tol, dln_verdict *v);

static int rate_003(ctx *c, const dln_curve *cv, double tol, dln_verdict *v) {
  const dln_mat *X = dln_loss_design(c->p->loss);
  return dln_bound_imbalance_rate(c->p->net, c->p->loss, X, c->theta0, cv, tol, v);
}
static int rate_004(ctx *c, const dln_curve *cv, double tol, dln_verdict *v) {
  return dln_bound_pyramidal(c->p->net, c->p->loss, c->theta0, cv, tol, v);
}
static int rate_002(ctx *c, const dln_curve *cv, double tol, dln_verdict *v) {
  double gap0 = cv->y[0] - (isnan(c->p->loss->lstar) ? 0 : c->p->loss->lstar);
  return dln_bound_deficiency(c->p->net, c->p->loss, c->theta0, cv, 1e-3 * gap0, tol, v);
}
static int rate_gd(ctx *c, const dln_curve *cv, double tol, dln_verdict *v) {
  return dln_bound_gd_remark2(c->p->net, c->p->loss, c->theta0, c->spec->train.eta, cv, tol, v);
}

static void check_rates(ctx *c) {
  static const struct {
    const char *result, *source;
    rate_fn fn;
    int gd;
  } bounds[] = {{"rate from imbalance", "003 Thm 1 eq. 10", rate_003, 0},
                {"pyramidal rate", "004 Prop. 2", rate_004, 0},
                {"deficiency margin rate, time to eps", "002 Thm 2", rate_002, 0},
                {"gradient descent rate", "002 Rem. 2", rate_gd, 1}};
  int is_gd = strcmp(c->spec->method, "gd") == 0;
  dln_curve cv;
  int have = c->tab && dln_curve_from_table(&cv, c->tab, "loss") == DLN_OK;
  for (size_t i = 0; i < sizeof bounds / sizeof *bounds; ++i) {
    const char *R = bounds[i].result, *S = bounds[i].source;
    if (bounds[i].gd ? !is_gd : !c->flow) {
      add_na(c->rep, R, S, "%s fails (method %s)", bounds[i].gd ? "gradient descent" : "layer-wise gradient flow", c->spec->method);
      continue;
    }
    if (!have) {
      add_na(c->rep, R, S, "loss column recorded fails (observe without \"loss\")");
      continue;
    }
    dln_verdict v;
    memset(&v, 0, sizeof v);
    int st = bounds[i].fn(c, &cv, c->tol, &v), loose = 0;
    if (!st && v.applicable && !v.holds) {
      dln_verdict v2;
      memset(&v2, 0, sizeof v2);
      loose = bounds[i].fn(c, &cv, CHECK_LOOSE * c->tol, &v2) == DLN_OK && v2.holds;
    }
    add_verdict(c->rep, st, &v, R, S, loose);
  }
}

static void check_dissipation(ctx *c) {
  const double *th[2] = {c->theta0, c->thetaf};
  static const char *const R[2] = {"dissipation at t = 0", "dissipation at the end point"};
  for (int k = 0; k < 2; ++k) {
    if (!th[k]) {
      add_na(c->rep, R[k], "000 Thm 1 eq. 11", "layers recorded at the end fails (end-to-end run)");
      continue;
    }
    dln_verdict v;
    memset(&v, 0, sizeof v);
    int st = dln_bound_dissipation(c->p->net, c->p->loss, th[k], NULL, c->tol, &v);
    add_verdict(c->rep, st, &v, R[k], "000 Thm 1 eq. 11", 0);
  }
}

/* sign det W constant (002 Lemma 2): square W, balanced, det W(0) ≠ 0. */
static void check_det(ctx *c) {
  static const char *R = "sign of det W constant", *S = "002 Lemma 2";
  dln_net *net = c->p->net;
  int rows = dln_net_rows(net), cols = dln_net_cols(net);
  if (rows != cols) { add_na(c->rep, R, S, "square W fails (%d x %d)", rows, cols); return; }
  if (!c->flow) { add_na(c->rep, R, S, "layer-wise gradient flow fails (method %s)", c->spec->method); return; }
  double ub = net->depth >= 2 && !net->tied ? dln_net_unbalancedness(net, c->theta0) / fmax(DBL_MIN, theta_norm2(net, c->theta0)) : 0;
  if (!(ub <= CHECK_BALANCED)) { add_na(c->rep, R, S, "balanced fails (max_j |C_j|/|theta|^2 = %.3g > %g)", ub, CHECK_BALANCED); return; }
  dln_bias *b = NULL;
  double *W = malloc((size_t)rows * (size_t)cols * sizeof *W);
  if (!W || dln_bias_alloc(&b, rows, cols)) {
    free(W);
    { add_na(c->rep, R, S, "workspace fails (out of memory)"); return; }
  }
  int s0 = 0, sf = 0, changes = 0, checked = 0;
  double lad = 0;
  dln_net_product(net, c->theta0, W);
  dln_bias_det_sign(b, W, &s0, &lad);
  if (s0 == 0 || !isfinite(lad)) {
    add_na(c->rep, R, S, "det W(0) != 0 fails (log|det W(0)| = %g)", lad);
  } else {
    if (c->thetaf) {
      dln_net_product(net, c->thetaf, W);
      dln_bias_det_sign(b, W, &sf, NULL);
      changes += sf != s0;
      ++checked;
    }
    int cd = dln_table_col(c->tab, "det_sign");
    if (cd >= 0)
      for (size_t i = 0; i < c->tab->nrows; ++i) {
        double x = c->tab->data[i * (size_t)c->tab->ncols + (size_t)cd];
        changes += x != (double)s0;
        ++checked;
      }
    char hyp[160];
    snprintf(hyp, sizeof hyp, "square %dx%d, balanced (%.2g), det W(0) != 0 (sign %+d); %d states checked", rows, cols, ub, s0,
             checked);
    if (!checked) add_na(c->rep, R, S, "states with recorded det fails (no final layers, no det_sign column)");
    else add_dev(c->rep, R, S, hyp, 0, changes, "sign changes");
  }
  dln_bias_free(b);
  free(W);
}

/* The end point: stratum + critical value, Hessian, 000 Thm 3. */
static void check_end_point(ctx *c) {
  static const char *RS = "critical value of the end point", *SS = "004 Lemma 3.2";
  static const char *RH = "end-point Hessian (no spurious minimum)", *SH = "004 Prop. 4, 002 Prop. 3";
  static const char *RE = "equilibrium SVD characterization", *SE = "000 Thm 3";
  if (!c->thetaf) {
    add_na(c->rep, RS, SS, "layers recorded at the end fails (end-to-end run)");
    add_na(c->rep, RH, SH, "layers recorded at the end fails (end-to-end run)");
    add_na(c->rep, RE, SE, "layers recorded at the end fails (end-to-end run)");
    return;
  }
  dln_net *net = c->p->net;
  dln_loss *loss = c->p->loss;
  double phi = NAN;
  size_t np = net->nparams;
  double *g = calloc(np ? np : 1, sizeof *g);
  if (!g) return;
  dln_net_grad(net, loss, c->thetaf, &phi, g, NULL);
  double gn = dln_norm2(np, g);
  free(g);
  int critical = gn <= CHECK_GRAD_TOL * fmax(1.0, fabs(phi));

  /* (a, b) stratum and critical value */
  dln_stratum s;
  int have_stratum = 0;
  if (!c->fact) {
    add_na(c->rep, RS, SS, "factorization loss fails (%s)", loss->ops->name);
  } else {
    dln_stratum_options so;
    dln_stratum_default_options(&so);
    so.tol = fmax(so.tol, sqrt(c->tol) * 1e-1);
    if (dln_stratum_classify_net(net, loss, c->thetaf, &so, &s) != DLN_OK) {
      add_na(c->rep, RS, SS, "%s", dln_last_error());
    } else if (!s.critical) {
      int npart = 0;
      for (int i = 0; i < s.q && i < DLN_LANDSCAPE_MAXQ; ++i) npart += s.learned[i] == DLN_COMP_PARTIAL;
      add_na(c->rep, RS, SS, "end point critical fails (residual %.3g, %d partial components of %d)", s.residual, npart, s.q);
    } else {
      have_stratum = 1;
      char hyp[200];
      snprintf(hyp, sizeof hyp, "critical configuration: %d of %d components learned%s%s", s.r, s.q,
               s.global_min ? ", global minimum" : ", saddle stratum", s.degenerate ? ", repeated s_i" : "");
      dln_check_item *it = item_new(c->rep, RS, SS);
      if (it) {
        double scale = fmax(1.0, 0.5 * loss->target_norm * loss->target_norm), dev = fabs(s.value - s.value_predicted);
        dln_verdict *v = &it->v;
        v->applicable = 1;
        snprintf(v->hypotheses, sizeof v->hypotheses, "%s", hyp);
        v->bound = s.value_predicted;
        v->measured = s.value;
        v->margin = c->tol * scale - dev;
        v->holds = dev <= c->tol * scale;
        snprintf(v->message, sizeof v->message, "%s: loss %.6g vs critical value 1/2 sum_{i not in L} s_i^2 = %.6g",
                 v->holds ? "holds" : "VIOLATED", s.value, s.value_predicted);
        if (!v->holds)
          snprintf(it->cause, sizeof it->cause, "%s",
                   dev <= CHECK_LOOSE * c->tol * scale ? "likely too loose a tolerance (within 100x)"
                                                        : "likely a bug: the end point's loss is not its stratum's critical value");
      }
    }
  }

  /* (c) Hessian by Lanczos */
  if (!critical) {
    add_na(c->rep, RH, SH, "end point critical fails (|grad phi| = %.3g > %g max(1, phi))", gn, CHECK_GRAD_TOL);
  } else {
    dln_lanczos *lz = NULL;
    int iters = c->opt->lanczos_iter > 0 ? c->opt->lanczos_iter : 80;
    if (dln_lanczos_alloc(&lz, net, iters) != DLN_OK) {
      add_na(c->rep, RH, SH, "%s", dln_last_error());
    } else {
      dln_point_options po;
      dln_point_default_options(&po);
      po.grad_tol = CHECK_GRAD_TOL;
      po.value_tol = fmax(po.value_tol, c->tol);
      po.lanczos.tol = 1e-8;
      dln_point_result pr;
      if (dln_point_classify(lz, loss, c->thetaf, &po, &pr) != DLN_OK) {
        add_na(c->rep, RH, SH, "%s", dln_last_error());
      } else if (!pr.eig.converged) {
        add_na(c->rep, RH, SH, "Lanczos converged fails (residual %.3g after %d iterations)",
               fmax(pr.eig.resid_min, pr.eig.resid_max), pr.eig.iters);
      } else {
        int is_min = pr.kind == DLN_POINT_MINIMUM || pr.kind == DLN_POINT_GLOBAL_MINIMUM;
        int ok = pr.kind != DLN_POINT_MINIMUM; /* a local minimum that is not global: 004 Prop. 4 fails */
        if (have_stratum) ok = ok && (s.global_min ? is_min : !is_min);
        dln_check_item *it = item_new(c->rep, RH, SH);
        if (it) {
          dln_verdict *v = &it->v;
          v->applicable = 1;
          snprintf(v->hypotheses, sizeof v->hypotheses, "critical end point (|grad phi| = %.2g); Lanczos converged (residual %.2g)%s",
                   gn, fmax(pr.eig.resid_min, pr.eig.resid_max),
                   have_stratum ? (s.global_min ? "; stratum: global minimum" : "; stratum: saddle") : "");
          v->bound = have_stratum ? (s.global_min ? 0.0 : -0.0) : NAN;
          v->measured = pr.eig.lambda_min;
          v->margin = NAN;
          v->holds = ok;
          snprintf(v->message, sizeof v->message, "%s: %s, lambda_min = %.4g, lambda_max = %.4g, phi = %.6g, phi* = %.6g",
                   ok ? "holds" : "VIOLATED", dln_point_kind_name(pr.kind), pr.eig.lambda_min, pr.eig.lambda_max, pr.phi,
                   pr.phi_star);
          if (!ok) snprintf(it->cause, sizeof it->cause, "likely a bug: the Hessian's label contradicts the stratum / 004 Prop. 4");
        }
      }
      dln_lanczos_free(lz);
    }
  }

  /* (d) 000 Theorem 3 */
  if (!c->fact) {
    add_na(c->rep, RE, SE, "factorization loss fails (%s)", loss->ops->name);
  } else if (net->depth != 2 || net->tied) {
    add_na(c->rep, RE, SE, "untied depth 2 fails (depth %d%s)", net->depth, net->tied ? ", tied" : "");
  } else if (!critical) {
    add_na(c->rep, RE, SE, "end point critical fails (|grad phi| = %.3g)", gn);
  } else {
    dln_equilibrium eq;
    double etol = fmax(1e-6, sqrt(c->tol) * 1e-1);
    if (dln_equilibrium_check(net, loss, c->thetaf, etol, &eq) != DLN_OK) {
      add_na(c->rep, RE, SE, "%s", dln_last_error());
    } else {
      dln_check_item *it = item_new(c->rep, RE, SE);
      if (it) {
        dln_verdict *v = &it->v;
        v->applicable = 1;
        snprintf(v->hypotheses, sizeof v->hypotheses, "untied depth 2, factorization, critical end point (|grad phi| = %.2g)", gn);
        v->bound = etol;
        v->measured = fmax(eq.align_q, eq.align_p);
        v->margin = v->bound - v->measured;
        v->holds = eq.holds && eq.stmt1_holds;
        snprintf(v->message, sizeof v->message, "%s: %.200s", v->holds ? "holds" : "VIOLATED", eq.message);
        if (!v->holds) snprintf(it->cause, sizeof it->cause, "likely a bug: an equilibrium without the SVD structure");
      }
    }
  }
}

/* 002 Theorem 3: σ̇_r at the recorded states of a balanced net. */
static void check_sigma_dot(ctx *c) {
  static const char *S = "002 Thm 3";
  static const char *const R[2] = {"singular value dynamics at t = 0", "singular value dynamics at the end point"};
  dln_net *net = c->p->net;
  if (net->depth < 2 || net->tied) {
    add_na(c->rep, R[0], S, "untied depth >= 2 fails (depth %d%s)", net->depth, net->tied ? ", tied" : "");
    return;
  }
  if (!c->flow) {
    add_na(c->rep, R[0], S, "layer-wise gradient flow fails (method %s)", c->spec->method);
    return;
  }
  dln_sigma_dot *sd = NULL;
  if (dln_sigma_dot_alloc(&sd, net) != DLN_OK) {
    add_na(c->rep, R[0], S, "%s", dln_last_error());
    return;
  }
  int k = dln_net_rows(net) < dln_net_cols(net) ? dln_net_rows(net) : dln_net_cols(net);
  double *pred = calloc((size_t)k, sizeof *pred), *meas = calloc((size_t)k, sizeof *meas);
  const double *th[2] = {c->theta0, c->thetaf};
  for (int s = 0; s < 2 && pred && meas; ++s) {
    if (!th[s]) {
      add_na(c->rep, R[s], S, "layers recorded at the end fails (end-to-end run)");
      continue;
    }
    double ub = dln_net_unbalancedness(net, th[s]) / fmax(DBL_MIN, theta_norm2(net, th[s]));
    if (!(ub <= CHECK_BALANCED)) {
      add_na(c->rep, R[s], S, "balanced fails (max_j |C_j|/|theta|^2 = %.3g > %g)", ub, CHECK_BALANCED);
      continue;
    }
    double rel = NAN;
    if (dln_sigma_dot_compare(sd, c->p->loss, th[s], pred, meas, &rel) != DLN_OK) {
      add_na(c->rep, R[s], S, "%s", dln_last_error());
      continue;
    }
    double mx = 0;
    for (int i = 0; i < k; ++i) mx = fmax(mx, fabs(meas[i]));
    if (!(mx > 1e-10)) {
      add_na(c->rep, R[s], S, "sigma_dot != 0 fails (max_r |sigma_dot_r| = %.3g: stationary)", mx);
      continue;
    }
    char hyp[160];
    snprintf(hyp, sizeof hyp, "untied depth %d, balanced (%.2g <= %g)", net->depth, ub, CHECK_BALANCED);
    add_dev(c->rep, R[s], S, hyp, c->tol, rel, "max_r |pred - meas|/max_r |meas|");
  }
  free(pred);
  free(meas);
  dln_sigma_dot_free(sd);
}

/* ------------------------------------------------------------------ driver */

int dln_check_folder(const char *dir, const dln_check_options *opt, dln_check_report *rep) {
  if (!rep) return dln_error(DLN_EINVAL, "dln_check_folder: report must not be NULL");
  memset(rep, 0, sizeof *rep);
  if (!dir) return dln_error(DLN_EINVAL, "dln_check_folder: folder must not be NULL");
  snprintf(rep->dir, sizeof rep->dir, "%s", dir);
  dln_check_options o;
  dln_check_default_options(&o);
  if (opt) o = *opt;
  if (!(o.slack > 0)) o.slack = 1e4;
  struct stat sb;
  if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
    return dln_error(DLN_EIO, "%s: expected a run folder, found %s", dir, errno == ENOENT ? "no such folder" : "not a folder");

  dln_spec spec;
  dln_run_data d;
  dln_run_parts p;
  dln_table *tab = NULL;
  double *thf = NULL;
  memset(&d, 0, sizeof d);
  memset(&p, 0, sizeof p);
  int st = dln_spec_default(&spec), phase = 0;
  if (st) return st;
  if ((st = read_spec(dir, &spec))) goto done;
  if ((st = dln_run_data_build(&spec, NULL, &d, &phase))) goto done;
  if ((st = dln_run_parts_build(&spec, &d, NULL, &p, &phase))) goto done;
  int found0 = 0, foundf = 0;
  if ((st = read_layers(dir, p.net, "init", p.theta0, &found0))) goto done;
  if (!found0) {
    st = dln_error(DLN_EIO, "%s/%s: cannot read (missing); expected the initial layers of the run", dir,
                   p.net->tied ? "U_init.npy" : "W1_init.npy");
    goto done;
  }
  if (!p.e2e) {
    thf = calloc(p.net->nparams ? p.net->nparams : 1, sizeof *thf);
    if (!thf) {
      st = dln_error(DLN_ENOMEM, "out of memory");
      goto done;
    }
    if ((st = read_layers(dir, p.net, "final", thf, &foundf))) goto done;
  }
  if ((st = read_trajectory(dir, &tab))) goto done;

  ctx c;
  memset(&c, 0, sizeof c);
  c.rep = rep;
  c.opt = &o;
  c.spec = &spec;
  c.d = &d;
  c.p = &p;
  c.tab = tab;
  c.theta0 = p.theta0;
  c.thetaf = foundf ? thf : NULL;
  c.flow = !p.e2e && strcmp(spec.method, "gd") != 0;
  c.fact = is_loss(p.loss, "factorization");
  c.t_final = tab->data[(tab->nrows - 1) * (size_t)tab->ncols];
  double acc = spec.train.rtol;
  if (strcmp(spec.method, "gauss") == 0 && spec.train.gauss_h > 0) acc = fmax(acc, pow(spec.train.gauss_h, 2.0 * spec.train.gauss_stages));
  c.tol = o.tol > 0 ? o.tol : fmin(1e-1, o.slack * acc);
  rep->tol = c.tol;
  rep->rtol = spec.train.rtol;
  rep->atol = spec.train.atol;
  rep->slack = o.slack;
  snprintf(rep->method, sizeof rep->method, "%s", spec.method);

  check_closed_forms(&c);
  check_rates(&c);
  check_dissipation(&c);
  check_conservation(&c);
  check_det(&c);
  check_sigma_dot(&c);
  check_end_point(&c);
  for (size_t i = 0; i < rep->n; ++i) {
    if (!rep->items[i].v.applicable) continue;
    rep->napplicable++;
    if (rep->items[i].v.holds) rep->nholds++;
    else rep->nviolated++;
  }
done:
  free(thf);
  dln_table_free(tab);
  dln_run_parts_free(&p);
  dln_run_data_free(&d);
  dln_spec_free(&spec);
  return st;
}

/* ------------------------------------------------------------------ output */

static const char *verdict_word(const dln_check_item *it) {
  return !it->v.applicable ? "not applicable" : it->v.holds ? "holds" : "VIOLATED";
}

static void num(char *buf, size_t n, double x) {
  if (isnan(x)) snprintf(buf, n, "-");
  else snprintf(buf, n, "%.4g", x);
}

void dln_check_print(const dln_check_report *rep, FILE *fp) {
  fprintf(fp, "dln check %s: method %s, tolerance %.3g (slack %.3g x rtol %.3g)\n", rep->dir, rep->method, rep->tol,
          rep->slack, rep->rtol);
  fprintf(fp, "%-40s %-24s %-44s %11s %11s %10s  %s\n", "result", "source", "hypotheses", "bound/pred", "measured", "margin",
          "verdict");
  for (size_t i = 0; i < rep->n; ++i) {
    const dln_check_item *it = &rep->items[i];
    const dln_verdict *v = &it->v;
    char b[32], m[32], g[32], hyp[48];
    num(b, sizeof b, v->bound);
    num(m, sizeof m, v->measured);
    num(g, sizeof g, v->margin);
    const char *h = v->applicable ? (v->hypotheses[0] ? v->hypotheses : "hold") : "fail";
    if (strlen(h) > 44) snprintf(hyp, sizeof hyp, "%.41s...", h);
    else snprintf(hyp, sizeof hyp, "%.44s", h);
    if (!v->applicable)
      fprintf(fp, "%-40.40s %-24.24s %-44s %11s %11s %10s  %s\n", v->result, v->source, hyp, "-", "-", "-", v->message);
    else
      fprintf(fp, "%-40.40s %-24.24s %-44s %11s %11s %10s  %s\n", v->result, v->source, hyp, b, m, g, verdict_word(it));
  }
  fprintf(fp, "%d applicable, %d hold, %d violated\n", rep->napplicable, rep->nholds, rep->nviolated);
  for (size_t i = 0; i < rep->n; ++i) {
    const dln_check_item *it = &rep->items[i];
    if (it->v.applicable && !it->v.holds)
      fprintf(fp, "VIOLATED: %s (%s): %s; %s\n", it->v.result, it->v.source, it->v.message, it->cause);
  }
}

int dln_check_write_json(const dln_check_report *rep, const char *path) {
  json_t *root = json_object(), *arr = json_array();
  if (!root || !arr) {
    json_decref(root);
    json_decref(arr);
    return dln_error(DLN_ENOMEM, "out of memory");
  }
  DLN_JSON_SET(root, "folder", json_string(rep->dir), "method", json_string(rep->method),
               "tolerance", dln_json_num(rep->tol), "slack", dln_json_num(rep->slack),
               "rtol", dln_json_num(rep->rtol), "atol", dln_json_num(rep->atol));
  for (size_t i = 0; i < rep->n; ++i) {
    const dln_check_item *it = &rep->items[i];
    const dln_verdict *v = &it->v;
    json_t *o = DLN_JSON_SET(json_object(), "result", json_string(v->result), "source", json_string(v->source),
                             "applicable", json_boolean(v->applicable), "hypotheses", json_string(v->hypotheses),
                             "bound", dln_json_num(v->bound), "measured", dln_json_num(v->measured),
                             "margin", dln_json_num(v->margin), "verdict", json_string(verdict_word(it)),
                             "message", json_string(v->message));
    if (it->cause[0]) json_object_set_new(o, "likely_cause", json_string(it->cause));
    json_array_append_new(arr, o);
  }
  json_object_set_new(root, "results", arr);
  json_object_set_new(root, "summary", DLN_JSON_SET(json_object(), "applicable", json_integer(rep->napplicable),
                                                    "hold", json_integer(rep->nholds),
                                                    "violated", json_integer(rep->nviolated)));
  int st = dln_json_write(path, root);
  json_decref(root);
  return st;
}
