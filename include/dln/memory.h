/* dln/memory.h — what a run holds in memory (docs/memory.md).
 *
 * Two measurements: the resident set of the process (VmRSS, VmHWM of /proc/self/status)
 * and the bytes libdln itself holds on the calling thread, counted by its allocation hook
 * (every malloc/calloc/realloc/strdup/free of the library, at malloc_usable_size). A run's
 * need is the peak of the latter between dln_memory_mark and the end of the run; its
 * resident growth is peak RSS minus the RSS at the mark (the baseline: libraries loaded,
 * OpenBLAS's and libxsmm's start-up buffers, nothing of the run). */
#ifndef DLN_MEMORY_H
#define DLN_MEMORY_H

typedef struct dln_memory_sample {
  long long rss_bytes;       /* VmRSS now; −1 when /proc/self/status is not readable */
  long long peak_rss_bytes;  /* VmHWM: since the last mark when peak_since_mark, else since process start */
  long long heap_bytes;      /* bytes the library holds on this thread */
  long long heap_peak_bytes; /* their peak since this thread's last mark */
  int peak_since_mark;       /* 1 when the kernel reset VmHWM at the mark (/proc/self/clear_refs) */
} dln_memory_sample;

/* Start a measurement: reset this thread's heap peak and the process's VmHWM (writing 5
 * to /proc/self/clear_refs; refused in some containers: then peak_since_mark = 0), and
 * sample. DLN_EINVAL for a NULL argument. */
int dln_memory_mark(dln_memory_sample *at);
/* Sample now. DLN_EINVAL for a NULL argument. */
int dln_memory_sample_now(dln_memory_sample *out);

#endif
