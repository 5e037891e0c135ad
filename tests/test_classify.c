/* The classification tasks (src/model/tasks/classify.c): logistic and softmax losses.
 * Truths independent of the library:
 *   - the value and gradient written out here as plain loops in long double (naive
 *     formulas: exact enough at moderate scores), and central finite differences of ℓ and
 *     ∇ℓ (HVP), for the loss and through networks of depth 1..3; a wrong answer (1e-3 added
 *     to one entry) must fail the same tolerance;
 *   - at |W x| = 1e3: every value and gradient finite and within a few ulps of the long-
 *     double evaluation (exp(1000) is finite in long double);
 *   - gradient flow: a classical RK4 written here (hand gradient, depth 2, h = 1e-3) as the
 *     reference for every integrator at rtol 1e-6 and 1e-10 (error shrinks); GD against it
 *     as η → 0 (first order: error halves with η);
 *   - label validation messages; the generator bit-identical per seed;
 *   - the end-to-end system (002 Thm 1 holds for any ℓ): e2e_flow equals the layer-wise
 *     flow from a balanced start, e2e_gd tends to it at first order in η;
 *   - no heap call in eval, hvp, margin and the margin observable;
 *   - separable runs from the command line (logistic GD depth 2, softmax flow depth 2):
 *     `dln check` exits 0, summary.json says L* is not attained, and on the GD run the
 *     normalized margin column increases while ‖W‖ grows. */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "dln/error.h"
#include "dln/io.h"
#include "dln/loss.h"
#include "dln/mat.h"
#include "dln/net.h"
#include "dln/option.h"
#include "dln/rng.h"
#include "dln/task.h"
#include "dln/train.h"
#include "testutil.h"

/* ------------------------------------------------------------------ hand truths */

/* A classification problem: X (d0 x n), labels (±1, or 0..K−1), K = 1 for logistic. */
typedef struct {
  int K, d0, n;
  double *X, *y;
  dln_loss *loss;
} prob;

static void prob_make(prob *p, int K, int d0, int n, double xscale) {
  p->K = K, p->d0 = d0, p->n = n;
  p->X = tu_dalloc((size_t)d0 * n);
  p->y = tu_dalloc((size_t)n);
  tu_fill_gauss((size_t)d0 * n, p->X, xscale);
  for (int i = 0; i < n; ++i) p->y[i] = K == 1 ? (tu_urand() < 0.5 ? -1.0 : 1.0) : (double)(i % K);
  dln_mat X = {d0, n, p->X}, y = {1, n, p->y};
  int st = K == 1 ? dln_loss_logistic_alloc(&p->loss, &X, &y) : dln_loss_softmax_alloc(&p->loss, K, &X, &y);
  if (st) print_error("%s\n", dln_last_error());
  assert_int_equal(st, DLN_OK);
}
static void prob_free(prob *p) {
  dln_loss_free(p->loss);
  free(p->X);
  free(p->y);
}

/* ℓ(W) and G = ∇ℓ(W) by the naive formulas in long double; A (if not NULL) = (1/n) Σ_i |g_i| |x_i|^T,
 * the scale of the sum behind each gradient entry (its rounding bound is a few ulps of A). */
static long double hand_loss_abs(const prob *p, const double *W, long double *G, long double *A);
static long double hand_loss(const prob *p, const double *W, long double *G) { return hand_loss_abs(p, W, G, NULL); }
static long double hand_loss_abs(const prob *p, const double *W, long double *G, long double *A) {
  int K = p->K, d0 = p->d0, rows = K;
  long double v = 0, z[16], g[16];
  if (G) memset(G, 0, sizeof(long double) * (size_t)rows * d0);
  if (A) memset(A, 0, sizeof(long double) * (size_t)rows * d0);
  for (int i = 0; i < p->n; ++i) {
    const double *x = p->X + (size_t)i * d0;
    for (int k = 0; k < rows; ++k) {
      z[k] = 0;
      for (int j = 0; j < d0; ++j) z[k] += (long double)W[k + (size_t)j * rows] * x[j];
    }
    if (K == 1) {
      long double m = p->y[i] * z[0];
      v += log1pl(expl(-m));
      g[0] = -p->y[i] / (1 + expl(m));
    } else {
      long double s = 0;
      for (int k = 0; k < K; ++k) s += expl(z[k]);
      int c = (int)p->y[i];
      v += logl(s) - z[c];
      for (int k = 0; k < K; ++k) g[k] = expl(z[k]) / s - (k == c);
    }
    if (G)
      for (int k = 0; k < rows; ++k)
        for (int j = 0; j < d0; ++j) {
          G[k + (size_t)j * rows] += g[k] * x[j] / p->n;
          if (A) A[k + (size_t)j * rows] += fabsl(g[k] * x[j]) / p->n;
        }
  }
  return v / p->n;
}

