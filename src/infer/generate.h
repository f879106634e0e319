// generate.h: text in, text out. A generator bundles what every command
// that writes text needs (the shared weights, the tokenizer, a decoder with
// its own KV cache and a sampler); generate_text encodes a prompt, fits it to
// the context, decodes (plain or self-speculative) and collects the bytes
// until a stop string, end-of-text, max_new tokens or a full context.
#ifndef MTP_INFER_GENERATE_H
#define MTP_INFER_GENERATE_H

#include <stddef.h>
#include <stdint.h>

#include "core/strbuf.h"
#include "data/tokenizer.h"
#include "infer/decode.h"

typedef struct {
    int drafts;  // drafting heads K; DECODE_AUTO (-1): chosen per step; DECODE_ALL (-2): n-1; 0 = plain
    float temperature;  // 0 = greedy
    int top_k;          // 0 = all
    float top_p;        // 1 = all
    uint64_t seed;
} generator_config;

typedef struct {
    const tokenizer *tok;
    decoder dec;
    sampler smp;
} generator;

// Checks cfg against a model of shape mc (K <= n-1), before anything loads.
int generator_check(const mtp_config *mc, const generator_config *cfg);
// Checks cfg against the model and allocates. tok must fit the
// model's vocabulary; m and tok must outlive g.
int generator_init(generator *g, const mtp_model *m, const tokenizer *tok, const generator_config *cfg);
void generator_free(generator *g);

typedef enum {
    PROMPT_FIT_ERROR,     // a prompt that leaves no room in the context is an error
    PROMPT_FIT_KEEP_END,  // keep only the prompt's newest `keep` tokens
} prompt_fit;

typedef struct {
    int max_new;               // tokens at most
    const char *const *stops;  // NULL-terminated (NULL: none): the text ends before the first match
    int skip_leading_blanks;   // drop blanks (space, tab, CR, LF) before the first other byte
    prompt_fit fit;
    int keep;  // PROMPT_FIT_KEEP_END: prompt tokens kept at most (0 = context - 1), a leading
               // document start (BOS) included and kept
    // Streaming (may be NULL): bytes of the text as soon as no stop string can still start in them.
    void (*on_text)(const char *bytes, size_t n, void *user);
    void *user;
} generate_options;

// The `keep` that leaves room for `room` new tokens in a context of `context`:
// a prompt of n tokens leaves room for context - n + 1 (the first new token
// takes no position of its own); 0 (context - 1) where no cut leaves it.
static inline int generate_keep_for_room(int context, int room) {
    int keep = context - room + 1;
    return keep >= 1 && keep < context ? keep : 0;
}

typedef struct {
    strbuf text;  // what was generated: text.s (NUL-terminated), text.len; free with generate_result_free
    int prompt_tokens;  // after fitting
    int prompt_cut;     // tokens dropped from the prompt's start
    int kept_start;     // the cut kept the prompt's leading document start (BOS) before its newest
    decode_stats stats;
    const char *stop_reason;  // "max-new", "end-of-text", "stop" (a stop string), "context"
} generate_result;

// Generates after the prompt text (an empty prompt starts from end-of-text,
// as after a document). r's text buffer is reused from call to call: start
// from a zeroed generate_result and free it with generate_result_free.
int generate_text(generator *g, const char *prompt, size_t len, const generate_options *o,
                  generate_result *r);
// The same after prompt token ids (n >= 0).
int generate_tokens(generator *g, const int32_t *ids, int n, const generate_options *o, generate_result *r);
void generate_result_free(generate_result *r);

#endif
