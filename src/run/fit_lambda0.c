/* `dln fit-lambda0` (dln/fit.h): the λ0 of the imbalance regularizer (001 Prop. 4, eq. 26–27)
 * whose flow X^I(t) is closest to the unregularized flow X(t) from the same start, as in
 * 001 §6 Fig. 2: f(λ0) = ∫ ‖X^I(t) − X(t)‖_F dt by the trapezoid rule over the sample
 * times, minimized by gsl_min_fminimizer_brent on a bracket from a grid (dln/fit.h). */
#include "dln/fit.h"

#include <gsl/gsl_errno.h>
#include <gsl/gsl_min.h>
#include <math.h>
#include <lapacke.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "dln/error.h"
#include "dln/io.h"
#include "dln/rng.h"
#include "dln/run.h"
#include "io/io_internal.h"
#include "io/json_util.h"
#include "run/run_internal.h"

typedef struct fit_ctx {
  dln_net *net;
  dln_loss *loss;
  const double *theta0;
  dln_train_options to;
  double *theta, *ref, *times; /* ref: X(t_i) of the unregularized run, ns x rc */
  dln_table *tab;              /* rows (t, vec X) of the current run */
  size_t rc;
  int ns, st;                  /* st: first failure inside the GSL callback */
  dln_fit_lambda0_result *res;
  int cap;                     /* room in res->lam, res->obj */
  size_t nref;                 /* rows of the reference run (0 before it) */
} fit_ctx;

static int sample_X(void *ctx, double t, long step, const double *theta, double *row) {
  (void)step;
  fit_ctx *f = ctx;
  row[0] = t;
  return dln_net_product(f->net, theta, row + 1);
}

/* One run from θ0 with the net's current regularizer into f->tab (ns rows to t_end). */
static int run_once(fit_ctx *f, const char *what) {
  memcpy(f->theta, f->theta0, f->net->nparams * sizeof *f->theta);
  f->tab->nrows = 0;
  dln_sampler s = {(int)f->rc + 1, sample_X, f};
  dln_train_result r;
  int st = dln_train_sampled(f->net, f->loss, f->theta, &f->to, &s, f->tab, &r);
  if (st) return st;
  /* (gradient descent records one row for sample times that round to one step) */
  if (r.stop_reason != DLN_STOP_TIME || (f->nref && f->tab->nrows != f->nref))
    return dln_error(DLN_EDIVERGED, "fit-lambda0: the %s run stopped at t = %g before t_end = %g (%s: %s)", what, r.t,
                     f->to.t_end, dln_stop_reason_name(r.stop_reason), r.message);
  return DLN_OK;
}

/* f(λ0) = Σ_i ½ (t_{i+1} − t_i)(e_i + e_{i+1}), e_i = ‖X^I(t_i) − X(t_i)‖_F. */
static int objective(fit_ctx *f, double lambda0, double *val) {
  char what[64];
  snprintf(what, sizeof what, "lambda0 = %.17g", lambda0);
  int st = dln_net_set_imbalance_reg(f->net, lambda0, NULL);
  if (!st) st = run_once(f, what);
  if (st) return st;
  double sum = 0, eprev = 0, tprev = 0;
  size_t nc = f->rc + 1;
  for (int i = 0; i < (int)f->nref; ++i) {
    const double *row = f->tab->data + (size_t)i * nc;
    double e = 0;
    for (size_t k = 0; k < f->rc; ++k) {
      double d = row[1 + k] - f->ref[(size_t)i * f->rc + k];
      e += d * d;
    }
    e = sqrt(e);
    if (i) sum += 0.5 * (row[0] - tprev) * (e + eprev);
    eprev = e, tprev = row[0];
  }
  dln_fit_lambda0_result *r = f->res;
  if (r->n < f->cap) r->lam[r->n] = lambda0, r->obj[r->n++] = sum;
  *val = sum;
  return DLN_OK;
}

static double gsl_f(double x, void *p) {
  fit_ctx *f = p;
  double v = NAN;
  if (f->st) return NAN;
  if ((f->st = objective(f, x, &v))) return NAN;
  return v;
}

void dln_fit_lambda0_default_options(dln_fit_lambda0_options *o) {
  if (!o) {
    dln_args_error(__func__, "o", 0);
    return;
  }
  memset(o, 0, sizeof *o);
  o->grid = 9;
  o->max_iter = 100;
}

