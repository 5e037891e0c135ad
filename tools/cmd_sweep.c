/* `dln sweep SPEC.json [--threads T] [--out DIR] [--quiet] [--force] [--shard i/N] [--resume] [--dry-run] [--plot]`:
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
          "Usage: dln sweep SPEC.json [--threads T] [--out DIR] [--quiet] [--force] [--shard i/N] [--resume] [--dry-run]\n"
          "                 [--save-weights] [--wide] [--plot]\n"
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
          "                ensemble.shard<i>of<N>.csv/.json (join them with dln merge DIR). Default in a\n"
          "                Slurm job array: i = SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN,\n"
          "                N = SLURM_ARRAY_TASK_COUNT (docs/slurm.md)\n"
          "  --resume      continue an interrupted sweep in DIR: the runs it finished (DIR/.partial)\n"
          "                are read back, not run again; the outputs are byte-identical to those of an\n"
          "                uninterrupted sweep (docs/resume.md). A changed spec is refused (exit 65);\n"
          "                without SPEC.json, the spec stored in DIR/.partial is used\n"
          "  --dry-run     print the runs (index, overrides, the `dln run` line ensemble.json would\n"
          "                record, TAB-separated; a run that would fail before it starts: its error as\n"
          "                a fourth field) and exit 0; draws, writes and locks nothing\n"
          "  --save-weights  each finished run's final layers (W<j>_final.npy; W_final.npy end-to-end)\n"
          "                into DIR/runs/<k>/, listed in manifest.json\n"
          "  --plot        (or \"plot\": true in SPEC.json) also DIR/plot.py, figure.png and figure.svg (median and\n"
          "                10-90%% band per swept setting vs t; one curve per run for <= 10 runs; rendered by\n"
          "                /usr/bin/python3 when matplotlib is installed) and DIR/report.md (final values per setting:\n"
          "                median, quantiles; the end-point tally). Not for a shard (--shard)\n"
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
  int threads, quiet, shard, nshards, help, force, resume, shard_given, dry_run, save_weights, plot;
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

/* A Slurm array variable as an integer ≥ lo: 1 and *v, 0 when unset, -1 with the message printed. */
static int slurm_var(const char *name, long lo, long *v) {
  const char *s = getenv(name);
  if (!s) return 0;
  char *e = NULL;
  *v = strtol(s, &e, 10);
  if (!*s || *e || *v < lo || *v > 100000000L) {
    fprintf(stderr, "dln: sweep: environment variable %s: expected an integer >= %ld, found '%s'\n", name, lo, s);
    return -1;
  }
  return 1;
}

/* Without --shard, inside a Slurm job array: shard i = (ID − MIN) / STEP of N = COUNT (or
 * (MAX − MIN) / STEP + 1), said on stderr; EX_USAGE for bad values (naming the variable). */
static int shard_from_slurm(sweep_args *a) {
  long id, lo = 0, hi = 0, count = 0, step = 1;
  int has = slurm_var("SLURM_ARRAY_TASK_ID", 0, &id), hmin = 0, hmax = 0, hcount = 0;
  if (has <= 0) return has < 0 ? EX_USAGE : 0;
  if ((hmin = slurm_var("SLURM_ARRAY_TASK_MIN", 0, &lo)) < 0 || (hmax = slurm_var("SLURM_ARRAY_TASK_MAX", 0, &hi)) < 0 ||
      (hcount = slurm_var("SLURM_ARRAY_TASK_COUNT", 1, &count)) < 0 || slurm_var("SLURM_ARRAY_TASK_STEP", 1, &step) < 0)
    return EX_USAGE;
  if (!hcount && !hmax) {
    fprintf(stderr, "dln: sweep: SLURM_ARRAY_TASK_ID is set but neither SLURM_ARRAY_TASK_COUNT nor SLURM_ARRAY_TASK_MAX; give --shard i/N\n");
    return EX_USAGE;
  }
  if (hmax && hi < lo) {
    fprintf(stderr, "dln: sweep: SLURM_ARRAY_TASK_MAX: expected at least SLURM_ARRAY_TASK_MIN = %ld, found %ld\n", lo, hi);
    return EX_USAGE;
  }
  long n = hcount ? count : (hi - lo) / step + 1, i = id - lo;
  if (i < 0 || i % step || i / step >= n || n > 1000000) {
    fprintf(stderr, "dln: sweep: SLURM_ARRAY_TASK_ID: expected SLURM_ARRAY_TASK_MIN + k*%ld with 0 <= k < %ld (%s), found %ld; "
            "give --shard i/N\n", step, n, hcount ? "SLURM_ARRAY_TASK_COUNT" : "from SLURM_ARRAY_TASK_MAX", id);
    return EX_USAGE;
  }
  a->shard = (int)(i / step);
  a->nshards = (int)n;
  fprintf(stderr, "dln: sweep: shard %d/%d from the Slurm job array (SLURM_ARRAY_TASK_ID=%ld, %s=%ld%s); --shard overrides it\n",
          a->shard, a->nshards, id, hcount ? "SLURM_ARRAY_TASK_COUNT" : "SLURM_ARRAY_TASK_MAX", hcount ? count : hi,
          hmin ? "" : ", SLURM_ARRAY_TASK_MIN unset: 0");
  return 0;
}

