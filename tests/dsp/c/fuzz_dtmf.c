/* Fuzz driver for the DTMF receiver and generator (dsp_ext/src/dtmf.c).
 *
 * The receiver gets the harness buffer, then hostile signals of its own made
 * from `seed` (full-scale digit pairs clipped to squares, digits switching
 * every few samples, tones on the bin edges, DC at the rails), cut into
 * random chunk sizes (including 0 and 1) with event arrays that are sometimes
 * too small. It traps if the receiver breaks its contract: event count within
 * the array, only known kinds and digits, starts and ends alternating per
 * digit, event times never beyond the samples consumed, finite levels.
 * The generator gets random timings and levels (zero, negative, beyond full
 * scale) and digit strings with invalid characters.
 * No heap use.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "dtmf.h"
#include "fuzz_util.h"

#define FUZZ_LEN 8192

static const double freqs[8] = {697, 770, 852, 941, 1209, 1336, 1477, 1633};

static void hostile(int16_t *b, size_t n, uint32_t *r)
{
    const double tau = 6.283185307179586;
    int kind = (int) (next_random(r) % 5);
    int switch_every = 1 + (int) (next_random(r) % 200);
    double amp = (double) (next_random(r) % 70000);
    double lo = freqs[next_random(r) % 4], hi = freqs[4 + next_random(r) % 4];
    for (size_t i = 0; i < n; i++) {
        double t = (double) i / 8000.0;
        switch (kind) {
        case 0: /* clipped digit pair */
            b[i] = clip(2.0 * amp * (sin(tau * lo * t) + sin(tau * hi * t)));
            break;
        case 1: /* a different digit every few samples */
            if (i % (size_t) switch_every == 0) {
                lo = freqs[next_random(r) % 4];
                hi = freqs[4 + next_random(r) % 4];
            }
            b[i] = clip(amp / 3 * (sin(tau * lo * t) + sin(tau * hi * t)));
            break;
        case 2: /* tones +-4% off, on the bin edges */
            b[i] = clip(amp / 3 * (sin(tau * lo * 1.04 * t) + sin(tau * hi * 0.96 * t)));
            break;
        case 3: /* DC at a rail, flipping */
            b[i] = (i / (size_t) switch_every) % 2 ? 32767 : -32768;
            break;
        default: /* bursts of a digit with random gaps of 0..20 ms */
            b[i] = (i / (size_t) (switch_every * 8)) % 2 ? clip(amp / 3 * (sin(tau * lo * t) + sin(tau * hi * t))) : 0;
            break;
        }
    }
}

static void run_receiver(const int16_t *buf, size_t n, uint32_t *r)
{
    dtmf_rx_t rx;
    dtmf_event_t events[8];
    char open_digit = 0;
    uint64_t consumed = 0, last_time = 0;
    dtmf_rx_init(&rx, 22826.36);
    size_t i = 0;
    while (i < n) {
        size_t take = next_random(r) % 700;
        if (take > n - i)
            take = n - i;
        /* sometimes too few event slots: extra events must be dropped, not written */
        int slots = (int) (next_random(r) % 3 == 0 ? next_random(r) % 2 : 8);
        int count = dtmf_rx_process(&rx, buf + i, (int) take, events, slots);
        consumed += take;
        if (count < 0 || count > slots)
            __builtin_trap();
        for (int k = 0; k < count; k++) {
            const dtmf_event_t *e = &events[k];
            if (dtmf_digit_index(e->digit) < 0 || e->sample > consumed || !isfinite(e->level_dbm0))
                __builtin_trap();
            if (e->kind == DTMF_EV_START) {
                if (open_digit != 0 && slots == 8 && rx.events_dropped == 0)
                    __builtin_trap();       /* a start while a digit is still open */
                open_digit = e->digit;
                if (e->sample + DTMF_BLOCK < last_time)
                    __builtin_trap();
            } else if (e->kind == DTMF_EV_END) {
                if (rx.events_dropped == 0 && e->digit != open_digit)
                    __builtin_trap();
                open_digit = 0;
                last_time = e->sample;
            } else {
                __builtin_trap();
            }
        }
        i += take;
        if (take == 0 && next_random(r) % 4 == 0)
            i++;                            /* zero-length calls are allowed; move on eventually */
    }
    if (next_random(r) % 2)
        dtmf_rx_reset(&rx);
    (void) dtmf_rx_process(&rx, buf, n > 51 ? 51 : (int) n, events, 8);
}

static void run_generator(uint32_t *r)
{
    dtmf_tx_t tx;
    int16_t out[1024];
    int on_ms = (int) (next_random(r) % 300) - 50;     /* includes zero and negative */
    int off_ms = (int) (next_random(r) % 300) - 50;
    double amp_low = (double) (next_random(r) % 80000) - 10000.0;
    double amp_high = (double) (next_random(r) % 80000) - 10000.0;
    dtmf_tx_init(&tx, on_ms, off_ms, amp_low, amp_high);
    char digits[300];
    static const char alphabet[] = "0123456789*#ABCDabcdxyz -\t\x7f";
    int len = (int) (next_random(r) % sizeof(digits));
    for (int k = 0; k < len; k++)
        digits[k] = alphabet[next_random(r) % (sizeof(alphabet) - 1)];
    int took = dtmf_tx_queue(&tx, digits, len);
    if (took > len || (took < 0 && -1 - took >= len))
        __builtin_trap();
    for (int rounds = 0; rounds < 40; rounds++) {
        int n = (int) (next_random(r) % 1025);
        dtmf_tx_generate(&tx, out, n);
        if (!dtmf_tx_busy(&tx))
            break;
    }
    /* fill the queue to the brim, then keep adding */
    for (int k = 0; k < 4; k++)
        (void) dtmf_tx_queue(&tx, "0123456789*#ABCD0123456789*#ABCD0123456789*#ABCD", 48);
    if (tx.count > DTMF_TX_QUEUE)
        __builtin_trap();
    dtmf_tx_generate(&tx, out, 1024);
}

void fuzz_dtmf(const int16_t *buf, size_t n, uint32_t seed)
{
    static int16_t own[FUZZ_LEN];
    uint32_t r = seed * 2654435761u + 1u;
    run_receiver(buf, n, &r);
    size_t m = 1 + next_random(&r) % FUZZ_LEN;
    hostile(own, m, &r);
    run_receiver(own, m, &r);
    run_generator(&r);
    static int said;
    if (!said) {
        said = 1;
        printf("fuzz_dtmf: filter copy %s\n", dtmf_simd_variant()); /* which SIMD copy ran */
    }
}
