/* Option rows (dln/option.h): the one text setter, copy, free and range check that
 * every module's options pass through (command line, JSON, defaults alike). */
#include "dln/option.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "dln/error.h"

#define FIELD(base, o, T) DLN_OPTION_FIELD(base, o, T)
#define CFIELD(base, o, T) DLN_OPTION_CFIELD(base, o, T)


/* ---- the list options: dln_ilist, dln_dlist and dln_slist alike, {int n; T *v} ---- */

static size_t list_item_size(const dln_option *o) {
  switch (o->type) {
    case DLN_OPT_INTLIST: return sizeof(int);
    case DLN_OPT_DOUBLELIST: return sizeof(double);
    case DLN_OPT_STRLIST: return sizeof(char *);
    default: return 0;
  }
}

static int list_get(const void *base, const dln_option *o, void **v) {
  switch (o->type) {
    case DLN_OPT_INTLIST: *v = CFIELD(base, o, dln_ilist)->v; return CFIELD(base, o, dln_ilist)->n;
    case DLN_OPT_DOUBLELIST: *v = CFIELD(base, o, dln_dlist)->v; return CFIELD(base, o, dln_dlist)->n;
    case DLN_OPT_STRLIST: *v = CFIELD(base, o, dln_slist)->v; return CFIELD(base, o, dln_slist)->n;
    default: *v = NULL; return 0;
  }
}

static void list_put(void *base, const dln_option *o, int n, void *v) {
  switch (o->type) {
    case DLN_OPT_INTLIST: *FIELD(base, o, dln_ilist) = (dln_ilist){n, v}; break;
    case DLN_OPT_DOUBLELIST: *FIELD(base, o, dln_dlist) = (dln_dlist){n, v}; break;
    case DLN_OPT_STRLIST: *FIELD(base, o, dln_slist) = (dln_slist){n, v}; break;
    default: break;
  }
}

static void list_free_items(const dln_option *o, int n, void *v) {
  if (o->type == DLN_OPT_STRLIST && v) /* v is NULL when its allocation failed */
    for (int i = 0; i < n; ++i) free(((char **)v)[i]);
  free(v);
}

void dln_option_clear(void *base, const dln_option *o) {
  if (!base || !o) return;
  if (o->type == DLN_OPT_STRING || o->type == DLN_OPT_ENUM) {
    char **p = FIELD(base, o, char *);
    free(*p);
    *p = NULL;
  } else if (list_item_size(o)) {
    void *v;
    int n = list_get(base, o, &v);
    list_free_items(o, n, v);
    list_put(base, o, 0, NULL);
  }
}

/* ---- text parsing -------------------------------------------------------------- */

const char *dln_option_type_expect(const dln_option *o) {
  DLN_ARGS_P(o);
  switch (o->type) {
    case DLN_OPT_INT:
    case DLN_OPT_LONG: return "an integer";
    case DLN_OPT_U64: return "a non-negative integer";
    case DLN_OPT_DOUBLE: return "a number";
    case DLN_OPT_BOOL: return "true or false";
    case DLN_OPT_STRING:
    case DLN_OPT_ENUM: return "a string";
    case DLN_OPT_INTLIST: return "a list of integers";
    case DLN_OPT_DOUBLELIST: return "a list of numbers";
    case DLN_OPT_STRLIST: return "a list of strings";
  }
  return "a value";
}

static const char *allowed_at(const dln_option *o, int i) {
  if (o->choice) return o->choice(i);
  return o->allowed ? o->allowed[i] : NULL;
}

const char *dln_option_allowed_text(const dln_option *o, char *buf, size_t len) {
  DLN_ARGS_P(o, buf);
  if (len == 0) return (dln_error(DLN_EINVAL, "dln_option_allowed_text: len: expected > 0, found 0"), NULL);
  buf[0] = '\0';
  size_t k = 0;
  for (int i = 0; allowed_at(o, i); ++i) {
    int w = snprintf(buf + k, len - k, "%s%s", i ? "|" : "", allowed_at(o, i));
    if (w < 0 || (size_t)w >= len - k) break;
    k += (size_t)w;
  }
  return buf;
}

