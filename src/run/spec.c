/* Run specification: one option table for JSON, command line and summary (dln/spec.h).
 *
 * Every value passes through one text setter (defaults included), JSON values are
 * type-checked against the same table, and dln_spec_check() validates the resolved
 * spec, naming where each bad value came from (file:line:column of its key). */
#include "dln/spec.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "dln/ensemble.h"
#include "dln/error.h"
#include "dln/observe.h"
#include "observe/theory_obs.h"
#include "run/run_internal.h"

#define OFF(f) offsetof(dln_spec, f)

static const char *const tasks[] = {"factorization", "regression", "sensing", "completion", NULL};
static const char *const targets[] = {"gaussian", "lowrank", NULL};
static const char *const inits[] = {"gaussian", "width_scaled", "balanced", "imbalanced", "spectral",
                                    "spectral_symmetric", "orthogonal_minnorm", "file", NULL};
static const char *const methods[] = {"gd", "flow", "cvode", "gauss", "auto", "rkc", "e2e_flow", "e2e_gd", NULL};
static const char *const observables[] = {"loss",      "gradnorm", "dist",   "sv",     "conserved", "imbalance",
                                          "all",       "closed_form", "bias", "theory", NULL};

/* clang-format off */
static const dln_spec_option options[] = {
  {"task", DLN_OPT_ENUM, OFF(task), "factorization", "loss of the end-to-end matrix W (d_N x d_0)", tasks},
  {"target", DLN_OPT_ENUM, OFF(target), "gaussian", "synthetic target / true matrix: i.i.d. N(0, target_sigma^2), or low rank with singular_values", targets},
  {"rows", DLN_OPT_INT, OFF(rows), "5", "rows of the synthetic target = output dimension d_N", NULL},
  {"cols", DLN_OPT_INT, OFF(cols), "10", "columns of the synthetic target = input dimension d_0", NULL},
  {"rank", DLN_OPT_INT, OFF(rank), "0", "lowrank target without singular_values: rank r with singular values r, r-1, ..., 1", NULL},
  {"singular_values", DLN_OPT_DOUBLELIST, OFF(singular_values), "", "singular values of a lowrank target (eigenvalues, any sign, with symmetric_target)", NULL},
  {"target_sigma", DLN_OPT_DOUBLE, OFF(target_sigma), "1", "standard deviation of a gaussian target", NULL},
  {"symmetric_target", DLN_OPT_BOOL, OFF(symmetric_target), "false", "symmetric rows x rows target (eigenvalues = singular_values, else (G+G^T)/2) for the tied model", NULL},
  {"n_samples", DLN_OPT_INT, OFF(n_samples), "20", "regression: number of samples n (X is d_0 x n)", NULL},
  {"x_rank", DLN_OPT_INT, OFF(x_rank), "0", "regression: rank of X (0 = full rank)", NULL},
  {"noise", DLN_OPT_DOUBLE, OFF(noise), "0", "regression: Y = W_true X + noise * N(0,1)", NULL},
  {"m", DLN_OPT_INT, OFF(m), "20", "sensing: number of measurements; completion: number of observed entries", NULL},
  {"reduce", DLN_OPT_BOOL, OFF(reduce), "false", "regression: train on the factorization of Ybar = Y X^+ instead (000 eq. 3-5)", NULL},
  {"target_file", DLN_OPT_STRING, OFF(target_file), "", "factorization target Ybar (.npy or .csv); also W_true for synthetic regression/sensing/completion", NULL},
  {"x_file", DLN_OPT_STRING, OFF(x_file), "", "regression inputs X (d_0 x n, samples are columns)", NULL},
  {"y_file", DLN_OPT_STRING, OFF(y_file), "", "regression outputs Y (d_N x n)", NULL},
  {"a_file", DLN_OPT_STRING, OFF(a_file), "", "sensing matrices: (rows*cols) x m, column i = vec(A_i) column-major", NULL},
  {"b_file", DLN_OPT_STRING, OFF(b_file), "", "sensing measurements b (m values)", NULL},
  {"entries_file", DLN_OPT_STRING, OFF(entries_file), "", "completion: m x 3 matrix of (row, col, value), 0-based", NULL},
  {"depth", DLN_OPT_INT, OFF(depth), "2", "number of layers N (1 = the plain linear model)", NULL},
  {"widths", DLN_OPT_INTLIST, OFF(widths), "", "all widths d_0,...,d_N (overrides depth and width)", NULL},
  {"width", DLN_OPT_INT, OFF(width), "50", "hidden width when widths is not given", NULL},
  {"tied", DLN_OPT_BOOL, OFF(tied), "false", "symmetric model W = U U^T (001 sec. 2; depth 2, square target)", NULL},
  {"init", DLN_OPT_ENUM, OFF(init), "gaussian", "initialization scheme", inits},
  {"sigma", DLN_OPT_DOUBLE, OFF(sigma), "0.01", "init scale: entries N(0, sigma^2) (gaussian, balanced, orthogonal_minnorm)", NULL},
  {"alpha", DLN_OPT_DOUBLE, OFF(alpha), "0.5", "width_scaled init: entries N(0, h^(-2 alpha)) (003 sec. 3.2)", NULL},
  {"layer_scales", DLN_OPT_DOUBLELIST, OFF(layer_scales), "", "per-layer scales s_1..s_N (gaussian; required by imbalanced, 003 sec. 4)", NULL},
  {"init_product_widths", DLN_OPT_INTLIST, OFF(init_product_widths), "", "gaussian: draw layers for these widths and start from their product (depth 1) or a balanced factorization of it (001 sec. 6: X(0) = U0 V0^T)", NULL},
  {"ubar", DLN_OPT_DOUBLELIST, OFF(ubar), "", "spectral init: diagonal of Ubar_0 (001 Def. 3), min(rows, cols) values", NULL},
  {"vbar", DLN_OPT_DOUBLELIST, OFF(vbar), "", "spectral init: diagonal of Vbar_0 (001 Def. 3)", NULL},
  {"sigma0", DLN_OPT_DOUBLELIST, OFF(sigma0), "", "spectral_symmetric init: Sigma_0 diagonal (001 Def. 1), rows values", NULL},
  {"init_files", DLN_OPT_STRLIST, OFF(init_files), "", "file init: W1,...,WN files (tied: U), or one pattern containing {j}", NULL},
  {"seed", DLN_OPT_U64, OFF(seed), "1", "random seed (data drawn first, then the init)", NULL},
  {"stream", DLN_OPT_U64, OFF(stream), "0", "random stream index (run k of a sweep)", NULL},
  {"method", DLN_OPT_ENUM, OFF(method), "flow", "dynamics: gradient descent; gradient flow by ARKODE adaptive Runge-Kutta (flow), CVODE BDF + GMRES with exact Hessian-vector Jacobian (cvode, stiff), Gauss-Legendre collocation (gauss, conserves C_j), dln's own low-overhead Runge-Kutta switching to Runge-Kutta-Chebyshev when stiff (rkc), the same switching to Chebyshev or, when very stiff, to CVODE (auto); end-to-end flow / GD of W = W_N...W_1 alone from a balanced init (e2e_flow, e2e_gd; 002 Thm 1)", methods},
  {"eta", DLN_OPT_DOUBLE, OFF(eta), "0.001", "GD step size", NULL},
  {"t_end", DLN_OPT_DOUBLE, OFF(t_end), "40", "final time (GD: steps * eta)", NULL},
  {"max_steps", DLN_OPT_LONG, OFF(max_steps), "0", "step budget (0 = default: t_end/eta for GD, 10^7 for flow)", NULL},
  {"loss_threshold", DLN_OPT_DOUBLE, OFF(loss_threshold), "-1", "stop when the loss <= this (negative: off)", NULL},
  {"recon_threshold", DLN_OPT_DOUBLE, OFF(recon_threshold), "0", "factorization: stop when |Ybar - W|/|Ybar| <= this (0: off)", NULL},
  {"grad_tol", DLN_OPT_DOUBLE, OFF(grad_tol), "0", "stop when the gradient norm <= this (0: off)", NULL},
  {"rtol", DLN_OPT_DOUBLE, OFF(rtol), "1e-8", "flow: relative tolerance", NULL},
  {"atol", DLN_OPT_DOUBLE, OFF(atol), "1e-10", "flow: absolute tolerance", NULL},
  {"erk_order", DLN_OPT_INT, OFF(erk_order), "5", "flow, auto, rkc, e2e_flow: explicit Runge-Kutta order (2, 3, 4, 5, 6 or 8)", NULL},
  {"gauss_stages", DLN_OPT_INT, OFF(gauss_stages), "2", "gauss: stages s (1: implicit midpoint, order 2; 2: order 4)", NULL},
  {"gauss_h", DLN_OPT_DOUBLE, OFF(gauss_h), "0", "gauss: fixed step size without error control (0: adaptive with rtol, atol)", NULL},
  {"krylov_maxl", DLN_OPT_INT, OFF(krylov_maxl), "30", "cvode, gauss, auto: Krylov dimension of GMRES (1..1000)", NULL},
  {"auto_stiff_ratio", DLN_OPT_DOUBLE, OFF(auto_stiff_ratio), "0.5", "auto, rkc: h*rho/beta_RK at or above which a Runge-Kutta step counts as stability-limited", NULL},
  {"auto_window", DLN_OPT_INT, OFF(auto_window), "3", "auto, rkc: consecutive stability-limited Runge-Kutta steps before switching", NULL},
  {"auto_min_steps", DLN_OPT_LONG, OFF(auto_min_steps), "200", "auto: switch to CVODE only if Runge-Kutta would still need at least this many steps to t_end", NULL},
  {"auto_rkc_max", DLN_OPT_DOUBLE, OFF(auto_rkc_max), "1e4", "auto: at the switch, continue with Runge-Kutta-Chebyshev if rho(Hessian)*(t_end - t) <= this, else CVODE", NULL},
  {"e2e_balance_tol", DLN_OPT_DOUBLE, OFF(e2e_balance_tol), "1e-10", "e2e_flow, e2e_gd: largest accepted max_j |C_j|_F / |theta|^2 of the init (C_j = W_{j+1}^T W_{j+1} - W_j W_j^T)", NULL},
  {"blowup", DLN_OPT_DOUBLE, OFF(blowup), "1e150", "divergence threshold on the loss and max |theta|", NULL},
  {"samples", DLN_OPT_INT, OFF(samples), "201", "number of sample times including 0 and t_end", NULL},
  {"log_samples", DLN_OPT_BOOL, OFF(log_samples), "false", "log-spaced sample times from t_first to t_end (plus t = 0)", NULL},
  {"t_first", DLN_OPT_DOUBLE, OFF(t_first), "0", "first positive sample time for log spacing (0: t_end * 1e-4)", NULL},
  {"observe", DLN_OPT_STRLIST, OFF(observe), "all", "trajectory columns: loss, gradnorm, dist, sv, conserved, imbalance, all; theory columns (not in all): closed_form (cf_dist, cf_loss and the bound_* curves of the rate theorems whose hypotheses hold), bias (nuclear_norm, effective_rank, det_sign, dist_minnorm, orth_measure), theory (both)", observables},
  {"out", DLN_OPT_STRING, OFF(out), "dln-out", "output folder", NULL},
  {"plot", DLN_OPT_BOOL, OFF(plot), "true", "write plot.py and render figure.png with /usr/bin/python3", NULL},
  {"quiet", DLN_OPT_BOOL, OFF(quiet), "false", "no progress or table on the terminal", NULL},
  {"blas_threads", DLN_OPT_INT, OFF(blas_threads), "1", "OpenBLAS threads (openblas_set_num_threads)", NULL},
  {NULL, DLN_OPT_INT, 0, NULL, NULL, NULL}};
