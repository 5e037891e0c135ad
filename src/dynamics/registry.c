/* The integrator registry (dln/integrator.h): the built-in types, one line each, then
 * the types registered from outside the library with dln_integrator_register. */
#include <stdint.h>
#include <string.h>

#include "core/registry.h"
#include "dln/error.h"
#include "dynamics/dynamics_internal.h"

/* The built-in types, one registration line each (the descriptor's name; the first is the
 * default where the option has one): a new type is its file and a line here. */
#define BUILTIN(X) \
  X(dln_integrator_auto) \
  X(dln_integrator_gd) \
  X(dln_integrator_flow) \
  X(dln_integrator_cvode) \
  X(dln_integrator_gauss) \
  X(dln_integrator_rkc) \
  X(dln_integrator_dop853)
#define DECLARE(d) extern const dln_integrator_type d;
#define ENTRY(d) &d,
BUILTIN(DECLARE)
static const dln_integrator_type *const builtin[] = {BUILTIN(ENTRY)};
static dln_registry reg = {"integrator type", (const void *const *)builtin, (int)(sizeof builtin / sizeof *builtin), {0}, 0};

const dln_integrator_type *dln_integrator_at(int i) { return dln_registry_at(&reg, i); }
const char *dln_integrator_name_at(int i) { return dln_registry_name_at(&reg, i); }
const dln_integrator_type *dln_integrator_find(const char *name) { return dln_registry_find(&reg, name); }

int dln_integrator_register(const dln_integrator_type *t) {
  if (!t || !t->name || !t->name[0])
    return dln_error(DLN_EINVAL, "dln_integrator_register: expected a type with a name, found %s", t ? "no name" : "NULL");
  if (!(t->flags & DLN_INTEG_DISCRETE) && !t->create)
    return dln_error(DLN_EINVAL, "dln_integrator_register: %s: expected a create function (only DLN_INTEG_DISCRETE types have none)",
                     t->name);
  if (t->flags & DLN_INTEG_DISCRETE)
    return dln_error(DLN_EINVAL, "dln_integrator_register: %s: expected a stepper type (the gradient-descent driver is built in)",
                     t->name);
  if (t->options_size == 0 && dln_options_count(t->options) > 0)
    return dln_error(DLN_EINVAL,
                     "dln_integrator_register: %s: expected options_size > 0 for its option rows (fields of "
                     "dln_train_options are the built-in types')",
                     t->name);
  return dln_registry_add(&reg, t);
}

int dln_dyn_validate_rows(const void *base, const dln_option *rows) {
  for (int i = 0; rows && rows[i].name; ++i) {
    int st = dln_option_validate(base, &rows[i], rows[i].name);
    if (st) return st;
  }
  return DLN_OK;
}

int dln_integrator_validate(const dln_integrator_type *t, const dln_train_options *opt) {
  const void *base = opt;
  if (t->options_size > 0 && dln_options_count(t->options) > 0) {
    if (!opt->method_options)
      return dln_error(DLN_EINVAL, "method_options: expected the option block of %s (%zu bytes), found NULL", t->name,
                       t->options_size);
    base = opt->method_options;
  }
  int st = dln_dyn_validate_rows(base, t->options);
  if (st) return st;
  return t->check ? t->check(opt) : DLN_OK;
}
