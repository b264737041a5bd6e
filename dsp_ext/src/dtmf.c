/* DTMF receiver and generator.
 *
 * Receiver design
 * ---------------
 * Eight Goertzel filters, one per Q.23 frequency, share one pass over the
 * input (dtmf_filter.c: one detector alone, or several in the lanes of a
 * vector), plus two energies: of x and of x[n] - x[n-2]. Blocks are 102
 * samples (12.75 ms, bins 78 Hz apart, which separates adjacent rows by
 * ~20 dB) split into two 51-sample halves; combining the halves' complex
 * outputs gives the whole-block DFT, so the halves cost nothing per sample.
 * The row and column tone leak into each other's bins (up to -17 dB in a
 * half); knowing both frequencies, a 2x2 solve removes that exactly, so the
 * measured powers, twist and phases are those of the tones alone.
 *
 * A block *qualifies* as digit d when:
 *   - the strongest row tone and the strongest column tone are each above
 *     the minimum level (-40 dBm0), and each is >= 6 dB above the other
 *     tones of its group;
 *   - twist (row minus column) is within -5 .. +9 dB (Q.24: accept normal
 *     twist, the low group stronger, to 8 dB and reverse twist, the high
 *     group stronger, to 4 dB; reject 2 dB beyond);
 *   - the two tones carry >= 50% of the block's energy, and >= 82% of the
 *     energy of x[n] - x[n-2] (tone powers corrected for the bin roll-off
 *     at their offset, measured between the halves, when within 1.8%). The
 *     second test is the talk-off guard: that filter weights the spectrum
 *     by 4 sin^2(w), a broad band-pass peaking
 *     at 2 kHz, so a voice's other harmonics and formants in the DTMF band
 *     count fully against it, while dial tone (350-450 Hz) hardly counts,
 *     and white noise at 15 dB S/N costs only ~4% (its energy weighs 2 on
 *     average against 1.1 .. 3.7 for the tones). Over an hour of espeak-ng
 *     voices (75 voices, 11 languages) the highest share speech reached
 *     was ~0.78;
 *   - the tone fills >= 85% of the block: a tone that starts (or ends) in a
 *     block fills one half and part of the other, so the ratio of the two
 *     halves' amplitudes measures how much of the block it fills.
 * A digit *starts* when two consecutive blocks qualify as the same digit,
 * both tones are within 1.8% of nominal (Q.24: accept 1.5%, reject 3.5%;
 * voices' harmonics that pass the other tests sit 1.8-2.3% off),
 * and the tone carries on into the next half-block (see end_of_first_half);
 * together these need >= 25.8 ms of tone, while any 40 ms tone passes at every
 * alignment. The frequency comes from the phase advance of each tone's DFT:
 * between the halves (coarse, unambiguous to +-78 Hz) and between the two
 * blocks (fine, ambiguous every 78 Hz, resolved by the coarse value). The
 * powers used for twist and level are corrected for the bin's roll-off at
 * that frequency. The reported start time is corrected by the first block's
 * fill.
 * A started digit *continues* while the block or either half still shows
 * its two tones (each within 10 dB of its level at the start, together
 * >= 25% of the energy); it *ends* after two blocks that do not. A gap of
 * <= 10 ms can spoil at most one block, so it is bridged.
 */
#include "dtmf.h"
#include "fpmode.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DTMF_RATE 8000.0f
#define DTMF_MIN_LEVEL_DBM0 -40.0f
#define DTMF_CONT_DROP 0.1f             /* continuation: each tone within 10 dB of its level at the start */
#define DTMF_TWIST_NORMAL_DB 9.0f
#define DTMF_TWIST_REVERSE_DB 5.0f
#define DTMF_REL_PEAK 0.25f             /* other tones of a group <= -6 dB */
#define DTMF_PURITY 0.5f
/* Dial tone and ringback (350-480 Hz) can be 12 dB above the digits dialled
 * over them. Everything is measured after two notches (biquads, zeros on the
 * unit circle at 365 and 460 Hz, poles at radius 0.9), which take the dial
 * tone band down while leaving the DTMF band nearly flat; tone powers are
 * divided by the notches' gain at their frequency, so levels and twist are
 * the line's. */
#define DTMF_NOTCH_R 0.9
#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif
static const double dtmf_notch_hz[2] = {365.0, 460.0};
#define DTMF_STEADY_RISE 1.2f           /* per block: the steady level may rise 12 dB in 0.2 s */
#define DTMF_STEADY_MARGIN 1.5f

