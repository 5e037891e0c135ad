/* Conserved quantities C_j = W_{j+1}^T W_{j+1} − W_j W_j^T (002 Lemma 1; 001 eq. 13;
 * 003 eq. 9) under the library's training drivers:
 *   (a) gradient flow (dln_train, &dln_integrator_flow): C_j(t) = C_j(0) to the integrator's
 *       tolerance for depths 2, 3, 4 with mixed widths, factorization and regression
 *       losses; the drift falls when rtol is tightened from 1e-6 to 1e-10.
 *   (b) gradient descent (dln_train, &dln_integrator_gd): one step W_j ← W_j − η G_j changes
 *       C_j by exactly η² (G_{j+1}^T G_{j+1} − G_j G_j^T). Derivation: expanding,
 *       C_j' − C_j = −η (G_{j+1}^T W_{j+1} + W_{j+1}^T G_{j+1} − G_j W_j^T − W_j G_j^T)
 *                    + η² (G_{j+1}^T G_{j+1} − G_j G_j^T),
 *       and the first-order term vanishes because G_{j+1}^T W_{j+1} = W_j G_j^T (and its
 *       transpose W_{j+1}^T G_{j+1} = G_j W_j^T): with F = W_{N:j+2}^T ∇ℓ W_{j-1:1}^T,
 *       G_j = W_{j+1}^T F and G_{j+1} = F W_j^T, so both sides equal W_j F^T W_{j+1}.
 * C_j and the per-layer gradients G_j = ∂φ/∂W_j are computed in this file with plain
 * loops (long double accumulation), independent of dln_net_conserved / dln_net_grad,
 * which are also compared against them. */
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

#include "dln/error.h"
#include "dln/loss.h"
#include "dln/mat.h"
#include "dln/net.h"
#include "dln/train.h"
#include "testutil.h"

/* ------------------------------------------------------------------ helpers (plain-loop truths: testutil.c) */

/* W_j inside θ (1-based j): d_j x d_{j-1} column-major at offset[j]. */
static const double *layer(const dln_net *net, const double *th, int j) { return th + net->offset[j]; }

/* A task: factorization ½‖W − T‖² or regression ½‖WX − Y‖², with its data kept here
 * for the independent gradient. */
typedef struct {
  int regression;
  int rows, cols, n; /* W rows x cols; n samples */
  double *T, *X, *Y;
  dln_loss *loss;
} task;

static void task_make(task *tk, int regression, int rows, int cols) {
  memset(tk, 0, sizeof *tk);
  tk->regression = regression;
  tk->rows = rows;
  tk->cols = cols;
  if (!regression) {
    dln_mat *T = dln_mat_alloc(rows, cols);
    tu_fill_gauss((size_t)rows * cols, T->data, 1.0);
    tk->T = tu_dalloc((size_t)rows * cols);
    memcpy(tk->T, T->data, (size_t)rows * cols * sizeof(double));
    assert_int_equal(dln_loss_factorization_alloc(&tk->loss, T), DLN_OK);
    dln_mat_free(T);
  } else {
    tk->n = 2 * cols + 1;
    dln_mat *X = dln_mat_alloc(cols, tk->n), *Y = dln_mat_alloc(rows, tk->n);
    /* X entries N(0, 1/n) so that X X^T = O(1) and the flow is not stiff */
    tu_fill_gauss((size_t)cols * tk->n, X->data, 1.0 / sqrt((double)tk->n));
    tu_fill_gauss((size_t)rows * tk->n, Y->data, 1.0);
    tk->X = tu_dalloc((size_t)cols * tk->n);
    tk->Y = tu_dalloc((size_t)rows * tk->n);
    memcpy(tk->X, X->data, (size_t)cols * tk->n * sizeof(double));
    memcpy(tk->Y, Y->data, (size_t)rows * tk->n * sizeof(double));
    assert_int_equal(dln_loss_regression_alloc(&tk->loss, X, Y), DLN_OK);
    dln_mat_free(X);
    dln_mat_free(Y);
  }
}
static void task_free(task *tk) {
  free(tk->T), free(tk->X), free(tk->Y);
  dln_loss_free(tk->loss);
}

/* Per-layer gradients G_j = W_{N:j+1}^T ∇ℓ(W) W_{j-1:1}^T into grad (net layout),
 * plain loops: P_j = W_j···W_1 forward, B_j = W_{N:j+1}^T ∇ℓ backward. */
