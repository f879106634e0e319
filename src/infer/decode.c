// decode.c: the decoder's buffers, the prefill, and plain decoding.
#include "infer/decode.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/timer.h"
#include "infer/speculative.h"
#include "ops/ops.h"

int decoder_init(decoder *d, const mtp_model *m, int drafts) {
    memset(d, 0, sizeof *d);
    const mtp_config *c = &m->cfg;
    // a verification forward runs K+1 rows, which must fit the context (as generator_check says)
    const int fit = c->max_seq_len - 1;
    if (drafts == DECODE_AUTO) {
        drafts = c->n_future - 1 < fit ? c->n_future - 1 : fit;
        d->auto_k = drafts > 0;
        k_chooser_init(&d->chooser, drafts);
    }
    if (drafts < 0 || drafts > c->n_future - 1) {
        if (c->n_future == 1)
            return mtp_errorf("--speculative %d: the model has 1 head, so no drafting heads: use 0", drafts);
        return mtp_errorf("--speculative %d: the model has %d heads, so at most %d drafting head%s", drafts,
                          c->n_future, c->n_future - 1, c->n_future == 2 ? "" : "s");
    }
    if (drafts > fit)
        return mtp_errorf("--speculative %d: the model's context is %d tokens, so at most %d drafting head%s",
                          drafts, c->max_seq_len, fit, fit == 1 ? "" : "s");
    d->model = m;
    d->drafts = drafts;
    d->auto_k = d->auto_k && drafts > 0;
    d->all_heads = d->auto_k && c->head_order == MTP_HEAD_ANTICAUSAL;
    d->prefill_chunk = c->max_seq_len < 256 ? c->max_seq_len : 256;
    int rows = drafts + 1 > d->prefill_chunk ? drafts + 1 : d->prefill_chunk;
    // the KV cache comes with the first run (decode_run), sized to what it can reach
    if (model_work_alloc(&d->work, m, 1, rows, SCHEDULE_SEQUENTIAL, 0) != 0) {
        decoder_free(d);
        return -1;
    }
    // heads run by a forward: K + 1, or all n (anticausal heads under auto) even where the context
    // holds fewer drafts than n - 1
    const int heads = d->all_heads && c->n_future > drafts + 1 ? c->n_future : drafts + 1;
    size_t V = (size_t)c->vocab_size, logits = sizeof(float) * (size_t)heads * heads * V;
    d->logits = mtp_malloc(logits, "logits");
    // what the model writes and reads lives where the model does
    d->model_logits = d->work.on_device ? op_alloc_on(d->work.on_device, logits, "logits") : d->logits;
    d->probs = mtp_malloc(sizeof(float) * V, "probabilities");
    d->draft_probs =
        mtp_malloc(sizeof(float) * (size_t)(heads > 1 ? heads - 1 : 1) * V, "draft probabilities");
    if (!d->logits || !d->model_logits || !d->probs || !d->draft_probs) {
        decoder_free(d);
        return -1;
    }
    return 0;
}

int decoder_reserve(decoder *d, int positions) {
    const mtp_config *c = &d->model->cfg;
    if (positions > c->max_seq_len) positions = c->max_seq_len;
    if (d->cache.k && positions <= d->cache.capacity) return 0;
    // at least double, so that prompts growing a little at a time reallocate a few times only
    int capacity = d->cache.capacity > c->max_seq_len / 2 ? c->max_seq_len : 2 * d->cache.capacity;
    if (capacity < positions) capacity = positions;
    kv_cache_free(&d->cache);
    op_free_on(d->work.on_device, d->z);
    d->z = NULL;
    if (kv_cache_alloc(&d->cache, c, capacity) != 0) return -1;
    if (d->auto_k && !(d->z = op_alloc_on(d->work.on_device, sizeof(float) * (size_t)capacity * c->dim,
                                          "the rows heads 2.. read"))) {
        kv_cache_free(&d->cache);
        return -1;
    }
    return 0;
}

void decoder_free(decoder *d) {
    kv_cache_free(&d->cache);
    if (d->model_logits != d->logits) op_free_on(d->work.on_device, d->model_logits);
    op_free_on(d->work.on_device, d->z);
    model_work_free(&d->work);
    free(d->logits);
    free(d->probs);
    free(d->draft_probs);
    memset(d, 0, sizeof *d);
}

void decoder_read_logits(decoder *d, size_t offset, size_t n) {
    if (d->model_logits != d->logits)
        op_download(d->logits + offset, d->model_logits + offset, sizeof(float) * n);
}

