// loader.h: the one way to get a saved model: a run directory (its newest
// checkpoint) or a checkpoint directory in; its config, weights and
// tokenizer out, each failure one clear message. Every command that takes
// --model or --resume, and any library user, goes through here.
#ifndef MTP_STORE_LOADER_H
#define MTP_STORE_LOADER_H

#include "data/tokenizer.h"
#include "model/model.h"

enum {
    CHECKPOINT_TOKENIZER = 1,  // load tokenizer.json (required), checked against the vocabulary
    CHECKPOINT_WEIGHTS = 2,    // load model.safetensors
    CHECKPOINT_DECODING = 4,   // the weights in the decode layout (model_use_decode_layout): forwards only
};

typedef struct mtp_checkpoint {
    char dir[4096];   // the checkpoint directory
    mtp_config cfg;   // from config.json
    mtp_model model;  // the weights, once loaded (model.cfg == cfg)
    tokenizer *tok;   // with CHECKPOINT_TOKENIZER; else NULL
    int has_weights;
    int decoding;  // CHECKPOINT_DECODING was asked for: weights load into the decode layout
} mtp_checkpoint;

// Resolves path and reads config.json, plus what `what` asks for. On failure
// everything is released and mtp_last_error() says why.
int checkpoint_open(mtp_checkpoint *ck, const char *path, int what);
// Loads the weights of an opened checkpoint (when opened without
// CHECKPOINT_WEIGHTS, e.g. to check the inputs against the config first), in
// the decode layout if the checkpoint was opened with CHECKPOINT_DECODING.
int checkpoint_load_weights(mtp_checkpoint *ck);
void checkpoint_close(mtp_checkpoint *ck);

#endif
