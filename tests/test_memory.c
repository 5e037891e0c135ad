/* Memory of a run (dln/memory.h, docs/memory.md; issue 14).
 *
 * - No growth: GD on the 5x10 width-50 factorization with every observable, NSTEPS steps
 *   (10^5 here, 10^6 in test_slow_memory.c), 101 samples; at every sample the bytes libdln
 *   holds (the allocation hook) are those of the first sample exactly, and the resident
 *   set grows by at most the table rows written since plus 64 KiB (pages of the stack;
 *   not under AddressSanitizer, whose own bookkeeping pages grow).
 * - The hook's count against an independent tally: a network of known widths holds at
 *   least its weights and the workspace of the net.c comment, and nothing after its free.
 * - `dln run`'s summary.json "memory": weights_bytes = 8 x parameters, need between the
 *   arrays the run must hold (θ, θ(0), the target, the gradient) and 40x the weights,
 *   peak RSS >= baseline, and ratio = (peak − baseline) / need <= 1.3 for a 256 x 256
 *   depth-3 network (not under AddressSanitizer: its quarantine keeps freed blocks). */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "alloc_count.h"
#include "dln/dln.h"
#include "core/util.h" /* dln_now_seconds */
#include "testutil.h"

#ifndef NSTEPS
#define NSTEPS 100000L
#endif
#define NSAMPLES 101

typedef struct samples {
  int n;
  long long heap[NSAMPLES], rss[NSAMPLES];
  size_t rows[NSAMPLES];
  const dln_table *tb;
} samples;

static int on_sample(void *ctx, double t, long step, const double *x, const dln_net *net) {
  (void)t, (void)step, (void)x, (void)net;
  samples *s = ctx;
  dln_memory_sample m;
  if (s->n >= NSAMPLES || dln_memory_sample_now(&m)) return 1;
  s->heap[s->n] = m.heap_bytes;
  s->rss[s->n] = m.rss_bytes;
  s->rows[s->n] = s->tb->nrows;
  s->n++;
  return 0;
}

static void test_no_growth(void **state) {
  (void)state;
  const int widths[3] = {10, 50, 5};
  dln_net *net;
  dln_loss *loss;
  double *theta;
  tu_fact_problem(3, 2, widths, 0.1, &net, &loss, &theta);
  dln_observer *obs = NULL;
  assert_int_equal(dln_observer_alloc(&obs, net, loss, theta, DLN_OBS_ALL), DLN_OK);
  int nc = dln_observer_ncols(obs);
  const char **names = malloc((size_t)nc * sizeof *names);
  assert_non_null(names);
  for (int i = 0; i < nc; ++i) names[i] = dln_observer_colname(obs, i);
  dln_table *tb = NULL;
  assert_int_equal(dln_table_alloc(&tb, nc, names, NSAMPLES + 1), DLN_OK);
  free(names);
  samples *s = calloc(1, sizeof *s);
  assert_non_null(s);
  s->tb = tb;
  dln_train_options o;
  dln_train_default_options(&o);
  o.method = &dln_integrator_gd;
  o.eta = 1e-3;
  o.t_end = (double)NSTEPS * o.eta;
  o.nsamples = NSAMPLES;
  o.on_sample = on_sample;
  o.on_sample_ctx = s;
  dln_train_result r;
  double t0 = dln_now_seconds();
  assert_int_equal(dln_train(net, loss, theta, &o, obs, tb, &r), DLN_OK);
  assert_int_equal(r.steps, NSTEPS);
  assert_int_equal(s->n, NSAMPLES);
  int k0 = NSAMPLES / 10; /* after a tenth of the run */
  long long row_bytes = (long long)nc * (long long)sizeof(double);
  long long allowed = (long long)(s->rows[NSAMPLES - 1] - s->rows[k0]) * row_bytes + 64 * 1024;
  print_message("%ld GD steps in %.2f s, %d columns: libdln holds %lld bytes at sample 1 and %lld at the last; "
                "RSS %lld -> %lld bytes from sample %d to the last (allowed growth %lld: the rows written + 64 KiB)\n",
                NSTEPS, dln_now_seconds() - t0, nc, s->heap[1], s->heap[NSAMPLES - 1], s->rss[k0], s->rss[NSAMPLES - 1], k0,
                allowed);
  for (int i = 2; i < NSAMPLES; ++i) assert_true(s->heap[i] == s->heap[1]); /* exactly: no allocation in the loop */
  assert_true(s->rss[k0] > 0);
  if (DLN_HAVE_ALLOC_COUNTER) assert_true(s->rss[NSAMPLES - 1] - s->rss[k0] <= allowed); /* ASan's own pages grow */
  free(s);
  dln_table_free(tb);
  dln_observer_free(obs);
  dln_net_free(net);
  dln_loss_free(loss);
  free(theta);
}

