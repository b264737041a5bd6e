/* The echo canceller's hot loops (see echo.c for the algorithm).
 *
 * Two output samples per pass over the taps
 * -----------------------------------------
 * Each background step is w_k = w_{k-1} + G (c0_k x_k + c1_k x_{k-1}) (order-2
 * affine projection; x_k the window of sample k, G one proportionate gain per
 * 32-tap region). The step of sample n needs n's error, so the plain order is
 * one pass per sample: apply the last step, filter. But the newer sample's
 * output follows from the older one's weights exactly:
 *
 *     w_n' x_{n+1} = w_{n-1}' x_{n+1} + c0_n x_n'G x_{n+1} + c1_n x_{n-1}'G x_{n+1}
 *
 * so one pass computes both filters' outputs for samples n and n+1 with each
 * weight loaded once and stored once, and the caller adds the correlation
 * terms once n's step is known.
 *
 * Only final steps are applied in a pair's pass (fast affine projection's
 * idea): the window x_m of the newest sample so far gets a coefficient from
 * its own step and another from the next sample's, so its step waits; the
 * pass applies the coefficients of x_{m-1} and x_{m-2}, which are complete,
 * and the caller adds x_m's step to the outputs through the correlations
 * too. That is two windows per pass instead of three. The pass runs region
 * by region: the region's gain times each coefficient is taken once per
 * region, so a tap's update is two multiply-adds (no gain loaded, no extra
 * multiply), and a pair costs six multiply-adds per tap. At about one
 * multiply-add per tap, sample and filter (two outputs, one update) that is
 * the floor of a time-domain two-filter canceller: on x86 the pass runs at
 * the multiply-add units' and the load ports' limit together.
 *
 * The correlations x_k'G x_{k-l} (l = 0, 1, 2) are not summed over the taps
 * at all: G is constant within a region, so when the window moves by one
 * sample each region's sum changes only at its two ends. The change at every
 * region boundary but the first is known ECHO_CHUNK samples ahead (those
 * samples are older than the chunk), and is computed for a whole chunk at once
 * (echo_taps_boundaries, vectorised along the chunk); after G changes (once per
 * 5 ms block) the sums are taken from scratch (echo_taps_correlate), so no
 * rounding error accumulates.
 *
 * Speed as shipped: setuptools compiles extensions with -fwrapv, which keeps
 * gcc from vectorising loops over ints; build.py adds -fno-wrapv. The loops
 * use GCC's vector extension (4, 8 or 16 floats a vector, two or more vectors
 * an iteration), compiled three times on x86-64
 * (baseline SSE4.2, AVX2+FMA, AVX-512F) with the best copy the CPU has picked
 * at run time; on aarch64 the baseline copy is NEON.
 */
#define _POSIX_C_SOURCE 199309L /* clock_gettime */
#include "echo_taps.h"

/* The loops below are vectorised by hand, so -ffast-math's reassociation buys
 * nothing here; and it would turn w + e1 p2 + e0 p1 (two multiply-adds)
 * back into w + (e1 p2 + e0 p1): a multiply, a multiply-add and an add. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-associative-math")
#endif

#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "echo.h"

#define REGION (ECHO_MAX_TAPS / ECHO_REGIONS)
#define ALWAYS_INLINE static inline __attribute__((always_inline))

typedef float v4f __attribute__((vector_size(16)));
typedef float v8f __attribute__((vector_size(32)));
typedef float v16f __attribute__((vector_size(64)));

/* A value loaded once and kept in a register: gcc otherwise folds the load
 * into each multiply-add that uses it, and a window read twice costs a second
 * (unaligned, with AVX-512 always cache-line-split) load, which made the load
 * ports, not the multiply-adds, the pass's limit. */
#if defined(__x86_64__) || defined(__aarch64__)
#define IN_REGISTER(v) __asm__("" : "+x"(v)) /* "x": a vector register on both */
#else
#define IN_REGISTER(v) ((void)0)
#endif

/* The window at xn + i + k (k = 1..4) as a vector, from the window at i
 * (xc_, kept from the last step) and the one at i + L (xd_, loaded once per
 * step): with AVX-512 every unaligned 64-byte load crosses a cache line and
 * costs two of the load ports' slots, so a pair's pass, with four windows
 * per vector of taps, ran at the load ports' limit; a lane shift (valignd)
 * costs one shuffle instead. SH says which offsets k are shifted (bit k);
 * the others are loaded. */
