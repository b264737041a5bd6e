/* FSK modems for caller ID: Bell 202 (1200/2200 Hz) and V.23 (1300/2100 Hz),
 * 1200 baud, asynchronous bytes (start bit, 8 data bits LSB first, stop bit),
 * plus the CAS detector for caller ID on call waiting.
 *
 * Demodulator design (non-coherent, two matched filters):
 *   1. A 4th-order Butterworth high-pass at 300 Hz (the bottom of the voice
 *      band) removes DC and mains hum (-62 dB at 50 Hz, -24 dB at 150 Hz),
 *      which would otherwise leak into the correlators' sidelobes: an
 *      on-hook line can carry hum well above a -40 dBm0 caller-ID signal.
 *   2. Two complex correlators, Y_f[n] = sum_k x[n-k] e^{j w_f k}, over a
 *      boxcar window of N samples, one tuned to the mark tone and one to the
 *      space tone. |Y_f|^2 is the energy of the input near f over the window;
 *      no carrier phase recovery is needed, which is what makes it
 *      non-coherent and robust to the phase jumps a real line introduces.
 *      N is about one bit time, stretched (up to 1.5 bits) to
 *      fs / |f_space - f_mark| so that each filter has a null on the other
 *      tone: 8 samples for Bell 202, 10 for V.23. The extra length costs a
 *      little inter-symbol interference but buys margin against line slope
 *      (twist) between the two tones.
 *   3. The decision variable d = |Y_mark|^2 - |Y_space|^2, smoothed by a
 *      3-tap [1 2 1]/4 filter (cuts noise-induced zero crossings near bit
 *      edges); mark iff d > 0. Only the sign matters, so the decision is
 *      independent of level.
 *   4. Carrier detect: the sum of both energies, scaled to the peak^2 of a
 *      tone and smoothed over ~4 ms, against an on/off threshold pair
 *      (3 dB hysteresis).
 *   5. Framing is a UART: a mark->space change while hunting is a start
 *      edge. A boxcar delays an edge by N/2 samples, and its window covers a
 *      whole bit T/2 samples after that delayed edge, so every bit is decided
 *      at edge + T/2 + k*T, with a fractional (double) bit clock; the edge
 *      time is interpolated between samples from d. Within a character each
 *      data transition pulls the clock toward it (first-order loop, gain
 *      0.3), and every start edge re-times it, so a baud-rate error of a few
 *      percent and a noisy start edge do not accumulate.
 *   6. Idle runs: >= 10 bit times of continuous mark are reported (that is
 *      the "mark signal" before a caller-ID message; the channel seizure's
 *      alternations never produce it). Over that run the phase advance of
 *      Y_mark, arg(sum Y[n] conj(Y[n-1])), measures the actual mark frequency,
 *      which tells Bell 202 (1200 Hz) from V.23 (1300 Hz) for auto-detection.
 */
#include "fsk.h"

#include <math.h>
#include <string.h>

#define FSK_RATE 8000.0
/* Peak of a 0 dBm0 sine (G.711 reference, +3.14 dBm0 = full scale); must
 * match dsp_ext/levels.py. */
#define FSK_DBM0_PEAK (32767.0 * 0.69663)
#define FSK_MARK_RUN_BITS 10
#define FSK_CLOCK_GAIN 0.3
#define FSK_HIGHPASS_HZ 300.0

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

void fsk_tx_init(fsk_tx_t *s, double mark_hz, double space_hz, double baud, double amplitude)
{
    memset(s, 0, sizeof(*s));
    /* Out-of-range or NaN parameters give silence or a clamped tone, never UB. */
    if (!(mark_hz >= 0.0 && mark_hz <= FSK_RATE))
        mark_hz = 0.0;
    if (!(space_hz >= 0.0 && space_hz <= FSK_RATE))
        space_hz = 0.0;
    s->inc_mark = 2.0 * M_PI * mark_hz / FSK_RATE;
    s->inc_space = 2.0 * M_PI * space_hz / FSK_RATE;
    s->samples_per_bit = (baud >= 1.0 && baud <= FSK_RATE) ? FSK_RATE / baud : FSK_RATE;
    if (!(amplitude > 0.0))
        amplitude = 0.0;
    s->amplitude = amplitude > 32767.0 ? 32767.0 : amplitude;
}

