/* T.30 fax terminal over audio (spandsp) and TIFF-F file helpers (libtiff).
 * See faxterm.h for the contract. */
#include <stdlib.h>
#include <string.h>
#include <inttypes.h>

#include <tiffio.h>
#define SPANDSP_EXPOSE_INTERNAL_STRUCTURES
#include <spandsp.h>
#include <spandsp/expose.h>
#include <spandsp/version.h>

#include "faxterm.h"

#define FAXTERM_MAX_EVENTS 512     /* a 50-page fax logs about 6 frames a page */

struct faxterm {
    fax_state_t *fax;
    t30_state_t *t30;
    volatile int done;
    volatile int result;
    volatile int phase_b_seen;
    int bad_rows_total;
    int carrier_holds;      /* page carriers we could not train on, T2 held while they lasted */
    int holding;            /* an untrained page carrier is on the line */
    int hold_left;          /* samples T2 had left when it came */
    int hold_counted;
    int untrained;          /* samples the current untrained page carrier has lasted */
    int guard_off;          /* the guard switched off (tests show what it prevents) */
    int whole_buffers;      /* tests: feed spandsp whole buffers, as before (see faxterm_rx) */
    int stale_carriers;     /* carriers left "present" with no receiver running, reported gone */
    int v21_cutoff_set;     /* an installer's V.21 carrier cut-off is in force (faxterm_set_v21_cutoff) */
    int32_t v21_on_power;   /* ... as the V.21 receiver's carrier on / off thresholds */
    int32_t v21_off_power;
    int64_t samples;        /* fed to faxterm_rx so far: the events' clock */
    faxterm_event_t events[FAXTERM_MAX_EVENTS];
    int ev_head;            /* next to write */
    int ev_count;           /* held, oldest at ev_head - ev_count */
    int ev_lost;
};

static void resend_rejected_pages(faxterm_t *t);

static void log_event(faxterm_t *t, int kind, int code)
{
    faxterm_event_t *e = &t->events[t->ev_head];
    e->sample = t->samples;
    e->kind = kind;
    e->code = code;
    t->ev_head = (t->ev_head + 1) % FAXTERM_MAX_EVENTS;
    if (t->ev_count < FAXTERM_MAX_EVENTS)
        t->ev_count++;
    else
        t->ev_lost++;         /* the oldest was overwritten */
}

static void on_frame(t30_state_t *s, void *user_data, int incoming, const uint8_t msg[], int len)
{
    (void) s;
    /* ECM image frames (FCD, RCP: one per 256 bytes of page data) are page content, not the
     * dialogue: left out, so a long fax's log holds every control frame. */
    if (len >= 3 && (msg[2] & 0xFE) != 0x06 && (msg[2] & 0xFE) != 0x86)
        log_event((faxterm_t *) user_data, incoming ? FAXTERM_EV_FRAME_IN : FAXTERM_EV_FRAME_OUT, msg[2]);
}

static void on_phase_e(t30_state_t *s, void *user_data, int completion_code)
{
    (void) s;
    faxterm_t *t = (faxterm_t *) user_data;
    t->result = completion_code;
    t->done = 1;
    log_event(t, FAXTERM_EV_PHASE_E, completion_code);
}

static int on_phase_b(t30_state_t *s, void *user_data, int result)
{
    (void) s;
    (void) result;
    ((faxterm_t *) user_data)->phase_b_seen = 1;
    log_event((faxterm_t *) user_data, FAXTERM_EV_PHASE_B, 0);
    return T30_ERR_OK;
}

static int on_phase_d(t30_state_t *s, void *user_data, int result)
{
    (void) result;
    t30_stats_t st;
    t30_get_transfer_statistics(s, &st);
    ((faxterm_t *) user_data)->bad_rows_total += st.bad_rows;
    log_event((faxterm_t *) user_data, FAXTERM_EV_PHASE_D, st.pages_tx + st.pages_rx);
    return T30_ERR_OK;
}

