/* The minimum-nuclear-norm baseline (src/theory/nuclear.c, 002 eq. 10) against
 * independent truths:
 *
 *   certificate     recomputed here from dln_nuclear_dual's y with plain loops and
 *                   LAPACKE_dgesvd: 𝒜(W) = b, ‖Σ y_i A_i‖_2 ≤ 1 + 1e-10 and
 *                   ‖W‖_* − bᵀy ≤ 1e-7 ‖W‖_* (weak duality then proves W optimal to 1e-7)
 *   second solver   /usr/bin/python3 tests/nuclear_ref.py: SciPy SLSQP on the Burer–Monteiro
 *                   form min ½(‖L‖² + ‖R‖²) s.t. 𝒜(LRᵀ) = b: ‖W‖_* to 1e-6, W to 1e-4
 *   not the truth   8 Gaussian measurements of a rank-2 4 x 5 matrix (fewer than its
 *                   r(m + n − r) = 14 degrees of freedom): ‖W‖_* < ‖W_true‖_* − 0.05
 *   exact recovery  rank one 12 x 12 from 80 entries, rank one 5 x 5 from 20 Gaussian
 *                   measurements: ‖W − W_true‖/‖W_true‖ ≤ 1e-6, and for completion
 *                   the KKT form P_T(𝒜*(y)) = u vᵀ with the truth's singular vectors
 *   inconsistent    a duplicated entry with two values: W there is their mean
 *   code paths      completion entrywise vs the same problem as dense one-hot A_i
 *   no allocation   in dln_nuclear_solve (heap-call counter)
 *   dist_true       the observable's columns against ‖W_2 W_1 − W_true‖_F written out here;
 *                   the truth of a factorization is its target; no truth, no columns
 *   CLI             dln run --baseline=nuclear on a completion with exact recovery:
 *                   summary "baseline" against W_nuclear.npy and W_true.npy, the final
 *                   dist_true against the product of the W{j}_final.npy files */
#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "dln/error.h"
#include "dln/io.h"
#include "dln/nuclear.h"
#include "dln/observe.h"
#include "dln/spec.h"
#include "dln/task.h"
#include "testutil.h"

#define TOL 1e-9

static void svals(int r, int c, const double *W, double *s) {
  double *a = malloc((size_t)r * c * sizeof *a), sup[64];
  assert_non_null(a);
  memcpy(a, W, (size_t)r * c * sizeof *a);
  assert_int_equal(LAPACKE_dgesvd(LAPACK_COL_MAJOR, 'N', 'N', r, c, a, r, s, NULL, 1, NULL, 1, sup), 0);
  free(a);
}

static double nuc(int r, int c, const double *W) {
  double s[64], t = 0;
  svals(r, c, W, s);
  for (int i = 0; i < (r < c ? r : c); ++i) t += s[i];
  return t;
}

/* ⟨A_i, W⟩ of dense A (n x m) or entrywise idx. */
static double meas(int n, const double *A, const int *idx, int i, const double *W) {
  if (idx) return W[idx[i]];
  double t = 0;
  for (int k = 0; k < n; ++k) t += A[k + (size_t)i * n] * W[k];
  return t;
}

/* The certificate of the last solve, recomputed here; returns ‖W‖_*. */
static double check_certificate(dln_nuclear *s, int r, int c, int m, const double *A, const int *idx, const double *b,
                                const double *W) {
  int n = r * c;
  double *y = malloc((size_t)m * sizeof *y), *M = calloc((size_t)n, sizeof *M), sv[64], by = 0, res = 0, bn = 0;
  assert_non_null(y);
  assert_non_null(M);
  assert_int_equal(dln_nuclear_dual(s, y), DLN_OK);
  for (int i = 0; i < m; ++i) {
    double e = meas(n, A, idx, i, W) - b[i];
    res += e * e, bn += b[i] * b[i], by += b[i] * y[i];
    for (int k = 0; k < n; ++k) M[k] += y[i] * (idx ? (k == idx[i]) : A[k + (size_t)i * n]); /* M = Σ y_i A_i */
  }
  svals(r, c, M, sv);
  double nw = nuc(r, c, W);
  if (tu_verbose()) print_message("  |A(W) - b| %.3g, |A*(y)|_2 %.15g, |W|_* %.12g, b'y %.12g\n", sqrt(res), sv[0], nw, by);
  assert_true(sqrt(res) <= 1e-9 * (1 + sqrt(bn)));
  assert_true(sv[0] <= 1 + 1e-10);
  assert_true(by <= nw * (1 + 1e-10)); /* weak duality */
  assert_true(nw - by <= 1e-7 * nw);
  free(y);
  free(M);
  return nw;
}