#if defined(__GNUC__) && !defined(__clang__)
#define WINDOW(V, SH, dst, i, k)                                                                                 \
    do {                                                                                                         \
        if ((SH) >> (k) & 1)                                                                                     \
            dst = __builtin_shuffle(xc_, xd_, IOTA(V) + (k));                                                    \
        else                                                                                                     \
            memcpy(&dst, xn + (i) + (k), sizeof(V));                                                             \
    } while (0)
#else
#define WINDOW(V, SH, dst, i, k) memcpy(&dst, xn + (i) + (k), sizeof(V))
#endif
typedef int32_t v4i __attribute__((vector_size(16)));
typedef int32_t v8i __attribute__((vector_size(32)));
typedef int32_t v16i __attribute__((vector_size(64)));
#define IOTA(V) IOTA_##V
#define IOTA_v4f ((v4i){0, 1, 2, 3})
#define IOTA_v8f ((v8i){0, 1, 2, 3, 4, 5, 6, 7})
#define IOTA_v16f ((v16i){0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15})

/* One vector of taps at i: the pending step applied (e0..e2: its
 * coefficients times the region's gain), and the products added into the
 * accumulators of set S (two sets, so that two chains of additions are in
 * flight). xc_ holds the window at i on entry and the one at i + L on exit. */
#define TAP_STEP(V, TWO, O, SH, i, S)                                                                            \
    do {                                                                                                         \
        V a_ = xc_, xd_, p0_, p1_, p2_, w_, f_;                                                                  \
        memcpy(&xd_, xn + (i) + sizeof(V) / sizeof(float), sizeof(V));                                           \
        IN_REGISTER(xd_);                                                                                        \
        WINDOW(V, SH, p1_, i, (O) + 1);                                                                          \
        WINDOW(V, SH, p2_, i, (O) + 2);                                                                          \
        memcpy(&w_, wb + (i), sizeof(V));                                                                        \
        if (!(TWO)) {                                                                                            \
            WINDOW(V, SH, p0_, i, (O));                                                                          \
            w_ += e2 * p2_; /* one multiply-add per window */                                                    \
            p2_ = p1_;                                                                                           \
            p1_ = p0_;                                                                                           \
        }                                                                                                        \
        w_ += e1 * p2_;                                                                                          \
        w_ += e0 * p1_;                                                                                          \
        memcpy(wb + (i), &w_, sizeof(V));                                                                        \
        memcpy(&f_, wf + (i), sizeof(V));                                                                        \
        IN_REGISTER(f_);                                                                                         \
        if (TWO) {                                                                                               \
            V b_;                                                                                                \
            WINDOW(V, SH, b_, i, 1);                                                                             \
            IN_REGISTER(b_);                                                                                     \
            yb0##S += w_ * b_;                                                                                   \
            yf0##S += f_ * b_;                                                                                   \
            yb1##S += w_ * a_;                                                                                   \
            yf1##S += f_ * a_;                                                                                   \
        } else {                                                                                                 \
            yb0##S += w_ * a_;                                                                                   \
            yf0##S += f_ * a_;                                                                                   \
        }                                                                                                        \
        xc_ = xd_;                                                                                               \
    } while (0)

/* The sum of a vector's lanes as a tree (halves added, log2 L deep): the
 * next sample's step waits for it, and lane by lane it was a chain of L
 * dependent additions. */
#define HALVES(V, v)                                                                                             \
    __extension__({                                                                                              \
        const __typeof__(v) whole_ = (v);                                                                        \
        V lo_, hi_;                                                                                              \
        memcpy(&lo_, &whole_, sizeof(V));                                                                        \
        memcpy(&hi_, (const char *)&whole_ + sizeof(V), sizeof(V));                                              \
        lo_ + hi_;                                                                                               \
    })
#define SUM_v4f(v) (((v)[0] + (v)[2]) + ((v)[1] + (v)[3]))
#define SUM_v8f(v) SUM_v4f(HALVES(v4f, v))
#define SUM_v16f(v) SUM_v8f(HALVES(v8f, v))

/* One pass, one or two samples (TWO = 0 or 1), with vectors of type V (the
 * target's register width), region by region: the region's gain times the
 * step's coefficients is taken once per region, so a tap's update is two or
 * three multiply-adds and no load of a gain. The taps past the last whole
 * region go one by one. */
