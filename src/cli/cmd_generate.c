// cmd_generate.c: `mtp generate`, text generation with the KV-cache decoder,
// self-speculative by default (every extra head drafts), streaming to stdout.
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/checkpoint_open.h"
#include "cli/commands.h"
#include "mtp.h"

static const char *help =
    "usage: mtp generate --model RUN_DIR|CHECKPOINT [--prompt TEXT | --prompt-file F] [flags]\n"
    "\n"
    "Continues a prompt (from --prompt, --prompt-file, or stdin) with a KV cache.\n"
    "Self-speculative decoding: heads 2..K+1 draft the next tokens and head 1 checks\n"
    "them in the same forward pass; the output is exactly that of plain decoding.\n"
    "  --max-new N         tokens to generate at most (default 256)\n"
    "  --stop STRING       stop when the text contains STRING (not printed)\n"
    "  --speculative K     drafting heads, 0 = plain decoding (default: all, n-1)\n"
    "  --temperature T     0 = greedy (default 0); > 0 samples, with speculative\n"
    "                      sampling keeping the output distribution exact\n"
    "  --top-k K           sample among the K most likely tokens (default 0 = all)\n"
    "  --top-p P           nucleus sampling: the smallest set with probability >= P (default 1)\n"
    "  --seed S            sampling seed (default 1)\n"
    "  --stats             print tokens/s, forwards, tokens per forward and each\n"
    "                      drafting head's acceptance rate to stderr\n"
    "  --json              print one JSON object (text, tokens, forwards,\n"
    "                      tokens_per_forward, tokens_per_sec, accept_rate) instead of streaming\n"
    "  --threads N         CPU threads (default: all cores)\n"
    "Generation stops at end-of-text, at --max-new, at --stop, or when the context is full.\n";

typedef struct {
    const tokenizer *tok;
    const char *stop;
    int stream;
    char *text;  // everything generated so far
    size_t len, cap, printed;
    int stopped;
} output;

// Appends a token's bytes; prints what can no longer be part of a --stop match.
static int on_token(int32_t token, void *user) {
    output *o = user;
    if (tokenizer_decode_append(o->tok, token, &o->text, &o->len, &o->cap) < 0) return 1;
    size_t safe = o->len;
    if (o->stop && o->stop[0]) {
        char *hit = strstr(o->text, o->stop);
        if (hit) {
            o->len = (size_t)(hit - o->text);
            o->text[o->len] = '\0';
            o->stopped = 1;
            safe = o->len;
        } else {
            size_t hold = strlen(o->stop) - 1;  // a match may still begin in the last bytes
            safe = o->len > hold ? o->len - hold : 0;
        }
    }
    if (o->stream && safe > o->printed) {
        fwrite(o->text + o->printed, 1, safe - o->printed, stdout);
        fflush(stdout);
        o->printed = safe;
    }
    return o->stopped;
}

static char *read_stream(FILE *f, size_t *len) {
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) break;
        if (n + 1 == cap) {
            char *grown = realloc(buf, cap *= 2);
            if (!grown) {
                free(buf);
                return NULL;
            }
            buf = grown;
        }
    }
    if (buf) buf[n] = '\0';
    *len = n;
    return buf;
}

