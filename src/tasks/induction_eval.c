// induction_eval.c: `mtp eval-induction`'s work (tasks/induction.h):
// reading the test stories and scoring them, teacher-forced.
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/fsutil.h"
#include "core/inflate.h"
#include "core/jsonl.h"
#include "core/timer.h"
#include "tasks/induction.h"

#define MAX_FILE_BYTES ((size_t)1 << 30)

int induction_tokenize(void *user, const char *text, size_t len, induction_tokens *out) {
    const tokenizer *tok = user;
    size_t cap = out->cap;
    char piece[TOKENIZER_MAX_TOKEN_BYTES];
    out->n = 0;
    if (tokenizer_encode(tok, text, len, &out->ids, &out->n, &cap)) return -1;
    if (cap > out->cap) {
        size_t *grown = realloc(out->ends, sizeof *grown * cap);
        if (!grown) return mtp_errorf("out of memory for %zu token offsets", cap);
        out->ends = grown;
        out->cap = cap;
    }
    size_t at = 0;
    int leading_space = 0;
    for (size_t i = 0; i < out->n; i++) {
        int n = tokenizer_decode_token(tok, out->ids[i], piece, sizeof piece);
        if (n < 0) return -1;
        if (i == 0) leading_space = n > 0 && piece[0] == ' ';
        at += (size_t)n;
        out->ends[i] = at;
    }
    // a SentencePiece tokenizer of Llama's kind puts a space before the text (its "dummy
    // prefix"), which the first token decodes to: not the text's, so the offsets start after it
    if (at == len + 1 && leading_space) {
        for (size_t i = 0; i < out->n; i++) out->ends[i]--;
        at--;
    }
    if (at != len)
        return mtp_errorf("tokenizer %s decodes %zu bytes of text into %zu bytes: it does not round-trip",
                          tokenizer_name(tok), len, at);
    return 0;
}

void induction_stories_free(induction_story *s, int n) {
    for (int i = 0; i < n; i++) {
        free(s[i].text);
        free(s[i].occ);
    }
    free(s);
}

// A non-negative integer field of o.
static int int_field(const cJSON *o, const char *field, double max, const char *path, long line,
                     const char *what, int k, double *out) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, field);
    if (!cJSON_IsNumber(x) || x->valuedouble < 0 || x->valuedouble > max ||
        x->valuedouble != (double)(long)x->valuedouble)
        return mtp_errorf("%s:%ld: %s %d: \"%s\" is missing or not an integer in [0, %.0f]", path, line, what,
                          k, field, max);
    *out = x->valuedouble;
    return 0;
}

