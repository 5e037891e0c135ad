/* The robustness curve (dln/robust.h): the critical disturbance scale over starts at
 * increasing distance from S^− (000 §III), each point a bisection of its own, points on
 * threads (each writes only its own slot, so the result does not depend on the count),
 * beside 000 Thm 2's guaranteed scale; robust.csv, robust.json and manifest.json. */
#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dln/error.h"
#include "dln/io.h"
#include "dln/run.h"
#include "dln_version.h"
#include "io/json_util.h"
#include "run/robust_internal.h"

void dln_robust_curve_free(dln_robust_curve *c) {
  if (!c) return;
  for (int i = 0; c->pts && i < c->n; ++i) dln_robust_result_free(&c->pts[i]);
  free(c->pts);
  free(c->dist);
  memset(c, 0, sizeof *c);
}

/* The starts at distances d[i] from S^−: P = M + d u/√2, Q = −M + d u/√2 (dln/robust.h),
 * into th (n x nparams), from the spec's init. */
static int make_starts(const dln_spec *s, const double *d, int n, double **th, size_t *np, int *phase) {
  dln_rng *rng = dln_rng_alloc(s->seed, s->stream);
  dln_run_data dd;
  dln_run_parts p;
  memset(&dd, 0, sizeof dd), memset(&p, 0, sizeof p);
  int st = rng ? dln_run_data_build(s, rng, &dd, phase) : dln_error(DLN_ENOMEM, "out of memory");
  if (!st) st = dln_run_parts_build(s, &dd, rng, &p, phase);
  if (!st) *phase = DLN_RUN_FAIL_SPEC;
  double Y;
  if (!st && !dln_robust_scalar_case(&p, &Y))
    st = dln_error(DLN_EINVAL, "robust: dists: expected the scalar/vector case of 000 sec. III (depth 2, factorization, "
                               "1 x 1 target, no tie), found another network or task");
  for (int i = 0; !st && i < n; ++i)
    if (!(d[i] > 0) || !isfinite(d[i])) st = dln_error(DLN_EINVAL, "robust: dists: expected positive finite distances, found %g (item %d)", d[i], i + 1);
  if (!st) {
    *np = p.net->nparams;
    *th = malloc((size_t)n * *np * sizeof **th);
    if (!*th) st = dln_error(DLN_ENOMEM, "out of memory");
  }
  if (!st) {
    int k = p.net->widths[1], o1 = (int)p.net->offset[1], o2 = (int)p.net->offset[2];
    double nu = 0;
    for (int j = 0; j < k; ++j) nu += pow(p.theta0[o2 + j] + p.theta0[o1 + j], 2);
    nu = sqrt(nu);
    for (int i = 0; i < n; ++i) {
      double *t = *th + (size_t)i * *np;
      memcpy(t, p.theta0, *np * sizeof *t);
      for (int j = 0; j < k; ++j) {
        double P = p.theta0[o2 + j], Q = p.theta0[o1 + j], M = (P - Q) / 2;
        double u = nu > 0 ? (P + Q) / nu : 1 / sqrt((double)k);
        t[o2 + j] = M + d[i] * u / sqrt(2.0), t[o1 + j] = -M + d[i] * u / sqrt(2.0);
      }
    }
  }
  dln_run_parts_free(&p);
  dln_run_data_free(&dd);
  dln_rng_free(rng);
  return st;
}

typedef struct curve_job {
  const dln_spec *s;
  const dln_robust_options *o;
  const double *th; /* NULL: the spec's start */
  size_t np;
  dln_robust_curve *c;
  int next, err_at, err, err_phase;
  char msg[1024];
  pthread_mutex_t mu;
} curve_job;

static void *worker(void *arg) {
  curve_job *J = arg;
  for (;;) {
    pthread_mutex_lock(&J->mu);
    int i = J->err ? J->c->n : J->next++;
    pthread_mutex_unlock(&J->mu);
    if (i >= J->c->n) return NULL;
    int phase, st = dln_robust_spec(J->s, J->th ? J->th + (size_t)i * J->np : NULL, J->o, &J->c->pts[i], &phase);
    if (st) {
      pthread_mutex_lock(&J->mu);
      if (!J->err || i < J->err_at) J->err = st, J->err_at = i, J->err_phase = phase, snprintf(J->msg, sizeof J->msg, "%s", dln_last_error());
      pthread_mutex_unlock(&J->mu);
    }
  }
}

