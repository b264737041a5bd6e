/* ITU-T G.711 companding: mu-law and A-law, 16-bit linear <-> 8-bit codes.
 * Bit-exact with the reference tables (the same codes as Sun's g711.c and
 * Python's audioop). Array in, array out; no state.
 */
#ifndef LINEBOX_G711_H
#define LINEBOX_G711_H

#include <stddef.h>
#include <stdint.h>

/* cdef-begin */
void g711_ulaw_encode(const int16_t *in, uint8_t *out, size_t n);
void g711_ulaw_decode(const uint8_t *in, int16_t *out, size_t n);
void g711_alaw_encode(const int16_t *in, uint8_t *out, size_t n);
void g711_alaw_decode(const uint8_t *in, int16_t *out, size_t n);
/* cdef-end */

#endif
