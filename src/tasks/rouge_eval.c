// rouge_eval.c: see rouge_eval.h.
#define _POSIX_C_SOURCE 200809L
#include "tasks/rouge_eval.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/fsutil.h"
#include "core/inflate.h"
#include "core/jsonl.h"
#include "core/utf8.h"

#define MAX_FILE_BYTES (1ul << 30)

void rouge_items_free(rouge_items *l) {
    for (long i = 0; i < l->n; i++) {
        free(l->v[i].id);
        free(l->v[i].text);
        free(l->v[i].reference);
    }
    free(l->v);
    memset(l, 0, sizeof *l);
}

// Keeps the first n items.
void rouge_items_truncate(rouge_items *l, long n) {
    while (l->n > n) {
        rouge_item *it = &l->v[--l->n];
        free(it->id);
        free(it->text);
        free(it->reference);
    }
}

static rouge_item *items_push(rouge_items *l, const char *path) {
    if (l->n == l->cap) {
        long cap = l->cap ? 2 * l->cap : 256;
        rouge_item *grown = realloc(l->v, sizeof *grown * (size_t)cap);
        if (!grown) {
            mtp_errorf("out of memory reading %s", path);
            return NULL;
        }
        l->v = grown;
        l->cap = cap;
    }
    rouge_item *it = &l->v[l->n++];
    memset(it, 0, sizeof *it);
    return it;
}

static int blank(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int is_blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!blank(s[i])) return 0;
    return 1;
}

// The string field `name` of object j, copied; NULL (no error set) if absent.
static char *string_field(const cJSON *j, const char *name) {
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(j, name);
    return cJSON_IsString(f) && f->valuestring ? strdup(f->valuestring) : NULL;
}

// One JSONL line into *it: `text` from the field "text" (or "summary" when
// alt is set); with xsum, "document" into text and "summary" into reference.
static int parse_json_line(const char *path, long lineno, const char *s, size_t n, int xsum, int alt,
                           rouge_item *it) {
    cJSON *j = json_parse_all(s, n);
    if (!j || !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return mtp_errorf("%s:%ld: not one JSON object (%s)", path, lineno,
                          xsum ? "give {\"document\": .., \"summary\": ..} per line"
                               : "give {\"text\": ..} per line, or plain lines without a leading '{'");
    }
    int rc = 0;
    if (xsum) {
        it->text = string_field(j, "document");
        it->reference = string_field(j, "summary");
        if (!it->text || !it->reference)
            rc = mtp_errorf(
                "%s:%ld: no string field \"%s\": an XSum line is {\"id\": .., \"document\": .., "
                "\"summary\": ..}",
                path, lineno, it->text ? "summary" : "document");
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "id");
        char num[32];
        if (cJSON_IsString(id) && id->valuestring) {
            it->id = strdup(id->valuestring);
        } else if (cJSON_IsNumber(id)) {
            snprintf(num, sizeof num, "%.17g", id->valuedouble);
            it->id = strdup(num);
        }
    } else {
        it->text = string_field(j, "text");
        if (!it->text && alt) it->text = string_field(j, "summary");
        if (!it->text)
            rc = mtp_errorf("%s:%ld: no string field \"text\"%s", path, lineno,
                            alt ? " (or \"summary\")" : "");
    }
    cJSON_Delete(j);
    return rc;
}

// NUL in a text, raw or as a JSON escape, becomes a space, in place: the
// scorer's tokenizer splits at it as at any other character that is not a
// letter or digit (as rouge-score does), and a C string would end there.
static void nul_to_space(char *s, size_t n, int json) {
    for (size_t i = 0; i < n; i++)
        if (s[i] == '\0') s[i] = ' ';
    if (json) json_rewrite_nul_escapes(s, n, ' ');
}

