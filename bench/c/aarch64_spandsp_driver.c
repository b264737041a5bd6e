/* aarch64 peer of bench/aarch64.py: Debian bookworm's arm64 spandsp (libspandsp.a from
 * libspandsp-dev:arm64 as Debian built it, linked statically; nothing of spandsp is rebuilt),
 * run on the same signal files as our drivers, under qemu-user, for an instruction count.
 *
 *   aarch64_spandsp_driver ec FAR NEAR RUN [W]    -> echo_can_update at 1024 taps, one sample per
 *                                                    call in 80-sample frames, the line modes
 *                                                    bench/c/spandsp_peer.c uses on x86; with W,
 *                                                    window_end() after every W samples (the
 *                                                    bench's --ec-windows mode)
 *   aarch64_spandsp_driver dtmf SIGNALS PORTS RUN -> PORTS dtmf_rx receivers, one 10 ms tick at a
 *                                                    time: each port's frame copied into the tick
 *                                                    buffer, then dtmf_rx + dtmf_rx_get per port
 *                                                    (the x86 peer's dtmf-ports-time filling)
 *
 * With RUN = 0, everything but the spandsp calls (the baseline an instruction count subtracts).
 * Prints the digits found (dtmf) so that the bench can check both sides did the same work.
 *
 * spandsp.h is not included: it pulls in libtiff's headers, which the cross sysroot lacks; the
 * few prototypes and mode bits needed are declared here as spandsp/echo.h and spandsp/dtmf.h
 * (0.0.6) declare them. As on x86, the Debian build printf()s debug text inside
 * echo_can_update(); this program provides __printf_chk (the static link takes ours), which
 * does nothing, so the count is spandsp's arithmetic, not its logging. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "s16_file.h"

typedef struct echo_can_state_s echo_can_state_t;
typedef struct dtmf_rx_state_s dtmf_rx_state_t;
typedef void (*digits_rx_callback_t)(void *user_data, const char *digits, int len);
echo_can_state_t *echo_can_init(int len, int adaption_mode);
int echo_can_free(echo_can_state_t *ec);
int16_t echo_can_update(echo_can_state_t *ec, int16_t tx, int16_t rx);
dtmf_rx_state_t *dtmf_rx_init(dtmf_rx_state_t *s, digits_rx_callback_t callback, void *user_data);
int dtmf_rx(dtmf_rx_state_t *s, const int16_t amp[], int samples);
size_t dtmf_rx_get(dtmf_rx_state_t *s, char *digits, int max);
int dtmf_rx_free(dtmf_rx_state_t *s);

/* spandsp/echo.h: ADAPTION 0x01, NLP 0x02, CNG 0x04, TX_HPF 0x20, RX_HPF 0x40 */
#define LINE_MODES (0x01 | 0x02 | 0x04 | 0x20 | 0x40)
#define FRAME 80
#define MAX_PORTS 32

int __printf_chk(int flag, const char *fmt, ...);
int __printf_chk(int flag, const char *fmt, ...)
{
    (void) flag;
    (void) fmt;
    return 0;
}

/* Does nothing; its address in qemu's log marks a window's end. */
__attribute__((noinline)) static void window_end(void)
{
    __asm__ __volatile__("");
}

static int ec(const char *far_path, const char *near_path, int run, size_t window)
{
    size_t n, m;
    int16_t *far = load(far_path, &n), *near = load(near_path, &m);
    if (far == NULL || near == NULL)
        return 1;
    n = n < m ? n : m;
    int16_t *out = malloc(2 * n);
    echo_can_state_t *s = echo_can_init(1024, LINE_MODES);
    if (out == NULL || s == NULL)
        return 1;
    for (size_t k = 0; k + FRAME <= n; k += FRAME) {
        if (run)
            for (size_t i = k; i < k + FRAME; i++)
                out[i] = echo_can_update(s, far[i], near[i]);
        if (window > 0 && (k + FRAME) % window == 0)
            window_end();
    }
    printf("spandsp\n");
    echo_can_free(s);
    free(far);
    free(near);
    free(out);
    return 0;
}

static int dtmf(const char *path, int ports, int run)
{
    size_t total;
    int16_t *sig = load(path, &total), *tick = malloc(sizeof(int16_t) * FRAME * MAX_PORTS);
    if (sig == NULL || tick == NULL || ports < 1 || ports > MAX_PORTS)
        return 1;
    const size_t n = total / (size_t) ports;
    dtmf_rx_state_t *rx[MAX_PORTS];
    for (int p = 0; p < ports; p++)
        if ((rx[p] = dtmf_rx_init(NULL, NULL, NULL)) == NULL)
            return 1;
    char got[512];
    long digits = 0;
    for (size_t k = 0; k + FRAME <= n; k += FRAME) {
        for (int p = 0; p < ports; p++)      /* the filling: each port's frame into the tick */
            memcpy(tick + (size_t) p * FRAME, sig + (size_t) p * n + k, sizeof(int16_t) * FRAME);
        if (run)
            for (int p = 0; p < ports; p++) {
                dtmf_rx(rx[p], tick + (size_t) p * FRAME, FRAME);
                digits += (long) dtmf_rx_get(rx[p], got, 511);
            }
    }
    printf("spandsp %ld\n", digits);
    for (int p = 0; p < ports; p++)
        dtmf_rx_free(rx[p]);
    free(sig);
    free(tick);
    return 0;
}

int main(int argc, char **argv)
{
    if ((argc == 5 || argc == 6) && strcmp(argv[1], "ec") == 0)
        return ec(argv[2], argv[3], atoi(argv[4]), argc == 6 ? strtoul(argv[5], NULL, 10) : 0);
    if (argc == 5 && strcmp(argv[1], "dtmf") == 0)
        return dtmf(argv[2], atoi(argv[3]), atoi(argv[4]));
    fprintf(stderr, "usage: aarch64_spandsp_driver ec FAR NEAR RUN [W] | dtmf SIGNALS PORTS RUN\n");
    return 2;
}
