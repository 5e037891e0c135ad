/* The C ABI (dln/abi.h) and the in-memory data files (dln/io.h "mem:" paths): a job's run
 * with arrays handed in equals dln_run of the same spec reading the same numbers from
 * .npy files, byte for byte; a built job's gradient is dln_net_grad's of the run's loss;
 * in-memory training calls back at every sample and equals the run's trajectory; a
 * cancel from another thread stops a long run; C-order arrays are transposed. */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "dln/dln.h"
#include "testutil.h"

static void set_all(dln_job *j, const char *const *kv) {
  for (int i = 0; kv[i]; i += 2) assert_int_equal(dln_job_set(j, kv[i], kv[i + 1]), DLN_OK);
}

static void test_memfile(void **state) {
  (void)state;
  double a[6] = {1, 2, 3, 4, 5, 6};
  dln_mat *m;
  char h1[65], h2[65];
  long long b;
  assert_int_equal(dln_memfile_put("t/a", 2, 3, a), DLN_OK);
  assert_int_equal(dln_matrix_load("mem:t/a", &m), DLN_OK);
  assert_true(m->rows == 2 && m->cols == 3 && memcmp(m->data, a, sizeof a) == 0);
  dln_mat_free(m);
  assert_int_equal(dln_file_sha256("mem:t/a", h1, &b), DLN_OK);
  assert_int_equal(b, 16 + (long long)sizeof a);
  a[5] = 7; /* the table holds a copy: changing the caller's array changes nothing ... */
  assert_int_equal(dln_file_sha256("mem:t/a", h2, NULL), DLN_OK);
  assert_string_equal(h1, h2);
  assert_int_equal(dln_memfile_put("mem:t/a", 2, 3, a), DLN_OK); /* ... until it is put again */
  assert_int_equal(dln_file_sha256("mem:t/a", h2, NULL), DLN_OK);
  assert_string_not_equal(h1, h2);
  assert_int_equal(dln_memfile_put("t/b", 3, 2, a), DLN_OK); /* same values, other shape */
  assert_int_equal(dln_file_sha256("mem:t/b", h1, NULL), DLN_OK);
  assert_string_not_equal(h1, h2);
  assert_int_equal(dln_memfile_remove("t/a"), DLN_OK);
  assert_int_equal(dln_memfile_remove("mem:t/b"), DLN_OK);
  assert_int_not_equal(dln_matrix_load("mem:t/a", &m), DLN_OK);
  assert_non_null(strstr(dln_last_error(), "mem:t/a"));
}

/* dln_run_resume_memfiles: the mem: inputs of a spec that this process does not hold come
 * back from a run folder's copies (task data, target/truth, init layers, Λ_j, D_j), item
 * by item; a held one is left as it is, and one without its copy stays missing. */
static void test_resume_memfiles(void **state) {
  (void)state;
  const char *d = tu_tmpdir(3);
  double v[6] = {1, -2, 3.5, 4, 5, 6.25}, w[6] = {9, 9, 9, 9, 9, 9};
  const char *copies[] = {"target.npy", "W1_init.npy", "W2_init.npy", "imbalance_Lambda1.npy", "W1_disturbance.npy",
                          "W2_disturbance.npy"};
  for (size_t i = 0; i < sizeof copies / sizeof *copies; ++i) {
    v[0] = (double)i;
    assert_int_equal(dln_npy_write(tu_path(d, copies[i]), 2, 3, v, 0), DLN_OK);
  }
  dln_spec s;
  assert_int_equal(dln_spec_default(&s), DLN_OK);
  const char *kv[][2] = {{"target_file", "mem:r/target_file"},
                         {"init", "file"},
                         {"init_files", "mem:r/init.0,mem:r/init.1"},
                         {"imbalance_reg_file", "mem:r/lam.0"},
                         {"disturbance", "constant"},
                         {"disturbance_files", "mem:r/dist.0,mem:r/dist.1"}};
  for (size_t i = 0; i < sizeof kv / sizeof *kv; ++i) assert_int_equal(dln_spec_set(&s, kv[i][0], kv[i][1]), DLN_OK);
  assert_int_equal(dln_memfile_put("r/init.1", 2, 3, w), DLN_OK); /* held: not replaced */
  assert_int_equal(dln_run_resume_memfiles(d, &s), DLN_OK);
  const char *paths[] = {"mem:r/target_file", "mem:r/init.0", "mem:r/init.1", "mem:r/lam.0", "mem:r/dist.0", "mem:r/dist.1"};
  for (size_t i = 0; i < sizeof paths / sizeof *paths; ++i) {
    dln_mat *m = NULL;
    assert_int_equal(dln_memfile_get(paths[i], &m), DLN_OK);
    assert_true(m->rows == 2 && m->cols == 3);
    assert_true(m->data[0] == (i == 2 ? 9.0 : (double)i)); /* the copy of its own file */
    assert_true(i == 2 || memcmp(m->data + 1, v + 1, 5 * sizeof(double)) == 0);
    dln_mat_free(m);
    assert_int_equal(dln_memfile_remove(paths[i]), DLN_OK);
  }
  /* without the copies: still missing, no error (the run names it) */
  const char *d2 = tu_tmpdir(4);
  assert_int_equal(dln_run_resume_memfiles(d2, &s), DLN_OK);
  dln_mat *m = NULL;
  assert_int_not_equal(dln_memfile_get("mem:r/target_file", &m), DLN_OK);
  dln_spec_free(&s);
  tu_rmtree(d);
  tu_rmtree(d2);
}

