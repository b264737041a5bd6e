/* A raw file of 16-bit samples read whole, for the bench drivers (NULL if it cannot be read). */
#ifndef BENCH_S16_FILE_H
#define BENCH_S16_FILE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static int16_t *load(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL || fseek(f, 0, SEEK_END) != 0)
        return NULL;
    const long bytes = ftell(f);
    int16_t *x = malloc((size_t) bytes + 2);
    if (x == NULL || fseek(f, 0, SEEK_SET) != 0 || fread(x, 1, (size_t) bytes, f) != (size_t) bytes)
        return NULL;
    fclose(f);
    *n = (size_t) bytes / 2;
    return x;
}

#endif
