/* Optimized SUNDIALS serial vector operations (see nvec_fast.h). Semantics follow
 * SUNDIALS 6.4 nvector_serial.c operation by operation. */
#include "nvec_fast.h"
#include "core/util.h"

#include <math.h>
#include <string.h>
#include <nvector/nvector_serial.h>

/* DLN_CLONES (core/util.h): an AVX2 and a baseline clone, the same bits. */
#define LEN(v) ((size_t)NV_LENGTH_S(v))
#define DAT(v) (NV_DATA_S(v))

DLN_CLONES static void v_linearsum(sunrealtype a, N_Vector x, sunrealtype b, N_Vector y, N_Vector z) {
  size_t n = LEN(x);
  const double *xd = DAT(x), *yd = DAT(y);
  double *zd = DAT(z);
  for (size_t i = 0; i < n; ++i) zd[i] = a * xd[i] + b * yd[i];
}
DLN_CLONES static void v_const(sunrealtype c, N_Vector z) {
  size_t n = LEN(z);
  double *zd = DAT(z);
  for (size_t i = 0; i < n; ++i) zd[i] = c;
}
DLN_CLONES static void v_prod(N_Vector x, N_Vector y, N_Vector z) {
  size_t n = LEN(x);
  const double *xd = DAT(x), *yd = DAT(y);
  double *zd = DAT(z);
  for (size_t i = 0; i < n; ++i) zd[i] = xd[i] * yd[i];
}
DLN_CLONES static void v_div(N_Vector x, N_Vector y, N_Vector z) {
  size_t n = LEN(x);
  const double *xd = DAT(x), *yd = DAT(y);
  double *zd = DAT(z);
  for (size_t i = 0; i < n; ++i) zd[i] = xd[i] / yd[i];
}
DLN_CLONES static void v_scale(sunrealtype c, N_Vector x, N_Vector z) {
  size_t n = LEN(x);
  const double *xd = DAT(x);
  double *zd = DAT(z);
  for (size_t i = 0; i < n; ++i) zd[i] = c * xd[i];
}
DLN_CLONES static void v_abs(N_Vector x, N_Vector z) {
  size_t n = LEN(x);
  const double *xd = DAT(x);
  double *zd = DAT(z);
  for (size_t i = 0; i < n; ++i) zd[i] = fabs(xd[i]);
}
DLN_CLONES static void v_inv(N_Vector x, N_Vector z) {
  size_t n = LEN(x);
  const double *xd = DAT(x);
  double *zd = DAT(z);
  for (size_t i = 0; i < n; ++i) zd[i] = 1.0 / xd[i];
}
DLN_CLONES static void v_addconst(N_Vector x, sunrealtype b, N_Vector z) {
  size_t n = LEN(x);
  const double *xd = DAT(x);
  double *zd = DAT(z);
  for (size_t i = 0; i < n; ++i) zd[i] = xd[i] + b;
}
static sunrealtype v_dotprod(N_Vector x, N_Vector y) {
  size_t n = LEN(x);
  const double *xd = DAT(x), *yd = DAT(y);
  double s = 0;
  for (size_t i = 0; i < n; ++i) s += xd[i] * yd[i];
  return s;
}
static sunrealtype v_maxnorm(N_Vector x) {
  size_t n = LEN(x);
  const double *xd = DAT(x);
  double m = 0;
  for (size_t i = 0; i < n; ++i) {
    double a = fabs(xd[i]);
    if (a > m) m = a;
  }
  return m;
}
static sunrealtype v_wsqrsum(N_Vector x, N_Vector w) {
  size_t n = LEN(x);
  const double *xd = DAT(x), *wd = DAT(w);
  double s = 0;
  for (size_t i = 0; i < n; ++i) {
    double p = xd[i] * wd[i];
    s += p * p;
  }
  return s;
}
static sunrealtype v_wsqrsummask(N_Vector x, N_Vector w, N_Vector id) {
  size_t n = LEN(x);
  const double *xd = DAT(x), *wd = DAT(w), *md = DAT(id);
  double s = 0;
  for (size_t i = 0; i < n; ++i)
    if (md[i] > 0.0) {
      double p = xd[i] * wd[i];
      s += p * p;
    }
  return s;
}
static sunrealtype v_wrmsnorm(N_Vector x, N_Vector w) { return sqrt(v_wsqrsum(x, w) / (double)LEN(x)); }
static sunrealtype v_wrmsnormmask(N_Vector x, N_Vector w, N_Vector id) {
  return sqrt(v_wsqrsummask(x, w, id) / (double)LEN(x));
}
static sunrealtype v_min(N_Vector x) {
  size_t n = LEN(x);
  const double *xd = DAT(x);
  double m = xd[0];
  for (size_t i = 1; i < n; ++i)
    if (xd[i] < m) m = xd[i];
  return m;
}
static sunrealtype v_wl2norm(N_Vector x, N_Vector w) { return sqrt(v_wsqrsum(x, w)); }
static sunrealtype v_l1norm(N_Vector x) {
  size_t n = LEN(x);
  const double *xd = DAT(x);
  double s = 0;
  for (size_t i = 0; i < n; ++i) s += fabs(xd[i]);
  return s;
}
static void v_compare(sunrealtype c, N_Vector x, N_Vector z) {
  size_t n = LEN(x);
  const double *xd = DAT(x);
  double *zd = DAT(z);
  for (size_t i = 0; i < n; ++i) zd[i] = fabs(xd[i]) >= c ? 1.0 : 0.0;
}
static sunbooleantype v_invtest(N_Vector x, N_Vector z) {
  size_t n = LEN(x);
  const double *xd = DAT(x);
  double *zd = DAT(z);
  int ok = 1;
  for (size_t i = 0; i < n; ++i) {
    if (xd[i] == 0.0) ok = 0;
    else zd[i] = 1.0 / xd[i];
  }
  return ok ? SUNTRUE : SUNFALSE;
}
static sunrealtype v_minquotient(N_Vector num, N_Vector den) {
  size_t n = LEN(num);
  const double *nd = DAT(num), *dd = DAT(den);
  double m = 1e300; /* BIG_REAL in SUNDIALS */
  int found = 0;
  for (size_t i = 0; i < n; ++i) {
    if (dd[i] == 0.0) continue;
    double q = nd[i] / dd[i];
    if (!found || q < m) m = q;
    found = 1;
  }
  return found ? m : 1e300;
}
/* z = Σ c_k X_k, in blocks held in a local accumulator so the compiler can keep the
 * block in registers/L1 and vectorize (z may alias X[0], which SUNDIALS allows). The
 * sum is formed in the order k = 0, 1, ..., nv−1 for every entry. */
