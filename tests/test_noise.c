/* White-noise disturbance (docs/disturbed.md): the SDE dθ = −∇φ dt + σ dB_t on every
 * weight, integrated by Euler–Maruyama with GD's step, θ_{k+1} = θ_k − η∇φ(θ_k) + σ√η ξ_k.
 * Tiny depth-2 factorization φ = ½‖W_2 W_1 − Ȳ‖²_F.
 *   - the library's run against an Euler–Maruyama loop written here (library gradient,
 *     ξ_k drawn from a copy of the same stream);
 *   - strong order: EM at h = 2^-4..2^-8 against a fine EM reference (h = 2^-12) driven by
 *     the same Brownian path (coarse increments = sums of the fine ones), 200 paths;
 *     additive noise: order 1 expected (Kloeden–Platen §10.3; EM = Milstein here);
 *   - checkpoints: a library run resumed from its 2nd checkpoint with the stream state
 *     restored, and `dln run --resume` after SIGTERM, bit for bit;
 *   - refusals: flow method, no stream;
 *   - the command line: scale 0 bit-identical to plain GD, same seed bit-identical,
 *     other stream different, a noise sweep bit-identical for 1 and 2 threads. */
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "dln/error.h"
#include "dln/loss.h"
#include "dln/mat.h"
#include "dln/net.h"
#include "dln/rng.h"
#include "dln/train.h"
#include "testutil.h"

enum { D0 = 3, D1 = 2, D2 = 2, NP = D1 * D0 + D2 * D1 };

typedef struct {
  dln_net *net;
  dln_loss *loss;
  double th0[NP];
} problem;

static void make(problem *p) {
  int widths[3] = {D0, D1, D2};
  assert_int_equal(dln_net_alloc(&p->net, 2, widths, 0), DLN_OK);
  assert_int_equal(p->net->nparams, (size_t)NP);
  dln_mat *Y = dln_mat_alloc(D2, D0);
  static const double y[D2 * D0] = {1.0, -0.5, 0.3, 0.8, -0.7, 0.2};
  memcpy(Y->data, y, sizeof y);
  assert_int_equal(dln_loss_factorization_alloc(&p->loss, Y), DLN_OK);
  dln_mat_free(Y);
  for (int i = 0; i < NP; ++i) p->th0[i] = 0.3 * sin(1.7 * i + 0.4);
}
static void unmake(problem *p) {
  dln_loss_free(p->loss);
  dln_net_free(p->net);
}

static dln_train_options noise_opts(double eta, double t_end, double scale, dln_rng *rng) {
  dln_train_options o;
  dln_train_default_options(&o);
  o.method = &dln_integrator_gd;
  o.eta = eta;
  o.t_end = t_end;
  o.nsamples = 2;
  o.disturbance = "noise";
  o.disturbance_scale = scale;
  o.noise_rng = rng;
  return o;
}

/* One EM step θ ← θ − h∇φ(θ) + dW·σ (dW already scaled by the caller). */
static void em_step(problem *p, double *th, double h, const double *dW, double sigma) {
  double g[NP];
  assert_int_equal(dln_net_grad(p->net, p->loss, th, NULL, g, NULL), DLN_OK);
  for (int i = 0; i < NP; ++i) th[i] = th[i] - h * g[i] + sigma * dW[i];
}

/* The library's noisy GD against the loop above with ξ_k from a copy of the stream. */
static void test_library_vs_hand(void **state) {
  (void)state;
  problem p;
  make(&p);
  const double eta = 0.01, sigma = 0.5;
  dln_rng *ra = dln_rng_alloc(7, 3), *rb = dln_rng_alloc(7, 3);
  dln_train_options o = noise_opts(eta, 1.0, sigma, ra);
  double th[NP], hand[NP], plain[NP], xi[NP];
  memcpy(th, p.th0, sizeof th);
  dln_train_result r;
  assert_int_equal(dln_train(p.net, p.loss, th, &o, NULL, NULL, &r), DLN_OK);
  assert_int_equal(r.steps, 100);
  memcpy(hand, p.th0, sizeof hand);
  memcpy(plain, p.th0, sizeof plain);
  double zero[NP] = {0};
  for (int k = 0; k < 100; ++k) {
    dln_rng_fill_gaussian(rb, xi, NP, 1.0);
    for (int i = 0; i < NP; ++i) xi[i] *= sqrt(eta);
    em_step(&p, hand, eta, xi, sigma);
    em_step(&p, plain, eta, zero, 0);
  }
  double d = tu_maxdiff(NP, th, hand), dp = tu_maxdiff(NP, th, plain);
  print_message("library vs hand EM: max diff %.3e; vs plain GD %.3e\n", d, dp);
  assert_true(d <= 1e-13);  /* same operations up to rounding order */
  assert_true(dp >= 1e-2);  /* the noise moved it: σ√T = 0.5 */
  dln_rng_free(ra);
  dln_rng_free(rb);
  unmake(&p);
}

