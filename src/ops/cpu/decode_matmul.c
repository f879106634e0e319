// decode_matmul.c: the matrix product of decoding's few-row forwards. Each
// row's result is computed by the same instructions in the same order
// whatever the number of rows, so a speculative verification over K+1 rows
// reproduces K+1 single-token steps bit for bit (BLAS picks different
// kernels, and so different rounding, for different shapes).
#include <omp.h>
#include <string.h>

#include "ops/cpu/cpu_ops.h"
#include "ops/cpu/parallel.h"
#include "ops/cpu/vec16.h"
#include "ops/ops.h"

// out (M, O) = x (M, I) @ w (O, I)^T for M of a few rows (one decoding step,
// or the K+1 rows of a verification). A tile holds R rows x C columns of
// out: each 16-float slice of a weight row is loaded once and multiplied into
// all R rows, so the weights, which dominate the traffic, are read once per
// call. Every output element is a 16-lane vector accumulation over I in the
// same order, then the same pairwise lane sum, whatever R and C are, so a
// row's result does not depend on M or on the tiling.

enum { MAX_TILE_ROWS = 4, MAX_TILE_COLS = 8 };

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

void cpu_matmul_rows_forward(float *out, const float *inp, const float *w, int M, int in_dim, int out_dim) {
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
