// cmd_tokenizer.c: `mtp tokenizer encode|decode|train|bench`: look at what a
// tokenizer does to text, learn a byte-level BPE, and time encoding.
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/flag_groups.h"
#include "cli/progress.h"
#include "data/tokenizer_bench.h"
#include "libmtp.h"

// Input read from stdin is limited so a wrong pipe cannot exhaust memory.
#define STDIN_MAX ((size_t)1 << 32)

#define TOKENIZER_ABOUT                                                                \
    "T is 'bytes', a tokenizer.json, a SentencePiece tokenizer.model (Llama 2's), a\n" \
    "directory holding one (a data directory or a checkpoint), a training run\n"       \
    "directory (its newest checkpoint's), or a directory holding GPT-2's\n"            \
    "encoder.json and vocab.bpe."

typedef struct {
    const char *tokenizer, *text;
    int allow_special, json, lines;
} io_args;

static const flag IO_FLAGS[] = {
    {"--tokenizer", FLAG_STRING, offsetof(io_args, tokenizer), "T", "the tokenizer (see above)"},
    {"--text", FLAG_STRING, offsetof(io_args, text), "TEXT", "the text (default: stdin)"},
    {"--ids", FLAG_STRING, offsetof(io_args, text), "IDS", "the ids (default: stdin)"},
    {"--allow-special", FLAG_BOOL, offsetof(io_args, allow_special), NULL,
     "special tokens written in the text (<|endoftext|>) become their ids;\n"
     "without it they are encoded as ordinary text"},
    {"--json", FLAG_BOOL, offsetof(io_args, json), NULL, "print a JSON array instead"},
    {"--json-lines", FLAG_BOOL, offsetof(io_args, lines), NULL,
     "stdin holds one text per line, as a JSON string or {\"text\": ...};\n"
     "prints one line of ids per text (\\u0000 ends a text)"},
    {0},
};

// Encodes text[0..len) and prints its ids on one line. 0 or -1.
static int encode_line(const tokenizer *t, const io_args *f, const char *text, size_t len) {
    int32_t *ids = NULL;
    size_t n = 0, cap = 0;
    int rc = f->allow_special ? tokenizer_encode_special(t, text, len, &ids, &n, &cap)
                              : tokenizer_encode(t, text, len, &ids, &n, &cap);
    if (rc == 0) {
        if (f->json) putchar('[');
        for (size_t i = 0; i < n; i++) printf(i ? (f->json ? ", %d" : " %d") : "%d", (int)ids[i]);
        printf(f->json ? "]\n" : "\n");
    }
    free(ids);
    return rc;
}

// --json-lines: each input line is a JSON string, or an object with a
// "text" string; one output line of ids per input line.
static int encode_json_lines(const tokenizer *t, const io_args *f, char *input) {
    long lineno = 0;
    for (char *line = input, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = '\0';
        lineno++;
        cJSON *v = cJSON_Parse(line);
        const cJSON *s = cJSON_IsObject(v) ? cJSON_GetObjectItemCaseSensitive(v, "text") : v;
        int rc = cJSON_IsString(s)
                     ? encode_line(t, f, s->valuestring, strlen(s->valuestring))
                     : mtp_errorf("stdin line %ld: expected a JSON string or {\"text\": ...}", lineno);
        cJSON_Delete(v);
        if (rc != 0) return -1;
    }
    return 0;
}

static int run_tokenizer_encode(command_line *cl) {
    io_args *a = cl->args;
    int rc;
    if (a->lines && a->text) return flags_usage_error(cl, "--json-lines reads stdin: drop --text");
    tokenizer *t = tokenizer_open(a->tokenizer);
    size_t len = a->text ? strlen(a->text) : 0;
    char *owned = t && !a->text ? fs_read_stream(stdin, "stdin", STDIN_MAX, &len) : NULL;
    rc = !t || (!a->text && !owned) ? -1
         : a->lines                 ? encode_json_lines(t, a, owned)
                                    : encode_line(t, a, a->text ? a->text : owned, len);
    free(owned);
    tokenizer_free(t);
    return rc == 0 ? 0 : 1;
}

