// convert.h: outside model formats in: Meta's consolidated checkpoints
// (params.json, consolidated.*.pth, tokenizer.model) and Hugging Face Llama
// directories (config.json, *.safetensors), each written as an ordinary mtp
// checkpoint (design.md section 3). Reads and writes files; never runs a
// model. Tensors stream one at a time, so a checkpoint larger than memory
// converts.
#ifndef MTP_CONVERT_CONVERT_H
#define MTP_CONVERT_CONVERT_H

#include "core/progress.h"
#include "model/config.h"

typedef struct {
    const char *in_dir;      // the source directory
    const char *out_dir;     // the checkpoint directory to create; must not exist
    const char *tokenizer;   // NULL: found beside the weights (Meta's: also one directory up)
    int max_seq_len;         // 0: the source's if it says, else 4096
    progress_sink progress;  // bytes of model.safetensors written
} convert_options;

// Meta's format: q/k rows permuted from interleaved RoPE pairs to
// rotate-half, bfloat16/float16 widened exactly to float32, shards of a
// model-parallel checkpoint concatenated. *cfg gets the model's shape.
int convert_meta(const convert_options *o, mtp_config *cfg);
// A Hugging Face Llama checkpoint (one or several safetensors files, with
// model.safetensors.index.json when sharded; F32/F16/BF16) as an n = 1
// model.
int convert_hf_llama(const convert_options *o, mtp_config *cfg);

// ---- shared by the converters (convert/writer.c) ----------------------
// Fills dst with the float32 values of the checkpoint tensor `index`
// (params_named order; name and shape in *t).
typedef int (*convert_fill_fn)(void *ctx, int index, float *dst);
// Writes out_dir atomically (a temporary sibling, fsync, rename): config.json
// for cfg, model.safetensors from fill(), and copies of the tokenizer files
// tok_src[i] as tok_name[i].
int convert_write(const char *out_dir, const mtp_config *cfg, convert_fill_fn fill, void *ctx,
                  const char *const *tok_src, const char *const *tok_name, int ntok,
                  const progress_sink *progress);
// The name a tokenizer file takes in a checkpoint, by its content as the
// loader tells them apart: JSON is a tokenizer.json, anything else a
// SentencePiece tokenizer.model (a tokenizer.json saved under the other name
// would not load as one).
const char *convert_tokenizer_file_name(const char *path);
// Meta's FFN width rule: 2/3 of 4d, times the multiplier, rounded up to a
// multiple of multiple_of.
int convert_meta_ffn_dim(int dim, int multiple_of, double ffn_dim_multiplier);

#endif
