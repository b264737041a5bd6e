/* Fuzz driver for the per-tick echo batch (dsp_ext/src/port_rows.c echo_process_rows), run by
 * the sanitizer harness (tests/dsp/test_sanitizers.py) under ASan/UBSan.
 *
 * Three ports, one without a canceller (a NULL state, as an FXS port's row); the buffer is cut
 * into ticks of 1..160 samples, each port's far and near taken from it at different offsets;
 * from `seed` each port runs or not on each tick. The output starts as garbage (0x5a5a) every
 * tick: the contract is that a row not run comes back all zeros, and a run row equals what
 * echo_process gives for the same port on its own (a second, one-port canceller in step).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "echo.h"
#include "port_rows.h"
#include "fuzz_util.h"

#define PORTS 3
#define MAX_N 160

void fuzz_echo_rows(const int16_t *buf, size_t n, uint32_t seed);

void fuzz_echo_rows(const int16_t *buf, size_t n, uint32_t seed)
{
    uint32_t rng = seed * 2246822519u + 7u;
    static echo_t rows_state[PORTS], alone[PORTS];
    echo_t *states[PORTS] = {&rows_state[0], NULL, &rows_state[2]};
    int taps = 8 + (int)(next_random(&rng) % 256);
    for (int p = 0; p < PORTS; p++) {
        if (echo_init(&rows_state[p], taps, ECHO_NLP | ECHO_CNG | ECHO_HPF) != 0
            || echo_init(&alone[p], taps, ECHO_NLP | ECHO_CNG | ECHO_HPF) != 0)
            __builtin_trap();
    }
    int16_t far[PORTS * MAX_N], near[PORTS * MAX_N], out[PORTS * MAX_N], expect[MAX_N];
    uint8_t on[PORTS];
    size_t pos = 0;
    while (pos < n) {
        int len = 1 + (int)(next_random(&rng) % MAX_N);
        if ((size_t)len > n - pos)
            len = (int)(n - pos);
        for (int p = 0; p < PORTS; p++) {
            on[p] = (uint8_t)(next_random(&rng) & 1u);
            for (int k = 0; k < len; k++) {
                far[p * len + k] = buf[(pos + (size_t)k + (size_t)p * 37u) % n];
                near[p * len + k] = buf[(pos + (size_t)k * 3u + (size_t)p) % n];
            }
        }
        memset(out, 0x5a, sizeof out);
        echo_process_rows(states, on, far, near, out, PORTS, len);
        for (int p = 0; p < PORTS; p++) {
            const int16_t *row = out + p * len;
            if (on[p] && states[p] != NULL) {
                echo_process(&alone[p], far + p * len, near + p * len, expect, (size_t)len);
                if (memcmp(row, expect, (size_t)len * sizeof *row) != 0)
                    __builtin_trap();
            } else {
                for (int k = 0; k < len; k++)
                    if (row[k] != 0)
                        __builtin_trap();
            }
        }
        pos += (size_t)len;
    }
}
