// cmd_convert.c: `mtp convert`, outside checkpoints in (convert/convert.h).
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/progress.h"
#include "libmtp.h"

typedef struct {
    int from;
    const char *in, *out, *tokenizer;
    int max_context;
} convert_args;

static const char *const sources[] = {"meta", "hf", NULL};

static const flag CONVERT_FLAGS[] = {
    {"--from", FLAG_CHOICE, offsetof(convert_args, from), "FORMAT",
     "meta: Meta's release (params.json, consolidated.*.pth, tokenizer.model);\n"
     "hf: a Hugging Face Llama directory (config.json, *.safetensors)",
     .choices = sources},
    {"--in", FLAG_STRING, offsetof(convert_args, in), "DIR", "the downloaded model's directory"},
    {"--out", FLAG_STRING, offsetof(convert_args, out), "DIR",
     "the checkpoint directory to create (must not exist)"},
    {"--tokenizer", FLAG_STRING, offsetof(convert_args, tokenizer), "FILE",
     "tokenizer.model or tokenizer.json, checked against the model's vocabulary\n"
     "(default: DIR's tokenizer.model, for meta also DIR/..; hf: or tokenizer.json)"},
    {"--max-context", FLAG_INT, offsetof(convert_args, max_context), "N",
     "longest context the converted model supports", 1, 1 << 20,  // config_validate's range
     .unset = "the source's, else 4096"},
    {0},
};

static int run_convert(command_line *cl) {
    const convert_args *a = cl->args;
    progress bar;
    convert_options o = {
        .in_dir = a->in, .out_dir = a->out, .tokenizer = a->tokenizer, .max_seq_len = a->max_context};
    o.progress = progress_bar(&bar, "convert", 0, "B", 1.0);
    mtp_config cfg;
    int rc = a->from == 0 ? convert_meta(&o, &cfg) : convert_hf_llama(&o, &cfg);
    if (rc != 0) return 1;
    printf("wrote %s: %zu parameters (float32), %d blocks of which %d head%s, d=%d, V=%d\n", a->out,
           params_count(&cfg), cfg.n_layer, cfg.n_future, cfg.n_future > 1 ? "s" : "", cfg.dim,
           cfg.vocab_size);
    return 0;
}

static const convert_args CONVERT_DEFAULTS = {0};

const command_spec CMD_CONVERT = {
    .name = "convert",
    .summary = "import Meta's multi-token checkpoints or a Hugging Face Llama as an mtp checkpoint",
    .usage = "usage: mtp convert --from meta|hf --in DIR --out CHECKPOINT_DIR",
    .about =
        "Writes an ordinary mtp checkpoint (float32 model.safetensors, config.json and the\n"
        "tokenizer) that generate, eval, bench-decode, quantize and train --resume load like any\n"
        "other. --from meta reads Meta's release: params.json, consolidated.*.pth (read in C,\n"
        "never unpickled by Python: only tensors are accepted) and tokenizer.model; its extra\n"
        "heads become the model's future-token heads, so generation can use them for\n"
        "self-speculative decoding. q/k rows are permuted from Meta's interleaved RoPE pairs to\n"
        "rotate-half; bfloat16 widens to float32 exactly. Tensors stream one at a time: memory\n"
        "stays near the largest tensor, while the output is twice the size of a bf16 input.",
    .groups = {{NULL, CONVERT_FLAGS, 0}},
    .required = "--from --in --out",
    COMMAND_RUN(run_convert, CONVERT_DEFAULTS),
};
