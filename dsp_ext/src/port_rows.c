/* Per-tick batches of the per-port DSP calls: see port_rows.h. */
#include "port_rows.h"

#include <string.h>

void echo_process_rows(echo_t *const *states, const uint8_t *on, const int16_t *far,
                       const int16_t *near, int16_t *out, int rows, int n)
{
    for (int i = 0; i < rows; i++) {
        size_t off = (size_t)i * (size_t)n;
        if (on[i] && states[i] != NULL)
            echo_process(states[i], far + off, near + off, out + off, (size_t)n);
        else
            memset(out + off, 0, (size_t)n * sizeof *out);
    }
}

void faxtone_rx_process_rows(faxtone_rx_t *const *states, const uint8_t *on, const int16_t *x,
                             int rows, int n, int *bits)
{
    for (int i = 0; i < rows; i++) {
        if (on[i] && states[i] != NULL)
            bits[i] = faxtone_rx_process(states[i], x + (size_t)i * (size_t)n, n);
    }
}
