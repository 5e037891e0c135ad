/* Shared test helpers: tolerance asserts that treat NaN as failure, temp folders, a seeded
 * Gaussian stream, plain-loop linear algebra used as independent truths, a few problem
 * builders and runners, and a heap-call counter. */
#ifndef DLN_TESTUTIL_H
#define DLN_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/types.h>
#include <cmocka.h>

#include "alloc_count.h" /* the heap-call counter (dln_alloc_count_begin/end) */
#include "dln/loss.h"
#include "dln/net.h"
#include "dln/observe.h"
#include "dln/rng.h"
#include "dln/train.h"

/* ------------------------------------------------------------------ tolerances, files */

/* |a − b| ≤ atol + rtol·|b|, false for NaN. */
int tu_close(double a, double b, double rtol, double atol);
/* Fails the test with a message showing both values and the tolerance. */
#define assert_close(a, b, rtol, atol) tu_assert_close((a), (b), (rtol), (atol), #a, __FILE__, __LINE__)
void tu_assert_close(double a, double b, double rtol, double atol, const char *expr, const char *file, int line);
/* Max-abs difference of two arrays (NaN if any NaN). */
double tu_maxdiff(size_t n, const double *a, const double *b);
/* Frobenius norm of a − b. */
double tu_diffnorm(size_t n, const double *a, const double *b);
/* Fresh temporary folder (static buffer reused per call of the same index 0..3). */
const char *tu_tmpdir(int index);
/* Remove a folder tree (rm -rf). */
void tu_rmtree(const char *path);
/* True when DLN_TEST_VERBOSE is set to something other than "" or "0". */
int tu_verbose(void);
/* A cmocka group's scratch folder: a fresh tu_tmpdir(0) copied into buf (0, or −1 when it
 * cannot be made); removed at teardown unless tu_verbose() (returns 0). */
int tu_tmpdir_into(char *buf, size_t n);
int tu_rmtree_quiet(const char *path);
/* qsort comparators for doubles: ascending, descending. */
int tu_cmp_asc(const void *a, const void *b);
int tu_cmp_desc(const void *a, const void *b);

/* ------------------------------------------------------------------ text files, child processes */

/* The whole file as a NUL-terminated string (malloc'd), or NULL if it cannot be opened. */
char *tu_slurp(const char *path);
/* Whether files pa and pb have the same bytes (binary-safe; 0 when either is missing). */
int tu_same_bytes(const char *pa, const char *pb);
/* Whether dir/a/name and dir/b/name have the same bytes (binary-safe: .npy files hold NULs;
 * a missing file fails the test). */
int tu_same_file(const char *dir, const char *a, const char *b, const char *name);
/* The command line's SIGTERM + --resume contract for one run: `dln run OPTS --out=full`
 * uninterrupted, `dln run OPTS --out=cut` killed with SIGTERM once its first checkpoint
 * exists (exit 143, the checkpoint holds the MT19937 state), then `dln run --resume cut`:
 * trajectory.csv, W1_final.npy and W2_final.npy byte-identical to full's, the checkpoint
 * removed. OPTS (NULL-terminated, at most 30) must set --checkpoint_every. */
void tu_cli_sigterm_resume(const char *cli, const char *dir, const char *const *opts);
/* Writes text to path (created or truncated); asserts success. */
void tu_write_text(const char *path, const char *text);
/* "dir/name" in one of 8 static buffers used in turn. */
const char *tu_path(const char *dir, const char *name);
/* Number of '\n' in text. */
int tu_count_lines(const char *text);
/* Starts the program prog with argv {prog, args..., NULL} (args NULL-terminated; at most 62
 * are passed). With dir non-NULL the child runs in dir with its stdout and stderr in
 * dir/stdout.txt and dir/stderr.txt. Asserts the fork. */
pid_t tu_spawn(const char *prog, const char *const *args, const char *dir);
/* Waits for pid (again after EINTR, asserting no other error): its exit status, or -1 when
 * it did not exit normally. */
int tu_wait(pid_t pid);
/* Runs prog with args in dir (tu_spawn) and asserts exit code `code` and exactly one line on
 * stderr, starting "dln: " and containing fragment (the CLI's error contract). */
void tu_expect_cli_error(const char *prog, const char *dir, int code, const char *fragment, const char *const *args);
/* Runs prog with args in dir (tu_spawn), asserts exit 0 (printing its stderr otherwise) and
 * returns the text of dir/summary (malloc'd; asserted readable). */
char *tu_cli_ok_summary(const char *prog, const char *dir, const char *summary, const char *const *args);

/* ------------------------------------------------------------------ random numbers
 * One xorshift64* stream per program, independent of dln_rng; each program sets its own
 * seed with tu_seed() in main() before running its tests. */
void tu_seed(uint64_t seed);
uint64_t tu_rand_u64(void);
/* Uniform in (0, 1). */
double tu_urand(void);
/* N(0, 1) by Box–Muller. */
double tu_grand(void);
/* x[i] = s·N(0, 1). */
void tu_fill_gauss(size_t n, double *x, double s);

