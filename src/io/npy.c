/* .npy reader and writer (dln/io.h): a strict, bounds-checked parser for NumPy's
 * array format v1.0/2.0/3.0 (dtypes <f8 <f4 <i8 <i4, 0-2 dims, C or Fortran order)
 * and a v1.0 '<f8' Fortran-order writer that goes through the atomic file layer. */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/util.h"
#include "dln/error.h"
#include "dln/io.h"
#include "io/io_internal.h"

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
#define NPY_MAX_DIMS 2
#define NPY_PARSE_DIMS 32 /* dims collected for the message before rejecting */

typedef struct npy_info {
  char kind;      /* 'f' or 'i' */
  int itemsize;   /* 4 or 8 */
  int little;     /* byte order of the data */
  int fortran;    /* fortran_order */
  int ndim;
  int rows, cols; /* as a dln_mat: 0-d -> 1x1, (n,) -> n x 1 */
  size_t count;   /* number of elements */
  size_t nbytes;  /* count * itemsize */
} npy_info;

typedef struct cursor {
  const char *p, *end;
  const char *name;
} cursor;

static int host_little(void) {
  const uint16_t one = 1;
  unsigned char b;
  memcpy(&b, &one, 1);
  return b == 1;
}

static void skip_ws(cursor *c) {
  while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')) ++c->p;
}

/* Up to 24 characters of the remaining header, for "found" in messages. */
static int found_len(const cursor *c) {
  ptrdiff_t n = c->end - c->p;
  if (n > 24) n = 24;
  while (n > 0 && (c->p[n - 1] == ' ' || c->p[n - 1] == '\n')) --n;
  return (int)n;
}

static int hdr_err(const cursor *c, const char *field, const char *expected) {
  if (c->p >= c->end)
    return dln_error(DLN_EFORMAT, "%s: .npy header%s%s%s: expected %s, found end of header", c->name,
                     field ? ": field '" : "", field ? field : "", field ? "'" : "", expected);
  return dln_error(DLN_EFORMAT, "%s: .npy header%s%s%s: expected %s, found '%.*s'", c->name,
                   field ? ": field '" : "", field ? field : "", field ? "'" : "", expected,
                   found_len(c), c->p);
}

/* A quoted string (single or double quotes, no escapes); returns pointer and length. */
static int parse_str(cursor *c, const char *field, const char **s, size_t *n) {
  if (c->p >= c->end || (*c->p != '\'' && *c->p != '"')) return hdr_err(c, field, "a quoted string");
  char q = *c->p;
  const char *start = c->p + 1, *e = start;
  while (e < c->end && *e != q) {
    if (*e == '\\' || *e == '\n') return hdr_err(c, field, "a plain quoted string");
    ++e;
  }
  if (e >= c->end) return hdr_err(c, field, "a closing quote");
  *s = start;
  *n = (size_t)(e - start);
  c->p = e + 1;
  return DLN_OK;
}

static int word_is(const cursor *c, const char *w) {
  size_t n = strlen(w);
  if ((size_t)(c->end - c->p) < n || memcmp(c->p, w, n) != 0) return 0;
  /* the word must end here */
  if (c->p + n < c->end) {
    char x = c->p[n];
    if ((x >= 'a' && x <= 'z') || (x >= 'A' && x <= 'Z') || (x >= '0' && x <= '9') || x == '_') return 0;
  }
  return 1;
}

static int parse_descr(cursor *c, npy_info *info) {
  const char *s;
  size_t n;
  if (c->p < c->end && (*c->p == '[' || *c->p == '('))
    return hdr_err(c, "descr", "a simple dtype string such as '<f8' (structured dtypes are not supported)");
  int st = parse_str(c, "descr", &s, &n);
  if (st) return st;
  if (n == 3 && (s[1] == 'f' || s[1] == 'i') && (s[2] == '4' || s[2] == '8')) {
    if (s[0] == '>')
      return dln_error(DLN_EFORMAT,
                       "%s: .npy header: field 'descr': big-endian dtype '%.3s' is not supported: "
                       "expected little-endian '<%c%c' (convert with a.astype('<%c%c'))",
                       c->name, s, s[1], s[2], s[1], s[2]);
    if (s[0] == '<' || s[0] == '=') {
      info->kind = s[1];
      info->itemsize = s[2] - '0';
      info->little = s[0] == '<' ? 1 : host_little();
      return DLN_OK;
    }
  }
  return dln_error(DLN_EFORMAT,
                   "%s: .npy header: field 'descr': expected one of '<f8', '<f4', '<i8', '<i4', found '%.*s'",
                   c->name, n > 32 ? 32 : (int)n, s);
}

