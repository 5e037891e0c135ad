/* bench_logistic — the dln side of the logistic-loss comparison (bench/logistic.sh,
 * bench/peers_logistic.py, bench/README.md "Logistic loss").
 *
 * Problem: ℓ(W) = (1/n) Σ log(1 + exp(−y_i W x_i)) (002 §2) of a two-layer network,
 * widths [20, 50, 1], X 20×500 and y = sign(w_true^T X) (separable) from DIR/X.npy,
 * DIR/y.npy, W_j(0) = 0.1·Z_j from DIR/Z1.npy, DIR/Z2.npy (numpy draws, bench/logistic.sh),
 * so both sides start from bit-identical weights.
 *   GD:   η = 0.5, steps/s (best of 3 calls of `steps` updates from θ(0)) and the loss after them;
 *   flow: t ∈ [0, 10], ARKODE ERK (&dln_integrator_flow) at rtol 1e-10, atol 1e-12: best of 3
 *         wall times, RHS evaluations; θ(10) written to OUT/flow_W{1,2}.npy for the cross-check;
 *         the same by dln's own DOP853 (&dln_integrator_dop853) and by auto.
 *
 *   bench_logistic --data DIR --out DIR [--quick]
 *
 * stdout: one JSON object; stderr: progress lines. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "benchutil.h"
#include "dln/error.h"
#include "dln/io.h"
#include "dln/loss.h"
#include "dln/net.h"
#include "dln/train.h"

static double best_train(dln_net *net, dln_loss *loss, const double *th0, double *th, const dln_train_options *o,
                         dln_train_result *r) {
  double best = 1e300;
  for (int k = 0; k < 3; ++k) {
    memcpy(th, th0, net->nparams * sizeof *th);
    double s = bu_timed_train(net, loss, th, o, r);
    if (s < best) best = s;
  }
  return best;
}

int main(int argc, char **argv) {
  bu_set_program("bench_logistic");
  const char *data = NULL, *out = NULL;
  int quick = 0;
  for (int i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "--data") && i + 1 < argc) data = argv[++i];
    else if (!strcmp(argv[i], "--out") && i + 1 < argc) out = argv[++i];
    else if (!strcmp(argv[i], "--quick")) quick = 1;
    else bu_fail("usage: bench_logistic --data DIR --out DIR [--quick]");
  }
  if (!data || !out) bu_fail("usage: bench_logistic --data DIR --out DIR [--quick]");
  dln_mat *X = bu_read_npy(data, "", "X"), *y = bu_read_npy(data, "", "y");
  dln_loss *loss = NULL;
  BU_CHECK(dln_loss_logistic_alloc(&loss, X, y));
  const int widths[3] = {X->rows, 50, 1};
  dln_net *net = NULL;
  BU_CHECK(dln_net_alloc(&net, 2, widths, 0));
  size_t np = net->nparams;
  double *th0 = malloc(np * sizeof *th0), *th = malloc(np * sizeof *th);
  if (!th0 || !th) bu_fail("out of memory");
  bu_read_layers(data, "", net, th0);
  for (size_t i = 0; i < np; ++i) th0[i] *= 0.1;
  double phi0 = 0;
  BU_CHECK(dln_net_grad(net, loss, th0, &phi0, NULL, NULL));

  /* GD */
  const long steps = quick ? 2000 : 20000;
  const double eta = 0.5;
  dln_train_options o;
  dln_train_default_options(&o);
  o.method = &dln_integrator_gd;
  o.eta = eta;
  o.t_end = eta * (double)steps;
  o.nsamples = 2;
  dln_train_result r;
  double gd_s = best_train(net, loss, th0, th, &o, &r), gd_loss = 0;
  BU_CHECK(dln_net_grad(net, loss, th, &gd_loss, NULL, NULL));
  fprintf(stderr, "GD: %ld steps in %.4f s (%.0f steps/s), loss %.10g\n", steps, gd_s, steps / gd_s, gd_loss);

  /* flow */
  dln_train_default_options(&o);
  o.method = &dln_integrator_flow;
  o.t_end = 10;
  o.rtol = 1e-10;
  o.atol = 1e-12;
  o.nsamples = 2;
  double fl_s = best_train(net, loss, th0, th, &o, &r), fl_loss = 0;
  BU_CHECK(dln_net_grad(net, loss, th, &fl_loss, NULL, NULL));
  long fl_rhs = r.grad_evals;
  fprintf(stderr, "flow: t = 10 in %.4f s, %ld RHS, loss %.12g\n", fl_s, fl_rhs, fl_loss);
  char path[4096];
  for (int j = 1; j <= 2; ++j) {
    snprintf(path, sizeof path, "%s/flow_W%d.npy", out, j);
    BU_CHECK(dln_npy_write(path, widths[j], widths[j - 1], dln_net_layer_const(net, th, j), 0));
  }
  /* the same flow by dln's own DOP853 and by auto (its RK phase is DOP853 at this rtol) */
  const dln_integrator_type *own[2] = {&dln_integrator_dop853, &dln_integrator_auto};
  double own_s[2], own_loss[2], own_diff[2];
  long own_rhs[2];
  double *th_erk = malloc(np * sizeof *th_erk);
  if (!th_erk) bu_fail("out of memory");
  memcpy(th_erk, th, np * sizeof *th);
  for (int k = 0; k < 2; ++k) {
    o.method = own[k];
    own_s[k] = best_train(net, loss, th0, th, &o, &r);
    own_rhs[k] = r.grad_evals;
    BU_CHECK(dln_net_grad(net, loss, th, &own_loss[k], NULL, NULL));
    double d = 0, nr = 0;
    for (size_t i = 0; i < np; ++i) d += (th[i] - th_erk[i]) * (th[i] - th_erk[i]), nr += th_erk[i] * th_erk[i];
    own_diff[k] = sqrt(d / nr);
    fprintf(stderr, "flow %s: %.4f s, %ld RHS (%s), |theta - theta_erk|/|theta_erk| = %.3g\n", own[k]->name, own_s[k],
            own_rhs[k], r.integrator, own_diff[k]);
  }
  free(th_erk);

  char cpu[256];
  bu_cpu_model(cpu, sizeof cpu);
  bu_meta_begin("bench_logistic", cpu);
  bu_kcompiler();
  printf("},\n \"problem\": {\"d0\": %d, \"n\": %d, \"widths\": [%d, %d, %d]", X->rows, X->cols, widths[0], widths[1], widths[2]);
  bu_knum("loss_init", phi0);
  printf("},\n \"gd\": {\"eta\": %g, \"steps\": %ld", eta, steps);
  bu_knum("seconds", gd_s);
  bu_knum("steps_per_s", steps / gd_s);
  bu_knum("loss", gd_loss);
  printf("},\n \"flow\": {\"t_end\": 10, \"rtol\": 1e-10, \"atol\": 1e-12");
  bu_knum("seconds", fl_s);
  bu_knum("rhs", (double)fl_rhs);
  bu_knum("loss", fl_loss);
  for (int k = 0; k < 2; ++k) {
    printf("},\n \"flow_%s\": {\"t_end\": 10, \"rtol\": 1e-10, \"atol\": 1e-12", own[k]->name);
    bu_knum("seconds", own_s[k]);
    bu_knum("rhs", (double)own_rhs[k]);
    bu_knum("loss", own_loss[k]);
    bu_knum("rel_diff_erk", own_diff[k]);
  }
  printf("}\n}\n");
  free(th0), free(th);
  dln_net_free(net);
  dln_loss_free(loss);
  dln_mat_free(X), dln_mat_free(y);
  return 0;
}
