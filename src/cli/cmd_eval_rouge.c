// cmd_eval_rouge.c: `mtp eval-rouge`, ROUGE-1/2/L F1 of summaries that are
// given or that a model writes greedily for XSum documents
// (tasks/rouge_eval.h; docs/eval-rouge.md).
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/flag_groups.h"
#include "cli/progress.h"
#include "cli/session.h"
#include "libmtp.h"
#include "tasks/rouge_eval.h"

typedef struct {
    model_flags m;
    decode_flags d;
    const char *predictions, *references, *data, *predictions_out, *per_item;
    int stem, bootstrap, json;
    long max_items;
    uint64_t seed;
} rouge_args;

#define OFF(field) offsetof(rouge_args, field)

static const flag GIVEN_FLAGS[] = {
    {"--predictions", FLAG_STRING, OFF(predictions), "FILE",
     "one prediction per item: JSONL objects with a \"text\" field, or\n"
     "plain text with one item per line (blank lines are empty items);\n"
     "a file whose first non-blank character is '{' is read as JSONL"},
    {"--references", FLAG_STRING, OFF(references), "FILE",
     "the references in the same formats; JSONL may hold \"summary\"\n"
     "instead of \"text\", so an XSum file serves as is. The two files\n"
     "must have as many items, in the same order"},
    {0},
};

static const flag MODEL_ROUGE_FLAGS[] = {
    {"--data", FLAG_STRING, OFF(data), "FILE",
     "XSum JSONL, one {\"id\": .., \"document\": .., \"summary\": ..} per line"},
    {"--predictions-out", FLAG_STRING, OFF(predictions_out), "F",
     "write the summaries as JSONL {\"id\": .., \"text\": ..}"},
    {0},
};

static const flag COMMON_FLAGS[] = {
    {"--max-items", FLAG_LONG, OFF(max_items), "N",
     "score the first N items only; given files are cut\nto N items before their counts are compared", 1,
     1e12, .unset = "all"},
    {"--stem", FLAG_BOOL, OFF(stem), NULL,
     "Porter-stem tokens longer than 3 letters (rouge-score's\nuse_stemmer=True; nltk's PorterStemmer)"},
    {"--bootstrap", FLAG_INT, OFF(bootstrap), "N",
     "also a 95% bootstrap interval of each mean, from N resamples", 1, 1000000},
    {"--seed", FLAG_U64, OFF(seed), "S", "the bootstrap's seed"},
    {"--per-item", FLAG_STRING, OFF(per_item), "FILE", "write each item's precision, recall and F1 as JSONL"},
    {"--json", FLAG_BOOL, OFF(json), NULL,
     "one JSON object, scores as fractions in [0, 1]:\n{\"rouge1\": .., \"rouge2\": .., \"rougeL\": .., "
     "\"items\": n, ...}"},
    {0},
};

static const char *const metric_names[3] = {"rouge1", "rouge2", "rougeL"};

static void print_report(const rouge_args *a, const rouge_report *r, long n, long truncated) {
    if (a->json) {
        cJSON *j = cJSON_CreateObject();
        for (int m = 0; m < 3; m++) cJSON_AddItemToObject(j, metric_names[m], rouge_exact_number(r->mean[m]));
        cJSON_AddNumberToObject(j, "items", (double)n);
        cJSON_AddBoolToObject(j, "stemmer", a->stem);
        if (a->bootstrap) {
            cJSON *ci = cJSON_AddObjectToObject(j, "interval95");
            for (int m = 0; m < 3; m++) {
                cJSON *pair = cJSON_AddArrayToObject(ci, metric_names[m]);
                cJSON_AddItemToArray(pair, rouge_exact_number(r->low[m]));
                cJSON_AddItemToArray(pair, rouge_exact_number(r->high[m]));
            }
            cJSON_AddNumberToObject(j, "bootstrap_samples", a->bootstrap);
        }
        if (a->m.model) {
            cJSON_AddNumberToObject(j, "max_new", a->d.max_new);
            cJSON_AddNumberToObject(j, "truncated_prompts", (double)truncated);
        }
        jsonl_put(stdout, j);
        return;
    }
    printf("ROUGE F1 x 100, mean over %ld item%s (rouge-score's default tokenizer, %s stemming)\n", n,
           n == 1 ? "" : "s", a->stem ? "Porter" : "no");
    for (int m = 0; m < 3; m++) {
        printf("%-8s %6.2f", metric_names[m], 100 * r->mean[m]);
        if (a->bootstrap) printf("   95%% interval [%.2f, %.2f]", 100 * r->low[m], 100 * r->high[m]);
        printf("\n");
    }
    if (a->m.model && truncated)
        printf("%ld of %ld prompts were cut from the left to fit the context with --max-new %d\n", truncated,
               n, a->d.max_new);
}

