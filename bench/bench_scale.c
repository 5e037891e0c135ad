/* bench_scale — dln's side of the scaling table (bench/scale.sh, issue 14).
 *
 * Square factorization ½‖W − Ȳ‖², Ȳ n×n ~ N(0,1), depth N, every width n, init
 * N(0, 1/n), GD with η = 1e-4 through dln_train (no observer: the step loop alone).
 * A GD step costs 3(N−1) products of 2n³ flops: N−1 forward (P_j = W_j P_{j−1}), N−1
 * for the layer gradients B_j P_{j−1}ᵀ and N−1 for the backward products W_jᵀ B_j
 * (src/model/net.c), so 12 n³ at depth 3, the "effective" flop count.
 *
 *   bench_scale --backend openblas --threads 1 --n 2,4,8 --depth 2,3,4 [--target S] [--reps R]
 *
 * Per (n, depth): one warm-up step, a chunk size calibrated to ≥ target/reps seconds,
 * then reps timed chunks. A GD step is one gradient evaluation and an axpy, and a
 * dln_train call of k steps evaluates k + 1 gradients (the last for the final loss), so
 * the rate counted is gradient evaluations per second (res.grad_evals / time): a long run's
 * steps/s, also for the one-step chunks at n ≥ 1024. Median, min and max over the chunks,
 * by wall clock and by process CPU time (which leaves out time the process waited
 * for a core on a shared machine; meaningful for one thread only). Also the rate of one
 * n×n×n product through dln_gemm (best of reps), to separate the BLAS from dln's step.
 * stdout: one JSON object; stderr: progress. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "benchutil.h"
#include "dln/data.h"
#include "dln/error.h"
#include "dln/gemm.h"
#include "dln/init.h"
#include "dln/rng.h"

#define CHECK BU_CHECK
#define MAXL 32

static double cpu_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int parse_list(const char *s, int *out) {
  int k = 0;
  char *end;
  while (*s && k < MAXL) {
    long v = strtol(s, &end, 10);
    if (end == s || v < 1 || v > 65536) bu_fail("bad list entry in \"%s\"", s);
    out[k++] = (int)v;
    s = *end == ',' ? end + 1 : end;
  }
  return k;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

typedef struct sample {
  double wall[16], cpu[16];
  long chunk;
  double init_loss, final_loss;
} sample;

static double gd_chunk(dln_net *net, dln_loss *loss, double *theta, long steps, double *cpu, long *evals) {
  dln_train_options o;
  dln_train_default_options(&o);
  o.method = &dln_integrator_gd;
  o.eta = 1e-4;
  o.max_steps = steps;
  o.t_end = o.eta * (2.0 * (double)steps + 10.0); /* the step budget stops the run */
  o.nsamples = 2;
  dln_train_result res;
  double c0 = cpu_now();
  double dt = bu_timed_train(net, loss, theta, &o, &res);
  *cpu = cpu_now() - c0;
  if (res.stop_reason != DLN_STOP_STEPS || res.steps != steps) bu_fail("GD stopped early: %s", res.message);
  *evals = res.grad_evals;
  return dt;
}

static void measure(int n, int depth, double target, int reps, sample *s) {
  int widths[8];
  for (int j = 0; j <= depth; ++j) widths[j] = n;
  dln_net *net;
  dln_loss *loss;
  dln_mat *Y;
  CHECK(dln_net_alloc(&net, depth, widths, 0));
  dln_rng *rng = dln_rng_alloc(0, 0);
  CHECK(dln_data_gaussian(rng, n, n, 1.0, &Y));
  CHECK(dln_loss_factorization_alloc(&loss, Y));
  double *theta = malloc(net->nparams * sizeof(double));
  if (!theta) bu_fail("out of memory for n = %d", n);
  CHECK(dln_init_gaussian(net, theta, rng, 1.0 / sqrt((double)n), NULL));
  CHECK(dln_net_grad(net, loss, theta, &s->init_loss, NULL, NULL));
  long ev;
  double cpu, dt = gd_chunk(net, loss, theta, 1, &cpu, &ev); /* warm-up: JIT, page faults, threads */
  long chunk = 1;
  double want = target / reps;
  while ((dt = gd_chunk(net, loss, theta, chunk, &cpu, &ev)) < 0.3 * want) chunk *= 4;
  chunk = (long)ceil(want * (double)chunk / dt);
  if (chunk < 1) chunk = 1;
  for (int r = 0; r < reps; ++r) {
    long evals;
    double w = gd_chunk(net, loss, theta, chunk, &cpu, &evals);
    s->wall[r] = (double)evals / w;
    s->cpu[r] = (double)evals / cpu;
  }
  s->chunk = chunk;
  CHECK(dln_net_grad(net, loss, theta, &s->final_loss, NULL, NULL));
  free(theta);
  dln_mat_free(Y);
  dln_loss_free(loss);
  dln_net_free(net);
  dln_rng_free(rng);
}

