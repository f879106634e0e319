// sampler.c: greedy, temperature and top-k sampling.
#include "infer/sampler.h"

#include <math.h>

static int32_t argmax(const float *x, int V) {
    int32_t best = 0;
    for (int i = 1; i < V; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

int32_t sampler_next(float *logits, int V, float temperature, int top_k, mtp_rng *rng) {
    if (temperature <= 0.0f) return argmax(logits, V);
    float maxv = logits[argmax(logits, V)];
    float cutoff = -INFINITY;
    if (top_k > 0 && top_k < V) {
        // the k-th largest logit by repeated selection: k passes, fine for small k
        float prev = INFINITY;
        for (int r = 0; r < top_k; r++) {
            float best = -INFINITY;
            for (int i = 0; i < V; i++)
                if (logits[i] < prev && logits[i] > best) best = logits[i];
            prev = best;
        }
        cutoff = prev;
    }
    double sum = 0.0;
    for (int i = 0; i < V; i++) {
        float p = logits[i] >= cutoff ? expf((logits[i] - maxv) / temperature) : 0.0f;
        logits[i] = p;
        sum += p;
    }
    double u = mtp_rng_uniform(rng) * sum, acc = 0.0;
    for (int i = 0; i < V; i++) {
        acc += logits[i];
        if (u < acc) return i;
    }
    return argmax(logits, V);
}
