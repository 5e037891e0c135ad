/* `dln sweep SPEC.json [--threads T] [--out DIR] [--quiet] [--force] [--shard i/N] [--resume]`:
 * the runs of the spec's "sweep" object on a pool of threads (dln/ensemble.h). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "cli.h"
#include "dln/dln.h"

static void usage_sweep(FILE *fp) {
  fprintf(fp,
          "Usage: dln sweep SPEC.json [--threads T] [--out DIR] [--quiet] [--force] [--shard i/N] [--resume] [--wide]\n"
          "       dln sweep --resume --out DIR [--threads T] [--quiet] [--shard i/N] [--wide]\n"
          "\n"
          "Runs every combination of the values in the spec's \"sweep\" object, e.g.\n"
          "  \"sweep\": {\"sigma\": [0.01, 0.1, 1], \"seed\": {\"from\": 1, \"count\": 100}}\n"
          "on T threads (default: all online CPUs), one single-threaded run per thread; the other\n"
          "keys of SPEC.json are the base spec of every run (see dln run --help). Writes\n"
          "DIR/ensemble.csv (one row per run and sample) and DIR/ensemble.json (per run: stop\n"
          "reason, counters, final values, the `dln run` line that repeats it). The data are\n"
          "drawn once (DIR/data/) unless data_seed or a data field is swept (docs/cli.md).\n"
          "DIR/manifest.json, written last, lists every file of the sweep. When every run fails,\n"
          "nothing is committed and the exit code is that of the first failure.\n"
          "\n"
          "  --threads T   worker threads (default: online CPUs); results do not depend on T\n"
          "  --out DIR     output folder (default: the spec's out)\n"
          "  --quiet       no progress line or totals (the number of failed runs is still printed)\n"
          "  --force       replace the outputs of an earlier run or sweep in DIR (removes only the\n"
          "                files its manifest.json lists); without it such a folder is refused\n"
          "  --shard i/N   run only the runs k with k mod N = i (0 <= i < N); outputs are\n"
          "                ensemble.shard<i>of<N>.csv/.json\n"
          "  --resume      continue an interrupted sweep in DIR: the runs it finished (DIR/.partial)\n"
          "                are read back, not run again; the outputs are byte-identical to those of an\n"
          "                uninterrupted sweep (docs/resume.md). A changed spec is refused (exit 65);\n"
          "                without SPEC.json, the spec stored in DIR/.partial is used\n"
          "\n%s",
          cli_exit_codes_text);
}

typedef struct sweep_progress {
  int quiet, tty, drawn;
  double start, last;
} sweep_progress;

static void sweep_progress_cb(void *ctx, long done, long total, long failed) {
  sweep_progress *p = ctx;
  if (p->quiet) return;
  double now = dln_now_seconds(), el = now - p->start;
  if (p->tty) {
    if (now - p->last < 0.1 && done < total) return;
    char bar[31];
    int k = total > 0 ? (int)(30.0 * (double)done / (double)total) : 30;
    for (int i = 0; i < 30; ++i) bar[i] = i < k ? '#' : '.';
    bar[30] = '\0';
    fprintf(stderr, "\rsweep [%s] %ld/%ld runs, %ld failed, %.1fs", bar, done, total, failed, el);
    fflush(stderr);
    p->drawn = 1;
    p->last = now;
  } else if (now - p->last >= 10.0 && done < total) {
    fprintf(stderr, "dln: sweep: %ld of %ld runs done, %ld failed, %.0f s\n", done, total, failed, el);
    p->last = now;
  }
}

/* The command line of `dln sweep`. */
typedef struct sweep_args {
  int threads, quiet, shard, nshards, help, force, resume;
  int wide; /* --wide */
  const char *out;
} sweep_args;