/* clang-format on */

#define NOPTS ((int)(sizeof options / sizeof options[0]) - 1)
_Static_assert(sizeof options / sizeof options[0] - 1 <= DLN_SPEC_MAXOPTS, "DLN_SPEC_MAXOPTS too small");

const dln_spec_option *dln_spec_options(void) { return options; }
int dln_spec_noptions(void) { return NOPTS; }

const dln_spec_option *dln_spec_find(const char *name) {
  if (!name) return NULL;
  for (int i = 0; i < NOPTS; ++i)
    if (strcmp(options[i].name, name) == 0) return &options[i];
  return NULL;
}

static int opt_index(const dln_spec_option *o) { return (int)(o - options); }

#define FIELD(spec, o, T) ((T *)(void *)((char *)(spec) + (o)->offset))
#define CFIELD(spec, o, T) ((const T *)(const void *)((const char *)(spec) + (o)->offset))

static char *xstrdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = malloc(n);
  if (p) memcpy(p, s, n);
  return p;
}

/* ---- the list options: dln_ilist, dln_dlist and dln_slist alike, {int n; T *v} ---- */

/* Size of one item of a list option, 0 for the other types. */
static size_t list_item_size(const dln_spec_option *o) {
  switch (o->type) {
    case DLN_OPT_INTLIST: return sizeof(int);
    case DLN_OPT_DOUBLELIST: return sizeof(double);
    case DLN_OPT_STRLIST: return sizeof(char *);
    default: return 0;
  }
}

/* The items of list option o into *v; returns their number. */
static int list_get(const dln_spec *spec, const dln_spec_option *o, void **v) {
  switch (o->type) {
    case DLN_OPT_INTLIST: *v = CFIELD(spec, o, dln_ilist)->v; return CFIELD(spec, o, dln_ilist)->n;
    case DLN_OPT_DOUBLELIST: *v = CFIELD(spec, o, dln_dlist)->v; return CFIELD(spec, o, dln_dlist)->n;
    case DLN_OPT_STRLIST: *v = CFIELD(spec, o, dln_slist)->v; return CFIELD(spec, o, dln_slist)->n;
    default: *v = NULL; return 0;
  }
}

/* List option o ← (n, v), without freeing the old items. */
static void list_put(dln_spec *spec, const dln_spec_option *o, int n, void *v) {
  switch (o->type) {
    case DLN_OPT_INTLIST: *FIELD(spec, o, dln_ilist) = (dln_ilist){n, v}; break;
    case DLN_OPT_DOUBLELIST: *FIELD(spec, o, dln_dlist) = (dln_dlist){n, v}; break;
    case DLN_OPT_STRLIST: *FIELD(spec, o, dln_slist) = (dln_slist){n, v}; break;
    default: break;
  }
}

/* Free n items v of list option o (the strings of a string list, then the array). */
static void list_free_items(const dln_spec_option *o, int n, void *v) {
  if (o->type == DLN_OPT_STRLIST)
    for (int i = 0; i < n; ++i) free(((char **)v)[i]);
  free(v);
}

static void opt_clear(dln_spec *spec, const dln_spec_option *o) {
  if (o->type == DLN_OPT_STRING || o->type == DLN_OPT_ENUM) {
    char **p = FIELD(spec, o, char *);
    free(*p);
    *p = NULL;
  } else if (list_item_size(o)) {
    void *v;
    int n = list_get(spec, o, &v);
    list_free_items(o, n, v);
    list_put(spec, o, 0, NULL);
  }
}

void dln_spec_free(dln_spec *spec) {
  if (!spec) return;
  for (int i = 0; i < NOPTS; ++i) opt_clear(spec, &options[i]);
  free(spec->source);
  spec->source = NULL;
}

/* ---- text parsing -------------------------------------------------------------- */

static const char *type_expect(const dln_spec_option *o) {
  switch (o->type) {
    case DLN_OPT_INT:
    case DLN_OPT_LONG: return "an integer";
    case DLN_OPT_U64: return "a non-negative integer";
    case DLN_OPT_DOUBLE: return "a number";
    case DLN_OPT_BOOL: return "true or false";
    case DLN_OPT_STRING: return "a string";
    case DLN_OPT_ENUM: return "a string";
    case DLN_OPT_INTLIST: return "a list of integers";
    case DLN_OPT_DOUBLELIST: return "a list of numbers";
    case DLN_OPT_STRLIST: return "a list of strings";
  }
  return "a value";
}

static void allowed_text(const dln_spec_option *o, char *buf, size_t len) {
  buf[0] = '\0';
  size_t k = 0;
  for (int i = 0; o->allowed && o->allowed[i]; ++i) {
    int w = snprintf(buf + k, len - k, "%s%s", i ? "|" : "", o->allowed[i]);
    if (w < 0 || (size_t)w >= len - k) break;
    k += (size_t)w;
  }
}

static int parse_long(const char *s, long long *v) {
  while (isspace((unsigned char)*s)) ++s;
  if (!*s) return -1;
  errno = 0;
  char *e;
  long long x = strtoll(s, &e, 10);
  if (errno) return -1;
  while (isspace((unsigned char)*e)) ++e;
  if (*e) return -1;
  *v = x;
  return 0;
}

static int parse_u64(const char *s, uint64_t *v) {
  while (isspace((unsigned char)*s)) ++s;
  if (!*s || *s == '-') return -1;
  errno = 0;
  char *e;
  unsigned long long x = strtoull(s, &e, 10);
  if (errno) return -1;
  while (isspace((unsigned char)*e)) ++e;
  if (*e) return -1;
  *v = (uint64_t)x;
  return 0;
}

static int parse_double(const char *s, double *v) {
  while (isspace((unsigned char)*s)) ++s;
  if (!*s) return -1;
  char *e;
  double x = strtod(s, &e);
  while (isspace((unsigned char)*e)) ++e;
  if (*e) return -1;
  *v = x;
  return 0;
}

