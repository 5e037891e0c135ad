/* The manifest of an output folder (dln/manifest.h): run id, file sizes and SHA-256
 * hashes (Nettle), written atomically as JSON (Jansson). */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <nettle/sha2.h>

#include "core/util.h"
#include "dln/error.h"
#include "dln/io.h"
#include "dln/manifest.h"
#include "io/json_util.h"

static void to_hex(const unsigned char *b, size_t n, char *out) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = digits[b[i] >> 4];
    out[2 * i + 1] = digits[b[i] & 15];
  }
  out[2 * n] = '\0';
}

int dln_run_id_new(char id[DLN_RUN_ID_LEN + 1]) {
  if (!id) return dln_error(DLN_EINVAL, "dln_run_id_new: id must not be NULL");
  unsigned char b[DLN_RUN_ID_LEN / 2];
  int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  ssize_t got = fd >= 0 ? read(fd, b, sizeof b) : -1;
  if (fd >= 0) close(fd);
  if (got != (ssize_t)sizeof b) return dln_error(DLN_EIO, "/dev/urandom: cannot read a run id: %s", strerror(errno));
  to_hex(b, sizeof b, id);
  return DLN_OK;
}

/* An in-memory matrix ("mem:" path, memfile.c) as dln_file_sha256 sees it: SHA-256 of the shape (two little-endian int64) and the column-major values. */
int dln_memfile_sha256(const char *path, char hex[65], long long *bytes) {
  if (!path || !hex) return dln_error(DLN_EINVAL, "dln_memfile_sha256: path and hex must not be NULL");
  dln_mat *m;
  int st = dln_memfile_get(path, &m);
  if (st) return st;
  struct sha256_ctx ctx;
  sha256_init(&ctx);
  unsigned char shape[16];
  long long dims[2] = {m->rows, m->cols};
  for (int k = 0; k < 16; ++k) shape[k] = (unsigned char)((unsigned long long)dims[k / 8] >> (8 * (k % 8)));
  sha256_update(&ctx, sizeof shape, shape);
  size_t nb = (size_t)m->rows * (size_t)m->cols * sizeof(double);
  sha256_update(&ctx, nb, (const unsigned char *)m->data);
  unsigned char d[SHA256_DIGEST_SIZE];
  sha256_digest(&ctx, sizeof d, d);
  to_hex(d, sizeof d, hex);
  if (bytes) *bytes = (long long)(sizeof shape + nb);
  dln_mat_free(m);
  return DLN_OK;
}

int dln_file_sha256(const char *path, char hex[65], long long *bytes) {
  if (!path || !hex) return dln_error(DLN_EINVAL, "dln_file_sha256: path and hex must not be NULL");
  if (dln_memfile_is(path)) return dln_memfile_sha256(path, hex, bytes);
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return dln_error(DLN_EIO, "%s: cannot open: %s", path, strerror(errno));
  struct stat sb;
  if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
    close(fd);
    return dln_error(DLN_EIO, "%s: expected a regular file", path);
  }
  struct sha256_ctx ctx;
  sha256_init(&ctx);
  unsigned char buf[65536];
  long long total = 0;
  for (;;) {
    ssize_t r = read(fd, buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      int e = errno;
      close(fd);
      return dln_error(DLN_EIO, "%s: read failed: %s", path, strerror(e));
    }
    if (r == 0) break;
    sha256_update(&ctx, (size_t)r, buf);
    total += r;
  }
  close(fd);
  unsigned char d[SHA256_DIGEST_SIZE];
  sha256_digest(&ctx, sizeof d, d);
  to_hex(d, sizeof d, hex);
  if (bytes) *bytes = total;
  return DLN_OK;
}

int dln_manifest_name_ok(const char *name) {
  if (!name || !*name || name[0] == '/') return 0;
  const char *p = name;
  while (*p) {
    const char *e = strchr(p, '/');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    if (n == 0 || (n == 2 && p[0] == '.' && p[1] == '.') || (n == 1 && p[0] == '.')) return 0;
    p += n + (e ? 1 : 0);
    if (e && !*p) return 0; /* trailing slash */
  }
  return 1;
}

