// cmd_sample.c: `mtp sample`, a quick look at what a model learned: plain
// decoding with head 1 through the KV-cache decoder (`mtp generate` adds
// speculation, stop strings, statistics and JSON).
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

// Streams each generated token's bytes to stdout.
static int print_token(int32_t token, void *user) {
    char piece[TOKENIZER_MAX_TOKEN_BYTES];
    int len = tokenizer_decode_token(user, token, piece, sizeof piece);
    if (len > 0) fwrite(piece, 1, (size_t)len, stdout);
    fflush(stdout);
    return 0;
}

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
    decoder d;
    memset(&d, 0, sizeof d);
    sampler smp;
    memset(&smp, 0, sizeof smp);
    int rc = 1;
    if (checkpoint_open(model_path, ckpt, sizeof ckpt, &cfg, &tok)) goto done;
    size_t n = 0, cap = 0;
    if (tokenizer_encode(tok, prompt, strlen(prompt), &ids, &n, &cap)) goto done;
    if (n == 0) {  // an empty prompt starts from end-of-text, as after a document
        if (tokenizer_reserve(&ids, n, &cap, 1)) goto done;
        ids[n++] = tokenizer_eot(tok);
    }
    // keep the newest tokens of a prompt that would leave no room in the context
    size_t keep = (size_t)cfg.max_seq_len - 1;
    if (n > keep) {
        memmove(ids, ids + (n - keep), sizeof(int32_t) * keep);
        n = keep;
    }
    if (model_create(&m, &cfg) || checkpoint_load_params(ckpt, &m) || decoder_init(&d, &m, 0) ||
        sampler_init(&smp, tokenizer_vocab_size(tok), (float)temperature, top_k, 1.0f, seed))
        goto done;
    fputs(prompt, stdout);
    fflush(stdout);
    decode_stats st;
    if (decode_run(&d, ids, (int)n, max_new, tokenizer_eot(tok), &smp, print_token, tok, &st)) goto done;
    fputc('\n', stdout);
    rc = 0;
done:
    if (rc) fprintf(stderr, "mtp sample: %s\n", mtp_last_error());
    free(ids);
    sampler_free(&smp);
    decoder_free(&d);
    tokenizer_free(tok);
    model_free(&m);
    return rc;
}
