/* Test-only fault injection (core/fault.h) and the library's allocation entry points
 * (core/alloc_hook.h). */
#undef malloc
#undef calloc
#undef realloc
#undef strdup
#include "core/fault.h"

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

void *dln_fault_malloc(size_t n) { return dln_fault_hit(DLN_FAULT_ALLOC) ? NULL : malloc(n); }
void *dln_fault_calloc(size_t n, size_t size) { return dln_fault_hit(DLN_FAULT_ALLOC) ? NULL : calloc(n, size); }
void *dln_fault_realloc(void *p, size_t n) { return dln_fault_hit(DLN_FAULT_ALLOC) ? NULL : realloc(p, n); }
char *dln_fault_strdup(const char *s) { return dln_fault_hit(DLN_FAULT_ALLOC) ? NULL : strdup(s); }
