// choice_eval.c: see choice_eval.h.
#include "tasks/choice_eval.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/timer.h"

typedef struct {
    int32_t *ids;
    size_t n, cap;
} id_buf;

// A context: buf = [document start] + encode(text). A continuation (!context)
// goes on the context's document: no SentencePiece dummy-prefix space before
// it, so " mat" gives the pieces running text has ("▁m" "at", not "▁"
// "▁m" "at").
static int encode(const tokenizer *tok, const char *text, int context, id_buf *buf) {
    buf->n = 0;
    if (context) {
        if (tokenizer_reserve(&buf->ids, 0, &buf->cap, 1)) return -1;
        buf->ids[buf->n++] = tokenizer_doc_start(tok);
        return tokenizer_encode(tok, text, strlen(text), &buf->ids, &buf->n, &buf->cap);
    }
    return tokenizer_encode_continued(tok, text, strlen(text), &buf->ids, &buf->n, &buf->cap);
}

static int score_item(loglik_scorer *s, const tokenizer *tok, const choice_item *it, id_buf *ctx,
                      id_buf *cont, double *sum, double *norm, choice_result *r) {
    int truncated = 0;
    for (int i = 0; i < it->n_options; i++) {
        const choice_option *o = &it->options[i];
        if (encode(tok, o->context, 1, ctx) || encode(tok, o->continuation, 0, cont)) return -1;
        loglik_result lr;
        if (loglik_score(s, ctx->ids, (int)ctx->n, cont->ids, (int)cont->n, &lr))
            return mtp_error_context("item at line %ld, choice %d", it->line, i);
        sum[i] = lr.logprob;
        norm[i] = lr.logprob / (double)o->choice_bytes;
        truncated |= lr.dropped > 0;
        r->tokens += lr.tokens;
    }
    r->items++;
    r->options += it->n_options;
    r->truncated += truncated;
    r->correct += choice_best(sum, it->n_options) == it->gold;
    r->correct_norm += choice_best(norm, it->n_options) == it->gold;
    return 0;
}

int choice_evaluate(loglik_scorer *s, const tokenizer *tok, const choice_set *set,
                    const progress_sink *progress, choice_result *r) {
    int max_options = 0, rc = 0;
    for (int i = 0; i < set->n_items; i++)
        if (set->items[i].n_options > max_options) max_options = set->items[i].n_options;
    double *scores = mtp_malloc(sizeof(double) * 2 * (size_t)max_options, "choice scores");
    id_buf ctx = {0}, cont = {0};
    if (!scores) return -1;
    double t0 = mtp_now();
    memset(r, 0, sizeof *r);
    for (int i = 0; i < set->n_items && rc == 0; i++) {
        rc = score_item(s, tok, &set->items[i], &ctx, &cont, scores, scores + max_options, r);
        progress_tell(progress, (uint64_t)i + 1, (uint64_t)set->n_items);
    }
    r->seconds = mtp_now() - t0;
    free(scores);
    free(ctx.ids);
    free(cont.ids);
    return rc;
}