static double notch_power_gain(double w)
{
    double g = 1.0;
    for (int i = 0; i < 2; i++) {
        double w0 = 2.0 * M_PI * dtmf_notch_hz[i] / DTMF_RATE, r = DTMF_NOTCH_R;
        /* |1 - 2cos(w0) e^-jw + e^-2jw|^2 / |1 - 2r cos(w0) e^-jw + r^2 e^-2jw|^2 */
        double nr = 1.0 - 2.0 * cos(w0) * cos(w) + cos(2.0 * w), ni = 2.0 * cos(w0) * sin(w) - sin(2.0 * w);
        double dr = 1.0 - 2.0 * r * cos(w0) * cos(w) + r * r * cos(2.0 * w);
        double di = 2.0 * r * cos(w0) * sin(w) - r * r * sin(2.0 * w);
        g *= (nr * nr + ni * ni) / (dr * dr + di * di);
    }
    return g;
}
/* Voiced speech with a strong low harmonic often shows a row-like tone 5-9 dB
 * above a column-like one: a digit with more than 4 dB of normal twist must be
 * cleaner (its tones >= 85% of the energy), which a real digit still is.
 * Tolerance 1.8% (Q.24: accept 1.5%, reject 3.5%): voiced speech that
 * passes everything else sits 1.8-2.3% off. */
#define DTMF_TWISTED 2.5118864f         /* 4 dB */
#define DTMF_PURITY_TWISTED 0.85f
#define DTMF_STEADY 1.5848932f          /* 2 dB: a tone's level change between the two starting blocks */
#define DTMF_CONT_PURITY 0.25f
#define DTMF_HF_PURITY 0.82f
#define DTMF_HALF_BALANCE 0.7f          /* quieter half >= 0.7 of the louder (amplitude) */
#define DTMF_CONFIRM 0.12f              /* next half: tone power >= 0.12 of the last half's (>= ~18 samples) */
#define DTMF_FREQ_TOL 0.018f
#define DTMF_END_MISSES 2

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

static const float dtmf_freqs[8] = {697, 770, 852, 941, 1209, 1336, 1477, 1633};
static const char dtmf_keys[4][4] = {
    {'1', '2', '3', 'A'}, {'4', '5', '6', 'B'}, {'7', '8', '9', 'C'}, {'*', '0', '#', 'D'}};

int dtmf_digit_index(char digit)
{
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 4; c++)
            if (dtmf_keys[r][c] == digit)
                return r * 4 + c;
    return -1;
}

void dtmf_rx_reset(dtmf_rx_t *s)
{
    s->steady_removed = s->steady_removed_hf = 3.0e38f; /* the first half sets them */
    memset(s->h1_re, 0, sizeof(s->h1_re));
    memset(s->h1_im, 0, sizeof(s->h1_im));
    memset(s->prev_re, 0, sizeof(s->prev_re));
    memset(s->prev_im, 0, sizeof(s->prev_im));
    s->h1_energy = 0.0f;
    s->x1 = s->x2 = 0.0f;
    s->h1_hf_energy = 0.0f;
    s->fill = s->half = 0;
    /* s->samples keeps counting: event times stay on the receiver's own clock */
    s->prev_hit = 0;
    s->prev_fill = 0.0f;
    s->pending = 0;
    s->pending_start = 0;
    s->pending_level = 0.0f;
    s->pending_ref_row = s->pending_ref_col = 0.0f;
    s->prev_valid = 0;
    s->current = 0;
    s->misses = 0;
    s->miss_start = 0;
    s->events_dropped = 0;
}

