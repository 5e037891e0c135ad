/* dln/spec.h — the resolved description of one run, and the single option table
 * that serves the JSON reader, the command line (`dln run --name=value`) and the
 * summary writer.
 *
 * Keys are flat ("eta", "widths", ...). Each option has a type, a default given as
 * text (parsed by the same setter the CLI uses), a help line and, for enums, its
 * allowed values. Every value remembers where it came from (file:line:column of its
 * key in a JSON file, or the command-line option), so dln_spec_check() can report
 *     spec.json:4:3: field "eta": expected a positive finite number, found -1
 * in one line. */
#ifndef DLN_SPEC_H
#define DLN_SPEC_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "dln/init.h"
#include "dln/net.h"
#include "dln/option.h"
#include "dln/task.h"
#include "dln/train.h"

#ifdef __cplusplus
extern "C" {
#endif



/* Where an option's field lives in struct dln_spec: the spec itself (the run's own
 * rows), one of the modules' option structs, or a registered type's own block. */
enum {
  DLN_SPEC_BLOCK_RUN = 0,  /* struct dln_spec (task, method, init, seed, observe, out, ...) */
  DLN_SPEC_BLOCK_DATA,     /* spec->data: dln_task_options (dln/task.h) */
  DLN_SPEC_BLOCK_NET,      /* spec->net: dln_net_options (dln/net.h) */
  DLN_SPEC_BLOCK_INIT,     /* spec->init_opts: dln_init_options (dln/init.h) */
  DLN_SPEC_BLOCK_TRAIN,    /* spec->train: dln_train_options (dln/train.h) */
  DLN_SPEC_BLOCK_OWN       /* + k: spec->own[k], the own block of the k-th type that has one */
};

/* One entry of the concatenated option table: a module's row and where its field lives. */
typedef struct dln_spec_option {
  const char *name;        /* = row->name */
  dln_opt_type type;       /* = row->type */
  const char *defval;      /* = row->defval */
  const char *help;        /* = row->help */
  const dln_option *row;   /* the owner's row (range check, allowed values) */
  int block;               /* DLN_SPEC_BLOCK_* */
  const char *kind;        /* "task", "init" or "method" for a type's own rows, else NULL */
  const char *owner;       /* the type's name, or "run", "output", "data", "network", "init", "training" */
} dln_spec_option;

#define DLN_SPEC_MAXOPTS 192
#define DLN_SPEC_MAXOWN 32

/* Where a value came from: 0 = default, 1 = JSON file (line, col), 2 = command line. */
typedef struct dln_spec_origin {
  unsigned char kind;
  int line, col;
} dln_spec_origin;

typedef struct dln_spec {
  /* the run's own rows */
  char *task;              /* a registered task type (dln/task.h) */
  char *init;              /* a registered initialization type (dln/init.h) */
  char *method;            /* a registered integrator type (dln/integrator.h), or e2e_<type> */
  char *system;            /* layerwise | e2e (002 Thm 1) */
  uint64_t seed, stream;
  double recon_threshold;
  double e2e_balance_tol;  /* e2e_*: largest accepted unbalancedness / |theta|^2 */
  dln_slist observe;
  dln_dlist sample_times;  /* explicit sample times (merged with 0 and t_end); empty: samples / log_samples */
  char *baseline;          /* none | nuclear: the min-nuclear-norm solution of the measurements (002 eq. 10) */
  double baseline_tol;     /* its relative duality gap */
  int baseline_max_iter;   /* its ADMM iterations */
  char *out;
  int plot, quiet, blas_threads;
  char *blas_backend;      /* auto | openblas | blis | xsmm: the large products' library (dln/gemm.h) */
  int force;               /* replace an earlier run's outputs in out (run_internal.h) */
  /* the modules' options, bound by their own rows */
  dln_task_options data;
  dln_net_options net;
  dln_init_options init_opts;
  dln_train_options train; /* method, method_options, progress and sample_times are not options (NULL) */
  void *own[DLN_SPEC_MAXOWN];

  /* provenance (not options) */
  char *source;            /* JSON file the spec was read from, or NULL */
  dln_spec_origin origin[DLN_SPEC_MAXOPTS];
} dln_spec;

/* The option table: the concatenation of the run's rows, the data rows (common and every
 * registered task's), the network's, the initializations' and the training driver's and
 * every registered integrator's, in that order (terminated by an entry with name == NULL),
 * and its length. Built on first use and again after a registration. */
const dln_spec_option *dln_spec_options(void);
int dln_spec_noptions(void);
/* Look up an option by name (NULL if unknown). */
const dln_spec_option *dln_spec_find(const char *name);

/* Fill *spec with the defaults. Must be paired with dln_spec_free. */
int dln_spec_default(dln_spec *spec);
void dln_spec_free(dln_spec *spec);
/* Deep copy (dst is overwritten without being freed). */
int dln_spec_copy(dln_spec *dst, const dln_spec *src);

/* Set an option from its text form as on the command line. DLN_ESPEC for an unknown
 * name, DLN_EINVAL for text that does not parse as the option's type; the message
 * names the option ("option --eta: expected a number, found 'x'"). */
int dln_spec_set(dln_spec *spec, const char *name, const char *value);

/* Read a JSON object of options over the defaults. DLN_EIO if the file cannot be
 * read, DLN_ESPEC for a syntax error, unknown key or wrong type (message
 * "file:line:col: ..."). On failure *spec is still valid (free it). */
int dln_spec_from_json_file(dln_spec *spec, const char *path);
/* Same from a string; `name` is used in messages. */
int dln_spec_from_json_string(dln_spec *spec, const char *name, const char *text);

/* Validate every field and the consistency of dimensions; DLN_EINVAL with a message
 * naming where the field came from, the field, the expected and the found value. */
int dln_spec_check(const dln_spec *spec);

/* Options the user set that would have no effect: a row owned by a task, init or method
 * type that the selected one neither owns nor uses (eta with method flow; the types' uses[]
 * lists shared rows), or a row that a data file makes unused (rows with target_file, m
 * with a_file: dln_task_unused_by). DLN_EINVAL naming the option, unless the option came
 * from a lower level than what made it unused (a spec file's eta under a command-line
 * --method=flow: the command line overrides the file). Not part of dln_spec_check: a
 * sweep's base spec is shared by runs of different types; dln run calls it. */
int dln_spec_check_unused(const dln_spec *spec);

/* Prefix for a message about field `name`: "spec.json:4:3: field \"eta\"",
 * "option --eta" or "field \"eta\"", into buf. */
const char *dln_spec_where(const dln_spec *spec, const char *name, char *buf, size_t len);

/* The value of an option as text (as dln_spec_set would take it), into buf. */
const char *dln_spec_value_text(const dln_spec *spec, const dln_spec_option *opt, char *buf, size_t len);

/* The option list of `dln run --help` and docs/cli.md: one line per option, grouped by
 * the module that owns it (the group's heading is the owner: a task, init or method name
 * for a type's own options). */
void dln_spec_write_options(FILE *fp);

/* 1 for the options that say where and how to write (out, plot, quiet, blas_threads, force):
 * they apply to a whole sweep, and alone they leave `dln run` on the default job. */
int dln_spec_is_output(const dln_spec_option *o); /* 0 for NULL */

/* The own option block of a registered type whose rows are `rows` (options_size > 0), or
 * NULL (the type binds a module's struct, or has no rows). */
void *dln_spec_type_block(const dln_spec *spec, const dln_option *rows);

/* The address of option o's field in spec (its block's base + the row's offset). */
void *dln_spec_field(const dln_spec *spec, const dln_spec_option *o);

/* Observer flags (DLN_OBS_*) of spec->observe. */
/* (0 for a NULL spec.) */
unsigned dln_spec_observe_flags(const dln_spec *spec);

/* The widths d_0..d_N the spec describes (explicit widths, or depth + width with d_0,
 * d_N from cols, rows; tied: {rows, width, rows}); *n = N + 1. Caller frees. */
int dln_spec_resolve_widths(const dln_spec *spec, int **widths, int *n);

#ifdef __cplusplus
}
#endif
#endif
