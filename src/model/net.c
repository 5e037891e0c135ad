/* Deep linear network: end-to-end product, per-layer gradients, Hessian-vector
 * product and conserved quantities.
 *
 * φ(θ) = ℓ(W_N···W_1)                                   (002 eq. 2; 004 eq. 1)
 * ∂φ/∂W_j = W_{N:j+1}^T ∇ℓ(W) W_{j-1:1}^T               (002 Lemma 1 proof; 004 eq. 6)
 * computed from the prefix products P_j = W_j···W_1 (forward, once per call) and
 * the backward products B_j = W_{N:j+1}^T ∇ℓ (B_N = ∇ℓ, B_{j-1} = W_j^T B_j), so
 * ∂φ/∂W_j = B_j P_{j-1}^T with P_0 = I.
 * C_j = W_{j+1}^T W_{j+1} − W_j W_j^T is conserved under gradient flow (002 Lemma 1).
 * Optional imbalance regularizer R(θ) = ⅛ Σ_j ‖C_j − Λ_j‖_F² (001 Prop. 4 eq. 27, the
 * same sum for any depth), added to φ, its gradient and its Hessian-vector product.
 * Which kernel computes each small product is planned in net_kernels.c. */
#include "dln/net.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "dln/error.h"
#include "dln/gemm.h"
#include "model/model_internal.h"
#include "model/net_work.h"
#include "model/tiny_gemm.h"

/* gemm(...): dln_net_gemm_w (net_kernels.c) on the local workspace w */
#define gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c) \
  dln_net_gemm_w(w, (ta), (tb), (m), (n), (k), (a), (lda), (b), (ldb), (beta), (c))

int dln_net_alloc(dln_net **out, int depth, const int *widths, int tied) {
  DLN_ARGS(out);
  *out = NULL;
  if (depth < 1) return dln_error(DLN_EINVAL, "network depth: expected N >= 1, found %d", depth);
  if (!widths) return dln_error(DLN_EINVAL, "network widths: expected %d values, found none", depth + 1);
  for (int j = 0; j <= depth; ++j)
    if (widths[j] < 1) return dln_error(DLN_EINVAL, "network widths[%d]: expected >= 1, found %d", j, widths[j]);
  if (tied && (depth != 2 || widths[2] != widths[0]))
    return dln_error(DLN_EINVAL, "tied (symmetric U U^T) network: expected depth 2 with d_2 = d_0, found depth %d, widths d_0=%d d_N=%d",
                     depth, widths[0], widths[depth]);
  dln_net *net = calloc(1, sizeof *net);
  if (!net) return dln_error(DLN_ENOMEM, "out of memory allocating a network");
  net->depth = depth;
  net->tied = tied ? 1 : 0;
  net->widths = malloc((size_t)(depth + 1) * sizeof(int));
  net->offset = calloc((size_t)(depth + 1), sizeof(size_t));
  net->work = calloc(1, sizeof *net->work);
  if (!net->widths || !net->offset || !net->work) goto nomem;
  memcpy(net->widths, widths, (size_t)(depth + 1) * sizeof(int));

  size_t total = 0, sz;
  if (tied) {
    if (dln_size_mul((size_t)widths[0], (size_t)widths[1], &sz)) goto fail;
    net->offset[1] = net->offset[2] = 0;
    total = sz;
  } else {
    for (int j = 1; j <= depth; ++j) {
      if (dln_size_mul((size_t)widths[j], (size_t)widths[j - 1], &sz)) goto fail;
      net->offset[j] = total;
      total += sz;
    }
  }
  net->nparams = total;

  /* workspace: P_j, dP_j (j=1..N), each d_j x d_0; G, dG d_N x d_0; 4 backward buffers and S
   * (max_j d_j x d_0 each); C; T and S2 (max_j d_j d_{j-1}: transposes, HVP scratch) */
  size_t d0 = (size_t)widths[0], maxw = 0, ws = 0;
  for (int j = 0; j <= depth; ++j) maxw = (size_t)widths[j] > maxw ? (size_t)widths[j] : maxw;
  if (dln_size_mul(maxw, d0, &sz)) goto fail;
  size_t pj_total = 0;
  for (int j = 1; j <= depth; ++j) pj_total += (size_t)widths[j] * d0;
  size_t csz = 0;
  for (int j = 1; j < depth; ++j) {
    size_t c2;
    if (dln_size_mul((size_t)widths[j], (size_t)widths[j], &c2)) goto fail;
    csz = c2 > csz ? c2 : csz;
  }
  size_t tsz = (size_t)widths[depth] * d0; /* transposes: W_j^T, v_j^T, ∇ℓ^T */
  for (int j = 1; j <= depth; ++j)
    tsz = (size_t)widths[j] * (size_t)widths[j - 1] > tsz ? (size_t)widths[j] * (size_t)widths[j - 1] : tsz;
  if (tied) tsz = d0 * d0 > tsz ? d0 * d0 : tsz;
  ws = 2 * pj_total + 2 * (size_t)widths[depth] * d0 + 5 * sz + csz + 2 * tsz;
  dln_net_work *w = net->work;
  w->P = calloc((size_t)depth + 1, sizeof(double *));
  w->dP = calloc((size_t)depth + 1, sizeof(double *));
  w->buf = calloc(ws ? ws : 1, sizeof(double));
  w->plan = calloc(3 * ((size_t)depth + 1), sizeof *w->plan);
  w->pair = calloc((size_t)depth + 1, sizeof *w->pair);
  w->xplan = calloc(3 * ((size_t)depth + 1), sizeof *w->xplan);
  w->xalt = calloc((size_t)depth + 1, 1);
  w->xdot = calloc((size_t)depth + 1, 1);
  w->wt_off = calloc((size_t)depth + 1, sizeof *w->wt_off);
  if (!w->P || !w->dP || !w->buf || !w->plan || !w->pair || !w->xplan || !w->xalt || !w->xdot || !w->wt_off) goto nomem;
  size_t wt_total = 0; /* room for W_j^T of every layer narrow enough for xdot */
  for (int j = 2; j <= depth; ++j)
    if (widths[j] < DLN_TINY_DOT_MAXM) w->wt_off[j] = wt_total, wt_total += (size_t)widths[j] * (size_t)widths[j - 1];
  w->Wt = malloc((wt_total ? wt_total : 1) * sizeof(double));
  if (!w->Wt) goto nomem;
  double *p = w->buf;
  for (int j = 1; j <= depth; ++j) {
    w->P[j] = p;
    p += (size_t)widths[j] * d0;
    w->dP[j] = p;
    p += (size_t)widths[j] * d0;
  }
  w->G = p; p += (size_t)widths[depth] * d0;
  w->dG = p; p += (size_t)widths[depth] * d0;
  w->B = p; p += sz;
  w->B2 = p; p += sz;
  w->dB = p; p += sz;
  w->dB2 = p; p += sz;
  w->C = p; p += csz;
  w->T = p; p += tsz;
  w->S = p; p += sz;
  w->S2 = p;
  dln_net_xsmm_init();
  int st = dln_net_small_default(&w->small);
  if (st) {
    dln_net_free(net);
    return st;
  }
  dln_net_plan_kernels(net);
  *out = net;
  return DLN_OK;
nomem:
  dln_error(DLN_ENOMEM, "out of memory allocating a network");
fail:
  dln_net_free(net);
  return DLN_ENOMEM;
}

