/* dln_table: a preallocated table of rows with named columns (dln/table.h).
 * A core container: depends on dln/error.h only. */
#include "dln/table.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "dln/error.h"

void dln_table_free(dln_table *t) {
  if (!t) return;
  if (t->names)
    for (int i = 0; i < t->ncols; ++i) free(t->names[i]);
  free(t->names);
  free(t->data);
  free(t);
}

int dln_table_alloc(dln_table **out, int ncols, const char *const *names, size_t cap) {
  if (!out) return dln_error(DLN_EINVAL, "dln_table_alloc: out must not be NULL");
  *out = NULL;
  if (ncols < 1) return dln_error(DLN_EINVAL, "table columns: expected >= 1, found %d", ncols);
  if (!names) return dln_error(DLN_EINVAL, "table column names: expected %d names, found NULL", ncols);
  for (int i = 0; i < ncols; ++i) {
    if (!names[i] || !*names[i]) return dln_error(DLN_EINVAL, "table column %d: expected a non-empty name", i);
    if (strpbrk(names[i], ",\n\r\""))
      return dln_error(DLN_EINVAL, "table column %d name '%s': expected no comma, quote or line break", i, names[i]);
  }
  if (cap > SIZE_MAX / sizeof(double) / (size_t)ncols)
    return dln_error(DLN_ENOMEM, "table of %zu rows x %d columns: size overflow", cap, ncols);
  dln_table *t = calloc(1, sizeof *t);
  if (!t) return dln_error(DLN_ENOMEM, "out of memory allocating a table");
  t->names = calloc((size_t)ncols, sizeof *t->names);
  t->data = dln_xcalloc(cap * (size_t)ncols, sizeof(double));
  if (!t->names || !t->data) goto nomem;
  t->ncols = ncols;
  for (int i = 0; i < ncols; ++i) {
    size_t n = strlen(names[i]);
    t->names[i] = malloc(n + 1);
    if (!t->names[i]) goto nomem;
    memcpy(t->names[i], names[i], n + 1);
  }
  t->cap = cap;
  t->nrows = 0;
  *out = t;
  return DLN_OK;
nomem:
  t->ncols = ncols; /* free the names allocated so far (the rest are NULL) */
  dln_table_free(t);
  return dln_error(DLN_ENOMEM, "out of memory allocating a table of %zu rows x %d columns", cap, ncols);
}

int dln_table_append(dln_table *t, const double *row) {
  if (!t || !row) return dln_error(DLN_EINVAL, "dln_table_append: NULL argument");
  if (t->nrows >= t->cap)
    return dln_error(DLN_ENOMEM, "table full: capacity %zu rows (it does not grow during a run)", t->cap);
  memcpy(t->data + t->nrows * (size_t)t->ncols, row, (size_t)t->ncols * sizeof(double));
  t->nrows++;
  return DLN_OK;
}

double *dln_table_row(dln_table *t, size_t i) {
  DLN_ARGS_P(t);
  if (i >= t->nrows) {
    dln_error(DLN_EINVAL, "dln_table_row: row index: expected 0..%zu, found %zu", t->nrows - 1, i);
    if (t->nrows == 0) dln_error(DLN_EINVAL, "dln_table_row: row index %zu: the table has no rows", i);
    return NULL;
  }
  return t->data + i * (size_t)t->ncols;
}

int dln_table_col(const dln_table *t, const char *name) {
  DLN_ARGS_V(-1, t, name);
  for (int i = 0; i < t->ncols; ++i)
    if (strcmp(t->names[i], name) == 0) return i;
  return -1;
}
