/* `dln check` (dln/check.h; docs/check.md): the integrity rows. They always apply and
 * fail as INCONSISTENT (exit 5), never VIOLATED: a folder whose files do not belong to
 * one run says nothing about the theory.
 *   - manifest.json (dln/manifest.h): every listed file's size and SHA-256, the files
 *     dln check reads are listed, run_id of summary.json = the manifest's, complete;
 *     no manifest: an "unverified" row (files cannot be tied to one run);
 *   - the trajectory against summary.json: sample count, last time, finite rows;
 *   - the final layers against the trajectory: φ(θ_final) = the last loss sample;
 *   - under gradient flow: C_j(final) = C_j(0) (002 Lemma 1) and the loss non-increasing
 *     (000 Thm 1: dL/dt = −‖∇φ‖² ≤ 0), within the run's accuracy;
 *   - W_init = the init the summary's spec generates (its data drawn again first);
 *   - with --observe=layers: W{j}_samples.npy has one slice per trajectory row and its
 *     last slice equals the final layer bit for bit. */
#include <dirent.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dln/error.h"
#include "dln/io.h"
#include "dln/loss.h"
#include "dln/manifest.h"
#include "dln/net.h"
#include "run/check_internal.h"

#define R_MANIFEST "files of one run (manifest)"

/* One integrity row per line "name: reason" of dln_manifest_verify. */
static void manifest_mismatches(dln_check_report *rep, char *why) {
  for (char *save = NULL, *ln = strtok_r(why, "\n", &save); ln; ln = strtok_r(NULL, "\n", &save)) {
    char file[64];
    size_t n = strcspn(ln, ":");
    snprintf(file, sizeof file, "%.*s", (int)(n < 63 ? n : 63), ln);
    dln_chk_add_integrity(rep, R_MANIFEST, file, 0, 0, 1, "%s", ln[n] ? ln + n + 2 : "mismatch");
  }
}

/* Files dln check reads must be listed: the summary, the trajectory (run) or
 * ensemble.csv (sweep), every .npy of the folder. */
static int unlisted(dln_check_report *rep, const char *dir, const dln_manifest *m, const char *const *need) {
  int bad = 0;
  for (int i = 0; need[i]; ++i)
    if (dln_manifest_find(m, need[i]) < 0)
      ++bad, dln_chk_add_integrity(rep, R_MANIFEST, need[i], 0, 0, 1, "not listed in manifest.json (written by another run?)");
  DIR *d = opendir(dir);
  for (struct dirent *e; d && (e = readdir(d));) {
    size_t n = strlen(e->d_name);
    if (n > 4 && strcmp(e->d_name + n - 4, ".npy") == 0 && dln_manifest_find(m, e->d_name) < 0)
      ++bad, dln_chk_add_integrity(rep, R_MANIFEST, e->d_name, 0, 0, 1, "not listed in manifest.json (written by another run?)");
  }
  if (d) closedir(d);
  return bad;
}

void dln_chk_manifest(ctx *c) {
  static const char *const need[] = {"summary.json", "trajectory.csv", NULL};
  dln_chk_manifest_dir(c->rep, c->dir, "summary.json", c->sum->run_id, c->sum->complete, need);
}

void dln_chk_manifest_dir(dln_check_report *rep, const char *dir, const char *sumname, const char *run_id, int complete,
                          const char *const *need) {
  dln_manifest *m = NULL;
  int st = dln_manifest_read(dir, &m);
  if (st == DLN_EIO) {
    dln_check_item *it = dln_chk_item_new(rep, R_MANIFEST, "integrity");
    if (it) {
      it->integrity = it->unverified = 1;
      snprintf(it->v.message, sizeof it->v.message, "no manifest: files cannot be tied to one run (written by a dln without manifests, or edited)");
    }
    return;
  }
  if (st) {
    dln_chk_add_integrity(rep, R_MANIFEST, DLN_MANIFEST_NAME, 0, 0, 1, "%s", dln_last_error());
    return;
  }
  char why[2048];
  int bad = dln_manifest_verify(m, dir, why, sizeof why);
  if (bad < 0) dln_chk_add_integrity(rep, R_MANIFEST, DLN_MANIFEST_NAME, 0, 0, 1, "cannot verify: %s", dln_last_error());
  else if (bad > 0) manifest_mismatches(rep, why);
  bad += unlisted(rep, dir, m, need);
  if (strcmp(run_id, m->run_id) != 0)
    ++bad, dln_chk_add_integrity(rep, "run id of the summary", sumname, 0, 0, 1, "run_id \"%s\", the manifest's \"%s\"",
                                 run_id[0] ? run_id : "(none)", m->run_id);
  if (!m->complete || complete == 0)
    ++bad, dln_chk_add_integrity(rep, "run complete", m->complete ? sumname : DLN_MANIFEST_NAME, 0, 1, 0,
                                 "the run is incomplete (complete = false): partial outputs");
  if (!bad)
    dln_chk_add_integrity(rep, R_MANIFEST, "", 1, 0, 0, "%zu files match their sizes and SHA-256, run_id %s", m->nfiles, m->run_id);
  dln_manifest_free(m);
}

