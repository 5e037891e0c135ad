/* --observe=layers (src/observe/obs_entry.c): every layer W_j at every trajectory row,
 * stacked in one W{j}_samples.npy per layer (U_samples.npy for the tied model), shape
 * (rows, d_j, d_{j−1}) in C order (numpy.load gives A[k] = W_j at row k of
 * trajectory.csv). The per-sample callback (dln_sample_fn, dln/train.h) copies each layer,
 * transposed to C order, into a buffer sized before the run (no allocation in the step
 * loop); the run's final row, when it is not a sample time, is added from the final θ, so
 * the last slice always equals W{j}_final.npy. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dln/error.h"
#include "dln/io.h"
#include "run/run_internal.h"

#define LAYERS_MAX_BYTES ((size_t)1 << 31) /* 2 GiB for all layers at all rows */

struct dln_run_layers {
  const dln_net *net;
  size_t cap, n; /* rows of room, rows recorded */
  double *buf;   /* cap x nparams: row k holds every layer of row k, each in C order */
};

int dln_run_layers_wanted(const dln_spec *s) {
  for (int i = 0; i < s->observe.n; ++i)
    if (strcmp(s->observe.v[i], "layers") == 0) return 1;
  return 0;
}

int dln_run_layers_alloc(dln_run_layers **out, const dln_net *net, size_t cap) {
  *out = NULL;
  size_t bytes;
  if (dln_size_mul(cap, net->nparams, &bytes) || dln_size_mul(bytes, sizeof(double), &bytes) || bytes > LAYERS_MAX_BYTES)
    return dln_error(DLN_EINVAL, "observe layers: expected at most %zu bytes for %zu rows of %zu parameters, found more",
                     LAYERS_MAX_BYTES, cap, net->nparams);
  dln_run_layers *L = calloc(1, sizeof *L);
  if (!L || !(L->buf = malloc(bytes ? bytes : 1))) {
    free(L);
    return dln_error(DLN_ENOMEM, "observe layers: out of memory allocating %zu bytes", bytes);
  }
  L->net = net;
  L->cap = cap;
  *out = L;
  return DLN_OK;
}

void dln_run_layers_free(dln_run_layers *L) {
  if (!L) return;
  free(L->buf);
  free(L);
}

/* The layers the files hold: 1..N, or the stored U (layer 2) of a tied net. */
static int first_layer(const dln_net *net) { return net->tied ? 2 : 1; }

/* Row L->n from θ: each layer transposed from column-major to C order. */
static void put_row(dln_run_layers *L, const double *theta) {
  const dln_net *net = L->net;
  double *dst = L->buf + L->n * net->nparams;
  for (int j = first_layer(net); j <= net->depth; ++j) {
    int r = net->widths[j], c = net->widths[j - 1];
    const double *W = dln_net_layer_const(net, theta, j);
    for (int a = 0; a < r; ++a)
      for (int b = 0; b < c; ++b) *dst++ = W[a + (size_t)b * (size_t)r];
  }
  L->n++;
}

static int on_sample(void *ctx, double t, long step, const double *x, const dln_net *net) {
  (void)t, (void)step, (void)net;
  dln_run_layers *L = ctx;
  if (L->n < L->cap) put_row(L, x);
  return 0;
}

void dln_run_layers_hook(dln_run_layers *L, dln_train_options *to) {
  to->on_sample = on_sample;
  to->on_sample_ctx = L;
}

int dln_run_layers_write(dln_run_layers *L, const char *dir, const double *theta, size_t nrows, dln_run_files *files) {
  const dln_net *net = L->net;
  if (L->n + 1 == nrows && L->n < L->cap) put_row(L, theta); /* the final row at the stop point */
  if (L->n != nrows)
    return dln_error(DLN_EINVAL, "observe layers: expected %zu rows as in trajectory.csv, found %zu", nrows, L->n);
  size_t off = 0;
  for (int j = first_layer(net); j <= net->depth; ++j) {
    size_t r = (size_t)net->widths[j], c = (size_t)net->widths[j - 1], sz = r * c;
    char name[64];
    if (net->tied) snprintf(name, sizeof name, "U_samples.npy");
    else snprintf(name, sizeof name, "W%d_samples.npy", j);
    char *p = dln_path_join(dir, name);
    if (!p) return dln_error(DLN_ENOMEM, "out of memory");
    size_t shape[3] = {L->n, r, c};
    int st = dln_npy_write_strided(p, 3, shape, L->buf + off, net->nparams, sz);
    free(p);
    if (st || (st = dln_run_files_add(files, name))) return st;
    off += sz;
  }
  return DLN_OK;
}