static int parse_bool(cursor *c, int *v) {
  if (word_is(c, "True")) {
    *v = 1;
    c->p += 4;
  } else if (word_is(c, "False")) {
    *v = 0;
    c->p += 5;
  } else {
    return hdr_err(c, "fortran_order", "True or False");
  }
  return DLN_OK;
}

/* Non-negative decimal integer, at most INT_MAX (optional Python 2 'L' suffix). */
static int parse_dim(cursor *c, int *out) {
  if (c->p < c->end && *c->p == '-') {
    const char *e = c->p + 1;
    while (e < c->end && *e >= '0' && *e <= '9') ++e;
    return dln_error(DLN_EFORMAT, "%s: .npy header: field 'shape': expected a non-negative dimension, found '%.*s'",
                     c->name, (int)(e - c->p > 24 ? 24 : e - c->p), c->p);
  }
  if (c->p >= c->end || *c->p < '0' || *c->p > '9') return hdr_err(c, "shape", "a dimension (non-negative integer)");
  const char *start = c->p;
  long long v = 0;
  int over = 0;
  while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
    if (!over) {
      v = v * 10 + (*c->p - '0');
      if (v > INT_MAX) over = 1;
    }
    ++c->p;
  }
  if (over)
    return dln_error(DLN_EFORMAT, "%s: .npy header: field 'shape': expected a dimension of at most %d, found '%.*s'",
                     c->name, INT_MAX, (int)(c->p - start > 40 ? 40 : c->p - start), start);
  if (c->p < c->end && *c->p == 'L') ++c->p;
  *out = (int)v;
  return DLN_OK;
}

static int parse_shape(cursor *c, npy_info *info) {
  int dims[NPY_PARSE_DIMS];
  int nd = 0;
  if (c->p >= c->end || *c->p != '(') return hdr_err(c, "shape", "a tuple '(...)'");
  ++c->p;
  skip_ws(c);
  while (c->p < c->end && *c->p != ')') {
    int d = 0, st = parse_dim(c, &d);
    if (st) return st;
    if (nd == NPY_PARSE_DIMS)
      return dln_error(DLN_EFORMAT, "%s: .npy header: field 'shape': expected 0, 1 or 2 dimensions, found more than %d",
                       c->name, NPY_PARSE_DIMS);
    dims[nd++] = d;
    skip_ws(c);
    if (c->p < c->end && *c->p == ',') {
      ++c->p;
      skip_ws(c);
    } else if (c->p < c->end && *c->p != ')') {
      return hdr_err(c, "shape", "',' or ')'");
    }
  }
  if (c->p >= c->end) return hdr_err(c, "shape", "')'");
  ++c->p;
  if (nd > NPY_MAX_DIMS) {
    char buf[256];
    size_t k = 0;
    for (int i = 0; i < nd && k < sizeof buf - 16; ++i)
      k += (size_t)snprintf(buf + k, sizeof buf - k, i ? ", %d" : "%d", dims[i]);
    return dln_error(DLN_EFORMAT, "%s: .npy header: field 'shape': expected 0, 1 or 2 dimensions, found %d-d shape (%s)",
                     c->name, nd, buf);
  }
  info->ndim = nd;
  info->rows = nd >= 1 ? dims[0] : 1;
  info->cols = nd == 2 ? dims[1] : 1;
  unsigned long long count = (unsigned long long)info->rows * (unsigned long long)info->cols;
  if (count > (unsigned long long)INT_MAX)
    return dln_error(DLN_EFORMAT,
                     "%s: .npy header: field 'shape': (%d, %d) has %llu elements, expected at most %d (BLAS integer range)",
                     c->name, info->rows, info->cols, count, INT_MAX);
  info->count = (size_t)count;
  if (info->count > SIZE_MAX / (size_t)8)
    return dln_error(DLN_EFORMAT, "%s: .npy header: field 'shape': data size overflows size_t", c->name);
  return DLN_OK;
}

