/* Files of a run folder shared by run.c, fig1.c and the sweeps: the list of committed
 * files, .npy arrays, the layers, JSON, and the BLAS record of summaries. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cblas.h>
#include <jansson.h>

#include "dln/error.h"
#include "dln/gemm.h"
#include "dln/io.h"
#include "dln/run.h"
#include "run/run_internal.h"


int dln_run_files_has(const dln_run_files *f, const char *name) {
  for (size_t i = 0; f && i < f->n; ++i)
    if (strcmp(f->names[i], name) == 0) return 1;
  return 0;
}

int dln_run_files_add(dln_run_files *f, const char *name) {
  if (!f || dln_run_files_has(f, name)) return DLN_OK;
  if (f->n == f->cap) {
    size_t cap = f->cap ? 2 * f->cap : 16;
    char **nn = realloc(f->names, cap * sizeof *nn);
    if (!nn) return dln_error(DLN_ENOMEM, "out of memory");
    f->names = nn;
    f->cap = cap;
  }
  if (!(f->names[f->n] = strdup(name))) return dln_error(DLN_ENOMEM, "out of memory");
  f->n++;
  return DLN_OK;
}

int dln_run_files_add_all(dln_run_files *f, const char *prefix, const dln_run_files *src) {
  for (size_t i = 0; src && i < src->n; ++i) {
    char *p = dln_path_join(prefix, src->names[i]);
    int st = p ? dln_run_files_add(f, p) : dln_error(DLN_ENOMEM, "out of memory");
    free(p);
    if (st) return st;
  }
  return DLN_OK;
}

void dln_run_files_free(dln_run_files *f) {
  if (!f) return;
  for (size_t i = 0; i < f->n; ++i) free(f->names[i]);
  free(f->names);
  memset(f, 0, sizeof *f);
}

int dln_run_write_npy(const char *dir, const char *name, int rows, int cols, const double *data, dln_run_files *files) {
  char *p = dln_path_join(dir, name);
  if (!p) return dln_error(DLN_ENOMEM, "out of memory");
  int st = dln_npy_write(p, rows, cols, data, 0);
  free(p);
  return st ? st : dln_run_files_add(files, name);
}

int dln_run_write_mat(const char *dir, const char *name, const dln_mat *m, dln_run_files *files) {
  return m ? dln_run_write_npy(dir, name, m->rows, m->cols, m->data, files) : DLN_OK;
}

int dln_run_write_layers(const char *dir, const dln_net *net, const double *theta, const char *suffix, dln_run_files *files) {
  char name[64];
  if (net->tied) {
    snprintf(name, sizeof name, "U_%s.npy", suffix);
    return dln_run_write_npy(dir, name, net->widths[2], net->widths[1], dln_net_layer_const(net, theta, 2), files);
  }
  for (int j = 1; j <= net->depth; ++j) {
    snprintf(name, sizeof name, "W%d_%s.npy", j, suffix);
    int st = dln_run_write_npy(dir, name, net->widths[j], net->widths[j - 1], dln_net_layer_const(net, theta, j), files);
    if (st) return st;
  }
  return DLN_OK;
}

/* The gemm backend of the large products (dln/gemm.h): "gemm_backend" and "gemm" (library, kernels). */
void dln_run_gemm_json(json_t *o) {
  char desc[256];
  if (dln_gemm_describe(desc, sizeof desc)) desc[0] = 0;
  dln_jset(o, "gemm_backend", json_string(dln_gemm_backend_name(dln_gemm_active())));
  dln_jset(o, "gemm", json_string(desc));
}

json_t *dln_run_blas_json(void) {
  json_t *o = json_object();
  const char *cfg = openblas_get_config();
  dln_jset(o, "library", json_string("OpenBLAS"));
  dln_jset(o, "config", json_string(cfg ? cfg : ""));
  dln_jset(o, "threads", json_integer(openblas_get_num_threads()));
  dln_jset(o, "coretype", json_string(openblas_get_corename() ? openblas_get_corename() : ""));
  dln_run_gemm_json(o);
  return o;
}

int dln_run_write_json(const char *dir, const char *name, const json_t *root, dln_run_files *files) {
  char *p = dln_path_join(dir, name);
  if (!p) return dln_error(DLN_ENOMEM, "out of memory");
  int st = dln_json_write(p, root);
  free(p);
  return st ? st : dln_run_files_add(files, name);
}

int dln_run_is_cancelled(const dln_run_options *opt) { return opt && opt->cancelled && opt->cancelled(opt->progress_ctx); }
