/* The spandsp side of `python -m bench`: spandsp's line echo canceller and DTMF
 * receiver timed (and run) on signals that bench/__main__.py writes to files.
 * Nothing of Linebox is compiled here: our side is timed in Python on the
 * extension that `pip install` built (dsp_ext._dsp), the one that ships.
 *
 *   spandsp_peer ec-time FAR NEAR RUNS [muted]
 *                                            -> JSON lines: best ns/sample (printf muted / as packaged;
 *                                               with "muted", the first only)
 *   spandsp_peer ec-run FAR NEAR OUT         -> OUT: spandsp's output (adaption only, for ERLE)
 *   spandsp_peer ec-once FAR NEAR            -> one muted pass with the line modes (for callgrind)
 *   spandsp_peer dtmf-time SIGNAL RUNS       -> JSON line: best ns/sample and the digits found
 *   spandsp_peer dtmf-ports-time SIGNALS PORTS RUNS
 *                                            -> JSON line: PORTS receivers, one tick (a 10 ms frame
 *                                               of each port, port after port) timed at a time;
 *                                               SIGNALS holds PORTS rows of equal length. As the
 *                                               engine's media loop packs the frames the board gave
 *                                               each port, each tick first copies every port's frame
 *                                               from its own row into one tick buffer (in the timing)
 *
 * and, so that both sides can be timed in the same C loop with no interpreter
 * around either, our installed extension (dsp_ext/_dsp*.so as pip built it,
 * loaded with dlopen: nothing of ours is compiled here either):
 *
 *   spandsp_peer ours-ec-time SO LIBPYTHON FAR NEAR RUNS VARIANT
 *   spandsp_peer ours-dtmf-time SO LIBPYTHON RX_SIZE EVENT_SIZE SIGNAL RUNS
 *
 * LIBPYTHON is loaded first (the extension refers to its symbols; no Python
 * code runs); RX_SIZE and EVENT_SIZE are sizeof(dtmf_rx_t) and
 * sizeof(dtmf_event_t) as the extension's cffi reports them (our headers are
 * not included: their names clash with spandsp's).
 *
 * Files are raw int16 (host order) at 8 kHz. Timing: clock_gettime(CLOCK_MONOTONIC)
 * around each 80-sample (10 ms) frame, as on a port; one warm-up run, then RUNS
 * runs, and each frame's least time over them (every run replays the same work,
 * so the least is the frame's cost without a shared machine's preemptions); the
 * figure is the sum of those least times per sample.
 *
 * The Debian build of spandsp 0.0.6 printf()s debug text from inside
 * echo_can_update() on every sample. We time it twice: "as packaged" (that text
 * going to /dev/null) and "printf muted" (this program provides __printf_chk,
 * which the dynamic linker binds spandsp's calls to), so the ratio quoted is
 * against spandsp's arithmetic, not its logging.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
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

/* Each frame's least time over the runs (least[] starts at 1e30), run 0 being the warm-up. */
static void keep_least(double *least, int frame, int run, double t)
{
    if (run > 0 && t < least[frame])
        least[frame] = t;
}

static double least_ns_per_sample(const double *least, int frames, int n)
{
    double sum = 0.0;
    for (int f = 0; f < frames; f++)
        sum += least[f];
    return sum * 1e9 / n;
}

static double *least_times(int frames)
{
    double *least = malloc(sizeof(double) * (size_t)(frames + 1));
    for (int f = 0; f <= frames; f++)
        least[f] = 1e30;
    return least;
}

static void ec_run(echo_can_state_t *ec, const int16_t *far, const int16_t *near, int16_t *out, int n)
{
    for (int k = 0; k < n; k += FRAME)
        for (int i = k; i < k + FRAME && i < n; i++)
            out[i] = echo_can_update(ec, far[i], near[i]);
}

static double time_ec(const int16_t *far, const int16_t *near, int16_t *out, int n, int runs)
{
    const int frames = (n + FRAME - 1) / FRAME;
    double *least = least_times(frames);
    for (int r = 0; r <= runs; r++) {
        echo_can_state_t *ec = echo_can_init(1024, LINE_MODES);
        for (int k = 0; k < n; k += FRAME) {
            double t = now();
            for (int i = k; i < k + FRAME && i < n; i++)
                out[i] = echo_can_update(ec, far[i], near[i]);
            keep_least(least, k / FRAME, r, now() - t);
        }
        echo_can_free(ec);
    }
    double ns = least_ns_per_sample(least, frames, n);
    free(least);
    return ns;
}

