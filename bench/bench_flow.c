/* bench_flow — the dln side of the gradient-flow comparison at equal accuracy
 * (bench/flow.sh, bench/peers_flow.py, bench/README.md "Gradient flow at equal accuracy").
 *
 * Problem: the two-layer factorization flow θ̇ = −∇φ(θ), φ = ½‖W_2 W_1 − Ȳ‖², Ȳ 5×10,
 * widths [10, 50, 5] (750 parameters), W_j(0) = σ·Z_j, t ∈ [0, 20], σ ∈ {1e-2, 1, 10}.
 * Ȳ and the standard-normal draws Z_j are read from DIR/target.npy, DIR/Z1.npy (50×10)
 * and DIR/Z2.npy (5×50), written by numpy in bench/flow.sh, so both sides start from
 * bit-identical weights.
 *
 * For each σ:
 *   1. reference solutions θ(20): Gauss–Legendre s = 2 (adaptive) and ARKODE ERK
 *      (Dormand–Prince 5(4)) at rtol 1e-13, atol 1e-15; their agreement is reported and
 *      both are written to OUT/ref_<σ>_{gauss2,erk}_W{1,2}.npy. θ_ref is the Gauss s = 2
 *      solution (conserves C_1 to round-off; see the README for the cross-check with
 *      solve_ivp DOP853).
 *   2. the tolerance ladder rtol = 10^-k, k = 2..12, atol = rtol·1e-2, for ERK
 *      (&dln_integrator_flow), CVODE, AUTO, RKC, DOP853 (dln's own 8(5,3) pair), AUTO with
 *      auto_dop853_rtol 0 ("auto5": RK phase always DP5) and 1 ("auto8": always DOP853),
 *      and Gauss s = 2: relative error
 *      ‖θ(20) − θ_ref‖/‖θ_ref‖, end-to-end error ‖W(20) − W_ref‖/‖W_ref‖, RHS evaluations,
 *      Hessian-vector products, steps, wall time (best of 3 dln_train calls, each from
 *      θ(0), set-up included), conservation drift ‖C_1(20) − C_1(0)‖_F/max(1, ‖C_1(0)‖_F).
 *      A run that takes longer than --cap seconds is cancelled (recorded as a timeout)
 *      and the tighter tolerances of that method are skipped.
 *   3. gradient descent with η = 20/n: a ladder η = 10^-k (k = 1, 2, …) while stable
 *      and within the cap; then, for each accuracy level, η* from the fitted
 *      err ≈ c·η (verified by a run; halved until the level is reached or the cap is
 *      hit; the unreachable levels report the extrapolated time).
 *
 *   bench_flow --data DIR --out DIR [--cap SECONDS] [--quick] [--repeats N] [--only NAME,...]
 * (--repeats: best of N calls per setting, default 3; --only: these methods of the ladder,
 * e.g. "rkc,dop853", for a focused measurement; the GD ladder runs only without --only;
 * --nsigma N: the first N of σ = 0.01, 1, 10; --rtols a,b,...: this ladder instead;
 * bench/flow_ab.py runs these interleaved with SciPy for paired ratios)
 *
 * stdout: one JSON object; stderr: progress lines. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "benchutil.h"
#include "dln/error.h"
#include "dln/init.h"
#include "dln/io.h"
#include "dln/loss.h"
#include "dln/mat.h"
#include "dln/net.h"
#include "dln/train.h"

#define CHECK BU_CHECK

/* ------------------------------------------------------------------ problem */
static dln_net *net;
static dln_loss *loss;
static size_t np;
static double *Wbuf_g, *z, *theta0, *theta, *ref, *Wref, *Wbuf, *C0, *Cbuf;
static const int widths[3] = {10, 50, 5};
static double cap_seconds = 60.0;
static int n_repeats = 3;
static int nsigma = 3, nrtols = 0; /* --nsigma: the first N of σ = 0.01, 1, 10; --rtols: the ladder */
static double rtols[16];
static const char *only = NULL;

/* 1 if name is an item of the comma-separated list */
static int in_list(const char *list, const char *name) {
  size_t n = strlen(name);
  for (const char *p = list; *p;) {
    const char *e = strchr(p, ',');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    if (len == n && !strncmp(p, name, n)) return 1;
    if (!e) break;
    p = e + 1;
  }
  return 0;
}