// The mode's flags must come together, and only with their mode.
static int check_mode(const command_line *cl, const rouge_args *a) {
    int given = a->predictions || a->references, model = a->m.model || a->data;
    const char *usage = NULL;
    if (given && model)
        usage = "give --predictions/--references or --model/--data, not both";
    else if (given && (!a->predictions || !a->references))
        usage = a->predictions ? "--predictions needs --references" : "--references needs --predictions";
    else if (model && (!a->m.model || !a->data))
        usage = a->m.model ? "--model needs --data (an XSum JSONL file)" : "--data needs --model";
    else if (!given && !model)
        usage = "give --predictions and --references, or --model and --data";
    else if (given && (flags_given(cl, "--max-new") || flags_given(cl, "--speculative") ||
                       a->predictions_out || flags_given(cl, "--threads") || flags_given(cl, "--device")))
        usage = "--max-new, --speculative, --predictions-out, --threads and --device go with --model only";
    else if (flags_given(cl, "--seed") && !a->bootstrap)
        usage = "--seed is the bootstrap's: it needs --bootstrap N";
    return usage ? flags_usage_error(cl, "%s", usage) : FLAGS_OK;
}

// Before any work: an output must be a file that can be written and none of
// the inputs (writing it would destroy that input), nor the other output.
static int check_outputs(const command_line *cl, const rouge_args *a) {
    const char *in_flag[] = {"--data", "--predictions", "--references"},
               *in[] = {a->data, a->predictions, a->references};
    const char *out_flag[] = {"--predictions-out", "--per-item"}, *out[] = {a->predictions_out, a->per_item};
    for (int o = 0; o < 2; o++) {
        if (!out[o]) continue;
        for (int i = 0; i < 3; i++)
            if (in[i] && fs_same_file(out[o], in[i]))
                return flags_usage_error(
                    cl,
                    "%s %s is the same file as %s %s: writing it would destroy the input; "
                    "give %s another path",
                    out_flag[o], out[o], in_flag[i], in[i], out_flag[o]);
        if (o == 1 && out[0] && (fs_same_file(out[0], out[1]) || !strcmp(out[0], out[1])))
            return flags_usage_error(
                cl, "--per-item %s is the same file as --predictions-out %s: give them two paths", out[1],
                out[0]);
        if (fs_check_output(out[o]) != 0) {
            mtp_error_context("%s %s", out_flag[o], out[o]);
            return 1;
        }
    }
    return FLAGS_OK;
}

static int summarize(const rouge_args *a, rouge_items *items, long *truncated) {
    model_session ms = {0};
    generator_config gc = {a->d.speculative, 0.0f, 0, 1.0f, 1};
    int rc = session_open(&ms, a->m.model);
    if (rc == 0 && a->d.max_new >= ms.ck.cfg.max_seq_len)
        rc = mtp_errorf(
            "--max-new %d leaves no room for the document in the context of %d tokens of %s: use at most %d",
            a->d.max_new, ms.ck.cfg.max_seq_len, ms.ck.dir, ms.ck.cfg.max_seq_len - 1);
    if (rc == 0) rc = session_generator(&ms, &gc);
    if (rc == 0) {
        progress bar;
        progress_sink sink = progress_bar(&bar, "eval-rouge", (uint64_t)items->n, NULL, 1.0);
        rc = rouge_summarize(items, &ms.gen, a->d.max_new, a->data, &sink, truncated);
    }
    session_close(&ms);
    return rc;
}

