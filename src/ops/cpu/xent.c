// xent.c: softmax cross-entropy over rows of logits, with the gradient
// written over the logits so no second (rows, V) buffer is needed.
#include <math.h>

#include "ops/ops.h"

void op_softmax_xent(float *logits, float *losses, const int32_t *targets, int N, int V, float grad_scale) {
#pragma omp parallel for schedule(static)
    for (int i = 0; i < N; i++) {
        float *row = logits + (size_t)i * V;
        float maxv = -INFINITY;
        for (int j = 0; j < V; j++) maxv = row[j] > maxv ? row[j] : maxv;
        double sum = 0.0;
        for (int j = 0; j < V; j++) sum += exp((double)(row[j] - maxv));
        double lse = (double)maxv + log(sum);
        losses[i] = (float)(lse - (double)row[targets[i]]);
        if (grad_scale != 0.0f) {
            // d loss / d logit_j = softmax_j - [j == target]
            float inv = (float)(1.0 / sum);
            for (int j = 0; j < V; j++) row[j] = expf(row[j] - maxv) * inv * grad_scale;
            row[targets[i]] -= grad_scale;
        }
    }
}
