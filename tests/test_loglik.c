// test_loglik.c: continuation log-likelihoods (eval/loglik.h) against an
// independent computation: for every scored token, a full recompute without
// a KV cache (model_forward_last_logits) over exactly the tokens its window
// holds, then a float64 log-softmax. Covers a sequence that fits, a context
// cut from the left, a continuation longer than the window (rolling windows),
// the greedy flag and the order of loglik_each_row's rows. Then the induction
// task's pieces (eval/induction.h): story splitting, the name heuristic,
// renaming, the two-token rule, and induction_score_story's counts against
// argmaxes recomputed the same way.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/induction.h"
#include "eval/loglik.h"
#include "libmtp.h"
#include "test_util.h"

#define V 23
#define TMAX 48

static mtp_config tiny(void) {
    mtp_config c;
    memset(&c, 0, sizeof c);
    config_set_defaults(&c);
    c.vocab_size = V, c.dim = 32, c.n_head = 4, c.n_kv_head = 2, c.ffn_dim = 64;
    c.n_layer = 4, c.n_future = 2, c.max_seq_len = TMAX;
    return c;
}

// Random weights, the unembedding scaled up so distributions are far from
// uniform and argmaxes are meaningful.
static int make_model(mtp_model *m, const mtp_config *c, float scale) {
    if (model_create(m, c) != 0) return -1;
    params_init(&m->params, c, 7);
    for (size_t i = 0; i < m->params.count[P_LM_HEAD]; i++) m->params.t[P_LM_HEAD][i] *= scale;
    return 0;
}

// The start of the window that scores token p, by the rule in loglik.h,
// written out position by position rather than window by window.
static int window_start(int p, int first, int n, int W) {
    int next = first;
    for (;;) {
        int e = next + W / 2 > W ? next + W / 2 : W;
        if (e > n) e = n;
        if (p < e) return e - W > 0 ? e - W : 0;
        next = e;
    }
}

// Reference: sum of ln p(seq[p] | seq[w(p)..p)) for p in [first, n), and
// whether every target is the argmax.
static double reference(model_work *full, const int32_t *seq, int n, int first, int W, int *greedy) {
    float logits[V];
    double sum = 0;
    *greedy = 1;
    for (int p = first; p < n; p++) {
        int w = window_start(p, first, n, W);
        if (model_forward_last_logits(full, seq + w, p - w, 1, logits) != 0) {
            CHECK(0, "reference forward: %s", mtp_last_error());
            return NAN;
        }
        double mx = logits[0], z = 0;
        int best = 0;
        for (int v = 1; v < V; v++)
            if (logits[v] > logits[best]) best = v;
        mx = logits[best];
        for (int v = 0; v < V; v++) z += exp((double)logits[v] - mx);
        sum += (double)logits[seq[p]] - mx - log(z);
        if (best != seq[p]) *greedy = 0;
    }
    return sum;
}

static void check_case(mtp_model *m, model_work *full, const int32_t *seq, int n_ctx, int n_cont, int window,
                       int want_dropped, int want_windows, const char *name) {
    loglik_scorer s;
    if (loglik_init(&s, m, window) != 0) {
        CHECK(0, "%s: loglik_init: %s", name, mtp_last_error());
        return;
    }
    loglik_result r;
    int rc = loglik_score(&s, seq, n_ctx, seq + n_ctx, n_cont, &r);
    CHECK(rc == 0, "%s: loglik_score: %s", name, mtp_last_error());
    int greedy;
    double want = reference(full, seq, n_ctx + n_cont, n_ctx, s.window, &greedy);
    CHECK(fabs(r.logprob - want) <= 1e-4 * (1 + fabs(want)), "%s: logprob %.8f, reference %.8f", name,
          r.logprob, want);
    CHECK(r.tokens == n_cont, "%s: %d tokens scored, want %d", name, r.tokens, n_cont);
    CHECK(r.greedy == greedy, "%s: greedy %d, reference %d", name, r.greedy, greedy);
    CHECK(r.dropped == want_dropped, "%s: dropped %d, want %d", name, r.dropped, want_dropped);
    CHECK(r.windows == want_windows, "%s: %d windows, want %d", name, r.windows, want_windows);
    printf("%-34s logprob %12.6f  reference %12.6f  windows %d  dropped %d  greedy %d\n", name, r.logprob,
           want, r.windows, r.dropped, r.greedy);
    loglik_free(&s);
}

