/* `dln robust [SPEC.json] [--option=value ...] [--lo A --hi B] [--rel_tol R] [--reach_tol X]
 * [--grid N] [--max_runs N] [--dists d1,d2,...] [--threads T]`: the largest disturbance scale
 * at which the run still reaches the target set, by bisection over runs, beside 000 Thm 2's
 * guaranteed scale; with --dists the robustness curve over starts at those distances from S^−
 * (dln/robust.h, docs/disturbed.md). Run options (`dln run --help`) override the spec; the
 * folder is the spec's out (--out), replaced with --force. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "cli.h"
#include "dln/dln.h"

static void usage_robust(FILE *fp) {
  fprintf(fp,
          "Usage: dln robust [SPEC.json] [--option=value ...] [--lo A --hi B] [--rel_tol R] [--reach_tol X]\n"
          "                  [--grid N] [--max_runs N] [--dists d1,d2,...] [--threads T] [--out DIR] [--force]\n"
          "\n"
          "The largest disturbance_scale at which the spec's disturbed run still reaches the target set:\n"
          "the run reaches t_end (not diverged), its relative error ||Ybar - W||/||Ybar|| (or\n"
          "(loss - L*)/(loss(0) - L*)) is <= reach_tol and, for depth 2 with n = m = 1, k = 1, it ends on\n"
          "the start's branch of PQ = Ybar (sign P = sign Q = sign(P0 + Q0); 000 Prop. 1). The outcome is\n"
          "scanned on N scales over [A, B], then the first crossing is bisected to (hi - lo) <= R hi;\n"
          "a reach above a failure is reported as non-monotone. Beside it, in the scalar/vector case,\n"
          "000 Thm 2's guaranteed scale for the best alpha whose R_alpha holds the start, and the ratio.\n"
          "With --dists, the robustness curve: starts at those distances from S^- (P = -Q) along the\n"
          "spec's start's S^+ direction. Writes DIR/robust.csv, robust.json, manifest.json.\n"
          "\n"
          "  --lo A, --hi B   scale range of the scan (default 0, 1)\n"
          "  --rel_tol R      bisection tolerance, relative (default 1e-3)\n"
          "  --reach_tol X    largest relative error of a reached run (default 1)\n"
          "  --grid N         scan points, 2..1000 (default 5)\n"
          "  --max_runs N     bisection runs at most (default 60)\n"
          "  --dists LIST     distances of the curve's starts from S^- (comma-separated, > 0)\n"
          "  --threads T      starts in parallel (default 1; results do not depend on T)\n"
          "  any `dln run` option (see dln run --help): overrides the spec (--out, --force, --quiet)\n"
          "\n%s",
          cli_exit_codes_text);
}

typedef struct robust_cmd {
  dln_robust_options o;
  double *dists;
  int ndists, help;
  const char **ov_name, **ov_value;
  int nov;
} robust_cmd;

static int num(const char *opt, const char *arg, double *out) {
  char *e = NULL;
  double v = strtod(arg, &e);
  if (!*arg || *e || !isfinite(v)) {
    fprintf(stderr, "dln: option %s: expected a finite number, found '%s'\n", opt, arg);
    return EX_USAGE;
  }
  *out = v;
  return 0;
}

static int int_opt(const char *opt, const char *arg, int lo, int hi, int *out) {
  double v;
  if (num(opt, arg, &v)) return EX_USAGE;
  if (!(v >= lo && v <= hi && v == floor(v))) {
    fprintf(stderr, "dln: option %s: expected an integer from %d to %d, found '%s'\n", opt, lo, hi, arg);
    return EX_USAGE;
  }
  *out = (int)v;
  return 0;
}

static int dist_list(const char *arg, robust_cmd *r) {
  size_t n = 1;
  for (const char *p = arg; *p; ++p) n += *p == ',';
  r->dists = malloc(n * sizeof *r->dists);
  if (!r->dists) return fprintf(stderr, "dln: out of memory\n"), EX_SOFTWARE;
  const char *p = arg;
  for (size_t i = 0; i < n; ++i) {
    char *e = NULL;
    double v = strtod(p, &e);
    if (e == p || (*e && *e != ',') || !(v > 0) || !isfinite(v)) {
      fprintf(stderr, "dln: option --dists: expected positive numbers separated by commas, found '%s'\n", arg);
      return EX_USAGE;
    }
    r->dists[i] = v, p = e + (*e == ',');
  }
  r->ndists = (int)n;
  return 0;
}

/* Own options: 2000 + k; run options: 1000 + index in the spec table. */
static int robust_opt(int c, const char *arg, robust_cmd *r) {
  dln_robust_options *o = &r->o;
  switch (c) {
    case 2000: return num("--lo", arg, &o->lo);
    case 2001: return num("--hi", arg, &o->hi);
    case 2002: return num("--rel_tol", arg, &o->rel_tol);
    case 2003: return num("--reach_tol", arg, &o->reach_tol);
    case 2004: return int_opt("--grid", arg, 2, 1000, &o->grid);
    case 2005: return int_opt("--max_runs", arg, 1, 100000, &o->max_runs);
    case 2006: free(r->dists); return dist_list(arg, r);
    case 2007: return int_opt("--threads", arg, 1, 1024, &o->threads);
    default: return EX_SOFTWARE;
  }
}

