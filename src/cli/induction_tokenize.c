// induction_tokenize.c: see induction_tokenize.h.
#include "cli/induction_tokenize.h"

#include <stdlib.h>

#include "libmtp.h"

int induction_tokenize(void *user, const char *text, size_t len, induction_tokens *out) {
    const tokenizer *tok = user;
    size_t cap = out->cap;
    char piece[TOKENIZER_MAX_TOKEN_BYTES];
    out->n = 0;
    if (tokenizer_encode(tok, text, len, &out->ids, &out->n, &cap)) return -1;
    if (cap > out->cap) {
        size_t *grown = realloc(out->ends, sizeof *grown * cap);
        if (!grown) return mtp_errorf("out of memory for %zu token offsets", cap);
        out->ends = grown;
        out->cap = cap;
    }
    size_t at = 0;
    for (size_t i = 0; i < out->n; i++) {
        int n = tokenizer_decode_token(tok, out->ids[i], piece, sizeof piece);
        if (n < 0) return -1;
        at += (size_t)n;
        out->ends[i] = at;
    }
    if (at != len)
        return mtp_errorf("tokenizer %s decodes %zu bytes of text into %zu bytes: it does not round-trip",
                          tokenizer_name(tok), len, at);
    return 0;
}
