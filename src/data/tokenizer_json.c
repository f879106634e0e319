// tokenizer_json.c: see tokenizer_json.h.
#include "data/tokenizer_json.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/jsonl.h"

// "where.key" in messages, or "key" at the top level (where = "").
#define DOT(where) ((where)[0] ? "." : "")

int tj_check_keys(const cJSON *o, const char *const *known, const char *label, const char *where) {
    const char *twice = json_repeated_key(o);
    for (const cJSON *c = o->child; c; c = c->next) {
        int found = 0;
        for (const char *const *k = known; *k && !found; k++) found = c->string && !strcmp(c->string, *k);
        if (!found)
            return mtp_errorf(
                "%s: %s: unexpected key \"%s\" (a setting mtp does not support, or a file from a newer "
                "version)",
                label, where[0] ? where : "top level", c->string ? c->string : "");
    }
    if (twice)
        return mtp_errorf("%s: %s: key \"%s\" appears twice", label, where[0] ? where : "top level", twice);
    return 0;
}

int tj_check_null(const cJSON *o, const char *key, const char *label, const char *where) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (v && !cJSON_IsNull(v))
        return mtp_errorf("%s: %s%s%s must be null (mtp supports no other value)", label, where, DOT(where),
                          key);
    return 0;
}

int tj_check_bool(const cJSON *o, const char *key, int want, int required, const char *label,
                  const char *where) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) return required ? mtp_errorf("%s: %s%s%s is missing", label, where, DOT(where), key) : 0;
    if (!cJSON_IsBool(v))
        return mtp_errorf("%s: %s%s%s must be true or false", label, where, DOT(where), key);
    if (want >= 0 && cJSON_IsTrue(v) != want)
        return mtp_errorf("%s: %s%s%s must be %s (mtp supports no other value)", label, where, DOT(where),
                          key, want ? "true" : "false");
    return 0;
}

int tj_check_string(const cJSON *o, const char *key, const char *want, const char *label, const char *where) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsString(v))
        return mtp_errorf("%s: %s%s%s is missing or not a string", label, where, DOT(where), key);
    if (strcmp(v->valuestring, want) != 0)
        return mtp_errorf("%s: %s%s%s is \"%s\", expected \"%s\"", label, where, DOT(where), key,
                          v->valuestring, want);
    return 0;
}

int tj_check_bpe_model(const cJSON *m, const char *label) {
    static const char *const known[] = {"type",
                                        "dropout",
                                        "unk_token",
                                        "continuing_subword_prefix",
                                        "end_of_word_suffix",
                                        "fuse_unk",
                                        "byte_fallback",
                                        "ignore_merges",
                                        "vocab",
                                        "merges",
                                        NULL};
    static const char *const nulls[] = {"dropout", "unk_token"}, *const falses[] = {"fuse_unk",
                                                                                    "byte_fallback",
                                                                                    "ignore_merges"};
    if (tj_check_keys(m, known, label, "model") != 0 ||
        tj_check_string(m, "type", "BPE", label, "model") != 0)
        return -1;
    for (int i = 0; i < 2; i++)
        if (tj_check_null(m, nulls[i], label, "model") != 0) return -1;
    for (int i = 0; i < 3; i++)
        if (tj_check_bool(m, falses[i], 0, 0, label, "model") != 0) return -1;
    return 0;
}

int tj_int(const cJSON *v, int lo, int hi, int *out) {
    if (!cJSON_IsNumber(v)) return -1;
    double d = v->valuedouble;
    if (!(d >= lo && d <= hi) || d != (double)(int)d) return -1;
    *out = (int)d;
    return 0;
}

char *tj_print_file(cJSON *root, int ok, const char *what) {
    char *printed = ok && root ? cJSON_Print(root) : NULL;
    char *text = NULL;
    if (printed) {
        // Copied into a malloc'd buffer: the caller free()s it, whatever
        // allocator cJSON was set up with.
        size_t n = strlen(printed);
        text = malloc(n + 2);
        if (text) {
            memcpy(text, printed, n);
            text[n] = '\n';
            text[n + 1] = '\0';
        }
        cJSON_free(printed);
    }
    cJSON_Delete(root);
    if (!text) mtp_errorf("out of memory writing %s", what);
    return text;
}