static const io_args TOKENIZER_ENCODE_DEFAULTS = {0};

const command_spec CMD_TOKENIZER_ENCODE = {
    .name = "tokenizer encode",
    .summary = "print the ids of a text",
    .usage =
        "usage: mtp tokenizer encode --tokenizer T [--text TEXT] [--allow-special] [--json] "
        "[--json-lines]",
    .about =
        "Prints the ids of the text (stdin, or --text), space-separated on one line.\n"
        "The ids are the text's alone: no <s> is added.\n" TOKENIZER_ABOUT,
    .groups = {{NULL, IO_FLAGS, 0, "--tokenizer --text --allow-special --json --json-lines"}},
    .epilog = "example: echo 'Hello world' | mtp tokenizer encode --tokenizer gpt2/",
    .required = "--tokenizer",
    COMMAND_RUN(run_tokenizer_encode, TOKENIZER_ENCODE_DEFAULTS),
};

// Writes the text of ids separated by blanks, commas and the brackets of a
// JSON array, decoded as one sequence (tokenizer_decode_ids). 0, 1 (bad id)
// or 2 (not an id).
static int decode_ids(const tokenizer *t, const char *p) {
    int32_t *ids = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    // one JSON array: its brackets first and last, none inside
    while (isspace((unsigned char)*p)) p++;
    const char *stop = p + strlen(p);
    while (stop > p && isspace((unsigned char)stop[-1])) stop--;
    const int array = *p == '[';
    if (array) p++;
    if (array && (stop == p || stop[-1] != ']'))
        return fprintf(stderr, "mtp tokenizer decode: a JSON array of ids needs its closing ']'\n"), 2;
    if (array) stop--;
    for (const char *c = p; c < stop; c++)
        if (*c == '[' || *c == ']')
            return fprintf(stderr,
                           "mtp tokenizer decode: '%c' inside the ids: give one flat JSON array, or ids "
                           "separated by blanks or commas\n",
                           *c),
                   2;
    for (long index = 0; rc == 0; index++) {
        while (p < stop && (isspace((unsigned char)*p) || *p == ',')) p++;
        if (p >= stop) break;
        char *end;
        errno = 0;
        long id = strtol(p, &end, 10);
        const int digits = (int)(end - p);
        if (end == p || (end < stop && !isspace((unsigned char)*end) && *end != ',')) {
            fprintf(
                stderr,
                "mtp tokenizer decode: id %ld: '%.20s' is not an integer (give ids separated by blanks)\n",
                index, p);
            rc = 2;
        } else if (errno == ERANGE || id < 0 || id >= tokenizer_vocab_size(t)) {
            mtp_errorf("id %.*s%s is outside the vocabulary [0, %d)", digits > 24 ? 24 : digits, p,
                       digits > 24 ? "..." : "", tokenizer_vocab_size(t));
            rc = 1;
        } else if (tokenizer_reserve(&ids, n, &cap, 1) != 0) {
            rc = 1;
        } else {
            ids[n++] = (int32_t)id;
        }
        p = end;
    }
    strbuf text = {0};
    if (rc == 0 && tokenizer_decode_ids(t, ids, n, &text) != 0) rc = 1;
    if (rc == 0) fwrite(text.s ? text.s : "", 1, text.len, stdout);
    free(text.s);
    free(ids);
    return rc;
}

static int run_tokenizer_decode(command_line *cl) {
    io_args *a = cl->args;
    int rc;
    tokenizer *t = tokenizer_open(a->tokenizer);
    char *owned = t && !a->text ? fs_read_stream(stdin, "stdin", STDIN_MAX, NULL) : NULL;
    if (!t || (!a->text && !owned)) {
        rc = 1;
    } else {
        rc = decode_ids(t, a->text ? a->text : owned);
    }
    fflush(stdout);
    free(owned);
    tokenizer_free(t);
    return rc;
}

static const io_args TOKENIZER_DECODE_DEFAULTS = {0};

