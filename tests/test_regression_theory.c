/* Min, Tarmoun, Vidal, Mallada (seed 003) against the library's gradient flow on an
 * under-determined regression (d_0 = D = 20 features > n = 8 samples, m = 3 outputs).
 *
 * Orientation (003 stores samples as rows and the network as V U^T): here samples are
 * the COLUMNS of X (D x n), W = W_2 W_1 with W_1 = U^T (h x D), W_2 = V (m x h). Then
 *   Σ_x = nonzero eigenvalues of X^T X (n x n),  r = rank X = n,
 *   Λ = U_1^T U_1 − V^T V = W_1 P W_1^T − W_2^T W_2 (003 eq. 9), P = X (X^T X)^{-1} X^T,
 *   c = [λ_r(Λ0)]_+ + [λ_m(−Λ0)]_+, λ_i the i-th largest,
 *   Theorem 1 (eq. 10):  L(t) − L* ≤ exp(−2 λ_r(Σ_x) c t) (L(0) − L*),
 *   min-norm solution W* = Y X^† = Y (X^T X)^{-1} X^T (003 eq. 11 transposed),
 *   eq. 14 in our orientation: W(∞) = W* + W_2(∞) W_1(0) (I − P)  (U_2 never moves).
 * Every truth (Σ_x, Λ, c, P, W*) is computed here with LAPACKE; the library supplies only
 * the flow (rtol 1e-12, atol 1e-14), the loss values along it (observer) and L*.
 *   (a) Theorem 1 at 101 sampled times for two imbalanced inits: h = 12 with W_1 large,
 *       W_2 small (c from λ_r(Λ0)), and h = 24 ≥ m + r with both terms of c positive;
 *       a negative control (λ_1(Σ_x) in place of λ_r(Σ_x)) must violate the bound.
 *   (b) The orthogonal invariant-set init (003 Prop. 1, eq. 15) converges to W* to 1e-8;
 *       a plain Gaussian init of the same scale converges in loss but ends far from W*,
 *       exactly at the offset eq. 14 predicts. */
#include <float.h>
#include <lapacke.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dln/error.h"
#include "dln/init.h"
#include "dln/loss.h"
#include "dln/mat.h"
#include "dln/net.h"
#include "dln/observe.h"
#include "dln/rng.h"
#include "dln/train.h"
#include "testutil.h"

enum { D = 20, NS = 8, M = 3 };

/* ------------------------------------------------------------------ helpers (plain-loop truths: testutil.c) */

/* The regression problem and its independently computed truths. */
typedef struct {
  int r;             /* rank of X */
  dln_mat *X, *Y;
  double *P;         /* D x D projector onto the column space of X */
  double *Wstar;     /* M x D min-norm solution Y X^† */
  double lstar;      /* ½‖Y (I − V_r V_r^T)‖² (003 §2.1: L* = ½‖(I − W W^T) Y‖², transposed) */
  double sx_r, sx_1; /* λ_r(Σ_x) (smallest nonzero) and λ_1(Σ_x) */
  dln_loss *loss;
} problem;

/* rank == NS: X Gaussian (full column rank); rank < NS: X of exactly that rank with
 * singular values in [0.8, 2]. */
