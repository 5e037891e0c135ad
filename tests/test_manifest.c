/* The output-folder manifest (dln/manifest.h): SHA-256 against known digests (FIPS 180-2
 * test vectors), write/read round trip, tamper detection, unsafe names refused. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "dln/dln.h"
#include "testutil.h"

static void put(const char *dir, const char *name, const char *text) {
  char *p = dln_path_join(dir, name);
  assert_int_equal(dln_write_file_atomic(p, text, strlen(text)), DLN_OK);
  free(p);
}

static void test_sha256_vectors(void **state) {
  (void)state;
  char dir[] = "/tmp/dln_manifest_XXXXXX";
  assert_non_null(mkdtemp(dir));
  put(dir, "abc", "abc");
  put(dir, "empty", "");
  char hex[65];
  long long bytes = -1;
  char *p = dln_path_join(dir, "abc");
  assert_int_equal(dln_file_sha256(p, hex, &bytes), DLN_OK);
  assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  assert_int_equal(bytes, 3);
  free(p);
  p = dln_path_join(dir, "empty");
  assert_int_equal(dln_file_sha256(p, hex, &bytes), DLN_OK);
  assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  assert_int_equal(bytes, 0);
  free(p);
  assert_int_equal(dln_file_sha256(dir, hex, &bytes), DLN_EIO); /* a folder is refused */
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  assert_int_equal(system(cmd), 0);
}

static void test_round_trip_and_tamper(void **state) {
  (void)state;
  char dir[] = "/tmp/dln_manifest_XXXXXX";
  assert_non_null(mkdtemp(dir));
  put(dir, "a.csv", "t,loss\n0,1\n1,0.5\n");
  put(dir, "b.npy", "0123456789");
  char id[DLN_RUN_ID_LEN + 1], id2[DLN_RUN_ID_LEN + 1];
  assert_int_equal(dln_run_id_new(id), DLN_OK);
  assert_int_equal(dln_run_id_new(id2), DLN_OK);
  assert_int_equal((int)strlen(id), DLN_RUN_ID_LEN);
  assert_string_not_equal(id, id2);
  const char *names[] = {"a.csv", "b.npy"};
  assert_int_equal(dln_manifest_write(dir, id, "run", 1, names, 2), DLN_OK);
  dln_manifest *m = NULL;
  assert_int_equal(dln_manifest_read(dir, &m), DLN_OK);
  assert_string_equal(m->run_id, id);
  assert_string_equal(m->kind, "run");
  assert_int_equal(m->complete, 1);
  assert_int_equal((int)m->nfiles, 2);
  assert_int_equal(dln_manifest_find(m, "b.npy"), 1);
  assert_int_equal(dln_manifest_find(m, "c.npy"), -1);
  assert_int_equal(m->files[1].bytes, 10);
  char why[512];
  assert_int_equal(dln_manifest_verify(m, dir, why, sizeof why), 0);
  put(dir, "b.npy", "0123456780"); /* same size, one byte changed */
  assert_int_equal(dln_manifest_verify(m, dir, why, sizeof why), 1);
  assert_non_null(strstr(why, "b.npy: content differs"));
  put(dir, "a.csv", "t,loss\n0,1\n"); /* truncated */
  assert_int_equal(dln_manifest_verify(m, dir, why, sizeof why), 2);
  assert_non_null(strstr(why, "a.csv: 11 bytes, the manifest says 17"));
  char *p = dln_path_join(dir, "a.csv");
  unlink(p);
  free(p);
  assert_int_equal(dln_manifest_verify(m, dir, why, sizeof why), 2);
  assert_non_null(strstr(why, "a.csv: missing"));
  dln_manifest_free(m);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  assert_int_equal(system(cmd), 0);
}

static void test_bad_manifests(void **state) {
  (void)state;
  assert_int_equal(dln_manifest_name_ok("a.csv"), 1);
  assert_int_equal(dln_manifest_name_ok("runs/0001/a.csv"), 1);
  assert_int_equal(dln_manifest_name_ok("../a.csv"), 0);
  assert_int_equal(dln_manifest_name_ok("runs/../../a"), 0);
  assert_int_equal(dln_manifest_name_ok("/etc/passwd"), 0);
  assert_int_equal(dln_manifest_name_ok("a//b"), 0);
  assert_int_equal(dln_manifest_name_ok(""), 0);
  char dir[] = "/tmp/dln_manifest_XXXXXX";
  assert_non_null(mkdtemp(dir));
  dln_manifest *m = (dln_manifest *)1;
  assert_int_equal(dln_manifest_read(dir, &m), DLN_EIO); /* absent */
  assert_null(m);
  put(dir, "manifest.json", "{\"format\": \"dln-manifest/1\", \"run_id\": \"0123456789abcdef0123456789abcdef\", "
                            "\"kind\": \"run\", \"complete\": true, \"files\": [{\"name\": \"../x\", \"bytes\": 1, "
                            "\"sha256\": \"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\"}]}");
  assert_int_equal(dln_manifest_read(dir, &m), DLN_EFORMAT);
  assert_non_null(strstr(dln_last_error(), "files[0]"));
  put(dir, "manifest.json", "{\"format\": \"dln-manifest/2\"}");
  assert_int_equal(dln_manifest_read(dir, &m), DLN_EFORMAT);
  const char *bad[] = {"../x"};
  assert_int_equal(dln_manifest_write(dir, "0123456789abcdef0123456789abcdef", "run", 1, bad, 1), DLN_EINVAL);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  assert_int_equal(system(cmd), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sha256_vectors),
      cmocka_unit_test(test_round_trip_and_tamper),
      cmocka_unit_test(test_bad_manifests),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
