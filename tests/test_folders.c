/* Run folders you can trust (src/run/run_folder.c): manifest.json written last lists
 * exactly the files a run or sweep wrote; a folder with earlier outputs is refused without
 * --force, and with --force only the earlier manifest's files are removed, after the new
 * inputs are read; a failed rerun leaves the earlier run byte for byte; a second writer
 * is refused while the folder is locked; a sweep whose every run fails commits nothing.
 * Truths: the folder as listed by readdir and hashed by dln_file_sha256, and the CLI's
 * exit codes (tools/cli.c). */
#define _DEFAULT_SOURCE /* flock */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "dln/dln.h"
#include "dln/manifest.h"
#include "testutil.h"

static const char *dir; /* the tests' working folder: specs, stdout.txt, stderr.txt */

static const char *tpath(const char *name) { return tu_path(dir, name); }

static int exists(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0;
}

static int run_cli(const char *const *args) {
  int rc = tu_wait(tu_spawn(DLN_CLI, args, dir));
  assert_true(rc >= 0);
  return rc;
}

/* Exit code and exactly one stderr line "dln: ..." containing fragment. */
static void expect_error(int code, const char *fragment, const char *const *args) {
  tu_expect_cli_error(DLN_CLI, dir, code, fragment, args);
}

/* ---- the folder as it is on disk ------------------------------------------------------ */

typedef struct listing {
  char *names[256];
  int n;
} listing;

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Every regular file under root/rel (relative names), but the lock file and skip[]. */
static void list_rec(const char *root, const char *rel, listing *l, const char *const *skip) {
  char path[1024];
  snprintf(path, sizeof path, "%s%s%s", root, *rel ? "/" : "", rel);
  DIR *d = opendir(path);
  assert_non_null(d);
  struct dirent *e;
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || !strcmp(e->d_name, ".dln.lock")) continue;
    char name[1024], full[2048];
    snprintf(name, sizeof name, "%s%s%s", rel, *rel ? "/" : "", e->d_name);
    int skipped = 0;
    for (const char *const *s = skip; s && *s; ++s) skipped |= !strcmp(*s, name);
    if (skipped) continue;
    snprintf(full, sizeof full, "%s/%s", root, name);
    struct stat sb;
    assert_int_equal(lstat(full, &sb), 0);
    if (S_ISDIR(sb.st_mode)) {
      list_rec(root, name, l, skip);
    } else {
      assert_true(l->n < 256);
      l->names[l->n++] = strdup(name);
    }
  }
  closedir(d);
}

static void list_free(listing *l) {
  for (int i = 0; i < l->n; ++i) free(l->names[i]);
  l->n = 0;
}

/* "name sha256\n" for every file under root (sorted): equal strings = byte-identical folders. */
static char *fingerprint(const char *root) {
  listing l = {.n = 0};
  list_rec(root, "", &l, NULL);
  qsort(l.names, (size_t)l.n, sizeof *l.names, cmp_str);
  size_t cap = 128 * (size_t)(l.n + 1);
  char *s = calloc(cap, 1);
  assert_non_null(s);
  for (int i = 0; i < l.n; ++i) {
    char hex[65], full[2048];
    snprintf(full, sizeof full, "%s/%s", root, l.names[i]);
    assert_int_equal(dln_file_sha256(full, hex, NULL), DLN_OK);
    snprintf(s + strlen(s), cap - strlen(s), "%s %s\n", l.names[i], hex);
  }
  list_free(&l);
  return s;
}

/* The manifest of root lists exactly its files (but itself, the lock and skip[]), each
 * intact, complete = true, of the given kind; returns the run id (static). */