void dln_net_free(dln_net *net) {
  if (!net) return;
  if (net->work) {
    free(net->work->P);
    free(net->work->dP);
    free(net->work->buf);
    free(net->work->plan);
    free(net->work->pair);
    free(net->work->xplan);
    free(net->work->xalt);
    free(net->work->xdot);
    free(net->work->wt_off);
    free(net->work->Wt);
    free(net->work->reg_L);
    free(net->work->reg_off);
    free(net->work->reg_S);
    free(net->work);
  }
  free(net->widths);
  free(net->offset);
  free(net);
}

int dln_net_rows(const dln_net *net) {
  DLN_ARGS_V(-1, net);
  return net->widths[net->depth];
}
int dln_net_cols(const dln_net *net) {
  DLN_ARGS_V(-1, net);
  return net->widths[0];
}

double *dln_net_layer(const dln_net *net, double *theta, int j) {
  DLN_ARGS_P(net, theta);
  DLN_INDEX_V(NULL, j, 1, net->depth);
  return theta + net->offset[j];
}
const double *dln_net_layer_const(const dln_net *net, const double *theta, int j) {
  DLN_ARGS_P(net, theta);
  DLN_INDEX_V(NULL, j, 1, net->depth);
  return theta + net->offset[j];
}

/* forward() and backprop() when every product has a tiny kernel (plan_all): the same
 * products in the same order, without the other paths' branches and their register
 * saves (at 2 x 2 a step's loop instructions are as many as its arithmetic). */
static const double *forward_tiny(const dln_net *net, const double *theta) {
  const int *d = net->widths;
  const dln_net_work *w = net->work;
  if (w->chain) {
    w->chain->fwd(net->depth, theta, w->P);
    return w->P[net->depth];
  }
  const double *prev = theta + net->offset[1];
  for (int j = 2; j <= net->depth; ++j) { /* P_j = W_j P_{j-1} */
    w->plan[3 * j](theta + net->offset[j], prev, w->P[j], d[0]);
    prev = w->P[j];
  }
  return prev;
}

