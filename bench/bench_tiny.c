/* bench_tiny — GD steps/s of small networks (issue 14, "tiny" and "middle" sizes).
 *
 * Problems (method GD through dln_train, no observer: the pure step loop, as bench_dln):
 *   completion_2x2_depth3  bench_dln's problem: (1/2m)Σ(W[r,c] − b)², entries (0,1)=1,
 *                          (1,0)=1, (1,1)=0, widths [2, 2, 2, 2], σ 0.5, η 1e-2
 *   fact_n<n>_depth3       ½‖W − Ȳ‖², Ȳ n×n, widths [n, n, n, n], σ 1/√n, η 1e-3
 * and, as the reference, the completion step written out by hand for exactly that problem
 * (hand_completion_2x2_depth3, from the same init).
 * With --data DIR the targets and init draws are DIR/<problem>_target.npy and
 * DIR/<problem>_Z<j>.npy (bench/tiny.sh writes them with numpy, as bench/run.sh), else
 * dln's own streams. Each measurement: 20 warm-up steps, calibration, then --repeats
 * timed dln_train calls of ≈ --target seconds each; best and median are reported (on a
 * loaded machine many short calls, e.g. --target 0.002 --repeats 500, and their best
 * estimate the unloaded rate).
 *
 *   bench_tiny [--target S] [--repeats R] [--data DIR] [--kernels tiny|xsmm|off] [--sizes 2,4,8]
 *
 * Rates per wall second (steps_per_s) and per thread CPU second (steps_per_cpu_s, less
 * sensitive to other processes on a loaded machine) are both reported.
 *
 * stdout: one JSON object {"meta", "kernels", "gd": {problem: {steps_per_s, runs, ...}}};
 * stderr: one line per problem. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "benchutil.h"
#include "dln/data.h"
#include "dln/error.h"
#include "dln/init.h"
#include "dln/loss.h"
#include "dln/net.h"
#include "dln/rng.h"
#include "dln/train.h"

#define CHECK BU_CHECK
#define MAXREP 2000

typedef struct {
  char name[64];
  int n, completion;
  double sigma, eta;
  dln_net *net;
  dln_loss *loss;
  double *z, *theta;
} problem;

static const char *data_dir = NULL;
static const char *kernels = NULL;

static void setup(problem *p) {
  int w[4] = {p->n, p->n, p->n, p->n};
  CHECK(dln_net_alloc(&p->net, 3, w, 0));
  if (kernels) {
    int k;
    CHECK(dln_small_kernels_parse(kernels, &k));
    CHECK(dln_net_set_small_kernels(p->net, k));
  }
  size_t np = p->net->nparams;
  p->z = malloc(np * sizeof(double));
  p->theta = malloc(np * sizeof(double));
  if (!p->z || !p->theta) bu_die("malloc", DLN_ENOMEM);
  char prefix[80];
  snprintf(prefix, sizeof prefix, "%s_", p->name);
  dln_rng *rt = dln_rng_alloc(0, 0), *ri = dln_rng_alloc(1, 0);
  if (p->completion) {
    int r[3] = {0, 1, 1}, c[3] = {1, 0, 1};
    double v[3] = {1.0, 1.0, 0.0};
    CHECK(dln_loss_completion_alloc(&p->loss, 2, 2, 3, r, c, v));
  } else {
    dln_mat *Y = NULL;
    if (data_dir) Y = bu_read_npy(data_dir, prefix, "target");
    else CHECK(dln_data_gaussian(rt, p->n, p->n, 1.0, &Y));
    if (Y->rows != p->n || Y->cols != p->n) bu_fail("%s: expected a %d x %d target", p->name, p->n, p->n);
    CHECK(dln_loss_factorization_alloc(&p->loss, Y));
    dln_mat_free(Y);
  }
  if (data_dir) bu_read_layers(data_dir, prefix, p->net, p->z);
  else CHECK(dln_init_gaussian(p->net, p->z, ri, 1.0, NULL));
  for (size_t i = 0; i < np; ++i) p->theta[i] = p->sigma * p->z[i];
  dln_rng_free(rt);
  dln_rng_free(ri);
}

static double cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
static double last_cpu; /* thread CPU seconds of the last run() */

