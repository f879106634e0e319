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
    const size_t Vm = (size_t)c->vocab_size;  // the logits' row length
    int32_t tokens[MTP_MAX_FUTURE + 1];
    // The drafting heads' logits come with the verification's unembedding pass
    // at one row, guessed before head 1 has spoken: the row the previous step
    // stopped at (acceptance runs in streaks). A wrong guess costs a second pass.
    int guess = 0;
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
        if (guess > k_here) guess = k_here;
        // trunk and every head over every row, one unembedding pass
        if (model_forward_verify(w, &d->cache, tokens, rows, K + 1, guess, d->logits) != 0) return -1;
        st->forwards++;
        // head 1 at row r predicts the token after tokens[r]: verify drafts left to right
        int a = 0, rejected = 0;
        int32_t correction = 0;
        for (; a < k_here; a++) {
            st->checked[a]++;
            if (!verify(d, s, d->logits + (size_t)a * Vm, d->draft_probs + (size_t)a * V, draft[a], &correction)) {
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
        next = rejected ? correction : decode_choose(s, d->logits + (size_t)a * Vm, d->probs);
        float *draft_logits = d->logits + (size_t)rows * Vm;  // (K, V): heads 2..K+1 at row a
        if (a != guess && model_draft_logits(w, K + 1, rows, a, draft_logits) != 0) return -1;
        guess = a;
        for (int k = 0; k < K; k++)
            draft[k] = decode_choose(s, draft_logits + (size_t)k * Vm, d->draft_probs + (size_t)k * V);
    }
    return 0;
}
