/* The noisy_data disturbance (docs/disturbed.md): GD whose gradient comes from targets
 * perturbed afresh at every step, Y + s·E_k (regression), Ȳ + s·E_k (factorization),
 * b + s·e_k (sensing, completion), E_k ~ N(0, 1) from the run's stream.
 *   - the library's run against a GD loop written here that builds the loss of the perturbed
 *     data itself (dln_loss_*_alloc on Y + sE, dln_net_grad), E_k from a copy of the stream;
 *   - moments at a (numerically) frozen θ (η = 1e-12), depth-2 regression, from D_k that the run
 *     leaves in noisy_D at every sample: E[D_k] = 0 and, per layer, E‖D_1‖² = s²‖W_2‖²‖X‖²,
 *     E‖D_2‖² = s²·d_2·‖W_1X‖² (E‖AEB‖² = ‖A‖²‖B‖² for i.i.d. N(0, 1) E), within 5 standard
 *     errors; Ċ_1 = 0 for D_k (a gradient of a loss of W: 002 Lemma 1) to 1e-12 relative;
 *   - s → 0: |L_s(T) − L_0(T)| shrinks with s;
 *   - a library run resumed from its 2nd periodic checkpoint, bit for bit;
 *   - refusals: flow method, logistic loss, no stream;
 *   - the command line: scale 0 = plain GD byte for byte, same seed identical, other stream
 *     different, a sweep identical for --threads 1 and 2 whose `rerun` lines repeat each run
 *     byte for byte, SIGTERM + --resume byte-identical. */
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

enum { D0 = 3, D1 = 2, D2 = 2, NS = 5, NP = D1 * D0 + D2 * D1, MS = 4 };
enum { K_REG, K_FACT, K_SENS, K_COMP };
static const int rr[MS] = {0, 1, 1, 0}, cc[MS] = {0, 2, 0, 1}; /* completion's entries */

typedef struct {
  dln_net *net;
  dln_loss *loss;
  dln_mat *X, *Y; /* regression data, or Y = the factorization target */
  double A[MS * D2 * D0], b[MS];
  double th0[NP];
} problem;

static void make(problem *p, int kind) {
  int widths[3] = {D0, D1, D2};
  assert_int_equal(dln_net_alloc(&p->net, 2, widths, 0), DLN_OK);
  p->X = dln_mat_alloc(D0, NS);
  p->Y = dln_mat_alloc(D2, kind == K_REG ? NS : D0);
  for (int i = 0; i < D0 * NS; ++i) p->X->data[i] = sin(0.9 * i + 0.1);
  for (int i = 0; i < p->Y->rows * p->Y->cols; ++i) p->Y->data[i] = cos(1.3 * i);
  for (int i = 0; i < MS * D2 * D0; ++i) p->A[i] = sin(2.1 * i + 0.3);
  for (int i = 0; i < MS; ++i) p->b[i] = 0.5 - 0.2 * i;
  if (kind == K_REG) assert_int_equal(dln_loss_regression_alloc(&p->loss, p->X, p->Y), DLN_OK);
  if (kind == K_FACT) assert_int_equal(dln_loss_factorization_alloc(&p->loss, p->Y), DLN_OK);
  if (kind == K_SENS) assert_int_equal(dln_loss_sensing_alloc(&p->loss, D2, D0, MS, p->A, p->b), DLN_OK);
  if (kind == K_COMP) assert_int_equal(dln_loss_completion_alloc(&p->loss, D2, D0, MS, rr, cc, p->b), DLN_OK);
  for (int i = 0; i < NP; ++i) p->th0[i] = 0.4 * sin(1.7 * i + 0.4);
}
static void unmake(problem *p) {
  dln_loss_free(p->loss);
  dln_net_free(p->net);
  dln_mat_free(p->X);
  dln_mat_free(p->Y);
}

static dln_train_options nd_opts(double eta, double t_end, double scale, dln_rng *rng) {
  dln_train_options o;
  dln_train_default_options(&o);
  o.method = &dln_integrator_gd;
  o.eta = eta;
  o.t_end = t_end;
  o.nsamples = 2;
  o.disturbance = "noisy_data";
  o.disturbance_scale = scale;
  o.noise_rng = rng;
  return o;
}

