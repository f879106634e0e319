// cmd_eval_rouge.c: `mtp eval-rouge`, ROUGE-1/2/L F1 (eval/rouge.h) of
// summaries that are given (--predictions/--references) or that a model
// writes greedily for XSum documents (--model/--data). docs/eval-rouge.md.
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/checkpoint_open.h"
#include "cli/commands.h"
#include "cli/progress.h"
#include "eval/rouge.h"
#include "libmtp.h"

#define MAX_FILE_BYTES (1ul << 30)
// Below this many seconds of summarizing there is no progress line.
#define PROGRESS_AFTER_S 1.0
// What follows the document in the prompt (the GPT-2 paper's summarization cue).
#define PROMPT_SUFFIX "\nTL;DR:"

static const char *help =
    "usage: mtp eval-rouge --predictions FILE --references FILE [flags]\n"
    "       mtp eval-rouge --model RUN_DIR|CHECKPOINT --data XSUM.jsonl [flags]\n"
    "\n"
    "ROUGE-1, ROUGE-2 and ROUGE-L F1 as Google's rouge-score package computes them\n"
    "(default tokenizer: lowercase, tokens are the runs of [a-z0-9]; rougeL is the\n"
    "sentence-level LCS score, not rougeLsum), the mean over items, printed x100.\n"
    "Given texts:\n"
    "  --predictions FILE  one prediction per item: JSONL objects with a \"text\" field, or\n"
    "                      plain text with one item per line (blank lines are empty items);\n"
    "                      a file whose first non-blank character is '{' is read as JSONL\n"
    "  --references FILE   the references in the same formats; JSONL may hold \"summary\"\n"
    "                      instead of \"text\", so an XSum file serves as is. The two files\n"
    "                      must have as many items, in the same order\n"
    "Summaries written by a model (greedy; self-speculative gives the same text):\n"
    "  --model PATH        checkpoint directory, or run directory (its latest checkpoint)\n"
    "  --data FILE         XSum JSONL, one {\"id\": .., \"document\": .., \"summary\": ..} per line\n"
    "  --max-new N         summary tokens at most (default 64)\n"
    "  --speculative K     drafting heads, 0 = plain decoding (default: all, n-1)\n"
    "  --predictions-out F write the summaries as JSONL {\"id\": .., \"text\": ..}\n"
    "  --threads N         CPU threads (default: all cores)\n"
    "  The prompt is DOCUMENT + \"\\nTL;DR:\", cut from the left (in tokens) to leave --max-new\n"
    "  tokens of the context; the summary is what follows, from its first non-blank\n"
    "  character up to a newline, end-of-text or --max-new tokens, trimmed.\n"
    "Either way:\n"
    "  --max-items N       score the first N items only (default: all); given files are cut\n"
    "                      to N items before their counts are compared\n"
    "  --stem              Porter-stem tokens longer than 3 letters (rouge-score's\n"
    "                      use_stemmer=True; nltk's PorterStemmer)\n"
    "  --bootstrap N       also a 95% bootstrap interval of each mean, from N resamples\n"
    "  --seed S            the bootstrap's seed (default 1)\n"
    "  --per-item FILE     write each item's precision, recall and F1 as JSONL\n"
    "  --json              one JSON object, scores as fractions in [0, 1]:\n"
    "                      {\"rouge1\": .., \"rouge2\": .., \"rougeL\": .., \"items\": n, ...}\n";

typedef struct {
    const char *predictions, *references, *model, *data, *predictions_out, *per_item;
    int max_new, speculative, threads, stem, bootstrap, json;
    long max_items;
    uint64_t seed;
} rouge_args;

