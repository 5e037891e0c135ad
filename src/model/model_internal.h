/* Private helpers of the model layer (src/model): the loss constructor shared by the
 * task files, option-row checks shared by the task and init rows, and the file hook. */
#ifndef DLN_MODEL_INTERNAL_H
#define DLN_MODEL_INTERNAL_H

#include <stddef.h>

#include "dln/init.h"
#include "dln/loss.h"
#include "dln/net.h"
#include "dln/option.h"
#include "dln/task.h"

/* A zeroed loss with ops, shape, lstar = target_norm = NAN (DLN_ENOMEM via dln_error). */
dln_loss *dln_loss_new(const dln_loss_ops *ops, int rows, int cols);

/* Row checks of number lists (dln_option_check_fn), with the CLI's messages:
 * "expected finite numbers, found x at item i" and the non-negative / positive variants. */
int dln_optcheck_finite_items(const dln_option *o, const void *field, char *msg, size_t len);
int dln_optcheck_nonneg_items(const dln_option *o, const void *field, char *msg, size_t len);
int dln_optcheck_pos_items(const dln_option *o, const void *field, char *msg, size_t len);

/* Read the file at path named by option `option` through o->load; on failure the
 * loader's status and message, *field = option (the caller prefixes where it came from). */
int dln_task_load(const dln_task_options *o, const char *option, const char *path, dln_mat **out, const char **field);

/* The options regression's data files make unused (shared with the lp task). */
extern const dln_task_unused dln_task_regression_unused[];

/* The regression task's part of the foreign-option rule: reduce = true with another task. */
int dln_task_regression_foreign(const dln_task_type *t, const dln_task_options *o, const char **field);

/* sigma of the init schemes that scale N(0, sigma^2) draws: > 0 and finite. */
int dln_init_check_sigma(const dln_init_options *o, const char **field);
/* The smallest hidden width d_1..d_{N-1} of ctx (0 for depth 1). */
int dln_init_ctx_hmin(const dln_init_context *ctx);

/* dln_net_grad without its argument checks, for step loops whose arguments were checked
 * once (gradient descent's driver: at 2 x 2 sizes the checks are a measurable share). */
int dln_net_grad_unchecked(dln_net *net, dln_loss *loss, const double *theta, double *value, double *grad);
/* The same with −∇φ(θ) into neg_grad (the gradient flow's right-hand side), computed by
 * backpropagating −∇ℓ: bit for bit the negated gradient, up to signs of zeros. */
int dln_net_neg_grad_unchecked(dln_net *net, dln_loss *loss, const double *theta, double *value, double *neg_grad);
/* 1 when dln_net_grad_step_unchecked has its fused path for this network and loss: every
 * width the same d ≤ 4 with the tiny kernels, no regularizer, the loss's shape d x d. */
int dln_net_has_grad_step(const dln_net *net, const dln_loss *loss);
/* dln_net_grad_unchecked, and with each layer's gradient still in registers the
 * gradient-descent update next = θ + step·∇φ(θ) (the same bits as dln_vec_axpy_over);
 * *over = 1 when an |entry| of next is above bound or NaN. Only where
 * dln_net_has_grad_step (DLN_EINVAL without the chain kernels or with the regularizer;
 * the loss's shape is not tested again). */
int dln_net_grad_step_unchecked(dln_net *net, dln_loss *loss, const double *theta, double *value, double *grad,
                                double step, double *next, double bound, int *over);

/* 1 if s is a non-empty string. */
static inline int dln_has_text(const char *s) { return s && *s; }

#endif