/* The hook's count against a tally from the widths: dln_net_alloc holds at least the
 * workspace its comment lists (P_j, dP_j d_j x d_0 each; G, dG d_N x d_0; B, B2, dB, dB2
 * and S max_j d_j x d_0; C max d_j²; T and S2 max_j d_j d_{j-1}), and returns to the count
 * it started from. */
static void test_hook_tally(void **state) {
  (void)state;
  const int w[4] = {30, 40, 20, 10};
  size_t d0 = 30, pj = (40 + 20 + 10) * d0, ws = 2 * pj + 2 * 10 * d0 + 5 * 40 * d0 + 40 * 40 + 2 * 40 * 30;
  dln_memory_sample a, b, c;
  assert_int_equal(dln_memory_mark(&a), DLN_OK);
  dln_net *net = NULL;
  assert_int_equal(dln_net_alloc(&net, 3, w, 0), DLN_OK);
  assert_int_equal(dln_memory_sample_now(&b), DLN_OK);
  dln_net_free(net);
  assert_int_equal(dln_memory_sample_now(&c), DLN_OK);
  long long held = b.heap_bytes - a.heap_bytes;
  print_message("net [30, 40, 20, 10]: %lld bytes held, workspace tally %zu bytes\n", held, ws * sizeof(double));
  assert_true(held >= (long long)(ws * sizeof(double)));
  assert_true(held <= (long long)(ws * sizeof(double)) + 4096); /* plus the small arrays and malloc's headers */
  assert_true(b.heap_peak_bytes >= b.heap_bytes);
  assert_true(c.heap_bytes == a.heap_bytes);
  assert_true(c.heap_peak_bytes == b.heap_peak_bytes);
}

static long long jint(json_t *o, const char *k) {
  json_t *v = json_object_get(o, k);
  if (!json_is_integer(v)) print_error("memory.%s: expected an integer\n", k);
  assert_true(json_is_integer(v));
  return (long long)json_integer_value(v);
}

static void test_summary(void **state) {
  (void)state;
  const char *dir = tu_tmpdir(0);
  const int n = 256;
  const char *args[] = {"run", "--task=factorization", "--rows=256", "--cols=256", "--widths=256,256,256,256",
                        "--init=gaussian", "--sigma=0.01", "--method=gd", "--eta=1e-3", "--t_end=2e-3", "--samples=3",
                        "--observe=loss", "--plot=false", "--quiet", "--out=run", NULL};
  assert_int_equal(tu_wait(tu_spawn(DLN_CLI, args, dir)), 0);
  json_error_t je;
  json_t *sum = json_load_file(tu_path(dir, "run/summary.json"), 0, &je);
  assert_non_null(sum);
  json_t *m = json_object_get(sum, "memory");
  assert_true(json_is_object(m));
  long long P = 3LL * n * n, need = jint(m, "need_bytes"), base = jint(m, "baseline_rss_bytes"),
            peak = jint(m, "peak_rss_bytes");
  double ratio = json_real_value(json_object_get(m, "ratio"));
  print_message("n = %d depth 3 GD: need %lld bytes (weights %lld), baseline RSS %lld, peak RSS %lld, ratio %.3f, peak since %s\n",
                n, need, 8 * P, base, peak, ratio, json_string_value(json_object_get(m, "peak_since")));
  assert_true(jint(m, "weights_bytes") == 8 * P);
  /* θ, θ(0), GD's gradient and next state (4 P) and the target n²: a lower bound on what it holds */
  assert_true(need >= 8 * (4 * P + (long long)n * n));
  assert_true(need <= 40 * 8 * P);
  assert_true(peak >= base && base > 0);
  assert_true(tu_close(ratio, (double)(peak - base) / (double)need, 1e-12, 0));
  if (DLN_HAVE_ALLOC_COUNTER) assert_true(ratio <= 1.3); /* not under ASan (quarantine) */
  json_decref(sum);
  tu_rmtree(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_no_growth), cmocka_unit_test(test_hook_tally),
                                     cmocka_unit_test(test_summary)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