int dln_option_allows(const dln_option *o, const char *s) {
  DLN_ARGS_V(0, o, s);
  if (!o->allowed && !o->choice) return 1;
  /* a list item "word:argument" (e.g. --observe=entry:1,2) is allowed when its word is;
   * the word's owner checks the argument */
  size_t len = o->type == DLN_OPT_STRLIST && strchr(s, ':') ? (size_t)(strchr(s, ':') - s) : strlen(s);
  for (int i = 0; allowed_at(o, i); ++i)
    if (strlen(allowed_at(o, i)) == len && strncmp(allowed_at(o, i), s, len) == 0) return 1;
  return 0;
}

static int parse_long(const char *s, long long *v) {
  while (isspace((unsigned char)*s)) ++s;
  if (!*s) return -1;
  errno = 0;
  char *e;
  long long x = strtoll(s, &e, 10);
  if (errno) return -1;
  while (isspace((unsigned char)*e)) ++e;
  if (*e) return -1;
  *v = x;
  return 0;
}

static int parse_u64(const char *s, uint64_t *v) {
  while (isspace((unsigned char)*s)) ++s;
  if (!*s || *s == '-') return -1;
  errno = 0;
  char *e;
  unsigned long long x = strtoull(s, &e, 10);
  if (errno) return -1;
  while (isspace((unsigned char)*e)) ++e;
  if (*e) return -1;
  *v = (uint64_t)x;
  return 0;
}

static int parse_double(const char *s, double *v) {
  while (isspace((unsigned char)*s)) ++s;
  if (!*s) return -1;
  char *e;
  double x = strtod(s, &e);
  while (isspace((unsigned char)*e)) ++e;
  if (*e) return -1;
  *v = x;
  return 0;
}

static int parse_bool(const char *s, int *v) {
  static const char *const yes[] = {"true", "1", "yes", "on", ""};
  static const char *const no[] = {"false", "0", "no", "off"};
  for (size_t i = 0; i < sizeof yes / sizeof *yes; ++i)
    if (strcmp(s, yes[i]) == 0) return *v = 1, 0;
  for (size_t i = 0; i < sizeof no / sizeof *no; ++i)
    if (strcmp(s, no[i]) == 0) return *v = 0, 0;
  return -1;
}

/* Split "a,b,c" / "[a, b, c]" into trimmed items (modifies a copy). */
static int split_list(const char *text, char **copy, char ***items, int *n) {
  *copy = NULL;
  *items = NULL;
  *n = 0;
  char *c = strdup(text);
  if (!c) return DLN_ENOMEM;
  char *s = c;
  while (isspace((unsigned char)*s)) ++s;
  size_t len = strlen(s);
  while (len && isspace((unsigned char)s[len - 1])) s[--len] = '\0';
  if (len && s[0] == '[' && s[len - 1] == ']') {
    s[len - 1] = '\0';
    ++s;
  }
  int cap = 1;
  for (const char *p = s; *p; ++p) cap += *p == ',';
  char **it = malloc((size_t)cap * sizeof *it);
  if (!it) {
    free(c);
    return DLN_ENOMEM;
  }
  int k = 0, only_space = 1;
  for (const char *p = s; *p; ++p)
    if (!isspace((unsigned char)*p)) only_space = 0;
  if (!only_space) {
    char *p = s;
    for (;;) {
      char *comma = strchr(p, ',');
      if (comma) *comma = '\0';
      while (isspace((unsigned char)*p)) ++p;
      size_t l = strlen(p);
      while (l && isspace((unsigned char)p[l - 1])) p[--l] = '\0';
      it[k++] = p;
      if (!comma) break;
      p = comma + 1;
    }
  }
  *copy = c;
  *items = it;
  *n = k;
  return DLN_OK;
}

