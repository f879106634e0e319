// matmul.cu: the matrix products on the GPU. Training's through cuBLAS
// (float32 sgemm); decoding's few-row product is a kernel of ours, whose rows
// do not depend on how many rows there are (cuBLAS picks algorithms, and with
// them summation orders, by shape), so a speculative verification of K+1
// rows reproduces K+1 single-row steps.
//
// Row-major (r, c) is column-major (c, r): every product below is written for
// cuBLAS on the transposes.
#include <stdint.h>

#include "ops/cuda/cuda_common.h"
#include "ops/cuda/cuda_ops.h"

// The products' precision (cuda_set_precision): 0 float32 (no TF32, the
// default), 1 TF32, 2 bfloat16 inputs; float32 sums in every case.
static int precision_now = 0;

int cuda_precision(void) {
    return precision_now;
}

void cuda_set_precision(int precision) {
    precision_now = precision;
}

static cublasComputeType_t compute_type(void) {
    return precision_now == 2   ? CUBLAS_COMPUTE_32F_FAST_16BF
           : precision_now == 1 ? CUBLAS_COMPUTE_32F_FAST_TF32
                                : CUBLAS_COMPUTE_32F;
}

// C (m, n) = op(A) @ op(B) + beta C, column-major, float32 storage
static void gemm(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, const float *A, int lda,
                 const float *B, int ldb, float beta, float *C, int ldc) {
    const float one = 1.0f;
    BLAS_TRY(cublasGemmEx(cuda_blas, ta, tb, m, n, k, &one, A, CUDA_R_32F, lda, B, CUDA_R_32F, ldb, &beta, C,
                          CUDA_R_32F, ldc, compute_type(), CUBLAS_GEMM_DEFAULT));
}

// The operand pointers of a two-level batch, entry (g, b) at b * count + g.
__global__ void batch_pointers_kernel(const float **A, const float **B, float **C, const float *a, size_t sA,
                                      size_t sA2, const float *b, size_t sB, size_t sB2, float *c, size_t sC,
                                      size_t sC2, int count, int total) {
    int e = blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= total) return;
    const size_t g = (size_t)(e % count), s = (size_t)(e / count);
    A[e] = a + g * sA + s * sA2;
    B[e] = b + g * sB + s * sB2;
    C[e] = c + g * sC + s * sC2;
}

void cuda_gemm_batched(int ta, int tb, int m, int n, int k, float alpha, const float *A, int lda, size_t sA,
                       size_t sA2, const float *B, int ldb, size_t sB, size_t sB2, float beta, float *C,
                       int ldc, size_t sC, size_t sC2, int count, int count2) {
    const cublasOperation_t opa = ta ? CUBLAS_OP_T : CUBLAS_OP_N, opb = tb ? CUBLAS_OP_T : CUBLAS_OP_N;
    const int total = count * count2;
    if (total <= 0) return;
    // one stride covers the whole batch: a strided launch
    if (count2 == 1 || (sA2 == sA * count && sB2 == sB * count && sC2 == sC * count)) {
        BLAS_TRY(cublasGemmStridedBatchedEx(cuda_blas, opa, opb, m, n, k, &alpha, A, CUDA_R_32F, lda,
                                            (long long)sA, B, CUDA_R_32F, ldb, (long long)sB, &beta, C,
                                            CUDA_R_32F, ldc, (long long)sC, total, compute_type(),
                                            CUBLAS_GEMM_DEFAULT));
        return;
    }
    // otherwise arrays of pointers, made on the device (kept for the process, grown as needed)
    static void **ptrs = nullptr;
    static int cap = 0;
    if (total > cap) {
        cuda_free(ptrs);
        cap = 0;
        ptrs = (void **)cuda_alloc(sizeof(void *) * 3 * (size_t)total, "batched product pointers");
        if (!ptrs) {
            cuda_note(cudaErrorMemoryAllocation, "batched product pointers", __FILE__, __LINE__);
            return;
        }
        cap = total;
    }
    const float **pa = (const float **)ptrs, **pb = (const float **)(ptrs + cap);
    float **pc = (float **)(ptrs + 2 * cap);
    CUDA_LAUNCH(batch_pointers_kernel, cuda_blocks((size_t)total, 128), 128, 0)
    (pa, pb, pc, A, sA, sA2, B, sB, sB2, C, sC, sC2, count, total);
    CUDA_LAUNCHED("batch_pointers_kernel");
    BLAS_TRY(cublasGemmBatchedEx(cuda_blas, opa, opb, m, n, k, &alpha, (const void *const *)pa, CUDA_R_32F,
                                 lda, (const void *const *)pb, CUDA_R_32F, ldb, &beta, (void *const *)pc,
                                 CUDA_R_32F, ldc, total, compute_type(), CUBLAS_GEMM_DEFAULT));
}

