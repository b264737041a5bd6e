/* The echo canceller's hot loop (see echo.c for the algorithm), one pass over
 * the taps per sample:
 *
 *   - applies the previous sample's background update, an order-2 affine
 *     projection step: w += G (c0 x[n-1] + c1 x[n-2]) (G: one proportionate
 *     gain per 32-tap region, so no per-tap gain is loaded);
 *   - computes both filters' outputs on this sample's window x[n];
 *   - and the two G-weighted correlations the next step needs, x[n]'G x[n]
 *     and x[n]'G x[n-1].
 *
 * The windows are one contiguous history, newest first: x[n-1] = xn + 1,
 * x[n-2] = xn + 2. Sums go into LANES independent partial sums so the
 * vectorised loop is not bound by the latency of one accumulator chain.
 *
 * Speed as shipped: setuptools compiles extensions with -fwrapv, which keeps
 * gcc from vectorising this loop; build.py adds -fno-wrapv (nothing here
 * relies on signed wrap-around). The same body is compiled three times on
 * x86-64 (baseline SSE4.2, AVX2+FMA, AVX-512F) and the best one the CPU
 * supports is picked at run time; on aarch64 -O3 vectorises it with NEON.
 */
#include "echo_taps.h"

#include <stdlib.h>
#include <string.h>

#include "echo.h"

#define LANES 16
#define REGION (ECHO_MAX_TAPS / ECHO_REGIONS)

static inline __attribute__((always_inline)) void pass_body(float *restrict wb, const float *restrict wf,
                                                            const float *restrict g, const float *restrict xn,
                                                            int taps, float c0, float c1, float *out)
{
    const float *restrict xp = xn + 1;
    const float *restrict xpp = xn + 2;
    float yb[LANES] = {0}, yf[LANES] = {0}, xgx[LANES] = {0}, xgxp[LANES] = {0};
    int i = 0;
    for (int r = 0; i + REGION <= taps; r++, i += REGION) {
        const float gr = g[r], g0 = c0 * gr, g1 = c1 * gr;
        for (int k = i; k < i + REGION; k += LANES) {
            for (int j = 0; j < LANES; j++) {
                float x = xn[k + j], x1 = xp[k + j];
                float w = wb[k + j] + g0 * x1 + g1 * xpp[k + j];
                wb[k + j] = w;
                yb[j] += w * x;
                yf[j] += wf[k + j] * x;
                xgx[j] += gr * x * x;
                xgxp[j] += gr * x * x1;
            }
        }
    }
    if (i < taps) {
        const float gr = g[i / REGION], g0 = c0 * gr, g1 = c1 * gr;
        for (; i < taps; i++) {
            float x = xn[i], x1 = xp[i];
            float w = wb[i] + g0 * x1 + g1 * xpp[i];
            wb[i] = w;
            yb[0] += w * x;
            yf[0] += wf[i] * x;
            xgx[0] += gr * x * x;
            xgxp[0] += gr * x * x1;
        }
    }
    float s[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int j = 0; j < LANES; j++) {
        s[0] += yb[j];
        s[1] += yf[j];
        s[2] += xgx[j];
        s[3] += xgxp[j];
    }
    memcpy(out, s, sizeof(s));
}

typedef void (*pass_fn)(float *, const float *, const float *, const float *, int, float, float, float *);

static void pass_generic(float *wb, const float *wf, const float *g, const float *xn, int taps, float c0, float c1,
                         float *out)
{
    pass_body(wb, wf, g, xn, taps, c0, c1, out);
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define HAVE_X86_VARIANTS 1
__attribute__((target("avx2,fma"))) static void pass_avx2(float *wb, const float *wf, const float *g,
                                                           const float *xn, int taps, float c0, float c1,
                                                           float *out)
{
    pass_body(wb, wf, g, xn, taps, c0, c1, out);
}

__attribute__((target("avx512f,avx2,fma"))) static void pass_avx512(float *wb, const float *wf, const float *g,
                                                                     const float *xn, int taps, float c0,
                                                                     float c1, float *out)
{
    pass_body(wb, wf, g, xn, taps, c0, c1, out);
}
#endif

static pass_fn pass = pass_generic;
static const char *variant = "generic";

void echo_taps_pass(float *wb, const float *wf, const float *g, const float *xn, int taps, float c0, float c1,
                    float *out)
{
    pass(wb, wf, g, xn, taps, c0, c1, out);
}

int echo_simd_select(const char *name)
{
    if (name == NULL)
        return -1;
    if (strcmp(name, "generic") == 0) {
        pass = pass_generic;
        variant = "generic";
        return 0;
    }
#ifdef HAVE_X86_VARIANTS
    __builtin_cpu_init();
    if (strcmp(name, "avx2") == 0 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        pass = pass_avx2;
        variant = "avx2";
        return 0;
    }
    if (strcmp(name, "avx512") == 0 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2")
        && __builtin_cpu_supports("fma")) {
        pass = pass_avx512;
        variant = "avx512";
        return 0;
    }
#endif
    return -1;
}

const char *echo_simd_variant(void)
{
    return variant;
}

static int prefer_avx512(void)
{
#ifdef HAVE_X86_VARIANTS
    __builtin_cpu_init();
    return __builtin_cpu_is("intel");
#else
    return 0;
#endif
}

/* The best copy this CPU runs, once per process unless LINEBOX_ECHO_SIMD names
 * one (generic, avx2, avx512: for tests and benchmarks). Every call picks the
 * same answer, so concurrent first calls are harmless. */
void echo_taps_pick(void)
{
    static int picked;
    if (picked)
        return;
    const char *forced = getenv("LINEBOX_ECHO_SIMD");
    if (forced == NULL || forced[0] == '\0' || echo_simd_select(forced) != 0) {
        /* AVX-512 where it is the faster copy (Intel); on AMD's Zen 4 (512-bit
         * operations split in two) AVX2 measured faster (bench/RESULTS.md). */
        if (!(prefer_avx512() && echo_simd_select("avx512") == 0) && echo_simd_select("avx2") != 0)
            echo_simd_select("generic");
    }
    picked = 1;
}