#define LC_BLOCK 256
DLN_CLONES static void axpy_block(double *restrict acc, const double *restrict x, double c, size_t m) {
  for (size_t i = 0; i < m; ++i) acc[i] += c * x[i];
}
DLN_CLONES static void scal_block(double *restrict acc, const double *restrict x, double c, size_t m) {
  for (size_t i = 0; i < m; ++i) acc[i] = c * x[i];
}
static int v_linearcombination(int nv, sunrealtype *c, N_Vector *X, N_Vector z) {
  size_t n = LEN(z);
  double *zd = DAT(z);
  if (nv == 1) {
    v_scale(c[0], X[0], z);
    return 0;
  }
  double acc[LC_BLOCK];
  for (size_t i0 = 0; i0 < n; i0 += LC_BLOCK) {
    size_t m = n - i0 < LC_BLOCK ? n - i0 : LC_BLOCK;
    scal_block(acc, DAT(X[0]) + i0, c[0], m);
    for (int k = 1; k < nv; ++k) axpy_block(acc, DAT(X[k]) + i0, c[k], m);
    dln_copy(m, acc, zd + i0);
  }
  return 0;
}
/* Z_j = a_j x + Y_j */
DLN_CLONES static int v_scaleaddmulti(int nv, sunrealtype *a, N_Vector x, N_Vector *Y, N_Vector *Z) {
  size_t n = LEN(x);
  const double *xd = DAT(x);
  for (int j = 0; j < nv; ++j) {
    const double *yd = DAT(Y[j]);
    double *zd = DAT(Z[j]);
    double aj = a[j];
    for (size_t i = 0; i < n; ++i) zd[i] = aj * xd[i] + yd[i];
  }
  return 0;
}
static int v_dotprodmulti(int nv, N_Vector x, N_Vector *Y, sunrealtype *d) {
  for (int j = 0; j < nv; ++j) d[j] = v_dotprod(x, Y[j]);
  return 0;
}
static int v_linearsumvectorarray(int nv, sunrealtype a, N_Vector *X, sunrealtype b, N_Vector *Y, N_Vector *Z) {
  for (int j = 0; j < nv; ++j) v_linearsum(a, X[j], b, Y[j], Z[j]);
  return 0;
}
static int v_scalevectorarray(int nv, sunrealtype *c, N_Vector *X, N_Vector *Z) {
  for (int j = 0; j < nv; ++j) v_scale(c[j], X[j], Z[j]);
  return 0;
}
static int v_constvectorarray(int nv, sunrealtype c, N_Vector *Z) {
  for (int j = 0; j < nv; ++j) v_const(c, Z[j]);
  return 0;
}
static int v_wrmsnormvectorarray(int nv, N_Vector *X, N_Vector *W, sunrealtype *m) {
  for (int j = 0; j < nv; ++j) m[j] = v_wrmsnorm(X[j], W[j]);
  return 0;
}

