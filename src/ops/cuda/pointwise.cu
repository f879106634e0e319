// pointwise.cu: the embedding, SwiGLU, the residual add, AdamW and the sum of
// squares on the GPU (formulas as ops/cpu/).
#include <math.h>

#include "ops/cuda/cuda_common.h"
#include "ops/cuda/cuda_ops.h"

enum { THREADS = 256 };

// out (N, d) = table[tokens[i]]: one thread per value
__global__ void embedding_forward_kernel(float *out, const int32_t *tokens, const float *table, int d,
                                         size_t total) {
    size_t id = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (id >= total) return;
    size_t i = id / d, j = id % d;
    out[id] = table[(size_t)tokens[i] * d + j];
}

void cuda_embedding_forward(float *out, const int32_t *tokens, const float *table, int N, int d) {
    size_t total = (size_t)N * d;
    if (total == 0) return;
    CUDA_LAUNCH(embedding_forward_kernel, cuda_blocks(total, THREADS), THREADS, 0)
    (out, tokens, table, d, total);
    CUDA_LAUNCHED("embedding_forward_kernel");
}

// dtable (V, d) += scatter of dout (N, d): one warp per row of the table. A
// block's warps read the token ids through shared memory, a tile at a time;
// each finds its row's positions in order (a ballot over 32 positions, then
// its set bits from the lowest) and adds those rows of dout, the lanes across
// the columns. Repeated tokens add in position order, as the CPU's walk does:
// deterministic, no atomics, and every row and column busy at once (one
// thread per column walking all N tokens left the GPU idle: about 4 ms at
// N = 8192 in latency alone).
enum { EMBED_WARPS = 8, EMBED_TILE = 2048 };

__global__ void embedding_backward_kernel(float *dtable, const float *dout, const int32_t *tokens, int N,
                                          int V, int d) {
    __shared__ int32_t tile[EMBED_TILE];
    const int lane = threadIdx.x & 31, v = blockIdx.x * EMBED_WARPS + (threadIdx.x >> 5);
    float *dst = dtable + (size_t)(v < V ? v : 0) * d;  // used only when v < V
    for (int t0 = 0; t0 < N; t0 += EMBED_TILE) {
        const int n = N - t0 < EMBED_TILE ? N - t0 : EMBED_TILE;
        __syncthreads();  // the previous tile is read by every warp
        for (int i = threadIdx.x; i < n; i += blockDim.x) tile[i] = tokens[t0 + i];
        __syncthreads();
        if (v >= V) continue;  // the whole warp: no ballot is split
        for (int i0 = 0; i0 < n; i0 += 32) {
            unsigned hits = __ballot_sync(0xffffffffu, i0 + lane < n && tile[i0 + lane] == v);
            while (hits) {
                const int b = __ffs(hits) - 1;
                hits &= hits - 1;
                const float *src = dout + (size_t)(t0 + i0 + b) * d;
                for (int j = lane; j < d; j += 32) dst[j] += src[j];
            }
        }
    }
}

void cuda_embedding_backward(float *dtable, const float *dout, const int32_t *tokens, int N, int V, int d) {
    if (N <= 0 || V <= 0 || d <= 0) return;
    CUDA_LAUNCH(embedding_backward_kernel, cuda_blocks((size_t)V, EMBED_WARPS), 32 * EMBED_WARPS, 0)
    (dtable, dout, tokens, N, V, d);
    CUDA_LAUNCHED("embedding_backward_kernel");
}

__global__ void swiglu_forward_kernel(float *out, const float *gate, const float *up, size_t n) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float g = gate[i];
    out[i] = g / (1.0f + expf(-g)) * up[i];
}

void cuda_swiglu_forward(float *out, const float *gate, const float *up, size_t n) {
    if (n == 0) return;
    CUDA_LAUNCH(swiglu_forward_kernel, cuda_blocks(n, THREADS), THREADS, 0)(out, gate, up, n);
    CUDA_LAUNCHED("swiglu_forward_kernel");
}

