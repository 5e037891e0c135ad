/* Implicit compression (002 §4.4, footnote 11): dln_compress_* (dln/compress.h), the
 * trajectory column compress_rank and `dln compress` (DLN_CLI).
 * Truths, each independent of the code under test:
 *   W = U diag(s) V^T built from random orthogonal U, V (tu_rand_orth) with chosen s: its
 *     rank-ρ truncation is Σ_{l<ρ} s_l u_l v_l^T (tu_usv), its compressible rank the least ρ
 *     with Σ_{i>ρ} s_i² ≤ τ² Σ s_i², counted by a loop here (1e-13 relative);
 *   a CLI run: W = W_2 W_1 from its .npy files by plain loops, its SVD by LAPACKE_dgesvd
 *     (the library uses dgesdd), the factorization loss ½‖W_ρ − Ȳ‖² by a loop over
 *     target.npy: W_compressed.npy and compress.json's losses agree to 1e-12 relative;
 *     parameter counts Σ_j d_j d_{j−1}, d_N d_0 and ρ(d_0 + d_N − ρ) by hand;
 *   the compress_rank column of the run's last row equals compress.json's default rank;
 *   tampered, incomplete and unverifiable folders are refused (exit 5 / 65, one line,
 *   nothing written). */
#include <lapacke.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "testutil.h"

#include "dln/compress.h"
#include "dln/error.h"
#include "dln/io.h"
#include "dln/observe.h"

static char dir[64];

static const char *tpath(const char *name) { return tu_path(dir, name); }

static int run_cli(const char *const *args) {
  int rc = tu_wait(tu_spawn(DLN_CLI, args, dir));
  if (tu_verbose()) {
    char *e = tu_slurp(tpath("stderr.txt"));
    print_message("exit %d: %s", rc, e ? e : "");
    free(e);
  }
  return rc;
}

/* The least ρ with Σ_{i≥ρ} s_i² ≤ τ² Σ s_i² (0-based), by a loop over ρ upward. */
static int hand_rank(int k, const double *s, double tau) {
  long double tot = 0;
  for (int i = 0; i < k; ++i) tot += (long double)s[i] * s[i];
  for (int r = 0; r <= k; ++r) {
    long double tail = 0;
    for (int i = r; i < k; ++i) tail += (long double)s[i] * s[i];
    if (tail <= (long double)tau * tau * tot) return r;
  }
  return k;
}

static void test_truncate_hand(void **state) {
  (void)state;
  enum { M = 4, N = 5, K = 4 };
  double U[M * M], V[N * N], W[M * N], Wr[M * N], Wc[M * N], sv[K];
  const double s[K] = {5, 2, 1e-2, 1e-4};
  tu_rand_orth(M, U);
  tu_rand_orth(N, V);
  tu_usv(M, N, K, U, s, V, W);
  dln_compress_result r;
  for (int rho = 0; rho <= K; ++rho) {
    assert_int_equal(dln_compress_truncate(M, N, W, rho, 0, Wc, sv, &r), DLN_OK);
    tu_usv(M, N, rho, U, s, V, Wr);
    assert_true(tu_maxdiff(M * N, Wc, Wr) <= 1e-13 * s[0]);
    for (int i = 0; i < K; ++i) assert_close(sv[i], s[i], 1e-10, 1e-14 * s[0]);
    assert_int_equal(r.rank, rho);
    assert_true(isnan(r.tol));
    long double tail = 0, tot = 0;
    for (int i = 0; i < K; ++i) tot += (long double)s[i] * s[i], tail += i >= rho ? (long double)s[i] * s[i] : 0;
    assert_close(r.tail_rel, (double)sqrtl(tail / tot), 1e-9, 1e-16);
    assert_int_equal(r.params_full, M * N);
    assert_int_equal(r.params_rank, (long long)rho * (M + N - rho));
  }
  assert_true(memcmp(Wc, W, sizeof W) == 0); /* ρ = k: W itself */
  /* by tolerance: τ = 1e-3 drops σ_4 only; 2e-3 drops σ_3 too; 0 drops nothing */
  const double taus[] = {0, 1e-5, 1e-3, 2e-3, 0.3, 0.4, 1};
  for (size_t i = 0; i < sizeof taus / sizeof *taus; ++i) {
    assert_int_equal(dln_compress_truncate(M, N, W, -1, taus[i], Wc, NULL, &r), DLN_OK);
    if (tu_verbose()) print_message("tol %g: rank %d (hand %d)\n", taus[i], r.rank, hand_rank(K, s, taus[i]));
    assert_int_equal(r.rank, hand_rank(K, s, taus[i]));
    assert_true(r.tol == taus[i]);
    int rr = -1;
    assert_int_equal(dln_compress_rank(K, s, taus[i], &rr), DLN_OK);
    assert_int_equal(rr, r.rank);
  }
  assert_int_equal(dln_compress_truncate(M, N, W, -1, 1e-3, NULL, NULL, &r), DLN_OK);
  assert_int_equal(r.rank, 3);
  assert_int_equal(dln_compress_truncate(M, N, W, -1, 2e-3, NULL, NULL, &r), DLN_OK);
  assert_int_equal(r.rank, 2);
  long long p = 0;
  assert_int_equal(dln_compress_params(4, 5, 2, &p), DLN_OK);
  assert_int_equal(p, 14); /* 2 (4 + 5 − 2), 002 footnote 11 */
  assert_int_equal(dln_compress_params(7, 3, 3, &p), DLN_OK);
  assert_int_equal(p, 21); /* full rank: d_N d_0 */
  double zero[6] = {0};
  int rr = -1;
  assert_int_equal(dln_compress_rank(6, zero, 1e-3, &rr), DLN_OK);
  assert_int_equal(rr, 0);
}

