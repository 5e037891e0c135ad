/* The registry of observables (dln/observe.h): the built-in ones, one line each, in
 * column order, then those registered from outside (dln_observable_register). */
#include <limits.h>
#include <string.h>

#include "core/registry.h"
#include "core/util.h"
#include "dln/error.h"
#include "observe/obs_internal.h"

/* The built-in types, one registration line each (the descriptor's name; the first is the
 * default where the option has one): a new type is its file and a line here. */
#define BUILTIN(X) \
  X(dln_observable_loss) \
  X(dln_observable_gradnorm) \
  X(dln_observable_dist) \
  X(dln_observable_truth) \
  X(dln_observable_sv) \
  X(dln_observable_compress) \
  X(dln_observable_conserved) \
  X(dln_observable_imbalance) \
  X(dln_observable_closed_form) \
  X(dln_observable_bias) \
  X(dln_observable_margin) \
  X(dln_observable_entry) \
  X(dln_observable_layers) \
  X(dln_observable_disturbance)
#define DECLARE(d) extern const dln_observable d;
#define ENTRY(d) &d,
BUILTIN(DECLARE)
static const dln_observable *const builtin[] = {BUILTIN(ENTRY)};
static dln_registry reg = {"observable", (const void *const *)builtin, (int)(sizeof builtin / sizeof *builtin), {0}, 0};

/* Words the observer expands itself (observer.c). */
static const char *const aliases[] = {"all", "theory"};
#define NALIASES ((int)(sizeof aliases / sizeof *aliases))

int dln_observable_count(void) { return reg.nbuiltin + reg.nextra; }

const dln_observable *dln_observable_at(int i) { return dln_registry_at(&reg, i); }

const dln_observable *dln_observable_find(const char *name) { return dln_registry_find(&reg, name); }

const char *dln_observable_name_at(int i) {
  int n = dln_observable_count();
  DLN_INDEX_V(NULL, i, 0, INT_MAX);
  if (i < n) return dln_observable_at(i)->name;
  i -= n;
  return i < NALIASES ? aliases[i] : NULL;
}

int dln_observable_register(const dln_observable *obs) {
  if (!obs || !obs->name || !*obs->name || !obs->init || !obs->eval)
    return dln_error(DLN_EINVAL, "dln_observable_register: expected a named descriptor with init and eval");
  if (strpbrk(obs->name, ", \t\n"))
    return dln_error(DLN_EINVAL, "observable name '%s': expected no comma or space", obs->name);
  for (int i = 0; i < NALIASES; ++i)
    if (strcmp(obs->name, aliases[i]) == 0)
      return dln_error(DLN_EINVAL, "observable name '%s': taken by an alias of --observe", obs->name);
  return dln_registry_add(&reg, obs);
}
