// norm.cu: RMSNorm and rotary embedding on the GPU (formulas as ops/cpu/).
#include "ops/cuda/cuda_common.h"
#include "ops/cuda/cuda_ops.h"

enum { NORM_THREADS = 256 };

// One block per row of x (N, d).
__global__ void rmsnorm_forward_kernel(float *out, float *rstd, const float *x, const float *w, int d,
                                       float eps) {
    __shared__ float shared[32];
    const float *xi = x + (size_t)blockIdx.x * d;
    float *oi = out + (size_t)blockIdx.x * d;
    float ss = 0.0f;
    for (int j = threadIdx.x; j < d; j += blockDim.x) ss += xi[j] * xi[j];
    ss = block_sum(ss, shared);
    float r = 1.0f / sqrtf(ss / (float)d + eps);
    if (threadIdx.x == 0) rstd[blockIdx.x] = r;
    for (int j = threadIdx.x; j < d; j += blockDim.x) oi[j] = xi[j] * r * w[j];
}

void cuda_rmsnorm_forward(float *out, float *rstd, const float *x, const float *w, int N, int d, float eps) {
    if (N <= 0) return;
    CUDA_LAUNCH(rmsnorm_forward_kernel, N, NORM_THREADS, 0)(out, rstd, x, w, d, eps);
    CUDA_LAUNCHED("rmsnorm_forward_kernel");
}

// forward: y_j = x_j r w_j, r = (mean(x^2) + eps)^(-1/2)
// dx_j += r w_j dy_j - x_j r^3 / d sum_k(w_k dy_k x_k); one block per row
__global__ void rmsnorm_dx_kernel(float *dx, const float *dout, const float *x, const float *w,
                                  const float *rstd, int d) {
    __shared__ float shared[32];
    size_t off = (size_t)blockIdx.x * d;
    float r = rstd[blockIdx.x], dot = 0.0f;
    for (int j = threadIdx.x; j < d; j += blockDim.x) dot += w[j] * dout[off + j] * x[off + j];
    dot = block_sum(dot, shared);
    float c = dot * r * r * r / (float)d;
    for (int j = threadIdx.x; j < d; j += blockDim.x)
        dx[off + j] += r * w[j] * dout[off + j] - c * x[off + j];
}

// dw_j += sum over rows of dy_j x_j r, deterministic and parallel: the rows
// are cut into DW_CHUNKS fixed chunks, one thread per (column, chunk) sums
// its chunk in order (neighbouring threads read neighbouring columns), then
// one thread per column adds the chunk sums in order.
enum { DW_CHUNKS = 64 };

__global__ void rmsnorm_dw_partial_kernel(float *partial, const float *dout, const float *x,
                                          const float *rstd, int N, int d) {
    int j = blockIdx.x * blockDim.x + threadIdx.x, chunk = blockIdx.y;
    if (j >= d) return;
    int per = (N + DW_CHUNKS - 1) / DW_CHUNKS, i0 = chunk * per, i1 = i0 + per < N ? i0 + per : N;
    float acc = 0.0f;
    for (int i = i0; i < i1; i++) acc += dout[(size_t)i * d + j] * x[(size_t)i * d + j] * rstd[i];
    partial[(size_t)chunk * d + j] = acc;
}

__global__ void rmsnorm_dw_sum_kernel(float *dw, const float *partial, int d) {
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= d) return;
    float acc = 0.0f;
    for (int c = 0; c < DW_CHUNKS; c++) acc += partial[(size_t)c * d + j];
    dw[j] += acc;
}

void cuda_rmsnorm_backward(float *dx, float *dw, const float *dout, const float *x, const float *w,
                           const float *rstd, int N, int d) {
    static float *partial = nullptr;  // (DW_CHUNKS, d), grown as needed and kept for the process
    static int partial_d = 0;
    if (N <= 0) return;
    CUDA_LAUNCH(rmsnorm_dx_kernel, N, NORM_THREADS, 0)(dx, dout, x, w, rstd, d);
    CUDA_LAUNCHED("rmsnorm_dx_kernel");
    if (!dw) return;
    if (d > partial_d) {
        if (partial) CUDA_TRY(cudaFree(partial));
        partial = nullptr;
        partial_d = 0;
        CUDA_TRY(cudaMalloc(&partial, sizeof(float) * DW_CHUNKS * (size_t)d));
        if (!partial) return;
        partial_d = d;
    }
    dim3 grid(cuda_blocks((size_t)d, 128), DW_CHUNKS);
    CUDA_LAUNCH(rmsnorm_dw_partial_kernel, grid, 128, 0)(partial, dout, x, rstd, N, d);
    CUDA_LAUNCHED("rmsnorm_dw_partial_kernel");
    CUDA_LAUNCH(rmsnorm_dw_sum_kernel, cuda_blocks((size_t)d, 128), 128, 0)(dw, partial, d);
    CUDA_LAUNCHED("rmsnorm_dw_sum_kernel");
}

// One thread per (b, t, head, i < hd/2) of x (B, T, nh, hd): the rotate-half
// pair (i, i + hd/2) at position pos0 + t; sign -1 is the backward (R^T).
__global__ void rope_kernel(float *x, const float *cos_t, const float *sin_t, int T, int nh, int hd, int pos0,
                            float sign, size_t total) {
    size_t id = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (id >= total) return;
    int half = hd / 2;
    int i = (int)(id % half);
    size_t row = id / half;  // (b, t, head)
    int t = (int)(row / nh % T);
    const float c = cos_t[(size_t)(pos0 + t) * half + i], s = sign * sin_t[(size_t)(pos0 + t) * half + i];
    float *v = x + row * hd;
    float x1 = v[i], x2 = v[i + half];
    v[i] = x1 * c - x2 * s;
    v[i + half] = x2 * c + x1 * s;
}

static void rope(float *x, const float *cos_t, const float *sin_t, int B, int T, int nh, int hd, int pos0,
                 float sign) {
    size_t total = (size_t)B * T * nh * (hd / 2);
    if (total == 0) return;
    CUDA_LAUNCH(rope_kernel, cuda_blocks(total, 256), 256, 0)(x, cos_t, sin_t, T, nh, hd, pos0, sign, total);
    CUDA_LAUNCHED("rope_kernel");
}

void cuda_rope_forward(float *x, const float *cos_t, const float *sin_t, int B, int T, int nh, int hd,
                       int pos0) {
    rope(x, cos_t, sin_t, B, T, nh, hd, pos0, 1.0f);
}

void cuda_rope_backward(float *dx, const float *cos_t, const float *sin_t, int B, int T, int nh, int hd,
                        int pos0) {
    rope(dx, cos_t, sin_t, B, T, nh, hd, pos0, -1.0f);
}
