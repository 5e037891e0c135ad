/* The initialization registry (dln/init.h): the built-in schemes, one line each, then
 * those registered from outside; and the check every scheme shares. */
#include <string.h>

#include "core/registry.h"
#include "core/util.h"
#include "dln/error.h"
#include "dln/init.h"
#include "model/model_internal.h"

/* The built-in types, one registration line each (the descriptor's name; the first is the
 * default where the option has one): a new type is its file and a line here. */
#define BUILTIN(X) \
  X(dln_init_type_gaussian) \
  X(dln_init_type_width_scaled) \
  X(dln_init_type_balanced) \
  X(dln_init_type_imbalanced) \
  X(dln_init_type_spectral) \
  X(dln_init_type_spectral_symmetric) \
  X(dln_init_type_orthogonal_minnorm) \
  X(dln_init_type_file) \
  X(dln_init_type_saddle) \
  X(dln_init_type_sminus)
#define DECLARE(d) extern const dln_init_type d;
#define ENTRY(d) &d,
BUILTIN(DECLARE)
static const dln_init_type *const builtin[] = {BUILTIN(ENTRY)};
static dln_registry reg = {"init type", (const void *const *)builtin, (int)(sizeof builtin / sizeof *builtin), {0}, 0};

const dln_init_type *dln_init_at(int i) { return dln_registry_at(&reg, i); }
const char *dln_init_name_at(int i) { return dln_registry_name_at(&reg, i); }
const dln_init_type *dln_init_find(const char *name) { return dln_registry_find(&reg, name); }

static const dln_option *find_row(const dln_option *rows, const char *name) {
  for (int i = 0; rows && rows[i].name; ++i)
    if (strcmp(rows[i].name, name) == 0) return &rows[i];
  return NULL;
}

int dln_init_register(const dln_init_type *t) {
  if (!t || !t->name || !*t->name || !t->apply)
    return dln_error(DLN_EINVAL, "init type: expected a name and an apply function, found %s",
                     !t ? "NULL" : !t->name || !*t->name ? "no name" : "no apply function");
  for (int i = 0; t->options && t->options[i].name; ++i) {
    const char *n = t->options[i].name;
    if (find_row(dln_init_common_rows(), n) || find_row(t->options + i + 1, n))
      return dln_error(DLN_EINVAL, "init type '%s': option %s: expected a unique name, found it twice", t->name, n);
    for (int k = 0; dln_init_at(k); ++k)
      if (find_row(dln_init_at(k)->options, n))
        return dln_error(DLN_EINVAL, "init type '%s': option %s: expected a unique name, found it in init %s", t->name, n,
                         dln_init_at(k)->name);
  }
  return dln_registry_add(&reg, t);
}

int dln_init_check(const dln_init_type *t, const dln_init_options *o, const dln_init_context *ctx, const char **field) {
  DLN_ARGS(t, o, ctx);
  const char *dummy;
  if (!field) field = &dummy;
  *field = NULL;
  if (!t) return dln_error(DLN_EINVAL, "init: expected an init type, found NULL");
  int st = dln_init_common_check(o, ctx, field);
  if (!st && t->check) st = t->check(o, ctx, field);
  if (!st) st = dln_init_check_foreign(t, o, field);
  return st;
}
