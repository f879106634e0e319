// attention.cu: causal attention with grouped key/value heads on the GPU.
// Training and prefill (cuda_attention_forward / _backward) run
// attention_products.h's algorithm: chunks of query rows through batched
// cuBLAS products (tensor cores in tf32 / bf16 mode) and the row kernels
// below for the softmax, its log-sum-exp and the score gradients. Decoding's
// few rows (cuda_attention_rows_forward) split each row's keys into fixed
// chunks, one warp per (row, head, chunk), then merge the chunks in order
// (flash-decoding): the chunk edges sit at fixed key indices, so a row's
// result depends only on its own keys, never on how many rows share the call,
// which a speculative verification needs (a product whose algorithm cuBLAS
// picks by shape does not give that).
#include <math.h>

#include "ops/cuda/attention_products.h"
#include "ops/cuda/cuda_common.h"
#include "ops/cuda/cuda_ops.h"

enum { PER_LANE = 8, MAX_HD = 32 * PER_LANE, WARPS = 4, SPLIT_KEYS = 64 };

// One warp per (query row, head) = blockIdx.x * WARPS + warp and key chunk
// blockIdx.y: the online softmax over keys [chunk * SPLIT_KEYS, ...) that the
// row sees, the head's values over the lanes (lane l holds elements l, l+32,
// ...), dot products by the fixed lane tree. Writes the chunk's unnormalized
// sum acc (hd) and its (max, sum of exponentials). q (Tq, H, hd); k, v (Tk
// keys of Hkv heads, as kv says); query i sees keys 0..Tk-Tq+i. Chunks past a row's keys are left
// alone (the merge does not read them).
__global__ void attention_split_kernel(float *part_acc, float *part_ml, const float *q, const float *k,
                                       const float *v, op_kv_layout kv, int Tq, int Tk, int H, int Hkv,
                                       int hd, int chunks, float scale) {
    const size_t row = (size_t)blockIdx.x * WARPS + (threadIdx.x >> 5);  // (i, h)
    const int lane = threadIdx.x & 31, chunk = blockIdx.y;
    if (row >= (size_t)Tq * H) return;
    const int h = (int)(row % H), i = (int)(row / H), g = h / (H / Hkv), last = Tk - Tq + i;
    const int j0 = chunk * SPLIT_KEYS, j1 = j0 + SPLIT_KEYS <= last + 1 ? j0 + SPLIT_KEYS : last + 1;
    if (j0 > last) return;
    const float *qi = q + row * hd, *kb = k + (size_t)g * kv.head, *vb = v + (size_t)g * kv.head;
    const size_t kv_row = kv.position;
    float qv[PER_LANE], acc[PER_LANE];
#pragma unroll
    for (int u = 0; u < PER_LANE; u++) {
        int e = lane + 32 * u;
        qv[u] = e < hd ? qi[e] : 0.0f;
        acc[u] = 0.0f;
    }
    float m = -INFINITY, l = 0.0f;
    for (int j = j0; j < j1; j++) {
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
    const size_t at = row * chunks + chunk;
    float *pa = part_acc + at * hd;
#pragma unroll
    for (int u = 0; u < PER_LANE; u++) {
        int e = lane + 32 * u;
        if (e < hd) pa[e] = acc[u];
    }
    if (lane == 0) {
        part_ml[2 * at] = m;
        part_ml[2 * at + 1] = l;
    }
}

// One warp per (query row, head): the row's chunks merged in order,
// out = sum_c acc_c e^(m_c - m) / sum_c l_c e^(m_c - m) with m the largest m_c.
__global__ void attention_merge_kernel(float *out, const float *part_acc, const float *part_ml, int Tq,
                                       int Tk, int H, int hd, int chunks) {
    const size_t row = (size_t)blockIdx.x * WARPS + (threadIdx.x >> 5);
    const int lane = threadIdx.x & 31;
    if (row >= (size_t)Tq * H) return;
    const int i = (int)(row / H), used = (Tk - Tq + i) / SPLIT_KEYS + 1;  // chunks holding its keys
    const float *ml = part_ml + 2 * row * chunks, *pa = part_acc + row * chunks * hd;
    float m = -INFINITY;
    for (int c = 0; c < used; c++) m = fmaxf(m, ml[2 * c]);
    float l = 0.0f, acc[PER_LANE];
#pragma unroll
    for (int u = 0; u < PER_LANE; u++) acc[u] = 0.0f;
    for (int c = 0; c < used; c++) {
        const float w = expf(ml[2 * c] - m);
        l = fmaf(ml[2 * c + 1], w, l);
#pragma unroll
        for (int u = 0; u < PER_LANE; u++) {
            int e = lane + 32 * u;
            if (e < hd) acc[u] = fmaf(pa[(size_t)c * hd + e], w, acc[u]);
        }
    }
    float *o = out + row * hd;
#pragma unroll
    for (int u = 0; u < PER_LANE; u++) {
        int e = lane + 32 * u;
        if (e < hd) o[e] = acc[u] / l;
    }
}

// The chunks' partial results, kept for the process and grown as needed.
static float *part_buf = nullptr;
static size_t part_cap = 0;
static float *grown(float **buf, size_t *cap, size_t need, const char *what);

void cuda_attention_rows_forward(float *out, const float *q, const float *k, const float *v, int Tq, int Tk,
                                 int H, int Hkv, int hd, op_kv_layout kv) {
    const size_t rows = (size_t)Tq * H;
    if (rows == 0) return;
    if (hd > MAX_HD) {
        cuda_note(cudaErrorInvalidValue, "attention head dimension above 256", __FILE__, __LINE__);
        return;
    }
    const int chunks = (Tk + SPLIT_KEYS - 1) / SPLIT_KEYS;
    if (Tk < Tq || chunks > 65535) {  // every query needs a key; the chunks are the grid's height
        cuda_note(cudaErrorInvalidValue, "decoding attention: fewer keys than queries, or above 4M keys",
                  __FILE__, __LINE__);
        return;
    }
    float *parts = grown(&part_buf, &part_cap, rows * chunks * (hd + 2), "decoding attention chunks");
    if (!parts) return;
    float *part_acc = parts, *part_ml = parts + rows * chunks * hd;
    const dim3 grid(cuda_blocks(rows, WARPS), (unsigned)chunks);
    CUDA_LAUNCH(attention_split_kernel, grid, 32 * WARPS, 0)
    (part_acc, part_ml, q, k, v, kv, Tq, Tk, H, Hkv, hd, chunks, 1.0f / sqrtf((float)hd));
    CUDA_LAUNCHED("attention_split_kernel");
    CUDA_LAUNCH(attention_merge_kernel, cuda_blocks(rows, WARPS), 32 * WARPS, 0)
    (out, part_acc, part_ml, Tq, Tk, H, hd, chunks);
    CUDA_LAUNCHED("attention_merge_kernel");
}

// ---- the executor of attention_products.h ----

// Rows (b, g, i) of S, count2 x count x rows of `keys` floats, one warp per
// row; row i sees visible + i keys. With L = lse[b * lse_b + g * lse_g + i]:
// from_lse 0: the row's softmax (and L its log-sum-exp unless lse is NULL);
// 1: exp(s - L). Zero past the visible keys.
__global__ void probs_kernel(float *S, float *lse, size_t lse_g, size_t lse_b, int count, int rows, int keys,
                             int visible, size_t total, int from_lse) {
    size_t row = (size_t)blockIdx.x * WARPS + (threadIdx.x >> 5);
    int lane = threadIdx.x & 31;
    if (row >= total) return;
    const size_t bg = row / rows;
    const int i = (int)(row % rows), g = (int)(bg % count), b = (int)(bg / count), vis = visible + i;
    const size_t at = b * lse_b + g * lse_g + i;
    float *s = S + row * keys;
    float m, l = 1.0f;
    if (from_lse) {
        m = lse[at];
    } else {
        m = -INFINITY;
        for (int j = lane; j < vis; j += 32) m = fmaxf(m, s[j]);
        m = warp_max(m);
        l = 0.0f;
        for (int j = lane; j < vis; j += 32) l += expf(s[j] - m);
        l = warp_sum(l);
        if (lse && lane == 0) lse[at] = m + logf(l);
    }
    const float inv = 1.0f / l;
    for (int j = lane; j < keys; j += 32) s[j] = j < vis ? expf(s[j] - m) * inv : 0.0f;
}

static void run_probs(float *S, float *lse, size_t lse_g, size_t lse_b, int count, int count2, int rows,
                      int keys, int visible, int from_lse) {
    size_t n = (size_t)count * count2 * rows;
    if (n == 0) return;
    CUDA_LAUNCH(probs_kernel, cuda_blocks(n, WARPS), 32 * WARPS, 0)
    (S, lse, lse_g, lse_b, count, rows, keys, visible, n, from_lse);
    CUDA_LAUNCHED("probs_kernel");
}

// dP = P * (dP - D[b * D_b + g * D_g + i]) * scale, element by element.
__global__ void dscores_kernel(float *dP, const float *P, const float *D, size_t D_g, size_t D_b, int count,
                               int rows, int keys, size_t n, float scale) {
    size_t e = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= n) return;
    const size_t row = e / keys, bg = row / rows;
    const int i = (int)(row % rows), g = (int)(bg % count), b = (int)(bg / count);
    dP[e] = P[e] * (dP[e] - D[b * D_b + g * D_g + i]) * scale;
}

