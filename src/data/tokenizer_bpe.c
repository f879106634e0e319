// tokenizer_bpe.c: byte-level BPE tokenizers (GPT-2 style) behind the
// tokenizer interface: encoding (pre-tokenize, then merge each chunk), the
// Hugging Face tokenizer.json form (load and save), GPT-2's encoder.json +
// vocab.bpe, and construction from a list of merges (the BPE trainer).
//
// Token strings in vocabularies and merge lists are byte-level text: each
// byte stands as the printable character tokenizer_byte_to_unicode gives.
// Special (added) tokens are kept as their plain text.
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/fsutil.h"
#include "core/jsonl.h"
#include "core/utf8.h"
#include "data/bpe.h"
#include "data/pretokenize.h"
#include "data/tokenizer.h"
#include "data/tokenizer_json.h"

// encoder.json is about 1 MB, vocab.bpe 0.5 MB; the cap only stops a wrong
// path (a shard, a weights file) from being read whole.
#define GPT2_FILE_MAX ((size_t)256 << 20)
static const char eot_text[] = "<|endoftext|>";

typedef struct {
    bpe *model;
    pretokenizer *pre;
    int32_t *special_ids;  // for to_json, in declaration order
    int nspecials;
} bpe_tok;

static void bpe_tok_destroy(void *impl) {
    bpe_tok *b = impl;
    if (!b) return;
    bpe_free(b->model);
    pretokenizer_free(b->pre);
    free(b->special_ids);
    free(b);
}

// ---- encoding -------------------------------------------------------------
// Long texts repeat the same words over and over; a per-call cache of
// chunk -> ids saves merging them again. Fixed size: once full, chunks are
// merged without it.
#define CACHE_MIN_TEXT 4096  // texts shorter than this skip the cache
#define CACHE_SLOTS (1u << 16)
#define CACHE_MAX_CHUNK 32
#define CACHE_ARENA_IDS (1u << 18)

typedef struct {
    uint64_t hash;
    uint32_t ids_off;  // the chunk's bytes then ids: ids_off into ids, bytes_off into bytes
    uint32_t bytes_off;
    uint8_t len, nids;  // len 0: empty slot
} cache_slot;

typedef struct {
    cache_slot *slots;
    int32_t *ids;
    uint8_t *bytes;
    uint32_t used, ids_used, bytes_used;
} chunk_cache;

static int cache_init(chunk_cache *c) {
    c->slots = calloc(CACHE_SLOTS, sizeof *c->slots);
    c->ids = malloc(CACHE_ARENA_IDS * sizeof *c->ids);
    c->bytes = malloc(CACHE_ARENA_IDS * 2);
    c->used = c->ids_used = c->bytes_used = 0;
    if (c->slots && c->ids && c->bytes) return 0;
    free(c->slots), free(c->ids), free(c->bytes);
    c->slots = NULL;
    return -1;
}

static void cache_free(chunk_cache *c) {
    free(c->slots), free(c->ids), free(c->bytes);
}

static uint64_t chunk_hash(const uint8_t *s, size_t n) {
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ n;
    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 0x100000001b3ULL;
    return h ^ (h >> 32);
}

typedef struct {
    const bpe_tok *b;
    int32_t *out;  // room for one id per byte of text
    size_t n;
    chunk_cache *cache;  // NULL: no cache
} encode_state;

