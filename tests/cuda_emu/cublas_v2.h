// cublas_v2.h stand-in for the host emulation (emu.h): the types only.
#pragma once
typedef int cublasStatus_t;
typedef struct emu_blas_handle *cublasHandle_t;
