/* Status codes and thread-local last-error message (dln/error.h). */
#include "dln/error.h"

#include "core/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char last_message[1024];

const char *dln_strerror(int status) {
  switch (status) {
    case DLN_OK: return "success";
    case DLN_EINVAL: return "invalid argument";
    case DLN_EDIM: return "dimension mismatch";
    case DLN_ENOMEM: return "out of memory or size overflow";
    case DLN_EIO: return "input/output error";
    case DLN_EFORMAT: return "malformed file";
    case DLN_ENONFINITE: return "non-finite value";
    case DLN_EDIVERGED: return "run diverged";
    case DLN_ESOLVER: return "solver failure";
    case DLN_ELAPACK: return "LAPACK failure";
    case DLN_ESPEC: return "bad specification";
    case DLN_ENOTAPPLICABLE: return "not applicable";
    case DLN_EUNSUPPORTED: return "unsupported";
    default: return "unknown status";
  }
}

const char *dln_last_error(void) { return last_message; }

void dln_error_clear(void) { last_message[0] = '\0'; }

int dln_error(int status, const char *fmt, ...) {
  if (!fmt) fmt = "(no message)";
  /* Format into a local buffer first: an argument may be dln_last_error() itself
   * ("...: %s" quoting the previous failure), and vsnprintf must not write into the
   * string it is reading. */
  char buf[sizeof last_message];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  memcpy(last_message, buf, sizeof buf);
  return status;
}

/* The k-th name of the comma-separated list (DLN_ARGS's #__VA_ARGS__), into buf. */
static const char *nth_name(const char *names, int k, char *buf, size_t len) {
  while (k-- > 0 && names) {
    names = strchr(names, ',');
    if (names) names++;
  }
  if (!names) return "?";
  while (*names == ' ') names++;
  size_t n = strcspn(names, ",");
  if (n >= len) n = len - 1;
  memcpy(buf, names, n);
  buf[n] = '\0';
  return buf;
}

int dln_args_first_null(const void *const *ptrs, int n) {
  for (int i = 0; i < n; ++i)
    if (!ptrs[i]) return i;
  return -1;
}

int dln_args_error(const char *fn, const char *names, int k) {
  char nm[64];
  return dln_error(DLN_EINVAL, "%s: %s: expected a pointer, found NULL", fn, nth_name(names, k, nm, sizeof nm));
}
