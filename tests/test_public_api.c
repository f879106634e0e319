// test_public_api.c: the library as a user sees it. This file is compiled
// with include/ on the include path and nothing of src/, so it can only use
// what mtp.h declares: prepare a data directory, train a small n = 3 model,
// load it, tokenize, score, and generate with two generators sharing the
// model (speculative greedy output equal to plain greedy output), plus the
// errors a user hits first.
#define _POSIX_C_SOURCE 200809L
#include <limits.h>
#include <math.h>
#include <mtp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

typedef struct {
    long steps;
    double first, last;
} losses;

static void on_step(void *user, long step, double loss) {
    losses *l = user;
    if (step == 1) l->first = loss;
    l->last = loss;
    l->steps++;
}

int main(void) {
    char dir[] = "/tmp/mtp_api_XXXXXX", path[512], data[600], run[600];
    if (!mkdtemp(dir)) return 1;
    mtp_set_threads(2);
    CHECK(strcmp(mtp_version(), MTP_VERSION) == 0, "version %s", mtp_version());

    // a periodic text: a small model learns it within a few dozen steps
    snprintf(path, sizeof path, "%s/text.txt", dir);
    FILE *f = fopen(path, "w");
    for (int i = 0; i < 400 && f; i++) fprintf(f, "abcabd abcabd %d\n", i % 4);
    if (f) fclose(f);
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(run, sizeof run, "%s/run", dir);
    const char *inputs[1] = {path};
    mtp_prepare_options po;
    mtp_prepare_options_default(&po);
    po.inputs = inputs, po.num_inputs = 1, po.out_dir = data, po.val_fraction = 0.1;
    CHECK(mtp_prepare(&po) == 0, "prepare: %s", mtp_last_error());
    // an empty separator would match everywhere (it never returned)
    char sep_out[640];
    snprintf(sep_out, sizeof sep_out, "%s/sep", dir);
    po.out_dir = sep_out, po.doc_separator = "";
    CHECK(mtp_prepare(&po) == -1 && strstr(mtp_last_error(), "non-empty"), "empty separator: %s",
          mtp_last_error());
    po.out_dir = data, po.doc_separator = NULL;
    // the documented range, [0, 0.9], as the command's
    po.out_dir = sep_out, po.val_fraction = 0.9999;
    CHECK(mtp_prepare(&po) == -1 && strstr(mtp_last_error(), "[0, 0.9]"), "val_fraction 0.9999: %s",
          mtp_last_error());
    po.out_dir = data, po.val_fraction = 0.1;
    CHECK(mtp_load(NULL) == NULL && strstr(mtp_last_error(), "no path"), "mtp_load(NULL): %s",
          mtp_last_error());

    mtp_train_options to;
    mtp_train_options_default(&to);
    losses l = {0};
    to.data_dir = data, to.out_dir = run, to.seq_len = 32, to.batch = 4, to.steps = 60, to.lr = 1e-2;
    to.model.n_layer = 4, to.model.n_future = 3, to.model.dim = 32, to.model.n_head = 4;
    to.eval_every = 0, to.on_step = on_step, to.user = &l;
    // options out of range or missing are refused, not trained on (or crashed on)
    mtp_train_options bad = to;
    bad.grad_accum = 0;
    CHECK(mtp_train(&bad) == -1 && strstr(mtp_last_error(), "--grad-accum 0"), "grad_accum 0: %s",
          mtp_last_error());
    bad = to, bad.lr = -1;
    CHECK(mtp_train(&bad) == -1 && strstr(mtp_last_error(), "--lr -1"), "lr -1: %s", mtp_last_error());
    bad = to, bad.out_dir = NULL;
    CHECK(mtp_train(&bad) == -1 && strstr(mtp_last_error(), "out_dir"), "no out_dir: %s", mtp_last_error());
    bad = to, bad.model.n_future = 100;
    CHECK(mtp_train(&bad) == -1, "100 heads of 4 blocks trained");
    CHECK(mtp_train(&to) == 0, "train: %s", mtp_last_error());
    CHECK(l.steps == 60 && l.last < 0.5 * l.first, "training: %ld steps, loss %.3f -> %.3f", l.steps, l.first,
          l.last);

    mtp_checkpoint *m = mtp_load(run);
    CHECK(m != NULL, "load: %s", mtp_last_error());
    if (!m) return 1;
    const mtp_config *c = mtp_model_config(m);
    CHECK(c->n_layer == 4 && c->n_future == 3 && c->dim == 32 && c->vocab_size == 257, "config");
    CHECK(strstr(mtp_model_dir(m), "step_00000060") != NULL, "dir %s", mtp_model_dir(m));

    const char *text = "abcabd abcabd 1\nabcabd abcabd 2\n";
    int32_t *ids = NULL;
    size_t n = 0, len = 0;
    CHECK(mtp_encode(m, text, strlen(text), &ids, &n) == 0 && n == strlen(text), "encode: %zu ids", n);
    char *back = mtp_decode(m, ids, n, &len);
    CHECK(back && len == strlen(text) && memcmp(back, text, len) == 0, "decode round trip");
    free(back);
    double head[MTP_MAX_FUTURE];
    CHECK(mtp_loss(m, ids, n, head) == 0, "loss: %s", mtp_last_error());
    for (int k = 0; k < c->n_future; k++)
        CHECK(isfinite(head[k]) && head[k] >= 0 && head[k] < log(257.0), "head %d loss %g", k + 1, head[k]);
    CHECK(mtp_loss(m, ids, 3, head) == -1 && strstr(mtp_last_error(), "needs 4"), "3 tokens for 3 heads: %s",
          mtp_last_error());
    free(ids);

    // generators share the loaded model; greedy speculative == greedy plain, with
    // every head drafting (deterministic counts) and with auto (K chosen from timing)
    mtp_generate_options go;
    mtp_generate_options_default(&go);
    go.max_new = 40, go.speculative = 0;
    mtp_generator *plain = mtp_generator_new(m, &go);
    go.speculative = MTP_SPECULATIVE_ALL;
    mtp_generator *spec = mtp_generator_new(m, &go);
    go.speculative = MTP_SPECULATIVE_AUTO;
    mtp_generator *autok = mtp_generator_new(m, &go);
    CHECK(plain && spec && autok, "generators: %s", mtp_last_error());
    mtp_generation a = {0}, b = {0}, t = {0};
    CHECK(plain && mtp_generate(plain, "abcab", 5, &a) == 0, "plain: %s", mtp_last_error());
    CHECK(spec && mtp_generate(spec, "abcab", 5, &b) == 0, "speculative: %s", mtp_last_error());
    CHECK(autok && mtp_generate(autok, "abcab", 5, &t) == 0, "auto: %s", mtp_last_error());
    CHECK(a.text && b.text && a.len == b.len && memcmp(a.text, b.text, a.len) == 0,
          "speculative text '%s' differs from plain '%s'", b.text ? b.text : "", a.text ? a.text : "");
    CHECK(a.text && t.text && a.len == t.len && memcmp(a.text, t.text, a.len) == 0,
          "auto text '%s' differs from plain '%s'", t.text ? t.text : "", a.text ? a.text : "");
    CHECK(a.tokens == b.tokens && a.tokens > 0 && b.forwards < a.forwards,
          "tokens %ld, forwards plain %ld speculative %ld", a.tokens, a.forwards, b.forwards);
    CHECK(b.accept[0] > 0.5, "head 2 accepted %.2f of its drafts on learned text", b.accept[0]);
    char *stop_text = strdup("d");  // freed before use: the generator keeps its own copy
    go.stop = stop_text;
    mtp_generator *stop = mtp_generator_new(m, &go);
    free(stop_text);
    go.stop = NULL;
    mtp_generation s = {0};
    CHECK(stop && mtp_generate(stop, "abcab", 5, &s) == 0 && !strchr(s.text, 'd') &&
              !strcmp(s.stop_reason, "stop"),
          "stop string: '%s' (%s)", s.text ? s.text : "", s.stop_reason ? s.stop_reason : "");
    size_t plain_len = a.len;
    char *plain_text = a.text;  // kept for the device below
    free(b.text), free(t.text), free(s.text);
    mtp_generator_free(plain), mtp_generator_free(spec), mtp_generator_free(autok), mtp_generator_free(stop);

    // NULL arguments: an error naming the argument, not a crash
    mtp_generation nul = {0};
    int32_t *nids = NULL;
    size_t nn = 0;
    double nh[MTP_MAX_FUTURE];
    CHECK(mtp_generator_new(NULL, &go) == NULL && strstr(mtp_last_error(), "model is NULL"), "new(NULL): %s",
          mtp_last_error());
    CHECK(mtp_generator_new(m, NULL) == NULL && strstr(mtp_last_error(), "options is NULL"),
          "new(m, NULL): %s", mtp_last_error());
    CHECK(mtp_generate(NULL, "ab", 2, &nul) == -1 && strstr(mtp_last_error(), "generator is NULL"),
          "generate(NULL): %s", mtp_last_error());
    go.speculative = 0;
    mtp_generator *ng = mtp_generator_new(m, &go);
    CHECK(ng && mtp_generate(ng, NULL, 5, &nul) == -1 && strstr(mtp_last_error(), "prompt is NULL"),
          "generate(g, NULL, 5): %s", mtp_last_error());
    CHECK(ng && mtp_generate(ng, "ab", 2, NULL) == -1 && strstr(mtp_last_error(), "out is NULL"),
          "generate(g, ..., NULL): %s", mtp_last_error());
    CHECK(ng && mtp_generate(ng, NULL, 0, &nul) == 0 && nul.text, "generate(g, NULL, 0): %s",
          mtp_last_error());
    free(nul.text);
    mtp_generator_free(ng);
    CHECK(mtp_encode(NULL, "ab", 2, &nids, &nn) == -1 && strstr(mtp_last_error(), "model is NULL"),
          "encode(NULL): %s", mtp_last_error());
    CHECK(mtp_encode(m, "ab", 2, NULL, &nn) == -1 && mtp_encode(m, NULL, 2, &nids, &nn) == -1 &&
              strstr(mtp_last_error(), "text is NULL"),
          "encode(m, NULL, 2): %s", mtp_last_error());
    CHECK(mtp_decode(NULL, nids, 0, NULL) == NULL && mtp_decode(m, NULL, 3, NULL) == NULL &&
              strstr(mtp_last_error(), "ids is NULL"),
          "decode(m, NULL, 3): %s", mtp_last_error());
    CHECK(mtp_loss(m, NULL, 9, nh) == -1 && mtp_loss(m, nids, 9, NULL) == -1 &&
              mtp_model_config(NULL) == NULL && mtp_model_dir(NULL) == NULL && mtp_train(NULL) == -1 &&
              mtp_set_device(NULL) == -1 && strstr(mtp_last_error(), "name is NULL"),
          "NULL model, tokens, losses, options or device name: %s", mtp_last_error());

    // max_new as large as an int goes: generation runs until the context fills (the cache's size
    // was an int overflow)
    go.speculative = 0, go.max_new = INT_MAX;
    mtp_generator *huge = mtp_generator_new(m, &go);
    mtp_generation hg = {0};
    CHECK(huge && mtp_generate(huge, "ab", 2, &hg) == 0 && !strcmp(hg.stop_reason, "context"),
          "max_new INT_MAX: %s (%s)", mtp_last_error(), hg.stop_reason ? hg.stop_reason : "-");
    free(hg.text);
    mtp_generator_free(huge);
    go.max_new = 40;
    mtp_prepare_options pn;
    mtp_prepare_options_default(&pn);
    mtp_prepare_options_default(NULL);
    mtp_generate_options_default(NULL);
    mtp_train_options_default(NULL);
    const char *no_input[1] = {NULL};
    pn.out_dir = "never";
    pn.num_inputs = 1;
    CHECK(mtp_prepare(&pn) == -1 && strstr(mtp_last_error(), "inputs is NULL"), "prepare, inputs NULL: %s",
          mtp_last_error());
    pn.inputs = no_input;
    CHECK(mtp_prepare(&pn) == -1 && strstr(mtp_last_error(), "inputs[0] is NULL"),
          "prepare, inputs[0] NULL: %s", mtp_last_error());

    go.speculative = 3;
    CHECK(mtp_generator_new(m, &go) == NULL && strstr(mtp_last_error(), "at most 2"), "4 heads of 3: %s",
          mtp_last_error());
    go.speculative = 0, go.temperature = NAN;
    CHECK(mtp_generator_new(m, &go) == NULL && strstr(mtp_last_error(), "--temperature"),
          "NaN temperature: %s", mtp_last_error());
    go.temperature = 0, go.top_p = 1.5f;
    CHECK(mtp_generator_new(m, &go) == NULL && strstr(mtp_last_error(), "--top-p"), "top_p 1.5: %s",
          mtp_last_error());
    go.top_p = 1, go.speculative = -7;
    CHECK(mtp_generator_new(m, &go) == NULL && strstr(mtp_last_error(), "--speculative -7"),
          "speculative -7: %s", mtp_last_error());

    // a device: on cpu-check (the CPU's kernels behind the device interface) the same losses and text
    ids = NULL;
    CHECK(mtp_encode(m, text, strlen(text), &ids, &n) == 0 && mtp_loss(m, ids, n, head) == 0, "loss: %s",
          mtp_last_error());
    CHECK(mtp_set_device("gpu") == -1 && strstr(mtp_last_error(), "'gpu'"), "unknown device: %s",
          mtp_last_error());
    CHECK(mtp_set_device("cpu-check") == 0, "cpu-check: %s", mtp_last_error());
    double head_dev[MTP_MAX_FUTURE];
    CHECK(mtp_loss(m, ids, n, head_dev) == -1 && strstr(mtp_last_error(), "loaded for the cpu"),
          "a model loaded for the CPU, used on cpu-check: %s", mtp_last_error());
    mtp_checkpoint *md = mtp_load(run);
    CHECK(md != NULL, "load on cpu-check: %s", mtp_last_error());
    CHECK(md && mtp_loss(md, ids, n, head_dev) == 0 &&
              memcmp(head, head_dev, sizeof(double) * c->n_future) == 0,
          "losses on cpu-check differ from the CPU's: %s", mtp_last_error());
    free(ids);
    go.speculative = MTP_SPECULATIVE_ALL, go.stop = NULL;
    mtp_generator *gd = md ? mtp_generator_new(md, &go) : NULL;
    mtp_generation dv = {0};
    CHECK(gd && mtp_generate(gd, "abcab", 5, &dv) == 0 && dv.len == plain_len &&
              memcmp(dv.text, plain_text, plain_len) == 0,
          "speculative text on cpu-check '%s' differs from the CPU's '%s'", dv.text ? dv.text : "",
          plain_text);
    free(dv.text), free(plain_text);
    // freed after the device changed: each buffer goes back to the device it came from
    CHECK(mtp_set_device("cpu") == 0, "back to the CPU");
    mtp_generator_free(gd);
    mtp_close(md);
    mtp_close(m);
    CHECK(mtp_load("/nonexistent/run") == NULL && strstr(mtp_last_error(), "/nonexistent/run"), "missing: %s",
          mtp_last_error());

    snprintf(path, sizeof path, "rm -rf %s", dir);
    if (system(path) != 0) return 1;
    printf("training loss %.3f -> %.3f\n", l.first, l.last);
    return test_finish("public api");
}