/* --shard i/N; EX_USAGE with the message printed. */
static int parse_shard(const char *arg, sweep_args *a) {
  char *e = NULL;
  long i = strtol(arg, &e, 10), n = 0;
  if (e != arg && *e == '/') {
    char *e2;
    n = strtol(e + 1, &e2, 10);
    if (e2 == e + 1 || *e2) n = 0;
  }
  if (n < 1 || n > 1000000 || i < 0 || i >= n) {
    fprintf(stderr, "dln: option --shard: expected i/N with 0 <= i < N, found '%s'\n", arg);
    return EX_USAGE;
  }
  a->shard = (int)i;
  a->nshards = (int)n;
  return 0;
}

/* The options into a (a->help: the usage is printed); EX_USAGE with the message printed. */
static int sweep_parse(int argc, char **argv, sweep_args *a) {
  static const struct option lo[] = {{"threads", required_argument, NULL, 't'}, {"out", required_argument, NULL, 'o'},
                                     {"quiet", no_argument, NULL, 'q'},         {"shard", required_argument, NULL, 's'},
                                     {"help", no_argument, NULL, 'h'},          {"force", no_argument, NULL, 'f'},
                                     {"resume", no_argument, NULL, 'r'},        {"wide", no_argument, NULL, 'w'},
                                     {NULL, 0, NULL, 0}};
  int c, idx;
  opterr = 0;
  optind = 1;
  while ((c = getopt_long(argc, argv, ":h", lo, &idx)) != -1) {
    char *e = NULL;
    switch (c) {
      case 'h': usage_sweep(stdout); a->help = 1; return 0;
      case 't': {
        long v = strtol(optarg, &e, 10);
        if (!*optarg || *e || v < 1 || v > 4096) {
          fprintf(stderr, "dln: option --threads: expected an integer in 1..4096, found '%s'\n", optarg);
          return EX_USAGE;
        }
        a->threads = (int)v;
        break;
      }
      case 'o': a->out = optarg; break;
      case 'q': a->quiet = 1; break;
      case 'f': a->force = 1; break;
      case 'r': a->resume = 1; break;
      case 'w': a->wide = 1; break;
      case 's':
        if (parse_shard(optarg, a)) return EX_USAGE;
        break;
      case ':':
        fprintf(stderr, "dln: option %s: expected a value, found none (see dln sweep --help)\n", argv[optind - 1]);
        return EX_USAGE;
      default: {
        const char *bad = argv[optind - 1];
        fprintf(stderr, "dln: unknown option '%.*s' (see dln sweep --help)\n", (int)strcspn(bad, "="), bad);
        return EX_USAGE;
      }
    }
  }
  return 0;
}

