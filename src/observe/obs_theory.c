/* Observable "closed_form": the theory's predictions along a run (dln/theory.h).
 *   cf_dist   ‖W(t) − W_cf(t)‖_F / max(1, ‖W_cf(t)‖_F) for the closed form dln_cf_select
 *             picks at θ(0) (001 eq. 4, 9, 8, 17, 30; 002 Ex. 5); none: no column and the
 *             reasons in the note. NAN at a t where the form is refused.
 *   cf_loss   ℓ(W_cf(t)), the closed form's prediction of the loss (same form, same t)
 *   bound_003thm1, bound_004prop2, bound_002thm2
 *             the rate bounds whose hypotheses hold at θ(0), as curves
 *             L*' + e^{−rate t}(L(0) − L*') (dln_bound_rate_*: 003 Thm 1 with L*' = L*,
 *             004 Prop. 2 with L*' = 0, 002 Thm 2 with L*' = L*); constants computed once
 *             in init. Not applicable: no column, the reason in the note.
 * dln_cf_distance, dln_cf_eval and a loss's eval do not allocate. */
#include <math.h>
#include <stdlib.h>

#include "core/util.h"
#include "dln/error.h"
#include "dln/theory.h"
#include "observe/obs_internal.h"

#define OBS_NBOUNDS 3 /* rate bounds: 003 Thm 1, 004 Prop. 2, 002 Thm 2 */

typedef struct cf_ws {
  dln_net *net;
  dln_loss *loss;
  dln_cf *cf;
  double *Wcf; /* W_cf(t), rows x cols */
  int c_cf, c_cfloss;
  /* rate bounds L(t) <= ystar + (L(0) - ystar) e^{-rate t}, constants from θ(0) */
  int nbound, c_bound[OBS_NBOUNDS];
  double rate[OBS_NBOUNDS], ystar[OBS_NBOUNDS], L0;
} cf_ws;

static void cf_ws_free(void *state) {
  cf_ws *w = state;
  if (!w) return;
  dln_cf_free(w->cf);
  free(w->Wcf);
  free(w);
}

/* The rate bounds whose hypotheses hold at θ(0): their constants, L(0) and a column
 * each; the others' reasons in the note. */
static int pick_bounds(dln_obs_setup *s, cf_ws *w) {
  static const char *const names[OBS_NBOUNDS] = {"bound_003thm1", "bound_004prop2", "bound_002thm2"};
  static const char *const what[OBS_NBOUNDS] = {"003 Thm 1 bound", "004 Prop. 2 bound", "002 Thm 2 bound"};
  dln_net *net = s->net;
  dln_loss *loss = s->loss;
  int ok[OBS_NBOUNDS] = {0, 0, 0};
  for (int b = 0; b < OBS_NBOUNDS; ++b) {
    int st;
    if (b == 0 && dln_loss_has(loss, DLN_LOSS_LSQ_DESIGN) && !s->X)
      st = dln_error(DLN_ENOTAPPLICABLE, "not applicable: 003 Theorem 1: regression data X given fails (X = NULL)");
    else if (b == 0)
      st = dln_bound_rate_imbalance(net, loss, s->X, s->theta0, &w->rate[b], &w->ystar[b]);
    else if (b == 1)
      st = dln_bound_rate_pyramidal(net, loss, s->theta0, &w->rate[b], &w->ystar[b]);
    else
      st = dln_bound_rate_deficiency(net, loss, s->theta0, &w->rate[b], &w->ystar[b]);
    if (st == DLN_ENOMEM) return st;
    if (st == DLN_OK && !(isfinite(w->rate[b]) && isfinite(w->ystar[b])))
      st = dln_error(DLN_ENOTAPPLICABLE, "not applicable: finite rate and L* fails (rate %g, L* %g)", w->rate[b],
                     w->ystar[b]);
    if (st == DLN_OK) ok[b] = 1;
    else dln_obs_note(s, what[b], dln_last_error());
  }
  if (!(ok[0] || ok[1] || ok[2])) return DLN_OK;
  /* L(0): the amplitude of every envelope */
  double *W = dln_xcalloc((size_t)loss->rows * (size_t)loss->cols, sizeof(double));
  if (!W) return dln_error(DLN_ENOMEM, "out of memory allocating an observer workspace");
  int st = dln_net_grad(net, loss, s->theta0, &w->L0, NULL, W);
  free(W);
  if (st) return st;
  for (int b = 0; b < OBS_NBOUNDS; ++b) { /* compact: entry k <= b holds the k-th applicable bound */
    if (!ok[b]) continue;
    int k = w->nbound++;
    w->c_bound[k] = dln_obs_add_col(s, names[b], 0);
    w->rate[k] = w->rate[b];
    w->ystar[k] = w->ystar[b];
  }
  return DLN_OK;
}

static int cf_init(dln_obs_setup *s, void **state) {
  cf_ws *w = calloc(1, sizeof *w);
  if (!w) return dln_error(DLN_ENOMEM, "out of memory allocating an observer workspace");
  *state = w;
  w->net = s->net;
  w->loss = s->loss;
  w->c_cf = w->c_cfloss = -1;
  char why[1024];
  int st = dln_cf_select(&w->cf, s->net, s->loss, s->theta0, 0, why, sizeof why);
  if (st) return st;
  if (why[0]) dln_obs_note(s, NULL, why);
  if (w->cf) {
    dln_obs_set_label(s, dln_cf_name(w->cf));
    w->c_cf = dln_obs_add_col(s, "cf_dist", 0);
    w->Wcf = dln_xcalloc((size_t)s->loss->rows * (size_t)s->loss->cols, sizeof(double));
    if (!w->Wcf) return dln_error(DLN_ENOMEM, "out of memory allocating an observer workspace");
    w->c_cfloss = dln_obs_add_col(s, "cf_loss", 0);
  }
  return pick_bounds(s, w);
}

/* A measure that cannot be evaluated (a closed form refused at this t) is NAN, so the
 * run itself is never stopped here. */
static int cf_eval(void *state, const dln_obs_frame *f, double *cols) {
  cf_ws *w = state;
  if (w->c_cf >= 0) {
    double dist = NAN;
    if (dln_cf_distance(w->net, f->theta, f->t, w->cf, &dist) != DLN_OK) dist = NAN;
    cols[w->c_cf] = dist;
  }
  if (w->c_cfloss >= 0) {
    double v = NAN;
    if (dln_cf_eval(w->cf, f->t, w->Wcf) != DLN_OK || dln_loss_eval(w->loss, w->Wcf, &v, NULL) != DLN_OK) v = NAN;
    cols[w->c_cfloss] = v;
  }
  for (int b = 0; b < w->nbound; ++b) /* L(t) <= ystar + (L(0) - ystar) e^{-rate t} */
    cols[w->c_bound[b]] = w->ystar[b] + exp(-w->rate[b] * f->t) * (w->L0 - w->ystar[b]);
  return DLN_OK;
}

const dln_observable dln_observable_closed_form = {
    "closed_form", "cf_dist, cf_loss: the applicable closed form (001, 002 Ex. 5); bound_*: the applicable rate bounds",
    DLN_OBSERVABLE_THETA0, 0, 0, 0, cf_init, cf_eval, cf_ws_free};
