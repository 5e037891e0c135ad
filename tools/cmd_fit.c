/* `dln fit-lambda0 SPEC.json [--out DIR] [--lo X --hi X] [--grid N] [--tol X] [--quiet]`:
 * the λ0 of the imbalance regularizer closest to the spec's unregularized run (001 Fig. 2;
 * dln/fit.h). Writes DIR/fit_lambda0.json (DIR: --out or the spec's out). */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "cli.h"
#include "dln/dln.h"

static void usage_fit(FILE *fp) {
  fprintf(fp,
          "Usage: dln fit-lambda0 SPEC.json [--out DIR] [--lo X --hi X] [--grid N] [--tol X] [--quiet]\n"
          "\n"
          "Runs the spec's layer-wise flow unregularized, then regularized with the imbalance\n"
          "regularizer R = 1/8 sum_j ||C_j - lambda0 I||_F^2 (001 Prop. 4 eq. 27) from the same\n"
          "initial weights, and finds the lambda0 minimizing f = integral of ||X_reg(t) - X(t)||_F\n"
          "(trapezoid over the sample times; X = W_N...W_1; 001 Fig. 2): f on a grid of N points\n"
          "over [lo, hi] (default 9 points over the extreme eigenvalues of the C_j(0)), then GSL's\n"
          "Brent minimizer on the best grid point and its neighbours (past an end of the range:\n"
          "followed outward in grid steps until f rises), to |bracket| <= tol\n"
          "(default 1e-4 (hi - lo)). Writes DIR/fit_lambda0.json (every evaluation, the minimizer).\n"
          "\n"
          "  --out DIR   output folder (default: the spec's out)\n"
          "  --lo X, --hi X  grid range of lambda0 (both, lo < hi)\n"
          "  --grid N    grid points (>= 3, default 9)\n"
          "  --tol X     Brent's absolute tolerance on lambda0\n"
          "  --quiet     print nothing on success\n"
          "\n%s",
          cli_exit_codes_text);
}

static int parse_num(const char *opt, const char *arg, double *out) {
  char *e = NULL;
  double v = strtod(arg, &e);
  if (!*arg || *e || !isfinite(v)) {
    fprintf(stderr, "dln: option %s: expected a finite number, found '%s'\n", opt, arg);
    return EX_USAGE;
  }
  *out = v;
  return 0;
}

typedef struct fit_args {
  dln_fit_lambda0_options fo;
  const char *out;
  int quiet, help, have_lo, have_hi;
} fit_args;

static int fit_parse(int argc, char **argv, fit_args *a) {
  static const struct option lo[] = {{"out", required_argument, NULL, 'o'}, {"lo", required_argument, NULL, 'l'},
                                     {"hi", required_argument, NULL, 'u'},  {"grid", required_argument, NULL, 'g'},
                                     {"tol", required_argument, NULL, 't'}, {"quiet", no_argument, NULL, 'q'},
                                     {"help", no_argument, NULL, 'h'},      {NULL, 0, NULL, 0}};
  int c, idx, rc = 0;
  double g = 0;
  opterr = 0;
  optind = 1;
  while ((c = getopt_long(argc, argv, ":h", lo, &idx)) != -1 && !rc) {
    switch (c) {
      case 'h': usage_fit(stdout); a->help = 1; return 0;
      case 'o': a->out = optarg; break;
      case 'l': rc = parse_num("--lo", optarg, &a->fo.lo), a->have_lo = 1; break;
      case 'u': rc = parse_num("--hi", optarg, &a->fo.hi), a->have_hi = 1; break;
      case 't':
        rc = parse_num("--tol", optarg, &a->fo.tol);
        if (!rc && !(a->fo.tol > 0)) fprintf(stderr, "dln: option --tol: expected a positive number, found '%s'\n", optarg), rc = EX_USAGE;
        break;
      case 'g':
        rc = parse_num("--grid", optarg, &g);
        if (!rc && !(g >= 3 && g <= 1000 && g == floor(g)))
          fprintf(stderr, "dln: option --grid: expected an integer from 3 to 1000, found '%s'\n", optarg), rc = EX_USAGE;
        a->fo.grid = (int)g;
        break;
      case 'q': a->quiet = 1; break;
      case ':':
        fprintf(stderr, "dln: option %s: expected a value, found none (see dln fit-lambda0 --help)\n", argv[optind - 1]);
        return EX_USAGE;
      default:
        fprintf(stderr, "dln: unknown option '%.*s' (see dln fit-lambda0 --help)\n", (int)strcspn(argv[optind - 1], "="),
                argv[optind - 1]);
        return EX_USAGE;
    }
  }
  if (!rc && a->have_lo != a->have_hi) {
    fprintf(stderr, "dln: option %s: expected both --lo and --hi, found only %s\n", a->have_lo ? "--lo" : "--hi",
            a->have_lo ? "--lo" : "--hi");
    return EX_USAGE;
  }
  if (!rc && a->have_lo && !(a->fo.lo < a->fo.hi)) {
    fprintf(stderr, "dln: option --hi: expected a number above --lo = %g, found %g\n", a->fo.lo, a->fo.hi);
    return EX_USAGE;
  }
  return rc;
}

int cmd_fit_lambda0(int argc, char **argv) {
  fit_args a;
  memset(&a, 0, sizeof a);
  dln_fit_lambda0_default_options(&a.fo);
  int rc = fit_parse(argc, argv, &a), st, phase = 0;
  if (rc || a.help) return rc;
  if (argc - optind != 1) {
    fprintf(stderr, "dln: fit-lambda0: expected one spec file, found %d arguments (see dln fit-lambda0 --help)\n", argc - optind);
    return EX_USAGE;
  }
  dln_spec spec;
  if ((st = dln_spec_default(&spec))) return cli_fail(st, DLN_RUN_FAIL_INTERNAL);
  if ((st = dln_spec_from_json_file(&spec, argv[optind]))) {
    dln_spec_free(&spec);
    return cli_fail(st, DLN_RUN_FAIL_SPEC);
  }
  const char *out = a.out ? a.out : spec.out;
  dln_fit_lambda0_result res;
  st = dln_fit_lambda0_spec(&spec, &a.fo, out, &res, &phase);
  if (st) rc = cli_fail(st, phase);
  else if (!a.quiet)
    printf("lambda0 = %.10g (objective %.6g; %d evaluations, %d Brent iterations, bracket [%.6g, %.6g]) -> %s/fit_lambda0.json\n",
           res.lambda0, res.objective, res.n, res.iterations, res.a, res.b, out);
  dln_fit_lambda0_result_free(&res);
  dln_spec_free(&spec);
  return rc;
}
