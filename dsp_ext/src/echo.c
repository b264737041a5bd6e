/* Line echo canceller: two-path, region-proportionate order-2 affine projection.
 *
 * Why this shape
 * --------------
 * The echo of a 2-wire hybrid is a short, sparse impulse response (G.168 Annex D
 * models are 8-16 ms long) sitting somewhere inside a 128 ms window, and the
 * signal that excites it is speech: coloured, bursty, and sometimes mixed with
 * near-end speech (double talk) that must never be learned as "echo".
 *
 *  - Region-proportionate NLMS (after IPNLMS, Benesty & Gay): a quarter of the
 *    step is spread evenly over the taps, three quarters go to 32-tap regions
 *    in proportion to the |w| mass they (and their neighbours) hold. Inside the
 *    echo's region every tap then adapts fast, even those near zero right now,
 *    so a 1024-tap filter converges nearly as fast as a 100-tap one would.
 *    Gains are recomputed once per 5 ms block from the background weights.
 *  - Leak of idle regions: taps outside the echo soak up adaptation noise while
 *    the error is large, and with a small step they would take seconds to shed
 *    it. Regions under 10% of the strongest one leak, strongly while the
 *    background is converging and in proportion to its error afterwards, so a
 *    genuine weak second reflection is still learned (tested at -20 dB).
 *  - Fixed pre-emphasis (1 - 0.4 z^-1) of both far and near before the filter:
 *    it tilts the speech spectrum flatter, which speeds NLMS up on coloured
 *    input. Filtering both paths with the same LTI filter leaves the echo path
 *    unchanged; the output is de-emphasised back (exact inverse). An adaptive
 *    (LPC) whitening was tried and rejected: a whitening filter that changes
 *    faster than the echo's delay makes the stored history inconsistent.
 *  - Two paths (Ochiai-style): a background filter adapts on every sample;
 *    a foreground filter, which is what produces the output, only receives a copy
 *    of the background when the background has cancelled clearly better than it
 *    for several consecutive blocks while the far end is talking. Near-end speech
 *    can only hurt the background; if the background falls well behind the
 *    foreground it is restored from it. This gives double-talk robustness without
 *    a detector whose threshold must know the ERL, and it never freezes, so an
 *    echo-path change is re-learned as fast as the first convergence. Near-end
 *    speech is recognised when the (converged) foreground suddenly cancels
 *    < 6 dB; for 200 ms after that a copy needs the background 6 dB better,
 *    which a talker cannot fake but an echo-path change produces at once.
 *  - DC/hum: a 120 Hz 4th-order Butterworth high-pass on both paths (the same
 *    filter on both, again so the path to learn is unchanged).
 *  - Order-2 affine projection instead of NLMS for the background: each step
 *    moves along this window minus its G-weighted projection on the previous
 *    one, which takes speech's strong sample-to-sample correlation out of the
 *    update (on espeak speech through the 8 Annex D paths: >= 40 dB return
 *    loss with the NLP within 2 s, where NLMS needed 3 s or more). The
 *    correlations it needs come out of the same tap pass.
 *  - No learning from tones: a far signal that an order-4 predictor over 20 ms
 *    predicts to 25 dB (a call-progress tone, DTMF, FSK, a carrier; speech
 *    reaches ~20 dB at most) holds adaptation until its echo has left the tail;
 *    so does the caller's word (echo_hold_adaptation: the engine knows when it
 *    plays a tone), and a tone at the near end (the far party's DTMF, dial
 *    tone, ringback) while it lasts. Learning the echo path from one or two
 *    frequencies fits it nowhere else, and the exchange's dial tone under our
 *    own DTMF is then learnt as "echo" (the call never recovered).
 *  - Divergence: a foreground that makes the output 3 dB louder than the input
 *    for 100 ms while the far end talks is replaced by the background if that
 *    cancels, else cleared.
 *  - NLP: when the far end is (or just was) active and the output is at least
 *    10 dB below the near input for 2.5 ms (what is left is residual echo, not
 *    near speech), the output is replaced by comfort noise at the background
 *    level, never louder than what it replaces. The level is learnt only when
 *    nobody talks: the far end quiet for a tail and the block within 6 dB of the
 *    quietest blocks of the last 1-1.5 s. Near-end speech (input 6 dB above the
 *    echo the converged filter expects) keeps the NLP off for 200 ms.
 *  - Disabler: 2100 Hz with phase reversals (V.25 ANS/ANSam, i.e. a modem or
 *    V.34 fax answering) on either path bypasses the canceller until both paths
 *    have been quiet for 250 ms. A plain 2100 Hz tone (fax CED) does not. The
 *    detector is the fax-tone module's (faxtone.h), one per path.
 *
 * Speed: the background's pending steps and both filter outputs of two
 * samples are one pass over the taps (one load of each weight, one store;
 * echo_taps.c), over a history buffer kept contiguous by a memmove every
 * ECHO_SHIFT samples, so the loop has no wrap branch. The pass lives in
 * echo_taps.c, compiled in SSE4.2 / AVX2+FMA / AVX-512F copies picked at run
 * time (on aarch64 NEON, the hot passes in assembly). The per-sample work around it runs in three
 * loops per block segment (see echo_process). echo_process runs with
 * flush-to-zero and denormals-are-zero (restored on return): decaying states
 * in speech pauses would otherwise go subnormal and cost ~10x per frame.
 */
#include "fpmode.h"
#include "echo.h"
#include "echo_taps.h"

#include <math.h>
#include <string.h>
#if defined(__aarch64__) && defined(__GNUC__)
#include <arm_neon.h>
#endif

