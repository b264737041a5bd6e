/* Fuzz driver for the DTMF receiver with its echo guard (dsp_ext/src/dtmf_receiver.c).
 *
 * - dtmf_guard_take on hand-made hostile events: unknown kinds and digits, samples at 0 and
 *   near 2^64, starts without ends, `now` going backwards, output arrays too small;
 * - dtmf_receiver_process on the harness buffer and on digit-like signals of its own, with and
 *   without what we "sent" (the same buffer attenuated and delayed, so the guard fires), in
 *   random chunk sizes with too few report slots;
 * - dtmf_receiver_rows over up to 8 ports of packed frames of random length (one or more
 *   408-sample pieces), ports in any order, out of range or without a receiver, sent ports in
 *   and out of order, every kinds mask.
 * - dtmf_receiver_rows against one dtmf_receiver_process per port (ports joining and leaving,
 *   in any order, with and without what we sent, frames short enough for the lane passes and
 *   longer than a piece; a quarter of the ticks one port alone, the rows call's one-port path,
 *   between ticks in lanes): the same reports and, bit for bit, the same detector state after
 *   every tick, in the filter copy this run uses (LINEBOX_DTMF_SIMD).
 * Output arrays end where their size says (they sit at the end of a static array), so a write
 * past max_out is an overflow the sanitizer sees. It traps if a contract is broken: counts
 * within the array, errors exactly for bad input, reports only of the asked kinds, of known
 * digits, for the frame's port, never beyond the samples that port received, finite levels.
 * No heap use.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "dtmf_receiver.h"
#include "fuzz_util.h"

#define PORTS 8
#define MAX_N 900
#define OUT_CAP 96

/* digit bursts with random gaps, sometimes the same key twice in a row */
static void digits_signal(int16_t *b, size_t n, uint32_t *r)
{
    static const double lo[4] = {697, 770, 852, 941}, hi[4] = {1209, 1336, 1477, 1633};
    const double tau = 6.283185307179586;
    double amp = 500.0 + (double) (next_random(r) % 12000);
    int row = (int) (next_random(r) % 4), col = (int) (next_random(r) % 4);
    size_t on = 200 + next_random(r) % 1200, off = next_random(r) % 900;
    for (size_t i = 0; i < n; i++) {
        size_t at = i % (on + off + 1);
        if (at == 0 && next_random(r) % 3 == 0) {
            row = (int) (next_random(r) % 4);
            col = (int) (next_random(r) % 4);
        }
        double t = (double) i / 8000.0;
        b[i] = at < on ? clip(amp * (sin(tau * lo[row] * t) + sin(tau * hi[col] * t))) : 0;
    }
}

static void check_event(const dtmf_event_t *e, uint64_t consumed)
{
    if (dtmf_digit_index(e->digit) < 0 || e->sample > consumed || !isfinite(e->level_dbm0)
        || (e->kind != DTMF_EV_START && e->kind != DTMF_EV_END))
        __builtin_trap();
}

static void run_guard(uint32_t *r)
{
    static const char alphabet[] = "0123456789*#ABCDx\0 ";
    static dtmf_event_t in[2][12], out_store[OUT_CAP];
    dtmf_guard_t g;
    dtmf_guard_reset(&g);
    uint64_t now = 0;
    for (int round = 0; round < 30; round++) {
        int counts[2];
        for (int w = 0; w < 2; w++) {
            counts[w] = (int) (next_random(r) % 12);
            for (int k = 0; k < counts[w]; k++) {
                dtmf_event_t *e = &in[w][k];
                e->kind = (int) (next_random(r) % 4);       /* 0 and 3 are no kind at all */
                e->digit = alphabet[next_random(r) % (sizeof(alphabet) - 1)];
                switch (next_random(r) % 4) {
                case 0: e->sample = 0; break;
                case 1: e->sample = UINT64_MAX - next_random(r) % 3000; break;
                default: e->sample = now + next_random(r) % 4000; break;
                }
                e->level_dbm0 = (float) ((double) (next_random(r) % 800) / 10.0 - 60.0);
            }
        }
        now = next_random(r) % 5 == 0 ? next_random(r) % 1000 : now + next_random(r) % 2000;
        int max_out = (int) (next_random(r) % 6);
        dtmf_event_t *out = out_store + OUT_CAP - max_out;
        int got = dtmf_guard_take(&g, in[0], counts[0], in[1], counts[1], now, out, max_out);
        if (got < 0 || got > 2 * counts[1] + 1)
            __builtin_trap();
    }
}

