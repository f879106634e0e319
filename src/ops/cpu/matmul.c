// matmul.c: matrix products through OpenBLAS, with the transposes expressed
// as BLAS flags so no operand is copied. Called outside OpenMP regions; the
// OpenMP build of OpenBLAS threads them itself.
#include <cblas.h>

#include "ops/cpu/cpu_ops.h"
#include "ops/ops.h"

void cpu_matmul_forward(float *out, const float *inp, const float *w, int N, int in_dim, int out_dim) {
    // out (N, O) = inp (N, I) @ w^T, w (O, I)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, out_dim, in_dim, 1.0f, inp, in_dim, w, in_dim,
                0.0f, out, out_dim);
}

void cpu_matmul_backward(float *dinp, float *dw, const float *dout, const float *inp, const float *w, int N,
                         int in_dim, int out_dim, int accumulate_dinp) {
    // forward: out (N, O) = inp (N, I) @ w (O, I)^T
    if (dinp)  // dinp (N, I) = dout (N, O) @ w (O, I)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, in_dim, out_dim, 1.0f, dout, out_dim, w,
                    in_dim, accumulate_dinp ? 1.0f : 0.0f, dinp, in_dim);
    if (dw)  // dw (O, I) += dout^T (O, N) @ inp (N, I)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out_dim, in_dim, N, 1.0f, dout, out_dim, inp,
                    in_dim, 1.0f, dw, in_dim);
}