int dln_manifest_write(const char *dir, const char *run_id, const char *kind, int complete,
                       const char *const *names, size_t n) {
  if (!dir || !run_id || !kind || (n && !names)) return dln_error(DLN_EINVAL, "dln_manifest_write: NULL argument");
  json_t *files = json_array();
  json_t *root = json_pack("{s:s, s:s, s:s, s:b}", "format", "dln-manifest/1", "run_id", run_id, "kind", kind,
                           "complete", complete);
  if (!files || !root) {
    json_decref(files);
    json_decref(root);
    return dln_error(DLN_ENOMEM, "%s: out of memory writing the manifest", dir);
  }
  int st = DLN_OK;
  for (size_t i = 0; i < n && st == DLN_OK; ++i) {
    if (!dln_manifest_name_ok(names[i])) {
      st = dln_error(DLN_EINVAL, "dln_manifest_write: unsafe file name '%s'", names[i] ? names[i] : "(null)");
      break;
    }
    char *p = dln_path_join(dir, names[i]);
    char hex[65];
    long long bytes = 0;
    st = p ? dln_file_sha256(p, hex, &bytes) : dln_error(DLN_ENOMEM, "out of memory");
    free(p);
    if (st == DLN_OK && dln_jappend(files, json_pack("{s:s, s:I, s:s}", "name", names[i], "bytes",
                                                                (json_int_t)bytes, "sha256", hex)) != 0)
      st = dln_error(DLN_ENOMEM, "%s: out of memory writing the manifest", dir);
  }
  if (dln_jset(root, "files", files) && st == DLN_OK) st = dln_error(DLN_ENOMEM, "%s: out of memory writing the manifest", dir);
  if (st == DLN_OK) {
    char *text = dln_json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    char *path = dln_path_join(dir, DLN_MANIFEST_NAME);
    if (!text || !path) st = dln_error(DLN_ENOMEM, "%s: out of memory writing the manifest", dir);
    else st = dln_write_file_atomic(path, text, strlen(text));
    free(text);
    free(path);
  }
  json_decref(root);
  return st;
}

void dln_manifest_free(dln_manifest *m) {
  if (!m) return;
  for (size_t i = 0; i < m->nfiles; ++i) free(m->files[i].name);
  free(m->files);
  free(m);
}

static int is_hex(const char *s, size_t n) {
  if (strlen(s) != n) return 0;
  for (size_t i = 0; i < n; ++i)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
  return 1;
}

/* One "files" entry into f; DLN_EFORMAT naming the path and entry when malformed. */
static int read_entry(const char *path, size_t i, json_t *e, dln_manifest_file *f) {
  const char *name = NULL, *sha = NULL;
  json_int_t bytes = -1;
  if (json_unpack(e, "{s:s, s:I, s:s}", "name", &name, "bytes", &bytes, "sha256", &sha) != 0 ||
      !dln_manifest_name_ok(name) || bytes < 0 || !is_hex(sha, 64))
    return dln_error(DLN_EFORMAT, "%s: files[%zu]: expected {name (relative, no ..), bytes >= 0, sha256 (64 hex)}",
                     path, i);
  f->name = malloc(strlen(name) + 1);
  if (!f->name) return dln_error(DLN_ENOMEM, "out of memory");
  strcpy(f->name, name);
  f->bytes = bytes;
  memcpy(f->sha256, sha, 65);
  return DLN_OK;
}

