// sampler.h: choosing the next token from logits: greedy at temperature 0,
// otherwise softmax(logits / temperature), optionally cut to the top k.
#ifndef MTP_INFER_SAMPLER_H
#define MTP_INFER_SAMPLER_H

#include <stdint.h>

#include "core/rng.h"

// logits (V) is used as scratch. top_k <= 0 means the whole vocabulary.
int32_t sampler_next(float *logits, int V, float temperature, int top_k, mtp_rng *rng);

#endif
