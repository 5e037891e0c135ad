/* `dln sweep --resume` (dln/ensemble.h, docs/resume.md): a sweep stopped after some runs
 * finished (in process by the cancel hook, and through the CLI by SIGTERM, exit 143) and
 * then resumed gives ensemble.csv byte for byte and ensemble.json line for line as an
 * uninterrupted sweep into the same folder; the only lines allowed to differ are those
 * of the keys "run_id", "threads", "wall_seconds", "run_wall_seconds" and
 * "runs_per_second" (times and the sweep's id). The number of runs skipped equals the
 * number kept by the interrupted sweep; a changed spec is refused (exit 65); no
 * temporary or partial file is left. With 1 and 2 threads, for a shard, and through
 * `dln sweep --resume --out DIR` (the spec stored in the folder). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "dln/dln.h"
#include "testutil.h"

/* 16 gradient-descent runs of a 3x4 factorization (width 6), a few ms to tens of ms each. */
static const char *spec_text =
    "{\n"
    "  \"task\": \"factorization\", \"rows\": 3, \"cols\": 4, \"width\": 6, \"method\": \"gd\",\n"
    "  \"t_end\": %s, \"samples\": 9, \"eta\": %s, \"plot\": false, \"quiet\": true,\n"
    "  \"sweep\": {\"sigma\": [0.1, 1], \"seed\": {\"from\": 7, \"count\": 8}}\n"
    "}\n";
#define NRUNS 16

static char dir[64];

static const char *write_spec(const char *name, const char *t_end, const char *eta) {
  char text[1024];
  snprintf(text, sizeof text, spec_text, t_end, eta);
  const char *p = tu_path(dir, name);
  tu_write_text(p, text);
  return p;
}

static int exists(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0;
}

/* Files in folder d whose name contains needle. */
static int count_files(const char *d, const char *needle) {
  DIR *dp = opendir(d);
  if (!dp) return 0;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(dp))) n += strstr(e->d_name, needle) != NULL;
  closedir(dp);
  return n;
}

