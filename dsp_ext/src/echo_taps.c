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
 * at run time; on aarch64 the baseline copy is NEON, its pair pass, block-end
 * settle and region boundaries in assembly (pass2_neon, echo_taps_settle,
 * boundaries_neon).
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

/* aarch64 (gcc): the hottest loops in NEON assembly (see pass2_neon) */
#if defined(__aarch64__) && defined(__GNUC__)
#define HAVE_NEON_ASM 1
#include <arm_neon.h>
#endif

/* AddressSanitizer does not see the memory that assembly touches: in ASan
 * builds (the sanitizer tests, also cross-built for aarch64) each asm block's
 * whole range of floats, [p, p + n), is checked before it runs. */
#if defined(HAVE_NEON_ASM) && defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <stdio.h>
static void asm_range(const float *p, long n, const char *what)
{
    const void *bad = __asan_region_is_poisoned((void *)(uintptr_t)p, sizeof(float) * (size_t)n);
    if (bad != NULL) {
        fprintf(stderr, "AddressSanitizer: the NEON assembly of %s would touch %p, outside its buffer\n", what, bad);
        __builtin_trap();
    }
}
#define ASM_RANGE(p, n, what) asm_range((p), (n), (what))
#else
#define ASM_RANGE(p, n, what) ((void)0)
#endif

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

#ifdef HAVE_NEON_ASM
/* aarch64: the region boundaries' changes (boundaries_v4) with the pairs of
 * boundaries below the last region in NEON assembly: 14 instructions a
 * boundary (three paired loads with post-index, the gain step, two
 * multiplies and six multiply-adds) where gcc's code took about 30; the
 * arithmetic is boundaries_v4's, operation for operation (same accumulator
 * sets, same order: the same result). */
#define NEON_BOUNDARY(D, S)                                                                                       \
    "ldp q0, q1, [%[p0]], #128\n\t"                                                                              \
    "ldp q2, q3, [%[p1]], #128\n\t"                                                                              \
    "ldp q4, q5, [%[p2]], #128\n\t"                                                                              \
    "fmul v6.4s, v0.4s, " D ".s[0]\n\t"                                                                          \
    "fmul v7.4s, v1.4s, " D ".s[0]\n\t"                                                                          \
    "fmla %[" S "0l].4s, v6.4s, v0.4s\n\t"                                                                       \
    "fmla %[" S "0h].4s, v7.4s, v1.4s\n\t"                                                                       \
    "fmla %[" S "1l].4s, v6.4s, v2.4s\n\t"                                                                       \
    "fmla %[" S "1h].4s, v7.4s, v3.4s\n\t"                                                                       \
    "fmla %[" S "2l].4s, v6.4s, v4.4s\n\t"                                                                       \
    "fmla %[" S "2h].4s, v7.4s, v5.4s\n\t"

