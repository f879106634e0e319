// flag_groups.h: the flags several commands share, declared once so that
// their names, ranges and help texts are the same everywhere. A command
// embeds the struct and lists the table in its command_spec (with `only` to
// take a subset); the defaults are the command's own initial values, and the
// help prints them.
#ifndef MTP_CLI_FLAG_GROUPS_H
#define MTP_CLI_FLAG_GROUPS_H

#include <stdint.h>

#include "cli/flags.h"

// --model, --threads, --device: every command that runs a saved model;
// --precision: only the commands that train (train, bench-train), which
// apply it with model_flags_ready. The others decode or score in float32 on
// every device (the GPU's few-row decoding products are float32 kernels of
// their own), so they list the group with `only` "--model --threads --device":
// --precision is an unknown flag there, not a precision silently unused.
typedef struct {
    const char *model;  // run or checkpoint directory
    int threads;        // 0 = all cores
    int device;         // op_device, chosen (op_use_device) as the flag is read
    int precision;      // op_precision of the training products (model_flags_ready applies it)
} model_flags;
// What must wait until every flag is read: the precision, which depends on the
// device. 0, or -1 with the error set (naming the flag).
int model_flags_ready(const model_flags *m);
extern const flag MODEL_FLAGS[];

// --max-new, --speculative, --temperature, --top-k, --top-p, --seed, --stop:
// every command that generates text.
typedef struct {
    int max_new;
    int speculative;  // drafting heads; -1 = auto, -2 = all (n-1)
    double temperature, top_p;
    int top_k;
    uint64_t seed;
    const char *stop;
} decode_flags;
extern const flag DECODE_FLAGS[];

// The shape of a model and its training batch: train and bench-train.
typedef struct {
    int vocab_size;  // 0 = the data's tokenizer
    int n_layer, n_future, dim, n_head;
    int n_kv_head;  // 0 = n_head
    int ffn_dim;    // 0 = the Llama rule
    int seq_len;
    int max_context;  // 0 = seq_len
    int batch;
    int schedule;    // head_schedule
    int head_type;   // mtp_head_type
    int head_order;  // mtp_head_order
} shape_flags;
extern const flag SHAPE_FLAGS[];

#endif