/* The column on W with known singular values (depth 1: θ = W). */
static void test_column_closed(void **state) {
  (void)state;
  enum { M = 4, N = 5, K = 4 };
  const double cases[][K] = {{1, 0.5, 1e-3, 1e-4}, {1, 0.5, 2e-3, 0}, {0, 0, 0, 0}, {1, 1, 1, 1}, {3, 1e-2, 1e-2, 1e-2}};
  int widths[2] = {N, M};
  dln_net *net = NULL;
  assert_int_equal(dln_net_alloc(&net, 1, widths, 0), DLN_OK);
  double Y[M * N], U[M * M], V[N * N], th[M * N], row[8];
  tu_fill_gauss(M * N, Y, 1);
  dln_loss *loss = tu_fact_loss(M, N, Y);
  tu_rand_orth(M, U);
  tu_rand_orth(N, V);
  const char *names[] = {"compress"};
  dln_observer *obs = NULL;
  assert_int_equal(dln_observer_alloc_names(&obs, net, loss, th, names, 1), DLN_OK);
  int c = dln_observer_col(obs, "compress_rank");
  assert_int_equal(c, 2);
  assert_int_equal(dln_observer_ncols(obs), 3);
  for (size_t i = 0; i < sizeof cases / sizeof *cases; ++i) {
    tu_usv(M, N, K, U, cases[i], V, th);
    assert_int_equal(dln_observer_eval(obs, 0.5, 1, th, row), DLN_OK);
    int want = hand_rank(K, cases[i], DLN_COMPRESS_TOL);
    if (tu_verbose()) print_message("s = (%g, %g, %g, %g): compress_rank %g, hand %d\n", cases[i][0], cases[i][1], cases[i][2], cases[i][3], row[c], want);
    assert_true(row[c] == (double)want);
  }
  assert_int_equal(hand_rank(K, cases[0], 1e-3), 2); /* the closed cases themselves */
  assert_int_equal(hand_rank(K, cases[1], 1e-3), 3);
  th[3] = NAN;
  assert_int_equal(dln_observer_eval(obs, 0.5, 1, th, row), DLN_OK);
  assert_true(isnan(row[c]));
  dln_observer_free(obs);
  dln_loss_free(loss);
  dln_net_free(net);
}

static dln_mat *load(const char *name) {
  dln_mat *m = NULL;
  assert_int_equal(dln_npy_read(tpath(name), &m), DLN_OK);
  return m;
}

static json_t *load_json(const char *name) {
  json_error_t e;
  json_t *j = json_load_file(tpath(name), 0, &e);
  if (!j) print_error("%s: %s\n", name, e.text);
  assert_non_null(j);
  return j;
}

static double jnum(json_t *o, const char *a, const char *b) {
  json_t *x = json_object_get(o, a);
  if (b) x = json_object_get(x, b);
  assert_true(json_is_number(x));
  return json_number_value(x);
}

/* ½‖A − Y‖² over n entries. */
static double half_sq(size_t n, const double *A, const double *Y) {
  long double s = 0;
  for (size_t i = 0; i < n; ++i) s += (long double)(A[i] - Y[i]) * (A[i] - Y[i]);
  return (double)(0.5L * s);
}

/* The last value of column name in dir/r/trajectory.csv. */
static double last_col(const char *name) {
  char *t = tu_slurp(tpath("r/trajectory.csv"));
  assert_non_null(t);
  int col = -1, k = 0;
  for (char *p = t; *p && *p != '\n'; ++k) {
    size_t n = strcspn(p, ",\n");
    if (n == strlen(name) && !strncmp(p, name, n)) col = k;
    p += n + (p[n] == ',');
  }
  assert_true(col >= 0);
  char *last = t + strlen(t) - 1;
  while (last > t && last[-1] != '\n') --last;
  for (int i = 0; i < col; ++i) last = strchr(last, ',') + 1;
  double v = strtod(last, NULL);
  free(t);
  return v;
}

