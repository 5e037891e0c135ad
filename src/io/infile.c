/* Opening an input file (dln/io.h): refuse anything that is not a regular file (a
 * folder, a FIFO, a device) without blocking on it: open with O_NONBLOCK, fstat, then
 * clear O_NONBLOCK for ordinary reads. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dln/error.h"
#include "dln/io.h"

static const char *kind_of(mode_t m) {
  if (S_ISDIR(m)) return "a folder";
  if (S_ISFIFO(m)) return "a named pipe";
  if (S_ISCHR(m) || S_ISBLK(m)) return "a device";
  if (S_ISSOCK(m)) return "a socket";
  return "not a regular file";
}

int dln_input_open(const char *path, FILE **out) {
  if (!out) return dln_error(DLN_EINVAL, "dln_input_open: out must not be NULL");
  *out = NULL;
  if (!path) return dln_error(DLN_EINVAL, "dln_input_open: path must not be NULL");
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return dln_error(DLN_EIO, "%s: cannot open: %s", path, strerror(errno));
  struct stat sb;
  if (fstat(fd, &sb) != 0) {
    int e = errno;
    close(fd);
    return dln_error(DLN_EIO, "%s: cannot stat: %s", path, strerror(e));
  }
  if (!S_ISREG(sb.st_mode)) {
    close(fd);
    return dln_error(DLN_EIO, "%s: expected a regular file, found %s", path, kind_of(sb.st_mode));
  }
  int fl = fcntl(fd, F_GETFL);
  if (fl >= 0) (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
  FILE *fp = fdopen(fd, "rb");
  if (!fp) {
    int e = errno;
    close(fd);
    return dln_error(DLN_EIO, "%s: cannot open: %s", path, strerror(e));
  }
  *out = fp;
  return DLN_OK;
}
