/* Numeric CSV reader/writers (matrices, dln_table) and dln_matrix_load (dln/io.h). Errors name file:line:column. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "core/util.h"
#include "dln/error.h"
#include "dln/io.h"

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'; }

/* Field bounds without surrounding blanks and one pair of double quotes ("1.5"). */
static void field_trim(const char **ps, const char **pe) {
  const char *s = *ps, *e = *pe;
  while (s < e && is_space(*s)) ++s;
  while (e > s && is_space(e[-1])) --e;
  if (e - s >= 2 && *s == '"' && e[-1] == '"') {
    ++s;
    --e;
    while (s < e && is_space(*s)) ++s;
    while (e > s && is_space(e[-1])) --e;
  }
  *ps = s;
  *pe = e;
}

/* Parse one field [s, e) as a double: the whole field (minus blanks and quotes) must be used. */
static int parse_field(const char *s, const char *e, double *v) {
  field_trim(&s, &e);
  if (s == e) return 0;
  char tmp[128];
  size_t n = (size_t)(e - s);
  if (n >= sizeof tmp) return 0;
  memcpy(tmp, s, n);
  tmp[n] = '\0';
  char *end;
  errno = 0;
  double x = strtod(tmp, &end);
  if (end != tmp + n) return 0;
  if (errno == ERANGE && isinf(x)) return -1; /* overflow; underflow to subnormal/0 is accepted */
  *v = x;
  return 1;
}

/* A header field: non-empty text that is not a number (strtod's "inf" and "nan" are
 * numbers) and does not start like one (so "1d0" or "2x" is a bad number, not a column
 * name). */
static int is_name_field(const char *s, const char *e) {
  double v;
  if (parse_field(s, e, &v) != 0) return 0;
  field_trim(&s, &e);
  if (s == e) return 0;
  unsigned char c = (unsigned char)*s;
  return !(c >= '0' && c <= '9') && c != '+' && c != '-' && c != '.';
}

/* Line 1 (the first line that is not blank or a comment) is a header when every field is
 * a name (is_name_field); a line mixing names and numbers is an error. */
static int is_header(const char *p, const char *end, char sep) {
  for (const char *fs = p;;) {
    const char *fe = memchr(fs, sep, (size_t)(end - fs));
    if (!fe) fe = end;
    if (!is_name_field(fs, fe)) return 0;
    if (fe == end) return 1;
    fs = fe + 1;
  }
}

/* Trimmed copy of a field for messages. */
static int field_show(const char *s, const char *e, const char **ps) {
  field_trim(&s, &e);
  *ps = s;
  return (int)(e - s > 40 ? 40 : e - s);
}

int dln_csv_read(const char *path, dln_mat **out) {
  DLN_ARGS(out, path);
  if (!out) return dln_error(DLN_EINVAL, "dln_csv_read: out must not be NULL");
  *out = NULL;
  if (!path) return dln_error(DLN_EINVAL, "dln_csv_read: path must not be NULL");
  FILE *fp;
  int ost = dln_input_open(path, &fp);
  if (ost) return ost;
  char *line = NULL;
  size_t cap = 0, vcap = 0, nvals = 0;
  double *vals = NULL;
  long lineno = 0;
  int ncols = -1, nrows = 0, first = 1, st = DLN_OK;
  char sep = ',';
  ssize_t len;
  errno = 0;
  while ((len = getline(&line, &cap, fp)) >= 0) {
    ++lineno;
    if (strlen(line) != (size_t)len) {
      st = dln_error(DLN_EFORMAT, "%s:%ld: expected text, found a NUL byte", path, lineno);
      goto done;
    }
    const char *p = line, *end = line + len;
    if (lineno == 1 && len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) p += 3; /* UTF-8 BOM */
    while (end > p && (end[-1] == '\n' || end[-1] == '\r')) --end;
    const char *q = p;
    while (q < end && is_space(*q)) ++q;
    if (q == end || *q == '#') continue; /* blank or comment line */
    if (first) {
      first = 0;
      if (!memchr(p, ',', (size_t)(end - p)) && memchr(p, '\t', (size_t)(end - p))) sep = '\t';
      if (is_header(p, end, sep)) continue;
    }
    /* split into fields */
    int col = 0;
    size_t row_start = nvals;
    for (const char *fs = p;; ++col) {
      const char *fe = memchr(fs, sep, (size_t)(end - fs));
      if (!fe) fe = end;
      double v = 0;
      int ok = parse_field(fs, fe, &v);
      if (ok <= 0) {
        const char *shown;
        int n = field_show(fs, fe, &shown);
        st = dln_error(DLN_EFORMAT, "%s:%ld:%d: expected a %snumber, found '%.*s'", path, lineno, col + 1,
                       ok < 0 ? "finite-range " : "", n, shown);
        goto done;
      }
      if (nvals == vcap) {
        size_t nc = vcap ? 2 * vcap : 256;
        double *nv = nc > SIZE_MAX / sizeof *nv ? NULL : realloc(vals, nc * sizeof *nv);
        if (!nv) {
          st = dln_error(DLN_ENOMEM, "%s:%ld: out of memory", path, lineno);
          goto done;
        }
        vals = nv;
        vcap = nc;
      }
      vals[nvals++] = v;
      if (fe == end) break;
      fs = fe + 1;
    }
    {
      int nf = (int)(nvals - row_start);
      if (ncols < 0) {
        ncols = nf;
      } else if (nf != ncols) {
        st = dln_error(DLN_EFORMAT, "%s:%ld: ragged row: expected %d fields, found %d", path, lineno, ncols, nf);
        goto done;
      }
    }
    if (nrows == INT_MAX || (size_t)(nrows + 1) * (size_t)ncols > (size_t)INT_MAX) {
      st = dln_error(DLN_EFORMAT, "%s:%ld: too many values: expected at most %d", path, lineno, INT_MAX);
      goto done;
    }
    ++nrows;
  }
  if (ferror(fp)) {
    st = dln_error(DLN_EIO, "%s: read error: %s", path, strerror(errno));
    goto done;
  }
  if (nrows == 0) {
    st = dln_error(DLN_EFORMAT, "%s: expected at least one row of numbers, found %s", path,
                   lineno == 0 ? "an empty file" : "none");
    goto done;
  }
  dln_mat *m = dln_mat_alloc(nrows, ncols);
  if (!m) {
    st = DLN_ENOMEM;
    goto done;
  }
  for (int i = 0; i < nrows; ++i)
    for (int j = 0; j < ncols; ++j)
      m->data[(size_t)i + (size_t)j * (size_t)nrows] = vals[(size_t)i * (size_t)ncols + (size_t)j];
  *out = m;
done:
  free(line);
  free(vals);
  fclose(fp);
  return st;
}

