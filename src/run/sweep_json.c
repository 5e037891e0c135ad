/* The "sweep" object of a JSON spec (dln/ensemble.h): axes of values or integer ranges
 * and explicit runs of overrides, each value type-checked and parsed like the option it
 * sweeps (the same rows as `dln run`). */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "dln/ensemble.h"
#include "dln/error.h"
#include "dln/spec.h"
#include "run/spec_internal.h"

/* ---- the "sweep" object (dln/ensemble.h) ------------------------------------------ */

/* The option that types a swept name, or NULL with the error recorded. */
static const dln_spec_option *sweep_option(const char *key, const char *where) {
  const char *why;
  const dln_spec_option *o = dln_spec_sweep_option(key, &why);
  if (!o) dln_error(DLN_ESPEC, "%s: %s", where, why);
  return o;
}

/* One JSON value of a swept option to option text, type-checked and parsed like the
 * option itself (on a scratch spec); doubles in the shortest text that reads back. */
static int sweep_value_text(dln_spec *scratch, const dln_spec_option *o, const json_t *v, const char *where, char **text) {
  int st = dln_json_to_option_text(o, v, text, where);
  if (st) return DLN_ESPEC;
  if (o->type == DLN_OPT_DOUBLE) {
    double x = json_number_value(v);
    char b[40];
    for (int p = 1; p <= 17; ++p) {
      snprintf(b, sizeof b, "%.*g", p, x);
      if (strtod(b, NULL) == x) break;
    }
    char *t = strdup(b);
    if (!t) return dln_error(DLN_ENOMEM, "out of memory");
    free(*text);
    *text = t;
  }
  if ((st = dln_spec_set_text(scratch, o, *text, where))) {
    free(*text);
    *text = NULL;
    return DLN_ESPEC;
  }
  return DLN_OK;
}

/* {"from": a, "count": n[, "step": s]} of an integer option: a, a + s, ..., a + (n − 1)s. */
static int sweep_range_json(dln_sweep *sw, const dln_spec_option *o, const char *key, const json_t *v, const char *where) {
  char shown[96];
  if (o->type != DLN_OPT_INT && o->type != DLN_OPT_LONG && o->type != DLN_OPT_U64)
    return dln_error(DLN_ESPEC, "%s: expected a non-empty list of values ({\"from\", \"count\"} ranges are for integer fields, {\"from\", \"to\", \"count\"} for real fields), found %s",
                     where, dln_json_show(v, shown, sizeof shown));
  const char *k;
  json_t *e;
  json_object_foreach((json_t *)v, k, e) {
    if (strcmp(k, "from") && strcmp(k, "count") && strcmp(k, "step"))
      return dln_error(DLN_ESPEC, "%s: unknown range key \"%s\" (expected from, count, step%s)", where, dln_spec_clip(k, shown, sizeof shown),
                       strcmp(k, "scale") ? "" : "; a scale needs {\"from\", \"to\", \"count\"}");
  }
  const json_t *jf = json_object_get(v, "from"), *jc = json_object_get(v, "count"), *js = json_object_get(v, "step");
  if (!json_is_integer(jf) || !json_is_integer(jc) || json_integer_value(jc) < 1 || (js && !json_is_integer(js)))
    return dln_error(DLN_ESPEC, "%s: expected {\"from\": integer, \"count\": integer >= 1[, \"step\": integer]}, found %s",
                     where, dln_json_show(v, shown, sizeof shown));
  long long from = json_integer_value(jf), count = json_integer_value(jc), step = js ? json_integer_value(js) : 1;
  if (step == 0 && count > 1) /* count copies of one value: the same run repeated, not a sweep */
    return dln_error(DLN_ESPEC, "%s: expected a non-zero step for count %lld, found step 0 (every run would use %lld)", where,
                     count, from);
  if (count > DLN_SWEEP_MAXRUNS)
    return dln_error(DLN_ESPEC, "%s: expected a count of at most %ld, found %lld", where, DLN_SWEEP_MAXRUNS, count);
  long double last = (long double)from + (long double)(count - 1) * (long double)step;
  long double lo = o->type == DLN_OPT_U64 ? 0 : o->type == DLN_OPT_INT ? INT_MIN : LONG_MIN;
  long double hi = o->type == DLN_OPT_INT ? INT_MAX : LLONG_MAX;
  if ((long double)from < lo || (long double)from > hi || last < lo || last > hi)
    return dln_error(DLN_ESPEC, "%s: range from %lld, count %lld, step %lld leaves the range of %s", where, from, count,
                     step, dln_option_type_expect(o->row));
  int st = dln_sweep_add_range(sw, key, (int64_t)from, (long)count, (int64_t)step);
  return st ? DLN_ESPEC : DLN_OK;
}

