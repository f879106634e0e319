// speculative.c: self-speculative decoding's verify and accept steps.
#include "infer/speculative.h"

#include "core/error.h"

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

int speculative_decode(decoder *d, sampler *s, decode_emitter *e, int32_t next, int32_t *draft) {
    model_work *w = &d->work;
    const mtp_config *c = &d->model->cfg;
    decode_stats *st = e->st;
    const int K = d->drafts, V = s->V;
    int32_t tokens[MTP_MAX_FUTURE + 1];
    while (!decode_put(e, next)) {
        int room = c->max_seq_len - d->cache.len;
        if (room < 1) {
            st->stop_reason = "context";
            break;
        }
        // drafts worth checking: no more than can still be emitted or fit the context
        int k_here = K;
        if (k_here > e->max_new - st->generated) k_here = (int)(e->max_new - st->generated);
        if (k_here > room - 1) k_here = room - 1;
        tokens[0] = next;
        for (int k = 0; k < k_here; k++) tokens[k + 1] = draft[k];
        int rows = 1 + k_here, base = d->cache.len;
        // trunk and head 1 over every row; the drafting heads once we know which rows stay
        if (model_forward_cached(w, &d->cache, tokens, rows, 1, rows, 1, d->logits) != 0) return -1;
        st->forwards++;
        // head 1 at row r predicts the token after tokens[r]: verify drafts left to right
        int a = 0, rejected = 0;
        int32_t correction = 0;
        for (; a < k_here; a++) {
            st->checked[a]++;
            if (!verify(d, s, decoder_logits_at(d, 0, a, rows), d->draft_probs + (size_t)a * V, draft[a],
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
        if (stop) break;
        next = rejected ? correction : decode_choose(s, decoder_logits_at(d, 0, a, rows), d->probs);
        if (model_forward_heads_cached(w, &d->cache, base, a + 1, 2, K + 1, 1, d->logits) != 0) return -1;
        for (int k = 0; k < K; k++)
            draft[k] = decode_choose(s, decoder_logits_at(d, k, 0, 1), d->draft_probs + (size_t)k * V);
    }
    return 0;
}
