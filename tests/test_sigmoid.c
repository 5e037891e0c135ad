/* The sigmoid task (src/model/tasks/sigmoid.c): ℓ(W) = ½‖Y − s(W X)‖²_F (001 §6, Fig. 3).
 *
 * Truths, each independent of the library's code path:
 *   (a) ℓ, ∇ℓ and ∇²ℓ[D] against plain long-double loops with s(z) = 1/(1 + e^{−z}) from
 *       expl, for |W X| from O(1) up to ~1e3 (saturated entries), rtol 1e-12;
 *   (b) central differences (h = 1e-5) of φ and ∇φ for depths 1, 2, 3, 5, narrow/wide,
 *       non-square and tied networks: gradient 1e-7, HVP 1e-6 relative; a wrong answer and
 *       the Gauss–Newton product (the s'' term dropped) must fail the same test;
 *   (c) every integrator (flow, cvode, gauss 1 and 2 stages, rkc, auto; e2e flow) against
 *       ARKODE at rtol 1e-12 from the same start: error at rtol 1e-8 below the error at
 *       1e-5 and within slack·1e-8; GD (layer-wise and end-to-end) against the flow:
 *       first order, e(η)/e(η/4) in [3, 5];
 *   (d) the generator: its draws reproduced from the documented order (W_true, then X and
 *       E as regression draws them) to 1e-15, sizes, the noise level recovered from
 *       Y − s(W_true X) within 4 standard errors, bit-identical data for one seed;
 *   (e) the CLI: examples/sigmoid_fig3.json at a reduced n and t_end (three runs from the
 *       same W(0): loss decreases, two layers beat one, ‖Q0‖ = 4.6 beats ‖Q0‖ = 0), a
 *       depth-2 flow run to a minimum whose `dln check` has no violated row (the
 *       no-spurious-minimum row is not applicable to this non-square loss), and
 *       x_file/y_file data. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dln/data.h"
#include "dln/e2e.h"
#include "dln/error.h"
#include "dln/init.h"
#include "dln/integrator.h"
#include "dln/io.h"
#include "dln/loss.h"
#include "dln/mat.h"
#include "dln/net.h"
#include "dln/option.h"
#include "dln/rng.h"
#include "dln/task.h"
#include "dln/train.h"
#include "testutil.h"

/* ------------------------------------------------------------------ helpers */

static double sig(double z) { return 1.0 / (1.0 + exp(-z)); } /* plain, for moderate z */

/* X (d0 x n) ~ N(0, 1/d0), Y = s(E) with E ~ N(0, 1): a residual that does not vanish. */
static dln_loss *make_loss(int dn, int d0, int n, uint64_t seed, dln_mat **Xo, dln_mat **Yo) {
  dln_rng *r = dln_rng_alloc(seed, 0);
  dln_mat *X = NULL, *Y = NULL;
  assert_int_equal(dln_data_regression(r, d0, dn, n, 0, NULL, 0.0, &X, &Y), DLN_OK);
  for (size_t i = 0; i < (size_t)d0 * n; ++i) X->data[i] /= sqrt((double)d0);
  for (size_t i = 0; i < (size_t)dn * n; ++i) Y->data[i] = sig(Y->data[i]);
  dln_loss *l = NULL;
  assert_int_equal(dln_loss_sigmoid_alloc(&l, X, Y), DLN_OK);
  if (Xo) *Xo = X;
  else dln_mat_free(X);
  if (Yo) *Yo = Y;
  else dln_mat_free(Y);
  dln_rng_free(r);
  return l;
}

/* ℓ, ∇ℓ, ∇²ℓ[D] in long double: s = 1/(1 + e^{−z}), 1 − s = e^{−z}/(1 + e^{−z}). */
static long double ld_ops(const dln_mat *X, const dln_mat *Y, const double *W, const double *D, double *G, double *HD) {
  int dn = Y->rows, d0 = X->rows, n = X->cols;
  long double val = 0;
  long double *g = calloc((size_t)dn * d0, sizeof *g), *h = calloc((size_t)dn * d0, sizeof *h);
  for (int k = 0; k < n; ++k)
    for (int i = 0; i < dn; ++i) {
      long double z = 0, dz = 0;
      for (int j = 0; j < d0; ++j) {
        z += (long double)W[i + (size_t)j * dn] * X->data[j + (size_t)k * d0];
        dz += (long double)D[i + (size_t)j * dn] * X->data[j + (size_t)k * d0];
      }
      long double e = expl(-z), s = 1.0L / (1.0L + e), c = e / (1.0L + e);
      long double r = s - Y->data[i + (size_t)k * dn], d1 = s * c, d2 = d1 * (c - s);
      val += 0.5L * r * r;
      for (int j = 0; j < d0; ++j) {
        g[i + (size_t)j * dn] += r * d1 * X->data[j + (size_t)k * d0];
        h[i + (size_t)j * dn] += (d1 * d1 + r * d2) * dz * X->data[j + (size_t)k * d0];
      }
    }
  for (size_t q = 0; q < (size_t)dn * d0; ++q) G[q] = (double)g[q], HD[q] = (double)h[q];
  free(g), free(h);
  return val;
}

