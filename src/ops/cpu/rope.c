// rope.c: rotary position embedding, Hugging Face "rotate half" layout:
// the pair rotated together is (x[i], x[i + hd/2]).
#include <math.h>

#include "ops/cpu/cpu_ops.h"
#include "ops/cpu/parallel.h"
#include "ops/ops.h"

void op_rope_tables(float *cos_t, float *sin_t, int Tmax, int hd, float theta) {
    int half = hd / 2;
    for (int t = 0; t < Tmax; t++)
        for (int i = 0; i < half; i++) {
            // inv_freq computed in double, then the angle, as close to exact as float allows
            double inv_freq = pow((double)theta, -2.0 * i / (double)hd);
            double angle = (double)t * inv_freq;
            cos_t[(size_t)t * half + i] = (float)cos(angle);
            sin_t[(size_t)t * half + i] = (float)sin(angle);
        }
}

// sign = +1 rotates by +angle (forward), -1 by -angle (backward = transpose).
static void rope_apply(float *x, const float *cos_t, const float *sin_t, int B, int T, int nh, int hd,
                       int pos0, float sign) {
    int half = hd / 2;
#pragma omp parallel for collapse(2) if ((size_t)B * T * nh * hd >= OP_PARALLEL_MIN_WORK) schedule(static)
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            const float *c = cos_t + (size_t)(pos0 + t) * half, *s = sin_t + (size_t)(pos0 + t) * half;
            for (int h = 0; h < nh; h++) {
                float *v = x + (((size_t)b * T + t) * nh + h) * hd;
                for (int i = 0; i < half; i++) {
                    float x1 = v[i], x2 = v[i + half], si = sign * s[i];
                    v[i] = x1 * c[i] - x2 * si;
                    v[i + half] = x2 * c[i] + x1 * si;
                }
            }
        }
}

void cpu_rope_forward(float *x, const float *cos_t, const float *sin_t, int B, int T, int nh, int hd,
                      int pos0) {
    rope_apply(x, cos_t, sin_t, B, T, nh, hd, pos0, 1.0f);
}

void cpu_rope_backward(float *dx, const float *cos_t, const float *sin_t, int B, int T, int nh, int hd,
                       int pos0) {
    // forward is an orthogonal rotation R; its backward is R^T, the rotation by -angle
    rope_apply(dx, cos_t, sin_t, B, T, nh, hd, pos0, -1.0f);
}