void dln_fit_lambda0_result_free(dln_fit_lambda0_result *r) {
  if (!r) return;
  free(r->lam);
  free(r->obj);
  r->lam = r->obj = NULL;
  r->n = 0;
}

/* Default range: the extreme eigenvalues over the junctions of C_j(θ0). */
static int default_range(dln_net *net, const double *theta0, double *lo, double *hi) {
  *lo = INFINITY, *hi = -INFINITY;
  for (int j = 1; j < net->depth; ++j) {
    int q = net->widths[j];
    double *C = malloc((size_t)q * q * sizeof *C), *ev = malloc((size_t)q * sizeof *ev);
    int st = (C && ev) ? dln_net_conserved(net, theta0, j, C) : dln_error(DLN_ENOMEM, "out of memory");
    if (!st && LAPACKE_dsyev(LAPACK_COL_MAJOR, 'N', 'U', q, C, q, ev))
      st = dln_error(DLN_ELAPACK, "fit-lambda0: eigenvalues of C_%d(0) failed", j);
    if (!st) *lo = fmin(*lo, ev[0]), *hi = fmax(*hi, ev[q - 1]);
    free(C), free(ev);
    if (st) return st;
  }
  if (!(*hi > *lo)) *lo -= 1, *hi += 1;
  return DLN_OK;
}

static int check_args(dln_net *net, const dln_fit_lambda0_options *fo, const dln_train_options *to) {
  if (net->tied || net->depth < 2)
    return dln_error(DLN_EINVAL, "fit-lambda0: expected an untied network of depth >= 2, found depth %d%s", net->depth,
                     net->tied ? " (tied)" : "");
  if (dln_net_has_imbalance_reg(net))
    return dln_error(DLN_EINVAL, "fit-lambda0: expected a network without imbalance regularizer (the reference run is unregularized), found one");
  (void)to;
  if (fo->grid < 3) return dln_error(DLN_EINVAL, "fit-lambda0 grid: expected at least 3 points, found %d", fo->grid);
  if (!(isfinite(fo->lo) && isfinite(fo->hi)) || fo->lo > fo->hi || (fo->lo == fo->hi && fo->lo != 0))
    return dln_error(DLN_EINVAL, "fit-lambda0 range: expected finite lo < hi (or both 0: default), found [%g, %g]", fo->lo, fo->hi);
  if (!(fo->tol >= 0) || !isfinite(fo->tol)) return dln_error(DLN_EINVAL, "fit-lambda0 tol: expected >= 0, found %g", fo->tol);
  if (fo->max_iter < 1) return dln_error(DLN_EINVAL, "fit-lambda0 max_iter: expected >= 1, found %d", fo->max_iter);
  return DLN_OK;
}

