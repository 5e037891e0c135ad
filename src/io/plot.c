/* Plot scripts: matplotlib scripts written beside the data they read, rendered with
 * Debian's /usr/bin/python3 when python3-matplotlib is installed. The scripts save to
 * a temporary name and rename, so figure.png is never half-written.
 * Single run: the loss panel shows the reconstruction error (factorization) or the loss
 * gap; when the trajectory has theory columns (bound_003thm1, bound_004prop2,
 * bound_002thm2, cf_loss) it shows ℓ − L* with each rate bound dashed ("003 Thm 1
 * bound", ...) and the closed-form loss dotted. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dln/error.h"
#include "dln/io.h"
#include "io/io_internal.h"

extern char **environ;

#define PYTHON "/usr/bin/python3"

static const char *prologue =
    "#!/usr/bin/env python3\n"
    "# Written by dln. Reads the trajectory table(s) beside this script and saves figure.png.\n"
    "# Edit freely; rerun with: python3 plot.py\n"
    "import csv, math, os, sys\n"
    "try:\n"
    "    import matplotlib\n"
    "    matplotlib.use(os.environ.get('MPLBACKEND', 'Agg'))\n"
    "    import matplotlib.pyplot as plt\n"
    "except ImportError:\n"
    "    sys.exit(3)  # dln reports: python3-matplotlib not found\n"
    "\n"
    "HERE = os.path.dirname(os.path.abspath(__file__))\n"
    "\n"
    "def load(path):\n"
    "    with open(path, newline='') as f:\n"
    "        rows = csv.reader(f)\n"
    "        names = next(rows)\n"
    "        cols = {n: [] for n in names}\n"
    "        for row in rows:\n"
    "            for n, v in zip(names, row):\n"
    "                cols[n].append(float(v))\n"
    "    return names, cols\n"
    "\n"
    "def positive(t, y):\n"
    "    pts = [(a, b) for a, b in zip(t, y) if b > 0 and math.isfinite(b)]\n"
    "    return [a for a, _ in pts], [b for _, b in pts]\n"
    "\n"
    "def save(fig):\n"
    "    tmp = os.path.join(HERE, '.figure.tmp.png')\n"
    "    fig.savefig(tmp, dpi=110, format='png')\n"
    "    os.replace(tmp, os.path.join(HERE, 'figure.png'))\n"
    "\n";

static const char *single_body =
    "names, c = load(os.path.join(HERE, 'trajectory.csv'))\n"
    "t = c['t']\n"
    "svs = [n for n in names if n.startswith('sv_')]\n"
    "drifts = [n for n in names if n.startswith('drift_C')]\n"
    "panels = 1 + bool(svs) + bool(drifts or 'unbalancedness' in c)\n"
    "fig, axes = plt.subplots(1, panels, figsize=(4.6 * panels, 3.8), squeeze=False)\n"
    "axes = axes[0]\n"
    "ax = axes[0]\n"
    "# theory columns (observe closed_form / theory): rate bounds dashed, closed-form loss dotted\n"
    "BOUNDS = [('bound_003thm1', '003 Thm 1 bound'), ('bound_004prop2', '004 Prop. 2 bound'),\n"
    "          ('bound_002thm2', '002 Thm 2 bound')]\n"
    "bounds = [(n, lab) for n, lab in BOUNDS if n in c]\n"
    "if 'loss' in c and (bounds or 'cf_loss' in c):\n"
    "    gaps = [(a, b) for a, b in zip(c['loss'], c.get('loss_gap', [])) if math.isfinite(b)]\n"
    "    lstar = gaps[0][0] - gaps[0][1] if gaps else None\n"
    "    shift = (lambda y: [v - lstar for v in y]) if lstar is not None else (lambda y: y)\n"
    "    ax.semilogy(*positive(t, shift(c['loss'])), color='C0', label=r'loss $- L^*$' if gaps else 'loss')\n"
    "    if 'cf_loss' in c:\n"
    "        ax.semilogy(*positive(t, shift(c['cf_loss'])), ':', color='k', lw=2, label='closed-form loss')\n"
    "    for k, (n, lab) in enumerate(bounds):\n"
    "        ax.semilogy(*positive(t, shift(c[n])), '--', color='C%d' % (k + 1), label=lab)\n"
    "    ax.set_ylabel(r'$\\ell - L^*$' if gaps else 'loss')\n"
    "    ax.legend(fontsize=7)\n"
    "elif 'recon_err' in c:\n"
    "    ax.semilogy(*positive(t, c['recon_err']), label='reconstruction error')\n"
    "    ax.set_ylabel(r'$\\|\\bar Y - W\\|_F / \\|\\bar Y\\|_F$')\n"
    "elif 'loss_gap' in c and any(math.isfinite(v) for v in c['loss_gap']):\n"
    "    ax.semilogy(*positive(t, c['loss_gap']), label=r'loss $- L^*$')\n"
    "    ax.set_ylabel(r'$\\ell - L^*$')\n"
    "elif 'loss' in c:\n"
    "    ax.semilogy(*positive(t, c['loss']), label='loss')\n"
    "    ax.set_ylabel('loss')\n"
    "ax.set_xlabel('t')\n"
    "ax.grid(True, which='both', alpha=0.3)\n"
    "k = 1\n"
    "if svs:\n"
    "    ax = axes[k]; k += 1\n"
    "    for n in svs:\n"
    "        ax.plot(t, c[n], label=n.replace('sv_', r'$\\sigma_{') + '}$')\n"
    "    ax.set_xlabel('t'); ax.set_ylabel('singular values of W')\n"
    "    if len(svs) <= 10: ax.legend(fontsize=7)\n"
    "    ax.grid(True, alpha=0.3)\n"
    "if drifts or 'unbalancedness' in c:\n"
    "    ax = axes[k]\n"
    "    for n in drifts:\n"
    "        tt, yy = positive(t, c[n])\n"
    "        if yy: ax.semilogy(tt, yy, label=n)\n"
    "    if not drifts:\n"
    "        ax.plot(t, c['unbalancedness'], label='unbalancedness')\n"
    "    ax.set_xlabel('t'); ax.set_ylabel('conserved-quantity drift')\n"
    "    ax.legend(fontsize=7); ax.grid(True, which='both', alpha=0.3)\n"
    "fig.suptitle(TITLE, fontsize=9)\n"
    "fig.tight_layout()\n"
    "save(fig)\n";

static const char *multi_body =
    "fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))\n"
    "for k, (sub, label) in enumerate(RUNS):\n"
    "    names, c = load(os.path.join(HERE, sub, 'trajectory.csv'))\n"
    "    style = '--' if label.startswith('one') else '-'\n"
    "    color = 'C%d' % (k // 2) if len(RUNS) % 2 == 0 else None\n"
    "    a1.semilogy(*positive(c['t'], c['recon_err']), style, color=color, label=label)\n"
    "a1.set_xlabel('t'); a1.set_ylabel(r'$\\|\\bar Y - X(t)\\|_F / \\|\\bar Y\\|_F$')\n"
    "a1.set_title('reconstruction error', fontsize=9)\n"
    "a1.legend(fontsize=7); a1.grid(True, which='both', alpha=0.3)\n"
    "sub, label = RUNS[SV_RUN]\n"
    "names, c = load(os.path.join(HERE, sub, 'trajectory.csv'))\n"
    "for n in [n for n in names if n.startswith('sv_')]:\n"
    "    a2.plot(c['t'], c[n], label=n.replace('sv_', r'$\\sigma_{') + '}$')\n"
    "a2.set_xscale('symlog', linthresh=0.1)\n"
    "a2.set_xlabel('t'); a2.set_ylabel('singular values of X(t)')\n"
    "a2.set_title('singular values, ' + label, fontsize=9)\n"
    "a2.legend(fontsize=7); a2.grid(True, alpha=0.3)\n"
    "fig.suptitle(TITLE, fontsize=9)\n"
    "fig.tight_layout()\n"
    "save(fig)\n";

/* A Python string literal (repr-style, only printable ASCII kept verbatim). */
static void py_str(FILE *fp, const char *s) {
  fputc('\'', fp);
  for (; *s; ++s) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '\\' || ch == '\'') fprintf(fp, "\\%c", ch);
    else if (ch >= 32 && ch < 127) fputc(ch, fp);
    else fprintf(fp, "\\x%02x", ch);
  }
  fputc('\'', fp);
}