static void test_cli_against_hand(void **state) {
  (void)state;
  enum { R = 3, C = 4, H = 6, KK = 3 };
  const char *run[] = {"run", "--task=factorization", "--rows=3", "--cols=4", "--widths=4,6,3", "--t_end=5", "--samples=5",
                       "--plot=false", "--quiet", "--out=r", NULL};
  assert_int_equal(run_cli(run), 0);
  const char *c1[] = {"compress", "r", "--rank=1", "--save_w=wc.npy", "--out=c1.json", "--quiet", NULL};
  assert_int_equal(run_cli(c1), 0);
  dln_mat *W1 = load("r/W1_final.npy"), *W2 = load("r/W2_final.npy"), *Y = load("r/target.npy"), *Wc = load("wc.npy");
  assert_true(W1->rows == H && W1->cols == C && W2->rows == R && W2->cols == H && Y->rows == R && Y->cols == C);
  double W[R * C], A[R * C], s[KK], U[R * R], Vt[C * C], sup[KK], Wr[R * C];
  tu_mm(0, 0, R, C, H, W2->data, W1->data, W);
  memcpy(A, W, sizeof W);
  assert_int_equal(LAPACKE_dgesvd(LAPACK_COL_MAJOR, 'A', 'A', R, C, A, R, s, U, R, Vt, C, sup), 0);
  for (int j = 0; j < C; ++j)
    for (int i = 0; i < R; ++i) Wr[i + j * R] = s[0] * U[i] * Vt[0 + j * C]; /* σ_1 u_1 v_1^T */
  assert_true(Wc->rows == R && Wc->cols == C);
  assert_true(tu_maxdiff(R * C, Wc->data, Wr) <= 1e-12 * s[0]);
  json_t *j = load_json("c1.json");
  assert_int_equal(jnum(j, "rank", NULL), 1);
  assert_close(jnum(j, "loss", "before"), half_sq(R * C, W, Y->data), 1e-12, 0);
  assert_close(jnum(j, "loss", "after"), half_sq(R * C, Wr, Y->data), 1e-12, 0);
  assert_close(jnum(j, "loss", "recorded"), half_sq(R * C, W, Y->data), 1e-12, 0);
  assert_true(jnum(j, "params", "network") == C * H + H * R);
  assert_true(jnum(j, "params", "end_to_end") == R * C);
  assert_true(jnum(j, "params", "compressed") == 1 * (R + C - 1));
  for (int i = 0; i < KK; ++i) assert_close(json_number_value(json_array_get(json_object_get(j, "singular_values"), (size_t)i)), s[i], 1e-12, 1e-15);
  if (tu_verbose()) print_message("rank 1: loss %.17g -> %.17g (hand %.17g)\n", jnum(j, "loss", "before"), jnum(j, "loss", "after"), half_sq(R * C, Wr, Y->data));
  json_decref(j);
  /* the default rule, the column's: the last compress_rank sample */
  const char *c2[] = {"compress", "r", "--quiet", NULL};
  assert_int_equal(run_cli(c2), 0);
  j = load_json("r/compress.json");
  int want = hand_rank(KK, s, DLN_COMPRESS_TOL);
  assert_int_equal(jnum(j, "rank", NULL), want);
  assert_true(last_col("compress_rank") == want);
  assert_true(jnum(j, "params", "compressed") == want * (R + C - want));
  json_decref(j);
  /* --tol 0.5: hand rank of the same s */
  const char *c3[] = {"compress", "r", "--tol=0.5", "--out=c3.json", "--quiet", NULL};
  assert_int_equal(run_cli(c3), 0);
  j = load_json("c3.json");
  assert_int_equal(jnum(j, "rank", NULL), hand_rank(KK, s, 0.5));
  assert_close(jnum(j, "tol", NULL), 0.5, 0, 0);
  json_decref(j);
  /* compress.json in the folder does not disturb dln check */
  const char *chk[] = {"check", "r", "--quiet", NULL};
  assert_int_equal(run_cli(chk), 0);
  dln_mat_free(W1), dln_mat_free(W2), dln_mat_free(Y), dln_mat_free(Wc);
}

/* End-to-end (W_final.npy) and tied (U U^T) runs: ℓ(W) is the loss the run recorded, and
 * keeping every singular value keeps W, so the loss is unchanged to the last bit. */