/* Grid over [lo, hi], bracket at the best interior point, Brent within it. */
static int minimize(fit_ctx *f, const dln_fit_lambda0_options *fo, dln_fit_lambda0_result *r) {
  int G = fo->grid, best = 0, st;
  double *fv = malloc((size_t)G * sizeof *fv);
  if (!fv) return dln_error(DLN_ENOMEM, "out of memory");
  for (int i = 0; i < G; ++i) {
    if ((st = objective(f, r->lo + (r->hi - r->lo) * i / (G - 1), &fv[i]))) { free(fv); return st; }
    if (fv[i] < fv[best]) best = i;
  }
  double h = (r->hi - r->lo) / (G - 1), a, m, b, fa, fm, fb;
  if (best > 0 && best < G - 1) {
    a = r->lo + h * (best - 1), m = r->lo + h * best, b = r->lo + h * (best + 1);
    fa = fv[best - 1], fm = fv[best], fb = fv[best + 1];
  } else { /* downhill past the end: steps of h outward until f rises (at most 4(G − 1)) */
    double dir = best ? 1.0 : -1.0, x = r->lo + h * best, fx = fv[best], xp = x - dir * h, fp = fv[best ? G - 2 : 1], fn = fx;
    int k;
    for (k = 1; k <= 4 * (G - 1); ++k) {
      if ((st = objective(f, x + dir * h, &fn))) { free(fv); return st; }
      if (fn > fx) break;
      xp = x, fp = fx, x += dir * h, fx = fn;
    }
    if (k > 4 * (G - 1)) {
      free(fv);
      r->lambda0 = x, r->objective = fx;
      return dln_error(DLN_EINVAL, "fit-lambda0: f still decreases at lambda0 = %g, %d grid steps past [%g, %g]: give a range around the minimum (--lo/--hi)",
                       x, 4 * (G - 1), r->lo, r->hi);
    }
    a = fmin(xp, x + dir * h), b = fmax(xp, x + dir * h), m = x, fm = fx;
    fa = dir > 0 ? fp : fn, fb = dir > 0 ? fn : fp;
  }
  free(fv);
  gsl_function F = {gsl_f, f};
  gsl_min_fminimizer *mz = gsl_min_fminimizer_alloc(gsl_min_fminimizer_brent);
  if (!mz) return dln_error(DLN_ENOMEM, "out of memory (GSL minimizer)");
  gsl_error_handler_t *old = gsl_set_error_handler_off();
  /* the bracket's ends were evaluated: f(a) > f(m) < f(b) */
  st = gsl_min_fminimizer_set_with_values(mz, &F, m, fm, a, fa, b, fb);
  double tol = fo->tol > 0 ? fo->tol : 1e-4 * (r->hi - r->lo);
  int it = 0, status = st ? st : GSL_CONTINUE;
  while (!st && status == GSL_CONTINUE && it < fo->max_iter) {
    ++it;
    if ((st = gsl_min_fminimizer_iterate(mz)) || f->st) break;
    status = gsl_min_test_interval(gsl_min_fminimizer_x_lower(mz), gsl_min_fminimizer_x_upper(mz), tol, 0.0);
  }
  r->lambda0 = gsl_min_fminimizer_x_minimum(mz);
  r->objective = gsl_min_fminimizer_f_minimum(mz);
  r->a = gsl_min_fminimizer_x_lower(mz);
  r->b = gsl_min_fminimizer_x_upper(mz);
  r->iterations = it;
  gsl_min_fminimizer_free(mz);
  gsl_set_error_handler(old);
  if (f->st) return f->st;
  if (st) return dln_error(DLN_ESOLVER, "fit-lambda0: GSL Brent minimizer failed: %s", gsl_strerror(st));
  return DLN_OK;
}

int dln_fit_lambda0(dln_net *net, dln_loss *loss, const double *theta0, const dln_train_options *to,
                    const dln_fit_lambda0_options *fo, dln_fit_lambda0_result *res) {
  DLN_ARGS(net, loss, theta0, to, fo, res);
  memset(res, 0, sizeof *res);
  int st = check_args(net, fo, to);
  if (st) return st;
  fit_ctx f = {net, loss, theta0, *to, NULL, NULL, NULL, NULL, 0, 0, 0, res, 5 * fo->grid + fo->max_iter + 8, 0};
  f.to.loss_threshold = -1; /* every run to t_end */
  f.to.grad_tol = 0;
  f.to.checkpoint_every = 0;
  f.to.resume = NULL;
  f.to.progress = NULL;
  if ((st = dln_train_check(&f.to))) return st;
  res->lo = fo->lo, res->hi = fo->hi;
  if (fo->lo == 0 && fo->hi == 0 && (st = default_range(net, theta0, &res->lo, &res->hi))) return st;
  f.ns = dln_train_nsamples(&f.to);
  f.rc = (size_t)dln_net_rows(net) * (size_t)dln_net_cols(net);
  res->lam = malloc((size_t)f.cap * sizeof *res->lam);
  res->obj = malloc((size_t)f.cap * sizeof *res->obj);
  f.theta = malloc((net->nparams ? net->nparams : 1) * sizeof *f.theta);
  f.ref = malloc(((size_t)f.ns + 1) * f.rc * sizeof *f.ref); /* + a final row off the sample times */
  const char **names = malloc((f.rc + 1) * sizeof *names);
  if (!res->lam || !res->obj || !f.theta || !f.ref || !names) st = dln_error(DLN_ENOMEM, "out of memory for fit-lambda0");
  for (size_t k = 0; !st && k <= f.rc; ++k) names[k] = k ? "x" : "t";
  if (!st) st = dln_table_alloc(&f.tab, (int)f.rc + 1, names, (size_t)f.ns + 1);
  free(names);
  if (!st) st = run_once(&f, "unregularized");
  if (!st) f.nref = f.tab->nrows, res->nsamples = (int)f.nref;
  for (int i = 0; !st && i < (int)f.nref; ++i) memcpy(f.ref + (size_t)i * f.rc, f.tab->data + (size_t)i * (f.rc + 1) + 1, f.rc * sizeof *f.ref);
  if (!st) st = minimize(&f, fo, res);
  dln_net_clear_imbalance_reg(net);
  dln_table_free(f.tab);
  free(f.theta);
  free(f.ref);
  return st;
}

