/* `mpirun -n R dln sweep` (DLN_MPI builds only; docs/mpi.md): with 2 and 3 ranks
 * (--oversubscribe, run as root allowed) the output folder equals the serial sweep's, file
 * for file: every file byte for byte, except in the .json files the lines of the keys
 * "run_id", "wall_seconds", "train_wall_seconds", "run_wall_seconds", "runs_per_second"
 * (times and the sweep's id) and, in manifest.json, the "bytes"/"sha256" lines of those
 * .json files. The sweep mixes runs that finish, one that diverges, runs refused by their
 * spec (on every rank) and runs that fail while building their init on ranks 0, 1 and 2
 * (records of failures sent to rank 0), over two data sets. The ranks' private folders
 * (TMPDIR) are removed; a refused folder, a bad spec and --shard stop every rank with one
 * message and the serial exit code. SIGTERM to mpirun keeps the finished runs, and
 * `mpirun ... --resume` (another R) finishes the sweep with the serial sweep's files. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"

/* 15 runs: 0-2 finish, 3-5 diverge (eta 20), 6-8 refused (rtol), 9-11 flow, 12-14 fail
 * (init file of the wrong shape); the "cols": 3 runs draw a second data set. */
static const char *spec_text =
    "{\"rows\": 3, \"cols\": 4, \"width\": 6, \"sigma\": 1, \"method\": \"gd\", \"t_end\": 2, \"samples\": 5, \"plot\": false,\n"
    " \"sweep\": {\"runs\": [{\"eta\": 0.01}, {\"eta\": 20, \"t_end\": 2000}, {\"rtol\": -1, \"method\": \"flow\"},\n"
    "                     {\"method\": \"flow\", \"cols\": 3},\n"
    "                     {\"init\": \"file\", \"init_files\": [\"../w1.csv\", \"../w2.csv\"]}],\n"
    "           \"seed\": {\"from\": 1, \"count\": 3}}}\n";

static char root[256], tmpd[300];

static const char *const skip_keys[] = {"\"run_id\"", "\"wall_seconds\"", "\"train_wall_seconds\"", "\"run_wall_seconds\"",
                                        "\"runs_per_second\""};

static int is_skipped(const char *line, size_t n) {
  while (n && (*line == ' ')) ++line, --n;
  for (size_t i = 0; i < sizeof skip_keys / sizeof *skip_keys; ++i)
    if (n > strlen(skip_keys[i]) && !strncmp(line, skip_keys[i], strlen(skip_keys[i]))) return 1;
  return 0;
}

static int ends_with(const char *s, const char *t) {
  size_t n = strlen(s), m = strlen(t);
  return n >= m && !strcmp(s + n - m, t);
}

/* a and b line by line; lines of skipped keys may differ, and in a manifest the bytes and
 * sha256 of a .json entry. Returns the number of lines allowed to differ that did. */
static int compare_json(const char *pa, const char *pb, const char *a, const char *b) {
  int ndiff = 0, in_json_entry = 0;
  while (*a || *b) {
    size_t na = strcspn(a, "\n"), nb = strcspn(b, "\n");
    if (strstr(a, "\"name\":") && strstr(a, "\"name\":") < a + na) in_json_entry = strstr(a, ".json\"") && strstr(a, ".json\"") < a + na;
    if (na != nb || memcmp(a, b, na)) {
      int ok = is_skipped(a, na) && is_skipped(b, nb) && !memcmp(a, b, strcspn(a, ":"));
      const char *k = a + strspn(a, " ");
      if (!ok && in_json_entry && (!strncmp(k, "\"bytes\"", 7) || !strncmp(k, "\"sha256\"", 8)) && na > 8 && nb > 8) ok = 1;
      if (!ok) fail_msg("%s and %s differ: %.*s | %.*s", pa, pb, (int)na, a, (int)nb, b);
      ++ndiff;
    }
    a += na + (a[na] == '\n');
    b += nb + (b[nb] == '\n');
  }
  return ndiff;
}

/* Every file under da/rel equals its copy under db/rel (as above); the number of files. */
static int compare_tree(const char *da, const char *db, const char *rel) {
  char pa[1024], pb[1024];
  snprintf(pa, sizeof pa, "%s/%s", da, rel);
  snprintf(pb, sizeof pb, "%s/%s", db, rel);
  DIR *d = opendir(pa);
  assert_non_null(d);
  int nfiles = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    char r[1024], fa[2100], fb[2100];
    snprintf(r, sizeof r, "%s%s%s", rel, *rel ? "/" : "", e->d_name);
    snprintf(fa, sizeof fa, "%s/%s", da, r);
    snprintf(fb, sizeof fb, "%s/%s", db, r);
    struct stat sa;
    assert_int_equal(stat(fa, &sa), 0);
    if (S_ISDIR(sa.st_mode)) {
      nfiles += compare_tree(da, db, r);
      continue;
    }
    char *a = tu_slurp(fa), *b = tu_slurp(fb);
    if (!a || !b) fail_msg("%s: missing or unreadable beside %s", !b ? fb : fa, !b ? fa : fb);
    if (ends_with(r, ".json")) compare_json(fa, fb, a, b);
    else if (strcmp(a, b)) fail_msg("%s and %s differ", fa, fb);
    free(a);
    free(b);
    ++nfiles;
  }
  closedir(d);
  return nfiles;
}

