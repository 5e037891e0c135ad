/* dln/option.h — option rows: one typed, documented, range-checked option of a module.
 *
 * Every module that has options (a task type, an initialization type, an integrator
 * type, the network, the training driver, the run) declares them as rows of this type,
 * each bound by `offset` to a field of the module's own options struct. The command
 * line, the JSON reader, `--help`, docs/cli.md and the summary echo are all built from
 * the concatenation of these rows (dln/spec.h), so a name, its type, its default, its
 * range check and its help text exist in exactly one place. (SUNDIALS' per-module option
 * tables; GSL's parameter structs.)
 *
 * Defaults are text, parsed by the same setter the command line uses, so
 * dln_options_default() gives a library caller exactly the command line's defaults. */
#ifndef DLN_OPTION_H
#define DLN_OPTION_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum dln_opt_type {
  DLN_OPT_INT = 0,   /* int */
  DLN_OPT_LONG,      /* long */
  DLN_OPT_U64,       /* uint64_t */
  DLN_OPT_DOUBLE,    /* double (non-finite values parse; the range check rejects them) */
  DLN_OPT_BOOL,      /* int 0/1; text: true/false/1/0/yes/no/on/off */
  DLN_OPT_STRING,    /* char * (owned, never NULL after dln_options_default) */
  DLN_OPT_ENUM,      /* char * holding one of the allowed values (or a registered name) */
  DLN_OPT_INTLIST,   /* dln_ilist; text: "10,50,5" or "[10,50,5]" */
  DLN_OPT_DOUBLELIST,/* dln_dlist */
  DLN_OPT_STRLIST    /* dln_slist; JSON: array of strings or one string */
} dln_opt_type;

typedef struct dln_ilist { int n; int *v; } dln_ilist;
typedef struct dln_dlist { int n; double *v; } dln_dlist;
typedef struct dln_slist { int n; char **v; } dln_slist;

/* Range checks of a row (numbers, integers and the items of number lists):
 *   DLN_OPTR_NONE      any finite number (doubles), any integer
 *   DLN_OPTR_POS       > 0 and finite                        "a positive finite number"
 *   DLN_OPTR_NONNEG    ≥ 0 and finite                        "a non-negative finite number"
 *   DLN_OPTR_MIN       ≥ lo (integers)                       "an integer >= lo"
 *   DLN_OPTR_RANGE     lo ≤ x ≤ hi                           "lo to hi"
 *   DLN_OPTR_ANY       no check at all (not even finiteness)
 * A row's `check` callback, when set, runs after the range check for conditions a
 * range cannot say (e.g. "an order of 2, 3, 4, 5, 6 or 8"). */
typedef enum dln_opt_range {
  DLN_OPTR_NONE = 0,
  DLN_OPTR_POS,
  DLN_OPTR_NONNEG,
  DLN_OPTR_MIN,
  DLN_OPTR_RANGE,
  DLN_OPTR_ANY
} dln_opt_range;

typedef struct dln_option dln_option;

/* A row's extra check: 0 if the value at `field` is acceptable, else nonzero with
 * "expected ..., found ..." (no prefix) written into msg. */
typedef int (*dln_option_check_fn)(const dln_option *o, const void *field, char *msg, size_t len);

/* ENUM rows whose values come from a registry: the i-th allowed name, NULL past the end. */
typedef const char *(*dln_option_choice_fn)(int i);

struct dln_option {
  const char *name;           /* unique across all modules: the CLI's --name and the JSON key */
  dln_opt_type type;
  size_t offset;              /* offset of the field in the owner's options struct */
  const char *defval;         /* default as option text ("" = empty list / string) */
  const char *help;           /* one line */
  const char *const *allowed; /* NULL-terminated values of an ENUM (and items of a STRLIST) */
  dln_opt_range range;
  double lo, hi;              /* bounds for DLN_OPTR_MIN / DLN_OPTR_RANGE */
  dln_option_check_fn check;  /* extra condition, or NULL */
  dln_option_choice_fn choice;/* ENUM values from a registry (instead of allowed), or NULL */
};

/* The row that ends a table (name == NULL). */
#define DLN_OPTION_END {NULL, DLN_OPT_INT, 0, NULL, NULL, NULL, DLN_OPTR_NONE, 0, 0, NULL, NULL}

/* Field of row o in the options struct at base. */
#define DLN_OPTION_FIELD(base, o, T) ((T *)(void *)((char *)(base) + (o)->offset))
#define DLN_OPTION_CFIELD(base, o, T) ((const T *)(const void *)((const char *)(base) + (o)->offset))

/* Set row o of the struct at base from text; `where` prefixes messages ("option --eta").
 * DLN_EINVAL for text that does not parse as the row's type or an ENUM value not allowed. */
int dln_option_set(void *base, const dln_option *o, const char *text, const char *where);
/* Free what row o owns (strings, lists) and zero the field. */
void dln_option_clear(void *base, const dln_option *o);
/* dst's field of row o ← a deep copy of src's; dst's field must own nothing yet. DLN_ENOMEM. */
int dln_option_copy(void *dst, const void *src, const dln_option *o);
/* Range, ENUM and extra check of row o; DLN_EINVAL with "<where>: expected ..., found ...". */
int dln_option_validate(const void *base, const dln_option *o, const char *where);
/* The value of row o as text (as dln_option_set would take it), into buf. */
const char *dln_option_text(const void *base, const dln_option *o, char *buf, size_t len);
/* "an integer", "a list of numbers", ... */
const char *dln_option_type_expect(const dln_option *o);
/* The allowed values of an ENUM row as "a|b|c" into buf. */
const char *dln_option_allowed_text(const dln_option *o, char *buf, size_t len);
/* 1 if s is an allowed value of ENUM / STRLIST row o (any value if it lists none). */
int dln_option_allows(const dln_option *o, const char *s); /* 0 for NULL arguments */

/* The n rows at rows (or up to the first row with name == NULL when n < 0) applied
 * to the struct at base: defaults (base is zeroed first by the caller), free, copy,
 * validate. dln_options_default leaves nothing owned on failure. */
int dln_options_default(void *base, const dln_option *rows, int n);
void dln_options_free(void *base, const dln_option *rows, int n);
int dln_options_copy(void *dst, const void *src, const dln_option *rows, int n);
int dln_options_validate(const void *base, const dln_option *rows, int n);
/* Number of rows before the terminating row (name == NULL). */
int dln_options_count(const dln_option *rows); /* 0 for NULL */

#ifdef __cplusplus
}
#endif
#endif