/* ∇φ of the perturbed data at th: the loss is built from Y + sE (b + se) here. */
static void noisy_grad(problem *p, int kind, const double *th, double s, dln_rng *rng, double *g) {
  dln_loss *l = NULL;
  if (kind == K_SENS || kind == K_COMP) {
    double e[MS], bb[MS];
    dln_rng_fill_gaussian(rng, e, MS, 1.0);
    for (int i = 0; i < MS; ++i) bb[i] = p->b[i] + s * e[i];
    if (kind == K_SENS) assert_int_equal(dln_loss_sensing_alloc(&l, D2, D0, MS, p->A, bb), DLN_OK);
    else assert_int_equal(dln_loss_completion_alloc(&l, D2, D0, MS, rr, cc, bb), DLN_OK);
  } else {
    dln_mat *Yn = dln_mat_dup(p->Y);
    size_t n = (size_t)Yn->rows * (size_t)Yn->cols;
    double *e = malloc(n * sizeof *e);
    dln_rng_fill_gaussian(rng, e, n, 1.0);
    for (size_t i = 0; i < n; ++i) Yn->data[i] += s * e[i];
    free(e);
    if (kind == K_REG) assert_int_equal(dln_loss_regression_alloc(&l, p->X, Yn), DLN_OK);
    else assert_int_equal(dln_loss_factorization_alloc(&l, Yn), DLN_OK);
    dln_mat_free(Yn);
  }
  assert_int_equal(dln_net_grad(p->net, l, th, NULL, g, NULL), DLN_OK);
  dln_loss_free(l);
}

/* The library against GD on data perturbed by the test, for each kind of target. */
static void test_library_vs_hand(void **state) {
  (void)state;
  static const char *names[] = {"regression", "factorization", "sensing", "completion"};
  for (int kind = K_REG; kind <= K_COMP; ++kind) {
    problem p;
    make(&p, kind);
    const double eta = 0.01, s = 0.5;
    dln_rng *ra = dln_rng_alloc(7, 3), *rb = dln_rng_alloc(7, 3);
    dln_train_options o = nd_opts(eta, 0.5, s, ra);
    double th[NP], hand[NP], plain[NP], g[NP];
    memcpy(th, p.th0, sizeof th);
    dln_train_result r;
    assert_int_equal(dln_train(p.net, p.loss, th, &o, NULL, NULL, &r), DLN_OK);
    assert_int_equal(r.steps, 50);
    memcpy(hand, p.th0, sizeof hand);
    memcpy(plain, p.th0, sizeof plain);
    for (int k = 0; k < 50; ++k) {
      noisy_grad(&p, kind, hand, s, rb, g);
      for (int i = 0; i < NP; ++i) hand[i] -= eta * g[i];
      assert_int_equal(dln_net_grad(p.net, p.loss, plain, NULL, g, NULL), DLN_OK);
      for (int i = 0; i < NP; ++i) plain[i] -= eta * g[i];
    }
    double d = tu_maxdiff(NP, th, hand), dp = tu_maxdiff(NP, th, plain);
    print_message("%s: library vs GD on perturbed data: max diff %.3e; vs plain GD %.3e\n", names[kind], d, dp);
    assert_true(d <= 1e-13); /* the same GD, D_k by linearity instead of the perturbed loss: rounding */
    assert_true(dp >= 1e-3); /* the perturbation moved it */
    dln_rng_free(ra);
    dln_rng_free(rb);
    unmake(&p);
  }
}

/* Moments of D_k collected by the sample callback from noisy_D. */
enum { KM = 20000 };
typedef struct {
  const double *D;
  const dln_net *net;
  double sum[NP], sq[NP];
  double n1, n1sq, n2, n2sq, rate_rel;
  long count;
} moments;

