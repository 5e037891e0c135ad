/* Private helpers shared by the dln command's subcommands (main.c, cli.c, cmd_run.c,
 * cmd_sweep.c, cmd_check.c, cmd_compress.c): exit codes, the SIGINT flag, progress lines. */
#ifndef DLN_TOOLS_CLI_H
#define DLN_TOOLS_CLI_H

#include <signal.h>
#include <stdio.h>

#include "core/util.h" /* dln_now_seconds */

#define EXIT_DIVERGED 3
#define EXIT_CANCELLED 130

/* The signal (SIGINT, SIGTERM) that asked the job to stop, 0 if none (cli_catch_sigint). */
extern volatile sig_atomic_t cli_interrupted;

/* Progress state of one dln_run-based job. */
typedef struct cli_progress {
  int quiet, tty, drawn;
  double start, last_line;
  char label[256];
} cli_progress;

/* dln_run_options callbacks; ctx is a cli_progress (cancelled: ignored). */
int cli_progress_cb(void *ctx, double t, double t_end, double loss);
void cli_run_event_cb(void *ctx, int event, const char *label);
int cli_cancelled_cb(void *ctx);
/* SIGINT and SIGTERM set cli_interrupted; a second one removes temporary files and exits. */
void cli_catch_sigint(void);
int cli_interrupt_exit(void);         /* 130 (SIGINT) or 143 (SIGTERM) */
const char *cli_interrupt_name(void); /* "SIGINT" or "SIGTERM" */
cli_progress cli_progress_for(int quiet);

/* The "Exit codes:" paragraph of every usage text. */
extern const char *const cli_exit_codes_text;
/* The exit code for a library status (phase: DLN_RUN_FAIL_*). */
int cli_exit_for(int status, int phase);
/* Print the library's last error as one line on stderr; its exit code. */
int cli_fail(int status, int phase);
#ifdef DLN_MPI
#include "dln/ensemble.h"
/* tools/mpi/sweep_mpi.c (docs/mpi.md): under mpirun, MPI started and p filled (1); not under
 * a process manager (0: p->nranks = 1); -1: MPI failed (printed). */
int cli_mpi_begin(dln_ensemble_peers *p);
/* MPI_Finalize, or MPI_Abort(rc) when stop_all (other ranks may wait on this one). */
void cli_mpi_end(int rc, int stop_all);
/* A private folder for a rank's data sets (TMPDIR or /tmp); -1: failed (printed). */
int cli_mpi_tmpdir(char *buf, size_t n, int rank);
void cli_mpi_rmtree(const char *dir);
#endif
/* The note on stderr when the figure could not be rendered. */
void cli_plot_note(int plot, int exit_status, const char *out);

/* The subcommands: argv[0] is the subcommand's name. */
int cmd_run(int argc, char **argv);
int cmd_sweep(int argc, char **argv);
int cmd_merge(int argc, char **argv); /* cmd_merge.c */
int cmd_check(int argc, char **argv);
int cmd_fit_lambda0(int argc, char **argv);
int cmd_compress(int argc, char **argv);
int cmd_figure(int argc, char **argv);
int cmd_robust(int argc, char **argv);

#endif