static void boundaries_neon(const float *restrict g, const float *restrict last, int taps, float *restrict dcorr)
{
    enum { L = 4, N = ECHO_CHUNK / 4 };
    const int nreg = (taps + REGION - 1) / REGION;
    int pairs = (nreg - 1) / 2; /* pairs j, j + 1 with j + 1 < nreg: both whole, both with a next gain */
    v4f a0[N] = {{0}}, a1[N] = {{0}}, a2[N] = {{0}}, b0[N] = {{0}}, b1[N] = {{0}}, b2[N] = {{0}};
    int j = 1;
    if (pairs > 0) {
        const float *p0 = last + REGION - ECHO_CHUNK, *p1 = p0 + 1, *p2 = p0 + 2, *pg = g;
        v4f a0l, a0h, a1l, a1h, a2l, a2h, b0l, b0h, b1l, b1h, b2l, b2h;
        ASM_RANGE(g, 2 * pairs + 1, "the boundaries (gains)");
        ASM_RANGE(p0, 2 * pairs * REGION - REGION + ECHO_CHUNK + 2, "the boundaries (history)");
        j += 2 * pairs;
        __asm__ __volatile__("movi %[a0l].4s, #0\n\tmovi %[a0h].4s, #0\n\tmovi %[a1l].4s, #0\n\t"
                             "movi %[a1h].4s, #0\n\tmovi %[a2l].4s, #0\n\tmovi %[a2h].4s, #0\n\t"
                             "movi %[b0l].4s, #0\n\tmovi %[b0h].4s, #0\n\tmovi %[b1l].4s, #0\n\t"
                             "movi %[b1h].4s, #0\n\tmovi %[b2l].4s, #0\n\tmovi %[b2h].4s, #0\n\t"
                             "1:\n\t"
                             "ldr s24, [%[pg]], #8\n\t"      /* g[j - 1] */
                             "ldp s25, s26, [%[pg], #-4]\n\t" /* g[j], g[j + 1] */
                             "fsub s27, s25, s24\n\t"
                             "fsub s28, s26, s25\n\t"
                             NEON_BOUNDARY("v27", "a") NEON_BOUNDARY("v28", "b")
                             "subs %w[n], %w[n], #1\n\t"
                             "b.ne 1b\n\t"
                             : [p0] "+r"(p0), [p1] "+r"(p1), [p2] "+r"(p2), [pg] "+r"(pg), [n] "+r"(pairs),
                               [a0l] "=&w"(a0l), [a0h] "=&w"(a0h), [a1l] "=&w"(a1l), [a1h] "=&w"(a1h),
                               [a2l] "=&w"(a2l), [a2h] "=&w"(a2h), [b0l] "=&w"(b0l), [b0h] "=&w"(b0h),
                               [b1l] "=&w"(b1l), [b1h] "=&w"(b1h), [b2l] "=&w"(b2l), [b2h] "=&w"(b2h)
                             :
                             : "v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7", "v24", "v25", "v26", "v27", "v28",
                               "cc", "memory");
        a0[0] = a0l, a0[1] = a0h, a1[0] = a1l, a1[1] = a1h, a2[0] = a2l, a2[1] = a2h;
        b0[0] = b0l, b0[1] = b0h, b1[0] = b1l, b1[1] = b1h, b2[0] = b2l, b2[1] = b2h;
    }
    for (; j + 1 <= nreg; j += 2) { /* the rest as boundaries_v4 */
        BOUNDARY(v4f, j, a0, a1, a2);
        BOUNDARY(v4f, j + 1, b0, b1, b2);
    }
    if (j <= nreg)
        BOUNDARY(v4f, j, a0, a1, a2);
    for (int h = 0; h < N; h++) {
        a0[h] += b0[h];
        a1[h] += b1[h];
        a2[h] += b2[h];
    }
    memcpy(dcorr, a0, sizeof(a0));
    memcpy(dcorr + ECHO_CHUNK, a1, sizeof(a1));
    memcpy(dcorr + 2 * ECHO_CHUNK, a2, sizeof(a2));
}
#endif

static void boundaries_generic(const float *g, const float *last, int taps, float *dcorr)
{
#ifdef HAVE_NEON_ASM
    boundaries_neon(g, last, taps, dcorr);
#else
    boundaries_v4(g, last, taps, dcorr);
#endif
}

static void pass1_generic(float *wb, const float *wf, const float *g, const float *xn, int taps, const float *d,
                          float *out)
{
    pass1_v4(wb, wf, g, xn, taps, d, out);
}