faxterm_t *faxterm_new(int calling_party, const char *ident, int ecm, int modems)
{
    faxterm_t *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    t->fax = fax_init(NULL, calling_party ? 1 : 0);
    if (t->fax == NULL) {
        free(t);
        return NULL;
    }
    t->t30 = fax_get_t30_state(t->fax);
    fax_set_transmit_on_idle(t->fax, 1);
    fax_set_tep_mode(t->fax, 0);
    if (ident != NULL && ident[0] != '\0')
        t30_set_tx_ident(t->t30, ident);
    t30_set_supported_modems(t->t30, modems & (T30_SUPPORT_V27TER | T30_SUPPORT_V29 | T30_SUPPORT_V17));
    t30_set_supported_compressions(t->t30, T30_SUPPORT_T4_1D_COMPRESSION | T30_SUPPORT_T4_2D_COMPRESSION
                                           | (ecm ? T30_SUPPORT_T6_COMPRESSION : 0));
    t30_set_ecm_capability(t->t30, ecm ? 1 : 0);
    t30_set_phase_b_handler(t->t30, on_phase_b, t);
    t30_set_phase_d_handler(t->t30, on_phase_d, t);
    t30_set_phase_e_handler(t->t30, on_phase_e, t);
    t30_set_real_time_frame_handler(t->t30, on_frame, t);
    return t;
}

int faxterm_set_tx_file(faxterm_t *t, const char *path)
{
    t30_set_tx_file(t->t30, path, -1, -1);
    resend_rejected_pages(t);
    return 0;
}

int faxterm_set_rx_file(faxterm_t *t, const char *path)
{
    t30_set_rx_file(t->t30, path, -1);
    return 0;
}

/* ---- The page-carrier guard (why: faxterm.h, "Lost trainings").
 *
 * It reads three private fields of spandsp's T.30 and modem states, so it is
 * compiled only against the spandsp release whose layout it was written for
 * (Debian's 0.0.6, released 2011-01-22); any other release runs without it. */
#if defined(SPANDSP_RELEASE_DATE) && SPANDSP_RELEASE_DATE == 20110122
#define FAXTERM_PAGE_CARRIER_GUARD 1
/* spandsp 0.0.6 t30.c: T30_STATE_F_DOC_NON_ECM and T30_STATE_F_DOC_ECM (a private enum). */
enum { SPANDSP_T30_STATE_F_DOC_NON_ECM = 10, SPANDSP_T30_STATE_F_DOC_ECM = 12 };
/* spandsp 0.0.6 t30.c: DEFAULT_TIMER_T2, 7 s, in samples. */
#define SPANDSP_T2_SAMPLES (7000 * 8)
/* An untrained fast-modem carrier this long, with no V.21 flags heard meanwhile, is a page whose
 * training was lost: not the echo tail of our own V.21 answer (tens of ms; the fast receiver sees
 * it as a brief carrier), nor the sender's V.21 (its flags are recognised within ~0.15 s: a
 * repeated MPS or a new DCS, which spandsp handles itself). */
#define LOST_TRAINING_SAMPLES (500 * 8)

static int page_carrier_on(faxterm_t *t)
{
    fax_modems_state_t *m = &t->fax->modems;
    switch (m->current_rx_type) {
    case T30_MODEM_V17:
        return m->fast_modems.v17_rx.signal_present > 0;
    case T30_MODEM_V29:
        return m->fast_modems.v29_rx.signal_present > 0;
    case T30_MODEM_V27TER:
        return m->fast_modems.v27ter_rx.signal_present > 0;
    default:
        return 0;
    }
}

