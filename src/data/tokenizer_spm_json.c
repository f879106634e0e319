// tokenizer_spm_json.c: SentencePiece-style BPE (spm.h) as a Hugging Face
// tokenizer.json of Llama type: written for data directories and
// checkpoints (vocab, merges derived from the pieces' scores as Hugging
// Face's LlamaConverter does, byte_fallback, the normalizer that adds the
// dummy prefix and turns spaces into U+2581), and read back, along with the
// tokenizer.json files published with Llama models.
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/utf8.h"
#include "data/spm.h"

#define SPACE "\xe2\x96\x81"

typedef struct {
    int left, right;
    float score;
    int order;
} pair;

static int by_score(const void *a, const void *b) {
    const pair *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return x->order - y->order;  // stable
}

// The merges Hugging Face derives from a SentencePiece model: every split of
// a piece into two pieces, ordered by the piece's score (highest first).
static pair *derive_merges(const spm_model *m, int *count) {
    int cap = 1024, n = 0;
    pair *p = malloc((size_t)cap * sizeof *p);
    if (!p) return NULL;
    for (int id = 0; id < m->n; id++) {
        const spm_piece *x = &m->pieces[id];
        int first = n;
        for (uint32_t k = 1; k < x->len; k++) {
            if (((uint8_t)x->s[k] & 0xC0) == 0x80) continue;  // split between characters only
            int l = spm_find(m, x->s, k), r = spm_find(m, x->s + k, x->len - k);
            if (l < 0 || r < 0) continue;
            if (n == cap) {
                pair *g = realloc(p, (size_t)(cap *= 2) * sizeof *g);
                if (!g) {
                    free(p);
                    return NULL;
                }
                p = g;
            }
            p[n++] = (pair){l, r, x->score, 0};
        }
        // within a piece, by the ids of the left then the right part
        for (int i = first + 1; i < n; i++)
            for (int j = i; j > first && (p[j - 1].left > p[j].left ||
                                          (p[j - 1].left == p[j].left && p[j - 1].right > p[j].right));
                 j--) {
                pair t = p[j];
                p[j] = p[j - 1];
                p[j - 1] = t;
            }
    }
    for (int i = 0; i < n; i++) p[i].order = i;
    qsort(p, (size_t)n, sizeof *p, by_score);
    *count = n;
    return p;
}

// Llama's: <s> before a sequence (when the model has one), as Hugging Face
// adds it with add_special_tokens.
static void add_post_processor(cJSON *j, const spm_model *m) {
    if (m->bos_id < 0) {
        cJSON_AddNullToObject(j, "post_processor");
        return;
    }
    const char *bos = m->pieces[m->bos_id].s;
    cJSON *pp = cJSON_AddObjectToObject(j, "post_processor");
    cJSON_AddStringToObject(pp, "type", "TemplateProcessing");
    const char *kinds[2] = {"single", "pair"};
    for (int k = 0; k < 2; k++) {
        cJSON *seq = cJSON_AddArrayToObject(pp, kinds[k]);
        for (int part = 0; part <= k; part++) {
            cJSON *st = cJSON_CreateObject(), *sq = cJSON_CreateObject();
            cJSON *a = cJSON_AddObjectToObject(st, "SpecialToken"),
                  *b = cJSON_AddObjectToObject(sq, "Sequence");
            cJSON_AddStringToObject(a, "id", bos);
            cJSON_AddNumberToObject(a, "type_id", part);
            cJSON_AddStringToObject(b, "id", part ? "B" : "A");
            cJSON_AddNumberToObject(b, "type_id", part);
            cJSON_AddItemToArray(seq, st);
            cJSON_AddItemToArray(seq, sq);
        }
    }
    cJSON *special = cJSON_AddObjectToObject(cJSON_AddObjectToObject(pp, "special_tokens"), bos);
    cJSON_AddStringToObject(special, "id", bos);
    cJSON_AddItemToArray(cJSON_AddArrayToObject(special, "ids"), cJSON_CreateNumber(m->bos_id));
    cJSON_AddItemToArray(cJSON_AddArrayToObject(special, "tokens"), cJSON_CreateString(bos));
}

