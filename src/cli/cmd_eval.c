// cmd_eval.c: `mtp eval`, each head's loss, perplexity and top-1 accuracy on a
// data directory's validation shards (train/val_loss.h). `mtp eval --batch B
// --max-batches N` scores the same windows as training's eval with --batch B
// --eval-batches N.
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/commands.h"
#include "cli/flag_groups.h"
#include "cli/progress.h"
#include "libmtp.h"
#include "train/val_loss.h"

typedef struct {
    model_flags m;
    const char *data;
    int batch, seq_len, max_batches, json;
} eval_args;

static const flag EVAL_FLAGS[] = {
    {"--data", FLAG_STRING, offsetof(eval_args, data), "DIR",
     "data directory made by mtp prepare (uses its val_*.bin)"},
    {"--batch", FLAG_INT, offsetof(eval_args, batch), "B", "windows per forward", 1, 65536},
    {"--seq-len", FLAG_INT, offsetof(eval_args, seq_len), "T", "tokens per window", 1, 1 << 24,
     .unset = "the model's context, max_position_embeddings in config.json"},
    {"--max-batches", FLAG_INT, offsetof(eval_args, max_batches), "N",
     "score only the first N batches of windows", 1, 1 << 30, .unset = "all windows"},
    {"--json", FLAG_BOOL, offsetof(eval_args, json), NULL,
     "print one JSON object instead of a table:\n"
     "{\"heads\": [{\"head\": 1, \"loss\": .., \"perplexity\": .., \"top1\": ..}, ...],\n"
     " \"loss\": sum of head losses, \"tokens\": targets per head, \"windows\": W, ...}"},
    {0},
};

static void print_json(const val_result *r, const char *ckpt, int T) {
    cJSON *j = cJSON_CreateObject(), *heads = cJSON_AddArrayToObject(j, "heads");
    for (int k = 0; k < r->n; k++) {
        cJSON *h = cJSON_CreateObject();
        cJSON_AddNumberToObject(h, "head", k + 1);
        cJSON_AddItemToObject(h, "loss", json_number_or_null(r->loss[k]));
        cJSON_AddItemToObject(h, "perplexity", json_number_or_null(exp(r->loss[k])));
        cJSON_AddItemToObject(h, "top1", json_number_or_null(r->top1[k]));
        cJSON_AddItemToArray(heads, h);
    }
    cJSON_AddItemToObject(j, "loss", json_number_or_null(r->total));
    cJSON_AddNumberToObject(j, "tokens", (double)r->tokens);
    cJSON_AddNumberToObject(j, "windows", (double)r->windows);
    cJSON_AddNumberToObject(j, "seq_len", T);
    cJSON_AddStringToObject(j, "checkpoint", ckpt);
    jsonl_put(stdout, j);
}

static void print_table(const val_result *r, const char *ckpt, const char *data, size_t all_windows, int T) {
    printf("model  %s (%d head%s)\n", ckpt, r->n, r->n == 1 ? "" : "s");
    printf("data   %s: %zu of %zu val windows of %d tokens (%zu targets per head) in %.1fs\n", data,
           r->windows, all_windows, T, r->tokens, r->seconds);
    printf("\n%-6s %-9s %10s %12s %8s\n", "head", "predicts", "loss", "perplexity", "top-1");
    for (int k = 0; k < r->n; k++) {
        char pred[16];
        snprintf(pred, sizeof pred, "t+%d", k + 1);
        printf("%-6d %-9s %10.4f %12.3f %7.2f%%\n", k + 1, pred, r->loss[k], exp(r->loss[k]),
               100 * r->top1[k]);
    }
    printf("%-6s %-9s %10.4f\n", "sum", "", r->total);
}

static int run_eval(command_line *cl) {
    eval_args *a = cl->args;
    int rc;
    mtp_checkpoint ck = {0};
    model_work w = {0};
    data_loader L = {0};
    int have_loader = 0;
    rc = 1;
    if (checkpoint_open(&ck, a->m.model, 0) != 0) goto done;
    int T = a->seq_len ? a->seq_len : ck.cfg.max_seq_len;
    if (T > ck.cfg.max_seq_len) {
        mtp_errorf(
            "--seq-len %d exceeds the model's context of %d tokens (max_position_embeddings in "
            "%s/config.json): "
            "use --seq-len %d or less",
            T, ck.cfg.max_seq_len, ck.dir, ck.cfg.max_seq_len);
        goto done;
    }
    // The data first: a bad data directory fails before a large model loads.
    // The vocabulary is checked here rather than by the loader so that the
    // message gives eval's remedy (the model's tokenizer), not train's.
    if (checkpoint_tokenizer_matches(ck.dir, a->data) != 0) {
        mtp_error_context("--data");
        goto done;
    }
    if (loader_open(&L, a->data, "val", T, ck.cfg.n_future, 0)) goto done;
    have_loader = 1;
    if (loader_vocab_needed(&L) > ck.cfg.vocab_size) {
        mtp_errorf(
            "%s: the val shards hold token id %u but the model's vocabulary has %d tokens (ids 0..%d): "
            "evaluate on data made with the model's tokenizer (mtp prepare --tokenizer %s ...)",
            a->data, (unsigned)L.max_token, ck.cfg.vocab_size, ck.cfg.vocab_size - 1, ck.dir);
        goto done;
    }
    size_t windows = val_windows(&L, a->max_batches, a->batch);
    int B = windows < (size_t)a->batch ? (int)windows : a->batch;
    if (checkpoint_load_weights(&ck) || model_to_device(&ck.model) ||
        model_work_alloc(&w, &ck.model, B, T, SCHEDULE_SEQUENTIAL, 0))
        goto done;
    progress bar;
    progress_sink sink = progress_bar(&bar, "eval", 0, "tok", 1.0);
    val_result r;
    if (val_loss(&w, &L, windows, B, T, &sink, &r)) goto done;
    if (a->json)
        print_json(&r, ck.dir, T);
    else
        print_table(&r, ck.dir, a->data, loader_num_windows(&L), T);
    rc = 0;
done:
    if (have_loader) loader_close(&L);
    model_work_free(&w);
    checkpoint_close(&ck);
    return rc;
}

static const eval_args EVAL_DEFAULTS = {.batch = 8};

const command_spec CMD_EVAL = {
    .name = "eval",
    .summary = "per-head loss, perplexity and top-1 accuracy on validation shards",
    .usage = "usage: mtp eval --model RUN_DIR|CHECKPOINT --data DATA_DIR [flags]",
    .about =
        "Scores every head (head k predicts token t+k) on DATA_DIR's val_*.bin shards: mean\n"
        "cross-entropy loss, perplexity exp(loss) and top-1 accuracy (how often the head's most\n"
        "likely token is the true one: what speculative decoding's acceptance rate follows).",
    .groups = {{NULL, MODEL_FLAGS, offsetof(eval_args, m), "--model --threads --device"},
               {NULL, EVAL_FLAGS, 0}},
    .required = "--model --data",
    COMMAND_RUN(run_eval, EVAL_DEFAULTS),
};
