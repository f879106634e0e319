// tokenizer.c: the generic half of tokenizer.h: dispatch through the
// operations table, loading (parse the JSON, pick the implementation by the
// model it describes) and atomic saving.
#define _GNU_SOURCE  // memmem
#include "data/tokenizer.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/fsutil.h"

typedef struct {
    char *content;
    size_t len;
    int32_t id;
} special_token;

struct tokenizer {
    const tokenizer_ops *ops;
    void *impl;
    int vocab_size;
    int eot;
    special_token *specials;
    int nspecials;
    int32_t bos;  // -1: none
};

// tokenizer.json files are a few MB at most (GPT-2's is 1.4 MB); the limit
// only keeps a wrong path (a shard, a weights file) from being read whole.
#define TOKENIZER_JSON_MAX ((size_t)256 << 20)

tokenizer *tokenizer_create(const tokenizer_ops *ops, void *impl, int vocab_size, int eot) {
    tokenizer *t = mtp_calloc(1, sizeof *t, "tokenizer");
    if (!t) {
        ops->destroy(impl);
        return NULL;
    }
    t->ops = ops;
    t->impl = impl;
    t->vocab_size = vocab_size;
    t->eot = eot;
    t->bos = -1;
    return t;
}

int tokenizer_reserve(int32_t **ids, size_t n, size_t *cap, size_t extra) {
    if (extra > SIZE_MAX / sizeof(int32_t) - n)
        return mtp_errorf("token buffer size overflow (%zu + %zu ids)", n, extra);
    if (n + extra <= *cap) return 0;
    size_t want = *cap ? *cap : 1024;
    while (want < n + extra) want = want > SIZE_MAX / 8 ? n + extra : want * 2;
    int32_t *grown = realloc(*ids, want * sizeof *grown);
    if (!grown) return mtp_errorf("out of memory growing a token buffer to %zu ids", want);
    *ids = grown;
    *cap = want;
    return 0;
}

int tokenizer_vocab_size(const tokenizer *t) {
    return t->vocab_size;
}
int tokenizer_eot(const tokenizer *t) {
    return t->eot;
}
const char *tokenizer_name(const tokenizer *t) {
    return t->ops->name;
}
int tokenizer_bos(const tokenizer *t) {
    return t->bos;
}
void tokenizer_set_bos(tokenizer *t, int32_t id) {
    t->bos = id;
}
int32_t tokenizer_doc_start(const tokenizer *t) {
    return t->bos >= 0 ? t->bos : t->eot;
}

int tokenizer_encode_prompt(const tokenizer *t, const char *text, size_t len, int32_t **ids, size_t *n,
                            size_t *cap) {
    if (t->bos >= 0) {
        if (tokenizer_reserve(ids, *n, cap, 1) != 0) return -1;
        (*ids)[(*n)++] = t->bos;
    }
    return tokenizer_encode(t, text, len, ids, n, cap);
}

int tokenizer_encode(const tokenizer *t, const char *text, size_t len, int32_t **ids, size_t *n,
                     size_t *cap) {
    return t->ops->encode(t->impl, text, len, ids, n, cap);
}

int tokenizer_encode_continued(const tokenizer *t, const char *text, size_t len, int32_t **ids, size_t *n,
                               size_t *cap) {
    return (t->ops->encode_continued ? t->ops->encode_continued : t->ops->encode)(t->impl, text, len, ids, n,
                                                                                  cap);
}

int tokenizer_decode_token(const tokenizer *t, int32_t id, char *buf, size_t cap) {
    return t->ops->decode_token(t->impl, id, buf, cap);
}

int tokenizer_decode_append(const tokenizer *t, int32_t id, strbuf *text) {
    char piece[TOKENIZER_MAX_TOKEN_BYTES];
    int n = tokenizer_decode_token(t, id, piece, sizeof piece);
    return n < 0 || strbuf_add(text, piece, (size_t)n) != 0 ? -1 : n;
}

int tokenizer_decode_ids(const tokenizer *t, const int32_t *ids, size_t n, strbuf *text) {
    if (t->ops->decode_ids) return t->ops->decode_ids(t->impl, ids, n, text);
    for (size_t i = 0; i < n; i++)
        if (tokenizer_decode_append(t, ids[i], text) < 0) return -1;
    return 0;
}

char *tokenizer_to_json(const tokenizer *t) {
    return t->ops->to_json(t->impl);
}

void tokenizer_free(tokenizer *t) {
    if (!t) return;
    t->ops->destroy(t->impl);
    for (int i = 0; i < t->nspecials; i++) free(t->specials[i].content);
    free(t->specials);
    free(t);
}

