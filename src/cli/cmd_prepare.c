// cmd_prepare.c: `mtp prepare`: text files -> a data directory of token shards.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/progress.h"
#include "libmtp.h"

static void usage(FILE *out) {
    fprintf(out,
            "usage: mtp prepare --out DATA_DIR [FLAGS] INPUT...\n"
            "\n"
            "Tokenizes text files into token shards for mtp train. Each INPUT is a file or a\n"
            "directory (walked recursively in name order; hidden entries are skipped). Every\n"
            "file is one document (or several, with --doc-separator), and every document is\n"
            "followed by the end-of-text token. Files are encoded in parallel.\n"
            "\n"
            "flags:\n"
            "  --out DIR            data directory to write (created if missing): train_000000.bin...,\n"
            "                       val_000000.bin..., tokenizer.json\n"
            "  --tokenizer T        'bytes' (256 byte tokens + <|endoftext|>, vocab 257), a byte-level\n"
            "                       BPE tokenizer.json (from mtp tokenizer train, or Hugging Face's\n"
            "                       GPT-2 style files), a directory holding one, or a directory\n"
            "                       holding GPT-2's encoder.json + vocab.bpe (default: bytes)\n"
            "  --doc-separator S    the text S separates documents inside a file (e.g. '<|endoftext|>'\n"
            "                       for TinyStories): each becomes its own document, with blanks\n"
            "                       around it trimmed; S itself is not encoded\n"
            "  --glob PATTERN       only files whose name matches PATTERN (shell wildcards, e.g. '*.py')\n"
            "                       inside INPUT directories; files named directly are always read\n"
            "  --val-fraction F     share held out for validation, in [0, 0.9] (default: %g). With two\n"
            "                       or more files, whole files are assigned by a hash of (seed, index),\n"
            "                       at least one to each split when F > 0. A single input file is cut\n"
            "                       instead: its last F of bytes is val, from a document start (with\n"
            "                       --doc-separator) or else a line start.\n"
            "  --shard-tokens N     tokens per shard file, in [1, %u] (default: %llu)\n"
            "  --seed S             seed of the train/val assignment (default: 0)\n"
            "  --force              replace the train_*.bin / val_*.bin already in DIR (without it, an\n"
            "                       existing data directory is an error)\n"
            "  --quiet              no progress bar\n"
            "  -h, --help           this help\n"
            "\n"
            "Shards use the llm.c format (uint16 tokens when the vocab fits, else uint32); see\n"
            "docs/formats-data.md. The output depends only on the inputs and flags, not on the\n"
            "number of threads (OMP_NUM_THREADS).\n"
            "\n"
            "example: mtp prepare --out data/shakespeare tinyshakespeare/input.txt\n"
            "         mtp prepare --out data/stories --tokenizer gpt2/ --doc-separator '<|endoftext|>' \\\n"
            "             TinyStories-train.txt\n"
            "         mtp prepare --out data/py --glob '*.py' --val-fraction 0.02 src/\n",
            PREPARE_DEFAULT_VAL_FRACTION, SHARD_MAX_TOKENS, (unsigned long long)PREPARE_DEFAULT_SHARD_TOKENS);
}

static void on_progress(uint64_t done, uint64_t total, void *user) {
    progress *p = user;
    p->total = total;
    progress_update(p, done);
}

static void print_summary(const prepare_options *o, const prepare_summary *s) {
    char bytes[32];
    progress_format(bytes, sizeof bytes, (double)s->bytes, "B");
    printf("mtp prepare: %llu file%s, %llu bytes", (unsigned long long)s->files, s->files == 1 ? "" : "s",
           (unsigned long long)s->bytes);
    if (s->bytes >= 1000) printf(" (%s)", bytes);
    if (s->split_single)
        printf(", one document cut into train and val\n");
    else
        printf(", %llu train / %llu val documents\n", (unsigned long long)s->train_docs,
               (unsigned long long)s->val_docs);
    printf("  train: %llu tokens in %d shard%s\n", (unsigned long long)s->train_tokens, s->train_shards,
           s->train_shards == 1 ? "" : "s");
    if (s->val_shards)
        printf("  val:   %llu tokens in %d shard%s\n", (unsigned long long)s->val_tokens, s->val_shards,
               s->val_shards == 1 ? "" : "s");
    else
        printf("  val:   none (--val-fraction %g)\n", o->val_fraction);
    printf("  tokenizer: %s, vocab %d, uint%d shards\n", o->tokenizer, s->vocab_size, 8 * s->elem_bytes);
    if (s->removed_stale)
        printf("  replaced %llu old shard%s\n", (unsigned long long)s->removed_stale,
               s->removed_stale == 1 ? "" : "s");
    printf("  wrote %s/\n", o->out_dir);
}

