// threads.c: one place that sets the thread count for our kernels (OpenMP)
// and for OpenBLAS, so the two never disagree; what BLAS is in use, what the
// kernels were built for, and a product through BLAS for benchmarks.
#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ops.h"

void op_set_threads(int n) {
    if (n < 1) n = 1;
    omp_set_num_threads(n);
    openblas_set_num_threads(n);
}

int op_get_threads(void) {
    return omp_get_max_threads();
}

const char *op_blas_info(void) {
    // "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH ... USE_OPENMP ..." -> name, version, threading
    static char info[256];
    const char *config = openblas_get_config(), *forced = getenv("OPENBLAS_CORETYPE");
    int name_len = 0, spaces = 0;
    while (config[name_len] && !(config[name_len] == ' ' && ++spaces == 2)) name_len++;
    snprintf(info, sizeof info, "%.*s (%s), kernel %s%s%s%s", name_len, config,
             strstr(config, "USE_OPENMP") ? "OpenMP" : "pthreads", openblas_get_corename(),
             forced ? " (forced by OPENBLAS_CORETYPE=" : "", forced ? forced : "", forced ? ")" : "");
    return info;
}

// The vector set the kernels were compiled for, and the L2 size gemm.c's blocking assumes
// where a build fixes it (make OPT="... -DMTP_ASSUME_L2_BYTES=N").
#if defined(__AVX512F__)
#define KERNELS_ISA "avx512"
#elif defined(__AVX2__)
#define KERNELS_ISA "avx2"
#else
#define KERNELS_ISA "generic"
#endif
#define KERNELS_STR(x) #x
#define KERNELS_XSTR(x) KERNELS_STR(x)

const char *op_cpu_kernels(void) {
#ifdef MTP_ASSUME_L2_BYTES
    return KERNELS_ISA " (L2 assumed " KERNELS_XSTR(MTP_ASSUME_L2_BYTES) " bytes)";
#else
    return KERNELS_ISA;
#endif
}

void op_blas_matmul_forward(float *out, const float *inp, const float *w, int N, int in_dim, int out_dim) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, out_dim, in_dim, 1.0f, inp, in_dim, w, in_dim,
                0.0f, out, out_dim);
}