/* Strong order of EM: E‖θ_h(T) − θ_ref(T)‖ over M paths, h = 2^-4..2^-8, reference
 * h_f = 2^-12 on the same Brownian path; least-squares slope of log E against log h. */
static void test_strong_order(void **state) {
  (void)state;
  problem p;
  make(&p);
  enum { NF = 4096, M = 200, L0 = 4, L1 = 8, NL = L1 - L0 + 1 };
  const double T = 1.0, sigma = 0.5, hf = T / NF;
  double *dW = malloc((size_t)NF * NP * sizeof *dW), err[NL] = {0};
  assert_non_null(dW);
  dln_rng *rng = dln_rng_alloc(11, 0);
  for (int m = 0; m < M; ++m) {
    dln_rng_fill_gaussian(rng, dW, (size_t)NF * NP, sqrt(hf)); /* fine Brownian increments */
    double ref[NP];
    memcpy(ref, p.th0, sizeof ref);
    for (int k = 0; k < NF; ++k) em_step(&p, ref, hf, dW + (size_t)k * NP, sigma);
    for (int l = L0; l <= L1; ++l) {
      int N = 1 << l, R = NF / N;
      double th[NP], inc[NP];
      memcpy(th, p.th0, sizeof th);
      for (int k = 0; k < N; ++k) {
        memset(inc, 0, sizeof inc);
        for (int j = 0; j < R; ++j)
          for (int i = 0; i < NP; ++i) inc[i] += dW[((size_t)k * R + j) * NP + i];
        em_step(&p, th, T / N, inc, sigma);
      }
      err[l - L0] += tu_diffnorm(NP, th, ref) / M;
    }
  }
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (int l = L0; l <= L1; ++l) {
    double x = log(T / (1 << l)), y = log(err[l - L0]);
    sx += x, sy += y, sxx += x * x, sxy += x * y;
    print_message("h = 2^-%d: E|error| = %.4e\n", l, err[l - L0]);
  }
  double order = (NL * sxy - sx * sy) / (NL * sxx - sx * sx);
  print_message("fitted strong order of Euler-Maruyama (additive noise): %.3f\n", order);
  assert_true(order >= 0.8 && order <= 1.2); /* expected 1 */
  dln_rng_free(rng);
  free(dW);
  unmake(&p);
}

/* Library checkpoints: keep the 2nd one with the stream's state (dln_rng_state_get), then
 * resume from it on a fresh stream set to that state: the final θ bit for bit. */
typedef struct keep {
  int seen;
  dln_rng *rng;
  dln_train_checkpoint cp;
  double x[NP];
  uint32_t words[DLN_RNG_STATE_WORDS];
} keep;
static int keep_cb(void *ctx, const dln_train_checkpoint *cp) {
  keep *k = ctx;
  if (++k->seen != 2) return 0;
  k->cp = *cp;
  memcpy(k->x, cp->x, sizeof k->x);
  k->cp.x = k->x;
  return dln_rng_state_get(k->rng, k->words, DLN_RNG_STATE_WORDS);
}

static void test_library_resume(void **state) {
  (void)state;
  problem p;
  make(&p);
  dln_rng *ra = dln_rng_alloc(5, 9), *rb = dln_rng_alloc(5, 9), *rc = dln_rng_alloc(1, 1);
  double full[NP], plain[NP], res[NP];
  dln_train_result r;
  dln_train_options o = noise_opts(0.01, 2.0, 0.4, rb);
  memcpy(plain, p.th0, sizeof plain);
  assert_int_equal(dln_train(p.net, p.loss, plain, &o, NULL, NULL, &r), DLN_OK); /* no checkpoints */
  keep k = {.rng = ra};
  o = noise_opts(0.01, 2.0, 0.4, ra);
  o.checkpoint_every = 40;
  o.checkpoint = keep_cb;
  o.checkpoint_ctx = &k;
  memcpy(full, p.th0, sizeof full);
  assert_int_equal(dln_train(p.net, p.loss, full, &o, NULL, NULL, &r), DLN_OK);
  assert_int_equal(k.seen, 4);
  assert_int_equal(k.cp.step, 80);
  assert_memory_equal(full, plain, sizeof full); /* checkpoints change nothing */
  assert_int_equal(dln_rng_state_set(rc, k.words, DLN_RNG_STATE_WORDS), DLN_OK);
  o = noise_opts(0.01, 2.0, 0.4, rc);
  o.resume = &k.cp;
  memcpy(res, p.th0, sizeof res);
  assert_int_equal(dln_train(p.net, p.loss, res, &o, NULL, NULL, &r), DLN_OK);
  assert_int_equal(r.steps, 200);
  assert_memory_equal(full, res, sizeof full);
  dln_rng_free(ra);
  dln_rng_free(rb);
  dln_rng_free(rc);
  unmake(&p);
}

