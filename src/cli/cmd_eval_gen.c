// cmd_eval_gen.c: `mtp eval-gen`, greedy exact-match accuracy on
// prompt/answer JSONL (tasks/gen_eval.h).
#include <stdio.h>
#include <stdlib.h>

#include "cli/commands.h"
#include "cli/flag_groups.h"
#include "cli/progress.h"
#include "cli/session.h"
#include "libmtp.h"
#include "tasks/gen_eval.h"

typedef struct {
    model_flags m;
    decode_flags d;
    const char *data;
    long max_items;
    int json, quiet;
} gen_args;

static const flag GEN_FLAGS[] = {
    {"--data", FLAG_STRING, offsetof(gen_args, data), "FILE", "the items, JSONL"},
    {"--max-items", FLAG_LONG, offsetof(gen_args, max_items), "N", "evaluate only the first N items", 1, 1e12,
     .unset = "all"},
    {"--json", FLAG_BOOL, offsetof(gen_args, json), NULL,
     "print one JSON object: {\"accuracy\", \"correct\", \"items\",\n"
     "\"groups\": {NAME: {\"accuracy\", \"correct\", \"n\"}}}"},
    {"--quiet", FLAG_BOOL, offsetof(gen_args, quiet), NULL, "no progress line"},
    {0},
};

static void print_table(const char *data, const char *ckpt, long items, int max_new, const decoder *dec,
                        int speculative, double seconds, const exact_match_tally *t) {
    char k[64];  // --speculative as given, with what it meant for this model
    if (dec->auto_k)
        snprintf(k, sizeof k, "auto, up to %d drafting head%s", dec->drafts, dec->drafts == 1 ? "" : "s");
    else if (speculative == DECODE_AUTO)
        snprintf(k, sizeof k, "auto: plain, no drafting heads");
    else if (speculative == DECODE_ALL)
        snprintf(k, sizeof k, "all: %d", dec->drafts);
    else
        snprintf(k, sizeof k, "%d", dec->drafts);
    printf("eval-gen: %ld item%s from %s, model %s, greedy (--speculative %s), --max-new %d, %.1f s\n\n",
           items, items == 1 ? "" : "s", data, ckpt, k, max_new, seconds);
    printf("| group | n | correct | accuracy |\n|---|---:|---:|---:|\n");
    for (int g = 0; g < t->n_groups; g++) {
        const exact_match_group *eg = &t->groups[g];
        printf("| %s | %ld | %ld | %.4f |\n", eg->name, eg->n, eg->correct,
               exact_match_accuracy(eg->correct, eg->n));
    }
    printf("| all | %ld | %ld | %.4f |\n", t->n, t->correct, exact_match_accuracy(t->correct, t->n));
}

// Generates every answer and prints the accuracy: 0, or 1 with an error.
static int evaluate(const gen_args *a, const gen_eval_set *set, model_session *ms) {
    progress bar;
    progress_start(&bar, "eval-gen", (uint64_t)set->count);
    progress_sink sink = {a->quiet ? NULL : progress_report, &bar};
    exact_match_tally tally;
    exact_match_tally_init(&tally);
    double t0 = mtp_now();
    char *report = NULL;
    int rc = gen_eval_run(set, &ms->gen, a->d.max_new, a->d.stop, &sink, &tally);
    if (rc && bar.tty && bar.drawn) fputc('\n', stderr);  // the error on a line of its own
    if (rc == 0 && a->json && (rc = !(report = exact_match_tally_json(&tally))) == 0) puts(report);
    if (rc == 0 && !a->json)
        print_table(a->data, ms->ck.dir, set->count, a->d.max_new, &ms->gen.dec, a->d.speculative,
                    mtp_now() - t0, &tally);
    free(report);
    exact_match_tally_free(&tally);
    return rc ? 1 : 0;
}

static int run_eval_gen(command_line *cl) {
    const gen_args *a = cl->args;
    gen_eval_set set = {0};
    model_session ms = {0};
    generator_config gc = {a->d.speculative, 0.0f, 0, 1.0f, 1};
    if (fs_is_dir(a->data)) {
        mtp_errorf("--data %s is a directory: give the JSONL file of items", a->data);
        return 1;
    }
    // the prompts are encoded and checked against the context before the weights load
    int rc = session_open(&ms, a->m.model) || generator_check(&ms.ck.cfg, &gc) ||
             gen_eval_load(&set, a->data, a->max_items, ms.ck.tok, ms.ck.cfg.max_seq_len) ||
             session_generator(&ms, &gc) || evaluate(a, &set, &ms);
    session_close(&ms);
    gen_eval_free(&set);
    return rc;
}

static const gen_args EVAL_GEN_DEFAULTS = {.d = {.max_new = 32, .speculative = 0, .stop = "\n"}};

const command_spec CMD_EVAL_GEN = {
    .name = "eval-gen",
    .summary = "greedy exact-match accuracy on prompt/answer JSONL (per group)",
    .usage = "usage: mtp eval-gen --model RUN_DIR|CHECKPOINT --data FILE.jsonl [flags]",
    .about =
        "Greedy exact-match accuracy. FILE.jsonl holds one item per line:\n"
        "  {\"prompt\": \"(31024+02100)=\", \"answer\": \"33124\", \"group\": \"m=1\"}   (group "
        "optional)\n"
        "Each prompt is continued greedily until the stop string, end-of-text or --max-new\n"
        "tokens; the text before the stop string and the answer, both with blanks trimmed at\n"
        "the ends, must be equal. Prints accuracy per group (in order of first appearance) and\n"
        "overall; greedy output, hence accuracy, is the same for every --speculative K.\n"
        "`mtp task poly` makes such files; see docs/eval-poly.md.",
    .groups = {{NULL, MODEL_FLAGS, offsetof(gen_args, m), "--model --threads --device"},
               {NULL, GEN_FLAGS, 0, "--data"},
               {NULL, DECODE_FLAGS, offsetof(gen_args, d), "--max-new --stop --speculative"},
               {NULL, GEN_FLAGS, 0, "--max-items --json --quiet"}},
    .required = "--model --data",
    COMMAND_RUN(run_eval_gen, EVAL_GEN_DEFAULTS),
};
