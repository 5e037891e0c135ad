/* The observer (dln/observe.h): the columns t, step, then those of the chosen observables
 * (column providers, src/observe/obs_*.c, listed in registry.c) in registry order.
 *
 * The observer computes what several observables share once per row — the end-to-end
 * W = W_N···W_1, ℓ(W) and, when asked, ∇φ(θ) (dln_net_grad) — and hands it to each
 * observable's eval with the observable's slice of the row. Every workspace is sized in
 * the constructor, so dln_observer_eval does not allocate: dln_net_grad does not (dln/net.h),
 * nor does a loss's eval (dln/loss.h), nor an observable's eval (its contract).
 *
 * Names accepted by dln_observer_alloc_names: the observables' names and the aliases
 * "all" (the DLN_OBSERVABLE_IN_ALL ones) and "theory" (closed_form + bias). The flag
 * constructors translate DLN_OBS_* and DLN_OBSX_* (observe/theory_obs.h) to names. */
#include "dln/observe.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "dln/error.h"
#include "observe/obs_internal.h"
#include "observe/theory_obs.h"

#define OBS_NAME_LEN 32
#define OBS_LABEL_LEN 128

typedef struct obs_slot {
  const dln_observable *type;
  void *state;
  int first, ncols; /* its columns: first .. first + ncols − 1 */
  char label[OBS_LABEL_LEN];
} obs_slot;

struct dln_observer {
  dln_net *net;
  dln_loss *loss;
  int ncols, capcols;
  char (*names)[OBS_NAME_LEN];
  obs_slot *slots;
  int nslots;
  int need_w, need_grad;
  double *W;    /* end-to-end matrix, d_N x d_0 */
  double *grad; /* nparams, when an observable uses it */
  unsigned xflags;
  int setup_status; /* the first failure of dln_obs_add_col during init */
  char note[2048];
};

void dln_observer_free(dln_observer *o) {
  if (!o) return;
  for (int i = 0; i < o->nslots; ++i)
    if (o->slots[i].type->free) (o->slots[i].type->free)(o->slots[i].state); /* () : not the free() of core/alloc_hook.h */
  free(o->slots);
  free(o->names);
  free(o->W);
  free(o->grad);
  free(o);
}

/* ------------------------------------------------------------------ setup (init only) */

static int add_name(dln_observer *o, const char *fmt, int k) {
  if (o->ncols == o->capcols) {
    int cap = o->capcols ? 2 * o->capcols : 32;
    if (cap > INT_MAX / 2) return -dln_error(DLN_ENOMEM, "observer: too many columns (%d)", o->ncols);
    void *p = realloc(o->names, (size_t)cap * sizeof *o->names);
    if (!p) return -dln_error(DLN_ENOMEM, "out of memory allocating an observer workspace");
    o->names = p;
    o->capcols = cap;
  }
  int n = snprintf(o->names[o->ncols], OBS_NAME_LEN, fmt, k);
  if (n <= 0 || n >= OBS_NAME_LEN)
    return -dln_error(DLN_EINVAL, "observer column name '%s': expected 1 to %d characters", fmt, OBS_NAME_LEN - 1);
  return o->ncols++;
}

int dln_obs_add_col(dln_obs_setup *s, const char *fmt, int k) {
  if (!s || !s->priv || !fmt) return -dln_error(DLN_EINVAL, "dln_obs_add_col: NULL argument");
  dln_observer *o = s->priv;
  int c = add_name(o, fmt, k);
  if (c < 0) {
    if (!o->setup_status) o->setup_status = -c; /* a status; the caller sees −status */
    return c;
  }
  return c - o->slots[o->nslots - 1].first;
}

static void note_raw(dln_observer *o, const char *text) {
  size_t n = strlen(o->note);
  if (n + 8 >= sizeof o->note) return;
  snprintf(o->note + n, sizeof o->note - n, "%s%s", n ? "; " : "", text);
}

void dln_obs_note(dln_obs_setup *s, const char *what, const char *why) {
  if (!s || !s->priv || !why) return;
  dln_observer *o = s->priv;
  if (!what) {
    note_raw(o, why);
    return;
  }
  size_t n = strlen(o->note);
  if (n + 8 >= sizeof o->note) return;
  snprintf(o->note + n, sizeof o->note - n, "%s%s: %s", n ? "; " : "", what, why);
}

