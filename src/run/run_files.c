/* Files of a run folder shared by run.c, fig1.c and the sweeps: paths, .npy arrays, the
 * layers, the BLAS record of summaries, and the removal of a stale summary. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cblas.h>
#include <jansson.h>

#include "dln/error.h"
#include "dln/io.h"
#include "dln/run.h"
#include "run/run_internal.h"


int dln_run_write_npy(const char *dir, const char *name, int rows, int cols, const double *data) {
  char *p = dln_path_join(dir, name);
  if (!p) return dln_error(DLN_ENOMEM, "out of memory");
  int st = dln_npy_write(p, rows, cols, data, 0);
  free(p);
  return st;
}

int dln_run_write_mat(const char *dir, const char *name, const dln_mat *m) {
  return m ? dln_run_write_npy(dir, name, m->rows, m->cols, m->data) : DLN_OK;
}

int dln_run_write_layers(const char *dir, const dln_net *net, const double *theta, const char *suffix) {
  char name[64];
  if (net->tied) {
    snprintf(name, sizeof name, "U_%s.npy", suffix);
    return dln_run_write_npy(dir, name, net->widths[2], net->widths[1], dln_net_layer_const(net, theta, 2));
  }
  for (int j = 1; j <= net->depth; ++j) {
    snprintf(name, sizeof name, "W%d_%s.npy", j, suffix);
    int st = dln_run_write_npy(dir, name, net->widths[j], net->widths[j - 1], dln_net_layer_const(net, theta, j));
    if (st) return st;
  }
  return DLN_OK;
}

json_t *dln_run_blas_json(void) {
  json_t *o = json_object();
  const char *cfg = openblas_get_config();
  json_object_set_new(o, "library", json_string("OpenBLAS"));
  json_object_set_new(o, "config", json_string(cfg ? cfg : ""));
  json_object_set_new(o, "threads", json_integer(openblas_get_num_threads()));
  return o;
}

int dln_run_clean_stale_summary(const char *dir) {
  char *p = dln_path_join(dir, "summary.json");
  if (!p) return dln_error(DLN_ENOMEM, "out of memory");
  int st = DLN_OK;
  if (unlink(p) != 0 && errno != ENOENT) st = dln_error(DLN_EIO, "%s: cannot remove the stale summary: %s", p, strerror(errno));
  free(p);
  return st;
}

int dln_run_write_json(const char *dir, const char *name, const json_t *root) {
  char *p = dln_path_join(dir, name);
  if (!p) return dln_error(DLN_ENOMEM, "out of memory");
  int st = dln_json_write(p, root);
  free(p);
  return st;
}

int dln_run_is_cancelled(const dln_run_options *opt) { return opt && opt->cancelled && opt->cancelled(opt->progress_ctx); }
