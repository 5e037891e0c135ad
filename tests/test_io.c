/* Tests for the IO module (dln/io.h): .npy round trips and NumPy interop, malformed
 * .npy rejection, CSV reading/writing, atomic files and dln_mkdir_p. */
#include <dirent.h>
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "dln/error.h"
#include "dln/io.h"
#include "dln/mat.h"

static char tmpdir[64];
static int have_numpy = -1;

#define PY "/usr/bin/python3"

static const char *tpath(const char *name) {
  static char buf[4][512];
  static int k;
  k = (k + 1) % 4;
  snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
  return buf[k];
}

static void write_bytes(const char *path, const void *b, size_t n) {
  FILE *fp = fopen(path, "wb");
  assert_non_null(fp);
  if (n) assert_int_equal(fwrite(b, 1, n, fp), n);
  assert_int_equal(fclose(fp), 0);
}

static char *read_all(const char *path, size_t *n) {
  *n = 0;
  FILE *fp = fopen(path, "rb");
  if (!fp) return NULL;
  char *b = malloc(1 << 20);
  assert_non_null(b);
  *n = fread(b, 1, (1 << 20) - 1, fp);
  b[*n] = '\0';
  fclose(fp);
  return b;
}

/* Number of entries (other than . and ..) in a folder; *name gets one of them. */
static int dir_count(const char *dir, char *name, size_t cap) {
  DIR *d = opendir(dir);
  assert_non_null(d);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    if (name) snprintf(name, cap, "%s", e->d_name);
    ++n;
  }
  closedir(d);
  return n;
}

static int numpy_ok(void) {
  if (have_numpy < 0) have_numpy = system(PY " -c 'import numpy' >/dev/null 2>&1") == 0;
  return have_numpy;
}

static int run_py(const char *script) {
  char cmd[4096];
  snprintf(cmd, sizeof cmd, PY " -c \"%s\"", script);
  return system(cmd);
}

static int group_setup(void **state) {
  (void)state;
  snprintf(tmpdir, sizeof tmpdir, "/tmp/dln_test_io_XXXXXX");
  return mkdtemp(tmpdir) ? 0 : -1;
}

static int group_teardown(void **state) {
  (void)state;
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  return system(cmd) == 0 ? 0 : -1;
}

/* A .npy image: version major.0, the given dict padded to 64 bytes, then ndata bytes of data. */
static unsigned char *make_npy(int major, const char *dict, size_t ndata, size_t *len) {
  size_t pre = major == 1 ? 10 : 12, dl = strlen(dict);
  size_t hlen = (pre + dl + 1 + 63) / 64 * 64 - pre;
  *len = pre + hlen + ndata;
  unsigned char *b = calloc(*len ? *len : 1, 1);
  assert_non_null(b);
  memcpy(b, "\x93NUMPY", 6);
  b[6] = (unsigned char)major;
  b[7] = 0;
  b[8] = (unsigned char)(hlen & 0xff);
  b[9] = (unsigned char)((hlen >> 8) & 0xff);
  if (major != 1) {
    b[10] = (unsigned char)((hlen >> 16) & 0xff);
    b[11] = (unsigned char)((hlen >> 24) & 0xff);
  }
  memset(b + pre, ' ', hlen);
  memcpy(b + pre, dict, dl);
  b[pre + hlen - 1] = '\n';
  for (size_t i = 0; i < ndata; ++i) b[pre + hlen + i] = (unsigned char)(i * 37 + 11);
  return b;
}

/* The bytes must be rejected with DLN_EFORMAT both from memory and from a file;
 * the message must be non-empty and contain `needle` (if given). */