int dln_csv_write(const char *path, int rows, int cols, const double *data, const char *header) {
  DLN_ARGS(path);
  if (rows > 0 && cols > 0) DLN_ARGS(data);
  if (!path) return dln_error(DLN_EINVAL, "dln_csv_write: path must not be NULL");
  if (rows < 0 || cols < 0)
    return dln_error(DLN_EINVAL, "%s: matrix shape %d x %d: expected non-negative dimensions", path, rows, cols);
  if (rows && cols && !data) return dln_error(DLN_EINVAL, "%s: NULL data for a %d x %d matrix", path, rows, cols);
  dln_afile *f;
  int st = dln_afile_open(&f, path);
  if (st) return st;
  FILE *fp = dln_afile_stream(f);
  if (header) fprintf(fp, "%s\n", header);
  for (int i = 0; i < rows; ++i) {
    for (int j = 0; j < cols; ++j)
      fprintf(fp, j ? ",%.17g" : "%.17g", data[(size_t)i + (size_t)j * (size_t)rows]);
    fputc('\n', fp);
  }
  return dln_afile_commit(f); /* reports any earlier write error (ferror) */
}

static int ends_with_ci(const char *s, const char *suffix) {
  size_t n = strlen(s), k = strlen(suffix);
  if (n < k) return 0;
  for (size_t i = 0; i < k; ++i) {
    char c = s[n - k + i];
    if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
    if (c != suffix[i]) return 0;
  }
  return 1;
}

int dln_matrix_load(const char *path, dln_mat **out) {
  DLN_ARGS(out, path);
  if (!out) return dln_error(DLN_EINVAL, "dln_matrix_load: out must not be NULL");
  *out = NULL;
  if (!path) return dln_error(DLN_EINVAL, "dln_matrix_load: path must not be NULL");
  if (dln_memfile_is(path)) return dln_memfile_get(path, out);
  if (ends_with_ci(path, ".npy")) return dln_npy_read(path, out);
  if (ends_with_ci(path, ".csv") || ends_with_ci(path, ".txt")) return dln_csv_read(path, out);
  return dln_error(DLN_EINVAL, "%s: unknown matrix file type: expected extension .npy, .csv or .txt", path);
}

/* ------------------------------------------------------------------ dln_table */

int dln_table_write_csv(const dln_table *t, const char *path) {
  if (!t || !path) return dln_error(DLN_EINVAL, "dln_table_write_csv: NULL argument");
  dln_afile *f;
  int st = dln_afile_open(&f, path);
  if (st) return st;
  FILE *fp = dln_afile_stream(f);
  for (int j = 0; j < t->ncols; ++j) {
    if (j) fputc(',', fp);
    fputs(t->names[j], fp);
  }
  fputc('\n', fp);
  for (size_t i = 0; i < t->nrows; ++i) {
    const double *r = t->data + i * (size_t)t->ncols;
    for (int j = 0; j < t->ncols; ++j) fprintf(fp, j ? ",%.17g" : "%.17g", r[j]);
    fputc('\n', fp);
  }
  return dln_afile_commit(f); /* reports any write error (ferror) and removes the temporary file */
}
