/* JSON object building shared by the run summaries (summary.c), dln check (run/check.c) and
 * every other JSON document the library writes; private to the library.
 *
 * Allocation failures: dln_jset / dln_jappend are json_object_set_new / json_array_append_new
 * (the value is stolen) that also count a failure -- of the set itself, of a NULL value (a
 * failed json_real, json_string, json_pack or sub-builder) or of a NULL parent -- in a
 * per-thread counter. A document's builder takes dln_json_mark() first and ends with
 * dln_json_done(root, mark), which returns NULL (root freed) when any set failed since the
 * mark: a document is complete or, with DLN_ENOMEM, not written. */
#ifndef DLN_JSON_UTIL_H
#define DLN_JSON_UTIL_H

#include <jansson.h>

int dln_jset(json_t *obj, const char *key, json_t *value);
int dln_jappend(json_t *arr, json_t *value);
unsigned long dln_json_mark(void);
json_t *dln_json_done(json_t *root, unsigned long mark);

/* json_dumps(v, flags) (same bytes; free() the result), NULL when out of memory. Jansson
 * 2.14's json_dumps can return a text that lacks a key when its buffer fails to grow;
 * this one dumps into its own buffer and fails instead. */
char *dln_json_dumps(const json_t *v, size_t flags);

/* Sets the members given as (const char *key, json_t *value) pairs on obj in order with
 * dln_jset (a NULL value is a failure, counted). Returns obj. Use through DLN_JSON_SET,
 * which ends the list. */
json_t *dln_json_set_members(json_t *obj, const char *key, ...);
#define DLN_JSON_SET(obj, ...) dln_json_set_members((obj), __VA_ARGS__, (const char *)NULL)

/* json_loadf through dln_input_open: a FIFO, folder or device is refused at once (never
 * blocks). Returns the JSON, or NULL with *st the refusal's status (message set by dln_error)
 * or *st = DLN_OK and err describing a syntax error. */
json_t *dln_json_load_input(const char *path, size_t flags, json_error_t *err, int *st);

#endif
