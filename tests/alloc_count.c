/* The heap-call counter shared by the tests and bench_dln (alloc_count.h). */
#include "alloc_count.h"

#include <stddef.h>

static volatile int counting;
static volatile long nalloc, nfree;

#if DLN_HAVE_ALLOC_COUNTER
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
void *malloc(size_t n);
void *calloc(size_t n, size_t s);
void *realloc(void *p, size_t n);
void free(void *p);
void *malloc(size_t n) {
  if (counting) ++nalloc;
  return __libc_malloc(n);
}
void *calloc(size_t n, size_t s) {
  if (counting) ++nalloc;
  return __libc_calloc(n, s);
}
void *realloc(void *p, size_t n) {
  if (counting) ++nalloc;
  return __libc_realloc(p, n);
}
void free(void *p) {
  if (counting && p) ++nfree;
  __libc_free(p);
}
#endif

void dln_alloc_count_begin(void) {
  nalloc = 0;
  nfree = 0;
  counting = 1;
}

long dln_alloc_count_end(long *frees) {
  counting = 0;
  if (frees) *frees = nfree;
  return nalloc;
}