static void test_e2e_and_tied(void **state) {
  (void)state;
  const char *e2e[] = {"run", "--task=factorization", "--rows=3", "--cols=3", "--widths=3,5,3", "--init=balanced",
                       "--method=e2e_flow", "--t_end=2", "--samples=3", "--plot=false", "--quiet", "--out=e", NULL};
  const char *tied[] = {"run", "--task=factorization", "--rows=3", "--cols=3", "--widths=3,4,3", "--tied", "--t_end=2",
                        "--samples=3", "--plot=false", "--quiet", "--out=u", NULL};
  assert_int_equal(run_cli(e2e), 0);
  assert_int_equal(run_cli(tied), 0);
  const char *ce[] = {"compress", "e", "--rank=3", "--quiet", NULL}, *cu[] = {"compress", "u", "--rank=3", "--quiet", NULL};
  assert_int_equal(run_cli(ce), 0);
  assert_int_equal(run_cli(cu), 0);
  const char *files[] = {"e/compress.json", "u/compress.json"};
  for (int i = 0; i < 2; ++i) {
    json_t *j = load_json(files[i]);
    assert_close(jnum(j, "loss", "before"), jnum(j, "loss", "recorded"), 1e-12, 0);
    assert_true(jnum(j, "loss", "after") == jnum(j, "loss", "before"));
    assert_true(jnum(j, "params", "compressed") == 9 && jnum(j, "params", "end_to_end") == 9);
    assert_true(jnum(j, "params", "network") == (i == 0 ? 30 : 12)); /* tied: the entries of U */
    json_decref(j);
  }
}

/* A fresh copy of the run q into name, then the edit. */
static void copy_run(const char *name, const char *edit) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "cd '%s' && rm -rf %s && cp -r q %s && %s", dir, name, name, edit);
  assert_int_equal(system(cmd), 0);
}

static void expect_refused(const char *name, int code, const char *needle) {
  const char *args[] = {"compress", name, "--quiet", NULL};
  assert_int_equal(run_cli(args), code);
  char *e = tu_slurp(tpath("stderr.txt"));
  assert_non_null(e);
  if (!strstr(e, needle)) print_error("stderr: %s (expected \"%s\")\n", e, needle);
  assert_non_null(strstr(e, needle));
  assert_int_equal(tu_count_lines(e), 1);
  free(e);
  char p[128];
  snprintf(p, sizeof p, "%s/compress.json", name);
  assert_null(tu_slurp(tpath(p)));
}

static void test_refusals(void **state) {
  (void)state;
  const char *run[] = {"run", "--task=factorization", "--rows=2", "--cols=3", "--widths=3,4,2", "--t_end=0.5", "--samples=3",
                       "--plot=false", "--quiet", "--out=q", NULL};
  assert_int_equal(run_cli(run), 0);
  copy_run("t1", "echo 1,2 >> t1/trajectory.csv");
  expect_refused("t1", 5, "t1/trajectory.csv");
  copy_run("t2", "cp t2/W1_final.npy t2/W1_final.npy.tmp && cp t2/W1_init.npy t2/W1_final.npy");
  expect_refused("t2", 5, "W1_final.npy");
  copy_run("t3", "cp t3/W1_final.npy t3/extra.npy");
  expect_refused("t3", 5, "extra.npy: not listed");
  copy_run("t4", "sed -i 's/\"complete\": true/\"complete\": false/' t4/manifest.json");
  expect_refused("t4", 5, "complete");
  copy_run("t5", "rm t5/manifest.json");
  expect_refused("t5", 65, "manifest.json: expected the manifest of a finished run");
  copy_run("t6", "rm t6/W2_final.npy");
  expect_refused("t6", 5, "W2_final.npy");
  const char *big[] = {"compress", "q", "--rank=3", NULL};
  assert_int_equal(run_cli(big), 65);
  const char *both[] = {"compress", "q", "--rank=1", "--tol=0.1", NULL};
  assert_int_equal(run_cli(both), 64);
  const char *none[] = {"compress", "nowhere", NULL};
  assert_int_equal(run_cli(none), 66);
  assert_null(tu_slurp(tpath("q/compress.json")));
}

static int setup(void **state) { return (void)state, tu_tmpdir_into(dir, sizeof dir); }
static int teardown(void **state) { return (void)state, tu_rmtree_quiet(dir); }

int main(void) {
  tu_seed(20261204);
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_truncate_hand), cmocka_unit_test(test_column_closed),
                                     cmocka_unit_test(test_cli_against_hand), cmocka_unit_test(test_e2e_and_tied),
                                     cmocka_unit_test(test_refusals)};
  return cmocka_run_group_tests(tests, setup, teardown);
}