/* out_dir/fit_lambda0.json: the minimizer, the bracket, every evaluation. */
static int write_fit_json(const char *out_dir, const dln_spec *spec, const dln_fit_lambda0_options *fo,
                          const dln_fit_lambda0_result *r) {
  int st = dln_mkdir_p(out_dir);
  if (st) return st;
  unsigned long mark = dln_json_mark();
  json_t *root = json_object(), *ev = json_array();
  for (int i = 0; i < r->n; ++i)
    dln_jappend(ev, DLN_JSON_SET(json_object(), "lambda0", dln_json_num(r->lam[i]), "objective", dln_json_num(r->obj[i])));
  DLN_JSON_SET(root, "objective_definition", json_string("trapezoid over the sample times of ||X_reg(t) - X(t)||_F, X = W_N...W_1, same init (001 Fig. 2)"),
               "lambda0", dln_json_num(r->lambda0), "objective", dln_json_num(r->objective),
               "grid_range", json_pack("[ff]", r->lo, r->hi),
               "grid", json_integer(fo->grid), "bracket_final", json_pack("[ff]", r->a, r->b),
               "minimizer", json_string("gsl_min_fminimizer_brent"),
               "tol", dln_json_num(fo->tol > 0 ? fo->tol : 1e-4 * (r->hi - r->lo)), "iterations", json_integer(r->iterations),
               "method", json_string(spec->method), "t_end", dln_json_num(spec->train.t_end), "samples", json_integer(r->nsamples),
               "evaluations", ev);
  root = dln_json_done(root, mark);
  char *path = dln_path_join(out_dir, "fit_lambda0.json");
  st = path ? dln_json_write(path, root) : dln_error(DLN_ENOMEM, "out of memory");
  free(path);
  json_decref(root);
  return st;
}

int dln_fit_lambda0_spec(const dln_spec *spec, const dln_fit_lambda0_options *fo, const char *out_dir,
                         dln_fit_lambda0_result *res, int *phase) {
  DLN_ARGS(spec, fo, res, phase);
  memset(res, 0, sizeof *res);
  *phase = DLN_RUN_FAIL_SPEC;
  int st = dln_spec_check(spec);
  if (st) return st;
  if (spec->net.imbalance_reg.n || spec->net.imbalance_reg_file.n)
    return dln_error(DLN_EINVAL, "fit-lambda0: imbalance_reg: expected none in the spec (the reference run is unregularized; fit-lambda0 sets lambda0), found one");
  dln_run_data d;
  dln_run_parts p;
  memset(&d, 0, sizeof d);
  memset(&p, 0, sizeof p);
  dln_rng *rng = dln_rng_alloc(spec->seed, spec->stream); /* data, then init: as dln run */
  if (!rng) st = dln_error(DLN_ENOMEM, "out of memory");
  if (!st) st = dln_run_data_build(spec, rng, &d, phase);
  if (!st) st = dln_run_parts_build(spec, &d, rng, &p, phase);
  if (!st && p.e2e) {
    *phase = DLN_RUN_FAIL_SPEC;
    st = dln_error(DLN_EINVAL, "fit-lambda0: method: expected a layer-wise method, found %s (end-to-end)", spec->method);
  }
  if (!st) {
    *phase = DLN_RUN_FAIL_SPEC;
    st = dln_fit_lambda0(p.net, p.loss, p.theta0, &p.to, fo, res);
  }
  if (!st && out_dir) {
    *phase = DLN_RUN_FAIL_OUTPUT;
    st = write_fit_json(out_dir, spec, fo, res);
  }
  if (!st) *phase = DLN_RUN_FAIL_NONE;
  dln_run_parts_free(&p);
  dln_run_data_free(&d);
  dln_rng_free(rng);
  return st;
}