/* ------------------------------------------------------------------ plain-loop linear algebra
 * Column-major, long double accumulation: truths independent of the library's BLAS paths. */

/* n zeroed doubles (at least one), asserted non-NULL. */
double *tu_dalloc(size_t n);
/* C (m x n) = op(A) op(B), op(A) m x k, op(B) k x n; ta/tb: A stored k x m / B stored n x k. */
void tu_mm(int ta, int tb, int m, int n, int k, const double *A, const double *B, double *C);
/* ‖x‖₂ (Frobenius norm of an array). */
double tu_fro(size_t n, const double *x);
/* Random n x n orthogonal Q: eigenvectors (LAPACKE_dsyev) of a symmetric tu_grand() matrix. */
void tu_rand_orth(int n, double *Q);
/* A (m x n) = Σ_{l<p} s_l U[:, l] V[:, l]ᵀ with U (m x ≥p), V (n x ≥p); double accumulation. */
void tu_usv(int m, int n, int p, const double *U, const double *s, const double *V, double *A);
/* S = Q diag(f) Qᵀ (n x n), exactly symmetric. */
void tu_qdq(int n, const double *Q, const double *f, double *S);
/* In-place LAPACKE_dsyev of the n x n symmetric A (upper triangle): ev ascending, A ← the
 * eigenvectors when vectors, else destroyed; asserts success. */
void tu_syev(int n, double *A, double *ev, int vectors);
/* W_{j+1}ᵀW_{j+1} + sign·W_jW_jᵀ (d_j x d_j) from θ's layers: sign −1 gives the conserved
 * quantity C_j (002 Lemma 1), sign +1 a non-conserved control. */
void tu_conserved(const dln_net *net, const double *th, int j, double sign, double *C);
/* W (rows x cols, overwritten) = Σ_{r<ns} s_r q1_r q2_rᵀ with Q1 (rows x k), Q2 (cols x k)
 * orthonormal from dln_rng_orthogonal, k = min(rows, cols). */
void tu_with_sv(dln_rng *rng, int rows, int cols, int ns, const double *s, double *W);
/* Numerical rank (singular values > 1e-10·σ_1, by dln_singular_values) of a rows x cols matrix. */
int tu_rank(int rows, int cols, const double *a);

/* ------------------------------------------------------------------ closed forms of 001 (Tarmoun et al.) */

/* eq. 8 with Y = Q diag(lam) Qᵀ (m x m): X(t) = e^{e2·tY} X0 [I + Y^{−1}(e^{e4·tY} − I) X0]^{−1} e^{e2·tY};
 * the paper has e2 = 2, e4 = 4 (other values give a perturbed control). */
void tu_riccati(int m, const double *Q, const double *lam, const double *X0, double t, double e2, double e4, double *X);
/* eq. 22, the square root over the first four terms only (INDEX note). */
double tu_eq22(double s, double l, double x0);
/* eq. 17. */
double tu_eq17(double s, double l, double C, double t);
/* x(t) of ẋ = f(s, l, x), x(0) = x0, by classical RK4 with ⌈t/1e-4⌉ equal steps. */
double tu_rk4(double (*f)(double s, double l, double x), double s, double l, double x0, double t);

/* ------------------------------------------------------------------ problems and runners */

/* ½‖W − Ȳ‖² for the m x n Ȳ given as an array (copied). */
dln_loss *tu_fact_loss(int m, int n, const double *Y);
/* A factorization problem in one call: net (depth, widths, untied), Ȳ (widths[depth] x widths[0])
 * ~ N(0, 1) by dln_data_gaussian and then θ ~ N(0, σ²) by dln_init_gaussian, both from
 * dln_rng(seed, 0); *theta is malloc'd. */
void tu_fact_problem(uint64_t seed, int depth, const int *widths, double sigma, dln_net **net, dln_loss **loss,
                     double **theta);
/* dln_train(net, loss, θ in place, o, obs, tab); asserts DLN_OK (printing the error) and the
 * DLN_STOP_TIME stop. */
dln_train_result tu_train(dln_net *net, dln_loss *loss, double *theta, const dln_train_options *o, dln_observer *obs,
                          dln_table *tab);
/* Gradient flow (&dln_integrator_flow, 2 samples) of θ in place to t_end, by tu_train. */
dln_train_result tu_flow(dln_net *net, dln_loss *loss, double *theta, double t_end, double rtol, double atol);
/* Asserts status DLN_ENOTAPPLICABLE with a "not applicable: … fails (" message naming needle. */
void tu_expect_na(int st, const char *needle);

/* The former names of the heap-call counter (alloc_count.h), for tests written before it
 * moved; new tests use dln_alloc_count_begin/end and DLN_HAVE_ALLOC_COUNTER. */
#define TU_HAVE_ALLOC_COUNTER DLN_HAVE_ALLOC_COUNTER
static inline void tu_alloc_count_begin(void) { dln_alloc_count_begin(); }
static inline long tu_alloc_count_end(long *frees) { return dln_alloc_count_end(frees); }

#endif