#define PRE_EMPHASIS 0.4f /* partial whitening: stronger starves the low band and slows it */
#define STEP 0.7f         /* background affine-projection step */
#define APA_ORDER2 1.0f
#define UNIFORM 0.25f     /* share of the step spread evenly over all taps */
#define WEAK 0.1f         /* a region under this fraction of the strongest one holds no echo ... */
#define LEAK 0.1f         /* ... and its weights leak by up to this fraction per 5 ms block */
#define LEAK_GAIN 10.0f   /* full leak until the background cancels 10 dB, then proportional to its error */
#define DBM0_MS 2.6052e8f               /* mean square of a 0 dBm0 sine (see levels.py) */
#define FAR_ACTIVE_MS (DBM0_MS * 1e-5f) /* -50 dBm0 (pre-emphasised domain, roughly) */
#define QUIET_MS (DBM0_MS * 1e-4f)      /* -40 dBm0: "no signal" for the disabler's release */
#define DBM0_PEAK 22826.36098786756      /* peak of a 0 dBm0 sine (levels.py) */
#define REGULARISE (DBM0_MS * 1e-6f)    /* per tap: keeps the step sane on very quiet far signal */
#define NOISE_PREDICTABLE 16.0f /* 12 dB: a near signal this predictable is no background noise */
#define TONAL_GAIN 316.0f /* 25 dB order-4 prediction gain: one or two sinusoids, not speech */

/* Flush-to-zero for the duration of one echo_process call: fp_enter / fp_leave (fpmode.h). */

/* The tonal test's window (a Hann window, filled once by echo_init; every
 * init writes the same values). */
static float hann[ECHO_TONAL_N];

static void make_hann(void)
{
    for (int i = 0; i < ECHO_TONAL_N; i++)
        hann[i] = 0.5f - 0.5f * cosf(6.2831853f * ((float)i + 0.5f) / (float)ECHO_TONAL_N);
}

/* Decaying recursions (filters, leaks, level trackers) would otherwise end in
 * subnormal floats, which cost ~100 cycles per operation on x86 unless the
 * process runs with flush-to-zero, and a Python extension cannot count on that. */
#if (defined(__SSE2__) && !defined(__SANITIZE_ADDRESS__)) || defined(__aarch64__)
/* Every caller runs inside echo_process, whose fp_enter() has set the CPU to
 * flush subnormals itself: per sample, the test would only cost time. */
static inline float flush(float x)
{
    return x;
}
#else
static float flush(float x)
{
    return fabsf(x) < 1e-20f ? 0.0f : x;
}
#endif

/* 120 Hz 4th-order Butterworth high-pass at 8 kHz (two biquads, bilinear
 * transform): -30 dB at 50 Hz, flat from 300 Hz. Rows: b0 b1 b2 a1 a2. */
static const float HP[2][5] = {
    {0.917968450f, -1.835936900f, 0.917968450f, -1.831853863f, 0.840019937f},
    {0.963096328f, -1.926192657f, 0.963096328f, -1.921908895f, 0.930476418f},
};

typedef float v4f __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));

#if (defined(__SSE2__) && !defined(__SANITIZE_ADDRESS__)) || defined(__aarch64__)
static inline v4f flush4(v4f x)
{
    return x;
}
#else
static inline v4f flush4(v4f x)
{
    const v4i tiny = (x < 1e-20f) & (x > -1e-20f);
    v4i bits;
    memcpy(&bits, &x, sizeof(bits));
    bits &= ~tiny;
    memcpy(&x, &bits, sizeof(x));
    return x;
}
#endif

/* The high-pass of both paths at once, lane 0 the far signal and lane 1 the
 * near, each biquad in the transposed direct form II: z holds its two
 * states, the first biquad's, then the second's (kept as hp_far / hp_near,
 * the same order). Two states a biquad instead of four (x1 x2 y1 y2 of the
 * direct form I): five multiply-adds and no moves of the delay line. */
static inline v4f highpass2(v4f *z, v4f x)
{
    for (int k = 0; k < 2; k++, z += 2) {
        const float *c = HP[k];
        const v4f y = flush4(c[0] * x + z[0]);
        z[0] = flush4(c[1] * x - c[3] * y + z[1]);
        z[1] = flush4(c[2] * x - c[4] * y);
        x = y;
    }
    return x;
}

#define REGION (ECHO_MAX_TAPS / ECHO_REGIONS)

/* Proportionate step sizes from the background weights. The proportional part
 * follows the |w| mass of 32-tap regions (smoothed over neighbours) rather than
 * each tap: inside the echo's region every tap then adapts fast, including the
 * ones that happen to be near zero now, and the rest of the 128 ms window gets
 * only the small uniform share. */
/* The sum of |w| over one whole region, in four-lane vectors with two chains
 * of additions (one running sum would wait on every addition). */
static inline float region_mass(const float *w)
{
    v4f acc[2] = {{0}, {0}};
    for (int i = 0; i < REGION; i += 4) {
        v4i bits;
        memcpy(&bits, w + i, sizeof(bits));
        bits &= 0x7fffffff;
        v4f a;
        memcpy(&a, &bits, sizeof(a));
        acc[(i / 4) & 1] += a;
    }
    const v4f t = acc[0] + acc[1];
    return (t[0] + t[1]) + (t[2] + t[3]);
}

/* known: each region's mass as echo_taps_settle summed it over w_bg as it is
 * now (known[4 j]), or NULL (summed here). */
/* One whole region's weights times leak, those it leaves under 1e-20 in
 * magnitude set to zero (flush(), in a form that is vectorised: on aarch64 an
 * absolute compare and a bit clear, where gcc's code for the C form spends
 * three times the instructions on NaN rules). */
