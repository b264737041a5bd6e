/* The spandsp side of `python -m bench`: spandsp's line echo canceller and DTMF
 * receiver timed (and run) on signals that bench/__main__.py writes to files.
 * Nothing of Linebox is compiled here: our side is timed in Python on the
 * extension that `pip install` built (dsp_ext._dsp), the one that ships.
 *
 *   spandsp_peer ec-time FAR NEAR RUNS       -> JSON lines: best ns/sample (printf muted / as packaged)
 *   spandsp_peer ec-run FAR NEAR OUT         -> OUT: spandsp's output (adaption only, for ERLE)
 *   spandsp_peer ec-once FAR NEAR            -> one muted pass with the line modes (for callgrind)
 *   spandsp_peer dtmf-time SIGNAL RUNS       -> JSON line: best ns/sample and the digits found
 *
 * Files are raw int16 (host order) at 8 kHz. Timing: clock_gettime(CLOCK_MONOTONIC),
 * one warm-up run, best of RUNS, in 80-sample (10 ms) frames as on a port.
 *
 * The Debian build of spandsp 0.0.6 printf()s debug text from inside
 * echo_can_update() on every sample. We time it twice: "as packaged" (that text
 * going to /dev/null) and "printf muted" (this program provides __printf_chk,
 * which the dynamic linker binds spandsp's calls to), so the ratio quoted is
 * against spandsp's arithmetic, not its logging.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <spandsp.h>

#define FRAME 80

static int printf_muted;
static FILE *devnull;

int __printf_chk(int flag, const char *fmt, ...);
int __printf_chk(int flag, const char *fmt, ...)
{
    (void)flag;
    if (printf_muted || !devnull)
        return 0;
    va_list ap;
    va_start(ap, fmt);
    int r = vfprintf(devnull, fmt, ap);
    va_end(ap);
    return r;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int16_t *load(const char *path, int *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    long bytes = ftell(f);
    fseek(f, 0, SEEK_SET);
    int16_t *x = malloc((size_t)bytes + 2);
    if (!x || fread(x, 1, (size_t)bytes, f) != (size_t)bytes) {
        fprintf(stderr, "%s: read failed\n", path);
        exit(2);
    }
    fclose(f);
    *n = (int)(bytes / 2);
    return x;
}

static const int LINE_MODES = ECHO_CAN_USE_ADAPTION | ECHO_CAN_USE_NLP | ECHO_CAN_USE_CNG | ECHO_CAN_USE_TX_HPF
                              | ECHO_CAN_USE_RX_HPF;

static void ec_run(echo_can_state_t *ec, const int16_t *far, const int16_t *near, int16_t *out, int n)
{
    for (int k = 0; k < n; k += FRAME)
        for (int i = k; i < k + FRAME && i < n; i++)
            out[i] = echo_can_update(ec, far[i], near[i]);
}

static double time_ec(const int16_t *far, const int16_t *near, int16_t *out, int n, int runs)
{
    double best = 1e30;
    for (int r = 0; r <= runs; r++) {
        echo_can_state_t *ec = echo_can_init(1024, LINE_MODES);
        double t = now();
        ec_run(ec, far, near, out, n);
        t = now() - t;
        echo_can_free(ec);
        if (r > 0 && t < best) /* run 0 is the warm-up */
            best = t;
    }
    return best * 1e9 / n;
}

int main(int argc, char **argv)
{
    devnull = fopen("/dev/null", "w");
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 5 && strcmp(argv[1], "ec-time") == 0) {
        int n, m;
        int16_t *far = load(argv[2], &n), *near = load(argv[3], &m);
        int runs = atoi(argv[4]) > 0 ? atoi(argv[4]) : 1;
        n = n < m ? n : m;
        int16_t *out = malloc(2 * (size_t)n);
        printf_muted = 1;
        printf("{\"what\":\"ec\",\"impl\":\"spandsp\",\"ns_per_sample\":%.2f}\n", time_ec(far, near, out, n, runs));
        printf_muted = 0;
        printf("{\"what\":\"ec\",\"impl\":\"spandsp_as_packaged\",\"ns_per_sample\":%.2f}\n",
               time_ec(far, near, out, n, 1));
        return 0;
    }
    if (argc == 4 && strcmp(argv[1], "ec-once") == 0) { /* one muted pass with the line modes (callgrind) */
        int n, m;
        int16_t *far = load(argv[2], &n), *near = load(argv[3], &m);
        n = n < m ? n : m;
        int16_t *out = malloc(2 * (size_t)n);
        printf_muted = 1;
        echo_can_state_t *ec = echo_can_init(1024, LINE_MODES);
        ec_run(ec, far, near, out, n);
        echo_can_free(ec);
        return 0;
    }
    if (argc == 5 && strcmp(argv[1], "ec-run") == 0) {
        int n, m;
        int16_t *far = load(argv[2], &n), *near = load(argv[3], &m);
        n = n < m ? n : m;
        int16_t *out = malloc(2 * (size_t)n);
        printf_muted = 1;
        echo_can_state_t *ec = echo_can_init(1024, ECHO_CAN_USE_ADAPTION);
        ec_run(ec, far, near, out, n);
        echo_can_free(ec);
        FILE *f = fopen(argv[4], "wb");
        if (!f || fwrite(out, 2, (size_t)n, f) != (size_t)n)
            return 2;
        fclose(f);
        return 0;
    }
    if (argc == 4 && strcmp(argv[1], "dtmf-time") == 0) {
        int n;
        int16_t *sig = load(argv[2], &n);
        int runs = atoi(argv[3]) > 0 ? atoi(argv[3]) : 1;
        char got[512];
        int nd = 0;
        double best = 1e30;
        for (int r = 0; r <= runs; r++) {
            dtmf_rx_state_t *rx = dtmf_rx_init(NULL, NULL, NULL);
            double t = now();
            nd = 0;
            for (int k = 0; k < n; k += FRAME) {
                dtmf_rx(rx, sig + k, n - k < FRAME ? n - k : FRAME);
                nd += (int)dtmf_rx_get(rx, got + nd, 511 - nd);
            }
            t = now() - t;
            dtmf_rx_free(rx);
            if (r > 0 && t < best)
                best = t;
        }
        got[nd] = 0;
        printf("{\"what\":\"dtmf\",\"impl\":\"spandsp\",\"ns_per_sample\":%.2f,\"digits\":\"%s\"}\n", best * 1e9 / n, got);
        return 0;
    }
    fprintf(stderr, "usage: spandsp_peer ec-time FAR NEAR RUNS | ec-run FAR NEAR OUT | dtmf-time SIGNAL RUNS\n");
    return 2;
}
