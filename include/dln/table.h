/* dln/table.h — a table of rows with named columns: the trajectory container.
 *
 * A core-level container (it depends on nothing but dln/error.h), so every layer can
 * fill one: the dynamics drivers append observer rows, the theory fits read columns,
 * the run layer writes it. Storage is row-major and preallocated: the table never grows
 * inside a run. Its CSV writer is I/O and lives in dln/io.h (dln_table_write_csv). */
#ifndef DLN_TABLE_H
#define DLN_TABLE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dln_table {
  int ncols;
  size_t nrows, cap;
  char **names;  /* ncols owned copies */
  double *data;  /* cap x ncols, row-major */
} dln_table;

int dln_table_alloc(dln_table **out, int ncols, const char *const *names, size_t cap);
void dln_table_free(dln_table *t);
/* Append a row; DLN_ENOMEM if the table is full (it never grows inside a run). */
int dln_table_append(dln_table *t, const double *row);
/* Row i < nrows, or NULL (message recorded) for a NULL table or i out of range. Column index
 * of name, −1 if absent or an argument is NULL. */
double *dln_table_row(dln_table *t, size_t i);
int dln_table_col(const dln_table *t, const char *name);

#ifdef __cplusplus
}
#endif
#endif
