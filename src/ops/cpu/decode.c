// decode.c: kernels for the few-row forwards of decoding. Each row's result
// is computed by the same instructions in the same order whatever the number
// of rows, so a speculative verification over K+1 rows reproduces K+1
// single-token steps bit for bit (BLAS picks different kernels, and so
// different rounding, for different shapes). Work is split over output
// columns, so each weight row is read once for all rows of the batch.
// Without AVX-512, compilers warn that passing 64-byte vectors by value has no
// settled ABI; they never cross a call boundary here (every helper is static).
#pragma GCC diagnostic ignored "-Wpsabi"

#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <string.h>

#include "ops/cpu/fast_exp.h"
#include "ops/cpu/parallel.h"
#include "ops/ops.h"

// ---- few-row matrix product -------------------------------------------
//
// out (M, O) = x (M, I) @ w (O, I)^T for M of a few rows (one decoding step,
// or the K+1 rows of a verification). A tile holds R rows x C columns of
// out: each 16-float slice of a weight row is loaded once and multiplied into
// all R rows, so the weights, which dominate the traffic, are read once per
// call. Every output element is a 16-lane vector accumulation over I in the
// same order, then the same pairwise lane sum, whatever R and C are, so a
// row's result does not depend on M or on the tiling.

typedef float f32x16 __attribute__((vector_size(64)));
enum { LANES = 16, MAX_TILE_ROWS = 4, MAX_TILE_COLS = 8 };

// Compilers fold a vector load into each FMA that uses it, reloading it C
// times; an empty asm that claims to change the register makes them load it once.
#if defined(__AVX512F__) && (defined(__GNUC__) || defined(__clang__))
#define KEEP_IN_REGISTER(v) __asm__("" : "+v"(v))
#else
#define KEEP_IN_REGISTER(v) ((void)0)
#endif

static inline f32x16 load16(const float *p) {
    f32x16 v;
    memcpy(&v, p, sizeof v);
    return v;
}

// The last n < 16 values of a row, zero-padded: 0 * 0 leaves the lanes as they were.
static inline f32x16 load_tail(const float *p, int n) {
    float buf[LANES] = {0};
    memcpy(buf, p, sizeof(float) * (size_t)n);
    return load16(buf);
}

