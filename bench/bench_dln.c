/* bench_dln — the dln side of the peer comparison (bench/peers.py, bench/README.md).
 *
 * Runs the problems of bench/peers.py with the same widths, η and init scale σ:
 *   fact_5x10_w50          ½‖W − Ȳ‖², Ȳ 5×10,  widths [10, 50, 5],     σ 0.1,  η 1e-3
 *   completion_2x2_depth3  (1/2m)Σ(W[r,c] − b)², entries (0,1)=1, (1,0)=1, (1,1)=0,
 *                          widths [2, 2, 2, 2], σ 0.5,  η 1e-2
 *   large_50x100_w500      ½‖W − Ȳ‖², Ȳ 50×100, widths [100, 500, 50], σ 0.05, η 1e-4
 * through dln_train (method GD, no observer: the pure step loop) and measures steps/s
 * (warm-up, calibration, then best of 3 timed runs of ≈ --target seconds). For
 * fact_5x10_w50 it also integrates the gradient flow to t = 20 at rtol 1e-10,
 * atol 1e-12 for σ ∈ {1e-2, 1}; for completion_2x2_depth3 it times one run of
 * 5·10^6 steps. It measures the single-thread DGEMM peak (cblas_dgemm 500³) and
 * the large problem's GFLOP/s (3 GEMMs of 2·50·100·500 flop per step = 15 MFLOP).
 *
 * Data: with --data DIR the targets and the standard-normal init draws are read from
 * DIR/<problem>_target.npy and DIR/<problem>_Z<j>.npy (written by bench/run.sh from
 * numpy's default_rng(0) / default_rng(1), exactly as peers.py draws them), so both
 * sides start from bit-identical weights W_j = σ·Z_j. Without --data they are drawn
 * from dln's own stream (same distribution, different numbers).
 *
 * Allocation check: tests/alloc_count.c (linked in, bench/CMakeLists.txt) interposes
 * the malloc family for the whole process and forwards to glibc's __libc_* entry points,
 * so every heap call is counted: libdln's, OpenBLAS's, SUNDIALS's and libxsmm's alike
 * (tests/test_noalloc.c uses the same counter).
 *
 * stdout: one JSON object; stderr: human-readable lines. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc_count.h" /* tests/alloc_count.c: the heap-call counter shared with the tests */
#include "benchutil.h"
#include "dln/data.h"
#include "dln/error.h"
#include "dln/init.h"
#include "dln/io.h"
#include "dln/loss.h"
#include "dln/mat.h"
#include "dln/net.h"
#include "dln/rng.h"
#include "dln/train.h"

#define CHECK BU_CHECK

/* ------------------------------------------------------------------ problems */
typedef struct problem {
  const char *name;
  int depth;
  int widths[4];
  double sigma, eta;
  int completion;
  dln_net *net;
  dln_loss *loss;
  double *z;     /* standard-normal init draws (σ = 1), nparams */
  double *theta; /* working state */
} problem;

static const char *data_dir = NULL;

/* The standard-normal layers Z_1..Z_N into p->z (from DIR or dln's stream). */
static void load_draws(problem *p, dln_rng *rng) {
  if (data_dir) {
    char prefix[128];
    snprintf(prefix, sizeof prefix, "%s_", p->name);
    bu_read_layers(data_dir, prefix, p->net, p->z);
  } else {
    CHECK(dln_init_gaussian(p->net, p->z, rng, 1.0, NULL));
  }
}

static void problem_setup(problem *p) {
  CHECK(dln_net_alloc(&p->net, p->depth, p->widths, 0));
  size_t n = p->net->nparams;
  p->z = malloc(n * sizeof(double));
  p->theta = malloc(n * sizeof(double));
  if (!p->z || !p->theta) bu_die("malloc", DLN_ENOMEM);
  dln_rng *rng_t = dln_rng_alloc(0, 0), *rng_i = dln_rng_alloc(1, 0);
  if (p->completion) {
    int r[3] = {0, 1, 1}, c[3] = {1, 0, 1};
    double v[3] = {1.0, 1.0, 0.0};
    CHECK(dln_loss_completion_alloc(&p->loss, 2, 2, 3, r, c, v));
  } else {
    int rows = p->widths[p->depth], cols = p->widths[0];
    dln_mat *Y = NULL;
    if (data_dir) {
      char prefix[128];
      snprintf(prefix, sizeof prefix, "%s_", p->name);
      Y = bu_read_npy(data_dir, prefix, "target");
      if (Y->rows != rows || Y->cols != cols)
        bu_fail("%s/%s_target.npy: expected a %d x %d target, found %d x %d", data_dir, p->name, rows, cols, Y->rows,
                Y->cols);
    } else {
      CHECK(dln_data_gaussian(rng_t, rows, cols, 1.0, &Y));
    }
    CHECK(dln_loss_factorization_alloc(&p->loss, Y));
    dln_mat_free(Y);
  }
  load_draws(p, rng_i);
  dln_rng_free(rng_t);
  dln_rng_free(rng_i);
}