static void expect_bad(const char *name, const unsigned char *b, size_t n, const char *needle) {
  dln_mat *m = (dln_mat *)1;
  dln_error_clear();
  int st = dln_npy_parse(name, b, n, &m);
  if (st != DLN_EFORMAT) fprintf(stderr, "%s: parse returned %d (%s)\n", name, st, dln_last_error());
  assert_int_equal(st, DLN_EFORMAT);
  assert_null(m);
  assert_true(strlen(dln_last_error()) > 0);
  if (needle && !strstr(dln_last_error(), needle)) fprintf(stderr, "message: %s\n", dln_last_error());
  if (needle) assert_non_null(strstr(dln_last_error(), needle));

  const char *p = tpath(name);
  write_bytes(p, b, n);
  m = (dln_mat *)1;
  dln_error_clear();
  st = dln_npy_read(p, &m);
  if (st != DLN_EFORMAT) fprintf(stderr, "%s: read returned %d (%s)\n", name, st, dln_last_error());
  assert_int_equal(st, DLN_EFORMAT);
  assert_null(m);
  assert_non_null(strstr(dln_last_error(), name)); /* names the file */
  if (needle) assert_non_null(strstr(dln_last_error(), needle));
  unlink(p);
}

static void expect_bad_dict(const char *name, const char *dict, size_t ndata, const char *needle) {
  size_t n;
  unsigned char *b = make_npy(1, dict, ndata, &n);
  expect_bad(name, b, n, needle);
  free(b);
}

/* ---- .npy round trips ---------------------------------------------------------- */

static void roundtrip(int rows, int cols, const double *data, int as_vector) {
  const char *p = tpath("rt.npy");
  assert_int_equal(dln_npy_write(p, rows, cols, data, as_vector), DLN_OK);
  dln_mat *m = NULL;
  assert_int_equal(dln_npy_read(p, &m), DLN_OK);
  assert_non_null(m);
  assert_int_equal(m->rows, rows);
  assert_int_equal(m->cols, cols);
  if (rows && cols) assert_memory_equal(m->data, data, (size_t)rows * (size_t)cols * sizeof(double));
  dln_mat_free(m);
  /* the written file is a well-formed, 64-byte-aligned v1.0 file */
  size_t n;
  char *b = read_all(p, &n);
  assert_non_null(b);
  assert_int_equal((n - (size_t)rows * (size_t)cols * 8) % 64, 0);
  free(b);
  unlink(p);
}

static void test_npy_roundtrip(void **state) {
  (void)state;
  double a[15];
  for (int k = 0; k < 15; ++k) a[k] = (k - 7) / 3.0 + 1e-9 * k;
  a[3] = -0.0;
  a[4] = DBL_MAX;
  a[5] = 4.9e-324; /* subnormal */
  a[6] = NAN;      /* non-finite values pass through the reader */
  a[7] = -INFINITY;
  roundtrip(3, 5, a, 0);
  roundtrip(5, 3, a, 1); /* as_vector ignored when cols != 1 */
  roundtrip(7, 1, a, 1); /* shape (7,) */
  roundtrip(7, 1, a, 0); /* shape (7, 1) */
  roundtrip(1, 7, a, 0);
  roundtrip(0, 0, NULL, 0);
  roundtrip(0, 4, NULL, 0);
  roundtrip(1, 1, a, 0);
}

static void test_npy_good_headers(void **state) {
  (void)state;
  static const char *dicts[] = {
      "{'shape': (2, 3), 'fortran_order': False, 'descr': '<f8'}",
      "{\"descr\": \"<f8\", \"fortran_order\": False, \"shape\": (2,3,)}",
      "{ 'descr' : '=f8' , 'fortran_order' : False , 'shape' : ( 2 , 3 ) , }",
      "{'descr': '<f8', 'fortran_order': False, 'shape': (2L, 3L), }",
  };
  double v[6];
  for (int k = 0; k < 6; ++k) v[k] = k + 0.5;
  for (size_t t = 0; t < sizeof dicts / sizeof *dicts; ++t) {
    size_t n;
    unsigned char *b = make_npy(t % 2 ? 2 : 1, dicts[t], 48, &n);
    memcpy(b + n - 48, v, 48); /* little-endian host: C-order 2x3 */
    dln_mat *m = NULL;
    int st = dln_npy_parse("good", b, n, &m);
    if (st) fprintf(stderr, "%s\n", dln_last_error());
    assert_int_equal(st, DLN_OK);
    assert_int_equal(m->rows, 2);
    assert_int_equal(m->cols, 3);
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 3; ++j) assert_true(m->data[i + 2 * j] == v[3 * i + j]);
    dln_mat_free(m);
    free(b);
  }
  /* 0-d -> 1x1, (0,) -> 0x1, (0, 3) -> 0x3 */
  struct { const char *dict; size_t nd; int r, c; } sh[] = {
      {"{'descr': '<i4', 'fortran_order': False, 'shape': ()}", 4, 1, 1},
      {"{'descr': '<f4', 'fortran_order': True, 'shape': (0,)}", 0, 0, 1},
      {"{'descr': '<i8', 'fortran_order': False, 'shape': (0, 3)}", 0, 0, 3},
  };
  for (size_t t = 0; t < 3; ++t) {
    size_t n;
    unsigned char *b = make_npy(1, sh[t].dict, sh[t].nd, &n);
    dln_mat *m = NULL;
    assert_int_equal(dln_npy_parse("shape", b, n, &m), DLN_OK);
    assert_int_equal(m->rows, sh[t].r);
    assert_int_equal(m->cols, sh[t].c);
    dln_mat_free(m);
    free(b);
  }
}

