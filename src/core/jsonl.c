// jsonl.c: see jsonl.h.
#include "core/jsonl.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/fsutil.h"

int jsonl_put(FILE *f, cJSON *obj) {
    char *text = obj ? cJSON_PrintUnformatted(obj) : NULL;
    cJSON_Delete(obj);
    if (!text) return mtp_errorf("out of memory writing JSON");
    int rc =
        fputs(text, f) < 0 || fputc('\n', f) == EOF ? mtp_errorf("cannot write JSON: is the disk full?") : 0;
    free(text);
    return rc;
}

cJSON *json_number_or_null(double x) {
    return isfinite(x) ? cJSON_CreateNumber(x) : cJSON_CreateNull();
}

cJSON *json_parse_all(const char *text, size_t len) {
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!j) return NULL;
    for (const char *p = end; p < text + len; p++)
        if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
            cJSON_Delete(j);
            return NULL;
        }
    return j;
}

size_t json_rewrite_nul_escapes(char *s, size_t n, char c) {
    static const char hex[] = "0123456789abcdef";
    size_t count = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        if (s[i] != '\\') continue;
        if (s[i + 1] == 'u' && i + 5 < n && !memcmp(s + i + 2, "0000", 4)) {
            s[i + 4] = hex[(c >> 4) & 7];
            s[i + 5] = hex[c & 15];
            count++;
        }
        i++;  // the escaped character (an escaped backslash starts no escape)
    }
    return count;
}

const char *json_repeated_key(const cJSON *o) {
    for (const cJSON *a = o->child; a; a = a->next)
        for (const cJSON *b = a->next; b; b = b->next)
            if (a->string && b->string && !strcmp(a->string, b->string)) return a->string;
    return NULL;
}

cJSON *json_read_object_file(const char *dir, const char *name, size_t max_bytes) {
    char path[4096];
    if (fs_join(path, sizeof path, dir, name) != 0) return NULL;
    size_t len = 0;
    char *text = fs_read_all(path, max_bytes, &len);
    if (!text) return NULL;
    cJSON *j = json_parse_all(text, len);
    free(text);
    if (!j || !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        mtp_errorf("%s: not a JSON object", path);
        return NULL;
    }
    const char *twice = json_repeated_key(j);
    if (twice) {
        mtp_errorf("%s: key \"%s\" appears twice", path, twice);
        cJSON_Delete(j);
        return NULL;
    }
    return j;
}
