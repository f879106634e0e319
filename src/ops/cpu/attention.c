// attention.c: causal softmax attention with grouped key/value heads, in
// the flash-attention style: scores are formed one (64 x 64) tile at a time
// with an online softmax, so no (T, T) matrix is ever held; the forward keeps
// only each query's log-sum-exp, from which the backward recomputes the
// probabilities tile by tile.
//
// Tiles are held transposed, keys down and queries across (S^T = K Q^T), so
// that a query's softmax statistics are vector lanes: the maxima, sums and
// rescaling of the online softmax are vertical vector operations, and the
// only transposes are of a query tile (and, backward, its output gradient),
// once per tile of queries rather than once per pair of tiles. The products
// are register-blocked (cpu_tile_product, ops/cpu/tile_product.c), which
// reads either operand's strides, so keys and values are used in place.
//
// Work split: the forward runs one (batch, head, query tile) per task; the
// backward one (batch, kv head) per task, so dk/dv accumulate without atomics
// and in an order that does not depend on the thread count.
#include <math.h>
#include <omp.h>
#include <string.h>

#include "ops/cpu/cpu_ops.h"
#include "ops/cpu/flush.h"
#include "ops/cpu/vecn.h"
#include "ops/ops.h"

#define TILE OP_ATTENTION_TILE

size_t op_attention_scratch_floats(int hd) {
    // forward: S^T, Q^T, O^T tiles, per-query max, sum and correction;
    // backward: P^T, dP^T, Q^T, dO^T tiles, per-query lse and D
    return (size_t)2 * TILE * TILE + (size_t)2 * TILE * hd + 3 * TILE;
}

// dst (hd, TILE) = src (rows, hd; rows `stride` floats apart) transposed,
// lanes rows..padded-1 zero.
static void transpose_rows(float *dst, const float *src, size_t stride, int rows, int padded, int hd) {
    cpu_transpose(dst, TILE, src, stride, rows, hd);
    for (int e = 0; e < hd; e++)
        for (int r = rows; r < padded; r++) dst[(size_t)e * TILE + r] = 0.0f;
}

static int round_vn(int n) {
    return (n + VN - 1) / VN * VN;
}

// Lanes c0..c0+VN-1 of a key row whose first visible query lane is `first`
// (causal: query lane r sees the key when r >= first): -1 where visible.
static inline vin visible_n(int c0, int first) {
    return iotan(c0) >= first;
}

// Lanes are split in two halves at HALF on the diagonal: in a tile whose
// query lane r sees key c when c <= r + shift, the first HALF lanes see no key
// from HALF + shift on, so the products skip that quarter (a causal square
// tile's products are a quarter smaller; its exponentials half, below).
enum { HALF = TILE / 2 };

// Keys 0..n-1 of a tile of `cols` that lanes up to `lane` may see.
static inline int visible_keys(int lane, int shift, int cols) {
    const int n = lane + 1 + shift;
    return n < 0 ? 0 : n < cols ? n : cols;
}

// The keys the first HALF lanes may see (n0; the second half sees all `cols`),
// or cols where the tile is not split (all of it visible, or too few lanes).
static inline int diagonal_half(int shift, int cols, int padded) {
    return padded > HALF ? visible_keys(HALF - 1, shift, cols) : cols;
}