void dtmf_rx_init(dtmf_rx_t *s, double dbm0_peak)
{
    memset(s, 0, sizeof(*s));
    for (int k = 0; k < 8; k++) {
        double w = 2.0 * M_PI * dtmf_freqs[k] / DTMF_RATE;
        s->coef[k] = (float) (2.0 * cos(w));
        s->cosw[k] = (float) cos(w);
        s->sinw[k] = (float) sin(w);
        s->half_rot_re[k] = (float) cos(w * DTMF_HALF);
        s->half_rot_im[k] = (float) -sin(w * DTMF_HALF);
        /* the dial-tone notch's power gain at this tone, and the talk-off
         * filter's (x[n] - x[n-2], after the notch) */
        double g2 = notch_power_gain(w);
        s->notch_g2[k] = (float) g2;
        s->notch_inv[k] = (float) (1.0 / sqrt(g2));
        s->hf_weight[k] = (float) (4.0 * pow(sin(w), 2.0) * g2);
        s->ref_re[k] = (float) cos(w * (DTMF_HALF - 1));
        s->ref_im[k] = (float) -sin(w * (DTMF_HALF - 1));
    }
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 4; c++) {
            double dw = 2.0 * M_PI * (dtmf_freqs[4 + c] - dtmf_freqs[r]) / DTMF_RATE;
            double re = 0.0, im = 0.0;
            for (int n = 0; n < DTMF_BLOCK; n++) {
                re += cos(dw * n);
                im += sin(dw * n);
                if (n == DTMF_HALF - 1) {
                    s->leak_half_re[r * 4 + c] = (float) (re / DTMF_HALF);
                    s->leak_half_im[r * 4 + c] = (float) (im / DTMF_HALF);
                }
            }
            s->leak_block_re[r * 4 + c] = (float) (re / DTMF_BLOCK);
            s->leak_block_im[r * 4 + c] = (float) (im / DTMF_BLOCK);
        }
    s->dbm0_rms2 = (float) (dbm0_peak * dbm0_peak / 2.0);
    s->hf_purity = DTMF_HF_PURITY;
    for (int i = 0; i < 2; i++) {
        double w0 = 2.0 * M_PI * dtmf_notch_hz[i] / DTMF_RATE;
        s->notch_c[i] = (float) (2.0 * cos(w0));
        s->notch_p[i] = (float) (2.0 * DTMF_NOTCH_R * cos(w0));
    }
    s->notch_r2 = (float) (DTMF_NOTCH_R * DTMF_NOTCH_R);
    /* A sine of mean square m over N samples has block power (2|X|^2/N) N m. */
    s->min_block_power = s->dbm0_rms2 * powf(10.0f, DTMF_MIN_LEVEL_DBM0 / 10.0f) * DTMF_BLOCK;
    dtmf_rx_reset(s);
}

static float wrap_pi(float a)
{
    while (a > (float) M_PI)
        a -= 2.0f * (float) M_PI;
    while (a < -(float) M_PI)
        a += 2.0f * (float) M_PI;
    return a;
}

/* Power of a rectangular-window DFT bin relative to its peak, for a tone
 * `df` Hz away, over n samples (the Dirichlet kernel, squared). */
static float bin_rolloff(float df, int n)
{
    float x = (float) M_PI * df / DTMF_RATE;
    if (fabsf(x) < 1e-6f)
        return 1.0f;
    float r = sinf(n * x) / (n * sinf(x));
    return r * r;
}

typedef struct {
    float re[8], im[8], power[8];
} dtmf_block_t;

/* Complex amplitudes of one row and one column tone, with the leakage of
 * each into the other's bin removed. With d = D(w_col - w_row) / N the bins
 * see X_row = a + d b and X_col = conj(d) a + b; this solves for a and b. */
typedef struct {
    float a_re, a_im, b_re, b_im;
    float pa, pb;                  /* powers, scaled like dtmf_block_t.power */
} dtmf_pair_t;

static dtmf_pair_t unmix(const dtmf_rx_t *s, const float *re, const float *im, int r, int c,
                         const float *leak_re, const float *leak_im, int n)
{
    float dr = leak_re[r * 4 + c], di = leak_im[r * 4 + c];
    float xr = re[r], xi = im[r], yr = re[4 + c], yi = im[4 + c];
    float det = 1.0f - (dr * dr + di * di);
    dtmf_pair_t p;
    /* a = (X_row - d X_col) / det,  b = (X_col - conj(d) X_row) / det */
    p.a_re = (xr - (dr * yr - di * yi)) / det;
    p.a_im = (xi - (dr * yi + di * yr)) / det;
    p.b_re = (yr - (dr * xr + di * xi)) / det;
    p.b_im = (yi - (dr * xi - di * xr)) / det;
    /* back from the dial-tone notch to the line's levels (phases are unchanged) */
    const float ga = s->notch_inv[r], gb = s->notch_inv[4 + c];
    p.a_re *= ga;
    p.a_im *= ga;
    p.b_re *= gb;
    p.b_im *= gb;
    p.pa = (p.a_re * p.a_re + p.a_im * p.a_im) * (2.0f / n);
    p.pb = (p.b_re * p.b_re + p.b_im * p.b_im) * (2.0f / n);
    return p;
}

static int strongest(const float *p, int from)
{
    int best = from;
    for (int k = from + 1; k < from + 4; k++)
        if (p[k] > p[best])
            best = k;
    return best;
}

static int dominates(const float *p, int best, int from)
{
    for (int k = from; k < from + 4; k++)
        if (k != best && p[k] > DTMF_REL_PEAK * p[best])
            return 0;
    return 1;
}

