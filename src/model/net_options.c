/* The network's option rows (dln/net.h): widths, or depth and width; the tied model; the
 * imbalance regularizer of 001 Prop. 4 (eq. 27), which belongs to the network because the
 * network assembles φ = ℓ + R (dln_net_grad). */
#include <math.h>
#include <stddef.h>
#include <stdio.h>

#include "dln/net.h"

#define OFF(f) offsetof(dln_net_options, f)

static int lambda0_check(const dln_option *o, const void *field, char *msg, size_t len) {
  (void)o;
  const dln_dlist *l = field;
  if (l->n > 1) {
    snprintf(msg, len, "expected one number lambda0 (or none: off), found %d numbers", l->n);
    return 1;
  }
  if (l->n == 1 && !isfinite(l->v[0])) {
    snprintf(msg, len, "expected a finite number, found %g", l->v[0]);
    return 1;
  }
  return 0;
}

static const char *const small_kernels[] = {"auto", "tiny", "xsmm", "off", NULL};

/* clang-format off */
static const dln_option rows[] = {
  {"depth", DLN_OPT_INT, OFF(depth), "2", "number of layers N (1 = the plain linear model)", NULL, DLN_OPTR_RANGE, 1, 1000, NULL, NULL},
  {"widths", DLN_OPT_INTLIST, OFF(widths), "", "all widths d_0,...,d_N (overrides depth and width)", NULL, DLN_OPTR_MIN, 1, 0, NULL, NULL},
  {"width", DLN_OPT_INT, OFF(width), "50", "hidden width when widths is not given", NULL, DLN_OPTR_MIN, 1, 0, NULL, NULL},
  {"tied", DLN_OPT_BOOL, OFF(tied), "false", "symmetric model W = U U^T (001 sec. 2; depth 2, square target)", NULL, DLN_OPTR_NONE, 0, 0, NULL, NULL},
  {"imbalance_reg", DLN_OPT_DOUBLELIST, OFF(imbalance_reg), "", "imbalance regularizer: add R = 1/8 sum_j ||C_j - lambda0 I||_F^2 to phi (001 Prop. 4 eq. 27); one value lambda0, none: off", NULL, DLN_OPTR_ANY, 0, 0, lambda0_check, NULL},
  {"imbalance_reg_file", DLN_OPT_STRLIST, OFF(imbalance_reg_file), "", "imbalance regularizer with general Lambda_j: N-1 files (.npy/.csv), file j holds Lambda_j (d_j x d_j)", NULL, DLN_OPTR_NONE, 0, 0, NULL, NULL},
  {"small_kernels", DLN_OPT_ENUM, OFF(small_kernels), "auto", "path of the network's small products: tiny (dln's kernels specialized for every dimension <= 8, then libxsmm), xsmm (libxsmm JIT), off (OpenBLAS for all); auto: DLN_SMALL_KERNELS from the environment, else tiny. Recorded in summary.json", small_kernels, DLN_OPTR_NONE, 0, 0, NULL, NULL},
  DLN_OPTION_END};
/* clang-format on */

const dln_option *dln_net_option_rows(void) { return rows; }
