/* bench_ensemble: N gradient flows of the two-layer 5x10 factorization (widths 10, 50, 5;
 * Gaussian init of scale sigma; t_end 20, rtol 1e-8) as one ensemble (dln/ensemble.h),
 * one seed per flow and the same target for all, on 1 and 2 threads (or the thread
 * counts given): wall time, speed-up and flows per second.
 *
 *   bench_ensemble [N=1000] [sigma=0.1] [threads...]      (env DLN_BENCH_CSV=1 also writes ensemble.csv;
 *                                                          env DLN_BENCH_METHOD: flow (default), auto, rkc, cvode;
 *                                                          env DLN_BENCH_SET="name=value;...": more settings,
 *                                                          e.g. "samples=2;endpoint=false", to time parts)
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "benchutil.h"
#include "dln/dln.h"

int main(int argc, char **argv) {
  bu_set_program("bench_ensemble");
  long n = argc > 1 ? atol(argv[1]) : 1000;
  const char *sigma = argc > 2 ? argv[2] : "0.1";
  int threads[16] = {1, 2}, nt = 2;
  if (argc > 3) {
    nt = 0;
    for (int i = 3; i < argc && nt < 16; ++i) threads[nt++] = atoi(argv[i]);
  }
  const char *csv = getenv("DLN_BENCH_CSV");
  const char *method = getenv("DLN_BENCH_METHOD") ? getenv("DLN_BENCH_METHOD") : "flow";
  char dir[] = "/tmp/bench_ensemble.XXXXXX";
  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    return 1;
  }
  dln_spec s;
  if (dln_spec_default(&s)) return 1;
  const char *settings[][2] = {{"task", "factorization"}, {"rows", "5"},     {"cols", "10"},
                               {"widths", "10,50,5"},     {"init", "gaussian"}, {"sigma", sigma},
                               {"method", method},        {"t_end", "20"},     {"rtol", "1e-8"},
                               {"samples", "21"},         {"observe", csv ? "all" : "loss"},
                               {"plot", "false"},         {"quiet", "true"},   {"out", dir},
                               {"force", "true"}}; /* each thread count replaces the previous sweep */
  for (size_t k = 0; k < sizeof settings / sizeof settings[0]; ++k)
    if (dln_spec_set(&s, settings[k][0], settings[k][1])) bu_fail("%s", dln_last_error());
  const char *extra = getenv("DLN_BENCH_SET");
  if (extra && *extra) { /* name=value pairs separated by ';' (lists keep their commas) */
    char *copy = strdup(extra), *save = NULL;
    if (!copy) bu_fail("out of memory");
    for (char *tok = strtok_r(copy, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
      char *eq = strchr(tok, '=');
      if (!eq) bu_fail("DLN_BENCH_SET: expected name=value, found \"%s\"", tok);
      *eq = 0;
      if (dln_spec_set(&s, tok, eq + 1)) bu_fail("DLN_BENCH_SET: %s", dln_last_error());
    }
    free(copy);
  }
  dln_sweep sw;
  dln_sweep_init(&sw);
  if (dln_sweep_add_range(&sw, "seed", 1, n, 1)) bu_fail("%s", dln_last_error());
  long online = sysconf(_SC_NPROCESSORS_ONLN);
  printf("bench_ensemble: %ld gradient flows (method %s), factorization 5x10, widths 10,50,5, sigma %s, t_end 20, rtol 1e-8;"
         " %ld online CPUs; outputs %s%s%s\n", n, method, sigma, online, csv ? "ensemble.csv + ensemble.json" : "none (rows kept, then dropped)",
         extra && *extra ? "; DLN_BENCH_SET " : "", extra && *extra ? extra : "");
  printf("%8s %10s %9s %10s %14s %14s\n", "threads", "wall s", "speed-up", "flows/s", "grad evals", "extrap. 10^4 s");
  double t1 = 0;
  for (int i = 0; i < nt; ++i) {
    dln_ensemble_options o;
    dln_ensemble_default_options(&o);
    o.nthreads = threads[i];
    o.write_outputs = csv != NULL;
    dln_ensemble_result r;
    if (dln_ensemble_run(&s, &sw, &o, &r)) bu_fail("%s", dln_last_error());
    if (r.nfailed || r.ncomplete != n) fprintf(stderr, "bench_ensemble: %ld runs failed\n", r.nfailed);
    if (i == 0) t1 = r.wall_seconds;
    printf("%8d %10.3f %9.2f %10.1f %14ld %14.1f\n", r.nthreads, r.wall_seconds, t1 / r.wall_seconds,
           (double)n / r.wall_seconds, r.grad_evals, r.wall_seconds * 1e4 / (double)n);
    fflush(stdout);
  }
  dln_sweep_free(&sw);
  dln_spec_free(&s);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "bench_ensemble: could not remove %s\n", dir);
  return 0;
}
