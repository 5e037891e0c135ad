/* `dln compress` (dln/check.h, dln/compress.h): implicit compression by
 * overparameterization, 002 §4.4 and footnote 11, applied to a finished run folder.
 *
 * The folder is verified first (manifest.json: one complete run, every listed file intact,
 * summary.json and every .npy listed, the summary's run id): the numbers of a tampered or
 * partial folder mean nothing. The run is then rebuilt the way dln check rebuilds it
 * (summary.json's spec with the folder's data files; dln_run_data_build and
 * dln_run_parts_build), so ℓ is the task loss the run trained; W = W_N···W_1 of the final
 * layers (W_final.npy for an end-to-end run) is truncated by dln_compress_truncate, and
 * ℓ(W) and ℓ(W_ρ) are evaluated by that loss. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dln/check.h"
#include "dln/error.h"
#include "dln/io.h"
#include "dln/manifest.h"
#include "dln/net.h"
#include "io/json_util.h"
#include "run/check_internal.h"
#include "run/run_internal.h"

void dln_compress_default_options(dln_compress_options *opt) {
  if (!opt) return;
  opt->rank = -1;
  opt->tol = DLN_COMPRESS_TOL;
}

void dln_compress_report_free(dln_compress_report *rep) {
  if (!rep) return;
  free(rep->widths);
  free(rep->s);
  free(rep->W);
  free(rep->Wc);
  rep->widths = NULL, rep->s = rep->W = rep->Wc = NULL;
}

/* A verification failure: rep->inconsistent, DLN_EFORMAT with the message. */
#define TAMPERED(...) (rep->inconsistent = 1, dln_error(DLN_EFORMAT, __VA_ARGS__))

/* summary.json and every .npy of dir listed in m. */
static int listed(const char *dir, const dln_manifest *m, dln_compress_report *rep) {
  if (dln_manifest_find(m, "summary.json") < 0)
    return TAMPERED("%s/summary.json: not listed in manifest.json (written by another run?)", dir);
  DIR *d = opendir(dir);
  int st = DLN_OK;
  for (struct dirent *e; d && !st && (e = readdir(d));) {
    size_t n = strlen(e->d_name);
    if (n > 4 && strcmp(e->d_name + n - 4, ".npy") == 0 && dln_manifest_find(m, e->d_name) < 0)
      st = TAMPERED("%s/%s: not listed in manifest.json (written by another run?)", dir, e->d_name);
  }
  if (d) closedir(d);
  return st;
}

/* The manifest of dir: present, one complete run, intact, listing what is read. */
static int verify_manifest(const char *dir, dln_compress_report *rep, char run_id[DLN_RUN_ID_LEN + 1]) {
  dln_manifest *m = NULL;
  int st = dln_manifest_read(dir, &m);
  if (st == DLN_EIO)
    return dln_error(DLN_EFORMAT, "%s/manifest.json: expected the manifest of a finished run (dln run writes it last), found none: the files cannot be verified", dir);
  if (st) return TAMPERED("%s", dln_last_error());
  char why[1024];
  int bad = dln_manifest_verify(m, dir, why, sizeof why);
  if (bad < 0) st = dln_error(-bad, "%s: cannot verify the files of manifest.json: %s", dir, dln_last_error());
  else if (bad > 0) why[strcspn(why, "\n")] = '\0', st = TAMPERED("%s/%s (%d file%s of manifest.json differ)", dir, why, bad, bad == 1 ? "" : "s");
  else if (strcmp(m->kind, "run") != 0)
    st = dln_error(DLN_EFORMAT, "%s/manifest.json: field \"kind\": expected \"run\" (one run's folder), found \"%s\"", dir, m->kind);
  else if (!m->complete)
    st = TAMPERED("%s/manifest.json: field \"complete\": expected true, found false (an interrupted run: partial outputs)", dir);
  else st = listed(dir, m, rep);
  if (!st) snprintf(run_id, DLN_RUN_ID_LEN + 1, "%s", m->run_id);
  dln_manifest_free(m);
  return st;
}

/* W of the run: the product of its final layers, or W_final.npy (end-to-end). */
static int final_w(const char *dir, dln_run_parts *p, double *W) {
  int rows = p->loss->rows, cols = p->loss->cols, st, found = 0;
  if (p->e2e) {
    char *path = dln_path_join(dir, "W_final.npy");
    dln_mat *m = NULL;
    st = path ? dln_npy_read(path, &m) : dln_error(DLN_ENOMEM, "out of memory");
    if (!st && (m->rows != rows || m->cols != cols))
      st = dln_error(DLN_EDIM, "%s: expected a %d x %d matrix (the task's W), found %d x %d", path, rows, cols, m->rows, m->cols);
    if (!st) memcpy(W, m->data, (size_t)rows * (size_t)cols * sizeof *W);
    dln_mat_free(m);
    free(path);
    return st;
  }
  if ((st = dln_chk_read_layers(dir, p->net, "final", p->theta, &found))) return st;
  if (!found)
    return dln_error(DLN_EIO, "%s/%s: cannot read (missing); expected the final layers of the run", dir,
                     p->net->tied ? "U_final.npy" : "W1_final.npy");
  return dln_net_product(p->net, p->theta, W);
}

