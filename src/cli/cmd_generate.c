// cmd_generate.c: `mtp generate`, text generation with the KV-cache decoder,
// self-speculative by default (auto: the number of drafts chosen step by
// step), streaming to stdout.
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/flag_groups.h"
#include "cli/session.h"
#include "core/utf8.h"
#include "libmtp.h"

typedef struct {
    model_flags m;
    decode_flags d;
    const char *prompt, *prompt_file;
    int stats, json;
} generate_args;

static const flag GENERATE_FLAGS[] = {
    {"--prompt", FLAG_STRING, offsetof(generate_args, prompt), "TEXT",
     "the text to continue ('': a new document, after BOS or end-of-text)"},
    {"--prompt-file", FLAG_STRING, offsetof(generate_args, prompt_file), "F", "read the prompt from file F"},
    {"--stats", FLAG_BOOL, offsetof(generate_args, stats), NULL,
     "print tokens/s, forwards, tokens per forward, each drafting head's\n"
     "acceptance rate and the prefill's and the weights' loading time to stderr"},
    {"--json", FLAG_BOOL, offsetof(generate_args, json), NULL,
     "print one JSON object (text, tokens, forwards, tokens_per_forward,\n"
     "tokens_per_sec, accept_rate, ...) instead of streaming"},
    {0},
};

static void print_text(const char *bytes, size_t n, void *user) {
    (void)user;
    fwrite(bytes, 1, n, stdout);
    fflush(stdout);
}

// The prompt from --prompt, --prompt-file or stdin (malloc'd).
static char *read_prompt(const generate_args *a, size_t *len) {
    if (a->prompt) {
        *len = strlen(a->prompt);
        return strdup(a->prompt);
    }
    if (a->prompt_file) {
        // read to its end, not by its size: a pipe (<(cmd), /dev/stdin) or a /proc file has none
        if (fs_is_dir(a->prompt_file)) {
            mtp_errorf("--prompt-file '%s' is a directory: give the file that holds the prompt",
                       a->prompt_file);
            return NULL;
        }
        FILE *f = fopen(a->prompt_file, "rb");
        if (!f) {
            mtp_errorf("--prompt-file '%s': %s", a->prompt_file, strerror(errno));
            return NULL;
        }
        char *text = fs_read_stream(f, a->prompt_file, 64u << 20, len);
        fclose(f);
        return text;
    }
    return fs_read_stream(stdin, "stdin", 64u << 20, len);
}

static double rate(long k, long n) {
    return n ? (double)k / (double)n : 0.0;
}

static void print_json(const generate_result *r, const decoder *dec, double load_seconds) {
    const int drafts = dec->drafts;
    const decode_stats *st = &r->stats;
    double seconds = st->prefill_seconds + st->decode_seconds;
    cJSON *j = cJSON_CreateObject();
    // JSON is UTF-8: bytes of a character cut at --max-new become U+FFFD
    char *text = utf8_sanitize(r->text.s ? r->text.s : "", r->text.len);
    cJSON_AddStringToObject(j, "text", text ? text : "");
    free(text);
    cJSON_AddNumberToObject(j, "tokens", (double)st->generated);
    cJSON_AddNumberToObject(j, "forwards", (double)st->forwards + 1);
    cJSON_AddNumberToObject(j, "tokens_per_forward", (double)st->generated / (double)(st->forwards + 1));
    cJSON_AddNumberToObject(j, "tokens_per_sec", seconds > 0 ? st->generated / seconds : 0);
    cJSON *rates = cJSON_AddArrayToObject(j, "accept_rate");
    for (int k = 0; k < drafts; k++)
        cJSON_AddItemToArray(rates, cJSON_CreateNumber(rate(st->accepted[k], st->checked[k])));
    cJSON_AddNumberToObject(j, "prompt_tokens", r->prompt_tokens);
    cJSON_AddNumberToObject(j, "prefill_ms", 1e3 * st->prefill_seconds);
    cJSON_AddNumberToObject(j, "load_ms", 1e3 * load_seconds);
    if (dec->auto_k)
        cJSON_AddStringToObject(j, "speculative", "auto");
    else
        cJSON_AddNumberToObject(j, "speculative", drafts);
    cJSON *steps = cJSON_AddArrayToObject(j, "steps_by_drafts");  // [K]: forwards that checked K drafts
    for (int k = 0; k <= drafts; k++)
        cJSON_AddItemToArray(steps, cJSON_CreateNumber((double)st->steps_with[k]));
    cJSON_AddStringToObject(j, "stop_reason", r->stop_reason);
    jsonl_put(stdout, j);
}

