/* Our side of the benchmark, in its own translation unit: our headers and
 * spandsp's declare some of the same names (dtmf_rx_init, ...), so this file
 * and dsp_ext/src are compiled with those names renamed (-Dname=linebox_name,
 * worked out by bench/__main__.py) and bench.c only sees the ours_* wrappers. */
#include <stdint.h>
#include <stdlib.h>

#include "dtmf.h"
#include "echo.h"
#include "ours.h"

void *ours_ec_new(int taps, int nlp)
{
    echo_t *s = malloc(sizeof(*s));
    if (s && echo_init(s, taps, (nlp ? ECHO_NLP | ECHO_CNG : 0) | ECHO_HPF) != 0) {
        free(s);
        return NULL;
    }
    return s;
}

void ours_ec_run(void *ec, const int16_t *far, const int16_t *near, int16_t *out, int n, int frame)
{
    for (int k = 0; k < n; k += frame)
        echo_process(ec, far + k, near + k, out + k, (size_t)(n - k < frame ? n - k : frame));
}

void ours_ec_free(void *ec)
{
    free(ec);
}

void *ours_dtmf_new(double dbm0_peak)
{
    dtmf_rx_t *s = malloc(sizeof(*s));
    if (s)
        dtmf_rx_init(s, dbm0_peak);
    return s;
}

int ours_dtmf_run(void *rx, const int16_t *in, int n, int frame, char *digits, int max_digits)
{
    dtmf_event_t ev[16];
    int got = 0;
    for (int k = 0; k < n; k += frame) {
        int m = n - k < frame ? n - k : frame;
        int ne = dtmf_rx_process(rx, in + k, m, ev, 16);
        for (int i = 0; i < ne; i++)
            if (ev[i].kind == DTMF_EV_START && got < max_digits)
                digits[got++] = ev[i].digit;
    }
    return got;
}

void ours_dtmf_free(void *rx)
{
    free(rx);
}
