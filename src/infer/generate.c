// generate.c: see generate.h.
#include "infer/generate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

// Drafting heads a verification forward (K+1 rows) leaves room for in the context.
static int context_drafts(const mtp_config *mc) {
    return mc->max_seq_len - 1;
}

int generator_check(const mtp_config *mc, const generator_config *cfg) {
    if (cfg->drafts < DECODE_ALL)
        return mtp_errorf("--speculative %d: give a number of drafting heads >= 0, auto or all", cfg->drafts);
    if (!(cfg->temperature >= 0.0f) || !isfinite(cfg->temperature))
        return mtp_errorf("--temperature %g: give a finite number >= 0 (0 = greedy)",
                          (double)cfg->temperature);
    if (!(cfg->top_p >= 0.0f && cfg->top_p <= 1.0f))
        return mtp_errorf("--top-p %g: give a number in [0, 1]", (double)cfg->top_p);
    if (cfg->top_k < 0) return mtp_errorf("--top-k %d: give a number >= 0 (0 = all tokens)", cfg->top_k);
    if (cfg->drafts > mc->n_future - 1 && mc->n_future == 1)
        return mtp_errorf("--speculative %d: the model has 1 head, so no drafting heads: use 0", cfg->drafts);
    if (cfg->drafts > mc->n_future - 1)
        return mtp_errorf("--speculative %d: the model has %d heads, so at most %d drafting head%s",
                          cfg->drafts, mc->n_future, mc->n_future - 1, mc->n_future == 2 ? "" : "s");
    if (cfg->drafts > context_drafts(mc))
        return mtp_errorf("--speculative %d: the model's context is %d tokens, so at most %d drafting head%s",
                          cfg->drafts, mc->max_seq_len, context_drafts(mc),
                          context_drafts(mc) == 1 ? "" : "s");
    return 0;
}

int generator_init(generator *g, const mtp_model *m, const tokenizer *tok, const generator_config *cfg) {
    memset(g, 0, sizeof *g);
    g->tok = tok;
    // all: every extra head the context leaves room for (auto clamps the same way in decoder_init)
    int all = m->cfg.n_future - 1 < context_drafts(&m->cfg) ? m->cfg.n_future - 1 : context_drafts(&m->cfg);
    int drafts = cfg->drafts == DECODE_ALL ? all : cfg->drafts < 0 ? DECODE_AUTO : cfg->drafts;
    if (generator_check(&m->cfg, cfg) != 0) return -1;
    if (tokenizer_vocab_size(tok) > m->cfg.vocab_size)
        return mtp_errorf("the tokenizer has %d tokens but the model only %d", tokenizer_vocab_size(tok),
                          m->cfg.vocab_size);
    int rc =
        decoder_init(&g->dec, m, drafts) ||
        sampler_init(&g->smp, tokenizer_vocab_size(tok), cfg->temperature, cfg->top_k, cfg->top_p, cfg->seed);
    if (rc) generator_free(g);
    return rc ? -1 : 0;
}

void generator_free(generator *g) {
    sampler_free(&g->smp);
    decoder_free(&g->dec);
    memset(g, 0, sizeof *g);
}

void generate_result_free(generate_result *r) {
    strbuf_free(&r->text);
    memset(r, 0, sizeof *r);
}

