/* dln figure 002-prop5 --quick (src/run/figures/fig002_p5.c): its files and manifest, and
 * runs.csv's numbers redone from runs/<case>/trajectory.csv with this file's own parser:
 * sign changes of det W, violations of 002 Prop. 5's bound |w11| >= (1 - sqrt(6l))^2 /
 * sqrt(6l) (proof, eq. 16) while det W > 0, and the depth-3 balanced flow's loss and |w11|
 * (the norm grows as the loss falls: |w11| sqrt(6l) bounded below, the proof's relation). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "testutil.h"

static char dir[64];

static int exists(const char *p) {
  struct stat sb;
  return stat(p, &sb) == 0;
}

/* Column index of name in a CSV header line (-1: none). */
static int col_of(const char *head, const char *name) {
  char buf[2048];
  snprintf(buf, sizeof buf, "%s", head);
  int k = 0;
  for (char *tok = strtok(buf, ",\n"); tok; tok = strtok(NULL, ",\n"), ++k)
    if (strcmp(tok, name) == 0) return k;
  return -1;
}

static double field(const char *line, int k) {
  const char *p = line;
  for (int i = 0; i < k; ++i) p = strchr(p, ',') + 1;
  return strtod(p, NULL);
}

/* Recount one run: sign changes, bound violations, last loss and |w11|. */
static void recount(const char *sub, int *changes, int *viol, double *loss, double *w11) {
  char path[256], line[2048], head[2048];
  snprintf(path, sizeof path, "%s/f/runs/%s/trajectory.csv", dir, sub);
  FILE *fp = fopen(path, "r");
  assert_non_null(fp);
  assert_non_null(fgets(head, sizeof head, fp));
  int cl = col_of(head, "loss"), cd = col_of(head, "det_sign"), cw = col_of(head, "W_1_1");
  assert_true(cl > 0 && cd > 0 && cw > 0);
  double prev = NAN;
  *changes = *viol = 0;
  while (fgets(line, sizeof line, fp)) {
    double l = field(line, cl), d = field(line, cd), w = fabs(field(line, cw));
    if (!isnan(prev) && d != prev) ++*changes;
    if (d > 0 && l < 1.0 / 6 && w < pow(1 - sqrt(6 * l), 2) / sqrt(6 * l) * (1 - 1e-9)) ++*viol;
    prev = d, *loss = l, *w11 = w;
  }
  fclose(fp);
}

static void test_quick(void **state) {
  (void)state;
  char out[128];
  snprintf(out, sizeof out, "%s/f", dir);
  const char *args[] = {"figure", "002-prop5", "--quick", "--out", out, "--quiet", NULL};
  assert_int_equal(tu_wait(tu_spawn(DLN_CLI, args, dir)), 0);
  const char *names[] = {"manifest.json", "report.md", "plot.py", "runs.csv", "entries.csv",
                         "runs/depth3_balanced_flow_detpos/trajectory.csv"};
  for (size_t i = 0; i < sizeof names / sizeof *names; ++i) assert_true(exists(tu_path(out, names[i])));
  char *man = tu_slurp(tu_path(out, "manifest.json")), *rep = tu_slurp(tu_path(out, "report.md"));
  assert_non_null(man);
  assert_non_null(rep);
  assert_non_null(strstr(man, "\"kind\": \"figure\""));
  assert_non_null(strstr(man, "runs/depth2_unbalanced_gd_detneg/trajectory.csv"));
  assert_non_null(strstr(rep, "Measured: 0 violations"));
  /* runs.csv rows against the recount (row order: fig002_p5.c's case_at) */
  FILE *fp = fopen(tu_path(out, "runs.csv"), "r");
  assert_non_null(fp);
  char line[2048], head[2048];
  assert_non_null(fgets(head, sizeof head, fp));
  int n = 0;
  while (fgets(line, sizeof line, fp)) {
    int d = (int)field(line, 0), bal = (int)field(line, 1), gd = (int)field(line, 2), s = (int)field(line, 3);
    char sub[96];
    snprintf(sub, sizeof sub, "depth%d_%s_%s_det%s", d, bal ? "balanced" : "unbalanced", gd ? "gd" : "flow",
             s > 0 ? "pos" : "neg");
    int ch, vi;
    double l = NAN, w = NAN;
    recount(sub, &ch, &vi, &l, &w);
    assert_int_equal(ch, (int)field(line, col_of(head, "sign_changes")));
    assert_int_equal(vi, 0);
    assert_int_equal((int)field(line, col_of(head, "bound_violations")), 0);
    if (s < 0) assert_int_equal(ch, 0); /* det W < 0 holds the minimizers: no reason to change */
    if (d == 3 && bal && !gd && s > 0) {
      assert_int_equal(ch, 0);           /* Lemma 2 */
      assert_true(l < 1e-2 && l > 0);    /* the loss falls ... */
      assert_true(w * sqrt(6 * l) > 0.3); /* ... and |w11| grows like l^(-1/2) */
      assert_true(w > 5);
    }
    ++n;
  }
  fclose(fp);
  assert_int_equal(n, 16);
  free(man), free(rep);
}

static int setup(void **state) { return (void)state, tu_tmpdir_into(dir, sizeof dir); }

static int teardown(void **state) { return (void)state, tu_rmtree_quiet(dir); }

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_quick)};
  return cmocka_run_group_tests(tests, setup, teardown);
}