void cpu_attention_forward(float *out, float *lse, const float *q, const float *k, const float *v, int B,
                           int Tq, int Tk, int H, int Hkv, int hd, op_kv_layout kv, float *scratch,
                           int scratch_threads) {
    const float scale = 1.0f / sqrtf((float)hd);
    const int group = H / Hkv, offset = Tk - Tq, qtiles = (Tq + TILE - 1) / TILE;
    const int qrow = H * hd;
    const ptrdiff_t kvrow = (ptrdiff_t)kv.position;
    const size_t per_thread = op_attention_scratch_floats(hd);
#pragma omp parallel num_threads(scratch_threads)
    {
        const unsigned int csr = flush_subnormals_begin();                // sharp heads' tiny weights
        float *ST = scratch + per_thread * (size_t)omp_get_thread_num();  // (TILE keys, TILE queries)
        float *QT = ST + TILE * TILE, *OT = QT + (size_t)TILE * hd;       // (hd, TILE queries) each
        float *qmax = OT + (size_t)TILE * hd, *qsum = qmax + TILE, *corr = qsum + TILE;
#pragma omp for collapse(3) schedule(dynamic, 1)
        for (int b = 0; b < B; b++)
            for (int h = 0; h < H; h++)
                for (int qt = 0; qt < qtiles; qt++) {
                    const int i0 = qt * TILE, rows = Tq - i0 < TILE ? Tq - i0 : TILE, padded = round_vn(rows);
                    const float *qb = q + ((size_t)b * Tq + i0) * qrow + (size_t)h * hd;
                    const float *kb = k + (size_t)b * kv.batch + (size_t)(h / group) * kv.head;
                    const float *vb = v + (size_t)b * kv.batch + (size_t)(h / group) * kv.head;
                    const int keys =
                        offset + i0 + rows;  // keys 0..keys-1 are visible to some query of the tile
                    transpose_rows(QT, qb, (size_t)qrow, rows, padded, hd);
                    for (int r = 0; r < padded; r++) qmax[r] = -INFINITY, qsum[r] = 0.0f;
                    for (int e = 0; e < hd; e++) memset(OT + (size_t)e * TILE, 0, sizeof(float) * padded);
                    for (int j0 = 0; j0 < keys; j0 += TILE) {
                        const int cols = keys - j0 < TILE ? keys - j0 : TILE;
                        // causal: query lane r sees key c of the tile when c <= r + shift; the
                        // first HALF lanes see only the keys below n0 (diagonal_half)
                        const int shift = offset + i0 - j0;
                        const int n0 = diagonal_half(shift, cols, padded);
                        // S^T (cols, padded) = scale * K (cols, hd) Q^T (hd, padded): keys from n0
                        // on for the second half of the lanes only
                        const float *kj = kb + (size_t)j0 * kvrow;
                        cpu_tile_product(ST, TILE, kj, kvrow, 1, QT, TILE, n0, padded, hd, scale, 0);
                        cpu_tile_product(ST + (size_t)n0 * TILE + HALF, TILE, kj + (size_t)n0 * kvrow, kvrow,
                                         1, QT + HALF, TILE, cols - n0, padded - HALF, hd, scale, 0);
                        // online softmax, VN queries at a time: the new maximum, the factor
                        // that rescales what was summed under the old one, P^T in place of S^T.
                        // Keys from `seen` on are hidden from every lane of the block (their P is
                        // 0, no exponential); the product below reads the block's keys up to `read`
                        for (int c0 = 0; c0 < padded; c0 += VN) {
                            const int seen = visible_keys(c0 + VN - 1, shift, cols);
                            const int read = c0 < HALF ? n0 : cols;
                            const vfn old = loadn(qmax + c0);
                            vfn m = old;
                            for (int c = 0; c < seen; c++) {
                                float *st = ST + (size_t)c * TILE + c0;
                                if (c - shift > c0) {  // some lanes of the block do not see key c
                                    vfn x = selectn(visible_n(c0, c - shift), loadn(st), splatn(-INFINITY));
                                    memcpy(st, &x, sizeof x);
                                }
                                m = maxn(m, loadn(st));
                            }
                            vfn diff = old - m, sum = splatn(0.0f);
                            const vfn rescale = expn_or_zero_upto_max(diff);
                            for (int c = 0; c < seen; c++) {
                                vfn p = expn_or_zero_upto_max(loadn(ST + (size_t)c * TILE + c0) - m);
                                memcpy(ST + (size_t)c * TILE + c0, &p, sizeof p);
                                sum += p;
                            }
                            for (int c = seen; c < read; c++)
                                memset(ST + (size_t)c * TILE + c0, 0, sizeof(vfn));
                            sum += loadn(qsum + c0) * rescale;
                            memcpy(qmax + c0, &m, sizeof m);
                            memcpy(qsum + c0, &sum, sizeof sum);
                            memcpy(corr + c0, &rescale, sizeof rescale);
                        }
                        // O^T (hd, padded) = O^T * corr + V^T (hd, cols) P^T (cols, padded), the
                        // first HALF lanes over keys 0..n0-1
                        for (int e = 0; e < hd; e++)
                            for (int c0 = 0; c0 < padded; c0 += VN) {
                                vfn o = loadn(OT + (size_t)e * TILE + c0) * loadn(corr + c0);
                                memcpy(OT + (size_t)e * TILE + c0, &o, sizeof o);
                            }
                        const float *vj = vb + (size_t)j0 * kvrow;
                        const int split = n0 < cols;
                        cpu_tile_product(OT, TILE, vj, 1, kvrow, ST, TILE, hd, split ? HALF : padded, n0,
                                         1.0f, 1);
                        if (split)
                            cpu_tile_product(OT + HALF, TILE, vj, 1, kvrow, ST + HALF, TILE, hd,
                                             padded - HALF, cols, 1.0f, 1);
                    }
                    // out (rows, hd) = O^T / sum, transposed: divided in lanes, then a blocked
                    // transpose (one query's hd values a tile row apart, read one by one, were
                    // a quarter of the forward's time at hd 32)
                    for (int r = 0; r < padded; r++) corr[r] = r < rows ? 1.0f / qsum[r] : 0.0f;
                    for (int e = 0; e < hd; e++)
                        for (int c0 = 0; c0 < padded; c0 += VN) {
                            vfn o = loadn(OT + (size_t)e * TILE + c0) * loadn(corr + c0);
                            memcpy(OT + (size_t)e * TILE + c0, &o, sizeof o);
                        }
                    cpu_transpose(out + ((size_t)b * Tq + i0) * qrow + (size_t)h * hd, (size_t)qrow, OT, TILE,
                                  hd, rows);
                    for (int r = 0; r < rows; r++)
                        lse[((size_t)b * H + h) * Tq + i0 + r] = qmax[r] + logf(qsum[r]);
                }
        flush_subnormals_end(csr);
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
        // P * (dP - D) of a sharp head is often subnormal: 3x the backward's time without this
        const unsigned int csr = flush_subnormals_begin();
        float *PT = scratch + per_thread * (size_t)omp_get_thread_num();  // (TILE keys, TILE queries)
        float *dPT = PT + TILE * TILE;                                    // the same, then dS^T
        float *QT = dPT + TILE * TILE, *dOT = QT + (size_t)TILE * hd;     // (hd, TILE queries) each
        float *L = dOT + (size_t)TILE * hd, *D = L + TILE;                // per query
#pragma omp for collapse(2) schedule(dynamic, 1)
        for (int b = 0; b < B; b++)
            for (int g = 0; g < Hkv; g++) {
                const float *kb = k + (size_t)b * T * kvrow + (size_t)g * hd;
                const float *vb = v + (size_t)b * T * kvrow + (size_t)g * hd;
                float *dkb = dk + (size_t)b * T * kvrow + (size_t)g * hd;
                float *dvb = dv + (size_t)b * T * kvrow + (size_t)g * hd;
                // dk, dv and dq are not cleared first: each tile's first product writes it
                // (clearing them row by row, 128 bytes a call at hd 32, was a sixth of the backward)
                for (int h = g * group; h < (g + 1) * group; h++)
                    for (int qt = 0; qt < tiles; qt++) {
                        const int i0 = qt * TILE, rows = T - i0 < TILE ? T - i0 : TILE,
                                  padded = round_vn(rows);
                        const size_t row0 = (size_t)b * T + i0;
                        const float *qi = q + row0 * qrow + (size_t)h * hd;
                        const float *doi = dout + row0 * qrow + (size_t)h * hd;
                        float *dqi = dq + row0 * qrow + (size_t)h * hd;
                        const float *li = lse + ((size_t)b * H + h) * T + i0;
                        transpose_rows(QT, qi, (size_t)qrow, rows, padded, hd);
                        transpose_rows(dOT, doi, (size_t)qrow, rows, padded, hd);
                        for (int r = 0; r < padded; r++) {
                            float s = 0.0f;
                            if (r < rows) {
                                const float *o = out + (row0 + r) * qrow + (size_t)h * hd,
                                            *d = doi + (size_t)r * qrow;
                                for (int e = 0; e < hd; e++) s += d[e] * o[e];
                            }
                            D[r] = s, L[r] = r < rows ? li[r] : 0.0f;  // lanes past the tile: never read
                        }
                        for (int j0 = 0; j0 < i0 + rows; j0 += TILE) {
                            const int cols = i0 + rows - j0 < TILE ? i0 + rows - j0 : TILE;
                            const float *kj = kb + (size_t)j0 * kvrow, *vj = vb + (size_t)j0 * kvrow;
                            // causal: query lane r sees key c when c <= r + shift; the first HALF
                            // lanes only keys below n0, so each product skips that quarter
                            const int shift = i0 - j0, n0 = diagonal_half(shift, cols, padded);
                            // S^T = scale * K Q^T (exponentiated below); dP^T = V dO^T
                            cpu_tile_product(PT, TILE, kj, kvrow, 1, QT, TILE, n0, padded, hd, scale, 0);
                            cpu_tile_product(PT + (size_t)n0 * TILE + HALF, TILE, kj + (size_t)n0 * kvrow,
                                             kvrow, 1, QT + HALF, TILE, cols - n0, padded - HALF, hd, scale,
                                             0);
                            cpu_tile_product(dPT, TILE, vj, kvrow, 1, dOT, TILE, n0, padded, hd, 1.0f, 0);
                            cpu_tile_product(dPT + (size_t)n0 * TILE + HALF, TILE, vj + (size_t)n0 * kvrow,
                                             kvrow, 1, dOT + HALF, TILE, cols - n0, padded - HALF, hd, 1.0f,
                                             0);
                            const vfn sc = splatn(scale);
                            for (int c = 0; c < cols; c++) {
                                float *p = PT + (size_t)c * TILE, *dp = dPT + (size_t)c * TILE;
                                // lanes below c - shift do not see key c: P = dS = 0 where the
                                // whole block is hidden, no exponential (lanes below HALF from
                                // n0 on are never read)
                                int c0 = c < n0 ? 0 : HALF;
                                for (; c0 + VN <= c - shift && c0 < padded; c0 += VN) {
                                    memset(p + c0, 0, sizeof(vfn));
                                    memset(dp + c0, 0, sizeof(vfn));
                                }
                                for (; c0 < padded; c0 += VN) {
                                    // P = exp(S - lse) (0 far below: no subnormal products); dS =
                                    // P * (dP - D), with the scale of S folded in
                                    vfn x = loadn(p + c0) - loadn(L + c0);
                                    x = selectn(visible_n(c0, c - shift), expn_or_zero_upto_max(x),
                                                splatn(0.0f));
                                    vfn ds = x * (loadn(dp + c0) - loadn(D + c0)) * sc;
                                    memcpy(p + c0, &x, sizeof x);
                                    memcpy(dp + c0, &ds, sizeof ds);
                                }
                            }
                            // dv (cols, hd) += P^T dout; dk += dS^T q; dq (rows, hd) += dS k. A key
                            // tile is first reached by the group's first head from its own query
                            // tile (whose keys are the whole key tile), a query tile's dq at key tile 0.
                            // Keys from n0 on sum over query rows HALF.. only, query rows below HALF
                            // over keys below n0 only.
                            const int kv_first = h == g * group && j0 == i0;
                            const int split = n0 < cols;
                            float *dvj = dvb + (size_t)j0 * kvrow, *dkj = dkb + (size_t)j0 * kvrow;
                            cpu_tile_product(dvj, kvrow, PT, TILE, 1, doi, qrow, n0, hd, rows, 1.0f,
                                             !kv_first);
                            cpu_tile_product(dkj, kvrow, dPT, TILE, 1, qi, qrow, n0, hd, rows, 1.0f,
                                             !kv_first);
                            if (split) {
                                const size_t at = (size_t)n0 * TILE + HALF, later = (size_t)HALF * qrow;
                                cpu_tile_product(dvj + (size_t)n0 * kvrow, kvrow, PT + at, TILE, 1,
                                                 doi + later, qrow, cols - n0, hd, rows - HALF, 1.0f,
                                                 !kv_first);
                                cpu_tile_product(dkj + (size_t)n0 * kvrow, kvrow, dPT + at, TILE, 1,
                                                 qi + later, qrow, cols - n0, hd, rows - HALF, 1.0f,
                                                 !kv_first);
                                cpu_tile_product(dqi, qrow, dPT, 1, TILE, kj, kvrow, HALF, hd, n0, 1.0f,
                                                 j0 > 0);
                                cpu_tile_product(dqi + (size_t)HALF * qrow, qrow, dPT + HALF, 1, TILE, kj,
                                                 kvrow, rows - HALF, hd, cols, 1.0f, j0 > 0);
                            } else {
                                cpu_tile_product(dqi, qrow, dPT, 1, TILE, kj, kvrow, rows, hd, cols, 1.0f,
                                                 j0 > 0);
                            }
                        }
                    }
            }
        flush_subnormals_end(csr);
    }
}
