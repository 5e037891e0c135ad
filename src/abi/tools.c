/* The C ABI's commands beside a run (dln/abi.h): `dln check DIR`, `dln sweep SPEC` over a
 * job's spec (cancelled by dln_job_cancel) and `dln figure NAME`, as tools/cmd_check.c,
 * cmd_sweep.c and cmd_figure.c do, returning counts instead of printing. */
#include <stdlib.h>
#include <string.h>

#include "abi/abi_internal.h"
#include "core/util.h"
#include "dln/check.h"
#include "dln/ensemble.h"
#include "dln/error.h"
#include "dln/figure.h"
#include "dln/io.h"
#include "dln/run.h"

int dln_abi_check(const char *dir, double slack, double tol, int *ninconsistent, int *nviolated) {
  DLN_ARGS(dir, ninconsistent, nviolated);
  *ninconsistent = *nviolated = 0;
  dln_check_options co;
  dln_check_default_options(&co);
  if (slack > 0) co.slack = slack;
  if (tol > 0) co.tol = tol;
  dln_check_report rep;
  int st = dln_check_folder(dir, &co, &rep);
  char *path = st ? NULL : dln_path_join(dir, "check.json");
  if (!st && !path) st = dln_error(DLN_ENOMEM, "out of memory");
  if (!st) st = dln_check_write_json(&rep, path); /* as `dln check DIR` */
  if (!st) *ninconsistent = rep.ninconsistent, *nviolated = rep.nviolated;
  free(path);
  dln_check_report_free(&rep);
  return st;
}

/* The sweep: dln_ensemble_run of the job's spec (the base run) over sw. */
static int sweep_exec(dln_job *job, const dln_sweep *sw, int threads, int flags, long *counts) {
  dln_ensemble_options eo;
  dln_ensemble_default_options(&eo);
  eo.nthreads = threads;
  eo.cancelled = dln_abi_job_cancelled;
  eo.progress_ctx = job;
  eo.save_weights = (flags & DLN_ABI_SWEEP_SAVE_WEIGHTS) != 0;
  eo.wide = (flags & DLN_ABI_SWEEP_WIDE) != 0;
  eo.plot = (flags & DLN_ABI_SWEEP_PLOT) != 0;
  dln_ensemble_result res;
  memset(&res, 0, sizeof res);
  int st = dln_ensemble_run(dln_abi_job_spec(job), sw, &eo, &res);
  counts[0] = res.nselected, counts[1] = res.ncomplete, counts[2] = res.nfailed, counts[3] = res.ndiverged;
  counts[4] = res.cancelled, counts[5] = st ? res.fail_phase : 0;
  return st;
}

int dln_job_sweep(dln_job *job, const char *path, int threads, int flags, long *counts) {
  DLN_ARGS(job, path, counts);
  memset(counts, 0, 6 * sizeof *counts);
  counts[5] = DLN_RUN_FAIL_SPEC;
  if (threads < 0 || threads > 4096) return dln_error(DLN_EINVAL, "sweep: threads: expected 0 (online CPUs) to 4096, found %d", threads);
  if (flags & ~(DLN_ABI_SWEEP_SAVE_WEIGHTS | DLN_ABI_SWEEP_WIDE | DLN_ABI_SWEEP_PLOT))
    return dln_error(DLN_EINVAL, "sweep: flags: expected DLN_ABI_SWEEP_* bits, found %#x", (unsigned)flags);
  dln_sweep sw;
  dln_sweep_init(&sw);
  int st = dln_sweep_from_json_file(&sw, path);
  if (!st && sw.naxes == 0)
    st = dln_error(DLN_ESPEC, "%s: expected a \"sweep\" object of swept options (use dln run for one run)", path);
  dln_abi_job_arm(job);
  if (!st) st = sweep_exec(job, &sw, threads, flags, counts);
  dln_sweep_free(&sw);
  return st;
}

const char *dln_abi_figure_name(int i) {
  const dln_figure_type *f = i >= 0 && i < dln_figure_count() ? dln_figure_at(i) : NULL;
  if (!f) dln_error(DLN_EINVAL, "dln_abi_figure_name: figure: expected 0 to %d, found %d", dln_figure_count() - 1, i);
  return f ? f->name : NULL;
}

static int figure_exec(dln_job *job, const char *name, const char *dir, int flags, int *counts, int ncounts) {
  memset(counts, 0, (size_t)ncounts * sizeof *counts);
  if (flags & ~(DLN_ABI_FIGURE_QUICK | DLN_ABI_FIGURE_FORCE | DLN_ABI_FIGURE_NO_RENDER))
    return dln_error(DLN_EINVAL, "figure: flags: expected DLN_ABI_FIGURE_* bits, found %#x", (unsigned)flags);
  const dln_figure_type *f = dln_figure_find(name);
  if (!f) return DLN_EINVAL; /* the message names the figure */
  dln_figure_options fo;
  dln_figure_default_options(&fo);
  fo.quick = (flags & DLN_ABI_FIGURE_QUICK) != 0;
  fo.force = (flags & DLN_ABI_FIGURE_FORCE) != 0;
  fo.render = !(flags & DLN_ABI_FIGURE_NO_RENDER);
  if (job) {
    dln_abi_job_arm(job);
    fo.cancelled = dln_abi_job_cancelled;
    fo.cancel_ctx = job;
  }
  dln_figure_result r;
  memset(&r, 0, sizeof r);
  int st = dln_figure_run(f, dir, &fo, &r);
  counts[0] = r.holds, counts[1] = r.fails, counts[2] = r.not_checked, counts[3] = r.plot;
  counts[4] = st ? r.fail_phase : 0;
  if (ncounts > 5) counts[5] = r.cancelled;
  return st;
}

int dln_abi_figure(const char *name, const char *dir, int flags, int *counts) {
  DLN_ARGS(name, dir, counts);
  return figure_exec(NULL, name, dir, flags, counts, 5);
}

int dln_job_figure(dln_job *job, const char *name, const char *dir, int flags, int *counts) {
  DLN_ARGS(job, name, dir, counts);
  return figure_exec(job, name, dir, flags, counts, 6);
}
