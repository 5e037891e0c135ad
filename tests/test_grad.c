/* Independent check of src/model/net.c (and the losses of src/model/loss.c) by
 * central finite differences.
 *
 * For φ(θ) = ℓ(W_N···W_1) and unit directions v (one random direction supported on
 * each layer, plus 3 random directions over all of θ):
 *   gradient:  |(φ(θ+hv) − φ(θ−hv))/(2h) − ⟨∇φ(θ), v⟩| ≤ 1e-7 · ‖∇φ(θ)‖,        h = 1e-5
 *   Hessian:   ‖(∇φ(θ+hv) − ∇φ(θ−hv))/(2h) − dln_net_hvp(θ, v)‖ ≤ 1e-6 · ‖∇²φ v‖, h = 1e-5
 *   loss HVP:  ‖(∇ℓ(W+hD) − ∇ℓ(W−hD))/(2h) − dln_loss_hvp(W, D)‖ ≤ 1e-6 · ‖∇²ℓ D‖, h = 1e-5
 * (central differences: truncation O(h²) ≈ 1e-10 relative, rounding ≈ ε/h ≈ 1e-11).
 * Each comparison is also run on a deliberately wrong answer (1e-3 added to one
 * entry) and must then FAIL, so the tolerance really discriminates.
 *
 * Configurations: depths 1, 2, 3, 5; narrow and wide hidden layers; non-square
 * layers with d_0 ≠ d_N; the tied net U U^T with k > m and k < m; every loss of
 * loss.h: factorization, regression with n > d_0 and n < d_0, sensing, completion.
 * Set DLN_TEST_VERBOSE=1 to print the measured errors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dln/data.h"
#include "dln/error.h"
#include "dln/init.h"
#include "dln/loss.h"
#include "dln/mat.h"
#include "dln/net.h"
#include "dln/rng.h"
#include "testutil.h"

#define FD_H 1e-5
#define GRAD_RTOL 1e-7
#define HVP_RTOL 1e-6
#define WRONG 1e-3

typedef struct {
  const char *name;
  int depth;
  int widths[7];
  int tied;
} config;

static const config configs[] = {
    {"N=1 4->3", 1, {4, 3}, 0},
    {"N=2 narrow hidden 5->2->4", 2, {5, 2, 4}, 0},
    {"N=2 wide hidden 3->12->4", 2, {3, 12, 4}, 0},
    {"N=3 non-square 6->4->7->3", 3, {6, 4, 7, 3}, 0},
    {"N=3 square 4->4->4->4", 3, {4, 4, 4, 4}, 0},
    {"N=5 4->5->3->6->4->5", 5, {4, 5, 3, 6, 4, 5}, 0},
    {"N=5 narrow 6->2->3->2->4->3", 5, {6, 2, 3, 2, 4, 3}, 0},
    {"tied m=5 k=7", 2, {5, 7, 5}, 1},
    {"tied m=5 k=3", 2, {5, 3, 5}, 1},
};
#define NCONFIGS ((int)(sizeof configs / sizeof configs[0]))

enum { L_FACT, L_REG_OVER, L_REG_UNDER, L_SENS, L_COMP, NLOSSES };
static const char *loss_names[] = {"factorization", "regression n>d0", "regression n<d0", "sensing", "completion"};

static double dot(size_t n, const double *a, const double *b) {
  double s = 0;
  for (size_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

static dln_loss *make_loss(int kind, int rows, int cols, dln_rng *rng) {
  dln_loss *loss = NULL;
  dln_mat *a = NULL, *b = NULL, *W = NULL;
  switch (kind) {
    case L_FACT:
      assert_int_equal(dln_data_gaussian(rng, rows, cols, 1.0, &a), DLN_OK);
      assert_int_equal(dln_loss_factorization_alloc(&loss, a), DLN_OK);
      break;
    case L_REG_OVER:
    case L_REG_UNDER: {
      int n = kind == L_REG_OVER ? cols + 3 : (cols > 2 ? cols / 2 : 1);
      assert_int_equal(dln_data_regression(rng, cols, rows, n, 0, NULL, 0.0, &a, &b), DLN_OK);
      /* scale X so X X^T is O(1) */
      for (size_t i = 0; i < (size_t)cols * n; ++i) a->data[i] /= sqrt((double)n);
      assert_int_equal(dln_loss_regression_alloc(&loss, a, b), DLN_OK);
      break;
    }
    case L_SENS: {
      int m = rows * cols / 2 + 2;
      assert_int_equal(dln_data_gaussian(rng, rows, cols, 1.0, &W), DLN_OK);
      assert_int_equal(dln_data_sensing(rng, W, m, &a, &b), DLN_OK);
      for (int i = 0; i < m; ++i) b->data[i] += 0.1 * dln_rng_gaussian(rng, 1.0); /* not realizable exactly */
      assert_int_equal(dln_loss_sensing_alloc(&loss, rows, cols, m, a->data, b->data), DLN_OK);
      break;
    }
    case L_COMP: {
      int m = (rows * cols + 1) / 2;
      assert_int_equal(dln_data_gaussian(rng, rows, cols, 1.0, &W), DLN_OK);
      assert_int_equal(dln_data_completion(rng, W, m, &a), DLN_OK);
      int *r = malloc(sizeof(int) * m), *c = malloc(sizeof(int) * m);
      for (int i = 0; i < m; ++i) {
        r[i] = (int)a->data[i];
        c[i] = (int)a->data[i + m];
      }
      assert_int_equal(dln_loss_completion_alloc(&loss, rows, cols, m, r, c, a->data + 2 * (size_t)m), DLN_OK);
      free(r);
      free(c);
      break;
    }
    default:
      fail();
  }
  dln_mat_free(a);
  dln_mat_free(b);
  dln_mat_free(W);
  return loss;
}

