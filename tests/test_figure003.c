/* dln figure 003-fig1 / 003-fig2 (src/run/figures/fig003_*.c, docs/figures.md) at --quick:
 * files and manifest, and each verdict's numbers redone from the data files: the
 * least-squares slope and its 95% CI (t quantile from a table), the counts below the
 * bounds, eq. 20's h^{-1/2} shape, the largest loss / Theorem 1 bound ratio and rate = 2c
 * (λ_r(Σ_x) = 1 by construction). And dln_theory_imbalance_c's wide-net path (h > d_0 + m,
 * a (d_0 + m)-sized eigenproblem) against a dense eigendecomposition of Λ (003 eq. 9). */
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

#include "dln/error.h"
#include "dln/mat.h"
#include "dln/net.h"
#include "dln/theory.h"

static char dir[64];


/* Run `dln figure NAME --quick --out NAME` with matplotlib hidden (data path only). */
static void run_fig(const char *name) {
  char hide[128];
  snprintf(hide, sizeof hide, "%s/hide", dir);
  mkdir(hide, 0755);
  mkdir(tu_path(hide, "matplotlib"), 0755);
  tu_write_text(tu_path(hide, "matplotlib/__init__.py"), "raise ImportError('hidden by test_figure003')\n");
  setenv("PYTHONPATH", hide, 1);
  int rc = tu_wait(tu_spawn(DLN_CLI, (const char *[]){"figure", name, "--quick", "--out", name, NULL}, dir));
  unsetenv("PYTHONPATH");
  assert_int_equal(rc, 0);
  char q[128], *m;
  snprintf(q, sizeof q, "%s/%s", dir, name);
  m = tu_slurp(tu_path(q, "manifest.json"));
  assert_non_null(m);
  assert_non_null(strstr(m, "\"kind\": \"figure\""));
  assert_non_null(strstr(m, "\"plot.py\""));
  assert_non_null(strstr(m, "\"report.md\""));
  free(m);
}

/* A numeric CSV with a header into rows of at most 12 numbers; returns the row count. */
static int read_csv(const char *path, double (*rows)[12], int cap) {
  FILE *fp = fopen(path, "r");
  assert_non_null(fp);
  char line[1024];
  int n = 0;
  assert_non_null(fgets(line, sizeof line, fp));
  while (fgets(line, sizeof line, fp)) {
    assert_true(n < cap);
    char *s = line;
    for (int k = 0; k < 12 && *s && *s != '\n'; ++k) {
      rows[n][k] = strtod(s, &s);
      if (*s == ',') ++s;
    }
    ++n;
  }
  fclose(fp);
  return n;
}

