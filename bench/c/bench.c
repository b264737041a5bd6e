/* Linebox DSP core vs spandsp: speed and quality in one run.
 *
 * Prints one JSON object per line (bench/__main__.py turns them into tables):
 *   {"what":"ec","impl":...,"ns_per_sample":...,"channels_per_core":...}
 *   {"what":"ec_erle","impl":...,"model":"d5","erl_db":6,"erle_1s_db":...,"erle_5s_db":...}
 *   {"what":"dtmf",...,"digits":"..."}
 * Timing: clock_gettime(CLOCK_MONOTONIC), one warm-up run, best of N runs.
 * Everything runs at 8 kHz on int16 in 80-sample (10 ms) frames, as on a port.
 *
 * The Debian build of spandsp 0.0.6 printf()s debug text from inside
 * echo_can_update() on every sample. We time it twice: "as packaged" (that text
 * going to /dev/null) and "printf muted" (this program provides __printf_chk,
 * which the dynamic linker binds spandsp's calls to), so the ratio we quote is
 * against spandsp's arithmetic, not its logging.
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <spandsp.h>
#include <spandsp/g168models.h>

#include "ours.h"

#define RATE 8000
#define FRAME 80
#define DBM0_PEAK 22826.36 /* peak of a 0 dBm0 sine: dsp_ext/levels.py */
#define DBM0_RMS (DBM0_PEAK / 1.41421356237)

static int printf_muted;
static FILE *devnull;

/* Interposes glibc's fortified printf for libspandsp (see the top comment). */
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

/* ---- signals ------------------------------------------------------------ */

static uint64_t rng_state = 0x243F6A8885A308D3ull;

static double uniform(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) * (1.0 / 9007199254740992.0);
}