const command_spec CMD_TOKENIZER_DECODE = {
    .name = "tokenizer decode",
    .summary = "print the text of ids",
    .usage = "usage: mtp tokenizer decode --tokenizer T [--ids IDS]",
    .about =
        "Writes the text of ids (stdin, or --ids) to stdout; ids are separated by blanks or\n"
        "commas, and a JSON array is accepted.\n" TOKENIZER_ABOUT,
    .groups = {{NULL, IO_FLAGS, 0, "--tokenizer --ids"}},
    .epilog = "example: mtp tokenizer decode --tokenizer gpt2/ --ids '15496 995'",
    .required = "--tokenizer",
    COMMAND_RUN(run_tokenizer_decode, TOKENIZER_DECODE_DEFAULTS),
};

typedef struct {
    model_flags m;
    int vocab_size, quiet;
    const char *out, *glob;
    flag_list specials, inputs;
} train_tok_args;

static const flag TRAIN_TOK_FLAGS[] = {
    {"--vocab-size", FLAG_INT, offsetof(train_tok_args, vocab_size), "N",
     "ids in all: 256 bytes + merges + special tokens (e.g. 32000)", 258, 1 << 24},
    {"--out", FLAG_STRING, offsetof(train_tok_args, out), "FILE", "the tokenizer.json to write (atomically)"},
    {"--special", FLAG_LIST, offsetof(train_tok_args, specials), "TEXT",
     "a special token; repeat for more. The first is the end of text.\n"
     "Special tokens in the input are not learned from",
     .unset = "one, <|endoftext|>"},
    {"--glob", FLAG_STRING, offsetof(train_tok_args, glob), "PATTERN",
     "only files whose name matches PATTERN inside INPUT directories"},
    {"--quiet", FLAG_BOOL, offsetof(train_tok_args, quiet), NULL, "no progress bar", .alias = "-q"},
    {0},
};

static void on_train_progress(const char *phase, uint64_t done, uint64_t total, void *user) {
    progress *bars = user;  // [0] counting, [1] merging
    progress *p = &bars[strcmp(phase, "count") ? 1 : 0];
    if (p == &bars[1] && bars[1].total == 0) {  // merging's first report: counting's bar ends (once),
                                                // merging's clock starts (its rate and ETA its own)
        if (bars[0].drawn) progress_finish(&bars[0]);
        bars[0].drawn = 0;
        bars[1].start = bars[1].last_draw = mtp_now();
    }
    p->total = total;
    progress_update(p, done);
}

static int run_tokenizer_train(command_line *cl) {
    train_tok_args *a = cl->args;
    static const char *const default_specials[] = {"<|endoftext|>"};
    bpe_train_options o = {.vocab_size = a->vocab_size, .threads = a->m.threads};
    o.specials = a->specials.n ? a->specials.v : default_specials;
    o.nspecials = a->specials.n ? a->specials.n : 1;
    corpus c = {0};
    tokenizer *t = NULL;
    int rc = 1;
    // --out is checked before the (long) training: a file that can be written, and no input
    if (fs_check_output(a->out) != 0) {
        mtp_error_context("--out %s", a->out);
        goto done;
    }
    if (corpus_collect(&c, a->inputs.v, a->inputs.n, a->glob, NULL) != 0) goto done;
    if (c.count == 0) {
        mtp_errorf("no files found in the inputs%s%s", a->glob ? " matching --glob " : "",
                   a->glob ? a->glob : "");
        goto done;
    }
    for (size_t i = 0; i < c.count; i++)
        if (fs_same_file(a->out, c.paths[i])) {
            rc = flags_usage_error(
                cl,
                "--out %s is the input file %s: writing it would destroy the input; give --out another path",
                a->out, c.paths[i]);
            goto done;
        }
    progress bars[2];
    progress_start(&bars[0], "count", c.total_bytes);
    bars[0].unit = "B";
    progress_start(&bars[1], "merge", 0);
    double t0 = mtp_now();
    t = bpe_train(&o, &c, a->quiet ? NULL : on_train_progress, bars);
    if (!a->quiet && bars[1].drawn) progress_finish(&bars[1]);
    if (!t || tokenizer_save(t, a->out) != 0) goto done;
    printf("mtp tokenizer train: %zu files, %llu bytes -> vocab %d (%d merges), %.1f s\n  wrote %s\n",
           c.count, (unsigned long long)c.total_bytes, tokenizer_vocab_size(t),
           tokenizer_vocab_size(t) - 256 - o.nspecials, mtp_now() - t0, a->out);
    rc = 0;
done:
    tokenizer_free(t);
    corpus_free(&c);
    return rc;
}

