// xent.cu: softmax cross-entropy on the GPU, one block per row of logits
// (formulas as ops/cpu/xent.c). With the gradient, the logits are replaced by
// it in place: the unembedding's chunk of rows, then this, then the chunk's
// backward products (model.c: head_loss_chunks) make the chunked linear +
// cross-entropy of the sequential head schedule, one chunk of one head's
// logits alive at a time.
#include <math.h>

#include "ops/cuda/cuda_common.h"
#include "ops/cuda/cuda_ops.h"

enum { XENT_THREADS = 512, XENT_SHARED_THREADS = 1024 };

// A thread's running maximum m and sum s of exp(x - m) takes x in: the sum
// rescaled whenever the maximum rises. While every value seen is -inf, m stays
// -inf and s 0 (exp(-inf - -inf) would be NaN).
__device__ inline void online_add(float &m, float &s, float x) {
    if (x > m) {
        s = s * expf(m - x) + 1.0f;  // expf(-inf) = 0 for the first
        m = x;
    } else if (m != -INFINITY) {
        s += expf(x - m);
    }
}

// The row's loss (log-sum-exp minus the target's logit) from every thread's
// (m, s); returns the row's maximum and sum to every thread.
__device__ inline void row_max_sum(float m, float s, float *shared, float *maxv, float *sum) {
    *maxv = block_max(m, shared, -INFINITY);
    // a thread that saw no logit has s = 0 (and m = -inf: its factor is 0)
    *sum = block_sum(m == -INFINITY ? 0.0f : s * expf(m - *maxv), shared);
}

// One read of the row for its maximum and sum of exponentials (each thread an
// online pair, the pairs merged at the block's maximum), then, for the
// gradient, one pass writing softmax - onehot: 3 passes over the row's memory.
// For rows too long for shared memory (xent_shared_kernel below).
__global__ void xent_kernel(float *logits, float *losses, const int32_t *targets, int V, float grad_scale) {
    __shared__ float shared[32];
    float *row = logits + (size_t)blockIdx.x * V;
    const int target = targets[blockIdx.x];
    float m = -INFINITY, s = 0.0f;
    for (int j = threadIdx.x; j < V; j += blockDim.x) online_add(m, s, row[j]);
    float maxv, sum;
    row_max_sum(m, s, shared, &maxv, &sum);
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

// The same with the row kept in shared memory as it is read: the gradient pass
// reads it there, so the row's memory is read once and written once (2 passes
// of HBM traffic instead of 3). A 50304-wide row is 197 KB: within an H100's
// 227 KB of shared memory a block, above an A100's 163 KB; rows above the
// device's limit take xent_kernel. VEC: 16-byte loads and stores (V a multiple
// of 4, the logits 16-byte aligned). Each value's arithmetic is xent_kernel's, only the
// threads' shares of the row differ (each thread 4 consecutive values at a
// time), so the sums may differ from it in the last bits.
template <bool VEC>
__global__ void xent_shared_kernel(float *logits, float *losses, const int32_t *targets, int V,
                                   float grad_scale) {
    CUDA_DYNAMIC_SHARED(smem);
    float *kept = (float *)smem;  // (V) the row
    __shared__ float shared[32];
    float *row = logits + (size_t)blockIdx.x * V;
    const int target = targets[blockIdx.x];
    float m = -INFINITY, s = 0.0f;
    if (VEC) {
        const float4 *in = (const float4 *)row;
        float4 *keep = (float4 *)kept;
        // 4 loads issued before any of their values is used: 64 KB in flight per SM at
        // 1024 threads (the stores into shared memory could alias the row for all the
        // compiler knows, so it would not move later loads above them)
        const int n4 = V / 4, step = (int)blockDim.x;
        for (int j0 = threadIdx.x; j0 < n4; j0 += 4 * step) {
            float4 x[4];
#pragma unroll
            for (int u = 0; u < 4; u++)
                if (j0 + u * step < n4) x[u] = __ldcs(in + j0 + u * step);  // read once: overwritten
#pragma unroll
            for (int u = 0; u < 4; u++)
                if (j0 + u * step < n4) {
                    keep[j0 + u * step] = x[u];
                    online_add(m, s, x[u].x);
                    online_add(m, s, x[u].y);
                    online_add(m, s, x[u].z);
                    online_add(m, s, x[u].w);
                }
        }
    } else {
        for (int j = threadIdx.x; j < V; j += blockDim.x) {
            const float x = row[j];
            kept[j] = x;
            online_add(m, s, x);
        }
    }
    float maxv, sum;
    row_max_sum(m, s, shared, &maxv, &sum);  // its barriers also publish `kept`
    const float target_logit = kept[target];
    if (grad_scale != 0.0f) {
        // d loss / d logit_j = softmax_j - [j == target]: the target's own thread subtracts
        const float inv = grad_scale / sum;
        if (VEC) {
            float4 *out = (float4 *)row;
            const float4 *keep = (const float4 *)kept;
            for (int j = threadIdx.x; j < V / 4; j += blockDim.x) {
                const float4 x = keep[j];
                float4 g = make_float4(expf(x.x - maxv) * inv, expf(x.y - maxv) * inv, expf(x.z - maxv) * inv,
                                       expf(x.w - maxv) * inv);
                if (target / 4 == j) switch (target % 4) {
                        case 0:
                            g.x -= grad_scale;
                            break;
                        case 1:
                            g.y -= grad_scale;
                            break;
                        case 2:
                            g.z -= grad_scale;
                            break;
                        default:
                            g.w -= grad_scale;
                            break;
                    }
                out[j] = g;
            }
        } else {
            for (int j = threadIdx.x; j < V; j += blockDim.x) {
                float g = expf(kept[j] - maxv) * inv;
                if (j == target) g -= grad_scale;
                row[j] = g;
            }
        }
    }
    if (threadIdx.x == 0)
        losses[blockIdx.x] = (float)((double)maxv + log((double)sum) - (double)target_logit);
}

void cuda_softmax_xent(float *logits, float *losses, const int32_t *targets, int N, int V, float grad_scale) {
    if (N <= 0) return;
    const size_t bytes = (size_t)V * sizeof(float);
    // small rows: fewer threads, so that several blocks share an SM
    const int threads = V >= 8 * XENT_SHARED_THREADS ? XENT_SHARED_THREADS : 256;
    // the kernel's static shared memory: block_max's and block_sum's 32 floats (counted: rows of 12257
    // to 12288 floats, 48 KB with them, did not launch)
    const size_t static_bytes = 32 * sizeof(float);
    static size_t allowed_vec = 0, allowed_scalar = 0;
    if (V % 4 == 0 && (uintptr_t)logits % 16 == 0) {
        if (cuda_allow_shared(xent_shared_kernel<true>, bytes, static_bytes, &allowed_vec)) {
            CUDA_LAUNCH(xent_shared_kernel<true>, N, threads, bytes)(logits, losses, targets, V, grad_scale);
            CUDA_LAUNCHED("xent_shared_kernel");
            return;
        }
    } else if (cuda_allow_shared(xent_shared_kernel<false>, bytes, static_bytes, &allowed_scalar)) {
        CUDA_LAUNCH(xent_shared_kernel<false>, N, threads, bytes)(logits, losses, targets, V, grad_scale);
        CUDA_LAUNCHED("xent_shared_kernel");
        return;
    }
    CUDA_LAUNCH(xent_kernel, N, XENT_THREADS, 0)(logits, losses, targets, V, grad_scale);
    CUDA_LAUNCHED("xent_kernel");
}