// 0 to go on, 1 after --help (exit 0), 2 after a usage error.
static int parse(int argc, char **argv, rouge_args *a) {
    const char *cmd = "eval-rouge", *v;
    memset(a, 0, sizeof *a);
    a->max_new = -1;
    a->speculative = -1;
    a->seed = 1;
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        if (args_is_help(f)) {
            fputs(help, stdout);
            return 1;
        }
        if (!strcmp(f, "--stem")) {
            a->stem = 1;
        } else if (!strcmp(f, "--json")) {
            a->json = 1;
        } else if (!strcmp(f, "--predictions") || !strcmp(f, "--references") || !strcmp(f, "--model") ||
                   !strcmp(f, "--data") || !strcmp(f, "--predictions-out") || !strcmp(f, "--per-item")) {
            if (!(v = args_value(cmd, argc, argv, &i))) return 2;
            const char **dst = !strcmp(f, "--predictions")       ? &a->predictions
                               : !strcmp(f, "--references")      ? &a->references
                               : !strcmp(f, "--model")           ? &a->model
                               : !strcmp(f, "--data")            ? &a->data
                               : !strcmp(f, "--predictions-out") ? &a->predictions_out
                                                                 : &a->per_item;
            *dst = v;
        } else if (!strcmp(f, "--max-new")) {
            if (!(v = args_value(cmd, argc, argv, &i)) || args_int(cmd, f, v, 1, 1 << 24, &a->max_new))
                return 2;
        } else if (!strcmp(f, "--speculative")) {
            if (!(v = args_value(cmd, argc, argv, &i)) ||
                args_int(cmd, f, v, 0, MTP_MAX_FUTURE, &a->speculative))
                return 2;
        } else if (!strcmp(f, "--threads")) {
            if (!(v = args_value(cmd, argc, argv, &i)) || args_int(cmd, f, v, 1, 1024, &a->threads)) return 2;
        } else if (!strcmp(f, "--max-items")) {
            if (!(v = args_value(cmd, argc, argv, &i)) || args_long(cmd, f, v, 1, 1l << 40, &a->max_items))
                return 2;
        } else if (!strcmp(f, "--bootstrap")) {
            if (!(v = args_value(cmd, argc, argv, &i)) || args_int(cmd, f, v, 1, 1000000, &a->bootstrap))
                return 2;
        } else if (!strcmp(f, "--seed")) {
            if (!(v = args_value(cmd, argc, argv, &i)) || args_u64(cmd, f, v, &a->seed)) return 2;
        } else {
            args_unknown(cmd, f);
            return 2;
        }
    }
    int given = a->predictions || a->references, model = a->model || a->data;
    const char *usage = NULL;
    if (given && model)
        usage = "give --predictions/--references or --model/--data, not both";
    else if (given && (!a->predictions || !a->references))
        usage = a->predictions ? "--predictions needs --references" : "--references needs --predictions";
    else if (model && (!a->model || !a->data))
        usage = a->model ? "--model needs --data (an XSum JSONL file)" : "--data needs --model";
    else if (!given && !model)
        usage = "give --predictions and --references, or --model and --data";
    else if (given && (a->max_new >= 0 || a->speculative >= 0 || a->predictions_out || a->threads))
        usage = "--max-new, --speculative, --predictions-out and --threads go with --model only";
    if (usage) {
        fprintf(stderr, "mtp eval-rouge: %s (see mtp eval-rouge --help)\n", usage);
        return 2;
    }
    if (a->max_new < 0) a->max_new = 64;
    return 0;
}

// ---- Items

typedef struct {
    char *id;         // NULL when the data has none
    char *text;       // prediction or, with --model, the document
    char *reference;  // with --model: the reference summary
} item;

typedef struct {
    item *v;
    long n, cap;
} item_list;

static void items_free(item_list *l) {
    for (long i = 0; i < l->n; i++) {
        free(l->v[i].id);
        free(l->v[i].text);
        free(l->v[i].reference);
    }
    free(l->v);
    memset(l, 0, sizeof *l);
}

// Keeps the first n items.
static void items_truncate(item_list *l, long n) {
    while (l->n > n) {
        item *it = &l->v[--l->n];
        free(it->id);
        free(it->text);
        free(it->reference);
    }
}