/* {"from": a, "to": b, "count": n[, "scale": "linear" | "log"]} of a real option, both
 * ends included, computed as numpy does (so np.linspace / np.geomspace give the same
 * doubles): linear x_i = a + i·((b − a)/(n − 1)); log x_i = 10^(la + i·((lb − la)/(n − 1)))
 * with la = log10 a, lb = log10 b (a, b > 0); x_0 = a and x_{n−1} = b exactly. The values
 * are kept as the shortest text that reads back to the same double (≤ 17 digits). For an
 * integer option (integer a, b), each x_i rounded half to even (nearbyint = np.rint); values
 * that round to the same integer are refused. */
static int sweep_span_json(dln_sweep *sw, dln_spec *scratch, const dln_spec_option *o, const char *key, const json_t *v,
                           const char *where) {
  char shown[96];
  const char *k;
  json_t *e;
  json_object_foreach((json_t *)v, k, e) {
    if (strcmp(k, "from") && strcmp(k, "to") && strcmp(k, "count") && strcmp(k, "scale"))
      return dln_error(DLN_ESPEC, "%s: unknown range key \"%s\" (expected from, to, count, scale)", where, dln_spec_clip(k, shown, sizeof shown));
  }
  const json_t *jf = json_object_get(v, "from"), *jt = json_object_get(v, "to"), *jc = json_object_get(v, "count"),
               *js = json_object_get(v, "scale");
  const char *scale = js ? json_string_value(js) : "linear";
  if (!json_is_number(jf) || !json_is_number(jt) || !json_is_integer(jc) || !scale || (strcmp(scale, "linear") && strcmp(scale, "log")))
    return dln_error(DLN_ESPEC, "%s: expected {\"from\": number, \"to\": number, \"count\": integer[, \"scale\": \"linear\" or \"log\"]}, found %s",
                     where, dln_json_show(v, shown, sizeof shown));
  double a = json_number_value(jf), b = json_number_value(jt);
  long long n = json_integer_value(jc);
  int lg = strcmp(scale, "log") == 0;
  if (n < 2 || n > DLN_SWEEP_MAXRUNS)
    return dln_error(DLN_ESPEC, "%s: expected a count in 2..%ld (both ends are values; one value is a list), found %lld", where, DLN_SWEEP_MAXRUNS, n);
  if (!isfinite(a) || !isfinite(b) || a == b)
    return dln_error(DLN_ESPEC, "%s: expected finite from != to, found from %.17g, to %.17g", where, a, b);
  if (lg && !(a > 0 && b > 0))
    return dln_error(DLN_ESPEC, "%s: expected from > 0 and to > 0 for scale log, found from %.17g, to %.17g", where, a, b);
  int integer = o->type != DLN_OPT_DOUBLE;
  if (integer && (!json_is_integer(jf) || !json_is_integer(jt)))
    return dln_error(DLN_ESPEC, "%s: expected integer from and to for an integer field, found from %.17g, to %.17g", where, a, b);
  double x0 = lg ? log10(a) : a, step = ((lg ? log10(b) : b) - x0) / (double)(n - 1);
  char **vals = calloc((size_t)n, sizeof *vals);
  if (!vals) return dln_error(DLN_ENOMEM, "out of memory");
  int st = DLN_OK;
  double prev = 0;
  for (long long i = 0; i < n && !st; ++i) {
    double y = (double)i * step + x0, x = i == 0 ? a : i == n - 1 ? b : lg ? pow(10.0, y) : y;
    char wi[640];
    snprintf(wi, sizeof wi, "%.600s value %lld", where, i + 1);
    if (integer && (x = nearbyint(x), i > 0 && x == prev)) {
      st = dln_error(DLN_ESPEC, "%s: expected distinct integers, found %.17g twice (values %lld and %lld round to it): fewer values or a wider range",
                     where, x, i, i + 1);
      break;
    }
    prev = x;
    json_t *jx = integer ? json_integer((json_int_t)x) : json_real(x);
    st = jx ? sweep_value_text(scratch, o, jx, wi, &vals[i]) : dln_error(DLN_ENOMEM, "out of memory");
    json_decref(jx);
  }
  if (!st) st = dln_sweep_add_axis(sw, key, (int)n, (const char *const *)vals);
  for (long long i = 0; i < n; ++i) free(vals[i]);
  free(vals);
  return st ? (st == DLN_ENOMEM ? st : DLN_ESPEC) : DLN_OK;
}