static void backprop_tiny(const dln_net *net, const double *theta, const double *G, double *grad) {
  const int *d = net->widths;
  const dln_net_work *w = net->work;
  if (w->chain) {
    w->chain->back(net->depth, theta, w->P, G, grad);
    return;
  }
  const double *B = G;
  double *next = w->B, *spare = w->B2;
  for (int j = net->depth; j >= 2; --j) {
    const double *Pprev = j == 2 ? theta + net->offset[1] : w->P[j - 1];
    double *dest = j == 2 ? grad + net->offset[1] : next;
    if (w->pair[j]) { /* both products in one call */
      w->pair[j](B, Pprev, theta + net->offset[j], grad + net->offset[j], dest);
    } else {
      w->plan[3 * j + 1](B, Pprev, grad + net->offset[j], d[j - 1]); /* ∂φ/∂W_j = B_j P_{j-1}^T */
      w->plan[3 * j + 2](theta + net->offset[j], B, dest, d[0]);    /* B_{j-1} = W_j^T B_j */
    }
    B = dest;
    double *t = next;
    next = spare;
    spare = t;
  }
}

/* Forward pass: P_j = W_j P_{j-1}; returns P_N (the end-to-end matrix). */
/* The three products of layer j (j ≥ 2) with the kernels planned for them (net_kernels.c):
 * the same kernels, operand layouts and order for every caller, so the gradient and the
 * Hessian-vector product round alike.
 *   prod_fwd:  C (d_j x d_0)     = A X,    A d_j x d_{j-1}, X d_{j-1} x d_0
 *   prod_grad: C (d_j x d_{j-1}) = B X^T,  B d_j x d_0,     X d_{j-1} x d_0
 *   prod_back: C (d_{j-1} x d_0) = A^T B,  A d_j x d_{j-1}, B d_j x d_0
 * At is A^T when at hand (NULL: transposed into t, or into T for prod_back). C must not
 * be T. */
static void prod_fwd(dln_net *net, int j, const double *A, const double *At, const double *X, double *C, double *t) {
  const int *d = net->widths;
  dln_net_work *w = net->work;
  if (w->plan[3 * j])
    w->plan[3 * j](A, X, C, d[0]);
  else if (w->xdot[j]) { /* dot products of A^T's and X's columns (d_j < 8 rows) */
    if (!At) dln_tiny_transpose(d[j - 1], d[j], A, d[j], t), At = t;
    dln_tiny_dot_tn(d[j], d[0], d[j - 1], At, X, C);
  } else if (w->xplan[3 * j])
    w->xplan[3 * j](A, X, C);
  else
    gemm(CblasNoTrans, CblasNoTrans, d[j], d[0], d[j - 1], 1.0, A, d[j], X, d[j - 1], 0.0, C);
}

static void prod_grad(dln_net *net, int j, const double *B, const double *X, double *C) {
  const int *d = net->widths;
  dln_net_work *w = net->work;
  if (w->plan[3 * j + 1])
    w->plan[3 * j + 1](B, X, C, d[j - 1]);
  else if (w->xalt[j]) /* a narrow layer (d_j < 8): written in place by columns of 4 */
    dln_tiny_nt_narrow(d[j], d[j - 1], d[0], B, X, C);
  else if (w->xplan[3 * j + 1])
    w->xplan[3 * j + 1](B, X, C);
  else
    gemm(CblasNoTrans, CblasTrans, d[j], d[j - 1], d[0], 1.0, B, d[j], X, d[j - 1], 0.0, C);
}

static void prod_back(dln_net *net, int j, const double *A, const double *At, const double *B, double *C) {
  const int *d = net->widths;
  dln_net_work *w = net->work;
  if (w->plan[3 * j + 2])
    w->plan[3 * j + 2](A, B, C, d[0]);
  else if (w->xplan[3 * j + 2]) {
    if (!At) dln_tiny_transpose(d[j - 1], d[j], A, d[j], w->T), At = w->T;
    w->xplan[3 * j + 2](At, B, C);
  } else
    gemm(CblasTrans, CblasNoTrans, d[j - 1], d[0], d[j], 1.0, A, d[j], B, d[j], 0.0, C);
}

/* W_j^T kept by forward() for a narrow layer (xdot), else NULL */
static const double *kept_wt(const dln_net *net, int j) {
  return net->work->xdot[j] ? net->work->Wt + net->work->wt_off[j] : NULL;
}

static const double *forward(dln_net *net, const double *theta) {
  const int *d = net->widths;
  dln_net_work *w = net->work;
  if (w->plan_all) return forward_tiny(net, theta);
  if (net->tied) { /* W = U U^T */
    const double *U = theta;
    gemm(CblasNoTrans, CblasTrans, d[0], d[0], d[1], 1.0, U, d[0], U, d[0], 0.0, w->P[2]);
    return w->P[2];
  }
  const double *prev = theta + net->offset[1]; /* P_1 = W_1 */
  for (int j = 2; j <= net->depth; ++j) { /* P_j = W_j P_{j-1}; W_j^T of a narrow layer kept in Wt */
    prod_fwd(net, j, theta + net->offset[j], NULL, prev, w->P[j], w->Wt + w->wt_off[j]);
    prev = w->P[j];
  }
  return prev;
}

