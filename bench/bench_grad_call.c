/* bench_grad_call: the per-call cost of a gradient dln_net_grad from C, the baseline of
 * bench/python_grad.py (the same call from Python through dln.Net.grad). Linked against the
 * shared libdln, as Python's cffi binding is. The problem is built through the C ABI
 * (dln/abi.h) exactly as dln.Loss builds it: factorization of a rows x cols Gaussian target
 * (seed 1) with the given widths, θ = the run's initial weights.
 *
 *   bench_grad_call WIDTHS CALLS REPS   e.g.  bench_grad_call 2,2,2,2 100000 5
 *
 * prints one JSON object: {"widths": "...", "nparams": n, "calls": N, "us_per_call": [...REPS]}. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dln/abi.h"
#include "dln/error.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void die(const char *what, int st) {
  fprintf(stderr, "bench_grad_call: %s: %s\n", what, st ? dln_last_error() : "failed");
  exit(70);
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: bench_grad_call WIDTHS CALLS REPS\n");
    return 64;
  }
  long calls = strtol(argv[2], NULL, 10), reps = strtol(argv[3], NULL, 10);
  if (calls < 1 || reps < 1 || reps > 1000) {
    fprintf(stderr, "bench_grad_call: CALLS >= 1 and REPS in 1..1000 expected, found %s %s\n", argv[2], argv[3]);
    return 64;
  }
  const char *w = argv[1], *last = strrchr(w, ',');
  if (!last) {
    fprintf(stderr, "bench_grad_call: WIDTHS: expected d_0,...,d_N, found %s\n", w);
    return 64;
  }
  char rows[32], cols[32];
  snprintf(rows, sizeof rows, "%s", last + 1);
  snprintf(cols, sizeof cols, "%.*s", (int)strcspn(w, ","), w);
  dln_job *job = NULL;
  int st = dln_job_alloc(&job);
  if (!st) st = dln_job_set(job, "task", "factorization");
  if (!st) st = dln_job_set(job, "rows", rows);
  if (!st) st = dln_job_set(job, "cols", cols);
  if (!st) st = dln_job_set(job, "widths", w);
  if (!st) st = dln_job_build(job);
  if (st) die("building the job", st);
  dln_net *net = dln_job_net(job);
  dln_loss *loss = dln_job_loss(job);
  size_t n = dln_abi_net_nparams(net);
  double *theta = malloc(n * sizeof *theta), *grad = malloc(n * sizeof *grad), value = 0;
  if (!theta || !grad) die("out of memory", 0);
  for (int j = 1; j <= dln_abi_net_depth(net); ++j) { /* θ = the initial layers */
    int r, c;
    size_t off;
    const double *d;
    if ((st = dln_abi_net_layer(net, j, &r, &c, &off)) || (st = dln_job_layer(job, DLN_JOB_INITIAL, j, &r, &c, &d)))
      die("reading the initial layers", st);
    memcpy(theta + off, d, (size_t)r * (size_t)c * sizeof *theta);
  }
  for (long i = 0; i < calls / 10 + 1; ++i) /* warm up */
    if ((st = dln_net_grad(net, loss, theta, &value, grad, NULL))) die("dln_net_grad", st);
  printf("{\"widths\": \"%s\", \"nparams\": %zu, \"calls\": %ld, \"value\": %.17g, \"us_per_call\": [", w, n, calls, value);
  for (long r = 0; r < reps; ++r) {
    double t0 = now();
    for (long i = 0; i < calls; ++i) st |= dln_net_grad(net, loss, theta, &value, grad, NULL);
    printf("%s%.6g", r ? ", " : "", (now() - t0) / (double)calls * 1e6);
  }
  printf("]}\n");
  free(theta);
  free(grad);
  dln_job_free(job);
  return st ? 70 : 0;
}