static int on_sample(void *ctx, double t, long step, const double *x, const dln_net *net) {
  (void)t, (void)step;
  moments *m = ctx;
  const double *D = m->D;
  double a = 0, b = 0;
  for (int i = 0; i < NP; ++i) m->sum[i] += D[i], m->sq[i] += D[i] * D[i];
  for (int i = 0; i < D1 * D0; ++i) a += D[i] * D[i];
  for (int i = D1 * D0; i < NP; ++i) b += D[i] * D[i];
  m->n1 += a, m->n1sq += a * a, m->n2 += b, m->n2sq += b * b;
  /* Ċ_1 = W_2ᵀD_2 + D_2ᵀW_2 − D_1W_1ᵀ − W_1D_1ᵀ (000 eq. 21 layer-wise) must vanish */
  const double *W1 = x + net->offset[1], *W2 = x + net->offset[2], *E1 = D + net->offset[1], *E2 = D + net->offset[2];
  double r2 = 0;
  for (int i = 0; i < D1; ++i)
    for (int j = 0; j < D1; ++j) {
      double v = 0;
      for (int k = 0; k < D2; ++k) v += W2[k + D2 * i] * E2[k + D2 * j] + E2[k + D2 * i] * W2[k + D2 * j];
      for (int k = 0; k < D0; ++k) v -= E1[i + D1 * k] * W1[j + D1 * k] + W1[i + D1 * k] * E1[j + D1 * k];
      r2 += v * v;
    }
  double rel = sqrt(r2) / (tu_fro(NP, x) * sqrt(a + b) + 1e-300);
  if (rel > m->rate_rel) m->rate_rel = rel;
  m->count++;
  return 0;
}

static void test_moments(void **state) {
  (void)state;
  problem p;
  make(&p, K_REG);
  const double s = 0.7, eta = 1e-12;
  dln_rng *rng = dln_rng_alloc(3, 1);
  double D[NP], th[NP];
  moments m = {.D = D, .net = p.net};
  dln_train_options o = nd_opts(eta, KM * eta, s, rng);
  o.noisy_D = D;
  o.nsamples = KM + 1; /* a sample (D_k) at every step */
  o.on_sample = on_sample;
  o.on_sample_ctx = &m;
  memcpy(th, p.th0, sizeof th);
  dln_train_result r;
  assert_int_equal(dln_train(p.net, p.loss, th, &o, NULL, NULL, &r), DLN_OK);
  assert_true(m.count >= KM);
  double K = (double)m.count;
  /* E[D_k] = 0: each entry within 5 standard errors */
  double worst = 0;
  for (int i = 0; i < NP; ++i) {
    double mean = m.sum[i] / K, sd = sqrt(m.sq[i] / K - mean * mean);
    double z = fabs(mean) / (sd / sqrt(K));
    worst = z > worst ? z : worst;
  }
  /* closed forms at θ_0 (θ moves by ~1e-8 over the run) */
  const double *W1 = p.th0 + p.net->offset[1], *W2 = p.th0 + p.net->offset[2];
  double W1X[D1 * NS];
  tu_mm(0, 0, D1, NS, D0, W1, p.X->data, W1X);
  double X2 = pow(tu_fro(D0 * NS, p.X->data), 2);
  double e1 = s * s * pow(tu_fro(D2 * D1, W2), 2) * X2, e2 = s * s * D2 * pow(tu_fro(D1 * NS, W1X), 2);
  double m1 = m.n1 / K, m2 = m.n2 / K, se1 = sqrt((m.n1sq / K - m1 * m1) / K), se2 = sqrt((m.n2sq / K - m2 * m2) / K);
  print_message("E[D]=0: largest |mean|/stderr %.2f over %d entries (K = %.0f)\n", worst, NP, K);
  print_message("E|D_1|^2: measured %.6f, closed form %.6f (%.2f stderr); E|D_2|^2: %.6f vs %.6f (%.2f stderr)\n", m1, e1,
                fabs(m1 - e1) / se1, m2, e2, fabs(m2 - e2) / se2);
  print_message("|dC_1/dt| / (|theta||D|) at most %.2e\n", m.rate_rel);
  assert_true(worst <= 5.0);
  assert_true(fabs(m1 - e1) <= 5 * se1);
  assert_true(fabs(m2 - e2) <= 5 * se2);
  assert_true(se1 <= 0.02 * e1 && se2 <= 0.02 * e2); /* the test resolves 2 % */
  assert_true(m.rate_rel <= 1e-12);
  dln_rng_free(rng);
  unmake(&p);
}

