/* `dln compress RUNDIR [--rank R | --tol T] [--out FILE] [--save_w FILE] [--quiet]`:
 * implicit compression by overparameterization (002 §4.4, footnote 11): the trained
 * network of a finished run collapsed to W = W_N···W_1, truncated by its SVD, with the
 * parameter counts and the task loss before and after (dln/check.h, dln/compress.h). */
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

static void usage_compress(FILE *fp) {
  fprintf(fp,
          "Usage: dln compress RUNDIR [--rank R | --tol T] [--out FILE] [--save_w FILE] [--quiet]\n"
          "\n"
          "Implicit compression (002 sec. 4.4, footnote 11): collapses the trained network of the\n"
          "finished run RUNDIR to W = W_N...W_1 and truncates its SVD to rank r: --rank R, or the\n"
          "least r with |W - W_r|_F <= T |W|_F (--tol T; default T = 1e-3, the compressible rank of\n"
          "the trajectory column compress_rank). Reports the parameters of the network\n"
          "(sum_j d_j d_{j-1}), of W (d_N d_0) and of W_r (r (d_0 + d_N - r)), and the run's task\n"
          "loss at W and at W_r. RUNDIR is verified first, like dln check: a folder without\n"
          "manifest.json or of a sweep is refused (exit 65), a tampered or incomplete one too\n"
          "(exit 5).\n"
          "\n"
          "  --rank R       keep rank R (0 <= R <= min(d_N, d_0))\n"
          "  --tol T        keep the least rank with relative Frobenius tail <= T (T >= 0)\n"
          "  --out FILE     where to write the report (default RUNDIR/compress.json)\n"
          "  --save_w FILE  also write W_r as .npy (outside RUNDIR: its manifest does not list it)\n"
          "  --quiet        no table\n"
          "\n%s",
          cli_exit_codes_text);
}

typedef struct compress_args {
  dln_compress_options co;
  int quiet, help, have_rank, have_tol;
  const char *out, *save_w;
} compress_args;

static int parse_num(const char *opt, const char *arg, double lo, double *out) {
  char *e = NULL;
  double v = strtod(arg, &e);
  if (!*arg || *e || !(v >= lo) || !isfinite(v)) {
    fprintf(stderr, "dln: option %s: expected a finite number >= %g, found '%s'\n", opt, lo, arg);
    return EX_USAGE;
  }
  *out = v;
  return 0;
}

static int compress_parse(int argc, char **argv, compress_args *a) {
  static const struct option lo[] = {{"rank", required_argument, NULL, 'r'}, {"tol", required_argument, NULL, 't'},
                                     {"out", required_argument, NULL, 'o'},  {"save_w", required_argument, NULL, 'w'},
                                     {"quiet", no_argument, NULL, 'q'},      {"help", no_argument, NULL, 'h'},
                                     {NULL, 0, NULL, 0}};
  int c, idx, rc;
  double v;
  opterr = 0;
  optind = 1;
  while ((c = getopt_long(argc, argv, ":h", lo, &idx)) != -1) {
    switch (c) {
      case 'h': usage_compress(stdout); a->help = 1; return 0;
      case 'r':
        if ((rc = parse_num("--rank", optarg, 0, &v))) return rc;
        if (v != floor(v) || v > 1e9) {
          fprintf(stderr, "dln: option --rank: expected an integer >= 0, found '%s'\n", optarg);
          return EX_USAGE;
        }
        a->co.rank = (int)v, a->have_rank = 1;
        break;
      case 't':
        if ((rc = parse_num("--tol", optarg, 0, &a->co.tol))) return rc;
        a->have_tol = 1;
        break;
      case 'o': a->out = optarg; break;
      case 'w': a->save_w = optarg; break;
      case 'q': a->quiet = 1; break;
      case ':':
        fprintf(stderr, "dln: option %s: expected a value, found none (see dln compress --help)\n", argv[optind - 1]);
        return EX_USAGE;
      default: {
        const char *bad = argv[optind - 1];
        fprintf(stderr, "dln: unknown option '%.*s' (see dln compress --help)\n", (int)strcspn(bad, "="), bad);
        return EX_USAGE;
      }
    }
  }
  if (a->have_rank && a->have_tol) {
    fprintf(stderr, "dln: option --tol: expected either --rank or --tol, found both\n");
    return EX_USAGE;
  }
  return 0;
}

int cmd_compress(int argc, char **argv) {
  compress_args a;
  memset(&a, 0, sizeof a);
  dln_compress_default_options(&a.co);
  int rc = compress_parse(argc, argv, &a);
  if (rc || a.help) return rc;
  if (argc - optind != 1) {
    fprintf(stderr, "dln: compress: expected one run folder, found %d arguments (see dln compress --help)\n", argc - optind);
    return EX_USAGE;
  }
  const char *dir = argv[optind];
  struct stat sb;
  if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
    fprintf(stderr, "dln: %s: expected a run folder, found %s\n", dir, errno == ENOENT ? "nothing" : "no folder");
    return EX_NOINPUT;
  }
  dln_compress_report rep;
  int st = dln_compress_folder(dir, &a.co, &rep);
  if (st) {
    rc = rep.inconsistent ? (fprintf(stderr, "dln: %s\n", dln_last_error()), DLN_CHECK_EXIT_INCONSISTENT)
                          : cli_fail(st, DLN_RUN_FAIL_INPUT);
    dln_compress_report_free(&rep);
    return rc;
  }
  char *path = a.out ? NULL : dln_path_join(dir, "compress.json");
  if (!a.out && !path) st = dln_error(DLN_ENOMEM, "out of memory");
  else st = dln_compress_write(&rep, a.out ? a.out : path, a.save_w);
  free(path);
  if (st) rc = cli_fail(st, DLN_RUN_FAIL_OUTPUT);
  else if (!a.quiet) dln_compress_print(&rep, stdout);
  dln_compress_report_free(&rep);
  return rc;
}