/* W = U diag(sv) Vᵀ with random orthonormal factors. */
static void lowrank(int r, int c, int k, const double *sv, double *W) {
  double *U = malloc((size_t)r * r * sizeof *U), *V = malloc((size_t)c * c * sizeof *V);
  assert_non_null(U);
  assert_non_null(V);
  tu_rand_orth(r, U);
  tu_rand_orth(c, V);
  tu_usv(r, c, k, U, sv, V, W);
  free(U);
  free(V);
}

static int have_scipy(void) {
  return access("/usr/bin/python3", X_OK) == 0 &&
         system("/usr/bin/python3 -c 'import numpy, scipy.optimize' >/dev/null 2>&1") == 0;
}

/* Too few measurements: the minimizer is not the truth; ADMM vs SLSQP. */
static void test_sensing_not_truth(void **state) {
  (void)state;
  enum { R = 4, C = 5, N = 20, M = 8 };
  tu_seed(11);
  double Wt[N], A[N * M], b[M], W[N], sv[2] = {2, 1};
  lowrank(R, C, 2, sv, Wt);
  tu_fill_gauss(N * M, A, 1.0);
  for (int i = 0; i < M; ++i) b[i] = meas(N, A, NULL, i, Wt);
  dln_nuclear *s;
  dln_nuclear_result res;
  assert_int_equal(dln_nuclear_alloc(&s, R, C, M, A, NULL, b), DLN_OK);
  assert_int_equal(dln_nuclear_solve(s, TOL, 100000, W, &res), DLN_OK);
  assert_true(res.converged);
  print_message("sensing 4x5, m=8: %d iterations, |W|_* %.10g vs |W_true|_* %.10g, gap %.3g, dist_true %.3g\n",
                res.iterations, res.nuclear_norm, nuc(R, C, Wt), res.duality_gap, tu_diffnorm(N, W, Wt));
  double nw = check_certificate(s, R, C, M, A, NULL, b, W);
  assert_close(res.nuclear_norm, nw, 1e-12, 0);
  assert_true(nw < nuc(R, C, Wt) - 0.05);
  assert_true(tu_diffnorm(N, W, Wt) > 0.1);
  if (!have_scipy()) {
    print_message("  (no /usr/bin/python3 with SciPy: second solver skipped)\n");
  } else {
    char cmd[1024], out[128];
    const char *d = tu_tmpdir(0);
    snprintf(cmd, sizeof cmd, "%s/A.npy", d);
    assert_int_equal(dln_npy_write(cmd, N, M, A, 0), DLN_OK);
    snprintf(cmd, sizeof cmd, "%s/b.npy", d);
    assert_int_equal(dln_npy_write(cmd, M, 1, b, 1), DLN_OK);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/tests/nuclear_ref.py %s/A.npy %s/b.npy %d %d %s/W.npy", DLN_SOURCE_DIR, d, d,
             R, C, d);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    assert_non_null(fgets(out, sizeof out, p));
    assert_int_equal(pclose(p), 0);
    double ref = strtod(out, NULL);
    snprintf(cmd, sizeof cmd, "%s/W.npy", d);
    dln_mat *Wr;
    assert_int_equal(dln_npy_read(cmd, &Wr), DLN_OK);
    /* NumPy saved W row-major as a C array: dln_npy_read gives column-major rows x cols */
    assert_int_equal(Wr->rows, R);
    assert_int_equal(Wr->cols, C);
    print_message("  SLSQP (Burer-Monteiro): |W|_* %.10g, max |W - W_ref| %.3g\n", ref, tu_maxdiff(N, W, Wr->data));
    assert_close(nw, ref, 1e-6, 0);
    assert_true(tu_maxdiff(N, W, Wr->data) < 1e-4);
    dln_mat_free(Wr);
    tu_rmtree(d);
  }
  dln_nuclear_free(s);
}