static int encode_chunk(const char *text, size_t start, size_t len, void *user) {
    encode_state *st = user;
    const uint8_t *s = (const uint8_t *)text + start;
    int32_t *out = st->out + st->n;
    chunk_cache *c = st->cache;
    if (!c || len > CACHE_MAX_CHUNK) {
        st->n += bpe_encode_chunk(st->b->model, s, len, out);
        return 0;
    }
    uint64_t h = chunk_hash(s, len);
    uint32_t mask = CACHE_SLOTS - 1, i = (uint32_t)h & mask;
    for (; c->slots[i].len; i = (i + 1) & mask) {
        const cache_slot *e = &c->slots[i];
        if (e->hash == h && e->len == len && !memcmp(c->bytes + e->bytes_off, s, len)) {
            memcpy(out, c->ids + e->ids_off, e->nids * sizeof *out);
            st->n += e->nids;
            return 0;
        }
    }
    size_t m = bpe_encode_chunk(st->b->model, s, len, out);
    st->n += m;
    // Insert while the table is at most half full and the arenas have room.
    if (c->used < CACHE_SLOTS / 2 && c->ids_used + m <= CACHE_ARENA_IDS &&
        c->bytes_used + len <= 2 * CACHE_ARENA_IDS) {
        cache_slot *e = &c->slots[i];
        *e = (cache_slot){h, c->ids_used, c->bytes_used, (uint8_t)len, (uint8_t)m};
        memcpy(c->ids + c->ids_used, out, m * sizeof *out);
        memcpy(c->bytes + c->bytes_used, s, len);
        c->ids_used += (uint32_t)m;
        c->bytes_used += (uint32_t)len;
        c->used++;
    }
    return 0;
}

static int bpe_tok_encode(const void *impl, const char *text, size_t len, int32_t **ids, size_t *n,
                          size_t *cap) {
    const bpe_tok *b = impl;
    if (len == 0) return 0;
    // Never more ids than bytes.
    if (tokenizer_reserve(ids, *n, cap, len) != 0) return -1;
    chunk_cache cache;
    int cached = len >= CACHE_MIN_TEXT && cache_init(&cache) == 0;
    encode_state st = {b, *ids + *n, 0, cached ? &cache : NULL};
    int rc = pretokenize(b->pre, text, len, 0, len, encode_chunk, &st);
    if (cached) cache_free(&cache);
    if (rc != 0) return -1;
    *n += st.n;
    return 0;
}

static int bpe_tok_decode_token(const void *impl, int32_t id, char *buf, size_t cap) {
    const bpe_tok *b = impl;
    int32_t v = bpe_vocab_size(b->model);
    if (id < 0 || id >= v)
        return mtp_errorf("invalid token id %d (the vocabulary has ids 0..%d)", (int)id, v - 1);
    size_t len;
    const uint8_t *s = bpe_token_bytes(b->model, id, &len);
    if (len > cap) return mtp_errorf("decode buffer too small for token %d (%zu bytes needed)", (int)id, len);
    memcpy(buf, s, len);
    return (int)len;
}

// ---- byte-level text --------------------------------------------------------
// Byte-level characters are below U+0144, so at most two UTF-8 bytes each.
static int byte_level_put(uint8_t byte, char *out) {
    return utf8_encode(tokenizer_byte_to_unicode(byte), out);
}

// Inverse of tokenizer_byte_to_unicode as a table (index: code point < 324).
#define BYTE_LEVEL_CPS 324
static void byte_level_inverse(int16_t inv[BYTE_LEVEL_CPS]) {
    for (int i = 0; i < BYTE_LEVEL_CPS; i++) inv[i] = -1;
    for (int b = 0; b < 256; b++) inv[tokenizer_byte_to_unicode((uint8_t)b)] = (int16_t)b;
}

// Byte-level text s -> bytes in out[0..cap); returns the count, or -1 if s
// holds a character outside the byte-level alphabet (or too many).
static long byte_level_decode(const char *s, const int16_t *inv, uint8_t *out, size_t cap) {
    const unsigned char *u = (const unsigned char *)s;
    size_t n = 0;
    while (*u) {
        uint32_t cp;
        if (u[0] < 0x80) {
            cp = u[0];
            u += 1;
        } else if (u[0] >= 0xC2 && u[0] <= 0xDF && (u[1] & 0xC0) == 0x80) {
            cp = (uint32_t)(u[0] & 0x1F) << 6 | (u[1] & 0x3F);
            u += 2;
        } else {
            return -1;
        }
        if (cp >= BYTE_LEVEL_CPS || inv[cp] < 0 || n == cap) return -1;
        out[n++] = (uint8_t)inv[cp];
    }
    return (long)n;
}

