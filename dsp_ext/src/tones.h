/* Call-progress tone analysis: Goertzel power at a handful of frequencies
 * plus total energy, over fixed blocks. The cadence logic that turns these
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
    float s1[TONE_MAX_FREQS], s2[TONE_MAX_FREQS];
    float energy;
    int fill;
    float scale;                   /* Goertzel |X|^2 -> mean square of that tone over the block */
} tone_rx_t;

/* Returns 0, or -1 if nfreq is out of 1..TONE_MAX_FREQS or block < 16. */
int tone_rx_init(tone_rx_t *s, const float *freqs, int nfreq, int block);
void tone_rx_reset(tone_rx_t *s);
/* For every block completed in `in`, writes nfreq + 1 floats to `out`: the
 * mean square of the signal at each frequency (a sine of peak A gives A^2/2)
 * and then the mean square of the whole block. Returns the number of blocks
 * written (at most max_blocks; further complete blocks are not analysed,
 * so size `out` for n / block + 1 blocks). */
int tone_rx_process(tone_rx_t *s, const int16_t *in, int n, float *out, int max_blocks);
/* cdef-end */

#endif