/* ---- our side, from the installed extension ---------------------------------------------- */

static void *ours_open(const char *so, const char *libpython)
{
    if (!dlopen(libpython, RTLD_NOW | RTLD_GLOBAL)) {
        fprintf(stderr, "%s\n", dlerror());
        exit(2);
    }
    void *h = dlopen(so, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "%s\n", dlerror());
        exit(2);
    }
    return h;
}

static void *ours_sym(void *h, const char *name)
{
    void *f = dlsym(h, name);
    if (!f) {
        fprintf(stderr, "%s: %s\n", name, dlerror());
        exit(2);
    }
    return f;
}

static int ours_ec_time(char **argv)
{
    void *h = ours_open(argv[2], argv[3]);
    size_t (*state_size)(void) = (size_t(*)(void))ours_sym(h, "echo_state_size");
    int (*init)(void *, int, int) = (int (*)(void *, int, int))ours_sym(h, "echo_init");
    void (*process)(void *, const int16_t *, const int16_t *, int16_t *, size_t)
        = (void (*)(void *, const int16_t *, const int16_t *, int16_t *, size_t))ours_sym(h, "echo_process");
    int (*select)(const char *) = (int (*)(const char *))ours_sym(h, "echo_simd_select");
    int n, m;
    int16_t *far = load(argv[4], &n), *near = load(argv[5], &m);
    int runs = atoi(argv[6]) > 0 ? atoi(argv[6]) : 1;
    n = n < m ? n : m;
    int16_t *out = malloc(2 * (size_t)n);
    void *st = aligned_alloc(64, (state_size() + 63) / 64 * 64);
    const int flags = 1 | 2 | 4; /* ECHO_NLP | ECHO_CNG | ECHO_HPF, as the engine runs it */
    init(st, 1024, flags); /* the first init picks the default copy; then force the one asked for */
    if (select(argv[7]) != 0) {
        fprintf(stderr, "tap pass %s: not on this CPU\n", argv[7]);
        return 2;
    }
    const int frames = n / FRAME;
    double *least = least_times(frames);
    for (int r = 0; r <= runs; r++) {
        init(st, 1024, flags);
        for (int k = 0; k + FRAME <= n; k += FRAME) {
            double t = now();
            process(st, far + k, near + k, out + k, FRAME);
            keep_least(least, k / FRAME, r, now() - t);
        }
    }
    printf("{\"what\":\"ec\",\"impl\":\"ours_c_loop\",\"variant\":\"%s\",\"ns_per_sample\":%.2f}\n", argv[7],
           least_ns_per_sample(least, frames, frames * FRAME));
    return 0;
}

static int ours_dtmf_time(char **argv)
{
    void *h = ours_open(argv[2], argv[3]);
    void (*init)(void *, double) = (void (*)(void *, double))ours_sym(h, "dtmf_rx_init");
    int (*process)(void *, const int16_t *, int, void *, int)
        = (int (*)(void *, const int16_t *, int, void *, int))ours_sym(h, "dtmf_rx_process");
    size_t rx_size = (size_t)atol(argv[4]), ev_size = (size_t)atol(argv[5]);
    int n;
    int16_t *sig = load(argv[6], &n);
    int runs = atoi(argv[7]) > 0 ? atoi(argv[7]) : 1;
    void *rx = aligned_alloc(64, (rx_size + 63) / 64 * 64);
    unsigned char *ev = malloc(32 * ev_size);
    int digits = 0;
    const int frames = (n + FRAME - 1) / FRAME;
    double *least = least_times(frames);
    for (int r = 0; r <= runs; r++) {
        init(rx, 22826.36098786756); /* the peak of a 0 dBm0 sine, as dsp_ext.levels.DBM0_PEAK */
        digits = 0;
        for (int k = 0; k < n; k += FRAME) {
            double t = now();
            int got = process(rx, sig + k, n - k < FRAME ? n - k : FRAME, ev, 32);
            for (int i = 0; i < got; i++)
                digits += *(const int *)(const void *)(ev + (size_t)i * ev_size) == 1; /* kind: DTMF_EV_START */
            keep_least(least, k / FRAME, r, now() - t);
        }
    }
    printf("{\"what\":\"dtmf\",\"impl\":\"ours_c_loop\",\"ns_per_sample\":%.2f,\"digits\":%d}\n",
           least_ns_per_sample(least, frames, n), digits);
    return 0;
}