static void problem_make(problem *pb, int rank) {
  memset(pb, 0, sizeof *pb);
  pb->r = rank;
  pb->X = dln_mat_alloc(D, NS);
  pb->Y = dln_mat_alloc(M, NS);
  /* entries of variance ≈ 1/n: Σ_x within ≈ [0.3, 7], so the flow is not stiff */
  if (rank == NS) {
    tu_fill_gauss((size_t)D * NS, pb->X->data, 1.0 / sqrt((double)NS));
  } else {
    /* X = Qa_r diag(s) Qb_r^T with random orthonormal Qa (D x D), Qb (n x n) and
     * singular values s_i spread over [0.8, 2] */
    double *Qa = tu_dalloc((size_t)D * D), *Qb = tu_dalloc((size_t)NS * NS);
    tu_rand_orth(D, Qa);
    tu_rand_orth(NS, Qb);
    for (int c = 0; c < NS; ++c)
      for (int i = 0; i < D; ++i) {
        long double acc = 0;
        for (int l = 0; l < rank; ++l) {
          double sl = 0.8 + 1.2 * l / (rank - 1);
          acc += (long double)Qa[i + (size_t)l * D] * sl * Qb[c + (size_t)l * NS];
        }
        pb->X->data[i + (size_t)c * D] = (double)acc;
      }
    free(Qa), free(Qb);
  }
  tu_fill_gauss((size_t)M * NS, pb->Y->data, 1.0);
  assert_int_equal(dln_loss_regression_alloc(&pb->loss, pb->X, pb->Y), DLN_OK);

  /* full SVD X = U S V^T (003 eq. 4 transposed): Σ_x = S_r², P = U_r U_r^T */
  double *a = tu_dalloc((size_t)D * NS), *sv = tu_dalloc(NS), *U = tu_dalloc((size_t)D * D),
         *VT = tu_dalloc((size_t)NS * NS), *sup = tu_dalloc(NS);
  memcpy(a, pb->X->data, (size_t)D * NS * sizeof(double));
  assert_int_equal(LAPACKE_dgesvd(LAPACK_COL_MAJOR, 'A', 'A', D, NS, a, D, sv, U, D, VT, NS, sup), 0);
  int r = rank;
  assert_true(sv[r - 1] > 1e-3 * sv[0]);                 /* rank ≥ r, well conditioned on its range */
  if (r < NS) assert_true(sv[r] < 1e-13 * sv[0]);        /* and exactly r */
  pb->sx_r = sv[r - 1] * sv[r - 1];
  pb->sx_1 = sv[0] * sv[0];
  pb->P = tu_dalloc((size_t)D * D);
  tu_mm(0, 1, D, D, r, U, U, pb->P); /* U_r U_r^T: the first r columns of U (leading dim D) */
  /* W* = Y V_r S_r^{-1} U_r^T and L* = ½‖Y − Y V_r V_r^T‖² */
  double *YV = tu_dalloc((size_t)M * r);
  for (int j = 0; j < r; ++j)
    for (int i = 0; i < M; ++i) {
      long double acc = 0;
      for (int l = 0; l < NS; ++l) acc += (long double)pb->Y->data[i + (size_t)l * M] * VT[j + (size_t)l * NS];
      YV[i + (size_t)j * M] = (double)acc;
    }
  pb->Wstar = tu_dalloc((size_t)M * D);
  for (int c = 0; c < D; ++c)
    for (int i = 0; i < M; ++i) {
      long double acc = 0;
      for (int l = 0; l < r; ++l) acc += (long double)YV[i + (size_t)l * M] / sv[l] * U[c + (size_t)l * D];
      pb->Wstar[i + (size_t)c * M] = (double)acc;
    }
  double ls = 0;
  for (int c = 0; c < NS; ++c)
    for (int i = 0; i < M; ++i) {
      long double acc = 0;
      for (int l = 0; l < r; ++l) acc += (long double)YV[i + (size_t)l * M] * VT[l + (size_t)c * NS];
      double e = pb->Y->data[i + (size_t)c * M] - (double)acc;
      ls += e * e;
    }
  pb->lstar = 0.5 * ls;
  if (rank == NS) {
    /* full column rank: also W* = Y (X^T X)^{-1} X^T by Cholesky (dposv) */
    double *G = tu_dalloc((size_t)NS * NS), *Z = tu_dalloc((size_t)NS * D), *W2 = tu_dalloc((size_t)M * D);
    tu_mm(1, 0, NS, NS, D, pb->X->data, pb->X->data, G);
    for (int i = 0; i < NS; ++i)
      for (int j = 0; j < D; ++j) Z[i + (size_t)j * NS] = pb->X->data[j + (size_t)i * D];
    assert_int_equal(LAPACKE_dposv(LAPACK_COL_MAJOR, 'U', NS, D, G, NS, Z, NS), 0);
    tu_mm(0, 0, M, D, NS, pb->Y->data, Z, W2);
    assert_true(tu_diffnorm((size_t)M * D, W2, pb->Wstar) <= 1e-12 * tu_fro((size_t)M * D, W2));
    memcpy(pb->Wstar, W2, (size_t)M * D * sizeof(double));
    free(G), free(Z), free(W2);
  }
  free(a), free(sv), free(U), free(VT), free(sup), free(YV);
}
static void problem_free(problem *pb) {
  dln_mat_free(pb->X);
  dln_mat_free(pb->Y);
  free(pb->P), free(pb->Wstar);
  dln_loss_free(pb->loss);
}