static double rel_diff(size_t n, const double *a, const double *b) {
  double d = 0, r = 0;
  for (size_t i = 0; i < n; ++i) {
    d += (a[i] - b[i]) * (a[i] - b[i]);
    r += b[i] * b[i];
  }
  return sqrt(d) / sqrt(r);
}

static double drift(const double *th) {
  CHECK(dln_net_conserved(net, th, 1, Cbuf));
  double d = 0, c = 0;
  for (int i = 0; i < 50 * 50; ++i) {
    d += (Cbuf[i] - C0[i]) * (Cbuf[i] - C0[i]);
    c += C0[i] * C0[i];
  }
  c = sqrt(c);
  return sqrt(d) / (c > 1 ? c : 1);
}

static double err_W(const double *th) {
  CHECK(dln_net_product(net, th, Wbuf));
  return rel_diff(50, Wbuf, Wref);
}

/* ρ(∇²φ(θ)) = max |λ| by power iteration on the exact Hessian-vector product, as the
 * norm ratio ‖Hv‖/‖v‖ (near a saddle ∇²φ has eigenvalue pairs ±λ, for which the
 * Rayleigh quotient vᵀHv tends to 0, not to ρ). */
static double hess_rho(const double *th) {
  double *v = malloc(np * sizeof(double)), *w = malloc(np * sizeof(double));
  for (size_t i = 0; i < np; ++i) v[i] = sin(1.0 + (double)i); /* deterministic start */
  double lam = 0;
  for (int it = 0; it < 1000; ++it) {
    double nv = dln_norm2(np, v);
    for (size_t i = 0; i < np; ++i) v[i] /= nv;
    CHECK(dln_net_hvp(net, loss, th, v, w));
    double l = dln_norm2(np, w);
    memcpy(v, w, np * sizeof(double));
    if (it > 20 && fabs(l - lam) <= 1e-10 * l) {
      lam = l;
      break;
    }
    lam = l;
  }
  free(v);
  free(w);
  return lam;
}

/* Wall time of one gradient ∇φ(θ) (the flow's right-hand side up to its sign), µs: best of
 * 5 batches of 20000 calls, so the integrators' overhead per evaluation is wall/RHS − this. */
static double grad_us(const double *th) {
  double best = INFINITY;
  for (int b = 0; b < 5; ++b) {
    double t0 = bu_now(), v;
    for (int k = 0; k < 20000; ++k) CHECK(dln_net_grad(net, loss, th, &v, Wbuf_g, NULL));
    double dt = (bu_now() - t0) / 20000 * 1e6;
    if (dt < best) best = dt;
  }
  return best;
}

/* ------------------------------------------------------------------ runs */
typedef struct cap_ctx {
  double t0;
} cap_ctx;

static int cap_progress(void *ctx, double t, double t_end, double lossv) {
  (void)t, (void)t_end, (void)lossv;
  return bu_now() - ((cap_ctx *)ctx)->t0 > cap_seconds;
}

typedef struct run_rec {
  const char *solver;
  double rtol, atol, eta;
  int status; /* dln_stop_reason */
  char message[512];
  const char *integrator;
  double t, err, errW, drift, seconds, runs[3], loss, switched_at;
  int nruns;
  long grad_evals, jtv_evals, steps, rejected, nonlin_iters, lin_iters, nonlin_fails;
} run_rec;

static void base_opts(dln_train_options *o, const dln_integrator_type *method, double rtol) {
  dln_train_default_options(o);
  o->method = method;
  o->t_end = 20.0;
  o->rtol = rtol;
  o->atol = rtol * 1e-2;
  o->nsamples = 2;
  o->max_steps = 100000000L;
  if (method == &dln_integrator_gauss) o->gauss_stages = 2;
}