/* ---- NumPy interop ----------------------------------------------------------------- */

static void check_numpy_file(const char *file, int rows, int cols, int is_int) {
  dln_mat *m = NULL;
  int st = dln_npy_read(tpath(file), &m);
  if (st) fprintf(stderr, "%s\n", dln_last_error());
  assert_int_equal(st, DLN_OK);
  assert_int_equal(m->rows, rows);
  assert_int_equal(m->cols, cols);
  for (int i = 0; i < rows; ++i)
    for (int j = 0; j < cols; ++j) {
      double k = (double)(i * cols + j);
      double want = is_int ? k * 3 - 7 : k * 1.5 + 0.1;
      assert_true(m->data[i + j * rows] == want);
    }
  dln_mat_free(m);
}

static void test_npy_from_numpy(void **state) {
  (void)state;
  if (!numpy_ok()) skip();
  char s[2048];
  snprintf(s, sizeof s,
           "import numpy as np\n"
           "d='%s/'\n"
           "a=np.arange(15.).reshape(3,5)*1.5+0.1\n"
           "np.save(d+'c.npy', a)\n"
           "np.save(d+'f.npy', np.asfortranarray(a))\n"
           "np.save(d+'f4.npy', a.astype('<f4'))\n"
           "np.save(d+'v.npy', np.arange(4.)*1.5+0.1)\n"
           "i=np.arange(15).reshape(3,5)*3-7\n"
           "np.save(d+'i8.npy', i.astype('<i8'))\n"
           "np.save(d+'i4.npy', np.asfortranarray(i.astype('<i4')))\n"
           "np.save(d+'be.npy', a.astype('>f8'))\n"
           "np.save(d+'c16.npy', a.astype(complex))\n"
           "np.save(d+'t3.npy', np.zeros((2,3,4)))\n"
           "f=open(d+'v2.npy','wb'); np.lib.format.write_array(f, a, version=(2,0)); f.close()\n",
           tmpdir);
  assert_int_equal(run_py(s), 0);
  check_numpy_file("c.npy", 3, 5, 0);
  check_numpy_file("f.npy", 3, 5, 0);
  check_numpy_file("v2.npy", 3, 5, 0);
  check_numpy_file("v.npy", 4, 1, 0);
  check_numpy_file("i8.npy", 3, 5, 1);
  check_numpy_file("i4.npy", 3, 5, 1);
  /* float32: compare against the float-rounded values */
  dln_mat *m = NULL;
  assert_int_equal(dln_npy_read(tpath("f4.npy"), &m), DLN_OK);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 5; ++j) assert_true(m->data[i + 3 * j] == (double)(float)((i * 5 + j) * 1.5 + 0.1));
  dln_mat_free(m);
  struct { const char *f, *needle; } bad[] = {{"be.npy", "big-endian"}, {"c16.npy", "descr"}, {"t3.npy", "3-d"}};
  for (int t = 0; t < 3; ++t) {
    m = (dln_mat *)1;
    assert_int_equal(dln_npy_read(tpath(bad[t].f), &m), DLN_EFORMAT);
    assert_null(m);
    assert_non_null(strstr(dln_last_error(), bad[t].needle));
  }
}

