// attention.cu: causal attention with grouped key/value heads on the GPU.
// Training and prefill (cuda_attention_forward / _backward) run
// attention_products.h's algorithm: chunks of query rows through batched
// cuBLAS products (tensor cores in tf32 / bf16 mode) and the row kernels
// below for the softmax, its log-sum-exp and the score gradients. Decoding's
// few rows (cuda_attention_rows_forward) take one warp per query row, the
// head's values spread over the lanes (lane l holds elements l, l+32, ...),
// dot products by the fixed lane tree and an online softmax: a row's result
// does not depend on how many rows there are, which a speculative
// verification needs and a product whose algorithm cuBLAS picks by shape
// does not give.
#include <math.h>

#include "ops/cuda/attention_products.h"
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

void cuda_attention_rows_forward(float *out, const float *q, const float *k, const float *v, int Tq, int Tk,
                                 int H, int Hkv, int hd) {
    forward(out, nullptr, q, k, v, 1, Tq, Tk, H, Hkv, hd, (size_t)Tk * Hkv * hd);
}

// ---- the executor of attention_products.h ----

// Rows (g, i) of S, count x rows of `keys` floats, one warp per row; row i sees
// visible + i keys. from_lse 0: the row's softmax (and lse[g * lse_g + i] its
// log-sum-exp unless lse is NULL); 1: exp(s - lse[g * lse_g + i]). Zero past
// the visible keys.
__global__ void probs_kernel(float *S, float *lse, size_t lse_g, int count, int rows, int keys, int visible,
                             int from_lse) {
    size_t row = (size_t)blockIdx.x * WARPS + (threadIdx.x >> 5);
    int lane = threadIdx.x & 31;
    if (row >= (size_t)count * rows) return;
    const int g = (int)(row / rows), i = (int)(row % rows), vis = visible + i;
    float *s = S + row * keys;
    float m, l = 1.0f;
    if (from_lse) {
        m = lse[g * lse_g + i];
    } else {
        m = -INFINITY;
        for (int j = lane; j < vis; j += 32) m = fmaxf(m, s[j]);
        m = warp_max(m);
        l = 0.0f;
        for (int j = lane; j < vis; j += 32) l += expf(s[j] - m);
        l = warp_sum(l);
        if (lse && lane == 0) lse[g * lse_g + i] = m + logf(l);
    }
    const float inv = 1.0f / l;
    for (int j = lane; j < keys; j += 32) s[j] = j < vis ? expf(s[j] - m) * inv : 0.0f;
}

static void run_probs(float *S, float *lse, size_t lse_g, int count, int rows, int keys, int visible,
                      int from_lse) {
    size_t n = (size_t)count * rows;
    probs_kernel<<<cuda_blocks(n, WARPS), 32 * WARPS, 0, cuda_stream>>>(S, lse, lse_g, count, rows, keys,
                                                                        visible, from_lse);
    CUDA_LAUNCHED("probs_kernel");
}

// dP = P * (dP - D[g * D_g + i]) * scale, element by element.
__global__ void dscores_kernel(float *dP, const float *P, const float *D, size_t D_g, int rows, int keys,
                               size_t n, float scale) {
    size_t e = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= n) return;
    size_t row = e / keys;
    int g = (int)(row / rows), i = (int)(row % rows);
    dP[e] = P[e] * (dP[e] - D[g * D_g + i]) * scale;
}

static void run_dscores(float *dP, const float *P, const float *D, size_t D_g, int count, int rows, int keys,
                        float scale) {
    size_t n = (size_t)count * rows * keys;
    if (n == 0) return;
    dscores_kernel<<<cuda_blocks(n, 256), 256, 0, cuda_stream>>>(dP, P, D, D_g, rows, keys, n, scale);
    CUDA_LAUNCHED("dscores_kernel");
}

