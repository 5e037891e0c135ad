/* Tests of the task and initialization types (dln/task.h, dln/init.h; src/model/tasks,
 * src/model/inits).
 *
 * Exactness: the descriptors must reproduce the direct constructors bit for bit (same
 * draws from the same stream in the same order), so data, W*, L*, ℓ and ∇ℓ at a random W
 * and the initial θ are compared with memcmp, and the streams are compared by one more
 * draw afterwards. The checks are tested one refusal per rule, by field and message
 * fragment. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dln/data.h"
#include "dln/error.h"
#include "dln/init.h"
#include "dln/io.h"
#include "dln/loss.h"
#include "dln/net.h"
#include "dln/rng.h"
#include "dln/spec.h"
#include "dln/task.h"
#include "testutil.h"

/* ------------------------------------------------------------------ option helpers */

static const dln_task_type *const tasks4[] = {&dln_task_factorization, &dln_task_regression, &dln_task_sensing,
                                             &dln_task_completion};
static const dln_init_type *const inits8[] = {&dln_init_type_gaussian,         &dln_init_type_width_scaled,
                                             &dln_init_type_balanced,         &dln_init_type_imbalanced,
                                             &dln_init_type_spectral,         &dln_init_type_spectral_symmetric,
                                             &dln_init_type_orthogonal_minnorm, &dln_init_type_file};

static const dln_option *row_in(const dln_option *rows, const char *name) {
  for (int i = 0; rows && rows[i].name; ++i)
    if (strcmp(rows[i].name, name) == 0) return &rows[i];
  return NULL;
}

static const dln_option *task_row(const char *name) {
  const dln_option *r = row_in(dln_task_common_rows(), name);
  for (int i = 0; !r && i < 4; ++i) r = row_in(tasks4[i]->options, name);
  return r;
}

static const dln_option *init_row(const char *name) {
  const dln_option *r = row_in(dln_init_common_rows(), name);
  for (int i = 0; !r && i < 8; ++i) r = row_in(inits8[i]->options, name);
  return r;
}

static void topts(dln_task_options *o) {
  memset(o, 0, sizeof *o);
  assert_int_equal(dln_options_default(o, dln_task_common_rows(), -1), DLN_OK);
  for (int i = 0; i < 4; ++i)
    if (tasks4[i]->options) assert_int_equal(dln_options_default(o, tasks4[i]->options, -1), DLN_OK);
  o->load = dln_matrix_load;
}

static void topts_free(dln_task_options *o) {
  dln_options_free(o, dln_task_common_rows(), -1);
  for (int i = 0; i < 4; ++i)
    if (tasks4[i]->options) dln_options_free(o, tasks4[i]->options, -1);
}

static void tset(dln_task_options *o, const char *name, const char *text) {
  const dln_option *r = task_row(name);
  assert_non_null(r);
  dln_option_clear(o, r);
  assert_int_equal(dln_option_set(o, r, text, name), DLN_OK);
}

static void iopts(dln_init_options *o) {
  memset(o, 0, sizeof *o);
  assert_int_equal(dln_options_default(o, dln_init_common_rows(), -1), DLN_OK);
  for (int i = 0; i < 8; ++i)
    if (inits8[i]->options) assert_int_equal(dln_options_default(o, inits8[i]->options, -1), DLN_OK);
  o->load = dln_matrix_load;
}

static void iopts_free(dln_init_options *o) {
  dln_options_free(o, dln_init_common_rows(), -1);
  for (int i = 0; i < 8; ++i)
    if (inits8[i]->options) dln_options_free(o, inits8[i]->options, -1);
}

static void iset(dln_init_options *o, const char *name, const char *text) {
  const dln_option *r = init_row(name);
  assert_non_null(r);
  dln_option_clear(o, r);
  assert_int_equal(dln_option_set(o, r, text, name), DLN_OK);
}

/* ------------------------------------------------------------------ registry and rows */

static void test_registry(void **state) {
  (void)state;
  const char *tn[] = {"factorization", "regression", "sensing", "completion"};
  for (int i = 0; i < 4; ++i) {
    assert_ptr_equal(dln_task_find(tn[i]), tasks4[i]);
    assert_ptr_equal(dln_task_at(i), tasks4[i]);
    assert_string_equal(dln_task_name_at(i), tn[i]);
    assert_non_null(tasks4[i]->summary);
    assert_non_null(tasks4[i]->caps);
  }
  assert_ptr_equal(dln_task_find("lp"), &dln_task_lp); /* built-in after the four */
  assert_ptr_equal(dln_task_at(4), &dln_task_lp);
  assert_null(dln_task_find("nope"));
  assert_null(dln_task_at(-1));
  const char *in[] = {"gaussian", "width_scaled", "balanced", "imbalanced", "spectral", "spectral_symmetric",
                      "orthogonal_minnorm", "file"};
  for (int i = 0; i < 8; ++i) {
    assert_ptr_equal(dln_init_find(in[i]), inits8[i]);
    assert_ptr_equal(dln_init_at(i), inits8[i]);
    assert_string_equal(dln_init_name_at(i), in[i]);
  }
  assert_null(dln_init_find("nope"));
  /* malformed and duplicate registrations are refused */
  assert_int_equal(dln_task_register(&dln_task_sensing), DLN_EINVAL);
  assert_int_equal(dln_init_register(&dln_init_type_balanced), DLN_EINVAL);
  static const dln_option clash[] = {{"rows", DLN_OPT_INT, 0, "1", "clash", NULL, DLN_OPTR_NONE, 0, 0, NULL, NULL},
                                     DLN_OPTION_END};
  dln_task_type bad = dln_task_factorization;
  bad.name = "toy_clash";
  bad.options = clash;
  assert_int_equal(dln_task_register(&bad), DLN_EINVAL);
  assert_non_null(strstr(dln_last_error(), "unique"));
  /* a new task is found after the built-ins */
  assert_ptr_equal(dln_task_find("sigmoid"), &dln_task_sigmoid);
  static dln_task_type toy;
  toy = dln_task_factorization;
  toy.name = "toy_task";
  assert_int_equal(dln_task_register(&toy), DLN_OK);
  assert_ptr_equal(dln_task_find("toy_task"), &toy);
  int nb = 0; /* the built-ins come first, then the registered type */
  while (dln_task_at(nb) && dln_task_at(nb) != &toy) ++nb;
  assert_true(nb >= 4);
  assert_ptr_equal(dln_task_at(nb), &toy);
  assert_null(dln_task_at(nb + 1));
  static dln_init_type itoy;
  itoy = dln_init_type_balanced;
  itoy.name = "toy_init";
  assert_int_equal(dln_init_register(&itoy), DLN_OK);
  assert_ptr_equal(dln_init_find("toy_init"), &itoy);
}