static const char *expect_manifest_exact(const char *root, const char *kind, const char *const *skip) {
  static char id[DLN_RUN_ID_LEN + 1];
  dln_manifest *m = NULL;
  assert_int_equal(dln_manifest_read(root, &m), DLN_OK);
  assert_true(m->complete);
  assert_string_equal(m->kind, kind);
  char why[512];
  int bad = dln_manifest_verify(m, root, why, sizeof why);
  if (bad) print_error("%s: %s", root, why);
  assert_int_equal(bad, 0);
  listing l = {.n = 0};
  list_rec(root, "", &l, skip);
  int found_self = 0;
  for (int i = 0; i < l.n; ++i) {
    if (!strcmp(l.names[i], "manifest.json")) {
      found_self = 1;
      continue;
    }
    if (dln_manifest_find(m, l.names[i]) < 0) print_error("%s/%s: on disk but not in the manifest\n", root, l.names[i]);
    assert_true(dln_manifest_find(m, l.names[i]) >= 0);
  }
  assert_true(found_self);
  assert_int_equal((int)m->nfiles, l.n - 1); /* and nothing listed that is not there */
  memcpy(id, m->run_id, sizeof id);
  list_free(&l);
  dln_manifest_free(m);
  return id;
}

/* The "run_id" of a summary.json / ensemble.json. */
static void expect_run_id(const char *json_path, const char *id) {
  char *t = tu_slurp(json_path), needle[64];
  assert_non_null(t);
  snprintf(needle, sizeof needle, "\"run_id\": \"%s\"", id);
  assert_non_null(strstr(t, needle));
  free(t);
}

static void expect_same(const char *root, const char *fp0) {
  char *fp1 = fingerprint(root);
  assert_string_equal(fp0, fp1);
  free(fp1);
}

/* ---- runs ------------------------------------------------------------------------------- */

/* A refused or failed rerun (no --force; a missing data file, an unbalanced e2e start or
 * a bad value with --force) leaves the earlier run byte for byte. */
static void test_failed_rerun_keeps_run(void **state) {
  (void)state;
  char out[1024];
  snprintf(out, sizeof out, "%s/o-keep", dir);
  const char *a[] = {"run", "small.json", "--out=o-keep", "--quiet", NULL};
  assert_int_equal(run_cli(a), 0);
  const char *id = expect_manifest_exact(out, "run", NULL);
  expect_run_id(tu_path(out, "summary.json"), id);
  char *fp0 = fingerprint(out);
  const char *again[] = {"run", "small.json", "--out=o-keep", "--quiet", NULL};
  expect_error(73, "--force replaces them", again);
  expect_same(out, fp0);
  const char *missing[] = {"run", "small.json", "--out=o-keep", "--force", "--target_file=missing.npy", NULL};
  expect_error(66, "missing.npy", missing);
  expect_same(out, fp0);
  const char *e2e[] = {"run", "small.json", "--out=o-keep", "--force", "--method=e2e_flow", "--init=gaussian", NULL};
  expect_error(65, "unbalanced", e2e);
  expect_same(out, fp0);
  const char *bad[] = {"run", "small.json", "--out=o-keep", "--force", "--method=gd", "--eta=-1", NULL};
  expect_error(65, "eta", bad);
  expect_same(out, fp0);
  free(fp0);
}

/* --force after a deeper run with a figure: a shallower run without a figure removes the
 * earlier W3_*.npy, plot.py and figure.png, keeps the user's files, and the new manifest
 * lists exactly what is there. */
