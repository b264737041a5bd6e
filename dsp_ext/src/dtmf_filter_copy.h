/* One copy of the DTMF receiver's filter pass (dtmf_filter.c includes this once per copy,
 * with the copy's lane width and multiply-add spelled out; on its own it is empty).
 *
 * Parameters (macros set by the includer):
 *   COPY(name)      the copy's function names
 *   LANES           ports a lane pass runs at once (the lane vector's width, 4 or 8); the one-port
 *                   pass holds its eight Goertzel filters in 8 / LANES such vectors
 *   lanes_v         a vector of LANES floats
 *   SFMA(a, b, c)   a * b + c on floats, LFMA on lanes_v: either fused (one rounding, the FMA
 *                   copies) or two roundings (SSE4.2); the same in the one-port and the lane code,
 *                   so each lane computes what the one-port pass does.
 *   LBCAST(x)       a lanes_v of x
 *   COPY(load)      (defined before the include) LANES detectors' 51 samples into lanes
 */
#ifdef DTMF_FILTER_COPY

/* The four energies' partial sums of COPY(half), 8 / LANES vectors each (sums 0 .. 7 across
 * them), added up in DTMF_SUM8's tree: ((0 + 1) + (2 + 3)) + ((4 + 5) + (6 + 7)). */
static inline __attribute__((always_inline)) void COPY(half_sums)(const lanes_v *raw, const lanes_v *raw_hf,
                                                                 const lanes_v *energy, const lanes_v *hf,
                                                                 dtmf_half_t *out)
{
#if LANES == 4
    /* pairwise, all four at once: each step adds neighbours, as the tree does */
    const dtmf_i4 even = {0, 2, 4, 6}, odd = {1, 3, 5, 7};
#define PAIRS(a, b) (__builtin_shuffle((a), (b), even) + __builtin_shuffle((a), (b), odd))
    const lanes_v s12 = PAIRS(PAIRS(raw[0], raw[1]), PAIRS(raw_hf[0], raw_hf[1]));
    const lanes_v s34 = PAIRS(PAIRS(energy[0], energy[1]), PAIRS(hf[0], hf[1]));
    const lanes_v sum = PAIRS(s12, s34);        /* {raw, raw_hf, energy, hf} */
#undef PAIRS
    out->raw = sum[0];
    out->raw_hf = sum[1];
    out->energy = sum[2];
    out->hf = sum[3];
#else
    float v[4][8];
    memcpy(v[0], raw, sizeof(v[0]));
    memcpy(v[1], raw_hf, sizeof(v[1]));
    memcpy(v[2], energy, sizeof(v[2]));
    memcpy(v[3], hf, sizeof(v[3]));
    out->raw = DTMF_SUM8(v[0]);
    out->raw_hf = DTMF_SUM8(v[1]);
    out->energy = DTMF_SUM8(v[2]);
    out->hf = DTMF_SUM8(v[3]);
#endif
}

/* One half-block of one detector: see dtmf_filter.c for the expressions. The notches are a
 * scalar recursion; the eight Goertzel filters run side by side, 8 / LANES vectors of the copy's
 * width (one tone a lane), and the energies over the buffered samples LANES at a time. Every
 * value is computed by the expression the lane pass uses for a lane (COPY(lanes)). */
