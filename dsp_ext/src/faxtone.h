/* Fax and modem answer-tone detector: CNG (1100 Hz, the calling fax), CED /
 * ANS (2100 Hz from the answering side, V.25), and ANSam (2100 Hz with 15 Hz
 * amplitude modulation, V.8), with or without phase reversals every 450 ms.
 *
 * Small C API, usable from other C modules (the echo canceller's tone
 * disabler: G.168 says 2100 Hz *with phase reversals* disables it):
 *
 *     faxtone_rx_t fx;
 *     faxtone_rx_init(&fx, dbm0_peak);          // once per channel
 *     int state = faxtone_rx_process(&fx, samples, n);   // any n, every frame
 *     if (state & FAXTONE_REVERSALS) ...        // 2100 Hz with reversal(s) now
 *
 * The returned state is as of the last complete 10 ms block. Bits are held
 * while the tone lasts and drop within ~30 ms of it stopping. The struct is a
 * plain value; nothing is allocated.
 */
#ifndef LINEBOX_FAXTONE_H
#define LINEBOX_FAXTONE_H

#include <stddef.h>
#include <stdint.h>

/* cdef-begin */
#define FAXTONE_BLOCK 80
#define FAXTONE_CNG 1          /* 1100 Hz +-38 Hz for >= 350 ms */
#define FAXTONE_ANS 2          /* 2100 Hz +-21 Hz for >= 300 ms (CED, ANS or ANSam) */
#define FAXTONE_REVERSALS 4    /* ... and at least one 180-degree phase reversal seen in it */
#define FAXTONE_AM 8           /* ... and 15 Hz amplitude modulation (ANSam) */

typedef struct {
    float coef[2], cosw[2], sinw[2];   /* 0: 1100 Hz, 1: 2100 Hz */
    float s1[2], s2[2];
    float energy;
    int fill;
    uint64_t samples;                  /* consumed since init */
    float min_power;                   /* block power of the weakest accepted tone */
    /* per tone: run of blocks where the tone dominates */
    int run[2];                        /* consecutive "on" blocks */
    int gap[2];                        /* consecutive "off" blocks inside a run */
    uint64_t run_start[2];             /* first sample of the run */
    /* 2100 Hz phase tracking */
    float last_re, last_im;            /* last clean block's phasor */
    int since_last;                    /* blocks since it */
    float drift;                       /* phase advance per block beyond nominal, radians */
    int clean_blocks;
    float amp_avg;                     /* smoothed block amplitude */
    float amp_min, amp_max;            /* over the run, for the AM depth */
    int reversals;
    int suspect;                       /* last clean block jumped; the next one confirms it */
    /* what is reported */
    int state;
    uint64_t cng_start, cng_end, ans_start, ans_end;   /* sample indices of the last transitions */
} faxtone_rx_t;

/* dbm0_peak: peak of a 0 dBm0 sine (dsp_ext.levels.DBM0_PEAK); tones below
 * -43 dBm0 are ignored. */
void faxtone_rx_init(faxtone_rx_t *s, double dbm0_peak);
void faxtone_rx_reset(faxtone_rx_t *s);
int faxtone_rx_process(faxtone_rx_t *s, const int16_t *in, int n);
/* Frequency of the 2100 Hz tone being tracked, Hz (valid while FAXTONE_ANS). */
float faxtone_rx_ans_freq(const faxtone_rx_t *s);
/* cdef-end */

#endif