static const char *clip(const char *s, char *buf, size_t len) {
  size_t n = strlen(s);
  if (n < len) return s;
  snprintf(buf, len, "%.*s...", (int)(len - 4), s);
  return buf;
}

/* One list item from text into vals[i]. */
static int set_item(const dln_option *o, void *vals, int i, const char *item, const char *where) {
  char cb[96];
  if (o->type == DLN_OPT_INTLIST) {
    long long v;
    if (parse_long(item, &v) || v < INT_MIN || v > INT_MAX)
      return dln_error(DLN_EINVAL, "%s: expected a list of integers, found '%s' at item %d", where, clip(item, cb, sizeof cb),
                       i + 1);
    ((int *)vals)[i] = (int)v;
  } else if (o->type == DLN_OPT_DOUBLELIST) {
    if (parse_double(item, &((double *)vals)[i]))
      return dln_error(DLN_EINVAL, "%s: expected a list of numbers, found '%s' at item %d", where, clip(item, cb, sizeof cb),
                       i + 1);
  } else {
    size_t n = strlen(item); /* "[x]" is list syntax: an item so shaped would not read back */
    if (n && (item[0] == '[' || item[n - 1] == ']'))
      return dln_error(DLN_EINVAL, "%s: expected items that do not begin with '[' or end with ']', found '%s' at item %d",
                       where, clip(item, cb, sizeof cb), i + 1);
    if (!dln_option_allows(o, item)) {
      char al[256];
      dln_option_allowed_text(o, al, sizeof al);
      return dln_error(DLN_EINVAL, "%s: expected items from %s, found '%s'", where, al, clip(item, cb, sizeof cb));
    }
    if (!(((char **)vals)[i] = strdup(item))) return dln_error(DLN_ENOMEM, "%s: out of memory", where);
  }
  return DLN_OK;
}

/* A list of strings whose items may carry an argument with commas ("entry:1,2"): an item
 * that starts like a number (digit, '+', '-', '.') after an item with ':' continues it.
 * Rewrites items[0..*n) to point into *joined (freed by the caller). */
static int join_args(char **items, int *n, size_t len, char **joined) {
  char *b = *joined = malloc(len + (size_t)*n + 1), *w = b;
  if (!b) return DLN_ENOMEM;
  int k = 0;
  for (int i = 0; i < *n; ++i) {
    const char *src = items[i];
    int cont = k > 0 && strchr(items[k - 1], ':') && src[0] && strchr("0123456789+-.", src[0]);
    size_t l = strlen(src);
    if (cont) {
      w[-1] = ','; /* over the previous item's terminator */
    } else {
      items[k++] = w;
    }
    memcpy(w, src, l + 1);
    w += l + 1;
  }
  *n = k;
  return DLN_OK;
}

static int set_list(void *base, const dln_option *o, const char *text, const char *where) {
  char *copy, **items, *joined = NULL;
  int n;
  if (split_list(text, &copy, &items, &n) ||
      (o->type == DLN_OPT_STRLIST && join_args(items, &n, strlen(text), &joined))) {
    free(items);
    free(copy);
    return dln_error(DLN_ENOMEM, "%s: out of memory", where);
  }
  int st = DLN_OK;
  void *vals = NULL;
  if (n && !(vals = calloc((size_t)n, list_item_size(o)))) st = dln_error(DLN_ENOMEM, "%s: out of memory", where);
  for (int i = 0; i < n && !st; ++i) st = set_item(o, vals, i, items[i], where);
  free(items);
  free(copy);
  free(joined);
  if (st) {
    list_free_items(o, n, vals);
    return st;
  }
  dln_option_clear(base, o);
  list_put(base, o, n, vals);
  return DLN_OK;
}

