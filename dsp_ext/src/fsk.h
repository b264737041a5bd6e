/* FSK modems for caller ID (Bell 202 and ITU-T V.23 forward channel) and the
 * CPE alerting signal (CAS) detector used for caller ID on call waiting.
 *
 * Everything runs at 8 kHz on int16 samples. The state structs are plain
 * values: Python allocates them once per line (ffi.new) and the per-sample
 * path never allocates.
 */
#ifndef LINEBOX_FSK_H
#define LINEBOX_FSK_H

#include <stddef.h>
#include <stdint.h>

/* cdef-begin */
#define FSK_MAX_WINDOW 16

/* Receiver events, one uint32 each: the type in the top 16 bits, a payload in
 * the low 16 bits. */
#define FSK_EV_BYTE 1          /* payload: the byte (start/stop bits good) */
#define FSK_EV_FRAMING_ERROR 2 /* payload: the byte, but its stop bit was a space */
#define FSK_EV_MARK_RUN 3      /* >= 10 bit times of continuous mark (idle before a message) */
#define FSK_EV_MARK_END 4      /* the run reported above ended; payload: measured mark frequency, Hz */
#define FSK_EV_CARRIER_UP 5
#define FSK_EV_CARRIER_DOWN 6

typedef struct {
    double phase;          /* carrier phase, radians; kept across calls (phase-continuous) */
    double inc_mark;       /* phase step per sample for a 1 */
    double inc_space;      /* phase step per sample for a 0 */
    double samples_per_bit;
    double carry;          /* fractional samples owed to the next bit */
    double amplitude;      /* peak */
} fsk_tx_t;

typedef struct {
    /* matched filters: one window of complex exponentials per tone */
    float mark_re[FSK_MAX_WINDOW];
    float mark_im[FSK_MAX_WINDOW];
    float space_re[FSK_MAX_WINDOW];
    float space_im[FSK_MAX_WINDOW];
    float hist[2 * FSK_MAX_WINDOW]; /* input history, written twice so a window is contiguous */
    int window;
    int pos;
    float energy_scale;             /* maps |Y|^2 to the peak^2 of the tone */
    /* high-pass in front (DC, mains hum): two biquad sections, transposed direct form II */
    float hp_b[2][3];
    float hp_a[2][2];
    float hp_z[2][2];
    /* carrier detect */
    float energy;
    float on_threshold;
    float off_threshold;
    int carrier;
    /* asynchronous framing */
    double samples_per_bit;
    double bit_clock;               /* samples until the next bit decision */
    int framing;                    /* 0 hunting, 1 start bit, 2 data, 3 stop bit */
    int bit_index;
    unsigned int shift;
    int last_mark;                  /* previous per-sample decision */
    float d1, d2;
    float last_d;                   /* previous decision variable, |Y_mark|^2 - |Y_space|^2 */
    /* idle (mark) runs and the mark-frequency estimate over them */
    int mark_samples;
    int mark_run_reported;
    double freq_re;
    double freq_im;
    float prev_mark_re;
    float prev_mark_im;
    /* counters for diagnostics */
    uint32_t bytes;
    uint32_t framing_errors;
    uint32_t events_dropped;
} fsk_rx_t;

typedef struct {
    float coeff_lo;
    float coeff_hi;
    float lo_s1, lo_s2, hi_s1, hi_s2;
    float block_energy;
    int block_fill;
    int good_blocks;
    int reported;
    float min_tone_power;           /* Goertzel power for the minimum level, per 10 ms block */
} cas_rx_t;

/* Modulator. Returns the number of samples written (at most max_out); bits
 * that do not fit are not sent, so size `out` as ceil(nbits * 8000 / baud) + 1. */
void fsk_tx_init(fsk_tx_t *s, double mark_hz, double space_hz, double baud, double amplitude);
int fsk_tx_bits(fsk_tx_t *s, const uint8_t *bits, int nbits, int16_t *out, int max_out);

/* Demodulator. `threshold_dbm0` is the weakest signal accepted as carrier. */
int fsk_rx_init(fsk_rx_t *s, double mark_hz, double space_hz, double baud, double threshold_dbm0);
void fsk_rx_reset(fsk_rx_t *s);
/* Returns the number of events written to `events`; at most one byte event
 * can occur per bit time, so n / 6 + 8 slots is always enough; extra events
 * are counted in events_dropped rather than written. */
int fsk_rx_process(fsk_rx_t *s, const int16_t *in, int n, uint32_t *events, int max_events);

/* CAS (2130 Hz + 2750 Hz) detector. Returns 1 when a tone of at least
 * 60 ms has just been confirmed in this chunk (once per tone), else 0. */
void cas_rx_init(cas_rx_t *s, double min_level_dbm0);
int cas_rx_process(cas_rx_t *s, const int16_t *in, int n);
/* cdef-end */

#endif
