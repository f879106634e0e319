// loglik.c: see loglik.h.
#include "eval/loglik.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "ops/ops.h"

int loglik_init(loglik_scorer *s, const mtp_model *m, int window) {
    const mtp_config *c = &m->cfg;
    memset(s, 0, sizeof *s);
    if (window <= 0 || window > c->max_seq_len) window = c->max_seq_len;
    if (window < 2) return mtp_errorf("a scoring window of %d tokens is too short (need 2)", window);
    s->model = m;
    s->window = window;
    // head 1's logits of a window's rows
    size_t logit_floats = (size_t)window * (size_t)c->vocab_size;
    int rc = model_work_alloc(&s->work, m, 1, window, SCHEDULE_SEQUENTIAL, 0) ||
             kv_cache_alloc(&s->cache, c, window) ||
             !(s->logits = mtp_malloc(sizeof(float) * logit_floats, "scoring logits")) ||
             !(s->model_logits =
                   s->work.on_device
                       ? op_alloc_on(s->work.on_device, sizeof(float) * logit_floats, "scoring logits")
                       : s->logits);
    if (rc) loglik_free(s);
    return rc ? -1 : 0;
}

void loglik_free(loglik_scorer *s) {
    kv_cache_free(&s->cache);
    // before model_work_free clears work.on_device, which says where model_logits lives
    if (s->model_logits != s->logits) op_free_on(s->work.on_device, s->model_logits);
    model_work_free(&s->work);
    free(s->logits);
    free(s->seq);
    memset(s, 0, sizeof *s);
}

double loglik_log_softmax_at(const float *logits, int V, int target) {
    double mx = logits[0];
    for (int v = 1; v < V; v++)
        if (logits[v] > mx) mx = logits[v];
    double sum = 0;
    for (int v = 0; v < V; v++) sum += exp((double)logits[v] - mx);
    return (double)logits[target] - mx - log(sum);
}

int loglik_argmax(const float *logits, int V) {
    int best = 0;
    for (int v = 1; v < V; v++)
        if (logits[v] > logits[best]) best = v;
    return best;
}

int loglik_each_row(loglik_scorer *s, const int32_t *tokens, int n, int first, loglik_row_fn fn, void *user,
                    loglik_result *info) {
    const int W = s->window, V = s->model->cfg.vocab_size;
    const int stride = W / 2;
    if (info) info->dropped = info->windows = 0;
    if (first < 1 || first > n)
        return mtp_errorf("scoring tokens %d..%d of a %d-token sequence", first, n, n);
    for (int next = first; next < n;) {
        int e = next + stride > W ? next + stride : W;
        if (e > n) e = n;
        int w = e - W > 0 ? e - W : 0;
        // rows [next-1-w, e-w) of the window predict tokens [next, e+1): the
        // last row (predicting token e) is computed and ignored, since
        // model_forward_cached gives the last `rows` rows of a window
        int rows = e - next + 1;
        s->cache.len = 0;
        if (model_forward_cached(&s->work, &s->cache, tokens + w, e - w, 1, rows, 0, s->model_logits) != 0)
            return -1;
        if (s->model_logits != s->logits)
            op_download(s->logits, s->model_logits, sizeof(float) * (size_t)rows * V);
        if (info) {
            info->windows++;
            if (w > info->dropped) info->dropped = w;
        }
        for (int p = next; p < e; p++) {
            int rc = fn(user, p, s->logits + (size_t)(p - next) * V);
            if (rc) return rc;
        }
        next = e;
    }
    return 0;
}

typedef struct {
    const int32_t *tokens;
    int V;
    loglik_result *r;
} score_state;

static int score_row(void *user, int p, const float *logits) {
    score_state *st = user;
    int32_t target = st->tokens[p];
    st->r->logprob += loglik_log_softmax_at(logits, st->V, target);
    st->r->tokens++;
    if (loglik_argmax(logits, st->V) != target) st->r->greedy = 0;
    return 0;
}

int loglik_score(loglik_scorer *s, const int32_t *ctx, int n_ctx, const int32_t *cont, int n_cont,
                 loglik_result *r) {
    memset(r, 0, sizeof *r);
    if (n_ctx < 1 || n_cont < 1)
        return mtp_errorf("scoring needs a context and a continuation of at least one token (got %d and %d)",
                          n_ctx, n_cont);
    int n = n_ctx + n_cont;
    if (n > s->seq_cap) {
        int32_t *grown = realloc(s->seq, sizeof(int32_t) * (size_t)n);
        if (!grown) return mtp_errorf("out of memory for a %d-token sequence", n);
        s->seq = grown;
        s->seq_cap = n;
    }
    memcpy(s->seq, ctx, sizeof(int32_t) * (size_t)n_ctx);
    memcpy(s->seq + n_ctx, cont, sizeof(int32_t) * (size_t)n_cont);
    score_state st = {s->seq, s->model->cfg.vocab_size, r};
    r->greedy = 1;
    return loglik_each_row(s, s->seq, n, n_ctx, score_row, &st, r);
}
