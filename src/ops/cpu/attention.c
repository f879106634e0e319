// attention.c: causal softmax attention with grouped key/value heads, in
// the flash-attention style: scores are formed one (64 x 64) tile at a time
// with an online softmax, so no (T, T) matrix is ever held; the forward keeps
// only each query's log-sum-exp, from which the backward recomputes the
// probabilities tile by tile. Tile products go through BLAS (single-threaded
// inside our OpenMP regions, as the OpenMP build of OpenBLAS does there).
//
// Work split: the forward runs one (batch, head, query tile) per task; the
// backward one (batch, kv head) per task, so dk/dv accumulate without atomics
// and in an order that does not depend on the thread count.
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <string.h>

#include "ops/cpu/cpu_ops.h"
#include "ops/cpu/fast_exp.h"
#include "ops/ops.h"

#define TILE OP_ATTENTION_TILE

size_t op_attention_scratch_floats(int hd) {
    // forward: S tile, O accumulator, row max and sum; backward: S/P and dP tiles
    return (size_t)2 * TILE * TILE + (size_t)TILE * hd + 2 * TILE;
}

void cpu_attention_forward(float *out, float *lse, const float *q, const float *k, const float *v, int B,
                           int Tq, int Tk, int H, int Hkv, int hd, size_t kv_bstride, float *scratch,
                           int scratch_threads) {
    const float scale = 1.0f / sqrtf((float)hd);
    const int group = H / Hkv, offset = Tk - Tq, qtiles = (Tq + TILE - 1) / TILE;
    const int qrow = H * hd, kvrow = Hkv * hd;
    const size_t per_thread = op_attention_scratch_floats(hd);
#pragma omp parallel num_threads(scratch_threads)
    {
        float *S = scratch + per_thread * (size_t)omp_get_thread_num();
        float *acc = S + 2 * TILE * TILE, *rmax = acc + (size_t)TILE * hd, *rsum = rmax + TILE;
#pragma omp for collapse(3) schedule(dynamic, 1)
        for (int b = 0; b < B; b++)
            for (int h = 0; h < H; h++)
                for (int qt = 0; qt < qtiles; qt++) {
                    int i0 = qt * TILE, rows = Tq - i0 < TILE ? Tq - i0 : TILE;
                    const float *qb = q + ((size_t)b * Tq + i0) * qrow + (size_t)h * hd;
                    const float *kb = k + (size_t)b * kv_bstride + (size_t)(h / group) * hd;
                    const float *vb = v + (size_t)b * kv_bstride + (size_t)(h / group) * hd;
                    int keys = offset + i0 + rows;  // keys 0..keys-1 are visible to some row of the tile
                    for (int r = 0; r < rows; r++) rmax[r] = -INFINITY, rsum[r] = 0.0f;
                    memset(acc, 0, sizeof(float) * rows * hd);
                    for (int j0 = 0; j0 < keys; j0 += TILE) {
                        int cols = keys - j0 < TILE ? keys - j0 : TILE;
                        // S (rows, cols) = scale * Q (rows, hd) K^T (hd, cols)
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, cols, hd, scale, qb, qrow,
                                    kb + (size_t)j0 * kvrow, kvrow, 0.0f, S, TILE);
                        for (int r = 0; r < rows; r++) {
                            float *s = S + (size_t)r * TILE;
                            int visible = offset + i0 + r - j0 + 1;  // causal: key j0+c with c < visible
                            if (visible > cols) visible = cols;
                            float m = rmax[r];
                            for (int c = 0; c < visible; c++) m = s[c] > m ? s[c] : m;
                            // online softmax: rescale what was accumulated under the old max
                            float corr = rmax[r] == -INFINITY ? 0.0f : fast_expf(rmax[r] - m), sum = 0.0f;
                            for (int c = 0; c < visible; c++) {
                                s[c] = fast_expf(s[c] - m);
                                sum += s[c];
                            }
                            for (int c = visible < 0 ? 0 : visible; c < cols; c++) s[c] = 0.0f;
                            rmax[r] = visible > 0 ? m : rmax[r];
                            if (visible > 0) {
                                rsum[r] = rsum[r] * corr + sum;
                                if (corr != 1.0f)
                                    for (int c = 0; c < hd; c++) acc[(size_t)r * hd + c] *= corr;
                            }
                        }
                        // acc (rows, hd) += P (rows, cols) V (cols, hd)
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, hd, cols, 1.0f, S, TILE,
                                    vb + (size_t)j0 * kvrow, kvrow, 1.0f, acc, hd);
                    }
                    for (int r = 0; r < rows; r++) {
                        float *o = out + ((size_t)b * Tq + i0 + r) * qrow + (size_t)h * hd;
                        float inv = 1.0f / rsum[r];
                        for (int c = 0; c < hd; c++) o[c] = acc[(size_t)r * hd + c] * inv;
                        lse[((size_t)b * H + h) * Tq + i0 + r] = rmax[r] + logf(rsum[r]);
                    }
                }
    }
}