/* ------------------------------------------------------------------ the recorded numbers */

static double col_at(const dln_table *t, int col, size_t row) { return t->data[row * (size_t)t->ncols + (size_t)col]; }

/* Sample count, times (finite, increasing, last = summary's), finite loss samples. */
static void check_samples(ctx *c) {
  static const char *R = "trajectory vs summary.json", *F = "trajectory.csv";
  const dln_table *t = c->tab;
  const chk_summary *s = c->sum;
  int ok = 1, cl = dln_table_col(t, "loss");
  if (s->samples >= 0 && (size_t)s->samples != t->nrows)
    ok = 0, dln_chk_add_integrity(c->rep, R, "summary.json / trajectory.csv", 0, (double)s->samples, (double)t->nrows, "%zu sample rows, summary.json says %ld",
                                  t->nrows, s->samples);
  for (size_t i = 0; ok && i < t->nrows; ++i) {
    double ti = col_at(t, 0, i), li = cl >= 0 ? col_at(t, cl, i) : 0;
    if (!isfinite(ti) || (i && !(ti > col_at(t, 0, i - 1))))
      ok = 0, dln_chk_add_integrity(c->rep, R, F, 0, NAN, ti, "row %zu: t = %.17g is not finite and increasing", i + 2, ti);
    else if (!c->diverged && isnan(li))
      ok = 0, dln_chk_add_integrity(c->rep, R, F, 0, NAN, li, "row %zu: loss is NaN in a run that did not diverge", i + 2);
  }
  double tl = col_at(t, 0, t->nrows - 1), tf = isfinite(s->final_t) ? s->final_t : s->t;
  if (ok && isfinite(tf) && !(fabs(tl - tf) <= 1e-9 * fmax(1.0, fabs(tf))))
    ok = 0, dln_chk_add_integrity(c->rep, R, "summary.json / trajectory.csv", 0, tf, tl, "last sample at t = %.17g, summary.json: the run ended at t = %.17g", tl, tf);
  if (ok && cl >= 0 && isfinite(s->final_loss)) {
    double ll = col_at(t, cl, t->nrows - 1);
    if (!(fabs(ll - s->final_loss) <= 1e-12 * fmax(1e-300, fabs(s->final_loss))))
      ok = 0, dln_chk_add_integrity(c->rep, R, "summary.json / trajectory.csv", 0, s->final_loss, ll, "last loss sample %.17g, summary.json's final loss %.17g", ll,
                                    s->final_loss);
  }
  if (ok) dln_chk_add_integrity(c->rep, R, "", 1, (double)t->nrows, (double)t->nrows, "%zu samples, last t = %.6g", t->nrows, tl);
}

/* A loss difference the integrator may make at loss level L (L0: the initial loss):
 * weights off by ~tol relative change the loss by ~tol·(L + √(L·L0)). */
static double loss_slack(double tol, double L, double L0) {
  double s0 = fmax(1.0, fabs(L0));
  return tol * (fabs(L) + sqrt(fabs(L) * s0)) + 1e3 * DBL_EPSILON * s0;
}

/* e2e runs: ℓ(W_final.npy) = the last loss sample. 0: not an e2e run with W_final. */
static int e2e_final_loss(ctx *c, double *phi) {
  if (!c->p->e2e) return 0;
  char *p = dln_path_join(c->dir, "W_final.npy");
  dln_mat *W = NULL;
  int st = p ? dln_npy_read(p, &W) : DLN_ENOMEM;
  free(p);
  dln_loss *loss = c->p->loss;
  if (!st && W->rows == loss->rows && W->cols == loss->cols) st = dln_loss_eval(loss, W->data, phi, NULL);
  else if (!st) *phi = NAN;
  dln_mat_free(W);
  return !st;
}