/* Every row name is unique among tasks and inits; every row's default parses; names,
 * types, defaults and help texts equal the CLI table's; every data-file option is a
 * STRING row of the task or of the common rows. */
static void test_rows(void **state) {
  (void)state;
  const dln_option *tables[16];
  int nt = 0;
  tables[nt++] = dln_task_common_rows();
  for (int i = 0; i < 4; ++i) tables[nt++] = tasks4[i]->options;
  tables[nt++] = dln_init_common_rows();
  for (int i = 0; i < 8; ++i) tables[nt++] = inits8[i]->options;
  const char *seen[128];
  int ns = 0;
  for (int t = 0; t < nt; ++t)
    for (int i = 0; tables[t] && tables[t][i].name; ++i) {
      const dln_option *r = &tables[t][i];
      for (int k = 0; k < ns; ++k)
        if (strcmp(seen[k], r->name) == 0) fail_msg("option %s is owned twice", r->name);
      seen[ns++] = r->name;
      const dln_spec_option *cli = dln_spec_find(r->name);
      assert_non_null(cli);
      assert_int_equal(cli->type, r->type);
      assert_string_equal(cli->defval, r->defval);
      assert_string_equal(cli->help, r->help);
    }
  assert_int_equal(ns, 19 + 10); /* truth_file among the 19; + sigma, layer_scales, det_sign, det_sign_draws, ... */
  dln_task_options o;
  topts(&o);
  assert_string_equal(o.target, "gaussian");
  assert_int_equal(o.rows, 5);
  assert_int_equal(o.cols, 10);
  assert_int_equal(o.m, 20);
  assert_int_equal(dln_options_validate(&o, dln_task_common_rows(), -1), DLN_OK);
  for (int i = 0; i < 4; ++i) {
    if (tasks4[i]->options) assert_int_equal(dln_options_validate(&o, tasks4[i]->options, -1), DLN_OK);
    for (int f = 0; tasks4[i]->files[f].option; ++f) {
      const dln_option *r = row_in(tasks4[i]->options, tasks4[i]->files[f].option);
      if (!r) r = row_in(dln_task_common_rows(), tasks4[i]->files[f].option);
      assert_non_null(r);
      assert_int_equal(r->type, DLN_OPT_STRING);
    }
  }
  topts_free(&o);
  dln_init_options io;
  iopts(&io);
  assert_true(io.sigma == 0.01 && io.alpha == 0.5);
  assert_int_equal(dln_options_validate(&io, dln_init_common_rows(), -1), DLN_OK);
  iopts_free(&io);
}

/* ------------------------------------------------------------------ data and losses */

static void same_mat(const dln_mat *a, const dln_mat *b) {
  assert_non_null(a);
  assert_non_null(b);
  assert_int_equal(a->rows, b->rows);
  assert_int_equal(a->cols, b->cols);
  assert_memory_equal(a->data, b->data, (size_t)a->rows * (size_t)a->cols * sizeof(double));
}

static void same_double(double a, double b) { assert_memory_equal(&a, &b, sizeof a); }

static void same_loss(dln_loss *a, dln_loss *b) {
  assert_ptr_equal(a->ops, b->ops);
  assert_int_equal(a->rows, b->rows);
  assert_int_equal(a->cols, b->cols);
  same_double(a->lstar, b->lstar);
  same_double(a->target_norm, b->target_norm);
  size_t n = (size_t)a->rows * (size_t)a->cols;
  assert_int_equal(a->wstar == NULL, b->wstar == NULL);
  if (a->wstar) assert_memory_equal(a->wstar, b->wstar, n * sizeof(double));
  double *W = tu_dalloc(n), *Ga = tu_dalloc(n), *Gb = tu_dalloc(n), va, vb;
  tu_fill_gauss(n, W, 1.0);
  assert_int_equal(dln_loss_eval(a, W, &va, Ga), DLN_OK);
  assert_int_equal(dln_loss_eval(b, W, &vb, Gb), DLN_OK);
  same_double(va, vb);
  assert_memory_equal(Ga, Gb, n * sizeof(double));
  assert_int_equal(dln_loss_design(a) == NULL, dln_loss_design(b) == NULL);
  if (dln_loss_design(a)) same_mat(dln_loss_design(a), dln_loss_design(b));
  free(W);
  free(Ga);
  free(Gb);
}

/* Build through the descriptor from a fresh stream (seed 7): data and loss. */
static void build(const dln_task_type *t, const dln_task_options *o, dln_task_data *d, dln_loss **loss, dln_rng **rng) {
  const char *field = "x";
  *rng = dln_rng_alloc(7, 0);
  int st = dln_task_data_build(t, o, *rng, d, &field);
  if (st) fail_msg("%s: %s (field %s)", t->name, dln_last_error(), field ? field : "-");
  assert_null(field);
  assert_int_equal(t->loss(o, d, loss), DLN_OK);
  assert_true(dln_loss_has(*loss, t->caps(o)));
}

static void same_stream(dln_rng *a, dln_rng *b) { same_double(dln_rng_uniform(a), dln_rng_uniform(b)); }

