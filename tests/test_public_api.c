// test_public_api.c: a program that uses libmtp through include/mtp.h only:
#define _DEFAULT_SOURCE
// build a tiny model, train a few steps on a fixed sequence, check the loss
// falls and that a checkpoint round-trips exactly.
#include "libmtp.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond, ...)                                         \
    do {                                                         \
        if (!(cond)) {                                           \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
            fprintf(stderr, __VA_ARGS__);                        \
            fprintf(stderr, " (%s)\n", mtp_last_error());        \
            return 1;                                            \
        }                                                        \
    } while (0)

int main(void) {
    op_set_threads(2);
    mtp_config c;
    memset(&c, 0, sizeof c);
    config_set_defaults(&c);
    c.vocab_size = 17;
    c.dim = 16;
    c.n_head = 2;
    c.n_kv_head = 1;
    c.ffn_dim = config_default_ffn_dim(16);
    c.n_layer = 3;
    c.n_future = 2;
    c.max_seq_len = 8;
    CHECK(config_default_ffn_dim(16) == 64, "ffn rule: %d", config_default_ffn_dim(16));
    CHECK(config_default_ffn_dim(768) == 2048, "ffn rule 768: %d", config_default_ffn_dim(768));
    CHECK(config_default_ffn_dim(4096) == 10944, "ffn rule 4096: %d", config_default_ffn_dim(4096));
    mtp_model m;
    CHECK(model_create(&m, &c) == 0, "model_create");
    params_init(&m.params, &c, 42);
    model_work w;
    CHECK(model_work_alloc(&w, &m, 2, 8, SCHEDULE_SEQUENTIAL, 1) == 0, "alloc");
    adamw_state opt;
    CHECK(adamw_alloc(&opt, &c) == 0, "adamw_alloc");
    optim_config o;
    optim_config_defaults(&o);
    o.lr = 1e-2;
    o.total_steps = 60;
    int32_t rows[2 * 10];
    for (int i = 0; i < 20; i++) rows[i] = (i * 5) % 17;  // a periodic sequence
    const int32_t *micro[1] = {rows};
    step_result first = {0}, r = {0};
    for (long s = 0; s < 60; s++) {
        CHECK(train_step(&m, &w, &opt, &o, s, micro, 1, 2, 8, &r) == 0, "train_step %ld", s);
        if (s == 0) first = r;
    }
    CHECK(r.loss < 0.25 * first.loss, "loss did not fall: %g -> %g", first.loss, r.loss);
    // bad token ids are refused, not read out of bounds
    int32_t bad[20];
    memcpy(bad, rows, sizeof bad);
    bad[3] = 17;
    double heads[2];
    CHECK(model_forward_loss(&w, bad, 2, 8, heads, NULL) != 0, "token 17 >= vocab 17 accepted");
    CHECK(strstr(mtp_last_error(), "17") != NULL, "message names the id: %s", mtp_last_error());
    // checkpoint round trip
    char dir[] = "/tmp/mtp_api_XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    CHECK(checkpoint_save(dir, 60, &m, &(checkpoint_moments){&opt.m, &opt.v}, "{\"step\": 60}", NULL) == 0, "save");
    char ckpt[4096];
    CHECK(checkpoint_resolve(dir, ckpt, sizeof ckpt) == 0, "resolve");
    mtp_config c2;
    CHECK(checkpoint_read_config(ckpt, &c2) == 0, "read config");
    CHECK(c2.n_layer == 3 && c2.n_future == 2 && c2.n_kv_head == 1 && c2.vocab_size == 17, "config fields");
    mtp_model m2;
    CHECK(model_create(&m2, &c2) == 0 && checkpoint_load_params(ckpt, &m2) == 0, "load");
    CHECK(memcmp(m.params.memory, m2.params.memory, m.params.total * sizeof(float)) == 0, "weights differ");
    model_free(&m2);
    model_work_free(&w);
    model_free(&m);
    adamw_free(&opt);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) return 1;
    printf("public api: ok (loss %.3f -> %.3f)\n", first.loss, r.loss);
    return 0;
}
