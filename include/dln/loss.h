/* dln/loss.h — tasks as losses of the end-to-end matrix W (d_N x d_0).
 *
 * Every task is a loss ℓ(W) of the end-to-end matrix (002 §2 eq. 1): the loss
 * supplies ℓ(W), ∇ℓ(W) and a Hessian-vector product ∇²ℓ(W)[D]; the network turns
 * ∇ℓ into per-layer gradients. Conventions (docs/conventions.md): samples are
 * COLUMNS, X is d_0 x n, Y is d_N x n, the network maps x to W x.
 *
 *   regression     ℓ(W) = ½‖W X − Y‖_F²                        (000 eq. 2; 003 eq. 1 transposed)
 *   factorization  ℓ(W) = ½‖W − Ȳ‖_F²                          (001 eq. 2, 11; 000 eq. 5)
 *   sensing        ℓ(W) = (1/2m) Σ_i (⟨W, A_i⟩ − b_i)²         (002 eq. 9)
 *   completion     sensing with A_i = e_{r_i} e_{c_i}^T         (002 §4.1)
 *   lp             ℓ(W) = (1/n) Σ_i ‖W x_i − y_i‖_p^p, p ≥ 2     (002 §3.2 Claim 1)
 *   logistic       ℓ(W) = (1/n) Σ_i log(1 + exp(−y_i W x_i)), y_i = ±1   (002 §2; 004 Rem. 3)
 *   softmax        ℓ(W) = (1/n) Σ_i −log softmax(W x_i)_{c_i}           (002 §2)
 *   sigmoid        ℓ(W) = ½‖Y − s(W X)‖_F², s(z) = 1/(1 + e^{−z})   (001 §6, transposed)
 *
 * Each loss also knows its optimal value L* and a reference solution W*
 * (least-squares / minimum-norm solution, or the target), when computable. */
#ifndef DLN_LOSS_H
#define DLN_LOSS_H

#include <stddef.h>

#include "dln/mat.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dln_loss dln_loss;

/* Capabilities of a loss: what the theory and observe layers may assume about it. They
 * ask for these, never for a loss's name. */
enum {
  DLN_LOSS_QUADRATIC = 1u,   /* ℓ is quadratic in W (∇²ℓ constant) */
  DLN_LOSS_HAS_LSTAR = 2u,   /* lstar = inf ℓ is known (computed at construction) */
  DLN_LOSS_HAS_REF = 4u,     /* wstar is a minimum-norm reference solution (or the target) */
  DLN_LOSS_IDENTITY = 8u,    /* ℓ(W) = ½‖W − Ȳ‖²_F with Ȳ = wstar: the factorization loss of 001 eq. 2
                                and 004; the 001 closed forms, 004 Prop. 2 / Lemma 3.2 and 002 Ex. 1 apply */
  DLN_LOSS_LSQ_DESIGN = 16u, /* ℓ(W) = ½‖W X − Y‖²_F with X = dln_loss_design(): 003 Thm 1, min-norm bias */
  DLN_LOSS_ENTRYWISE = 32u,  /* ℓ is a sum of functions of single entries of W (completion) */
  DLN_LOSS_CLASSIFY = 64u,   /* a classification loss (logistic, softmax): ℓ > 0 everywhere, inf ℓ = 0 on
                                separable data is not attained (‖W‖ → ∞); dln_loss_margin gives the margin */
  DLN_LOSS_MEASURED = 128u    /* ℓ(W) = (1/2m)‖𝒜(W) − b‖² of linear measurements 𝒜 (sensing, completion):
                                dln_loss_measurements(); the min-nuclear-norm baseline (002 eq. 10) */
};

/* The linear measurements 𝒜(W)_i = ⟨A_i, W⟩ of a DLN_LOSS_MEASURED loss (002 eq. 9): either
 * dense (A: rows*cols x m, column i = vec(A_i) column-major) or entrywise (idx: m linear
 * indices r_i + c_i*rows, i.e. A_i = e_{r_i} e_{c_i}^T). Both point into the loss. */
typedef struct dln_measurements {
  int m;
  const double *A;  /* dense, or NULL */
  const int *idx;   /* entrywise, or NULL */
  const double *b;  /* m measured values */
} dln_measurements;

typedef struct dln_loss_ops {
  const char *name;
  unsigned caps; /* DLN_LOSS_* */
  /* value = ℓ(W); if G != NULL, G = ∇ℓ(W) (rows x cols). Must not allocate. */
  int (*eval)(dln_loss *loss, const double *W, double *value, double *G);
  /* out = ∇²ℓ(W)[D] (rows x cols). Must not allocate. */
  int (*hvp)(dln_loss *loss, const double *W, const double *D, double *out);
  void (*destroy)(dln_loss *loss);
} dln_loss_ops;

