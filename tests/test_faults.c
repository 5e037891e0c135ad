/* Fault injection (src/core/fault.h): every heap allocation of one small run and of one small
 * sweep fails in turn (k = 1, 2, ... until the run no longer reaches the k-th allocation),
 * and then every output-file write. Each injected failure must give an error status with a
 * message (or, in a sweep, a run recorded as failed), leak nothing (LeakSanitizer in the
 * sanitizer build) and, for writes, leave the earlier complete outputs of the folder intact:
 * no temporary file, no summary.json (the mark of a complete run), every other file
 * byte-identical to the complete run's. Jansson's allocations are fault sites too. */
#include <dirent.h>
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
#include <jansson.h>

#include "core/fault.h"
#include "dln/dln.h"
#include "testutil.h"

#if defined(__SANITIZE_ADDRESS__)
#define HAVE_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HAVE_LSAN 1
#endif
#endif
#ifdef HAVE_LSAN
#include <sanitizer/lsan_interface.h>
#endif

/* Nonzero when LeakSanitizer finds unreachable blocks (always 0 without it). A check stops
 * the world (slow), so by default it runs once at the end of each loop (`last`), which
 * still sees any leak of any k; DLN_FAULTS_LEAK_EACH=1 checks after every k to find it. */
static int leaked(int last) {
#ifdef HAVE_LSAN
  static int each = -1;
  if (each < 0) each = getenv("DLN_FAULTS_LEAK_EACH") != NULL;
  return (last || each) ? __lsan_do_recoverable_leak_check() : 0;
#else
  (void)last;
  return 0;
#endif
}

/* A fresh folder for outputs, on tmpfs when there is one: every output file is fsynced
 * (io/afile.c), and ~1000 runs on a disk would take minutes instead of seconds. */
static char dirs[4][64];

static void remove_dir(int i) {
  if (!strstr(dirs[i], "/dln-faults-")) return;
  char cmd[320];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dirs[i]);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dirs[i]);
  dirs[i][0] = '\0';
}

static const char *fault_dir(int i) {
  remove_dir(i);
  snprintf(dirs[i], sizeof dirs[i], "%s/dln-faults-XXXXXX", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
  assert_non_null(mkdtemp(dirs[i]));
  return dirs[i];
}

/* A tiny run: factorization 2x3, width 4, gradient flow to t = 0.5, no plot. */
static void tiny_spec(dln_spec *s, const char *out) {
  assert_int_equal(dln_spec_default(s), DLN_OK);
  assert_int_equal(dln_spec_set(s, "out", out), DLN_OK);
  assert_int_equal(dln_spec_set(s, "rows", "2"), DLN_OK);
  assert_int_equal(dln_spec_set(s, "cols", "3"), DLN_OK);
  assert_int_equal(dln_spec_set(s, "width", "4"), DLN_OK);
  assert_int_equal(dln_spec_set(s, "t_end", "0.5"), DLN_OK);
  assert_int_equal(dln_spec_set(s, "samples", "3"), DLN_OK);
  assert_int_equal(dln_spec_set(s, "plot", "false"), DLN_OK);
  assert_int_equal(dln_spec_set(s, "quiet", "true"), DLN_OK);
  assert_int_equal(dln_spec_set(s, "force", "true"), DLN_OK); /* every armed run replaces the last */
}

/* ------------------------------------------------------------------ folder snapshots */

typedef struct snap {
  int n;
  char *name[64];
  char *text[64];
} snap;

static void snap_take(snap *s, const char *dir) {
  memset(s, 0, sizeof *s);
  DIR *d = opendir(dir);
  assert_non_null(d);
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') continue;
    assert_true(s->n < 64);
    s->name[s->n] = strdup(e->d_name);
    s->text[s->n] = tu_slurp(tu_path(dir, e->d_name));
    assert_non_null(s->text[s->n]);
    ++s->n;
  }
  closedir(d);
}

static void snap_free(snap *s) {
  for (int i = 0; i < s->n; ++i) free(s->name[i]), free(s->text[i]);
  s->n = 0;
}

static const char *snap_get(const snap *s, const char *name) {
  for (int i = 0; i < s->n; ++i)
    if (strcmp(s->name[i], name) == 0) return s->text[i];
  return NULL;
}

/* After a failed rerun: no temporary file, no `complete` file (summary.json), and every
 * other file as in the complete run `before`. */
static void check_folder_intact(const char *dir, const snap *before, const char *complete, long k) {
  snap now;
  snap_take(&now, dir);
  for (int i = 0; i < now.n; ++i) {
    const char *old = snap_get(before, now.name[i]);
    if (strstr(now.name[i], ".tmp.") || strcmp(now.name[i], complete) == 0 || !old || strcmp(old, now.text[i]) != 0)
      fail_msg("write fault %ld: %s/%s is a temporary, completion mark, new or changed file", k, dir, now.name[i]);
  }
  snap_free(&now);
}

