/* A port's DTMF receiver with its echo guard: see dtmf_receiver.h. */
#include "dtmf_receiver.h"
#include "fpmode.h"

#include <string.h>

#define ECHO_MIN_LOSS_DB 1.0        /* an echo is at least this much weaker than what was sent */
#define PIECE (8 * DTMF_HALF)       /* samples run between two looks of the guard */
#define PIECE_EVENTS 12             /* a detector's events in one piece: PIECE / 51 + 2, rounded up */
#define PIECE_OUT (PIECE_EVENTS + 4)

void dtmf_guard_reset(dtmf_guard_t *g)
{
    memset(g, 0, sizeof(*g));
}

static void put(dtmf_event_t *out, int max_out, int *count, int kind, char digit, int64_t sample, float level)
{
    if (*count < max_out) {
        dtmf_event_t *e = &out[*count];
        e->kind = kind;
        e->digit = digit;
        e->sample = sample > 0 ? (uint64_t) sample : 0u;
        e->level_dbm0 = level;
    }
    (*count)++;
}

/* Our digit d (slot index), as sent or being sent: its start and level. 0 if none. */
static int ours(const dtmf_guard_t *g, int d, int64_t *start, float *level)
{
    const dtmf_guard_slot_t *s = &g->slot[d];
    if (!s->sending && !s->sent)
        return 0;
    *start = s->start;
    *level = s->level;
    return 1;
}

/* When the echo of our last digit of the held-back key must be over, or -1 while we are still
 * sending it (or never sent it). */
static int64_t echo_over(const dtmf_guard_t *g)
{
    int d = dtmf_digit_index(g->suppressed);
    if (d < 0 || g->slot[d].sending || !g->slot[d].sent)
        return -1;
    return g->slot[d].end + g->echo_delay + DTMF_ECHO_END_SLACK;
}

static void track(dtmf_guard_t *g, const dtmf_event_t *e)
{
    int d = dtmf_digit_index(e->digit);
    if (d < 0)
        return;
    dtmf_guard_slot_t *s = &g->slot[d];
    int64_t t = (int64_t) e->sample;
    if (e->kind == DTMF_EV_START) {
        s->start = t;
        s->level = e->level_dbm0;
        s->sending = 1;
    } else {
        if (!s->sending) {          /* an end without its start: the end stands for both */
            s->start = t;
            s->level = e->level_dbm0;
        }
        s->end = t;
        s->sending = 0;
        s->sent = 1;
    }
}

int dtmf_guard_take(dtmf_guard_t *g, const dtmf_event_t *sent, int n_sent, const dtmf_event_t *rx, int n_rx,
                    uint64_t now, dtmf_event_t *out, int max_out)
{
    int count = 0;
    for (int i = 0; i < n_sent; i++)
        track(g, &sent[i]);
    for (int i = 0; i < n_rx; i++) {
        const dtmf_event_t *e = &rx[i];
        int64_t t = (int64_t) e->sample;
        if (e->kind == DTMF_EV_START) {
            int d = dtmf_digit_index(e->digit);
            int64_t start;
            float level;
            g->start_level = e->level_dbm0;
            if (d >= 0 && ours(g, d, &start, &level) && t >= start - DTMF_ECHO_EARLY
                && t <= start + DTMF_ECHO_DELAY && (double) e->level_dbm0 <= (double) level - ECHO_MIN_LOSS_DB) {
                g->suppressed = e->digit;
                g->echo_delay = t > start ? t - start : 0;
                continue;
            }
            put(out, max_out, &count, DTMF_EV_START, e->digit, t, e->level_dbm0);
        } else if (g->suppressed != 0 && g->suppressed == e->digit) {
            /* the held-back digit ended: if it lasted beyond our echo, it was a press too */
            int64_t over = echo_over(g);
            if (over >= 0 && t > over) {
                put(out, max_out, &count, DTMF_EV_START, e->digit, over, g->start_level);
                put(out, max_out, &count, DTMF_EV_END, e->digit, t, g->start_level);
            }
            g->suppressed = 0;
        } else {
            put(out, max_out, &count, DTMF_EV_END, e->digit, t, g->start_level);
        }
    }
    if (g->suppressed != 0) {
        int64_t over = echo_over(g);
        if (over >= 0 && (int64_t) now > over) {
            put(out, max_out, &count, DTMF_EV_START, g->suppressed, over, g->start_level);
            g->suppressed = 0;
        }
    }
    return count;
}

void dtmf_receiver_init(dtmf_receiver_t *r, double dbm0_peak)
{
    dtmf_rx_init(&r->rx, dbm0_peak);
    dtmf_rx_init(&r->tx, dbm0_peak);
    dtmf_guard_reset(&r->guard);
    r->reports_dropped = 0;
}

void dtmf_receiver_reset(dtmf_receiver_t *r)
{
    dtmf_rx_reset(&r->rx);
    dtmf_rx_reset(&r->tx);
    dtmf_guard_reset(&r->guard);
}

