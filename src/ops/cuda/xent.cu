// xent.cu: softmax cross-entropy on the GPU, one block per row of logits
// (formulas as ops/cpu/xent.c).
#include <math.h>

#include "ops/cuda/cuda_common.h"
#include "ops/cuda/cuda_ops.h"

enum { XENT_THREADS = 512 };

// One read of the row for its maximum and sum of exponentials (each thread an
// online pair: the sum rescaled whenever its maximum rises, the pairs merged
// at the block's maximum), then, for the gradient, one pass writing
// softmax - onehot: 3 passes over the row's memory instead of 5.
__global__ void xent_kernel(float *logits, float *losses, const int32_t *targets, int V, float grad_scale) {
    __shared__ float shared[32];
    float *row = logits + (size_t)blockIdx.x * V;
    const int target = targets[blockIdx.x];
    float m = -INFINITY, s = 0.0f;
    for (int j = threadIdx.x; j < V; j += blockDim.x) {
        const float x = row[j];
        if (x > m) {
            s = s * expf(m - x) + 1.0f;  // expf(-inf) = 0 for the first
            m = x;
        } else {
            s += expf(x - m);
        }
    }
    const float maxv = block_max(m, shared, -INFINITY);
    // a thread that saw no logit has s = 0 (and m = -inf: its factor is 0)
    const float sum = block_sum(m == -INFINITY ? 0.0f : s * expf(m - maxv), shared);
    const float target_logit = row[target];  // read before the row is overwritten
    __syncthreads();  // every thread has read row[target] before any overwrites the row
    if (grad_scale != 0.0f) {
        // d loss / d logit_j = softmax_j - [j == target]
        const float inv = grad_scale / sum;
        for (int j = threadIdx.x; j < V; j += blockDim.x) row[j] = expf(row[j] - maxv) * inv;
        __syncthreads();  // every thread's writes before the target's correction
        if (threadIdx.x == 0) row[target] -= grad_scale;
    }
    if (threadIdx.x == 0)
        losses[blockIdx.x] = (float)((double)maxv + log((double)sum) - (double)target_logit);
}

void cuda_softmax_xent(float *logits, float *losses, const int32_t *targets, int N, int V, float grad_scale) {
    if (N <= 0) return;
    CUDA_LAUNCH(xent_kernel, N, XENT_THREADS, 0)(logits, losses, targets, V, grad_scale);
    CUDA_LAUNCHED("xent_kernel");
}