static item *items_push(item_list *l, const char *path) {
    if (l->n == l->cap) {
        long cap = l->cap ? 2 * l->cap : 256;
        item *grown = realloc(l->v, sizeof *grown * (size_t)cap);
        if (!grown) {
            mtp_errorf("out of memory reading %s", path);
            return NULL;
        }
        l->v = grown;
        l->cap = cap;
    }
    item *it = &l->v[l->n++];
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
                           item *it) {
    cJSON *j = cJSON_ParseWithLength(s, n);
    if (!j || !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return mtp_errorf("%s:%ld: not a JSON object (%s)", path, lineno,
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

// Reads the items of `path` (see --help for the formats). xsum: XSum JSONL;
// otherwise JSONL or plain lines, alt allowing "summary" for "text".
static int read_items(const char *flag, const char *path, int xsum, int alt, item_list *out) {
    memset(out, 0, sizeof *out);
    if (!fs_is_file(path)) return mtp_errorf("%s %s: no such file", flag, path);
    size_t len = 0;
    char *buf = fs_read_all(path, MAX_FILE_BYTES, &len);
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
        const char *s = line;
        line = next;
        if (jsonl && is_blank(s, n)) continue;
        item *it = items_push(out, path);
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
    if (rc) items_free(out);
    return rc;
}

// ---- Summarizing with a model

typedef struct {
    const tokenizer *tok;
    char *text;
    size_t len, cap;
    int started, done, oom;
} summary;

// Keeps the generated bytes from the first non-blank one up to a newline.
static int on_token(int32_t token, void *user) {
    summary *s = user;
    char piece[TOKENIZER_MAX_TOKEN_BYTES];
    int n = tokenizer_decode_token(s->tok, token, piece, sizeof piece);
    for (int i = 0; i < n && !s->done; i++) {
        if (!s->started && blank(piece[i])) continue;
        s->started = 1;
        if (piece[i] == '\n') {
            s->done = 1;
            break;
        }
        if (s->len + 2 > s->cap) {
            size_t cap = 2 * s->cap + 64;
            char *grown = realloc(s->text, cap);
            if (!grown) {
                s->oom = 1;
                return 1;
            }
            s->text = grown;
            s->cap = cap;
        }
        s->text[s->len++] = piece[i];
        s->text[s->len] = '\0';
    }
    return s->done;
}

// Length of the valid UTF-8 sequence at s[0..n), or 0 if it is not one.
static size_t utf8_valid_at(const unsigned char *s, size_t n) {
    if (s[0] < 0x80) return 1;
    size_t k = s[0] >= 0xC2 && s[0] <= 0xDF   ? 2
               : s[0] >= 0xE0 && s[0] <= 0xEF ? 3
               : s[0] >= 0xF0 && s[0] <= 0xF4 ? 4
                                              : 0;
    if (k == 0 || k > n) return 0;
    for (size_t i = 1; i < k; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    // overlong forms, UTF-16 surrogates and code points past U+10FFFF
    if ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] > 0x9F) || (s[0] == 0xF0 && s[1] < 0x90) ||
        (s[0] == 0xF4 && s[1] > 0x8F))
        return 0;
    return k;
}

// A copy of s[0..n) with each byte that is not part of valid UTF-8 replaced
// by U+FFFD, so that the summaries can be written as JSON. Both kinds are
// separators to the ROUGE tokenizer, so the scores do not change.
static char *utf8_clean(const char *s, size_t n) {
    char *out = malloc(3 * n + 1);
    if (!out) return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_valid_at((const unsigned char *)s + i, n - i);
        if (k) {
            memcpy(out + o, s + i, k);
            o += k;
            i += k;
        } else {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        }
    }
    out[o] = '\0';
    return out;
}