#ifdef HAVE_NEON_ASM
/* aarch64: the pair pass's whole regions in NEON assembly. gcc's code for
 * pass2_v4 spends 29 instructions on 8 taps: window loads at 4-byte offsets
 * from one pointer, each an ldur; single stores; pointer increments; a
 * register copy for the window carried to the next step. Here every stream
 * (weights of each filter, the windows at offsets 1, 3 and 4) has its own
 * pointer, advanced by the load or store itself (post-index), and moves 64
 * bytes (16 taps, four registers) per ld1/st1; the window at offset 0 is the
 * one at offset 4 of the vector before; two regions of 32 taps an iteration,
 * their gains in one load. 31 instructions per 16 taps (24 multiply-adds, 5
 * loads and a store of four registers, one register copy) plus 2.5 per
 * region. The arithmetic is the generic pass's, operation for operation: the
 * same roundings, the same output, with eight accumulators (the generic
 * pass's two sets, vectors in the same turn).
 *
 * What the count does not show (bench/aarch64.py): an ld1/st1 of four
 * registers is one instruction but four 16-byte transfers, as ldp is one for
 * two; the bytes the pass moves are the generic pass's. On an A72, whose load
 * unit takes 16 bytes a cycle, the pass is bound by those loads (and by its
 * multiply-adds) either way; fewer instructions leave the front end room,
 * not the load unit. */
/* 16 taps: the weights v0-v3, the windows at offsets 1 (v4-v7), 3 (v16-v19,
 * then the foreground weights there) and 4 (v20-v23); the window at offset
 * 0 of the first vector is v24 (the last one at offset 4 of the step before),
 * of the others those at offset 4. E: the region's gains times the step's
 * coefficients (lane 0 on offset 3, lane 1 on offset 4). */
#define NEON_STEP(E)                                                                                              \
    "ld1 {v0.4s-v3.4s}, [%[pw]]\n\t"                                                                             \
    "ld1 {v16.4s-v19.4s}, [%[p3]], #64\n\t"                                                                      \
    "ld1 {v20.4s-v23.4s}, [%[p4]], #64\n\t"                                                                      \
    "fmla v0.4s, v20.4s, " E ".s[1]\n\t"                                                                         \
    "fmla v1.4s, v21.4s, " E ".s[1]\n\t"                                                                         \
    "fmla v2.4s, v22.4s, " E ".s[1]\n\t"                                                                         \
    "fmla v3.4s, v23.4s, " E ".s[1]\n\t"                                                                         \
    "fmla v0.4s, v16.4s, " E ".s[0]\n\t"                                                                         \
    "fmla v1.4s, v17.4s, " E ".s[0]\n\t"                                                                         \
    "fmla v2.4s, v18.4s, " E ".s[0]\n\t"                                                                         \
    "fmla v3.4s, v19.4s, " E ".s[0]\n\t"                                                                         \
    "st1 {v0.4s-v3.4s}, [%[pw]], #64\n\t"                                                                        \
    "ld1 {v16.4s-v19.4s}, [%[pf]], #64\n\t"                                                                      \
    "ld1 {v4.4s-v7.4s}, [%[p1]], #64\n\t"                                                                        \
    "fmla %[yb0a].4s, v0.4s, v4.4s\n\t"                                                                          \
    "fmla %[yf0a].4s, v16.4s, v4.4s\n\t"                                                                         \
    "fmla %[yb1a].4s, v0.4s, v24.4s\n\t"                                                                         \
    "fmla %[yf1a].4s, v16.4s, v24.4s\n\t"                                                                        \
    "fmla %[yb0b].4s, v1.4s, v5.4s\n\t"                                                                          \
    "fmla %[yf0b].4s, v17.4s, v5.4s\n\t"                                                                         \
    "fmla %[yb1b].4s, v1.4s, v20.4s\n\t"                                                                         \
    "fmla %[yf1b].4s, v17.4s, v20.4s\n\t"                                                                        \
    "fmla %[yb0a].4s, v2.4s, v6.4s\n\t"                                                                          \
    "fmla %[yf0a].4s, v18.4s, v6.4s\n\t"                                                                         \
    "fmla %[yb1a].4s, v2.4s, v21.4s\n\t"                                                                         \
    "fmla %[yf1a].4s, v18.4s, v21.4s\n\t"                                                                        \
    "fmla %[yb0b].4s, v3.4s, v7.4s\n\t"                                                                          \
    "fmla %[yf0b].4s, v19.4s, v7.4s\n\t"                                                                         \
    "fmla %[yb1b].4s, v3.4s, v22.4s\n\t"                                                                         \
    "fmla %[yf1b].4s, v19.4s, v22.4s\n\t"                                                                        \
    "mov v24.16b, v23.16b\n\t"
