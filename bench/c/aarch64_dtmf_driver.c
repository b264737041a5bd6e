/* aarch64 check of the DTMF rows call (bench/aarch64.py): PORTS (argv[2]) ports' int16
 * signals, one after another in the file argv[1], run as the media tick runs them: one
 * dtmf_receiver_rows call per 10 ms tick for all ports; with argv[3] = 0 everything but that
 * call (the baseline an instruction count subtracts); with argv[4] = "process" and one port,
 * dtmf_rx_process on the port's frame instead (the one-port call bench dtmf compares with
 * spandsp on x86). Prints the filter copy and the digits found. Built by the cross compiler against a tree's dsp_ext/src, run under qemu-user. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtmf_receiver.h"

#define FRAME 80
#define MAX_PORTS 32

int main(int argc, char **argv)
{
    if (argc < 4)
        return 2;
    const int ports = atoi(argv[2]), run = atoi(argv[3]);
    const int single = argc > 4 && strcmp(argv[4], "process") == 0;
    FILE *f = fopen(argv[1], "rb");
    if (f == NULL || ports < 1 || ports > MAX_PORTS || (single && ports != 1) || fseek(f, 0, SEEK_END) != 0)
        return 1;
    const long bytes = ftell(f);
    const size_t n = (size_t) bytes / 2 / (size_t) ports;
    int16_t *sig = malloc((size_t) bytes), *tick = malloc(sizeof(int16_t) * FRAME * MAX_PORTS);
    if (sig == NULL || tick == NULL || fseek(f, 0, SEEK_SET) != 0 || fread(sig, 1, (size_t) bytes, f) != (size_t) bytes)
        return 1;
    fclose(f);
    static dtmf_rx_t one;
    static dtmf_event_t events[32];
    dtmf_rx_init(&one, 22826.36);
    static dtmf_receiver_t rcv[MAX_PORTS];
    static dtmf_report_t out[16 * MAX_PORTS];
    dtmf_receiver_t *rs[MAX_PORTS];
    uint8_t order[MAX_PORTS];
    for (int p = 0; p < ports; p++) {
        dtmf_receiver_init(&rcv[p], 22826.36);
        rs[p] = &rcv[p];
        order[p] = (uint8_t) p;
    }
    dtmf_rows_t t = {rs, ports, FRAME, out, 16 * MAX_PORTS, NULL};
    long digits = 0;
    for (size_t k = 0; k + FRAME <= n; k += FRAME) {
        for (int p = 0; p < ports; p++)      /* the filling: each port's frame into the tick */
            memcpy(tick + (size_t) p * FRAME, sig + (size_t) p * n + k, sizeof(int16_t) * FRAME);
        if (run && single) {
            const int got = dtmf_rx_process(&one, tick, FRAME, events, 32);
            for (int i = 0; i < got; i++)
                digits += events[i].kind == DTMF_EV_START;
        } else if (run)
            digits += dtmf_receiver_rows(&t, order, ports, tick, NULL, 0, NULL, DTMF_REPORT_STARTS);
    }
    printf("%s %ld\n", dtmf_simd_variant(), digits);
    free(sig);
    free(tick);
    return 0;
}
