// tokenizer_bytes.c: the byte tokenizer (id = byte value, 256 = end of text)
// and its tokenizer.json: a byte-level BPE with no merges, which Hugging Face
// `tokenizers` loads and encodes exactly as we do (ByteLevel pre-tokenizer
// maps each byte to a printable character; the vocab maps that character
// back to the byte's value; with no merges every character is one token).
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/utf8.h"
#include "data/tokenizer.h"
#include "data/tokenizer_json.h"

#define BYTES_EOT 256
#define BYTES_VOCAB 257
static const char eot_text[] = "<|endoftext|>";

// ---- GPT-2's bytes_to_unicode ------------------------------------------
// Bytes that are printable Latin-1 stand for themselves; the other 68 bytes
// get U+0100 + (their rank among the non-printable bytes), in byte order.
static int byte_is_printable(int b) {
    return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

uint32_t tokenizer_byte_to_unicode(uint8_t b) {
    if (byte_is_printable(b)) return b;
    uint32_t rank = 0;
    for (int x = 0; x < b; x++) rank += !byte_is_printable(x);
    return 256 + rank;
}

int tokenizer_unicode_to_byte(uint32_t cp) {
    if (cp < 256) return byte_is_printable((int)cp) ? (int)cp : -1;
    uint32_t rank = 0;
    for (int b = 0; b < 256; b++) {
        if (byte_is_printable(b)) continue;
        if (rank == cp - 256) return b;
        rank++;
    }
    return -1;
}

// Decodes the single code point that must make up all of s[0..len).
// Returns it, or -1 if s is not exactly one well-formed 1- or 2-byte
// character (every byte-level character is below U+0800).
static long utf8_single(const char *s, size_t len) {
    const unsigned char *u = (const unsigned char *)s;
    if (len == 1 && u[0] < 0x80) return u[0];
    if (len == 2 && u[0] >= 0xC2 && u[0] <= 0xDF && (u[1] & 0xC0) == 0x80)
        return ((u[0] & 0x1F) << 6) | (u[1] & 0x3F);
    return -1;
}

// ---- operations -----------------------------------------------------------
static int bytes_encode(const void *impl, const char *text, size_t len, int32_t **ids, size_t *n,
                        size_t *cap) {
    (void)impl;
    if (len == 0) return 0;  // *ids may still be NULL
    if (tokenizer_reserve(ids, *n, cap, len) != 0) return -1;
    const unsigned char *u = (const unsigned char *)text;
    int32_t *out = *ids + *n;
    for (size_t i = 0; i < len; i++) out[i] = u[i];
    *n += len;
    return 0;
}

static int bytes_decode_token(const void *impl, int32_t id, char *buf, size_t cap) {
    (void)impl;
    if (id >= 0 && id < 256) {
        if (cap < 1) return mtp_errorf("decode buffer too small for token %d", (int)id);
        buf[0] = (char)id;
        return 1;
    }
    if (id == BYTES_EOT) {
        size_t n = sizeof eot_text - 1;
        if (cap < n) return mtp_errorf("decode buffer too small for token %d (%zu bytes needed)", (int)id, n);
        memcpy(buf, eot_text, n);
        return (int)n;
    }
    return mtp_errorf("invalid token id %d for the byte tokenizer (valid: 0..%d)", (int)id, BYTES_VOCAB - 1);
}

// Adds {"type": "ByteLevel", ...} with the given flags to parent[key].
static int add_byte_level(cJSON *parent, const char *key, int trim_offsets) {
    cJSON *o = cJSON_AddObjectToObject(parent, key);
    return o && cJSON_AddStringToObject(o, "type", "ByteLevel") &&
                   cJSON_AddFalseToObject(o, "add_prefix_space") &&
                   cJSON_AddBoolToObject(o, "trim_offsets", trim_offsets) &&
                   cJSON_AddFalseToObject(o, "use_regex")
               ? 0
               : -1;
}

static char *bytes_to_json(const void *impl) {
    (void)impl;
    cJSON *root = cJSON_CreateObject();
    int ok = root != NULL;
    ok = ok && cJSON_AddStringToObject(root, "version", "1.0");
    ok = ok && cJSON_AddNullToObject(root, "truncation");
    ok = ok && cJSON_AddNullToObject(root, "padding");
    cJSON *added = ok ? cJSON_AddArrayToObject(root, "added_tokens") : NULL;
    cJSON *eot = cJSON_CreateObject();
    ok = ok && added && eot;
    if (ok)
        cJSON_AddItemToArray(added, eot);
    else
        cJSON_Delete(eot);
    ok = ok && cJSON_AddNumberToObject(eot, "id", BYTES_EOT) &&
         cJSON_AddStringToObject(eot, "content", eot_text) && cJSON_AddFalseToObject(eot, "single_word") &&
         cJSON_AddFalseToObject(eot, "lstrip") && cJSON_AddFalseToObject(eot, "rstrip") &&
         cJSON_AddFalseToObject(eot, "normalized") && cJSON_AddTrueToObject(eot, "special");
    ok = ok && cJSON_AddNullToObject(root, "normalizer");
    ok = ok && add_byte_level(root, "pre_tokenizer", 1) == 0;
    ok = ok && cJSON_AddNullToObject(root, "post_processor");
    ok = ok && add_byte_level(root, "decoder", 1) == 0;
    cJSON *model = ok ? cJSON_AddObjectToObject(root, "model") : NULL;
    ok = ok && model && cJSON_AddStringToObject(model, "type", "BPE") &&
         cJSON_AddNullToObject(model, "dropout") && cJSON_AddNullToObject(model, "unk_token") &&
         cJSON_AddNullToObject(model, "continuing_subword_prefix") &&
         cJSON_AddNullToObject(model, "end_of_word_suffix") && cJSON_AddFalseToObject(model, "fuse_unk") &&
         cJSON_AddFalseToObject(model, "byte_fallback") && cJSON_AddFalseToObject(model, "ignore_merges");
    cJSON *vocab = ok ? cJSON_AddObjectToObject(model, "vocab") : NULL;
    ok = ok && vocab;
    for (int b = 0; ok && b < 256; b++) {
        char key[4] = {0};
        utf8_encode(tokenizer_byte_to_unicode((uint8_t)b), key);
        ok = cJSON_AddNumberToObject(vocab, key, b) != NULL;
    }
    ok = ok && cJSON_AddArrayToObject(model, "merges");
    return tj_print_file(root, ok, "the byte tokenizer's tokenizer.json");
}

static void bytes_destroy(void *impl) {
    (void)impl;
}

static const tokenizer_ops bytes_ops = {
    .name = "bytes",
    .encode = bytes_encode,
    .decode_token = bytes_decode_token,
    .to_json = bytes_to_json,
    .destroy = bytes_destroy,
};

tokenizer *tokenizer_bytes(void) {
    tokenizer *t = tokenizer_create(&bytes_ops, NULL, BYTES_VOCAB, BYTES_EOT);
    if (t && tokenizer_add_special(t, eot_text, BYTES_EOT) != 0) {
        tokenizer_free(t);
        return NULL;
    }
    return t;
}

// ---- validation of a loaded tokenizer.json ------------------------------
// Each check names the field and the value expected, so a hand-edited or
// foreign file gets a precise message. Fields that change how text is
// encoded or decoded must have exactly the values we write; fields that
// only affect offsets (trim_offsets) may be any boolean.

static int check_byte_level(const cJSON *root, const char *key, const char *label) {
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!cJSON_IsObject(o))
        return mtp_errorf("%s: %s must be an object {\"type\": \"ByteLevel\", ...} for the byte tokenizer",
                          label, key);
    static const char *const known[] = {"type", "add_prefix_space", "trim_offsets", "use_regex", NULL};
    if (tj_check_keys(o, known, label, key) != 0 || tj_check_string(o, "type", "ByteLevel", label, key) != 0)
        return -1;
    // The decoder ignores add_prefix_space and use_regex; the pre-tokenizer
    // must not add a space or split words, or the ids would differ from ours.
    int strict = !strcmp(key, "pre_tokenizer");
    if (tj_check_bool(o, "add_prefix_space", strict ? 0 : -1, 0, label, key) != 0) return -1;
    if (tj_check_bool(o, "trim_offsets", -1, 0, label, key) != 0) return -1;
    if (tj_check_bool(o, "use_regex", strict ? 0 : -1, 0, label, key) != 0) return -1;
    // Hugging Face's defaults are add_prefix_space=true, use_regex=true, so
    // the pre-tokenizer must state both.
    if (strict && (!cJSON_GetObjectItemCaseSensitive(o, "add_prefix_space") ||
                   !cJSON_GetObjectItemCaseSensitive(o, "use_regex")))
        return mtp_errorf("%s: pre_tokenizer must set add_prefix_space and use_regex to false explicitly",
                          label);
    return 0;
}

