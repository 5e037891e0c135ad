/* Resuming the default job (001 Fig. 1, docs/resume.md).
 *
 * The job is cancelled after its third run has trained (the run-options cancel poll, as
 * a SIGINT does it): the folder then holds an incomplete summary.json listing the two
 * finished runs and a manifest with complete = false. dln_run_fig1_resume (and `dln run
 * --resume DIR` on the command line) keeps those two runs, runs the other four, and every
 * trajectory.csv and .npy is byte-identical to an uninterrupted job's; the job keeps its
 * run id and its manifest verifies. A kept run whose file changed is refused, and so is
 * a complete folder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "dln/error.h"
#include "dln/manifest.h"
#include "dln/run.h"
#include "dln/spec.h"
#include "testutil.h"

static const char *const subdirs[] = {"sigma1e-2_one_layer", "sigma1e-2_two_layer", "sigma1e-1_one_layer",
                                      "sigma1e-1_two_layer", "sigma1_one_layer",    "sigma1_two_layer"};
static const char *const files[] = {"trajectory.csv", "W1_init.npy", "W1_final.npy", "target.npy"};

typedef struct cancel_at {
  int starts, at;
} cancel_at;

static void on_event(void *ctx, int event, const char *label) {
  (void)label;
  if (event == 0) ((cancel_at *)ctx)->starts++;
}

static int cancel_poll(void *ctx) {
  cancel_at *c = ctx;
  return c->at > 0 && c->starts >= c->at;
}

/* The default job into dir (no figure), cancelled once run `at` (1-based) has started. */
static dln_run_result job(const char *dir, int at) {
  dln_spec s;
  assert_int_equal(dln_spec_default(&s), DLN_OK);
  assert_int_equal(dln_run_fig1_defaults(&s), DLN_OK);
  assert_int_equal(dln_spec_set(&s, "out", dir), DLN_OK);
  assert_int_equal(dln_spec_set(&s, "plot", "false"), DLN_OK);
  assert_int_equal(dln_spec_set(&s, "quiet", "true"), DLN_OK);
  cancel_at c = {0, at};
  dln_run_options o = {NULL, &c, on_event, cancel_poll, NULL, NULL};
  dln_run_result r;
  assert_int_equal(dln_run_fig1(&s, &o, NULL, &r), DLN_OK);
  dln_spec_free(&s);
  return r;
}

static int resume(const char *dir) {
  dln_spec s;
  int is_job = -1;
  assert_int_equal(dln_spec_default(&s), DLN_OK);
  assert_int_equal(dln_run_resume_is_job(dir, &is_job), DLN_OK);
  assert_int_equal(is_job, 1);
  assert_int_equal(dln_run_resume_spec(dir, &s), DLN_OK);
  dln_run_result r;
  int st = dln_run_fig1_resume(&s, NULL, NULL, &r);
  if (!st) assert_int_not_equal(r.train.stop_reason, DLN_STOP_CANCELLED);
  dln_spec_free(&s);
  return st;
}

static void assert_same_files(const char *a, const char *b) {
  for (size_t i = 0; i < sizeof subdirs / sizeof *subdirs; ++i)
    for (size_t j = 0; j < sizeof files / sizeof *files; ++j) {
      char pa[512], pb[512];
      snprintf(pa, sizeof pa, "%s/%s/%s", a, subdirs[i], files[j]);
      snprintf(pb, sizeof pb, "%s/%s/%s", b, subdirs[i], files[j]);
      struct stat sa, sb;
      if (stat(pa, &sa) != 0) continue; /* not every run writes every file */
      assert_int_equal(stat(pb, &sb), 0);
      char *ta = tu_slurp(pa), *tb = tu_slurp(pb);
      assert_non_null(ta);
      assert_non_null(tb);
      assert_true(sa.st_size == sb.st_size && memcmp(ta, tb, (size_t)sa.st_size) == 0);
      free(ta);
      free(tb);
    }
}

