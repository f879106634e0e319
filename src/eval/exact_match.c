// exact_match.c: JSONL items, the trim-and-compare rule, per-group tallies
// (see exact_match.h).
#include "eval/exact_match.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/fsutil.h"
#include "core/inflate.h"

#define MAX_FILE_BYTES ((size_t)1 << 31)

static int is_blank(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

// Narrows [*s, *s + *len) to its non-blank middle.
static void trim(const char **s, size_t *len) {
    while (*len > 0 && is_blank(**s)) (*s)++, (*len)--;
    while (*len > 0 && is_blank((*s)[*len - 1])) (*len)--;
}

int exact_match_compare(const char *text, size_t len, const char *answer) {
    size_t alen = strlen(answer);
    trim(&text, &len);
    trim(&answer, &alen);
    return len == alen && memcmp(text, answer, len) == 0;
}

static char *copy_string(const char *s) {
    size_t n = strlen(s) + 1;
    char *c = mtp_malloc(n, "item text");
    if (c) memcpy(c, s, n);
    return c;
}

// The string field `key` of object o: *out is a copy, or NULL when the field
// is absent and optional.
static int string_field(const cJSON *o, const char *key, int required, const char *path, long line,
                        char **out) {
    *out = NULL;
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!f) {
        if (!required) return 0;
        return mtp_errorf(
            "%s:%ld: no \"%s\" field: each line must be {\"prompt\": \"...\", \"answer\": \"...\"} with an "
            "optional \"group\"",
            path, line, key);
    }
    if (!cJSON_IsString(f) || !f->valuestring)
        return mtp_errorf("%s:%ld: \"%s\" must be a string", path, line, key);
    return (*out = copy_string(f->valuestring)) ? 0 : -1;
}

static int parse_line(const char *path, long line, const char *text, exact_match_item *item) {
    memset(item, 0, sizeof *item);
    item->line = line;
    const char *end = NULL;
    cJSON *o = cJSON_ParseWithOpts(text, &end, 1);
    if (!o)
        return mtp_errorf("%s:%ld: not valid JSON near byte %ld: expected {\"prompt\": ..., \"answer\": ...}",
                          path, line, end ? (long)(end - text) : 0L);
    int rc = 0;
    if (!cJSON_IsObject(o))
        rc = mtp_errorf("%s:%ld: a JSON object {\"prompt\": ..., \"answer\": ...} expected", path, line);
    else if (string_field(o, "prompt", 1, path, line, &item->prompt) ||
             string_field(o, "answer", 1, path, line, &item->answer) ||
             string_field(o, "group", 0, path, line, &item->group))
        rc = -1;
    cJSON_Delete(o);
    return rc;
}

static void item_free(exact_match_item *item) {
    free(item->prompt);
    free(item->answer);
    free(item->group);
}

int exact_match_read(const char *path, long max_items, exact_match_item **items, long *count) {
    *items = NULL;
    *count = 0;
    if (!fs_is_file(path)) return mtp_errorf("%s: no such file", path);
    size_t len = 0;
    char *buf = gzip_read_file(path, MAX_FILE_BYTES, &len);
    if (!buf) return -1;
    long cap = 0, n = 0;
    exact_match_item *list = NULL;
    int rc = 0;
    char *line = buf;
    for (long lineno = 1; line < buf + len && (max_items <= 0 || n < max_items); lineno++) {
        char *nl = memchr(line, '\n', (size_t)(buf + len - line));
        char *next = nl ? nl + 1 : buf + len;
        *(nl ? nl : buf + len) = '\0';  // buf has a NUL after its last byte
        const char *s = line;
        size_t l = strlen(line);
        trim(&s, &l);
        line = next;
        if (l == 0) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 256;
            exact_match_item *grown = realloc(list, sizeof *list * (size_t)cap);
            if (!grown) {
                rc = mtp_errorf("out of memory reading %s", path);
                break;
            }
            list = grown;
        }
        if (parse_line(path, lineno, s, &list[n]) != 0) {
            item_free(&list[n]);
            rc = -1;
            break;
        }
        n++;
    }
    free(buf);
    if (rc == 0 && n == 0)
        rc = mtp_errorf("%s has no items: give one JSON object per line, {\"prompt\": ..., \"answer\": ...}",
                        path);
    if (rc != 0) {
        exact_match_items_free(list, n);
        return -1;
    }
    *items = list;
    *count = n;
    return 0;
}

void exact_match_items_free(exact_match_item *items, long count) {
    for (long i = 0; items && i < count; i++) item_free(&items[i]);
    free(items);
}

void exact_match_tally_init(exact_match_tally *t) {
    memset(t, 0, sizeof *t);
}

int exact_match_tally_add(exact_match_tally *t, const char *group, int correct) {
    correct = correct != 0;
    t->n++;
    t->correct += correct;
    if (!group) return 0;
    // groups are few and items usually come grouped: the last group first, then a scan
    int g = t->n_groups - 1;
    if (g < 0 || strcmp(t->groups[g].name, group) != 0)
        for (g = 0; g < t->n_groups && strcmp(t->groups[g].name, group) != 0; g++) continue;
    if (g == t->n_groups) {
        if (t->n_groups == t->cap) {
            int cap = t->cap ? 2 * t->cap : 16;
            exact_match_group *grown = realloc(t->groups, sizeof *grown * (size_t)cap);
            if (!grown) return mtp_errorf("out of memory counting groups");
            t->groups = grown;
            t->cap = cap;
        }
        exact_match_group *ng = &t->groups[g];
        memset(ng, 0, sizeof *ng);
        if (!(ng->name = copy_string(group))) return -1;
        t->n_groups++;
    }
    t->groups[g].n++;
    t->groups[g].correct += correct;
    return 0;
}

void exact_match_tally_free(exact_match_tally *t) {
    for (int g = 0; g < t->n_groups; g++) free(t->groups[g].name);
    free(t->groups);
    memset(t, 0, sizeof *t);
}

double exact_match_accuracy(long correct, long n) {
    return n > 0 ? (double)correct / (double)n : 0.0;
}

char *exact_match_tally_json(const exact_match_tally *t) {
    cJSON *root = cJSON_CreateObject(), *groups = cJSON_CreateObject();
    if (!root || !groups) {
        cJSON_Delete(root);
        cJSON_Delete(groups);
        mtp_errorf("out of memory building the JSON report");
        return NULL;
    }
    cJSON_AddNumberToObject(root, "accuracy", exact_match_accuracy(t->correct, t->n));
    cJSON_AddNumberToObject(root, "correct", (double)t->correct);
    cJSON_AddNumberToObject(root, "items", (double)t->n);
    cJSON_AddItemToObject(root, "groups", groups);
    int ok = 1;
    for (int g = 0; g < t->n_groups && ok; g++) {
        const exact_match_group *eg = &t->groups[g];
        cJSON *o = cJSON_AddObjectToObject(groups, eg->name);
        ok = o && cJSON_AddNumberToObject(o, "accuracy", exact_match_accuracy(eg->correct, eg->n)) &&
             cJSON_AddNumberToObject(o, "correct", (double)eg->correct) &&
             cJSON_AddNumberToObject(o, "n", (double)eg->n);
    }
    char *printed = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    char *out = printed ? copy_string(printed) : NULL;
    cJSON_free(printed);
    if (!out) mtp_errorf("out of memory printing the JSON report");
    return out;
}
