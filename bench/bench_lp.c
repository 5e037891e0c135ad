/* bench_lp — the dln side of the ℓ4 regression benchmark (bench/lp.sh, bench/peers_lp.py,
 * bench/README.md "ℓ4 regression").
 *
 * Problem (002 §3.2 Claim 1, the ℓ4 loss of 002 Fig. 1): φ = (1/n) Σ_i ‖W_2 W_1 x_i − y_i‖_4^4,
 * X 10×100, Y = W_true X (5×100, noise-free: the flow converges to zero residual, where the
 * Hessian of ℓ is singular), widths [10, 50, 5] (750 parameters), W_j(0) = σ·Z_j with
 * σ = 0.1. X, Y and the standard-normal draws Z_j are read from DIR/X.npy, DIR/Y.npy,
 * DIR/Z1.npy (50×10), DIR/Z2.npy (5×50), written by numpy in bench/lp.sh, so both sides
 * start from bit-identical weights.
 *
 *   1. gradient descent, η = 1e-3: K = 1000 steps from θ(0) (the final loss, compared with
 *      NumPy's), then steps/s: warm-up, calibration (chunk ×4 until ≥ 0.05 s), best of 3
 *      timed dln_train calls of ≈ --target seconds (as bench_dln).
 *   2. gradient flow on t ∈ [0, 20]: reference θ(20) by ARKODE ERK at rtol 1e-13 (and
 *      Gauss–Legendre s = 2 at 1e-12 as a cross-check), written to OUT/ref_W{1,2}.npy; then
 *      ERK (`flow`), `auto` and CVODE at rtol 1e-4, 1e-6, 1e-9 (atol = rtol·1e-2): relative
 *      error ‖θ(20) − θ_ref‖/‖θ_ref‖, RHS evaluations, wall time (best of 3, set-up included).
 *
 *   bench_lp --data DIR --out DIR [--target S] [--quick]
 * stdout: one JSON object; stderr: progress lines. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "benchutil.h"
#include "dln/error.h"
#include "dln/init.h"
#include "dln/io.h"
#include "dln/loss.h"
#include "dln/mat.h"
#include "dln/net.h"
#include "dln/train.h"

static const int widths[3] = {10, 50, 5};
static const double SIGMA = 0.1, ETA = 1e-3, T_END = 20, P = 4;
enum { K_CHECK = 1000 };

static dln_net *net;
static dln_loss *loss;
static size_t np;
static double *theta0, *theta, *ref;

static double rel_diff(size_t n, const double *a, const double *b) {
  double d = 0, r = 0;
  for (size_t i = 0; i < n; ++i) d += (a[i] - b[i]) * (a[i] - b[i]), r += b[i] * b[i];
  return sqrt(d / r);
}

static double gd_run(long nsteps, dln_train_result *res) {
  dln_train_options o;
  dln_train_default_options(&o);
  o.method = &dln_integrator_gd;
  o.eta = ETA;
  o.max_steps = nsteps;
  o.t_end = ETA * (2.0 * (double)nsteps + 10.0); /* the step budget stops the run */
  o.nsamples = 2;
  double dt = bu_timed_train(net, loss, theta, &o, res);
  if (res->stop_reason != DLN_STOP_STEPS || res->steps != nsteps) bu_fail("GD stopped early: %s", res->message);
  return dt;
}

static double flow_run(const dln_integrator_type *m, double rtol, dln_train_result *res) {
  dln_train_options o;
  dln_train_default_options(&o);
  o.method = m;
  o.t_end = T_END;
  o.rtol = rtol;
  o.atol = rtol * 1e-2;
  o.nsamples = 2;
  memcpy(theta, theta0, np * sizeof *theta);
  double dt = bu_timed_train(net, loss, theta, &o, res);
  if (res->stop_reason != DLN_STOP_TIME) bu_fail("flow %s rtol %g stopped early: %s", m->name, rtol, res->message);
  return dt;
}

static void write_ref(const char *dir) {
  char path[1200];
  snprintf(path, sizeof path, "%s/ref_W1.npy", dir);
  BU_CHECK(dln_npy_write(path, 50, 10, dln_net_layer_const(net, ref, 1), 0));
  snprintf(path, sizeof path, "%s/ref_W2.npy", dir);
  BU_CHECK(dln_npy_write(path, 5, 50, dln_net_layer_const(net, ref, 2), 0));
}

