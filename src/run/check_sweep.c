/* `dln check` on a folder of several runs (dln/check.h; docs/check.md):
 *   - a sweep (ensemble.json, ensemble.csv, data/<i>/; src/run/ensemble_out.c): the
 *     manifest, every CSV row well-formed (field count, a known run, finite t, no NaN loss
 *     in a run that did not diverge), the rows per run = its "rows" in ensemble.json, its
 *     last row = its "final" values;
 *   - the default job (summary.json with "runs") and any subfolder with a summary.json
 *     (rerun/<k>, the default job's runs): dln_check_folder, one row per run. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "dln/error.h"
#include "dln/io.h"
#include "io/json_util.h"
#include "run/check_internal.h"

#define R_CSV "ensemble.csv vs ensemble.json"
#define MAX_RUN_ROWS 40 /* failing runs listed one by one; the rest are counted */

/* The sweep summaries of dir: ensemble.json, ensemble.shard<i>of<N>.json. */
static int is_sweep_json(const char *name) {
  size_t n = strlen(name);
  return strncmp(name, "ensemble", 8) == 0 && n > 5 && strcmp(name + n - 5, ".json") == 0;
}

static int has_sweep(const char *dir) {
  DIR *d = opendir(dir);
  int found = 0;
  for (struct dirent *e; d && !found && (e = readdir(d));) found = is_sweep_json(e->d_name) && dln_chk_is_file(dir, e->d_name);
  if (d) closedir(d);
  return found;
}

int dln_chk_is_multi(const char *dir) {
  if (has_sweep(dir)) return 1;
  char *p = dln_path_join(dir, "summary.json");
  int st = DLN_OK;
  json_t *root = p ? dln_json_load_input(p, 0, NULL, &st) : NULL; /* a FIFO: refused later by the summary's reader */
  int multi = root && json_is_array(json_object_get(root, "runs"));
  json_decref(root);
  free(p);
  return multi;
}

/* Split a CSV line in place (quotes "..." with "" escapes); returns the field count. */
static int csv_split(char *s, char **f, int cap) {
  int n = 0;
  char *w = s;
  for (;;) {
    if (n < cap) f[n] = w;
    ++n;
    int q = *s == '"';
    if (q) ++s;
    for (; *s; ++s) {
      if (q && *s == '"' && s[1] == '"') *w++ = '"', ++s;
      else if (q && *s == '"') q = 0;
      else if (!q && *s == ',') break;
      else *w++ = *s;
    }
    int more = *s == ',';
    *w++ = '\0';
    if (!more) return n;
    ++s;
  }
}

/* Per run of ensemble.json: what the CSV must hold. */
typedef struct sweep_run {
  long rows, seen;
  int listed, diverged, bad; /* listed: in ensemble.json (a shard lists only its runs) */
  double t, loss;   /* final values */
  double last_t, last_loss;
} sweep_run;

static int col_index(char **names, int n, const char *name) {
  for (int i = 0; i < n; ++i)
    if (strcmp(names[i], name) == 0) return i;
  return -1;
}