/* Runs kept in partial folder d: the lines of d/runs.jsonl. */
static int count_kept(const char *d) {
  char p[300];
  snprintf(p, sizeof p, "%.200s/runs.jsonl", d);
  if (!exists(p)) return 0;
  char *t = tu_slurp(p);
  int n = t ? tu_count_lines(t) : 0;
  free(t);
  return n;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* The key of a line `  "key": ...` of an indented JSON file, or "". */
static void line_key(const char *line, size_t n, char *key, size_t cap) {
  key[0] = '\0';
  const char *q = memchr(line, '"', n);
  if (!q) return;
  const char *e = memchr(q + 1, '"', n - (size_t)(q + 1 - line));
  if (!e || e[1] != ':' || (size_t)(e - q - 1) >= cap) return;
  memcpy(key, q + 1, (size_t)(e - q - 1));
  key[e - q - 1] = '\0';
}

static int ignored(const char *key) {
  static const char *const keys[] = {"run_id", "threads", "wall_seconds", "run_wall_seconds", "runs_per_second"};
  for (size_t i = 0; i < sizeof keys / sizeof *keys; ++i)
    if (!strcmp(key, keys[i])) return 1;
  return 0;
}

/* File pa and file pb have the same bytes (binary). */
static void same_bytes(const char *pa, const char *pb) {
  FILE *fa = fopen(pa, "rb"), *fb = fopen(pb, "rb");
  assert_non_null(fa);
  assert_non_null(fb);
  long n = 0;
  int ca, cb;
  do {
    ca = fgetc(fa), cb = fgetc(fb);
    assert_int_equal(ca, cb);
    ++n;
  } while (ca != EOF);
  assert_true(n > 128); /* a header and data */
  fclose(fa);
  fclose(fb);
}

/* ensemble.csv of folders a and b byte for byte (and its .npy columns); ensemble.json line for line, except the
 * lines of the ignored keys (which must be there in both, at the same lines). */
static void same_outputs_sfx(const char *a, const char *b, const char *sfx, int nruns) {
  char pa[256], pb[256];
  snprintf(pa, sizeof pa, "%s/ensemble%s.csv", a, sfx);
  snprintf(pb, sizeof pb, "%s/ensemble%s.csv", b, sfx);
  char *x = tu_slurp(pa), *y = tu_slurp(pb);
  assert_non_null(x);
  assert_non_null(y);
  assert_int_equal(tu_count_lines(x), 1 + nruns * 9);
  assert_string_equal(x, y);
  free(x);
  free(y);
  static const char *const cols[] = {"run", "seed", "loss", "t"};
  for (size_t i = 0; i < sizeof cols / sizeof *cols; ++i) { /* the binary table follows the CSV */
    snprintf(pa, sizeof pa, "%s/ensemble%s/%s.npy", a, sfx, cols[i]);
    snprintf(pb, sizeof pb, "%s/ensemble%s/%s.npy", b, sfx, cols[i]);
    same_bytes(pa, pb);
  }
  snprintf(pa, sizeof pa, "%s/ensemble%s.json", a, sfx);
  snprintf(pb, sizeof pb, "%s/ensemble%s.json", b, sfx);
  x = tu_slurp(pa), y = tu_slurp(pb);
  assert_non_null(x);
  assert_non_null(y);
  assert_int_equal(tu_count_lines(x), tu_count_lines(y));
  int skipped = 0;
  for (char *p = x, *q = y; *p && *q;) {
    size_t n = strcspn(p, "\n"), m = strcspn(q, "\n");
    char ka[64], kb[64];
    line_key(p, n, ka, sizeof ka);
    line_key(q, m, kb, sizeof kb);
    assert_string_equal(ka, kb);
    if (ignored(ka)) ++skipped;
    else if (n != m || memcmp(p, q, n)) fail_msg("%s and %s differ at: %.*s | %.*s", pa, pb, (int)n, p, (int)m, q);
    p += n + (p[n] != 0), q += m + (q[m] != 0);
  }
  assert_true(skipped >= 2 * nruns); /* per run: wall_seconds, counters.wall_seconds */
  free(x);
  free(y);
}

static void same_outputs(const char *a, const char *b) { same_outputs_sfx(a, b, "", NRUNS); }

/* ------------------------------------------------------------------ in process */

typedef struct stop_ctx {
  long done, after;
} stop_ctx;

static void on_progress(void *ctx, long done, long total, long failed) {
  (void)total, (void)failed;
  ((stop_ctx *)ctx)->done = done;
}

static int stop_after(void *ctx) {
  const stop_ctx *c = ctx;
  return c->after >= 0 && c->done >= c->after;
}

static int nshards = 1, shard = 0; /* of the next sweep() */

static int sweep(const char *spec, const char *out, int threads, int resume, long after, dln_ensemble_result *res) {
  dln_spec s;
  dln_sweep sw;
  dln_sweep_init(&sw);
  assert_int_equal(dln_spec_default(&s), DLN_OK);
  assert_int_equal(dln_spec_from_json_file(&s, spec), DLN_OK);
  assert_int_equal(dln_sweep_from_json_file(&sw, spec), DLN_OK);
  stop_ctx c = {0, after};
  dln_ensemble_options o;
  dln_ensemble_default_options(&o);
  o.nthreads = threads;
  o.out = out;
  o.resume = resume;
  o.shard = shard;
  o.nshards = nshards;
  o.progress = on_progress;
  o.cancelled = stop_after;
  o.progress_ctx = &c;
  int st = dln_ensemble_run(&s, &sw, &o, res);
  dln_sweep_free(&sw);
  dln_spec_free(&s);
  return st;
}

/* Uninterrupted into out (then renamed to ref); stopped after `after` runs on t1 threads,
 * resumed on t2 threads; the same outputs. */
static void lib_case(const char *spec, const char *name, int t1, int t2, long after) {
  char out[256], ref[256], pdir[300];
  snprintf(out, sizeof out, "%s/%s", dir, name);
  snprintf(ref, sizeof ref, "%s/%s-ref", dir, name);
  snprintf(pdir, sizeof pdir, "%s/.partial", out);
  dln_ensemble_result r;
  assert_int_equal(sweep(spec, out, 2, 0, -1, &r), DLN_OK);
  assert_int_equal(r.ncomplete, NRUNS);
  assert_false(exists(pdir));
  assert_int_equal(rename(out, ref), 0);

  assert_int_equal(sweep(spec, out, t1, 0, after, &r), DLN_OK);
  assert_int_equal(r.cancelled, 1);
  long kept = r.nkept;
  if (kept < after || kept >= NRUNS) fail_msg("%s: stopped after %ld runs, kept %ld of %d", name, after, kept, NRUNS);
  assert_int_equal(count_kept(pdir), kept);
  assert_true(exists(tu_path(pdir, "sweep.json")));
  assert_false(exists(tu_path(out, "ensemble.csv")));

  /* what a SIGKILL mid-write leaves (no handler unlinks it): removed by the resume, here
   * and in data/<i>/; a name of another pattern is the user's and stays */
  char junk[3][320];
  snprintf(junk[0], sizeof junk[0], "%s/ensemble.csv.tmp.Kx3Lm9", out);
  snprintf(junk[1], sizeof junk[1], "%s/data/0/target.npy.tmp.a1B2c3", out);
  snprintf(junk[2], sizeof junk[2], "%s/notes.tmp.txt", out);
  for (int i = 0; i < 3; ++i) tu_write_text(junk[i], "cut short\n");
  assert_int_equal(sweep(spec, out, t2, 1, -1, &r), DLN_OK);
  assert_int_equal(r.cancelled, 0);
  assert_int_equal(r.nresumed, kept);
  assert_int_equal(r.ncomplete, NRUNS);
  same_outputs(ref, out);
  assert_false(exists(pdir));
  assert_false(exists(junk[0]));
  assert_false(exists(junk[1]));
  assert_true(exists(junk[2]));
  assert_int_equal(unlink(junk[2]), 0);
  assert_int_equal(count_files(out, ".tmp."), 0);
}

static void test_lib_resume(void **state) {
  (void)state;
  const char *spec = write_spec("lib.json", "600", "0.01");
  lib_case(spec, "lib1", 1, 2, 5);
  lib_case(spec, "lib2", 2, 1, 3);
}

/* Shard 1 of 3 (runs 1, 4, ..., 13) stopped and resumed on its own. */
static void test_lib_shard(void **state) {
  (void)state;
  const char *spec = write_spec("shard.json", "600", "0.01");
  char out[256], ref[256], pdir[300];
  snprintf(out, sizeof out, "%s/shard", dir);
  snprintf(ref, sizeof ref, "%s/shard-ref", dir);
  snprintf(pdir, sizeof pdir, "%s/.partial.shard1of3", out);
  nshards = 3, shard = 1;
  dln_ensemble_result r;
  assert_int_equal(sweep(spec, out, 2, 0, -1, &r), DLN_OK);
  assert_int_equal(r.ncomplete, 5);
  assert_int_equal(rename(out, ref), 0);
  assert_int_equal(sweep(spec, out, 1, 0, 2, &r), DLN_OK);
  assert_int_equal(r.cancelled, 1);
  long kept = r.nkept;
  if (kept < 2 || kept >= 5) fail_msg("shard: stopped after 2 runs, kept %ld of 5", kept);
  assert_int_equal(count_kept(pdir), kept);
  /* a shard shares its folder with the other shards: a temporary file there may be one
   * they are writing, so it is left alone */
  char other[320];
  snprintf(other, sizeof other, "%s/ensemble.shard0of3.csv.tmp.Sh4rd0", out);
  tu_write_text(other, "another shard's file in progress\n");
  assert_int_equal(sweep(spec, out, 2, 1, -1, &r), DLN_OK);
  assert_int_equal(r.nresumed, kept);
  assert_true(exists(other));
  assert_int_equal(unlink(other), 0);
  nshards = 1, shard = 0;
  same_outputs_sfx(ref, out, ".shard1of3", 5);
  assert_false(exists(pdir));
}

/* A resumed sweep whose spec changed is refused and keeps the partial results; a new
 * sweep without force is refused; lines that are not this sweep's runs are ignored. */
static void test_lib_changed(void **state) {
  (void)state;
  const char *spec = write_spec("chg.json", "600", "0.01");
  char out[256], pdir[300];
  snprintf(out, sizeof out, "%s/chg", dir);
  snprintf(pdir, sizeof pdir, "%s/.partial", out);
  dln_ensemble_result r;
  assert_int_equal(sweep(spec, out, 1, 0, 2, &r), DLN_OK);
  assert_int_equal(r.cancelled, 1);
  long kept = r.nkept;
  assert_true(kept >= 2);
  const char *spec2 = write_spec("chg2.json", "600", "0.02");
  assert_int_equal(sweep(spec2, out, 1, 1, -1, &r), DLN_ESPEC);
  assert_non_null(strstr(dln_last_error(), "option eta"));
  assert_int_equal(count_kept(pdir), kept);
  /* without --resume and --force the interrupted sweep is not thrown away */
  assert_int_equal(sweep(spec, out, 1, 0, -1, &r), DLN_EIO);
  assert_non_null(strstr(dln_last_error(), "--resume"));
  /* a line cut by a kill (no newline) and a line of another sweep are not runs */
  char log[320];
  snprintf(log, sizeof log, "%s/runs.jsonl", pdir);
  FILE *fp = fopen(log, "ab");
  assert_non_null(fp);
  fputs("{\"sweep\": \"0000\", \"run\": 9, \"entry\": {}, \"rows\": \"\", \"stop_reason\": \"time\"}\n{\"sweep\": \"", fp);
  assert_int_equal(fclose(fp), 0);
  assert_int_equal(sweep(spec, out, 2, 1, -1, &r), DLN_OK);
  assert_int_equal(r.nresumed, kept);
  assert_int_equal(r.ncomplete, NRUNS);
  assert_false(exists(pdir));
}

/* ------------------------------------------------------------------ command line */

static int run_cli(const char *const *args) { return tu_wait(tu_spawn(DLN_CLI, args, dir)); }

static char *stderr_text(void) {
  char *e = tu_slurp(tu_path(dir, "stderr.txt"));
  assert_non_null(e);
  return e;
}

static void test_cli_sigterm(void **state) {
  (void)state;
  write_spec("cli.json", "1500", "0.01");
  write_spec("cli2.json", "1500", "0.02");
  const char *full[] = {"sweep", "cli.json", "--out=cut", "--threads=2", "--quiet", NULL};
  assert_int_equal(run_cli(full), 0);
  char ref[256];
  snprintf(ref, sizeof ref, "%s/ref", dir);
  assert_int_equal(rename(tu_path(dir, "cut"), ref), 0);

  const char *cut[] = {"sweep", "cli.json", "--out=cut", "--threads=2", NULL};
  pid_t pid = tu_spawn(DLN_CLI, cut, dir);
  char pdir[256];
  snprintf(pdir, sizeof pdir, "%s/cut/.partial", dir);
  for (int i = 0; i < 4000 && count_kept(pdir) < 2; ++i) sleep_ms(5); /* two runs kept */
  assert_int_equal(kill(pid, SIGTERM), 0);
  assert_int_equal(tu_wait(pid), 143);
  char *err = stderr_text();
  long kept = -1, total = -1;
  const char *p = strstr(err, "SIGTERM; ");
  assert_non_null(p);
  assert_int_equal(sscanf(p, "SIGTERM; %ld of %ld runs finished", &kept, &total), 2);
  assert_int_equal(tu_count_lines(err), 1);
  assert_non_null(strstr(err, "dln sweep cli.json --out cut --resume"));
  free(err);
  assert_int_equal(total, NRUNS);
  assert_true(kept >= 2 && kept < NRUNS);
  assert_int_equal(count_kept(pdir), kept);

  const char *chg[] = {"sweep", "cli2.json", "--out=cut", "--resume", NULL};
  assert_int_equal(run_cli(chg), 65);
  err = stderr_text();
  assert_int_equal(tu_count_lines(err), 1);
  assert_non_null(strstr(err, "option eta"));
  free(err);
  const char *fresh[] = {"sweep", "cli.json", "--out=cut", NULL};
  assert_int_equal(run_cli(fresh), 73);

  const char *res[] = {"sweep", "--out=cut", "--threads=1", "--quiet", "--resume", NULL}; /* the spec stored in cut */
  assert_int_equal(run_cli(res), 0);
  err = stderr_text();
  assert_int_equal(tu_count_lines(err), 1);
  long skipped = -1;
  p = strstr(err, "resume: ");
  assert_non_null(p);
  assert_int_equal(sscanf(p, "resume: %ld finished runs", &skipped), 1);
  assert_int_equal(skipped, kept);
  free(err);
  same_outputs(ref, tu_path(dir, "cut"));
  assert_false(exists(pdir));
  assert_int_equal(count_files(tu_path(dir, "cut"), ".tmp."), 0);
}

int main(void) {
  snprintf(dir, sizeof dir, "%s", tu_tmpdir(0));
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_lib_resume),
      cmocka_unit_test(test_lib_changed),
      cmocka_unit_test(test_lib_shard),
      cmocka_unit_test(test_cli_sigterm),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