int tokenizer_add_special(tokenizer *t, const char *content, int32_t id) {
    size_t len = strlen(content);
    if (len == 0) return mtp_errorf("special token %d has no text", (int)id);
    if (len > TOKENIZER_MAX_TOKEN_BYTES)
        return mtp_errorf("special token %d has %zu bytes (at most %d)", (int)id, len,
                          TOKENIZER_MAX_TOKEN_BYTES);
    special_token *grown = realloc(t->specials, ((size_t)t->nspecials + 1) * sizeof *grown);
    if (!grown) return mtp_errorf("out of memory for special tokens");
    t->specials = grown;
    char *copy = strdup(content);
    if (!copy) return mtp_errorf("out of memory for special tokens");
    t->specials[t->nspecials++] = (special_token){copy, len, id};
    return 0;
}

int tokenizer_special_count(const tokenizer *t) {
    return t->nspecials;
}

const char *tokenizer_special(const tokenizer *t, int i, int32_t *id) {
    *id = t->specials[i].id;
    return t->specials[i].content;
}

int tokenizer_encode_special(const tokenizer *t, const char *text, size_t len, int32_t **ids, size_t *n,
                             size_t *cap) {
    size_t pos = 0;
    while (pos < len) {
        // The earliest special token after pos (the longest at that byte).
        size_t best_at = len, best_len = 0;
        int32_t best_id = -1;
        for (int i = 0; i < t->nspecials; i++) {
            const special_token *s = &t->specials[i];
            const char *hit = memmem(text + pos, len - pos, s->content, s->len);
            if (!hit) continue;
            size_t at = (size_t)(hit - text);
            if (at < best_at || (at == best_at && s->len > best_len))
                best_at = at, best_len = s->len, best_id = s->id;
        }
        if (best_at > pos && tokenizer_encode(t, text + pos, best_at - pos, ids, n, cap) != 0) return -1;
        if (best_id < 0) break;
        if (tokenizer_reserve(ids, *n, cap, 1) != 0) return -1;
        (*ids)[(*n)++] = best_id;
        pos = best_at + best_len;
    }
    return 0;
}

tokenizer *tokenizer_open(const char *spec) {
    return !strcmp(spec, "bytes") ? tokenizer_bytes() : tokenizer_load(spec);
}

// Does the tokenizer.json split text the byte-level way (GPT-2's ByteLevel
// pre-tokenizer, alone or in a Sequence)? Llama-type files have none.
static int is_byte_level(const cJSON *root) {
    const cJSON *pre = cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer");
    const cJSON *seq = cJSON_GetObjectItemCaseSensitive(pre, "pretokenizers");
    for (const cJSON *p = cJSON_IsArray(seq) ? seq->child : pre; p; p = cJSON_IsArray(seq) ? p->next : NULL) {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(p, "type");
        if (cJSON_IsString(type) && !strcmp(type->valuestring, "ByteLevel")) return 1;
        if (!cJSON_IsArray(seq)) break;
    }
    return 0;
}

// A Llama-type tokenizer.json: no byte-level splitting, and byte fallback,
// a normalizer (Llama's turns spaces into U+2581) or a Metaspace pre-tokenizer.
static int is_sentencepiece_like(const cJSON *root, const cJSON *model) {
    const cJSON *norm = cJSON_GetObjectItemCaseSensitive(root, "normalizer"),
                *pre = cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer"),
                *pre_type = cJSON_GetObjectItemCaseSensitive(pre, "type");
    if (is_byte_level(root)) return 0;
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(model, "byte_fallback")) ||
           (norm && !cJSON_IsNull(norm)) ||
           (cJSON_IsString(pre_type) && !strcmp(pre_type->valuestring, "Metaspace"));
}

// Whether the pre-tokenizer splits text into words before the byte-level
// mapping (ByteLevel with use_regex, Hugging Face's default): a BPE tokenizer's,
// merges or none; the bytes tokenizer's maps the text whole (use_regex false).
static int splits_words(const cJSON *root) {
    const cJSON *pre = cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(pre, "type");
    if (!cJSON_IsString(type) || strcmp(type->valuestring, "ByteLevel") != 0) return 0;
    const cJSON *regex = cJSON_GetObjectItemCaseSensitive(pre, "use_regex");
    return !cJSON_IsFalse(regex);
}

