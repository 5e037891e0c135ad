/* Where trajectories end (dln/landscape.h (f), src/run/run_endpoint.c, endpoints.json).
 *
 *   distinct s = (3, 2, 1)   the 2^3 critical configurations of 004 Lemma 3.2 built by
 *                            hand on a rotated 4x3 target (balanced, depth 2): class,
 *                            learned set, loss ½ Σ_{i∉L} s_i² (by hand), λ_min ≤ −max_{j∉L} s_j
 *                            (a descent direction through a free hidden slot) at saddles,
 *                            ≥ −1e-6 at the global minimum
 *   repeated s = (2, 1, 1)   the 2·3 strata (number learned per cluster), the cluster's
 *                            learned direction rotated off the SVD basis; width 2: the
 *                            global minimum learns one of the two equal components
 *   gradient descent         on diag(3, 2, 1) (exact SVD basis, so an invariant stratum
 *                            stays exact): a start on {1,3} ends on the saddle stratum
 *                            {1,3} (depth 2 and 3), a generic start at the global minimum, a
 *                            short run is "not converged" with ‖∇φ‖ above its tolerance;
 *                            a tied net is refused (DLN_ENOTAPPLICABLE)
 *   Wilson                   against the closed form by hand: (8, 20), (0, 20), (20, 20)
 *   saddle init              --init=saddle --saddle_stratum=1,3: W_init is the critical
 *                            configuration {1,3} of the run's target (dln_stratum_classify);
 *                            unperturbed and short (t = 5) it ends on that saddle stratum,
 *                            perturbed by 1e-3 (t = 60) at the global minimum
 *   sweep                    endpoints.json counts = the counts of ensemble.json's entries,
 *                            fractions, intervals; `dln run`'s summary.json "endpoint" */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dln/error.h"
#include "dln/init.h"
#include "dln/io.h"
#include "dln/landscape.h"
#include "dln/loss.h"
#include "dln/mat.h"
#include "dln/net.h"
#include "dln/rng.h"
#include "testutil.h"

#define ROWS 4
#define COLS 3

/* Ȳ (ROWS x COLS) = Σ s_i p_i q_i^T with P (ROWS x ROWS), Q (COLS x COLS) random orthogonal. */
static dln_loss *rotated_target(const double *s, double *P, double *Q) {
  tu_rand_orth(ROWS, P);
  tu_rand_orth(COLS, Q);
  dln_mat *Y = dln_mat_alloc(ROWS, COLS);
  tu_usv(ROWS, COLS, 3, P, s, Q, Y->data);
  dln_loss *loss = NULL;
  assert_int_equal(dln_loss_factorization_alloc(&loss, Y), DLN_OK);
  dln_mat_free(Y);
  return loss;
}

/* Balanced depth-2 layers with hidden slot k carrying c·u v^T: W1 += √c e_k v^T, W2 += √c u e_k^T. */
static void put_slot(const dln_net *net, double *th, int k, double c, const double *u, const double *v) {
  double *W1 = th + net->offset[1], *W2 = th + net->offset[2];
  int d0 = net->widths[0], d1 = net->widths[1], d2 = net->widths[2];
  for (int j = 0; j < d0; ++j) W1[k + (size_t)j * d1] += sqrt(c) * v[j];
  for (int i = 0; i < d2; ++i) W2[i + (size_t)k * d2] += sqrt(c) * u[i];
}

static void classify(dln_net *net, dln_loss *loss, const double *th, double acc, dln_endpoint *e) {
  dln_endpoint_options o;
  dln_endpoint_default_options(&o);
  o.acc = acc;
  assert_int_equal(dln_endpoint_classify(net, loss, th, &o, e), DLN_OK);
  if (tu_verbose()) printf("  %s\n", e->message);
}