// Reads the items of `path` (see --help for the formats). xsum: XSum JSONL;
// otherwise JSONL or plain lines, alt allowing "summary" for "text".
int rouge_items_read(const char *flag, const char *path, int xsum, int alt, rouge_items *out) {
    memset(out, 0, sizeof *out);
    if (!fs_is_file(path)) return mtp_errorf("%s %s: no such file", flag, path);
    size_t len = 0;
    char *buf = gzip_read_file(path, MAX_FILE_BYTES, &len);
    if (!buf) return -1;
    size_t skip = len >= 3 && !memcmp(buf, "\xEF\xBB\xBF", 3) ? 3 : 0;  // a UTF-8 byte-order mark
    size_t first = skip;
    while (first < len && is_blank(buf + first, 1)) first++;
    int jsonl = xsum || (first < len && buf[first] == '{');
    int rc = 0;
    char *line = buf + skip;
    for (long lineno = 1; line < buf + len; lineno++) {
        char *nl = memchr(line, '\n', (size_t)(buf + len - line));
        char *end = nl ? nl : buf + len;
        char *next = nl ? nl + 1 : buf + len;
        size_t n = (size_t)(end - line);
        if (n > 0 && line[n - 1] == '\r') n--;
        line[n] = '\0';
        nul_to_space(line, n, jsonl);
        const char *s = line;
        line = next;
        if (jsonl && is_blank(s, n)) continue;
        rouge_item *it = items_push(out, path);
        if (!it) {
            rc = -1;
            break;
        }
        if (jsonl) {
            if ((rc = parse_json_line(path, lineno, s, n, xsum, alt, it)) != 0) break;
        } else if (!(it->text = strdup(s))) {
            rc = mtp_errorf("out of memory reading %s", path);
            break;
        }
    }
    free(buf);
    if (rc == 0 && out->n == 0)
        rc = mtp_errorf(
            "%s %s has no items: give one %s per line", flag, path,
            xsum ? "{\"document\": .., \"summary\": ..} object" : "text, or {\"text\": ..} object,");
    if (rc) rouge_items_free(out);
    return rc;
}

// ---- Summarizing with a model

int rouge_summarize(rouge_items *items, generator *g, int max_new, const char *label,
                    const progress_sink *progress, long *truncated) {
    static const char *const newline[] = {"\n", NULL};
    generate_options o = {.max_new = max_new,
                          .stops = newline,
                          .skip_leading_blanks = 1,
                          .fit = PROMPT_FIT_KEEP_END,
                          .keep = generate_keep_for_room(g->dec.model->cfg.max_seq_len, max_new)};
    generate_result r = {0};
    char *prompt = NULL;
    size_t cap = 0;
    int rc = 0;
    *truncated = 0;
    for (long i = 0; rc == 0 && i < items->n; i++) {
        rouge_item *it = &items->v[i];
        size_t dl = strlen(it->text), pl = dl + strlen(ROUGE_PROMPT_SUFFIX);
        if (pl + 1 > cap) {
            char *grown = realloc(prompt, cap = pl + 1);
            if (!grown) {
                rc = mtp_errorf("out of memory for a prompt");
                break;
            }
            prompt = grown;
        }
        memcpy(prompt, it->text, dl);
        memcpy(prompt + dl, ROUGE_PROMPT_SUFFIX, pl - dl + 1);
        if (generate_text(g, prompt, pl, &o, &r) != 0) {
            rc = mtp_error_context("%s:item %ld", label, i + 1);
            break;
        }
        while (r.text.len > 0 && blank(r.text.s[r.text.len - 1])) r.text.len--;
        char *summary = utf8_sanitize(r.text.s, r.text.len);
        if (!summary) {
            rc = -1;
            break;
        }
        free(it->text);
        it->text = summary;
        *truncated += r.prompt_cut > 0;
        progress_tell(progress, (uint64_t)i + 1, (uint64_t)items->n);
    }
    free(prompt);
    generate_result_free(&r);
    return rc;
}