int fsk_tx_bits(fsk_tx_t *s, const uint8_t *bits, int nbits, int16_t *out, int max_out)
{
    int produced = 0;
    if (bits == NULL || out == NULL)
        return 0;
    for (int b = 0; b < nbits; b++) {
        double due = s->carry + s->samples_per_bit;
        int count = (int) due;
        if (produced + count > max_out)
            break;
        s->carry = due - count;
        double inc = bits[b] ? s->inc_mark : s->inc_space;
        for (int i = 0; i < count; i++) {
            /* Output the phase first, then advance: the frequency changes at
             * bit boundaries but the phase never jumps. */
            out[produced++] = (int16_t) lrint(s->amplitude * sin(s->phase));
            s->phase += inc;
            if (s->phase >= 2.0 * M_PI)
                s->phase -= 2.0 * M_PI;
        }
    }
    return produced;
}

static float peak_squared(double dbm0)
{
    double peak = FSK_DBM0_PEAK * pow(10.0, dbm0 / 20.0);
    return (float) (peak * peak);
}

int fsk_rx_init(fsk_rx_t *s, double mark_hz, double space_hz, double baud, double threshold_dbm0)
{
    memset(s, 0, sizeof(*s));
    if (!(baud > 100.0 && baud < 4000.0) || !(mark_hz > 0.0 && mark_hz < 4000.0)
        || !(space_hz > 0.0 && space_hz < 4000.0) || fabs(space_hz - mark_hz) < 100.0)
        return -1;
    double bit = FSK_RATE / baud;
    double want = FSK_RATE / fabs(space_hz - mark_hz);
    if (want < bit)
        want = bit;
    if (want > 1.5 * bit)
        want = 1.5 * bit;
    int n = (int) lround(want);
    if (n < 2)
        n = 2;
    if (n > FSK_MAX_WINDOW)
        n = FSK_MAX_WINDOW;
    s->window = n;
    for (int k = 0; k < n; k++) {
        double wm = 2.0 * M_PI * mark_hz / FSK_RATE * k;
        double ws = 2.0 * M_PI * space_hz / FSK_RATE * k;
        s->mark_re[k] = (float) cos(wm);
        s->mark_im[k] = (float) sin(wm);
        s->space_re[k] = (float) cos(ws);
        s->space_im[k] = (float) sin(ws);
    }
    s->energy_scale = 4.0f / (float) (n * n);
    /* Butterworth 4th order = two 2nd-order sections with these Qs (bilinear transform) */
    static const double hp_q[2] = {0.54119610, 1.30656296};
    for (int k = 0; k < 2; k++) {
        double w0 = 2.0 * M_PI * FSK_HIGHPASS_HZ / FSK_RATE;
        double alpha = sin(w0) / (2.0 * hp_q[k]);
        double a0 = 1.0 + alpha;
        s->hp_b[k][0] = (float) ((1.0 + cos(w0)) / 2.0 / a0);
        s->hp_b[k][1] = (float) (-(1.0 + cos(w0)) / a0);
        s->hp_b[k][2] = s->hp_b[k][0];
        s->hp_a[k][0] = (float) (-2.0 * cos(w0) / a0);
        s->hp_a[k][1] = (float) ((1.0 - alpha) / a0);
    }
    s->on_threshold = peak_squared(threshold_dbm0);
    s->off_threshold = peak_squared(threshold_dbm0 - 3.0);
    s->samples_per_bit = bit;
    fsk_rx_reset(s);
    return 0;
}

void fsk_rx_reset(fsk_rx_t *s)
{
    memset(s->hist, 0, sizeof(s->hist));
    s->pos = 0;
    memset(s->hp_z, 0, sizeof(s->hp_z));
    s->energy = 0.0f;
    s->carrier = 0;
    s->bit_clock = 0.0;
    s->framing = 0;
    s->bit_index = 0;
    s->shift = 0;
    s->last_mark = 1;
    s->last_d = 0.0f;
    s->d1 = s->d2 = 0.0f;
    s->mark_samples = 0;
    s->mark_run_reported = 0;
    s->freq_re = s->freq_im = 0.0;
    s->prev_mark_re = s->prev_mark_im = 0.0f;
}

static void emit(fsk_rx_t *s, uint32_t *events, int max_events, int *count, uint32_t type, uint32_t payload)
{
    if (*count < max_events)
        events[(*count)++] = (type << 16) | (payload & 0xFFFFu);
    else
        s->events_dropped++;
}

static void end_mark_run(fsk_rx_t *s, uint32_t *events, int max_events, int *count)
{
    if (s->mark_run_reported) {
        double hz = atan2(s->freq_im, s->freq_re) * FSK_RATE / (2.0 * M_PI);
        if (!(hz > 0.0))
            hz = 0.0;
        emit(s, events, max_events, count, FSK_EV_MARK_END, (uint32_t) lround(hz));
    }
    s->mark_samples = 0;
    s->mark_run_reported = 0;
    s->freq_re = s->freq_im = 0.0;
}

