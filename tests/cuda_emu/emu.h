// emu.h: the host emulation of the CUDA backend (tests/cuda_emu/), seen from
// both sides. The .cu files are compiled by a C++ compiler with this header
// forced in first (-include) and tests/cuda_emu ahead of the include path, so
// <cuda_runtime.h>, <cuda_bf16.h>, <mma.h>, <cublas_v2.h> and <nccl.h> are
// the small stand-ins beside it. Two uses: test_cuda_emulation links a few
// kernels into a build without CUDA (with emu_kernels_only.cpp for what
// runtime.cu would define), and `make CUDA=emu` builds the whole backend this
// way (with emu_device.cpp and nccl_emu.cpp for the runtime, cuBLAS and NCCL).
#ifndef MTP_TESTS_CUDA_EMU_H
#define MTP_TESTS_CUDA_EMU_H

#define MTP_CUDA_EMULATION 1

#ifdef __cplusplus
extern "C" {
#endif
// The first failure noted since the last call (a CUDA call's error, a launch
// the hardware would refuse, a WMMA operand it cannot load, threads waiting at
// barriers the others never reach), or NULL; clears it.
const char *emu_take_failure(void);
// Kernel blocks run so far.
long emu_blocks_run(void);
#ifdef __cplusplus
}
#endif

#endif
