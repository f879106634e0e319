// speculative.c: self-speculative decoding's verify and accept steps.
#include "infer/speculative.h"

#include <string.h>

#include "core/error.h"
#include "core/timer.h"
#include "ops/ops.h"

// Head 1's verdict on draft x given its logits at the row before x: 1 to
// accept. Greedy: x must be head 1's argmax. Sampling: accept with
// probability min(1, p(x)/q(x)); on rejection *correction is drawn from
// normalize(max(0, p - q)), which makes the output exactly p-distributed.
static int verify(decoder *d, sampler *s, const float *p_logits, const float *q, int32_t x,
                  int32_t *correction) {
    const int V = s->V;
    if (s->temperature <= 0.0f) return sampler_argmax(p_logits, V) == x;
    sampler_probs(s, p_logits, d->probs);
    float px = d->probs[x], qx = q[x];
    if (mtp_rng_uniform(&s->rng) < (double)px / qx) return 1;
    double mass = 0.0;
    for (int i = 0; i < V; i++) {
        float r = d->probs[i] - q[i];
        d->probs[i] = r > 0.0f ? r : 0.0f;
        mass += d->probs[i];
    }
    for (int i = 0; i < V; i++) d->probs[i] = (float)(d->probs[i] / mass);
    *correction = sampler_draw(s, d->probs);
    return 0;
}

// Auto: keeps the trunk outputs of the T rows just run at positions pos..,
// for heads that were left out of the forward.
static void keep_trunk_rows(decoder *d, int pos, int T) {
    const size_t dim = (size_t)d->model->cfg.dim;
    op_copy(d->z + (size_t)pos * dim, model_catch_up_rows(&d->work), sizeof(float) * T * dim);
}

// First position heads 2..K+1 must run from before they can draft at the
// last one (catch_up below).
static int catch_up_from(const decoder *d, int K) {
    int from = d->cache.len - 1;  // at least the last position, whose logits give the drafts
    for (int k = 1; k <= K; k++)
        if (d->head_len[k] < from) from = d->head_len[k];
    return from;
}

// Auto: the head-rows of catching up a step with K drafts needs first, for
// every K (0 where the drafts at hand, `have`, suffice). Returns rows.
static const long *catch_up_rows(const decoder *d, int have, long *rows) {
    for (int K = 0; K <= d->drafts; K++)
        rows[K] = K <= have ? 0 : (long)(d->cache.len - catch_up_from(d, K)) * K;
    return rows;
}

// Auto: runs heads 2..K+1 over the positions some of them skipped, up to the
// last one, and draws their drafts there (into draft[0..K)).
static int catch_up(decoder *d, sampler *s, int K, int32_t *draft) {
    const mtp_config *c = &d->model->cfg;
    const int end = d->cache.len, V = s->V;
    for (int at = catch_up_from(d, K); at < end; at += d->work.max_T) {
        int rows = end - at < d->work.max_T ? end - at : d->work.max_T;
        if (model_forward_heads_from(&d->work, &d->cache, d->z + (size_t)at * c->dim, at, rows, 2, K + 1,
                                     d->model_logits) != 0)
            return -1;
    }
    decoder_read_logits(d, 0, (size_t)K * c->vocab_size);
    for (int k = 1; k <= K; k++) d->head_len[k] = end;
    for (int k = 0; k < K; k++)
        draft[k] = decode_choose(s, d->logits + (size_t)k * c->vocab_size, d->draft_probs + (size_t)k * V);
    return 0;
}