void dln_nvec_fast(N_Vector v) {
  if (!v || N_VGetVectorID(v) != SUNDIALS_NVEC_SERIAL) return;
  N_Vector_Ops o = v->ops;
  o->nvlinearsum = v_linearsum;
  o->nvconst = v_const;
  o->nvprod = v_prod;
  o->nvdiv = v_div;
  o->nvscale = v_scale;
  o->nvabs = v_abs;
  o->nvinv = v_inv;
  o->nvaddconst = v_addconst;
  o->nvdotprod = v_dotprod;
  o->nvmaxnorm = v_maxnorm;
  o->nvwrmsnorm = v_wrmsnorm;
  o->nvwrmsnormmask = v_wrmsnormmask;
  o->nvmin = v_min;
  o->nvwl2norm = v_wl2norm;
  o->nvl1norm = v_l1norm;
  o->nvcompare = v_compare;
  o->nvinvtest = v_invtest;
  o->nvminquotient = v_minquotient;
  o->nvlinearcombination = v_linearcombination;
  o->nvscaleaddmulti = v_scaleaddmulti;
  o->nvdotprodmulti = v_dotprodmulti;
  o->nvlinearsumvectorarray = v_linearsumvectorarray;
  o->nvscalevectorarray = v_scalevectorarray;
  o->nvconstvectorarray = v_constvectorarray;
  o->nvwrmsnormvectorarray = v_wrmsnormvectorarray;
  o->nvdotprodlocal = v_dotprod;
  o->nvmaxnormlocal = v_maxnorm;
  o->nvminlocal = v_min;
  o->nvl1normlocal = v_l1norm;
  o->nvinvtestlocal = v_invtest;
  o->nvminquotientlocal = v_minquotient;
  o->nvwsqrsumlocal = v_wsqrsum;
  o->nvwsqrsummasklocal = v_wsqrsummask;
}

#include <stdint.h>

DLN_CLONES int dln_vec_nonfinite(size_t n, const double *g) {
  const uint64_t expo = 0x7FF0000000000000ull;
  uint64_t bad = 0;
  for (size_t i = 0; i < n; ++i) {
    uint64_t u;
    memcpy(&u, &g[i], sizeof u);
    bad |= (uint64_t)((u & expo) == expo);
  }
  return bad != 0;
}

DLN_CLONES double dln_vec_maxabs(size_t n, const double *x) {
  /* |x| as bit patterns: for non-negative doubles the unsigned order is the numeric
   * order, and every NaN pattern is above +Inf */
  uint64_t m = 0;
  for (size_t i = 0; i < n; ++i) {
    uint64_t u;
    memcpy(&u, &x[i], sizeof u);
    u &= 0x7FFFFFFFFFFFFFFFull;
    m = u > m ? u : m;
  }
  if (m > 0x7FF0000000000000ull) return NAN;
  double d;
  memcpy(&d, &m, sizeof d);
  return d;
}

DLN_CLONES void dln_vec_axpy(size_t n, double a, const double *x, const double *y, double *z) {
  for (size_t i = 0; i < n; ++i) z[i] = y[i] + a * x[i];
}

