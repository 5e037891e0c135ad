/* The registry of observables (dln/observe.h): the built-in ones, one line each, in
 * column order, then those registered from outside (dln_observable_register). */
#include <string.h>

#include "dln/error.h"
#include "observe/obs_internal.h"

static const dln_observable *const builtin[] = {
    &dln_observable_loss,      &dln_observable_gradnorm,  &dln_observable_dist,
    &dln_observable_sv,        &dln_observable_conserved, &dln_observable_imbalance,
    &dln_observable_closed_form, &dln_observable_bias,
};
#define NBUILTIN ((int)(sizeof builtin / sizeof *builtin))
#define MAX_EXTRA 32

static const dln_observable *extra[MAX_EXTRA];
static int nextra;

/* Words the observer expands itself (observer.c). */
static const char *const aliases[] = {"all", "theory"};
#define NALIASES ((int)(sizeof aliases / sizeof *aliases))

int dln_observable_count(void) { return NBUILTIN + nextra; }

const dln_observable *dln_observable_at(int i) {
  if (i < 0) return NULL;
  if (i < NBUILTIN) return builtin[i];
  i -= NBUILTIN;
  return i < nextra ? extra[i] : NULL;
}

const dln_observable *dln_observable_find(const char *name) {
  if (!name) return NULL;
  for (int i = 0; i < dln_observable_count(); ++i)
    if (strcmp(dln_observable_at(i)->name, name) == 0) return dln_observable_at(i);
  return NULL;
}

const char *dln_observable_name_at(int i) {
  int n = dln_observable_count();
  if (i < 0) return NULL;
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
  if (dln_observable_find(obs->name))
    return dln_error(DLN_EINVAL, "observable name '%s': already registered", obs->name);
  if (nextra >= MAX_EXTRA)
    return dln_error(DLN_ENOMEM, "observable registry full (%d registered from outside)", MAX_EXTRA);
  extra[nextra++] = obs;
  return DLN_OK;
}
