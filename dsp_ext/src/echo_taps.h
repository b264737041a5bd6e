/* The echo canceller's per-sample pass over its taps (echo_taps.c), in its own
 * compilation unit so that it is built and dispatched for the SIMD the CPU has. */
#ifndef LINEBOX_ECHO_TAPS_H
#define LINEBOX_ECHO_TAPS_H

/* cdef-begin */
/* Which copy of the tap pass runs: "generic" (the build's baseline: SSE4.2 on
 * x86-64, NEON on aarch64), "avx2" (AVX2+FMA) or "avx512" (AVX-512F). */
const char *echo_simd_variant(void);
/* Force a copy (tests, benchmarks): 0, or -1 if unknown or the CPU lacks it. */
int echo_simd_select(const char *name);
/* cdef-end */

/* out[0] background output, out[1] foreground output, out[2] x'Gx of this
 * window, out[3] x'Gx_prev (this window against the previous one). */
void echo_taps_pass(float *wb, const float *wf, const float *g, const float *xn, int taps, float c0, float c1,
                    float *out);
void echo_taps_pick(void);

#endif