/* What the report says about the run besides the compression. */
static int describe(dln_compress_report *rep, const dln_spec *spec, const dln_run_parts *p, const chk_summary *sum) {
  snprintf(rep->task, sizeof rep->task, "%s", spec->task);
  snprintf(rep->method, sizeof rep->method, "%s", spec->method);
  rep->depth = p->net->depth;
  rep->tied = p->net->tied;
  rep->e2e = p->e2e;
  rep->params_net = (long long)p->net->nparams;
  rep->loss_recorded = sum->final_loss;
  if (!(rep->widths = malloc((size_t)(p->net->depth + 1) * sizeof *rep->widths))) return dln_error(DLN_ENOMEM, "out of memory");
  memcpy(rep->widths, p->net->widths, (size_t)(p->net->depth + 1) * sizeof *rep->widths);
  return DLN_OK;
}

/* W, its truncation and the loss of both. */
static int compress_run(const char *dir, const dln_compress_options *o, dln_run_parts *p, dln_compress_report *rep) {
  int rows = p->loss->rows, cols = p->loss->cols, k = rows < cols ? rows : cols;
  size_t n = (size_t)rows * (size_t)cols;
  double *G = malloc(n * sizeof *G);
  rep->W = malloc(n * sizeof *rep->W);
  rep->Wc = malloc(n * sizeof *rep->Wc);
  rep->s = malloc((size_t)k * sizeof *rep->s);
  int st = !G || !rep->W || !rep->Wc || !rep->s ? dln_error(DLN_ENOMEM, "out of memory") : DLN_OK;
  if (!st && o->rank > k)
    st = dln_error(DLN_EINVAL, "option --rank: expected 0..%d (min(d_N, d_0) of the %d x %d end-to-end matrix), found %d", k, rows, cols, o->rank);
  if (!st) st = final_w(dir, p, rep->W);
  if (!st) st = dln_compress_truncate(rows, cols, rep->W, o->rank, o->tol, rep->Wc, rep->s, &rep->r);
  if (!st) st = dln_loss_eval(p->loss, rep->W, &rep->loss_before, G);
  if (!st) st = dln_loss_eval(p->loss, rep->Wc, &rep->loss_after, G);
  free(G);
  return st;
}

int dln_compress_folder(const char *dir, const dln_compress_options *opt, dln_compress_report *rep) {
  if (rep) memset(rep, 0, sizeof *rep);
  DLN_ARGS(dir, rep);
  rep->loss_before = rep->loss_after = rep->loss_recorded = NAN;
  snprintf(rep->dir, sizeof rep->dir, "%s", dir);
  dln_compress_options o;
  dln_compress_default_options(&o);
  if (opt) o = *opt;
  if (o.rank < 0 && (!(o.tol >= 0) || isinf(o.tol)))
    return dln_error(DLN_EINVAL, "option --tol: expected a finite number >= 0, found %g", o.tol);
  char mid[DLN_RUN_ID_LEN + 1];
  int st = verify_manifest(dir, rep, mid), phase = 0;
  if (st) return st;
  dln_spec spec;
  dln_run_data d;
  dln_run_parts p;
  chk_summary sum;
  memset(&d, 0, sizeof d), memset(&p, 0, sizeof p);
  if ((st = dln_spec_default(&spec))) return st;
  if ((st = dln_chk_read_spec(dir, &spec, &sum, NULL, NULL))) goto done;
  snprintf(rep->run_id, sizeof rep->run_id, "%s", sum.run_id);
  if (strcmp(sum.run_id, mid) != 0 || sum.complete == 0) {
    st = TAMPERED("%s/summary.json: %s", dir, sum.complete == 0 ? "field \"complete\": expected true, found false (partial outputs)" : "field \"run_id\": expected the manifest's, found another run's");
    goto done;
  }
  if ((st = dln_run_data_build(&spec, NULL, &d, &phase)) || (st = dln_run_parts_build(&spec, &d, NULL, &p, &phase))) goto done;
  if ((st = describe(rep, &spec, &p, &sum))) goto done;
  st = compress_run(dir, &o, &p, rep);
done:
  dln_run_parts_free(&p);
  dln_run_data_free(&d);
  dln_spec_free(&spec);
  return st;
}

/* ------------------------------------------------------------------ outputs */

