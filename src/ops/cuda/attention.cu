// attention.cu: causal attention with grouped key/value heads on the GPU.
// One warp per query row (forward, dq) or key row (dk, dv), the head's
// values spread over the lanes (lane l holds elements l, l+32, ...), dot
// products by the fixed lane tree. The forward keeps an online softmax and
// the log-sum-exp, as ops/cpu/attention.c; the backward recomputes the
// probabilities from it. A query row's result does not depend on how many
// rows there are, so the decoding forward (cuda_attention_rows_forward) is the
// same kernel.
#include <math.h>

#include "ops/cuda/cuda_common.h"
#include "ops/cuda/cuda_ops.h"

enum { PER_LANE = 8, MAX_HD = 32 * PER_LANE, WARPS = 4 };

// q (B, Tq, H, hd); k, v (B, Tk, Hkv, hd) at batch stride kv_bstride; query i
// at position Tk - Tq + i sees keys 0..Tk-Tq+i. out (B, Tq, H, hd); lse
// (B, H, Tq) unless NULL.
__global__ void attention_forward_kernel(float *out, float *lse, const float *q, const float *k,
                                         const float *v, int B, int Tq, int Tk, int H, int Hkv, int hd,
                                         size_t kv_bstride, float scale) {
    size_t row = (size_t)blockIdx.x * WARPS + (threadIdx.x >> 5);  // (b, i, h)
    int lane = threadIdx.x & 31;
    if (row >= (size_t)B * Tq * H) return;
    int h = (int)(row % H), i = (int)(row / H % Tq), b = (int)(row / H / Tq);
    int g = h / (H / Hkv), last = Tk - Tq + i;
    const float *qi = q + row * hd;
    const float *kb = k + (size_t)b * kv_bstride + (size_t)g * hd,
                *vb = v + (size_t)b * kv_bstride + (size_t)g * hd;
    const size_t kv_row = (size_t)Hkv * hd;
    float qv[PER_LANE], acc[PER_LANE];
#pragma unroll
    for (int u = 0; u < PER_LANE; u++) {
        int e = lane + 32 * u;
        qv[u] = e < hd ? qi[e] : 0.0f;
        acc[u] = 0.0f;
    }
    float m = -INFINITY, l = 0.0f;
    for (int j = 0; j <= last; j++) {
        const float *kj = kb + (size_t)j * kv_row, *vj = vb + (size_t)j * kv_row;
        float s = 0.0f;
#pragma unroll
        for (int u = 0; u < PER_LANE; u++) {
            int e = lane + 32 * u;
            if (e < hd) s = fmaf(qv[u], kj[e], s);
        }
        s = warp_sum(s) * scale;
        float m_new = fmaxf(m, s), corr = expf(m - m_new), p = expf(s - m_new);
        l = l * corr + p;
#pragma unroll
        for (int u = 0; u < PER_LANE; u++) {
            int e = lane + 32 * u;
            if (e < hd) acc[u] = acc[u] * corr + p * vj[e];
        }
        m = m_new;
    }
    float *oi = out + row * hd;
#pragma unroll
    for (int u = 0; u < PER_LANE; u++) {
        int e = lane + 32 * u;
        if (e < hd) oi[e] = acc[u] / l;
    }
    if (lse && lane == 0) lse[((size_t)b * H + h) * Tq + i] = m + logf(l);
}

static void forward(float *out, float *lse, const float *q, const float *k, const float *v, int B, int Tq,
                    int Tk, int H, int Hkv, int hd, size_t kv_bstride) {
    size_t rows = (size_t)B * Tq * H;
    if (rows == 0) return;
    if (hd > MAX_HD) {
        cuda_note(cudaErrorInvalidValue, "attention head dimension above 256", __FILE__, __LINE__);
        return;
    }
    attention_forward_kernel<<<cuda_blocks(rows, WARPS), 32 * WARPS, 0, cuda_stream>>>(
        out, lse, q, k, v, B, Tq, Tk, H, Hkv, hd, kv_bstride, 1.0f / sqrtf((float)hd));
    CUDA_LAUNCHED("attention_forward_kernel");
}