/* Does this set of powers (block or half, `energy` over the same span,
 * `min_power` scaled to its length) show digit (row r, column c)? */
static int shows(const float *p, const float *g2, float energy, float min_power, int r, int c, float purity)
{
    int lo = strongest(p, 0), hi = strongest(p, 4);
    if (lo != r || hi != 4 + c)
        return 0;
    if (p[lo] < min_power || p[hi] < min_power)
        return 0;
    if (!dominates(p, lo, 0) || !dominates(p, hi, 4))
        return 0;
    return p[lo] * g2[lo] + p[hi] * g2[hi] >= purity * energy;
}

/* The angle of (x, y), as atan2f, to within 2e-7 rad (the library's atan2f is a call and a
 * careful reduction; the frequency checks need ~1e-4 rad: 1e-4 rad over the 51-sample lag is
 * 0.0025 Hz). atan(t) = t P(t^2) on 0 <= t <= 1, P of degree 7 fitted here (least squares on
 * Chebyshev nodes, reweighted towards an even error: max 1.8e-7 in float); the octants by
 * symmetry. (0, 0) gives 0. */
static float angle_of(float y, float x)
{
    const float ax = fabsf(x), ay = fabsf(y);
    const float hi = ax > ay ? ax : ay, lo = ax > ay ? ay : ax;
    if (!(hi > 0.0f))
        return 0.0f;
    const float t = lo / hi, t2 = t * t;
    float p = -4.780891099e-03f;
    p = p * t2 + 2.455874810e-02f;
    p = p * t2 - 5.990713226e-02f;
    p = p * t2 + 9.942941948e-02f;
    p = p * t2 - 1.402949365e-01f;
    p = p * t2 + 1.997139042e-01f;
    p = p * t2 - 3.333209490e-01f;
    p = p * t2 + 9.999999118e-01f;
    float a = t * p;
    if (ay > ax)
        a = 0.5f * (float) M_PI - a;
    if (x < 0.0f)
        a = (float) M_PI - a;
    return y < 0.0f ? -a : a;
}

/* Frequency offset (Hz) from the phase advance of a complex amplitude:
 * coarse over `short_lag` samples (unambiguous), fine over `long_lag`. */
/* Coarse frequency offset (Hz) from the phase advance between two halves. */
static float coarse_hz(float w, float c1r, float c1i, float c2r, float c2i)
{
    return wrap_pi(angle_of(c2i * c1r - c2r * c1i, c2r * c1r + c2i * c1i) - wrap_pi(w * DTMF_HALF))
        * DTMF_RATE / (2.0f * (float) M_PI * DTMF_HALF);
}

/* Block power corrected for the bin's roll-off at the measured offset, if
 * that is within the frequency tolerance (beyond it, the tone is off
 * frequency and gets no help). */
static float corrected(float power, float df, float f)
{
    return fabsf(df) <= DTMF_FREQ_TOL * f ? power / bin_rolloff(df, DTMF_BLOCK) : power;
}

static float offset_hz(float w, float c1r, float c1i, float c2r, float c2i, int short_lag,
                       float f1r, float f1i, float f2r, float f2i, int long_lag)
{
    float coarse = wrap_pi(angle_of(c2i * c1r - c2r * c1i, c2r * c1r + c2i * c1i) - wrap_pi(w * short_lag))
        * DTMF_RATE / (2.0f * (float) M_PI * short_lag);
    float fine = wrap_pi(angle_of(f2i * f1r - f2r * f1i, f2r * f1r + f2i * f1i) - wrap_pi(w * long_lag))
        * DTMF_RATE / (2.0f * (float) M_PI * long_lag);
    float step = DTMF_RATE / long_lag;
    return fine + step * roundf((coarse - fine) / step);
}

static void emit(dtmf_rx_t *s, dtmf_event_t *events, int max_events, int *count, int kind, char digit,
                 uint64_t sample, float level)
{
    if (*count >= max_events) {
        s->events_dropped++;
        return;
    }
    dtmf_event_t *e = &events[(*count)++];
    e->kind = kind;
    e->digit = digit;
    e->sample = sample;
    e->level_dbm0 = level;
}

static float level_dbm0(const dtmf_rx_t *s, float block_power)
{
    float ms = block_power / DTMF_BLOCK;
    return ms > 0.0f ? 10.0f * log10f(ms / s->dbm0_rms2) : -200.0f;
}

/* Samples of tone in a block that a tone starts or ends in, from the
 * powers of its two halves: the tone fills one half and (ratio) of the
 * other, so a whole block gives 102. */