static inline void leak_region(float *w, float leak)
{
#if defined(__aarch64__) && defined(__GNUC__)
    const float32x4_t tiny = vdupq_n_f32(1e-20f);
    for (int i = 0; i < REGION; i += 8) {
        const float32x4_t a = vmulq_n_f32(vld1q_f32(w + i), leak), b = vmulq_n_f32(vld1q_f32(w + i + 4), leak);
        vst1q_f32(w + i, vreinterpretq_f32_u32(vbicq_u32(vreinterpretq_u32_f32(a), vcaltq_f32(a, tiny))));
        vst1q_f32(w + i + 4, vreinterpretq_f32_u32(vbicq_u32(vreinterpretq_u32_f32(b), vcaltq_f32(b, tiny))));
    }
#else
    for (int i = 0; i < REGION; i++) { /* constant trip count: vectorised */
        const float v = w[i] * leak;
        w[i] = fabsf(v) < 1e-20f ? 0.0f : v; /* flush(), in a form gcc vectorises */
    }
#endif
}

static void update_gains(echo_t *s, float leak, const float *known)
{
    float mass[ECHO_MAX_TAPS / REGION + 2];
    const int taps = s->taps, nreg = (taps + REGION - 1) / REGION;
    mass[0] = mass[nreg + 1] = 0.0f;
    for (int j = 0; j < nreg; j++) {
        const float *w = s->w_bg + j * REGION;
        const int len = (j + 1) * REGION < taps ? REGION : taps - j * REGION;
        float m = 0.0f;
        if (known != NULL) {
            m = known[4 * j];
        } else if (len == REGION) {
            m = region_mass(w);
        } else {
            for (int i = 0; i < len; i++)
                m += fabsf(w[i]);
        }
        mass[j + 1] = m;
    }
    float total = 1e-9f;
    float smooth[ECHO_MAX_TAPS / REGION];
    for (int j = 0; j < nreg; j++) {
        smooth[j] = 0.5f * mass[j + 1] + 0.25f * (mass[j] + mass[j + 2]);
        int end = (j + 1) * REGION < taps ? (j + 1) * REGION : taps;
        total += smooth[j] * (float)(end - j * REGION);
    }
    const float k = (1.0f - UNIFORM) * (float)taps / total;
    float peak = 0.0f;
    for (int j = 0; j < nreg; j++)
        peak = fmaxf(peak, smooth[j]);
    for (int j = 0; j < nreg; j++) {
        s->gain[j] = UNIFORM + k * smooth[j];
        /* Regions with almost no echo hold mostly adaptation noise picked up
         * while the error was large; let it leak away. */
        if (leak < 1.0f && smooth[j] < WEAK * peak) {
            float *w = s->w_bg + j * REGION;
            const int len = (j + 1) * REGION < taps ? REGION : taps - j * REGION;
            if (len == REGION) {
                leak_region(w, leak);
            } else {
                for (int i = 0; i < len; i++) {
                    const float v = w[i] * leak;
                    w[i] = fabsf(v) < 1e-20f ? 0.0f : v;
                }
            }
        }
    }
}

/* fmaxf/fminf without their NaN rules, which -fno-finite-math-only turns
 * into library calls: per sample, nothing here is NaN. */
static inline float larger(float a, float b)
{
    return a > b ? a : b;
}

static inline float smaller(float a, float b)
{
    return a < b ? a : b;
}

static uint32_t xorshift(uint32_t *r)
{
    uint32_t x = *r;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *r = x;
    return x;
}

void echo_reset(echo_t *s)
{
    int taps = s->taps, flags = s->flags;
    memset(s, 0, sizeof(*s));
    s->taps = taps;
    s->flags = flags;
    s->pos = ECHO_SHIFT;
    for (int j = 0; j < ECHO_REGIONS; j++)
        s->gain[j] = 1.0f;
    s->rng = 0x9E3779B9u;
    s->noise_level = DBM0_MS * 1e-7f; /* -70 dBm0 until measured */
    s->win_min = s->floor_min[0] = s->floor_min[1] = s->floor_min[2] = 3.4e38f;
    faxtone_rx_init(&s->tone_rx[0], DBM0_PEAK);
    faxtone_rx_init(&s->tone_rx[1], DBM0_PEAK);
}

int echo_init(echo_t *s, int taps, int flags)
{
    if (taps < 8 || taps > ECHO_MAX_TAPS)
        return -1;
    echo_taps_pick();
    make_hann();
    s->taps = taps;
    s->flags = flags;
    echo_reset(s);
    return 0;
}

size_t echo_state_size(void)
{
    return sizeof(echo_t);
}

void echo_set_flags(echo_t *s, int flags)
{
    s->flags = flags;
}

/* ---- per-block control --------------------------------------------------- */

/* Order-4 linear prediction gain of the far signal over the last 20 ms
 * (autocorrelation method: Hann window, Levinson-Durbin). One or two sinusoids
 * (a call-progress tone, DTMF, a modem's carrier) are predicted to 30 dB and
 * more; speech, pre-emphasised as the filter sees it, to about 15 dB at most. */