static void test_force_replaces_only_listed(void **state) {
  (void)state;
  char out[1024];
  snprintf(out, sizeof out, "%s/o-force", dir);
  const char *deep[] = {"run", "small.json", "--out=o-force", "--widths=4,5,5,3", "--plot=true", "--quiet", NULL};
  assert_int_equal(run_cli(deep), 0);
  assert_true(exists(tu_path(out, "W3_final.npy")));
  int figure = exists(tu_path(out, "figure.png")); /* needs matplotlib */
  dln_manifest *m = NULL;
  assert_int_equal(dln_manifest_read(out, &m), DLN_OK);
  assert_int_equal(dln_manifest_find(m, "figure.png") >= 0, figure);
  dln_manifest_free(m);
  tu_write_text(tu_path(out, "notes.txt"), "mine\n");
  char sub[1100];
  snprintf(sub, sizeof sub, "%s/mine", out);
  assert_int_equal(mkdir(sub, 0755), 0);
  tu_write_text(tu_path(sub, "keep.txt"), "mine too\n");
  const char *shallow[] = {"run", "small.json", "--out=o-force", "--widths=4,5,3", "--plot=false", "--force", "--quiet", NULL};
  assert_int_equal(run_cli(shallow), 0);
  assert_false(exists(tu_path(out, "W3_init.npy")));
  assert_false(exists(tu_path(out, "W3_final.npy")));
  assert_false(exists(tu_path(out, "figure.png")));
  assert_false(exists(tu_path(out, "plot.py")));
  assert_true(exists(tu_path(out, "W2_final.npy")));
  char *t = tu_slurp(tu_path(out, "notes.txt"));
  assert_string_equal(t, "mine\n");
  free(t);
  assert_true(exists(tu_path(sub, "keep.txt")));
  const char *user[] = {"notes.txt", "mine", NULL};
  const char *id = expect_manifest_exact(out, "run", user);
  expect_run_id(tu_path(out, "summary.json"), id);
  if (!figure) print_message("note: no matplotlib, figure.png was not rendered (its removal not exercised)\n");
}

/* The default job: one manifest over its six subfolders; a second default job refused. */
static void test_default_job_manifest(void **state) {
  (void)state;
  char out[1024];
  snprintf(out, sizeof out, "%s/o-fig1", dir);
  const char *a[] = {"run", "--out=o-fig1", "--plot=false", "--quiet", NULL};
  assert_int_equal(run_cli(a), 0);
  const char *id = expect_manifest_exact(out, "run", NULL);
  expect_run_id(tu_path(out, "summary.json"), id);
  expect_run_id(tu_path(out, "sigma1_two_layer/summary.json"), id);
  char *fp0 = fingerprint(out);
  expect_error(73, "o-fig1", a);
  expect_same(out, fp0);
  free(fp0);
}

/* A folder locked by another process (here: this one) refuses a run and a sweep at once
 * (exit 75), writing nothing; a real run holds the lock while it trains. */