static float fill_estimate(float p1, float p2)
{
    float lo = p1 < p2 ? p1 : p2, hi = p1 < p2 ? p2 : p1;
    return hi > 0.0f ? DTMF_HALF * (1.0f + sqrtf(lo / hi)) : 0.0f;
}

/* Q.24 twist: "normal" twist is the low (row) group stronger, as a long loop
 * leaves it (high frequencies lose more): accepted to 8 dB; "reverse" twist,
 * the high (column) group stronger, only to 4 dB. The limits sit 1 dB beyond,
 * so that 2 dB beyond each is rejected with room for measurement error. */
static int twist_ok(float p_row, float p_col)
{
    return p_row <= p_col * powf(10.0f, DTMF_TWIST_NORMAL_DB / 10.0f)
        && p_col <= p_row * powf(10.0f, DTMF_TWIST_REVERSE_DB / 10.0f);
}

/* Called when the second half of a block is complete; h2_re/h2_im are its
 * DFT values referenced to the half's first sample. */
static void end_of_block(dtmf_rx_t *s, const float *h2_re, const float *h2_im, float h2_energy,
                         float hf_energy, dtmf_event_t *events, int max_events, int *count)
{
    dtmf_block_t b;
    for (int k = 0; k < 8; k++) {
        b.re[k] = s->h1_re[k] + h2_re[k] * s->half_rot_re[k] - h2_im[k] * s->half_rot_im[k];
        b.im[k] = s->h1_im[k] + h2_re[k] * s->half_rot_im[k] + h2_im[k] * s->half_rot_re[k];
        b.power[k] = (b.re[k] * b.re[k] + b.im[k] * b.im[k]) * (2.0f / DTMF_BLOCK) / s->notch_g2[k];
    }
    float energy = s->h1_energy + h2_energy;
    uint64_t block_start = s->samples - DTMF_BLOCK;

    /* Does the block qualify as a digit on its own? Winners are picked on
     * the raw bins; their powers are then measured free of mutual leakage. */
    char hit = 0;
    float fill = 0.0f;
    int lo = strongest(b.power, 0), hi = strongest(b.power, 4);
    int r = lo, c = hi - 4;
    dtmf_pair_t whole = {0}, first = {0}, second = {0};
    float wr = 2.0f * (float) M_PI * dtmf_freqs[lo] / DTMF_RATE;
    float wc = 2.0f * (float) M_PI * dtmf_freqs[hi] / DTMF_RATE;
    /* The cheap tests on the raw bins first: most blocks (silence, speech)
     * fail them, and need neither the unmixing nor the frequency measurement
     * (the fill only matters for a block that qualifies). */
    if (shows(b.power, s->notch_g2, energy, s->min_block_power, r, c, 0.0f)) {
        whole = unmix(s, b.re, b.im, r, c, s->leak_block_re, s->leak_block_im, DTMF_BLOCK);
        first = unmix(s, s->h1_re, s->h1_im, r, c, s->leak_half_re, s->leak_half_im, DTMF_HALF);
        second = unmix(s, h2_re, h2_im, r, c, s->leak_half_re, s->leak_half_im, DTMF_HALF);
        /* A tone filling a fraction f of the block has f^2 of a whole block's
         * DFT power but f of its energy: the purity tests compare energies. */
        float fill_r = fill_estimate(first.pa, second.pa), fill_c = fill_estimate(first.pb, second.pb);
        fill = fill_r < fill_c ? fill_r : fill_c;
        if (fill >= DTMF_HALF * (1.0f + DTMF_HALF_BALANCE)
            && whole.pa >= s->min_block_power && whole.pb >= s->min_block_power) {
            float pr = corrected(whole.pa, coarse_hz(wr, first.a_re, first.a_im, second.a_re, second.a_im),
                                 dtmf_freqs[lo]);
            float pc = corrected(whole.pb, coarse_hz(wc, first.b_re, first.b_im, second.b_re, second.b_im),
                                 dtmf_freqs[hi]);
            float er = pr * DTMF_BLOCK / (fill_r > 1.0f ? fill_r : 1.0f);
            float ec = pc * DTMF_BLOCK / (fill_c > 1.0f ? fill_c : 1.0f);
            if (s->notch_g2[lo] * er + s->notch_g2[hi] * ec
                    >= (pr > pc * DTMF_TWISTED ? DTMF_PURITY_TWISTED : DTMF_PURITY) * energy
                && s->hf_weight[lo] * er + s->hf_weight[hi] * ec >= s->hf_purity * hf_energy
                && twist_ok(pr, pc))
                hit = dtmf_keys[r][c];
        }
    }

    /* Continuation or end of the digit being reported. */
    if (s->current) {
        int idx = dtmf_digit_index(s->current);
        int cr = idx / 4, cc = idx % 4;
        /* Levels relative to the digit's own start, so that line noise can
         * never hold a digit on. Half-blocks cannot tell adjacent rows apart
         * (their bins are 157 Hz wide), so for them only the digit's own two
         * tones are measured; a half has half a block's power. */
        float row_min = DTMF_CONT_DROP * s->ref_row, col_min = DTMF_CONT_DROP * s->ref_col;
        /* the whole block first; each half only if what comes before it did not show the digit */
        int present = 0;
        if (shows(b.power, s->notch_g2, energy, 0.0f, cr, cc, DTMF_CONT_PURITY)) {
            dtmf_pair_t pb = unmix(s, b.re, b.im, cr, cc, s->leak_block_re, s->leak_block_im, DTMF_BLOCK);
            present = pb.pa >= row_min && pb.pb >= col_min;
        }
        if (!present) {
            dtmf_pair_t p1 = unmix(s, s->h1_re, s->h1_im, cr, cc, s->leak_half_re, s->leak_half_im, DTMF_HALF);
            present = p1.pa >= row_min / 2 && p1.pb >= col_min / 2
                      && p1.pa * s->notch_g2[cr] + p1.pb * s->notch_g2[4 + cc] >= DTMF_CONT_PURITY * s->h1_energy;
        }
        if (!present) {
            dtmf_pair_t p2 = unmix(s, h2_re, h2_im, cr, cc, s->leak_half_re, s->leak_half_im, DTMF_HALF);
            present = p2.pa >= row_min / 2 && p2.pb >= col_min / 2
                      && p2.pa * s->notch_g2[cr] + p2.pb * s->notch_g2[4 + cc] >= DTMF_CONT_PURITY * h2_energy;
        }
        if (present) {
            s->misses = 0;
        } else {
            if (s->misses++ == 0)
                s->miss_start = block_start;
            if (s->misses >= DTMF_END_MISSES) {
                emit(s, events, max_events, count, DTMF_EV_END, s->current, s->miss_start, 0.0f);
                s->current = 0;
                s->misses = 0;
            }
        }
    }

    /* A new digit: two qualifying blocks in a row, tones on frequency. */
    if (!s->current && hit && hit == s->prev_hit && s->prev_valid) {
        dtmf_pair_t prev = unmix(s, s->prev_re, s->prev_im, r, c, s->leak_block_re, s->leak_block_im, DTMF_BLOCK);
        float dlo = offset_hz(wr, first.a_re, first.a_im, second.a_re, second.a_im, DTMF_HALF,
                              prev.a_re, prev.a_im, whole.a_re, whole.a_im, DTMF_BLOCK);
        float dhi = offset_hz(wc, first.b_re, first.b_im, second.b_re, second.b_im, DTMF_HALF,
                              prev.b_re, prev.b_im, whole.b_re, whole.b_im, DTMF_BLOCK);
        /* A key's tones are steady: each within 4 dB of its level in the
         * previous block (voiced speech that passes the other tests glides). */
        int steady = whole.pa <= DTMF_STEADY * prev.pa && prev.pa <= DTMF_STEADY * whole.pa
                     && whole.pb <= DTMF_STEADY * prev.pb && prev.pb <= DTMF_STEADY * whole.pb;
        if (steady && fabsf(dlo) <= DTMF_FREQ_TOL * dtmf_freqs[lo] && fabsf(dhi) <= DTMF_FREQ_TOL * dtmf_freqs[hi]) {
            float plo = whole.pa / bin_rolloff(dlo, DTMF_BLOCK);
            float phi = whole.pb / bin_rolloff(dhi, DTMF_BLOCK);
            if (twist_ok(plo, phi)) {
                /* the tone began (102 - fill) samples into the first block */
                float lead = DTMF_BLOCK - s->prev_fill;
                s->pending = hit;
                s->pending_start = block_start - DTMF_BLOCK + (uint64_t) (lead > 0.0f ? lrintf(lead) : 0);
                s->pending_level = level_dbm0(s, plo > phi ? plo : phi);
                s->pending_ref_row = second.pa;
                s->pending_ref_col = second.pb;
                s->ref_row = whole.pa;
                s->ref_col = whole.pb;
            }
        }
    }
    s->prev_hit = hit;
    s->prev_fill = fill;
    s->prev_valid = 1;
    memcpy(s->prev_re, b.re, sizeof(b.re));
    memcpy(s->prev_im, b.im, sizeof(b.im));
}