/* OpenBLAS: the spec's blas_threads on one thread, one thread per worker otherwise (as
 * dln sweep; openblas_set_num_threads is called here only, before the workers start). */
static int run_points(curve_job *J) {
  int nt = J->o->threads < J->c->n ? J->o->threads : J->c->n, started = 0, before = openblas_get_num_threads();
  pthread_t *tid = calloc((size_t)nt, sizeof *tid);
  if (!tid) return dln_error(DLN_ENOMEM, "out of memory");
  int want = nt > 1 ? 1 : J->s->blas_threads;
  if (before != want) openblas_set_num_threads(want);
  pthread_mutex_init(&J->mu, NULL);
  for (int t = 1; t < nt; ++t, ++started)
    if (pthread_create(&tid[t], NULL, worker, J)) break;
  worker(J); /* the calling thread works too */
  for (int t = 1; t <= started; ++t) pthread_join(tid[t], NULL);
  pthread_mutex_destroy(&J->mu);
  free(tid);
  if (before != want) openblas_set_num_threads(before > 0 ? before : 1);
  return J->err ? dln_error(J->err, "%s", J->msg) : DLN_OK;
}

static const char *status_name(int s) {
  return s == DLN_ROBUST_BRACKET ? "bracket" : s == DLN_ROBUST_ALL_REACH ? "all_reach" : "none_reach";
}

static int write_csv(const char *dir, const dln_robust_curve *c, dln_run_files *files) {
  char *path = dln_path_join(dir, "robust.csv");
  dln_afile *f = NULL;
  int st = path ? dln_afile_open(&f, path) : dln_error(DLN_ENOMEM, "out of memory");
  free(path);
  if (st) return st;
  FILE *fp = dln_afile_stream(f);
  fputs("start,dist_requested,start_dist,status,critical_lo,critical_hi,nonmonotone,nonmono_scale,runs,uv_per_scale,"
        "thm2_alpha,thm2_scale,ratio\n", fp);
  for (int i = 0; i < c->n; ++i) {
    const dln_robust_result *r = &c->pts[i];
    fprintf(fp, "%d,%.17g,%.17g,%s,%.17g,%.17g,%d,%.17g,%d,%.17g,%.17g,%.17g,%.17g\n", i, c->dist[i], r->start_dist,
            status_name(r->status), r->lo, r->hi, r->nonmonotone, r->nonmono_scale, r->nevals, r->uv_per_scale,
            r->thm2_alpha, r->thm2_scale, r->ratio);
  }
  if ((st = dln_afile_commit(f))) return st;
  return dln_run_files_add(files, "robust.csv");
}

static json_t *point_json(const dln_robust_result *r, double dist) {
  json_t *ev = json_array();
  for (int k = 0; k < r->nevals; ++k) {
    const dln_robust_eval *e = &r->evals[k];
    dln_jappend(ev, DLN_JSON_SET(json_object(), "scale", dln_json_num(e->scale), "reached", json_boolean(e->reached),
                                 "stop_reason", json_string(dln_stop_reason_name(e->stop_reason)), "rel_err",
                                 dln_json_num(e->rel_err), "side", e->side < 0 ? json_null() : json_boolean(e->side)));
  }
  return DLN_JSON_SET(json_object(), "dist_requested", dln_json_num(dist), "start_dist", dln_json_num(r->start_dist),
                      "status", json_string(status_name(r->status)), "critical_lo", dln_json_num(r->lo),
                      "critical_hi", dln_json_num(r->hi), "nonmonotone", json_boolean(r->nonmonotone),
                      "nonmono_scale", dln_json_num(r->nonmono_scale), "uv_per_scale", dln_json_num(r->uv_per_scale),
                      "thm2_alpha", dln_json_num(r->thm2_alpha), "thm2_scale", dln_json_num(r->thm2_scale),
                      "ratio", dln_json_num(r->ratio), "evaluations", ev);
}

