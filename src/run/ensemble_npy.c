/* The binary table beside ensemble.csv (docs/cli.md "Sweeps"): one .npy per column in
 * DIR/ensemble/ (a shard: DIR/ensemble.shard<i>of<N>/), read back from the committed CSV
 * so that every writer of an ensemble.csv (a sweep, a resumed sweep, a merge of shards)
 * gets the same files from the same text: run, seed, stream as int64/uint64, every other
 * column float64 (nan where the CSV has nan). %.17g round-trips, so the values are the
 * CSV's bit for bit; the files are atomic and depend only on the CSV's bytes. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dln/error.h"
#include "dln/io.h"
#include "run/ensemble_common.h"
#include "run/run_internal.h"

typedef struct npy_cols {
  int ncols;
  char **names;
  size_t nrows, cap;
  double *f;   /* nrows x ncols, row-major (columns 0..2 unused) */
  uint64_t *u; /* nrows x 3: run, seed, stream */
} npy_cols;

static void cols_free(npy_cols *c) {
  for (int i = 0; i < c->ncols; ++i) free(c->names[i]);
  free(c->names);
  free(c->f);
  free(c->u);
}

/* The header line's names (strtok-like split on commas; the CSV has no quoted cells). */
static int read_header(npy_cols *c, char *line, const char *path) {
  line[strcspn(line, "\r\n")] = '\0';
  for (char *s = line; s; ++c->ncols) {
    char *e = strchr(s, ',');
    if (e) *e = '\0';
    char **nn = realloc(c->names, (size_t)(c->ncols + 1) * sizeof *nn);
    if (!nn) return dln_error(DLN_ENOMEM, "out of memory");
    c->names = nn;
    if (!(nn[c->ncols] = strdup(s))) return dln_error(DLN_ENOMEM, "out of memory");
    s = e ? e + 1 : NULL;
  }
  if (c->ncols < 3 || strcmp(c->names[0], "run") || strcmp(c->names[1], "seed") || strcmp(c->names[2], "stream"))
    return dln_error(DLN_EFORMAT, "%s: header: expected run,seed,stream,..., found another", path);
  return DLN_OK;
}

static int read_row(npy_cols *c, char *line, const char *path) {
  if (c->nrows == c->cap) {
    size_t cap = c->cap ? 2 * c->cap : 1024;
    double *f = realloc(c->f, cap * (size_t)c->ncols * sizeof *f);
    if (f) c->f = f;
    uint64_t *u = f ? realloc(c->u, cap * 3 * sizeof *u) : NULL;
    if (!u) return dln_error(DLN_ENOMEM, "out of memory for %zu rows of %s", cap, path);
    c->u = u;
    c->cap = cap;
  }
  char *s = line, *e;
  for (int j = 0; j < c->ncols; ++j) {
    errno = 0;
    if (j < 3) c->u[c->nrows * 3 + (size_t)j] = strtoull(s, &e, 10);
    else c->f[c->nrows * (size_t)c->ncols + (size_t)j] = strtod(s, &e);
    if (e == s || errno || *e != (j + 1 < c->ncols ? ',' : '\n'))
      return dln_error(DLN_EFORMAT, "%s: row %zu, column %s: expected a number, found another cell", path, c->nrows + 1, c->names[j]);
    s = e + 1;
  }
  ++c->nrows;
  return DLN_OK;
}

static int read_csv(npy_cols *c, const char *path) {
  FILE *fp = fopen(path, "r");
  if (!fp) return dln_error(DLN_EIO, "%s: cannot open it: %s", path, strerror(errno));
  char *line = NULL;
  size_t cap = 0;
  int st = getline(&line, &cap, fp) < 0 ? dln_error(DLN_EFORMAT, "%s: expected a header line, found none", path)
                                        : read_header(c, line, path);
  while (!st && getline(&line, &cap, fp) >= 0) st = read_row(c, line, path);
  if (!st && ferror(fp)) st = dln_error(DLN_EIO, "%s: cannot read it", path);
  free(line);
  fclose(fp);
  return st;
}

/* One column as .npy v1.0 (header padded to 64 bytes, little-endian dtype named as stored). */
static int write_col(const npy_cols *c, int j, const char *path) {
  const uint16_t one = 1;
  char end = *(const unsigned char *)&one ? '<' : '>';
  char hdr[128];
  int n = snprintf(hdr, sizeof hdr, "{'descr': '%c%s', 'fortran_order': False, 'shape': (%zu,), }", end,
                   j == 0 ? "i8" : j < 3 ? "u8" : "f8", c->nrows);
  size_t hl = (size_t)n + 1, total = 10 + hl;
  hl += (64 - total % 64) % 64;
  size_t len = 10 + hl + 8 * c->nrows;
  unsigned char *buf = malloc(len);
  if (!buf) return dln_error(DLN_ENOMEM, "out of memory for %s", path);
  memcpy(buf, "\x93NUMPY\x01\x00", 8);
  buf[8] = (unsigned char)(hl & 0xff);
  buf[9] = (unsigned char)(hl >> 8);
  memset(buf + 10, ' ', hl);
  memcpy(buf + 10, hdr, (size_t)n);
  buf[10 + hl - 1] = '\n';
  unsigned char *d = buf + 10 + hl;
  for (size_t i = 0; i < c->nrows; ++i, d += 8) {
    if (j < 3) memcpy(d, &c->u[i * 3 + (size_t)j], 8);
    else memcpy(d, &c->f[i * (size_t)c->ncols + (size_t)j], 8);
  }
  int st = dln_write_file_atomic(path, buf, len);
  free(buf);
  return st;
}

int dln_ens_write_columns(const char *csv_path, const char *dir, const char *prefix, dln_run_files *files) {
  npy_cols c;
  memset(&c, 0, sizeof c);
  int st = read_csv(&c, csv_path);
  if (!st) st = dln_mkdir_p(dir);
  for (int j = 0; j < c.ncols && !st; ++j) {
    char name[256];
    snprintf(name, sizeof name, "%.200s.npy", c.names[j]);
    for (char *p = name; *p; ++p) /* a file name (entry columns W_i_j are already safe) */
      if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-", *p)) *p = '_';
    char *path = xasprintf("%s/%s", dir, name), *rel = xasprintf("%s/%s", prefix, name);
    st = path && rel ? write_col(&c, j, path) : dln_error(DLN_ENOMEM, "out of memory");
    if (!st && files) st = dln_run_files_add(files, rel);
    free(path);
    free(rel);
  }
  cols_free(&c);
  return st;
}
