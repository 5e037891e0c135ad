/* The noisy_data disturbance (docs/disturbed.md; issue 10): gradient descent whose gradient
 * is computed from data perturbed afresh at every step, 000's motivation for eq. 9 (a
 * gradient estimated from noisy data). Only the targets are perturbed:
 *   regression     Y + s·E_k,  E_k ∈ R^{d_N x n}:  ∇ℓ_noisy = ∇ℓ − s E_k Xᵀ
 *   factorization  Ȳ + s·E_k,  E_k ∈ R^{d_N x d_0}: ∇ℓ_noisy = ∇ℓ − s E_k
 *   sensing, completion  b + s·e_k, e_k ∈ R^m:    ∇ℓ_noisy = ∇ℓ − (s/m) Σ_i e_{k,i} A_i
 * (dln/loss.h's normalizations; E_k i.i.d. N(0, 1)). Each ∇ℓ is affine in the target, so the
 * end-to-end perturbation G_k = ∇ℓ − ∇ℓ_noisy does not depend on W and has mean 0 (a
 * perturbed X would add s²·W·E[FFᵀ] ≠ 0 to the mean). Per layer (002 Lemma 1 proof)
 *   D_{k,j} = −(∂φ_noisy/∂W_j − ∂φ/∂W_j) = W_{N:j+1}ᵀ G_k W_{j−1:1}ᵀ
 * (dln_net_backprop), so θ_{k+1} = θ_k − η(∇φ(θ_k) − D_k) is GD on the perturbed data. The
 * buffers are allocated once; draw does not allocate. The stream's state before E_k is kept
 * so that a checkpoint at step k resumes with E_k drawn again (dln_noisy_rewind). */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "dln/error.h"
#include "dln/loss.h"
#include "dln/net.h"
#include "dln/rng.h"
#include "dynamics/dynamics_internal.h"

enum { ND_FACT = 1, ND_REG, ND_MEAS };

struct dln_noisy_data {
  int kind;
  dln_net *net;
  dln_rng *rng;
  double s;
  const dln_mat *X;       /* regression: X (d_0 x n) */
  dln_measurements meas;  /* sensing, completion */
  int dn, d0;
  size_t ne;              /* entries of E_k */
  double *E, *G, *D, *own;
  uint32_t snap[DLN_RNG_STATE_WORDS], now[DLN_RNG_STATE_WORDS];
};

static int nd_kind(dln_loss *loss, dln_noisy_data *nd) {
  if (dln_loss_has(loss, DLN_LOSS_IDENTITY)) return ND_FACT;
  if (dln_loss_has(loss, DLN_LOSS_LSQ_DESIGN) && (nd->X = dln_loss_design(loss))) return ND_REG;
  if (dln_loss_has(loss, DLN_LOSS_MEASURED) && !dln_loss_measurements(loss, &nd->meas)) return ND_MEAS;
  return 0;
}

int dln_noisy_alloc(dln_noisy_data **out, dln_run_ctx *c) {
  *out = NULL;
  dln_noisy_data *nd = calloc(1, sizeof *nd);
  if (!nd) return dln_error(DLN_ENOMEM, "out of memory for the noisy_data disturbance");
  nd->kind = nd_kind(c->loss, nd);
  if (!nd->kind) {
    free(nd);
    return dln_error(DLN_EINVAL, "disturbance: noisy_data perturbs the targets of a regression, factorization, sensing or "
                     "completion loss; expected one of those, found loss %s", dln_loss_name(c->loss));
  }
  nd->net = c->net;
  nd->rng = c->opt->noise_rng;
  nd->s = c->opt->disturbance_scale;
  nd->dn = c->loss->rows;
  nd->d0 = c->loss->cols;
  size_t nw = (size_t)nd->dn * (size_t)nd->d0;
  nd->ne = nd->kind == ND_FACT ? nw : nd->kind == ND_REG ? (size_t)nd->dn * (size_t)nd->X->cols : (size_t)nd->meas.m;
  nd->E = malloc(nd->ne * sizeof(double) + 1);
  nd->G = malloc(nw * sizeof(double) + 1);
  nd->D = c->opt->noisy_D;
  if (!nd->D) nd->D = nd->own = malloc(c->net->nparams * sizeof(double) + 1);
  *out = nd;
  if (!nd->E || !nd->G || !nd->D) return dln_error(DLN_ENOMEM, "out of memory for the noisy_data disturbance");
  return DLN_OK;
}

void dln_noisy_free(dln_noisy_data *nd) {
  if (!nd) return;
  free(nd->E), free(nd->G), free(nd->own);
  free(nd);
}

const double *dln_noisy_D(const dln_noisy_data *nd) { return nd->D; }

/* E_k from the stream (its state before kept), G_k = ∇ℓ − ∇ℓ_noisy, D_k by backprop. */
int dln_noisy_draw(dln_noisy_data *nd, const double *theta) {
  int st = dln_rng_state_get(nd->rng, nd->snap, DLN_RNG_STATE_WORDS);
  if (st) return st;
  dln_rng_fill_gaussian(nd->rng, nd->E, nd->ne, 1.0);
  size_t nw = (size_t)nd->dn * (size_t)nd->d0;
  double s = nd->s;
  if (nd->kind == ND_FACT) {
    for (size_t i = 0; i < nw; ++i) nd->G[i] = s * nd->E[i];
  } else if (nd->kind == ND_REG) { /* G = s E Xᵀ */
    int n = nd->X->cols;
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, nd->dn, nd->d0, n, s, nd->E, nd->dn, nd->X->data, nd->d0, 0.0,
                nd->G, nd->dn);
  } else { /* G = (s/m) Σ e_i A_i */
    int m = nd->meas.m;
    if (nd->meas.A) {
      cblas_dgemv(CblasColMajor, CblasNoTrans, (int)nw, m, s / m, nd->meas.A, (int)nw, nd->E, 1, 0.0, nd->G, 1);
    } else {
      memset(nd->G, 0, nw * sizeof(double));
      for (int i = 0; i < m; ++i) nd->G[nd->meas.idx[i]] += s / m * nd->E[i];
    }
  }
  return dln_net_backprop(nd->net, theta, nd->G, nd->D);
}

/* Around a checkpoint at step k (E_k already drawn): rewind = 1 sets the stream back to its
 * state before E_k (what a resumed run must start from), rewind = 0 restores it. */
int dln_noisy_rewind(dln_noisy_data *nd, int rewind) {
  if (!rewind) return dln_rng_state_set(nd->rng, nd->now, DLN_RNG_STATE_WORDS);
  int st = dln_rng_state_get(nd->rng, nd->now, DLN_RNG_STATE_WORDS);
  return st ? st : dln_rng_state_set(nd->rng, nd->snap, DLN_RNG_STATE_WORDS);
}