void cpu_attention_backward(float *dq, float *dk, float *dv, const float *dout, const float *out,
                            const float *lse, const float *q, const float *k, const float *v, int B, int T,
                            int H, int Hkv, int hd, float *scratch, int scratch_threads) {
    // forward: S = scale * q k^T (causal), P = softmax(S) = exp(S - lse), out = P v
    // D_i = sum_c dout_ic out_ic (= rowsum(P * dP)); dP = dout v^T;
    // dS = P * (dP - D); dq = scale * dS k; dk = scale * dS^T q; dv = P^T dout
    const float scale = 1.0f / sqrtf((float)hd);
    const int group = H / Hkv, tiles = (T + TILE - 1) / TILE;
    const int qrow = H * hd, kvrow = Hkv * hd;
    const size_t per_thread = op_attention_scratch_floats(hd);
#pragma omp parallel num_threads(scratch_threads)
    {
        float *P = scratch + per_thread * (size_t)omp_get_thread_num();
        float *dP = P + TILE * TILE, *Drow = dP + TILE * TILE + (size_t)TILE * hd;
#pragma omp for collapse(2) schedule(dynamic, 1)
        for (int b = 0; b < B; b++)
            for (int g = 0; g < Hkv; g++) {
                const float *kb = k + (size_t)b * T * kvrow + (size_t)g * hd;
                const float *vb = v + (size_t)b * T * kvrow + (size_t)g * hd;
                float *dkb = dk + (size_t)b * T * kvrow + (size_t)g * hd;
                float *dvb = dv + (size_t)b * T * kvrow + (size_t)g * hd;
                for (int j = 0; j < T; j++) {
                    memset(dkb + (size_t)j * kvrow, 0, sizeof(float) * hd);
                    memset(dvb + (size_t)j * kvrow, 0, sizeof(float) * hd);
                }
                for (int h = g * group; h < (g + 1) * group; h++)
                    for (int qt = 0; qt < tiles; qt++) {
                        int i0 = qt * TILE, rows = T - i0 < TILE ? T - i0 : TILE;
                        size_t row0 = (size_t)b * T + i0;
                        const float *qi = q + row0 * qrow + (size_t)h * hd;
                        const float *doi = dout + row0 * qrow + (size_t)h * hd;
                        float *dqi = dq + row0 * qrow + (size_t)h * hd;
                        const float *li = lse + ((size_t)b * H + h) * T + i0;
                        for (int r = 0; r < rows; r++) {
                            const float *o = out + (row0 + r) * qrow + (size_t)h * hd,
                                        *d = doi + (size_t)r * qrow;
                            float s = 0.0f;
                            for (int c = 0; c < hd; c++) s += d[c] * o[c];
                            Drow[r] = s;
                            memset(dqi + (size_t)r * qrow, 0, sizeof(float) * hd);
                        }
                        for (int j0 = 0; j0 < i0 + rows; j0 += TILE) {
                            int cols = i0 + rows - j0 < TILE ? i0 + rows - j0 : TILE;
                            const float *kj = kb + (size_t)j0 * kvrow, *vj = vb + (size_t)j0 * kvrow;
                            // P = exp(scale * q k^T - lse), zero above the diagonal
                            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, cols, hd, scale, qi,
                                        qrow, kj, kvrow, 0.0f, P, TILE);
                            // dP = dout v^T
                            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, cols, hd, 1.0f, doi,
                                        qrow, vj, kvrow, 0.0f, dP, TILE);
                            for (int r = 0; r < rows; r++) {
                                float *p = P + (size_t)r * TILE, *dp = dP + (size_t)r * TILE;
                                int visible = i0 + r - j0 + 1;
                                if (visible > cols) visible = cols;
                                for (int c = 0; c < cols; c++) {
                                    float pc = c < visible ? fast_expf(p[c] - li[r]) : 0.0f;
                                    p[c] = pc;
                                    dp[c] =
                                        pc * (dp[c] - Drow[r]) * scale;  // dS, with the scale of S folded in
                                }
                            }
                            // dv (cols, hd) += P^T dout; dk += dS^T q; dq += dS k
                            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, cols, hd, rows, 1.0f, P,
                                        TILE, doi, qrow, 1.0f, dvb + (size_t)j0 * kvrow, kvrow);
                            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, cols, hd, rows, 1.0f, dP,
                                        TILE, qi, qrow, 1.0f, dkb + (size_t)j0 * kvrow, kvrow);
                            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, hd, cols, 1.0f, dP,
                                        TILE, kj, kvrow, 1.0f, dqi, qrow);
                        }
                    }
            }
    }
}
