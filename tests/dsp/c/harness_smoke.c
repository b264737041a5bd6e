/* Non-fuzz smoke of the C APIs that have no fuzz_*.c of their own (G.711 and
 * the fax-tone detector), run under ASan/UBSan by the sanitizer harness
 * (`harness 0 smoke`). Each check traps on a broken contract. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "faxtone.h"
#include "g711.h"

void harness_smoke(void);

static void smoke_g711(void)
{
    /* every linear value through both laws, in one heap buffer each (exact sizes) */
    const size_t n = 65536;
    int16_t *lin = malloc(n * sizeof(*lin)), *back = malloc(n * sizeof(*back)), *again = malloc(n * sizeof(*again));
    uint8_t *code = malloc(n);
    if (!lin || !back || !again || !code)
        __builtin_trap();
    for (size_t i = 0; i < n; i++)
        lin[i] = (int16_t)((int32_t)i - 32768);
    for (int law = 0; law < 2; law++) {
        if (law == 0) {
            g711_ulaw_encode(lin, code, n);
            g711_ulaw_decode(code, back, n);
            g711_ulaw_encode(back, code, n);
            g711_ulaw_decode(code, again, n);
        } else {
            g711_alaw_encode(lin, code, n);
            g711_alaw_decode(code, back, n);
            g711_alaw_encode(back, code, n);
            g711_alaw_decode(code, again, n);
        }
        for (size_t i = 0; i < n; i++) {
            int32_t err = (int32_t)back[i] - lin[i];
            int32_t tol = abs(lin[i]) / 16 + 16; /* G.711 steps are at most ~1/16 of the value */
            if (again[i] != back[i] || err > tol || err < -tol)
                __builtin_trap();
        }
    }
    free(lin);
    free(back);
    free(again);
    free(code);
}

static void smoke_faxtone(void)
{
    const int n = 12000; /* 1.5 s: 2100 Hz at -12 dBm0, phase reversed every 450 ms */
    const double peak = 22826.36098786756 * pow(10.0, -12.0 / 20.0);
    int16_t *x = malloc((size_t)n * sizeof(*x));
    if (!x)
        __builtin_trap();
    for (int i = 0; i < n; i++)
        x[i] = (int16_t)lrint(peak * sin(6.283185307179586 * 2100.0 * i / 8000.0 + ((i / 3600) % 2 ? 3.141592653589793 : 0.0)));
    faxtone_rx_t rx;
    faxtone_rx_init(&rx, 22826.36098786756);
    int state = 0;
    for (int k = 0, step = 1; k < n; k += step, step = step % 97 + 7)
        state = faxtone_rx_process(&rx, x + k, k + step <= n ? step : n - k);
    if (!(state & FAXTONE_ANS) || !(state & FAXTONE_REVERSALS))
        __builtin_trap();
    faxtone_rx_reset(&rx);
    for (int i = 0; i < n; i++)
        x[i] = 0;
    if (faxtone_rx_process(&rx, x, n) != 0 || faxtone_rx_process(&rx, x, 0) != 0)
        __builtin_trap();
    free(x);
}

void harness_smoke(void)
{
    smoke_g711();
    smoke_faxtone();
}
