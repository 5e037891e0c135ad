/* `dln run [SPEC.json] [--option=value ...]`: one run, or the default job (001 Fig. 1). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "cli.h"
#include "dln/dln.h"
#include "dln_version.h"

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
          "The folder is locked while dln writes into it (a second run or sweep into it exits 75);\n"
          "manifest.json, written last, lists every file of the run with its SHA-256. A folder\n"
          "holding an earlier run's outputs is refused (exit 73) unless --force, which removes\n"
          "only the files its manifest.json lists, after the new run's inputs are read.\n"
          "\nOptions (grouped by the module that owns them):\n");
  dln_spec_write_options(fp);
  fprintf(fp,
          "  %-28s %s\n  %-28s %s\n  %-28s %s\n\n%s", "--help", "this text", "--version", "print the version", "--resume=DIR",
          "continue the interrupted run in DIR from its checkpoint (docs/resume.md)", cli_exit_codes_text);
}

typedef struct override {
  const char *name, *value;
} override;

/* One `dln run`: its command line and spec. */
typedef struct run_cmd {
  override *ov;
  int nov, help, version;
  int single; /* one run (not the default job) */
  const char *resume; /* --resume DIR */
  const char *spec_arg;
  dln_spec spec;
  int have_spec;
} run_cmd;

/* The options (table rows, --help, --version) into r; EX_USAGE with the message printed. */
static int run_parse(int argc, char **argv, struct option *lo, run_cmd *r) {
  int n = dln_spec_noptions();
  const dln_spec_option *table = dln_spec_options();
  for (int i = 0; i < n; ++i)
    lo[i] = (struct option){table[i].name, table[i].type == DLN_OPT_BOOL ? optional_argument : required_argument, NULL, 1000 + i};
  lo[n] = (struct option){"help", no_argument, NULL, 'h'};
  lo[n + 1] = (struct option){"version", no_argument, NULL, 'V'};
  lo[n + 2] = (struct option){"resume", required_argument, NULL, 'R'};
  opterr = 0;
  optind = 1;
  int c, idx;
  while ((c = getopt_long(argc, argv, ":h", lo, &idx)) != -1) {
    if (c == 'h') r->help = 1;
    else if (c == 'V') r->version = 1;
    else if (c == 'R') r->resume = optarg;
    else if (c >= 1000) r->ov[r->nov++] = (override){table[c - 1000].name, optarg ? optarg : "true"};
    else if (c == ':') {
      fprintf(stderr, "dln: option %s: expected a value, found none (see dln run --help)\n", argv[optind - 1]);
      return EX_USAGE;
    } else {
      const char *bad = argv[optind - 1];
      if (optopt && optopt != '?') fprintf(stderr, "dln: unknown option '-%c' (see dln run --help)\n", optopt);
      else fprintf(stderr, "dln: unknown option '%.*s' (see dln run --help)\n", (int)strcspn(bad, "="), bad);
      return EX_USAGE;
    }
  }
  return 0;
}

/* --resume DIR: the spec of the interrupted run in DIR; only output options may change. */
static int resume_load(int argc, run_cmd *r) {
  if (argc > optind) {
    fprintf(stderr, "dln: run: --resume DIR reads the spec from DIR; expected no spec file, found '%s'\n", r->spec_arg);
    return EX_USAGE;
  }
  int st = dln_spec_default(&r->spec);
  if (st) return cli_fail(st, DLN_RUN_FAIL_INTERNAL);
  r->have_spec = 1;
  r->single = 1;
  if ((st = dln_run_resume_spec(r->resume, &r->spec))) return cli_fail(st, DLN_RUN_FAIL_SPEC);
  /* arrays a Python or C ABI process handed in: from the folder's copies */
  if ((st = dln_run_resume_memfiles(r->resume, &r->spec))) return cli_fail(st, DLN_RUN_FAIL_INPUT);
  int job = 0;
  if ((st = dln_run_resume_is_job(r->resume, &job))) return cli_fail(st, DLN_RUN_FAIL_SPEC);
  r->single = !job; /* the default job: its finished runs are kept */
  int threads = r->spec.blas_threads;
  for (int i = 0; i < r->nov; ++i) {
    if (!dln_spec_is_output(dln_spec_find(r->ov[i].name)) || !strcmp(r->ov[i].name, "out")) {
      fprintf(stderr, "dln: run: --resume continues the run as it was specified; expected only output options "
                      "(quiet, plot, blas_threads), found --%s\n", r->ov[i].name);
      return EX_USAGE;
    }
    if ((st = dln_spec_set(&r->spec, r->ov[i].name, r->ov[i].value))) return cli_fail(st, DLN_RUN_FAIL_SPEC);
  }
  if (r->spec.blas_threads != threads) /* allowed (a faster finish), but not silently */
    fprintf(stderr, "dln: note: --blas_threads=%d where the run used %d: OpenBLAS then sums large products in another "
                    "order, so the resumed run may differ from an uninterrupted one in the last bits\n",
            r->spec.blas_threads, threads);
  if ((st = dln_spec_set(&r->spec, "out", r->resume))) return cli_fail(st, DLN_RUN_FAIL_SPEC);
  return 0;
}