static void test_distinct(void **state) {
  (void)state;
  double s[3] = {3, 2, 1}, P[ROWS * ROWS], Q[COLS * COLS];
  dln_loss *loss = rotated_target(s, P, Q);
  int w[3] = {COLS, 3, ROWS};
  dln_net *net = NULL;
  assert_int_equal(dln_net_alloc(&net, 2, w, 0), DLN_OK);
  double *th = tu_dalloc(net->nparams);
  for (unsigned L = 0; L < 8; ++L) {
    memset(th, 0, net->nparams * sizeof(double));
    double val = 0, smax_un = 0;
    for (int i = 0; i < 3; ++i) {
      if (L >> i & 1) put_slot(net, th, i, s[i], P + (size_t)i * ROWS, Q + (size_t)i * COLS);
      else val += 0.5 * s[i] * s[i], smax_un = fmax(smax_un, s[i]);
    }
    dln_endpoint e;
    classify(net, loss, th, 1e-10, &e);
    assert_int_equal(e.cls, L == 7 ? DLN_END_GLOBAL_MIN : DLN_END_SADDLE);
    assert_int_equal((int)e.s.learned_mask, (int)L);
    assert_close(e.phi, val, 1e-12, 1e-12);
    assert_close(e.s.value_predicted, val, 1e-12, 1e-12);
    assert_true(e.lambda_converged);
    if (L == 7) assert_true(e.lambda_min >= -1e-6);
    else assert_true(e.lambda_min <= -smax_un + 1e-6);
  }
  dln_net_free(net);
  free(th);
  dln_loss_free(loss);
}

/* Cluster {2,3} of s = (2, 1, 1) learned along m rotated directions. */
static void put_cluster(const dln_net *net, double *th, int slot, int m, const double *P, const double *Q) {
  double a = 0.7, dir[2][2] = {{cos(a), sin(a)}, {-sin(a), cos(a)}};
  for (int t = 0; t < m; ++t) {
    double u[ROWS], v[COLS];
    for (int i = 0; i < ROWS; ++i) u[i] = dir[t][0] * P[i + ROWS] + dir[t][1] * P[i + 2 * ROWS];
    for (int j = 0; j < COLS; ++j) v[j] = dir[t][0] * Q[j + COLS] + dir[t][1] * Q[j + 2 * COLS];
    put_slot(net, th, slot + t, 1.0, u, v);
  }
}

static void test_repeated(void **state) {
  (void)state;
  double s[3] = {2, 1, 1}, P[ROWS * ROWS], Q[COLS * COLS];
  dln_loss *loss = rotated_target(s, P, Q);
  int w[3] = {COLS, 3, ROWS};
  dln_net *net = NULL;
  assert_int_equal(dln_net_alloc(&net, 2, w, 0), DLN_OK);
  double *th = tu_dalloc(net->nparams);
  int nstrata = 0;
  for (int m1 = 0; m1 <= 1; ++m1)
    for (int m2 = 0; m2 <= 2; ++m2, ++nstrata) {
      memset(th, 0, net->nparams * sizeof(double));
      if (m1) put_slot(net, th, 0, 2.0, P, Q);
      put_cluster(net, th, 1, m2, P, Q);
      dln_endpoint e;
      classify(net, loss, th, 1e-10, &e);
      assert_true(e.s.degenerate);
      assert_int_equal(e.s.nclusters, 2);
      assert_int_equal(e.s.cluster_size[1], 2);
      assert_int_equal(e.s.cluster_learned[0], m1);
      assert_int_equal(e.s.cluster_learned[1], m2);
      assert_int_equal(e.s.r, m1 + m2);
      assert_int_equal(e.cls, m1 == 1 && m2 == 2 ? DLN_END_GLOBAL_MIN : DLN_END_SADDLE);
      double val = 0.5 * (4 * (1 - m1) + (2 - m2));
      assert_close(e.phi, val, 1e-12, 1e-12);
      assert_close(e.s.value_predicted, val, 1e-12, 1e-12);
      /* canonical stratum: the cluster's first m2 components */
      unsigned want = (unsigned)m1 | (m2 >= 1 ? 2u : 0u) | (m2 >= 2 ? 4u : 0u);
      assert_int_equal((int)e.s.learned_mask, (int)want);
    }
  assert_int_equal(nstrata, 6); /* (1 + 1)(2 + 1) */
  dln_net_free(net);
  /* width 2: the rank bound makes {1, one of the pair} the global minimum (value ½) */
  int w2[3] = {COLS, 2, ROWS};
  assert_int_equal(dln_net_alloc(&net, 2, w2, 0), DLN_OK);
  memset(th, 0, net->nparams * sizeof(double));
  put_slot(net, th, 0, 2.0, P, Q);
  put_cluster(net, th, 1, 1, P, Q);
  dln_endpoint e;
  classify(net, loss, th, 1e-10, &e);
  assert_int_equal(e.cls, DLN_END_GLOBAL_MIN);
  assert_close(e.phi, 0.5, 1e-12, 1e-12);
  /* a direction half in, half out of the cluster's learned set: not critical */
  memset(th, 0, net->nparams * sizeof(double));
  put_slot(net, th, 0, 2.0, P, Q);
  double u[ROWS], v[COLS];
  for (int i = 0; i < ROWS; ++i) u[i] = P[i + ROWS];
  for (int j = 0; j < COLS; ++j) v[j] = Q[j + COLS];
  put_slot(net, th, 1, 0.5, u, v);
  classify(net, loss, th, 1e-10, &e);
  assert_int_equal(e.cls, DLN_END_NOT_CONVERGED);
  assert_true(e.grad_norm > e.grad_tol);
  dln_net_free(net);
  free(th);
  dln_loss_free(loss);
}