void cuda_matmul_forward(float *out, const float *inp, const float *w, int N, int in_dim, int out_dim) {
    // out (N, O) = inp (N, I) @ w (O, I)^T  <=>  out^T (O, N) = w (O, I) @ inp^T (I, N);
    // column-major w^T is w stored (I, O): transpose it
    gemm(CUBLAS_OP_T, CUBLAS_OP_N, out_dim, N, in_dim, w, in_dim, inp, in_dim, 0.0f, out, out_dim);
}

void cuda_matmul_backward(float *dinp, float *dw, const float *dout, const float *inp, const float *w, int N,
                          int in_dim, int out_dim, int accumulate_dinp) {
    if (dinp)  // dinp (N, I) = dout (N, O) @ w (O, I)  <=>  dinp^T (I, N) = w^T (I, O) @ dout^T (O, N)
        gemm(CUBLAS_OP_N, CUBLAS_OP_N, in_dim, N, out_dim, w, in_dim, dout, out_dim,
             accumulate_dinp ? 1.0f : 0.0f, dinp, in_dim);
    if (dw)  // dw (O, I) += dout^T (O, N) @ inp (N, I)  <=>  dw^T (I, O) += inp^T (I, N) @ dout (N, O)
        gemm(CUBLAS_OP_N, CUBLAS_OP_T, in_dim, out_dim, N, inp, in_dim, dout, out_dim, 1.0f, dw, in_dim);
}

enum { ROWS_MAX = 16, WARPS_PER_BLOCK = 8 };

// One warp per output o and up to ROWS_MAX rows; w's row o is read once for
// all rows, then each row's lane sums go through the fixed lane tree. VEC: the
// lanes read 4 consecutive columns at a time (16-byte loads keep more of the
// memory's bandwidth in flight: decoding reads every weight once per step),
// lane l taking columns 4l..4l+3, then 128 further on; otherwise column l,
// then 32 further on. Which one depends only on the shapes and addresses, never
// on M, so a row's result does not depend on how many rows there are.
template <bool VEC>
__global__ void rows_kernel(float *out, const float *inp, const float *w, int M, int in_dim, int out_dim) {
    int o = blockIdx.x * WARPS_PER_BLOCK + (threadIdx.x >> 5), lane = threadIdx.x & 31;
    if (o >= out_dim) return;  // whole warps leave together
    const float *wo = w + (size_t)o * in_dim;
    float acc[ROWS_MAX];
#pragma unroll
    for (int r = 0; r < ROWS_MAX; r++) acc[r] = 0.0f;
    if (VEC) {
        const float4 *w4 = (const float4 *)wo;
        const int n4 = in_dim / 4;
#pragma unroll 4
        for (int c = lane; c < n4; c += 32) {
            const float4 wv = __ldcs(w4 + c);  // streamed: read once per step
#pragma unroll
            for (int r = 0; r < ROWS_MAX; r++)
                if (r < M) {
                    const float4 x = ((const float4 *)(inp + (size_t)r * in_dim))[c];
                    acc[r] = fmaf(x.x, wv.x, acc[r]);
                    acc[r] = fmaf(x.y, wv.y, acc[r]);
                    acc[r] = fmaf(x.z, wv.z, acc[r]);
                    acc[r] = fmaf(x.w, wv.w, acc[r]);
                }
        }
    } else {
        for (int c = lane; c < in_dim; c += 32) {
            float wv = wo[c];
#pragma unroll
            for (int r = 0; r < ROWS_MAX; r++)
                if (r < M) acc[r] = fmaf(inp[(size_t)r * in_dim + c], wv, acc[r]);
        }
    }
#pragma unroll
    for (int r = 0; r < ROWS_MAX; r++) {
        if (r >= M) break;
        float s = warp_sum(acc[r]);
        if (lane == 0) out[(size_t)r * out_dim + o] = s;
    }
}

void cuda_matmul_rows_forward(float *out, const float *inp, const float *w, int M, int in_dim, int out_dim) {
    for (int r0 = 0; r0 < M; r0 += ROWS_MAX) {
        int m = M - r0 < ROWS_MAX ? M - r0 : ROWS_MAX;
        const float *x = inp + (size_t)r0 * in_dim;
        const bool vec = in_dim % 4 == 0 && ((uintptr_t)x | (uintptr_t)w) % 16 == 0;
        const unsigned blocks = cuda_blocks((size_t)out_dim, WARPS_PER_BLOCK);
        if (vec) {
            CUDA_LAUNCH(rows_kernel<true>, blocks, 32 * WARPS_PER_BLOCK, 0)
            (out + (size_t)r0 * out_dim, x, w, m, in_dim, out_dim);
        } else {
            CUDA_LAUNCH(rows_kernel<false>, blocks, 32 * WARPS_PER_BLOCK, 0)
            (out + (size_t)r0 * out_dim, x, w, m, in_dim, out_dim);
        }
        CUDA_LAUNCHED("rows_kernel");
    }
}
