// test_generate.c: text generation (infer/generate.h) against the decoder it
// wraps. A random byte-level model samples text full of the bytes the stop
// strings are made of; for each case the reference is decode_run's token
// stream with no stop, decoded and cut at the earliest match of any stop
// string by a plain search. Checked: the cut (stops spanning tokens, several
// stops, a stop at the very start), the streamed bytes (their concatenation
// is the text, and nothing past a stop is streamed), blanks skipped before
// the text, prompts fitted to the context (an error, or the newest tokens
// kept), and an empty prompt starting from end-of-text.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libmtp.h"
#include "test_util.h"

enum { V = 257, TMAX = 48 };

static int make_model(mtp_model *m, uint64_t seed) {
    mtp_config c;
    memset(&c, 0, sizeof c);
    config_set_defaults(&c);
    c.vocab_size = V, c.dim = 32, c.n_head = 4, c.n_kv_head = 2, c.ffn_dim = 64;
    c.n_layer = 4, c.n_future = 3, c.max_seq_len = TMAX;
    if (model_create(m, &c) != 0) return -1;
    params_init(&m->params, &c, seed);
    // sharper logits, and only the letters a-d (and end-of-text, rarely) likely
    float *lm = m->params.t[P_LM_HEAD];
    for (int v = 0; v < V; v++)
        for (int i = 0; i < c.dim; i++) lm[(size_t)v * c.dim + i] *= (v >= 'a' && v <= 'd') ? 40.0f : 0.1f;
    return 0;
}

typedef struct {
    int32_t *ids;
    int n, cap;
} collected;

static int collect(int32_t token, void *user) {
    collected *c = user;
    if (c->n < c->cap) c->ids[c->n++] = token;
    return 0;
}

// The text decode_run gives for ids (no stops), as bytes.
static size_t reference(generator *g, const int32_t *ids, int n, int max_new, char *out) {
    int32_t buf[256];
    collected c = {buf, 0, 256};
    decode_stats st;
    mtp_rng_seed(&g->smp.rng, 99);
    if (decode_run(&g->dec, ids, n, max_new, tokenizer_eot(g->tok), &g->smp, collect, &c, &st) != 0) return 0;
    size_t len = 0;
    for (int i = 0; i < c.n; i++) len += (size_t)tokenizer_decode_token(g->tok, buf[i], out + len, 8);
    out[len] = '\0';
    return len;
}

// The earliest position where any stop matches text[0..len), or len.
static size_t earliest_stop(const char *text, size_t len, const char *const *stops) {
    size_t best = len;
    for (int s = 0; stops[s]; s++) {
        const char *hit = strstr(text, stops[s]);
        if (hit && (size_t)(hit - text) < best) best = (size_t)(hit - text);
    }
    return best;
}

typedef struct {
    char text[1024];
    size_t len;
} stream;

static void on_text(const char *bytes, size_t n, void *user) {
    stream *s = user;
    memcpy(s->text + s->len, bytes, n);
    s->len += n;
    s->text[s->len] = '\0';
}

static void test_stops(generator *g) {
    static const char *const sets[][4] = {
        {"b", NULL},  {"ab", NULL},          {"dcb", "ca", NULL}, {"aaaa", "ddd", "bcb", NULL},
        {"zz", NULL}, {"xyz", "acda", NULL}, {"cd", NULL},        {"dac", NULL}};
    int32_t prompt[3] = {'a', 'b', 'c'};
    int cut_somewhere = 0;
    for (size_t k = 0; k < sizeof sets / sizeof *sets; k++)
        for (int max_new = 1; max_new <= 30; max_new += 7) {
            char full[1024];
            size_t len = reference(g, prompt, 3, max_new, full);
            size_t want = earliest_stop(full, len, sets[k]);
            cut_somewhere |= want < len;
            stream s = {"", 0};
            generate_options o = {.max_new = max_new, .stops = sets[k], .on_text = on_text, .user = &s};
            generate_result r = {0};
            mtp_rng_seed(&g->smp.rng, 99);
            CHECK(generate_tokens(g, prompt, 3, &o, &r) == 0, "generate: %s", mtp_last_error());
            CHECK(r.text.len == want && memcmp(r.text.s, full, want) == 0,
                  "stops %zu, max-new %d: '%s', expected the first %zu bytes of '%s'", k, max_new, r.text.s,
                  want, full);
            CHECK(s.len == r.text.len && memcmp(s.text, r.text.s, s.len) == 0, "streamed '%s' != text '%s'",
                  s.text, r.text.s);
            if (want < len)
                CHECK(!strcmp(r.stop_reason, "stop"), "stop reason %s after a stop string", r.stop_reason);
            generate_result_free(&r);
        }
    CHECK(cut_somewhere, "no case was cut by a stop string: the test checks nothing");
}

static void test_leading_blanks(generator *g) {
    // a prompt after which the model writes: compare with the reference without the leading blanks
    int32_t prompt[2] = {'d', 'd'};
    char full[1024];
    size_t len = reference(g, prompt, 2, 20, full);
    const char *start = full;
    while (*start == ' ' || *start == '\n' || *start == '\t' || *start == '\r') start++;
    generate_options o = {.max_new = 20, .skip_leading_blanks = 1};
    generate_result r = {0};
    mtp_rng_seed(&g->smp.rng, 99);
    CHECK(generate_tokens(g, prompt, 2, &o, &r) == 0 && !strcmp(r.text.s, start),
          "leading blanks: '%s' vs '%s'", r.text.s, start);
    (void)len;
    generate_result_free(&r);
}