// Sums of the lanes of 16 accumulators at once. Each level halves the lanes
// still holding one accumulator's partial sums, pairing lane i with lane
// i + half as a scalar pairwise sum would (l[i] += l[i + 8], then + 4, + 2,
// + 1): every accumulator's sum is that same tree whatever the others hold, so
// unused accumulators may be zero. Accumulator k's sum ends in lane
// bitrev4(k).
#define SHUF(a, b, ...) __builtin_shufflevector(a, b, __VA_ARGS__)
static inline f32x16 halve8(const f32x16 *pa, const f32x16 *pb) {
    f32x16 a = *pa, b = *pb;  // 16-lane groups -> 8
    return SHUF(a, b, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23) +
           SHUF(a, b, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
}
static inline f32x16 halve4(const f32x16 *pa, const f32x16 *pb) {
    f32x16 a = *pa, b = *pb;  // 8-lane groups -> 4
    return SHUF(a, b, 0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27) +
           SHUF(a, b, 4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31);
}
static inline f32x16 halve2(const f32x16 *pa, const f32x16 *pb) {
    f32x16 a = *pa, b = *pb;  // 4-lane groups -> 2
    return SHUF(a, b, 0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29) +
           SHUF(a, b, 2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31);
}
static inline f32x16 halve1(const f32x16 *pa, const f32x16 *pb) {
    f32x16 a = *pa, b = *pb;  // 2-lane groups -> 1
    return SHUF(a, b, 0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30) +
           SHUF(a, b, 1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31);
}
#undef SHUF

static inline f32x16 sum16(const f32x16 acc[LANES]) {
    f32x16 l8[8], l4[4], l2[2];
    for (int p = 0; p < 8; p++) l8[p] = halve8(&acc[2 * p], &acc[2 * p + 1]);
    for (int p = 0; p < 4; p++) l4[p] = halve4(&l8[2 * p], &l8[2 * p + 1]);
    for (int p = 0; p < 2; p++) l2[p] = halve2(&l4[2 * p], &l4[2 * p + 1]);
    return halve1(&l2[0], &l2[1]);
}

static const unsigned char bitrev4[LANES] = {0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15};

// One R x C tile: out[r][c] (row stride ldo) = x[r] . w[c]; x rows at stride
// ldx, w rows at stride I. R and C are constants at every call site, so the
// accumulators stay in registers. `next` (C * I floats, the next tile's
// weights) is prefetched while this tile computes: a tile reads C short rows
// at once, too short for the hardware prefetcher to keep up from DRAM.
static inline __attribute__((always_inline)) void tile(float *out, size_t ldo, const float *x, size_t ldx,
                                                       const float *w, int I, const float *next, const int R,
                                                       const int C) {
    f32x16 acc[MAX_TILE_ROWS][MAX_TILE_COLS];
    for (int r = 0; r < R; r++)
        for (int c = 0; c < C; c++) acc[r][c] = (f32x16){0};
    int i = 0;
    for (; i + LANES <= I; i += LANES) {
        f32x16 wv[MAX_TILE_COLS];
        for (int c = 0; c < C; c++) {
            wv[c] = load16(w + (size_t)c * I + i);
            if (next) __builtin_prefetch(next + (size_t)c * I + i);
        }
        for (int r = 0; r < R; r++) {
            f32x16 xv = load16(x + (size_t)r * ldx + i);
            KEEP_IN_REGISTER(xv);
            for (int c = 0; c < C; c++) acc[r][c] += xv * wv[c];
        }
    }
    if (i < I) {
        f32x16 wv[MAX_TILE_COLS];
        for (int c = 0; c < C; c++) wv[c] = load_tail(w + (size_t)c * I + i, I - i);
        for (int r = 0; r < R; r++) {
            f32x16 xv = load_tail(x + (size_t)r * ldx + i, I - i);
            for (int c = 0; c < C; c++) acc[r][c] += xv * wv[c];
        }
    }
    f32x16 all[LANES];
    for (int k = 0; k < LANES; k++) all[k] = k < R * C ? acc[k / C][k % C] : (f32x16){0};
    float sums[LANES];
    f32x16 v = sum16(all);
    memcpy(sums, &v, sizeof sums);
    for (int k = 0; k < R * C; k++) out[(size_t)(k / C) * ldo + k % C] = sums[bitrev4[k]];
}

typedef void (*tile_fn)(float *out, size_t ldo, const float *x, size_t ldx, const float *w, int I,
                        const float *next);
#define TILE_FN(R, C)                                                                                     \
    static void tile_##R##x##C(float *out, size_t ldo, const float *x, size_t ldx, const float *w, int I, \
                               const float *next) {                                                       \
        tile(out, ldo, x, ldx, w, I, next, R, C);                                                         \
    }
TILE_FN(1, 8)
TILE_FN(2, 8)
TILE_FN(1, 4)
TILE_FN(2, 4)
TILE_FN(3, 4)
TILE_FN(4, 4)
TILE_FN(1, 1)
TILE_FN(2, 1)
TILE_FN(3, 1)
TILE_FN(4, 1)
#undef TILE_FN

// [rows - 1]: tiles of 8 columns (M <= 2), of 4 (larger M) and of 1 (the last O % C columns).
static const tile_fn tiles8[2] = {tile_1x8, tile_2x8};
static const tile_fn tiles4[4] = {tile_1x4, tile_2x4, tile_3x4, tile_4x4};
static const tile_fn tiles1[4] = {tile_1x1, tile_2x1, tile_3x1, tile_4x1};

void op_matmul_rows_forward(float *out, const float *inp, const float *w, int M, int in_dim, int out_dim) {
    // out (M, O) = inp (M, I) @ w (O, I)^T
    const int C = M <= 2 ? 8 : 4;
    const tile_fn *wide = M <= 2 ? tiles8 : tiles4;
    const int full = out_dim / C, n_tiles = full + out_dim % C;
    // a tile's weight rows stay in L1 while every row group passes over them
#pragma omp parallel for if ((size_t)M * in_dim * out_dim >= OP_PARALLEL_MIN_WORK) schedule(static)
    for (int t = 0; t < n_tiles; t++) {
        int o = t < full ? t * C : full * C + (t - full);
        const float *wo = w + (size_t)o * in_dim;
        // the next tile's weights (the same width: full tiles are followed by full tiles while any remain)
        const float *next = t + 1 < full ? wo + (size_t)C * in_dim : NULL;
        for (int r0 = 0; r0 < M; r0 += MAX_TILE_ROWS) {
            int rows = M - r0 < MAX_TILE_ROWS ? M - r0 : MAX_TILE_ROWS;
            tile_fn fn = t < full ? wide[rows - 1] : tiles1[rows - 1];
            fn(out + (size_t)r0 * out_dim + o, (size_t)out_dim, inp + (size_t)r0 * in_dim, (size_t)in_dim, wo,
               in_dim, r0 == 0 ? next : NULL);
        }
    }
}

