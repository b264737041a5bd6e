/* aarch64 check of the echo canceller (bench/aarch64.py): runs SAMPLES (argv[1],
 * default 16000) of a speech-like signal through a 1024-tap canceller, or, with
 * argv[2] = 0, everything but the canceller (the baseline an instruction count
 * subtracts), and prints the tap-pass variant. Built by the cross compiler, run
 * under qemu-user. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "echo.h"
#include "echo_taps.h"

int main(int argc, char **argv)
{
    const int n = argc > 1 ? atoi(argv[1]) : 16000, run = argc > 2 ? atoi(argv[2]) : 1;
    int16_t *far = malloc(2 * (size_t)n), *near = malloc(2 * (size_t)n), out[80];
    echo_t *s = malloc(echo_state_size());
    if (!far || !near || !s || echo_init(s, 1024, ECHO_NLP | ECHO_CNG | ECHO_HPF) != 0)
        return 1;
    uint32_t r = 12345u;
    double lp = 0.0;
    for (int i = 0; i < n; i++) {
        r = r * 1664525u + 1013904223u;
        lp = 0.7 * lp + ((double)(r >> 8) / 16777216.0 - 0.5) * 8000.0;
        far[i] = (int16_t)lp;
        near[i] = (int16_t)(i >= 40 ? 0.3 * far[i - 40] : 0.0);
    }
    if (run)
        for (int k = 0; k + 80 <= n; k += 80)
            echo_process(s, far + k, near + k, out, 80);
    printf("%s\n", echo_simd_variant());
    free(s);
    free(far);
    free(near);
    return 0;
}