static void test_factorization_data(void **state) {
  (void)state;
  for (int variant = 0; variant < 3; ++variant) {
    dln_task_options o;
    topts(&o);
    dln_rng *r0 = dln_rng_alloc(7, 0), *r1;
    dln_mat *T = NULL;
    if (variant == 0) {
      assert_int_equal(dln_data_gaussian(r0, 5, 10, 1.0, &T), DLN_OK);
    } else if (variant == 1) {
      tset(&o, "target", "lowrank");
      tset(&o, "rank", "3");
      double sv[] = {3, 2, 1};
      assert_int_equal(dln_data_lowrank(r0, 5, 10, 3, sv, &T), DLN_OK);
    } else {
      tset(&o, "symmetric_target", "true");
      tset(&o, "cols", "5");
      tset(&o, "singular_values", "2,-1");
      double lam[5] = {2, -1, 0, 0, 0};
      assert_int_equal(dln_data_symmetric(r0, 5, lam, &T), DLN_OK);
    }
    dln_loss *l0 = NULL, *l1 = NULL;
    assert_int_equal(dln_loss_factorization_alloc(&l0, T), DLN_OK);
    dln_task_data d;
    build(&dln_task_factorization, &o, &d, &l1, &r1);
    same_mat(T, d.mats[0]);
    assert_ptr_equal(dln_task_data_get(&d, "target_file"), d.mats[0]);
    assert_null(d.truth);
    same_loss(l0, l1);
    same_stream(r0, r1);
    int rows, cols;
    assert_int_equal(dln_task_factorization.shape(&o, &rows, &cols), 1);
    assert_int_equal(rows, T->rows);
    assert_int_equal(cols, T->cols);
    dln_mat_free(T);
    dln_loss_free(l0);
    dln_loss_free(l1);
    dln_task_data_free(&d);
    dln_rng_free(r0);
    dln_rng_free(r1);
    topts_free(&o);
  }
}

static void test_regression_data(void **state) {
  (void)state;
  for (int reduce = 0; reduce < 2; ++reduce) {
    dln_task_options o;
    topts(&o);
    tset(&o, "x_rank", "3");
    tset(&o, "noise", "0.1");
    tset(&o, "n_samples", "8");
    if (reduce) tset(&o, "reduce", "true");
    dln_rng *r0 = dln_rng_alloc(7, 0), *r1;
    dln_mat *Wt = NULL, *X = NULL, *Y = NULL, *T = NULL;
    assert_int_equal(dln_data_gaussian(r0, 5, 10, 1.0, &Wt), DLN_OK);
    assert_int_equal(dln_data_regression(r0, 10, 5, 8, 3, Wt, 0.1, &X, &Y), DLN_OK);
    dln_loss *l0 = NULL, *l1 = NULL;
    if (reduce) {
      assert_int_equal(dln_regression_reduce(X, Y, &T), DLN_OK);
      assert_int_equal(dln_loss_factorization_alloc(&l0, T), DLN_OK);
    } else {
      assert_int_equal(dln_loss_regression_alloc(&l0, X, Y), DLN_OK);
    }
    dln_task_data d;
    build(&dln_task_regression, &o, &d, &l1, &r1);
    same_mat(Wt, d.truth);
    same_mat(X, dln_task_data_get(&d, "x_file"));
    same_mat(Y, dln_task_data_get(&d, "y_file"));
    same_loss(l0, l1);
    same_stream(r0, r1);
    assert_int_equal(dln_loss_has(l1, DLN_LOSS_IDENTITY), reduce);
    assert_int_equal(dln_loss_has(l1, DLN_LOSS_LSQ_DESIGN), !reduce);
    if (!reduce) same_mat(dln_loss_design(l1), X);
    dln_mat_free(Wt), dln_mat_free(X), dln_mat_free(Y), dln_mat_free(T);
    dln_loss_free(l0), dln_loss_free(l1);
    dln_task_data_free(&d);
    dln_rng_free(r0), dln_rng_free(r1);
    topts_free(&o);
  }
}

static void test_sensing_completion_data(void **state) {
  (void)state;
  for (int comp = 0; comp < 2; ++comp) {
    dln_task_options o;
    topts(&o);
    tset(&o, "m", "17");
    dln_rng *r0 = dln_rng_alloc(7, 0), *r1;
    dln_mat *Wt = NULL, *A = NULL, *b = NULL, *E = NULL;
    dln_loss *l0 = NULL, *l1 = NULL;
    assert_int_equal(dln_data_gaussian(r0, 5, 10, 1.0, &Wt), DLN_OK);
    if (!comp) {
      assert_int_equal(dln_data_sensing(r0, Wt, 17, &A, &b), DLN_OK);
      assert_int_equal(dln_loss_sensing_alloc(&l0, 5, 10, 17, A->data, b->data), DLN_OK);
    } else {
      assert_int_equal(dln_data_completion(r0, Wt, 17, &E), DLN_OK);
      int r[17], c[17];
      double v[17];
      for (int i = 0; i < 17; ++i) r[i] = (int)E->data[i], c[i] = (int)E->data[i + 17], v[i] = E->data[i + 34];
      assert_int_equal(dln_loss_completion_alloc(&l0, 5, 10, 17, r, c, v), DLN_OK);
    }
    dln_task_data d;
    build(comp ? &dln_task_completion : &dln_task_sensing, &o, &d, &l1, &r1);
    same_mat(Wt, d.truth);
    if (!comp) {
      same_mat(A, dln_task_data_get(&d, "a_file"));
      same_mat(b, dln_task_data_get(&d, "b_file"));
    } else {
      same_mat(E, dln_task_data_get(&d, "entries_file"));
      assert_true(dln_loss_has(l1, DLN_LOSS_ENTRYWISE));
    }
    assert_null(dln_task_data_get(&d, "x_file"));
    same_loss(l0, l1);
    same_stream(r0, r1);
    dln_mat_free(Wt), dln_mat_free(A), dln_mat_free(b), dln_mat_free(E);
    dln_loss_free(l0), dln_loss_free(l1);
    dln_task_data_free(&d);
    dln_rng_free(r0), dln_rng_free(r1);
    topts_free(&o);
  }
}

/* Data read from files (through o->load = dln_matrix_load) give the direct losses; a bad
 * file is blamed on its option. */
