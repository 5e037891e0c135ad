/* Private: the one registry behind the task, initialization, integrator and observable
 * types. A type's descriptor starts with `const char *name` (the registries read it
 * there); built-in types come first, in the order of their registration lines, then
 * those registered from outside the library. */
#ifndef DLN_CORE_REGISTRY_H
#define DLN_CORE_REGISTRY_H

enum { DLN_REGISTRY_MAX = 64 };

typedef struct dln_registry {
  const char *what;                /* "task type", ... for messages */
  const void *const *builtin;
  int nbuiltin;
  const void *extra[DLN_REGISTRY_MAX];
  int nextra;
} dln_registry;

/* The name of a descriptor (its first member). */
const char *dln_registry_name(const void *type);
/* The i-th type (NULL past the end or for i < 0). */
const void *dln_registry_at(const dln_registry *r, int i);
const char *dln_registry_name_at(const dln_registry *r, int i);
/* The type of that name, or NULL. */
const void *dln_registry_find(const dln_registry *r, const char *name);
/* Append a type whose checks the caller has made: DLN_EINVAL for a NULL or unnamed type,
 * a name with a comma or space, a taken name, or a full registry. */
int dln_registry_add(dln_registry *r, const void *type);

#endif