static void problem_init(problem *p, double sigma) {
  for (size_t i = 0; i < p->net->nparams; ++i) p->theta[i] = sigma * p->z[i];
}

static double problem_loss(problem *p) {
  double v = NAN;
  CHECK(dln_net_grad(p->net, p->loss, p->theta, &v, NULL, NULL));
  return v;
}

static void problem_free(problem *p) {
  dln_net_free(p->net);
  dln_loss_free(p->loss);
  free(p->z);
  free(p->theta);
}

/* ------------------------------------------------------------------ gradient descent */
/* nsteps GD updates of p->theta in place through dln_train (obs = NULL). Seconds. */
static double gd_run(problem *p, long nsteps, dln_train_result *res) {
  dln_train_options o;
  dln_train_default_options(&o);
  o.method = &dln_integrator_gd;
  o.eta = p->eta;
  o.max_steps = nsteps;
  o.t_end = p->eta * (2.0 * (double)nsteps + 10.0); /* the step budget stops the run */
  o.nsamples = 2;
  double dt = bu_timed_train(p->net, p->loss, p->theta, &o, res);
  if (res->stop_reason != DLN_STOP_STEPS || res->steps != nsteps)
    bu_fail("%s: GD stopped early: %s", p->name, res->message);
  return dt;
}

typedef struct gd_timing {
  double steps_per_s, seconds, runs[3];
  long steps, total_steps;
  double init_loss, final_loss;
} gd_timing;

static gd_timing time_gd(problem *p, double target, int repeats) {
  gd_timing t = {0};
  dln_train_result res;
  problem_init(p, p->sigma);
  t.init_loss = problem_loss(p);
  long done = 0;
  gd_run(p, 20, &res); /* warm-up */
  done += 20;
  long n = 10;
  double dt;
  for (;;) { /* calibration: grow until one chunk takes >= 0.05 s */
    dt = gd_run(p, n, &res);
    done += n;
    if (dt >= 0.05) break;
    n *= 4;
  }
  long nsteps = (long)ceil(target * (double)n / dt);
  if (nsteps < 1) nsteps = 1;
  t.steps = nsteps;
  t.seconds = INFINITY;
  for (int r = 0; r < repeats; ++r) {
    double s = gd_run(p, nsteps, &res);
    done += nsteps;
    t.runs[r] = (double)nsteps / s;
    if (s < t.seconds) t.seconds = s;
  }
  t.steps_per_s = (double)nsteps / t.seconds;
  t.total_steps = done;
  t.final_loss = res.loss;
  return t;
}

static void print_gd(const gd_timing *t, int repeats) {
  printf("{\"steps_per_s\": ");
  bu_jnum(t->steps_per_s);
  printf(", \"steps\": %ld", t->steps);
  bu_knum("seconds", t->seconds);
  printf(", \"repeats\": %d, \"steps_per_s_runs\": [", repeats);
  bu_jnums(t->runs, repeats);
  printf("], \"total_steps\": %ld", t->total_steps);
  bu_knum("init_loss", t->init_loss);
  bu_knum("final_loss", t->final_loss);
  printf("}");
}

/* ------------------------------------------------------------------ gradient flow */
typedef struct flow_run {
  double seconds, seconds_first, init_loss;
  dln_train_result res; /* of the last run */
} flow_run;

static void flow_opts(dln_train_options *o, double t_end) {
  dln_train_default_options(o);
  o->method = &dln_integrator_flow;
  o->t_end = t_end;
  o->rtol = 1e-10;
  o->atol = 1e-12;
  o->nsamples = 2;
}

static flow_run time_flow(problem *p, double sigma, int repeats) {
  flow_run f = {0};
  f.seconds = INFINITY;
  dln_train_options o;
  flow_opts(&o, 20.0);
  for (int r = 0; r < repeats; ++r) {
    problem_init(p, sigma);
    f.init_loss = problem_loss(p);
    double dt = bu_timed_train(p->net, p->loss, p->theta, &o, &f.res);
    if (r == 0) f.seconds_first = dt;
    if (dt < f.seconds) f.seconds = dt;
  }
  return f;
}