static const char *const base_kv[] = {"task", "factorization", "widths", "3,4,2", "method", "gd", "eta", "0.01",
                                      "t_end", "2", "samples", "11", "plot", "false", "quiet", "true", NULL};

/* A job's run with Ȳ and the init layers handed in as arrays equals dln_run of the same
 * spec reading them from .npy files: every output file but summary.json and the manifest
 * byte for byte. */
static void test_run_equals_files(void **state) {
  (void)state;
  char dir[512];
  assert_int_equal(tu_tmpdir_into(dir, sizeof dir), 0);
  double Y[6] = {1, -2, 0.5, 3, 0, -1}; /* 2 x 3, column-major */
  double W1[12], W2[8];
  for (int i = 0; i < 12; ++i) W1[i] = 0.1 * sin(1.0 + i);
  for (int i = 0; i < 8; ++i) W2[i] = 0.1 * cos(2.0 + i);
  char p[4][1024];
  snprintf(p[0], sizeof p[0], "%s/Y.npy", dir);
  snprintf(p[1], sizeof p[1], "%s/W1.npy", dir);
  snprintf(p[2], sizeof p[2], "%s/W2.npy", dir);
  assert_int_equal(dln_npy_write(p[0], 2, 3, Y, 0), DLN_OK);
  assert_int_equal(dln_npy_write(p[1], 4, 3, W1, 0), DLN_OK);
  assert_int_equal(dln_npy_write(p[2], 2, 4, W2, 0), DLN_OK);

  dln_spec s;
  assert_int_equal(dln_spec_default(&s), DLN_OK);
  for (int i = 0; base_kv[i]; i += 2) assert_int_equal(dln_spec_set(&s, base_kv[i], base_kv[i + 1]), DLN_OK);
  char files[2100], out_f[1100], out_j[1100];
  snprintf(files, sizeof files, "%s,%s", p[1], p[2]);
  snprintf(out_f, sizeof out_f, "%s/files", dir);
  snprintf(out_j, sizeof out_j, "%s/job", dir);
  assert_int_equal(dln_spec_set(&s, "target_file", p[0]), DLN_OK);
  assert_int_equal(dln_spec_set(&s, "init", "file"), DLN_OK);
  assert_int_equal(dln_spec_set(&s, "init_files", files), DLN_OK);
  assert_int_equal(dln_spec_set(&s, "out", out_f), DLN_OK);
  dln_run_result res;
  assert_int_equal(dln_run(&s, NULL, &res), DLN_OK);
  dln_spec_free(&s);

  dln_job *j;
  assert_int_equal(dln_job_alloc(&j), DLN_OK);
  set_all(j, base_kv);
  /* Ȳ in C order (row-major) as NumPy hands it in: transposed into column-major */
  double Yc[6] = {1, 0.5, 0, -2, 3, -1};
  assert_int_equal(dln_job_set_array(j, "target_file", 0, 2, 3, Yc, 1), DLN_OK);
  assert_int_equal(dln_job_set(j, "init", "file"), DLN_OK);
  assert_int_equal(dln_job_set_array(j, "init_files", 0, 4, 3, W1, 0), DLN_OK);
  assert_int_equal(dln_job_set_array(j, "init_files", 1, 2, 4, W2, 0), DLN_OK);
  assert_int_equal(dln_job_set(j, "out", out_j), DLN_OK);
  assert_int_equal(dln_job_run(j), DLN_OK);
  assert_string_equal(dln_job_stop_name(j), "time");

  static const char *const same[] = {"trajectory.csv", "W1_init.npy", "W2_init.npy", "W1_final.npy", "W2_final.npy", "target.npy", NULL};
  for (int i = 0; same[i]; ++i) {
    assert_true(tu_same_file(dir, "files", "job", same[i]));
  }
  /* the kept results are the folder's numbers */
  assert_int_equal(dln_job_nrows(j), 11);
  int ncols = dln_job_ncols(j), cl = -1;
  for (int c = 0; c < ncols; ++c)
    if (!strcmp(dln_job_col_name(j, c), "loss")) cl = c;
  assert_true(cl >= 0);
  char traj[1200];
  snprintf(traj, sizeof traj, "%s/trajectory.csv", out_f);
  dln_mat *csv;
  assert_int_equal(dln_csv_read(traj, &csv), DLN_OK); /* header skipped */
  assert_int_equal(csv->rows, 11);
  for (int r = 0; r < 11; ++r) assert_true(dln_job_table(j)[(size_t)r * ncols + cl] == csv->data[r + (size_t)cl * 11]);
  dln_mat_free(csv);
  int rows, cols;
  const double *d;
  assert_int_equal(dln_job_nlayers(j, DLN_JOB_INITIAL), 2);
  assert_int_equal(dln_job_layer(j, DLN_JOB_INITIAL, 1, &rows, &cols, &d), DLN_OK);
  assert_true(rows == 4 && cols == 3 && memcmp(d, W1, sizeof W1) == 0);
  assert_int_equal(dln_job_layer(j, DLN_JOB_FINAL, 2, &rows, &cols, &d), DLN_OK);
  assert_true(rows == 2 && cols == 4);
  assert_non_null(strstr(dln_job_summary(j), "\"stop_reason\":\"time\""));
  char buf[256];
  assert_int_equal(dln_job_get(j, "target_file", buf, sizeof buf), DLN_OK);
  assert_int_equal(strncmp(buf, "mem:", 4), 0);

  /* in-memory training of the same job: the same trajectory, no folder needed */
  assert_int_equal(dln_job_train(j, NULL, NULL), DLN_OK);
  assert_int_equal(dln_job_nrows(j), 11);
  assert_int_equal(dln_job_layer(j, DLN_JOB_FINAL, 2, &rows, &cols, &d), DLN_OK);
  char wf[1200];
  snprintf(wf, sizeof wf, "%s/W2_final.npy", out_f);
  dln_mat *W2f;
  assert_int_equal(dln_npy_read(wf, &W2f), DLN_OK);
  assert_memory_equal(d, W2f->data, 8 * sizeof(double));
  dln_mat_free(W2f);
  dln_job_free(j);
  /* the job's arrays left the table with it */
  dln_mat *m;
  assert_int_not_equal(dln_matrix_load(buf, &m), DLN_OK);
  tu_rmtree_quiet(dir);
}

