/* The theory-observer flags of a spec's observe list (run/run_internal.h): "closed_form"
 * and "theory" select DLN_OBSX_CF, "bias" and "theory" DLN_OBSX_BIAS (observe/theory_obs.h).
 * Here, in the run layer, because the observe layer knows no spec. */
#include <string.h>

#include "dln/spec.h"
#include "observe/theory_obs.h"
#include "run/run_internal.h"

unsigned dln_spec_observe_xflags(const dln_spec *spec) {
  unsigned f = 0;
  for (int i = 0; i < spec->observe.n; ++i) {
    const char *v = spec->observe.v[i];
    if (strcmp(v, "closed_form") == 0 || strcmp(v, "theory") == 0) f |= DLN_OBSX_CF;
    if (strcmp(v, "bias") == 0 || strcmp(v, "theory") == 0) f |= DLN_OBSX_BIAS;
  }
  return f;
}