typedef struct {
    mtp_config cfg;
    mtp_model model;
    decoder dec;
    sampler smp;
    tokenizer *tok;
    int32_t *ids;
    size_t ids_cap;
} summarizer;

static void summarizer_free(summarizer *z) {
    free(z->ids);
    sampler_free(&z->smp);
    decoder_free(&z->dec);
    tokenizer_free(z->tok);
    model_free(&z->model);
}

static int summarizer_open(summarizer *z, const rouge_args *a) {
    char ckpt[4096];
    if (old_checkpoint_open(a->model, ckpt, sizeof ckpt, &z->cfg, &z->tok)) return -1;
    if (a->max_new >= z->cfg.max_seq_len)
        return mtp_errorf(
            "--max-new %d leaves no room for the document in the context of %d tokens of %s: use "
            "at most %d",
            a->max_new, z->cfg.max_seq_len, ckpt, z->cfg.max_seq_len - 1);
    int drafts = a->speculative < 0 ? z->cfg.n_future - 1 : a->speculative;
    if (drafts > z->cfg.n_future - 1)
        return mtp_errorf("--speculative %d: the model in %s has %d heads, so at most %d drafting heads",
                          drafts, ckpt, z->cfg.n_future, z->cfg.n_future - 1);
    if (model_create(&z->model, &z->cfg) || checkpoint_load_params(ckpt, &z->model) ||
        decoder_init(&z->dec, &z->model, drafts) ||
        sampler_init(&z->smp, tokenizer_vocab_size(z->tok), 0.0f, 0, 1.0f, 1))
        return -1;
    return 0;
}

// The summary of `document` (malloc'd, valid UTF-8); *truncated = 1 if the
// prompt lost tokens on the left.
static char *summarize(summarizer *z, const char *document, int max_new, int *truncated) {
    size_t dl = strlen(document), pl = dl + strlen(PROMPT_SUFFIX);
    char *prompt = mtp_malloc(pl + 1, "prompt");
    if (!prompt) return NULL;
    memcpy(prompt, document, dl);
    memcpy(prompt + dl, PROMPT_SUFFIX, pl - dl + 1);
    size_t n = 0;
    int rc = tokenizer_encode(z->tok, prompt, pl, &z->ids, &n, &z->ids_cap);
    free(prompt);
    if (rc) return NULL;
    size_t room = (size_t)(z->cfg.max_seq_len - max_new), off = n > room ? n - room : 0;
    *truncated = off > 0;
    summary s = {.tok = z->tok};
    decode_stats st;
    if (decode_run(&z->dec, z->ids + off, (int)(n - off), max_new, tokenizer_eot(z->tok), &z->smp, on_token,
                   &s, &st)) {
        free(s.text);
        return NULL;
    }
    if (s.oom) {
        free(s.text);
        mtp_errorf("out of memory for a summary");
        return NULL;
    }
    while (s.len > 0 && blank(s.text[s.len - 1])) s.len--;
    char *clean = utf8_clean(s.text ? s.text : "", s.len);
    free(s.text);
    if (!clean) mtp_errorf("out of memory for a summary");
    return clean;
}

// Replaces each item's document by the model's summary; counts the prompts
// cut to fit the context.
static int summarize_all(const rouge_args *a, item_list *items, long *truncated) {
    summarizer z;
    memset(&z, 0, sizeof z);
    int rc = summarizer_open(&z, a);
    progress p;
    int shown = 0;
    double t0 = mtp_now();
    *truncated = 0;
    for (long i = 0; rc == 0 && i < items->n; i++) {
        int cut = 0;
        char *text = summarize(&z, items->v[i].text, a->max_new, &cut);
        if (!text) {
            rc = mtp_error_context("%s:item %ld", a->data, i + 1);
            break;
        }
        free(items->v[i].text);
        items->v[i].text = text;
        *truncated += cut;
        if (!shown && i + 1 < items->n && mtp_now() - t0 >= PROGRESS_AFTER_S) {
            progress_start(&p, "eval-rouge", (uint64_t)items->n);
            shown = 1;
        }
        if (shown) progress_update(&p, (uint64_t)i + 1);
    }
    if (shown) progress_finish(&p);
    summarizer_free(&z);
    return rc;
}

