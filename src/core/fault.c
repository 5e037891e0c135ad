/* Test-only fault injection (core/fault.h) and the library's allocation entry points
 * (core/alloc_hook.h). */
#undef malloc
#undef calloc
#undef realloc
#undef strdup
#undef free
#include "core/fault.h"

#include <malloc.h>
#include <stdlib.h>
#include <string.h>

atomic_int dln_fault_armed;
static atomic_long countdown[DLN_FAULT_NKINDS], sites[DLN_FAULT_NKINDS], fired[DLN_FAULT_NKINDS];

int dln_fault_hit_slow(int kind) {
  atomic_fetch_add(&sites[kind], 1);
  if (atomic_fetch_sub(&countdown[kind], 1) != 1) return 0;
  atomic_fetch_add(&fired[kind], 1);
  return 1;
}

void dln_fault_arm(int kind, long k) {
  for (int i = 0; i < DLN_FAULT_NKINDS; ++i) {
    atomic_store(&countdown[i], i == kind && k > 0 ? k : 0);
    atomic_store(&sites[i], 0);
    atomic_store(&fired[i], 0);
  }
  atomic_store(&dln_fault_armed, 1);
}

void dln_fault_disarm(void) { atomic_store(&dln_fault_armed, 0); }
long dln_fault_sites(int kind) { return atomic_load(&sites[kind]); }
long dln_fault_fired(int kind) { return atomic_load(&fired[kind]); }

/* The bytes the library holds on this thread (malloc_usable_size of each block it
 * allocated, minus those it freed) and their peak since dln_heap_mark. A block allocated
 * on one thread and freed on another moves the counts of both; the run layer reads them
 * for a run that allocates and frees on one thread (dln run). */
static _Thread_local long long heap_live, heap_peak;

static void *held(void *p) {
  if (p && (heap_live += (long long)malloc_usable_size(p)) > heap_peak) heap_peak = heap_live;
  return p;
}

void *dln_fault_malloc(size_t n) { return dln_fault_hit(DLN_FAULT_ALLOC) ? NULL : held(malloc(n)); }
void *dln_fault_calloc(size_t n, size_t size) { return dln_fault_hit(DLN_FAULT_ALLOC) ? NULL : held(calloc(n, size)); }
void *dln_fault_realloc(void *p, size_t n) {
  if (dln_fault_hit(DLN_FAULT_ALLOC)) return NULL;
  long long old = p ? (long long)malloc_usable_size(p) : 0;
  void *q = realloc(p, n);
  if (q) heap_live -= old; /* on failure p is still held */
  return held(q);
}
char *dln_fault_strdup(const char *s) { return dln_fault_hit(DLN_FAULT_ALLOC) ? NULL : held(strdup(s)); }
void dln_fault_free(void *p) {
  if (p) heap_live -= (long long)malloc_usable_size(p);
  free(p);
}

long long dln_heap_live(void) { return heap_live; }
long long dln_heap_peak(void) { return heap_peak; }
void dln_heap_mark(void) { heap_peak = heap_live; }
