/* An embedded plot.py template (cmake/embed_py.cmake) written into a folder and rendered
 * (dln_plot_render), shared by `dln figure` (figures/registry.c) and plotting sweeps
 * (ensemble_plot.c). */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dln/error.h"
#include "dln/io.h"
#include "run/run_internal.h"

int dln_run_plot_commit(const char *dir, const char *script, int render, dln_run_files *files, int *plot, int *plot_exit) {
  char *p = dln_path_join(dir, "plot.py");
  if (!p) return dln_error(DLN_ENOMEM, "out of memory");
  int st = dln_write_file_atomic(p, script, strlen(script));
  free(p);
  if (!st) st = dln_run_files_add(files, "plot.py");
  *plot = DLN_PLOT_SCRIPT_ONLY;
  *plot_exit = 0;
  if (st || !render) return st;
  *plot = dln_plot_render(dir, plot_exit);
  if (*plot != DLN_PLOT_RENDERED) return DLN_OK;
  static const char *const outs[] = {"figure.png", "figure.svg"};
  for (int i = 0; i < 2 && !st; ++i) {
    char *q = dln_path_join(dir, outs[i]);
    struct stat sb;
    if (!q) return dln_error(DLN_ENOMEM, "out of memory");
    if (stat(q, &sb) == 0) st = dln_run_files_add(files, outs[i]);
    free(q);
  }
  return st;
}