void cuda_attention_forward(float *out, float *lse, const float *q, const float *k, const float *v, int B,
                            int Tq, int Tk, int H, int Hkv, int hd, size_t kv_bstride, float *scratch,
                            int scratch_threads) {
    (void)scratch, (void)scratch_threads;  // the CPU's tiles; nothing here
    forward(out, lse, q, k, v, B, Tq, Tk, H, Hkv, hd, kv_bstride);
}

void cuda_attention_rows_forward(float *out, const float *q, const float *k, const float *v, int Tq, int Tk,
                                 int H, int Hkv, int hd) {
    forward(out, nullptr, q, k, v, 1, Tq, Tk, H, Hkv, hd, (size_t)Tk * Hkv * hd);
}

// Backward for Tq = Tk = T, keys packed (stride T * Hkv * hd). With
// p_ij = exp(s_ij - lse_i), s_ij = scale q_i . k_j, D_i = dout_i . out_i:
//   dv_j = sum_i p_ij dout_i;  ds_ij = p_ij (dout_i . v_j - D_i);
//   dq_i = scale sum_j ds_ij k_j;  dk_j = scale sum_i ds_ij q_i.
// Pass 1, one warp per query row: D_i and dq_i. Pass 2, one warp per key row
// and kv head: dk_j, dv_j over the query heads of its group, in order.
__global__ void attention_dq_kernel(float *dq, float *D, const float *dout, const float *out,
                                    const float *lse, const float *q, const float *k, const float *v, int B,
                                    int T, int H, int Hkv, int hd, float scale) {
    size_t row = (size_t)blockIdx.x * WARPS + (threadIdx.x >> 5);  // (b, i, h)
    int lane = threadIdx.x & 31;
    if (row >= (size_t)B * T * H) return;
    int h = (int)(row % H), i = (int)(row / H % T), b = (int)(row / H / T);
    int g = h / (H / Hkv);
    const size_t kv_row = (size_t)Hkv * hd, kv_b = (size_t)T * kv_row;
    const float *kb = k + b * kv_b + (size_t)g * hd, *vb = v + b * kv_b + (size_t)g * hd;
    float qv[PER_LANE], dov[PER_LANE], acc[PER_LANE], Di = 0.0f;
#pragma unroll
    for (int u = 0; u < PER_LANE; u++) {
        int e = lane + 32 * u;
        qv[u] = e < hd ? q[row * hd + e] : 0.0f;
        dov[u] = e < hd ? dout[row * hd + e] : 0.0f;
        acc[u] = 0.0f;
        if (e < hd) Di = fmaf(dov[u], out[row * hd + e], Di);
    }
    Di = warp_sum(Di);
    const float lse_i = lse[((size_t)b * H + h) * T + i];
    for (int j = 0; j <= i; j++) {
        const float *kj = kb + (size_t)j * kv_row, *vj = vb + (size_t)j * kv_row;
        float s = 0.0f, dp = 0.0f;
#pragma unroll
        for (int u = 0; u < PER_LANE; u++) {
            int e = lane + 32 * u;
            if (e < hd) {
                s = fmaf(qv[u], kj[e], s);
                dp = fmaf(dov[u], vj[e], dp);
            }
        }
        s = warp_sum(s) * scale;
        dp = warp_sum(dp);
        float p = expf(s - lse_i), ds = p * (dp - Di) * scale;
#pragma unroll
        for (int u = 0; u < PER_LANE; u++) {
            int e = lane + 32 * u;
            if (e < hd) acc[u] = fmaf(ds, kj[e], acc[u]);
        }
    }
#pragma unroll
    for (int u = 0; u < PER_LANE; u++) {
        int e = lane + 32 * u;
        if (e < hd) dq[row * hd + e] = acc[u];
    }
    if (lane == 0) D[((size_t)b * H + h) * T + i] = Di;
}