static void print_flow(const flow_run *f, int repeats) {
  const dln_train_result *r = &f->res;
  printf("{\"status\": ");
  bu_jstr(dln_stop_reason_name(r->stop_reason));
  bu_kstr("message", r->message);
  bu_knum("seconds", f->seconds);
  bu_knum("seconds_first_run", f->seconds_first);
  printf(", \"repeats\": %d, \"grad_evals\": %ld, \"steps\": %ld, \"rejected\": %ld, \"attempted\": %ld", repeats,
         r->grad_evals, r->steps, r->rejected, r->attempted);
  bu_knum("t_final", r->t);
  bu_knum("init_loss", f->init_loss);
  bu_knum("final_loss", r->loss);
  printf("}");
}

/* ------------------------------------------------------------------ DGEMM peak */
static double dgemm_peak(int n, int reps, double *best_out) {
  size_t nn = (size_t)n * (size_t)n;
  double *A = malloc(nn * sizeof(double)), *B = malloc(nn * sizeof(double)), *C = malloc(nn * sizeof(double));
  if (!A || !B || !C) bu_die("malloc", DLN_ENOMEM);
  dln_rng *rng = dln_rng_alloc(42, 0);
  dln_rng_fill_gaussian(rng, A, nn, 1.0);
  dln_rng_fill_gaussian(rng, B, nn, 1.0);
  dln_rng_free(rng);
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0, A, n, B, n, 0.0, C, n);
  double best = INFINITY;
  for (int r = 0; r < reps; ++r) {
    double t0 = bu_now();
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0, A, n, B, n, 0.0, C, n);
    double dt = bu_now() - t0;
    if (dt < best) best = dt;
  }
  free(A);
  free(B);
  free(C);
  *best_out = best;
  return 2.0 * (double)n * (double)n * (double)n / best / 1e9;
}

/* ------------------------------------------------------------------ allocation check */
typedef struct alloc_pair {
  long steps[2], grad_evals[2], allocs[2], frees[2];
  double t_end[2];
} alloc_pair;

static void alloc_gd(problem *p, long sa, long sb, alloc_pair *a) {
  dln_train_result res;
  problem_init(p, p->sigma);
  gd_run(p, 5, &res); /* warm-up (first BLAS calls) */
  long s[2] = {sa, sb};
  for (int i = 0; i < 2; ++i) {
    problem_init(p, p->sigma);
    dln_alloc_count_begin();
    gd_run(p, s[i], &res);
    a->allocs[i] = dln_alloc_count_end(&a->frees[i]);
    a->steps[i] = res.steps;
    a->grad_evals[i] = res.grad_evals;
    a->t_end[i] = res.t;
  }
}

static void alloc_flow(problem *p, double ta, double tb, alloc_pair *a) {
  dln_train_options o;
  dln_train_result res;
  flow_opts(&o, ta);
  problem_init(p, 1.0);
  CHECK(dln_train(p->net, p->loss, p->theta, &o, NULL, NULL, &res)); /* warm-up */
  double t[2] = {ta, tb};
  for (int i = 0; i < 2; ++i) {
    flow_opts(&o, t[i]);
    problem_init(p, 1.0);
    dln_alloc_count_begin();
    CHECK(dln_train(p->net, p->loss, p->theta, &o, NULL, NULL, &res));
    a->allocs[i] = dln_alloc_count_end(&a->frees[i]);
    a->steps[i] = res.steps;
    a->grad_evals[i] = res.grad_evals;
    a->t_end[i] = t[i];
  }
}

static void print_alloc(const char *what, const alloc_pair *a, int flow) {
  printf("{\"what\": ");
  bu_jstr(what);
  for (int i = 0; i < 2; ++i) {
    char c = (char)('a' + i);
    if (flow) {
      printf(", \"t_end_%c\": ", c);
      bu_jnum(a->t_end[i]);
    }
    printf(", \"steps_%c\": %ld, \"grad_evals_%c\": %ld, \"allocs_%c\": %ld, \"frees_%c\": %ld", c, a->steps[i], c,
           a->grad_evals[i], c, a->allocs[i], c, a->frees[i]);
  }
  printf(", \"equal\": %s}", a->allocs[0] == a->allocs[1] && a->frees[0] == a->frees[1] ? "true" : "false");
}