int dln_net_product(dln_net *net, const double *theta, double *W) {
  DLN_ARGS(net, theta, W);
  const double *P = forward(net, theta);
  dln_copy((size_t)net->widths[net->depth] * (size_t)net->widths[0], P, W);
  return DLN_OK;
}

/* grad = ∂⟨G, W_N···W_1⟩/∂θ: ∂/∂W_j = W_{N:j+1}ᵀ G W_{j-1:1}ᵀ (002 Lemma 1 proof; 004 eq. 6),
 * with the prefix products P_j of forward(net, theta) in place. G must not alias grad. */
static void backprop(dln_net *net, const double *theta, const double *G, double *grad) {
  const int *d = net->widths;
  const int N = net->depth;
  dln_net_work *w = net->work;
  if (w->plan_all) {
    backprop_tiny(net, theta, G, grad);
    return;
  }
  if (net->tied) {
    /* ∂φ/∂U = (∇ℓ + ∇ℓ^T) U   (001 eq. 5 for ℓ = ½‖Y − UU^T‖²) */
    gemm(CblasNoTrans, CblasNoTrans, d[0], d[1], d[0], 1.0, G, d[0], theta, d[0], 0.0, grad);
    gemm(CblasTrans, CblasNoTrans, d[0], d[1], d[0], 1.0, G, d[0], theta, d[0], 1.0, grad);
    return;
  }
  if (N == 1) {
    dln_copy((size_t)d[1] * (size_t)d[0], G, grad);
    return;
  }
  const double *B = G; /* B_N = ∇ℓ */
  double *next = w->B, *spare = w->B2;
  for (int j = N; j >= 2; --j) {
    /* ∂φ/∂W_j = B_j P_{j-1}^T, P_1 = W_1 (next is free until B_{j-1} below) */
    const double *Pprev = (j - 1 == 1) ? theta + net->offset[1] : w->P[j - 1];
    prod_grad(net, j, B, Pprev, grad + net->offset[j]);
    /* B_{j-1} = W_j^T B_j; ∂φ/∂W_1 = B_1 is written in place */
    double *dest = (j - 1 == 1) ? grad + net->offset[1] : next;
    prod_back(net, j, theta + net->offset[j], kept_wt(net, j), B, dest);
    B = dest;
    double *t = next; next = spare; spare = t;
  }
}

/* ℓ(W) into *value, ∂ℓ(W_N···W_1)/∂θ into grad (may be NULL; its negative when neg), W into
 * W_out (may be NULL). The negative comes from backpropagating −∇ℓ: every entry of the
 * gradient is a sum of products with one factor from ∇ℓ, and IEEE rounding is symmetric,
 * so this is −(∂ℓ/∂θ) exactly (up to the sign of a zero) without a pass over θ. */
static int task_grad(dln_net *net, dln_loss *loss, const double *theta, double *value, double *grad, double *W_out,
                     int neg) {
  const int *d = net->widths;
  const int N = net->depth;
  dln_net_work *w = net->work;
  if (loss->rows != d[N] || loss->cols != d[0])
    return dln_error(DLN_EDIM, "loss %s expects an end-to-end matrix %d x %d, network gives %d x %d",
                     dln_loss_name(loss), loss->rows, loss->cols, d[N], d[0]);
  const double *W = w->plan_all ? forward_tiny(net, theta) : forward(net, theta);
  double v;
  int st = loss->ops->eval(loss, W, &v, grad ? w->G : NULL);
  if (st) return st;
  if (value) *value = v;
  if (W_out) dln_copy((size_t)d[N] * (size_t)d[0], W, W_out);
  if (!grad) return DLN_OK;
  if (neg)
    for (size_t i = 0, m = (size_t)d[N] * (size_t)d[0]; i < m; ++i) w->G[i] = -w->G[i];
  if (w->plan_all)
    backprop_tiny(net, theta, w->G, grad);
  else
    backprop(net, theta, w->G, grad);
  return DLN_OK;
}

/* y += x (m entries) */
static void add_to(double *restrict y, const double *restrict x, size_t m) {
  for (size_t i = 0; i < m; ++i) y[i] += x[i];
}

