/* dln/check.h — `dln check`: every result of the theory toolkit whose hypotheses hold,
 * evaluated on a finished run folder (docs/check.md).
 *
 * The folder is re-created from what `dln run` wrote: the resolved spec in
 * summary.json, the data (target.npy | X.npy, Y.npy | A.npy, b.npy | entries.npy), the
 * layers W{j}_init.npy / W{j}_final.npy (tied: U_*.npy) and trajectory.csv. Each result
 * is a dln_verdict (dln/theory.h): closed forms against the recorded loss, singular values
 * and final weights; the rate bounds of 003 Thm 1, 004 Prop. 2, 002 Thm 2 (and 002 Rem. 2
 * for gradient descent); 000 Thm 1 at the recorded states; 001 eq. 23; conservation of
 * C_j; the sign of det W (002 Lemma 2); the end point's stratum, critical value and
 * Hessian (004 Lemma 3.2, Prop. 4; 002 Prop. 3), 000 Thm 3 and 002 Thm 3.
 *
 * Integrity rows come first and always apply (docs/check.md "Integrity"): manifest.json
 * (sizes, SHA-256, run id), the trajectory vs summary.json, the final layers vs the last
 * loss sample, C_j and a non-increasing loss under flow, W_init vs the spec's init; a
 * failure is INCONSISTENT (DLN_CHECK_EXIT_INCONSISTENT), never VIOLATED. Hypotheses of the
 * form "x > 0" are decided at the run's accuracy (x > 100·(rtol + eps)·scale). A folder of
 * several runs (a sweep's ensemble*.json, the default job) gets its files' integrity and
 * one row per run subfolder.
 *
 * Tolerance: tol = slack · rtol for the adaptive integrators (default slack 1e4), so a
 * violation beyond tol is a bug or a corrupted trajectory rather than integration error;
 * a violation within 100·tol is reported as a likely too-loose integrator tolerance. */
#ifndef DLN_CHECK_H
#define DLN_CHECK_H

#include <stdio.h>

#include "dln/compress.h"
#include "dln/theory.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Exit status of `dln check` when an applicable result is violated. */
#define DLN_CHECK_EXIT_VIOLATED 4
/* Exit status when the folder's files are tampered with or inconsistent (a manifest
 * mismatch, final weights that do not give the recorded loss, a cut trajectory, ...);
 * it takes precedence over DLN_CHECK_EXIT_VIOLATED: the theory verdicts of such a folder
 * mean nothing. */
#define DLN_CHECK_EXIT_INCONSISTENT 5

typedef struct dln_check_options {
  double slack;      /* tol = slack · rtol (adaptive flow); default 1e4 */
  double tol;        /* > 0: use this tolerance instead */
  int lanczos_iter;  /* Krylov dimension of the end-point Hessian; default 80 */
} dln_check_options;

void dln_check_default_options(dln_check_options *opt);

typedef struct dln_check_item {
  dln_verdict v;      /* result, source, applicable, hypotheses, bound, measured, margin, holds, message */
  char cause[160];    /* violated: "likely a bug ..." or "likely too loose a tolerance ..."; else "" */
  int integrity;      /* an integrity row (files of one run, end point vs trajectory vs summary):
                         failing is "INCONSISTENT", not "VIOLATED" */
  int unverified;     /* (integrity) could not be verified, e.g. no manifest: neither a pass nor a failure */
  char file[64];      /* integrity failure: the file it names (may be "") */
} dln_check_item;

typedef struct dln_check_report {
  char dir[512];
  char method[32];
  double tol, rtol, atol, slack;
  size_t n, cap;
  dln_check_item *items;
  int napplicable, nholds, nviolated;
  int ninconsistent, nunverified; /* integrity rows failing / not verifiable */
} dln_check_report;

/* Evaluate every result on the run folder dir. Returns DLN_OK when the folder could be
 * read (violations are counted in rep->nviolated, integrity failures in
 * rep->ninconsistent), or an error for bad input: DLN_EIO
 * (folder or file missing), DLN_EFORMAT (garbled summary.json, missing field), with a
 * one-line message naming the file, field, expected and found value. rep is always
 * valid afterwards: free it with dln_check_report_free. opt may be NULL. */
