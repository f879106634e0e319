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
// Layouts, as everywhere in ops/: q, out, dq (B, Tq, H, hd); k, v where an
// op_kv_layout says in the forward, (B, T, Hkv, hd) in the backward; lse, D
// (B, H, Tq). Head h reads key/value
// head g = h / group, group = H / Hkv; query i sees keys 0 .. Tk - Tq + i.
// A batch of products runs over g for one (b, chunk, r = h % group), so every
// operand advances by a fixed stride per g.
#ifndef MTP_OPS_CUDA_ATTENTION_PRODUCTS_H
#define MTP_OPS_CUDA_ATTENTION_PRODUCTS_H

#include <math.h>
#include <stddef.h>

#include "ops/kv_layout.h"

typedef struct {
    // Column-major C_gb = alpha op(A_gb) op(B_gb) + beta C_gb for g < count,
    // b < count2, where X_gb = X + g * sX + b * sX2; op transposes when tX is
    // 1. (Row-major (r, c) at leading dimension ld is column-major (c, r): the
    // calls below use that.) One batch covers every key/value head g of every
    // sequence b, so a chunk of query rows is a few large launches.
    void (*gemm)(int ta, int tb, int m, int n, int k, float alpha, const float *A, int lda, size_t sA,
                 size_t sA2, const float *B, int ldb, size_t sB, size_t sB2, float beta, float *C, int ldc,
                 size_t sC, size_t sC2, int count, int count2);
    // Rows (b, g, i) of S (count2 x count x rows, each `keys` long, in that
    // order), row i seeing its first visible + i keys: the probabilities in
    // place (zero past the visible keys). With L = lse + b * lse_b + g * lse_g + i:
    // from_lse 0: softmax of the row, and *L = its log-sum-exp unless lse is
    // NULL; 1: exp(s - *L).
    void (*probs)(float *S, float *lse, size_t lse_g, size_t lse_b, int count, int count2, int rows, int keys,
                  int visible, int from_lse);
    // dP (as probs' rows) = P * (dP - D[b * D_b + g * D_g + i]) * scale.
    void (*dscores)(float *dP, const float *P, const float *D, size_t D_g, size_t D_b, int count, int count2,
                    int rows, int keys, float scale);
    // D[(b * H + h) * T + i] = dout . out over the head's hd values, for every (b, i, h).
    void (*row_dots)(float *D, const float *dout, const float *out, int B, int T, int H, int hd);
    void (*zero)(float *p, size_t n);
} ap_exec;

// Query rows per chunk: as many as fit `cap` floats of scores for B sequences
// of Hkv heads against (at most) Tk keys.
static inline int ap_chunk_rows(size_t cap, int B, int Tq, int Tk, int Hkv) {
    size_t per_row = (size_t)B * Hkv * (size_t)Tk, rows = per_row ? cap / per_row : 0;
    if (rows < 1) rows = 1;
    return rows < (size_t)Tq ? (int)rows : Tq;
}

// The scratch a call needs for at least one query row per chunk (floats).
static inline size_t ap_min_scratch(int B, int Tk, int Hkv) {
    return (size_t)B * Hkv * (size_t)Tk;
}

// S (B, Hkv, qc, keys) = scale q_chunk k^T for query heads g * group + r.
// q0: row (0, i0, head r) of q; qb: q's stride per sequence; kv: k's layout.
static inline void ap_scores(const ap_exec *x, float *S, const float *q0, size_t qb, const float *k,
                             op_kv_layout kv, int B, int qc, int keys, int H, int Hkv, int hd, float scale) {
    const int group = H / Hkv;
    const size_t sS = (size_t)qc * keys;
    // S^T (keys, qc) = k (keys, hd) q^T (hd, qc): k row-major is (hd, keys) column-major, transposed
    x->gemm(1, 0, keys, qc, hd, scale, k, (int)kv.position, kv.head, kv.batch, q0, H * hd, (size_t)group * hd,
            qb, 0.0f, S, keys, sS, sS * Hkv, Hkv, B);
}

