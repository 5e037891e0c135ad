/* fuzz.h — shared by the libFuzzer harnesses (tests/fuzz/fuzz_*.c) and the corpus
 * replayer (replay.c). A harness checks properties, not only "no crash": a violated
 * property prints one line and aborts, which libFuzzer and ctest both report. */
#ifndef DLN_FUZZ_H
#define DLN_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_REQUIRE(cond, what)                                                          \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      fprintf(stderr, "%s:%d: property violated: %s (%s)\n", __FILE__, __LINE__, what, #cond); \
      abort();                                                                          \
    }                                                                                   \
  } while (0)

/* 1 under the corpus replayer (replay.c), where every check runs in full; 0 under libFuzzer. */
extern int fz_replay;

/* A scratch file name unique to this process, in $TMPDIR (or /tmp); "<dir>/dln_fuzz_<pid>_<tag>". */
const char *fz_scratch(const char *tag, char *buf, size_t len);
/* Write bytes to path (1 on success). */
int fz_write(const char *path, const uint8_t *data, size_t size);

#endif
