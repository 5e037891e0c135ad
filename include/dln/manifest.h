/* dln/manifest.h — the manifest of an output folder: which files one run (or sweep) wrote,
 * their sizes and SHA-256 hashes, and the run's id.
 *
 * A run folder's manifest.json is written last, atomically. It is what makes a folder
 * trustworthy: `dln check` compares every listed file with its recorded size and hash
 * (tampering, a file of another run, a truncated trajectory), and a new run into the same
 * folder removes only the files the manifest says the earlier run wrote. Names are paths
 * relative to the folder, never absolute and never with a ".." component.
 *
 *   {"format": "dln-manifest/1", "run_id": "<32 hex digits>", "kind": "run",
 *    "complete": true, "files": [{"name": "trajectory.csv", "bytes": 1234,
 *    "sha256": "<64 hex digits>"}, ...]}
 */
#ifndef DLN_MANIFEST_H
#define DLN_MANIFEST_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DLN_MANIFEST_NAME "manifest.json"
#define DLN_RUN_ID_LEN 32 /* hex digits of a run id (128 random bits) */

typedef struct dln_manifest_file {
  char *name;      /* relative to the folder */
  long long bytes; /* size when the manifest was written */
  char sha256[65]; /* lower-case hex */
} dln_manifest_file;

typedef struct dln_manifest {
  char run_id[DLN_RUN_ID_LEN + 1];
  char kind[16]; /* "run" or "sweep" */
  int complete;  /* 0: an interrupted run (partial outputs) */
  size_t nfiles;
  dln_manifest_file *files;
} dln_manifest;

/* A fresh run id: 128 bits from the system's random source, as 32 hex digits + NUL.
 * It identifies a run in summary.json and manifest.json; it never enters a result. */
int dln_run_id_new(char id[DLN_RUN_ID_LEN + 1]);

/* SHA-256 (hex, 64 digits + NUL) and size of a regular file. */
int dln_file_sha256(const char *path, char hex[65], long long *bytes);

/* Is name acceptable as a manifest entry (relative, no "..", no empty component)? 0 for NULL. */
int dln_manifest_name_ok(const char *name);

/* Hash the n files names[] (relative to dir) and write dir/manifest.json atomically.
 * kind is "run" or "sweep"; complete is 1 for a finished run. */
int dln_manifest_write(const char *dir, const char *run_id, const char *kind, int complete,
                       const char *const *names, size_t n);

/* Read dir/manifest.json. DLN_EIO (message names the path) when it is absent, DLN_EFORMAT
 * when it is not a regular file (a FIFO is refused without blocking) or malformed (including
 * an unsafe name). *out is NULL on failure. */
int dln_manifest_read(const char *dir, dln_manifest **out);
void dln_manifest_free(dln_manifest *m);

/* Index of name in m, or -1. */
int dln_manifest_find(const dln_manifest *m, const char *name); /* −1 also for NULL arguments */

/* Compare every listed file under dir with its recorded size and hash. Returns the number
 * of mismatching or missing files (0: intact), or -status on a failure to read; why gets
 * one line per mismatch (truncated to len). */
int dln_manifest_verify(const dln_manifest *m, const char *dir, char *why, size_t len);

#ifdef __cplusplus
}
#endif
#endif
