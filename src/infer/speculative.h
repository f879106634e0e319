// speculative.h: the verify/accept loop of self-speculative decoding (see
// decode.h for the method and its guarantees).
#ifndef MTP_INFER_SPECULATIVE_H
#define MTP_INFER_SPECULATIVE_H

#include "infer/decode.h"

// Continues after the prefill: `next` is head 1's token and draft[0..have)
// the drafting heads' proposals at the last prompt position (their
// distributions in d->draft_probs when sampling; have = the heads the
// prefill ran, less head 1). Runs until e says stop or the context is full.
int speculative_decode(decoder *d, sampler *s, decode_emitter *e, int32_t next, int32_t *draft, int have);

#endif
