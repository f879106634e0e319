// loader.c: see loader.h.
#include "store/loader.h"

#include <string.h>

#include "core/error.h"
#include "core/fsutil.h"
#include "store/checkpoint.h"

// The checkpoint's tokenizer.model (SentencePiece, from an imported model)
// or tokenizer.json.
static int load_tokenizer(mtp_checkpoint *ck) {
    char path[4200], json[4200];
    if (fs_join(path, sizeof path, ck->dir, "tokenizer.model") ||
        fs_join(json, sizeof json, ck->dir, "tokenizer.json"))
        return -1;
    if (!fs_is_file(path) && !fs_is_file(json))
        return mtp_errorf(
            "%s has no tokenizer.json (the model was trained on shards without one): copy the "
            "tokenizer.json the shards were made with into it",
            ck->dir);
    if (!(ck->tok = tokenizer_load(fs_is_file(path) ? path : json))) return -1;
    if (tokenizer_vocab_size(ck->tok) > ck->cfg.vocab_size)
        return mtp_errorf("%s: the tokenizer has %d tokens but the model only %d", ck->dir,
                          tokenizer_vocab_size(ck->tok), ck->cfg.vocab_size);
    return 0;
}

int checkpoint_open(mtp_checkpoint *ck, const char *path, int what) {
    memset(ck, 0, sizeof *ck);
    ck->decoding = (what & CHECKPOINT_DECODING) != 0;
    int rc = checkpoint_resolve(path, ck->dir, sizeof ck->dir) || checkpoint_read_config(ck->dir, &ck->cfg);
    if (!rc && (what & CHECKPOINT_TOKENIZER)) rc = load_tokenizer(ck);
    if (!rc && (what & CHECKPOINT_WEIGHTS)) rc = checkpoint_load_weights(ck);
    if (rc) {
        checkpoint_close(ck);
        return -1;
    }
    return 0;
}

int checkpoint_load_weights(mtp_checkpoint *ck) {
    if (ck->has_weights) return 0;
    if (checkpoint_load_model(ck->dir, &ck->cfg, ck->decoding, &ck->model) != 0) return -1;
    ck->has_weights = 1;
    return 0;
}

void checkpoint_close(mtp_checkpoint *ck) {
    tokenizer_free(ck->tok);
    model_free(&ck->model);
    memset(ck, 0, sizeof *ck);
}