/* A built job's loss and net give dln_net_grad of the task; training calls back at every sample. */
typedef struct {
  int calls;
  double last_t;
  int stop_at;
} cb_ctx;
static int on_sample(void *ctx, double t, long step, const double *x, const dln_net *net) {
  cb_ctx *c = ctx;
  (void)step;
  assert_non_null(x);
  assert_non_null(net);
  c->calls++;
  c->last_t = t;
  return c->stop_at && c->calls == c->stop_at;
}

static void test_build_train(void **state) {
  (void)state;
  dln_job *j;
  assert_int_equal(dln_job_alloc(&j), DLN_OK);
  static const char *const kv[] = {"task", "completion", "rows", "3", "cols", "3", "m", "6", "widths", "3,3,3",
                                   "method", "flow", "t_end", "1", "samples", "5", NULL};
  set_all(j, kv);
  assert_int_equal(dln_job_build(j), DLN_OK);
  dln_net *net = dln_job_net(j);
  dln_loss *loss = dln_job_loss(j);
  assert_int_equal(dln_abi_net_depth(net), 2);
  assert_int_equal(dln_abi_net_nparams(net), 18);
  assert_int_equal(dln_abi_loss_rows(loss), 3);
  assert_int_equal(dln_abi_loss_cols(loss), 3);
  int rows, cols;
  const double *th0;
  assert_int_equal(dln_job_layer(j, DLN_JOB_INITIAL, 1, &rows, &cols, &th0), DLN_OK);
  double theta[18], g[18], v;
  memcpy(theta, th0, 9 * sizeof *theta);
  assert_int_equal(dln_job_layer(j, DLN_JOB_INITIAL, 2, &rows, &cols, &th0), DLN_OK);
  memcpy(theta + 9, th0, 9 * sizeof *theta);
  assert_int_equal(dln_net_grad(net, loss, theta, &v, g, NULL), DLN_OK);
  /* central differences of the value, relative 1e-6 */
  for (int i = 0; i < 18; ++i) {
    double h = 1e-6, vp, vm, t0 = theta[i];
    theta[i] = t0 + h;
    dln_net_grad(net, loss, theta, &vp, NULL, NULL);
    theta[i] = t0 - h;
    dln_net_grad(net, loss, theta, &vm, NULL, NULL);
    theta[i] = t0;
    assert_true(fabs((vp - vm) / (2 * h) - g[i]) <= 1e-6 * (1 + fabs(g[i])));
  }
  cb_ctx c = {0, -1, 0};
  assert_int_equal(dln_job_train(j, on_sample, &c), DLN_OK);
  assert_int_equal(c.calls, 5);
  assert_true(c.last_t == 1.0);
  c = (cb_ctx){0, -1, 3};
  assert_int_equal(dln_job_train(j, on_sample, &c), DLN_OK);
  assert_int_equal(c.calls, 3);
  assert_string_equal(dln_job_stop_name(j), "cancelled");
  assert_int_equal(dln_job_nrows(j), 3);
  /* an e2e method is refused by the in-memory training with a message */
  assert_int_equal(dln_job_set(j, "method", "e2e_flow"), DLN_OK);
  assert_int_equal(dln_job_set(j, "init", "balanced"), DLN_OK);
  assert_int_not_equal(dln_job_train(j, NULL, NULL), DLN_OK);
  assert_non_null(strstr(dln_last_error(), "layer-wise"));
  dln_job_free(j);
}

