/* Flush-to-zero (and denormals-are-zero on x86) for the duration of one DSP call.
 *
 *     const unsigned int mode = fp_enter();  ...  fp_leave(mode);
 *
 * The previous mode is restored on return, so the host process is not affected. Decaying
 * states (an echo canceller's idle taps, the DTMF receiver's notch filters after a tone, filter
 * memories in a speech pause or digital silence) would otherwise reach the subnormal range,
 * where each operation costs ~100 cycles on x86: a frame then takes 10-40x longer. Calls nest
 * (each restores what it found). Not under AddressSanitizer builds, which run the plain code.
 */
#ifndef LINEBOX_FPMODE_H
#define LINEBOX_FPMODE_H

#if defined(__SSE2__) && !defined(__SANITIZE_ADDRESS__)
#include <xmmintrin.h>
static inline unsigned int fp_enter(void)
{
    unsigned int csr = _mm_getcsr();
    _mm_setcsr(csr | 0x8040u); /* FTZ (bit 15) | DAZ (bit 6) */
    return csr;
}
static inline void fp_leave(unsigned int csr)
{
    _mm_setcsr(csr);
}
#elif defined(__aarch64__)
static inline unsigned int fp_enter(void)
{
    unsigned long fpcr;
    __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
    __asm__ volatile("msr fpcr, %0" : : "r"(fpcr | (1ul << 24))); /* FZ */
    return (unsigned int)fpcr;
}
static inline void fp_leave(unsigned int fpcr)
{
    unsigned long v = fpcr;
    __asm__ volatile("msr fpcr, %0" : : "r"(v));
}
#else
static inline unsigned int fp_enter(void)
{
    return 0;
}
static inline void fp_leave(unsigned int x)
{
    (void)x;
}
#endif

#endif