static float prediction_gain(const float *hist, int pos)
{
    const float *win = hann;
    float xp[4 + ECHO_TONAL_N]; /* four zeros, then the windowed signal: every lag sums over all N */
    float *x = xp + 4;
    xp[0] = xp[1] = xp[2] = xp[3] = 0.0f;
    const int head = ECHO_TONAL_N - pos; /* oldest first: hist[pos..N) then hist[0..pos) */
    for (int i = 0; i < head; i++)
        x[i] = hist[pos + i] * win[i];
    for (int i = head; i < ECHO_TONAL_N; i++)
        x[i] = hist[i - head] * win[i];
    /* the five lags in one sweep, four lanes at a time, two chains each */
    v4f acc[2][5];
    memset(acc, 0, sizeof(acc));
    for (int i = 0; i < ECHO_TONAL_N; i += 4) {
        v4f xi;
        memcpy(&xi, x + i, sizeof(xi));
        for (int k = 0; k < 5; k++) {
            v4f xk;
            memcpy(&xk, x + i - k, sizeof(xk));
            acc[(i / 4) & 1][k] += xi * xk;
        }
    }
    float r[5];
    for (int k = 0; k < 5; k++) {
        const v4f t = acc[0][k] + acc[1][k];
        r[k] = (t[0] + t[1]) + (t[2] + t[3]);
    }
    if (r[0] < 0.375f * FAR_ACTIVE_MS * ECHO_TONAL_N) /* Hann: 0.375 of the power */
        return 1.0f;
    float a[5] = {1.0f, 0.0f, 0.0f, 0.0f, 0.0f}, err = r[0];
    for (int i = 1; i <= 4; i++) {
        float acc = r[i];
        for (int j = 1; j < i; j++)
            acc += a[j] * r[i - j];
        float k = -acc / err;
        if (k >= 1.0f || k <= -1.0f)
            return 1e6f;
        float tmp[5];
        for (int j = 1; j < i; j++)
            tmp[j] = a[j] + k * a[i - j];
        for (int j = 1; j < i; j++)
            a[j] = tmp[j];
        a[i] = k;
        err *= 1.0f - k * k;
        if (err <= r[0] * 1e-6f)
            return 1e6f;
    }
    return r[0] / err;
}

static void clear_filters(echo_t *s)
{
    memset(s->w_fg, 0, sizeof(s->w_fg));
    memset(s->w_bg, 0, sizeof(s->w_bg));
    for (int j = 0; j < ECHO_REGIONS; j++)
        s->gain[j] = 1.0f;
    s->pend[0] = s->pend[1] = s->pend[2] = s->carry = s->prev_err = 0.0f;
    s->converged = 0;
    s->erle_db = 0.0f;
    s->p_efg = s->p_ebg = s->p_near;
    s->settle_mass_stale = 1;
    s->resets++;
}

/* The background (comfort-noise) level: the mean of the blocks in which
 * neither side talks. "Nobody talks" = the far end has been quiet for a tail
 * and the block is within 6 dB of the quietest blocks of the last 1-1.5 s
 * (minimum statistics), so near-end speech never teaches it; nor does a tone
 * at the near end (dial tone, ringback, busy: see near_pred). */
static void track_background(echo_t *s)
{
    const float level = s->acc_clean / ECHO_BLOCK;
    s->win_min = fminf(s->win_min, level);
    if (++s->win_n >= 100) { /* 0.5 s windows */
        s->floor_min[2] = s->floor_min[1];
        s->floor_min[1] = s->floor_min[0];
        s->floor_min[0] = s->win_min;
        s->win_min = 3.4e38f;
        s->win_n = 0;
    }
    float floor = fminf(fminf(s->floor_min[0], s->floor_min[1]), fminf(s->floor_min[2], s->win_min));
    /* ... and nothing predictable at the near end: a steady dial tone or ringback is no
     * noise (found when the exchange kept its dial tone on under our digits: the dial tone
     * set the floor, the ringback after it was then taken for the line's noise, and the NLP
     * let the residual echo through). Line noise, even coloured, is not predictable to
     * 12 dB; a tone is (US ringback, 440 + 480 Hz through G.711, measured ~24 dB: just
     * under TONAL_GAIN, so the near-tone hold does not catch it). */
    if (s->far_hold == 0 && s->near_pred < NOISE_PREDICTABLE && level <= 4.0f * floor)
        s->noise_level = flush(s->noise_level + 0.05f * (level - s->noise_level));
}

