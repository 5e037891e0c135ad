/* libFuzzer harness for the JSON spec reader (src/run/spec_json.c) and the "sweep" object
 * reader (src/run/sweep_json.c). Properties checked on every input:
 *  - a failure returns DLN_ESPEC/DLN_ENOMEM with a non-empty message naming the source;
 *  - a parsed spec goes through dln_spec_check (pass or fail with a message), and its
 *    echo (dln_spec_to_json, as in summary.json) reads back to the same echo;
 *  - every value of a parsed sweep is accepted by the option it sweeps, and the same
 *    axes rebuilt through the public dln_sweep_add_* give the same number of runs.
 * Build: cmake -DDLN_FUZZ=ON with CC=clang, or scripts/fuzz.sh. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "dln/ensemble.h"
#include "dln/error.h"
#include "dln/spec.h"
#include "run/run_internal.h"
#include "run/spec_internal.h"
#include "fuzz.h"

static void check_failure(int st) {
  FZ_REQUIRE(st == DLN_ESPEC || st == DLN_ENOMEM, "reader failure status is DLN_ESPEC or DLN_ENOMEM");
  FZ_REQUIRE(dln_last_error()[0] != '\0', "a failure sets a message");
  FZ_REQUIRE(st == DLN_ENOMEM || strstr(dln_last_error(), "fuzz.json") != NULL, "the message names the source");
}

/* The echo read back key by key through the reader's own conversion (dln_json_to_option_text
 * + dln_spec_set_text); the whole reader (which also locates every key: quadratic in the
 * ~190 keys of an echo) only when `full`, to keep the fuzzer fast. */
static int read_echo(dln_spec *b, const json_t *ja, const char *text, int full) {
  if (full) return dln_spec_from_json_string(b, "echo.json", text);
  const char *key;
  json_t *v;
  json_object_foreach((json_t *)ja, key, v) {
    const dln_spec_option *o = dln_spec_find(key);
    FZ_REQUIRE(o != NULL, "an echo key is an option");
    char *t = NULL;
    int st = dln_json_to_option_text(o, v, &t, key);
    if (!st) st = dln_spec_set_text(b, o, t, key);
    free(t);
    if (st) return st;
  }
  return DLN_OK;
}

/* spec -> echo -> read -> echo gives the same echo. */
static void check_echo(const dln_spec *a, int full) {
  json_t *ja = dln_spec_to_json(a);
  FZ_REQUIRE(ja != NULL, "echo of a parsed spec");
  char *text = json_dumps(ja, JSON_COMPACT | JSON_REAL_PRECISION(17));
  FZ_REQUIRE(text != NULL, "echo dumps");
  dln_spec b;
  FZ_REQUIRE(dln_spec_default(&b) == DLN_OK, "defaults");
  int st = read_echo(&b, ja, text, full);
  if (st) fprintf(stderr, "echo: %s\n  %s\n", dln_last_error(), text);
  FZ_REQUIRE(st == DLN_OK, "the echo of a parsed spec reads back");
  json_t *jb = dln_spec_to_json(&b);
  if (jb && !json_equal(ja, jb)) {
    char *tb = json_dumps(jb, JSON_COMPACT | JSON_REAL_PRECISION(17));
    fprintf(stderr, "echo:   %s\nreread: %s\n", text, tb ? tb : "?");
    free(tb);
  }
  FZ_REQUIRE(jb != NULL && json_equal(ja, jb), "echo -> read -> echo is the same echo");
  json_decref(jb);
  dln_spec_free(&b);
  free(text);
  json_decref(ja);
}

static void check_spec(const char *text, int full) {
  dln_spec a;
  FZ_REQUIRE(dln_spec_default(&a) == DLN_OK, "defaults");
  dln_error_clear();
  int st = dln_spec_from_json_string(&a, "fuzz.json", text);
  if (st) {
    check_failure(st);
  } else {
    dln_error_clear();
    if (dln_spec_check(&a) != DLN_OK) FZ_REQUIRE(dln_last_error()[0] != '\0', "a failed check sets a message");
    check_echo(&a, full);
  }
  dln_spec_free(&a);
}

/* Each value accepted by its option; the axes rebuilt by the public API; nruns agree. */
static void check_sweep_values(const dln_sweep *sw) {
  dln_sweep re;
  dln_sweep_init(&re);
  dln_spec s;
  FZ_REQUIRE(dln_spec_default(&s) == DLN_OK, "defaults");
  for (int a = 0; a < sw->naxes; ++a) {
    const dln_sweep_axis *ax = &sw->axes[a];
    FZ_REQUIRE(ax->n >= 1 && ax->key != NULL, "an axis has a key and at least one value");
    int runs = strcmp(ax->key, "runs") == 0;
    char **vals = malloc((size_t)ax->n * sizeof *vals);
    FZ_REQUIRE(vals != NULL, "malloc");
    for (int k = 0; k < ax->n; ++k) {
      const dln_sweep_value *v = &ax->v[k];
      for (int j = 0; j < v->n; ++j) {
        const char *why;
        const dln_spec_option *o = dln_spec_sweep_option(v->names[j], &why);
        FZ_REQUIRE(o != NULL, "a swept name is a sweepable option");
        FZ_REQUIRE(dln_spec_set(&s, o->name, v->values[j]) == DLN_OK, "a swept value is accepted by its option");
      }
      if (runs)
        FZ_REQUIRE(dln_sweep_add_run(&re, v->n, (const char *const *)v->names, (const char *const *)v->values) == DLN_OK,
                   "a run of the sweep is accepted by dln_sweep_add_run");
      else
        vals[k] = v->values[0];
    }
    if (!runs)
      FZ_REQUIRE(dln_sweep_add_axis(&re, ax->key, ax->n, (const char *const *)vals) == DLN_OK,
                 "an axis of the sweep is accepted by dln_sweep_add_axis");
    free(vals);
  }
  FZ_REQUIRE(dln_sweep_nruns(&re) == dln_sweep_nruns(sw), "rebuilt sweep has the same number of runs");
  dln_spec_free(&s);
  dln_sweep_free(&re);
}

static void check_sweep(const char *text) {
  dln_sweep sw;
  dln_sweep_init(&sw);
  dln_error_clear();
  int st = dln_sweep_from_json_string(&sw, "fuzz.json", text);
  if (st) check_failure(st);
  else if (sw.naxes > 0) check_sweep_values(&sw);
  else FZ_REQUIRE(dln_sweep_nruns(&sw) == 1, "a sweep without axes has one run");
  dln_sweep_free(&sw);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 4096) return 0; /* specs are small; long inputs only slow the search */
  char *text = malloc(size + 1);
  if (!text) return 0;
  memcpy(text, data, size);
  text[size] = '\0'; /* the string readers take C strings (the file reader rejects NUL bytes) */
  uint32_t h = 2166136261u; /* FNV-1a: the whole reader reads the echo of 1 input in 16 */
  for (size_t i = 0; i < size; ++i) h = (h ^ data[i]) * 16777619u;
  check_spec(text, fz_replay || (h & 15) == 0);
  check_sweep(text);
  free(text);
  return 0;
}