static double gauss(void)
{
    double u = uniform() + 1e-12, v = uniform();
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

static int16_t clip16(double x)
{
    if (x > 32767.0)
        return 32767;
    if (x < -32768.0)
        return -32768;
    return (int16_t)lrint(x);
}

static int16_t mulaw(double x)
{
    return ulaw_to_linear(linear_to_ulaw(clip16(x)));
}

/* Speech-like: noise shaped roughly like the long-term speech spectrum (low
 * roll-off, peak near 500 Hz, falling above), switched in syllables of
 * 60-250 ms with 20-150 ms gaps; active level in dBm0. */
static void speech_like(double *out, int n, double level_dbm0)
{
    double lp1 = 0, lp2 = 0, prev = 0;
    int t = 0;
    memset(out, 0, sizeof(double) * (size_t)n);
    double acc = 0;
    int active = 0;
    while (t < n) {
        int len = 480 + (int)(uniform() * 1520);
        for (int i = 0; i < len && t + i < n; i++) {
            double w = gauss();
            lp1 = 0.6 * lp1 + w;
            lp2 = 0.6 * lp2 + lp1;
            double hp = lp2 - prev;
            prev = lp2;
            double env = sqrt(sin(3.141592653589793 * (i + 0.5) / len));
            out[t + i] = hp * env;
            acc += out[t + i] * out[t + i];
            active++;
        }
        t += len + 160 + (int)(uniform() * 1040);
    }
    double scale = DBM0_RMS * pow(10.0, level_dbm0 / 20.0) / sqrt(acc / (active ? active : 1));
    for (int i = 0; i < n; i++)
        out[i] *= scale;
}

/* A G.168 Annex D model, delayed, scaled to the ERL (power gain on white noise). */
static int echo_path(const int32_t *coeffs, int len, int delay, double erl_db, double *h)
{
    double e = 0;
    for (int i = 0; i < len; i++)
        e += (double)coeffs[i] * coeffs[i];
    double g = pow(10.0, -erl_db / 20.0) / sqrt(e);
    memset(h, 0, sizeof(double) * (size_t)(delay + len));
    for (int i = 0; i < len; i++)
        h[delay + i] = coeffs[i] * g;
    return delay + len;
}

static void line(const double *far_sig, int n, const double *h, int hlen, int16_t *far, int16_t *near)
{
    for (int i = 0; i < n; i++)
        far[i] = mulaw(far_sig[i]);
    for (int i = 0; i < n; i++) {
        double y = 0;
        for (int k = 0; k < hlen && k <= i; k++)
            y += h[k] * far[i - k];
        near[i] = mulaw(y);
    }
}

static double mean_square(const int16_t *x, int n)
{
    double e = 1e-3;
    for (int i = 0; i < n; i++)
        e += (double)x[i] * x[i];
    return e / n;
}

/* ---- echo canceller ------------------------------------------------------ */

static const int SPANDSP_LINE_MODES = ECHO_CAN_USE_ADAPTION | ECHO_CAN_USE_NLP | ECHO_CAN_USE_CNG
                                      | ECHO_CAN_USE_TX_HPF | ECHO_CAN_USE_RX_HPF;

static void spandsp_ec_run(echo_can_state_t *ec, const int16_t *far, const int16_t *near, int16_t *out, int n)
{
    for (int k = 0; k < n; k += FRAME)
        for (int i = k; i < k + FRAME && i < n; i++)
            out[i] = echo_can_update(ec, far[i], near[i]);
}

static double time_ours_ec(const int16_t *far, const int16_t *near, int16_t *out, int n, int runs)
{
    double best = 1e30;
    for (int r = 0; r <= runs; r++) {
        void *ec = ours_ec_new(1024, 1);
        double t = now();
        ours_ec_run(ec, far, near, out, n, FRAME);
        t = now() - t;
        ours_ec_free(ec);
        if (r > 0 && t < best) /* run 0 is the warm-up */
            best = t;
    }
    return best;
}

static double time_spandsp_ec(const int16_t *far, const int16_t *near, int16_t *out, int n, int runs)
{
    double best = 1e30;
    for (int r = 0; r <= runs; r++) {
        echo_can_state_t *ec = echo_can_init(1024, SPANDSP_LINE_MODES);
        double t = now();
        spandsp_ec_run(ec, far, near, out, n);
        t = now() - t;
        echo_can_free(ec);
        if (r > 0 && t < best)
            best = t;
    }
    return best;
}

static void report_speed(const char *what, const char *impl, double seconds, int n)
{
    double ns = seconds * 1e9 / n;
    printf("{\"what\":\"%s\",\"impl\":\"%s\",\"ns_per_sample\":%.2f,\"channels_per_core\":%.0f}\n",
           what, impl, ns, 1e9 / (ns * RATE));
}

struct model {
    const char *name;
    const int32_t *coeffs;
    int len;
};

static void ec_quality(const struct model *m, double erl_db, int delay, int white)
{
    const int n = 6 * RATE;
    double *sig = malloc(sizeof(double) * n);
    double *h = malloc(sizeof(double) * (delay + m->len));
    int16_t *far = malloc(2 * n), *near = malloc(2 * n), *out = malloc(2 * n);
    rng_state = 0x9E3779B97F4A7C15ull;
    if (white)
        for (int i = 0; i < n; i++)
            sig[i] = gauss() * DBM0_RMS * pow(10.0, -15.0 / 20.0);
    else
        speech_like(sig, n, -15.0);
    int hlen = echo_path(m->coeffs, m->len, delay, erl_db, h);
    line(sig, n, h, hlen, far, near);

    for (int impl = 0; impl < 2; impl++) {
        if (impl == 0) {
            void *ec = ours_ec_new(1024, 0);
            ours_ec_run(ec, far, near, out, n, FRAME);
            ours_ec_free(ec);
        } else {
            /* adaption only: spandsp's high-passes and NLP would only make the ERLE look different */
            echo_can_state_t *ec = echo_can_init(1024, ECHO_CAN_USE_ADAPTION);
            spandsp_ec_run(ec, far, near, out, n);
            echo_can_free(ec);
        }
        double e1 = 10 * log10(mean_square(near + RATE, RATE) / mean_square(out + RATE, RATE));
        double e5 = 10 * log10(mean_square(near + 5 * RATE, RATE) / mean_square(out + 5 * RATE, RATE));
        printf("{\"what\":\"ec_erle\",\"impl\":\"%s\",\"model\":\"%s\",\"signal\":\"%s\",\"delay\":%d,"
               "\"erl_db\":%.0f,\"erle_1s_db\":%.1f,\"erle_5s_db\":%.1f}\n",
               impl == 0 ? "linebox" : "spandsp", m->name, white ? "white noise" : "speech-like", delay, erl_db,
               e1, e5);
    }
    free(sig);
    free(h);
    free(far);
    free(near);
    free(out);
}

/* ---- DTMF ------------------------------------------------------------------ */

static void dtmf_signal(int16_t *out, int n, const char *digits)
{
    static const double rows[4] = {697, 770, 852, 941}, cols[4] = {1209, 1336, 1477, 1633};
    static const char keys[] = "123A456B789C*0#D";
    double *noise = malloc(sizeof(double) * n);
    speech_like(noise, n, -30.0);
    int t = 0;
    double amp = DBM0_PEAK * pow(10.0, -10.0 / 20.0);
    for (int i = 0; i < n; i++)
        out[i] = 0;
    for (const char *d = digits; *d && t + 800 < n; d++) {
        const char *p = strchr(keys, *d);
        int k = (int)(p - keys);
        for (int i = 0; i < 400; i++) /* 50 ms on, 50 ms off */
            out[t + i] = clip16(amp * (sin(6.283185307179586 * rows[k / 4] * i / RATE)
                                       + sin(6.283185307179586 * cols[k % 4] * i / RATE)));
        t += 800;
    }
    for (int i = 0; i < n; i++)
        out[i] = mulaw(out[i] + noise[i]);
    free(noise);
}

static void bench_dtmf(int runs)
{
    const int n = 20 * RATE;
    const char *digits = "1234567890*#ABCD";
    int16_t *sig = malloc(2 * n);
    char got[256];
    dtmf_signal(sig, n, "1234567890*#ABCD1234567890*#ABCD1234567890*#ABCD");

    double best = 1e30;
    int nd = 0;
    for (int r = 0; r <= runs; r++) {
        void *rx = ours_dtmf_new(DBM0_PEAK);
        double t = now();
        nd = ours_dtmf_run(rx, sig, n, FRAME, got, 255);
        t = now() - t;
        ours_dtmf_free(rx);
        if (r > 0 && t < best)
            best = t;
    }
    got[nd] = 0;
    report_speed("dtmf", "linebox", best, n);
    printf("{\"what\":\"dtmf_digits\",\"impl\":\"linebox\",\"digits\":\"%s\"}\n", got);

    best = 1e30;
    for (int r = 0; r <= runs; r++) {
        dtmf_rx_state_t *rx = dtmf_rx_init(NULL, NULL, NULL);
        double t = now();
        nd = 0;
        for (int k = 0; k < n; k += FRAME) {
            dtmf_rx(rx, sig + k, FRAME);
            nd += (int)dtmf_rx_get(rx, got + nd, 255 - nd);
        }
        t = now() - t;
        dtmf_rx_free(rx);
        if (r > 0 && t < best)
            best = t;
    }
    got[nd] = 0;
    report_speed("dtmf", "spandsp", best, n);
    printf("{\"what\":\"dtmf_digits\",\"impl\":\"spandsp\",\"digits\":\"%s\"}\n", got);
    (void)digits;
    free(sig);
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 5;
    if (runs < 1)
        runs = 1;
    devnull = fopen("/dev/null", "w");
    setvbuf(stdout, NULL, _IOLBF, 0);

    /* speed: 4 s of speech-like far signal over model D5 at ERL 6 dB */
    const int n = 4 * RATE;
    double *sig = malloc(sizeof(double) * n);
    double h[200 + 128];
    int16_t *far = malloc(2 * n), *near = malloc(2 * n), *out = malloc(2 * n);
    rng_state = 0x0123456789ABCDEFull;
    speech_like(sig, n, -15.0);
    int hlen = echo_path(line_model_d5_coeffs, 128, 200, 6.0, h);
    line(sig, n, h, hlen, far, near);

    report_speed("ec", "linebox", time_ours_ec(far, near, out, n, runs), n);
    printf_muted = 1;
    report_speed("ec", "spandsp", time_spandsp_ec(far, near, out, n, runs), n);
    printf_muted = 0;
    report_speed("ec", "spandsp_as_packaged", time_spandsp_ec(far, near, out, n, 1), n);
    printf_muted = 1;

    const struct model models[] = {
        {"d2", line_model_d2_coeffs, sizeof(line_model_d2_coeffs) / sizeof(int32_t)},
        {"d3", line_model_d3_coeffs, sizeof(line_model_d3_coeffs) / sizeof(int32_t)},
        {"d4", line_model_d4_coeffs, sizeof(line_model_d4_coeffs) / sizeof(int32_t)},
        {"d5", line_model_d5_coeffs, sizeof(line_model_d5_coeffs) / sizeof(int32_t)},
        {"d6", line_model_d6_coeffs, sizeof(line_model_d6_coeffs) / sizeof(int32_t)},
        {"d7", line_model_d7_coeffs, sizeof(line_model_d7_coeffs) / sizeof(int32_t)},
        {"d8", line_model_d8_coeffs, sizeof(line_model_d8_coeffs) / sizeof(int32_t)},
        {"d9", line_model_d9_coeffs, sizeof(line_model_d9_coeffs) / sizeof(int32_t)},
    };
    for (size_t i = 0; i < sizeof(models) / sizeof(models[0]); i++)
        for (int white = 0; white < 2; white++)
            ec_quality(&models[i], 6.0, 200, white);

    bench_dtmf(runs);
    free(sig);
    free(far);
    free(near);
    free(out);
    return 0;
}