/* Plain gradient descent θ ← θ − η∇φ (independent of the library's integrators). */
static void gd(dln_net *net, dln_loss *loss, double *th, double eta, int steps) {
  double *g = tu_dalloc(net->nparams), v;
  for (int k = 0; k < steps; ++k) {
    assert_int_equal(dln_net_grad(net, loss, th, &v, g, NULL), DLN_OK);
    for (size_t i = 0; i < net->nparams; ++i) th[i] -= eta * g[i];
  }
  free(g);
}

static void test_descent(void **state) {
  (void)state;
  dln_mat *Y = dln_mat_alloc(3, 3);
  Y->data[0] = 3, Y->data[4] = 2, Y->data[8] = 1;
  dln_loss *loss = NULL;
  assert_int_equal(dln_loss_factorization_alloc(&loss, Y), DLN_OK);
  for (int depth = 2; depth <= 3; ++depth) {
    int w[4] = {3, 3, 3, 3};
    dln_net *net = NULL;
    assert_int_equal(dln_net_alloc(&net, depth, w, 0), DLN_OK);
    double *th = tu_dalloc(net->nparams);
    /* a start on the invariant stratum {1,3}: diagonal layers with component 2 at zero */
    for (int j = 1; j <= depth; ++j) {
      double *Wj = th + net->offset[j];
      Wj[0] = Wj[8] = 0.5;
    }
    gd(net, loss, th, 0.02, 3000);
    dln_endpoint e;
    classify(net, loss, th, 1e-8, &e);
    assert_int_equal(e.cls, DLN_END_SADDLE);
    assert_int_equal((int)e.s.learned_mask, 5);
    assert_true(e.grad_norm <= e.grad_tol);
    if (depth == 2) assert_true(e.lambda_min <= -2 + 1e-6); /* free direction of s_2 = 2 */
    else assert_true(e.lambda_min < -1e-3);
    /* a generic start: global minimum */
    tu_fill_gauss(net->nparams, th, 0.5);
    gd(net, loss, th, 0.02, 3000);
    classify(net, loss, th, 1e-8, &e);
    assert_int_equal(e.cls, DLN_END_GLOBAL_MIN);
    assert_true(e.lambda_min >= -1e-6);
    /* a short run: not converged, its gradient norm reported */
    tu_fill_gauss(net->nparams, th, 0.5);
    gd(net, loss, th, 0.02, 5);
    classify(net, loss, th, 1e-8, &e);
    assert_int_equal(e.cls, DLN_END_NOT_CONVERGED);
    assert_true(e.grad_norm > e.grad_tol && isnan(e.lambda_min));
    assert_close(e.comp_tol, 1e-4, 1e-12, 0); /* √acc */
    dln_net_free(net);
    free(th);
  }
  /* not applicable: a tied net U U^T (its critical points are not 004's strata) */
  int wt[3] = {3, 3, 3};
  dln_net *tied = NULL;
  assert_int_equal(dln_net_alloc(&tied, 2, wt, 1), DLN_OK);
  double *tt = tu_dalloc(tied->nparams);
  dln_endpoint e;
  assert_int_equal(dln_endpoint_classify(tied, loss, tt, NULL, &e), DLN_ENOTAPPLICABLE);
  assert_non_null(strstr(dln_last_error(), "untied"));
  free(tt);
  dln_net_free(tied);
  dln_loss_free(loss);
  dln_mat_free(Y);
}