/* Enough Gaussian measurements: exact recovery of a rank-one matrix. */
static void test_sensing_recovery(void **state) {
  (void)state;
  enum { R = 5, C = 5, N = 25, M = 20 };
  tu_seed(5);
  double Wt[N], A[N * M], b[M], W[N], sv[1] = {3};
  lowrank(R, C, 1, sv, Wt);
  tu_fill_gauss(N * M, A, 1.0);
  for (int i = 0; i < M; ++i) b[i] = meas(N, A, NULL, i, Wt);
  dln_nuclear *s;
  dln_nuclear_result res;
  assert_int_equal(dln_nuclear_alloc(&s, R, C, M, A, NULL, b), DLN_OK);
  assert_int_equal(dln_nuclear_solve(s, TOL, 100000, W, &res), DLN_OK);
  double rel = tu_diffnorm(N, W, Wt) / tu_fro(N, Wt);
  print_message("sensing 5x5 rank 1, m=20: %d iterations, rel dist_true %.3g, rel gap %.3g, rank %d\n", res.iterations, rel,
                res.rel_gap, res.rank);
  assert_true(res.converged);
  check_certificate(s, R, C, M, A, NULL, b, W);
  assert_true(rel <= 1e-6);
  assert_int_equal(res.rank, 1);
  dln_nuclear_free(s);
}

/* m distinct entries of W chosen at random (partial Fisher–Yates). */
static void pick_entries(int n, int m, int *idx) {
  int *p = malloc((size_t)n * sizeof *p);
  assert_non_null(p);
  for (int i = 0; i < n; ++i) p[i] = i;
  for (int i = 0; i < m; ++i) {
    int j = i + (int)(tu_urand() * (n - i));
    if (j >= n) j = n - 1;
    int t = p[i];
    p[i] = p[j], p[j] = t;
    idx[i] = p[i];
  }
  free(p);
}

/* Completion of a rank-one 12 x 12 matrix from 80 entries, with the KKT form of the dual. */
static void test_completion_recovery(void **state) {
  (void)state;
  enum { R = 12, C = 12, N = 144, M = 80 };
  tu_seed(3);
  double u[R], v[C], Wt[N], b[M], W[N], y[M];
  int idx[M];
  tu_fill_gauss(R, u, 1.0);
  tu_fill_gauss(C, v, 1.0);
  for (int j = 0; j < C; ++j)
    for (int i = 0; i < R; ++i) Wt[i + j * R] = u[i] * v[j];
  pick_entries(N, M, idx);
  for (int i = 0; i < M; ++i) b[i] = Wt[idx[i]];
  dln_nuclear *s;
  dln_nuclear_result res;
  assert_int_equal(dln_nuclear_alloc(&s, R, C, M, NULL, idx, b), DLN_OK);
  long before = 0;
  dln_alloc_count_begin();
  int st = dln_nuclear_solve(s, TOL, 100000, W, &res);
  before = dln_alloc_count_end(NULL);
  assert_int_equal(st, DLN_OK);
  assert_int_equal(before, 0);
  double rel = tu_diffnorm(N, W, Wt) / tu_fro(N, Wt);
  print_message("completion 12x12 rank 1, m=80: %d iterations, rel dist_true %.3g, rel gap %.3g\n", res.iterations, rel,
                res.rel_gap);
  assert_true(res.converged);
  check_certificate(s, R, C, M, NULL, idx, b, W);
  assert_true(rel <= 1e-6);
  /* KKT (Candès–Recht): M = 𝒜*(y) has P_T(M) = û v̂ᵀ, û = u/|u|, v̂ = v/|v| */
  assert_int_equal(dln_nuclear_dual(s, y), DLN_OK);
  double Mx[N] = {0}, nu = tu_fro(R, u), nv = tu_fro(C, v), err = 0;
  for (int i = 0; i < M; ++i) Mx[idx[i]] += y[i];
  double Mv[R], uM[C], uMv = 0;
  for (int i = 0; i < R; ++i) {
    Mv[i] = 0;
    for (int j = 0; j < C; ++j) Mv[i] += Mx[i + j * R] * v[j] / nv;
    uMv += u[i] / nu * Mv[i];
  }
  for (int j = 0; j < C; ++j) {
    uM[j] = 0;
    for (int i = 0; i < R; ++i) uM[j] += u[i] / nu * Mx[i + j * R];
  }
  for (int j = 0; j < C; ++j) /* P_T(M) = ûûᵀM + Mv̂v̂ᵀ − ûûᵀMv̂v̂ᵀ */
    for (int i = 0; i < R; ++i) {
      double pt = u[i] / nu * uM[j] + Mv[i] * v[j] / nv - uMv * u[i] / nu * v[j] / nv;
      err = fmax(err, fabs(pt - u[i] / nu * v[j] / nv));
    }
  print_message("  max |P_T(A*(y)) - u v'| = %.3g\n", err);
  assert_true(err < 1e-4);
  dln_nuclear_free(s);
}