// ---- Output

static int write_predictions(const char *path, const item_list *items) {
    FILE *f = fopen(path, "w");
    if (!f) return mtp_errorf("--predictions-out %s: cannot create the file", path);
    int rc = 0;
    for (long i = 0; i < items->n && rc == 0; i++) {
        cJSON *j = cJSON_CreateObject();
        if (items->v[i].id) cJSON_AddStringToObject(j, "id", items->v[i].id);
        cJSON_AddStringToObject(j, "text", items->v[i].text);
        char *line = cJSON_PrintUnformatted(j);
        if (!line || fprintf(f, "%s\n", line) < 0) rc = -1;
        free(line);
        cJSON_Delete(j);
    }
    if (fclose(f) != 0) rc = -1;
    return rc ? mtp_errorf("--predictions-out %s: cannot write the file", path) : 0;
}

// A score as the shortest decimal that reads back as the same double.
// (cJSON's own printing accepts 15 digits that are only close, so a reader
// could not check the scores to the bit.)
static cJSON *exact_number(double x) {
    char buf[40];
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(buf, sizeof buf, "%.*g", digits, x);
        if (strtod(buf, NULL) == x) break;
    }
    return cJSON_CreateRaw(buf);
}

static void add_exact(cJSON *j, const char *name, double x) {
    cJSON_AddItemToObject(j, name, exact_number(x));
}

static void add_prf(cJSON *j, const char *name, const rouge_prf *s) {
    cJSON *o = cJSON_AddObjectToObject(j, name);
    add_exact(o, "precision", s->precision);
    add_exact(o, "recall", s->recall);
    add_exact(o, "f1", s->f1);
}

static int write_per_item(const char *path, const rouge_scores *scores, long n) {
    FILE *f = fopen(path, "w");
    if (!f) return mtp_errorf("--per-item %s: cannot create the file", path);
    int rc = 0;
    for (long i = 0; i < n && rc == 0; i++) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddNumberToObject(j, "item", (double)i + 1);
        add_prf(j, "rouge1", &scores[i].rouge1);
        add_prf(j, "rouge2", &scores[i].rouge2);
        add_prf(j, "rougeL", &scores[i].rougeL);
        char *line = cJSON_PrintUnformatted(j);
        if (!line || fprintf(f, "%s\n", line) < 0) rc = -1;
        free(line);
        cJSON_Delete(j);
    }
    if (fclose(f) != 0) rc = -1;
    return rc ? mtp_errorf("--per-item %s: cannot write the file", path) : 0;
}

static const char *const metric_names[3] = {"rouge1", "rouge2", "rougeL"};