static json_t *params_json(const dln_compress_report *rep) {
  json_t *o = json_object();
  dln_jset(o, "network", json_integer(rep->params_net));
  dln_jset(o, "end_to_end", json_integer(rep->r.params_full));
  dln_jset(o, "compressed", json_integer(rep->r.params_rank));
  dln_jset(o, "formula", json_string("network: sum_j d_j d_{j-1}; end_to_end: d_N d_0; compressed: rho (d_0 + d_N - rho) (002 footnote 11)"));
  return o;
}

static json_t *compress_json(const dln_compress_report *rep, const char *npy_name) {
  unsigned long mark = dln_json_mark();
  json_t *root = json_object(), *w = json_array(), *sv = json_array(), *loss = json_object();
  dln_jset(root, "format", json_string("dln-compress/1"));
  dln_jset(root, "run", json_string(rep->dir));
  dln_jset(root, "run_id", json_string(rep->run_id));
  dln_jset(root, "task", json_string(rep->task));
  dln_jset(root, "method", json_string(rep->method));
  for (int j = 0; rep->widths && j <= rep->depth; ++j) dln_jappend(w, json_integer(rep->widths[j]));
  dln_jset(root, "widths", w);
  dln_jset(root, "rule", json_string(isnan(rep->r.tol) ? "rank" : "tol"));
  dln_jset(root, "tol", dln_json_num(rep->r.tol));
  dln_jset(root, "rank", json_integer(rep->r.rank));
  dln_jset(root, "k", json_integer(rep->r.k));
  for (int i = 0; rep->s && i < rep->r.k; ++i) dln_jappend(sv, dln_json_num(rep->s[i]));
  dln_jset(root, "singular_values", sv);
  dln_jset(root, "fro", dln_json_num(rep->r.fro));
  dln_jset(root, "tail", dln_json_num(rep->r.tail));
  dln_jset(root, "tail_rel", dln_json_num(rep->r.tail_rel));
  dln_jset(root, "sigma_kept", dln_json_num(rep->r.sigma_kept));
  dln_jset(root, "sigma_dropped", dln_json_num(rep->r.sigma_dropped));
  dln_jset(root, "params", params_json(rep));
  dln_jset(loss, "recorded", dln_json_num(rep->loss_recorded));
  dln_jset(loss, "before", dln_json_num(rep->loss_before));
  dln_jset(loss, "after", dln_json_num(rep->loss_after));
  dln_jset(loss, "change", dln_json_num(rep->loss_after - rep->loss_before));
  dln_jset(root, "loss", loss);
  dln_jset(root, "W_compressed", npy_name ? json_string(npy_name) : json_null());
  return dln_json_done(root, mark);
}

int dln_compress_write(const dln_compress_report *rep, const char *json_path, const char *npy_path) {
  DLN_ARGS(rep, json_path);
  if (!rep->Wc || !rep->s) return dln_error(DLN_EINVAL, "dln_compress_write: expected a report of dln_compress_folder, found an empty one");
  int st = DLN_OK;
  if (npy_path && (st = dln_npy_write(npy_path, rep->r.rows, rep->r.cols, rep->Wc, 0))) return st;
  json_t *root = compress_json(rep, npy_path);
  st = dln_json_write(json_path, root);
  json_decref(root);
  return st;
}

void dln_compress_print(const dln_compress_report *rep, FILE *fp) {
  if (!rep || !fp || !rep->s) return;
  const dln_compress_result *r = &rep->r;
  char wn[32];
  snprintf(wn, sizeof wn, rep->tied ? "U U^T" : "W_%d...W_1", rep->depth);
  fprintf(fp, "%s: W = %s is %d x %d, rank %d kept of %d (%s", rep->dir, wn, r->rows, r->cols, r->rank, r->k,
          isnan(r->tol) ? "--rank" : "least rank with |W - W_r|_F <= tol |W|_F");
  if (!isnan(r->tol)) fprintf(fp, ", tol %g", r->tol);
  fprintf(fp, "); |W - W_r|_F / |W|_F = %.3g\n", r->tail_rel);
  fprintf(fp, "  %-34s %14s %22s\n", "", "parameters", "loss");
  fprintf(fp, "  %-34s %14lld %22.15g\n", "network (sum_j d_j d_{j-1})", rep->params_net, rep->loss_before);
  fprintf(fp, "  %-34s %14lld %22.15g\n", "end-to-end W (d_N d_0)", r->params_full, rep->loss_before);
  fprintf(fp, "  %-34s %14lld %22.15g\n", "rank-r W_r (r (d_0 + d_N - r))", r->params_rank, rep->loss_after);
  fprintf(fp, "  loss change %.6g (%s task loss)\n", rep->loss_after - rep->loss_before, rep->task);
}