static void COPY(half)(dtmf_rx_t *restrict s, const int16_t *restrict in, dtmf_half_t *restrict out)
{
    enum { N = DTMF_HALF, NV = 8 / LANES };
    /* input and notch output, after the two samples before (+ padding for the last vector) */
    float ub[N + 2 + LANES], xb[N + 2 + LANES];
    const float c1 = s->notch_c[0], c2 = s->notch_c[1], p1 = s->notch_p[0], p2 = s->notch_p[1];
    const float rr = s->notch_r2;
    const float nc1 = -c1, nc2 = -c2, nrr = -rr;
    const float q1 = p1 * p1 - rr, q2 = p2 * p2 - rr, npr1 = -(p1 * rr), npr2 = -(p2 * rr);
    ub[0] = s->x2;
    ub[1] = s->x1;
    xb[0] = s->z2;
    xb[1] = s->z1;
    for (int j = 0; j < N; j++)
        ub[j + 2] = (float) in[j];
    for (int k = N + 2; k < N + 2 + LANES; k++)
        ub[k] = xb[k] = 0.0f;
    float v1 = s->v1, v2 = s->v2, z1 = s->z1, z2 = s->z2;
    lanes_v s1[NV], s2[NV], co[NV], co2[NV];
#pragma GCC unroll 2
    for (int v = 0; v < NV; v++) {
        memcpy(&co[v], s->coef + v * LANES, sizeof(lanes_v));
        co2[v] = co[v] * co[v] - 1.0f;
        s1[v] = s2[v] = (lanes_v) {0};
    }
    /* two samples, j and j + 1 (a macro: the loop below takes two steps a round, so that the
     * filters' states alternate between registers instead of being moved back every step) */
#define HALF_STEP2(j)                                                                           \
    do {                                                                                        \
        const float u0 = ub[(j)], u1 = ub[(j) + 1], u2 = ub[(j) + 2], u3 = ub[(j) + 3];         \
        const float f0 = SFMA(nc1, u1, u2) + u0, f1 = SFMA(nc1, u2, u3) + u1;                  \
        const float va = SFMA(p1, v1, SFMA(nrr, v2, f0));                                       \
        const float vb = SFMA(q1, v1, SFMA(npr1, v2, SFMA(p1, f0, f1)));                        \
        const float g0 = SFMA(nc2, v1, va) + v2, g1 = SFMA(nc2, va, vb) + v1;                  \
        const float za = SFMA(p2, z1, SFMA(nrr, z2, g0));                                       \
        const float zb = SFMA(q2, z1, SFMA(npr2, z2, SFMA(p2, g0, g1)));                        \
        xb[(j) + 2] = za;                                                                       \
        xb[(j) + 3] = zb;                                                                       \
        v2 = va;                                                                                \
        v1 = vb;                                                                                \
        z2 = za;                                                                                \
        z1 = zb;                                                                                \
        const lanes_v wa = LBCAST(za);                                                          \
        _Pragma("GCC unroll 2") for (int v = 0; v < NV; v++) {                                  \
            const lanes_v t = wa - s2[v];                                                       \
            const lanes_v b = LFMA(co2[v], s1[v], LFMA(co[v], t, LBCAST(zb)));                  \
            s2[v] = LFMA(co[v], s1[v], t);                                                      \
            s1[v] = b;                                                                          \
        }                                                                                       \
    } while (0)
    int j = 0;
    for (; j + 3 < N; j += 4) {
        HALF_STEP2(j);
        HALF_STEP2(j + 2);
    }
    for (; j + 1 < N; j += 2)
        HALF_STEP2(j);
#undef HALF_STEP2
    {   /* N is odd: the last sample alone */
        const float u0 = ub[j], u1 = ub[j + 1], u2 = ub[j + 2];
        const float f0 = SFMA(nc1, u1, u2) + u0;
        const float va = SFMA(p1, v1, SFMA(nrr, v2, f0));
        const float g0 = SFMA(nc2, v1, va) + v2;
        const float za = SFMA(p2, z1, SFMA(nrr, z2, g0));
        xb[j + 2] = za;
        v2 = v1;
        v1 = va;
        z2 = z1;
        z1 = za;
        const lanes_v wa = LBCAST(za);
#pragma GCC unroll 2
        for (int v = 0; v < NV; v++) {
            const lanes_v t = wa - s2[v];
            s2[v] = s1[v];
            s1[v] = LFMA(co[v], s1[v], t);
        }
    }
    /* the four energies, each as eight partial sums (sample k into sum k % 8): sum k % 8 is
     * lane k % LANES of vector (k % 8) / LANES; the lane pass sums each lane the same way */
    lanes_v raw[NV], raw_hf[NV], energy[NV], hf[NV];
#pragma GCC unroll 2
    for (int v = 0; v < NV; v++)
        raw[v] = raw_hf[v] = energy[v] = hf[v] = (lanes_v) {0};
#pragma GCC unroll 8
    for (int k = 0; k < N; k += 8) {
#pragma GCC unroll 2
        for (int v = 0; v < NV; v++) {
            const int at = k + v * LANES;
            if (at >= N)
                break;
            lanes_v u, u2, x, x2;
            memcpy(&u, ub + at + 2, sizeof(u));
            memcpy(&u2, ub + at, sizeof(u2));
            memcpy(&x, xb + at + 2, sizeof(x));
            memcpy(&x2, xb + at, sizeof(x2));
            if (at + LANES > N) {       /* the last samples: the other lanes get nothing */
                lanes_v keep;
                for (int i = 0; i < LANES; i++)
                    keep[i] = at + i < N ? 1.0f : 0.0f;
                u = u * keep;
                u2 = u2 * keep;
                x = x * keep;
                x2 = x2 * keep;
            }
            const lanes_v du = u - u2, d = x - x2;
            raw[v] = LFMA(u, u, raw[v]);
            raw_hf[v] = LFMA(du, du, raw_hf[v]);
            energy[v] = LFMA(x, x, energy[v]);
            hf[v] = LFMA(d, d, hf[v]);
        }
    }
    COPY(half_sums)(raw, raw_hf, energy, hf, out);
#pragma GCC unroll 2
    for (int v = 0; v < NV; v++) {     /* (by value: the filters' states stay in registers) */
        const lanes_v a = s1[v], b = s2[v];
        memcpy(out->s1 + v * LANES, &a, sizeof(a));
        memcpy(out->s2 + v * LANES, &b, sizeof(b));
    }
    s->x2 = ub[N];
    s->x1 = ub[N + 1];
    s->v1 = v1;
    s->v2 = v2;
    s->z1 = z1;
    s->z2 = z2;
}

