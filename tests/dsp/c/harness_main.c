/* Sanitizer harness main: feeds every fuzz_<name>() (tests/dsp/c/fuzz_*.c)
 * the same deterministic series of hostile buffers. The list of fuzzers comes
 * from harness_fuzzers.h, which tests/dsp/test_sanitizers.py generates from the
 * file names (an X-macro: HARNESS_FUZZERS expands X(name) for each).
 *
 *   harness CASES [NAME]   run CASES buffers through every fuzzer (or only NAME)
 *   harness 0 smoke        the non-fuzz API smoke in harness_smoke.c
 *
 * Buffers: silence, full-scale noise, rail-to-rail squares, clipped sines at
 * random frequencies, 2100 Hz with phase reversals, DTMF pairs, FSK-like
 * alternation, random walks, sparse impulses; lengths from 0 to 16000.
 * Built with -fsanitize=address,undefined -fno-sanitize-recover=all, so any
 * report ends the process with a non-zero status.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness_fuzzers.h"

typedef void (*fuzz_fn)(const int16_t *buf, size_t n, uint32_t seed);

#define X(name) void fuzz_##name(const int16_t *buf, size_t n, uint32_t seed);
HARNESS_FUZZERS
#undef X

void harness_smoke(void);

static const struct {
    const char *name;
    fuzz_fn fn;
} fuzzers[] = {
#define X(name) {#name, fuzz_##name},
    HARNESS_FUZZERS
#undef X
};

#define MAX_LEN 16000
static const size_t lengths[] = {0, 1, 2, 79, 80, 81, 160, 1023, 4000, 8000, MAX_LEN};

static uint32_t rnd(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *s = x;
    return x;
}

static int16_t sat(double v)
{
    return v > 32767.0 ? 32767 : v < -32768.0 ? -32768 : (int16_t)v;
}

static void make_buffer(int16_t *b, size_t n, uint32_t seed)
{
    uint32_t r = seed * 747796405u + 2891336453u;
    const double tau = 6.283185307179586;
    double f1 = 100.0 + rnd(&r) % 3800, f2 = 100.0 + rnd(&r) % 3800;
    double amp = (double)(rnd(&r) % 60000);
    switch (seed % 10) {
    case 0: memset(b, 0, n * sizeof(*b)); break;
    case 1: for (size_t i = 0; i < n; i++) b[i] = (int16_t)rnd(&r); break;
    case 2: for (size_t i = 0; i < n; i++) b[i] = (i / (1 + seed % 7)) % 2 ? 32767 : -32768; break;
    case 3: for (size_t i = 0; i < n; i++) b[i] = sat(amp * sin(tau * f1 * (double)i / 8000.0)); break;
    case 4:
        for (size_t i = 0; i < n; i++)
            b[i] = sat(amp / 4 * sin(tau * 2100.0 * (double)i / 8000.0 + ((i / 3600) % 2 ? 3.14159 : 0.0)));
        break;
    case 5:
        for (size_t i = 0; i < n; i++)
            b[i] = sat(amp / 4 * (sin(tau * 770.0 * (double)i / 8000.0) + sin(tau * 1336.0 * (double)i / 8000.0)));
        break;
    case 6:
        for (size_t i = 0; i < n; i++)
            b[i] = sat(amp / 2 * sin(tau * ((i / 7) % 2 ? 1200.0 : 2200.0) * (double)i / 8000.0));
        break;
    case 7: {
        double v = 0;
        for (size_t i = 0; i < n; i++) {
            v += (double)((int32_t)(rnd(&r) % 2001) - 1000);
            b[i] = sat(v);
        }
        break;
    }
    case 8:
        for (size_t i = 0; i < n; i++)
            b[i] = rnd(&r) % 97 == 0 ? (int16_t)rnd(&r) : 0;
        break;
    default:
        for (size_t i = 0; i < n; i++)
            b[i] = sat(amp * sin(tau * f1 * (double)i / 8000.0) + amp * sin(tau * f2 * (double)i / 8000.0)
                       + (double)((int16_t)rnd(&r)) / 8);
        break;
    }
}

int main(int argc, char **argv)
{
    int cases = argc > 1 ? atoi(argv[1]) : 100;
    const char *only = argc > 2 ? argv[2] : NULL;
    if (only && strcmp(only, "smoke") == 0) {
        harness_smoke();
        printf("harness: smoke passed\n");
        return 0;
    }
    for (int c = 0; c < cases; c++) {
        uint32_t seed = (uint32_t)c;
        size_t n = lengths[(size_t)c % (sizeof(lengths) / sizeof(lengths[0]))];
        /* exactly n samples, so that reading buf[n] is a heap overflow ASan sees */
        int16_t *buf = malloc(n * sizeof(*buf) + (n == 0));
        if (!buf)
            return 2;
        make_buffer(buf, n, seed);
        for (size_t f = 0; f < sizeof(fuzzers) / sizeof(fuzzers[0]); f++)
            if (!only || strcmp(only, fuzzers[f].name) == 0)
                fuzzers[f].fn(buf, n, seed);
        free(buf);
    }
    printf("harness: %d cases through %zu fuzzers\n", cases, sizeof(fuzzers) / sizeof(fuzzers[0]));
    return 0;
}
