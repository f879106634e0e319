// xent.c: softmax cross-entropy over rows of logits, with the gradient
// written over the logits so no second (rows, V) buffer is needed. One
// exponential per logit (on native vectors), kept in the row when the gradient is
// wanted.
#include <float.h>
#include <math.h>

#include "ops/cpu/cpu_ops.h"
#include "ops/cpu/vecn.h"
#include "ops/ops.h"

// exp(row[j] - maxv) summed over the row's V values, and written over them if
// keep. On native vectors: GCC 12 reports a `#pragma omp simd` loop around the
// scalar fast_expf as vectorized and emits scalar code (its clamp becomes
// branches), which made the cross-entropy 5.7% of a GPT-2-small n = 4 step.
// The sum runs in 4 x VN partial sums (each about V / 64 terms on AVX-512:
// summed one by one in float, 50k terms moved every probability by 4e-5),
// then across them in a fixed order, so a row's bits depend on the row only.
enum { SUMS = 4 };
static float exp_and_sum(float *row, int V, float maxv, int keep) {
    const vfn m = splatn(maxv);
    vfn part[SUMS];
    for (int a = 0; a < SUMS; a++) part[a] = splatn(0.0f);
    int j = 0;
    for (; j + SUMS * VN <= V; j += SUMS * VN)
        for (int a = 0; a < SUMS; a++) {
            const vfn e = expn(loadn(row + j + a * VN) - m);
            if (keep) storen(row + j + a * VN, e);
            part[a] += e;
        }
    for (; j < V; j += VN) {  // the rest, padded with maxv, whose exponentials are not added
        float tail[VN];
        for (int l = 0; l < VN; l++) tail[l] = j + l < V ? row[j + l] : maxv;
        const vfn e = expn(loadn(tail) - m);
        storen(tail, e);
        for (int l = 0; l < VN && j + l < V; l++) {
            if (keep) row[j + l] = tail[l];
            part[0][l] += tail[l];
        }
    }
    for (int a = 1; a < SUMS; a++) part[0] += part[a];
    float lane[VN];
    storen(lane, part[0]);
    for (int half = VN / 2; half >= 1; half /= 2)
        for (int l = 0; l < half; l++) lane[l] += lane[l + half];
    return lane[0];
}

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
        const int keep = grad_scale != 0.0f;
        float sum = exp_and_sum(row, V, maxv, keep);
        if (keep) {
            // d loss / d logit_j = softmax_j - [j == target]. Probabilities whose
            // share of the gradient would be subnormal (below FLT_MIN, about
            // 80 nats under the best logit at grad_scale 1/2048; the floor
            // expn clamps to is one) are 0: subnormal gradients made the
            // unembedding's backward 170x slower, each product a microcode assist
            // (166 rows x 50304, a confident row's 50303 small probabilities).
            const float inv = grad_scale / sum, least = FLT_MIN / inv;
#pragma omp simd
            for (int j = 0; j < V; j++) row[j] = (row[j] >= least ? row[j] : 0.0f) * inv;
            row[targets[i]] -= grad_scale;
        }
        losses[i] = (float)((double)maxv + log((double)sum) - (double)target_logit);
    }
}