/* φ(θ_final) = the last loss sample (the final layers are the last state). */
static void check_final_loss(ctx *c, double *phi) {
  static const char *R = "final layers vs last loss sample";
  const dln_table *t = c->tab;
  int cl = dln_table_col(t, "loss"), e2e = cl >= 0 && !c->diverged && e2e_final_loss(c, phi);
  if (!e2e && (!c->thetaf || cl < 0 || c->diverged)) {
    dln_chk_add_na(c->rep, R, "integrity", "%s", !c->thetaf ? "final layers recorded fails (end-to-end run)"
                                                : cl < 0 ? "loss column recorded fails" : "a finite end point fails (the run diverged)");
    return;
  }
  if (!e2e) dln_net_objective(c->p->net, c->p->loss, c->thetaf, phi, NULL, NULL, NULL); /* ℓ: the loss column */
  double L = col_at(t, cl, t->nrows - 1), L0 = col_at(t, cl, 0), b = loss_slack(c->tol, L, L0), dev = fabs(*phi - L);
  const char *file = e2e ? "W_final.npy or the data files" : c->p->net->tied ? "U_final.npy" : "W*_final.npy or the data files";
  dln_chk_add_integrity(c->rep, R, file, dev <= b, b, dev, "loss of the final layers %.10g, last sample %.10g (|diff| %.3g, allowed %.3g)",
                        *phi, L, dev, b);
}

/* Largest increase of column col between consecutive rows, over the allowed slack;
 * *at: its row. */
static double worst_increase(ctx *c, int col, size_t *at) {
  const dln_table *t = c->tab;
  double L0 = col_at(t, col, 0), worst = 0;
  *at = 0;
  for (size_t i = 1; i < t->nrows; ++i) {
    double up = col_at(t, col, i) - col_at(t, col, i - 1), ratio = up / loss_slack(c->tol, col_at(t, col, i - 1), L0);
    if (!(ratio <= worst)) worst = isnan(ratio) ? INFINITY : ratio, *at = i;
  }
  return worst;
}

/* With the imbalance regularizer R = ⅛ Σ_j ‖C_j − Λ_j‖² (001 Prop. 4 eq. 27) the flow is
 * θ̇ = −∇ℓ − ∇R with ⟨∇ℓ, ∇R⟩ = 0 (∇ℓ is tangent to the level sets of every C_j: 002
 * Lemma 1), so Ṙ = −‖∇R‖² ≤ 0 and ℓ̇ = −‖∇ℓ‖² ≤ 0; in particular {C_j = Λ_j} is invariant
 * (001 Prop. 4) and R stays 0 there. C_j itself is no longer conserved. */
static void check_reg_invariants(ctx *c) {
  static const char *RC = "C_j(final) = C_j(0) (flow)", *RR = "imbalance regularizer R non-increasing (flow)";
  static const char *SR = "001 Prop. 4 (grad l _|_ grad R)";
  dln_chk_add_na(c->rep, RC, "002 Lemma 1", "imbalance regularizer (imbalance_reg: C_j is driven to Lambda_j, not conserved)");
  int cr = dln_table_col(c->tab, "imbalance_reg");
  if (cr < 0) { dln_chk_add_na(c->rep, RR, SR, "imbalance_reg column recorded fails (observe without \"loss\")"); return; }
  size_t at;
  double worst = worst_increase(c, cr, &at);
  dln_chk_add_integrity(c->rep, RR, "trajectory.csv", worst <= 1, 1, worst,
                        "largest increase of R / allowed = %.3g (row %zu, t = %.6g)", worst, at + 2, col_at(c->tab, 0, at));
}

/* A failed flow invariant also follows from an integration (or its samples) less
 * accurate than the run's tolerance: the cause says so beside tampering. */
static void flow_cause(dln_check_item *it) {
  if (it && !it->v.holds)
    snprintf(it->cause, sizeof it->cause, "tampered with, files of different runs, or an integration less accurate than its "
                                          "tolerance: the theory verdicts of this folder mean nothing");
}

