// tokenizer_bench.c: see tokenizer_bench.h.
#include "data/tokenizer_bench.h"

#include <stdlib.h>

#include "core/error.h"
#include "core/fsutil.h"
#include "core/timer.h"

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int tokenizer_bench(const tokenizer *t, const corpus *c, int threads, int repeat, tokenizer_bench_result *r) {
    char **texts = mtp_calloc(c->count + 1, sizeof *texts, "texts");
    size_t *lens = mtp_calloc(c->count + 1, sizeof *lens, "text lengths");
    double *secs = mtp_calloc((size_t)repeat, sizeof *secs, "timings");
    int rc = texts && lens && secs ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < c->count; i++)
        if (!(texts[i] = fs_read_all(c->paths[i], (size_t)1 << 32, &lens[i]))) rc = -1;
    uint64_t tokens = 0;
    for (int rep = 0; rc == 0 && rep < repeat; rep++) {
        int failed = 0;
        tokens = 0;
        double t0 = mtp_now();
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads) reduction(+ : tokens, failed)
        for (size_t i = 0; i < c->count; i++) {
            int32_t *ids = NULL;
            size_t n = 0, cap = 0;
            failed += tokenizer_encode(t, texts[i], lens[i], &ids, &n, &cap) != 0;
            tokens += n;
            free(ids);
        }
        secs[rep] = mtp_now() - t0;
        if (failed) rc = mtp_errorf("encoding failed in %d file(s)", failed);
    }
    if (rc == 0) {
        qsort(secs, (size_t)repeat, sizeof *secs, cmp_double);
        *r = (tokenizer_bench_result){c->total_bytes, tokens, secs[repeat / 2]};
    }
    for (size_t i = 0; texts && i < c->count; i++) free(texts[i]);
    free(texts);
    free(lens);
    free(secs);
    return rc;
}
