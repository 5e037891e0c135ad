/* Helpers shared by the figures (figure_internal.h): a run folder's files into the
 * figure's manifest, trajectory columns by name, the first time a column falls below a level. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dln/error.h"
#include "dln/io.h"
#include "dln/manifest.h"
#include "dln/run.h"
#include "run/figures/figure_internal.h"

int dln_fig_add_files(dln_figure_ctx *c, const char *sub) {
  char *out = dln_path_join(c->dir, sub);
  dln_manifest *m = NULL;
  int st = out ? dln_manifest_read(out, &m) : dln_error(DLN_ENOMEM, "out of memory");
  for (size_t i = 0; !st && i < m->nfiles; ++i) {
    char *p = dln_path_join(sub, m->files[i].name);
    st = p ? dln_run_files_add(c->files, p) : dln_error(DLN_ENOMEM, "out of memory");
    free(p);
  }
  char *mp = st ? NULL : dln_path_join(sub, DLN_MANIFEST_NAME);
  if (!st) st = mp ? dln_run_files_add(c->files, mp) : dln_error(DLN_ENOMEM, "out of memory");
  free(mp);
  dln_manifest_free(m);
  free(out);
  return st;
}

int dln_fig_read_traj(const char *dir, const char *sub, const char *const *want, int nwant, int *col, dln_mat **m) {
  enum { HEAD = 1 << 16 };
  char path[1024], *head = malloc(HEAD);
  snprintf(path, sizeof path, "%s/%s/trajectory.csv", dir, sub);
  if (!head) return dln_error(DLN_ENOMEM, "out of memory");
  FILE *fp = fopen(path, "r");
  if (!fp || !fgets(head, HEAD, fp)) {
    if (fp) fclose(fp);
    free(head);
    return dln_error(DLN_EIO, "%s: cannot read the header", path);
  }
  fclose(fp);
  for (int w = 0; w < nwant; ++w) col[w] = -1;
  int j = 0;
  char *save = NULL;
  for (char *tok = strtok_r(head, ",\n", &save); tok; tok = strtok_r(NULL, ",\n", &save), ++j)
    for (int w = 0; w < nwant; ++w)
      if (strcmp(tok, want[w]) == 0) col[w] = j;
  free(head);
  for (int w = 0; w < nwant; ++w)
    if (col[w] < 0) return dln_error(DLN_EFORMAT, "%s: expected a column %s, found none", path, want[w]);
  return *m ? DLN_OK : dln_csv_read(path, m);
}

double dln_fig_first_below(const dln_mat *m, int col, double level) {
  for (int i = 0; i < m->rows; ++i)
    if (m->data[i + (size_t)col * m->rows] <= level) return m->data[i];
  return NAN;
}

/* ---- cancellation (figure_internal.h) ---- */

int dln_fig_cancelled(dln_figure_ctx *c) {
  if (!c->cancel_seen && c->cancelled && c->cancelled(c->cancel_ctx)) c->cancel_seen = 1;
  return c->cancel_seen;
}

static int fig_cancel_poll(void *ctx) { return dln_fig_cancelled(ctx); }

static int fig_train_progress(void *ctx, double t, double t_end, double loss) {
  (void)t, (void)t_end, (void)loss;
  return dln_fig_cancelled(ctx);
}

void dln_fig_run_options(dln_figure_ctx *c, dln_run_options *opt) {
  memset(opt, 0, sizeof *opt);
  if (!c->cancelled) return;
  opt->cancelled = fig_cancel_poll;
  opt->progress_ctx = c;
}

void dln_fig_train_cancel(dln_figure_ctx *c, dln_train_options *to) {
  if (!c->cancelled) return;
  to->progress = fig_train_progress;
  to->progress_ctx = c;
}