static void test_prompts(generator *g) {
    int32_t ids[TMAX + 10];
    for (int i = 0; i < TMAX + 10; i++) ids[i] = 'a' + i % 4;
    generate_options o = {.max_new = 4};
    generate_result r = {0}, want = {0};
    CHECK(generate_tokens(g, ids, TMAX, &o, &r) == -1 && strstr(mtp_last_error(), "context"),
          "a prompt filling the context accepted: %s", mtp_last_error());
    o.fit = PROMPT_FIT_KEEP_END;
    o.keep = 10;
    mtp_rng_seed(&g->smp.rng, 5);
    CHECK(generate_tokens(g, ids, TMAX + 10, &o, &r) == 0 && r.prompt_cut == TMAX && r.prompt_tokens == 10,
          "keep 10: cut %d, kept %d", r.prompt_cut, r.prompt_tokens);
    generate_options plain = {.max_new = 4};
    mtp_rng_seed(&g->smp.rng, 5);
    CHECK(generate_tokens(g, ids + TMAX, 10, &plain, &want) == 0 && !strcmp(r.text.s, want.text.s),
          "the kept tokens give '%s', the same prompt alone '%s'", r.text.s, want.text.s);
    // a prompt that begins a document keeps its start (BOS) through the cut: the start, then the
    // newest keep - 1 tokens, as that sequence alone gives
    int32_t start = tokenizer_doc_start(g->tok), alone[10] = {start};
    ids[0] = start;
    memcpy(alone + 1, ids + TMAX + 1, sizeof(int32_t) * 9);
    generate_result_free(&r);
    generate_result_free(&want);
    mtp_rng_seed(&g->smp.rng, 5);
    CHECK(generate_tokens(g, ids, TMAX + 10, &o, &r) == 0 && r.prompt_cut == TMAX && r.prompt_tokens == 10,
          "keep 10 after a document start: cut %d, kept %d", r.prompt_cut, r.prompt_tokens);
    mtp_rng_seed(&g->smp.rng, 5);
    CHECK(generate_tokens(g, alone, 10, &plain, &want) == 0 && !strcmp(r.text.s, want.text.s),
          "a cut prompt after a document start gives '%s', its start and newest tokens '%s'", r.text.s,
          want.text.s);
    ids[0] = 'a';
    // room for max_new: a prompt of context - max_new + 1 tokens still has it (the first new token
    // takes no position), one more token is cut
    o.keep = generate_keep_for_room(TMAX, 4);
    for (int extra = 0; extra <= 1; extra++) {
        generate_result_free(&r);
        int n = TMAX - 4 + 1 + extra;
        CHECK(generate_tokens(g, ids, n, &o, &r) == 0 && r.prompt_cut == extra && r.stats.generated == 4,
              "a prompt of %d tokens, room for 4 in %d: cut %d, generated %ld", n, TMAX, r.prompt_cut,
              r.stats.generated);
    }
    CHECK(generate_keep_for_room(TMAX, 1) == 0 && generate_keep_for_room(TMAX, TMAX + 5) == 0,
          "keep for room 1 or past the context: %d, %d (want 0: context - 1)",
          generate_keep_for_room(TMAX, 1), generate_keep_for_room(TMAX, TMAX + 5));
    // an empty prompt starts from end-of-text
    int32_t eot = tokenizer_eot(g->tok);
    mtp_rng_seed(&g->smp.rng, 5);
    CHECK(generate_text(g, "", 0, &plain, &r) == 0, "empty prompt: %s", mtp_last_error());
    mtp_rng_seed(&g->smp.rng, 5);
    CHECK(generate_tokens(g, &eot, 1, &plain, &want) == 0 && !strcmp(r.text.s, want.text.s),
          "empty prompt '%s' vs end-of-text '%s'", r.text.s, want.text.s);
    generate_result_free(&r);
    generate_result_free(&want);
}

int main(void) {
    mtp_model m;
    tokenizer *tok = tokenizer_bytes();
    if (!tok || make_model(&m, 3) != 0) return 1;
    for (int drafts = 0; drafts <= 2; drafts += 2)
        for (int sampled = 0; sampled <= 1; sampled++) {
            generator g;
            generator_config gc = {drafts, sampled ? 0.8f : 0.0f, 0, 1.0f, 1};
            if (generator_init(&g, &m, tok, &gc) != 0) {
                printf("FAIL setup: %s\n", mtp_last_error());
                return 1;
            }
            test_stops(&g);
            test_leading_blanks(&g);
            test_prompts(&g);
            generator_free(&g);
        }
    generator g;
    generator_config too_many = {3, 0.0f, 0, 1.0f, 1};
    CHECK(generator_init(&g, &m, tok, &too_many) == -1 && strstr(mtp_last_error(), "at most 2"),
          "3 drafting heads of 3 accepted: %s", mtp_last_error());
    model_free(&m);
    tokenizer_free(tok);
    return test_finish("generate");
}