// ---- attention of a few query rows against a KV cache --------------------
//
// Per (query row, head): scores against the visible keys in blocks of
// KEY_BLOCK (16 keys at a time through the same lane sums as the matrix
// product), exponentials and their sum per block, then the weighted sum of
// the values; blocks after the first rescale what came before (online
// softmax). Block edges sit at fixed key indices, so a query's result does not
// depend on how many other queries share the call.

enum { KEY_BLOCK = 256 };

// s[j] = q . k_j for the n <= 16 keys at k (rows at stride ldk), q of hd floats.
static inline __attribute__((always_inline)) void scores16(float *s, const float *q, const float *k,
                                                           size_t ldk, int hd, const int n) {
    f32x16 acc[LANES];
    for (int j = 0; j < LANES; j++) acc[j] = (f32x16){0};
    int i = 0;
    for (; i + LANES <= hd; i += LANES) {
        f32x16 qv = load16(q + i);
        for (int j = 0; j < n; j++) acc[j] += qv * load16(k + (size_t)j * ldk + i);
    }
    if (i < hd) {
        f32x16 qv = load_tail(q + i, hd - i);
        for (int j = 0; j < n; j++) acc[j] += qv * load_tail(k + (size_t)j * ldk + i, hd - i);
    }
    float sums[LANES];
    f32x16 v = sum16(acc);
    memcpy(sums, &v, sizeof sums);
    for (int j = 0; j < n; j++) s[j] = sums[bitrev4[j]];
}

static void scores16_full(float *s, const float *q, const float *k, size_t ldk, int hd) {
    scores16(s, q, k, ldk, hd, LANES);
}

static void scores16_part(float *s, const float *q, const float *k, size_t ldk, int hd, int n) {
    scores16(s, q, k, ldk, hd, n);
}

typedef int32_t i32x16 __attribute__((vector_size(64)));

// fast_expf's method for 16 lanes (the scalar one does not vectorize): x is
// clamped to [-87, 88], split as n ln2 + r with n rounded to nearest, and
// exp(r) taken from the same degree-5 polynomial.
static inline f32x16 exp16(const f32x16 *px) {
    f32x16 x = *px;
    const f32x16 lo = (f32x16){0} - 87.0f, hi = (f32x16){0} + 88.0f;
    i32x16 below = x<lo, above = x> hi;  // lanes of -1 where true
    i32x16 xb, lob, hib;
    memcpy(&xb, &x, sizeof x);
    memcpy(&lob, &lo, sizeof lo);
    memcpy(&hib, &hi, sizeof hi);
    xb = (xb & ~(below | above)) | (lob & below) | (hib & above);
    memcpy(&x, &xb, sizeof x);
    const f32x16 round = (f32x16){0} + 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
    f32x16 n = (x * FAST_EXP_LOG2E + round) - round;
    f32x16 r = FAST_EXP_REDUCE(x, n);
    f32x16 e = FAST_EXP_POLY(r);
    i32x16 bits = (__builtin_convertvector(n, i32x16) + 127) << 23;  // 2^n
    f32x16 scale;
    memcpy(&scale, &bits, sizeof scale);
    return e * scale;
}

// out (c0 .. c0 + 16 V) += sum_j e[j] v_j over n keys, V vectors of 16 values
// held in registers; even and odd keys go to separate accumulators (two
// independent chains), added at the end.
static inline __attribute__((always_inline)) void weighted_values(float *out, const float *e, const float *v,
                                                                  size_t ld, int n, const int V) {
    f32x16 acc[2][4];
    for (int c = 0; c < V; c++) {
        acc[0][c] = load16(out + c * LANES);
        acc[1][c] = (f32x16){0};
    }
    int j = 0;
    for (; j + 2 <= n; j += 2)
        for (int p = 0; p < 2; p++)
            for (int c = 0; c < V; c++) acc[p][c] += e[j + p] * load16(v + (size_t)(j + p) * ld + c * LANES);
    if (j < n)
        for (int c = 0; c < V; c++) acc[0][c] += e[j] * load16(v + (size_t)j * ld + c * LANES);
    for (int c = 0; c < V; c++) {
        f32x16 t = acc[0][c] + acc[1][c];
        memcpy(out + c * LANES, &t, sizeof t);
    }
}

