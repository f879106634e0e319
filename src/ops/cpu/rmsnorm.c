// rmsnorm.c: RMSNorm forward and backward over rows.
#include <math.h>

#include "ops/cpu/cpu_ops.h"
#include "ops/cpu/parallel.h"
#include "ops/ops.h"

void cpu_rmsnorm_forward(float *out, float *rstd, const float *x, const float *w, int N, int d, float eps) {
#pragma omp parallel for if ((size_t)N * d >= OP_PARALLEL_MIN_WORK) schedule(static)
    for (int i = 0; i < N; i++) {
        const float *xi = x + (size_t)i * d;
        float *oi = out + (size_t)i * d;
        float ss = 0.0f;
#pragma omp simd reduction(+ : ss)
        for (int j = 0; j < d; j++) ss += xi[j] * xi[j];
        float r = 1.0f / sqrtf(ss / (float)d + eps);
        rstd[i] = r;
        for (int j = 0; j < d; j++) oi[j] = xi[j] * r * w[j];
    }
}

void cpu_rmsnorm_backward(float *dx, float *dw, const float *dout, const float *x, const float *w,
                          const float *rstd, int N, int d) {
    // forward: y_j = x_j * r * w_j, r = (mean(x^2) + eps)^(-1/2)
    // dx_j = r * w_j * dy_j - x_j * r^3 / d * sum_k(w_k * dy_k * x_k)
    // dw_j = sum over rows of dy_j * x_j * r
#pragma omp parallel for schedule(static)
    for (int i = 0; i < N; i++) {
        const float *xi = x + (size_t)i * d, *gi = dout + (size_t)i * d;
        float *dxi = dx + (size_t)i * d;
        float r = rstd[i];
        float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
        for (int j = 0; j < d; j++) dot += w[j] * gi[j] * xi[j];
        float c = dot * r * r * r / (float)d;
        for (int j = 0; j < d; j++) dxi[j] += r * w[j] * gi[j] - c * xi[j];
    }
    if (!dw) return;  // a frozen norm weight: no gradient
    // dw: threads split the columns and walk rows in order (deterministic).
    enum { COLS = 16 };
    int blocks = (d + COLS - 1) / COLS;
#pragma omp parallel for schedule(static)
    for (int b = 0; b < blocks; b++) {
        int c0 = b * COLS, c1 = c0 + COLS < d ? c0 + COLS : d;
        float acc[COLS] = {0};
        for (int i = 0; i < N; i++) {
            const float *xi = x + (size_t)i * d, *gi = dout + (size_t)i * d;
            float r = rstd[i];
            for (int c = c0; c < c1; c++) acc[c - c0] += gi[c] * xi[c] * r;
        }
        for (int c = c0; c < c1; c++) dw[c] += acc[c - c0];
    }
}
