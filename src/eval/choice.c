// choice.c: see choice.h.
#include "eval/choice.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/fsutil.h"
#include "core/inflate.h"
#include "core/jsonl.h"

#define MAX_FILE_BYTES ((size_t)1 << 30)
#define HELLASWAG_LINES 6  // context, gold, four endings
#define HELLASWAG_ENDINGS 4

const char *choice_format_name(choice_format f) {
    return f == CHOICE_HELLASWAG ? "hellaswag" : f == CHOICE_GAUNTLET ? "gauntlet" : "auto";
}

const char *choice_kind_name(choice_kind k) {
    return k == CHOICE_SCHEMA ? "schema" : "multiple_choice";
}

int choice_best(const double *scores, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (scores[i] > scores[best]) best = i;
    return best;
}

static int is_blank(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static char *concat(const char *a, size_t na, const char *b, size_t nb) {
    char *s = mtp_malloc(na + nb + 1, "choice text");
    if (!s) return NULL;
    memcpy(s, a, na);
    memcpy(s + na, b, nb);
    s[na + nb] = '\0';
    return s;
}

// option = (context + the delimiter's body, the delimiter's trailing blanks +
// choice); see choice.h for the rule.
static int make_option(choice_option *o, const char *context, const char *choice, const char *delim) {
    size_t nd = strlen(delim), body = nd, nc = strlen(context);
    while (body > 0 && is_blank(delim[body - 1])) body--;
    if (body == 0 && nc > 0 && is_blank(context[nc - 1])) nd = 0;  // the blanks are already there
    o->context = concat(context, nc, delim, body);
    o->continuation = concat(delim + body, nd - body, choice, strlen(choice));
    o->choice_bytes = strlen(choice);
    return o->context && o->continuation ? 0 : -1;
}

static void item_free(choice_item *it) {
    for (int i = 0; i < it->n_options; i++) {
        free(it->options[i].context);
        free(it->options[i].continuation);
    }
    free(it->options);
    memset(it, 0, sizeof *it);
}

void choice_free(choice_set *set) {
    for (int i = 0; i < set->n_items; i++) item_free(&set->items[i]);
    free(set->items);
    memset(set, 0, sizeof *set);
}

static int push_item(choice_set *set, int *cap, choice_item *it) {
    if (set->n_items == *cap) {
        int grown_cap = *cap ? 2 * *cap : 256;
        choice_item *grown = realloc(set->items, sizeof *grown * (size_t)grown_cap);
        if (!grown) return mtp_errorf("out of memory for %d choice items", grown_cap);
        set->items = grown;
        *cap = grown_cap;
    }
    set->items[set->n_items++] = *it;
    return 0;
}

// ---- gauntlet JSONL ---------------------------------------------------------

// A string array field of >= 2 non-empty strings.
static int string_array(const cJSON *obj, const char *field, const char *path, long line, const cJSON **out,
                        int *n) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(obj, field);
    if (!a) return mtp_errorf("%s:%ld: missing \"%s\" (an array of at least 2 strings)", path, line, field);
    if (!cJSON_IsArray(a))
        return mtp_errorf("%s:%ld: \"%s\" is not an array (want an array of at least 2 strings)", path, line,
                          field);
    *n = cJSON_GetArraySize(a);
    if (*n < 2)
        return mtp_errorf("%s:%ld: \"%s\" has %d entries; an item needs at least 2", path, line, field, *n);
    int i = 0;
    for (const cJSON *e = a->child; e; e = e->next, i++) {
        if (!cJSON_IsString(e)) return mtp_errorf("%s:%ld: \"%s\"[%d] is not a string", path, line, field, i);
        if (!e->valuestring[0]) return mtp_errorf("%s:%ld: \"%s\"[%d] is empty", path, line, field, i);
    }
    *out = a;
    return 0;
}

static int gold_field(const cJSON *obj, int n, const char *path, long line, int *gold) {
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(obj, "gold");
    if (!g) return mtp_errorf("%s:%ld: missing \"gold\" (the index of the right choice)", path, line);
    if (!cJSON_IsNumber(g) || g->valuedouble != floor(g->valuedouble))
        return mtp_errorf("%s:%ld: \"gold\" is not an integer", path, line);
    if (g->valuedouble < 0 || g->valuedouble >= n)
        return mtp_errorf("%s:%ld: gold %.0f is out of range: the item has %d choices (0..%d)", path, line,
                          g->valuedouble, n, n - 1);
    *gold = (int)g->valuedouble;
    return 0;
}

