/* alloc_count.h — the one heap-call counter of the tests and the benchmarks.
 *
 * alloc_count.c interposes malloc/calloc/realloc/free for the whole process (forwarding
 * to glibc's __libc_* entry points), so every heap call passes through it: libdln's,
 * OpenBLAS's, SUNDIALS's and libxsmm's alike. Inert unless counting; compiled out under
 * AddressSanitizer (which owns the allocator) and off glibc, where the counts stay 0.
 * Linked into every test program (tests/CMakeLists.txt) and into bench_dln
 * (bench/CMakeLists.txt). Not thread-safe: count single-threaded sections only. */
#ifndef DLN_ALLOC_COUNT_H
#define DLN_ALLOC_COUNT_H

#include <stdlib.h> /* defines __GLIBC__ on glibc, which the test below needs */

#if defined(__SANITIZE_ADDRESS__)
#define DLN_HAVE_ALLOC_COUNTER 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DLN_HAVE_ALLOC_COUNTER 0
#endif
#endif
#if !defined(DLN_HAVE_ALLOC_COUNTER) && defined(__GLIBC__)
#define DLN_HAVE_ALLOC_COUNTER 1
#endif
#ifndef DLN_HAVE_ALLOC_COUNTER
#define DLN_HAVE_ALLOC_COUNTER 0
#endif

/* Zero the counts and start counting. */
void dln_alloc_count_begin(void);
/* Stop counting; returns the malloc/calloc/realloc calls, *frees (if non-NULL) the free calls
 * with a non-NULL pointer. Always 0 without the counter. */
long dln_alloc_count_end(long *frees);

#endif
