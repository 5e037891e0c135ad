/* `dln check` (dln/check.h): reading a finished run folder back: summary.json (the
 * resolved spec), the data files the run wrote, W{j}_init.npy / W{j}_final.npy (tied:
 * U_*.npy) and trajectory.csv. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <jansson.h>

#include "dln/error.h"
#include "dln/manifest.h"
#include "dln/task.h"
#include "dln/init.h"
#include "dln/io.h"
#include "dln/net.h"
#include "dln/spec.h"
#include "io/json_util.h"
#include "run/check_internal.h"


/* 1 if dir/name is a regular file. */
int dln_chk_is_file(const char *dir, const char *name) {
  char *p = dln_path_join(dir, name);
  struct stat sb;
  int ok = p && stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
  free(p);
  return ok;
}

/* trajectory.csv: header line for the names, dln_csv_read for the numbers. */
int dln_chk_read_trajectory(const char *dir, dln_table **out) {
  *out = NULL;
  char *path = dln_path_join(dir, "trajectory.csv");
  if (!path) return dln_error(DLN_ENOMEM, "out of memory");
  FILE *fp = NULL;
  struct stat sb;
  int st = stat(path, &sb) != 0
               ? dln_error(DLN_EIO, "%s: cannot read (%s); expected the trajectory of a complete run", path, strerror(errno))
               : dln_input_open(path, &fp); /* a FIFO, folder or device: refused without blocking */
  if (st) {
    free(path);
    return st;
  }
  char *line = NULL;
  size_t cap = 0;
  ssize_t len = getline(&line, &cap, fp);
  fclose(fp);
  int nc = 0;
  char **names = NULL;
  dln_mat *m = NULL;
  if (len <= 0) {
    st = dln_error(DLN_EFORMAT, "%s: expected a header line of column names, found an empty file", path);
    goto done;
  }
  line[strcspn(line, "\r\n")] = '\0';
  nc = 1;
  for (char *c = line; *c; ++c) nc += *c == ',';
  names = calloc((size_t)nc, sizeof *names);
  if (!names) {
    st = dln_error(DLN_ENOMEM, "out of memory");
    goto done;
  }
  {
    int k = 0;
    char *save = NULL;
    for (char *tok = strtok_r(line, ",", &save); tok && k < nc; tok = strtok_r(NULL, ",", &save)) names[k++] = tok;
    if (k != nc || strcmp(names[0], "t") != 0) {
      st = dln_error(DLN_EFORMAT, "%s: line 1: expected a header starting with column \"t\", found \"%s\"", path,
                     k ? names[0] : "");
      goto done;
    }
  }
  if ((st = dln_csv_read(path, &m))) goto done;
  if (m->cols != nc) {
    st = dln_error(DLN_EFORMAT, "%s: expected %d columns (as in the header), found %d", path, nc, m->cols);
    goto done;
  }
  if (m->rows < 1) {
    st = dln_error(DLN_EFORMAT, "%s: expected at least one sample row, found none", path);
    goto done;
  }
  if ((st = dln_table_alloc(out, nc, (const char *const *)names, (size_t)m->rows))) goto done;
  for (int i = 0; i < m->rows; ++i) {
    double *r = (*out)->data + (size_t)i * (size_t)nc;
    for (int j = 0; j < nc; ++j) r[j] = m->data[i + (size_t)j * m->rows];
  }
  (*out)->nrows = (size_t)m->rows;
done:
  dln_mat_free(m);
  free(names);
  free(line);
  free(path);
  return st;
}

