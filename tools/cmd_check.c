/* `dln check SPEC.json|RUNDIR [--out DIR] [--slack S] [--tol X] [--quiet]`: every
 * applicable theory result on a run (dln/check.h, docs/check.md). */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>

#include "cli.h"
#include "dln/dln.h"

static void usage_check(FILE *fp) {
  fprintf(fp,
          "Usage: dln check SPEC.json|RUNDIR [--out DIR] [--slack S] [--tol X] [--quiet]\n"
          "       dln check --critical SPEC.json [--out FILE.json] [--quiet]\n"
          "\n"
          "Evaluates every result of the theory toolkit whose hypotheses hold (closed forms, rate\n"
          "bounds, dissipation, conservation of C_j, sign of det W, the end point's critical value\n"
          "and Hessian, ...) on a run: a SPEC.json is run first (like dln run, into --out or the\n"
          "spec's out), a RUNDIR is a folder written by dln run. Prints a table (result, source,\n"
          "hypotheses, bound or prediction, measured, margin, verdict) and writes RUNDIR/check.json.\n"
          "A result counts as violated beyond tol = S * rtol (default S = 1e4; docs/check.md).\n"
          "Integrity rows first: manifest.json (sizes, SHA-256, run_id), the final layers vs the\n"
          "last loss sample vs summary.json, C_j and a non-increasing loss under flow; a failure\n"
          "is INCONSISTENT (exit 5, naming the file). A sweep folder (ensemble.json): ensemble.csv\n"
          "vs ensemble.json, and every run subfolder.\n"
          "\n"
          "  --out DIR   output folder of the run (SPEC.json only)\n"
          "  --slack S   tolerance = S * rtol of the run (default 1e4)\n"
          "  --tol X     tolerance X instead\n"
          "  --quiet     no table (check.json and the exit status only)\n"
          "  --critical  list every critical value and stratum of the spec's target (with its\n"
          "              dimension for one hidden layer; 004 Lemma 3.2, Prop. 5) without running;\n"
          "              --out FILE.json writes them as JSON\n"
          "\n%s",
          cli_exit_codes_text);
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

/* The command line of `dln check`. */
typedef struct check_args {
  dln_check_options co;
  int quiet, help, critical;
  const char *out;
} check_args;

/* The options into a (a->help: the usage is printed); EX_USAGE with the message printed. */
static int check_parse(int argc, char **argv, check_args *a) {
  static const struct option lo[] = {{"out", required_argument, NULL, 'o'},  {"slack", required_argument, NULL, 's'},
                                     {"tol", required_argument, NULL, 't'},  {"quiet", no_argument, NULL, 'q'},
                                     {"help", no_argument, NULL, 'h'},       {"critical", no_argument, NULL, 'c'},
                                     {NULL, 0, NULL, 0}};
  int c, idx, rc;
  opterr = 0;
  optind = 1;
  while ((c = getopt_long(argc, argv, ":h", lo, &idx)) != -1) {
    switch (c) {
      case 'h': usage_check(stdout); a->help = 1; return 0;
      case 'o': a->out = optarg; break;
      case 's':
        if ((rc = parse_pos("--slack", optarg, &a->co.slack))) return rc;
        break;
      case 't':
        if ((rc = parse_pos("--tol", optarg, &a->co.tol))) return rc;
        break;
      case 'q': a->quiet = 1; break;
      case 'c': a->critical = 1; break;
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
  return 0;
}

/* A spec: run it first, like dln run (into --out if given); its exit code. */
static int check_run_spec(const check_args *a, const char *arg, dln_spec *spec) {
  int st;
  if ((st = dln_spec_from_json_file(spec, arg))) return cli_fail(st, DLN_RUN_FAIL_SPEC);
  if (a->out && (st = dln_spec_set(spec, "out", a->out))) return cli_fail(st, DLN_RUN_FAIL_SPEC);
  if (a->quiet) spec->quiet = 1;
  cli_catch_sigint();
  cli_progress prog = cli_progress_for(spec->quiet);
  dln_run_options ro = {cli_progress_cb, &prog, cli_run_event_cb, cli_cancelled_cb, NULL, NULL};
  dln_run_result res;
  if ((st = dln_run(spec, &ro, &res))) return cli_fail(st, res.fail_phase);
  if (res.train.stop_reason == DLN_STOP_CANCELLED) { /* polled by the library up to summary.json */
    fprintf(stderr, "dln: %s: interrupted by %s; the run is incomplete (summary.json \"complete\": false)\n", spec->out,
            cli_interrupt_name());
    return cli_interrupt_exit();
  }
  if (res.train.stop_reason == DLN_STOP_DIVERGED || res.train.stop_reason == DLN_STOP_SOLVER) {
    fprintf(stderr, "dln: %s: the run %s (%s); nothing to check\n", spec->out,
            res.train.stop_reason == DLN_STOP_DIVERGED ? "diverged" : "had an integrator failure", res.train.message);
    return res.train.stop_reason == DLN_STOP_DIVERGED ? EXIT_DIVERGED : EX_SOFTWARE;
  }
  return 0;
}

/* Check the run folder dir: the table, dir/check.json, the first violation; its exit code. */
static int check_dir(const check_args *a, const char *dir) {
  int rc = 0;
  dln_check_report rep;
  int st = dln_check_folder(dir, &a->co, &rep);
  if (st) {
    rc = cli_fail(st, DLN_RUN_FAIL_INPUT);
    dln_check_report_free(&rep);
    return rc;
  }
  if (!a->quiet) dln_check_print(&rep, stdout);
  size_t n = strlen(dir) + 16;
  char *path = malloc(n);
  if (!path) {
    dln_check_report_free(&rep);
    return cli_fail(dln_error(DLN_ENOMEM, "out of memory"), DLN_RUN_FAIL_INTERNAL);
  }
  snprintf(path, n, "%s/check.json", dir);
  st = dln_check_write_json(&rep, path);
  free(path);
  if (st) rc = cli_fail(st, DLN_RUN_FAIL_OUTPUT);
  else if (rep.ninconsistent) { /* tampered or mixed files: before any theory verdict */
    const dln_check_item *first = NULL;
    for (size_t i = 0; i < rep.n && !first; ++i)
      if (rep.items[i].integrity && rep.items[i].v.applicable && !rep.items[i].v.holds) first = &rep.items[i];
    fprintf(stderr, "dln: %s/%s: %d integrity check%s failed, first: %s: %s\n", dir, first->file[0] ? first->file : "",
            rep.ninconsistent, rep.ninconsistent == 1 ? "" : "s", first->v.result, first->v.message);
    rc = DLN_CHECK_EXIT_INCONSISTENT;
  } else if (rep.nviolated) {
    const dln_check_item *first = NULL;
    for (size_t i = 0; i < rep.n && !first; ++i)
      if (rep.items[i].v.applicable && !rep.items[i].v.holds) first = &rep.items[i];
    fprintf(stderr, "dln: %s: %d applicable result%s violated, first: %s (%s): %s; %s\n", dir, rep.nviolated,
            rep.nviolated == 1 ? "" : "s", first->v.result, first->v.source, first->v.message, first->cause);
    rc = DLN_CHECK_EXIT_VIOLATED;
  } else if (rep.nunverified && !a->quiet) {
    fprintf(stderr, "dln: note: %s: no manifest.json: the files cannot be tied to one run (integrity unverified)\n", dir);
  }
  dln_check_report_free(&rep);
  return rc;
}

int cmd_check(int argc, char **argv) {
  check_args a;
  memset(&a, 0, sizeof a);
  dln_check_default_options(&a.co);
  int rc = check_parse(argc, argv, &a), st;
  if (rc || a.help) return rc;
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
  if (a.critical) { /* the spec's critical values and strata, nothing run */
    if (S_ISDIR(sb.st_mode)) {
      fprintf(stderr, "dln: option --critical: expected a spec file, found the folder '%s'\n", arg);
      return EX_USAGE;
    }
    dln_spec cs;
    if ((st = dln_spec_default(&cs))) return cli_fail(st, DLN_RUN_FAIL_INTERNAL);
    if ((st = dln_spec_from_json_file(&cs, arg))) rc = cli_fail(st, DLN_RUN_FAIL_SPEC);
    else if ((st = dln_check_critical(&cs, a.out, a.quiet ? NULL : stdout))) rc = cli_fail(st, DLN_RUN_FAIL_INPUT);
    dln_spec_free(&cs);
    return rc;
  }
  if (S_ISDIR(sb.st_mode)) {
    if (a.out) {
      fprintf(stderr, "dln: option --out: expected a spec file to run, found the run folder '%s'\n", arg);
      return EX_USAGE;
    }
    return check_dir(&a, arg);
  }
  dln_spec spec; /* a spec: run it first, like dln run */
  if ((st = dln_spec_default(&spec))) return cli_fail(st, DLN_RUN_FAIL_INTERNAL);
  rc = check_run_spec(&a, arg, &spec);
  if (!rc) rc = check_dir(&a, spec.out);
  dln_spec_free(&spec);
  return rc;
}
