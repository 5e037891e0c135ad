/* det_sign (dln_init_draw, dln/init.h): the init redrawn from the same stream until
 * sign det W(0) is the requested one (002 Lemma 2, Prop. 5, Ex. 4; Razin & Cohen).
 * Truths: det of 2x2 / 3x3 matrices by the cofactor (Leibniz) formula; the product
 * W = W_2 W_1 of the .npy files by plain loops; a run without det_sign gives the first
 * draw, so a run with det_sign agreeing with it must take one draw and the same bytes,
 * and one disagreeing with it at least two. Identical seeds give identical files. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "testutil.h"

#include "dln/error.h"
#include "dln/init.h"
#include "dln/io.h"

static char dir[64];
static const char *tpath(const char *name) { return tu_path(dir, name); }
static int run_cli(const char *const *args) { return tu_wait(tu_spawn(DLN_CLI, args, dir)); }

static double det3(const double *a) { /* column-major a[i + 3j] */
#define A(i, j) a[(i) + 3 * (j)]
  return A(0, 0) * (A(1, 1) * A(2, 2) - A(1, 2) * A(2, 1)) - A(0, 1) * (A(1, 0) * A(2, 2) - A(1, 2) * A(2, 0)) +
         A(0, 2) * (A(1, 0) * A(2, 1) - A(1, 1) * A(2, 0));
#undef A
}
static int sgn(double x) { return (x > 0) - (x < 0); }

static void test_det_sign_hand(void **state) {
  (void)state;
  double a[9];
  int s = 9;
  for (int k = 0; k < 200; ++k) {
    tu_fill_gauss(9, a, 1);
    assert_int_equal(dln_det_sign(3, a, &s), DLN_OK);
    assert_int_equal(s, sgn(det3(a)));
    assert_int_equal(dln_det_sign(2, a, &s), DLN_OK); /* leading 2x2 of a column-major 2x2 view */
    assert_int_equal(s, sgn(a[0] * a[3] - a[2] * a[1]));
  }
  const double perm[9] = {0, 1, 0, 1, 0, 0, 0, 0, 1}, sing[9] = {1, 2, 3, 2, 4, 6, 0, 1, 1};
  assert_int_equal(dln_det_sign(3, perm, &s), DLN_OK);
  assert_int_equal(s, -1);
  assert_int_equal(dln_det_sign(3, sing, &s), DLN_OK);
  assert_int_equal(s, 0);
}

/* dln_init_draw on the gaussian scheme: the sign holds, the draws count, the cap. */
static void test_draw_lib(void **state) {
  (void)state;
  int widths[3] = {3, 5, 3}, tot = 0, more = 0;
  dln_net *net = NULL;
  assert_int_equal(dln_net_alloc(&net, 2, widths, 0), DLN_OK);
  double *th = tu_dalloc(net->nparams), *th2 = tu_dalloc(net->nparams), W[9];
  const dln_init_type *g = dln_init_find("gaussian");
  assert_non_null(g);
  dln_init_options o;
  memset(&o, 0, sizeof o);
  o.sigma = 1;
  o.det_sign_draws = 1000;
  for (int want = -1; want <= 1; want += 2)
    for (uint64_t seed = 1; seed <= 20; ++seed) {
      o.det_sign = want;
      dln_rng *r1 = dln_rng_alloc(seed, 0), *r2 = dln_rng_alloc(seed, 0);
      int draws = 0, d2 = 0;
      const char *field = NULL;
      assert_int_equal(dln_init_draw(g, &o, net, th, r1, NULL, &field, &draws), DLN_OK);
      assert_int_equal(dln_net_product(net, th, W), DLN_OK);
      assert_int_equal(sgn(det3(W)), want);
      /* the same stream: the same draws, bit for bit */
      assert_int_equal(dln_init_draw(g, &o, net, th2, r2, NULL, &field, &d2), DLN_OK);
      assert_int_equal(draws, d2);
      assert_true(memcmp(th, th2, net->nparams * sizeof *th) == 0);
      /* the cap: one draw fewer fails, naming det_sign */
      if (draws > 1) {
        ++more;
        dln_rng_free(r2);
        r2 = dln_rng_alloc(seed, 0);
        o.det_sign_draws = draws - 1;
        assert_int_equal(dln_init_draw(g, &o, net, th2, r2, NULL, &field, &d2), DLN_EINVAL);
        assert_string_equal(field, "det_sign");
        assert_non_null(strstr(dln_last_error(), "det_sign_draws"));
        o.det_sign_draws = 1000;
      }
      tot += draws;
      dln_rng_free(r1);
      dln_rng_free(r2);
    }
  if (tu_verbose()) print_message("40 draws for both signs: %d draws in all, %d needed more than one\n", tot, more);
  assert_true(more > 0 && tot > 40); /* about half the first draws have the other sign */
  free(th);
  free(th2);
  dln_net_free(net);
}

