/* The disturbed gradient flow Ẇ_j = −∂φ/∂W_j + D_j(t) (000 eq. 9 layer by layer;
 * docs/disturbed.md) on a tiny depth-2 factorization φ = ½‖W_2 W_1 − Ȳ‖²_F, against an
 * independent truth written here (RKC also forced onto its Chebyshev stages, AUTO onto CVODE): the gradient by hand (∂φ/∂W_1 = W_2ᵀE, ∂φ/∂W_2 = E W_1ᵀ,
 * E = W_2 W_1 − Ȳ) integrated by classical RK4 with a small fixed step.
 *   - constant and sinusoidal D, every flow method at two tolerances;
 *   - gradient descent W ← W − η(∇φ − D(t_k)) step for step against a hand loop, and its
 *     first-order convergence to the flow as η → 0;
 *   - scale 0 bit-identical to no disturbance (every method);
 *   - refusals: tied network, a type without DLN_INTEG_TIME under a sinusoid. */
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
#include "dln/io.h"
#include "dln/loss.h"
#include "dln/mat.h"
#include "dln/net.h"
#include "dln/observe.h"
#include "dln/train.h"
#include "testutil.h"

enum { D0 = 3, D1 = 2, D2 = 2 };

typedef struct {
  dln_net *net;
  dln_loss *loss;
  double Y[D2 * D0], th0[D1 * D0 + D2 * D1], D[D1 * D0 + D2 * D1];
  size_t o1, o2, n;
} problem;

static void make(problem *p) {
  int widths[3] = {D0, D1, D2};
  assert_int_equal(dln_net_alloc(&p->net, 2, widths, 0), DLN_OK);
  p->n = p->net->nparams;
  assert_int_equal(p->n, (size_t)(D1 * D0 + D2 * D1));
  p->o1 = p->net->offset[1], p->o2 = p->net->offset[2];
  dln_mat *Yb = dln_mat_alloc(D2, D0);
  static const double Y[D2 * D0] = {1.0, -0.5, 0.3, 0.8, -0.7, 0.2};
  memcpy(Yb->data, Y, sizeof Y);
  memcpy(p->Y, Y, sizeof Y);
  assert_int_equal(dln_loss_factorization_alloc(&p->loss, Yb), DLN_OK);
  dln_mat_free(Yb);
  for (size_t i = 0; i < p->n; ++i) {
    p->th0[i] = 0.3 * sin(1.7 * (double)i + 0.4);
    p->D[i] = 0.4 * cos(0.9 * (double)i + 0.2);
  }
}
static void unmake(problem *p) {
  dln_loss_free(p->loss);
  dln_net_free(p->net);
}

/* The truth's right-hand side: f = −∇φ(θ) + a D, in θ's layout (column-major W_j). */
static void truth_rhs(const problem *p, double a, const double *th, double *f) {
  const double *W1 = th + p->o1, *W2 = th + p->o2;
  double E[D2 * D0];
  for (int i = 0; i < D2; ++i)
    for (int j = 0; j < D0; ++j) {
      double s = -p->Y[i + D2 * j];
      for (int k = 0; k < D1; ++k) s += W2[i + D2 * k] * W1[k + D1 * j];
      E[i + D2 * j] = s;
    }
  double *G1 = f + p->o1, *G2 = f + p->o2;
  for (int k = 0; k < D1; ++k)
    for (int j = 0; j < D0; ++j) { /* W_2ᵀ E */
      double s = 0;
      for (int i = 0; i < D2; ++i) s += W2[i + D2 * k] * E[i + D2 * j];
      G1[k + D1 * j] = -s;
    }
  for (int i = 0; i < D2; ++i)
    for (int k = 0; k < D1; ++k) { /* E W_1ᵀ */
      double s = 0;
      for (int j = 0; j < D0; ++j) s += E[i + D2 * j] * W1[k + D1 * j];
      G2[i + D2 * k] = -s;
    }
  for (size_t i = 0; i < p->n; ++i) f[i] += a * p->D[i];
}

static double tu_maxabs(size_t n, const double *x) {
  double m = 0;
  for (size_t i = 0; i < n; ++i) m = fmax(m, fabs(x[i]));
  return m;
}

static double factor(int kind, double scale, double om, double ph, double t) {
  return kind == DLN_DISTURB_SINUSOID ? scale * sin(om * t + ph) : kind == DLN_DISTURB_CONSTANT ? scale : 0.0;
}