static void test_wilson(void **state) {
  (void)state;
  double z = 1.959963984540054, lo, hi, z2 = z * z;
  /* p̂ = 0.4, n = 20: centre (0.4 + z²/40)/(1 + z²/20), half-width z√(0.012 + z²/1600)/(1 + z²/20) */
  assert_int_equal(dln_wilson_interval(8, 20, z, &lo, &hi), DLN_OK);
  double den = 1 + z2 / 20, c = (0.4 + z2 / 40) / den, h = z * sqrt(0.012 + z2 / 1600) / den;
  assert_close(lo, c - h, 1e-13, 0);
  assert_close(hi, c + h, 1e-13, 0);
  assert_close(lo, 0.21880653237281705, 1e-12, 0);
  assert_close(hi, 0.6134184992377469, 1e-12, 0);
  assert_int_equal(dln_wilson_interval(0, 20, z, &lo, &hi), DLN_OK); /* [0, z²/(n + z²)] */
  assert_true(lo == 0);
  assert_close(hi, z2 / (20 + z2), 1e-13, 0);
  assert_int_equal(dln_wilson_interval(20, 20, z, &lo, &hi), DLN_OK); /* [n/(n + z²), 1] */
  assert_close(lo, 20 / (20 + z2), 1e-13, 0);
  assert_true(hi == 1);
  assert_int_equal(dln_wilson_interval(0, 0, z, &lo, &hi), DLN_OK);
  assert_true(lo == 0 && hi == 1);
}

static json_t *load(const char *dir, const char *name) {
  json_error_t err;
  json_t *r = json_load_file(tu_path(dir, name), 0, &err);
  if (!r) print_message("%s/%s: %s\n", dir, name, err.text);
  assert_non_null(r);
  return r;
}

/* Column c of a CSV line (0-based) as a double. */
static double csv_cell(const char *line, int c) {
  while (c-- > 0 && line) line = strchr(line, ',') ? strchr(line, ',') + 1 : NULL;
  assert_non_null(line);
  return strtod(line, NULL);
}

static int csv_col(const char *header, const char *name) {
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", header);
  int c = 0;
  for (char *tok = strtok(buf, ",\n"); tok; tok = strtok(NULL, ",\n"), ++c)
    if (!strcmp(tok, name)) return c;
  fail_msg("ensemble_runs.csv: no column %s", name);
  return -1;
}

/* ensemble_runs.csv: one row per entry of ensemble.json, its end point as codes (class:
 * index of dln_end_class_name; stratum: Σ 2^(i−1) of the learned components), its final
 * loss bit for bit. */