/* The spec of the run: defaults, the spec file or the default job, then the options. */
static int run_load(int argc, char **argv, run_cmd *r) {
  if (r->resume) {
    r->spec_arg = optind < argc ? argv[optind] : "";
    return resume_load(argc, r);
  }
  if (argc - optind > 1) {
    fprintf(stderr, "dln: run: expected at most one spec file, found %d arguments ('%s', '%s', ...)\n", argc - optind,
            argv[optind], argv[optind + 1]);
    return EX_USAGE;
  }
  const char *spec_path = optind < argc ? argv[optind] : NULL;
  /* Without a spec, options that describe a run (anything but where and how to write)
   * make it one run from the defaults; with none of them it is the default job. */
  r->single = spec_path != NULL;
  for (int i = 0; i < r->nov && !r->single; ++i)
    r->single = !dln_spec_is_output(dln_spec_find(r->ov[i].name));
  int st = dln_spec_default(&r->spec);
  if (st) return cli_fail(st, DLN_RUN_FAIL_INTERNAL);
  r->have_spec = 1;
  if (spec_path) {
    if ((st = dln_spec_from_json_file(&r->spec, spec_path))) return cli_fail(st, DLN_RUN_FAIL_SPEC);
  } else if (!r->single && (st = dln_run_fig1_defaults(&r->spec))) {
    return cli_fail(st, DLN_RUN_FAIL_INTERNAL);
  }
  for (int i = 0; i < r->nov; ++i) {
    if ((st = dln_spec_set(&r->spec, r->ov[i].name, r->ov[i].value))) {
      fprintf(stderr, "dln: %s\n", dln_last_error());
      return EX_USAGE;
    }
  }
  if (r->single && (st = dln_spec_check_unused(&r->spec))) return cli_fail(st, DLN_RUN_FAIL_SPEC); /* exit 65 */
  return 0;
}

/* The one line of a run stopped by SIGINT/SIGTERM; 130 or 143. */
static int run_interrupted_line(const char *out, int single, const dln_run_result *res) {
  const char *sig = cli_interrupt_name();
  if (!single)
    fprintf(stderr, "dln: interrupted by %s; the default job in %s is incomplete (summary.json lists the runs finished), resume with dln run --resume %s\n",
            sig, out, out);
  else if (res->checkpoint_step >= 0)
    fprintf(stderr, "dln: interrupted by %s at step %ld, t = %.6g; checkpoint in %s/checkpoint.json (t = %.6g), resume with dln run --resume %s\n",
            sig, res->train.steps, res->train.t, out, res->checkpoint_t, out);
  else
    fprintf(stderr, "dln: interrupted by %s at step %ld, t = %.6g; no checkpoint yet (see --checkpoint_every), dln run --resume %s starts it over\n",
            sig, res->train.steps, res->train.t, out);
  return cli_interrupt_exit();
}

/* Run it; the messages and exit code of its outcome. */
static int run_exec(run_cmd *r) {
  const dln_spec *spec = &r->spec;
  int single = r->single;
  cli_catch_sigint();
  cli_progress prog = cli_progress_for(spec->quiet);
  dln_run_options ro = {cli_progress_cb, &prog, cli_run_event_cb, cli_cancelled_cb, NULL, NULL};
  dln_run_result res;
  int st;
  if (r->resume) {
    st = single ? dln_run_resume(spec, &ro, &res) : dln_run_fig1_resume(spec, &ro, stdout, &res);
  } else if (single) {
    st = dln_run(spec, &ro, &res);
  } else {
    st = dln_run_fig1(spec, &ro, stdout, &res);
  }
  if (st) return cli_fail(st, res.fail_phase);
  if (res.train.stop_reason == DLN_STOP_CANCELLED) return run_interrupted_line(spec->out, single, &res);
  cli_plot_note(res.plot, res.plot_exit, spec->out);
  if (res.train.stop_reason == DLN_STOP_DIVERGED) {
    if (single)
      fprintf(stderr, "dln: %s: diverged (step %ld, t = %g): %s\n", spec->out, res.train.fail_step, res.train.fail_t,
              res.train.message);
    else
      fprintf(stderr, "dln: %s: a run of the default job diverged (see summary.json)\n", spec->out);
    return EXIT_DIVERGED;
  }
  if (res.train.stop_reason == DLN_STOP_SOLVER) {
    fprintf(stderr, "dln: %s: integrator failure: %s\n", spec->out, single ? res.train.message : "see summary.json");
    return EX_SOFTWARE;
  }
  if (!spec->quiet) {
    if (single)
      printf("%s: stop %s at t = %.6g after %ld steps (%s, %ld gradient evaluations), loss %.6g, %.0f ms\n", spec->out,
             dln_stop_reason_name(res.train.stop_reason), res.train.t, res.train.steps,
             res.train.integrator ? res.train.integrator : spec->method, res.train.grad_evals, res.loss_final, res.wall_ms);
    else
      printf("wrote %s/summary.json%s (%.0f ms)\n", spec->out, res.plot == DLN_PLOT_RENDERED ? " and figure.png" : "",
             res.wall_ms);
  }
  return 0;
}

int cmd_run(int argc, char **argv) {
  int n = dln_spec_noptions();
  struct option *lo = calloc((size_t)n + 4, sizeof *lo);
  run_cmd r;
  memset(&r, 0, sizeof r);
  r.ov = calloc((size_t)argc + 1, sizeof *r.ov);
  if (!lo || !r.ov) {
    fprintf(stderr, "dln: out of memory\n");
    free(lo);
    free(r.ov);
    return EX_SOFTWARE;
  }
  int rc = run_parse(argc, argv, lo, &r);
  if (rc) {
    /* the message is printed */
  } else if (r.help) {
    usage_run(stdout);
  } else if (r.version) {
    printf("dln %s\n", DLN_VERSION_STRING);
  } else if (!(rc = run_load(argc, argv, &r))) {
    rc = run_exec(&r);
  }
  if (r.have_spec) dln_spec_free(&r.spec);
  free(lo);
  free(r.ov);
  return rc;
}