static void test_numpy_reads_ours(void **state) {
  (void)state;
  if (!numpy_ok()) skip();
  double a[15], v[4];
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 5; ++j) a[i + 3 * j] = (i * 5 + j) * 1.5 + 0.1;
  for (int k = 0; k < 4; ++k) v[k] = k / 3.0;
  assert_int_equal(dln_npy_write(tpath("ours.npy"), 3, 5, a, 0), DLN_OK);
  assert_int_equal(dln_npy_write(tpath("oursv.npy"), 4, 1, v, 1), DLN_OK);
  assert_int_equal(dln_npy_write(tpath("ours0.npy"), 0, 0, NULL, 0), DLN_OK);
  char s[1024];
  snprintf(s, sizeof s,
           "import numpy as np, sys\n"
           "d='%s/'\n"
           "a=np.load(d+'ours.npy'); v=np.load(d+'oursv.npy'); z=np.load(d+'ours0.npy')\n"
           "ok=a.shape==(3,5) and a.dtype==np.float64 and (a==np.arange(15.).reshape(3,5)*1.5+0.1).all()\n"
           "ok=ok and v.shape==(4,) and (v==np.arange(4.)/3.0).all() and z.shape==(0,0)\n"
           "sys.exit(0 if ok else 1)\n",
           tmpdir);
  assert_int_equal(run_py(s), 0);
}

/* ---- malformed .npy ------------------------------------------------------------------ */

static void test_npy_malformed(void **state) {
  (void)state;
  const char *ok = "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 5), }";
  size_t n;
  unsigned char *b = make_npy(1, ok, 120, &n);

  expect_bad("empty.npy", b, 0, "empty");
  expect_bad("short.npy", b, 4, NULL);
  expect_bad("pre9.npy", b, 9, "truncated");
  b[3] = 'X';
  expect_bad("magic.npy", b, n, "magic");
  b[3] = 'M';
  b[6] = 4;
  expect_bad("version.npy", b, n, "version");
  b[6] = 1;
  expect_bad("hdrtrunc.npy", b, 40, "truncated header");
  expect_bad("datatrunc.npy", b, n - 40, "truncated: expected 120 bytes of data, found 80");
  free(b);

  b = make_npy(1, ok, 128, &n);
  expect_bad("trailing.npy", b, n, "trailing");
  free(b);

  /* header length over the cap (v2.0 has a 4-byte length) */
  b = make_npy(2, ok, 120, &n);
  b[8] = 0xff;
  b[9] = 0xff;
  b[10] = 0x01;
  expect_bad("hugehdr.npy", b, n, "header length");
  b[10] = 0xff;
  b[11] = 0xff;
  expect_bad("hugehdr2.npy", b, n, "header length");
  free(b);

  expect_bad_dict("nokey.npy", "{'descr': '<f8', 'shape': (3, 5), }", 120, "fortran_order");
  expect_bad_dict("extrakey.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), 'x': 1}", 24, "'x'");
  expect_bad_dict("dupkey.npy", "{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, 'shape': (3,)}", 24, "twice");
  expect_bad_dict("notdict.npy", "['descr', '<f8']", 0, "dict");
  expect_bad_dict("unclosed.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (3,)", 24, NULL);
  expect_bad_dict("junk.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (3,)} x", 24, "padding");
  expect_bad_dict("dtype.npy", "{'descr': '<c16', 'fortran_order': False, 'shape': (3,)}", 48, "'<c16'");
  expect_bad_dict("dtypeO.npy", "{'descr': '|O', 'fortran_order': False, 'shape': (3,)}", 24, "descr");
  expect_bad_dict("dtypeu4.npy", "{'descr': '<u4', 'fortran_order': False, 'shape': (3,)}", 12, "descr");
  expect_bad_dict("dtypebar.npy", "{'descr': '|f8', 'fortran_order': False, 'shape': (3,)}", 24, "descr");
  expect_bad_dict("struct.npy", "{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (3,)}", 24, "structured");
  expect_bad_dict("bigend.npy", "{'descr': '>f8', 'fortran_order': False, 'shape': (3,)}", 24, "big-endian");
  expect_bad_dict("fo.npy", "{'descr': '<f8', 'fortran_order': 0, 'shape': (3,)}", 24, "True or False");
  expect_bad_dict("fo2.npy", "{'descr': '<f8', 'fortran_order': Truex, 'shape': (3,)}", 24, "True or False");
  expect_bad_dict("three.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3, 4)}", 192, "3-d");
  expect_bad_dict("neg.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (-1, 3)}", 24, "-1");
  expect_bad_dict("hugedim.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999999999,)}", 8,
                  "at most");
  expect_bad_dict("prod.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (100000, 100000)}", 8, "elements");
  expect_bad_dict("prod2.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (2147483647, 2147483647)}", 8,
                  "elements");
  expect_bad_dict("shapestr.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': '3'}", 24, "tuple");
  expect_bad_dict("shapenum.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (3 4)}", 24, NULL);
  /* a NUL or non-ASCII byte inside the header */
  b = make_npy(1, ok, 120, &n);
  b[20] = 0;
  expect_bad("nul.npy", b, n, "0x00");
  b[20] = 0xc3;
  expect_bad("nonascii.npy", b, n, "0xc3");
  free(b);

  /* missing file and a folder are DLN_EIO */
  dln_mat *m = (dln_mat *)1;
  assert_int_equal(dln_npy_read(tpath("does-not-exist.npy"), &m), DLN_EIO);
  assert_null(m);
  assert_non_null(strstr(dln_last_error(), "does-not-exist.npy"));
  m = (dln_mat *)1;
  assert_int_equal(dln_npy_read(tmpdir, &m), DLN_EIO);
  assert_null(m);
}

