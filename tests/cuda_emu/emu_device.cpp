// emu_device.cpp: the emulated GPU of the CUDA=emu build: the runtime calls
// runtime.cu makes (memory is the host's, 256-byte aligned as cudaMalloc's,
// NaN bytes until written; host code that touches device memory itself is not
// caught here, but on the cpu-check device;
// every stream call finishes before it returns) and the cuBLAS products
// matmul.cu makes, computed on the host from the same column-major arguments,
// with cuBLAS's argument checks, beta = 0 never reading C (alpha = 0 never
// reading A and B), and the inputs
// rounded to the compute type (bfloat16 or TF32) before float64 sums.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cublas_v2.h"
#include "cuda_bf16.h"
#include "cuda_runtime.h"

cudaError_t cudaGetDeviceCount(int *count) {
    *count = 1;
    return cudaSuccess;
}

cudaError_t cudaSetDevice(int device) {
    return device == 0 ? cudaSuccess : cudaErrorInvalidValue;
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp *p, int device) {
    if (device != 0) return cudaErrorInvalidValue;
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "emulated on the host (tests/cuda_emu)");
    p->totalGlobalMem = (size_t)80 << 30;
    p->sharedMemPerBlockOptin = 227 * 1024;  // an H100's (emu_runtime.cpp: MAX_SHARED)
    p->major = 9;
    return cudaSuccess;
}

const char *cudaGetErrorString(cudaError_t e) {
    switch (e) {
        case cudaSuccess:
            return "no error";
        case cudaErrorInvalidValue:
            return "invalid argument";
        case cudaErrorMemoryAllocation:
            return "out of memory";
        case cudaErrorInvalidConfiguration:
            return "invalid configuration argument";
        case cudaErrorNoDevice:
            return "no CUDA-capable device is detected";
    }
    return "unknown error";
}

cudaError_t cudaMalloc(void **p, size_t bytes) {
    const size_t rounded = bytes ? (bytes + 255) / 256 * 256 : 256;
    *p = aligned_alloc(256, rounded);
    if (*p) memset(*p, 0xff, rounded);  // garbage (NaN bytes), as a GPU's fresh memory may hold
    return *p ? cudaSuccess : cudaErrorMemoryAllocation;
}

cudaError_t cudaFree(void *p) {
    free(p);
    return cudaSuccess;
}

cudaError_t cudaMemcpy(void *dst, const void *src, size_t bytes, cudaMemcpyKind) {
    memmove(dst, src, bytes);
    return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind, cudaStream_t) {
    return cudaMemcpy(dst, src, bytes, kind);
}

cudaError_t cudaMemcpy2DAsync(void *dst, size_t dpitch, const void *src, size_t spitch, size_t width,
                              size_t height, cudaMemcpyKind, cudaStream_t) {
    if (width > dpitch || width > spitch) return cudaErrorInvalidValue;  // as the runtime refuses it
    for (size_t r = 0; r < height; r++)
        memcpy((char *)dst + r * dpitch, (const char *)src + r * spitch, width);
    return cudaSuccess;
}

cudaError_t cudaMemsetAsync(void *p, int value, size_t bytes, cudaStream_t) {
    memset(p, value, bytes);
    return cudaSuccess;
}

cudaError_t cudaStreamCreate(cudaStream_t *s) {
    static int the_stream;
    *s = (cudaStream_t)&the_stream;
    return cudaSuccess;
}

cudaError_t cudaStreamDestroy(cudaStream_t) {
    return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t) {
    return cudaSuccess;
}

// ---- cuBLAS ----

