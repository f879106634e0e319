// xent.cu: softmax cross-entropy on the GPU, one block per row of logits
// (formulas as ops/cpu/xent.c).
#include <math.h>

#include "ops/cuda/cuda_common.h"
#include "ops/cuda/cuda_ops.h"

enum { XENT_THREADS = 512 };

__global__ void xent_kernel(float *logits, float *losses, const int32_t *targets, int V, float grad_scale) {
    __shared__ float shared[32];
    float *row = logits + (size_t)blockIdx.x * V;
    const int target = targets[blockIdx.x];
    float maxv = -INFINITY;
    for (int j = threadIdx.x; j < V; j += blockDim.x) maxv = fmaxf(maxv, row[j]);
    maxv = block_max(maxv, shared, -INFINITY);
    const float target_logit = row[target];  // read before the row is overwritten
    __syncthreads();  // every thread has read row[target] before any overwrites the row
    float sum = 0.0f;
    for (int j = threadIdx.x; j < V; j += blockDim.x) {
        float e = expf(row[j] - maxv);
        if (grad_scale != 0.0f) row[j] = e;  // kept for the gradient: one exponential per logit
        sum += e;
    }
    sum = block_sum(sum, shared);
    if (grad_scale != 0.0f) {
        // d loss / d logit_j = softmax_j - [j == target]
        const float inv = grad_scale / sum;
        for (int j = threadIdx.x; j < V; j += blockDim.x) row[j] *= inv;
        __syncthreads();  // every thread's writes before the target's correction
        if (threadIdx.x == 0) row[target] -= grad_scale;
    }
    if (threadIdx.x == 0)
        losses[blockIdx.x] = (float)((double)maxv + log((double)sum) - (double)target_logit);
}

void cuda_softmax_xent(float *logits, float *losses, const int32_t *targets, int N, int V, float grad_scale) {
    if (N <= 0) return;
    xent_kernel<<<N, XENT_THREADS, 0, cuda_stream>>>(logits, losses, targets, V, grad_scale);
    CUDA_LAUNCHED("xent_kernel");
}
