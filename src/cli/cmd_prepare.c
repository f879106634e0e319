// cmd_prepare.c: `mtp prepare`: text files -> a data directory of token
// shards (data/prepare.h).
#include <stdio.h>
#include <stdlib.h>

#include "cli/commands.h"
#include "cli/flags.h"
#include "cli/progress.h"
#include "libmtp.h"

typedef struct {
    prepare_options o;
    int quiet;
    flag_list inputs;
} prepare_args;

static const flag PREPARE_FLAGS[] = {
    {"--out", FLAG_STRING, offsetof(prepare_args, o.out_dir), "DIR",
     "data directory to write (created if missing): train_000000.bin...,\n"
     "val_000000.bin..., tokenizer.json"},
    {"--tokenizer", FLAG_STRING, offsetof(prepare_args, o.tokenizer), "T",
     "'bytes' (256 byte tokens + <|endoftext|>, vocab 257), a byte-level\n"
     "BPE tokenizer.json (from mtp tokenizer train, or Hugging Face's\n"
     "GPT-2 style files), a SentencePiece tokenizer.model or Llama-type\n"
     "tokenizer.json (Llama 2's), a directory holding one, a training run\n"
     "directory (its newest checkpoint's), or a directory holding GPT-2's\n"
     "encoder.json + vocab.bpe"},
    {"--doc-separator", FLAG_STRING, offsetof(prepare_args, o.doc_separator), "S",
     "the text S separates documents inside a file (e.g. '<|endoftext|>'\n"
     "for TinyStories): each becomes its own document, with blanks\n"
     "around it trimmed; S itself is not encoded"},
    {"--glob", FLAG_STRING, offsetof(prepare_args, o.glob), "PATTERN",
     "only files whose name matches PATTERN (shell wildcards, e.g. '*.py')\n"
     "inside INPUT directories; files named directly are always read"},
    {"--val-fraction", FLAG_DOUBLE, offsetof(prepare_args, o.val_fraction), "F",
     "share held out for validation. With two or more files, whole\n"
     "files are assigned by a hash of (seed, index), at least one to each\n"
     "split when F > 0. A single input file is cut instead: its last F of\n"
     "bytes is val, from a document start (with --doc-separator) or else\n"
     "a line start (mid-line where no line starts after the cut)",
     0, 0.9},
    {"--shard-tokens", FLAG_U64, offsetof(prepare_args, o.shard_tokens), "N", "tokens per shard file", 1,
     SHARD_MAX_TOKENS},
    {"--seed", FLAG_U64, offsetof(prepare_args, o.seed), "S", "seed of the train/val assignment"},
    {"--force", FLAG_BOOL, offsetof(prepare_args, o.force), NULL,
     "replace the train_*.bin / val_*.bin already in DIR (without it, an\n"
     "existing data directory is an error)"},
    {"--quiet", FLAG_BOOL, offsetof(prepare_args, quiet), NULL, "no progress bar", .alias = "-q"},
    {0},
};

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

static void on_swept(const char *path, long pid, void *user) {
    (void)user;
    fprintf(stderr, "mtp prepare: removed %s, left by an interrupted prepare (process %ld has ended)\n", path,
            pid);
}

static int run_prepare(command_line *cl) {
    prepare_args *a = cl->args;
    if (a->o.doc_separator && !a->o.doc_separator[0])
        return flags_usage_error(cl, "--doc-separator '': give a non-empty text such as '<|endoftext|>'");
    a->o.inputs = a->inputs.v;
    a->o.num_inputs = a->inputs.n;
    // the staging directories of interrupted runs into the same --out, each named; prepare_run
    // sweeps them too, silently, for other callers
    prepare_sweep_stale(a->o.out_dir, on_swept, NULL);
    progress bar;
    progress_start(&bar, "prepare", 0);
    bar.unit = "B";
    prepare_summary sum;
    int rc = prepare_run(&a->o, a->quiet ? NULL : on_progress, &bar, &sum);
    if (rc == 0) {
        if (!a->quiet) progress_finish(&bar);
        print_summary(&a->o, &sum);
    } else if (bar.drawn) {
        fputc('\n', stderr);  // the error on a line of its own
    }
    return rc == 0 ? 0 : 1;
}

static const prepare_args PREPARE_DEFAULTS = {.o = {.tokenizer = "bytes",
                                                    .val_fraction = PREPARE_DEFAULT_VAL_FRACTION,
                                                    .shard_tokens = PREPARE_DEFAULT_SHARD_TOKENS}};

const command_spec CMD_PREPARE = {
    .name = "prepare",
    .summary = "turn text files into token shards",
    .usage = "usage: mtp prepare --out DATA_DIR [FLAGS] INPUT...",
    .about =
        "Tokenizes text files into token shards for mtp train. Each INPUT is a file or a\n"
        "directory (walked recursively in name order; hidden entries are skipped). Every\n"
        "file is one document (or several, with --doc-separator), and every document is\n"
        "followed by the end-of-text token. Files are encoded in parallel.",
    .groups = {{NULL, PREPARE_FLAGS, 0}},
    .epilog =
        "Shards use the llm.c format (uint16 tokens when the vocab fits, else uint32); see\n"
        "docs/formats-data.md. The output depends only on the inputs and flags, not on the\n"
        "number of threads (OMP_NUM_THREADS).\n"
        "\n"
        "example: mtp prepare --out data/shakespeare tinyshakespeare/input.txt\n"
        "         mtp prepare --out data/stories --tokenizer gpt2/ --doc-separator '<|endoftext|>' \\\n"
        "             TinyStories-train.txt\n"
        "         mtp prepare --out data/py --glob '*.py' --val-fraction 0.02 src/",
    .positional = "INPUT",
    .inputs = offsetof(prepare_args, inputs),
    .required = "--out",
    .no_inputs = "no inputs: give the text files or directories to read",
    COMMAND_RUN(run_prepare, PREPARE_DEFAULTS),
};