static double w_init_det(const char *run) {
  char p1[64], p2[64];
  snprintf(p1, sizeof p1, "%s/W1_init.npy", run);
  snprintf(p2, sizeof p2, "%s/W2_init.npy", run);
  dln_mat *a = NULL, *b = NULL;
  assert_int_equal(dln_npy_read(tpath(p1), &a), DLN_OK);
  assert_int_equal(dln_npy_read(tpath(p2), &b), DLN_OK);
  double W[9];
  tu_mm(0, 0, 3, 3, 4, b->data, a->data, W);
  dln_mat_free(a), dln_mat_free(b);
  return det3(W);
}

static long draws_of(const char *run) {
  char p[64];
  snprintf(p, sizeof p, "%s/summary.json", run);
  json_error_t e;
  json_t *j = json_load_file(tpath(p), 0, &e);
  assert_non_null(j);
  json_t *d = json_object_get(json_object_get(j, "init_det_sign"), "draws");
  long v = json_is_integer(d) ? (long)json_integer_value(d) : -1;
  json_decref(j);
  return v;
}

static int same_file(const char *a, const char *b) {
  char pa[1024];
  snprintf(pa, sizeof pa, "%s", tpath(a));
  return tu_same_bytes(pa, tpath(b));
}

static void test_cli(void **state) {
  (void)state;

  for (int seed = 1; seed <= 6; ++seed) {
    char sd[32], o0[32], o1[32], o2[32], oo0[40], oo1[40], oo2[40];
    snprintf(sd, sizeof sd, "--seed=%d", seed);
    snprintf(o0, sizeof o0, "p%d", seed), snprintf(o1, sizeof o1, "m%d", seed), snprintf(o2, sizeof o2, "n%d", seed);
    snprintf(oo0, sizeof oo0, "--out=%s", o0), snprintf(oo1, sizeof oo1, "--out=%s", o1), snprintf(oo2, sizeof oo2, "--out=%s", o2);
    const char *plain[] = {"run", "--task=factorization", "--rows=3", "--cols=3", "--widths=3,4,3", "--t_end=0.01", "--samples=2",
                           "--plot=false", "--quiet", sd, oo0, NULL};
    assert_int_equal(run_cli(plain), 0);
    int first = sgn(w_init_det(o0));
    assert_true(first != 0);
    const char *neg[] = {"run", "--task=factorization", "--rows=3", "--cols=3", "--widths=3,4,3", "--t_end=0.01", "--samples=2",
                         "--plot=false", "--quiet", sd, "--det_sign=-1", oo1, NULL};
    assert_int_equal(run_cli(neg), 0);
    const char *pos[] = {"run", "--task=factorization", "--rows=3", "--cols=3", "--widths=3,4,3", "--t_end=0.01", "--samples=2",
                         "--plot=false", "--quiet", sd, "--det_sign=+1", oo2, NULL};
    assert_int_equal(run_cli(pos), 0);
    assert_true(w_init_det(o1) < 0);
    assert_true(w_init_det(o2) > 0);
    const char *agree = first < 0 ? o1 : o2, *other = first < 0 ? o2 : o1;
    char a1[64], b1[64];
    snprintf(a1, sizeof a1, "%s/W1_init.npy", agree), snprintf(b1, sizeof b1, "%s/W1_init.npy", o0);
    assert_int_equal(draws_of(agree), 1);
    assert_true(same_file(a1, b1)); /* the first draw, untouched */
    assert_true(draws_of(other) >= 2);

    if (tu_verbose()) print_message("seed %d: first draw sign %+d; det_sign -1: %ld draws, +1: %ld draws\n", seed, first, draws_of(o1), draws_of(o2));
    if (seed == 5) { /* bit-identical per seed */
      const char *again[] = {"run", "--task=factorization", "--rows=3", "--cols=3", "--widths=3,4,3", "--t_end=0.01", "--samples=2",
                             "--plot=false", "--quiet", sd, "--det_sign=-1", "--out=m5b", NULL};
      assert_int_equal(run_cli(again), 0);
      assert_true(same_file("m5/W1_init.npy", "m5b/W1_init.npy") && same_file("m5/W2_init.npy", "m5b/W2_init.npy"));
      assert_int_equal(draws_of("m5b"), draws_of("m5"));
      const char *chk[] = {"check", "m5", "--quiet", NULL}; /* W_init = the spec's init, redrawn */
      assert_int_equal(run_cli(chk), 0);
    }
  }
}

