/* Shared test helpers (testutil.h). */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <lapacke.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dln/data.h"
#include "dln/error.h"
#include "dln/init.h"
#include "dln/mat.h"
#include "dln/rng.h"

/* ------------------------------------------------------------------ tolerances, files */

int tu_close(double a, double b, double rtol, double atol) {
  if (isnan(a) || isnan(b)) return 0;
  return fabs(a - b) <= atol + rtol * fabs(b);
}

void tu_assert_close(double a, double b, double rtol, double atol, const char *expr, const char *file, int line) {
  if (!tu_close(a, b, rtol, atol)) {
    print_error("%s = %.17g, expected %.17g (rtol %g, atol %g), |diff| = %g\n", expr, a, b, rtol, atol, fabs(a - b));
    _fail(file, line);
  }
}

double tu_maxdiff(size_t n, const double *a, const double *b) {
  double m = 0;
  for (size_t i = 0; i < n; ++i) {
    double d = fabs(a[i] - b[i]);
    if (isnan(d)) return NAN;
    if (d > m) m = d;
  }
  return m;
}

double tu_diffnorm(size_t n, const double *a, const double *b) {
  double s = 0;
  for (size_t i = 0; i < n; ++i) s += (a[i] - b[i]) * (a[i] - b[i]);
  return sqrt(s);
}

const char *tu_tmpdir(int index) {
  static char dirs[4][64];
  index &= 3;
  snprintf(dirs[index], sizeof dirs[index], "/tmp/dln-test-XXXXXX");
  if (!mkdtemp(dirs[index])) return NULL;
  return dirs[index];
}

void tu_rmtree(const char *path) {
  char cmd[512];
  if (!path || strncmp(path, "/tmp/", 5) != 0) return;
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", path);
}

int tu_verbose(void) {
  const char *e = getenv("DLN_TEST_VERBOSE");
  return e && *e && *e != '0';
}

int tu_cmp_asc(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int tu_cmp_desc(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x < y) - (x > y);
}

/* ------------------------------------------------------------------ text files, child processes */

char *tu_slurp(const char *path) {
  FILE *fp = fopen(path, "rb");
  if (!fp) return NULL;
  fseek(fp, 0, SEEK_END);
  long n = ftell(fp);
  fseek(fp, 0, SEEK_SET);
  char *b = malloc((size_t)n + 1);
  if (b) {
    size_t got = fread(b, 1, (size_t)n, fp);
    b[got] = '\0';
  }
  fclose(fp);
  return b;
}

void tu_write_text(const char *path, const char *text) {
  FILE *fp = fopen(path, "w");
  assert_non_null(fp);
  fputs(text, fp);
  assert_int_equal(fclose(fp), 0);
}

const char *tu_path(const char *dir, const char *name) {
  static char buf[8][512];
  static int k;
  k = (k + 1) % 8;
  snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
  return buf[k];
}

int tu_count_lines(const char *text) {
  int n = 0;
  for (; *text; ++text) n += *text == '\n';
  return n;
}

pid_t tu_spawn(const char *prog, const char *const *args, const char *dir) {
  const char *argv[64];
  int n = 0;
  argv[n++] = prog;
  for (; *args && n < 63; ++args) argv[n++] = *args;
  argv[n] = NULL;
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    if (dir) {
      if (chdir(dir) != 0) _exit(127);
      int o = open("stdout.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int e = open("stderr.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (o < 0 || e < 0) _exit(127);
      dup2(o, 1);
      dup2(e, 2);
    }
    execv(prog, (char *const *)argv);
    _exit(127);
  }
  return pid;
}

int tu_wait(pid_t pid) {
  int status;
  while (waitpid(pid, &status, 0) < 0) assert_int_equal(errno, EINTR);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* ------------------------------------------------------------------ random numbers */

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;

void tu_seed(uint64_t seed) { rng_state = seed; }

uint64_t tu_rand_u64(void) { /* xorshift64* */
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 2685821657736338717ull;
}

double tu_urand(void) { return ((double)(tu_rand_u64() >> 11) + 0.5) / 9007199254740992.0; }

double tu_grand(void) { return sqrt(-2.0 * log(tu_urand())) * cos(6.283185307179586 * tu_urand()); }

void tu_fill_gauss(size_t n, double *x, double s) {
  for (size_t i = 0; i < n; ++i) x[i] = s * tu_grand();
}

/* ------------------------------------------------------------------ plain-loop linear algebra */

double *tu_dalloc(size_t n) {
  double *p = calloc(n ? n : 1, sizeof(double));
  assert_non_null(p);
  return p;
}

void tu_mm(int ta, int tb, int m, int n, int k, const double *A, const double *B, double *C) {
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < m; ++i) {
      long double s = 0;
      for (int l = 0; l < k; ++l) {
        double a = ta ? A[l + (size_t)i * k] : A[i + (size_t)l * m];
        double b = tb ? B[j + (size_t)l * n] : B[l + (size_t)j * k];
        s += (long double)a * b;
      }
      C[i + (size_t)j * m] = (double)s;
    }
}

