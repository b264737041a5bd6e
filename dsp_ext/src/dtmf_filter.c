/* The DTMF receiver's filter pass: the dial-tone notches, the eight Goertzel filters and the
 * four energy sums over one half-block (dtmf.c has the decisions that follow it), for one
 * detector or for several detectors in the lanes of a vector (dtmf_receiver_rows: one lane per
 * port).
 *
 * The expressions. The notches are two biquads in cascade, zeros on the unit circle
 * (c = 2 cos w0) and poles at radius r (p = 2 r cos w0, rr = r^2); every recursion,
 * y[n] = p y[n-1] - rr y[n-2] + f[n] (the Goertzel filter is the case p = c, rr = 1), is taken
 * two outputs per step, both from the same older pair:
 *     y[n+1] = (p^2 - rr) y[n-1] - p rr y[n-2] + p f[n] + f[n+1],
 * so its latency is paid once per two samples. Each energy is eight partial sums (sample k into
 * sum k % 8) added in one fixed tree.
 *
 * Bit-identical lanes. A port's results must not depend on whether it ran alone or in a lane
 * beside others, so the one-port and the lane code compute the same expression trees: this file
 * is compiled without reassociation and without automatic multiply-add contraction, and every
 * multiply-add is written out (SFMA/LFMA), fused in the FMA copy, two roundings in the
 * others. tests/dsp/test_dtmf_lanes.py and the fuzzer (tests/dsp/c/fuzz_dtmf_receiver.c) check
 * rows against one port, bit for bit, for every copy.
 *
 * Copies, picked once per process: "avx2" (AVX2+FMA, 8 lanes) where the CPU has it, else
 * "generic" (the build's baseline, 4 lanes: SSE4.2 on x86-64, NEON with fused multiply-adds on
 * aarch64);
 * LINEBOX_DTMF_SIMD=generic forces the baseline (tests, benchmarks).
 */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-associative-math", "fp-contract=off")
#endif

#include "dtmf.h"

#include <stdlib.h>
#include <string.h>

/* eight floats: one AVX register (the AVX2 copy's lanes) */
typedef float dtmf_v8 __attribute__((vector_size(32)));
#define DTMF_SUM8(v) ((((v)[0] + (v)[1]) + ((v)[2] + (v)[3])) + (((v)[4] + (v)[5]) + ((v)[6] + (v)[7])))
#define DTMF_FILTER_COPY

/* the baseline: 4 lanes; multiply-adds fused on aarch64 (every aarch64 CPU has them: NEON's
 * fmla), two roundings on x86-64's SSE4.2 */
typedef float dtmf_v4 __attribute__((vector_size(16)));
#define COPY(name) generic_##name
#define LANES 4
#define lanes_v dtmf_v4
#if defined(__aarch64__)
#include <arm_neon.h>
static inline dtmf_v4 neon_fma4(dtmf_v4 a, dtmf_v4 b, dtmf_v4 c)
{
    return (dtmf_v4) vfmaq_f32((float32x4_t) c, (float32x4_t) a, (float32x4_t) b);
}
#define SFMA(a, b, c) __builtin_fmaf((a), (b), (c))
#define LFMA(a, b, c) neon_fma4((a), (b), (c))
#else
#define SFMA(a, b, c) ((a) * (b) + (c))
#define LFMA(a, b, c) ((a) * (b) + (c))
#endif
#define LBCAST(x) ((dtmf_v4) {(x), (x), (x), (x)})
/* the half-blocks of four detectors into lanes, u[k] = {x[0][k], x[1][k], x[2][k], x[3][k]}, four
 * samples at a time: each lane's samples widened to 32 bits (zipped with zeros, shifted back
 * down: gcc widens 16-bit lanes one by one otherwise), made floats, and transposed 4 x 4 (GCC's
 * generic shuffles: zips on NEON, unpacks on SSE) */
typedef int16_t dtmf_s8 __attribute__((vector_size(16)));
typedef int32_t dtmf_i4 __attribute__((vector_size(16)));
static inline void generic_load(dtmf_v4 *u, const int16_t *const *x)
{
    const dtmf_s8 zero = {0};
    int k = 0;
    for (; k + 8 <= DTMF_HALF; k += 8) {
        dtmf_v4 w[2][4];                    /* samples k..k+3 and k+4..k+7 of each lane */
        for (int i = 0; i < 4; i++) {
            dtmf_s8 a;
            memcpy(&a, x[i] + k, sizeof(a));
            const dtmf_i4 lo = (dtmf_i4) __builtin_shuffle(zero, a, (dtmf_s8) {0, 8, 1, 9, 2, 10, 3, 11}) >> 16;
            const dtmf_i4 hi = (dtmf_i4) __builtin_shuffle(zero, a, (dtmf_s8) {4, 12, 5, 13, 6, 14, 7, 15}) >> 16;
            w[0][i] = __builtin_convertvector(lo, dtmf_v4);
            w[1][i] = __builtin_convertvector(hi, dtmf_v4);
        }
        for (int h = 0; h < 2; h++) {
            const dtmf_v4 t0 = __builtin_shuffle(w[h][0], w[h][1], (dtmf_i4) {0, 4, 1, 5});
            const dtmf_v4 t1 = __builtin_shuffle(w[h][0], w[h][1], (dtmf_i4) {2, 6, 3, 7});
            const dtmf_v4 t2 = __builtin_shuffle(w[h][2], w[h][3], (dtmf_i4) {0, 4, 1, 5});
            const dtmf_v4 t3 = __builtin_shuffle(w[h][2], w[h][3], (dtmf_i4) {2, 6, 3, 7});
            u[k + 4 * h] = __builtin_shuffle(t0, t2, (dtmf_i4) {0, 1, 4, 5});
            u[k + 4 * h + 1] = __builtin_shuffle(t0, t2, (dtmf_i4) {2, 3, 6, 7});
            u[k + 4 * h + 2] = __builtin_shuffle(t1, t3, (dtmf_i4) {0, 1, 4, 5});
            u[k + 4 * h + 3] = __builtin_shuffle(t1, t3, (dtmf_i4) {2, 3, 6, 7});
        }
    }
    for (; k < DTMF_HALF; k++)
        u[k] = (dtmf_v4) {(float) x[0][k], (float) x[1][k], (float) x[2][k], (float) x[3][k]};
}
#include "dtmf_filter_copy.h"
#undef COPY
#undef LANES
#undef lanes_v
#undef SFMA
#undef LFMA
#undef LBCAST

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
/* AVX2 + FMA: 8 lanes, every multiply-add fused */
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#include <immintrin.h>
#define COPY(name) avx2_##name
#define LANES 8
#define lanes_v dtmf_v8
#define SFMA(a, b, c) __builtin_fmaf((a), (b), (c))
#define LFMA(a, b, c) ((dtmf_v8) _mm256_fmadd_ps((__m256) (a), (__m256) (b), (__m256) (c)))
#define LBCAST(x) ((dtmf_v8) {(x), (x), (x), (x), (x), (x), (x), (x)})
/* the half-blocks of eight detectors into lanes, eight samples at a time as an 8 x 8 transpose
 * of 16-bit samples */
