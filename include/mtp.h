// mtp.h: the public interface of libmtp, multi-token prediction language
// models (Gloeckle et al. 2024) in C. Link with -lmtp -lopenblas -lcjson -lpcre2-8 -lm
// -fopenmp and add the library's src/ folder to the include path.
//
// The pieces, bottom to top (each header documents its functions):
//   core/error.h        mtp_last_error(): the message of the last failure
//   core/fsutil.h, core/rng.h, core/timer.h, core/meminfo.h, core/safetensors.h
//   model/config.h      mtp_config: the model's shape; config_validate
//   model/model.h       mtp_model: create, forward/backward, head schedules
//   model/flops.h       FLOPs of a training step
//   train/optimizer.h   AdamW, learning-rate schedule, clipping
//   train/step.h        train_step: one optimizer step over micro-batches
//   train/checkpoint.h  checkpoint directories (Hugging Face Llama names)
//   data/tokenizer.h    tokenizers behind one interface (bytes, byte-level BPE)
//   data/bpe.h, data/pretokenize.h   BPE merging, GPT-2 pre-tokenization
//   data/bpe_train.h    learning a byte-level BPE from text
//   data/shard.h        llm.c token shards
//   data/loader.h       reproducible training rows from a data directory
//   data/corpus.h, data/prepare.h   text files to token shards
//   infer/sampler.h     next-token sampling
//   infer/decode.h      KV-cache generation, plain and self-speculative
//
// Every function that can fail returns -1 (or NULL) and leaves a one-line
// message in mtp_last_error().
#ifndef MTP_H
#define MTP_H

#define MTP_VERSION "0.1.0"

#include "core/error.h"
#include "core/fsutil.h"
#include "core/meminfo.h"
#include "core/rng.h"
#include "core/safetensors.h"
#include "core/timer.h"
#include "data/bpe.h"
#include "data/bpe_train.h"
#include "data/corpus.h"
#include "data/loader.h"
#include "data/prepare.h"
#include "data/pretokenize.h"
#include "data/shard.h"
#include "data/tokenizer.h"
#include "infer/decode.h"
#include "infer/sampler.h"
#include "model/config.h"
#include "model/flops.h"
#include "model/model.h"
#include "ops/ops.h"
#include "train/checkpoint.h"
#include "train/optimizer.h"
#include "train/step.h"

#endif
