// loglik.h: scoring text with a model, teacher-forced: the log-probability
// head 1 gives each token of a continuation after its prefix, and its argmax
// there. The building block of the choice tasks (eval/choice.h: which option
// is most likely?) and of the induction task (eval/induction.h: is the second
// token of a name predicted?).
//
// Windows. A sequence of n tokens is run through model_forward_cached (a fresh
// cache, positions from 0, so every window looks like a training window) in
// windows of at most W tokens, W = the scorer's window (the model's context by
// default). When n <= W there is one window and every token sees its whole
// prefix. Otherwise token p is predicted from a window [w, e) that holds at
// least W/2 tokens before it (the first window [0, W) gives its tokens all of
// theirs): windows end at e = min(n, max(next + W/2, W)) and start at
// w = max(0, e - W), where next is the first token not yet scored. A
// continuation that fits in W-1 tokens is thus scored in one window whose
// context lost its w leftmost tokens ("dropped").
#ifndef MTP_EVAL_LOGLIK_H
#define MTP_EVAL_LOGLIK_H

#include <stdint.h>

#include "model/model.h"

typedef struct {
    const mtp_model *model;  // loaded weights, shared
    model_work work;         // this scorer's activations (B = 1, T = window)
    kv_cache cache;
    int window;           // W: tokens per forward
    float *logits;        // (W, V) head 1's logits of one window's scored rows (host)
    float *model_logits;  // where the model writes them: `logits`, or its twin on a device
    int32_t *seq;         // (cap) context + continuation, joined
    int seq_cap;
} loglik_scorer;

typedef struct {
    double logprob;  // sum over continuation tokens of ln p(token | prefix)
    int tokens;      // continuation tokens scored
    int greedy;      // 1 if head 1's argmax is every continuation token
    int dropped;     // most leading tokens a scored token could not see (0: all saw their whole prefix)
    int windows;     // forwards run
} loglik_result;

// Called for each scored position p (in order) with head 1's logits (V) of
// the row that predicts tokens[p]. Nonzero stops the scan (returned as is).
typedef int (*loglik_row_fn)(void *user, int p, const float *logits);

// window 0 = the model's context (max_seq_len). Allocates the scorer's work
// buffers for B = 1, T = window, a KV cache and a logits buffer. Returns 0, or -1 with mtp_errorf.
int loglik_init(loglik_scorer *s, const mtp_model *m, int window);
void loglik_free(loglik_scorer *s);

// Runs tokens[0..n) through the windows above and calls fn for every p in
// [first, n), first >= 1. info (may be NULL) gets its `dropped` and
// `windows` fields set; the others are left alone.
int loglik_each_row(loglik_scorer *s, const int32_t *tokens, int n, int first, loglik_row_fn fn, void *user,
                    loglik_result *info);

// The continuation's log-likelihood after the context: sum over i of
// ln p(cont[i] | ctx, cont[0..i)) under head 1, in double precision. n_ctx
// >= 1 (a document starts with the end-of-text token: pass it as context),
// n_cont >= 1.
int loglik_score(loglik_scorer *s, const int32_t *ctx, int n_ctx, const int32_t *cont, int n_cont,
                 loglik_result *r);

// ln softmax(logits)[target] in double precision, and the argmax (the lowest
// id among ties): helpers shared with the tests.
double loglik_log_softmax_at(const float *logits, int V, int target);
int loglik_argmax(const float *logits, int V);

#endif
