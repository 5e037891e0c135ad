/* dln_train (dln/train.h): the training driver sampling an observer's rows. The driver
 * (dynamics layer) knows only a dln_sampler; the observer is wired in here, above it. */
#include "core/util.h"
#include "dln/error.h"
#include "dln/observe.h"
#include "dln/train.h"

static int observer_row(void *ctx, double t, long step, const double *theta, double *row) {
  return dln_observer_eval(ctx, t, step, theta, row);
}

int dln_train(dln_net *net, dln_loss *loss, double *theta, const dln_train_options *opt, dln_observer *obs,
              dln_table *traj, dln_train_result *result) {
  DLN_ARGS(net, loss, theta, opt, result);
  dln_sampler s = {obs ? dln_observer_ncols(obs) : 0, observer_row, obs};
  return dln_train_sampled(net, loss, theta, opt, obs ? &s : NULL, traj, result);
}
