/* Checks of number-list option rows shared by the task and init rows (model_internal.h),
 * worded as the command line has always worded them. */
#include <math.h>
#include <stdio.h>

#include "dln/option.h"
#include "model/model_internal.h"

static int items(const void *field, char *msg, size_t len, int kind) {
  const dln_dlist *l = field;
  static const char *const what[] = {"", "non-negative ", "positive "};
  for (int i = 0; i < l->n; ++i) {
    double x = l->v[i];
    if (!isfinite(x) || (kind == 1 && x < 0) || (kind == 2 && x <= 0)) {
      snprintf(msg, len, "expected %sfinite numbers, found %g at item %d", what[kind], x, i + 1);
      return 1;
    }
  }
  return 0;
}

int dln_optcheck_finite_items(const dln_option *o, const void *field, char *msg, size_t len) {
  (void)o;
  return items(field, msg, len, 0);
}
int dln_optcheck_nonneg_items(const dln_option *o, const void *field, char *msg, size_t len) {
  (void)o;
  return items(field, msg, len, 1);
}
int dln_optcheck_pos_items(const dln_option *o, const void *field, char *msg, size_t len) {
  (void)o;
  return items(field, msg, len, 2);
}
