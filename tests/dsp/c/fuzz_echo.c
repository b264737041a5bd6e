/* Fuzz driver for the echo canceller (dsp_ext/src/echo.c), run by the
 * sanitizer harness (tests/dsp/test_sanitizers.py) under ASan/UBSan.
 *
 * From `seed` it picks a tail length (any of 8..1024 taps), the NLP/CNG/HPF
 * flags and how the input is cut into calls (1..400 samples, with empty calls);
 * far and near are the buffer read forwards and backwards, or the same samples
 * (a line whose echo equals what we sent: worst case for the adaptation), or
 * far silent. Along the way it resets, flips flags, and checks the contract:
 * init rejects bad tails, the weights and stats stay finite, a reset forgets
 * everything. A broken contract traps. The state is on the stack (about 20 kB).
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "echo.h"
#include "echo_taps.h"
#include "fuzz_util.h"

static void check_state(const echo_t *s)
{
    for (int i = 0; i < s->taps; i++)
        if (!isfinite(s->w_fg[i]) || !isfinite(s->w_bg[i]) || !isfinite(s->gain[i / (ECHO_MAX_TAPS / ECHO_REGIONS)]))
            __builtin_trap();
    echo_stats_t st;
    echo_get_stats(s, &st);
    if (!isfinite(st.erle_db) || !isfinite(st.noise_dbm0))
        __builtin_trap();
    if ((st.converged | st.double_talk | st.disabled | st.nlp_active) & ~1)
        __builtin_trap();
}

void fuzz_echo(const int16_t *buf, size_t n, uint32_t seed);

void fuzz_echo(const int16_t *buf, size_t n, uint32_t seed)
{
    uint32_t rng = seed * 2654435761u + 1u;
    echo_t s;

    if (echo_init(&s, 0, 0) != -1 || echo_init(&s, 7, 0) != -1 || echo_init(&s, ECHO_MAX_TAPS + 1, 0) != -1
        || echo_init(&s, -5, 0) != -1)
        __builtin_trap();

    int taps = 8 + (int)(next_random(&rng) % (ECHO_MAX_TAPS - 7));
    int flags = (int)(next_random(&rng) & (ECHO_NLP | ECHO_CNG | ECHO_HPF));
    if (echo_init(&s, taps, flags) != 0)
        __builtin_trap();

    int16_t far[400], near[400], out[400];
    int mode = (int)(next_random(&rng) % 4);
    size_t k = 0;
    while (k < n) {
        size_t m = 1 + next_random(&rng) % 400;
        if (next_random(&rng) % 16 == 0)
            m = 0;
        if (m > n - k)
            m = n - k;
        for (size_t i = 0; i < m; i++) {
            int16_t fwd = buf[k + i], bwd = buf[n - 1 - (k + i)];
            switch (mode) {
            case 0: far[i] = fwd; near[i] = bwd; break;
            case 1: far[i] = fwd; near[i] = fwd; break;
            case 2: far[i] = 0; near[i] = fwd; break;
            default: far[i] = bwd; near[i] = (int16_t)(fwd / 2 + bwd / 2); break;
            }
        }
        echo_process(&s, far, near, out, m);
        k += m;
        uint32_t r = next_random(&rng) % 64;
        if (r == 0) {
            echo_reset(&s);
            if (s.converged || s.disabled || s.w_fg[0] != 0.0f || s.w_bg[taps - 1] != 0.0f)
                __builtin_trap();
        } else if (r == 1) {
            flags ^= ECHO_NLP;
            echo_set_flags(&s, flags);
        } else if (r == 2 || r == 3) {
            echo_hold_adaptation(&s, r == 2);
        }
    }
    check_state(&s);
    static int said;
    if (!said) {
        said = 1;
        printf("fuzz_echo: tap pass %s\n", echo_simd_variant()); /* which SIMD copy ran */
    }
}