static const train_tok_args TOKENIZER_TRAIN_DEFAULTS = {0};

const command_spec CMD_TOKENIZER_TRAIN = {
    .name = "tokenizer train",
    .summary = "learn a byte-level BPE tokenizer from text files",
    .usage = "usage: mtp tokenizer train --vocab-size N --out FILE [FLAGS] INPUT...",
    .about =
        "Learns a byte-level BPE with GPT-2's pre-tokenization from the files (directories\n"
        "are walked recursively, hidden entries skipped) and writes a tokenizer.json.",
    .groups = {{NULL, TRAIN_TOK_FLAGS, 0}, {NULL, MODEL_FLAGS, offsetof(train_tok_args, m), "--threads"}},
    .epilog = "example: mtp tokenizer train --vocab-size 32000 --out tok.json --glob '*.py' src/",
    .positional = "INPUT",
    .inputs = offsetof(train_tok_args, inputs),
    .required = "--vocab-size --out",
    .no_inputs = "no inputs: give the text files or directories to learn from",
    COMMAND_RUN(run_tokenizer_train, TOKENIZER_TRAIN_DEFAULTS),
};

typedef struct {
    const char *tokenizer;
    int threads, repeat;
    flag_list inputs;
} bench_tok_args;

static const flag BENCH_TOK_FLAGS[] = {
    {"--tokenizer", FLAG_STRING, offsetof(bench_tok_args, tokenizer), "T", "the tokenizer (see above)"},
    {"--threads", FLAG_INT, offsetof(bench_tok_args, threads), "N",
     "threads; files are shared out between them", 1, 1024},
    {"--repeat", FLAG_INT, offsetof(bench_tok_args, repeat), "R", "runs; the median is reported", 1, 1000},
    {0},
};

static int run_tokenizer_bench(command_line *cl) {
    bench_tok_args *a = cl->args;
    corpus c = {0};
    tokenizer *t = NULL;
    tokenizer_bench_result r;
    int rc = 1;
    if (corpus_collect(&c, a->inputs.v, a->inputs.n, NULL, NULL) == 0 && (t = tokenizer_open(a->tokenizer)) &&
        tokenizer_bench(t, &c, a->threads, a->repeat, &r) == 0) {
        printf("tokenizer %s: %zu files, %.2f MB, %llu tokens, %d thread%s: median %.3f s, %.2f MB/s\n",
               tokenizer_name(t), c.count, (double)r.bytes / 1e6, (unsigned long long)r.tokens, a->threads,
               a->threads == 1 ? "" : "s", r.median_seconds, (double)r.bytes / 1e6 / r.median_seconds);
        rc = 0;
    }
    tokenizer_free(t);
    corpus_free(&c);
    return rc;
}

static const bench_tok_args TOKENIZER_BENCH_DEFAULTS = {.threads = 1, .repeat = 5};

const command_spec CMD_TOKENIZER_BENCH = {
    .name = "tokenizer bench",
    .summary = "time encoding",
    .usage = "usage: mtp tokenizer bench --tokenizer T [--threads N] [--repeat R] INPUT...",
    .about = "Encodes the files in memory and prints MB/s.\n" TOKENIZER_ABOUT,
    .groups = {{NULL, BENCH_TOK_FLAGS, 0}},
    .positional = "INPUT",
    .inputs = offsetof(bench_tok_args, inputs),
    .required = "--tokenizer",
    .no_inputs = "give the files to encode",
    COMMAND_RUN(run_tokenizer_bench, TOKENIZER_BENCH_DEFAULTS),
};