void dln_obs_set_label(dln_obs_setup *s, const char *label) {
  if (!s || !s->priv || !label) return;
  dln_observer *o = s->priv;
  obs_slot *sl = &o->slots[o->nslots - 1];
  snprintf(sl->label, sizeof sl->label, "%s", label);
}

/* The requirements of t on (net, loss): 1 if they hold. */
static int requirements_hold(const dln_observable *t, const dln_net *net, const dln_loss *loss) {
  if (t->loss_caps && !dln_loss_has(loss, t->loss_caps)) return 0;
  if (t->min_depth > 0 && net->depth < t->min_depth) return 0;
  if (t->max_depth > 0 && net->depth > t->max_depth) return 0;
  if ((t->flags & DLN_OBSERVABLE_UNTIED) && net->tied) return 0;
  if ((t->flags & DLN_OBSERVABLE_SQUARE) && loss->rows != loss->cols) return 0;
  return 1;
}

/* Mark the registry entries named by names[0..n) (aliases expanded) in chosen[]. */
static int resolve_names(const char *const *names, int n, unsigned char *chosen) {
  const int count = dln_observable_count();
  for (int k = 0; k < n; ++k) {
    const char *w = names[k];
    if (!w) return dln_error(DLN_EINVAL, "observe: name %d is NULL", k);
    if (strcmp(w, "all") == 0) {
      for (int i = 0; i < count; ++i)
        if (dln_observable_at(i)->flags & DLN_OBSERVABLE_IN_ALL) chosen[i] = 1;
      continue;
    }
    if (strcmp(w, "theory") == 0) {
      for (int i = 0; i < count; ++i)
        if (dln_observable_at(i) == &dln_observable_closed_form || dln_observable_at(i) == &dln_observable_bias)
          chosen[i] = 1;
      continue;
    }
    const char *colon = strchr(w, ':');
    size_t wlen = colon ? (size_t)(colon - w) : strlen(w);
    int found = 0;
    for (int i = 0; i < count && !found; ++i) {
      const dln_observable *t = dln_observable_at(i);
      if (strlen(t->name) != wlen || strncmp(t->name, w, wlen) != 0) continue;
      found = 1;
      chosen[i] = 1;
      if (colon && !(t->flags & DLN_OBSERVABLE_ARGS))
        return dln_error(DLN_EINVAL, "observe: expected '%s' without an argument, found '%s'", t->name, w);
      if (!colon && (t->flags & DLN_OBSERVABLE_ARGS))
        return dln_error(DLN_EINVAL, "observe: expected '%s:ARG' (%s), found '%s'", t->name, t->summary, w);
    }
    if (!found) {
      char list[512] = "";
      size_t len = 0;
      for (int i = 0; dln_observable_name_at(i) && len < sizeof list; ++i)
        len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "", dln_observable_name_at(i));
      return dln_error(DLN_EINVAL, "observe: expected one of %s, found '%s'", list, w);
    }
  }
  return DLN_OK;
}

/* The constructor behind every public one. X: the caller's design for a least-squares
 * loss, or NULL for the loss's own. */