/* Sum over a half of v[k]^2, v[k] = a[k + 2] (diff 0) or a[k + 2] - a[k] (diff 1), lane by lane,
 * in COPY(half)'s order: eight partial sums, sample k into sum k % 8, added in DTMF_SUM8's tree. */
static inline __attribute__((always_inline)) void COPY(lane_energy)(const lanes_v *a, int diff, float *out)
{
    enum { N = DTMF_HALF };
    lanes_v acc[8];
#pragma GCC unroll 8
    for (int r = 0; r < 8; r++)
        acc[r] = (lanes_v) {0};
    int k = 0;
    for (; k + 8 <= N; k += 8) {
#pragma GCC unroll 8
        for (int r = 0; r < 8; r++) {
            const lanes_v v = diff ? a[k + r + 2] - a[k + r] : a[k + r + 2];
            acc[r] = LFMA(v, v, acc[r]);
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < N % 8; r++) {
        const lanes_v v = diff ? a[k + r + 2] - a[k + r] : a[k + r + 2];
        acc[r] = LFMA(v, v, acc[r]);
    }
    const lanes_v sum = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    memcpy(out, &sum, sizeof(sum));
}

/* Up to LANES half-blocks of different detectors at once, detector i in lane i: the same
 * operations as COPY(half), each on a vector of the lanes. Lanes without a job run zeros and
 * their results are dropped. */
static void COPY(lanes)(dtmf_rx_t *const *st, const int16_t *const *in, dtmf_half_t *const *out, int jobs)
{
    enum { N = DTMF_HALF, L = LANES };
    static const int16_t zeros[DTMF_HALF];
    lanes_v ub[N + 2], xb[N + 2];
    const int16_t *x[L];
    float g[6][L];
    for (int i = 0; i < L; i++) {
        const dtmf_rx_t *s = st[i < jobs ? i : 0];
        x[i] = i < jobs ? in[i] : zeros;
        g[0][i] = i < jobs ? s->x2 : 0.0f;
        g[1][i] = i < jobs ? s->x1 : 0.0f;
        g[2][i] = i < jobs ? s->v1 : 0.0f;
        g[3][i] = i < jobs ? s->v2 : 0.0f;
        g[4][i] = i < jobs ? s->z1 : 0.0f;
        g[5][i] = i < jobs ? s->z2 : 0.0f;
    }
    COPY(load)(ub + 2, x);      /* the samples into lanes: ub[k + 2] holds sample k of every lane */
    /* the filter constants: every detector has the same (dtmf_rx_init sets them from the
     * fixed frequencies and notch), so lane 0's stand for all */
    const dtmf_rx_t *s0 = st[0];
    const lanes_v vc1 = LBCAST(s0->notch_c[0]), vc2 = LBCAST(s0->notch_c[1]);
    const lanes_v vp1 = LBCAST(s0->notch_p[0]), vp2 = LBCAST(s0->notch_p[1]), rr = LBCAST(s0->notch_r2);
    lanes_v v1, v2, z1, z2;
    memcpy(&ub[0], g[0], sizeof(lanes_v));
    memcpy(&ub[1], g[1], sizeof(lanes_v));
    memcpy(&v1, g[2], sizeof(lanes_v));
    memcpy(&v2, g[3], sizeof(lanes_v));
    memcpy(&z1, g[4], sizeof(lanes_v));
    memcpy(&z2, g[5], sizeof(lanes_v));
    xb[0] = z2;
    xb[1] = z1;
    const lanes_v nc1 = -vc1, nc2 = -vc2, nrr = -rr;
    const lanes_v q1 = vp1 * vp1 - rr, q2 = vp2 * vp2 - rr, npr1 = -(vp1 * rr), npr2 = -(vp2 * rr);
    int j = 0;
    for (; j + 1 < N; j += 2) {
        const lanes_v u0 = ub[j], u1 = ub[j + 1], u2 = ub[j + 2], u3 = ub[j + 3];
        const lanes_v f0 = LFMA(nc1, u1, u2) + u0, f1 = LFMA(nc1, u2, u3) + u1;
        const lanes_v va = LFMA(vp1, v1, LFMA(nrr, v2, f0));
        const lanes_v vb = LFMA(q1, v1, LFMA(npr1, v2, LFMA(vp1, f0, f1)));
        const lanes_v g0 = LFMA(nc2, v1, va) + v2, g1 = LFMA(nc2, va, vb) + v1;
        const lanes_v za = LFMA(vp2, z1, LFMA(nrr, z2, g0));
        const lanes_v zb = LFMA(q2, z1, LFMA(npr2, z2, LFMA(vp2, g0, g1)));
        xb[j + 2] = za;
        xb[j + 3] = zb;
        v2 = va;
        v1 = vb;
        z2 = za;
        z1 = zb;
    }
    {
        const lanes_v u0 = ub[j], u1 = ub[j + 1], u2 = ub[j + 2];
        const lanes_v f0 = LFMA(nc1, u1, u2) + u0;
        const lanes_v va = LFMA(vp1, v1, LFMA(nrr, v2, f0));
        const lanes_v g0 = LFMA(nc2, v1, va) + v2;
        const lanes_v za = LFMA(vp2, z1, LFMA(nrr, z2, g0));
        xb[j + 2] = za;
        v2 = v1;
        v1 = va;
        z2 = z1;
        z1 = za;
    }
    /* the Goertzel filters, four tones at a time over the notch output */
    float gs1[8][L], gs2[8][L];
    for (int t0 = 0; t0 < 8; t0 += 4) {
        lanes_v s1[4], s2[4], co[4], co2[4];
#pragma GCC unroll 4
        for (int t = 0; t < 4; t++) {
            co[t] = LBCAST(s0->coef[t0 + t]);
            co2[t] = co[t] * co[t] - 1.0f;
            s1[t] = s2[t] = (lanes_v) {0};
        }
        int k = 0;
        for (; k + 1 < N; k += 2) {
            const lanes_v za = xb[k + 2], zb = xb[k + 3];
#pragma GCC unroll 4
            for (int t = 0; t < 4; t++) {
                const lanes_v d = za - s2[t];
                const lanes_v a = LFMA(co[t], s1[t], d);
                const lanes_v b = LFMA(co2[t], s1[t], LFMA(co[t], d, zb));
                s2[t] = a;
                s1[t] = b;
            }
        }
#pragma GCC unroll 4
        for (int t = 0; t < 4; t++) {
            const lanes_v d = xb[k + 2] - s2[t];
            s2[t] = s1[t];
            s1[t] = LFMA(co[t], s1[t], d);
            memcpy(gs1[t0 + t], &s1[t], sizeof(lanes_v));
            memcpy(gs2[t0 + t], &s2[t], sizeof(lanes_v));
        }
    }
    /* the energies: partial sums k % 8, the same tree as COPY(half) */
    float e[4][L];
    COPY(lane_energy)(ub, 0, e[0]);
    COPY(lane_energy)(ub, 1, e[1]);
    COPY(lane_energy)(xb, 0, e[2]);
    COPY(lane_energy)(xb, 1, e[3]);
    float last[6][L];
    memcpy(last[0], &ub[N], sizeof(lanes_v));
    memcpy(last[1], &ub[N + 1], sizeof(lanes_v));
    memcpy(last[2], &v1, sizeof(lanes_v));
    memcpy(last[3], &v2, sizeof(lanes_v));
    memcpy(last[4], &z1, sizeof(lanes_v));
    memcpy(last[5], &z2, sizeof(lanes_v));
    for (int i = 0; i < jobs; i++) {
        dtmf_rx_t *s = st[i];
        dtmf_half_t *o = out[i];
        for (int t = 0; t < 8; t++) {
            o->s1[t] = gs1[t][i];
            o->s2[t] = gs2[t][i];
        }
        o->raw = e[0][i];
        o->raw_hf = e[1][i];
        o->energy = e[2][i];
        o->hf = e[3][i];
        s->x2 = last[0][i];
        s->x1 = last[1][i];
        s->v1 = last[2][i];
        s->v2 = last[3][i];
        s->z1 = last[4][i];
        s->z2 = last[5][i];
    }
}

#endif
