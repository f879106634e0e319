// fuzz_spm.c: tokenizer_load_spm_memory (the tokenizer.model protobuf) on
// arbitrary bytes. An accepted model must encode a slice of the input with
// every id in range, decode any sequence of its ids (broken byte runs and
// control pieces included) to valid UTF-8, and write a tokenizer.json that
// loads again with the same vocabulary.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/strbuf.h"
#include "core/utf8.h"
#include "data/tokenizer.h"

#define TEXT_MAX 256

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) abort();
    memcpy(copy, data, size);
    mtp_clear_error();
    tokenizer *t = tokenizer_load_spm_memory(copy, size, "fuzz/tokenizer.model");
    if (!t) {
        if (mtp_last_error()[0] == '\0') abort();
        free(copy);
        return 0;
    }
    int vocab = tokenizer_vocab_size(t);
    if (vocab <= 0 || tokenizer_eot(t) < 0 || tokenizer_eot(t) >= vocab) abort();
    int32_t *ids = NULL;
    size_t n = 0, cap = 0, len = size < TEXT_MAX ? size : TEXT_MAX;
    if (tokenizer_encode_prompt(t, (const char *)copy, len, &ids, &n, &cap) != 0) abort();
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= vocab) abort();
    for (size_t i = 0; i < n; i++) ids[i] = (int32_t)((uint32_t)copy[i % size] * 131u % (uint32_t)vocab);
    strbuf text = {0};
    if (tokenizer_decode_ids(t, ids, n, &text) != 0) abort();
    if (!utf8_is_valid(text.s ? text.s : "", text.len)) abort();
    char *json = tokenizer_to_json(t);
    if (!json) abort();
    tokenizer *again = tokenizer_load_json(json, strlen(json), "fuzz/round-trip.json");
    if (!again || tokenizer_vocab_size(again) != vocab) abort();
    tokenizer_free(again);
    free(json);
    free(text.s);
    free(ids);
    tokenizer_free(t);
    free(copy);
    return 0;
}