static int robust_parse(int argc, char **argv, struct option *lo, robust_cmd *r) {
  static const char *own[] = {"lo", "hi", "rel_tol", "reach_tol", "grid", "max_runs", "dists", "threads"};
  int n = dln_spec_noptions(), no = (int)(sizeof own / sizeof *own), c, idx, rc = 0;
  const dln_spec_option *table = dln_spec_options();
  for (int i = 0; i < n; ++i)
    lo[i] = (struct option){table[i].name, table[i].type == DLN_OPT_BOOL ? optional_argument : required_argument, NULL, 1000 + i};
  for (int k = 0; k < no; ++k) lo[n + k] = (struct option){own[k], required_argument, NULL, 2000 + k};
  lo[n + no] = (struct option){"help", no_argument, NULL, 'h'};
  opterr = 0;
  optind = 1;
  while (!rc && (c = getopt_long(argc, argv, ":h", lo, &idx)) != -1) {
    if (c == 'h') r->help = 1;
    else if (c >= 2000) rc = robust_opt(c, optarg, r);
    else if (c >= 1000) r->ov_name[r->nov] = table[c - 1000].name, r->ov_value[r->nov++] = optarg ? optarg : "true";
    else if (c == ':') {
      fprintf(stderr, "dln: option %s: expected a value, found none (see dln robust --help)\n", argv[optind - 1]);
      rc = EX_USAGE;
    } else {
      const char *bad = argv[optind - 1];
      fprintf(stderr, "dln: unknown option '%.*s' (see dln robust --help)\n", (int)strcspn(bad, "="), bad);
      rc = EX_USAGE;
    }
  }
  if (!rc && !(r->o.lo >= 0 && r->o.hi > r->o.lo)) {
    fprintf(stderr, "dln: option --hi: expected 0 <= --lo < --hi, found lo = %g, hi = %g\n", r->o.lo, r->o.hi);
    rc = EX_USAGE;
  }
  if (!rc && !(r->o.rel_tol > 0 && r->o.rel_tol < 1))
    fprintf(stderr, "dln: option --rel_tol: expected a number in (0, 1), found %g\n", r->o.rel_tol), rc = EX_USAGE;
  if (!rc && !(r->o.reach_tol > 0))
    fprintf(stderr, "dln: option --reach_tol: expected a positive number, found %g\n", r->o.reach_tol), rc = EX_USAGE;
  return rc;
}

