// cmd_sample.c: `mtp sample`, a quick look at what a model learned. Runs the
// training model's forward over the whole context for each new token (the
// cached, speculative engine is `mtp generate`'s job).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/checkpoint_open.h"
#include "cli/commands.h"
#include "mtp.h"

static const char *help =
    "usage: mtp sample --model RUN_DIR|CHECKPOINT --prompt TEXT [flags]\n"
    "\n"
    "Continues TEXT with head 1 (the next-token head) and prints the result.\n"
    "  --model PATH        checkpoint directory, or run directory (its latest checkpoint)\n"
    "  --prompt TEXT       the text to continue (may be empty)\n"
    "  --max-new N         tokens to generate (default 200)\n"
    "  --temperature T     0 = greedy (default 0.8)\n"
    "  --top-k K           sample among the K most likely tokens, 0 = all (default 0)\n"
    "  --seed S            sampling seed (default 1)\n"
    "  --threads N         CPU threads (default: all cores)\n";

int cmd_sample(int argc, char **argv) {
    const char *model_path = NULL, *prompt = NULL, *v;
    int max_new = 200, top_k = 0, threads = 0;
    double temperature = 0.8;
    uint64_t seed = 1;
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        if (args_is_help(f)) {
            fputs(help, stdout);
            return 0;
        }
        if (!strcmp(f, "--model")) {
            if (!(model_path = args_value("sample", argc, argv, &i))) return 2;
        } else if (!strcmp(f, "--prompt")) {
            if (!(prompt = args_value("sample", argc, argv, &i))) return 2;
        } else if (!strcmp(f, "--max-new")) {
            if (!(v = args_value("sample", argc, argv, &i)) || args_int("sample", f, v, 0, 1 << 24, &max_new))
                return 2;
        } else if (!strcmp(f, "--top-k")) {
            if (!(v = args_value("sample", argc, argv, &i)) || args_int("sample", f, v, 0, 1 << 30, &top_k))
                return 2;
        } else if (!strcmp(f, "--threads")) {
            if (!(v = args_value("sample", argc, argv, &i)) || args_int("sample", f, v, 1, 1024, &threads))
                return 2;
        } else if (!strcmp(f, "--temperature")) {
            if (!(v = args_value("sample", argc, argv, &i)) ||
                args_double("sample", f, v, 0.0, 100.0, &temperature))
                return 2;
        } else if (!strcmp(f, "--seed")) {
            if (!(v = args_value("sample", argc, argv, &i)) || args_u64("sample", f, v, &seed)) return 2;
        } else {
            args_unknown("sample", f);
            return 2;
        }
    }
    if (!model_path || !prompt) {
        fprintf(stderr, "mtp sample: --model and --prompt are required (see mtp sample --help)\n");
        return 2;
    }
    if (threads) op_set_threads(threads);
    char ckpt[4096];
    mtp_config cfg;
    mtp_model m;
    memset(&m, 0, sizeof m);
    tokenizer *tok = NULL;
    int32_t *ids = NULL;
    float *logits = NULL, *probs = NULL;
    int rc = 1;
    if (checkpoint_open(model_path, ckpt, sizeof ckpt, &cfg, &tok)) goto done;
    size_t n = 0, cap = 0;
    if (tokenizer_encode(tok, prompt, strlen(prompt), &ids, &n, &cap)) goto done;
    if (n == 0) {  // an empty prompt starts from end-of-text, as after a document
        if (tokenizer_reserve(&ids, n, &cap, 1)) goto done;
        ids[n++] = tokenizer_eot(tok);
    }
    // work buffers for the longest context this run will see, not the model's maximum
    size_t longest = n + (size_t)max_new;
    int ctx = longest < (size_t)cfg.max_seq_len ? (int)longest : cfg.max_seq_len;
    if (model_create(&m, &cfg) || checkpoint_load_params(ckpt, &m) ||
        model_alloc_work(&m, 1, ctx, SCHEDULE_SEQUENTIAL, 0))
        goto done;
    if (tokenizer_reserve(&ids, n, &cap, (size_t)max_new)) goto done;
    logits = mtp_malloc(sizeof(float) * cfg.vocab_size, "logits");
    if (!logits) goto done;
    sampler smp;
    if (sampler_init(&smp, tokenizer_vocab_size(tok), (float)temperature, top_k, 1.0f, seed)) goto done;
    probs = mtp_malloc(sizeof(float) * cfg.vocab_size, "probabilities");
    if (!probs) {
        sampler_free(&smp);
        goto done;
    }
    fputs(prompt, stdout);
    fflush(stdout);
    char piece[256];
    for (int t = 0; t < max_new; t++) {
        // the newest max-context tokens
        size_t start = n > (size_t)cfg.max_seq_len ? n - cfg.max_seq_len : 0;
        if (model_forward_last_logits(&m, ids + start, (int)(n - start), 1, logits)) {
            sampler_free(&smp);
            goto done;
        }
        int32_t next = sampler_next(&smp, logits, probs);
        if (next == tokenizer_eot(tok)) break;
        ids[n++] = next;
        int len = tokenizer_decode_token(tok, next, piece, sizeof piece);
        if (len > 0) fwrite(piece, 1, (size_t)len, stdout);
        fflush(stdout);
    }
    fputc('\n', stdout);
    sampler_free(&smp);
    rc = 0;
done:
    if (rc) fprintf(stderr, "mtp sample: %s\n", mtp_last_error());
    free(ids);
    free(logits);
    free(probs);
    tokenizer_free(tok);
    model_free(&m);
    return rc;
}