static void test_fig1(void **state) {
  (void)state;
  run_fig("003-fig1");
  static double r[64][12], f[2][12];
  char q[128];
  snprintf(q, sizeof q, "%s/003-fig1", dir);
  int n = read_csv(tu_path(q, "runs.csv"), r, 64), below20 = 0, belowB = 0;
  assert_int_equal(n, 6); /* --quick: 3 widths x 2 runs */
  assert_int_equal(read_csv(tu_path(q, "fit.csv"), f, 2), 1);
  double mx = 0, my = 0, sxx = 0, sxy = 0, rss = 0;
  for (int i = 0; i < n; ++i) mx += log(r[i][0]) / n, my += log(r[i][2]) / n;
  for (int i = 0; i < n; ++i) sxx += pow(log(r[i][0]) - mx, 2), sxy += (log(r[i][0]) - mx) * (log(r[i][2]) - my);
  double s = sxy / sxx, a = my - s * mx;
  for (int i = 0; i < n; ++i) rss += pow(log(r[i][2]) - a - s * log(r[i][0]), 2);
  double half = 2.776445 * sqrt(rss / (n - 2) / sxx); /* t_{0.975, 4} from a table */
  assert_true(fabs(f[0][0] - s) <= 1e-9 && fabs(f[0][3] - a) <= 1e-9);
  assert_true(fabs(f[0][1] - (s - half)) <= 2e-3 * half && fabs(f[0][2] - (s + half)) <= 2e-3 * half);
  for (int i = 0; i < n; ++i) {
    assert_true(fabs(r[i][2] - hypot(r[i][3], r[i][4])) <= 1e-12 * r[i][2]); /* dist = both parts */
    assert_true(r[i][10] <= 1e-14 && r[i][4] < 1e-5);                        /* converged: in-span part ~ ‖E‖ */
    assert_true(fabs(r[i][8] * sqrt(r[i][0]) / (r[0][8] * sqrt(r[0][0])) - 1) <= 1e-9); /* eq. 20 ∝ h^{-1/2} at α = 1/2 */
    below20 += r[i][2] <= r[i][8], belowB += r[i][2] <= r[i][7];
  }
  char *rep = tu_slurp(tu_path(q, "report.md")), want[256];
  assert_non_null(rep);
  snprintf(want, sizeof want, "over %d runs %.4f, 95%% CI [%.4f, %.4f]", n, s, f[0][1], f[0][2]);
  assert_non_null(strstr(rep, want));
  snprintf(want, sizeof want, "%d of %d runs below it", below20, n);
  assert_non_null(strstr(rep, want));
  snprintf(want, sizeof want, "%d of %d runs below B(t_f)", belowB, n);
  assert_non_null(strstr(rep, want));
  int holds = s - half <= -0.5 && -0.5 <= s + half;
  assert_non_null(strstr(rep, holds ? "h^-1/2**: verdict: holds" : "h^-1/2**: verdict: fails"));
  free(rep);
}

static void test_fig2(void **state) {
  (void)state;
  run_fig("003-fig2");
  static double r[1024][12], k[8][12];
  char q[128];
  snprintf(q, sizeof q, "%s/003-fig2", dir);
  int n = read_csv(tu_path(q, "curves.csv"), r, 1024), nk = read_csv(tu_path(q, "cases.csv"), k, 8);
  assert_int_equal(nk, 4);
  assert_int_equal(n, 4 * 101);
  double worst = 0, l0[4] = {0};
  for (int i = 0; i < n; ++i) {
    int c = (int)r[i][0];
    if (r[i][4] == 0) l0[c] = r[i][5];
    if (r[i][1] == 0) continue;                                 /* balanced: no bound */
    assert_true(fabs(r[i][3] - 2 * r[i][2]) <= 1e-10 * r[i][3]); /* rate = 2 λ_r c, λ_r = 1 */
    double gap = l0[c] * exp(-2 * r[i][2] * r[i][4]);           /* L* = 0: n < d_0 */
    assert_true(fabs(r[i][6] - gap) <= 1e-12 * l0[c]);
    if (r[i][4] > 0 && gap > 1e-10 * l0[c]) worst = fmax(worst, r[i][5] / gap);
  }
  for (int c = 1; c < 4; ++c) assert_true(fabs(l0[c] - l0[0]) <= 1e-12 * l0[0]); /* one W(0) */
  assert_true(k[1][2] > k[0][2] && k[2][2] > k[1][2] && fabs(k[3][2]) < 1e-6);   /* c grows; balanced ~ 0 */
  char *rep = tu_slurp(tu_path(q, "report.md")), want[160];
  assert_non_null(rep);
  snprintf(want, sizeof want, "exceeds 1e-10 (L(0) - L*)) = %.6g", worst);
  assert_non_null(strstr(rep, want));
  assert_non_null(strstr(rep, worst <= 1 + 1e-6 ? "below its bound)**: verdict: holds" : "below its bound)**: verdict: fails"));
  free(rep);
}