const float *decoder_logits_at(const decoder *d, int h, int r, int rows) {
    size_t V = (size_t)d->model->cfg.vocab_size;
    return d->logits + ((size_t)h * rows + r) * V;
}

int32_t decode_choose(sampler *s, const float *logits, float *dist) {
    if (s->temperature <= 0.0f) return sampler_argmax(logits, s->V);
    sampler_probs(s, logits, dist);
    return sampler_draw(s, dist);
}

int decode_put(decode_emitter *e, int32_t token) {
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

// One forward of one token per step, head 1 only.
static int plain_decode(decoder *d, sampler *s, decode_emitter *e, int32_t next) {
    while (!decode_put(e, next)) {
        if (d->cache.len >= d->model->cfg.max_seq_len) {
            e->st->stop_reason = "context";
            break;
        }
        if (model_forward_cached(&d->work, &d->cache, &next, 1, 1, 1, 1, d->model_logits) != 0) return -1;
        decoder_read_logits(d, 0, (size_t)d->model->cfg.vocab_size);
        e->st->forwards++;
        e->st->steps_with[0]++;
        next = decode_choose(s, d->logits, d->probs);
    }
    return 0;
}

int decode_run(decoder *d, const int32_t *prompt, int n, int max_new, int32_t eot, sampler *s,
               decode_emit_fn emit, void *user, decode_stats *st) {
    const mtp_config *c = &d->model->cfg;
    // the sampler's vocabulary (the tokenizer's, <= the model's padded one) everywhere
    const int K = d->drafts, V = s->V;
    memset(st, 0, sizeof *st);
    st->stop_reason = "max-new";
    if (V > c->vocab_size)
        return mtp_errorf("sampler vocabulary %d exceeds the model's %d", V, c->vocab_size);
    if (n < 1) return mtp_errorf("empty prompt: give at least one token");
    if (n >= c->max_seq_len)
        return mtp_errorf("prompt of %d tokens leaves no room in the model's context of %d: shorten it", n,
                          c->max_seq_len);
    if (max_new <= 0) return 0;
    // the most positions this run can fill: the prompt, max_new - 1 forwarded tokens, and a last
    // verification's K + 1 rows (or n under auto's catch-up), within the context
    const long reach = (long)n + max_new + c->n_future + 1;  // (max_new may be INT_MAX: no int overflow)
    if (decoder_reserve(d, reach < c->max_seq_len ? (int)reach : c->max_seq_len) != 0) return -1;
    // prefill: the prompt in chunks, matrix-matrix; logits of the last position only. Auto runs
    // the heads its chooser expects to use soon (all of them on the first prompt, whose first
    // steps time plain and full drafting) and keeps the trunk's outputs: the other drafting
    // heads catch up if more drafts ever pay (chained heads cannot catch up: they all run).
    double t0 = mtp_now();
    const int prefill_heads = d->all_heads ? c->n_future
                              : d->auto_k  ? 1 + k_chooser_prefill_drafts(&d->chooser)
                                           : K + 1;
    d->cache.len = 0;
    for (int at = 0; at < n; at += d->prefill_chunk) {
        int len = n - at < d->prefill_chunk ? n - at : d->prefill_chunk;
        if (model_forward_cached(&d->work, &d->cache, prompt + at, len, prefill_heads, 1, 0,
                                 d->model_logits) != 0)
            return -1;
        if (d->auto_k)
            op_copy(d->z + (size_t)at * c->dim, model_catch_up_rows(&d->work),
                    sizeof(float) * (size_t)len * c->dim);
    }
    decoder_read_logits(d, 0, (size_t)prefill_heads * c->vocab_size);
    st->prefill_seconds = mtp_now() - t0;
    t0 = mtp_now();
    decode_emitter e = {emit, user, st, max_new, eot};
    int32_t next = decode_choose(s, decoder_logits_at(d, 0, 0, 1), d->probs);
    int32_t draft[MTP_MAX_FUTURE];
    for (int k = 0; k < prefill_heads - 1; k++)
        draft[k] = decode_choose(s, decoder_logits_at(d, k + 1, 0, 1), d->draft_probs + (size_t)k * V);
    for (int k = 0; k <= K; k++) d->head_len[k] = k < prefill_heads ? d->cache.len : 0;
    int rc =
        K == 0 ? plain_decode(d, s, &e, next) : speculative_decode(d, s, &e, next, draft, prefill_heads - 1);
    st->decode_seconds = mtp_now() - t0;
    return rc;
}