/* Classical RK4 with step h from th0 to t_end (the stage times enter D(t)). */
static void truth_rk4(const problem *p, int kind, double scale, double om, double ph, double t_end, double h, double *th) {
  size_t n = p->n;
  double k1[16], k2[16], k3[16], k4[16], y[16];
  memcpy(th, p->th0, n * sizeof(double));
  long steps = lround(t_end / h);
  h = t_end / (double)steps;
  for (long s = 0; s < steps; ++s) {
    double t = (double)s * h;
    truth_rhs(p, factor(kind, scale, om, ph, t), th, k1);
    for (size_t i = 0; i < n; ++i) y[i] = th[i] + 0.5 * h * k1[i];
    truth_rhs(p, factor(kind, scale, om, ph, t + 0.5 * h), y, k2);
    for (size_t i = 0; i < n; ++i) y[i] = th[i] + 0.5 * h * k2[i];
    truth_rhs(p, factor(kind, scale, om, ph, t + 0.5 * h), y, k3);
    for (size_t i = 0; i < n; ++i) y[i] = th[i] + h * k3[i];
    truth_rhs(p, factor(kind, scale, om, ph, t + h), y, k4);
    for (size_t i = 0; i < n; ++i) th[i] += h / 6 * (k1[i] + 2 * k2[i] + 2 * k3[i] + k4[i]);
  }
}

static const char *const kinds[] = {"none", "constant", "sinusoid"};

static dln_train_options opts(const problem *p, const dln_integrator_type *m, int stages, int kind, double scale, double t_end,
                              double rtol) {
  dln_train_options o;
  dln_train_default_options(&o);
  o.method = m;
  o.gauss_stages = stages > 0 ? stages : o.gauss_stages;
  o.t_end = t_end;
  o.rtol = rtol;
  o.atol = rtol * 1e-2;
  o.nsamples = 2;
  o.disturbance = (char *)kinds[kind];
  o.disturbance_scale = scale;
  o.disturbance_omega = 3.0;
  o.disturbance_phase = 0.5;
  o.disturbance_D = p->D;
  return o;
}

static dln_train_result run(const problem *p, const dln_train_options *o, double *th) {
  memcpy(th, p->th0, p->n * sizeof(double));
  dln_train_result r;
  int st = dln_train(p->net, p->loss, th, o, NULL, NULL, &r);
  if (st) print_error("dln_train: %s\n", dln_last_error());
  assert_int_equal(st, DLN_OK);
  if (r.stop_reason != DLN_STOP_TIME) print_error("%s: %s\n", o->method->name, r.message);
  assert_int_equal(r.stop_reason, DLN_STOP_TIME);
  return r;
}

typedef struct {
  const dln_integrator_type *m;
  int stages;
  double slack; /* global error / rtol allowed (as test_integrators.c: the midpoint rule's grows with its steps) */
} meth;
/* measured (constant, sinusoid): ≤ 4.4 rtol, the midpoint rule 73 rtol at 1e-9 */
static const meth methods[] = {{&dln_integrator_flow, 0, 10},  {&dln_integrator_cvode, 0, 10}, {&dln_integrator_gauss, 1, 300},
                               {&dln_integrator_gauss, 2, 10}, {&dln_integrator_rkc, 0, 10},   {&dln_integrator_auto, 0, 10},
                               {&dln_integrator_rkc, -1, 10},  {&dln_integrator_auto, -2, 10}};
enum { NMETH = sizeof methods / sizeof *methods };

/* Every flow method at rtol 1e-6 and 1e-9 within slack·rtol (relative, max norm) of RK4
 * with h = 1e-3 (its own error ~1e-13 here), for a constant and a sinusoidal D; the
 * disturbed truth is ≥ 1e-2 away from the undisturbed one, so ignoring D (or its time
 * dependence) fails. */
