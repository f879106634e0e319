// xent.c: softmax cross-entropy over rows of logits, with the gradient
// written over the logits so no second (rows, V) buffer is needed. One
// exponential per logit (vectorized), kept in the row when the gradient is
// wanted.
#include <float.h>
#include <math.h>

#include "ops/cpu/cpu_ops.h"
#include "ops/cpu/fast_exp.h"
#include "ops/cpu/vecn.h"
#include "ops/ops.h"

void cpu_softmax_xent(float *logits, float *losses, const int32_t *targets, int N, int V, float grad_scale) {
#pragma omp parallel for schedule(static)
    for (int i = 0; i < N; i++) {
        float *row = logits + (size_t)i * V;
        // the maximum, on native vectors (a scalar compare chain is one compare a
        // cycle; clang will not vectorize it under `omp simd reduction(max)` either)
        vfn lane_max = splatn(-INFINITY);
        int j0 = 0;
        for (; j0 + VN <= V; j0 += VN) lane_max = maxn(loadn(row + j0), lane_max);  // NaN logits skipped
        float maxv = -INFINITY, lm[VN];
        storen(lm, lane_max);
        for (int l = 0; l < VN; l++) maxv = lm[l] > maxv ? lm[l] : maxv;
        for (; j0 < V; j0++) maxv = row[j0] > maxv ? row[j0] : maxv;
        float target_logit = row[targets[i]];
        float sum = 0.0f;
        if (grad_scale != 0.0f) {
#pragma omp simd reduction(+ : sum)
            for (int j = 0; j < V; j++) {
                float e = fast_expf(row[j] - maxv);
                row[j] = e;
                sum += e;
            }
            // d loss / d logit_j = softmax_j - [j == target]. Probabilities whose
            // share of the gradient would be subnormal (below FLT_MIN, about
            // 80 nats under the best logit at grad_scale 1/2048; the floor
            // fast_expf clamps to is one) are 0: subnormal gradients made the
            // unembedding's backward 170x slower, each product a microcode assist
            // (166 rows x 50304, a confident row's 50303 small probabilities).
            const float inv = grad_scale / sum, least = FLT_MIN / inv;
#pragma omp simd
            for (int j = 0; j < V; j++) row[j] = (row[j] >= least ? row[j] : 0.0f) * inv;
            row[targets[i]] -= grad_scale;
        } else {
#pragma omp simd reduction(+ : sum)
            for (int j = 0; j < V; j++) sum += fast_expf(row[j] - maxv);
        }
        losses[i] = (float)((double)maxv + log((double)sum) - (double)target_logit);
    }
}
