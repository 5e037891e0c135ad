/* JSON object building (see json_util.h). */
#include "io/json_util.h"

#include <stdarg.h>

json_t *dln_json_set_members(json_t *obj, const char *key, ...) {
  va_list ap;
  va_start(ap, key);
  for (const char *k = key; k; k = va_arg(ap, const char *)) json_object_set_new(obj, k, va_arg(ap, json_t *));
  va_end(ap);
  return obj;
}