static void test_file_data(void **state) {
  (void)state;
  const char *dir = tu_tmpdir(0);
  dln_rng *g = dln_rng_alloc(3, 0);
  dln_mat *X = NULL, *Y = NULL, *A = NULL, *b = NULL, *T = NULL;
  assert_int_equal(dln_data_gaussian(g, 4, 6, 1.0, &X), DLN_OK);
  assert_int_equal(dln_data_gaussian(g, 3, 6, 1.0, &Y), DLN_OK);
  assert_int_equal(dln_data_gaussian(g, 3, 4, 1.0, &T), DLN_OK);
  assert_int_equal(dln_data_sensing(g, T, 9, &A, &b), DLN_OK);
  double e[] = {0, 2, 1, 0, 3, 1, 0.5, -1, 2}; /* 3 x 3: rows (0,0,.5) (2,3,-1) (1,1,2) */
  struct {
    const char *name;
    const dln_mat *m;
  } files[] = {{"X.npy", X}, {"Y.npy", Y}, {"A.npy", A}, {"b.npy", b}, {"T.npy", T}};
  for (int i = 0; i < 5; ++i)
    assert_int_equal(dln_npy_write(tu_path(dir, files[i].name), files[i].m->rows, files[i].m->cols, files[i].m->data, 0),
                     DLN_OK);
  assert_int_equal(dln_npy_write(tu_path(dir, "E.npy"), 3, 3, e, 0), DLN_OK);
  dln_task_options o;
  dln_task_data d;
  dln_loss *l0 = NULL, *l1 = NULL;
  dln_rng *r1;
  /* regression */
  topts(&o);
  tset(&o, "x_file", tu_path(dir, "X.npy"));
  tset(&o, "y_file", tu_path(dir, "Y.npy"));
  assert_int_equal(dln_task_check(&dln_task_regression, &o, NULL), DLN_OK);
  int rows, cols;
  assert_int_equal(dln_task_regression.shape(&o, &rows, &cols), 0);
  assert_int_equal(dln_loss_regression_alloc(&l0, X, Y), DLN_OK);
  build(&dln_task_regression, &o, &d, &l1, &r1);
  assert_null(d.truth);
  same_loss(l0, l1);
  dln_loss_free(l0), dln_loss_free(l1), dln_task_data_free(&d), dln_rng_free(r1);
  /* a missing file is blamed on its option, keeping the loader's message */
  tset(&o, "y_file", tu_path(dir, "missing.npy"));
  const char *field = NULL;
  assert_int_not_equal(dln_task_data_build(&dln_task_regression, &o, NULL, &d, &field), DLN_OK);
  assert_string_equal(field, "y_file");
  assert_non_null(strstr(dln_last_error(), "missing.npy"));
  assert_null(d.mats[0]);
  /* no loader: refused */
  tset(&o, "y_file", tu_path(dir, "Y.npy"));
  o.load = NULL;
  assert_int_equal(dln_task_data_build(&dln_task_regression, &o, NULL, &d, &field), DLN_EINVAL);
  assert_string_equal(field, "x_file");
  assert_non_null(strstr(dln_last_error(), "loader"));
  topts_free(&o);
  /* sensing: rows x cols from the options */
  topts(&o);
  tset(&o, "rows", "3");
  tset(&o, "cols", "4");
  tset(&o, "a_file", tu_path(dir, "A.npy"));
  tset(&o, "b_file", tu_path(dir, "b.npy"));
  assert_int_equal(dln_loss_sensing_alloc(&l0, 3, 4, 9, A->data, b->data), DLN_OK);
  build(&dln_task_sensing, &o, &d, &l1, &r1);
  same_loss(l0, l1);
  dln_loss_free(l0), dln_loss_free(l1), dln_task_data_free(&d), dln_rng_free(r1);
  tset(&o, "cols", "5");
  assert_int_equal(dln_task_data_build(&dln_task_sensing, &o, NULL, &d, &field), DLN_EDIM);
  assert_string_equal(field, "a_file");
  assert_non_null(strstr(dln_last_error(), "expected rows*cols = 15 rows"));
  topts_free(&o);
  /* factorization from target_file; the same file as W_true of synthetic sensing */
  topts(&o);
  tset(&o, "target_file", tu_path(dir, "T.npy"));
  assert_int_equal(dln_task_factorization.shape(&o, &rows, &cols), 0);
  assert_int_equal(dln_loss_factorization_alloc(&l0, T), DLN_OK);
  build(&dln_task_factorization, &o, &d, &l1, &r1);
  same_loss(l0, l1);
  dln_loss_free(l0), dln_loss_free(l1), dln_task_data_free(&d), dln_rng_free(r1);
  tset(&o, "m", "9");
  assert_int_equal(dln_task_check(&dln_task_sensing, &o, NULL), DLN_OK);
  build(&dln_task_sensing, &o, &d, &l1, &r1);
  same_mat(T, d.truth);
  assert_int_equal(l1->rows, 3);
  assert_int_equal(l1->cols, 4);
  dln_loss_free(l1), dln_task_data_free(&d), dln_rng_free(r1);
  topts_free(&o);
  /* completion entries: indices checked against rows x cols, blamed on entries_file row */
  topts(&o);
  tset(&o, "rows", "3");
  tset(&o, "cols", "4");
  tset(&o, "entries_file", tu_path(dir, "E.npy"));
  int er[] = {0, 2, 1}, ec[] = {0, 3, 1};
  double ev[] = {0.5, -1, 2};
  assert_int_equal(dln_loss_completion_alloc(&l0, 3, 4, 3, er, ec, ev), DLN_OK);
  build(&dln_task_completion, &o, &d, &l1, &r1);
  same_loss(l0, l1);
  dln_loss_free(l0), dln_loss_free(l1), dln_task_data_free(&d), dln_rng_free(r1);
  tset(&o, "cols", "3");
  assert_int_equal(dln_task_data_build(&dln_task_completion, &o, NULL, &d, &field), DLN_EINVAL);
  assert_string_equal(field, "entries_file");
  assert_non_null(strstr(dln_last_error(), "row 2: expected 0-based indices row < 3, col < 3"));
  topts_free(&o);
  dln_mat_free(X), dln_mat_free(Y), dln_mat_free(A), dln_mat_free(b), dln_mat_free(T);
  dln_rng_free(g);
  tu_rmtree(dir);
}

/* ------------------------------------------------------------------ checks */

/* dln_task_check(t, o) refuses with field and message fragment. */
static void refuse(const dln_task_type *t, dln_task_options *o, const char *field, const char *frag) {
  const char *f = NULL;
  int st = dln_task_check(t, o, &f);
  if (st != DLN_EINVAL) fail_msg("%s: expected a refusal naming %s, found status %d", t->name, field, st);
  if (!f || strcmp(f, field) != 0) fail_msg("%s: expected field %s, found %s (%s)", t->name, field, f ? f : "-", dln_last_error());
  if (!strstr(dln_last_error(), frag)) fail_msg("%s: expected '%s' in '%s'", t->name, frag, dln_last_error());
}

