// checkpoint_open.c: checkpoint directory, config and tokenizer for the
// commands that run a model (sample, generate, bench-decode).
#include "cli/checkpoint_open.h"

int old_checkpoint_open(const char *path, char *ckpt, size_t cap, mtp_config *cfg, tokenizer **tok) {
    *tok = NULL;
    char tok_path[4200];
    if (checkpoint_resolve(path, ckpt, cap) || checkpoint_read_config(ckpt, cfg)) return -1;
    if (fs_join(tok_path, sizeof tok_path, ckpt, "tokenizer.json")) return -1;
    if (!fs_is_file(tok_path))
        return mtp_errorf(
            "%s has no tokenizer.json (the model was trained on shards without one): copy the "
            "tokenizer.json the shards were made with into it",
            ckpt);
    if (!(*tok = tokenizer_load(tok_path))) return -1;
    if (tokenizer_vocab_size(*tok) > cfg->vocab_size) {
        int have = tokenizer_vocab_size(*tok);
        tokenizer_free(*tok);
        *tok = NULL;
        return mtp_errorf("%s: the tokenizer has %d tokens but the model only %d", ckpt, have,
                          cfg->vocab_size);
    }
    return 0;
}
