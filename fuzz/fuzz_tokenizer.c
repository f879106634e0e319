// fuzz_tokenizer.c: tokenizer_load_json on arbitrary bytes (not
// NUL-terminated, so an overread past len is caught by AddressSanitizer): the
// byte tokenizer's tokenizer.json and byte-level BPE ones (vocab + merges).
// An accepted tokenizer must encode a slice of the input without failing,
// with ids in range that decode back to exactly that slice (with and
// without special tokens), and its own JSON must load again as the same
// tokenizer (same ids for the slice, same JSON once more).
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/strbuf.h"
#include "core/utf8.h"
#include "data/bpe.h"
#include "data/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

// Room for the longest token any tokenizer may have: BPE tokens and special
// tokens are at most BPE_MAX_TOKEN_BYTES bytes (the byte tokenizer's, 13).
#define DECODE_CAP BPE_MAX_TOKEN_BYTES
#define TEXT_MAX 256

// Aborts unless every id of ids[0..n) is in range and decodes without error,
// and the decoded bytes, concatenated, are exactly want[0..len).
static void check_decodes_to(const tokenizer *t, const int32_t *ids, size_t n, const uint8_t *want,
                             size_t len) {
    static char buf[DECODE_CAP];
    int vocab = tokenizer_vocab_size(t);
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= vocab) abort();
        int k = tokenizer_decode_token(t, ids[i], buf, sizeof buf);
        if (k < 0) abort();
        // Every id stands for at least one byte, so the concatenation can only
        // match the text while it stays within it.
        if (k == 0 || at + (size_t)k > len || memcmp(want + at, buf, (size_t)k) != 0) abort();
        at += (size_t)k;
    }
    if (at != len) abort();
}

// SentencePiece-style BPE (a tokenizer.json with byte_fallback) normalizes
// the text (a dummy prefix, spaces as U+2581), so its ids do not decode to
// the slice byte for byte: every id must be in range, a sequence must decode
// to valid UTF-8, and the tokenizer reloaded from its own JSON must give the
// same ids and the same JSON.
static void check_sentencepiece(const tokenizer *t, const uint8_t *data, size_t size) {
    int32_t *ids = NULL, *ids2 = NULL;
    size_t n = 0, cap = 0, n2 = 0, cap2 = 0, text_len = size < TEXT_MAX ? size : TEXT_MAX;
    if (tokenizer_encode(t, (const char *)data, text_len, &ids, &n, &cap) != 0) abort();
    if (n > 3 * text_len + 3) abort();  // at most one id per byte of the normalized text
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= tokenizer_vocab_size(t)) abort();
    strbuf text = {0};
    if (tokenizer_decode_ids(t, ids, n, &text) != 0) abort();
    if (!utf8_is_valid(text.s ? text.s : "", text.len)) abort();
    char *json = tokenizer_to_json(t);
    tokenizer *again = json ? tokenizer_load_json(json, strlen(json), "fuzz/round-trip.json") : NULL;
    if (!again || tokenizer_vocab_size(again) != tokenizer_vocab_size(t)) abort();
    if (tokenizer_encode(again, (const char *)data, text_len, &ids2, &n2, &cap2) != 0) abort();
    if (n2 != n || (n && memcmp(ids, ids2, n * sizeof *ids) != 0)) abort();
    char *json2 = tokenizer_to_json(again);
    if (!json2 || strcmp(json, json2) != 0) abort();
    free(json2);
    free(json);
    free(ids);
    free(ids2);
    free(text.s);
    tokenizer_free(again);
}

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
    if (!strcmp(tokenizer_name(t), "sentencepiece")) {  // a Llama-type tokenizer.json: its own contract
        check_sentencepiece(t, data, size);
        tokenizer_free(t);
        return 0;
    }

    // Encode a slice of the input as text: every id must be in the vocabulary
    // and the decoded ids, concatenated, must give the slice back. With
    // special tokens recognized too (they decode to their own text).
    int32_t *ids = NULL;
    size_t n = 0, cap = 0;
    size_t text_len = size < TEXT_MAX ? size : TEXT_MAX;
    if (tokenizer_encode(t, (const char *)data, text_len, &ids, &n, &cap) != 0) abort();
    if (n > text_len) abort();  // never more ids than bytes
    check_decodes_to(t, ids, n, data, text_len);
    n = 0;
    if (tokenizer_encode_special(t, (const char *)data, text_len, &ids, &n, &cap) != 0) abort();
    if (n > text_len) abort();
    check_decodes_to(t, ids, n, data, text_len);

    // Every special token decodes to its text; the end of text is one of them.
    static char buf[DECODE_CAP];
    int found_eot = 0;
    for (int i = 0; i < tokenizer_special_count(t); i++) {
        int32_t id;
        const char *s = tokenizer_special(t, i, &id);
        if (id < 0 || id >= vocab) abort();
        int k = tokenizer_decode_token(t, id, buf, sizeof buf);
        if (k < 0 || (size_t)k != strlen(s) || memcmp(buf, s, (size_t)k) != 0) abort();
        found_eot |= id == eot;
    }
    if (!found_eot && tokenizer_special_count(t) > 0) abort();
    if (tokenizer_decode_token(t, eot, buf, sizeof buf) < 0) abort();
    if (tokenizer_decode_token(t, vocab, buf, sizeof buf) >= 0) abort();  // out of range must fail
    if (tokenizer_decode_token(t, -1, buf, sizeof buf) >= 0) abort();

    char *json = tokenizer_to_json(t);
    if (!json) abort();
    tokenizer *again = tokenizer_load_json(json, strlen(json), "fuzz/round-trip.json");
    if (!again || tokenizer_vocab_size(again) != vocab || tokenizer_eot(again) != eot) abort();
    // The reloaded tokenizer is the same one: same ids for the slice, same JSON.
    int32_t *ids2 = NULL;
    size_t n2 = 0, cap2 = 0;
    if (tokenizer_encode_special(again, (const char *)data, text_len, &ids2, &n2, &cap2) != 0) abort();
    if (n2 != n || (n && memcmp(ids, ids2, n * sizeof *ids) != 0)) abort();
    char *json2 = tokenizer_to_json(again);
    if (!json2 || strcmp(json, json2) != 0) abort();
    free(json2);
    free(ids2);
    free(ids);
    tokenizer_free(again);
    free(json);
    tokenizer_free(t);
    return 0;
}