cublasStatus_t cublasCreate(cublasHandle_t *handle) {
    static int the_handle;
    *handle = (cublasHandle_t)&the_handle;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasDestroy(cublasHandle_t) {
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetStream(cublasHandle_t, cudaStream_t) {
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetMathMode(cublasHandle_t, cublasMath_t) {
    return CUBLAS_STATUS_SUCCESS;
}

namespace {

// x as the tensor cores see it under the compute type
double rounded(float x, cublasComputeType_t compute) {
    if (compute == CUBLAS_COMPUTE_32F_FAST_16BF) return __bfloat162float(__float2bfloat16(x));
    if (compute == CUBLAS_COMPUTE_32F_FAST_TF32) {  // 10 mantissa bits, to nearest even
        uint32_t u;
        memcpy(&u, &x, sizeof u);
        if ((u & 0x7f800000u) != 0x7f800000u) u = (u + 0xfffu + ((u >> 13) & 1u)) & ~0x1fffu;
        float r;
        memcpy(&r, &u, sizeof r);
        return r;
    }
    return x;
}

cublasStatus_t check(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, cudaDataType at,
                     int lda, cudaDataType bt, int ldb, cudaDataType ct, int ldc, int count,
                     cublasComputeType_t compute) {
    const int a_rows = ta == CUBLAS_OP_N ? m : k, b_rows = tb == CUBLAS_OP_N ? k : n;
    if (m < 0 || n < 0 || k < 0 || count < 0 || lda < (a_rows > 1 ? a_rows : 1) ||
        ldb < (b_rows > 1 ? b_rows : 1) || ldc < (m > 1 ? m : 1) ||
        (ta != CUBLAS_OP_N && ta != CUBLAS_OP_T) || (tb != CUBLAS_OP_N && tb != CUBLAS_OP_T))
        return CUBLAS_STATUS_INVALID_VALUE;
    if (at != CUDA_R_32F || bt != CUDA_R_32F || ct != CUDA_R_32F ||
        (compute != CUBLAS_COMPUTE_32F && compute != CUBLAS_COMPUTE_32F_FAST_16BF &&
         compute != CUBLAS_COMPUTE_32F_FAST_TF32))
        return CUBLAS_STATUS_NOT_SUPPORTED;
    return CUBLAS_STATUS_SUCCESS;
}

// C = alpha op(A) op(B) + beta C, column-major
void gemm(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, float alpha, const float *A,
          int lda, const float *B, int ldb, float beta, float *C, int ldc, cublasComputeType_t compute) {
    for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++) {
            double sum = 0.0;
            for (int l = 0; alpha != 0.0f && l < k; l++) {  // alpha = 0: A and B are not read
                const float a = ta == CUBLAS_OP_N ? A[i + (size_t)l * lda] : A[l + (size_t)i * lda];
                const float b = tb == CUBLAS_OP_N ? B[l + (size_t)j * ldb] : B[j + (size_t)l * ldb];
                sum += rounded(a, compute) * rounded(b, compute);
            }
            float *c = C + i + (size_t)j * ldc;
            *c = beta == 0.0f ? (float)(alpha * sum) : (float)(alpha * sum + (double)beta * *c);
        }
}

}  // namespace

cublasStatus_t cublasGemmEx(cublasHandle_t, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                            const void *alpha, const void *A, cudaDataType Atype, int lda, const void *B,
                            cudaDataType Btype, int ldb, const void *beta, void *C, cudaDataType Ctype,
                            int ldc, cublasComputeType_t compute, cublasGemmAlgo_t) {
    cublasStatus_t s = check(ta, tb, m, n, k, Atype, lda, Btype, ldb, Ctype, ldc, 1, compute);
    if (s == CUBLAS_STATUS_SUCCESS)
        gemm(ta, tb, m, n, k, *(const float *)alpha, (const float *)A, lda, (const float *)B, ldb,
             *(const float *)beta, (float *)C, ldc, compute);
    return s;
}

cublasStatus_t cublasGemmStridedBatchedEx(cublasHandle_t, cublasOperation_t ta, cublasOperation_t tb, int m,
                                          int n, int k, const void *alpha, const void *A, cudaDataType Atype,
                                          int lda, long long strideA, const void *B, cudaDataType Btype,
                                          int ldb, long long strideB, const void *beta, void *C,
                                          cudaDataType Ctype, int ldc, long long strideC, int count,
                                          cublasComputeType_t compute, cublasGemmAlgo_t) {
    cublasStatus_t s = check(ta, tb, m, n, k, Atype, lda, Btype, ldb, Ctype, ldc, count, compute);
    if (s != CUBLAS_STATUS_SUCCESS) return s;
    for (int g = 0; g < count; g++)
        gemm(ta, tb, m, n, k, *(const float *)alpha, (const float *)A + g * strideA, lda,
             (const float *)B + g * strideB, ldb, *(const float *)beta, (float *)C + g * strideC, ldc,
             compute);
    return s;
}

cublasStatus_t cublasGemmBatchedEx(cublasHandle_t, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                                   int k, const void *alpha, const void *const A[], cudaDataType Atype,
                                   int lda, const void *const B[], cudaDataType Btype, int ldb,
                                   const void *beta, void *const C[], cudaDataType Ctype, int ldc, int count,
                                   cublasComputeType_t compute, cublasGemmAlgo_t) {
    cublasStatus_t s = check(ta, tb, m, n, k, Atype, lda, Btype, ldb, Ctype, ldc, count, compute);
    if (s != CUBLAS_STATUS_SUCCESS) return s;
    for (int g = 0; g < count; g++)
        gemm(ta, tb, m, n, k, *(const float *)alpha, (const float *)A[g], lda, (const float *)B[g], ldb,
             *(const float *)beta, (float *)C[g], ldc, compute);
    return s;
}