tokenizer *tokenizer_load_json(const char *json, size_t len, const char *label) {
    // cJSON skips NUL bytes as if they were blanks; a text file has none.
    const char *nul = memchr(json, '\0', len);
    if (nul) {
        mtp_errorf("%s: NUL byte at offset %ld: not a tokenizer.json (a text file)", label,
                   (long)(nul - json));
        return NULL;
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
    if (root && end) {
        // Only blanks may follow the value.
        while (end < json + len && (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r')) end++;
        if (end != json + len) {
            cJSON_Delete(root);
            mtp_errorf("%s: unexpected text after the JSON value at byte %ld: not a tokenizer.json", label,
                       (long)(end - json));
            return NULL;
        }
    }
    if (!root) {
        // cJSON reports where it stopped; turn that into an offset.
        const char *at = cJSON_GetErrorPtr();
        long off = (at && at >= json && at <= json + len) ? (long)(at - json) : -1;
        mtp_errorf("%s: not valid JSON (parse error near byte %ld): not a tokenizer.json", label, off);
        return NULL;
    }
    tokenizer *t = NULL;
    const cJSON *model = cJSON_IsObject(root) ? cJSON_GetObjectItemCaseSensitive(root, "model") : NULL;
    const cJSON *type = model ? cJSON_GetObjectItemCaseSensitive(model, "type") : NULL;
    const cJSON *merges = model ? cJSON_GetObjectItemCaseSensitive(model, "merges") : NULL;
    if (!cJSON_IsObject(root)) {
        mtp_errorf("%s: the top level is not a JSON object: not a tokenizer.json", label);
    } else if (!cJSON_IsObject(model)) {
        mtp_errorf("%s: missing \"model\" object: not a Hugging Face tokenizer.json", label);
    } else if (!cJSON_IsString(type)) {
        mtp_errorf("%s: model.type is missing or not a string", label);
    } else if (strcmp(type->valuestring, "BPE") != 0) {
        mtp_errorf(
            "%s: model type '%s' is not supported (only BPE; write one with mtp prepare --tokenizer bytes)",
            label, type->valuestring);
    } else if (is_sentencepiece_like(root, model)) {
        t = tokenizer_spm_from_json(root, label);
    } else if ((cJSON_IsArray(merges) && cJSON_GetArraySize(merges) > 0) || splits_words(root)) {
        // (a byte-level BPE trained to no merges, from a tiny input, still splits words)
        t = tokenizer_bpe_from_json(root, label);
    } else {
        t = tokenizer_bytes_from_json(root, label);
    }
    cJSON_Delete(root);
    return t;
}

tokenizer *tokenizer_load(const char *path) {
    char file[4096], ckpt[4096];
    if (fs_is_dir(path)) {
        if (fs_join(file, sizeof file, path, "tokenizer.model") == 0 && fs_is_file(file))
            return tokenizer_load_spm(file);
        if (fs_join(file, sizeof file, path, "tokenizer.json") != 0) return NULL;
        if (!fs_is_file(file)) {
            char encoder[4096];
            if (fs_join(encoder, sizeof encoder, path, "encoder.json") == 0 && fs_is_file(encoder))
                return tokenizer_load_gpt2(path);
            // a training run: its newest checkpoint's tokenizer, the checkpoint --model takes
            // (core's fs_newest_checkpoint_dir, which store/checkpoint.c resolves runs with)
            if (fs_join(encoder, sizeof encoder, path, "config.json") == 0 && !fs_is_file(encoder) &&
                fs_newest_checkpoint_dir(path, ckpt, sizeof ckpt))
                return tokenizer_load(ckpt);
            mtp_errorf(
                "'%s' is a directory without a tokenizer.model, tokenizer.json or GPT-2's encoder.json + "
                "vocab.bpe, and not a run directory with step_* checkpoints (give a tokenizer file, a data "
                "directory made by mtp prepare, or a checkpoint or run directory)",
                path);
            return NULL;
        }
    } else {
        if (snprintf(file, sizeof file, "%s", path) >= (int)sizeof file) {
            mtp_errorf("tokenizer path too long: '%s'", path);
            return NULL;
        }
        if (!fs_is_file(file)) {
            mtp_errorf("tokenizer '%s' does not exist (give a tokenizer.json or tokenizer.model, or 'bytes')",
                       path);
            return NULL;
        }
    }
    size_t len = 0;
    char *text = fs_read_all(file, TOKENIZER_JSON_MAX, &len);
    if (!text) return NULL;
    // A tokenizer.model is a protobuf whose first field is a piece (tag 0x0a);
    // JSON starts with '{' after blanks.
    size_t i = 0;
    while (i < len && (text[i] == ' ' || text[i] == '\n' || text[i] == '\r' || text[i] == '\t')) i++;
    tokenizer *t = len && text[0] == 0x0a ? tokenizer_load_spm_memory((const uint8_t *)text, len, file)
                                          : tokenizer_load_json(text + i, len - i, file);
    free(text);
    return t;
}

int tokenizer_save(const tokenizer *t, const char *path) {
    char *text = tokenizer_to_json(t);
    if (!text) return -1;
    // a unique temporary name, renamed over the file (see fs_out_open)
    int rc = fs_write_atomic(path, text, strlen(text));
    free(text);
    return rc;
}
