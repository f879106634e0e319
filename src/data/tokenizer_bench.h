// tokenizer_bench.h: how fast a tokenizer encodes a corpus held in memory
// (mtp tokenizer bench): files are shared out between threads, and the
// median of `repeat` runs is reported.
#ifndef MTP_DATA_TOKENIZER_BENCH_H
#define MTP_DATA_TOKENIZER_BENCH_H

#include <stdint.h>

#include "data/corpus.h"
#include "data/tokenizer.h"

typedef struct {
    uint64_t bytes, tokens;
    double median_seconds;
} tokenizer_bench_result;

int tokenizer_bench(const tokenizer *t, const corpus *c, int threads, int repeat, tokenizer_bench_result *r);

#endif