static double dotd(size_t n, const double *a, const double *b) {
  double s = 0;
  for (size_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

/* ------------------------------------------------------------------ value, gradient, HVP */

static void check_loss_at(prob *p, double wscale) {
  size_t m = (size_t)p->K * p->d0;
  double *W = tu_dalloc(m), *D = tu_dalloc(m), *G = tu_dalloc(m), *Gp = tu_dalloc(m), *Gm = tu_dalloc(m), *H = tu_dalloc(m);
  long double *GL = calloc(m, sizeof *GL);
  assert_non_null(GL);
  tu_fill_gauss(m, W, wscale);
  tu_fill_gauss(m, D, 1.0);
  double v, vp, vm, h = 1e-5;
  assert_int_equal(dln_loss_eval(p->loss, W, &v, G), DLN_OK);
  long double vl = hand_loss(p, W, GL);
  assert_close(v, (double)vl, 1e-13, 0);
  double gerr = 0;
  for (size_t i = 0; i < m; ++i) gerr = fmax(gerr, fabs(G[i] - (double)GL[i]));
  assert_true(gerr <= 1e-13 * fmax(1, tu_fro(m, G)));
  /* central differences of ℓ along D, and of ∇ℓ (HVP) */
  for (size_t i = 0; i < m; ++i) W[i] += h * D[i];
  dln_loss_eval(p->loss, W, &vp, Gp);
  for (size_t i = 0; i < m; ++i) W[i] -= 2 * h * D[i];
  dln_loss_eval(p->loss, W, &vm, Gm);
  for (size_t i = 0; i < m; ++i) W[i] += h * D[i];
  double fd = (vp - vm) / (2 * h), an = dotd(m, G, D), tolg = 1e-7 * tu_fro(m, G) * tu_fro(m, D);
  assert_true(fabs(fd - an) <= tolg);
  assert_false(fabs(fd - (an + 1e-3)) <= tolg); /* a wrong answer fails */
  assert_int_equal(dln_loss_hvp(p->loss, W, D, H), DLN_OK);
  double herr = 0;
  for (size_t i = 0; i < m; ++i) herr = fmax(herr, fabs((Gp[i] - Gm[i]) / (2 * h) - H[i]));
  double tolh = 1e-6 * fmax(tu_fro(m, H), 1e-300);
  if (tu_verbose()) print_message("K=%d d0=%d n=%d: grad fd err %.2g (tol %.2g), hvp err %.2g (tol %.2g)\n", p->K, p->d0, p->n,
                                  fabs(fd - an), tolg, herr, tolh);
  assert_true(herr <= tolh);
  H[0] += 1e-3;
  herr = 0;
  for (size_t i = 0; i < m; ++i) herr = fmax(herr, fabs((Gp[i] - Gm[i]) / (2 * h) - H[i]));
  assert_false(herr <= tolh);
  free(W), free(D), free(G), free(Gp), free(Gm), free(H), free(GL);
}

static void test_loss_fd(void **state) {
  (void)state;
  static const int shapes[][3] = {{1, 3, 5}, {1, 7, 40}, {2, 4, 9}, {3, 4, 30}, {5, 6, 17}};
  for (size_t s = 0; s < sizeof shapes / sizeof *shapes; ++s)
    for (int sc = 0; sc < 2; ++sc) {
      prob p;
      prob_make(&p, shapes[s][0], shapes[s][1], shapes[s][2], 1.0);
      check_loss_at(&p, sc ? 2.0 : 0.3);
      prob_free(&p);
    }
}

/* φ(θ) = ℓ(W_N···W_1): dln_net_grad and dln_net_hvp by central differences. */
static void test_net_fd(void **state) {
  (void)state;
  static const struct { int K, depth, widths[4]; } cfg[] = {
      {1, 1, {4, 1}}, {1, 2, {4, 3, 1}}, {1, 3, {5, 2, 4, 1}}, {3, 1, {4, 3}}, {3, 2, {4, 6, 3}}, {4, 3, {3, 5, 2, 4}}};
  for (size_t c = 0; c < sizeof cfg / sizeof *cfg; ++c) {
    prob p;
    prob_make(&p, cfg[c].K, cfg[c].widths[0], 23, 1.0);
    dln_net *net = NULL;
    assert_int_equal(dln_net_alloc(&net, cfg[c].depth, cfg[c].widths, 0), DLN_OK);
    size_t np = net->nparams;
    double *th = tu_dalloc(np), *v = tu_dalloc(np), *g = tu_dalloc(np), *gp = tu_dalloc(np), *gm = tu_dalloc(np),
           *hv = tu_dalloc(np), phi, pp, pm, h = 1e-5;
    tu_fill_gauss(np, th, 0.8);
    tu_fill_gauss(np, v, 1.0);
    assert_int_equal(dln_net_grad(net, p.loss, th, &phi, g, NULL), DLN_OK);
    for (size_t i = 0; i < np; ++i) th[i] += h * v[i];
    dln_net_grad(net, p.loss, th, &pp, gp, NULL);
    for (size_t i = 0; i < np; ++i) th[i] -= 2 * h * v[i];
    dln_net_grad(net, p.loss, th, &pm, gm, NULL);
    for (size_t i = 0; i < np; ++i) th[i] += h * v[i];
    double fd = (pp - pm) / (2 * h), an = dotd(np, g, v);
    assert_true(fabs(fd - an) <= 1e-7 * tu_fro(np, g) * tu_fro(np, v));
    assert_int_equal(dln_net_hvp(net, p.loss, th, v, hv), DLN_OK);
    double herr = 0;
    for (size_t i = 0; i < np; ++i) herr = fmax(herr, fabs((gp[i] - gm[i]) / (2 * h) - hv[i]));
    if (tu_verbose()) print_message("net cfg %zu: grad err %.2g, hvp err %.2g (|Hv| %.2g)\n", c, fabs(fd - an), herr, tu_fro(np, hv));
    assert_true(herr <= 1e-6 * tu_fro(np, hv));
    free(th), free(v), free(g), free(gp), free(gm), free(hv);
    dln_net_free(net);
    prob_free(&p);
  }
}

/* The ops and the margin observable never allocate (alloc_count.c counts every heap call). */
static void test_no_alloc(void **state) {
  (void)state;
  if (!DLN_HAVE_ALLOC_COUNTER) {
    print_message("allocation counter unavailable (sanitizer or non-glibc)\n");
    skip();
  }
  for (int K = 1; K <= 3; K += 2) {
    prob p;
    prob_make(&p, K, 4, 20, 1.0);
    int widths[3] = {4, 3, K};
    dln_net *net = NULL;
    assert_int_equal(dln_net_alloc(&net, 2, widths, 0), DLN_OK);
    size_t np = net->nparams, m = (size_t)K * 4;
    double *th = tu_dalloc(np), *W = tu_dalloc(m), *G = tu_dalloc(m), *H = tu_dalloc(m), v, mm;
    tu_fill_gauss(np, th, 0.5);
    tu_fill_gauss(m, W, 1.0);
    const char *names[] = {"margin", NULL};
    dln_observer *obs = NULL;
    assert_int_equal(dln_observer_alloc_names(&obs, net, p.loss, th, names, 1), DLN_OK);
    assert_true(dln_observer_col(obs, "margin") >= 0);
    assert_true(dln_observer_col(obs, "dir_4") >= 0);
    double *row = tu_dalloc((size_t)dln_observer_ncols(obs));
    dln_alloc_count_begin();
    for (int i = 0; i < 10; ++i) {
      dln_loss_eval(p.loss, W, &v, G);
      dln_loss_hvp(p.loss, W, G, H);
      dln_loss_margin(p.loss, W, &mm);
      dln_observer_eval(obs, 0.0, i, th, row);
    }
    assert_int_equal(dln_alloc_count_end(NULL), 0);
    /* the observable's columns: margin = min margin / ‖W‖, dir = W/‖W‖ */
    assert_int_equal(dln_net_product(net, th, W), DLN_OK);
    assert_int_equal(dln_loss_margin(p.loss, W, &mm), DLN_OK);
    assert_close(row[dln_observer_col(obs, "margin")], mm / tu_fro(m, W), 1e-14, 0);
    assert_close(row[dln_observer_col(obs, "dir_2")], W[1] / tu_fro(m, W), 1e-14, 0);
    dln_observer_free(obs);
    free(th), free(W), free(G), free(H), free(row);
    dln_net_free(net);
    prob_free(&p);
  }
}

/* ------------------------------------------------------------------ |W x| = 1e3 */

static void test_stability_1e3(void **state) {
  (void)state;
  /* d0 = 2, W = (1, 0) (logistic) so W x_i = x_i[0]: scores ±1e3 and moderate ones */
  static const double s[] = {1000, -1000, 999.5, -999.5, 30, 0.25, -700, 1000};
  static const double yl[] = {1, 1, -1, -1, 1, -1, -1, -1};
  enum { N = 8 };
  double X[2 * N], W[2] = {1, 0}, G[2], v;
  for (int i = 0; i < N; ++i) X[2 * i] = s[i], X[2 * i + 1] = 0.5;
  prob p = {1, 2, N, X, (double *)yl, NULL};
  dln_mat Xm = {2, N, X}, ym = {1, N, (double *)yl};
  assert_int_equal(dln_loss_logistic_alloc(&p.loss, &Xm, &ym), DLN_OK);
  assert_int_equal(dln_loss_eval(p.loss, W, &v, G), DLN_OK);
  long double GL[2], AL[2], vl = hand_loss_abs(&p, W, GL, AL);
  assert_true(isfinite(v) && isfinite(G[0]) && isfinite(G[1]));
  assert_close(v, (double)vl, 4 * DBL_EPSILON, 0);
  assert_close(G[0], (double)GL[0], 0, 8 * DBL_EPSILON * (double)AL[0]);
  assert_close(G[1], (double)GL[1], 0, 8 * DBL_EPSILON * (double)AL[1]);
  /* only large correct margins: ℓ = (e^-30 + e^-1000 ...)/n, a tiny value still to rounding */
  static const double yc[] = {1, -1, 1, -1, 1, 1, -1, 1};
  dln_loss_free(p.loss);
  ym.data = (double *)yc;
  p.y = (double *)yc;
  assert_int_equal(dln_loss_logistic_alloc(&p.loss, &Xm, &ym), DLN_OK);
  double D[2] = {0.3, -1}, H[2];
  assert_int_equal(dln_loss_eval(p.loss, W, &v, G), DLN_OK);
  vl = hand_loss(&p, W, GL);
  assert_close(v, (double)vl, 4 * DBL_EPSILON, 0);
  assert_int_equal(dln_loss_hvp(p.loss, W, D, H), DLN_OK);
  assert_true(isfinite(H[0]) && isfinite(H[1]));
  dln_loss_free(p.loss);

  /* softmax, K = 3: score columns with spreads up to 2e3; W = [e1 e2 e3]^T rows pick x */
  enum { NS = 5 };
  double XS[3 * NS] = {1000, -1000, 0, -1000, 999, 1000, 0, 0, 1000, 500, -1000, -999, 1000, 1000, 999.5};
  double cs[NS] = {0, 0, 2, 2, 1}, WS[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1}, GS[9], HS[9], DS[9];
  dln_mat Xs = {3, NS, XS}, cm = {1, NS, cs};
  prob q = {3, 3, NS, XS, cs, NULL};
  assert_int_equal(dln_loss_softmax_alloc(&q.loss, 3, &Xs, &cm), DLN_OK);
  assert_int_equal(dln_loss_eval(q.loss, WS, &v, GS), DLN_OK);
  long double GSL[9], ASL[9];
  vl = hand_loss_abs(&q, WS, GSL, ASL);
  assert_close(v, (double)vl, 4 * DBL_EPSILON, 0);
  for (int i = 0; i < 9; ++i) assert_close(GS[i], (double)GSL[i], 0, 8 * DBL_EPSILON * (double)ASL[i]);
  for (int i = 0; i < 9; ++i) DS[i] = 1.0 / (1 + i);
  assert_int_equal(dln_loss_hvp(q.loss, WS, DS, HS), DLN_OK);
  for (int i = 0; i < 9; ++i) assert_true(isfinite(HS[i]));
  double mm;
  assert_int_equal(dln_loss_margin(q.loss, WS, &mm), DLN_OK);
  assert_close(mm, -2000.0, 0, 0); /* column 2: class 0 scores −1000, max other 1000 */
  dln_loss_free(q.loss);
}

/* ------------------------------------------------------------------ labels */

static void expect_label_error(int K, const double *y, int n, const char *needle) {
  double X[3 * 4] = {0};
  dln_mat Xm = {3, n, X}, ym = {1, n, (double *)y};
  dln_loss *l = NULL;
  int st = K == 1 ? dln_loss_logistic_alloc(&l, &Xm, &ym) : dln_loss_softmax_alloc(&l, K, &Xm, &ym);
  if (st == DLN_OK || !strstr(dln_last_error(), needle)) print_error("got %d: %s (expected %s)\n", st, dln_last_error(), needle);
  assert_int_equal(st, DLN_EINVAL);
  assert_null(l);
  assert_non_null(strstr(dln_last_error(), needle));
}

static void test_labels(void **state) {
  (void)state;
  expect_label_error(1, (double[]){1, -1, 0, 1}, 4, "column 3: expected a label -1 or +1, found 0");
  expect_label_error(1, (double[]){2, -1, 1, 1}, 4, "column 1: expected a label -1 or +1, found 2");
  expect_label_error(1, (double[]){1, NAN, 1, 1}, 4, "column 2: expected a label -1 or +1, found nan");
  expect_label_error(3, (double[]){0, 1, 2, 3}, 4, "column 4: expected an integer class label in 0..2, found 3");
  expect_label_error(3, (double[]){0, 1.5, 2, 0}, 4, "column 2: expected an integer class label in 0..2, found 1.5");
  expect_label_error(3, (double[]){-1, 1, 2, 0}, 4, "column 1: expected an integer class label in 0..2, found -1");
}

/* ------------------------------------------------------------------ the generator */

static const dln_option *row_named(const dln_option *rows, const char *name) {
  for (int i = 0; rows && rows[i].name; ++i)
    if (!strcmp(rows[i].name, name)) return &rows[i];
  return NULL;
}

static void draw(const dln_task_type *t, uint64_t seed, int rows, double noise, dln_task_data *d) {
  dln_task_options o;
  memset(&o, 0, sizeof o);
  assert_int_equal(dln_options_default(&o, dln_task_common_rows(), -1), DLN_OK);
  assert_int_equal(dln_options_default(&o, dln_task_regression.options, -1), DLN_OK);
  o.rows = rows, o.cols = 4, o.n_samples = 50, o.noise = noise;
  const char *field = NULL;
  assert_int_equal(dln_task_check(t, &o, &field), DLN_OK);
  dln_rng *rng = dln_rng_alloc(seed, 0);
  assert_int_equal(dln_task_data_build(t, &o, rng, d, &field), DLN_OK);
  dln_rng_free(rng);
  dln_options_free(&o, dln_task_common_rows(), -1);
  dln_options_free(&o, dln_task_regression.options, -1);
  assert_non_null(row_named(dln_task_regression.options, "noise"));
}

static void test_generator(void **state) {
  (void)state;
  const dln_task_type *types[2] = {dln_task_find("logistic"), dln_task_find("softmax")};
  for (int k = 0; k < 2; ++k) {
    assert_non_null(types[k]);
    int rows = k ? 3 : 1;
    dln_task_data a, b, c, e;
    draw(types[k], 7, rows, 0, &a);
    draw(types[k], 7, rows, 0, &b);
    draw(types[k], 8, rows, 0, &c);
    const dln_mat *Xa = dln_task_data_get(&a, "x_file"), *ya = dln_task_data_get(&a, "y_file");
    const dln_mat *Xb = dln_task_data_get(&b, "x_file"), *yb = dln_task_data_get(&b, "y_file");
    assert_int_equal(memcmp(Xa->data, Xb->data, 4 * 50 * sizeof(double)), 0); /* bit-identical per seed */
    assert_int_equal(memcmp(ya->data, yb->data, 50 * sizeof(double)), 0);
    assert_int_not_equal(memcmp(Xa->data, dln_task_data_get(&c, "x_file")->data, 4 * 50 * sizeof(double)), 0);
    /* noise = 0: W_true separates the data (every margin > 0), labels valid */
    dln_loss *l = NULL;
    assert_int_equal(k ? dln_loss_softmax_alloc(&l, 3, Xa, ya) : dln_loss_logistic_alloc(&l, Xa, ya), DLN_OK);
    double m;
    assert_int_equal(dln_loss_margin(l, a.truth->data, &m), DLN_OK);
    assert_true(m > 0);
    dln_loss_free(l);
    /* large noise: W_true misclassifies some sample */
    draw(types[k], 7, rows, 5.0, &e);
    const dln_mat *Xe = dln_task_data_get(&e, "x_file"), *ye = dln_task_data_get(&e, "y_file");
    assert_int_equal(k ? dln_loss_softmax_alloc(&l, 3, Xe, ye) : dln_loss_logistic_alloc(&l, Xe, ye), DLN_OK);
    assert_int_equal(dln_loss_margin(l, e.truth->data, &m), DLN_OK);
    assert_true(m < 0);
    dln_loss_free(l);
    dln_task_data_free(&a), dln_task_data_free(&b), dln_task_data_free(&c), dln_task_data_free(&e);
  }
}

/* ------------------------------------------------------------------ dynamics */

/* depth 2, widths d0 -> 3 -> K: θ = (W1 (3 x d0), W2 (K x 3)); the flow θ' = −∇φ by hand */
enum { HID = 3 };
static void hand_rhs(const prob *p, const double *th, double *dth) {
  int K = p->K, d0 = p->d0;
  const double *W1 = th, *W2 = th + HID * d0;
  double W[16 * 8] = {0};
  long double GL[16 * 8];
  for (int k = 0; k < K; ++k)
    for (int j = 0; j < d0; ++j)
      for (int l = 0; l < HID; ++l) W[k + j * K] += W2[k + l * K] * W1[l + j * HID];
  hand_loss(p, W, GL);
  for (int l = 0; l < HID; ++l) /* dW1 = −W2^T G */
    for (int j = 0; j < d0; ++j) {
      long double s = 0;
      for (int k = 0; k < K; ++k) s += W2[k + l * K] * GL[k + j * K];
      dth[l + j * HID] = -(double)s;
    }
  for (int k = 0; k < K; ++k) /* dW2 = −G W1^T */
    for (int l = 0; l < HID; ++l) {
      long double s = 0;
      for (int j = 0; j < d0; ++j) s += GL[k + j * K] * W1[l + j * HID];
      dth[HID * d0 + k + l * K] = -(double)s;
    }
}

static void hand_rk4(const prob *p, double *th, size_t np, double t, int steps) {
  double h = t / steps, *k1 = tu_dalloc(np), *k2 = tu_dalloc(np), *k3 = tu_dalloc(np), *k4 = tu_dalloc(np), *y = tu_dalloc(np);
  for (int s = 0; s < steps; ++s) {
    hand_rhs(p, th, k1);
    for (size_t i = 0; i < np; ++i) y[i] = th[i] + 0.5 * h * k1[i];
    hand_rhs(p, y, k2);
    for (size_t i = 0; i < np; ++i) y[i] = th[i] + 0.5 * h * k2[i];
    hand_rhs(p, y, k3);
    for (size_t i = 0; i < np; ++i) y[i] = th[i] + h * k3[i];
    hand_rhs(p, y, k4);
    for (size_t i = 0; i < np; ++i) th[i] += h / 6 * (k1[i] + 2 * k2[i] + 2 * k3[i] + k4[i]);
  }
  free(k1), free(k2), free(k3), free(k4), free(y);
}

typedef struct {
  const dln_integrator_type *m;
  int stages;
  double slack; /* global error / rtol allowed (as in test_integrators.c) */
} imethod;

static double run_method(prob *p, dln_net *net, const double *th0, const imethod *im, double t, double rtol, double eta,
                         const double *ref) {
  size_t np = net->nparams;
  double *th = tu_dalloc(np);
  memcpy(th, th0, np * sizeof *th);
  dln_train_options o;
  dln_train_default_options(&o);
  o.method = im->m;
  o.gauss_stages = im->stages ? im->stages : o.gauss_stages;
  o.t_end = t, o.rtol = rtol, o.atol = rtol * 1e-2, o.nsamples = 2;
  if (eta > 0) o.eta = eta;
  tu_train(net, p->loss, th, &o, NULL, NULL);
  double e = tu_diffnorm(np, th, ref) / tu_fro(np, ref);
  free(th);
  return e;
}

static void flow_setup(prob *p, int K, dln_net **net, double **th0, double **ref, double t) {
  prob_make(p, K, 4, 30, 1.0);
  int widths[3] = {4, HID, K};
  assert_int_equal(dln_net_alloc(net, 2, widths, 0), DLN_OK);
  size_t np = (*net)->nparams;
  *th0 = tu_dalloc(np), *ref = tu_dalloc(np);
  tu_fill_gauss(np, *th0, 0.7);
  memcpy(*ref, *th0, np * sizeof **ref);
  hand_rk4(p, *ref, np, t, 2000); /* h = 1e-3: RK4 error ~ 1e-13 */
}

static void test_integrators(void **state) {
  (void)state;
  const imethod ms[] = {{&dln_integrator_flow, 0, 20},  {&dln_integrator_cvode, 0, 20}, {&dln_integrator_gauss, 1, 2000},
                        {&dln_integrator_gauss, 2, 20}, {&dln_integrator_rkc, 0, 20},   {&dln_integrator_auto, 0, 20}};
  const double t = 2.0, rtols[2] = {1e-6, 1e-10};
  for (int K = 1; K <= 3; K += 2) {
    prob p;
    dln_net *net;
    double *th0, *ref;
    flow_setup(&p, K, &net, &th0, &ref, t);
    for (size_t i = 0; i < sizeof ms / sizeof *ms; ++i) {
      double e0 = run_method(&p, net, th0, &ms[i], t, rtols[0], 0, ref), e1 = run_method(&p, net, th0, &ms[i], t, rtols[1], 0, ref);
      print_message("%s K=%d %s%d: rel. error %.3g (rtol 1e-6), %.3g (rtol 1e-10)\n", K == 1 ? "logistic" : "softmax", K,
                    ms[i].m->name, ms[i].stages, e0, e1);
      assert_true(e0 <= ms[i].slack * rtols[0]);
      assert_true(e1 <= ms[i].slack * rtols[1] + 1e-12);
      assert_true(e1 < e0 / 50);
    }
    free(th0), free(ref);
    dln_net_free(net);
    prob_free(&p);
  }
}

/* GD (explicit Euler, 001 footnote 2) → flow as η → 0: the error is first order in η. */
static void test_gd_vs_flow(void **state) {
  (void)state;
  const double t = 1.0;
  for (int K = 1; K <= 3; K += 2) {
    prob p;
    dln_net *net;
    double *th0, *ref;
    flow_setup(&p, K, &net, &th0, &ref, t);
    imethod gd = {&dln_integrator_gd, 0, 0};
    double e[3], eta = 0.02;
    for (int k = 0; k < 3; ++k, eta /= 2) e[k] = run_method(&p, net, th0, &gd, t, 1e-6, eta, ref);
    print_message("GD K=%d: error %.3g, %.3g, %.3g at eta 0.02, 0.01, 0.005\n", K, e[0], e[1], e[2]);
    for (int k = 1; k < 3; ++k) {
      assert_true(e[k] / e[k - 1] > 0.4);
      assert_true(e[k] / e[k - 1] < 0.6);
    }
    free(th0), free(ref);
    dln_net_free(net);
    prob_free(&p);
  }
}

/* ------------------------------------------------------------------ a separable run, CLI */

static int run_dln(const char *dir, const char *const *args) {
  int rc = tu_wait(tu_spawn(DLN_CLI, args, dir));
  if (rc != 0) {
    char *e = tu_slurp(tu_path(dir, "stderr.txt"));
    print_error("dln exit %d: %s\n", rc, e ? e : "");
    free(e);
  }
  return rc;
}

/* the column `name` of a trajectory.csv, *n rows */
static double *csv_column(const char *path, const char *name, int *n) {
  char *text = tu_slurp(path);
  assert_non_null(text);
  int col = -1, c = 0;
  char *line = strtok(text, "\n");
  for (char *f = line, *e; f; f = e ? e + 1 : NULL, ++c) {
    e = strchr(f, ',');
    if ((e ? (size_t)(e - f) : strlen(f)) == strlen(name) && !strncmp(f, name, strlen(name))) col = c;
  }
  assert_true(col >= 0);
  double *v = tu_dalloc(4096);
  *n = 0;
  while ((line = strtok(NULL, "\n")) && *n < 4096) {
    char *f = line;
    for (int k = 0; k < col; ++k) f = strchr(f, ',') + 1;
    v[(*n)++] = strtod(f, NULL);
  }
  free(text);
  return v;
}

static void test_separable_run(void **state) {
  (void)state;
  const char *dir = tu_tmpdir(0);
  const char *run[] = {"run", "--task=logistic", "--rows=1", "--cols=5", "--n_samples=40", "--widths=5,8,1", "--method=gd",
                       "--eta=0.5", "--t_end=2000", "--plot=false", "--quiet", "--out=r", NULL};
  assert_int_equal(run_dln(dir, run), 0);
  const char *chk[] = {"check", "r", NULL};
  assert_int_equal(run_dln(dir, chk), 0); /* no row VIOLATED although ‖W‖ grows without bound */
  json_t *sum = json_load_file(tu_path(dir, "r/summary.json"), 0, NULL);
  assert_non_null(sum);
  json_t *task = json_object_get(sum, "task");
  assert_true(json_is_null(json_object_get(task, "lstar")));
  assert_true(json_is_true(json_object_get(task, "separable")));
  assert_non_null(strstr(json_string_value(json_object_get(task, "lstar_note")), "not attained"));
  assert_true(json_real_value(json_object_get(task, "margin_normalized")) > 0);
  json_decref(sum);
  int n, nw;
  double *m = csv_column(tu_path(dir, "r/trajectory.csv"), "margin", &n), *w = csv_column(tu_path(dir, "r/trajectory.csv"), "w_norm", &nw);
  assert_int_equal(n, 201);
  int i0 = 0;
  while (i0 < n && !(m[i0] > 0)) ++i0;
  assert_true(i0 < n / 10);
  for (int i = i0 + 1; i < n; ++i) assert_true(m[i] > m[i - 1]); /* the normalized margin increases */
  for (int i = 1; i < n; ++i) assert_true(w[i] > w[i - 1]);        /* while ‖W‖ grows (like log t) */
  assert_true(w[n - 1] > 1.5 * w[n / 10]);
  free(m), free(w);
  /* softmax, K = 3, gradient flow (auto), depth 2 */
  const char *run3[] = {"run", "--task=softmax", "--rows=3", "--widths=10,6,3", "--t_end=300", "--plot=false", "--quiet",
                        "--out=s", NULL};
  assert_int_equal(run_dln(dir, run3), 0);
  const char *chk3[] = {"check", "s", NULL};
  assert_int_equal(run_dln(dir, chk3), 0);
  sum = json_load_file(tu_path(dir, "s/summary.json"), 0, NULL);
  assert_non_null(sum);
  task = json_object_get(sum, "task");
  assert_true(json_is_null(json_object_get(task, "lstar")));
  assert_true(json_is_true(json_object_get(task, "separable")));
  json_decref(sum);
  tu_rmtree(dir);
}

/* ---------------------------------------------------------- end-to-end system (002 Thm 1) */

/* W = W_final.npy (e2e) or W2_final · W1_final (layer-wise, depth 2), d_N x d_0 */
static dln_mat *final_w(const char *dir, const char *run, int e2e) {
  char p[512];
  dln_mat *W = NULL, *A = NULL, *B = NULL;
  if (e2e) {
    snprintf(p, sizeof p, "%s/%s/W_final.npy", dir, run);
    assert_int_equal(dln_npy_read(p, &W), DLN_OK);
    return W;
  }
  snprintf(p, sizeof p, "%s/%s/W1_final.npy", dir, run);
  assert_int_equal(dln_npy_read(p, &A), DLN_OK);
  snprintf(p, sizeof p, "%s/%s/W2_final.npy", dir, run);
  assert_int_equal(dln_npy_read(p, &B), DLN_OK);
  W = dln_mat_alloc(B->rows, A->cols);
  assert_non_null(W);
  tu_mm(0, 0, B->rows, A->cols, A->rows, B->data, A->data, W->data);
  dln_mat_free(A), dln_mat_free(B);
  return W;
}

/* e2e_flow = layer-wise flow from a balanced start (002 Thm 1 holds for any ℓ); e2e_gd → e2e_flow
 * at first order in η. Logistic and softmax, depth 2, through the command line. */
static void test_e2e(void **state) {
  (void)state;
  const char *dir = tu_tmpdir(1);
  static const char *const task[2][2] = {{"--task=logistic", "--rows=1"}, {"--task=softmax", "--rows=3"}};
  static const char *const widths[2] = {"--widths=4,3,1", "--widths=4,3,3"};
  for (int k = 0; k < 2; ++k) {
    const char *meth[4] = {"--method=e2e_flow", "--method=flow", "--method=e2e_gd", "--method=e2e_gd"};
    /* flows at rtol 1e-11 (atol 1e-13), GD at two step sizes */
    const char *o1[4] = {"--rtol=1e-11", "--rtol=1e-11", "--eta=0.02", "--eta=0.01"};
    const char *o2[4] = {"--atol=1e-13", "--atol=1e-13", "--quiet", "--quiet"};
    const char *out[4] = {"--out=a", "--out=b", "--out=c", "--out=d"}, *name[4] = {"a", "b", "c", "d"};
    dln_mat *W[4];
    for (int r = 0; r < 4; ++r) {
      const char *args[] = {"run", task[k][0], task[k][1], "--cols=4", "--n_samples=30", widths[k], "--init=balanced",
                            "--sigma=0.5", meth[r], o1[r], o2[r], "--t_end=3", "--plot=false",
                            "--quiet", "--force", out[r], NULL};
      assert_int_equal(run_dln(dir, args), 0);
      W[r] = final_w(dir, name[r], r != 1);
    }
    size_t m = (size_t)W[0]->rows * W[0]->cols;
    double nrm = tu_fro(m, W[0]->data), e_lw = tu_diffnorm(m, W[0]->data, W[1]->data) / nrm,
           e1 = tu_diffnorm(m, W[2]->data, W[0]->data) / nrm, e2 = tu_diffnorm(m, W[3]->data, W[0]->data) / nrm;
    print_message("%s: e2e_flow vs layer-wise flow %.3g; e2e_gd eta 0.02: %.3g, 0.01: %.3g\n", task[k][0], e_lw, e1, e2);
    assert_true(e_lw <= 1e-8);
    assert_true(e1 > 1e-5);  /* GD differs from the flow */
    assert_true(e2 / e1 > 0.4 && e2 / e1 < 0.6);
    for (int r = 0; r < 4; ++r) dln_mat_free(W[r]);
  }
  tu_rmtree(dir);
}

int main(void) {
  tu_seed(20261204);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_loss_fd),       cmocka_unit_test(test_no_alloc),       cmocka_unit_test(test_net_fd),       cmocka_unit_test(test_stability_1e3),
      cmocka_unit_test(test_labels),        cmocka_unit_test(test_generator),    cmocka_unit_test(test_integrators),
      cmocka_unit_test(test_gd_vs_flow),    cmocka_unit_test(test_separable_run),
      cmocka_unit_test(test_e2e),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