static int robust_load(int argc, char **argv, robust_cmd *r, dln_spec *spec) {
  if (argc - optind > 1) {
    fprintf(stderr, "dln: robust: expected at most one spec file, found %d arguments\n", argc - optind);
    return EX_USAGE;
  }
  int st = dln_spec_default(spec);
  if (st) return cli_fail(st, DLN_RUN_FAIL_INTERNAL);
  if (optind < argc && (st = dln_spec_from_json_file(spec, argv[optind]))) return cli_fail(st, DLN_RUN_FAIL_SPEC);
  for (int i = 0; i < r->nov; ++i) {
    if (!strcmp(r->ov_name[i], "disturbance_scale")) { /* the bisection's variable */
      fprintf(stderr, "dln: option --disturbance_scale: robust varies the scale over [--lo, --hi]; expected no value, found '%s'\n", r->ov_value[i]);
      return EX_USAGE;
    }
    if ((st = dln_spec_set(spec, r->ov_name[i], r->ov_value[i]))) return cli_fail(st, DLN_RUN_FAIL_SPEC);
  }
  if ((st = dln_spec_check_unused(spec))) return cli_fail(st, DLN_RUN_FAIL_SPEC);
  return 0;
}

static void print_points(const dln_robust_curve *c, const char *out) {
  for (int i = 0; i < c->n; ++i) {
    const dln_robust_result *p = &c->pts[i];
    printf("start %d (distance to S- %.6g): ", i, p->start_dist);
    if (p->status == DLN_ROBUST_BRACKET) printf("critical scale in [%.8g, %.8g]", p->lo, p->hi);
    else if (p->status == DLN_ROBUST_ALL_REACH) printf("reached up to hi = %.8g (critical >= hi)", p->hi);
    else printf("not reached at lo = %.8g", p->lo);
    printf(", %d runs%s", p->nevals, p->nonmonotone ? ", NON-MONOTONE" : "");
    if (isfinite(p->thm2_scale)) printf("; Thm 2 guarantees %.6g (alpha %.6g), ratio %.4g", p->thm2_scale, p->thm2_alpha, p->ratio);
    printf("\n");
  }
  int runs = 0;
  for (int i = 0; i < c->n; ++i) runs += c->pts[i].nevals;
  printf("%d runs in %.2f s; wrote %s/robust.csv and robust.json\n", runs, c->wall_seconds, out);
}

int cmd_robust(int argc, char **argv) {
  robust_cmd r;
  memset(&r, 0, sizeof r);
  dln_robust_default_options(&r.o);
  int n = dln_spec_noptions(), rc;
  struct option *lo = calloc((size_t)n + 16, sizeof *lo);
  r.ov_name = calloc((size_t)argc + 1, sizeof *r.ov_name);
  r.ov_value = calloc((size_t)argc + 1, sizeof *r.ov_value);
  if (!lo || !r.ov_name || !r.ov_value) rc = (fprintf(stderr, "dln: out of memory\n"), EX_SOFTWARE);
  else rc = robust_parse(argc, argv, lo, &r);
  if (!rc && r.help) usage_robust(stdout);
  dln_spec spec;
  memset(&spec, 0, sizeof spec);
  int have_spec = 0;
  if (!rc && !r.help) rc = robust_load(argc, argv, &r, &spec), have_spec = 1;
  if (!rc && !r.help) {
    int phase = 0, st;
    dln_robust_curve c;
    r.o.cancelled = cli_cancelled_cb; /* SIGINT / SIGTERM: stop, write nothing */
    st = dln_robust_curve_spec(&spec, r.dists, r.ndists, &r.o, spec.out, spec.force, &c, &phase);
    if (st && cli_interrupted) {
      fprintf(stderr, "dln: robust: interrupted by %s; nothing written\n", cli_interrupt_name());
      rc = cli_interrupt_exit();
    } else if (st) rc = cli_fail(st, phase);
    else if (!spec.quiet) print_points(&c, spec.out);
    dln_robust_curve_free(&c);
  }
  if (have_spec) dln_spec_free(&spec);
  free(lo), free(r.ov_name), free(r.ov_value), free(r.dists);
  return rc;
}