double tu_fro(size_t n, const double *x) {
  double s = 0;
  for (size_t i = 0; i < n; ++i) s += x[i] * x[i];
  return sqrt(s);
}

void tu_rand_orth(int n, double *Q) {
  double *ev = tu_dalloc((size_t)n);
  for (int j = 0; j < n; ++j)
    for (int i = 0; i <= j; ++i) Q[i + (size_t)j * n] = Q[j + (size_t)i * n] = tu_grand();
  tu_syev(n, Q, ev, 1);
  free(ev);
}

void tu_usv(int m, int n, int p, const double *U, const double *s, const double *V, double *A) {
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < m; ++i) {
      double acc = 0;
      for (int l = 0; l < p; ++l) acc += U[i + (size_t)l * m] * s[l] * V[j + (size_t)l * n];
      A[i + (size_t)j * m] = acc;
    }
}

void tu_qdq(int n, const double *Q, const double *f, double *S) {
  for (int j = 0; j < n; ++j)
    for (int i = 0; i <= j; ++i) {
      long double s = 0;
      for (int l = 0; l < n; ++l) s += (long double)Q[i + (size_t)l * n] * f[l] * Q[j + (size_t)l * n];
      S[i + (size_t)j * n] = S[j + (size_t)i * n] = (double)s;
    }
}

void tu_syev(int n, double *A, double *ev, int vectors) {
  assert_int_equal(LAPACKE_dsyev(LAPACK_COL_MAJOR, vectors ? 'V' : 'N', 'U', n, A, n, ev), 0);
}

void tu_conserved(const dln_net *net, const double *th, int j, double sign, double *C) {
  const int *d = net->widths;
  int n = d[j];
  const double *Wj = th + net->offset[j], *Wn = th + net->offset[j + 1];
  for (int b = 0; b < n; ++b)
    for (int a = 0; a < n; ++a) {
      long double s = 0;
      for (int l = 0; l < d[j + 1]; ++l) s += (long double)Wn[l + (size_t)a * d[j + 1]] * Wn[l + (size_t)b * d[j + 1]];
      for (int l = 0; l < d[j - 1]; ++l) s += sign * ((long double)Wj[a + (size_t)l * n] * Wj[b + (size_t)l * n]);
      C[a + (size_t)b * n] = (double)s;
    }
}

void tu_with_sv(dln_rng *rng, int rows, int cols, int ns, const double *s, double *W) {
  int k = rows < cols ? rows : cols;
  double *Q1 = malloc((size_t)rows * k * sizeof(double)), *Q2 = malloc((size_t)cols * k * sizeof(double));
  assert_int_equal(dln_rng_orthogonal(rng, rows, k, Q1), DLN_OK);
  assert_int_equal(dln_rng_orthogonal(rng, cols, k, Q2), DLN_OK);
  memset(W, 0, (size_t)rows * cols * sizeof(double));
  for (int r = 0; r < ns; ++r)
    for (int j = 0; j < cols; ++j)
      for (int i = 0; i < rows; ++i)
        W[i + (size_t)j * rows] += s[r] * Q1[i + (size_t)r * rows] * Q2[j + (size_t)r * cols];
  free(Q1);
  free(Q2);
}

int tu_rank(int rows, int cols, const double *a) {
  int k = rows < cols ? rows : cols;
  double *s = tu_dalloc((size_t)k), *w = tu_dalloc((size_t)rows * cols);
  assert_int_equal(dln_singular_values(rows, cols, a, s, w), DLN_OK);
  int r = 0;
  while (r < k && s[r] > 1e-10 * s[0]) ++r;
  free(s);
  free(w);
  return r;
}

/* ------------------------------------------------------------------ closed forms of 001 */

