// cmd_eval_induction.c: `mtp eval-induction`, the induction score of
// Gloeckle et al. 2024 (section 4.1) on a test set from `mtp task induction`
// (tasks/induction.h). Teacher-forced: each renamed story, after the
// end-of-text token, runs through the model, and at every mention of a name
// after its first, head 1's argmax after the name's first token is compared
// with its second token (the score) and, for contrast, its argmax before the
// name with the first token. A mention that is not exactly two tokens under
// the model's tokenizer is skipped and counted.
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/commands.h"
#include "cli/flag_groups.h"
#include "cli/progress.h"
#include "cli/session.h"
#include "libmtp.h"
#include "tasks/induction.h"

typedef struct {
    model_flags m;
    const char *data;
    int max_stories, json;
} induction_args;

static const flag INDUCTION_FLAGS[] = {
    {"--data", FLAG_STRING, offsetof(induction_args, data), "FILE",
     "test.jsonl written by mtp task induction (with the model's tokenizer)"},
    {"--max-stories", FLAG_INT, offsetof(induction_args, max_stories), "N", "score only the first N stories",
     1, 1 << 30, .unset = "all"},
    {"--json", FLAG_BOOL, offsetof(induction_args, json), NULL,
     "print {\"accuracy\": .., \"first_token_accuracy\": .., \"occurrences\": N, ...}"},
    {0},
};

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
    jsonl_put(stdout, j);
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

// Scores the stories and prints the report: 0, or 1 with an error.
static int score(const induction_args *a, const induction_story *st, int n, model_session *ms) {
    progress bar;
    progress_sink sink = progress_bar(&bar, "eval-induction", (uint64_t)n, "stories", 1.0);
    induction_counts c;
    double seconds;
    if (induction_evaluate(&ms->scorer, ms->ck.tok, st, n, &sink, &c, &seconds)) return 1;
    if (c.occurrences == 0)
        return mtp_errorf(
                   "%s: no mention is two tokens under the model's tokenizer (%s): make the test set with "
                   "mtp task "
                   "induction --tokenizer %s",
                   a->data, tokenizer_name(ms->ck.tok), ms->ck.dir),
               1;
    if (a->json)
        print_json(&c, ms->ck.dir, ms->scorer.window, seconds);
    else
        print_table(&c, ms->ck.dir, a->data, ms->scorer.window, seconds);
    return 0;
}

static int run_eval_induction(command_line *cl) {
    const induction_args *a = cl->args;
    induction_story *st = NULL;
    int n = 0;
    model_session ms = {0};
    // the data first: a bad file fails before a large model loads
    int rc = induction_stories_read(a->data, a->max_stories, &st, &n) || session_open(&ms, a->m.model) ||
             session_scorer(&ms) || score(a, st, n, &ms);
    session_close(&ms);
    induction_stories_free(st, n);
    return rc;
}

static const induction_args EVAL_INDUCTION_DEFAULTS = {0};

const command_spec CMD_EVAL_INDUCTION = {
    .name = "eval-induction",
    .summary = "induction accuracy on the second token of repeated names",
    .usage = "usage: mtp eval-induction --model RUN_DIR|CHECKPOINT --data TEST_JSONL [flags]",
    .about =
        "Induction (Gloeckle et al. 2024, section 4.1) on stories from mtp task induction: at\n"
        "every mention of a character name after its first, is head 1's most likely next token,\n"
        "after the name's first token, the name's second token? (teacher-forced)\n"
        "  accuracy              that rate: the induction score\n"
        "  first_token_accuracy  the same for the first token, predicted before the name (for\n"
        "                        contrast: it depends on the story, not on copying)",
    .groups = {{NULL, MODEL_FLAGS, offsetof(induction_args, m), "--model --threads --device"},
               {NULL, INDUCTION_FLAGS, 0}},
    .epilog =
        "Stories longer than the model's context are scored in overlapping windows (each\n"
        "prediction sees at least half a window); they are counted as truncated. See\n"
        "docs/eval-induction.md.",
    .required = "--model --data",
    COMMAND_RUN(run_eval_induction, EVAL_INDUCTION_DEFAULTS),
};
