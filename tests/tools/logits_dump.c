// logits_dump: the logits of every head of a checkpoint at every position
// of one token sequence, for tests that compare a model with an independent
// forward (tests/test_convert.py).
//   logits_dump --model CKPT --tokens 1,2,3 --out FILE.safetensors
// FILE gets "logits" (n, T, V), float32. Exit 0, or 1 with one error line.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libmtp.h"

static int fail(const char *what) {
    fprintf(stderr, "logits_dump: %s: %s\n", what, mtp_last_error());
    return 1;
}

int main(int argc, char **argv) {
    const char *model_dir = NULL, *tokens = NULL, *out = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--model"))
            model_dir = argv[i + 1];
        else if (!strcmp(argv[i], "--tokens"))
            tokens = argv[i + 1];
        else if (!strcmp(argv[i], "--out"))
            out = argv[i + 1];
    }
    if (!model_dir || !tokens || !out) {
        fprintf(stderr, "usage: logits_dump --model CKPT --tokens 1,2,3 --out FILE.safetensors\n");
        return 2;
    }
    int32_t ids[4096];
    int T = 0;
    for (const char *p = tokens; *p && T < 4096;) {
        ids[T++] = (int32_t)strtol(p, (char **)&p, 10);
        if (*p == ',') p++;
    }
    mtp_checkpoint ck;
    if (checkpoint_open(&ck, model_dir, CHECKPOINT_WEIGHTS) != 0) return fail(model_dir);
    const mtp_config *c = &ck.cfg;
    int n = c->n_future;
    model_work w;
    kv_cache cache;
    float *logits = malloc((size_t)n * T * c->vocab_size * sizeof *logits);
    if (!logits || model_work_alloc(&w, &ck.model, 1, T, SCHEDULE_SEQUENTIAL, 0) != 0 ||
        kv_cache_alloc(&cache, c, 0) != 0)
        return fail("allocation");
    if (model_forward_cached(&w, &cache, ids, T, n, 0, 0, logits) != 0) return fail("forward");
    st_entry e = {.name = "logits", .ndim = 3, .shape = {n, T, c->vocab_size}, .data = logits};
    if (st_write(out, &e, 1, NULL, 0) != 0) return fail(out);
    free(logits);
    kv_cache_free(&cache);
    model_work_free(&w);
    checkpoint_close(&ck);
    return 0;
}
