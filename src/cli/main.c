// main.c: the `mtp` command; dispatches to one subcommand.
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "mtp.h"

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"tokenizer", cmd_tokenizer, "encode, decode, train a BPE tokenizer, time encoding"},
    {"prepare", cmd_prepare, "turn text files into token shards"},
    {"train", cmd_train, "train an n-future-token model from scratch or resume a run"},
    {"sample", cmd_sample, "sample text from a trained model"},
    {"generate", cmd_generate, "generate text with a KV cache and self-speculative decoding"},
    {"eval", cmd_eval, "per-head loss, perplexity and top-1 accuracy on validation shards"},
    {"bench-decode", cmd_bench_decode, "plain vs speculative decoding speed on a prompt file"},
    {"bench-train", cmd_bench_train, "time training steps: ms/step, tokens/s, GFLOP/s, MFU, memory"},
};

static void usage(FILE *out) {
    fprintf(out,
            "mtp: multi-token prediction language models\n\n"
            "usage: mtp COMMAND [FLAGS]   (mtp COMMAND --help for its flags; mtp --version)\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("mtp %s\n", MTP_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "mtp: unknown command '%s' (see mtp --help)\n", argv[1]);
    return 2;
}