/* Best-of-reps GFLOP/s of one n×n×n product through dln_gemm. */
static double gemm_rate(int n, int reps) {
  size_t nn = (size_t)n * (size_t)n;
  double *a = malloc(3 * nn * sizeof(double));
  if (!a) bu_fail("out of memory for n = %d", n);
  for (size_t i = 0; i < 3 * nn; ++i) a[i] = (double)(i % 7) - 3.0;
  long inner = (long)(2e8 / (2.0 * n * n * (double)n)) + 1;
  double best = 1e300;
  for (int r = 0; r < reps + 1; ++r) {
    double t0 = bu_now();
    for (long q = 0; q < inner; ++q) CHECK(dln_gemm(0, 0, n, n, n, 1.0, a, n, a + nn, n, 0.0, a + 2 * nn, n));
    double t = (bu_now() - t0) / (double)inner;
    if (r > 0 && t < best) best = t; /* the first is a warm-up */
  }
  free(a);
  return 2.0 * n * n * (double)n / best / 1e9;
}

static void print_stats(const char *key, double *x, int k) {
  double y[16];
  memcpy(y, x, (size_t)k * sizeof(double));
  qsort(y, (size_t)k, sizeof(double), cmp_d);
  printf(", \"%s\": {\"median\": ", key);
  bu_jnum(k % 2 ? y[k / 2] : 0.5 * (y[k / 2 - 1] + y[k / 2]));
  bu_knum("min", y[0]);
  bu_knum("max", y[k - 1]);
  printf("}");
}

int main(int argc, char **argv) {
  bu_set_program("bench_scale");
  const char *backend = "openblas";
  int threads = 1, reps = 3, ns[MAXL], depths[MAXL], nn = 0, nd = 0;
  double target = 0.6;
  for (int i = 1; i < argc; ++i) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) bu_fail("usage: bench_scale [--backend B] [--threads T] --n LIST --depth LIST [--target S] [--reps R]");
    if (!strcmp(a, "--backend")) backend = v;
    else if (!strcmp(a, "--threads")) threads = atoi(v);
    else if (!strcmp(a, "--n")) nn = parse_list(v, ns);
    else if (!strcmp(a, "--depth")) nd = parse_list(v, depths);
    else if (!strcmp(a, "--target")) target = atof(v);
    else if (!strcmp(a, "--reps")) reps = atoi(v);
    else bu_fail("unknown option %s", a);
    ++i;
  }
  if (!nn || !nd || reps < 1 || reps > 16 || !(target > 0)) bu_fail("need --n and --depth lists, 1 <= reps <= 16, target > 0");
  CHECK(dln_gemm_select(backend));
  CHECK(dln_gemm_set_threads(threads));
  char cpu[256], desc[256];
  bu_cpu_model(cpu, sizeof cpu);
  CHECK(dln_gemm_describe(desc, sizeof desc));
  double la[3];
  bu_loadavg(la);
  bu_meta_begin("bench_scale", cpu);
  bu_kstr("backend", backend);
  bu_kstr("backend_describe", desc);
  bu_knum("threads", threads);
  bu_knum("loadavg_start", la[0]);
  printf("},\n \"rows\": [");
  int first = 1;
  for (int i = 0; i < nn; ++i) {
    double g = gemm_rate(ns[i], reps);
    for (int d = 0; d < nd; ++d) {
      sample s = {0};
      /* at n >= 1024 one step takes seconds: one step per chunk, at most reps of them */
      measure(ns[i], depths[d], ns[i] >= 1024 ? 1e-3 : target, reps, &s);
      double flops = 6.0 * (depths[d] - 1) * pow(ns[i], 3);
      printf("%s\n  {\"n\": %d, \"depth\": %d, \"chunk_steps\": %ld", first ? "" : ",", ns[i], depths[d], s.chunk);
      print_stats("steps_per_s", s.wall, reps);
      print_stats("steps_per_s_cpu", s.cpu, reps);
      bu_knum("flops_per_step", flops);
      bu_knum("dgemm_gflops", g);
      bu_knum("init_loss", s.init_loss);
      bu_knum("final_loss", s.final_loss);
      printf("}");
      fflush(stdout);
      first = 0;
      double med[16];
      memcpy(med, s.wall, sizeof med);
      qsort(med, (size_t)reps, sizeof(double), cmp_d);
      fprintf(stderr, "bench_scale: %s T=%d n=%d depth=%d: %.4g steps/s, %.1f GFLOP/s (dgemm %.1f)\n", backend, threads,
              ns[i], depths[d], med[reps / 2], med[reps / 2] * flops / 1e9, g);
    }
  }
  bu_loadavg(la);
  printf("\n ],\n \"loadavg_end\": ");
  bu_jnum(la[0]);
  printf("\n}\n");
  return 0;
}
