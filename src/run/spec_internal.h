/* Private helpers of the spec readers (spec.c, spec_json.c, sweep_json.c, spec_check.c). */
#ifndef DLN_SPEC_INTERNAL_H
#define DLN_SPEC_INTERNAL_H

#include <stddef.h>

#include <jansson.h>

#include "dln/spec.h"

/* Index of o in the option table. */
int dln_spec_index(const dln_spec_option *o);
/* The option a sweep key sets ("data_seed" sets seed), or NULL and why not in *why
 * ("unknown field ...", "cannot be swept ..."): out, plot, quiet and blas_threads apply
 * to the whole sweep. */
const dln_spec_option *dln_spec_sweep_option(const char *key, const char **why);
/* Set option o of spec from text (messages prefixed by where); no origin recorded. */
/* 0 when row i of the spec table has no effect on the run: an option of a task, init or
 * method type that is not selected, or a data option that a data file overrides (the
 * condition of dln_spec_check_unused); 1 otherwise (also when a type name is unknown). */
int dln_spec_row_applies(const dln_spec *spec, int i);

int dln_spec_set_text(dln_spec *spec, const dln_spec_option *o, const char *text, const char *where);
/* A module's failure ("expected ..., found ...") about option `field`, prefixed by where
 * that option's value came from (dln_spec_where); st is returned. */
int dln_spec_blame(const dln_spec *spec, int st, const char *field);
/* s, or a clipped copy of it in buf. */
const char *dln_spec_clip(const char *s, char *buf, size_t len);

/* ---- JSON (spec_json.c) ---- */
/* Offset of the opening quote of the first `"key"` followed by ':' at or after `from`, or len. */
size_t dln_json_find_key(const char *text, size_t len, size_t from, const char *key);
/* 1-based line and column of offset off (0, 0 when off == len). */
void dln_json_offset_pos(const char *text, size_t len, size_t off, int *line, int *col);
/* A JSON value shown compactly (clipped) in buf. */
char *dln_json_show(const json_t *v, char *buf, size_t len);
/* A JSON value as option text for option o, type-checked; DLN_ESPEC with where. */
int dln_json_to_option_text(const dln_spec_option *o, const json_t *v, char **text, const char *where);
/* text parsed as a JSON object (name in messages), or NULL with *st set. */
json_t *dln_json_load_object(const char *name, const char *text, size_t len, int *st);
/* The text of a JSON file (≤ 64 MiB, no NUL) into *text (caller frees). */
int dln_json_read_text(const char *path, char **text);

#endif
