/* DTMF (Q.23 tones) receiver and generator, 8 kHz int16.
 *
 * Receiver: eight Goertzel filters run over 102-sample blocks (12.75 ms),
 * each block computed as two 51-sample halves so that one pass yields the
 * block power, the per-half powers (is the tone present over the whole
 * block?) and a frequency estimate (phase advance between halves, refined by
 * the phase advance between consecutive blocks). See dtmf.c for the rules.
 *
 * The state structs are plain values: Python allocates them once per channel
 * (ffi.new) and the per-sample path never allocates.
 */
#ifndef LINEBOX_DTMF_H
#define LINEBOX_DTMF_H

#include <stddef.h>
#include <stdint.h>

/* cdef-begin */
#define DTMF_BLOCK 102
#define DTMF_HALF 51
#define DTMF_TX_QUEUE 128

#define DTMF_EV_START 1
#define DTMF_EV_END 2

typedef struct {
    int kind;            /* DTMF_EV_START or DTMF_EV_END */
    char digit;          /* one of 0123456789*#ABCD */
    uint64_t sample;     /* start: first sample of the tone; end: first sample after it */
    float level_dbm0;    /* stronger of the two tones, at detection */
} dtmf_event_t;

typedef struct {
    /* per-tone constants: 697 770 852 941 | 1209 1336 1477 1633 Hz */
    float coef[8];                 /* 2 cos(w) */
    float cosw[8], sinw[8];
    float half_rot_re[8], half_rot_im[8];   /* e^{-j w 51}: aligns the second half to the first */
    float ref_re[8], ref_im[8];    /* e^{-j w 50}: Goertzel output -> DFT referenced to the half's start */
    /* leakage of a column tone into a row bin, D(w_col - w_row) / N, for
     * halves and whole blocks (index row * 4 + column) */
    float leak_half_re[16], leak_half_im[16];
    float leak_block_re[16], leak_block_im[16];
    /* the block so far and the previous block */
    float h1_re[8], h1_im[8];      /* first half of the current block */
    float prev_re[8], prev_im[8];  /* whole previous block */
    float h1_energy;               /* sum of x^2 over the first half */
    /* talk-off guard: energy of x[n] - x[n-2], which weights the spectrum by
     * 4 sin^2(w) (see dtmf.c) */
    float x1, x2;                  /* last two input samples */
    float v1, v2, z1, z2;          /* the notches' own outputs (z: after both) */
    float notch_c[2], notch_p[2];  /* 2 cos(w0) and 2 r cos(w0) of each notch */
    float notch_r2;
    float steady_removed, steady_removed_hf;  /* slowly rising minimum of what the notches removed */
    float h1_removed, h1_removed_hf;          /* what they removed in the first half */
    float notch_g2[8];             /* the notch's power gain at each tone */
    float notch_inv[8];            /* 1 / its amplitude gain */
    float h1_hf_energy;
    float hf_weight[8];            /* 4 sin^2(w) of each tone */
    float hf_purity;               /* the tones' share of that energy needed to qualify */
    int fill;                      /* samples in the current half */
    int16_t partial[DTMF_HALF];    /* those samples, when the half arrived in pieces */
    int half;                      /* 0: first half, 1: second half */
    uint64_t samples;              /* samples consumed since init (reset keeps counting) */
    /* decision state */
    char prev_hit;                 /* digit the previous block qualified as, or 0 */
    float prev_fill;               /* estimated samples of tone in the previous block */
    char pending;                  /* digit waiting for the next half-block to confirm it */
    uint64_t pending_start;
    float pending_level;
    float pending_ref_row, pending_ref_col;   /* last half's tone powers, for the confirmation */
    float ref_row, ref_col;        /* block powers of the current digit's tones when it started */
    int prev_valid;                /* prev_re/prev_im hold a whole block */
    char current;                  /* digit being reported, or 0 */
    int misses;                    /* consecutive blocks without the current digit */
    uint64_t miss_start;           /* first sample of the first missed block */
    /* thresholds */
    float dbm0_rms2;               /* mean square of a 0 dBm0 sine */
    float min_block_power;         /* per-tone power over a block at the weakest accepted level */
    uint32_t events_dropped;
} dtmf_rx_t;