static void test_flow_vs_rk4(void **state) {
  (void)state;
  problem p;
  make(&p);
  const double t_end = 2.0;
  double th[16], ref[16], und[16], cst[16];
  truth_rk4(&p, DLN_DISTURB_NONE, 0, 0, 0, t_end, 1e-3, und);
  truth_rk4(&p, DLN_DISTURB_CONSTANT, 1.0, 3.0, 0.5, t_end, 1e-3, cst);
  for (int kind = DLN_DISTURB_CONSTANT; kind <= DLN_DISTURB_SINUSOID; ++kind) {
    truth_rk4(&p, kind, 1.0, 3.0, 0.5, t_end, 1e-3, ref);
    double refn = tu_maxabs(p.n, ref);
    assert_true(tu_maxdiff(p.n, ref, und) > 1e-2 * refn);
    if (kind == DLN_DISTURB_SINUSOID) assert_true(tu_maxdiff(p.n, ref, cst) > 1e-2 * refn);
    for (int i = 0; i < NMETH; ++i)
      for (int k = 0; k < 2; ++k) {
        double rtol = k ? 1e-9 : 1e-6;
        dln_train_options o = opts(&p, methods[i].m, methods[i].stages, kind, 1.0, t_end, rtol);
        if (methods[i].stages < 0) o.auto_stiff_ratio = 1e-6, o.auto_window = 1; /* switch at once */
        if (methods[i].stages == -2) o.auto_rkc_max = 1e-300, o.auto_min_steps = 1; /* to CVODE, not RKC */
        dln_train_result r = run(&p, &o, th);
        if (methods[i].stages < 0) { /* the RK phase is DOP853 at rtol ≤ auto_dop853_rtol (1e-7) */
          char want[64];
          snprintf(want, sizeof want, "%s->%s", rtol <= 1e-7 ? "dln-dop853" : "dln-rk5", methods[i].stages == -1 ? "rkc" : "cvode-bdf");
          assert_string_equal(r.integrator, want);
        }
        double err = tu_maxdiff(p.n, th, ref) / refn;
        print_message("disturbed %-8s %s/%d rtol %.0e: rel err %.2e (%.1f rtol)\n", kinds[kind], methods[i].m->name,
                      methods[i].stages, rtol, err, err / rtol);
        assert_true(err <= methods[i].slack * rtol);
      }
  }
  unmake(&p);
}

/* GD: θ_{k+1} = θ_k + η(−∇φ(θ_k) + a(t_k) D) step for step against the hand loop (to
 * 1e-13 relative after 200 steps); and the flow's limit: the error at t = 1 halves with
 * η (first order, ratio in [1.8, 2.2]). */
static void test_gd(void **state) {
  (void)state;
  problem p;
  make(&p);
  double th[16], hand[16], f[16], ref[16];
  for (int kind = DLN_DISTURB_CONSTANT; kind <= DLN_DISTURB_SINUSOID; ++kind) {
    dln_train_options o = opts(&p, &dln_integrator_gd, 0, kind, 1.0, 1.0, 1e-8);
    o.eta = 5e-3;
    run(&p, &o, th);
    memcpy(hand, p.th0, sizeof hand);
    for (int k = 0; k < 200; ++k) {
      truth_rhs(&p, factor(kind, 1.0, 3.0, 0.5, k * o.eta), hand, f);
      for (size_t i = 0; i < p.n; ++i) hand[i] += o.eta * f[i];
    }
    assert_true(tu_maxdiff(p.n, th, hand) <= 1e-13 * tu_maxabs(p.n, hand));
    truth_rk4(&p, kind, 1.0, 3.0, 0.5, 1.0, 1e-3, ref);
    double e[3];
    for (int j = 0; j < 3; ++j) {
      o.eta = 4e-3 / (1 << j);
      run(&p, &o, th);
      e[j] = tu_maxdiff(p.n, th, ref);
    }
    print_message("GD %s: errors %.3e %.3e %.3e, ratios %.3f %.3f\n", kinds[kind], e[0], e[1], e[2], e[0] / e[1], e[1] / e[2]);
    for (int j = 0; j < 2; ++j) {
      assert_true(e[j] / e[j + 1] >= 1.8);
      assert_true(e[j] / e[j + 1] <= 2.2);
    }
  }
  unmake(&p);
}

/* scale 0: the undisturbed run bit for bit (state, steps, right-hand sides), every method. */
static void test_scale_zero(void **state) {
  (void)state;
  problem p;
  make(&p);
  double a[16], b[16];
  for (int i = -1; i < NMETH; ++i) {
    const dln_integrator_type *m = i < 0 ? &dln_integrator_gd : methods[i].m;
    int stages = i < 0 ? 0 : methods[i].stages;
    dln_train_options o0 = opts(&p, m, stages, DLN_DISTURB_NONE, 1.0, 1.5, 1e-8);
    dln_train_options o1 = opts(&p, m, stages, DLN_DISTURB_SINUSOID, 0.0, 1.5, 1e-8);
    dln_train_result r0 = run(&p, &o0, a), r1 = run(&p, &o1, b);
    assert_memory_equal(a, b, p.n * sizeof(double));
    assert_int_equal(r0.steps, r1.steps);
    assert_int_equal(r0.grad_evals, r1.grad_evals);
  }
  unmake(&p);
}

