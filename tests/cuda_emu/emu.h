// emu.h: the host emulation of the CUDA kernels (tests/cuda_emu/), seen from
// both sides. The .cu files are compiled by a C++ compiler with this header
// forced in first (-include) and tests/cuda_emu ahead of the include path, so
// <cuda_runtime.h>, <cuda_bf16.h>, <mma.h> and <cublas_v2.h> are the small
// stand-ins beside it; the tests (C) include it to call what those files
// define. Every function the emulated files define or share is renamed
// emu_..., so a test binary can hold them next to a library built with the
// real CUDA backend; except in the emulated-device build (make CUDA=emu,
// MTP_CUDA_EMU_DEVICE), where the emulated backend is the library's own.
#ifndef MTP_TESTS_CUDA_EMU_H
#define MTP_TESTS_CUDA_EMU_H

#define MTP_CUDA_EMULATION 1

#ifndef MTP_CUDA_EMU_DEVICE
#define cuda_stream emu_cuda_stream
#define cuda_blas emu_cuda_blas
#define cuda_note emu_cuda_note
#define cuda_note_blas emu_cuda_note_blas
#define cuda_gemm_batched emu_cuda_gemm_batched
#define cuda_set_flash_attention emu_cuda_set_flash_attention
#define cuda_flash_attention_on emu_cuda_flash_attention_on
#define cuda_flash_attention_forward emu_cuda_flash_attention_forward
#define cuda_flash_attention_backward emu_cuda_flash_attention_backward
#define cuda_softmax_xent emu_cuda_softmax_xent
#endif

#ifdef __cplusplus
extern "C" {
#endif
// The first failure noted since the last call (a CUDA call's error, a launch
// the hardware would refuse, a WMMA operand it cannot load), or NULL; clears it.
const char *emu_take_failure(void);
// Kernel blocks run so far.
long emu_blocks_run(void);
#ifdef __cplusplus
}
#endif

#endif