/* The interrupted folder: incomplete summary with the two finished runs, manifest not complete. */
static void assert_interrupted(const char *dir) {
  char *sum = tu_slurp(tu_path(dir, "summary.json"));
  assert_non_null(sum);
  assert_non_null(strstr(sum, "\"complete\": false"));
  assert_non_null(strstr(sum, subdirs[1]));
  assert_null(strstr(sum, "\"folder\": \"sigma1e-1_one_layer\""));
  free(sum);
  dln_manifest *m = NULL;
  assert_int_equal(dln_manifest_read(dir, &m), DLN_OK);
  assert_int_equal(m->complete, 0);
  dln_manifest_free(m);
}

static void test_resume_byte_identical(void **state) {
  (void)state;
  const char *a = tu_tmpdir(0), *b = tu_tmpdir(1);
  dln_run_result r = job(a, 0);
  assert_int_not_equal(r.train.stop_reason, DLN_STOP_CANCELLED);
  r = job(b, 3);
  assert_int_equal(r.train.stop_reason, DLN_STOP_CANCELLED);
  assert_interrupted(b);
  dln_manifest *m0 = NULL, *m1 = NULL;
  assert_int_equal(dln_manifest_read(b, &m0), DLN_OK);
  assert_int_equal(resume(b), DLN_OK);
  assert_same_files(a, b);
  /* complete, same run id, every file as listed */
  assert_int_equal(dln_manifest_read(b, &m1), DLN_OK);
  assert_int_equal(m1->complete, 1);
  assert_string_equal(m0->run_id, m1->run_id);
  char why[256];
  assert_int_equal(dln_manifest_verify(m1, b, why, sizeof why), 0);
  char *kept = tu_slurp(tu_path(b, "sigma1e-2_one_layer/summary.json"));
  assert_non_null(strstr(kept, m1->run_id));
  free(kept);
  dln_manifest_free(m0);
  dln_manifest_free(m1);
  /* nothing left to resume */
  dln_spec s;
  assert_int_equal(dln_spec_default(&s), DLN_OK);
  assert_int_equal(dln_run_resume_spec(b, &s), DLN_EINVAL);
  assert_non_null(strstr(dln_last_error(), "complete"));
  dln_spec_free(&s);
  tu_rmtree(a);
  tu_rmtree(b);
}

static void test_resume_refuses_changed_run(void **state) {
  (void)state;
  const char *c = tu_tmpdir(2);
  dln_run_result r = job(c, 3);
  assert_int_equal(r.train.stop_reason, DLN_STOP_CANCELLED);
  /* a kept run's final layer changed after the interruption */
  const char *p = tu_path(c, "sigma1e-2_two_layer/W2_final.npy");
  FILE *f = fopen(p, "r+b");
  assert_non_null(f);
  assert_int_equal(fseek(f, -3, SEEK_END), 0);
  fputc('X', f);
  fclose(f);
  assert_int_equal(resume(c), DLN_ESPEC);
  assert_non_null(strstr(dln_last_error(), "sigma1e-2_two_layer"));
  tu_rmtree(c);
}

/* `dln run --resume DIR` dispatches to the job (no spec, no options besides outputs). */
static void test_cli_resume(void **state) {
  (void)state;
  const char *a = tu_tmpdir(3), *d = tu_tmpdir(4);
  job(a, 0);
  dln_run_result r = job(d, 5);
  assert_int_equal(r.train.stop_reason, DLN_STOP_CANCELLED);
  const char *args[] = {"run", "--resume", d, NULL};
  assert_int_equal(tu_wait(tu_spawn(DLN_CLI, args, NULL)), 0);
  assert_same_files(a, d);
  char *sum = tu_slurp(tu_path(d, "summary.json"));
  assert_non_null(strstr(sum, "\"complete\": true"));
  free(sum);
  const char *chk[] = {"check", d, "--quiet", NULL};
  assert_int_equal(tu_wait(tu_spawn(DLN_CLI, chk, NULL)), 0);
  tu_rmtree(a);
  tu_rmtree(d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_resume_byte_identical),
      cmocka_unit_test(test_resume_refuses_changed_run),
      cmocka_unit_test(test_cli_resume),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
