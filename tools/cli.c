/* Helpers shared by the dln command's subcommands (cli.h): the SIGINT flag, progress
 * lines of dln_run-based jobs, exit codes and the one-line error. */
#include "cli.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "dln/dln.h"

volatile sig_atomic_t cli_interrupted = 0;

/* The first SIGINT/SIGTERM asks the run to stop at its next step boundary; a second one
 * removes the temporary files of the outputs being written and exits at once, 128 + sig
 * (only async-signal-safe calls here). */
static void on_signal(int sig) {
  if (cli_interrupted) {
    dln_afile_unlink_pending();
    _exit(128 + sig);
  }
  cli_interrupted = sig;
}

/* ---- progress ----------------------------------------------------------------- */

int cli_progress_cb(void *ctx, double t, double t_end, double loss) {
  cli_progress *p = ctx;
  if (cli_interrupted) return 1;
  if (p->quiet) return 0;
  double now = dln_now_seconds(), el = now - p->start;
  if (el < 1.0) return 0;
  double frac = t_end > 0 ? t / t_end : 0;
  if (frac < 0) frac = 0;
  if (frac > 1) frac = 1;
  if (p->tty) {
    char bar[31];
    int k = (int)(frac * 30);
    for (int i = 0; i < 30; ++i) bar[i] = i < k ? '#' : '.';
    bar[30] = '\0';
    fprintf(stderr, "\r%-.40s [%s] %3.0f%% t=%-9.4g loss=%-10.3e %5.1fs", p->label, bar, 100 * frac, t, loss, el);
    fflush(stderr);
    p->drawn = 1;
  } else if (now - p->last_line >= 10.0) {
    fprintf(stderr, "dln: %s: t = %g of %g, loss = %.3e, %.0f s\n", p->label, t, t_end, loss, el);
    p->last_line = now;
  }
  return 0;
}

void cli_run_event_cb(void *ctx, int event, const char *label) {
  cli_progress *p = ctx;
  if (event == 0) {
    p->start = p->last_line = dln_now_seconds();
    p->drawn = 0;
    snprintf(p->label, sizeof p->label, "%s", label ? label : "");
  } else if (p->drawn) {
    fprintf(stderr, "\r%*s\r", 110, "");
    fflush(stderr);
    p->drawn = 0;
  }
}

int cli_cancelled_cb(void *ctx) {
  (void)ctx;
  return cli_interrupted != 0;
}

/* SIGINT and SIGTERM set `cli_interrupted` to the signal; the running job polls it and
 * stops at a step boundary (docs/resume.md). SA_RESTART: writes in progress go on. */
void cli_catch_sigint(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaddset(&sa.sa_mask, SIGINT);
  sigaddset(&sa.sa_mask, SIGTERM);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
}

int cli_interrupt_exit(void) { return 128 + (cli_interrupted ? (int)cli_interrupted : SIGINT); }

const char *cli_interrupt_name(void) { return cli_interrupted == SIGTERM ? "SIGTERM" : "SIGINT"; }

/* Progress state of one dln_run-based job. */
cli_progress cli_progress_for(int quiet) {
  cli_progress p;
  memset(&p, 0, sizeof p);
  p.quiet = quiet;
  p.tty = isatty(STDERR_FILENO);
  return p;
}

/* ---- exit codes ----------------------------------------------------------------- */

const char *const cli_exit_codes_text =
    "Exit codes:\n"
    "  0    success\n"
    "  3    the run diverged (outputs and summary.json are still written, stop_reason \"diverged\")\n"
    "  4    dln check: an applicable result is violated beyond the tolerance (see check.json)\n"
    "  5    dln check, dln compress: the folder's files are tampered with or inconsistent (manifest\n"
    "       mismatch, an incomplete run, final layers vs trajectory vs summary.json; the message names\n"
    "       the file)\n"
    "  64   bad command line (EX_USAGE)\n"
    "  65   bad spec or data values (EX_DATAERR)\n"
    "  66   a spec or data file is missing or unreadable (EX_NOINPUT)\n"
    "  70   internal or integrator failure (EX_SOFTWARE)\n"
    "  73   the output folder cannot be created or written, or holds the outputs of an\n"
    "       earlier run or sweep and --force was not given (EX_CANTCREAT)\n"
    "  75   another dln run or sweep is writing into the output folder (EX_TEMPFAIL)\n"
    "  130  interrupted by SIGINT (Ctrl-C): stopped at a step boundary, partial outputs, summary.json\n"
    "       and manifest.json with \"complete\": false and a checkpoint; continue with dln run --resume DIR\n"
    "       (a sweep: dln sweep SPEC --out DIR --resume)\n"
    "  143  interrupted by SIGTERM (kill, timeout, Slurm's time limit): as 130\n";

int cli_exit_for(int status, int phase) {
  if (status != DLN_OK && phase == DLN_RUN_FAIL_BUSY) return EX_TEMPFAIL;
  switch (status) {
    case DLN_OK: return 0;
    case DLN_EIO: return phase == DLN_RUN_FAIL_OUTPUT ? EX_CANTCREAT : EX_NOINPUT;
    case DLN_ESPEC:
    case DLN_EINVAL:
    case DLN_EDIM:
    case DLN_EFORMAT:
    case DLN_ENONFINITE:
    case DLN_ENOTAPPLICABLE: return phase == DLN_RUN_FAIL_OUTPUT ? EX_CANTCREAT : EX_DATAERR;
    case DLN_EDIVERGED: return EXIT_DIVERGED;
    default: return EX_SOFTWARE;
  }
}

int cli_fail(int status, int phase) {
  const char *m = dln_last_error();
  fprintf(stderr, "dln: %s\n", m && *m ? m : dln_strerror(status));
  return cli_exit_for(status, phase);
}

void cli_plot_note(int plot, int exit_status, const char *out) {
  if (plot == DLN_PLOT_NO_MATPLOTLIB)
    fprintf(stderr, "dln: note: python3-matplotlib not found; wrote plot.py but no figure.png\n");
  else if (plot == DLN_PLOT_FAILED)
    fprintf(stderr, "dln: note: %s/plot.py failed (exit %d); run /usr/bin/python3 %s/plot.py to see why\n", out,
            exit_status, out);
}
