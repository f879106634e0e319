// xent.c: softmax cross-entropy over rows of logits, with the gradient
// written over the logits so no second (rows, V) buffer is needed. One
// exponential per logit (vectorized), kept in the row when the gradient is
// wanted.
#include <math.h>

#include "ops/cpu/cpu_ops.h"
#include "ops/cpu/fast_exp.h"
#include "ops/ops.h"

void cpu_softmax_xent(float *logits, float *losses, const int32_t *targets, int N, int V, float grad_scale) {
#pragma omp parallel for schedule(static)
    for (int i = 0; i < N; i++) {
        float *row = logits + (size_t)i * V;
        float maxv = -INFINITY;
        // a max reduction: without the pragma compilers keep the compare chain scalar (NaN order)
#pragma omp simd reduction(max : maxv)
        for (int j = 0; j < V; j++) maxv = row[j] > maxv ? row[j] : maxv;
        float target_logit = row[targets[i]];
        float sum = 0.0f;
        if (grad_scale != 0.0f) {
#pragma omp simd reduction(+ : sum)
            for (int j = 0; j < V; j++) {
                float e = fast_expf(row[j] - maxv);
                row[j] = e;
                sum += e;
            }
            // d loss / d logit_j = softmax_j - [j == target]
            float inv = grad_scale / sum;
#pragma omp simd
            for (int j = 0; j < V; j++) row[j] *= inv;
            row[targets[i]] -= grad_scale;
        } else {
#pragma omp simd reduction(+ : sum)
            for (int j = 0; j < V; j++) sum += fast_expf(row[j] - maxv);
        }
        losses[i] = (float)((double)maxv + log((double)sum) - (double)target_logit);
    }
}
