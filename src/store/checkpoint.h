// checkpoint.h: the checkpoint directory of design.md section 3, written
// atomically (temporary directory, fsync, rename) and read with every size
// checked. A run directory holds one step_NNNNNNNN/ checkpoint per save.
// These are the file-level pieces; store/loader.h opens a model to run.
#ifndef MTP_STORE_CHECKPOINT_H
#define MTP_STORE_CHECKPOINT_H

#include <stddef.h>

#include "core/progress.h"
#include "model/model.h"

struct cJSON;

// AdamW's two moments in the parameters' layout (exp_avg, exp_avg_sq).
typedef struct {
    const param_set *exp_avg, *exp_avg_sq;
    // or, when only some tensors train: their moments packed one after the
    // other, tensor i's at moff[i] (ADAMW_FROZEN, (size_t)-1: none)
    const float *packed_m, *packed_v;
    const size_t *moff;
} checkpoint_moments;

// A file that travels with the weights: its name and bytes.
typedef struct {
    const char *name;  // "tokenizer.json" or "tokenizer.model"
    const void *data;
    size_t len;
} checkpoint_file;

// Writes RUN_DIR/step_<step>/ with model.safetensors (int8 for an int8
// model), config.json, optimizer.safetensors (if moments),
// trainer_state.json (if given) and the tokenizer file (if given).
// Replaces an existing checkpoint of the same step only once the new one is
// complete.
int checkpoint_save(const char *run_dir, long step, const mtp_model *m, const checkpoint_moments *moments,
                    const char *trainer_state_json, const checkpoint_file *tokenizer);
// Writes the files of a checkpoint into dir (a fresh temporary directory).
typedef int (*checkpoint_writer)(const char *dir, void *ctx);
// RUN_DIR/step_<step>/ made atomically: write() fills a temporary directory,
// which is synced and renamed into place (replacing an older checkpoint of
// the same step only once complete); on failure nothing is left behind.
int checkpoint_write_dir(const char *run_dir, long step, checkpoint_writer write, void *ctx);
// Writes f (if any) into dir.
int checkpoint_write_file(const char *dir, const checkpoint_file *f);
// An int8 (q8) copy of the float32 checkpoint src_dir, written as
// RUN_DIR/step_<step>/ one matrix at a time from the mapped source, so a
// model larger than memory quantizes (store/quantize.c). Gives the same
// bytes as model_use_q8 + checkpoint_save.
int checkpoint_quantize_q8(const char *src_dir, const mtp_config *cfg, const char *run_dir, long step,
                           const checkpoint_file *tokenizer, const progress_sink *progress);
// Writes the named tensors of nsets parameter-shaped arenas into one
// safetensors file, set s's names prefixed by prefixes[s] ("" for weights,
// "exp_avg." for moments).
int checkpoint_write_tensors(const char *path, const param_set *const *sets, const char *const *prefixes,
                             int nsets, const mtp_config *cfg);
// A checkpoint directory (has config.json) is itself; a run directory means
// its latest complete step_* checkpoint. out gets the directory path.
int checkpoint_resolve(const char *path, char *out, size_t cap);
// Reads config.json (Hugging Face LlamaConfig keys plus n_future_tokens).
int checkpoint_read_config(const char *ckpt_dir, mtp_config *cfg);
// The safetensors metadata key naming the quantization of an int8
// checkpoint, and its value for int8 with one float32 scale per 32 values
// (docs/formats.md).
#define QUANT_KEY "mtp.quantization"
#define QUANT_Q8 "q8_32"

// Loads model.safetensors into m (created with the same config); every
// expected tensor must be present with its shape, and no other. An int8
// checkpoint (lm_head.weight is I8) gives m int8 storage (model_use_q8).
int checkpoint_load_params(const char *ckpt_dir, mtp_model *m);
// Creates m for cfg and loads model.safetensors into it. decoding = 1: a
// float32 model is created in the decode layout and packed matrix by matrix
// as it is read (no row-major copy of the whole model; model_create_decoding).
int checkpoint_load_model(const char *ckpt_dir, const mtp_config *cfg, int decoding, mtp_model *m);
// Loads optimizer.safetensors into the two moment arenas (shaped for cfg).
int checkpoint_load_moments(const char *ckpt_dir, param_set *exp_avg, param_set *exp_avg_sq,
                            const mtp_config *cfg);
// The packed moments of the trainable tensors (moff as in checkpoint_moments):
// the file must hold exactly those tensors' moments.
int checkpoint_load_moments_packed(const char *ckpt_dir, float *m, float *v, const size_t *moff,
                                   const mtp_config *cfg);
// 1 if the checkpoint has a trainer_state.json (a training run wrote it; an
// imported or converted model has none).
int checkpoint_has_trainer_state(const char *ckpt_dir);
// Parsed trainer_state.json (free with cJSON_Delete), or NULL with an error.
struct cJSON *checkpoint_read_trainer_state(const char *ckpt_dir);
// 0 if the data directory's tokenizer.json is the checkpoint's (byte for
// byte; the data's is a copy of what prepared it), or either has none; else
// an error naming both and the fix. The model's ids are its tokenizer's.
int checkpoint_tokenizer_matches(const char *ckpt_dir, const char *data_dir);
// Deletes all but the newest keep_last checkpoints of a run directory (0
// keeps all): only step_NNNNNNNN directories that hold a checkpoint count,
// and nothing else is touched.
int checkpoint_prune(const char *run_dir, int keep_last);
// The config.json text for cfg (malloc'd).
char *checkpoint_config_json(const mtp_config *cfg);

#endif