typedef struct {
    int calls, last_p, in_order;
} row_log;

static int log_row(void *user, int p, const float *logits) {
    row_log *l = user;
    (void)logits;
    if (p != l->last_p + 1) l->in_order = 0;
    l->last_p = p;
    l->calls++;
    return 0;
}

static int stop_at_three(void *user, int p, const float *logits) {
    (void)logits;
    (void)p;
    return ++*(int *)user == 3 ? 42 : 0;
}

// ---- induction --------------------------------------------------------------

static void test_induction_text(void) {
    const char *all = "a<|e|>  b \n<|e|>\n<|e|>cut off";
    induction_range *st;
    int n;
    CHECK(induction_split(all, strlen(all), "<|e|>", &st, &n) == 0 && n == 2, "split: %d stories", n);
    if (n == 2)
        CHECK(st[0].len == 1 && all[st[0].start] == 'a' && st[1].len == 1 && all[st[1].start] == 'b',
              "split: stories not trimmed");
    free(st);

    // Lily: 3 mentions (one after "named"); Tom: 2 (one after "liked"); Mom:
    // stop list; Max: 2 ("dog Max"); Once, Sue: sentence starts or once only
    const char *story =
        "Once there was a girl named Lily. Lily liked Tom. \"Tom, come!\" said Mom. Mom and "
        "Lily\xe2\x80\x99s dog Max ran. Max is here. Sue came. Zo\xc3\xab and Zo\xc3\xab.";
    induction_names names = {0}, to = {0};
    CHECK(induction_find_names(story, strlen(story), &names) == 0, "find_names: %s", mtp_last_error());
    CHECK(names.count == 3 && !strcmp(names.names[0], "Lily") && !strcmp(names.names[1], "Tom") &&
              !strcmp(names.names[2], "Max"),
          "names: %d found (%s ...)", names.count, names.count ? names.names[0] : "");
    induction_names_add(&to, "Bo");
    induction_names_add(&to, "Kez");
    induction_names_add(&to, "Ul");
    char *text;
    size_t len;
    induction_occurrence *occ;
    int n_occ;
    CHECK(induction_rename(story, strlen(story), &names, &to, &text, &len, &occ, &n_occ) == 0, "rename");
    const char *want =
        "Once there was a girl named Bo. Bo liked Kez. \"Kez, come!\" said Mom. Mom and "
        "Bo\xe2\x80\x99s dog Ul ran. Ul is here. Sue came. Zo\xc3\xab and Zo\xc3\xab.";
    CHECK(!strcmp(text, want) && len == strlen(want), "renamed: %s", text);
    CHECK(n_occ == 7, "%d mentions, want 7", n_occ);
    for (int k = 0; k < n_occ; k++)
        CHECK(occ[k].end - occ[k].start == strlen(to.names[occ[k].name]) &&
                  !memcmp(text + occ[k].start, to.names[occ[k].name], occ[k].end - occ[k].start) &&
                  (k == 0 || occ[k].start > occ[k - 1].start),
              "mention %d does not spell its name", k);
    free(text);
    free(occ);
    induction_names_free(&names);
    induction_names_free(&to);

    // tokens ending at 2, 5, 7, 8, 12: " Bo" = [0,2)+[2,5)? bytes [1,5) are two
    // tokens ending at 5; [5,8) is two tokens; [2,8) three; [3,5) one
    size_t ends[] = {2, 5, 7, 8, 12};
    int32_t ids[5] = {0};
    induction_tokens t = {ids, ends, 5, 5};
    CHECK(induction_two_tokens(&t, 1, 5) == 0, "two tokens [1,5)");
    CHECK(induction_two_tokens(&t, 5, 8) == 2, "two tokens [5,8)");
    CHECK(induction_two_tokens(&t, 2, 8) == -1, "three tokens taken for two");
    CHECK(induction_two_tokens(&t, 3, 5) == -1, "one token taken for two");
    CHECK(induction_two_tokens(&t, 8, 11) == -1, "a name ending inside a token taken for two");
}

