// session.c: see session.h.
#include "cli/session.h"

#include <string.h>

#include "core/timer.h"
#include "ops/ops.h"

int session_open(model_session *s, const char *path) {
    memset(s, 0, sizeof *s);
    return checkpoint_open(&s->ck, path, CHECKPOINT_TOKENIZER);
}

// The weights, timed.
static int load_weights(model_session *s) {
    const double t0 = mtp_now();
    int rc = checkpoint_load_weights(&s->ck) || model_to_device(&s->ck.model) ? -1 : 0;
    s->load_seconds = mtp_now() - t0;
    return rc;
}

int session_scorer(model_session *s) {
    return load_weights(s) || loglik_init(&s->scorer, &s->ck.model, 0) ? -1 : 0;
}

int session_generator(model_session *s, const generator_config *gc) {
    // decoding reads every weight per token: on the CPU, the layout that streams them
    s->ck.decoding = op_current_device() == OP_DEVICE_CPU;
    return load_weights(s) || generator_init(&s->gen, &s->ck.model, s->ck.tok, gc) ? -1 : 0;
}

void session_close(model_session *s) {
    loglik_free(&s->scorer);
    generator_free(&s->gen);
    checkpoint_close(&s->ck);
}
