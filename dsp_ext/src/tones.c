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

int tone_judge_init(tone_judge_t *j, const double *freqs, int nfreq, int block, double rate,
                    double floor, double ref, double purity)
{
    float f32[TONE_MAX_FREQS];
    memset(j, 0, sizeof(*j));
    if (nfreq < 1 || nfreq > TONE_MAX_FREQS || rate <= 0.0)
        return -1;
    for (int k = 0; k < nfreq; k++)
        f32[k] = (float) freqs[k];
    if (tone_rx_init(&j->rx, f32, nfreq, block) != 0)
        return -1;
    for (int k = 0; k < nfreq; k++)
        j->advance[k] = 2.0 * M_PI * (double) freqs[k] * (double) block / rate;
    j->floor = floor;
    j->ref = ref;
    j->purity = purity;
    j->rate = rate;
    return 0;
}

int tone_judge_add_sig(tone_judge_t *j, int n, const int *idx, const double *tol, int modulated)
{
    if (j->nsig >= TONE_MAX_SIGS || n < 1 || n > 3 || (modulated && n != 3))
        return -1;
    tone_sig_t *g = &j->sig[j->nsig];
    for (int c = 0; c < n; c++) {
        if (idx[c] < 0 || idx[c] >= j->rx.nfreq)
            return -1;
        g->idx[c] = idx[c];
        g->tol[c] = tol[modulated ? 0 : c];
    }
    g->n = n;
    g->modulated = modulated;
    return j->nsig++;
}

/* numpy's floating remainder (the result takes the divisor's sign) */
static double remainder_floor(double a, double b)
{
    double m = fmod(a, b);
    if (m != 0.0) {
        if ((b < 0) != (m < 0))
            m += b;
    } else {
        m = copysign(0.0, b);
    }
    return m;
}

/* Power of a block-sample DFT bin for a tone `df` Hz off its centre, relative to on-centre. */
static double rolloff(double df, int block, double rate)
{
    double x = M_PI * df / rate;
    double r = fabs(x) < 1e-9 ? 1.0 : sin(block * x) / (block * sin(x));
    r = r * r;
    return r > 0.05 ? r : 0.05;
}

static void judge_block(tone_judge_t *j, const float *o, uint8_t *on, double *level)
{
    const int nf = j->rx.nfreq;
    const double two_pi = 2.0 * M_PI;
    double power[TONE_MAX_FREQS], offset[TONE_MAX_FREQS];
    uint8_t known[TONE_MAX_FREQS];
    for (int k = 0; k < nf; k++) {
        double re = (double) o[2 * k], im = (double) o[2 * k + 1];
        double pre = j->prev_re[k], pim = j->prev_im[k];
        double mag = hypot(re, im), prev_mag = hypot(pre, pim);     /* as numpy's abs(z) ** 2 */
        power[k] = mag * mag;
        known[k] = power[k] >= j->floor && prev_mag * prev_mag >= j->floor;
        /* the angle of X conj(prev), less the nominal advance, wrapped to (-pi, pi] */
        double cre = re * pre - im * (-pim);
        double cim = re * (-pim) + im * pre;
        double turn = atan2(cim, cre) - j->advance[k];
        offset[k] = (remainder_floor(turn + M_PI, two_pi) - M_PI) * (j->rate / (two_pi * j->rx.block));
        j->prev_re[k] = re;
        j->prev_im[k] = im;
    }
    double total = (double) o[2 * nf];
    for (int s = 0; s < j->nsig; s++) {
        const tone_sig_t *g = &j->sig[s];
        double p[3], pmax = 0.0;
        int ok;
        if (g->modulated) {
            int mid = g->idx[1];
            int bad = known[mid] && fabs(offset[mid]) > g->tol[0];
            double r = known[mid] ? rolloff(offset[mid], j->rx.block, j->rate) : 1.0;
            for (int c = 0; c < 3; c++)
                p[c] = power[g->idx[c]] / r;
            double side_max = p[0] > p[2] ? p[0] : p[2];
            double side_min = p[0] < p[2] ? p[0] : p[2];
            double share = p[1] + 2 * side_min;
            ok = !bad && p[1] >= j->floor && p[1] >= 0.5 * side_max && share >= j->purity * total;
            pmax = p[1] > side_max ? p[1] : side_max;
        } else {
            int bad = 0, strong = 1;
            double sum = 0.0;
            for (int c = 0; c < g->n; c++) {
                int k = g->idx[c];
                if (known[k] && fabs(offset[k]) > g->tol[c])
                    bad = 1;
                p[c] = power[k] / (known[k] ? rolloff(offset[k], j->rx.block, j->rate) : 1.0);
                if (c == 0 || p[c] > pmax)
                    pmax = p[c];
            }
            for (int c = 0; c < g->n; c++) {
                if (p[c] < j->floor || p[c] < pmax / 16)
                    strong = 0;
                sum += p[c];
            }
            ok = !bad && strong && sum >= j->purity * total;
        }
        on[s] = (uint8_t) (ok ? 1 : 0);
        level[s] = 10.0 * log10((pmax > 1e-12 ? pmax : 1e-12) / j->ref);
    }
}

int tone_judge_process(tone_judge_t *j, const int16_t *in, int n, uint8_t *on, double *level,
                       int max_blocks)
{
    int blocks = 0;
    int i = 0;
    uint8_t spare_on[TONE_MAX_SIGS];
    double spare_level[TONE_MAX_SIGS];
    while (i < n) {
        /* one block at a time through the analyser: its output, then the judge */
        int take = j->rx.block - j->rx.fill;
        if (take > n - i)
            take = n - i;
        int got = tone_rx_process(&j->rx, in + i, take, j->block_out, 1);
        i += take;
        if (got != 1)
            continue;
        if (blocks < max_blocks) {
            judge_block(j, j->block_out, on + (size_t) blocks * (size_t) j->nsig,
                        level + (size_t) blocks * (size_t) j->nsig);
            blocks++;
        } else {
            judge_block(j, j->block_out, spare_on, spare_level);    /* keeps the phase reference */
        }
    }
    return blocks;
}
