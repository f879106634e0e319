// test_logit_chunks.c: the output layer computes a head's logits a chunk of
// rows at a time (model_work.logit_chunk: 512 rows, two chunks, for B*T = 1024
// at the GPT-2 vocabulary), so that one head's logits in chunks are all the
// memory they take. The chunk size: the fewest chunks within the budget, of
// equal size. Every
// test vocabulary is small enough for one chunk, so here the chunk is forced
// down to 5 rows of 24 (4 whole chunks and a ragged one): losses, top-1
// counts and every gradient must stay what one chunk gives, in both head
// schedules. Losses and top-1 are per row, so equal; lm_head's gradient sums
// over chunks in another order, so within float rounding.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "libmtp.h"

enum { B = 2, T = 12, SMALL_CHUNK = 5 };

typedef struct {
    double losses[MTP_MAX_FUTURE], eval_losses[MTP_MAX_FUTURE], top1[MTP_MAX_FUTURE];
    param_set grads;
} outcome;

static void run(const mtp_config *c, const mtp_model *m, head_schedule schedule, int chunk,
                const int32_t *rows, outcome *o) {
    model_work w;
    CHECK(model_work_alloc(&w, m, B, T, schedule, 1) == 0, "work: %s", mtp_last_error());
    CHECK(w.logit_chunk == B * T, "one chunk by default for a vocabulary of %d, got %d rows", c->vocab_size,
          w.logit_chunk);
    w.logit_chunk = chunk;  // the logits buffer holds B*T rows: a smaller chunk fits
    model_zero_grads(&w);
    CHECK(model_forward_backward(&w, rows, B, T, 0.5f, o->losses) == 0, "forward_backward: %s",
          mtp_last_error());
    params_alloc(&o->grads, c);
    memcpy(o->grads.memory, w.grads.memory, sizeof(float) * w.grads.total);
    CHECK(model_forward_loss(&w, rows, B, T, o->eval_losses, o->top1) == 0, "forward_loss: %s",
          mtp_last_error());
    model_work_free(&w);
}

static void compare(const mtp_config *c, const outcome *one, const outcome *many, const char *schedule) {
    for (int k = 0; k < c->n_future; k++) {
        CHECK(one->losses[k] == many->losses[k] && one->eval_losses[k] == many->eval_losses[k],
              "%s, head %d: loss %.9g / %.9g in chunks of %d rows, %.9g / %.9g in one", schedule, k + 1,
              many->losses[k], many->eval_losses[k], SMALL_CHUNK, one->losses[k], one->eval_losses[k]);
        CHECK(one->top1[k] == many->top1[k], "%s, head %d: top-1 %g in chunks, %g in one", schedule, k + 1,
              many->top1[k], one->top1[k]);
    }
    for (int i = 0; i < params_tensor_count(c); i++) {
        named_tensor a, b;
        params_named(&one->grads, c, i, &a);
        params_named(&many->grads, c, i, &b);
        size_t n = (size_t)a.shape[0] * (size_t)(a.ndim == 2 ? a.shape[1] : 1);
        double worst = 0.0, scale = 0.0;
        for (size_t j = 0; j < n; j++) scale = fmax(scale, fabs(a.data[j]));
        for (size_t j = 0; j < n; j++) worst = fmax(worst, fabs((double)a.data[j] - b.data[j]));
        CHECK(scale > 0.0 && worst <= 1e-5 * scale,
              "%s, %s: gradient differs by %.3g (largest %.3g) in chunks", schedule, a.name, worst, scale);
    }
}

// model_logit_chunk_rows: within the budget, the fewest chunks, as even as
// they can be (the last holds what is left).
static void test_chunk_rows(void) {
    const int vocabs[] = {256, 50304, 32000, 1 << 26};
    const size_t rows_total[] = {1, 24, 333, 1024, 2048, 4097, 8192};
    for (size_t v = 0; v < sizeof vocabs / sizeof *vocabs; v++)
        for (size_t n = 0; n < sizeof rows_total / sizeof *rows_total; n++) {
            mtp_config c = {0};
            c.vocab_size = vocabs[v];
            const size_t N = rows_total[n], V = (size_t)vocabs[v];
            const size_t most = MODEL_LOGIT_CHUNK_FLOATS / V > 0 ? MODEL_LOGIT_CHUNK_FLOATS / V : 1;
            const size_t rows = (size_t)model_logit_chunk_rows(&c, N);
            const size_t chunks = (N + rows - 1) / rows;
            CHECK(rows >= 1 && rows <= most && rows <= N, "V=%zu N=%zu: %zu rows, budget %zu", V, N, rows,
                  most);
            CHECK(chunks == (N + most - 1) / most, "V=%zu N=%zu: %zu chunks of %zu rows, %zu would do", V, N,
                  chunks, rows, (N + most - 1) / most);
            // as even as can be: one row less a chunk would take another chunk
            CHECK(rows == 1 || (N + rows - 2) / (rows - 1) > chunks, "V=%zu N=%zu: %zu chunks of %zu rows", V,
                  N, chunks, rows);
        }
    mtp_config gpt2 = {0};
    gpt2.vocab_size = 50304;  // 128 MB holds 667 rows: 1024 rows go in two chunks of 512
    CHECK(model_logit_chunk_rows(&gpt2, 1024) == 512, "GPT-2 vocabulary, 1024 rows: chunks of %d",
          model_logit_chunk_rows(&gpt2, 1024));
}

int main(void) {
    test_chunk_rows();
    mtp_config c;
    memset(&c, 0, sizeof c);
    config_set_defaults(&c);
    c.vocab_size = 37, c.dim = 32, c.n_head = 4, c.n_kv_head = 2, c.ffn_dim = 64;
    c.n_layer = 4, c.n_future = 3, c.max_seq_len = 16;
    mtp_model m;
    CHECK(model_create(&m, &c) == 0, "model: %s", mtp_last_error());
    params_init(&m.params, &c, 11);
    int32_t rows[B * (T + MTP_MAX_FUTURE)];
    for (int i = 0; i < B * (T + c.n_future); i++) rows[i] = (int32_t)((i * 11 + 5) % c.vocab_size);
    const head_schedule schedules[2] = {SCHEDULE_SEQUENTIAL, SCHEDULE_NAIVE};
    const char *names[2] = {"sequential", "naive"};
    for (int s = 0; s < 2; s++) {
        outcome one, many;
        run(&c, &m, schedules[s], B * T, rows, &one);
        run(&c, &m, schedules[s], SMALL_CHUNK, rows, &many);
        compare(&c, &one, &many, names[s]);
        params_free(&one.grads);
        params_free(&many.grads);
    }
    model_free(&m);
    return test_finish("logit_chunks");
}