/* out = ∇²ℓ(W_N···W_1) v. */
static int task_hvp(dln_net *net, dln_loss *loss, const double *theta, const double *v, double *out) {
  const int *d = net->widths;
  const int N = net->depth;
  dln_net_work *w = net->work;
  if (loss->rows != d[N] || loss->cols != d[0])
    return dln_error(DLN_EDIM, "loss %s expects an end-to-end matrix %d x %d, network gives %d x %d",
                     dln_loss_name(loss), loss->rows, loss->cols, d[N], d[0]);
  const double *W = forward(net, theta);
  double val;
  int st = loss->ops->eval(loss, W, &val, w->G);
  if (st) return st;
  if (net->tied) {
    const double *U = theta, *dU = v;
    int m = d[0], k = d[1];
    /* dW = dU U^T + U dU^T */
    gemm(CblasNoTrans, CblasTrans, m, m, k, 1.0, dU, m, U, m, 0.0, w->dP[2]);
    gemm(CblasNoTrans, CblasTrans, m, m, k, 1.0, U, m, dU, m, 1.0, w->dP[2]);
    if ((st = loss->ops->hvp(loss, W, w->dP[2], w->dG))) return st;
    /* d(∂φ/∂U) = (dG + dG^T) U + (G + G^T) dU */
    gemm(CblasNoTrans, CblasNoTrans, m, k, m, 1.0, w->dG, m, U, m, 0.0, out);
    gemm(CblasTrans, CblasNoTrans, m, k, m, 1.0, w->dG, m, U, m, 1.0, out);
    gemm(CblasNoTrans, CblasNoTrans, m, k, m, 1.0, w->G, m, dU, m, 1.0, out);
    gemm(CblasTrans, CblasNoTrans, m, k, m, 1.0, w->G, m, dU, m, 1.0, out);
    return DLN_OK;
  }
  /* tangent of the forward pass: dP_1 = dW_1, dP_j = dW_j P_{j-1} + W_j dP_{j-1}, each
   * product with the gradient's kernel for its shape (prod_fwd), the second into S */
  const double *dPprev = v + net->offset[1];
  const double *Pprev = theta + net->offset[1];
  for (int j = 2; j <= N; ++j) {
    prod_fwd(net, j, v + net->offset[j], NULL, Pprev, w->dP[j], w->S2);
    prod_fwd(net, j, theta + net->offset[j], kept_wt(net, j), dPprev, w->S, w->S2);
    add_to(w->dP[j], w->S, (size_t)d[j] * (size_t)d[0]);
    dPprev = w->dP[j];
    Pprev = w->P[j];
  }
  if ((st = loss->ops->hvp(loss, W, dPprev, w->dG))) return st;
  if (N == 1) {
    memcpy(out, w->dG, (size_t)d[1] * (size_t)d[0] * sizeof(double));
    return DLN_OK;
  }
  /* backward with tangent: dB_N = dG, dB_{j-1} = dW_j^T B_j + W_j^T dB_j, B_{j-1} = W_j^T B_j;
   * d(∂φ/∂W_j) = dB_j P_{j-1}^T + B_j dP_{j-1}^T; d(∂φ/∂W_1) = dB_1 is written in place */
  const double *B = w->G, *dB = w->dG;
  double *nB = w->B, *sB = w->B2, *ndB = w->dB, *sdB = w->dB2;
  for (int j = N; j >= 2; --j) {
    double *oj = out + net->offset[j];
    const double *Pp = (j - 1 == 1) ? theta + net->offset[1] : w->P[j - 1];
    const double *dPp = (j - 1 == 1) ? v + net->offset[1] : w->dP[j - 1];
    const double *Wj = theta + net->offset[j], *Wt = kept_wt(net, j);
    prod_grad(net, j, dB, Pp, oj);
    prod_grad(net, j, B, dPp, w->S2);
    add_to(oj, w->S2, (size_t)d[j] * (size_t)d[j - 1]);
    double *dest = (j - 1 == 1) ? out + net->offset[1] : ndB;
    prod_back(net, j, v + net->offset[j], NULL, B, dest);
    prod_back(net, j, Wj, Wt, dB, w->S);
    add_to(dest, w->S, (size_t)d[j - 1] * (size_t)d[0]);
    if (j == 2) break;                   /* B_1 is not needed */
    prod_back(net, j, Wj, Wt, B, nB);
    B = nB, dB = ndB;
    double *t = nB; nB = sB; sB = t;
    t = ndB; ndB = sdB; sdB = t;
  }
  return DLN_OK;
}

/* ---------------------------------------------------------------- imbalance regularizer
 * R(θ) = ⅛ Σ_{j=1}^{N−1} ‖D_j‖_F², D_j = C_j − Λ_j, C_j = W_{j+1}^T W_{j+1} − W_j W_j^T
 * (001 Prop. 4 eq. 27 for N = 2, U = W_2, V = W_1^T, Q = C_1; eq. 28 for Λ = Q_0).
 * With S_j = sym(D_j) (C_j is symmetric, so skew(Λ_j) only adds a constant):
 *   ∂R/∂W_{j+1} = ½ W_{j+1} S_j,   ∂R/∂W_j = −½ S_j W_j         (001 eq. 26)
 *   tangent: dS_j = V_{j+1}^T W_{j+1} + W_{j+1}^T V_{j+1} − V_j W_j^T − W_j V_j^T,
 *   d(∂R/∂W_{j+1}) = ½ (V_{j+1} S_j + W_{j+1} dS_j), d(∂R/∂W_j) = −½ (dS_j W_j + S_j V_j). */