/* ------------------------------------------------------------------ main */
int main(int argc, char **argv) {
  bu_set_program("bench_dln");
  int quick = 0;
  double target = -1;
  for (int i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "--quick")) quick = 1;
    else if (!strcmp(argv[i], "--target") && i + 1 < argc) target = atof(argv[++i]);
    else if (!strcmp(argv[i], "--data") && i + 1 < argc) data_dir = argv[++i];
    else {
      fprintf(stderr,
              "usage: %s [--quick] [--target SECONDS] [--data DIR]\n"
              "  --quick     ~0.3 s per measurement, 5e5-step completion run (smoke test)\n"
              "  --target S  seconds per steps/s measurement (default 1.5, quick 0.3)\n"
              "  --data DIR  read <problem>_target.npy and <problem>_Z<j>.npy (numpy draws) from DIR\n",
              argv[0]);
      return 2;
    }
  }
  if (target <= 0) target = quick ? 0.3 : 1.5;
  const int repeats = 3;
  const long long_steps = quick ? 500000L : 5000000L;

  openblas_set_num_threads(1);
  double T0 = bu_now();
  double la0[3], la1[3];
  bu_loadavg(la0);
  char cpu[256];
  bu_cpu_model(cpu, sizeof cpu);
  const char *env_threads = getenv("OPENBLAS_NUM_THREADS");

  double dgemm_best;
  double peak = dgemm_peak(500, quick ? 5 : 20, &dgemm_best);
  fprintf(stderr, "dgemm 500x500x500 single-thread: %.2f GFLOP/s (OpenBLAS %s, %d thread)\n", peak,
          openblas_get_config(), openblas_get_num_threads());

  problem probs[3] = {
      {.name = "fact_5x10_w50", .depth = 2, .widths = {10, 50, 5}, .sigma = 0.1, .eta = 1e-3},
      {.name = "completion_2x2_depth3", .depth = 3, .widths = {2, 2, 2, 2}, .sigma = 0.5, .eta = 1e-2, .completion = 1},
      {.name = "large_50x100_w500", .depth = 2, .widths = {100, 500, 50}, .sigma = 0.05, .eta = 1e-4},
  };
  gd_timing gd[3];
  for (int k = 0; k < 3; ++k) {
    problem_setup(&probs[k]);
    gd[k] = time_gd(&probs[k], target, repeats);
    fprintf(stderr, "%-24s dln_gd   %12.0f steps/s  (loss %.6g after %ld steps; init loss %.6g)\n", probs[k].name,
            gd[k].steps_per_s, gd[k].final_loss, gd[k].total_steps, gd[k].init_loss);
  }

  /* completion: one long run from the init */
  problem *pc = &probs[1];
  problem_init(pc, pc->sigma);
  dln_train_result lres;
  double long_init = problem_loss(pc);
  double long_s = gd_run(pc, long_steps, &lres);
  fprintf(stderr, "%-24s %ld GD steps in %.3f s (%.0f steps/s), loss %.6g -> %.6g\n", pc->name, long_steps, long_s,
          (double)long_steps / long_s, long_init, lres.loss);

  /* large: achieved GFLOP/s */
  const double flop_large = 3.0 * 2.0 * 50.0 * 100.0 * 500.0;
  double gflops_large = gd[2].steps_per_s * flop_large / 1e9;
  fprintf(stderr, "%-24s %.2f GFLOP/s = %.1f %% of the DGEMM peak\n", probs[2].name, gflops_large, 100 * gflops_large / peak);

  /* flow on fact_5x10_w50 */
  problem *pf = &probs[0];
  const double sigmas[2] = {1e-2, 1.0};
  const char *skeys[2] = {"sigma=0.01", "sigma=1"};
  flow_run fr[2];
  for (int s = 0; s < 2; ++s) {
    fr[s] = time_flow(pf, sigmas[s], repeats);
    fprintf(stderr, "flow %-10s ARKODE DP5 %8.4f s  grad_evals %7ld steps %6ld rejected %4ld  loss %.6g (%s)\n",
            skeys[s], fr[s].seconds, fr[s].res.grad_evals, fr[s].res.steps, fr[s].res.rejected, fr[s].res.loss,
            dln_stop_reason_name(fr[s].res.stop_reason));
  }

  /* allocation check */
  alloc_pair agd, afl;
  alloc_gd(pf, 10, 100000, &agd);
  alloc_flow(pf, 1.0, 20.0, &afl);
  fprintf(stderr, "alloc check GD  : %ld allocs for %ld steps, %ld allocs for %ld steps -> %s\n", agd.allocs[0],
          agd.steps[0], agd.allocs[1], agd.steps[1], agd.allocs[0] == agd.allocs[1] ? "independent of steps" : "DIFFERENT");
  fprintf(stderr, "alloc check flow: %ld allocs for t_end 1 (%ld steps), %ld allocs for t_end 20 (%ld steps) -> %s\n",
          afl.allocs[0], afl.steps[0], afl.allocs[1], afl.steps[1],
          afl.allocs[0] == afl.allocs[1] ? "independent of steps" : "DIFFERENT");

  bu_loadavg(la1);

  /* ---- JSON */
  bu_meta_begin("bench_dln", cpu);
  printf(", \"env_OPENBLAS_NUM_THREADS\": ");
  if (env_threads) bu_jstr(env_threads);
  else printf("null");
  bu_kcompiler();
  bu_kstr("data", data_dir ? "numpy draws from --data (identical to peers.py)"
                           : "dln rng streams (seed 0 target, seed 1 init)");
  printf(", \"data_dir\": ");
  if (data_dir) bu_jstr(data_dir);
  else printf("null");
  printf(", \"quick\": %s", quick ? "true" : "false");
  bu_knum("target_seconds_per_measurement", target);
  printf(", \"repeats\": %d, \"timing\": \"20 warm-up steps, calibration until a chunk takes >= 0.05 s, then best of %d "
         "runs of ~target seconds; one dln_train call (GD, obs NULL, max_steps = n) per run: n updates and n+1 gradient "
         "evaluations\"",
         repeats, repeats);
  printf(", \"loadavg_start\": [");
  bu_jnums(la0, 3);
  printf("], \"loadavg_end\": [");
  bu_jnums(la1, 3);
  printf("]");
  bu_knum("total_seconds", bu_now() - T0);
  printf("},\n \"dgemm_peak_gflops\": ");
  bu_jnum(peak);
  printf(", \"dgemm_peak_detail\": {\"n\": 500, \"routine\": \"cblas_dgemm\", \"reps\": %d", quick ? 5 : 20);
  bu_knum("best_seconds", dgemm_best);
  printf("},\n \"problems\": {\n");
  for (int k = 0; k < 3; ++k) {
    problem *p = &probs[k];
    printf("  ");
    bu_jstr(p->name);
    printf(": {\"widths\": [");
    for (int j = 0; j <= p->depth; ++j) printf(j ? ", %d" : "%d", p->widths[j]);
    printf("]");
    bu_knum("sigma", p->sigma);
    bu_knum("eta", p->eta);
    printf(", \"n_params\": %zu,\n   \"dln_gd\": ", p->net->nparams);
    print_gd(&gd[k], repeats);
    if (k == 1) {
      printf(",\n   \"long_run\": {\"steps\": %ld", long_steps);
      bu_knum("seconds", long_s);
      bu_knum("steps_per_s", (double)long_steps / long_s);
      bu_knum("init_loss", long_init);
      bu_knum("final_loss", lres.loss);
      printf("}");
    }
    if (k == 2) {
      printf(",\n   \"flop_per_step\": ");
      bu_jnum(flop_large);
      bu_knum("gflops", gflops_large);
      bu_knum("fraction_of_dgemm_peak", gflops_large / peak);
    }
    if (k == 0) {
      printf(",\n   \"flow\": {\"t_span\": [0.0, 20.0], \"rtol\": 1e-10, \"atol\": 1e-12, \"method\": \"ARKODE ERKStep "
             "Dormand-Prince 5(4), dense output, obs NULL\", \"seconds\": \"best of %d\"",
             repeats);
      for (int s = 0; s < 2; ++s) {
        printf(",\n    ");
        bu_jstr(skeys[s]);
        printf(": ");
        print_flow(&fr[s], repeats);
      }
      printf("}");
    }
    printf("}%s\n", k < 2 ? "," : "");
  }
  printf(" },\n \"alloc_check\": {\"mechanism\": \"malloc/calloc/realloc/free interposed for the whole process "
         "(tests/alloc_count.c, shared with tests/test_noalloc.c): heap calls of libdln, OpenBLAS, SUNDIALS "
         "and libxsmm alike\", \"problem\": \"fact_5x10_w50\",\n  \"gd\": ");
  print_alloc("dln_train GD, obs NULL", &agd, 0);
  printf(",\n  \"flow\": ");
  print_alloc("dln_train flow sigma=1, rtol 1e-10, atol 1e-12, obs NULL", &afl, 1);
  printf(",\n  \"independent_of_steps\": %s}\n}\n",
         agd.allocs[0] == agd.allocs[1] && afl.allocs[0] == afl.allocs[1] ? "true" : "false");

  for (int k = 0; k < 3; ++k) problem_free(&probs[k]);
  return 0;
}
