// cmd_eval_gen.c: `mtp eval-gen`, exact-match accuracy of greedy
// generations on prompt/answer JSONL (the paper's polynomial arithmetic
// evaluation, section 4.2; any task of that shape). Every prompt is encoded
// and checked against the context before the model runs, so bad input fails
// at once; then each item is decoded greedily until the stop string and
// compared with its answer (eval/exact_match.h has the rule).
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/checkpoint_open.h"
#include "cli/commands.h"
#include "cli/progress.h"
#include "eval/exact_match.h"
#include "libmtp.h"

#define CMD "eval-gen"

static const char *help =
    "usage: mtp eval-gen --model RUN_DIR|CHECKPOINT --data FILE.jsonl [flags]\n"
    "\n"
    "Greedy exact-match accuracy. FILE.jsonl holds one item per line:\n"
    "  {\"prompt\": \"(31024+02100)=\", \"answer\": \"33124\", \"group\": \"m=1\"}   (group optional)\n"
    "Each prompt is continued greedily until the stop string, end-of-text or --max-new\n"
    "tokens; the text before the stop string and the answer, both with blanks trimmed at\n"
    "the ends, must be equal. Prints accuracy per group (in order of first appearance) and\n"
    "overall. `mtp task poly` makes such files; see docs/eval-poly.md.\n"
    "  --max-new N       tokens to generate per item at most (default 32)\n"
    "  --stop STRING     ends an answer (default: a newline; '' = none)\n"
    "  --max-items N     evaluate only the first N items (default: all)\n"
    "  --speculative K   drafting heads for self-speculative decoding (default 0 = plain);\n"
    "                    greedy output, hence accuracy, is the same for every K\n"
    "  --json            print one JSON object: {\"accuracy\", \"correct\", \"items\",\n"
    "                    \"groups\": {NAME: {\"accuracy\", \"correct\", \"n\"}}}\n"
    "  --quiet           no progress line\n"
    "  --threads N       CPU threads (default: all cores)\n";

typedef struct {
    int32_t *ids;
    int n;
} encoded;

// The generated text of one item, cut before the stop string.
typedef struct {
    const tokenizer *tok;
    const char *stop;
    size_t stop_len;
    char *text;
    size_t len, cap;
    int failed;  // out of memory or an undecodable token
} generation;

// Appends a token's bytes and stops at the stop string, which may span
// tokens: only the bytes that could complete a match are searched again.
static int on_token(int32_t token, void *user) {
    generation *g = user;
    size_t from = g->len >= g->stop_len ? g->len - (g->stop_len - 1) : 0;
    if (tokenizer_decode_append(g->tok, token, &g->text, &g->len, &g->cap) < 0) {
        g->failed = 1;
        return 1;
    }
    if (g->stop_len == 0) return 0;
    for (size_t i = from; i + g->stop_len <= g->len; i++)
        if (memcmp(g->text + i, g->stop, g->stop_len) == 0) {
            g->len = i;
            g->text[i] = '\0';
            return 1;
        }
    return 0;
}

// Encodes every prompt (an empty one starts from end-of-text, as after a
// document) and checks it leaves room to generate in the context.
static int encode_items(const char *path, const exact_match_item *items, long count, const tokenizer *tok,
                        int context, encoded *out) {
    for (long i = 0; i < count; i++) {
        size_t n = 0, cap = 0;
        if (tokenizer_encode(tok, items[i].prompt, strlen(items[i].prompt), &out[i].ids, &n, &cap) != 0)
            return mtp_error_context("%s:%ld", path, items[i].line);
        if (n == 0) {
            if (tokenizer_reserve(&out[i].ids, n, &cap, 1) != 0) return -1;
            out[i].ids[n++] = tokenizer_eot(tok);
        }
        if (n >= (size_t)context)
            return mtp_errorf(
                "%s:%ld: the prompt is %zu tokens, the model's context %d: shorten it or use a model "
                "with a longer context",
                path, items[i].line, n, context);
        out[i].n = (int)n;
    }
    return 0;
}

static void print_table(const char *data, const char *ckpt, long items, int max_new, int speculative,
                        double seconds, const exact_match_tally *t) {
    printf("eval-gen: %ld items from %s, model %s, greedy (--speculative %d), --max-new %d, %.1f s\n\n",
           items, data, ckpt, speculative, max_new, seconds);
    printf("| group | n | correct | accuracy |\n|---|---:|---:|---:|\n");
    for (int g = 0; g < t->n_groups; g++) {
        const exact_match_group *eg = &t->groups[g];
        printf("| %s | %ld | %ld | %.4f |\n", eg->name, eg->n, eg->correct,
               exact_match_accuracy(eg->correct, eg->n));
    }
    printf("| all | %ld | %ld | %.4f |\n", t->n, t->correct, exact_match_accuracy(t->correct, t->n));
}

