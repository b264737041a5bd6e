/* aarch64 check of the echo canceller (bench/aarch64.py): runs 2 s of a
 * speech-like signal through a 1024-tap canceller and prints ns per sample and
 * the tap-pass variant. Built by the cross compiler, run under qemu-user. */
#define _GNU_SOURCE
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "echo.h"
#include "echo_taps.h"

int main(void)
{
    enum { N = 16000 };
    static int16_t far[N], near[N], out[N];
    uint32_t r = 12345u;
    double lp = 0.0;
    for (int i = 0; i < N; i++) {
        r = r * 1664525u + 1013904223u;
        lp = 0.7 * lp + ((double)(r >> 8) / 16777216.0 - 0.5) * 8000.0;
        far[i] = (int16_t)lp;
        near[i] = (int16_t)(i >= 40 ? 0.3 * far[i - 40] : 0.0);
    }
    echo_t *s = malloc(echo_state_size());
    if (!s || echo_init(s, 1024, ECHO_NLP | ECHO_CNG | ECHO_HPF) != 0)
        return 1;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int k = 0; k < N; k += 80)
        echo_process(s, far + k, near + k, out + k, 80);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double ns = ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / N;
    echo_stats_t st;
    echo_get_stats(s, &st);
    printf("%s %.1f ns/sample erle %.1f dB\n", echo_simd_variant(), ns, st.erle_db);
    free(s);
    return 0;
}