/* s → 0: the final loss tends to plain GD's. */
static void test_small_scale(void **state) {
  (void)state;
  problem p;
  make(&p, K_REG);
  double th[NP], L0 = 0, prev = INFINITY;
  const double scales[] = {0, 1e-1, 1e-2, 1e-3, 1e-4};
  for (int i = 0; i < 5; ++i) {
    dln_rng *rng = dln_rng_alloc(5, 0);
    dln_train_options o = nd_opts(0.01, 2.0, scales[i], rng);
    memcpy(th, p.th0, sizeof th);
    dln_train_result r;
    assert_int_equal(dln_train(p.net, p.loss, th, &o, NULL, NULL, &r), DLN_OK);
    if (i == 0) L0 = r.loss;
    double d = fabs(r.loss - L0);
    print_message("s = %g: final loss %.12f, |L_s - L_0| = %.3e\n", scales[i], r.loss, d);
    if (i > 0) {
      assert_true(d < prev / 5); /* O(s) at least */
      assert_true(d <= 10 * scales[i]);
      prev = d;
    }
    dln_rng_free(rng);
  }
  unmake(&p);
}

/* Periodic library checkpoints: keep the 2nd one with the stream's state, resume from it on
 * a fresh stream set to that state: the final θ bit for bit (E_k of the checkpointed step is
 * drawn again, so the state saved must be the one before E_k). */
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
  make(&p, K_REG);
  dln_rng *ra = dln_rng_alloc(5, 9), *rb = dln_rng_alloc(5, 9), *rc = dln_rng_alloc(1, 1);
  double full[NP], plain[NP], res[NP];
  dln_train_result r;
  dln_train_options o = nd_opts(0.01, 2.0, 0.4, rb);
  memcpy(plain, p.th0, sizeof plain);
  assert_int_equal(dln_train(p.net, p.loss, plain, &o, NULL, NULL, &r), DLN_OK); /* no checkpoints */
  keep k = {.rng = ra};
  o = nd_opts(0.01, 2.0, 0.4, ra);
  o.checkpoint_every = 40;
  o.checkpoint = keep_cb;
  o.checkpoint_ctx = &k;
  memcpy(full, p.th0, sizeof full);
  assert_int_equal(dln_train(p.net, p.loss, full, &o, NULL, NULL, &r), DLN_OK);
  assert_int_equal(k.seen, 4);
  assert_int_equal(k.cp.step, 80);
  assert_memory_equal(full, plain, sizeof full); /* checkpoints change nothing */
  assert_int_equal(dln_rng_state_set(rc, k.words, DLN_RNG_STATE_WORDS), DLN_OK);
  o = nd_opts(0.01, 2.0, 0.4, rc);
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
  make(&p, K_REG);
  double th[NP];
  memcpy(th, p.th0, sizeof th);
  dln_rng *rng = dln_rng_alloc(1, 0);
  dln_train_result r;
  dln_train_options o = nd_opts(0.01, 0.1, 0.5, rng);
  o.method = &dln_integrator_flow;
  assert_int_equal(dln_train(p.net, p.loss, th, &o, NULL, NULL, &r), DLN_EINVAL);
  assert_non_null(strstr(dln_last_error(), "noisy_data perturbs the data at every GD step; expected method gd, found flow"));
  o = nd_opts(0.01, 0.1, 0.5, NULL);
  assert_int_equal(dln_train(p.net, p.loss, th, &o, NULL, NULL, &r), DLN_EINVAL);
  assert_non_null(strstr(dln_last_error(), "noise_rng: expected a random stream for disturbance noisy_data"));
  /* a classification loss has no target to perturb */
  dln_net *n1 = NULL;
  int w[2] = {D0, 1};
  assert_int_equal(dln_net_alloc(&n1, 1, w, 0), DLN_OK);
  dln_mat *y = dln_mat_alloc(1, NS);
  for (int i = 0; i < NS; ++i) y->data[i] = i % 2 ? 1 : -1;
  dln_loss *lg = NULL;
  assert_int_equal(dln_loss_logistic_alloc(&lg, p.X, y), DLN_OK);
  double t1[D0] = {0.1, 0.2, 0.3};
  o = nd_opts(0.01, 0.1, 0.5, rng);
  assert_int_equal(dln_train(n1, lg, t1, &o, NULL, NULL, &r), DLN_EINVAL);
  assert_non_null(strstr(dln_last_error(), "expected one of those, found loss logistic"));
  dln_loss_free(lg);
  dln_mat_free(y);
  dln_net_free(n1);
  dln_rng_free(rng);
  unmake(&p);
}