static int sweep_axis_json(dln_sweep *sw, dln_spec *scratch, const char *key, const json_t *v, const char *where) {
  char shown[96];
  const dln_spec_option *o = sweep_option(key, where);
  if (!o) return DLN_ESPEC;
  if (json_is_object(v)) {
    int integer = o->type == DLN_OPT_INT || o->type == DLN_OPT_LONG || o->type == DLN_OPT_U64;
    if (o->type == DLN_OPT_DOUBLE || (integer && json_object_get(v, "to"))) return sweep_span_json(sw, scratch, o, key, v, where);
    return sweep_range_json(sw, o, key, v, where);
  }
  if (!json_is_array(v) || json_array_size(v) == 0)
    return dln_error(DLN_ESPEC, "%s: expected a non-empty list of values or a range {\"from\": a, \"count\": n} (integers) or {\"from\": a, \"to\": b, \"count\": n} (reals), found %s", where,
                     dln_json_show(v, shown, sizeof shown));
  size_t n = json_array_size(v);
  if (n > (size_t)DLN_SWEEP_MAXRUNS)
    return dln_error(DLN_ESPEC, "%s: expected at most %ld values, found %zu", where, DLN_SWEEP_MAXRUNS, n);
  char **vals = calloc(n, sizeof *vals);
  if (!vals) return dln_error(DLN_ENOMEM, "out of memory");
  int st = DLN_OK;
  for (size_t i = 0; i < n && !st; ++i) {
    char wi[640];
    snprintf(wi, sizeof wi, "%.600s item %zu", where, i + 1);
    st = sweep_value_text(scratch, o, json_array_get(v, i), wi, &vals[i]);
  }
  if (!st) st = dln_sweep_add_axis(sw, key, (int)n, (const char *const *)vals);
  for (size_t i = 0; i < n; ++i) free(vals[i]);
  free(vals);
  return st ? DLN_ESPEC : DLN_OK;
}