static void test_refusals(void **state) {
  (void)state;
  problem p;
  make(&p);
  dln_rng *rng = dln_rng_alloc(1, 1);
  double th[NP];
  dln_train_result r;
  dln_train_options o = noise_opts(0.01, 0.1, 0.5, rng);
  o.method = &dln_integrator_flow;
  memcpy(th, p.th0, sizeof th);
  assert_int_equal(dln_train(p.net, p.loss, th, &o, NULL, NULL, &r), DLN_EINVAL);
  assert_non_null(strstr(dln_last_error(), "expected method gd, found flow"));
  o = noise_opts(0.01, 0.1, 0.5, NULL);
  assert_int_equal(dln_train(p.net, p.loss, th, &o, NULL, NULL, &r), DLN_EINVAL);
  assert_non_null(strstr(dln_last_error(), "noise_rng: expected a random stream"));
  dln_rng_free(rng);
  unmake(&p);
}

static void run_cli(const char *dir, const char *out, const char *const *extra) {
  const char *args[32] = {"run", "--quiet", "--plot=false", "--rows=2", "--cols=4", "--widths=4,3,2", "--t_end=1",
                          "--samples=11", "--method=gd", "--eta=0.01"};
  int n = 10;
  char o[64];
  snprintf(o, sizeof o, "--out=%s", out);
  args[n++] = o;
  for (int i = 0; extra[i]; ++i) args[n++] = extra[i];
  args[n] = NULL;
  assert_int_equal(tu_wait(tu_spawn(DLN_CLI, args, dir)), 0);
}

static void test_cli(void **state) {
  (void)state;
  const char *dir = tu_tmpdir(0);
  const char *plain[] = {NULL}, *zero[] = {"--disturbance=noise", "--disturbance_scale=0", NULL},
             *a[] = {"--disturbance=noise", "--disturbance_scale=0.3", NULL},
             *b[] = {"--disturbance=noise", "--disturbance_scale=0.3", "--stream=1", NULL};
  run_cli(dir, "plain", plain);
  run_cli(dir, "zero", zero);
  run_cli(dir, "a", a);
  run_cli(dir, "a2", a);
  run_cli(dir, "b", b);
  assert_true(tu_same_file(dir, "plain", "zero", "trajectory.csv"));
  assert_true(tu_same_file(dir, "a", "a2", "trajectory.csv"));
  assert_false(tu_same_file(dir, "a", "b", "trajectory.csv"));
  assert_false(tu_same_file(dir, "a", "plain", "trajectory.csv"));
  /* a noise sweep: 1 and 2 threads */
  tu_write_text(tu_path(dir, "spec.json"),
                "{\"rows\": 2, \"cols\": 3, \"width\": 2, \"method\": \"gd\", \"eta\": 0.01, \"t_end\": 0.5, \"plot\": false,\n"
                " \"disturbance\": \"noise\", \"disturbance_scale\": 0.3,\n"
                " \"sweep\": {\"disturbance_scale\": [0, 0.3], \"seed\": {\"from\": 1, \"count\": 3}}}\n");
  const char *s1[] = {"sweep", "spec.json", "--out", "s1", "--quiet", "--threads", "1", NULL};
  const char *s2[] = {"sweep", "spec.json", "--out", "s2", "--quiet", "--threads", "2", NULL};
  assert_int_equal(tu_wait(tu_spawn(DLN_CLI, s1, dir)), 0);
  assert_int_equal(tu_wait(tu_spawn(DLN_CLI, s2, dir)), 0);
  assert_true(tu_same_file(dir, "s1", "s2", "ensemble.csv"));
  tu_rmtree(dir);
}

/* The command line: SIGTERM after the first checkpoint (it checkpoints the stream state
 * at the interrupted step too), then --resume: trajectory.csv and the final weights
 * byte-identical to the uninterrupted noise run. */
static void test_cli_resume(void **state) {
  (void)state;
  const char *dir = tu_tmpdir(1);
  const char *opts[] = {"--method=gd", "--eta=1e-4", "--t_end=8", "--checkpoint_every=8000", "--samples=401",
                        "--disturbance=noise", "--disturbance_scale=0.3", "--plot=false", "--quiet", NULL};
  tu_cli_sigterm_resume(DLN_CLI, dir, opts);
  tu_rmtree(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_library_vs_hand),
      cmocka_unit_test(test_strong_order),
      cmocka_unit_test(test_library_resume),
      cmocka_unit_test(test_refusals),
      cmocka_unit_test(test_cli),
      cmocka_unit_test(test_cli_resume),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