typedef struct {
    char queue[DTMF_TX_QUEUE];
    int head;
    int count;
    int on_samples, off_samples;
    double amp_low, amp_high;
    double ph_low, ph_high, inc_low, inc_high;
    int remaining;                 /* samples left in the current on or off period */
    int state;                     /* 0 idle, 1 tone on, 2 pause after a tone */
} dtmf_tx_t;

/* dbm0_peak: peak amplitude of a 0 dBm0 sine (dsp_ext.levels.DBM0_PEAK). */
void dtmf_rx_init(dtmf_rx_t *s, double dbm0_peak);
void dtmf_rx_reset(dtmf_rx_t *s);
/* Returns the number of events written; n / 51 + 2 slots always suffice. */
int dtmf_rx_process(dtmf_rx_t *s, const int16_t *in, int n, dtmf_event_t *events, int max_events);

/* Levels are peak amplitudes of each tone. */
void dtmf_tx_init(dtmf_tx_t *s, int on_ms, int off_ms, double amp_low, double amp_high);
/* Appends digits; returns how many fit (the rest must be queued later).
 * Returns -1 - index of the first character that is not a DTMF digit
 * (nothing is queued then). */
int dtmf_tx_queue(dtmf_tx_t *s, const char *digits, int n);
/* Always writes n samples (silence when idle). */
void dtmf_tx_generate(dtmf_tx_t *s, int16_t *out, int n);
int dtmf_tx_busy(const dtmf_tx_t *s);
/* Row (0-3) and column (0-3) of a digit, or -1 if it is not one. */
int dtmf_digit_index(char digit);
/* Which copy of the receiver's filter pass runs (dtmf_filter.c): "generic" (the build's
 * baseline, 4 ports a lane pass) or "avx2" (AVX2+FMA, 8 ports, picked at run time where the
 * CPU has it; LINEBOX_DTMF_SIMD=generic forces the baseline, for tests and benchmarks). */
const char *dtmf_simd_variant(void);
/* cdef-end */

/* dtmf_rx_process for a caller that has already set flush-to-zero (fpmode.h) for a whole
 * batch of calls (dtmf_receiver_rows: once per tick, not once per port). */
int dtmf_rx_process_ftz(dtmf_rx_t *s, const int16_t *in, int n, dtmf_event_t *events, int max_events);

/* ---- the filter pass apart from the decisions (dtmf_receiver_rows runs ports in lanes) ----
 *
 * What the filter pass (dtmf_filter.c) gives the decisions for one half-block: the Goertzel
 * filters' last two states and the energies of x and of x[n] - x[n-2], after the notches and
 * before (raw). */
typedef struct {
    float s1[8], s2[8];
    float energy, hf, raw, raw_hf;
} dtmf_half_t;

/* How many half-blocks n more samples complete. */
static inline int dtmf_rx_halves(const dtmf_rx_t *s, int n)
{
    return (s->fill + n) / DTMF_HALF;
}
/* The samples of the k-th of them, n more samples being `in` (the first is copied into
 * s->partial when it began in an earlier call). */
const int16_t *dtmf_rx_half_at(dtmf_rx_t *s, const int16_t *in, int k);
/* One half-block through the filters: updates the notches' memories in s, the rest to out. */
void dtmf_half_pass(dtmf_rx_t *s, const int16_t *in, dtmf_half_t *out);
/* jobs <= dtmf_lanes_width() half-blocks of different detectors at once, in the lanes of a
 * vector: for each, exactly (bit for bit) what dtmf_half_pass gives. */
int dtmf_lanes_width(void);
void dtmf_lanes_pass(dtmf_rx_t *const *s, const int16_t *const *in, dtmf_half_t *const *out, int jobs);
/* dtmf_rx_process_ftz with the filter pass already run: done[k] is the k-th half-block these n
 * samples complete, in order, from dtmf_half_pass or dtmf_lanes_pass on dtmf_rx_half_at(s, in, k)
 * (NULL: run it here). */
int dtmf_rx_feed_ftz(dtmf_rx_t *s, const int16_t *in, int n, const dtmf_half_t *done, dtmf_event_t *events,
                     int max_events);

#endif
