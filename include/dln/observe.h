/* dln/observe.h — diagnostics sampled along a run, and the trajectory table.
 *
 * An observer is built once for a (net, loss, θ(0)) and evaluates one row of named
 * columns at a sample point without allocating. Columns, in this order, for the
 * flags set:
 *   t, step                                   always
 *   loss, loss_gap (= loss − L*; NAN if L* unknown)              DLN_OBS_LOSS
 *   grad_norm (‖∇φ‖ over all layers)                            DLN_OBS_GRADNORM
 *   recon_err (‖Ȳ − W‖_F/‖Ȳ‖_F, factorization only),
 *   dist_ref (‖W − W*‖_F, when the loss has a reference W*)    DLN_OBS_DIST
 *   sv_1..sv_k (singular values of W, descending, k = min(d_N, d_0))  DLN_OBS_SV
 *   unbalancedness (max_j ‖C_j‖_F, 002 Def. 1),
 *   drift_C1..drift_C{N-1}: ‖C_j(t) − C_j(0)‖_F / max(1, ‖C_j(0)‖_F)   DLN_OBS_CONSERVED
 *   eigC_1..eigC_q: eigenvalues (descending) of the two-layer imbalance
 *     C_1 = W_2^T W_2 − W_1 W_1^T (001 eq. 13; 003 eq. 9), depth 2 only;
 *     all d_1 of them when d_1 ≤ 64, else the 32 largest and 32 smallest  DLN_OBS_IMBALANCE
 */
#ifndef DLN_OBSERVE_H
#define DLN_OBSERVE_H

#include <stddef.h>

#include "dln/loss.h"
#include "dln/net.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
  DLN_OBS_LOSS = 1u,
  DLN_OBS_GRADNORM = 2u,
  DLN_OBS_DIST = 4u,
  DLN_OBS_SV = 8u,
  DLN_OBS_CONSERVED = 16u,
  DLN_OBS_IMBALANCE = 32u,
  DLN_OBS_ALL = 63u
};

typedef struct dln_observer dln_observer;

/* theta0 is the initial state C_j(0) is taken from (copied). */
int dln_observer_alloc(dln_observer **out, dln_net *net, dln_loss *loss, const double *theta0, unsigned flags);
void dln_observer_free(dln_observer *obs);
int dln_observer_ncols(const dln_observer *obs);
const char *dln_observer_colname(const dln_observer *obs, int i);
/* Column index of a name, or -1. */
int dln_observer_col(const dln_observer *obs, const char *name);
/* Fill row[0..ncols) at time t / step. No allocation. */
int dln_observer_eval(dln_observer *obs, double t, long step, const double *theta, double *row);

/* A table of rows with named columns (row-major storage), preallocated. */
typedef struct dln_table {
  int ncols;
  size_t nrows, cap;
  char **names;  /* ncols owned copies */
  double *data;  /* cap x ncols, row-major */
} dln_table;

int dln_table_alloc(dln_table **out, int ncols, const char *const *names, size_t cap);
void dln_table_free(dln_table *t);
/* Append a row; DLN_ENOMEM if the table is full (it never grows inside a run). */
int dln_table_append(dln_table *t, const double *row);
double *dln_table_row(dln_table *t, size_t i);
int dln_table_col(const dln_table *t, const char *name);
/* Write as CSV (header line, %.17g), atomically. */
int dln_table_write_csv(const dln_table *t, const char *path);

#ifdef __cplusplus
}
#endif
#endif
