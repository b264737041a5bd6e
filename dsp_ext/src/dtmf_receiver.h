/* A port's DTMF receiver with its echo guard, and all ports' receivers in one call per tick.
 *
 * A port that sends DTMF to a line (dialling out, an agent's keys bridged to a caller) hears
 * those digits come back as the line's echo. `dtmf_receiver_t` holds two detectors (dtmf.c):
 * one on what the port received, one on what we sent it, and the guard that decides, event by
 * event, what is a far-end digit:
 *
 *  - a received digit that is ours coming back (the same digit, at least ECHO_MIN_LOSS weaker
 *    than we sent it, starting between 20 ms before and ECHO_DELAY after ours started) is held
 *    back, and so is its end;
 *  - if that held-back digit is still on ECHO_END_SLACK after our digit's echo must have
 *    stopped (our digit's end + the delay its echo showed), the far end pressed the same key
 *    while our echo was arriving: it is reported as starting there;
 *  - any other digit, including the same key pressed after ECHO_DELAY, is reported.
 *
 * Only these final decisions leave C: `dtmf_receiver_rows` runs the receivers of every port
 * that carries audio this tick (its frames packed one after another, in any order of ports)
 * and writes only the reports (port, start/end, digit, sample, level). Python does nothing
 * per port unless a digit was found. Nothing is allocated; the guard's state is 16 slots per
 * receiver, one per digit.
 *
 * Sample times are those of the received signal (the receiver's rx detector); the sent
 * detector's times are mapped onto them (the two may have consumed different amounts if a
 * caller skipped sending some frames).
 */
#ifndef LINEBOX_DTMF_RECEIVER_H
#define LINEBOX_DTMF_RECEIVER_H

#include <stddef.h>
#include <stdint.h>

#include "dtmf.h"

/* cdef-begin */
#define DTMF_ECHO_DELAY 1200        /* samples (150 ms): a hybrid echo starts within this of what we sent */
#define DTMF_ECHO_EARLY 160         /* samples (20 ms): ... or this much before (detector latency) */
#define DTMF_ECHO_END_SLACK 480     /* samples (60 ms): the receiver reports an echo's end within this */

#define DTMF_REPORT_STARTS 1        /* kinds masks for dtmf_receiver_rows */
#define DTMF_REPORT_ENDS 2

typedef struct {
    int64_t start;          /* sending: start of our digit (rx time); sent: its start */
    int64_t end;            /* sent: its end */
    float level;            /* the level we sent it at */
    uint8_t sending;        /* our digit is on now */
    uint8_t sent;           /* start/end/level describe our last digit of this key */
} dtmf_guard_slot_t;

typedef struct {
    dtmf_guard_slot_t slot[16];     /* per digit, index dtmf_digit_index row * 4 + column */
    char suppressed;                /* the received digit held back as our echo, or 0 */
    int64_t echo_delay;             /* how late that echo started after our digit */
    float start_level;              /* level of the received digit now on (ends repeat it) */
} dtmf_guard_t;

typedef struct {
    dtmf_rx_t rx;                   /* what the port received */
    dtmf_rx_t tx;                   /* what we sent it */
    dtmf_guard_t guard;
    uint32_t reports_dropped;       /* reports that did not fit the caller's array */
} dtmf_receiver_t;

typedef struct {
    int port;                       /* the row of the receiver in the rows call */
    int kind;                       /* DTMF_EV_START or DTMF_EV_END */
    char digit;
    uint64_t sample;                /* in the port's received-signal samples */
    float level_dbm0;
} dtmf_report_t;

void dtmf_guard_reset(dtmf_guard_t *g);
/* The guard's decisions on what the two detectors just found: `sent` events (n_sent of them,
 * times already in the received signal's samples), then `rx` events (n_rx); `now` is the number
 * of received samples consumed so far. Writes the reported events to out (at most max_out;
 * returns how many were produced, which may exceed max_out: the excess is lost). */
int dtmf_guard_take(dtmf_guard_t *g, const dtmf_event_t *sent, int n_sent, const dtmf_event_t *rx, int n_rx,
                    uint64_t now, dtmf_event_t *out, int max_out);

void dtmf_receiver_init(dtmf_receiver_t *r, double dbm0_peak);
void dtmf_receiver_reset(dtmf_receiver_t *r);
/* n samples received (x) and, if sent is not NULL, the n we sent in the same span. Returns the
 * number of reported events written to out (at most max_out; extra ones are counted in
 * r->reports_dropped). n / 51 + 4 slots always suffice. */
int dtmf_receiver_process(dtmf_receiver_t *r, const int16_t *x, const int16_t *sent, int n,
                          dtmf_event_t *out, int max_out);
/* The receivers of a set of ports (rs[i] for port i, rows of them; NULL: none), a frame length
 * and where the reports go: set once (DtmfRows), handed to every dtmf_receiver_rows call.
 * `found`, if not NULL (2 * max_out bytes), gets each report also as two bytes, its port and
 * its digit, so that Python reads a tick's digits as one bytes object. */
typedef struct {
    dtmf_receiver_t *const *rs;
    int rows;
    int n;
    dtmf_report_t *out;
    int max_out;
    uint8_t *found;
} dtmf_rows_t;

/* One tick of many ports. `count` frames of t->n int16 samples each are packed in x; frame k
 * belongs to receiver t->rs[ports[k]]. `sent_count` frames packed in `sent` are what we sent:
 * sent frame j belongs to port sent_ports[j], and the sent ports must appear in the same order
 * as in `ports` (a subsequence of it). Reports of the kinds in `kinds` (DTMF_REPORT_STARTS |
 * DTMF_REPORT_ENDS) go to t->out, frame by frame; returns how many (at most t->max_out: extra
 * ones are counted in that receiver's reports_dropped), or -1 - k if frame k's port is not
 * below t->rows or has no receiver, or -1 - count - j if sent frame j's port is not among
 * `ports` in that order: nothing is run then. (x and sent are void pointers so that Python
 * can pass the bytes it packed the frames into as they are.) */
int dtmf_receiver_rows(const dtmf_rows_t *t, const uint8_t *ports, int count, const void *x,
                       const uint8_t *sent_ports, int sent_count, const void *sent, int kinds);
/* cdef-end */

#endif