static void run_in(const char *sub, const char *const *args, int code) {
  char d[512];
  snprintf(d, sizeof d, "%s/%s", root, sub);
  mkdir(d, 0755);
  int rc = tu_wait(tu_spawn(args[0], args + 1, d));
  if (rc != code) {
    char *err = tu_slurp(tu_path(d, "stderr.txt"));
    fail_msg("%s: exit %d, expected %d; stderr: %s", args[0], rc, code, err ? err : "");
  }
}

static int count_entries(const char *dir) {
  DIR *d = opendir(dir);
  int n = 0;
  struct dirent *e;
  while (d && (e = readdir(d))) n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
  if (d) closedir(d);
  return n;
}

static void test_ranks_identical(void **state) {
  (void)state;
  const char *serial[] = {DLN_CLI, "sweep", "../spec.json", "--out", "o", "--threads", "1", "--quiet", NULL};
  run_in("s", serial, 0);
  char sdir[512];
  snprintf(sdir, sizeof sdir, "%s/s/o", root);
  char *js = tu_slurp(tu_path(sdir, "ensemble.json"));
  assert_non_null(js);
  int nerr = 0;
  for (const char *p = js; (p = strstr(p, "\"status\": \"error\"")); ++p) ++nerr;
  assert_int_equal(nerr, 6); /* 3 refused by their spec, 3 failing in their init */
  assert_non_null(strstr(js, "run 13: init from layers"));
  assert_non_null(strstr(js, "\"stop_reason\": \"diverged\""));
  free(js);
  for (int r = 2; r <= 3; ++r) {
    char sub[16], n[16], mdir[512];
    snprintf(sub, sizeof sub, "m%d", r);
    snprintf(n, sizeof n, "%d", r);
    const char *mpi[] = {DLN_MPIEXEC, "-n", n, "--oversubscribe", DLN_CLI, "sweep", "../spec.json", "--out", "o",
                         "--threads", "1", "--quiet", NULL};
    run_in(sub, mpi, 0);
    snprintf(mdir, sizeof mdir, "%s/%s/o", root, sub);
    int nf = compare_tree(sdir, mdir, "");
    assert_int_equal(nf, compare_tree(mdir, sdir, "")); /* no file more or less */
    assert_true(nf >= 10);
    char *err = tu_slurp(tu_path(mdir, "../stderr.txt"));
    assert_non_null(strstr(err, "6 of 15 runs failed")); /* printed once, by rank 0 */
    assert_int_equal(tu_count_lines(err), 1);
    free(err);
  }
  assert_int_equal(count_entries(tmpd), 0); /* the ranks' data folders are gone */
}

/* A refused folder (rank 0, before the runs) and a bad spec (every rank): one message, the
 * serial exit code, no rank left waiting. */
static void test_refused(void **state) {
  (void)state;
  const char *again[] = {DLN_MPIEXEC, "-n", "2", "--oversubscribe", DLN_CLI, "sweep", "../spec.json", "--out", "../m2/o",
                         "--threads", "1", NULL};
  run_in("r", again, 73);
  char d[512];
  snprintf(d, sizeof d, "%s/r", root);
  char *err = tu_slurp(tu_path(d, "stderr.txt"));
  assert_non_null(strstr(err, "dln: ../m2/o"));
  int n = 0;
  for (const char *p = err; (p = strstr(p, "dln: ")); ++p) ++n;
  assert_int_equal(n, 1); /* rank 0's line (and mpirun's note on the exit code) */
  free(err);
  tu_write_text(tu_path(root, "bad.json"), "{\"rows\": 3, \"sweep\": {\"eta\": \"x\"}}\n");
  const char *bad[] = {DLN_MPIEXEC, "-n", "3", "--oversubscribe", DLN_CLI, "sweep", "../bad.json", "--out", "o", NULL};
  run_in("b", bad, 65);
  snprintf(d, sizeof d, "%s/b", root);
  err = tu_slurp(tu_path(d, "stderr.txt"));
  n = 0;
  for (const char *p = err; (p = strstr(p, "dln: ")); ++p) ++n;
  assert_int_equal(n, 1);
  free(err);
  const char *shard[] = {DLN_MPIEXEC, "-n", "2", "--oversubscribe", DLN_CLI, "sweep", "../spec.json", "--out", "o", "--shard", "0/2", NULL};
  run_in("h", shard, 64);
  snprintf(d, sizeof d, "%s/h", root);
  err = tu_slurp(tu_path(d, "stderr.txt"));
  assert_non_null(strstr(err, "dln: option --shard: expected no shard when 2 MPI ranks"));
  assert_null(strstr(strstr(err, "dln: ") + 1, "dln: ")); /* once */
  free(err);
}

