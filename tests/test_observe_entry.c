/* --observe=entry:i,j and --observe=layers (issue 9).
 *
 * entry: the W_i_j columns equal the entries of W = W_N···W_1 recomputed with the
 * plain-loop product of testutil (independent of the library's BLAS product), 1-based;
 * bad arguments (out of range, malformed, bare word, argument to an observable without
 * arguments) are refused with a message. layers (CLI): W{j}_samples.npy read back with
 * /usr/bin/python3 NumPy — shape (rows, d_j, d_{j-1}), C order, float64, first slice =
 * W{j}_init.npy, last slice = W{j}_final.npy bit for bit, one slice per trajectory row
 * (also when a loss threshold stops the run between sample times), the product of the slices
 * matches the entry columns, the files are in the manifest, and `dln check` passes — and
 * reports a last slice changed by one ulp as INCONSISTENT. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "dln/error.h"
#include "dln/loss.h"
#include "dln/net.h"
#include "dln/observe.h"
#include "testutil.h"

static void test_entry_columns(void **state) {
  (void)state;
  static const int w[] = {3, 4, 2}; /* W is 2 x 3 */
  dln_net *net;
  dln_loss *loss;
  double *theta;
  tu_fact_problem(3, 2, w, 0.7, &net, &loss, &theta);
  const char *names[] = {"loss", "entry:2,3", "entry:1,1", "entry:2,3", "entry:1,2"};
  dln_observer *obs;
  assert_int_equal(dln_observer_alloc_names(&obs, net, loss, theta, names, 5), DLN_OK);
  /* t, step, loss, loss_gap, then one column per distinct entry in the order given */
  assert_int_equal(dln_observer_ncols(obs), 7);
  assert_string_equal(dln_observer_colname(obs, 4), "W_2_3");
  assert_string_equal(dln_observer_colname(obs, 5), "W_1_1");
  assert_string_equal(dln_observer_colname(obs, 6), "W_1_2");
  double row[7], W[6];
  assert_int_equal(dln_observer_eval(obs, 0.5, 3, theta, row), DLN_OK);
  /* W = W_2 W_1 by plain loops: W_1 is 4 x 3, W_2 is 2 x 4 */
  tu_mm(0, 0, 2, 3, 4, dln_net_layer_const(net, theta, 2), dln_net_layer_const(net, theta, 1), W);
  assert_close(row[4], W[1 + 2 * 2], 1e-13, 1e-15); /* (2,3) 1-based: row 1, column 2 */
  assert_close(row[5], W[0], 1e-13, 1e-15);
  assert_close(row[6], W[0 + 1 * 2], 1e-13, 1e-15);
  assert_true(row[4] != row[5]);
  dln_observer_free(obs);

  static const struct {
    const char *word, *needle;
  } bad[] = {
      {"entry:3,1", "expected row i in 1..2 and column j in 1..3 (W is 2 x 3, 1-based), found i = 3, j = 1"},
      {"entry:1,4", "found i = 1, j = 4"},
      {"entry:0,1", "found i = 0, j = 1"},
      {"entry:1", "expected entry:i,j with integers"},
      {"entry:1,2,3", "expected entry:i,j with integers"},
      {"entry:a,b", "expected entry:i,j with integers"},
      {"entry", "expected 'entry:ARG'"},
      {"sv:2", "expected 'sv' without an argument"},
      {"nope:2", "found 'nope:2'"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; ++i) {
    const char *one[] = {bad[i].word};
    obs = (dln_observer *)1;
    assert_int_equal(dln_observer_alloc_names(&obs, net, loss, theta, one, 1), DLN_EINVAL);
    assert_null(obs);
    if (!strstr(dln_last_error(), bad[i].needle)) print_error("%s: %s\n", bad[i].word, dln_last_error());
    assert_non_null(strstr(dln_last_error(), bad[i].needle));
  }
  /* layers adds no column */
  const char *lay[] = {"layers"};
  assert_int_equal(dln_observer_alloc_names(&obs, net, loss, theta, lay, 1), DLN_OK);
  assert_int_equal(dln_observer_ncols(obs), 2);
  dln_observer_free(obs);
  dln_loss_free(loss);
  dln_net_free(net);
  free(theta);
}