int dln_option_set(void *base, const dln_option *o, const char *text, const char *where) {
  DLN_ARGS(base, o, text);
  if (!where) where = o->name ? o->name : "option";
  char cb[96];
  switch (o->type) {
    case DLN_OPT_INT:
    case DLN_OPT_LONG: {
      long long v;
      long long lo = o->type == DLN_OPT_INT ? INT_MIN : LONG_MIN, hi = o->type == DLN_OPT_INT ? INT_MAX : LONG_MAX;
      if (parse_long(text, &v) || v < lo || v > hi)
        return dln_error(DLN_EINVAL, "%s: expected an integer, found '%s'", where, clip(text, cb, sizeof cb));
      if (o->type == DLN_OPT_INT) *FIELD(base, o, int) = (int)v;
      else *FIELD(base, o, long) = (long)v;
      return DLN_OK;
    }
    case DLN_OPT_U64: {
      uint64_t v;
      if (parse_u64(text, &v))
        return dln_error(DLN_EINVAL, "%s: expected a non-negative integer, found '%s'", where, clip(text, cb, sizeof cb));
      *FIELD(base, o, uint64_t) = v;
      return DLN_OK;
    }
    case DLN_OPT_DOUBLE: {
      double v;
      if (parse_double(text, &v))
        return dln_error(DLN_EINVAL, "%s: expected a number, found '%s'", where, clip(text, cb, sizeof cb));
      *FIELD(base, o, double) = v;
      return DLN_OK;
    }
    case DLN_OPT_BOOL: {
      int v;
      if (parse_bool(text, &v))
        return dln_error(DLN_EINVAL, "%s: expected true or false, found '%s'", where, clip(text, cb, sizeof cb));
      *FIELD(base, o, int) = v;
      return DLN_OK;
    }
    case DLN_OPT_STRING:
    case DLN_OPT_ENUM: {
      if (o->type == DLN_OPT_ENUM && !dln_option_allows(o, text)) {
        char al[256];
        dln_option_allowed_text(o, al, sizeof al);
        return dln_error(DLN_EINVAL, "%s: expected one of %s, found '%s'", where, al, clip(text, cb, sizeof cb));
      }
      char *p = strdup(text);
      if (!p) return dln_error(DLN_ENOMEM, "%s: out of memory", where);
      char **f = FIELD(base, o, char *);
      free(*f);
      *f = p;
      return DLN_OK;
    }
    case DLN_OPT_INTLIST:
    case DLN_OPT_DOUBLELIST:
    case DLN_OPT_STRLIST: return set_list(base, o, text, where);
  }
  return dln_error(DLN_EINVAL, "%s: unknown option type", where);
}

int dln_option_copy(void *dst, const void *src, const dln_option *o) {
  DLN_ARGS(dst, src, o);
  if (o->type == DLN_OPT_STRING || o->type == DLN_OPT_ENUM) {
    const char *s = *CFIELD(src, o, char *);
    *FIELD(dst, o, char *) = NULL;
    return s && !(*FIELD(dst, o, char *) = strdup(s)) ? DLN_ENOMEM : DLN_OK;
  }
  size_t sz = list_item_size(o);
  if (!sz) {
    memcpy((char *)dst + o->offset, (const char *)src + o->offset,
           o->type == DLN_OPT_DOUBLE ? sizeof(double) : o->type == DLN_OPT_LONG ? sizeof(long)
                                      : o->type == DLN_OPT_U64 ? sizeof(uint64_t) : sizeof(int));
    return DLN_OK;
  }
  list_put(dst, o, 0, NULL);
  void *a;
  int n = list_get(src, o, &a);
  if (!n) return DLN_OK;
  int strs = o->type == DLN_OPT_STRLIST;
  void *b = strs ? calloc((size_t)n, sz) : malloc((size_t)n * sz);
  if (!b) return DLN_ENOMEM;
  if (!strs) memcpy(b, a, (size_t)n * sz);
  list_put(dst, o, n, b);
  for (int k = 0; strs && k < n; ++k)
    if (!(((char **)b)[k] = strdup(((char **)a)[k]))) return DLN_ENOMEM;
  return DLN_OK;
}