void tu_riccati(int m, const double *Q, const double *lam, const double *X0, double t, double e2, double e4,
                double *X) {
  size_t mm2 = (size_t)m * m;
  double *E2 = tu_dalloc(mm2), *K = tu_dalloc(mm2), *M = tu_dalloc(mm2), *T = tu_dalloc(mm2), *f = tu_dalloc((size_t)m);
  lapack_int *ipiv = calloc((size_t)m, sizeof(lapack_int));
  assert_non_null(ipiv);
  for (int i = 0; i < m; ++i) f[i] = exp(e2 * t * lam[i]);
  tu_qdq(m, Q, f, E2); /* e^{2tY} */
  for (int i = 0; i < m; ++i) f[i] = expm1(e4 * t * lam[i]) / lam[i];
  tu_qdq(m, Q, f, K); /* Y^{-1}(e^{4tY} − I) */
  tu_mm(0, 0, m, m, m, K, X0, M);
  for (int i = 0; i < m; ++i) M[i + (size_t)i * m] += 1.0; /* M = I + Y^{-1}(e^{4tY} − I) X0 */
  memcpy(T, E2, mm2 * sizeof(double));
  assert_int_equal(LAPACKE_dgesv(LAPACK_COL_MAJOR, m, m, M, m, ipiv, T, m), 0); /* T = M^{-1} e^{2tY} */
  tu_mm(0, 0, m, m, m, X0, T, K);                                               /* K = X0 M^{-1} e^{2tY} */
  tu_mm(0, 0, m, m, m, E2, K, X);                                               /* X = e^{2tY} K */
  free(E2), free(K), free(M), free(T), free(f), free(ipiv);
}

double tu_eq22(double s, double l, double x0) {
  return (sqrt(4 * s * s * l * l + 16 * s * s * x0 * x0 + l * l * l * l + 4 * x0 * x0 * l * l) - 4 * s * x0 - l * l) /
         (4 * l * l * (s - x0));
}

double tu_eq17(double s, double l, double C, double t) {
  double R = sqrt(4 * s * s + l * l), e1 = exp(t * R), e2 = e1 * e1;
  return (s * e2 - 2 * C * l * l * e1 - 4 * s * l * l * C * C) / (e2 + 8 * s * C * e1 - 4 * l * l * C * C);
}

double tu_rk4(double (*f)(double s, double l, double x), double s, double l, double x0, double t) {
  int ns = (int)ceil(t / 1e-4);
  double h = t / ns, x = x0;
  for (int i = 0; i < ns; ++i) {
    double k1 = f(s, l, x), k2 = f(s, l, x + 0.5 * h * k1), k3 = f(s, l, x + 0.5 * h * k2), k4 = f(s, l, x + h * k3);
    x += h / 6 * (k1 + 2 * k2 + 2 * k3 + k4);
  }
  return x;
}

/* ------------------------------------------------------------------ problems and runners */

dln_loss *tu_fact_loss(int m, int n, const double *Y) {
  dln_mat *T = dln_mat_from(m, n, Y);
  assert_non_null(T);
  dln_loss *l = NULL;
  assert_int_equal(dln_loss_factorization_alloc(&l, T), DLN_OK);
  dln_mat_free(T);
  return l;
}

void tu_fact_problem(uint64_t seed, int depth, const int *widths, double sigma, dln_net **net, dln_loss **loss,
                     double **theta) {
  assert_int_equal(dln_net_alloc(net, depth, widths, 0), DLN_OK);
  dln_rng *rng = dln_rng_alloc(seed, 0);
  assert_non_null(rng);
  dln_mat *Y = NULL;
  assert_int_equal(dln_data_gaussian(rng, widths[depth], widths[0], 1.0, &Y), DLN_OK);
  assert_int_equal(dln_loss_factorization_alloc(loss, Y), DLN_OK);
  dln_mat_free(Y);
  *theta = malloc((*net)->nparams * sizeof(double));
  assert_non_null(*theta);
  assert_int_equal(dln_init_gaussian(*net, *theta, rng, sigma, NULL), DLN_OK);
  dln_rng_free(rng);
}

dln_train_result tu_train(dln_net *net, dln_loss *loss, double *theta, const dln_train_options *o, dln_observer *obs,
                          dln_table *tab) {
  dln_train_result r;
  int st = dln_train(net, loss, theta, o, obs, tab, &r);
  if (st) print_error("dln_train: %s\n", dln_last_error());
  assert_int_equal(st, DLN_OK);
  assert_int_equal(r.stop_reason, DLN_STOP_TIME);
  return r;
}

dln_train_result tu_flow(dln_net *net, dln_loss *loss, double *theta, double t_end, double rtol, double atol) {
  dln_train_options o;
  dln_train_default_options(&o);
  o.method = &dln_integrator_flow;
  o.t_end = t_end;
  o.rtol = rtol;
  o.atol = atol;
  o.nsamples = 2;
  return tu_train(net, loss, theta, &o, NULL, NULL);
}

