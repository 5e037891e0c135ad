/* The task registry (dln/task.h): the built-in task types, one line each, then those
 * registered from outside; and what every task shares: checks, data build and free. */
#include <string.h>

#include "core/registry.h"
#include "core/util.h"
#include "dln/error.h"
#include "dln/task.h"
#include "model/model_internal.h"

/* The built-in types, one registration line each (the descriptor's name; the first is the
 * default where the option has one): a new type is its file and a line here. */
#define BUILTIN(X) \
  X(dln_task_factorization) \
  X(dln_task_regression) \
  X(dln_task_sensing) \
  X(dln_task_completion) \
  X(dln_task_lp) \
  X(dln_task_logistic) \
  X(dln_task_softmax) \
  X(dln_task_sigmoid)
#define DECLARE(d) extern const dln_task_type d;
#define ENTRY(d) &d,
BUILTIN(DECLARE)
static const dln_task_type *const builtin[] = {BUILTIN(ENTRY)};
static dln_registry reg = {"task type", (const void *const *)builtin, (int)(sizeof builtin / sizeof *builtin), {0}, 0};

const dln_task_type *dln_task_at(int i) { return dln_registry_at(&reg, i); }
const char *dln_task_name_at(int i) { return dln_registry_name_at(&reg, i); }
const dln_task_type *dln_task_find(const char *name) { return dln_registry_find(&reg, name); }

static const dln_option *find_row(const dln_option *rows, const char *name) {
  for (int i = 0; rows && rows[i].name; ++i)
    if (strcmp(rows[i].name, name) == 0) return &rows[i];
  return NULL;
}

int dln_task_register(const dln_task_type *t) {
  if (!t || !t->name || !*t->name || !t->data || !t->loss)
    return dln_error(DLN_EINVAL, "task type: expected a name, data and loss functions, found %s",
                     !t ? "NULL" : !t->name || !*t->name ? "no name" : "a missing function");
  int nf = 0;
  for (; t->files && t->files[nf].option; ++nf)
    if (!t->files[nf].file)
      return dln_error(DLN_EINVAL, "task type '%s': file of option %s: expected a file name, found NULL", t->name, t->files[nf].option);
  if (nf > DLN_TASK_MAXFILES)
    return dln_error(DLN_EINVAL, "task type '%s': expected at most %d data files, found %d", t->name, DLN_TASK_MAXFILES, nf);
  for (int i = 0; t->options && t->options[i].name; ++i) {
    const char *n = t->options[i].name;
    if (find_row(dln_task_common_rows(), n) || find_row(t->options + i + 1, n))
      return dln_error(DLN_EINVAL, "task type '%s': option %s: expected a unique name, found it twice", t->name, n);
    for (int k = 0; dln_task_at(k); ++k)
      if (find_row(dln_task_at(k)->options, n))
        return dln_error(DLN_EINVAL, "task type '%s': option %s: expected a unique name, found it in task %s", t->name, n,
                         dln_task_at(k)->name);
  }
  return dln_registry_add(&reg, t);
}

/* ---- checks ---------------------------------------------------------------------- */

int dln_task_reads(const dln_task_type *t, const char *option) {
  DLN_ARGS_V(0, t, option);
  for (int i = 0; t->files && t->files[i].option; ++i)
    if (strcmp(t->files[i].option, option) == 0) return 1;
  return 0;
}

static int in_list(const char *list, const char *name) {
  size_t n = strlen(name);
  for (const char *p = list; p && *p;) {
    const char *e = strchr(p, ',');
    size_t k = e ? (size_t)(e - p) : strlen(p);
    if (k == n && strncmp(p, name, n) == 0) return 1;
    p = e ? e + 1 : NULL;
  }
  return 0;
}

/* target_file (a common row) replaces the synthetic target of every task */
static const dln_task_unused common_unused[] = {{"target_file", "rows,cols,target,rank,singular_values,target_sigma"},
                                                {NULL, NULL}};

static const char *unused_in(const dln_task_unused *u, const dln_task_options *o, const char *option) {
  for (int i = 0; u && u[i].file; ++i) {
    const dln_option *row = find_row(dln_task_common_rows(), u[i].file);
    for (int k = 0; !row && dln_task_at(k); ++k) row = find_row(dln_task_at(k)->options, u[i].file);
    if (!row || row->type != DLN_OPT_STRING || !dln_has_text(*DLN_OPTION_CFIELD(o, row, char *))) continue;
    if (in_list(u[i].unused, option)) return u[i].file;
  }
  return NULL;
}

const char *dln_task_unused_by(const dln_task_type *t, const dln_task_options *o, const char *option) {
  DLN_ARGS_P(t, o, option);
  const char *f = unused_in(t->unused, o, option);
  return f ? f : unused_in(common_unused, o, option);
}

int dln_task_owns_row(const dln_task_type *t, const dln_option *row) {
  DLN_ARGS_V(0, t, row);
  for (int i = 0; t->options && t->options[i].name; ++i)
    if (&t->options[i] == row) return 1;
  for (int k = 0; t->uses && t->uses[k]; ++k)
    if (t->uses[k] != t && dln_task_owns_row(t->uses[k], row)) return 1;
  return 0;
}

