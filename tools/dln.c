/* The dln command: `dln run [SPEC.json] [--option=value ...]`,
 * `dln sweep SPEC.json [--threads T] [--out DIR] [--quiet] [--shard i/N]`,
 * `dln check SPEC.json|RUNDIR [--out DIR] [--slack S] [--tol X] [--quiet]` (docs/check.md).
 *
 * Options come from the one table in dln/spec.h (getopt_long long options built from
 * it); they override the spec file's values. Without a spec file `dln run` runs the
 * default job, 001 Fig. 1 (src/run/run.c). Exit codes follow <sysexits.h>, plus 3 for
 * a diverged run and 130 for a run cancelled by SIGINT; every error is one line on
 * stderr (docs/cli.md). */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "dln/dln.h"
#include "dln_version.h"

#define EXIT_DIVERGED 3
#define EXIT_CANCELLED 130

static volatile sig_atomic_t interrupted = 0;

static void on_sigint(int sig) {
  (void)sig;
  interrupted = 1;
  signal(SIGINT, SIG_DFL); /* a second Ctrl-C kills */
}

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- progress ----------------------------------------------------------------- */

typedef struct progress {
  int quiet, tty, drawn;
  double start, last_line;
  char label[256];
} progress;

static int progress_cb(void *ctx, double t, double t_end, double loss) {
  progress *p = ctx;
  if (interrupted) return 1;
  if (p->quiet) return 0;
  double now = now_seconds(), el = now - p->start;
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

static void run_event_cb(void *ctx, int event, const char *label) {
  progress *p = ctx;
  if (event == 0) {
    p->start = p->last_line = now_seconds();
    p->drawn = 0;
    snprintf(p->label, sizeof p->label, "%s", label ? label : "");
  } else if (p->drawn) {
    fprintf(stderr, "\r%*s\r", 110, "");
    fflush(stderr);
    p->drawn = 0;
  }
}

static int cancelled_cb(void *ctx) {
  (void)ctx;
  return interrupted != 0;
}

/* SIGINT sets `interrupted`; the running job polls it and commits nothing. */
static void catch_sigint(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
}

/* Progress state of one dln_run-based job. */
static progress progress_for(int quiet) {
  progress p;
  memset(&p, 0, sizeof p);
  p.quiet = quiet;
  p.tty = isatty(STDERR_FILENO);
  return p;
}

/* ---- help --------------------------------------------------------------------- */

static const char *exit_codes_text =
    "Exit codes:\n"
    "  0    success\n"
    "  3    the run diverged (outputs and summary.json are still written, stop_reason \"diverged\")\n"
    "  4    dln check: an applicable result is violated beyond the tolerance (see check.json)\n"
    "  64   bad command line (EX_USAGE)\n"
    "  65   bad spec or data values (EX_DATAERR)\n"
    "  66   a spec or data file is missing or unreadable (EX_NOINPUT)\n"
    "  70   internal or integrator failure (EX_SOFTWARE)\n"
    "  73   the output folder cannot be created or written (EX_CANTCREAT)\n"
    "  130  cancelled by SIGINT (no summary.json is written)\n";

static void usage_main(FILE *fp) {
  fprintf(fp,
          "dln %s - training dynamics of deep linear networks W_N...W_1\n"
          "\n"
          "Usage:\n"
          "  dln run [SPEC.json] [--option=value ...]   one run from a spec (options override it)\n"
          "  dln run [--option=value ...]               one run from the defaults and the options\n"
          "  dln run [--out DIR] [--quiet]              the default job: 001 Fig. 1 (six runs)\n"
          "  dln run --help                             list every option with its default\n"
          "  dln sweep SPEC.json [--threads T] [--out DIR] [--quiet] [--shard i/N]\n"
          "                                             the runs of the spec's \"sweep\" object on all cores\n"
          "  dln check SPEC.json|RUNDIR [--out DIR] [--slack S] [--tol X] [--quiet]\n"
          "                                             every applicable theory result on a run (docs/check.md)\n"
          "  dln --help | --version\n"
          "\n%s",
          DLN_VERSION_STRING, exit_codes_text);
}

static void usage_run(FILE *fp) {
  fprintf(fp,
          "Usage: dln run [SPEC.json] [--option=value | --option value ...]\n"
          "\n"
          "A SPEC.json is a flat JSON object with the option names below as keys; command-line\n"
          "options override its values. Without SPEC.json, options describe one run from the\n"
          "defaults below; with no options but --out, --quiet, --plot and --blas_threads, dln run\n"
          "runs the default job (001 Fig. 1: one- vs two-layer factorization of a 5x10 Gaussian\n"
          "target, sigma in {1e-2, 1e-1, 1}) into six subfolders of --out. Lists are comma-separated\n"
          "(--widths=10,50,5); booleans take --name=true|false (--name alone means true).\n"
          "--method=e2e_flow|e2e_gd integrates W = W_N...W_1 alone and needs a balanced start\n"
          "(--init=balanced); an unbalanced one is refused with its unbalancedness (exit 65).\n"
          "\nOptions (grouped by the module that owns them):\n");
  dln_spec_write_options(fp);
  fprintf(fp,
          "  %-28s %s\n  %-28s %s\n\n%s", "--help", "this text", "--version", "print the version", exit_codes_text);
}

/* ---- exit codes ----------------------------------------------------------------- */

static int exit_for(int status, int phase) {
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

static int fail(int status, int phase) {
  const char *m = dln_last_error();
  fprintf(stderr, "dln: %s\n", m && *m ? m : dln_strerror(status));
  return exit_for(status, phase);
}

static void plot_note(int plot, int exit_status, const char *out) {
  if (plot == DLN_PLOT_NO_MATPLOTLIB)
    fprintf(stderr, "dln: note: python3-matplotlib not found; wrote plot.py but no figure.png\n");
  else if (plot == DLN_PLOT_FAILED)
    fprintf(stderr, "dln: note: %s/plot.py failed (exit %d); run /usr/bin/python3 %s/plot.py to see why\n", out,
            exit_status, out);
}

/* ---- dln run ---------------------------------------------------------------------- */

typedef struct override {
  const char *name, *value;
} override;

static int cmd_run(int argc, char **argv) {
  int n = dln_spec_noptions();
  const dln_spec_option *table = dln_spec_options();
  struct option *lo = calloc((size_t)n + 3, sizeof *lo);
  override *ov = calloc((size_t)argc + 1, sizeof *ov);
  int nov = 0, rc = 0, help = 0, version = 0;
  dln_spec spec;
  int have_spec = 0;
  if (!lo || !ov) {
    fprintf(stderr, "dln: out of memory\n");
    free(lo);
    free(ov);
    return EX_SOFTWARE;
  }
  for (int i = 0; i < n; ++i)
    lo[i] = (struct option){table[i].name, table[i].type == DLN_OPT_BOOL ? optional_argument : required_argument, NULL, 1000 + i};
  lo[n] = (struct option){"help", no_argument, NULL, 'h'};
  lo[n + 1] = (struct option){"version", no_argument, NULL, 'V'};
  opterr = 0;
  optind = 1;
  int c, idx;
  while ((c = getopt_long(argc, argv, ":h", lo, &idx)) != -1) {
    if (c == 'h') help = 1;
    else if (c == 'V') version = 1;
    else if (c >= 1000) ov[nov++] = (override){table[c - 1000].name, optarg ? optarg : "true"};
    else if (c == ':') {
      fprintf(stderr, "dln: option %s: expected a value, found none (see dln run --help)\n", argv[optind - 1]);
      rc = EX_USAGE;
      goto done;
    } else {
      const char *bad = argv[optind - 1];
      if (optopt && optopt != '?') fprintf(stderr, "dln: unknown option '-%c' (see dln run --help)\n", optopt);
      else fprintf(stderr, "dln: unknown option '%.*s' (see dln run --help)\n", (int)strcspn(bad, "="), bad);
      rc = EX_USAGE;
      goto done;
    }
  }
  if (help) {
    usage_run(stdout);
    goto done;
  }
  if (version) {
    printf("dln %s\n", DLN_VERSION_STRING);
    goto done;
  }
  if (argc - optind > 1) {
    fprintf(stderr, "dln: run: expected at most one spec file, found %d arguments ('%s', '%s', ...)\n", argc - optind,
            argv[optind], argv[optind + 1]);
    rc = EX_USAGE;
    goto done;
  }
  const char *spec_path = optind < argc ? argv[optind] : NULL;
  /* Without a spec, options that describe a run (anything but where and how to write)
   * make it one run from the defaults; with none of them it is the default job. */
  int single = spec_path != NULL;
  for (int i = 0; i < nov && !single; ++i)
    single = strcmp(ov[i].name, "out") && strcmp(ov[i].name, "quiet") && strcmp(ov[i].name, "plot") &&
             strcmp(ov[i].name, "blas_threads");
  int st = dln_spec_default(&spec);
  if (st) {
    rc = fail(st, DLN_RUN_FAIL_INTERNAL);
    goto done;
  }
  have_spec = 1;
  if (spec_path) {
    if ((st = dln_spec_from_json_file(&spec, spec_path))) {
      rc = fail(st, DLN_RUN_FAIL_SPEC);
      goto done;
    }
  } else if (!single && (st = dln_run_fig1_defaults(&spec))) {
    rc = fail(st, DLN_RUN_FAIL_INTERNAL);
    goto done;
  }
  for (int i = 0; i < nov; ++i) {
    if ((st = dln_spec_set(&spec, ov[i].name, ov[i].value))) {
      fprintf(stderr, "dln: %s\n", dln_last_error());
      rc = EX_USAGE;
      goto done;
    }
  }

  catch_sigint();
  progress prog = progress_for(spec.quiet);
  dln_run_options ro = {progress_cb, &prog, run_event_cb, cancelled_cb};
  dln_run_result res;
  if (single) {
    st = dln_run(&spec, &ro, &res);
  } else {
    st = dln_run_fig1(&spec, &ro, stdout, &res);
  }
  if (st) {
    rc = fail(st, res.fail_phase);
    goto done;
  }
  if (res.train.stop_reason == DLN_STOP_CANCELLED) { /* polled by the library up to summary.json */
    fprintf(stderr, "dln: %s: cancelled by SIGINT; the run is incomplete (no summary.json)\n", spec.out);
    rc = EXIT_CANCELLED;
    goto done;
  }
  plot_note(res.plot, res.plot_exit, spec.out);
  if (res.train.stop_reason == DLN_STOP_DIVERGED) {
    if (single)
      fprintf(stderr, "dln: %s: diverged (step %ld, t = %g): %s\n", spec.out, res.train.fail_step, res.train.fail_t,
              res.train.message);
    else
      fprintf(stderr, "dln: %s: a run of the default job diverged (see summary.json)\n", spec.out);
    rc = EXIT_DIVERGED;
    goto done;
  }
  if (res.train.stop_reason == DLN_STOP_SOLVER) {
    fprintf(stderr, "dln: %s: integrator failure: %s\n", spec.out, single ? res.train.message : "see summary.json");
    rc = EX_SOFTWARE;
    goto done;
  }
  if (!spec.quiet) {
    if (single)
      printf("%s: stop %s at t = %.6g after %ld steps (%s, %ld gradient evaluations), loss %.6g, %.0f ms\n", spec.out,
             dln_stop_reason_name(res.train.stop_reason), res.train.t, res.train.steps,
             res.train.integrator ? res.train.integrator : spec.method, res.train.grad_evals, res.loss_final, res.wall_ms);
    else
      printf("wrote %s/summary.json%s (%.0f ms)\n", spec.out, res.plot == DLN_PLOT_RENDERED ? " and figure.png" : "",
             res.wall_ms);
  }
done:
  if (have_spec) dln_spec_free(&spec);
  free(lo);
  free(ov);
  return rc;
}

/* ---- dln sweep ------------------------------------------------------------------- */

static void usage_sweep(FILE *fp) {
  fprintf(fp,
          "Usage: dln sweep SPEC.json [--threads T] [--out DIR] [--quiet] [--shard i/N]\n"
          "\n"
          "Runs every combination of the values in the spec's \"sweep\" object, e.g.\n"
          "  \"sweep\": {\"sigma\": [0.01, 0.1, 1], \"seed\": {\"from\": 1, \"count\": 100}}\n"
          "on T threads (default: all online CPUs), one single-threaded run per thread; the other\n"
          "keys of SPEC.json are the base spec of every run (see dln run --help). Writes\n"
          "DIR/ensemble.csv (one row per run and sample) and DIR/ensemble.json (per run: stop\n"
          "reason, counters, final values, the `dln run` line that repeats it). The data are\n"
          "drawn once (DIR/data/) unless data_seed or a data field is swept (docs/cli.md).\n"
          "\n"
          "  --threads T   worker threads (default: online CPUs); results do not depend on T\n"
          "  --out DIR     output folder (default: the spec's out)\n"
          "  --quiet       no progress line or totals\n"
          "  --shard i/N   run only the runs k with k mod N = i (0 <= i < N); outputs are\n"
          "                ensemble.shard<i>of<N>.csv/.json\n"
          "\n%s",
          exit_codes_text);
}

typedef struct sweep_progress {
  int quiet, tty, drawn;
  double start, last;
} sweep_progress;

static void sweep_progress_cb(void *ctx, long done, long total, long failed) {
  sweep_progress *p = ctx;
  if (p->quiet) return;
  double now = now_seconds(), el = now - p->start;
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

static int cmd_sweep(int argc, char **argv) {
  static const struct option lo[] = {{"threads", required_argument, NULL, 't'}, {"out", required_argument, NULL, 'o'},
                                     {"quiet", no_argument, NULL, 'q'},         {"shard", required_argument, NULL, 's'},
                                     {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
  int threads = 0, quiet = 0, shard = 0, nshards = 1, c, idx;
  const char *out = NULL;
  opterr = 0;
  optind = 1;
  while ((c = getopt_long(argc, argv, ":h", lo, &idx)) != -1) {
    char *e = NULL;
    switch (c) {
      case 'h': usage_sweep(stdout); return 0;
      case 't': {
        long v = strtol(optarg, &e, 10);
        if (!*optarg || *e || v < 1 || v > 4096) {
          fprintf(stderr, "dln: option --threads: expected an integer in 1..4096, found '%s'\n", optarg);
          return EX_USAGE;
        }
        threads = (int)v;
        break;
      }
      case 'o': out = optarg; break;
      case 'q': quiet = 1; break;
      case 's': {
        long i = strtol(optarg, &e, 10), n = 0;
        if (e != optarg && *e == '/') {
          char *e2;
          n = strtol(e + 1, &e2, 10);
          if (e2 == e + 1 || *e2) n = 0;
        }
        if (n < 1 || n > 1000000 || i < 0 || i >= n) {
          fprintf(stderr, "dln: option --shard: expected i/N with 0 <= i < N, found '%s'\n", optarg);
          return EX_USAGE;
        }
        shard = (int)i;
        nshards = (int)n;
        break;
      }
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
  if (argc - optind != 1) {
    fprintf(stderr, "dln: sweep: expected one spec file, found %d arguments (see dln sweep --help)\n", argc - optind);
    return EX_USAGE;
  }
  const char *path = argv[optind];
  dln_spec spec;
  dln_sweep sw;
  dln_sweep_init(&sw);
  int st = dln_spec_default(&spec), rc = 0;
  if (st) return fail(st, DLN_RUN_FAIL_INTERNAL);
  if ((st = dln_spec_from_json_file(&spec, path)) || (st = dln_sweep_from_json_file(&sw, path))) {
    rc = fail(st, DLN_RUN_FAIL_SPEC);
    goto done;
  }
  if (sw.naxes == 0) {
    fprintf(stderr, "dln: %s: expected a \"sweep\" object of swept options (use dln run for one run)\n", path);
    rc = EX_DATAERR;
    goto done;
  }
  if (quiet) spec.quiet = 1;

  catch_sigint();

  double t_start = now_seconds();
  sweep_progress prog = {spec.quiet, isatty(STDERR_FILENO), 0, t_start, t_start};
  dln_ensemble_options eo;
  dln_ensemble_default_options(&eo);
  eo.nthreads = threads;
  eo.shard = shard;
  eo.nshards = nshards;
  eo.out = out;
  eo.progress = sweep_progress_cb;
  eo.progress_ctx = &prog;
  eo.cancelled = cancelled_cb;
  dln_ensemble_result res;
  st = dln_ensemble_run(&spec, &sw, &eo, &res);
  if (prog.drawn) fputc('\n', stderr);
  if (st) { /* DLN_EIO: the output folder; otherwise a bad sweep (e.g. too many runs), or no memory */
    rc = fail(st, st == DLN_EIO ? DLN_RUN_FAIL_OUTPUT : DLN_RUN_FAIL_SPEC);
    goto done;
  }
  /* the library polls the SIGINT flag last just before it commits the outputs: trust
   * its answer, so a run reported as cancelled never has an ensemble.json */
  if (res.cancelled) {
    fprintf(stderr, "dln: %s: sweep cancelled by SIGINT; nothing written\n", out ? out : spec.out);
    rc = EXIT_CANCELLED;
    goto done;
  }
  if (!spec.quiet) {
    printf("%s: %ld runs on %d threads: %ld complete (%ld diverged or solver failure), %ld failed; %.2f s, %.1f runs/s\n",
           res.csv_path, res.nselected, res.nthreads, res.ncomplete, res.ndiverged, res.nfailed, res.wall_seconds,
           res.wall_seconds > 0 ? (double)res.nselected / res.wall_seconds : 0.0);
    if (res.nfailed || res.ndiverged) printf("  per-run messages: %s\n", res.json_path);
  }
done:
  dln_sweep_free(&sw);
  dln_spec_free(&spec);
  return rc;
}

/* ---- dln check ------------------------------------------------------------------- */

static void usage_check(FILE *fp) {
  fprintf(fp,
          "Usage: dln check SPEC.json|RUNDIR [--out DIR] [--slack S] [--tol X] [--quiet]\n"
          "\n"
          "Evaluates every result of the theory toolkit whose hypotheses hold (closed forms, rate\n"
          "bounds, dissipation, conservation of C_j, sign of det W, the end point's critical value\n"
          "and Hessian, ...) on a run: a SPEC.json is run first (like dln run, into --out or the\n"
          "spec's out), a RUNDIR is a folder written by dln run. Prints a table (result, source,\n"
          "hypotheses, bound or prediction, measured, margin, verdict) and writes RUNDIR/check.json.\n"
          "A result counts as violated beyond tol = S * rtol (default S = 1e4; docs/check.md).\n"
          "\n"
          "  --out DIR   output folder of the run (SPEC.json only)\n"
          "  --slack S   tolerance = S * rtol of the run (default 1e4)\n"
          "  --tol X     tolerance X instead\n"
          "  --quiet     no table (check.json and the exit status only)\n"
          "\n%s",
          exit_codes_text);
}

static int parse_pos(const char *opt, const char *arg, double *out) {
  char *e = NULL;
  double v = strtod(arg, &e);
  if (!*arg || *e || !(v > 0) || !isfinite(v)) {
    fprintf(stderr, "dln: option %s: expected a positive number, found '%s'\n", opt, arg);
    return EX_USAGE;
  }
  *out = v;
  return 0;
}

static int cmd_check(int argc, char **argv) {
  static const struct option lo[] = {{"out", required_argument, NULL, 'o'},  {"slack", required_argument, NULL, 's'},
                                     {"tol", required_argument, NULL, 't'},  {"quiet", no_argument, NULL, 'q'},
                                     {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0}};
  dln_check_options co;
  dln_check_default_options(&co);
  int quiet = 0, c, idx, rc;
  const char *out = NULL;
  opterr = 0;
  optind = 1;
  while ((c = getopt_long(argc, argv, ":h", lo, &idx)) != -1) {
    switch (c) {
      case 'h': usage_check(stdout); return 0;
      case 'o': out = optarg; break;
      case 's':
        if ((rc = parse_pos("--slack", optarg, &co.slack))) return rc;
        break;
      case 't':
        if ((rc = parse_pos("--tol", optarg, &co.tol))) return rc;
        break;
      case 'q': quiet = 1; break;
      case ':':
        fprintf(stderr, "dln: option %s: expected a value, found none (see dln check --help)\n", argv[optind - 1]);
        return EX_USAGE;
      default: {
        const char *bad = argv[optind - 1];
        fprintf(stderr, "dln: unknown option '%.*s' (see dln check --help)\n", (int)strcspn(bad, "="), bad);
        return EX_USAGE;
      }
    }
  }
  if (argc - optind != 1) {
    fprintf(stderr, "dln: check: expected one spec file or run folder, found %d arguments (see dln check --help)\n",
            argc - optind);
    return EX_USAGE;
  }
  const char *arg = argv[optind];
  struct stat sb;
  if (stat(arg, &sb) != 0) {
    fprintf(stderr, "dln: %s: expected a spec file or a run folder, found nothing (%s)\n", arg, strerror(errno));
    return EX_NOINPUT;
  }
  dln_spec spec;
  int have_spec = 0, st;
  const char *dir = arg;
  rc = 0;
  if (!S_ISDIR(sb.st_mode)) { /* a spec: run it first, like dln run */
    if ((st = dln_spec_default(&spec))) return fail(st, DLN_RUN_FAIL_INTERNAL);
    have_spec = 1;
    if ((st = dln_spec_from_json_file(&spec, arg))) {
      rc = fail(st, DLN_RUN_FAIL_SPEC);
      goto done;
    }
    if (out && (st = dln_spec_set(&spec, "out", out))) {
      rc = fail(st, DLN_RUN_FAIL_SPEC);
      goto done;
    }
    if (quiet) spec.quiet = 1;
    catch_sigint();
    progress prog = progress_for(spec.quiet);
    dln_run_options ro = {progress_cb, &prog, run_event_cb, cancelled_cb};
    dln_run_result res;
    if ((st = dln_run(&spec, &ro, &res))) {
      rc = fail(st, res.fail_phase);
      goto done;
    }
    if (res.train.stop_reason == DLN_STOP_CANCELLED) { /* polled by the library up to summary.json */
      fprintf(stderr, "dln: %s: cancelled by SIGINT; the run is incomplete (no summary.json)\n", spec.out);
      rc = EXIT_CANCELLED;
      goto done;
    }
    if (res.train.stop_reason == DLN_STOP_DIVERGED || res.train.stop_reason == DLN_STOP_SOLVER) {
      fprintf(stderr, "dln: %s: the run %s (%s); nothing to check\n", spec.out,
              res.train.stop_reason == DLN_STOP_DIVERGED ? "diverged" : "had an integrator failure", res.train.message);
      rc = res.train.stop_reason == DLN_STOP_DIVERGED ? EXIT_DIVERGED : EX_SOFTWARE;
      goto done;
    }
    dir = spec.out;
  } else if (out) {
    fprintf(stderr, "dln: option --out: expected a spec file to run, found the run folder '%s'\n", arg);
    return EX_USAGE;
  }
  {
    dln_check_report rep;
    st = dln_check_folder(dir, &co, &rep);
    if (st) {
      rc = fail(st, DLN_RUN_FAIL_INPUT);
      dln_check_report_free(&rep);
      goto done;
    }
    if (!quiet) dln_check_print(&rep, stdout);
    size_t n = strlen(dir) + 16;
    char *path = malloc(n);
    if (!path) {
      dln_check_report_free(&rep);
      rc = fail(dln_error(DLN_ENOMEM, "out of memory"), DLN_RUN_FAIL_INTERNAL);
      goto done;
    }
    snprintf(path, n, "%s/check.json", dir);
    st = dln_check_write_json(&rep, path);
    free(path);
    if (st) rc = fail(st, DLN_RUN_FAIL_OUTPUT);
    else if (rep.nviolated) {
      const dln_check_item *first = NULL;
      for (size_t i = 0; i < rep.n && !first; ++i)
        if (rep.items[i].v.applicable && !rep.items[i].v.holds) first = &rep.items[i];
      fprintf(stderr, "dln: %s: %d applicable result%s violated, first: %s (%s): %s; %s\n", dir, rep.nviolated,
              rep.nviolated == 1 ? "" : "s", first->v.result, first->v.source, first->v.message, first->cause);
      rc = DLN_CHECK_EXIT_VIOLATED;
    }
    dln_check_report_free(&rep);
  }
done:
  if (have_spec) dln_spec_free(&spec);
  return rc;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage_main(stderr);
    return EX_USAGE;
  }
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
  if (strcmp(cmd, "check") == 0) return cmd_check(argc - 1, argv + 1);
  fprintf(stderr, "dln: unknown command '%s': expected run, sweep, check, --help or --version\n", cmd);
  return EX_USAGE;
}