/* Every truncation of a valid file is rejected cleanly. */
static void test_npy_every_prefix(void **state) {
  (void)state;
  size_t n;
  unsigned char *b = make_npy(1, "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 2), }", 32, &n);
  for (size_t k = 0; k < n; ++k) {
    dln_mat *m = (dln_mat *)1;
    assert_int_equal(dln_npy_parse("prefix", b, k, &m), DLN_EFORMAT);
    assert_null(m);
    assert_true(strlen(dln_last_error()) > 0);
  }
  dln_mat *m = NULL;
  assert_int_equal(dln_npy_parse("prefix", b, n, &m), DLN_OK);
  dln_mat_free(m);
  free(b);
}

/* ---- CSV ------------------------------------------------------------------------------- */

static void test_csv_good(void **state) {
  (void)state;
  const char *p = tpath("good.csv");
  const char *text = "# a comment\nx, y ,z\n1,2.5,-3e2\n\n  # another\n4 ,5, 6\r\n";
  write_bytes(p, text, strlen(text));
  dln_mat *m = NULL;
  int st = dln_csv_read(p, &m);
  if (st) fprintf(stderr, "%s\n", dln_last_error());
  assert_int_equal(st, DLN_OK);
  assert_int_equal(m->rows, 2);
  assert_int_equal(m->cols, 3);
  double want[6] = {1, 4, 2.5, 5, -300, 6};
  for (int k = 0; k < 6; ++k) assert_true(m->data[k] == want[k]);
  dln_mat_free(m);

  /* no header; matrix_load by extension (.txt and .csv) */
  const char *q = tpath("plain.txt");
  write_bytes(q, "1,2\n3,4\n", 8);
  m = NULL;
  assert_int_equal(dln_matrix_load(q, &m), DLN_OK);
  assert_int_equal(m->rows, 2);
  assert_true(m->data[1] == 3 && m->data[2] == 2);
  dln_mat_free(m);

  /* write + read round trip is bit-exact with %.17g */
  double a[6] = {0.1, -1.0 / 3, 1e-300, 123456789.123456789, -0.0, 4.9e-324};
  const char *r = tpath("rt.csv");
  assert_int_equal(dln_csv_write(r, 2, 3, a, "a,b,c"), DLN_OK);
  m = NULL;
  assert_int_equal(dln_matrix_load(r, &m), DLN_OK);
  assert_int_equal(m->rows, 2);
  assert_int_equal(m->cols, 3);
  assert_memory_equal(m->data, a, sizeof a);
  dln_mat_free(m);
  size_t n;
  char *txt = read_all(r, &n);
  assert_non_null(txt);
  assert_true(strncmp(txt, "a,b,c\n", 6) == 0);
  free(txt);

  /* .npy through matrix_load; unknown extension names the path */
  assert_int_equal(dln_npy_write(tpath("ml.npy"), 2, 3, a, 0), DLN_OK);
  m = NULL;
  assert_int_equal(dln_matrix_load(tpath("ml.npy"), &m), DLN_OK);
  assert_memory_equal(m->data, a, sizeof a);
  dln_mat_free(m);
  m = (dln_mat *)1;
  assert_int_not_equal(dln_matrix_load(tpath("data.dat"), &m), DLN_OK);
  assert_null(m);
  assert_non_null(strstr(dln_last_error(), "data.dat"));
  assert_non_null(strstr(dln_last_error(), ".npy"));
}

