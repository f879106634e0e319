// strbuf.c: see strbuf.h.
#include "core/strbuf.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"

int strbuf_add(strbuf *b, const char *bytes, size_t n) {
    if (b->failed) return -1;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1) cap *= 2;
        char *grown = realloc(b->s, cap);
        if (!grown) {
            b->failed = 1;
            return mtp_errorf("out of memory for a %zu-byte text", b->len + n + 1);
        }
        b->s = grown;
        b->cap = cap;
    }
    memcpy(b->s + b->len, bytes, n);
    b->len += n;
    b->s[b->len] = '\0';
    return 0;
}

int strbuf_adds(strbuf *b, const char *s) {
    return strbuf_add(b, s, strlen(s));
}

char *strbuf_take(strbuf *b, size_t *len) {
    if (!b->failed && !b->s) strbuf_add(b, "", 0);
    char *s = b->failed ? NULL : b->s;
    if (!s) {
        free(b->s);
        mtp_errorf("out of memory for a %zu-byte text", b->len);
    } else if (len) {
        *len = b->len;
    }
    memset(b, 0, sizeof *b);
    return s;
}

void strbuf_free(strbuf *b) {
    free(b->s);
    memset(b, 0, sizeof *b);
}
