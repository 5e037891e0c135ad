/* Table-driven bad-input test of the dln command: one row of tests/bad_inputs/cases.tsv per
 * case (format at the top of that file). Each row runs DLN_CLI in a fresh folder after
 * creating its files, and checks the exit code, that stderr is at most one line containing
 * the expected fragment, that dln finished within the time limit (no blocking on a FIFO),
 * and which files must or must not exist afterwards. */
#define _DEFAULT_SOURCE /* usleep */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "dln/io.h"
#include "testutil.h"

#define MAXCASES 256
#define CASE_TIMEOUT 20.0 /* seconds before a case counts as blocked and is killed */

typedef struct bad_case {
  int line, code;
  char *name, *fragment, *setup, *args, *after;
} bad_case;

static bad_case cases[MAXCASES];
static int ncases;
static char root[64];
static double max_seconds;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* "\n", "\r", "\t", "\\", "\xHH" in place. */
static size_t unescape(char *s) {
  char *w = s;
  for (const char *r = s; *r; ++r) {
    if (*r != '\\' || !r[1]) {
      *w++ = *r;
      continue;
    }
    ++r;
    if (*r == 'n') *w++ = '\n';
    else if (*r == 't') *w++ = '\t';
    else if (*r == 'r') *w++ = '\r';
    else if (*r == 'x' && r[1] && r[2]) {
      char hex[3] = {r[1], r[2], 0};
      *w++ = (char)strtol(hex, NULL, 16);
      r += 2;
    } else
      *w++ = *r;
  }
  *w = '\0';
  return (size_t)(w - s);
}

/* Split s at sep into at most max fields (in place). */
static int split(char *s, const char *sep, char **out, int max) {
  int n = 0;
  char *save = NULL;
  for (char *t = strtok_r(s, sep, &save); t && n < max; t = strtok_r(NULL, sep, &save)) out[n++] = t;
  return n;
}

static void load_cases(void) {
  char *text = tu_slurp(DLN_SOURCE_DIR "/tests/bad_inputs/cases.tsv");
  assert_non_null(text);
  int lineno = 0;
  char *save = NULL;
  for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
    ++lineno;
    if (*l == '#' || *l == '\0') continue;
    char *f[6] = {0};
    int n = 0;
    for (char *p = l; n < 6; ++n) { /* tab-separated, empty fields kept */
      f[n] = p;
      char *t = strchr(p, '\t');
      if (!t) {
        ++n;
        break;
      }
      *t = '\0';
      p = t + 1;
    }
    if (n != 6 || ncases >= MAXCASES) {
      print_error("cases.tsv: row \"%s\": expected 6 tab-separated fields, found %d\n", f[0], n);
      fail();
    }
    bad_case *c = &cases[ncases++];
    c->line = lineno;
    c->name = f[0];
    c->code = atoi(f[1]);
    c->fragment = strcmp(f[2], "-") ? f[2] : NULL;
    c->setup = strcmp(f[3], "-") ? f[3] : NULL;
    c->args = strcmp(f[4], "-") ? f[4] : NULL;
    c->after = strcmp(f[5], "-") ? f[5] : NULL;
  } /* text is kept: the cases point into it */
}

/* Run dln ARGS (space-separated) in the case folder; it must succeed (an earlier run). */
static void setup_dln(const char *dir, char *args) {
  char *argv[64] = {0};
  split(args, " ", argv, 63);
  int rc = tu_wait(tu_spawn(DLN_CLI, (const char *const *)argv, dir));
  if (rc != 0) print_error("cases.tsv: setup 'dln %s' exited %d\n", args, rc);
  assert_int_equal(rc, 0);
}

/* One setup action in the case folder: file NAME=TEXT | fifo NAME | dir NAME | link NAME=TARGET |
 * npy NAME=RxC:V | dln ARGS. */
static void setup_one(const char *dir, char *act) {
  char *sp = strchr(act, ' ');
  assert_non_null(sp);
  *sp = '\0';
  if (strcmp(act, "dln") == 0) {
    setup_dln(dir, sp + 1);
    return;
  }
  char *arg = sp + 1, *eq = strchr(arg, '=');
  if (eq) *eq = '\0';
  const char *path = tu_path(dir, arg);
  if (strcmp(act, "file") == 0) {
    assert_non_null(eq);
    size_t n = unescape(eq + 1);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(eq + 1, 1, n, fp), n);
    assert_int_equal(fclose(fp), 0);
  } else if (strcmp(act, "fifo") == 0) {
    (void)unlink(path); /* replaces a file of an earlier run */
    assert_int_equal(mkfifo(path, 0644), 0);
  } else if (strcmp(act, "link") == 0) {
    assert_non_null(eq);
    assert_int_equal(symlink(eq + 1, path), 0);
  } else if (strcmp(act, "dir") == 0) {
    assert_int_equal(mkdir(path, 0755), 0);
  } else if (strcmp(act, "npy") == 0) {
    int r = 0, c = 0;
    double v = 0;
    assert_non_null(eq);
    assert_int_equal(sscanf(eq + 1, "%dx%d:%lf", &r, &c, &v), 3);
    double *a = tu_dalloc((size_t)r * (size_t)c);
    for (size_t i = 0; i < (size_t)r * (size_t)c; ++i) a[i] = v * (double)(1 + i % 7);
    assert_int_equal(dln_npy_write(path, r, c, a, 0), 0);
    free(a);
  } else {
    print_error("cases.tsv: unknown setup action '%s'\n", act);
    fail();
  }
}