static void expect_csv_bad(const char *name, const char *text, int status, const char *n1, const char *n2) {
  const char *p = tpath(name);
  write_bytes(p, text, strlen(text));
  dln_mat *m = (dln_mat *)1;
  int st = dln_csv_read(p, &m);
  if (st != status || (n1 && !strstr(dln_last_error(), n1)) || (n2 && !strstr(dln_last_error(), n2)))
    fprintf(stderr, "%s: %d %s\n", name, st, dln_last_error());
  assert_int_equal(st, status);
  assert_null(m);
  assert_non_null(strstr(dln_last_error(), name));
  if (n1) assert_non_null(strstr(dln_last_error(), n1));
  if (n2) assert_non_null(strstr(dln_last_error(), n2));
}

static void test_csv_bad(void **state) {
  (void)state;
  expect_csv_bad("ragged.csv", "a,b,c\n1,2,3\n4,5\n", DLN_EFORMAT, "ragged.csv:3:", "expected 3 fields, found 2");
  expect_csv_bad("nan.csv", "1,2\n3,abc\n", DLN_EFORMAT, "nan.csv:2:2: expected a number, found 'abc'", NULL);
  expect_csv_bad("x.csv", "h1,h2\n1,2\n3,abc\n", DLN_EFORMAT, "x.csv:3:2:", "'abc'");
  expect_csv_bad("trail.csv", "1,2\n3,4x\n", DLN_EFORMAT, ":2:2:", "'4x'");
  expect_csv_bad("emptyfield.csv", "1,,3\n", DLN_EFORMAT, ":1:2:", NULL);
  expect_csv_bad("overflow.csv", "1,1e999\n", DLN_EFORMAT, ":1:2:", NULL);
  expect_csv_bad("empty.csv", "", DLN_EFORMAT, "empty", NULL);
  expect_csv_bad("headeronly.csv", "a,b\n# nothing\n", DLN_EFORMAT, "at least one row", NULL);
  dln_mat *m = (dln_mat *)1;
  assert_int_equal(dln_csv_read(tpath("missing.csv"), &m), DLN_EIO);
  assert_null(m);
}

/* ---- atomic files and mkdir_p ---------------------------------------------------------- */

