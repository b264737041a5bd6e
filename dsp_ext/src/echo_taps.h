/* The echo canceller's passes over its taps (echo_taps.c), in their own
 * compilation unit so that they are built and dispatched for the SIMD the CPU has. */
#ifndef LINEBOX_ECHO_TAPS_H
#define LINEBOX_ECHO_TAPS_H

/* cdef-begin */
/* Which copy of the tap pass runs: "generic" (the build's baseline: SSE4.2 on
 * x86-64, NEON on aarch64), "avx2" (AVX2+FMA) or "avx512" (AVX-512F). */
const char *echo_simd_variant(void);
/* Force a copy (tests, benchmarks): 0, or -1 if unknown or the CPU lacks it. */
int echo_simd_select(const char *name);
/* cdef-end */

/* The background filter's pending update is
 *     w += G (d[0] x_m + d[1] x_{m-1} + d[2] x_{m-2})
 * with x_m the window of the newest sample processed so far (G: one gain per
 * 32-tap region, given to the passes per tap in g). Each pass applies it
 * first, then computes outputs.
 *
 * echo_taps_pass1: one sample; xn is its window (x_m = xn + 1).
 *   out[0] background output, out[1] foreground output.
 * echo_taps_pass2: two samples; xn is the newer one's window, xn + 1 the
 *   older one's (x_m = xn + 2). It applies only G (d[0] x_{m-1} + d[1] x_{m-2})
 *   (d has two entries): the step on x_m is not final yet (the next sample's
 *   step adds to it) and stays with the caller. out[0], out[1]: background
 *   outputs of the older and the newer sample with the weights as the pass
 *   leaves them (the caller adds the effect of x_m's step and of the older
 *   sample's own step through the correlations); out[2], out[3]: the
 *   foreground outputs of the older and the newer. */
void echo_taps_pass1(float *wb, const float *wf, const float *g, const float *xn, int taps, const float *d,
                     float *out);
void echo_taps_pass2(float *wb, const float *wf, const float *g, const float *xn, int taps, const float *d,
                     float *out);
/* r[l] = x'G x shifted by l (l = 0, 1, 2) over the window xn, from scratch. */
void echo_taps_correlate(const float *g, const float *xn, int taps, double *r);
/* The next ECHO_CHUNK samples' change of those correlations from the region
 * boundaries below the first region (dcorr[l * ECHO_CHUNK + 7 - t] for the
 * t-th sample after the one whose window is last); the first region's own
 * boundary needs the new sample and is the caller's. */
void echo_taps_boundaries(const float *g, const float *last, int taps, float *dcorr);
/* The block's end after a pair's pass: w += G (d[0] x_{m-1} + d[1] x_{m-2})
 * (x_m = xn, the newest window) in one pass that also sums what the
 * block-end decisions read, per region r: sums[4 r], the sum of |w| as the
 * update leaves it, and sums[4 r + 1 + l], the sum of x_m[i] x_m[i + l]
 * (l = 0, 1, 2; without G, which is about to change). */
void echo_taps_settle(float *wb, const float *g, const float *xn, int taps, const float *d, float *sums);
void echo_taps_pick(void);

#endif
