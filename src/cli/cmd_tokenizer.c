// cmd_tokenizer.c: `mtp tokenizer encode|decode|train|bench`: look at what a
// tokenizer does to text, learn a byte-level BPE, and time encoding.
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <ctype.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/progress.h"
#include "core/timer.h"
#include "data/bpe_train.h"
#include "data/corpus.h"
#include "libmtp.h"

// Input read from stdin is limited so a wrong pipe cannot exhaust memory.
#define STDIN_MAX ((size_t)1 << 32)

static void usage(FILE *out) {
    fprintf(
        out,
        "usage: mtp tokenizer encode --tokenizer T [--text TEXT] [--allow-special] [--json] [--json-lines]\n"
        "       mtp tokenizer decode --tokenizer T [--ids IDS]\n"
        "       mtp tokenizer train --vocab-size N --out FILE [FLAGS] INPUT...\n"
        "       mtp tokenizer bench --tokenizer T [--threads N] [--repeat R] INPUT...\n"
        "\n"
        "T is 'bytes', a tokenizer.json, a directory holding one (a data directory or a\n"
        "checkpoint), or a directory holding GPT-2's encoder.json and vocab.bpe.\n"
        "\n"
        "encode   prints the ids of the text (stdin, or --text), space-separated on one line.\n"
        "  --allow-special    special tokens written in the text (<|endoftext|>) become their ids;\n"
        "                     without it they are encoded as ordinary text\n"
        "  --json             print a JSON array instead\n"
        "  --json-lines       stdin holds one text per line, as a JSON string or {\"text\": ...};\n"
        "                     prints one line of ids per text (\\u0000 ends a text)\n"
        "decode   writes the text of ids (stdin, or --ids) to stdout; ids are separated by blanks or\n"
        "         commas, and a JSON array is accepted.\n"
        "train    learns a byte-level BPE with GPT-2's pre-tokenization from the files (directories\n"
        "         are walked recursively, hidden entries skipped) and writes a tokenizer.json.\n"
        "  --vocab-size N     ids in all: 256 bytes + merges + special tokens (e.g. 32000)\n"
        "  --out FILE         the tokenizer.json to write (atomically)\n"
        "  --special TEXT     a special token; repeat for more. The first is the end of text\n"
        "                     (default: one, <|endoftext|>). Special tokens in the input are not\n"
        "                     learned from.\n"
        "  --glob PATTERN     only files whose name matches PATTERN inside INPUT directories\n"
        "  --threads N        threads for counting (default: all)\n"
        "  --quiet            no progress bar\n"
        "bench    encodes the files in memory and prints MB/s (median of --repeat runs, default\n"
        "         5) with --threads threads (default 1; files are shared out between threads).\n"
        "\n"
        "examples: echo 'Hello world' | mtp tokenizer encode --tokenizer gpt2/\n"
        "          mtp tokenizer decode --tokenizer gpt2/ --ids '15496 995'\n"
        "          mtp tokenizer train --vocab-size 32000 --out tok.json --glob '*.py' src/\n");
}

static char *read_stdin(size_t *len) {
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        if (n == cap) {
            if (cap >= STDIN_MAX) {
                free(buf);
                fprintf(stderr, "mtp tokenizer: stdin is larger than %zu bytes\n", STDIN_MAX);
                return NULL;
            }
            char *grown = realloc(buf, 2 * cap + 1);
            if (!grown) break;
            buf = grown;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, stdin);
        n += got;
        if (got == 0) {
            if (ferror(stdin)) {
                free(buf);
                fprintf(stderr, "mtp tokenizer: cannot read stdin\n");
                return NULL;
            }
            buf[n] = '\0';
            *len = n;
            return buf;
        }
    }
    free(buf);
    fprintf(stderr, "mtp tokenizer: out of memory reading stdin\n");
    return NULL;
}

// Parses the common flags of encode and decode. Returns 0, or the exit status.
typedef struct {
    const char *tokenizer, *text;
    int allow_special, json, lines;
} io_flags;

