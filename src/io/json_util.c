/* JSON object building (see json_util.h). */
#include "io/json_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dln/error.h"
#include "dln/io.h"

/* failed sets on this thread; only ever grows, so marks nest */
static _Thread_local unsigned long json_fails;

int dln_jset(json_t *obj, const char *key, json_t *value) {
  if (json_object_set_new(obj, key, value) == 0) return 0; /* steals value, also on failure */
  ++json_fails;
  return -1;
}

int dln_jappend(json_t *arr, json_t *value) {
  if (json_array_append_new(arr, value) == 0) return 0;
  ++json_fails;
  return -1;
}

unsigned long dln_json_mark(void) { return json_fails; }

json_t *dln_json_done(json_t *root, unsigned long mark) {
  if (root && json_fails == mark) return root;
  json_decref(root);
  return NULL;
}

json_t *dln_json_set_members(json_t *obj, const char *key, ...) {
  va_list ap;
  va_start(ap, key);
  for (const char *k = key; k; k = va_arg(ap, const char *)) dln_jset(obj, k, va_arg(ap, json_t *));
  va_end(ap);
  return obj;
}

typedef struct dump_buf {
  char *s;
  size_t n, cap;
  int oom; /* sticky: Jansson does not always pass a failed write on */
} dump_buf;

static int dump_add(const char *b, size_t size, void *data) {
  dump_buf *d = data;
  if (d->oom) return -1;
  if (d->n + size + 1 > d->cap) {
    size_t cap = d->cap ? d->cap : 1024;
    while (cap < d->n + size + 1) cap *= 2;
    char *t = realloc(d->s, cap);
    if (!t) {
      d->oom = 1;
      return -1;
    }
    d->s = t;
    d->cap = cap;
  }
  memcpy(d->s + d->n, b, size);
  d->n += size;
  d->s[d->n] = '\0';
  return 0;
}

char *dln_json_dumps(const json_t *v, size_t flags) {
  dump_buf d = {NULL, 0, 0, 0};
  if (json_dump_callback(v, dump_add, &d, flags) != 0 || d.oom || !d.s) {
    free(d.s);
    return NULL;
  }
  return d.s;
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
