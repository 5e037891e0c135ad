/* test_memory.c over a 10^6-step run (long tier): the bytes libdln holds do not change
 * after the first sample and the resident set grows by at most the table rows written. */
#define NSTEPS 1000000L
#include "test_memory.c"