/* Copy the upper triangle of the n x n matrix A into its lower triangle. */
static void mirror_upper(int n, double *A) {
  for (int c = 0; c < n; ++c)
    for (int r = c + 1; r < n; ++r) A[r + (size_t)c * n] = A[c + (size_t)r * n];
}

/* S_j = sym(C_j − Λ_j) into w->reg_S (exactly symmetric: syrk fills one triangle). */
static void reg_S(const dln_net *net, const double *theta, int j, double *S) {
  const dln_net_work *w = net->work;
  const int *d = net->widths;
  int n = d[j];
  const double *Wj = theta + net->offset[j], *Wn = theta + net->offset[j + 1];
  /* S = W_{j+1}^T W_{j+1} − W_j W_j^T (upper) */
  cblas_dsyrk(CblasColMajor, CblasUpper, CblasTrans, n, d[j + 1], 1.0, Wn, d[j + 1], 0.0, S, n);
  cblas_dsyrk(CblasColMajor, CblasUpper, CblasNoTrans, n, d[j - 1], -1.0, Wj, n, 1.0, S, n);
  for (int c = 0; c < n; ++c) S[c + (size_t)c * n] -= w->reg_lambda0;
  if (w->reg_L) {
    const double *L = w->reg_L + w->reg_off[j];
    for (int c = 0; c < n; ++c)
      for (int r = 0; r <= c; ++r) S[r + (size_t)c * n] -= 0.5 * (L[r + (size_t)c * n] + L[c + (size_t)r * n]);
  }
  mirror_upper(n, S);
}

/* *R = R(θ); grad (may be NULL) += ∇R(θ). */
static void reg_grad(const dln_net *net, const double *theta, double *R, double *grad) {
  const int *d = net->widths;
  double *S = net->work->reg_S, sum = net->work->reg_skew2;
  for (int j = 1; j < net->depth; ++j) {
    int n = d[j];
    reg_S(net, theta, j, S);
    double f = dln_norm2((size_t)n * (size_t)n, S);
    sum += f * f;
    if (!grad) continue;
    /* ∂R/∂W_{j+1} += ½ W_{j+1} S_j; ∂R/∂W_j += −½ S_j W_j */
    dln_gemm(0, 0, d[j + 1], n, n, 0.5, theta + net->offset[j + 1], d[j + 1], S, n, 1.0, grad + net->offset[j + 1],
             d[j + 1]);
    dln_gemm(0, 0, n, d[j - 1], n, -0.5, S, n, theta + net->offset[j], n, 1.0, grad + net->offset[j], n);
  }
  *R = 0.125 * sum;
}

/* out += ∇²R(θ) v. */
static void reg_hvp(const dln_net *net, const double *theta, const double *v, double *out) {
  const int *d = net->widths;
  double *S = net->work->reg_S, *dS = net->work->reg_dS;
  for (int j = 1; j < net->depth; ++j) {
    int n = d[j], a = d[j + 1], b = d[j - 1];
    const double *Wn = theta + net->offset[j + 1], *Wj = theta + net->offset[j];
    const double *Vn = v + net->offset[j + 1], *Vj = v + net->offset[j];
    reg_S(net, theta, j, S);
    /* dS = V_{j+1}^T W_{j+1} + W_{j+1}^T V_{j+1} − (V_j W_j^T + W_j V_j^T) */
    cblas_dsyr2k(CblasColMajor, CblasUpper, CblasTrans, n, a, 1.0, Vn, a, Wn, a, 0.0, dS, n);
    cblas_dsyr2k(CblasColMajor, CblasUpper, CblasNoTrans, n, b, -1.0, Vj, n, Wj, n, 1.0, dS, n);
    mirror_upper(n, dS);
    double *on = out + net->offset[j + 1], *oj = out + net->offset[j];
    /* out_{j+1} += ½ (V_{j+1} S + W_{j+1} dS); out_j −= ½ (dS W_j + S V_j) */
    dln_gemm(0, 0, a, n, n, 0.5, Vn, a, S, n, 1.0, on, a);
    dln_gemm(0, 0, a, n, n, 0.5, Wn, a, dS, n, 1.0, on, a);
    dln_gemm(0, 0, n, b, n, -0.5, dS, n, Wj, n, 1.0, oj, n);
    dln_gemm(0, 0, n, b, n, -0.5, S, n, Vj, n, 1.0, oj, n);
  }
}

