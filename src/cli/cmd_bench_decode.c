// cmd_bench_decode.c: `mtp bench-decode`, plain vs self-speculative decoding
// speed on a file of prompts (tasks/bench_decode.h).
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/flag_groups.h"
#include "cli/progress.h"
#include "libmtp.h"
#include "tasks/bench_decode.h"

typedef struct {
    model_flags m;
    decode_flags d;
    const char *prompts;
    int max_prompts, repeats, json;
} bench_args;

static const flag BENCH_FLAGS[] = {
    {"--prompts", FLAG_STRING, offsetof(bench_args, prompts), "FILE",
     "one prompt per line, or JSONL lines {\"prompt\": \"...\"}\n"
     "(a line starting with '{' is JSON; empty lines are skipped)"},
    {"--max-prompts", FLAG_INT, offsetof(bench_args, max_prompts), "P", "use only the first P prompts", 1,
     1 << 30, .unset = "all"},
    {"--repeats", FLAG_INT, offsetof(bench_args, repeats), "R",
     "decode each prompt R times per K and take the median time\n(more steadies the numbers on a busy "
     "machine)",
     1, BENCH_DECODE_MAX_REPEATS},
    {"--json", FLAG_BOOL, offsetof(bench_args, json), NULL, "print the results as one JSON object"},
    {0},
};

static int print_json(const char *ckpt, const mtp_config *cfg, int q8, int P, int max_new,
                      const bench_decode_result *res, long mismatches, double bandwidth) {
    cJSON *root = cJSON_CreateObject(), *results = cJSON_CreateArray();
    cJSON_AddStringToObject(root, "model", ckpt);
    cJSON_AddNumberToObject(root, "heads", cfg->n_future);
    cJSON_AddNumberToObject(root, "prompts", P);
    cJSON_AddNumberToObject(root, "max_new", max_new);
    cJSON_AddNumberToObject(root, "mismatches", (double)mismatches);
    cJSON_AddNumberToObject(root, "threads", op_get_threads());
    cJSON_AddItemToObject(root, "read_bandwidth_gbs", json_number_or_null(bandwidth / 1e9));
    cJSON_AddNumberToObject(root, "weight_bytes_per_token", model_decode_weight_bytes(cfg, q8));
    cJSON_AddStringToObject(root, "weights", q8 ? "q8" : "f32");
    cJSON_AddItemToObject(root, "results", results);
    for (int K = 0; K <= cfg->n_future; K++) {  // the last: auto
        const bench_decode_result *r = &res[K];
        const int drafts = K < cfg->n_future ? K : cfg->n_future - 1;
        cJSON *o = cJSON_CreateObject(), *acc = cJSON_CreateArray();
        if (K < cfg->n_future)
            cJSON_AddNumberToObject(o, "k", K);
        else
            cJSON_AddStringToObject(o, "k", "auto");
        cJSON_AddItemToObject(o, "tokens_per_sec", json_number_or_null(r->tokens_per_sec));
        cJSON_AddItemToObject(o, "tokens_per_forward", json_number_or_null(r->tokens_per_forward));
        cJSON_AddItemToObject(o, "speedup", json_number_or_null(r->speedup));
        cJSON_AddItemToObject(o, "speedup_total", json_number_or_null(r->speedup_total));
        cJSON_AddItemToObject(o, "forward_cost", json_number_or_null(r->forward_cost));
        if (K >= 1 && K < cfg->n_future)
            cJSON_AddItemToObject(o, "paired_forward_cost", json_number_or_null(r->paired_cost));
        cJSON_AddItemToObject(o, "seconds_per_forward", json_number_or_null(r->seconds_per_forward));
        if (K == 0) {
            cJSON_AddItemToObject(o, "roofline", json_number_or_null(r->roofline));
            cJSON_AddItemToObject(o, "roofline_with_kv", json_number_or_null(r->roofline_kv));
            cJSON_AddItemToObject(o, "kv_bytes", json_number_or_null(r->kv_bytes));
        }
        for (int k = 0; k < drafts; k++) cJSON_AddItemToArray(acc, json_number_or_null(r->accept[k]));
        cJSON_AddItemToObject(o, "accept_rate", acc);
        cJSON_AddNumberToObject(o, "decode_seconds", r->decode_seconds);
        cJSON_AddNumberToObject(o, "prefill_seconds", r->prefill_seconds);
        cJSON_AddNumberToObject(o, "tokens", (double)r->tokens);
        cJSON_AddNumberToObject(o, "forwards", (double)r->forwards);
        cJSON_AddNumberToObject(o, "mismatches", (double)r->mismatches);
        cJSON_AddItemToArray(results, o);
    }
    return jsonl_put(stdout, root);
}