static void print_stats(const generate_result *r, const decoder *dec, double load_seconds) {
    const int drafts = dec->drafts;
    const decode_stats *st = &r->stats;
    double seconds = st->prefill_seconds + st->decode_seconds;
    fflush(stdout);  // the statistics get a line of their own, after the text
    fprintf(
        stderr,
        "%ld tokens in %.3fs (prefill %d tokens %.3fs; weights loaded in %.3fs before): %.1f tokens/s; %ld "
        "forwards, %.2f tokens/forward",
        st->generated, seconds, r->prompt_tokens, st->prefill_seconds, load_seconds,
        seconds > 0 ? st->generated / seconds : 0, st->forwards + 1,
        (double)st->generated / (double)(st->forwards + 1));
    for (int k = 0; k < drafts; k++)
        fprintf(stderr, "%s head %d %.2f", k ? "," : "; acceptance:", k + 2,
                rate(st->accepted[k], st->checked[k]));
    if (dec->auto_k) {
        fprintf(stderr, "; steps by drafts checked (auto):");
        for (int k = 0; k <= drafts; k++) fprintf(stderr, " %d:%ld", k, st->steps_with[k]);
    }
    fprintf(stderr, "\n");
}

// Streams (or prints as JSON) the continuation of prompt: 0, or 1 with an error.
static int generate(const generate_args *a, const char *prompt, size_t len, model_session *ms) {
    const char *stops[2] = {a->d.stop, NULL};
    generate_options o = {
        .max_new = a->d.max_new, .stops = a->d.stop ? stops : NULL, .on_text = a->json ? NULL : print_text};
    generate_result r = {0};
    if (!a->json) print_text(prompt, len, NULL);
    int rc = generate_text(&ms->gen, prompt, len, &o, &r) != 0;
    if (rc == 0 && a->json) print_json(&r, &ms->gen.dec, ms->load_seconds);
    if (rc == 0 && !a->json) fputc('\n', stdout);
    if (rc == 0 && a->stats) print_stats(&r, &ms->gen.dec, ms->load_seconds);
    generate_result_free(&r);
    return rc;
}

static int run_generate(command_line *cl) {
    const generate_args *a = cl->args;
    if (a->prompt && a->prompt_file) return flags_usage_error(cl, "give --prompt or --prompt-file, not both");
    model_session ms = {0};
    generator_config gc = {a->d.speculative, (float)a->d.temperature, a->d.top_k, (float)a->d.top_p,
                           a->d.seed};
    size_t len = 0;
    char *prompt = read_prompt(a, &len);
    int rc = 1;
    if (!prompt)
        mtp_error_context("cannot read the prompt");
    else if (len == 0 && !a->prompt)  // an empty stdin or file is most likely a mistake
        mtp_errorf(
            "empty prompt: give text with --prompt, --prompt-file or on stdin (--prompt '' starts a "
            "new document)");
    else
        rc = session_open(&ms, a->m.model) || session_generator(&ms, &gc) || generate(a, prompt, len, &ms);
    free(prompt);
    session_close(&ms);
    return rc;
}

static const generate_args GENERATE_DEFAULTS = {
    .d = {.max_new = 256, .speculative = -1, .top_p = 1.0, .seed = 1}};

const command_spec CMD_GENERATE = {
    .name = "generate",
    .summary = "generate text with a KV cache and self-speculative decoding",
    .usage = "usage: mtp generate --model RUN_DIR|CHECKPOINT [--prompt TEXT | --prompt-file F] [flags]",
    .about =
        "Continues a prompt (from --prompt, --prompt-file, or stdin) with a KV cache.\n"
        "Self-speculative decoding: heads 2..K+1 draft the next tokens and head 1 checks\n"
        "them in the same forward pass; the output is exactly that of plain decoding. With\n"
        "--speculative auto (the default) the decoder measures how often drafts are accepted\n"
        "and what a step costs, and picks K (0 = plain) step by step for the most tokens/s.",
    .groups = {{NULL, MODEL_FLAGS, offsetof(generate_args, m), "--model --threads --device"},
               {NULL, GENERATE_FLAGS, 0, "--prompt --prompt-file"},
               {NULL, DECODE_FLAGS, offsetof(generate_args, d)},
               {NULL, GENERATE_FLAGS, 0, "--stats --json"}},
    .epilog = "Generation stops at end-of-text, at --max-new, at --stop, or when the context is full.",
    .required = "--model",
    COMMAND_RUN(run_generate, GENERATE_DEFAULTS),
};