static double run(problem *p, long nsteps) {
  dln_train_options o;
  dln_train_result res;
  dln_train_default_options(&o);
  o.method = &dln_integrator_gd;
  o.eta = p->eta;
  o.max_steps = nsteps;
  o.t_end = p->eta * (2.0 * (double)nsteps + 10.0);
  o.nsamples = 2;
  double c0 = cpu_now();
  double dt = bu_timed_train(p->net, p->loss, p->theta, &o, &res);
  last_cpu = cpu_now() - c0;
  if (res.stop_reason != DLN_STOP_STEPS) bu_fail("%s: GD stopped early: %s", p->name, res.message);
  return dt;
}

static int cmp_desc(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x < y) - (x > y);
}

/* best and median of reps rates (sorted in place, largest first) */
static void stats(double *r, int reps, double *best, double *med) {
  qsort(r, (size_t)reps, sizeof *r, cmp_desc);
  *best = r[0];
  *med = reps % 2 ? r[reps / 2] : 0.5 * (r[reps / 2 - 1] + r[reps / 2]);
}

static void measure(problem *p, double target, int reps, int first) {
  static double runs[MAXREP], cpu[MAXREP];
  double v0 = NAN, best, med, bestc, medc;
  CHECK(dln_net_grad(p->net, p->loss, p->theta, &v0, NULL, NULL));
  run(p, 20);
  long n = 10;
  double dt;
  while ((dt = run(p, n)) < 0.05) n *= 4;
  long steps = (long)ceil(target * (double)n / dt);
  if (steps < 1) steps = 1;
  for (int r = 0; r < reps; ++r) {
    runs[r] = (double)steps / run(p, steps);
    cpu[r] = (double)steps / last_cpu;
  }
  stats(runs, reps, &best, &med);
  stats(cpu, reps, &bestc, &medc);
  double v1 = NAN;
  CHECK(dln_net_grad(p->net, p->loss, p->theta, &v1, NULL, NULL));
  printf("%s\n  \"%s\": {\"n\": %d, \"steps_per_s\": ", first ? "" : ",", p->name, p->n);
  bu_jnum(best);
  bu_knum("steps_per_s_median", med);
  bu_knum("steps_per_cpu_s", bestc);
  bu_knum("steps_per_cpu_s_median", medc);
  printf(", \"steps\": %ld, \"repeats\": %d", steps, reps);
  bu_knum("init_loss", v0);
  bu_knum("final_loss", v1);
  printf("}");
  fprintf(stderr, "%-24s %12.0f steps/s best of %d (median %.0f); per CPU second best %.0f (median %.0f)\n", p->name,
          best, reps, med, bestc, medc);
}

/* ------------------------------------------------------------ the hand-written reference
 * The 2x2 depth-3 completion step written out for exactly that problem (issue 14's "loop
 * specialized by hand"): every matrix in registers, W = W3 W2 W1, G from the three observed
 * entries, the four products of backprop and the update; no blow-up test, no sampling. */
typedef struct { double a, b, c, d; } m2; /* column-major: a = (0,0), b = (1,0), c = (0,1), d = (1,1) */
static inline m2 mm(m2 x, m2 y) { return (m2){x.a * y.a + x.c * y.b, x.b * y.a + x.d * y.b, x.a * y.c + x.c * y.d, x.b * y.c + x.d * y.d}; }
static inline m2 tr(m2 x) { return (m2){x.a, x.c, x.b, x.d}; }
static inline m2 axpy(m2 x, double e, m2 g) { return (m2){x.a - e * g.a, x.b - e * g.b, x.c - e * g.c, x.d - e * g.d}; }

static void hand_steps(double *th, long steps, double eta) {
  m2 W1 = {th[0], th[1], th[2], th[3]}, W2 = {th[4], th[5], th[6], th[7]}, W3 = {th[8], th[9], th[10], th[11]};
  for (long k = 0; k < steps; ++k) {
    m2 P2 = mm(W2, W1), W = mm(W3, P2);
    m2 G = {0, (W.b - 1) / 3, (W.c - 1) / 3, W.d / 3}; /* entries (1,0)=1, (0,1)=1, (1,1)=0, m = 3 */
    m2 B2 = mm(tr(W3), G), g3 = mm(G, tr(P2)), g2 = mm(B2, tr(W1)), g1 = mm(tr(W2), B2);
    W3 = axpy(W3, eta, g3), W2 = axpy(W2, eta, g2), W1 = axpy(W1, eta, g1);
  }
  double out[12] = {W1.a, W1.b, W1.c, W1.d, W2.a, W2.b, W2.c, W2.d, W3.a, W3.b, W3.c, W3.d};
  memcpy(th, out, sizeof out);
}

