// cmd_eval.c: `mtp eval`, each head's loss, perplexity and top-1 accuracy on a
// data directory's validation shards. Head k's top-1 accuracy is the rate at
// which its argmax is token t+k: roughly the chance that its draft is accepted
// by speculative decoding.
//
// Windows are read in order (window w = val tokens [w*T, w*T + T + n) of its
// shard, as `mtp train --eval-every` reads them), so `mtp eval --batch B
// --max-batches N` scores the same windows as training's eval with --batch B
// --eval-batches N. Each window weighs the same: a batch's mean is weighted
// by its number of windows, and the last batch holds only the windows left.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/progress.h"
#include "mtp.h"

// Below this many seconds an eval finishes without a progress line.
#define PROGRESS_AFTER_S 1.0

static const char *help =
    "usage: mtp eval --model RUN_DIR|CHECKPOINT --data DATA_DIR [flags]\n"
    "\n"
    "Scores every head (head k predicts token t+k) on DATA_DIR's val_*.bin shards: mean\n"
    "cross-entropy loss, perplexity exp(loss) and top-1 accuracy (how often the head's most\n"
    "likely token is the true one: what speculative decoding's acceptance rate follows).\n"
    "  --model PATH        checkpoint directory, or run directory (its latest checkpoint)\n"
    "  --data DIR          data directory made by mtp prepare (uses its val_*.bin)\n"
    "  --batch B           windows per forward (default 8)\n"
    "  --seq-len T         tokens per window (default: the model's context,\n"
    "                      max_position_embeddings in config.json)\n"
    "  --max-batches N     score only the first N batches of windows (default: all windows)\n"
    "  --threads N         CPU threads (default: all cores)\n"
    "  --json              print one JSON object instead of a table:\n"
    "                      {\"heads\": [{\"head\": 1, \"loss\": .., \"perplexity\": .., \"top1\": ..}, "
    "...],\n"
    "                       \"loss\": sum of head losses, \"tokens\": targets per head, \"windows\": W, "
    "...}\n";

typedef struct {
    const char *model, *data;
    int batch, seq_len, max_batches, threads, json;
} eval_args;

// 0 on success, 1 after --help (exit 0), 2 after a usage error.
static int parse(int argc, char **argv, eval_args *a) {
    const char *v;
    memset(a, 0, sizeof *a);
    a->batch = 8;
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        if (args_is_help(f)) {
            fputs(help, stdout);
            return 1;
        }
        if (!strcmp(f, "--model")) {
            if (!(a->model = args_value("eval", argc, argv, &i))) return 2;
        } else if (!strcmp(f, "--data")) {
            if (!(a->data = args_value("eval", argc, argv, &i))) return 2;
        } else if (!strcmp(f, "--batch")) {
            if (!(v = args_value("eval", argc, argv, &i)) || args_int("eval", f, v, 1, 65536, &a->batch))
                return 2;
        } else if (!strcmp(f, "--seq-len")) {
            if (!(v = args_value("eval", argc, argv, &i)) || args_int("eval", f, v, 1, 1 << 24, &a->seq_len))
                return 2;
        } else if (!strcmp(f, "--max-batches")) {
            if (!(v = args_value("eval", argc, argv, &i)) ||
                args_int("eval", f, v, 1, 1 << 30, &a->max_batches))
                return 2;
        } else if (!strcmp(f, "--threads")) {
            if (!(v = args_value("eval", argc, argv, &i)) || args_int("eval", f, v, 1, 1024, &a->threads))
                return 2;
        } else if (!strcmp(f, "--json")) {
            a->json = 1;
        } else {
            args_unknown("eval", f);
            return 2;
        }
    }
    if (!a->model || !a->data) {
        fprintf(stderr, "mtp eval: --model and --data are required (see mtp eval --help)\n");
        return 2;
    }
    return 0;
}

// A JSON number, or null where a diverged model gives inf or NaN.
static void json_number(double x) {
    if (isfinite(x))
        printf("%.12g", x);
    else
        fputs("null", stdout);
}

