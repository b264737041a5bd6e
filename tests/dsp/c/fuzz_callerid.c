/* Fuzz driver for the caller-ID FSK demodulator, modulator and CAS detector
 * (dsp_ext/src/fsk.c). The sanitizer harness compiles it with ASan/UBSan
 * against every C file in dsp_ext/src and calls fuzz_callerid() with arbitrary
 * input; this file adds its own hostile signals derived from `seed`:
 * random noise, hard-clipped square waves, DC at the rails, full-scale
 * alternation at Nyquist, and a valid channel seizure + mark run + message
 * start followed by garbage. It checks the receiver's contract (never more
 * events than slots, only known event types) and traps if it is broken.
 * No heap use: every buffer is on the stack.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fsk.h"
#include "fuzz_util.h"

#define FUZZ_BLOCK 4096

static void check_events(const uint32_t *events, int count, int max_events)
{
    if (count < 0 || count > max_events)
        __builtin_trap();
    for (int i = 0; i < count; i++) {
        uint32_t type = events[i] >> 16;
        uint32_t payload = events[i] & 0xFFFFu;
        if (type < FSK_EV_BYTE || type > FSK_EV_CARRIER_DOWN)
            __builtin_trap();
        if ((type == FSK_EV_BYTE || type == FSK_EV_FRAMING_ERROR) && payload > 0xFF)
            __builtin_trap();
    }
}

/* Feed `x` to the receiver in chunks of random size, with a random (often
 * too small) number of event slots. */
static void feed(fsk_rx_t *rx, const int16_t *x, size_t n, uint32_t *rnd)
{
    uint32_t events[64];
    size_t pos = 0;
    while (pos < n) {
        size_t chunk = 1 + next_random(rnd) % 700;
        if (chunk > n - pos)
            chunk = n - pos;
        int slots = (int) (next_random(rnd) % 65);
        int got = fsk_rx_process(rx, x + pos, (int) chunk, events, slots);
        check_events(events, got, slots);
        pos += chunk;
    }
}

static void feed_all(fsk_rx_t *rx, cas_rx_t *cas, int count, const int16_t *x, size_t n, uint32_t *rnd)
{
    for (int i = 0; i < count; i++)
        feed(&rx[i], x, n, rnd);
    int hit = cas_rx_process(cas, x, (int) n);
    if (hit != 0 && hit != 1)
        __builtin_trap();
}

/* A valid seizure, mark run and message header, then random bits. */
static size_t adversarial(int16_t *out, size_t cap, double mark, double space, uint32_t *rnd)
{
    uint8_t bits[700];
    size_t nb = 0;
    for (int i = 0; i < 300; i++)
        bits[nb++] = (uint8_t) (i & 1);
    for (int i = 0; i < 180; i++)
        bits[nb++] = 1;
    const uint8_t header[2] = {0x80, 0xFF}; /* MDMF claiming 255 bytes */
    for (int b = 0; b < 2; b++) {
        bits[nb++] = 0;
        for (int k = 0; k < 8; k++)
            bits[nb++] = (uint8_t) ((header[b] >> k) & 1);
        bits[nb++] = 1;
    }
    while (nb < sizeof(bits))
        bits[nb++] = (uint8_t) (next_random(rnd) & 1);
    fsk_tx_t tx;
    fsk_tx_init(&tx, mark, space, 1200.0, 1000.0 + next_random(rnd) % 31000);
    int n = fsk_tx_bits(&tx, bits, (int) nb, out, (int) cap);
    if (n < 0 || (size_t) n > cap)
        __builtin_trap();
    /* then raw garbage samples in whatever room is left */
    for (size_t i = (size_t) n; i < cap; i++)
        out[i] = (int16_t) (next_random(rnd) & 0xFFFF);
    return cap;
}