/* Called when the first half of a block is complete: confirm or drop a
 * pending digit. Requiring the tone to carry on into this half is what
 * rejects short tones by a wide margin: two qualifying blocks then need a
 * whole block, >= 87 samples of another and ~18 of this half (>= 25.8 ms),
 * while any 40 ms tone satisfies it at every alignment. */
static void end_of_first_half(dtmf_rx_t *s, dtmf_event_t *events, int max_events, int *count)
{
    if (!s->pending)
        return;
    int idx = dtmf_digit_index(s->pending);
    dtmf_pair_t h = unmix(s, s->h1_re, s->h1_im, idx / 4, idx % 4, s->leak_half_re, s->leak_half_im, DTMF_HALF);
    if (h.pa >= DTMF_CONFIRM * s->pending_ref_row && h.pb >= DTMF_CONFIRM * s->pending_ref_col) {
        s->current = s->pending;
        s->misses = 0;
        emit(s, events, max_events, count, DTMF_EV_START, s->pending, s->pending_start, s->pending_level);
    }
    s->pending = 0;
}

int dtmf_rx_process(dtmf_rx_t *s, const int16_t *in, int n, dtmf_event_t *events, int max_events)
{
    /* the notches' memories decay into subnormals in digital silence after a tone */
    const unsigned int fpmode = fp_enter();
    int count = dtmf_rx_process_ftz(s, in, n, events, max_events);
    fp_leave(fpmode);
    return count;
}