static double dot(size_t n, const double *a, const double *b) {
  double s = 0;
  for (size_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

/* ------------------------------------------------------------------ (a) value, gradient, HVP */

static void test_ops_vs_long_double(void **state) {
  (void)state;
  const int dn = 3, d0 = 4, n = 25;
  dln_mat *X = NULL, *Y = NULL;
  dln_loss *l = make_loss(dn, d0, n, 11, &X, &Y);
  assert_int_equal(l->ops->caps, 0u);
  assert_true(isnan(l->lstar));
  assert_null(l->wstar);
  size_t m = (size_t)dn * d0;
  double W[12], D[12], G[12], H[12], Gt[12], Ht[12], zmax = 0;
  const double scales[] = {1, 30, 300, 2000};
  for (int sc = 0; sc < 4; ++sc) {
    tu_fill_gauss(m, W, scales[sc]);
    tu_fill_gauss(m, D, 1.0);
    double v = NAN;
    assert_int_equal(dln_loss_eval(l, W, &v, G), DLN_OK);
    assert_int_equal(dln_loss_hvp(l, W, D, H), DLN_OK);
    double vt = (double)ld_ops(X, Y, W, D, Gt, Ht);
    for (int k = 0; k < n; ++k) /* largest |W X| reached */
      for (int i = 0; i < dn; ++i) {
        double z = 0;
        for (int j = 0; j < d0; ++j) z += W[i + j * dn] * X->data[j + (size_t)k * d0];
        zmax = fmax(zmax, fabs(z));
      }
    if (tu_verbose())
      printf("scale %g: |WX| <= %.3g, value %.17g vs %.17g, grad %.3g, hvp %.3g\n", scales[sc], zmax, v, vt,
             tu_diffnorm(m, G, Gt) / tu_fro(m, Gt), tu_diffnorm(m, H, Ht) / fmax(tu_fro(m, Ht), 1e-300));
    assert_close(v, vt, 1e-12, 0);
    for (size_t q = 0; q < m; ++q) assert_true(isfinite(G[q]) && isfinite(H[q]));
    assert_true(tu_diffnorm(m, G, Gt) <= 1e-12 * tu_fro(m, Gt) + 1e-300);
    assert_true(tu_diffnorm(m, H, Ht) <= 1e-12 * tu_fro(m, Ht) + 1e-300);
  }
  assert_true(zmax > 1e3); /* the saturated range was reached */
#if DLN_HAVE_ALLOC_COUNTER
  double v;
  dln_alloc_count_begin();
  dln_loss_eval(l, W, &v, G);
  dln_loss_hvp(l, W, D, H);
  D[0] += 1; /* a new direction at the same W, then a new W */
  dln_loss_hvp(l, W, D, H);
  W[0] += 1;
  dln_loss_hvp(l, W, D, H);
  assert_int_equal(dln_alloc_count_end(NULL), 0);
#endif
  dln_loss_free(l), dln_mat_free(X), dln_mat_free(Y);
}

/* ------------------------------------------------------------------ (b) finite differences */

typedef struct {
  int depth, widths[7], tied;
} cfg;
static const cfg cfgs[] = {{1, {4, 3}, 0},          {2, {5, 2, 4}, 0},          {2, {3, 12, 4}, 0},
                           {3, {6, 4, 7, 3}, 0},    {5, {4, 5, 3, 6, 4, 5}, 0}, {2, {4, 6, 4}, 1},
                           {2, {4, 3, 4}, 1}};

/* For one unit direction v: |FD − ⟨g, v⟩|/‖g‖ and ‖FD(∇φ) − hv‖/‖hv‖ (central, h = 1e-5). */
static void fd_errors(dln_net *net, dln_loss *loss, const double *th, const double *g, const double *v, const double *hv,
                      double *eg, double *eh) {
  size_t np = net->nparams;
  const double h = 1e-5;
  double *tp = malloc(np * sizeof *tp), *tm = malloc(np * sizeof *tm), *gp = malloc(np * sizeof *gp), *gm = malloc(np * sizeof *gm);
  assert_true(tp && tm && gp && gm);
  for (size_t i = 0; i < np; ++i) tp[i] = th[i] + h * v[i], tm[i] = th[i] - h * v[i];
  double fp, fm;
  assert_int_equal(dln_net_grad(net, loss, tp, &fp, gp, NULL), DLN_OK);
  assert_int_equal(dln_net_grad(net, loss, tm, &fm, gm, NULL), DLN_OK);
  *eg = fabs((fp - fm) / (2 * h) - dot(np, g, v)) / dln_norm2(np, g);
  double s = 0;
  for (size_t i = 0; i < np; ++i) {
    double fd = (gp[i] - gm[i]) / (2 * h);
    s += (fd - hv[i]) * (fd - hv[i]);
  }
  *eh = sqrt(s) / dln_norm2(np, hv);
  free(tp), free(tm), free(gp), free(gm);
}

static void test_fd(void **state) {
  (void)state;
  for (size_t c = 0; c < sizeof cfgs / sizeof *cfgs; ++c) {
    const cfg *k = &cfgs[c];
    dln_net *net = NULL;
    assert_int_equal(dln_net_alloc(&net, k->depth, k->widths, k->tied), DLN_OK);
    int d0 = k->widths[0], dn = k->widths[k->depth];
    dln_mat *X = NULL, *Y = NULL;
    dln_loss *loss = make_loss(dn, d0, 17, 100 + c, &X, &Y);
    size_t np = net->nparams;
    double *th = malloc(np * sizeof *th), *g = malloc(np * sizeof *g), *v = malloc(np * sizeof *v),
           *hv = malloc(np * sizeof *hv);
    dln_rng *rng = dln_rng_alloc(5 + c, 0);
    assert_int_equal(dln_init_gaussian(net, th, rng, 0.8, NULL), DLN_OK);
    assert_int_equal(dln_net_grad(net, loss, th, NULL, g, NULL), DLN_OK);
    double worst_g = 0, worst_h = 0, worst_gn = INFINITY;
    for (int dir = 0; dir < 4; ++dir) {
      dln_rng_fill_gaussian(rng, v, np, 1.0);
      double nv = dln_norm2(np, v);
      for (size_t i = 0; i < np; ++i) v[i] /= nv;
      assert_int_equal(dln_net_hvp(net, loss, th, v, hv), DLN_OK);
      double eg, eh;
      fd_errors(net, loss, th, g, v, hv, &eg, &eh);
      worst_g = fmax(worst_g, isnan(eg) ? INFINITY : eg);
      worst_h = fmax(worst_h, isnan(eh) ? INFINITY : eh);
      /* controls: a gradient off by 1e-3·‖g‖ along v, a product with one entry off by
       * 1e-3·‖Hv‖: both must fail the tolerances above */
      double *gw = malloc(np * sizeof *gw), ng = dln_norm2(np, g), ew1, ew2;
      for (size_t i = 0; i < np; ++i) gw[i] = g[i] + 1e-3 * ng * v[i];
      hv[0] += 1e-3 * dln_norm2(np, hv);
      fd_errors(net, loss, th, gw, v, hv, &ew1, &ew2);
      assert_true(ew1 > 1e-7);
      assert_true(ew2 > 1e-6);
      free(gw);
    }
    /* Gauss–Newton control: a loss whose Y = s(W X) at this θ has R = 0, so its HVP is
     * J^T J v; against the true loss's FD Hessian it must fail */
    {
      double *W = malloc((size_t)dn * d0 * sizeof *W);
      assert_int_equal(dln_net_product(net, th, W), DLN_OK);
      dln_mat *Y0 = dln_mat_alloc(dn, X->cols);
      for (int q = 0; q < X->cols; ++q)
        for (int i = 0; i < dn; ++i) {
          double z = 0;
          for (int j = 0; j < d0; ++j) z += W[i + (size_t)j * dn] * X->data[j + (size_t)q * d0];
          Y0->data[i + (size_t)q * dn] = sig(z);
        }
      dln_loss *l0 = NULL;
      assert_int_equal(dln_loss_sigmoid_alloc(&l0, X, Y0), DLN_OK);
      /* at W, l0's product is the Gauss–Newton product J^T J D of loss (same X, R = 0) */
      double *D = malloc((size_t)dn * d0 * sizeof *D), *h1 = malloc((size_t)dn * d0 * sizeof *h1),
             *h0 = malloc((size_t)dn * d0 * sizeof *h0), *gp = malloc((size_t)dn * d0 * sizeof *gp),
             *gm = malloc((size_t)dn * d0 * sizeof *gm), *Wp = malloc((size_t)dn * d0 * sizeof *Wp),
             *Wm = malloc((size_t)dn * d0 * sizeof *Wm);
      size_t m = (size_t)dn * d0;
      tu_fill_gauss(m, D, 1.0);
      assert_int_equal(dln_loss_hvp(loss, W, D, h1), DLN_OK);
      assert_int_equal(dln_loss_hvp(l0, W, D, h0), DLN_OK); /* Gauss–Newton product of loss at W */
      for (size_t q = 0; q < m; ++q) Wp[q] = W[q] + 1e-5 * D[q], Wm[q] = W[q] - 1e-5 * D[q];
      double f;
      assert_int_equal(dln_loss_eval(loss, Wp, &f, gp), DLN_OK);
      assert_int_equal(dln_loss_eval(loss, Wm, &f, gm), DLN_OK);
      for (size_t q = 0; q < m; ++q) gp[q] = (gp[q] - gm[q]) / 2e-5;
      double e1 = tu_diffnorm(m, gp, h1) / tu_fro(m, gp), e0 = tu_diffnorm(m, gp, h0) / tu_fro(m, gp);
      if (tu_verbose()) printf("  loss HVP: exact %.3g, Gauss-Newton %.3g\n", e1, e0);
      assert_true(e1 <= 1e-6);
      worst_gn = e0;
      free(D), free(h1), free(h0), free(gp), free(gm), free(Wp), free(Wm), free(W);
      dln_loss_free(l0);
      dln_mat_free(Y0);
    }
    if (tu_verbose()) printf("config %zu: grad %.3g, hvp %.3g, Gauss-Newton %.3g\n", c, worst_g, worst_h, worst_gn);
    assert_true(worst_g <= 1e-7);
    assert_true(worst_h <= 1e-6);
    assert_true(worst_gn > 1e-3); /* the s'' term matters at this residual */
    free(th), free(g), free(v), free(hv);
    dln_rng_free(rng);
    dln_loss_free(loss), dln_mat_free(X), dln_mat_free(Y);
    dln_net_free(net);
  }
}

/* ------------------------------------------------------------------ (c) integrators, GD, e2e */

/* The integrator problem: data from the task's generator (d_0 = 4, d_N = 3, n = 40), a
 * 4 -> 5 -> 3 network from N(0, 0.3²), t_end = 3. */
typedef struct {
  dln_net *net;
  dln_loss *loss;
  double *th0;
} prob;

static void task_opts(dln_task_options *o) {
  memset(o, 0, sizeof *o);
  assert_int_equal(dln_options_default(o, dln_task_common_rows(), -1), DLN_OK);
  assert_int_equal(dln_options_default(o, dln_task_regression.options, -1), DLN_OK);
}
static void task_opts_free(dln_task_options *o) {
  dln_options_free(o, dln_task_common_rows(), -1);
  dln_options_free(o, dln_task_regression.options, -1);
}

static void prob_make(prob *p, int balanced) {
  dln_task_options o;
  task_opts(&o);
  o.rows = 3, o.cols = 4, o.n_samples = 40, o.noise = 1e-3;
  dln_rng *rng = dln_rng_alloc(3, 0);
  dln_task_data d;
  const char *field = NULL;
  assert_int_equal(dln_task_data_build(&dln_task_sigmoid, &o, rng, &d, &field), DLN_OK);
  assert_int_equal(dln_task_sigmoid.loss(&o, &d, &p->loss), DLN_OK);
  int w[] = {4, 5, 3};
  assert_int_equal(dln_net_alloc(&p->net, 2, w, 0), DLN_OK);
  p->th0 = malloc(p->net->nparams * sizeof *p->th0);
  if (balanced) {
    dln_mat *W0 = NULL;
    assert_int_equal(dln_data_gaussian(rng, 3, 4, 0.5, &W0), DLN_OK);
    assert_int_equal(dln_init_balanced(p->net, p->th0, W0, rng), DLN_OK);
    dln_mat_free(W0);
  } else {
    assert_int_equal(dln_init_gaussian(p->net, p->th0, rng, 0.3, NULL), DLN_OK);
  }
  dln_task_data_free(&d);
  dln_rng_free(rng);
  task_opts_free(&o);
}
static void prob_free(prob *p) {
  dln_net_free(p->net);
  dln_loss_free(p->loss);
  free(p->th0);
}

static const double T_END = 3.0;

/* θ(T_END) by method (gauss: stages) at rtol (atol = rtol/100) or GD at eta. */
static void integrate(prob *p, const dln_integrator_type *m, int stages, double rtol, double eta, double *th) {
  memcpy(th, p->th0, p->net->nparams * sizeof *th);
  dln_train_options o;
  dln_train_default_options(&o);
  o.method = m;
  o.gauss_stages = stages ? stages : o.gauss_stages;
  o.t_end = T_END;
  o.rtol = rtol;
  o.atol = rtol * 1e-2;
  o.eta = eta > 0 ? eta : o.eta;
  o.nsamples = 2;
  dln_train_result r = tu_train(p->net, p->loss, th, &o, NULL, NULL);
  assert_close(r.t, T_END, 1e-12, 0);
}

static void test_integrators(void **state) {
  (void)state;
  prob p;
  prob_make(&p, 0);
  size_t np = p.net->nparams;
  double *ref = malloc(np * sizeof *ref), *th = malloc(np * sizeof *th), l0, l1;
  integrate(&p, &dln_integrator_flow, 0, 1e-12, 0, ref);
  assert_int_equal(dln_net_grad(p.net, p.loss, p.th0, &l0, NULL, NULL), DLN_OK);
  assert_int_equal(dln_net_grad(p.net, p.loss, ref, &l1, NULL, NULL), DLN_OK);
  assert_true(l1 < 0.1 * l0); /* the flow moved: the comparison is not trivial */
  static const struct {
    const dln_integrator_type *m;
    int stages;
    double slack; /* global error / rtol allowed (test_integrators.c's measured classes) */
  } ms[] = {{&dln_integrator_flow, 0, 20}, {&dln_integrator_cvode, 0, 50}, {&dln_integrator_gauss, 1, 2000},
            {&dln_integrator_gauss, 2, 20}, {&dln_integrator_rkc, 0, 20},  {&dln_integrator_auto, 0, 50}};
  double scale = dln_norm2(np, ref);
  for (size_t k = 0; k < sizeof ms / sizeof *ms; ++k) {
    double e[2];
    const double tols[2] = {1e-5, 1e-8};
    for (int q = 0; q < 2; ++q) {
      integrate(&p, ms[k].m, ms[k].stages, tols[q], 0, th);
      e[q] = tu_diffnorm(np, th, ref) / scale;
    }
    if (tu_verbose()) printf("%s%s: error %.3g at rtol 1e-5, %.3g at 1e-8\n", ms[k].m->name, ms[k].stages == 1 ? "(1)" : "", e[0], e[1]);
    assert_true(e[1] < e[0]);
    assert_true(e[1] <= ms[k].slack * 1e-8);
  }
  /* GD is explicit Euler of the flow (001 footnote 2): error O(η) */
  const double etas[3] = {1e-2, 2.5e-3, 6.25e-4};
  double eg[3];
  for (int q = 0; q < 3; ++q) {
    integrate(&p, &dln_integrator_gd, 0, 1e-8, etas[q], th);
    eg[q] = tu_diffnorm(np, th, ref) / scale;
  }
  if (tu_verbose()) printf("gd: errors %.3g %.3g %.3g, ratios %.3f %.3f\n", eg[0], eg[1], eg[2], eg[0] / eg[1], eg[1] / eg[2]);
  for (int q = 0; q < 2; ++q) {
    assert_true(eg[q] / eg[q + 1] >= 3.0);
    assert_true(eg[q] / eg[q + 1] <= 5.0);
  }
  free(ref), free(th);
  prob_free(&p);
}

/* End-to-end system (002 Thm 1 holds for any differentiable ℓ): from a balanced start,
 * e2e_flow gives the product of the layer-wise flow; e2e_gd tends to it with O(η). */
static void test_e2e(void **state) {
  (void)state;
  prob p;
  prob_make(&p, 1);
  size_t np = p.net->nparams, m = 12;
  double *ref = malloc(np * sizeof *ref), Wref[12], W[12];
  integrate(&p, &dln_integrator_flow, 0, 1e-12, 0, ref);
  assert_int_equal(dln_net_product(p.net, ref, Wref), DLN_OK);
  dln_e2e *e = NULL;
  assert_int_equal(dln_e2e_alloc(&e, p.loss, 2), DLN_OK);
  double sc = tu_fro(m, Wref), ef[2], eg[2];
  for (int q = 0; q < 2; ++q) {
    dln_train_options o;
    dln_train_default_options(&o);
    o.t_end = T_END, o.nsamples = 2;
    o.rtol = q ? 1e-8 : 1e-5, o.atol = o.rtol * 1e-2;
    dln_train_result r;
    assert_int_equal(dln_net_product(p.net, p.th0, W), DLN_OK);
    assert_int_equal(dln_e2e_flow(e, W, &o, NULL, NULL, &r), DLN_OK);
    assert_int_equal(r.stop_reason, DLN_STOP_TIME);
    ef[q] = tu_diffnorm(m, W, Wref) / sc;
    o.eta = q ? 2.5e-3 : 1e-2;
    assert_int_equal(dln_net_product(p.net, p.th0, W), DLN_OK);
    assert_int_equal(dln_e2e_gd(e, W, &o, NULL, NULL, &r), DLN_OK);
    eg[q] = tu_diffnorm(m, W, Wref) / sc;
  }
  if (tu_verbose()) printf("e2e flow: %.3g %.3g; e2e gd: %.3g %.3g (ratio %.3f)\n", ef[0], ef[1], eg[0], eg[1], eg[0] / eg[1]);
  assert_true(ef[1] < ef[0]);
  assert_true(ef[1] <= 50 * 1e-8);
  assert_true(eg[0] / eg[1] >= 3.0 && eg[0] / eg[1] <= 5.0);
  dln_e2e_free(e);
  free(ref);
  prob_free(&p);
}

/* ------------------------------------------------------------------ (d) the generator */

static void gen(uint64_t seed, int x_rank, dln_task_data *d) {
  dln_task_options o;
  task_opts(&o);
  o.rows = 10, o.cols = 10, o.n_samples = 1000, o.noise = 1e-3, o.x_rank = x_rank; /* 001 §6 */
  dln_rng *rng = dln_rng_alloc(seed, 0);
  const char *field = NULL;
  assert_int_equal(dln_task_check(&dln_task_sigmoid, &o, &field), DLN_OK);
  int rows = 0, cols = 0;
  assert_int_equal(dln_task_sigmoid.shape(&o, &rows, &cols), 1);
  assert_int_equal(rows, 10);
  assert_int_equal(cols, 10);
  assert_int_equal(dln_task_data_build(&dln_task_sigmoid, &o, rng, d, &field), DLN_OK);
  dln_rng_free(rng);
  task_opts_free(&o);
}

static void test_generator(void **state) {
  (void)state;
  dln_task_data d, d2, d3;
  gen(1, 0, &d);
  const dln_mat *X = dln_task_data_get(&d, "x_file"), *Y = dln_task_data_get(&d, "y_file"), *T = d.truth;
  assert_non_null(X), assert_non_null(Y), assert_non_null(T);
  assert_true(X->rows == 10 && X->cols == 1000 && Y->rows == 10 && Y->cols == 1000 && T->rows == 10 && T->cols == 10);
  /* the documented draws: W_true ~ N(0, 1), then X and E as regression draws them */
  dln_rng *r0 = dln_rng_alloc(1, 0);
  dln_mat *Wt = NULL, *Xt = NULL, *E = NULL;
  assert_int_equal(dln_data_gaussian(r0, 10, 10, 1.0, &Wt), DLN_OK);
  assert_int_equal(dln_data_regression(r0, 10, 10, 1000, 0, NULL, 0.0, &Xt, &E), DLN_OK);
  assert_memory_equal(Wt->data, T->data, 100 * sizeof(double));
  assert_memory_equal(Xt->data, X->data, 10000 * sizeof(double));
  /* Y = s(W_true X) + 1e-3 E; the noise recovered from Y − s(W_true X) */
  double worst = 0, sum = 0, sum2 = 0, xs = 0, xs2 = 0;
  for (int k = 0; k < 1000; ++k)
    for (int i = 0; i < 10; ++i) {
      double z = 0;
      for (int j = 0; j < 10; ++j) z += T->data[i + 10 * j] * X->data[j + 10 * k];
      double y = Y->data[i + 10 * k], eps = y - sig(z);
      worst = fmax(worst, fabs(y - (sig(z) + 1e-3 * E->data[i + 10 * k])));
      sum += eps, sum2 += eps * eps;
      xs += X->data[i + 10 * k], xs2 += X->data[i + 10 * k] * X->data[i + 10 * k];
    }
  double N = 1e4, mean = sum / N, sd = sqrt(sum2 / N - mean * mean), xm = xs / N, xv = xs2 / N - xm * xm;
  if (tu_verbose()) printf("noise: mean %.3g, sd %.6g (1e-3); X mean %.3g var %.4f; max dev %.3g\n", mean, sd, xm, xv, worst);
  assert_true(worst <= 1e-15);
  assert_close(sd, 1e-3, 4 * sqrt(0.5 / N), 0); /* sd of a sample sd: sigma/sqrt(2N) */
  assert_true(fabs(mean) <= 4e-3 / sqrt(N));
  assert_true(fabs(xm) <= 4 / sqrt(N));
  assert_close(xv, 1.0, 4 * sqrt(2 / N), 0);
  /* same seed: bit-identical; another seed: different */
  gen(1, 0, &d2);
  gen(2, 0, &d3);
  assert_memory_equal(d2.truth->data, T->data, 100 * sizeof(double));
  assert_memory_equal(dln_task_data_get(&d2, "x_file")->data, X->data, 10000 * sizeof(double));
  assert_memory_equal(dln_task_data_get(&d2, "y_file")->data, Y->data, 10000 * sizeof(double));
  assert_true(memcmp(dln_task_data_get(&d3, "y_file")->data, Y->data, 10000 * sizeof(double)) != 0);
  /* the task's loss: no capability, loss at W_true = ½ noise² ‖E‖² */
  dln_task_options o;
  task_opts(&o);
  dln_loss *l = NULL;
  assert_int_equal(dln_task_sigmoid.loss(&o, &d, &l), DLN_OK);
  assert_int_equal(dln_task_sigmoid.caps(&o), 0u);
  double v;
  assert_int_equal(dln_loss_eval(l, T->data, &v, NULL), DLN_OK);
  assert_close(v, 0.5 * 1e-6 * tu_fro(10000, E->data) * tu_fro(10000, E->data), 1e-9, 0);
  dln_loss_free(l);
  task_opts_free(&o);
  dln_task_data_free(&d3);
  /* x_rank: X of that rank */
  gen(1, 3, &d3);
  assert_int_equal(tu_rank(10, 1000, dln_task_data_get(&d3, "x_file")->data), 3);
  dln_task_data_free(&d3);
  dln_task_data_free(&d2);
  dln_task_data_free(&d);
  dln_mat_free(Wt), dln_mat_free(Xt), dln_mat_free(E);
  dln_rng_free(r0);
}

/* ------------------------------------------------------------------ (e) the CLI */

/* text with the one occurrence of `from` replaced by `to` (text is freed). */
static char *replace(char *text, const char *from, const char *to) {
  char *at = strstr(text, from);
  assert_non_null(at);
  size_t head = (size_t)(at - text), nf = strlen(from), nt = strlen(to), rest = strlen(at + nf);
  char *out = malloc(head + nt + rest + 1);
  assert_non_null(out);
  memcpy(out, text, head);
  memcpy(out + head, to, nt);
  memcpy(out + head + nt, at + nf, rest + 1);
  free(text);
  return out;
}

static int run_cli(const char *dir, const char *const *args) {
  return tu_wait(tu_spawn(DLN_CLI, args, dir));
}

/* The end of the field starting at p (a ',' or the end of the line), quotes respected. */
static char *field_end(char *p) {
  int quoted = 0;
  for (; *p; ++p) {
    if (*p == '"') quoted = !quoted;
    else if (*p == ',' && !quoted) return p;
  }
  return NULL;
}

/* Column `name` of a CSV file with a header (rows of numbers), for run `run` when the
 * file has a "run" column (-1: all rows). *n: values read. */
static double *csv_col(const char *path, const char *name, int run, int *n) {
  char *text = tu_slurp(path);
  assert_non_null(text);
  char *save = NULL, *line = strtok_r(text, "\n", &save);
  int col = -1, rcol = -1, idx = 0;
  for (char *p = line, *q; p; p = q ? q + 1 : NULL, ++idx) {
    q = field_end(p);
    size_t len = q ? (size_t)(q - p) : strlen(p);
    if (len == strlen(name) && strncmp(p, name, len) == 0) col = idx;
    if (len == 3 && strncmp(p, "run", 3) == 0) rcol = idx;
  }
  assert_true(col >= 0);
  double *v = malloc(100000 * sizeof *v);
  *n = 0;
  while ((line = strtok_r(NULL, "\n", &save)) && *n < 100000) {
    double val = NAN, r = -1;
    idx = 0;
    for (char *p = line, *q; p; p = q ? q + 1 : NULL, ++idx) {
      q = field_end(p);
      if (idx == col) val = strtod(p, NULL);
      if (idx == rcol) r = strtod(p, NULL);
    }
    if (run < 0 || (int)r == run) v[(*n)++] = val;
  }
  free(text);
  return v;
}

/* examples/sigmoid_fig3.json at n = 200 and t_end = 0.3 (GD): the three runs start from
 * one W(0); each loss decreases; at t_end two layers with |Q0| = 4.6 < two layers
 * balanced < one layer (001 Fig. 3's ordering). */
static void test_example_fig3(void **state) {
  (void)state;
  const char *dir = tu_tmpdir(0);
  char *spec = tu_slurp(DLN_SOURCE_DIR "/examples/sigmoid_fig3.json");
  assert_non_null(spec);
  spec = replace(spec, "\"n_samples\": 1000", "\"n_samples\": 200");
  spec = replace(spec, "\"t_end\": 2,", "\"t_end\": 0.3,");
  tu_write_text(tu_path(dir, "fig3.json"), spec);
  free(spec);
  const char *args[] = {"sweep", "fig3.json", "--out", "out", "--threads", "1", "--quiet", NULL};
  assert_int_equal(run_cli(dir, args), 0);
  double first[3], last[3];
  for (int r = 0; r < 3; ++r) {
    int n = 0;
    double *L = csv_col(tu_path(dir, "out/ensemble.csv"), "loss", r, &n);
    assert_true(n >= 20);
    for (int i = 1; i < n; ++i) assert_true(L[i] <= L[i - 1]);
    first[r] = L[0], last[r] = L[n - 1];
    if (tu_verbose()) printf("run %d: loss %.6g -> %.6g (%d samples)\n", r, L[0], L[n - 1], n);
    assert_true(last[r] < 0.1 * first[r]);
    free(L);
  }
  assert_close(first[1], first[0], 1e-12, 0);
  assert_close(first[2], first[0], 1e-12, 0);
  assert_true(last[2] < last[1] && last[1] < last[0]);
  tu_rmtree(dir);
}

/* A depth-2 flow run of the setting (width 100, n = 100) to a critical point: the loss
 * decreases, W_true.npy is written, `dln check` reports no violated row (exit 0): the end
 * point is a minimum, which 004 Prop. 4 (square losses) does not call spurious; then the
 * same data through x_file / y_file give the same initial loss. */
static void test_cli_run_check(void **state) {
  (void)state;
  const char *dir = tu_tmpdir(1);
  const char *args[] = {"run", "--task=sigmoid", "--rows=10", "--cols=10", "--n_samples=100", "--noise=1e-3",
                        "--widths=10,100,10", "--sigma=0.156", "--t_end=20", "--samples=31", "--plot=false",
                        "--quiet", "--out=r1", NULL};
  assert_int_equal(run_cli(dir, args), 0);
  struct stat sb;
  assert_int_equal(stat(tu_path(dir, "r1/W_true.npy"), &sb), 0);
  int n = 0;
  double *L = csv_col(tu_path(dir, "r1/trajectory.csv"), "loss", -1, &n);
  assert_int_equal(n, 31);
  /* at the minimum the samples differ by round-off (measured 2e-18 of 4e-4) */
  for (int i = 1; i < n; ++i) assert_true(L[i] <= L[i - 1] + 1e-12 * L[n - 1]);
  assert_true(L[n - 1] < 1e-2 * L[0]);
  const char *chk[] = {"check", "r1", "--quiet", NULL};
  assert_int_equal(run_cli(dir, chk), 0);
  char *cj = tu_slurp(tu_path(dir, "r1/check.json"));
  assert_non_null(cj);
  assert_non_null(strstr(cj, "square loss (004 Prop. 4) or a known phi* fails (loss sigmoid: a minimum"));
  free(cj);
  const char *fargs[] = {"run", "--task=sigmoid", "--x_file=r1/X.npy", "--y_file=r1/Y.npy", "--widths=10,100,10",
                         "--init=file", "--init_files=r1/W{j}_init.npy", "--t_end=0.1", "--samples=2", "--plot=false",
                         "--quiet", "--out=r2", NULL};
  assert_int_equal(run_cli(dir, fargs), 0);
  int n2 = 0;
  double *L2 = csv_col(tu_path(dir, "r2/trajectory.csv"), "loss", -1, &n2);
  assert_int_equal(n2, 2);
  assert_close(L2[0], L[0], 1e-14, 0); /* same data, same θ(0) */
  free(L), free(L2);
  /* an option the data files make unused is refused */
  const char *bad[] = {"run", "--task=sigmoid", "--x_file=r1/X.npy", "--y_file=r1/Y.npy", "--noise=0.1", "--quiet",
                       "--out=r3", NULL};
  assert_int_equal(run_cli(dir, bad), 65);
  tu_rmtree(dir);
}

int main(void) {
  tu_seed(20261204);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ops_vs_long_double), cmocka_unit_test(test_fd),          cmocka_unit_test(test_integrators),
      cmocka_unit_test(test_e2e),                cmocka_unit_test(test_generator),   cmocka_unit_test(test_example_fig3),
      cmocka_unit_test(test_cli_run_check),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