/* θ with roughly norm-preserving layers: W_j ~ N(0, 1/d_{j-1}) (tied: N(0, 1/k)). */
static void init_theta(const dln_net *net, double *theta, dln_rng *rng) {
  double scales[8];
  int L = net->tied ? 1 : net->depth;
  for (int j = 1; j <= L; ++j) scales[j - 1] = 1.0 / sqrt((double)(net->tied ? net->widths[1] : net->widths[j - 1]));
  assert_int_equal(dln_init_gaussian(net, theta, rng, 0, scales), DLN_OK);
}

static double phi(dln_net *net, dln_loss *loss, const double *theta) {
  double v = NAN;
  assert_int_equal(dln_net_grad(net, loss, theta, &v, NULL, NULL), DLN_OK);
  return v;
}

typedef struct {
  int ndirs;
  double *dirs; /* ndirs x nparams, unit vectors */
} dirset;

static dirset make_dirs(const dln_net *net, dln_rng *rng) {
  size_t np = net->nparams;
  int L = net->tied ? 1 : net->depth;
  dirset d;
  d.ndirs = L + 3;
  d.dirs = calloc((size_t)d.ndirs * np, sizeof(double));
  for (int k = 0; k < d.ndirs; ++k) {
    double *v = d.dirs + (size_t)k * np;
    if (k < L) { /* supported on layer k+1 only */
      int j = k + 1;
      size_t off = net->offset[net->tied ? 2 : j];
      size_t sz = net->tied ? net->nparams : (size_t)net->widths[j] * net->widths[j - 1];
      dln_rng_fill_gaussian(rng, v + off, sz, 1.0);
    } else {
      dln_rng_fill_gaussian(rng, v, np, 1.0);
    }
    double nv = dln_norm2(np, v);
    for (size_t i = 0; i < np; ++i) v[i] /= nv;
  }
  return d;
}

