/* SUNDIALS set-up shared by the steppers (see sundials_util.h). */
#include "sundials_util.h"

#include <nvector/nvector_serial.h>
#include <stdio.h>

#include "dln/error.h"
#include "nvec_fast.h"

int dln_sun_make(size_t n, double *theta, SUNContext *sctx, N_Vector *y, N_Vector *yd) {
  if (SUNContext_Create(NULL, sctx)) return dln_error(DLN_ENOMEM, "SUNDIALS context creation failed");
  *y = N_VMake_Serial((sunindextype)n, theta, *sctx);
  dln_nvec_fast(*y);
  *yd = N_VMake_Serial((sunindextype)n, theta, *sctx);
  dln_nvec_fast(*yd);
  return DLN_OK;
}

void dln_sun_free(SUNContext *sctx, N_Vector *y, N_Vector *yd) {
  if (*y) N_VDestroy(*y);
  if (*yd) N_VDestroy(*yd);
  if (*sctx) SUNContext_Free(sctx);
  *y = *yd = NULL;
  *sctx = NULL;
}

void dln_sun_err_capture(int code, const char *module, const char *function, char *msg, void *buf) {
  (void)code;
  snprintf(buf, DLN_SUN_MSG_LEN, "%s/%s: %s", module, function, msg);
}
