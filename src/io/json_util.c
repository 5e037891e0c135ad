/* JSON object building (see json_util.h). */
#include "io/json_util.h"

#include <stdarg.h>
#include <stdio.h>

#include "dln/error.h"
#include "dln/io.h"

json_t *dln_json_set_members(json_t *obj, const char *key, ...) {
  va_list ap;
  va_start(ap, key);
  for (const char *k = key; k; k = va_arg(ap, const char *)) json_object_set_new(obj, k, va_arg(ap, json_t *));
  va_end(ap);
  return obj;
}

json_t *dln_json_load_input(const char *path, size_t flags, json_error_t *err, int *st) {
  FILE *fp = NULL;
  *st = dln_input_open(path, &fp);
  if (*st) {
    if (err) snprintf(err->text, sizeof err->text, "not a readable regular file");
    return NULL;
  }
  json_t *root = json_loadf(fp, flags, err);
  fclose(fp);
  return root;
}
