// cmd_quantize.c: `mtp quantize`, an int8 copy of a checkpoint for decoding
// at a quarter of the memory traffic (model/quant.c, docs/formats.md).
#define _POSIX_C_SOURCE 200809L  // lstat
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/commands.h"
#include "cli/flag_groups.h"
#include "cli/progress.h"
#include "libmtp.h"

typedef struct {
    model_flags m;
    int type;
    const char *out;
} quantize_args;

static const char *const types[] = {"q8", NULL};

static const flag QUANTIZE_FLAGS[] = {
    {"--type", FLAG_CHOICE, offsetof(quantize_args, type), "TYPE",
     "q8: int8 weights, one float32 scale per 32 values of a row", .choices = types},
    {"--out", FLAG_STRING, offsetof(quantize_args, out), "DIR",
     "run directory to write the checkpoint into (DIR/step_N, N the source's step)"},
    {0},
};

// The step of a checkpoint directory named step_N (0 otherwise), however the
// path ends ("run/step_00000300/", "run/step_00000300/.").
static long source_step(const char *dir) {
    size_t end = strlen(dir);
    for (;;) {
        while (end > 1 && dir[end - 1] == '/') end--;
        if (end >= 2 && dir[end - 1] == '.' && dir[end - 2] == '/')
            end -= 2;
        else
            break;
    }
    size_t start = end;
    while (start > 0 && dir[start - 1] != '/') start--;
    char base[64];
    if (end - start >= sizeof base) return 0;
    memcpy(base, dir + start, end - start);
    base[end - start] = '\0';
    long step = 0;
    char tail;
    return sscanf(base, "step_%ld%c", &step, &tail) == 1 && step >= 0 ? step : 0;
}

static int run_quantize(command_line *cl) {
    const quantize_args *a = cl->args;
    mtp_checkpoint ck;
    if (checkpoint_open(&ck, a->m.model, 0) != 0) return 1;  // the weights stream from the file
    char *tok = NULL, path[4200];
    checkpoint_file tok_file = {0};
    int rc = 0;
    size_t fp32 = (size_t)params_count(&ck.cfg) * sizeof(float), len = 0;
    // the tokenizer travels with the weights when the source has one
    const char *names[2] = {"tokenizer.model", "tokenizer.json"};
    for (int i = 0; i < 2 && rc == 0 && !tok; i++)
        if (fs_join(path, sizeof path, ck.dir, names[i]) == 0 && fs_is_file(path)) {
            if (!(tok = fs_read_all(path, (size_t)1 << 30, &len))) rc = -1;
            tok_file = (checkpoint_file){names[i], tok, len};
        }
    long step = source_step(ck.dir);
    // a new checkpoint, never a replacement: DIR/step_N may be the source itself, or another
    // model's weights with its optimizer state (checkpoint_write_dir replaces what is there)
    char target[4200];
    struct stat st;
    if (rc == 0 && (size_t)snprintf(target, sizeof target, "%s/step_%08ld", a->out, step) < sizeof target) {
        if (lstat(target, &st) == 0) {
            fprintf(stderr,
                    "mtp quantize: --out %s: %s already exists (quantize writes a new checkpoint and "
                    "never replaces one: give --out a new run directory)\n",
                    a->out, target);
            free(tok);
            checkpoint_close(&ck);
            return 1;  // bad input, as train and convert say of an occupied --out
        }
    }
    progress bar;
    progress_sink sink = progress_bar(&bar, "quantize", 0, "B", 1.0);
    if (rc == 0) rc = checkpoint_quantize_q8(ck.dir, &ck.cfg, a->out, step, &tok_file, &sink);
    if (rc == 0) {
        double bytes = 0;  // int8 values and a 4-byte scale per 32 of them; 4 bytes per float32 value
        size_t count[P_KINDS];
        params_kind_counts(&ck.cfg, count);
        for (int k = 0; k < P_KINDS; k++)
            bytes += (double)count[k] * (model_kind_is_matrix((param_kind)k) ? 1.0 + 4.0 / OP_Q8_BLOCK : 4.0);
        printf("wrote %s/step_%08ld: int8 weights (q8), %.1f MB (float32: %.1f MB)\n", a->out, step,
               bytes / 1e6, (double)fp32 / 1e6);
    }
    free(tok);
    checkpoint_close(&ck);
    return rc ? 1 : 0;
}

static const quantize_args QUANTIZE_DEFAULTS = {0};

const command_spec CMD_QUANTIZE = {
    .name = "quantize",
    .summary = "write an int8 copy of a checkpoint (faster decoding)",
    .usage = "usage: mtp quantize --model RUN_DIR|CHECKPOINT --type q8 --out DIR",
    .about =
        "Writes the model with every matrix (attention, MLP, unembedding) in int8 with one\n"
        "float32 scale per 32 values of a row; the embedding and the norms stay float32.\n"
        "generate, sample, eval, bench-decode and the eval commands load it like any\n"
        "checkpoint and multiply with integer dot products: decoding reads about a quarter\n"
        "of the bytes. Needs the model's widths (dim, heads x head dim, ffn) to be\n"
        "multiples of 32. The format is in docs/formats.md. The source streams from its file one\n"
        "matrix at a time: a model larger than memory quantizes.",
    .groups = {{NULL, MODEL_FLAGS, offsetof(quantize_args, m), "--model --threads"},
               {NULL, QUANTIZE_FLAGS, 0}},
    .required = "--model --type --out",
    COMMAND_RUN(run_quantize, QUANTIZE_DEFAULTS),
};