static int is_blank(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

typedef struct {
    const tokenizer *tok;
    const generate_options *o;
    generate_result *r;
    size_t hold;      // bytes at the end that may still begin a stop string: longest stop - 1
    size_t streamed;  // bytes handed to on_text
    int started;      // a non-blank byte has been kept (skip_leading_blanks)
    int failed;       // out of memory or an undecodable token
} collector;

// The first position >= from where a stop string matches text[0..len), or len.
static size_t first_stop(const char *const *stops, const char *text, size_t len, size_t from) {
    size_t best = len;
    for (int s = 0; stops && stops[s]; s++) {
        size_t sl = strlen(stops[s]);
        for (size_t i = from; sl && i + sl <= len && i < best; i++)
            if (memcmp(text + i, stops[s], sl) == 0) best = i;
    }
    return best;
}

// Appends a token's bytes, cuts the text at a stop string (which may span
// tokens: only where a match can end in the new bytes is searched), and
// streams what can no longer be part of a match. Nonzero ends generation.
static int on_token(int32_t token, void *user) {
    collector *c = user;
    generate_result *r = c->r;
    char piece[TOKENIZER_MAX_TOKEN_BYTES];
    int n = tokenizer_decode_token(c->tok, token, piece, sizeof piece);
    if (n < 0) {
        c->failed = 1;
        return 1;
    }
    const char *p = piece;
    if (c->o->skip_leading_blanks && !c->started)
        while (n > 0 && is_blank(*p)) p++, n--;
    if (n == 0) return 0;
    c->started = 1;
    strbuf *t = &r->text;
    size_t before = t->len;
    if (strbuf_add(t, p, (size_t)n) != 0) {
        c->failed = 1;
        return 1;
    }
    size_t from = before > c->hold ? before - c->hold : 0;
    size_t hit = first_stop(c->o->stops, t->s, t->len, from);
    int stopped = hit < t->len;
    if (stopped) {
        t->len = hit;
        t->s[hit] = '\0';
    }
    size_t safe = stopped ? t->len : t->len > c->hold ? t->len - c->hold : 0;
    if (c->o->on_text && safe > c->streamed) {
        c->o->on_text(t->s + c->streamed, safe - c->streamed, c->o->user);
        c->streamed = safe;
    }
    return stopped;
}

int generate_tokens(generator *g, const int32_t *ids, int n, const generate_options *o, generate_result *r) {
    const int context = g->dec.model->cfg.max_seq_len;
    int32_t eot = tokenizer_eot(g->tok), start = tokenizer_doc_start(g->tok);
    r->text.len = 0;
    if (strbuf_add(&r->text, "", 0) != 0) return -1;  // a text even when nothing is generated
    r->prompt_cut = r->kept_start = 0;
    if (n == 0) {  // an empty prompt starts a document: after BOS, or after end-of-text
        ids = &start;
        n = 1;
    }
    if (o->fit == PROMPT_FIT_ERROR && n >= context)
        return mtp_errorf(
            "the prompt is %d tokens, the model's context %d: shorten it to leave room to generate", n,
            context);
    int keep = o->keep > 0 && o->keep < context ? o->keep : context - 1;
    int32_t *kept = NULL;
    if (n > keep) {
        // a document's start (the BOS a SentencePiece prompt begins with) stays first: the model saw
        // every training document after it; the cut takes the tokens after it
        const int lead = ids[0] == start && keep > 1;
        r->kept_start = lead;
        if (lead) {
            if (!(kept = mtp_malloc(sizeof(int32_t) * (size_t)keep, "prompt"))) return -1;
            kept[0] = start;
            memcpy(kept + 1, ids + n - (keep - 1), sizeof(int32_t) * (size_t)(keep - 1));
            ids = kept;
        } else {
            ids += n - keep;
        }
        r->prompt_cut = n - keep;
        n = keep;
    }
    r->prompt_tokens = n;
    collector c = {g->tok, o, r, 0, 0, 0, 0};
    for (int s = 0; o->stops && o->stops[s]; s++) {
        size_t sl = strlen(o->stops[s]);
        if (sl > c.hold + 1) c.hold = sl - 1;
    }
    int rc = decode_run(&g->dec, ids, n, o->max_new, eot, &g->smp, on_token, &c, &r->stats);
    free(kept);
    if (rc == 0 && c.failed) rc = -1;
    if (rc != 0) return -1;
    r->stop_reason = r->stats.stop_reason;
    if (o->on_text && r->text.len > c.streamed)
        o->on_text(r->text.s + c.streamed, r->text.len - c.streamed, o->user);
    return 0;
}

int generate_text(generator *g, const char *prompt, size_t len, const generate_options *o,
                  generate_result *r) {
    int32_t *ids = NULL;
    size_t n = 0, cap = 0;
    if (tokenizer_encode_prompt(g->tok, prompt, len, &ids, &n, &cap) != 0) return -1;
    if (n > (size_t)1 << 30) {
        free(ids);
        return mtp_errorf("the prompt is %zu tokens: too long", n);
    }
    int rc = generate_tokens(g, ids, (int)n, o, r);
    free(ids);
    return rc;
}