/* Parse the header dict (hdr[0..n)). Keys 'descr', 'fortran_order', 'shape', each exactly once. */
static int parse_header(const char *name, const char *hdr, size_t n, npy_info *info) {
  for (size_t i = 0; i < n; ++i) {
    unsigned char b = (unsigned char)hdr[i];
    if ((b < 0x20 && b != '\n' && b != '\r' && b != '\t') || b > 0x7e)
      return dln_error(DLN_EFORMAT, "%s: .npy header: expected printable ASCII, found byte 0x%02x at header offset %zu",
                       name, b, i);
  }
  cursor c = {hdr, hdr + n, name};
  int have_descr = 0, have_fo = 0, have_shape = 0, st;
  skip_ws(&c);
  if (c.p >= c.end || *c.p != '{') return hdr_err(&c, NULL, "a dict literal starting with '{'");
  ++c.p;
  for (;;) {
    skip_ws(&c);
    if (c.p < c.end && *c.p == '}') break;
    const char *key;
    size_t klen;
    if ((st = parse_str(&c, NULL, &key, &klen))) return st;
    skip_ws(&c);
    if (c.p >= c.end || *c.p != ':') return hdr_err(&c, NULL, "':' after a key");
    ++c.p;
    skip_ws(&c);
    int *have;
    if (klen == 5 && !memcmp(key, "descr", 5)) {
      have = &have_descr;
      if (!*have && (st = parse_descr(&c, info))) return st;
    } else if (klen == 13 && !memcmp(key, "fortran_order", 13)) {
      have = &have_fo;
      if (!*have && (st = parse_bool(&c, &info->fortran))) return st;
    } else if (klen == 5 && !memcmp(key, "shape", 5)) {
      have = &have_shape;
      if (!*have && (st = parse_shape(&c, info))) return st;
    } else {
      return dln_error(DLN_EFORMAT, "%s: .npy header: expected keys 'descr', 'fortran_order', 'shape', found key '%.*s'",
                       name, klen > 32 ? 32 : (int)klen, key);
    }
    if (*have)
      return dln_error(DLN_EFORMAT, "%s: .npy header: expected each key once, found key '%.*s' twice", name, (int)klen, key);
    *have = 1;
    skip_ws(&c);
    if (c.p < c.end && *c.p == ',') {
      ++c.p;
      continue;
    }
    if (c.p < c.end && *c.p == '}') break;
    return hdr_err(&c, NULL, "',' or '}'");
  }
  ++c.p; /* '}' */
  skip_ws(&c);
  if (c.p != c.end) return hdr_err(&c, NULL, "only padding after '}'");
  if (!have_descr || !have_fo || !have_shape)
    return dln_error(DLN_EFORMAT, "%s: .npy header: expected keys 'descr', 'fortran_order' and 'shape', found no '%s'",
                     name, !have_descr ? "descr" : !have_fo ? "fortran_order" : "shape");
  info->nbytes = info->count * (size_t)info->itemsize;
  return DLN_OK;
}

