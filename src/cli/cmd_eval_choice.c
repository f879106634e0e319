// cmd_eval_choice.c: `mtp eval-choice`, multiple-choice accuracy by
// log-likelihood. Each option's continuation is scored after its context
// under head 1 (eval/loglik.h); the answer is the option with the highest
// sum of log-probabilities ("accuracy") and, separately, the highest sum per
// byte of the choice's text ("accuracy_norm", lm-evaluation-harness's
// acc_norm: byte counts do not depend on the tokenizer, so models with
// different vocabularies compare). Every context starts with the end-of-text
// token, as every document does in training (mtp prepare writes it after
// each one). Item files: eval/choice.h and docs/eval-choice.md.
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/checkpoint_open.h"
#include "cli/commands.h"
#include "cli/progress.h"
#include "eval/choice.h"
#include "eval/loglik.h"
#include "libmtp.h"

#define CMD "eval-choice"
#define PROGRESS_AFTER_S 1.0  // quicker evaluations print no progress line

static const char *help =
    "usage: mtp eval-choice --model RUN_DIR|CHECKPOINT --data FILE [flags]\n"
    "\n"
    "Multiple-choice accuracy by log-likelihood: every choice is scored by head 1's\n"
    "log-probability of its text after the question, and the most likely one is the answer.\n"
    "  accuracy        by the sum of the choice's token log-probabilities\n"
    "  accuracy_norm   by that sum divided by the choice's length in bytes (acc_norm)\n"
    "  --model PATH        checkpoint directory, or run directory (its latest checkpoint)\n"
    "  --data FILE         the items:\n"
    "                      gauntlet JSONL {\"query\": Q, \"choices\": [..], \"gold\": i}, or the\n"
    "                      schema form {\"context_options\": [..], \"continuation\": C, \"gold\": i}\n"
    "                      (Winogrande); the Eval Gauntlet's LAMBADA, TriviaQA and GSM8K are not\n"
    "                      multiple choice and are refused\n"
    "                      hellaswag text: 6 lines per item (context, gold 0-3, four endings);\n"
    "                      decompress the shipped file first:\n"
    "                      bzcat hellaswag_val_full.txt.bz2 > hellaswag_val_full.txt\n"
    "  --format F          auto (default: '{' first means gauntlet), gauntlet or hellaswag\n"
    "  --delimiter S       text between the question and a choice (default \" \"); its trailing\n"
    "                      blanks belong to the choice, and blanks only are left out after a\n"
    "                      question ending in a blank or newline\n"
    "  --max-items N       score only the first N items (default: all)\n"
    "  --threads N         CPU threads (default: all cores)\n"
    "  --json              print {\"accuracy\": .., \"accuracy_norm\": .., \"items\": N, ...}\n"
    "A context longer than the model's window loses tokens from its left (counted as\n"
    "\"truncated\"). Progress and ETA go to stderr. See docs/eval-choice.md.\n";

typedef struct {
    const char *model, *data, *delimiter;
    choice_format format;
    int max_items, threads, json;
} choice_args;

