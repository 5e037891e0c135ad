/* The output folder of a run or sweep (run_internal.h): an exclusive lock for the whole
 * job, the refusal of a folder that holds an earlier run's outputs (unless force), the
 * removal of exactly the files the earlier manifest lists, and manifest.json written last.
 *
 * The lock is flock(2) on DIR/.dln.lock (an open file description: a second open in the
 * same process conflicts too, and the kernel releases it when the process dies). */
#define _DEFAULT_SOURCE /* flock */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dln/error.h"
#include "dln/io.h"
#include "dln/run.h"
#include "run/run_internal.h"

/* Names whose presence marks the outputs of an earlier run (every layout dln wrote). */
static const char *const known_default[] = {DLN_MANIFEST_NAME, "summary.json", "trajectory.csv", "plot.py", "figure.png",
                                            "ensemble.csv",    "ensemble.json", "W1_init.npy",   "U_init.npy", "W_init.npy",
                                            "sigma1e-2_one_layer", NULL};

/* 1 if dir/name exists, 0 if not, -1 out of memory. */
static int exists(const char *dir, const char *name) {
  char *p = dln_path_join(dir, name);
  if (!p) return -1;
  struct stat sb;
  int r = lstat(p, &sb) == 0;
  free(p);
  return r;
}

static int take_lock(dln_run_folder *f, const char *lock_name, int *phase) {
  char *p = dln_path_join(f->dir, lock_name ? lock_name : DLN_RUN_LOCK_NAME);
  if (!p) return dln_error(DLN_ENOMEM, "out of memory");
  *phase = DLN_RUN_FAIL_OUTPUT;
  int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644), st = DLN_OK;
  if (fd < 0) {
    st = dln_error(DLN_EIO, "%s: cannot create the lock file: %s", p, strerror(errno));
  } else if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int e = errno;
    close(fd);
    if (e == EWOULDBLOCK) {
      *phase = DLN_RUN_FAIL_BUSY;
      st = dln_error(DLN_EIO, "%s: another dln run or sweep is writing into this folder (it holds %s); wait for it or choose another --out",
                     f->dir, p);
    } else {
      st = dln_error(DLN_EIO, "%s: cannot lock: %s", p, strerror(e));
    }
  } else {
    f->lock_fd = fd;
  }
  free(p);
  return st;
}

/* Refuse a folder with outputs unless force; which outputs, in the message. */
static int check_outputs(dln_run_folder *f, int force, const char *const *known) {
  char found[256] = "";
  int n = 0;
  for (const char *const *k = known ? known : known_default; *k; ++k) {
    int e = exists(f->dir, *k);
    if (e < 0) return dln_error(DLN_ENOMEM, "%s: out of memory looking for earlier outputs", f->dir);
    if (e && n++ < 3)
      snprintf(found + strlen(found), sizeof found - strlen(found), "%s%s", n > 1 ? ", " : "", *k);
  }
  if (!n || force) return DLN_OK;
  if (f->old)
    return dln_error(DLN_EIO, "%s: holds the outputs of an earlier %s (%s%s); --force replaces them (removes only the files its %s lists)",
                     f->dir, f->old->kind, found, n > 3 ? ", ..." : "", DLN_MANIFEST_NAME);
  return dln_error(DLN_EIO, "%s: holds outputs without a readable %s (%s%s; an older dln or an unfinished run); --force writes over them and removes only summary.json",
                   f->dir, DLN_MANIFEST_NAME, found, n > 3 ? ", ..." : "");
}

int dln_run_folder_open(dln_run_folder *f, const char *dir, int force, const char *const *known, const char *lock_name,
                        int *phase) {
  memset(f, 0, sizeof *f);
  f->dir = dir;
  f->lock_fd = -1;
  f->manifest = 1;
  *phase = DLN_RUN_FAIL_INTERNAL;
  int st = dln_run_id_new(f->run_id);
  if (st) return st;
  *phase = DLN_RUN_FAIL_OUTPUT;
  if ((st = dln_mkdir_p(dir)) || (st = take_lock(f, lock_name, phase))) return st;
  st = dln_manifest_read(dir, &f->old);
  if (st == DLN_ENOMEM) return st;
  dln_error_clear(); /* absent or unreadable: nothing is attributed to an earlier run */
  *phase = DLN_RUN_FAIL_OUTPUT;
  return check_outputs(f, force, known);
}

/* 1 when every folder between dir and dir/name is a real folder (not a symbolic link
 * the user put there: what it points to is not the earlier run's). */