/* ------------------------------------------------------------ the command line */
static void run_cli(const char *dir, const char *out, const char *const *extra) {
  const char *args[32] = {"run", "--quiet", "--plot=false", "--task=regression", "--rows=2", "--cols=4",
                          "--widths=4,3,2", "--t_end=1", "--samples=11", "--method=gd", "--eta=0.01"};
  int n = 11;
  char o[64];
  snprintf(o, sizeof o, "--out=%s", out);
  args[n++] = o;
  for (int i = 0; extra[i]; ++i) args[n++] = extra[i];
  args[n] = NULL;
  assert_int_equal(tu_wait(tu_spawn(DLN_CLI, args, dir)), 0);
}

/* Field i of a CSV line (no quoting in dln's tables) into out. */
static void field(const char *line, int i, char *out, size_t len) {
  for (; i > 0; --i) line = strchr(line, ',') + 1;
  size_t n = strcspn(line, ",\n");
  snprintf(out, len, "%.*s", (int)(n < len ? n : len - 1), line);
}
static int nfields(const char *line) {
  int n = 1;
  for (; *line && *line != '\n'; ++line) n += *line == ',';
  return n;
}
static int col_of(const char *hdr, const char *name) {
  char f[64];
  for (int i = 0, n = nfields(hdr); i < n; ++i) {
    field(hdr, i, f, sizeof f);
    if (!strcmp(f, name)) return i;
  }
  return -1;
}

/* Run k's rows of ensemble.csv against trajectory.csv, column by column (the sweep adds
 * run, seed, stream and columns a run reading its data from files has not, e.g. dist_true):
 * every value of the rerun's table, text for text. */
static void check_rerun(const char *dir, const char *csv, int k, const char *traj) {
  char *e = tu_slurp(tu_path(dir, csv)), *t = tu_slurp(tu_path(dir, traj));
  assert_non_null(e);
  assert_non_null(t);
  int nc = nfields(t), map[64], rows = 0;
  assert_true(nc <= 64);
  for (int c = 0; c < nc; ++c) {
    char name[64];
    field(t, c, name, sizeof name);
    map[c] = col_of(e, name);
    assert_true(map[c] >= 0 || !strncmp(name, "eigC_", 5)); /* a sweep leaves eigC_* out without --wide */
  }
  char *tl = strchr(t, '\n') + 1;
  for (char *line = strchr(e, '\n') + 1; *line; line = strchr(line, '\n') + 1) {
    char run[32], a[64], b[64];
    field(line, 0, run, sizeof run);
    if (atoi(run) == k) {
      assert_true(*tl != '\0');
      for (int c = 0; c < nc; ++c) {
        if (map[c] < 0) continue;
        field(tl, c, a, sizeof a);
        field(line, map[c], b, sizeof b);
        assert_string_equal(a, b);
      }
      tl = strchr(tl, '\n') + 1;
      rows++;
    }
  }
  assert_int_equal(*tl, '\0');
  assert_true(rows >= 2);
  free(e);
  free(t);
}