/* Best of `repeats` runs from theta0 (fewer if one takes > 2 s); result in theta. */
static run_rec run_method(const char *name, const dln_train_options *o, int repeats) {
  run_rec r;
  memset(&r, 0, sizeof r);
  r.solver = name;
  r.rtol = o->rtol;
  r.atol = o->atol;
  r.eta = o->method == &dln_integrator_gd ? o->eta : NAN;
  r.seconds = INFINITY;
  dln_train_options oo = *o;
  cap_ctx cc;
  oo.progress = cap_progress;
  oo.progress_ctx = &cc;
  for (int k = 0; k < repeats; ++k) {
    memcpy(theta, theta0, np * sizeof(double));
    dln_train_result res;
    cc.t0 = bu_now();
    double dt = bu_timed_train(net, loss, theta, &oo, &res);
    if (r.nruns < 3) r.runs[r.nruns++] = dt; /* the first three calls */
    if (dt < r.seconds) r.seconds = dt;
    r.status = res.stop_reason;
    snprintf(r.message, sizeof r.message, "%s", res.message);
    r.integrator = res.integrator;
    r.t = res.t;
    r.loss = res.loss;
    r.grad_evals = res.grad_evals;
    r.jtv_evals = res.jtv_evals;
    r.steps = res.steps;
    r.rejected = res.rejected;
    r.nonlin_iters = res.nonlin_iters;
    r.lin_iters = res.lin_iters;
    r.nonlin_fails = res.nonlin_fails;
    r.switched_at = res.switched_at;
    if (res.stop_reason != DLN_STOP_TIME || dt > 2.0) break;
  }
  if (r.status == DLN_STOP_TIME) {
    r.err = rel_diff(np, theta, ref);
    r.errW = err_W(theta);
    r.drift = drift(theta);
  } else {
    r.err = r.errW = r.drift = NAN;
  }
  return r;
}

static void print_rec(const run_rec *r) {
  printf("{\"solver\": ");
  bu_jstr(r->solver);
  bu_knum("rtol", r->rtol);
  bu_knum("atol", r->atol);
  bu_knum("eta", r->eta);
  bu_kstr("status", r->status == DLN_STOP_CANCELLED ? "timeout" : dln_stop_reason_name(r->status));
  printf(", \"ok\": %s", r->status == DLN_STOP_TIME ? "true" : "false");
  bu_kstr("message", r->message);
  bu_kstr("integrator", r->integrator ? r->integrator : "");
  bu_knum("t_final", r->t);
  bu_knum("err", r->err);
  bu_knum("err_W", r->errW);
  bu_knum("drift_C1", r->drift);
  bu_knum("seconds", r->seconds);
  printf(", \"seconds_runs\": [");
  bu_jnums(r->runs, r->nruns);
  printf("], \"rhs_evals\": %ld, \"hv_evals\": %ld, \"steps\": %ld, \"rejected\": %ld, \"nonlin_iters\": %ld, "
         "\"lin_iters\": %ld, \"nonlin_fails\": %ld",
         r->grad_evals, r->jtv_evals, r->steps, r->rejected, r->nonlin_iters, r->lin_iters, r->nonlin_fails);
  bu_knum("final_loss", r->loss);
  bu_knum("switched_at", r->switched_at);
  printf("}");
}

static void log_rec(const char *skey, const run_rec *r) {
  fprintf(stderr, "%-9s %-7s rtol %-7.0e eta %-9.3g %-9s err %-9.2e errW %-9.2e drift %-9.2e %9.4f s  rhs %8ld hv %7ld steps %7ld\n",
          skey, r->solver, r->rtol, r->eta, r->status == DLN_STOP_CANCELLED ? "timeout" : dln_stop_reason_name(r->status),
          r->err, r->errW, r->drift, r->seconds, r->grad_evals, r->jtv_evals, r->steps);
}

static void write_layers(const char *dir, const char *tag, const double *th) {
  char path[1200];
  snprintf(path, sizeof path, "%s/%s_W1.npy", dir, tag);
  CHECK(dln_npy_write(path, 50, 10, dln_net_layer_const(net, th, 1), 0));
  snprintf(path, sizeof path, "%s/%s_W2.npy", dir, tag);
  CHECK(dln_npy_write(path, 5, 50, dln_net_layer_const(net, th, 2), 0));
}

/* GD with n steps (η = 20/n). */
static run_rec run_gd(long n, int repeats) {
  dln_train_options o;
  base_opts(&o, &dln_integrator_gd, 1e-8); /* tolerances unused by GD, but checked */
  o.rtol = 1e-8;
  o.atol = 1e-10;
  o.eta = 20.0 / (double)n;
  o.max_steps = n;
  run_rec r = run_method("gd", &o, repeats);
  r.rtol = r.atol = NAN;
  return r;
}

/* ------------------------------------------------------------------ main */
#define MAXREC 256