int cmd_generate(int argc, char **argv) {
    const char *model_path = NULL, *prompt_arg = NULL, *prompt_file = NULL, *stop = NULL, *v;
    int max_new = 256, speculative = -1, top_k = 0, threads = 0, stats = 0, json = 0;
    double temperature = 0.0, top_p = 1.0;
    uint64_t seed = 1;
    const char *cmd = "generate";
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        if (args_is_help(f)) {
            fputs(help, stdout);
            return 0;
        }
        if (!strcmp(f, "--stats"))
            stats = 1;
        else if (!strcmp(f, "--json"))
            json = 1;
        else if (!strcmp(f, "--model") || !strcmp(f, "--prompt") || !strcmp(f, "--prompt-file") ||
                 !strcmp(f, "--stop")) {
            if (!(v = args_value(cmd, argc, argv, &i))) return 2;
            const char **dst = !strcmp(f, "--model")         ? &model_path
                               : !strcmp(f, "--prompt")      ? &prompt_arg
                               : !strcmp(f, "--prompt-file") ? &prompt_file
                                                             : &stop;
            *dst = v;
        } else if (!strcmp(f, "--max-new")) {
            if (!(v = args_value(cmd, argc, argv, &i)) || args_int(cmd, f, v, 1, 1 << 24, &max_new)) return 2;
        } else if (!strcmp(f, "--speculative")) {
            if (!(v = args_value(cmd, argc, argv, &i)) ||
                args_int(cmd, f, v, 0, MTP_MAX_FUTURE, &speculative))
                return 2;
        } else if (!strcmp(f, "--top-k")) {
            if (!(v = args_value(cmd, argc, argv, &i)) || args_int(cmd, f, v, 0, 1 << 30, &top_k)) return 2;
        } else if (!strcmp(f, "--threads")) {
            if (!(v = args_value(cmd, argc, argv, &i)) || args_int(cmd, f, v, 1, 1024, &threads)) return 2;
        } else if (!strcmp(f, "--temperature")) {
            if (!(v = args_value(cmd, argc, argv, &i)) || args_double(cmd, f, v, 0.0, 100.0, &temperature))
                return 2;
        } else if (!strcmp(f, "--top-p")) {
            if (!(v = args_value(cmd, argc, argv, &i)) || args_double(cmd, f, v, 0.0, 1.0, &top_p)) return 2;
        } else if (!strcmp(f, "--seed")) {
            if (!(v = args_value(cmd, argc, argv, &i)) || args_u64(cmd, f, v, &seed)) return 2;
        } else {
            args_unknown(cmd, f);
            return 2;
        }
    }
    if (!model_path) {
        fprintf(stderr, "mtp generate: --model is required (see mtp generate --help)\n");
        return 2;
    }
    if (prompt_arg && prompt_file) {
        fprintf(stderr, "mtp generate: give --prompt or --prompt-file, not both\n");
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
    int32_t *ids = NULL;
    char *prompt = NULL;
    output out = {0};
    int rc = 1;
    size_t prompt_len = 0;
    if (prompt_arg) {
        prompt = strdup(prompt_arg);
        prompt_len = strlen(prompt_arg);
    } else if (prompt_file) {
        if (!(prompt = fs_read_all(prompt_file, 64u << 20, &prompt_len))) goto done;
    } else {
        prompt = read_stream(stdin, &prompt_len);
    }
    if (!prompt) {
        mtp_errorf("cannot read the prompt");
        goto done;
    }
    if (prompt_len == 0) {
        mtp_errorf("empty prompt: give text with --prompt, --prompt-file or on stdin");
        goto done;
    }
    if (checkpoint_open(model_path, ckpt, sizeof ckpt, &cfg, &tok)) goto done;
    if (speculative < 0) speculative = cfg.n_future - 1;
    if (speculative > cfg.n_future - 1) {
        mtp_errorf("--speculative %d: the model in %s has %d heads, so at most %d drafting heads",
                   speculative, ckpt, cfg.n_future, cfg.n_future - 1);
        goto done;
    }
    size_t n = 0, cap = 0;
    if (tokenizer_encode(tok, prompt, prompt_len, &ids, &n, &cap)) goto done;
    if (n >= (size_t)cfg.max_seq_len) {
        mtp_errorf("the prompt is %zu tokens, the model's context %d: shorten it to leave room to generate",
                   n, cfg.max_seq_len);
        goto done;
    }
    if (model_create(&m, &cfg) || checkpoint_load_params(ckpt, &m) || decoder_init(&d, &m, speculative) ||
        sampler_init(&s, tokenizer_vocab_size(tok), (float)temperature, top_k, (float)top_p, seed))
        goto done;
    out.tok = tok;
    out.stop = stop;
    out.stream = !json;
    if (out.stream) {
        fwrite(prompt, 1, prompt_len, stdout);
        fflush(stdout);
    }
    decode_stats st;
    if (decode_run(&d, ids, (int)n, max_new, tokenizer_eot(tok), &s, on_token, &out, &st)) goto done;
    if (out.stream) {
        if (out.len > out.printed) fwrite(out.text + out.printed, 1, out.len - out.printed, stdout);
        fputc('\n', stdout);
    }
    double seconds = st.prefill_seconds + st.decode_seconds;
    double tok_s = seconds > 0 ? st.generated / seconds : 0,
           per_fwd = (double)st.generated / (st.forwards + 1);
    if (json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "text", out.text ? out.text : "");
        cJSON_AddNumberToObject(j, "tokens", (double)st.generated);
        cJSON_AddNumberToObject(j, "forwards", (double)st.forwards + 1);
        cJSON_AddNumberToObject(j, "tokens_per_forward", per_fwd);
        cJSON_AddNumberToObject(j, "tokens_per_sec", tok_s);
        cJSON *rates = cJSON_AddArrayToObject(j, "accept_rate");
        for (int k = 0; k < speculative; k++)
            cJSON_AddItemToArray(
                rates, cJSON_CreateNumber(st.checked[k] ? (double)st.accepted[k] / st.checked[k] : 0));
        cJSON_AddNumberToObject(j, "prompt_tokens", (double)n);
        cJSON_AddNumberToObject(j, "prefill_ms", 1e3 * st.prefill_seconds);
        cJSON_AddNumberToObject(j, "speculative", speculative);
        cJSON_AddStringToObject(j, "stop_reason", out.stopped ? "stop" : st.stop_reason);
        char *text = cJSON_PrintUnformatted(j);
        if (text) puts(text);
        free(text);
        cJSON_Delete(j);
    }
    if (stats) {
        fprintf(stderr,
                "%ld tokens in %.3fs (prefill %zu tokens %.3fs): %.1f tokens/s; %ld forwards, %.2f "
                "tokens/forward",
                st.generated, seconds, n, st.prefill_seconds, tok_s, st.forwards + 1, per_fwd);
        for (int k = 0; k < speculative; k++)
            fprintf(stderr, "%s head %d %.2f", k ? "," : "; acceptance:", k + 2,
                    st.checked[k] ? (double)st.accepted[k] / st.checked[k] : 0.0);
        fprintf(stderr, "\n");
    }
    rc = 0;
done:
    if (rc) fprintf(stderr, "mtp generate: %s\n", mtp_last_error());
    free(out.text);
    free(ids);
    free(prompt);
    sampler_free(&s);
    decoder_free(&d);
    tokenizer_free(tok);
    model_free(&m);
    return rc;
}
