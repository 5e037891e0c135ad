/* dln/task.h — task types: one const descriptor per task (a loss of the end-to-end
 * matrix W and the data it is built from), each owning its options and data files,
 * registered by one line.
 *
 * A task type knows its name and one-line summary, the option rows it owns, the data
 * files it reads (each bound to a STRING option such as "x_file") and writes into run
 * folders, the capabilities of its loss (DLN_LOSS_*, dln/loss.h), how to check its
 * options, how to draw or read its data, and how to build its loss from the data. Code
 * above the model layer asks a task type and its loss for capabilities, never for names.
 *
 * The ground truth shared by the synthetic tasks (a Gaussian or low-rank matrix W_true
 * of rows x cols, or target_file) is described by the common rows of
 * dln_task_common_rows(); the built-in tasks' own rows bind fields of dln_task_options
 * too. A task registered from outside the library may bind its rows to its own block
 * (options_size > 0), reached as dln_task_options.own.
 *
 * To add a task: one file with a `const dln_task_type` and one line in the registry
 * (src/model/tasks/registry.c), or dln_task_register() from outside the library
 * (docs/extending.md). */
#ifndef DLN_TASK_H
#define DLN_TASK_H

#include <stddef.h>

#include "dln/loss.h"
#include "dln/mat.h"
#include "dln/option.h"
#include "dln/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The options of the data: the common ground truth rows and the built-in tasks' rows. */
typedef struct dln_task_options {
  /* ground truth / synthetic target (common rows) */
  char *target;            /* gaussian | lowrank */
  int rows, cols;          /* d_N, d_0 of synthetic data */
  int rank;
  dln_dlist singular_values;
  double target_sigma;
  int symmetric_target;
  char *target_file;
  char *truth_file;        /* W_true of data read from the task's files (dist_true) */
  /* built-in tasks */
  int n_samples, x_rank;   /* regression */
  double noise;
  int reduce;
  int m;                   /* sensing, completion */
  double p;                /* lp: the exponent p >= 2 */
  char *x_file, *y_file, *a_file, *b_file, *entries_file;
  /* a registered task's own block (options_size > 0), NULL otherwise */
  void *own;
  /* Reads a matrix file (.npy / .csv): the model layer reads no files itself. The run
   * layer sets it to dln_matrix_load (dln/io.h); not an option row, so dln_options_copy
   * does not copy it. NULL: every file option is refused with a message. On failure it
   * returns a status with a message naming the file (the task adds *field). */
  int (*load)(const char *path, dln_mat **out);
} dln_task_options;

/* A data file of a task: the STRING option that names it ("x_file") and the file name a
 * run folder or a sweep stores it under ("X.npy"). */
typedef struct dln_task_file {
  const char *option;
  const char *file;
} dln_task_file;

enum { DLN_TASK_MAXFILES = 4 };

/* Options that a data file makes unused: when the STRING option `file` ("x_file") is set,
 * the options named in `unused` (comma-separated: "n_samples,noise") have no effect. The
 * run layer refuses such an option when the user set it. */
typedef struct dln_task_unused {
  const char *file;
  const char *unused;
} dln_task_unused;

/* Largest matrix a run may draw or build from its options (data, target, each layer):
 * 2^28 entries (2 GiB of doubles), checked before anything is allocated. */
#define DLN_TASK_MAX_ENTRIES 268435456.0

/* DLN_EINVAL unless an m x n matrix (named `what` in the message) has at most
 * DLN_TASK_MAX_ENTRIES entries. */
int dln_task_check_size(const char *what, double m, double n);

/* The data of one run. mats[i] belongs to files[i] of the type (read from that file, or
 * drawn; NULL when the task does not use it); truth is the ground truth W_true a task
 * drew its data from (dln_task_truth: drawn, or read from target_file), or read from
 * truth_file for data read from the task's own files; NULL when those data come without a
 * truth_file or when the truth is itself a data file (the factorization's target is
 * mats[0]). Freed by dln_task_data_free. */
typedef struct dln_task_data {
  const struct dln_task_type *type;
  dln_mat *truth;
  dln_mat *mats[DLN_TASK_MAXFILES];
  void *impl;              /* derived data private to the type (freed by type->data_free) */
} dln_task_data;

