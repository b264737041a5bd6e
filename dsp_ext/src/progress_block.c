/* Call-progress block features (see progress_block.h). A radix-2 FFT of 256 points on the
 * stack, twiddles and the Hann window computed once per analyser (init); per block about
 * 20 k floating-point operations, no allocation. */
#include "progress_block.h"

#include <math.h>
#include <string.h>

#define RATE 8000.0
#define BAND_LO 200.0
#define BAND_HI 3400.0

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

void progress_block_init(progress_block_t *s, const double *ringback_mask, const double *tone_mask)
{
    memcpy(s->ringback_mask, ringback_mask, sizeof s->ringback_mask);
    memcpy(s->tone_mask, tone_mask, sizeof s->tone_mask);
    memset(s->prev_amp, 0, sizeof s->prev_amp);
    for (int n = 0; n < PROGRESS_BLOCK; n++)      /* numpy.hanning(M): 0.5 - 0.5 cos(2 pi n / (M - 1)) */
        s->hann[n] = 0.5 - 0.5 * cos(2.0 * M_PI * n / (PROGRESS_BLOCK - 1));
    for (int k = 0; k < PROGRESS_NFFT / 2; k++) {
        s->tw_re[k] = cos(-2.0 * M_PI * k / PROGRESS_NFFT);
        s->tw_im[k] = sin(-2.0 * M_PI * k / PROGRESS_NFFT);
    }
    s->band_lo = PROGRESS_NBINS;
    s->band_hi = -1;
    for (int k = 0; k < PROGRESS_NBINS; k++) {
        double f = k * RATE / PROGRESS_NFFT;
        if (f >= BAND_LO && f <= BAND_HI) {
            if (k < s->band_lo)
                s->band_lo = k;
            s->band_hi = k;
        }
    }
}

static void fft256(const progress_block_t *s, double *re, double *im)
{
    const int n = PROGRESS_NFFT;
    for (int i = 1, j = 0; i < n; i++) {           /* bit reversal */
        int bit = n >> 1;
        for (; j & bit; bit >>= 1)
            j ^= bit;
        j ^= bit;
        if (i < j) {
            double t = re[i]; re[i] = re[j]; re[j] = t;
            t = im[i]; im[i] = im[j]; im[j] = t;
        }
    }
    for (int len = 2; len <= n; len <<= 1) {
        int half = len >> 1, step = n / len;
        for (int i = 0; i < n; i += len) {
            for (int k = 0; k < half; k++) {
                double wr = s->tw_re[k * step], wi = s->tw_im[k * step];
                double xr = re[i + k + half], xi = im[i + k + half];
                double tr = xr * wr - xi * wi, ti = xr * wi + xi * wr;
                re[i + k + half] = re[i + k] - tr;
                im[i + k + half] = im[i + k] - ti;
                re[i + k] += tr;
                im[i + k] += ti;
            }
        }
    }
}

void progress_block_features(progress_block_t *s, const double *x, const double *sent, progress_features_t *out)
{
    double re[PROGRESS_NFFT], im[PROGRESS_NFFT], band[PROGRESS_NBINS], sums[PROGRESS_NBINS];
    double power = 0.0, sent_power = 0.0;
    for (int n = 0; n < PROGRESS_BLOCK; n++) {
        power += x[n] * x[n];
        re[n] = x[n] * s->hann[n];
        im[n] = 0.0;
        if (sent)
            sent_power += sent[n] * sent[n];
    }
    for (int n = PROGRESS_BLOCK; n < PROGRESS_NFFT; n++)
        re[n] = im[n] = 0.0;
    fft256(s, re, im);
    double total = 0.0, rb = 0.0, tones = 0.0;
    int peak = 0;
    for (int k = 0; k < PROGRESS_NBINS; k++) {
        double p = re[k] * re[k] + im[k] * im[k];
        band[k] = (k >= s->band_lo && k <= s->band_hi) ? p : 0.0;
        total += band[k];
        rb += band[k] * s->ringback_mask[k];
        tones += band[k] * s->tone_mask[k];
        if (band[k] > band[peak])
            peak = k;
    }
    total += 1e-9;
    /* five-bin sums around every bin (edges clipped), then the best three that do not overlap,
       chosen among the nine best sums in descending order */
    for (int k = 0; k < PROGRESS_NBINS; k++) {
        double a = 0.0;
        for (int d = -2; d <= 2; d++)
            if (k + d >= 0 && k + d < PROGRESS_NBINS)
                a += band[k + d];
        sums[k] = a;
    }
    int top[9], ntop = 0;
    for (; ntop < 9; ntop++) {
        int best = -1;
        for (int k = 0; k < PROGRESS_NBINS; k++) {
            int taken = 0;
            for (int t = 0; t < ntop; t++)
                taken |= top[t] == k;
            if (!taken && (best < 0 || sums[k] > sums[best]))
                best = k;
        }
        top[ntop] = best;
    }
    int picked[3], npicked = 0;
    double held = 0.0;
    for (int t = 0; t < 9 && npicked < 3; t++) {
        int ok = 1;
        for (int j = 0; j < npicked; j++)
            if (top[t] - picked[j] < 5 && picked[j] - top[t] < 5)
                ok = 0;
        if (ok) {
            picked[npicked++] = top[t];
            held += sums[top[t]];
        }
    }
    double peak_hz = peak * RATE / PROGRESS_NFFT;
    if (peak > 0 && peak < PROGRESS_NBINS - 1) {
        double pa = re[peak - 1] * re[peak - 1] + im[peak - 1] * im[peak - 1];
        double pc = re[peak + 1] * re[peak + 1] + im[peak + 1] * im[peak + 1];
        double a = log(pa + 1e-12), b = log(band[peak] + 1e-12), c = log(pc + 1e-12);
        double den = a - 2.0 * b + c;
        if (den != 0.0)
            peak_hz += 0.5 * (a - c) / den * (RATE / PROGRESS_NFFT);
    }
    double norm = 0.0;
    for (int k = 0; k < PROGRESS_NBINS; k++)
        norm += band[k];                           /* sum of amp^2 = sum of band power */
    norm = sqrt(norm) + 1e-9;
    double sim = 0.0;
    for (int k = 0; k < PROGRESS_NBINS; k++) {
        double amp = sqrt(band[k]) / norm;
        sim += amp * s->prev_amp[k];
        s->prev_amp[k] = amp;
    }
    out->power = power / PROGRESS_BLOCK;
    out->sent_power = sent_power / PROGRESS_BLOCK;
    out->total = total;
    out->share = held / total;
    out->peak_hz = peak_hz;
    out->ringback = rb;
    out->tones = tones;
    out->similarity = sim;
}