// The kind of the first item, or -1 with an error saying why the set is not
// a choice task.
static int gauntlet_kind(const cJSON *obj, const char *path, long line, choice_kind *kind) {
    if (cJSON_GetObjectItemCaseSensitive(obj, "query")) {
        *kind = CHOICE_MULTIPLE;
        return 0;
    }
    if (cJSON_GetObjectItemCaseSensitive(obj, "context_options")) {
        *kind = CHOICE_SCHEMA;
        return 0;
    }
    int has_context = cJSON_GetObjectItemCaseSensitive(obj, "context") != NULL;
    if (has_context && cJSON_GetObjectItemCaseSensitive(obj, "continuation"))
        return mtp_errorf(
            "%s:%ld: {context, continuation} without choices is a completion task (LAMBADA), not multiple "
            "choice: eval-choice reads {query, choices, gold} or {context_options, continuation, gold}",
            path, line);
    if (has_context && cJSON_GetObjectItemCaseSensitive(obj, "answer"))
        return mtp_errorf(
            "%s:%ld: {context, answer} is a free-answer task (TriviaQA, GSM8K), not multiple choice: "
            "eval-choice reads {query, choices, gold} or {context_options, continuation, gold}",
            path, line);
    return mtp_errorf(
        "%s:%ld: no \"query\" or \"context_options\" field: eval-choice reads {query, choices, gold} or "
        "{context_options, continuation, gold}",
        path, line);
}

static int gauntlet_item(const cJSON *obj, choice_kind kind, const char *delim, const char *path, long line,
                         choice_item *it) {
    memset(it, 0, sizeof *it);
    it->line = line;
    // the text every option shares: the question before each choice, or the
    // continuation after each context option
    const char *shared = kind == CHOICE_MULTIPLE ? "query" : "continuation";
    const cJSON *fixed = cJSON_GetObjectItemCaseSensitive(obj, shared);
    if (!fixed)
        return mtp_errorf(
            "%s:%ld: missing \"%s\" (%s)", path, line, shared,
            kind == CHOICE_MULTIPLE ? "the question text" : "the text scored after each context");
    if (!cJSON_IsString(fixed) || (kind == CHOICE_SCHEMA && !fixed->valuestring[0]))
        return mtp_errorf("%s:%ld: \"%s\" is not a %sstring", path, line, shared,
                          kind == CHOICE_SCHEMA ? "non-empty " : "");
    const cJSON *list = NULL;
    int n = 0;
    if (string_array(obj, kind == CHOICE_MULTIPLE ? "choices" : "context_options", path, line, &list, &n) ||
        gold_field(obj, n, path, line, &it->gold))
        return -1;
    if (!(it->options = mtp_calloc((size_t)n, sizeof *it->options, "choice options"))) return -1;
    it->n_options = n;
    int i = 0;
    for (const cJSON *e = list->child; e; e = e->next, i++) {
        const char *context = kind == CHOICE_MULTIPLE ? fixed->valuestring : e->valuestring,
                   *continuation = kind == CHOICE_MULTIPLE ? e->valuestring : fixed->valuestring;
        if (make_option(&it->options[i], context, continuation, delim)) return -1;
    }
    return 0;
}

static int load_gauntlet(const char *path, char *text, size_t len, const char *delim, int max_items,
                         choice_set *set) {
    int cap = 0;
    long line = 0;
    for (size_t at = 0; at < len && (!max_items || set->n_items < max_items);) {
        size_t end = at;
        while (end < len && text[end] != '\n') end++;
        line++;
        size_t b = at;
        while (b < end && is_blank(text[b])) b++;
        if (b < end) {
            cJSON *obj = json_parse_all(text + at, end - at);
            if (!cJSON_IsObject(obj)) {
                cJSON_Delete(obj);
                return mtp_errorf("%s:%ld: not one JSON object (gauntlet files hold one JSON item per line)",
                                  path, line);
            }
            choice_item it;
            memset(&it, 0, sizeof it);
            int rc = set->n_items == 0 ? gauntlet_kind(obj, path, line, &set->kind) : 0;
            if (rc == 0) rc = gauntlet_item(obj, set->kind, delim, path, line, &it);
            cJSON_Delete(obj);
            if (rc == 0) rc = push_item(set, &cap, &it);
            if (rc) {
                item_free(&it);
                return -1;
            }
        }
        at = end + 1;
    }
    return 0;
}

