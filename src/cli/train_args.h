// train_args.h: the flags of `mtp train`, their defaults, their record in
// trainer_state.json, and how a resumed run merges them with its checkpoint.
#ifndef MTP_CLI_TRAIN_ARGS_H
#define MTP_CLI_TRAIN_ARGS_H

#include <stdint.h>

#include "model/config.h"
#include "model/model.h"

struct cJSON;

// Checkpoint directories are named step_%08ld and sorted by name.
#define MTP_MAX_STEPS 99999999

typedef struct {
    const char *data, *out, *resume, *log;
    // model
    int vocab_size, n_layer, n_future, dim, n_head, n_kv_head, ffn_dim, seq_len, max_context;
    // optimization
    int batch, grad_accum, threads, eval_every, eval_batches, save_every, keep_last;
    long steps, warmup;
    double lr, min_lr_ratio, weight_decay, grad_clip;
    uint64_t seed;
    head_schedule schedule;
    struct {  // which flags the user gave explicitly
        int vocab_size, n_layer, n_future, dim, n_head, n_kv_head, ffn_dim, seq_len, max_context, batch,
            grad_accum, eval_every, eval_batches, save_every, keep_last, warmup, lr, min_lr_ratio,
            weight_decay, grad_clip, seed, schedule, log, steps;
    } set;
    char owned_paths[3][4096];  // data/out/log copied out of a resumed trainer_state.json
} train_args;

// 0 ok; 2 usage error (printed); -1 --help printed.
int train_args_parse(train_args *a, int argc, char **argv);
void train_args_to_config(const train_args *a, mtp_config *cfg);
struct cJSON *train_args_to_json(const train_args *a);
// On --resume: checks the model flags given against the checkpoint's config,
// and takes every flag not given from the saved arguments.
int train_args_merge_resume(train_args *a, const struct cJSON *state, const mtp_config *ckpt_cfg,
                            const char *ckpt_dir);
// step, epoch and index from trainer_state.json.
int train_state_position(const struct cJSON *state, const char *ckpt_dir, long *step, uint64_t *epoch,
                         uint64_t *index);

#endif