/* Layers W{j}_<suffix>.npy (tied: U_<suffix>.npy) into theta. *found = 0 when absent. */
int dln_chk_read_layers(const char *dir, dln_net *net, const char *suffix, double *theta, int *found) {
  int nl = net->tied ? 1 : net->depth, st = DLN_OK;
  char name[64];
  *found = 0;
  snprintf(name, sizeof name, net->tied ? "U_%s.npy" : "W1_%s.npy", suffix);
  if (!dln_chk_is_file(dir, name)) return DLN_OK;
  dln_mat **layers = calloc((size_t)nl, sizeof *layers);
  if (!layers) return dln_error(DLN_ENOMEM, "out of memory");
  for (int j = 1; j <= nl && !st; ++j) {
    if (net->tied) snprintf(name, sizeof name, "U_%s.npy", suffix);
    else snprintf(name, sizeof name, "W%d_%s.npy", j, suffix);
    char *p = dln_path_join(dir, name);
    st = p ? dln_npy_read(p, &layers[j - 1]) : dln_error(DLN_ENOMEM, "out of memory");
    free(p);
  }
  if (!st) st = dln_init_from_layers(net, theta, layers, nl);
  for (int j = 0; j < nl; ++j) dln_mat_free(layers[j]);
  free(layers);
  if (!st) *found = 1;
  return st;
}

/* Point the task's data options at the folder's files (the task's own file table). */
static int data_from_folder(const char *dir, dln_spec *spec) {
  const dln_task_type *t = dln_task_find(spec->task);
  if (!t) return dln_error(DLN_EFORMAT, "%s: task %s: not registered", dir, spec->task);
  int st = DLN_OK;
  for (int i = 0; !st && t->files && t->files[i].option; ++i) {
    const char *file = t->files[i].file;
    if (!dln_chk_is_file(dir, file))
      return dln_error(DLN_EIO, "%s/%s: cannot read (missing); expected the data of the %s run", dir, file, t->name);
    char *p = dln_path_join(dir, file);
    st = p ? dln_spec_set(spec, t->files[i].option, p) : dln_error(DLN_ENOMEM, "out of memory");
    free(p);
  }
  /* the imbalance regularizer's Λ_j, where dln run copied them (docs/regularizer.md) */
  for (int j = 1; !st && j <= spec->net.imbalance_reg_file.n; ++j) {
    char name[48];
    snprintf(name, sizeof name, "imbalance_Lambda%d.npy", j);
    if (!dln_chk_is_file(dir, name)) continue; /* not copied (a sweep's run): the spec's own path */
    char *p = dln_path_join(dir, name);
    free(spec->net.imbalance_reg_file.v[j - 1]);
    spec->net.imbalance_reg_file.v[j - 1] = p;
    if (!p) st = dln_error(DLN_ENOMEM, "out of memory");
  }
  /* the disturbance as run (W{j}_disturbance.npy), when the run had disturbance files */
  const dln_slist *df = &spec->train.disturbance_files;
  if (!st && df->n > 0 && dln_chk_is_file(dir, "W1_disturbance.npy")) {
    size_t len = 1;
    for (int j = 1; j <= df->n; ++j) len += strlen(dir) + 32;
    char *txt = calloc(len, 1);
    if (!txt) return dln_error(DLN_ENOMEM, "out of memory");
    for (int j = 1; j <= df->n; ++j)
      snprintf(txt + strlen(txt), len - strlen(txt), "%s%s/W%d_disturbance.npy", j > 1 ? "," : "", dir, j);
    st = strchr(dir, ',') ? dln_error(DLN_EINVAL, "%s: a folder name with a comma cannot name the disturbance files", dir)
                          : dln_spec_set(spec, "disturbance_files", txt);
    free(txt);
  }
  /* the ground truth of synthetic data is not needed again */
  if (!st && !dln_task_reads(t, "target_file")) st = dln_spec_set(spec, "target_file", "");
  if (!st) st = dln_spec_set(spec, "truth_file", ""); /* nor that of file data (W_true.npy) */
  return st;
}

static double num_or_nan(json_t *o, const char *key) {
  json_t *x = json_object_get(o, key);
  return json_is_number(x) ? json_number_value(x) : NAN;
}