static void test_cli(void **state) {
  (void)state;
  const char *dir = tu_tmpdir(0);
  const char *plain[] = {NULL}, *zero[] = {"--disturbance=noisy_data", "--disturbance_scale=0", NULL},
             *a[] = {"--disturbance=noisy_data", "--disturbance_scale=0.3", NULL},
             *b[] = {"--disturbance=noisy_data", "--disturbance_scale=0.3", "--stream=1", NULL};
  run_cli(dir, "plain", plain);
  run_cli(dir, "zero", zero);
  run_cli(dir, "a", a);
  run_cli(dir, "a2", a);
  run_cli(dir, "b", b);
  assert_true(tu_same_file(dir, "plain", "zero", "trajectory.csv"));
  assert_true(tu_same_file(dir, "plain", "zero", "W1_final.npy"));
  assert_true(tu_same_file(dir, "a", "a2", "trajectory.csv"));
  assert_false(tu_same_file(dir, "a", "b", "trajectory.csv"));
  assert_false(tu_same_file(dir, "a", "plain", "trajectory.csv"));
  char *sum = tu_slurp(tu_path(dir, "a/summary.json")), *tr = tu_slurp(tu_path(dir, "a/trajectory.csv"));
  assert_non_null(strstr(sum, "\"kind\": \"noisy_data\""));
  assert_non_null(strstr(tr, ",dist_norm,"));
  free(sum);
  free(tr);
  /* a sweep: 1 and 2 threads; each run's rerun line repeats it byte for byte */
  tu_write_text(tu_path(dir, "spec.json"),
                "{\"task\": \"regression\", \"rows\": 2, \"cols\": 3, \"widths\": [3, 2, 2], \"method\": \"gd\", \"eta\": 0.01,\n"
                " \"t_end\": 0.5, \"samples\": 6, \"plot\": false, \"disturbance\": \"noisy_data\", \"disturbance_scale\": 0.3,\n"
                " \"sweep\": {\"seed\": {\"from\": 1, \"count\": 2}, \"stream\": [0, 3]}}\n");
  const char *s1[] = {"sweep", "spec.json", "--out", "s1", "--quiet", "--threads", "1", NULL};
  const char *s2[] = {"sweep", "spec.json", "--out", "s2", "--quiet", "--threads", "2", NULL};
  assert_int_equal(tu_wait(tu_spawn(DLN_CLI, s1, dir)), 0);
  assert_int_equal(tu_wait(tu_spawn(DLN_CLI, s2, dir)), 0);
  assert_true(tu_same_file(dir, "s1", "s2", "ensemble.csv"));
  char *ej = tu_slurp(tu_path(dir, "s1/ensemble.json"));
  assert_non_null(ej);
  const char *q = ej;
  for (int k = 0; k < 4; ++k) { /* "rerun": "dln run spec.json --out=s1/rerun/k ..." */
    q = strstr(q, "\"rerun\": \"dln run ");
    assert_non_null(q);
    q += strlen("\"rerun\": \"dln ");
    const char *end = strchr(q, '"');
    char line[1024], *args[32];
    snprintf(line, sizeof line, "%.*s", (int)(end - q), q);
    int n = 0;
    for (char *tok = strtok(line, " "); tok && n < 30; tok = strtok(NULL, " ")) args[n++] = tok;
    args[n++] = "--quiet";
    args[n] = NULL;
    assert_int_equal(tu_wait(tu_spawn(DLN_CLI, (const char *const *)args, dir)), 0);
    char traj[64];
    snprintf(traj, sizeof traj, "s1/rerun/%d/trajectory.csv", k);
    check_rerun(dir, "s1/ensemble.csv", k, traj);
  }
  free(ej);
  tu_rmtree(dir);
}

/* SIGTERM after the first checkpoint, then --resume: byte-identical to the whole run. */
static void test_cli_resume(void **state) {
  (void)state;
  const char *dir = tu_tmpdir(1);
  const char *opts[] = {"--method=gd", "--eta=1e-4", "--t_end=8", "--checkpoint_every=8000", "--samples=401",
                        "--disturbance=noisy_data", "--disturbance_scale=0.3", "--plot=false", "--quiet", NULL};
  tu_cli_sigterm_resume(DLN_CLI, dir, opts);
  tu_rmtree(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_library_vs_hand), cmocka_unit_test(test_moments), cmocka_unit_test(test_small_scale),
      cmocka_unit_test(test_library_resume),
      cmocka_unit_test(test_refusals),        cmocka_unit_test(test_cli),     cmocka_unit_test(test_cli_resume),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