/* dln_job_cancel from another thread stops a long run at a step boundary. */
typedef struct {
  dln_job *j;
  int st;
} run_arg;
static void *run_thread(void *p) {
  run_arg *a = p;
  a->st = dln_job_run(a->j);
  return NULL;
}

static void test_cancel(void **state) {
  (void)state;
  char dir[512];
  assert_int_equal(tu_tmpdir_into(dir, sizeof dir), 0);
  char out[1100];
  snprintf(out, sizeof out, "%s/o", dir);
  dln_job *j;
  assert_int_equal(dln_job_alloc(&j), DLN_OK);
  static const char *const kv[] = {"task", "factorization", "widths", "10,50,5", "method", "gd", "eta", "1e-6",
                                   "t_end", "1e3", "plot", "false", "quiet", "true", NULL}; /* 10^9 steps */
  set_all(j, kv);
  assert_int_equal(dln_job_set(j, "out", out), DLN_OK);
  run_arg a = {j, -1};
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, run_thread, &a), 0);
  struct timespec ts = {0, 300 * 1000 * 1000};
  nanosleep(&ts, NULL);
  assert_int_equal(dln_job_cancel(j), DLN_OK);
  pthread_join(th, NULL);
  assert_int_equal(a.st, DLN_OK);
  assert_string_equal(dln_job_stop_name(j), "cancelled");
  char p[1200];
  snprintf(p, sizeof p, "%s/summary.json", out);
  char *txt = tu_slurp(p);
  assert_non_null(txt);
  assert_non_null(strstr(txt, "\"complete\": false"));
  free(txt);
  dln_job_free(j);
  tu_rmtree_quiet(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_memfile), cmocka_unit_test(test_resume_memfiles),
                                     cmocka_unit_test(test_run_equals_files),
                                     cmocka_unit_test(test_build_train), cmocka_unit_test(test_cancel)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