int cmd_eval_gen(int argc, char **argv) {
    const char *model_path = NULL, *data = NULL, *stop = "\n", *v;
    int max_new = 32, speculative = 0, threads = 0, json = 0, quiet = 0;
    long max_items = 0;
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        if (args_is_help(f)) {
            fputs(help, stdout);
            return 0;
        }
        if (!strcmp(f, "--model")) {
            if (!(model_path = args_value(CMD, argc, argv, &i))) return 2;
        } else if (!strcmp(f, "--data")) {
            if (!(data = args_value(CMD, argc, argv, &i))) return 2;
        } else if (!strcmp(f, "--stop")) {
            if (!(stop = args_value(CMD, argc, argv, &i))) return 2;
        } else if (!strcmp(f, "--max-new")) {
            if (!(v = args_value(CMD, argc, argv, &i)) || args_int(CMD, f, v, 1, 1 << 24, &max_new)) return 2;
        } else if (!strcmp(f, "--max-items")) {
            if (!(v = args_value(CMD, argc, argv, &i)) || args_long(CMD, f, v, 1, 1L << 40, &max_items))
                return 2;
        } else if (!strcmp(f, "--speculative")) {
            if (!(v = args_value(CMD, argc, argv, &i)) ||
                args_int(CMD, f, v, 0, MTP_MAX_FUTURE - 1, &speculative))
                return 2;
        } else if (!strcmp(f, "--threads")) {
            if (!(v = args_value(CMD, argc, argv, &i)) || args_int(CMD, f, v, 1, 1024, &threads)) return 2;
        } else if (!strcmp(f, "--json")) {
            json = 1;
        } else if (!strcmp(f, "--quiet")) {
            quiet = 1;
        } else {
            args_unknown(CMD, f);
            return 2;
        }
    }
    if (!model_path || !data) {
        fprintf(stderr, "mtp " CMD ": --model and --data are required (see mtp " CMD " --help)\n");
        return 2;
    }
    if (threads) op_set_threads(threads);
    char ckpt[4096];
    mtp_config cfg;
    mtp_model m;
    memset(&m, 0, sizeof m);
    decoder d;
    memset(&d, 0, sizeof d);
    sampler s;
    memset(&s, 0, sizeof s);
    tokenizer *tok = NULL;
    exact_match_item *items = NULL;
    encoded *enc = NULL;
    long count = 0;
    exact_match_tally tally;
    exact_match_tally_init(&tally);
    generation gen = {0};
    char *report = NULL;
    int rc = 1;
    if (old_checkpoint_open(model_path, ckpt, sizeof ckpt, &cfg, &tok)) goto done;
    if (speculative > cfg.n_future - 1) {
        mtp_errorf("--speculative %d: the model in %s has %d heads, so at most %d drafting heads",
                   speculative, ckpt, cfg.n_future, cfg.n_future - 1);
        goto done;
    }
    if (exact_match_read(data, max_items, &items, &count) != 0) goto done;
    if (!(enc = mtp_calloc((size_t)count, sizeof *enc, "encoded prompts")) ||
        encode_items(data, items, count, tok, cfg.max_seq_len, enc) != 0)
        goto done;
    if (model_create(&m, &cfg) || checkpoint_load_params(ckpt, &m) || decoder_init(&d, &m, speculative) ||
        sampler_init(&s, tokenizer_vocab_size(tok), 0.0f, 0, 1.0f, 1))
        goto done;
    gen.tok = tok;
    gen.stop = stop;
    gen.stop_len = strlen(stop);
    progress bar;
    if (!quiet) progress_start(&bar, CMD, (uint64_t)count);
    double t0 = mtp_now();
    for (long i = 0; i < count; i++) {
        decode_stats st;
        gen.len = 0;
        gen.failed = 0;
        if (decode_run(&d, enc[i].ids, enc[i].n, max_new, tokenizer_eot(tok), &s, on_token, &gen, &st) != 0 ||
            gen.failed) {
            mtp_error_context("%s:%ld", data, items[i].line);
            if (!quiet && bar.tty && bar.drawn) fputc('\n', stderr);  // the error on a line of its own
            goto done;
        }
        int ok = exact_match_compare(gen.text ? gen.text : "", gen.len, items[i].answer);
        if (exact_match_tally_add(&tally, items[i].group, ok) != 0) goto done;
        if (!quiet && i + 1 < count) progress_update(&bar, (uint64_t)(i + 1));  // the last is finish's
    }
    if (!quiet) {
        bar.done = (uint64_t)count;
        progress_finish(&bar);
    }
    if (json) {
        if (!(report = exact_match_tally_json(&tally))) goto done;
        puts(report);
    } else {
        print_table(data, ckpt, count, max_new, speculative, mtp_now() - t0, &tally);
    }
    rc = 0;
done:
    if (rc) fprintf(stderr, "mtp " CMD ": %s\n", mtp_last_error());
    free(report);
    free(gen.text);
    for (long i = 0; enc && i < count; i++) free(enc[i].ids);
    free(enc);
    exact_match_items_free(items, count);
    exact_match_tally_free(&tally);
    sampler_free(&s);
    decoder_free(&d);
    tokenizer_free(tok);
    model_free(&m);
    return rc;
}