/* The same completion problem as entrywise idx and as dense one-hot A_i; a duplicated
 * entry with two values is constrained to their mean. */
static void test_completion_paths(void **state) {
  (void)state;
  enum { R = 6, C = 7, N = 42, M = 20 };
  tu_seed(8);
  double Wt[N], b[M + 1], W1[N], W2[N], sv[2] = {2, 1};
  int idx[M + 1];
  lowrank(R, C, 2, sv, Wt);
  pick_entries(N, M, idx);
  for (int i = 0; i < M; ++i) b[i] = Wt[idx[i]];
  idx[M] = idx[0], b[M] = b[0] + 1.0; /* inconsistent duplicate: the mean is b[0] + 0.5 */
  double *A = calloc((size_t)N * (M + 1), sizeof *A);
  assert_non_null(A);
  for (int i = 0; i <= M; ++i) A[idx[i] + (size_t)i * N] = 1.0;
  dln_nuclear *s1, *s2;
  dln_nuclear_result r1, r2;
  assert_int_equal(dln_nuclear_alloc(&s1, R, C, M + 1, NULL, idx, b), DLN_OK);
  assert_int_equal(dln_nuclear_alloc(&s2, R, C, M + 1, A, NULL, b), DLN_OK);
  assert_int_equal(dln_nuclear_solve(s1, TOL, 100000, W1, &r1), DLN_OK);
  assert_int_equal(dln_nuclear_solve(s2, TOL, 100000, W2, &r2), DLN_OK);
  print_message("completion 6x7 + a duplicate: entrywise %d its, dense %d its, |W1 - W2| %.3g, |W1|_* %.12g, |W2|_* %.12g\n",
                r1.iterations, r2.iterations, tu_maxdiff(N, W1, W2), r1.nuclear_norm, r2.nuclear_norm);
  assert_true(r1.converged && r2.converged);
  assert_close(r1.nuclear_norm, r2.nuclear_norm, 1e-7, 0);
  assert_true(tu_maxdiff(N, W1, W2) < 1e-4);
  assert_close(W1[idx[0]], b[0] + 0.5, 0, 1e-12);
  assert_true(r1.constraint_residual < 1e-12);
  assert_close(r1.measurement_residual, sqrt(0.5), 1e-12, 0);
  free(A);
  dln_nuclear_free(s1);
  dln_nuclear_free(s2);
}

/* Bad arguments: named in the message. */
static void test_args(void **state) {
  (void)state;
  double b[2] = {1, 2}, A[8] = {0}, W[4];
  int idx[2] = {0, 9};
  dln_nuclear *s = NULL;
  dln_nuclear_result res;
  assert_int_equal(dln_nuclear_alloc(&s, 2, 2, 2, NULL, idx, b), DLN_EDIM);
  assert_non_null(strstr(dln_last_error(), "idx[1]"));
  assert_int_equal(dln_nuclear_alloc(&s, 2, 2, 2, A, idx, b), DLN_EINVAL);
  assert_non_null(strstr(dln_last_error(), "exactly one of A"));
  assert_int_equal(dln_nuclear_alloc(&s, 0, 2, 2, A, NULL, b), DLN_EDIM);
  b[1] = NAN;
  assert_int_not_equal(dln_nuclear_alloc(&s, 2, 2, 2, A, NULL, b), DLN_OK);
  b[1] = 2;
  idx[1] = 3;
  assert_int_equal(dln_nuclear_alloc(&s, 2, 2, 2, NULL, idx, b), DLN_OK);
  assert_int_equal(dln_nuclear_solve(s, 0, 10, W, &res), DLN_EINVAL);
  assert_non_null(strstr(dln_last_error(), "tol"));
  assert_int_equal(dln_nuclear_solve(s, 1e-8, 0, W, &res), DLN_EINVAL);
  assert_non_null(strstr(dln_last_error(), "max_iter"));
  /* W = diag(1, 2) observed on its diagonal only: the minimizer is the diagonal itself */
  assert_int_equal(dln_nuclear_solve(s, 1e-10, 10000, W, &res), DLN_OK);
  assert_close(W[0], 1, 0, 1e-9);
  assert_close(W[3], 2, 0, 1e-9);
  assert_close(W[1], 0, 0, 1e-6);
  assert_close(W[2], 0, 0, 1e-6);
  dln_nuclear_free(s);
}

