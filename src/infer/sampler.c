// sampler.c: greedy, temperature, top-k and top-p sampling.
#include "infer/sampler.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

int sampler_init(sampler *s, int V, float temperature, int top_k, float top_p, uint64_t seed) {
    memset(s, 0, sizeof *s);
    s->V = V;
    s->temperature = temperature;
    s->top_k = top_k > 0 && top_k < V ? top_k : 0;
    s->top_p = top_p >= 0.0f && top_p < 1.0f ? top_p : 1.0f;  // 0: the most likely token only
    mtp_rng_seed(&s->rng, seed);
    s->order = mtp_malloc(sizeof *s->order * (size_t)V, "sampler order");
    return s->order ? 0 : -1;
}

void sampler_free(sampler *s) {
    free(s->order);
    s->order = NULL;
}

// The first index of the largest value (0 if x[0] is NaN; other NaNs never
// win), as a scan keeping the first strictly larger value gives. A scan is
// a chain of dependent compares, about a value a cycle: 0.4 ms a step for the
// 7 rows of V = 50304 a three-draft verification reads, 1.5% of a big int8
// model's step. The maximum comes first, in 16 independent chains of max
// instructions (x > m ? x : m is their own rule: 139 us for those 7 rows),
// then the scan for its first index stops there.
int32_t sampler_argmax(const float *x, int V) {
    enum { LANES = 16 };
    if (V < 1 || isnan(x[0])) return 0;
    float lane[LANES];
    for (int l = 0; l < LANES; l++) lane[l] = x[0];
    int i = 0;
    for (; i + LANES <= V; i += LANES)
        for (int l = 0; l < LANES; l++) lane[l] = x[i + l] > lane[l] ? x[i + l] : lane[l];
    float m = lane[0];
    for (int l = 1; l < LANES; l++) m = lane[l] > m ? lane[l] : m;
    for (; i < V; i++) m = x[i] > m ? x[i] : m;
    for (i = 0; x[i] != m; i++) {
    }
    return i;
}

static int by_prob_desc(const void *a, const void *b) {
    const struct sampler_entry *x = a, *y = b;
    if (x->p != y->p) return x->p < y->p ? 1 : -1;
    return x->id - y->id;  // ties: lower id first, so the result is unique
}

void sampler_probs(sampler *s, const float *logits, float *probs) {
    int V = s->V;
    if (s->top_k == 1 || s->top_p <= 0.0f) {
        // one token, the one greedy decoding picks (exp() could round a near tie to a tie)
        memset(probs, 0, sizeof *probs * (size_t)V);
        probs[sampler_argmax(logits, V)] = 1.0f;
        return;
    }
    float maxv = logits[sampler_argmax(logits, V)];
    double sum = 0.0;
    for (int i = 0; i < V; i++) {
        probs[i] = expf((logits[i] - maxv) / s->temperature);
        sum += probs[i];
    }
    for (int i = 0; i < V; i++) probs[i] = (float)(probs[i] / sum);
    if (!s->top_k && s->top_p >= 1.0f) return;
    // keep the top k, then the smallest prefix (by probability) reaching top_p
    for (int i = 0; i < V; i++) s->order[i] = (struct sampler_entry){probs[i], i};
    qsort(s->order, (size_t)V, sizeof *s->order, by_prob_desc);
    int keep = s->top_k ? s->top_k : V;
    double mass = 0.0;
    for (int r = 0; r < keep; r++) {
        mass += probs[s->order[r].id];
        if (mass >= s->top_p) {
            keep = r + 1;
            break;
        }
    }
    double kept = 0.0;
    for (int r = 0; r < keep; r++) kept += probs[s->order[r].id];
    for (int r = keep; r < V; r++) probs[s->order[r].id] = 0.0f;
    for (int r = 0; r < keep; r++) probs[s->order[r].id] = (float)(probs[s->order[r].id] / kept);
}

int32_t sampler_draw(sampler *s, const float *probs) {
    double u = mtp_rng_uniform(&s->rng), acc = 0.0;
    int32_t last = 0;
    for (int i = 0; i < s->V; i++) {
        if (probs[i] <= 0.0f) continue;
        acc += probs[i];
        last = i;
        if (u < acc) return i;
    }
    return last;  // rounding left u above the total: the last possible token
}

int32_t sampler_next(sampler *s, const float *logits, float *probs) {
    if (s->temperature <= 0.0f) return sampler_argmax(logits, s->V);
    sampler_probs(s, logits, probs);
    return sampler_draw(s, probs);
}
