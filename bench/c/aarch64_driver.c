/* aarch64 check of the echo canceller (bench/aarch64.py): runs the far and near int16 files
 * argv[1], argv[2] (bench dsp's real speech over its line model) through a 1024-tap canceller
 * with the engine's flags, one 80-sample frame per call, or, with argv[3] = 0, everything but
 * the canceller (the baseline an instruction count subtracts), and prints the tap-pass variant.
 * With argv[4] = W, window_end() is called after every W samples (a multiple of 80): the bench's
 * --ec-windows mode counts the instructions between its calls.
 * Built by the cross compiler, run under qemu-user; bench/c/aarch64_spandsp_driver.c is the
 * spandsp side on the same files. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "echo.h"
#include "echo_taps.h"
#include "s16_file.h"

/* Does nothing; its address in qemu's log marks a window's end. */
__attribute__((noinline)) static void window_end(void)
{
    __asm__ __volatile__("");
}

int main(int argc, char **argv)
{
    if (argc < 4)
        return 2;
    size_t n, m;
    int16_t *far = load(argv[1], &n), *near = load(argv[2], &m), out[80];
    const int run = atoi(argv[3]);
    const size_t window = argc > 4 ? strtoul(argv[4], NULL, 10) : 0;
    echo_t *s = malloc(echo_state_size());
    if (!far || !near || !s || echo_init(s, 1024, ECHO_NLP | ECHO_CNG | ECHO_HPF) != 0)
        return 1;
    n = n < m ? n : m;
    for (size_t k = 0; k + 80 <= n; k += 80) {
        if (run)
            echo_process(s, far + k, near + k, out, 80);
        if (window > 0 && (k + 80) % window == 0)
            window_end();
    }
    printf("%s\n", echo_simd_variant());
    free(s);
    free(far);
    free(near);
    return 0;
}
