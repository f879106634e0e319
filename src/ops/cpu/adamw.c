// adamw.c: the optimizer update and the gradient-norm reduction, one
// vectorized, threaded pass each.
#include <math.h>

#include "ops/cpu/cpu_ops.h"
#include "ops/ops.h"

double cpu_sum_squares(const float *x, size_t n) {
    // Fixed-size chunks summed in order keep the result independent of the
    // thread count (bit-identical resume on another machine size).
    enum { CHUNK = 4096 };
    size_t chunks = (n + CHUNK - 1) / CHUNK;
    double total = 0.0;
    for (size_t c0 = 0; c0 < chunks; c0 += 1024) {
        double part[1024];
        size_t c1 = c0 + 1024 < chunks ? c0 + 1024 : chunks;
#pragma omp parallel for schedule(static)
        for (size_t c = c0; c < c1; c++) {
            size_t a = c * CHUNK, b = a + CHUNK < n ? a + CHUNK : n;
            double s = 0.0;
            for (size_t i = a; i < b; i++) s += (double)x[i] * (double)x[i];
            part[c - c0] = s;
        }
        for (size_t c = c0; c < c1; c++) total += part[c - c0];
    }
    return total;
}

void cpu_adamw(float *p, const float *g, float *m, float *v, size_t n, float grad_scale, double lr,
               double beta1, double beta2, double eps, double weight_decay, long step) {
    // PyTorch AdamW: p *= 1 - lr*wd; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
    // p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
    const float b1 = (float)beta1, b2 = (float)beta2;
    const float one_minus_b1 = (float)(1.0 - beta1), one_minus_b2 = (float)(1.0 - beta2);
    const float bc2_sqrt = (float)sqrt(1.0 - pow(beta2, (double)step));
    const float step_size = (float)(lr / (1.0 - pow(beta1, (double)step)));
    const float decay = (float)(1.0 - lr * weight_decay), epsf = (float)eps;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] * grad_scale;
        float mi = b1 * m[i] + one_minus_b1 * gi;
        float vi = b2 * v[i] + one_minus_b2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] = p[i] * decay - step_size * mi / (sqrtf(vi) / bc2_sqrt + epsf);
    }
}