/* The sweep of spec/sw on the pool; the messages and exit code of its outcome. */
static int sweep_exec(const sweep_args *a, const char *path, dln_spec *spec, const dln_sweep *sw) {
  cli_catch_sigint();

  double t_start = dln_now_seconds();
  sweep_progress prog = {spec->quiet, isatty(STDERR_FILENO), 0, t_start, t_start};
  dln_ensemble_options eo;
  dln_ensemble_default_options(&eo);
  eo.nthreads = a->threads;
  eo.shard = a->shard;
  eo.nshards = a->nshards;
  eo.out = a->out;
  eo.progress = sweep_progress_cb;
  eo.progress_ctx = &prog;
  eo.cancelled = cli_cancelled_cb;
  eo.resume = a->resume;
  eo.wide = a->wide;
  dln_ensemble_result res;
  int st = dln_ensemble_run(spec, sw, &eo, &res);
  if (prog.drawn) fputc('\n', stderr);
  if (st) /* the folder (refused, locked), every run failed, a bad sweep (e.g. too many runs), or no memory */
    return cli_fail(st, res.fail_phase ? res.fail_phase : st == DLN_EIO ? DLN_RUN_FAIL_OUTPUT : DLN_RUN_FAIL_SPEC);
  /* the library polls the SIGINT flag last just before it commits the outputs: trust
   * its answer, so a run reported as cancelled never has an ensemble.json */
  const char *out = a->out ? a->out : spec->out;
  if (res.cancelled) {
    char shard[48] = "", sfx[48] = "";
    if (a->nshards > 1) {
      snprintf(shard, sizeof shard, " --shard %d/%d", a->shard, a->nshards);
      snprintf(sfx, sizeof sfx, ".shard%dof%d", a->shard, a->nshards);
    }
    fprintf(stderr, "dln: %s: sweep interrupted by %s; %ld of %ld runs finished (kept in %s/.partial%s), resume with dln sweep %s --out %s%s --resume\n",
            out, cli_interrupt_name(), res.nkept, res.nselected, out, sfx, path, out, shard);
    return cli_interrupt_exit();
  }
  if (a->resume) /* one line, also with --quiet */
    fprintf(spec->quiet ? stderr : stdout, "dln: %s: resume: %ld finished runs of the interrupted sweep skipped, %ld run now\n", out,
            res.nresumed, res.nselected - res.nresumed);
  if (!spec->quiet) {
    printf("%s: %ld runs on %d threads: %ld complete (%ld diverged or solver failure), %ld failed; %.2f s, %.1f runs/s\n",
           res.csv_path, res.nselected, res.nthreads, res.ncomplete, res.ndiverged, res.nfailed, res.wall_seconds,
           res.wall_seconds > 0 ? (double)res.nselected / res.wall_seconds : 0.0);
    if (res.nfailed || res.ndiverged) printf("  per-run messages: %s\n", res.json_path);
  } else if (res.nfailed) {
    fprintf(stderr, "dln: %s: %ld of %ld runs failed (see %s)\n", a->out ? a->out : spec->out, res.nfailed, res.nselected,
            res.json_path);
  }
  return 0;
}

/* The spec and sweep from the file, or (--resume without a file) from the interrupted
 * sweep's record in the folder; *path: the spec file's name. */
static int sweep_load(const sweep_args *a, const char *file, dln_spec *spec, dln_sweep *sw, char **path) {
  char *text = NULL;
  int st;
  if (file) {
    *path = strdup(file);
    st = *path ? dln_spec_from_json_file(spec, file) : DLN_ENOMEM;
    if (!st) st = dln_sweep_from_json_file(sw, file);
  } else {
    st = dln_ensemble_resume_source(a->out, a->shard, a->nshards, path, &text);
    if (!st) st = dln_spec_from_json_string(spec, *path, text);
    if (!st) st = dln_sweep_from_json_string(sw, *path, text);
  }
  free(text);
  return st;
}

int cmd_sweep(int argc, char **argv) {
  sweep_args a = {0, 0, 0, 1, 0, 0, 0, 0, NULL};
  int rc = sweep_parse(argc, argv, &a);
  if (rc || a.help) return rc;
  int nfiles = argc - optind;
  if (nfiles != 1 && !(nfiles == 0 && a.resume && a.out)) {
    fprintf(stderr, "dln: sweep: expected one spec file (or --resume --out DIR), found %d arguments (see dln sweep --help)\n", nfiles);
    return EX_USAGE;
  }
  char *path = NULL;
  dln_spec spec;
  dln_sweep sw;
  dln_sweep_init(&sw);
  int st = dln_spec_default(&spec);
  if (st) return cli_fail(st, DLN_RUN_FAIL_INTERNAL);
  if ((st = sweep_load(&a, nfiles ? argv[optind] : NULL, &spec, &sw, &path))) {
    rc = cli_fail(st, DLN_RUN_FAIL_SPEC);
  } else if (sw.naxes == 0) {
    fprintf(stderr, "dln: %s: expected a \"sweep\" object of swept options (use dln run for one run)\n", path);
    rc = EX_DATAERR;
  } else {
    if (a.quiet) spec.quiet = 1;
    if (a.force) spec.force = 1;
    rc = sweep_exec(&a, path, &spec, &sw);
  }
  free(path);
  dln_sweep_free(&sw);
  dln_spec_free(&spec);
  return rc;
}