/* The options into a (a->help: the usage is printed); EX_USAGE with the message printed. */
static int sweep_parse(int argc, char **argv, sweep_args *a) {
  static const struct option lo[] = {{"threads", required_argument, NULL, 't'}, {"out", required_argument, NULL, 'o'},
                                     {"quiet", no_argument, NULL, 'q'},         {"shard", required_argument, NULL, 's'},
                                     {"help", no_argument, NULL, 'h'},          {"force", no_argument, NULL, 'f'},
                                     {"resume", no_argument, NULL, 'r'},        {"dry-run", no_argument, NULL, 'n'},
                                     {"save-weights", no_argument, NULL, 'w'},  {"wide", no_argument, NULL, 'W'},
                                     {"plot", no_argument, NULL, 'p'},
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
      case 'n': a->dry_run = 1; break;
      case 'w': a->save_weights = 1; break;
      case 'W': a->wide = 1; break;
      case 'p': a->plot = 1; break;
      case 's':
        if (parse_shard(optarg, a)) return EX_USAGE;
        a->shard_given = 1;
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
  if (a->dry_run && a->resume) {
    fprintf(stderr, "dln: option --dry-run: expected without --resume (a dry run lists a new sweep), found both\n");
    return EX_USAGE;
  }
  return a->shard_given ? 0 : shard_from_slurm(a);
}

/* --dry-run: one line per run, "k<TAB>overrides<TAB>rerun[<TAB>error]". */
static void sweep_plan_cb(void *ctx, long k, const char *overrides, const char *rerun, const char *error) {
  (void)ctx;
  printf("%ld\t%s\t%s%s%s\n", k, overrides, rerun, error ? "\t" : "", error ? error : "");
}

/* The sweep of spec/sw on the pool; the messages and exit code of its outcome. */
static int sweep_exec(const sweep_args *a, const char *path, dln_spec *spec, const dln_sweep *sw, const dln_ensemble_peers *peers,
                      dln_ensemble_result *rp) {
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
  if (a->dry_run && peers && peers->rank > 0) return memset(rp, 0, sizeof *rp), 0; /* under mpirun rank 0 lists the runs */
  eo.peers = a->dry_run ? NULL : peers; /* NULL unless under mpirun with several ranks (docs/mpi.md) */
  if (a->dry_run) eo.plan = sweep_plan_cb;
  eo.save_weights = a->save_weights;
  eo.wide = a->wide;
  eo.plot = a->plot;
  dln_ensemble_result res;
  int st = dln_ensemble_run(spec, sw, &eo, &res);
  *rp = res;
  if (!st && a->dry_run) {
    if (!spec->quiet) fprintf(stderr, "dln: sweep: dry run: %ld of %ld runs listed, nothing written\n", res.nselected, res.nruns);
    return fflush(stdout) ? cli_fail(dln_error(DLN_EIO, "stdout: write failed"), DLN_RUN_FAIL_OUTPUT) : 0;
  }
  if (prog.drawn) fputc('\n', stderr);
  /* rank > 0: rank 0 reports (mpirun's exit code is the first nonzero one: rank 0's); this
   * rank prints only its own failure before the runs */
  if (peers && peers->rank > 0)
    return !st || res.peer_failed ? 0 : res.peers_started ? cli_exit_for(st, res.fail_phase) : cli_fail(st, res.fail_phase);
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
  if (res.plot == DLN_PLOT_NO_MATPLOTLIB || res.plot == DLN_PLOT_FAILED) cli_plot_note(res.plot, res.plot_exit, out);
  else if ((a->plot || sw->plot) && a->nshards > 1)
    fprintf(stderr, "dln: note: %s: a shard draws no figure; dln merge %s --plot writes plot.py and report.md\n", out, out);
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

/* The sweep, shared by the ranks under mpirun in an MPI build (docs/mpi.md): rank 0 writes
 * OUT, the others draw their data sets into a private folder and send their runs to it.
 * *stop_all: rank 0 failed or stopped after the ranks started (others may wait on it). */
static int sweep_shared(const sweep_args *a, const char *path, dln_spec *spec, const dln_sweep *sw, dln_ensemble_peers *peers,
                        int *stop_all) {
  dln_ensemble_result res;
  memset(&res, 0, sizeof res);
  if (peers->nranks <= 1) return sweep_exec(a, path, spec, sw, NULL, &res);
  if (a->nshards > 1) { /* every rank sees it: rank 0 says it */
    if (peers->rank == 0)
      fprintf(stderr, "dln: option --shard: expected no shard when %d MPI ranks share the sweep, found %d/%d\n", peers->nranks,
              a->shard, a->nshards);
    return peers->rank == 0 ? EX_USAGE : 0;
  }
  sweep_args wa = *a;
  char tmp[4096] = "";
#ifdef DLN_MPI
  if (peers->rank > 0) {
    if (cli_mpi_tmpdir(tmp, sizeof tmp, peers->rank)) { /* the others learn it at the sync */
      peers->sync(peers->ctx, DLN_EIO, NULL, 0);
      return EX_CANTCREAT;
    }
    wa.out = tmp;
    spec->quiet = 1;
  }
#endif
  int rc = sweep_exec(&wa, path, spec, sw, peers, &res);
#ifdef DLN_MPI
  if (*tmp) cli_mpi_rmtree(tmp);
#else
  (void)tmp;
#endif
  *stop_all = peers->rank == 0 && rc != 0 && res.peers_started;
  return rc;
}

int cmd_sweep(int argc, char **argv) {
  sweep_args a = {0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, NULL};
  int rc = sweep_parse(argc, argv, &a);
  if (rc || a.help) return rc;
  int nfiles = argc - optind;
  if (nfiles != 1 && !(nfiles == 0 && a.resume && a.out)) {
    fprintf(stderr, "dln: sweep: expected one spec file (or --resume --out DIR), found %d arguments (see dln sweep --help)\n", nfiles);
    return EX_USAGE;
  }
  dln_ensemble_peers peers = {0};
  peers.nranks = 1;
  int mpi = 0, stop_all = 0;
#ifdef DLN_MPI
  if ((mpi = cli_mpi_begin(&peers)) < 0) return EX_SOFTWARE;
#endif
  int quiet_rank = peers.rank > 0; /* every rank reads the same spec: rank 0 reports it */
  char *path = NULL;
  dln_spec spec;
  dln_sweep sw;
  dln_sweep_init(&sw);
  int st = dln_spec_default(&spec);
  if (st) return cli_fail(st, DLN_RUN_FAIL_INTERNAL);
  if ((st = sweep_load(&a, nfiles ? argv[optind] : NULL, &spec, &sw, &path))) {
    rc = quiet_rank ? cli_exit_for(st, DLN_RUN_FAIL_SPEC) : cli_fail(st, DLN_RUN_FAIL_SPEC);
  } else if (sw.naxes == 0) {
    if (!quiet_rank) fprintf(stderr, "dln: %s: expected a \"sweep\" object of swept options (use dln run for one run)\n", path);
    rc = EX_DATAERR;
  } else {
    if (a.quiet) spec.quiet = 1;
    if (a.force) spec.force = 1;
    rc = sweep_shared(&a, path, &spec, &sw, &peers, &stop_all);
  }
  free(path);
  dln_sweep_free(&sw);
  dln_spec_free(&spec);
#ifdef DLN_MPI
  if (mpi) cli_mpi_end(rc, stop_all);
#else
  (void)mpi, (void)stop_all;
#endif
  return rc;
}
