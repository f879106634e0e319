// matmul.c: the model's matrix products, through the blocked kernels of
// ops/cpu/gemm.c (faster than OpenBLAS on these shapes: docs/benchmarks.md),
// with the transposes expressed as strides so no operand is copied by the
// caller. OpenBLAS takes over if gemm.c cannot get its packing memory.
// Called outside OpenMP regions.
#include <cblas.h>

#include "ops/cpu/cpu_ops.h"
#include "ops/ops.h"

void cpu_matmul_forward(float *out, const float *inp, const float *w, int N, int in_dim, int out_dim) {
    // out (N, O) = inp (N, I) @ w^T, w (O, I): B(kk = i, j = o) = w[o * I + i]
    if (cpu_gemm(out, out_dim, inp, in_dim, 1, w, 1, in_dim, N, out_dim, in_dim, 0) == 0) return;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, out_dim, in_dim, 1.0f, inp, in_dim, w, in_dim,
                0.0f, out, out_dim);
}

void cpu_matmul_backward(float *dinp, float *dw, const float *dout, const float *inp, const float *w, int N,
                         int in_dim, int out_dim, int accumulate_dinp) {
    // forward: out (N, O) = inp (N, I) @ w (O, I)^T
    // dinp (N, I) = dout (N, O) @ w (O, I)
    if (dinp &&
        cpu_gemm(dinp, in_dim, dout, out_dim, 1, w, in_dim, 1, N, in_dim, out_dim, accumulate_dinp) != 0)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, in_dim, out_dim, 1.0f, dout, out_dim, w,
                    in_dim, accumulate_dinp ? 1.0f : 0.0f, dinp, in_dim);
    // dw (O, I) += dout^T (O, N) @ inp (N, I): A(r = o, kk = n) = dout[n * O + o]
    if (dw && cpu_gemm(dw, in_dim, dout, 1, out_dim, inp, in_dim, 1, out_dim, in_dim, N, 1) != 0)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out_dim, in_dim, N, 1.0f, dout, out_dim, inp,
                    in_dim, 1.0f, dw, in_dim);
}