#define DEFINE_PASS(NAME, V, TWO, SH)                                                                                \
    ALWAYS_INLINE void NAME(float *restrict wb, const float *restrict wf, const float *restrict g,              \
                            const float *restrict xn, int taps, const float *restrict d, float *restrict out)    \
    {                                                                                                            \
        enum { L = sizeof(V) / sizeof(float), O = 1 + (TWO) };                                                   \
        V yb0a = {0}, yb1a = {0}, yf0a = {0}, yf1a = {0};                                                        \
        V yb0b = {0}, yb1b = {0}, yf0b = {0}, yf1b = {0};                                                        \
        const int whole = taps / REGION;                                                                         \
        V xc_;                                                                                                   \
        memcpy(&xc_, xn, sizeof(V));                                                                             \
        float ge_[3][ECHO_REGIONS]; /* broadcast from memory in the loop: a load, not a shuffle */               \
        for (int r = 0; r < whole; r++) {                                                                        \
            ge_[0][r] = g[r] * d[0];                                                                             \
            ge_[1][r] = g[r] * d[1];                                                                             \
            ge_[2][r] = (TWO) ? 0.0f : g[r] * d[2];                                                              \
        }                                                                                                        \
        for (int r = 0; r < whole; r++) {                                                                        \
            const float e0 = ge_[0][r], e1 = ge_[1][r], e2 = ge_[2][r];                                          \
            for (int i = r * REGION; i < (r + 1) * REGION; i += 2 * L) {                                         \
                TAP_STEP(V, TWO, O, SH, i, a);                                                                   \
                TAP_STEP(V, TWO, O, SH, i + L, b);                                                               \
            }                                                                                                    \
        }                                                                                                        \
        yb0a += yb0b;                                                                                            \
        yb1a += yb1b;                                                                                            \
        yf0a += yf0b;                                                                                            \
        yf1a += yf1b;                                                                                            \
        float tb0 = 0.0f, tb1 = 0.0f, tf0 = 0.0f, tf1 = 0.0f;                                                    \
        for (int i = whole * REGION; i < taps; i++) {                                                            \
            const float gi = g[i / REGION];                                                                      \
            const float u = (TWO) ? d[0] * xn[i + O + 1] + d[1] * xn[i + O + 2]                                  \
                                  : d[0] * xn[i + O] + d[1] * xn[i + O + 1] + d[2] * xn[i + O + 2];              \
            const float w = wb[i] + gi * u;                                                                      \
            wb[i] = w;                                                                                           \
            const float older = (TWO) ? xn[i + 1] : xn[i];                                                       \
            tb0 += w * older;                                                                                    \
            tf0 += wf[i] * older;                                                                                \
            tb1 += w * xn[i];                                                                                    \
            tf1 += wf[i] * xn[i];                                                                                \
        }                                                                                                        \
        tb0 += SUM_##V(yb0a);                                                                                  \
        tf0 += SUM_##V(yf0a);                                                                                  \
        tb1 += SUM_##V(yb1a);                                                                                  \
        tf1 += SUM_##V(yf1a);                                                                                  \
        if (TWO) {                                                                                               \
            out[0] = tb0;                                                                                        \
            out[1] = tb1;                                                                                        \
            out[2] = tf0;                                                                                        \
            out[3] = tf1;                                                                                        \
        } else {                                                                                                 \
            out[0] = tb0;                                                                                        \
            out[1] = tf0;                                                                                        \
        }                                                                                                        \
    }

/* Which windows are lane shifts (bit k: the window at i + k, k = 1..4): none
 * in the SSE and AVX2 copies (a shift across 128-bit lanes costs two or more
 * shuffles there), all in the AVX-512 one. Measured on an Intel Xeon
 * (bench/RESULTS.md): loads only 125.9 ns/sample, the offsets 1, 3 and 4 of
 * a pair shifted 109.4, only 3 and 4 119.1, only 1 and 4 119.3. */
#define SH16 0x1e
DEFINE_PASS(pass1_v4, v4f, 0, 0)
DEFINE_PASS(pass2_v4, v4f, 1, 0)
DEFINE_PASS(pass1_v8, v8f, 0, 0)
DEFINE_PASS(pass2_v8, v8f, 1, 0)
DEFINE_PASS(pass1_v16, v16f, 0, SH16)
DEFINE_PASS(pass2_v16, v16f, 1, SH16)