static void bench_gd(double target) {
  dln_train_result res;
  double l0 = NAN, lk = NAN;
  memcpy(theta, theta0, np * sizeof *theta);
  BU_CHECK(dln_net_grad(net, loss, theta, &l0, NULL, NULL));
  gd_run(K_CHECK, &res);
  BU_CHECK(dln_net_grad(net, loss, theta, &lk, NULL, NULL));
  long n = 10;
  double dt;
  gd_run(20, &res); /* warm-up */
  for (;;) {
    if ((dt = gd_run(n, &res)) >= 0.05) break;
    n *= 4;
  }
  long nsteps = (long)ceil(target * (double)n / dt);
  double best = INFINITY;
  for (int r = 0; r < 3; ++r) best = fmin(best, gd_run(nsteps, &res));
  fprintf(stderr, "GD eta %g: loss %.6g -> %.6g after %d steps; %.0f steps/s (%ld steps in %.3f s)\n", ETA, l0, lk, K_CHECK,
          (double)nsteps / best, nsteps, best);
  printf(",\n \"gd\": {\"eta\": %g, \"check_steps\": %d", ETA, K_CHECK);
  bu_knum("loss0", l0);
  bu_knum("loss_check", lk);
  bu_knum("steps_per_s", (double)nsteps / best);
  printf(", \"steps\": %ld", nsteps);
  bu_knum("seconds", best);
  printf(", \"timing\": \"warm-up, calibration, best of 3 dln_train calls\"}");
}

static void bench_flow(const char *out, int quick) {
  dln_train_result res;
  flow_run(&dln_integrator_flow, 1e-13, &res);
  memcpy(ref, theta, np * sizeof *ref);
  flow_run(&dln_integrator_gauss, 1e-12, &res);
  double agree = rel_diff(np, theta, ref), lT = res.loss;
  write_ref(out);
  fprintf(stderr, "flow reference: ERK 1e-13 vs Gauss2 1e-12 differ by %.2e; loss(20) = %.6g\n", agree, lT);
  printf(",\n \"flow\": {\"t_end\": %g", T_END);
  bu_knum("ref_agreement_erk_gauss2", agree);
  bu_knum("loss_t_end", lT);
  printf(", \"runs\": [");
  const dln_integrator_type *ms[3] = {&dln_integrator_flow, &dln_integrator_auto, &dln_integrator_cvode};
  const double tols[3] = {1e-4, 1e-6, 1e-9};
  int first = 1;
  for (int k = 0; k < 3; ++k)
    for (int t = 0; t < 3; ++t) {
      double best = INFINITY;
      for (int r = 0; r < (quick ? 1 : 3); ++r) best = fmin(best, flow_run(ms[k], tols[t], &res));
      double err = rel_diff(np, theta, ref);
      fprintf(stderr, "flow %-6s rtol %-6.0e err %.2e  rhs %6ld  hvp %6ld  %.4f s (%s)\n", ms[k]->name, tols[t], err,
              res.grad_evals, res.jtv_evals, best, res.integrator);
      printf("%s\n  {\"method\": ", first ? "" : ",");
      first = 0;
      bu_jstr(ms[k]->name);
      bu_kstr("integrator", res.integrator);
      bu_knum("rtol", tols[t]);
      bu_knum("err", err);
      printf(", \"rhs\": %ld, \"hvp\": %ld", res.grad_evals, res.jtv_evals);
      bu_knum("seconds", best);
      printf("}");
    }
  printf("]}");
}

int main(int argc, char **argv) {
  bu_set_program("bench_lp");
  const char *data = NULL, *out = NULL;
  double target = 1.5;
  int quick = 0;
  for (int i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "--data") && i + 1 < argc) data = argv[++i];
    else if (!strcmp(argv[i], "--out") && i + 1 < argc) out = argv[++i];
    else if (!strcmp(argv[i], "--target") && i + 1 < argc) target = atof(argv[++i]);
    else if (!strcmp(argv[i], "--quick")) quick = 1;
    else bu_fail("usage: bench_lp --data DIR --out DIR [--target S] [--quick]");
  }
  if (!data || !out) bu_fail("usage: bench_lp --data DIR --out DIR [--target S] [--quick]");
  if (quick) target = 0.3;
  dln_mat *X = bu_read_npy(data, "", "X"), *Y = bu_read_npy(data, "", "Y");
  BU_CHECK(dln_net_alloc(&net, 2, widths, 0));
  BU_CHECK(dln_loss_lp_alloc(&loss, P, X, Y));
  np = net->nparams;
  theta0 = calloc(np, sizeof *theta0), theta = calloc(np, sizeof *theta), ref = calloc(np, sizeof *ref);
  if (!theta0 || !theta || !ref) bu_fail("out of memory");
  bu_read_layers(data, "", net, theta0);
  for (size_t i = 0; i < np; ++i) theta0[i] *= SIGMA;
  char cpu[256];
  bu_cpu_model(cpu, sizeof cpu);
  bu_meta_begin("bench_lp", cpu);
  bu_kcompiler();
  printf("}");
  printf(",\n \"problem\": {\"loss\": \"(1/n) sum_i |W2 W1 x_i - y_i|_4^4\", \"p\": %g, \"widths\": [10, 50, 5], \"n\": %d, "
         "\"sigma\": %g}",
         P, X->cols, SIGMA);
  bench_gd(target);
  bench_flow(out, quick);
  printf("\n}\n");
  free(theta0), free(theta), free(ref);
  dln_mat_free(X), dln_mat_free(Y);
  dln_loss_free(loss);
  dln_net_free(net);
  return 0;
}
