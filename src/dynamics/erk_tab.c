/* The explicit Runge–Kutta tables of dln's own RK loop (rkc.c): ARKODE's default table of
 * each order (copied from ARKodeButcherTable_LoadERK, so no coefficient is typed in by hand;
 * DOP853's are in dop853.c) and their real stability boundaries β (HNW II §IV.2), which the
 * switch to Runge–Kutta–Chebyshev compares h·ρ with. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <arkode/arkode_butcher_erk.h> /* after stdio.h: it uses FILE */

#include "dln/error.h"
#include "dynamics/dynamics_internal.h"

static ARKODE_ERKTableID erk_table_id(int order) {
  switch (order) {
    case 2: return ARKODE_HEUN_EULER_2_1_2;
    case 3: return ARKODE_BOGACKI_SHAMPINE_4_2_3;
    case 4: return ARKODE_ZONNEVELD_5_3_4;
    case 6: return ARKODE_VERNER_8_5_6;
    case 8: return ARKODE_FEHLBERG_13_7_8;
    default: return ARKODE_DORMAND_PRINCE_7_4_5;
  }
}

int dln_erk_table_id(int order) { return (int)erk_table_id(order); }

/* |R(−x)| of the table's stability function R(z) = 1 + z bᵀ(I − zA)⁻¹1. */
static double stab_abs(const dln_erk_tab *T, double x) {
  double g[DLN_ERK_MAX_STAGES], z = -x, R = 1;
  for (int i = 0; i < T->s; ++i) {
    double a = 0;
    for (int j = 0; j < i; ++j) a += T->A[i][j] * g[j];
    g[i] = 1 + z * a; /* explicit: (I − zA) g = 1 by forward substitution */
    R += z * T->b[i] * g[i];
  }
  return fabs(R);
}

/* Real stability boundary β: the largest x with |R(−ξ)| ≤ 1 for all 0 ≤ ξ ≤ x
 * (HNW II §IV.2). Scan in steps of 0.01 up to 40, then bisect the first crossing. */
static double stability_boundary(const dln_erk_tab *T) {
  double lo = 0, hi = 0;
  for (int k = 1; k <= 4000; ++k) {
    double x = 0.01 * k;
    if (stab_abs(T, x) > 1 + 1e-12) {
      hi = x;
      break;
    }
    lo = x;
  }
  if (hi == 0) return lo;
  for (int it = 0; it < 40; ++it) {
    double x = 0.5 * (lo + hi);
    if (stab_abs(T, x) > 1 + 1e-12) hi = x; else lo = x;
  }
  return lo;
}

/* β depends on the table only: computed once per table (a benign race: every thread
 * stores the same value); slot 9 is DOP853's */
void dln_erk_tab_beta(dln_erk_tab *T, int slot) {
  static _Atomic double beta_cache[10];
  double beta = beta_cache[slot];
  if (!(beta > 0)) beta_cache[slot] = beta = stability_boundary(T);
  T->beta = beta;
}

int dln_erk_tab_load(int order, dln_erk_tab *T) {
  memset(T, 0, sizeof *T);
  ARKodeButcherTable B = ARKodeButcherTable_LoadERK(erk_table_id(order));
  if (!B) return dln_error(DLN_ESOLVER, "ARKODE has no explicit table of order %d", order);
  if (B->stages > DLN_ERK_MAX_STAGES || !B->d) {
    int s = B->stages;
    ARKodeButcherTable_Free(B);
    return dln_error(DLN_ESOLVER, "ARKODE's order-%d table has %d stages or no embedding; expected at most %d with one",
                     order, s, DLN_ERK_MAX_STAGES);
  }
  T->s = B->stages;
  T->q = B->q;
  T->p = B->p;
  for (int i = 0; i < T->s; ++i) {
    T->c[i] = B->c[i];
    T->b[i] = B->b[i];
    T->e[i] = B->b[i] - B->d[i];
    for (int j = 0; j < T->s; ++j) T->A[i][j] = B->A[i][j];
  }
  ARKodeButcherTable_Free(B);
  /* first same as last: the last stage is evaluated at θ_{n+1} */
  T->fsal = T->c[T->s - 1] == 1.0 && T->b[T->s - 1] == 0.0;
  for (int j = 0; T->fsal && j < T->s - 1; ++j) T->fsal = T->A[T->s - 1][j] == T->b[j];
  dln_erk_tab_beta(T, order >= 2 && order <= 8 ? order : 5);
  return DLN_OK;
}
