// runtime.cu: the GPU in use, its stream and cuBLAS handle, memory and
// copies, and the sticky error record of the CUDA backend.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/cuda/cuda_common.h"
#include "ops/cuda/cuda_ops.h"
extern "C" {
#include "core/error.h"
}

cudaStream_t cuda_stream = nullptr;
cublasHandle_t cuda_blas = nullptr;
size_t cuda_shared_optin = 48 * 1024;
static int ready = 0;
static char first_error[512];
static char info[320];

void cuda_note(cudaError_t e, const char *what, const char *file, int line) {
    if (e == cudaSuccess || first_error[0]) return;
    snprintf(first_error, sizeof first_error, "%s (%s at %s:%d)", cudaGetErrorString(e), what, file, line);
}

void cuda_note_blas(cublasStatus_t s, const char *what, const char *file, int line) {
    if (s == CUBLAS_STATUS_SUCCESS || first_error[0]) return;
    snprintf(first_error, sizeof first_error, "cuBLAS status %d (%s at %s:%d)", (int)s, what, file, line);
}

int cuda_device_count(void) {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError();  // no driver or no device: not an error of ours
        return 0;
    }
    return n;
}

int cuda_init(void) {
    if (ready) return 0;
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n == 0) {
        cudaGetLastError();
        return mtp_errorf("no usable GPU (%s)", e != cudaSuccess ? cudaGetErrorString(e) : "no device found");
    }
    // under mpirun, the processes of one machine take its GPUs in turn
    const char *local = getenv("OMPI_COMM_WORLD_LOCAL_RANK");
    int gpu = local ? atoi(local) % n : 0;
    cudaDeviceProp p;
    if ((e = cudaSetDevice(gpu)) != cudaSuccess || (e = cudaGetDeviceProperties(&p, gpu)) != cudaSuccess ||
        (e = cudaStreamCreate(&cuda_stream)) != cudaSuccess)
        return mtp_errorf("the GPU did not start: %s", cudaGetErrorString(e));
    if (p.sharedMemPerBlockOptin > cuda_shared_optin) cuda_shared_optin = p.sharedMemPerBlockOptin;
    // float32 products in float32: CUBLAS_DEFAULT_MATH with the CUBLAS_COMPUTE_32F compute type
    // (matmul.cu) uses no TF32, so the backend matches the CPU to float rounding
    if (cublasCreate(&cuda_blas) != CUBLAS_STATUS_SUCCESS ||
        cublasSetStream(cuda_blas, cuda_stream) != CUBLAS_STATUS_SUCCESS ||
        cublasSetMathMode(cuda_blas, CUBLAS_DEFAULT_MATH) != CUBLAS_STATUS_SUCCESS) {
        if (cuda_blas) cublasDestroy(cuda_blas);
        cuda_blas = nullptr;
        cudaStreamDestroy(cuda_stream);
        cuda_stream = nullptr;
        return mtp_errorf("cuBLAS did not start on the GPU");
    }
    snprintf(info, sizeof info, "GPU %d: %.200s, %.1f GiB, compute capability %d.%d", gpu, p.name,
             (double)p.totalGlobalMem / (1024.0 * 1024.0 * 1024.0), p.major, p.minor);
    ready = 1;
    return 0;
}

const char *cuda_device_info(void) {
    return ready ? info : "cuda (not started)";
}

// The sizes of live allocations, by pointer (open addressing; the model makes
// a few dozen; past SLOTS live ones the peak is undercounted), for the peak a
// benchmark reports. The backend's own scratch (attention, RMSNorm, sums) and
// cuBLAS's workspace are not counted.
enum { SLOTS = 4096 };
static struct {
    void *p;
    size_t bytes;
} live[SLOTS];
static size_t in_use, peak;

static size_t slot_of(const void *p) {
    return (size_t)(((uintptr_t)p >> 8) * 0x9E3779B97F4A7C15ull >> 52) % SLOTS;
}

static void remember(void *p, size_t bytes) {
    for (size_t i = slot_of(p), n = 0; n < SLOTS; i = (i + 1) % SLOTS, n++)
        if (!live[i].p) {
            live[i].p = p;
            live[i].bytes = bytes;
            in_use += bytes;
            peak = in_use > peak ? in_use : peak;
            return;
        }
}

static void forget(void *p) {
    for (size_t i = slot_of(p), n = 0; n < SLOTS && live[i].p; i = (i + 1) % SLOTS, n++)
        if (live[i].p == p) {
            in_use -= live[i].bytes;
            // re-insert the rest of the cluster so later lookups still find them
            live[i].p = nullptr;
            for (size_t j = (i + 1) % SLOTS, m = 0; live[j].p && m < SLOTS; j = (j + 1) % SLOTS, m++) {
                void *q = live[j].p;
                size_t b = live[j].bytes;
                live[j].p = nullptr;
                in_use -= b;
                remember(q, b);
            }
            return;
        }
}

size_t cuda_peak_bytes(void) {
    return peak;
}

void *cuda_alloc(size_t bytes, const char *what) {
    void *p = nullptr;
    cudaError_t e = cudaMalloc(&p, bytes ? bytes : 256);
    if (e != cudaSuccess) {
        cudaGetLastError();  // an allocation failure is not sticky
        mtp_errorf("out of GPU memory allocating %zu bytes for %s (%s)", bytes, what, cudaGetErrorString(e));
        return nullptr;
    }
    if (bytes) CUDA_TRY(cudaMemsetAsync(p, 0, bytes, cuda_stream));
    remember(p, bytes);
    return p;
}

void cuda_free(void *p) {
    if (!p) return;
    forget(p);
    CUDA_TRY(cudaFree(p));
}

void cuda_upload(void *dst, const void *host_src, size_t bytes) {
    // cudaMemcpy returns once the source is read (the caller may reuse or free it), after the work
    // queued before it: cuda_stream is a blocking stream, ordered with the default one
    if (bytes) CUDA_TRY(cudaMemcpy(dst, host_src, bytes, cudaMemcpyHostToDevice));
}

void cuda_download(void *host_dst, const void *src, size_t bytes) {
    if (bytes) CUDA_TRY(cudaMemcpyAsync(host_dst, src, bytes, cudaMemcpyDeviceToHost, cuda_stream));
    CUDA_TRY(cudaStreamSynchronize(cuda_stream));
}

void cuda_copy(void *dst, const void *src, size_t bytes) {
    if (bytes) CUDA_TRY(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, cuda_stream));
}

void cuda_copy_rows(void *dst, size_t dst_pitch, const void *src, size_t src_pitch, size_t width,
                    size_t rows) {
    if (width && rows)
        CUDA_TRY(cudaMemcpy2DAsync(dst, dst_pitch, src, src_pitch, width, rows, cudaMemcpyDeviceToDevice,
                                   cuda_stream));
}

void cuda_zero(void *p, size_t bytes) {
    if (bytes) CUDA_TRY(cudaMemsetAsync(p, 0, bytes, cuda_stream));
}

int cuda_sync(void) {
    CUDA_TRY(cudaStreamSynchronize(cuda_stream));
    if (!first_error[0]) return 0;
    // reported once: a launch or cuBLAS error leaves the GPU usable (a crashed kernel does not, and
    // the next sync reports that again)
    mtp_errorf("CUDA: %s", first_error);
    first_error[0] = '\0';
    return -1;
}