static int sweep_runs_json(dln_sweep *sw, dln_spec *scratch, const json_t *v, const char *name, const char *text, size_t len,
                           size_t cursor, const char *where) {
  char shown[96];
  if (!json_is_array(v) || json_array_size(v) == 0)
    return dln_error(DLN_ESPEC, "%s: expected a non-empty list of objects of overrides, found %s", where,
                     dln_json_show(v, shown, sizeof shown));
  size_t i;
  json_t *r;
  json_array_foreach((json_t *)v, i, r) {
    if (!json_is_object(r))
      return dln_error(DLN_ESPEC, "%s item %zu: expected an object of overrides, found %s", where, i + 1,
                       dln_json_show(r, shown, sizeof shown));
    size_t n = json_object_size(r), k = 0;
    char **names = calloc(n ? n : 1, sizeof *names), **vals = calloc(n ? n : 1, sizeof *vals);
    int st = names && vals ? DLN_OK : dln_error(DLN_ENOMEM, "out of memory");
    const char *key;
    json_t *e;
    json_object_foreach(r, key, e) {
      if (st) break;
      size_t off = dln_json_find_key(text, len, cursor, key);
      if (off < len) cursor = off + strlen(key) + 2;
      int line, col;
      dln_json_offset_pos(text, len, off, &line, &col);
      char wk[600], cb[96];
      snprintf(wk, sizeof wk, "%s:%d:%d: sweep field \"runs\" item %zu, \"%s\"", name, line, col, i + 1, dln_spec_clip(key, cb, sizeof cb));
      const dln_spec_option *o = sweep_option(key, wk);
      if (!o) {
        st = DLN_ESPEC;
        break;
      }
      names[k] = strdup(key);
      if (!names[k]) st = dln_error(DLN_ENOMEM, "out of memory");
      else st = sweep_value_text(scratch, o, e, wk, &vals[k]);
      ++k;
    }
    if (!st) st = dln_sweep_add_run(sw, (int)n, (const char *const *)names, (const char *const *)vals);
    for (size_t j = 0; j < k; ++j) free(names[j]), free(vals[j]);
    free(names);
    free(vals);
    if (st) return st == DLN_ENOMEM ? st : DLN_ESPEC;
  }
  return DLN_OK;
}

int dln_sweep_from_json_string(dln_sweep *sw, const char *name, const char *text) {
  if (!sw || !text) return dln_error(DLN_EINVAL, "dln_sweep_from_json_string: NULL argument");
  if (!name) name = "<string>";
  size_t len = strlen(text);
  int st;
  json_t *root = dln_json_load_object(name, text, len, &st);
  if (!root) return st;
  sw->plot = json_is_true(json_object_get(root, "plot")); /* the spec's default (true) is for dln run */
  dln_spec scratch;
  int have_scratch = 0;
  char shown[96];
  const json_t *s = json_object_get(root, "sweep");
  if (!s) goto done;
  size_t soff = dln_json_find_key(text, len, 0, "sweep");
  int line, col;
  dln_json_offset_pos(text, len, soff, &line, &col);
  if (!json_is_object(s)) {
    st = dln_error(DLN_ESPEC, "%s:%d:%d: field \"sweep\": expected an object of swept options, found %s", name, line, col,
                   dln_json_show(s, shown, sizeof shown));
    goto done;
  }
  if ((st = dln_spec_default(&scratch))) goto done;
  have_scratch = 1;
  const char *key;
  json_t *v;
  json_object_foreach((json_t *)s, key, v) {
    size_t from = soff < len ? soff + strlen("sweep") + 2 : len;
    size_t off = dln_json_find_key(text, len, from, key);
    dln_json_offset_pos(text, len, off, &line, &col);
    char where[600], cb[96];
    snprintf(where, sizeof where, "%s:%d:%d: sweep field \"%s\"", name, line, col, dln_spec_clip(key, cb, sizeof cb));
    if (strcmp(key, "runs") == 0) st = sweep_runs_json(sw, &scratch, v, name, text, len, off < len ? off + strlen(key) + 2 : from, where);
    else st = sweep_axis_json(sw, &scratch, key, v, where);
    if (st) {
      /* keep the message, give it the position when the library check produced it */
      if (strncmp(dln_last_error(), name, strlen(name)) != 0) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", dln_last_error());
        st = dln_error(st, "%s: %s", where, msg);
      }
      goto done;
    }
    sw->axes[sw->naxes - 1].line = line;
    sw->axes[sw->naxes - 1].col = col;
  }
done:
  if (have_scratch) dln_spec_free(&scratch);
  json_decref(root);
  return st;
}

int dln_sweep_from_json_file(dln_sweep *sw, const char *path) {
  if (!sw || !path) return dln_error(DLN_EINVAL, "dln_sweep_from_json_file: NULL argument");
  char *buf = NULL;
  int st = dln_json_read_text(path, &buf);
  if (!st) st = dln_sweep_from_json_string(sw, path, buf);
  free(buf);
  return st;
}

