/* Fuzz driver for the call-progress tone analyser (tones.c), the fax-tone
 * detector (faxtone.c) and G.711 (g711.c).
 *
 * Tone analyser: random frequency sets (including out-of-range counts, which
 * init must refuse, and frequencies at 0 Hz and Nyquist), random block sizes,
 * random chunking, output arrays sized exactly as the header says. Fax-tone
 * detector: the harness buffer and hostile 1100/2100 Hz signals of its own
 * (reversals every few samples, frequency sweeps through the tolerance edges)
 * in random chunks; the state must only ever hold known bits. G.711: every
 * input must survive encode -> decode -> encode unchanged (codes are a
 * fixed point), for both laws.
 * No heap use.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "faxtone.h"
#include "g711.h"
#include "tones.h"
#include "fuzz_util.h"

#define FUZZ_LEN 8192

static void run_tone_rx(const int16_t *buf, size_t n, uint32_t *r)
{
    tone_rx_t s;
    float freqs[TONE_MAX_FREQS + 2];
    int nfreq = (int) (next_random(r) % (TONE_MAX_FREQS + 3)) - 1;     /* -1 .. MAX+1 */
    for (int k = 0; k < TONE_MAX_FREQS + 2; k++)
        freqs[k] = (float) (next_random(r) % 4001);                    /* 0 .. 4000 Hz */
    int block = (int) (next_random(r) % 600);
    int ok = tone_rx_init(&s, freqs, nfreq, block);
    if ((ok == 0) != (nfreq >= 1 && nfreq <= TONE_MAX_FREQS && block >= 16))
        __builtin_trap();
    if (ok != 0)
        return;
    static float out[(FUZZ_LEN / 16 + 1) * (2 * TONE_MAX_FREQS + 1) + 1];
    size_t i = 0;
    while (i < n) {
        size_t take = next_random(r) % 3000;
        if (take > n - i)
            take = n - i;
        int max_blocks = (int) take / block + 1;
        size_t row = (size_t) (2 * nfreq + 1);
        out[(size_t) max_blocks * row] = 12345.0f;    /* guard just past the end */
        int got = tone_rx_process(&s, buf + i, (int) take, out, max_blocks);
        if (got < 0 || got > max_blocks || out[(size_t) max_blocks * row] != 12345.0f)
            __builtin_trap();
        for (size_t k = 0; k < (size_t) got * row; k++)
            if (!isfinite(out[k]) || ((k + 1) % row == 0 && !(out[k] >= 0.0f)))
                __builtin_trap();
        i += take ? take : 1;
    }
}

static void run_tone_judge(const int16_t *buf, size_t n, uint32_t *r)
{
    /* the busy detector's judge: random frequencies and signatures (some refused), random
     * chunking with the outputs sized as the header says; every level finite, every "on" 0/1 */
    tone_judge_t j;
    double freqs[TONE_MAX_FREQS];
    int nfreq = 1 + (int) (next_random(r) % TONE_MAX_FREQS);
    for (int k = 0; k < nfreq; k++)
        freqs[k] = (double) (next_random(r) % 4001);
    if (tone_judge_init(&j, freqs, nfreq, 200, 8000.0, 0.25, 1.0e6, 0.75) != 0)
        __builtin_trap();
    int want = 1 + (int) (next_random(r) % (TONE_MAX_SIGS + 2));
    for (int s = 0; s < want; s++) {
        int modulated = (int) (next_random(r) % 3 == 0);
        int m = 1 + (int) (next_random(r) % 3);
        int idx[3];
        double tol[3] = {6.0, 10.0, 12.0};
        for (int c = 0; c < 3; c++)
            idx[c] = (int) (next_random(r) % (unsigned) (nfreq + 1));      /* sometimes out of range */
        int fits = j.nsig < TONE_MAX_SIGS && !(modulated && m != 3);
        int got = tone_judge_add_sig(&j, m, idx, tol, modulated);
        for (int c = 0; c < m; c++)
            fits = fits && idx[c] < nfreq;
        if ((got >= 0) != fits)
            __builtin_trap();
    }
    static uint8_t on[(FUZZ_LEN / 200 + 2) * TONE_MAX_SIGS + 1];
    static double level[(FUZZ_LEN / 200 + 2) * TONE_MAX_SIGS];
    size_t i = 0;
    while (i < n) {
        size_t take = next_random(r) % 3000;
        if (take > n - i)
            take = n - i;
        int max_blocks = (int) take / 200 + 1;
        on[(size_t) max_blocks * (size_t) j.nsig] = 77;     /* guard just past the end */
        int got = tone_judge_process(&j, buf + i, (int) take, on, level, max_blocks);
        if (got < 0 || got > max_blocks || on[(size_t) max_blocks * (size_t) j.nsig] != 77)
            __builtin_trap();
        for (size_t k = 0; k < (size_t) got * (size_t) j.nsig; k++)
            if (on[k] > 1 || !isfinite(level[k]))
                __builtin_trap();
        i += take ? take : 1;
    }
}