/* The run's record beyond the spec: run id, stop reason, where it stopped, samples. */
static void read_summary_fields(json_t *root, chk_summary *sum) {
  memset(sum, 0, sizeof *sum);
  json_t *x = json_object_get(root, "run_id");
  if (json_is_string(x)) snprintf(sum->run_id, sizeof sum->run_id, "%s", json_string_value(x));
  x = json_object_get(root, "stop_reason");
  if (json_is_string(x)) snprintf(sum->stop_reason, sizeof sum->stop_reason, "%s", json_string_value(x));
  x = json_object_get(root, "complete");
  sum->complete = json_is_boolean(x) ? json_is_true(x) : -1;
  sum->t = num_or_nan(root, "t");
  x = json_object_get(root, "samples_written");
  sum->samples = json_is_integer(x) ? (long)json_integer_value(x) : -1;
  json_t *fin = json_object_get(root, "final");
  sum->final_t = num_or_nan(fin, "t");
  sum->step = num_or_nan(fin, "step");
  sum->final_loss = num_or_nan(fin, "loss");
}

/* summary.json -> the resolved spec, with the data fields pointing at the folder's files. */
int dln_chk_read_spec(const char *dir, dln_spec *spec, chk_summary *sum, dln_spec *orig, int *have_orig) {
  char *path = dln_path_join(dir, "summary.json");
  if (!path) return dln_error(DLN_ENOMEM, "out of memory");
  int st = DLN_OK;
  json_error_t err;
  json_t *root = NULL;
  struct stat sb;
  if (stat(path, &sb) != 0) {
    int e = errno;
    dln_manifest *m = NULL;
    if (e == ENOENT && dln_manifest_read(dir, &m) == DLN_OK && !strcmp(m->kind, "figure")) /* a folder of `dln figure` */
      st = dln_error(DLN_EIO, "%s: holds a figure (manifest.json kind \"figure\"), not a run: its verdicts are in "
                              "report.md; dln check one of its run folders", dir);
    else
      st = dln_error(DLN_EIO, "%s: cannot read (%s); expected the summary.json of a complete run (dln run writes it last)",
                     path, strerror(e));
    dln_manifest_free(m);
    goto done;
  }
  root = dln_json_load_input(path, 0, &err, &st);
  if (st) goto done; /* a FIFO, folder or device: refused without blocking */
  if (!root) {
    st = dln_error(DLN_EFORMAT, "%s:%d:%d: expected JSON, found a syntax error: %s", path, err.line, err.column, err.text);
    goto done;
  }
  if (!json_is_object(root)) {
    st = dln_error(DLN_EFORMAT, "%s: expected a JSON object, found %s", path, json_is_array(root) ? "an array" : "a scalar");
    goto done;
  }
  if (json_object_get(root, "runs")) {
    st = dln_error(DLN_EFORMAT, "%s: field \"runs\": expected the summary of one run, found the default job's (check each of its subfolders)",
                   path);
    goto done;
  }
  read_summary_fields(root, sum);
  json_t *sj = json_object_get(root, "spec");
  if (!json_is_object(sj)) {
    st = dln_error(DLN_EFORMAT, "%s: field \"spec\": expected an object (the resolved spec), found %s", path,
                   sj ? "another type" : "none");
    goto done;
  }
  char *text = dln_json_dumps(sj, JSON_REAL_PRECISION(17));
  if (!text) {
    st = dln_error(DLN_ENOMEM, "out of memory");
    goto done;
  }
  st = dln_spec_from_json_string(spec, path, text);
  free(text);
  if (st) {
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", dln_last_error());
    st = dln_error(DLN_EFORMAT, "%s: field \"spec\": %s", path, msg);
    goto done;
  }
  /* the spec as run (its own data options), for the init check */
  if (orig && dln_spec_copy(orig, spec) == DLN_OK) *have_orig = 1;
  /* data from the folder */
  st = data_from_folder(dir, spec);
  if (!st) st = dln_spec_set(spec, "observe", "loss"); /* the builder's observer is not used */
done:
  json_decref(root);
  free(path);
  return st;
}
