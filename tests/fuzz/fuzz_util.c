/* Scratch files of the fuzz harnesses (fuzz.h). */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "fuzz.h"

int fz_replay = 0;

const char *fz_scratch(const char *tag, char *buf, size_t len) {
  const char *dir = getenv("TMPDIR");
  if (!dir || !*dir) dir = "/tmp";
  snprintf(buf, len, "%s/dln_fuzz_%ld_%s", dir, (long)getpid(), tag);
  return buf;
}

int fz_write(const char *path, const uint8_t *data, size_t size) {
  FILE *fp = fopen(path, "wb");
  if (!fp) return 0;
  int ok = fwrite(data, 1, size, fp) == size;
  return fclose(fp) == 0 && ok;
}
