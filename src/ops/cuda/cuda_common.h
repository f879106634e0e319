// cuda_common.h: what the CUDA backend's .cu files share (C++ only): the
// stream and cuBLAS handle, the sticky error record, launch sizes and warp /
// block reductions.
#ifndef MTP_OPS_CUDA_COMMON_H
#define MTP_OPS_CUDA_COMMON_H

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <stddef.h>

// Created by cuda_init (runtime.cu); every op runs on this one stream, in order.
extern cudaStream_t cuda_stream;
extern cublasHandle_t cuda_blas;
// The most dynamic shared memory a block may ask for once a kernel allows it
// (cudaFuncAttributeMaxDynamicSharedMemorySize): 227 KB on an H100, 163 KB on
// an A100; 48 KB until cuda_init has asked the device.
extern size_t cuda_shared_optin;

// Keeps the first failure (ops return nothing; cuda_sync reports it).
void cuda_note(cudaError_t e, const char *what, const char *file, int line);
void cuda_note_blas(cublasStatus_t s, const char *what, const char *file, int line);
#define CUDA_TRY(call) cuda_note((call), #call, __FILE__, __LINE__)
#define BLAS_TRY(call) cuda_note_blas((call), #call, __FILE__, __LINE__)
// After a kernel launch: a bad configuration shows here, a fault at the next sync.
#define CUDA_LAUNCHED(name) cuda_note(cudaGetLastError(), name, __FILE__, __LINE__)

// Column-major C_gb = alpha op(A_gb) op(B_gb) + beta C_gb for g < count, b <
// count2 (X_gb = X + g * sX + b * sX2; op transposes when tX is 1), float32
// storage, in the products' compute type (matmul.cu: cuda_set_precision): one
// strided launch where one stride covers the batch, else one launch over arrays
// of pointers.
void cuda_gemm_batched(int ta, int tb, int m, int n, int k, float alpha, const float *A, int lda, size_t sA,
                       size_t sA2, const float *B, int ldb, size_t sB, size_t sB2, float beta, float *C,
                       int ldc, size_t sC, size_t sC2, int count, int count2);

// Every kernel starts as CUDA_LAUNCH(kernel, grid, threads, shared bytes)(arguments)
// on the one stream, and takes its dynamic shared memory as
// CUDA_DYNAMIC_SHARED(name): written so, the kernels also compile for the host
// emulation the tests run them in without a GPU (tests/cuda_emu/), which
// defines both its own way.
#ifndef MTP_CUDA_EMULATION
#define CUDA_LAUNCH(kernel, grid, threads, bytes) kernel<<<(grid), (threads), (bytes), cuda_stream>>>
#define CUDA_DYNAMIC_SHARED(name) extern __shared__ __align__(128) unsigned char name[]
#endif

// Lets `kernel`, whose static shared memory is `static_bytes`, have `bytes`
// of dynamic shared memory: above 48 KB in all a kernel must ask first (once
// per size it grows to; *allowed starts at 0). Returns 0, asking nothing,
// where the device cannot give that much (the caller takes another path).
template <typename K>
static inline int cuda_allow_shared(K kernel, size_t bytes, size_t static_bytes, size_t *allowed) {
    if (bytes + static_bytes > cuda_shared_optin) return 0;
    if (bytes + static_bytes > 48 * 1024 && bytes > *allowed) {
        CUDA_TRY(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)bytes));
        *allowed = bytes;
    }
    return 1;
}

static inline unsigned cuda_blocks(size_t n, unsigned threads) {
    return (unsigned)((n + threads - 1) / threads);
}

// Sum over the 32 lanes of a warp; every lane gets the result. The tree is
// fixed, so a value's bits depend only on the lanes' inputs.
template <typename T>
__device__ inline T warp_sum(T v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

template <typename T>
__device__ inline T warp_max(T v) {
    for (int o = 16; o > 0; o >>= 1) {
        T u = __shfl_xor_sync(0xffffffffu, v, o);
        v = u > v ? u : v;
    }
    return v;
}

// Sum (or max) over a block of blockDim.x threads (a multiple of 32, at most
// 1024); every thread gets the result. shared: 32 values of T.
template <typename T>
__device__ inline T block_sum(T v, T *shared) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    v = warp_sum(v);
    __syncthreads();  // shared may still be read by a previous call
    if (lane == 0) shared[warp] = v;
    __syncthreads();
    v = lane < warps ? shared[lane] : T(0);
    return warp_sum(v);
}

template <typename T>
__device__ inline T block_max(T v, T *shared, T lowest) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0) shared[warp] = v;
    __syncthreads();
    v = lane < warps ? shared[lane] : lowest;
    return warp_max(v);
}

#endif