static int check_added_tokens(const cJSON *root, const char *label) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != 1)
        return mtp_errorf("%s: added_tokens must be a list of exactly one token, <|endoftext|> with id %d",
                          label, BYTES_EOT);
    const cJSON *t = a->child;
    const char *where = "added_tokens[0]";
    if (!cJSON_IsObject(t)) return mtp_errorf("%s: %s is not an object", label, where);
    static const char *const known[] = {"id",     "content",    "single_word", "lstrip",
                                        "rstrip", "normalized", "special",     NULL};
    if (tj_check_keys(t, known, label, where) != 0) return -1;
    int id;
    if (tj_int(cJSON_GetObjectItemCaseSensitive(t, "id"), BYTES_EOT, BYTES_EOT, &id) != 0)
        return mtp_errorf("%s: %s.id must be %d", label, where, BYTES_EOT);
    if (tj_check_string(t, "content", eot_text, label, where) != 0) return -1;
    if (tj_check_bool(t, "special", 1, 1, label, where) != 0) return -1;
    const char *flags[] = {"single_word", "lstrip", "rstrip", "normalized"};
    for (int i = 0; i < 4; i++)
        if (tj_check_bool(t, flags[i], 0, 0, label, where) != 0) return -1;
    return 0;
}

static int check_model(const cJSON *root, const char *label) {
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (tj_check_bpe_model(m, label) != 0 ||
        tj_check_null(m, "continuing_subword_prefix", label, "model") != 0 ||
        tj_check_null(m, "end_of_word_suffix", label, "model") != 0)
        return -1;
    const cJSON *merges = cJSON_GetObjectItemCaseSensitive(m, "merges");
    if (!cJSON_IsArray(merges))
        return mtp_errorf("%s: model.merges must be a list (empty for the byte tokenizer)", label);
    if (cJSON_GetArraySize(merges) != 0)
        return mtp_errorf("%s: model.merges is not empty: not the byte tokenizer (a BPE)", label);

    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(m, "vocab");
    if (!cJSON_IsObject(vocab))
        return mtp_errorf("%s: model.vocab must be an object {\"character\": id}", label);
    int seen[256] = {0}, count = 0;
    for (const cJSON *e = vocab->child; e; e = e->next, count++) {
        const char *key = e->string ? e->string : "";
        int id;
        if (tj_int(e, 0, 255, &id) != 0)
            return mtp_errorf(
                "%s: model.vocab[\"%s\"]: id must be an integer in [0, 255] for the byte tokenizer "
                "(extra tokens belong in added_tokens)",
                label, key);
        long cp = utf8_single(key, strlen(key));
        if (cp < 0 || tokenizer_unicode_to_byte((uint32_t)cp) != id)
            return mtp_errorf(
                "%s: model.vocab[\"%s\"] = %d, but byte %d is the character U+%04X in the byte-level "
                "alphabet: ids must equal byte values",
                label, key, id, id, (unsigned)tokenizer_byte_to_unicode((uint8_t)id));
        if (seen[id]++) return mtp_errorf("%s: model.vocab: id %d appears twice", label, id);
    }
    if (count != 256)
        return mtp_errorf("%s: model.vocab has %d entries; the byte tokenizer has exactly 256 (one per byte)",
                          label, count);
    return 0;
}