int main(int argc, char **argv) {
  bu_set_program("bench_flow");
  const char *data_dir = NULL, *out_dir = NULL;
  int quick = 0;
  for (int i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "--data") && i + 1 < argc) data_dir = argv[++i];
    else if (!strcmp(argv[i], "--out") && i + 1 < argc) out_dir = argv[++i];
    else if (!strcmp(argv[i], "--cap") && i + 1 < argc) cap_seconds = atof(argv[++i]);
    else if (!strcmp(argv[i], "--quick")) quick = 1;
    else if (!strcmp(argv[i], "--repeats") && i + 1 < argc) n_repeats = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--only") && i + 1 < argc) only = argv[++i];
    else if (!strcmp(argv[i], "--nsigma") && i + 1 < argc) nsigma = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--rtols") && i + 1 < argc) {
      for (char *p = argv[++i]; *p && nrtols < 16;) {
        char *e;
        rtols[nrtols++] = strtod(p, &e);
        p = *e == ',' ? e + 1 : e;
        if (e == p && *e) break;
      }
    }
    else {
      fprintf(stderr, "usage: %s --data DIR --out DIR [--cap SECONDS] [--quick] [--repeats N] [--only NAME,...]\n", argv[0]);
      return 2;
    }
  }
  if (!data_dir || !out_dir) {
    fprintf(stderr, "usage: %s --data DIR --out DIR [--cap SECONDS] [--quick] [--repeats N] [--only NAME,...]\n", argv[0]);
    return 2;
  }
  openblas_set_num_threads(1);
  double T0 = bu_now(), la0[3], la1[3];
  bu_loadavg(la0);
  char cpu[256];
  bu_cpu_model(cpu, sizeof cpu);

  CHECK(dln_net_alloc(&net, 2, widths, 0));
  np = net->nparams;
  dln_mat *Y = bu_read_npy(data_dir, "", "target");
  CHECK(dln_loss_factorization_alloc(&loss, Y));
  z = malloc(np * sizeof(double));
  theta0 = malloc(np * sizeof(double));
  Wbuf_g = malloc(np * sizeof(double));
  theta = malloc(np * sizeof(double));
  ref = malloc(np * sizeof(double));
  double *ref_g = malloc(np * sizeof(double));
  Wref = malloc(50 * sizeof(double));
  Wbuf = malloc(50 * sizeof(double));
  C0 = malloc(2500 * sizeof(double));
  Cbuf = malloc(2500 * sizeof(double));
  bu_read_layers(data_dir, "", net, z); /* Z1.npy, Z2.npy */

  const double sigmas[3] = {1e-2, 1.0, 10.0};
  const char *skeys[3] = {"sigma=0.01", "sigma=1", "sigma=10"};
  const char *stags[3] = {"s0.01", "s1", "s10"};
  const int nk = nrtols ? nrtols : quick ? 4 : 11; /* rtol 1e-2 .. 1e-12 (quick: 1e-3, 1e-5, 1e-7, 1e-9) */
  if (nsigma < 1 || nsigma > 3) nsigma = 3;
  struct {
    const char *name;
    const dln_integrator_type *method;
    double sel; /* ≥ 0: auto_dop853_rtol (0: the RK phase always Dormand-Prince 5(4), 1: always DOP853) */
  } methods[] = {{"erk", &dln_integrator_flow, -1},      {"cvode", &dln_integrator_cvode, -1},
                 {"auto", &dln_integrator_auto, -1},     {"rkc", &dln_integrator_rkc, -1},
                 {"dop853", &dln_integrator_dop853, -1}, {"auto5", &dln_integrator_auto, 0},
                 {"auto8", &dln_integrator_auto, 1},     {"gauss2", &dln_integrator_gauss, -1}};
  const int nmethods = (int)(sizeof methods / sizeof *methods);
  const double levels[3] = {1e-4, 1e-6, 1e-9};

  bu_meta_begin("bench_flow", cpu);
  bu_kcompiler();
  bu_kstr("data_dir", data_dir);
  printf(", \"quick\": %s", quick ? "true" : "false");
  bu_knum("cap_seconds", cap_seconds);
  printf(", \"timing\": \"best of 3 dln_train calls from theta(0) (fewer when one takes > 2 s), set-up included, "
         "nsamples 2, obs NULL\", \"loadavg_start\": [");
  bu_jnums(la0, 3);
  printf("]},\n \"problem\": {\"loss\": \"0.5*||W2 W1 - Ybar||_F^2\", \"widths\": [10, 50, 5], \"n_params\": %zu, "
         "\"t_end\": 20, \"atol_over_rtol\": 0.01},\n \"cases\": {\n", np);

  for (int s = 0; s < nsigma; ++s) {
    double sigma = sigmas[s];
    for (size_t i = 0; i < np; ++i) theta0[i] = sigma * z[i];
    CHECK(dln_net_conserved(net, theta0, 1, C0));
    double c0n = 0;
    for (int i = 0; i < 2500; ++i) c0n += C0[i] * C0[i];
    c0n = sqrt(c0n);
    double loss0;
    CHECK(dln_net_grad(net, loss, theta0, &loss0, NULL, NULL));
    double rho0 = hess_rho(theta0), gus = grad_us(theta0);
    fprintf(stderr, "%s: gradient %.3f us\n", skeys[s], gus);

    /* references: ERK (used) and Gauss s = 2 (cross-check) */
    dln_train_options o;
    double save_cap = cap_seconds;
    cap_seconds = 1e9;
    base_opts(&o, &dln_integrator_flow, 1e-13);
    o.atol = 1e-15;
    memcpy(ref, theta0, np * sizeof(double)); /* placeholder for run_method's error */
    run_rec re = run_method("erk-ref", &o, 1);
    memcpy(ref, theta, np * sizeof(double));
    base_opts(&o, &dln_integrator_gauss, 1e-13);
    o.atol = 1e-15;
    run_rec rg = run_method("gauss2-ref", &o, 1);
    memcpy(ref_g, theta, np * sizeof(double));
    cap_seconds = save_cap;
    if (rg.status != DLN_STOP_TIME || re.status != DLN_STOP_TIME) {
      fprintf(stderr, "bench_flow: reference run failed: %s / %s\n", re.message, rg.message);
      return 1;
    }
    CHECK(dln_net_product(net, ref, Wref));
    re.err = 0;
    re.errW = 0;
    re.drift = drift(ref);
    rg.err = rel_diff(np, ref_g, ref);
    rg.errW = err_W(ref_g);
    rg.drift = drift(ref_g);
    double rho_end = hess_rho(ref), loss_end;
    CHECK(dln_net_grad(net, loss, ref, &loss_end, NULL, NULL));
    char tag[64];
    snprintf(tag, sizeof tag, "ref_%s_erk", stags[s]);
    write_layers(out_dir, tag, ref);
    snprintf(tag, sizeof tag, "ref_%s_gauss2", stags[s]);
    write_layers(out_dir, tag, ref_g);
    fprintf(stderr, "%s: loss(0) %.6g  rho(0) %.4g  rho(20) %.4g  ||C1(0)|| %.4g  loss(20) %.3g\n", skeys[s], loss0,
            rho0, rho_end, c0n, loss_end);
    fprintf(stderr, "%s: reference gauss2 %.2f s (%ld steps), erk %.2f s (%ld steps); |gauss2 - erk|/|erk| = %.2e\n",
            skeys[s], rg.seconds, rg.steps, re.seconds, re.steps, rg.err);

    static run_rec recs[MAXREC];
    int nrec = 0;
    for (int m = 0; m < nmethods; ++m) {
      int skip = 0;
      if (only && !in_list(only, methods[m].name)) continue;
      for (int k = 0; k < nk; ++k) {
        double rtol = nrtols ? rtols[k] : pow(10.0, -(quick ? 3 + 2 * k : 2 + k));
        base_opts(&o, methods[m].method, rtol);
        if (methods[m].sel >= 0) o.auto_dop853_rtol = methods[m].sel;
        if (skip) {
          run_rec r;
          memset(&r, 0, sizeof r);
          r.solver = methods[m].name;
          r.rtol = rtol;
          r.atol = rtol * 1e-2;
          r.eta = NAN;
          r.status = DLN_STOP_NONE;
          snprintf(r.message, sizeof r.message, "skipped: a looser tolerance timed out or failed");
          r.t = r.err = r.errW = r.drift = r.seconds = r.loss = r.switched_at = NAN;
          recs[nrec++] = r;
          continue;
        }
        recs[nrec] = run_method(methods[m].name, &o, n_repeats);
        log_rec(skeys[s], &recs[nrec]);
        if (recs[nrec].status != DLN_STOP_TIME) skip = 1;
        nrec++;
      }
    }

    /* gradient descent: η ladder until err is linear in η, then η* per accuracy level */
    double c_fit = NAN, sps = 1.0e6, prev_err = NAN;
    for (int k = 1; k <= 8 && !only; ++k) {
      long n = (long)llround(20.0 * pow(10.0, k));
      if ((double)n / sps > cap_seconds) break;
      run_rec r = run_gd(n, 3);
      log_rec(skeys[s], &r);
      recs[nrec++] = r;
      if (r.status != DLN_STOP_TIME) continue;
      sps = (double)n / r.seconds;
      c_fit = r.err * (double)n / 20.0; /* err ≈ c·η, η = 20/n */
      if (r.err < levels[2] || (isfinite(prev_err) && fabs(prev_err / r.err / 10.0 - 1.0) < 0.15)) break;
      prev_err = r.err;
    }
    fprintf(stderr, "%s: GD err ≈ %.3g·η, %.3g steps/s\n", skeys[s], c_fit, sps);
    double gd_eta[3], gd_est[3];
    int gd_reached[3];
    for (int l = 0; l < 3; ++l) {
      gd_reached[l] = 0;
      gd_eta[l] = gd_est[l] = NAN;
      if (!isfinite(c_fit)) continue;
      double eta = 0.9 * levels[l] / c_fit;
      for (int tries = 0; tries < 4; ++tries) {
        long n = (long)ceil(20.0 / eta);
        gd_eta[l] = 20.0 / (double)n;
        gd_est[l] = (double)n / sps;
        if ((double)n / sps > cap_seconds) break;
        run_rec r = run_gd(n, (double)n / sps < 0.7 ? 3 : 1);
        log_rec(skeys[s], &r);
        recs[nrec++] = r;
        if (r.status == DLN_STOP_TIME) sps = (double)n / r.seconds;
        if (r.status == DLN_STOP_TIME && r.err <= levels[l]) {
          gd_reached[l] = 1;
          gd_est[l] = r.seconds;
          break;
        }
        if (r.status == DLN_STOP_TIME && r.err > 0) eta *= 0.9 * levels[l] / r.err;
        else eta *= 0.5;
      }
    }

    printf("  ");
    bu_jstr(skeys[s]);
    printf(": {\"sigma\": ");
    bu_jnum(sigma);
    bu_knum("init_loss", loss0);
    bu_knum("loss_at_20", loss_end);
    bu_knum("rho_hessian_0", rho0);
    bu_knum("grad_us", gus);
    bu_knum("rho_hessian_20", rho_end);
    bu_knum("norm_C1_0", c0n);
    bu_knum("gd_err_per_eta", c_fit);
    bu_knum("gd_steps_per_s", sps);
    printf(",\n   \"gd_levels\": [");
    for (int l = 0; l < 3; ++l) {
      printf("%s{\"level\": ", l ? ", " : "");
      bu_jnum(levels[l]);
      bu_knum("eta", gd_eta[l]);
      printf(", \"reached_within_cap\": %s", gd_reached[l] ? "true" : "false");
      bu_knum("seconds", gd_est[l]);
      printf(", \"seconds_is_estimate\": %s}", gd_reached[l] ? "false" : "true");
    }
    printf("]");
    printf(",\n   \"reference\": {\"used\": \"erk\", \"files\": \"ref_%s_{erk,gauss2}_W{1,2}.npy\", \"erk\": ", stags[s]);
    print_rec(&re);
    printf(",\n    \"gauss2\": ");
    print_rec(&rg);
    bu_knum("gauss2_vs_erk", rg.err);
    printf("},\n   \"runs\": [\n");
    for (int i = 0; i < nrec; ++i) {
      printf("    ");
      print_rec(&recs[i]);
      printf("%s\n", i + 1 < nrec ? "," : "");
    }
    printf("   ]}%s\n", s < nsigma - 1 ? "," : "");
    fflush(stdout);
  }
  bu_loadavg(la1);
  printf(" },\n \"loadavg_end\": [");
  bu_jnums(la1, 3);
  printf("]");
  bu_knum("total_seconds", bu_now() - T0);
  printf("\n}\n");

  dln_mat_free(Y);
  dln_net_free(net);
  dln_loss_free(loss);
  free(z);
  free(theta0);
  free(Wbuf_g);
  free(theta);
  free(ref);
  free(ref_g);
  free(Wref);
  free(Wbuf);
  free(C0);
  free(Cbuf);
  return 0;
}