static int manifest_parse(const char *path, json_t *root, dln_manifest *m) {
  const char *fmt = NULL, *id = NULL, *kind = NULL;
  int complete = 0;
  json_t *files = NULL;
  if (json_unpack(root, "{s:s, s:s, s:s, s:b, s:o}", "format", &fmt, "run_id", &id, "kind", &kind, "complete",
                  &complete, "files", &files) != 0 ||
      !json_is_array(files))
    return dln_error(DLN_EFORMAT, "%s: expected format, run_id, kind, complete and files", path);
  if (strcmp(fmt, "dln-manifest/1") != 0)
    return dln_error(DLN_EFORMAT, "%s: format: expected \"dln-manifest/1\", found \"%s\"", path, fmt);
  if (!is_hex(id, DLN_RUN_ID_LEN))
    return dln_error(DLN_EFORMAT, "%s: run_id: expected %d hex digits, found \"%s\"", path, DLN_RUN_ID_LEN, id);
  if (strlen(kind) >= sizeof m->kind) return dln_error(DLN_EFORMAT, "%s: kind: expected run or sweep", path);
  memcpy(m->run_id, id, DLN_RUN_ID_LEN + 1);
  strcpy(m->kind, kind);
  m->complete = complete;
  size_t n = json_array_size(files);
  m->files = n ? calloc(n, sizeof *m->files) : NULL;
  if (n && !m->files) return dln_error(DLN_ENOMEM, "out of memory");
  for (size_t i = 0; i < n; ++i) {
    int st = read_entry(path, i, json_array_get(files, i), &m->files[i]);
    if (st) return st;
    m->nfiles = i + 1;
  }
  return DLN_OK;
}

int dln_manifest_read(const char *dir, dln_manifest **out) {
  DLN_ARGS(out, dir);
  if (!out) return dln_error(DLN_EINVAL, "dln_manifest_read: out must not be NULL");
  *out = NULL;
  if (!dir) return dln_error(DLN_EINVAL, "dln_manifest_read: dir must not be NULL");
  char *path = dln_path_join(dir, DLN_MANIFEST_NAME);
  if (!path) return dln_error(DLN_ENOMEM, "out of memory");
  struct stat sb;
  if (stat(path, &sb) != 0) {
    int st = dln_error(DLN_EIO, "%s: no manifest (%s)", path, strerror(errno));
    free(path);
    return st;
  }
  json_error_t err;
  int st = DLN_OK;
  json_t *root = dln_json_load_input(path, JSON_REJECT_DUPLICATES, &err, &st);
  dln_manifest *m = st ? NULL : calloc(1, sizeof *m);
  if (st) st = dln_error(DLN_EFORMAT, "%s: expected a regular file, found %s", path, S_ISDIR(sb.st_mode) ? "a folder" : S_ISFIFO(sb.st_mode) ? "a named pipe" : "not a regular file");
  else if (!root) st = dln_error(DLN_EFORMAT, "%s:%d: %s", path, err.line, err.text);
  else if (!m) st = dln_error(DLN_ENOMEM, "out of memory");
  else st = manifest_parse(path, root, m);
  json_decref(root);
  free(path);
  if (st) {
    dln_manifest_free(m);
    return st;
  }
  *out = m;
  return DLN_OK;
}

int dln_manifest_find(const dln_manifest *m, const char *name) {
  DLN_ARGS_V(-1, m, name);
  if (!m || !name) return -1;
  for (size_t i = 0; i < m->nfiles; ++i)
    if (strcmp(m->files[i].name, name) == 0) return (int)i;
  return -1;
}

static void append(char *why, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void append(char *why, size_t len, const char *fmt, ...) {
  if (!why || !len) return;
  size_t used = strlen(why);
  if (used + 1 >= len) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why + used, len - used, fmt, ap);
  va_end(ap);
}

int dln_manifest_verify(const dln_manifest *m, const char *dir, char *why, size_t len) {
  if (!m || !dir) return -dln_error(DLN_EINVAL, "dln_manifest_verify: NULL argument");
  if (why && len) why[0] = '\0';
  int bad = 0;
  for (size_t i = 0; i < m->nfiles; ++i) {
    const dln_manifest_file *f = &m->files[i];
    char *p = dln_path_join(dir, f->name);
    if (!p) return -dln_error(DLN_ENOMEM, "out of memory");
    char hex[65];
    long long bytes = 0;
    int st = dln_file_sha256(p, hex, &bytes);
    free(p);
    if (st) {
      append(why, len, "%s: missing or unreadable\n", f->name);
      ++bad;
    } else if (bytes != f->bytes) {
      append(why, len, "%s: %lld bytes, the manifest says %lld\n", f->name, bytes, f->bytes);
      ++bad;
    } else if (strcmp(hex, f->sha256) != 0) {
      append(why, len, "%s: content differs from the manifest's SHA-256\n", f->name);
      ++bad;
    }
  }
  dln_error_clear();
  return bad;
}
