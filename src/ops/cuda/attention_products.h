// attention_products.h: causal attention (grouped key/value heads) as batched
// matrix products plus row kernels, for devices whose matrix units are far
// faster than anything a hand-written loop reaches (a GPU's tensor cores
// through cuBLAS). Query rows go in chunks so that one chunk's scores,
// (Hkv, rows, keys), fit a scratch buffer; only the log-sum-exp of each row
// is kept from the forward, and the backward recomputes the probabilities,
// as the CPU's tiled attention does. A chunk multiplies only the keys its
// last row sees, so the causal half above the diagonal is mostly skipped.
//
// The algorithm is written once against an executor (ap_exec): the CUDA
// backend runs it with cuBLAS and its kernels (attention.cu), the tests with
// plain loops on the host, which checks every index, stride and transpose here
// against the reference attention on a machine without a GPU.
//
// Layouts, as everywhere in ops/: q, out, dq (B, Tq, H, hd); k, v (B, Tk, Hkv,
// hd) at batch stride kv_bstride; lse, D (B, H, Tq). Head h reads key/value
// head g = h / group, group = H / Hkv; query i sees keys 0 .. Tk - Tq + i.
// A batch of products runs over g for one (b, chunk, r = h % group), so every
// operand advances by a fixed stride per g.
#ifndef MTP_OPS_CUDA_ATTENTION_PRODUCTS_H
#define MTP_OPS_CUDA_ATTENTION_PRODUCTS_H

#include <math.h>
#include <stddef.h>

typedef struct {
    // Column-major C_i = alpha op(A_i) op(B_i) + beta C_i for i < count, where
    // X_i = X + i * sX; op transposes when tX is 1. (Row-major (r, c) at
    // leading dimension ld is column-major (c, r): the calls below use that.)
    void (*gemm)(int ta, int tb, int m, int n, int k, float alpha, const float *A, int lda, size_t sA,
                 const float *B, int ldb, size_t sB, float beta, float *C, int ldc, size_t sC, int count);
    // Rows (g, i) of S (count x rows, each `keys` long, g at stride rows * keys),
    // row i seeing its first visible + i keys: the probabilities in place (zero
    // past the visible keys). from_lse 0: softmax of the row, and if lse is not
    // NULL lse[g * lse_g + i] = its log-sum-exp; 1: exp(s - lse[g * lse_g + i]).
    void (*probs)(float *S, float *lse, size_t lse_g, int count, int rows, int keys, int visible,
                  int from_lse);
    // dP (as probs' rows) = P * (dP - D[g * D_g + i]) * scale.
    void (*dscores)(float *dP, const float *P, const float *D, size_t D_g, int count, int rows, int keys,
                    float scale);
    // D[(b * H + h) * T + i] = dout . out over the head's hd values, for every (b, i, h).
    void (*row_dots)(float *D, const float *dout, const float *out, int B, int T, int H, int hd);
    void (*zero)(float *p, size_t n);
} ap_exec;

// Query rows per chunk: as many as fit `cap` floats of scores for Hkv heads
// against (at most) Tk keys.
static inline int ap_chunk_rows(size_t cap, int Tq, int Tk, int Hkv) {
    size_t per_row = (size_t)Hkv * (size_t)Tk, rows = per_row ? cap / per_row : 0;
    if (rows < 1) rows = 1;
    return rows < (size_t)Tq ? (int)rows : Tq;
}

// The scratch a call needs for at least one query row per chunk (floats).
static inline size_t ap_min_scratch(int Tk, int Hkv) {
    return (size_t)Hkv * (size_t)Tk;
}

// S (Hkv, qc, keys) = scale q_chunk k^T for query heads g * group + r, g < Hkv.
static inline void ap_scores(const ap_exec *x, float *S, const float *q0, const float *k0, int qc, int keys,
                             int H, int Hkv, int hd, float scale) {
    const int group = H / Hkv, kvrow = Hkv * hd;
    // S^T (keys, qc) = k (keys, hd) q^T (hd, qc): k row-major is (hd, keys) column-major, transposed
    x->gemm(1, 0, keys, qc, hd, scale, k0, kvrow, (size_t)hd, q0, H * hd, (size_t)group * hd, 0.0f, S, keys,
            (size_t)qc * keys, Hkv);
}