int cmd_prepare(int argc, char **argv) {
    const char *cmd = "prepare";
    prepare_options o = {
        .tokenizer = "bytes",
        .val_fraction = PREPARE_DEFAULT_VAL_FRACTION,
        .shard_tokens = PREPARE_DEFAULT_SHARD_TOKENS,
    };
    int quiet = 0, only_inputs = 0;
    const char **inputs = calloc((size_t)argc + 1, sizeof *inputs);
    if (!inputs) {
        fprintf(stderr, "mtp prepare: out of memory\n");
        return 1;
    }
    int rc = 0;
    for (int i = 1; i < argc && rc == 0; i++) {
        const char *a = argv[i];
        const char *v;
        if (only_inputs || a[0] != '-' || !strcmp(a, "-")) {
            inputs[o.num_inputs++] = a;
        } else if (!strcmp(a, "--")) {
            only_inputs = 1;
        } else if (args_is_help(a)) {
            usage(stdout);
            free(inputs);
            return 0;
        } else if (!strcmp(a, "--out")) {
            if (!(v = args_value(cmd, argc, argv, &i)))
                rc = -1;
            else
                o.out_dir = v;
        } else if (!strcmp(a, "--tokenizer")) {
            if (!(v = args_value(cmd, argc, argv, &i)))
                rc = -1;
            else
                o.tokenizer = v;
        } else if (!strcmp(a, "--doc-separator")) {
            if (!(v = args_value(cmd, argc, argv, &i))) {
                rc = -1;
            } else if (!*v) {
                fprintf(stderr,
                        "mtp prepare: --doc-separator '': give a non-empty text such as '<|endoftext|>'\n");
                rc = -1;
            } else {
                o.doc_separator = v;
            }
        } else if (!strcmp(a, "--glob")) {
            if (!(v = args_value(cmd, argc, argv, &i)))
                rc = -1;
            else
                o.glob = v;
        } else if (!strcmp(a, "--val-fraction")) {
            if (!(v = args_value(cmd, argc, argv, &i)) ||
                args_double(cmd, a, v, 0, 0.9, &o.val_fraction) != 0)
                rc = -1;
        } else if (!strcmp(a, "--shard-tokens")) {
            long n;
            if (!(v = args_value(cmd, argc, argv, &i)) || args_long(cmd, a, v, 1, SHARD_MAX_TOKENS, &n) != 0)
                rc = -1;
            else
                o.shard_tokens = (uint64_t)n;
        } else if (!strcmp(a, "--seed")) {
            if (!(v = args_value(cmd, argc, argv, &i)) || args_u64(cmd, a, v, &o.seed) != 0) rc = -1;
        } else if (!strcmp(a, "--force")) {
            o.force = 1;
        } else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) {
            quiet = 1;
        } else {
            rc = args_unknown(cmd, a);
        }
    }
    if (rc == 0 && !o.out_dir) {
        fprintf(stderr,
                "mtp prepare: --out DIR is required (the data directory to write; see mtp prepare --help)\n");
        rc = -1;
    } else if (rc == 0 && o.num_inputs == 0) {
        fprintf(stderr,
                "mtp prepare: no inputs: give the text files or directories to read (see mtp prepare "
                "--help)\n");
        rc = -1;
    }
    if (rc != 0) {
        free(inputs);
        return 2;
    }
    o.inputs = inputs;

    progress bar;
    progress_start(&bar, "prepare", 0);
    bar.unit = "B";
    prepare_summary sum;
    rc = prepare_run(&o, quiet ? NULL : on_progress, &bar, &sum);
    if (rc == 0) {
        if (!quiet) progress_finish(&bar);
        print_summary(&o, &sum);
    } else {
        if (bar.drawn) fputc('\n', stderr);
        fprintf(stderr, "mtp prepare: %s\n", mtp_last_error());
    }
    free(inputs);
    return rc == 0 ? 0 : 1;
}