static inline void avx2_load(dtmf_v8 *u, const int16_t *const *x)
{
    int k = 0;
    for (; k + 8 <= DTMF_HALF; k += 8) {
        __m128i a[8];
        for (int i = 0; i < 8; i++)
            a[i] = _mm_loadu_si128((const __m128i *) (x[i] + k));
        const __m128i t0 = _mm_unpacklo_epi16(a[0], a[1]), t1 = _mm_unpackhi_epi16(a[0], a[1]);
        const __m128i t2 = _mm_unpacklo_epi16(a[2], a[3]), t3 = _mm_unpackhi_epi16(a[2], a[3]);
        const __m128i t4 = _mm_unpacklo_epi16(a[4], a[5]), t5 = _mm_unpackhi_epi16(a[4], a[5]);
        const __m128i t6 = _mm_unpacklo_epi16(a[6], a[7]), t7 = _mm_unpackhi_epi16(a[6], a[7]);
        const __m128i u0 = _mm_unpacklo_epi32(t0, t2), u1 = _mm_unpackhi_epi32(t0, t2);
        const __m128i u2 = _mm_unpacklo_epi32(t1, t3), u3 = _mm_unpackhi_epi32(t1, t3);
        const __m128i u4 = _mm_unpacklo_epi32(t4, t6), u5 = _mm_unpackhi_epi32(t4, t6);
        const __m128i u6 = _mm_unpacklo_epi32(t5, t7), u7 = _mm_unpackhi_epi32(t5, t7);
        const __m128i r[8] = {_mm_unpacklo_epi64(u0, u4), _mm_unpackhi_epi64(u0, u4),
                              _mm_unpacklo_epi64(u1, u5), _mm_unpackhi_epi64(u1, u5),
                              _mm_unpacklo_epi64(u2, u6), _mm_unpackhi_epi64(u2, u6),
                              _mm_unpacklo_epi64(u3, u7), _mm_unpackhi_epi64(u3, u7)};
        for (int j = 0; j < 8; j++)
            u[k + j] = (dtmf_v8) _mm256_cvtepi32_ps(_mm256_cvtepi16_epi32(r[j]));
    }
    for (; k < DTMF_HALF; k++)
        u[k] = (dtmf_v8) {(float) x[0][k], (float) x[1][k], (float) x[2][k], (float) x[3][k],
                          (float) x[4][k], (float) x[5][k], (float) x[6][k], (float) x[7][k]};
}
#include "dtmf_filter_copy.h"
#undef COPY
#undef LANES
#undef lanes_v
#undef SFMA
#undef LFMA
#undef LBCAST
#pragma GCC pop_options
#define HAVE_DTMF_AVX2 1
#endif

/* 1: the AVX2 copy, 0: the baseline; decided once per process (every caller decides the same,
 * so concurrent first calls are harmless). */
static int use_avx2(void)
{
#ifdef HAVE_DTMF_AVX2
    static int avx2 = -1;
    if (avx2 < 0) {
        const char *forced = getenv("LINEBOX_DTMF_SIMD");
        __builtin_cpu_init();
        avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")
               && !(forced != NULL && strcmp(forced, "generic") == 0);
    }
    return avx2;
#else
    return 0;
#endif
}

const char *dtmf_simd_variant(void)
{
    return use_avx2() ? "avx2" : "generic";
}

int dtmf_lanes_width(void)
{
    return use_avx2() ? 8 : 4;
}

void dtmf_half_pass(dtmf_rx_t *s, const int16_t *in, dtmf_half_t *out)
{
#ifdef HAVE_DTMF_AVX2
    if (use_avx2()) {
        avx2_half(s, in, out);
        return;
    }
#endif
    generic_half(s, in, out);
}

void dtmf_lanes_pass(dtmf_rx_t *const *s, const int16_t *const *in, dtmf_half_t *const *out, int jobs)
{
#ifdef HAVE_DTMF_AVX2
    if (use_avx2()) {
        avx2_lanes(s, in, out, jobs);
        return;
    }
#endif
    generic_lanes(s, in, out, jobs);
}