// ---- tokenizer.json output ----------------------------------------------------
static cJSON *byte_level_object(int add_prefix_space, int trim_offsets) {
    cJSON *o = cJSON_CreateObject();
    if (o && cJSON_AddStringToObject(o, "type", "ByteLevel") &&
        cJSON_AddBoolToObject(o, "add_prefix_space", add_prefix_space) &&
        cJSON_AddBoolToObject(o, "trim_offsets", trim_offsets) && cJSON_AddTrueToObject(o, "use_regex"))
        return o;
    cJSON_Delete(o);
    return NULL;
}

static int is_special(const bpe_tok *b, int32_t id) {
    for (int i = 0; i < b->nspecials; i++)
        if (b->special_ids[i] == id) return 1;
    return 0;
}

// Token id as text: byte-level for ordinary tokens, plain for special ones.
static void token_text(const bpe_tok *b, int32_t id, char *out) {
    size_t len;
    const uint8_t *s = bpe_token_bytes(b->model, id, &len);
    size_t k = 0;
    if (is_special(b, id)) {
        memcpy(out, s, len);
        k = len;
    } else {
        for (size_t i = 0; i < len; i++) k += (size_t)byte_level_put(s[i], out + k);
    }
    out[k] = '\0';
}

// The layout of GPT-2's tokenizer.json on the Hugging Face hub.
static char *bpe_tok_to_json(const void *impl) {
    const bpe_tok *b = impl;
    char *buf = malloc(4 * BPE_MAX_TOKEN_BYTES + 2);
    cJSON *root = cJSON_CreateObject();
    int ok = root && buf;
    ok = ok && cJSON_AddStringToObject(root, "version", "1.0") && cJSON_AddNullToObject(root, "truncation") &&
         cJSON_AddNullToObject(root, "padding");
    cJSON *added = ok ? cJSON_AddArrayToObject(root, "added_tokens") : NULL;
    ok = ok && added;
    for (int i = 0; ok && i < b->nspecials; i++) {
        cJSON *t = cJSON_CreateObject();
        ok = t != NULL;
        if (ok) cJSON_AddItemToArray(added, t);
        token_text(b, b->special_ids[i], buf);
        ok = ok && cJSON_AddNumberToObject(t, "id", b->special_ids[i]) &&
             cJSON_AddStringToObject(t, "content", buf) && cJSON_AddFalseToObject(t, "single_word") &&
             cJSON_AddFalseToObject(t, "lstrip") && cJSON_AddFalseToObject(t, "rstrip") &&
             cJSON_AddFalseToObject(t, "normalized") && cJSON_AddTrueToObject(t, "special");
    }
    ok = ok && cJSON_AddNullToObject(root, "normalizer");
    cJSON *pre = ok ? byte_level_object(0, 1) : NULL, *dec = ok ? byte_level_object(1, 1) : NULL;
    ok = ok && pre && dec;
    if (ok) {
        cJSON_AddItemToObject(root, "pre_tokenizer", pre);
        pre = NULL;
        ok = cJSON_AddNullToObject(root, "post_processor") != NULL;
        cJSON_AddItemToObject(root, "decoder", dec);
        dec = NULL;
    }
    cJSON_Delete(pre);
    cJSON_Delete(dec);
    cJSON *model = ok ? cJSON_AddObjectToObject(root, "model") : NULL;
    ok = ok && model && cJSON_AddStringToObject(model, "type", "BPE") &&
         cJSON_AddNullToObject(model, "dropout") && cJSON_AddNullToObject(model, "unk_token") &&
         cJSON_AddStringToObject(model, "continuing_subword_prefix", "") &&
         cJSON_AddStringToObject(model, "end_of_word_suffix", "") &&
         cJSON_AddFalseToObject(model, "fuse_unk") && cJSON_AddFalseToObject(model, "byte_fallback") &&
         cJSON_AddFalseToObject(model, "ignore_merges");
    cJSON *vocab = ok ? cJSON_AddObjectToObject(model, "vocab") : NULL;
    ok = ok && vocab;
    for (int32_t id = 0; ok && id < bpe_vocab_size(b->model); id++) {
        token_text(b, id, buf);
        ok = cJSON_AddNumberToObject(vocab, buf, id) != NULL;
    }
    cJSON *merges = ok ? cJSON_AddArrayToObject(model, "merges") : NULL;
    ok = ok && merges;
    for (int32_t r = 0; ok && r < bpe_merge_count(b->model); r++) {
        int32_t l, rt;
        bpe_merge_at(b->model, r, &l, &rt);
        token_text(b, l, buf);
        size_t k = strlen(buf);
        buf[k] = ' ';
        token_text(b, rt, buf + k + 1);
        cJSON *s = cJSON_CreateString(buf);
        ok = s != NULL;
        if (ok) cJSON_AddItemToArray(merges, s);
    }
    char *text = tj_print_file(root, ok, "a BPE tokenizer's tokenizer.json");
    free(buf);
    return text;
}