/* Wide path (h > d_0 + m) against the dense spectrum of Λ = W_1 P W_1^T − W_2^T W_2. */
static void test_imbalance_c_wide(void **state) {
  (void)state;
  enum { D = 4, H = 40, M = 2, NS = 2 };
  dln_net *net = NULL;
  assert_int_equal(dln_net_alloc(&net, 2, (int[]){D, H, M}, 0), DLN_OK);
  double *th = tu_dalloc(net->nparams), *L = tu_dalloc(H * H), ev[H], P[D * D] = {0};
  tu_fill_gauss(net->nparams, th, 0.3);
  dln_mat *X = dln_mat_alloc(D, NS);
  tu_fill_gauss(D * NS, X->data, 1.0);
  for (int withx = 0; withx < 2; ++withx) {
    if (withx) { /* P = X (X^T X)^{-1} X^T for the rank-2 X */
      double g[4] = {0}, det, gi[4];
      for (int i = 0; i < 2; ++i)
        for (int j = 0; j < 2; ++j)
          for (int l = 0; l < D; ++l) g[i + 2 * j] += X->data[l + i * D] * X->data[l + j * D];
      det = g[0] * g[3] - g[1] * g[2];
      gi[0] = g[3] / det, gi[3] = g[0] / det, gi[1] = -g[1] / det, gi[2] = -g[2] / det;
      for (int a = 0; a < D; ++a)
        for (int b = 0; b < D; ++b) {
          P[a + b * D] = 0;
          for (int i = 0; i < 2; ++i)
            for (int j = 0; j < 2; ++j) P[a + b * D] += X->data[a + i * D] * gi[i + 2 * j] * X->data[b + j * D];
        }
    } else {
      for (int a = 0; a < D; ++a) P[a + a * D] = 1;
    }
    const double *W1 = th + net->offset[1], *W2 = th + net->offset[2];
    for (int i = 0; i < H; ++i)
      for (int j = 0; j < H; ++j) {
        double v = 0;
        for (int a = 0; a < D; ++a)
          for (int b = 0; b < D; ++b) v += W1[i + a * H] * P[a + b * D] * W1[j + b * H];
        for (int a = 0; a < M; ++a) v -= W2[a + i * M] * W2[a + j * M];
        L[i + j * H] = v;
      }
    tu_syev(H, L, ev, 0);
    int r = withx ? NS : D;
    double lr = ev[H - r], lm = -ev[M - 1], c = fmax(lr, 0) + fmax(lm, 0), c2, lr2, lm2;
    assert_int_equal(dln_theory_imbalance_c(net, withx ? X : NULL, th, &c2, &lr2, &lm2, NULL, NULL), DLN_OK);
    assert_true(fabs(c2 - c) <= 1e-10 * (1 + c) && fabs(lr2 - lr) <= 1e-10 * (1 + fabs(lr)) &&
                fabs(lm2 - lm) <= 1e-10 * (1 + fabs(lm)));
  }
  dln_mat_free(X), dln_net_free(net), free(th), free(L);
}

/* The plot.py templates parse as Python (they are shipped as written). */
static void test_templates_parse(void **state) {
  (void)state;
  static const char *const py[] = {"fig003_1.py", "fig003_2.py"};
  for (size_t i = 0; i < sizeof py / sizeof *py; ++i) {
    char p[512];
    snprintf(p, sizeof p, "%s/src/run/figures/%s", DLN_SOURCE_DIR, py[i]);
    const char *args[] = {"-c", "import ast, sys; ast.parse(open(sys.argv[1]).read())", p, NULL};
    assert_int_equal(tu_wait(tu_spawn("/usr/bin/python3", args, dir)), 0);
  }
}

static int setup(void **state) { return (void)state, tu_tmpdir_into(dir, sizeof dir); }
static int teardown(void **state) { return (void)state, tu_rmtree_quiet(dir); }

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_fig1), cmocka_unit_test(test_fig2),
                                     cmocka_unit_test(test_imbalance_c_wide), cmocka_unit_test(test_templates_parse)};
  return cmocka_run_group_tests(tests, setup, teardown);
}
