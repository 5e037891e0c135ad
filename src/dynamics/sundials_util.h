/* SUNDIALS set-up shared by the ARKODE ERK (driver.c) and CVODE (cvode.c) steppers
 * (private to src/dynamics). */
#ifndef DLN_SUNDIALS_UTIL_H
#define DLN_SUNDIALS_UTIL_H

#include <stddef.h>

#include <sundials/sundials_context.h>
#include <sundials/sundials_nvector.h>

/* Size of the buffers the error handler below writes to. */
#define DLN_SUN_MSG_LEN 256

/* A SUNDIALS context and two serial vectors of length n wrapping theta, with the fast
 * operations of nvec_fast.h: *y is the state, *yd the dense-output vector (its data
 * pointer is reset per call). Returns DLN_ENOMEM (error set) when the context cannot be
 * created; a vector that cannot be made is left NULL for the caller to report. */
int dln_sun_make(size_t n, double *theta, SUNContext *sctx, N_Vector *y, N_Vector *yd);

/* Frees what dln_sun_make made (NULL members skipped, all set to NULL). */
void dln_sun_free(SUNContext *sctx, N_Vector *y, N_Vector *yd);

/* SUNDIALS error handler (ARKErrHandlerFn / CVErrHandlerFn): keeps "module/function: msg"
 * in the char[DLN_SUN_MSG_LEN] buffer given as its user data. */
void dln_sun_err_capture(int code, const char *module, const char *function, char *msg, void *buf);

#endif