static int parse_bool(const char *s, int *v) {
  static const char *const yes[] = {"true", "1", "yes", "on", ""};
  static const char *const no[] = {"false", "0", "no", "off"};
  for (size_t i = 0; i < sizeof yes / sizeof *yes; ++i)
    if (strcmp(s, yes[i]) == 0) return *v = 1, 0;
  for (size_t i = 0; i < sizeof no / sizeof *no; ++i)
    if (strcmp(s, no[i]) == 0) return *v = 0, 0;
  return -1;
}

static int in_allowed(const dln_spec_option *o, const char *s) {
  for (int i = 0; o->allowed && o->allowed[i]; ++i)
    if (strcmp(o->allowed[i], s) == 0) return 1;
  return 0;
}

/* Split "a,b,c" / "[a, b, c]" into trimmed items (modifies a copy). */
static int split_list(const char *text, char **copy, char ***items, int *n) {
  *copy = NULL;
  *items = NULL;
  *n = 0;
  char *c = xstrdup(text);
  if (!c) return DLN_ENOMEM;
  char *s = c;
  while (isspace((unsigned char)*s)) ++s;
  size_t len = strlen(s);
  while (len && isspace((unsigned char)s[len - 1])) s[--len] = '\0';
  if (len && s[0] == '[' && s[len - 1] == ']') {
    s[len - 1] = '\0';
    ++s;
  }
  int cap = 1;
  for (const char *p = s; *p; ++p) cap += *p == ',';
  char **it = malloc((size_t)cap * sizeof *it);
  if (!it) {
    free(c);
    return DLN_ENOMEM;
  }
  int k = 0;
  int only_space = 1;
  for (const char *p = s; *p; ++p)
    if (!isspace((unsigned char)*p)) only_space = 0;
  if (!only_space) {
    char *p = s;
    for (;;) {
      char *comma = strchr(p, ',');
      if (comma) *comma = '\0';
      while (isspace((unsigned char)*p)) ++p;
      size_t l = strlen(p);
      while (l && isspace((unsigned char)p[l - 1])) p[--l] = '\0';
      it[k++] = p;
      if (!comma) break;
      p = comma + 1;
    }
  }
  *copy = c;
  *items = it;
  *n = k;
  return DLN_OK;
}

static const char *clip(const char *s, char *buf, size_t len) {
  size_t n = strlen(s);
  if (n < len) return s;
  snprintf(buf, len, "%.*s...", (int)(len - 4), s);
  return buf;
}

/* Set option o from text; `where` prefixes messages. */
static int set_text(dln_spec *spec, const dln_spec_option *o, const char *text, const char *where) {
  char cb[96];
  switch (o->type) {
    case DLN_OPT_INT:
    case DLN_OPT_LONG: {
      long long v;
      long long lo = o->type == DLN_OPT_INT ? INT_MIN : LONG_MIN, hi = o->type == DLN_OPT_INT ? INT_MAX : LONG_MAX;
      if (parse_long(text, &v) || v < lo || v > hi)
        return dln_error(DLN_EINVAL, "%s: expected an integer, found '%s'", where, clip(text, cb, sizeof cb));
      if (o->type == DLN_OPT_INT)
        *FIELD(spec, o, int) = (int)v;
      else
        *FIELD(spec, o, long) = (long)v;
      return DLN_OK;
    }
    case DLN_OPT_U64: {
      uint64_t v;
      if (parse_u64(text, &v))
        return dln_error(DLN_EINVAL, "%s: expected a non-negative integer, found '%s'", where, clip(text, cb, sizeof cb));
      *FIELD(spec, o, uint64_t) = v;
      return DLN_OK;
    }
    case DLN_OPT_DOUBLE: {
      double v;
      if (parse_double(text, &v))
        return dln_error(DLN_EINVAL, "%s: expected a number, found '%s'", where, clip(text, cb, sizeof cb));
      *FIELD(spec, o, double) = v;
      return DLN_OK;
    }
    case DLN_OPT_BOOL: {
      int v;
      if (parse_bool(text, &v))
        return dln_error(DLN_EINVAL, "%s: expected true or false, found '%s'", where, clip(text, cb, sizeof cb));
      *FIELD(spec, o, int) = v;
      return DLN_OK;
    }
    case DLN_OPT_STRING:
    case DLN_OPT_ENUM: {
      if (o->type == DLN_OPT_ENUM && !in_allowed(o, text)) {
        char al[256];
        allowed_text(o, al, sizeof al);
        return dln_error(DLN_EINVAL, "%s: expected one of %s, found '%s'", where, al, clip(text, cb, sizeof cb));
      }
      char *p = xstrdup(text);
      if (!p) return dln_error(DLN_ENOMEM, "%s: out of memory", where);
      char **f = FIELD(spec, o, char *);
      free(*f);
      *f = p;
      return DLN_OK;
    }
    case DLN_OPT_INTLIST:
    case DLN_OPT_DOUBLELIST:
    case DLN_OPT_STRLIST: {
      char *copy, **items;
      int n;
      if (split_list(text, &copy, &items, &n)) return dln_error(DLN_ENOMEM, "%s: out of memory", where);
      int st = DLN_OK;
      void *vals = NULL;
      if (n) {
        vals = calloc((size_t)n, list_item_size(o));
        if (!vals) st = dln_error(DLN_ENOMEM, "%s: out of memory", where);
      }
      for (int i = 0; i < n && !st; ++i) {
        if (o->type == DLN_OPT_INTLIST) {
          long long v;
          if (parse_long(items[i], &v) || v < INT_MIN || v > INT_MAX)
            st = dln_error(DLN_EINVAL, "%s: expected a list of integers, found '%s' at item %d", where,
                           clip(items[i], cb, sizeof cb), i + 1);
          else
            ((int *)vals)[i] = (int)v;
        } else if (o->type == DLN_OPT_DOUBLELIST) {
          if (parse_double(items[i], &((double *)vals)[i]))
            st = dln_error(DLN_EINVAL, "%s: expected a list of numbers, found '%s' at item %d", where,
                           clip(items[i], cb, sizeof cb), i + 1);
        } else {
          if (o->allowed && !in_allowed(o, items[i])) {
            char al[256];
            allowed_text(o, al, sizeof al);
            st = dln_error(DLN_EINVAL, "%s: expected items from %s, found '%s'", where, al, clip(items[i], cb, sizeof cb));
          } else if (!(((char **)vals)[i] = xstrdup(items[i]))) {
            st = dln_error(DLN_ENOMEM, "%s: out of memory", where);
          }
        }
      }
      free(items);
      free(copy);
      if (st) {
        list_free_items(o, n, vals);
        return st;
      }
      opt_clear(spec, o);
      list_put(spec, o, n, vals);
      return DLN_OK;
    }
  }
  return dln_error(DLN_EINVAL, "%s: unknown option type", where);
}

int dln_spec_default(dln_spec *spec) {
  if (!spec) return dln_error(DLN_EINVAL, "dln_spec_default: spec must not be NULL");
  memset(spec, 0, sizeof *spec);
  for (int i = 0; i < NOPTS; ++i) {
    char where[96];
    snprintf(where, sizeof where, "default of \"%s\"", options[i].name);
    int st = set_text(spec, &options[i], options[i].defval, where);
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
  if (!o) return dln_error(DLN_ESPEC, "unknown option --%s (see dln run --help)", clip(name, cb, sizeof cb));
  char where[96];
  snprintf(where, sizeof where, "option --%s", name);
  int st = set_text(spec, o, value, where);
  if (!st) spec->origin[opt_index(o)] = (dln_spec_origin){2, 0, 0};
  return st;
}

/* dst's value of option o ← a deep copy of src's; dst's pointers of o must be NULL.
 * DLN_ENOMEM leaves what was copied in dst (freed by dln_spec_free). */
static int opt_copy(dln_spec *dst, const dln_spec *src, const dln_spec_option *o) {
  if (o->type == DLN_OPT_STRING || o->type == DLN_OPT_ENUM) {
    const char *s = *CFIELD(src, o, char *);
    return s && !(*FIELD(dst, o, char *) = xstrdup(s)) ? DLN_ENOMEM : DLN_OK;
  }
  size_t sz = list_item_size(o);
  void *a;
  int n = sz ? list_get(src, o, &a) : 0;
  if (!n) return DLN_OK;
  int strs = o->type == DLN_OPT_STRLIST;
  void *b = strs ? calloc((size_t)n, sz) : malloc((size_t)n * sz);
  if (!b) return DLN_ENOMEM;
  if (!strs) memcpy(b, a, (size_t)n * sz);
  list_put(dst, o, n, b);
  for (int k = 0; strs && k < n; ++k)
    if (!(((char **)b)[k] = xstrdup(((char **)a)[k]))) return DLN_ENOMEM;
  return DLN_OK;
}

int dln_spec_copy(dln_spec *dst, const dln_spec *src) {
  if (!dst || !src) return dln_error(DLN_EINVAL, "dln_spec_copy: NULL argument");
  *dst = *src;
  dst->source = NULL;
  for (int i = 0; i < NOPTS; ++i) { /* detach src's pointers before anything can fail */
    const dln_spec_option *o = &options[i];
    if (o->type == DLN_OPT_STRING || o->type == DLN_OPT_ENUM) *FIELD(dst, o, char *) = NULL;
    else list_put(dst, o, 0, NULL);
  }
  int st = DLN_OK;
  for (int i = 0; i < NOPTS && !st; ++i) st = opt_copy(dst, src, &options[i]);
  if (!st && src->source && !(dst->source = xstrdup(src->source))) st = DLN_ENOMEM;
  if (st) {
    dln_spec_free(dst);
    return dln_error(DLN_ENOMEM, "dln_spec_copy: out of memory");
  }
  return DLN_OK;
}

/* ---- JSON ---------------------------------------------------------------------- */

/* Offset of the opening quote of the first `"key"` followed by ':' at or after `from`
 * (which must lie outside a string), or `len` if none. */
static size_t find_key_from(const char *text, size_t len, size_t from, const char *key) {
  size_t k = strlen(key);
  int in_str = 0;
  for (size_t i = from; i < len; ++i) {
    char c = text[i];
    if (in_str) {
      if (c == '\\') ++i;
      else if (c == '"') in_str = 0;
      continue;
    }
    if (c != '"') continue;
    if (i + 1 + k < len && memcmp(text + i + 1, key, k) == 0 && text[i + 1 + k] == '"') {
      size_t j = i + 2 + k;
      while (j < len && (text[j] == ' ' || text[j] == '\t' || text[j] == '\r' || text[j] == '\n')) ++j;
      if (j < len && text[j] == ':') return i;
    }
    in_str = 1;
  }
  return len;
}

/* 1-based line and column of offset off (0, 0 when off == len: not found). */
static void offset_pos(const char *text, size_t len, size_t off, int *line, int *col) {
  *line = *col = 0;
  if (off >= len) return;
  int ln = 1;
  size_t start = 0;
  for (size_t i = 0; i < off; ++i)
    if (text[i] == '\n') ++ln, start = i + 1;
  *line = ln;
  *col = (int)(off - start) + 1;
}

static char *json_show(const json_t *v, char *buf, size_t len) {
  char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(17));
  if (!s) {
    snprintf(buf, len, "?");
    return buf;
  }
  if (strlen(s) < len)
    snprintf(buf, len, "%s", s);
  else
    snprintf(buf, len, "%.*s...", (int)(len - 4), s);
  free(s);
  return buf;
}