/* Under gradient flow: C_j(final) = C_j(0) and the loss never increases. */
static void check_flow_invariants(ctx *c) {
  static const char *RC = "C_j(final) = C_j(0) (flow)", *RL = "loss non-increasing (flow)";
  dln_net *net = c->p->net;
  if (!c->flow || c->diverged) {
    const char *w = c->disturbed ? "undisturbed gradient flow fails (disturbed: C_j drifts, 000 eq. 21)" : "converged gradient flow fails";
    dln_chk_add_na(c->rep, RC, "002 Lemma 1", "%s (method %s)", w, c->spec->method);
    dln_chk_add_na(c->rep, RL, "000 Thm 1", "%s (method %s)", w, c->spec->method);
    return;
  }
  if (dln_net_has_imbalance_reg(net)) {
    check_reg_invariants(c);
  } else if (c->thetaf && !net->tied && net->depth >= 2) {
    double worst = 0, n0 = dln_norm2(net->nparams, c->theta0), nf = dln_norm2(net->nparams, c->thetaf);
    double scale = fmax(fmax(n0 * n0, nf * nf), DBL_MIN);
    int jw = 1;
    for (int j = 1; j < net->depth; ++j) {
      int q = net->widths[j];
      double *A = calloc((size_t)q * q, sizeof *A), *B = calloc((size_t)q * q, sizeof *B), d = 0;
      if (A && B && !dln_net_conserved(net, c->theta0, j, A) && !dln_net_conserved(net, c->thetaf, j, B))
        for (size_t k = 0; k < (size_t)q * q; ++k) d += (A[k] - B[k]) * (A[k] - B[k]);
      free(A), free(B);
      if (!(sqrt(d) / scale <= worst)) worst = sqrt(d) / scale, jw = j;
    }
    char file[48];
    snprintf(file, sizeof file, "W%d_final.npy / W%d_final.npy", jw, jw + 1);
    flow_cause(dln_chk_add_integrity(c->rep, RC, file, worst <= c->tol, c->tol, worst,
                                     "max_j |C_j(final) - C_j(0)|_F / |theta|^2 = %.3g (allowed %.3g)", worst, c->tol));
  } else {
    dln_chk_add_na(c->rep, RC, "002 Lemma 1", "untied depth >= 2 with final layers fails");
  }
  const dln_table *t = c->tab;
  int cl = dln_table_col(t, "loss");
  if (cl < 0) { dln_chk_add_na(c->rep, RL, "000 Thm 1", "loss column recorded fails"); return; }
  size_t at = 0;
  double worst = worst_increase(c, cl, &at);
  flow_cause(dln_chk_add_integrity(c->rep, RL, "trajectory.csv", worst <= 1, 1, worst,
                                   "largest increase / allowed = %.3g (row %zu, t = %.6g)", worst, at + 2, col_at(t, 0, at)));
}

/* W_init = θ(0) as the summary's spec generates it (same seed and stream): catches an
 * edited init and one run's summary beside another run's layers. */
static void check_init(ctx *c) {
  static const char *R = "initial layers vs summary.json's spec";
  dln_net *net = c->p->net;
  if (!c->theta_spec) { dln_chk_add_na(c->rep, R, "integrity", "%s", c->theta_spec_why); return; }
  /* an init may depend on the data (spectral: Ȳ's singular vectors): only comparable when
   * the spec's own data are the folder's (a data file changed since the run: not applicable) */
  double phf = NAN;
  dln_net_grad(net, c->p->loss, c->theta_spec, &phf, NULL, NULL);
  if (!(fabs(phf - c->theta_spec_phi) <= 1e-12 * fmax(fabs(phf), DBL_MIN))) {
    dln_chk_add_na(c->rep, R, "integrity", "the spec's own data = the folder's data fails (loss %.10g vs %.10g at theta0 of the spec)",
                   c->theta_spec_phi, phf);
    return;
  }
  double d = 0, n = 0;
  for (size_t k = 0; k < net->nparams; ++k) {
    d = fmax(d, fabs(c->theta_spec[k] - c->theta0[k]));
    n = fmax(n, fabs(c->theta_spec[k]));
  }
  double rel = d / fmax(n, DBL_MIN);
  dln_chk_add_integrity(c->rep, R, net->tied ? "U_init.npy" : "W*_init.npy / summary.json", rel <= 1e-10, 1e-10, rel,
                        "max |theta0(files) - theta0(spec's seed)| / max |theta0| = %.3g", rel);
}

/* name (W{j}_samples.npy as run_layers.c writes it: '<f8', C order, shape (S, r, c)):
 * S = the trajectory's rows and its last slice = layer W (r x c, column-major) bit for
 * bit. 0 or a reason into why. */