void fuzz_callerid(const int16_t *buf, size_t n, uint32_t seed)
{
    uint32_t rnd = seed ? seed : 0x9E3779B9u;
    fsk_rx_t rx[3];
    cas_rx_t cas;
    int16_t x[FUZZ_BLOCK];

    if (fsk_rx_init(&rx[0], 1200.0, 2200.0, 1200.0, -48.0) != 0
        || fsk_rx_init(&rx[1], 1300.0, 2100.0, 1200.0, -48.0) != 0
        || fsk_rx_init(&rx[2], 1250.0, 2150.0, 1200.0, -60.0) != 0)
        __builtin_trap();
    cas_rx_init(&cas, -40.0);

    /* bad parameters are refused, and a refused state processes nothing */
    fsk_rx_t bad;
    if (fsk_rx_init(&bad, 1200.0, 1210.0, 1200.0, -48.0) == 0 || fsk_rx_init(&bad, 0.0, 2200.0, 0.0, -48.0) == 0)
        __builtin_trap();
    uint32_t ev[4];
    if (fsk_rx_process(&bad, buf, (int) (n > 100 ? 100 : n), ev, 4) != 0)
        __builtin_trap();
    if (fsk_rx_process(&rx[0], NULL, 10, ev, 4) != 0 || fsk_rx_process(&rx[0], buf, 0, ev, 4) != 0)
        __builtin_trap();

    /* the caller's input as given */
    if (buf != NULL && n > 0)
        feed_all(rx, &cas, 3, buf, n, &rnd);

    /* random full-scale noise */
    for (size_t i = 0; i < FUZZ_BLOCK; i++)
        x[i] = (int16_t) (next_random(&rnd) & 0xFFFF);
    feed_all(rx, &cas, 3, x, FUZZ_BLOCK, &rnd);

    /* hard-clipped square waves at random periods: clipped FSK-like input */
    for (size_t i = 0; i < FUZZ_BLOCK;) {
        size_t run = 1 + next_random(&rnd) % 9;
        int16_t v = (next_random(&rnd) & 1) ? 32767 : -32768;
        for (size_t k = 0; k < run && i < FUZZ_BLOCK; k++)
            x[i++] = v;
    }
    feed_all(rx, &cas, 3, x, FUZZ_BLOCK, &rnd);

    /* DC at each rail, then full-scale alternation (Nyquist) */
    for (size_t i = 0; i < FUZZ_BLOCK; i++)
        x[i] = 32767;
    feed_all(rx, &cas, 3, x, FUZZ_BLOCK, &rnd);
    for (size_t i = 0; i < FUZZ_BLOCK; i++)
        x[i] = -32768;
    feed_all(rx, &cas, 3, x, FUZZ_BLOCK, &rnd);
    for (size_t i = 0; i < FUZZ_BLOCK; i++)
        x[i] = (i & 1) ? 32767 : -32768;
    feed_all(rx, &cas, 3, x, FUZZ_BLOCK, &rnd);

    /* valid preamble then garbage, for each standard */
    adversarial(x, FUZZ_BLOCK, 1200.0, 2200.0, &rnd);
    feed_all(rx, &cas, 3, x, FUZZ_BLOCK, &rnd);
    adversarial(x, FUZZ_BLOCK, 1300.0, 2100.0, &rnd);
    feed_all(rx, &cas, 3, x, FUZZ_BLOCK, &rnd);

    /* the modulator with random (including silly) parameters and short outputs */
    uint8_t bits[256];
    for (size_t i = 0; i < sizeof(bits); i++)
        bits[i] = (uint8_t) (next_random(&rnd) & 1);
    fsk_tx_t tx;
    double mark = (double) (next_random(&rnd) % 5000), space = (double) (next_random(&rnd) % 5000);
    double baud = (double) (next_random(&rnd) % 20000) / 3.0;
    fsk_tx_init(&tx, mark, space, baud, (double) (next_random(&rnd) % 70000) - 1000.0);
    int cap = (int) (next_random(&rnd) % FUZZ_BLOCK);
    int made = fsk_tx_bits(&tx, bits, (int) sizeof(bits), x, cap);
    if (made < 0 || made > cap)
        __builtin_trap();
    feed_all(rx, &cas, 3, x, (size_t) made, &rnd);

    for (int i = 0; i < 3; i++)
        fsk_rx_reset(&rx[i]);
    feed_all(rx, &cas, 3, x, (size_t) made, &rnd);
}
