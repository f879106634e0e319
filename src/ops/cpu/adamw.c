// adamw.c: the optimizer update and the gradient-norm reduction, one
// vectorized, threaded pass each.
#include <math.h>

#include "ops/ops.h"

double op_sum_squares(const float *x, size_t n) {
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

void op_adamw(float *p, const float *g, float *m, float *v, size_t n, float grad_scale, float lr, float beta1,
              float beta2, float eps, float weight_decay, long step) {
    // PyTorch AdamW: p *= 1 - lr*wd; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
    // p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
    const float bc1 = 1.0f - powf(beta1, (float)step);
    const float bc2_sqrt = sqrtf(1.0f - powf(beta2, (float)step));
    const float step_size = lr / bc1, decay = 1.0f - lr * weight_decay;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] * grad_scale;
        float mi = beta1 * m[i] + (1.0f - beta1) * gi;
        float vi = beta2 * v[i] + (1.0f - beta2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] = p[i] * decay - step_size * mi / (sqrtf(vi) / bc2_sqrt + eps);
    }
}