static int count_lines_of(const char *path) {
  char *t = tu_slurp(path);
  int n = t ? tu_count_lines(t) : 0;
  free(t);
  return n;
}

/* SIGTERM to mpirun while the runs go: rank 0 keeps the runs it has (its own and those
 * received) in OUT/.partial and says how to resume; `mpirun -n 2 ... --resume` finishes
 * the sweep with the serial sweep's files. */
static void test_sigterm_resume(void **state) {
  (void)state;
  tu_write_text(tu_path(root, "long.json"),
                "{\"task\": \"factorization\", \"rows\": 3, \"cols\": 4, \"width\": 6, \"method\": \"gd\", \"t_end\": 60000,\n"
                " \"samples\": 9, \"eta\": 0.01, \"plot\": false, \"sweep\": {\"sigma\": [0.1, 1], \"seed\": {\"from\": 7, \"count\": 8}}}\n");
  const char *serial[] = {DLN_CLI, "sweep", "../long.json", "--out", "o", "--threads", "1", "--quiet", NULL};
  run_in("ts", serial, 0);
  char d[512], pdir[600], sdir[512], mdir[512];
  snprintf(d, sizeof d, "%s/tm", root);
  mkdir(d, 0755);
  const char *cut[] = {"-n", "3", "--oversubscribe", DLN_CLI, "sweep", "../long.json", "--out", "o", "--threads", "1", NULL};
  pid_t pid = tu_spawn(DLN_MPIEXEC, cut, d);
  snprintf(pdir, sizeof pdir, "%s/o/.partial/runs.jsonl", d);
  for (int i = 0; i < 6000 && count_lines_of(pdir) < 2; ++i) {
    struct timespec ts = {0, 5000000L};
    nanosleep(&ts, NULL);
  }
  assert_int_equal(kill(pid, SIGTERM), 0);
  assert_int_not_equal(tu_wait(pid), 0);
  char *err = tu_slurp(tu_path(d, "stderr.txt"));
  long kept = -1, total = -1;
  const char *p = strstr(err, "sweep interrupted by SIGTERM; ");
  if (!p) fail_msg("expected the interruption line, found: %s", err);
  assert_int_equal(sscanf(p, "sweep interrupted by SIGTERM; %ld of %ld runs finished", &kept, &total), 2);
  assert_int_equal(total, 16);
  assert_true(kept >= 2 && kept < 16);
  assert_int_equal(count_lines_of(pdir), kept);
  free(err);
  const char *res[] = {DLN_MPIEXEC, "-n", "2", "--oversubscribe", DLN_CLI, "sweep", "../long.json", "--out", "o", "--threads", "1",
                       "--quiet", "--resume", NULL};
  run_in("tm", res, 0);
  err = tu_slurp(tu_path(d, "stderr.txt"));
  char want[128];
  snprintf(want, sizeof want, "resume: %ld finished runs of the interrupted sweep skipped, %ld run now", kept, 16 - kept);
  if (!strstr(err, want)) fail_msg("expected '%s', found: %s", want, err);
  free(err);
  snprintf(sdir, sizeof sdir, "%s/ts/o", root);
  snprintf(mdir, sizeof mdir, "%s/tm/o", root);
  int nf = compare_tree(sdir, mdir, "");
  assert_int_equal(nf, compare_tree(mdir, sdir, ""));
}

int main(void) {
  snprintf(root, sizeof root, "%s", tu_tmpdir(0));
  snprintf(tmpd, sizeof tmpd, "%s/tmp", root);
  mkdir(tmpd, 0755);
  setenv("TMPDIR", tmpd, 1);
  setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
  setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
  setenv("OMPI_MCA_rmaps_base_oversubscribe", "1", 1);
  /* sanitizer builds: OpenMPI's own allocations (libmpi, its dlopen'ed components) are
   * still held at exit; leaks of dln are checked by the serial tests of the same code */
  const char *ao = getenv("ASAN_OPTIONS");
  char aopt[512];
  snprintf(aopt, sizeof aopt, "%s%sdetect_leaks=0", ao ? ao : "", ao && *ao ? ":" : "");
  setenv("ASAN_OPTIONS", aopt, 1);
  tu_write_text(tu_path(root, "spec.json"), spec_text);
  tu_write_text(tu_path(root, "w1.csv"), "1,1,1,1\n1,1,1,1\n1,1,1,1\n1,1,1,1\n1,1,1,1\n1,1,1,1\n");
  tu_write_text(tu_path(root, "w2.csv"), "1,1,1,1,1\n1,1,1,1,1\n1,1,1,1,1\n");
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_ranks_identical), cmocka_unit_test(test_refused),
                                     cmocka_unit_test(test_sigterm_resume)};
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  if (!rc) tu_rmtree(root);
  return rc;
}