tokenizer *tokenizer_bytes_from_json(const struct cJSON *root, const char *label) {
    static const char *const known[] = {
        "version",       "truncation",     "padding", "added_tokens", "normalizer",
        "pre_tokenizer", "post_processor", "decoder", "model",        NULL};
    int rc = tj_check_keys(root, known, label, "");
    if (rc == 0) rc = tj_check_string(root, "version", "1.0", label, "");
    if (rc == 0) rc = tj_check_null(root, "truncation", label, "");
    if (rc == 0) rc = tj_check_null(root, "padding", label, "");
    if (rc == 0) rc = tj_check_null(root, "normalizer", label, "");
    if (rc == 0) rc = check_added_tokens(root, label);
    if (rc == 0) rc = check_byte_level(root, "pre_tokenizer", label);
    if (rc == 0) rc = check_byte_level(root, "decoder", label);
    if (rc == 0) {
        // A ByteLevel post-processor only trims offsets; accept it or null.
        const cJSON *pp = cJSON_GetObjectItemCaseSensitive(root, "post_processor");
        if (pp && !cJSON_IsNull(pp)) rc = check_byte_level(root, "post_processor", label);
    }
    if (rc == 0) {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(root, "model");
        rc = cJSON_IsObject(m) ? check_model(root, label) : mtp_errorf("%s: missing \"model\" object", label);
    }
    return rc == 0 ? tokenizer_bytes() : NULL;
}