static int parse_io(const char *cmd, int argc, char **argv, io_flags *f, int is_encode) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (args_is_help(a)) {
            usage(stdout);
            return -1;
        } else if (!strcmp(a, "--tokenizer")) {
            if (!(f->tokenizer = args_value(cmd, argc, argv, &i))) return 2;
        } else if (!strcmp(a, is_encode ? "--text" : "--ids")) {
            if (!(f->text = args_value(cmd, argc, argv, &i))) return 2;
        } else if (is_encode && !strcmp(a, "--allow-special")) {
            f->allow_special = 1;
        } else if (is_encode && !strcmp(a, "--json")) {
            f->json = 1;
        } else if (is_encode && !strcmp(a, "--json-lines")) {
            f->lines = 1;
        } else {
            args_unknown(cmd, a);
            return 2;
        }
    }
    if (!f->tokenizer) {
        fprintf(stderr, "mtp %s: --tokenizer is required ('bytes', a tokenizer.json or a directory)\n", cmd);
        return 2;
    }
    return 0;
}

// Encodes text[0..len) and prints its ids on one line. 0 or -1.
static int encode_line(const tokenizer *t, const io_flags *f, const char *text, size_t len) {
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
static int encode_json_lines(const tokenizer *t, const io_flags *f, char *input) {
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

static int cmd_encode(int argc, char **argv) {
    const char *cmd = "tokenizer encode";
    io_flags f = {0};
    int rc = parse_io(cmd, argc, argv, &f, 1);
    if (rc) return rc < 0 ? 0 : rc;
    if (f.lines && f.text) {
        fprintf(stderr, "mtp %s: --json-lines reads stdin: drop --text\n", cmd);
        return 2;
    }
    tokenizer *t = tokenizer_open(f.tokenizer);
    if (!t) {
        fprintf(stderr, "mtp %s: %s\n", cmd, mtp_last_error());
        return 1;
    }
    size_t len = 0;
    char *owned = NULL;
    const char *text = f.text;
    if (text) {
        len = strlen(text);
    } else if (!(text = owned = read_stdin(&len))) {
        tokenizer_free(t);
        return 1;
    }
    rc = f.lines ? encode_json_lines(t, &f, owned) : encode_line(t, &f, text, len);
    if (rc != 0) fprintf(stderr, "mtp %s: %s\n", cmd, mtp_last_error());
    free(owned);
    tokenizer_free(t);
    return rc == 0 ? 0 : 1;
}

static int cmd_decode(int argc, char **argv) {
    const char *cmd = "tokenizer decode";
    io_flags f = {0};
    int rc = parse_io(cmd, argc, argv, &f, 0);
    if (rc) return rc < 0 ? 0 : rc;
    tokenizer *t = tokenizer_open(f.tokenizer);
    if (!t) {
        fprintf(stderr, "mtp %s: %s\n", cmd, mtp_last_error());
        return 1;
    }
    size_t len = 0;
    char *owned = NULL;
    const char *text = f.text;
    if (!text && !(text = owned = read_stdin(&len))) {
        tokenizer_free(t);
        return 1;
    }
    // Ids separated by blanks, commas and the brackets of a JSON array.
    const char *p = text;
    char buf[8192];
    long index = 0;
    for (;;) {
        while (*p && (isspace((unsigned char)*p) || *p == ',' || *p == '[' || *p == ']')) p++;
        if (!*p) break;
        char *end;
        long id = strtol(p, &end, 10);
        if (end == p || (*end && !isspace((unsigned char)*end) && *end != ',' && *end != ']')) {
            fprintf(stderr, "mtp %s: id %ld: '%.20s' is not an integer (give ids separated by blanks)\n", cmd,
                    index, p);
            rc = 2;
            break;
        }
        int nb = id >= 0 && id < tokenizer_vocab_size(t)
                     ? tokenizer_decode_token(t, (int32_t)id, buf, sizeof buf)
                     : mtp_errorf("id %ld is outside the vocabulary [0, %d)", id, tokenizer_vocab_size(t));
        if (nb < 0) {
            fprintf(stderr, "mtp %s: %s\n", cmd, mtp_last_error());
            rc = 1;
            break;
        }
        fwrite(buf, 1, (size_t)nb, stdout);
        p = end;
        index++;
    }
    fflush(stdout);
    free(owned);
    tokenizer_free(t);
    return rc;
}

static void on_train_progress(const char *phase, uint64_t done, uint64_t total, void *user) {
    progress *bars = user;  // [0] counting, [1] merging
    progress *p = &bars[strcmp(phase, "count") ? 1 : 0];
    if (p == &bars[1] && bars[0].drawn) progress_finish(&bars[0]);
    p->total = total;
    progress_update(p, done);
}

static int cmd_train_tokenizer(int argc, char **argv) {
    const char *cmd = "tokenizer train";
    bpe_train_options o = {0};
    const char *out = NULL, *glob = NULL;
    int quiet = 0, ninputs = 0, nspecials = 0;
    const char **inputs = calloc((size_t)argc + 1, sizeof *inputs);
    const char **specials = calloc((size_t)argc + 1, sizeof *specials);
    int rc = inputs && specials ? 0 : 1;
    for (int i = 1; i < argc && rc == 0; i++) {
        const char *a = argv[i], *v;
        if (a[0] != '-') {
            inputs[ninputs++] = a;
        } else if (args_is_help(a)) {
            usage(stdout);
            free(inputs), free(specials);
            return 0;
        } else if (!strcmp(a, "--vocab-size")) {
            if (!(v = args_value(cmd, argc, argv, &i)) ||
                args_int(cmd, a, v, 258, 1 << 24, &o.vocab_size) != 0)
                rc = 2;
        } else if (!strcmp(a, "--out")) {
            if (!(out = args_value(cmd, argc, argv, &i))) rc = 2;
        } else if (!strcmp(a, "--special")) {
            if (!(v = args_value(cmd, argc, argv, &i)))
                rc = 2;
            else
                specials[nspecials++] = v;
        } else if (!strcmp(a, "--glob")) {
            if (!(glob = args_value(cmd, argc, argv, &i))) rc = 2;
        } else if (!strcmp(a, "--threads")) {
            if (!(v = args_value(cmd, argc, argv, &i)) || args_int(cmd, a, v, 1, 1024, &o.threads) != 0)
                rc = 2;
        } else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) {
            quiet = 1;
        } else {
            args_unknown(cmd, a);
            rc = 2;
        }
    }
    if (rc == 0 && !o.vocab_size) {
        fprintf(stderr, "mtp %s: --vocab-size N is required (e.g. 32000)\n", cmd);
        rc = 2;
    } else if (rc == 0 && !out) {
        fprintf(stderr, "mtp %s: --out FILE is required (the tokenizer.json to write)\n", cmd);
        rc = 2;
    } else if (rc == 0 && ninputs == 0) {
        fprintf(stderr, "mtp %s: no inputs: give the text files or directories to learn from\n", cmd);
        rc = 2;
    }
    static const char *const default_specials[] = {"<|endoftext|>"};
    o.specials = nspecials ? specials : default_specials;
    o.nspecials = nspecials ? nspecials : 1;
    corpus c = {0};
    if (rc == 0 && corpus_collect(&c, inputs, ninputs, glob, NULL) != 0) {
        fprintf(stderr, "mtp %s: %s\n", cmd, mtp_last_error());
        rc = 1;
    }
    if (rc == 0 && c.count == 0) {
        fprintf(stderr, "mtp %s: no files found in the inputs%s%s\n", cmd, glob ? " matching --glob " : "",
                glob ? glob : "");
        rc = 1;
    }
    tokenizer *t = NULL;
    if (rc == 0) {
        progress bars[2];
        progress_start(&bars[0], "count", c.total_bytes);
        bars[0].unit = "B";
        progress_start(&bars[1], "merge", 0);
        double t0 = mtp_now();
        t = bpe_train(&o, &c, quiet ? NULL : on_train_progress, bars);
        if (!quiet && bars[1].drawn) progress_finish(&bars[1]);
        if (!t || tokenizer_save(t, out) != 0) {
            fprintf(stderr, "mtp %s: %s\n", cmd, mtp_last_error());
            rc = 1;
        } else {
            printf("mtp tokenizer train: %zu files, %llu bytes -> vocab %d (%d merges), %.1f s\n  wrote %s\n",
                   c.count, (unsigned long long)c.total_bytes, tokenizer_vocab_size(t),
                   tokenizer_vocab_size(t) - 256 - o.nspecials, mtp_now() - t0, out);
        }
    }
    tokenizer_free(t);
    corpus_free(&c);
    free(inputs), free(specials);
    return rc;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int cmd_bench(int argc, char **argv) {
    const char *cmd = "tokenizer bench";
    const char *tok_spec = NULL;
    int threads = 1, repeat = 5, ninputs = 0, rc = 0;
    const char **inputs = calloc((size_t)argc + 1, sizeof *inputs);
    if (!inputs) return 1;
    for (int i = 1; i < argc && rc == 0; i++) {
        const char *a = argv[i], *v;
        if (a[0] != '-') {
            inputs[ninputs++] = a;
        } else if (args_is_help(a)) {
            usage(stdout);
            free(inputs);
            return 0;
        } else if (!strcmp(a, "--tokenizer")) {
            if (!(tok_spec = args_value(cmd, argc, argv, &i))) rc = 2;
        } else if (!strcmp(a, "--threads")) {
            if (!(v = args_value(cmd, argc, argv, &i)) || args_int(cmd, a, v, 1, 1024, &threads) != 0) rc = 2;
        } else if (!strcmp(a, "--repeat")) {
            if (!(v = args_value(cmd, argc, argv, &i)) || args_int(cmd, a, v, 1, 1000, &repeat) != 0) rc = 2;
        } else {
            args_unknown(cmd, a);
            rc = 2;
        }
    }
    if (rc == 0 && (!tok_spec || ninputs == 0)) {
        fprintf(stderr, "mtp %s: give --tokenizer T and the files to encode\n", cmd);
        rc = 2;
    }
    corpus c = {0};
    tokenizer *t = NULL;
    char **texts = NULL;
    size_t *lens = NULL;
    if (rc == 0 &&
        (corpus_collect(&c, inputs, ninputs, NULL, NULL) != 0 || !(t = tokenizer_open(tok_spec)))) {
        fprintf(stderr, "mtp %s: %s\n", cmd, mtp_last_error());
        rc = 1;
    }
    if (rc == 0) {
        texts = calloc(c.count, sizeof *texts);
        lens = calloc(c.count, sizeof *lens);
        for (size_t i = 0; texts && lens && i < c.count && rc == 0; i++)
            if (!(texts[i] = fs_read_all(c.paths[i], (size_t)1 << 32, &lens[i]))) {
                fprintf(stderr, "mtp %s: %s\n", cmd, mtp_last_error());
                rc = 1;
            }
        if (!texts || !lens) rc = 1;
    }
    if (rc == 0) {
        double *secs = calloc((size_t)repeat, sizeof *secs);
        uint64_t tokens = 0;
        int failed = 0;
        for (int r = 0; r < repeat && secs; r++) {
            tokens = 0;
            double t0 = mtp_now();
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads) reduction(+ : tokens, failed)
            for (size_t i = 0; i < c.count; i++) {
                int32_t *ids = NULL;
                size_t n = 0, cap = 0;
                failed += tokenizer_encode(t, texts[i], lens[i], &ids, &n, &cap) != 0;
                tokens += n;
                free(ids);
            }
            secs[r] = mtp_now() - t0;
        }
        if (!secs || failed) {
            fprintf(stderr, "mtp %s: encoding failed\n", cmd);
            rc = 1;
        } else {
            qsort(secs, (size_t)repeat, sizeof *secs, cmp_double);
            double med = secs[repeat / 2];
            printf("tokenizer %s: %zu files, %.2f MB, %llu tokens, %d thread%s: median %.3f s, %.2f MB/s\n",
                   tokenizer_name(t), c.count, (double)c.total_bytes / 1e6, (unsigned long long)tokens,
                   threads, threads == 1 ? "" : "s", med, (double)c.total_bytes / 1e6 / med);
        }
        free(secs);
    }
    for (size_t i = 0; texts && i < c.count; i++) free(texts[i]);
    free(texts), free(lens);
    tokenizer_free(t);
    corpus_free(&c);
    free(inputs);
    return rc;
}

int cmd_tokenizer(int argc, char **argv) {
    if (argc < 2 || args_is_help(argv[1])) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *sub = argv[1];
    if (!strcmp(sub, "encode")) return cmd_encode(argc - 1, argv + 1);
    if (!strcmp(sub, "decode")) return cmd_decode(argc - 1, argv + 1);
    if (!strcmp(sub, "train")) return cmd_train_tokenizer(argc - 1, argv + 1);
    if (!strcmp(sub, "bench")) return cmd_bench(argc - 1, argv + 1);
    fprintf(
        stderr,
        "mtp tokenizer: unknown subcommand '%s' (encode, decode, train or bench; see mtp tokenizer --help)\n",
        sub);
    return 2;
}
