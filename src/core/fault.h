/* core/fault.h — test-only fault injection (not installed; used by tests/test_faults.c).
 *
 * Every heap allocation of the library (malloc, calloc, realloc, strdup: routed through
 * dln_fault_malloc & co. by core/alloc_hook.h, which the build force-includes into every
 * library source) and every output file (dln_afile_open and dln_afile_commit, io/afile.c)
 * is a fault site. dln_fault_arm(kind, k) makes the k-th site of that kind fail once (an
 * allocation returns NULL; a file cannot be created, or its write fails with ENOSPC at
 * commit). Unarmed, a site costs one relaxed atomic load. Thread-safe. */
#ifndef DLN_CORE_FAULT_H
#define DLN_CORE_FAULT_H

#include <stdatomic.h>

/* DLN_FAULT_JSON: not a library site; a test's Jansson allocator (json_set_alloc_funcs) uses it. */
enum { DLN_FAULT_ALLOC = 0, DLN_FAULT_WRITE = 1, DLN_FAULT_JSON = 2, DLN_FAULT_NKINDS = 3 };

extern atomic_int dln_fault_armed;
int dln_fault_hit_slow(int kind);
/* 1 if this site of `kind` must fail. */
static inline int dln_fault_hit(int kind) {
  return atomic_load_explicit(&dln_fault_armed, memory_order_relaxed) ? dln_fault_hit_slow(kind) : 0;
}

/* Count the sites of every kind from now on; the k-th site of `kind` fails (k <= 0: none). */
void dln_fault_arm(int kind, long k);
/* Stop counting and failing. */
void dln_fault_disarm(void);
/* Sites of `kind` passed since dln_fault_arm (including the failed one), and failures injected. */
long dln_fault_sites(int kind);
long dln_fault_fired(int kind);

/* This thread's bytes held by the library (allocation hook), their peak since the last
 * dln_heap_mark (dln/memory.h). */
long long dln_heap_live(void);
long long dln_heap_peak(void);
void dln_heap_mark(void);

#endif
