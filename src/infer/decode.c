// decode.c: prefill, plain decoding and self-speculative decoding.
#include "infer/decode.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/timer.h"

int decoder_init(decoder *d, const mtp_model *m, int drafts) {
    memset(d, 0, sizeof *d);
    const mtp_config *c = &m->cfg;
    if (drafts < 0 || drafts > c->n_future - 1)
        return mtp_errorf("--speculative %d: this model has %d heads, so at most %d drafting heads", drafts,
                          c->n_future, c->n_future - 1);
    d->model = m;
    d->drafts = drafts;
    d->prefill_chunk = c->max_seq_len < 256 ? c->max_seq_len : 256;
    int rows = drafts + 1 > d->prefill_chunk ? drafts + 1 : d->prefill_chunk;
    if (model_work_alloc(&d->work, m, 1, rows, SCHEDULE_SEQUENTIAL, 0) != 0 ||
        kv_cache_alloc(&d->cache, c) != 0) {
        decoder_free(d);
        return -1;
    }
    size_t V = (size_t)c->vocab_size;
    d->logits = mtp_malloc(sizeof(float) * (size_t)(drafts + 1) * (drafts + 1) * V, "logits");
    d->probs = mtp_malloc(sizeof(float) * V, "probabilities");
    d->draft_probs = mtp_malloc(sizeof(float) * (size_t)(drafts ? drafts : 1) * V, "draft probabilities");
    if (!d->logits || !d->probs || !d->draft_probs) {
        decoder_free(d);
        return -1;
    }
    return 0;
}

void decoder_free(decoder *d) {
    kv_cache_free(&d->cache);
    model_work_free(&d->work);
    free(d->logits);
    free(d->probs);
    free(d->draft_probs);
    memset(d, 0, sizeof *d);
}

// Logits of head h (0-based) at row r of the last forward, which had `rows` rows.
static const float *head_row(const decoder *d, int h, int r, int rows) {
    size_t V = (size_t)d->model->cfg.vocab_size;
    return d->logits + ((size_t)h * rows + r) * V;
}

// The token head h proposes from `logits`; for sampling, its distribution is
// kept in dist (V) for the acceptance test.
static int32_t choose(sampler *s, const float *logits, float *dist) {
    if (s->temperature <= 0.0f) return sampler_argmax(logits, s->V);
    sampler_probs(s, logits, dist);
    return sampler_draw(s, dist);
}

typedef struct {
    decode_emit_fn emit;
    void *user;
    decode_stats *st;
    int max_new;
    int32_t eot;
} emitter;

// 1 if generation must stop after this token (or instead of it).
static int put(emitter *e, int32_t token) {
    if (token == e->eot) {
        e->st->stop_reason = "end-of-text";
        return 1;
    }
    e->st->generated++;
    if (e->emit && e->emit(token, e->user)) {
        e->st->stop_reason = "stop";
        return 1;
    }
    if (e->st->generated >= e->max_new) {
        e->st->stop_reason = "max-new";
        return 1;
    }
    return 0;
}

int decode_run(decoder *d, const int32_t *prompt, int n, int max_new, int32_t eot, sampler *s,
               decode_emit_fn emit, void *user, decode_stats *st) {
    model_work *w = &d->work;
    const mtp_config *c = &d->model->cfg;
    // the sampler's vocabulary (the tokenizer's, <= the model's padded one) everywhere
    const int K = d->drafts, heads = K + 1, V = s->V;
    memset(st, 0, sizeof *st);
    st->stop_reason = "max-new";
    if (V > c->vocab_size)
        return mtp_errorf("sampler vocabulary %d exceeds the model's %d", V, c->vocab_size);
    if (n < 1) return mtp_errorf("empty prompt: give at least one token");
    if (n >= c->max_seq_len)
        return mtp_errorf("prompt of %d tokens leaves no room in the model's context of %d: shorten it", n,
                          c->max_seq_len);
    if (max_new <= 0) return 0;
    // prefill: the prompt in chunks, matrix-matrix; logits of the last position only
    double t0 = mtp_now();
    d->cache.len = 0;
    for (int at = 0; at < n; at += d->prefill_chunk) {
        int len = n - at < d->prefill_chunk ? n - at : d->prefill_chunk;
        if (model_forward_cached(w, &d->cache, prompt + at, len, heads, 1, 0, d->logits) != 0) return -1;
    }
    st->prefill_seconds = mtp_now() - t0;
    t0 = mtp_now();
    emitter e = {emit, user, st, max_new, eot};
    int rows = 1;  // rows of the last forward
    int32_t next = choose(s, head_row(d, 0, 0, rows), d->probs);
    int32_t draft[MTP_MAX_FUTURE];
    for (int k = 0; k < K; k++)
        draft[k] = choose(s, head_row(d, k + 1, 0, rows), d->draft_probs + (size_t)k * V);
    int32_t tokens[MTP_MAX_FUTURE + 1];
    while (!put(&e, next)) {
        int room = c->max_seq_len - d->cache.len;
        if (room < 1) {
            st->stop_reason = "context";
            break;
        }
        // drafts worth checking: no more than can still be emitted or fit the context
        int k_here = K;
        if (k_here > max_new - st->generated) k_here = (int)(max_new - st->generated);
        if (k_here > room - 1) k_here = room - 1;
        tokens[0] = next;
        for (int k = 0; k < k_here; k++) tokens[k + 1] = draft[k];
        rows = 1 + k_here;
        int base = d->cache.len;
        // trunk and head 1 over every row; the drafting heads only once we know which rows stay
        if (model_forward_cached(w, &d->cache, tokens, rows, 1, rows, 1, d->logits) != 0) return -1;
        st->forwards++;
        // head 1 at row r predicts the token after tokens[r]: verify drafts left to right
        int a = 0, rejected = 0;
        int32_t correction = 0;
        for (; a < k_here; a++) {
            const float *p_logits = head_row(d, 0, a, rows);
            st->checked[a]++;
            if (s->temperature <= 0.0f) {
                if (sampler_argmax(p_logits, V) != draft[a]) break;
            } else {
                const float *q = d->draft_probs + (size_t)a * V;
                sampler_probs(s, p_logits, d->probs);
                float px = d->probs[draft[a]], qx = q[draft[a]];
                if (!(mtp_rng_uniform(&s->rng) < (double)px / qx)) {
                    // rejected: draw from the residual normalize(max(0, p - q))
                    double mass = 0.0;
                    for (int i = 0; i < V; i++) {
                        float r = d->probs[i] - q[i];
                        d->probs[i] = r > 0.0f ? r : 0.0f;
                        mass += d->probs[i];
                    }
                    for (int i = 0; i < V; i++) d->probs[i] = (float)(d->probs[i] / mass);
                    correction = sampler_draw(s, d->probs);
                    rejected = 1;
                    break;
                }
            }
            st->accepted[a]++;
        }
        int stop = 0;
        for (int k = 0; k < a && !stop; k++) stop = put(&e, draft[k]);
        // keep the cache of head 1's token and the accepted drafts only
        d->cache.len = base + 1 + a;
        if (stop) break;
        next = rejected ? correction : choose(s, head_row(d, 0, a, rows), d->probs);
        if (K > 0) {
            if (model_forward_heads_cached(w, &d->cache, base, a + 1, 2, K + 1, 1, d->logits) != 0) return -1;
            for (int k = 0; k < K; k++)
                draft[k] = choose(s, head_row(d, k, 0, 1), d->draft_probs + (size_t)k * V);
        }
    }
    st->decode_seconds = mtp_now() - t0;
    return 0;
}