/* x'G x_{-l} from scratch, l = 0, 1, 2, in vectors of type V: the region's
 * gain times x, then a multiply-add per lag, into two sets of accumulators
 * (independent chains) across all whole regions; the taps past them one by
 * one; the lanes summed in double. */
#define DEFINE_CORRELATE(NAME, V)                                                                                \
    ALWAYS_INLINE void NAME(const float *restrict g, const float *restrict xn, int taps, double *restrict r)     \
    {                                                                                                            \
        enum { L = sizeof(V) / sizeof(float) };                                                                  \
        V a[2][3];                                                                                               \
        memset(a, 0, sizeof(a));                                                                                 \
        const int whole = taps / REGION;                                                                         \
        for (int r0 = 0; r0 < whole; r0++) {                                                                     \
            const float gr = g[r0];                                                                              \
            for (int i = r0 * REGION; i < (r0 + 1) * REGION; i += 2 * L) {                                       \
                for (int h = 0; h < 2; h++) {                                                                    \
                    V x0, x1, x2;                                                                                \
                    memcpy(&x0, xn + i + h * L, sizeof(V));                                                      \
                    memcpy(&x1, xn + i + h * L + 1, sizeof(V));                                                  \
                    memcpy(&x2, xn + i + h * L + 2, sizeof(V));                                                  \
                    const V t = gr * x0;                                                                         \
                    a[h][0] += t * x0;                                                                           \
                    a[h][1] += t * x1;                                                                           \
                    a[h][2] += t * x2;                                                                           \
                }                                                                                                \
            }                                                                                                    \
        }                                                                                                        \
        double s[3] = {0.0, 0.0, 0.0};                                                                           \
        for (int i = whole * REGION; i < taps; i++) {                                                            \
            const double t = (double)g[i / REGION] * (double)xn[i];                                              \
            s[0] += t * xn[i];                                                                                   \
            s[1] += t * xn[i + 1];                                                                               \
            s[2] += t * xn[i + 2];                                                                               \
        }                                                                                                        \
        for (int l = 0; l < 3; l++) {                                                                            \
            const V v = a[0][l] + a[1][l];                                                                       \
            for (int j = 0; j < L; j++)                                                                          \
                s[l] += v[j];                                                                                    \
            r[l] = s[l];                                                                                         \
        }                                                                                                        \
    }

/* The next chunk's change of those sums at every region boundary below the
 * first, vectorised along the chunk (ECHO_CHUNK / lanes vectors of type V);
 * odd and even boundaries into separate accumulators (independent chains). */
#define BOUNDARY(V, j, C0, C1, C2)                                                                               \
    do {                                                                                                         \
        const int b_ = (j) * REGION < taps ? (j) * REGION : taps;                                                \
        const float dg_ = ((j) < nreg ? g[(j)] : 0.0f) - g[(j) - 1];                                             \
        for (int h = 0; h < N; h++) {                                                                            \
            const float *x = last + b_ - ECHO_CHUNK + h * L;                                                     \
            V x0, x1, x2;                                                                                        \
            memcpy(&x0, x, sizeof(V));                                                                           \
            memcpy(&x1, x + 1, sizeof(V));                                                                       \
            memcpy(&x2, x + 2, sizeof(V));                                                                       \
            const V t = dg_ * x0;                                                                                \
            C0[h] += t * x0;                                                                                     \
            C1[h] += t * x1;                                                                                     \
            C2[h] += t * x2;                                                                                     \
        }                                                                                                        \
    } while (0)

#define DEFINE_BOUNDARIES(NAME, V)                                                                               \
    ALWAYS_INLINE void NAME(const float *restrict g, const float *restrict last, int taps, float *restrict dcorr) \
    {                                                                                                            \
        enum { L = sizeof(V) / sizeof(float), N = ECHO_CHUNK / L };                                              \
        const int nreg = (taps + REGION - 1) / REGION;                                                           \
        V a0[N], a1[N], a2[N], b0[N], b1[N], b2[N];                                                              \
        memset(a0, 0, sizeof(a0));                                                                               \
        memset(a1, 0, sizeof(a1));                                                                               \
        memset(a2, 0, sizeof(a2));                                                                               \
        memset(b0, 0, sizeof(b0));                                                                               \
        memset(b1, 0, sizeof(b1));                                                                               \
        memset(b2, 0, sizeof(b2));                                                                               \
        int j = 1;                                                                                               \
        for (; j + 1 <= nreg; j += 2) {                                                                          \
            BOUNDARY(V, j, a0, a1, a2);                                                                          \
            BOUNDARY(V, j + 1, b0, b1, b2);                                                                      \
        }                                                                                                        \
        if (j <= nreg)                                                                                           \
            BOUNDARY(V, j, a0, a1, a2);                                                                          \
        for (int h = 0; h < N; h++) {                                                                            \
            a0[h] += b0[h];                                                                                      \
            a1[h] += b1[h];                                                                                      \
            a2[h] += b2[h];                                                                                      \
        }                                                                                                        \
        memcpy(dcorr, a0, sizeof(a0));                                                                           \
        memcpy(dcorr + ECHO_CHUNK, a1, sizeof(a1));                                                              \
        memcpy(dcorr + 2 * ECHO_CHUNK, a2, sizeof(a2));                                                          \
    }