#define NEON_REGION(E) NEON_STEP(E) NEON_STEP(E)

/* (v[0] + v[2]) + (v[1] + v[3]) of four vectors at once (SUM_v4f's order):
 * the lanes of a, b, c, d. */
static inline v4f sum4_neon(v4f a, v4f b, v4f c, v4f d)
{
    const float64x2_t a2 = vreinterpretq_f64_f32(a), b2 = vreinterpretq_f64_f32(b);
    const float64x2_t c2 = vreinterpretq_f64_f32(c), d2 = vreinterpretq_f64_f32(d);
    const float32x4_t ab = vaddq_f32(vreinterpretq_f32_f64(vzip1q_f64(a2, b2)), vreinterpretq_f32_f64(vzip2q_f64(a2, b2)));
    const float32x4_t cd = vaddq_f32(vreinterpretq_f32_f64(vzip1q_f64(c2, d2)), vreinterpretq_f32_f64(vzip2q_f64(c2, d2)));
    return vpaddq_f32(ab, cd);
}

static void pass2_neon(float *restrict wb, const float *restrict wf, const float *restrict g,
                       const float *restrict xn, int taps, const float *restrict d, float *restrict out)
{
    const int whole = taps / REGION;
    v4f yb0a = {0}, yb1a = {0}, yf0a = {0}, yf1a = {0};
    v4f yb0b = {0}, yb1b = {0}, yf0b = {0}, yf1b = {0};
    if (whole > 0) {
        /* two regions an iteration (their gains in one load); an odd count
         * enters at the second */
        float *pw = wb;
        const float *pf = wf, *pg = g, *p1 = xn + 1, *p3 = xn + 3, *p4 = xn + 4;
        const float *const end = wb + whole * REGION;
        const v4f dd = {d[0], d[1], 0.0f, 0.0f};
        ASM_RANGE(wb, whole * REGION, "the pair pass (w_bg)");
        ASM_RANGE(wf, whole * REGION, "the pair pass (w_fg)");
        ASM_RANGE(g, whole, "the pair pass (gains)");
        ASM_RANGE(xn, whole * REGION + 4, "the pair pass (history)");
        __asm__ __volatile__("ldur q24, [%[p4], #-16]\n\t" /* the window at offset 0 */
                "movi %[yb0a].4s, #0\n\tmovi %[yb1a].4s, #0\n\tmovi %[yf0a].4s, #0\n\tmovi %[yf1a].4s, #0\n\t"
                "movi %[yb0b].4s, #0\n\tmovi %[yb1b].4s, #0\n\tmovi %[yf0b].4s, #0\n\tmovi %[yf1b].4s, #0\n\t"
                "tbz %w[odd], #0, 1f\n\t"
                "ldr s27, [%[pg]], #4\n\t"
                "fmul v26.2s, %[dd].2s, v27.s[0]\n\t"
                "b 2f\n\t"
                "1:\n\t"
                "ldp s27, s28, [%[pg]], #8\n\t"
                "fmul v25.2s, %[dd].2s, v27.s[0]\n\t"
                "fmul v26.2s, %[dd].2s, v28.s[0]\n\t"
                NEON_REGION("v25")
                "2:\n\t"
                NEON_REGION("v26")
                "cmp %[pw], %[end]\n\t"
                "b.ne 1b\n\t"
                : [pw] "+r"(pw), [pf] "+r"(pf), [pg] "+r"(pg), [p1] "+r"(p1), [p3] "+r"(p3), [p4] "+r"(p4),
                  [yb0a] "=&w"(yb0a), [yb1a] "=&w"(yb1a), [yf0a] "=&w"(yf0a), [yf1a] "=&w"(yf1a),
                  [yb0b] "=&w"(yb0b), [yb1b] "=&w"(yb1b), [yf0b] "=&w"(yf0b), [yf1b] "=&w"(yf1b)
                : [end] "r"(end), [dd] "w"(dd), [odd] "r"(whole)
                : "v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7", "v16", "v17", "v18", "v19", "v20", "v21",
                  "v22", "v23", "v24", "v25", "v26", "v27", "v28", "cc", "memory");
    }
    yb0a += yb0b;
    yb1a += yb1b;
    yf0a += yf0b;
    yf1a += yf1b;
    v4f t = {0.0f, 0.0f, 0.0f, 0.0f}; /* tb0, tb1, tf0, tf1 */
    for (int i = whole * REGION; i < taps; i++) { /* as pass2_v4's taps past the last whole region */
        const float gi = g[i / REGION];
        const float u = d[0] * xn[i + 3] + d[1] * xn[i + 4];
        const float w = wb[i] + gi * u;
        wb[i] = w;
        t[0] += w * xn[i + 1];
        t[2] += wf[i] * xn[i + 1];
        t[1] += w * xn[i];
        t[3] += wf[i] * xn[i];
    }
    t += sum4_neon(yb0a, yb1a, yf0a, yf1a);
    memcpy(out, &t, sizeof(t));
}
#endif

