/* Atomic output files and mkdir -p (dln/io.h): data goes to "<path>.tmp.XXXXXX" in the
 * target's folder and is renamed over <path> only after fflush + fsync + fclose succeed. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fault.h"
#include "core/util.h"
#include "dln/error.h"
#include "dln/io.h"

struct dln_afile {
  FILE *fp;
  char *path;
  char *tmp;
  int slot; /* in the registry below, -1 if none */
};

/* ---- the open temporary files, for a signal handler (dln_afile_unlink_pending) ----
 * A slot is 0 (free), 1 (being filled or emptied) or 2 (holds an open file's name). It
 * is claimed by compare-and-swap, so threads need no lock and a handler never reads a
 * half-written name. Files beyond the slots or with longer names are not listed. */
#define AFILE_SLOTS 64
static atomic_int reg_state[AFILE_SLOTS];
static char reg_path[AFILE_SLOTS][PATH_MAX];

static int reg_add(const char *tmp) {
  size_t n = strlen(tmp);
  if (n >= PATH_MAX) return -1;
  for (int i = 0; i < AFILE_SLOTS; ++i) {
    int fr = 0;
    if (!atomic_compare_exchange_strong(&reg_state[i], &fr, 1)) continue;
    memcpy(reg_path[i], tmp, n + 1);
    atomic_store(&reg_state[i], 2);
    return i;
  }
  return -1;
}

static void reg_drop(int slot) {
  if (slot >= 0) atomic_store(&reg_state[slot], 0);
}

void dln_afile_unlink_pending(void) {
  for (int i = 0; i < AFILE_SLOTS; ++i)
    if (atomic_load(&reg_state[i]) == 2) (void)unlink(reg_path[i]); /* async-signal-safe */
}

static void afile_free(dln_afile *f) {
  reg_drop(f->slot);
  free(f->path);
  free(f->tmp);
  free(f);
}

int dln_afile_open(dln_afile **out, const char *path) {
  DLN_ARGS(out, path);
  if (!out) return dln_error(DLN_EINVAL, "dln_afile_open: out must not be NULL");
  *out = NULL;
  if (!path || !*path) return dln_error(DLN_EINVAL, "dln_afile_open: expected a non-empty path");
  if (dln_fault_hit(DLN_FAULT_WRITE)) /* tests/test_faults.c */
    return dln_error(DLN_EIO, "%s: cannot create a temporary file next to it: %s", path, strerror(ENOSPC));
  size_t n = strlen(path);
  dln_afile *f = calloc(1, sizeof *f);
  if (f) f->slot = -1;
  if (f) f->path = malloc(n + 1);
  if (f) f->tmp = malloc(n + sizeof ".tmp.XXXXXX");
  if (!f || !f->path || !f->tmp) {
    if (f) afile_free(f);
    return dln_error(DLN_ENOMEM, "%s: out of memory opening an output file", path);
  }
  memcpy(f->path, path, n + 1);
  memcpy(f->tmp, path, n);
  memcpy(f->tmp + n, ".tmp.XXXXXX", sizeof ".tmp.XXXXXX");
  int fd = mkstemp(f->tmp);
  if (fd < 0) {
    int e = errno;
    afile_free(f);
    return dln_error(DLN_EIO, "%s: cannot create a temporary file next to it: %s", path, strerror(e));
  }
  f->slot = reg_add(f->tmp);
  (void)fchmod(fd, 0644); /* mkstemp creates 0600; output files are meant to be shared */
  f->fp = fdopen(fd, "wb");
  if (!f->fp) {
    int e = errno;
    close(fd);
    unlink(f->tmp);
    afile_free(f);
    return dln_error(DLN_EIO, "%s: cannot open a stream: %s", path, strerror(e));
  }
  *out = f;
  return DLN_OK;
}

FILE *dln_afile_stream(dln_afile *f) {
  DLN_ARGS_P(f);
  return f->fp;
}

