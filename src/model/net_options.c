/* The network's option rows (dln/net.h): widths, or depth and width; the tied model. */
#include <stddef.h>

#include "dln/net.h"

#define OFF(f) offsetof(dln_net_options, f)

/* clang-format off */
static const dln_option rows[] = {
  {"depth", DLN_OPT_INT, OFF(depth), "2", "number of layers N (1 = the plain linear model)", NULL, DLN_OPTR_RANGE, 1, 1000, NULL, NULL},
  {"widths", DLN_OPT_INTLIST, OFF(widths), "", "all widths d_0,...,d_N (overrides depth and width)", NULL, DLN_OPTR_MIN, 1, 0, NULL, NULL},
  {"width", DLN_OPT_INT, OFF(width), "50", "hidden width when widths is not given", NULL, DLN_OPTR_MIN, 1, 0, NULL, NULL},
  {"tied", DLN_OPT_BOOL, OFF(tied), "false", "symmetric model W = U U^T (001 sec. 2; depth 2, square target)", NULL, DLN_OPTR_NONE, 0, 0, NULL, NULL},
  DLN_OPTION_END};
/* clang-format on */

const dln_option *dln_net_option_rows(void) { return rows; }