/* The disturbance columns along a sinusoidally disturbed flow (ERK, rtol 1e-11, 801
 * samples on [0, 4]): 000 eq. 21's rate, as dC1 · dC1_rate = d(½‖C_1(t) − C_1(0)‖²)/dt,
 * against the central difference of the measured ½ dC1² (1e-3 of its maximum; the norm
 * itself has a kink where ΔC passes near 0), the trapezoid integral of the rate
 * against dC1(t_end) (2e-4 relative); Ldot against the central difference of the loss
 * column (1e-3 of max|Ldot|), and 000 Thm 1: Ldot ≤ thm1_bound at every sample (by 1e-12). */
static void test_observed_rates(void **state) {
  (void)state;
  problem p;
  make(&p);
  dln_train_options o = opts(&p, &dln_integrator_flow, 0, DLN_DISTURB_SINUSOID, 1.0, 4.0, 1e-11);
  o.nsamples = 801;
  const char *names[] = {"loss", "disturbance"};
  dln_observer *obs = NULL;
  assert_int_equal(dln_observer_alloc_run(&obs, p.net, p.loss, p.th0, names, 2, &o), DLN_OK);
  int cd = dln_observer_col(obs, "dC1"), cr = dln_observer_col(obs, "dC1_rate"), cl = dln_observer_col(obs, "loss"),
      cL = dln_observer_col(obs, "Ldot"), cb = dln_observer_col(obs, "thm1_bound");
  assert_true(cd > 0 && cr > 0 && cl > 0 && cL > 0 && cb > 0);
  const char *cn[64];
  int nc = dln_observer_ncols(obs);
  for (int i = 0; i < nc; ++i) cn[i] = dln_observer_colname(obs, i);
  dln_table *tb = NULL;
  assert_int_equal(dln_table_alloc(&tb, nc, cn, 802), DLN_OK);
  double th[16];
  memcpy(th, p.th0, sizeof th);
  dln_train_result r;
  assert_int_equal(dln_train(p.net, p.loss, th, &o, obs, tb, &r), DLN_OK);
  assert_int_equal((int)tb->nrows, 801);
  double rmax = 0, smax = 0, lmax = 0, erate = 0, eL = 0, integ = 0, worst = -INFINITY;
  for (size_t i = 0; i < tb->nrows; ++i) {
    const double *x = dln_table_row(tb, i);
    rmax = fmax(rmax, fabs(x[cr])), lmax = fmax(lmax, fabs(x[cL]));
    worst = fmax(worst, x[cL] - x[cb]);
    if (i > 0) integ += 0.5 * (x[0] - dln_table_row(tb, i - 1)[0]) * (x[cr] + dln_table_row(tb, i - 1)[cr]);
    if (i == 0 || i + 1 == tb->nrows) continue;
    const double *a = dln_table_row(tb, i - 1), *b = dln_table_row(tb, i + 1);
    eL = fmax(eL, fabs((b[cl] - a[cl]) / (b[0] - a[0]) - x[cL]));
    /* d(½ dC²)/dt = dC · rate: smooth, unlike the norm near ΔC = 0 */
    double fd = 0.5 * (b[cd] * b[cd] - a[cd] * a[cd]) / (b[0] - a[0]);
    erate = fmax(erate, fabs(fd - x[cd] * x[cr]));
    smax = fmax(smax, fabs(x[cd] * x[cr]));
  }
  double dend = dln_table_row(tb, tb->nrows - 1)[cd];
  print_message("eq. 21: max|rate| %.3e, FD err of d(dC1^2/2)/dt %.2e of %.3e; integral %.6e vs dC1 %.6e; Ldot FD err %.2e of %.3e; "
                "max(Ldot - thm1_bound) %.3e\n", rmax, erate, smax, integ, dend, eL, lmax, worst);
  assert_true(rmax > 1e-2 && dend > 1e-2);
  assert_true(erate <= 1e-3 * smax); /* measured 1.3e-4: O(Δt²), Δt = 0.005 */
  assert_true(fabs(integ - dend) <= 2e-4 * dend);
  assert_true(eL <= 1e-3 * lmax);
  assert_true(worst <= 1e-12);
  dln_table_free(tb);
  dln_observer_free(obs);
  unmake(&p);
}

/* The command line: a sinusoidally disturbed cvode run, then `dln check`: exit 0, the two
 * disturbed rows hold, conservation of C_j and the loss non-increasing row are "not
 * applicable" naming the disturbance; summary.json records it. */
