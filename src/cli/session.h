// session.h: what a command that runs a saved model holds: the checkpoint
// (config, tokenizer, then weights) and the one consumer it runs, a scorer
// or a generator. Opening is in two steps so that a command checks its
// inputs against the model's config and tokenizer before the weights load.
#ifndef MTP_CLI_SESSION_H
#define MTP_CLI_SESSION_H

#include "eval/loglik.h"
#include "infer/generate.h"
#include "store/loader.h"

typedef struct {
    mtp_checkpoint ck;
    loglik_scorer scorer;
    generator gen;
    double load_seconds;  // loading the weights (and moving them to the device) took this long
} model_session;

// The checkpoint's config and tokenizer (PATH: a run or checkpoint directory).
int session_open(model_session *s, const char *path);
// The weights and a scorer over the model's whole context.
int session_scorer(model_session *s);
// The weights and a generator.
int session_generator(model_session *s, const generator_config *gc);
void session_close(model_session *s);

#endif
