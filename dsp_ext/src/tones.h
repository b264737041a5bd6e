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
/* The per-block judge of the busy/congestion detector (dsp_ext/tones.py `ToneDetector`), in C so
 * that a line's detector costs a few microseconds per block instead of a numpy pass: the block
 * analyser above, plus for each block the frequency of every analysed tone (from the phase
 * advance since the previous block) and, for each *signature* (a set of frequencies, or a
 * modulated carrier with its two sidebands), whether it is on and its level. The arithmetic is
 * the numpy reference's (`tones.judge_reference`), in double, on the analyser's float outputs. */
#define TONE_MAX_SIGS 8

typedef struct {
    int n;                         /* components: 1..3; a modulated signature has exactly 3 */
    int modulated;                 /* (lower sideband, carrier, upper sideband) */
    int idx[3];                    /* their indices among the analysed frequencies */
    double tol[3];                 /* accepted frequency error (Hz); a modulated one uses tol[0] */
} tone_sig_t;

typedef struct {
    tone_rx_t rx;
    int nsig;
    tone_sig_t sig[TONE_MAX_SIGS];
    double advance[TONE_MAX_FREQS];   /* nominal phase advance per block (radians) */
    double prev_re[TONE_MAX_FREQS], prev_im[TONE_MAX_FREQS];   /* the previous block's values */
    double floor;                  /* mean square of the weakest tone component still "on" */
    double ref;                    /* mean square of 0 dBm0 (levels are 10 log10(p / ref)) */
    double purity;                 /* share of the block's power a signature must carry */
    double rate;
    float block_out[2 * TONE_MAX_FREQS + 1];
} tone_judge_t;

/* Returns 0, or -1 as tone_rx_init does. */
int tone_judge_init(tone_judge_t *j, const double *freqs, int nfreq, int block, double rate,
                    double floor, double ref, double purity);
/* Adds a signature; returns its number, or -1 (too many, n out of 1..3, an index out of range,
 * or modulated without n == 3). */
int tone_judge_add_sig(tone_judge_t *j, int n, const int *idx, const double *tol, int modulated);
/* For every block completed in `in`, writes for each signature s on[b * nsig + s] (0/1) and
 * level[b * nsig + s] (dBm0). Returns the number of blocks written (at most max_blocks; blocks
 * beyond are analysed but not reported, so size the outputs for n / block + 1 blocks). */
int tone_judge_process(tone_judge_t *j, const int16_t *in, int n, uint8_t *on, double *level,
                       int max_blocks);
/* cdef-end */

#endif