static void run_dscores(float *dP, const float *P, const float *D, size_t D_g, size_t D_b, int count,
                        int count2, int rows, int keys, float scale) {
    size_t n = (size_t)count * count2 * rows * keys;
    if (n == 0) return;
    CUDA_LAUNCH(dscores_kernel, cuda_blocks(n, 256), 256, 0)(dP, P, D, D_g, D_b, count, rows, keys, n, scale);
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
    CUDA_LAUNCH(row_dots_kernel, cuda_blocks(rows, WARPS), 32 * WARPS, 0)(D, dout, out, B, T, H, hd);
    CUDA_LAUNCHED("row_dots_kernel");
}

static void run_zero(float *p, size_t n) {
    CUDA_TRY(cudaMemsetAsync(p, 0, sizeof(float) * n, cuda_stream));
}

static const ap_exec gpu = {cuda_gemm_batched, run_probs, run_dscores, run_row_dots, run_zero};

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

// Scores per chunk, for all B sequences at once: 256 query rows (the causal
// skip gets most of its half at that size) or fewer, at most 32M floats, at
// least one row; rounded to 64 floats so the backward's second half (dS) starts
// 256-byte aligned.
static const int CHUNK_ROWS = 256;
static size_t chunk_floats(int B, int Tq, int Tk, int Hkv) {
    size_t rows = Tq < CHUNK_ROWS ? (size_t)Tq : CHUNK_ROWS, cap = rows * B * Hkv * Tk,
           most = (size_t)32 << 20;
    if (cap > most) cap = most;
    size_t least = ap_min_scratch(B, Tk, Hkv);
    cap = cap < least ? least : cap;
    return (cap + 63) / 64 * 64;
}