// Output files are written atomically (fs_out): a failure leaves the old file.
int rouge_write_predictions(const char *path, const rouge_items *items) {
    fs_out out;
    if (fs_out_open(&out, path) != 0) return mtp_error_context("--predictions-out %s", path);
    int rc = 0;
    for (long i = 0; i < items->n && rc == 0; i++) {
        cJSON *j = cJSON_CreateObject();
        if (items->v[i].id) cJSON_AddStringToObject(j, "id", items->v[i].id);
        cJSON_AddStringToObject(j, "text", items->v[i].text);
        rc = jsonl_put(out.f, j);
    }
    if (rc != 0) fs_out_abort(&out);
    if (rc != 0 || fs_out_commit(&out) != 0) return mtp_error_context("--predictions-out %s", path);
    return 0;
}

// A score as the shortest decimal that reads back as the same double.
// (cJSON's own printing accepts 15 digits that are only close, so a reader
// could not check the scores to the bit.)
cJSON *rouge_exact_number(double x) {
    char buf[40];
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(buf, sizeof buf, "%.*g", digits, x);
        if (strtod(buf, NULL) == x) break;
    }
    return cJSON_CreateRaw(buf);
}

static void add_exact(cJSON *j, const char *name, double x) {
    cJSON_AddItemToObject(j, name, rouge_exact_number(x));
}

static void add_prf(cJSON *j, const char *name, const rouge_prf *s) {
    cJSON *o = cJSON_AddObjectToObject(j, name);
    add_exact(o, "precision", s->precision);
    add_exact(o, "recall", s->recall);
    add_exact(o, "f1", s->f1);
}

static int write_per_item(const char *path, const rouge_scores *scores, long n) {
    fs_out out;
    if (fs_out_open(&out, path) != 0) return mtp_error_context("--per-item %s", path);
    FILE *f = out.f;
    int rc = 0;
    for (long i = 0; i < n && rc == 0; i++) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddNumberToObject(j, "item", (double)i + 1);
        add_prf(j, "rouge1", &scores[i].rouge1);
        add_prf(j, "rouge2", &scores[i].rouge2);
        add_prf(j, "rougeL", &scores[i].rougeL);
        rc = jsonl_put(f, j);
    }
    if (rc != 0) fs_out_abort(&out);
    if (rc != 0 || fs_out_commit(&out) != 0) return mtp_error_context("--per-item %s", path);
    return 0;
}

int rouge_evaluate(const rouge_items *preds, const rouge_items *refs, int stem, int bootstrap, uint64_t seed,
                   const char *per_item, rouge_report *out) {
    long n = preds->n;
    memset(out, 0, sizeof *out);
    rouge_scores *scores = mtp_calloc((size_t)n, sizeof *scores, "ROUGE scores");
    double *f1 = mtp_calloc((size_t)n, sizeof *f1, "ROUGE scores");
    int rc = scores && f1 ? 0 : -1;
    for (long i = 0; rc == 0 && i < n; i++) {
        const char *t = refs ? refs->v[i].text : preds->v[i].reference, *p = preds->v[i].text;
        rc = rouge_score(t, strlen(t), p, strlen(p), stem, &scores[i]);
        if (rc != 0) mtp_error_context("item %ld", i + 1);
    }
    if (rc == 0 && per_item) rc = write_per_item(per_item, scores, n);
    for (int m = 0; rc == 0 && m < 3; m++) {
        for (long i = 0; i < n; i++)
            f1[i] = m == 0 ? scores[i].rouge1.f1 : m == 1 ? scores[i].rouge2.f1 : scores[i].rougeL.f1;
        out->mean[m] = rouge_mean(f1, n);
        // the same seed for every metric resamples the same items, as rouge-score does
        if (bootstrap) rc = rouge_bootstrap(f1, n, bootstrap, 0.95, seed, &out->low[m], &out->high[m]);
    }
    free(scores);
    free(f1);
    return rc;
}
