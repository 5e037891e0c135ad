/* libFuzzer harness for the .npy parser (not part of ctest). Build and run from the repo root:
 *   clang -g -fsanitize=fuzzer,address -Iinclude tests/fuzz_npy.c src/io/npy.c src/io/afile.c src/core/error.c src/core/mat.c -lopenblas -llapacke && ./a.out -max_total_time=60
 * (src/io/afile.c is needed because npy.c's writer uses the atomic-file layer.) */
#include <stddef.h>
#include <stdint.h>

#include "dln/error.h"
#include "dln/io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  dln_mat *m = NULL;
  int st = dln_npy_parse("fuzz.npy", data, size, &m);
  if (st == DLN_OK) {
    /* touch every element so ASan sees any out-of-bounds layout */
    volatile double sink = 0;
    for (size_t k = 0; k < (size_t)m->rows * (size_t)m->cols; ++k) sink += m->data[k];
    (void)sink;
    dln_mat_free(m);
  } else if (m != NULL || dln_last_error()[0] == '\0') {
    __builtin_trap(); /* failures must leave *out NULL and set a message */
  }
  return 0;
}