static int by_order(const void *a, const void *b) {
    const int x = ((const pair *)a)->order, y = ((const pair *)b)->order;
    return (x > y) - (x < y);
}

char *spm_to_json(const spm_model *m) {
    int nmerges = 0;
    pair *merges = m->hf ? NULL : derive_merges(m, &nmerges);
    if (!m->hf && !merges) {
        mtp_errorf("out of memory writing tokenizer.json");
        return NULL;
    }
    if (m->hf) {  // loaded from a tokenizer.json: its merges, in rank order (ranks may have gaps
                  // where a merge was listed twice)
        merges = calloc((size_t)(m->nmerges ? m->nmerges : 1), sizeof *merges);
        if (!merges) return NULL;
        nmerges = 0;
        for (size_t i = 0; i < m->merges_cap && nmerges < m->nmerges; i++)
            if (m->merges[i].merged != UINT32_MAX)
                merges[nmerges++] =
                    (pair){(int)m->merges[i].left, (int)m->merges[i].right, 0, (int)m->merges[i].rank};
        qsort(merges, (size_t)nmerges, sizeof *merges, by_order);
    }
    cJSON *j = cJSON_CreateObject(), *added = cJSON_AddArrayToObject(j, "added_tokens");
    cJSON_AddStringToObject(j, "version", "1.0");
    cJSON_AddNullToObject(j, "truncation");
    cJSON_AddNullToObject(j, "padding");
    for (int id = 0; id < m->n; id++) {
        int t = m->pieces[id].type;
        if (t != SPM_CONTROL && t != SPM_UNKNOWN && t != SPM_USER) continue;
        cJSON *a = cJSON_CreateObject();
        cJSON_AddNumberToObject(a, "id", id);
        cJSON_AddStringToObject(a, "content", m->pieces[id].s);
        cJSON_AddFalseToObject(a, "single_word");
        cJSON_AddFalseToObject(a, "lstrip");
        cJSON_AddFalseToObject(a, "rstrip");
        cJSON_AddBoolToObject(a, "normalized", t == SPM_USER);
        cJSON_AddBoolToObject(a, "special", t != SPM_USER);
        cJSON_AddItemToArray(added, a);
    }
    if (m->prefix_if_absent) {  // read from a Metaspace pre-tokenizer: written back as one
        cJSON_AddNullToObject(j, "normalizer");
        cJSON *pre = cJSON_AddObjectToObject(j, "pre_tokenizer");
        cJSON_AddStringToObject(pre, "type", "Metaspace");
        cJSON_AddStringToObject(pre, "replacement", SPACE);
        cJSON_AddStringToObject(pre, "prepend_scheme", m->add_dummy_prefix ? "first" : "never");
        cJSON_AddFalseToObject(pre, "split");
    } else if (m->escape_whitespaces) {
        cJSON *norm = cJSON_AddObjectToObject(j, "normalizer"),
              *seq = cJSON_AddArrayToObject(norm, "normalizers");
        cJSON_AddStringToObject(norm, "type", "Sequence");
        if (m->add_dummy_prefix) {
            cJSON *p = cJSON_CreateObject();
            cJSON_AddStringToObject(p, "type", "Prepend");
            cJSON_AddStringToObject(p, "prepend", SPACE);
            cJSON_AddItemToArray(seq, p);
        }
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "type", "Replace");
        cJSON_AddStringToObject(cJSON_AddObjectToObject(r, "pattern"), "String", " ");
        cJSON_AddStringToObject(r, "content", SPACE);
        cJSON_AddItemToArray(seq, r);
    } else {
        cJSON_AddNullToObject(j, "normalizer");
    }
    if (!m->prefix_if_absent) cJSON_AddNullToObject(j, "pre_tokenizer");
    add_post_processor(j, m);
    cJSON *dec = cJSON_AddObjectToObject(j, "decoder"), *ds = cJSON_AddArrayToObject(dec, "decoders");
    cJSON_AddStringToObject(dec, "type", "Sequence");
    cJSON *d1 = cJSON_CreateObject(), *d2 = cJSON_CreateObject(), *d3 = cJSON_CreateObject(),
          *d4 = cJSON_CreateObject();
    cJSON_AddStringToObject(d1, "type", "Replace");
    cJSON_AddStringToObject(cJSON_AddObjectToObject(d1, "pattern"), "String", SPACE);
    cJSON_AddStringToObject(d1, "content", " ");
    cJSON_AddStringToObject(d2, "type", "ByteFallback");
    cJSON_AddStringToObject(d3, "type", "Fuse");
    cJSON_AddStringToObject(d4, "type", "Strip");
    cJSON_AddStringToObject(d4, "content", " ");
    cJSON_AddNumberToObject(d4, "start", m->add_dummy_prefix ? 1 : 0);
    cJSON_AddNumberToObject(d4, "stop", 0);
    cJSON_AddItemToArray(ds, d1);
    cJSON_AddItemToArray(ds, d2);
    cJSON_AddItemToArray(ds, d3);
    cJSON_AddItemToArray(ds, d4);
    cJSON *model = cJSON_AddObjectToObject(j, "model");
    cJSON_AddStringToObject(model, "type", "BPE");
    cJSON_AddNullToObject(model, "dropout");
    cJSON_AddStringToObject(model, "unk_token", m->pieces[m->unk_id].s);
    cJSON_AddTrueToObject(model, "fuse_unk");
    cJSON_AddBoolToObject(model, "byte_fallback", m->byte_fallback);
    cJSON *vocab = cJSON_AddObjectToObject(model, "vocab"), *ml = cJSON_AddArrayToObject(model, "merges");
    for (int id = 0; id < m->n; id++) cJSON_AddNumberToObject(vocab, m->pieces[id].s, id);
    for (int i = 0; i < nmerges; i++) {
        cJSON *pr = cJSON_CreateArray();
        cJSON_AddItemToArray(pr, cJSON_CreateString(m->pieces[merges[i].left].s));
        cJSON_AddItemToArray(pr, cJSON_CreateString(m->pieces[merges[i].right].s));
        cJSON_AddItemToArray(ml, pr);
    }
    free(merges);
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    if (!s) mtp_errorf("out of memory writing tokenizer.json");
    return s;
}