static void run_fail(dln_check_report *rep, const char *csv, int *nlisted, long k, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void run_fail(dln_check_report *rep, const char *csv, int *nlisted, long k, const char *fmt, ...) {
  if (++*nlisted > MAX_RUN_ROWS) return;
  char what[160];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  dln_chk_add_integrity(rep, R_CSV, csv, 0, NAN, NAN, "run %ld: %s", k, what);
}

/* The rows of ensemble.csv against the runs of ensemble.json. */
static void sweep_csv(dln_check_report *rep, const char *dir, const char *csvname, sweep_run *runs, long nruns) {
  char *path = dln_path_join(dir, csvname);
  FILE *fp = NULL;
  if (path && dln_input_open(path, &fp)) fp = NULL; /* a FIFO, folder or device counts as unreadable */
  free(path);
  if (!fp) { dln_chk_add_integrity(rep, R_CSV, csvname, 0, 0, 1, "missing or unreadable (ensemble.json lists %ld runs)", nruns); return; }
  char *line = NULL, *head = NULL, **hn = NULL, **f = NULL;
  size_t cap = 0;
  long lineno = 1, total = 0;
  int nh = 0, ct = -1, cl = -1, bad = 0, nlisted = 0;
  if (getline(&line, &cap, fp) > 0) {
    line[strcspn(line, "\r\n")] = '\0';
    head = strdup(line);
    nh = head ? csv_split(line, NULL, 0) : 0; /* counts (and cuts) line; head is split below */
    hn = calloc((size_t)nh + 1, sizeof *hn);
    f = calloc((size_t)nh + 1, sizeof *f);
    if (hn && f) csv_split(head, hn, nh), ct = col_index(hn, nh, "t"), cl = col_index(hn, nh, "loss");
  }
  if (!hn || !f || nh < 1 || strcmp(hn[0], "run") != 0) {
    dln_chk_add_integrity(rep, R_CSV, csvname, 0, 0, 1, "line 1: expected a header starting with \"run\"");
    bad = 1;
  }
  while (!bad && getline(&line, &cap, fp) > 0) {
    ++lineno;
    line[strcspn(line, "\r\n")] = '\0';
    int n = csv_split(line, f, nh + 1);
    char *e = NULL;
    long k = n == nh ? strtol(f[0], &e, 10) : -1;
    if (n != nh || !e || *e || k < 0 || k >= nruns || !runs[k].listed) {
      dln_chk_add_integrity(rep, R_CSV, csvname, 0, nh, n, "line %ld: garbled row (%d fields, expected %d; run \"%.20s\")", lineno, n,
                            nh, n ? f[0] : "");
      bad = 1;
      break;
    }
    sweep_run *r = &runs[k];
    double t = ct >= 0 ? strtod(f[ct], &e) : 0, L = cl >= 0 && f[cl][0] ? strtod(f[cl], NULL) : NAN;
    ++r->seen, ++total;
    if (!r->bad && (ct >= 0 && (!isfinite(t) || (r->seen > 1 && !(t > r->last_t)))))
      r->bad = 1, run_fail(rep, csvname, &nlisted, k, "t = %.17g after %.17g: not finite and increasing", t, r->last_t);
    else if (!r->bad && cl >= 0 && isnan(L) && !r->diverged)
      r->bad = 1, run_fail(rep, csvname, &nlisted, k, "a NaN or empty loss (line %ld) in a run that did not diverge", lineno);
    r->last_t = t, r->last_loss = L;
  }
  fclose(fp);
  for (long k = 0; k < nruns && !bad; ++k) {
    sweep_run *r = &runs[k];
    if (r->bad) continue;
    if (r->seen != r->rows) r->bad = 1, run_fail(rep, csvname, &nlisted, k, "%ld rows in ensemble.json, %ld in ensemble.csv", r->rows, r->seen);
    else if (r->rows && isfinite(r->t) && r->last_t != r->t) r->bad = 1, run_fail(rep, csvname, &nlisted, k, "final t %.17g in ensemble.json, last row %.17g", r->t, r->last_t);
    else if (r->rows && isfinite(r->loss) && !(fabs(r->last_loss - r->loss) <= 1e-12 * fabs(r->loss)))
      r->bad = 1, run_fail(rep, csvname, &nlisted, k, "final loss %.17g in ensemble.json, last row %.17g", r->loss, r->last_loss);
  }
  if (nlisted > MAX_RUN_ROWS)
    dln_chk_add_integrity(rep, R_CSV, csvname, 0, 0, nlisted, "and %d more failing runs", nlisted - MAX_RUN_ROWS);
  if (!bad && !nlisted)
    dln_chk_add_integrity(rep, R_CSV, "", 1, (double)total, (double)total, "%s: %ld rows agree with the runs of its summary", csvname, total);
  free(line), free(head), free(hn), free(f);
}

/* A sweep summary (ensemble.json or a shard's): its runs against its CSV. */
static void sweep_files(dln_check_report *rep, const char *dir, const char *name) {
  char *path = dln_path_join(dir, name);
  json_error_t err = {.text = "out of memory"};
  int st = DLN_OK;
  json_t *root = path ? dln_json_load_input(path, 0, &err, &st) : NULL, *runs = json_object_get(root, "runs");
  free(path);
  if (!json_is_array(runs)) {
    dln_chk_add_integrity(rep, R_CSV, name, 0, 0, 1, "expected JSON with a \"runs\" array (%s)", root ? "no runs" : err.text);
    json_decref(root);
    return;
  }
  long n = (long)json_array_size(runs);
  size_t i;
  json_t *e, *nr = json_object_get(root, "nruns");
  if (json_is_integer(nr) && json_integer_value(nr) > n && json_integer_value(nr) < (1L << 30)) n = (long)json_integer_value(nr);
  sweep_run *r = calloc((size_t)(n ? n : 1), sizeof *r);
  json_array_foreach(runs, i, e) {
    if (!r) break;
    json_t *k = json_object_get(e, "run"), *fin = json_object_get(e, "final"), *x;
    long j = json_is_integer(k) ? (long)json_integer_value(k) : (long)i;
    if (j < 0 || j >= n) continue;
    r[j].listed = 1;
    r[j].rows = json_integer_value(json_object_get(e, "rows"));
    x = json_object_get(e, "stop_reason");
    r[j].diverged = json_is_string(x) && (strcmp(json_string_value(x), "diverged") == 0 || strcmp(json_string_value(x), "solver") == 0);
    x = json_object_get(fin, "t");
    r[j].t = json_is_number(x) ? json_number_value(x) : NAN;
    x = json_object_get(fin, "loss");
    r[j].loss = json_is_number(x) ? json_number_value(x) : NAN;
  }
  json_t *csv = json_object_get(root, "csv");
  if (r && json_is_string(csv)) { /* the CSV's path as the sweep wrote it: its file name in dir */
    const char *c = json_string_value(csv), *slash = strrchr(c, '/');
    sweep_csv(rep, dir, slash ? slash + 1 : c, r, n);
  }
  free(r);
  json_decref(root);
}

/* One row per run subfolder (dir/<name>/summary.json, dir/rerun/<k>/summary.json). */
static void check_sub(dln_check_report *rep, const char *dir, const char *name, const dln_check_options *opt) {
  char *p = dln_path_join(dir, name);
  if (!p || !dln_chk_is_file(p, "summary.json")) { free(p); return; }
  dln_check_report sub;
  int st = dln_check_folder(p, opt, &sub);
  dln_check_item *it = dln_chk_item_new(rep, "run subfolder", "dln check");
  if (it) {
    snprintf(it->file, sizeof it->file, "%.63s", name);
    snprintf(it->v.hypotheses, sizeof it->v.hypotheses, "run folder %.200s", name);
    it->v.applicable = 1;
    it->v.measured = sub.nviolated + sub.ninconsistent;
    it->v.holds = !st && !sub.nviolated && !sub.ninconsistent;
    it->integrity = st || sub.ninconsistent;
    const dln_check_item *first = NULL;
    for (size_t i = 0; i < sub.n && !first; ++i)
      if (sub.items[i].v.applicable && !sub.items[i].v.holds) first = &sub.items[i];
    if (st) snprintf(it->v.message, sizeof it->v.message, "INCONSISTENT: %.40s: %.180s", name, dln_last_error());
    else if (first)
      snprintf(it->v.message, sizeof it->v.message, "%s: %.40s: %d violated, %d inconsistent; first: %.60s: %.100s", it->integrity ? "INCONSISTENT" : "VIOLATED",
               name, sub.nviolated, sub.ninconsistent, first->v.result, first->v.message);
    else snprintf(it->v.message, sizeof it->v.message, "holds: %.40s: %d applicable results hold", name, sub.nholds);
  }
  dln_check_report_free(&sub);
  free(p);
}

static int cmp_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The run subfolders in name order (rerun/<k> one level down). */
static void check_subfolders(dln_check_report *rep, const char *dir, const char *under, const dln_check_options *opt) {
  char *base = under ? dln_path_join(dir, under) : strdup(dir);
  DIR *d = base ? opendir(base) : NULL;
  char **names = NULL;
  size_t n = 0, cap = 0;
  for (struct dirent *e; d && (e = readdir(d));) {
    if (e->d_name[0] == '.') continue;
    if (n == cap) {
      char **nn = realloc(names, (cap = cap ? 2 * cap : 16) * sizeof *nn);
      if (!nn) break;
      names = nn;
    }
    char name[600];
    snprintf(name, sizeof name, "%s%s%s", under ? under : "", under ? "/" : "", e->d_name);
    if (!(names[n] = strdup(name))) break;
    ++n;
  }
  if (d) closedir(d);
  if (n) qsort(names, n, sizeof *names, cmp_name);
  for (size_t i = 0; i < n; ++i) {
    if (!under && strcmp(names[i], "rerun") == 0) check_subfolders(rep, dir, "rerun", opt);
    else check_sub(rep, dir, names[i], opt);
    free(names[i]);
  }
  free(names);
  free(base);
}

/* manifest.json of the folder against the summary that names the run id (ensemble.json,
 * else summary.json; a shard's folder has none). */
static void multi_manifest(dln_check_report *rep, const char *dir) {
  static const char *const need_sweep[] = {"ensemble.json", "ensemble.csv", NULL}, *const need_job[] = {"summary.json", NULL};
  const char *sum = dln_chk_is_file(dir, "ensemble.json") ? "ensemble.json" : dln_chk_is_file(dir, "summary.json") ? "summary.json" : NULL;
  static const char *const none[] = {NULL};
  json_t *root = NULL;
  if (sum) {
    char *p = dln_path_join(dir, sum);
    int st = DLN_OK;
    root = p ? dln_json_load_input(p, 0, NULL, &st) : NULL;
    free(p);
  }
  json_t *id = json_object_get(root, "run_id"), *cpl = json_object_get(root, "complete");
  dln_chk_manifest_dir(rep, dir, sum ? sum : "ensemble.json", json_is_string(id) ? json_string_value(id) : "",
                       json_is_boolean(cpl) ? json_is_true(cpl) : -1,
                       !sum ? none : strcmp(sum, "ensemble.json") == 0 ? need_sweep : need_job);
  json_decref(root);
}

int dln_chk_multi(const char *dir, const dln_check_options *opt, dln_check_report *rep) {
  snprintf(rep->method, sizeof rep->method, "%s", has_sweep(dir) ? "sweep" : "several runs");
  multi_manifest(rep, dir);
  DIR *d = opendir(dir);
  for (struct dirent *e; d && (e = readdir(d));)
    if (is_sweep_json(e->d_name) && dln_chk_is_file(dir, e->d_name)) sweep_files(rep, dir, e->d_name);
  if (d) closedir(d);
  check_subfolders(rep, dir, NULL, opt);
  dln_chk_tally(rep);
  return DLN_OK;
}

/* The public entry: a run folder or a folder of several runs. */
int dln_check_folder(const char *dir, const dln_check_options *opt, dln_check_report *rep) {
  if (!rep) return dln_error(DLN_EINVAL, "dln_check_folder: report must not be NULL");
  memset(rep, 0, sizeof *rep);
  if (!dir) return dln_error(DLN_EINVAL, "dln_check_folder: folder must not be NULL");
  snprintf(rep->dir, sizeof rep->dir, "%s", dir);
  dln_check_options o;
  dln_check_default_options(&o);
  if (opt) o = *opt;
  if (!(o.slack > 0)) o.slack = 1e4;
  struct stat sb;
  if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
    return dln_error(DLN_EIO, "%s: expected a run folder, found %s", dir, errno == ENOENT ? "no such folder" : "not a folder");

  /* a sweep or the default job: its files, then each run subfolder; else one run */
  return dln_chk_is_multi(dir) ? dln_chk_multi(dir, &o, rep) : dln_chk_run(dir, &o, rep);
}
