/* In-memory matrices that stand in for data files ("mem:<name>" paths, dln/io.h).
 *
 * A caller that holds its data in memory (the C ABI of dln/abi.h, i.e. Python) puts each
 * matrix here under a unique name and sets the spec's file option to "mem:<name>"; the
 * run reads it through dln_matrix_load like a file and hashes it like one
 * (dln_file_sha256), so the run and its folder are those of a run from files holding
 * the same numbers. One process-wide table behind a mutex: runs on several threads may
 * read it at once. (Their SHA-256, dln_memfile_sha256, is in manifest.c beside the files' one.) */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "dln/error.h"
#include "dln/io.h"
#include "dln/mat.h"

typedef struct memfile {
  char *name;
  dln_mat *m;
  struct memfile *next;
} memfile;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static memfile *head;

int dln_memfile_is(const char *path) {
  if (!path) return dln_error(DLN_EINVAL, "dln_memfile_is: path must not be NULL"), 0;
  return strncmp(path, DLN_MEMFILE_PREFIX, sizeof DLN_MEMFILE_PREFIX - 1) == 0;
}

static const char *key_of(const char *path) {
  return strncmp(path, DLN_MEMFILE_PREFIX, sizeof DLN_MEMFILE_PREFIX - 1) == 0 ? path + sizeof DLN_MEMFILE_PREFIX - 1 : path;
}

static memfile **find(const char *name) {
  memfile **p = &head;
  while (*p && strcmp((*p)->name, name) != 0) p = &(*p)->next;
  return p;
}

int dln_memfile_put(const char *name, int rows, int cols, const double *data) {
  if (!name || !*name || (!data && (size_t)rows * (size_t)(cols > 0 ? cols : 0) > 0))
    return dln_error(DLN_EINVAL, "dln_memfile_put: expected a name and data, found NULL");
  if (rows < 0 || cols < 0) return dln_error(DLN_EINVAL, "dln_memfile_put: %s: expected a non-negative shape, found %d x %d", name, rows, cols);
  dln_mat *m = dln_mat_from(rows, cols, data);
  memfile *f = m ? calloc(1, sizeof *f) : NULL;
  char *nm = f ? strdup(key_of(name)) : NULL;
  if (!nm) {
    dln_mat_free(m);
    free(f);
    return dln_error(DLN_ENOMEM, "%s: out of memory for a %d x %d matrix", name, rows, cols);
  }
  f->name = nm;
  f->m = m;
  pthread_mutex_lock(&mu);
  memfile **p = find(nm), *old = *p;
  f->next = old ? old->next : NULL;
  *p = f;
  pthread_mutex_unlock(&mu);
  if (old) {
    free(old->name);
    dln_mat_free(old->m);
    free(old);
  }
  return DLN_OK;
}

int dln_memfile_remove(const char *name) {
  if (!name) return dln_error(DLN_EINVAL, "dln_memfile_remove: name must not be NULL");
  pthread_mutex_lock(&mu);
  memfile **p = find(key_of(name)), *old = *p;
  if (old) *p = old->next;
  pthread_mutex_unlock(&mu);
  if (!old) return dln_error(DLN_EINVAL, "%s%s: no such in-memory matrix", DLN_MEMFILE_PREFIX, key_of(name));
  free(old->name);
  dln_mat_free(old->m);
  free(old);
  return DLN_OK;
}

int dln_memfile_get(const char *path, dln_mat **out) {
  if (!path || !out) return dln_error(DLN_EINVAL, "dln_memfile_get: path and out must not be NULL");
  *out = NULL;
  pthread_mutex_lock(&mu);
  memfile *f = *find(key_of(path));
  dln_mat *m = f ? dln_mat_dup(f->m) : NULL;
  pthread_mutex_unlock(&mu);
  if (!f) return dln_error(DLN_EIO, "%s: cannot read (no such in-memory matrix)", path);
  if (!m) return dln_error(DLN_ENOMEM, "%s: out of memory", path);
  *out = m;
  return DLN_OK;
}