// 0 on success, 1 after --help (exit 0), 2 after a usage error.
static int parse(int argc, char **argv, choice_args *a) {
    const char *v;
    memset(a, 0, sizeof *a);
    a->delimiter = " ";
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
        } else if (!strcmp(f, "--delimiter")) {
            if (!(a->delimiter = args_value(CMD, argc, argv, &i))) return 2;
        } else if (!strcmp(f, "--format")) {
            if (!(v = args_value(CMD, argc, argv, &i))) return 2;
            if (!strcmp(v, "auto"))
                a->format = CHOICE_AUTO;
            else if (!strcmp(v, "gauntlet"))
                a->format = CHOICE_GAUNTLET;
            else if (!strcmp(v, "hellaswag"))
                a->format = CHOICE_HELLASWAG;
            else {
                fprintf(stderr, "mtp %s: --format '%s': expected auto, gauntlet or hellaswag\n", CMD, v);
                return 2;
            }
        } else if (!strcmp(f, "--max-items")) {
            if (!(v = args_value(CMD, argc, argv, &i)) || args_int(CMD, f, v, 1, 1 << 30, &a->max_items))
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

typedef struct {
    int items, correct, correct_norm, truncated, options;
    long tokens;  // continuation tokens scored
    double seconds;
} choice_result;

typedef struct {
    int32_t *ids;
    size_t n, cap;
} id_buf;

// buf = [eot] + encode(text) when with_eot, else encode(text).
static int encode(const tokenizer *tok, const char *text, int with_eot, id_buf *buf) {
    buf->n = 0;
    if (with_eot) {
        if (tokenizer_reserve(&buf->ids, 0, &buf->cap, 1)) return -1;
        buf->ids[buf->n++] = tokenizer_eot(tok);
    }
    return tokenizer_encode(tok, text, strlen(text), &buf->ids, &buf->n, &buf->cap);
}

static int score_item(loglik_scorer *s, const tokenizer *tok, const choice_item *it, id_buf *ctx,
                      id_buf *cont, double *sum, double *norm, choice_result *r) {
    int truncated = 0;
    for (int i = 0; i < it->n_options; i++) {
        const choice_option *o = &it->options[i];
        if (encode(tok, o->context, 1, ctx) || encode(tok, o->continuation, 0, cont)) return -1;
        loglik_result lr;
        if (loglik_score(s, ctx->ids, (int)ctx->n, cont->ids, (int)cont->n, &lr))
            return mtp_error_context("item at line %ld, choice %d", it->line, i);
        sum[i] = lr.logprob;
        norm[i] = lr.logprob / (double)o->choice_bytes;
        truncated |= lr.dropped > 0;
        r->tokens += lr.tokens;
    }
    r->items++;
    r->options += it->n_options;
    r->truncated += truncated;
    r->correct += choice_best(sum, it->n_options) == it->gold;
    r->correct_norm += choice_best(norm, it->n_options) == it->gold;
    return 0;
}

static int evaluate(loglik_scorer *s, const tokenizer *tok, const choice_set *set, choice_result *r) {
    int max_options = 0, rc = 0;
    for (int i = 0; i < set->n_items; i++)
        if (set->items[i].n_options > max_options) max_options = set->items[i].n_options;
    double *scores = mtp_malloc(sizeof(double) * 2 * (size_t)max_options, "choice scores");
    id_buf ctx = {0}, cont = {0};
    if (!scores) return -1;
    progress p;
    int shown = 0;
    double t0 = mtp_now();
    memset(r, 0, sizeof *r);
    for (int i = 0; i < set->n_items && rc == 0; i++) {
        rc = score_item(s, tok, &set->items[i], &ctx, &cont, scores, scores + max_options, r);
        if (!shown && i + 1 < set->n_items && mtp_now() - t0 >= PROGRESS_AFTER_S) {
            progress_start(&p, CMD, (uint64_t)set->n_items);
            p.unit = "items";
            p.start = t0;  // the rate and ETA count the items already done
            shown = 1;
        }
        if (shown) progress_update(&p, (uint64_t)i + 1);
    }
    if (shown) progress_finish(&p);
    r->seconds = mtp_now() - t0;
    free(scores);
    free(ctx.ids);
    free(cont.ids);
    return rc;
}

static void print_json(const choice_result *r, const choice_set *set, const char *ckpt, int window) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "accuracy", (double)r->correct / r->items);
    cJSON_AddNumberToObject(j, "accuracy_norm", (double)r->correct_norm / r->items);
    cJSON_AddNumberToObject(j, "items", r->items);
    cJSON_AddNumberToObject(j, "correct", r->correct);
    cJSON_AddNumberToObject(j, "correct_norm", r->correct_norm);
    cJSON_AddNumberToObject(j, "options", r->options);
    cJSON_AddNumberToObject(j, "tokens", (double)r->tokens);
    cJSON_AddNumberToObject(j, "truncated", r->truncated);
    cJSON_AddNumberToObject(j, "window", window);
    cJSON_AddStringToObject(j, "format", choice_format_name(set->format));
    cJSON_AddStringToObject(j, "kind", choice_kind_name(set->kind));
    cJSON_AddNumberToObject(j, "seconds", r->seconds);
    cJSON_AddStringToObject(j, "checkpoint", ckpt);
    char *text = cJSON_PrintUnformatted(j);
    if (text) puts(text);
    free(text);
    cJSON_Delete(j);
}

static void print_table(const choice_result *r, const choice_set *set, const char *ckpt, const char *data,
                        int window) {
    printf("model  %s\n", ckpt);
    printf("data   %s (%s, %s): %d items, %.2f choices each on average, %ld tokens scored in %.1fs\n", data,
           choice_format_name(set->format), choice_kind_name(set->kind), r->items,
           (double)r->options / r->items, r->tokens, r->seconds);
    printf("\naccuracy       %.4f  (%d/%d, by the sum of log-probabilities)\n", (double)r->correct / r->items,
           r->correct, r->items);
    printf("accuracy_norm  %.4f  (%d/%d, by log-probability per byte of the choice)\n",
           (double)r->correct_norm / r->items, r->correct_norm, r->items);
    if (r->truncated)
        printf("truncated      %d items had context cut from the left to fit the %d-token window\n",
               r->truncated, window);
}

int cmd_eval_choice(int argc, char **argv) {
    choice_args a;
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
    choice_set set;
    memset(&set, 0, sizeof set);
    tokenizer *tok = NULL;
    choice_result r;
    int rc = 1;
    // the items first: a bad file fails before a large model loads
    if (choice_load(a.data, a.format, a.delimiter, a.max_items, &set)) goto done;
    if (old_checkpoint_open(a.model, ckpt, sizeof ckpt, &cfg, &tok) || model_create(&m, &cfg) ||
        checkpoint_load_params(ckpt, &m) || loglik_init(&s, &m, 0))
        goto done;
    if (evaluate(&s, tok, &set, &r)) goto done;
    if (a.json)
        print_json(&r, &set, ckpt, s.window);
    else
        print_table(&r, &set, ckpt, a.data, s.window);
    rc = 0;
done:
    if (rc) fprintf(stderr, "mtp %s: %s\n", CMD, mtp_last_error());
    loglik_free(&s);
    choice_free(&set);
    tokenizer_free(tok);
    model_free(&m);
    return rc;
}