static const tokenizer_ops bpe_ops = {
    .name = "bpe",
    .encode = bpe_tok_encode,
    .decode_token = bpe_tok_decode_token,
    .to_json = bpe_tok_to_json,
    .destroy = bpe_tok_destroy,
};

// ---- construction ------------------------------------------------------------
// A tokenizer around a finished model: takes ownership of b (freed on
// failure). The end of text is "<|endoftext|>" when it is a special token,
// else the first special token.
static tokenizer *wrap(bpe_tok *b, const char *label) {
    b->pre = pretokenizer_gpt2();
    if (!b->pre) {
        bpe_tok_destroy(b);
        return NULL;
    }
    if (b->nspecials == 0) {
        mtp_errorf("%s: no special token: mtp needs an end-of-text token such as \"%s\"", label, eot_text);
        bpe_tok_destroy(b);
        return NULL;
    }
    int32_t eot = b->special_ids[0];
    for (int i = 0; i < b->nspecials; i++) {
        size_t len;
        const uint8_t *s = bpe_token_bytes(b->model, b->special_ids[i], &len);
        if (len == sizeof eot_text - 1 && !memcmp(s, eot_text, len)) eot = b->special_ids[i];
    }
    // Copies of the special texts for the generic layer (NUL-terminated).
    char contents[BPE_MAX_TOKEN_BYTES + 1];
    int32_t ids[64];
    int n = b->nspecials < 64 ? b->nspecials : 64;
    for (int i = 0; i < n; i++) ids[i] = b->special_ids[i];
    const bpe *model = b->model;
    tokenizer *t = tokenizer_create(&bpe_ops, b, bpe_vocab_size(model), eot);
    for (int i = 0; t && i < n; i++) {
        size_t len;
        const uint8_t *s = bpe_token_bytes(model, ids[i], &len);
        memcpy(contents, s, len);
        contents[len] = '\0';
        if (tokenizer_add_special(t, contents, ids[i]) != 0) {
            tokenizer_free(t);
            t = NULL;
        }
    }
    return t;
}

static int add_special_id(bpe_tok *b, int32_t id, const char *label) {
    if (b->nspecials >= 64) return mtp_errorf("%s: more than 64 special tokens", label);
    int32_t *grown = realloc(b->special_ids, ((size_t)b->nspecials + 1) * sizeof *grown);
    if (!grown) return mtp_errorf("out of memory");
    b->special_ids = grown;
    b->special_ids[b->nspecials++] = id;
    return 0;
}