static int observer_build(dln_observer **out, dln_net *net, dln_loss *loss, const double *theta0,
                          const char *const *names, int n, const dln_mat *X, const struct dln_train_options *train) {
  if (!out) return dln_error(DLN_EINVAL, "dln_observer_alloc: out must not be NULL");
  *out = NULL;
  if (!net || !loss) return dln_error(DLN_EINVAL, "dln_observer_alloc: expected a network and a loss, found NULL");
  if (n < 0 || (n > 0 && !names)) return dln_error(DLN_EINVAL, "observe: expected %d names, found NULL", n);
  const int N = net->depth;
  const int *d = net->widths;
  if (loss->rows != d[N] || loss->cols != d[0])
    return dln_error(DLN_EDIM, "observer: loss %s expects an end-to-end matrix %d x %d, network gives %d x %d",
                     dln_loss_name(loss), loss->rows, loss->cols, d[N], d[0]);
  const int count = dln_observable_count();
  unsigned char chosen[64 + 32] = {0};
  if (count > (int)sizeof chosen) return dln_error(DLN_EINVAL, "observe: %d observables registered", count);
  int st = resolve_names(names, n, chosen);
  if (st) return st;
  for (int i = 0; i < count; ++i)
    if (chosen[i] && (dln_observable_at(i)->flags & DLN_OBSERVABLE_THETA0) && !theta0)
      return dln_error(DLN_EINVAL, "observer: expected the initial weights theta0 for the %s columns, found NULL",
                       dln_observable_at(i)->name);

  dln_observer *o = calloc(1, sizeof *o);
  if (!o) return dln_error(DLN_ENOMEM, "out of memory allocating an observer");
  o->net = net;
  o->loss = loss;
  o->slots = calloc((size_t)count + 1, sizeof *o->slots);
  if (!o->slots) goto nomem;
  if ((st = add_name(o, "t", 0)) < 0 || (st = add_name(o, "step", 0)) < 0) {
    st = -st; /* add_name returns −status */
    goto fail;
  }
  dln_obs_setup s = {net, loss, theta0, NULL, o, NULL, 0, train};
  if (dln_loss_has(loss, DLN_LOSS_LSQ_DESIGN)) s.X = X ? X : dln_loss_design(loss);
  const char **args = malloc(((size_t)n + 1) * sizeof *args);
  if (!args) goto nomem;
  for (int i = 0; i < count; ++i) {
    if (!chosen[i]) continue;
    const dln_observable *t = dln_observable_at(i);
    s.args = NULL, s.nargs = 0;
    if (t->flags & DLN_OBSERVABLE_ARGS) { /* its words "name:arg", in order */
      size_t len = strlen(t->name);
      for (int k = 0; k < n; ++k)
        if (strncmp(names[k], t->name, len) == 0 && names[k][len] == ':') args[s.nargs++] = names[k] + len + 1;
      s.args = args;
    }
    if (t == &dln_observable_closed_form) o->xflags |= DLN_OBSX_CF;
    if (t == &dln_observable_bias) o->xflags |= DLN_OBSX_BIAS;
    obs_slot *sl = &o->slots[o->nslots++];
    sl->type = t;
    sl->first = o->ncols;
    if (!requirements_hold(t, net, loss)) continue;
    st = t->init(&s, &sl->state);
    if (!st) st = o->setup_status;
    if (st) {
      free(args);
      goto fail;
    }
    sl->ncols = o->ncols - sl->first;
    if (sl->ncols > 0 && (t->flags & (DLN_OBSERVABLE_USES_W | DLN_OBSERVABLE_USES_GRAD))) o->need_w = 1;
    if (sl->ncols > 0 && (t->flags & DLN_OBSERVABLE_USES_GRAD)) o->need_grad = 1;
  }
  free(args);
  o->W = dln_xcalloc((size_t)d[N] * (size_t)d[0], sizeof(double)); /* fits: the net checked it */
  if (!o->W) goto nomem;
  if (o->need_grad) {
    o->grad = dln_xcalloc(net->nparams, sizeof(double));
    if (!o->grad) goto nomem;
  }
  *out = o;
  return DLN_OK;
nomem:
  st = dln_error(DLN_ENOMEM, "out of memory allocating an observer workspace");
fail:
  dln_observer_free(o);
  return st;
}

int dln_observer_alloc_names(dln_observer **out, dln_net *net, dln_loss *loss, const double *theta0,
                             const char *const *names, int n) {
  return observer_build(out, net, loss, theta0, names, n, NULL, NULL);
}

int dln_observer_alloc_run(dln_observer **out, dln_net *net, dln_loss *loss, const double *theta0,
                           const char *const *names, int n, const struct dln_train_options *train) {
  return observer_build(out, net, loss, theta0, names, n, NULL, train);
}

int dln_observer_alloc(dln_observer **out, dln_net *net, dln_loss *loss, const double *theta0, unsigned flags) {
  return dln_observer_alloc_theory(out, net, loss, theta0, flags, 0, NULL);
}