/* m <= PIECE samples through both detectors and the guard; the reports (at most PIECE_OUT) to out.
 * rx_done/tx_done: the detectors' filter passes over these samples if already run (NULL: run
 * them here). The caller sets flush-to-zero (once per call from Python, not per detector). */
static int piece(dtmf_receiver_t *r, const int16_t *x, const int16_t *sent, int m, dtmf_event_t *out,
                 const dtmf_half_t *rx_done, const dtmf_half_t *tx_done)
{
    dtmf_event_t rx_ev[PIECE_EVENTS], tx_ev[PIECE_EVENTS];
    int n_rx = dtmf_rx_feed_ftz(&r->rx, x, m, rx_done, rx_ev, PIECE_EVENTS);
    int n_tx = 0;
    if (sent != NULL) {
        n_tx = dtmf_rx_feed_ftz(&r->tx, sent, m, tx_done, tx_ev, PIECE_EVENTS);
        if (n_tx) {
            /* onto the received signal's clock (equal unless a caller skipped sending frames) */
            int64_t shift = (int64_t) r->rx.samples - (int64_t) r->tx.samples;
            for (int i = 0; i < n_tx; i++) {
                int64_t t = (int64_t) tx_ev[i].sample + shift;
                tx_ev[i].sample = t > 0 ? (uint64_t) t : 0u;
            }
        }
    }
    if (n_rx == 0 && n_tx == 0 && r->guard.suppressed == 0)
        return 0;
    return dtmf_guard_take(&r->guard, tx_ev, n_tx, rx_ev, n_rx, r->rx.samples, out, PIECE_OUT);
}

int dtmf_receiver_process(dtmf_receiver_t *r, const int16_t *x, const int16_t *sent, int n,
                          dtmf_event_t *out, int max_out)
{
    int count = 0;
    dtmf_event_t ev[PIECE_OUT];
    const unsigned int fpmode = fp_enter();
    for (int i = 0; i < n; i += PIECE) {
        int m = n - i < PIECE ? n - i : PIECE;
        int got = piece(r, x + i, sent != NULL ? sent + i : NULL, m, ev, NULL, NULL);
        for (int k = 0; k < got; k++) {
            if (count < max_out)
                out[count++] = ev[k];
            else
                r->reports_dropped++;
        }
    }
    fp_leave(fpmode);
    return count;
}

/* One frame's reports of the asked kinds to the caller's arrays. */
static void report(const dtmf_rows_t *t, dtmf_receiver_t *r, int port, const dtmf_event_t *ev, int got, int kinds,
                   int *reports)
{
    for (int e = 0; e < got; e++) {
        int kind = ev[e].kind;
        if (!(kinds & (kind == DTMF_EV_START ? DTMF_REPORT_STARTS : DTMF_REPORT_ENDS)))
            continue;
        if (*reports >= t->max_out) {
            r->reports_dropped++;
            continue;
        }
        if (t->found != NULL) {
            t->found[2 * *reports] = (uint8_t) port;
            t->found[2 * *reports + 1] = (uint8_t) ev[e].digit;
        }
        dtmf_report_t *o = &t->out[(*reports)++];
        o->port = port;
        o->kind = kind;
        o->digit = ev[e].digit;
        o->sample = ev[e].sample;
        o->level_dbm0 = ev[e].level_dbm0;
    }
}

/* Ports in lanes. The filter pass (notches, Goertzel filters, energies: ~70 % of the time) of
 * several ports' detectors runs in the lanes of one vector (dtmf_lanes_pass), one lane a
 * detector's next complete half-block; the decisions then run per port, in frame order, from
 * those results. A group is a run of consecutive frames whose half-blocks and detectors fit POOL
 * (a port seen twice ends it: its second frame depends on the first's decisions); a detector's halves
 * are a chain (each needs the notch memories the one before left), so a lane pass takes up to
 * `width` ready halves of different detectors, and a detector's next half becomes ready
 * when its previous one has run. A pass with fewer than MIN_LANES jobs runs them one by one
 * (measured, 16 ports' conversation in C, AVX2: a lane pass costs about what three one-port
 * passes do; 2 ports: 4.2 ns per sample in lanes against 3.2 one by one, 4 ports: 2.6 against
 * 3.0; the 4-lane baseline copy: 3 ports 3.4 against 4.2).
 * The results are bit for bit those of one port alone, so grouping never changes a digit. */
#define POOL 64
#define MIN_LANES 3

typedef struct {
    dtmf_rx_t *s;
    const int16_t *in;
    int halves, next;
    dtmf_half_t *done;
} chain_t;

/* Every chain's half-blocks through the filter pass; each queue entry is one detector's next
 * half, a detector is queued again only once its half has run (so one pass never holds a
 * detector twice), and the entries in all are the group's half-blocks (<= POOL). */