struct dln_loss {
  const dln_loss_ops *ops;
  int rows, cols;   /* shape of W: d_N x d_0 */
  double lstar;     /* optimal value inf ℓ, NAN if unknown */
  double *wstar;    /* reference solution (rows x cols), NULL if unknown:
                       regression: minimum-norm least-squares Y X^†;
                       factorization: Ȳ; sensing/completion: minimum-norm
                       least-squares solution of the linear measurements */
  const char *wstar_name; /* "min-norm least-squares solution", "target", ... */
  double target_norm;     /* ‖Ȳ‖_F for factorization (reconstruction error), else NAN */
  void *impl;
  const dln_mat *design;  /* X (d_0 x n) of a DLN_LOSS_LSQ_DESIGN loss, owned by the loss; else NULL */
  /* DLN_LOSS_CLASSIFY: the smallest margin over the samples at W (unnormalized; > 0 iff W
   * classifies every sample correctly). Must not allocate. NULL otherwise. */
  int (*margin)(dln_loss *loss, const double *W, double *min_margin);
  dln_measurements meas;  /* of a DLN_LOSS_MEASURED loss (pointers into impl); else zero */
  double *truth;          /* the true matrix W_true (rows x cols) the data came from, owned; NULL if unknown */
};

/* 1 if the loss has every capability in caps (DLN_LOSS_*). */
int dln_loss_has(const dln_loss *loss, unsigned caps);
/* The design X (d_0 x n) of a DLN_LOSS_LSQ_DESIGN loss, else NULL. */
const dln_mat *dln_loss_design(const dln_loss *loss);
/* A short name for messages and summaries ("regression", ...), "?" if none. */
/* dln_loss_has: 0, dln_loss_design: NULL, dln_loss_name: "?" for a NULL loss. */
const char *dln_loss_name(const dln_loss *loss);

/* The measurements of a DLN_LOSS_MEASURED loss into *out (DLN_EINVAL naming the loss otherwise). */
int dln_loss_measurements(const dln_loss *loss, dln_measurements *out);
/* The true matrix W_true the loss's data were drawn from (rows x cols), NULL if unknown:
 * the synthetic ground truth of any task, target_file of sensing/completion/regression, a
 * factorization's target. Set by dln_task_loss (dln/task.h) or dln_loss_set_truth. */
const double *dln_loss_truth(const dln_loss *loss);
/* Attach a copy of W_true (rows x cols of the loss: DLN_EDIM otherwise, finite); NULL clears. */
int dln_loss_set_truth(dln_loss *loss, const dln_mat *truth);

int dln_loss_eval(dln_loss *loss, const double *W, double *value, double *G);
int dln_loss_hvp(dln_loss *loss, const double *W, const double *D, double *out);
void dln_loss_free(dln_loss *loss);

/* ½‖W − Ȳ‖². Ȳ is copied. */
int dln_loss_factorization_alloc(dln_loss **out, const dln_mat *target);
/* ½‖W X − Y‖², X: d_0 x n, Y: d_N x n, copied. Any n, rank-deficient X allowed. */
int dln_loss_regression_alloc(dln_loss **out, const dln_mat *X, const dln_mat *Y);
/* (1/2m) Σ (⟨W, A_i⟩ − b_i)². A holds m matrices rows x cols, A_i at A + i*rows*cols. */
int dln_loss_sensing_alloc(dln_loss **out, int rows, int cols, int m, const double *A, const double *b);
/* (1/2m) Σ (W[r_i, c_i] − v_i)², 0-based indices. */
int dln_loss_completion_alloc(dln_loss **out, int rows, int cols, int m, const int *r, const int *c,
                              const double *v);

/* (1/n) Σ_i ‖W x_i − y_i‖_p^p = (1/n) Σ |W X − Y|^p entrywise, real p >= 2, X: d_0 x n,
 * Y: d_N x n, copied. p = 2 (= 2/n times the regression loss) has DLN_LOSS_QUADRATIC,
 * L* and W* = Y X^†; p != 2 has no capability (L* = NAN, no W*). */
int dln_loss_lp_alloc(dln_loss **out, double p, const dln_mat *X, const dln_mat *Y);
/* Binary logistic loss, X: d_0 x n, y: 1 x n of labels −1 / +1 (W is 1 x d_0). Copied. */
int dln_loss_logistic_alloc(dln_loss **out, const dln_mat *X, const dln_mat *y);
/* Softmax cross-entropy with `classes` = K ≥ 2 classes (W is K x d_0), X: d_0 x n, c: 1 x n
 * of integer labels 0..K−1. Copied. Labels out of range: DLN_EINVAL naming the column. */
int dln_loss_softmax_alloc(dln_loss **out, int classes, const dln_mat *X, const dln_mat *c);
/* The smallest margin of a DLN_LOSS_CLASSIFY loss at W: min_i y_i W x_i (logistic),
 * min_i (W x_i)_{c_i} − max_{k≠c_i} (W x_i)_k (softmax). DLN_EINVAL for another loss. */
int dln_loss_margin(dln_loss *loss, const double *W, double *min_margin);

/* ½‖Y − s(W X)‖², s the logistic sigmoid entrywise; X: d_0 x n, Y: d_N x n, copied. No
 * capability (not quadratic, L* and W* unknown). */
int dln_loss_sigmoid_alloc(dln_loss **out, const dln_mat *X, const dln_mat *Y);

/* Reduction of regression to factorization (000 eq. 3–5; 004 eq. 2–3): Ȳ = Y X^†
 * (the transpose of 000's Θ* = (Y X^†)^T, since our W maps x to W x). */
int dln_regression_reduce(const dln_mat *X, const dln_mat *Y, dln_mat **target);

#ifdef __cplusplus
}
#endif
#endif