/* The bytes of a file (NULL if it cannot be read), their number in *n. */
static char *read_bytes(const char *path, size_t *n) {
  struct stat sb;
  if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) return NULL;
  char *b = tu_slurp(path);
  *n = (size_t)sb.st_size;
  return b;
}

/* Before dln runs: the bytes of every file named by a "same PATH" check (kept[i] for check i). */
static void snapshot(const char *dir, char **chks, int nc, char **kept, size_t *nkept) {
  for (int i = 0; i < nc; ++i) {
    const char *c = chks[i] + strspn(chks[i], " ");
    kept[i] = strncmp(c, "same ", 5) == 0 ? read_bytes(tu_path(dir, c + 5), &nkept[i]) : NULL;
    if (strncmp(c, "same ", 5) == 0 && !kept[i]) print_error("%s: expected a file before dln runs\n", c + 5);
    if (strncmp(c, "same ", 5) == 0) assert_non_null(kept[i]);
  }
}

/* One check afterwards: exists PATH | absent PATH | size PATH BYTES | same PATH (the bytes it
 * had before dln ran; kept, nkept). */
static void check_after(const char *dir, char *chk, const char *kept, size_t nkept) {
  char *w[3] = {0};
  int n = split(chk, " ", w, 3);
  assert_true(n >= 2);
  struct stat sb;
  int ex = stat(tu_path(dir, w[1]), &sb) == 0;
  if (strcmp(w[0], "same") == 0) {
    size_t nnow = 0;
    char *now_b = read_bytes(tu_path(dir, w[1]), &nnow);
    int same = now_b && kept && nnow == nkept && memcmp(now_b, kept, nkept) == 0;
    if (!same) print_error("%s: expected the bytes it had before dln ran, found %s\n", w[1], now_b ? "others" : "no file");
    free(now_b);
    assert_true(same);
  } else if (strcmp(w[0], "exists") == 0 || strcmp(w[0], "absent") == 0) {
    if (ex != (w[0][0] == 'e')) print_error("%s: expected %s\n", w[1], w[0]);
    assert_int_equal(ex, w[0][0] == 'e');
  } else if (strcmp(w[0], "size") == 0 && n == 3) {
    if (!ex || sb.st_size != atoll(w[2])) print_error("%s: expected %s bytes, found %lld\n", w[1], w[2], ex ? (long long)sb.st_size : -1LL);
    assert_true(ex && sb.st_size == atoll(w[2]));
  } else {
    print_error("cases.tsv: unknown check '%s'\n", w[0]);
    fail();
  }
}

/* Run dln with a time limit: its exit status, or -1 if it was killed (blocked). */
static int run_limited(const char *dir, const char *const *argv, double *secs) {
  double t0 = now();
  pid_t pid = tu_spawn(DLN_CLI, argv, dir);
  int status = 0;
  for (;;) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    assert_true(r == 0 || errno == EINTR);
    if (now() - t0 > CASE_TIMEOUT) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      *secs = now() - t0;
      return -1;
    }
    usleep(2000);
  }
  *secs = now() - t0;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void run_case(void **state) {
  bad_case *c = *state;
  char dir[128];
  snprintf(dir, sizeof dir, "%s/%s", root, c->name);
  assert_int_equal(mkdir(dir, 0755), 0);
  char *acts[32], *argv[64] = {0}, *chks[16];
  char *setup = c->setup ? strdup(c->setup) : NULL, *args = c->args ? strdup(c->args) : strdup(""),
       *after = c->after ? strdup(c->after) : NULL;
  int na = setup ? split(setup, ";", acts, 32) : 0;
  for (int i = 0; i < na; ++i) setup_one(dir, acts[i] + strspn(acts[i], " "));
  split(args, " ", argv, 63);
  char *kept[16] = {0};
  size_t nkept[16] = {0};
  int nc = after ? split(after, ";", chks, 16) : 0;
  snapshot(dir, chks, nc, kept, nkept);
  double secs = 0;
  int rc = run_limited(dir, (const char *const *)argv, &secs);
  if (secs > max_seconds) max_seconds = secs;
  char *err = tu_slurp(tu_path(dir, "stderr.txt"));
  assert_non_null(err);
  int ok = rc == c->code && tu_count_lines(err) <= 1 && (!c->fragment || strstr(err, c->fragment));
  if (!ok || tu_verbose())
    print_message("cases.tsv:%d %s: exit %d (expected %d) in %.2f s, stderr: %s(expected one line with \"%s\")\n", c->line,
                  c->name, rc, c->code, secs, *err ? err : "(empty)\n", c->fragment ? c->fragment : "");
  assert_int_equal(rc, c->code);
  assert_true(tu_count_lines(err) <= 1);
  if (c->fragment) assert_non_null(strstr(err, c->fragment));
  for (int i = 0; i < nc; ++i) {
    check_after(dir, chks[i] + strspn(chks[i], " "), kept[i], nkept[i]);
    free(kept[i]);
  }
  free(err);
  free(setup);
  free(args);
  free(after);
}

int main(void) {
  snprintf(root, sizeof root, "%s", tu_tmpdir(0));
  load_cases();
  static struct CMUnitTest tests[MAXCASES];
  for (int i = 0; i < ncases; ++i)
    tests[i] = (struct CMUnitTest){cases[i].name, run_case, NULL, NULL, &cases[i]};
  int failed = _cmocka_run_group_tests("bad_inputs", tests, (size_t)ncases, NULL, NULL);
  printf("bad_inputs: %d cases, slowest %.2f s\n", ncases, max_seconds);
  tu_rmtree(root);
  return failed;
}
