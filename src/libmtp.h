// libmtp.h: every layer's header in one include, for the command line
// and the tests, which use the library's internals. A library user includes
// the public include/mtp.h instead.
//
// The layers, bottom to top (each header documents its functions):
//   core/    errors, files, rng, timing, memory, safetensors, progress
//   ops/     the kernels behind ops.h
//   model/   config, parameters, weights apart from work state, forward/backward
//   store/   checkpoint directories and the model loader
//   data/    tokenizers, shards, data loader, corpora, prepare
//   train/   optimizer, training step
//   infer/   sampler, decoding (plain, speculative), text generation
//   eval/    task files and metrics (text only)
//
// Every function that can fail returns -1 (or NULL) and leaves a one-line
// message in mtp_last_error().
#ifndef MTP_LIBMTP_H
#define MTP_LIBMTP_H

#include "mtp.h"

#include "convert/convert.h"
#include "core/error.h"
#include "core/fsutil.h"
#include "core/jsonl.h"
#include "core/meminfo.h"
#include "core/progress.h"
#include "core/pth.h"
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
#include "infer/generate.h"
#include "infer/sampler.h"
#include "model/config.h"
#include "model/flops.h"
#include "model/model.h"
#include "ops/ops.h"
#include "store/checkpoint.h"
#include "store/loader.h"
#include "train/dist.h"
#include "train/optimizer.h"
#include "train/step.h"

#endif