static void pass2_generic(float *wb, const float *wf, const float *g, const float *xn, int taps, const float *d,
                          float *out)
{
#ifdef HAVE_NEON_ASM
    pass2_neon(wb, wf, g, xn, taps, d, out);
#else
    pass2_v4(wb, wf, g, xn, taps, d, out);
#endif
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

/* One pass for the block's end (echo_taps.h): once per block, so one copy
 * (vectors of four in C; on aarch64 the whole regions in NEON assembly as the
 * pair pass, 83 instructions a region where gcc's code took 190). The
 * update's order is the pair pass's (the older window first). */
#ifdef HAVE_NEON_ASM
#define SETTLE_STEP(FIRST)                                                                                         \
    "ldp q0, q1, [%[pw]]\n\t"                                                                                    \
    "ldp q2, q3, [%[p0]], #32\n\t"                                                                               \
    "ldp q4, q5, [%[p1]], #32\n\t"                                                                               \
    "ldp q6, q7, [%[p2]], #32\n\t"                                                                               \
    "fmla v0.4s, v6.4s, v24.s[1]\n\t"                                                                            \
    "fmla v1.4s, v7.4s, v24.s[1]\n\t"                                                                            \
    "fmla v0.4s, v4.4s, v24.s[0]\n\t"                                                                            \
    "fmla v1.4s, v5.4s, v24.s[0]\n\t"                                                                            \
    "stp q0, q1, [%[pw]], #32\n\t"                                                                               \
    "fabs v0.4s, v0.4s\n\t"                                                                                      \
    "fabs v1.4s, v1.4s\n\t"                                                                                      \
    FIRST##_MASS                                                                                                 \
    FIRST##_OP " %[c0].4s, v2.4s, v2.4s\n\t"                                                                     \
    "fmla %[c0].4s, v3.4s, v3.4s\n\t"                                                                            \
    FIRST##_OP " %[c1].4s, v2.4s, v4.4s\n\t"                                                                     \
    "fmla %[c1].4s, v3.4s, v5.4s\n\t"                                                                            \
    FIRST##_OP " %[c2].4s, v2.4s, v6.4s\n\t"                                                                     \
    "fmla %[c2].4s, v3.4s, v7.4s\n\t"
#define START_MASS "fadd %[m].4s, v0.4s, v1.4s\n\t"
#define START_OP "fmul"
#define MORE_MASS "fadd %[m].4s, %[m].4s, v0.4s\n\tfadd %[m].4s, %[m].4s, v1.4s\n\t"
#define MORE_OP "fmla"
#endif

void echo_taps_settle(float *restrict wb, const float *restrict g, const float *restrict xn, int taps,
                      const float *restrict d, float *restrict sums)
{
    const int nreg = (taps + REGION - 1) / REGION;
    int r = 0;
#ifdef HAVE_NEON_ASM
    const int whole = taps / REGION;
    if (whole > 0) {
        float *pw = wb, *po = sums;
        const float *pg = g, *p0 = xn, *p1 = xn + 1, *p2 = xn + 2;
        const float *const end = wb + whole * REGION;
        const v4f dd = {d[0], d[1], 0.0f, 0.0f};
        v4f m, c0, c1, c2;
        ASM_RANGE(wb, whole * REGION, "the settle (w_bg)");
        ASM_RANGE(g, whole, "the settle (gains)");
        ASM_RANGE(xn, whole * REGION + 2, "the settle (history)");
        ASM_RANGE(sums, 4 * whole, "the settle (sums)");
        __asm__ __volatile__("1:\n\t"
                "ldr s25, [%[pg]], #4\n\t"
                "fmul v24.2s, %[dd].2s, v25.s[0]\n\t"
                SETTLE_STEP(START) SETTLE_STEP(MORE) SETTLE_STEP(MORE) SETTLE_STEP(MORE)
                "faddp %[m].4s, %[m].4s, %[c0].4s\n\t"
                "faddp %[c1].4s, %[c1].4s, %[c2].4s\n\t"
                "faddp %[m].4s, %[m].4s, %[c1].4s\n\t"
                "str %q[m], [%[po]], #16\n\t"
                "cmp %[pw], %[end]\n\t"
                "b.ne 1b\n\t"
                : [pw] "+r"(pw), [po] "+r"(po), [pg] "+r"(pg), [p0] "+r"(p0), [p1] "+r"(p1), [p2] "+r"(p2),
                  [m] "=&w"(m), [c0] "=&w"(c0), [c1] "=&w"(c1), [c2] "=&w"(c2)
                : [end] "r"(end), [dd] "w"(dd)
                : "v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7", "v24", "v25", "cc", "memory");
        r = whole;
    }
#endif
    for (; r < nreg; r++) {
        const int lo = r * REGION, hi = lo + REGION < taps ? lo + REGION : taps;
        const float e0 = g[r] * d[0], e1 = g[r] * d[1];
        float m = 0.0f, s0 = 0.0f, s1 = 0.0f, s2 = 0.0f;
        if (hi - lo == REGION) {
            v4f vm = {0}, v0 = {0}, v1 = {0}, v2 = {0};
            for (int i = lo; i < hi; i += 4) {
                v4f w, x0, x1, x2;
                memcpy(&w, wb + i, sizeof(w));
                memcpy(&x0, xn + i, sizeof(x0));
                memcpy(&x1, xn + i + 1, sizeof(x1));
                memcpy(&x2, xn + i + 2, sizeof(x2));
                w += e1 * x2;
                w += e0 * x1;
                memcpy(wb + i, &w, sizeof(w));
                v4i bits;
                memcpy(&bits, &w, sizeof(bits));
                bits &= 0x7fffffff;
                v4f a;
                memcpy(&a, &bits, sizeof(a));
                vm += a;
                v0 += x0 * x0;
                v1 += x0 * x1;
                v2 += x0 * x2;
            }
            m = SUM_v4f(vm);
            s0 = SUM_v4f(v0);
            s1 = SUM_v4f(v1);
            s2 = SUM_v4f(v2);
        } else {
            for (int i = lo; i < hi; i++) {
                float w = wb[i];
                w += e1 * xn[i + 2];
                w += e0 * xn[i + 1];
                wb[i] = w;
                m += w < 0.0f ? -w : w;
                s0 += xn[i] * xn[i];
                s1 += xn[i] * xn[i + 1];
                s2 += xn[i] * xn[i + 2];
            }
        }
        sums[4 * r] = m;
        sums[4 * r + 1] = s0;
        sums[4 * r + 2] = s1;
        sums[4 * r + 3] = s2;
    }
}

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
