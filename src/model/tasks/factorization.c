/* The factorization task: ℓ(W) = ½‖W − Ȳ‖²_F, ∇ℓ = W − Ȳ, ∇²ℓ[D] = D (001 eq. 2, 11;
 * 000 eq. 5). Its data is the target Ȳ: the common ground truth (drawn, or target_file). */
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "dln/error.h"
#include "dln/loss.h"
#include "dln/task.h"
#include "model/model_internal.h"

/* ½‖W − Ȳ‖² with eight partial sums in a fixed order (independent chains the compiler
 * vectorizes, not one long dependent one), in the pass that writes ∇ℓ = W − Ȳ, so the
 * value costs about what the subtraction does; below 16 entries one sum in order. */
DLN_CLONES static int fact_eval(dln_loss *loss, const double *W, double *value, double *G) {
  const double *T = loss->wstar;
  size_t n = (size_t)loss->rows * (size_t)loss->cols, i = 0;
  double s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  if (n < 16) { /* tiny nets: one sum in order, no set-up (a 2 x 2 GD step is ~40 ns) */
    for (; i < n; ++i) {
      double r = W[i] - T[i];
      if (G) G[i] = r;
      s[0] += r * r;
    }
  } else if (G) {
    for (; i + 8 <= n; i += 8)
      for (int q = 0; q < 8; ++q) {
        double r = W[i + q] - T[i + q]; /* ∇ℓ = W − Ȳ */
        G[i + q] = r;
        s[q] += r * r;
      }
    for (; i < n; ++i) {
      double r = W[i] - T[i];
      G[i] = r;
      s[0] += r * r;
    }
  } else {
    for (; i + 8 <= n; i += 8)
      for (int q = 0; q < 8; ++q) s[q] += (W[i + q] - T[i + q]) * (W[i + q] - T[i + q]);
    for (; i < n; ++i) s[0] += (W[i] - T[i]) * (W[i] - T[i]);
  }
  *value = 0.5 * (((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7])));
  return DLN_OK;
}
static int fact_hvp(dln_loss *loss, const double *W, const double *D, double *out) {
  (void)W;
  memcpy(out, D, (size_t)loss->rows * (size_t)loss->cols * sizeof(double));
  return DLN_OK;
}
static void fact_destroy(dln_loss *loss) { (void)loss; }
static const dln_loss_ops fact_ops = {"factorization", DLN_LOSS_QUADRATIC | DLN_LOSS_HAS_LSTAR | DLN_LOSS_HAS_REF | DLN_LOSS_IDENTITY, fact_eval, fact_hvp, fact_destroy};

int dln_loss_factorization_alloc(dln_loss **out, const dln_mat *target) {
  DLN_ARGS(out, target);
  *out = NULL;
  if (!target || target->rows < 1 || target->cols < 1)
    return dln_error(DLN_EDIM, "factorization target: expected a non-empty matrix, found %dx%d", target ? target->rows : 0,
                     target ? target->cols : 0);
  int st = dln_check_finite("factorization target", target->rows, target->cols, target->data);
  if (st) return st;
  dln_loss *l = dln_loss_new(&fact_ops, target->rows, target->cols);
  if (!l) return DLN_ENOMEM;
  size_t n = (size_t)target->rows * (size_t)target->cols;
  l->wstar = malloc(n * sizeof(double));
  if (!l->wstar) {
    dln_loss_free(l);
    return dln_error(DLN_ENOMEM, "out of memory copying the factorization target");
  }
  memcpy(l->wstar, target->data, n * sizeof(double));
  l->lstar = 0.0;
  l->wstar_name = "target";
  l->target_norm = dln_norm2(n, l->wstar);
  *out = l;
  return DLN_OK;
}

/* ---------------------------------------------------------------- the task type */
static unsigned fact_caps(const dln_task_options *o) {
  (void)o;
  return fact_ops.caps;
}

static int fact_shape(const dln_task_options *o, int *rows, int *cols) {
  if (dln_has_text(o->target_file)) return 0;
  *rows = o->rows;
  *cols = o->symmetric_target ? o->rows : o->cols;
  return 1;
}

static int fact_data(const dln_task_options *o, dln_rng *rng, dln_task_data *d, const char **field) {
  int st = dln_task_truth(o, rng, &d->mats[0], field);
  if (st) return st;
  if (o->symmetric_target && d->mats[0]->rows != d->mats[0]->cols) {
    *field = "target_file";
    return dln_error(DLN_EDIM, "expected a square target for symmetric_target, found %d x %d", d->mats[0]->rows,
                     d->mats[0]->cols);
  }
  return DLN_OK;
}

static int fact_loss(const dln_task_options *o, const dln_task_data *d, dln_loss **out) {
  (void)o;
  return dln_loss_factorization_alloc(out, d->mats[0]);
}

static const dln_task_file fact_files[] = {{"target_file", "target.npy"}, {NULL, NULL}};

const dln_task_type dln_task_factorization = {
    .name = "factorization",
    .summary = "1/2 |W - Ybar|_F^2 of a target Ybar (001 eq. 2)",
    .options = NULL, /* the common rows only */
    .files = fact_files,
    .caps = fact_caps,
    .check = NULL,
    .shape = fact_shape,
    .data = fact_data,
    .loss = fact_loss,
    .data_free = NULL,
};