static int run_eval_rouge(command_line *cl) {
    rouge_args *a = cl->args;
    int rc = check_mode(cl, a);
    if (!rc) rc = check_outputs(cl, a);
    if (rc) return rc;
    rouge_items preds = {0}, refs = {0};
    long truncated = 0;
    rouge_report r;
    rc = 1;
    if (a->m.model) {
        if (rouge_items_read("--data", a->data, 1, 0, &preds)) goto done;
        if (a->max_items) rouge_items_truncate(&preds, a->max_items);
        if (summarize(a, &preds, &truncated)) goto done;
        if (a->predictions_out && rouge_write_predictions(a->predictions_out, &preds)) goto done;
    } else {
        if (rouge_items_read("--predictions", a->predictions, 0, 0, &preds) ||
            rouge_items_read("--references", a->references, 0, 1, &refs))
            goto done;
        // --max-items cuts both files first, so predictions for the first N
        // items can be scored against a whole reference file.
        if (a->max_items) {
            rouge_items_truncate(&preds, a->max_items);
            rouge_items_truncate(&refs, a->max_items);
        }
        if (preds.n != refs.n) {
            mtp_errorf(
                "--predictions %s has %ld items but --references %s has %ld%s: give one prediction per "
                "reference, "
                "in the same order",
                a->predictions, preds.n, a->references, refs.n, a->max_items ? " (after --max-items)" : "");
            goto done;
        }
    }
    if (rouge_evaluate(&preds, a->m.model ? NULL : &refs, a->stem, a->bootstrap, a->seed, a->per_item, &r))
        goto done;
    print_report(a, &r, preds.n, truncated);
    rc = 0;
done:
    rouge_items_free(&preds);
    rouge_items_free(&refs);
    return rc;
}

static const rouge_args EVAL_ROUGE_DEFAULTS = {.d = {.max_new = 64, .speculative = -1}, .seed = 1};

const command_spec CMD_EVAL_ROUGE = {
    .name = "eval-rouge",
    .summary = "ROUGE-1/2/L F1 of summaries (given, or generated by a model)",
    .usage =
        "usage: mtp eval-rouge --predictions FILE --references FILE [flags]\n"
        "       mtp eval-rouge --model RUN_DIR|CHECKPOINT --data XSUM.jsonl [flags]",
    .about =
        "ROUGE-1, ROUGE-2 and ROUGE-L F1 as Google's rouge-score package computes them\n"
        "(default tokenizer: lowercase, tokens are the runs of [a-z0-9]; rougeL is the\n"
        "sentence-level LCS score, not rougeLsum), the mean over items, printed x100.",
    .groups = {{"given texts:", GIVEN_FLAGS, 0},
               {"summaries written by a model (greedy; self-speculative gives the same text):", MODEL_FLAGS,
                offsetof(rouge_args, m), "--model"},
               {NULL, MODEL_ROUGE_FLAGS, 0, "--data"},
               {NULL, DECODE_FLAGS, offsetof(rouge_args, d), "--max-new --speculative"},
               {NULL, MODEL_ROUGE_FLAGS, 0, "--predictions-out"},
               {NULL, MODEL_FLAGS, offsetof(rouge_args, m), "--threads --device"},
               {"either way:", COMMON_FLAGS, 0}},
    .epilog =
        "With a model, the prompt is DOCUMENT + \"\\nTL;DR:\", cut from the left (in tokens) to leave\n"
        "--max-new tokens of the context; the summary is what follows, from its first non-blank\n"
        "character up to a newline, end-of-text or --max-new tokens, trimmed.",
    COMMAND_RUN(run_eval_rouge, EVAL_ROUGE_DEFAULTS),
};
