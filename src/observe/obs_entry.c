/* Observables "entry" and "layers" (dln/observe.h).
 *
 * entry:i,j — the entry W_ij of the end-to-end matrix W = W_N···W_1 (1-based, as printed:
 * row i of d_N, column j of d_0), one column W_i_j per word, in the order given; the
 * per-entry trajectories of 000 Fig. 1 and of Razin–Cohen's analyses.
 * layers — no column: it asks `dln run` to write every layer W_j at every trajectory row
 * (W{j}_samples.npy, src/run/run_layers.c); the observer only accepts the word. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dln/error.h"
#include "observe/obs_internal.h"

typedef struct entry_ws {
  int rows, n;
  size_t idx[]; /* column-major offsets of the entries, one per column */
} entry_ws;

/* "i,j" with 1 ≤ i ≤ rows, 1 ≤ j ≤ cols into (i, j). */
static int parse_entry(const char *a, int rows, int cols, int *i, int *j) {
  char *e;
  errno = 0;
  long r = strtol(a, &e, 10), c = 0;
  int ok = !errno && e != a && *e == ',';
  if (ok) {
    const char *b = e + 1;
    c = strtol(b, &e, 10);
    ok = !errno && e != b && *e == '\0';
  }
  if (!ok)
    return dln_error(DLN_EINVAL, "observe entry:%s: expected entry:i,j with integers i (row) and j (column), found '%s'", a, a);
  if (r < 1 || r > rows || c < 1 || c > cols)
    return dln_error(DLN_EINVAL,
                     "observe entry:%s: expected row i in 1..%d and column j in 1..%d (W is %d x %d, 1-based), found i = %ld, j = %ld",
                     a, rows, cols, rows, cols, r, c);
  *i = (int)r;
  *j = (int)c;
  return DLN_OK;
}

static int entry_init(dln_obs_setup *s, void **state) {
  int rows = s->loss->rows, cols = s->loss->cols;
  entry_ws *w = calloc(1, sizeof *w + (size_t)(s->nargs > 0 ? s->nargs : 1) * sizeof(size_t));
  if (!w) return dln_error(DLN_ENOMEM, "out of memory allocating an observer workspace");
  *state = w;
  w->rows = rows;
  for (int k = 0; k < s->nargs; ++k) {
    int i = 0, j = 0, st = parse_entry(s->args[k], rows, cols, &i, &j);
    if (st) return st;
    size_t idx = (size_t)(i - 1) + (size_t)(j - 1) * (size_t)rows;
    int dup = 0;
    for (int m = 0; m < w->n; ++m) dup |= w->idx[m] == idx;
    if (dup) continue; /* one column per entry */
    char name[32];
    snprintf(name, sizeof name, "W_%d_%d", i, j);
    if (dln_obs_add_col(s, name, 0) < 0) return DLN_EINVAL; /* the observer has the message */
    w->idx[w->n++] = idx;
  }
  return DLN_OK;
}

static int entry_eval(void *state, const dln_obs_frame *f, double *cols) {
  const entry_ws *w = state;
  for (int k = 0; k < w->n; ++k) cols[k] = f->W[w->idx[k]];
  return DLN_OK;
}

const dln_observable dln_observable_entry = {
    "entry", "entry:i,j = W_ij, the entry of W = W_N...W_1 in row i, column j (1-based), as column W_i_j; repeat for more",
    DLN_OBSERVABLE_USES_W | DLN_OBSERVABLE_ARGS, 0, 0, 0, entry_init, entry_eval, free};

static int layers_init(dln_obs_setup *s, void **state) {
  (void)s;
  *state = NULL;
  return DLN_OK;
}

static int layers_eval(void *state, const dln_obs_frame *f, double *cols) {
  (void)state, (void)f, (void)cols;
  return DLN_OK;
}

const dln_observable dln_observable_layers = {
    "layers", "no column: dln run writes every layer at every trajectory row, W{j}_samples.npy (rows x d_j x d_{j-1}, C order)",
    0, 0, 0, 0, layers_init, layers_eval, NULL};
