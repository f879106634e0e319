// attention.c: causal softmax attention with grouped key/value heads. The
// probabilities (B, H, Tq, Tk) are kept for the backward. One thread per
// (batch, head, query row) in the forward; one per (batch, kv head) in the
// backward, so the accumulation into dk/dv needs no atomics and its order
// does not depend on the thread count.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "ops/ops.h"

void op_attention_forward(float *out, float *att, const float *q, const float *k, const float *v, int B,
                          int Tq, int Tk, int H, int Hkv, int hd, size_t kv_bstride) {
    const float scale = 1.0f / sqrtf((float)hd);
    const int group = H / Hkv, offset = Tk - Tq;
    const size_t qrow = (size_t)H * hd, kvrow = (size_t)Hkv * hd;
#pragma omp parallel for collapse(3) schedule(static)
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < Tq; i++) {
                const float *qi = q + ((size_t)b * Tq + i) * qrow + (size_t)h * hd;
                const float *kb = k + (size_t)b * kv_bstride + (size_t)(h / group) * hd;
                const float *vb = v + (size_t)b * kv_bstride + (size_t)(h / group) * hd;
                float *p = att + (((size_t)b * H + h) * Tq + i) * Tk;
                int last = offset + i;  // the last key this query may see
                float maxv = -INFINITY;
                for (int j = 0; j <= last; j++) {
                    const float *kj = kb + (size_t)j * kvrow;
                    float s = 0.0f;
#pragma omp simd reduction(+ : s)
                    for (int c = 0; c < hd; c++) s += qi[c] * kj[c];
                    s *= scale;
                    p[j] = s;
                    if (s > maxv) maxv = s;
                }
                float sum = 0.0f;
                for (int j = 0; j <= last; j++) {
                    p[j] = expf(p[j] - maxv);
                    sum += p[j];
                }
                float inv = 1.0f / sum;
                for (int j = 0; j <= last; j++) p[j] *= inv;
                for (int j = last + 1; j < Tk; j++) p[j] = 0.0f;
                float *oi = out + ((size_t)b * Tq + i) * qrow + (size_t)h * hd;
                for (int c = 0; c < hd; c++) oi[c] = 0.0f;
                for (int j = 0; j <= last; j++) {
                    const float *vj = vb + (size_t)j * kvrow;
                    float pj = p[j];
#pragma omp simd
                    for (int c = 0; c < hd; c++) oi[c] += pj * vj[c];
                }
            }
}

int op_attention_backward(float *dq, float *dk, float *dv, const float *dout, const float *att,
                          const float *q, const float *k, const float *v, int B, int T, int H, int Hkv,
                          int hd) {
    // forward: S = q k^T * scale (causal), P = softmax(S), out = P v
    // dP = dout v^T; dS = P * (dP - rowsum(P * dP)); dq = dS k * scale;
    // dk = dS^T q * scale; dv = P^T dout
    const float scale = 1.0f / sqrtf((float)hd);
    const int group = H / Hkv;
    const size_t qrow = (size_t)H * hd, kvrow = (size_t)Hkv * hd;
    int failed = 0;
#pragma omp parallel
    {
        float *dp = malloc(sizeof(float) * (size_t)(T > 0 ? T : 1));  // one row of dP per thread
        if (!dp) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for collapse(2) schedule(static)
        for (int b = 0; b < B; b++)
            for (int g = 0; g < Hkv; g++) {
                if (!dp) continue;
                const float *kb = k + (size_t)b * T * kvrow + (size_t)g * hd;
                const float *vb = v + (size_t)b * T * kvrow + (size_t)g * hd;
                float *dkb = dk + (size_t)b * T * kvrow + (size_t)g * hd;
                float *dvb = dv + (size_t)b * T * kvrow + (size_t)g * hd;
                for (int j = 0; j < T; j++) {
                    memset(dkb + (size_t)j * kvrow, 0, sizeof(float) * hd);
                    memset(dvb + (size_t)j * kvrow, 0, sizeof(float) * hd);
                }
                for (int h = g * group; h < (g + 1) * group; h++)
                    for (int i = 0; i < T; i++) {
                        const float *p = att + (((size_t)b * H + h) * T + i) * T;
                        const float *qi = q + ((size_t)b * T + i) * qrow + (size_t)h * hd;
                        const float *doi = dout + ((size_t)b * T + i) * qrow + (size_t)h * hd;
                        float *dqi = dq + ((size_t)b * T + i) * qrow + (size_t)h * hd;
                        float rowsum = 0.0f;
                        for (int j = 0; j <= i; j++) {
                            const float *vj = vb + (size_t)j * kvrow;
                            float s = 0.0f;
#pragma omp simd reduction(+ : s)
                            for (int c = 0; c < hd; c++) s += doi[c] * vj[c];
                            dp[j] = s;
                            rowsum += p[j] * s;
                        }
                        for (int c = 0; c < hd; c++) dqi[c] = 0.0f;
                        for (int j = 0; j <= i; j++) {
                            const float *kj = kb + (size_t)j * kvrow;
                            float *dkj = dkb + (size_t)j * kvrow, *dvj = dvb + (size_t)j * kvrow;
                            float pj = p[j], ds = pj * (dp[j] - rowsum) * scale;
#pragma omp simd
                            for (int c = 0; c < hd; c++) {
                                dqi[c] += ds * kj[c];
                                dkj[c] += ds * qi[c];
                                dvj[c] += pj * doi[c];
                            }
                        }
                    }
            }
        free(dp);
    }
    if (failed) return mtp_errorf("out of memory in attention backward (%d floats per thread)", T);
    return 0;
}