static void run_chains(chain_t *chains, int n_chains)
{
    const int width = dtmf_lanes_width();       /* 4 or 8 */
    int queue[POOL], head = 0, tail = 0;
    for (int c = 0; c < n_chains; c++)
        if (chains[c].halves > 0)
            queue[tail++] = c;
    while (head < tail) {
        int m = tail - head < width ? tail - head : width;
        dtmf_rx_t *s[8];
        const int16_t *in[8];
        dtmf_half_t *out[8];
        for (int i = 0; i < m; i++) {
            chain_t *c = &chains[queue[head + i]];
            s[i] = c->s;
            in[i] = dtmf_rx_half_at(c->s, c->in, c->next);
            out[i] = &c->done[c->next];
        }
        if (m >= MIN_LANES)
            dtmf_lanes_pass(s, in, out, m);
        else
            for (int i = 0; i < m; i++)
                dtmf_half_pass(s[i], in[i], out[i]);
        for (int i = 0; i < m; i++) {
            int c = queue[head++];
            if (++chains[c].next < chains[c].halves)
                queue[tail++] = c;
        }
    }
}

int dtmf_receiver_rows(const dtmf_rows_t *t, const uint8_t *ports, int count, const void *x_,
                       const uint8_t *sent_ports, int sent_count, const void *sent_, int kinds)
{
    dtmf_receiver_t *const *rs = t->rs;
    const int rows = t->rows, n = t->n;
    const int16_t *x = x_, *sent = sent_;
    /* check everything first: bad input runs nothing */
    int j = 0;
    for (int k = 0; k < count; k++) {
        if (ports[k] >= rows || rs[ports[k]] == NULL)
            return -1 - k;
        if (j < sent_count && sent_ports[j] == ports[k])
            j++;
    }
    if (j < sent_count)
        return -1 - count - j;
    int reports = 0;
    dtmf_event_t ev[PIECE_OUT];
    dtmf_half_t pool[POOL];
    chain_t chains[POOL];
    const int16_t *row_sent[POOL];
    const unsigned int fpmode = fp_enter();     /* once for all ports and detectors */
    /* fewer detectors than a lane pass takes (one port, with or without what we sent: the small
     * office's usual tick): no lanes, no grouping; each frame straight through its pieces */
    const int lanes = count + sent_count >= MIN_LANES && n <= PIECE;
    j = 0;
    int k = 0;
    while (k < count) {
        /* a group: frames k .. end - 1 */
        uint8_t seen[32] = {0};
        int used = 0, n_chains = 0, end = k, sj = j;
        while (end < count && lanes) {
            const int port = ports[end];
            dtmf_receiver_t *r = rs[port];
            const int16_t *rsent = sj < sent_count && sent_ports[sj] == port ? sent + (size_t) sj * (size_t) n : NULL;
            int need = dtmf_rx_halves(&r->rx, n) + (rsent != NULL ? dtmf_rx_halves(&r->tx, n) : 0);
            if ((seen[port / 8] >> (port % 8) & 1) || used + need > POOL || n_chains + 2 > POOL)
                break;
            seen[port / 8] |= (uint8_t) (1u << (port % 8));
            row_sent[end - k] = rsent;
            sj += rsent != NULL;
            chains[n_chains++] = (chain_t) {&r->rx, x + (size_t) end * (size_t) n, dtmf_rx_halves(&r->rx, n), 0, pool + used};
            used += chains[n_chains - 1].halves;
            if (rsent != NULL) {
                chains[n_chains++] = (chain_t) {&r->tx, rsent, dtmf_rx_halves(&r->tx, n), 0, pool + used};
                used += chains[n_chains - 1].halves;
            }
            end++;
        }
        if (end > k) {
            run_chains(chains, n_chains);
            for (int f = k, c = 0; f < end; f++) {
                const int port = ports[f];
                const chain_t *cr = &chains[c++], *ct = row_sent[f - k] != NULL ? &chains[c++] : NULL;
                int got = piece(rs[port], x + (size_t) f * (size_t) n, row_sent[f - k], n, ev, cr->done,
                                ct != NULL ? ct->done : NULL);
                report(t, rs[port], port, ev, got, kinds, &reports);
            }
            j = sj;
            k = end;
            continue;
        }
        /* a frame alone (longer than a piece, or no lanes this tick): its filter passes run as
         * its decisions need them */
        const int port = ports[k];
        dtmf_receiver_t *r = rs[port];
        const int16_t *row = x + (size_t) k * (size_t) n;
        const int16_t *rsent = NULL;
        if (j < sent_count && sent_ports[j] == port)
            rsent = sent + (size_t) (j++) * (size_t) n;
        for (int i = 0; i < n; i += PIECE) {
            int m = n - i < PIECE ? n - i : PIECE;
            int got = piece(r, row + i, rsent != NULL ? rsent + i : NULL, m, ev, NULL, NULL);
            report(t, r, port, ev, got, kinds, &reports);
        }
        k++;
    }
    fp_leave(fpmode);
    return reports;
}