/* Λ = W_1 P W_1^T − W_2^T W_2 (h x h), 003 eq. 9 in our orientation. */
static void imbalance(const dln_net *net, const problem *pb, const double *th, double *L) {
  int h = net->widths[1];
  const double *W1 = th + net->offset[1], *W2 = th + net->offset[2];
  double *T = tu_dalloc((size_t)h * D), *B = tu_dalloc((size_t)h * h);
  tu_mm(0, 0, h, D, D, W1, pb->P, T);
  tu_mm(0, 1, h, h, D, T, W1, L);  /* W_1 P W_1^T */
  tu_mm(1, 0, h, h, M, W2, W2, B); /* W_2^T W_2 */
  for (size_t i = 0; i < (size_t)h * h; ++i) L[i] -= B[i];
  free(T), free(B);
}

/* c = [λ_r(Λ)]_+ + [λ_m(−Λ)]_+; also returns the two terms. λ_i(·) is undefined (taken
 * as 0) when h < r or h < m (003 §2.2). */
static double imbalance_c(const dln_net *net, const problem *pb, const double *th, double *lr, double *lm) {
  int h = net->widths[1], r = pb->r;
  double *L = tu_dalloc((size_t)h * h), *ev = tu_dalloc((size_t)h);
  imbalance(net, pb, th, L);
  tu_syev(h, L, ev, 0); /* ascending */
  *lr = h >= r ? ev[h - r] : 0.0;  /* r-th largest of Λ */
  *lm = h >= M ? -ev[M - 1] : 0.0; /* m-th largest of −Λ = −(m-th smallest of Λ) */
  free(L), free(ev);
  return fmax(*lr, 0.0) + fmax(*lm, 0.0);
}

static void run_flow(dln_net *net, dln_loss *loss, double *theta, double t_end, dln_observer *obs, dln_table *tab,
                     int nsamples) {
  dln_train_options o;
  dln_train_default_options(&o);
  o.method = &dln_integrator_flow;
  o.t_end = t_end;
  o.rtol = 1e-12;
  o.atol = 1e-14;
  o.nsamples = nsamples;
  tu_train(net, loss, theta, &o, obs, tab);
}

/* ------------------------------------------------------------------ (a) Theorem 1 */