/* fsync the folder holding path so that the rename itself is durable (best effort). */
static void sync_parent(const char *path) {
  char dir[4096]; /* no allocation: a commit that succeeded must not skip this on a full heap */
  const char *slash = strrchr(path, '/');
  size_t n = !slash ? 1 : slash == path ? 1 : (size_t)(slash - path);
  if (n >= sizeof dir) return;
  memcpy(dir, slash ? path : ".", n);
  dir[n] = '\0';
  int fd = open(dir, O_RDONLY);
  if (fd >= 0) {
    (void)fsync(fd);
    close(fd);
  }
}

int dln_afile_commit(dln_afile *f) {
  if (!f) return dln_error(DLN_EINVAL, "dln_afile_commit: NULL file");
  const char *what = NULL;
  int e = 0;
  if (ferror(f->fp)) {
    what = "write failed";
    e = errno ? errno : EIO;
  } else if (dln_fault_hit(DLN_FAULT_WRITE)) { /* tests/test_faults.c */
    what = "write failed";
    e = ENOSPC;
  } else if (fflush(f->fp) != 0) {
    what = "write failed";
    e = errno;
  } else if (fsync(fileno(f->fp)) != 0) {
    what = "fsync failed";
    e = errno;
  }
  if (fclose(f->fp) != 0 && !what) {
    what = "close failed";
    e = errno;
  }
  f->fp = NULL;
  if (!what && rename(f->tmp, f->path) != 0) {
    what = "rename failed";
    e = errno;
  }
  if (what) {
    unlink(f->tmp);
    int st = dln_error(DLN_EIO, "%s: %s: %s", f->path, what, strerror(e));
    afile_free(f);
    return st;
  }
  sync_parent(f->path);
  afile_free(f);
  return DLN_OK;
}

void dln_afile_abort(dln_afile *f) {
  if (!f) return;
  if (f->fp) fclose(f->fp);
  unlink(f->tmp);
  afile_free(f);
}

int dln_write_file_atomic(const char *path, const void *data, size_t len) {
  DLN_ARGS(path);
  if (len && !data) return dln_error(DLN_EINVAL, "%s: NULL data of %zu bytes", path ? path : "(null)", len);
  dln_afile *f;
  int st = dln_afile_open(&f, path);
  if (st) return st;
  if (len) (void)fwrite(data, 1, len, f->fp); /* a short write sets ferror, reported by commit */
  return dln_afile_commit(f);
}

/* mkdir one component; existing folders are fine, anything else that exists is an error. */
static int mkdir_one(const char *full, const char *dir) {
  if (mkdir(dir, 0777) == 0) return DLN_OK;
  int e = errno;
  struct stat sb;
  if (stat(dir, &sb) == 0) {
    if (S_ISDIR(sb.st_mode)) return DLN_OK;
    return dln_error(DLN_EIO, "%s: cannot create folder: '%s' exists and is not a folder", full, dir);
  }
  return dln_error(DLN_EIO, "%s: cannot create folder '%s': %s", full, dir, strerror(e));
}

int dln_mkdir_p(const char *path) {
  if (!path || !*path) return dln_error(DLN_EINVAL, "dln_mkdir_p: expected a non-empty path");
  size_t n = strlen(path);
  char *buf = malloc(n + 1);
  if (!buf) return dln_error(DLN_ENOMEM, "%s: out of memory", path);
  memcpy(buf, path, n + 1);
  int st = DLN_OK;
  for (size_t i = 1; i <= n && !st; ++i) {
    if (buf[i] != '/' && buf[i] != '\0') continue;
    if (buf[i - 1] == '/') continue; /* repeated or trailing slash */
    char c = buf[i];
    buf[i] = '\0';
    st = mkdir_one(path, buf);
    buf[i] = c;
  }
  free(buf);
  if (st) return st;
  if (access(path, W_OK | X_OK) != 0)
    return dln_error(DLN_EIO, "%s: folder is not writable: %s", path, strerror(errno));
  return DLN_OK;
}

char *dln_path_join(const char *dir, const char *name) {
  DLN_ARGS_P(dir, name);
  size_t n = strlen(dir) + strlen(name) + 2;
  char *p = malloc(n);
  if (p) snprintf(p, n, "%s/%s", dir, name);
  return p;
}