static void end_block(echo_t *s)
{
    const float a = 0.3f; /* smoothing: about 15 ms */
    s->p_far = flush(s->p_far + a * (s->acc_far - s->p_far));
    s->p_near = flush(s->p_near + a * (s->acc_near - s->p_near));
    s->p_efg = flush(s->p_efg + a * (s->acc_efg - s->p_efg));
    s->p_ebg = flush(s->p_ebg + a * (s->acc_ebg - s->p_ebg));
    int far_active = s->p_far > FAR_ACTIVE_MS * ECHO_BLOCK;
    /* Echo may arrive up to a tail after the far signal stops. */
    if (far_active)
        s->far_hold = s->taps / ECHO_BLOCK + 2;
    else if (s->far_hold > 0)
        s->far_hold--;

    /* Tonal far signal: learning on it fits the echo path only at one or two
     * frequencies (and whatever the near end adds, e.g. the exchange's dial
     * tone under our DTMF), which is wrong everywhere else. Hold adaptation
     * while the tail still holds any of it. */
    /* only on a window full of signal: a syllable's faint edge is no tone */
    s->pred_gain = far_active && s->acc_far > FAR_ACTIVE_MS * ECHO_BLOCK ? prediction_gain(s->far_hist, s->hist_pos)
                                                                       : 1.0f;
    /* A tone at the near end (the far party's DTMF, a fax or modem tone, the
     * exchange's dial tone or ringback) over our talk: an adaptive filter with
     * a broadband reference would learn to cancel part of it, and a copy to
     * the foreground would then eat into the far party's digits. No learning
     * while it lasts. */
    const int near_loud = s->acc_near > FAR_ACTIVE_MS * ECHO_BLOCK;
    s->near_pred = near_loud ? prediction_gain(s->near_hist, s->hist_pos) : 1.0f;
    int near_tonal = near_loud && s->near_pred > TONAL_GAIN;
    if (near_tonal)
        s->near_hold = 4;
    else if (s->near_hold > 0)
        s->near_hold--;
    s->far_tonal = s->hold_external || (far_active && s->pred_gain > TONAL_GAIN);
    if (s->far_tonal)
        s->tonal_hold = s->taps / ECHO_BLOCK + 2;
    else if (s->tonal_hold > 0)
        s->tonal_hold--;
    const int learn = far_active && !s->disabled && s->tonal_hold == 0 && s->near_hold == 0;

    if (learn) {
        /* Background clearly better and actually cancelling: adopt it. Within
         * 200 ms of near-end speech, "better over the last 20 ms" is weak
         * evidence (the talker may have bent the background in ways the current
         * far spectrum does not show), so then it must be 6 dB better, which
         * only a real echo-path change produces. */
        float margin = s->dt_hold > 0 ? 0.25f : 0.7f;
        if (s->p_ebg < margin * s->p_efg && s->p_ebg < 0.125f * s->p_near) {
            if (++s->better_run >= 4) {
                memcpy(s->w_fg, s->w_bg, sizeof(float) * (size_t)s->taps);
                s->better_run = 0;
                s->p_efg = s->p_ebg;
            }
        } else {
            s->better_run = 0;
        }
        /* Background lost (near-end speech taught it nonsense): restore it. */
        if (s->p_ebg > 4.0f * s->p_efg && s->p_efg < 0.25f * s->p_near) {
            if (++s->worse_run >= 4) {
                memcpy(s->w_bg, s->w_fg, sizeof(float) * (size_t)s->taps);
                s->pend[0] = s->pend[1] = s->pend[2] = s->carry = s->prev_err = 0.0f;
                s->settle_mass_stale = 1;
                s->worse_run = 0;
                s->p_ebg = s->p_efg;
            }
        } else {
            s->worse_run = 0;
        }
        float erle = 10.0f * log10f((s->p_near + 1.0f) / (s->p_efg + 1.0f));
        s->double_talk = s->converged && erle < 6.0f;
        if (s->double_talk)
            s->dt_hold = 40;
        else if (s->dt_hold > 0)
            s->dt_hold--;
        if (!s->double_talk) {
            s->erle_db += 0.1f * (erle - s->erle_db);
            if (s->erle_db > 15.0f)
                s->converged = 1;
        }
    } else {
        s->better_run = s->worse_run = 0;
        s->double_talk = 0;
    }
    /* Divergence: the output filter adds more than it removes (the output is
     * 3 dB louder than the input) for 100 ms. Near-end speech cannot do that.
     * Take the background if it cancels, else start from nothing. */
    if (far_active && !s->disabled && s->p_efg > 2.0f * s->p_near && s->p_near > FAR_ACTIVE_MS * ECHO_BLOCK) {
        if (++s->diverge_run >= 20) {
            if (s->p_ebg < 0.5f * s->p_near) {
                memcpy(s->w_fg, s->w_bg, sizeof(float) * (size_t)s->taps);
                s->p_efg = s->p_ebg;
            } else {
                clear_filters(s);
            }
            s->diverge_run = 0;
        }
    } else {
        s->diverge_run = 0;
    }
    /* The leak scales with the background's relative error: strong while it is
     * still converging (when the idle taps soak up adaptation noise), fading
     * to nothing once it cancels well, so that a genuine weak second
     * reflection is still learned. */
    float leak = 1.0f;
    if (learn)
        leak = 1.0f - LEAK * fminf(1.0f, LEAK_GAIN * s->p_ebg / (s->p_near + 1.0f));
    update_gains(s, leak, s->settled && !s->settle_mass_stale ? s->settle_sums : NULL);
    /* G changed: the correlations the steps need start again from a full sum
     * (sliding them across a change of G would be wrong, and this also keeps
     * rounding errors from piling up): from the settle's per-region sums if
     * the block ended with it (the window is the same), else over the taps. */
    if (s->settled) {
        const int nreg = (s->taps + REGION - 1) / REGION;
        double c[3] = {0.0, 0.0, 0.0};
        for (int j = 0; j < nreg; j++)
            for (int l = 0; l < 3; l++)
                c[l] += (double)s->gain[j] * (double)s->settle_sums[4 * j + 1 + l];
        for (int l = 0; l < 3; l++)
            s->corr[l] = c[l];
    } else {
        echo_taps_correlate(s->gain, s->xbuf + s->pos, s->taps, s->corr);
    }
    s->settled = s->settle_mass_stale = 0;

    track_background(s);

    /* Disabler (tone_state is refreshed by echo_process just before this). */
    if ((s->tone_state[0] | s->tone_state[1]) & FAXTONE_REVERSALS)
        s->disabled = 1;
    if (s->disabled) {
        int quiet = s->acc_nearhp / ECHO_BLOCK < QUIET_MS && s->acc_far / ECHO_BLOCK < QUIET_MS
                    && !((s->tone_state[0] | s->tone_state[1]) & FAXTONE_ANS);
        s->quiet_blocks = quiet ? s->quiet_blocks + 1 : 0;
        if (s->quiet_blocks >= 50)
            s->disabled = 0;
    }
    s->acc_far = s->acc_near = s->acc_efg = s->acc_ebg = s->acc_nearhp = s->acc_clean = 0.0f;
    s->blk_n = 0;
}

static int16_t to_int16(float x)
{
    if (x >= 32767.0f)
        return 32767;
    if (x <= -32768.0f)
        return -32768;
    return (int16_t)lrintf(x);
}