/* The truth observable: synthetic sensing, depth 2, at a random θ. */
static void test_dist_true_column(void **state) {
  (void)state;
  dln_spec sp;
  assert_int_equal(dln_spec_default(&sp), DLN_OK);
  assert_int_equal(dln_spec_set(&sp, "task", "sensing"), DLN_OK);
  assert_int_equal(dln_spec_set(&sp, "rows", "3"), DLN_OK);
  assert_int_equal(dln_spec_set(&sp, "cols", "4"), DLN_OK);
  const char *field = NULL;
  const char *names[] = {"truth"};
  for (int task = 0; task < 2; ++task) {
    if (task) assert_int_equal(dln_spec_set(&sp, "task", "factorization"), DLN_OK);
    const dln_task_type *t = dln_task_find(sp.task);
    dln_task_options o = sp.data;
    o.load = dln_matrix_load;
    dln_rng *rng = dln_rng_alloc(7, 0);
    dln_task_data d;
    dln_loss *loss;
    assert_int_equal(dln_task_data_build(t, &o, rng, &d, &field), DLN_OK);
    assert_int_equal(dln_task_loss(t, &o, &d, &loss), DLN_OK);
    const double *truth = d.truth ? d.truth->data : d.mats[0]->data; /* factorization: the target */
    assert_non_null(dln_loss_truth(loss));
    assert_int_equal(tu_maxdiff(12, dln_loss_truth(loss), truth), 0);
    int widths[3] = {4, 5, 3};
    dln_net *net;
    assert_int_equal(dln_net_alloc(&net, 2, widths, 0), DLN_OK);
    double th[35], W[12], row[8];
    tu_fill_gauss(35, th, 0.7);
    dln_observer *obs;
    assert_int_equal(dln_observer_alloc_names(&obs, net, loss, th, names, 1), DLN_OK);
    assert_int_equal(dln_observer_ncols(obs), 4);
    assert_int_equal(dln_observer_eval(obs, 0.5, 1, th, row), DLN_OK);
    tu_mm(0, 0, 3, 4, 5, th + 20, th, W); /* W = W_2 (3 x 5) W_1 (5 x 4) */
    double dn = 0, tn = 0;
    for (int i = 0; i < 12; ++i) dn += (W[i] - truth[i]) * (W[i] - truth[i]), tn += truth[i] * truth[i];
    print_message("%s: dist_true %.15g (by hand %.15g), rel %.15g\n", sp.task, row[2], sqrt(dn), row[3]);
    assert_close(row[dln_observer_col(obs, "dist_true")], sqrt(dn), 1e-13, 0);
    assert_close(row[dln_observer_col(obs, "dist_true_rel")], sqrt(dn / tn), 1e-13, 0);
    dln_observer_free(obs);
    /* without a truth: no columns */
    assert_int_equal(dln_loss_set_truth(loss, NULL), DLN_OK);
    assert_int_equal(dln_observer_alloc_names(&obs, net, loss, th, names, 1), DLN_OK);
    assert_int_equal(dln_observer_ncols(obs), 2);
    dln_observer_free(obs);
    dln_net_free(net);
    dln_loss_free(loss);
    dln_task_data_free(&d);
    dln_rng_free(rng);
  }
  dln_spec_free(&sp);
}

static double jnum(json_t *root, const char *obj, const char *key) {
  json_t *o = json_object_get(root, obj);
  assert_non_null(o);
  json_t *v = json_object_get(o, key);
  assert_non_null(v);
  return json_number_value(v);
}

static dln_mat *load(const char *dir, const char *name) {
  char p[1100];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  dln_mat *m = NULL;
  assert_int_equal(dln_npy_read(p, &m), DLN_OK);
  return m;
}