// ---- reading ----------------------------------------------------------------
static int is_type(const cJSON *o, const char *type) {
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "type");
    return cJSON_IsString(t) && !strcmp(t->valuestring, type);
}

static const char *string_at(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

// The two text steps Llama's tokenizer.json files use: a normalizer
// Sequence[Prepend(U+2581), Replace(" ", U+2581)], or a Metaspace
// pre-tokenizer that does the same without splitting.
static int read_text_steps(spm_model *m, const cJSON *root, const char *label) {
    const cJSON *norm = cJSON_GetObjectItemCaseSensitive(root, "normalizer"),
                *pre = cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer");
    if (norm && !cJSON_IsNull(norm)) {
        const cJSON *seq =
            is_type(norm, "Sequence") ? cJSON_GetObjectItemCaseSensitive(norm, "normalizers") : NULL;
        const cJSON *item = seq ? seq->child : norm;
        for (; item; item = seq ? item->next : NULL) {
            const char *prep = string_at(item, "prepend"), *content = string_at(item, "content");
            const cJSON *pat = cJSON_GetObjectItemCaseSensitive(item, "pattern");
            const char *from = pat ? string_at(pat, "String") : NULL;
            if (is_type(item, "Prepend") && prep && !strcmp(prep, SPACE))
                m->add_dummy_prefix = 1;
            else if (is_type(item, "Replace") && from && content && !strcmp(from, " ") &&
                     !strcmp(content, SPACE))
                m->escape_whitespaces = 1;
            else
                return mtp_errorf("%s: normalizer step '%s' is not one of Llama's (Prepend, Replace)", label,
                                  string_at(item, "type") ? string_at(item, "type") : "?");
            if (!seq) break;
        }
    }
    if (pre && !cJSON_IsNull(pre)) {
        const char *rep = string_at(pre, "replacement"), *scheme = string_at(pre, "prepend_scheme");
        const cJSON *split = cJSON_GetObjectItemCaseSensitive(pre, "split"),
                    *add = cJSON_GetObjectItemCaseSensitive(pre, "add_prefix_space");
        if (!is_type(pre, "Metaspace") || !rep || strcmp(rep, SPACE) || cJSON_IsTrue(split) || !split)
            return mtp_errorf("%s: pre_tokenizer is not Llama's (Metaspace with split false)", label);
        m->escape_whitespaces = 1;
        m->add_dummy_prefix = scheme ? strcmp(scheme, "never") != 0 : cJSON_IsTrue(add);
        // Metaspace prepends its replacement only to text that does not start with one (a
        // normalizer's Prepend, above, always does)
        m->prefix_if_absent = 1;
    }
    return 0;
}

static int add_merge(spm_model *m, int left, int right, int merged, int rank) {
    size_t mask = m->merges_cap - 1;
    size_t i =
        ((uint64_t)left * 0x9E3779B97F4A7C15ull ^ (uint64_t)right * 0xC2B2AE3D27D4EB4Full) >> 17 & mask;
    for (; m->merges[i].merged != UINT32_MAX; i = (i + 1) & mask)
        if ((int)m->merges[i].left == left && (int)m->merges[i].right == right) {
            m->merges[i].rank = (uint32_t)rank;  // listed again: the last rank wins, as in Hugging Face's
            return 0;
        }
    m->merges[i] = (spm_merge){(uint32_t)left, (uint32_t)right, (uint32_t)merged, (uint32_t)rank};
    m->nmerges++;
    return 0;
}

static int read_merges(spm_model *m, const cJSON *merges, const char *label) {
    int n = cJSON_GetArraySize(merges);
    size_t cap = 16;
    while (cap < 2 * (size_t)n + 2) cap *= 2;
    m->merges = malloc(cap * sizeof *m->merges);
    if (!m->merges) return mtp_errorf("out of memory loading %s", label);
    memset(m->merges, 0xff, cap * sizeof *m->merges);
    m->merges_cap = cap;
    int rank = 0;
    for (const cJSON *e = merges->child; e; e = e->next, rank++) {
        char buf[2 * TOKENIZER_MAX_TOKEN_BYTES + 2];
        const char *l = NULL, *r = NULL;
        if (cJSON_IsString(e)) {  // "left right"
            snprintf(buf, sizeof buf, "%s", e->valuestring);
            char *sp = strchr(buf, ' ');
            if (sp) *sp = '\0', l = buf, r = sp + 1;
        } else if (cJSON_IsArray(e) && cJSON_GetArraySize(e) == 2 && cJSON_IsString(e->child) &&
                   cJSON_IsString(e->child->next)) {
            l = e->child->valuestring, r = e->child->next->valuestring;
        }
        if (!l) return mtp_errorf("%s: merge %d is not \"left right\" or [left, right]", label, rank);
        int li = spm_find(m, l, strlen(l)), ri = spm_find(m, r, strlen(r));
        char joined[2 * TOKENIZER_MAX_TOKEN_BYTES + 2];
        int len = snprintf(joined, sizeof joined, "%s%s", l, r);
        int mi = len > 0 && (size_t)len < sizeof joined ? spm_find(m, joined, (size_t)len) : -1;
        if (li < 0 || ri < 0 || mi < 0)
            return mtp_errorf("%s: merge %d ('%s' '%s') names a piece that is not in the vocabulary", label,
                              rank, l, r);
        add_merge(m, li, ri, mi, rank);
    }
    return 0;
}

// Before the lookup table exists.
static int find_linear(const spm_model *m, const char *s) {
    for (int i = 0; i < m->n; i++)
        if (m->pieces[i].s && !strcmp(m->pieces[i].s, s)) return i;
    return -1;
}

// Ids past the model's vocabulary that added tokens may take.
#define TOKENIZER_MAX_ADDED 65536

tokenizer *tokenizer_spm_from_json(const cJSON *root, const char *label) {
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model"),
                *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab"),
                *merges = cJSON_GetObjectItemCaseSensitive(model, "merges");
    spm_model *m = calloc(1, sizeof *m);
    int n = cJSON_IsObject(vocab) ? cJSON_GetArraySize(vocab) : 0, rc = 0;
    if (!m) {
        mtp_errorf("out of memory loading %s", label);
        return NULL;
    }
    m->hf = 1, m->unk_id = -1, m->bos_id = -1, m->eos_id = -1;
    m->byte_fallback = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(model, "byte_fallback"));
    if (n < 1 || !cJSON_IsArray(merges)) rc = mtp_errorf("%s: model.vocab or model.merges is missing", label);
    // added tokens may follow the model's vocabulary (a <pad> at id n): pieces of their own
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
    int total = n;
    for (const cJSON *a = rc == 0 && cJSON_IsArray(added) ? added->child : NULL; a; a = a->next) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(a, "id");
        if (cJSON_IsNumber(id) && id->valuedouble >= n && id->valuedouble < n + (double)TOKENIZER_MAX_ADDED &&
            id->valueint + 1 > total)
            total = id->valueint + 1;
    }
    if (rc == 0 && !(m->pieces = calloc((size_t)total, sizeof *m->pieces))) rc = mtp_errorf("out of memory");
    for (const cJSON *e = rc ? NULL : vocab->child; e && rc == 0; e = e->next) {
        double id = cJSON_IsNumber(e) ? e->valuedouble : -1;
        size_t len = strlen(e->string);
        if (id < 0 || id >= n || id != (int)id || m->pieces[(int)id].s || !len ||
            len > TOKENIZER_MAX_TOKEN_BYTES)
            rc = mtp_errorf("%s: vocab entry '%s' has id %g; ids must be 0..%d, each once", label, e->string,
                            id, n - 1);
        else if (!(m->pieces[(int)id].s = malloc(len + 1)))
            rc = mtp_errorf("out of memory loading %s", label);
        else {
            spm_piece *p = &m->pieces[(int)id];
            memcpy(p->s, e->string, len + 1);
            p->len = (uint32_t)len;
            p->type = spm_byte_of_piece(p->s, len) >= 0 ? SPM_BYTE : SPM_NORMAL;
        }
    }
    m->n = m->pieces ? total : 0;
    const char *unk = string_at(model, "unk_token");
    for (const cJSON *a = rc == 0 && cJSON_IsArray(added) ? added->child : NULL; a; a = a->next) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(a, "id");
        const char *content = string_at(a, "content");
        if (rc == 0 && cJSON_IsNumber(id) && id->valueint >= n && id->valueint < total && content &&
            !m->pieces[id->valueint].s && *content && strlen(content) <= TOKENIZER_MAX_TOKEN_BYTES) {
            spm_piece *p = &m->pieces[id->valueint];  // past the model's vocabulary
            const size_t len = strlen(content);
            if (!(p->s = malloc(len + 1))) {
                rc = mtp_errorf("out of memory loading %s", label);
                break;
            }
            memcpy(p->s, content, len + 1);
            p->len = (uint32_t)len;
            p->type = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(a, "special")) ? SPM_CONTROL : SPM_USER;
        }
        if (!cJSON_IsNumber(id) || id->valueint < 0 || id->valueint >= total || !content ||
            !m->pieces[id->valueint].s || strcmp(m->pieces[id->valueint].s, content)) {
            rc = mtp_errorf("%s: added token '%s' does not match the vocabulary", label,
                            content ? content : "?");
            break;
        }
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(a, "special")))
            m->pieces[id->valueint].type = SPM_CONTROL;
        if (!strcmp(content, "<s>")) m->bos_id = id->valueint;
        if (!strcmp(content, "</s>")) m->eos_id = id->valueint;
    }
    for (int id = n; rc == 0 && id < total; id++)
        if (!m->pieces[id].s)
            rc = mtp_errorf(
                "%s: id %d, past the %d of model.vocab, is no added token's: the ids after the "
                "vocabulary must each be one",
                label, id, n);
    if (rc == 0 && (!unk || (m->unk_id = find_linear(m, unk)) < 0))
        rc = mtp_errorf("%s: model.unk_token is missing or not in the vocabulary", label);
    if (rc == 0) m->pieces[m->unk_id].type = SPM_UNKNOWN;
    if (rc == 0) rc = read_text_steps(m, root, label);
    if (rc == 0) rc = spm_finish(m, label);
    if (rc == 0) rc = read_merges(m, merges, label);
    if (rc != 0) {
        spm_free(m);
        free(m);
        return NULL;
    }
    return spm_tokenizer(m, label);
}