int dln_task_check_foreign(const dln_task_type *t, const dln_task_options *o, const char **field) {
  DLN_ARGS(t, o);
  const char *dummy;
  if (!field) field = &dummy;
  *field = NULL;
  for (int k = 0; dln_task_at(k); ++k) {
    const dln_task_type *u = dln_task_at(k);
    if (u == t || u->options_size > 0) continue; /* a registered task's own block is not in o */
    for (int i = 0; u->files && u->files[i].option; ++i) {
      const char *name = u->files[i].option;
      if (find_row(dln_task_common_rows(), name) || dln_task_reads(t, name)) continue;
      const dln_option *row = find_row(u->options, name);
      if (!row || row->type != DLN_OPT_STRING) continue;
      if (dln_has_text(*DLN_OPTION_CFIELD(o, row, char *))) {
        *field = name;
        return dln_error(DLN_EINVAL, "expected only with task %s, found task %s", u->name, t->name);
      }
    }
  }
  return dln_task_regression_foreign(t, o, field);
}

/* 1 when one of t's data-file options is set under o */
static int reads_a_file(const dln_task_type *t, const dln_task_options *o) {
  for (int i = 0; t->files && t->files[i].option; ++i) {
    const void *base = o;
    const dln_option *row = find_row(t->options, t->files[i].option);
    if (row && t->options_size > 0) base = o->own; /* a registered task's own block */
    if (!row) row = find_row(dln_task_common_rows(), t->files[i].option);
    for (int k = 0; !row && t->uses && t->uses[k]; ++k) row = find_row(t->uses[k]->options, t->files[i].option);
    if (base && row && row->type == DLN_OPT_STRING && dln_has_text(*DLN_OPTION_CFIELD(base, row, char *))) return 1;
  }
  return 0;
}

int dln_task_check(const dln_task_type *t, const dln_task_options *o, const char **field) {
  DLN_ARGS(t, o);
  const char *dummy;
  if (!field) field = &dummy;
  *field = NULL;
  if (!t) return dln_error(DLN_EINVAL, "task: expected a task type, found NULL");
  /* the synthetic target's rows are checked unless a data file replaces them (completion's
   * entries_file beside a spec's target = lowrank, as a sweep's rerun line has it) */
  dln_task_options oc = *o; /* a shallow copy, read only */
  if (dln_task_unused_by(t, o, "target")) oc.target = "gaussian", oc.rank = 0, oc.singular_values.n = 0;
  int st = dln_task_common_check(t, &oc, field);
  if (!st && dln_has_text(o->truth_file) && !reads_a_file(t, o)) {
    *field = "truth_file";
    st = dln_error(DLN_EINVAL, "expected data read from the %s task's files (synthetic data carry their own truth, W_true.npy), found '%s' with none",
                   t->name, o->truth_file);
  }
  if (!st && t->check) st = t->check(o, field);
  if (!st) st = dln_task_check_foreign(t, o, field);
  return st;
}

/* ---- data -------------------------------------------------------------------------- */

void dln_task_data_free(dln_task_data *d) {
  if (!d) return;
  if (d->type && d->type->data_free) d->type->data_free(d);
  dln_mat_free(d->truth);
  for (int i = 0; i < DLN_TASK_MAXFILES; ++i) dln_mat_free(d->mats[i]);
  memset(d, 0, sizeof *d);
}

int dln_task_data_build(const dln_task_type *t, const dln_task_options *o, dln_rng *rng, dln_task_data *d,
                        const char **field) {
  DLN_ARGS(t, o, d); /* rng may be NULL (file data) */
  const char *dummy;
  if (!field) field = &dummy;
  *field = NULL;
  memset(d, 0, sizeof *d);
  if (!t) return dln_error(DLN_EINVAL, "task: expected a task type, found NULL");
  d->type = t;
  int st = t->data(o, rng, d, field);
  if (!st && dln_has_text(o->truth_file)) {
    if (d->truth) { /* e.g. x_file alone: Y was drawn from a W_true */
      *field = "truth_file";
      st = dln_error(DLN_EINVAL, "expected it unset when the task drew part of its data from a true matrix (drawn, or target_file), found '%s'",
                     o->truth_file);
    } else {
      st = dln_task_load(o, "truth_file", o->truth_file, &d->truth, field);
    }
  }
  if (st) dln_task_data_free(d);
  return st;
}

int dln_task_loss(const dln_task_type *t, const dln_task_options *o, const dln_task_data *d, dln_loss **out) {
  DLN_ARGS(t, o, d, out);
  *out = NULL;
  int st = t->loss(o, d, out);
  if (st) return st;
  if (d->truth) {
    st = dln_loss_set_truth(*out, d->truth);
  } else if (dln_loss_has(*out, DLN_LOSS_IDENTITY) && (*out)->wstar) { /* ½‖W − Ȳ‖²: Ȳ is the truth */
    dln_mat target = {(*out)->rows, (*out)->cols, (*out)->wstar};
    st = dln_loss_set_truth(*out, &target);
  }
  if (st) {
    dln_loss_free(*out);
    *out = NULL;
  }
  return st;
}

const dln_mat *dln_task_data_get(const dln_task_data *d, const char *option) {
  DLN_ARGS_P(d, option);
  if (!d || !d->type || !option) return NULL;
  for (int i = 0; i < DLN_TASK_MAXFILES && d->type->files && d->type->files[i].option; ++i)
    if (strcmp(d->type->files[i].option, option) == 0) return d->mats[i];
  return NULL;
}