tokenizer *tokenizer_bpe_from_merges(const int32_t (*merges)[2], int nmerges, const char *const *specials,
                                     int nspecials, const char *label) {
    bpe_tok *b = mtp_calloc(1, sizeof *b, "BPE tokenizer");
    if (!b) return NULL;
    int64_t vocab = 256 + (int64_t)nmerges + nspecials;
    int rc = vocab <= (1 << 30) ? 0 : mtp_errorf("%s: vocabulary too large", label);
    if (rc == 0 && !(b->model = bpe_new((int32_t)vocab, label))) rc = -1;
    for (int c = 0; rc == 0 && c < 256; c++) {
        uint8_t byte = (uint8_t)c;
        rc = bpe_set_token(b->model, c, &byte, 1);
    }
    for (int i = 0; rc == 0 && i < nmerges; i++) {
        int32_t l = merges[i][0], r = merges[i][1];
        if (l < 0 || l >= 256 + i || r < 0 || r >= 256 + i) {
            rc = mtp_errorf("%s: merge %d (%d, %d) uses a token not made yet", label, i, (int)l, (int)r);
            break;
        }
        size_t ll, rl;
        const uint8_t *ls = bpe_token_bytes(b->model, l, &ll), *rs = bpe_token_bytes(b->model, r, &rl);
        uint8_t buf[2 * BPE_MAX_TOKEN_BYTES];
        if (ll + rl > BPE_MAX_TOKEN_BYTES) {
            rc = mtp_errorf("%s: merge %d makes a token of %zu bytes (at most %d)", label, i, ll + rl,
                            BPE_MAX_TOKEN_BYTES);
            break;
        }
        memcpy(buf, ls, ll);
        memcpy(buf + ll, rs, rl);
        rc = bpe_set_token(b->model, 256 + i, buf, ll + rl);
    }
    for (int j = 0; rc == 0 && j < nspecials; j++) {
        rc = bpe_set_token(b->model, 256 + nmerges + j, (const uint8_t *)specials[j], strlen(specials[j]));
        if (rc == 0) rc = add_special_id(b, 256 + nmerges + j, label);
    }
    if (rc == 0) rc = bpe_index(b->model);
    for (int i = 0; rc == 0 && i < nmerges; i++)
        if ((rc = bpe_add_merge(b->model, merges[i][0], merges[i][1])) != 0) mtp_error_context("%s", label);
    if (rc != 0) {
        bpe_tok_destroy(b);
        return NULL;
    }
    return wrap(b, label);
}

// ---- loading: shared by tokenizer.json and GPT-2's files ------------------------
// Fills b->model's tokens from a {"token text": id} object; ids in
// `special`[0..nspecial) hold their plain text `special_text`.
typedef struct {
    int32_t id;
    const char *content;
} added_token;

static int load_vocab(bpe_tok *b, const cJSON *vocab, const added_token *added, int nadded, const char *label,
                      const char *field) {
    int16_t inv[BYTE_LEVEL_CPS];
    byte_level_inverse(inv);
    int32_t max_id = -1;
    int count = 0;
    for (const cJSON *e = vocab->child; e; e = e->next, count++) {
        int id;
        if (tj_int(e, 0, (1 << 30) - 1, &id) != 0)
            return mtp_errorf("%s: %s[\"%.64s\"] is not a token id (an integer >= 0)", label, field,
                              e->string ? e->string : "");
        if (id > max_id) max_id = id;
    }
    for (int i = 0; i < nadded; i++)
        if (added[i].id > max_id) max_id = added[i].id;
    if (max_id < 255)
        return mtp_errorf("%s: %s has %d tokens; a byte-level BPE needs at least 256", label, field, count);
    // Ids run 0..V-1 without gaps, so V is at most the number of entries:
    // checked before anything is sized by the largest id.
    if ((int64_t)max_id >= (int64_t)count + nadded)
        return mtp_errorf("%s: token id %d but only %d tokens: ids must be 0..N-1 without gaps", label,
                          (int)max_id, count + nadded);
    if (!(b->model = bpe_new(max_id + 1, label))) return -1;
    uint8_t *bytes = malloc(BPE_MAX_TOKEN_BYTES);
    if (!bytes) return mtp_errorf("out of memory");
    int rc = 0;
    for (const cJSON *e = vocab->child; e && rc == 0; e = e->next) {
        int id = (int)e->valuedouble, is_added = 0;
        for (int i = 0; i < nadded && !is_added; i++) is_added = added[i].id == id;
        if (is_added) continue;  // set from added_tokens below
        const char *key = e->string ? e->string : "";
        long n = byte_level_decode(key, inv, bytes, BPE_MAX_TOKEN_BYTES);
        if (n <= 0)
            rc = mtp_errorf(
                "%s: %s[\"%.64s\"] (id %d) is not byte-level text (each byte written as its GPT-2 "
                "character)",
                label, field, key, id);
        else
            rc = bpe_set_token(b->model, id, bytes, (size_t)n);
    }
    for (int i = 0; i < nadded && rc == 0; i++) {
        rc =
            bpe_set_token(b->model, added[i].id, (const uint8_t *)added[i].content, strlen(added[i].content));
        if (rc == 0) rc = add_special_id(b, added[i].id, label);
    }
    free(bytes);
    if (rc == 0) rc = bpe_index(b->model);
    return rc;
}

