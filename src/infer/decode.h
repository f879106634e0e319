// decode.h: generation with a KV cache, plain or self-speculative, on
// token ids (infer/generate.h works on text).
//
// Plain (decode.c): head 1 picks each next token, one forward per token.
// Speculative (speculative.c; K drafting heads, blockwise parallel decoding,
// Stern et al. 2018): heads 2..K+1 at the last accepted position draft the K
// tokens after head 1's; one forward over [head 1's token, drafts] runs the
// trunk and every head over every row (each weight read once), and one pass
// over the unembedding gives head 1's logits at every row plus the drafting
// heads' at the row where the previous step stopped; head 1 verifies the
// drafts left to right, the longest agreeing prefix is accepted plus head 1's
// own next token, the drafting heads' logits at the last accepted row give
// the next drafts (a second unembedding pass only when that row differs), and
// the caches of rejected positions are rolled back. Greedy output is token
// for token that of plain greedy decoding; with temperature > 0 each draft x
// from a head with distribution q is accepted with probability
// min(1, p(x)/q(x)) (p: head 1's), and on rejection the token is drawn from
// normalize(max(0, p - q)), so the output is distributed exactly as plain
// sampling's.
#ifndef MTP_INFER_DECODE_H
#define MTP_INFER_DECODE_H

#include <stdint.h>

#include "infer/k_choice.h"
#include "infer/sampler.h"
#include "model/model.h"

// decoder_init's drafts for --speculative auto: K chosen per step from
// measured step times (k_choice.h). Greedy output stays plain greedy's;
// sampled output keeps its distribution, but which sample a seed gives then
// depends on timing: a fixed K reproduces samples.
#define DECODE_AUTO (-1)
// generator_config's drafts for every extra head (n-1).
#define DECODE_ALL (-2)

typedef struct {
    long generated;                   // tokens emitted
    long forwards;                    // forwards after the prefill
    long steps_with[MTP_MAX_FUTURE];  // steps (forwards) that checked K = 0, 1, ... drafts
    long checked[MTP_MAX_FUTURE];     // drafts of head k+2 that head 1 checked
    long accepted[MTP_MAX_FUTURE];    // ... and accepted
    double prefill_seconds, decode_seconds;
    const char *stop_reason;  // "max-new", "end-of-text", "stop", "context"
} decode_stats;

// Receives each generated token once it is final, in order; nonzero stops.
typedef int (*decode_emit_fn)(int32_t token, void *user);

typedef struct {
    const mtp_model *model;  // loaded weights, shared with other decoders
    model_work work;         // this decoder's activations
    kv_cache cache;
    int drafts;  // K: drafting heads (0 = plain decoding); with auto the most it may use, n-1
    int auto_k;  // --speculative auto: K chosen per step by `chooser`
    // auto on anticausal heads: every head runs in every forward (head 1
    // reads them all, so none can be left out and caught up later)
    int all_heads;
    k_chooser chooser;
    // auto: what heads 2.. read (Tmax, d) by position (model_catch_up_rows), for heads that skip some
    float *z;
    int head_len[MTP_MAX_FUTURE];  // auto: positions whose cache rows head k+1 holds
    int prefill_chunk;             // prompt tokens per prefill forward
    float *logits;                 // (K+1, max(K+1, 1), V), host memory: what the sampler reads
    // on a device the model writes its logits here (same shape), and
    // decoder_read_logits brings the rows a step reads into `logits`;
    // on the CPU it is `logits` itself
    float *model_logits;
    float *probs;        // (V) head 1's distribution
    float *draft_probs;  // (K, V) the distributions the drafts were drawn from
} decoder;

// drafts K <= n-1 (0 = plain), or DECODE_AUTO.
int decoder_init(decoder *d, const mtp_model *m, int drafts);
void decoder_free(decoder *d);
// Makes the KV cache (and auto's rows for heads 2..) hold at least `positions`
// (at most the model's context), reallocating them empty if they are smaller:
// call it before a prefill, not mid-sequence. decode_run calls it with what a
// run can reach, so a short generation on a long-context model does not clear
// a whole context's cache.
int decoder_reserve(decoder *d, int positions);
// Generates up to max_new tokens after prompt (n >= 1 tokens), stopping after
// end-of-text `eot` (not emitted; -1 for none), when emit returns nonzero or
// when the context is full. The sampler's temperature 0 means greedy.
int decode_run(decoder *d, const int32_t *prompt, int n, int max_new, int32_t eot, sampler *s,
               decode_emit_fn emit, void *user, decode_stats *st);

// ---- shared by the plain and the speculative loop (infer/ only) ----

// Hands tokens to the caller and decides when generation ends.
typedef struct {
    decode_emit_fn emit;
    void *user;
    decode_stats *st;
    int max_new;
    int32_t eot;
} decode_emitter;

// 1 if generation must stop after this token (or instead of it).
int decode_put(decode_emitter *e, int32_t token);
// The token proposed from logits (V = s->V): the argmax when greedy; else a
// draw, with its distribution left in dist (V) for the acceptance test.
int32_t decode_choose(sampler *s, const float *logits, float *dist);
// Logits of head h (0-based) at row r of the last forward, which had `rows` rows.
const float *decoder_logits_at(const decoder *d, int h, int r, int rows);
// After a forward that wrote n floats at d->model_logits + offset: makes them
// readable at d->logits + offset (a download on a device, nothing on the CPU).
void decoder_read_logits(decoder *d, size_t offset, size_t n);

#endif