static void row_refuse(dln_task_options *o, const char *name, const char *text, const char *frag) {
  const dln_option *r = task_row(name);
  dln_option_clear(o, r);
  /* refused by the setter (ENUM values) or by the range check */
  if (dln_option_set(o, r, text, name) == DLN_OK) assert_int_equal(dln_option_validate(o, r, name), DLN_EINVAL);
  if (!strstr(dln_last_error(), frag)) fail_msg("%s: expected '%s' in '%s'", name, frag, dln_last_error());
  dln_option_clear(o, r);
  assert_int_equal(dln_option_set(o, r, r->defval, name), DLN_OK);
}

static void test_task_checks(void **state) {
  (void)state;
  dln_task_options o;
  topts(&o);
  for (int i = 0; i < 4; ++i) assert_int_equal(dln_task_check(tasks4[i], &o, NULL), DLN_OK);
  /* rows' own range checks */
  row_refuse(&o, "rows", "0", "expected an integer >= 1, found 0");
  row_refuse(&o, "rank", "-1", "expected an integer >= 0, found -1");
  row_refuse(&o, "target_sigma", "0", "expected a positive finite number, found 0");
  row_refuse(&o, "singular_values", "1,nan", "expected finite numbers, found nan at item 2");
  row_refuse(&o, "n_samples", "0", "expected an integer >= 1");
  row_refuse(&o, "x_rank", "-2", "expected an integer >= 0");
  row_refuse(&o, "noise", "-1", "expected a non-negative finite number");
  row_refuse(&o, "m", "0", "expected an integer >= 1");
  row_refuse(&o, "target", "weird", "expected one of gaussian|lowrank");
  /* common rules */
  tset(&o, "rank", "6");
  refuse(&dln_task_factorization, &o, "rank", "expected a rank <= min(rows, cols) = 5, found 6");
  tset(&o, "rank", "0");
  tset(&o, "singular_values", "1,-1");
  refuse(&dln_task_factorization, &o, "singular_values", "expected non-negative finite numbers, found -1 at item 2");
  tset(&o, "singular_values", "1,1,1,1,1,1");
  refuse(&dln_task_factorization, &o, "singular_values", "expected at most min(rows, cols) = 5 values, found 6");
  tset(&o, "singular_values", "");
  tset(&o, "target", "lowrank");
  refuse(&dln_task_factorization, &o, "target", "expected singular_values or rank >= 1 for a lowrank target");
  tset(&o, "target", "gaussian");
  tset(&o, "symmetric_target", "true");
  refuse(&dln_task_factorization, &o, "cols", "expected cols = rows = 5 for a symmetric target, found 10");
  tset(&o, "cols", "5");
  assert_int_equal(dln_task_check(&dln_task_factorization, &o, NULL), DLN_OK);
  tset(&o, "singular_values", "1,-1,1,1,1,1");
  refuse(&dln_task_factorization, &o, "singular_values", "expected at most rows = 5 eigenvalues, found 6");
  tset(&o, "singular_values", "");
  refuse(&dln_task_regression, &o, "symmetric_target", "expected false unless the task is a factorization");
  refuse(&dln_task_sensing, &o, "symmetric_target", "found true with task sensing");
  tset(&o, "reduce", "true"); /* regression reduced to a factorization: a symmetric target is fine */
  assert_int_equal(dln_task_check(&dln_task_regression, &o, NULL), DLN_OK);
  tset(&o, "reduce", "false");
  tset(&o, "symmetric_target", "false");
  tset(&o, "cols", "10");
  /* the tasks' own rules */
  tset(&o, "x_file", "X.npy");
  refuse(&dln_task_regression, &o, "x_file", "expected x_file and y_file together, found only x_file");
  tset(&o, "x_file", "");
  tset(&o, "b_file", "b.npy");
  refuse(&dln_task_sensing, &o, "b_file", "expected a_file and b_file together, found only one");
  tset(&o, "b_file", "");
  tset(&o, "m", "51");
  refuse(&dln_task_completion, &o, "m", "expected at most rows*cols = 50 observed entries, found 51");
  assert_int_equal(dln_task_check(&dln_task_sensing, &o, NULL), DLN_OK);
  tset(&o, "entries_file", "E.npy");
  assert_int_equal(dln_task_check(&dln_task_completion, &o, NULL), DLN_OK);
  tset(&o, "m", "0");
  refuse(&dln_task_completion, &o, "m", "expected an integer >= 1, found 0");
  tset(&o, "m", "20");
  /* foreign options: another task's data files, reduce */
  refuse(&dln_task_sensing, &o, "entries_file", "expected only with task completion, found task sensing");
  tset(&o, "entries_file", "");
  tset(&o, "x_file", "X.npy");
  tset(&o, "y_file", "Y.npy");
  assert_int_equal(dln_task_check(&dln_task_regression, &o, NULL), DLN_OK);
  refuse(&dln_task_factorization, &o, "x_file", "expected only with task regression, found task factorization");
  tset(&o, "x_file", "");
  tset(&o, "y_file", "");
  tset(&o, "a_file", "A.npy");
  tset(&o, "b_file", "b.npy");
  refuse(&dln_task_completion, &o, "a_file", "expected only with task sensing, found task completion");
  tset(&o, "a_file", "");
  tset(&o, "b_file", "");
  tset(&o, "target_file", "T.npy"); /* a common row: W_true of every synthetic task */
  for (int i = 0; i < 4; ++i) assert_int_equal(dln_task_check(tasks4[i], &o, NULL), DLN_OK);
  tset(&o, "reduce", "true");
  refuse(&dln_task_sensing, &o, "reduce", "expected false unless task is regression, found true");
  const char *f = NULL;
  assert_int_equal(dln_task_check_foreign(&dln_task_completion, &o, &f), DLN_EINVAL);
  assert_string_equal(f, "reduce");
  assert_int_equal(dln_task_check_foreign(&dln_task_regression, &o, &f), DLN_OK);
  topts_free(&o);
}