static int samples_last_slice(const char *dir, const char *name, size_t S, size_t r, size_t c, const double *W,
                              char *why, size_t len) {
  char *p = dln_path_join(dir, name);
  FILE *fp = NULL;
  int st = p ? dln_input_open(p, &fp) : DLN_ENOMEM;
  free(p);
  if (st) return snprintf(why, len, "cannot read: %s", dln_last_error()), 1;
  unsigned char pre[10];
  char hdr[512];
  size_t hlen = 0, S2 = 0, r2 = 0, c2 = 0;
  int ok = fread(pre, 1, 10, fp) == 10 && memcmp(pre, "\x93NUMPY\x01\x00", 8) == 0;
  if (ok) hlen = pre[8] | (size_t)pre[9] << 8;
  ok = ok && hlen < sizeof hdr && fread(hdr, 1, hlen, fp) == hlen;
  if (ok) hdr[hlen] = '\0';
  const char *sh = ok ? strstr(hdr, "'shape': (") : NULL;
  ok = ok && strstr(hdr, "'descr': '<f8'") && strstr(hdr, "'fortran_order': False") && sh &&
       sscanf(sh, "'shape': (%zu, %zu, %zu)", &S2, &r2, &c2) == 3;
  if (!ok) {
    fclose(fp);
    return snprintf(why, len, "expected a '<f8' C-order 3-d .npy header"), 1;
  }
  if (S2 != S || r2 != r || c2 != c) {
    fclose(fp);
    return snprintf(why, len, "shape (%zu, %zu, %zu), expected (%zu, %zu, %zu) (trajectory rows, d_j, d_{j-1})", S2, r2,
                    c2, S, r, c), 1;
  }
  size_t bad = 0;
  ok = S > 0 && fseek(fp, (long)(10 + hlen + (S - 1) * r * c * 8), SEEK_SET) == 0;
  for (size_t a = 0; ok && a < r; ++a)
    for (size_t b = 0; ok && b < c; ++b) {
      unsigned char e[8];
      uint64_t u = 0;
      ok = fread(e, 1, 8, fp) == 8;
      for (int k = 0; k < 8; ++k) u |= (uint64_t)e[k] << (8 * k);
      double v;
      memcpy(&v, &u, 8);
      bad += ok && memcmp(&v, &W[a + b * r], 8) != 0;
    }
  fclose(fp);
  if (!ok) return snprintf(why, len, "truncated data"), 1;
  if (bad) return snprintf(why, len, "last slice differs from the final layer in %zu of %zu entries", bad, r * c), 1;
  return 0;
}

/* --observe=layers: every W{j}_samples.npy (U_samples.npy) against the trajectory's row
 * count and its final layer. No row when the run did not write them. */
static void check_layer_samples(ctx *c) {
  static const char *R = "layer samples vs final layers";
  dln_net *net = c->p->net;
  if (!c->thetaf || c->p->e2e) return;
  int j0 = net->tied ? 2 : 1, present = 0;
  for (int j = j0; j <= net->depth; ++j) {
    char name[48], why[256];
    if (net->tied) snprintf(name, sizeof name, "U_samples.npy");
    else snprintf(name, sizeof name, "W%d_samples.npy", j);
    if (!dln_chk_is_file(c->dir, name)) continue;
    present++;
    size_t r = (size_t)net->widths[j], cc = (size_t)net->widths[j - 1];
    if (samples_last_slice(c->dir, name, c->tab->nrows, r, cc, dln_net_layer_const(net, c->thetaf, j), why, sizeof why)) {
      dln_chk_add_integrity(c->rep, R, name, 0, 0, 1, "%s", why);
      return;
    }
  }
  if (present && present != net->depth - j0 + 1)
    dln_chk_add_integrity(c->rep, R, "W*_samples.npy", 0, net->depth - j0 + 1, present, "%d of %d layers' samples present", present,
                          net->depth - j0 + 1);
  else if (present)
    dln_chk_add_integrity(c->rep, R, net->tied ? "U_samples.npy" : "W*_samples.npy", 1, 0, 0,
                          "%d layers x %zu rows; last slices equal the final layers", present, c->tab->nrows);
}

void dln_chk_consistency(ctx *c) {
  double phi = NAN;
  check_samples(c);
  check_init(c);
  check_final_loss(c, &phi);
  check_flow_invariants(c);
  check_layer_samples(c);
}