/* Temporary files (*.tmp.*) under dir, recursively. */
static int count_tmp(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return 0;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    n += strstr(e->d_name, ".tmp.") != NULL;
    struct stat sb;
    if (stat(p, &sb) == 0 && S_ISDIR(sb.st_mode)) n += count_tmp(p);
  }
  closedir(d);
  return n;
}

/* ------------------------------------------------------------------ one run */

typedef struct tally {
  long sites, failures, absorbed;
} tally;

/* One armed call of dln_run; 1 when the fault fired. */
static int run_armed(const dln_spec *s, int kind, long k, int *st) {
  dln_run_result res;
  dln_error_clear();
  dln_fault_arm(kind, k);
  *st = dln_run_noplot(s, NULL, &res);
  int fired = dln_fault_fired(kind) > 0;
  dln_fault_disarm();
  return fired;
}

static void empty_dir(const char *d) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'/* '%s'/.dln.lock", d, d);
  assert_int_equal(system(cmd), 0);
}

/* Fail the k-th site of `kind` in one run, for k = 1, 2, ... until the run passes them all. */
static tally run_alloc_loop(int kind) {
  const char *d = fault_dir(0);
  dln_spec s;
  tiny_spec(&s, d);
  int st;
  assert_int_equal(run_armed(&s, kind, 0, &st), 0); /* warm-up: the option tables, OpenBLAS */
  assert_int_equal(st, DLN_OK);
  tally t = {0, 0, 0};
  for (long k = 1;; ++k) {
    /* Jansson 2.14's parser corrupts its heap when an allocation fails while it lexes
     * (akheron/jansson#362, fix in PR #747): JSON faults go to runs that parse no JSON,
     * i.e. into an empty folder (no earlier manifest.json to read) */
    if (kind == DLN_FAULT_JSON) empty_dir(d);
    if (!run_armed(&s, kind, k, &st)) {
      assert_int_equal(st, DLN_OK);
      t.sites = k - 1;
      break;
    }
    if (st == DLN_OK && getenv("DLN_FAULTS_TRACE")) printf("absorbed: kind %d, k = %ld\n", kind, k); /* which site: gdb, break fault.c's fire line if sites[kind] == k */
    if (st == DLN_OK) ++t.absorbed;
    else if (dln_last_error()[0] == '\0') fail_msg("fault %ld of kind %d: status %d without a message", k, kind, st);
    else ++t.failures;
    if (leaked(0)) fail_msg("fault %ld of kind %d: leak (%s)", k, kind, dln_last_error());
  }
  dln_spec_free(&s);
  if (leaked(1)) fail_msg("faults of kind %d (k = 1..%ld): leak", kind, t.sites);
  return t;
}

static void test_run_alloc_faults(void **state) {
  (void)state;
  tally t = run_alloc_loop(DLN_FAULT_ALLOC);
  printf("run: %ld allocation sites, %ld failures reported, %ld absorbed\n", t.sites, t.failures, t.absorbed);
  assert_true(t.sites > 20);
  assert_int_equal(t.absorbed, 0);
}

/* Jansson's allocations (summary.json): no crash, no leak, a message when reported. Not yet
 * all reported: the JSON builders ignore json_object_set_new failures, so a summary can
 * lose keys (counted as absorbed, printed; see the report of issue 11). */
static void test_run_json_faults(void **state) {
  (void)state;
  tally t = run_alloc_loop(DLN_FAULT_JSON);
  printf("run: %ld Jansson allocation sites, %ld failures reported, %ld absorbed\n", t.sites, t.failures, t.absorbed);
  assert_true(t.sites > 20);
}

static void test_run_write_faults(void **state) {
  (void)state;
  const char *d = fault_dir(1);
  dln_spec s;
  tiny_spec(&s, d);
  int st;
  assert_int_equal(run_armed(&s, DLN_FAULT_WRITE, 0, &st), 0);
  assert_int_equal(st, DLN_OK);
  snap before;
  snap_take(&before, d);
  assert_non_null(snap_get(&before, "summary.json"));
  long k = 1;
  for (;; ++k) {
    if (!run_armed(&s, DLN_FAULT_WRITE, k, &st)) break;
    assert_int_not_equal(st, DLN_OK);
    if (dln_last_error()[0] == '\0') fail_msg("write fault %ld: no message", k);
    check_folder_intact(d, &before, "summary.json", k);
    if (leaked(0)) fail_msg("write fault %ld: leak", k);
  }
  assert_int_equal(st, DLN_OK);
  printf("run: %ld write sites (2 per output file: create, commit) over %d files\n", k - 1, before.n);
  assert_int_equal(k - 1, 2 * before.n);
  snap_free(&before);
  dln_spec_free(&s);
  if (leaked(1)) fail_msg("run write faults (k = 1..%ld): leak", k - 1);
}

/* ------------------------------------------------------------------ one sweep */