static void run_process(const int16_t *buf, size_t n, uint32_t *r)
{
    static int16_t sent[8192];
    static dtmf_event_t out_store[OUT_CAP];
    static dtmf_receiver_t rcv;
    dtmf_receiver_init(&rcv, 22826.36);
    if (n > sizeof(sent) / sizeof(sent[0]))
        n = sizeof(sent) / sizeof(sent[0]);
    /* what we "sent": the received signal 40 samples ahead and 6 dB louder, so that the
     * received one looks like its echo */
    for (size_t i = 0; i < n; i++)
        sent[i] = i + 40 < n ? clip(2.0 * buf[i + 40]) : 0;
    int with_sent = (int) (next_random(r) % 2);
    size_t i = 0;
    while (i < n) {
        size_t take = next_random(r) % 1000;
        if (take > n - i)
            take = n - i;
        int max_out = next_random(r) % 3 == 0 ? (int) (next_random(r) % 2) : (int) take / 51 + 4;
        dtmf_event_t *out = out_store + OUT_CAP - max_out;
        int got = dtmf_receiver_process(&rcv, buf + i, with_sent ? sent + i : NULL, (int) take, out, max_out);
        if (got < 0 || got > max_out)
            __builtin_trap();
        for (int k = 0; k < got; k++)
            check_event(&out[k], rcv.rx.samples);
        i += take;
        if (take == 0 && next_random(r) % 4 == 0)
            i++;
        if (next_random(r) % 50 == 0)
            dtmf_receiver_reset(&rcv);
    }
}

static void run_rows(const int16_t *buf, size_t n, uint32_t *r)
{
    static dtmf_receiver_t rcv[PORTS];
    static int16_t x[PORTS * MAX_N], sent[PORTS * MAX_N];
    static dtmf_report_t out_store[OUT_CAP];
    static uint8_t found_store[2 * OUT_CAP];
    dtmf_receiver_t *rs[PORTS];
    const int rows = 1 + (int) (next_random(r) % PORTS);
    for (int p = 0; p < PORTS; p++) {
        dtmf_receiver_init(&rcv[p], 22826.36);
        rs[p] = next_random(r) % 8 == 0 ? NULL : &rcv[p];
    }
    const int frame = 1 + (int) (next_random(r) % MAX_N);
    const int ticks = 1 + (int) (next_random(r) % 20);
    for (int tick = 0; tick < ticks; tick++) {
        uint8_t ports[PORTS], sent_ports[PORTS];
        int count = (int) (next_random(r) % (PORTS + 1)), sent_count = 0;
        int bad = 0;
        for (int k = 0; k < count; k++) {
            ports[k] = (uint8_t) (next_random(r) % 11 == 0 ? rows + (int) (next_random(r) % 250) : (int) (next_random(r) % (unsigned) rows));
            if (ports[k] >= rows || rs[ports[k]] == NULL)
                bad = 1;
            for (int i = 0; i < frame; i++) {
                size_t at = n ? ((size_t) tick * (size_t) frame + (size_t) i + (size_t) k * 997u) % n : 0;
                x[(size_t) k * (size_t) frame + (size_t) i] = n ? buf[at] : 0;
            }
            if (next_random(r) % 2) {
                for (int i = 0; i < frame; i++)
                    sent[(size_t) sent_count * (size_t) frame + (size_t) i] = clip(2.0 * x[(size_t) k * (size_t) frame + (size_t) i]);
                sent_ports[sent_count++] = ports[k];
            }
        }
        if (sent_count > 1 && next_random(r) % 6 == 0) {       /* out of order: an error */
            uint8_t t = sent_ports[0];
            sent_ports[0] = sent_ports[sent_count - 1];
            sent_ports[sent_count - 1] = t;
            if (sent_ports[0] != sent_ports[sent_count - 1])
                bad = 2;
        }
        if (next_random(r) % 10 == 0 && sent_count < PORTS) {  /* a sent frame for no received one */
            sent_ports[sent_count++] = (uint8_t) (rows + 1);
            bad = bad ? bad : 2;
        }
        const int max_out = (int) (next_random(r) % 2 ? next_random(r) % 3 : next_random(r) % OUT_CAP);
        const int kinds = (int) (next_random(r) % 4);
        /* the compact copy of the reports (port, digit bytes), at the end of its array too */
        uint8_t *found = next_random(r) % 2 ? found_store + 2 * (OUT_CAP - max_out) : NULL;
        dtmf_rows_t t = {rs, rows, frame, out_store + OUT_CAP - max_out, max_out, found};
        int got = dtmf_receiver_rows(&t, ports, count, x, sent_ports, sent_count, sent, kinds);
        if (bad == 1 && got >= 0)
            __builtin_trap();
        if (got < 0) {
            if (!bad)
                __builtin_trap();
            continue;
        }
        if (got > max_out)
            __builtin_trap();
        for (int k = 0; k < got; k++) {
            const dtmf_report_t *o = &t.out[k];
            int in_tick = 0;
            for (int q = 0; q < count; q++)
                in_tick |= ports[q] == o->port;
            if (!in_tick || o->port >= rows || rs[o->port] == NULL)
                __builtin_trap();
            dtmf_event_t e = {o->kind, o->digit, o->sample, o->level_dbm0};
            check_event(&e, rs[o->port]->rx.samples);
            if (!(kinds & (o->kind == DTMF_EV_START ? DTMF_REPORT_STARTS : DTMF_REPORT_ENDS)))
                __builtin_trap();
            if (found != NULL && (found[2 * k] != (uint8_t) o->port || found[2 * k + 1] != (uint8_t) o->digit))
                __builtin_trap();
        }
    }
}

