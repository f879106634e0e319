// cuda_runtime.h stand-in for the host emulation (emu.h): the CUDA keywords,
// built-in variables, barriers, warp shuffles and kernel launches that the
// emulated .cu files use. A launch runs its blocks one after another; a block
// runs its threads as fibers that switch only at barriers, so __syncthreads and
// __syncwarp are real barriers and a missing one shows (emu_runtime.cpp).
// Launch sizes and shared memory are checked against what an H100 accepts.
// Two things are stricter on a GPU than here: a shuffle or vote is a full
// barrier of its warp here (on a GPU it orders no shared-memory writes), and a
// __shared__ array is one static copy that keeps what the last block left in it
// (dynamic shared memory starts as NaN bytes for every block).
#pragma once
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <functional>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static  // blocks run one at a time: one copy serves each in turn
#define __align__(n) alignas(n)

struct uint3 {
    unsigned x, y, z;
};
struct dim3 {
    unsigned x, y, z;
    dim3(unsigned a = 1, unsigned b = 1, unsigned c = 1) : x(a), y(b), z(c) {}
};
struct alignas(16) float4 {
    float x, y, z, w;
};
static inline float4 make_float4(float x, float y, float z, float w) {
    return float4{x, y, z, w};
}

typedef enum cudaError {
    cudaSuccess = 0,
    cudaErrorInvalidValue = 1,
    cudaErrorMemoryAllocation = 2,
    cudaErrorInvalidConfiguration = 9,
    cudaErrorNoDevice = 100
} cudaError_t;
typedef struct emu_stream *cudaStream_t;
enum cudaFuncAttribute { cudaFuncAttributeMaxDynamicSharedMemorySize = 8 };
enum cudaMemcpyKind { cudaMemcpyHostToDevice = 1, cudaMemcpyDeviceToHost = 2, cudaMemcpyDeviceToDevice = 3 };
struct cudaDeviceProp {
    char name[256];
    size_t totalGlobalMem;
    size_t sharedMemPerBlockOptin;
    int major, minor;
};

// The emulated device (emu_device.cpp, make CUDA=emu): one GPU whose memory is
// the host's, streams that finish every call before returning.
cudaError_t cudaGetDeviceCount(int *count);
cudaError_t cudaSetDevice(int device);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp *p, int device);
const char *cudaGetErrorString(cudaError_t e);
cudaError_t cudaMalloc(void **p, size_t bytes);
template <typename T>
static inline cudaError_t cudaMalloc(T **p, size_t bytes) {  // as the runtime's C++ overload
    return cudaMalloc((void **)p, bytes);
}
cudaError_t cudaFree(void *p);
cudaError_t cudaMemcpy(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind, cudaStream_t s);
cudaError_t cudaMemcpy2DAsync(void *dst, size_t dpitch, const void *src, size_t spitch, size_t width,
                              size_t height, cudaMemcpyKind kind, cudaStream_t s);
cudaError_t cudaMemsetAsync(void *p, int value, size_t bytes, cudaStream_t s);
cudaError_t cudaStreamCreate(cudaStream_t *s);
cudaError_t cudaStreamDestroy(cudaStream_t s);
cudaError_t cudaStreamSynchronize(cudaStream_t s);

extern thread_local uint3 threadIdx, blockIdx;
extern thread_local uint3 blockDim, gridDim;  // uint3: no constructor, no per-thread initializer

void emu_fail(const char *what);
void emu_syncthreads();
void emu_syncwarp();
uint64_t emu_exchange(uint64_t bits, int from_lane);  // every lane of the warp takes part
unsigned emu_ballot(int predicate);                   // likewise
unsigned char *emu_dynamic_shared();
cudaError_t emu_set_max_shared(const void *kernel, int bytes);
void emu_launch(const void *kernel, dim3 grid, dim3 block, size_t shared_bytes,
                const std::function<void()> &body);
cudaError_t cudaGetLastError();

static inline void __syncthreads() {
    emu_syncthreads();
}
static inline void __syncwarp(unsigned mask = 0xffffffffu) {
    if (mask != 0xffffffffu) emu_fail("__syncwarp: only full-warp masks are emulated");
    emu_syncwarp();
}
template <typename T>
static inline T __shfl_xor_sync(unsigned mask, T v, int lane_mask) {
    static_assert(sizeof(T) <= sizeof(uint64_t), "shuffled values are at most 8 bytes");
    if (mask != 0xffffffffu) emu_fail("__shfl_xor_sync: only full-warp masks are emulated");
    uint64_t bits = 0;
    memcpy(&bits, &v, sizeof v);
    bits = emu_exchange(bits, (int)((threadIdx.x & 31) ^ (unsigned)lane_mask));
    T r;
    memcpy(&r, &bits, sizeof r);
    return r;
}

static inline unsigned __ballot_sync(unsigned mask, int predicate) {
    if (mask != 0xffffffffu) emu_fail("__ballot_sync: only full-warp masks are emulated");
    return emu_ballot(predicate);
}
static inline int __ffs(int x) {
    return __builtin_ffs(x);
}
template <typename T>
static inline T __ldcs(const T *p) {  // a streaming load: a plain one here
    return *p;
}

template <typename T>
static inline cudaError_t cudaFuncSetAttribute(T *kernel, cudaFuncAttribute attr, int value) {
    if (attr != cudaFuncAttributeMaxDynamicSharedMemorySize) return cudaErrorInvalidValue;
    return emu_set_max_shared((const void *)kernel, value);
}

// CUDA_LAUNCH(kernel, grid, threads, bytes)(arguments...)
template <typename F>
struct emu_launcher {
    F *kernel;
    dim3 grid, block;
    size_t bytes;
    template <typename... A>
    void operator()(A... args) const {
        F *k = kernel;
        emu_launch((const void *)kernel, grid, block, bytes, [&] { k(args...); });
    }
};
template <typename F>
static inline emu_launcher<F> emu_launch_of(F *kernel, dim3 grid, dim3 block, size_t bytes) {
    return emu_launcher<F>{kernel, grid, block, bytes};
}
#define CUDA_LAUNCH(kernel, grid, threads, bytes) emu_launch_of(kernel, grid, threads, bytes)
#define CUDA_DYNAMIC_SHARED(name) unsigned char *name = emu_dynamic_shared()