static int write_script(const char *dir, const char *title, const dln_plot_run *runs, int nruns, int sv_run) {
  char *path = dln_path_join(dir, "plot.py");
  if (!path) return dln_error(DLN_ENOMEM, "out of memory");
  dln_afile *f;
  int st = dln_afile_open(&f, path);
  free(path);
  if (st) return st;
  FILE *fp = dln_afile_stream(f);
  fputs(prologue, fp);
  fputs("TITLE = ", fp);
  py_str(fp, title ? title : "dln");
  fputc('\n', fp);
  if (runs) {
    fputs("RUNS = [\n", fp);
    for (int i = 0; i < nruns; ++i) {
      fputs("    (", fp);
      py_str(fp, runs[i].subdir);
      fputs(", ", fp);
      py_str(fp, runs[i].label);
      fputs("),\n", fp);
    }
    fprintf(fp, "]\nSV_RUN = %d\n\n", sv_run);
    fputs(multi_body, fp);
  } else {
    fputc('\n', fp);
    fputs(single_body, fp);
  }
  return dln_afile_commit(f);
}

int dln_plot_write_single(const char *dir, const char *title) { return write_script(dir, title, NULL, 0, 0); }

int dln_plot_write_multi(const char *dir, const char *title, const dln_plot_run *runs, int nruns, int sv_run) {
  if (!runs || nruns < 1 || sv_run < 0 || sv_run >= nruns)
    return dln_error(DLN_EINVAL, "dln_plot_write_multi: expected 1 or more runs and a valid sv_run");
  return write_script(dir, title, runs, nruns, sv_run);
}