// D[(b * H + h) * T + i] = dout . out over the row (b, i, h)'s hd values; one warp per row.
__global__ void row_dots_kernel(float *D, const float *dout, const float *out, int B, int T, int H, int hd) {
    size_t row = (size_t)blockIdx.x * WARPS + (threadIdx.x >> 5);  // (b, i, h)
    int lane = threadIdx.x & 31;
    if (row >= (size_t)B * T * H) return;
    int h = (int)(row % H), i = (int)(row / H % T), b = (int)(row / H / T);
    float sum = 0.0f;
    for (int e = lane; e < hd; e += 32) sum = fmaf(dout[row * hd + e], out[row * hd + e], sum);
    sum = warp_sum(sum);
    if (lane == 0) D[((size_t)b * H + h) * T + i] = sum;
}

static void run_row_dots(float *D, const float *dout, const float *out, int B, int T, int H, int hd) {
    size_t rows = (size_t)B * T * H;
    if (rows == 0) return;
    row_dots_kernel<<<cuda_blocks(rows, WARPS), 32 * WARPS, 0, cuda_stream>>>(D, dout, out, B, T, H, hd);
    CUDA_LAUNCHED("row_dots_kernel");
}

static void run_zero(float *p, size_t n) {
    CUDA_TRY(cudaMemsetAsync(p, 0, sizeof(float) * n, cuda_stream));
}

static const ap_exec gpu = {cuda_gemm_strided, run_probs, run_dscores, run_row_dots, run_zero};

// Device buffers kept for the process, grown as needed: the scores of a chunk
// (and their gradients), and the backward's row dots.
static float *chunk_buf = nullptr, *dots_buf = nullptr;
static size_t chunk_cap = 0, dots_cap = 0;

// (cuda_alloc counts them in the peak device memory.)
static float *grown(float **buf, size_t *cap, size_t need, const char *what) {
    if (need <= *cap) return *buf;
    cuda_free(*buf);
    *cap = 0;
    *buf = (float *)cuda_alloc(sizeof(float) * need, what);
    if (*buf)
        *cap = need;
    else  // the op cannot run: op_sync reports it
        cuda_note(cudaErrorMemoryAllocation, what, __FILE__, __LINE__);
    return *buf;
}

// Scores per chunk: 256 query rows (the causal skip gets most of its half at
// that size) or fewer, at most 32M floats, at least one row.
static const int CHUNK_ROWS = 256;
static size_t chunk_floats(int Tq, int Tk, int Hkv) {
    size_t rows = Tq < CHUNK_ROWS ? (size_t)Tq : CHUNK_ROWS, cap = rows * Hkv * Tk, most = (size_t)32 << 20;
    if (cap > most) cap = most;
    size_t least = ap_min_scratch(Tk, Hkv);
    return cap < least ? least : cap;
}

void cuda_attention_forward(float *out, float *lse, const float *q, const float *k, const float *v, int B,
                            int Tq, int Tk, int H, int Hkv, int hd, size_t kv_bstride, float *cpu_scratch,
                            int scratch_threads) {
    (void)cpu_scratch, (void)scratch_threads;  // the CPU's tiles; the GPU keeps its own buffer
    if ((size_t)B * Tq * H == 0) return;
    size_t cap = chunk_floats(Tq, Tk, Hkv);
    float *S = grown(&chunk_buf, &chunk_cap, cap, "attention scores");
    if (!S) return;
    ap_forward(&gpu, out, lse, q, k, v, B, Tq, Tk, H, Hkv, hd, kv_bstride, S, cap);
}

void cuda_attention_backward(float *dq, float *dk, float *dv, const float *dout, const float *out,
                             const float *lse, const float *q, const float *k, const float *v, int B, int T,
                             int H, int Hkv, int hd, float *cpu_scratch, int scratch_threads) {
    (void)cpu_scratch, (void)scratch_threads;
    size_t rows = (size_t)B * T * H;
    if (rows == 0) return;
    size_t cap = chunk_floats(T, T, Hkv);
    float *S = grown(&chunk_buf, &chunk_cap, 2 * cap, "attention scores"),
          *D = grown(&dots_buf, &dots_cap, rows, "attention row dots");
    if (!S || !D) return;
    ap_backward(&gpu, dq, dk, dv, dout, out, lse, q, k, v, B, T, H, Hkv, hd, S, cap, D);
}