__global__ void attention_dkv_kernel(float *dk, float *dv, const float *D, const float *dout,
                                     const float *lse, const float *q, const float *k, const float *v, int B,
                                     int T, int H, int Hkv, int hd, float scale) {
    size_t row = (size_t)blockIdx.x * WARPS + (threadIdx.x >> 5);  // (b, j, g)
    int lane = threadIdx.x & 31;
    if (row >= (size_t)B * T * Hkv) return;
    int g = (int)(row % Hkv), j = (int)(row / Hkv % T), b = (int)(row / Hkv / T);
    const int group = H / Hkv;
    float kv[PER_LANE], vv[PER_LANE], dka[PER_LANE], dva[PER_LANE];
#pragma unroll
    for (int u = 0; u < PER_LANE; u++) {
        int e = lane + 32 * u;
        kv[u] = e < hd ? k[row * hd + e] : 0.0f;
        vv[u] = e < hd ? v[row * hd + e] : 0.0f;
        dka[u] = dva[u] = 0.0f;
    }
    for (int h = g * group; h < (g + 1) * group; h++)
        for (int i = j; i < T; i++) {
            const size_t qrow = ((size_t)b * T + i) * H + h;
            const float *qi = q + qrow * hd, *doi = dout + qrow * hd;
            float s = 0.0f, dp = 0.0f;
#pragma unroll
            for (int u = 0; u < PER_LANE; u++) {
                int e = lane + 32 * u;
                if (e < hd) {
                    s = fmaf(qi[e], kv[u], s);
                    dp = fmaf(doi[e], vv[u], dp);
                }
            }
            s = warp_sum(s) * scale;
            dp = warp_sum(dp);
            const size_t at = ((size_t)b * H + h) * T + i;
            float p = expf(s - lse[at]), ds = p * (dp - D[at]) * scale;
#pragma unroll
            for (int u = 0; u < PER_LANE; u++) {
                int e = lane + 32 * u;
                if (e < hd) {
                    dva[u] = fmaf(p, doi[e], dva[u]);
                    dka[u] = fmaf(ds, qi[e], dka[u]);
                }
            }
        }
#pragma unroll
    for (int u = 0; u < PER_LANE; u++) {
        int e = lane + 32 * u;
        if (e < hd) {
            dk[row * hd + e] = dka[u];
            dv[row * hd + e] = dva[u];
        }
    }
}

void cuda_attention_backward(float *dq, float *dk, float *dv, const float *dout, const float *out,
                             const float *lse, const float *q, const float *k, const float *v, int B, int T,
                             int H, int Hkv, int hd, float *scratch, int scratch_threads) {
    (void)scratch, (void)scratch_threads;
    static float *D = nullptr;  // (B, H, T) row dots, grown as needed and kept for the process
    static size_t D_cap = 0;
    size_t rows = (size_t)B * T * H;
    if (rows == 0) return;
    if (hd > MAX_HD) {
        cuda_note(cudaErrorInvalidValue, "attention head dimension above 256", __FILE__, __LINE__);
        return;
    }
    if (rows > D_cap) {
        if (D) CUDA_TRY(cudaFree(D));
        D = nullptr;
        D_cap = 0;
        CUDA_TRY(cudaMalloc(&D, sizeof(float) * rows));
        if (!D) return;
        D_cap = rows;
    }
    const float scale = 1.0f / sqrtf((float)hd);
    attention_dq_kernel<<<cuda_blocks(rows, WARPS), 32 * WARPS, 0, cuda_stream>>>(dq, D, dout, out, lse, q, k,
                                                                                  v, B, T, H, Hkv, hd, scale);
    CUDA_LAUNCHED("attention_dq_kernel");
    size_t kv_rows = (size_t)B * T * Hkv;
    attention_dkv_kernel<<<cuda_blocks(kv_rows, WARPS), 32 * WARPS, 0, cuda_stream>>>(
        dk, dv, D, dout, lse, q, k, v, B, T, H, Hkv, hd, scale);
    CUDA_LAUNCHED("attention_dkv_kernel");
}