int dln_observer_alloc_theory(dln_observer **out, dln_net *net, dln_loss *loss, const double *theta0, unsigned flags,
                              unsigned xflags, const dln_mat *X) {
  static const struct {
    unsigned flag;
    int theory;
    const char *name;
  } map[] = {{DLN_OBS_LOSS, 0, "loss"},           {DLN_OBS_GRADNORM, 0, "gradnorm"},  {DLN_OBS_DIST, 0, "dist"},
             {DLN_OBS_TRUTH, 0, "truth"},
             {DLN_OBS_SV, 0, "sv"},               {DLN_OBS_COMPRESS, 0, "compress"},  {DLN_OBS_CONSERVED, 0, "conserved"}, {DLN_OBS_IMBALANCE, 0, "imbalance"},
             {DLN_OBSX_CF, 1, "closed_form"},     {DLN_OBSX_BIAS, 1, "bias"}};
  if (out) *out = NULL;
  if (flags & ~(unsigned)DLN_OBS_ALL)
    return dln_error(DLN_EINVAL, "observer flags: expected a subset of 0x%x, found 0x%x", (unsigned)DLN_OBS_ALL, flags);
  if (xflags & ~(unsigned)(DLN_OBSX_CF | DLN_OBSX_BIAS))
    return dln_error(DLN_EINVAL, "observer theory flags: expected a subset of 0x3, found 0x%x", xflags);
  const char *names[sizeof map / sizeof *map];
  int n = 0;
  for (size_t i = 0; i < sizeof map / sizeof *map; ++i)
    if ((map[i].theory ? xflags : flags) & map[i].flag) names[n++] = map[i].name;
  return observer_build(out, net, loss, theta0, names, n, X, NULL);
}

/* ------------------------------------------------------------------ queries */

int dln_observer_ncols(const dln_observer *obs) {
  DLN_ARGS_V(-1, obs);
  return obs->ncols;
}

const char *dln_observer_colname(const dln_observer *obs, int i) {
  DLN_ARGS_P(obs);
  DLN_INDEX_V(NULL, i, 0, obs->ncols - 1);
  return obs->names[i];
}

int dln_observer_col(const dln_observer *obs, const char *name) {
  DLN_ARGS_V(-1, obs, name);
  for (int i = 0; i < obs->ncols; ++i)
    if (strcmp(obs->names[i], name) == 0) return i;
  return -1;
}

const char *dln_observer_label(const dln_observer *obs, const char *name) {
  DLN_ARGS_V("", obs, name);
  for (int i = 0; i < obs->nslots; ++i)
    if (strcmp(obs->slots[i].type->name, name) == 0) return obs->slots[i].label;
  return "";
}

const char *dln_observer_cf_name(const dln_observer *obs) { return dln_observer_label(obs, "closed_form"); }
const char *dln_observer_theory_note(const dln_observer *obs) { return obs ? obs->note : ""; }
unsigned dln_observer_xflags(const dln_observer *obs) { return obs ? obs->xflags : 0; }

/* ------------------------------------------------------------------ eval (no allocation) */

int dln_observer_eval(dln_observer *o, double t, long step, const double *theta, double *row) {
  if (!o || !theta || !row) return dln_error(DLN_EINVAL, "dln_observer_eval: NULL argument");
  row[0] = t;
  row[1] = (double)step;
  dln_obs_frame f = {t, step, theta, NULL, NAN, NULL, 0.0};
  if (o->need_w) {
    double value = NAN, reg = 0.0;
    /* the loss column is the task loss ℓ; R is its own column (obs_basic.c) */
    int st = dln_net_objective(o->net, o->loss, theta, &value, &reg, o->need_grad ? o->grad : NULL, o->W);
    if (st) return st;
    f.W = o->W;
    f.loss = value;
    f.reg = reg;
    f.grad = o->need_grad ? o->grad : NULL;
  }
  for (int i = 0; i < o->nslots; ++i) {
    const obs_slot *sl = &o->slots[i];
    if (sl->ncols <= 0) continue;
    int st = sl->type->eval(sl->state, &f, row + sl->first);
    if (st) return st;
  }
  return DLN_OK;
}
