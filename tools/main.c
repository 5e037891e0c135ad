/* The dln command: `dln run [SPEC.json] [--option=value ...]` (cmd_run.c),
 * `dln sweep SPEC.json [--threads T] [--out DIR] [--quiet] [--shard i/N]` (cmd_sweep.c),
 * `dln check SPEC.json|RUNDIR [--out DIR] [--slack S] [--tol X] [--quiet]` (cmd_check.c,
 * docs/check.md), `dln fit-lambda0 SPEC.json [--out DIR] ...` (cmd_fit.c), `dln compress RUNDIR
 * [--rank R | --tol T] [--out FILE]` (cmd_compress.c); shared helpers in cli.c (cli.h).
 *
 * Options come from the one table in dln/spec.h (getopt_long long options built from
 * it); they override the spec file's values. Without a spec file `dln run` runs the
 * default job, 001 Fig. 1 (src/run/run.c). Exit codes follow <sysexits.h>, plus 3 for
 * a diverged run and 130 / 143 for a run interrupted by SIGINT / SIGTERM; every error is one line on
 * stderr (docs/cli.md). */
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "cli.h"
#include "dln/dln.h"
#include "dln_version.h"

static void usage_main(FILE *fp) {
  fprintf(fp,
          "dln %s - training dynamics of deep linear networks W_N...W_1\n"
          "\n"
          "Usage:\n"
          "  dln run [SPEC.json] [--option=value ...]   one run from a spec (options override it)\n"
          "  dln run [--option=value ...]               one run from the defaults and the options\n"
          "  dln run [--out DIR] [--quiet]              the default job: 001 Fig. 1 (six runs)\n"
          "  dln run --resume DIR                       continue an interrupted run (docs/resume.md)\n"
          "  dln run --help                             list every option with its default\n"
          "  dln sweep SPEC.json [--threads T] [--out DIR] [--quiet] [--shard i/N]\n"
          "                                             the runs of the spec's \"sweep\" object on all cores\n"
          "  dln merge DIR [--out DIR2] [--force]       join the shards of a sweep (--shard, Slurm arrays)\n"
          "  dln check SPEC.json|RUNDIR [--out DIR] [--slack S] [--tol X] [--quiet]\n"
          "                                             every applicable theory result on a run (docs/check.md)\n"
          "  dln fit-lambda0 SPEC.json [--out DIR] [--lo X --hi X] [--grid N] [--tol X]\n"
          "                                             lambda0 of the imbalance regularizer closest to the run (001 Fig. 2)\n"
          "  dln compress RUNDIR [--rank R | --tol T] [--out FILE] [--save_w FILE] [--quiet]\n"
          "                                             truncate a trained run's W = W_N...W_1 (002 sec. 4.4)\n"
          "  dln figure NAME|all [--out DIR] [--quick] [--force] [--quiet] | --list\n"
          "                                             a figure of the papers with data, plot and verdicts (docs/figures.md)\n"
          "  dln robust [SPEC.json] [--option=value ...] [--lo A --hi B] [--rel_tol R] [--dists LIST]\n"
          "                                             largest disturbance scale still reaching the target, vs 000 Thm 2\n"
          "  dln --help | --version\n"
          "\n%s",
          DLN_VERSION_STRING, cli_exit_codes_text);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage_main(stderr);
    return EX_USAGE;
  }
  cli_catch_sigint(); /* from the start: a SIGTERM during setup is a clean stop too */
  const char *cmd = argv[1];
  if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
    usage_main(stdout);
    return 0;
  }
  if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
    printf("dln %s\n", DLN_VERSION_STRING);
    return 0;
  }
  if (strcmp(cmd, "run") == 0) return cmd_run(argc - 1, argv + 1);
  if (strcmp(cmd, "sweep") == 0) return cmd_sweep(argc - 1, argv + 1);
  if (strcmp(cmd, "merge") == 0) return cmd_merge(argc - 1, argv + 1);
  if (strcmp(cmd, "check") == 0) return cmd_check(argc - 1, argv + 1);
  if (strcmp(cmd, "fit-lambda0") == 0) return cmd_fit_lambda0(argc - 1, argv + 1);
  if (strcmp(cmd, "compress") == 0) return cmd_compress(argc - 1, argv + 1);
  if (strcmp(cmd, "figure") == 0) return cmd_figure(argc - 1, argv + 1);
  if (strcmp(cmd, "robust") == 0) return cmd_robust(argc - 1, argv + 1);
  fprintf(stderr, "dln: unknown command '%s': expected run, sweep, merge, check, fit-lambda0, compress, figure, robust, --help or --version\n", cmd);
  return EX_USAGE;
}
