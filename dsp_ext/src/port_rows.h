/* One media tick's per-port DSP for every port in one call: rows of samples.
 *
 * The engine runs the same detector or canceller on many ports each 10 ms tick. Called one
 * port at a time from Python, each call releases and retakes the interpreter lock (cffi does
 * so around every C call), and any other thread of the engine process may then keep the media
 * thread waiting up to the interpreter's switch interval, per call. These entry points take
 * the whole tick at once: row i of each (rows x n) int16 array belongs to the state in slot i,
 * `on[i]` says whether that port runs this tick. They only loop over the per-port functions
 * (echo.c, faxtone.c), whose algorithms and one-port API stay as they are; nothing is
 * allocated. The DTMF receivers' batch, with their echo guard, is dtmf_receiver_rows
 * (dtmf_receiver.h).
 *
 *     echo_process_rows(states, on, far, near, out, rows, n);
 *     faxtone_rx_process_rows(states, on, x, rows, n, bits);
 */
#ifndef LINEBOX_PORT_ROWS_H
#define LINEBOX_PORT_ROWS_H

#include <stddef.h>
#include <stdint.h>

#include "echo.h"
#include "faxtone.h"

/* cdef-begin */
/* out[i] = near[i] with the echo of far[i] removed, for each row with on[i] and a state; the
 * other rows of out are zeroed (so out may be fresh, uninitialised memory). */
void echo_process_rows(echo_t *const *states, const uint8_t *on, const int16_t *far,
                       const int16_t *near, int16_t *out, int rows, int n);
/* Row i of x through fax-tone detector i (on[i] and states[i] not NULL); its state bits
 * (faxtone_rx_process's result) to bits[i]. */
void faxtone_rx_process_rows(faxtone_rx_t *const *states, const uint8_t *on, const int16_t *x,
                             int rows, int n, int *bits);
/* cdef-end */

#endif