/* The rows call (ports in lanes) against each port alone: same reports, same state bits. */
static void run_rows_vs_one(const int16_t *buf, size_t n, uint32_t *r)
{
    enum { P = 64, CAP = 64 };          /* more ports than a lane group holds half-blocks */
    static dtmf_receiver_t rows_rcv[P], one_rcv[P];
    static int16_t x[P * MAX_N], sent[P * MAX_N];
    static dtmf_report_t out[CAP];
    static dtmf_event_t one_out[CAP];
    dtmf_receiver_t *rs[P];
    for (int p = 0; p < P; p++) {
        dtmf_receiver_init(&rows_rcv[p], 22826.36);
        dtmf_receiver_init(&one_rcv[p], 22826.36);
        rs[p] = &rows_rcv[p];
    }
    /* mostly media-tick frames (80 samples), sometimes other lengths, some beyond a piece */
    const int choice = (int) (next_random(r) % 4);
    const int frame = choice < 2 ? 80 : choice == 2 ? 1 + (int) (next_random(r) % 60) : 1 + (int) (next_random(r) % MAX_N);
    const int ticks = 1 + (int) (next_random(r) % 40);
    size_t at[P];
    for (int p = 0; p < P; p++)
        at[p] = n ? (size_t) next_random(r) % n : 0;
    for (int tick = 0; tick < ticks; tick++) {
        uint8_t ports[P], sent_ports[P];
        int count = 0, sent_count = 0, used[P] = {0};
        /* a quarter of the ticks one port alone (the rows call's one-port path), now and then
         * with what we sent; the others a random subset */
        const int want = next_random(r) % 4 == 0 ? 1 : (int) (next_random(r) % (P + 1));
        while (count < want) {          /* a random subset in a random order */
            int p = (int) (next_random(r) % P);
            if (used[p])
                continue;
            used[p] = 1;
            ports[count++] = (uint8_t) p;
        }
        int expect = 0;
        static dtmf_report_t want_out[CAP];
        for (int k = 0; k < count; k++) {
            const int p = ports[k];
            int16_t *row = x + (size_t) k * (size_t) frame, *row_sent = NULL;
            for (int i = 0; i < frame; i++)
                row[i] = n ? buf[(at[p] + (size_t) i) % n] : 0;
            at[p] += (size_t) frame;
            if (next_random(r) % 3 == 0) {
                row_sent = sent + (size_t) sent_count * (size_t) frame;
                for (int i = 0; i < frame; i++)
                    row_sent[i] = clip(2.0 * row[(i + 40) % frame]);
                sent_ports[sent_count++] = (uint8_t) p;
            }
            int got = dtmf_receiver_process(&one_rcv[p], row, row_sent, frame, one_out, CAP);
            for (int e = 0; e < got && expect < CAP; e++)
                want_out[expect++] = (dtmf_report_t) {p, one_out[e].kind, one_out[e].digit, one_out[e].sample,
                                                      one_out[e].level_dbm0};
        }
        dtmf_rows_t t = {rs, P, frame, out, CAP, NULL};
        int got = dtmf_receiver_rows(&t, ports, count, x, sent_ports, sent_count, sent,
                                     DTMF_REPORT_STARTS | DTMF_REPORT_ENDS);
        if (got != expect)
            __builtin_trap();
        for (int e = 0; e < got; e++)
            if (out[e].port != want_out[e].port || out[e].kind != want_out[e].kind || out[e].digit != want_out[e].digit
                || out[e].sample != want_out[e].sample
                || memcmp(&out[e].level_dbm0, &want_out[e].level_dbm0, sizeof(float)) != 0)
                __builtin_trap();
        for (int p = 0; p < P; p++)
            if (memcmp(&rows_rcv[p].rx, &one_rcv[p].rx, sizeof(dtmf_rx_t)) != 0
                || memcmp(&rows_rcv[p].tx, &one_rcv[p].tx, sizeof(dtmf_rx_t)) != 0
                || memcmp(&rows_rcv[p].guard, &one_rcv[p].guard, sizeof(dtmf_guard_t)) != 0)
                __builtin_trap();
    }
}

void fuzz_dtmf_receiver(const int16_t *buf, size_t n, uint32_t seed)
{
    static int16_t own[8192];
    uint32_t r = seed * 2246822519u + 7u;
    run_guard(&r);
    run_process(buf, n, &r);
    size_t m = 1 + next_random(&r) % 8192;
    digits_signal(own, m, &r);
    run_process(own, m, &r);
    run_rows(own, m, &r);
    run_rows(buf, n, &r);
    run_rows_vs_one(own, m, &r);
    run_rows_vs_one(buf, n, &r);
    static int said;
    if (!said) {
        said = 1;
        printf("fuzz_dtmf_receiver: filter copy %s\n", dtmf_simd_variant());
    }
}
