// cmd_eval_choice.c: `mtp eval-choice`, multiple-choice accuracy by
// log-likelihood (tasks/choice_eval.h; item files: eval/choice.h and
// docs/eval-choice.md).
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/commands.h"
#include "cli/flag_groups.h"
#include "cli/progress.h"
#include "cli/session.h"
#include "libmtp.h"
#include "tasks/choice_eval.h"

typedef struct {
    model_flags m;
    const char *data, *delimiter;
    int format, max_items, json;
} choice_args;

static const char *const formats[] = {"auto", "gauntlet", "hellaswag", NULL};

static const flag CHOICE_FLAGS[] = {
    {"--data", FLAG_STRING, offsetof(choice_args, data), "FILE",
     "the items:\n"
     "gauntlet JSONL {\"query\": Q, \"choices\": [..], \"gold\": i}, or the\n"
     "schema form {\"context_options\": [..], \"continuation\": C, \"gold\": i}\n"
     "(Winogrande); the Eval Gauntlet's LAMBADA, TriviaQA and GSM8K are not\n"
     "multiple choice and are refused\n"
     "hellaswag text: 6 lines per item (context, gold 0-3, four endings);\n"
     "decompress the shipped file first:\n"
     "bzcat hellaswag_val_full.txt.bz2 > hellaswag_val_full.txt"},
    {"--format", FLAG_CHOICE, offsetof(choice_args, format), "F",
     "auto ('{' first means gauntlet), gauntlet or hellaswag", .choices = formats},
    {"--delimiter", FLAG_STRING, offsetof(choice_args, delimiter), "S",
     "text between the question and a choice; its trailing\n"
     "blanks belong to the choice, and blanks only are left out after a\n"
     "question ending in a blank or newline"},
    {"--max-items", FLAG_INT, offsetof(choice_args, max_items), "N", "score only the first N items", 1,
     1 << 30, .unset = "all"},
    {"--json", FLAG_BOOL, offsetof(choice_args, json), NULL,
     "print {\"accuracy\": .., \"accuracy_norm\": .., \"items\": N, ...}"},
    {0},
};

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
    jsonl_put(stdout, j);
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

// Scores the items and prints the report: 0, or 1 with an error.
static int score(const choice_args *a, const choice_set *set, model_session *ms) {
    progress bar;
    progress_sink sink = progress_bar(&bar, "eval-choice", (uint64_t)set->n_items, "items", 1.0);
    choice_result r;
    if (choice_evaluate(&ms->scorer, ms->ck.tok, set, &sink, &r)) return 1;
    if (a->json)
        print_json(&r, set, ms->ck.dir, ms->scorer.window);
    else
        print_table(&r, set, ms->ck.dir, a->data, ms->scorer.window);
    return 0;
}

static int run_eval_choice(command_line *cl) {
    const choice_args *a = cl->args;
    choice_set set = {0};
    model_session ms = {0};
    // the items first: a bad file fails before a large model loads
    int rc = choice_load(a->data, (choice_format)a->format, a->delimiter, a->max_items, &set) ||
             session_open(&ms, a->m.model) || session_scorer(&ms) || score(a, &set, &ms);
    session_close(&ms);
    choice_free(&set);
    return rc;
}

static const choice_args EVAL_CHOICE_DEFAULTS = {.delimiter = " "};

const command_spec CMD_EVAL_CHOICE = {
    .name = "eval-choice",
    .summary = "multiple-choice accuracy by log-likelihood",
    .usage = "usage: mtp eval-choice --model RUN_DIR|CHECKPOINT --data FILE [flags]",
    .about =
        "Multiple-choice accuracy by log-likelihood: every choice is scored by head 1's\n"
        "log-probability of its text after the question, and the most likely one is the answer.\n"
        "  accuracy        by the sum of the choice's token log-probabilities\n"
        "  accuracy_norm   by that sum divided by the choice's length in bytes (acc_norm)",
    .groups = {{NULL, MODEL_FLAGS, offsetof(choice_args, m), "--model --threads --device"},
               {NULL, CHOICE_FLAGS, 0}},
    .epilog =
        "A context longer than the model's window loses tokens from its left (counted as\n"
        "\"truncated\"). Progress and ETA go to stderr. See docs/eval-choice.md.",
    .required = "--model --data",
    COMMAND_RUN(run_eval_choice, EVAL_CHOICE_DEFAULTS),
};