int dln_net_set_imbalance_reg(dln_net *net, double lambda0, const double *const *L) {
  DLN_ARGS(net);
  dln_net_work *w = net->work;
  if (net->tied)
    return dln_error(DLN_EINVAL, "imbalance regularizer: expected an untied network (C_1 = 0 for W = U U^T), found tied");
  if (net->depth < 2)
    return dln_error(DLN_EINVAL, "imbalance regularizer: expected depth N >= 2 (one junction), found %d", net->depth);
  if (!isfinite(lambda0)) return dln_error(DLN_EINVAL, "imbalance regularizer lambda0: expected a finite number, found %g", lambda0);
  const int *d = net->widths;
  size_t total = 0, smax = 1;
  for (int j = 1; j < net->depth; ++j) {
    size_t n2 = (size_t)d[j] * (size_t)d[j];
    total += n2;
    smax = n2 > smax ? n2 : smax;
    for (size_t i = 0; L && L[j - 1] && i < n2; ++i)
      if (!isfinite(L[j - 1][i]))
        return dln_error(DLN_EINVAL, "imbalance regularizer Lambda_%d: expected finite values, found %g at (%zu, %zu)", j,
                         L[j - 1][i], i % (size_t)d[j], i / (size_t)d[j]);
    if (L && !L[j - 1])
      return dln_error(DLN_EINVAL, "imbalance regularizer Lambda_%d: expected a %d x %d matrix, found NULL", j, d[j], d[j]);
  }
  double *S = malloc(2 * smax * sizeof *S);
  double *Lc = L ? malloc(total * sizeof *Lc) : NULL;
  size_t *off = L ? malloc((size_t)net->depth * sizeof *off) : NULL;
  if (!S || (L && (!Lc || !off))) {
    free(S); free(Lc); free(off);
    return dln_error(DLN_ENOMEM, "out of memory for the imbalance regularizer");
  }
  double skew2 = 0.0;
  for (int j = 1, o = 0; L && j < net->depth; o += d[j] * d[j], ++j) {
    int n = d[j];
    off[j] = (size_t)o;
    memcpy(Lc + o, L[j - 1], (size_t)n * (size_t)n * sizeof *Lc);
    for (int c = 0; c < n; ++c)
      for (int r = 0; r < n; ++r) {
        double k = 0.5 * (L[j - 1][r + (size_t)c * n] - L[j - 1][c + (size_t)r * n]);
        skew2 += k * k;
      }
  }
  dln_net_clear_imbalance_reg(net);
  w->reg_on = 1;
  w->reg_lambda0 = lambda0;
  w->reg_L = Lc;
  w->reg_off = off;
  w->reg_skew2 = skew2;
  w->reg_S = S;
  w->reg_dS = S + smax;
  return DLN_OK;
}

int dln_net_clear_imbalance_reg(dln_net *net) {
  DLN_ARGS(net);
  dln_net_work *w = net->work;
  free(w->reg_L);
  free(w->reg_off);
  free(w->reg_S);
  w->reg_on = 0;
  w->reg_lambda0 = 0.0;
  w->reg_L = w->reg_S = w->reg_dS = NULL;
  w->reg_off = NULL;
  w->reg_skew2 = 0.0;
  return DLN_OK;
}

int dln_net_has_imbalance_reg(const dln_net *net) { return net && net->work->reg_on; }

int dln_net_imbalance_reg(const dln_net *net, const double *theta, double *R) {
  DLN_ARGS(net, theta, R);
  *R = 0.0;
  if (net->work->reg_on) reg_grad(net, theta, R, NULL);
  return DLN_OK;
}

int dln_net_objective(dln_net *net, dln_loss *loss, const double *theta, double *loss_value, double *reg_value,
                      double *grad, double *W_out) {
  DLN_ARGS(net, loss, theta);
  double v = NAN, R = 0.0;
  int st = task_grad(net, loss, theta, &v, grad, W_out, 0);
  if (st) return st;
  if (net->work->reg_on) reg_grad(net, theta, &R, grad);
  if (loss_value) *loss_value = v;
  if (reg_value) *reg_value = R;
  return DLN_OK;
}

int dln_net_has_grad_step(const dln_net *net, const dln_loss *loss) {
  const dln_net_work *w = net->work;
  return w->chain && !w->reg_on && loss->rows == net->widths[net->depth] && loss->cols == net->widths[0];
}

int dln_net_grad_step_unchecked(dln_net *net, dln_loss *loss, const double *theta, double *value, double *grad,
                                double step, double *next, double bound, int *over) {
  const dln_net_work *w = net->work;
  const int N = net->depth;
  if (!w->chain || w->reg_on) /* the rest of dln_net_has_grad_step (the loss's shape) is the caller's */
    return dln_error(DLN_EINVAL, "fused gradient step: expected a network of uniform width at most 2 with the tiny kernels");
  w->chain->fwd(N, theta, w->P);
  int st = loss->ops->eval(loss, w->P[N], value, w->G);
  if (st) return st;
  *over = w->chain->step(N, theta, w->P, w->G, grad, step, next, bound);
  return DLN_OK;
}

