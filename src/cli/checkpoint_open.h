// checkpoint_open.h: what every command that runs a trained model does
// first: find the checkpoint, read its config and load its tokenizer, with
// one clear error for each way that can fail.
#ifndef MTP_CLI_CHECKPOINT_OPEN_H
#define MTP_CLI_CHECKPOINT_OPEN_H

#include <stddef.h>

#include "libmtp.h"

// PATH is a checkpoint or run directory (its newest checkpoint). Fills ckpt
// (the directory), cfg, and *tok (free with tokenizer_free), checking that the
// tokenizer fits the model's vocabulary. Returns 0, or -1 with mtp_errorf.
int old_checkpoint_open(const char *path, char *ckpt, size_t cap, mtp_config *cfg, tokenizer **tok);

#endif