static void guard_page_carrier(faxterm_t *t, int len)
{
    t30_state_t *s = t->t30;
    int ecm = s->state == SPANDSP_T30_STATE_F_DOC_ECM;
    if (t->guard_off)
        return;
    if ((!ecm && s->state != SPANDSP_T30_STATE_F_DOC_NON_ECM) || s->rx_trained || s->timer_t2_t4 <= 0
        || !page_carrier_on(t)) {
        t->holding = 0;
        return;
    }
    if (!t->holding) {
        /* A page carrier the receiver has not trained on (yet: every page starts so). */
        t->holding = 1;
        t->hold_left = s->timer_t2_t4;
        t->hold_counted = 0;
        t->untrained = 0;
    }
    t->untrained += len;
    if (!ecm && t->untrained >= LOST_TRAINING_SAMPLES && !s->image_carrier_attempted
        && !t->fax->modems.hdlc_rx.framing_ok_announced) {
        /* Without ECM: the page's training was lost. Mark the image carrier as attempted, as
         * spandsp does when training starts, so the post-page command (MPS/EOP) is answered
         * RTN (page not received, retrain) rather than taken for a repeat and confirmed MCF. */
        s->image_carrier_attempted = 1;
        t->carrier_holds++;
    }
    t->hold_left -= len;
    if (ecm && t->hold_left <= 0 && !t->hold_counted) {
        t->hold_counted = 1;      /* without the guard T2 would have expired now */
        t->carrier_holds++;
    }
    if (s->timer_t2_t4 < SPANDSP_T2_SAMPLES)
        s->timer_t2_t4 = SPANDSP_T2_SAMPLES;
}

/* spandsp 0.0.6 t30.c: T30_PHASE_IDLE (a private enum): no phase change queued. */
enum { SPANDSP_T30_PHASE_IDLE = 0 };

static void clear_stale_carrier(faxterm_t *t)
{
    /* The safety net behind feeding one sample at a time (faxterm.h, "A receiver switched off
     * mid-buffer"): T.30 believes a carrier is present and has queued a phase change until it
     * drops, but no receiver is running that could ever report it gone. Report it gone through
     * spandsp's own HDLC status entry, so the queued phase change happens; count it. */
    t30_state_t *s = t->t30;
    if (s->rx_signal_present && s->next_phase != SPANDSP_T30_PHASE_IDLE
        && t->fax->modems.current_rx_type == T30_MODEM_NONE) {
        t->stale_carriers++;
        t30_hdlc_accept(s, NULL, SIG_STATUS_CARRIER_DOWN, 1);
    }
}

static void resend_rejected_pages(faxterm_t *t)
{
    /* As a sender: a page the receiver rejects (RTN) is sent again after retraining, as most fax
     * machines do; spandsp 0.0.6 would go on to the next page and lose it. */
    t->t30->retransmit_capable = 1;
}
#else
#define FAXTERM_PAGE_CARRIER_GUARD 0
static void guard_page_carrier(faxterm_t *t, int len)
{
    (void) t;
    (void) len;
}

static void resend_rejected_pages(faxterm_t *t)
{
    (void) t;
}

static void clear_stale_carrier(faxterm_t *t)
{
    (void) t;
}
#endif

void faxterm_set_v21_cutoff(faxterm_t *t, float dbm0)
{
    fsk_rx_state_t *rx = &t->fax->modems.v21_rx;
    fsk_rx_signal_cutoff(rx, dbm0);
    t->v21_on_power = rx->carrier_on_power;
    t->v21_off_power = rx->carrier_off_power;
    t->v21_cutoff_set = 1;
}

static void keep_v21_cutoff(faxterm_t *t)
{
    /* The thresholds live in the V.21 receiver's state; should spandsp set them again when it
     * restarts that receiver, the installer's cut-off is put back (two compares a buffer). */
    fsk_rx_state_t *rx = &t->fax->modems.v21_rx;
    if (rx->carrier_on_power != t->v21_on_power || rx->carrier_off_power != t->v21_off_power) {
        rx->carrier_on_power = t->v21_on_power;
        rx->carrier_off_power = t->v21_off_power;
    }
}

void faxterm_rx(faxterm_t *t, const int16_t *amp, int len)
{
    /* One sample at a time: a receiver T.30 switches off part-way through a buffer must not see
     * the rest of it (faxterm.h, "A receiver switched off mid-buffer"). fax_rx does not write to
     * the buffer; its prototype is just not const. */
    if (t->v21_cutoff_set)
        keep_v21_cutoff(t);
    if (t->whole_buffers)
        fax_rx(t->fax, (int16_t *) amp, len);
    else
        for (int i = 0; i < len; i++)
            fax_rx(t->fax, (int16_t *) amp + i, 1);
    guard_page_carrier(t, len);
    clear_stale_carrier(t);
    t->samples += len;
}

void faxterm_set_whole_buffers(faxterm_t *t, int on)
{
    t->whole_buffers = on ? 1 : 0;
}

