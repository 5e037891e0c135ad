/* libFuzzer harness for the .npy parser (dln_npy_parse, src/io/npy.c). Properties:
 *  - a failure leaves *out NULL and sets a message;
 *  - a success gives a matrix whose every element can be read (ASan checks the layout),
 *    and dln_npy_write of it parses back to the same shape and bits.
 * Build: cmake -DDLN_FUZZ=ON with CC=clang, or scripts/fuzz.sh. */
#include <string.h>
#include <unistd.h>

#include "dln/error.h"
#include "dln/io.h"
#include "dln/mat.h"
#include "fuzz.h"

static void check_write_back(const dln_mat *m) {
  char path[512];
  fz_scratch("back.npy", path, sizeof path);
  FZ_REQUIRE(dln_npy_write(path, m->rows, m->cols, m->data, 0) == DLN_OK, "written back");
  dln_mat *r = NULL;
  FZ_REQUIRE(dln_npy_read(path, &r) == DLN_OK && r != NULL, "the written matrix reads back");
  FZ_REQUIRE(r->rows == m->rows && r->cols == m->cols, "same shape after write + read");
  size_t n = (size_t)m->rows * (size_t)m->cols;
  FZ_REQUIRE(n == 0 || memcmp(r->data, m->data, n * sizeof(double)) == 0, "same bits after write + read");
  dln_mat_free(r);
  unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  dln_mat *m = (dln_mat *)1;
  dln_error_clear();
  int st = dln_npy_parse("fuzz.npy", data, size, &m);
  if (st == DLN_OK) {
    FZ_REQUIRE(m != NULL && m->rows >= 0 && m->cols >= 0, "a success gives a matrix");
    volatile double sink = 0;
    for (size_t k = 0; k < (size_t)m->rows * (size_t)m->cols; ++k) sink += m->data[k];
    (void)sink;
    check_write_back(m);
    dln_mat_free(m);
  } else {
    FZ_REQUIRE(m == NULL, "a failure leaves *out NULL");
    FZ_REQUIRE(dln_last_error()[0] != '\0', "a failure sets a message");
  }
  return 0;
}