/* ---- per sample, in three stages per block segment ------------------------
 *
 * echo_process cuts its input at block ends and runs each segment (at most
 * one 5 ms block) through three loops: the input conditioning (high-pass,
 * pre-emphasis, block sums, the tonal tests' windows), the adaptive filters
 * (tap passes, affine-projection steps), and the output (de-emphasis, level
 * trackers, NLP, comfort noise). Nothing in a later stage feeds an earlier
 * one within a block (the NLP's settings change only at block ends), so the
 * result is that of one sample through all three at a time; but each loop
 * keeps its state in registers instead of reloading it around every opaque
 * call of a tap pass. */

/* One segment's signals between the stages. */
typedef struct {
    float xw[ECHO_BLOCK]; /* the filter's far input (high-passed, pre-emphasised) */
    float nw[ECHO_BLOCK]; /* its near input, the same */
    float nh[ECHO_BLOCK]; /* the high-passed near input */
    float ef[ECHO_BLOCK]; /* the foreground's error (the output before de-emphasis and NLP) */
    float yf[ECHO_BLOCK]; /* the foreground's echo estimate */
} segment_t;

/* One sample of both paths (lanes 0 and 1 of x) through the high-pass (if
 * hpf), the pre-emphasis and the block sums; z: the high-pass state, pre the
 * last high-passed sample, acc and acch the sums of the pre-emphasised and
 * the high-passed signals' squares, all kept in registers by the loop. */
static inline __attribute__((always_inline)) void condition_one(v4f x, int hpf, v4f *z, v4f *pre, v4f *acc,
                                                                v4f *acch, segment_t *g, int i)
{
    const v4f h = hpf ? highpass2(z, x) : x;
    const v4f w = h - PRE_EMPHASIS * *pre;
    *pre = h;
    g->xw[i] = w[0];
    g->nw[i] = w[1];
    g->nh[i] = h[1];
    *acc += w * w;
    *acch += h * h;
}

/* Stage 1: input conditioning of m samples, and their block sums. */
static void condition(echo_t *s, const int16_t *far, const int16_t *near, int m, segment_t *g)
{
    /* both paths as floats, interleaved (one vectorised loop), then one loop
     * over the samples with the paths in two lanes of a vector */
    float in[2 * ECHO_BLOCK];
    for (int i = 0; i < m; i++) {
        in[2 * i] = (float)far[i];
        in[2 * i + 1] = (float)near[i];
    }
    v4f z[4], pre = {s->pre_far, s->pre_near, 0.0f, 0.0f}, acc = {0}, acch = {0};
    for (int k = 0; k < 4; k++)
        z[k] = (v4f){s->hp_far[k], s->hp_near[k], 0.0f, 0.0f};
    if (s->flags & ECHO_HPF) {
        for (int i = 0; i < m; i++)
            condition_one((v4f){in[2 * i], in[2 * i + 1], 0.0f, 0.0f}, 1, z, &pre, &acc, &acch, g, i);
        for (int k = 0; k < 4; k++) {
            s->hp_far[k] = z[k][0];
            s->hp_near[k] = z[k][1];
        }
    } else {
        for (int i = 0; i < m; i++)
            condition_one((v4f){in[2 * i], in[2 * i + 1], 0.0f, 0.0f}, 0, z, &pre, &acc, &acch, g, i);
    }
    s->pre_far = pre[0];
    s->pre_near = pre[1];
    s->acc_far += acc[0];
    s->acc_near += acc[1];
    s->acc_nearhp += acch[1];
    /* the tonal tests' windows (rings of the last 20 ms), in at most two
     * pieces each */
    const int pos = s->hist_pos, first = ECHO_TONAL_N - pos < m ? ECHO_TONAL_N - pos : m;
    memcpy(s->far_hist + pos, g->xw, sizeof(float) * (size_t)first);
    memcpy(s->near_hist + pos, g->nw, sizeof(float) * (size_t)first);
    memcpy(s->far_hist, g->xw + first, sizeof(float) * (size_t)(m - first));
    memcpy(s->near_hist, g->nw + first, sizeof(float) * (size_t)(m - first));
    s->hist_pos = pos + m >= ECHO_TONAL_N ? pos + m - ECHO_TONAL_N : pos + m;
}

/* The far sample xw pushed onto the history (block position t), and the
 * correlations slid to its window: r[l] = x'G x_{-l}. Inlined into the filter
 * loop, which keeps the history position and the correlations in registers
 * (pos, corr: its copies of s->pos and s->corr) across the tap passes. */
static inline __attribute__((always_inline)) void push_far(echo_t *s, float xw, int t, int *pos, double *corr,
                                                           float *r)
{
    if (t % ECHO_CHUNK == 0) /* the next chunk's change at the region boundaries, from older samples */
        echo_taps_boundaries(s->gain, s->xbuf + *pos, s->taps, s->dcorr);
    /* keep the window contiguous */
    if (*pos == 0) {
        memmove(s->xbuf + ECHO_SHIFT, s->xbuf, sizeof(float) * (size_t)(s->taps + 4));
        *pos = ECHO_SHIFT;
    }
    --*pos;
    float *xn = s->xbuf + *pos;
    xn[0] = xw;
    const double top = (double)s->gain[0] * (double)xw; /* the first region's upper end */
    const int back = ECHO_CHUNK - 1 - t % ECHO_CHUNK;
    corr[0] += top * xn[0] + s->dcorr[back];
    corr[1] += top * xn[1] + s->dcorr[ECHO_CHUNK + back];
    corr[2] += top * xn[2] + s->dcorr[2 * ECHO_CHUNK + back];
    r[0] = larger((float)corr[0], 0.0f); /* an energy: never below 0 by rounding */
    r[1] = (float)corr[1];
    r[2] = (float)corr[2];
}

/* The background's affine-projection step for one sample with error eb and
 * correlations r (c[0], c[1]: its coefficients on this window and the one
 * before); e1 and xgx carry the last sample's error and window energy. */
