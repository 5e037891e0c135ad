/* The spec's choice of task and method, resolved through the registries. */
#include <string.h>

#include "dln/error.h"
#include "dln/integrator.h"
#include "dln/task.h"
#include "dln/spec.h"
#include "run/run_internal.h"

const dln_integrator_type *dln_run_method_type(const dln_spec *spec, int *e2e) {
  const char *name = spec->method;
  *e2e = spec->system && strcmp(spec->system, "e2e") == 0;
  if (!name) return NULL;
  if (strncmp(name, "e2e_", 4) == 0) { /* the end-to-end system × an integrator */
    *e2e = 1;
    name += 4;
  }
  return dln_integrator_find(name);
}

int dln_run_check_task(const dln_spec *spec, const dln_task_type *task, const char **field) {
  *field = NULL;
  dln_task_options o = spec->data;
  o.own = dln_spec_type_block(spec, task->options);
  return dln_task_check(task, &o, field);
}
