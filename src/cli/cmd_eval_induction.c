// cmd_eval_induction.c: `mtp eval-induction`, the induction score of
// Gloeckle et al. 2024 (section 4.1) on a test set from `mtp task induction`.
// Teacher-forced: each renamed story, after the end-of-text token, runs
// through the model (eval/loglik.h windows), and at every mention of a name
// after its first, head 1's argmax after the name's first token is compared
// with its second token (the score: only the earlier mention in the story
// tells the model which second token follows) and, for contrast, its argmax
// before the name with the first token. The text is tokenized with the
// model's tokenizer; a mention that is not exactly two tokens under it (a
// test set made with another tokenizer) is skipped and counted.
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/checkpoint_open.h"
#include "cli/commands.h"
#include "cli/induction_tokenize.h"
#include "cli/progress.h"
#include "eval/induction.h"
#include "eval/loglik.h"
#include "libmtp.h"

#define CMD "eval-induction"
#define MAX_FILE_BYTES ((size_t)1 << 30)
#define PROGRESS_AFTER_S 1.0

static const char *help =
    "usage: mtp eval-induction --model RUN_DIR|CHECKPOINT --data TEST_JSONL [flags]\n"
    "\n"
    "Induction (Gloeckle et al. 2024, section 4.1) on stories from mtp task induction: at\n"
    "every mention of a character name after its first, is head 1's most likely next token,\n"
    "after the name's first token, the name's second token? (teacher-forced)\n"
    "  accuracy              that rate: the induction score\n"
    "  first_token_accuracy  the same for the first token, predicted before the name (for\n"
    "                        contrast: it depends on the story, not on copying)\n"
    "  --model PATH        checkpoint directory, or run directory (its latest checkpoint)\n"
    "  --data FILE         test.jsonl written by mtp task induction (with the model's tokenizer)\n"
    "  --max-stories N     score only the first N stories (default: all)\n"
    "  --threads N         CPU threads (default: all cores)\n"
    "  --json              print {\"accuracy\": .., \"first_token_accuracy\": .., \"occurrences\": N, ...}\n"
    "Stories longer than the model's context are scored in overlapping windows (each\n"
    "prediction sees at least half a window); they are counted as truncated. See\n"
    "docs/eval-induction.md.\n";

typedef struct {
    const char *model, *data;
    int max_stories, threads, json;
} induction_args;

static int parse(int argc, char **argv, induction_args *a) {
    const char *v;
    memset(a, 0, sizeof *a);
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        if (args_is_help(f)) {
            fputs(help, stdout);
            return 1;
        }
        if (!strcmp(f, "--model")) {
            if (!(a->model = args_value(CMD, argc, argv, &i))) return 2;
        } else if (!strcmp(f, "--data")) {
            if (!(a->data = args_value(CMD, argc, argv, &i))) return 2;
        } else if (!strcmp(f, "--max-stories")) {
            if (!(v = args_value(CMD, argc, argv, &i)) || args_int(CMD, f, v, 1, 1 << 30, &a->max_stories))
                return 2;
        } else if (!strcmp(f, "--threads")) {
            if (!(v = args_value(CMD, argc, argv, &i)) || args_int(CMD, f, v, 1, 1024, &a->threads)) return 2;
        } else if (!strcmp(f, "--json")) {
            a->json = 1;
        } else {
            args_unknown(CMD, f);
            return 2;
        }
    }
    if (!a->model || !a->data) {
        fprintf(stderr, "mtp %s: --model and --data are required (see mtp %s --help)\n", CMD, CMD);
        return 2;
    }
    return 0;
}

// One story of test.jsonl.
typedef struct {
    char *text;
    size_t len;
    induction_occurrence *occ;
    int n_occ, n_names;
    long line;
} story;

