/* The ℓ_p regression loss (src/model/tasks/lp.c; 002 §3.2 Claim 1):
 *   ℓ(W) = (1/n) Σ_i ‖W x_i − y_i‖_p^p for p ∈ {2, 2.5, 3, 4}.
 * Truths, each independent of the code under test:
 *   (a) value and gradient against plain loops with pow() (rtol 1e-12); the ops make
 *       no heap call (counted);
 *   (b) ∇φ and ∇²φ[v] of networks (depths 1, 2, 3, 5, tied U U^T) against central
 *       differences (h = 1e-5: ≤ 1e-7 / 1e-6 relative, as tests/test_grad.c), each also
 *       run on a wrong answer (1e-3 added to one entry) that must fail;
 *   (c) p = 2 equals (2/n) × the regression loss ½‖WX − Y‖² (value, gradient, HVP, L*, W*),
 *       and its flow at t is regression's flow at 2t/n;
 *   (d) at zero residual (noise-free data, W = W_true) the Hessian of p > 2 vanishes
 *       (|r|^{p−2} = 0): HVP = 0, while p = 2 gives (2/n) D X X^T;
 *   (e) every flow integrator on a p = 4 run that converges to zero residual (singular
 *       Hessian at the limit) against a Gauss–Legendre reference at rtol 1e-12, at rtol
 *       1e-5 and 1e-8: the error must be small and shrink with the tolerance; the
 *       end-to-end flow (002 Thm 1) against the layer-wise reference from a balanced start,
 *       and its discretization (002 Claim 1) as η → 0;
 *   (f) gradient descent against the flow as η → 0: error ∝ η (ratio 2 per halving);
 *   (g) the CLI: `dln run --task=lp` and `dln check` (no square-loss row fires). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dln/data.h"
#include "dln/e2e.h"
#include "dln/error.h"
#include "dln/init.h"
#include "dln/loss.h"
#include "dln/mat.h"
#include "dln/net.h"
#include "dln/rng.h"
#include "dln/train.h"
#include "testutil.h"

#define FD_H 1e-5
#define GRAD_RTOL 1e-7
#define HVP_RTOL 1e-6
#define WRONG 1e-3

static const double PS[] = {2.0, 3.0, 4.0, 2.5};
#define NPS 4

typedef struct {
  dln_mat *X, *Y, *Wt;
} lpdata;

/* X ~ N(0, 1/d0) (d_0 x n), W_true ~ N(0, 1), Y = W_true X + noise N(0, 1). */
static lpdata make_data(uint64_t seed, int d0, int dn, int n, double noise) {
  lpdata d = {0};
  dln_rng *rng = dln_rng_alloc(seed, 3);
  assert_int_equal(dln_data_gaussian(rng, dn, d0, 1.0, &d.Wt), DLN_OK);
  assert_int_equal(dln_data_regression(rng, d0, dn, n, 0, NULL, 0.0, &d.X, &d.Y), DLN_OK);
  for (size_t i = 0; i < (size_t)d0 * n; ++i) d.X->data[i] /= sqrt((double)d0);
  tu_mm(0, 0, dn, n, d0, d.Wt->data, d.X->data, d.Y->data);
  for (size_t i = 0; i < (size_t)dn * n; ++i) d.Y->data[i] += noise * dln_rng_gaussian(rng, 1.0);
  dln_rng_free(rng);
  return d;
}
static void free_data(lpdata *d) {
  dln_mat_free(d->X), dln_mat_free(d->Y), dln_mat_free(d->Wt);
}

