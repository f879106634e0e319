// cmd_sample.c: `mtp sample`, a quick look at what a model learned: head
// 1's text, self-speculative by default (`mtp generate` adds stop strings,
// statistics and JSON).
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/flag_groups.h"
#include "cli/session.h"
#include "libmtp.h"

typedef struct {
    model_flags m;
    decode_flags d;
    const char *prompt;
} sample_args;

static const flag SAMPLE_FLAGS[] = {
    {"--prompt", FLAG_STRING, offsetof(sample_args, prompt), "TEXT", "the text to continue (may be empty)"},
    {0},
};

static void print_text(const char *bytes, size_t n, void *user) {
    (void)user;
    fwrite(bytes, 1, n, stdout);
    fflush(stdout);
}

static int run_sample(command_line *cl) {
    const sample_args *a = cl->args;
    model_session ms = {0};
    generate_result r = {0};
    generator_config gc = {a->d.speculative, (float)a->d.temperature, a->d.top_k, 1.0f, a->d.seed};
    int rc = session_open(&ms, a->m.model) || session_generator(&ms, &gc);
    if (rc == 0) {
        // a long prompt keeps its newest tokens, leaving room for --max-new (at most half the context,
        // as eval-code does: a prompt is worth more than new tokens the context would cut anyway)
        const int context = ms.ck.cfg.max_seq_len,
                  room = a->d.max_new < context / 2 ? a->d.max_new : context / 2;
        generate_options o = {.max_new = a->d.max_new,
                              .fit = PROMPT_FIT_KEEP_END,
                              .keep = generate_keep_for_room(context, room),
                              .on_text = print_text};
        print_text(a->prompt, strlen(a->prompt), NULL);
        rc = generate_text(&ms.gen, a->prompt, strlen(a->prompt), &o, &r) != 0;
        if (rc == 0) fputc('\n', stdout);
        if (rc == 0 && r.prompt_cut) {
            fflush(stdout);
            fprintf(
                stderr,
                "mtp sample: the prompt is %d tokens; to leave room for --max-new %d in the model's context "
                "of %d, only its last %d were kept%s\n",
                r.prompt_cut + r.prompt_tokens, a->d.max_new, context, r.prompt_tokens - r.kept_start,
                r.kept_start ? ", after its BOS" : "");
        }
    }
    generate_result_free(&r);
    session_close(&ms);
    return rc;
}

static const sample_args SAMPLE_DEFAULTS = {
    .d = {.max_new = 200, .speculative = -1, .temperature = 0.8, .top_p = 1.0, .seed = 1}};

const command_spec CMD_SAMPLE = {
    .name = "sample",
    .summary = "sample text from a trained model",
    .usage = "usage: mtp sample --model RUN_DIR|CHECKPOINT --prompt TEXT [flags]",
    .about =
        "Continues TEXT with head 1 (the next-token head) and prints the result; a prompt\n"
        "that leaves no room for --max-new tokens (or for half the context, if less) keeps\n"
        "its newest tokens (after its BOS, which stays), with a note on stderr. The extra\n"
        "heads draft tokens that head 1 checks (--speculative): the text is distributed\n"
        "exactly as without them.",
    .groups = {{NULL, MODEL_FLAGS, offsetof(sample_args, m), "--model --threads --device"},
               {NULL, SAMPLE_FLAGS, 0},
               {NULL, DECODE_FLAGS, offsetof(sample_args, d),
                "--max-new --temperature --top-k --seed --speculative"}},
    .required = "--model --prompt",
    COMMAND_RUN(run_sample, SAMPLE_DEFAULTS),
};
