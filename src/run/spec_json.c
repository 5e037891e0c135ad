/* Specs and run summaries as JSON (dln/spec.h): a JSON object of options over the
 * defaults, every key located (file:line:column) for messages; the resolved spec echoed
 * into summary.json. */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>

#include <jansson.h>

#include "dln/error.h"
#include "dln/io.h"
#include "dln/spec.h"
#include "run/run_internal.h"
#include "run/spec_internal.h"

/* Offset of the opening quote of the first `"key"` followed by ':' at or after `from`
 * (which must lie outside a string), or `len` if none. */
size_t dln_json_find_key(const char *text, size_t len, size_t from, const char *key) {
  size_t k = strlen(key);
  int in_str = 0;
  for (size_t i = from; i < len; ++i) {
    char c = text[i];
    if (in_str) {
      if (c == '\\') ++i;
      else if (c == '"') in_str = 0;
      continue;
    }
    if (c != '"') continue;
    if (i + 1 + k < len && memcmp(text + i + 1, key, k) == 0 && text[i + 1 + k] == '"') {
      size_t j = i + 2 + k;
      while (j < len && (text[j] == ' ' || text[j] == '\t' || text[j] == '\r' || text[j] == '\n')) ++j;
      if (j < len && text[j] == ':') return i;
    }
    in_str = 1;
  }
  return len;
}

/* 1-based line and column of offset off (0, 0 when off == len: not found). */
void dln_json_offset_pos(const char *text, size_t len, size_t off, int *line, int *col) {
  *line = *col = 0;
  if (off >= len) return;
  int ln = 1;
  size_t start = 0;
  for (size_t i = 0; i < off; ++i)
    if (text[i] == '\n') ++ln, start = i + 1;
  *line = ln;
  *col = (int)(off - start) + 1;
}

char *dln_json_show(const json_t *v, char *buf, size_t len) {
  char *s = dln_json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(17));
  if (!s) {
    snprintf(buf, len, "?");
    return buf;
  }
  if (strlen(s) < len)
    snprintf(buf, len, "%s", s);
  else
    snprintf(buf, len, "%.*s...", (int)(len - 4), s);
  free(s);
  return buf;
}

/* A growing text buffer; `oom` records a failed allocation. */
typedef struct sbuf {
  char *s;
  size_t k, cap;
  int oom;
} sbuf;