/* One bit decision at the bit clock. */
static void frame_bit(fsk_rx_t *s, int mark, uint32_t *events, int max_events, int *count)
{
    switch (s->framing) {
    case 1: /* middle of the start bit: a mark here means the edge was noise */
        if (mark) {
            s->framing = 0;
            return;
        }
        s->framing = 2;
        s->bit_index = 0;
        s->shift = 0;
        break;
    case 2:
        s->shift |= (unsigned) (mark ? 1 : 0) << s->bit_index;
        if (++s->bit_index == 8)
            s->framing = 3;
        break;
    case 3:
        if (mark) {
            s->bytes++;
            emit(s, events, max_events, count, FSK_EV_BYTE, s->shift);
        } else {
            s->framing_errors++;
            emit(s, events, max_events, count, FSK_EV_FRAMING_ERROR, s->shift);
        }
        /* Back to hunting: the next start edge needs a mark->space change,
         * so after a framing error we wait for the line to return to mark. */
        s->framing = 0;
        return;
    default:
        return;
    }
    s->bit_clock += s->samples_per_bit;
}

int fsk_rx_process(fsk_rx_t *s, const int16_t *in, int n, uint32_t *events, int max_events)
{
    int count = 0;
    const int win = s->window;
    if (win < 2 || in == NULL || n <= 0)
        return 0;
    const int run_needed = (int) (FSK_MARK_RUN_BITS * s->samples_per_bit);
    for (int i = 0; i < n; i++) {
        float x = (float) in[i];
        float y = x;
        for (int k = 0; k < 2; k++) {
            float out = s->hp_b[k][0] * y + s->hp_z[k][0];
            s->hp_z[k][0] = s->hp_b[k][1] * y - s->hp_a[k][0] * out + s->hp_z[k][1];
            s->hp_z[k][1] = s->hp_b[k][2] * y - s->hp_a[k][1] * out;
            y = out;
        }
        /* newest sample at hist[pos], older ones follow: window = hist[pos..pos+win-1] */
        s->pos = (s->pos == 0) ? win - 1 : s->pos - 1;
        s->hist[s->pos] = y;
        s->hist[s->pos + win] = y;
        const float *h = &s->hist[s->pos];
        float mr = 0.0f, mi = 0.0f, sr = 0.0f, si = 0.0f;
        for (int k = 0; k < win; k++) {
            mr += h[k] * s->mark_re[k];
            mi += h[k] * s->mark_im[k];
            sr += h[k] * s->space_re[k];
            si += h[k] * s->space_im[k];
        }
        float em = mr * mr + mi * mi;
        float es = sr * sr + si * si;
        s->energy += ((em + es) * s->energy_scale - s->energy) * (1.0f / 32.0f);

        if (!s->carrier) {
            if (s->energy > s->on_threshold) {
                s->carrier = 1;
                s->framing = 0;
                s->last_mark = 1;
                s->last_d = 0.0f;
                s->d1 = s->d2 = 0.0f;
                s->mark_samples = 0;
                s->mark_run_reported = 0;
                emit(s, events, max_events, &count, FSK_EV_CARRIER_UP, 0);
            } else {
                s->prev_mark_re = mr;
                s->prev_mark_im = mi;
                continue;
            }
        } else if (s->energy < s->off_threshold) {
            end_mark_run(s, events, max_events, &count);
            s->carrier = 0;
            s->framing = 0;
            emit(s, events, max_events, &count, FSK_EV_CARRIER_DOWN, 0);
            continue;
        }

        float raw = em - es;
        float d = 0.25f * raw + 0.5f * s->d1 + 0.25f * s->d2;
        s->d2 = s->d1;
        s->d1 = raw;
        int mark = d > 0.0f;
        if (mark) {
            /* phase advance of the mark correlator = the input frequency */
            s->freq_re += (double) mr * s->prev_mark_re + (double) mi * s->prev_mark_im;
            s->freq_im += (double) mi * s->prev_mark_re - (double) mr * s->prev_mark_im;
            if (++s->mark_samples >= run_needed && !s->mark_run_reported) {
                s->mark_run_reported = 1;
                emit(s, events, max_events, &count, FSK_EV_MARK_RUN, 0);
            }
            /* keep the sum bounded on an endless mark: rescale, angle unchanged */
            if (fabs(s->freq_re) + fabs(s->freq_im) > 1e30) {
                s->freq_re *= 1e-20;
                s->freq_im *= 1e-20;
            }
        } else if (s->mark_samples) {
            end_mark_run(s, events, max_events, &count);
        }
        s->prev_mark_re = mr;
        s->prev_mark_im = mi;

        if (s->framing == 0) {
            if (s->last_mark && !mark) {
                /* the decision crossed zero between the previous sample and
                 * this one: interpolate where, to time the bits to a fraction
                 * of a sample */
                double before = s->last_d > 0.0f ? s->last_d / (double) (s->last_d - d) : 1.0;
                s->framing = 1;
                s->bit_clock = 0.5 * s->samples_per_bit - (1.0 - before);
            }
        } else {
            s->bit_clock -= 1.0;
            if (s->framing >= 2 && mark != s->last_mark) {
                /* A transition inside the character should fall half a bit
                 * from the decision instants; nudge the clock toward it
                 * (a first-order loop) so baud-rate error and a noisy start
                 * edge do not accumulate over the character. */
                double a = fabs((double) s->last_d), b = fabs((double) d);
                double since = a + b > 0.0 ? b / (a + b) : 0.5;
                double err = s->bit_clock + since - 0.5 * s->samples_per_bit;
                s->bit_clock -= FSK_CLOCK_GAIN * err;
            }
            /* decide on the sample nearest the ideal instant */
            if (s->bit_clock < 0.5)
                frame_bit(s, mark, events, max_events, &count);
        }
        s->last_mark = mark;
        s->last_d = d;
    }
    return count;
}