static double dot(size_t n, const double *a, const double *b) {
  double s = 0;
  for (size_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

/* ---------------------------------------------------------------- (a) plain loops */
static void test_value_grad_loops(void **state) {
  (void)state;
  for (int k = 0; k < NPS; ++k) {
    double p = PS[k];
    int d0 = 4, dn = 3, n = 7;
    lpdata d = make_data(10 + (uint64_t)k, d0, dn, n, 0.3);
    dln_loss *loss = NULL;
    assert_int_equal(dln_loss_lp_alloc(&loss, p, d.X, d.Y), DLN_OK);
    double *W = tu_dalloc((size_t)dn * d0), *G = tu_dalloc((size_t)dn * d0), *Gt = tu_dalloc((size_t)dn * d0);
    tu_fill_gauss((size_t)dn * d0, W, 1.0);
    double v = NAN, vt = 0;
    assert_int_equal(dln_loss_eval(loss, W, &v, G), DLN_OK);
    for (int i = 0; i < n; ++i)
      for (int a = 0; a < dn; ++a) {
        double r = -d.Y->data[a + (size_t)i * dn];
        for (int b = 0; b < d0; ++b) r += W[a + (size_t)b * dn] * d.X->data[b + (size_t)i * d0];
        vt += pow(fabs(r), p) / n;
        double g = p * pow(fabs(r), p - 1) * (r > 0 ? 1 : -1) / n; /* d|r|^p/dr */
        for (int b = 0; b < d0; ++b) Gt[a + (size_t)b * dn] += g * d.X->data[b + (size_t)i * d0];
      }
    assert_close(v, vt, 1e-12, 0);
    assert_true(tu_maxdiff((size_t)dn * d0, G, Gt) <= 1e-12 * tu_fro((size_t)dn * d0, Gt));
    assert_int_equal(dln_loss_has(loss, DLN_LOSS_QUADRATIC), p == 2);
    assert_int_equal(dln_loss_has(loss, DLN_LOSS_HAS_LSTAR), p == 2);
    assert_false(dln_loss_has(loss, DLN_LOSS_LSQ_DESIGN) || dln_loss_has(loss, DLN_LOSS_IDENTITY));
    if (p != 2) assert_true(isnan(loss->lstar) && !loss->wstar);
    /* the ops allocate nothing (dln/loss.h): every heap call of the process is counted */
    double *D = tu_dalloc((size_t)dn * d0);
    dln_alloc_count_begin();
    for (int r = 0; r < 5; ++r) {
      dln_loss_eval(loss, W, &v, G);
      dln_loss_eval(loss, W, &v, NULL);
      dln_loss_hvp(loss, W, W, D);
    }
    long frees = 0, allocs = dln_alloc_count_end(&frees);
    if (DLN_HAVE_ALLOC_COUNTER) assert_true(allocs == 0 && frees == 0);
    free(W), free(G), free(Gt), free(D);
    dln_loss_free(loss);
    free_data(&d);
  }
  dln_loss *l = NULL;
  lpdata d = make_data(1, 2, 2, 3, 0);
  assert_int_equal(dln_loss_lp_alloc(&l, 1.5, d.X, d.Y), DLN_EINVAL);
  assert_non_null(strstr(dln_last_error(), "expected a finite number >= 2, found 1.5"));
  assert_int_equal(dln_loss_lp_alloc(&l, INFINITY, d.X, d.Y), DLN_EINVAL);
  assert_int_equal(dln_loss_lp_alloc(&l, 4, d.X, d.Wt), DLN_EDIM); /* 2 x 2 "Y" with 3 samples in X */
  assert_null(l);
  free_data(&d);
}

/* ---------------------------------------------------------------- (b) networks, FD */
typedef struct {
  const char *name;
  int depth, widths[7], tied;
} config;
static const config configs[] = {
    {"N=1 4->3", 1, {4, 3}, 0},
    {"N=2 narrow 5->2->4", 2, {5, 2, 4}, 0},
    {"N=3 6->4->7->3", 3, {6, 4, 7, 3}, 0},
    {"N=5 4->5->3->6->4->5", 5, {4, 5, 3, 6, 4, 5}, 0},
    {"tied m=5 k=7", 2, {5, 7, 5}, 1},
    {"tied m=5 k=3", 2, {5, 3, 5}, 1},
};

static double phi(dln_net *net, dln_loss *loss, const double *th) {
  double v = NAN;
  assert_int_equal(dln_net_grad(net, loss, th, &v, NULL, NULL), DLN_OK);
  return v;
}

/* Relative FD errors of the gradient and of the HVP along v; wrong = 1 adds 1e-3 to one entry. */
static void fd_errors(dln_net *net, dln_loss *loss, const double *th, const double *v, int wrong, double *eg, double *eh) {
  size_t np = net->nparams;
  double *g = tu_dalloc(np), *h = tu_dalloc(np), *tp = tu_dalloc(np), *tm = tu_dalloc(np), *gp = tu_dalloc(np), *gm = tu_dalloc(np);
  assert_int_equal(dln_net_grad(net, loss, th, NULL, g, NULL), DLN_OK);
  assert_int_equal(dln_net_hvp(net, loss, th, v, h), DLN_OK);
  if (wrong) g[np / 2] += WRONG, h[np / 2] += WRONG;
  for (size_t i = 0; i < np; ++i) tp[i] = th[i] + FD_H * v[i], tm[i] = th[i] - FD_H * v[i];
  double fd = (phi(net, loss, tp) - phi(net, loss, tm)) / (2 * FD_H);
  *eg = fabs(fd - dot(np, g, v)) / dln_norm2(np, g);
  assert_int_equal(dln_net_grad(net, loss, tp, NULL, gp, NULL), DLN_OK);
  assert_int_equal(dln_net_grad(net, loss, tm, NULL, gm, NULL), DLN_OK);
  for (size_t i = 0; i < np; ++i) gp[i] = (gp[i] - gm[i]) / (2 * FD_H) - h[i];
  *eh = dln_norm2(np, gp) / dln_norm2(np, h);
  free(g), free(h), free(tp), free(tm), free(gp), free(gm);
}

static void test_fd_networks(void **state) {
  (void)state;
  for (size_t c = 0; c < sizeof configs / sizeof *configs; ++c)
    for (int k = 0; k < NPS; ++k)
      for (int under = 0; under < 2; ++under) {
        const config *cf = &configs[c];
        dln_net *net = NULL;
        assert_int_equal(dln_net_alloc(&net, cf->depth, cf->widths, cf->tied), DLN_OK);
        int d0 = dln_net_cols(net), dn = dln_net_rows(net), n = under ? (d0 > 2 ? d0 / 2 : 1) : d0 + 4;
        lpdata d = make_data(100 + c * 8 + (uint64_t)k * 2 + (uint64_t)under, d0, dn, n, 0.3);
        dln_loss *loss = NULL;
        assert_int_equal(dln_loss_lp_alloc(&loss, PS[k], d.X, d.Y), DLN_OK);
        dln_rng *rng = dln_rng_alloc(7 + c, (uint64_t)k);
        size_t np = net->nparams;
        double *th = tu_dalloc(np), *v = tu_dalloc(np), scales[8];
        int L = cf->tied ? 1 : cf->depth;
        for (int j = 1; j <= L; ++j) scales[j - 1] = 1.0 / sqrt((double)(cf->tied ? cf->widths[1] : cf->widths[j - 1]));
        assert_int_equal(dln_init_gaussian(net, th, rng, 0, scales), DLN_OK);
        double worst_g = 0, worst_h = 0;
        for (int dir = 0; dir < 3; ++dir) {
          dln_rng_fill_gaussian(rng, v, np, 1.0);
          double nv = dln_norm2(np, v);
          for (size_t i = 0; i < np; ++i) v[i] /= nv;
          double eg, eh, egw, ehw;
          fd_errors(net, loss, th, v, 0, &eg, &eh);
          fd_errors(net, loss, th, v, 1, &egw, &ehw);
          if (!(eg <= GRAD_RTOL) || !(eh <= HVP_RTOL))
            fail_msg("%s p=%g n=%d: gradient error %g, HVP error %g", cf->name, PS[k], n, eg, eh);
          if (!(ehw > HVP_RTOL)) fail_msg("%s p=%g: a wrong HVP passed (%g)", cf->name, PS[k], ehw);
          if (dir == 0 && !(egw > GRAD_RTOL)) fail_msg("%s p=%g: a wrong gradient passed (%g)", cf->name, PS[k], egw);
          worst_g = fmax(worst_g, eg), worst_h = fmax(worst_h, eh);
        }
        if (tu_verbose()) printf("  %-22s p=%-3g n=%-2d grad %.2e hvp %.2e\n", cf->name, PS[k], n, worst_g, worst_h);
        free(th), free(v);
        dln_rng_free(rng);
        dln_loss_free(loss);
        free_data(&d);
        dln_net_free(net);
      }
}

/* ---------------------------------------------------------------- (c) p = 2 vs regression */
static void test_p2_is_scaled_regression(void **state) {
  (void)state;
  int shapes[][3] = {{4, 3, 9}, {6, 2, 3}}; /* d0, dn, n: over- and under-determined */
  for (int s = 0; s < 2; ++s) {
    int d0 = shapes[s][0], dn = shapes[s][1], n = shapes[s][2];
    size_t m = (size_t)dn * d0;
    lpdata d = make_data(40 + (uint64_t)s, d0, dn, n, 0.5);
    dln_loss *lp = NULL, *reg = NULL;
    assert_int_equal(dln_loss_lp_alloc(&lp, 2.0, d.X, d.Y), DLN_OK);
    assert_int_equal(dln_loss_regression_alloc(&reg, d.X, d.Y), DLN_OK);
    double c = 2.0 / n; /* ℓ_lp = (2/n) ℓ_reg */
    double *W = tu_dalloc(m), *D = tu_dalloc(m), *G1 = tu_dalloc(m), *G2 = tu_dalloc(m), *H1 = tu_dalloc(m), *H2 = tu_dalloc(m);
    tu_fill_gauss(m, W, 1.0);
    tu_fill_gauss(m, D, 1.0);
    double v1, v2;
    assert_int_equal(dln_loss_eval(lp, W, &v1, G1), DLN_OK);
    assert_int_equal(dln_loss_eval(reg, W, &v2, G2), DLN_OK);
    assert_int_equal(dln_loss_hvp(lp, W, D, H1), DLN_OK);
    assert_int_equal(dln_loss_hvp(reg, W, D, H2), DLN_OK);
    assert_close(v1, c * v2, 1e-13, 0);
    for (size_t i = 0; i < m; ++i) {
      assert_close(G1[i], c * G2[i], 1e-12, 1e-14 * tu_fro(m, G1));
      assert_close(H1[i], c * H2[i], 1e-12, 1e-14 * tu_fro(m, H1));
      assert_close(lp->wstar[i], reg->wstar[i], 0, 1e-12);
    }
    assert_close(lp->lstar, c * reg->lstar, 1e-10, 1e-15);
    /* the flows: θ_lp(t) = θ_reg(2t/n) (time rescaled by the factor), depth 2 */
    int w[3] = {d0, 5, dn};
    dln_net *net = NULL;
    assert_int_equal(dln_net_alloc(&net, 2, w, 0), DLN_OK);
    double *ta = tu_dalloc(net->nparams), *tb = tu_dalloc(net->nparams);
    tu_fill_gauss(net->nparams, ta, 0.3);
    memcpy(tb, ta, net->nparams * sizeof *tb);
    tu_flow(net, lp, ta, 3.0, 1e-11, 1e-13);
    tu_flow(net, reg, tb, 3.0 * c, 1e-11, 1e-13);
    double e = tu_diffnorm(net->nparams, ta, tb) / tu_fro(net->nparams, tb);
    if (tu_verbose()) printf("  p=2 vs regression flow (n=%d, t_reg = 2t/n): rel. diff %.2e\n", n, e);
    assert_true(e <= 1e-8);
    free(ta), free(tb);
    dln_net_free(net);
    free(W), free(D), free(G1), free(G2), free(H1), free(H2);
    dln_loss_free(lp), dln_loss_free(reg);
    free_data(&d);
  }
}

/* ---------------------------------------------------------------- (d) zero residual */
static void test_zero_residual_hessian(void **state) {
  (void)state;
  int d0 = 4, dn = 3, n = 8;
  size_t m = (size_t)dn * d0;
  lpdata d = make_data(5, d0, dn, n, 0.0);
  double *D = tu_dalloc(m), *H = tu_dalloc(m), *G = tu_dalloc(m), *T = tu_dalloc((size_t)dn * n), *H2 = tu_dalloc(m);
  tu_fill_gauss(m, D, 1.0);
  for (int k = 0; k < NPS; ++k) {
    dln_loss *loss = NULL;
    assert_int_equal(dln_loss_lp_alloc(&loss, PS[k], d.X, d.Y), DLN_OK);
    double v;
    assert_int_equal(dln_loss_eval(loss, d.Wt->data, &v, G), DLN_OK);
    assert_int_equal(dln_loss_hvp(loss, d.Wt->data, D, H), DLN_OK);
    assert_true(v <= 1e-28 && tu_fro(m, G) <= 1e-14);
    if (PS[k] == 2) { /* (2/n) D X X^T */
      tu_mm(0, 0, dn, n, d0, D, d.X->data, T);
      tu_mm(0, 1, dn, d0, n, T, d.X->data, H2);
      for (size_t i = 0; i < m; ++i) H2[i] *= 2.0 / n;
      assert_true(tu_maxdiff(m, H, H2) <= 1e-13 * tu_fro(m, H2) && tu_fro(m, H2) > 0.1);
    } else { /* p(p−1)|r|^{p−2} → 0 with |r| ≲ 1e-14: the Hessian is singular, finite */
      double bound = 100 * PS[k] * (PS[k] - 1) * pow(1e-14, PS[k] - 2) * tu_fro(m, D);
      if (!(tu_fro(m, H) <= bound)) fail_msg("p=%g: |HVP| at zero residual %g > %g", PS[k], tu_fro(m, H), bound);
      double *W1 = tu_dalloc(m); /* control: away from zero residual the same HVP is O(1) */
      for (size_t i = 0; i < m; ++i) W1[i] = d.Wt->data[i] + 0.3;
      assert_int_equal(dln_loss_hvp(loss, W1, D, H), DLN_OK);
      assert_true(tu_fro(m, H) > 1e-2);
      free(W1);
    }
    dln_loss_free(loss);
  }
  free(D), free(H), free(G), free(T), free(H2);
  free_data(&d);
}

/* ---------------------------------------------------------------- (e) integrators */
typedef struct {
  const dln_integrator_type *m;
  int stages;
  const char *name;
} method;
static const method methods[] = {{&dln_integrator_flow, 0, "flow"},   {&dln_integrator_cvode, 0, "cvode"},
                                 {&dln_integrator_rkc, 0, "rkc"},     {&dln_integrator_auto, 0, "auto"},
                                 {&dln_integrator_gauss, 1, "gauss1"}, {&dln_integrator_gauss, 2, "gauss2"}};

static dln_train_result flow_to(dln_net *net, dln_loss *loss, double *th, const dln_integrator_type *m, int stages, double T,
                                double rtol, double eta) {
  dln_train_options o;
  dln_train_default_options(&o);
  o.method = m;
  o.gauss_stages = stages ? stages : 2;
  o.t_end = T;
  o.rtol = rtol;
  o.atol = rtol * 1e-2;
  if (eta > 0) o.eta = eta;
  o.nsamples = 2;
  dln_train_result r;
  int st = dln_train(net, loss, th, &o, NULL, NULL, &r);
  if (st) fail_msg("dln_train %s: %s", m->name, dln_last_error());
  assert_int_equal(r.stop_reason, DLN_STOP_TIME);
  return r;
}

/* depth 2, 4 -> 6 -> 3, p = 4, noise-free data: φ → 0 and the residual → 0 (the Hessian
 * of ℓ at the limit is 0) */
typedef struct {
  dln_net *net;
  dln_loss *loss;
  double *th0;
  lpdata d;
} problem;
static problem p4_problem(int balanced) {
  problem P;
  int w[] = {3, 6, 3};
  assert_int_equal(dln_net_alloc(&P.net, 2, w, 0), DLN_OK);
  P.d = make_data(21, 3, 3, 10, 0.0);
  assert_int_equal(dln_loss_lp_alloc(&P.loss, 4.0, P.d.X, P.d.Y), DLN_OK);
  P.th0 = tu_dalloc(P.net->nparams);
  dln_rng *rng = dln_rng_alloc(22, 0);
  if (balanced) { /* W0 = a perturbation of W_true: the same sign of det, so no saddle on the way */
    dln_mat *W0 = dln_mat_dup(P.d.Wt);
    for (int i = 0; i < 9; ++i) W0->data[i] += 0.3 * dln_rng_gaussian(rng, 1.0);
    assert_int_equal(dln_init_balanced(P.net, P.th0, W0, rng), DLN_OK);
    dln_mat_free(W0);
  } else {
    assert_int_equal(dln_init_gaussian(P.net, P.th0, rng, 0.5, NULL), DLN_OK);
  }
  dln_rng_free(rng);
  return P;
}
static void problem_free(problem *P) {
  dln_net_free(P->net), dln_loss_free(P->loss), free(P->th0), free_data(&P->d);
}

static void test_integrators_p4(void **state) {
  (void)state;
  problem P = p4_problem(0);
  size_t np = P.net->nparams;
  const double T = 30;
  double *ref = tu_dalloc(np), *th = tu_dalloc(np);
  memcpy(ref, P.th0, np * sizeof *ref);
  flow_to(P.net, P.loss, ref, &dln_integrator_gauss, 2, T, 1e-12, 0);
  double phi0 = phi(P.net, P.loss, P.th0), phiT = phi(P.net, P.loss, ref), nref = dln_norm2(np, ref);
  /* converging to zero residual: sublinear (ṙ ~ −r³), φ(T) ≪ φ(0), and ∇²ℓ(W) ∝ |r|² → 0 */
  assert_true(phiT <= 1e-4 * phi0);
  {
    size_t m = 9;
    double *W = tu_dalloc(m), *D = tu_dalloc(m), *H = tu_dalloc(m), h0, hT;
    tu_fill_gauss(m, D, 1.0);
    assert_int_equal(dln_net_product(P.net, P.th0, W), DLN_OK);
    assert_int_equal(dln_loss_hvp(P.loss, W, D, H), DLN_OK);
    h0 = tu_fro(m, H);
    assert_int_equal(dln_net_product(P.net, ref, W), DLN_OK);
    assert_int_equal(dln_loss_hvp(P.loss, W, D, H), DLN_OK);
    hT = tu_fro(m, H);
    if (tu_verbose()) printf("  p=4: phi(T)/phi(0) = %.2e, |Hess l(W(T)) D|/|Hess l(W(0)) D| = %.2e\n", phiT / phi0, hT / h0);
    assert_true(hT <= 1e-2 * h0);
    free(W), free(D), free(H);
  }
  for (size_t k = 0; k < sizeof methods / sizeof *methods; ++k) {
    double err[2];
    const double tols[2] = {1e-5, 1e-8};
    for (int t = 0; t < 2; ++t) {
      memcpy(th, P.th0, np * sizeof *th);
      dln_train_result r = flow_to(P.net, P.loss, th, methods[k].m, methods[k].stages, T, tols[t], 0);
      err[t] = tu_diffnorm(np, th, ref) / nref;
      if (tu_verbose())
        printf("  %-7s rtol %.0e: |theta - ref|/|ref| = %.3e (%ld rhs, %ld jtv, %s)\n", methods[k].name, tols[t], err[t],
               r.grad_evals, r.jtv_evals, r.integrator);
    }
    /* error ≤ 1e3·rtol (global error accumulated over t ∈ [0, 30]) and shrinking */
    if (!(err[0] <= 1e3 * tols[0]) || !(err[1] <= 1e3 * tols[1]) || !(err[1] < 0.1 * err[0]))
      fail_msg("%s: errors %.3g (rtol 1e-5), %.3g (rtol 1e-8)", methods[k].name, err[0], err[1]);
  }
  free(ref), free(th);
  problem_free(&P);
}

/* The end-to-end flow of a balanced start (002 Thm 1) against the layer-wise reference. */
static void test_e2e_p4(void **state) {
  (void)state;
  problem P = p4_problem(1);
  size_t np = P.net->nparams, m = 9;
  const double T = 20;
  double *ref = tu_dalloc(np), *Wref = tu_dalloc(m), *W = tu_dalloc(m);
  memcpy(ref, P.th0, np * sizeof *ref);
  flow_to(P.net, P.loss, ref, &dln_integrator_gauss, 2, T, 1e-12, 0);
  assert_int_equal(dln_net_product(P.net, ref, Wref), DLN_OK);
  if (tu_verbose()) printf("  e2e: phi(0) = %.3g, phi(T) = %.3g\n", phi(P.net, P.loss, P.th0), phi(P.net, P.loss, ref));
  assert_true(phi(P.net, P.loss, ref) <= 1e-2 * phi(P.net, P.loss, P.th0));
  dln_e2e *e = NULL;
  assert_int_equal(dln_e2e_alloc(&e, P.loss, 2), DLN_OK);
  double err[2];
  const double tols[2] = {1e-5, 1e-8};
  for (int t = 0; t < 2; ++t) {
    assert_int_equal(dln_e2e_from_net(P.net, P.th0, 0, W), DLN_OK);
    dln_train_options o;
    dln_train_default_options(&o);
    o.method = &dln_integrator_flow;
    o.t_end = T, o.rtol = tols[t], o.atol = tols[t] * 1e-2, o.nsamples = 2;
    dln_train_result r;
    assert_int_equal(dln_e2e_train(e, W, &o, NULL, &r), DLN_OK);
    assert_int_equal(r.stop_reason, DLN_STOP_TIME);
    err[t] = tu_diffnorm(m, W, Wref) / tu_fro(m, Wref);
    if (tu_verbose()) printf("  e2e flow rtol %.0e: |W - W_ref|/|W_ref| = %.3e\n", tols[t], err[t]);
  }
  if (!(err[0] <= 1e3 * tols[0]) || !(err[1] <= 1e3 * tols[1]) || !(err[1] < 0.1 * err[0]))
    fail_msg("e2e flow: errors %.3g (rtol 1e-5), %.3g (rtol 1e-8)", err[0], err[1]);
  /* the discretized end-to-end dynamics (002 Claim 1) → the flow as η → 0: error ∝ η */
  double gerr[3];
  const double etas[3] = {4e-3, 2e-3, 1e-3};
  for (int k = 0; k < 3; ++k) {
    assert_int_equal(dln_e2e_from_net(P.net, P.th0, 0, W), DLN_OK);
    dln_train_options o;
    dln_train_default_options(&o);
    o.method = &dln_integrator_gd;
    o.eta = etas[k], o.t_end = T, o.nsamples = 2;
    dln_train_result r;
    assert_int_equal(dln_e2e_train(e, W, &o, NULL, &r), DLN_OK);
    assert_int_equal(r.stop_reason, DLN_STOP_TIME);
    gerr[k] = tu_diffnorm(m, W, Wref) / tu_fro(m, Wref);
    if (tu_verbose()) printf("  e2e gd eta %.0e: |W - W_ref|/|W_ref| = %.4e\n", etas[k], gerr[k]);
  }
  for (int k = 0; k < 2; ++k)
    if (!(gerr[k] / gerr[k + 1] >= 1.8 && gerr[k] / gerr[k + 1] <= 2.2))
      fail_msg("e2e GD error ratio %g (errors %g, %g): expected ~2", gerr[k] / gerr[k + 1], gerr[k], gerr[k + 1]);
  dln_e2e_free(e);
  free(ref), free(Wref), free(W);
  problem_free(&P);
}

/* ---------------------------------------------------------------- (f) GD → flow */
static void test_gd_to_flow(void **state) {
  (void)state;
  problem P = p4_problem(0);
  size_t np = P.net->nparams;
  const double T = 2;
  double *ref = tu_dalloc(np), *th = tu_dalloc(np), err[3];
  memcpy(ref, P.th0, np * sizeof *ref);
  flow_to(P.net, P.loss, ref, &dln_integrator_gauss, 2, T, 1e-12, 0);
  const double etas[3] = {2e-3, 1e-3, 5e-4};
  for (int k = 0; k < 3; ++k) {
    memcpy(th, P.th0, np * sizeof *th);
    flow_to(P.net, P.loss, th, &dln_integrator_gd, 0, T, 1e-8, etas[k]);
    err[k] = tu_diffnorm(np, th, ref) / dln_norm2(np, ref);
    if (tu_verbose()) printf("  gd eta %.0e: |theta - flow|/|flow| = %.4e\n", etas[k], err[k]);
  }
  /* explicit Euler: global error O(η), so halving η halves it (ratios within [1.8, 2.2]) */
  for (int k = 0; k < 2; ++k) {
    double ratio = err[k] / err[k + 1];
    if (!(ratio >= 1.8 && ratio <= 2.2)) fail_msg("GD error ratio %g (errors %g, %g): expected ~2", ratio, err[k], err[k + 1]);
  }
  assert_true(err[2] <= 0.05);
  free(ref), free(th);
  problem_free(&P);
}

/* ---------------------------------------------------------------- (g) CLI */
static int run_cli(const char *dir, const char *const *args) { return tu_wait(tu_spawn(DLN_CLI, args, dir)); }

static void test_cli_run_check(void **state) {
  (void)state;
  const char *dir = tu_tmpdir(0);
  /* p = 4 with noise: a critical end point that is a minimum (no L* for p != 2) */
  const char *run[] = {"run", "--task=lp", "--p=4", "--noise=0.5", "--rows=3", "--cols=4", "--widths=4,6,3", "--n_samples=10",
                       "--t_end=100", "--out=r", "--plot=false", "--quiet", NULL};
  assert_int_equal(run_cli(dir, run), 0);
  char *sum = tu_slurp(tu_path(dir, "r/summary.json"));
  assert_non_null(sum);
  assert_non_null(strstr(sum, "\"p\": 4.0"));
  free(sum);
  const char *chk[] = {"check", "r", NULL};
  assert_int_equal(run_cli(dir, chk), 0);
  char *out = tu_slurp(tu_path(dir, "stdout.txt"));
  assert_non_null(out);
  assert_null(strstr(out, "VIOLATED"));
  assert_non_null(strstr(out, "square loss (004 Prop. 4) or a known phi* fails (loss lp"));
  assert_non_null(strstr(out, "003 Theorem 1: square loss (regression or factorization) fails (loss lp)"));
  free(out);
  /* e2e and GD through the CLI; reduce (regression's option) is refused */
  const char *e2e[] = {"run", "--task=lp", "--p=3", "--rows=3", "--cols=3", "--widths=3,3,3", "--init=balanced", "--sigma=0.5",
                       "--method=e2e_gd", "--eta=1e-3", "--t_end=1", "--out=e", "--plot=false", "--quiet", NULL};
  assert_int_equal(run_cli(dir, e2e), 0);
  const char *bad[] = {"run", "--task=lp", "--reduce=true", "--out=b", "--quiet", NULL};
  assert_int_equal(run_cli(dir, bad), 65);
  const char *badp[] = {"run", "--task=lp", "--p=1.5", "--out=b", "--quiet", NULL};
  assert_int_equal(run_cli(dir, badp), 65);
  tu_rmtree(dir);
}

int main(void) {
  tu_seed(2026);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_value_grad_loops), cmocka_unit_test(test_fd_networks),   cmocka_unit_test(test_p2_is_scaled_regression),
      cmocka_unit_test(test_zero_residual_hessian), cmocka_unit_test(test_integrators_p4), cmocka_unit_test(test_e2e_p4),
      cmocka_unit_test(test_gd_to_flow),       cmocka_unit_test(test_cli_run_check),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