int dln_plot_render(const char *dir, int *exit_status) {
  *exit_status = 0;
  if (access(PYTHON, X_OK) != 0) return DLN_PLOT_NO_MATPLOTLIB;
  char *script = dln_path_join(dir, "plot.py");
  if (!script) return DLN_PLOT_FAILED;
  /* environment: ours with MPLBACKEND=Agg */
  size_t n = 0;
  while (environ && environ[n]) ++n;
  char **envp = malloc((n + 2) * sizeof *envp);
  if (!envp) {
    free(script);
    return DLN_PLOT_FAILED;
  }
  size_t k = 0;
  for (size_t i = 0; i < n; ++i)
    if (strncmp(environ[i], "MPLBACKEND=", 11) != 0) envp[k++] = environ[i];
  envp[k++] = "MPLBACKEND=Agg";
  envp[k] = NULL;
  char *argv[] = {"python3", script, NULL};
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid;
  int rc = posix_spawn(&pid, PYTHON, &fa, NULL, argv, envp);
  posix_spawn_file_actions_destroy(&fa);
  free(envp);
  free(script);
  if (rc != 0) return DLN_PLOT_NO_MATPLOTLIB;
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return DLN_PLOT_FAILED;
  }
  if (WIFEXITED(status)) {
    *exit_status = WEXITSTATUS(status);
    if (*exit_status == 0) return DLN_PLOT_RENDERED;
    if (*exit_status == 3) return DLN_PLOT_NO_MATPLOTLIB;
    return DLN_PLOT_FAILED;
  }
  *exit_status = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1;
  return DLN_PLOT_FAILED;
}