int dtmf_rx_process_ftz(dtmf_rx_t *s, const int16_t *in, int n, dtmf_event_t *events, int max_events)
{
    return dtmf_rx_feed_ftz(s, in, n, NULL, events, max_events);
}

const int16_t *dtmf_rx_half_at(dtmf_rx_t *s, const int16_t *in, int k)
{
    if (s->fill == 0)
        return in + (size_t) k * DTMF_HALF;
    if (k == 0) {
        memcpy(s->partial + s->fill, in, (size_t) (DTMF_HALF - s->fill) * sizeof(int16_t));
        return s->partial;
    }
    return in + (size_t) k * DTMF_HALF - (size_t) s->fill;
}

/* max(x, 0) and min(a, b) for the finite energies here: fmaxf/fminf are library calls under
 * -fno-finite-math-only (they must handle NaN), four per half-block. */
static inline float above_zero(float x)
{
    return x > 0.0f ? x : 0.0f;
}

static inline float lesser(float a, float b)
{
    return a < b ? a : b;
}

/* The decisions on one half-block the filter pass (dtmf_filter.c) has run over. */
static void after_half(dtmf_rx_t *s, const dtmf_half_t *h, dtmf_event_t *events, int max_events, int *count)
{
    float energy = h->energy, hf = h->hf;
    float removed = above_zero(h->raw - h->energy);
    float removed_hf = above_zero(h->raw_hf - h->hf);
    /* Half complete: the Goertzel output is e^{j w 50} X(w); rotate it
     * back so X is referenced to the half's first sample. */
    float re[8], im[8];
    for (int k = 0; k < 8; k++) {
        float gr = h->s1[k] - s->cosw[k] * h->s2[k];
        float gi = s->sinw[k] * h->s2[k];
        re[k] = gr * s->ref_re[k] - gi * s->ref_im[k];
        im[k] = gr * s->ref_im[k] + gi * s->ref_re[k];
    }
    if (s->half == 0) {
        memcpy(s->h1_re, re, sizeof(re));
        memcpy(s->h1_im, im, sizeof(im));
        s->h1_energy = energy;
        s->h1_hf_energy = hf;
        s->h1_removed = removed;
        s->h1_removed_hf = removed_hf;
        s->half = 1;
        end_of_first_half(s, events, max_events, count);
    } else {
        /* What the notches took away counts against a digit unless it
         * is steady (a dial tone): only the excess over its slowly rising
         * minimum, block by block (a two-tone dial tone beats within a
         * half), does. Speech drops to nothing between syllables, so for
         * speech nearly all of it counts, as if there were no notches. */
        float rem = s->h1_removed + removed, rem_hf = s->h1_removed_hf + removed_hf;
        s->steady_removed = lesser(rem, lesser(s->steady_removed * DTMF_STEADY_RISE + 1.0f, 3.0e38f));
        s->steady_removed_hf = lesser(rem_hf, lesser(s->steady_removed_hf * DTMF_STEADY_RISE + 1.0f, 3.0e38f));
        energy += above_zero(rem - DTMF_STEADY_MARGIN * s->steady_removed);
        hf += above_zero(rem_hf - DTMF_STEADY_MARGIN * s->steady_removed_hf);
        end_of_block(s, re, im, energy, s->h1_hf_energy + hf, events, max_events, count);
        s->half = 0;
    }
}