/* Convert a JSON value to option text, checking the type. */
static int json_to_text(const dln_spec_option *o, const json_t *v, char **text, const char *where) {
  char shown[96];
  *text = NULL;
  size_t cap = 64, k = 0;
  char *buf = malloc(cap);
  if (!buf) return dln_error(DLN_ENOMEM, "out of memory");
  buf[0] = '\0';
  int bad = 0;
#define APPEND(...)                                                   \
  do {                                                                \
    int w_ = snprintf(NULL, 0, __VA_ARGS__);                          \
    if (w_ < 0) break;                                                \
    while (k + (size_t)w_ + 1 > cap) {                                \
      char *nb_ = realloc(buf, cap * 2);                              \
      if (!nb_) {                                                     \
        free(buf);                                                    \
        return dln_error(DLN_ENOMEM, "out of memory");                \
      }                                                               \
      buf = nb_;                                                      \
      cap *= 2;                                                       \
    }                                                                 \
    snprintf(buf + k, cap - k, __VA_ARGS__);                          \
    k += (size_t)w_;                                                  \
  } while (0)
  switch (o->type) {
    case DLN_OPT_INT:
    case DLN_OPT_LONG:
      if (!json_is_integer(v)) bad = 1;
      else APPEND("%lld", (long long)json_integer_value(v));
      break;
    case DLN_OPT_U64:
      if (json_is_integer(v) && json_integer_value(v) >= 0) APPEND("%lld", (long long)json_integer_value(v));
      else if (json_is_string(v)) APPEND("%s", json_string_value(v)); /* seeds beyond 2^63 */
      else bad = 1;
      break;
    case DLN_OPT_DOUBLE:
      if (!json_is_number(v)) bad = 1;
      else APPEND("%.17g", json_number_value(v));
      break;
    case DLN_OPT_BOOL:
      if (!json_is_boolean(v)) bad = 1;
      else APPEND("%s", json_is_true(v) ? "true" : "false");
      break;
    case DLN_OPT_STRING:
    case DLN_OPT_ENUM:
      if (!json_is_string(v)) bad = 1;
      else APPEND("%s", json_string_value(v));
      break;
    case DLN_OPT_INTLIST:
    case DLN_OPT_DOUBLELIST:
    case DLN_OPT_STRLIST: {
      if (o->type == DLN_OPT_STRLIST && json_is_string(v)) {
        if (strchr(json_string_value(v), ',')) bad = 1;
        else APPEND("%s", json_string_value(v));
        break;
      }
      if (!json_is_array(v)) {
        bad = 1;
        break;
      }
      size_t i;
      json_t *e;
      json_array_foreach(v, i, e) {
        if (o->type == DLN_OPT_INTLIST && json_is_integer(e))
          APPEND("%s%lld", i ? "," : "", (long long)json_integer_value(e));
        else if (o->type == DLN_OPT_DOUBLELIST && json_is_number(e))
          APPEND("%s%.17g", i ? "," : "", json_number_value(e));
        else if (o->type == DLN_OPT_STRLIST && json_is_string(e) && !strchr(json_string_value(e), ','))
          APPEND("%s%s", i ? "," : "", json_string_value(e));
        else {
          bad = 1;
          break;
        }
      }
      break;
    }
  }
#undef APPEND
  if (bad) {
    free(buf);
    return dln_error(DLN_ESPEC, "%s: expected %s, found %s", where, type_expect(o), json_show(v, shown, sizeof shown));
  }
  *text = buf;
  return DLN_OK;
}

/* text parsed as a JSON object of options (name in messages), or NULL with *st set. */
static json_t *load_options_object(const char *name, const char *text, size_t len, int *st) {
  json_error_t err;
  json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
  if (!root) {
    *st = dln_error(DLN_ESPEC, "%s:%d:%d: %s", name, err.line, err.column, err.text);
    return NULL;
  }
  if (!json_is_object(root)) {
    *st = dln_error(DLN_ESPEC, "%s:1:1: expected a JSON object of options, found %s", name,
                    json_is_array(root) ? "an array" : "a scalar");
    json_decref(root);
    return NULL;
  }
  *st = DLN_OK;
  return root;
}

int dln_spec_from_json_string(dln_spec *spec, const char *name, const char *text) {
  if (!spec || !text) return dln_error(DLN_EINVAL, "dln_spec_from_json_string: NULL argument");
  if (!name) name = "<string>";
  size_t len = strlen(text);
  int st;
  json_t *root = load_options_object(name, text, len, &st);
  if (!root) return st;
  free(spec->source);
  spec->source = xstrdup(name);
  const char *key;
  json_t *v;
  json_object_foreach(root, key, v) {
    int line, col;
    if (strcmp(key, "sweep") == 0) continue; /* read by dln_sweep_from_json_* (dln/ensemble.h) */
    offset_pos(text, len, find_key_from(text, len, 0, key), &line, &col); /* Jansson keeps no positions */
    char where[512], cb[96];
    snprintf(where, sizeof where, "%s:%d:%d: field \"%s\"", name, line, col, clip(key, cb, sizeof cb));
    const dln_spec_option *o = dln_spec_find(key);
    if (!o) {
      st = dln_error(DLN_ESPEC, "%s:%d:%d: unknown key \"%s\" (see dln run --help)", name, line, col,
                     clip(key, cb, sizeof cb));
      goto done;
    }
    char *t = NULL;
    if ((st = json_to_text(o, v, &t, where))) goto done;
    st = set_text(spec, o, t, where);
    free(t);
    if (st) {
      st = DLN_ESPEC;
      goto done;
    }
    spec->origin[opt_index(o)] = (dln_spec_origin){1, line, col};
  }
done:
  json_decref(root);
  return st;
}

/* The text of the JSON file at path (at most 64 MiB, no NUL byte) into *text (caller
 * frees): DLN_EIO if it cannot be read, DLN_ESPEC if it is not text. */
static int read_json_text(const char *path, char **text) {
  *text = NULL;
  FILE *fp = fopen(path, "rb");
  if (!fp) return dln_error(DLN_EIO, "%s: cannot open: %s", path, strerror(errno));
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);
  int st = DLN_OK;
  while (buf) {
    if (n + 1 >= cap) {
      if (cap > ((size_t)64 << 20)) {
        st = dln_error(DLN_ESPEC, "%s: expected a spec of at most 64 MiB, found more", path);
        break;
      }
      char *nb = realloc(buf, cap * 2);
      if (!nb) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = nb;
      cap *= 2;
    }
    size_t got = fread(buf + n, 1, cap - n - 1, fp);
    n += got;
    if (got == 0) break;
  }
  if (!buf) st = dln_error(DLN_ENOMEM, "%s: out of memory", path);
  else if (!st && ferror(fp)) st = dln_error(DLN_EIO, "%s: read error: %s", path, strerror(errno));
  fclose(fp);
  if (!st) {
    buf[n] = '\0';
    if (memchr(buf, '\0', n)) st = dln_error(DLN_ESPEC, "%s: expected JSON text, found a NUL byte", path);
  }
  if (st) free(buf);
  else *text = buf;
  return st;
}

