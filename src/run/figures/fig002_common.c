/* Helpers shared by the 002 figures: see fig002_common.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dln/error.h"
#include "dln/io.h"
#include "dln/manifest.h"
#include "dln/run.h"
#include "run/figures/fig002_common.h"

static int list_files(dln_figure_ctx *c, const char *sub, const char *out) {
  dln_manifest *m = NULL;
  int st = dln_manifest_read(out, &m);
  for (size_t i = 0; !st && i < m->nfiles; ++i) {
    char *p = dln_path_join(sub, m->files[i].name);
    st = p ? dln_run_files_add(c->files, p) : dln_error(DLN_ENOMEM, "out of memory");
    free(p);
  }
  char *mp = st ? NULL : dln_path_join(sub, DLN_MANIFEST_NAME);
  if (!st) st = mp ? dln_run_files_add(c->files, mp) : dln_error(DLN_ENOMEM, "out of memory");
  free(mp);
  dln_manifest_free(m);
  return st;
}

int fig002_run(dln_figure_ctx *c, const char *sub, const char *const (*kv)[2], int n, dln_run_result *rr) {
  static const char *const fixed[][2] = {{"quiet", "true"}, {"plot", "false"}, {"force", "true"}};
  char *out = dln_path_join(c->dir, sub);
  dln_spec s;
  int st = dln_spec_default(&s);
  if (!st && !out) st = dln_error(DLN_ENOMEM, "out of memory");
  for (int i = 0; i < n && !st; ++i) st = dln_spec_set(&s, kv[i][0], kv[i][1]);
  for (int i = 0; i < 3 && !st; ++i) st = dln_spec_set(&s, fixed[i][0], fixed[i][1]);
  if (!st) st = dln_spec_set(&s, "out", out);
  if (!st) st = dln_run_noplot(&s, NULL, rr);
  if (!st) st = list_files(c, sub, out);
  free(out);
  dln_spec_free(&s);
  return st;
}

int fig002_read_traj(const char *dir, const char *sub, const char *const *want, int nwant, int *col, dln_mat **m) {
  char path[1024], head[4096];
  snprintf(path, sizeof path, "%s/%s/trajectory.csv", dir, sub);
  FILE *fp = fopen(path, "r");
  if (!fp || !fgets(head, sizeof head, fp)) {
    if (fp) fclose(fp);
    return dln_error(DLN_EIO, "%s: cannot read the header", path);
  }
  fclose(fp);
  for (int w = 0; w < nwant; ++w) col[w] = -1;
  int j = 0;
  for (char *tok = strtok(head, ",\n"); tok; tok = strtok(NULL, ",\n"), ++j)
    for (int w = 0; w < nwant; ++w)
      if (strcmp(tok, want[w]) == 0) col[w] = j;
  for (int w = 0; w < nwant; ++w)
    if (col[w] < 0) return dln_error(DLN_EFORMAT, "%s: expected a column %s, found none", path, want[w]);
  return dln_csv_read(path, m);
}