int faxterm_page_carrier_guard(void)
{
    return FAXTERM_PAGE_CARRIER_GUARD;
}

void faxterm_set_page_carrier_guard(faxterm_t *t, int on)
{
    t->guard_off = on ? 0 : 1;
}

void faxterm_tx(faxterm_t *t, int16_t *amp, int len)
{
    int n = fax_tx(t->fax, amp, len);
    if (n < 0)
        n = 0;
    if (n < len)
        memset(amp + n, 0, (size_t) (len - n) * sizeof(int16_t));
}

void faxterm_report(faxterm_t *t, faxterm_report_t *out)
{
    t30_stats_t st;
    t30_get_transfer_statistics(t->t30, &st);
    out->done = t->done;
    out->result = t->result;
    out->phase_b_seen = t->phase_b_seen;
    out->bad_rows_total = t->bad_rows_total;
    out->carrier_holds = t->carrier_holds;
    out->stale_carriers = t->stale_carriers;
    out->pages_tx = st.pages_tx;
    out->pages_rx = st.pages_rx;
    out->pages_in_file = st.pages_in_file;
    out->bit_rate = st.bit_rate;
    out->ecm = st.error_correcting_mode ? 1 : 0;
    out->ecm_retries = st.error_correcting_mode_retries;
    out->bad_rows = st.bad_rows;
    out->longest_bad_row_run = st.longest_bad_row_run;
    out->x_resolution = st.x_resolution;
    out->y_resolution = st.y_resolution;
    out->width = st.width;
    out->length = st.length;
}

const char *faxterm_remote_ident(faxterm_t *t)
{
    const char *id = t30_get_rx_ident(t->t30);
    return id != NULL ? id : "";
}

void faxterm_hangup(faxterm_t *t)
{
    /* The line went away: T.30 ends the session (phase E with the code it
     * finds appropriate, e.g. call dropped) and closes its files. */
    t30_terminate(t->t30);
}

void faxterm_free(faxterm_t *t)
{
    if (t == NULL)
        return;
    fax_release(t->fax);
    fax_free(t->fax);
    free(t);
}

const char *faxterm_result_text(int code)
{
    return t30_completion_code_to_str(code);
}

int faxterm_events(faxterm_t *t, faxterm_event_t *out, int max)
{
    int n = t->ev_count < max ? t->ev_count : max;
    int first = (t->ev_head - t->ev_count + FAXTERM_MAX_EVENTS) % FAXTERM_MAX_EVENTS;
    for (int i = 0; i < n; i++)
        out[i] = t->events[(first + i) % FAXTERM_MAX_EVENTS];
    t->ev_count -= n;
    return n;
}

int faxterm_events_lost(faxterm_t *t)
{
    return t->ev_lost;
}

const char *faxterm_frame_name(int fcf)
{
    return t30_frametype((uint8_t) fcf);
}

int faxterm_set_header(faxterm_t *t, const char *info)
{
    return t30_set_tx_page_header_info(t->t30, info);
}

/* ---- TIFF-F ---- */

int faxtiff_write(const char *path, const uint8_t *rows, int pages, int width, int height, int y_lpi)
{
    if (pages < 1 || width < 8 || height < 1 || (y_lpi != 98 && y_lpi != 196 && y_lpi != 391))
        return -1;
    TIFF *tif = TIFFOpen(path, "w");
    if (tif == NULL)
        return -2;
    size_t stride = (size_t) (width + 7) / 8;
    for (int p = 0; p < pages; p++) {
        TIFFSetField(tif, TIFFTAG_SUBFILETYPE, FILETYPE_PAGE);
        TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, (uint32_t) width);
        TIFFSetField(tif, TIFFTAG_IMAGELENGTH, (uint32_t) height);
        TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, 1);
        TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, 1);
        TIFFSetField(tif, TIFFTAG_COMPRESSION, COMPRESSION_CCITTFAX4);
        TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISWHITE);
        TIFFSetField(tif, TIFFTAG_FILLORDER, FILLORDER_LSB2MSB);
        TIFFSetField(tif, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
        TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, (uint32_t) height);
        TIFFSetField(tif, TIFFTAG_RESOLUTIONUNIT, RESUNIT_INCH);
        TIFFSetField(tif, TIFFTAG_XRESOLUTION, 204.0f);
        TIFFSetField(tif, TIFFTAG_YRESOLUTION, (float) (y_lpi == 98 ? 98.0 : y_lpi == 196 ? 196.0 : 391.0));
        TIFFSetField(tif, TIFFTAG_PAGENUMBER, (uint16_t) p, (uint16_t) pages);
        TIFFSetField(tif, TIFFTAG_SOFTWARE, "Linebox");
        const uint8_t *page = rows + (size_t) p * stride * (size_t) height;
        for (int r = 0; r < height; r++) {
            if (TIFFWriteScanline(tif, (void *) (page + (size_t) r * stride), (uint32_t) r, 0) < 0) {
                TIFFClose(tif);
                return -3;
            }
        }
        if (!TIFFWriteDirectory(tif)) {
            TIFFClose(tif);
            return -3;
        }
    }
    TIFFClose(tif);
    return 0;
}