int dln_spec_from_json_file(dln_spec *spec, const char *path) {
  if (!spec || !path) return dln_error(DLN_EINVAL, "dln_spec_from_json_file: NULL argument");
  char *buf = NULL;
  int st = read_json_text(path, &buf);
  if (!st) st = dln_spec_from_json_string(spec, path, buf);
  free(buf);
  return st;
}

/* ---- the "sweep" object (dln/ensemble.h) ------------------------------------------ */

static int unsweepable(const char *name) {
  static const char *const no[] = {"out", "quiet", "plot", "blas_threads"};
  for (size_t i = 0; i < sizeof no / sizeof *no; ++i)
    if (strcmp(no[i], name) == 0) return 1;
  return 0;
}

/* The option that types a swept name ("data_seed" is typed like "seed"), or NULL with
 * the error recorded. */
static const dln_spec_option *sweep_option(const char *key, const char *where) {
  char cb[96];
  if (strcmp(key, "data_seed") == 0) return dln_spec_find("seed");
  const dln_spec_option *o = dln_spec_find(key);
  if (!o) {
    (void)cb;
    dln_error(DLN_ESPEC, "%s: unknown field (expected an option name, \"data_seed\" or \"runs\")", where);
    return NULL;
  }
  if (unsweepable(key)) {
    dln_error(DLN_ESPEC, "%s: cannot be swept (it applies to the whole sweep)", where);
    return NULL;
  }
  return o;
}

/* One JSON value of a swept option to option text, type-checked and parsed like the
 * option itself (on a scratch spec); doubles in the shortest text that reads back. */
static int sweep_value_text(dln_spec *scratch, const dln_spec_option *o, const json_t *v, const char *where, char **text) {
  int st = json_to_text(o, v, text, where);
  if (st) return DLN_ESPEC;
  if (o->type == DLN_OPT_DOUBLE) {
    double x = json_number_value(v);
    char b[40];
    for (int p = 1; p <= 17; ++p) {
      snprintf(b, sizeof b, "%.*g", p, x);
      if (strtod(b, NULL) == x) break;
    }
    char *t = xstrdup(b);
    if (!t) return dln_error(DLN_ENOMEM, "out of memory");
    free(*text);
    *text = t;
  }
  if ((st = set_text(scratch, o, *text, where))) {
    free(*text);
    *text = NULL;
    return DLN_ESPEC;
  }
  return DLN_OK;
}

static int sweep_axis_json(dln_sweep *sw, dln_spec *scratch, const char *key, const json_t *v, const char *where) {
  char shown[96];
  const dln_spec_option *o = sweep_option(key, where);
  if (!o) return DLN_ESPEC;
  if (json_is_object(v)) {
    if (o->type != DLN_OPT_INT && o->type != DLN_OPT_LONG && o->type != DLN_OPT_U64)
      return dln_error(DLN_ESPEC, "%s: expected a non-empty list of values ({\"from\", \"count\"} ranges are for integer fields), found %s",
                       where, json_show(v, shown, sizeof shown));
    const char *k;
    json_t *e;
    json_object_foreach((json_t *)v, k, e) {
      if (strcmp(k, "from") && strcmp(k, "count") && strcmp(k, "step"))
        return dln_error(DLN_ESPEC, "%s: unknown range key \"%s\" (expected from, count, step)", where, clip(k, shown, sizeof shown));
    }
    const json_t *jf = json_object_get(v, "from"), *jc = json_object_get(v, "count"), *js = json_object_get(v, "step");
    if (!json_is_integer(jf) || !json_is_integer(jc) || json_integer_value(jc) < 1 || (js && !json_is_integer(js)))
      return dln_error(DLN_ESPEC, "%s: expected {\"from\": integer, \"count\": integer >= 1[, \"step\": integer]}, found %s",
                       where, json_show(v, shown, sizeof shown));
    long long from = json_integer_value(jf), count = json_integer_value(jc), step = js ? json_integer_value(js) : 1;
    if (count > DLN_SWEEP_MAXRUNS)
      return dln_error(DLN_ESPEC, "%s: expected a count of at most %ld, found %lld", where, DLN_SWEEP_MAXRUNS, count);
    long double last = (long double)from + (long double)(count - 1) * (long double)step;
    long double lo = o->type == DLN_OPT_U64 ? 0 : o->type == DLN_OPT_INT ? INT_MIN : LONG_MIN;
    long double hi = o->type == DLN_OPT_INT ? INT_MAX : LLONG_MAX;
    if ((long double)from < lo || (long double)from > hi || last < lo || last > hi)
      return dln_error(DLN_ESPEC, "%s: range from %lld, count %lld, step %lld leaves the range of %s", where, from, count,
                       step, type_expect(o));
    int st = dln_sweep_add_range(sw, key, (int64_t)from, (long)count, (int64_t)step);
    return st ? DLN_ESPEC : DLN_OK;
  }
  if (!json_is_array(v) || json_array_size(v) == 0)
    return dln_error(DLN_ESPEC, "%s: expected a non-empty list of values or {\"from\": N, \"count\": M}, found %s", where,
                     json_show(v, shown, sizeof shown));
  size_t n = json_array_size(v);
  if (n > (size_t)DLN_SWEEP_MAXRUNS)
    return dln_error(DLN_ESPEC, "%s: expected at most %ld values, found %zu", where, DLN_SWEEP_MAXRUNS, n);
  char **vals = calloc(n, sizeof *vals);
  if (!vals) return dln_error(DLN_ENOMEM, "out of memory");
  int st = DLN_OK;
  for (size_t i = 0; i < n && !st; ++i) {
    char wi[640];
    snprintf(wi, sizeof wi, "%.600s item %zu", where, i + 1);
    st = sweep_value_text(scratch, o, json_array_get(v, i), wi, &vals[i]);
  }
  if (!st) st = dln_sweep_add_axis(sw, key, (int)n, (const char *const *)vals);
  for (size_t i = 0; i < n; ++i) free(vals[i]);
  free(vals);
  return st ? DLN_ESPEC : DLN_OK;
}

static int sweep_runs_json(dln_sweep *sw, dln_spec *scratch, const json_t *v, const char *name, const char *text, size_t len,
                           size_t cursor, const char *where) {
  char shown[96];
  if (!json_is_array(v) || json_array_size(v) == 0)
    return dln_error(DLN_ESPEC, "%s: expected a non-empty list of objects of overrides, found %s", where,
                     json_show(v, shown, sizeof shown));
  size_t i;
  json_t *r;
  json_array_foreach((json_t *)v, i, r) {
    if (!json_is_object(r))
      return dln_error(DLN_ESPEC, "%s item %zu: expected an object of overrides, found %s", where, i + 1,
                       json_show(r, shown, sizeof shown));
    size_t n = json_object_size(r), k = 0;
    char **names = calloc(n ? n : 1, sizeof *names), **vals = calloc(n ? n : 1, sizeof *vals);
    int st = names && vals ? DLN_OK : dln_error(DLN_ENOMEM, "out of memory");
    const char *key;
    json_t *e;
    json_object_foreach(r, key, e) {
      if (st) break;
      size_t off = find_key_from(text, len, cursor, key);
      if (off < len) cursor = off + strlen(key) + 2;
      int line, col;
      offset_pos(text, len, off, &line, &col);
      char wk[600], cb[96];
      snprintf(wk, sizeof wk, "%s:%d:%d: sweep field \"runs\" item %zu, \"%s\"", name, line, col, i + 1, clip(key, cb, sizeof cb));
      const dln_spec_option *o = sweep_option(key, wk);
      if (!o) {
        st = DLN_ESPEC;
        break;
      }
      names[k] = xstrdup(key);
      if (!names[k]) st = dln_error(DLN_ENOMEM, "out of memory");
      else st = sweep_value_text(scratch, o, e, wk, &vals[k]);
      ++k;
    }
    if (!st) st = dln_sweep_add_run(sw, (int)n, (const char *const *)names, (const char *const *)vals);
    for (size_t j = 0; j < k; ++j) free(names[j]), free(vals[j]);
    free(names);
    free(vals);
    if (st) return st == DLN_ENOMEM ? st : DLN_ESPEC;
  }
  return DLN_OK;
}