/* Magic, version and header length from the first bytes; *off is the header start. */
static int parse_preamble(const char *name, const unsigned char *b, size_t len, size_t *off, size_t *hlen) {
  if (len == 0) return dln_error(DLN_EFORMAT, "%s: empty file: expected a .npy file starting with \"\\x93NUMPY\"", name);
  size_t cmp = len < NPY_MAGIC_LEN ? len : NPY_MAGIC_LEN;
  if (memcmp(b, NPY_MAGIC, cmp) != 0) {
    char found[3 * NPY_MAGIC_LEN + 1] = "";
    for (size_t i = 0; i < cmp; ++i) snprintf(found + 3 * i, 4, "%02x ", b[i]);
    found[3 * cmp - 1] = '\0';
    return dln_error(DLN_EFORMAT, "%s: bad magic: expected \"\\x93NUMPY\" (93 4e 55 4d 50 59), found bytes %s", name,
                     found);
  }
  if (len < NPY_MAGIC_LEN + 4)
    return dln_error(DLN_EFORMAT, "%s: truncated: expected at least %d bytes of .npy preamble, found %zu", name,
                     NPY_MAGIC_LEN + 4, len);
  unsigned major = b[6], minor = b[7];
  if ((major != 1 && major != 2 && major != 3) || minor != 0)
    return dln_error(DLN_EFORMAT, "%s: .npy version: expected 1.0, 2.0 or 3.0, found %u.%u", name, major, minor);
  size_t need = major == 1 ? 10 : 12;
  if (len < need)
    return dln_error(DLN_EFORMAT, "%s: truncated: expected %zu bytes of .npy preamble, found %zu", name, need, len);
  if (major == 1)
    *hlen = (size_t)b[8] | (size_t)b[9] << 8;
  else
    *hlen = (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
  if (*hlen > DLN_NPY_MAX_HEADER)
    return dln_error(DLN_EFORMAT, "%s: .npy header length: expected at most %d bytes, found %zu", name,
                     DLN_NPY_MAX_HEADER, *hlen);
  *off = need;
  return DLN_OK;
}

/* Convert `n` elements starting at file-order index k0 into the column-major m. */
static void decode(const npy_info *info, const unsigned char *src, size_t k0, size_t n, dln_mat *m) {
  size_t rows = (size_t)info->rows, cols = (size_t)info->cols;
  size_t i = 0, j = 0;
  if (!info->fortran && cols) {
    i = k0 / cols;
    j = k0 % cols;
  }
  for (size_t k = 0; k < n; ++k, src += info->itemsize) {
    uint64_t u = 0;
    for (int b = 0; b < info->itemsize; ++b) {
      int sh = info->little ? b : info->itemsize - 1 - b;
      u |= (uint64_t)src[b] << (8 * sh);
    }
    double v;
    if (info->kind == 'f' && info->itemsize == 8) {
      memcpy(&v, &u, 8);
    } else if (info->kind == 'f') {
      uint32_t u32 = (uint32_t)u;
      float f;
      memcpy(&f, &u32, 4);
      v = (double)f;
    } else if (info->itemsize == 8) {
      int64_t s;
      memcpy(&s, &u, 8);
      v = (double)s;
    } else {
      uint32_t u32 = (uint32_t)u;
      int32_t s;
      memcpy(&s, &u32, 4);
      v = (double)s;
    }
    if (info->fortran) {
      m->data[k0 + k] = v;
    } else {
      m->data[i + j * rows] = v;
      if (++j == cols) {
        j = 0;
        ++i;
      }
    }
  }
}

static int check_data_size(const char *name, const npy_info *info, size_t avail) {
  if (avail < info->nbytes)
    return dln_error(DLN_EFORMAT, "%s: truncated: expected %zu bytes of data, found %zu", name, info->nbytes, avail);
  if (avail > info->nbytes)
    return dln_error(DLN_EFORMAT, "%s: trailing bytes: expected %zu bytes of data, found %zu", name, info->nbytes, avail);
  return DLN_OK;
}

int dln_npy_parse(const char *name, const unsigned char *buf, size_t len, dln_mat **out) {
  DLN_ARGS(out, buf);
  if (!out) return dln_error(DLN_EINVAL, "dln_npy_parse: out must not be NULL");
  *out = NULL;
  if (!name) name = "<buffer>";
  if (!buf && len) return dln_error(DLN_EINVAL, "%s: NULL buffer of %zu bytes", name, len);
  size_t off, hlen;
  int st = parse_preamble(name, buf, len, &off, &hlen);
  if (st) return st;
  if (len - off < hlen)
    return dln_error(DLN_EFORMAT, "%s: truncated header: expected %zu bytes, found %zu", name, hlen, len - off);
  npy_info info;
  memset(&info, 0, sizeof info);
  if ((st = parse_header(name, (const char *)buf + off, hlen, &info))) return st;
  if ((st = check_data_size(name, &info, len - off - hlen))) return st;
  dln_mat *m = dln_mat_alloc(info.rows, info.cols);
  if (!m) return DLN_ENOMEM;
  decode(&info, buf + off + hlen, 0, info.count, m);
  *out = m;
  return DLN_OK;
}

static int read_exact(FILE *fp, const char *path, void *dst, size_t n, size_t *got) {
  *got = fread(dst, 1, n, fp);
  if (*got < n && ferror(fp)) return dln_error(DLN_EIO, "%s: read error: %s", path, strerror(errno));
  return DLN_OK;
}

int dln_npy_read(const char *path, dln_mat **out) {
  DLN_ARGS(out, path);
  if (!out) return dln_error(DLN_EINVAL, "dln_npy_read: out must not be NULL");
  *out = NULL;
  if (!path) return dln_error(DLN_EINVAL, "dln_npy_read: path must not be NULL");
  FILE *fp;
  int st = dln_input_open(path, &fp); /* refuses a FIFO, folder or device without blocking */
  if (st) return st;
  char *hdr = NULL;
  dln_mat *m = NULL;
  struct stat sb;
  if (fstat(fileno(fp), &sb) != 0) {
    st = dln_error(DLN_EIO, "%s: cannot stat: %s", path, strerror(errno));
    goto done;
  }
  if (!S_ISREG(sb.st_mode)) {
    st = dln_error(DLN_EIO, "%s: expected a regular file", path);
    goto done;
  }
  size_t fsize = (size_t)sb.st_size, got, off, hlen;
  unsigned char pre[12];
  if ((st = read_exact(fp, path, pre, fsize < 12 ? fsize : 12, &got))) goto done;
  if ((st = parse_preamble(path, pre, got, &off, &hlen))) goto done;
  if (fsize - off < hlen) {
    st = dln_error(DLN_EFORMAT, "%s: truncated header: expected %zu bytes, found %zu", path, hlen, fsize - off);
    goto done;
  }
  if (fseek(fp, (long)off, SEEK_SET) != 0) {
    st = dln_error(DLN_EIO, "%s: seek failed: %s", path, strerror(errno));
    goto done;
  }
  hdr = malloc(hlen ? hlen : 1);
  if (!hdr) {
    st = dln_error(DLN_ENOMEM, "%s: out of memory reading the header", path);
    goto done;
  }
  if ((st = read_exact(fp, path, hdr, hlen, &got))) goto done;
  if (got < hlen) {
    st = dln_error(DLN_EFORMAT, "%s: truncated header: expected %zu bytes, found %zu", path, hlen, got);
    goto done;
  }
  npy_info info;
  memset(&info, 0, sizeof info);
  if ((st = parse_header(path, hdr, hlen, &info))) goto done;
  if ((st = check_data_size(path, &info, fsize - off - hlen))) goto done;
  m = dln_mat_alloc(info.rows, info.cols);
  if (!m) {
    st = DLN_ENOMEM;
    goto done;
  }
  unsigned char chunk[1 << 16];
  size_t per = sizeof chunk / (size_t)info.itemsize;
  for (size_t k = 0; k < info.count;) {
    size_t n = info.count - k < per ? info.count - k : per;
    if ((st = read_exact(fp, path, chunk, n * (size_t)info.itemsize, &got))) goto done;
    if (got < n * (size_t)info.itemsize) {
      st = dln_error(DLN_EFORMAT, "%s: truncated: expected %zu bytes of data, found %zu", path, info.nbytes,
                     k * (size_t)info.itemsize + got);
      goto done;
    }
    decode(&info, chunk, k, n, m);
    k += n;
  }
  if (fgetc(fp) != EOF) {
    st = dln_error(DLN_EFORMAT, "%s: trailing bytes: expected %zu bytes of data, found more", path, info.nbytes);
    goto done;
  }
done:
  free(hdr);
  fclose(fp);
  if (st) {
    dln_mat_free(m);
    return st;
  }
  *out = m;
  return DLN_OK;
}

/* Header text hdr (dict and shape) padded so that the data start at a multiple of 64, then
 * nslices slices of `slice` doubles at data + k·stride, little-endian, atomically. */
static int write_npy(const char *path, char *hdr, int n, size_t nslices, const double *data, size_t stride, size_t slice) {
  /* pad with spaces and a final '\n' so that the data starts at a multiple of 64 */
  size_t total = (size_t)n + 1 + 10;
  size_t padded = (total + 63) / 64 * 64;
  size_t hlen = padded - 10;
  memset(hdr + n, ' ', hlen - (size_t)n - 1);
  hdr[hlen - 1] = '\n';

  unsigned char pre[10];
  memcpy(pre, NPY_MAGIC, NPY_MAGIC_LEN);
  pre[6] = 1;
  pre[7] = 0;
  pre[8] = (unsigned char)(hlen & 0xff);
  pre[9] = (unsigned char)(hlen >> 8);

  dln_afile *af;
  int st;
  if ((st = dln_afile_open(&af, path))) return st;
  FILE *fp = dln_afile_stream(af);
  fwrite(pre, 1, sizeof pre, fp);
  fwrite(hdr, 1, hlen, fp);
  unsigned char chunk[8 * 1024];
  for (size_t s = 0; s < nslices; ++s) {
    const double *src = data + s * stride;
    for (size_t k = 0; k < slice;) {
      size_t m = slice - k < sizeof chunk / 8 ? slice - k : sizeof chunk / 8;
      for (size_t t = 0; t < m; ++t) {
        uint64_t u;
        memcpy(&u, &src[k + t], 8);
        for (int b = 0; b < 8; ++b) chunk[8 * t + (size_t)b] = (unsigned char)(u >> (8 * b));
      }
      if (fwrite(chunk, 8, m, fp) != m) break; /* the error is reported by commit (ferror) */
      k += m;
    }
  }
  return dln_afile_commit(af);
}

int dln_npy_write(const char *path, int rows, int cols, const double *data, int as_vector) {
  DLN_ARGS(path);
  if (rows > 0 && cols > 0) DLN_ARGS(data);
  if (!path) return dln_error(DLN_EINVAL, "dln_npy_write: path must not be NULL");
  if (rows < 0 || cols < 0)
    return dln_error(DLN_EINVAL, "%s: matrix shape %d x %d: expected non-negative dimensions", path, rows, cols);
  size_t count;
  int st = dln_size_mul((size_t)rows, (size_t)cols, &count);
  if (st) return st;
  if (count && !data) return dln_error(DLN_EINVAL, "%s: NULL data for a %d x %d matrix", path, rows, cols);

  char hdr[160];
  int n;
  if (as_vector && cols == 1)
    n = snprintf(hdr, sizeof hdr, "{'descr': '<f8', 'fortran_order': True, 'shape': (%d,), }", rows);
  else
    n = snprintf(hdr, sizeof hdr, "{'descr': '<f8', 'fortran_order': True, 'shape': (%d, %d), }", rows, cols);
  return write_npy(path, hdr, n, 1, data, 0, count);
}

int dln_npy_write_strided(const char *path, int ndim, const size_t *shape, const double *data, size_t stride,
                          size_t slice) {
  if (!path || !shape || ndim < 1 || ndim > 8)
    return dln_error(DLN_EINVAL, "dln_npy_write_strided: expected a path and 1 to 8 dimensions, found %d", ndim);
  size_t count = 1;
  for (int i = 1; i < ndim; ++i)
    if (dln_size_mul(count, shape[i], &count)) return dln_error(DLN_EINVAL, "%s: array too large", path);
  if (count != slice || (shape[0] && slice && !data))
    return dln_error(DLN_EINVAL, "%s: expected slices of %zu values, found %zu", path, count, slice);
  char hdr[400];
  int n = snprintf(hdr, sizeof hdr, "{'descr': '<f8', 'fortran_order': False, 'shape': (");
  for (int i = 0; i < ndim; ++i) n += snprintf(hdr + n, sizeof hdr - (size_t)n, "%zu%s", shape[i], ndim == 1 ? "," : i + 1 < ndim ? ", " : "");
  n += snprintf(hdr + n, sizeof hdr - (size_t)n, "), }");
  return write_npy(path, hdr, n, shape[0], data, stride, slice);
}