static void check_run_table(const char *swdir, const json_t *ens) {
  FILE *fp = fopen(tu_path(swdir, "ensemble_runs.csv"), "r");
  assert_non_null(fp);
  char header[4096], line[8192];
  assert_non_null(fgets(header, sizeof header, fp));
  int crun = csv_col(header, "run"), ccls = csv_col(header, "endpoint_class"), cstr = csv_col(header, "endpoint_stratum"),
      closs = csv_col(header, "loss"), cdepth = csv_col(header, "depth");
  json_t *runs = json_object_get(ens, "runs");
  size_t n = 0;
  while (fgets(line, sizeof line, fp)) {
    json_t *e = json_array_get(runs, n), *ep = json_object_get(e, "endpoint");
    assert_non_null(e);
    assert_true(csv_cell(line, crun) == (double)json_integer_value(json_object_get(e, "run")));
    assert_true(csv_cell(line, cdepth) == (double)json_integer_value(json_object_get(json_object_get(e, "overrides"), "depth")));
    assert_true(csv_cell(line, closs) == json_number_value(json_object_get(json_object_get(e, "final"), "loss")));
    const char *cls = json_string_value(json_object_get(ep, "class"));
    int code = -1;
    for (int c = 0; c < DLN_END_NCLASS; ++c)
      if (!strcmp(cls, dln_end_class_name(c))) code = c;
    assert_true(csv_cell(line, ccls) == code);
    json_t *st = json_object_get(ep, "stratum");
    if (json_is_array(st)) {
      double mask = 0;
      for (size_t i = 0; i < json_array_size(st); ++i) mask += ldexp(1.0, (int)json_integer_value(json_array_get(st, i)) - 1);
      assert_true(csv_cell(line, cstr) == mask);
    } else {
      assert_true(isnan(csv_cell(line, cstr)));
    }
    ++n;
  }
  fclose(fp);
  assert_int_equal(n, json_array_size(runs));
}

static void test_sweep_tally(void **state) {
  (void)state;
  const char *dir = tu_tmpdir(0);
  tu_write_text(tu_path(dir, "spec.json"),
                "{\"rows\": 3, \"cols\": 3, \"width\": 3, \"method\": \"flow\", \"t_end\": 40, \"plot\": false,\n"
                " \"sweep\": {\"depth\": [2, 3], \"sigma\": [0.1], \"seed\": {\"from\": 1, \"count\": 12}}}\n");
  const char *args[] = {"sweep", "spec.json", "--out", "sw", "--quiet", "--threads", "2", NULL};
  assert_int_equal(tu_wait(tu_spawn(DLN_CLI, args, dir)), 0);
  char swdir[512];
  snprintf(swdir, sizeof swdir, "%s/sw", dir);
  json_t *ens = load(swdir, "ensemble.json"), *tally = load(swdir, "endpoints.json");
  json_t *groups = json_object_get(tally, "groups");
  assert_int_equal((int)json_array_size(groups), 2);
  long total = 0;
  for (size_t gi = 0; gi < 2; ++gi) {
    json_t *g = json_array_get(groups, gi);
    json_t *depth = json_object_get(json_object_get(g, "setting"), "depth"); /* typed, as in ensemble.json */
    assert_true(json_is_integer(depth));
    long cnt[DLN_END_NCLASS] = {0}, n = 0;
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(ens, "runs"), i, e) {
      if (!json_equal(json_object_get(json_object_get(e, "overrides"), "depth"), depth)) continue;
      const char *cls = json_string_value(json_object_get(json_object_get(e, "endpoint"), "class"));
      assert_non_null(cls);
      for (int c = 0; c < DLN_END_NCLASS; ++c) cnt[c] += !strcmp(cls, dln_end_class_name(c));
      ++n;
    }
    assert_int_equal(n, 12);
    assert_int_equal(json_integer_value(json_object_get(g, "runs")), n);
    total += n;
    for (int c = 0; c < DLN_END_NCLASS; ++c) {
      json_t *o = json_object_get(json_object_get(g, "classes"), dln_end_class_name(c));
      assert_int_equal(json_integer_value(json_object_get(o, "count")), cnt[c]);
      assert_close(json_real_value(json_object_get(o, "fraction")), (double)cnt[c] / n, 1e-15, 0);
      double lo, hi;
      assert_int_equal(dln_wilson_interval(cnt[c], n, 1.959963984540054, &lo, &hi), DLN_OK);
      assert_close(json_number_value(json_array_get(json_object_get(o, "wilson95"), 0)), lo, 1e-15, 1e-300);
      assert_close(json_number_value(json_array_get(json_object_get(o, "wilson95"), 1)), hi, 1e-15, 0);
    }
    if (json_integer_value(depth) == 2) assert_int_equal(cnt[DLN_END_GLOBAL_MIN], 12); /* 004 Thm: one hidden layer */
  }
  assert_int_equal(total, 24);
  check_run_table(swdir, ens);
  json_decref(ens);
  json_decref(tally);
  /* one run's summary.json */
  const char *rargs[] = {"run", "--rows=3", "--cols=3", "--width=3", "--sigma=0.1", "--method=flow", "--t_end=60",
                         "--out=one", "--quiet", "--plot=false", NULL};
  assert_int_equal(tu_wait(tu_spawn(DLN_CLI, rargs, dir)), 0);
  snprintf(swdir, sizeof swdir, "%s/one", dir);
  json_t *sum = load(swdir, "summary.json"), *ep = json_object_get(sum, "endpoint");
  assert_string_equal(json_string_value(json_object_get(ep, "class")), "global_min");
  assert_int_equal((int)json_array_size(json_object_get(ep, "stratum")), 3);
  assert_true(json_real_value(json_object_get(ep, "grad_norm")) <= json_real_value(json_object_get(ep, "grad_tol")));
  json_decref(sum);
  tu_rmtree(dir);
}