// Adds the merge of byte-level texts left and right (merge number `index`).
static int add_merge_text(bpe_tok *b, const char *left, const char *right, int index, const char *label,
                          const char *where) {
    int16_t inv[BYTE_LEVEL_CPS];
    byte_level_inverse(inv);
    uint8_t buf[BPE_MAX_TOKEN_BYTES];
    int32_t id[2];
    const char *part[2] = {left, right};
    for (int k = 0; k < 2; k++) {
        long n = byte_level_decode(part[k], inv, buf, sizeof buf);
        id[k] = n > 0 ? bpe_find(b->model, buf, (size_t)n) : -1;
        if (id[k] < 0)
            return mtp_errorf("%s: %s %d (\"%.64s %.64s\"): \"%.64s\" is not a token of the vocabulary",
                              label, where, index, left, right, part[k]);
    }
    if (bpe_add_merge(b->model, id[0], id[1]) != 0)
        return mtp_error_context("%s: %s %d (\"%.64s %.64s\")", label, where, index, left, right);
    return 0;
}

// "left right" (one space: byte-level text has none of its own).
static int add_merge_line(bpe_tok *b, char *line, int index, const char *label, const char *where) {
    char *space = strchr(line, ' ');
    if (!space || space == line || !space[1] || strchr(space + 1, ' '))
        return mtp_errorf("%s: %s %d is \"%.64s\", expected two tokens separated by one space", label, where,
                          index, line);
    *space = '\0';
    int rc = add_merge_text(b, line, space + 1, index, label, where);
    *space = ' ';
    return rc;
}

// ---- tokenizer.json ------------------------------------------------------------
static int check_byte_level(const cJSON *o, const char *label, const char *where, int is_pre) {
    if (!cJSON_IsObject(o))
        return mtp_errorf("%s: %s must be {\"type\": \"ByteLevel\", ...} for a byte-level BPE", label, where);
    static const char *const known[] = {"type", "add_prefix_space", "trim_offsets", "use_regex", NULL};
    if (tj_check_keys(o, known, label, where) != 0 ||
        tj_check_string(o, "type", "ByteLevel", label, where) != 0)
        return -1;
    if (tj_check_bool(o, "trim_offsets", -1, 0, label, where) != 0) return -1;
    if (!is_pre)
        return tj_check_bool(o, "add_prefix_space", -1, 0, label, where) ||
               tj_check_bool(o, "use_regex", -1, 0, label, where);
    // Hugging Face's defaults are add_prefix_space = true, use_regex = true:
    // the first must be stated as false (mtp adds no space), the second is
    // the GPT-2 split mtp always does.
    if (!cJSON_GetObjectItemCaseSensitive(o, "add_prefix_space"))
        return mtp_errorf("%s: %s.add_prefix_space must be set to false", label, where);
    return tj_check_bool(o, "add_prefix_space", 0, 1, label, where) ||
           tj_check_bool(o, "use_regex", 1, 0, label, where);
}

static int check_model_fields(const cJSON *m, const char *label) {
    if (tj_check_bpe_model(m, label) != 0) return -1;
    const char *affixes[] = {"continuing_subword_prefix", "end_of_word_suffix"};
    for (int i = 0; i < 2; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, affixes[i]);
        if (v && !cJSON_IsNull(v) && !(cJSON_IsString(v) && !v->valuestring[0]))
            return mtp_errorf("%s: model.%s must be null or \"\" (mtp supports no other value)", label,
                              affixes[i]);
    }
    if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(m, "vocab")))
        return mtp_errorf("%s: model.vocab must be an object {\"token\": id}", label);
    return 0;
}