/* ---- CAS: 2130 Hz + 2750 Hz, 80 ms ------------------------------------ */

#define CAS_BLOCK 80          /* 10 ms Goertzel blocks */
#define CAS_BLOCKS_NEEDED 6   /* 60 ms of clean dual tone confirms it */

static float goertzel_power(float s1, float s2, float coeff)
{
    return s1 * s1 + s2 * s2 - coeff * s1 * s2;
}

void cas_rx_init(cas_rx_t *s, double min_level_dbm0)
{
    memset(s, 0, sizeof(*s));
    s->coeff_lo = (float) (2.0 * cos(2.0 * M_PI * 2130.0 / FSK_RATE));
    s->coeff_hi = (float) (2.0 * cos(2.0 * M_PI * 2750.0 / FSK_RATE));
    /* Goertzel power of a tone with peak A over N samples is (A N / 2)^2 */
    double peak = FSK_DBM0_PEAK * pow(10.0, min_level_dbm0 / 20.0);
    s->min_tone_power = (float) (peak * CAS_BLOCK / 2.0 * peak * CAS_BLOCK / 2.0);
}

static int cas_block_is_tone(const cas_rx_t *s)
{
    float lo = goertzel_power(s->lo_s1, s->lo_s2, s->coeff_lo);
    float hi = goertzel_power(s->hi_s1, s->hi_s2, s->coeff_hi);
    if (lo < s->min_tone_power || hi < s->min_tone_power)
        return 0;
    /* twist within 6 dB (factor 4 in power) */
    if (lo > 4.0f * hi || hi > 4.0f * lo)
        return 0;
    /* the two tones must carry most of the block's energy: speech does not.
     * A sinusoid's energy over the block is 2 * power / N. */
    float tones = 2.0f * (lo + hi) / (float) CAS_BLOCK;
    return tones > 0.7f * s->block_energy;
}

int cas_rx_process(cas_rx_t *s, const int16_t *in, int n)
{
    int detected = 0;
    if (in == NULL || n <= 0)
        return 0;
    for (int i = 0; i < n; i++) {
        float x = (float) in[i];
        float t = x + s->coeff_lo * s->lo_s1 - s->lo_s2;
        s->lo_s2 = s->lo_s1;
        s->lo_s1 = t;
        t = x + s->coeff_hi * s->hi_s1 - s->hi_s2;
        s->hi_s2 = s->hi_s1;
        s->hi_s1 = t;
        s->block_energy += x * x;
        if (++s->block_fill < CAS_BLOCK)
            continue;
        if (cas_block_is_tone(s)) {
            if (++s->good_blocks >= CAS_BLOCKS_NEEDED && !s->reported) {
                s->reported = 1;
                detected = 1;
            }
        } else {
            s->good_blocks = 0;
            s->reported = 0;
        }
        s->lo_s1 = s->lo_s2 = s->hi_s1 = s->hi_s2 = 0.0f;
        s->block_energy = 0.0f;
        s->block_fill = 0;
    }
    return detected;
}