/* A sweep of 2 runs (seed 1, 2) of the tiny spec on one worker thread. */
static int sweep_armed(const dln_spec *s, const dln_sweep *sw, int kind, long k, int *st, dln_ensemble_result *res) {
  dln_ensemble_options o;
  dln_ensemble_default_options(&o);
  o.nthreads = 1;
  dln_error_clear();
  dln_fault_arm(kind, k);
  *st = dln_ensemble_run(s, sw, &o, res);
  int fired = dln_fault_fired(kind) > 0;
  dln_fault_disarm();
  return fired;
}

static void sweep_setup(dln_spec *s, dln_sweep *sw, const char *out) {
  tiny_spec(s, out);
  dln_sweep_init(sw);
  assert_int_equal(dln_sweep_add_range(sw, "seed", 1, 2, 1), DLN_OK);
}

static void test_sweep_alloc_faults(void **state) {
  (void)state;
  const char *d = fault_dir(2);
  dln_spec s;
  dln_sweep sw;
  sweep_setup(&s, &sw, d);
  dln_ensemble_result res;
  int st;
  assert_int_equal(sweep_armed(&s, &sw, DLN_FAULT_ALLOC, 0, &st, &res), 0);
  assert_int_equal(st, DLN_OK);
  assert_int_equal(res.nfailed, 0);
  tally t = {0, 0, 0};
  for (long k = 1;; ++k) {
    if (!sweep_armed(&s, &sw, DLN_FAULT_ALLOC, k, &st, &res)) {
      assert_int_equal(st, DLN_OK);
      t.sites = k - 1;
      break;
    }
    if (st == DLN_OK && res.nfailed == 0) ++t.absorbed;
    else if (st != DLN_OK && dln_last_error()[0] == '\0') fail_msg("sweep allocation fault %ld: status %d without a message", k, st);
    else ++t.failures;
    if (leaked(0)) fail_msg("sweep allocation fault %ld: leak", k);
  }
  printf("sweep: %ld allocation sites, %ld failures reported, %ld absorbed\n", t.sites, t.failures, t.absorbed);
  assert_true(t.sites > 20);
  /* known, not fixed: the "rerun" line of a run in ensemble.json becomes null when its
   * buffer cannot be allocated (rerun_line, ensemble_out.c: a malloc per run and maybe a
   * realloc). It is built on the calling thread while the worker runs, so which k hits it
   * varies from one execution to the next; nothing else was absorbed in 20 executions. */
  assert_true(t.absorbed <= 4);
  dln_sweep_free(&sw);
  dln_spec_free(&s);
  if (leaked(1)) fail_msg("sweep allocation faults (k = 1..%ld): leak", t.sites);
}

static void test_sweep_write_faults(void **state) {
  (void)state;
  const char *d = fault_dir(3);
  dln_spec s;
  dln_sweep sw;
  sweep_setup(&s, &sw, d);
  dln_ensemble_result res;
  int st;
  assert_int_equal(sweep_armed(&s, &sw, DLN_FAULT_WRITE, 0, &st, &res), 0);
  assert_int_equal(st, DLN_OK);
  long k = 1, failures = 0, recorded = 0;
  for (;; ++k) {
    if (!sweep_armed(&s, &sw, DLN_FAULT_WRITE, k, &st, &res)) break;
    if (st == DLN_OK && res.nfailed > 0) ++recorded;
    else if (st != DLN_OK && dln_last_error()[0] != '\0') ++failures;
    else fail_msg("sweep write fault %ld: status %d, %ld failed runs, message '%s'", k, st, res.nfailed, dln_last_error());
    if (count_tmp(d)) fail_msg("sweep write fault %ld: temporary files left under %s", k, d);
    if (leaked(0)) fail_msg("sweep write fault %ld: leak", k);
  }
  assert_int_equal(st, DLN_OK);
  printf("sweep: %ld write sites, %ld failures reported, %ld recorded as failed runs\n", k - 1, failures, recorded);
  assert_true(k - 1 >= 4);
  dln_sweep_free(&sw);
  dln_spec_free(&s);
  if (leaked(1)) fail_msg("sweep write faults (k = 1..%ld): leak", k - 1);
}

/* Jansson's allocator: the DLN_FAULT_JSON sites. */
static void *json_alloc(size_t n) { return dln_fault_hit(DLN_FAULT_JSON) ? NULL : malloc(n); }

int main(void) {
  json_set_alloc_funcs(json_alloc, free);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_run_alloc_faults),
      cmocka_unit_test(test_run_json_faults),
      cmocka_unit_test(test_run_write_faults),
      cmocka_unit_test(test_sweep_alloc_faults),
      cmocka_unit_test(test_sweep_write_faults),
  };
  int failed = cmocka_run_group_tests(tests, NULL, NULL);
  for (int i = 0; i < 4; ++i) remove_dir(i);
  return failed;
}