int speculative_decode(decoder *d, sampler *s, decode_emitter *e, int32_t next, int32_t *draft, int have) {
    model_work *w = &d->work;
    const mtp_config *c = &d->model->cfg;
    decode_stats *st = e->st;
    const int V = s->V;
    const size_t Vm = (size_t)c->vocab_size;  // the logits' row length
    int32_t tokens[MTP_MAX_FUTURE + 1];
    long catch_rows[MTP_MAX_FUTURE];
    // The drafting heads' logits come with the verification's unembedding pass
    // at one row, guessed before head 1 has spoken: the row the previous step
    // stopped at (acceptance runs in streaks). A wrong guess costs a second pass.
    int guess = 0;
    const int n = c->n_future;
    while (!decode_put(e, next)) {
        int room = c->max_seq_len - d->cache.len;
        if (room < 1) {
            st->stop_reason = "context";
            break;
        }
        double t0 = mtp_now();
        // K: drafting heads run this step (their drafts serve the next one)
        const int K = d->auto_k ? k_chooser_pick(&d->chooser, catch_up_rows(d, have, catch_rows)) : d->drafts;
        // drafts worth checking: no more than can still be emitted or fit the context
        int k_here = K;
        if (k_here > e->max_new - st->generated) k_here = (int)(e->max_new - st->generated);
        if (k_here > room - 1) k_here = room - 1;
        int base = d->cache.len;
        if (K == 0) {  // auto chose a plain step
            const int heads = d->all_heads ? n : 1;
            if (model_forward_cached(w, &d->cache, &next, 1, heads, 1, 1, d->model_logits) != 0) return -1;
            decoder_read_logits(d, 0, (size_t)heads * Vm);
            keep_trunk_rows(d, base, 1);
            for (int k = 0; k < heads; k++) d->head_len[k] = d->cache.len;
            st->forwards++;
            st->steps_with[0]++;
            next = decode_choose(s, d->logits, d->probs);
            have = heads - 1;
            for (int k = 0; k < have; k++)
                draft[k] = decode_choose(s, d->logits + (size_t)(k + 1) * Vm, d->draft_probs + (size_t)k * V);
            k_chooser_observe(&d->chooser, 0, mtp_now() - t0, 0, 0);
            continue;
        }
        if (have < K) {  // heads that skipped positions catch up: a one-off cost, timed apart
            long head_rows = catch_up_rows(d, have, catch_rows)[K];
            if (catch_up(d, s, K, draft) != 0) return -1;
            double now = mtp_now();
            if (d->auto_k) k_chooser_observe_switch(&d->chooser, now - t0, head_rows);
            t0 = now;
        }
        tokens[0] = next;
        for (int k = 0; k < k_here; k++) tokens[k + 1] = draft[k];
        int rows = 1 + k_here;
        if (guess > k_here) guess = k_here;
        // trunk and heads 1..K+1 over every row, one unembedding pass
        const int heads = d->all_heads ? n : K + 1;
        if (model_forward_verify(w, &d->cache, tokens, rows, heads, guess, d->model_logits) != 0) return -1;
        decoder_read_logits(d, 0, (size_t)(rows + heads - 1) * Vm);
        if (d->auto_k) keep_trunk_rows(d, base, rows);
        st->forwards++;
        st->steps_with[k_here]++;
        // head 1 at row r predicts the token after tokens[r]: verify drafts left to right
        int a = 0, rejected = 0;
        int32_t correction = 0;
        for (; a < k_here; a++) {
            st->checked[a]++;
            if (!verify(d, s, d->logits + (size_t)a * Vm, d->draft_probs + (size_t)a * V, draft[a],
                        &correction)) {
                rejected = s->temperature > 0.0f;
                break;
            }
            st->accepted[a]++;
        }
        int stop = 0;
        for (int k = 0; k < a && !stop; k++) stop = decode_put(e, draft[k]);
        // keep the cache of head 1's token and the accepted drafts only
        d->cache.len = base + 1 + a;
        for (int k = 0; k <= d->drafts; k++) {
            if (k < heads)
                d->head_len[k] = d->cache.len;
            else if (d->head_len[k] > d->cache.len)
                d->head_len[k] = d->cache.len;
        }
        if (stop) break;
        next = rejected ? correction : decode_choose(s, d->logits + (size_t)a * Vm, d->probs);
        float *draft_logits = d->logits + (size_t)rows * Vm;  // (heads - 1, V): heads 2.. at row a
        if (a != guess) {
            if (model_draft_logits(w, heads, rows, a, d->model_logits + (size_t)rows * Vm) != 0) return -1;
            decoder_read_logits(d, (size_t)rows * Vm, (size_t)(heads - 1) * Vm);
        }
        guess = a;
        for (int k = 0; k < heads - 1; k++)
            draft[k] = decode_choose(s, draft_logits + (size_t)k * Vm, d->draft_probs + (size_t)k * V);
        have = heads - 1;
        if (d->auto_k) k_chooser_observe(&d->chooser, K, mtp_now() - t0, k_here, a);
    }
    return 0;
}