static void check_theorem1(int rank, int h, double s1, double s2, int want_both_terms) {
  problem pb;
  problem_make(&pb, rank);
  int widths[3] = {D, h, M};
  dln_net *net = NULL;
  assert_int_equal(dln_net_alloc(&net, 2, widths, 0), DLN_OK);
  size_t np = net->nparams;
  double *th = tu_dalloc(np), *th0 = tu_dalloc(np);
  tu_fill_gauss((size_t)h * D, th0 + net->offset[1], s1); /* W_1 = U^T */
  tu_fill_gauss((size_t)M * h, th0 + net->offset[2], s2); /* W_2 = V */
  memcpy(th, th0, np * sizeof(double));
  double lr, lm, c = imbalance_c(net, &pb, th0, &lr, &lm);
  print_message("theorem 1, r=%d, h=%d (s1=%g, s2=%g): lambda_r(Sigma_x)=%.4g, lambda_r(Lambda0)=%.4g, "
                "lambda_m(-Lambda0)=%.4g, c=%.4g, rate 2*lambda_r*c=%.4g, L*=%.4g\n",
                rank, h, s1, s2, pb.sx_r, lr, lm, c, 2 * pb.sx_r * c, pb.lstar);
  assert_true(c > 0.05); /* the theorem is non-vacuous */
  if (want_both_terms) {
    /* h ≥ m + r: then c = λ_r(Λ0) + λ_m(−Λ0) (Theorem 1, "moreover"); both positive here */
    assert_true(h >= M + rank);
    assert_true(lr > 0 && lm > 0);
  }

  dln_observer *obs = NULL;
  assert_int_equal(dln_observer_alloc(&obs, net, pb.loss, th0, DLN_OBS_LOSS), DLN_OK);
  int nc = dln_observer_ncols(obs);
  const char *names[16];
  assert_true(nc <= 16);
  for (int i = 0; i < nc; ++i) names[i] = dln_observer_colname(obs, i);
  /* run until the bound has fallen to e^{-18} ≈ 1.5e-8 of L(0) − L*: long enough to test
   * the rate, short enough that the bound stays far above the round-off of L − L* */
  const double t_end = 18.0 / (2 * pb.sx_r * c);
  const int ns = 101;
  dln_table *tab = NULL;
  assert_int_equal(dln_table_alloc(&tab, nc, names, (size_t)ns + 1), DLN_OK);
  run_flow(net, pb.loss, th, t_end, obs, tab, ns);
  int ct = dln_table_col(tab, "t"), cl = dln_table_col(tab, "loss");
  assert_true(ct >= 0 && cl >= 0);
  assert_int_equal((int)tab->nrows, ns);

  double L0 = dln_table_row(tab, 0)[cl], Ls = pb.loss->lstar;
  /* L* from the library equals this file's ½‖Y (I − V_r V_r^T)‖² (0 when r = n) and
   * ½‖W* X − Y‖² with this file's W* */
  {
    double *R = tu_dalloc((size_t)M * NS);
    tu_mm(0, 0, M, NS, D, pb.Wstar, pb.X->data, R);
    double s = 0;
    for (size_t i = 0; i < (size_t)M * NS; ++i) s += (R[i] - pb.Y->data[i]) * (R[i] - pb.Y->data[i]);
    assert_close(Ls, pb.lstar, 1e-12, 1e-14);
    assert_close(0.5 * s, pb.lstar, 1e-12, 1e-14);
    if (rank < NS) assert_true(pb.lstar > 0.1); /* a residual the loss cannot remove */
    free(R);
  }
  double gap0 = L0 - Ls;
  assert_true(gap0 > 0.1);
  double worst = 0, max_wrong = 0, last_gap = gap0;
  for (size_t i = 1; i < tab->nrows; ++i) { /* row 0 is t = 0, where the bound is an equality */
    const double *row = dln_table_row(tab, i);
    double t = row[ct], gap = row[cl] - Ls;
    double bound = exp(-2 * pb.sx_r * c * t) * gap0;
    /* Slack: the loss along the flow is accurate to ~1e-12 relative (rtol 1e-12) and L*
     * to round-off; the bound stays ≥ 1.5e-8·(L(0) − L*) over the run, so a relative
     * slack of 1e-9 plus 1e-12·L(0) absolute covers both without weakening the theorem. */
    assert_true(gap <= bound * (1 + 1e-9) + 1e-12 * L0);
    if (gap / bound > worst) worst = gap / bound;
    /* negative control: with λ_1(Σ_x) in place of λ_r(Σ_x) the bound is violated */
    double wrong = exp(-2 * pb.sx_1 * c * t) * gap0;
    if (gap / wrong > max_wrong) max_wrong = gap / wrong;
    last_gap = gap;
  }
  print_message("theorem 1, r=%d, h=%d: max over t>0 of (L-L*)/bound = %.4g; final gap %.3g (bound %.3g); "
                "control (lambda_1 for lambda_r) max ratio %.3g\n",
                rank, h, worst, last_gap, exp(-2 * pb.sx_r * c * t_end) * gap0, max_wrong);
  /* the negative control violates the same inequality clearly (ratio > 1.1, i.e. by 1e8
   * times the slack), so the comparison can fail */
  assert_true(max_wrong > 1.1);
  /* 003 Claim (§2.2): Λ is time-invariant along the flow. Λ is quadratic in θ, whose
   * global error is ~rtol = 1e-12 (measured drift ~3e-15): assert 1e-10 relative */
  {
    size_t hh = (size_t)h * h;
    double *L0m = tu_dalloc(hh), *L1m = tu_dalloc(hh);
    imbalance(net, &pb, th0, L0m);
    imbalance(net, &pb, th, L1m);
    double dr = tu_diffnorm(hh, L1m, L0m) / fmax(1.0, tu_fro(hh, L0m));
    print_message("theorem 1, r=%d, h=%d: drift of Lambda %.3g\n", rank, h, dr);
    assert_true(dr <= 1e-10);
    free(L0m), free(L1m);
  }
  dln_table_free(tab);
  dln_observer_free(obs);
  free(th), free(th0);
  dln_net_free(net);
  problem_free(&pb);
}