// Scores every item, then prints the means (and intervals).
static int report(const rouge_args *a, const item_list *preds, const item_list *refs, long truncated) {
    long n = preds->n;
    rouge_scores *scores = mtp_calloc((size_t)n, sizeof *scores, "ROUGE scores");
    double *f1 = mtp_calloc((size_t)n, sizeof *f1, "ROUGE scores");
    int rc = scores && f1 ? 0 : -1;
    for (long i = 0; rc == 0 && i < n; i++) {
        const char *t = a->model ? preds->v[i].reference : refs->v[i].text, *p = preds->v[i].text;
        rc = rouge_score(t, strlen(t), p, strlen(p), a->stem, &scores[i]);
    }
    if (rc == 0 && a->per_item) rc = write_per_item(a->per_item, scores, n);
    double mean[3] = {0}, low[3] = {0}, high[3] = {0};
    for (int m = 0; rc == 0 && m < 3; m++) {
        for (long i = 0; i < n; i++)
            f1[i] = m == 0 ? scores[i].rouge1.f1 : m == 1 ? scores[i].rouge2.f1 : scores[i].rougeL.f1;
        mean[m] = rouge_mean(f1, n);
        // the same seed for every metric resamples the same items, as rouge-score does
        if (a->bootstrap) rc = rouge_bootstrap(f1, n, a->bootstrap, 0.95, a->seed, &low[m], &high[m]);
    }
    free(scores);
    free(f1);
    if (rc) return rc;
    if (a->json) {
        cJSON *j = cJSON_CreateObject();
        for (int m = 0; m < 3; m++) add_exact(j, metric_names[m], mean[m]);
        cJSON_AddNumberToObject(j, "items", (double)n);
        cJSON_AddBoolToObject(j, "stemmer", a->stem);
        if (a->bootstrap) {
            cJSON *ci = cJSON_AddObjectToObject(j, "interval95");
            for (int m = 0; m < 3; m++) {
                cJSON *pair = cJSON_AddArrayToObject(ci, metric_names[m]);
                cJSON_AddItemToArray(pair, exact_number(low[m]));
                cJSON_AddItemToArray(pair, exact_number(high[m]));
            }
            cJSON_AddNumberToObject(j, "bootstrap_samples", a->bootstrap);
        }
        if (a->model) {
            cJSON_AddNumberToObject(j, "max_new", a->max_new);
            cJSON_AddNumberToObject(j, "truncated_prompts", (double)truncated);
        }
        char *text = cJSON_PrintUnformatted(j);
        if (text) puts(text);
        free(text);
        cJSON_Delete(j);
        return 0;
    }
    printf("ROUGE F1 x 100, mean over %ld item%s (rouge-score's default tokenizer, %s stemming)\n", n,
           n == 1 ? "" : "s", a->stem ? "Porter" : "no");
    for (int m = 0; m < 3; m++) {
        printf("%-8s %6.2f", metric_names[m], 100 * mean[m]);
        if (a->bootstrap) printf("   95%% interval [%.2f, %.2f]", 100 * low[m], 100 * high[m]);
        printf("\n");
    }
    if (a->model && truncated)
        printf("%ld of %ld prompts were cut from the left to fit the context with --max-new %d\n", truncated,
               n, a->max_new);
    return 0;
}

int cmd_eval_rouge(int argc, char **argv) {
    rouge_args a;
    int u = parse(argc, argv, &a);
    if (u) return u == 1 ? 0 : 2;
    if (a.threads) op_set_threads(a.threads);
    item_list preds = {0}, refs = {0};
    long truncated = 0;
    int rc = -1;
    if (a.model) {
        if (read_items("--data", a.data, 1, 0, &preds)) goto done;
        if (a.max_items) items_truncate(&preds, a.max_items);
        if (summarize_all(&a, &preds, &truncated)) goto done;
        if (a.predictions_out && write_predictions(a.predictions_out, &preds)) goto done;
    } else {
        if (read_items("--predictions", a.predictions, 0, 0, &preds) ||
            read_items("--references", a.references, 0, 1, &refs))
            goto done;
        // --max-items cuts both files first, so predictions for the first N
        // items can be scored against a whole reference file.
        if (a.max_items) {
            items_truncate(&preds, a.max_items);
            items_truncate(&refs, a.max_items);
        }
        if (preds.n != refs.n) {
            mtp_errorf(
                "--predictions %s has %ld items but --references %s has %ld%s: give one prediction per "
                "reference, in the same order",
                a.predictions, preds.n, a.references, refs.n, a.max_items ? " (after --max-items)" : "");
            goto done;
        }
    }
    rc = report(&a, &preds, &refs, truncated);
done:
    if (rc) fprintf(stderr, "mtp eval-rouge: %s\n", mtp_last_error());
    items_free(&preds);
    items_free(&refs);
    return rc ? 1 : 0;
}