/* A sweep: each entry's init_draws and compress_rank (the end point's, = its final row);
 * run 0 repeated by dln run from its rerun arguments draws as often. */
static void test_sweep(void **state) {
  (void)state;
  tu_write_text(tpath("s.json"), "{\"task\": \"factorization\", \"rows\": 3, \"cols\": 3, \"widths\": [3, 4, 3], \"t_end\": 1, "
                                 "\"samples\": 3, \"plot\": false, \"det_sign\": -1, \"sweep\": {\"seed\": [1, 2, 3]}}");
  const char *sw[] = {"sweep", "s.json", "--out=sw", "--quiet", NULL};
  assert_int_equal(run_cli(sw), 0);
  json_error_t e;
  json_t *j = json_load_file(tpath("sw/ensemble.json"), 0, &e);
  assert_non_null(j);
  json_t *runs = json_object_get(j, "runs");
  assert_int_equal(json_array_size(runs), 3);
  for (size_t i = 0; i < 3; ++i) {
    json_t *r = json_array_get(runs, i);
    json_t *d = json_object_get(r, "init_draws"), *c = json_object_get(r, "compress_rank");
    assert_true(json_is_integer(d) && json_integer_value(d) >= 1);
    assert_true(json_is_integer(c));
    assert_true((double)json_integer_value(c) == json_number_value(json_object_get(json_object_get(r, "final"), "compress_rank")));
  }
  long d0 = (long)json_integer_value(json_object_get(json_array_get(runs, 0), "init_draws"));
  json_decref(j);
  const char *rerun[] = {"run", "s.json", "--out=re", "--target_file=sw/data/0/target.npy", "--seed=1", "--stream=0", "--quiet", NULL};
  assert_int_equal(run_cli(rerun), 0);
  assert_int_equal(draws_of("re"), d0);
  assert_true(w_init_det("re") < 0);
}

static int setup(void **state) { return (void)state, tu_tmpdir_into(dir, sizeof dir); }
static int teardown(void **state) { return (void)state, tu_rmtree_quiet(dir); }

int main(void) {
  tu_seed(4242);
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_det_sign_hand), cmocka_unit_test(test_draw_lib), cmocka_unit_test(test_cli), cmocka_unit_test(test_sweep)};
  return cmocka_run_group_tests(tests, setup, teardown);
}