static void stories_free(story *s, int n) {
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
static int parse_story(const cJSON *j, const char *path, long line, story *st) {
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

static int read_stories(const char *path, int max, story **out, int *count) {
    size_t len;
    char *buf = fs_read_all(path, MAX_FILE_BYTES, &len);
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
            cJSON *j = cJSON_ParseWithLength(buf + at, end - at);
            if (!cJSON_IsObject(j)) {
                rc = mtp_errorf(
                    "%s:%ld: not a JSON object (test.jsonl from mtp task induction has one story per line)",
                    path, line);
            } else if (*count == cap) {
                cap = cap ? 2 * cap : 128;
                story *grown = realloc(*out, sizeof *grown * (size_t)cap);
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
        stories_free(*out, *count);
        *out = NULL;
        *count = 0;
    }
    return rc;
}

static int evaluate(loglik_scorer *s, tokenizer *tok, const story *st, int n, induction_counts *c,
                    double *seconds) {
    induction_tokens toks = {0};
    progress p;
    int shown = 0, rc = 0;
    double t0 = mtp_now();
    memset(c, 0, sizeof *c);
    for (int i = 0; i < n && rc == 0; i++) {
        rc = induction_tokenize(tok, st[i].text, st[i].len, &toks) ||
             induction_score_story(s, tokenizer_eot(tok), &toks, st[i].occ, st[i].n_occ, st[i].n_names, c);
        if (rc) mtp_error_context("story at line %ld", st[i].line);
        if (!shown && i + 1 < n && mtp_now() - t0 >= PROGRESS_AFTER_S) {
            progress_start(&p, CMD, (uint64_t)n);
            p.unit = "stories";
            p.start = t0;
            shown = 1;
        }
        if (shown) progress_update(&p, (uint64_t)i + 1);
    }
    if (shown) progress_finish(&p);
    *seconds = mtp_now() - t0;
    induction_tokens_free(&toks);
    return rc ? -1 : 0;
}

static double rate(long k, long n) {
    return n ? (double)k / (double)n : 0.0;
}

static void print_json(const induction_counts *c, const char *ckpt, int window, double seconds) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "accuracy", rate(c->correct, c->occurrences));
    cJSON_AddNumberToObject(j, "first_token_accuracy", rate(c->first_correct, c->occurrences));
    cJSON_AddNumberToObject(j, "occurrences", (double)c->occurrences);
    cJSON_AddNumberToObject(j, "correct", (double)c->correct);
    cJSON_AddNumberToObject(j, "first_token_correct", (double)c->first_correct);
    cJSON_AddNumberToObject(j, "stories", (double)c->stories);
    cJSON_AddNumberToObject(j, "first_mentions", (double)c->first_mentions);
    cJSON_AddNumberToObject(j, "skipped_not_two_tokens", (double)c->not_two_tokens);
    cJSON_AddNumberToObject(j, "truncated_stories", (double)c->truncated);
    cJSON_AddNumberToObject(j, "window", window);
    cJSON_AddNumberToObject(j, "seconds", seconds);
    cJSON_AddStringToObject(j, "checkpoint", ckpt);
    char *text = cJSON_PrintUnformatted(j);
    if (text) puts(text);
    free(text);
    cJSON_Delete(j);
}

static void print_table(const induction_counts *c, const char *ckpt, const char *data, int window,
                        double seconds) {
    printf("model  %s\n", ckpt);
    printf("data   %s: %ld stories, %ld later mentions of two-token names scored in %.1fs\n", data,
           c->stories, c->occurrences, seconds);
    printf("\ninduction (second token)  %.4f  (%ld/%ld)\n", rate(c->correct, c->occurrences), c->correct,
           c->occurrences);
    printf("first token               %.4f  (%ld/%ld)\n", rate(c->first_correct, c->occurrences),
           c->first_correct, c->occurrences);
    if (c->not_two_tokens)
        printf(
            "skipped   %ld mentions are not two tokens under this model's tokenizer (was the test set made "
            "with another?)\n",
            c->not_two_tokens);
    if (c->truncated)
        printf(
            "windows   %ld stories are longer than the %d-token window (each prediction saw >= %d tokens)\n",
            c->truncated, window, window / 2);
}

int cmd_eval_induction(int argc, char **argv) {
    induction_args a;
    int prc = parse(argc, argv, &a);
    if (prc == 1) return 0;
    if (prc) return 2;
    if (a.threads) op_set_threads(a.threads);
    char ckpt[4096];
    mtp_config cfg;
    mtp_model m;
    memset(&m, 0, sizeof m);
    loglik_scorer s;
    memset(&s, 0, sizeof s);
    tokenizer *tok = NULL;
    story *st = NULL;
    int n = 0, rc = 1;
    induction_counts c;
    double seconds;
    // the data first: a bad file fails before a large model loads
    if (read_stories(a.data, a.max_stories, &st, &n)) goto done;
    if (old_checkpoint_open(a.model, ckpt, sizeof ckpt, &cfg, &tok) || model_create(&m, &cfg) ||
        checkpoint_load_params(ckpt, &m) || loglik_init(&s, &m, 0))
        goto done;
    if (evaluate(&s, tok, st, n, &c, &seconds)) goto done;
    if (c.occurrences == 0) {
        mtp_errorf(
            "%s: no mention is two tokens under the model's tokenizer (%s): make the test set with "
            "mtp task induction --tokenizer %s",
            a.data, tokenizer_name(tok), ckpt);
        goto done;
    }
    if (a.json)
        print_json(&c, ckpt, s.window, seconds);
    else
        print_table(&c, ckpt, a.data, s.window, seconds);
    rc = 0;
done:
    if (rc) fprintf(stderr, "mtp %s: %s\n", CMD, mtp_last_error());
    stories_free(st, n);
    loglik_free(&s);
    tokenizer_free(tok);
    model_free(&m);
    return rc;
}
