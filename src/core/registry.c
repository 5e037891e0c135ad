/* The registry shared by the descriptor kinds (core/registry.h). */
#include "core/registry.h"

#include <string.h>

#include "dln/error.h"

const char *dln_registry_name(const void *type) { return type ? *(const char *const *)type : NULL; }

const void *dln_registry_at(const dln_registry *r, int i) {
  if (i < 0) return (dln_error(DLN_EINVAL, "%s index: expected >= 0, found %d", r->what, i), NULL);
  if (i < r->nbuiltin) return r->builtin[i];
  return i - r->nbuiltin < r->nextra ? r->extra[i - r->nbuiltin] : NULL;
}

const char *dln_registry_name_at(const dln_registry *r, int i) { return dln_registry_name(dln_registry_at(r, i)); }

const void *dln_registry_find(const dln_registry *r, const char *name) {
  if (!name) return (dln_error(DLN_EINVAL, "%s name: expected a name, found NULL", r->what), NULL);
  const void *t;
  for (int i = 0; (t = dln_registry_at(r, i)); ++i)
    if (strcmp(dln_registry_name(t), name) == 0) return t;
  return NULL;
}

int dln_registry_add(dln_registry *r, const void *type) {
  const char *name = dln_registry_name(type);
  if (!type || !name || !*name) return dln_error(DLN_EINVAL, "%s: expected a named descriptor, found %s", r->what, type ? "no name" : "NULL");
  if (strpbrk(name, ", \t\n")) return dln_error(DLN_EINVAL, "%s '%s': expected a name without commas or spaces", r->what, name);
  if (dln_registry_find(r, name)) return dln_error(DLN_EINVAL, "%s '%s': expected a new name, found it registered", r->what, name);
  if (r->nextra >= DLN_REGISTRY_MAX)
    return dln_error(DLN_EINVAL, "%s '%s': expected at most %d registered from outside, found more", r->what, name, DLN_REGISTRY_MAX);
  r->extra[r->nextra++] = type;
  return DLN_OK;
}