static void json_string(const char *s) {
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

typedef struct {
    int n;           // heads
    size_t windows;  // scored
    size_t tokens;   // targets per head: windows * T
    double seconds;
    double loss[MTP_MAX_FUTURE], top1[MTP_MAX_FUTURE], total;
} eval_result;

static void print_json(const eval_result *r, const char *ckpt, int T) {
    fputs("{\"heads\": [", stdout);
    for (int k = 0; k < r->n; k++) {
        printf("%s{\"head\": %d, \"loss\": ", k ? ", " : "", k + 1);
        json_number(r->loss[k]);
        fputs(", \"perplexity\": ", stdout);
        json_number(exp(r->loss[k]));
        fputs(", \"top1\": ", stdout);
        json_number(r->top1[k]);
        putchar('}');
    }
    fputs("], \"loss\": ", stdout);
    json_number(r->total);
    printf(", \"tokens\": %zu, \"windows\": %zu, \"seq_len\": %d, \"checkpoint\": ", r->tokens, r->windows,
           T);
    json_string(ckpt);
    fputs("}\n", stdout);
}

static void print_table(const eval_result *r, const char *ckpt, const char *data, size_t all_windows, int T) {
    printf("model  %s (%d heads)\n", ckpt, r->n);
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

// Scores the first `windows` val windows in batches of up to B (work buffers
// sized for B x T).
static int evaluate(model_work *m, const data_loader *L, size_t windows, int B, int T, eval_result *r) {
    int n = m->cfg.n_future, row_len = T + n;
    int32_t *rows = mtp_malloc(sizeof(int32_t) * (size_t)B * (size_t)row_len, "eval rows");
    if (!rows) return -1;
    double sum_loss[MTP_MAX_FUTURE] = {0}, sum_top1[MTP_MAX_FUTURE] = {0};
    double head_loss[MTP_MAX_FUTURE], head_top1[MTP_MAX_FUTURE];
    progress p;
    int shown = 0;
    double t0 = mtp_now();
    for (size_t start = 0; start < windows; start += (size_t)B) {
        // the tail batch holds only the windows left: loader_window_batch
        // wraps around, which would count the first windows twice
        int b = windows - start < (size_t)B ? (int)(windows - start) : B;
        loader_window_batch(L, start, b, rows);
        if (model_forward_loss(m, rows, b, T, head_loss, head_top1) != 0) {
            free(rows);
            return -1;
        }
        for (int k = 0; k < n; k++) {
            sum_loss[k] += head_loss[k] * b;
            sum_top1[k] += head_top1[k] * b;
        }
        size_t done = start + (size_t)b;
        if (!shown && done < windows && mtp_now() - t0 >= PROGRESS_AFTER_S) {
            progress_start(&p, "eval", (uint64_t)windows * (uint64_t)T);
            p.unit = "tok";
            p.start = t0;  // the rate and ETA count the batches already done
            shown = 1;
        }
        if (shown) progress_update(&p, (uint64_t)done * (uint64_t)T);
    }
    if (shown) progress_finish(&p);
    free(rows);
    r->n = n;
    r->windows = windows;
    r->tokens = windows * (size_t)T;
    r->seconds = mtp_now() - t0;
    r->total = 0;
    for (int k = 0; k < n; k++) {
        r->loss[k] = sum_loss[k] / (double)windows;
        r->top1[k] = sum_top1[k] / (double)windows;
        r->total += r->loss[k];
    }
    return 0;
}

int cmd_eval(int argc, char **argv) {
    eval_args a;
    int prc = parse(argc, argv, &a);
    if (prc == 1) return 0;
    if (prc) return 2;
    if (a.threads) op_set_threads(a.threads);

    char ckpt[4096];
    mtp_config cfg;
    mtp_model m;
    memset(&m, 0, sizeof m);
    model_work w;
    memset(&w, 0, sizeof w);
    data_loader L;
    memset(&L, 0, sizeof L);
    int have_loader = 0, rc = 1;
    if (checkpoint_resolve(a.model, ckpt, sizeof ckpt) || checkpoint_read_config(ckpt, &cfg)) goto fail;
    int T = a.seq_len ? a.seq_len : cfg.max_seq_len;
    if (T > cfg.max_seq_len) {
        mtp_errorf(
            "--seq-len %d exceeds the model's context of %d tokens (max_position_embeddings in "
            "%s/config.json): use --seq-len %d or less",
            T, cfg.max_seq_len, ckpt, cfg.max_seq_len);
        goto fail;
    }
    // The data first: a bad data directory fails before a large model loads.
    // The vocabulary is checked here rather than by the loader so that the
    // message gives eval's remedy (the model's tokenizer), not train's.
    if (loader_open(&L, a.data, "val", T, cfg.n_future, 0)) goto fail;
    have_loader = 1;
    if (loader_vocab_needed(&L) > cfg.vocab_size) {
        mtp_errorf(
            "%s: the val shards hold token id %u but the model's vocabulary has %d tokens (ids 0..%d): "
            "evaluate on data made with the model's tokenizer (mtp prepare --tokenizer %s ...)",
            a.data, (unsigned)L.max_token, cfg.vocab_size, cfg.vocab_size - 1, ckpt);
        goto fail;
    }
    size_t all = loader_num_windows(&L), windows = all;
    if (a.max_batches && (size_t)a.max_batches * (size_t)a.batch < windows)
        windows = (size_t)a.max_batches * (size_t)a.batch;
    int B = windows < (size_t)a.batch ? (int)windows : a.batch;
    if (model_create(&m, &cfg) || checkpoint_load_params(ckpt, &m) ||
        model_work_alloc(&w, &m, B, T, SCHEDULE_SEQUENTIAL, 0))
        goto fail;
    eval_result r;
    if (evaluate(&w, &L, windows, B, T, &r)) goto fail;
    if (a.json)
        print_json(&r, ckpt, T);
    else
        print_table(&r, ckpt, a.data, all, T);
    rc = 0;
fail:
    if (rc) fprintf(stderr, "mtp eval: %s\n", mtp_last_error());
    if (have_loader) loader_close(&L);
    model_work_free(&w);
    model_free(&m);
    return rc;
}