/* Max over directions of |FD − ⟨g, v⟩| / ‖g‖ for a claimed gradient g. */
static double grad_error(dln_net *net, dln_loss *loss, const double *theta, const double *g, const dirset *ds) {
  size_t np = net->nparams;
  double *tp = malloc(np * sizeof(double)), *tm = malloc(np * sizeof(double));
  double gn = dln_norm2(np, g), worst = 0;
  for (int k = 0; k < ds->ndirs; ++k) {
    const double *v = ds->dirs + (size_t)k * np;
    for (size_t i = 0; i < np; ++i) {
      tp[i] = theta[i] + FD_H * v[i];
      tm[i] = theta[i] - FD_H * v[i];
    }
    double fd = (phi(net, loss, tp) - phi(net, loss, tm)) / (2 * FD_H);
    double e = fabs(fd - dot(np, g, v)) / gn;
    if (!(e <= worst)) worst = e; /* NaN propagates */
  }
  free(tp);
  free(tm);
  return worst;
}

/* Max over directions of ‖FD of ∇φ − Hv‖ / ‖Hv‖ for claimed products hv[k] (ndirs x np). */
static double hvp_error(dln_net *net, dln_loss *loss, const double *theta, const double *hv, const dirset *ds) {
  size_t np = net->nparams;
  double *tp = malloc(np * sizeof(double)), *tm = malloc(np * sizeof(double));
  double *gp = malloc(np * sizeof(double)), *gm = malloc(np * sizeof(double));
  double worst = 0;
  for (int k = 0; k < ds->ndirs; ++k) {
    const double *v = ds->dirs + (size_t)k * np, *h = hv + (size_t)k * np;
    for (size_t i = 0; i < np; ++i) {
      tp[i] = theta[i] + FD_H * v[i];
      tm[i] = theta[i] - FD_H * v[i];
    }
    assert_int_equal(dln_net_grad(net, loss, tp, NULL, gp, NULL), DLN_OK);
    assert_int_equal(dln_net_grad(net, loss, tm, NULL, gm, NULL), DLN_OK);
    double s = 0;
    for (size_t i = 0; i < np; ++i) {
      double fd = (gp[i] - gm[i]) / (2 * FD_H);
      s += (fd - h[i]) * (fd - h[i]);
    }
    double e = sqrt(s) / dln_norm2(np, h);
    if (!(e <= worst)) worst = e;
  }
  free(tp);
  free(tm);
  free(gp);
  free(gm);
  return worst;
}

