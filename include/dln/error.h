/* dln/error.h — status codes and the thread-local last-error message.
 *
 * Every library function that can fail returns an int status from this list
 * (DLN_OK = 0). The message of the most recent failure in the calling thread is
 * available from dln_last_error(); it names the field, the expected and the
 * found value. The library never aborts or exits.
 *
 * Bad arguments. Every public function checks its pointer and index arguments at entry:
 * a NULL where a pointer is required, or an index out of range, returns DLN_EINVAL with
 * "function: argument: expected ..., found ..." in dln_last_error(); functions that
 * return a pointer return NULL instead, *_free(NULL) does nothing, and the few that
 * return neither a status nor a pointer say in their header what they return (NaN, 0,
 * −1, "") and still record the message. tests/test_args.c checks all of them. */

#ifndef DLN_ERROR_H
#define DLN_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum dln_status {
  DLN_OK = 0,
  DLN_EINVAL = 1,      /* invalid argument or option value */
  DLN_EDIM = 2,        /* dimension mismatch */
  DLN_ENOMEM = 3,      /* allocation failed or size overflow */
  DLN_EIO = 4,         /* file cannot be opened, read or written */
  DLN_EFORMAT = 5,     /* malformed or truncated file */
  DLN_ENONFINITE = 6,  /* NaN or Inf in input data or weights */
  DLN_EDIVERGED = 7,   /* the run diverged (NaN/Inf or blow-up) */
  DLN_ESOLVER = 8,     /* integrator or nonlinear solver failure */
  DLN_ELAPACK = 9,     /* a LAPACK routine reported failure */
  DLN_ESPEC = 10,      /* bad run specification (unknown key, wrong type) */
  DLN_ENOTAPPLICABLE = 11, /* a formula's hypotheses fail */
  DLN_EUNSUPPORTED = 12    /* valid request not supported by this build */
} dln_status;

/* Short fixed description of a status code ("dimension mismatch"). */
const char *dln_strerror(int status);

/* Message of the last failure in this thread ("" if none). */
const char *dln_last_error(void);

/* Record a failure: formats the message, stores it thread-locally and returns
 * status unchanged, so library code writes `return dln_error(DLN_EDIM, ...)`. */
int dln_error(int status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Clear the last-error message. */
void dln_error_clear(void);

#ifdef __cplusplus
}
#endif
#endif
