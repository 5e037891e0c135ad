/* Minimal dln program: two-layer factorization of a random 5x10 target by gradient
 * flow from a small Gaussian initialization, printing the loss and the conserved-
 * quantity drift. Build against an installed dln:
 *   cc -std=c17 minimal.c $(pkg-config --cflags --libs dln) -o minimal */
#include <dln/dln.h>
#include <stdio.h>
#include <stdlib.h>

int main(void) {
  int widths[] = {10, 50, 5};
  dln_rng *rng = dln_rng_alloc(1, 0);
  dln_mat *target = NULL;
  dln_net *net = NULL;
  dln_loss *loss = NULL;
  double *theta = NULL;
  int st = dln_data_gaussian(rng, 5, 10, 1.0, &target);
  if (!st) st = dln_loss_factorization_alloc(&loss, target);
  if (!st) st = dln_net_alloc(&net, 2, widths, 0);
  if (!st && !(theta = malloc(net->nparams * sizeof *theta))) st = DLN_ENOMEM;
  if (!st) st = dln_init_gaussian(net, theta, rng, 1e-2, NULL);
  dln_train_options opt;
  dln_train_default_options(&opt);
  opt.method = &dln_integrator_flow;
  opt.t_end = 40;
  opt.rtol = 1e-10;
  opt.atol = 1e-12;
  dln_train_result res;
  double C0 = 0, C1 = 0;
  if (!st) C0 = dln_net_unbalancedness(net, theta);
  if (!st) st = dln_train(net, loss, theta, &opt, NULL, NULL, &res);
  if (!st) C1 = dln_net_unbalancedness(net, theta);
  if (st) {
    fprintf(stderr, "minimal: %s\n", dln_last_error());
  } else {
    printf("stop: %s; loss %.3e at t = %g after %ld gradient evaluations\n", dln_stop_reason_name(res.stop_reason),
           res.loss, res.t, res.grad_evals);
    printf("unbalancedness %.6e -> %.6e\n", C0, C1);
  }
  free(theta);
  dln_net_free(net);
  dln_loss_free(loss);
  dln_mat_free(target);
  dln_rng_free(rng);
  return st ? 1 : 0;
}
