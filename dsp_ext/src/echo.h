/* Line echo canceller for the 2-wire hybrid echo of FXS/FXO ports (design notes
 * in echo.c). One echo_t per port: a plain value that Python allocates once
 * (ffi.new); echo_process never allocates.
 *
 * far  = what we sent to the line, near = what came back,
 * out  = near minus the estimated echo (then NLP / comfort noise).
 */
#ifndef LINEBOX_ECHO_H
#define LINEBOX_ECHO_H

#include <stddef.h>
#include <stdint.h>

#include "faxtone.h"

/* cdef-begin */
#define ECHO_MAX_TAPS 1024       /* 128 ms at 8 kHz */
#define ECHO_SHIFT 256           /* history slack: the tap window moves down this far before one memmove */
#define ECHO_XBUF 1296           /* ECHO_MAX_TAPS + ECHO_SHIFT + the 16 older samples a pass reads */
#define ECHO_REGIONS 32          /* step-size regions of ECHO_MAX_TAPS / ECHO_REGIONS = 32 taps */
#define ECHO_TONAL_N 160        /* 20 ms window of the tonal-far test */
#define ECHO_BLOCK 40            /* 5 ms: control decisions (two-path, NLP levels, tone disabler) run per block */

#define ECHO_NLP 1               /* non-linear processor on */
#define ECHO_CNG 2               /* comfort noise while the NLP suppresses */
#define ECHO_HPF 4               /* DC/hum high-pass on both paths */

typedef struct {
    float erle_db;               /* smoothed echo return loss enhancement of the output filter */
    int double_talk;             /* near-end speech judged present over far-end speech */
    int converged;               /* erle_db has been above ~15 dB while the far end spoke */
    int disabled;                /* 2100 Hz with phase reversals seen; canceller bypassed */
    int nlp_active;              /* the NLP is replacing the output right now */
    float noise_dbm0;            /* background (comfort noise) level */
    int adapting;                /* the background filter adapts right now (0: frozen, see below) */
    int far_tonal;               /* the far signal (or the engine) says: a tone, not speech */
    float far_prediction_db;     /* order-4 prediction gain of the far signal: tonal above ~25 dB */
    float near_prediction_db;    /* the same of the near signal (0 while it is quiet) */
    int resets;                  /* times the filters were found diverged and cleared */
} echo_stats_t;

/* The state is opaque to Python (it embeds the fax-tone detector, whose cdef
 * comes later): allocate echo_state_size() bytes and cast. */
typedef struct echo_s echo_t;

size_t echo_state_size(void);

int echo_init(echo_t *s, int taps, int flags);   /* 0, or -1 if taps is not 8..ECHO_MAX_TAPS */
void echo_reset(echo_t *s);                       /* forget the echo path and every state; keep taps/flags */
void echo_set_flags(echo_t *s, int flags);
void echo_process(echo_t *s, const int16_t *far, const int16_t *near, int16_t *out, size_t n);
void echo_get_stats(const echo_t *s, echo_stats_t *st);
/* The caller knows the far signal it sends is a tone, DTMF or another
 * narrowband signal (on != 0): no adaptation until it stops and its echo has
 * left the tail. The core also detects tonal far signals on its own. */
void echo_hold_adaptation(echo_t *s, int on);
/* cdef-end */

#define ECHO_CHUNK 8             /* samples per chunk of the sliding correlations (echo_taps.c) */

struct echo_s {
    /* adaptive filters: foreground (makes the output) and background (adapts) */
    float w_fg[ECHO_MAX_TAPS];
    float w_bg[ECHO_MAX_TAPS];
    float gain[ECHO_REGIONS];    /* proportionate step per 32-tap region, mean 1 over the taps */
    float xbuf[ECHO_XBUF];       /* pre-emphasised far history, newest at xbuf[pos] */
    int taps;
    int pos;
    int flags;
    float pend[3];               /* the steps not yet applied to w_bg: G (pend[0] x_m + pend[1] x_{m-1} +
                                  * (pend[2] + carry) x_{m-2}), x_m the newest window (echo_taps.h) */
    float carry;                 /* a step on x_{m-2} that a pair's pass left to the next pass (echo.c) */
    float prev_err, prev_xgx;    /* the last sample's error and window energy x'Gx */
    double corr[3];              /* x_m'G x_{m-l}, l = 0, 1, 2: slid along sample by sample */
    float dcorr[3 * ECHO_CHUNK]; /* their change at the boundaries of all but the first region, this chunk */
    int settled;                 /* the block's last pair ended with echo_taps_settle: its sums below are valid */
    int settle_mass_stale;       /* ... but w_bg was replaced since (settle_mass no longer holds) */
    float settle_sums[4 * ECHO_REGIONS]; /* per region: sum |w_bg| as the settle left it, x_m'x_{m-l} (l = 0..2) */
    /* input conditioning: high-pass states (two biquads, transposed direct form II: s1 s2 each)
     * and pre-emphasis memories */
    float hp_far[4];
    float hp_near[4];
    float pre_far;
    float pre_near;
    float deemph;
    /* per-block accumulators and smoothed powers (pre-emphasised domain) */
    int blk_n;
    float acc_far, acc_near, acc_efg, acc_ebg, acc_nearhp;
    float p_far, p_near, p_efg, p_ebg;
    int far_hold;                /* blocks left in which echo of past far signal may still arrive */
    int better_run, worse_run;
    float erle_db;
    int converged;
    int double_talk;
    int dt_hold;                 /* blocks left of the hold-off after near-end speech was seen */
    /* adaptation guard: tonal far signal (own detector or the caller's word) */
    float far_hist[ECHO_TONAL_N]; /* the last 20 ms of the filter's far input (ring) */
    float near_hist[ECHO_TONAL_N]; /* the same for the filter's near input */
    int hist_pos;
    int near_hold;               /* blocks left of no learning after a near-end tone */
    float pred_gain;             /* order-4 prediction gain over far_hist */
    float near_pred;             /* the same over near_hist (1 when the near end is quiet) */
    int far_tonal;
    int hold_external;           /* echo_hold_adaptation() on */
    int tonal_hold;              /* blocks left in which the tail still holds tonal far signal */
    int diverge_run;
    int resets;
    /* background level: minimum statistics gate an average of quiet blocks */
    float acc_clean;             /* block energy of the cancelled output before the NLP */
    float win_min, floor_min[3];
    int win_n;
    /* NLP and comfort noise */
    float st_near, st_out;       /* short-term levels of the high-passed near input and the output */
    float st_nw, st_yf;          /* short-term levels of the filter's near input and its echo estimate */
    int nlp_active;
    int nlp_run;
    int nlp_hold;                /* samples left in which near-end speech keeps the NLP off */
    float noise_level;           /* background mean square estimate */
    float cn_lp;
    uint32_t rng;
    /* disabler: the fax-tone detector (faxtone.h) on both paths */
    faxtone_rx_t tone_rx[2];
    int tone_state[2];
    int disabled;
    int quiet_blocks;
};

#endif