static void hostile_fax(int16_t *b, size_t n, uint32_t *r)
{
    const double tau = 6.283185307179586;
    double f = next_random(r) % 2 ? 1100.0 : 2100.0;
    double sweep = ((double) (next_random(r) % 200) - 100.0) / 8000.0;   /* Hz per sample */
    int flip = 1 + (int) (next_random(r) % 400);
    double amp = (double) (next_random(r) % 70000);
    double phase = 0.0;
    for (size_t i = 0; i < n; i++) {
        phase += tau * (f + sweep * (double) i) / 8000.0;
        b[i] = clip(amp * sin(phase + ((i / (size_t) flip) % 2 ? 3.14159265 : 0.0)));
    }
}

static void run_faxtone(const int16_t *buf, size_t n, uint32_t *r)
{
    faxtone_rx_t s;
    faxtone_rx_init(&s, 22826.36);
    size_t i = 0;
    while (i < n) {
        size_t take = next_random(r) % 900;
        if (take > n - i)
            take = n - i;
        int state = faxtone_rx_process(&s, buf + i, (int) take);
        if (state & ~(FAXTONE_CNG | FAXTONE_ANS | FAXTONE_REVERSALS | FAXTONE_AM))
            __builtin_trap();
        if ((state & (FAXTONE_REVERSALS | FAXTONE_AM)) && !(state & FAXTONE_ANS))
            __builtin_trap();
        if (!isfinite(faxtone_rx_ans_freq(&s)))
            __builtin_trap();
        i += take ? take : 1;
    }
    faxtone_rx_reset(&s);
}

static void run_g711(const int16_t *buf, size_t n)
{
    static uint8_t codes[FUZZ_LEN], again[FUZZ_LEN];
    static int16_t lin[FUZZ_LEN];
    if (n > FUZZ_LEN)
        n = FUZZ_LEN;
    g711_ulaw_encode(buf, codes, n);
    g711_ulaw_decode(codes, lin, n);
    g711_ulaw_encode(lin, again, n);
    for (size_t i = 0; i < n; i++)
        if (again[i] != codes[i] && !(codes[i] == 0x7F && again[i] == 0xFF))   /* mu-law's two zeros */
            __builtin_trap();
    g711_alaw_encode(buf, codes, n);
    g711_alaw_decode(codes, lin, n);
    g711_alaw_encode(lin, again, n);
    if (memcmp(codes, again, n) != 0)
        __builtin_trap();
}

void fuzz_tones(const int16_t *buf, size_t n, uint32_t seed)
{
    static int16_t own[FUZZ_LEN];
    uint32_t r = seed * 2246822519u + 7u;
    run_tone_rx(buf, n, &r);
    run_tone_judge(buf, n, &r);
    run_faxtone(buf, n, &r);
    run_g711(buf, n);
    size_t m = 1 + next_random(&r) % FUZZ_LEN;
    hostile_fax(own, m, &r);
    run_faxtone(own, m, &r);
    run_tone_rx(own, m, &r);
    run_tone_judge(own, m, &r);
}
