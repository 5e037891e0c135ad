/* Helpers shared by the benchmark programs (benchutil.h). */
#include "benchutil.h"

#include <cblas.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dln/error.h"
#include "dln/init.h"
#include "dln/io.h"

static const char *program = "bench";

void bu_set_program(const char *name) { program = name; }

void bu_fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "%s: ", program);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(1);
}

void bu_die(const char *what, int st) { bu_fail("%s failed: %s (%s)", what, dln_last_error(), dln_strerror(st)); }

double bu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double bu_timed_train(dln_net *net, dln_loss *loss, double *theta, const dln_train_options *o, dln_train_result *res) {
  double t0 = bu_now();
  BU_CHECK(dln_train(net, loss, theta, o, NULL, NULL, res));
  return bu_now() - t0;
}

/* ------------------------------------------------------------------ JSON */

void bu_jstr(const char *s) {
  putchar('"');
  for (; s && *s; ++s) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\') printf("\\%c", ch);
    else if (ch < 0x20) printf("\\u%04x", ch);
    else putchar(ch);
  }
  putchar('"');
}

void bu_jnum(double x) {
  if (isfinite(x)) printf("%.17g", x);
  else printf("null");
}

void bu_jnums(const double *x, int n) {
  for (int i = 0; i < n; ++i) {
    if (i) printf(", ");
    bu_jnum(x[i]);
  }
}

void bu_kstr(const char *key, const char *s) {
  printf(", \"%s\": ", key);
  bu_jstr(s);
}

void bu_knum(const char *key, double x) {
  printf(", \"%s\": ", key);
  bu_jnum(x);
}

void bu_meta_begin(const char *program_name, const char *cpu) {
  printf("{\n \"meta\": {\"program\": ");
  bu_jstr(program_name);
  bu_kstr("cpu", cpu);
  bu_kstr("openblas_config", openblas_get_config());
  printf(", \"openblas_num_threads\": %d", openblas_get_num_threads());
}

void bu_kcompiler(void) {
#ifdef __VERSION__
  bu_kstr("compiler", __VERSION__);
#else
  printf(", \"compiler\": null");
#endif
}

/* ------------------------------------------------------------------ machine facts */

void bu_cpu_model(char *buf, size_t len) {
  snprintf(buf, len, "unknown");
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (!f) return;
  char line[512];
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "model name", 10) == 0) {
      char *c = strchr(line, ':');
      if (c) {
        c++;
        while (*c == ' ' || *c == '\t') c++;
        c[strcspn(c, "\n")] = 0;
        snprintf(buf, len, "%s", c);
      }
      break;
    }
  }
  fclose(f);
}

void bu_loadavg(double la[3]) {
  la[0] = la[1] = la[2] = NAN;
  FILE *f = fopen("/proc/loadavg", "r");
  if (!f) return;
  if (fscanf(f, "%lf %lf %lf", &la[0], &la[1], &la[2]) != 3) la[0] = la[1] = la[2] = NAN;
  fclose(f);
}

/* ------------------------------------------------------------------ .npy inputs */

dln_mat *bu_read_npy(const char *dir, const char *prefix, const char *name) {
  char path[1200];
  snprintf(path, sizeof path, "%s/%s%s.npy", dir, prefix, name);
  dln_mat *m = NULL;
  BU_CHECK(dln_npy_read(path, &m));
  return m;
}

void bu_read_layers(const char *dir, const char *prefix, dln_net *net, double *z) {
  enum { MAXL = 16 };
  dln_mat *layers[MAXL] = {0};
  if (net->depth > MAXL) bu_fail("%d layers, at most %d are read", net->depth, MAXL);
  for (int j = 1; j <= net->depth; ++j) {
    char name[32];
    snprintf(name, sizeof name, "Z%d", j);
    layers[j - 1] = bu_read_npy(dir, prefix, name);
  }
  BU_CHECK(dln_init_from_layers(net, z, layers, net->depth));
  for (int j = 0; j < net->depth; ++j) dln_mat_free(layers[j]);
}