/* ---- range checks ---------------------------------------------------------------- */

/* 0 if x passes the row's range; else the expectation into exp. */
static int range_fails(const dln_option *o, double x, int integer, char *exp, size_t len) {
  switch (o->range) {
    case DLN_OPTR_ANY: return 0;
    case DLN_OPTR_NONE:
      if (integer || isfinite(x)) return 0;
      snprintf(exp, len, "a finite number");
      return 1;
    case DLN_OPTR_POS:
      if (isfinite(x) && x > 0) return 0;
      snprintf(exp, len, integer ? "a positive integer" : "a positive finite number");
      return 1;
    case DLN_OPTR_NONNEG:
      if (isfinite(x) && x >= 0) return 0;
      snprintf(exp, len, integer ? "a non-negative integer" : "a non-negative finite number");
      return 1;
    case DLN_OPTR_MIN:
      if (x >= o->lo && (integer || isfinite(x))) return 0;
      snprintf(exp, len, integer ? "an integer >= %.17g" : "a finite number >= %.17g", o->lo);
      return 1;
    case DLN_OPTR_RANGE:
      if (x >= o->lo && x <= o->hi) return 0;
      snprintf(exp, len, "%s from %.17g to %.17g", integer ? "an integer" : "a number", o->lo, o->hi);
      return 1;
  }
  return 0;
}

int dln_option_validate(const void *base, const dln_option *o, const char *where) {
  DLN_ARGS(base, o);
  if (!where) where = o->name ? o->name : "option";
  char exp[160], msg[320];
  switch (o->type) {
    case DLN_OPT_INT:
    case DLN_OPT_LONG: {
      long x = o->type == DLN_OPT_INT ? *CFIELD(base, o, int) : *CFIELD(base, o, long);
      if (range_fails(o, (double)x, 1, exp, sizeof exp))
        return dln_error(DLN_EINVAL, "%s: expected %s, found %ld", where, exp, x);
      break;
    }
    case DLN_OPT_DOUBLE: {
      double x = *CFIELD(base, o, double);
      if (range_fails(o, x, 0, exp, sizeof exp)) return dln_error(DLN_EINVAL, "%s: expected %s, found %g", where, exp, x);
      break;
    }
    case DLN_OPT_INTLIST:
    case DLN_OPT_DOUBLELIST: {
      void *v;
      int n = list_get(base, o, &v);
      for (int i = 0; i < n; ++i) {
        int integer = o->type == DLN_OPT_INTLIST;
        double x = integer ? ((int *)v)[i] : ((double *)v)[i];
        if (range_fails(o, x, integer, exp, sizeof exp))
          return dln_error(DLN_EINVAL, "%s: expected %s items, found %g at item %d", where, exp, x, i + 1);
      }
      break;
    }
    case DLN_OPT_ENUM: {
      const char *s = *CFIELD(base, o, char *);
      if (!s || !dln_option_allows(o, s)) {
        char al[256];
        return dln_error(DLN_EINVAL, "%s: expected one of %s, found '%s'", where, dln_option_allowed_text(o, al, sizeof al),
                         s ? s : "");
      }
      break;
    }
    default: break;
  }
  if (o->check && o->check(o, (const char *)base + o->offset, msg, sizeof msg))
    return dln_error(DLN_EINVAL, "%s: %s", where, msg);
  return DLN_OK;
}