static const char *end_class(const char *dir, const char *out) {
  static char cls[32];
  char p[512];
  snprintf(p, sizeof p, "%s/%s", dir, out);
  json_t *sum = load(p, "summary.json");
  const char *c = json_string_value(json_object_get(json_object_get(sum, "endpoint"), "class"));
  snprintf(cls, sizeof cls, "%s", c ? c : "?");
  json_t *st = json_object_get(json_object_get(sum, "endpoint"), "stratum");
  if (!strcmp(cls, "saddle"))
    assert_true(json_array_size(st) == 2 && json_integer_value(json_array_get(st, 0)) == 1 &&
                json_integer_value(json_array_get(st, 1)) == 3);
  json_decref(sum);
  return cls;
}

static void test_saddle_init(void **state) {
  (void)state;
  const char *dir = tu_tmpdir(1);
  const char *a0[] = {"run", "--rows=3", "--cols=4", "--width=3", "--init=saddle", "--saddle_stratum=1,3", "--saddle_perturb=0",
                      "--method=flow", "--t_end=5", "--out=a", "--quiet", "--plot=false", NULL};
  assert_int_equal(tu_wait(tu_spawn(DLN_CLI, a0, dir)), 0);
  assert_string_equal(end_class(dir, "a"), "saddle");
  dln_mat *Y = NULL, *W1 = NULL, *W2 = NULL;
  char p[512];
  snprintf(p, sizeof p, "%s/a/target.npy", dir);
  assert_int_equal(dln_matrix_load(p, &Y), DLN_OK);
  snprintf(p, sizeof p, "%s/a/W1_init.npy", dir);
  assert_int_equal(dln_matrix_load(p, &W1), DLN_OK);
  snprintf(p, sizeof p, "%s/a/W2_init.npy", dir);
  assert_int_equal(dln_matrix_load(p, &W2), DLN_OK);
  double W[12];
  tu_mm(0, 0, 3, 4, 3, W2->data, W1->data, W);
  dln_stratum s;
  assert_int_equal(dln_stratum_classify(3, 4, W, Y->data, NULL, &s), DLN_OK);
  assert_true(s.critical && !s.global_min);
  assert_int_equal((int)s.learned_mask, 5);
  assert_true(s.residual <= 1e-12);
  dln_mat_free(Y), dln_mat_free(W1), dln_mat_free(W2);
  const char *a1[] = {"run", "--rows=3", "--cols=4", "--width=3", "--init=saddle", "--saddle_stratum=1,3",
                      "--saddle_perturb=1e-3", "--method=flow", "--t_end=60", "--out=b", "--quiet", "--plot=false", NULL};
  assert_int_equal(tu_wait(tu_spawn(DLN_CLI, a1, dir)), 0);
  assert_string_equal(end_class(dir, "b"), "global_min");
  tu_rmtree(dir);
}

int main(void) {
  tu_seed(1010);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_distinct),   cmocka_unit_test(test_repeated),    cmocka_unit_test(test_descent),
      cmocka_unit_test(test_wilson),     cmocka_unit_test(test_sweep_tally),  cmocka_unit_test(test_saddle_init),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