static void sb_add(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_add(sbuf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int w = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (w < 0 || b->oom) return;
  while (b->k + (size_t)w + 1 > b->cap) {
    char *nb = realloc(b->s, b->cap ? b->cap * 2 : 64);
    if (!nb) {
      b->oom = 1;
      return;
    }
    b->s = nb;
    b->cap = b->cap ? b->cap * 2 : 64;
  }
  va_start(ap, fmt);
  vsnprintf(b->s + b->k, b->cap - b->k, fmt, ap);
  va_end(ap);
  b->k += (size_t)w;
}

/* A scalar JSON value as text of type t; 1 if it has the wrong type. */
static int scalar_text(dln_opt_type t, const json_t *v, sbuf *b) {
  switch (t) {
    case DLN_OPT_INT:
    case DLN_OPT_LONG:
      if (!json_is_integer(v)) return 1;
      sb_add(b, "%lld", (long long)json_integer_value(v));
      return 0;
    case DLN_OPT_U64:
      if (json_is_integer(v) && json_integer_value(v) >= 0) sb_add(b, "%lld", (long long)json_integer_value(v));
      else if (json_is_string(v)) sb_add(b, "%s", json_string_value(v)); /* seeds beyond 2^63 */
      else return 1;
      return 0;
    case DLN_OPT_DOUBLE:
      if (!json_is_number(v)) return 1;
      sb_add(b, "%.17g", json_number_value(v));
      return 0;
    case DLN_OPT_BOOL:
      if (!json_is_boolean(v)) return 1;
      sb_add(b, "%s", json_is_true(v) ? "true" : "false");
      return 0;
    default:
      if (!json_is_string(v)) return 1;
      sb_add(b, "%s", json_string_value(v));
      return 0;
  }
}

/* 1 if a string-list item reads back as one item from comma-separated text: no comma, or
 * "word:arg" whose commas are each followed by a number (the rule of the option parser
 * that keeps "entry:1,2" whole). */
static int item_ok(const char *s) {
  const char *c = strchr(s, ','), *colon = strchr(s, ':');
  if (!c) return 1;
  if (!colon || colon > c) return 0;
  for (; c; c = strchr(c + 1, ','))
    if (!c[1] || !strchr("0123456789+-.", c[1])) return 0;
  return 1;
}

/* A JSON list (or one string for a string list) as comma-separated text; 1 if bad. */
static int list_text(dln_opt_type t, const json_t *v, sbuf *b) {
  if (t == DLN_OPT_STRLIST && json_is_string(v)) {
    if (!item_ok(json_string_value(v))) return 1;
    sb_add(b, "%s", json_string_value(v));
    return 0;
  }
  if (!json_is_array(v)) return 1;
  size_t i;
  json_t *e;
  json_array_foreach(v, i, e) {
    if (i) sb_add(b, ",");
    if (t == DLN_OPT_INTLIST && json_is_integer(e)) sb_add(b, "%lld", (long long)json_integer_value(e));
    else if (t == DLN_OPT_DOUBLELIST && json_is_number(e)) sb_add(b, "%.17g", json_number_value(e));
    else if (t == DLN_OPT_STRLIST && json_is_string(e) && item_ok(json_string_value(e))) sb_add(b, "%s", json_string_value(e));
    else return 1;
  }
  return 0;
}

/* Convert a JSON value to option text, checking the type. */
int dln_json_to_option_text(const dln_spec_option *o, const json_t *v, char **text, const char *where) {
  char shown[96];
  sbuf b = {NULL, 0, 0, 0};
  *text = NULL;
  int list = o->type == DLN_OPT_INTLIST || o->type == DLN_OPT_DOUBLELIST || o->type == DLN_OPT_STRLIST;
  int bad = list ? list_text(o->type, v, &b) : scalar_text(o->type, v, &b);
  if (!bad && !b.oom && !b.s) sb_add(&b, "%s", ""); /* an empty list */
  if (b.oom) {
    free(b.s);
    return dln_error(DLN_ENOMEM, "out of memory");
  }
  if (bad) {
    free(b.s);
    return dln_error(DLN_ESPEC, "%s: expected %s, found %s", where, dln_option_type_expect(o->row),
                     dln_json_show(v, shown, sizeof shown));
  }
  *text = b.s;
  return DLN_OK;
}

/* text parsed as a JSON object of options (name in messages), or NULL with *st set. */
json_t *dln_json_load_object(const char *name, const char *text, size_t len, int *st) {
  json_error_t err;
  json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
  if (!root) {
    *st = dln_error(DLN_ESPEC, "%s:%d:%d: %s", name, err.line, err.column, err.text);
    return NULL;
  }
  if (!json_is_object(root)) {
    *st = dln_error(DLN_ESPEC, "%s:1:1: expected a JSON object of options, found %s", name,
                    json_is_array(root) ? "an array" : "a scalar");
    json_decref(root);
    return NULL;
  }
  *st = DLN_OK;
  return root;
}

int dln_spec_from_json_string(dln_spec *spec, const char *name, const char *text) {
  if (!spec || !text) return dln_error(DLN_EINVAL, "dln_spec_from_json_string: NULL argument");
  if (!name) name = "<string>";
  size_t len = strlen(text);
  int st;
  json_t *root = dln_json_load_object(name, text, len, &st);
  if (!root) return st;
  free(spec->source);
  spec->source = strdup(name);
  const char *key;
  json_t *v;
  json_object_foreach(root, key, v) {
    int line, col;
    if (strcmp(key, "sweep") == 0) continue; /* read by dln_sweep_from_json_* (dln/ensemble.h) */
    dln_json_offset_pos(text, len, dln_json_find_key(text, len, 0, key), &line, &col); /* Jansson keeps no positions */
    char where[512], cb[96];
    snprintf(where, sizeof where, "%s:%d:%d: field \"%s\"", name, line, col, dln_spec_clip(key, cb, sizeof cb));
    const dln_spec_option *o = dln_spec_find(key);
    if (!o) {
      st = dln_error(DLN_ESPEC, "%s:%d:%d: unknown key \"%s\" (see dln run --help)", name, line, col,
                     dln_spec_clip(key, cb, sizeof cb));
      goto done;
    }
    char *t = NULL;
    if ((st = dln_json_to_option_text(o, v, &t, where))) goto done;
    st = dln_spec_set_text(spec, o, t, where);
    free(t);
    if (st) {
      st = DLN_ESPEC;
      goto done;
    }
    spec->origin[dln_spec_index(o)] = (dln_spec_origin){1, line, col};
  }
done:
  json_decref(root);
  return st;
}

/* The text of the JSON file at path (at most 64 MiB, no NUL byte) into *text (caller
 * frees): DLN_EIO if it cannot be read, DLN_ESPEC if it is not text. */
int dln_json_read_text(const char *path, char **text) {
  *text = NULL;
  FILE *fp;
  int ost = dln_input_open(path, &fp); /* a regular file, never a FIFO that would block */
  if (ost) return ost;
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);
  int st = DLN_OK;
  while (buf) {
    if (n + 1 >= cap) {
      if (cap > ((size_t)64 << 20)) {
        st = dln_error(DLN_ESPEC, "%s: expected a spec of at most 64 MiB, found more", path);
        break;
      }
      char *nb = realloc(buf, cap * 2);
      if (!nb) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = nb;
      cap *= 2;
    }
    size_t got = fread(buf + n, 1, cap - n - 1, fp);
    n += got;
    if (got == 0) break;
  }
  if (!buf) st = dln_error(DLN_ENOMEM, "%s: out of memory", path);
  else if (!st && ferror(fp)) st = dln_error(DLN_EIO, "%s: read error: %s", path, strerror(errno));
  fclose(fp);
  if (!st) {
    buf[n] = '\0';
    if (memchr(buf, '\0', n)) st = dln_error(DLN_ESPEC, "%s: expected JSON text, found a NUL byte", path);
  }
  if (st) free(buf);
  else *text = buf;
  return st;
}