int dln_net_grad_unchecked(dln_net *net, dln_loss *loss, const double *theta, double *value, double *grad) {
  double v = NAN, R = 0.0;
  int st = task_grad(net, loss, theta, &v, grad, NULL, 0);
  if (st) return st;
  if (net->work->reg_on) {
    reg_grad(net, theta, &R, grad);
    v += R; /* φ = ℓ + R */
  }
  *value = v;
  return DLN_OK;
}

int dln_net_neg_grad_unchecked(dln_net *net, dln_loss *loss, const double *theta, double *value, double *neg_grad) {
  if (net->work->reg_on) { /* R's gradient is added to ℓ's: negate the sum */
    int st = dln_net_grad_unchecked(net, loss, theta, value, neg_grad);
    if (st) return st;
    for (size_t i = 0; i < net->nparams; ++i) neg_grad[i] = -neg_grad[i];
    return DLN_OK;
  }
  return task_grad(net, loss, theta, value, neg_grad, NULL, 1);
}

int dln_net_grad(dln_net *net, dln_loss *loss, const double *theta, double *value, double *grad, double *W_out) {
  DLN_ARGS(net, loss, theta);
  double v = NAN, R = 0.0;
  int st = task_grad(net, loss, theta, &v, grad, W_out, 0);
  if (st) return st;
  if (net->work->reg_on) {
    reg_grad(net, theta, &R, grad);
    v += R; /* φ = ℓ + R */
  }
  if (value) *value = v;
  return DLN_OK;
}

int dln_net_backprop(dln_net *net, const double *theta, const double *G, double *grad) {
  DLN_ARGS(net, theta, G, grad);
  if (G == grad) return dln_error(DLN_EINVAL, "dln_net_backprop: grad: expected a buffer other than G, found the same");
  forward(net, theta);
  backprop(net, theta, G, grad);
  return DLN_OK;
}

int dln_net_hvp(dln_net *net, dln_loss *loss, const double *theta, const double *v, double *out) {
  DLN_ARGS(net, loss, theta, v, out);
  int st = task_hvp(net, loss, theta, v, out);
  if (!st && net->work->reg_on) reg_hvp(net, theta, v, out);
  return st;
}

int dln_net_conserved(const dln_net *net, const double *theta, int j, double *C) {
  DLN_ARGS(net, theta, C);
  const int *d = net->widths;
  if (j < 1 || j >= net->depth)
    return dln_error(DLN_EINVAL, "conserved quantity index: expected 1 <= j <= %d, found %d", net->depth - 1, j);
  int n = d[j];
  if (net->tied) { /* W_2 = U, W_1 = U^T: C_1 = U^T U − U^T U = 0 */
    memset(C, 0, (size_t)n * (size_t)n * sizeof(double));
    return DLN_OK;
  }
  const double *Wj = theta + net->offset[j], *Wn = theta + net->offset[j + 1];
  /* C_j = W_{j+1}^T W_{j+1} − W_j W_j^T */
  dln_gemm(1, 0, n, n, d[j + 1], 1.0, Wn, d[j + 1], Wn, d[j + 1], 0.0, C, n);
  dln_gemm(0, 1, n, n, d[j - 1], -1.0, Wj, n, Wj, n, 1.0, C, n);
  return DLN_OK;
}

double dln_net_unbalancedness(dln_net *net, const double *theta) {
  DLN_ARGS_V(NAN, net, theta);
  if (net->tied || net->depth < 2) return 0.0;
  double best = 0.0;
  for (int j = 1; j < net->depth; ++j) {
    size_t n = (size_t)net->widths[j];
    dln_net_conserved(net, theta, j, net->work->C);
    double f = dln_norm2(n * n, net->work->C);
    if (f > best) best = f;
  }
  return best;
}

int dln_net_check_finite(const dln_net *net, const double *theta, const char *what) {
  DLN_ARGS(net, theta);
  if (!what) what = "theta";
  int layers = net->tied ? 1 : net->depth;
  for (int j = 1; j <= layers; ++j) {
    int r = net->tied ? net->widths[0] : net->widths[j];
    int c = net->tied ? net->widths[1] : net->widths[j - 1];
    const double *Wj = theta + net->offset[net->tied ? 2 : j];
    for (size_t i = 0; i < (size_t)r * (size_t)c; ++i)
      if (!isfinite(Wj[i]))
        return dln_error(DLN_ENONFINITE, "%s: layer %d (%dx%d): expected finite values, found %g at (%zu, %zu)", what, j,
                         r, c, Wj[i], i % (size_t)r, i / (size_t)r);
  }
  return DLN_OK;
}