/* rank-deficient X (r = 6 < n = 8, so L* > 0), h = 12, W_1 large and W_2 small:
 * c comes from λ_r(Λ0) = λ_r(W_1 P W_1^T − W_2^T W_2) */
static void test_theorem1_large_w1(void **state) {
  (void)state;
  check_theorem1(6, 12, 1.0, 0.05, 0);
}
/* full-rank X (r = n = 8), h = 24 ≥ m + r, equal scales: random rows of U_1 and V are
 * misaligned, so both λ_r(Λ0) and λ_m(−Λ0) are positive */
static void test_theorem1_wide(void **state) {
  (void)state;
  check_theorem1(NS, 24, 1.0, 1.0, 1);
}

/* ------------------------------------------------------------------ (b) min-norm solution */

static void test_minnorm(void **state) {
  (void)state;
  problem pb;
  problem_make(&pb, NS);
  /* the library's W* equals this file's Y (X^T X)^{-1} X^T */
  double wn = tu_fro((size_t)M * D, pb.Wstar);
  double dw = tu_diffnorm((size_t)M * D, pb.loss->wstar, pb.Wstar);
  print_message("min-norm: ||loss->wstar - Y (X^T X)^{-1} X^T||_F = %.3g (||W*|| = %.3g)\n", dw, wn);
  assert_true(dw <= 1e-12 * wn); /* two well-conditioned (cond(X) ≈ 5) solves: round-off */

  const int h = 24;
  const double sigma = 0.5, t_end = 40.0;
  int widths[3] = {D, h, M};
  dln_net *net = NULL;
  assert_int_equal(dln_net_alloc(&net, 2, widths, 0), DLN_OK);
  size_t np = net->nparams;
  double *th = tu_dalloc(np), *th0 = tu_dalloc(np), *W = tu_dalloc((size_t)M * D), *A = tu_dalloc((size_t)h * D),
         *IP = tu_dalloc((size_t)D * D), *off = tu_dalloc((size_t)M * D);
  for (int j = 0; j < D; ++j)
    for (int i = 0; i < D; ++i) IP[i + (size_t)j * D] = (i == j) - pb.P[i + (size_t)j * D];
  dln_rng *rng = dln_rng_alloc(2021, 7);
  assert_non_null(rng);

  /* orthogonal invariant-set init (eq. 15): V U_2^T = 0 and U_1 U_2^T = 0, i.e. here
   * W_2 (W_1 (I−P))^T = 0 and W_1 P (W_1 (I−P))^T = 0 */
  int st = dln_init_orthogonal_minnorm(net, th0, pb.X, rng, sigma);
  if (st) print_error("dln_init_orthogonal_minnorm: %s\n", dln_last_error());
  assert_int_equal(st, DLN_OK);
  {
    const double *W1 = th0 + net->offset[1], *W2 = th0 + net->offset[2];
    /* With U = W_1^T (D x h), U_1 = Φ_1^T U, U_2 = Φ_2^T U and Φ orthonormal:
     * ‖V U_2^T‖ = ‖W_2 W_1 Φ_2‖ = ‖W_2 W_1 (I − P)‖ and
     * ‖U_1 U_2^T‖ = ‖Φ_1^T W_1^T W_1 Φ_2‖ = ‖(W_1 P)^T (W_1 (I − P))‖. */
    double *U2t = tu_dalloc((size_t)h * D), *U1t = tu_dalloc((size_t)h * D), *o1 = tu_dalloc((size_t)M * D),
           *o2 = tu_dalloc((size_t)D * D);
    tu_mm(0, 0, h, D, D, W1, IP, U2t);   /* W_1 (I − P) = (Φ_2 U_2)^T */
    tu_mm(0, 0, h, D, D, W1, pb.P, U1t); /* W_1 P = (Φ_1 U_1)^T */
    tu_mm(0, 0, M, D, h, W2, U2t, o1);   /* ~ V U_2^T */
    tu_mm(1, 0, D, D, h, U1t, U2t, o2);  /* ~ U_1 U_2^T */
    print_message("min-norm init: |V U2^T| = %.3g, |U1 U2^T| = %.3g, |U2| = %.3g\n", tu_fro((size_t)M * D, o1),
                  tu_fro((size_t)D * D, o2), tu_fro((size_t)h * D, U2t));
    /* exact zeros up to round-off of O(1) quantities */
    assert_true(tu_fro((size_t)M * D, o1) <= 1e-13);
    assert_true(tu_fro((size_t)D * D, o2) <= 1e-13);
    assert_true(tu_fro((size_t)h * D, U2t) > 0.5); /* U_2 ≠ 0: the condition is not vacuous */
    free(U2t), free(U1t), free(o1), free(o2);
  }
  double lr, lm, c = imbalance_c(net, &pb, th0, &lr, &lm);
  print_message("min-norm init: c = %.4g (lambda_r(Lambda0) = %.4g, lambda_m(-Lambda0) = %.4g)\n", c, lr, lm);
  memcpy(th, th0, np * sizeof(double));
  run_flow(net, pb.loss, th, t_end, NULL, NULL, 2);
  dln_net_product(net, th, W);
  double d_orth = tu_diffnorm((size_t)M * D, W, pb.Wstar);
  double gap_orth;
  dln_net_grad(net, pb.loss, th, &gap_orth, NULL, NULL);
  gap_orth -= pb.loss->lstar;

  /* contrast: plain Gaussian init of the same scale */
  dln_rng_free(rng);
  rng = dln_rng_alloc(2021, 8);
  assert_int_equal(dln_init_gaussian(net, th0, rng, sigma, NULL), DLN_OK);
  memcpy(th, th0, np * sizeof(double));
  run_flow(net, pb.loss, th, t_end, NULL, NULL, 2);
  dln_net_product(net, th, W);
  double d_gauss = tu_diffnorm((size_t)M * D, W, pb.Wstar);
  double gap_gauss;
  dln_net_grad(net, pb.loss, th, &gap_gauss, NULL, NULL);
  gap_gauss -= pb.loss->lstar;
  /* eq. 14: W(∞) = W* + W_2(∞) W_1(0)(I − P) */
  tu_mm(0, 0, h, D, D, th0 + net->offset[1], IP, A);
  tu_mm(0, 0, M, D, h, th + net->offset[2], A, off);
  for (size_t i = 0; i < (size_t)M * D; ++i) off[i] += pb.Wstar[i];
  double d_eq14 = tu_diffnorm((size_t)M * D, W, off);
  /* and U_2 never moves: W_1(t)(I − P) = W_1(0)(I − P) */
  double *A1 = tu_dalloc((size_t)h * D);
  tu_mm(0, 0, h, D, D, th + net->offset[1], IP, A1);
  double d_u2 = tu_diffnorm((size_t)h * D, A1, A);

  print_message("min-norm: orthogonal init ||W - W*||_F = %.3g (loss gap %.3g); gaussian init ||W - W*||_F = %.3g "
                "(loss gap %.3g), ||W - eq.14|| = %.3g, U_2 drift %.3g\n",
                d_orth, gap_orth, d_gauss, gap_gauss, d_eq14, d_u2);
  /* converged: loss gap at round-off level of L (≈ O(1)) for both inits */
  assert_true(gap_orth <= 1e-12);
  assert_true(gap_gauss <= 1e-12);
  /* the invariant-set init reaches the min-norm solution (Prop. 1) */
  assert_true(d_orth <= 1e-8);
  /* the Gaussian init does not: it keeps the Φ_2 U_2(0) V(∞)^T term of eq. 14 */
  assert_true(d_gauss > 1e-3);
  assert_true(d_eq14 <= 1e-8);
  assert_true(d_u2 <= 1e-12 * tu_fro((size_t)h * D, A));
  free(A1);
  dln_rng_free(rng);
  free(th), free(th0), free(W), free(A), free(IP), free(off);
  dln_net_free(net);
  problem_free(&pb);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_theorem1_large_w1),
      cmocka_unit_test(test_theorem1_wide),
      cmocka_unit_test(test_minnorm),
  };
  tu_seed(0xD1B54A32D192ED03ull);
  return cmocka_run_group_tests(tests, NULL, NULL);
}
