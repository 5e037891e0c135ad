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
#include <stdint.h>

#include "dln/option.h"

#ifdef __cplusplus
extern "C" {
#endif



typedef struct dln_spec_option {
  const char *name;
  dln_opt_type type;
  size_t offset;          /* offset of the field in struct dln_spec */
  const char *defval;     /* default as option text ("" = empty list / string) */
  const char *help;
  const char *const *allowed; /* NULL-terminated list for DLN_OPT_ENUM (and STRLIST items of observe) */
} dln_spec_option;

#define DLN_SPEC_MAXOPTS 96

/* Where a value came from: 0 = default, 1 = JSON file (line, col), 2 = command line. */
typedef struct dln_spec_origin {
  unsigned char kind;
  int line, col;
} dln_spec_origin;

typedef struct dln_spec {
  /* task and data */
  char *task;              /* factorization | regression | sensing | completion */
  char *target;            /* gaussian | lowrank */
  int rows, cols;          /* d_N, d_0 of synthetic data */
  int rank;
  dln_dlist singular_values;
  double target_sigma;
  int symmetric_target;
  int n_samples, x_rank;
  double noise;
  int m;
  int reduce;
  char *target_file, *x_file, *y_file, *a_file, *b_file, *entries_file;
  /* network */
  int depth;
  dln_ilist widths;
  int width;
  int tied;
  /* initialization */
  char *init;
  double sigma, alpha;
  dln_dlist layer_scales;
  dln_ilist init_product_widths;
  dln_dlist ubar, vbar, sigma0;
  dln_slist init_files;
  uint64_t seed, stream;
  /* dynamics */
  char *method;            /* gd | flow | cvode | gauss | auto | e2e_flow | e2e_gd */
  double eta, t_end;
  long max_steps;
  double loss_threshold, recon_threshold, grad_tol, rtol, atol;
  int erk_order;
  int gauss_stages;        /* gauss: 1 | 2 */
  double gauss_h;          /* gauss: fixed step, 0 = adaptive */
  int krylov_maxl;         /* cvode, gauss, auto: GMRES Krylov dimension */
  double auto_stiff_ratio; /* auto: switching rule (docs/integrators.md) */
  int auto_window;
  long auto_min_steps;
  double auto_rkc_max;
  double e2e_balance_tol;  /* e2e_*: largest accepted unbalancedness / |theta|^2 */
  double blowup;
  int samples;
  int log_samples;
  double t_first;
  dln_slist observe;
  /* outputs */
  char *out;
  int plot, quiet, blas_threads;

  /* provenance (not options) */
  char *source;            /* JSON file the spec was read from, or NULL */
  dln_spec_origin origin[DLN_SPEC_MAXOPTS];
} dln_spec;

/* The option table (terminated by an entry with name == NULL) and its length. */
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

/* Prefix for a message about field `name`: "spec.json:4:3: field \"eta\"",
 * "option --eta" or "field \"eta\"", into buf. */
const char *dln_spec_where(const dln_spec *spec, const char *name, char *buf, size_t len);

/* The value of an option as text (as dln_spec_set would take it), into buf. */
const char *dln_spec_value_text(const dln_spec *spec, const dln_spec_option *opt, char *buf, size_t len);

/* Observer flags (DLN_OBS_*) of spec->observe. */
unsigned dln_spec_observe_flags(const dln_spec *spec);

/* The widths d_0..d_N the spec describes (explicit widths, or depth + width with d_0,
 * d_N from cols, rows; tied: {rows, width, rows}); *n = N + 1. Caller frees. */
int dln_spec_resolve_widths(const dln_spec *spec, int **widths, int *n);

#ifdef __cplusplus
}
#endif
#endif