int dln_check_folder(const char *dir, const dln_check_options *opt, dln_check_report *rep);
void dln_check_report_free(dln_check_report *rep);
/* The table: result, source, hypotheses, bound or prediction, measured, margin, verdict. */
void dln_check_print(const dln_check_report *rep, FILE *fp);
/* The report as JSON (atomically). */
int dln_check_write_json(const dln_check_report *rep, const char *path);

/* ---- `dln compress` (002 §4.4, footnote 11; dln/compress.h) ----
 * The trained network of a finished run folder collapsed to W = W_N···W_1 (final layers,
 * or W_final.npy of an end-to-end run) and truncated by its SVD to rank ρ; the loss before
 * and after by the run's own task loss (rebuilt from summary.json's spec and the folder's
 * data, as dln check does). The folder is verified first: manifest.json present, of one
 * run, complete, every listed file intact, summary.json and every .npy listed, the run id
 * of summary.json the manifest's. */
typedef struct dln_compress_options {
  int rank;   /* >= 0: keep this rank; < 0: the compressible rank at tol */
  double tol; /* τ when rank < 0 (dln/compress.h); default DLN_COMPRESS_TOL */
} dln_compress_options;
void dln_compress_default_options(dln_compress_options *opt);

typedef struct dln_compress_report {
  char dir[512];
  char run_id[40], task[64], method[64];
  int depth, tied, e2e;
  int *widths;               /* d_0..d_N */
  dln_compress_result r;     /* rank, tail, parameter counts of W and W_ρ */
  long long params_net;      /* Σ_j d_j d_{j−1} (tied: the entries of U) */
  double loss_before;        /* ℓ(W) */
  double loss_after;         /* ℓ(W_ρ) */
  double loss_recorded;      /* summary.json's final loss (NAN if absent) */
  double *s;                 /* the k singular values of W, descending */
  double *W, *Wc;            /* W and W_ρ (rows x cols, column-major) */
  int inconsistent;          /* the folder failed verification (tampered, incomplete,
                                mixed runs): exit DLN_CHECK_EXIT_INCONSISTENT */
} dln_compress_report;

/* Compress the run in dir. DLN_OK, or an error with a one-line message naming the file:
 * rep->inconsistent = 1 (DLN_EFORMAT) when the folder fails verification, DLN_EFORMAT
 * without it for a folder that is no finished run (no manifest.json, a sweep folder),
 * DLN_EIO for a missing file, DLN_EINVAL for a rank above min(d_N, d_0). rep is always
 * valid afterwards (free it). opt may be NULL (defaults). */
int dln_compress_folder(const char *dir, const dln_compress_options *opt, dln_compress_report *rep);
/* compress.json at json_path (atomically); with npy_path (may be NULL) W_ρ as .npy first
 * and its name in the JSON. */
int dln_compress_write(const dln_compress_report *rep, const char *json_path, const char *npy_path);
/* The short table on fp: parameters and loss before / after. */
void dln_compress_print(const dln_compress_report *rep, FILE *fp);
void dln_compress_report_free(dln_compress_report *rep);
/* Every critical value and stratum of the target of spec (004 Lemma 3.2, eq. 26), not only
 * an end point's: the spec's data and network are built as dln run builds them (nothing is
 * trained); each stratum with its value ½Σ_{i∉L} s_i², rank r = |L|, learned components L
 * and, for one hidden layer, its dimension r d_1 + (d_1 − r)(|d_0 − d_N| + r) (004 Prop. 5;
 * null otherwise). At most 65536 strata (the lowest values when capped). Prints a table to
 * fp and writes JSON to json_path atomically (either may be NULL). A factorization loss and
 * an untied net are required (DLN_ENOTAPPLICABLE otherwise). Needs dln/spec.h's dln_spec. */
struct dln_spec;
int dln_check_critical(const struct dln_spec *spec, const char *json_path, FILE *fp);

#ifdef __cplusplus
}
#endif
#endif