int dln_spec_from_json_file(dln_spec *spec, const char *path) {
  if (!spec || !path) return dln_error(DLN_EINVAL, "dln_spec_from_json_file: NULL argument");
  char *buf = NULL;
  int st = dln_json_read_text(path, &buf);
  if (!st) st = dln_spec_from_json_string(spec, path, buf);
  free(buf);
  return st;
}


json_t *dln_spec_to_json(const dln_spec *spec) {
  unsigned long mark = dln_json_mark();
  json_t *o = json_object();
  if (!o) return NULL;
  const dln_spec_option *table = dln_spec_options();
  for (int i = 0; table[i].name; ++i) {
    const dln_spec_option *p = &table[i];
    if (!dln_spec_row_applies(spec, i)) continue; /* no effect on this run: not echoed (reads back) */
    json_t *v = NULL;
    const void *F = dln_spec_field(spec, p);
    switch (p->type) {
      case DLN_OPT_INT: /* depth: the resolved one (widths set it), so that the echo reads back */
        v = json_integer(strcmp(p->name, "depth") == 0 && spec->net.widths.n ? spec->net.widths.n - 1 : *(const int *)F);
        break;
      case DLN_OPT_LONG: v = json_integer(*(const long *)F); break;
      case DLN_OPT_U64: {
        uint64_t u = *(const uint64_t *)F;
        if (u <= (uint64_t)LLONG_MAX) v = json_integer((json_int_t)u);
        else {
          char b[32];
          snprintf(b, sizeof b, "%llu", (unsigned long long)u);
          v = json_string(b);
        }
        break;
      }
      case DLN_OPT_DOUBLE: v = dln_json_num(*(const double *)F); break;
      case DLN_OPT_BOOL: v = json_boolean(*(const int *)F); break;
      case DLN_OPT_STRING:
      case DLN_OPT_ENUM: {
        const char *s = *(char *const *)F;
        v = json_string(s ? s : "");
        break;
      }
      case DLN_OPT_INTLIST: {
        const dln_ilist *l = (const dln_ilist *)F;
        v = json_array();
        for (int k = 0; v && k < l->n; ++k) dln_jappend(v, json_integer(l->v[k]));
        break;
      }
      case DLN_OPT_DOUBLELIST: {
        const dln_dlist *l = (const dln_dlist *)F;
        v = json_array();
        for (int k = 0; v && k < l->n; ++k) dln_jappend(v, dln_json_num(l->v[k]));
        break;
      }
      case DLN_OPT_STRLIST: {
        const dln_slist *l = (const dln_slist *)F;
        v = json_array();
        for (int k = 0; v && k < l->n; ++k) dln_jappend(v, json_string(l->v[k]));
        break;
      }
    }
    if (!v || dln_jset(o, p->name, v)) {
      json_decref(o);
      return NULL;
    }
  }
  return dln_json_done(o, mark); /* NULL when a list lost an element */
}

