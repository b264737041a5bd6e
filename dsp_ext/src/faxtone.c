/* Fax / modem answer-tone detector (see faxtone.h).
 *
 * Every 10 ms block, two Goertzel filters give the complex DFT at 1100 and
 * 2100 Hz. A tone is "on" in a block when it carries >= 50% of the block's
 * energy at >= -43 dBm0; a run of on-blocks (bridging up to 3 off-blocks, the
 * dip a phase reversal makes) that lasts long enough sets the state bit.
 *
 * Phase reversals: between clean 2100 Hz blocks the phase advances by the
 * nominal w*N plus a drift (the tone's frequency offset, tracked). A block
 * whose phase differs from the prediction by more than 90 degrees, followed
 * by one that agrees with the new phase, is a reversal (two jumps in a row
 * mean the drift estimate was wrong, and it is re-measured). Blocks whose amplitude dips (the block containing the reversal,
 * where the two phases cancel) are skipped rather than trusted.
 * AM: ANSam's 15 Hz modulation at 20% depth swings the block amplitude by
 * +-20%; a swing of more than +-8% over the run marks ANSam.
 */
#include "faxtone.h"

#include <math.h>
#include <string.h>

#define FAXTONE_RATE 8000.0f
#define FAXTONE_MIN_DBM0 -43.0f
#define FAXTONE_PURITY 0.5f
#define FAXTONE_MAX_GAP 3
#define FAXTONE_CNG_BLOCKS 35          /* 350 ms */
#define FAXTONE_ANS_BLOCKS 30          /* 300 ms */
#define FAXTONE_CNG_TOL_HZ 38.0f
#define FAXTONE_ANS_TOL_HZ 21.0f        /* V.25: 2100 +-15 Hz; accept a little more, reject 2130 (CAS) */
#define FAXTONE_AM_DEPTH 0.08f

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

static const float faxtone_freqs[2] = {1100.0f, 2100.0f};

void faxtone_rx_reset(faxtone_rx_t *s)
{
    memset(s->s1, 0, sizeof(s->s1));
    memset(s->s2, 0, sizeof(s->s2));
    s->energy = 0.0f;
    s->fill = 0;
    s->samples = 0;
    memset(s->run, 0, sizeof(s->run));
    memset(s->gap, 0, sizeof(s->gap));
    memset(s->run_start, 0, sizeof(s->run_start));
    s->last_re = s->last_im = 0.0f;
    s->since_last = 0;
    s->drift = 0.0f;
    s->clean_blocks = 0;
    s->amp_avg = s->amp_min = s->amp_max = 0.0f;
    s->reversals = 0;
    s->suspect = 0;
    s->state = 0;
    s->cng_start = s->cng_end = s->ans_start = s->ans_end = 0;
}

void faxtone_rx_init(faxtone_rx_t *s, double dbm0_peak)
{
    memset(s, 0, sizeof(*s));
    for (int k = 0; k < 2; k++) {
        double w = 2.0 * M_PI * faxtone_freqs[k] / FAXTONE_RATE;
        s->coef[k] = (float) (2.0 * cos(w));
        s->cosw[k] = (float) cos(w);
        s->sinw[k] = (float) sin(w);
    }
    /* a sine of peak A gives block power 2|X|^2/N = A^2 N / 2 */
    double a = dbm0_peak * pow(10.0, FAXTONE_MIN_DBM0 / 20.0);
    s->min_power = (float) (a * a * FAXTONE_BLOCK / 2.0);
    faxtone_rx_reset(s);
}

static float wrap_pi(float a)
{
    while (a > (float) M_PI)
        a -= 2.0f * (float) M_PI;
    while (a < -(float) M_PI)
        a += 2.0f * (float) M_PI;
    return a;
}

float faxtone_rx_ans_freq(const faxtone_rx_t *s)
{
    return faxtone_freqs[1] + s->drift * FAXTONE_RATE / (2.0f * (float) M_PI * FAXTONE_BLOCK);
}

static void end_ans_run(faxtone_rx_t *s)
{
    s->run[1] = 0;
    s->gap[1] = 0;
    s->clean_blocks = 0;
    s->since_last = 0;
    s->drift = 0.0f;
    s->reversals = 0;
    s->suspect = 0;
    s->amp_avg = s->amp_min = s->amp_max = 0.0f;
}