DLN_CLONES int dln_vec_axpy_over(size_t n, double a, const double *restrict x, const double *restrict y, double *restrict z,
                                 double bound) {
  /* |v| > bound or NaN ⟺ the bits of |v| exceed those of bound (> 0): for non-negative
   * doubles the unsigned order is the numeric order, and every NaN is above +Inf */
  uint64_t bb, over = 0;
  memcpy(&bb, &bound, sizeof bb);
  for (size_t i = 0; i < n; ++i) {
    double v = y[i] + a * x[i];
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    over |= (u & 0x7FFFFFFFFFFFFFFFull) > bb;
    z[i] = v;
  }
  return over != 0;
}

/* out = y + Σ_k c_k X_k (y NULL: 0). Terms with c_k = 0 are dropped; the others are
 * added up to eight at a time in one pass (out = out + c_1 X_1 + … + c_8 X_8, left to
 * right, so the sum is the same bits however it is split into passes), each pass
 * streaming at most nine inputs and storing once; a pass with fewer terms is padded
 * with 0·X_1 (which changes at most the sign of a zero). The last pass also reports
 * whether an entry of out is NaN or ±Inf, from the exponent bits, at no extra pass. */
#define LC_EXPO 0x7FF0000000000000ull
#define LC_BAD(v, bad)            \
  do {                            \
    uint64_t u_;                  \
    memcpy(&u_, &(v), sizeof u_); \
    bad |= (uint64_t)((u_ & LC_EXPO) == LC_EXPO); \
  } while (0)
/* a pass of T terms (4 or 8) onto base: NULL (0), out itself (a later pass) or y (not
 * overlapping out) */
#define LC_LOOP(T, INIT)                                       \
  for (size_t i = 0; i < n; ++i) {                             \
    double v = INIT;                                           \
    for (int t = 0; t < T; ++t) v = v + k[t] * x[t][i];        \
    out[i] = v;                                                \
    LC_BAD(v, bad);                                            \
  }
#define LC_PASS(T, NAME)                                                                                    \
  DLN_CLONES static int NAME(size_t n, const double *base, const double *c, const double *const *X, int m, \
                             double *restrict out) {                                                      \
    const double *x[T];                                                                                   \
    double k[T];                                                                                          \
    for (int t = 0; t < T; ++t) x[t] = t < m ? X[t] : X[0], k[t] = t < m ? c[t] : 0.0;                    \
    uint64_t bad = 0;                                                                                     \
    if (!base) {                                                                                          \
      for (size_t i = 0; i < n; ++i) {                                                                    \
        double v = k[0] * x[0][i];                                                                        \
        for (int t = 1; t < T; ++t) v = v + k[t] * x[t][i];                                               \
        out[i] = v;                                                                                       \
        LC_BAD(v, bad);                                                                                   \
      }                                                                                                   \
    } else if (base == out) {                                                                             \
      LC_LOOP(T, out[i])                                                                                  \
    } else {                                                                                              \
      LC_LOOP(T, base[i])                                                                                 \
    }                                                                                                     \
    return bad != 0;                                                                                      \
  }
LC_PASS(4, lc4)
LC_PASS(8, lc8)

int dln_vec_lincomb_chk(size_t n, const double *y, int m, const double *c, const double *const *X, double *out) {
  double cc[64];
  const double *XX[64];
  int k = 0;
  for (int j = 0; j < m && k < 64; ++j)
    if (c[j] != 0.0) cc[k] = c[j], XX[k++] = X[j];
  if (k == 0) {
    if (y) dln_copy(n, y, out); else memset(out, 0, n * sizeof(double));
    return y ? dln_vec_nonfinite(n, y) : 0;
  }
  const double *base = y;
  int bad = 0;
  for (int j = 0; j < k; j += 8) {
    int r = k - j < 8 ? k - j : 8;
    bad = (r <= 4 ? lc4 : lc8)(n, base, cc + j, XX + j, r, out);
    base = out;
  }
  return bad;
}

/* Four combinations of the same T terms in one pass (dln_vec_lincomb4): each x_t[i] is
 * read once for the four rows; each row summed left to right from its first term. */