static void quiet_handler(const char *module, const char *fmt, va_list ap)
{
    (void) module;
    (void) fmt;
    (void) ap;
}

static TIFF *open_quiet(const char *path)
{
    TIFFSetWarningHandler(quiet_handler);
    TIFFSetErrorHandler(quiet_handler);
    return TIFFOpen(path, "r");
}

int faxtiff_pages(const char *path)
{
    TIFF *tif = open_quiet(path);
    if (tif == NULL)
        return -2;
    int n = TIFFNumberOfDirectories(tif);
    TIFFClose(tif);
    return n;
}

int faxtiff_page_info(const char *path, int page, int *width, int *height, float *x_dpi, float *y_dpi)
{
    TIFF *tif = open_quiet(path);
    if (tif == NULL)
        return -2;
    if (!TIFFSetDirectory(tif, (uint16_t) page)) {
        TIFFClose(tif);
        return -4;
    }
    uint32_t w = 0, h = 0;
    float xr = 0.0f, yr = 0.0f;
    uint16_t unit = RESUNIT_INCH, bps = 1, spp = 1;
    TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &w);
    TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &h);
    TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &bps);
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &spp);
    TIFFGetField(tif, TIFFTAG_XRESOLUTION, &xr);
    TIFFGetField(tif, TIFFTAG_YRESOLUTION, &yr);
    TIFFGetFieldDefaulted(tif, TIFFTAG_RESOLUTIONUNIT, &unit);
    TIFFClose(tif);
    if (bps != 1 || spp != 1)
        return -5;
    if (unit == RESUNIT_CENTIMETER) {
        xr *= 2.54f;
        yr *= 2.54f;
    }
    *width = (int) w;
    *height = (int) h;
    *x_dpi = xr;
    *y_dpi = yr;
    return 0;
}

int faxtiff_read_page(const char *path, int page, uint8_t *rows, int width, int height)
{
    TIFF *tif = open_quiet(path);
    if (tif == NULL)
        return -2;
    if (!TIFFSetDirectory(tif, (uint16_t) page)) {
        TIFFClose(tif);
        return -4;
    }
    uint32_t w = 0, h = 0;
    uint16_t photometric = PHOTOMETRIC_MINISWHITE, bps = 1;
    TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &w);
    TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &h);
    TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &bps);
    TIFFGetField(tif, TIFFTAG_PHOTOMETRIC, &photometric);
    if ((int) w != width || (int) h != height || bps != 1 || (tsize_t) ((width + 7) / 8) > TIFFScanlineSize(tif) + 0) {
        TIFFClose(tif);
        return -5;
    }
    size_t stride = (size_t) (width + 7) / 8;
    for (int r = 0; r < height; r++) {
        uint8_t *row = rows + (size_t) r * stride;
        if (TIFFReadScanline(tif, row, (uint32_t) r, 0) < 0) {
            TIFFClose(tif);
            return -6;
        }
        if (photometric == PHOTOMETRIC_MINISBLACK)
            for (size_t i = 0; i < stride; i++)
                row[i] = (uint8_t) ~row[i];
    }
    TIFFClose(tif);
    return 0;
}
