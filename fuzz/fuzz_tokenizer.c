// fuzz_tokenizer.c: tokenizer_load_json on arbitrary bytes (not
// NUL-terminated, so an overread past len is caught by AddressSanitizer). An
// accepted tokenizer must encode and decode without failing, and its own
// JSON must load again.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "data/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    mtp_clear_error();
    tokenizer *t = tokenizer_load_json((const char *)data, size, "fuzz/tokenizer.json");
    if (!t) {
        if (mtp_last_error()[0] == '\0') abort();  // every refusal must say why
        return 0;
    }
    int vocab = tokenizer_vocab_size(t);
    int eot = tokenizer_eot(t);
    if (vocab <= 0 || eot < 0 || eot >= vocab) abort();

    // Encode a slice of the input as text; every id must be in the vocabulary
    // and decode again.
    int32_t *ids = NULL;
    size_t n = 0, cap = 0;
    size_t text_len = size < 256 ? size : 256;
    if (tokenizer_encode(t, (const char *)data, text_len, &ids, &n, &cap) != 0) abort();
    char buf[256];
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= vocab) abort();
        if (tokenizer_decode_token(t, ids[i], buf, sizeof buf) < 0) abort();
    }
    free(ids);
    if (tokenizer_decode_token(t, eot, buf, sizeof buf) < 0) abort();
    if (tokenizer_decode_token(t, vocab, buf, sizeof buf) >= 0) abort();  // out of range must fail

    char *json = tokenizer_to_json(t);
    if (!json) abort();
    tokenizer *again = tokenizer_load_json(json, strlen(json), "fuzz/round-trip.json");
    if (!again || tokenizer_vocab_size(again) != vocab || tokenizer_eot(again) != eot) abort();
    tokenizer_free(again);
    free(json);
    tokenizer_free(t);
    return 0;
}