void tu_expect_na(int st, const char *needle) {
  const char *msg = dln_last_error();
  if (st != DLN_ENOTAPPLICABLE || !strstr(msg, "not applicable: ") || !strstr(msg, " fails (") || !strstr(msg, needle))
    print_error("status %d, message '%s', expected DLN_ENOTAPPLICABLE mentioning '%s'\n", st, msg, needle);
  assert_int_equal(st, DLN_ENOTAPPLICABLE);
  assert_non_null(strstr(msg, "not applicable: "));
  assert_non_null(strstr(msg, " fails ("));
  assert_non_null(strstr(msg, needle));
  print_message("  refused as expected: %s\n", msg);
}

char *tu_cli_ok_summary(const char *prog, const char *dir, const char *summary, const char *const *args) {
  int rc = tu_wait(tu_spawn(prog, args, dir));
  char *sum = tu_slurp(tu_path(dir, summary));
  if (rc != 0 || !sum) {
    char *err = tu_slurp(tu_path(dir, "stderr.txt"));
    print_error("%s %s: exit %d, %s, stderr:\n%s\n", prog, args[0], rc, sum ? "summary read" : "no summary",
                err ? err : "(none)");
    free(err);
  }
  assert_int_equal(rc, 0);
  assert_non_null(sum);
  return sum;
}

void tu_expect_cli_error(const char *prog, const char *dir, int code, const char *fragment, const char *const *args) {
  int rc = tu_wait(tu_spawn(prog, args, dir));
  char *err = tu_slurp(tu_path(dir, "stderr.txt"));
  assert_non_null(err);
  if (rc != code || tu_count_lines(err) != 1 || !strstr(err, fragment))
    print_error("exit %d (expected %d), stderr:\n%s(expected one line with \"%s\")\n", rc, code, err, fragment);
  assert_int_equal(rc, code);
  assert_int_equal(tu_count_lines(err), 1);
  assert_non_null(strstr(err, fragment));
  assert_true(strncmp(err, "dln: ", 5) == 0);
  free(err);
}

int tu_tmpdir_into(char *buf, size_t n) {
  const char *d = tu_tmpdir(0);
  if (!d) return -1;
  snprintf(buf, n, "%s", d);
  return 0;
}

int tu_rmtree_quiet(const char *path) {
  if (!tu_verbose()) tu_rmtree(path);
  return 0;
}

int tu_same_bytes(const char *pa, const char *pb) {
  FILE *fa = fopen(pa, "rb"), *fb = fopen(pb, "rb");
  int ca = 0, cb = !fa || !fb;
  if (fa && fb)
    do ca = fgetc(fa), cb = fgetc(fb); while (ca == cb && ca != EOF);
  if (fa) fclose(fa);
  if (fb) fclose(fb);
  return ca == cb;
}

int tu_same_file(const char *dir, const char *a, const char *b, const char *name) {
  char pa[512], pb[512];
  snprintf(pa, sizeof pa, "%s/%s/%s", dir, a, name);
  snprintf(pb, sizeof pb, "%s/%s/%s", dir, b, name);
  if (access(pa, F_OK) || access(pb, F_OK)) fail_msg("%s: missing", access(pa, F_OK) ? pa : pb);
  return tu_same_bytes(pa, pb);
}

void tu_cli_sigterm_resume(const char *cli, const char *dir, const char *const *opts) {
  const char *full[34] = {"run"}, *cut[34] = {"run"};
  int n = 1;
  for (; opts[n - 1] && n < 31; ++n) full[n] = cut[n] = opts[n - 1];
  full[n] = "--out=full", cut[n] = "--out=cut";
  assert_int_equal(tu_wait(tu_spawn(cli, full, dir)), 0);
  char ck[512];
  snprintf(ck, sizeof ck, "%s/cut/checkpoint.json", dir);
  pid_t pid = tu_spawn(cli, cut, dir);
  struct timespec ts = {0, 10000000L};
  for (int i = 0; i < 1000 && access(ck, F_OK) != 0; ++i) nanosleep(&ts, NULL);
  assert_int_equal(access(ck, F_OK), 0);
  assert_int_equal(kill(pid, SIGTERM), 0);
  assert_int_equal(tu_wait(pid), 143);
  char *h = tu_slurp(ck);
  assert_non_null(h);
  assert_non_null(strstr(h, "\"generator\": \"mt19937\""));
  free(h);
  const char *res[] = {"run", "--resume", "cut", NULL};
  assert_int_equal(tu_wait(tu_spawn(cli, res, dir)), 0);
  assert_true(tu_same_file(dir, "full", "cut", "trajectory.csv"));
  assert_true(tu_same_file(dir, "full", "cut", "W1_final.npy"));
  assert_true(tu_same_file(dir, "full", "cut", "W2_final.npy"));
  assert_int_not_equal(access(ck, F_OK), 0); /* finished: removed */
}