// added_tokens -> (id, content) pairs; all must be special, plain matches.
static int read_added(const cJSON *root, added_token *out, int *n, const char *label) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
    *n = 0;
    if (!a || cJSON_IsNull(a)) return 0;
    if (!cJSON_IsArray(a)) return mtp_errorf("%s: added_tokens must be a list", label);
    int i = 0;
    for (const cJSON *t = a->child; t; t = t->next, i++) {
        char where[64];
        snprintf(where, sizeof where, "added_tokens[%d]", i);
        if (i >= 64) return mtp_errorf("%s: more than 64 added tokens", label);
        if (!cJSON_IsObject(t)) return mtp_errorf("%s: %s is not an object", label, where);
        static const char *const known[] = {"id",     "content",    "single_word", "lstrip",
                                            "rstrip", "normalized", "special",     NULL};
        if (tj_check_keys(t, known, label, where) != 0) return -1;
        int id;
        if (tj_int(cJSON_GetObjectItemCaseSensitive(t, "id"), 0, (1 << 30) - 1, &id) != 0)
            return mtp_errorf("%s: %s.id must be an integer >= 0", label, where);
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(t, "content");
        if (!cJSON_IsString(content) || !content->valuestring[0])
            return mtp_errorf("%s: %s.content must be a non-empty string", label, where);
        if (strlen(content->valuestring) > BPE_MAX_TOKEN_BYTES)
            return mtp_errorf("%s: %s.content is longer than %d bytes", label, where, BPE_MAX_TOKEN_BYTES);
        if (tj_check_bool(t, "special", 1, 1, label, where) != 0) return -1;
        // normalized only matters with a normalizer, and there is none.
        const char *flags[] = {"single_word", "lstrip", "rstrip"};
        for (int k = 0; k < 3; k++)
            if (tj_check_bool(t, flags[k], 0, 0, label, where) != 0) return -1;
        if (tj_check_bool(t, "normalized", -1, 0, label, where) != 0) return -1;
        for (int k = 0; k < i; k++)
            if (out[k].id == id) return mtp_errorf("%s: %s.id %d appears twice", label, where, id);
        out[i] = (added_token){id, content->valuestring};
    }
    *n = i;
    return 0;
}

tokenizer *tokenizer_bpe_from_json(const struct cJSON *root, const char *label) {
    static const char *const known[] = {
        "version",       "truncation",     "padding", "added_tokens", "normalizer",
        "pre_tokenizer", "post_processor", "decoder", "model",        NULL};
    added_token added[64];
    int nadded = 0;
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    int rc = tj_check_keys(root, known, label, "");
    if (rc == 0) rc = tj_check_string(root, "version", "1.0", label, "");
    if (rc == 0) rc = tj_check_null(root, "truncation", label, "");
    if (rc == 0) rc = tj_check_null(root, "padding", label, "");
    if (rc == 0) rc = tj_check_null(root, "normalizer", label, "");
    if (rc == 0)
        rc = check_byte_level(cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer"), label, "pre_tokenizer",
                              1);
    if (rc == 0)
        rc = check_byte_level(cJSON_GetObjectItemCaseSensitive(root, "decoder"), label, "decoder", 0);
    if (rc == 0) {
        const cJSON *pp = cJSON_GetObjectItemCaseSensitive(root, "post_processor");
        if (pp && !cJSON_IsNull(pp)) rc = check_byte_level(pp, label, "post_processor", 0);
    }
    if (rc == 0) rc = check_model_fields(model, label);
    if (rc == 0) rc = read_added(root, added, &nadded, label);
    bpe_tok *b = rc == 0 ? mtp_calloc(1, sizeof *b, "BPE tokenizer") : NULL;
    if (!b) return NULL;
    rc = load_vocab(b, cJSON_GetObjectItemCaseSensitive(model, "vocab"), added, nadded, label, "model.vocab");
    const cJSON *merges = cJSON_GetObjectItemCaseSensitive(model, "merges");
    int i = 0;
    for (const cJSON *m = merges->child; m && rc == 0; m = m->next, i++) {
        if (cJSON_IsString(m)) {
            rc = add_merge_line(b, m->valuestring, i, label, "model.merges");
        } else if (cJSON_IsArray(m) && cJSON_GetArraySize(m) == 2 && cJSON_IsString(m->child) &&
                   cJSON_IsString(m->child->next)) {
            // The newer form: ["left", "right"].
            rc = add_merge_text(b, m->child->valuestring, m->child->next->valuestring, i, label,
                                "model.merges");
        } else {
            rc = mtp_errorf("%s: model.merges[%d] must be \"left right\" or [\"left\", \"right\"]", label, i);
        }
    }
    if (rc != 0) {
        bpe_tok_destroy(b);
        return NULL;
    }
    return wrap(b, label);
}