// Reference: head 1's argmax predicting seq[p], from the window loglik.h gives
// position p when a sequence of n tokens is scored from position 1.
static int ref_argmax(model_work *full, const int32_t *seq, int p, int n, int W) {
    float logits[V];
    int w = window_start(p, 1, n, W);
    model_forward_last_logits(full, seq + w, p - w, 1, logits);
    return loglik_argmax(logits, V);
}

static void test_induction_score(mtp_model *m, model_work *full, int window) {
    // a greedy text of the model (so many argmaxes hit), then a few tokens changed
    enum { N = 44 };
    int32_t seq[N + 1];
    float logits[V];
    seq[0] = V - 1;  // the end-of-text token
    for (int t = 1; t <= N; t++) {
        model_forward_last_logits(full, seq, t, 1, logits);
        seq[t] = loglik_argmax(logits, V);
        if (t % 7 == 3 || t == 32) seq[t] = (seq[t] + 5) % (V - 1);  // 32: a second token of name 0
    }
    // one byte per token: token i of the story is seq[i + 1], bytes [i, i+1)
    size_t ends[N];
    for (int i = 0; i < N; i++) ends[i] = (size_t)i + 1;
    induction_tokens toks = {seq + 1, ends, N, N};
    // name 0 at tokens 3, 10, 30, 40 (and a 3-token mention at 20); name 1 once
    induction_occurrence occ[] = {{0, 40, 42}, {0, 3, 5}, {1, 7, 9}, {0, 10, 12}, {0, 20, 23}, {0, 30, 32}};
    induction_counts c;
    memset(&c, 0, sizeof c);
    loglik_scorer s;
    loglik_init(&s, m, window);
    CHECK(induction_score_story(&s, V - 1, &toks, occ, 6, 2, &c) == 0, "score_story: %s", mtp_last_error());
    long want_first = 0, want_second = 0;
    int last = 42;  // the scorer runs positions up to the last second token (seq index 40 + 2)
    int starts[] = {10, 30, 40};
    for (int k = 0; k < 3; k++) {
        int i = starts[k] + 1;  // seq index of the name's first token
        want_first += ref_argmax(full, seq, i, last + 1, s.window) == seq[i];
        want_second += ref_argmax(full, seq, i + 1, last + 1, s.window) == seq[i + 1];
    }
    CHECK(c.stories == 1 && c.first_mentions == 2 && c.occurrences == 3 && c.not_two_tokens == 1,
          "window %d: counts %ld stories, %ld first mentions, %ld scored, %ld skipped", s.window, c.stories,
          c.first_mentions, c.occurrences, c.not_two_tokens);
    CHECK(c.correct == want_second && c.first_correct == want_first,
          "window %d: second-token hits %ld (reference %ld), first-token hits %ld (reference %ld)", s.window,
          c.correct, want_second, c.first_correct, want_first);
    CHECK(c.truncated == (s.window < last + 1), "window %d: truncated %ld", s.window, c.truncated);
    printf("induction, window %-3d second-token hits %ld/3, first-token hits %ld/3\n", s.window, c.correct,
           c.first_correct);
    occ[0].end = 99;  // past the story
    CHECK(induction_score_story(&s, V - 1, &toks, occ, 6, 2, &c) == -1, "a mention past the story accepted");
    loglik_free(&s);
}