int dln_sweep_from_json_string(dln_sweep *sw, const char *name, const char *text) {
  if (!sw || !text) return dln_error(DLN_EINVAL, "dln_sweep_from_json_string: NULL argument");
  if (!name) name = "<string>";
  size_t len = strlen(text);
  int st;
  json_t *root = load_options_object(name, text, len, &st);
  if (!root) return st;
  dln_spec scratch;
  int have_scratch = 0;
  char shown[96];
  const json_t *s = json_object_get(root, "sweep");
  if (!s) goto done;
  size_t soff = find_key_from(text, len, 0, "sweep");
  int line, col;
  offset_pos(text, len, soff, &line, &col);
  if (!json_is_object(s)) {
    st = dln_error(DLN_ESPEC, "%s:%d:%d: field \"sweep\": expected an object of swept options, found %s", name, line, col,
                   json_show(s, shown, sizeof shown));
    goto done;
  }
  if ((st = dln_spec_default(&scratch))) goto done;
  have_scratch = 1;
  const char *key;
  json_t *v;
  json_object_foreach((json_t *)s, key, v) {
    size_t from = soff < len ? soff + strlen("sweep") + 2 : len;
    size_t off = find_key_from(text, len, from, key);
    offset_pos(text, len, off, &line, &col);
    char where[600], cb[96];
    snprintf(where, sizeof where, "%s:%d:%d: sweep field \"%s\"", name, line, col, clip(key, cb, sizeof cb));
    if (strcmp(key, "runs") == 0) st = sweep_runs_json(sw, &scratch, v, name, text, len, off < len ? off + strlen(key) + 2 : from, where);
    else st = sweep_axis_json(sw, &scratch, key, v, where);
    if (st) {
      /* keep the message, give it the position when the library check produced it */
      if (strncmp(dln_last_error(), name, strlen(name)) != 0) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", dln_last_error());
        st = dln_error(st, "%s: %s", where, msg);
      }
      goto done;
    }
    sw->axes[sw->naxes - 1].line = line;
    sw->axes[sw->naxes - 1].col = col;
  }
done:
  if (have_scratch) dln_spec_free(&scratch);
  json_decref(root);
  return st;
}

int dln_sweep_from_json_file(dln_sweep *sw, const char *path) {
  if (!sw || !path) return dln_error(DLN_EINVAL, "dln_sweep_from_json_file: NULL argument");
  char *buf = NULL;
  int st = read_json_text(path, &buf);
  if (!st) st = dln_sweep_from_json_string(sw, path, buf);
  free(buf);
  return st;
}

/* ---- output --------------------------------------------------------------------- */

const char *dln_spec_where(const dln_spec *spec, const char *name, char *buf, size_t len) {
  const dln_spec_option *o = dln_spec_find(name);
  const dln_spec_origin *g = o ? &spec->origin[opt_index(o)] : NULL;
  if (g && g->kind == 1 && spec->source)
    snprintf(buf, len, "%s:%d:%d: field \"%s\"", spec->source, g->line, g->col, name);
  else if (g && g->kind == 2)
    snprintf(buf, len, "option --%s", name);
  else
    snprintf(buf, len, "field \"%s\"", name);
  return buf;
}

const char *dln_spec_value_text(const dln_spec *spec, const dln_spec_option *o, char *buf, size_t len) {
  size_t k = 0;
  buf[0] = '\0';
#define PUT(...)                                                     \
  do {                                                               \
    if (k < len) {                                                   \
      int w_ = snprintf(buf + k, len - k, __VA_ARGS__);              \
      if (w_ > 0) k += (size_t)w_;                                   \
    }                                                                \
  } while (0)
  switch (o->type) {
    case DLN_OPT_INT:
    case DLN_OPT_BOOL:
      if (o->type == DLN_OPT_BOOL) PUT("%s", *CFIELD(spec, o, int) ? "true" : "false");
      else PUT("%d", *CFIELD(spec, o, int));
      break;
    case DLN_OPT_LONG: PUT("%ld", *CFIELD(spec, o, long)); break;
    case DLN_OPT_U64: PUT("%llu", (unsigned long long)*CFIELD(spec, o, uint64_t)); break;
    case DLN_OPT_DOUBLE: PUT("%.17g", *CFIELD(spec, o, double)); break;
    case DLN_OPT_STRING:
    case DLN_OPT_ENUM: {
      const char *s = *CFIELD(spec, o, char *);
      PUT("%s", s ? s : "");
      break;
    }
    case DLN_OPT_INTLIST: {
      const dln_ilist *l = CFIELD(spec, o, dln_ilist);
      for (int i = 0; i < l->n; ++i) PUT("%s%d", i ? "," : "", l->v[i]);
      break;
    }
    case DLN_OPT_DOUBLELIST: {
      const dln_dlist *l = CFIELD(spec, o, dln_dlist);
      for (int i = 0; i < l->n; ++i) PUT("%s%.17g", i ? "," : "", l->v[i]);
      break;
    }
    case DLN_OPT_STRLIST: {
      const dln_slist *l = CFIELD(spec, o, dln_slist);
      for (int i = 0; i < l->n; ++i) PUT("%s%s", i ? "," : "", l->v[i]);
      break;
    }
  }
#undef PUT
  return buf;
}

json_t *dln_spec_to_json(const dln_spec *spec) {
  json_t *o = json_object();
  if (!o) return NULL;
  for (int i = 0; i < NOPTS; ++i) {
    const dln_spec_option *p = &options[i];
    json_t *v = NULL;
    switch (p->type) {
      case DLN_OPT_INT: v = json_integer(*CFIELD(spec, p, int)); break;
      case DLN_OPT_LONG: v = json_integer(*CFIELD(spec, p, long)); break;
      case DLN_OPT_U64: {
        uint64_t u = *CFIELD(spec, p, uint64_t);
        if (u <= (uint64_t)LLONG_MAX) v = json_integer((json_int_t)u);
        else {
          char b[32];
          snprintf(b, sizeof b, "%llu", (unsigned long long)u);
          v = json_string(b);
        }
        break;
      }
      case DLN_OPT_DOUBLE: v = dln_json_num(*CFIELD(spec, p, double)); break;
      case DLN_OPT_BOOL: v = json_boolean(*CFIELD(spec, p, int)); break;
      case DLN_OPT_STRING:
      case DLN_OPT_ENUM: {
        const char *s = *CFIELD(spec, p, char *);
        v = json_string(s ? s : "");
        break;
      }
      case DLN_OPT_INTLIST: {
        const dln_ilist *l = CFIELD(spec, p, dln_ilist);
        v = json_array();
        for (int k = 0; v && k < l->n; ++k) json_array_append_new(v, json_integer(l->v[k]));
        break;
      }
      case DLN_OPT_DOUBLELIST: {
        const dln_dlist *l = CFIELD(spec, p, dln_dlist);
        v = json_array();
        for (int k = 0; v && k < l->n; ++k) json_array_append_new(v, dln_json_num(l->v[k]));
        break;
      }
      case DLN_OPT_STRLIST: {
        const dln_slist *l = CFIELD(spec, p, dln_slist);
        v = json_array();
        for (int k = 0; v && k < l->n; ++k) json_array_append_new(v, json_string(l->v[k]));
        break;
      }
    }
    if (!v || json_object_set_new(o, p->name, v)) {
      json_decref(o);
      return NULL;
    }
  }
  return o;
}

unsigned dln_spec_observe_flags(const dln_spec *spec) {
  static const struct {
    const char *name;
    unsigned flag;
  } map[] = {{"loss", DLN_OBS_LOSS}, {"gradnorm", DLN_OBS_GRADNORM}, {"dist", DLN_OBS_DIST},
             {"sv", DLN_OBS_SV},     {"conserved", DLN_OBS_CONSERVED}, {"imbalance", DLN_OBS_IMBALANCE},
             {"all", DLN_OBS_ALL}};
  unsigned f = 0;
  for (int i = 0; i < spec->observe.n; ++i)
    for (size_t k = 0; k < sizeof map / sizeof *map; ++k)
      if (strcmp(spec->observe.v[i], map[k].name) == 0) f |= map[k].flag;
  return f;
}

unsigned dln_spec_observe_xflags(const dln_spec *spec) {
  unsigned f = 0;
  for (int i = 0; i < spec->observe.n; ++i) {
    const char *v = spec->observe.v[i];
    if (strcmp(v, "closed_form") == 0 || strcmp(v, "theory") == 0) f |= DLN_OBSX_CF;
    if (strcmp(v, "bias") == 0 || strcmp(v, "theory") == 0) f |= DLN_OBSX_BIAS;
  }
  return f;
}

int dln_spec_resolve_widths(const dln_spec *spec, int **widths, int *n) {
  *widths = NULL;
  *n = 0;
  int N = spec->widths.n ? spec->widths.n - 1 : spec->depth;
  if (N < 1) return dln_error(DLN_EINVAL, "field \"depth\": expected at least 1 layer, found %d", N);
  int *w = malloc((size_t)(N + 1) * sizeof *w);
  if (!w) return dln_error(DLN_ENOMEM, "out of memory");
  if (spec->widths.n) {
    memcpy(w, spec->widths.v, (size_t)(N + 1) * sizeof *w);
  } else {
    for (int j = 1; j < N; ++j) w[j] = spec->width;
    w[0] = spec->tied ? spec->rows : spec->cols;
    w[N] = spec->rows;
  }
  *widths = w;
  *n = N + 1;
  return DLN_OK;
}

