/* A T.30 fax terminal on an 8 kHz audio path (spandsp's fax_state_t in audio
 * mode), plus the few TIFF-F file operations fax needs (libtiff).
 *
 * The terminal is created once per fax session (that allocates, in spandsp);
 * after that faxterm_rx / faxterm_tx do only per-sample work on the caller's
 * buffers and allocate nothing themselves. The end of the session (T.30 phase E)
 * is not a callback into Python: it sets a flag the owner polls with
 * faxterm_report().
 *
 * Note: spandsp reads the document to send and writes the received pages
 * through libtiff from inside fax_rx / fax_tx (at page boundaries). A caller on
 * a real-time tick must therefore run the terminal on a worker thread fed
 * through buffers, never on the tick itself.
 *
 * Lost trainings. spandsp 0.0.6's V.17 receiver now and then fails the short
 * training that starts each page after the first (on a line with noise: about
 * one page in 7 to 12 at -50 dBm0 white noise; never on a clean line). The page's
 * frames are then lost, which T.30 with ECM is built to survive: the receiver
 * answers PPS with PPR and the block is sent again.
 * But spandsp's T.30 keeps timer T2 (7 s) running while the untrained page
 * carrier is on the line, and an ECM block at 14400 bit/s lasts up to ~36 s: T2
 * expires mid-page, the receiver goes back to phase B while the sender is
 * still sending, and the call ends "T2 expired while waiting for fax page".
 * faxterm_rx therefore holds T2 while a fast-modem carrier the receiver could
 * not train on is present (as a fax machine that hears a carrier does), so the
 * timer only runs once the line is quiet; see faxterm.c.
 * Without ECM a lost page cannot be asked for again, and spandsp 0.0.6 would
 * confirm it (MCF): its receiver only counts a page as attempted once training
 * has started, so the sender's MPS after an untrained page looks like a repeat
 * of the previous one. faxterm_rx therefore also marks a page carrier that
 * stays untrained for 0.5 s as an attempted page: spandsp answers RTN, and our
 * terminal as a sender (faxterm_set_tx_file) sends a page rejected with RTN again
 * after retraining, where spandsp 0.0.6 would go on to the next page.
 *
 * A receiver switched off mid-buffer. fax_rx hands a whole buffer to the current
 * receiver; when the V.21 receiver reports the end of a carrier part-way through,
 * T.30 switches receivers at once (to none, to send its answer), but the V.21
 * demodulator still runs over the rest of that buffer. On a noisy line a sample
 * there can cross its carrier-on threshold again (it needs no hold-off at 300
 * bit/s): T.30 records a carrier present that no running receiver will ever
 * report gone, and its next phase change, which waits for that carrier to drop,
 * never happens (without ECM: stuck after our MCF; seen after page 12 of 16 at
 * -50 dBm0). faxterm_rx therefore feeds spandsp one sample at a time, so a
 * receiver switched off never sees another sample. Should such a carrier be left
 * "present" another way, faxterm_rx reports it gone (spandsp's own HDLC status
 * entry) as soon as no receiver is running and a phase change waits on it, and
 * counts it (stale_carriers).
 */
#ifndef LINEBOX_FAXTERM_H
#define LINEBOX_FAXTERM_H

#include <stdint.h>

/* cdef-begin */
#define FAXTERM_V27TER 1
#define FAXTERM_V29 2
#define FAXTERM_V17 4


typedef struct faxterm faxterm_t;