void cuda_attention_forward(float *out, float *lse, const float *q, const float *k, const float *v, int B,
                            int Tq, int Tk, int H, int Hkv, int hd, op_kv_layout kv, float *cpu_scratch,
                            int scratch_threads) {
    (void)cpu_scratch, (void)scratch_threads;  // the CPU's tiles; the GPU keeps its own buffer
    if ((size_t)B * Tq * H == 0) return;
    if (cuda_precision() == 2 && cuda_flash_attention_on() &&
        cuda_flash_attention_forward(out, lse, q, k, v, B, Tq, Tk, H, Hkv, hd, kv) == 0)
        return;
    size_t cap = chunk_floats(B, Tq, Tk, Hkv);
    float *S = grown(&chunk_buf, &chunk_cap, cap, "attention scores");
    if (!S) return;
    ap_forward(&gpu, out, lse, q, k, v, B, Tq, Tk, H, Hkv, hd, kv, S, cap);
}

void cuda_attention_backward(float *dq, float *dk, float *dv, const float *dout, const float *out,
                             const float *lse, const float *q, const float *k, const float *v, int B, int T,
                             int H, int Hkv, int hd, float *cpu_scratch, int scratch_threads) {
    (void)cpu_scratch, (void)scratch_threads;
    size_t rows = (size_t)B * T * H;
    if (rows == 0) return;
    if (cuda_precision() == 2 && cuda_flash_attention_on() && (hd == 64 || hd == 128)) {
        float *D = grown(&dots_buf, &dots_cap, rows, "attention row dots");
        if (!D) return;
        run_row_dots(D, dout, out, B, T, H, hd);
        if (cuda_flash_attention_backward(dq, dk, dv, dout, lse, D, q, k, v, B, T, H, Hkv, hd) == 0) return;
    }
    size_t cap = chunk_floats(B, T, T, Hkv);
    float *S = grown(&chunk_buf, &chunk_cap, 2 * cap, "attention scores"),
          *D = grown(&dots_buf, &dots_cap, rows, "attention row dots");
    if (!S || !D) return;
    ap_backward(&gpu, dq, dk, dv, dout, out, lse, q, k, v, B, T, H, Hkv, hd, S, cap, D);
}