static void test_lock(void **state) {
  (void)state;
  char out[1024];
  snprintf(out, sizeof out, "%s/o-lock", dir);
  assert_int_equal(mkdir(out, 0755), 0);
  int fd = open(tu_path(out, ".dln.lock"), O_RDWR | O_CREAT, 0644);
  assert_true(fd >= 0);
  assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
  const char *a[] = {"run", "small.json", "--out=o-lock", "--quiet", NULL};
  expect_error(75, "o-lock: another dln run or sweep is writing into this folder", a);
  const char *sw[] = {"sweep", "sweep.json", "--out=o-lock", "--quiet", NULL};
  expect_error(75, "o-lock: another dln run or sweep", sw);
  assert_false(exists(tu_path(out, "trajectory.csv")));
  assert_false(exists(tu_path(out, "data")));
  close(fd);
  assert_int_equal(run_cli(a), 0);
  expect_manifest_exact(out, "run", NULL);

  /* the shards of one sweep share a folder: each takes its own lock */
  char sh[1024];
  snprintf(sh, sizeof sh, "%s/o-shard", dir);
  assert_int_equal(mkdir(sh, 0755), 0);
  int f0 = open(tu_path(sh, ".dln.lock"), O_RDWR | O_CREAT, 0644), f1 = open(tu_path(sh, ".dln.shard1of2.lock"), O_RDWR | O_CREAT, 0644);
  assert_true(f0 >= 0 && f1 >= 0);
  assert_int_equal(flock(f0, LOCK_EX | LOCK_NB), 0);
  assert_int_equal(flock(f1, LOCK_EX | LOCK_NB), 0);
  const char *s0[] = {"sweep", "sweep.json", "--out=o-shard", "--shard=0/2", "--quiet", NULL};
  assert_int_equal(run_cli(s0), 0);
  assert_true(exists(tu_path(sh, "ensemble.shard0of2.csv")));
  const char *s1[] = {"sweep", "sweep.json", "--out=o-shard", "--shard=1/2", "--quiet", NULL};
  expect_error(75, "o-shard: another dln run or sweep", s1);
  close(f0);
  close(f1);
  assert_int_equal(run_cli(s1), 0);
  expect_error(73, "ensemble.shard1of2.csv", s1); /* its own earlier files */

  /* a slow run (gd, tiny steps) holds the lock while it trains */
  const char *slow[] = {"run", "small.json", "--out=o-lock2", "--method=gd", "--eta=1e-7", "--t_end=100", "--quiet", NULL};
  pid_t pid = tu_spawn(DLN_CLI, slow, dir);
  int held = 0;
  for (int i = 0; i < 500 && !held; ++i) { /* up to 5 s for the child to take it */
    int f = open(tu_path(tpath("o-lock2"), ".dln.lock"), O_RDWR);
    if (f >= 0) {
      held = flock(f, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
      close(f);
    }
    if (!held) nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
  }
  assert_true(held);
  const char *second[] = {"run", "small.json", "--out=o-lock2", "--quiet", NULL};
  expect_error(75, "o-lock2", second);
  assert_int_equal(kill(pid, SIGKILL), 0);
  assert_int_equal(tu_wait(pid), -1);
  /* the kernel released the lock; the killed run left no outputs, so no --force is needed */
  assert_false(exists(tu_path(tpath("o-lock2"), "manifest.json")));
  assert_int_equal(run_cli(second), 0);
}

/* ---- sweeps ----------------------------------------------------------------------------- */

static const char *sweep_ok = "{\"task\": \"factorization\", \"rows\": 3, \"cols\": 4, \"width\": 5, \"t_end\": 1,\n"
                              " \"samples\": 3, \"plot\": false, \"sweep\": {\"sigma\": [0.1, 1]}}\n";

/* A sweep whose every run fails commits nothing: the earlier sweep stays byte for byte and
 * the exit code is that of the first failure (65 a bad value, 66 a missing file), with one
 * line counting the failed runs. Some failed runs are counted even with --quiet. */
static void test_sweep_all_fail(void **state) {
  (void)state;
  char out[1024];
  snprintf(out, sizeof out, "%s/o-sweep", dir);
  const char *a[] = {"sweep", "sweep.json", "--out=o-sweep", "--quiet", NULL};
  assert_int_equal(run_cli(a), 0);
  const char *id = expect_manifest_exact(out, "sweep", NULL);
  expect_run_id(tu_path(out, "ensemble.json"), id);
  assert_true(exists(tu_path(out, "data/0/target.npy")));
  char *fp0 = fingerprint(out);
  expect_error(73, "--force", a);
  expect_same(out, fp0);
  tu_write_text(tpath("bad_eta.json"), "{\"task\": \"factorization\", \"rows\": 3, \"cols\": 4, \"method\": \"gd\", \"eta\": -1,\n"
                                      " \"plot\": false, \"sweep\": {\"sigma\": [0.1, 1]}}\n");
  const char *b[] = {"sweep", "bad_eta.json", "--out=o-sweep", "--force", "--quiet", NULL};
  expect_error(65, "sweep: all 2 runs failed", b);
  expect_same(out, fp0);
  tu_write_text(tpath("bad_file.json"), "{\"task\": \"factorization\", \"target_file\": \"missing.npy\",\n"
                                       " \"plot\": false, \"sweep\": {\"sigma\": [0.1, 1]}}\n");
  const char *c[] = {"sweep", "bad_file.json", "--out=o-sweep", "--force", "--quiet", NULL};
  expect_error(66, "missing.npy", c);
  expect_same(out, fp0);
  free(fp0);
  /* one of two runs fails: exit 0, and one line with the count despite --quiet */
  tu_write_text(tpath("half.json"), "{\"task\": \"factorization\", \"rows\": 3, \"cols\": 4, \"method\": \"gd\", \"t_end\": 0.1,\n"
                                   " \"plot\": false, \"sweep\": {\"eta\": [0.01, -1]}}\n");
  const char *h[] = {"sweep", "half.json", "--out=o-half", "--quiet", NULL};
  expect_error(0, "1 of 2 runs failed", h);
  expect_manifest_exact(tpath("o-half"), "sweep", NULL);
  /* a run with --force into the sweep's folder removes the sweep's files and empty folders */
  const char *r[] = {"run", "small.json", "--out=o-sweep", "--force", "--quiet", NULL};
  assert_int_equal(run_cli(r), 0);
  assert_false(exists(tu_path(out, "ensemble.csv")));
  assert_false(exists(tu_path(out, "data")));
  expect_manifest_exact(out, "run", NULL);
}

/* A sweep with --force over an earlier sweep keeps the files its manifest does not list,
 * even one named like a run's output. */
static void test_sweep_force_keeps_user_files(void **state) {
  (void)state;
  char out[1024];
  snprintf(out, sizeof out, "%s/o-user", dir);
  const char *a[] = {"sweep", "sweep.json", "--out=o-user", "--quiet", NULL};
  assert_int_equal(run_cli(a), 0);
  tu_write_text(tu_path(out, "summary.json"), "{\"mine\": 1}\n");
  tu_write_text(tu_path(out, "notes.txt"), "mine\n");
  const char *f[] = {"sweep", "sweep.json", "--out=o-user", "--force", "--quiet", NULL};
  assert_int_equal(run_cli(f), 0);
  char *t = tu_slurp(tu_path(out, "summary.json"));
  assert_string_equal(t, "{\"mine\": 1}\n");
  free(t);
  assert_true(exists(tu_path(out, "notes.txt")));
  const char *user[] = {"summary.json", "notes.txt", NULL};
  expect_manifest_exact(out, "sweep", user);
}

/* --force never removes through a symbolic link the user put in place of a folder. */
static void test_force_not_through_symlink(void **state) {
  (void)state;
  char out[1024], moved[1024], target[1100];
  snprintf(out, sizeof out, "%s/o-link", dir);
  snprintf(moved, sizeof moved, "%s/user-data", dir);
  const char *a[] = {"sweep", "sweep.json", "--out=o-link", "--quiet", NULL};
  assert_int_equal(run_cli(a), 0);
  assert_int_equal(rename(tu_path(out, "data"), moved), 0);
  assert_int_equal(symlink("../user-data", tu_path(out, "data")), 0);
  snprintf(target, sizeof target, "%s/0/target.npy", moved);
  assert_true(exists(target));
  const char *r[] = {"run", "small.json", "--out=o-link", "--force", "--quiet", NULL};
  assert_int_equal(run_cli(r), 0);
  assert_true(exists(target));                                /* behind the link: kept */
  assert_false(exists(tu_path(out, "ensemble.csv")));         /* listed and real: removed */
  const char *user[] = {"data", NULL};
  expect_manifest_exact(out, "run", user);
}

static int setup(void **state) {
  (void)state;
  dir = tu_tmpdir(0);
  tu_write_text(tpath("small.json"), "{\"task\": \"factorization\", \"rows\": 3, \"cols\": 4, \"widths\": [4, 5, 3],\n"
                                     " \"t_end\": 1, \"samples\": 5, \"plot\": false}\n");
  tu_write_text(tpath("sweep.json"), sweep_ok);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  tu_rmtree(dir);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_failed_rerun_keeps_run), cmocka_unit_test(test_force_replaces_only_listed),
      cmocka_unit_test(test_default_job_manifest),   cmocka_unit_test(test_lock),
      cmocka_unit_test(test_sweep_all_fail),         cmocka_unit_test(test_force_not_through_symlink),
      cmocka_unit_test(test_sweep_force_keeps_user_files),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
