/* Wrappers around our DSP core for bench.c (see ours.c for why). */
#ifndef LINEBOX_BENCH_OURS_H
#define LINEBOX_BENCH_OURS_H
#include <stdint.h>

void *ours_ec_new(int taps, int nlp);
void ours_ec_run(void *ec, const int16_t *far, const int16_t *near, int16_t *out, int n, int frame);
void ours_ec_free(void *ec);
void *ours_dtmf_new(double dbm0_peak);
int ours_dtmf_run(void *rx, const int16_t *in, int n, int frame, char *digits, int max_digits);
void ours_dtmf_free(void *rx);
#endif
