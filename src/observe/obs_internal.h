/* Private to src/observe: the built-in observables (column providers, dln/observe.h)
 * and the small helpers they share. Each descriptor lives in its own file and is
 * listed once in registry.c. */
#ifndef DLN_OBS_INTERNAL_H
#define DLN_OBS_INTERNAL_H

#include <math.h>
#include <stdlib.h>

#include "dln/observe.h"

extern const dln_observable dln_observable_loss;        /* obs_basic.c */
extern const dln_observable dln_observable_gradnorm;    /* obs_basic.c */
extern const dln_observable dln_observable_dist;        /* obs_basic.c */
extern const dln_observable dln_observable_truth;       /* obs_truth.c */
extern const dln_observable dln_observable_sv;          /* obs_sv.c */
extern const dln_observable dln_observable_compress;    /* obs_compress.c */
extern const dln_observable dln_observable_conserved;   /* obs_conserved.c */
extern const dln_observable dln_observable_imbalance;   /* obs_conserved.c */
extern const dln_observable dln_observable_margin;      /* obs_margin.c */
extern const dln_observable dln_observable_closed_form; /* obs_theory.c */
extern const dln_observable dln_observable_bias;        /* obs_bias.c */
extern const dln_observable dln_observable_entry;       /* obs_entry.c */
extern const dln_observable dln_observable_layers;      /* obs_entry.c */
extern const dln_observable dln_observable_disturbance; /* obs_disturb.c */

/* Registry access for the observer (registry.c). */
int dln_observable_count(void);
const dln_observable *dln_observable_at(int i);

/* ‖a − b‖_F over n entries. */
static inline double dln_obs_frob_diff(size_t n, const double *a, const double *b) {
  double s = 0;
  for (size_t i = 0; i < n; ++i) {
    double d = a[i] - b[i];
    s += d * d;
  }
  return sqrt(s);
}

static inline int dln_obs_all_finite(size_t n, const double *a) {
  for (size_t i = 0; i < n; ++i)
    if (!isfinite(a[i])) return 0;
  return 1;
}

#endif