DEFINE_CORRELATE(correlate_v4, v4f)
DEFINE_CORRELATE(correlate_v8, v8f)
DEFINE_BOUNDARIES(boundaries_v4, v4f)
DEFINE_BOUNDARIES(boundaries_v8, v8f)

typedef void (*pass_fn)(float *, const float *, const float *, const float *, int, const float *, float *);
typedef void (*correlate_fn)(const float *, const float *, int, double *);
typedef void (*boundaries_fn)(const float *, const float *, int, float *);

static void correlate_generic(const float *g, const float *xn, int taps, double *r)
{
    correlate_v4(g, xn, taps, r);
}

static void boundaries_generic(const float *g, const float *last, int taps, float *dcorr)
{
    boundaries_v4(g, last, taps, dcorr);
}

static void pass1_generic(float *wb, const float *wf, const float *g, const float *xn, int taps, const float *d,
                          float *out)
{
    pass1_v4(wb, wf, g, xn, taps, d, out);
}

static void pass2_generic(float *wb, const float *wf, const float *g, const float *xn, int taps, const float *d,
                          float *out)
{
    pass2_v4(wb, wf, g, xn, taps, d, out);
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define HAVE_X86_VARIANTS 1
#define X86_COPY(NAME, BODY, TARGET)                                                                             \
    __attribute__((target(TARGET))) static void NAME(float *wb, const float *wf, const float *g, const float *xn, \
                                                     int taps, const float *d, float *out)                      \
    {                                                                                                            \
        BODY(wb, wf, g, xn, taps, d, out);                                                                       \
    }
__attribute__((target("avx2,fma"))) static void correlate_avx2(const float *g, const float *xn, int taps, double *r)
{
    correlate_v8(g, xn, taps, r);
}
__attribute__((target("avx2,fma"))) static void boundaries_avx2(const float *g, const float *last, int taps,
                                                                float *dcorr)
{
    boundaries_v8(g, last, taps, dcorr);
}
X86_COPY(pass1_avx2, pass1_v8, "avx2,fma")
X86_COPY(pass2_avx2, pass2_v8, "avx2,fma")
X86_COPY(pass1_avx512, pass1_v16, "avx512f,avx2,fma")
X86_COPY(pass2_avx512, pass2_v16, "avx512f,avx2,fma")
#endif

/* The copies, and whether this CPU runs each. */
typedef struct {
    const char *name;
    pass_fn pass1, pass2;
    correlate_fn correlate;
    boundaries_fn boundaries;
} copy_t;

static const copy_t COPIES[] = {
    {"generic", pass1_generic, pass2_generic, correlate_generic, boundaries_generic},
#ifdef HAVE_X86_VARIANTS
    {"avx2", pass1_avx2, pass2_avx2, correlate_avx2, boundaries_avx2},
    {"avx512", pass1_avx512, pass2_avx512, correlate_avx2, boundaries_avx2},
#endif
};
#define NCOPIES ((int)(sizeof(COPIES) / sizeof(COPIES[0])))

static int runs_here(const copy_t *c)
{
#ifdef HAVE_X86_VARIANTS
    __builtin_cpu_init();
    if (strcmp(c->name, "avx2") == 0)
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (strcmp(c->name, "avx512") == 0)
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
    return c == &COPIES[0];
}

static pass_fn pass1 = pass1_generic, pass2 = pass2_generic;
static correlate_fn correlate = correlate_generic;
static boundaries_fn boundaries = boundaries_generic;
static const char *variant = "generic";

void echo_taps_correlate(const float *g, const float *xn, int taps, double *r)
{
    correlate(g, xn, taps, r);
}

void echo_taps_boundaries(const float *g, const float *last, int taps, float *dcorr)
{
    boundaries(g, last, taps, dcorr);
}

void echo_taps_pass1(float *wb, const float *wf, const float *g, const float *xn, int taps, const float *d,
                     float *out)
{
    pass1(wb, wf, g, xn, taps, d, out);
}

void echo_taps_pass2(float *wb, const float *wf, const float *g, const float *xn, int taps, const float *d,
                     float *out)
{
    pass2(wb, wf, g, xn, taps, d, out);
}

int echo_simd_select(const char *name)
{
    for (int v = 0; name != NULL && v < NCOPIES; v++) {
        const copy_t *c = &COPIES[v];
        if (strcmp(name, c->name) == 0 && runs_here(c)) {
            pass1 = c->pass1;
            pass2 = c->pass2;
            correlate = c->correlate;
            boundaries = c->boundaries;
            variant = c->name;
            return 0;
        }
    }
    return -1;
}

const char *echo_simd_variant(void)
{
    return variant;
}

/* A copy's time for four pair passes over a full-length window, the least of
 * eight tries (the values are zeros: the cost does not depend on them). */
static double time_copy(const copy_t *c, float *wb, const float *wf, const float *g, const float *xn)
{
    const float d[2] = {0.0f, 0.0f};
    float out[4];
    double best = 1e30;
    for (int k = 0; k < 8; k++) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (int j = 0; j < 4; j++)
            c->pass2(wb, wf, g, xn, ECHO_MAX_TAPS, d, out);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        const double ns = 1e9 * (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec);
        best = ns < best ? ns : best;
    }
    return best;
}