int main(int argc, char **argv)
{
    devnull = fopen("/dev/null", "w");
    setvbuf(stdout, NULL, _IOLBF, 0);
    if ((argc == 5 || (argc == 6 && strcmp(argv[5], "muted") == 0)) && strcmp(argv[1], "ec-time") == 0) {
        int n, m;
        int16_t *far = load(argv[2], &n), *near = load(argv[3], &m);
        int runs = atoi(argv[4]) > 0 ? atoi(argv[4]) : 1;
        n = n < m ? n : m;
        int16_t *out = malloc(2 * (size_t)n);
        printf_muted = 1;
        printf("{\"what\":\"ec\",\"impl\":\"spandsp\",\"ns_per_sample\":%.2f}\n", time_ec(far, near, out, n, runs));
        if (argc == 6) /* muted only */
            return 0;
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
        const int frames = (n + FRAME - 1) / FRAME;
        double *least = least_times(frames);
        for (int r = 0; r <= runs; r++) {
            dtmf_rx_state_t *rx = dtmf_rx_init(NULL, NULL, NULL);
            nd = 0;
            for (int k = 0; k < n; k += FRAME) {
                double t = now();
                dtmf_rx(rx, sig + k, n - k < FRAME ? n - k : FRAME);
                nd += (int)dtmf_rx_get(rx, got + nd, 511 - nd);
                keep_least(least, k / FRAME, r, now() - t);
            }
            dtmf_rx_free(rx);
        }
        got[nd] = 0;
        printf("{\"what\":\"dtmf\",\"impl\":\"spandsp\",\"ns_per_sample\":%.2f,\"digits\":\"%s\"}\n",
               least_ns_per_sample(least, frames, n), got);
        return 0;
    }
    if (argc == 5 && strcmp(argv[1], "dtmf-ports-time") == 0) {
        int total, ports = atoi(argv[3]);
        int16_t *sig = load(argv[2], &total);
        int runs = atoi(argv[4]) > 0 ? atoi(argv[4]) : 1;
        if (ports < 1 || total % ports != 0) {
            fprintf(stderr, "dtmf-ports-time: %d samples do not make %d equal rows\n", total, ports);
            return 2;
        }
        const int n = total / ports, frames = (n + FRAME - 1) / FRAME;
        dtmf_rx_state_t **rx = malloc(sizeof(*rx) * (size_t)ports);
        int16_t *tick = malloc(sizeof(*tick) * (size_t)ports * FRAME);
        double *least = least_times(frames);
        char got[512];
        int nd = 0;
        for (int r = 0; r <= runs; r++) {
            for (int p = 0; p < ports; p++)
                rx[p] = dtmf_rx_init(NULL, NULL, NULL);
            nd = 0;
            for (int k = 0; k < n; k += FRAME) {
                const int m = n - k < FRAME ? n - k : FRAME;
                double t = now();
                for (int p = 0; p < ports; p++)
                    memcpy(tick + (size_t)p * FRAME, sig + (size_t)p * (size_t)n + k, sizeof(*tick) * (size_t)m);
                for (int p = 0; p < ports; p++) {
                    dtmf_rx(rx[p], tick + (size_t)p * FRAME, m);
                    nd += (int)dtmf_rx_get(rx[p], got, 511);
                }
                keep_least(least, k / FRAME, r, now() - t);
            }
            for (int p = 0; p < ports; p++)
                dtmf_rx_free(rx[p]);
        }
        printf("{\"what\":\"dtmf\",\"impl\":\"spandsp_ports\",\"ports\":%d,\"ns_per_sample\":%.2f,\"digits\":%d}\n",
               ports, least_ns_per_sample(least, frames, n) / ports, nd);
        return 0;
    }
    if (argc == 8 && strcmp(argv[1], "ours-ec-time") == 0)
        return ours_ec_time(argv);
    if (argc == 8 && strcmp(argv[1], "ours-dtmf-time") == 0)
        return ours_dtmf_time(argv);
    fprintf(stderr, "usage: spandsp_peer ec-time FAR NEAR RUNS [muted] | ec-run FAR NEAR OUT | dtmf-time SIGNAL RUNS\n"
                    "       | dtmf-ports-time SIGNALS PORTS RUNS\n"
                    "       | ours-ec-time SO LIBPYTHON FAR NEAR RUNS VARIANT\n"
                    "       | ours-dtmf-time SO LIBPYTHON RX_SIZE EVENT_SIZE SIGNAL RUNS\n");
    return 2;
}