static int inside(const char *dir, char *p) {
  size_t n0 = strlen(dir);
  for (char *s = strchr(p + n0 + 1, '/'); s; s = strchr(s + 1, '/')) {
    struct stat sb;
    *s = '\0';
    int ok = lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
    *s = '/';
    if (!ok) return 0;
  }
  return 1;
}

/* Remove dir/name (a missing file is fine) and then its empty parent folders below dir. */
static int remove_listed(const char *dir, const char *name) {
  char *p = dln_path_join(dir, name);
  if (!p) return dln_error(DLN_ENOMEM, "out of memory");
  int st = DLN_OK;
  if (!inside(dir, p)) {
    free(p);
    return DLN_OK; /* gone, or behind a symbolic link: not removed */
  }
  if (unlink(p) != 0 && errno != ENOENT)
    st = dln_error(DLN_EIO, "%s: cannot remove the earlier run's file: %s", p, strerror(errno));
  for (char *s = strrchr(p, '/'); !st && s && s > p + strlen(dir); s = strrchr(p, '/')) {
    *s = '\0';
    if (rmdir(p) != 0) break; /* not empty (a file of the user's, or of this run): kept */
  }
  free(p);
  return st;
}

int dln_run_folder_begin(dln_run_folder *f) {
  if (!f->manifest) return DLN_OK;
  /* the marks of a complete run go first (without a manifest: the summary.json of an
   * older dln), then the earlier manifest's files but those this job has already written
   * (a sweep's data sets) */
  int st = remove_listed(f->dir, DLN_MANIFEST_NAME);
  if (!st && !f->old) st = remove_listed(f->dir, "summary.json");
  if (!st && f->old && dln_manifest_find(f->old, "summary.json") >= 0 && !dln_run_files_has(&f->files, "summary.json"))
    st = remove_listed(f->dir, "summary.json");
  for (size_t i = 0; f->old && i < f->old->nfiles && !st; ++i)
    if (!dln_run_files_has(&f->files, f->old->files[i].name)) st = remove_listed(f->dir, f->old->files[i].name);
  dln_manifest_free(f->old);
  f->old = NULL;
  return st;
}

/* 1 when name ends in ".tmp." and six letters or digits (mkstemp's XXXXXX), after a name */
static int is_debris(const char *name) {
  size_t n = strlen(name), k = sizeof ".tmp.XXXXXX" - 1;
  if (n <= k || memcmp(name + n - k, ".tmp.", 5)) return 0;
  for (size_t i = n - 6; i < n; ++i)
    if (!isalnum((unsigned char)name[i])) return 0;
  return 1;
}

/* Debris in dir, and in its subfolders down to depth more levels (not through links). */
static int debris_in(const char *dir, int depth, int *n) {
  DIR *d = opendir(dir);
  if (!d) return dln_error(DLN_EIO, "%s: cannot read the folder: %s", dir, strerror(errno));
  int st = DLN_OK;
  for (struct dirent *e; !st && (e = readdir(d));) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    int junk = is_debris(e->d_name);
    if (!junk && depth <= 0) continue;
    char *p = dln_path_join(dir, e->d_name);
    struct stat sb;
    if (!p) st = dln_error(DLN_ENOMEM, "out of memory");
    else if (lstat(p, &sb) != 0) { /* gone meanwhile */
    } else if (junk && S_ISREG(sb.st_mode)) {
      if (unlink(p) == 0) ++*n;
      else if (errno != ENOENT) st = dln_error(DLN_EIO, "%s: cannot remove a killed run's temporary file: %s", p, strerror(errno));
    } else if (S_ISDIR(sb.st_mode) && depth > 0) {
      st = debris_in(p, depth - 1, n);
    }
    free(p);
  }
  closedir(d);
  return st;
}

int dln_run_folder_remove_debris(dln_run_folder *f, int depth, int *removed) {
  int n = 0, st = debris_in(f->dir, depth, &n);
  if (removed) *removed = n;
  return st;
}

int dln_run_folder_finish(dln_run_folder *f, const char *kind, int complete) {
  if (!f->manifest) return DLN_OK;
  return dln_manifest_write(f->dir, f->run_id, kind, complete, (const char *const *)f->files.names, f->files.n);
}

void dln_run_folder_close(dln_run_folder *f) {
  if (f->lock_fd >= 0) close(f->lock_fd); /* releases the flock */
  f->lock_fd = -1;
  dln_manifest_free(f->old);
  f->old = NULL;
  dln_run_files_free(&f->files);
}