static void own_grad(const dln_net *net, const task *tk, const double *th, double *grad) {
  const int *d = net->widths;
  int N = net->depth, d0 = d[0], dN = d[N];
  double **P = calloc((size_t)N + 1, sizeof(double *));
  assert_non_null(P);
  for (int j = 1; j <= N; ++j) {
    P[j] = tu_dalloc((size_t)d[j] * d0);
    if (j == 1)
      memcpy(P[1], layer(net, th, 1), (size_t)d[1] * d0 * sizeof(double));
    else
      tu_mm(0, 0, d[j], d0, d[j - 1], layer(net, th, j), P[j - 1], P[j]);
  }
  double *G = tu_dalloc((size_t)dN * d0);
  if (!tk->regression) {
    for (size_t i = 0; i < (size_t)dN * d0; ++i) G[i] = P[N][i] - tk->T[i];
  } else {
    double *R = tu_dalloc((size_t)dN * tk->n);
    tu_mm(0, 0, dN, tk->n, d0, P[N], tk->X, R);
    for (size_t i = 0; i < (size_t)dN * tk->n; ++i) R[i] -= tk->Y[i];
    tu_mm(0, 1, dN, d0, tk->n, R, tk->X, G); /* ∇ℓ = (WX − Y) X^T */
    free(R);
  }
  double *B = G; /* B_N = ∇ℓ (dN x d0) */
  for (int j = N; j >= 1; --j) {
    double *gj = grad + net->offset[j];
    if (j == 1) {
      memcpy(gj, B, (size_t)d[1] * d0 * sizeof(double));
    } else {
      tu_mm(0, 1, d[j], d[j - 1], d0, B, P[j - 1], gj);    /* G_j = B_j P_{j-1}^T */
      double *Bn = tu_dalloc((size_t)d[j - 1] * d0);
      tu_mm(1, 0, d[j - 1], d0, d[j], layer(net, th, j), B, Bn); /* B_{j-1} = W_j^T B_j */
      if (B != G) free(B);
      B = Bn;
    }
  }
  if (B != G) free(B);
  free(G);
  for (int j = 1; j <= N; ++j) free(P[j]);
  free(P);
}

typedef struct {
  int depth;
  int widths[6];
  int regression;
} config;

static const config configs[] = {
    {2, {5, 7, 3}, 0},       {2, {5, 7, 3}, 1},       {3, {4, 6, 2, 3}, 0},
    {3, {4, 6, 2, 3}, 1},    {4, {6, 3, 8, 4, 5}, 0}, {4, {6, 3, 8, 4, 5}, 1},
};
#define NCONFIG ((int)(sizeof configs / sizeof configs[0]))

/* ------------------------------------------------------------------ (a) gradient flow */

