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

void op_matmul_rows_forward(float *out, const float *inp, const float *w, int M, int in_dim, int out_dim) {
    // out (M, O) = inp (M, I) @ w (O, I)^T
#pragma omp parallel for schedule(static)
    for (int o = 0; o < out_dim; o++) {
        const float *wo = w + (size_t)o * in_dim;
        for (int r = 0; r < M; r++)
            out[(size_t)r * out_dim + o] = dot_fixed(inp + (size_t)r * in_dim, wo, in_dim);
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
            // two passes over the keys (max, then weights) keep no per-key buffer
            float m = -INFINITY;
            for (int j = 0; j < keys; j++) {
                float s = dot_fixed(qi, kb + (size_t)j * kvrow, hd) * scale;
                m = s > m ? s : m;
            }
            float sum = 0.0f;
            for (int c = 0; c < hd; c++) oi[c] = 0.0f;
            for (int j = 0; j < keys; j++) {
                float e = fast_expf(dot_fixed(qi, kb + (size_t)j * kvrow, hd) * scale - m);
                sum += e;
                const float *vj = vb + (size_t)j * kvrow;
                for (int c = 0; c < hd; c++) oi[c] += e * vj[c];
            }
            float inv = 1.0f / sum;
            for (int c = 0; c < hd; c++) oi[c] *= inv;
        }
}
