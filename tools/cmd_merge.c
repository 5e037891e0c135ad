/* `dln merge DIR [--out DIR2] [--threads T] [--force] [--quiet] [--plot]`: the shards of one sweep
 * (dln sweep --shard i/N, e.g. a Slurm job array) joined into the outputs of the unsharded
 * sweep (dln_ensemble_merge, dln/ensemble.h; docs/slurm.md). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "cli.h"
#include "dln/dln.h"

static void usage_merge(FILE *fp) {
  fprintf(fp,
          "Usage: dln merge DIR [--out DIR2] [--threads T] [--force] [--quiet] [--plot]\n"
          "\n"
          "Joins the shards of one sweep in DIR (ensemble.shard<i>of<N>.csv/.json written by\n"
          "dln sweep --shard i/N, e.g. by the tasks of a Slurm job array; docs/slurm.md) into\n"
          "ensemble.csv, ensemble.json, endpoints.json, data/ and manifest.json in DIR2 (default\n"
          "DIR): the files the unsharded sweep writes, byte for byte except run_id, threads and wall\n"
          "times. Missing, duplicate or inconsistent shards (another N, spec or sweep) are refused.\n"
          "\n"
          "  --out DIR2    output folder (default: DIR)\n"
          "  --threads T   threads that draw the data sets again (default: online CPUs)\n"
          "  --force       replace an earlier sweep's or merge's outputs in DIR2\n"
          "  --quiet       no summary line\n"
          "  --plot        also plot.py, figure.png/.svg and report.md, as dln sweep --plot\n"
          "\n%s",
          cli_exit_codes_text);
}

typedef struct merge_args {
  int threads, force, quiet, help, plot;
  const char *out;
} merge_args;

static int merge_parse(int argc, char **argv, merge_args *a) {
  static const struct option lo[] = {{"out", required_argument, NULL, 'o'},   {"threads", required_argument, NULL, 't'},
                                     {"force", no_argument, NULL, 'f'},       {"quiet", no_argument, NULL, 'q'},
                                     {"help", no_argument, NULL, 'h'},        {"plot", no_argument, NULL, 'p'},
                                     {NULL, 0, NULL, 0}};
  int c, idx;
  opterr = 0;
  optind = 1;
  while ((c = getopt_long(argc, argv, ":h", lo, &idx)) != -1) {
    char *e = NULL;
    long v;
    switch (c) {
      case 'h': usage_merge(stdout); a->help = 1; return 0;
      case 'o': a->out = optarg; break;
      case 'f': a->force = 1; break;
      case 'q': a->quiet = 1; break;
      case 'p': a->plot = 1; break;
      case 't':
        v = strtol(optarg, &e, 10);
        if (!*optarg || *e || v < 1 || v > 4096) {
          fprintf(stderr, "dln: option --threads: expected an integer in 1..4096, found '%s'\n", optarg);
          return EX_USAGE;
        }
        a->threads = (int)v;
        break;
      case ':':
        fprintf(stderr, "dln: option %s: expected a value, found none (see dln merge --help)\n", argv[optind - 1]);
        return EX_USAGE;
      default:
        fprintf(stderr, "dln: unknown option '%.*s' (see dln merge --help)\n", (int)strcspn(argv[optind - 1], "="), argv[optind - 1]);
        return EX_USAGE;
    }
  }
  return 0;
}

int cmd_merge(int argc, char **argv) {
  merge_args a = {0, 0, 0, 0, 0, NULL};
  int rc = merge_parse(argc, argv, &a);
  if (rc || a.help) return rc;
  if (argc - optind != 1) {
    fprintf(stderr, "dln: merge: expected one folder of shards, found %d arguments (see dln merge --help)\n", argc - optind);
    return EX_USAGE;
  }
  const char *dir = argv[optind];
  cli_catch_sigint();
  dln_ensemble_options eo;
  dln_ensemble_default_options(&eo);
  eo.out = a.out;
  eo.nthreads = a.threads;
  eo.cancelled = cli_cancelled_cb;
  eo.plot = a.plot;
  dln_ensemble_result res;
  int st = dln_ensemble_merge(dir, &eo, a.force, &res);
  if (st) return cli_fail(st, res.fail_phase ? res.fail_phase : DLN_RUN_FAIL_INPUT);
  if (res.cancelled) {
    fprintf(stderr, "dln: merge into %s interrupted by %s; nothing committed\n", a.out ? a.out : dir, cli_interrupt_name());
    return cli_interrupt_exit();
  }
  cli_plot_note(res.plot, res.plot_exit, a.out ? a.out : dir);
  if (!a.quiet)
    printf("%s: %ld runs merged: %ld complete (%ld diverged or solver failure), %ld failed\n", res.csv_path, res.nruns,
           res.ncomplete, res.ndiverged, res.nfailed);
  return 0;
}