int main(void) {
    mtp_config c = tiny();
    mtp_model m;
    model_work full;  // the reference's own work state over the same weights
    memset(&m, 0, sizeof m);
    memset(&full, 0, sizeof full);
    if (make_model(&m, &c, 30.0f) || model_work_alloc(&full, &m, 1, TMAX, SCHEDULE_SEQUENTIAL, 0)) {
        printf("FAIL setup: %s\n", mtp_last_error());
        return 1;
    }
    int32_t seq[120];
    mtp_rng rng;
    mtp_rng_seed(&rng, 3);
    for (int i = 0; i < 120; i++) seq[i] = (int32_t)mtp_rng_below(&rng, V);

    // one window, whole prefix seen
    check_case(&m, &full, seq, 5, 7, 0, 0, 1, "fits");
    check_case(&m, &full, seq, 1, 1, 0, 0, 1, "one token after one");
    check_case(&m, &full, seq, 30, 18, 0, 0, 1, "fills the context exactly");
    // window 16: ctx 20 + cont 5 = 25 tokens; one window [9, 25)
    check_case(&m, &full, seq, 20, 5, 16, 9, 1, "context cut from the left");
    // window 16, continuation 30 > 15: rolling windows [0,16) [8,24) [16,32) [17,33)
    check_case(&m, &full, seq, 3, 30, 16, 17, 4, "rolling windows");
    // the model's context, a continuation longer than it
    check_case(&m, &full, seq, 10, 100, 0, 62, 4, "longer than the model's context");

    // a model that predicts a periodic sequence perfectly gives greedy = 1:
    // take the model's own greedy continuation as the text
    {
        loglik_scorer s;
        loglik_init(&s, &m, 0);
        int32_t g[20] = {1, 2};
        float logits[V];
        for (int t = 2; t < 20; t++) {
            model_forward_last_logits(&full, g, t, 1, logits);
            g[t] = loglik_argmax(logits, V);
        }
        loglik_result r;
        loglik_score(&s, g, 2, g + 2, 18, &r);
        CHECK(r.greedy == 1, "the model's own greedy text is not greedy to the scorer");
        CHECK(r.logprob <= 0 && r.logprob > -18 * log(V), "greedy text logprob %.4f", r.logprob);
        loglik_free(&s);
    }

    // loglik_each_row visits [first, n) once each, in order, and stops on request
    {
        loglik_scorer s;
        loglik_init(&s, &m, 10);
        row_log l = {0, 3, 1};
        loglik_result info;
        CHECK(loglik_each_row(&s, seq, 37, 4, log_row, &l, &info) == 0, "each_row: %s", mtp_last_error());
        CHECK(l.calls == 33 && l.in_order && l.last_p == 36,
              "each_row visited %d rows (in order %d, last %d)", l.calls, l.in_order, l.last_p);
        int count = 0;
        CHECK(loglik_each_row(&s, seq, 37, 1, stop_at_three, &count, NULL) == 42 && count == 3,
              "each_row did not stop when asked (rc, count %d)", count);
        CHECK(loglik_each_row(&s, seq, 37, 0, log_row, &l, NULL) == -1, "first = 0 accepted");
        loglik_result r;
        CHECK(loglik_score(&s, seq, 0, seq, 3, &r) == -1, "empty context accepted");
        int32_t bad[3] = {1, V, 2};
        CHECK(loglik_score(&s, bad, 1, bad + 1, 2, &r) == -1, "out-of-vocabulary token accepted");
        loglik_free(&s);
    }
    test_induction_text();
    test_induction_score(&m, &full, 0);
    test_induction_score(&m, &full, 16);
    model_free(&m);
    model_work_free(&full);
    if (failures) {
        printf("%d failures\n", failures);
        return 1;
    }
    printf("test_loglik: all checks passed\n");
    return 0;
}