static inline void ap_step(float eb, const float *r, float reg, float *prev_err, float *prev_xgx, float *c)
{
    /* Order-2 proportionate affine projection: the step moves the background
     * along this window minus its G-weighted projection on the previous one,
     * which takes most of speech's sample-to-sample correlation out of the
     * update (plain NLMS crawls along speech's strong low band). e1 is the
     * previous error as the last step left it. */
    const float r00 = r[0] + reg, r11 = *prev_xgx + reg, r01 = APA_ORDER2 * r[1];
    const float e0 = eb, e1 = APA_ORDER2 * (1.0f - STEP) * *prev_err;
    const float det = larger(r00 * r11 - r01 * r01, 0.3f * r00 * r11);
    const float k = STEP / det;
    c[0] = k * (r11 * e0 - r01 * e1);
    c[1] = k * (r00 * e1 - r01 * e0);
    *prev_err = eb;
    *prev_xgx = r[0];
}

/* Stage 2: both filters over m samples from block position t0. Two samples
 * per pass over the taps, unless only one is left in the segment. The
 * decisions at the block's end (copies between the filters, the leak, the
 * gains) must see the background as one pass per sample leaves it, with only
 * the last sample's step pending: a pair that ends the block is followed by
 * echo_taps_settle, which applies the other pending steps in a pass of its own
 * (two multiply-adds a tap, no outputs) and sums, on the way, each region's
 * weight mass and window correlations for end_block; a block's last sample
 * that comes alone (a segment of odd length) goes through a one-sample pass.
 *
 * The pending steps: pend[0..2] on the newest window x_m and the two before it
 * (as one pass per sample would leave them), and `carry`, a step on x_{m-2}
 * that a pair's pass left for the next one. A pair's pass applies only the
 * steps on x_{m-1} and x_{m-2}, whose coefficients are final (the order-2
 * steps of samples m and m+1 both touch x_m), so it reads two older windows
 * instead of three; the outputs add x_m's step through the correlations. */
static void filter(echo_t *s, segment_t *g, int m, int t0)
{
    const int frozen = s->disabled || s->tonal_hold > 0 || s->near_hold > 0;
    const float reg = REGULARISE * (float)s->taps;
    float prev_err = s->prev_err, prev_xgx = s->prev_xgx;
    float acc_efg = 0.0f, acc_ebg = 0.0f;
    int pos = s->pos;
    double corr[3] = {s->corr[0], s->corr[1], s->corr[2]};
    int i = 0;
    while (i < m) {
        const int t = t0 + i;
        float ra[3], ca[2];
        push_far(s, g->xw[i], t, &pos, corr, ra);
        if (i + 1 < m) {
            float rb[3], cb[2], y[4];
            push_far(s, g->xw[i + 1], t + 1, &pos, corr, rb);
            const float p0 = s->pend[0];
            const float d[2] = {s->pend[1], s->pend[2] + s->carry};
            echo_taps_pass2(s->w_bg, s->w_fg, s->gain, s->xbuf + pos, s->taps, d, y);
            const float nwa = g->nw[i], nwb = g->nw[i + 1];
            const float eba = nwa - (y[0] + p0 * ra[1]);
            if (frozen) {
                ca[0] = ca[1] = prev_err = 0.0f;
                prev_xgx = ra[0];
            } else {
                ap_step(eba, ra, reg, &prev_err, &prev_xgx, ca);
            }
            /* the older sample's step, as it changes the newer one's output */
            const float ebb = nwb - (y[1] + (p0 + ca[1]) * rb[2] + ca[0] * rb[1]);
            if (frozen) {
                cb[0] = cb[1] = prev_err = 0.0f;
                prev_xgx = rb[0];
            } else {
                ap_step(ebb, rb, reg, &prev_err, &prev_xgx, cb);
            }
            if (t + 2 < ECHO_BLOCK) {
                s->carry = p0;
                s->pend[0] = cb[0];
                s->pend[1] = cb[1] + ca[0];
                s->pend[2] = ca[1];
            } else {
                /* the block's end: the steps that one pass per sample would
                 * have applied by now (the older sample's on x_{m+1}, and all
                 * on x_m) in one pass, which also sums what end_block needs */
                const float e[2] = {ca[0], ca[1] + p0};
                echo_taps_settle(s->w_bg, s->gain, s->xbuf + pos, s->taps, e, s->settle_sums);
                s->settled = 1;
                s->settle_mass_stale = 0;
                s->carry = 0.0f;
                s->pend[0] = cb[0];
                s->pend[1] = cb[1];
                s->pend[2] = 0.0f;
            }
            const float efa = nwa - y[2], efb = nwb - y[3];
            g->ef[i] = efa;
            g->ef[i + 1] = efb;
            g->yf[i] = y[2];
            g->yf[i + 1] = y[3];
            acc_efg += efa * efa + efb * efb;
            acc_ebg += eba * eba + ebb * ebb;
            i += 2;
        } else {
            float y[2];
            const float d[3] = {s->pend[0], s->pend[1], s->pend[2] + s->carry};
            echo_taps_pass1(s->w_bg, s->w_fg, s->gain, s->xbuf + pos, s->taps, d, y);
            const float eba = g->nw[i] - y[0], efa = g->nw[i] - y[1];
            if (frozen) {
                ca[0] = ca[1] = prev_err = 0.0f;
                prev_xgx = ra[0];
            } else {
                ap_step(eba, ra, reg, &prev_err, &prev_xgx, ca);
            }
            s->carry = 0.0f;
            s->pend[0] = ca[0];
            s->pend[1] = ca[1];
            s->pend[2] = 0.0f;
            g->ef[i] = efa;
            g->yf[i] = y[1];
            acc_efg += efa * efa;
            acc_ebg += eba * eba;
            i += 1;
        }
    }
    s->pos = pos;
    s->corr[0] = corr[0];
    s->corr[1] = corr[1];
    s->corr[2] = corr[2];
    s->prev_err = prev_err;
    s->prev_xgx = prev_xgx;
    s->acc_efg += acc_efg;
    s->acc_ebg += acc_ebg;
}

