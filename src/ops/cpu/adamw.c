// adamw.c: the optimizer update and the gradient-norm reduction, one
// vectorized, threaded pass each.
#include <math.h>
#include <string.h>

#include "ops/cpu/cpu_ops.h"
#include "ops/cpu/flush.h"
#include "ops/cpu/vecn.h"
#include "ops/ops.h"

typedef float f32x8 __attribute__((vector_size(8 * sizeof(float))));
typedef double f64x8 __attribute__((vector_size(8 * sizeof(double))));

double cpu_sum_squares(const float *x, size_t n) {
    // Fixed-size chunks summed in order keep the result independent of the
    // thread count (bit-identical resume on another machine size).
    enum { CHUNK = 4096, LANES = 16 };
    size_t chunks = (n + CHUNK - 1) / CHUNK;
    double total = 0.0;
    for (size_t c0 = 0; c0 < chunks; c0 += 1024) {
        double part[1024];
        size_t c1 = c0 + 1024 < chunks ? c0 + 1024 : chunks;
#pragma omp parallel for schedule(static)
        for (size_t c = c0; c < c1; c++) {
            size_t a = c * CHUNK, b = a + CHUNK < n ? a + CHUNK : n;
            // LANES sums side by side (element i into lane i % LANES), added in lane order: one
            // chain of dependent double adds took 4 cycles an element, a fifth of DRAM speed
            f64x8 lo = {0}, hi = {0};  // lanes 0-7, 8-15
            size_t i = a;
            for (; i + LANES <= b; i += LANES) {
                f32x8 xl, xh;
                memcpy(&xl, x + i, sizeof xl);
                memcpy(&xh, x + i + 8, sizeof xh);
                f64x8 dl = __builtin_convertvector(xl, f64x8), dh = __builtin_convertvector(xh, f64x8);
                lo += dl * dl, hi += dh * dh;
            }
            double lane[LANES];
            memcpy(lane, &lo, sizeof lo);
            memcpy(lane + 8, &hi, sizeof hi);
            for (; i < b; i++) lane[i % LANES] += (double)x[i] * (double)x[i];
            double s = 0.0;
            for (int j = 0; j < LANES; j++) s += lane[j];
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
    // on native vectors: as plain C the compiler kept it scalar (sqrtf may set errno), and a
    // divide and a square root an element cost about as much as the pass's memory traffic
    //
    // Subnormal numbers are flushed to zero in this pass (MXCSR FTZ and DAZ,
    // each thread's own, restored after): the moments of a parameter whose
    // gradient stays 0 (an unembedding row the model is sure against, an
    // embedding row whose token stopped appearing) decay by b1, b2 a step into
    // the subnormal range, where each operation is a microcode assist: 174 ms
    // against 11 ms a step over 16M parameters (Intel Xeon, 2 threads). A
    // moment below float's normal range moves a parameter by less than
    // lr * 1e-30; flushed, it moves it by 0.
    const size_t vector_end = n / VN * VN;
#pragma omp parallel
    {
        const unsigned int csr = flush_subnormals_begin();
#pragma omp for schedule(static)
        for (size_t i = 0; i < vector_end; i += VN) {
            vfn gi = loadn(g + i) * grad_scale;
            vfn mi = b1 * loadn(m + i) + one_minus_b1 * gi;
            vfn vi = b2 * loadn(v + i) + one_minus_b2 * gi * gi;
            storen(m + i, mi);
            storen(v + i, vi);
            storen(p + i, loadn(p + i) * decay - step_size * mi / (sqrtn(vi) / bc2_sqrt + epsf));
        }
#pragma omp single
        for (size_t i = vector_end; i < n; i++) {  // the last n % VN
            float gi = g[i] * grad_scale;
            float mi = b1 * m[i] + one_minus_b1 * gi;
            float vi = b2 * v[i] + one_minus_b2 * gi * gi;
            m[i] = mi;
            v[i] = vi;
            p[i] = p[i] * decay - step_size * mi / (sqrtf(vi) / bc2_sqrt + epsf);
        }
        flush_subnormals_end(csr);
    }
}
