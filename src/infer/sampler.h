// sampler.h: from logits to the next token: greedy at temperature 0,
// otherwise softmax(logits / temperature) cut to the top k tokens and to the
// smallest set whose probability reaches top_p, renormalized. The same
// distribution is used by plain sampling and by speculative sampling (for
// the drafting heads and for head 1), which needs it as a full vector.
#ifndef MTP_INFER_SAMPLER_H
#define MTP_INFER_SAMPLER_H

#include <stdint.h>

#include "core/rng.h"

typedef struct {
    int V;
    float temperature;  // 0 = greedy
    int top_k;          // 0 = all
    float top_p;        // 1 = all
    mtp_rng rng;
    struct sampler_entry {
        float p;
        int32_t id;
    } * order;  // (V) scratch for top-k / top-p
} sampler;

int sampler_init(sampler *s, int V, float temperature, int top_k, float top_p, uint64_t seed);
void sampler_free(sampler *s);
// The index of the largest logit (the lowest index among equals).
int32_t sampler_argmax(const float *logits, int V);
// probs (V): the sampling distribution for logits (temperature > 0).
void sampler_probs(sampler *s, const float *logits, float *probs);
// One draw from probs (V, summing to 1 up to rounding).
int32_t sampler_draw(sampler *s, const float *probs);
// The next token: argmax at temperature 0, else a draw; probs (V) is scratch.
int32_t sampler_next(sampler *s, const float *logits, float *probs);

#endif
