/* Replays corpus files through a fuzz harness without libFuzzer (ctest fuzz_replay_*):
 *   fuzz_replay_x DIR_OR_FILE...
 * Every regular file is fed once to LLVMFuzzerTestOneInput; a harness property that
 * fails aborts. Exits 1 if no input was found (an empty corpus checks nothing). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int replay_file(const char *path) {
  FILE *fp = fopen(path, "rb");
  if (!fp) return 0;
  fseek(fp, 0, SEEK_END);
  long n = ftell(fp);
  fseek(fp, 0, SEEK_SET);
  uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
  size_t got = buf && n > 0 ? fread(buf, 1, (size_t)n, fp) : 0;
  fclose(fp);
  if (!buf) return 0;
  LLVMFuzzerTestOneInput(buf, got);
  free(buf);
  return 1;
}

static long replay(const char *path) {
  struct stat sb;
  if (stat(path, &sb) != 0) return 0;
  if (!S_ISDIR(sb.st_mode)) return replay_file(path);
  DIR *d = opendir(path);
  if (!d) return 0;
  long n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') continue;
    size_t len = strlen(path) + strlen(e->d_name) + 2;
    char *p = malloc(len);
    if (!p) break;
    snprintf(p, len, "%s/%s", path, e->d_name);
    if (stat(p, &sb) == 0 && S_ISREG(sb.st_mode)) n += replay_file(p);
    free(p);
  }
  closedir(d);
  return n;
}

int main(int argc, char **argv) {
  long n = 0;
  fz_replay = 1;
  for (int i = 1; i < argc; ++i) n += replay(argv[i]);
  printf("replayed %ld inputs\n", n);
  return n > 0 ? 0 : 1;
}