static int have_numpy(void) { return system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") == 0; }

/* The NumPy check of one run folder (argv: folder, depth, tied 0/1). */
static const char *PY_CHECK =
    "import numpy as np, csv, json, sys\n"
    "d, N, tied = sys.argv[1], int(sys.argv[2]), sys.argv[3] == '1'\n"
    "rows = list(csv.reader(open(d + '/trajectory.csv'))); h = rows[0]; R = [[float(x) for x in r] for r in rows[1:]]\n"
    "man = json.load(open(d + '/manifest.json')); listed = json.dumps(man)\n"
    "names = ['U'] if tied else ['W%d' % j for j in range(1, N + 1)]\n"
    "L = []\n"
    "for n in names:\n"
    "    a = np.load(d + '/' + n + '_samples.npy')\n"
    "    assert a.dtype == np.float64 and a.ndim == 3 and a.flags['C_CONTIGUOUS'], (n, a.dtype, a.shape)\n"
    "    assert a.shape[0] == len(R), (n, a.shape, len(R))\n"
    "    assert np.array_equal(a[0], np.load(d + '/' + n + '_init.npy')), n\n"
    "    assert np.array_equal(a[-1], np.load(d + '/' + n + '_final.npy')), n\n"
    "    assert n + '_samples.npy' in listed, n\n"
    "    L.append(a)\n"
    "ent = [(c, int(c.split('_')[1]), int(c.split('_')[2])) for c in h if c.startswith('W_')]\n"
    "assert ent or tied\n"
    "for k, r in enumerate(R):\n"
    "    if tied: W = L[0][k] @ L[0][k].T\n"
    "    else:\n"
    "        W = L[0][k]\n"
    "        for a in L[1:]: W = a[k] @ W\n"
    "    for c, i, j in ent:\n"
    "        v = r[h.index(c)]\n"
    "        assert abs(v - W[i - 1, j - 1]) <= 1e-12 * (1 + abs(W).max()), (k, c, v, W[i - 1, j - 1])\n"
    "print('ok', len(R), [a.shape for a in L])\n";

static int cli(const char *dir, const char *const *args) { return tu_wait(tu_spawn(DLN_CLI, args, dir)); }

static void check_folder(const char *dir, const char *out, const char *depth, const char *tied) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, out);
  const char *py[] = {tu_path(dir, "check.py"), path, depth, tied, NULL};
  int rc = tu_wait(tu_spawn("/usr/bin/python3", py, dir));
  char *o = tu_slurp(tu_path(dir, "stdout.txt")), *e = tu_slurp(tu_path(dir, "stderr.txt"));
  if (rc || tu_verbose()) print_message("%s: %s%s\n", out, o, e);
  free(o);
  free(e);
  assert_int_equal(rc, 0);
  const char *chk[] = {"check", out, NULL};
  rc = cli(dir, chk);
  if (rc) print_error("dln check %s: %s\n", out, tu_slurp(tu_path(dir, "stdout.txt")));
  assert_int_equal(rc, 0);
}

static void test_layers_cli(void **state) {
  (void)state;
  if (!have_numpy()) {
    print_message("skipped: /usr/bin/python3 without numpy\n");
    skip();
  }
  const char *dir = tu_tmpdir(0);
  tu_write_text(tu_path(dir, "check.py"), PY_CHECK);
  /* depth 3, t_end a sample time; flow with explicit times */
  const char *a1[] = {"run", "--quiet", "--plot=false", "--out=o1", "--rows=3", "--cols=4", "--depth=3", "--width=5",
                      "--t_end=1", "--samples=7", "--observe=loss,entry:3,4,entry:1,1,layers", NULL};
  assert_int_equal(cli(dir, a1), 0);
  check_folder(dir, "o1", "3", "0");
  /* gd stopped by a loss threshold between sample times: the final row's slice is the final θ */
  const char *a2[] = {"run", "--quiet", "--plot=false", "--out=o2", "--rows=2", "--cols=3", "--width=4", "--method=gd",
                      "--eta=0.01", "--t_end=10", "--samples=11", "--loss_threshold=1e-3", "--observe=entry:2,1,layers", NULL};
  assert_int_equal(cli(dir, a2), 0);
  char *sum = tu_slurp(tu_path(dir, "o2/summary.json")), *traj = tu_slurp(tu_path(dir, "o2/trajectory.csv"));
  assert_non_null(strstr(sum, "\"stop_reason\": \"loss\"")); /* stopped by the threshold */
  assert_true(tu_count_lines(traj) >= 4 && tu_count_lines(traj) < 12); /* samples, then the stop point */
  free(sum);
  free(traj);
  check_folder(dir, "o2", "2", "0");
  /* the tied model U U^T: U_samples.npy */
  const char *a3[] = {"run", "--quiet", "--plot=false", "--out=o3", "--rows=3", "--cols=3", "--width=2", "--tied",
                      "--t_end=1", "--samples=4", "--observe=entry:1,2,layers", NULL};
  assert_int_equal(cli(dir, a3), 0);
  check_folder(dir, "o3", "2", "1");
  /* dln check's integrity row: a changed last slice is INCONSISTENT (exit 5) */
  const char *py[] = {"-c",
                      "import numpy as np, sys; p = sys.argv[1] + '/o1/W2_samples.npy'; a = np.load(p); "
                      "a[-1, 0, 0] = np.nextafter(a[-1, 0, 0], 1.0); np.save(p, a)",
                      dir, NULL};
  assert_int_equal(tu_wait(tu_spawn("/usr/bin/python3", py, dir)), 0);
  const char *chk[] = {"check", "o1", NULL};
  assert_int_equal(cli(dir, chk), 5);
  char *out = tu_slurp(tu_path(dir, "stdout.txt"));
  assert_non_null(strstr(out, "W2_samples.npy: last slice differs from the final layer in 1 of 25 entries"));
  free(out);
}

int main(void) {
  tu_seed(9);
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_entry_columns), cmocka_unit_test(test_layers_cli)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