static void test_flow_conservation(void **state) {
  (void)state;
  const double rtols[2] = {1e-6, 1e-10};
  double worst[2] = {0, 0}, worst_ratio = INFINITY, min_control = INFINITY;
  for (int c = 0; c < NCONFIG; ++c) {
    const config *cf = &configs[c];
    int N = cf->depth;
    dln_net *net = NULL;
    assert_int_equal(dln_net_alloc(&net, N, cf->widths, 0), DLN_OK);
    task tk;
    task_make(&tk, cf->regression, cf->widths[N], cf->widths[0]);
    size_t np = net->nparams;
    double *th0 = tu_dalloc(np), *th = tu_dalloc(np);
    /* unbalanced Gaussian init: per-layer scales differ so every C_j(0) is far from 0 */
    for (int j = 1; j <= N; ++j)
      tu_fill_gauss((size_t)cf->widths[j] * cf->widths[j - 1], th0 + net->offset[j], (j % 2) ? 0.8 : 0.45);
    double drift[2] = {0, 0}, control = INFINITY;
    for (int k = 0; k < 2; ++k) {
      memcpy(th, th0, np * sizeof(double));
      dln_train_options o;
      dln_train_default_options(&o);
      o.method = &dln_integrator_flow;
      o.t_end = 3.0;
      o.rtol = rtols[k];
      o.atol = rtols[k] * 1e-2;
      o.nsamples = 2;
      dln_train_result r = tu_train(net, tk.loss, th, &o, NULL, NULL);
      double l0;
      assert_int_equal(dln_net_grad(net, tk.loss, th0, &l0, NULL, NULL), DLN_OK);
      /* the run did real work: the loss fell by ≥ 20% and the weights moved */
      assert_true(r.loss < 0.8 * l0);
      assert_true(tu_diffnorm(np, th, th0) > 0.05 * tu_fro(np, th0));
      for (int j = 1; j < N; ++j) {
        size_t nn = (size_t)cf->widths[j] * cf->widths[j];
        double *C0 = tu_dalloc(nn), *C1 = tu_dalloc(nn), *Cl = tu_dalloc(nn), *S0 = tu_dalloc(nn), *S1 = tu_dalloc(nn);
        tu_conserved(net, th0, j, -1, C0);
        tu_conserved(net, th, j, -1, C1);
        /* the library's C_j agrees with the plain-loop one to round-off */
        assert_int_equal(dln_net_conserved(net, th, j, Cl), DLN_OK);
        assert_true(tu_diffnorm(nn, Cl, C1) <= 1e-14 * (1 + tu_fro(nn, C1)) * cf->widths[j + 1]);
        double dr = tu_diffnorm(nn, C1, C0) / fmax(1.0, tu_fro(nn, C0));
        if (dr > drift[k]) drift[k] = dr;
        /* negative control: W_{j+1}^T W_{j+1} + W_j W_j^T on the same trajectory */
        tu_conserved(net, th0, j, +1, S0);
        tu_conserved(net, th, j, +1, S1);
        double dc = tu_diffnorm(nn, S1, S0) / fmax(1.0, tu_fro(nn, S0));
        if (dc < control) control = dc;
        free(C0), free(C1), free(Cl), free(S0), free(S1);
      }
    }
    print_message("flow depth %d %s: drift %.3g (rtol 1e-6), %.3g (rtol 1e-10); control (sum) %.3g\n", N,
                  cf->regression ? "regression" : "factorization", drift[0], drift[1], control);
    for (int k = 0; k < 2; ++k)
      if (drift[k] > worst[k]) worst[k] = drift[k];
    double ratio = drift[0] / fmax(drift[1], 1e-300);
    if (ratio < worst_ratio) worst_ratio = ratio;
    if (control < min_control) min_control = control;
    free(th0), free(th);
    task_free(&tk);
    dln_net_free(net);
  }
  print_message("flow: worst drift %.3g at rtol 1e-6, %.3g at rtol 1e-10; smallest ratio %.3g; control %.3g\n", worst[0],
                worst[1], worst_ratio, min_control);
  /* Absolute bounds: C_j is quadratic in θ, so its drift is ~2‖θ‖ times the global
   * error of θ, itself a small multiple of rtol over t = 3: assert 10·rtol. */
  assert_true(worst[0] <= 1e-5);
  assert_true(worst[1] <= 1e-9);
  /* tightening rtol by 1e4 must reduce the drift by at least 100x in every config */
  assert_true(worst_ratio >= 100);
  /* negative control: the non-conserved sum changes by O(1e-2) or more, far above
   * the bound, so the comparison can fail */
  assert_true(min_control > 1e-2);
}

/* ------------------------------------------------------------------ (b) gradient descent */

/* One GD step by the library: θ1 = θ0 − η ∇φ(θ0), via dln_train with t_end = η. */
static void gd_step(dln_net *net, dln_loss *loss, const double *th0, double eta, double *th1) {
  memcpy(th1, th0, net->nparams * sizeof(double));
  dln_train_options o;
  dln_train_default_options(&o);
  o.method = &dln_integrator_gd;
  o.eta = eta;
  o.t_end = eta;
  o.nsamples = 2;
  dln_train_result r = tu_train(net, loss, th1, &o, NULL, NULL);
  assert_int_equal((int)r.steps, 1);
}

/* For one library GD step from th0: dC = C_j(θ1) − C_j(θ0), pred = η²(G_{j+1}^T G_{j+1}
 * − G_j G_j^T) with G from own_grad at θ0 (first order cancels, see the header:
 * G_{j+1}^T W_{j+1} = W_j F^T W_{j+1} = W_j G_j^T, F = W_{N:j+2}^T ∇ℓ W_{j-1:1}^T), and
 * pred_wrong = η²(G_{j+1}^T G_{j+1} + G_j G_j^T), a perturbed formula. */
static void gd_delta(dln_net *net, const task *tk, const double *th0, double eta, int j, double *dC, double *pred,
                     double *pred_wrong) {
  const int *d = net->widths;
  size_t np = net->nparams, nn = (size_t)d[j] * d[j];
  double *th1 = tu_dalloc(np), *g = tu_dalloc(np), *C0 = tu_dalloc(nn), *C1 = tu_dalloc(nn), *A = tu_dalloc(nn),
         *B = tu_dalloc(nn);
  gd_step(net, tk->loss, th0, eta, th1);
  tu_conserved(net, th0, j, -1, C0);
  tu_conserved(net, th1, j, -1, C1);
  for (size_t i = 0; i < nn; ++i) dC[i] = C1[i] - C0[i];
  own_grad(net, tk, th0, g);
  const double *Gj = g + net->offset[j], *Gn = g + net->offset[j + 1];
  tu_mm(1, 0, d[j], d[j], d[j + 1], Gn, Gn, A); /* G_{j+1}^T G_{j+1} */
  tu_mm(0, 1, d[j], d[j], d[j - 1], Gj, Gj, B); /* G_j G_j^T */
  for (size_t i = 0; i < nn; ++i) {
    pred[i] = eta * eta * (A[i] - B[i]);
    pred_wrong[i] = eta * eta * (A[i] + B[i]); /* perturbed formula (negative control) */
  }
  free(th1), free(g), free(C0), free(C1), free(A), free(B);
}

