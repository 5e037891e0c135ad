/* core/alloc_hook.h — force-included into every library source by CMakeLists.txt (-include):
 * malloc, calloc, realloc and strdup go through the fault sites of core/fault.h, so a
 * test can fail any one allocation of the library; with free they also keep the count of
 * the bytes the library holds on each thread (dln/memory.h). Memory is still libc's. */
#ifndef DLN_CORE_ALLOC_HOOK_H
#define DLN_CORE_ALLOC_HOOK_H

#include <stdlib.h> /* the real declarations first, then the macros */
#include <string.h>

void *dln_fault_malloc(size_t n);
void *dln_fault_calloc(size_t n, size_t size);
void *dln_fault_realloc(void *p, size_t n);
char *dln_fault_strdup(const char *s);
void dln_fault_free(void *p);

#ifndef DLN_NO_ALLOC_HOOK
#define malloc(n) dln_fault_malloc(n)
#define calloc(n, s) dln_fault_calloc(n, s)
#define realloc(p, n) dln_fault_realloc(p, n)
#define strdup(s) dln_fault_strdup(s)
#define free(p) dln_fault_free(p)
#endif

#endif