/* Phase and amplitude tracking of one 2100 Hz block that is "on". */
static void track_ans(faxtone_rx_t *s, float re, float im, float amp)
{
    const float nominal = wrap_pi(2.0f * (float) M_PI * faxtone_freqs[1] / FAXTONE_RATE * FAXTONE_BLOCK);
    s->since_last++;
    if (s->clean_blocks > 0 && amp < 0.6f * s->amp_avg)
        return;                         /* a reversal dip: its phase is meaningless */
    if (s->clean_blocks > 0) {
        float adv = atan2f(im * s->last_re - re * s->last_im, re * s->last_re + im * s->last_im);
        float err = wrap_pi(adv - s->since_last * (nominal + s->drift));
        if (s->clean_blocks < 3) {
            /* settling: measure the drift directly (unambiguous to +-50 Hz) */
            s->drift = wrap_pi(adv - s->since_last * nominal) / s->since_last;
        } else if (fabsf(err) > 0.5f * (float) M_PI) {
            if (s->suspect) {
                /* two jumps in a row: it was the drift estimate, not the tone */
                s->drift = wrap_pi(adv - s->since_last * nominal) / s->since_last;
                s->suspect = 0;
            } else {
                s->suspect = 1;
            }
        } else {
            if (s->suspect)             /* one jump, then steady again: a reversal */
                s->reversals++;
            s->suspect = 0;
            s->drift = wrap_pi(s->drift + 0.5f * err / s->since_last);
        }
        s->amp_avg += 0.2f * (amp - s->amp_avg);
        if (s->clean_blocks >= 3) {
            if (amp < s->amp_min || s->amp_min == 0.0f)
                s->amp_min = amp;
            if (amp > s->amp_max)
                s->amp_max = amp;
        }
    } else {
        s->amp_avg = amp;
    }
    s->clean_blocks++;
    s->last_re = re;
    s->last_im = im;
    s->since_last = 0;
}

static void end_of_block(faxtone_rx_t *s, const float *re, const float *im, float energy)
{
    uint64_t block_start = s->samples - FAXTONE_BLOCK;
    for (int k = 0; k < 2; k++) {
        float p = (re[k] * re[k] + im[k] * im[k]) * (2.0f / FAXTONE_BLOCK);
        int on = p >= s->min_power && p >= FAXTONE_PURITY * energy;
        if (on) {
            if (s->run[k] == 0)
                s->run_start[k] = block_start;
            s->run[k] += 1 + s->gap[k];
            s->gap[k] = 0;
            if (k == 1)
                track_ans(s, re[1], im[1], sqrtf(p));
        } else if (s->run[k] > 0 && ++s->gap[k] <= FAXTONE_MAX_GAP) {
            if (k == 1)
                s->since_last++;
        } else if (s->run[k] > 0) {
            /* the run is over */
            uint64_t end = block_start - (uint64_t) (FAXTONE_MAX_GAP) * FAXTONE_BLOCK;
            if (k == 0) {
                if (s->state & FAXTONE_CNG)
                    s->cng_end = end;
                s->state &= ~FAXTONE_CNG;
                s->run[0] = s->gap[0] = 0;
            } else {
                if (s->state & FAXTONE_ANS)
                    s->ans_end = end;
                s->state &= ~(FAXTONE_ANS | FAXTONE_REVERSALS | FAXTONE_AM);
                end_ans_run(s);
            }
        }
    }
    if (s->run[0] >= FAXTONE_CNG_BLOCKS && !(s->state & FAXTONE_CNG)) {
        /* the purity test over a 100 Hz bin already bounds 1100 Hz to about +-40 Hz */
        s->state |= FAXTONE_CNG;
        s->cng_start = s->run_start[0];
    }
    if (s->run[1] >= FAXTONE_ANS_BLOCKS) {
        float off = fabsf(faxtone_rx_ans_freq(s) - faxtone_freqs[1]);
        if (!(s->state & FAXTONE_ANS) && off <= FAXTONE_ANS_TOL_HZ) {
            s->state |= FAXTONE_ANS;
            s->ans_start = s->run_start[1];
        }
        if (s->state & FAXTONE_ANS) {
            if (s->reversals > 0)
                s->state |= FAXTONE_REVERSALS;
            if (s->amp_max > 0.0f && (s->amp_max - s->amp_min) > FAXTONE_AM_DEPTH * (s->amp_max + s->amp_min))
                s->state |= FAXTONE_AM;
        }
    }
}

int faxtone_rx_process(faxtone_rx_t *s, const int16_t *in, int n)
{
    int i = 0;
    while (i < n) {
        int take = FAXTONE_BLOCK - s->fill;
        if (take > n - i)
            take = n - i;
        float s1a = s->s1[0], s2a = s->s2[0], s1b = s->s1[1], s2b = s->s2[1];
        const float ca = s->coef[0], cb = s->coef[1];
        float energy = s->energy;
        for (int j = 0; j < take; j++) {
            float x = (float) in[i + j];
            energy += x * x;
            float a0 = x + ca * s1a - s2a;
            s2a = s1a;
            s1a = a0;
            float b0 = x + cb * s1b - s2b;
            s2b = s1b;
            s1b = b0;
        }
        i += take;
        s->fill += take;
        s->samples += (uint64_t) take;
        if (s->fill < FAXTONE_BLOCK) {
            s->s1[0] = s1a;
            s->s2[0] = s2a;
            s->s1[1] = s1b;
            s->s2[1] = s2b;
            s->energy = energy;
            break;
        }
        float re[2] = {s1a - s->cosw[0] * s2a, s1b - s->cosw[1] * s2b};
        float im[2] = {s->sinw[0] * s2a, s->sinw[1] * s2b};
        end_of_block(s, re, im, energy);
        s->s1[0] = s->s2[0] = s->s1[1] = s->s2[1] = 0.0f;
        s->energy = 0.0f;
        s->fill = 0;
    }
    return s->state;
}
