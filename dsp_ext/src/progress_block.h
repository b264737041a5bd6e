/* Call-progress block features: the numeric part of dsp_ext.progress.CallProgressAnalyser.
 *
 * One 25 ms block (200 samples at 8 kHz) of line audio is windowed (Hann), zero-padded to a
 * 256-point FFT, and described by a few numbers; the decisions (floor tracking, ringback, voice,
 * SIT) stay in Python. Everything works on the caller's state struct; nothing is allocated.
 *
 *     progress_block_t st;
 *     progress_block_init(&st, ringback_mask, tone_mask);   // 0/1 per FFT bin (129 of them)
 *     progress_features_t f;
 *     progress_block_features(&st, block, sent_or_NULL, &f); // every 200 samples
 */
#ifndef LINEBOX_PROGRESS_BLOCK_H
#define LINEBOX_PROGRESS_BLOCK_H

/* cdef-begin */
#define PROGRESS_BLOCK 200
#define PROGRESS_NFFT 256
#define PROGRESS_NBINS 129

typedef struct {
    double ringback_mask[PROGRESS_NBINS];   /* 1.0 at bins near the country's ringback components */
    double tone_mask[PROGRESS_NBINS];       /* 1.0 at bins near any of its call-progress tones */
    double prev_amp[PROGRESS_NBINS];        /* last block's normalised band amplitude spectrum */
    double hann[PROGRESS_BLOCK];            /* tables, filled by init */
    double tw_re[PROGRESS_NFFT / 2], tw_im[PROGRESS_NFFT / 2];
    int band_lo, band_hi;                   /* the voice band's first and last bin */
} progress_block_t;

typedef struct {
    double power;          /* mean square of the block */
    double sent_power;     /* mean square of what we sent over the block (0 without) */
    double total;          /* voice-band (200-3400 Hz) power, summed over bins (+1e-9) */
    double share;          /* of `total`, held by the three strongest non-overlapping 5-bin peaks */
    double peak_hz;        /* strongest band bin, parabolic-interpolated on log power */
    double ringback;       /* band power at the ringback bins */
    double tones;          /* band power at the country's tone bins */
    double similarity;     /* cosine of this block's band amplitude spectrum with the last one's */
} progress_features_t;

void progress_block_init(progress_block_t *s, const double *ringback_mask, const double *tone_mask);
/* x, sent: PROGRESS_BLOCK samples each (sent may be NULL: silence) */
void progress_block_features(progress_block_t *s, const double *x, const double *sent, progress_features_t *out);
/* cdef-end */

#endif
