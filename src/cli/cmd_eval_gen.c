// cmd_eval_gen.c: `mtp eval-gen`, greedy exact-match accuracy on
// prompt/answer JSONL (tasks/gen_eval.h).
#include <stdio.h>
#include <stdlib.h>

#include "cli/commands.h"
#include "cli/flag_groups.h"
#include "cli/progress.h"
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

static void print_table(const char *data, const char *ckpt, long items, int max_new, int speculative,
                        double seconds, const exact_match_tally *t) {
    printf("eval-gen: %ld items from %s, model %s, greedy (--speculative %d), --max-new %d, %.1f s\n\n",
           items, data, ckpt, speculative, max_new, seconds);
    printf("| group | n | correct | accuracy |\n|---|---:|---:|---:|\n");
    for (int g = 0; g < t->n_groups; g++) {
        const exact_match_group *eg = &t->groups[g];
        printf("| %s | %ld | %ld | %.4f |\n", eg->name, eg->n, eg->correct,
               exact_match_accuracy(eg->correct, eg->n));
    }
    printf("| all | %ld | %ld | %.4f |\n", t->n, t->correct, exact_match_accuracy(t->correct, t->n));
}

static int run_eval_gen(command_line *cl) {
    gen_args *a = cl->args;
    int rc;
    checkpoint ck = {0};
    gen_eval_set set = {0};
    generator g = {0};
    exact_match_tally tally;
    exact_match_tally_init(&tally);
    generator_config gc = {a->d.speculative, 0.0f, 0, 1.0f, 1};
    progress bar = {0};
    rc = 1;
    if (checkpoint_open(&ck, a->m.model, CHECKPOINT_TOKENIZER) || generator_check(&ck.cfg, &gc) ||
        gen_eval_load(&set, a->data, a->max_items, ck.tok, ck.cfg.max_seq_len) ||
        checkpoint_load_weights(&ck) || generator_init(&g, &ck.model, ck.tok, &gc))
        goto done;
    progress_start(&bar, "eval-gen", (uint64_t)set.count);
    progress_sink sink = {a->quiet ? NULL : progress_report, &bar};
    double t0 = mtp_now();
    if (gen_eval_run(&set, &g, a->d.max_new, a->d.stop, &sink, &tally)) {
        if (bar.tty && bar.drawn) fputc('\n', stderr);  // the error on a line of its own
        goto done;
    }
    if (a->json) {
        char *report = exact_match_tally_json(&tally);
        if (!report) goto done;
        puts(report);
        free(report);
    } else {
        print_table(a->data, ck.dir, set.count, a->d.max_new, g.dec.drafts, mtp_now() - t0, &tally);
    }
    rc = 0;
done:
    exact_match_tally_free(&tally);
    generator_free(&g);
    gen_eval_free(&set);
    checkpoint_close(&ck);
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
    .groups = {{NULL, MODEL_FLAGS, offsetof(gen_args, m)},
               {NULL, GEN_FLAGS, 0, "--data"},
               {NULL, DECODE_FLAGS, offsetof(gen_args, d), "--max-new --stop --speculative"},
               {NULL, GEN_FLAGS, 0, "--max-items --json --quiet"}},
    .required = "--model --data",
    .run = run_eval_gen,
    .defaults = &EVAL_GEN_DEFAULTS,
    .size = sizeof(gen_args),
};
