/* Block Goertzel analyser for call-progress tones (see tones.h). */
#include "tones.h"

#include <math.h>
#include <string.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

int tone_rx_init(tone_rx_t *s, const float *freqs, int nfreq, int block)
{
    memset(s, 0, sizeof(*s));
    if (nfreq < 1 || nfreq > TONE_MAX_FREQS || block < 16)
        return -1;
    s->nfreq = nfreq;
    s->block = block;
    for (int k = 0; k < nfreq; k++) {
        double w = 2.0 * M_PI * freqs[k] / 8000.0;
        s->coef[k] = (float) (2.0 * cos(w));
        s->cosw[k] = (float) cos(w);
        s->sinw[k] = (float) sin(w);
    }
    /* a sine of peak A gives |X| = A N / 2, so (|X| sqrt(2) / N)^2 = A^2 / 2 */
    s->scale = (float) (sqrt(2.0) / block);
    return 0;
}

void tone_rx_reset(tone_rx_t *s)
{
    memset(s->s1, 0, sizeof(s->s1));
    memset(s->s2, 0, sizeof(s->s2));
    s->energy = 0.0f;
    s->fill = 0;
}

int tone_rx_process(tone_rx_t *s, const int16_t *in, int n, float *out, int max_blocks)
{
    int blocks = 0;
    int i = 0;
    const int nf = s->nfreq;
    while (i < n && s->nfreq > 0) {
        int take = s->block - s->fill;
        if (take > n - i)
            take = n - i;
        float s1[TONE_MAX_FREQS], s2[TONE_MAX_FREQS];
        memcpy(s1, s->s1, sizeof(s1));
        memcpy(s2, s->s2, sizeof(s2));
        float energy = s->energy;
        for (int j = 0; j < take; j++) {
            float x = (float) in[i + j];
            energy += x * x;
            for (int k = 0; k < TONE_MAX_FREQS; k++) {
                float s0 = x + s->coef[k] * s1[k] - s2[k];
                s2[k] = s1[k];
                s1[k] = s0;
            }
        }
        i += take;
        s->fill += take;
        if (s->fill < s->block) {
            memcpy(s->s1, s1, sizeof(s1));
            memcpy(s->s2, s2, sizeof(s2));
            s->energy = energy;
            break;
        }
        if (blocks < max_blocks) {
            float *o = out + (size_t) blocks * (size_t) (2 * nf + 1);
            for (int k = 0; k < nf; k++) {
                /* X e^{j w (N-1)} = s1 - e^{-j w} s2 */
                o[2 * k] = (s1[k] - s->cosw[k] * s2[k]) * s->scale;
                o[2 * k + 1] = s->sinw[k] * s2[k] * s->scale;
            }
            o[2 * nf] = energy / (float) s->block;
            blocks++;
        }
        tone_rx_reset(s);
    }
    return blocks;
}