int dtmf_rx_feed_ftz(dtmf_rx_t *s, const int16_t *in, int n, const dtmf_half_t *done, dtmf_event_t *events,
                     int max_events)
{
    int count = 0;
    int i = 0;
    while (i < n) {
        int take = DTMF_HALF - s->fill;
        if (take > n - i)
            take = n - i;
        /* Whole halves only: a half that arrives in pieces is collected
         * first, so results do not depend on how the caller frames its
         * input, and the filters run over a fixed length. */
        const int16_t *half = in + i;
        const int completes = s->fill + take == DTMF_HALF;
        if (take < DTMF_HALF && !(completes && done != NULL)) {    /* (dtmf_rx_half_at copied it) */
            memcpy(s->partial + s->fill, in + i, (size_t) take * sizeof(int16_t));
            half = s->partial;
        }
        i += take;
        s->fill += take;
        s->samples += (uint64_t) take;
        if (!completes)
            break;
        s->fill = 0;
        dtmf_half_t h;
        const dtmf_half_t *result = done != NULL ? done++ : &h;
        if (done == NULL)
            dtmf_half_pass(s, half, &h);
        after_half(s, result, events, max_events, &count);
    }
    return count;
}

/* ---- generator ---- */

void dtmf_tx_init(dtmf_tx_t *s, int on_ms, int off_ms, double amp_low, double amp_high)
{
    memset(s, 0, sizeof(*s));
    s->on_samples = on_ms > 0 ? on_ms * 8 : 0;
    s->off_samples = off_ms > 0 ? off_ms * 8 : 0;
    s->amp_low = amp_low;
    s->amp_high = amp_high;
}

int dtmf_tx_queue(dtmf_tx_t *s, const char *digits, int n)
{
    for (int i = 0; i < n; i++)
        if (dtmf_digit_index(digits[i]) < 0)
            return -1 - i;
    int accepted = 0;
    while (accepted < n && s->count < DTMF_TX_QUEUE) {
        s->queue[(s->head + s->count) % DTMF_TX_QUEUE] = digits[accepted++];
        s->count++;
    }
    return accepted;
}

int dtmf_tx_busy(const dtmf_tx_t *s)
{
    return s->state != 0 || s->count > 0;
}

static void next_period(dtmf_tx_t *s)
{
    if (s->state == 1 && s->off_samples > 0) {
        s->state = 2;
        s->remaining = s->off_samples;
        return;
    }
    if (s->count == 0 || s->on_samples == 0) {
        s->state = 0;
        s->remaining = 0;
        return;
    }
    int idx = dtmf_digit_index(s->queue[s->head]);
    s->head = (s->head + 1) % DTMF_TX_QUEUE;
    s->count--;
    s->inc_low = 2.0 * M_PI * dtmf_freqs[idx / 4] / DTMF_RATE;
    s->inc_high = 2.0 * M_PI * dtmf_freqs[4 + idx % 4] / DTMF_RATE;
    s->ph_low = s->ph_high = 0.0;
    s->state = 1;
    s->remaining = s->on_samples;
}

void dtmf_tx_generate(dtmf_tx_t *s, int16_t *out, int n)
{
    int i = 0;
    while (i < n) {
        if (s->remaining == 0)
            next_period(s);
        if (s->state == 0) {
            memset(out + i, 0, (size_t) (n - i) * sizeof(int16_t));
            return;
        }
        int take = s->remaining < n - i ? s->remaining : n - i;
        if (s->state == 2) {
            memset(out + i, 0, (size_t) take * sizeof(int16_t));
        } else {
            for (int j = 0; j < take; j++) {
                double v = s->amp_low * sin(s->ph_low) + s->amp_high * sin(s->ph_high);
                s->ph_low += s->inc_low;
                s->ph_high += s->inc_high;
                if (v > 32767.0)
                    v = 32767.0;
                if (v < -32768.0)
                    v = -32768.0;
                out[i + j] = (int16_t) lrint(v);
            }
            if (s->ph_low > 2.0 * M_PI)
                s->ph_low = fmod(s->ph_low, 2.0 * M_PI);
            if (s->ph_high > 2.0 * M_PI)
                s->ph_high = fmod(s->ph_high, 2.0 * M_PI);
        }
        s->remaining -= take;
        i += take;
    }
}