// forward: out = g sig(g) u; dg = dout u sig(g) (1 + g (1 - sig(g))); du = dout g sig(g)
__global__ void swiglu_backward_kernel(float *dgate, float *dup, const float *dout, const float *gate,
                                       const float *up, size_t n) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float g = gate[i], sg = 1.0f / (1.0f + expf(-g)), d = dout[i];
    dgate[i] = d * up[i] * sg * (1.0f + g * (1.0f - sg));
    dup[i] = d * g * sg;
}

void cuda_swiglu_backward(float *dgate, float *dup, const float *dout, const float *gate, const float *up,
                          size_t n) {
    if (n == 0) return;
    CUDA_LAUNCH(swiglu_backward_kernel, cuda_blocks(n, THREADS), THREADS, 0)(dgate, dup, dout, gate, up, n);
    CUDA_LAUNCHED("swiglu_backward_kernel");
}

__global__ void add_kernel(float *y, const float *x, size_t n) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] += x[i];
}

void cuda_add_inplace(float *y, const float *x, size_t n) {
    if (n == 0) return;
    CUDA_LAUNCH(add_kernel, cuda_blocks(n, THREADS), THREADS, 0)(y, x, n);
    CUDA_LAUNCHED("add_kernel");
}

// PyTorch AdamW, the constants formed in double on the host as the CPU does.
__global__ void adamw_kernel(float *p, const float *g, float *m, float *v, size_t n, float grad_scale,
                             float b1, float b2, float one_minus_b1, float one_minus_b2, float bc2_sqrt,
                             float step_size, float decay, float eps) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float gi = g[i] * grad_scale;
    float mi = b1 * m[i] + one_minus_b1 * gi;
    float vi = b2 * v[i] + one_minus_b2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = p[i] * decay - step_size * mi / (sqrtf(vi) / bc2_sqrt + eps);
}

void cuda_adamw(float *p, const float *g, float *m, float *v, size_t n, float grad_scale, double lr,
                double beta1, double beta2, double eps, double weight_decay, long step) {
    if (n == 0) return;
    const float bc2_sqrt = (float)sqrt(1.0 - pow(beta2, (double)step));
    const float step_size = (float)(lr / (1.0 - pow(beta1, (double)step)));
    CUDA_LAUNCH(adamw_kernel, cuda_blocks(n, THREADS), THREADS, 0)
    (p, g, m, v, n, grad_scale, (float)beta1, (float)beta2, (float)(1.0 - beta1), (float)(1.0 - beta2),
     bc2_sqrt, step_size, (float)(1.0 - lr * weight_decay), (float)eps);
    CUDA_LAUNCHED("adamw_kernel");
}

// Sum of squares in double: SQ_BLOCKS fixed blocks each sum a grid-strided
// share, then one thread adds the block sums in order (the same bits every
// run).
enum { SQ_BLOCKS = 256 };

__global__ void sum_squares_kernel(double *partial, const float *x, size_t n) {
    __shared__ double shared[32];
    double s = 0.0;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        s += (double)x[i] * (double)x[i];
    s = block_sum(s, shared);
    if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

__global__ void sum_partials_kernel(double *partial, int count) {
    double s = 0.0;
    for (int i = 0; i < count; i++) s += partial[i];
    partial[0] = s;
}

double cuda_sum_squares(const float *x, size_t n) {
    static double *partial = nullptr;  // SQ_BLOCKS doubles, kept for the process
    if (n == 0) return 0.0;
    if (!partial) CUDA_TRY(cudaMalloc(&partial, sizeof(double) * SQ_BLOCKS));
    if (!partial) return NAN;
    CUDA_LAUNCH(sum_squares_kernel, SQ_BLOCKS, THREADS, 0)(partial, x, n);
    CUDA_LAUNCHED("sum_squares_kernel");
    CUDA_LAUNCH(sum_partials_kernel, 1, 1, 0)(partial, SQ_BLOCKS);
    CUDA_LAUNCHED("sum_partials_kernel");
    double total = NAN;
    cuda_download(&total, partial, sizeof total);
    return total;
}