/* The fastest copy this CPU runs, by timing the pair pass of each (well under
 * a millisecond, once per process): which width wins is no matter of the
 * vendor's name (a core may split 512-bit operations in two, or clock lower
 * for them; bench/RESULTS.md). The copies are timed in turns, three rounds,
 * each one's least time counting, so one preemption cannot decide. Nothing
 * global changes while timing. */
static const char *fastest_copy(void)
{
    float *mem = calloc(2 * ECHO_MAX_TAPS + ECHO_XBUF + ECHO_REGIONS + 16, sizeof(float));
    if (mem == NULL)
        return COPIES[NCOPIES - 1].name;
    float *wb = mem + (16 - ((uintptr_t)mem / sizeof(float)) % 16) % 16; /* 64-byte aligned, as new_state's */
    float *wf = wb + ECHO_MAX_TAPS, *xn = wf + ECHO_MAX_TAPS, *g = xn + ECHO_XBUF;
    double best[NCOPIES];
    int pick = 0;
    for (int v = 0; v < NCOPIES; v++)
        best[v] = 1e30;
    for (int round = 0; round < 3; round++)
        for (int v = 0; v < NCOPIES; v++)
            if (runs_here(&COPIES[v])) {
                const double ns = time_copy(&COPIES[v], wb, wf, g, xn);
                best[v] = ns < best[v] ? ns : best[v];
            }
    for (int v = 1; v < NCOPIES; v++)
        if (best[v] < best[pick])
            pick = v;
    free(mem);
    return COPIES[pick].name;
}

/* Once per process, at the first echo_init: the copy LINEBOX_ECHO_SIMD names
 * (generic, avx2, avx512: for tests and benchmarks), else the fastest one by
 * timing. Concurrent first calls may both time, but only the first decision
 * is kept (compare-and-swap) and both select it; later calls change nothing
 * (a copy forced with echo_simd_select stays). */
void echo_taps_pick(void)
{
    static const char *chosen;
    if (__atomic_load_n(&chosen, __ATOMIC_ACQUIRE) != NULL)
        return;
    const char *forced = getenv("LINEBOX_ECHO_SIMD"), *mine = NULL;
    for (int v = 0; forced != NULL && v < NCOPIES; v++)
        if (strcmp(forced, COPIES[v].name) == 0 && runs_here(&COPIES[v]))
            mine = COPIES[v].name;
    if (mine == NULL)
        mine = fastest_copy();
    const char *expected = NULL;
    if (!__atomic_compare_exchange_n(&chosen, &expected, mine, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        mine = expected;
    echo_simd_select(mine);
}
