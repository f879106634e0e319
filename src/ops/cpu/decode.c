// decode.c: kernels for the few-row forwards of decoding. Each row's result
// is computed by the same instructions in the same order whatever the number
// of rows, so a speculative verification over K+1 rows reproduces K+1
// single-token steps bit for bit (BLAS picks different kernels, and so
// different rounding, for different shapes). Work is split over output
// columns, so each weight row is read once for all rows of the batch.
#include <math.h>
#include <omp.h>

#include "ops/cpu/fast_exp.h"
#include "ops/ops.h"

// Dot product with a fixed 16-lane accumulation order.
static inline float dot_fixed(const float *a, const float *b, int n) {
    float lane[16] = {0};
    int i = 0;
    for (; i + 16 <= n; i += 16)
#pragma omp simd
        for (int l = 0; l < 16; l++) lane[l] += a[i + l] * b[i + l];
    float s = 0.0f;
    for (int l = 0; l < 16; l++) s += lane[l];
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

// Up to 4 rows against one weight row: each row's lanes, tail and final sum
// are exactly those of dot_fixed, so results match the single-row kernel; the
// weight vector is loaded once for all rows.
static inline void dot_fixed_rows(const float *a, size_t lda, int rows, const float *b, int n, float *out) {
    float lane[4][16] = {{0}};
    int i = 0;
    for (; i + 16 <= n; i += 16)
        for (int r = 0; r < rows; r++)
#pragma omp simd
            for (int l = 0; l < 16; l++) lane[r][l] += a[r * lda + i + l] * b[i + l];
    for (int r = 0; r < rows; r++) {
        float s = 0.0f;
        for (int l = 0; l < 16; l++) s += lane[r][l];
        for (int t = i; t < n; t++) s += a[r * lda + t] * b[t];
        out[r] = s;
    }
}

void op_matmul_rows_forward(float *out, const float *inp, const float *w, int M, int in_dim, int out_dim) {
    // out (M, O) = inp (M, I) @ w (O, I)^T
#pragma omp parallel for schedule(static)
    for (int o = 0; o < out_dim; o++) {
        const float *wo = w + (size_t)o * in_dim;
        for (int r0 = 0; r0 < M; r0 += 4) {
            float res[4];
            int rows = M - r0 < 4 ? M - r0 : 4;
            dot_fixed_rows(inp + (size_t)r0 * in_dim, (size_t)in_dim, rows, wo, in_dim, res);
            for (int r = 0; r < rows; r++) out[(size_t)(r0 + r) * out_dim + o] = res[r];
        }
    }
}

void op_attention_rows_forward(float *out, const float *q, const float *k, const float *v, int Tq, int Tk,
                               int H, int Hkv, int hd) {
    // one sequence: q (Tq, H, hd); k, v (Tk, Hkv, hd); query i at position Tk - Tq + i
    const float scale = 1.0f / sqrtf((float)hd);
    const int group = H / Hkv, offset = Tk - Tq;
    const size_t kvrow = (size_t)Hkv * hd;
#pragma omp parallel for collapse(2) schedule(static)
    for (int i = 0; i < Tq; i++)
        for (int h = 0; h < H; h++) {
            const float *qi = q + ((size_t)i * H + h) * hd;
            const float *kb = k + (size_t)(h / group) * hd, *vb = v + (size_t)(h / group) * hd;
            float *oi = out + ((size_t)i * H + h) * hd;
            int keys = offset + i + 1;
            // one pass with an online softmax: rescale when the running max grows
            float m = -INFINITY, sum = 0.0f;
            for (int c = 0; c < hd; c++) oi[c] = 0.0f;
            for (int j = 0; j < keys; j++) {
                float s = dot_fixed(qi, kb + (size_t)j * kvrow, hd) * scale;
                if (s > m) {
                    float corr = fast_expf(m - s);  // 0 for the first key (m = -inf is clamped)
                    sum *= corr;
                    for (int c = 0; c < hd; c++) oi[c] *= corr;
                    m = s;
                }
                float e = fast_expf(s - m);
                sum += e;
                const float *vj = vb + (size_t)j * kvrow;
#pragma omp simd
                for (int c = 0; c < hd; c++) oi[c] += e * vj[c];
            }
            float inv = 1.0f / sum;
            for (int c = 0; c < hd; c++) oi[c] *= inv;
        }
}