static inline void ap_forward(const ap_exec *x, float *out, float *lse, const float *q, const float *k,
                              const float *v, int B, int Tq, int Tk, int H, int Hkv, int hd, op_kv_layout kv,
                              float *scratch, size_t cap) {
    const int group = H / Hkv;
    const float scale = 1.0f / sqrtf((float)hd);
    const int chunk = ap_chunk_rows(cap, B, Tq, Tk, Hkv);
    const size_t qb = (size_t)Tq * H * hd;  // q's and out's stride per sequence
    for (int i0 = 0; i0 < Tq; i0 += chunk) {
        const int qc = Tq - i0 < chunk ? Tq - i0 : chunk, visible = Tk - Tq + i0 + 1,
                  keys = visible + qc - 1;  // what the chunk's last row sees
        const size_t sS = (size_t)qc * keys;
        for (int r = 0; r < group; r++) {
            const size_t at = (size_t)i0 * H + r;  // row (0, i0, head r), times hd
            ap_scores(x, scratch, q + at * hd, qb, k, kv, B, qc, keys, H, Hkv, hd, scale);
            x->probs(scratch, lse ? lse + (size_t)r * Tq + i0 : NULL, (size_t)group * Tq, (size_t)H * Tq, Hkv,
                     B, qc, keys, visible, 0);
            // out^T (hd, qc) = v^T (hd, keys) P^T (keys, qc)
            x->gemm(0, 0, hd, qc, keys, 1.0f, v, (int)kv.position, kv.head, kv.batch, scratch, keys, sS,
                    sS * Hkv, 0.0f, out + at * hd, H * hd, (size_t)group * hd, qb, Hkv, B);
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
    const int chunk = ap_chunk_rows(cap, B, T, T, Hkv);
    const size_t qb = (size_t)T * H * hd, kb = (size_t)T * kvrow;  // strides per sequence
    const op_kv_layout kv = op_kv_rows(T, Hkv, hd);
    const size_t stat_g = (size_t)group * T, stat_b = (size_t)H * T;
    float *P = scratch, *dS = scratch + cap;
    x->zero(dk, (size_t)B * T * kvrow);
    x->zero(dv, (size_t)B * T * kvrow);
    x->row_dots(D, dout, out, B, T, H, hd);
    for (int i0 = 0; i0 < T; i0 += chunk) {
        const int qc = T - i0 < chunk ? T - i0 : chunk, keys = i0 + qc;
        const size_t sS = (size_t)qc * keys;
        for (int r = 0; r < group; r++) {
            const size_t at = (size_t)i0 * H + r, stat = (size_t)r * T + i0;
            const float *q0 = q + at * hd, *do0 = dout + at * hd;
            ap_scores(x, P, q0, qb, k, kv, B, qc, keys, H, Hkv, hd, scale);
            x->probs(P, (float *)(lse + stat), stat_g, stat_b, Hkv, B, qc, keys, i0 + 1, 1);
            // dP^T (keys, qc) = v (keys, hd) dout^T (hd, qc)
            x->gemm(1, 0, keys, qc, hd, 1.0f, v, kvrow, (size_t)hd, kb, do0, H * hd, (size_t)group * hd, qb,
                    0.0f, dS, keys, sS, sS * Hkv, Hkv, B);
            // dv^T (hd, keys) += dout^T (hd, qc) P (qc, keys)
            x->gemm(0, 1, hd, keys, qc, 1.0f, do0, H * hd, (size_t)group * hd, qb, P, keys, sS, sS * Hkv,
                    1.0f, dv, kvrow, (size_t)hd, kb, Hkv, B);
            x->dscores(dS, P, D + stat, stat_g, stat_b, Hkv, B, qc, keys, scale);
            // dq^T (hd, qc) = k^T (hd, keys) dS^T (keys, qc)
            x->gemm(0, 0, hd, qc, keys, 1.0f, k, kvrow, (size_t)hd, kb, dS, keys, sS, sS * Hkv, 0.0f,
                    dq + at * hd, H * hd, (size_t)group * hd, qb, Hkv, B);
            // dk^T (hd, keys) += q^T (hd, qc) dS (qc, keys)
            x->gemm(0, 1, hd, keys, qc, 1.0f, q0, H * hd, (size_t)group * hd, qb, dS, keys, sS, sS * Hkv,
                    1.0f, dk, kvrow, (size_t)hd, kb, Hkv, B);
        }
    }
}

#endif
