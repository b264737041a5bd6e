/* Call-progress tone analysis: Goertzel DFT values at a handful of
 * frequencies plus total energy, over fixed blocks. The cadence logic that turns these
 * block measurements into "busy tone started/ended" lives in Python
 * (dsp_ext/tones.py); it runs once per block, not per sample.
 */
#ifndef LINEBOX_TONES_H
#define LINEBOX_TONES_H

#include <stddef.h>
#include <stdint.h>

/* cdef-begin */
#define TONE_MAX_FREQS 12

typedef struct {
    int nfreq;
    int block;                     /* samples per block */
    float coef[TONE_MAX_FREQS];    /* 2 cos(w) */
    float cosw[TONE_MAX_FREQS], sinw[TONE_MAX_FREQS];
    float s1[TONE_MAX_FREQS], s2[TONE_MAX_FREQS];
    float energy;
    int fill;
    float scale;                   /* Goertzel |X| -> root mean square of that tone over the block */
} tone_rx_t;

/* Returns 0, or -1 if nfreq is out of 1..TONE_MAX_FREQS or block < 16. */
int tone_rx_init(tone_rx_t *s, const float *freqs, int nfreq, int block);
void tone_rx_reset(tone_rx_t *s);
/* For every block completed in `in`, writes 2 * nfreq + 1 floats to `out`:
 * for each frequency the complex DFT value (re, im) scaled so that
 * re^2 + im^2 is the mean square of the signal at that frequency (a sine of
 * peak A gives A^2/2; its phase is referenced to the block's last sample, so
 * the phase advance from block to block measures the tone's frequency), and
 * then the mean square of the whole block. Returns the number of blocks
 * written (at most max_blocks; further complete blocks are not analysed, so
 * size `out` for n / block + 1 blocks). */
int tone_rx_process(tone_rx_t *s, const int16_t *in, int n, float *out, int max_blocks);
/* cdef-end */

#endif
