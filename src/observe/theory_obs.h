/* Private: theory columns of the observer (src/observe/observer.c), selected by the
 * spec's `observe` values "closed_form", "bias" and "theory" (both), as read by
 * the observer's words closed_form, bias and theory (dln_observer_alloc_names); "all" does not include them.
 * cf_dist, cf_loss and the bound_* columns come with DLN_OBSX_CF ("closed_form" or
 * "theory"), the others with DLN_OBSX_BIAS. Appended after the dln/observe.h columns,
 * in this order:
 *   cf_dist         ‖W(t) − W_cf(t)‖_F / max(1, ‖W_cf(t)‖_F) for the first closed form
 *                   (dln/theory.h) whose hypotheses hold at θ(0), tried in the order
 *                   eq. 4 (depth 1), eq. 9, eq. 8 (tied), eq. 17, eq. 30 (depth 2),
 *                   aligned (002 Ex. 5). None applicable: no column, and the reasons are
 *                   in dln_observer_theory_note. NAN at a t where the form is refused.
 *   cf_loss         ℓ(W_cf(t)), the closed form's prediction of the loss (same form, same t)
 *   bound_003thm1, bound_004prop2, bound_002thm2
 *                   the rate bounds of dln/theory.h whose hypotheses hold at θ(0), as
 *                   curves L*' + e^{−rate t}(L(0) − L*') (dln_bound_rate_*: 003 Thm 1 with
 *                   L*' = L*, 004 Prop. 2 with L*' = 0, 002 Thm 2 with L*' = L*); constants
 *                   computed once here. Not applicable: no column, the reason in the note.
 *   nuclear_norm, effective_rank (Roy–Vetterli) of W                     (dln/bias.h)
 *   det_sign        square W only (002 Lemma 2)
 *   dist_minnorm    ‖W − W*‖_F / ‖W*‖_F, regression (W* the min-norm least-squares solution)
 *   orth_measure    ‖V U_2^T‖_F + ‖U_1 U_2^T‖_F (003 §3), depth-2 untied regression
 * Evaluation does not allocate (the workspaces are sized in the constructor). */
#ifndef DLN_THEORY_OBS_H
#define DLN_THEORY_OBS_H

#include "dln/mat.h"
#include "dln/observe.h"

enum { DLN_OBSX_CF = 1u, DLN_OBSX_BIAS = 2u };

/* dln_observer_alloc plus the theory columns of xflags. X: the regression inputs (d_0 x n)
 * for orth_measure, or NULL. */
int dln_observer_alloc_theory(dln_observer **out, dln_net *net, dln_loss *loss, const double *theta0, unsigned flags,
                              unsigned xflags, const dln_mat *X);
/* The closed form behind cf_dist ("" if none) and a note on what was not applicable
 * ("" if nothing). Owned by the observer. */
const char *dln_observer_cf_name(const dln_observer *obs);
const char *dln_observer_theory_note(const dln_observer *obs);
unsigned dln_observer_xflags(const dln_observer *obs);

#endif
