/* What the fuzzers share: their deterministic random series and the int16 clip. */
#ifndef FUZZ_UTIL_H
#define FUZZ_UTIL_H

#include <stdint.h>

/* xorshift32; a zero state (seed 0) would stay zero, so it yields a fixed odd value then */
static inline uint32_t next_random(uint32_t *state)
{
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *state = x;
    return x ? x : 0x9E3779B9u;
}

static inline int16_t clip(double v)
{
    return v > 32767.0 ? 32767 : v < -32768.0 ? -32768 : (int16_t) v;
}

#endif