static void print_table(const char *ckpt, const mtp_config *cfg, int q8, int P, int max_new,
                        const bench_decode_result *res, double bandwidth) {
    printf(
        "bench-decode: %s (n = %d heads), %d prompt%s, --max-new %d, %d threads; medians over prompts, time "
        "= "
        "decode (prefill excluded)\n",
        ckpt, cfg->n_future, P, P == 1 ? "" : "s", max_new, op_get_threads());
    double bytes = model_decode_weight_bytes(cfg, q8);
    if (op_current_device() == OP_DEVICE_CPU)
        printf(
            "roofline: %.1f MB of %s weights per plain token, read bandwidth %.1f GB/s (probe, same "
            "process): "
            "at most %.1f tokens/s; plain decoding reaches %.0f%% of it (%.0f%% counting the float32 KV "
            "cache's reads too, %.1f MB a token at these contexts)\n\n",
            bytes / 1e6, q8 ? "int8" : "float32", bandwidth / 1e9, bandwidth / bytes, 100.0 * res[0].roofline,
            100.0 * res[0].roofline_kv, res[0].kv_bytes / 1e6);
    else  // the probe reads host memory: no roofline of the device's
        printf("device: %s\n\n", op_device_info());
    printf(
        "| K | tokens/s | tokens/forward | speedup | speedup (total) | forward cost | ms/forward | decode s "
        "(total) | acceptance per head |\n");
    printf("|---|---:|---:|---:|---:|---:|---:|---:|---|\n");
    for (int K = 0; K <= cfg->n_future; K++) {  // the last: auto
        const bench_decode_result *r = &res[K];
        const int drafts = K < cfg->n_future ? K : cfg->n_future - 1;
        char acc[MTP_MAX_FUTURE * 24] = "-", name[32];
        size_t at = 0;
        for (int k = 0; k < drafts; k++) {
            char one[24];
            if (isfinite(r->accept[k]))
                snprintf(one, sizeof one, "%sh%d %.3f", k ? ", " : "", k + 2, r->accept[k]);
            else
                snprintf(one, sizeof one, "%sh%d -", k ? ", " : "", k + 2);
            size_t l = strlen(one);
            if (at + l < sizeof acc) {
                memcpy(acc + at, one, l + 1);
                at += l;
            }
        }
        if (K == cfg->n_future)
            snprintf(name, sizeof name, "auto");
        else
            snprintf(name, sizeof name, "%d%s", K, K ? "" : " (plain)");
        printf("| %s | %.1f | %.2f | %.2fx | %.2fx | %.2fx | %.2f | %.3f | %s |\n", name, r->tokens_per_sec,
               r->tokens_per_forward, r->speedup, r->speedup_total, r->forward_cost,
               1e3 * r->seconds_per_forward, r->decode_seconds, acc);
    }
    printf(
        "\nforward cost, paired (a K+1-row verification over a one-token forward, alternating at the same "
        "context; median of pairs):");
    for (int K = 1; K < cfg->n_future; K++)
        printf(" K=%d %.2fx%s", K, res[K].paired_cost, K + 1 < cfg->n_future ? "," : "\n");
}