/* ---- validation ----------------------------------------------------------------- */

#define WHERE(name) dln_spec_where(spec, name, wb, sizeof wb)

static int is_origin_set(const dln_spec *spec, const char *name) {
  const dln_spec_option *o = dln_spec_find(name);
  return o && spec->origin[opt_index(o)].kind != 0;
}

static int check_pos(const dln_spec *spec, const char *name, double x, int allow_zero) {
  char wb[512];
  if (!isfinite(x) || x < 0 || (!allow_zero && x == 0))
    return dln_error(DLN_EINVAL, "%s: expected a %s finite number, found %g", WHERE(name),
                     allow_zero ? "non-negative" : "positive", x);
  return DLN_OK;
}

static int check_int_min(const dln_spec *spec, const char *name, long x, long lo) {
  char wb[512];
  if (x < lo) return dln_error(DLN_EINVAL, "%s: expected an integer >= %ld, found %ld", WHERE(name), lo, x);
  return DLN_OK;
}

static int check_list_pos(const dln_spec *spec, const char *name, const dln_dlist *l, int allow_zero, int any_sign) {
  char wb[512];
  for (int i = 0; i < l->n; ++i) {
    double x = l->v[i];
    if (!isfinite(x) || (!any_sign && (x < 0 || (!allow_zero && x == 0))))
      return dln_error(DLN_EINVAL, "%s: expected %sfinite numbers, found %g at item %d", WHERE(name),
                       any_sign ? "" : allow_zero ? "non-negative " : "positive ", x, i + 1);
  }
  return DLN_OK;
}

static int has(const char *s) { return s && *s; }

