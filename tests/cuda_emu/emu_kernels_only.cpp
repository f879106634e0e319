// emu_kernels_only.cpp: what runtime.cu would define, for a test that links
// some emulated kernels without the emulated runtime (test_cuda_emulation):
// the stream and cuBLAS handle (unused), the shared memory limit and the error record, which here
// reports into the emulation's failure (emu_take_failure).
#include <stdio.h>

#include "ops/cuda/cuda_common.h"

cudaStream_t cuda_stream = nullptr;
cublasHandle_t cuda_blas = nullptr;
size_t cuda_shared_optin = 227 * 1024;  // an H100's, as the emulated device's (emu_device.cpp)

void cuda_note(cudaError_t e, const char *what, const char *file, int line) {
    if (e == cudaSuccess) return;
    char text[256];
    snprintf(text, sizeof text, "%s:%d: %s failed (error %d)", file, line, what, e);
    emu_fail(text);
}

void cuda_note_blas(cublasStatus_t s, const char *what, const char *file, int line) {
    cuda_note(s == 0 ? cudaSuccess : cudaErrorInvalidValue, what, file, line);
}