static inline void ap_forward(const ap_exec *x, float *out, float *lse, const float *q, const float *k,
                              const float *v, int B, int Tq, int Tk, int H, int Hkv, int hd,
                              size_t kv_bstride, float *scratch, size_t cap) {
    const int group = H / Hkv, kvrow = Hkv * hd;
    const float scale = 1.0f / sqrtf((float)hd);
    const int chunk = ap_chunk_rows(cap, Tq, Tk, Hkv);
    for (int b = 0; b < B; b++)
        for (int i0 = 0; i0 < Tq; i0 += chunk) {
            const int qc = Tq - i0 < chunk ? Tq - i0 : chunk, visible = Tk - Tq + i0 + 1,
                      keys = visible + qc - 1;  // what the chunk's last row sees
            const float *kb = k + (size_t)b * kv_bstride, *vb = v + (size_t)b * kv_bstride;
            for (int r = 0; r < group; r++) {
                const size_t at = ((size_t)b * Tq + i0) * H + r;  // row (b, i0, head r), times hd
                ap_scores(x, scratch, q + at * hd, kb, qc, keys, H, Hkv, hd, scale);
                x->probs(scratch, lse ? lse + ((size_t)b * H + r) * Tq + i0 : NULL, (size_t)group * Tq, Hkv,
                         qc, keys, visible, 0);
                // out^T (hd, qc) = v^T (hd, keys) P^T (keys, qc)
                x->gemm(0, 0, hd, qc, keys, 1.0f, vb, kvrow, (size_t)hd, scratch, keys, (size_t)qc * keys,
                        0.0f, out + at * hd, H * hd, (size_t)group * hd, Hkv);
            }
        }
}

// Backward for Tq = Tk = T, keys packed (batch stride T * Hkv * hd), given the
// forward's out and lse. With p = exp(s - lse), D_i = dout_i . out_i:
//   dv = P^T dout;  dS = P * (dout v^T - D) * scale;  dq = dS k;  dk = dS^T q.
// dk and dv sum over the query heads of their group and over the chunks.
// scratch: 2 * cap floats (P, then dS), D: B * H * T floats.
static inline void ap_backward(const ap_exec *x, float *dq, float *dk, float *dv, const float *dout,
                               const float *out, const float *lse, const float *q, const float *k,
                               const float *v, int B, int T, int H, int Hkv, int hd, float *scratch,
                               size_t cap, float *D) {
    const int group = H / Hkv, kvrow = Hkv * hd;
    const float scale = 1.0f / sqrtf((float)hd);
    const int chunk = ap_chunk_rows(cap, T, T, Hkv);
    float *P = scratch, *dS = scratch + cap;
    x->zero(dk, (size_t)B * T * kvrow);
    x->zero(dv, (size_t)B * T * kvrow);
    x->row_dots(D, dout, out, B, T, H, hd);
    for (int b = 0; b < B; b++)
        for (int i0 = 0; i0 < T; i0 += chunk) {
            const int qc = T - i0 < chunk ? T - i0 : chunk, keys = i0 + qc;
            const float *kb = k + (size_t)b * T * kvrow, *vb = v + (size_t)b * T * kvrow;
            float *dkb = dk + (size_t)b * T * kvrow, *dvb = dv + (size_t)b * T * kvrow;
            for (int r = 0; r < group; r++) {
                const size_t at = ((size_t)b * T + i0) * H + r;
                const size_t stat = ((size_t)b * H + r) * T + i0, stat_g = (size_t)group * T;
                const float *q0 = q + at * hd, *do0 = dout + at * hd;
                ap_scores(x, P, q0, kb, qc, keys, H, Hkv, hd, scale);
                x->probs(P, (float *)(lse + stat), stat_g, Hkv, qc, keys, i0 + 1, 1);
                // dP^T (keys, qc) = v (keys, hd) dout^T (hd, qc)
                x->gemm(1, 0, keys, qc, hd, 1.0f, vb, kvrow, (size_t)hd, do0, H * hd, (size_t)group * hd,
                        0.0f, dS, keys, (size_t)qc * keys, Hkv);
                // dv^T (hd, keys) += dout^T (hd, qc) P (qc, keys)
                x->gemm(0, 1, hd, keys, qc, 1.0f, do0, H * hd, (size_t)group * hd, P, keys, (size_t)qc * keys,
                        1.0f, dvb, kvrow, (size_t)hd, Hkv);
                x->dscores(dS, P, D + stat, stat_g, Hkv, qc, keys, scale);
                // dq^T (hd, qc) = k^T (hd, keys) dS^T (keys, qc)
                x->gemm(0, 0, hd, qc, keys, 1.0f, kb, kvrow, (size_t)hd, dS, keys, (size_t)qc * keys, 0.0f,
                        dq + at * hd, H * hd, (size_t)group * hd, Hkv);
                // dk^T (hd, keys) += q^T (hd, qc) dS (qc, keys)
                x->gemm(0, 1, hd, keys, qc, 1.0f, q0, H * hd, (size_t)group * hd, dS, keys, (size_t)qc * keys,
                        1.0f, dkb, kvrow, (size_t)hd, Hkv);
            }
        }
}

#endif