static void test_afile(void **state) {
  (void)state;
  const char *dir = tpath("af");
  assert_int_equal(dln_mkdir_p(dir), DLN_OK);
  char p[600], name[256];
  snprintf(p, sizeof p, "%s/out.txt", dir);

  dln_afile *f = NULL;
  assert_int_equal(dln_afile_open(&f, p), DLN_OK);
  assert_int_equal(dir_count(dir, name, sizeof name), 1); /* only the temp file */
  assert_non_null(strstr(name, "out.txt.tmp."));
  assert_int_equal(access(p, F_OK), -1);
  fprintf(dln_afile_stream(f), "hello %d\n", 42);
  assert_int_equal(dln_afile_commit(f), DLN_OK);
  size_t n;
  char *txt = read_all(p, &n);
  assert_non_null(txt);
  assert_string_equal(txt, "hello 42\n");
  free(txt);
  assert_int_equal(dir_count(dir, name, sizeof name), 1);
  assert_string_equal(name, "out.txt");

  /* abort: the existing file is untouched, no temp file remains */
  assert_int_equal(dln_afile_open(&f, p), DLN_OK);
  fprintf(dln_afile_stream(f), "partial");
  dln_afile_abort(f);
  txt = read_all(p, &n);
  assert_string_equal(txt, "hello 42\n");
  free(txt);
  assert_int_equal(dir_count(dir, NULL, 0), 1);
  dln_afile_abort(NULL);

  /* abort of a new file leaves nothing */
  char q[600];
  snprintf(q, sizeof q, "%s/new.txt", dir);
  assert_int_equal(dln_afile_open(&f, q), DLN_OK);
  dln_afile_abort(f);
  assert_int_equal(access(q, F_OK), -1);
  assert_int_equal(dir_count(dir, NULL, 0), 1);

  /* whole-buffer write replaces atomically */
  assert_int_equal(dln_write_file_atomic(p, "abc", 3), DLN_OK);
  txt = read_all(p, &n);
  assert_int_equal(n, 3);
  assert_string_equal(txt, "abc");
  free(txt);
  assert_int_equal(dln_write_file_atomic(q, "", 0), DLN_OK);
  assert_int_equal(dir_count(dir, NULL, 0), 2);

  /* a folder that does not exist */
  snprintf(q, sizeof q, "%s/nope/x.txt", dir);
  dln_error_clear();
  assert_int_equal(dln_afile_open(&f, q), DLN_EIO);
  assert_null(f);
  assert_non_null(strstr(dln_last_error(), q));
  assert_int_equal(dln_write_file_atomic(q, "x", 1), DLN_EIO);
  assert_int_equal(dln_npy_write(q, 1, 1, (const double[]){1.0}, 0), DLN_EIO);
  assert_int_equal(dln_csv_write(q, 1, 1, (const double[]){1.0}, NULL), DLN_EIO);
}

static void test_mkdir_p(void **state) {
  (void)state;
  char p[600];
  snprintf(p, sizeof p, "%s/mk/a/b//c/", tmpdir);
  assert_int_equal(dln_mkdir_p(p), DLN_OK);
  struct stat sb;
  assert_int_equal(stat(p, &sb), 0);
  assert_true(S_ISDIR(sb.st_mode));
  assert_int_equal(dln_mkdir_p(p), DLN_OK); /* existing is fine */
  assert_int_equal(dln_mkdir_p(tmpdir), DLN_OK);

  /* a component is a regular file */
  char file[256];
  snprintf(file, sizeof file, "%s/mk/file", tmpdir);
  write_bytes(file, "x", 1);
  snprintf(p, sizeof p, "%s/sub/dir", file);
  dln_error_clear();
  assert_int_equal(dln_mkdir_p(p), DLN_EIO);
  assert_true(strlen(dln_last_error()) > 0);
  assert_non_null(strstr(dln_last_error(), "not a folder"));
  assert_int_equal(dln_mkdir_p(file), DLN_EIO);

  /* not writable (skipped when running as root, who may write anyway) */
  if (geteuid() != 0) {
    snprintf(p, sizeof p, "%s/mk/ro", tmpdir);
    assert_int_equal(dln_mkdir_p(p), DLN_OK);
    assert_int_equal(chmod(p, 0555), 0);
    assert_int_equal(dln_mkdir_p(p), DLN_EIO);
    assert_non_null(strstr(dln_last_error(), "not writable"));
    chmod(p, 0755);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_npy_roundtrip),    cmocka_unit_test(test_npy_good_headers),
      cmocka_unit_test(test_npy_from_numpy),   cmocka_unit_test(test_numpy_reads_ours),
      cmocka_unit_test(test_npy_malformed),    cmocka_unit_test(test_npy_every_prefix),
      cmocka_unit_test(test_csv_good),         cmocka_unit_test(test_csv_bad),
      cmocka_unit_test(test_afile),            cmocka_unit_test(test_mkdir_p),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