// ---- HellaSwag text ------------------------------------------------------

static int load_hellaswag(const char *path, char *text, size_t len, const char *delim, int max_items,
                          choice_set *set) {
    // cut into NUL-terminated lines in place, dropping CRs and a final newline
    size_t n_lines = 0, cap_lines = 0;
    char **lines = NULL;
    for (size_t at = 0; at < len;) {
        size_t end = at;
        while (end < len && text[end] != '\n') end++;
        if (end > at && text[end - 1] == '\r') text[end - 1] = '\0';
        text[end] = '\0';  // text has a NUL after len: fs_read_all
        if (n_lines == cap_lines) {
            cap_lines = cap_lines ? 2 * cap_lines : 1024;
            char **grown = realloc(lines, sizeof *lines * cap_lines);
            if (!grown) {
                free(lines);
                return mtp_errorf("out of memory reading %s", path);
            }
            lines = grown;
        }
        lines[n_lines++] = text + at;
        at = end + 1;
    }
    while (n_lines > 0 && !lines[n_lines - 1][0]) n_lines--;  // blank lines at the end
    int rc = 0, cap = 0;
    if (n_lines % HELLASWAG_LINES) {
        rc = mtp_errorf(
            "%s: %zu lines is not a multiple of %d: hellaswag files hold %d lines per item (context, gold "
            "0-3, "
            "four endings)",
            path, n_lines, HELLASWAG_LINES, HELLASWAG_LINES);
    }
    for (size_t i = 0; rc == 0 && i < n_lines && (!max_items || set->n_items < max_items);
         i += HELLASWAG_LINES) {
        choice_item it;
        memset(&it, 0, sizeof it);
        it.line = (long)i + 1;
        const char *g = lines[i + 1];
        if (!(g[0] >= '0' && g[0] < '0' + HELLASWAG_ENDINGS && g[1] == '\0')) {
            rc = mtp_errorf("%s:%zu: gold '%.20s' is not 0, 1, 2 or 3 (line 2 of each 6-line item)", path,
                            i + 2, g);
            break;
        }
        it.gold = g[0] - '0';
        if (!(it.options = mtp_calloc(HELLASWAG_ENDINGS, sizeof *it.options, "choice options"))) {
            rc = -1;
            break;
        }
        it.n_options = HELLASWAG_ENDINGS;
        for (int k = 0; rc == 0 && k < HELLASWAG_ENDINGS; k++) {
            const char *ending = lines[i + 2 + (size_t)k];
            if (!ending[0])
                rc = mtp_errorf("%s:%zu: ending %d is empty", path, i + 3 + (size_t)k, k);
            else if (make_option(&it.options[k], lines[i], ending, delim))
                rc = -1;
        }
        if (rc == 0) rc = push_item(set, &cap, &it);
        if (rc) item_free(&it);
    }
    free(lines);
    return rc;
}

int choice_load(const char *path, choice_format format, const char *delimiter, int max_items,
                choice_set *set) {
    memset(set, 0, sizeof *set);
    size_t len;
    char *text = gzip_read_file(path, MAX_FILE_BYTES, &len);
    if (!text) return -1;
    int rc = 0;
    if (len >= 3 && !memcmp(text, "BZh", 3)) {
        rc = mtp_errorf(
            "%s is bzip2-compressed: decompress it first (bzcat %s > items.txt) and pass that file", path,
            path);
    } else {
        // a UTF-8 byte-order mark (editors on Windows write one) is not text
        size_t bom = len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3) ? 3 : 0, b = bom;
        while (b < len && is_blank(text[b])) b++;
        if (b == len) {
            rc = mtp_errorf("%s is empty: expected choice items (gauntlet JSONL or hellaswag text)", path);
        } else {
            if (format == CHOICE_AUTO) format = text[b] == '{' ? CHOICE_GAUNTLET : CHOICE_HELLASWAG;
            set->format = format;
            rc = format == CHOICE_GAUNTLET
                     ? load_gauntlet(path, text + bom, len - bom, delimiter, max_items, set)
                     : load_hellaswag(path, text + bom, len - bom, delimiter, max_items, set);
            if (rc == 0 && set->n_items == 0) rc = mtp_errorf("%s holds no items", path);
        }
    }
    free(text);
    if (rc) choice_free(set);
    return rc ? -1 : 0;
}