static void irefuse(const dln_init_type *t, dln_init_options *o, const dln_init_context *ctx, const char *field,
                    const char *frag) {
  const char *f = NULL;
  int st = dln_init_check(t, o, ctx, &f);
  if (st != DLN_EINVAL) fail_msg("%s: expected a refusal naming %s, found status %d", t->name, field, st);
  if (!f || strcmp(f, field) != 0) fail_msg("%s: expected field %s, found %s (%s)", t->name, field, f ? f : "-", dln_last_error());
  if (!strstr(dln_last_error(), frag)) fail_msg("%s: expected '%s' in '%s'", t->name, frag, dln_last_error());
}

static void test_init_checks(void **state) {
  (void)state;
  dln_init_options o;
  iopts(&o);
  int w2[] = {10, 50, 5}, w1[] = {10, 5}, wt[] = {5, 50, 5}, w3[] = {10, 50, 50, 5};
  unsigned fact = dln_task_factorization.caps(NULL), reg = dln_task_regression.caps(&(dln_task_options){0});
  dln_init_context c = {.depth = 2, .widths = w2, .loss_caps = fact, .task_name = "factorization", .target_rows = 5,
                        .target_cols = 10, .width_option = "width"};
  for (int i = 0; i < 4; ++i) assert_int_equal(dln_init_check(inits8[i], &o, &c, NULL), inits8[i] == &dln_init_type_imbalanced ? DLN_EINVAL : DLN_OK);
  /* rows */
  const dln_option *alpha = init_row("alpha");
  o.alpha = 0;
  assert_int_equal(dln_option_validate(&o, alpha, "alpha"), DLN_EINVAL);
  assert_non_null(strstr(dln_last_error(), "expected a positive finite number, found 0"));
  o.alpha = 0.5;
  iset(&o, "layer_scales", "1,0");
  assert_int_equal(dln_option_validate(&o, init_row("layer_scales"), "layer_scales"), DLN_EINVAL);
  assert_non_null(strstr(dln_last_error(), "expected positive finite numbers, found 0 at item 2"));
  iset(&o, "sigma0", "1,-1");
  assert_int_equal(dln_option_validate(&o, init_row("sigma0"), "sigma0"), DLN_EINVAL);
  assert_non_null(strstr(dln_last_error(), "expected non-negative finite numbers, found -1 at item 2"));
  iset(&o, "sigma0", "");
  iset(&o, "init_product_widths", "10,0,5");
  assert_int_equal(dln_option_validate(&o, init_row("init_product_widths"), "init_product_widths"), DLN_EINVAL);
  assert_non_null(strstr(dln_last_error(), "expected widths >= 1, found 0 at item 2"));
  /* sigma of the scaled schemes */
  iset(&o, "layer_scales", "");
  iset(&o, "init_product_widths", "");
  o.sigma = 0;
  irefuse(&dln_init_type_gaussian, &o, &c, "sigma", "expected a positive finite number, found 0");
  irefuse(&dln_init_type_balanced, &o, &c, "sigma", "expected a positive finite number");
  c.loss_caps = reg;
  irefuse(&dln_init_type_orthogonal_minnorm, &o, &c, "sigma", "expected a positive finite number");
  c.loss_caps = fact;
  assert_int_equal(dln_init_check(&dln_init_type_width_scaled, &o, &c, NULL), DLN_OK);
  o.sigma = 0.01;
  /* width_scaled */
  c.depth = 1, c.widths = w1;
  irefuse(&dln_init_type_width_scaled, &o, &c, "init", "expected depth >= 2 for width_scaled, found depth 1");
  c.depth = 2, c.widths = w2;
  /* layer_scales, imbalanced */
  iset(&o, "layer_scales", "1,2,3");
  irefuse(&dln_init_type_balanced, &o, &c, "layer_scales", "expected 2 scales (one per layer), found 3");
  iset(&o, "layer_scales", "");
  irefuse(&dln_init_type_imbalanced, &o, &c, "layer_scales", "expected layer_scales for init imbalanced, found none");
  iset(&o, "layer_scales", "2,0.5");
  assert_int_equal(dln_init_check(&dln_init_type_imbalanced, &o, &c, NULL), DLN_OK);
  iset(&o, "layer_scales", "");
  /* init_product_widths */
  iset(&o, "init_product_widths", "10,20,30,5");
  assert_int_equal(dln_init_check(&dln_init_type_gaussian, &o, &c, NULL), DLN_OK);
  irefuse(&dln_init_type_balanced, &o, &c, "init_product_widths", "expected only with init gaussian, found init balanced");
  iset(&o, "init_product_widths", "10,20,4");
  irefuse(&dln_init_type_gaussian, &o, &c, "init_product_widths", "expected widths from d_0 = 10 to d_N = 5, found 3 entries from 10 to 4");
  c.tied = 1;
  irefuse(&dln_init_type_gaussian, &o, &c, "init_product_widths", "expected an untied network, found tied");
  c.tied = 0;
  iset(&o, "init_product_widths", "");
  /* spectral */
  iset(&o, "ubar", "1,1,1,1,1");
  iset(&o, "vbar", "1,1,1,1,1");
  assert_int_equal(dln_init_check(&dln_init_type_spectral, &o, &c, NULL), DLN_OK);
  c.loss_caps = reg, c.task_name = "regression";
  irefuse(&dln_init_type_spectral, &o, &c, "init", "expected an untied depth-2 factorization for init spectral, found task regression, depth 2");
  c.loss_caps = fact, c.task_name = "factorization";
  c.depth = 3, c.widths = w3;
  irefuse(&dln_init_type_spectral, &o, &c, "init", "depth 3");
  c.depth = 2, c.widths = w2;
  int wn[] = {10, 8, 5};
  c.widths = wn;
  irefuse(&dln_init_type_spectral, &o, &c, "width", "expected hidden width >= max(rows, cols) = 10 for init spectral, found 8");
  c.width_option = "widths";
  irefuse(&dln_init_type_spectral, &o, &c, "widths", "found 8");
  c.shape_from_files = 1; /* shape unknown until the data are read */
  assert_int_equal(dln_init_check(&dln_init_type_spectral, &o, &c, NULL), DLN_OK);
  c.shape_from_files = 0, c.widths = w2;
  iset(&o, "vbar", "1,1");
  irefuse(&dln_init_type_spectral, &o, &c, "vbar", "expected min(rows, cols) = 5 values, found 2");
  /* spectral_symmetric */
  irefuse(&dln_init_type_spectral_symmetric, &o, &c, "tied", "expected tied = true for init spectral_symmetric, found false");
  c.tied = 1, c.widths = wt, c.target_cols = 5;
  irefuse(&dln_init_type_spectral_symmetric, &o, &c, "sigma0", "expected rows = 5 values, found 0");
  iset(&o, "sigma0", "1,1,1,1,1");
  assert_int_equal(dln_init_check(&dln_init_type_spectral_symmetric, &o, &c, NULL), DLN_OK);
  c.tied = 0, c.widths = w2, c.target_cols = 10;
  /* orthogonal_minnorm */
  irefuse(&dln_init_type_orthogonal_minnorm, &o, &c, "init", "expected a depth-2 regression for init orthogonal_minnorm, found task factorization");
  c.loss_caps = reg;
  assert_int_equal(dln_init_check(&dln_init_type_orthogonal_minnorm, &o, &c, NULL), DLN_OK);
  c.depth = 3, c.widths = w3;
  irefuse(&dln_init_type_orthogonal_minnorm, &o, &c, "init", "depth 3");
  /* file */
  irefuse(&dln_init_type_file, &o, &c, "init_files", "expected 3 files (W1..WN) or one pattern with {j}, found 0");
  iset(&o, "init_files", "W{j}.npy");
  assert_int_equal(dln_init_check(&dln_init_type_file, &o, &c, NULL), DLN_OK);
  iset(&o, "init_files", "a.npy,b.npy");
  irefuse(&dln_init_type_file, &o, &c, "init_files", "found 2");
  iopts_free(&o);
}