static json_t *curve_json(const dln_spec *s, const dln_robust_options *o, const dln_robust_curve *c, const char *run_id) {
  unsigned long mark = dln_json_mark();
  json_t *pts = json_array();
  for (int i = 0; i < c->n; ++i) dln_jappend(pts, point_json(&c->pts[i], c->dist[i]));
  json_t *root = DLN_JSON_SET(
      json_object(), "dln_version", json_string(DLN_VERSION_STRING), "run_id", json_string(run_id),
      "reached_definition", json_string("ran to t_end (no divergence or integrator failure) and relative error <= reach_tol "
                                        "(||Ybar - W||/||Ybar||, or (loss - L*)/(loss(0) - L*)) and, for depth 2, n = m = 1, "
                                        "k = 1, sign P = sign Q = sign(P0 + Q0) (start's branch of PQ = Ybar; 000 Prop. 1)"),
      "thm2", json_string("000 Thm 2 eq. 17: R_alpha invariant for ||U|| + ||V|| <= alpha (Ybar - alpha^2/4)/sqrt 2; "
                          "alpha = min(||P0 + Q0||, 2 sqrt(Ybar/3)); thm2_scale = bound / uv_per_scale; ratio = critical_lo / thm2_scale"),
      "options", DLN_JSON_SET(json_object(), "lo", dln_json_num(o->lo), "hi", dln_json_num(o->hi), "rel_tol", dln_json_num(o->rel_tol),
                              "reach_tol", dln_json_num(o->reach_tol), "grid", json_integer(o->grid),
                              "max_runs", json_integer(o->max_runs), "threads", json_integer(o->threads)),
      "wall_seconds", dln_json_num(c->wall_seconds), "spec", dln_spec_to_json(s), "points", pts);
  return dln_json_done(root, mark);
}

static int write_out(const dln_spec *s, const dln_robust_options *o, const char *dir, int force, dln_robust_curve *c, int *phase) {
  static const char *const known[] = {"robust.csv", "robust.json", NULL};
  dln_run_folder f;
  int st = dln_run_folder_open(&f, dir, force, known, NULL, phase);
  if (!st) *phase = DLN_RUN_FAIL_OUTPUT, st = dln_run_folder_begin(&f);
  if (!st) st = write_csv(dir, c, &f.files);
  json_t *root = st ? NULL : curve_json(s, o, c, f.run_id);
  if (!st && !root) st = dln_error(DLN_ENOMEM, "robust.json: out of memory building the document");
  if (!st) st = dln_run_write_json(dir, "robust.json", root, &f.files);
  json_decref(root);
  if (!st) st = dln_run_folder_finish(&f, "robust", 1);
  dln_run_folder_close(&f);
  return st;
}

int dln_robust_curve_spec(const dln_spec *spec, const double *dists, int n, const dln_robust_options *o, const char *out_dir,
                          int force, dln_robust_curve *c, int *phase) {
  DLN_ARGS(spec, o, c, phase);
  memset(c, 0, sizeof *c);
  *phase = DLN_RUN_FAIL_SPEC;
  if (n < 0 || (n > 0 && !dists)) return dln_error(DLN_EINVAL, "robust: dists: expected n >= 0 distances, found n = %d%s", n, dists ? "" : " and NULL");
  int st = dln_robust_check_options(o);
  if (!st) st = dln_robust_check_spec(spec);
  curve_job J;
  memset(&J, 0, sizeof J);
  J.s = spec, J.o = o, J.c = c;
  double *th = NULL;
  if (!st && n > 0) st = make_starts(spec, dists, n, &th, &J.np, phase);
  if (st) return st;
  c->n = n > 0 ? n : 1;
  c->pts = calloc((size_t)c->n, sizeof *c->pts);
  c->dist = malloc((size_t)c->n * sizeof *c->dist);
  if (!c->pts || !c->dist) st = dln_error(DLN_ENOMEM, "out of memory");
  for (int i = 0; !st && i < c->n; ++i) c->dist[i] = n > 0 ? dists[i] : NAN;
  J.th = th;
  double t0 = dln_now_seconds();
  if (!st && (st = run_points(&J))) *phase = J.err_phase ? J.err_phase : DLN_RUN_FAIL_INTERNAL;
  free(th);
  c->wall_seconds = dln_now_seconds() - t0;
  if (!st && out_dir) st = write_out(spec, o, out_dir, force, c, phase);
  if (st) {
    dln_robust_curve_free(c);
    return st;
  }
  *phase = DLN_RUN_FAIL_NONE;
  return DLN_OK;
}