/* dln run --baseline=nuclear: exact recovery of a rank-one 10 x 10 from 60 entries. */
static void test_cli_baseline(void **state) {
  (void)state;
  const char *dir = tu_tmpdir(1);
  const char *args[] = {"run", "--task=completion", "--rows=10", "--cols=10", "--target=lowrank", "--rank=1", "--m=60",
                        "--depth=2", "--width=10", "--init=gaussian", "--sigma=0.1", "--t_end=5", "--samples=3",
                        "--baseline=nuclear", "--baseline_tol=1e-10", "--plot=false", "--quiet", "--out=o", NULL};
  assert_int_equal(tu_wait(tu_spawn(DLN_CLI, args, dir)), 0);
  char od[512], p[600]; /* dir is a short temp path */
  snprintf(od, sizeof od, "%s/o", dir);
  snprintf(p, sizeof p, "%s/summary.json", od);
  json_t *sum = json_load_file(p, 0, NULL);
  assert_non_null(sum);
  dln_mat *Wn = load(od, "W_nuclear.npy"), *Wt = load(od, "W_true.npy"), *W1 = load(od, "W1_final.npy"),
          *W2 = load(od, "W2_final.npy");
  double d = tu_diffnorm(100, Wn->data, Wt->data), W[100];
  print_message("CLI: baseline dist_true %.3g (summary %.3g), %d iterations, gap %.3g\n", d,
                jnum(sum, "baseline", "dist_true"), (int)jnum(sum, "baseline", "iterations"),
                jnum(sum, "baseline", "duality_gap"));
  assert_close(jnum(sum, "baseline", "dist_true"), d, 1e-12, 1e-15);
  assert_true(jnum(sum, "baseline", "dist_true_rel") < 1e-6);
  assert_true(json_is_true(json_object_get(json_object_get(sum, "baseline"), "converged")));
  assert_true(jnum(sum, "baseline", "duality_gap") <= 1e-10 * jnum(sum, "baseline", "nuclear_norm"));
  assert_true(jnum(sum, "baseline", "constraint_residual") < 1e-12);
  assert_close(jnum(sum, "baseline", "nuclear_norm"), nuc(10, 10, Wn->data), 1e-12, 0);
  tu_mm(0, 0, 10, 10, 10, W2->data, W1->data, W);
  assert_close(jnum(sum, "final", "dist_true"), tu_diffnorm(100, W, Wt->data), 1e-12, 0);
  assert_close(jnum(sum, "final", "dist_true_rel"), tu_diffnorm(100, W, Wt->data) / tu_fro(100, Wt->data), 1e-12, 0);
  dln_mat_free(Wn), dln_mat_free(Wt), dln_mat_free(W1), dln_mat_free(W2);
  json_decref(sum);
  tu_rmtree(dir);
}

/* The end-to-end system's table has dist_true too: against W_final.npy and W_true.npy. */
static void test_cli_e2e_dist_true(void **state) {
  (void)state;
  const char *dir = tu_tmpdir(2);
  const char *args[] = {"run", "--task=sensing", "--rows=2", "--cols=3", "--m=10", "--width=3", "--init=balanced",
                        "--method=e2e_flow", "--t_end=1", "--samples=3", "--plot=false", "--quiet", "--out=o", NULL};
  assert_int_equal(tu_wait(tu_spawn(DLN_CLI, args, dir)), 0);
  char od[512], p[600];
  snprintf(od, sizeof od, "%s/o", dir);
  snprintf(p, sizeof p, "%s/summary.json", od);
  json_t *sum = json_load_file(p, 0, NULL);
  assert_non_null(sum);
  dln_mat *W = load(od, "W_final.npy"), *Wt = load(od, "W_true.npy");
  double d = tu_diffnorm(6, W->data, Wt->data);
  print_message("e2e: final dist_true %.15g, by hand %.15g\n", jnum(sum, "final", "dist_true"), d);
  assert_close(jnum(sum, "final", "dist_true"), d, 1e-12, 0);
  assert_close(jnum(sum, "final", "dist_true_rel"), d / tu_fro(6, Wt->data), 1e-12, 0);
  dln_mat_free(W), dln_mat_free(Wt);
  json_decref(sum);
  tu_rmtree(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sensing_not_truth), cmocka_unit_test(test_sensing_recovery),
      cmocka_unit_test(test_completion_recovery), cmocka_unit_test(test_completion_paths), cmocka_unit_test(test_args),
      cmocka_unit_test(test_dist_true_column),  cmocka_unit_test(test_cli_baseline),
      cmocka_unit_test(test_cli_e2e_dist_true),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