// Checks one line and fills st: the text, the names, and mentions that lie
// inside the text and spell their name.
static int parse_story(const cJSON *j, const char *path, long line, induction_story *st) {
    memset(st, 0, sizeof *st);
    st->line = line;
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(j, "text");
    const cJSON *names = cJSON_GetObjectItemCaseSensitive(j, "names");
    const cJSON *occ = cJSON_GetObjectItemCaseSensitive(j, "occurrences");
    if (!cJSON_IsString(text)) return mtp_errorf("%s:%ld: \"text\" is missing or not a string", path, line);
    if (!cJSON_IsArray(names)) return mtp_errorf("%s:%ld: \"names\" is missing or not an array", path, line);
    if (!cJSON_IsArray(occ))
        return mtp_errorf("%s:%ld: \"occurrences\" is missing or not an array", path, line);
    st->len = strlen(text->valuestring);
    st->n_names = cJSON_GetArraySize(names);
    const char **spelled = mtp_calloc((size_t)st->n_names + 1, sizeof *spelled, "names");
    if (!spelled) return -1;
    int k = 0, rc = 0;
    for (const cJSON *n = names->child; n && rc == 0; n = n->next, k++) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(n, "name");
        if (!cJSON_IsString(name) || !name->valuestring[0])
            rc = mtp_errorf("%s:%ld: names[%d] has no \"name\" string", path, line, k);
        else
            spelled[k] = name->valuestring;
    }
    if (rc == 0 &&
        (!(st->text = strdup(text->valuestring)) ||
         !(st->occ = mtp_calloc((size_t)cJSON_GetArraySize(occ) + 1, sizeof *st->occ, "mentions"))))
        rc = mtp_errorf("out of memory reading %s", path);
    k = 0;
    for (const cJSON *o = occ->child; o && rc == 0; o = o->next, k++) {
        double name = 0, start = 0, end = 0;
        if (int_field(o, "name", st->n_names - 1, path, line, "occurrence", k, &name) ||
            int_field(o, "start", (double)st->len, path, line, "occurrence", k, &start) ||
            int_field(o, "end", (double)st->len, path, line, "occurrence", k, &end)) {
            rc = -1;
            break;
        }
        const char *want = spelled[(int)name];
        size_t a = (size_t)start, b = (size_t)end;
        if (b <= a || b - a != strlen(want) || memcmp(st->text + a, want, b - a))
            rc = mtp_errorf("%s:%ld: occurrence %d (bytes %zu..%zu) does not spell its name '%s'", path, line,
                            k, a, b, want);
        else
            st->occ[st->n_occ++] = (induction_occurrence){(int)name, a, b};
    }
    free(spelled);
    return rc;
}

int induction_stories_read(const char *path, int max, induction_story **out, int *count) {
    size_t len;
    char *buf = gzip_read_file(path, MAX_FILE_BYTES, &len);
    int cap = 0, rc = 0;
    *out = NULL;
    *count = 0;
    if (!buf) return -1;
    long line = 0;
    for (size_t at = 0; at < len && rc == 0 && (!max || *count < max);) {
        size_t end = at;
        while (end < len && buf[end] != '\n') end++;
        line++;
        size_t b = at;
        while (b < end && (buf[b] == ' ' || buf[b] == '\t' || buf[b] == '\r')) b++;
        if (b < end) {
            cJSON *j = json_parse_all(buf + at, end - at);
            if (!cJSON_IsObject(j)) {
                rc = mtp_errorf(
                    "%s:%ld: not one JSON object (test.jsonl from mtp task induction has one story per line)",
                    path, line);
            } else if (*count == cap) {
                cap = cap ? 2 * cap : 128;
                induction_story *grown = realloc(*out, sizeof *grown * (size_t)cap);
                if (!grown)
                    rc = mtp_errorf("out of memory reading %s", path);
                else
                    *out = grown;
            }
            if (rc == 0) {
                rc = parse_story(j, path, line, &(*out)[*count]);
                (*count)++;  // freed with the others even when half filled
            }
            cJSON_Delete(j);
        }
        at = end + 1;
    }
    free(buf);
    if (rc == 0 && *count == 0)
        rc = mtp_errorf("%s holds no stories (make it with mtp task induction)", path);
    if (rc) {
        induction_stories_free(*out, *count);
        *out = NULL;
        *count = 0;
    }
    return rc;
}

int induction_evaluate(loglik_scorer *s, const tokenizer *tok, const induction_story *st, int n,
                       const progress_sink *progress, induction_counts *c, double *seconds) {
    induction_tokens toks = {0};
    int rc = 0;
    double t0 = mtp_now();
    memset(c, 0, sizeof *c);
    for (int i = 0; i < n && rc == 0; i++) {
        rc = induction_tokenize((void *)tok, st[i].text, st[i].len, &toks) ||
             induction_score_story(s, tokenizer_doc_start(tok), &toks, st[i].occ, st[i].n_occ, st[i].n_names,
                                   c);
        if (rc) mtp_error_context("story at line %ld", st[i].line);
        progress_tell(progress, (uint64_t)i + 1, (uint64_t)n);
    }
    *seconds = mtp_now() - t0;
    induction_tokens_free(&toks);
    return rc ? -1 : 0;
}