#define LC4ROWS(T, NAME)                                                                                       \
  DLN_CLONES static void NAME(size_t n, const double (*c)[16], const double *const *x, double *restrict o0,  \
                              double *restrict o1, double *restrict o2, double *restrict o3) {                \
    for (size_t i = 0; i < n; ++i) {                                                                          \
      double v0 = c[0][0] * x[0][i], v1 = c[1][0] * x[0][i], v2 = c[2][0] * x[0][i], v3 = c[3][0] * x[0][i]; \
      for (int t = 1; t < T; ++t) {                                                                           \
        double xt = x[t][i];                                                                                  \
        v0 = v0 + c[0][t] * xt, v1 = v1 + c[1][t] * xt, v2 = v2 + c[2][t] * xt, v3 = v3 + c[3][t] * xt;       \
      }                                                                                                       \
      o0[i] = v0, o1[i] = v1, o2[i] = v2, o3[i] = v3;                                                         \
    }                                                                                                         \
  }
LC4ROWS(12, lc4rows12)
LC4ROWS(16, lc4rows16)

int dln_vec_lincomb4(size_t n, int m, const double (*c)[16], const double *const *X, double *const out[4]) {
  if (m > 16) return -1;
  double cc[4][16];
  const double *XX[16];
  int k = 0;
  for (int j = 0; j < m; ++j) {
    if (c[0][j] == 0.0 && c[1][j] == 0.0 && c[2][j] == 0.0 && c[3][j] == 0.0) continue;
    for (int r = 0; r < 4; ++r) cc[r][k] = c[r][j];
    XX[k++] = X[j];
  }
  if (k == 0) return -1;
  int T = k <= 12 ? 12 : 16;
  for (int j = k; j < T; ++j) { /* padding: 0·X_1 (changes at most the sign of a zero) */
    for (int r = 0; r < 4; ++r) cc[r][j] = 0.0;
    XX[j] = XX[0];
  }
  (T == 12 ? lc4rows12 : lc4rows16)(n, (const double (*)[16])cc, XX, out[0], out[1], out[2], out[3]);
  return 0;
}

void dln_vec_lincomb(size_t n, const double *y, int m, const double *c, const double *const *X, double *out) {
  (void)dln_vec_lincomb_chk(n, y, m, c, X, out);
}

DLN_CLONES int dln_vec_rkc_stage(size_t n, double c0, const double *Y0, double mu, const double *Y1, double nu,
                                 const double *Y2, double a, const double *F, double b, const double *F0,
                                 double *restrict out) {
  uint64_t bad = 0;
  for (size_t i = 0; i < n; ++i) {
    double v = c0 * Y0[i] + mu * Y1[i] + nu * Y2[i] + (a * F[i] + b * F0[i]);
    out[i] = v;
    LC_BAD(v, bad);
  }
  return bad != 0;
}

DLN_CLONES double dln_vec_wrms_max(size_t n, const double *e, const double *y0, const double *y1, double rtol,
                                   double atol) {
  double s = 0;
  for (size_t i = 0; i < n; ++i) {
    double a = fabs(y0[i]), b = fabs(y1[i]);
    double x = e[i] / (atol + rtol * (a > b ? a : b));
    s += x * x;
  }
  return n ? sqrt(s / (double)n) : 0.0;
}

/* The error norms of an RK step without storing the estimates (dln_vec_err_ms), in blocks
 * of 64 entries: the weighted estimates' squares into two stack arrays (elementwise,
 * vectorized), then added to lane i mod 4 of four partial sums, combined at the end as
 * (s0 + s1) + (s2 + s3): a stated order, so the AVX2 and baseline clones give the same bits. */
enum { ERR_BLK = 64 };
DLN_CLONES static void err_ms8(size_t n, const double *c, const double *c3, const double *const *x, const double *y0,
                               const double *y1, double rtol, double atol, double *a, double *b) {
  double p[ERR_BLK], q[ERR_BLK];
  const double *x0 = x[0], *x1 = x[1], *x2 = x[2], *x3 = x[3], *x4 = x[4], *x5 = x[5], *x6 = x[6], *x7 = x[7];
  for (size_t i0 = 0; i0 < n; i0 += ERR_BLK) {
    size_t len = n - i0 < ERR_BLK ? n - i0 : ERR_BLK;
    for (size_t i = 0; i < len; ++i) {
      size_t g = i0 + i;
      double u = fabs(y0[g]), v = fabs(y1[g]);
      double w = 1.0 / (atol + rtol * (u > v ? u : v));
      double e = c[0] * x0[g] + c[1] * x1[g] + c[2] * x2[g] + c[3] * x3[g] + c[4] * x4[g] + c[5] * x5[g] +
                 c[6] * x6[g] + c[7] * x7[g];
      double f = c3[0] * x0[g] + c3[1] * x1[g] + c3[2] * x2[g] + c3[3] * x3[g] + c3[4] * x4[g] + c3[5] * x5[g] +
                 c3[6] * x6[g] + c3[7] * x7[g];
      e *= w, f *= w;
      p[i] = e * e, q[i] = f * f;
    }
    size_t l4 = len - len % 4;
    for (size_t i = 0; i < l4; i += 4)
      for (int l = 0; l < 4; ++l) a[l] += p[i + l], b[l] += q[i + l];
    for (size_t i = l4; i < len; ++i) a[i - l4] += p[i], b[i - l4] += q[i];
  }
}