typedef struct {
    int done;                  /* 1 once T.30 phase E has been reached */
    int result;                /* T.30 completion code (0 = OK), valid when done */
    int pages_tx;
    int pages_rx;
    int pages_in_file;
    int bit_rate;              /* image data rate of the last page, bit/s */
    int ecm;                   /* 1 if error correcting mode was used */
    int ecm_retries;
    int bad_rows;              /* in the most recent page */
    int longest_bad_row_run;
    int x_resolution;          /* pixels per metre, most recent page */
    int y_resolution;
    int width;
    int length;
    int phase_b_seen;          /* 1 once the far end's capabilities (DIS/DCS) arrived */
    int bad_rows_total;        /* bad rows summed over every page received so far */
    int carrier_holds;         /* untrained page carriers (ECM: outlasted T2, block sent again; no ECM: RTN) */
    int stale_carriers;        /* carriers T.30 thought present with no receiver running (reported gone) */
} faxterm_report_t;

faxterm_t *faxterm_new(int calling_party, const char *ident, int ecm, int modems);
int faxterm_set_tx_file(faxterm_t *t, const char *path);
int faxterm_set_rx_file(faxterm_t *t, const char *path);
void faxterm_rx(faxterm_t *t, const int16_t *amp, int len);
void faxterm_tx(faxterm_t *t, int16_t *amp, int len);
void faxterm_report(faxterm_t *t, faxterm_report_t *out);
const char *faxterm_remote_ident(faxterm_t *t);
void faxterm_hangup(faxterm_t *t);
void faxterm_free(faxterm_t *t);
const char *faxterm_result_text(int code);

/* The session's log of events for a transcript: T.30 frames sent and received (DIS, DCS, CFR,
 * MCF, RTN, DCN, ...) and the phases, each with the time it happened, counted in samples fed to
 * faxterm_rx since the terminal was made. Kept in a fixed ring inside the terminal (nothing is
 * allocated when an event happens); faxterm_events copies out and forgets the oldest ones. */
#define FAXTERM_EV_FRAME_IN 1      /* code: the frame's T.30 FCF byte */
#define FAXTERM_EV_FRAME_OUT 2
#define FAXTERM_EV_PHASE_B 3       /* capabilities exchanged */
#define FAXTERM_EV_PHASE_D 4       /* a page ended; code: pages sent + received so far */
#define FAXTERM_EV_PHASE_E 5       /* the session ended; code: the T.30 completion code */
typedef struct {
    int64_t sample;
    int kind;
    int code;
} faxterm_event_t;
int faxterm_events(faxterm_t *t, faxterm_event_t *out, int max);
int faxterm_events_lost(faxterm_t *t);
const char *faxterm_frame_name(int fcf);
/* The header line spandsp prints on each page sent (with the date, station id and page number);
 * up to 50 characters; "" = none. 0 on success. */
int faxterm_set_header(faxterm_t *t, const char *info);
int faxterm_page_carrier_guard(void);   /* 1 if built with the T2 guard (the spandsp release it knows) */
void faxterm_set_page_carrier_guard(faxterm_t *t, int on);   /* on by default */
void faxterm_set_whole_buffers(faxterm_t *t, int on);   /* tests: off by default (one sample at a time) */
/* The V.21 (300 bit/s, T.30 control) receiver's carrier cut-off in dBm0 (spandsp's
 * fsk_rx_signal_cutoff; its default is -45.5 dBm0 carrier on). An installer's setting for a noisy
 * line: with noise near the default the receiver hears a "carrier" in the noise and can miss the
 * training check that follows (seen with V.17 without ECM at -48 dBm0 noise). A higher cut-off
 * also ignores a far end weaker than it. */
void faxterm_set_v21_cutoff(faxterm_t *t, float dbm0);

/* TIFF-F files. Pixels are packed rows, 1 bit per pixel, MSB first, 1 = black,
 * (width + 7) / 8 bytes per row. Return 0 on success, < 0 on error. */
int faxtiff_write(const char *path, const uint8_t *rows, int pages, int width, int height, int y_lpi);
int faxtiff_pages(const char *path);
int faxtiff_page_info(const char *path, int page, int *width, int *height, float *x_dpi, float *y_dpi);
int faxtiff_read_page(const char *path, int page, uint8_t *rows, int width, int height);
/* cdef-end */

#endif
