/* The file initialization (dln/init.h): layer matrices W_1..W_N (tied: U) read from
 * files, named one by one or by one pattern containing {j}, through the loader the run
 * layer sets (dln_init_options.load). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dln/error.h"
#include "dln/init.h"
#include "model/model_internal.h"

#define OFF(f) offsetof(dln_init_options, f)

/* clang-format off */
static const dln_option rows[] = {
  {"init_files", DLN_OPT_STRLIST, OFF(init_files), "", "file init: W1,...,WN files (tied: U), or one pattern containing {j}", NULL, DLN_OPTR_NONE, 0, 0, NULL, NULL},
  DLN_OPTION_END};
/* clang-format on */

/* Replace every "{j}" in pattern by j. */
static char *subst_j(const char *pattern, int j) {
  size_t k = 0;
  for (const char *p = strstr(pattern, "{j}"); p; p = strstr(p + 3, "{j}")) ++k;
  size_t n = strlen(pattern) + k * 24 + 1;
  char *out = malloc(n), *o = out;
  if (!out) return NULL;
  for (const char *p = pattern; *p;) {
    if (strncmp(p, "{j}", 3) == 0) {
      o += snprintf(o, n - (size_t)(o - out), "%d", j);
      p += 3;
    } else {
      *o++ = *p++;
    }
  }
  *o = '\0';
  return out;
}

static int check(const dln_init_options *o, const dln_init_context *ctx, const char **field) {
  int want = ctx->tied ? 1 : ctx->depth;
  const dln_slist *f = &o->init_files;
  int pattern = f->n == 1 && strstr(f->v[0], "{j}");
  if (!pattern && f->n != want) {
    *field = "init_files";
    return dln_error(DLN_EINVAL, "expected %d files (W1..WN) or one pattern with {j}, found %d", want, f->n);
  }
  return DLN_OK;
}

static int apply(const dln_init_options *o, const dln_net *net, double *theta, dln_rng *rng, const dln_loss *loss,
                 const char **field) {
  (void)rng;
  (void)loss;
  const dln_slist *f = &o->init_files;
  int nl = net->tied ? 1 : net->depth, st = DLN_OK;
  *field = "init_files";
  if (!o->load) return dln_error(DLN_EINVAL, "expected a file loader (dln_init_options.load), found none");
  if (f->n != 1 && f->n != nl)
    return dln_error(DLN_EDIM, "expected %d files (W1..WN) or one pattern with {j}, found %d", nl, f->n);
  dln_mat **layers = calloc((size_t)nl, sizeof *layers);
  if (!layers) return dln_error(DLN_ENOMEM, "out of memory");
  for (int j = 1; j <= nl && !st; ++j) {
    char *p = subst_j(f->v[f->n == 1 ? 0 : j - 1], j);
    if (!p) st = dln_error(DLN_ENOMEM, "out of memory");
    else st = o->load(p, &layers[j - 1]);
    free(p);
  }
  if (!st) {
    *field = NULL;
    st = dln_init_from_layers(net, theta, layers, nl);
  }
  for (int j = 0; j < nl; ++j) dln_mat_free(layers[j]);
  free(layers);
  return st;
}

const dln_init_type dln_init_type_file = {
    .name = "file",
    .summary = "layer matrices read from init_files (W1..WN, tied: U)",
    .options = rows,
    .check = check,
    .apply = apply,
};
