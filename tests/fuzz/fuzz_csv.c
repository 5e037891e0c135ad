/* libFuzzer harness for the CSV matrix reader (dln_csv_read, src/io/csv.c). The input is
 * written to a scratch file and read. Properties checked on every input:
 *  - a failure leaves *out NULL and a non-empty message naming the file;
 *  - a success gives a matrix of at least 1 x 1, which written back with dln_csv_write
 *    (%.17g) and read again is the same matrix, bit for bit (NaN payloads aside).
 * Build: cmake -DDLN_FUZZ=ON with CC=clang, or scripts/fuzz.sh. */
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "dln/error.h"
#include "dln/io.h"
#include "dln/mat.h"
#include "fuzz.h"

static int same_value(double a, double b) {
  if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
  return memcmp(&a, &b, sizeof a) == 0; /* also tells -0 from +0 */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 16384) return 0;
  char in[512], back[512];
  fz_scratch("in.csv", in, sizeof in);
  fz_scratch("back.csv", back, sizeof back);
  FZ_REQUIRE(fz_write(in, data, size), "scratch file written");
  dln_mat *m = (dln_mat *)1;
  dln_error_clear();
  int st = dln_csv_read(in, &m);
  if (st) {
    FZ_REQUIRE(m == NULL, "a failure leaves *out NULL");
    FZ_REQUIRE(dln_last_error()[0] != '\0', "a failure sets a message");
    FZ_REQUIRE(st == DLN_ENOMEM || strstr(dln_last_error(), in) != NULL, "the message names the file");
  } else {
    FZ_REQUIRE(m != NULL && m->rows >= 1 && m->cols >= 1, "a success gives at least 1 x 1");
    FZ_REQUIRE(dln_csv_write(back, m->rows, m->cols, m->data, NULL) == DLN_OK, "written back");
    dln_mat *r = NULL;
    st = dln_csv_read(back, &r);
    if (st) fprintf(stderr, "read back: %s\n", dln_last_error());
    FZ_REQUIRE(st == DLN_OK && r != NULL, "the written matrix reads back");
    FZ_REQUIRE(r->rows == m->rows && r->cols == m->cols, "same shape after write + read");
    for (size_t k = 0; k < (size_t)m->rows * (size_t)m->cols; ++k)
      FZ_REQUIRE(same_value(m->data[k], r->data[k]), "same values after write + read");
    dln_mat_free(r);
    dln_mat_free(m);
    unlink(back);
  }
  unlink(in);
  return 0;
}