/* ------------------------------------------------------------------ init types = direct calls */

static void same_theta(const dln_net *net, const double *a, const double *b) {
  assert_memory_equal(a, b, net->nparams * sizeof(double));
}

/* Apply t to net from stream (11, 0); compare with th0 drawn by the direct call and the
 * streams after both. */
static void check_apply(const dln_init_type *t, const dln_init_options *o, const dln_net *net, const dln_loss *loss,
                        const double *th0, dln_rng *r0) {
  double *th1 = tu_dalloc(net->nparams);
  dln_rng *r1 = dln_rng_alloc(11, 0);
  const char *field = NULL;
  int st = t->apply(o, net, th1, r1, loss, &field);
  if (st) fail_msg("%s: %s (field %s)", t->name, dln_last_error(), field ? field : "-");
  same_theta(net, th0, th1);
  same_stream(r0, r1);
  dln_rng_free(r1);
  free(th1);
}

static dln_net *mknet(int depth, const int *w, int tied) {
  dln_net *n = NULL;
  assert_int_equal(dln_net_alloc(&n, depth, w, tied), DLN_OK);
  return n;
}

static void test_init_types(void **state) {
  (void)state;
  dln_init_options o;
  iopts(&o);
  int w2[] = {10, 12, 5}, w3[] = {10, 7, 6, 5}, w1[] = {10, 5}, wt[] = {5, 6, 5};
  dln_net *n2 = mknet(2, w2, 0), *n3 = mknet(3, w3, 0), *n1 = mknet(1, w1, 0), *nt = mknet(2, wt, 1);
  double *th = tu_dalloc(1000);
  dln_rng *r0;
  /* gaussian, on every net; with layer_scales; imbalanced */
  dln_net *nets[] = {n1, n2, n3, nt};
  for (int i = 0; i < 4; ++i) {
    r0 = dln_rng_alloc(11, 0);
    assert_int_equal(dln_init_gaussian(nets[i], th, r0, 0.01, NULL), DLN_OK);
    check_apply(&dln_init_type_gaussian, &o, nets[i], NULL, th, r0);
    dln_rng_free(r0);
  }
  iset(&o, "layer_scales", "2,0.5,1");
  double sc[] = {2, 0.5, 1};
  r0 = dln_rng_alloc(11, 0);
  assert_int_equal(dln_init_gaussian(n3, th, r0, 0.01, sc), DLN_OK);
  check_apply(&dln_init_type_gaussian, &o, n3, NULL, th, r0);
  dln_rng_free(r0);
  r0 = dln_rng_alloc(11, 0);
  assert_int_equal(dln_init_gaussian(n3, th, r0, 0.01, sc), DLN_OK);
  check_apply(&dln_init_type_imbalanced, &o, n3, NULL, th, r0);
  dln_rng_free(r0);
  iset(&o, "layer_scales", "");
  /* gaussian with init_product_widths: depth 1 (the product) and depth 3 (balanced factors) */
  iset(&o, "init_product_widths", "10,20,30,5");
  int pw[] = {10, 20, 30, 5};
  for (int k = 0; k < 2; ++k) {
    dln_net *net = k ? n3 : n1, *aux = mknet(3, pw, 0);
    double *ta = tu_dalloc(aux->nparams);
    dln_mat *W0 = dln_mat_alloc(5, 10);
    r0 = dln_rng_alloc(11, 0);
    memset(th, 0, 1000 * sizeof *th);
    assert_int_equal(dln_init_gaussian(aux, ta, r0, 0.01, NULL), DLN_OK);
    assert_int_equal(dln_net_product(aux, ta, W0->data), DLN_OK);
    if (k) assert_int_equal(dln_init_balanced(net, th, W0, r0), DLN_OK);
    else memcpy(th, W0->data, 50 * sizeof(double));
    check_apply(&dln_init_type_gaussian, &o, net, NULL, th, r0);
    dln_rng_free(r0);
    dln_mat_free(W0);
    free(ta);
    dln_net_free(aux);
  }
  iset(&o, "init_product_widths", "10,20,4");
  {
    const char *f = NULL;
    r0 = dln_rng_alloc(11, 0);
    assert_int_equal(dln_init_type_gaussian.apply(&o, n2, th, r0, NULL, &f), DLN_EDIM);
    assert_string_equal(f, "init_product_widths");
    dln_rng_free(r0);
  }
  iset(&o, "init_product_widths", "");
  /* width_scaled */
  o.alpha = 0.4;
  r0 = dln_rng_alloc(11, 0);
  assert_int_equal(dln_init_width_scaled(n3, th, r0, 0.4), DLN_OK);
  check_apply(&dln_init_type_width_scaled, &o, n3, NULL, th, r0);
  dln_rng_free(r0);
  /* balanced */
  o.sigma = 0.3;
  r0 = dln_rng_alloc(11, 0);
  {
    dln_mat *W0 = NULL;
    assert_int_equal(dln_data_gaussian(r0, 5, 10, 0.3, &W0), DLN_OK);
    assert_int_equal(dln_init_balanced(n3, th, W0, r0), DLN_OK);
    dln_mat_free(W0);
  }
  check_apply(&dln_init_type_balanced, &o, n3, NULL, th, r0);
  dln_rng_free(r0);
  /* spectral (asymmetric) from a factorization loss; and a regression reduced to one */
  dln_rng *g = dln_rng_alloc(5, 0);
  dln_mat *T = NULL, *S = NULL, *X = NULL, *Y = NULL;
  assert_int_equal(dln_data_gaussian(g, 5, 10, 1.0, &T), DLN_OK);
  double lam[] = {2, 1, -1, 0.5, 0.1};
  assert_int_equal(dln_data_symmetric(g, 5, lam, &S), DLN_OK);
  assert_int_equal(dln_data_regression(g, 10, 5, 6, 0, NULL, 0, &X, &Y), DLN_OK);
  dln_loss *lf = NULL, *ls = NULL, *lr = NULL;
  assert_int_equal(dln_loss_factorization_alloc(&lf, T), DLN_OK);
  assert_int_equal(dln_loss_factorization_alloc(&ls, S), DLN_OK);
  assert_int_equal(dln_loss_regression_alloc(&lr, X, Y), DLN_OK);
  iset(&o, "ubar", "1,0.5,0.25,0.1,0.05");
  iset(&o, "vbar", "0.5,0.5,0.25,0.2,0.1");
  int ws[] = {10, 10, 5};
  dln_net *nsp = mknet(2, ws, 0);
  r0 = dln_rng_alloc(11, 0);
  assert_int_equal(dln_init_spectral_asymmetric(nsp, th, T, o.ubar.v, o.vbar.v, r0), DLN_OK);
  check_apply(&dln_init_type_spectral, &o, nsp, lf, th, r0);
  dln_rng_free(r0);
  {
    const char *f = NULL;
    assert_int_equal(dln_init_type_spectral.apply(&o, nsp, th, NULL, lr, &f), DLN_EINVAL);
    assert_string_equal(f, "init");
    assert_non_null(strstr(dln_last_error(), "expected a factorization target for init spectral, found task regression"));
    iset(&o, "ubar", "1,2");
    assert_int_equal(dln_init_type_spectral.apply(&o, nsp, th, NULL, lf, &f), DLN_EDIM);
    assert_string_equal(f, "ubar");
  }
  /* spectral_symmetric on the tied net */
  iset(&o, "sigma0", "0.1,0.2,0.3,0.4,0.5");
  r0 = dln_rng_alloc(11, 0);
  assert_int_equal(dln_init_spectral_symmetric(nt, th, S, o.sigma0.v), DLN_OK);
  check_apply(&dln_init_type_spectral_symmetric, &o, nt, ls, th, r0);
  dln_rng_free(r0);
  /* orthogonal_minnorm from the regression loss's design */
  int wo[] = {10, 8, 5};
  dln_net *no = mknet(2, wo, 0);
  o.sigma = 0.2;
  r0 = dln_rng_alloc(11, 0);
  assert_int_equal(dln_init_orthogonal_minnorm(no, th, X, r0, 0.2), DLN_OK);
  check_apply(&dln_init_type_orthogonal_minnorm, &o, no, lr, th, r0);
  dln_rng_free(r0);
  /* file: one pattern with {j}, or one file per layer */
  const char *dir = tu_tmpdir(1);
  dln_mat *L[3] = {NULL, NULL, NULL};
  for (int j = 1; j <= 3; ++j) {
    assert_int_equal(dln_data_gaussian(g, w3[j], w3[j - 1], 1.0, &L[j - 1]), DLN_OK);
    char name[32];
    snprintf(name, sizeof name, "W%d.npy", j);
    assert_int_equal(dln_npy_write(tu_path(dir, name), L[j - 1]->rows, L[j - 1]->cols, L[j - 1]->data, 0), DLN_OK);
  }
  assert_int_equal(dln_init_from_layers(n3, th, L, 3), DLN_OK);
  char pat[512];
  snprintf(pat, sizeof pat, "%s/W{j}.npy", dir);
  iset(&o, "init_files", pat);
  r0 = dln_rng_alloc(11, 0);
  check_apply(&dln_init_type_file, &o, n3, NULL, th, r0);
  dln_rng_free(r0);
  {
    const char *f = NULL;
    o.load = NULL;
    assert_int_equal(dln_init_type_file.apply(&o, n3, th, NULL, NULL, &f), DLN_EINVAL);
    assert_string_equal(f, "init_files");
    o.load = dln_matrix_load;
    snprintf(pat, sizeof pat, "%s/V{j}.npy", dir);
    iset(&o, "init_files", pat);
    assert_int_not_equal(dln_init_type_file.apply(&o, n3, th, NULL, NULL, &f), DLN_OK);
    assert_string_equal(f, "init_files");
  }
  tu_rmtree(dir);
  for (int j = 0; j < 3; ++j) dln_mat_free(L[j]);
  dln_loss_free(lf), dln_loss_free(ls), dln_loss_free(lr);
  dln_mat_free(T), dln_mat_free(S), dln_mat_free(X), dln_mat_free(Y);
  dln_rng_free(g);
  dln_net_free(n1), dln_net_free(n2), dln_net_free(n3), dln_net_free(nt), dln_net_free(nsp), dln_net_free(no);
  free(th);
  iopts_free(&o);
}

int main(void) {
  tu_seed(20261204);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rows),
      cmocka_unit_test(test_factorization_data),
      cmocka_unit_test(test_regression_data),
      cmocka_unit_test(test_sensing_completion_data),
      cmocka_unit_test(test_file_data),
      cmocka_unit_test(test_task_checks),
      cmocka_unit_test(test_init_checks),
      cmocka_unit_test(test_init_types),
      cmocka_unit_test(test_registry), /* last: it registers toy types */
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