static void run_config(const config *cf, int kind, uint64_t seed) {
  dln_net *net = NULL;
  assert_int_equal(dln_net_alloc(&net, cf->depth, cf->widths, cf->tied), DLN_OK);
  dln_rng *rng = dln_rng_alloc(seed, (uint64_t)kind);
  dln_loss *loss = make_loss(kind, dln_net_rows(net), dln_net_cols(net), rng);
  size_t np = net->nparams;
  double *theta = malloc(np * sizeof(double)), *g = malloc(np * sizeof(double));
  init_theta(net, theta, rng);

  /* value and W_out consistent with the loss of the product */
  size_t nw = (size_t)dln_net_rows(net) * dln_net_cols(net);
  double *W = malloc(nw * sizeof(double)), *W2 = malloc(nw * sizeof(double));
  double val, lval;
  assert_int_equal(dln_net_grad(net, loss, theta, &val, g, W), DLN_OK);
  assert_int_equal(dln_net_product(net, theta, W2), DLN_OK);
  assert_memory_equal(W, W2, nw * sizeof(double));
  assert_int_equal(dln_loss_eval(loss, W, &lval, NULL), DLN_OK);
  assert_close(val, lval, 1e-15, 0);
  assert_true(dln_norm2(np, g) > 1e-3); /* a meaningful (non-stationary) point */

  dirset ds = make_dirs(net, rng);

  /* gradient vs central differences */
  double eg = grad_error(net, loss, theta, g, &ds);
  /* sanity: a wrong gradient must be rejected */
  double *gw = malloc(np * sizeof(double));
  memcpy(gw, g, np * sizeof(double));
  gw[np / 2] += WRONG;
  double egw = grad_error(net, loss, theta, gw, &ds);

  /* Hessian-vector products vs central differences of the gradient */
  double *hv = malloc((size_t)ds.ndirs * np * sizeof(double));
  for (int k = 0; k < ds.ndirs; ++k)
    assert_int_equal(dln_net_hvp(net, loss, theta, ds.dirs + (size_t)k * np, hv + (size_t)k * np), DLN_OK);
  double eh = hvp_error(net, loss, theta, hv, &ds);
  double *hw = malloc((size_t)ds.ndirs * np * sizeof(double));
  memcpy(hw, hv, (size_t)ds.ndirs * np * sizeof(double));
  for (int k = 0; k < ds.ndirs; ++k) hw[(size_t)k * np + np / 2] += WRONG;
  double ehw = hvp_error(net, loss, theta, hw, &ds);

  if (tu_verbose())
    printf("  %-30s %-16s |g|=%-9.3g grad err %.2e (wrong %.2e)  hvp err %.2e (wrong %.2e)\n", cf->name,
           loss_names[kind], dln_norm2(np, g), eg, egw, eh, ehw);
  if (!(eg <= GRAD_RTOL)) fail_msg("%s / %s: gradient error %g > %g", cf->name, loss_names[kind], eg, GRAD_RTOL);
  if (!(egw > GRAD_RTOL))
    fail_msg("%s / %s: a gradient with 1e-3 added to one entry passed (error %g)", cf->name, loss_names[kind], egw);
  if (!(eh <= HVP_RTOL)) fail_msg("%s / %s: Hessian-vector error %g > %g", cf->name, loss_names[kind], eh, HVP_RTOL);
  if (!(ehw > HVP_RTOL))
    fail_msg("%s / %s: a Hessian-vector product with 1e-3 added passed (error %g)", cf->name, loss_names[kind], ehw);

  free(hv);
  free(hw);
  free(gw);
  free(ds.dirs);
  free(W);
  free(W2);
  free(theta);
  free(g);
  dln_loss_free(loss);
  dln_rng_free(rng);
  dln_net_free(net);
}

static void run_loss_kind(int kind) {
  for (int c = 0; c < NCONFIGS; ++c) run_config(&configs[c], kind, 1000 + (uint64_t)c);
}

static void test_factorization(void **state) {
  (void)state;
  run_loss_kind(L_FACT);
}
static void test_regression_over(void **state) {
  (void)state;
  run_loss_kind(L_REG_OVER);
}
static void test_regression_under(void **state) {
  (void)state;
  run_loss_kind(L_REG_UNDER);
}
static void test_sensing(void **state) {
  (void)state;
  run_loss_kind(L_SENS);
}
static void test_completion(void **state) {
  (void)state;
  run_loss_kind(L_COMP);
}

/* dln_loss_hvp against central differences of dln_loss_eval's gradient, and the loss
 * gradient against central differences of its value. */