static void measure_hand(problem *p, double target, int reps) {
  static double runs[MAXREP];
  double best, med, th[12];
  memcpy(th, p->theta, sizeof th);
  long n = 1000;
  double t0 = bu_now();
  hand_steps(th, n, p->eta);
  while (bu_now() - t0 < 0.05) {
    n *= 4;
    t0 = bu_now();
    hand_steps(th, n, p->eta);
  }
  long steps = (long)ceil(target * (double)n / (bu_now() - t0));
  for (int r = 0; r < reps; ++r) {
    memcpy(th, p->theta, sizeof th);
    t0 = bu_now();
    hand_steps(th, steps, p->eta);
    runs[r] = (double)steps / (bu_now() - t0);
  }
  stats(runs, reps, &best, &med);
  printf(",\n  \"hand_completion_2x2_depth3\": {\"n\": 2, \"steps_per_s\": ");
  bu_jnum(best);
  bu_knum("steps_per_s_median", med);
  bu_knum("check_w11", th[0]);
  printf(", \"steps\": %ld, \"repeats\": %d}", steps, reps);
  fprintf(stderr, "%-24s %12.0f steps/s best of %d (median %.0f)\n", "hand_completion_2x2", best, reps, med);
}

int main(int argc, char **argv) {
  bu_set_program("bench_tiny");
  double target = 1.0;
  int reps = 3;
  const char *sizes = "2,4,8,16,32,64";
  for (int i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "--target") && i + 1 < argc) target = atof(argv[++i]);
    else if (!strcmp(argv[i], "--repeats") && i + 1 < argc) reps = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--data") && i + 1 < argc) data_dir = argv[++i];
    else if (!strcmp(argv[i], "--kernels") && i + 1 < argc) kernels = argv[++i];
    else if (!strcmp(argv[i], "--sizes") && i + 1 < argc) sizes = argv[++i];
    else bu_fail("usage: %s [--target S] [--repeats R] [--data DIR] [--kernels K] [--sizes 2,4,...]", argv[0]);
  }
  if (reps < 1 || reps > MAXREP || !(target > 0)) bu_fail("--repeats: expected 1..%d; --target: expected > 0", MAXREP);
  char cpu[256];
  bu_cpu_model(cpu, sizeof cpu);
  double la[3];
  bu_loadavg(la);
  bu_meta_begin("bench_tiny", cpu);
  bu_kcompiler();
  bu_knum("load1_start", la[0]);
  printf("}");
  bu_kstr("kernels", kernels ? kernels : "default");
  printf(", \"gd\": {");
  problem c = {.n = 2, .completion = 1, .sigma = 0.5, .eta = 1e-2};
  snprintf(c.name, sizeof c.name, "completion_2x2_depth3");
  setup(&c);
  memcpy(c.z, c.theta, c.net->nparams * sizeof *c.z); /* the init, for the hand-written loop */
  measure(&c, target, reps, 1);
  memcpy(c.theta, c.z, c.net->nparams * sizeof *c.z);
  measure_hand(&c, target, reps);
  for (const char *s = sizes; *s;) {
    char *end;
    long n = strtol(s, &end, 10);
    if (end == s || n < 1 || n > 4096) bu_fail("--sizes: expected positive integers, found \"%s\"", s);
    problem p = {.n = (int)n, .sigma = 1.0 / sqrt((double)n), .eta = 1e-3};
    snprintf(p.name, sizeof p.name, "fact_n%ld_depth3", n);
    setup(&p);
    measure(&p, target, reps, 0);
    dln_net_free(p.net), dln_loss_free(p.loss), free(p.z), free(p.theta);
    s = *end == ',' ? end + 1 : end;
  }
  bu_loadavg(la);
  printf("},\n \"load1_end\": ");
  bu_jnum(la[0]);
  printf("\n}\n");
  dln_net_free(c.net), dln_loss_free(c.loss), free(c.z), free(c.theta);
  return 0;
}