// ---- GPT-2's encoder.json + vocab.bpe ----------------------------------------------
tokenizer *tokenizer_load_gpt2(const char *dir) {
    char enc_path[4096], bpe_path[4096];
    if (fs_join(enc_path, sizeof enc_path, dir, "encoder.json") != 0 ||
        fs_join(bpe_path, sizeof bpe_path, dir, "vocab.bpe") != 0)
        return NULL;
    if (!fs_is_file(bpe_path)) {
        mtp_errorf("'%s' has encoder.json but no vocab.bpe (GPT-2's tokenizer needs both)", dir);
        return NULL;
    }
    size_t enc_len = 0, bpe_len = 0;
    char *enc = fs_read_all(enc_path, GPT2_FILE_MAX, &enc_len);
    char *merges = enc ? fs_read_all(bpe_path, GPT2_FILE_MAX, &bpe_len) : NULL;
    cJSON *root = NULL;
    bpe_tok *b = NULL;
    int rc = merges ? 0 : -1;
    if (rc == 0 && (memchr(enc, '\0', enc_len) || memchr(merges, '\0', bpe_len)))
        rc = mtp_errorf("'%s': encoder.json or vocab.bpe holds a NUL byte: not GPT-2's files", dir);
    if (rc == 0 && !(root = json_parse_all(enc, enc_len))) rc = mtp_errorf("%s: not valid JSON", enc_path);
    if (rc == 0 && !cJSON_IsObject(root)) rc = mtp_errorf("%s: expected an object {\"token\": id}", enc_path);
    if (rc == 0 && !(b = mtp_calloc(1, sizeof *b, "BPE tokenizer"))) rc = -1;
    if (rc == 0) {
        // GPT-2's one special token lives in encoder.json.
        const cJSON *eot = cJSON_GetObjectItemCaseSensitive(root, eot_text);
        added_token added = {0, eot_text};
        int id = 0;
        if (!eot || tj_int(eot, 0, (1 << 30) - 1, &id) != 0)
            rc = mtp_errorf("%s: no \"%s\" token with an integer id", enc_path, eot_text);
        added.id = id;
        if (rc == 0) rc = load_vocab(b, root, &added, 1, enc_path, "encoder.json");
    }
    // vocab.bpe: an optional "#version" line, then one merge per line.
    char *line = merges;
    int index = 0, lineno = 0;
    while (rc == 0 && line && *line) {
        char *end = strchr(line, '\n');
        if (end) *end = '\0';
        size_t n = strlen(line);
        if (n && line[n - 1] == '\r') line[n - 1] = '\0';
        lineno++;
        if (line[0] && !(lineno == 1 && line[0] == '#'))
            rc = add_merge_line(b, line, index++, bpe_path, "merge");
        line = end ? end + 1 : NULL;
    }
    cJSON_Delete(root);
    free(enc);
    free(merges);
    if (rc != 0) {
        bpe_tok_destroy(b);
        return NULL;
    }
    return wrap(b, enc_path);
}
