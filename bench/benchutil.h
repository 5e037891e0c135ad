/* benchutil — helpers shared by the benchmark programs (bench_dln, bench_flow,
 * bench_ensemble): one-line fatal errors, the monotonic clock, a timed dln_train call,
 * JSON printing on stdout, machine facts for the "meta" object and .npy inputs. */
#ifndef DLN_BENCHUTIL_H
#define DLN_BENCHUTIL_H

#include <stddef.h>

#include "dln/loss.h"
#include "dln/mat.h"
#include "dln/net.h"
#include "dln/train.h"

/* The program name that prefixes every message (default "bench"). */
void bu_set_program(const char *name);
/* "<program>: <message>\n" on stderr, then exit(1). */
void bu_fail(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2), noreturn))
#endif
    ;
/* "<program>: <what> failed: <dln_last_error()> (<dln_strerror(st)>)" and exit(1). */
void bu_die(const char *what, int st)
#if defined(__GNUC__)
    __attribute__((noreturn))
#endif
    ;
/* Runs a dln call returning a status; any nonzero status is fatal (bu_die). */
#define BU_CHECK(call)           \
  do {                           \
    int st_ = (call);            \
    if (st_) bu_die(#call, st_); \
  } while (0)

/* CLOCK_MONOTONIC seconds. */
double bu_now(void);
/* dln_train(net, loss, θ in place, o, no observer, no table, res), fatal on error;
 * returns its wall-clock seconds. */
double bu_timed_train(dln_net *net, dln_loss *loss, double *theta, const dln_train_options *o, dln_train_result *res);

/* ---- JSON on stdout */
/* A JSON string with escapes (NULL prints ""). */
void bu_jstr(const char *s);
/* A JSON number in %.17g, null when not finite. */
void bu_jnum(double x);
/* n numbers separated by ", " (the inside of an array). */
void bu_jnums(const double *x, int n);
/* ", \"key\": " and then the value, for the members after the first. */
void bu_kstr(const char *key, const char *s);
void bu_knum(const char *key, double x);
/* "{\n \"meta\": {\"program\": ..., \"cpu\": ..., \"openblas_config\": ..., \"openblas_num_threads\": N"
 * (the object is left open for the program's own members). */
void bu_meta_begin(const char *program, const char *cpu);
/* ", \"compiler\": " and __VERSION__ (null if unknown). */
void bu_kcompiler(void);

/* ---- machine facts */
/* "model name" of /proc/cpuinfo, or "unknown". */
void bu_cpu_model(char *buf, size_t len);
/* /proc/loadavg's three averages (NaN if unreadable). */
void bu_loadavg(double la[3]);

/* ---- .npy inputs (fatal on error) */
/* DIR/<prefix><name>.npy. */
dln_mat *bu_read_npy(const char *dir, const char *prefix, const char *name);
/* z ← the layers DIR/<prefix>Z1.npy .. Z<depth>.npy of net (dln_init_from_layers). */
void bu_read_layers(const char *dir, const char *prefix, dln_net *net, double *z);

#endif