typedef struct dln_task_type {
  const char *name;              /* the --task value */
  const char *summary;           /* one line for --help and docs */
  const dln_option *options;     /* rows it owns (name == NULL terminated), or NULL */
  size_t options_size;           /* 0: rows bind dln_task_options; > 0: its own block (.own) */
  const dln_task_file *files;    /* data files, terminated by {NULL, NULL}; at most DLN_TASK_MAXFILES */
  /* DLN_LOSS_* capabilities the loss will have under these options (regression with
   * reduce = true trains a factorization loss) */
  unsigned (*caps)(const dln_task_options *o);
  /* Consistency of the options beyond the rows' own checks. DLN_EINVAL via dln_error with
   * "expected ..., found ..." (no prefix) and *field = the option to blame. NULL: none. */
  int (*check)(const dln_task_options *o, const char **field);
  /* Shape (d_N x d_0) of W when known from the options alone (synthetic data): 1 and
   * *rows, *cols; 0 when it depends on data files. */
  int (*shape)(const dln_task_options *o, int *rows, int *cols);
  /* Draw the data from rng (synthetic) or read the files the options name (rng may then be
   * NULL). On failure: a status via dln_error and *field = the option to blame (or NULL). */
  int (*data)(const dln_task_options *o, dln_rng *rng, dln_task_data *d, const char **field);
  /* The loss of the data. */
  int (*loss)(const dln_task_options *o, const dln_task_data *d, dln_loss **out);
  void (*data_free)(dln_task_data *d); /* frees d->impl; NULL if none */
  /* Options made unused by a data file, terminated by {NULL, NULL}; NULL: none. */
  const dln_task_unused *unused;
  /* Other task types whose option rows this one reads too (completion reads sensing's m),
   * NULL-terminated; NULL: none. */
  const struct dln_task_type *const *uses;
  /* Common options this task defaults differently, {name, value, ..., NULL} (logistic:
   * {"rows", "1"}): a spec takes them where its user set nothing, when its task is set
   * (and undoes them when the task changes). NULL: none. */
  const char *const *defaults;
} dln_task_type;

/* The common rows (ground truth) and the built-in task types. */
const dln_option *dln_task_common_rows(void);
extern const dln_task_type dln_task_factorization, dln_task_regression, dln_task_sensing, dln_task_completion, dln_task_lp;
extern const dln_task_type dln_task_logistic, dln_task_softmax, dln_task_sigmoid;

/* The registry: built-in types first, then registered ones. */
const dln_task_type *dln_task_find(const char *name);
const dln_task_type *dln_task_at(int i);   /* NULL past the end */
const char *dln_task_name_at(int i);       /* for ENUM option rows */
int dln_task_register(const dln_task_type *type); /* DLN_EINVAL for a duplicate or malformed type */

/* Checks beyond the rows' own range checks (validate the rows first: the common rows and
 * the task's). Each returns DLN_EINVAL via dln_error with "expected ..., found ..." (no
 * prefix) and *field = the option to blame.
 *   dln_task_common_check   consistency of the common rows (rank, singular_values,
 *                           symmetric_target only for a task whose loss has
 *                           DLN_LOSS_IDENTITY under o, lowrank needs a rank)
 *   dln_task_check_foreign  options that belong to another registered task: a data-file
 *                           option of another task's files[] (not a common row) that is
 *                           set, "expected only with task <owner>, found task <t>"; and
 *                           reduce = true unless t is regression
 *   dln_task_check          all of it: common, t->check, foreign (in that order) */
int dln_task_common_check(const dln_task_type *t, const dln_task_options *o, const char **field);
int dln_task_check_foreign(const dln_task_type *t, const dln_task_options *o, const char **field);
int dln_task_check(const dln_task_type *t, const dln_task_options *o, const char **field);

/* Draw or read the data of type t (d->type = t): the truth first, then the task's data,
 * from rng in that order. On failure d is freed and *field names the option to blame
 * (NULL for none). */
int dln_task_data_build(const dln_task_type *t, const dln_task_options *o, dln_rng *rng, dln_task_data *d,
                        const char **field);
void dln_task_data_free(dln_task_data *d);
/* The loss of data d (t->loss) with its true matrix attached (dln_loss_truth): d->truth,
 * or for a loss with DLN_LOSS_IDENTITY its target Ȳ (the factorization's truth). */
int dln_task_loss(const dln_task_type *t, const dln_task_options *o, const dln_task_data *d, dln_loss **out);
/* The data-file option that makes option `option` unused under o (t->unused, and for every
 * task target_file: the synthetic-target rows), or NULL when it is used. */
const char *dln_task_unused_by(const dln_task_type *t, const dln_task_options *o, const char *option);
/* 1 if option row `row` is one of t's own rows or a row of a type t uses (t->uses). */
int dln_task_owns_row(const dln_task_type *t, const dln_option *row);
/* 1 if task t reads option `option` ("x_file") as one of its data files. */
int dln_task_reads(const dln_task_type *t, const char *option);
/* The data matrix bound to option `option` ("x_file"), NULL if none. */
const dln_mat *dln_task_data_get(const dln_task_data *d, const char *option);
/* Synthetic ground truth per the common rows (rows x cols; rows x rows when symmetric),
 * or target_file through o->load. *field on failure (may be NULL). */
int dln_task_truth(const dln_task_options *o, dln_rng *rng, dln_mat **out, const char **field);

#ifdef __cplusplus
}
#endif
#endif