static int run_bench_decode(command_line *cl) {
    bench_args *a = cl->args;
    int rc;
    mtp_checkpoint ck = {0};
    bench_prompts prompts = {0};
    bench_decode_result res[MTP_MAX_FUTURE + 1];
    double bandwidth = 0.0;
    long mismatches = 0;
    int first_bad = 0;
    rc = 1;
    if (fs_is_dir(a->prompts)) {
        mtp_errorf("--prompts %s is a directory: give a file of prompts, one per line or JSONL", a->prompts);
        goto done;
    }
    // the decode layout is the CPU's; a device gets the row-major weights
    if (checkpoint_open(
            &ck, a->m.model,
            CHECKPOINT_TOKENIZER | (op_current_device() == OP_DEVICE_CPU ? CHECKPOINT_DECODING : 0)))
        goto done;
    const mtp_config *cfg = &ck.cfg;
    if (cfg->n_future < 2) {
        mtp_errorf(
            "%s has 1 head (n_future = 1): no drafting heads, so nothing to compare with plain decoding; "
            "train with --n-future 2 or more",
            ck.dir);
        goto done;
    }
    if (cfg->n_future > cfg->max_seq_len) {  // K = n-1 verifies n rows (the decoder's rule)
        mtp_errorf(
            "%s's context of %d tokens cannot hold a verification by all %d heads (K = %d: %d rows), and "
            "bench-decode times every K: benchmark a model with a longer context",
            ck.dir, cfg->max_seq_len, cfg->n_future, cfg->n_future - 1, cfg->n_future);
        goto done;
    }
    if (a->d.max_new >= cfg->max_seq_len) {
        mtp_errorf(
            "--max-new %d leaves no room for a prompt in the model's context of %d tokens: use at most %d",
            a->d.max_new, cfg->max_seq_len, cfg->max_seq_len - 1);
        goto done;
    }
    if (bench_prompts_read(&prompts, a->prompts, ck.tok, a->max_prompts) != 0) goto done;
    // prompts must leave room for max_new tokens in the context: keep their newest tokens
    int keep = cfg->max_seq_len - a->d.max_new, cut = bench_prompts_fit(&prompts, keep);
    if (cut)
        fprintf(stderr,
                "mtp bench-decode: %d of %d prompts are longer than the context (%d) minus --max-new (%d): "
                "keeping "
                "their last %d tokens\n",
                cut, prompts.count, cfg->max_seq_len, a->d.max_new, keep);
    if (checkpoint_load_weights(&ck) || model_to_device(&ck.model)) goto done;
    progress bar;
    progress_sink sink = progress_bar(&bar, "prompts", (uint64_t)prompts.count, NULL, 0);
    if (bench_decode_run(&ck.model, &prompts, a->d.max_new, a->repeats, tokenizer_eot(ck.tok), &sink, res,
                         &bandwidth))
        goto done;
    for (int K = 0; K <= cfg->n_future; K++) {
        if (res[K].mismatches && !first_bad) first_bad = K;
        mismatches += res[K].mismatches;
    }
    if (a->json) {
        if (print_json(ck.dir, cfg, ck.model.q8, prompts.count, a->d.max_new, res, mismatches, bandwidth) !=
            0)
            goto done;
    } else {
        print_table(ck.dir, cfg, ck.model.q8, prompts.count, a->d.max_new, res, bandwidth);
    }
    fflush(stdout);
    rc = 0;
    if (mismatches) {
        fprintf(stderr,
                "mtp bench-decode: warning: %ld speculative outputs differ from plain greedy decoding (first "
                "with K = %d%s); speculative decoding must be lossless\n",
                mismatches, first_bad < cfg->n_future ? first_bad : cfg->n_future - 1,
                first_bad < cfg->n_future ? "" : ", auto");
        rc = 2;
    }
done:
    bench_prompts_free(&prompts);
    checkpoint_close(&ck);
    return rc ? 1 : 0;
}

static const bench_args BENCH_DECODE_DEFAULTS = {.d = {.max_new = 128}, .repeats = 1};

const command_spec CMD_BENCH_DECODE = {
    .name = "bench-decode",
    .summary = "plain vs speculative decoding speed on a prompt file",
    .usage = "usage: mtp bench-decode --model RUN_DIR|CHECKPOINT --prompts FILE [flags]",
    .about =
        "Decodes every prompt greedily, plain (K = 0), self-speculatively with K = 1..n-1\n"
        "drafting heads and with K chosen step by step (auto, --speculative auto of\n"
        "generate), and reports per K the medians over prompts of tokens/s, tokens per\n"
        "forward, each drafting head's acceptance rate, the wall-clock speedup over plain\n"
        "decoding (decode time only, prefill excluded) and the forward cost (time per\n"
        "forward over plain decoding's; speedup = tokens/forward / forward cost), plus\n"
        "totals. Each prompt is decoded with every K in turn, so the per-prompt ratios\n"
        "compare runs made close together.\n"
        "Exits 1 if any speculative output differs from the plain one.",
    .groups = {{NULL, MODEL_FLAGS, offsetof(bench_args, m), "--model --threads --device"},
               {NULL, BENCH_FLAGS, 0, "--prompts"},
               {NULL, DECODE_FLAGS, offsetof(bench_args, d), "--max-new"},
               {NULL, BENCH_FLAGS, 0, "--max-prompts --repeats --json"}},
    .required = "--model --prompts",
    COMMAND_RUN(run_bench_decode, BENCH_DECODE_DEFAULTS),
};