static void test_loss_hvp(void **state) {
  (void)state;
  int shapes[][2] = {{3, 4}, {5, 2}, {4, 4}};
  for (int s = 0; s < 3; ++s)
    for (int kind = 0; kind < NLOSSES; ++kind) {
      int rows = shapes[s][0], cols = shapes[s][1];
      dln_rng *rng = dln_rng_alloc(77 + (uint64_t)s, (uint64_t)kind);
      dln_loss *loss = make_loss(kind, rows, cols, rng);
      size_t n = (size_t)rows * cols;
      double *W = malloc(n * sizeof(double)), *D = malloc(n * sizeof(double)), *Wp = malloc(n * sizeof(double)),
             *Wm = malloc(n * sizeof(double)), *Gp = malloc(n * sizeof(double)), *Gm = malloc(n * sizeof(double)),
             *H = malloc(n * sizeof(double)), *G = malloc(n * sizeof(double));
      for (int t = 0; t < 3; ++t) {
        dln_rng_fill_gaussian(rng, W, n, 1.0);
        dln_rng_fill_gaussian(rng, D, n, 1.0);
        double nd = dln_norm2(n, D);
        for (size_t i = 0; i < n; ++i) D[i] /= nd;
        double v, vp, vm;
        assert_int_equal(dln_loss_eval(loss, W, &v, G), DLN_OK);
        assert_int_equal(dln_loss_hvp(loss, W, D, H), DLN_OK);
        for (size_t i = 0; i < n; ++i) {
          Wp[i] = W[i] + FD_H * D[i];
          Wm[i] = W[i] - FD_H * D[i];
        }
        assert_int_equal(dln_loss_eval(loss, Wp, &vp, Gp), DLN_OK);
        assert_int_equal(dln_loss_eval(loss, Wm, &vm, Gm), DLN_OK);
        /* gradient: |FD − ⟨G, D⟩| ≤ 1e-7 ‖G‖ */
        double fdv = (vp - vm) / (2 * FD_H);
        double eg = fabs(fdv - dot(n, G, D)) / dln_norm2(n, G);
        double s2 = 0, s2w = 0;
        for (size_t i = 0; i < n; ++i) {
          double fd = (Gp[i] - Gm[i]) / (2 * FD_H);
          s2 += (fd - H[i]) * (fd - H[i]);
          double hw = H[i] + (i == n / 2 ? WRONG : 0.0);
          s2w += (fd - hw) * (fd - hw);
        }
        double hn = dln_norm2(n, H);
        double eh = sqrt(s2) / hn, ehw = sqrt(s2w) / hn;
        if (tu_verbose())
          printf("  loss %-16s %dx%d: grad err %.2e, hvp err %.2e (wrong %.2e)\n", loss_names[kind], rows, cols, eg,
                 eh, ehw);
        if (!(eg <= GRAD_RTOL)) fail_msg("loss %s %dx%d: gradient error %g", loss_names[kind], rows, cols, eg);
        if (!(eh <= HVP_RTOL)) fail_msg("loss %s %dx%d: hvp error %g", loss_names[kind], rows, cols, eh);
        if (!(ehw > HVP_RTOL)) fail_msg("loss %s %dx%d: wrong hvp passed (%g)", loss_names[kind], rows, cols, ehw);
      }
      free(W);
      free(D);
      free(Wp);
      free(Wm);
      free(Gp);
      free(Gm);
      free(H);
      free(G);
      dln_loss_free(loss);
      dln_rng_free(rng);
    }
}

/* A loss whose shape does not match the network is rejected. */
static void test_shape_mismatch(void **state) {
  (void)state;
  int w[] = {3, 4, 2};
  dln_net *net = NULL;
  assert_int_equal(dln_net_alloc(&net, 2, w, 0), DLN_OK);
  dln_rng *rng = dln_rng_alloc(1, 1);
  dln_loss *loss = make_loss(L_FACT, 3, 2, rng);
  double *theta = calloc(net->nparams, sizeof(double)), *g = calloc(net->nparams, sizeof(double));
  double v;
  assert_int_equal(dln_net_grad(net, loss, theta, &v, g, NULL), DLN_EDIM);
  assert_int_equal(dln_net_hvp(net, loss, theta, theta, g), DLN_EDIM);
  free(theta);
  free(g);
  dln_loss_free(loss);
  dln_rng_free(rng);
  dln_net_free(net);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_factorization), cmocka_unit_test(test_regression_over),
      cmocka_unit_test(test_regression_under), cmocka_unit_test(test_sensing),
      cmocka_unit_test(test_completion),    cmocka_unit_test(test_loss_hvp),
      cmocka_unit_test(test_shape_mismatch),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
