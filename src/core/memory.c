/* Memory measurements (dln/memory.h): /proc/self/status and the allocation hook's
 * per-thread counts (core/fault.c). */
#include "dln/memory.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "core/fault.h"
#include "dln/error.h"

/* VmRSS and VmHWM in bytes (−1 when unreadable). */
static void proc_status(long long *rss, long long *hwm) {
  *rss = *hwm = -1;
  FILE *f = fopen("/proc/self/status", "r");
  if (!f) return;
  char line[256];
  long long kb;
  while (fgets(line, sizeof line, f)) {
    if (sscanf(line, "VmRSS: %lld kB", &kb) == 1) *rss = kb * 1024;
    else if (sscanf(line, "VmHWM: %lld kB", &kb) == 1) *hwm = kb * 1024;
  }
  fclose(f);
}

static _Atomic int peak_reset; /* the last mark reset VmHWM (process-wide, like VmHWM itself) */

int dln_memory_sample_now(dln_memory_sample *out) {
  if (!out) return dln_error(DLN_EINVAL, "dln_memory_sample_now: NULL argument");
  memset(out, 0, sizeof *out);
  proc_status(&out->rss_bytes, &out->peak_rss_bytes);
  out->heap_bytes = dln_heap_live();
  out->heap_peak_bytes = dln_heap_peak();
  out->peak_since_mark = peak_reset;
  return DLN_OK;
}

int dln_memory_mark(dln_memory_sample *at) {
  if (!at) return dln_error(DLN_EINVAL, "dln_memory_mark: NULL argument");
  dln_heap_mark();
  FILE *f = fopen("/proc/self/clear_refs", "w"); /* "5": reset the peak RSS (Linux >= 4.0) */
  int ok = f && fputs("5", f) >= 0;
  if (f && fclose(f) != 0) ok = 0;
  peak_reset = ok;
  return dln_memory_sample_now(at);
}