static void test_cli_check(void **state) {
  (void)state;
  const char *dir = tu_tmpdir(0);
  static const double Da[12] = {0.1, -0.2, 0.3, 0.1, 0.2, -0.1, 0.05, 0.1, -0.3, 0.2, 0.1, 0.0}, Db[6] = {0.2, -0.1, 0.1, 0.3, -0.2, 0.1};
  assert_int_equal(dln_npy_write(tu_path(dir, "D1.npy"), 3, 4, Da, 0), DLN_OK);
  assert_int_equal(dln_npy_write(tu_path(dir, "D2.npy"), 2, 3, Db, 0), DLN_OK);
  const char *run[] = {"run", "--quiet", "--plot=false", "--rows=2", "--cols=4", "--widths=4,3,2", "--t_end=4", "--samples=201",
                       "--method=cvode", "--rtol=1e-10", "--atol=1e-12", "--disturbance=sinusoid", "--disturbance_omega=2",
                       "--disturbance_files=D1.npy,D2.npy", "--out=o", NULL};
  assert_int_equal(tu_wait(tu_spawn(DLN_CLI, run, dir)), 0);
  const char *chk[] = {"check", "o", NULL};
  int rc = tu_wait(tu_spawn(DLN_CLI, chk, dir));
  char *out = tu_slurp(tu_path(dir, "stdout.txt"));
  if (rc) print_message("%s\n", out ? out : "");
  assert_int_equal(rc, 0);
  assert_non_null(out);
  static const char *const want[] = {"\nimbalance drift vs its rate", "\ndissipation along the trajectory"}; /* row starts */
  for (int i = 0; i < 2; ++i) {
    const char *l = strstr(out, want[i]);
    assert_non_null(l);
    const char *e = strchr(l + 1, '\n');
    assert_non_null(e);
    assert_true(e - l > 6 && strncmp(e - 5, "holds", 5) == 0);
  }
  const char *c = strstr(out, "conservation of C_j");
  assert_non_null(c);
  assert_non_null(strstr(c, "not applicable: undisturbed gradient flow fails (disturbed: sinusoid"));
  assert_non_null(strstr(out, "loss non-increasing (flow)"));
  char *sum = tu_slurp(tu_path(dir, "o/summary.json"));
  assert_non_null(sum);
  assert_non_null(strstr(sum, "\"disturbance\""));
  assert_non_null(strstr(sum, "\"sinusoid\""));
  free(sum);
  free(out);
  tu_rmtree(dir);
}

static int fake_create(dln_system *s, double *x, double t0, double h0, dln_stepper **out) {
  (void)s, (void)x, (void)t0, (void)h0, (void)out;
  return dln_error(DLN_EINVAL, "fake: never created");
}

/* Refusals with messages naming the field: a tied network; a sinusoid for a type without
 * DLN_INTEG_TIME (a constant D is accepted by the same type up to its create). */
static void test_refusals(void **state) {
  (void)state;
  problem p;
  make(&p);
  double th[16];
  dln_train_result r;
  dln_train_options o = opts(&p, &dln_integrator_flow, 0, DLN_DISTURB_CONSTANT, 1.0, 1.0, 1e-8);
  dln_net *tied = NULL;
  int w[3] = {2, 2, 2};
  assert_int_equal(dln_net_alloc(&tied, 2, w, 1), DLN_OK);
  dln_mat *Y = dln_mat_alloc(2, 2);
  Y->data[0] = Y->data[3] = 1;
  dln_loss *ls = NULL;
  assert_int_equal(dln_loss_factorization_alloc(&ls, Y), DLN_OK);
  memcpy(th, p.th0, sizeof th);
  assert_int_equal(dln_train(tied, ls, th, &o, NULL, NULL, &r), DLN_EINVAL);
  assert_non_null(strstr(dln_last_error(), "tied"));
  dln_loss_free(ls);
  dln_mat_free(Y);
  dln_net_free(tied);

  const dln_integrator_type fake = {"fake_autonomous", "a type without DLN_INTEG_TIME", 0, NULL, 0, NULL, fake_create, NULL};
  o = opts(&p, &fake, 0, DLN_DISTURB_SINUSOID, 1.0, 1.0, 1e-8);
  memcpy(th, p.th0, sizeof th);
  assert_int_equal(dln_train(p.net, p.loss, th, &o, NULL, NULL, &r), DLN_EINVAL);
  assert_non_null(strstr(dln_last_error(), "DLN_INTEG_TIME"));
  o.disturbance = "constant";
  assert_int_not_equal(dln_train(p.net, p.loss, th, &o, NULL, NULL, &r), DLN_OK);
  assert_non_null(strstr(dln_last_error(), "fake: never created"));
  unmake(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_flow_vs_rk4),
      cmocka_unit_test(test_gd),
      cmocka_unit_test(test_scale_zero),
      cmocka_unit_test(test_refusals),
      cmocka_unit_test(test_observed_rates),
      cmocka_unit_test(test_cli_check),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
