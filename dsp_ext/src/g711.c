/* G.711 companding (see g711.h).
 *
 * mu-law works on a 14-bit magnitude with a bias of 33 added so that every
 * segment boundary is a power of two; A-law on a 13-bit magnitude, where
 * negative values are one's-complemented (-x - 1) so that the code set is
 * symmetric. Segment = position of the leading one; the four bits after it
 * are the mantissa. Decoding returns the middle of each quantisation step.
 */
#include "g711.h"

static int segment(unsigned v, int first)
{
    /* smallest s >= 0 with v < (first << s), capped at 7 */
    int s = 0;
    while (s < 7 && v >= ((unsigned) first << s))
        s++;
    return s;
}

static uint8_t ulaw_of(int16_t sample)
{
    int x = sample >> 2;               /* 14-bit */
    uint8_t mask = 0xFF;
    if (x < 0) {
        x = -x;
        mask = 0x7F;
    }
    if (x > 8158)
        x = 8158;
    unsigned v = (unsigned) x + 33;    /* 33 .. 8191 */
    int seg = segment(v, 64);          /* v < 64 << seg */
    unsigned mant = (v >> (seg + 1)) & 0x0F;
    return (uint8_t) (((unsigned) (seg << 4) | mant) ^ mask);
}

static int16_t ulaw_to_linear(uint8_t code)
{
    unsigned c = (unsigned) (~code) & 0xFF;
    int seg = (int) ((c >> 4) & 0x07);
    int v = ((int) ((c & 0x0F) << 3) + 0x84) << seg;
    return (int16_t) ((c & 0x80) ? (0x84 - v) : (v - 0x84));
}

static uint8_t alaw_of(int16_t sample)
{
    int x = sample >> 3;               /* 13-bit */
    uint8_t mask = 0xD5;
    if (x < 0) {
        x = -x - 1;
        mask = 0x55;
    }
    unsigned v = (unsigned) x;
    int seg = segment(v, 32);          /* v < 32 << seg */
    if (seg >= 8)
        return (uint8_t) (0x7F ^ mask);
    unsigned mant = seg < 2 ? (v >> 1) & 0x0F : (v >> seg) & 0x0F;
    return (uint8_t) (((unsigned) (seg << 4) | mant) ^ mask);
}

static int16_t alaw_to_linear(uint8_t code)
{
    unsigned c = code ^ 0x55;
    int seg = (int) ((c >> 4) & 0x07);
    int v = (int) (c & 0x0F) << 4;
    if (seg == 0)
        v += 8;
    else
        v = (v + 0x108) << (seg - 1);
    return (int16_t) ((c & 0x80) ? v : -v);
}

void g711_ulaw_encode(const int16_t *in, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = ulaw_of(in[i]);
}

void g711_ulaw_decode(const uint8_t *in, int16_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = ulaw_to_linear(in[i]);
}

void g711_alaw_encode(const int16_t *in, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = alaw_of(in[i]);
}

void g711_alaw_decode(const uint8_t *in, int16_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = alaw_to_linear(in[i]);
}
