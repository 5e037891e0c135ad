/* JSON object building shared by the run summaries (summary.c) and dln check (run/check.c);
 * private to the library. */
#ifndef DLN_JSON_UTIL_H
#define DLN_JSON_UTIL_H

#include <jansson.h>

/* Sets the members given as (const char *key, json_t *value) pairs on obj in order, as
 * json_object_set_new does each (the value is stolen; a NULL value leaves its key out).
 * Returns obj. Use through DLN_JSON_SET, which ends the list. */
json_t *dln_json_set_members(json_t *obj, const char *key, ...);
#define DLN_JSON_SET(obj, ...) dln_json_set_members((obj), __VA_ARGS__, (const char *)NULL)

/* json_loadf through dln_input_open: a FIFO, folder or device is refused at once (never
 * blocks). Returns the JSON, or NULL with *st the refusal's status (message set by dln_error)
 * or *st = DLN_OK and err describing a syntax error. */
json_t *dln_json_load_input(const char *path, size_t flags, json_error_t *err, int *st);

#endif