// out (hd) = softmax(q . k_j * scale over j < keys) . v, rows of k and v at stride ld.
static void attend_one(float *out, const float *q, const float *k, const float *v, size_t ld, int keys,
                       int hd, float scale) {
    float s[KEY_BLOCK] __attribute__((aligned(64)));
    float m = -INFINITY, sum = 0.0f;
    const int vec_hd = hd / LANES * LANES;
    for (int c = 0; c < hd; c++) out[c] = 0.0f;
    for (int k0 = 0; k0 < keys; k0 += KEY_BLOCK) {
        const int n = keys - k0 < KEY_BLOCK ? keys - k0 : KEY_BLOCK, padded = (n + LANES - 1) / LANES * LANES;
        const float *kb = k + (size_t)k0 * ld, *vb = v + (size_t)k0 * ld;
        int j = 0;
        for (; j + LANES <= n; j += LANES) scores16_full(s + j, q, kb + (size_t)j * ld, ld, hd);
        if (j < n) scores16_part(s + j, q, kb + (size_t)j * ld, ld, hd, n - j);
        float bm = -INFINITY;
        for (j = 0; j < n; j++) {
            s[j] *= scale;
            bm = s[j] > bm ? s[j] : bm;
        }
        if (bm > m) {  // rescale what earlier blocks summed (nothing for the first block)
            float corr = m == -INFINITY ? 0.0f : fast_expf(m - bm);
            sum *= corr;
            for (int c = 0; c < hd; c++) out[c] *= corr;
            m = bm;
        }
        // exponentials, zero past the last key; the block's sum over 16 lanes, then a fixed pairwise sum
        f32x16 lanes = (f32x16){0};
        for (j = 0; j < padded; j += LANES) {
            f32x16 x = load16(s + j) - m, e = exp16(&x);
            memcpy(s + j, &e, sizeof e);
            if (j + LANES > n)
                for (int l = n - j; l < LANES; l++) s[j + l] = 0.0f;
            lanes += load16(s + j);
        }
        float lane[LANES];
        memcpy(lane, &lanes, sizeof lane);
        for (int half = LANES / 2; half >= 1; half /= 2)
            for (int l = 0; l < half; l++) lane[l] += lane[l + half];
        sum += lane[0];
        int c0 = 0;
        for (; c0 + 4 * LANES <= vec_hd; c0 += 4 * LANES) weighted_values(out + c0, s, vb + c0, ld, n, 4);
        switch ((vec_hd - c0) / LANES) {
            case 3:
                weighted_values(out + c0, s, vb + c0, ld, n, 3);
                break;
            case 2:
                weighted_values(out + c0, s, vb + c0, ld, n, 2);
                break;
            case 1:
                weighted_values(out + c0, s, vb + c0, ld, n, 1);
                break;
            default:
                break;
        }
        for (int c = vec_hd; c < hd; c++) {  // head dimensions that are not a multiple of 16
            float acc = out[c];
            for (j = 0; j < n; j++) acc += s[j] * vb[(size_t)j * ld + c];
            out[c] = acc;
        }
    }
    const float inv = 1.0f / sum;
    for (int c = 0; c < hd; c++) out[c] *= inv;
}

void op_attention_rows_forward(float *out, const float *q, const float *k, const float *v, int Tq, int Tk,
                               int H, int Hkv, int hd) {
    // one sequence: q (Tq, H, hd); k, v (Tk, Hkv, hd); query i at position Tk - Tq + i
    const float scale = 1.0f / sqrtf((float)hd);
    const int group = H / Hkv, offset = Tk - Tq;
    const size_t kvrow = (size_t)Hkv * hd;
#pragma omp parallel for collapse(2) if ((size_t)Tq * H * Tk * hd >= OP_PARALLEL_MIN_WORK) schedule(static)
    for (int i = 0; i < Tq; i++)
        for (int h = 0; h < H; h++) {
            size_t kv_off = (size_t)(h / group) * hd;
            attend_one(out + ((size_t)i * H + h) * hd, q + ((size_t)i * H + h) * hd, k + kv_off, v + kv_off,
                       kvrow, offset + i + 1, hd, scale);
        }
}