const char *dln_option_text(const void *base, const dln_option *o, char *buf, size_t len) {
  DLN_ARGS_P(base, o, buf);
  if (len == 0) return (dln_error(DLN_EINVAL, "dln_option_text: len: expected > 0, found 0"), NULL);
  buf[0] = '\0';
  size_t k = 0;
#define PUT(...)                                              \
  do {                                                        \
    int w_ = snprintf(buf + k, len - k, __VA_ARGS__);         \
    if (w_ < 0 || (size_t)w_ >= len - k) return buf;          \
    k += (size_t)w_;                                          \
  } while (0)
  switch (o->type) {
    case DLN_OPT_INT: PUT("%d", *CFIELD(base, o, int)); break;
    case DLN_OPT_LONG: PUT("%ld", *CFIELD(base, o, long)); break;
    case DLN_OPT_U64: PUT("%llu", (unsigned long long)*CFIELD(base, o, uint64_t)); break;
    case DLN_OPT_DOUBLE: PUT("%.17g", *CFIELD(base, o, double)); break;
    case DLN_OPT_BOOL: PUT("%s", *CFIELD(base, o, int) ? "true" : "false"); break;
    case DLN_OPT_STRING:
    case DLN_OPT_ENUM: PUT("%s", *CFIELD(base, o, char *) ? *CFIELD(base, o, char *) : ""); break;
    case DLN_OPT_INTLIST: {
      const dln_ilist *l = CFIELD(base, o, dln_ilist);
      for (int i = 0; i < l->n; ++i) PUT("%s%d", i ? "," : "", l->v[i]);
      break;
    }
    case DLN_OPT_DOUBLELIST: {
      const dln_dlist *l = CFIELD(base, o, dln_dlist);
      for (int i = 0; i < l->n; ++i) PUT("%s%.17g", i ? "," : "", l->v[i]);
      break;
    }
    case DLN_OPT_STRLIST: {
      const dln_slist *l = CFIELD(base, o, dln_slist);
      for (int i = 0; i < l->n; ++i) PUT("%s%s", i ? "," : "", l->v[i]);
      break;
    }
  }
#undef PUT
  return buf;
}

/* ---- whole tables ---------------------------------------------------------------- */

int dln_options_count(const dln_option *rows) {
  int n = 0;
  while (rows && rows[n].name) ++n;
  return n;
}

static int nrows(const dln_option *rows, int n) { return n < 0 ? dln_options_count(rows) : n; }

void dln_options_free(void *base, const dln_option *rows, int n) {
  if (!rows && n > 0) return;
  if (!base) return;
  n = nrows(rows, n);
  for (int i = 0; i < n; ++i) dln_option_clear(base, &rows[i]);
}

int dln_options_default(void *base, const dln_option *rows, int n) {
  if (n > 0 || base) DLN_ARGS(base, rows);
  n = nrows(rows, n);
  for (int i = 0; i < n; ++i) {
    char where[96];
    snprintf(where, sizeof where, "default of \"%s\"", rows[i].name);
    int st = dln_option_set(base, &rows[i], rows[i].defval ? rows[i].defval : "", where);
    if (st) {
      dln_options_free(base, rows, n);
      return st;
    }
  }
  return DLN_OK;
}

int dln_options_copy(void *dst, const void *src, const dln_option *rows, int n) {
  if (n > 0 || rows) DLN_ARGS(dst, src, rows);
  n = nrows(rows, n);
  for (int i = 0; i < n; ++i) /* detach dst's pointers before anything can fail */
    if (rows[i].type == DLN_OPT_STRING || rows[i].type == DLN_OPT_ENUM) *FIELD(dst, &rows[i], char *) = NULL;
    else list_put(dst, &rows[i], 0, NULL);
  for (int i = 0; i < n; ++i)
    if (dln_option_copy(dst, src, &rows[i])) {
      dln_options_free(dst, rows, n);
      return dln_error(DLN_ENOMEM, "out of memory copying options");
    }
  return DLN_OK;
}

int dln_options_validate(const void *base, const dln_option *rows, int n) {
  if (n > 0 || base) DLN_ARGS(base, rows);
  n = nrows(rows, n);
  for (int i = 0; i < n; ++i) {
    char where[96];
    snprintf(where, sizeof where, "field \"%s\"", rows[i].name);
    int st = dln_option_validate(base, &rows[i], where);
    if (st) return st;
  }
  return DLN_OK;
}