int dln_spec_check(const dln_spec *spec) {
  if (!spec) return dln_error(DLN_EINVAL, "dln_spec_check: spec must not be NULL");
  char wb[512];
  int st;
  const char *task = spec->task;
  int fact = strcmp(task, "factorization") == 0, regr = strcmp(task, "regression") == 0;
  int sens = strcmp(task, "sensing") == 0, comp = strcmp(task, "completion") == 0;
  for (int i = 0; i < NOPTS; ++i) {
    const dln_spec_option *o = &options[i];
    if (o->type == DLN_OPT_ENUM && !in_allowed(o, *CFIELD(spec, o, char *))) {
      char al[256];
      allowed_text(o, al, sizeof al);
      return dln_error(DLN_EINVAL, "%s: expected one of %s, found '%s'", WHERE(o->name), al, *CFIELD(spec, o, char *));
    }
  }
  /* data */
  if ((st = check_int_min(spec, "rows", spec->rows, 1)) || (st = check_int_min(spec, "cols", spec->cols, 1)))
    return st;
  if ((st = check_int_min(spec, "rank", spec->rank, 0))) return st;
  int mn = spec->rows < spec->cols ? spec->rows : spec->cols;
  if (spec->rank > mn)
    return dln_error(DLN_EINVAL, "%s: expected a rank <= min(rows, cols) = %d, found %d", WHERE("rank"), mn, spec->rank);
  if ((st = check_pos(spec, "target_sigma", spec->target_sigma, 0))) return st;
  if ((st = check_list_pos(spec, "singular_values", &spec->singular_values, 1, spec->symmetric_target))) return st;
  if (spec->symmetric_target) {
    if (!fact) return dln_error(DLN_EINVAL, "%s: expected false unless task is factorization, found true", WHERE("symmetric_target"));
    if (spec->rows != spec->cols && !has(spec->target_file))
      return dln_error(DLN_EINVAL, "%s: expected cols = rows = %d for a symmetric target, found %d", WHERE("cols"),
                       spec->rows, spec->cols);
    if (spec->singular_values.n > spec->rows)
      return dln_error(DLN_EINVAL, "%s: expected at most rows = %d eigenvalues, found %d", WHERE("singular_values"),
                       spec->rows, spec->singular_values.n);
  } else if (spec->singular_values.n > mn) {
    return dln_error(DLN_EINVAL, "%s: expected at most min(rows, cols) = %d values, found %d", WHERE("singular_values"),
                     mn, spec->singular_values.n);
  }
  if (strcmp(spec->target, "lowrank") == 0 && !spec->singular_values.n && spec->rank < 1 && !spec->symmetric_target)
    return dln_error(DLN_EINVAL, "%s: expected singular_values or rank >= 1 for a lowrank target, found neither",
                     WHERE("target"));
  if ((st = check_int_min(spec, "n_samples", spec->n_samples, 1)) || (st = check_int_min(spec, "x_rank", spec->x_rank, 0)))
    return st;
  if ((st = check_pos(spec, "noise", spec->noise, 1))) return st;
  if (sens || comp) {
    if ((st = check_int_min(spec, "m", spec->m, 1))) return st;
    if (comp && !has(spec->entries_file) && (long long)spec->m > (long long)spec->rows * spec->cols)
      return dln_error(DLN_EINVAL, "%s: expected at most rows*cols = %lld observed entries, found %d", WHERE("m"),
                       (long long)spec->rows * spec->cols, spec->m);
  }
  if (spec->reduce && !regr)
    return dln_error(DLN_EINVAL, "%s: expected false unless task is regression, found true", WHERE("reduce"));
  if (has(spec->x_file) != has(spec->y_file))
    return dln_error(DLN_EINVAL, "%s: expected x_file and y_file together, found only %s", WHERE(has(spec->x_file) ? "x_file" : "y_file"),
                     has(spec->x_file) ? "x_file" : "y_file");
  if ((has(spec->x_file) && !regr))
    return dln_error(DLN_EINVAL, "%s: expected only with task regression, found task %s", WHERE("x_file"), task);
  if (has(spec->a_file) != has(spec->b_file))
    return dln_error(DLN_EINVAL, "%s: expected a_file and b_file together, found only one", WHERE(has(spec->a_file) ? "a_file" : "b_file"));
  if (has(spec->a_file) && !sens)
    return dln_error(DLN_EINVAL, "%s: expected only with task sensing, found task %s", WHERE("a_file"), task);
  if (has(spec->entries_file) && !comp)
    return dln_error(DLN_EINVAL, "%s: expected only with task completion, found task %s", WHERE("entries_file"), task);

  /* network */
  if (spec->widths.n) {
    if (spec->widths.n < 2)
      return dln_error(DLN_EINVAL, "%s: expected at least 2 widths d_0,...,d_N, found %d", WHERE("widths"), spec->widths.n);
    if (is_origin_set(spec, "depth") && spec->depth != spec->widths.n - 1)
      return dln_error(DLN_EINVAL, "%s: expected depth + 1 = %d widths, found %d", WHERE("widths"), spec->depth + 1,
                       spec->widths.n);
    for (int i = 0; i < spec->widths.n; ++i)
      if (spec->widths.v[i] < 1)
        return dln_error(DLN_EINVAL, "%s: expected widths >= 1, found %d at item %d", WHERE("widths"), spec->widths.v[i], i + 1);
  } else {
    if ((st = check_int_min(spec, "depth", spec->depth, 1))) return st;
    if (spec->depth > 1000) return dln_error(DLN_EINVAL, "%s: expected at most 1000 layers, found %d", WHERE("depth"), spec->depth);
    if ((st = check_int_min(spec, "width", spec->width, 1))) return st;
  }
  int *w = NULL, nw = 0;
  if ((st = dln_spec_resolve_widths(spec, &w, &nw))) return st;
  int N = nw - 1, d0 = w[0], dN = w[N];
  int hmin = 0, hmax = 0;
  for (int j = 1; j < N; ++j) {
    if (!hmin || w[j] < hmin) hmin = w[j];
    if (w[j] > hmax) hmax = w[j];
  }
  free(w);
  int synthetic_dims = !has(spec->target_file) && !has(spec->x_file) && !has(spec->entries_file);
  int exp_d0 = spec->tied || spec->symmetric_target ? spec->rows : spec->cols;
  if (spec->widths.n && synthetic_dims && (d0 != exp_d0 || dN != spec->rows))
    return dln_error(DLN_EINVAL, "%s: expected d_0 = %s = %d and d_N = rows = %d, found d_0 = %d, d_N = %d", WHERE("widths"),
                     exp_d0 == spec->cols ? "cols" : "rows", exp_d0, spec->rows, d0, dN);
  if (spec->tied) {
    if (!fact) return dln_error(DLN_EINVAL, "%s: expected false unless task is factorization, found true", WHERE("tied"));
    if (synthetic_dims && spec->rows != spec->cols)
      return dln_error(DLN_EINVAL, "%s: expected a square target (cols = rows = %d) for the tied model, found cols = %d",
                       WHERE(is_origin_set(spec, "cols") ? "cols" : "tied"), spec->rows, spec->cols);
    if (N != 2 || d0 != dN)
      return dln_error(DLN_EINVAL, "%s: expected depth 2 with d_0 = d_2 for the tied model U U^T, found depth %d, d_0 = %d, d_N = %d",
                       WHERE("tied"), N, d0, dN);
  }
  /* init */
  const char *init = spec->init;
  if (strcmp(init, "gaussian") == 0 || strcmp(init, "balanced") == 0 || strcmp(init, "orthogonal_minnorm") == 0 ||
      strcmp(init, "imbalanced") == 0)
    if ((st = check_pos(spec, "sigma", spec->sigma, 0))) return st;
  if (strcmp(init, "width_scaled") == 0) {
    if ((st = check_pos(spec, "alpha", spec->alpha, 0))) return st;
    if (N < 2) return dln_error(DLN_EINVAL, "%s: expected depth >= 2 for width_scaled, found depth %d", WHERE("init"), N);
  }
  if (spec->layer_scales.n) {
    if ((st = check_list_pos(spec, "layer_scales", &spec->layer_scales, 0, 0))) return st;
    int want = spec->tied ? 1 : N;
    if (spec->layer_scales.n != want)
      return dln_error(DLN_EINVAL, "%s: expected %d scales (one per layer), found %d", WHERE("layer_scales"), want,
                       spec->layer_scales.n);
  }
  if (strcmp(init, "imbalanced") == 0 && !spec->layer_scales.n)
    return dln_error(DLN_EINVAL, "%s: expected layer_scales for init imbalanced, found none", WHERE("layer_scales"));
  if (spec->init_product_widths.n) {
    const dln_ilist *p = &spec->init_product_widths;
    if (strcmp(init, "gaussian") != 0)
      return dln_error(DLN_EINVAL, "%s: expected only with init gaussian, found init %s", WHERE("init_product_widths"), init);
    if (spec->tied) return dln_error(DLN_EINVAL, "%s: expected an untied network, found tied", WHERE("init_product_widths"));
    if (p->n < 2 || p->v[0] != d0 || p->v[p->n - 1] != dN)
      return dln_error(DLN_EINVAL, "%s: expected widths from d_0 = %d to d_N = %d, found %d entries from %d to %d",
                       WHERE("init_product_widths"), d0, dN, p->n, p->n ? p->v[0] : 0, p->n ? p->v[p->n - 1] : 0);
    for (int i = 0; i < p->n; ++i)
      if (p->v[i] < 1)
        return dln_error(DLN_EINVAL, "%s: expected widths >= 1, found %d at item %d", WHERE("init_product_widths"), p->v[i], i + 1);
  }
  if (strcmp(init, "spectral") == 0) {
    int k = mn;
    if (!fact || N != 2 || spec->tied)
      return dln_error(DLN_EINVAL, "%s: expected an untied depth-2 factorization for init spectral, found task %s, depth %d",
                       WHERE("init"), task, N);
    if (!has(spec->target_file) && hmin < (spec->rows > spec->cols ? spec->rows : spec->cols))
      return dln_error(DLN_EINVAL, "%s: expected hidden width >= max(rows, cols) = %d for init spectral, found %d",
                       WHERE(spec->widths.n ? "widths" : "width"), spec->rows > spec->cols ? spec->rows : spec->cols, hmin);
    if (!has(spec->target_file) && (spec->ubar.n != k || spec->vbar.n != k))
      return dln_error(DLN_EINVAL, "%s: expected min(rows, cols) = %d values, found %d", WHERE(spec->ubar.n != k ? "ubar" : "vbar"),
                       k, spec->ubar.n != k ? spec->ubar.n : spec->vbar.n);
    if ((st = check_list_pos(spec, "ubar", &spec->ubar, 1, 1)) || (st = check_list_pos(spec, "vbar", &spec->vbar, 1, 1)))
      return st;
  }
  if (strcmp(init, "spectral_symmetric") == 0) {
    if (!spec->tied) return dln_error(DLN_EINVAL, "%s: expected tied = true for init spectral_symmetric, found false", WHERE("tied"));
    if (!has(spec->target_file) && spec->sigma0.n != spec->rows)
      return dln_error(DLN_EINVAL, "%s: expected rows = %d values, found %d", WHERE("sigma0"), spec->rows, spec->sigma0.n);
    if ((st = check_list_pos(spec, "sigma0", &spec->sigma0, 1, 0))) return st;
  }
  if (strcmp(init, "orthogonal_minnorm") == 0 && (!regr || N != 2 || spec->reduce))
    return dln_error(DLN_EINVAL, "%s: expected a depth-2 regression for init orthogonal_minnorm, found task %s, depth %d",
                     WHERE("init"), task, N);
  if (strcmp(init, "file") == 0) {
    int want = spec->tied ? 1 : N;
    const dln_slist *f = &spec->init_files;
    int pattern = f->n == 1 && strstr(f->v[0], "{j}");
    if (!pattern && f->n != want)
      return dln_error(DLN_EINVAL, "%s: expected %d files (W1..WN) or one pattern with {j}, found %d", WHERE("init_files"),
                       want, f->n);
  }
  /* dynamics */
  const char *method = spec->method;
  int e2e = strcmp(method, "e2e_flow") == 0 || strcmp(method, "e2e_gd") == 0;
  if ((strcmp(method, "gd") == 0 || strcmp(method, "e2e_gd") == 0) && (st = check_pos(spec, "eta", spec->eta, 0))) return st;
  if (e2e && spec->tied)
    return dln_error(DLN_EINVAL, "%s: expected a layer-wise method with tied = true (the flow of U U^T is not the end-to-end flow of 002 Thm 1), found %s",
                     WHERE("method"), method);
  if ((st = check_pos(spec, "t_end", spec->t_end, 0))) return st;
  if ((st = check_int_min(spec, "max_steps", spec->max_steps, 0))) return st;
  if (!isfinite(spec->loss_threshold))
    return dln_error(DLN_EINVAL, "%s: expected a finite number, found %g", WHERE("loss_threshold"), spec->loss_threshold);
  if ((st = check_pos(spec, "recon_threshold", spec->recon_threshold, 1))) return st;
  if (spec->recon_threshold > 0 && !fact && !(regr && spec->reduce))
    return dln_error(DLN_EINVAL, "%s: expected 0 unless the task is a factorization, found %g", WHERE("recon_threshold"),
                     spec->recon_threshold);
  if ((st = check_pos(spec, "grad_tol", spec->grad_tol, 1))) return st;
  if ((st = check_pos(spec, "rtol", spec->rtol, 0)) || (st = check_pos(spec, "atol", spec->atol, 0))) return st;
  if (spec->erk_order < 2 || spec->erk_order > 8 || spec->erk_order == 7)
    return dln_error(DLN_EINVAL, "%s: expected an order of 2, 3, 4, 5, 6 or 8, found %d", WHERE("erk_order"), spec->erk_order);
  if (spec->gauss_stages != 1 && spec->gauss_stages != 2)
    return dln_error(DLN_EINVAL, "%s: expected 1 or 2 stages, found %d", WHERE("gauss_stages"), spec->gauss_stages);
  if ((st = check_pos(spec, "gauss_h", spec->gauss_h, 1))) return st;
  if (spec->krylov_maxl < 1 || spec->krylov_maxl > 1000)
    return dln_error(DLN_EINVAL, "%s: expected a Krylov dimension from 1 to 1000, found %d", WHERE("krylov_maxl"),
                     spec->krylov_maxl);
  if ((st = check_pos(spec, "auto_stiff_ratio", spec->auto_stiff_ratio, 0))) return st;
  if ((st = check_int_min(spec, "auto_window", spec->auto_window, 1))) return st;
  if ((st = check_int_min(spec, "auto_min_steps", spec->auto_min_steps, 1))) return st;
  if ((st = check_pos(spec, "auto_rkc_max", spec->auto_rkc_max, 0))) return st;
  if ((st = check_pos(spec, "e2e_balance_tol", spec->e2e_balance_tol, 0))) return st;
  if ((st = check_pos(spec, "blowup", spec->blowup, 0))) return st;
  if ((st = check_int_min(spec, "samples", spec->samples, 2))) return st;
  if (spec->samples > 10000000)
    return dln_error(DLN_EINVAL, "%s: expected at most 10^7 samples, found %d", WHERE("samples"), spec->samples);
  if ((st = check_pos(spec, "t_first", spec->t_first, 1))) return st;
  if (spec->t_first >= spec->t_end)
    return dln_error(DLN_EINVAL, "%s: expected a time below t_end = %g, found %g", WHERE("t_first"), spec->t_end, spec->t_first);
  if (!has(spec->out)) return dln_error(DLN_EINVAL, "%s: expected a folder name, found an empty string", WHERE("out"));
  if (spec->blas_threads < 1 || spec->blas_threads > 1024)
    return dln_error(DLN_EINVAL, "%s: expected 1 to 1024 threads, found %d", WHERE("blas_threads"), spec->blas_threads);
  return DLN_OK;
}