static void test_gd_identity(void **state) {
  (void)state;
  double worst_rel = 0, worst_grad = 0, worst_ratio_dev = 0, min_control = INFINITY;
  for (int c = 0; c < NCONFIG; ++c) {
    const config *cf = &configs[c];
    int N = cf->depth;
    dln_net *net = NULL;
    assert_int_equal(dln_net_alloc(&net, N, cf->widths, 0), DLN_OK);
    task tk;
    task_make(&tk, cf->regression, cf->widths[N], cf->widths[0]);
    size_t np = net->nparams;
    double *th0 = tu_dalloc(np), *g = tu_dalloc(np), *gl = tu_dalloc(np);
    for (int j = 1; j <= N; ++j)
      tu_fill_gauss((size_t)cf->widths[j] * cf->widths[j - 1], th0 + net->offset[j], (j % 2) ? 0.8 : 0.45);
    /* the library's gradient equals the plain-loop one (the identity needs the true G) */
    own_grad(net, &tk, th0, g);
    assert_int_equal(dln_net_grad(net, tk.loss, th0, NULL, gl, NULL), DLN_OK);
    double ge = tu_diffnorm(np, gl, g) / tu_fro(np, g);
    if (ge > worst_grad) worst_grad = ge;
    for (int j = 1; j < N; ++j) {
      size_t nn = (size_t)cf->widths[j] * cf->widths[j];
      double *dC = tu_dalloc(nn), *pred = tu_dalloc(nn), *wrong = tu_dalloc(nn), *dCh = tu_dalloc(nn),
             *predh = tu_dalloc(nn);
      const double etas[3] = {0.04, 0.02, 0.01};
      for (int e = 0; e < 3; ++e) {
        double eta = etas[e];
        gd_delta(net, &tk, th0, eta, j, dC, pred, wrong);
        double pn = tu_fro(nn, pred);
        /* Round-off: C_j(θ1), C_j(θ0) are O(‖θ‖²) ≈ O(10) each, rounded to ~1e-16
         * relative; θ1 carries round-off ~eps·‖θ‖ from the step, giving ~1e-15·‖θ‖² in
         * ΔC. Against ‖η²(...)‖ ≳ 1e-4 (η ≥ 0.01) this is ≲ 1e-11 relative (measured
         * ~2e-13): assert 1e-10·‖pred‖ + 1e-14 absolute. */
        double err = tu_diffnorm(nn, dC, pred);
        assert_true(err <= 1e-10 * pn + 1e-14);
        if (err / pn > worst_rel) worst_rel = err / pn;
        /* negative control: the perturbed formula, measured on the same scale */
        double ctl = tu_diffnorm(nn, dC, wrong) / pn;
        if (ctl < min_control) min_control = ctl;
        /* η² scaling: ΔC(η) = 4 ΔC(η/2) up to round-off (a surviving first-order term
         * would give a ratio near 2) */
        if (e < 2) {
          gd_delta(net, &tk, th0, eta / 2, j, dCh, predh, wrong);
          double r = tu_fro(nn, dC) / tu_fro(nn, dCh);
          if (fabs(r - 4) > worst_ratio_dev) worst_ratio_dev = fabs(r - 4);
        }
      }
      free(dC), free(pred), free(wrong), free(dCh), free(predh);
    }
    free(th0), free(g), free(gl);
    task_free(&tk);
    dln_net_free(net);
  }
  print_message("gd: gradient rel. diff %.3g; worst |ΔC − η²(G'G − GG')|/|η²(...)| = %.3g; worst |ratio − 4| = %.3g; "
                "control (sum formula) %.3g\n",
                worst_grad, worst_rel, worst_ratio_dev, min_control);
  /* library gradient vs plain loops: both exact up to round-off in sums of ≤ 30 terms */
  assert_true(worst_grad <= 1e-13);
  /* the identity is exact, so the ratio is 4 up to the same round-off (measured ~2e-13) */
  assert_true(worst_ratio_dev <= 1e-9);
  /* negative control: η²(G'G + GG') misses ΔC by ≥ 1e-3 relative, i.e. by 1e7 times
   * the identity's tolerance (it differs by 2η²G_jG_j^T) */
  assert_true(min_control > 1e-3);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_flow_conservation),
      cmocka_unit_test(test_gd_identity),
  };
  tu_seed(0x9E3779B97F4A7C15ull);
  return cmocka_run_group_tests(tests, NULL, NULL);
}