int dln_vec_err_ms(size_t n, int m, const double *c, const double *c3, const double *const *X, const double *y0,
                   const double *y1, double rtol, double atol, double *ms, double *ms3) {
  double cc[8], cc3[8];
  const double *XX[8];
  int k = 0;
  for (int j = 0; j < m; ++j) {
    if (c[j] == 0.0 && !(c3 && c3[j] != 0.0)) continue;
    if (k == 8) return -1;
    cc[k] = c[j], cc3[k] = c3 ? c3[j] : 0.0, XX[k++] = X[j];
  }
  if (k == 0 || n == 0) return -1;
  for (int j = k; j < 8; ++j) cc[j] = cc3[j] = 0.0, XX[j] = XX[0];
  double a[4] = {0, 0, 0, 0}, b[4] = {0, 0, 0, 0};
  err_ms8(n, cc, cc3, XX, y0, y1, rtol, atol, a, b);
  *ms = ((a[0] + a[1]) + (a[2] + a[3])) / (double)n;
  if (ms3) *ms3 = ((b[0] + b[1]) + (b[2] + b[3])) / (double)n;
  return 0;
}

DLN_CLONES void dln_vec_wms2_max(size_t n, const double *e5, const double *e3, const double *y0, const double *y1,
                                 double rtol, double atol, double *m5, double *m3) {
  double s = 0, t = 0;
  for (size_t i = 0; i < n; ++i) {
    double a = fabs(y0[i]), b = fabs(y1[i]);
    double w = 1.0 / (atol + rtol * (a > b ? a : b)), x = e5[i] * w, y = e3[i] * w;
    s += x * x;
    t += y * y;
  }
  *m5 = n ? s / (double)n : 0.0;
  *m3 = n ? t / (double)n : 0.0;
}

DLN_CLONES void dln_vec_scale(size_t n, double a, const double *x, double *z) {
  for (size_t i = 0; i < n; ++i) z[i] = a * x[i];
}

DLN_CLONES void dln_vec_diff_norms(size_t n, const double *a, const double *b, const double *c, const double *d,
                                   double *restrict ab, double *ab2, double *cd2) {
  /* blocks of ERR_BLK: the squares elementwise (vectorized), then four lanes by i mod 4 */
  double p[ERR_BLK], q[ERR_BLK], s[4] = {0, 0, 0, 0}, t[4] = {0, 0, 0, 0};
  for (size_t i0 = 0; i0 < n; i0 += ERR_BLK) {
    size_t len = n - i0 < ERR_BLK ? n - i0 : ERR_BLK;
    for (size_t i = 0; i < len; ++i) {
      double x = a[i0 + i] - b[i0 + i], y = c[i0 + i] - d[i0 + i];
      if (ab) ab[i0 + i] = x;
      p[i] = x * x, q[i] = y * y;
    }
    size_t l4 = len - len % 4;
    for (size_t i = 0; i < l4; i += 4)
      for (int l = 0; l < 4; ++l) s[l] += p[i + l], t[l] += q[i + l];
    for (size_t i = l4; i < len; ++i) s[i - l4] += p[i], t[i - l4] += q[i];
  }
  *ab2 = (s[0] + s[1]) + (s[2] + s[3]);
  *cd2 = (t[0] + t[1]) + (t[2] + t[3]);
}

DLN_CLONES double dln_vec_norm2(size_t n, const double *x) {
  double s = 0;
  for (size_t i = 0; i < n; ++i) s += x[i] * x[i];
  return sqrt(s);
}
