/* `dln figure NAME|all [--out DIR] [--quick] [--force] [--quiet]`, `dln figure --list`: the
 * experiment catalogue (dln/figure.h, docs/figures.md). Each figure writes its data,
 * plot.py, figure.png / figure.svg (when matplotlib is importable), report.md with the
 * paper's claims and verdicts, and manifest.json into its folder. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "cli.h"
#include "dln/dln.h"

#define DEFAULT_OUT "dln-figure"

static void usage_figure(FILE *fp) {
  fprintf(fp,
          "Usage: dln figure NAME [--out DIR] [--quick] [--force] [--quiet]\n"
          "       dln figure all [--out DIR] [--quick] [--force] [--quiet]\n"
          "       dln figure --list\n"
          "\n"
          "Reproduces a figure of the seed papers through the library and writes into DIR its data,\n"
          "an editable plot.py, figure.png and figure.svg (when python3-matplotlib is installed;\n"
          "otherwise a note on stderr and everything else), report.md (the paper's claims, what dln\n"
          "measured, a verdict with its number) and manifest.json. `all` runs every figure into\n"
          "DIR/NAME/. Exit 4 when a verdict fails.\n"
          "\n"
          "  --out DIR   output folder (default " DEFAULT_OUT "/NAME; with all: " DEFAULT_OUT ")\n"
          "  --quick     a coarser setting that runs in seconds (said so in report.md)\n"
          "  --force     replace an earlier figure's outputs (only the files its manifest lists)\n"
          "  --quiet     no summary lines\n"
          "  --list      the figures, one line each\n"
          "\n%s",
          cli_exit_codes_text);
}

typedef struct figure_args {
  dln_figure_options fo;
  int quiet, list, help;
  const char *out;
} figure_args;

static int figure_parse(int argc, char **argv, figure_args *a) {
  static const struct option lo[] = {{"out", required_argument, NULL, 'o'}, {"quick", no_argument, NULL, 'k'},
                                     {"force", no_argument, NULL, 'f'},     {"quiet", no_argument, NULL, 'q'},
                                     {"list", no_argument, NULL, 'l'},      {"help", no_argument, NULL, 'h'},
                                     {NULL, 0, NULL, 0}};
  int c, idx;
  opterr = 0;
  optind = 1;
  while ((c = getopt_long(argc, argv, ":h", lo, &idx)) != -1) {
    switch (c) {
      case 'h': a->help = 1; return 0;
      case 'o':
        if (!*optarg) {
          fprintf(stderr, "dln: option --out: expected a folder, found an empty name\n");
          return EX_USAGE;
        }
        a->out = optarg;
        break;
      case 'k': a->fo.quick = 1; break;
      case 'f': a->fo.force = 1; break;
      case 'q': a->quiet = 1; break;
      case 'l': a->list = 1; break;
      case ':':
        fprintf(stderr, "dln: option %s: expected a value, found none (see dln figure --help)\n", argv[optind - 1]);
        return EX_USAGE;
      default: {
        const char *bad = argv[optind - 1];
        fprintf(stderr, "dln: unknown option '%.*s' (see dln figure --help)\n", (int)strcspn(bad, "="), bad);
        return EX_USAGE;
      }
    }
  }
  return 0;
}

/* Run one figure into dir; its exit code (0, 4 when a verdict fails, or the failure's). */
static int figure_one(const dln_figure_type *f, const char *dir, const figure_args *a) {
  dln_figure_result r;
  int st = dln_figure_run(f, dir, &a->fo, &r);
  if (st) return cli_fail(st, r.fail_phase);
  if (r.cancelled) {
    fprintf(stderr, "dln: figure %s interrupted by %s; nothing committed (%s has no manifest.json)\n", f->name,
            cli_interrupt_name(), dir);
    return cli_interrupt_exit();
  }
  if (r.plot == DLN_PLOT_NO_MATPLOTLIB)
    fprintf(stderr, "dln: note: python3-matplotlib not found; %s has plot.py and the data but no figure.png/.svg\n",
            dir);
  else if (r.plot == DLN_PLOT_FAILED)
    fprintf(stderr, "dln: note: %s/plot.py failed (exit %d); run /usr/bin/python3 %s/plot.py to see why\n", dir,
            r.plot_exit, dir);
  if (!a->quiet)
    printf("%-10s %d holds, %d fails, %d not checked (%.2f s) -> %s/report.md\n", f->name, r.holds, r.fails,
           r.not_checked, r.wall_seconds, dir);
  return r.fails ? DLN_CHECK_EXIT_VIOLATED : 0;
}

static int figure_all(const figure_args *a) {
  const char *base = a->out ? a->out : DEFAULT_OUT;
  int rc = 0;
  for (int i = 0; i < dln_figure_count() && !cli_interrupted; ++i) {
    const dln_figure_type *f = dln_figure_at(i);
    char *dir = dln_path_join(base, f->name);
    if (!dir) return cli_fail(DLN_ENOMEM, DLN_RUN_FAIL_INTERNAL);
    int r = figure_one(f, dir, a);
    free(dir);
    if (r && r != DLN_CHECK_EXIT_VIOLATED) return r;
    if (r) rc = r;
  }
  return cli_interrupted ? cli_interrupt_exit() : rc;
}

int cmd_figure(int argc, char **argv) {
  figure_args a;
  memset(&a, 0, sizeof a);
  dln_figure_default_options(&a.fo);
  a.fo.cancelled = cli_cancelled_cb; /* the first SIGINT/SIGTERM stops the figure's runs (cli.c) */
  int rc = figure_parse(argc, argv, &a);
  if (rc) return rc;
  if (a.help) return usage_figure(stdout), 0;
  int nargs = argc - optind;
  if (a.list) {
    if (nargs) return fprintf(stderr, "dln: figure --list: expected no figure name, found '%s'\n", argv[optind]), EX_USAGE;
    for (int i = 0; i < dln_figure_count(); ++i)
      printf("%-10s %s [%s]\n", dln_figure_at(i)->name, dln_figure_at(i)->line, dln_figure_at(i)->paper);
    return 0;
  }
  if (nargs != 1) {
    fprintf(stderr, "dln: figure: expected one figure name or all, found %d arguments (see dln figure --list)\n", nargs);
    return EX_USAGE;
  }
  const char *name = argv[optind];
  if (strcmp(name, "all") == 0) return figure_all(&a);
  const dln_figure_type *f = dln_figure_find(name);
  if (!f) return fprintf(stderr, "dln: %s (see dln figure --list)\n", dln_last_error()), EX_USAGE;
  char *dir = a.out ? NULL : dln_path_join(DEFAULT_OUT, name);
  if (!a.out && !dir) return cli_fail(DLN_ENOMEM, DLN_RUN_FAIL_INTERNAL);
  rc = figure_one(f, a.out ? a.out : dir, &a);
  free(dir);
  return rc;
}
