/* dln/io.h — arrays in and out (.npy v1.0/2.0, CSV) and atomic file output.
 *
 * .npy reader: hardened against malformed input — header length capped
 * (DLN_NPY_MAX_HEADER), dtype/fortran_order/shape parsed strictly, product of the
 * shape checked for overflow, declared data size checked against the file size
 * before anything is allocated. Accepts dtypes <f8, <f4, <i8, <i4 (and '|u1'/'|b1' not),
 * 0-d, 1-d (n,) -> n x 1 and 2-d arrays in C or Fortran order; always returns a
 * column-major dln_mat of doubles. Writer emits version 1.0, '<f8', fortran_order True.
 *
 * Atomic output: data is written to "<path>.tmp.XXXXXX" in the same folder, flushed,
 * fsync'ed and renamed over <path> only on commit, so an interrupted or failed run
 * never leaves a half-written file under the final name. */
#ifndef DLN_IO_H
#define DLN_IO_H

#include <stdio.h>

#include "dln/mat.h"
#include "dln/table.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DLN_NPY_MAX_HEADER 65536

/* Read a .npy file. On failure *out is NULL and the message names the file and the defect. */
int dln_npy_read(const char *path, dln_mat **out);
/* Same, from a memory buffer (used by the fuzz harness); `name` is used in messages. */
int dln_npy_parse(const char *name, const unsigned char *buf, size_t len, dln_mat **out);
/* Write a rows x cols column-major matrix as .npy (atomically). A vector is written with
 * shape (rows,) when cols == 1 and as_vector != 0. */
int dln_npy_write(const char *path, int rows, int cols, const double *data, int as_vector);

/* Open an input file for reading: DLN_EIO with a message naming the file if it cannot be
 * opened or is not a regular file (a folder, a named pipe, a device), without blocking on
 * it. Every reader of dln (npy, CSV, JSON specs and sweeps) opens its input through it. */
int dln_input_open(const char *path, FILE **fp);

/* Read a numeric CSV file. A UTF-8 byte-order mark is skipped. Fields are separated by
 * commas, or by tabs when the first line that is not blank or a '#' comment has no comma;
 * blanks and one pair of double quotes around a field are ignored ("1.5" is 1.5). That
 * first line is a header (skipped) only when every field is text that does not start like
 * a number (a letter, '_', ...); otherwise every field of every line must be a number
 * (strtod, the whole field), so "1d0" or a line mixing numbers and names is refused with
 * file:line:column, never skipped. '#' comment lines and blank lines are ignored; every
 * row has the same number of fields. */
int dln_csv_read(const char *path, dln_mat **out);
/* Write a matrix as CSV with an optional header line (NULL for none), values as %.17g. */
int dln_csv_write(const char *path, int rows, int cols, const double *data, const char *header);

/* Write a table as CSV (header line of column names, values as %.17g), atomically. */
int dln_table_write_csv(const dln_table *t, const char *path);

/* Read a matrix from .npy or .csv, chosen by the file extension, or an in-memory
 * matrix for a "mem:<name>" path (below). */
int dln_matrix_load(const char *path, dln_mat **out);

/* In-memory matrices standing in for data files (src/io/memfile.c): a caller that holds
 * its data in memory (the C ABI, dln/abi.h) puts a copy under a unique name and sets a
 * file option to "mem:<name>"; dln_matrix_load returns a copy of it and dln_file_sha256
 * hashes its shape and values. Process-wide and thread-safe. `name` may carry the
 * prefix. put replaces a matrix of the same name; remove fails for an unknown name. */
#define DLN_MEMFILE_PREFIX "mem:"
int dln_memfile_is(const char *path); /* 1 for a "mem:" path, 0 otherwise and for NULL */
int dln_memfile_put(const char *name, int rows, int cols, const double *data);
int dln_memfile_get(const char *path, dln_mat **out);
int dln_memfile_remove(const char *name);
int dln_memfile_sha256(const char *path, char hex[65], long long *bytes);

/* Atomic output file. */
typedef struct dln_afile dln_afile;
int dln_afile_open(dln_afile **f, const char *path);
FILE *dln_afile_stream(dln_afile *f);
/* Flush, fsync, close and rename over the final path; frees f in every case. */
int dln_afile_commit(dln_afile *f);
/* Close and unlink the temporary file; frees f. Accepts NULL. */
void dln_afile_abort(dln_afile *f);
/* Unlink the temporary file of every atomic file still open (async-signal-safe: for a
 * signal handler that then calls _exit; at most 64 files at a time are tracked). */
void dln_afile_unlink_pending(void);
/* Whole buffer to a file, atomically. */
int dln_write_file_atomic(const char *path, const void *data, size_t len);

/* Figure outcome of a run's plot script (dln_run_result.plot). */
enum { DLN_PLOT_OFF = 0, DLN_PLOT_RENDERED, DLN_PLOT_NO_MATPLOTLIB, DLN_PLOT_FAILED, DLN_PLOT_SCRIPT_ONLY };

/* Create a folder and its parents (mode 0777 & ~umask); existing folders are fine.
 * Fails with a message naming the path if it cannot be created or is not writable. */
int dln_mkdir_p(const char *path);
/* "dir/name" (malloc'ed; NULL when out of memory). */
char *dln_path_join(const char *dir, const char *name);

#ifdef __cplusplus
}
#endif
#endif