/* Stage 3: de-emphasis, the NLP's level trackers and decisions, comfort noise. */
static void output(echo_t *s, const segment_t *g, const int16_t *near, int16_t *out, int m)
{
    float deemph = s->deemph, acc_clean = 0.0f;
    float st_near = s->st_near, st_out = s->st_out, st_nw = s->st_nw, st_yf = s->st_yf;
    int nlp_hold = s->nlp_hold, nlp_run = s->nlp_run, nlp_active = s->nlp_active;
    uint32_t rng = s->rng;
    const int nlp = (s->flags & ECHO_NLP) != 0, cng = (s->flags & ECHO_CNG) != 0;
    const int converged = s->converged, far_recent = s->far_hold > 0, disabled = s->disabled;
    const float noise = s->noise_level, speech_floor = 8.0f * s->noise_level;
    for (int i = 0; i < m; i++) {
        const float nh = g->nh[i], nw = g->nw[i], yf = g->yf[i];
        const float o = flush(g->ef[i] + PRE_EMPHASIS * deemph);
        deemph = o;
        acc_clean += o * o;
        /* NLP: residual echo is what is left when the output is far below the
         * input while the far end is (or just was) talking. */
        st_near = flush(st_near + 0.03f * (nh * nh - st_near));
        st_out = flush(st_out + 0.03f * (o * o - st_out));
        st_nw = flush(st_nw + 0.03f * (nw * nw - st_nw));
        st_yf = flush(st_yf + 0.03f * (yf * yf - st_yf));
        float result = o;
        if (nlp) {
            /* Near-end speech (the input is 6 dB above the echo the converged
             * filter expects, and the output well above the background): no
             * NLP for the next 200 ms, so the other talker's word endings and
             * onsets are not clipped. */
            if (converged && st_nw > 4.0f * st_yf && st_out > speech_floor)
                nlp_hold = 1600;
            else if (nlp_hold > 0)
                nlp_hold--;
            const int residual = far_recent && nlp_hold == 0 && st_out < 0.1f * st_near;
            if (!residual || disabled) {
                nlp_run = 0;
                nlp_active = 0;
            } else if (++nlp_run >= 20) {
                nlp_active = 1;
            }
            if (nlp_active) {
                float cn = 0.0f;
                if (cng) {
                    /* uniform noise has variance 1/3 of its peak^2; never above
                     * what is being replaced (the NLP must not make it louder) */
                    const float u = (float)xorshift(&rng) * (2.0f / 4294967296.0f) - 1.0f;
                    cn = u * sqrtf(3.0f * smaller(noise, smaller(st_near, st_out)));
                }
                result = cn;
            }
        } else {
            nlp_active = 0;
        }
        out[i] = disabled ? near[i] : to_int16(result);
    }
    s->deemph = deemph;
    s->acc_clean += acc_clean;
    s->st_near = st_near;
    s->st_out = st_out;
    s->st_nw = st_nw;
    s->st_yf = st_yf;
    s->nlp_hold = nlp_hold;
    s->nlp_run = nlp_run;
    s->nlp_active = nlp_active;
    s->rng = rng;
}

void echo_process(echo_t *s, const int16_t *far, const int16_t *near, int16_t *out, size_t n)
{
    const unsigned int fpmode = fp_enter();
    segment_t g;
    size_t k = 0;
    while (k < n) {
        const int left = ECHO_BLOCK - s->blk_n;
        const int m = n - k < (size_t)left ? (int)(n - k) : left;
        const int t0 = s->blk_n;
        condition(s, far + k, near + k, m, &g);
        filter(s, &g, m, t0);
        output(s, &g, near + k, out + k, m);
        /* The raw samples of the block so far go to the 2100 Hz detectors. */
        s->tone_state[0] = faxtone_rx_process(&s->tone_rx[0], far + k, m);
        s->tone_state[1] = faxtone_rx_process(&s->tone_rx[1], near + k, m);
        s->blk_n += m;
        k += (size_t)m;
        if (s->blk_n == ECHO_BLOCK)
            end_block(s);
    }
    fp_leave(fpmode);
}

void echo_hold_adaptation(echo_t *s, int on)
{
    s->hold_external = on != 0;
    if (on) {
        s->tonal_hold = s->taps / ECHO_BLOCK + 2;
        /* the last samples' steps are dropped; `carry` is an older one, which
         * one pass per sample would already have applied */
        s->pend[0] = s->pend[1] = s->pend[2] = s->prev_err = 0.0f;
    }
}

void echo_get_stats(const echo_t *s, echo_stats_t *st)
{
    st->erle_db = s->erle_db;
    st->double_talk = s->double_talk;
    st->converged = s->converged;
    st->disabled = s->disabled;
    st->nlp_active = s->nlp_active;
    st->noise_dbm0 = 10.0f * log10f(s->noise_level / DBM0_MS + 1e-12f);
    st->adapting = !s->disabled && s->tonal_hold == 0 && s->near_hold == 0 && s->far_hold > 0;
    st->far_tonal = s->far_tonal;
    st->far_prediction_db = 10.0f * log10f(s->pred_gain + 1e-12f);
    st->near_prediction_db = 10.0f * log10f(fmaxf(s->near_pred, 1.0f));
    st->resets = s->resets;
}
